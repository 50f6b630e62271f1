// Which job a `compliant all` run owns, and the state and locks that say so: a run adopts only a
// job its own create request can have made, resumes its job whatever -o it is given, never shares
// a results file with another run, and refuses saved state it cannot trust. Real processes against
// the in-process emulator; the emulator's request log and job table are the evidence.

import type { ChildProcess } from "node:child_process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, chown, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { xmlError } from "../../src/emulator/server.js";
import { sampleIds } from "../emulator/helpers.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { hostileJobs, skewedApi } from "../helpers/hostile-jobs.js";
import { createJob } from "../emulator/helpers.js";
import { createdJobId, ls, read, routes, setup, show, until, type Setup } from "./unattended-helpers.js";

/** The one state record in the state folder. */
async function stateFile(s: Setup): Promise<string> {
  const files = (await ls(s.stateDir)).filter((f) => /^[0-9a-f]{24}\.json$/.test(f));
  assert.equal(files.length, 1, `state files: ${files.join(", ")}`);
  return join(s.stateDir, files[0]!);
}

/** Kills the child with SIGKILL once its first poll has reached the emulator (where a stall holds it). */
async function killWhilePolling(s: Setup, child: ChildProcess): Promise<void> {
  await until(() => routes(s.emu.requests, "get").length >= 1, 60_000);
  child.kill("SIGKILL");
}

test("a run whose create meets another run's fresh job with the same --name refuses (exit 4) and never uploads into it", async (t) => {
  const s = await setup(t, { pollsToComplete: 2 });
  // Run A's create is answered slowly: its job exists, still `created`, while run B starts.
  s.emu.fault({ match: { route: "create" }, action: { type: "stall", ms: 4_000 } });
  const a = s.run(s.args("--name", "nightly"));
  await until(() => s.emu.jobs().length === 1, 60_000);
  const [theirs] = s.emu.jobs();
  assert.equal(theirs!.status, "created");

  const otherIds = sampleIds(150, 1260404233650352000n);
  const otherFile = join(s.dir, "other-ids.txt");
  await writeFile(otherFile, otherIds.join("\n") + "\n");
  const b = await s.run(["all", "--type", "tweets", "--ids-file", otherFile, "--results-file", join(s.dir, "b.ndjson"), "--interval", "0.05", "--name", "nightly"]);
  assert.equal(b.code, 4, show(b));
  assert.match(b.stderr, new RegExp(`a tweets job is already active: job ${theirs!.id} \\("nightly"\\), (created|in_progress) since .*, which has this run's name but was not created by it`));
  assert.doesNotMatch(b.stderr, /using it/);
  // (A may already have uploaded by now on a slow host: the one upload at the end, holding A's
  // IDs, is the proof that B never uploaded.)

  const first = await a;
  assert.equal(first.code, 0, show(first));
  assert.equal(s.emu.jobs().length, 1);
  assert.equal(s.emu.jobs()[0]!.uploadedIds, s.ids.length, "the job holds A's IDs only");
  assert.equal(routes(s.emu.requests, "upload").length, 1, "one upload in all: A's, none from B");
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await ls(join(s.dir)).then((f) => f.filter((n) => n.startsWith("b.ndjson"))), [], "B wrote no results");
});

test("killed while its create was in flight, the next run adopts the job because the state recorded the attempt first", async (t) => {
  const s = await setup(t, { pollsToComplete: 2 });
  s.emu.fault({ match: { route: "create" }, action: { type: "stall", ms: 30_000 } });
  let recorded: { parts: Array<{ createAttempt?: string; jobId?: string }> } | undefined;
  const first = await s.run(s.args(), {
    when: {
      stderr: /checked .*200 IDs/,
      then: async (child) => {
        await until(() => s.emu.jobs().length === 1, 60_000);
        recorded = JSON.parse(await readFile(await stateFile(s), "utf8"));
        child.kill("SIGKILL");
      },
    },
  });
  assert.equal(first.signal, "SIGKILL", show(first));
  assert.ok(recorded?.parts[0]?.createAttempt, `the attempt was saved before the request left: ${JSON.stringify(recorded)}`);
  assert.equal(recorded!.parts[0]!.jobId, undefined);
  const [job] = s.emu.jobs();

  const second = await s.run(s.args());
  assert.equal(second.code, 0, show(second));
  assert.match(second.stderr, new RegExp(`job ${job!.id} with our name was created by this run's earlier create request \\(sent at .*\\), whose answer never arrived; using it`));
  assert.equal(s.emu.jobs().length, 1, "no second job");
  assert.equal(routes(s.emu.requests, "create").length, 1);
  assert.equal(await read(s.results), s.expected());
});

test("an unanswered create is matched by the API's clock: our job is found when the API's clock is 90 s behind ours", async (t) => {
  const behind = -90_000;
  const s = await setup(t, { pollsToComplete: 2, clock: { now: () => Date.now() + behind } });
  const api = await skewedApi(t, s.emu.apiUrl, () => Date.now() + behind);
  // The API makes the job, then the answer is cut.
  s.emu.fault({ match: { route: "create" }, action: { type: "cut-body", afterBytes: 20 } });
  const r = await s.run(s.args(), { env: { X_API_BASE_URL: api } });
  assert.equal(r.code, 0, show(r));
  const [job] = s.emu.jobs();
  assert.match(r.stderr, new RegExp(`creating the job failed ambiguously, but job ${job!.id} with our name was created just now; using it`));
  assert.equal(s.emu.jobs().length, 1);
  assert.equal(await read(s.results), s.expected());
});

test("an unanswered create never takes an older job for ours when the API's clock runs 90 s ahead", async (t) => {
  let ahead = 80_000;
  const s = await setup(t, { pollsToComplete: 2, clock: { now: () => Date.now() + ahead } });
  const api = await skewedApi(t, s.emu.apiUrl, () => Date.now() + ahead);
  // Someone's job with the same name, made 10 s (API time) before our run begins.
  const theirs = await createJob(s.emu, { type: "tweets", name: "nightly" });
  ahead = 90_000;
  // Our create never reaches the API: the connection is reset before any answer.
  s.emu.fault({ match: { route: "create" }, action: { type: "reset" } });
  const r = await s.run(s.args("--name", "nightly"), { env: { X_API_BASE_URL: api } });
  assert.equal(r.code, 5, show(r));
  assert.doesNotMatch(r.stderr, /using it/);
  assert.equal(routes(s.emu.requests, "upload").length, 0, "nothing was uploaded into their job");
  assert.deepEqual(s.emu.jobs().map((j) => [j.id, j.status, j.uploadedBytes]), [[theirs.id, "created", 0]]);
});

test("a job that another run's saved state records is never adopted, even with our name and made after our attempt", async (t) => {
  const s = await setup(t, { pollsToComplete: 2 });
  s.emu.fault({ match: { route: "create" }, action: { type: "stall", ms: 30_000 } });
  const first = await s.run(s.args("--name", "nightly"), {
    when: {
      stderr: /checked .*200 IDs/,
      then: async (child) => {
        await until(() => s.emu.jobs().length === 1, 60_000);
        child.kill("SIGKILL");
      },
    },
  });
  assert.equal(first.signal, "SIGKILL", show(first));
  const [job] = s.emu.jobs();
  // Another run in the same state folder recorded that job as its own.
  const mine = JSON.parse(await readFile(await stateFile(s), "utf8")) as Record<string, unknown>;
  await writeFile(join(s.stateDir, `${"e".repeat(24)}.json`), JSON.stringify({ ...mine, key: "e".repeat(24), parts: [{ index: 0, ids: 5, stage: "created", jobId: job!.id }] }));

  const second = await s.run(s.args("--name", "nightly"));
  assert.equal(second.code, 4, show(second));
  assert.match(second.stderr, new RegExp(`a tweets job is already active: job ${job!.id} \\("nightly"\\)`));
  assert.doesNotMatch(second.stderr, /using it/);
  assert.equal(routes(s.emu.requests, "upload").length, 0);
});

test("an unanswered create recorded long ago never adopts a job made much later with our name", async (t) => {
  const s = await setup(t, { pollsToComplete: 2 });
  s.emu.fault({ match: { route: "create" }, action: { type: "stall", ms: 30_000 } });
  const first = await s.run(s.args("--name", "nightly"), {
    when: {
      stderr: /checked .*200 IDs/,
      then: async (child) => {
        await until(() => s.emu.jobs().length === 1, 60_000);
        child.kill("SIGKILL");
      },
    },
  });
  assert.equal(first.signal, "SIGKILL", show(first));
  // Two hours go by: that attempt's job expired unused, and the state still records the attempt.
  s.emu.expireJob(s.emu.jobs()[0]!.id);
  const file = await stateFile(s);
  const state = JSON.parse(await readFile(file, "utf8")) as { parts: Array<{ createAttempt?: string }> };
  state.parts[0]!.createAttempt = new Date(Date.now() - 2 * 3_600_000).toISOString();
  await writeFile(file, JSON.stringify(state));
  // Now someone else's run with the same name makes a job.
  const theirs = await createJob(s.emu, { type: "tweets", name: "nightly" });

  const second = await s.run(s.args("--name", "nightly"));
  assert.equal(second.code, 4, show(second));
  assert.match(second.stderr, new RegExp(`a tweets job is already active: job ${theirs.id} \\("nightly"\\)`));
  assert.doesNotMatch(second.stderr, /using it/);
  assert.equal(routes(s.emu.requests, "upload").length, 0);
});

test("a resumed run whose recorded upload never reached the API uploads again instead of polling for ever", async (t) => {
  const s = await setup(t, { pollsToComplete: 2 });
  // Storage says 200 but keeps nothing: the run records the upload, the job stays `created`.
  s.emu.fault({ match: { route: "upload" }, action: { type: "status", status: 200, body: "" } });
  const first = await s.run(s.args("--timeout", "1"));
  assert.equal(first.code, 7, show(first));
  const id = createdJobId(first.stderr);
  assert.equal(s.emu.jobs()[0]!.status, "created");

  const second = await s.run(s.args("--timeout", "20"));
  assert.equal(second.code, 0, show(second));
  assert.match(second.stderr, new RegExp(`job ${id} is still waiting for its IDs although .*\\.json records their upload; uploading them again`));
  assert.equal(routes(s.emu.requests, "create").length, 1);
  assert.equal(routes(s.emu.requests, "upload").length, 2);
  assert.equal(await read(s.results), s.expected());
});

test("a re-run with another --results-file resumes the saved job, says so, writes there and uploads once", async (t) => {
  for (const extra of [[], ["--wait-for-active"]]) {
    const s = await setup(t, { pollsToComplete: 3 });
    s.emu.fault({ match: { route: "get" }, action: { type: "stall", ms: 30_000 } });
    const first = await s.run(s.args(), { when: { stderr: /uploaded \d+ IDs/, then: (child) => killWhilePolling(s, child) } });
    assert.equal(first.signal, "SIGKILL", show(first));
    const id = createdJobId(first.stderr);

    const elsewhere = join(s.dir, "elsewhere.ndjson");
    const args = s.args(...extra);
    args[args.indexOf("--results-file") + 1] = elsewhere;
    const second = await s.run(args);
    assert.equal(second.code, 0, show(second));
    assert.match(second.stderr, /the earlier run of these IDs wrote to results\.ndjson; this run resumes its job and writes to elsewhere\.ndjson instead/);
    assert.match(second.stderr, new RegExp(`resuming the earlier run from .*: job ${id} \\(uploaded\\)`));
    assert.equal(routes(s.emu.requests, "create").length, 1, `${extra.join(" ")}: one job`);
    assert.equal(routes(s.emu.requests, "upload").length, 1, `${extra.join(" ")}: the IDs were uploaded once`);
    assert.equal(await read(elsewhere), s.expected());
    assert.deepEqual((await ls(s.dir)).filter((f) => f.startsWith("results")), [], "nothing at the first path");
    assert.deepEqual(await ls(s.stateDir), []);
  }
});

test("two runs given one results file: the second refuses (exit 5) while the first writes it, and creates nothing", async (t) => {
  const s = await setup(t, { pollsToComplete: 2 });
  let stopped: ChildProcess | undefined;
  const tweets = s.run(s.args("--force"), {
    when: {
      stderr: /uploaded \d+ IDs/,
      then: (child) => {
        child.kill("SIGSTOP");
        stopped = child;
      },
    },
  });
  await until(() => stopped !== undefined, 60_000);
  const users = await s.run(["all", "--type", "users", "--ids-file", s.idsFile, "--results-file", join(s.dir, ".", "results.ndjson"), "--force", "--interval", "0.05"]);
  stopped!.kill("SIGCONT");
  assert.equal(users.code, 5, show(users));
  assert.match(users.stderr, /another compliant run is writing the results file results\.ndjson \(pid \d+: compliant all --type tweets on .*ids\.txt, since .*\); let it finish, or choose another --results-file\./);
  assert.equal(s.emu.jobs().filter((j) => j.type === "users").length, 0, "the second run created nothing");

  const first = await tweets;
  assert.equal(first.code, 0, show(first));
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await ls(s.stateDir), [], "both locks are gone");
});

test("an expired download URL names the state file and says that --no-resume starts a new job", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  s.emu.fault({
    match: { route: "download" },
    times: Infinity,
    action: { type: "status", status: 400, body: xmlError("ExpiredToken", "Invalid argument.", { Details: "The provided token has expired." }) },
  });
  for (let run = 0; run < 2; run++) {
    const r = await s.run(s.args());
    assert.equal(r.code, 4, show(r));
    assert.match(r.stderr, /signed URL expired/);
    assert.match(r.stderr, /state kept in .*\.state\/compliant\/[0-9a-f]{24}\.json; run the command again with --no-resume to start a new job for these IDs/);
  }
  assert.equal(routes(s.emu.requests, "create").length, 1);
  s.emu.clearFaults();
  const fresh = await s.run(s.args("--no-resume"));
  assert.equal(fresh.code, 0, show(fresh));
  assert.equal(routes(s.emu.requests, "create").length, 2);
  assert.equal(await read(s.results), s.expected());
});

test("damaged or tampered saved state is refused with exit 2 naming the file and --no-resume, never ignored or crashed on", async (t) => {
  const s = await setup(t, { pollsToComplete: 2 });
  s.emu.fault({ match: { route: "get" }, action: { type: "stall", ms: 30_000 } });
  const first = await s.run(s.args(), { when: { stderr: /uploaded \d+ IDs/, then: (child) => killWhilePolling(s, child) } });
  assert.equal(first.signal, "SIGKILL", show(first));
  const id = createdJobId(first.stderr);
  s.emu.failJob(id, "ended for this test");
  const file = await stateFile(s);
  const good = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  const damaged: Array<[string, string]> = [
    ["{ not json", "it is not valid JSON"],
    [JSON.stringify({ ...good, parts: null }), "parts: "],
    [JSON.stringify({ ...good, parts: [{ index: 0, ids: 200, stage: "uploaded", jobId: "../../etc" }] }), "parts.0.jobId"],
    [JSON.stringify({ ...good, version: 2 }), "version"],
    [JSON.stringify({ ...good, idsSha256: "0".repeat(64) }), "another type, name or ID file"],
    ["", "it is not valid JSON"],
  ];
  for (const [text, why] of damaged) {
    await writeFile(file, text);
    const before = s.emu.requests.length;
    const r = await s.run(s.args());
    assert.equal(r.code, 2, `${text}\n${show(r)}`);
    assert.ok(r.stderr.includes(`the saved state ${file} is damaged or not this run's (`), show(r));
    assert.ok(r.stderr.includes(why), `${why}\n${show(r)}`);
    assert.match(r.stderr, /remove that file, or pass --no-resume to start a new job for these IDs/);
    assert.equal(routes(s.emu.requests.slice(before), "create").length, 0, "nothing was created");
    assert.equal(await readFile(file, "utf8"), text, "the file is left for the user to look at");
  }
  const fresh = await s.run(s.args("--no-resume"));
  assert.equal(fresh.code, 0, show(fresh));
  assert.equal(await read(s.results), s.expected());
});

test("a state folder that others can write to, or that another user owns, is refused (exit 2) before any request", async (t) => {
  const s = await setup(t);
  const shared = join(s.dir, "shared-state");
  const args = (dir: string) => [...s.args(), "--state-dir", dir];
  await mkdir(shared);
  for (const mode of [0o777, 0o770, 0o722]) {
    await chmod(shared, mode);
    const r = await s.run(args(shared));
    assert.equal(r.code, 2, show(r));
    assert.ok(r.stderr.includes(`the state folder ${shared} can be written by`), show(r));
    assert.match(r.stderr, /so its saved jobs and locks cannot be trusted; run `chmod 700 /);
  }
  assert.equal(s.emu.requests.length, 0, "the API was not asked anything");
  assert.deepEqual(await ls(shared), [], "nothing was written into it");

  // Another user's folder: as root, one chowned to nobody; otherwise the root folder itself.
  let foreign = "/";
  if (process.getuid?.() === 0) {
    foreign = join(s.dir, "nobody-state");
    await mkdir(foreign, { mode: 0o700 });
    await chown(foreign, 65534, 65534);
  }
  const r = await s.run(args(foreign));
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /belongs to another user \(uid \d+\), so its saved jobs and locks cannot be trusted; pass --state-dir with a folder of your own/);
  assert.equal(s.emu.requests.length, 0);
});

test("a job whose download URL has expired is not downloaded: exit 4 naming the state file and --no-resume", async (t) => {
  const dir = await tempDir(t, "compliant-e2e-");
  const api = await hostileJobs(t, (now) => ({
    id: "1600000000000000001",
    type: "tweets",
    name: "nightly",
    status: "complete",
    created_at: new Date(now - 8 * 86_400_000).toISOString(),
    upload_url: "http://127.0.0.1:9/upload",
    upload_expires_at: new Date(now - 8 * 86_400_000 + 900_000).toISOString(),
    download_url: "http://127.0.0.1:9/download",
    download_expires_at: new Date(now - 86_400_000).toISOString(),
  }));
  await writeFile(join(dir, "ids.txt"), "1160404233650352001\n");
  const r = await runCli(["all", "--type", "tweets", "--name", "nightly", "-i", "ids.txt", "-o", "out.ndjson", "--interval", "0.05"], {
    cwd: dir,
    env: { X_API_BASE_URL: api.apiUrl, X_BEARER_TOKEN: "hostile-test-token" },
  });
  assert.equal(r.code, 4, show(r));
  assert.match(r.stderr, /the results of job 1600000000000000001 can no longer be downloaded: its download URL expired at .*; the state of this run is kept in .*\.state\/compliant\/[0-9a-f]{24}\.json, and running the command again with --no-resume starts a new job for these IDs\./);
  assert.deepEqual(api.requests.filter((q) => q.includes("download")), [], "no download was tried");
  assert.deepEqual((await ls(dir)).filter((f) => f.startsWith("out")), []);
});
