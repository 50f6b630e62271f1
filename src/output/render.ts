import type { Job } from "../api/schemas.js";
import type { ResultStats } from "../io/result-stats.js";
import { redactUrl } from "../api/redact.js";
import { forTerminal } from "./escape.js";

// Human tables and --json documents. The JSON shapes are a stable interface (README documents
// them); human wording may change. Human text shows every API string through forTerminal; the
// JSON documents keep them exact.

const COLUMNS: Array<[string, (j: Job) => string]> = [
  ["ID", (j) => j.id],
  ["TYPE", (j) => j.type],
  ["NAME", (j) => (j.name === undefined ? "-" : forTerminal(j.name))],
  ["STATUS", (j) => forTerminal(j.status)],
  ["CREATED", (j) => shortTime(j.created_at)],
  ["UPLOAD BY", (j) => shortTime(j.upload_expires_at)],
  ["DOWNLOAD BY", (j) => shortTime(j.download_expires_at)],
];

function shortTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? forTerminal(iso) : d.toISOString().replace(/:\d\d\.\d+Z$/, "Z").replace("T", " ");
}

export function jobTable(jobs: Job[]): string {
  if (jobs.length === 0) return "";
  const rows = [COLUMNS.map(([h]) => h), ...jobs.map((j) => COLUMNS.map(([, f]) => f(j)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n") + "\n";
}

export function jobDetails(job: Job): string {
  const lines: Array<[string, string | undefined]> = [
    ["id", job.id],
    ["type", job.type],
    ["name", job.name],
    ["status", job.status],
    ["error", job.error],
    ["resumable", job.resumable === undefined ? undefined : String(job.resumable)],
    ["created", job.created_at],
    ["upload by", job.upload_expires_at],
    ["download by", job.download_expires_at],
  ];
  return lines
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k.padEnd(12)}${forTerminal(v!)}`)
    .join("\n") + "\n";
}

export interface RunSummary {
  jobs: Array<{ id: string; type: string; name?: string; status: string; ids: number }>;
  results_file: string;
  ids_checked: number;
  ids_needing_action: number;
  ids_without_action: number;
  duplicates: number;
  by_action: Record<string, number>;
  by_reason: Record<string, number>;
  errors: Record<string, number>;
  result_bytes: number;
  /** Distinct IDs by the kind that wins for each (delete > scrub > rehydrate > untouched); they sum to ids_needing_action. */
  ids_by_kind: { delete: number; scrub: number; rehydrate: number; untouched: number };
  /** Event lines beyond the first for an ID (by_action and by_reason count lines). */
  duplicate_lines: number;
  /** Distinct IDs the API answered `invalid_id` for (not checked). */
  invalid_id_count: number;
  /** The first MAX_LISTED_IDS of them, in file order. */
  invalid_ids: string[];
}

/** At most this many IDs are listed in a `--json` document (the count beside them is exact). */
export const MAX_LISTED_IDS = 1000;

/** "0, 9223372036854775808, …": up to `max` IDs, shown inert, then "…" when there are more. */
export function idList(ids: readonly string[], total: number, max = 10): string {
  const shownIds = ids.slice(0, max).map((id) => forTerminal(id));
  return `${shownIds.join(", ")}${total > shownIds.length ? ", …" : ""}`;
}

export function summaryFrom(
  jobs: RunSummary["jobs"],
  resultsFile: string,
  idsChecked: number,
  duplicates: number,
  stats: ResultStats,
): RunSummary {
  const d = stats.distinct;
  const needing = d.delete + d.scrub + d.rehydrate + d.other;
  return {
    jobs,
    results_file: resultsFile,
    ids_checked: idsChecked,
    ids_needing_action: needing,
    ids_without_action: Math.max(0, idsChecked - needing - stats.errors),
    duplicates,
    by_action: sortCounts(stats.byAction),
    by_reason: sortCounts(stats.byReason),
    errors: sortCounts(stats.byError),
    result_bytes: stats.bytes,
    ids_by_kind: { delete: d.delete, scrub: d.scrub, rehydrate: d.rehydrate, untouched: d.other },
    duplicate_lines: d.duplicateLines,
    invalid_id_count: stats.invalidIds.length,
    invalid_ids: stats.invalidIds.slice(0, MAX_LISTED_IDS),
  };
}

/** The warning `all` gives when the API reported IDs it could not check, or undefined. */
export function invalidIdsWarning(s: RunSummary): string | undefined {
  const n = s.invalid_id_count;
  if (n === 0) return undefined;
  return `${n === 1 ? "1 ID was" : `${fmt(n)} IDs were`} reported invalid_id by the API and ${n === 1 ? "was" : "were"} not checked: ${idList(s.invalid_ids, n)}`;
}

export function sortCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** "1 ID", "2,000 IDs". */
export function idCount(n: number): string {
  return `${fmt(n)} ID${n === 1 ? "" : "s"}`;
}

export function countsTable(title: string, counts: Record<string, number>): string {
  const entries = Object.entries(counts).map(([k, v]): [string, number] => [forTerminal(k), v]);
  if (entries.length === 0) return "";
  const width = Math.max(...entries.map(([k]) => k.length));
  return `${title}\n${entries.map(([k, v]) => `  ${k.padEnd(width)}  ${fmt(v)}`).join("\n")}\n`;
}

export function summaryText(s: RunSummary): string {
  const jobs = s.jobs.map((j) => forTerminal(j.id)).join(", ");
  let out = `summary (job${s.jobs.length > 1 ? "s" : ""} ${jobs}, results in ${forTerminal(s.results_file)})\n`;
  out += `  IDs checked          ${fmt(s.ids_checked)}\n`;
  out += `  IDs needing action   ${fmt(s.ids_needing_action)}\n`;
  out += `  IDs with no action   ${fmt(s.ids_without_action)}\n`;
  if (s.duplicates) out += `  duplicate IDs        ${fmt(s.duplicates)}\n`;
  const k = s.ids_by_kind;
  if (s.duplicate_lines || k.scrub || k.rehydrate || k.untouched) {
    // Distinct IDs by what `apply` does to them (the tables below count result lines).
    out += `  IDs to remove        ${fmt(k.delete)}\n`;
    out += `  IDs to scrub geo     ${fmt(k.scrub)}\n`;
    out += `  IDs to rehydrate     ${fmt(k.rehydrate)}\n`;
    if (k.untouched) out += `  IDs left untouched   ${fmt(k.untouched)}\n`;
    if (s.duplicate_lines) out += `  repeated lines       ${fmt(s.duplicate_lines)}\n`;
  }
  if (s.invalid_id_count) out += `  IDs invalid_id       ${fmt(s.invalid_id_count)}\n`;
  out += countsTable("by action", s.by_action);
  out += countsTable("by reason", s.by_reason);
  out += countsTable("IDs the API could not check", s.errors);
  return out;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** "12.3 MiB of 40.0 MiB, 85.1 MiB/s, ETA 3s" */
export function transferText(done: number, total: number | undefined, startedAt: number, now: number): string {
  const elapsed = Math.max(1, now - startedAt) / 1000;
  const rate = done / elapsed;
  let text = `${formatBytes(done)}${total ? ` of ${formatBytes(total)}` : ""}, ${formatBytes(rate)}/s`;
  if (total && rate > 0 && done < total) text += `, ETA ${formatDuration(((total - done) / rate) * 1000)}`;
  return text;
}

/**
 * A job as `--json` prints it: what the API returned, except that its signed URLs show no
 * secret (signatures, credentials, the byte paths' `token`): anyone holding them could upload to
 * the job or read its results. `compliant upload` and `download` fetch the job afresh.
 */
export function jobForOutput(job: Job, apiOrigin: string): Job {
  return { ...job, upload_url: redactUrl(job.upload_url, apiOrigin), download_url: redactUrl(job.download_url, apiOrigin) };
}
