// Shared set-up for the unattended (`compliant all`) end-to-end tests: a temp folder with its own
// XDG_STATE_HOME, an ID file, an emulator, and a way to act on the child when stderr says so.
// Importing this module does nothing by itself.

import type { ChildProcess } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { Emulator, EmulatorFlow, EmulatorOptions, RequestLogEntry } from "../../src/emulator/server.js";
import { expectedResultsFile } from "../../src/emulator/server.js";
import { emuEnv, emulatorFor, runCli, tempDir, type CliResult } from "../helpers/cli.js";
import { sampleIds } from "../emulator/helpers.js";

export interface Setup {
  dir: string;
  emu: Emulator;
  ids: string[];
  idsFile: string;
  results: string;
  stateDir: string;
  /** The arguments of the one `all` command this test runs (again). */
  args: (...extra: string[]) => string[];
  run: (args: string[], opts?: RunHooks) => Promise<CliResult>;
  expected: () => string;
}

export interface RunHooks {
  env?: Record<string, string | undefined>;
  /** Called once, the first time the accumulated stderr matches. */
  when?: { stderr: RegExp; then: (child: ChildProcess, stderr: string) => void | Promise<void> };
}

export async function setup(
  t: TestContext,
  opts: EmulatorOptions & { count?: number; type?: "tweets" | "users" } = {},
): Promise<Setup> {
  const dir = await tempDir(t, "compliant-e2e-");
  // The client spreads the rate-limit budget left over the window (the default 150 per 15 min
  // means one poll per 6 s), so tests that are not about rate limits get a budget that never binds.
  const emu = await emulatorFor(t, { rateLimit: { limit: 1_000_000, windowSeconds: 900 }, ...opts });
  const ids = sampleIds(opts.count ?? 200);
  const idsFile = join(dir, "ids.txt");
  await writeFile(idsFile, ids.join("\n") + "\n");
  const results = join(dir, "results.ndjson");
  const type = opts.type ?? "tweets";
  const flow: EmulatorFlow = opts.flow ?? "storage";
  return {
    dir,
    emu,
    ids,
    idsFile,
    results,
    stateDir: join(dir, ".state", "compliant"),
    args: (...extra) => ["all", "--type", type, "--ids-file", idsFile, "--results-file", results, "--interval", "0.05", ...extra],
    run: (args, hooks = {}) => {
      let text = "";
      let fired = false;
      return runCli(args, {
        cwd: dir,
        env: emuEnv(emu, hooks.env),
        onStderr: (chunk, child) => {
          text += chunk;
          if (hooks.when && !fired && hooks.when.stderr.test(text)) {
            fired = true;
            void Promise.resolve(hooks.when.then(child, text)).catch((err: unknown) => {
              child.kill("SIGKILL");
              process.stderr.write(`unattended test hook failed: ${String(err)}\n`);
            });
          }
        },
      });
    },
    expected: () => expectedResultsFile(ids, type, flow),
  };
}

export const routes = (reqs: RequestLogEntry[], route: RequestLogEntry["route"]) => reqs.filter((r) => r.route === route);

/** Files in a folder (none when it does not exist). */
export async function ls(dir: string): Promise<string[]> {
  return readdir(dir).then(
    (f) => f.sort(),
    () => [],
  );
}

export async function read(path: string): Promise<string> {
  return readFile(path, "utf8");
}

/** Resolves once `cond()` holds, checking every 10 ms (gives up after `ms`). */
export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The job id the CLI announced ("created tweets job 123…"). */
export function createdJobId(stderr: string): string {
  const m = /created \w+ job (\d+)/.exec(stderr);
  if (!m) throw new Error(`no "created … job" line in:\n${stderr}`);
  return m[1]!;
}

export function show(r: CliResult): string {
  return `exit ${r.code} (${r.signal ?? "no signal"})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}
