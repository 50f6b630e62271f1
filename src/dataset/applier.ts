import { IdSet } from "../io/id-set.js";
import { LineSplitter } from "../io/lines.js";
import { Kind, type EventIndex } from "./event-index.js";
import { InvalidLines } from "./invalid.js";
import { eventElsewhere, Found, isSpace, scanQuotedIds, TopLevelIds } from "./json-scan.js";
import { parseLossless, stringifyLossless } from "./json-lossless.js";
import { applyToRecord, type ApplyCounts } from "./record-apply.js";
import { InvalidRecord, type DatasetType } from "./record-shape.js";

export interface ApplierCounts extends ApplyCounts {
  /** Physical lines read (blank ones included). */
  lines: number;
  blankLines: number;
  /** Lines copied byte for byte (blank and skipped invalid lines included). */
  unchangedLines: number;
  /** Lines re-serialised because a record in them was scrubbed or a page was edited. */
  rewrittenLines: number;
  /** Lines left out of the output. */
  droppedLines: number;
  /** Lines that were fully parsed because they mention an ID from the results. */
  parsedLines: number;
  /** Invalid lines (kept unchanged with --skip-invalid). */
  invalidLines: number;
  bytes: number;
}

/** Counts of a run that has read nothing yet. */
export function zeroCounts(): ApplierCounts {
  return {
    lines: 0,
    blankLines: 0,
    unchangedLines: 0,
    rewrittenLines: 0,
    droppedLines: 0,
    parsedLines: 0,
    invalidLines: 0,
    removedRecords: 0,
    removedUsers: 0,
    scrubbedRecords: 0,
    untouchedRecords: 0,
    rehydrateRecords: 0,
    prunedIncludes: 0,
    bytes: 0,
  };
}

/** Adds one file's counts to a run's total (several files, or sync's stages over several files). */
export function addCounts(total: ApplierCounts, c: ApplierCounts): void {
  for (const k of Object.keys(total) as Array<keyof ApplierCounts>) total[k] += c[k];
}

const NL = Buffer.from("\n");
const CRNL = Buffer.from("\r\n");

/**
 * Streams a dataset through the compliance events, line by line, without decoding lines that
 * cannot be affected.
 *
 * Fast path: a JSON line is scanned byte by byte for quoted digit strings (`"1234…"`); each is
 * looked up in the EventIndex. Only when one is an event ID is the line decoded and parsed, and
 * then the record's real ID field decides (a match in, say, a mention is a false alarm and the
 * line is kept). A line with an event for an ID other than its own is parsed, since it may embed
 * a copy of that Post (record-nested.ts). Lines that are kept are copied as their original bytes, in runs of whole chunk
 * slices. Unparsed lines get a cheap shape check: `{…}` with an `"id"`, `"id_str"` or
 * `"author_id"` key holding a digit string (a line without one is parsed), or a plain ID. A line
 * cut short or not JSON at all is caught; `compliant ids`, which parses every line, is the full check.
 */
export class DatasetApplier {
  readonly counts: ApplierCounts = zeroCounts();
  readonly invalid = new InvalidLines();
  /** Output pieces since the last take(). */
  out: Buffer[] = [];
  /** Audit pieces (what was dropped) since the last take(). */
  removed: Buffer[] = [];
  /** IDs of records with a `rehydrate` event since the last take(), one per line, each once over the run. */
  rehydrate: Buffer[] = [];
  /** Rehydrate IDs listed so far (a record can appear in several lines, e.g. as a referenced Post). */
  private readonly rehydrated = new IdSet();

  /** Distinct IDs listed for rehydrate so far. */
  get rehydrateIds(): number {
    return this.rehydrated.size;
  }
  private readonly onRehydrate = (id: string): void => {
    if (/^[0-9]{1,19}$/.test(id) && this.rehydrated.add(id)) this.rehydrate.push(Buffer.from(`${id}\n`, "latin1"));
  };

  private readonly splitter: LineSplitter;
  /** Reused for every line a hit sends to the top-level check. */
  private readonly top = new TopLevelIds();
  private runBuf: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;
  private ending = false;

  constructor(
    private readonly type: DatasetType,
    private readonly index: EventIndex,
    private readonly audit: boolean,
    /** See applyToRecord: records with no ID of this type are kept, not invalid (sync). */
    private readonly keepKeyless = false,
  ) {
    this.splitter = new LineSplitter((buf, start, end, lineNo) => this.line(buf, start, end, lineNo));
  }

  push(chunk: Buffer): void {
    this.counts.bytes += chunk.length;
    this.splitter.push(chunk);
    this.flushRun();
  }

  end(): void {
    this.ending = true;
    this.splitter.end();
    this.flushRun();
  }

  /** Hands over the pieces produced so far. */
  take(): { out: Buffer[]; removed: Buffer[]; rehydrate: Buffer[] } {
    const taken = { out: this.out, removed: this.removed, rehydrate: this.rehydrate };
    this.out = [];
    this.removed = [];
    this.rehydrate = [];
    return taken;
  }

  /** Counts a record with a rehydrate event whose ID is buf[s, e), and lists the ID once. */
  private rehydrateRange(buf: Buffer, s: number, e: number): void {
    this.counts.untouchedRecords++;
    this.counts.rehydrateRecords++;
    if (this.rehydrated.addRange(buf, s, e)) this.rehydrate.push(Buffer.from(buf.subarray(s, e)), NL);
  }

  private flushRun(): void {
    if (this.runBuf) {
      this.out.push(this.runBuf.subarray(this.runStart, this.runEnd));
      this.runBuf = undefined;
    }
  }

  /** Copies line [start, end) and its newline to the output, extending the current run. */
  private keep(buf: Buffer, start: number, end: number): void {
    this.counts.unchangedLines++;
    if (end < buf.length) {
      // The newline is in this buffer: extend or start a run of whole lines.
      if (this.runBuf === buf && this.runEnd === start) {
        this.runEnd = end + 1;
      } else {
        this.flushRun();
        this.runBuf = buf;
        this.runStart = start;
        this.runEnd = end + 1;
      }
      return;
    }
    // A line joined across chunks, or the final line without a newline.
    this.flushRun();
    this.out.push(buf.subarray(start, end));
    if (!this.ending) this.out.push(NL);
  }

  /** Leaves line [start, end) out of the output (ending the current run), and audits it with --removed. */
  private drop(buf: Buffer, start: number, end: number): void {
    this.counts.droppedLines++;
    this.flushRun();
    if (!this.audit) return;
    let e = end;
    if (e > start && buf[e - 1] === 13) e--;
    this.removed.push(Buffer.from(buf.subarray(start, e)), NL);
  }

  private bad(buf: Buffer, start: number, end: number, lineNo: number, why: string): void {
    this.counts.invalidLines++;
    this.invalid.add(lineNo, why);
    this.keep(buf, start, end);
  }

  private line(buf: Buffer, start: number, end: number, lineNo: number): void {
    this.counts.lines++;
    let s = start;
    let e = end;
    const hadCR = e > s && buf[e - 1] === 13;
    while (e > s && (buf[e - 1] === 13 || isSpace(buf[e - 1]))) e--;
    while (s < e && isSpace(buf[s])) s++;
    if (s === e) {
      this.counts.blankLines++;
      this.keep(buf, start, end);
      return;
    }
    const first = buf[s]!;
    if (first >= 48 && first <= 57) {
      // A plain ID list line.
      for (let i = s; i < e; i++) {
        const c = buf[i]!;
        if (c < 48 || c > 57) return this.bad(buf, start, end, lineNo, "not an ID or JSON");
      }
      if (e - s > 19) return this.bad(buf, start, end, lineNo, "not an ID (more than 19 digits)");
      const kind = this.index.lookupRange(buf, s, e);
      if (kind === Kind.delete) {
        this.counts.removedRecords++;
        // A user ID line is a user.
        if (this.type === "users") this.counts.removedUsers++;
        this.drop(buf, start, end);
        return;
      }
      // An ID alone has no geo fields: scrub leaves it as it is.
      if (kind === Kind.scrub) this.counts.scrubbedRecords++;
      else if (kind === Kind.rehydrate) this.rehydrateRange(buf, s, e);
      else if (kind === Kind.other) this.counts.untouchedRecords++;
      this.keep(buf, start, end);
      return;
    }
    if (first !== 123 /* { */ || buf[e - 1] !== 125 /* } */) {
      return this.bad(buf, start, end, lineNo, "not JSON");
    }

    // Scan for quoted digit strings (json-scan.ts).
    const index = this.index;
    const found = scanQuotedIds(buf, s, e, index);
    if (found === Found.idKey) {
      this.keep(buf, start, end);
      return;
    }
    const hit = found === Found.event;
    // A hit, or a line with no ID key in sight (an empty page, or an invalid line): parse it.

    // A hit in a whole record (not a page): find its own ID field without parsing. Most hits are
    // deletions, which then need no parse at all; only scrubs (a rewrite) and pages are parsed.
    const top = this.top;
    if (hit && top.scan(buf, s, e) && !top.isPage && top.keyFor(this.type)) {
      const ks = top.keyStart;
      const ke = top.keyEnd;
      const kind = index.lookupRange(buf, ks, ke);
      if (kind === Kind.delete) {
        this.counts.removedRecords++;
        this.drop(buf, start, end);
        return;
      }
      // Otherwise the record's own ID decides only when nothing else in it has an event: another
      // hit may be a copy of a removed Post (a retweet's `retweeted_status`, record-nested.ts) or
      // the Post a bare `retweeted` reference names, so such a line is parsed below (a mere
      // mention or reply ID is then a false alarm, kept).
      if (kind !== Kind.scrub && !eventElsewhere(buf, s, e, ks, ke, index)) {
        if (kind === Kind.rehydrate) this.rehydrateRange(buf, ks, ke);
        else if (kind === Kind.other) this.counts.untouchedRecords++;
        this.keep(buf, start, end);
        return;
      }
      // A scrub, or an event elsewhere in the line: parse below.
    }

    // Slow path: parse the line and decide on the record's own ID fields.
    this.counts.parsedLines++;
    let value: unknown;
    try {
      value = parseLossless(buf.toString("utf8", s, e));
    } catch {
      return this.bad(buf, start, end, lineNo, "not JSON");
    }
    let outcome;
    try {
      outcome = applyToRecord(value, this.type, index, this.counts, this.onRehydrate, this.keepKeyless);
    } catch (err) {
      if (err instanceof InvalidRecord) return this.bad(buf, start, end, lineNo, err.why);
      throw err;
    }
    if (outcome.kind === "keep") {
      this.keep(buf, start, end);
      return;
    }
    if (outcome.kind === "drop") {
      this.drop(buf, start, end);
      return;
    }
    this.flushRun();
    this.counts.rewrittenLines++;
    const hadNewline = end < buf.length || !this.ending;
    this.out.push(Buffer.from(stringifyLossless(outcome.value)));
    if (hadNewline) this.out.push(hadCR ? CRNL : NL);
    if (this.audit) for (const r of outcome.removed) this.removed.push(Buffer.from(stringifyLossless(r)), NL);
  }
}
