// The state folder's locks and temp files: a stale lock is taken over by exactly one of many
// processes started together, and nothing planted in the folder is ever written through.

import { spawn } from "node:child_process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { runKey, StateStore, type RunState } from "../../src/jobs/state.js";
import { ROOT, tempDir } from "../helpers/cli.js";

const STATE_MODULE = pathToFileURL(join(ROOT, "dist", "src", "jobs", "state.js")).href;

interface Taker {
  go: () => void;
  said: Promise<string>;
  release: () => void;
  done: Promise<void>;
}

/**
 * A process that loads the state module, says "ready", waits for "go" on stdin, tries the lock
 * once, says "won" or "lost …", and holds a won lock until its stdin ends.
 */
async function taker(dir: string, key: string): Promise<Taker> {
  const script = `
    const { StateStore } = await import(${JSON.stringify(STATE_MODULE)});
    const store = new StateStore(${JSON.stringify(dir)}, ${JSON.stringify(key)});
    process.stdin.setEncoding("utf8");
    let started = false;
    let release;
    process.stdin.on("data", async () => {
      if (started) return;
      started = true;
      try {
        release = await store.lock("race");
        process.stdout.write("won\\n");
      } catch (e) {
        process.stdout.write("lost " + e.message + "\\n");
      }
    });
    process.stdin.on("end", async () => { await release?.(); process.exit(0); });
    process.stdout.write("ready\\n");`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  const lines: Array<(line: string) => void> = [];
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    let nl;
    while ((nl = out.indexOf("\n")) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      lines.shift()?.(line);
    }
  });
  const next = () => new Promise<string>((r) => lines.push(r));
  const ready = next();
  const said = next();
  const done = new Promise<void>((r) => child.on("close", () => r()));
  assert.equal(await Promise.race([ready, done.then(() => "exited")]), "ready");
  return { go: () => child.stdin.write("go\n"), said, release: () => child.stdin.end(), done };
}

test("twenty processes taking over one stale lock at once: exactly one wins, the rest see it held", async (t) => {
  const dir = join(await tempDir(t), "state");
  const store = new StateStore(dir, "k");
  await store.lock("setup").then((release) => release());
  for (let round = 0; round < 1; round++) {
    // A lock whose process is gone (the pid is above any Linux pid_max).
    await writeFile(store.lockFile, JSON.stringify({ pid: 2 ** 22 + 11, host: hostname(), started: "2026-01-01T00:00:00Z" }));
    const takers = await Promise.all(Array.from({ length: 20 }, () => taker(dir, "k")));
    for (const x of takers) x.go();
    const said = await Promise.all(takers.map((x) => x.said));
    assert.equal(said.filter((w) => w === "won").length, 1, `round ${round}: ${said.join(" | ")}`);
    for (const w of said.filter((w) => w !== "won")) assert.match(w, /^lost another `compliant all` for race is already running \(pid \d+/);
    for (const x of takers) x.release();
    await Promise.all(takers.map((x) => x.done));
    assert.deepEqual(await readdir(dir), [], "no lock, temp file or takeover marker is left");
  }
});

test("releasing a lock never removes a lock that replaced it", async (t) => {
  const dir = join(await tempDir(t), "state");
  const store = new StateStore(dir, "k");
  const release = await store.lock("x");
  const theirs = JSON.stringify({ pid: process.pid, host: hostname(), started: "2026-01-01T00:00:00Z", nonce: "ab".repeat(16) });
  await writeFile(store.lockFile, theirs);
  await release();
  assert.equal(await readFile(store.lockFile, "utf8"), theirs);
});

test("the state's temp files are never written through a symlink planted in the state folder", async (t) => {
  const base = await tempDir(t);
  const dir = join(base, "state");
  const key = runKey("https://api.x.com", "tweets", "n", "0".repeat(64), undefined);
  const store = new StateStore(dir, key);
  await store.lock("x").then((release) => release());
  const victim = join(base, "victim.txt");
  await writeFile(victim, "keep me\n");
  // The names the old code used (pid and a counter), plus a few more.
  for (let i = 0; i < 20; i++) await symlink(victim, join(dir, `${key}.json.${process.pid}-${i}.tmp`));
  const state: RunState = {
    version: 1,
    key,
    type: "tweets",
    name: "n",
    idsSha256: "0".repeat(64),
    resultsFile: "/tmp/r.ndjson",
    startedAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
    parts: [{ index: 0, ids: 1, stage: "pending" }],
  };
  for (let i = 0; i < 5; i++) await store.save(state);
  assert.equal(await readFile(victim, "utf8"), "keep me\n");
  assert.equal((await store.load())!.name, "n");
});
