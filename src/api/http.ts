import type { Readable } from "node:stream";
import { setTimeout as sleepTimer } from "node:timers/promises";
import { Agent, request, type Dispatcher } from "undici";
import { ApiError, NetworkError, parseStorageError, problemKind } from "./errors.js";
import { backoffMs, rateLimitWaitMs, readRateLimit, shouldRetry, type FailureKind, type RateLimitState } from "./retry.js";
import { ProblemSchema, type Problem } from "./schemas.js";

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
  // Rate-limit windows are 15 minutes (API-FACTS §2); waiting one full window is always enough.
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
  /** Socket timeouts (ms). Undici's 300 s defaults suit servers, not a CLI. */
  timeouts?: { connect?: number; headers?: number; body?: number };
}

export type BodyFactory = () => Readable | Buffer | string;

export interface SendOptions {
  method: "GET" | "POST" | "PUT" | "DELETE" | "POST-SESSION";
  url: string;
  /** For messages: "create a job", "upload IDs for job 123". */
  what: string;
  headers?: Record<string, string>;
  /** Called once per attempt, so a streamed body is re-opened on retry. */
  body?: BodyFactory;
  /** Non-2xx statuses handed back to the caller instead of thrown (e.g. 308 for resumable uploads). */
  accept?: number[];
  /** Leave the body unread on success (downloads stream it). */
  stream?: boolean;
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
const MAX_ERROR_BODY = 64 * 1024;

export class Http {
  readonly apiOrigin: string;
  /** Last rate-limit headers seen, per endpoint (method + path with ids replaced by :id). */
  readonly rateLimits = new Map<string, RateLimitState>();
  private readonly agent: Agent;
  private readonly retry: RetryPolicy;
  private readonly opts: HttpOptions;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => number;

  constructor(opts: HttpOptions) {
    this.opts = opts;
    this.apiOrigin = opts.apiOrigin;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms, signal) => sleepTimer(ms, undefined, { signal }));
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

  async send(req: SendOptions): Promise<HttpResponse> {
    const signal = req.signal ?? this.opts.signal;
    const maxAttempts = req.maxAttempts ?? this.retry.maxAttempts;
    const onApi = this.isApiOrigin(req.url);
    const headers: Record<string, string> = { "user-agent": this.opts.userAgent, ...req.headers };
    // Scope credentials to the API origin: signed storage URLs never see the token. Redirects
    // are never followed (undici's request does not), so the token cannot leak through one.
    if (onApi && this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    const method = req.method === "POST-SESSION" ? "POST" : req.method;
    const shown = redactUrl(req.url, this.apiOrigin);

    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const started = this.now();
      this.opts.debug?.(`--> ${method} ${shown}`);
      let res: Dispatcher.ResponseData;
      try {
        res = await request(req.url, {
          method,
          headers,
          body: req.body?.() ?? null,
          dispatcher: this.agent,
          signal,
        });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const failure: FailureKind = NOT_SENT_CODES.has(errorCode(err) ?? "") ? "not-sent" : "network";
        this.opts.debug?.(`<-- ${method} ${shown} failed: ${errorCode(err) ?? (err as Error).message}`);
        if (!shouldRetry({ attempt, maxAttempts, method: req.method, failure })) {
          throw new NetworkError(req.what, err, attempt);
        }
        const waitMs = backoffMs(attempt, { baseMs: this.retry.baseBackoffMs, capMs: this.retry.maxBackoffMs });
        this.opts.onRetry?.({ what: req.what, attempt, waitMs, reason: describeCode(err) });
        await this.sleep(waitMs, signal);
        continue;
      }

      const response = wrap(res);
      this.opts.debug?.(`<-- ${res.statusCode} ${method} ${shown} (${this.now() - started} ms)`);
      if (onApi) {
        const rl = readRateLimit(res.headers);
        if (rl) this.rateLimits.set(endpointKey(method, req.url), rl);
      }
      if ((res.statusCode >= 200 && res.statusCode < 300) || req.accept?.includes(res.statusCode)) {
        // A body nobody reads holds its connection (undici's advice): drain it unless asked not to.
        if (!req.stream) await res.body.dump();
        return response;
      }

      const errorBody = await readCapped(res.body);
      const storage = onApi ? undefined : parseStorageError(errorBody);
      const problem = storage ? undefined : parseProblem(errorBody);
      const problemType = problemKind(problem?.type);
      const retry = shouldRetry({ attempt, maxAttempts, method: req.method, failure: "status", status: res.statusCode, problemType });
      const resetWait = res.statusCode === 429 ? rateLimitWaitMs(res.headers, this.now()) : undefined;
      const error = new ApiError({
        status: res.statusCode,
        method,
        url: shown,
        what: req.what,
        problem,
        storage,
        resetAt: resetWait !== undefined ? this.now() + resetWait : undefined,
        attempts: attempt,
      });
      if (!retry) throw error;
      if (resetWait !== undefined) {
        if (resetWait > this.retry.maxRateLimitWaitMs) throw error;
        this.opts.onRateLimit?.({ what: req.what, waitMs: resetWait, resetAt: this.now() + resetWait });
        await this.sleep(resetWait, signal);
      } else {
        const waitMs = backoffMs(attempt, { baseMs: this.retry.baseBackoffMs, capMs: this.retry.maxBackoffMs });
        this.opts.onRetry?.({ what: req.what, attempt, waitMs, reason: `HTTP ${res.statusCode}` });
        await this.sleep(waitMs, signal);
      }
    }
  }

  /** Sends and parses a JSON body. */
  async json(req: SendOptions): Promise<{ response: HttpResponse; body: unknown }> {
    let response: HttpResponse;
    let text: string;
    for (let attempt = 1; ; attempt++) {
      response = await this.send({ ...req, stream: true });
      try {
        text = await response.body.text();
        break;
      } catch (err) {
        // The connection broke while the body was read: retry a GET like any network error; a
        // POST may have taken effect, so it is reported (callers list jobs and adopt theirs).
        const signal = req.signal ?? this.opts.signal;
        if (signal?.aborted) throw signal.reason;
        if (!shouldRetry({ attempt, maxAttempts: req.maxAttempts ?? this.retry.maxAttempts, method: req.method, failure: "network" })) {
          throw new NetworkError(req.what, err, attempt);
        }
        const waitMs = backoffMs(attempt, { baseMs: this.retry.baseBackoffMs, capMs: this.retry.maxBackoffMs });
        this.opts.onRetry?.({ what: req.what, attempt, waitMs, reason: describeCode(err) });
        await this.sleep(waitMs, signal);
      }
    }
    try {
      return { response, body: text ? JSON.parse(text) : {} };
    } catch {
      throw new ApiError({
        status: response.status,
        method: req.method,
        url: redactUrl(req.url, this.apiOrigin),
        what: req.what,
        problem: { title: "invalid JSON", detail: `the response is not JSON: ${JSON.stringify(text.slice(0, 80))}` },
      });
    }
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

async function readCapped(body: Dispatcher.ResponseData["body"]): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      if (size < MAX_ERROR_BODY) chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch {
    // A broken error body still leaves the status to act on.
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, MAX_ERROR_BODY);
}

function parseProblem(text: string): Problem | undefined {
  try {
    const parsed = ProblemSchema.safeParse(JSON.parse(text));
    if (!parsed.success) return undefined;
    // Legacy `{code, message}` bodies from the spec's `default` response.
    const legacy = parsed.data as Problem & { message?: unknown; errors?: Array<{ message?: string }> };
    if (!parsed.data.title && !parsed.data.detail) {
      const message = typeof legacy.message === "string" ? legacy.message : legacy.errors?.[0]?.message;
      if (message) return { ...parsed.data, detail: message };
    }
    return parsed.data;
  } catch {
    return undefined;
  }
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

const SECRET_PARAMS = /^(x-goog-signature|x-goog-credential|upload_id|signature|sig|token|access_token|x-amz-signature|x-amz-credential)$/i;

/**
 * A URL safe to print: secrets in the query (signatures, credentials, resumable upload ids) are
 * replaced by `REDACTED`. On a foreign (storage) origin every query value is treated as secret
 * except a few harmless signing parameters.
 */
export function redactUrl(url: string, apiOrigin?: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "(invalid URL)";
  }
  u.username = "";
  u.password = "";
  const foreign = apiOrigin !== undefined && u.origin !== apiOrigin;
  const harmless = /^(x-goog-algorithm|x-goog-date|x-goog-expires|x-goog-signedheaders|type|status)$/i;
  for (const key of [...u.searchParams.keys()]) {
    if (SECRET_PARAMS.test(key) || (foreign && !harmless.test(key))) u.searchParams.set(key, "REDACTED");
  }
  return u.toString();
}

/** Removes any occurrence of `secret` from `text` (belt and braces for debug output). */
export function scrub(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join("[REDACTED]") : text;
}
