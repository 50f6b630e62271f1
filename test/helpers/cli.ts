// Spawns the real binary (bin/compliant.js → dist/src/cli.js) with a clean environment and
// collects { code, stdout, stderr }. Importing this module does nothing by itself.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/server.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const BIN = join(ROOT, "bin", "compliant.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stdout's bytes as written (for binary output such as gzip). */
  stdoutBytes?: Buffer;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  stdin?: string | Buffer;
  /** Called with the child once spawned (to send signals). */
  onSpawn?: (child: ChildProcess) => void;
  /** Called with every stderr chunk (to react to progress). */
  onStderr?: (text: string, child: ChildProcess) => void;
}

/** A minimal environment: no inherited tokens, no colour, state under the test's folder. */
export function cleanEnv(cwd: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: cwd,
    XDG_STATE_HOME: join(cwd, ".state"),
    NO_COLOR: "1",
    TMPDIR: process.env.TMPDIR ?? tmpdir(),
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export function runCli(args: string[], opts: RunOptions): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: cleanEnv(opts.cwd, opts.env),
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => {
      err.push(c);
      opts.onStderr?.(c.toString("utf8"), child);
    });
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolvePromise({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stdoutBytes: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8") }),
    );
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.stdin ?? "");
    opts.onSpawn?.(child);
  });
}

/** A temp folder removed after the test. */
export async function tempDir(t: TestContext, prefix = "compliant-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An emulator on an ephemeral port, closed after the test. */
export async function emulatorFor(t: TestContext, opts: EmulatorOptions = {}): Promise<Emulator> {
  const emu = await startEmulator(opts);
  t.after(() => emu.close());
  return emu;
}

/** Environment pointing the CLI at an emulator with its token. */
export function emuEnv(emu: Emulator, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { X_API_BASE_URL: emu.apiUrl, X_BEARER_TOKEN: emu.token, ...extra };
}
