import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
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

/** The input's bytes, in chunks of up to 1 MiB for a file. */
export function readInput(input: Input, stdin: NodeJS.ReadableStream): AsyncIterable<Buffer> {
  return input.kind === "stdin" ? (stdin as AsyncIterable<Buffer>) : createReadStream(input.path, { highWaterMark: 1 << 20 });
}
