import { resolve } from "node:path";
import type { Context } from "../context.js";
import { CliError, ExitCode } from "../errors.js";
import { shown } from "../io/target.js";
import { forTerminal } from "../output/escape.js";
import { LEDGER_FILE, readLedger, type LedgerEntry } from "./ledger.js";

export interface HistoryOptions {
  ledger?: string;
  /** Hours; default 24. */
  maxAge?: number;
  json?: boolean;
}

export const DEFAULT_MAX_AGE_H = 24;
/** How far ahead of this clock a finish time may be (another machine's clock) before it is refused. */
const FUTURE_SLACK_MS = 5 * 60_000;

/** "3.2 h", "2 d 4 h", "12 min": an age a person reads at a glance. */
export function ageText(ms: number): string {
  const min = Math.max(0, Math.floor(ms / 60_000));
  if (min < 60) return `${min} min`;
  const h = ms / 3_600_000;
  if (h < 48) return `${h.toFixed(1)} h`;
  const d = Math.floor(h / 24);
  return `${d} d ${Math.floor(h - d * 24)} h`;
}

function moreFiles(e: LedgerEntry): string {
  const n = Array.isArray(e.dataset.files) ? e.dataset.files.length - 1 : 0;
  return n > 0 ? ` (+${n} more file${n === 1 ? "" : "s"})` : "";
}

function table(entries: LedgerEntry[], now: number): string {
  const head = ["FINISHED (UTC)", "AGE", "POSTS", "USERS", "REMOVED", "SCRUBBED", "DATASET"];
  const rows = entries.map((e) => [
    e.finished_at.replace(/\.\d+Z$/, "Z"),
    ageText(now - Date.parse(e.finished_at)),
    `${e.types.tweets.ids_needing_action}/${e.types.tweets.ids_checked}`,
    `${e.types.users.ids_needing_action}/${e.types.users.ids_checked}`,
    String(e.records.removed_for_own_event + e.records.removed_for_author),
    String(e.records.scrubbed),
    `${e.dataset.path}${moreFiles(e)}${e.output.in_place ? " (in place)" : ` → ${e.output.path}`}`,
  ].map((c) => forTerminal(c)));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return `${[line(head), ...rows.map(line)].join("\n")}\n`;
}

/** `compliant history`: newest first; exit 1 (stale) when the newest sync is older than --max-age. */
export async function run(opts: HistoryOptions, ctx: Context): Promise<void> {
  const full = resolve(ctx.cwd, opts.ledger ?? LEDGER_FILE);
  const name = shown(ctx.cwd, full);
  const maxAge = opts.maxAge ?? DEFAULT_MAX_AGE_H;
  const entries = ((await readLedger(full, name)) ?? undefined)?.slice().sort((a, b) => Date.parse(b.finished_at) - Date.parse(a.finished_at));
  const now = Date.now();
  const newest = entries?.[0];
  const ageMs = newest ? now - Date.parse(newest.finished_at) : undefined;
  // A finish time in the future is no evidence of a recent sync: it comes from a clock that was
  // wrong, and taken at its word it would keep the archive "fresh" until that date.
  const future = ageMs !== undefined && ageMs < -FUTURE_SLACK_MS;
  const stale = ageMs === undefined || ageMs > maxAge * 3_600_000 || future;
  if (opts.json) {
    ctx.stdout.write(
      `${JSON.stringify({ ledger: name, max_age_hours: maxAge, newest_age_hours: ageMs === undefined ? null : Math.round((ageMs / 3_600_000) * 100) / 100, stale, entries: entries ?? [] }, null, 2)}\n`,
    );
  } else if (entries && entries.length > 0) {
    ctx.stdout.write(table(entries, now));
  }
  if (entries === undefined) throw new CliError(`no sync is recorded: the ledger ${name} does not exist (pass --ledger <file> if it is elsewhere).`, ExitCode.stale);
  if (!newest) throw new CliError(`no sync is recorded in the ledger ${name}.`, ExitCode.stale);
  if (future) {
    throw new CliError(
      `the newest ledger entry finished in the future (${newest.finished_at}, ${ageText(-ageMs!)} from now): this machine's clock, or the one that wrote it, is wrong, so the ledger does not show a recent sync; fix the clock and run compliant sync.`,
      ExitCode.stale,
    );
  }
  if (stale) {
    throw new CliError(
      `the last sync finished ${ageText(ageMs!)} ago (${newest.finished_at}), more than --max-age ${maxAge} h: the archive may hold content that had to be removed; run compliant sync.`,
      ExitCode.stale,
    );
  }
  if (!opts.json) ctx.log.info(`the last sync finished ${ageText(ageMs!)} ago, within --max-age ${maxAge} h`);
}
