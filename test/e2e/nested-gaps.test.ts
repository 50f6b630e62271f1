// Nested copies (README "Nested copies") through the real binary, in the places the JSON Lines
// path was not alone: JSON array files, bare `{"type":"retweeted","id":…}` references, and a
// folder of v1.1 rotating gzip files (twarc1, Hydrator). Fixtures: test/fixtures/datasets/nested/.
// Untouched records are compared with their input bytes.

import assert from "node:assert/strict";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";
import { show } from "./unattended-helpers.js";

const FIX = join(ROOT, "test", "fixtures", "datasets", "nested");
const P = (n: number) => `16000000000000${String(n).padStart(5, "0")}`;

async function world(t: TestContext, ...names: string[]): Promise<string> {
  const dir = await tempDir(t, "compliant-nested-");
  for (const n of ["results-tweets.ndjson", "results-users.ndjson", ...names]) await cp(join(FIX, n), join(dir, n));
  return dir;
}

/** The array's element lines as written (one element a line in the fixture), without the trailing comma. */
function elements(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("  {"))
    .map((l) => l.trim().replace(/,$/, ""));
}

test("a JSON array: copies inside elements are judged like those in JSON Lines, and the array stays valid", async (t) => {
  const dir = await world(t, "array.json");
  const input = await readFile(join(dir, "array.json"), "utf8");
  const E = elements(input);
  const r = await runCli(["apply", "-r", "results-tweets.ndjson", "array.json", "-o", "out.json", "--removed", "removed.jsonl"], { cwd: dir });
  assert.equal(r.code, 0, show(r));
  const out = await readFile(join(dir, "out.json"), "utf8");
  assert.doesNotThrow(() => JSON.parse(out), out);
  assert.equal(
    out,
    "[\n  " +
      [
        // A quote keeps its text and loses the copy of the deleted Post.
        `{"id":"${P(401)}","text":"quoting a deleted Post","author_id":"300","referenced_tweets":[{"type":"quoted","id":"${P(2)}"}]}`,
        // The retweet of a deleted Post (402) is gone; the retweeted copy of a scrubbed Post loses its geo.
        `{"id_str":"${P(403)}","text":"RT @c: here","user":{"id_str":"300"},"retweeted_status":{"id_str":"${P(3)}","text":"here","user":{"id_str":"203"},"lang":"en"}}`,
        `{"id_str":"${P(404)}","text":"a v1.1 quote","user":{"id_str":"301"},"quoted_status_id_str":"${P(2)}"}`,
        E[4],
        E[5],
        E[6],
        // The bare retweet reference (408, last) is gone with its comma.
      ].join(",\n  ") +
      "\n]\n",
  );
  assert.equal(
    await readFile(join(dir, "removed.jsonl"), "utf8"),
    [
      `{"type":"quoted","id":"${P(2)}","text":"quoted, deleted","author":{"id":"202","username":"b"}}`,
      E[1],
      `{"id_str":"${P(2)}","text":"quoted, deleted","user":{"id_str":"202"}}`,
      E[7],
      "",
    ].join("\n"),
  );
  assert.match(r.stderr, /read 8 elements of array\.json/);
});

test("a JSON array --type users: a removed user's copies go, down to an in_reply_to_user object", async (t) => {
  const dir = await world(t, "array.json");
  const E = elements(await readFile(join(dir, "array.json"), "utf8"));
  const r = await runCli(["apply", "--type", "users", "-r", "results-users.ndjson", "array.json", "-o", "out.json"], { cwd: dir });
  assert.equal(r.code, 0, show(r));
  const out = await readFile(join(dir, "out.json"), "utf8");
  assert.doesNotThrow(() => JSON.parse(out), out);
  assert.equal(
    out,
    "[\n  " +
      [
        // The quoted copy is judged by its nested author object (202, deleted).
        `{"id":"${P(401)}","text":"quoting a deleted Post","author_id":"300","referenced_tweets":[{"type":"quoted","id":"${P(2)}"}]}`,
        `{"id_str":"${P(403)}","text":"RT @c: here","user":{"id_str":"300"},"retweeted_status":{"id_str":"${P(3)}","text":"here","user":{"id_str":"203"},"lang":"en"}}`,
        `{"id_str":"${P(404)}","text":"a v1.1 quote","user":{"id_str":"301"},"quoted_status_id_str":"${P(2)}"}`,
        E[4],
        `{"id":"${P(406)}","text":"@a hi","author_id":"301","in_reply_to_user_id":"201"}`,
        E[6],
        // A bare reference names no author: kept.
        E[7],
      ].join(",\n  ") +
      "\n]\n",
  );
});

test("ids on a JSON array lists the IDs found only in copies", async (t) => {
  const dir = await world(t, "array.json");
  const tweets = await runCli(["ids", "array.json"], { cwd: dir });
  assert.equal(tweets.code, 0, show(tweets));
  assert.deepEqual(tweets.stdout.trim().split("\n"), [401, 2, 402, 1, 403, 3, 404, 2, 405, 406, 407, 408, 1].map(P));
  const users = await runCli(["ids", "--type", "users", "array.json"], { cwd: dir });
  assert.equal(users.code, 0, show(users));
  assert.deepEqual(users.stdout.trim().split("\n"), ["300", "202", "300", "201", "300", "203", "301", "202", "302", "301", "201", "300", "300"]);
});

test("a bare retweeted reference to a deleted Post removes the retweet, as the CSV columns do; quoted and replied_to references stay", async (t) => {
  const dir = await world(t, "v2-bare.jsonl", "pages-bare.jsonl");
  const L = (await readFile(join(dir, "v2-bare.jsonl"), "utf8")).split("\n");
  const r = await runCli(["apply", "-r", "results-tweets.ndjson", "v2-bare.jsonl", "-o", "out.jsonl", "--removed", "removed.jsonl", "--rehydrate", "rehydrate.txt"], { cwd: dir });
  assert.equal(r.code, 0, show(r));
  assert.equal(await readFile(join(dir, "out.jsonl"), "utf8"), [L[1], L[2], L[3], L[4], ""].join("\n"));
  assert.equal(await readFile(join(dir, "removed.jsonl"), "utf8"), L[0] + "\n");
  // A reference to an edited Post is not a copy: nothing to fetch again.
  assert.equal(await readFile(join(dir, "rehydrate.txt"), "utf8"), "");

  const pages = await runCli(["apply", "-r", "results-tweets.ndjson", "pages-bare.jsonl", "-o", "pages-out.jsonl"], { cwd: dir });
  assert.equal(pages.code, 0, show(pages));
  const PL = (await readFile(join(dir, "pages-bare.jsonl"), "utf8")).split("\n");
  assert.equal(
    await readFile(join(dir, "pages-out.jsonl"), "utf8"),
    // The first page keeps its quote and a true result_count; the second held only the retweet (and its target) and goes.
    `{"data":[{"id":"${P(512)}","text":"quoting a deleted Post","author_id":"300","referenced_tweets":[{"type":"quoted","id":"${P(2)}"}]}],"meta":{"result_count":1,"newest_id":"${P(512)}"}}\n` +
      PL[2] +
      "\n",
  );

  // ids lists the retweeted Post, which decides the record's fate; bare quotes and replies are not copies.
  const ids = await runCli(["ids", "v2-bare.jsonl"], { cwd: dir });
  assert.equal(ids.code, 0, show(ids));
  assert.deepEqual(ids.stdout.trim().split("\n"), [501, 1, 502, 503, 504, 9, 505, 5].map(P));
});

/** A folder of rotating gzip files, as twarc1 and Hydrator write them. */
async function rotating(t: TestContext): Promise<{ dir: string; plain: string[][] }> {
  const dir = await world(t);
  await mkdir(join(dir, "archive"));
  const plain: string[][] = [];
  for (const name of ["tweets-0001.jsonl", "tweets-0002.jsonl"]) {
    const text = await readFile(join(FIX, "rotating", name), "utf8");
    plain.push(text.split("\n"));
    await writeFile(join(dir, "archive", `${name}.gz`), gzipSync(text));
  }
  return { dir, plain };
}

test("v1.1 rotating gzip files in a folder: ids follows retweeted and quoted copies, users too", async (t) => {
  const { dir } = await rotating(t);
  const tweets = await runCli(["ids", "archive"], { cwd: dir });
  assert.equal(tweets.code, 0, show(tweets));
  assert.deepEqual(tweets.stdout.trim().split("\n"), [601, 1, 602, 2, 603, 604, 3, 605, 606, 2, 607].map(P));
  const users = await runCli(["ids", "--type", "users", "archive"], { cwd: dir });
  assert.equal(users.code, 0, show(users));
  assert.deepEqual(users.stdout.trim().split("\n"), ["300", "201", "301", "202", "302", "300", "203", "302", "304", "202", "305"]);
});

test("v1.1 rotating gzip files in a folder: apply writes each file gzipped under its own name, with the nested rules", async (t) => {
  const { dir, plain } = await rotating(t);
  const [A, B] = plain as [string[], string[]];
  const r = await runCli(["apply", "-r", "results-tweets.ndjson", "archive", "-o", "clean"], { cwd: dir });
  assert.equal(r.code, 0, show(r));
  const one = await readFile(join(dir, "clean", "tweets-0001.jsonl.gz"));
  const two = await readFile(join(dir, "clean", "tweets-0002.jsonl.gz"));
  assert.equal(one[0], 0x1f, "written gzipped");
  assert.equal(two[0], 0x1f, "written gzipped");
  assert.equal(
    gunzipSync(one).toString(),
    // The retweet of a deleted Post goes; the quote loses its copy; the untouched line is its own bytes.
    `{"created_at":"Sat Aug 10 12:00:02 +0000 2019","id":1600000000000000602,"id_str":"${P(602)}","text":"look at this","user":{"id":301,"id_str":"301"},"is_quote_status":true,"quoted_status_id_str":"${P(2)}","coordinates":null,"place":null}\n` +
      A[2] +
      "\n",
  );
  assert.equal(
    gunzipSync(two).toString(),
    // Geo scrubbed in the retweeted copy, a deleted Post taken out of a quote inside a quote.
    `{"created_at":"Sat Aug 10 12:01:01 +0000 2019","id":1600000000000000604,"id_str":"${P(604)}","text":"RT @c: here","user":{"id":300,"id_str":"300"},"retweeted_status":{"id":1600000000000000003,"id_str":"${P(3)}","text":"here","user":{"id":203,"id_str":"203"}},"coordinates":null,"place":null}\n` +
      `{"created_at":"Sat Aug 10 12:01:02 +0000 2019","id":1600000000000000605,"id_str":"${P(605)}","text":"a quote of a quote","user":{"id":302,"id_str":"302"},"quoted_status":{"id":1600000000000000606,"id_str":"${P(606)}","text":"quoting","user":{"id":304,"id_str":"304"}}}\n` +
      B[2] +
      "\n",
  );

  const users = await runCli(["apply", "--type", "users", "-r", "results-users.ndjson", "archive", "-o", "clean-users"], { cwd: dir });
  assert.equal(users.code, 0, show(users));
  assert.equal(gunzipSync(await readFile(join(dir, "clean-users", "tweets-0001.jsonl.gz"))).toString(), gunzipSync(one).toString());
  assert.equal(gunzipSync(await readFile(join(dir, "clean-users", "tweets-0002.jsonl.gz"))).toString(), gunzipSync(two).toString());
});
