// `compliant sync` end to end against the emulator (API flow): both jobs at once, both result sets
// applied in one pass (own events, the author cascade, includes entries, embedded copies), every
// other record byte for byte, and one ledger line.
//
// The emulator's results are a function of each ID's last two digits (src/emulator/results.ts):
// Posts …00 delete/deleted, …09 scrub_geo, …50-99 nothing; users …01 delete/deleted, …50-99 nothing.

import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { emuEnv, emulatorFor, runCli, tempDir } from "../helpers/cli.js";

const P = (d: string) => `1500000000000000${d}`;
const U = (d: string) => `2500000000000000${d}`;
const line = (v: unknown) => `${JSON.stringify(v)}\n`;

interface Ledger {
  started_at: string;
  finished_at: string;
  dataset: { path: string; sha256: string; bytes: number; sha256_of: string };
  output: { path: string; sha256: string; in_place: boolean };
  types: Record<"tweets" | "users", { jobs: Array<{ id: string; ids: number }>; ids_checked: number; ids_needing_action: number; by_action: Record<string, number>; results_file: string | null }>;
  records: { read: number; removed_for_own_event: number; removed_for_author: number; scrubbed: number; rehydrate: number };
}

async function ledgerOf(dir: string, name = "compliance-ledger.jsonl"): Promise<Ledger[]> {
  return (await readFile(join(dir, name), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Ledger);
}

// Page 1: P100 deleted; P150 by a deleted user; P160 kept (its place stays); P170 quotes P300,
// which is deleted: P170 stays, the copy of P300 goes from includes.tweets (left empty: removed).
const page = {
  data: [
    { id: P("100"), author_id: U("050"), text: "deleted Post" },
    { id: P("150"), author_id: U("001"), text: "by a deleted user" },
    { id: P("160"), author_id: U("060"), text: "kept", geo: { place_id: "pl1" } },
    { id: P("170"), author_id: U("060"), text: "quotes a deleted Post", referenced_tweets: [{ type: "quoted", id: P("300") }] },
  ],
  includes: {
    users: [{ id: U("050"), username: "a" }, { id: U("001"), username: "gone" }, { id: U("060"), username: "c" }],
    tweets: [{ id: P("300"), author_id: U("070"), text: "quoted, deleted" }],
    places: [{ id: "pl1", full_name: "Somewhere" }],
  },
  meta: { result_count: 4 },
};
const scrubbed = { id: P("209"), author_id: U("070"), text: "scrub my geo", geo: { place_id: "pl2", coordinates: { type: "Point", coordinates: [1, 2] } } };
const untouched = `{"id": "${P("250")}",  "author_id":"${U("070")}", "text":"kept byte for byte"}\n`;
const byDeletedUser = { id: P("260"), author_id: U("001"), text: "also by the deleted user" };
const TWARC2 = line(page) + line(scrubbed) + untouched + line(byDeletedUser);

const EXPECTED_TWARC2 =
  line({
    data: [page.data[2], page.data[3]],
    includes: { users: [page.includes.users[0], page.includes.users[2]], places: page.includes.places },
    meta: { result_count: 2 },
  }) +
  line({ id: P("209"), author_id: U("070"), text: "scrub my geo" }) +
  untouched;

test("sync on twarc2 pages: Post events, the author cascade, includes entries and quoted copies; one ledger line; untouched lines byte for byte", async (t) => {
  const dir = await tempDir(t, "compliant-sync-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "archive.jsonl"), TWARC2);
  const r = await runCli(["sync", "archive.jsonl", "-o", "clean.jsonl", "--removed", "removed.jsonl", "--interval", "0.05"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), EXPECTED_TWARC2);
  assert.equal(await readFile(join(dir, "archive.jsonl"), "utf8"), TWARC2, "the dataset is never modified without --in-place");
  const removed = (await readFile(join(dir, "removed.jsonl"), "utf8")).trim().split("\n").map((l) => (JSON.parse(l) as { id: string }).id).sort();
  assert.deepEqual(removed, [P("100"), P("150"), P("260"), P("300"), U("001")].sort());

  const [entry, more] = await ledgerOf(dir);
  assert.equal(more, undefined);
  assert.equal(entry!.dataset.path, join(dir, "archive.jsonl"));
  assert.equal(entry!.output.path, join(dir, "clean.jsonl"));
  assert.equal(entry!.output.in_place, false);
  const { createHash } = await import("node:crypto");
  assert.equal(entry!.dataset.sha256, createHash("sha256").update(TWARC2).digest("hex"));
  assert.equal(entry!.output.sha256, createHash("sha256").update(EXPECTED_TWARC2).digest("hex"));
  // Every Post and user that appears anywhere was checked: 8 Posts (P300 only in includes), 4 users.
  assert.equal(entry!.types.tweets.ids_checked, 8);
  assert.equal(entry!.types.users.ids_checked, 4);
  assert.deepEqual(entry!.types.tweets.by_action, { delete: 2, scrub_geo: 1 });
  assert.deepEqual(entry!.types.users.by_action, { delete: 1 });
  assert.deepEqual(entry!.records, { read: 4, removed_for_own_event: 3, removed_for_author: 2, scrubbed: 1, rehydrate: 0 });
  const jobs = emu.jobs();
  assert.deepEqual(jobs.map((j) => j.type).sort(), ["tweets", "users"]);
  assert.deepEqual([entry!.types.tweets.jobs[0]!.id, entry!.types.users.jobs[0]!.id].sort(), jobs.map((j) => j.id).sort());
  // Both result files are kept where the ledger says.
  for (const type of ["tweets", "users"] as const) assert.ok((await readFile(entry!.types[type].results_file!, "utf8")).length > 0);
  assert.match(r.stderr, /Posts: 8 IDs checked \(job \d+\), 3 needing action/);
  assert.match(r.stderr, /records: 4 read; removed 3 for their own event and 2 for their author's; scrubbed 1/);

  // The two jobs ran at the same time: both were created, and both uploaded, before either was downloaded.
  const creates = emu.requests.filter((q) => q.method === "POST" && q.path === "/2/compliance/jobs").map((q) => q.seq);
  const downloads = emu.requests.filter((q) => q.route === "download").map((q) => q.seq);
  assert.equal(creates.length, 2);
  assert.ok(downloads.length >= 2, JSON.stringify(emu.requests.map((q) => q.route)));
  assert.ok(Math.max(...creates) < Math.min(...downloads), "both jobs were created before either was downloaded");
});

test("sync --in-place on a gzipped file replaces it atomically with a gzipped clean copy; the ledger goes beside it", async (t) => {
  const dir = await tempDir(t, "compliant-sync-gz-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "archive.jsonl.gz"), gzipSync(TWARC2));
  const r = await runCli(["sync", "archive.jsonl.gz", "--in-place", "--interval", "0.05", "--json"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(gunzipSync(await readFile(join(dir, "archive.jsonl.gz"))).toString(), EXPECTED_TWARC2);
  const summary = JSON.parse(r.stdout) as { in_place: boolean; records: Ledger["records"] };
  assert.equal(summary.in_place, true);
  assert.deepEqual(summary.records, { read: 4, removed_for_own_event: 3, removed_for_author: 2, scrubbed: 1, rehydrate: 0 });
  const [entry] = await ledgerOf(dir);
  assert.equal(entry!.output.in_place, true);
  assert.equal(entry!.output.path, join(dir, "archive.jsonl.gz"));
  assert.deepEqual((await readdir(dir)).sort(), [".state", "archive.jsonl.gz", "compliance-ledger.jsonl"]);
  // The state folder keeps the results and nothing else: no record, ID file or lock is left.
  assert.deepEqual(await readdir(join(dir, ".state", "compliant")), ["results"]);
  assert.equal((await readdir(join(dir, ".state", "compliant", "results"))).length, 2);
});

test("sync on twarc2 flattened and v1.1 Posts: embedded copies and authors follow the same rules", async (t) => {
  const dir = await tempDir(t, "compliant-sync-flat-");
  const emu = await emulatorFor(t, { flow: "api" });
  // Flattened: the author and the expanded quoted Post are embedded.
  const quoting = {
    id: P("180"),
    author_id: U("060"),
    text: "quotes a deleted Post",
    author: { id: U("060"), username: "c" },
    referenced_tweets: [{ type: "quoted", id: P("300"), text: "quoted, deleted", author_id: U("070"), author: { id: U("070"), username: "d" } }],
  };
  const byGone = { id: P("190"), author_id: U("001"), text: "by a deleted user", author: { id: U("001"), username: "gone" } };
  const kept = `{"id":"${P("251")}","author_id":"${U("060")}","text":"kept","author":{"id":"${U("060")}","username":"c"}}\n`;
  await writeFile(join(dir, "flat.jsonl"), line(quoting) + line(byGone) + kept);
  const r = await runCli(["sync", "flat.jsonl", "-o", "flat.clean.jsonl", "--interval", "0.05"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  const { referenced_tweets: _drop, ...quotingWithoutCopy } = quoting;
  const out = (await readFile(join(dir, "flat.clean.jsonl"), "utf8")).split("\n");
  assert.equal(out.length, 3);
  const first = JSON.parse(out[0]!) as Record<string, unknown>;
  assert.equal(first.id, P("180"));
  assert.equal(first.text, quotingWithoutCopy.text);
  assert.ok(!JSON.stringify(first).includes("quoted, deleted"), "the embedded copy of the deleted Post is gone");
  assert.equal(`${out[1]}\n`, kept);

  // v1.1: a retweet of a deleted Post goes with it; a user's Posts go with the user.
  const dir2 = join(dir, "v11");
  await mkdir(dir2);
  const rt = { id_str: P("181"), text: "RT", user: { id_str: U("060") }, retweeted_status: { id_str: P("400"), text: "deleted original", user: { id_str: U("070") } } };
  const v11Gone = { id_str: P("182"), text: "by a deleted user", user: { id_str: U("001") } };
  const v11Kept = `{"id_str":"${P("252")}","text":"kept","user":{"id_str":"${U("070")}"},"coordinates":null}\n`;
  await writeFile(join(dir2, "v11.jsonl"), line(rt) + line(v11Gone) + v11Kept);
  const r2 = await runCli(["sync", "v11/v11.jsonl", "-o", "v11/clean.jsonl", "--interval", "0.05"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(await readFile(join(dir2, "clean.jsonl"), "utf8"), v11Kept);
  const [entry] = await ledgerOf(dir2);
  assert.equal(entry!.types.tweets.ids_checked, 4); // 181, 400 (only embedded), 182, 252
  assert.equal(entry!.types.users.ids_checked, 3); // 060, 070 (only embedded), 001
  assert.deepEqual(entry!.records, { read: 3, removed_for_own_event: 1, removed_for_author: 1, scrubbed: 0, rehydrate: 0 });
});

test("sync on an academictwitteR folder writes the same layout, without what either result set removes", async (t) => {
  const dir = await tempDir(t, "compliant-sync-atr-");
  const emu = await emulatorFor(t, { flow: "api" });
  const src = join(dir, "tweets");
  await mkdir(src);
  const data1 = `[${JSON.stringify({ id: P("100"), author_id: U("050"), text: "deleted" })},\n${JSON.stringify({ id: P("160"), author_id: U("060"), text: "kept" })},\n${JSON.stringify({ id: P("150"), author_id: U("001"), text: "by a deleted user" })}]\n`;
  const users1 = JSON.stringify({ users: [{ id: U("050") }, { id: U("060") }, { id: U("001") }] });
  const data2 = `[${JSON.stringify({ id: P("255"), author_id: U("060"), text: "untouched page" })}]\n`;
  const users2 = JSON.stringify({ users: [{ id: U("060") }] });
  await writeFile(join(src, "data_1.json"), data1);
  await writeFile(join(src, "users_1.json"), users1);
  await writeFile(join(src, "data_2.json"), data2);
  await writeFile(join(src, "users_2.json"), users2);
  await writeFile(join(src, "query"), "from:someone\n");
  const r = await runCli(["sync", "tweets", "-o", "clean", "--interval", "0.05"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  const out = join(dir, "clean");
  assert.deepEqual((await readdir(out)).sort(), ["data_1.json", "data_2.json", "query", "users_1.json", "users_2.json"]);
  assert.equal(await readFile(join(out, "data_1.json"), "utf8"), `[${JSON.stringify({ id: P("160"), author_id: U("060"), text: "kept" })}]\n`);
  assert.deepEqual(JSON.parse(await readFile(join(out, "users_1.json"), "utf8")), { users: [{ id: U("050") }, { id: U("060") }] });
  for (const f of ["data_2.json", "users_2.json", "query"]) assert.deepEqual(await readFile(join(out, f)), await readFile(join(src, f)), f);
  const [entry] = await ledgerOf(dir);
  assert.equal(entry!.dataset.sha256_of, "manifest");
  assert.deepEqual(entry!.records, { read: 4, removed_for_own_event: 2, removed_for_author: 1, scrubbed: 0, rehydrate: 0 });
});

test("sync refuses bad invocations with exit 2 and creates nothing", async (t) => {
  const dir = await tempDir(t, "compliant-sync-bad-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "a.jsonl"), TWARC2);
  await mkdir(join(dir, "folder"));
  await writeFile(join(dir, "folder", "x.jsonl"), TWARC2);
  await mkdir(join(dir, "ledger-is-a-folder"));
  const cases: Array<[string[], RegExp]> = [
    [["sync", "a.jsonl"], /say where the clean dataset goes: -o <clean-dataset>, or --in-place/],
    [["sync", "a.jsonl", "-o", "b.jsonl", "--in-place"], /pass either -o <clean-dataset> or --in-place, not both/],
    [["sync", "-", "-o", "b.jsonl"], /cannot come from stdin/],
    [["sync", "a.jsonl", "-o", "-"], /not stdout; pass -o <file>/],
    [["sync", "folder", "--in-place"], /a folder or several files cannot be replaced in one step/],
    [["sync", "a.jsonl", "-o", "a.jsonl"], /is the dataset itself/],
    [["sync", "missing.jsonl", "-o", "b.jsonl"], /the dataset missing\.jsonl does not exist/],
    [["sync", "a.jsonl", "-o", "b.jsonl", "--ledger", "ledger-is-a-folder"], /the ledger ledger-is-a-folder is not a regular file/],
    [["sync", "a.jsonl", "-o", "b.jsonl", "--ledger", "no/such/ledger.jsonl"], /cannot write the ledger no\/such\/ledger\.jsonl: the folder .* does not exist/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args, { cwd: dir, env: emuEnv(emu) });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.equal(r.stdout, "");
  }
  assert.deepEqual((await readdir(dir)).sort(), ["a.jsonl", "folder", "ledger-is-a-folder"]);
  assert.equal(emu.jobs().length, 0);
  assert.equal(await readFile(join(dir, "a.jsonl"), "utf8"), TWARC2);
});

test("history: newest first, exit 0 within --max-age, 1 when older or when nothing is recorded, 4 on a line that is not an entry", async (t) => {
  const dir = await tempDir(t, "compliant-history-");
  const entry = (hoursAgo: number, path: string) => ({
    ledger_version: 1,
    started_at: new Date(Date.now() - hoursAgo * 3_600_000 - 60_000).toISOString(),
    finished_at: new Date(Date.now() - hoursAgo * 3_600_000).toISOString(),
    tool: "compliant",
    tool_version: "0.1.0",
    api_origin: "https://api.x.com",
    dataset: { path, bytes: 10, sha256: "0".repeat(64), sha256_of: "file" },
    output: { path, in_place: true, bytes: 9, sha256: "1".repeat(64), sha256_of: "file" },
    removed_file: null,
    types: {
      tweets: { jobs: [], ids_checked: 10, ids_needing_action: 2, by_action: {}, by_reason: {}, errors: {}, results_file: null, results_sha256: null },
      users: { jobs: [], ids_checked: 5, ids_needing_action: 1, by_action: {}, by_reason: {}, errors: {}, results_file: null, results_sha256: null },
    },
    records: { read: 10, removed_for_own_event: 2, removed_for_author: 1, scrubbed: 0, rehydrate: 0 },
  });
  await writeFile(join(dir, "compliance-ledger.jsonl"), line(entry(30, "/data/old.jsonl")) + line(entry(2, "/data/new.jsonl")));
  const fresh = await runCli(["history"], { cwd: dir });
  assert.equal(fresh.code, 0, fresh.stderr);
  const rows = fresh.stdout.trim().split("\n");
  assert.match(rows[0]!, /^FINISHED \(UTC\)\s+AGE\s+POSTS\s+USERS\s+REMOVED\s+SCRUBBED\s+DATASET$/);
  assert.match(rows[1]!, /2\.0 h\s+2\/10\s+1\/5\s+3\s+0\s+\/data\/new\.jsonl \(in place\)$/);
  assert.match(rows[2]!, /30\.0 h .*\/data\/old\.jsonl/);
  assert.match(fresh.stderr, /the last sync finished 2\.0 h ago, within --max-age 24 h/);

  const stale = await runCli(["history", "--max-age", "1.5"], { cwd: dir });
  assert.equal(stale.code, 1);
  assert.equal(stale.stderr.trim().split("\n").length, 1);
  assert.match(stale.stderr, /^compliant: the last sync finished 2\.0 h ago \(.*\), more than --max-age 1\.5 h/);

  const json = await runCli(["history", "--json", "--max-age", "1"], { cwd: dir });
  assert.equal(json.code, 1);
  const doc = JSON.parse(json.stdout) as { stale: boolean; entries: Array<{ dataset: { path: string } }>; max_age_hours: number };
  assert.equal(doc.stale, true);
  assert.equal(doc.max_age_hours, 1);
  assert.deepEqual(doc.entries.map((e) => e.dataset.path), ["/data/new.jsonl", "/data/old.jsonl"]);

  const none = await runCli(["history", "--ledger", "elsewhere.jsonl"], { cwd: dir });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no sync is recorded: the ledger elsewhere\.jsonl does not exist/);

  const badAge = await runCli(["history", "--max-age", "soon"], { cwd: dir });
  assert.equal(badAge.code, 2);
  assert.match(badAge.stderr, /--max-age must be a number of hours above 0/);

  await writeFile(join(dir, "broken.jsonl"), line(entry(1, "/a")) + "{not json\n");
  const broken = await runCli(["history", "--ledger", "broken.jsonl"], { cwd: dir });
  assert.equal(broken.code, 4);
  assert.match(broken.stderr, /line 2 of the ledger broken\.jsonl is not JSON/);
  assert.equal(broken.stdout, "");
});

test("a dataset of user objects: no Post IDs are taken from it, Post results never touch it, and sync removes the users with a user event", async (t) => {
  const dir = await tempDir(t, "compliant-sync-users-");
  const emu = await emulatorFor(t, { flow: "api" });
  const gone = `{"id":"${U("001")}","username":"gone","name":"G"}\n`;
  const kept = `{"id": "${U("060")}", "username":"kept"}\n`;
  // Its ID is a deleted Post's (…10: delete/bounced); as a user it only has a scrub_geo event.
  const sameDigits = `{"id_str":"${P("110")}","screen_name":"v11user"}\n`;
  await writeFile(join(dir, "users.jsonl"), gone + kept + sameDigits);
  const ids = await runCli(["ids", "users.jsonl"], { cwd: dir });
  assert.equal(ids.code, 0, ids.stderr);
  assert.equal(ids.stdout, "");
  assert.match(ids.stderr, /printed 0 Post IDs from 3 lines/);

  // Post results naming the same digits leave user objects alone (the fast path included).
  await writeFile(join(dir, "posts.ndjson"), `{"id":"${P("110")}","action":"delete","created_at":"2024-01-01T00:00:00.000Z","redacted_at":"2024-02-01T00:00:00.000Z","reason":"deleted"}\n{"id":"${U("001")}","action":"delete","created_at":"2024-01-01T00:00:00.000Z","redacted_at":"2024-02-01T00:00:00.000Z","reason":"deleted"}\n`);
  const applied = await runCli(["apply", "-r", "posts.ndjson", "users.jsonl", "-o", "same.jsonl"], { cwd: dir });
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(await readFile(join(dir, "same.jsonl"), "utf8"), gone + kept + sameDigits);

  const r = await runCli(["sync", "users.jsonl", "-o", "clean.jsonl", "--interval", "0.05"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), kept + sameDigits);
  assert.deepEqual(emu.jobs().map((j) => j.type), ["users"], "no tweets job for a dataset without Posts");
  const [entry] = await ledgerOf(dir);
  assert.equal(entry!.types.tweets.ids_checked, 0);
  assert.deepEqual(entry!.types.tweets.jobs, []);
  assert.equal(entry!.types.users.ids_checked, 3);
  assert.deepEqual(entry!.records, { read: 3, removed_for_own_event: 1, removed_for_author: 0, scrubbed: 1, rehydrate: 0 });
  assert.match(r.stderr, /Posts: 0 IDs checked \(no job: none in the dataset\)/);
});

test("sync on Posts with no author field checks their Post IDs only; an unreadable dataset is exit 2 with nothing created and no job", async (t) => {
  const dir = await tempDir(t, "compliant-sync-noauthor-");
  const emu = await emulatorFor(t, { flow: "api" });
  const kept = `{"id":"${P("151")}","text":"no author, kept"}\n`;
  await writeFile(join(dir, "plain.jsonl"), `{"id":"${P("100")}","text":"no author, deleted"}\n${kept}`);
  const r = await runCli(["sync", "plain.jsonl", "-o", "clean.jsonl", "--interval", "0.05"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), kept);
  assert.deepEqual(emu.jobs().map((j) => j.type), ["tweets"]);

  await writeFile(join(dir, "bad.jsonl"), `${kept}{"id": cut\n`);
  const bad = await runCli(["sync", "bad.jsonl", "-o", "bad.clean.jsonl"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split("\n").at(-1), "compliant: the dataset bad.jsonl has 1 invalid line (line 2: not JSON); nothing was created: fix or remove them, then run the sync again.");
  assert.equal(emu.jobs().length, 1, "no job for a dataset that cannot be read");
  assert.deepEqual((await readdir(dir)).sort(), [".state", "bad.jsonl", "clean.jsonl", "compliance-ledger.jsonl", "plain.jsonl"]);
  assert.deepEqual(await readdir(join(dir, ".state", "compliant")), ["results"]);
  assert.equal((await ledgerOf(dir)).length, 1);
});

test("sync --rehydrate lists the edited Posts it keeps as stored; without it the summary says how to list them", async (t) => {
  const dir = await tempDir(t, "compliant-sync-rehydrate-");
  const emu = await emulatorFor(t, { flow: "api" });
  // …11: rehydrate/tweet_edited; …12: rehydrate then delete (the delete wins).
  const edited = `{"id":"${P("211")}","author_id":"${U("060")}","text":"edited since"}\n`;
  await writeFile(join(dir, "a.jsonl"), edited + `{"id":"${P("212")}","author_id":"${U("060")}","text":"edited, then deleted"}\n`);
  const r = await runCli(["sync", "a.jsonl", "-o", "clean.jsonl", "--rehydrate", "refetch.txt", "--interval", "0.05"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), edited);
  assert.equal(await readFile(join(dir, "refetch.txt"), "utf8"), `${P("211")}\n`);
  assert.match(r.stderr, /1 kept out of date \(edited: IDs listed in refetch\.txt\)/);
  const [entry] = await ledgerOf(dir);
  assert.equal(entry!.records.rehydrate, 1);
  assert.equal((entry as unknown as { rehydrate_file: string }).rehydrate_file, join(dir, "refetch.txt"));

  const again = await runCli(["sync", "a.jsonl", "-o", "clean2.jsonl", "--interval", "0.05"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /1 kept out of date \(edited: pass --rehydrate <file> to list them for fetching again\)/);
});
