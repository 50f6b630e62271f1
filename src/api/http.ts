import type { Readable } from "node:stream";
import { Agent, request, type Dispatcher } from "undici";
import { ApiError, ApiShapeError, NetworkError, parseStorageError, problemKind, type ApiErrorInit } from "./errors.js";
import { redactUrl } from "./redact.js";
import { backoffMs, rateLimitWaitMs, readRateLimit, shouldRetry, type FailureKind, type RateLimitState } from "./retry.js";
import { ProblemSchema, type Problem } from "./schemas.js";
import { deadline, MAX_TIMER_MS, sleep, type Deadline } from "./timers.js";

export { redactUrl } from "./redact.js";

// The only module that touches undici. It owns timeouts, credentials, retries and redaction.

export interface RetryPolicy {
  /** Attempts per request, including the first. */
  maxAttempts: number;
  /** Longest single wait for a rate-limit reset before giving up with exit 5. */
  maxRateLimitWaitMs: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  // The API's rate-limit windows are 15 minutes; waiting one full window is always enough.
  maxRateLimitWaitMs: 16 * 60_000,
  baseBackoffMs: 500,
  maxBackoffMs: 30_000,
};

export interface HttpOptions {
  apiOrigin: string;
  token?: string;
  userAgent: string;
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  debug?: (message: string) => void;
  /** Told before every wait caused by a 429, so the user knows when work resumes. */
  onRateLimit?: (info: { what: string; waitMs: number; resetAt: number }) => void;
  /** Told before every retry after a network error or 5xx. */
  onRetry?: (info: { what: string; attempt: number; waitMs: number; reason: string }) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  /**
   * Timeouts (ms). `connect`, `headers` and `body` (between chunks) are undici's socket timeouts,
   * whose 300 s defaults suit servers, not a CLI; `total` bounds one whole attempt of a request
   * other than an upload of IDs: connecting, the headers, and a JSON or error body (default 120 s).
   */
  timeouts?: { connect?: number; headers?: number; body?: number; total?: number };
}

export type BodyFactory = () => Readable | Buffer | string;

export interface SendOptions {
  method: "GET" | "POST" | "PUT" | "DELETE";
  url: string;
  /**
   * Whether this request carries the bearer token. The caller decides per request (an API path it
   * built itself, or the job's own upload/download URL); a URL chosen by another server, such as
   * a resumable session's Location, never does. The token goes only to the API origin in any case.
   */
  auth: boolean;
  /** For messages: "create a job", "upload IDs for job 123". */
  what: string;
  headers?: Record<string, string>;
  /** Called once per attempt, so a streamed body is re-opened on retry. */
  body?: BodyFactory;
  /** Non-2xx statuses handed back to the caller instead of thrown (e.g. 308 for resumable uploads). */
  accept?: number[];
  /** Leave the body unread on success (downloads stream it). */
  stream?: boolean;
  /**
   * A POST that creates nothing and may be repeated like a PUT (the storage resumable-session
   * start); other POSTs are retried only when they surely never left.
   */
  repeatable?: boolean;
  /**
   * A transfer whose size the caller controls (an upload of IDs): no total deadline, only the
   * idle timeouts between chunks. Every other request must finish within `timeouts.total`.
   */
  transfer?: boolean;
  signal?: AbortSignal;
  /** Extra attempts budget override (e.g. 1 for no retry). */
  maxAttempts?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData["body"];
  header(name: string): string | undefined;
}

const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH"]);
/**
 * The most read of any API JSON body, success or problem: a job is under 2 KiB and a job list
 * holds at most a few dozen jobs, so anything larger is not an answer this client can use.
 */
const MAX_JSON_BODY = 1024 * 1024;
/** The default total deadline of one request (connect, headers and a JSON or error body). */
const DEFAULT_TOTAL_MS = 120_000;

/** The total deadline ran out while the server was still answering. */
class DeadlineError extends Error {
  constructor(ms: number) {
    super(`the server did not finish answering within ${Number((ms / 1000).toFixed(1))} s`);
    this.name = "DeadlineError";
  }
}

class OversizedError extends Error {}

export class Http {
  readonly apiOrigin: string;
  /** Last rate-limit headers seen, per endpoint (method + path with ids replaced by :id). */
  readonly rateLimits = new Map<string, RateLimitState>();

  /** What the API last said of the rate limit of `method url`'s endpoint (ids in the path do not matter). */
  rateLimitOf(method: string, url: string): RateLimitState | undefined {
    return this.rateLimits.get(endpointKey(method, url));
  }
  readonly retry: RetryPolicy;
  private readonly agent: Agent;
  private readonly opts: HttpOptions;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private readonly totalMs: number;

  constructor(opts: HttpOptions) {
    this.opts = opts;
    this.apiOrigin = opts.apiOrigin;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? sleep;
    this.totalMs = opts.timeouts?.total ?? DEFAULT_TOTAL_MS;
    this.agent = new Agent({
      connect: { timeout: opts.timeouts?.connect ?? 10_000 },
      headersTimeout: opts.timeouts?.headers ?? 30_000,
      // Time allowed *between* body chunks, not for the whole body.
      bodyTimeout: opts.timeouts?.body ?? 60_000,
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** True when `url` is on the API origin, the only place the bearer token may go. */
  isApiOrigin(url: string): boolean {
    return new URL(url).origin === this.apiOrigin;
  }

  /** Waits the backoff before attempt `attempt + 1` (for callers that loop themselves). */
  async backoff(attempt: number, signal?: AbortSignal): Promise<number> {
    const waitMs = backoffMs(attempt, { baseMs: this.retry.baseBackoffMs, capMs: this.retry.maxBackoffMs });
    await this.sleep(waitMs, signal ?? this.opts.signal);
    return waitMs;
  }

  /** Sends a request; on success the body is drained (or, with `stream`, handed over unread). */
  async send(req: SendOptions): Promise<HttpResponse> {
    return (await this.exchange(req, false)).response;
  }

  /** Sends and parses a JSON body of at most MAX_JSON_BODY bytes, all within the total deadline. */
  async json(req: SendOptions): Promise<{ response: HttpResponse; body: unknown }> {
    const { response, text } = await this.exchange(req, true);
    try {
      return { response, body: text ? JSON.parse(text) : {} };
    } catch {
      throw this.unechoed(
        new ApiError({
          status: response.status,
          method: req.method,
          url: redactUrl(req.url, this.apiOrigin),
          what: req.what,
          problem: { title: "invalid JSON", detail: `the response is not JSON: ${JSON.stringify(text.slice(0, 80))}` },
        }),
      );
    }
  }

  private async exchange(req: SendOptions, read: boolean): Promise<{ response: HttpResponse; text: string }> {
    const signal = req.signal ?? this.opts.signal;
    const maxAttempts = req.maxAttempts ?? this.retry.maxAttempts;
    const onApi = this.isApiOrigin(req.url);
    const headers: Record<string, string> = { "user-agent": this.opts.userAgent, ...req.headers };
    // Credentials only where the caller asked for them, and even then only on the API origin:
    // signed storage URLs never see the token. Redirects are never followed (undici's request
    // does not), so the token cannot leak through one.
    if (req.auth && onApi && this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    const method = req.method;
    const repeatable = req.repeatable;
    const shown = redactUrl(req.url, this.apiOrigin);

    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const started = this.now();
      this.opts.debug?.(`--> ${method} ${shown}`);
      // Every attempt of a bounded request has one clock for connecting, headers and body.
      const clock = deadline(req.transfer ? MAX_TIMER_MS : this.totalMs, signal, () => new DeadlineError(this.totalMs));
      // The clock for the answer's body: a transfer's answer, once its headers are in, gets a
      // total deadline of its own like any other answer (a body may trickle under the idle timeout).
      let answer: Deadline = clock;
      let res: Dispatcher.ResponseData;
      let text = "";
      let handedOver = false;
      try {
        try {
          res = await request(req.url, {
            method,
            headers,
            body: req.body?.() ?? null,
            dispatcher: this.agent,
            signal: clock.signal,
          });
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          const cause = clock.expired ? new DeadlineError(this.totalMs) : err;
          const failure: FailureKind = !clock.expired && NOT_SENT_CODES.has(errorCode(err) ?? "") ? "not-sent" : "network";
          this.opts.debug?.(`<-- ${method} ${shown} failed: ${describeCode(cause)}`);
          if (!shouldRetry({ attempt, maxAttempts, method, repeatable, failure })) {
            throw new NetworkError(req.what, cause, attempt);
          }
          const waitMs = backoffMs(attempt, { baseMs: this.retry.baseBackoffMs, capMs: this.retry.maxBackoffMs });
          this.opts.onRetry?.({ what: req.what, attempt, waitMs, reason: describeCode(cause) });
          await this.sleep(waitMs, signal);
          continue;
        }

        if (req.transfer) answer = deadline(this.totalMs, clock.signal, () => new DeadlineError(this.totalMs));
        const response = wrap(res);
        this.opts.debug?.(`<-- ${res.statusCode} ${method} ${shown} (${this.now() - started} ms)`);
        if (onApi) {
          const rl = readRateLimit(res.headers);
          if (rl) this.rateLimits.set(endpointKey(method, req.url), rl);
        }
        if ((res.statusCode >= 200 && res.statusCode < 300) || req.accept?.includes(res.statusCode)) {
          if (read) {
            try {
              text = await readJsonBody(res, answer.signal);
            } catch (err) {
              if (signal?.aborted) throw signal.reason;
              if (err instanceof OversizedError) {
                throw new ApiShapeError(`${endpointKey(method, req.url)} (${req.what})`, `the body is more than ${MAX_JSON_BODY / 1024 / 1024} MiB, far more than any job or job list`);
              }
              // The connection broke (or the deadline passed) while the body was read: retry a GET
              // like any network error; a POST may have taken effect, so it is reported (callers
              // list jobs and adopt theirs).
              const cause = answer.expired ? new DeadlineError(this.totalMs) : err;
              if (!shouldRetry({ attempt, maxAttempts, method, repeatable, failure: "network" })) {
                throw new NetworkError(req.what, cause, attempt);
              }
              const waitMs = backoffMs(attempt, { baseMs: this.retry.baseBackoffMs, capMs: this.retry.maxBackoffMs });
              this.opts.onRetry?.({ what: req.what, attempt, waitMs, reason: describeCode(cause) });
              await this.sleep(waitMs, signal);
              continue;
            }
          } else if (req.stream) {
            // The caller reads the body at its own pace: stop the clock, but keep the signal, and
            // let go of the parent signal once the body is done with.
            clock.stopClock();
            res.body.once("close", () => clock.clear());
            handedOver = true;
          } else {
            // A body nobody reads holds its connection (undici's advice): drain it.
            await res.body.dump({ limit: 128 * 1024, signal: answer.signal }).catch(() => undefined);
          }
          return { response, text };
        }

        // An error body is read only up to its cap and within the deadline.
        const errorBody = await readCapped(res.body, MAX_JSON_BODY, answer.signal);
        if (signal?.aborted) throw signal.reason;
        const storage = onApi ? undefined : parseStorageError(errorBody);
        const problem = storage ? undefined : parseProblem(errorBody);
        const problemType = problemKind(problem?.type);
        const retry = shouldRetry({ attempt, maxAttempts, method, repeatable, failure: "status", status: res.statusCode, problemType });
        const resetWait = res.statusCode === 429 ? rateLimitWaitMs(res.headers, this.now()) : undefined;
        const error = this.unechoed(
          new ApiError({
            status: res.statusCode,
            method,
            url: shown,
            what: req.what,
            problem,
            storage,
            redirect: res.statusCode >= 300 && res.statusCode < 400 ? this.redirectTarget(req.url, response.header("location"), onApi) : undefined,
            resetAt: resetWait !== undefined ? this.now() + resetWait : undefined,
            attempts: attempt,
          }),
        );
        if (!retry) throw error;
        answer.clear();
        clock.clear();
        if (resetWait !== undefined) {
          // A header-driven wait is trusted only up to one rate-limit window.
          if (resetWait > this.retry.maxRateLimitWaitMs) throw error;
          this.opts.onRateLimit?.({ what: req.what, waitMs: resetWait, resetAt: this.now() + resetWait });
          await this.sleep(resetWait, signal);
        } else {
          const waitMs = backoffMs(attempt, { baseMs: this.retry.baseBackoffMs, capMs: this.retry.maxBackoffMs });
          this.opts.onRetry?.({ what: req.what, attempt, waitMs, reason: `HTTP ${res.statusCode}` });
          await this.sleep(waitMs, signal);
        }
      } finally {
        // A handed-over body keeps its clock's signal (it still follows the parent's).
        if (answer !== clock) answer.clear();
        if (!handedOver) clock.clear();
      }
    }
  }

  /**
   * An error whose message quotes the server (problem text, a Location, a body that is not JSON)
   * with the token removed: a server may echo the Authorization header back. Only the message is
   * changed; the fields the client acts on stay as the server sent them.
   */
  private unechoed(error: ApiError): ApiError {
    error.message = scrub(error.message, this.opts.token);
    return error;
  }

  /** Where a 3xx points (redacted), and for an API request the `--api-url` that would reach it. */
  private redirectTarget(from: string, location: string | undefined, onApi: boolean): NonNullable<ApiErrorInit["redirect"]> {
    if (!location) return { fromApi: onApi };
    let target: URL;
    try {
      target = new URL(location, from);
    } catch {
      return { location: "(an invalid URL)", fromApi: onApi };
    }
    const apiUrl = onApi && target.origin !== this.apiOrigin && /^https?:$/.test(target.protocol) ? target.origin : undefined;
    return { location: redactUrl(target.toString(), this.apiOrigin), fromApi: onApi, apiUrl };
  }
}

function wrap(res: Dispatcher.ResponseData): HttpResponse {
  return {
    status: res.statusCode,
    headers: res.headers,
    body: res.body,
    header(name) {
      const v = res.headers[name.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    },
  };
}

/**
 * A success body for JSON parsing: refused before reading when its length says it is too big;
 * reading stops when `signal` aborts.
 */
async function readJsonBody(res: Dispatcher.ResponseData, signal: AbortSignal): Promise<string> {
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > MAX_JSON_BODY) {
    res.body.destroy();
    throw new OversizedError();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const stop = (): void => void res.body.destroy(signal.reason as Error);
  signal.addEventListener("abort", stop, { once: true });
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_JSON_BODY) {
        res.body.destroy();
        throw new OversizedError();
      }
      chunks.push(chunk as Buffer);
    }
  } finally {
    signal.removeEventListener("abort", stop);
  }
  signal.throwIfAborted();
  return Buffer.concat(chunks).toString("utf8");
}

/** Up to `cap` bytes of an error body; reading stops at the cap, a broken body or the deadline. */
async function readCapped(body: Dispatcher.ResponseData["body"], cap: number, signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const stop = (): void => void body.destroy();
  signal.addEventListener("abort", stop, { once: true });
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      chunks.push(buf.subarray(0, cap - size));
      size += Math.min(buf.length, cap - size);
      if (size >= cap) break;
    }
  } catch {
    // A broken or abandoned error body still leaves the status to act on.
  } finally {
    signal.removeEventListener("abort", stop);
    body.destroy();
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The longest title or detail kept from a problem body (they end up in a one-line message). */
const MAX_PROBLEM_TEXT = 1000;

function parseProblem(text: string): Problem | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // A body cut at its cap is not JSON any more; its leading fields still say what went wrong.
    json = salvageProblem(text);
  }
  const parsed = ProblemSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const problem: Problem = { ...parsed.data };
  // Legacy `{code, message}` bodies from the spec's `default` response.
  const legacy = parsed.data as Problem & { message?: unknown; errors?: Array<{ message?: string }> };
  if (!problem.title && !problem.detail) {
    const message = typeof legacy.message === "string" ? legacy.message : Array.isArray(legacy.errors) ? legacy.errors[0]?.message : undefined;
    if (typeof message === "string") problem.detail = message;
  }
  if (problem.title) problem.title = shorten(problem.title);
  if (problem.detail) problem.detail = shorten(problem.detail);
  return problem;
}

/** The string members `type`, `title`, `detail`, `reason`, `message` of a truncated JSON object. */
function salvageProblem(text: string): Record<string, string> | undefined {
  if (!/^\s*\{/.test(text)) return undefined;
  const found: Record<string, string> = {};
  for (const key of ["type", "title", "detail", "reason", "message"]) {
    const m = new RegExp(`"${key}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*")`).exec(text);
    if (!m) continue;
    try {
      found[key] = JSON.parse(m[1]!) as string;
    } catch {
      // Not a complete string literal: leave it out.
    }
  }
  return Object.keys(found).length ? found : undefined;
}

function shorten(text: string): string {
  return text.length > MAX_PROBLEM_TEXT ? `${text.slice(0, MAX_PROBLEM_TEXT)}…` : text;
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.cause?.code ?? e?.code;
}

function describeCode(err: unknown): string {
  return errorCode(err) ?? (err as Error)?.message ?? String(err);
}

/** `GET /2/compliance/jobs/123` → `GET /2/compliance/jobs/:id`: rate limits are per endpoint. */
export function endpointKey(method: string, url: string): string {
  // The first segment is the API version (`/2/`), not an id: keep it.
  const path = new URL(url).pathname
    .split("/")
    .map((segment, i) => (i > 1 && /^\d+$/.test(segment) ? ":id" : segment))
    .join("/");
  return `${method} ${path}`;
}

/** Removes any occurrence of `secret` from `text` (a server may echo the token in its answers). */
export function scrub(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join("[REDACTED]") : text;
}
