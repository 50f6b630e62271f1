// Distinct IDs by winning kind: the repeat filter (with its second reading) and the exact tracker
// must both give exactly what a plain Map over every line gives, repeats or not, whatever the
// filter's size (a tiny one makes nearly every line a false candidate).

import assert from "node:assert/strict";
import { test } from "node:test";
import { classifyEvent, DistinctKinds, Kind, RepeatFilter, REPEAT_FILTER_BYTES, type DistinctCounts, type KindValue } from "../../src/io/result-kinds.js";
import { ResultParser, ResultsChangedError } from "../../src/io/results.js";

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ACTIONS: Array<[string, string | undefined]> = [
  ["delete", "deleted"],
  ["delete", "scrub_geo"],
  ["delete", undefined],
  ["scrub_geo", "geo_scrubbed"],
  ["rehydrate", "geo_scrubbed"],
  ["rehydrate", "tweet_edited"],
  ["unknown_action", "protected"],
  ["unknown_action", undefined],
];

interface Event {
  id: string;
  action: string;
  reason: string | undefined;
}

/** A random ID of 1–19 digits (now and then with leading zeros, which name the same ID). */
function randomId(r: () => number): string {
  const len = 1 + Math.floor(r() * 19);
  let s = String(1 + Math.floor(r() * 9));
  while (s.length < len) s += String(Math.floor(r() * 10));
  return r() < 0.02 && s.length < 19 ? "0" + s : s;
}

/**
 * `n` events; with `repeats`, a share of them reuse an ID from anywhere before (or the very first
 * one, so a repeat spans the whole file).
 */
function events(seed: number, n: number, repeats: number): Event[] {
  const r = rng(seed);
  const out: Event[] = [];
  const seen = new Set<bigint>();
  for (let i = 0; i < n; i++) {
    const [action, reason] = ACTIONS[Math.floor(r() * ACTIONS.length)]!;
    const reuse = out.length > 0 && r() < repeats;
    let id = reuse ? (r() < 0.1 ? out[0]!.id : out[Math.floor(r() * out.length)]!.id) : randomId(r);
    // A new ID is new (short random IDs would repeat by chance).
    while (!reuse && seen.has(BigInt(id))) id = randomId(r);
    seen.add(BigInt(id));
    out.push({ id, action, reason });
  }
  if (repeats > 0 && n > 1) out.push({ ...out[0]!, action: "rehydrate", reason: undefined });
  return out;
}

/** The counts by brute force: one Map entry per ID (numerically: "007" is 7). */
function bruteForce(list: Event[]): DistinctCounts {
  const best = new Map<bigint, KindValue>();
  for (const e of list) {
    const key = BigInt(e.id);
    const kind = classifyEvent(e.action, e.reason);
    best.set(key, Math.max(best.get(key) ?? Kind.none, kind) as KindValue);
  }
  const counts = { delete: 0, scrub: 0, rehydrate: 0, other: 0, duplicateLines: list.length - best.size };
  for (const k of best.values()) {
    if (k === Kind.delete) counts.delete++;
    else if (k === Kind.scrub) counts.scrub++;
    else if (k === Kind.rehydrate) counts.rehydrate++;
    else counts.other++;
  }
  return counts;
}

function viaFilter(list: Event[], bytes: number): { counts: DistinctCounts; recounted: boolean } {
  const filter = new RepeatFilter(bytes);
  for (const e of list) filter.add(e.id, classifyEvent(e.action, e.reason));
  const direct = filter.counts();
  if (direct) return { counts: direct, recounted: false };
  const recount = filter.recount();
  // The second pass sees the same lines (the bytes of the same file), here from their bytes.
  for (const e of list) {
    const b = Buffer.from(`x${e.id}x`);
    recount.addRange(b, 1, b.length - 1, classifyEvent(e.action, e.reason));
  }
  assert.equal(recount.lines, recount.expectedLines);
  return { counts: recount.counts(), recounted: true };
}

test("RepeatFilter + recount equal a Map-based count: with and without repeats, any filter size", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const n = [1, 2, 50, 1000, 5000][seed % 5]!;
    const repeats = [0, 0.01, 0.3, 0.9][seed % 4]!;
    const list = events(seed, n, repeats);
    const want = bruteForce(list);
    // 4 bytes: one word, so nearly every line collides; 256 bytes; the default (REPEAT_FILTER_BYTES).
    for (const bytes of [4, 256, undefined]) {
      const { counts, recounted } = viaFilter(list, bytes ?? REPEAT_FILTER_BYTES);
      assert.deepEqual(counts, want, `seed ${seed}, ${n} events, repeats ${repeats}, filter ${bytes ?? "default"}`);
      if (want.duplicateLines > 0) assert.ok(recounted, "a repeat is always a candidate (no false negatives)");
    }
    const exact = new DistinctKinds();
    for (const e of list) exact.add(e.id, classifyEvent(e.action, e.reason));
    assert.deepEqual(exact.counts(), want, `DistinctKinds, seed ${seed}`);
  }
});

test("RepeatFilter: no repeats and no collisions need no second pass; the counts are the lines' kinds", () => {
  const list = events(7, 2000, 0);
  assert.deepEqual(viaFilter(list, REPEAT_FILTER_BYTES), { counts: bruteForce(list), recounted: false });
  assert.equal(viaFilter(list, 4).recounted, true, "a one-word table collides");
});

function resultText(list: Event[], seed: number): string {
  const r = rng(seed);
  const out: string[] = [];
  for (const e of list) {
    const reason = e.reason === undefined ? "" : `,"reason":"${e.reason}"`;
    const pick = r();
    // The byte fast path's shape, other key orders and spacing (the JSON path), blank lines and error records.
    // Some lines only look like the second reading's common shape: another "id" key (nested, or
    // a repeated key, the last of which JSON.parse keeps, spelled plainly or with an escape).
    if (pick < 0.7) out.push(`{"id":"${e.id}","action":"${e.action}","created_at":"2019-08-10T12:22:39Z"${reason}}`);
    else if (pick < 0.75) out.push(`{ "action" : "${e.action}"${reason}, "id" : "${e.id}" }\r`);
    else if (pick < 0.8) out.push(`  {"id":"${e.id}","action":"${e.action}"${reason},"extra":{"id":"12345"}}`);
    else if (pick < 0.85) out.push(`{"id":"12345","action":"${e.action}"${reason},"id":"${e.id}"}`);
    else if (pick < 0.9) out.push(`{"id":"12345","action":"${e.action}"${reason},"\\u0069d":"${e.id}"}`);
    else if (pick < 0.95) out.push(`{"id":"${e.id}","action":"${e.action}"${reason},"note":"caf\\u00e9"}`);
    else out.push(`{"id":"${e.id}","action":"${e.action}","created_at":"2019-08-10T12:22:39Z"${reason}}\r`);
    if (r() < 0.02) out.push("");
    if (r() < 0.01) out.push(`{"id":"${e.id}","error":"invalid_id"}`);
  }
  return out.join("\n") + "\n";
}

/** Parses `bytes` in `mode`, feeding `again` (default: the same bytes) to the second reading. */
async function parse(bytes: Buffer, mode: "exact" | "reread", slow: boolean, again: Buffer = bytes): Promise<{ counts: DistinctCounts; reads: number }> {
  const parser = new ResultParser("r.ndjson", slow ? () => undefined : undefined, undefined, mode);
  for (let i = 0; i < bytes.length; i += 65536) parser.push(bytes.subarray(i, i + 65536));
  parser.end();
  let reads = 0;
  const stats = await parser.finishDistinct(async function* () {
    reads++;
    // Other chunk boundaries than the first reading's, and more bytes than were parsed.
    for (let i = 0; i < again.length; i += 1000) yield again.subarray(i, i + 1000);
    yield Buffer.from('{"id":"1","action":"delete"}\n');
  });
  return { counts: stats.distinct, reads };
}

test("ResultParser: reread and exact modes equal a Map-based count on random result files", async () => {
  for (let seed = 1; seed <= 16; seed++) {
    const list = events(seed, [10, 300, 3000, 20000][seed % 4]!, [0, 0.05, 0.5, 0.002][seed % 4]!);
    const want = bruteForce(list);
    const bytes = Buffer.from(resultText(list, seed));
    for (const slow of [false, true]) {
      const exact = await parse(bytes, "exact", slow);
      assert.deepEqual(exact, { counts: want, reads: 0 }, `exact, seed ${seed}`);
      const reread = await parse(bytes, "reread", slow);
      assert.deepEqual(reread.counts, want, `reread, seed ${seed}`);
      assert.equal(reread.reads, want.duplicateLines > 0 ? 1 : reread.reads);
    }
  }
});

test("ResultParser reread: false candidates of the default table over 100k unique IDs are read again and change nothing", async () => {
  const list = events(99, 100_000, 0);
  const want = bruteForce(list);
  assert.equal(want.duplicateLines, 0);
  const bytes = Buffer.from(resultText(list, 99));
  const r = await parse(bytes, "reread", false);
  assert.deepEqual(r.counts, want);
  assert.equal(r.reads, 1, "100k IDs in the default table give some false candidates");
  // With few lines there are none, and the bytes are not read again.
  const small = events(5, 2000, 0);
  assert.deepEqual(await parse(Buffer.from(resultText(small, 5)), "reread", false), { counts: bruteForce(small), reads: 0 });
});

test("ResultParser reread: a second reading that finds other lines is refused, never miscounted", async () => {
  const list = events(3, 500, 0.2);
  const bytes = Buffer.from(resultText(list, 3));
  const other = Buffer.from(resultText(events(4, 500, 0.2), 3));
  await assert.rejects(parse(bytes, "reread", false, other), ResultsChangedError);
  await assert.rejects(parse(bytes, "reread", false, bytes.subarray(0, bytes.length - 10)), ResultsChangedError);
  await assert.rejects(parse(bytes, "reread", false, Buffer.from("not json\n".repeat(100))), ResultsChangedError);
});
