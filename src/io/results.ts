import { ResultLineSchema, type ResultLine } from "../api/schemas.js";
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

  constructor(
    private readonly source: string,
    onLine?: (line: ResultLine) => void,
  ) {
    this.splitter = new LineSplitter((buf, start, end, lineNo) => {
      let e = end;
      if (e > start && buf[e - 1] === 13) e--;
      let s = start;
      while (s < e && (buf[s] === 32 || buf[s] === 9)) s++;
      if (s === e) {
        this.stats.blankLines++;
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
    });
  }

  push(chunk: Buffer): void {
    this.stats.bytes += chunk.length;
    this.splitter.push(chunk);
  }

  end(): ResultStats {
    this.splitter.end();
    return this.stats;
  }
}

/** Reads and counts a whole results stream (a file, or a partial file being resumed). */
export async function scanResults(source: string, stream: AsyncIterable<Buffer>): Promise<ResultStats> {
  const parser = new ResultParser(source);
  for await (const chunk of stream) parser.push(chunk);
  return parser.end();
}
