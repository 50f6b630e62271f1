// Results you can trust, part 1: what a `.partial` beside the results may be used for. A partial
// file is continued only when the saved state says this job wrote it and its length and SHA-256
// still match; split inputs verify every part before the next is appended; a `.partial` that is
// already the whole object (a 416 whose Content-Range says so) is complete. Real processes, real
// files, the emulator on an ephemeral port (and a hostile front for odd deliveries).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expectedResultsFile } from "../../src/emulator/server.js";
import { emuEnv, runCli } from "../helpers/cli.js";
import { hostileFront } from "../helpers/hostile-download.js";
import { sampleIds } from "../emulator/helpers.js";
import { ls, read, routes, setup, show, until } from "./unattended-helpers.js";

const partials = async (dir: string) => (await ls(dir)).filter((f) => f.endsWith(".partial"));

test("a stale .partial from another job is never spliced into new results, also with --no-resume", async (t) => {
  for (const extra of [["--no-resume"], []]) {
    const s = await setup(t, { pollsToComplete: 1, count: 300 });
    // The first 700 bytes of some other run's results, as if left by an old interrupted download.
    const old = expectedResultsFile(sampleIds(400).slice(200), "tweets", "storage");
    await writeFile(`${s.results}.partial`, old.slice(0, 700));
    const r = await s.run(s.args(...extra));
    assert.equal(r.code, 0, show(r));
    assert.equal(await read(s.results), s.expected());
    const downloads = routes(s.emu.requests, "download");
    assert.deepEqual(downloads.map((d) => d.range), [undefined], "downloaded from byte 0, never with Range");
    assert.match(r.stderr, /removed .*results\.ndjson\.partial left by an earlier run; downloading afresh/);
    assert.deepEqual(await partials(s.dir), []);
  }
});

test("compliant download never continues a .partial it finds: it has no record of writing it", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  const r = await s.run(s.args());
  assert.equal(r.code, 0, show(r));
  const id = s.emu.jobs()[0]!.id;
  const out = join(s.dir, "again.ndjson");
  await writeFile(`${out}.partial`, s.expected().slice(0, 300) + "garbage that is not in any results\n");
  const d = await runCli(["download", id, out], { cwd: s.dir, env: emuEnv(s.emu) });
  assert.equal(d.code, 0, show(d));
  assert.equal(await read(out), s.expected());
  assert.deepEqual(routes(s.emu.requests, "download").map((q) => q.range), [undefined, undefined]);
  assert.deepEqual(await partials(s.dir), []);
});

test("a .partial changed after the run that wrote it was killed is downloaded afresh, not continued", async (t) => {
  const s = await setup(t, { pollsToComplete: 1, count: 400 });
  s.emu.fault({ match: { route: "download" }, action: { type: "cut-body", afterBytes: 1500 } });
  s.emu.fault({ match: { route: "download" }, action: { type: "stall", ms: 30_000 } });
  const first = await s.run(s.args(), {
    when: {
      stderr: /resuming the download of job \d+ at byte/,
      then: async (child) => {
        await until(() => routes(s.emu.requests, "download").length === 2);
        child.kill("SIGKILL");
      },
    },
  });
  assert.equal(first.signal, "SIGKILL", show(first));
  // Same length, one byte different: only the recorded hash can tell.
  const partial = Buffer.from(await readFile(`${s.results}.partial`));
  assert.ok(partial.length > 100);
  partial[20] = partial[20] === 0x31 ? 0x32 : 0x31;
  await writeFile(`${s.results}.partial`, partial);
  const before = s.emu.requests.length;
  const second = await s.run(s.args());
  assert.equal(second.code, 0, show(second));
  assert.deepEqual(routes(s.emu.requests.slice(before), "download").map((q) => q.range), [undefined]);
  assert.match(second.stderr, /does not hold what the earlier run wrote there; downloading job \d+ again/);
  assert.equal(await read(s.results), s.expected());
  assert.equal(routes(s.emu.requests, "create").length, 1);
});

test("a fully downloaded .partial that was never renamed is complete: the 416 for its length finishes the run", async (t) => {
  const s = await setup(t, { pollsToComplete: 1 });
  // The body waits a moment, long enough for the results file to appear meanwhile.
  s.emu.fault({ match: { route: "download" }, action: { type: "stall", ms: 1500 } });
  const first = await s.run(s.args(), {
    when: { stderr: /job \d+ is complete/, then: () => writeFile(s.results, "someone else's file\n") },
  });
  assert.equal(first.code, 2, show(first));
  assert.match(first.stderr, /appeared while downloading; pass --force to overwrite it\. The download is kept in .*results\.ndjson\.partial/);
  assert.equal(await read(`${s.results}.partial`), s.expected());
  await unlink(s.results);
  const before = s.emu.requests.length;
  const second = await s.run(s.args());
  assert.equal(second.code, 0, show(second));
  const downloads = routes(s.emu.requests.slice(before), "download");
  assert.deepEqual(downloads.map((d) => [d.range, d.status]), [[`bytes=${Buffer.byteLength(s.expected())}-`, 416]]);
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await partials(s.dir), []);
  assert.deepEqual(await ls(s.stateDir), []);
});

const splitExpected = (ids: string[], per: number) => {
  let out = "";
  for (let i = 0; i < ids.length; i += per) out += expectedResultsFile(ids.slice(i, i + per), "tweets", "storage");
  return out;
};

test("split input: a delivery without a final newline is not glued onto the next part's first line", async (t) => {
  const s = await setup(t, { pollsToComplete: 1, count: 300 });
  const front = await hostileFront(t, s.emu, { body: (b) => (b.at(-1) === 10 ? b.subarray(0, b.length - 1) : b) });
  const r = await s.run(s.args("--max-ids-per-job", "100"), { env: { X_API_BASE_URL: front.apiUrl } });
  assert.equal(r.code, 0, show(r));
  const parts = [0, 100, 200].map((i) => expectedResultsFile(s.ids.slice(i, i + 100), "tweets", "storage").replace(/\n$/, ""));
  // Each part is ended with the newline it lacked, the last one too, so the file ends in one.
  assert.equal(await read(s.results), parts.join("\n") + "\n");
  assert.equal(front.downloads.length, 3);
  // Every line is a whole event: the counts match a file that ends each part properly.
  const events = parts.join("\n").split("\n").filter((l) => l.trim()).length;
  assert.match(r.stderr, new RegExp(`IDs needing action +${events}\\n`));
});

/** Runs a 3-part split and kills it (SIGKILL) once part 3's job exists, so parts 1 and 2 are on disk. */
async function killedAfterTwoParts(s: Awaited<ReturnType<typeof setup>>, args: string[]) {
  const first = await s.run(args, {
    when: { stderr: /created \w+ job \d+ \(part 3 of 3\)/, then: (child) => void child.kill("SIGKILL") },
  });
  assert.equal(first.signal, "SIGKILL", show(first));
  return s.emu.requests.length;
}

test("a resumed split run whose .partial was truncated downloads the damaged parts again: no hole of NUL bytes", async (t) => {
  const s = await setup(t, { pollsToComplete: 1, count: 300 });
  s.emu.fault({ match: { route: "get" }, every: 1, action: { type: "stall", ms: 200 } });
  const args = s.args("--max-ids-per-job", "100");
  await killedAfterTwoParts(s, args);
  const held = (await readFile(`${s.results}.partial`)).length;
  assert.equal(held, Buffer.byteLength(splitExpected(s.ids.slice(0, 200), 100)));
  await truncate(`${s.results}.partial`, Math.floor(held * 0.75));
  s.emu.clearFaults();
  const before = s.emu.requests.length;
  const second = await s.run(args);
  assert.equal(second.code, 0, show(second));
  const text = await read(s.results);
  assert.ok(!text.includes("\0"), "no NUL bytes");
  assert.equal(text, splitExpected(s.ids, 100));
  assert.match(second.stderr, /are no longer what this run wrote to .*results\.ndjson\.partial; downloading them again/);
  // Part 1 is intact and kept; part 2 is fetched again, part 3 for the first time.
  assert.equal(routes(s.emu.requests.slice(before), "download").length, 2);
  assert.equal(s.emu.jobs().length, 3, "no job is made twice");
  assert.match(second.stderr, /IDs checked +300\n/);
});

test("a resumed split run whose .partial was deleted downloads its parts again instead of failing with ENOENT", async (t) => {
  const s = await setup(t, { pollsToComplete: 1, count: 300 });
  s.emu.fault({ match: { route: "get" }, every: 1, action: { type: "stall", ms: 200 } });
  const args = s.args("--max-ids-per-job", "100");
  await killedAfterTwoParts(s, args);
  await rm(`${s.results}.partial`);
  s.emu.clearFaults();
  const before = s.emu.requests.length;
  const second = await s.run(args);
  assert.equal(second.code, 0, show(second));
  assert.doesNotMatch(second.stderr, /internal error|ENOENT/);
  assert.equal(await read(s.results), splitExpected(s.ids, 100));
  assert.equal(routes(s.emu.requests.slice(before), "download").length, 3);
  assert.equal(s.emu.jobs().length, 3, "no job is made twice");
});

test("a resumed split run to stdout emits every part again, and refuses when an earlier part can no longer be downloaded", async (t) => {
  const s = await setup(t, { pollsToComplete: 1, count: 300 });
  s.emu.fault({ match: { route: "get" }, every: 1, action: { type: "stall", ms: 200 } });
  const args = ["all", "--type", "tweets", "--ids-file", s.idsFile, "--results-file", "-", "--interval", "0.05", "--max-ids-per-job", "100"];
  await killedAfterTwoParts(s, args);
  s.emu.clearFaults();
  const second = await s.run(args);
  assert.equal(second.code, 0, show(second));
  assert.equal(second.stdout, splitExpected(s.ids, 100));
  assert.match(second.stderr, /IDs checked +300\n/);

  // Again, but the first part's results are gone from the server by the time the run resumes.
  const u = await setup(t, { pollsToComplete: 1, count: 300 });
  u.emu.fault({ match: { route: "get" }, every: 1, action: { type: "stall", ms: 200 } });
  const uargs = ["all", "--type", "tweets", "--ids-file", u.idsFile, "--results-file", "-", "--interval", "0.05", "--max-ids-per-job", "100"];
  await killedAfterTwoParts(u, uargs);
  u.emu.clearFaults();
  const firstJob = u.emu.jobs()[0]!.id;
  u.emu.expireJob(firstJob);
  const third = await u.run(uargs);
  assert.equal(third.code, 4, show(third));
  assert.equal(third.stdout, "", "nothing is emitted");
  assert.match(third.stderr, new RegExp(`the earlier run already wrote the results of job ${firstJob} \\(part 1 of 3\\) to its output, and they can no longer be downloaded .*run the command with --no-resume`));
});

test("a split .partial changed while the run waits for its next part is never appended to: exit 5, and the next run repairs it", async (t) => {
  const s = await setup(t, { pollsToComplete: 1, count: 200 });
  // Part 2's polls wait a moment, long enough for the file to be tampered with meanwhile.
  s.emu.fault({ match: { route: "get" }, every: 1, action: { type: "stall", ms: 800 } });
  const args = s.args("--max-ids-per-job", "100");
  const first = await s.run(args, {
    when: {
      stderr: /created \w+ job \d+ \(part 2 of 2\)/,
      then: async () => {
        const bytes = await readFile(`${s.results}.partial`);
        bytes[10] = bytes[10] === 0x31 ? 0x32 : 0x31;
        await writeFile(`${s.results}.partial`, bytes);
      },
    },
  });
  assert.equal(first.code, 5, show(first));
  assert.match(first.stderr, /results\.ndjson\.partial changed while this run was writing it \(the results of job \d+ in it are not what was written\); run the same command again/);
  assert.ok(!(await ls(s.dir)).includes("results.ndjson"), "no results file");
  s.emu.clearFaults();
  const second = await s.run(args);
  assert.equal(second.code, 0, show(second));
  assert.equal(await read(s.results), splitExpected(s.ids, 100));
  assert.equal(s.emu.jobs().length, 2, "no job is made twice");
});
