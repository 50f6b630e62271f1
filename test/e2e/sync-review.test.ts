// `compliant sync` and `compliant history` under review: what a hostile user and a careful auditor
// tried, each a defect that was found and fixed. Real binary, real files, the emulator (API flow:
// Posts …00 delete/deleted, …09 scrub_geo, …50-99 nothing; users …01 delete/deleted, …50-99 nothing).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { emuEnv, emulatorFor, runCli, tempDir } from "../helpers/cli.js";

const P = (d: string) => `1500000000000000${d}`;
const U = (d: string) => `2500000000000000${d}`;
const line = (v: unknown) => `${JSON.stringify(v)}\n`;
const sha = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

// P100 deleted; P150 by a deleted user; P250 kept; P209 scrubbed.
export const ARCHIVE =
  line({ id: P("100"), author_id: U("050"), text: "deleted Post" }) +
  line({ id: P("150"), author_id: U("001"), text: "by a deleted user" }) +
  `{"id": "${P("250")}",  "author_id":"${U("070")}", "text":"kept byte for byte"}\n` +
  line({ id: P("209"), author_id: U("070"), text: "scrub my geo", geo: { place_id: "pl2" } });
export const CLEAN = `{"id": "${P("250")}",  "author_id":"${U("070")}", "text":"kept byte for byte"}\n` + line({ id: P("209"), author_id: U("070"), text: "scrub my geo" });

interface Entry {
  sync_id: string;
  finished_at: string;
  dataset: { path: string; sha256: string; bytes: number; sha256_of: string; files?: string[] };
  output: { path: string; sha256: string; bytes: number; in_place: boolean };
  types: Record<"tweets" | "users", { jobs: Array<{ id: string }>; ids_checked: number; results_file: string | null; results_sha256: string | null }>;
  records: { read: number; removed_for_own_event: number; removed_for_author: number; scrubbed: number };
}

async function ledger(path: string): Promise<Entry[]> {
  return (await readFile(path, "utf8")).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Entry);
}

const SYNC = (...args: string[]) => ["sync", ...args, "--interval", "0.05"];

test("an empty dataset: the clean copy (and --removed) are written, so the ledger never names an output that does not exist", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-empty-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "empty.jsonl"), "\n\n");
  const r = await runCli(SYNC("empty.jsonl", "-o", "clean.jsonl", "--removed", "removed.jsonl"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(emu.jobs().length, 0);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), "\n\n");
  assert.equal(await readFile(join(dir, "removed.jsonl"), "utf8"), "");
  const [e] = await ledger(join(dir, "compliance-ledger.jsonl"));
  assert.equal(e!.output.sha256, sha("\n\n"));
});

test("a dataset given as a symbolic link is read like apply reads it; --in-place replaces the file it points to and keeps the link", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-link-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "real.jsonl"), ARCHIVE);
  await symlink("real.jsonl", join(dir, "link.jsonl"));
  const r = await runCli(SYNC("link.jsonl", "-o", "clean.jsonl"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), CLEAN);
  const inPlace = await runCli(SYNC("link.jsonl", "--in-place"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(inPlace.code, 0, inPlace.stderr);
  assert.ok((await lstat(join(dir, "link.jsonl"))).isSymbolicLink(), "the link stays a link");
  assert.equal(await readFile(join(dir, "real.jsonl"), "utf8"), CLEAN);
});

test("--in-place keeps the dataset's permissions: a private (0600) archive is not made world-readable", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-mode-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "private.jsonl"), ARCHIVE);
  await chmod(join(dir, "private.jsonl"), 0o600);
  await writeFile(join(dir, "group.jsonl.gz"), gzipSync(ARCHIVE));
  await chmod(join(dir, "group.jsonl.gz"), 0o640);
  for (const [name, mode] of [["private.jsonl", 0o600], ["group.jsonl.gz", 0o640]] as const) {
    const r = await runCli(SYNC(name, "--in-place"), { cwd: dir, env: emuEnv(emu) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(join(dir, name))).mode & 0o7777, mode, name);
  }
  assert.equal(await readFile(join(dir, "private.jsonl"), "utf8"), CLEAN);
});

test("--in-place keeps the dataset's compression whatever it is called: gzip stays gzip, plain stays plain", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-gzname-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "gzipped.jsonl"), gzipSync(ARCHIVE));
  await writeFile(join(dir, "plain.jsonl.gz"), ARCHIVE);
  for (const name of ["gzipped.jsonl", "plain.jsonl.gz"]) {
    const r = await runCli(SYNC(name, "--in-place"), { cwd: dir, env: emuEnv(emu) });
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal(gunzipSync(await readFile(join(dir, "gzipped.jsonl"))).toString(), CLEAN);
  assert.equal(await readFile(join(dir, "plain.jsonl.gz"), "utf8"), CLEAN);
  const entries = await ledger(join(dir, "compliance-ledger.jsonl"));
  assert.equal(entries[1]!.output.sha256, sha(await readFile(join(dir, "plain.jsonl.gz"))));
});

/** A complete ledger entry, `hours` ago (negative: in the future). */
function entry(hours: number, path = "/data/a.jsonl"): Record<string, unknown> {
  const at = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
  const type = { jobs: [], ids_checked: 1, ids_needing_action: 0, by_action: {}, by_reason: {}, errors: {}, results_file: null, results_sha256: null };
  return {
    ledger_version: 1,
    sync_id: `x-${hours}`,
    started_at: at(hours + 0.01),
    finished_at: at(hours),
    tool: "compliant",
    tool_version: "0.1.0",
    api_origin: "https://api.x.com",
    dataset: { path, bytes: 1, sha256: "0".repeat(64), sha256_of: "file" },
    output: { path, in_place: true, bytes: 1, sha256: "1".repeat(64), sha256_of: "file" },
    removed_file: null,
    types: { tweets: type, users: type },
    records: { read: 1, removed_for_own_event: 0, removed_for_author: 0, scrubbed: 0 },
  };
}

test("history: a line with the ledger's version but not its fields is exit 4 naming the line, not an internal error", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-hist-fields-");
  const { types: _t, records: _r, output: _o, ...partial } = entry(1);
  await writeFile(join(dir, "compliance-ledger.jsonl"), line(entry(2)) + line(partial));
  for (const args of [["history"], ["history", "--json"]]) {
    const r = await runCli(args, { cwd: dir });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /line 2 of the ledger compliance-ledger\.jsonl is not a ledger entry/);
    assert.doesNotMatch(r.stderr, /internal error/);
    assert.equal(r.stdout, "");
  }
});

test("history: a newest entry that finished in the future (a clock that was wrong) does not keep the archive 'fresh' forever", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-hist-future-");
  await writeFile(join(dir, "compliance-ledger.jsonl"), line(entry(30)) + line(entry(-24 * 400)));
  const r = await runCli(["history", "--max-age", "24"], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /in the future/);
  const json = await runCli(["history", "--json"], { cwd: dir });
  assert.equal(json.code, 1);
  assert.equal((JSON.parse(json.stdout) as { stale: boolean }).stale, true);
  // A clock a little ahead (another machine's) is not an alarm.
  await writeFile(join(dir, "compliance-ledger.jsonl"), line(entry(30)) + line(entry(-0.01)));
  const near = await runCli(["history"], { cwd: dir });
  assert.equal(near.code, 0, near.stderr);
});

test("a ledger whose last line was cut by a crash: the next sync's line starts on a line of its own and stays readable", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-torn-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE);
  const torn = JSON.stringify(entry(3)).slice(0, 120);
  await writeFile(join(dir, "compliance-ledger.jsonl"), line(entry(5)) + torn);
  const r = await runCli(SYNC("a.jsonl", "-o", "clean.jsonl"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  const lines = (await readFile(join(dir, "compliance-ledger.jsonl"), "utf8")).split("\n");
  assert.equal(lines[1], torn, "the damaged line is left as it was (evidence is never rewritten)");
  const mine = JSON.parse(lines[2]!) as Entry;
  assert.equal(mine.output.sha256, sha(CLEAN));
  assert.equal(lines[3], "");
});

/**
 * Runs a sync whose ledger cannot be appended to at the end (the ledger path becomes a folder
 * while the jobs run), so it stops with its output in place and its record kept; then puts
 * `ledgerText` (a function of the record) where the ledger was.
 */
async function stopBeforeLedger(dir: string, args: string[], env: Record<string, string | undefined>): Promise<void> {
  const { mkdirSync } = await import("node:fs");
  const ledgerPath = join(dir, "compliance-ledger.jsonl");
  let made = false;
  const r = await runCli(args, {
    cwd: dir,
    env,
    onStderr: (text) => {
      if (!made && /collected \d+ Post IDs/.test(text)) {
        made = true;
        mkdirSync(ledgerPath);
      }
    },
  });
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /could not write the ledger .*EISDIR/);
  await rm(ledgerPath, { recursive: true });
}

test("a re-run after a crash between the ledger line and the end finds its line even when another line of the ledger is damaged: never two lines for one sync", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-dup-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE);
  const args = SYNC("a.jsonl", "--in-place");
  await stopBeforeLedger(dir, args, emuEnv(emu));
  // As if the line had been written just before the kill, after a damaged line of an older crash.
  const state = join(dir, ".state", "compliant");
  const recordFile = (await readdir(state)).find((f) => f.endsWith(".sync"))!;
  const record = JSON.parse(await readFile(join(state, recordFile), "utf8")) as { key: string; startedAt: string };
  const syncId = `${record.key}-${record.startedAt.replace(/[-:]/g, "")}`;
  await writeFile(join(dir, "compliance-ledger.jsonl"), "{\"cut by a cr\n" + line({ ...entry(0), sync_id: syncId }));
  const again = await runCli(args, { cwd: dir, env: emuEnv(emu) });
  assert.equal(again.code, 0, again.stderr);
  const ids = (await readFile(join(dir, "compliance-ledger.jsonl"), "utf8")).split("\n").filter((l) => l.includes(syncId));
  assert.equal(ids.length, 1, "the sync is recorded once");
  assert.match(again.stderr, /already records this sync/);
});

test("-o: the same command run again after a stop between the output's rename and the ledger line finishes the sync (no --force needed, no new job)", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-resume-o-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE);
  await mkdir(join(dir, "folder"));
  await writeFile(join(dir, "folder", "x.jsonl"), ARCHIVE);
  for (const [args, out] of [[SYNC("a.jsonl", "-o", "clean.jsonl"), "clean.jsonl"], [SYNC("folder", "-o", "clean-folder"), join("clean-folder", "x.jsonl")]] as const) {
    await stopBeforeLedger(dir, args, emuEnv(emu));
    assert.equal(await readFile(join(dir, out), "utf8"), CLEAN, "the output was in place before the stop");
    const jobs = emu.jobs().length;
    const again = await runCli(args, { cwd: dir, env: emuEnv(emu) });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /wrote its output; recording it in the ledger/);
    assert.equal(emu.jobs().length, jobs, "no new job");
    assert.equal((await ledger(join(dir, "compliance-ledger.jsonl"))).length, 1);
    assert.equal(await readFile(join(dir, out), "utf8"), CLEAN);
    // Done: the next run is a new sync, and an existing output needs --force again.
    const next = await runCli(args, { cwd: dir, env: emuEnv(emu) });
    assert.equal(next.code, 2, next.stderr);
    assert.match(next.stderr, /already exists.*pass --force/);
    assert.equal(emu.jobs().length, jobs);
    await rm(join(dir, "compliance-ledger.jsonl"));
  }
});

test("two archives of the same name synced at the same moment (cron) keep their own results files: no exit 5, no results file overwritten under a ledger line", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-names-");
  const emu = await emulatorFor(t, { flow: "api" });
  const state = join(dir, "state");
  await mkdir(join(dir, "a"));
  await mkdir(join(dir, "b"));
  await writeFile(join(dir, "a", "archive.jsonl"), ARCHIVE);
  await writeFile(join(dir, "b", "archive.jsonl"), line({ id: P("251"), author_id: U("071"), text: "other archive" }));
  const env = emuEnv(emu, { XDG_STATE_HOME: state });
  const [ra, rb] = await Promise.all(["a", "b"].map((d) => runCli(SYNC("archive.jsonl", "--in-place", "--wait-for-active"), { cwd: join(dir, d), env })));
  assert.equal(ra!.code, 0, ra!.stderr);
  assert.equal(rb!.code, 0, rb!.stderr);
  const [ea] = await ledger(join(dir, "a", "compliance-ledger.jsonl"));
  const [eb] = await ledger(join(dir, "b", "compliance-ledger.jsonl"));
  for (const type of ["tweets", "users"] as const) {
    assert.notEqual(ea!.types[type].results_file, eb!.types[type].results_file);
    for (const e of [ea!, eb!]) assert.equal(sha(await readFile(e.types[type].results_file!)), e.types[type].results_sha256, `${type} results file as the ledger says`);
  }
});

test("several dataset files: the ledger names every one of them (its SHA-256 is of all their bytes), not only the first", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-files-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE);
  await writeFile(join(dir, "b.jsonl.gz"), gzipSync(line({ id: P("251"), author_id: U("071"), text: "b" })));
  const r = await runCli(SYNC("a.jsonl", "b.jsonl.gz", "-o", "out"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  const [e] = await ledger(join(dir, "compliance-ledger.jsonl"));
  assert.deepEqual(e!.dataset.files, [join(dir, "a.jsonl"), join(dir, "b.jsonl.gz")]);
  // The manifest is what `sha256sum a.jsonl b.jsonl.gz | sha256sum` prints.
  const manifest = `${sha(await readFile(join(dir, "a.jsonl")))}  a.jsonl\n${sha(await readFile(join(dir, "b.jsonl.gz")))}  b.jsonl.gz\n`;
  assert.equal(e!.dataset.sha256, sha(manifest));
  const h = await runCli(["history"], { cwd: dir });
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /a\.jsonl \(\+1 more file\) → /);
});

test("Posts that name no author (the API's default fields: id and text) are checked by their Post ID; sync no longer refuses the whole archive", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-noauthor-");
  const emu = await emulatorFor(t, { flow: "api" });
  const kept = `{"id":"${P("250")}","text":"kept","edit_history_tweet_ids":["${P("250")}"]}\n`;
  await writeFile(join(dir, "default-fields.jsonl"), line({ id: P("100"), text: "deleted", edit_history_tweet_ids: [P("100")] }) + kept);
  const r = await runCli(SYNC("default-fields.jsonl", "-o", "clean.jsonl"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), kept);
  assert.deepEqual(emu.jobs().map((j) => j.type), ["tweets"]);

  // Mixed: the author cascade still applies to the Posts that name one.
  await writeFile(join(dir, "mixed.jsonl"), kept + line({ id: P("150"), author_id: U("001"), text: "by a deleted user" }));
  const m = await runCli(SYNC("mixed.jsonl", "-o", "mixed.clean.jsonl"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(m.code, 0, m.stderr);
  assert.equal(await readFile(join(dir, "mixed.clean.jsonl"), "utf8"), kept);

  // A dataset of user objects, one without its ID, is still refused before any job.
  const before = emu.jobs().length;
  await writeFile(join(dir, "users.jsonl"), `{"id":"${U("060")}","username":"a"}\n{"username":"no id"}\n`);
  const u = await runCli(SYNC("users.jsonl", "-o", "users.clean.jsonl"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(u.code, 2, u.stderr);
  assert.match(u.stderr, /line 2: no user ID/);
  assert.equal(emu.jobs().length, before);
});

test("a record sync cannot read is refused without pointing at --skip-invalid, a flag sync does not have", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-invalid-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE + '{"text":"no id"}\n');
  const r = await runCli(SYNC("a.jsonl", "-o", "clean.jsonl"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /line 5: no Post ID/);
  assert.doesNotMatch(r.stderr, /pass --skip-invalid/);
  assert.equal(emu.jobs().length, 0);
});

test("file names with terminal escapes are shown escaped in sync's summary", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-esc-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE);
  const r = await runCli(SYNC("a.jsonl", "-o", "o\u001b[31mred.jsonl", "--removed", "r\u001b]0;title\u0007.jsonl"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /[\u001b\u0007]/);
  assert.match(r.stderr, /wrote o\\u001b\[31mred\.jsonl/);
});

test("a folder dataset: --removed, --ledger and --results-dir may not put files into it (the next sync would read them as part of the archive)", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-infolder-");
  const emu = await emulatorFor(t, { flow: "api" });
  await mkdir(join(dir, "data"));
  await writeFile(join(dir, "data", "a.jsonl"), ARCHIVE);
  for (const extra of [["--removed", "data/removed.jsonl"], ["--ledger", "data/ledger.jsonl"], ["--results-dir", "data"]]) {
    const r = await runCli(SYNC("data", "-o", "clean", ...extra), { cwd: dir, env: emuEnv(emu) });
    assert.equal(r.code, 2, `${extra.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /inside the dataset folder/, extra.join(" "));
  }
  assert.deepEqual(await readdir(join(dir, "data")), ["a.jsonl"]);
  assert.equal(emu.jobs().length, 0);
  // A sub-folder is not read as part of the dataset: results may go there.
  await mkdir(join(dir, "data", "results"));
  const ok = await runCli(SYNC("data", "-o", "clean", "--results-dir", "data/results"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(ok.code, 0, ok.stderr);
});

test("--results-dir: one that cannot be written is exit 2 before any job; a re-run with another --results-dir uses it", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-resultsdir-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE);
  const proc = await runCli(SYNC("a.jsonl", "-o", "clean.jsonl", "--results-dir", "/proc"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(proc.code, 2, proc.stderr);
  assert.match(proc.stderr, /results folder \/proc/);
  assert.equal(emu.jobs().length, 0, "no job was created");

  // Interrupted as the jobs are created; the results folder it named is gone; the re-run names another.
  await mkdir(join(dir, "r1"));
  await mkdir(join(dir, "r2"));
  const first = await runCli(SYNC("a.jsonl", "-o", "clean.jsonl", "--results-dir", "r1"), {
    cwd: dir,
    env: emuEnv(emu),
    onStderr: (text, child) => {
      if (/created (tweets|users) job/.test(text)) child.kill("SIGINT");
    },
  });
  assert.equal(first.code, 130, first.stderr);
  await rm(join(dir, "r1"), { recursive: true });
  const again = await runCli(SYNC("a.jsonl", "-o", "clean.jsonl", "--results-dir", "r2", "--wait-for-active"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), CLEAN);
  assert.equal((await readdir(join(dir, "r2"))).length, 2);
  const [e] = await ledger(join(dir, "compliance-ledger.jsonl"));
  assert.equal(e!.types.tweets.results_file, join(dir, "r2", (await readdir(join(dir, "r2"))).find((f) => f.includes("tweets"))!));
});

test("a job's record left behind by a stop just after its results were recorded is cleaned up when the sync finishes: the next night's sync makes new jobs, never reuses last night's results", async (t) => {
  // The copy races the run's own clean-up (the record lives between the download and the end of
  // the job's run): on a loaded machine it can come too late, so the scene is set up again, up to
  // five times, until a record was caught.
  for (let attempt = 1; ; attempt++) {
  const dir = await tempDir(t, "compliant-syncrev-stale-job-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE);
  const state = join(dir, ".state", "compliant");
  const { copyFileSync, mkdirSync, readdirSync } = await import("node:fs");
  const kept = join(dir, "kept");
  mkdirSync(kept);
  // The first run stops before its ledger line (the ledger path is a folder), like a kill does;
  // while it downloads, each job's own record is copied, as a kill between the sync recording the
  // job as finished and the job's record being removed would leave it.
  let copied = false;
  const args = SYNC("a.jsonl", "-o", "clean.jsonl");
  const first = await runCli(args, {
    cwd: dir,
    env: emuEnv(emu),
    onStderr: (text) => {
      if (/collected \d+ Post IDs/.test(text)) mkdirSync(join(dir, "compliance-ledger.jsonl"));
      if (!copied && /Posts: downloaded/.test(text)) {
        copied = true;
        for (const f of readdirSync(state)) if (f.endsWith(".json")) copyFileSync(join(state, f), join(kept, f));
      }
    },
  });
  assert.equal(first.code, 5, first.stderr);
  await rm(join(dir, "compliance-ledger.jsonl"), { recursive: true });
  const leftovers = await readdir(kept);
  if (leftovers.length === 0 && attempt < 5) continue;
  assert.ok(leftovers.length > 0, "a job record was copied (in 5 attempts)");
  for (const f of leftovers) await writeFile(join(state, f), await readFile(join(kept, f)));
  // The same command finishes the sync; then only the results folder is left in the state folder.
  const again = await runCli(args, { cwd: dir, env: emuEnv(emu) });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual((await readdir(state)).filter((f) => f !== "results"), []);
  // The next night: new jobs of both types.
  const before = emu.jobs().map((j) => j.id);
  const next = await runCli([...args, "--force"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(next.code, 0, next.stderr);
  const made = emu.jobs().filter((j) => !before.includes(j.id));
  assert.deepEqual(made.map((j) => j.type).sort(), ["tweets", "users"]);
  const [, second] = await ledger(join(dir, "compliance-ledger.jsonl"));
  assert.deepEqual([second!.types.tweets.jobs[0]!.id, second!.types.users.jobs[0]!.id].sort(), made.map((j) => j.id).sort());
  return;
  }
});

test("--removed and --ledger may not be another output's .partial (the ledger was deleted to make room for it) nor inside the output folder", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-partial-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE);
  await mkdir(join(dir, "folder"));
  await writeFile(join(dir, "folder", "x.jsonl"), ARCHIVE);
  await mkdir(join(dir, "clean-folder"));
  const evidence = line(entry(20));
  await writeFile(join(dir, "l.jsonl.partial"), evidence);
  await writeFile(join(dir, "c.jsonl.partial"), evidence);
  const cases: string[][] = [
    ["a.jsonl", "-o", "c.jsonl", "--removed", "c.jsonl.partial", "--ledger", "elsewhere.jsonl"],
    ["a.jsonl", "-o", "c.jsonl", "--removed", "l.jsonl", "--ledger", "l.jsonl.partial"],
    ["a.jsonl", "-o", "c.jsonl", "--ledger", "c.jsonl.partial"],
    ["folder", "-o", "clean-folder", "--ledger", "clean-folder/ledger.jsonl"],
  ];
  for (const args of cases) {
    const r = await runCli(SYNC(...args), { cwd: dir, env: emuEnv(emu) });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
  }
  assert.equal(await readFile(join(dir, "l.jsonl.partial"), "utf8"), evidence, "the ledger is untouched");
  assert.equal(await readFile(join(dir, "c.jsonl.partial"), "utf8"), evidence);
  assert.deepEqual((await readdir(dir)).filter((f) => f !== ".state").sort(), ["a.jsonl", "c.jsonl.partial", "clean-folder", "folder", "l.jsonl.partial"]);
  assert.deepEqual(await readdir(join(dir, "clean-folder")), []);
  assert.equal(emu.jobs().length, 0);
});

test("--in-place on a file with other hard links says that those names keep the old content", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-hardlink-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE);
  const { link } = await import("node:fs/promises");
  await link(join(dir, "a.jsonl"), join(dir, "backup.jsonl"));
  const r = await runCli(SYNC("a.jsonl", "--in-place"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(dir, "a.jsonl"), "utf8"), CLEAN);
  assert.match(r.stderr, /warning: a\.jsonl has 1 other hard link/);
});

test("sync --timeout: exit 7 tells the user to run the same sync again, not `compliant all`", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-timeout-");
  const emu = await emulatorFor(t, { flow: "api", pollsToComplete: 1000 });
  await writeFile(join(dir, "a.jsonl"), ARCHIVE);
  const r = await runCli(SYNC("a.jsonl", "-o", "clean.jsonl", "--timeout", "0.5"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 7, r.stderr);
  assert.doesNotMatch(r.stderr, /compliant all/);
  assert.match(r.stderr.trim().split("\n").at(-1)!, /compliant sync/);
});

test("every successful sync appends its own ledger line, also two that start in the same second (a dataset with nothing to check runs no job and takes milliseconds)", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-same-second-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "empty.jsonl"), "");
  for (let i = 0; i < 4; i++) {
    const r = await runCli(SYNC("empty.jsonl", "--in-place"), { cwd: dir, env: emuEnv(emu) });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /already records this sync/);
  }
  const entries = await ledger(join(dir, "compliance-ledger.jsonl"));
  assert.equal(entries.length, 4);
  assert.equal(new Set(entries.map((e) => e.sync_id)).size, 4);
});

test("a users CSV (id, username, no text): its user IDs are not taken for Post IDs, and Post results never remove its rows", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-users-csv-");
  const emu = await emulatorFor(t, { flow: "api" });
  // …10: as a Post, delete/bounced; as a user, scrub_geo only. …01: a deleted user.
  const csv = `id,username,name\n${U("110")},kept_user,K\n${U("001")},gone,G\n${U("160")},other,O\n`;
  await writeFile(join(dir, "users.csv"), csv);
  const ids = await runCli(["ids", "users.csv"], { cwd: dir });
  assert.equal(ids.code, 0, ids.stderr);
  assert.equal(ids.stdout, "");
  const r = await runCli(SYNC("users.csv", "-o", "clean.csv"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(dir, "clean.csv"), "utf8"), `id,username,name\n${U("110")},kept_user,K\n${U("160")},other,O\n`);
  assert.deepEqual(emu.jobs().map((j) => j.type), ["users"], "no tweets job for a dataset without Posts");
  // Post results naming the same digits leave the rows alone (apply, as for JSON user objects).
  await writeFile(join(dir, "posts.ndjson"), `{"id":"${U("110")}","action":"delete","created_at":"2024-01-01T00:00:00.000Z","reason":"deleted"}\n`);
  const applied = await runCli(["apply", "-r", "posts.ndjson", "users.csv", "-o", "same.csv"], { cwd: dir });
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(await readFile(join(dir, "same.csv"), "utf8"), csv);
});

test("history on a ledger path that is a FIFO or a folder is exit 2 at once (a monitoring job must not hang)", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-hist-fifo-");
  const { execFileSync } = await import("node:child_process");
  execFileSync("mkfifo", [join(dir, "ledger.fifo")]);
  await mkdir(join(dir, "folder"));
  for (const ledgerPath of ["ledger.fifo", "folder"]) {
    const started = Date.now();
    const r = await runCli(["history", "--ledger", ledgerPath], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /not a regular file/);
    assert.ok(Date.now() - started < 5000);
  }
});

test("a CSV with no author column (id and text only) is checked by its Post IDs instead of refused", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-csv-noauthor-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "posts.csv"), `id,text\n${P("100")},deleted\n${P("250")},kept\n`);
  await mkdir(join(dir, "mixed"));
  await writeFile(join(dir, "mixed", "posts.csv"), `id,text\n${P("100")},deleted\n${P("250")},kept\n`);
  await writeFile(join(dir, "mixed", "more.jsonl"), line({ id: P("150"), author_id: U("001"), text: "by a deleted user" }) + line({ id: P("251"), author_id: U("060"), text: "kept" }));
  const r = await runCli(SYNC("posts.csv", "-o", "clean.csv"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(dir, "clean.csv"), "utf8"), `id,text\n${P("250")},kept\n`);
  // Beside a file with authors (so a users job runs), its rows are kept by the users results.
  const m = await runCli(SYNC("mixed", "-o", "mixed-clean"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(m.code, 0, m.stderr);
  assert.equal(await readFile(join(dir, "mixed-clean", "posts.csv"), "utf8"), `id,text\n${P("250")},kept\n`);
  assert.equal(await readFile(join(dir, "mixed-clean", "more.jsonl"), "utf8"), line({ id: P("251"), author_id: U("060"), text: "kept" }));
  // A --user-column the header lacks is still an error.
  const named = await runCli(SYNC("posts.csv", "-o", "named.csv", "--user-column", "who"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(named.code, 2, named.stderr);
});
