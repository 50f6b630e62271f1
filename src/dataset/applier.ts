import { LineSplitter } from "../io/lines.js";
import { Kind, type EventIndex } from "./event-index.js";
import { InvalidLines } from "./invalid.js";
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

const NL = Buffer.from("\n");
const CRNL = Buffer.from("\r\n");

/** `"id"`, `"id_str"`, `"author_id"` as bytes, for the cheap shape check. */
const ID_KEYS = ["id", "id_str", "author_id"].map((k) => Buffer.from(k));

function isSpace(c: number | undefined): boolean {
  return c === 32 || c === 9;
}

/**
 * Streams a dataset through the compliance events, line by line, without decoding lines that
 * cannot be affected.
 *
 * Fast path: a JSON line is scanned byte by byte for quoted digit strings (`"1234…"`); each is
 * looked up in the EventIndex. Only when one is an event ID is the line decoded and parsed, and
 * then the record's real ID field decides (a match in, say, a mention is a false alarm and the
 * line is kept). Lines that are kept are copied as their original bytes, in runs of whole chunk
 * slices. Unparsed lines get a cheap shape check: `{…}` with an `"id"`, `"id_str"` or
 * `"author_id"` key holding a digit string (a line without one is parsed), or a plain ID. A line
 * cut short or not JSON at all is caught; `compliant ids`, which parses every line, is the full check.
 */
export class DatasetApplier {
  readonly counts: ApplierCounts = {
    lines: 0,
    blankLines: 0,
    unchangedLines: 0,
    rewrittenLines: 0,
    droppedLines: 0,
    parsedLines: 0,
    invalidLines: 0,
    removedRecords: 0,
    scrubbedRecords: 0,
    untouchedRecords: 0,
    prunedIncludes: 0,
    bytes: 0,
  };
  readonly invalid = new InvalidLines();
  /** Output pieces since the last take(). */
  out: Buffer[] = [];
  /** Audit pieces (what was dropped) since the last take(). */
  removed: Buffer[] = [];

  private readonly splitter: LineSplitter;
  private runBuf: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;
  private ending = false;

  constructor(
    private readonly type: DatasetType,
    private readonly index: EventIndex,
    private readonly audit: boolean,
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
  take(): { out: Buffer[]; removed: Buffer[] } {
    const taken = { out: this.out, removed: this.removed };
    this.out = [];
    this.removed = [];
    return taken;
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
        this.drop(buf, start, end);
        return;
      }
      // An ID alone has no geo fields: scrub leaves it as it is.
      if (kind === Kind.scrub) this.counts.scrubbedRecords++;
      else if (kind === Kind.other) this.counts.untouchedRecords++;
      this.keep(buf, start, end);
      return;
    }
    if (first !== 123 /* { */ || buf[e - 1] !== 125 /* } */) {
      return this.bad(buf, start, end, lineNo, "not JSON");
    }

    // Scan for quoted digit strings.
    const index = this.index;
    let hit = false;
    let hasIdKey = false;
    for (let i = s + 1; i < e; i++) {
      if (buf[i] !== 34) continue;
      let j = i + 1;
      let c = buf[j]!;
      while (c >= 48 && c <= 57) c = buf[++j]!;
      if (j === i + 1 || c !== 34) continue;
      if (index.lookupRange(buf, i + 1, j) !== Kind.none) {
        hit = true;
        break;
      }
      if (!hasIdKey) hasIdKey = precededByIdKey(buf, s, i);
      i = j;
    }
    if (!hit && hasIdKey) {
      this.keep(buf, start, end);
      return;
    }
    // A hit, or a line with no ID key in sight (an empty page, or an invalid line): parse it.

    // A hit in a whole record (not a page): find its own ID field without parsing. Most hits are
    // deletions, which then need no parse at all; only scrubs (a rewrite) and pages are parsed.
    if (hit && scanTopLevel(buf, s, e) && !topIsPage) {
      let ks = -1;
      let ke = -1;
      if (this.type === "tweets") {
        if (topIdStrStart >= 0) [ks, ke] = [topIdStrStart, topIdStrEnd];
        else if (topIdStart >= 0) [ks, ke] = [topIdStart, topIdEnd];
      } else if (topAuthorStart >= 0) {
        [ks, ke] = [topAuthorStart, topAuthorEnd];
      }
      if (ks >= 0) {
        const kind = index.lookupRange(buf, ks, ke);
        if (kind === Kind.none) {
          this.keep(buf, start, end);
          return;
        }
        if (kind === Kind.delete) {
          this.counts.removedRecords++;
          this.drop(buf, start, end);
          return;
        }
        if (kind === Kind.other) {
          this.counts.untouchedRecords++;
          this.keep(buf, start, end);
          return;
        }
        // Kind.scrub: parse and rewrite below.
      }
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
      outcome = applyToRecord(value, this.type, index, this.counts);
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

/** True if the string opening at `quote` is the value of an `"id"`, `"id_str"` or `"author_id"` key. */
function precededByIdKey(buf: Buffer, lineStart: number, quote: number): boolean {
  let p = quote - 1;
  while (p > lineStart && isSpace(buf[p])) p--;
  if (buf[p] !== 58 /* : */) return false;
  p--;
  while (p > lineStart && isSpace(buf[p])) p--;
  if (buf[p] !== 34) return false;
  for (const key of ID_KEYS) {
    const k0 = p - key.length;
    if (k0 - 1 < lineStart || buf[k0 - 1] !== 34) continue;
    if (buf.compare(key, 0, key.length, k0, p) === 0) return true;
  }
  return false;
}

// Results of scanTopLevel (module scratch, to avoid allocating per line): spans of the digit
// string values of the top-level `id`, `id_str` and `author_id` keys (-1 when absent or not an
// ID), and whether the object has a top-level `data` or `includes` key (a v2 response page).
let topIdStart = -1;
let topIdEnd = -1;
let topIdStrStart = -1;
let topIdStrEnd = -1;
let topAuthorStart = -1;
let topAuthorEnd = -1;
let topIsPage = false;

const K_OTHER = 0;
const K_ID = 1;
const K_ID_STR = 2;
const K_AUTHOR = 3;
const K_PAGE = 4;

function keyCode(buf: Buffer, s: number, e: number): number {
  const n = e - s;
  if (n === 2 && buf[s] === 105 && buf[s + 1] === 100) return K_ID;
  if (n === 6 && buf.compare(ID_STR, 0, 6, s, e) === 0) return K_ID_STR;
  if (n === 9 && buf.compare(AUTHOR_ID, 0, 9, s, e) === 0) return K_AUTHOR;
  if ((n === 4 && buf.compare(DATA, 0, 4, s, e) === 0) || (n === 8 && buf.compare(INCLUDES, 0, 8, s, e) === 0)) return K_PAGE;
  return K_OTHER;
}
const ID_STR = Buffer.from("id_str");
const AUTHOR_ID = Buffer.from("author_id");
const DATA = Buffer.from("data");
const INCLUDES = Buffer.from("includes");

function isIdSpan(buf: Buffer, s: number, e: number): boolean {
  if (e - s < 1 || e - s > 19) return false;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Walks the JSON object in buf[s, e) tracking strings and nesting, and records its top-level ID
 * fields (see above). Returns false if the bytes are not shaped like an object.
 */
function scanTopLevel(buf: Buffer, s: number, e: number): boolean {
  topIdStart = topIdEnd = topIdStrStart = topIdStrEnd = topAuthorStart = topAuthorEnd = -1;
  topIsPage = false;
  if (buf[s] !== 123) return false;
  let depth = 1;
  let expectKey = true;
  let i = s + 1;
  while (i < e) {
    const c = buf[i]!;
    if (c === 34) {
      let j = i + 1;
      while (j < e) {
        const d = buf[j]!;
        if (d === 92) j += 2;
        else if (d === 34) break;
        else j++;
      }
      if (depth === 1 && expectKey) {
        expectKey = false;
        const code = keyCode(buf, i + 1, j);
        let k = j + 1;
        while (k < e && isSpace(buf[k])) k++;
        if (buf[k] !== 58) return false;
        k++;
        while (k < e && isSpace(buf[k])) k++;
        if (code === K_PAGE) topIsPage = true;
        if (code !== K_OTHER && code !== K_PAGE && buf[k] === 34) {
          let m = k + 1;
          while (m < e && buf[m] !== 34 && buf[m] !== 92) m++;
          const digits = isIdSpan(buf, k + 1, m) && buf[m] === 34;
          const vs = digits ? k + 1 : -1;
          const ve = digits ? m : -1;
          if (code === K_ID) [topIdStart, topIdEnd] = [vs, ve];
          else if (code === K_ID_STR) [topIdStrStart, topIdStrEnd] = [vs, ve];
          else [topAuthorStart, topAuthorEnd] = [vs, ve];
        }
        i = k;
        continue;
      }
      i = j + 1;
      continue;
    }
    if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) depth--;
    else if (c === 44 && depth === 1) expectKey = true;
    i++;
  }
  return depth === 0;
}
