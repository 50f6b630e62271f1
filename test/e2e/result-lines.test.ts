// The 2026 result lines end to end: invalid_id error records, the actions
// delete / scrub_geo / rehydrate with their new reasons, and an ID with several lines, through
// the real binary: `all` against the emulator's api flow, then `report` and `apply --rehydrate`
// on the file it wrote. Expected figures come from the emulator's own rule (expectedLines /
// expectedEvent / expectedResultsFile), and the fixed list below is also counted by hand.

import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expectedEvent, expectedLines, expectedResultsFile, type EmulatorJobType } from "../../src/emulator/results.js";
import { emuEnv, emulatorFor, runCli, tempDir, type CliResult } from "../helpers/cli.js";

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /;
const lines = (text: string) => text.split("\n").filter((l) => l !== "").map((l) => l.replace(STAMP, ""));

const BASE = 1160404233650352000n;
/** d = 0..15 (every api-flow rule, duplicates included), one ID with no line, and two invalid IDs. */
const IDS = [...Array.from({ length: 16 }, (_, d) => (BASE + BigInt(d)).toString()), (BASE + 50n).toString(), "0", "9223372036854775808"];
const id = (d: number) => (BASE + BigInt(d)).toString();

function assertOk(r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** What the emulator's rule says about a list: distinct IDs by winning kind, lines, invalid IDs. */
function expectedCounts(list: string[], type: EmulatorJobType) {
  const byKind = { delete: 0, scrub: 0, rehydrate: 0, untouched: 0 };
  const byAction: Record<string, number> = {};
  let duplicateLines = 0;
  let events = 0;
  const invalid: string[] = [];
  for (const x of list) {
    const all = expectedLines(x, type, "api");
    const win = expectedEvent(x, type, "api");
    if (win === null) continue;
    if ("error" in win) {
      invalid.push(x);
      continue;
    }
    events += all.length;
    duplicateLines += all.length - 1;
    for (const l of all) if ("action" in l) byAction[l.action] = (byAction[l.action] ?? 0) + 1;
    const kind = win.action === "delete" ? "delete" : win.action === "scrub_geo" || win.reason === "geo_scrubbed" ? "scrub" : win.action === "rehydrate" ? "rehydrate" : "untouched";
    byKind[kind]++;
  }
  return { byKind, byAction, duplicateLines, events, invalid, needing: byKind.delete + byKind.scrub + byKind.rehydrate + byKind.untouched };
}

async function setup(t: TestContext) {
  const dir = await tempDir(t, "compliant-lines-");
  const emu = await emulatorFor(t, { flow: "api", rateLimit: { limit: 100_000, windowSeconds: 900 } });
  const run = (args: string[]) => runCli(args, { cwd: dir, env: emuEnv(emu) });
  return { dir, emu, run };
}

describe("2026 result lines", { concurrency: 2 }, () => {
  for (const type of ["tweets", "users"] as const) {
    it(`all (${type}, api flow): distinct IDs by winning kind, repeated lines, invalid_id warning, exit 0`, async (t) => {
      const { dir, run } = await setup(t);
      await writeFile(join(dir, "ids.txt"), IDS.join("\n") + "\n");
      const want = expectedCounts(IDS, type);
      const r = await run(["all", "--type", type, "-i", "ids.txt", "-o", "results.ndjson", "--interval", "0.05", "--json"]);
      assertOk(r, "all --json");
      assert.equal(await readFile(join(dir, "results.ndjson"), "utf8"), expectedResultsFile(IDS, type, "api"));
      const s = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.equal(s.ids_checked, IDS.length);
      assert.equal(s.ids_needing_action, want.needing);
      assert.deepEqual(s.ids_by_kind, want.byKind);
      assert.equal(s.duplicate_lines, want.duplicateLines);
      assert.equal(s.ids_without_action, IDS.length - want.needing - want.invalid.length);
      assert.deepEqual(s.by_action, Object.fromEntries(Object.entries(want.byAction).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))));
      assert.deepEqual(s.errors, { invalid_id: 2 });
      assert.equal(s.invalid_id_count, 2);
      assert.deepEqual(s.invalid_ids, ["0", "9223372036854775808"]);
      assert.ok(lines(r.stderr).includes("warning: 2 IDs were reported invalid_id by the API and were not checked: 0, 9223372036854775808"), r.stderr);
      if (type === "tweets") {
        // Counted by hand from the rule in src/emulator/results.ts.
        assert.deepEqual(s.ids_by_kind, { delete: 13, scrub: 2, rehydrate: 1, untouched: 0 });
        assert.equal(s.duplicate_lines, 4);
        assert.equal(s.ids_needing_action, 16);
        assert.deepEqual(s.by_action, { delete: 14, rehydrate: 3, scrub_geo: 3 });
      }

      // The human summary says the same.
      const h = await run(["all", "--type", type, "-i", "ids.txt", "-o", "again.ndjson", "--interval", "0.05", "--name", "human"]);
      assertOk(h, "all");
      const l = lines(h.stderr);
      assert.ok(l.includes(`  IDs needing action   ${want.needing}`), h.stderr);
      assert.ok(l.includes(`  IDs to remove        ${want.byKind.delete}`), h.stderr);
      assert.ok(l.includes(`  IDs to scrub geo     ${want.byKind.scrub}`), h.stderr);
      assert.ok(l.includes(`  IDs to rehydrate     ${want.byKind.rehydrate}`), h.stderr);
      assert.ok(l.includes(`  repeated lines       ${want.duplicateLines}`), h.stderr);
      assert.ok(l.includes(`  IDs invalid_id       2`), h.stderr);
      assert.ok(l.includes("warning: 2 IDs were reported invalid_id by the API and were not checked: 0, 9223372036854775808"), h.stderr);
    });
  }

  it("report: exact text and --json for a file with repeated IDs, every action and invalid_id", async (t) => {
    const dir = await tempDir(t, "compliant-lines-");
    await writeFile(join(dir, "r.ndjson"), expectedResultsFile(IDS, "tweets", "api"));
    const json = await runCli(["report", "r.ndjson", "--json"], { cwd: dir });
    assertOk(json, "report --json");
    const bytes = Buffer.byteLength(expectedResultsFile(IDS, "tweets", "api"));
    assert.deepEqual(JSON.parse(json.stdout), {
      results_file: "r.ndjson",
      events: 20,
      error_records: 2,
      blank_lines: 1,
      result_bytes: bytes,
      by_action: { delete: 14, rehydrate: 3, scrub_geo: 3 },
      by_reason: { deleted: 6, suspended: 4, geo_scrubbed: 3, protected: 3, tweet_edited: 3, bounced: 1 },
      by_action_reason: [
        { action: "delete", reason: "deleted", count: 6 },
        { action: "delete", reason: "suspended", count: 4 },
        { action: "delete", reason: "protected", count: 3 },
        { action: "rehydrate", reason: "tweet_edited", count: 3 },
        { action: "scrub_geo", reason: "geo_scrubbed", count: 3 },
        { action: "delete", reason: "bounced", count: 1 },
      ],
      errors: { invalid_id: 2 },
      apply: { delete: 14, scrub: 3, untouched: 3 },
      ids_by_kind: { delete: 13, scrub: 2, rehydrate: 1, untouched: 0 },
      duplicate_lines: 4,
      invalid_id_count: 2,
      invalid_ids: ["0", "9223372036854775808"],
    });
    const text = await runCli(["report", "r.ndjson"], { cwd: dir });
    assertOk(text, "report");
    assert.equal(
      text.stdout,
      "r.ndjson: 20 events, 2 error records\n" +
        "ACTION     REASON        COUNT\n" +
        "delete     deleted           6\n" +
        "delete     suspended         4\n" +
        "delete     protected         3\n" +
        "rehydrate  tweet_edited      3\n" +
        "scrub_geo  geo_scrubbed      3\n" +
        "delete     bounced           1\n" +
        "error records (IDs the API could not check): invalid_id 2\n" +
        "IDs reported invalid_id (not checked, never applied): 2: 0, 9223372036854775808\n" +
        "apply: removes 13, scrubs geo from 2, keeps 1 to fetch again (rehydrate), leaves 0 untouched (actions it does not apply)\n" +
        "repeated lines: 4 (an ID with several lines counts once, under its most severe action)\n",
    );
  });

  it("report lists at most 10 invalid IDs in text, all of them in --json", async (t) => {
    const dir = await tempDir(t, "compliant-lines-");
    const bad = Array.from({ length: 12 }, (_, i) => "0".repeat(i + 1));
    await writeFile(join(dir, "r.ndjson"), expectedResultsFile(bad, "tweets", "api"));
    const text = await runCli(["report", "r.ndjson"], { cwd: dir });
    assertOk(text, "report");
    assert.ok(text.stdout.includes(`IDs reported invalid_id (not checked, never applied): 12: ${bad.slice(0, 10).join(", ")}, …\n`), text.stdout);
    const json = await runCli(["report", "r.ndjson", "--json"], { cwd: dir });
    const doc = JSON.parse(json.stdout) as { invalid_id_count: number; invalid_ids: string[] };
    assert.equal(doc.invalid_id_count, 12);
    assert.deepEqual(doc.invalid_ids, bad);
  });

  it("apply --rehydrate: removes, scrubs, keeps edited Posts and lists each of their IDs once; never applies invalid_id", async (t) => {
    const dir = await tempDir(t, "compliant-lines-");
    await writeFile(join(dir, "r.ndjson"), expectedResultsFile(IDS, "tweets", "api"));
    const geo = ',"geo":{"place_id":"01a9a39529b27f36"}';
    const post = (x: string, extra = "") => `{"id":"${x}","text":"post ${x}","author_id":"7"${extra}}`;
    // Every ID once (with geo on the scrub ones), the edited Post twice, and a page holding it.
    const records = IDS.map((x) => post(x, x === id(9) || x === id(14) ? geo : ""));
    records.push(post(id(11)));
    records.push(`{"data":[${post(id(11))},${post(id(50))}]}`);
    await writeFile(join(dir, "data.jsonl"), records.join("\n") + "\n");
    const r = await runCli(["apply", "-r", "r.ndjson", "data.jsonl", "-o", "clean.jsonl", "--rehydrate", "refetch.txt", "--json"], { cwd: dir });
    assertOk(r, "apply --rehydrate");
    assert.equal(await readFile(join(dir, "refetch.txt"), "utf8"), `${id(11)}\n`);
    const kept = [
      post(id(9)), // scrubbed
      post(id(11)),
      post(id(14)), // scrubbed
      post(id(16 + 34)), // no line
      post("0"),
      post("9223372036854775808"),
      post(id(11)),
      `{"data":[${post(id(11))},${post(id(50))}]}`,
    ];
    assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), kept.join("\n") + "\n");
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(s.rehydrate_file, "refetch.txt");
    assert.equal(s.removed_records, 13);
    assert.equal(s.scrubbed_records, 2);
    assert.equal(s.rehydrate_records, 3);
    assert.equal(s.untouched_records, 3);
    assert.equal(s.rehydrate_ids, 1);
    assert.deepEqual(s.results, {
      events: 20,
      error_records: 2,
      delete: 14,
      scrub: 3,
      untouched: 3,
      rehydrate: 3,
      untouched_actions: { rehydrate: 3 },
      ids_by_kind: { delete: 13, scrub: 2, rehydrate: 1, untouched: 0 },
      duplicate_lines: 4,
      invalid_id_count: 2,
    });
    assert.doesNotMatch(r.stderr, /does not apply/, "rehydrate is not an unknown action");
    assert.match(r.stderr, /warning: 2 result lines are error records in r\.ndjson \(invalid_id: 2\)/);

    // The human summary.
    const h = await runCli(["apply", "-r", "r.ndjson", "data.jsonl", "-o", "clean2.jsonl", "--rehydrate", "refetch2.txt"], { cwd: dir });
    assertOk(h, "apply");
    assert.match(h.stderr, /read 21 lines of data\.jsonl, removed 13 records \(13 lines dropped\), scrubbed 2, rewrote 2 lines, kept 6 unchanged, kept 3 out of date \(rehydrate: 1 ID listed\); wrote clean2\.jsonl and refetch2\.txt/);
  });

  it("apply: a bad --rehydrate path is exit 2 before anything is written", async (t) => {
    const dir = await tempDir(t, "compliant-lines-");
    await writeFile(join(dir, "r.ndjson"), expectedResultsFile(IDS, "tweets", "api"));
    await writeFile(join(dir, "data.jsonl"), IDS.map((x) => `{"id":"${x}","text":"t"}`).join("\n") + "\n");
    await writeFile(join(dir, "taken.txt"), "keep me\n");
    const before = (await readdir(dir)).sort();
    const cases: Array<[string[], RegExp]> = [
      [["--rehydrate", "no/such/dir/ids.txt"], /cannot write the rehydrate file no\/such\/dir\/ids\.txt: the folder .* does not exist/],
      [["--rehydrate", "data.jsonl"], /the rehydrate file data\.jsonl is the dataset itself/],
      [["--rehydrate", "r.ndjson"], /the rehydrate file r\.ndjson is the results file itself/],
      [["--rehydrate", "out.jsonl"], /the rehydrate file out\.jsonl is the output file itself/],
      [["--rehydrate", "gone.jsonl", "--removed", "gone.jsonl"], /the rehydrate file gone\.jsonl is the removed file itself/],
      [["--rehydrate", "taken.txt"], /taken\.txt already exists/],
      [["--rehydrate", "-"], /--rehydrate needs a file path/],
    ];
    for (const [extra, message] of cases) {
      const r = await runCli(["apply", "-r", "r.ndjson", "data.jsonl", "-o", "out.jsonl", ...extra], { cwd: dir });
      assert.equal(r.code, 2, `${extra.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, message);
      assert.deepEqual((await readdir(dir)).sort(), before, `${extra.join(" ")}: nothing written`);
    }
    assert.equal(await readFile(join(dir, "taken.txt"), "utf8"), "keep me\n");
    assert.equal(existsSync(join(dir, "out.jsonl")), false);
    // --force replaces it.
    const ok = await runCli(["apply", "-r", "r.ndjson", "data.jsonl", "-o", "out.jsonl", "--rehydrate", "taken.txt", "--force"], { cwd: dir });
    assertOk(ok, "apply --force");
    assert.equal(await readFile(join(dir, "taken.txt"), "utf8"), `${id(11)}\n`);
  });
});
