import { setTimeout as sleepTimer } from "node:timers/promises";
import type { ComplianceApi } from "./api/client.js";
import { pollDelayMs } from "./api/retry.js";
import { TERMINAL_STATUSES, type Job } from "./api/schemas.js";
import { TimeoutError } from "./errors.js";

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
  const sleep = opts.sleep ?? ((ms: number, signal?: AbortSignal) => sleepTimer(ms, undefined, { signal }));
  const deadline = opts.timeoutMs !== undefined ? now() + opts.timeoutMs : undefined;
  let previous: string | undefined;
  let job = opts.first ?? (await api.getJob(id, opts.signal));
  for (;;) {
    const changed = job.status !== previous;
    previous = job.status;
    if (TERMINAL_STATUSES.has(job.status)) {
      opts.onPoll?.(job, changed, undefined);
      return job;
    }
    const budget = api.http.rateLimits.get("GET /2/compliance/jobs/:id");
    let delay = pollDelayMs(opts.intervalMs, budget, now());
    if (delay > opts.intervalMs) opts.onSlowDown?.(delay);
    if (deadline !== undefined) {
      const left = deadline - now();
      if (left <= 0) throw timeout(job, opts);
      delay = Math.min(delay, left);
    }
    opts.onPoll?.(job, changed, delay);
    await sleep(delay, opts.signal);
    if (deadline !== undefined && now() >= deadline) {
      // One last read so a job that finished right at the deadline is not reported as waiting.
      job = await api.getJob(id, opts.signal);
      if (TERMINAL_STATUSES.has(job.status)) continue;
      throw timeout(job, opts);
    }
    job = await api.getJob(id, opts.signal);
  }
}

function timeout(job: Job, opts: WaitOptions): TimeoutError {
  // Sub-second and fractional timeouts (--timeout 0.5) are shown as given, not rounded to 0.
  const seconds = Number(((opts.timeoutLabelMs ?? opts.timeoutMs ?? 0) / 1000).toFixed(1));
  const hint = opts.resumeHint ?? `compliant status ${job.id} --wait`;
  return new TimeoutError(`job ${job.id} is still ${job.status} after the ${seconds} s timeout; run \`${hint}\` to keep waiting.`);
}
