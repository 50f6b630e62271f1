import { UsageError } from "../errors.js";
import { IdSet } from "../io/id-set.js";
import { DatasetApplier, zeroCounts, type ApplierCounts } from "./applier.js";
import { Kind, type EventIndex } from "./event-index.js";
import { InvalidLines } from "./invalid.js";
import { eventElsewhere, Found, scanQuotedIds, TopLevelIds } from "./json-scan.js";
import { parseLossless, stringifyLossless } from "./json-lossless.js";
import { applyToRecord } from "./record-apply.js";
import { emitRecordIds, type IdReading } from "./record-ids.js";
import { InvalidRecord, type DatasetType } from "./record-shape.js";

// A dataset file holding one JSON array of records (academictwitteR's data_<id>.json, or any
// `[{…},{…}]` export), streamed: a byte-level scanner finds the top-level elements the way the
// line splitter finds lines, so an array of any size is read in constant memory (bar the
// largest element), and `apply` writes it back with the same layout.

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** True if the first byte that is not JSON whitespace is `[` (false for an input of only whitespace). */
export function startsArray(buf: Buffer): boolean | undefined {
  for (let i = 0; i < buf.length; i++) if (!isWs(buf[i]!)) return buf[i] === 91;
  return undefined;
}

/** Where a JSON array's bytes stop making sense; `why` reads after "the dataset x ". */
export class ArrayStructureError extends Error {
  constructor(
    readonly why: string,
    readonly lineNo: number,
  ) {
    super(why);
  }
}

/** One message for a broken array (exit 2). */
export function arrayStructureError(name: string, err: ArrayStructureError): UsageError {
  return new UsageError(`the dataset ${name} starts as a JSON array but ${err.why} (line ${err.lineNo}); nothing was written: use a complete copy of the file.`);
}

export interface ArrayEvents {
  /** Bytes around the elements: up to and including `[`, the separators, `]` and what follows. */
  gap(buf: Buffer, s: number, e: number): void;
  /** One top-level element, buf[s, e) (no surrounding whitespace); `no` counts from 1. */
  element(buf: Buffer, s: number, e: number, no: number, lineNo: number): void;
}

const START = 0; // before `[`
const FIRST = 1; // after `[`: an element or `]`
const NEXT = 2; // after `,`: an element
const IN = 3; // inside an element
const AFTER = 4; // after an element: `,` or `]`
const END = 5; // after `]`: whitespace only

const CONTAINER = 0;
const STRING = 1;
const PRIMITIVE = 2;

/**
 * Finds the top-level elements of a JSON array fed in chunks. Elements are delimited by tracking
 * strings (with escapes) and bracket depth; they are not validated (the caller parses what it
 * needs). The array's own structure is checked: `[`, commas between elements, `]`, nothing after.
 */
export class ArrayScanner {
  private state = START;
  private kind = CONTAINER;
  private depth = 0;
  private inString = false;
  private escape = false;
  private carry: Buffer[] = [];
  private elementLine = 1;
  elements = 0;
  lineNo = 1;

  constructor(private readonly on: ArrayEvents) {}

  push(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    let from = 0; // start of the current gap or element piece in this chunk
    while (i < n) {
      const c = chunk[i]!;
      if (this.state === IN) {
        if (c === 10) this.lineNo++;
        if (this.kind === PRIMITIVE) {
          if (isWs(c) || c === 44 || c === 93) {
            this.finish(chunk, from, i);
            from = i;
            continue; // the delimiter is read in state AFTER
          }
          i++;
          continue;
        }
        if (this.inString) {
          if (this.escape) this.escape = false;
          else if (c === 92) this.escape = true;
          else if (c === 34) {
            this.inString = false;
            if (this.kind === STRING) {
              this.finish(chunk, from, i + 1);
              from = ++i;
              continue;
            }
          }
          i++;
          continue;
        }
        if (c === 34) this.inString = true;
        else if (c === 123 || c === 91) this.depth++;
        else if (c === 125 || c === 93) {
          if (--this.depth === 0) {
            this.finish(chunk, from, i + 1);
            from = ++i;
            continue;
          }
        }
        i++;
        continue;
      }
      if (isWs(c)) {
        if (c === 10) this.lineNo++;
        i++;
        continue;
      }
      switch (this.state) {
        case START:
          if (c !== 91) throw new ArrayStructureError("does not start with [", this.lineNo);
          this.state = FIRST;
          i++;
          continue;
        case AFTER:
          if (c === 44) this.state = NEXT;
          else if (c === 93) this.state = END;
          else throw new ArrayStructureError(`has no comma after element ${this.elements}`, this.lineNo);
          i++;
          continue;
        case END:
          throw new ArrayStructureError("has more after its closing ]", this.lineNo);
        default: {
          // FIRST or NEXT: an element starts, or (FIRST only) the array closes.
          if (c === 93) {
            if (this.state === NEXT) throw new ArrayStructureError(`has a comma and no element after element ${this.elements}`, this.lineNo);
            this.state = END;
            i++;
            continue;
          }
          if (c === 44) throw new ArrayStructureError(`has an empty element after element ${this.elements}`, this.lineNo);
          if (i > from) this.on.gap(chunk, from, i);
          from = i;
          this.state = IN;
          this.elementLine = this.lineNo;
          this.kind = c === 123 || c === 91 ? CONTAINER : c === 34 ? STRING : PRIMITIVE;
          this.depth = this.kind === CONTAINER ? 1 : 0;
          this.inString = this.kind === STRING;
          this.escape = false;
          i++;
        }
      }
    }
    if (from < n) {
      if (this.state === IN) this.carry.push(Buffer.from(chunk.subarray(from, n)));
      else this.on.gap(chunk, from, n);
    }
  }

  end(): void {
    if (this.state === IN && this.kind === PRIMITIVE) this.finish(Buffer.alloc(0), 0, 0);
    if (this.state === END) return;
    if (this.state === START) throw new ArrayStructureError("is empty", this.lineNo);
    throw new ArrayStructureError(this.state === IN ? `ends inside element ${this.elements + 1}` : "ends before its closing ]", this.lineNo);
  }

  private finish(chunk: Buffer, from: number, to: number): void {
    this.state = AFTER;
    this.elements++;
    if (this.carry.length === 0) {
      this.on.element(chunk, from, to, this.elements, this.elementLine);
      return;
    }
    this.carry.push(chunk.subarray(from, to));
    const joined = Buffer.concat(this.carry);
    this.carry = [];
    this.on.element(joined, 0, joined.length, this.elements, this.elementLine);
  }
}

/**
 * Writes an array back with the layout it had: the bytes around elements are kept, an element
 * that is dropped goes with the separator before it (the first one kept takes the array's
 * opening), and an array left empty is written `[]`. Pieces are views of the input buffers.
 */
export class ArrayLayout {
  out: Buffer[] = [];
  private gap: Buffer[] = [];
  private prefix: Buffer[] | undefined;
  private keptAny = false;
  private runBuf: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;

  onGap(buf: Buffer, s: number, e: number): void {
    this.gap.push(buf.subarray(s, e));
  }

  /** The next element: its bytes (kept or rewritten), or undefined when it is dropped. */
  element(buf: Buffer | undefined, s = 0, e = buf?.length ?? 0): void {
    let before: Buffer[];
    if (this.prefix === undefined) {
      this.prefix = this.gap;
      before = this.prefix;
    } else {
      before = this.gap;
    }
    this.gap = [];
    if (buf === undefined) return;
    for (const piece of this.keptAny ? before : this.prefix) this.emit(piece, 0, piece.length);
    this.keptAny = true;
    this.emit(buf, s, e);
  }

  end(): void {
    if (this.prefix !== undefined && !this.keptAny) {
      // Every element was dropped: `[` and `]` with what was outside them.
      const head = Buffer.concat(this.prefix).toString("latin1").trimEnd();
      const tail = Buffer.concat(this.gap).toString("latin1").trimStart();
      this.out.push(Buffer.from(head + tail, "latin1"));
    } else {
      for (const piece of this.gap) this.emit(piece, 0, piece.length);
    }
    this.gap = [];
    this.flush();
  }

  /** Hands over the pieces so far. */
  take(): Buffer[] {
    this.flush();
    const out = this.out;
    this.out = [];
    return out;
  }

  private emit(buf: Buffer, s: number, e: number): void {
    if (e <= s) return;
    const from = buf.byteOffset + s;
    if (this.runBuf !== undefined && this.runBuf.buffer === buf.buffer && this.runEnd === from) {
      this.runEnd += e - s;
      return;
    }
    this.flush();
    this.runBuf = buf;
    this.runStart = from;
    this.runEnd = from + (e - s);
  }

  /** The current run, as one view of the memory its pieces share (offsets are absolute). */
  private flush(): void {
    if (this.runBuf !== undefined) {
      this.out.push(Buffer.from(this.runBuf.buffer, this.runStart, this.runEnd - this.runStart));
      this.runBuf = undefined;
    }
  }
}

const NL = Buffer.from("\n");

/**
 * `apply` on a JSON array, element by element, with the same fast path as JSON Lines: an element
 * is parsed only when a quoted digit string in it is an event ID (or it shows no ID key at all).
 * The counts are those of DatasetApplier, counting elements where it counts lines.
 */
export class ArrayApplier {
  readonly counts: ApplierCounts = zeroCounts();
  readonly invalid = new InvalidLines("element");
  readonly unit = "element";
  private removed: Buffer[] = [];
  private rehydrate: Buffer[] = [];
  private readonly rehydrated = new IdSet();
  private readonly layout = new ArrayLayout();
  private readonly scanner: ArrayScanner;
  private readonly top = new TopLevelIds();

  constructor(
    private readonly type: DatasetType,
    private readonly index: EventIndex,
    private readonly audit: boolean,
    private readonly name: string,
    private readonly keepKeyless = false,
  ) {
    this.scanner = new ArrayScanner({
      gap: (b, s, e) => this.layout.onGap(b, s, e),
      element: (b, s, e, no) => this.element(b, s, e, no),
    });
  }

  get rehydrateIds(): number {
    return this.rehydrated.size;
  }

  push(chunk: Buffer): void {
    this.counts.bytes += chunk.length;
    this.guard(() => this.scanner.push(chunk));
  }

  end(): void {
    this.guard(() => this.scanner.end());
    this.layout.end();
  }

  take(): { out: Buffer[]; removed: Buffer[]; rehydrate: Buffer[] } {
    const taken = { out: this.layout.take(), removed: this.removed, rehydrate: this.rehydrate };
    this.removed = [];
    this.rehydrate = [];
    return taken;
  }

  private guard(f: () => void): void {
    try {
      f();
    } catch (err) {
      if (err instanceof ArrayStructureError) throw arrayStructureError(this.name, err);
      throw err;
    }
  }

  private listRehydrate(id: string): void {
    if (/^[0-9]{1,19}$/.test(id) && this.rehydrated.add(id)) this.rehydrate.push(Buffer.from(`${id}\n`, "latin1"));
  }

  private keep(buf: Buffer, s: number, e: number): void {
    this.counts.unchangedLines++;
    this.layout.element(buf, s, e);
  }

  private drop(buf: Buffer, s: number, e: number): void {
    this.counts.droppedLines++;
    this.layout.element(undefined);
    if (this.audit) this.removed.push(Buffer.from(buf.subarray(s, e).toString("utf8").replace(/\r?\n\s*/g, " ")), NL);
  }

  private bad(buf: Buffer, s: number, e: number, no: number, why: string): void {
    this.counts.invalidLines++;
    this.invalid.add(no, why);
    this.keep(buf, s, e);
  }

  private element(buf: Buffer, s: number, e: number, no: number): void {
    this.counts.lines++;
    if (buf[s] !== 123 || buf[e - 1] !== 125) return this.bad(buf, s, e, no, "not a JSON object");
    const index = this.index;
    const found = scanQuotedIds(buf, s, e, index);
    if (found === Found.idKey) return this.keep(buf, s, e);
    // The same fast path as DatasetApplier.line: the element's own ID decides without a parse
    // only when no other quoted digit string in it has an event (one may be a copy inside it).
    const top = this.top;
    if (found === Found.event && top.scan(buf, s, e) && !top.isPage && top.keyFor(this.type)) {
      const ks = top.keyStart;
      const ke = top.keyEnd;
      const kind = index.lookupRange(buf, ks, ke);
      if (kind === Kind.delete) {
        this.counts.removedRecords++;
        return this.drop(buf, s, e);
      }
      if (kind !== Kind.scrub && !eventElsewhere(buf, s, e, ks, ke, index)) {
        if (kind === Kind.rehydrate || kind === Kind.other) {
          this.counts.untouchedRecords++;
          if (kind === Kind.rehydrate) {
            this.counts.rehydrateRecords++;
            this.listRehydrate(buf.toString("latin1", ks, ke));
          }
        }
        return this.keep(buf, s, e);
      }
    }
    this.counts.parsedLines++;
    let value: unknown;
    try {
      value = parseLossless(buf.toString("utf8", s, e));
    } catch {
      return this.bad(buf, s, e, no, "not JSON");
    }
    let outcome;
    try {
      outcome = applyToRecord(value, this.type, index, this.counts, (id) => this.listRehydrate(id), this.keepKeyless);
    } catch (err) {
      if (err instanceof InvalidRecord) return this.bad(buf, s, e, no, err.why);
      throw err;
    }
    if (outcome.kind === "keep") return this.keep(buf, s, e);
    if (outcome.kind === "drop") return this.drop(buf, s, e);
    this.counts.rewrittenLines++;
    this.layout.element(Buffer.from(stringifyLossless(outcome.value)));
    if (this.audit) for (const r of outcome.removed) this.removed.push(Buffer.from(stringifyLossless(r)), NL);
  }
}

/** What `apply` streams a dataset through: DatasetApplier (lines) or ArrayApplier (a JSON array). */
export interface StreamApplier {
  readonly counts: ApplierCounts;
  readonly invalid: InvalidLines;
  readonly rehydrateIds: number;
  push(chunk: Buffer): void;
  end(): void;
  take(): { out: Buffer[]; removed: Buffer[]; rehydrate: Buffer[] };
}

/**
 * Chooses the applier by the dataset's first byte that is not whitespace: `[` is a JSON array,
 * anything else JSON Lines (handed exactly the bytes it always had).
 */
export class AutoApplier implements StreamApplier {
  private inner: DatasetApplier | ArrayApplier | undefined;
  private held: Buffer[] = [];
  private readonly zero: ApplierCounts = zeroCounts();

  constructor(
    private readonly type: DatasetType,
    private readonly index: EventIndex,
    private readonly audit: boolean,
    private readonly name: string,
    private readonly keepKeyless = false,
  ) {}

  /** "element" for a JSON array, "line" otherwise. */
  get unit(): string {
    return this.inner instanceof ArrayApplier ? "element" : "line";
  }
  get counts(): ApplierCounts {
    return this.inner?.counts ?? this.zero;
  }
  get invalid(): InvalidLines {
    return this.inner?.invalid ?? new InvalidLines();
  }
  get rehydrateIds(): number {
    return this.inner?.rehydrateIds ?? 0;
  }

  push(chunk: Buffer): void {
    if (this.inner) return this.inner.push(chunk);
    this.held.push(chunk);
    const array = startsArray(chunk);
    if (array === undefined) return;
    this.choose(array);
  }

  end(): void {
    if (!this.inner) this.choose(false);
    this.inner!.end();
  }

  take(): { out: Buffer[]; removed: Buffer[]; rehydrate: Buffer[] } {
    return this.inner ? this.inner.take() : { out: [], removed: [], rehydrate: [] };
  }

  private choose(array: boolean): void {
    this.inner = array ? new ArrayApplier(this.type, this.index, this.audit, this.name, this.keepKeyless) : new DatasetApplier(this.type, this.index, this.audit, this.keepKeyless);
    const held = this.held;
    this.held = [];
    for (const c of held) this.inner.push(c);
  }
}

/** What `ids` found in a JSON array. */
export interface ArrayExtraction {
  invalid: InvalidLines;
  ids: number;
  /** Elements read. */
  lines: number;
}

/**
 * `ids` on a JSON array: every element is parsed and gives recordIds (or fieldIds with --field).
 * Invalid elements are collected; a broken array throws (exit 2).
 */
export async function extractArrayIds(
  input: AsyncIterable<Buffer>,
  name: string,
  type: IdReading,
  field: readonly string[] | undefined,
  onId: ((id: string, type: DatasetType) => void) | undefined,
  onChunkDone: (() => Promise<void>) | undefined,
  signal: AbortSignal,
  stopOnInvalid: boolean,
): Promise<ArrayExtraction> {
  const result: ArrayExtraction = { invalid: new InvalidLines("element"), ids: 0, lines: 0 };
  const scanner = new ArrayScanner({
    gap: () => undefined,
    element: (buf, s, e, no) => {
      result.lines++;
      let value: unknown;
      try {
        value = parseLossless(buf.toString("utf8", s, e));
      } catch {
        result.invalid.add(no, "not JSON");
        return;
      }
      try {
        result.ids += emitRecordIds(value, type, field, onId, !stopOnInvalid || result.invalid.count === 0);
      } catch (err) {
        if (err instanceof InvalidRecord) {
          result.invalid.add(no, err.why);
          return;
        }
        throw err;
      }
    },
  });
  try {
    for await (const chunk of input) {
      if (signal.aborted) throw signal.reason;
      scanner.push(chunk);
      await onChunkDone?.();
    }
    scanner.end();
  } catch (err) {
    if (err instanceof ArrayStructureError) throw arrayStructureError(name, err);
    throw err;
  }
  await onChunkDone?.();
  return result;
}

/**
 * Looks at an input's first bytes: `array` is true when its first byte that is not whitespace is
 * `[`. The returned `input` yields every byte again, from the start.
 */
export async function sniffArray(input: AsyncIterable<Buffer>): Promise<{ array: boolean; input: AsyncIterable<Buffer> }> {
  const it = input[Symbol.asyncIterator]();
  const held: Buffer[] = [];
  let array = false;
  for (;;) {
    const next = await it.next();
    if (next.done) break;
    held.push(next.value);
    const a = startsArray(next.value);
    if (a !== undefined) {
      array = a;
      break;
    }
  }
  return {
    array,
    input: (async function* () {
      yield* held;
      for (;;) {
        const next = await it.next();
        if (next.done) return;
        yield next.value;
      }
    })(),
  };
}
