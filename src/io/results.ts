// Parses and counts NDJSON result lines as they stream (the download, `report`, `apply`): the
// byte and value fast paths (result-fast.ts) first, ResultLineSchema for everything else.

import { CliError, ExitCode } from "../errors.js";
import { FastEvent, bytesEqual, isPlainEvent } from "./result-fast.js";
import { ResultLineSchema, type ResultLine } from "./result-line.js";
import { classifyEvent, DistinctKinds, RepeatFilter, type KindValue } from "./result-kinds.js";
import { emptyStats, type ResultStats } from "./result-stats.js";
import { LineSplitter } from "./lines.js";

export class InvalidResultLineError extends CliError {
  constructor(
    readonly source: string,
    readonly lineNo: number,
    readonly text: string,
    readonly why: string,
  ) {
    super(`${source} ${InvalidResultLineError.what(lineNo, text, why)}; the file may be truncated or corrupt, so download it again.`, ExitCode.refused);
  }

  /** "line 3 is not a valid compliance event (…): "…"": the finding, without the source or advice. */
  static what(lineNo: number, text: string, why: string): string {
    return `line ${lineNo} is not a valid compliance event (${why}): ${JSON.stringify(text.slice(0, 80))}`;
  }
}

/**
 * At most `lines` × `perId` result lines (and as many blank lines plus one); `why` names the
 * bound in messages. `lines` is one per ID uploaded; `perId` (default 1) allows for an ID that
 * has several lines, as the 2026 API sends (see MAX_LINES_PER_ID).
 */
export interface LineLimit {
  lines: number;
  /** e.g. "the 200 IDs uploaded" */
  why: string;
  perId?: number;
}

/**
 * Lines one uploaded ID may have in its results: one per action the API is known to send
 * (delete, scrub_geo, rehydrate) and one more, since the 2026 API repeats IDs (even the same
 * line twice). Only a bound against a body that never ends, not a check of the answer.
 */
export const MAX_LINES_PER_ID = 4;

export class TooManyResultLinesError extends CliError {
  constructor(source: string, limit: LineLimit, what: string) {
    super(
      `${source} has more ${what} than ${limit.perId !== undefined && limit.perId !== 1 ? `${limit.perId} for each of ` : ""}${limit.why}, which no usable answer has (the body may never end), so the download was stopped. Run again later; if it persists, the service is sending wrong results.`,
      ExitCode.refused,
    );
  }
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
const KIND_ROW = MAX_VALUES + 1;

/** A result line is ~150 bytes; one over 1 MiB is not a compliance event, however it ends. */
export const MAX_RESULT_LINE_BYTES = 1024 * 1024;

/**
 * How ResultParser counts distinct IDs by winning kind (`stats.distinct`):
 * - "exact": exactly as the lines stream, in memory proportional to the events (~9 bytes each,
 *   ~16 more for a moment at the end); for input that can be read only once (stdin, a FIFO).
 * - "reread": a fixed 2 MiB table while they stream (RepeatFilter); when it saw an ID that may
 *   repeat, `finishDistinct` reads the same bytes a second time (a file) for exact counts.
 * - "none": not counted (stats.distinct stays zero); for a caller that indexes every ID anyway.
 */
export type DistinctMode = "exact" | "reread" | "none";

/** Where the parser hands each event's ID and kind for distinct counting. */
interface DistinctSink {
  addRange(buf: Uint8Array, start: number, end: number, kind: KindValue): void;
  add(id: string, kind: KindValue): void;
}

const NOT_COUNTED: DistinctSink = { addRange: () => undefined, add: () => undefined };

export class ResultsChangedError extends CliError {
  constructor(source: string) {
    super(`${source} changed while it was being read (a second reading, to count repeated IDs, found other lines); run again.`, ExitCode.transient);
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
  private distinct: DistinctSink;
  private readonly exact: DistinctKinds | undefined;
  private readonly filter: RepeatFilter | undefined;
  /** end() found that the distinct counts need finishDistinct's second reading. */
  private pending = false;
  private readonly invalidIds = new Set<string>();
  /** Kind of each (action, reason) pair of cached values: [a * KIND_ROW + r], r = MAX_VALUES for no reason; -1 not yet known. */
  private readonly pairKinds = new Int8Array(KIND_ROW * MAX_VALUES).fill(-1);

  /**
   * `limit`: the most result lines the input can have (one per ID uploaded); blank lines may
   * add as many again plus one. More than that means the body is not this job's results (or never
   * ends), and stops with exit 4 at the first line too many.
   */
  constructor(
    private readonly source: string,
    onLine?: (line: ResultLine) => void,
    limit?: LineLimit,
    distinct: DistinctMode = "exact",
  ) {
    if (distinct === "exact") this.distinct = this.exact = new DistinctKinds();
    else if (distinct === "reread") this.distinct = this.filter = new RepeatFilter();
    else this.distinct = NOT_COUNTED;
    // The byte matcher yields counts only; callers that want the parsed lines take the JSON path.
    const fast = onLine ? undefined : new FastEvent();
    const max = limit ? limit.lines * (limit.perId ?? 1) : Infinity;
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
        let r = MAX_VALUES;
        if (fast.reasonS < 0) {
          if (this.noReason++ === 0) this.stats.byReason["(none)"] ??= 0;
        } else {
          r = this.values.index(buf, fast.reasonS, fast.reasonE);
          if (r < 0) bump(this.stats.byReason, buf.toString("latin1", fast.reasonS, fast.reasonE));
          else if (this.reasonCounts[r]!++ === 0) this.stats.byReason[this.values.strings[r]!] ??= 0;
        }
        let kind: number;
        if (a < 0 || r < 0) {
          kind = this.kindAt(buf, fast);
        } else {
          const at = a * KIND_ROW + r;
          kind = this.pairKinds[at]!;
          if (kind < 0) kind = this.pairKinds[at] = this.kindAt(buf, fast);
        }
        this.distinct.addRange(buf, fast.idS, fast.idE, kind as KindValue);
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
        this.distinct.add(value.id, classifyEvent(value.action, value.reason));
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
        this.distinct.add(line.id, classifyEvent(line.action, typeof line.reason === "string" ? line.reason : undefined));
      } else {
        const error = String((line as { error: string }).error);
        this.stats.errors++;
        bump(this.stats.byError, error);
        if (error === "invalid_id") this.invalidIds.add(line.id);
      }
      onLine?.(line);
    }, {
      maxLineBytes: MAX_RESULT_LINE_BYTES,
      tooLong: (lineNo, head) => new InvalidResultLineError(this.source, lineNo, head.toString("utf8"), "longer than 1 MiB"),
    });
  }

  /** The kind of the event FastEvent last matched, from its action and reason bytes. */
  private kindAt(buf: Buffer, fast: FastEvent): KindValue {
    const action = buf.toString("latin1", fast.actionS, fast.actionE);
    return classifyEvent(action, fast.reasonS < 0 ? undefined : buf.toString("latin1", fast.reasonS, fast.reasonE));
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
    if (this.exact) {
      this.stats.distinct = this.exact.counts();
    } else if (this.filter) {
      const counts = this.filter.counts();
      if (counts) this.stats.distinct = counts;
      this.pending = counts === undefined;
    }
    this.stats.invalidIds = [...this.invalidIds];
    return this.stats;
  }

  /**
   * In "reread" mode, after end(): makes `stats.distinct` exact. When some ID may repeat, reads
   * the bytes again from `readAgain()` (the same bytes from the start; only the first
   * `stats.bytes` are read) and counts every line of the IDs that may; otherwise reads nothing.
   * Throws ResultsChangedError when the second reading does not hold the same lines.
   */
  async finishDistinct(readAgain: () => AsyncIterable<Buffer | string>): Promise<ResultStats> {
    if (!this.pending || !this.filter) return this.stats;
    const recount = this.filter.recount();
    const again = new ResultParser(this.source, undefined, undefined, "none");
    again.distinct = recount;
    let left = this.stats.bytes;
    let seen;
    try {
      if (left > 0) {
        for await (const chunk of readAgain()) {
          const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
          const part = buf.length > left ? buf.subarray(0, left) : buf;
          again.push(part);
          left -= part.length;
          if (left === 0) break;
        }
      }
      seen = again.end();
    } catch (err) {
      if (err instanceof InvalidResultLineError) throw new ResultsChangedError(this.source);
      throw err;
    }
    if (left !== 0 || seen.events !== this.stats.events || recount.lines !== recount.expectedLines) throw new ResultsChangedError(this.source);
    this.stats.distinct = recount.counts();
    this.pending = false;
    return this.stats;
  }
}
