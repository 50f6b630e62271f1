import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { run as apply } from "../../src/jobs/apply.js";
import { run as ids } from "../../src/jobs/ids.js";
import { fakeContext, rawLines, workdir } from "../helpers/fake-context.js";

// Nested copies: Posts and users embedded in other records (test/fixtures/datasets/nested/).
// Untouched lines are compared with the input lines themselves (L[i]), byte for byte.

const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");

async function run(file: string, type: "tweets" | "users") {
  const dir = workdir();
  const f = fakeContext(dir);
  await apply(
    { args: [`nested/${file}`], results: `nested/results-${type}.ndjson`, type, output: "out.jsonl", removed: "removed.jsonl", rehydrate: "rehydrate.txt" },
    f.ctx,
  );
  return { L: rawLines(read(dir, `nested/${file}`)), out: read(dir, "out.jsonl"), removed: read(dir, "removed.jsonl"), rehydrate: read(dir, "rehydrate.txt"), err: f.stderr() };
}

async function idsOf(file: string, type: "tweets" | "users"): Promise<string[]> {
  const f = fakeContext(workdir());
  await ids({ args: [`nested/${file}`], type } as Parameters<typeof ids>[0], f.ctx);
  return f.stdout().toString().trim().split("\n");
}

const P = (n: number) => `16000000000000${String(n).padStart(5, "0")}`;

test("v1.1: a retweet of a deleted Post goes, a quote loses its quoted_status, geo is scrubbed in a retweeted copy", async () => {
  const { L, out, removed, rehydrate, err } = await run("v11.jsonl", "tweets");
  assert.equal(
    out,
    "{\"created_at\":\"Sat Aug 10 12:00:02 +0000 2019\",\"id\":1600000000000000102,\"id_str\":\"1600000000000000102\",\"text\":\"look at this\",\"user\":{\"id\":301,\"id_str\":\"301\"},\"is_quote_status\":true,\"quoted_status_id\":1600000000000000002,\"quoted_status_id_str\":\"1600000000000000002\",\"quoted_status_permalink\":{\"expanded\":\"https://twitter.com/b/status/1600000000000000002\"},\"geo\":null}\n" +
      "{\"created_at\":\"Sat Aug 10 12:00:03 +0000 2019\",\"id\":1600000000000000103,\"id_str\":\"1600000000000000103\",\"text\":\"RT @c: here\",\"user\":{\"id\":300,\"id_str\":\"300\"},\"coordinates\":null,\"retweeted_status\":{\"id\":1600000000000000003,\"id_str\":\"1600000000000000003\",\"text\":\"here\",\"user\":{\"id\":203,\"id_str\":\"203\"},\"lang\":\"en\"}}\n" +
      L[3]! +
      "{\"id_str\":\"1600000000000000105\",\"text\":\"RT of an edited Post that quotes a deleted one\",\"user\":{\"id_str\":\"301\"},\"retweeted_status\":{\"id_str\":\"1600000000000000005\",\"text\":\"edited\",\"user\":{\"id_str\":\"205\"}}}\n" +
      L[5]!,
  );
  assert.equal(removed, "{\"created_at\":\"Sat Aug 10 12:00:01 +0000 2019\",\"id\":1600000000000000101,\"id_str\":\"1600000000000000101\",\"text\":\"RT @a: gone\",\"user\":{\"id\":300,\"id_str\":\"300\"},\"retweeted_status\":{\"id\":1600000000000000001,\"id_str\":\"1600000000000000001\",\"text\":\"gone\",\"user\":{\"id\":201,\"id_str\":\"201\"}}}\n{\"id\":1600000000000000002,\"id_str\":\"1600000000000000002\",\"text\":\"quoted, deleted\",\"user\":{\"id\":202,\"id_str\":\"202\"}}\n{\"id_str\":\"1600000000000000002\",\"text\":\"quoted, deleted\",\"user\":{\"id_str\":\"202\"}}\n");
  // The retweeted copy of an edited Post is listed for fetching again.
  assert.equal(rehydrate, `${P(5)}\n`);
  assert.match(err, /read 6 lines of nested\/v11\.jsonl, removed 3 records \(1 line dropped\), scrubbed 1, rewrote 3 lines, kept 2 unchanged/);
});

test("v1.1 --type users: the copies are judged by their users", async () => {
  const { L, out, removed } = await run("v11.jsonl", "users");
  assert.equal(
    out,
    "{\"created_at\":\"Sat Aug 10 12:00:02 +0000 2019\",\"id\":1600000000000000102,\"id_str\":\"1600000000000000102\",\"text\":\"look at this\",\"user\":{\"id\":301,\"id_str\":\"301\"},\"is_quote_status\":true,\"quoted_status_id\":1600000000000000002,\"quoted_status_id_str\":\"1600000000000000002\",\"quoted_status_permalink\":{\"expanded\":\"https://twitter.com/b/status/1600000000000000002\"},\"geo\":null}\n" +
      "{\"created_at\":\"Sat Aug 10 12:00:03 +0000 2019\",\"id\":1600000000000000103,\"id_str\":\"1600000000000000103\",\"text\":\"RT @c: here\",\"user\":{\"id\":300,\"id_str\":\"300\"},\"coordinates\":null,\"retweeted_status\":{\"id\":1600000000000000003,\"id_str\":\"1600000000000000003\",\"text\":\"here\",\"user\":{\"id\":203,\"id_str\":\"203\"},\"lang\":\"en\"}}\n" +
      L[3]! +
      "{\"id_str\":\"1600000000000000105\",\"text\":\"RT of an edited Post that quotes a deleted one\",\"user\":{\"id_str\":\"301\"},\"retweeted_status\":{\"id_str\":\"1600000000000000005\",\"text\":\"edited\",\"user\":{\"id_str\":\"205\"}}}\n" +
      L[5]!,
  );
  assert.equal(removed, "{\"created_at\":\"Sat Aug 10 12:00:01 +0000 2019\",\"id\":1600000000000000101,\"id_str\":\"1600000000000000101\",\"text\":\"RT @a: gone\",\"user\":{\"id\":300,\"id_str\":\"300\"},\"retweeted_status\":{\"id\":1600000000000000001,\"id_str\":\"1600000000000000001\",\"text\":\"gone\",\"user\":{\"id\":201,\"id_str\":\"201\"}}}\n{\"id\":1600000000000000002,\"id_str\":\"1600000000000000002\",\"text\":\"quoted, deleted\",\"user\":{\"id\":202,\"id_str\":\"202\"}}\n{\"id_str\":\"1600000000000000002\",\"text\":\"quoted, deleted\",\"user\":{\"id_str\":\"202\"}}\n");
});

test("twarc2 flattened and 4CAT: expanded referenced_tweets copies of deleted Posts are cut back to {type, id}", async () => {
  const { L, out, removed } = await run("flat.jsonl", "tweets");
  assert.equal(
    out,
    "{\"id\":\"1600000000000000202\",\"text\":\"quote and reply\",\"author_id\":\"301\",\"author\":{\"id\":\"301\",\"username\":\"y\"},\"referenced_tweets\":[{\"type\":\"quoted\",\"id\":\"1600000000000000002\"},{\"type\":\"replied_to\",\"id\":\"1600000000000000004\"}],\"in_reply_to_user_id\":\"204\",\"in_reply_to_user\":{\"id\":\"204\",\"username\":\"d\"}}\n" +
      "{\"id\":\"1600000000000000203\",\"text\":\"quoting a geo post\",\"author_id\":\"300\",\"referenced_tweets\":[{\"type\":\"quoted\",\"id\":\"1600000000000000003\",\"text\":\"here\",\"author_id\":\"203\"}]}\n" +
      // L[3], a retweet by bare reference {type: "retweeted", id} of a deleted Post, goes too.
      L[4]! +
      "{\"id\":\"1600000000000000206\",\"text\":\"4CAT quote\",\"author_user\":{\"id\":\"302\",\"username\":\"z\"},\"referenced_tweets\":[{\"type\":\"quoted\",\"id\":\"1600000000000000002\"}],\"geo\":{}}\n" +
      L[6]!,
  );
  assert.equal(removed, "{\"id\":\"1600000000000000201\",\"text\":\"RT @a: gone\",\"author_id\":\"300\",\"author\":{\"id\":\"300\",\"username\":\"x\"},\"referenced_tweets\":[{\"type\":\"retweeted\",\"id\":\"1600000000000000001\",\"text\":\"gone\",\"author_id\":\"201\",\"author\":{\"id\":\"201\",\"username\":\"a\"}}]}\n{\"type\":\"quoted\",\"id\":\"1600000000000000002\",\"text\":\"quoted, deleted\",\"author_id\":\"202\",\"author\":{\"id\":\"202\",\"username\":\"b\"}}\n{\"type\":\"replied_to\",\"id\":\"1600000000000000004\",\"text\":\"reply target, deleted\",\"author_id\":\"204\"}\n" + L[3]! + "{\"type\":\"quoted\",\"id\":\"1600000000000000002\",\"text\":\"quoted, deleted\",\"author_user\":{\"id\":\"202\",\"username\":\"b\"}}\n");
});

test("twarc2 flattened and 4CAT --type users: copies by removed users go, and so does an in_reply_to_user object", async () => {
  const { L, out, removed } = await run("flat.jsonl", "users");
  assert.equal(
    out,
    "{\"id\":\"1600000000000000202\",\"text\":\"quote and reply\",\"author_id\":\"301\",\"author\":{\"id\":\"301\",\"username\":\"y\"},\"referenced_tweets\":[{\"type\":\"quoted\",\"id\":\"1600000000000000002\"},{\"type\":\"replied_to\",\"id\":\"1600000000000000004\",\"text\":\"reply target, deleted\",\"author_id\":\"204\"}],\"in_reply_to_user_id\":\"204\",\"in_reply_to_user\":{\"id\":\"204\",\"username\":\"d\"}}\n" +
      "{\"id\":\"1600000000000000203\",\"text\":\"quoting a geo post\",\"author_id\":\"300\",\"referenced_tweets\":[{\"type\":\"quoted\",\"id\":\"1600000000000000003\",\"text\":\"here\",\"author_id\":\"203\"}]}\n" +
      L[3]! +
      "{\"id\":\"1600000000000000205\",\"text\":\"@a hi\",\"author_id\":\"301\",\"in_reply_to_user_id\":\"201\"}\n" +
      "{\"id\":\"1600000000000000206\",\"text\":\"4CAT quote\",\"author_user\":{\"id\":\"302\",\"username\":\"z\"},\"referenced_tweets\":[{\"type\":\"quoted\",\"id\":\"1600000000000000002\"}],\"geo\":{}}\n" +
      L[6]!,
  );
  assert.equal(removed, "{\"id\":\"1600000000000000201\",\"text\":\"RT @a: gone\",\"author_id\":\"300\",\"author\":{\"id\":\"300\",\"username\":\"x\"},\"referenced_tweets\":[{\"type\":\"retweeted\",\"id\":\"1600000000000000001\",\"text\":\"gone\",\"author_id\":\"201\",\"author\":{\"id\":\"201\",\"username\":\"a\"}}]}\n{\"type\":\"quoted\",\"id\":\"1600000000000000002\",\"text\":\"quoted, deleted\",\"author_id\":\"202\",\"author\":{\"id\":\"202\",\"username\":\"b\"}}\n{\"id\":\"201\",\"username\":\"a\"}\n{\"type\":\"quoted\",\"id\":\"1600000000000000002\",\"text\":\"quoted, deleted\",\"author_user\":{\"id\":\"202\",\"username\":\"b\"}}\n");
});

test("v2 pages: includes arrays left empty go (includes too when nothing is left) and meta.result_count stays true", async () => {
  for (const type of ["tweets", "users"] as const) {
    const { out, removed } = await run("pages.jsonl", type);
    assert.equal(
      out,
      "{\"data\":[{\"id\":\"1600000000000000301\",\"text\":\"kept\",\"author_id\":\"300\"}],\"meta\":{\"result_count\":1,\"newest_id\":\"1600000000000000301\"}}\n" +
      "{\"data\":[{\"id\":\"1600000000000000302\",\"text\":\"kept too\",\"author_id\":\"300\",\"attachments\":{\"media_keys\":[\"3_9\"]}}],\"includes\":{\"media\":[{\"media_key\":\"3_9\",\"type\":\"photo\"}],\"users\":[{\"id\":\"300\",\"username\":\"x\"}]},\"meta\":{\"result_count\":1}}\n",
      type,
    );
    assert.equal(removed, "{\"id\":\"1600000000000000001\",\"text\":\"gone\",\"author_id\":\"201\",\"geo\":{\"place_id\":\"p8\"}}\n{\"id\":\"1600000000000000002\",\"text\":\"quoted, deleted\",\"author_id\":\"202\"}\n{\"id\":\"1600000000000000001\",\"text\":\"gone, with media\",\"author_id\":\"201\",\"attachments\":{\"media_keys\":[\"3_8\"]}}\n{\"media_key\":\"3_8\",\"type\":\"photo\"}\n", type);
  }
});

test("ids lists the IDs found only in nested copies", async () => {
  assert.deepEqual(await idsOf("v11.jsonl", "tweets"), [101, 1, 102, 2, 103, 3, 104, 105, 5, 2, 106].map(P));
  assert.deepEqual(await idsOf("v11.jsonl", "users"), ["300", "201", "301", "202", "300", "203", "300", "301", "205", "202", "301"]);
  assert.deepEqual(await idsOf("flat.jsonl", "tweets"), [201, 1, 202, 2, 4, 203, 3, 204, 1, 205, 206, 2, 207].map(P));
  // Each record once per ID: the author object repeats author_id and is not listed twice.
  assert.deepEqual(await idsOf("flat.jsonl", "users"), ["300", "201", "301", "204", "202", "300", "203", "300", "301", "201", "302", "202", "302"]);
  assert.deepEqual(await idsOf("pages.jsonl", "tweets"), [301, 1, 2, 302, 1].map(P));
});
