// Review of "results you can trust": ways found to end with exit 0 and a wrong file, each
// reproduced with the real binary, real files and the emulator (127.0.0.1 only).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, open, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { emuEnv, emulatorFor, runCli, tempDir, type CliResult } from "../helpers/cli.js";
import { HOSTILE_JOB_ID } from "../helpers/hostile-cli.js";
import { heldDownloads, scriptedJobs } from "../helpers/hostile-review-trust.js";
import { runKey } from "../../src/jobs/state.js";

const show = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

test("apply refuses a --removed file that is the output's own .partial, so the output never holds the dropped records", async (t) => {
  const dir = await tempDir(t, "compliant-review-");
  const records = Array.from({ length: 6 }, (_, i) => `{"id":"${1000 + i}","text":"t${i}"}\n`);
  await writeFile(join(dir, "data.jsonl"), records.join(""));
  await writeFile(join(dir, "r.ndjson"), '{"id":"1000","action":"delete","reason":"deleted"}\n{"id":"1001","action":"delete","reason":"deleted"}\n');
  const r = await runCli(["apply", "-r", "r.ndjson", "data.jsonl", "-o", "clean.jsonl", "--removed", "clean.jsonl.partial"], { cwd: dir });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /clean\.jsonl\.partial/);
  assert.deepEqual((await readdir(dir)).sort(), ["data.jsonl", "r.ndjson"]);
  // The other way round: -o is the --removed file's .partial.
  const r2 = await runCli(["apply", "-r", "r.ndjson", "data.jsonl", "-o", "gone.jsonl.partial", "--removed", "gone.jsonl"], { cwd: dir });
  assert.equal(r2.code, 2, show(r2));
  assert.deepEqual((await readdir(dir)).sort(), ["data.jsonl", "r.ndjson"]);
  assert.equal(await readFile(join(dir, "data.jsonl"), "utf8"), records.join(""));
});

test("download exits non-zero when another download of the same file replaced its .partial, so exit 0 never leaves half a file", async (t) => {
  const dir = await tempDir(t, "compliant-review-");
  const lines = Array.from({ length: 400 }, (_, i) => `{"id":"${10_000 + i}","action":"delete","reason":"deleted"}\n`).join("");
  const body = Buffer.from(lines);
  const held = await heldDownloads(t, body);
  const env = { X_API_BASE_URL: held.server.origin, X_BEARER_TOKEN: "review-token" };
  const a = runCli(["download", HOSTILE_JOB_ID, "same.ndjson"], { cwd: dir, env });
  await held.started(0);
  // The second download starts while the first is half way: it removes the first one's .partial
  // and makes its own.
  const b = runCli(["download", HOSTILE_JOB_ID, "same.ndjson"], { cwd: dir, env });
  await held.started(1);
  await waitFor(async () => (await readdir(dir)).includes("same.ndjson.partial"));
  held.release(0);
  const ra = await a;
  // What the first one left when it exited, before the second one writes any more.
  const afterA = await readFile(join(dir, "same.ndjson")).catch(() => Buffer.alloc(0));
  held.release(1);
  const rb = await b;
  const afterB = await readFile(join(dir, "same.ndjson")).catch(() => Buffer.alloc(0));
  for (const [r, results] of [[ra, afterA], [rb, afterB]] as const) {
    if (r.code === 0) assert.ok(results.equals(body), `a download exited 0 but the file has ${results.length} of ${body.length} bytes\n${show(r)}`);
    else assert.match(r.stderr, /another|changed|replaced|appeared/, show(r));
  }
  assert.equal(ra.code === 0 && rb.code === 0, false, "both cannot have written the file");
  // The one whose .partial was taken fails; the other, left alone, delivers the whole file.
  assert.equal(ra.code, 5, show(ra));
  assert.equal(rb.code, 0, show(rb));
  assert.doesNotMatch(ra.stderr + rb.stderr, /internal error|This is a bug/);
});

async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("condition not met");
}

test("apply exits non-zero when another apply to the same output replaced its .partial, so exit 0 never leaves a half-written dataset", async (t) => {
  const dir = await tempDir(t, "compliant-review-");
  await writeFile(join(dir, "r.ndjson"), '{"id":"1000","action":"delete","reason":"deleted"}\n');
  const head = Array.from({ length: 50 }, (_, i) => `{"id":"${2000 + i}","text":"a"}\n`).join("");
  const tail = Array.from({ length: 50 }, (_, i) => `{"id":"${3000 + i}","text":"b"}\n`).join("");
  for (const f of ["a.fifo", "b.fifo"]) execFileSync("mkfifo", [join(dir, f)]);
  const partial = join(dir, "out.jsonl.partial");
  const a = runCli(["apply", "-r", "r.ndjson", "a.fifo", "-o", "out.jsonl", "--force"], { cwd: dir });
  const fa = await open(join(dir, "a.fifo"), "w");
  await fa.write(head);
  await waitFor(async () => (await lstat(partial).catch(() => undefined)) !== undefined);
  const first = (await lstat(partial)).ino;
  const b = runCli(["apply", "-r", "r.ndjson", "b.fifo", "-o", "out.jsonl", "--force"], { cwd: dir });
  const fb = await open(join(dir, "b.fifo"), "w");
  await fb.write(head);
  await waitFor(async () => ((await lstat(partial).catch(() => undefined))?.ino ?? first) !== first);
  await fa.write(tail);
  await fa.close();
  const ra = await a;
  const afterA = await readFile(join(dir, "out.jsonl"), "utf8").catch(() => "");
  await fb.write(tail);
  await fb.close();
  const rb = await b;
  const afterB = await readFile(join(dir, "out.jsonl"), "utf8").catch(() => "");
  assert.equal(ra.code, 5, `${show(ra)}\nout.jsonl had ${afterA.length} of ${(head + tail).length} bytes`);
  assert.match(ra.stderr, /replaced by another process/);
  assert.equal(rb.code, 0, show(rb));
  assert.equal(afterB, head + tail);
});

test("a results device that refuses the writes (/dev/full) fails the run instead of exiting 0 with nothing written", async (t) => {
  if (!existsSync("/dev/full")) return t.skip("no /dev/full here");
  const dir = await tempDir(t, "compliant-review-");
  const emu = await emulatorFor(t);
  const ids = Array.from({ length: 30 }, (_, i) => String(5000 + i)).join("\n") + "\n";
  await writeFile(join(dir, "ids.txt"), ids);
  const all = await runCli(["all", "-t", "tweets", "-i", "ids.txt", "-o", "/dev/full", "--force", "--interval", "0.01"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(all.code, 5, show(all));
  assert.match(all.stderr, /disk is full \(ENOSPC\)/);
  assert.doesNotMatch(all.stderr, /summary|internal error/);
  const job = emu.requests.length > 0 ? (await runCli(["list", "--json"], { cwd: dir, env: emuEnv(emu) })).stdout : "";
  const id = /"id":\s*"(\d+)"/.exec(job)?.[1];
  assert.ok(id, job);
  const dl = await runCli(["download", id, "/dev/full", "--force"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(dl.code, 5, show(dl));
  assert.match(dl.stderr, /disk is full \(ENOSPC\)/);
  assert.doesNotMatch(dl.stderr, /need action|internal error/);
});

test("a split all exits non-zero when another process replaced its .partial during the last part, so it never renames someone else's file into place", async (t) => {
  const dir = await tempDir(t, "compliant-review-");
  const lines = (from: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `{"id":"${from + i}","action":"delete","reason":"deleted"}\n`).join(""));
  const bodies = [lines(7000, 3), lines(8000, 3)];
  const api = await scriptedJobs(t, bodies, [1]);
  await writeFile(join(dir, "ids.txt"), ["7000", "7001", "7002", "8000", "8001", "8002"].join("\n") + "\n");
  const env = { X_API_BASE_URL: api.server.origin, X_BEARER_TOKEN: "review-token" };
  const run = runCli(["all", "-t", "tweets", "-i", "ids.txt", "-o", "r.ndjson", "--max-ids-per-job", "3", "--interval", "0.01"], { cwd: dir, env });
  await api.started(1);
  // Someone else (another state folder, or `compliant download`) puts their own file there.
  const partial = join(dir, "r.ndjson.partial");
  await waitFor(async () => (await lstat(partial).catch(() => undefined)) !== undefined);
  await unlink(partial);
  await writeFile(partial, "{\"id\":\"1\",\"action\":\"delete\"}\n");
  api.release(1);
  const r = await run;
  const results = await readFile(join(dir, "r.ndjson"), "utf8").catch(() => "");
  if (r.code === 0) assert.equal(results, Buffer.concat(bodies).toString(), show(r));
  assert.equal(r.code, 5, show(r));
  assert.match(r.stderr, /replaced by another process/);
  assert.equal(await readFile(partial, "utf8"), "{\"id\":\"1\",\"action\":\"delete\"}\n", "the other process's file is left alone");
});

test("a results FIFO whose reader goes away stops the download with a sentence, not retries and an internal error", async (t) => {
  const dir = await tempDir(t, "compliant-review-");
  const emu = await emulatorFor(t);
  // 20,000 IDs give ~240 KB of results, more than a pipe holds.
  const ids = Array.from({ length: 20_000 }, (_, i) => String(900_000 + i)).join("\n") + "\n";
  await writeFile(join(dir, "ids.txt"), ids);
  const fifo = join(dir, "results.fifo");
  execFileSync("mkfifo", [fifo]);
  // A reader that takes a few bytes and leaves.
  const reader = (async () => {
    const fh = await open(fifo, "r");
    await fh.read(Buffer.alloc(10), 0, 10);
    await fh.close();
  })();
  const r = await runCli(["all", "-t", "tweets", "-i", "ids.txt", "-o", fifo, "--force", "--interval", "0.01"], { cwd: dir, env: emuEnv(emu) });
  await reader;
  assert.notEqual(r.code, 0, show(r));
  assert.doesNotMatch(r.stderr, /internal error|This is a bug|connection was cut|check the network/, show(r));
  assert.match(r.stderr, /EPIPE/, show(r));
});

test("all refuses a results file inside the state folder, where its record would replace the results and then be removed", async (t) => {
  const dir = await tempDir(t, "compliant-review-");
  const emu = await emulatorFor(t);
  const ids = Array.from({ length: 30 }, (_, i) => String(5000 + i)).join("\n") + "\n";
  await writeFile(join(dir, "ids.txt"), ids);
  const state = join(dir, "state");
  await mkdir(state, { mode: 0o700 });
  // The record's own name: runs with these IDs keep their record there.
  const key = runKey(emu.apiUrl, "tweets", `compliant-${createHash("sha256").update(ids).digest("hex").slice(0, 12)}`, createHash("sha256").update(ids).digest("hex"), undefined);
  const r = await runCli(["all", "-t", "tweets", "-i", "ids.txt", "-o", join(state, `${key}.json`), "--force", "--state-dir", state, "--interval", "0.01"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /inside the state folder/);
  assert.deepEqual(await readdir(state), []);
  assert.equal(emu.requests.filter((q) => q.method === "POST").length, 0, "no job was created");
});

test("an output path with a trailing slash names a folder and is refused, never written as the file without it", async (t) => {
  const dir = await tempDir(t, "compliant-review-");
  const emu = await emulatorFor(t);
  await writeFile(join(dir, "ids.txt"), "5000\n5001\n");
  await writeFile(join(dir, "x"), "keep\n");
  const all = await runCli(["all", "-t", "tweets", "-i", "ids.txt", "-o", "x/", "--force", "--interval", "0.01"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(all.code, 2, show(all));
  assert.match(all.stderr, /the results path x\/ names a folder/);
  assert.equal(emu.requests.length, 0, "nothing was asked of the API");
  await writeFile(join(dir, "data.jsonl"), '{"id":"5000","text":"a"}\n');
  await writeFile(join(dir, "r.ndjson"), '{"id":"5000","action":"delete","reason":"deleted"}\n');
  const apply = await runCli(["apply", "-r", "r.ndjson", "data.jsonl", "-o", "x/", "--force"], { cwd: dir });
  assert.equal(apply.code, 2, show(apply));
  assert.match(apply.stderr, /the output file x\/ names a folder/);
  assert.equal(await readFile(join(dir, "x"), "utf8"), "keep\n");
});

test("a folder where the results' .partial would go is refused before any job is created (exit 2)", async (t) => {
  const dir = await tempDir(t, "compliant-review-");
  const emu = await emulatorFor(t);
  await writeFile(join(dir, "ids.txt"), "1460694452490674100\n1460694452490674101\n");
  await mkdir(join(dir, "o.ndjson.partial"));
  await writeFile(join(dir, "o.ndjson.partial", "keep.txt"), "mine\n");
  const r = await runCli(["all", "--type", "tweets", "-i", "ids.txt", "-o", "o.ndjson", "--interval", "0.05"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /compliant: .*o\.ndjson\.partial is a folder, where compliant would keep the unfinished download of o\.ndjson; remove or rename that folder, or choose another results path\.\n$/);
  assert.equal(emu.jobs().length, 0, "no job was created");
  assert.equal(await readFile(join(dir, "o.ndjson.partial", "keep.txt"), "utf8"), "mine\n");
  assert.equal(existsSync(join(dir, "o.ndjson")), false);
  const dl = await runCli(["download", "1460694452490674183", "o.ndjson"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(dl.code, 2, show(dl));
  assert.match(dl.stderr, /o\.ndjson\.partial is a folder/);
});

test("a state folder on a full disk is exit 5 (run again later), not a usage error", async (t) => {
  const dir = await tempDir(t, "compliant-review-");
  // A real full file system: a tiny tmpfs, filled. Mounting needs root and a mount namespace
  // that allows it; where it is refused the test cannot run here and says so. The mount point
  // is its own folder, unmounted before it is removed.
  const mnt = await mkdtemp(join(tmpdir(), "compliant-full-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], { stdio: "ignore" });
  } catch {
    await rm(mnt, { recursive: true, force: true });
    t.skip("cannot mount a tmpfs here (needs root)");
    return;
  }
  t.after(async () => {
    execFileSync("umount", [mnt], { stdio: "ignore" });
    await rm(mnt, { recursive: true, force: true });
  });
  await mkdir(join(mnt, "state"));
  await writeFile(join(mnt, "fill"), Buffer.alloc(64 * 1024)).catch(() => undefined);
  const emu = await emulatorFor(t);
  await writeFile(join(dir, "ids.txt"), "1460694452490674100\n");
  const r = await runCli(["all", "--type", "tweets", "-i", "ids.txt", "-o", "o.ndjson", "--state-dir", join(mnt, "state")], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 5, show(r));
  assert.match(r.stderr, /compliant: cannot write to a file in the state folder .*compliant-full-\w+\/state: the disk is full \(ENOSPC\); free some space, then run again\.\n$/);
  assert.equal(emu.jobs().length, 0, "no job was created");
});
