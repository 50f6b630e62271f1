import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { CliError } from "../../src/errors.js";
import { runKey, StateStore, type RunState } from "../../src/jobs/state.js";
import { tempDir } from "../helpers/cli.js";

const API = "https://api.x.com";

function state(key: string, n: number): RunState {
  return {
    version: 1,
    key,
    type: "tweets",
    name: `n${n}`,
    idsSha256: "0".repeat(64),
    resultsFile: "/tmp/r.ndjson",
    startedAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
    parts: [{ index: 0, ids: 1, stage: "pending" }],
  };
}

test("saves fired without awaiting land in order, share no temp file and leave none behind", async (t) => {
  const dir = join(await tempDir(t), "state");
  const key = runKey(API, "tweets", "n", "0".repeat(64), undefined);
  const store = new StateStore(dir, key);
  await Promise.all(Array.from({ length: 25 }, (_, i) => store.save(state(key, i))));
  assert.equal((await store.load())!.name, "n24");
  assert.deepEqual(await readdir(dir), [`${key}.json`]);
});

test("remove() deletes the record and temp files a killed process left, nothing else", async (t) => {
  const dir = join(await tempDir(t), "state");
  const key = runKey(API, "users", "x", "1".repeat(64), 5);
  const store = new StateStore(dir, key);
  await store.save(state(key, 1));
  await writeFile(join(dir, `${key}.json.4242.tmp`), "{");
  await writeFile(join(dir, `${key}.json.4243-1.tmp`), "{");
  await writeFile(join(dir, "other.json"), "{}");
  await store.remove();
  assert.deepEqual(await readdir(dir), ["other.json"]);
  assert.equal(await store.load(), undefined);
});

test("the lock refuses while a live process on this host holds it (exit 5), takes over a dead one, and is released", async (t) => {
  const dir = join(await tempDir(t), "state");
  const store = new StateStore(dir, "k");
  const release = await store.lock("tweets job");
  const held = JSON.parse(await readFile(store.lockFile, "utf8")) as { pid: number; host: string };
  assert.equal(held.pid, process.pid);
  assert.equal(held.host, hostname());
  await assert.rejects(store.lock("tweets job"), (e: unknown) => e instanceof CliError && e.exitCode === 5 && /already running \(pid \d+/.test(e.message));
  await release();
  assert.deepEqual(await readdir(dir), []);
  await writeFile(store.lockFile, JSON.stringify({ pid: 2 ** 22 + 7, host: hostname() }));
  const again = await store.lock("tweets job");
  assert.equal((JSON.parse(await readFile(store.lockFile, "utf8")) as { pid: number }).pid, process.pid);
  await again();
});

test("the run key depends on the API, type, name, the ID file's content and the split", () => {
  const sha = "a".repeat(64);
  const k = runKey(API, "tweets", "n", sha, undefined);
  assert.match(k, /^[0-9a-f]{24}$/);
  assert.equal(runKey(API, "tweets", "n", sha, undefined), k);
  for (const other of [runKey(API, "users", "n", sha, undefined), runKey(API, "tweets", "m", sha, undefined), runKey(API, "tweets", "n", "b".repeat(64), undefined), runKey(API, "tweets", "n", sha, 10), runKey("http://127.0.0.1:8787", "tweets", "n", sha, undefined)]) {
    assert.notEqual(other, k);
  }
});

test("an empty lock (its holder is still writing it) is looked at again before being called stale", async (t) => {
  const dir = join(await tempDir(t), "state");
  const store = new StateStore(dir, "k");
  await store.lock("x").then((release) => release());
  await writeFile(store.lockFile, "");
  const filled = new Promise((r) => setTimeout(r, 20)).then(() => writeFile(store.lockFile, JSON.stringify({ pid: process.pid, host: hostname() })));
  await assert.rejects(store.lock("x"), /already running/);
  await filled;
  await writeFile(store.lockFile, "");
  const release = await store.lock("x");
  await release();
});

test("an unusable state folder is a usage error naming it, never a hang or a crash", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "not-a-folder");
  await writeFile(file, "x");
  await assert.rejects(new StateStore(join(file, "compliant"), "k").lock("test"), (err: unknown) => {
    assert.ok(err instanceof CliError);
    assert.equal(err.exitCode, 2);
    assert.equal(err.message, `cannot use ${join(file, "compliant")} as the state folder (${file} is not a folder); pass --state-dir with a writable folder, or set XDG_STATE_HOME.`);
    return true;
  });
  // Node's recursive mkdir loops for ever on /proc paths; ours fails at once.
  await assert.rejects(new StateStore("/proc/compliant-nope/x", "k").lock("test"), (err: unknown) => {
    assert.ok(err instanceof CliError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^cannot use \/proc\/compliant-nope\/x as the state folder \(E[A-Z]+\); pass --state-dir/);
    return true;
  });
});
