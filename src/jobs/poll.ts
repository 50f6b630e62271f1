import type { ComplianceApi } from "../api/client.js";
import { utcSeconds } from "../api/errors.js";
import { pollDelayMs } from "../api/retry.js";
import { TERMINAL_STATUSES, type Job } from "../api/schemas.js";
import { deadline as clockFor, sleep as sleepFor } from "../api/timers.js";
import { CliError, ExitCode, JobEndedError, TimeoutError } from "../errors.js";
import { forTerminal } from "../output/escape.js";

/**
 * The read made once the timeout has passed (so a job that finished right at it is not reported
 * as waiting) gets this long, and no more, to answer.
 */
const FINAL_READ_MS = 2000;

export interface WaitOptions {
  intervalMs: number;
  /** Give up (exit 7) after this long; undefined waits for ever. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Told every job read; `changed` is true when the status differs from the previous read. */
  onPoll?: (job: Job, changed: boolean, nextInMs: number | undefined) => void;
  /** Told when the rate-limit budget stretches the interval. */
  onSlowDown?: (delayMs: number) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  /** A job already read (e.g. right after upload), to avoid one request. */
  first?: Job;
  /** The timeout the user asked for, for the message, when `timeoutMs` is what is left of it. */
  timeoutLabelMs?: number;
  /** Command that continues the wait, for the timeout message. */
  resumeHint?: string;
}

/**
 * Polls `GET /2/compliance/jobs/:id` until `complete`, `failed` or `expired`. The interval
 * stretches when the rate-limit headers say the budget would not last until the window resets,
 * so polling never runs into a 429 (the reference client's 30 s fits 150/15 min; lower tiers
 * allow as few as 1–5).
 */
export async function waitForJob(api: ComplianceApi, id: string, opts: WaitOptions): Promise<Job> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? sleepFor;
  const deadline = opts.timeoutMs !== undefined ? now() + opts.timeoutMs : undefined;
  const maxWaitMs = api.http.retry.maxRateLimitWaitMs;
  let previous: string | undefined;
  let job: Job | undefined = opts.first;
  // A read in flight when the timeout passes is cut there (a server may answer a byte a second).
  const read = async (final: boolean): Promise<Job> => {
    if (deadline === undefined) return api.getJob(id, opts.signal);
    const clock = clockFor(final ? FINAL_READ_MS : Math.max(0, deadline - now()), opts.signal, () => timeout(id, job, opts));
    try {
      return await api.getJob(id, clock.signal);
    } catch (err) {
      if (clock.expired && !opts.signal?.aborted) throw timeout(id, job, opts);
      throw err;
    } finally {
      clock.clear();
    }
  };
  job ??= await read(false);
  for (;;) {
    const changed = job.status !== previous;
    previous = job.status;
    if (TERMINAL_STATUSES.has(job.status)) {
      opts.onPoll?.(job, changed, undefined);
      return job;
    }
    const budget = api.jobLookupLimit();
    let delay = pollDelayMs(opts.intervalMs, budget, now());
    if (delay > maxWaitMs) {
      // Rate-limit headers are trusted for one window; a reset further away is not waited for.
      const hint = opts.resumeHint ?? `compliant status ${job.id} --wait`;
      throw new CliError(
        `the API's rate limit allows the next status poll of job ${job.id} only after ${utcSeconds(now() + delay)}, more than ${Math.round(maxWaitMs / 60_000)} minutes away; run \`${hint}\` again later.`,
        ExitCode.transient,
      );
    }
    if (delay > opts.intervalMs) opts.onSlowDown?.(delay);
    if (deadline !== undefined) {
      const left = deadline - now();
      if (left <= 0) throw timeout(id, job, opts);
      delay = Math.min(delay, left);
    }
    opts.onPoll?.(job, changed, delay);
    await sleep(delay, opts.signal);
    if (deadline !== undefined && now() >= deadline) {
      job = await read(true);
      if (TERMINAL_STATUSES.has(job.status)) continue;
      throw timeout(id, job, opts);
    }
    job = await read(false);
  }
}

function timeout(id: string, job: Job | undefined, opts: WaitOptions): TimeoutError {
  // Sub-second and fractional timeouts (--timeout 0.5) are shown as given, not rounded to 0.
  const seconds = Number(((opts.timeoutLabelMs ?? opts.timeoutMs ?? 0) / 1000).toFixed(1));
  const hint = opts.resumeHint ?? `compliant status ${id} --wait`;
  const where = job ? `is still ${job.status}` : "could not be read";
  return new TimeoutError(`job ${id} ${where} after the ${seconds} s timeout; run \`${hint}\` to keep waiting.`);
}

/** Seconds between polls: --interval, else 30 s (the reference client's pace), 1 s on the emulator. */
export function defaultIntervalMs(interval: number | undefined, emulator: boolean | undefined): number {
  return (interval ?? (emulator ? 1 : 30)) * 1000;
}

/** A job that ended without results is exit 6, with what to do next. */
export function assertComplete(job: Job): void {
  if (job.status === "failed" && !job.error) {
    // The API has no `cancelled` status: DELETE /2/compliance/jobs/:id turns a job `failed`.
    throw new JobEndedError(
      `job ${job.id} failed with no reason given; a job that was cancelled (\`compliant cancel\`, or DELETE /2/compliance/jobs/${job.id}) also ends failed. If nobody cancelled it, check the ID file (one ${job.type === "users" ? "user" : "Post"} ID per line); either way, run it again as a new job.`,
    );
  }
  if (job.status === "failed") {
    throw new JobEndedError(`job ${job.id} failed (${forTerminal(job.error!)}); check the ID file (one ${job.type === "users" ? "user" : "Post"} ID per line) and run it again as a new job.`);
  }
  if (job.status === "expired") {
    throw new JobEndedError(`job ${job.id} expired${job.error ? ` (${forTerminal(job.error)})` : ""} before it completed; create a new job and upload the IDs within 15 minutes.`);
  }
}
