import { stat } from "node:fs/promises";
import { isResultError } from "../io/result-line.js";
import type { Context } from "../context.js";
import { forTerminal } from "../output/escape.js";
import { idList, MAX_LISTED_IDS, sortCounts } from "../output/render.js";
import { UsageError } from "../errors.js";
import { IdSet } from "../io/id-set.js";
import { LineSplitter } from "../io/lines.js";
import { InvalidResultLineError, ResultParser } from "../io/results.js";
import { classifyEvent, Kind } from "../dataset/event-index.js";
import { InvalidLines } from "../dataset/invalid.js";
import { inputFrom, inputName, readInput } from "../io/input.js";

/** What `compliant report` is told (commands/report.ts declares and checks the flags). */
export interface ReportOptions {
  args: string[];
  idsFile?: string;
  json?: boolean;
}

/** The `--json` document of `compliant report` (stable interface; snake_case like `all`'s summary). */
export interface Report {
  results_file: string;
  events: number;
  error_records: number;
  blank_lines: number;
  result_bytes: number;
  by_action: Record<string, number>;
  by_reason: Record<string, number>;
  by_action_reason: Array<{ action: string; reason: string; count: number }>;
  errors: Record<string, number>;
  /** What `compliant apply` does with these events, per event (see dataset/event-index.ts). */
  apply: { delete: number; scrub: number; untouched: number };
  /** Distinct IDs by the kind that wins for each (delete > scrub > rehydrate > untouched). */
  ids_by_kind: { delete: number; scrub: number; rehydrate: number; untouched: number };
  /** Event lines beyond the first for an ID. */
  duplicate_lines: number;
  /** Distinct IDs of `invalid_id` error records. */
  invalid_id_count: number;
  /** The first MAX_LISTED_IDS (1000) of them, in file order. */
  invalid_ids: string[];
  ids_file?: string;
  ids_checked?: number;
  ids_needing_action?: number;
  ids_not_checked?: number;
  ids_without_action?: number;
}

const DIGITS = /^[0-9]{1,19}$/;

export async function run(opts: ReportOptions, ctx: Context): Promise<void> {
  const json = Boolean(opts.json ?? ctx.flags.json);
  const resultsArg = opts.args[0];
  if (resultsArg === undefined) throw new UsageError("no results file given; run compliant report <results>, or - to read stdin.");
  const resultsIn = await inputFrom(ctx.cwd, resultsArg, "results file");
  const idsIn = opts.idsFile === undefined ? undefined : await inputFrom(ctx.cwd, opts.idsFile, "ID file");
  if (resultsIn.kind === "stdin" && idsIn?.kind === "stdin") throw new UsageError("the results file and the ID file cannot both come from stdin.");
  const resultsName = inputName(ctx.cwd, resultsIn);

  const eventIds = idsIn !== undefined ? new IdSet() : undefined;
  const errorIds = idsIn !== undefined ? new IdSet() : undefined;
  const pairs = new Map<string, number>();
  const apply = { delete: 0, scrub: 0, untouched: 0 };
  // A regular file is read a second time when an ID may repeat; stdin or a FIFO only once.
  const rereadable = resultsIn.kind === "file" && (await stat(resultsIn.path)).isFile();
  const parser = new ResultParser(resultsName, (line) => {
    if (isResultError(line)) {
      if (errorIds && DIGITS.test(line.id)) errorIds.add(line.id);
      return;
    }
    const reason = typeof line.reason === "string" ? line.reason : "(none)";
    const key = `${line.action}\u0000${reason}`;
    pairs.set(key, (pairs.get(key) ?? 0) + 1);
    const kind = classifyEvent(line.action, line.reason);
    if (kind === Kind.delete) apply.delete++;
    else if (kind === Kind.scrub) apply.scrub++;
    else apply.untouched++;
    eventIds?.add(line.id);
  }, undefined, rereadable ? "reread" : "exact");
  const input = readInput(resultsIn, ctx.stdin, resultsName);
  let stats;
  try {
    for await (const chunk of input) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      parser.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    }
    parser.end();
    stats = await parser.finishDistinct(() => readInput(resultsIn, ctx.stdin, resultsName));
  } catch (err) {
    // Here the file is the user's input, not an API answer: a bad line is a usage error (exit 2).
    if (err instanceof InvalidResultLineError) {
      const found = InvalidResultLineError.what(err.lineNo, err.text, err.why);
      throw new UsageError(`${resultsName} does not look like a compliance results file: ${found}; pass the NDJSON file written by \`compliant download\` or \`compliant all\`.`);
    }
    throw err;
  }

  const report: Report = {
    results_file: resultsName,
    events: stats.events,
    error_records: stats.errors,
    blank_lines: stats.blankLines,
    result_bytes: stats.bytes,
    by_action: sortCounts(stats.byAction),
    by_reason: sortCounts(stats.byReason),
    by_action_reason: [...pairs]
      .map(([k, count]) => {
        const [action = "", reason = ""] = k.split("\u0000");
        return { action, reason, count };
      })
      .sort((a, b) => b.count - a.count || a.action.localeCompare(b.action) || a.reason.localeCompare(b.reason)),
    errors: sortCounts(stats.byError),
    apply,
    ids_by_kind: { delete: stats.distinct.delete, scrub: stats.distinct.scrub, rehydrate: stats.distinct.rehydrate, untouched: stats.distinct.other },
    duplicate_lines: stats.distinct.duplicateLines,
    invalid_id_count: stats.invalidIds.length,
    invalid_ids: stats.invalidIds.slice(0, MAX_LISTED_IDS),
  };

  if (idsIn !== undefined && eventIds && errorIds) {
    const idsName = inputName(ctx.cwd, idsIn);
    const matched = new IdSet();
    const invalid = new InvalidLines();
    let checked = 0;
    let needing = 0;
    let notChecked = 0;
    const splitter = new LineSplitter((buf, start, end, lineNo) => {
      let s = start;
      let e = end;
      while (e > s && (buf[e - 1] === 13 || buf[e - 1] === 32 || buf[e - 1] === 9)) e--;
      while (s < e && (buf[s] === 32 || buf[s] === 9)) s++;
      if (s === e) return;
      checked++;
      let ok = e - s <= 19;
      for (let i = s; ok && i < e; i++) ok = buf[i]! >= 48 && buf[i]! <= 57;
      if (!ok) return invalid.add(lineNo, "not an ID");
      if (eventIds.hasRange(buf, s, e)) {
        needing++;
        matched.addRange(buf, s, e);
      } else if (errorIds.hasRange(buf, s, e)) {
        notChecked++;
      }
    });
    const ids = readInput(idsIn, ctx.stdin, idsName);
    for await (const chunk of ids) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    }
    splitter.end();
    if (invalid.count > 0) throw new UsageError(`the ID file ${idsName} has ${invalid.summary()}; give the file you uploaded, one ID per line.`);
    if (matched.size < eventIds.size) {
      const missing = eventIds.size - matched.size;
      ctx.log.warn(`${missing} ID${missing === 1 ? "" : "s"} in ${resultsName} ${missing === 1 ? "is" : "are"} not in ${idsName}; is it the file you uploaded?`);
    }
    report.ids_file = idsName;
    report.ids_checked = checked;
    report.ids_needing_action = needing;
    report.ids_not_checked = notChecked;
    report.ids_without_action = checked - needing - notChecked;
  }

  ctx.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : reportText(report));
}

const fmt = (n: number) => n.toLocaleString("en-US");

export function reportText(r: Report): string {
  let out = `${forTerminal(r.results_file)}: ${fmt(r.events)} event${r.events === 1 ? "" : "s"}, ${fmt(r.error_records)} error record${r.error_records === 1 ? "" : "s"}\n`;
  if (r.by_action_reason.length > 0) {
    // Actions and reasons come from the results file: shown inert (the --json document keeps them exact).
    const rows = [["ACTION", "REASON", "COUNT"], ...r.by_action_reason.map((p) => [forTerminal(p.action), forTerminal(p.reason), fmt(p.count)])];
    const w0 = Math.max(...rows.map((x) => x[0]!.length));
    const w1 = Math.max(...rows.map((x) => x[1]!.length));
    const w2 = Math.max(...rows.map((x) => x[2]!.length));
    out += rows.map((x) => `${x[0]!.padEnd(w0)}  ${x[1]!.padEnd(w1)}  ${x[2]!.padStart(w2)}`).join("\n") + "\n";
  }
  const errs = Object.entries(r.errors);
  if (errs.length > 0) out += `error records (IDs the API could not check): ${errs.map(([e, n]) => `${forTerminal(e)} ${fmt(n)}`).join(", ")}\n`;
  if (r.invalid_id_count > 0) out += `IDs reported invalid_id (not checked, never applied): ${fmt(r.invalid_id_count)}: ${idList(r.invalid_ids, r.invalid_id_count)}\n`;
  // Distinct IDs, each under its most severe action (the table above counts lines).
  const k = r.ids_by_kind;
  const rehydrate = k.rehydrate > 0 ? `, keeps ${fmt(k.rehydrate)} to fetch again (rehydrate)` : "";
  out += `apply: removes ${fmt(k.delete)}, scrubs geo from ${fmt(k.scrub)}${rehydrate}, leaves ${fmt(k.untouched)} untouched (actions it does not apply)\n`;
  if (r.duplicate_lines > 0) out += `repeated lines: ${fmt(r.duplicate_lines)} (an ID with several lines counts once, under its most severe action)\n`;
  if (r.ids_checked !== undefined) {
    out += `IDs checked          ${fmt(r.ids_checked)}\n`;
    out += `IDs needing action   ${fmt(r.ids_needing_action ?? 0)}\n`;
    if (r.ids_not_checked) out += `IDs not checked      ${fmt(r.ids_not_checked)}\n`;
    out += `IDs with no action   ${fmt(r.ids_without_action ?? 0)}\n`;
  }
  return out;
}
