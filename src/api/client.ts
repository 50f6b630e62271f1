import { createReadStream } from "node:fs";
import { pipeline, Transform, type Readable } from "node:stream";
import type { z } from "zod";
import { CliError, ExitCode } from "../errors.js";
import { googCrc32c } from "../io/crc32c.js";
import { ApiError, ApiShapeError, NetworkError } from "./errors.js";
import { Http, type HttpOptions, type HttpResponse } from "./http.js";
import { redactUrl } from "./redact.js";
import type { RateLimitState } from "./retry.js";
import {
  JobListResponseSchema,
  JobResponseSchema,
  type Job,
  type JobType,
  type Problem,
} from "./schemas.js";

export interface CreateJobInput {
  type: JobType;
  name?: string;
  resumable?: boolean;
}

/** A byte range of an ID file to upload (a whole file, or one part of a split input). */
export interface UploadSource {
  path: string;
  start: number;
  /** Exclusive. */
  end: number;
}

export interface UploadOptions {
  signal?: AbortSignal;
  onProgress?: (bytesSent: number, totalBytes: number) => void;
  /** A resumable session URI from an earlier, interrupted run of the same upload. */
  sessionUri?: string;
  /** Told the session URI as soon as it exists, so a later run can resume it. */
  onSession?: (sessionUri: string) => void;
}

/**
 * Non-final chunks of a resumable upload must be multiples of 256 KiB; 8 MiB
 * keeps round trips few while bounding what a dropped connection costs.
 */
export const RESUMABLE_CHUNK = 32 * 256 * 1024;

/** The typed X API v2 batch-compliance client: the only caller of the HTTP layer. */
export class ComplianceApi {
  readonly http: Http;
  readonly apiUrl: string;
  /** Told the size of every chunk of IDs read for an upload (the binary paces collections by it). */
  readonly onChunk?: (bytes: number) => void;

  constructor(apiUrl: string, httpOptions: HttpOptions & { onChunk?: (bytes: number) => void }) {
    this.apiUrl = apiUrl;
    const { onChunk, ...rest } = httpOptions;
    this.http = new Http(rest);
    if (onChunk) this.onChunk = onChunk;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** The API's origin: the one place the bearer token goes, and whose URLs are not another's. */
  get apiOrigin(): string {
    return this.http.apiOrigin;
  }

  /** The rate-limit budget the API last reported for job lookups (`GET /2/compliance/jobs/:id`), to pace polls by. */
  jobLookupLimit(): RateLimitState | undefined {
    return this.http.rateLimitOf("GET", this.url("/2/compliance/jobs/0"));
  }

  private url(path: string, query?: Record<string, string | undefined>): string {
    const u = new URL(this.apiUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, v);
    return u.toString();
  }

  async createJob(input: CreateJobInput, signal?: AbortSignal): Promise<Job> {
    const body = JSON.stringify({
      type: input.type,
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.resumable ? { resumable: true } : {}),
    });
    const what = `create a ${input.type} job`;
    const { body: json } = await this.http.json({
      method: "POST",
      url: this.url("/2/compliance/jobs"),
      auth: true,
      what,
      headers: { "content-type": "application/json" },
      body: () => body,
      signal,
    });
    return parse(JobResponseSchema, json, what, "POST /2/compliance/jobs").data;
  }

  async getJob(id: string, signal?: AbortSignal): Promise<Job> {
    const what = `get job ${id}`;
    const url = this.url(`/2/compliance/jobs/${encodeURIComponent(id)}`);
    const { response, body } = await this.http.json({ method: "GET", url, auth: true, what, signal });
    // An unknown id answers 200 with `errors` and no `data` (as other v2 lookups do).
    const errors = (body as { data?: unknown; errors?: Problem[] }).errors;
    if ((body as { data?: unknown }).data === undefined && errors?.length) {
      throw new ApiError({ status: response.status === 200 ? 404 : response.status, method: "GET", url, what, problem: errors[0] });
    }
    return parse(JobResponseSchema, body, what, "GET /2/compliance/jobs/:id").data;
  }

  async listJobs(type: JobType, status?: string, signal?: AbortSignal): Promise<Job[]> {
    return (await this.listJobsDated(type, status, signal)).jobs;
  }

  /**
   * The job list with the API's clock reading: the answer's `Date` header (ms), and when it was
   * received here, so a caller can compare `created_at` with its own moments despite clock skew.
   */
  async listJobsDated(type: JobType, status?: string, signal?: AbortSignal): Promise<{ jobs: Job[]; apiDate?: number; receivedAt: number }> {
    const what = `list ${type} jobs`;
    const { response, body } = await this.http.json({
      method: "GET",
      url: this.url("/2/compliance/jobs", { type, status }),
      auth: true,
      what,
      signal,
    });
    const receivedAt = Date.now();
    const date = Date.parse(response.header("date") ?? "");
    const jobs = parse(JobListResponseSchema, body, what, "GET /2/compliance/jobs").data ?? [];
    return { jobs, apiDate: Number.isFinite(date) ? date : undefined, receivedAt };
  }

  /**
   * `DELETE /2/compliance/jobs/:id`, which only the newer API offers. OpenAPI 2.168 answers the job,
   * now `failed` (there is no `cancelled` status); an older answer is `{"data":{"cancelled":…}}`.
   * Resolves to false when the job had already ended (`cancelled: false`, or the job answered in
   * another status than failed), else true.
   */
  async cancelJob(id: string, signal?: AbortSignal): Promise<boolean> {
    const what = `cancel job ${id}`;
    try {
      const { body } = await this.http.json({ method: "DELETE", url: this.url(`/2/compliance/jobs/${encodeURIComponent(id)}`), auth: true, what, signal }).catch((err: unknown) => {
        // No JSON body: the 2xx status is the answer.
        if (err instanceof ApiError && err.problem?.title === "invalid JSON" && err.status >= 200 && err.status < 300) return { body: {} };
        throw err;
      });
      const data = (body as { data?: { cancelled?: unknown; status?: unknown } } | null)?.data;
      if (typeof data?.status === "string") return data.status === "failed";
      return data?.cancelled !== false;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 405)) {
        throw new CancelUnsupportedError(id, err.status);
      }
      throw err;
    }
  }

  /** Uploads one byte range of an ID file to the job's upload URL, whichever flow it uses. */
  async uploadIds(job: Job, source: UploadSource, opts: UploadOptions = {}): Promise<void> {
    const onApi = this.http.isApiOrigin(job.upload_url);
    if (job.resumable && !onApi) return this.uploadResumable(job, source, opts);
    const total = source.end - source.start;
    await this.http
      .send({
        method: "PUT",
        url: job.upload_url,
        // The job's own upload URL: on the API origin it needs the token (the HTTP layer never
        // sends it anywhere else).
        auth: true,
        transfer: true,
        what: `upload IDs for job ${job.id}`,
        // A signed storage URL's V4 signature covers its content type (`text/plain`); the API's own
        // byte path (`PUT /2/compliance/jobs/{id}/upload?token=…`, OpenAPI 2.168) takes
        // `application/octet-stream`. Both are set exactly (undici would add `;charset=UTF-8`), and
        // chunked encoding is refused, so the length is given.
        headers: { "content-type": onApi ? "application/octet-stream" : "text/plain", "content-length": String(total) },
        body: () => readRange(source, 0, opts.onProgress, undefined, this.onChunk),
        signal: opts.signal,
      })
      .catch((err: unknown) => {
        throw onApi && err instanceof ApiError && err.status === 404 ? new UploadPathNotFoundError(job, err) : err;
      });
  }

  /**
   * The storage resumable protocol: start a session, PUT chunks of n×256 KiB with
   * Content-Range, follow 308 + Range, and after a failure ask the session where it stands.
   */
  private async uploadResumable(job: Job, source: UploadSource, opts: UploadOptions): Promise<void> {
    const total = source.end - source.start;
    const what = `upload IDs for job ${job.id}`;
    let session = opts.sessionUri;
    if (!session) {
      const started = await this.http.send({
        method: "POST",
        repeatable: true,
        url: job.upload_url,
        auth: false,
        what: `start a resumable upload for job ${job.id}`,
        headers: { "content-type": "text/plain", "content-length": "0", "x-goog-resumable": "start" },
        body: () => "",
        signal: opts.signal,
      });
      const location = started.header("location");
      await started.body.dump();
      session = sessionUrl(location, job, this.http.apiOrigin);
      opts.onSession?.(session);
    }

    let offset = session === opts.sessionUri ? await this.querySession(session, total, what, opts.signal) : 0;
    let failures = 0; // transient failures in a row
    let stalls = 0; // answers in a row that persisted no byte beyond the furthest one so far
    let furthest = offset;
    while (offset < total) {
      const end = Math.min(total, offset + RESUMABLE_CHUNK);
      const range = `bytes ${offset}-${end - 1}/${total}`;
      let res: HttpResponse;
      try {
        res = await this.http.send({
          method: "PUT",
          url: session,
          // The session URL is the storage's choice, never a place for the token.
          auth: false,
          transfer: true,
          what,
          headers: { "content-length": String(end - offset), "content-range": range },
          body: () => readRange(source, offset, opts.onProgress, end, this.onChunk),
          accept: [308],
          signal: opts.signal,
          maxAttempts: 1,
        });
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        const transient = err instanceof NetworkError || (err instanceof ApiError && err.exitCode === ExitCode.transient);
        if (!transient || ++failures >= MAX_UPLOAD_FAILURES) throw err;
        // Where does the session stand? Resume from the last persisted byte.
        offset = await this.querySession(session, total, what, opts.signal);
        continue;
      }
      failures = 0;
      if (res.status !== 308) {
        offset = total;
        break;
      }
      const persisted = persistedFrom(res, end, what);
      if (persisted > furthest) {
        furthest = persisted;
        stalls = 0;
      } else {
        // A session that keeps answering 308 without taking bytes would be asked for ever.
        if (++stalls >= MAX_UPLOAD_FAILURES) {
          throw new CliError(
            `storage accepted no new bytes when asked to ${what} (still at byte ${persisted} of ${total} after ${stalls} tries); this is temporary, so run again later.`,
            ExitCode.transient,
          );
        }
        await this.http.backoff(stalls, opts.signal);
      }
      offset = persisted;
    }
  }

  /** `PUT session` with `Content-Range: bytes *\/total`: 308 + Range = partial, 200/201 = done. */
  private async querySession(session: string, total: number, what: string, signal?: AbortSignal): Promise<number> {
    const res = await this.http.send({
      method: "PUT",
      url: session,
      auth: false,
      what,
      headers: { "content-length": "0", "content-range": `bytes */${total}` },
      body: () => "",
      accept: [308],
      signal,
    });
    return res.status === 308 ? persistedFrom(res, total, what) : total;
  }

  /**
   * Opens the results for reading, from `offset` on (HTTP Range) to resume a cut download. Says how
   * the body is framed (a close-delimited body cannot be told from a cut one), the storage's CRC-32C
   * of the whole object when it sends one, and, for a 416 to a Range request, the object's size
   * from `Content-Range: bytes *\/N` (the bytes already held may be the whole object).
   */
  async openResults(job: Job, offset: number, signal?: AbortSignal): Promise<OpenedResults> {
    const what = `download the results of job ${job.id}`;
    const response = await this.http.send({
      method: "GET",
      url: job.download_url,
      auth: true,
      what,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      accept: offset > 0 ? [416] : [],
      stream: true,
      signal,
    });
    if (response.status === 416) {
      await response.body.dump().catch(() => undefined);
      const m = /^bytes \*\/(\d+)$/.exec((response.header("content-range") ?? "").trim());
      return { response, resumed: false, framing: "length", size: m ? Number(m[1]) : undefined, unsatisfiable: true };
    }
    let resumed = offset > 0 && response.status === 206;
    if (resumed) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((response.header("content-range") ?? "").trim());
      if (!m || Number(m[1]) !== offset) {
        await response.body.dump().catch(() => undefined);
        throw new ApiShapeError(what, `asked for the bytes from ${offset} on, the storage answered 206 with Content-Range ${JSON.stringify(response.header("content-range") ?? "")}`);
      }
    } else if (response.status === 206) {
      resumed = false;
    }
    const rawLength = response.header("content-length");
    const length = rawLength !== undefined && /^\d+$/.test(rawLength.trim()) ? Number(rawLength) : undefined;
    const chunked = /(^|,)\s*chunked\s*$/i.test(response.header("transfer-encoding") ?? "");
    const total = length !== undefined ? (resumed ? offset + length : length) : undefined;
    return {
      response,
      resumed,
      total,
      framing: length !== undefined ? "length" : chunked ? "chunked" : "none",
      crc32c: googCrc32c(response.headers["x-goog-hash"]),
    };
  }
}

export interface OpenedResults {
  response: HttpResponse;
  /** The server honoured the Range request (206 from `offset`). */
  resumed: boolean;
  /** Bytes of the whole object when the framing says so. */
  total?: number;
  /** How the end of the body can be recognised: "none" means only by the connection closing. */
  framing: "length" | "chunked" | "none";
  /** Base64 CRC-32C of the whole object (`x-goog-hash`), when sent. */
  crc32c?: string;
  /** A 416 answer: the Range asked for starts at or beyond the end of the object. */
  unsatisfiable?: boolean;
  /** The object's size from a 416's `Content-Range: bytes *\/N`. */
  size?: number;
}

/**
 * A 404 to the API's own upload byte path (`PUT /2/compliance/jobs/{id}/upload?token=…`), with the
 * bearer header and the URL's token both sent: X's API answered so, with or without a bearer, in
 * September 2026. Nothing was uploaded; only a later job can help.
 */
export class UploadPathNotFoundError extends CliError {
  constructor(job: Job, cause: ApiError) {
    super(
      `the API answered 404 Not Found to the upload of job ${job.id} on its own upload path (PUT /2/compliance/jobs/${job.id}/upload, sent with the bearer token and the URL's signed token), so no IDs were uploaded and the job will expire unused; this is the API's fault, not the file's: try again later with a new job, and if it persists, report it to X.`,
      ExitCode.refused,
      { cause },
    );
  }
}

export class CancelUnsupportedError extends CliError {
  constructor(id: string, status: number) {
    super(
      `this API does not support cancelling jobs (${status} on DELETE /2/compliance/jobs/${id}); the job stays as it is and ends on its own (an unused upload expires after 15 minutes).`,
      ExitCode.refused,
    );
  }
}

/**
 * The resumable session a storage `Location` names: only an http(s) URL is a place to PUT to (a
 * `file:` or `ftp:` one would fail every attempt, and every later run that resumes it).
 */
function sessionUrl(location: string | undefined, job: Job, apiOrigin: string): string {
  const what = `start a resumable upload for job ${job.id}`;
  if (!location) throw new ApiShapeError(what, "no Location header");
  let url: URL | undefined;
  try {
    url = new URL(location, job.upload_url);
  } catch {
    // Reported below.
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
    throw new ApiShapeError(what, `the session Location is not an http or https URL: ${url ? redactUrl(url.toString(), apiOrigin) : "(not a URL)"}`);
  }
  return url.toString();
}

/** Attempts in a row that may fail or make no progress before a resumable upload gives up. */
const MAX_UPLOAD_FAILURES = 5;

/**
 * `Range: bytes=0-N` on a 308 → next offset N+1; no Range → nothing persisted (restart at 0). A
 * Range beyond the bytes sent so far (`sent`) is not an answer to trust.
 */
function persistedFrom(res: HttpResponse, sent: number, what: string): number {
  const header = res.header("range") ?? "";
  const m = /bytes=0-(\d+)/.exec(header);
  const next = m ? Number(m[1]) + 1 : 0;
  if (next > sent) {
    throw new CliError(
      `storage answered Range: ${header} when asked to ${what}, more than the ${sent} bytes sent, so the upload cannot be trusted; start a new job (with \`compliant all\`, pass --no-resume).`,
      ExitCode.refused,
    );
  }
  return next;
}

function readRange(
  source: UploadSource,
  from: number,
  onProgress?: (sent: number, total: number) => void,
  to?: number,
  onChunk?: (bytes: number) => void,
): Readable {
  const total = source.end - source.start;
  const end = to ?? total;
  const stream = createReadStream(source.path, {
    start: source.start + from,
    end: source.start + end - 1,
    highWaterMark: 1024 * 1024,
  });
  let sent = from;
  onProgress?.(sent, total);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      onProgress?.(sent, total);
      onChunk?.(chunk.length);
      cb(null, chunk);
    },
  });
  // pipeline, not pipe: an error on either side destroys both, so a request that gives up on
  // the body also closes the file.
  pipeline(stream, counter, () => undefined);
  return counter;
}

function parse<T extends z.ZodType>(schema: T, body: unknown, what: string, endpoint: string): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.join(".") || "(root)";
  throw new ApiShapeError(`${endpoint} (${what})`, `${path}: ${issue?.message ?? "invalid"}`);
}
