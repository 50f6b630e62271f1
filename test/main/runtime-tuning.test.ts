import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { pathToFileURL } from "node:url";
import { emuEnv, emulatorFor, ROOT, runCli, tempDir, cleanEnv } from "../helpers/cli.js";
import { COLLECT_EVERY_BYTES } from "../../src/runtime.js";

const RECORDER = pathToFileURL(join(ROOT, "dist", "test", "helpers", "record-v8-flags.js")).href;

/** An ID file past one collection's worth of bytes, so a paced run asks for a collection. */
async function bigIdFile(dir: string): Promise<string> {
  const lines: string[] = [];
  for (let i = 0; lines.length * 20 < COLLECT_EVERY_BYTES * 1.5; i++) lines.push(String(1_000_000_000_000_000_000n + BigInt(i)));
  const path = join(dir, "ids.txt");
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
}

async function flagsOf(file: string): Promise<string[]> {
  return JSON.parse(await readFile(file, "utf8")) as string[];
}

async function setUp(t: TestContext) {
  const dir = await tempDir(t);
  const emu = await emulatorFor(t, { pollsToComplete: 1 });
  const ids = await bigIdFile(dir);
  return { dir, emu, ids, record: join(dir, "flags.json") };
}

const ALL = (ids: string, dir: string) => ["all", "--type", "tweets", "-i", ids, "-o", join(dir, "results.ndjson"), "--interval", "0.01", "-q"];

describe("V8 tuning belongs to the binary alone", () => {
  test("the binary sets its V8 flags and paces collections while it transfers", { timeout: 30_000 }, async (t) => {
    const { dir, emu, ids, record } = await setUp(t);
    const r = await runCli(ALL(ids, dir), { cwd: dir, env: emuEnv(emu, { NODE_OPTIONS: `--import ${RECORDER}`, RECORD_V8_FLAGS_TO: record }) });
    assert.equal(r.code, 0, r.stderr);
    const flags = await flagsOf(record);
    assert.deepEqual(flags.slice(0, 2), ["--liftoff-only", "--semi-space-growth-factor=1"]);
    // The collector is fetched (and --expose-gc switched off again) at the first paced collection.
    assert.deepEqual(flags.slice(2), ["--expose-gc", "--no-expose-gc"]);
  });

  test("COMPLIANT_NO_V8_TUNING=1 runs the binary with Node's defaults: no flag set, no collection asked for", { timeout: 30_000 }, async (t) => {
    const { dir, emu, ids, record } = await setUp(t);
    const r = await runCli(ALL(ids, dir), {
      cwd: dir,
      env: emuEnv(emu, { NODE_OPTIONS: `--import ${RECORDER}`, RECORD_V8_FLAGS_TO: record, COMPLIANT_NO_V8_TUNING: "1" }),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await flagsOf(record), []);
    assert.ok((await readFile(join(dir, "results.ndjson"), "utf8")).length > 0);
  });

  test("a program that runs the CLI's code in-process (a library user, the test runner) inherits no V8 flag", { timeout: 30_000 }, async (t) => {
    const { dir, emu, ids, record } = await setUp(t);
    const cli = pathToFileURL(join(ROOT, "dist", "src", "cli.js")).href;
    const script = `
      import { main } from ${JSON.stringify(cli)};
      const code = await main({ argv: ${JSON.stringify(ALL(ids, dir))}, env: process.env, cwd: process.cwd(), stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
      process.exitCode = code;
      setTimeout(() => process.exit(code), 50).unref();`;
    const child = spawn(process.execPath, ["--import", RECORDER, "--input-type=module", "-e", script], {
      cwd: dir,
      env: cleanEnv(dir, { ...emuEnv(emu), RECORD_V8_FLAGS_TO: record }),
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((r) => child.on("close", r));
    assert.equal(code, 0, stderr);
    assert.deepEqual(await flagsOf(record), []);
  });

  test("only the runtime module sets V8 flags, and only the binary's entry imports it", async () => {
    const importers: string[] = [];
    const setters: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.name.endsWith(".ts")) {
          const text = await readFile(p, "utf8");
          const rel = p.slice(ROOT.length + 1);
          if (/setFlagsFromString|runInNewContext/.test(text)) setters.push(rel);
          if (/from "\.{1,2}\/(?:\.\.\/)*runtime\.js"/.test(text.replace(/import type [^;]+;/g, ""))) importers.push(rel);
        }
      }
    };
    await walk(join(ROOT, "src"));
    assert.deepEqual(setters, ["src/runtime.ts"]);
    assert.deepEqual(importers, ["src/cli.ts"]);
  });
});
