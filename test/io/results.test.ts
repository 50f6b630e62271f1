// The byte-level fast path of ResultParser must count exactly what the JSON.parse + zod path counts,
// and reject exactly what it rejects (the fast path is off when a line callback is given).

import assert from "node:assert/strict";
import { test } from "node:test";
import { ResultParser } from "../../src/io/results.js";

const LINES = [
  '{"id":"1532967361014279743","action":"delete","created_at":"2019-08-10T12:22:39.022Z","redacted_at":"2020-07-21T23:37:55.607Z","reason":"deleted"}',
  '{"id":"829985394590629888","action":"delete","created_at":"2017-02-10T09:28:33+00:00","reason":"suspended"}',
  '{"reason":"scrub_geo","action":"scrub_geo","id":"1","created_at":"2019-03-02T03:37:59+00:00","redacted_at":null,"deleted_at":null}',
  '{"id":"2","action":"delete","reason":"caf\\u00e9"}',
  '{"id":"3","action":"rehydrate","reason":"bounced","extra":{"nested":[1,2]}}',
  '{ "id" : "4" , "action" : "delete" , "reason" : "protected" }',
  '{"id":"5","action":"delete","reason":"déactivé"}',
  '{"id":"6","error":"invalid_id"}',
  "",
  "   ",
  // The canonical shape (its own straight-line matcher) and near misses that take the general one.
  '{"id":"7","action":"delete","created_at":"2019-08-10T12:22:39Z","redacted_at":null,"reason":"deleted"}',
  '{"id":"8","action":"delete","created_at":"2019-08-10T12:22:39.5+01:00","reason":""}',
  '{"id":"9","action":"delete","created_at":"2019-08-10T12:22:39.022Z","reason":"deleted"}  \r',
  '{"id":"10","action":"delete","created_at":"2019-08-10T12:22:39.022Z"}',
  '{"id":"11","action":"delete","created_at":"2019-08-10T12:22:39.022Z","reason":"deleted","deleted_at":null}',
  '{"id":"12","action":"delete","created_at":"2019-08-10T12:22:39.022Z","reason":"a\\"b"}',
  '{"id":"13","action":"delete","created_at":"2019-08-10T12:22:39.022Z","reason":"x","reason":"y"}',
  // More distinct values than the fast path caches (32): the rest are counted by name.
  ...Array.from({ length: 40 }, (_, k) => `{"id":"${100 + k}","action":"a${k % 35}","created_at":"2019-08-10T12:22:39Z","reason":"r${k}"}`),
];

const BAD = [
  '{"id":"12345678901234567890","action":"delete"}',
  '{"id":"7","action":"","reason":"deleted"}',
  '{"id":"8","action":"delete","created_at":"yesterday"}',
  '{"id":8,"action":"delete"}',
  '{"id":"9","action":"delete","reason":5}',
  '{"id":"10","action":"delete","redacted_at":"2020-07-21"}',
  "[1,2]",
  '{"id":"11","action":"delete"',
  '{"id":"12345678901234567890","action":"delete","created_at":"2019-08-10T12:22:39Z","reason":"deleted"}',
  '{"id":"13","action":"delete","created_at":"2019-08-10 12:22:39Z","reason":"deleted"}',
  '{"id":"14","action":"delete","created_at":"2019-08-10T12:22:39Z","reason":"deleted"}x',
  '{"id":"15","action":"delete","created_at":"2019-08-10T12:22:39Z","redacted_at":nul,"reason":"deleted"}',
];

function count(text: string, slow: boolean): unknown {
  const parser = slow ? new ResultParser("r.ndjson", () => undefined) : new ResultParser("r.ndjson");
  try {
    // Feed in small pieces so lines straddle chunk boundaries.
    const buf = Buffer.from(text);
    for (let i = 0; i < buf.length; i += 7) parser.push(buf.subarray(i, i + 7));
    return parser.end();
  } catch (err) {
    return (err as Error).message;
  }
}

test("fast and slow paths count the same events, reasons and error records", () => {
  const text = LINES.join("\n") + "\n";
  const fast = count(text, false);
  assert.deepEqual(fast, count(text, true));
  const reasons = (fast as { byReason: Record<string, number> }).byReason;
  assert.deepEqual(
    Object.fromEntries(Object.entries(reasons).filter(([r]) => !/^r\d+$/.test(r))),
    { deleted: 4, suspended: 1, scrub_geo: 1, "café": 1, bounced: 1, protected: 1, "déactivé": 1, "": 1, "(none)": 1, 'a"b': 1, y: 1 },
  );
  assert.equal(Object.keys(reasons).filter((r) => /^r\d+$/.test(r)).length, 40);
  assert.equal((fast as { byAction: Record<string, number> }).byAction.a0, 2);
  assert.equal((fast as { errors: number }).errors, 1);
  // Same key order too (summaries and --json print them as counted): first seen, first listed.
  for (const key of ["byAction", "byReason", "byError"] as const) {
    const slow = count(text, true) as Record<typeof key, object>;
    assert.deepEqual(Object.keys((fast as Record<typeof key, object>)[key]), Object.keys(slow[key]), key);
  }
  assert.equal((fast as { blankLines: number }).blankLines, 2);
});

test("fast and slow paths reject the same lines with the same message", () => {
  for (const bad of BAD) {
    const text = `${LINES[0]}\n${bad}\n`;
    const fast = count(text, false);
    assert.equal(typeof fast, "string", `rejected: ${bad}`);
    assert.equal(fast, count(text, true), bad);
    assert.match(fast as string, /^r\.ndjson line 2 is not a valid compliance event/);
  }
});
