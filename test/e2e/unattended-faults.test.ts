// `compliant all` against an emulator with faults switched on: 5xx, 429, cut bodies, ambiguous
// creates, conflicts, usage caps, expired upload URLs, rate-limit headers; and what an unattended
// run prints (cron logs, --quiet, --json). No wall-clock assertions: the request log is the evidence.

import { test } from "node:test";
import assert from "node:assert/strict";
import type { Emulator } from "../../src/emulator/server.js";
import { createJob, putIds } from "../emulator/helpers.js";
import { ls, read, routes, setup, show } from "./unattended-helpers.js";

const MINUTE = 60_000;

test("5xx on every third request, a 429 with a reset and a download cut mid-body: the exact results file", async (t) => {
  const s = await setup(t, { pollsToComplete: 3 });
  // Request 1 is the create (never retried); from there every third request of any kind fails.
  s.emu.fault({ match: {}, every: 3, action: { type: "status", status: 503 } });
  s.emu.fault({ match: { route: "get" }, action: { type: "rate-limit", resetInSeconds: 1 } });
  s.emu.fault({ match: { route: "download" }, action: { type: "cut-body", afterBytes: 900 } });
  const r = await s.run(s.args());
  assert.equal(r.code, 0, show(r));
  const reqs = s.emu.requests;
  assert.ok(reqs.filter((q) => q.status === 503).length >= 2, "some requests met a 503");
  assert.equal(reqs.filter((q) => q.status === 429).length, 1, "the 429 was met once");
  assert.ok(reqs.some((q) => q.route === "download" && q.range !== undefined), "the cut download resumed with Range");
  assert.equal(routes(reqs, "create").length, 1);
  assert.match(r.stderr, /rate-limited while trying to get job \d+; waiting \d+ s until/);
  assert.match(r.stderr, /the connection was cut; resuming the download of job \d+ at byte/);
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await ls(s.stateDir), []);
});

test("polling never runs into the rate limit: the interval stretches to what the headers allow", async (t) => {
  // 4 reads a second for GET /2/compliance/jobs/:id, but the job needs 5 polls at --interval 0.05.
  const s = await setup(t, { pollsToComplete: 5, rateLimit: { limit: 4, windowSeconds: 1 } });
  const r = await s.run(s.args("--verbose"));
  assert.equal(r.code, 0, show(r));
  const gets = routes(s.emu.requests, "get");
  assert.ok(gets.length >= 5, `${gets.length} polls`);
  assert.deepEqual(
    gets.filter((g) => g.status !== 200).map((g) => g.status),
    [],
    "no poll was refused",
  );
  assert.match(r.stderr, /polling every \d+ s to stay within the rate limit/);
  assert.equal(await read(s.results), s.expected());
});

test("a create whose connection is reset (the emulator made no job) is not repeated: it lists, finds nothing ours, exits 5", async (t) => {
  const s = await setup(t);
  s.emu.fault({ match: { route: "create" }, action: { type: "reset" } });
  const r = await s.run(s.args());
  assert.equal(r.code, 5, show(r));
  assert.equal(routes(s.emu.requests, "create").length, 1, "the POST was sent once");
  assert.ok(routes(s.emu.requests, "list").length >= 1, "it looked for a job of ours before giving up");
  assert.equal(s.emu.jobs().length, 0);
  assert.match(r.stderr, /state kept in .*run the same `compliant all` command again/);
  // Nothing was created, so running again simply creates the job.
  const again = await s.run(s.args());
  assert.equal(again.code, 0, show(again));
  assert.equal(s.emu.jobs().length, 1);
  assert.equal(await read(s.results), s.expected());
});

test("a create answered 503 is not repeated either (exit 5)", async (t) => {
  const s = await setup(t);
  s.emu.fault({ match: { route: "create" }, action: { type: "status", status: 503 } });
  const r = await s.run(s.args());
  assert.equal(r.code, 5, show(r));
  assert.equal(routes(s.emu.requests, "create").length, 1);
  assert.equal(s.emu.jobs().length, 0);
});

test("a create whose answer is cut after the API made the job: ours is found by listing and adopted", async (t) => {
  const s = await setup(t, { pollsToComplete: 2 });
  s.emu.fault({ match: { route: "create" }, action: { type: "cut-body", afterBytes: 20 } });
  const r = await s.run(s.args());
  assert.equal(r.code, 0, show(r));
  assert.equal(routes(s.emu.requests, "create").length, 1, "the POST was not repeated");
  assert.equal(s.emu.jobs().length, 1);
  const [job] = s.emu.jobs();
  assert.match(r.stderr, new RegExp(`creating the job failed ambiguously, but job ${job!.id} with our name was created just now; using it`));
  assert.equal(job!.status, "complete");
  assert.equal(await read(s.results), s.expected());
});

test("409: the active job is named and the run refuses (exit 4); --wait-for-active waits for it, then proceeds, never cancelling it", async (t) => {
  const s = await setup(t, { pollsToComplete: 2 });
  const theirs = await createJob(s.emu, { type: "tweets", name: "someone-else" });
  const refused = await s.run(s.args());
  assert.equal(refused.code, 4, show(refused));
  assert.match(refused.stderr, new RegExp(`a tweets job is already active: job ${theirs.id} \\("someone-else"\\), created since`));
  assert.match(refused.stderr, /--wait-for-active/);
  assert.equal((await ls(s.stateDir)).filter((f) => f.endsWith(".lock")).length, 0);

  const waited = await s.run(s.args("--wait-for-active"), {
    when: {
      stderr: /is active; waiting for it to end/,
      // Their run goes on: they upload, the job completes.
      then: async () => void (await putIds(theirs.upload_url, "1160404233650352001\n")),
    },
  });
  assert.equal(waited.code, 0, show(waited));
  assert.equal(routes(s.emu.requests, "cancel").length, 0, "never cancels someone else's job");
  const jobs = s.emu.jobs();
  assert.equal(jobs.find((j) => j.id === theirs.id)!.status, "complete");
  assert.equal(jobs.length, 2);
  assert.equal(await read(s.results), s.expected());
});

test("a usage cap is not retried: exit 4", async (t) => {
  const s = await setup(t);
  s.emu.fault({ match: { route: "create" }, action: { type: "usage-cap" } });
  const r = await s.run(s.args());
  assert.equal(r.code, 4, show(r));
  assert.equal(routes(s.emu.requests, "create").length, 1);
  assert.match(r.stderr, /usage|cap/i);
});

/** An emulator clock that is `shift(emu)` ms away from real time. */
function shiftedClock(shift: (emu: Emulator) => number): { clock: { now(): number }; bind(emu: Emulator): void } {
  let emu: Emulator | undefined;
  return { clock: { now: () => Date.now() + (emu ? shift(emu) : 0) }, bind: (e) => void (emu = e) };
}

test("an upload URL already expired when the job is read (16 min went by): exactly one replacement job", async (t) => {
  // The first job is made "20 minutes ago"; from the second create on, the clock is real.
  const c = shiftedClock((emu) => (routes(emu.requests, "create").length <= 1 ? -20 * MINUTE : 0));
  const s = await setup(t, { pollsToComplete: 2, clock: c.clock });
  c.bind(s.emu);
  const r = await s.run(s.args());
  assert.equal(r.code, 0, show(r));
  assert.equal(routes(s.emu.requests, "create").length, 2, "one replacement");
  assert.equal(routes(s.emu.requests, "upload").length, 1, "the expired URL was not even tried");
  assert.match(r.stderr, /the upload URL of job \d+ expired before the upload; replacing it with a new job/);
  assert.equal(await read(s.results), s.expected());
});

test("storage refuses the upload with ExpiredToken: exactly one replacement job", async (t) => {
  // The clock jumps 16 minutes when the first upload arrives (and stays there).
  const c = shiftedClock((emu) => (routes(emu.requests, "upload").length >= 1 ? 16 * MINUTE : 0));
  const s = await setup(t, { pollsToComplete: 2, clock: c.clock });
  c.bind(s.emu);
  const r = await s.run(s.args());
  assert.equal(r.code, 0, show(r));
  const uploads = routes(s.emu.requests, "upload");
  assert.deepEqual(uploads.map((u) => u.status), [400, 200]);
  assert.equal(routes(s.emu.requests, "create").length, 2, "one replacement");
  assert.equal(await read(s.results), s.expected());
});

test("an upload URL that keeps expiring is replaced once only, then the run stops (exit 4)", async (t) => {
  const c = shiftedClock(() => -20 * MINUTE);
  const s = await setup(t, { clock: c.clock });
  c.bind(s.emu);
  const r = await s.run(s.args());
  assert.equal(r.code, 4, show(r));
  assert.equal(routes(s.emu.requests, "create").length, 2);
});

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S/;

test("off a TTY: plain timestamped lines, no ANSI escapes, no spinner; --quiet prints nothing; --json one summary object", async (t) => {
  const s = await setup(t, { pollsToComplete: 3 });
  const plain = await s.run(s.args(), { env: { FORCE_COLOR: "3", TERM: "xterm-256color" } });
  assert.equal(plain.code, 0, show(plain));
  assert.equal(plain.stdout, "");
  assert.doesNotMatch(plain.stderr, /\x1b/, "no escape sequences");
  assert.doesNotMatch(plain.stderr, /[\u2800-\u28ff\r]/, "no spinner frames or carriage returns");
  const [log, summary] = plain.stderr.split(/^(?=summary \(job)/m);
  const lines = log!.split("\n").filter(Boolean);
  assert.ok(lines.length >= 5, log);
  for (const line of lines) assert.match(line, STAMP);
  assert.match(summary ?? "", /^summary \(job \d+, results in /);
  assert.match(summary ?? "", /IDs checked +200\n/);

  await read(s.results);
  const quiet = await s.run(s.args("--quiet", "--force"));
  assert.equal(quiet.code, 0, show(quiet));
  assert.equal(quiet.stdout, "");
  assert.equal(quiet.stderr, "");

  const json = await s.run(s.args("--json", "--force"));
  assert.equal(json.code, 0, show(json));
  assert.equal(json.stdout.trim().split("\n")[0], "{");
  const summaryObject = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.equal(typeof summaryObject, "object");
  assert.ok(!Array.isArray(summaryObject));
  assert.equal(summaryObject.ids_checked, 200);
  assert.doesNotMatch(json.stderr, /\x1b|[\u2800-\u28ff]/);
  for (const line of json.stderr.split("\n").filter(Boolean)) assert.match(line, STAMP);
  assert.equal(await read(s.results), s.expected());
  assert.equal(routes(s.emu.requests, "create").length, 3);
  assert.deepEqual(await ls(s.stateDir), []);
});

test("API-origin flow: a 503 on the upload and a cut download still give the exact results file", async (t) => {
  const s = await setup(t, { flow: "api", pollsToComplete: 2 });
  s.emu.fault({ match: { route: "upload" }, action: { type: "status", status: 503 } });
  s.emu.fault({ match: { route: "download" }, action: { type: "cut-body", afterBytes: 700 } });
  const r = await s.run(s.args());
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(routes(s.emu.requests, "upload").map((u) => u.status), [503, 200]);
  assert.equal(routes(s.emu.requests, "create").length, 1);
  assert.equal(await read(s.results), s.expected());
});
