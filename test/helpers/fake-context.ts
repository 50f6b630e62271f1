import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Context } from "../../src/context.js";
import { createLog } from "../../src/output/log.js";

// Helpers only: importing this file runs nothing (node --test treats every .js under test/ as a test).

export const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/datasets/", import.meta.url));

const made: string[] = [];

/** A fresh temporary folder holding a copy of the dataset fixtures (removed when the test file ends). */
export function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), "compliant-dataset-"));
  if (made.push(dir) === 1) {
    process.once("exit", () => {
      for (const d of made) rmSync(d, { recursive: true, force: true });
    });
  }
  cpSync(FIXTURES, dir, { recursive: true });
  return dir;
}

export interface FakeContext {
  ctx: Context;
  stdout(): Buffer;
  stderr(): string;
}

export function fakeContext(cwd: string, opts: { stdin?: string | Buffer; json?: boolean; quiet?: boolean } = {}): FakeContext {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  stdout.on("data", (c: Buffer) => out.push(c));
  const stderr = new PassThrough();
  stderr.on("data", (c: Buffer) => err.push(c));
  const log = createLog({ policy: { fancy: false, quiet: Boolean(opts.quiet), verbose: false }, stderr, now: () => 0 });
  const ctx: Context = {
    flags: { json: opts.json },
    env: {},
    cwd,
    stdin: Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]),
    stdout,
    stderr,
    log,
    signal: new AbortController().signal,
    api: () => Promise.reject(new Error("dataset commands never call the API")),
  };
  return {
    ctx,
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err).toString("utf8"),
  };
}

/** Splits text into lines keeping each line's terminator, so comparisons are byte for byte. */
export function rawLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}
