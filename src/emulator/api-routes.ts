// The API origin: /2/compliance/jobs (create, list, get, cancel) with the X API's validation
// messages, per-endpoint rate limits and bearer-token check, plus the upload/download routes the
// "api" flow uses instead of signed storage URLs.
//
// The "api" flow follows X's OpenAPI 2.168 (Sept. 2026): the job's upload_url/download_url are
// `/2/compliance/jobs/{id}/upload?token=…` and `/download?token=…`, which take the bearer header
// AND the signed token. What each missing or wrong part gets, in the order it is checked
// (X's response-codes page: 400 invalid request/params, 401 bad/missing credentials, 404):
//   no or wrong bearer header           → 401 about:blank "Unauthorized" (as on every route)
//   id not 1–19 digits                  → 400 invalid-request
//   no such job                         → 404 resource-not-found problem
//   unknown query parameter, or `token`
//   missing or empty (2.168: required)  → 400 invalid-request naming the parameter
//   `token` not this job's, or the other
//   byte path's (it is a credential)    → 401 about:blank, detail names the token
// then, for an upload: Content-Type not accepted → 415, no Content-Length (chunked) → 411,
// too big → 413, job no longer `created` → 409 conflict; for a download: not `complete` → 409,
// past download_expires_at → 410. A good upload answers 200 JSON `{"data": job}`; a download
// answers the results as application/octet-stream.

import {
  conflict,
  genericProblem,
  invalidByteToken,
  invalidRequest,
  jobNotFoundError,
  payloadTooLarge,
  problems,
  unsupportedMediaType,
  type InvalidRequestError,
} from "./problems.js";
import type { EmulatorFlow, EmulatorJobType } from "./results.js";
import { contentLengthOf, headerString, isoSeconds, mediaType, readSmallBody, sendFile, sendJson, type Ctx } from "./http-util.js";
import { DOWNLOAD_WINDOW_MS, type Job, type JobStore } from "./jobs.js";
import type { RateLimiter } from "./rate-limit.js";
import type { UrlSigner } from "./signing.js";
import type { Clock, RouteKind } from "./types.js";

/** Fields `compliance_job.fields` accepts. */
const JOB_FIELDS = [
  "created_at",
  "download_expires_at",
  "download_url",
  "id",
  "name",
  "resumable",
  "status",
  "type",
  "upload_expires_at",
  "upload_url",
];
/** Statuses the list endpoint filters by (`expired` is not one of them). */
const LIST_STATUSES = ["created", "in_progress", "failed", "complete"];

export interface ApiDeps {
  token: string;
  flow: EmulatorFlow;
  clock: Clock;
  pollsToComplete: number;
  maxUploadBytes: number;
  cancelSupported: boolean;
  /** EmulatorOptions.octetStreamOnly */
  octetStreamOnly: boolean;
  /** EmulatorOptions.cancelToFailed */
  cancelToFailed: boolean;
  signer: UrlSigner;
  jobs: JobStore;
  rate: RateLimiter;
}

const API_RE = /^\/2\/compliance\/jobs(?:\/([^/]+)(?:\/(upload|download))?)?\/?$/;

export function classifyApi(method: string, path: string): RouteKind {
  const m = API_RE.exec(path);
  if (m === null) return "unknown";
  if (m[1] === undefined) return method === "POST" ? "create" : method === "GET" ? "list" : "unknown";
  if (m[2] === "upload") return method === "PUT" ? "upload" : "unknown";
  if (m[2] === "download") return method === "GET" || method === "HEAD" ? "download" : "unknown";
  return method === "GET" ? "get" : method === "DELETE" ? "cancel" : "unknown";
}

function validateQuery(ctx: Ctx, allowed: string[]): InvalidRequestError[] {
  const errors: InvalidRequestError[] = [];
  for (const [k, v] of ctx.url.searchParams) {
    if (!allowed.includes(k)) {
      errors.push({ parameters: { [k]: [v] }, message: `The query parameter [${k}] is not one of [${allowed.join(",")}]` });
    }
  }
  const fields = ctx.url.searchParams.get("compliance_job.fields");
  if (fields !== null) {
    for (const f of fields.split(",")) {
      if (!JOB_FIELDS.includes(f)) {
        errors.push({
          parameters: { "compliance_job.fields": [f] },
          message: `The \`compliance_job.fields\` query parameter value [${f}] is not one of [${JOB_FIELDS.join(",")}]`,
        });
      }
    }
  }
  return errors;
}

function idErrors(id: string): InvalidRequestError[] {
  return /^[0-9]{1,19}$/.test(id)
    ? []
    : [{ parameters: { id: [id] }, message: `The \`id\` query parameter value [${id}] does not match ^[0-9]{1,19}$` }];
}

async function handleCreate(d: ApiDeps, ctx: Ctx): Promise<void> {
  const raw = await readSmallBody(ctx, 64 * 1024);
  let body: unknown;
  try {
    body = raw === undefined ? undefined : JSON.parse(raw.toString("utf8"));
  } catch {
    body = undefined;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return sendJson(ctx, 400, invalidRequest([{ parameters: {}, message: "Request body must be a JSON object" }]));
  }
  const b = body as Record<string, unknown>;
  const errors: InvalidRequestError[] = [];
  for (const k of Object.keys(b)) {
    if (!["type", "name", "resumable"].includes(k)) {
      errors.push({ parameters: { [k]: [String(b[k])] }, message: `The body parameter [${k}] is not one of [type,name,resumable]` });
    }
  }
  if (b.type === undefined) {
    errors.push({ parameters: { type: [] }, message: "The `type` body parameter is required" });
  } else if (b.type !== "tweets" && b.type !== "users") {
    errors.push({ parameters: { type: [String(b.type)] }, message: `The \`type\` body parameter value [${String(b.type)}] is not one of [tweets,users]` });
  }
  if (b.name !== undefined && (typeof b.name !== "string" || [...b.name].length > 64)) {
    errors.push({
      parameters: { name: [String(b.name)] },
      message: `The \`name\` body parameter value [${String(b.name)}] is not a string of at most 64 characters`,
    });
  }
  if (b.resumable !== undefined && typeof b.resumable !== "boolean") {
    errors.push({
      parameters: { resumable: [String(b.resumable)] },
      message: `The \`resumable\` body parameter value [${String(b.resumable)}] is not one of [true,false]`,
    });
  }
  if (b.resumable === true && d.flow === "api") {
    // Reported publicly in September 2026: the API with byte paths answers 400 to resumable.
    errors.push({
      parameters: { resumable: ["true"] },
      message: "The `resumable` body parameter value [true] is not supported: upload the IDs with one PUT to the job's upload_url",
    });
  }
  if (errors.length > 0) return sendJson(ctx, 400, invalidRequest(errors));
  const type = b.type as EmulatorJobType;
  for (const j of d.jobs.all()) {
    const s = d.jobs.statusOf(j);
    if (j.type === type && (s === "created" || s === "in_progress")) return sendJson(ctx, 409, problems.conflict);
  }
  const job = d.jobs.create(type, b.name as string | undefined, b.resumable === true);
  return sendJson(ctx, 200, { data: d.jobs.json(job) });
}

async function handleList(d: ApiDeps, ctx: Ctx): Promise<void> {
  const q = ctx.url.searchParams;
  const errors = validateQuery(ctx, ["type", "status", "compliance_job.fields"]);
  const type = q.get("type");
  if (type === null || type === "") {
    errors.push({ parameters: { type: [] }, message: "The `type` query parameter can not be empty" });
  } else if (type !== "tweets" && type !== "users") {
    errors.push({ parameters: { type: [type] }, message: `The \`type\` query parameter value [${type}] is not one of [tweets,users]` });
  }
  const status = q.get("status");
  if (status !== null && !LIST_STATUSES.includes(status)) {
    errors.push({
      parameters: { status: [status] },
      message: `The \`status\` query parameter value [${status}] is not one of [${LIST_STATUSES.join(",")}]`,
    });
  }
  if (errors.length > 0) return sendJson(ctx, 400, invalidRequest(errors));
  const list = d.jobs.all()
    .filter((j) => j.type === type && (status === null || d.jobs.statusOf(j) === status))
    .sort((a, b) => b.createdMs - a.createdMs || (a.id < b.id ? 1 : -1))
    .map((j) => d.jobs.json(j));
  return sendJson(ctx, 200, list.length === 0 ? { meta: { result_count: 0 } } : { data: list, meta: { result_count: list.length } });
}

async function handleGet(d: ApiDeps, ctx: Ctx, id: string): Promise<void> {
  const errors = [...idErrors(id), ...validateQuery(ctx, ["compliance_job.fields"])];
  if (errors.length > 0) return sendJson(ctx, 400, invalidRequest(errors));
  const job = d.jobs.get(id);
  if (job === undefined) return sendJson(ctx, 200, { errors: [jobNotFoundError(id)] });
  if (d.jobs.statusOf(job) === "in_progress") {
    job.polls++;
    if (job.polls >= d.pollsToComplete) await d.jobs.finishProcessing(job);
  }
  return sendJson(ctx, 200, { data: d.jobs.json(job) });
}

async function handleCancel(d: ApiDeps, ctx: Ctx, id: string): Promise<void> {
  if (!d.cancelSupported) return sendJson(ctx, 404, problems.notFound);
  const errors = idErrors(id);
  if (errors.length > 0) return sendJson(ctx, 400, invalidRequest(errors));
  const job = d.jobs.get(id);
  if (job === undefined) return sendJson(ctx, 200, { errors: [jobNotFoundError(id)] });
  const s = d.jobs.statusOf(job);
  if (d.cancelToFailed) {
    // OpenAPI 2.168: "its status becomes failed"; 200 answers the job. A job that has already
    // ended is answered as it is (status unchanged), like the older `cancelled: false`.
    if (s === "created" || s === "in_progress") {
      job.status = "failed";
      job.cancelled = true;
    }
    return sendJson(ctx, 200, { data: d.jobs.json(job) });
  }
  if (s === "created" || s === "in_progress") {
    job.status = "expired";
    job.error = "cancelled";
    job.cancelled = true;
    return sendJson(ctx, 200, { data: { id, cancelled: true } });
  }
  return sendJson(ctx, 200, { data: { id, cancelled: false } });
}

async function apiJob(d: ApiDeps, ctx: Ctx, id: string): Promise<Job | undefined> {
  const errors = idErrors(id);
  if (errors.length > 0) {
    await sendJson(ctx, 400, invalidRequest(errors));
    return undefined;
  }
  const job = d.jobs.get(id);
  if (job === undefined) await sendJson(ctx, 404, { ...jobNotFoundError(id), status: 404 });
  return job;
}

/** The job of a byte path once its id, its existence and its `token` check out (else answered). */
async function byteJob(d: ApiDeps, ctx: Ctx, id: string, kind: "upload" | "download"): Promise<Job | undefined> {
  const job = await apiJob(d, ctx, id);
  if (job === undefined) return undefined;
  const errors = validateQuery(ctx, ["token", "compliance_job.fields"]);
  const token = ctx.url.searchParams.get("token");
  if (token === null || token === "") errors.push({ parameters: { token: [] }, message: "The `token` query parameter can not be empty" });
  if (errors.length > 0) {
    await sendJson(ctx, 400, invalidRequest(errors));
    return undefined;
  }
  if (!d.signer.verifyByteToken(kind, id, token!)) {
    await sendJson(ctx, 401, invalidByteToken(kind, id));
    return undefined;
  }
  return job;
}

/** Upload media types: 2.168 says application/octet-stream; text/plain unless octetStreamOnly. */
const OCTET_STREAM = ["application/octet-stream"] as const;
const OCTET_STREAM_OR_TEXT = ["application/octet-stream", "text/plain"] as const;

async function handleApiUpload(d: ApiDeps, ctx: Ctx, id: string): Promise<void> {
  const job = await byteJob(d, ctx, id, "upload");
  if (job === undefined) return;
  const { req } = ctx;
  const accepted: readonly string[] = d.octetStreamOnly ? OCTET_STREAM : OCTET_STREAM_OR_TEXT;
  if (!accepted.includes(mediaType(headerString(req.headers["content-type"])))) return sendJson(ctx, 415, unsupportedMediaType(accepted));
  const length = contentLengthOf(req);
  if (length === undefined) return sendJson(ctx, 411, problems.lengthRequired, { connection: "close" });
  if (length > d.maxUploadBytes) return sendJson(ctx, 413, payloadTooLarge(d.maxUploadBytes), { connection: "close" });
  const s = d.jobs.statusOf(job);
  if (s !== "created") {
    return sendJson(ctx, 409, conflict(`Job ${id} is ${s}; uploads are accepted only while it is created.`));
  }
  const stored = await d.jobs.storeUpload(ctx, job);
  if (stored === "cut") return;
  if (stored === "closed") {
    return sendJson(ctx, 409, conflict(`Job ${id} is ${d.jobs.statusOf(job)}; uploads are accepted only while it is created.`));
  }
  return sendJson(ctx, 200, { data: d.jobs.json(job) });
}

async function handleApiDownload(d: ApiDeps, ctx: Ctx, id: string): Promise<void> {
  const job = await byteJob(d, ctx, id, "download");
  if (job === undefined) return;
  const s = d.jobs.statusOf(job);
  if (s !== "complete") {
    return sendJson(ctx, 409, conflict(`Results for job ${id} are not available: its status is ${s}.`));
  }
  if (d.clock.now() > job.createdMs + DOWNLOAD_WINDOW_MS) {
    return sendJson(ctx, 410, genericProblem(410, `The results of job ${id} expired at ${isoSeconds(job.createdMs + DOWNLOAD_WINDOW_MS)}.`));
  }
  return sendFile(ctx, job.resultsFile, "application/octet-stream", {});
}

export async function handleApi(d: ApiDeps, ctx: Ctx): Promise<void> {
  const { req, url } = ctx;
  if (!url.pathname.startsWith("/2/")) return sendJson(ctx, 404, problems.pageNotFound);
  if (req.headers.authorization !== `Bearer ${d.token}`) return sendJson(ctx, 401, problems.unauthorized);
  const route = ctx.route;
  if (route === "create" || route === "list" || route === "get" || route === "cancel") {
    const rl = d.rate.count(route);
    ctx.rl = { limit: rl.limit, remaining: rl.remaining, reset: rl.reset };
    if (rl.exceeded) return sendJson(ctx, 429, problems.tooManyRequests);
  }
  const id = API_RE.exec(url.pathname)?.[1] ?? "";
  switch (route) {
    case "create":
      return handleCreate(d, ctx);
    case "list":
      return handleList(d, ctx);
    case "get":
      return handleGet(d, ctx, id);
    case "cancel":
      return handleCancel(d, ctx, id);
    case "upload":
      if (d.flow !== "api") return sendJson(ctx, 404, problems.pageNotFound);
      return handleApiUpload(d, ctx, id);
    case "download":
      if (d.flow !== "api") return sendJson(ctx, 404, problems.pageNotFound);
      return handleApiDownload(d, ctx, id);
    default:
      return sendJson(ctx, 404, problems.pageNotFound);
  }
}
