import type { ComplianceApi } from "../api/client.js";
import type { Job } from "../api/schemas.js";
import type { Context } from "../context.js";
import { CliError, ExitCode } from "../errors.js";
import { downloadResults, type DownloadOptions, type DownloadStats } from "../io/download.js";
import { countsTable, idCount, transferText } from "../output/render.js";
import { assertComplete } from "./status.js";
import { DEFAULT_MAX_BYTES_PER_JOB } from "../io/ids.js";
import { displayPath, openInPlace, resolveJob, resultsFileFrom, resultsTarget } from "./shared.js";

export interface DownloadCommandOptions {
  args: string[];
  resultsFile?: string;
  force?: boolean;
  json?: boolean;
}

/** What `download --json` prints and the library's `downloadResults` resolves to. */
export interface DownloadSummary {
  id: string;
  results_file: string;
  events: number;
  errors: number;
  by_action: Record<string, number>;
  by_reason: Record<string, number>;
  bytes: number;
}

export function downloadSummary(job: Job, target: string, stats: DownloadStats): DownloadSummary {
  return { id: job.id, results_file: target, events: stats.events, errors: stats.errors, by_action: stats.byAction, by_reason: stats.byReason, bytes: stats.bytes };
}

/**
 * A job does not say how many IDs it was given, so a download of a job this run did not upload
 * is bounded by the most one upload can hold.
 */
export const UNKNOWN_UPLOAD_LIMIT = {
  lines: DEFAULT_MAX_BYTES_PER_JOB / 2,
  why: `the ${(DEFAULT_MAX_BYTES_PER_JOB / 2).toLocaleString("en-US")} IDs one job can take at most`,
};

/** `compliant download <job> <results-file|->`: streams, validates, and renames into place. */
export async function run(opts: DownloadCommandOptions, ctx: Context): Promise<void> {
  const { path: target, inPlace } = await resultsTarget(ctx.cwd, resultsFileFrom(opts.resultsFile, opts.args[1]), opts.force);
  const api = await ctx.api();
  const job = await resolveJob(ctx, api, opts.args[0]!);
  assertComplete(job);
  if (job.status !== "complete") {
    throw new CliError(`job ${job.id} is ${job.status}, so it has no results yet; run \`compliant status ${job.id} --wait\` first.`, ExitCode.refused);
  }
  const sink = inPlace ? await openInPlace(target) : undefined;
  let stats;
  try {
    stats = await fetchResults(api, job, ctx, { target, force: opts.force, stream: sink?.stream, limit: UNKNOWN_UPLOAD_LIMIT });
  } catch (err) {
    // The first failure is the one to report, not a write error the closing stream repeats.
    await sink?.close().catch(() => undefined);
    throw err;
  }
  await sink?.close();
  if (opts.json && target !== "-") {
    ctx.stdout.write(`${JSON.stringify(downloadSummary(job, target, stats))}\n`);
  } else {
    ctx.log.info(`${idCount(stats.events)} need${stats.events === 1 ? "s" : ""} action${stats.events ? "\n" + countsTable("by reason", stats.byReason).trimEnd() : ""}`);
  }
}

export async function fetchResults(
  api: ComplianceApi,
  job: Job,
  ctx: Context,
  opts: Omit<DownloadOptions, "stdout" | "signal" | "onChunk" | "onProgress" | "onResume" | "onDiscard"> & { label?: string },
): Promise<DownloadStats> {
  warnIfExpiringSoon(job, ctx);
  const started = Date.now();
  const label = opts.label ?? `downloading the results of job ${job.id}`;
  ctx.log.progress(label);
  const stats = await downloadResults(api, job, {
    ...opts,
    stdout: ctx.stdout,
    signal: ctx.signal,
    ...(api.onChunk ? { onChunk: api.onChunk } : {}),
    onProgress: (bytes, total) => ctx.log.progress(() => `${label}: ${transferText(bytes, total, started, Date.now())}`),
    onResume: (offset, why) => ctx.log.warn(`${why}; resuming the download of job ${job.id} at byte ${offset.toLocaleString("en-US")}`),
    onDiscard: (why) => ctx.log.warn(why),
  });
  ctx.log.info(`downloaded ${stats.bytes.toLocaleString("en-US")} bytes of results for job ${job.id} to ${displayPath(ctx.cwd, opts.target)}`);
  return stats;
}

/** Download URLs are fixed at creation and last 7 days from then (`download_expires_at` says when; X's batch compliance docs). */
function warnIfExpiringSoon(job: Job, ctx: Context): void {
  const left = Date.parse(job.download_expires_at) - Date.now();
  if (left < 24 * 3600_000) {
    ctx.log.warn(left <= 0
      ? `the download URL of job ${job.id} expired at ${job.download_expires_at}; the download will probably be refused`
      : `the download URL of job ${job.id} expires at ${job.download_expires_at}, in ${Math.round(left / 3600_000)} h`);
  }
}
