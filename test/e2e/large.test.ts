// End-to-end tests of ID files and result files beyond the toy sizes: the real binary (runCli)
// against the real emulator on 127.0.0.1, asserting exit codes, stderr, the bytes the emulator
// received and holds, and its request log. Files stay at a few MB at most.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { expectedResultsFile, type Emulator, type EmulatorOptions } from "../../src/emulator/server.js";
import { emuEnv, emulatorFor, runCli, tempDir, type CliResult } from "../helpers/cli.js";

/** `count` distinct 18–19 digit Post-like IDs, deterministic; every last-two-digit value occurs. */
function makeIds(count: number, salt = 0): string[] {
  const out: string[] = [];
  const base = 1_400_000_000_000_000_000n + BigInt(salt) * 1_000_000_000n;
  for (let i = 0; i < count; i++) out.push((base + BigInt(i) * 7_919n + BigInt(i % 100)).toString());
  return out;
}

const lf = (ids: readonly string[]) => ids.map((id) => `${id}\n`).join("");

interface Env {
  t: TestContext;
  dir: string;
  data: string;
  emu: Emulator;
  run: (args: string[], stdin?: string | Buffer) => Promise<CliResult>;
}

async function setup(t: TestContext, opts: EmulatorOptions = {}): Promise<Env> {
  const dir = await tempDir(t, "compliant-e2e-large-");
  const data = join(dir, "emulator-data");
  await mkdir(data);
  // A generous rate limit: the client paces polls by the budget (150 per 15 min would mean 6 s).
  const emu = await emulatorFor(t, { dataDir: data, rateLimit: { limit: 100_000, windowSeconds: 900 }, ...opts });
  const run = (args: string[], stdin?: string | Buffer) => runCli(args, { cwd: dir, env: emuEnv(emu), stdin });
  return { t, dir, data, emu, run };
}

/** What the emulator holds as the upload of a job (its storage object). */
function uploadOf(env: Env, jobId: string): Promise<Buffer> {
  return readFile(join(env.data, `${jobId}.upload`));
}

function allArgs(ids: string, results: string, ...more: string[]): string[] {
  return ["all", "--type", "tweets", "--ids-file", ids, "--results-file", results, "--interval", "0.05", "--json", ...more];
}

function summaryOf(r: CliResult): { jobs: Array<{ id: string; ids: number }>; ids_checked: number; duplicates: number; ids_needing_action: number; result_bytes: number } {
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout) as ReturnType<typeof summaryOf>;
}

const routes = (emu: Emulator, route: string) => emu.requests.filter((q) => q.route === route);

test("a bad line deep inside a 2.6 MB file: exit 2, its line number reported, no job created", async (t) => {
  const env = await setup(t);
  const ids = makeIds(130_000);
  const bad = 117_345; // 1-based line number
  ids[bad - 1] = "14000000000x0000017";
  await writeFile(join(env.dir, "ids.txt"), lf(ids));
  const r = await env.run(allArgs("ids.txt", "out.ndjson"));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /the ID file ids\.txt has 1 invalid line \(line 117345: "14000000000x0000017"\); each line must be one Post or user ID of 1–19 digits\./);
  assert.equal(r.stdout, "");
  assert.deepEqual(env.emu.requests, [], "validation happens before any request");
  assert.equal(existsSync(join(env.dir, "out.ndjson")), false);
  assert.equal(existsSync(join(env.dir, "out.ndjson.partial")), false);

  // Same through `upload` (to an existing job): the job stays created, nothing is sent.
  const created = await env.run(["create", "--type", "tweets"]);
  assert.equal(created.code, 0, created.stderr);
  const jobId = created.stdout.trim().split(/\s+/)[0]!;
  const before = env.emu.requests.length;
  const up = await env.run(["upload", jobId, "ids.txt"]);
  assert.equal(up.code, 2);
  assert.match(up.stderr, /line 117345: "14000000000x0000017"/);
  assert.equal(env.emu.requests.length, before);
  assert.equal(env.emu.jobs()[0]!.status, "created");
});

test("BOM + CRLF + blank lines + padded IDs: the emulator receives the normalised `<id>\\n` bytes", async (t) => {
  const env = await setup(t);
  const ids = makeIds(40_000, 1);
  const lines = ids.map((id, i) => (i % 997 === 5 ? `  ${id}\t` : id));
  lines.splice(1000, 0, "", "   ");
  const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lines.join("\r\n"))]); // no final newline either
  await writeFile(join(env.dir, "ids.txt"), body);
  const s = summaryOf(await env.run(allArgs("ids.txt", "out.ndjson")));
  assert.equal(s.ids_checked, ids.length);
  assert.equal(s.jobs.length, 1);
  const uploaded = await uploadOf(env, s.jobs[0]!.id);
  assert.equal(uploaded.toString("latin1"), lf(ids));
  const put = routes(env.emu, "upload");
  assert.equal(put.length, 1);
  assert.equal(put[0]!.contentLength, Buffer.byteLength(lf(ids)));
  assert.equal(put[0]!.chunked, false);
  assert.equal(await readFile(join(env.dir, "out.ndjson"), "utf8"), expectedResultsFile(ids, "tweets", "storage"));

  // CRLF only (no BOM) through stdin, for `upload` to a created job.
  const created = await env.run(["create", "--type", "users"]);
  const jobId = created.stdout.trim().split(/\s+/)[0]!;
  const up = await env.run(["upload", jobId, "-"], ids.slice(0, 5000).join("\r\n") + "\r\n");
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stderr, /checked stdin: 5,000 IDs/);
  assert.equal((await uploadOf(env, jobId)).toString("latin1"), lf(ids.slice(0, 5000)));
});

test("duplicates: reported and kept without --dedupe, removed (first occurrence, order kept) with it", async (t) => {
  const env = await setup(t);
  const uniq = makeIds(30_000, 2);
  const withDups = [...uniq];
  // 1,234 repeats scattered through the file (some IDs repeated several times).
  for (let k = 0; k < 1234; k++) withDups.splice(7 + k * 24, 0, uniq[(k * 7) % 3000]!);
  await writeFile(join(env.dir, "ids.txt"), lf(withDups));

  const kept = await env.run(allArgs("ids.txt", "kept.ndjson"));
  const s1 = summaryOf(kept);
  assert.match(kept.stderr, /checked ids\.txt: 31,234 IDs, 1,234 duplicates kept \(pass --dedupe to drop them\)/);
  assert.equal(s1.ids_checked, withDups.length);
  assert.equal(s1.duplicates, 1234);
  assert.equal((await uploadOf(env, s1.jobs[0]!.id)).toString("latin1"), lf(withDups));
  assert.equal(await readFile(join(env.dir, "kept.ndjson"), "utf8"), expectedResultsFile(withDups, "tweets", "storage"));

  const deduped = await env.run(allArgs("ids.txt", "dedupe.ndjson", "--dedupe"));
  const s2 = summaryOf(deduped);
  assert.match(deduped.stderr, /checked ids\.txt: 30,000 IDs, 1,234 duplicates removed/);
  assert.equal(s2.ids_checked, uniq.length);
  assert.equal(s2.duplicates, 1234);
  assert.equal((await uploadOf(env, s2.jobs[0]!.id)).toString("latin1"), lf(uniq));
  assert.equal(await readFile(join(env.dir, "dedupe.ndjson"), "utf8"), expectedResultsFile(uniq, "tweets", "storage"));
  assert.equal(routes(env.emu, "create").length, 2);
});

test("stdin input to `all`: spooled, uploaded, results as for a file", async (t) => {
  const env = await setup(t);
  const ids = makeIds(60_000, 3);
  const r = await env.run(allArgs("-", "out.ndjson"), lf(ids));
  const s = summaryOf(r);
  assert.match(r.stderr, /checked stdin: 60,000 IDs/);
  assert.equal(s.ids_checked, 60_000);
  assert.equal((await uploadOf(env, s.jobs[0]!.id)).toString("latin1"), lf(ids));
  assert.equal(await readFile(join(env.dir, "out.ndjson"), "utf8"), expectedResultsFile(ids, "tweets", "storage"));
  // The spooled copy lives in a private temp dir that is removed at the end.
  const leftovers = (await readdir(env.dir)).filter((n) => n.startsWith("compliant-ids-"));
  assert.deepEqual(leftovers, []);
});

test("all --resumable: a dropped chunk is resumed from the persisted offset; the emulator holds exactly the file", async (t) => {
  const env = await setup(t);
  const ids = makeIds(70_000, 4); // ~1.4 MB: one final chunk for the client (chunks are 8 MiB)
  const body = lf(ids);
  const total = Buffer.byteLength(body);
  await writeFile(join(env.dir, "ids.txt"), body);
  env.emu.fault({ match: { route: "resumable-chunk", method: "PUT" }, action: { type: "drop-upload", afterBytes: 700_000 } });
  const r = await env.run(allArgs("ids.txt", "out.ndjson", "--resumable"));
  const s = summaryOf(r);
  const persisted = Math.floor(700_000 / 262_144) * 262_144; // whole 256 KiB units, as GCS keeps

  assert.equal(routes(env.emu, "resumable-start").length, 1);
  const chunks = routes(env.emu, "resumable-chunk");
  assert.deepEqual(
    chunks.map((q) => [q.contentRange, q.status]),
    [
      [`bytes 0-${total - 1}/${total}`, 0], // dropped mid-body: no response
      [`bytes */${total}`, 308], // where does the session stand?
      [`bytes ${persisted}-${total - 1}/${total}`, 200],
    ],
  );
  assert.equal(chunks[0]!.bytesIn, 700_000);
  assert.equal(chunks[2]!.bytesIn, total - persisted);
  const job = env.emu.jobs().find((j) => j.id === s.jobs[0]!.id)!;
  assert.equal(job.resumable, true);
  assert.equal(job.uploadedBytes, total);
  assert.equal(job.uploadedIds, ids.length);
  assert.equal((await uploadOf(env, job.id)).toString("latin1"), body);
  assert.equal(await readFile(join(env.dir, "out.ndjson"), "utf8"), expectedResultsFile(ids, "tweets", "storage"));
});

test("--max-ids-per-job: split into 4 jobs; merged results equal a single-job run's, line for line", async (t) => {
  // A low upload limit on the emulator: only the split run fits.
  const maxUploadBytes = 80_000;
  // Cancelling supported, so the refused job does not block the split run (one active job per type).
  const env = await setup(t, { maxUploadBytes, cancelSupported: true });
  const ids = makeIds(10_000, 5); // ~200 KB
  await writeFile(join(env.dir, "ids.txt"), lf(ids));

  const single = await env.run(allArgs("ids.txt", "single.ndjson"));
  assert.equal(single.code, 4, single.stderr);
  assert.match(single.stderr, /80000 bytes|EntityTooLarge|too large/i);
  assert.equal(existsSync(join(env.dir, "single.ndjson")), false);
  const refused = routes(env.emu, "upload");
  assert.deepEqual(refused.map((q) => q.status), [413]);
  // The job that can never take this upload is cancelled rather than left blocking the type.
  assert.deepEqual(routes(env.emu, "cancel").map((q) => q.status), [200]);
  assert.match(single.stderr, /pass a smaller --max-ids-per-job/);

  const split = await env.run(allArgs("ids.txt", "split.ndjson", "--max-ids-per-job", "3000"));
  const s = summaryOf(split);
  assert.match(split.stderr, /split into 4 jobs/);
  assert.deepEqual(s.jobs.map((j) => j.ids), [3000, 3000, 3000, 1000]);
  const parts = [ids.slice(0, 3000), ids.slice(3000, 6000), ids.slice(6000, 9000), ids.slice(9000)];
  const puts = routes(env.emu, "upload").slice(1);
  assert.deepEqual(puts.map((q) => [q.status, q.contentLength]), parts.map((p) => [200, Buffer.byteLength(lf(p))]));
  for (const [i, job] of s.jobs.entries()) assert.equal((await uploadOf(env, job.id)).toString("latin1"), lf(parts[i]!));
  assert.equal(existsSync(join(env.dir, "split.ndjson.partial")), false);

  // The single-job reference on an emulator that takes the whole file.
  const ref = await setup(t);
  await writeFile(join(ref.dir, "ids.txt"), lf(ids));
  summaryOf(await ref.run(allArgs("ids.txt", "single.ndjson")));
  const one = await readFile(join(ref.dir, "single.ndjson"), "utf8");
  const merged = await readFile(join(env.dir, "split.ndjson"), "utf8");
  assert.equal(one, expectedResultsFile(ids, "tweets", "storage"));
  // Each job's results file has one blank line after its second event (as real delivery files
  // do), so the merged file has one blank line per job and cannot be byte-identical to a
  // single job's. It is exactly the jobs' files back to back, and its events are the same lines
  // in the same order.
  assert.equal(merged, parts.map((p) => expectedResultsFile(p, "tweets", "storage")).join(""));
  const nonBlank = (text: string) => text.split("\n").filter((l) => l.trim() !== "");
  assert.deepEqual(nonBlank(merged), nonBlank(one));
  assert.equal(merged.split("\n").filter((l) => l === "").length - 1, 4);
  assert.equal(one.split("\n").filter((l) => l === "").length - 1, 1);
  assert.equal(s.ids_needing_action, nonBlank(one).length);
  assert.equal(s.result_bytes, Buffer.byteLength(merged));
});

/** Runs `all` once (clean) and returns the job id, the IDs and their expected results. */
async function completedJob(env: Env, count: number, salt: number): Promise<{ jobId: string; expected: string }> {
  const ids = makeIds(count, salt);
  await writeFile(join(env.dir, "ids.txt"), lf(ids));
  const s = summaryOf(await env.run(allArgs("ids.txt", "first.ndjson")));
  const expected = expectedResultsFile(ids, "tweets", "storage");
  assert.equal(await readFile(join(env.dir, "first.ndjson"), "utf8"), expected);
  return { jobId: s.jobs[0]!.id, expected };
}

test("download cut mid-body: resumed with Range, the file is byte-identical", async (t) => {
  const env = await setup(t);
  const { jobId, expected } = await completedJob(env, 150_000, 6); // ~1.9 MB of results
  const size = Buffer.byteLength(expected);
  const n0 = env.emu.requests.length;
  env.emu.fault({ match: { route: "download" }, action: { type: "cut-body", afterBytes: 654_321 } });
  const r = await env.run(["download", jobId, "again.ndjson"]);
  assert.equal(r.code, 0, r.stderr);
  const m = /the connection was cut; resuming the download of job \d+ at byte ([\d,]+)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  const at = Number(m[1]!.replace(/,/g, ""));
  assert.ok(at > 0 && at <= 654_321, `resumed at ${at}`);
  assert.equal(await readFile(join(env.dir, "again.ndjson"), "utf8"), expected);
  assert.equal(existsSync(join(env.dir, "again.ndjson.partial")), false);
  const gets = env.emu.requests.slice(n0).filter((q) => q.route === "download");
  assert.deepEqual(gets.map((q) => [q.range, q.status]), [[undefined, 200], [`bytes=${at}-`, 206]]);
  assert.ok(size > 654_321);
});

test("a download that keeps failing: exit 5, no results file, and the .partial only when the run can resume", async (t) => {
  const env = await setup(t);
  const { jobId, expected } = await completedJob(env, 100_000, 7);

  // `download` cannot resume a later run: its .partial is removed.
  env.emu.fault({ match: { route: "download" }, times: 100, action: { type: "cut-body", afterBytes: 100_000 } });
  const n0 = env.emu.requests.length;
  const r = await env.run(["download", jobId, "dl.ndjson"]);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /compliant: could not download the results of job \d+ after 6 attempts/);
  assert.equal(existsSync(join(env.dir, "dl.ndjson")), false);
  assert.equal(existsSync(join(env.dir, "dl.ndjson.partial")), false);
  const gets = env.emu.requests.slice(n0).filter((q) => q.route === "download");
  assert.equal(gets.length, 6); // the first try and 5 resumes
  assert.equal(gets[0]!.range, undefined);
  for (const q of gets.slice(1)) assert.match(q.range ?? "", /^bytes=\d+-$/);

  // `all` keeps its .partial (and its state) so the same command resumes.
  env.emu.clearFaults();
  const ids = (await readFile(join(env.dir, "ids.txt"), "utf8"));
  await writeFile(join(env.dir, "ids2.txt"), ids);
  env.emu.fault({ match: { route: "download" }, times: 6, action: { type: "cut-body", afterBytes: 100_000 } });
  const failed = await env.run(allArgs("ids2.txt", "all.ndjson", "--name", "resume-me"));
  assert.equal(failed.code, 5, failed.stderr);
  assert.match(failed.stderr, /state kept in .*; run the same `compliant all` command again to resume/);
  assert.equal(existsSync(join(env.dir, "all.ndjson")), false);
  const partial = await readFile(join(env.dir, "all.ndjson.partial"));
  assert.ok(partial.length > 0 && partial.length < Buffer.byteLength(expected));
  assert.equal(partial.toString("utf8"), expected.slice(0, partial.length));

  const creates = routes(env.emu, "create").length;
  const n1 = env.emu.requests.length;
  const again = await env.run(allArgs("ids2.txt", "all.ndjson", "--name", "resume-me"));
  summaryOf(again);
  assert.match(again.stderr, /resuming the earlier run/);
  assert.equal(routes(env.emu, "create").length, creates, "no new job");
  assert.equal(await readFile(join(env.dir, "all.ndjson"), "utf8"), expected);
  assert.equal(existsSync(join(env.dir, "all.ndjson.partial")), false);
  const lineEnd = partial.lastIndexOf(10) + 1;
  const resumed = env.emu.requests.slice(n1).filter((q) => q.route === "download");
  assert.deepEqual(resumed.map((q) => [q.range, q.status]), [[`bytes=${lineEnd}-`, 206]]);
});
