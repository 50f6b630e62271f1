// A memory-bounded set of Post/user IDs (unsigned integers of 1–19 decimal digits,
// so below 1e19 < 2^64).
//
// Open addressing with linear probing over one interleaved Uint32Array: slot i keeps
// the ID's low 32 bits in word [2i] and its high 32 bits plus one in word [2i + 1]
// (the high word of an ID is at most 2328306436, so "plus one" never wraps and a zero
// high word marks an empty slot; the ID 0 stays representable). One probe touches one
// cache line. The table doubles when the load would pass 0.7: 8 bytes per slot, i.e.
// ~11–23 bytes per distinct ID (~13 at 10M IDs when sized up front).
//
// No BigInt on the hot path: digits are folded into the low word with 32-bit wrapping
// arithmetic (exact mod 2^32) and into a double (within ~2^15 of the value for 19
// digits); the high word is then round((double − low) / 2^32), which is exact.
//
// Batch use (addKeys) matters for speed: a tight loop over precomputed keys lets the
// CPU overlap the cache/TLB misses of a table far larger than the caches.

const MAX_DIGITS = 19;
const TWO_POW_32 = 4294967296;
const MIN_CAPACITY = 1024;
/** 2^30 slots (8 GiB): far beyond any real archive; keeps `slot << 1` a safe int32. */
const MAX_CAPACITY = 1 << 30;
const MAX_LOAD = 0.7;

/** The high word of the value whose low word is `lo` and approximate value is `approx`. */
export function highWord(approx: number, lo: number): number {
  return Math.round((approx - (lo >>> 0)) / TWO_POW_32);
}

/**
 * The two words of an ID (its value is hi·2^32 + lo, both uint32), read from its digits into
 * this object's fields: each reader keeps one and reuses it, so no pair is allocated per ID.
 */
export class IdKey {
  lo = 0;
  hi = 0;

  /** Reads the digits buf[start, end); false (fields unchanged) if they are not 1–19 digits. */
  fromBytes(buf: Uint8Array, start: number, end: number): boolean {
    if (end - start < 1 || end - start > MAX_DIGITS) return false;
    let lo = 0;
    let approx = 0;
    for (let k = start; k < end; k++) {
      const d = buf[k]! - 48;
      if (d < 0 || d > 9) return false;
      lo = (Math.imul(lo, 10) + d) | 0;
      approx = approx * 10 + d;
    }
    this.lo = lo >>> 0;
    this.hi = highWord(approx, lo);
    return true;
  }

  /** Reads a digit string; false (fields unchanged) if it is not 1–19 digits. */
  fromString(id: string): boolean {
    const end = id.length;
    if (end < 1 || end > MAX_DIGITS) return false;
    let lo = 0;
    let approx = 0;
    for (let k = 0; k < end; k++) {
      const d = id.charCodeAt(k) - 48;
      if (d < 0 || d > 9) return false;
      lo = (Math.imul(lo, 10) + d) | 0;
      approx = approx * 10 + d;
    }
    this.lo = lo >>> 0;
    this.hi = highWord(approx, lo);
    return true;
  }

  /** Reads a digit string or a bigint; throws TypeError for anything that is not an ID of 1–19 digits. */
  fromId(id: string | bigint): void {
    let ok = false;
    if (typeof id === "bigint") {
      if (id >= 0n && id <= 9999999999999999999n) {
        this.lo = Number(id & 0xffffffffn);
        this.hi = Number(id >> 32n);
        ok = true;
      }
    } else if (typeof id === "string") {
      ok = this.fromString(id);
    }
    if (!ok) throw new TypeError(`not an ID of 1–19 digits: ${JSON.stringify(String(id).slice(0, 40))}`);
  }
}

/** murmur3-style mix of the two words of an ID to 32 bits. */
export function hash(lo: number, hi: number): number {
  let x = Math.imul(hi, 0xcc9e2d51) ^ lo;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return x ^ (x >>> 16);
}

function capacityFor(expected: number): number {
  let cap = MIN_CAPACITY;
  while (cap < MAX_CAPACITY && cap * MAX_LOAD < expected) cap *= 2;
  return cap;
}

export class IdSet {
  private table: Uint32Array;
  private mask: number;
  private limit: number;
  private count = 0;
  /** addKeys scratch: home slot of each key of the batch. */
  private slots = new Int32Array(0);
  /** Sink for the prefetching loads (keeps them from being optimised away). */
  private sink = 0;
  /** Where add/has/addRange/hasRange read the ID given. */
  private readonly key = new IdKey();

  /** @param expected IDs to size the table for up front (it still grows past that). */
  constructor(expected = 0) {
    const cap = capacityFor(Number.isFinite(expected) && expected > 0 ? expected : 0);
    this.table = new Uint32Array(cap * 2);
    this.mask = cap - 1;
    this.limit = Math.floor(cap * MAX_LOAD);
  }

  /** Distinct IDs held. */
  get size(): number {
    return this.count;
  }

  /** Slots in the table (a power of two). */
  get capacity(): number {
    return this.mask + 1;
  }

  /** Bytes held by the table. */
  get byteLength(): number {
    return this.table.byteLength;
  }

  /** Adds an ID given as a digit string or bigint; true if it was not present. Throws TypeError for anything else. */
  add(id: string | bigint): boolean {
    const key = this.key;
    key.fromId(id);
    return this.addKey(key.lo, key.hi);
  }

  has(id: string | bigint): boolean {
    const key = this.key;
    key.fromId(id);
    return this.hasKey(key.lo, key.hi);
  }

  /**
   * Adds the ID spelled by the ASCII digits buf[start, end) (1–19 of them; leading
   * zeros allowed, no sign or spaces) without creating a string; true if it was not
   * present. Throws TypeError when the range is not 1–19 digits.
   */
  addRange(buf: Uint8Array, start: number, end: number): boolean {
    const key = this.key;
    if (!key.fromBytes(buf, start, end)) throw rangeError(buf, start, end);
    return this.addKey(key.lo, key.hi);
  }

  hasRange(buf: Uint8Array, start: number, end: number): boolean {
    const key = this.key;
    if (!key.fromBytes(buf, start, end)) throw rangeError(buf, start, end);
    return this.hasKey(key.lo, key.hi);
  }

  /** Calls fn(lo, hi) for every ID held (table order). */
  forEachKey(fn: (lo: number, hi: number) => void): void {
    const t = this.table;
    for (let k = 0; k < t.length; k += 2) if (t[k + 1] !== 0) fn(t[k]!, t[k + 1]! - 1);
  }

  /** Looks up the ID hi·2^32 + lo (both uint32; hi ≤ 2328306436). */
  hasKey(lo: number, hi: number): boolean {
    const t = this.table;
    const mask = this.mask;
    const h1 = hi + 1;
    let j = (hash(lo, hi) & mask) << 1;
    for (;;) {
      const s = t[j + 1]!;
      if (s === 0) return false;
      if (s === h1 && t[j] === lo) return true;
      j = (j + 2) & (mask * 2 + 1);
    }
  }

  /** Adds the ID hi·2^32 + lo (both uint32; hi ≤ 2328306436); true if it was not present. */
  addKey(lo: number, hi: number): boolean {
    if (this.count >= this.limit) this.grow(this.count + 1);
    const t = this.table;
    const mask = this.mask;
    const h1 = hi + 1;
    let j = (hash(lo, hi) & mask) << 1;
    for (;;) {
      const s = t[j + 1]!;
      if (s === 0) {
        t[j] = lo;
        t[j + 1] = h1;
        this.count++;
        return true;
      }
      if (s === h1 && t[j] === lo) return false;
      j = (j + 2) & (mask * 2 + 1);
    }
  }

  /**
   * Adds n IDs given as words (lo[q], hi[q]) in order; sets isNew[q] to 1 for an ID
   * not present before (earlier in the batch included), else 0. Returns how many
   * were new. Much faster than n calls of addKey on tables larger than the caches.
   */
  addKeys(lo: Uint32Array, hi: Uint32Array, n: number, isNew: Uint8Array): number {
    if (this.count + n > this.limit) this.grow(this.count + n);
    const t = this.table;
    const mask = this.mask;
    const wmask = mask * 2 + 1;
    if (this.slots.length < n) this.slots = new Int32Array(n);
    const slots = this.slots;
    // Pass 1 computes the home slots; pass 2 touches them in a loop so small that the
    // CPU keeps dozens of cache/TLB misses in flight; pass 3 then mostly hits the cache.
    // (Callers should keep n to a few thousand so the touched lines stay cached.)
    for (let q = 0; q < n; q++) slots[q] = (hash(lo[q]!, hi[q]!) & mask) << 1;
    let sink = 0;
    for (let q = 0; q < n; q++) sink ^= t[slots[q]! + 1]!;
    this.sink ^= sink;
    let added = 0;
    for (let q = 0; q < n; q++) {
      const l = lo[q]!;
      const h1 = hi[q]! + 1;
      let j = slots[q]!;
      let fresh = 1;
      for (;;) {
        const s = t[j + 1]!;
        if (s === 0) {
          t[j] = l;
          t[j + 1] = h1;
          break;
        }
        if (s === h1 && t[j] === l) {
          fresh = 0;
          break;
        }
        j = (j + 2) & wmask;
      }
      isNew[q] = fresh;
      added += fresh;
    }
    this.count += added;
    return added;
  }

  /** Grows (doubling) until `needed` IDs fit under the load limit. */
  private grow(needed: number): void {
    let cap = this.mask + 1;
    while (cap * MAX_LOAD < needed) {
      if (cap >= MAX_CAPACITY) throw new RangeError(`an IdSet cannot hold more than ${Math.floor(MAX_CAPACITY * MAX_LOAD)} IDs`);
      cap *= 2;
    }
    if (cap === this.mask + 1) return;
    const old = this.table;
    const t = new Uint32Array(cap * 2);
    const mask = cap - 1;
    const wmask = mask * 2 + 1;
    for (let k = 0; k < old.length; k += 2) {
      const h1 = old[k + 1]!;
      if (h1 === 0) continue;
      const l = old[k]!;
      let j = (hash(l, h1 - 1) & mask) << 1;
      while (t[j + 1] !== 0) j = (j + 2) & wmask;
      t[j] = l;
      t[j + 1] = h1;
    }
    this.table = t;
    this.mask = mask;
    this.limit = Math.floor(cap * MAX_LOAD);
  }
}

function rangeError(buf: Uint8Array, start: number, end: number): TypeError {
  const n = Math.max(0, Math.min(end - start, 40));
  const text = Buffer.from(buf.buffer, buf.byteOffset + start, n).toString("latin1");
  return new TypeError(`not an ID of 1–19 digits: ${JSON.stringify(text)}`);
}
