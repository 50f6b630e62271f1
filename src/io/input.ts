import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { UsageError } from "../errors.js";
import { shown } from "./target.js";

/** An input named on the command line: stdin (`-`), or a regular file (absolute path). */
export type Input = { kind: "stdin" } | { kind: "file"; path: string };

/** Checks that a path is a readable file (not a folder); returns its full path. */
export async function checkInputFile(cwd: string, path: string, what: string): Promise<string> {
  const full = resolve(cwd, path);
  let s;
  try {
    s = await stat(full);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read the ${what} ${path}: ${code === "ENOENT" ? "no such file" : (err as Error).message}.`);
  }
  if (s.isDirectory()) throw new UsageError(`the ${what} ${path} is a folder; give a file.`);
  return full;
}

/** `-` is stdin; anything else must be a file there is (`what` names it in the error). */
export async function inputFrom(cwd: string, arg: string, what: string): Promise<Input> {
  return arg === "-" ? { kind: "stdin" } : { kind: "file", path: await checkInputFile(cwd, arg, what) };
}

/** How an input is named in messages: `(stdin)`, or its path relative to cwd when inside it. */
export function inputName(cwd: string, input: Input): string {
  return input.kind === "stdin" ? "(stdin)" : shown(cwd, input.path);
}

/** A gzip member starts with these two bytes (RFC 1952), whatever the file is called. */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * The input's bytes, in chunks of up to 1 MiB for a file. Gzip (recognised by its magic bytes,
 * not its name; concatenated members too) is decompressed as it streams: zlib works on libuv's
 * thread pool, so decompression runs beside the parsing instead of on the JS thread. `name`
 * says in errors which input a damaged gzip stream was.
 */
export async function* readInput(
  input: Input,
  stdin: NodeJS.ReadableStream,
  name: string,
  onFormat?: (gzip: boolean) => void,
  onRaw?: (chunk: Buffer) => void,
): AsyncGenerator<Buffer> {
  const raw: AsyncIterable<Buffer | string> = input.kind === "stdin" ? (stdin as AsyncIterable<Buffer>) : createReadStream(input.path, { highWaterMark: 1 << 20 });
  const it = onRaw ? tapped(raw, onRaw) : raw[Symbol.asyncIterator]();
  // The first two bytes decide; stdin may deliver them one at a time.
  let head: Buffer = Buffer.alloc(0);
  while (head.length < 2) {
    const next = await it.next();
    if (next.done) break;
    head = head.length === 0 ? toBuffer(next.value) : Buffer.concat([head, toBuffer(next.value)]);
  }
  onFormat?.(isGzip(head));
  if (!isGzip(head)) {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield toBuffer(next.value);
    }
  }
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  const source = Readable.from(
    (async function* () {
      yield head;
      for (;;) {
        const next = await it.next();
        if (next.done) return;
        yield toBuffer(next.value);
      }
    })(),
  );
  const piped = pipeline(source, gunzip).catch((err: unknown) => err);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (err) {
    throw damagedGzip(err, name);
  }
  const failed = await piped;
  if (failed) throw damagedGzip(failed, name);
}

/** The input's bytes as they are on disk (before any gunzip), shown to `onRaw` as they are read (sync hashes them). */
async function* tapped(raw: AsyncIterable<Buffer | string>, onRaw: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  for await (const chunk of raw) {
    const buf = toBuffer(chunk);
    onRaw(buf);
    yield buf;
  }
}

function toBuffer(chunk: Buffer | string): Buffer {
  return typeof chunk === "string" ? Buffer.from(chunk) : chunk;
}

/** A gzip stream zlib cannot finish: the file is cut short or damaged, which no retry mends. */
function damagedGzip(err: unknown, name: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (typeof code !== "string" || !code.startsWith("Z_")) return err;
  const why = code === "Z_BUF_ERROR" ? "it ends in the middle of the compressed data" : `zlib: ${(err as Error).message}`;
  return new UsageError(`${name} is gzip-compressed but cannot be decompressed (${why}); it is probably cut short or damaged, so nothing was written. Check it with \`gzip -t\`, and use a complete copy.`);
}
