import assert from "node:assert/strict";
import { test } from "node:test";
import { EventIndex, Kind } from "../../src/dataset/event-index.js";
import { Found, scanQuotedIds, TopLevelIds, type FoundValue } from "../../src/dataset/json-scan.js";

// Lines that are valid JSON and written plainly where it matters (ID values without escapes),
// with the tricky parts elsewhere: escapes, unicode, nesting, structural characters in strings,
// big integers as bare numbers.
const LINES = [
  '{"text":"a \\"quoted\\" \\\\ backslash {not nested} [x]","id":"123","author_id":"45"}',
  '{"text":"café 🚀 \\u00e9 \\ud83d\\ude80","id_str":"1160164553482756096","id":1160164553482756096}',
  '{"id":1160164553482756096,"user":{"id_str":"77","id":77}}',
  '{"entities":{"mentions":[{"id":"999","author_id":"8"}]},"referenced_tweets":[{"id":"77"}],"id":"5"}',
  '{"a":[[1,[2,{"id":"3"}]],{"b":{"c":[]}},"]"],"author_id":"42"}',
  '{"text":"\\"id\\":\\"666\\"","id":"1"}',
  '{"note":"id","id_":"9","xid":"5","id":"2"}',
  '{"text":"}, \\"id\\": \\"9\\", {","id":"10"}',
  '{ "id" : "12" ,\t"data" : [ ] }',
  '{"includes":{"users":[{"id":"5"}]},"meta":{"result_count":1}}',
  '{"data":{"id":"5","author_id":"77"}}',
  '{"id":"12a","id_str":"","author_id":"12345678901234567890"}',
  '{"id":null,"id_str":true,"author_id":{"id":"3"}}',
  '{"id":"9999999999999999999","author_id":"0"}',
  '{"a\\\\":"x","i\\"d":"5","id":"7"}',
  '{"5":"key, not value","999":{"77":[]}}',
  '{"text":"🚀\\"","id":"1160164553482756096","n":-12.5e3,"t":true,"f":false,"z":null}',
  '{}',
  '{"text":"no ids at all","n":[1,2,3]}',
];

const DIGITS = /^[0-9]{1,19}$/;

function lineBuffer(): { buf: Buffer; spans: Array<[number, number]> } {
  // All lines in one buffer, so the scanners are exercised at offsets other than 0.
  const buf = Buffer.from(LINES.join("\n"));
  const spans: Array<[number, number]> = [];
  let s = 0;
  for (const line of LINES) {
    const e = s + Buffer.byteLength(line);
    spans.push([s, e]);
    s = e + 1;
  }
  return { buf, spans };
}

function span(buf: Buffer, start: number, end: number): string | undefined {
  if (start < 0) {
    assert.equal(end, -1);
    return undefined;
  }
  return buf.toString("utf8", start, end);
}

test("TopLevelIds finds the same top-level id, id_str and author_id values as JSON.parse, and pages by data/includes", () => {
  const { buf, spans } = lineBuffer();
  const top = new TopLevelIds();
  spans.forEach(([s, e], n) => {
    const line = LINES[n]!;
    const v = JSON.parse(line) as Record<string, unknown>;
    const want = (key: string) => {
      const x = v[key];
      return typeof x === "string" && DIGITS.test(x) ? x : undefined;
    };
    assert.equal(top.scan(buf, s, e), true, line);
    assert.equal(span(buf, top.idStart, top.idEnd), want("id"), `id in ${line}`);
    assert.equal(span(buf, top.idStrStart, top.idStrEnd), want("id_str"), `id_str in ${line}`);
    assert.equal(span(buf, top.authorStart, top.authorEnd), want("author_id"), `author_id in ${line}`);
    assert.equal(top.isPage, "data" in v || "includes" in v, `page: ${line}`);
  });
});

test("TopLevelIds: each scan starts afresh; bytes not shaped like an object return false", () => {
  const top = new TopLevelIds();
  const withIds = Buffer.from('{"id":"1","id_str":"2","author_id":"3","data":[]}');
  assert.equal(top.scan(withIds, 0, withIds.length), true);
  assert.deepEqual([top.idStart >= 0, top.idStrStart >= 0, top.authorStart >= 0, top.isPage], [true, true, true, true]);
  const without = Buffer.from('{"text":"x"}');
  assert.equal(top.scan(without, 0, without.length), true);
  assert.deepEqual([top.idStart, top.idEnd, top.idStrStart, top.idStrEnd, top.authorStart, top.authorEnd, top.isPage], [-1, -1, -1, -1, -1, -1, false]);

  for (const bad of ['[{"id":"1"}]', '{"id":"1"', '{"id":"1","text":"cut', '{"id" "1"}', '{"a":{"b":1}']) {
    const b = Buffer.from(bad);
    assert.equal(top.scan(b, 0, b.length), false, bad);
  }
});

test("TopLevelIds declines (-1) an ID value written with escapes or as a bare number, rather than misreading it", () => {
  const top = new TopLevelIds();
  for (const line of ['{"id":"\\u0031\\u0032"}', '{"id":"1\\"2"}', '{"id":12}', '{"id":1160164553482756096}']) {
    const b = Buffer.from(line);
    assert.equal(top.scan(b, 0, b.length), true, line);
    assert.equal(top.idStart, -1, line);
  }
});

/** What scanQuotedIds should say, from JSON.parse: every string, key or value, at any depth. */
function reference(v: unknown, index: EventIndex): FoundValue {
  let event = false;
  let idKey = false;
  const isEvent = (x: string) => DIGITS.test(x) && index.lookup(x) !== Kind.none;
  const walk = (x: unknown): void => {
    if (typeof x === "string") {
      if (isEvent(x)) event = true;
    } else if (Array.isArray(x)) {
      x.forEach(walk);
    } else if (typeof x === "object" && x !== null) {
      for (const [k, val] of Object.entries(x)) {
        if (isEvent(k)) event = true;
        if ((k === "id" || k === "id_str" || k === "author_id") && typeof val === "string" && /^[0-9]+$/.test(val)) idKey = true;
        walk(val);
      }
    }
  };
  walk(v);
  return event ? Found.event : idKey ? Found.idKey : Found.none;
}

test("scanQuotedIds agrees with JSON.parse: an event ID in any string, else whether an ID key holds digits", () => {
  const { buf, spans } = lineBuffer();
  const indexes = [[], ["5"], ["77"], ["999"], ["1160164553482756096"], ["9999999999999999999", "0"], ["666", "9"], ["3"], ["42", "45"]].map((ids) => {
    const index = new EventIndex();
    for (const id of ids) index.add(id, Kind.delete);
    return { ids, index };
  });
  for (const { ids, index } of indexes) {
    spans.forEach(([s, e], n) => {
      const line = LINES[n]!;
      assert.equal(scanQuotedIds(buf, s, e, index), reference(JSON.parse(line), index), `events ${ids.join(",")}: ${line}`);
    });
  }
});

test("scanQuotedIds never misses an event ID next to escaped quotes and backslashes (a false alarm only costs a parse)", () => {
  const index = new EventIndex();
  index.add("5", Kind.scrub);
  const lines = ['{"text":"\\"5","id":"6"}', '{"text":"\\\\","id":"5"}', '{"text":"x\\\\\\"","r":["5"]}', '{"\\"":"5"}', '{"text":"\\"\\"\\"","a":{"b":["5"]}}', '{"text":"\\"5\\""}'];
  for (const line of lines) {
    const b = Buffer.from(line);
    const got = scanQuotedIds(b, 0, b.length, index);
    if (reference(JSON.parse(line), index) === Found.event) assert.equal(got, Found.event, line);
  }
});
