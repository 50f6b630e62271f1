import { ResultLineSchema, type ResultLine } from "./result-line.js";
import { CliError, ExitCode } from "../errors.js";
import { LineSplitter } from "./lines.js";

/** Counts of a results file (or stream), the basis of every summary and `compliant report`. */
export interface ResultStats {
  /** Compliance events: IDs that need action. */
  events: number;
  /** Error records (`{"id":…,"error":…}`) from the API-origin flow. */
  errors: number;
  blankLines: number;
  bytes: number;
  byAction: Record<string, number>;
  byReason: Record<string, number>;
  byError: Record<string, number>;
}

export function emptyStats(): ResultStats {
  return { events: 0, errors: 0, blankLines: 0, bytes: 0, byAction: {}, byReason: {}, byError: {} };
}

export function mergeStats(into: ResultStats, from: ResultStats): ResultStats {
  into.events += from.events;
  into.errors += from.errors;
  into.blankLines += from.blankLines;
  into.bytes += from.bytes;
  for (const key of ["byAction", "byReason", "byError"] as const) {
    for (const [k, v] of Object.entries(from[key])) into[key][k] = (into[key][k] ?? 0) + v;
  }
  return into;
}

export class InvalidResultLineError extends CliError {
  constructor(source: string, lineNo: number, text: string, why: string) {
    super(
      `${source} line ${lineNo} is not a valid compliance event (${why}): ${JSON.stringify(text.slice(0, 80))}; the file may be truncated or corrupt, so download it again.`,
      ExitCode.refused,
    );
  }
}

/** At most `lines` result lines (and as many blank lines plus one); `why` names the bound in messages. */
export interface LineLimit {
  lines: number;
  /** e.g. "the 200 IDs uploaded" */
  why: string;
}

export class TooManyResultLinesError extends CliError {
  constructor(source: string, limit: LineLimit, what: string) {
    super(
      `${source} has more ${what} than ${limit.why}, which no usable answer has (the body may never end), so the download was stopped. Run again later; if it persists, the service is sending wrong results.`,
      ExitCode.refused,
    );
  }
}

const ID = /^[0-9]{1,19}$/;
// RFC 3339 with optional fraction and Z or ±hh:mm, as ResultEventSchema accepts.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The schema's checks for an ordinary event, without zod's per-call cost (1M lines per job). */
function isPlainEvent(v: unknown): v is { id: string; action: string; reason?: string } {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.id === "string" &&
    ID.test(o.id) &&
    typeof o.action === "string" &&
    o.action.length > 0 &&
    (o.reason === undefined || typeof o.reason === "string") &&
    (o.created_at === undefined || (typeof o.created_at === "string" && TIMESTAMP.test(o.created_at))) &&
    (o.redacted_at === undefined || o.redacted_at === null || (typeof o.redacted_at === "string" && TIMESTAMP.test(o.redacted_at))) &&
    (o.deleted_at === undefined || o.deleted_at === null || (typeof o.deleted_at === "string" && TIMESTAMP.test(o.deleted_at)))
  );
}

const KEY_ID = 1;
const KEY_ACTION = 2;
const KEY_CREATED = 3;
const KEY_REDACTED = 4;
const KEY_DELETED = 5;
const KEY_REASON = 6;

const KEY_BYTES = ["", "id", "action", "created_at", "redacted_at", "deleted_at", "reason"].map((k) => Buffer.from(k, "latin1"));

function bytesEqual(buf: Buffer, s: number, want: Buffer): boolean {
  for (let i = 0; i < want.length; i++) if (buf[s + i] !== want[i]) return false;
  return true;
}

/** Which known key `buf[s, e)` spells (0 for any other). */
function keyOf(buf: Buffer, s: number, e: number): number {
  const n = e - s;
  const c = buf[s];
  let key = 0;
  if (n === 2) key = c === 105 ? KEY_ID : 0;
  else if (n === 6) key = c === 97 ? KEY_ACTION : c === 114 ? KEY_REASON : 0;
  else if (n === 10) key = c === 99 ? KEY_CREATED : c === 100 ? KEY_DELETED : 0;
  else if (n === 11) key = c === 114 ? KEY_REDACTED : 0;
  return key !== 0 && bytesEqual(buf, s, KEY_BYTES[key]!) ? key : 0;
}

/**
 * Short ASCII values (actions, reasons) seen before, so each line need not decode them: `index`
 * gives a small number per distinct value (counted in arrays, not string-keyed maps), or -1 once
 * MAX_VALUES distinct values are held and this one is not among them.
 */
class ValueCache {
  readonly bytes: Buffer[] = [];
  readonly strings: string[] = [];

  index(buf: Buffer, s: number, e: number): number {
    const n = e - s;
    const list = this.bytes;
    for (let k = 0; k < list.length; k++) {
      const b = list[k]!;
      if (b.length === n && bytesEqual(buf, s, b)) return k;
    }
    if (list.length >= MAX_VALUES) return -1;
    const str = buf.toString("latin1", s, e);
    list.push(Buffer.from(str, "latin1"));
    this.strings.push(str);
    return list.length - 1;
  }
}

const MAX_VALUES = 32;

/** A result line is ~150 bytes; one over 1 MiB is not a compliance event, however it ends. */
export const MAX_RESULT_LINE_BYTES = 1024 * 1024;

const D = (c: number | undefined): boolean => c !== undefined && c >= 48 && c <= 57;

/**
 * Matches TIMESTAMP's pattern at `buf[s…]` (`\d` is ASCII digits, as without the u flag) and
 * returns the index just after it, or -1. The caller requires the closing quote there, so the
 * string's whole content matched, as the anchored regex requires.
 */
function timestampEnd(buf: Buffer, s: number, e: number): number {
  if (e - s < 20) return -1;
  if (
    !(D(buf[s]) && D(buf[s + 1]) && D(buf[s + 2]) && D(buf[s + 3]) && buf[s + 4] === 45 &&
      D(buf[s + 5]) && D(buf[s + 6]) && buf[s + 7] === 45 && D(buf[s + 8]) && D(buf[s + 9]) &&
      buf[s + 10] === 84 && D(buf[s + 11]) && D(buf[s + 12]) && buf[s + 13] === 58 &&
      D(buf[s + 14]) && D(buf[s + 15]) && buf[s + 16] === 58 && D(buf[s + 17]) && D(buf[s + 18]))
  ) {
    return -1;
  }
  let i = s + 19;
  if (buf[i] === 46) {
    i++;
    if (!D(buf[i])) return -1;
    while (i < e && D(buf[i])) i++;
  }
  const c = buf[i];
  if (c === 90) return i + 1; // Z
  if ((c === 43 || c === 45) && D(buf[i + 1]) && D(buf[i + 2]) && buf[i + 3] === 58 && D(buf[i + 4]) && D(buf[i + 5])) return i + 6;
  return -1;
}

const ID_OPEN = Buffer.from('{"id":"', "latin1");
const ACTION_KEY = Buffer.from('","action":"', "latin1");
const CREATED_KEY = Buffer.from('","created_at":"', "latin1");
const REDACTED_KEY = Buffer.from(',"redacted_at":', "latin1");
const REASON_KEY = Buffer.from(',"reason":"', "latin1");

/** True when buf[s…] starts with `want`, within buf[s, e). */
function startsWith(buf: Buffer, s: number, e: number, want: Buffer): boolean {
  return s + want.length <= e && bytesEqual(buf, s, want);
}

/** True when buf[i…] spells the JSON literal `null`. */
function isNullAt(buf: Buffer, i: number): boolean {
  return buf[i] === 110 && buf[i + 1] === 117 && buf[i + 2] === 108 && buf[i + 3] === 108;
}

/** The index of the first byte at or after s that is not printable ASCII other than `"` and `\`. */
function printableEnd(buf: Buffer, s: number, e: number): number {
  let i = s;
  while (i < e) {
    const c = buf[i]!;
    if (c < 32 || c > 126 || c === 34 || c === 92) break;
    i++;
  }
  return i;
}

/**
 * Recognises, on the raw bytes, the lines that JSON.parse + isPlainEvent would accept in the
 * usual shape: one flat object whose keys are all among id/action/created_at/redacted_at/
 * deleted_at/reason (each at most once), whose values are strings of printable ASCII without
 * escapes (or null for redacted_at/deleted_at), and which pass the same checks as isPlainEvent.
 * Anything else (escapes, non-ASCII, other keys or types, odd whitespace) returns false and takes
 * the JSON.parse path, so what is accepted and every message stay exactly as before.
 */
class FastEvent {
  /** The action's and the reason's bytes in the last matched line (reasonS = -1: no reason). */
  actionS = 0;
  actionE = 0;
  reasonS = -1;
  reasonE = -1;

  /**
   * The shape every recorded result file has, checked in one straight pass: `{"id":"…","action":
   * "…","created_at":"…"[,"redacted_at":"…"|null],"reason":"…"}`. It accepts a subset of what the
   * general loop below accepts (same value checks), ~2× faster; any other line takes that loop.
   */
  private canonical(buf: Buffer, s: number, e: number): boolean {
    if (!startsWith(buf, s, e, ID_OPEN)) return false;
    let i = s + ID_OPEN.length;
    const ds = i;
    while (D(buf[i])) i++;
    if (i === ds || i - ds > 19 || !startsWith(buf, i, e, ACTION_KEY)) return false;
    i += ACTION_KEY.length;
    this.actionS = i;
    i = printableEnd(buf, i, e);
    if (i === this.actionS || buf[i] !== 34) return false;
    this.actionE = i;
    if (!startsWith(buf, i, e, CREATED_KEY)) return false;
    i = timestampEnd(buf, i + CREATED_KEY.length, e);
    if (i === -1 || buf[i] !== 34) return false;
    i++;
    if (startsWith(buf, i, e, REDACTED_KEY)) {
      i += REDACTED_KEY.length;
      if (buf[i] === 34) {
        i = timestampEnd(buf, i + 1, e);
        if (i === -1 || buf[i] !== 34) return false;
        i++;
      } else if (isNullAt(buf, i)) {
        i += 4;
      } else {
        return false;
      }
    }
    if (!startsWith(buf, i, e, REASON_KEY)) return false;
    i += REASON_KEY.length;
    this.reasonS = i;
    i = printableEnd(buf, i, e);
    this.reasonE = i;
    return buf[i] === 34 && buf[i + 1] === 125 && i + 2 === e;
  }

  match(buf: Buffer, s: number, e: number): boolean {
    // Trailing JSON whitespace is fine for JSON.parse; leading spaces/tabs are already skipped.
    while (e > s && (buf[e - 1] === 32 || buf[e - 1] === 9 || buf[e - 1] === 13)) e--;
    if (this.canonical(buf, s, e)) return true;
    if (buf[s] !== 123 || buf[e - 1] !== 125) return false; // { … }
    let i = s + 1;
    let seen = 0;
    let actionS = 0, actionE = 0, reasonS = 0, reasonE = 0;
    for (;;) {
      if (buf[i] !== 34) return false;
      const ks = ++i;
      i = printableEnd(buf, ks, e);
      if (i >= e || buf[i] !== 34) return false;
      const key = keyOf(buf, ks, i);
      if (key === 0 || seen & (1 << key)) return false;
      seen |= 1 << key;
      if (buf[++i] !== 58) return false; // :
      i++;
      if (buf[i] === 34) {
        const vs = ++i;
        if (key === KEY_ID) {
          while (D(buf[i])) i++;
          if (i === vs || i - vs > 19 || buf[i] !== 34) return false;
        } else if (key === KEY_ACTION || key === KEY_REASON) {
          i = printableEnd(buf, vs, e);
          if (i >= e || buf[i] !== 34) return false;
          if (key === KEY_ACTION) {
            if (i === vs) return false;
            actionS = vs;
            actionE = i;
          } else {
            reasonS = vs;
            reasonE = i;
          }
        } else {
          i = timestampEnd(buf, vs, e);
          if (i === -1 || buf[i] !== 34) return false;
        }
        i++;
      } else if ((key === KEY_REDACTED || key === KEY_DELETED) && isNullAt(buf, i)) {
        i += 4;
      } else {
        return false;
      }
      if (buf[i] === 44) {
        i++;
        continue;
      }
      if (buf[i] === 125 && i === e - 1) break;
      return false;
    }
    if (!(seen & (1 << KEY_ID)) || !(seen & (1 << KEY_ACTION))) return false;
    this.actionS = actionS;
    this.actionE = actionE;
    this.reasonS = seen & (1 << KEY_REASON) ? reasonS : -1;
    this.reasonE = reasonE;
    return true;
  }
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/**
 * Parses NDJSON result bytes as they pass: blank lines are skipped and counted, every other line
 * must be a compliance event or an error record, and is counted by action and reason.
 */
export class ResultParser {
  readonly stats = emptyStats();
  private readonly splitter: LineSplitter;
  private readonly values = new ValueCache();
  private readonly actionCounts = new Float64Array(MAX_VALUES);
  private readonly reasonCounts = new Float64Array(MAX_VALUES);
  private noReason = 0;
  private lines = 0;

  /**
   * `limit`: the most result lines the input can have (one per ID uploaded); blank lines may
   * add as many again plus one. More than that means the body is not this job's results (or never
   * ends), and stops with exit 4 at the first line too many.
   */
  constructor(
    private readonly source: string,
    onLine?: (line: ResultLine) => void,
    limit?: LineLimit,
  ) {
    // The byte matcher yields counts only; callers that want the parsed lines take the JSON path.
    const fast = onLine ? undefined : new FastEvent();
    const max = limit?.lines ?? Infinity;
    const maxBlank = max + 1;
    this.splitter = new LineSplitter((buf, start, end, lineNo) => {
      let e = end;
      if (e > start && buf[e - 1] === 13) e--;
      let s = start;
      while (s < e && (buf[s] === 32 || buf[s] === 9)) s++;
      if (s === e) {
        if (++this.stats.blankLines > maxBlank) throw new TooManyResultLinesError(this.source, limit!, "blank lines");
        return;
      }
      if (++this.lines > max) throw new TooManyResultLinesError(this.source, limit!, "result lines");
      if (fast !== undefined && fast.match(buf, s, e)) {
        // Byte-level fast path: a plain event in the common shape (see FastEvent), counted by the
        // cache index of its action and reason (folded into the stats by end()).
        // A value's first sighting puts its key in the stats (at 0), so keys keep first-seen order.
        this.stats.events++;
        const a = this.values.index(buf, fast.actionS, fast.actionE);
        if (a < 0) bump(this.stats.byAction, buf.toString("latin1", fast.actionS, fast.actionE));
        else if (this.actionCounts[a]!++ === 0) this.stats.byAction[this.values.strings[a]!] ??= 0;
        if (fast.reasonS < 0) {
          if (this.noReason++ === 0) this.stats.byReason["(none)"] ??= 0;
        } else {
          const r = this.values.index(buf, fast.reasonS, fast.reasonE);
          if (r < 0) bump(this.stats.byReason, buf.toString("latin1", fast.reasonS, fast.reasonE));
          else if (this.reasonCounts[r]!++ === 0) this.stats.byReason[this.values.strings[r]!] ??= 0;
        }
        return;
      }
      const text = buf.toString("utf8", s, e);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new InvalidResultLineError(this.source, lineNo, text, "not JSON");
      }
      if (isPlainEvent(value)) {
        // Fast path for the common shape; anything unusual goes through the zod schema below.
        this.stats.events++;
        bump(this.stats.byAction, value.action);
        bump(this.stats.byReason, value.reason ?? "(none)");
        onLine?.(value as ResultLine);
        return;
      }
      const parsed = ResultLineSchema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
        throw new InvalidResultLineError(this.source, lineNo, text, `${where}${issue?.message ?? "invalid"}`);
      }
      const line = parsed.data;
      if ("action" in line && typeof line.action === "string") {
        this.stats.events++;
        bump(this.stats.byAction, line.action);
        bump(this.stats.byReason, typeof line.reason === "string" ? line.reason : "(none)");
      } else {
        this.stats.errors++;
        bump(this.stats.byError, String((line as { error: string }).error));
      }
      onLine?.(line);
    }, {
      maxLineBytes: MAX_RESULT_LINE_BYTES,
      tooLong: (lineNo, head) => new InvalidResultLineError(this.source, lineNo, head.toString("utf8"), "longer than 1 MiB"),
    });
  }

  push(chunk: Buffer): void {
    this.stats.bytes += chunk.length;
    this.splitter.push(chunk);
  }

  end(): ResultStats {
    this.splitter.end();
    // Fold the fast path's counts in (once: they are zeroed as they go).
    for (let k = 0; k < this.values.strings.length; k++) {
      const value = this.values.strings[k]!;
      if (this.actionCounts[k]! > 0) this.stats.byAction[value] = (this.stats.byAction[value] ?? 0) + this.actionCounts[k]!;
      if (this.reasonCounts[k]! > 0) this.stats.byReason[value] = (this.stats.byReason[value] ?? 0) + this.reasonCounts[k]!;
      this.actionCounts[k] = 0;
      this.reasonCounts[k] = 0;
    }
    if (this.noReason > 0) this.stats.byReason["(none)"] = (this.stats.byReason["(none)"] ?? 0) + this.noReason;
    this.noReason = 0;
    return this.stats;
  }
}

/** Reads and counts a whole results stream (a file, or a partial file being resumed). */
export async function scanResults(source: string, stream: AsyncIterable<Buffer>, limit?: LineLimit): Promise<ResultStats> {
  const parser = new ResultParser(source, undefined, limit);
  for await (const chunk of stream) parser.push(chunk);
  return parser.end();
}
