import { IdSet } from "../io/id-set.js";
import { zeroCounts, type ApplierCounts } from "./applier.js";
import { csvColumns, type CsvColumnChoice, type CsvColumns } from "./csv-columns.js";
import { CsvScanner, fieldText, type CsvRecord } from "./csv-scan.js";
import { Kind, type EventIndex, type KindValue } from "./event-index.js";
import { InvalidLines } from "./invalid.js";
import type { DatasetType } from "./record-shape.js";

const NL = Buffer.from("\n");
const QUOTE = 34;

/**
 * The span of the ID in field `col` of a record, without quotes and rtweet's leading `x`:
 * [start, end), or [-1, 0] when the row has no such field or it is empty (or NA), or [-2, 0] when
 * it holds something that is not an ID.
 */
export function idSpan(r: CsvRecord, col: number, out: [number, number]): void {
  if (col < 0 || col >= r.starts.length) {
    out[0] = -1;
    return;
  }
  let s = r.starts[col]!;
  let e = r.ends[col]!;
  const b = r.buf;
  if (e - s >= 2 && b[s] === QUOTE && b[e - 1] === QUOTE) {
    s++;
    e--;
  }
  while (s < e && (b[s] === 32 || b[s] === 9)) s++;
  while (e > s && (b[e - 1] === 32 || b[e - 1] === 9)) e--;
  if (s === e || (e - s === 2 && b[s] === 78 /* N */ && b[s + 1] === 65 /* A */)) {
    out[0] = -1;
    return;
  }
  if (b[s] === 120 /* x */) s++;
  if (e - s < 1 || e - s > 19) {
    out[0] = -2;
    return;
  }
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c < 48 || c > 57) {
      out[0] = -2;
      return;
    }
  }
  out[0] = s;
  out[1] = e;
}

/** The decoded header of a record. */
export function headerNames(r: CsvRecord): string[] {
  const names = r.starts.map((s, i) => fieldText(r.buf, s, r.ends[i]!).trim());
  // A UTF-8 byte order mark before the first name (Excel writes one).
  if (names[0]?.charCodeAt(0) === 0xfeff) names[0] = names[0].slice(1);
  return names;
}

/**
 * `apply` on a CSV archive: the same interface and counts as DatasetApplier, one record (row) at
 * a time. The header row is kept (and heads the --removed file). A row is removed when its Post
 * (tweets) or its author (users) has a delete event, or when it is a retweet of a removed Post or
 * user; a scrub empties its geo columns; a quote of a removed Post (or user) loses the row's copy of
 * the quoted Post (rtweet's quoted_text…, 4CAT's quote_body…); every other row is copied as its
 * original bytes. A
 * "line" in the counts is a CSV record (a quoted field may span several physical lines).
 */
export class CsvApplier {
  /** What the summary's line counts count (a CSV record is a line there; the header is one). */
  readonly unit = "line";
  readonly counts: ApplierCounts = zeroCounts();
  readonly invalid = new InvalidLines();
  out: Buffer[] = [];
  removed: Buffer[] = [];
  rehydrate: Buffer[] = [];
  private readonly rehydrated = new IdSet();
  private readonly scanner: CsvScanner;
  private columns: CsvColumns | undefined;
  private readonly span: [number, number] = [0, 0];
  private runBuf: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;

  /** The header record's bytes (a line end added if it had none), once it has been read. */
  header: Buffer | undefined;

  get rehydrateIds(): number {
    return this.rehydrated.size;
  }

  /** The header's column names, once it has been read. */
  get headerNames(): readonly string[] | undefined {
    return this.columns?.names;
  }

  /**
   * `auditHeader` false leaves the header out of `removed` (for a caller that writes the removed
   * rows of several files under one header).
   */
  constructor(
    private readonly type: DatasetType,
    private readonly index: EventIndex,
    private readonly audit: boolean,
    private readonly choice: CsvColumnChoice,
    private readonly dataset: string,
    private readonly auditHeader = true,
  ) {
    this.scanner = new CsvScanner((r) => this.record(r));
  }

  push(chunk: Buffer): void {
    this.counts.bytes += chunk.length;
    this.scanner.push(chunk);
    this.flushRun();
  }

  end(): void {
    this.scanner.end();
    this.flushRun();
  }

  take(): { out: Buffer[]; removed: Buffer[]; rehydrate: Buffer[] } {
    const taken = { out: this.out, removed: this.removed, rehydrate: this.rehydrate };
    this.out = [];
    this.removed = [];
    this.rehydrate = [];
    return taken;
  }

  private flushRun(): void {
    if (this.runBuf) {
      this.out.push(this.runBuf.subarray(this.runStart, this.runEnd));
      this.runBuf = undefined;
    }
  }

  private keep(r: CsvRecord): void {
    this.counts.unchangedLines++;
    if (this.runBuf === r.buf && this.runEnd === r.start) {
      this.runEnd = r.end;
      return;
    }
    this.flushRun();
    this.runBuf = r.buf;
    this.runStart = r.start;
    this.runEnd = r.end;
  }

  private drop(r: CsvRecord): void {
    this.counts.droppedLines++;
    this.counts.removedRecords++;
    this.flushRun();
    if (!this.audit) return;
    this.removed.push(Buffer.from(r.buf.subarray(r.start, r.end)));
    if (r.end === r.contentEnd) this.removed.push(NL);
  }

  private bad(r: CsvRecord, why: string): void {
    this.counts.invalidLines++;
    this.invalid.add(r.lineNo, why);
    this.keep(r);
  }

  private kindAt(r: CsvRecord, col: number): KindValue {
    idSpan(r, col, this.span);
    return this.span[0] < 0 ? Kind.none : this.index.lookupRange(r.buf, this.span[0], this.span[1]);
  }

  private record(r: CsvRecord): void {
    this.counts.lines++;
    if (!this.columns) {
      this.columns = csvColumns(headerNames(r), this.type, this.choice, this.dataset);
      this.keep(r);
      const bytes = Buffer.from(r.buf.subarray(r.start, r.end));
      this.header = r.end === r.contentEnd ? Buffer.concat([bytes, NL]) : bytes;
      if (this.audit && this.auditHeader) this.removed.push(this.header);
      return;
    }
    if (r.contentEnd === r.start) {
      this.counts.blankLines++;
      this.keep(r);
      return;
    }
    if (r.unclosed) return this.bad(r, "a quoted field is not closed");
    const cols = this.columns;
    if (cols.noKey) {
      this.keep(r);
      return;
    }
    const keyCol = this.type === "tweets" ? cols.post : cols.author;
    idSpan(r, keyCol, this.span);
    if (this.span[0] < 0) {
      const name = cols.names[keyCol]!;
      return this.bad(r, this.span[0] === -1 ? `no ${this.type === "tweets" ? "Post" : "user"} ID in column ${name}` : `column ${name} is not an ID`);
    }
    const ks = this.span[0];
    const ke = this.span[1];
    let kind = this.index.lookupRange(r.buf, ks, ke);
    if (kind !== Kind.delete) {
      // A retweet is the retweeted Post itself: it goes with that Post (or its author).
      for (const col of this.type === "tweets" ? cols.retweetedPost : cols.retweetedUser) {
        if (this.kindAt(r, col) === Kind.delete) {
          kind = Kind.delete;
          break;
        }
      }
    }
    // A quote of a removed Post keeps its own text but loses its copy of the quoted one.
    let empty: number[] = [];
    if (kind !== Kind.delete && cols.quotedCopy.length > 0) {
      for (const col of this.type === "tweets" ? cols.quotedPost : cols.quotedUser) {
        if (this.kindAt(r, col) === Kind.delete) {
          empty = cols.quotedCopy;
          break;
        }
      }
    }
    if (kind === Kind.scrub) {
      this.counts.scrubbedRecords++;
      empty = empty.length ? [...new Set([...empty, ...cols.geo])].sort((a, b) => a - b) : cols.geo;
    }
    if (kind === Kind.none && empty.length === 0) {
      this.keep(r);
      return;
    }
    switch (kind) {
      case Kind.delete:
        this.drop(r);
        return;
      case Kind.none:
      case Kind.scrub:
        this.rewrite(r, empty);
        return;
      case Kind.rehydrate:
        this.counts.untouchedRecords++;
        this.counts.rehydrateRecords++;
        if (this.rehydrated.addRange(r.buf, ks, ke)) this.rehydrate.push(Buffer.from(r.buf.subarray(ks, ke)), NL);
        this.rewrite(r, empty);
        return;
      default:
        this.counts.untouchedRecords++;
        this.rewrite(r, empty);
    }
  }

  /** Writes the row with the fields `cols` (ascending) emptied, or as it was when they are empty already. */
  private rewrite(r: CsvRecord, cols: readonly number[]): void {
    const emptied = cols.filter((c) => c < r.starts.length && r.ends[c]! > r.starts[c]!);
    if (emptied.length === 0) {
      this.keep(r);
      return;
    }
    this.flushRun();
    this.counts.rewrittenLines++;
    let at = r.start;
    for (const c of emptied) {
      this.out.push(Buffer.from(r.buf.subarray(at, r.starts[c]!)));
      at = r.ends[c]!;
    }
    this.out.push(Buffer.from(r.buf.subarray(at, r.end)));
  }
}
