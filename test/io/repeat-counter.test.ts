import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RepeatCounter } from "../../src/io/repeat-counter.js";
import type { RepeatCounterOptions } from "../../src/io/repeat-counter.js";
import { rng } from "../helpers/rng.js";

/** Feeds the IDs in batches of up to 1000 (the scanner's are 1024), returns the counter's answer. */
async function countWith(ids: readonly bigint[], opts: RepeatCounterOptions): Promise<{ repeats: number; spilled: boolean }> {
  const c = new RepeatCounter(opts);
  const lo = new Uint32Array(1000);
  const hi = new Uint32Array(1000);
  for (let at = 0; at < ids.length; at += 1000) {
    const n = Math.min(1000, ids.length - at);
    for (let q = 0; q < n; q++) {
      const id = ids[at + q]!;
      lo[q] = Number(id & 0xffffffffn);
      hi[q] = Number(id >> 32n);
    }
    c.addKeys(lo, hi, n);
  }
  assert.equal(c.size, ids.length);
  const spilled = c.spilledToDisk;
  return { repeats: await c.count(), spilled };
}

function expected(ids: readonly bigint[]): number {
  return ids.length - new Set(ids).size;
}

/** Snowflake-like IDs (time << 22 | worker << 12 | sequence), with repeats drawn from earlier ones. */
function snowflakes(n: number, repeatEvery: number, seed: number): bigint[] {
  const next = rng(seed);
  const ids: bigint[] = [];
  let time = 1_500_000_000_000n;
  for (let k = 0; k < n; k++) {
    if (ids.length > 0 && next() % repeatEvery === 0) {
      ids.push(ids[next() % ids.length]!);
      continue;
    }
    time += BigInt(next() % 50);
    ids.push((time << 22n) | (BigInt(next() % 1024) << 12n) | BigInt(next() % 4));
  }
  return ids;
}

describe("RepeatCounter", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "compliant-repeats-test-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("counts exactly in memory when nothing fills a buffer", async () => {
    const ids = snowflakes(5000, 7, 1);
    const r = await countWith(ids, { tmpDir: dir });
    assert.equal(r.spilled, false);
    assert.equal(r.repeats, expected(ids));
    assert.ok(r.repeats > 500);
  });

  it("counts exactly through the spill file, and leaves no file behind", async () => {
    const ids = snowflakes(60_000, 5, 2);
    const r = await countWith(ids, { tmpDir: dir, partitions: 16, blockIds: 64 });
    assert.equal(r.spilled, true);
    assert.equal(r.repeats, expected(ids));
    assert.deepEqual(await readdir(dir), [], "the spill file is unlinked as soon as it is open");
  });

  it("splits partitions larger than maxInMemory again, with the same answer", async () => {
    const ids = snowflakes(40_000, 3, 3);
    const r = await countWith(ids, { tmpDir: dir, partitions: 4, blockIds: 32, maxInMemory: 500 });
    assert.equal(r.repeats, expected(ids));
  });

  it("many copies of one ID: repeats = copies − 1, whatever the split depth", async () => {
    const ids = Array.from({ length: 30_000 }, (_, k) => (k % 3 === 0 ? 1234567890123456789n : 42n));
    const r = await countWith(ids, { tmpDir: dir, partitions: 2, blockIds: 16, maxInMemory: 100 });
    assert.equal(r.repeats, 30_000 - 2);
  });

  it("tells apart IDs that share a 32-bit word: 0, 2^32, 2^32 + 1, 9999999999999999999", async () => {
    const ids = [0n, 1n << 32n, (1n << 32n) + 1n, 1n, 9999999999999999999n, 9999999999999999999n - (1n << 32n), 0n, 1n];
    const r = await countWith(ids, { tmpDir: dir, partitions: 2, blockIds: 1 });
    assert.equal(r.repeats, 2);
  });

  it("spreads snowflake IDs evenly over the partitions", async () => {
    // The partition hash must not follow the sequence bits (often 0) or the timestamp: an uneven
    // spread would make one partition's table, and the memory, grow.
    // 400 per partition on average (±20): with 512-ID buffers an even spread spills nothing.
    const ids = snowflakes(256 * 400, 1_000_000, 4);
    const r = await countWith(ids, { tmpDir: dir, blockIds: 512 });
    assert.equal(r.repeats, expected(ids));
    assert.equal(r.spilled, false);
  });

  it("a spill it cannot write is the error wrapError makes, and nothing is left open or behind", async () => {
    const openFds = async (): Promise<number> => (await readdir("/proc/self/fd")).length;
    const fdsBefore = await openFds();
    const missing = join(dir, "no-such-dir");
    const c = new RepeatCounter({
      tmpDir: missing,
      partitions: 2,
      blockIds: 1,
      wrapError: (err) => new Error(`wrapped: ${(err as NodeJS.ErrnoException).code}`),
    });
    const lo = Uint32Array.of(1, 2, 3);
    const hi = Uint32Array.of(0, 0, 0);
    assert.throws(() => c.addKeys(lo, hi, 3), { message: "wrapped: ENOENT" });
    c.dispose();
    assert.equal(await openFds(), fdsBefore, "no file descriptor left open");
    // And after a spill that worked, count() closes the (already unlinked) file.
    const ok = new RepeatCounter({ tmpDir: dir, partitions: 2, blockIds: 1 });
    ok.addKeys(lo, hi, 3);
    assert.equal(await openFds(), fdsBefore + 1, "the spill file is open while counting");
    assert.equal(await ok.count(), 0);
    assert.equal(await openFds(), fdsBefore);
    assert.deepEqual(await readdir(dir), []);
  });

  it("rejects partitions that are not a power of two from 2, and empty blocks", () => {
    assert.throws(() => new RepeatCounter({ tmpDir: dir, partitions: 1 }), /power of two/);
    assert.throws(() => new RepeatCounter({ tmpDir: dir, partitions: 24 }), /power of two/);
    assert.throws(() => new RepeatCounter({ tmpDir: dir, blockIds: 0 }), /positive integer/);
  });
});
