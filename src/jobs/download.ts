import type { ComplianceApi } from "../api/client.js";
import { NetworkError } from "../api/errors.js";
import type { Job } from "../api/schemas.js";
import type { Context } from "../context.js";
import { CliError, ExitCode } from "../errors.js";
import { downloadResults, type DownloadOptions, type DownloadStats, type ResultSource } from "../io/download.js";
import { DEFAULT_MAX_BYTES_PER_JOB } from "../io/ids.js";
import { MAX_LINES_PER_ID, type LineLimit } from "../io/results.js";
import { displayTarget, openInPlace, type ResultsTarget } from "../io/target.js";
import { transferText } from "../output/render.js";
import { assertComplete } from "./poll.js";

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
export const UNKNOWN_UPLOAD_LIMIT: LineLimit = {
  lines: DEFAULT_MAX_BYTES_PER_JOB / 2,
  perId: MAX_LINES_PER_ID,
  why: `the ${(DEFAULT_MAX_BYTES_PER_JOB / 2).toLocaleString("en-US")} IDs one job can take at most`,
};

/** A job's results as a download source: the HTTP layer opens them again from any byte. */
function resultSource(api: ComplianceApi, job: Job): ResultSource {
  return {
    jobId: job.id,
    open: (offset, signal) => api.openResults(job, offset, signal),
    gaveUp: (cause, attempts) => new NetworkError(`download the results of job ${job.id}`, cause, attempts),
  };
}

export type FetchOptions = Omit<DownloadOptions, "signal" | "onChunk" | "onProgress" | "onResume" | "onDiscard"> & {
  /** The progress line's words (default: "downloading the results of job …"). */
  label?: string;
  /** How the target is named in the closing log line. */
  shownAs: string;
};

/** Downloads a job's results with progress and log lines (see io/download.ts for the guarantees). */
export async function fetchResults(api: ComplianceApi, job: Job, ctx: Context, opts: FetchOptions): Promise<DownloadStats> {
  warnIfExpiringSoon(job, ctx);
  const started = Date.now();
  const { label = `downloading the results of job ${job.id}`, shownAs, ...rest } = opts;
  ctx.log.progress(label);
  const stats = await downloadResults(resultSource(api, job), {
    ...rest,
    signal: ctx.signal,
    ...(api.onChunk ? { onChunk: api.onChunk } : {}),
    onProgress: (bytes, total) => ctx.log.progress(() => `${label}: ${transferText(bytes, total, started, Date.now())}`),
    onResume: (offset, why) => ctx.log.warn(`${why}; resuming the download of job ${job.id} at byte ${offset.toLocaleString("en-US")}`),
    onDiscard: (why) => ctx.log.warn(why),
  });
  ctx.log.info(`downloaded ${stats.bytes.toLocaleString("en-US")} bytes of results for job ${job.id} to ${shownAs}`);
  return stats;
}

/**
 * `compliant download` and the library's downloadResults: a complete job's results to a target,
 * after checking the job has them. `notYet` says what to do about a job that is not complete.
 */
export async function downloadJob(
  ctx: Context,
  api: ComplianceApi,
  job: Job,
  target: ResultsTarget,
  opts: { force?: boolean; notYet: string },
): Promise<DownloadStats> {
  assertComplete(job);
  if (job.status !== "complete") {
    throw new CliError(`job ${job.id} is ${job.status}, so it has no results yet; ${opts.notYet}.`, ExitCode.refused);
  }
  const sink = target.kind === "device" ? await openInPlace(target.path) : undefined;
  const to = target.kind === "file" ? { file: target.path } : { stream: sink?.stream ?? ctx.stdout };
  let stats;
  try {
    stats = await fetchResults(api, job, ctx, { to, force: opts.force, limit: UNKNOWN_UPLOAD_LIMIT, shownAs: displayTarget(ctx.cwd, target) });
  } catch (err) {
    // The first failure is the one to report, not a write error the closing stream repeats.
    await sink?.close().catch(() => undefined);
    throw err;
  }
  await sink?.close();
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
