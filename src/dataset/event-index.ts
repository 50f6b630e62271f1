import { createReadStream } from "node:fs";
import type { ResultLine } from "../io/result-line.js";
import { hash, IdKey } from "../io/id-set.js";
import type { ResultStats } from "../io/result-stats.js";
import { ResultParser } from "../io/results.js";

/**
 * What `apply` does to a record whose ID has a compliance event.
 *
 * The rule (README "Applying results"):
 * - `action: "delete"` → DELETE, whatever the reason (even `reason: "scrub_geo"`: the API says
 *   delete, and deleting is the safe side).
 * - `action: "scrub_geo"`, or `reason: "scrub_geo"` with any action other than `delete` → SCRUB
 *   (remove `geo`, `coordinates` and `place`).
 * - any other action (`rehydrate`, or one this version does not know) → OTHER: reported and left
 *   untouched; `--strict` refuses the whole run instead.
 * - error records (`{"id":…,"error":"invalid_id"}`) are counted and reported, never applied.
 * When one ID has several events, DELETE beats SCRUB beats OTHER.
 */
export const Kind = { none: 0, delete: 3, scrub: 2, other: 1 } as const;
export type KindValue = (typeof Kind)[keyof typeof Kind];

export function classifyEvent(action: string, reason: string | undefined): KindValue {
  if (action === "delete") return Kind.delete;
  if (action === "scrub_geo" || reason === "scrub_geo") return Kind.scrub;
  return Kind.other;
}

/**
 * ID → kind, as an open-addressing hash table over typed arrays: 9 bytes a slot, load ≤ 0.5,
 * so ~18–36 bytes per event whatever the dataset size (1M events ≈ 19 MB). Lookups take digit
 * bytes straight from the dataset buffer, so the scan creates no strings. Keys are the ID's two
 * 32-bit words from src/io/id-set.ts; a slot keeps hi + 1 (never 0: hi ≤ 2328306436), 0 = empty.
 */
export class EventIndex {
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

export interface LoadedResults {
  index: EventIndex;
  stats: ResultStats;
  /** Events per kind (not per distinct ID). */
  events: { delete: number; scrub: number; other: number };
  /** Events of kind OTHER, by action. */
  otherActions: Record<string, number>;
}

/** Adds one parsed result line to the index and the counts. */
export function indexResultLine(line: ResultLine, into: LoadedResults): void {
  if (!("action" in line) || typeof line.action !== "string") return; // error record: counted by ResultParser only
  const kind = classifyEvent(line.action, typeof line.reason === "string" ? line.reason : undefined);
  into.index.add(line.id, kind);
  if (kind === Kind.delete) into.events.delete++;
  else if (kind === Kind.scrub) into.events.scrub++;
  else {
    into.events.other++;
    into.otherActions[line.action] = (into.otherActions[line.action] ?? 0) + 1;
  }
}

/**
 * Reads a results file (or stream) into an EventIndex. Validation is ResultParser's: a bad line
 * throws InvalidResultLineError with its line number (exit 4). Memory grows with the events only.
 */
export async function loadResults(source: string, stream: AsyncIterable<Buffer | string>): Promise<LoadedResults> {
  const loaded: LoadedResults = { index: new EventIndex(), stats: undefined as unknown as ResultStats, events: { delete: 0, scrub: 0, other: 0 }, otherActions: {} };
  const parser = new ResultParser(source, (line) => indexResultLine(line, loaded));
  for await (const chunk of stream) parser.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  loaded.stats = parser.end();
  return loaded;
}

export function openResults(path: string): AsyncIterable<Buffer> {
  return createReadStream(path, { highWaterMark: 1 << 20 });
}
