// `compliant all` run unattended (cron): killed, re-run, locked, failed, timed out. Every test
// spawns the real binary against an in-process emulator, with its own temp folder and
// XDG_STATE_HOME. No wall-clock assertions: the emulator's request log is the evidence.

import type { ChildProcess } from "node:child_process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { expectedResultsFile } from "../../src/emulator/server.js";
import { createdJobId, ls, read, routes, setup, show, until, type Setup } from "./unattended-helpers.js";

/** Kills the child once its `n`th poll has reached the emulator (where a stall fault holds it). */
async function killOnceStalled(s: Setup, child: ChildProcess, signal: NodeJS.Signals, n = 1): Promise<void> {
  await until(() => routes(s.emu.requests, "get").length >= n);
  child.kill(signal);
}

test("killed (SIGTERM) after the upload: exit 143, state kept; the same command again creates no second job and finishes", async (t) => {
  const s = await setup(t, { pollsToComplete: 4 });
  // The first run's first poll hangs, so it cannot finish before the signal however slow the host.
  s.emu.fault({ match: { route: "get" }, action: { type: "stall", ms: 30_000 } });
  const first = await s.run(s.args(), { when: { stderr: /uploaded \d+ IDs/, then: (child) => killOnceStalled(s, child, "SIGTERM") } });
  assert.equal(first.code, 143, show(first));
  const id = createdJobId(first.stderr);
  assert.match(first.stderr, new RegExp(`job ${id} is left as it is; state kept in .*\\.state/compliant/[0-9a-f]+\\.json; run the same \`compliant all\` command again`));
  assert.match(first.stderr, /compliant: interrupted by SIGTERM/);
  const kept = await ls(s.stateDir);
  assert.equal(kept.filter((f) => f.endsWith(".json")).length, 1, `state: ${kept.join(", ")}`);
  assert.equal(kept.filter((f) => f.endsWith(".lock")).length, 0, "the lock is released on SIGTERM");
  assert.deepEqual(await ls(s.dir).then((f) => f.filter((n) => n.startsWith("results"))), [], "no results file yet");

  const second = await s.run(s.args());
  assert.equal(second.code, 0, show(second));
  assert.match(second.stderr, new RegExp(`resuming the earlier run from .*: job ${id} \\(uploaded\\)`));
  assert.equal(routes(s.emu.requests, "create").length, 1, "exactly one job was created across both runs");
  assert.equal(routes(s.emu.requests, "upload").length, 1, "the IDs were uploaded once");
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await ls(s.stateDir), [], "state is removed after success");
});

test("killed with SIGKILL after the upload: the stale lock is taken over and the run resumes the same job", async (t) => {
  const s = await setup(t, { pollsToComplete: 4 });
  s.emu.fault({ match: { route: "get" }, action: { type: "stall", ms: 30_000 } });
  const first = await s.run(s.args(), { when: { stderr: /uploaded \d+ IDs/, then: (child) => killOnceStalled(s, child, "SIGKILL") } });
  assert.equal(first.signal, "SIGKILL", show(first));
  const left = await ls(s.stateDir);
  assert.equal(left.filter((f) => /^[0-9a-f]{24}\.lock$/.test(f)).length, 1, `a SIGKILL leaves the run's lock behind: ${left.join(", ")}`);

  const second = await s.run(s.args());
  assert.equal(second.code, 0, show(second));
  assert.equal(routes(s.emu.requests, "create").length, 1);
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await ls(s.stateDir), []);
});

test("killed while the create request is in flight (the API made the job): the next run adopts it instead of refusing on 409", async (t) => {
  const s = await setup(t, { pollsToComplete: 2 });
  // The emulator creates the job, sends the headers and then holds the body back.
  s.emu.fault({ match: { route: "create" }, action: { type: "stall", ms: 30_000 } });
  const first = await s.run(s.args(), {
    when: {
      stderr: /checked .*200 IDs/,
      then: async (child) => {
        await until(() => s.emu.jobs().length === 1);
        child.kill("SIGTERM");
      },
    },
  });
  assert.equal(first.code, 143, show(first));
  const [job] = s.emu.jobs();
  assert.equal(job!.status, "created");

  const second = await s.run(s.args());
  assert.equal(second.code, 0, show(second));
  assert.match(second.stderr, new RegExp(`job ${job!.id}`));
  assert.equal(s.emu.jobs().length, 1, "no second job");
  assert.equal(s.emu.jobs()[0]!.status, "complete");
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await ls(s.stateDir), []);
});

test("killed during the download: the next run resumes it with Range and the file is byte-identical", async (t) => {
  const s = await setup(t, { pollsToComplete: 1, count: 400 });
  // First body cut after 1500 bytes; the client's own resume then stalls until it is killed.
  s.emu.fault({ match: { route: "download" }, action: { type: "cut-body", afterBytes: 1500 } });
  s.emu.fault({ match: { route: "download" }, action: { type: "stall", ms: 30_000 } });
  const first = await s.run(s.args(), {
    when: {
      stderr: /resuming the download of job \d+ at byte/,
      then: async (child) => {
        await until(() => routes(s.emu.requests, "download").length === 2);
        child.kill("SIGTERM");
      },
    },
  });
  assert.equal(first.code, 143, show(first));
  const partial = await read(`${s.results}.partial`);
  assert.ok(partial.length > 0 && partial.length < s.expected().length, `partial holds ${partial.length} bytes`);
  assert.ok(s.expected().startsWith(partial));
  const before = s.emu.requests.length;

  const second = await s.run(s.args());
  assert.equal(second.code, 0, show(second));
  const downloads = routes(s.emu.requests.slice(before), "download");
  assert.equal(downloads.length, 1, JSON.stringify(downloads));
  assert.match(downloads[0]!.range ?? "", /^bytes=\d+-$/);
  // Only whole lines on disk count: the partial line at the end is fetched again.
  assert.equal(Number(/\d+/.exec(downloads[0]!.range!)![0]), partial.lastIndexOf("\n") + 1);
  assert.equal(routes(s.emu.requests, "create").length, 1);
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await ls(s.dir).then((f) => f.filter((n) => n.endsWith(".partial"))), []);
  assert.deepEqual(await ls(s.stateDir), []);
});

test("two concurrent runs for the same key: the second refuses without touching the API; SIGINT while polling exits 130 with the job id and how to resume", async (t) => {
  const s = await setup(t, { pollsToComplete: 1_000_000 });
  let second: Awaited<ReturnType<typeof s.run>> | undefined;
  let requestsDuringSecond = -1;
  const first = await s.run(s.args(), {
    when: {
      stderr: /uploaded \d+ IDs/,
      then: async (child) => {
        const before = s.emu.requests.length;
        second = await s.run(s.args());
        requestsDuringSecond = s.emu.requests.filter((r, i) => i >= before && r.route !== "get").length;
        child.kill("SIGINT");
      },
    },
  });
  assert.ok(second, "the second run ran");
  assert.equal(second.code, 5, show(second));
  assert.match(second.stderr, /another `compliant all` for tweets job .* is already running \(pid \d+/);
  assert.equal(requestsDuringSecond, 0, "the refused run made no create/upload/download request");
  assert.equal(first.code, 130, show(first));
  const id = createdJobId(first.stderr);
  assert.match(first.stderr, new RegExp(`job ${id} is left as it is; state kept in .*; run the same \`compliant all\` command again to resume`));
  assert.match(first.stderr, /compliant: interrupted by SIGINT/);
  const left = await ls(s.stateDir);
  assert.equal(left.filter((f) => f.endsWith(".json")).length, 1);
  assert.equal(left.filter((f) => f.endsWith(".lock")).length, 0);
  assert.equal(routes(s.emu.requests, "create").length, 1);
});

test("a lock held by a live process on this host refuses; one naming a dead pid is taken over", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  s.emu.fault({ match: { route: "get" }, action: { type: "stall", ms: 30_000 } });
  // Learn the key from a run killed after it took the lock.
  const first = await s.run(s.args(), { when: { stderr: /created \w+ job/, then: (child) => killOnceStalled(s, child, "SIGTERM") } });
  assert.equal(first.code, 143, show(first));
  const [state] = (await ls(s.stateDir)).filter((f) => f.endsWith(".json"));
  assert.ok(state);
  const lock = join(s.stateDir, state.replace(/\.json$/, ".lock"));
  await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), started: "2026-01-01T00:00:00Z" }));
  const refused = await s.run(s.args());
  assert.equal(refused.code, 5, show(refused));
  assert.match(refused.stderr, new RegExp(`pid ${process.pid}`));
  await writeFile(lock, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), started: "2026-01-01T00:00:00Z" }));
  const ok = await s.run(s.args());
  assert.equal(ok.code, 0, show(ok));
  assert.equal(routes(s.emu.requests, "create").length, 1);
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await ls(s.stateDir), []);
});

test("a failed job exits 6 with state kept; the same command again starts one new job and finishes", async (t) => {
  const s = await setup(t, { pollsToComplete: 20 });
  const first = await s.run(s.args(), {
    when: { stderr: /uploaded \d+ IDs/, then: (_c, text) => s.emu.failJob(createdJobId(text), "Invalid ID file") },
  });
  assert.equal(first.code, 6, show(first));
  assert.match(first.stderr, /failed \(Invalid ID file\)/);
  assert.match(first.stderr, /state kept in .*running the same command again starts a new job/);
  assert.equal((await ls(s.stateDir)).filter((f) => f.endsWith(".json")).length, 1);
  assert.equal((await ls(s.stateDir)).filter((f) => f.endsWith(".lock")).length, 0);

  const second = await s.run(s.args());
  assert.equal(second.code, 0, show(second));
  assert.match(second.stderr, /ended failed .*starting a new job/);
  assert.equal(routes(s.emu.requests, "create").length, 2);
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await ls(s.stateDir), []);
});

test("an expired job exits 6 with state kept", async (t) => {
  const s = await setup(t, { pollsToComplete: 1_000_000 });
  const r = await s.run(s.args(), { when: { stderr: /uploaded \d+ IDs/, then: (_c, text) => s.emu.expireJob(createdJobId(text)) } });
  assert.equal(r.code, 6, show(r));
  assert.match(r.stderr, /expired/);
  assert.equal((await ls(s.stateDir)).filter((f) => f.endsWith(".json")).length, 1);
});

test("--timeout exits 7 with state kept; running again resumes the same job (no second create)", async (t) => {
  const s = await setup(t, { pollsToComplete: 1_000_000 });
  const first = await s.run(s.args("--timeout", "0.3"));
  assert.equal(first.code, 7, show(first));
  const id = createdJobId(first.stderr);
  assert.match(first.stderr, new RegExp(`job ${id} is still in_progress after the 0.3 s timeout`));
  assert.match(first.stderr, /state kept in/);
  const second = await s.run(s.args("--timeout", "0.3"));
  assert.equal(second.code, 7, show(second));
  assert.match(second.stderr, new RegExp(`resuming the earlier run .*job ${id} \\(uploaded\\)`));
  assert.equal(routes(s.emu.requests, "create").length, 1);
  assert.equal(routes(s.emu.requests, "upload").length, 1);
});

test("--state-dir holds the state instead of $XDG_STATE_HOME/compliant; success removes it", async (t) => {
  const s = await setup(t, { pollsToComplete: 1_000_000 });
  const custom = join(s.dir, "custom-state");
  const r = await s.run(s.args("--state-dir", custom, "--timeout", "0.2"));
  assert.equal(r.code, 7, show(r));
  assert.equal((await ls(custom)).filter((f) => f.endsWith(".json")).length, 1);
  assert.deepEqual(await ls(s.stateDir), []);
});

test("a split input killed after its first job: the next run keeps part 1's results and finishes part 2 only", async (t) => {
  const s = await setup(t, { pollsToComplete: 2, count: 300 });
  // Job 1 takes two polls; the third poll, job 2's first, hangs until the run is killed.
  s.emu.fault({ match: { route: "get" }, every: 3, times: 1, action: { type: "stall", ms: 30_000 } });
  const args = s.args("--max-ids-per-job", "150");
  let uploads = 0;
  const first = await s.run(args, {
    when: {
      stderr: /uploaded 150 IDs[^]*uploaded 150 IDs/,
      then: async (child) => {
        uploads = routes(s.emu.requests, "upload").length;
        await killOnceStalled(s, child, "SIGTERM", 3);
      },
    },
  });
  assert.equal(first.code, 143, show(first));
  assert.equal(uploads, 2);
  assert.match(first.stderr, /\(part 1 of 2\)/);
  const before = s.emu.requests.length;

  const second = await s.run(args);
  assert.equal(second.code, 0, show(second));
  const later = s.emu.requests.slice(before);
  assert.equal(routes(later, "create").length, 0, "part 2's job was already made");
  assert.equal(routes(later, "upload").length, 0);
  assert.equal(routes(later, "download").length, 1, "part 1's results were not fetched again");
  assert.equal(routes(s.emu.requests, "create").length, 2);
  const expected = expectedResultsFile(s.ids.slice(0, 150), "tweets", "storage") + expectedResultsFile(s.ids.slice(150), "tweets", "storage");
  assert.equal(await read(s.results), expected);
  assert.match(second.stderr, /IDs checked +300\n/);
  assert.deepEqual(await ls(s.stateDir), []);
});
