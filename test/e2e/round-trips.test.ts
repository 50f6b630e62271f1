// The archive-maintenance pipeline of the README for the archive formats the other round trips
// (pipeline.test.ts: JSON Lines; datasets.test.ts: an academictwitteR folder; csv.test.ts: a
// twarc-csv file) leave out, through the real binary and the built-in emulator:
// `compliant ids <archive> | compliant all --emulator -i - -o results.ndjson`, then
// `compliant apply --results results.ndjson <archive>`. The emulator's results are a pure
// function of each ID (src/emulator/results.ts), so the test knows which records go.

import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { expectedEvent, expectedResultsFile } from "../../src/emulator/server.js";
import { runCli, tempDir, type CliResult } from "../helpers/cli.js";
import { show } from "./unattended-helpers.js";

/** Post k: d = k mod 100 picks its fate (api flow: 0-8, 10, 12, 13, 15 delete; 9, 14 scrub_geo; 11 rehydrate). */
const ID = (k: number) => (1500000000000000000n + BigInt(k)).toString();
/** A Post outside the archive's own, quoted by some of its Posts (same d as k). */
const REF = (k: number) => (1600000000000000000n + BigInt(k)).toString();

function action(id: string): string | undefined {
  const ev = expectedEvent(id, "tweets", "api");
  return ev && "action" in ev ? ev.action : undefined;
}

/** ids | all --emulator --emulator-flow api -i - -o results.ndjson, checked; returns the listed IDs. */
async function check(dir: string, archive: string[]): Promise<string[]> {
  const listed = await runCli(["ids", ...archive], { cwd: dir });
  assert.equal(listed.code, 0, show(listed));
  const checked = await runCli(["all", "--emulator", "--emulator-flow", "api", "--type", "tweets", "-i", "-", "-o", "results.ndjson", "--interval", "0.05"], { cwd: dir, stdin: listed.stdout });
  assert.equal(checked.code, 0, show(checked));
  const ids = listed.stdout.trim().split("\n");
  assert.equal(await readFile(join(dir, "results.ndjson"), "utf8"), expectedResultsFile(ids, "tweets", "api"));
  return ids;
}

function ok(r: CliResult): void {
  assert.equal(r.code, 0, show(r));
}

test("round trip on a gzipped twarc2 file (.jsonl.gz of API pages): the cleaned file is gzip and holds exactly the expected pages", async (t) => {
  const dir = await tempDir(t, "compliant-rt-twarc2-");
  // Five pages; the first (Posts 0-8) is all deleted, the third and fourth need nothing.
  const bounds: Array<[number, number]> = [[0, 9], [9, 20], [20, 60], [60, 100], [100, 120]];
  // Every fifth Post quotes REF(k + 90): Posts 16, 111 and 116 are kept and quote a deleted one.
  const quotes = (k: number) => k % 5 === 1;
  const post = (k: number) => ({
    id: ID(k),
    text: `post ${k}`,
    author_id: "42",
    geo: { place_id: `pl${k}` },
    ...(quotes(k) ? { referenced_tweets: [{ type: "quoted", id: REF(k + 90) }] } : {}),
  });
  const page = (ks: number[]) => ({
    data: ks.map(post),
    includes: {
      users: [{ id: "42", username: "archivist" }],
      tweets: ks.filter(quotes).map((k) => ({ id: REF(k + 90), text: `quoted by ${k}`, author_id: "43" })),
      places: ks.map((k) => ({ id: `pl${k}`, full_name: `Place ${k}` })),
    },
    meta: { result_count: ks.length, newest_id: ID(ks[ks.length - 1]!), oldest_id: ID(ks[0]!) },
    __twarc: { url: "https://api.twitter.com/2/tweets/search/all?query=x", version: "2.14.0", retrieved_at: "2023-01-01T00:00:00+00:00" },
  });
  const range = ([a, b]: [number, number]) => Array.from({ length: b - a }, (_, i) => a + i);
  const lines = bounds.map((b) => JSON.stringify(page(range(b))));
  await writeFile(join(dir, "tweets.jsonl.gz"), gzipSync(lines.join("\n") + "\n"));

  const ids = await check(dir, ["tweets.jsonl.gz"]);
  const posts = range([0, 120]);
  assert.deepEqual([...ids].sort(), [...posts.map(ID), ...posts.filter(quotes).map((k) => REF(k + 90))].sort(), "data and includes.tweets IDs");

  ok(await runCli(["apply", "--results", "results.ndjson", "tweets.jsonl.gz"], { cwd: dir }));
  const gz = await readFile(join(dir, "tweets.compliant.jsonl.gz"));
  assert.deepEqual([...gz.subarray(0, 2)], [0x1f, 0x8b], "the cleaned file is gzip");
  const out = gunzipSync(gz).toString("utf8");

  // What each page should become (README, "apply rules").
  const expected: string[] = [];
  for (const [i, b] of bounds.entries()) {
    const ks = range(b);
    const kept = ks.filter((k) => action(ID(k)) !== "delete");
    if (kept.length === 0) continue;
    const touched = kept.length < ks.length || ks.some((k) => action(ID(k)) === "scrub_geo" || (quotes(k) && action(REF(k + 90)) === "delete"));
    if (!touched) {
      expected.push(lines[i]!); // byte for byte
      continue;
    }
    const original = page(ks);
    const data = kept.map((k) => {
      const p: Record<string, unknown> = post(k);
      if (action(ID(k)) === "scrub_geo") delete p.geo;
      return p;
    });
    const tweets = original.includes.tweets.filter((q) => action(q.id) !== "delete");
    const places = original.includes.places.filter((pl) => kept.some((k) => `pl${k}` === pl.id && action(ID(k)) !== "scrub_geo"));
    const includes: Record<string, unknown> = { users: original.includes.users };
    if (tweets.length > 0) includes.tweets = tweets;
    if (places.length > 0) includes.places = places;
    expected.push(JSON.stringify({ data, includes, meta: { ...original.meta, result_count: kept.length }, __twarc: original.__twarc }));
  }
  assert.equal(expected.length, 4, "the all-deleted page is dropped");
  const got = out.split("\n");
  assert.equal(got.pop(), "", "ends in a line end");
  assert.deepEqual(got.map((l) => JSON.parse(l) as unknown), expected.map((l) => JSON.parse(l) as unknown));
  assert.equal(got[1], lines[2], "an untouched page keeps its bytes");
  assert.equal(got[2], lines[3], "an untouched page keeps its bytes");
});

test("round trip on a folder of CSV files (twarc-csv columns, one gzipped): each file loses exactly its deleted rows", async (t) => {
  const dir = await tempDir(t, "compliant-rt-csvs-");
  const header = "id,author_id,text,geo.coordinates.coordinates,geo.place_id\n";
  const row = (k: number) => `${ID(k)},42,"post ${k}, with a comma","[1.5, 2.5]",pl${k}\n`;
  const files: Array<[string, number[]]> = [
    ["2023-01.csv", Array.from({ length: 40 }, (_, i) => i)],
    ["2023-02.csv.gz", Array.from({ length: 40 }, (_, i) => 40 + i)],
    ["2023-03.csv", Array.from({ length: 40 }, (_, i) => 80 + i)],
  ];
  await mkdir(join(dir, "csv"));
  for (const [name, ks] of files) {
    const text = header + ks.map(row).join("");
    await writeFile(join(dir, "csv", name), name.endsWith(".gz") ? gzipSync(text) : text);
  }
  const ids = await check(dir, ["csv"]);
  assert.deepEqual(ids, files.flatMap(([, ks]) => ks.map(ID)));

  ok(await runCli(["apply", "--results", "results.ndjson", "csv", "-o", "csv-clean"], { cwd: dir }));
  assert.deepEqual((await readdir(join(dir, "csv-clean"))).sort(), files.map(([name]) => name));
  for (const [name, ks] of files) {
    const raw = await readFile(join(dir, "csv-clean", name));
    const text = name.endsWith(".gz") ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
    const want = ks
      .filter((k) => action(ID(k)) !== "delete")
      .map((k) => (action(ID(k)) === "scrub_geo" ? `${ID(k)},42,"post ${k}, with a comma",,\n` : row(k)))
      .join("");
    assert.equal(text, header + want, name);
  }
});

test("round trip on a folder of v1.1 files rotated by twarc (tweets-0001.jsonl.gz, …): deleted Posts and their retweets go, geo is scrubbed", async (t) => {
  const dir = await tempDir(t, "compliant-rt-v11-");
  // Post k (v1.1: numeric id and id_str); every tenth, from 7, is a retweet of Post k - 7.
  const geo = (k: number) => `"geo":{"type":"Point","coordinates":[51.5,-0.1]},"coordinates":{"type":"Point","coordinates":[-0.1,51.5]},"place":{"id":"pl${k}","full_name":"Place ${k}"}`;
  const tweet = (k: number, scrub: boolean) =>
    `{"created_at":"Sun Aug 11 04:00:00 +0000 2019","id":${ID(k)},"id_str":"${ID(k)}","text":"post ${k}","user":{"id":42,"id_str":"42","screen_name":"archivist"}${scrub ? "" : `,${geo(k)}`}}`;
  const line = (k: number, scrubbed = (id: string) => action(id) === "scrub_geo") => {
    const own = tweet(k, scrubbed(ID(k)));
    if (k % 10 !== 7) return own;
    return `${own.slice(0, -1)},"retweeted_status":${tweet(k - 7, scrubbed(ID(k - 7)))}}`;
  };
  const files: Array<[string, number[]]> = [
    ["tweets-0001.jsonl.gz", Array.from({ length: 60 }, (_, i) => i)],
    ["tweets-0002.jsonl.gz", Array.from({ length: 60 }, (_, i) => 60 + i)],
  ];
  await mkdir(join(dir, "v11"));
  for (const [name, ks] of files) await writeFile(join(dir, "v11", name), gzipSync(ks.map((k) => line(k, () => false)).join("\n") + "\n"));
  await check(dir, ["v11"]);

  ok(await runCli(["apply", "--results", "results.ndjson", "v11"], { cwd: dir }));
  for (const [name, ks] of files) {
    const out = gunzipSync(await readFile(join(dir, "v11.compliant", name))).toString("utf8");
    const kept = ks.filter((k) => action(ID(k)) !== "delete" && !(k % 10 === 7 && action(ID(k - 7)) === "delete"));
    assert.ok(kept.length < ks.length, "some are deleted");
    assert.deepEqual(out.split("\n"), [...kept.map((k) => line(k)), ""], name);
  }
});

test("round trip on a JSON array file: the array keeps its layout, less the deleted Posts", async (t) => {
  const dir = await tempDir(t, "compliant-rt-array-");
  const ks = Array.from({ length: 120 }, (_, i) => i);
  const element = (k: number, scrub = false) => `{"id":"${ID(k)}","text":"post ${k}","author_id":"42"${scrub ? "" : `,"geo":{"place_id":"pl${k}"}`}}`;
  await writeFile(join(dir, "export.json"), `[\n  ${ks.map((k) => element(k)).join(",\n  ")}\n]\n`);
  assert.deepEqual(await check(dir, ["export.json"]), ks.map(ID));

  ok(await runCli(["apply", "--results", "results.ndjson", "export.json", "-o", "export.clean.json"], { cwd: dir }));
  const kept = ks.filter((k) => action(ID(k)) !== "delete");
  assert.equal(await readFile(join(dir, "export.clean.json"), "utf8"), `[\n  ${kept.map((k) => element(k, action(ID(k)) === "scrub_geo")).join(",\n  ")}\n]\n`);
});
