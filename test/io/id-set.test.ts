import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdSet, highWord } from "../../src/io/id-set.js";
import { rng } from "../helpers/rng.js";

function bytes(s: string): Buffer {
  return Buffer.from(s, "latin1");
}

function randomId(next: () => number): string {
  const digits = 1 + (next() % 19);
  let s = String(1 + (next() % 9));
  while (s.length < digits) s += String(next() % 10);
  return s;
}

describe("IdSet", () => {
  it("adds, reports new vs present, and counts", () => {
    const set = new IdSet();
    assert.equal(set.size, 0);
    assert.equal(set.add("123"), true);
    assert.equal(set.add("123"), false);
    assert.equal(set.has("123"), true);
    assert.equal(set.has("124"), false);
    assert.equal(set.size, 1);
  });

  it("holds 0 as an ordinary ID", () => {
    const set = new IdSet();
    assert.equal(set.has("0"), false);
    assert.equal(set.add("0"), true);
    assert.equal(set.add(0n), false);
    assert.equal(set.has("0"), true);
    assert.equal(set.size, 1);
  });

  it("keeps 19-digit IDs above 2^63 apart, up to 9999999999999999999", () => {
    const set = new IdSet();
    const big = [
      "9999999999999999999",
      "9999999999999999998",
      "9223372036854775807", // 2^63 − 1
      "9223372036854775808", // 2^63
      "9223372036854775809",
      "18446744073709551", // unrelated prefix of 2^64
      "4294967295",
      "4294967296",
      "4294967297",
      "1000000000000000000",
    ];
    for (const id of big) assert.equal(set.add(id), true, id);
    for (const id of big) assert.equal(set.add(BigInt(id)), false, id);
    assert.equal(set.size, big.length);
    assert.equal(set.has("9999999999999999997"), false);
  });

  it("treats strings, bigints and byte ranges alike, and leading zeros as the same number", () => {
    const set = new IdSet();
    const buf = bytes("xx1234567890123456789yy007\n");
    assert.equal(set.addRange(buf, 2, 21), true);
    assert.equal(set.has("1234567890123456789"), true);
    assert.equal(set.has(1234567890123456789n), true);
    assert.equal(set.add("7"), true);
    assert.equal(set.hasRange(buf, 23, 26), true); // "007"
    assert.equal(set.addRange(buf, 23, 26), false);
  });

  it("rejects what is not 1–19 digits", () => {
    const set = new IdSet();
    for (const bad of ["", "12a", "-1", "1.5", " 1", "12345678901234567890", "+1"]) {
      assert.throws(() => set.add(bad), TypeError, JSON.stringify(bad));
    }
    assert.throws(() => set.add(-1n), TypeError);
    assert.throws(() => set.add(10000000000000000000n), TypeError);
    assert.throws(() => set.addRange(bytes("1 2"), 0, 3), TypeError);
    assert.throws(() => set.addRange(bytes("123"), 1, 1), TypeError);
    assert.equal(set.size, 0);
  });

  it("computes the exact high word for 1–19 digits", () => {
    const next = rng(7);
    for (let k = 0; k < 20000; k++) {
      const id = k === 0 ? "9999999999999999999" : randomId(next);
      let lo = 0;
      let approx = 0;
      for (const ch of id) {
        const d = ch.charCodeAt(0) - 48;
        lo = (Math.imul(lo, 10) + d) | 0;
        approx = approx * 10 + d;
      }
      const v = BigInt(id);
      assert.equal(lo >>> 0, Number(v & 0xffffffffn), id);
      assert.equal(highWord(approx, lo), Number(v >> 32n), id);
    }
  });

  it("grows by doubling and keeps every ID", () => {
    const set = new IdSet();
    const cap0 = set.capacity;
    const bytes0 = set.byteLength;
    for (let i = 0; i < 100_000; i++) assert.equal(set.add(String(i * 7919)), true);
    assert.ok(set.capacity >= 100_000 / 0.7, `capacity ${set.capacity}`);
    assert.equal(set.capacity & (set.capacity - 1), 0, "a power of two");
    assert.ok(set.capacity > cap0 && set.byteLength > bytes0);
    assert.ok(set.byteLength / set.size <= 24, `${set.byteLength / set.size} bytes per ID`);
    for (let i = 0; i < 100_000; i++) assert.equal(set.has(String(i * 7919)), true);
    assert.equal(set.has("1"), false);
    assert.equal(set.size, 100_000);
  });

  it("sizes up front from an expected count", () => {
    const set = new IdSet(1_000_000);
    assert.ok(set.capacity * 0.7 >= 1_000_000);
    const cap = set.capacity;
    for (let i = 0; i < 1000; i++) set.add(String(i));
    assert.equal(set.capacity, cap);
  });

  it("addKeys: batch insert with in-batch repeats, same answers as addKey", () => {
    const a = new IdSet();
    const b = new IdSet();
    const next = rng(11);
    const n = 5000;
    const lo = new Uint32Array(n);
    const hi = new Uint32Array(n);
    for (let q = 0; q < n; q++) {
      const pick = q > 0 && next() % 4 === 0 ? next() % q : q; // about 1 in 4 repeats an earlier key
      if (pick === q) {
        lo[q] = next();
        hi[q] = next() % 2328306437;
      } else {
        lo[q] = lo[pick]!;
        hi[q] = hi[pick]!;
      }
    }
    const isNew = new Uint8Array(n);
    const added = a.addKeys(lo, hi, n, isNew);
    let expected = 0;
    for (let q = 0; q < n; q++) {
      const fresh = b.addKey(lo[q]!, hi[q]!);
      assert.equal(isNew[q], fresh ? 1 : 0, `key ${q}`);
      if (fresh) expected++;
    }
    assert.equal(added, expected);
    assert.equal(a.size, b.size);
    assert.equal(a.addKeys(lo, hi, n, isNew), 0);
    assert.ok(isNew.every((x) => x === 0));
  });

  it("agrees with a JS Set on 1M random IDs (with repeats)", () => {
    const set = new IdSet();
    const ref = new Set<string>();
    const next = rng(42);
    const pool: string[] = [];
    for (let k = 0; k < 1_000_000; k++) {
      let id: string;
      if (pool.length > 0 && next() % 10 === 0) id = pool[next() % pool.length]!;
      else {
        id = randomId(next);
        if (pool.length < 10_000) pool.push(id);
      }
      const fresh = !ref.has(id);
      ref.add(id);
      assert.equal(set.add(id), fresh);
    }
    assert.equal(set.size, ref.size);
    let probes = 0;
    for (const id of pool) {
      assert.equal(set.has(id), true);
      probes++;
    }
    for (let k = 0; k < 10_000; k++) {
      const id = randomId(next);
      assert.equal(set.has(id), ref.has(id));
    }
    assert.ok(probes > 0);
  });
});
