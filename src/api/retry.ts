// Retry decisions as small pure functions, read top to bottom (after stripe-node's
// RequestSender._shouldRetry). The HTTP layer decides *whether* to wait; callers decide what to
// tell the user.

/** How a request failed: never reached the server, failed mid-flight, or got an HTTP status. */
export type FailureKind = "not-sent" | "network" | "status";

export interface RetryQuestion {
  attempt: number; // attempts made so far, 1-based
  maxAttempts: number;
  method: string;
  /** A POST that creates nothing (the storage resumable-session start): repeated like a PUT. */
  repeatable?: boolean;
  failure: FailureKind;
  status?: number;
  problemType?: string;
}

/** Problem types that a retry cannot fix even though they arrive as 429. */
const NEVER_RETRY_PROBLEMS = new Set(["usage-capped", "credits"]);

export function shouldRetry(q: RetryQuestion): boolean {
  if (q.attempt >= q.maxAttempts) return false;
  if (q.problemType && NEVER_RETRY_PROBLEMS.has(q.problemType)) return false;
  // POST /2/compliance/jobs has no idempotency key: repeat it only when it surely never left,
  // or when a 429 says it was refused before anything was created (rate limit, not usage cap).
  // After an ambiguous failure the caller lists jobs and adopts ours instead (see commands/all).
  if (q.method === "POST" && !q.repeatable) return q.failure === "not-sent" || (q.failure === "status" && q.status === 429);
  if (q.failure !== "status") return true;
  return q.status === 408 || q.status === 429 || (q.status !== undefined && q.status >= 500 && q.status <= 504);
}

export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  random?: () => number;
}

/** Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(attempt-1))], at least 100 ms. */
export function backoffMs(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 500;
  const cap = opts.capMs ?? 30_000;
  const random = opts.random ?? Math.random;
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.max(100, Math.round(random() * ceiling));
}

export interface RateLimitState {
  limit?: number;
  remaining?: number;
  /** Epoch ms when the window resets. */
  resetAt?: number;
}

type HeaderBag = Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Epoch ms from a header, when it is a time a Date can show even with slack added (within about
 * ±137,000 years); anything else (`1e300`) is unreadable and treated as absent.
 */
function headerTime(ms: number): number | undefined {
  return Number.isFinite(ms) && Math.abs(ms) <= 4.32e15 ? ms : undefined;
}

/** Reads `x-rate-limit-limit/-remaining/-reset` (reset in epoch seconds). */
export function readRateLimit(headers: HeaderBag): RateLimitState | undefined {
  const limit = Number(header(headers, "x-rate-limit-limit"));
  const remaining = Number(header(headers, "x-rate-limit-remaining"));
  const reset = Number(header(headers, "x-rate-limit-reset"));
  if (header(headers, "x-rate-limit-remaining") === undefined && header(headers, "x-rate-limit-reset") === undefined) {
    return undefined;
  }
  return {
    limit: Number.isFinite(limit) ? limit : undefined,
    remaining: Number.isFinite(remaining) ? remaining : undefined,
    resetAt: headerTime(reset * 1000),
  };
}

/**
 * How long to wait after a 429: until `x-rate-limit-reset` (plus a second of slack for clock
 * skew), else `Retry-After`, else undefined (caller falls back to backoff).
 */
export function rateLimitWaitMs(headers: HeaderBag, nowMs: number): number | undefined {
  const resetAt = headerTime(Number(header(headers, "x-rate-limit-reset")) * 1000);
  if (resetAt !== undefined && resetAt > 0) return Math.max(0, resetAt - nowMs) + 1000;
  const retryAfter = header(headers, "retry-after");
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (headerTime(nowMs + seconds * 1000) !== undefined) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, date - nowMs);
  }
  return undefined;
}

/**
 * The smallest safe poll interval given the budget left: spread the remaining requests over the
 * time until reset, and wait for the reset when none (or one, kept for the final read) are left.
 */
export function pollDelayMs(intervalMs: number, rl: RateLimitState | undefined, nowMs: number): number {
  if (!rl || rl.remaining === undefined || rl.resetAt === undefined) return intervalMs;
  const untilReset = Math.max(0, rl.resetAt - nowMs);
  if (rl.remaining <= 1) return Math.max(intervalMs, untilReset + 1000);
  return Math.max(intervalMs, Math.ceil(untilReset / (rl.remaining - 1)));
}
