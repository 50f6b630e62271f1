// Reading an ID file or stdin in chunks, and writing the upload file (the normalised copy of a
// file, or stdin's spool) in a private temp dir.

import { mkdtemp, open, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { tmpDirError } from "./id-messages.js";

export const READ_CHUNK = 1024 * 1024;

/** Reads a regular file in chunks, into two buffers used in turn (one read ahead). */
export async function* readChunks(fh: FileHandle, size: number): AsyncGenerator<Buffer> {
  const bufs = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  let k = 0;
  let pos = 0;
  let pending = fh.read(bufs[0]!, 0, size, 0);
  try {
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) return;
      const cur = bufs[k]!;
      pos += bytesRead;
      k ^= 1;
      pending = fh.read(bufs[k]!, 0, size, pos);
      yield cur.subarray(0, bytesRead);
    }
  } finally {
    await pending.catch(() => {});
  }
}

/** Copies a stream's chunks into a reused buffer (the caller's chunks stay untouched). */
export async function* copyChunks(stream: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  let staging = Buffer.allocUnsafe(READ_CHUNK);
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    if (b.length > staging.length) staging = Buffer.allocUnsafe(b.length);
    b.copy(staging);
    yield staging.subarray(0, b.length);
  }
}

/**
 * The upload file written while scanning: `name` in a mkdtemp dir under `baseTmp`, created 0600
 * on open(). Every failure to create or write it is a UsageError naming `baseTmp`.
 */
export class SpoolFile {
  /** The private dir, once created (kept until remove()). */
  dir: string | undefined;
  path: string | undefined;
  private fh: FileHandle | undefined;

  constructor(
    private readonly baseTmp: string,
    private readonly name: string,
  ) {}

  get isOpen(): boolean {
    return this.fh !== undefined;
  }

  async open(): Promise<void> {
    try {
      this.dir = await mkdtemp(join(this.baseTmp, "compliant-ids-"));
      this.path = join(this.dir, this.name);
      this.fh = await open(this.path, "wx", 0o600);
    } catch (err) {
      throw tmpDirError(this.baseTmp, err);
    }
  }

  async write(bufs: Uint8Array[]): Promise<void> {
    await writeAll(this.fh!, bufs, this.baseTmp);
  }

  /** Copies src[0, n) to the start of the file (the clean prefix of a file that needs normalising). */
  async copyPrefix(src: FileHandle, n: number): Promise<void> {
    const buf = Buffer.allocUnsafe(Math.min(n, READ_CHUNK));
    let pos = 0;
    while (pos < n) {
      const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, n - pos), pos);
      if (bytesRead === 0) throw Object.assign(new Error("the file shrank while it was read"), { code: "EIO" });
      await this.write([buf.subarray(0, bytesRead)]);
      pos += bytesRead;
    }
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  /** Removes the dir and the file in it (the handle must be closed first); idempotent. */
  async remove(): Promise<void> {
    const dir = this.dir;
    this.dir = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

async function writeAll(fh: FileHandle, bufs: Uint8Array[], dir: string): Promise<void> {
  try {
    for (let buf of bufs) {
      while (buf.length > 0) {
        const { bytesWritten } = await fh.write(buf);
        buf = buf.subarray(bytesWritten);
      }
    }
  } catch (err) {
    throw tmpDirError(dir, err);
  }
}
