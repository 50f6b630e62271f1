// Results you can trust, part 2: deliveries whose end cannot be verified, checksums, endless
// bodies, and the files a run must never clobber (devices, FIFOs, links planted at `.partial`,
// outputs that are one of the inputs). Real processes and files; the emulator on an ephemeral
// port, behind a hostile front (test/helpers/hostile-download.ts) for odd framing.

import { spawn } from "node:child_process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { link, lstat, readFile, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { emuEnv, runCli } from "../helpers/cli.js";
import { hostileFront } from "../helpers/hostile-download.js";
import { ls, read, setup, show } from "./unattended-helpers.js";

const ENDS = /without a Content-Length or chunked framing, so a cut connection could not be told from the end of the results/;

async function noResults(dir: string): Promise<void> {
  assert.deepEqual((await ls(dir)).filter((f) => f.startsWith("results")), [], "no results file and no .partial");
}

test("a close-delimited results body is refused (exit 4), even when it is cut at a line end", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  const front = await hostileFront(t, s.emu, { framing: "close", cutAfter: s.expected().indexOf("\n", 500) + 1 });
  const r = await s.run(s.args(), { env: { X_API_BASE_URL: front.apiUrl } });
  assert.equal(r.code, 4, show(r));
  assert.match(r.stderr, ENDS);
  await noResults(s.dir);

  // `compliant download` refuses the same delivery, whole this time.
  front.plan = { framing: "close" };
  const id = s.emu.jobs()[0]!.id;
  const d = await runCli(["download", id, "results.ndjson"], { cwd: s.dir, env: emuEnv(s.emu, { X_API_BASE_URL: front.apiUrl }) });
  assert.equal(d.code, 4, show(d));
  assert.match(d.stderr, ENDS);
  await noResults(s.dir);
});

test("a chunked results body with the right x-goog-hash crc32c is accepted byte for byte", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  const front = await hostileFront(t, s.emu, { framing: "chunked", crc32c: "right" });
  const r = await s.run(s.args(), { env: { X_API_BASE_URL: front.apiUrl } });
  assert.equal(r.code, 0, show(r));
  assert.equal(await read(s.results), s.expected());
  assert.equal(front.downloads.length, 1);
});

test("results that do not match the storage's x-goog-hash crc32c are refused (exit 4) and not kept", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  const front = await hostileFront(t, s.emu, { crc32c: "wrong" });
  const r = await s.run(s.args(), { env: { X_API_BASE_URL: front.apiUrl } });
  assert.equal(r.code, 4, show(r));
  assert.match(r.stderr, /do not match the checksum the storage sent \(x-goog-hash crc32c=/);
  await noResults(s.dir);
  // Nothing wrong is resumed later: the next run downloads from byte 0 and checks again.
  front.plan = { crc32c: "right" };
  const again = await s.run(s.args(), { env: { X_API_BASE_URL: front.apiUrl } });
  assert.equal(again.code, 0, show(again));
  assert.deepEqual(front.downloads, ["", ""]);
  assert.equal(await read(s.results), s.expected());
});

test("a download cut and resumed with Range is checked against the whole object's crc32c", async (t) => {
  const s = await setup(t, { pollsToComplete: 1, count: 400 });
  const front = await hostileFront(t, s.emu, { crc32c: "right", cutFirstAfter: 1000 });
  const r = await s.run(s.args(), { env: { X_API_BASE_URL: front.apiUrl } });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(front.downloads, ["", "bytes=1000-"], show(r));
  assert.equal(await read(s.results), s.expected());

  const u = await setup(t, { pollsToComplete: 1, count: 400 });
  const bad = await hostileFront(t, u.emu, { crc32c: "wrong", cutFirstAfter: 1000 });
  const w = await u.run(u.args(), { env: { X_API_BASE_URL: bad.apiUrl } });
  assert.equal(w.code, 4, show(w));
  assert.deepEqual(bad.downloads, ["", "bytes=1000-"]);
  assert.match(w.stderr, /do not match the checksum the storage sent/);
  await noResults(u.dir);
});

test("a never-ending results body stops at more lines than IDs uploaded: exit 4, nothing kept", async (t) => {
  const s = await setup(t, { pollsToComplete: 1, count: 50 });
  const line = `{"id":"${s.ids[0]}","action":"delete","created_at":"2019-08-11T04:15:03.227Z","reason":"deleted"}\n`;
  const front = await hostileFront(t, s.emu, { framing: "chunked", endless: line });
  const r = await s.run(s.args(), { env: { X_API_BASE_URL: front.apiUrl } });
  assert.equal(r.code, 4, show(r));
  assert.match(r.stderr, /has more result lines than 4 for each of the 50 IDs uploaded for it, which no usable answer has/);
  await noResults(s.dir);
  // An endless run of blank lines is cut off too.
  front.plan = { framing: "chunked", endless: "\n" };
  const blank = await s.run(s.args(), { env: { X_API_BASE_URL: front.apiUrl } });
  assert.equal(blank.code, 4, show(blank));
  assert.match(blank.stderr, /has more blank lines than 4 for each of the 50 IDs uploaded for it/);
  await noResults(s.dir);
});

/** mkfifo, and a reader (a `cat` process, so no thread of this process blocks on the FIFO). */
async function fifoWithReader(path: string): Promise<{ text: Promise<string> }> {
  await new Promise<void>((done, fail) => spawn("mkfifo", [path]).on("exit", (c) => (c === 0 ? done() : fail(new Error(`mkfifo exit ${c}`)))));
  const cat = spawn("cat", [path], { stdio: ["ignore", "pipe", "ignore"] });
  const chunks: Buffer[] = [];
  cat.stdout.on("data", (c: Buffer) => chunks.push(c));
  // Wrapped: a promise resolved with a promise would wait for it.
  const text = new Promise<string>((done, fail) => {
    cat.on("error", fail);
    cat.on("close", () => done(Buffer.concat(chunks).toString("utf8")));
  });
  return { text };
}

test("--force onto a FIFO, or a symlink to one, writes into it in place and never replaces it", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  const fifo = join(s.dir, "results.fifo");
  const received = await fifoWithReader(fifo);
  const r = await s.run(["all", "--type", "tweets", "--ids-file", s.idsFile, "--results-file", fifo, "--interval", "0.05", "--force"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(await received.text, s.expected());
  assert.ok((await lstat(fifo)).isFIFO(), "the FIFO is still a FIFO");
  assert.deepEqual((await ls(s.dir)).filter((f) => f.endsWith(".partial")), []);

  // `compliant download` through a symlink to a FIFO: the link and the FIFO both stay.
  const fifo2 = join(s.dir, "second.fifo");
  const again = await fifoWithReader(fifo2);
  await symlink(fifo2, join(s.dir, "link"));
  const id = s.emu.jobs()[0]!.id;
  const d = await runCli(["download", id, "link", "--force"], { cwd: s.dir, env: emuEnv(s.emu) });
  assert.equal(d.code, 0, show(d));
  assert.equal(await again.text, s.expected());
  assert.ok((await lstat(join(s.dir, "link"))).isSymbolicLink());
  assert.ok((await lstat(fifo2)).isFIFO());

  // `compliant apply -o fifo --force` too.
  const fifo3 = join(s.dir, "clean.fifo");
  const cleaned = await fifoWithReader(fifo3);
  await writeFile(join(s.dir, "data.jsonl"), `{"id":"${s.ids[0]}","text":"a"}\n{"id":"1","text":"b"}\n`);
  await writeFile(s.results, s.expected());
  const a = await runCli(["apply", "--results", s.results, "data.jsonl", "-o", fifo3, "--force"], { cwd: s.dir, env: emuEnv(s.emu) });
  assert.equal(a.code, 0, show(a));
  assert.equal(await cleaned.text, `{"id":"1","text":"b"}\n`);
  assert.ok((await lstat(fifo3)).isFIFO());
});

test("a symlink planted at <output>.partial is never followed: download, all and apply leave its target alone", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  const victim = join(s.dir, "victim.txt");
  await writeFile(victim, "precious\n");
  await symlink(victim, `${s.results}.partial`);
  const r = await s.run(s.args());
  assert.equal(r.code, 0, show(r));
  assert.equal(await read(s.results), s.expected());
  assert.equal(await read(victim), "precious\n");

  const id = s.emu.jobs()[0]!.id;
  const out = join(s.dir, "again.ndjson");
  await symlink(victim, `${out}.partial`);
  const d = await runCli(["download", id, out], { cwd: s.dir, env: emuEnv(s.emu) });
  assert.equal(d.code, 0, show(d));
  assert.equal(await read(out), s.expected());
  assert.equal(await read(victim), "precious\n");

  await writeFile(join(s.dir, "data.jsonl"), `{"id":"1","text":"b"}\n`);
  await symlink(victim, join(s.dir, "clean.jsonl.partial"));
  const a = await runCli(["apply", "--results", s.results, "data.jsonl", "-o", "clean.jsonl"], { cwd: s.dir, env: emuEnv(s.emu) });
  assert.equal(a.code, 0, show(a));
  assert.equal(await read(join(s.dir, "clean.jsonl")), `{"id":"1","text":"b"}\n`);
  assert.equal(await read(victim), "precious\n");
  assert.deepEqual((await ls(s.dir)).filter((f) => f.endsWith(".partial")), []);
});

test("apply refuses (exit 2, nothing written) when the output's .partial is one of its inputs", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  const r = await s.run(s.args());
  assert.equal(r.code, 0, show(r));
  const dataset = `{"id":"${s.ids[0]}","text":"a"}\n{"id":"1","text":"b"}\n`;
  await writeFile(join(s.dir, "data.jsonl.partial"), dataset);
  const a = await runCli(["apply", "--results", "results.ndjson", "data.jsonl.partial", "-o", "data.jsonl"], { cwd: s.dir, env: emuEnv(s.emu) });
  assert.equal(a.code, 2, show(a));
  assert.match(a.stderr, /the dataset data\.jsonl\.partial is the same file as data\.jsonl\.partial, where the output file data\.jsonl is written first; nothing was written/);
  assert.equal(await read(join(s.dir, "data.jsonl.partial")), dataset);
  assert.ok(!(await ls(s.dir)).includes("data.jsonl"));

  // The results file as the output's .partial (through a hard link) is refused the same way.
  await link(s.results, join(s.dir, "clean.jsonl.partial"));
  const b = await runCli(["apply", "--results", "results.ndjson", "data.jsonl.partial", "-o", "clean.jsonl"], { cwd: s.dir, env: emuEnv(s.emu) });
  assert.equal(b.code, 2, show(b));
  assert.match(b.stderr, /the results file results\.ndjson is the same file as clean\.jsonl\.partial/);
  assert.equal(await read(s.results), s.expected());
});

test("all refuses (exit 2, no request made) when the ID file is the results file or its .partial", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  const ids = await readFile(s.idsFile);
  await writeFile(`${s.results}.partial`, ids);
  const r = await s.run(["all", "--type", "tweets", "-i", `${s.results}.partial`, "-o", s.results, "--interval", "0.05"]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /the ID file .*results\.ndjson\.partial is the same file as the results file's temporary file .*results\.ndjson\.partial, which this run would overwrite; nothing was written/);
  assert.deepEqual(await readFile(`${s.results}.partial`), ids);
  assert.equal(s.emu.requests.length, 0);

  // A hard link to the ID file given as the results file (with --force) is the same file too.
  await link(s.idsFile, join(s.dir, "linked.ndjson"));
  const l = await s.run(["all", "--type", "tweets", "-i", s.idsFile, "-o", join(s.dir, "linked.ndjson"), "--force", "--interval", "0.05"]);
  assert.equal(l.code, 2, show(l));
  assert.match(l.stderr, /the ID file .*ids\.txt is the same file as the results file .*linked\.ndjson/);
  assert.deepEqual(await readFile(s.idsFile), ids);
  assert.equal(s.emu.requests.length, 0);
});

test("a .partial swapped for a symlink after the run that wrote it was killed is not followed on resume", async (t) => {
  const s = await setup(t, { pollsToComplete: 1, count: 400 });
  s.emu.fault({ match: { route: "download" }, action: { type: "cut-body", afterBytes: 1500 } });
  s.emu.fault({ match: { route: "download" }, action: { type: "stall", ms: 30_000 } });
  const first = await s.run(s.args(), {
    when: { stderr: /resuming the download of job \d+ at byte/, then: (child) => void child.kill("SIGKILL") },
  });
  assert.equal(first.signal, "SIGKILL", show(first));
  // The victim even starts with the bytes the run had written, so only the link itself can tell.
  const victim = join(s.dir, "victim.txt");
  await writeFile(victim, await readFile(`${s.results}.partial`));
  const before = await readFile(victim);
  await unlink(`${s.results}.partial`);
  await symlink(victim, `${s.results}.partial`);
  s.emu.clearFaults();
  const second = await s.run(s.args());
  assert.equal(second.code, 0, show(second));
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await readFile(victim), before);
});

test("--force onto a symlink to a regular file replaces that file atomically and keeps the link", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  const real = join(s.dir, "real.ndjson");
  await writeFile(real, "old results\n");
  await symlink(real, join(s.dir, "link.ndjson"));
  const r = await s.run(["all", "--type", "tweets", "--ids-file", s.idsFile, "--results-file", join(s.dir, "link.ndjson"), "--interval", "0.05", "--force"]);
  assert.equal(r.code, 0, show(r));
  assert.ok((await lstat(join(s.dir, "link.ndjson"))).isSymbolicLink(), "the link stays a link");
  assert.equal(await read(real), s.expected());
  assert.deepEqual((await ls(s.dir)).filter((f) => f.endsWith(".partial")), []);
});
