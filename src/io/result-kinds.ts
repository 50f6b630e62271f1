// What a compliance event asks for (its kind), and tables of IDs by kind: the rule `apply`
// follows (README "Applying results"), kept here so the result parser can count distinct IDs by
// the kind that wins for them while a download streams (io imports nothing from dataset/).

import { hash, IdKey } from "./id-set.js";

/**
 * What `apply` does to a record whose ID has a compliance event.
 *
 * The rule (README "Applying results"):
 * - `action: "delete"` → DELETE, whatever the reason (even `reason: "scrub_geo"`: the API says
 *   delete, and deleting is the safe side).
 * - `action: "scrub_geo"`, or `reason: "scrub_geo"`/`"geo_scrubbed"` with any action other than
 *   `delete` → SCRUB (remove `geo`, `coordinates` and `place`).
 * - `action: "rehydrate"` (an edited Post: the stored copy is out of date) → REHYDRATE: the record
 *   is left as it is and its ID listed (`apply --rehydrate <file>`) so it can be fetched again.
 * - any other action (one this version does not know) → OTHER: reported and left untouched;
 *   `--strict` refuses the whole run instead.
 * - error records (`{"id":…,"error":"invalid_id"}`) are counted and reported, never applied.
 * When one ID has several events, the most severe wins: DELETE > SCRUB > REHYDRATE > OTHER.
 */
export const Kind = { none: 0, other: 1, rehydrate: 2, scrub: 3, delete: 4 } as const;
export type KindValue = (typeof Kind)[keyof typeof Kind];

export function classifyEvent(action: string, reason: string | undefined): KindValue {
  if (action === "delete") return Kind.delete;
  if (action === "scrub_geo" || reason === "scrub_geo" || reason === "geo_scrubbed") return Kind.scrub;
  if (action === "rehydrate") return Kind.rehydrate;
  return Kind.other;
}

/**
 * ID → kind, as an open-addressing hash table over typed arrays: 9 bytes a slot, load ≤ 0.5,
 * so ~18–36 bytes per event whatever the dataset size (1M events ≈ 19 MB). Lookups take digit
 * bytes straight from the dataset buffer, so the scan creates no strings. Keys are the ID's two
 * 32-bit words from src/io/id-set.ts; a slot keeps hi + 1 (never 0: hi ≤ 2328306436), 0 = empty.
 */
export class IdKindMap {
  #keys: Uint32Array;
  #kinds: Uint8Array;
  #mask: number;
  #size = 0;
  /** Where add/lookup read the ID given. */
  readonly #key = new IdKey();

  constructor(expected = 0) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.#keys = new Uint32Array(cap * 2);
    this.#kinds = new Uint8Array(cap);
    this.#mask = cap - 1;
  }

  get size(): number {
    return this.#size;
  }

  get byteLength(): number {
    return this.#keys.byteLength + this.#kinds.byteLength;
  }

  /** Records `kind` for an ID, keeping the strongest kind when the ID is already there. */
  add(id: string, kind: KindValue): void {
    const key = this.#key;
    if (kind === Kind.none || !key.fromString(id)) return;
    if ((this.#size + 1) * 2 > this.#mask + 1) this.#grow();
    this.#put(key.lo, key.hi, kind);
  }

  /** The kind of the ID spelled by buf[start, end), or Kind.none. */
  lookupRange(buf: Uint8Array, start: number, end: number): KindValue {
    const key = this.#key;
    if (this.#size === 0 || !key.fromBytes(buf, start, end)) return Kind.none;
    return this.#find(key.lo, key.hi);
  }

  lookup(id: string): KindValue {
    const key = this.#key;
    if (this.#size === 0 || !key.fromString(id)) return Kind.none;
    return this.#find(key.lo, key.hi);
  }

  /** The kind held for the ID hi·2^32 + lo, or Kind.none. */
  getKey(lo: number, hi: number): KindValue {
    return this.#size === 0 ? Kind.none : this.#find(lo, hi);
  }

  /** Records `kind` for the ID hi·2^32 + lo, keeping the strongest. */
  putKey(lo: number, hi: number, kind: KindValue): void {
    if (kind === Kind.none) return;
    if ((this.#size + 1) * 2 > this.#mask + 1) this.#grow();
    this.#put(lo, hi, kind);
  }

  /** How many IDs hold each kind, indexed by KindValue (none, other, rehydrate, scrub, delete). */
  kindCounts(): number[] {
    const counts = [0, 0, 0, 0, 0];
    const kinds = this.#kinds;
    for (let i = 0; i < kinds.length; i++) counts[kinds[i]!]!++;
    counts[Kind.none] = 0;
    return counts;
  }

  #find(lo: number, hi: number): KindValue {
    const t = this.#keys;
    const mask = this.#mask;
    const h1 = hi + 1;
    let i = hash(lo, hi) & mask;
    for (;;) {
      const j = i << 1;
      const s = t[j + 1]!;
      if (s === 0) return Kind.none;
      if (s === h1 && t[j] === lo) return this.#kinds[i] as KindValue;
      i = (i + 1) & mask;
    }
  }

  #put(lo: number, hi: number, kind: number): void {
    const t = this.#keys;
    const mask = this.#mask;
    const h1 = hi + 1;
    let i = hash(lo, hi) & mask;
    for (;;) {
      const j = i << 1;
      const s = t[j + 1]!;
      if (s === 0) {
        t[j] = lo;
        t[j + 1] = h1;
        this.#kinds[i] = kind;
        this.#size++;
        return;
      }
      if (s === h1 && t[j] === lo) {
        if (kind > this.#kinds[i]!) this.#kinds[i] = kind;
        return;
      }
      i = (i + 1) & mask;
    }
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldKinds = this.#kinds;
    const cap = (this.#mask + 1) * 2;
    this.#keys = new Uint32Array(cap * 2);
    this.#kinds = new Uint8Array(cap);
    this.#mask = cap - 1;
    this.#size = 0;
    for (let i = 0; i < oldKinds.length; i++) {
      const kind = oldKinds[i]!;
      if (kind !== 0) this.#put(oldKeys[i << 1]!, oldKeys[(i << 1) + 1]! - 1, kind);
    }
  }
}


/** Distinct IDs of a results file by the kind that wins for each, and the lines beyond one per ID. */
export interface DistinctCounts {
  delete: number;
  scrub: number;
  rehydrate: number;
  /** Actions this version does not apply (left untouched). */
  other: number;
  /** Event lines for an ID that already had one (however their actions compare). */
  duplicateLines: number;
}

export function emptyDistinct(): DistinctCounts {
  return { delete: 0, scrub: 0, rehydrate: 0, other: 0, duplicateLines: 0 };
}

/**
 * Counts the distinct IDs of a stream of events by winning kind, in memory proportional to the
 * events (9 bytes each while they stream, 16 more for a moment at the end).
 *
 * A hash table per line costs a cache miss per event once it outgrows the caches (~0.17 µs a
 * line measured, nearly doubling the parser's time on a 200 MB file), so the keys are only
 * appended as they come (sequential writes) and grouped once at the end: a 3-pass radix sort on
 * a 32-bit hash of each ID, then equal hashes compared on the full ID. The counts by kind start
 * as the lines' own kinds; only an ID with several lines is corrected to its strongest kind.
 */
export class DistinctKinds {
  private lo = new Uint32Array(1024);
  private hi = new Uint32Array(1024);
  /** The line's kind (low 3 bits) and the ID's leading digit when it has 19 (the bits above). */
  private kinds = new Uint8Array(1024);
  private n = 0;
  /** Lines by their own kind (none, other, rehydrate, scrub, delete). */
  private readonly byKind = [0, 0, 0, 0, 0];
  private done: DistinctCounts | undefined;

  /**
   * An event for the ID spelled by buf[start, end) (1–19 digits; anything else is ignored). The
   * digits are kept as three numbers, last 9, the 9 before, and any one before those (in the
   * kind byte's top bits): one small-integer step a digit, cheaper than the two words of IdKey.
   */
  addRange(buf: Uint8Array, start: number, end: number, kind: KindValue): void {
    const len = end - start;
    if (len < 1 || len > 19) return;
    let lo = 0;
    let mid = 0;
    let top = 0;
    let i = start;
    const midStart = end - 18;
    const loStart = end - 9;
    for (; i < midStart; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) return;
      top = top * 10 + d;
    }
    for (; i < loStart; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) return;
      mid = mid * 10 + d;
    }
    for (; i < end; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) return;
      lo = lo * 10 + d;
    }
    this.push(lo, mid, top, kind);
  }

  /** An event for the ID `id` (1–19 digits; anything else is ignored). */
  add(id: string, kind: KindValue): void {
    const b = Buffer.from(id, "latin1");
    if (b.length !== id.length) return;
    this.addRange(b, 0, b.length, kind);
  }

  private push(lo: number, mid: number, top: number, kind: KindValue): void {
    const q = this.n;
    if (q === this.kinds.length) this.grow();
    this.lo[q] = lo;
    this.hi[q] = mid;
    this.kinds[q] = kind | (top << 3);
    this.n = q + 1;
    this.byKind[kind]!++;
    this.done = undefined;
  }

  private grow(): void {
    const cap = this.kinds.length * 2;
    const lo = new Uint32Array(cap);
    lo.set(this.lo);
    const hi = new Uint32Array(cap);
    hi.set(this.hi);
    const kinds = new Uint8Array(cap);
    kinds.set(this.kinds);
    this.lo = lo;
    this.hi = hi;
    this.kinds = kinds;
  }

  /** The counts of every event added so far. */
  counts(): DistinctCounts {
    if (this.done) return { ...this.done };
    const n = this.n;
    const byKind = this.byKind.slice();
    let duplicateLines = 0;
    if (n > 1) {
      const { lo, hi, kinds } = this;
      // Radix sort of the positions by hash: 11 + 11 + 10 bits.
      let keys = new Uint32Array(n);
      let order = new Uint32Array(n);
      for (let q = 0; q < n; q++) {
        keys[q] = hash(lo[q]!, hi[q]! ^ ((kinds[q]! >>> 3) << 30)) >>> 0;
        order[q] = q;
      }
      let keys2 = new Uint32Array(n);
      let order2 = new Uint32Array(n);
      const count = new Uint32Array(2048);
      for (const [shift, bits] of [[0, 11], [11, 11], [22, 10]] as const) {
        const mask = (1 << bits) - 1;
        count.fill(0);
        for (let q = 0; q < n; q++) count[(keys[q]! >>> shift) & mask]!++;
        let sum = 0;
        for (let b = 0; b <= mask; b++) {
          const c = count[b]!;
          count[b] = sum;
          sum += c;
        }
        for (let q = 0; q < n; q++) {
          const k = keys[q]!;
          const to = count[(k >>> shift) & mask]!++;
          keys2[to] = k;
          order2[to] = order[q]!;
        }
        [keys, keys2] = [keys2, keys];
        [order, order2] = [order2, order];
      }
      // Runs of equal hashes: group them by the full ID (runs are short; quadratic is fine).
      for (let a = 0; a < n; ) {
        let b = a + 1;
        while (b < n && keys[b] === keys[a]) b++;
        for (let i = a; i < b; i++) {
          const pi = order[i]!;
          if (pi === 0xffffffff) continue;
          let best = kinds[pi]! & 7;
          const top = kinds[pi]! >>> 3;
          let lines = 1;
          for (let j = i + 1; j < b; j++) {
            const pj = order[j]!;
            if (pj === 0xffffffff || lo[pj] !== lo[pi] || hi[pj] !== hi[pi] || kinds[pj]! >>> 3 !== top) continue;
            const kj = kinds[pj]! & 7;
            byKind[kj]!--;
            if (kj > best) best = kj;
            lines++;
            order[j] = 0xffffffff;
          }
          if (lines > 1) {
            duplicateLines += lines - 1;
            byKind[kinds[pi]! & 7]!--;
            byKind[best]!++;
          }
        }
        a = b;
      }
    }
    this.done = { delete: byKind[Kind.delete]!, scrub: byKind[Kind.scrub]!, rehydrate: byKind[Kind.rehydrate]!, other: byKind[Kind.other]!, duplicateLines };
    return { ...this.done };
  }
}

/**
 * The digits of an ID as two 32-bit words, cheaply (one small-integer step a digit): the last 9
 * digits, the 9 before, and any one before those split into 2 bits on each word (so the words
 * are unique per ID, leading zeros aside: "007" is 7, as everywhere else).
 */
class DigitKey {
  a = 0;
  b = 0;

  fromBytes(buf: Uint8Array, start: number, end: number): boolean {
    const len = end - start;
    if (len < 1 || len > 19) return false;
    let lo = 0;
    let mid = 0;
    let top = 0;
    let i = start;
    const midStart = end - 18;
    const loStart = end - 9;
    for (; i < midStart; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) return false;
      top = d;
    }
    for (; i < loStart; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) return false;
      mid = mid * 10 + d;
    }
    for (; i < end; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) return false;
      lo = lo * 10 + d;
    }
    this.a = (lo | ((top & 3) << 30)) >>> 0;
    this.b = (mid | ((top >>> 2) << 30)) >>> 0;
    return true;
  }

  fromString(id: string): boolean {
    const b = Buffer.from(id, "latin1");
    return b.length === id.length && this.fromBytes(b, 0, b.length);
  }
}

/** Bytes of RepeatFilter's bit table: 2 MiB (one word touched per line). */
export const REPEAT_FILTER_BYTES = 2 * 1024 * 1024;

/**
 * The cheap first pass of distinct counting, for input that can be read a second time (a file):
 * a fixed bit table (Bloom-style, two bits in one 32-bit word per ID) notices the lines whose ID
 * *may* have been seen before, and only those lines' IDs are kept (with their strongest kind).
 * There are no false negatives, so when no line was a candidate every ID had one line and the
 * counts are the lines' own kinds, exactly. Otherwise `recount()` takes the same lines again and
 * gathers every line of the candidate IDs (RepeatRecount): the earlier lines of a repeated ID
 * are the ones the first pass could not keep. Memory: the table, plus ~18–36 bytes a candidate.
 * Past ~20k distinct IDs some false candidates are all but certain, so large files are read twice.
 */
export class RepeatFilter {
  #bits: Uint32Array;
  #mask: number;
  readonly #candidates = new IdKindMap();
  readonly #byKind = [0, 0, 0, 0, 0];
  #lines = 0;
  readonly #key = new DigitKey();

  /** `bytes`: the bit table's size, a power of two ≥ 4 (tests pass tiny ones to force collisions). */
  constructor(bytes = REPEAT_FILTER_BYTES) {
    let words = 1;
    while (words * 4 < bytes) words *= 2;
    this.#bits = new Uint32Array(words);
    this.#mask = words - 1;
  }

  /** An event for the ID spelled by buf[start, end) (1–19 digits; anything else is ignored). */
  addRange(buf: Uint8Array, start: number, end: number, kind: KindValue): void {
    if (this.#key.fromBytes(buf, start, end)) this.#see(kind);
  }

  add(id: string, kind: KindValue): void {
    if (this.#key.fromString(id)) this.#see(kind);
  }

  #see(kind: KindValue): void {
    const { a, b } = this.#key;
    this.#lines++;
    this.#byKind[kind]!++;
    const h = hash(a, b);
    const w = h & this.#mask;
    const m = (1 << ((h >>> 22) & 31)) | (1 << (h >>> 27));
    const old = this.#bits[w]!;
    if ((old & m) === m) this.#candidates.putKey(a, b, kind);
    else this.#bits[w] = old | m;
  }

  /** Lines whose ID may have been seen before (0: every ID had one line). */
  get candidates(): number {
    return this.#candidates.size;
  }

  /**
   * The counts, when no line was a candidate; undefined when a recount is needed. Ends the first
   * pass: the table is let go (a split upload's next part makes its own).
   */
  counts(): DistinctCounts | undefined {
    this.#bits = new Uint32Array(0);
    this.#mask = 0;
    if (this.#candidates.size > 0) return undefined;
    const k = this.#byKind;
    return { delete: k[Kind.delete]!, scrub: k[Kind.scrub]!, rehydrate: k[Kind.rehydrate]!, other: k[Kind.other]!, duplicateLines: 0 };
  }

  /** The second pass: give it the same events again, in any order, then ask it for the counts. */
  recount(): RepeatRecount {
    return new RepeatRecount(this.#candidates, this.#byKind.slice(), this.#lines);
  }
}

/** RepeatFilter's second pass: every line of the candidate IDs, to correct the counts. */
export class RepeatRecount {
  readonly #key = new DigitKey();
  /** Lines of candidate IDs by their own kind. */
  readonly #candidateLines = [0, 0, 0, 0, 0];
  #lines = 0;
  readonly #candidates: IdKindMap;
  readonly #byKind: number[];

  /** `expectedLines`: the lines the first pass saw (the second must see as many). */
  constructor(candidates: IdKindMap, byKind: number[], readonly expectedLines: number) {
    this.#candidates = candidates;
    this.#byKind = byKind;
  }

  /** Lines seen by this pass. */
  get lines(): number {
    return this.#lines;
  }

  addRange(buf: Uint8Array, start: number, end: number, kind: KindValue): void {
    if (this.#key.fromBytes(buf, start, end)) this.#see(kind);
  }

  add(id: string, kind: KindValue): void {
    if (this.#key.fromString(id)) this.#see(kind);
  }

  #see(kind: KindValue): void {
    this.#lines++;
    const { a, b } = this.#key;
    const held = this.#candidates.getKey(a, b);
    if (held === Kind.none) return;
    this.#candidateLines[kind]!++;
    if (kind > held) this.#candidates.putKey(a, b, kind);
  }

  /**
   * Every line counted by its own kind, less the candidate IDs' lines, plus one per candidate ID
   * by the strongest kind of its lines (a false candidate, with one line, changes nothing).
   */
  counts(): DistinctCounts {
    const best = this.#candidates.kindCounts();
    const k = this.#byKind.map((n, i) => n - this.#candidateLines[i]! + best[i]!);
    const lines = this.#candidateLines.reduce((s, n) => s + n, 0);
    return { delete: k[Kind.delete]!, scrub: k[Kind.scrub]!, rehydrate: k[Kind.rehydrate]!, other: k[Kind.other]!, duplicateLines: lines - this.#candidates.size };
  }
}
