import assert from "node:assert/strict";
import { test } from "node:test";
import { classifyEvent, EventIndex, Kind } from "../../src/dataset/event-index.js";
import { parseLossless, stringifyLossless } from "../../src/dataset/json-lossless.js";

test("classifyEvent: delete wins over a scrub_geo reason; scrub_geo action or reason scrubs; rehydrate; others are left alone", () => {
  assert.equal(classifyEvent("delete", "deleted"), Kind.delete);
  assert.equal(classifyEvent("delete", "scrub_geo"), Kind.delete);
  assert.equal(classifyEvent("scrub_geo", undefined), Kind.scrub);
  assert.equal(classifyEvent("rehydrate", "scrub_geo"), Kind.scrub);
  // Changed by the 2026 result lines: rehydrate is its own kind (was Kind.other).
  assert.equal(classifyEvent("rehydrate", "protected"), Kind.rehydrate);
  assert.equal(classifyEvent("rehydrate", "tweet_edited"), Kind.rehydrate);
  assert.equal(classifyEvent("rehydrate", "geo_scrubbed"), Kind.scrub);
  assert.equal(classifyEvent("scrub_geo", "geo_scrubbed"), Kind.scrub);
  assert.equal(classifyEvent("delete", "geo_scrubbed"), Kind.delete);
  assert.equal(classifyEvent("delete", "bounced"), Kind.delete);
  assert.ok(Kind.delete > Kind.scrub && Kind.scrub > Kind.rehydrate && Kind.rehydrate > Kind.other && Kind.other > Kind.none);
  assert.equal(classifyEvent("some_new_action", undefined), Kind.other);
});

test("EventIndex keeps the strongest kind per ID and finds IDs from bytes, across growth", () => {
  const index = new EventIndex();
  for (let i = 0; i < 5000; i++) index.add(String(1500000000000000000n + BigInt(i) * 7919n), i % 2 ? Kind.scrub : Kind.other);
  index.add("12", Kind.scrub);
  index.add("12", Kind.other);
  index.add("12", Kind.delete);
  index.add("9999999999999999999", Kind.delete);
  assert.equal(index.size, 5002);
  assert.equal(index.lookup("12"), Kind.delete);
  assert.equal(index.lookup("9999999999999999999"), Kind.delete);
  assert.equal(index.lookup("1500000000000007919"), Kind.scrub);
  assert.equal(index.lookup("1500000000000000000"), Kind.other);
  assert.equal(index.lookup("1500000000000000001"), Kind.none);
  const buf = Buffer.from('x"1500000000000007919"');
  assert.equal(index.lookupRange(buf, 2, 21), Kind.scrub);
  assert.equal(index.lookupRange(buf, 2, 20), Kind.none);
  assert.equal(index.lookup("12345678901234567890"), Kind.none); // 20 digits: not an ID
});

test("parseLossless keeps integers beyond 2^53 exact through stringifyLossless", () => {
  const text = '{"id":1160164553482756096,"id_str":"1160164553482756096","s":"x: 1234567890123456789 \\"q\\"","f":1.5,"n":-1234567890123456789,"small":42}';
  const v = parseLossless(text) as Record<string, unknown>;
  assert.equal(v.small, 42);
  assert.equal(v.s, 'x: 1234567890123456789 "q"');
  assert.equal(stringifyLossless(v), text);
});

test("DatasetApplier gives the same bytes whatever the chunk boundaries", async () => {
  const { readFileSync, createReadStream } = await import("node:fs");
  const { join } = await import("node:path");
  const { DatasetApplier } = await import("../../src/dataset/applier.js");
  const { loadResults } = await import("../../src/dataset/event-index.js");
  const { FIXTURES } = await import("../helpers/fake-context.js");
  const results = await loadResults("r", createReadStream(join(FIXTURES, "results-tweets.ndjson")));
  for (const name of ["posts-v2.jsonl", "posts-v11.jsonl", "pages-v2.jsonl", "ids.txt"]) {
    const data = readFileSync(join(FIXTURES, name));
    const outputs = [1, 3, 7, 64, data.length].map((size) => {
      const a = new DatasetApplier("tweets", results.index, true);
      const out: Buffer[] = [];
      for (let i = 0; i < data.length; i += size) {
        a.push(Buffer.from(data.subarray(i, i + size)));
        out.push(...a.take().out);
      }
      a.end();
      out.push(...a.take().out);
      return Buffer.concat(out).toString("utf8");
    });
    for (const o of outputs) assert.equal(o, outputs[outputs.length - 1], name);
  }
});
