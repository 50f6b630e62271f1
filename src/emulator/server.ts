// A local emulator of the X API v2 batch compliance endpoints plus the signed-URL (GCS-like)
// storage they hand out. node:http only; importing this module has no side effects.
// Behaviour follows the public X API v2 compliance documentation and the responses the real API
// and its storage return (status codes, headers, error bodies, result file formats).

import { createServer, STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { mkdtemp, rename, rm, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { genericProblem, xmlError } from "./problems.js";
import type { EmulatorFlow } from "./results.js";
import { UrlSigner, parseGoogDate, stringToSign, type SignedParams } from "./signing.js";
import { classifyApi, handleApi, type ApiDeps } from "./api-routes.js";
import { applyFault, FaultQueue } from "./faults.js";
import {
  contentLengthOf,
  headerString,
  logEntry,
  readSmallBody,
  receive,
  send,
  sendError,
  sendFile,
  sendXml,
  type Ctx,
} from "./http-util.js";
import { BUCKETS, EMULATOR_APP_ID, JobStore, type Job } from "./jobs.js";
import { RateLimiter } from "./rate-limit.js";
import type { Clock, Emulator, EmulatorOptions, Fault, ManualClock, RequestLogEntry, RouteKind } from "./types.js";

export { problems, invalidRequest, jobNotFoundError, xmlError, genericProblem, conflict, payloadTooLarge } from "./problems.js";
export {
  expectedEvent,
  renderResultLine,
  expectedResultsFile,
  processIdFile,
  snowflakeMs,
  isInvalidApiId,
  SNOWFLAKE_EPOCH_MS,
} from "./results.js";
export type { EmulatedEvent, EmulatedErrorLine, EmulatedResultLine, EmulatorFlow, EmulatorJobType, ProcessResult } from "./results.js";

export type {
  Clock,
  ManualClock,
  RouteKind,
  RequestLogEntry,
  JobStatus,
  EmulatedJobInfo,
  FaultMatch,
  FaultAction,
  Fault,
  EmulatorOptions,
  Emulator,
} from "./types.js";

/** A clock that only moves when told to. */
export function manualClock(startMs: number): ManualClock {
  let t = startMs;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    set: (ms: number) => {
      t = ms;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Constants

export { EMULATOR_APP_ID, UPLOAD_WINDOW_MS, DOWNLOAD_WINDOW_MS } from "./jobs.js";
export const RESUMABLE_CHUNK = 262_144;

// ---------------------------------------------------------------------------------------------
// Internal state

interface Session {
  id: string;
  job: Job;
  file: string;
  persisted: number;
  complete: boolean;
  /** The chunk request currently writing, if any; later requests wait for it. */
  busy: Promise<void> | null;
}

// ---------------------------------------------------------------------------------------------

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const host = opts.host ?? "127.0.0.1";
  const flow: EmulatorFlow = opts.flow ?? "storage";
  const token = opts.token ?? `emu-${randomBytes(18).toString("base64url")}`;
  const pollsToComplete = opts.pollsToComplete ?? 1;
  const clock: Clock = opts.clock ?? { now: () => Date.now() };
  const rateCfg = opts.rateLimit ?? { limit: 150, windowSeconds: 900 };
  const maxUploadBytes = opts.maxUploadBytes ?? 128_000_000;
  const cancelSupported = opts.cancelSupported ?? flow === "api";
  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "compliant-emulator-")));
  const signer = new UrlSigner(randomBytes(32));

  const requests: RequestLogEntry[] = [];
  const sessions = new Map<string, Session>();
  const faults = new FaultQueue();
  const rate = new RateLimiter(rateCfg, clock);
  const background = new Set<Promise<unknown>>();
  const sockets = new Set<Socket>();
  const closing = new AbortController();
  let closed = false;

  const track = <T>(p: Promise<T>): Promise<T> => {
    const q = p.then(
      () => undefined,
      () => undefined,
    );
    background.add(q);
    void q.then(() => background.delete(q));
    return p;
  };

  const jobs = new JobStore({ flow, clock, signer, dataDir, track });
  const api: ApiDeps = { token, flow, clock, pollsToComplete, maxUploadBytes, cancelSupported, jobs, rate };

  // --- storage origin -----------------------------------------------------------------------

  const STORAGE_RE = /^\/(twttr-tweet-compliance|twttr-user-compliance)\/([0-9]{1,19})\/(submission|delivery)\/([^/]+)$/;

  const classifyStorage = (method: string, url: URL): RouteKind => {
    const m = STORAGE_RE.exec(url.pathname);
    if (m === null) return "unknown";
    const session = url.searchParams.has("upload_id");
    if (m[3] === "delivery") return !session && (method === "GET" || method === "HEAD") ? "download" : "unknown";
    if (session) return method === "PUT" ? "resumable-chunk" : method === "DELETE" ? "resumable-cancel" : "unknown";
    return method === "PUT" ? "upload" : method === "POST" ? "resumable-start" : "unknown";
  };

  const sendNoSuchKey = (ctx: Ctx): Promise<void> =>
    sendXml(ctx, 404, xmlError("NoSuchKey", "The specified key does not exist."));

  const sessionResponse = (ctx: Ctx, s: Session): Promise<void> => {
    if (s.complete) return send(ctx, 200, { "x-goog-stored-content-length": String(s.persisted), "content-type": "text/html; charset=UTF-8" });
    const headers: OutgoingHttpHeaders = { "content-type": "text/html; charset=UTF-8" };
    if (s.persisted > 0) headers.range = `bytes=0-${s.persisted - 1}`;
    return send(ctx, 308, headers);
  };

  const finalizeSession = async (s: Session): Promise<void> => {
    s.complete = true;
    const job = s.job;
    if (job.status !== "created") return;
    await rename(s.file, job.uploadFile);
    jobs.markUploaded(job, s.persisted);
  };

  const handleStorage = async (ctx: Ctx): Promise<void> => {
    const { req, url, route } = ctx;
    if (req.headers.authorization !== undefined) {
      return sendXml(ctx, 400, xmlError("InvalidArgument", "Multiple authentication methods", {
        Details: "Requests with both a signed URL and an Authorization header are not accepted.",
      }));
    }
    const m = STORAGE_RE.exec(url.pathname);
    if (m === null) return sendXml(ctx, 404, xmlError("NoSuchBucket", "The specified bucket does not exist."));
    const q = url.searchParams;
    const signature = q.get("X-Goog-Signature");
    if (signature === null) {
      const perm = route === "download" ? "storage.objects.get" : "storage.objects.create";
      return sendXml(ctx, 403, xmlError("AccessDenied", "Access denied.", {
        Details: `Anonymous caller does not have ${perm} access to the Google Cloud Storage object.`,
      }));
    }
    const params: SignedParams = {
      credential: q.get("X-Goog-Credential") ?? "",
      date: q.get("X-Goog-Date") ?? "",
      expires: q.get("X-Goog-Expires") ?? "",
      signedHeaders: q.get("X-Goog-SignedHeaders") ?? "",
    };
    const dateMs = parseGoogDate(params.date);
    const expiresS = Number(params.expires);
    if (q.get("X-Goog-Algorithm") !== "GOOG4-RSA-SHA256" || Number.isNaN(dateMs) || !/^\d+$/.test(params.expires) || params.credential === "") {
      return sendXml(ctx, 400, xmlError("MalformedSecurityHeader", "Your request has a malformed header."));
    }
    const signedMethod = route === "download" ? "GET" : route === "upload" ? "PUT" : "POST";
    const mismatch = (): Promise<void> =>
      sendXml(ctx, 403, xmlError(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.",
        { StringToSign: stringToSign(req.method ?? "", url.pathname, params) },
      ));
    // The method is part of the signature: a method/path the emulator never signed cannot match.
    if (route === "unknown" || !signer.verify(signedMethod, url.pathname, params, signature)) return mismatch();
    // Signed header values must match what the emulator signed.
    if (route === "upload" || route === "resumable-start") {
      const signed = params.signedHeaders.split(";");
      if (signed.includes("content-type") && headerString(req.headers["content-type"]) !== "text/plain") return mismatch();
      if (signed.includes("x-goog-resumable") && headerString(req.headers["x-goog-resumable"]) !== "start") return mismatch();
      if (route === "resumable-start" && !signed.includes("x-goog-resumable")) return mismatch();
    }
    const sessionRoute = route === "resumable-chunk" || route === "resumable-cancel";
    if (!sessionRoute && clock.now() > dateMs + expiresS * 1000) {
      return sendXml(ctx, 400, xmlError("ExpiredToken", "The provided token has expired.", {
        Details: `Request signature expired at: ${new Date(dateMs + expiresS * 1000).toISOString().replace(/\.\d{3}Z$/, "+00:00")}`,
      }));
    }
    const job = jobs.get(m[2]!);
    if (job === undefined || BUCKETS[job.type] !== m[1] || m[4] !== `${EMULATOR_APP_ID}_${job.id}`) return sendNoSuchKey(ctx);

    if (route === "download") {
      if (jobs.statusOf(job) !== "complete") return sendNoSuchKey(ctx);
      const completed = job.completedMs ?? clock.now();
      return sendFile(ctx, job.resultsFile, "application/octet-stream", {
        "x-goog-stored-content-encoding": "identity",
        "x-goog-stored-content-length": String((await stat(job.resultsFile)).size),
        "x-goog-storage-class": "STANDARD",
        "cache-control": "private, max-age=0",
        "last-modified": new Date(completed).toUTCString(),
        etag: `"${job.id}-${completed}"`,
        "x-goog-generation": String(completed * 1000),
      });
    }

    const notAccepting = (): Promise<void> =>
      sendXml(ctx, 403, xmlError("AccessDenied", "Access denied.", {
        Details: `The job no longer accepts uploads (status: ${jobs.statusOf(job)}).`,
      }));
    const missingLength = (): Promise<void> =>
      sendXml(ctx, 411, xmlError("MissingContentLength", "You must provide the Content-Length HTTP header."), { connection: "close" });

    if (route === "upload") {
      const length = contentLengthOf(req);
      if (length === undefined) return missingLength();
      if (length > maxUploadBytes) {
        return sendXml(ctx, 413, xmlError("EntityTooLarge", `The upload exceeds the maximum of ${maxUploadBytes} bytes.`), { connection: "close" });
      }
      if (job.status !== "created") return notAccepting();
      const stored = await jobs.storeUpload(ctx, job);
      if (stored === "cut") return;
      if (stored === "closed") return notAccepting();
      return send(ctx, 200, {
        "content-type": "text/html; charset=UTF-8",
        etag: `"${randomBytes(16).toString("hex")}"`,
        "x-goog-generation": String(clock.now() * 1000),
        "x-goog-metageneration": "1",
        "x-goog-stored-content-length": String(stored),
        "x-goog-stored-content-encoding": "identity",
      });
    }

    if (route === "resumable-start") {
      if (contentLengthOf(req) === undefined) return missingLength();
      if (job.status !== "created") return notAccepting();
      await readSmallBody(ctx, 1 << 20);
      const uploadId = `EMU${randomBytes(24).toString("base64url")}`;
      const file = jobs.newFile(job, "part");
      await writeFile(file, "");
      sessions.set(uploadId, { id: uploadId, job, file, persisted: 0, complete: false, busy: null });
      return send(ctx, 201, {
        location: `${job.uploadUrl}&upload_id=${uploadId}`,
        "x-guploader-uploadid": uploadId,
        "content-type": "text/html; charset=UTF-8",
      });
    }

    // Session requests.
    const session = sessions.get(q.get("upload_id") ?? "");
    if (session === undefined || session.job !== job) {
      return sendXml(ctx, 404, xmlError("NoSuchUpload", "The requested upload was not found."));
    }
    if (route === "resumable-cancel") {
      sessions.delete(session.id);
      if (!session.complete) await unlink(session.file).catch(() => undefined);
      return send(ctx, 499, { "content-type": "text/html; charset=UTF-8" });
    }
    const badRequest = (message: string): Promise<void> => sendXml(ctx, 400, xmlError("InvalidArgument", message));
    // Requests on one session are serialised (a status query right after a dropped connection
    // must see what that connection persisted).
    while (session.busy !== null) await session.busy;
    if (!sessions.has(session.id)) return sendXml(ctx, 404, xmlError("NoSuchUpload", "The requested upload was not found."));
    if (session.complete) return sessionResponse(ctx, session);
    if (job.status !== "created") return notAccepting();

    const cr = headerString(req.headers["content-range"])?.trim();
    const length = contentLengthOf(req);
    let start: number;
    let end: number;
    let total: number | undefined;
    if (cr === undefined) {
      // A PUT without Content-Range uploads the whole object.
      if (length === undefined) return missingLength();
      if (length === 0) {
        if (session.persisted !== 0) return badRequest("Invalid request: the upload already has data.");
        await finalizeSession(session);
        return sessionResponse(ctx, session);
      }
      start = 0;
      end = length - 1;
      total = length;
    } else {
      const query = /^bytes \*\/(\d+|\*)$/.exec(cr);
      if (query !== null) {
        if (length !== undefined && length > 0) return badRequest("Invalid request: a status query must have an empty body.");
        if (query[1] !== "*") {
          const t = Number(query[1]);
          if (t === session.persisted) {
            await finalizeSession(session);
          } else if (t < session.persisted) {
            return badRequest(`Invalid request: the total size ${t} is smaller than the ${session.persisted} bytes already received.`);
          }
        }
        return sessionResponse(ctx, session);
      }
      const chunk = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr);
      if (chunk === null) return badRequest(`Invalid Content-Range: ${cr}`);
      start = Number(chunk[1]);
      end = Number(chunk[2]);
      total = chunk[3] === "*" ? undefined : Number(chunk[3]);
      if (end < start || (total !== undefined && end >= total)) return badRequest(`Invalid Content-Range: ${cr}`);
    }
    if (length === undefined) return missingLength();
    if (length !== end - start + 1) {
      return badRequest(`Invalid request: Content-Length ${length} does not match Content-Range bytes ${start}-${end}.`);
    }
    if (start > session.persisted) {
      return badRequest(`Invalid request: the chunk starts at byte ${start} but only ${session.persisted} bytes were received.`);
    }
    const final = total !== undefined && end + 1 === total;
    if (!final && length % RESUMABLE_CHUNK !== 0) {
      return badRequest(
        `Invalid request. The number of bytes uploaded is required to be equal or greater than ${RESUMABLE_CHUNK}, except for the final request (it's recommended to be the exact multiple of ${RESUMABLE_CHUNK}). The received request contained ${length} bytes, which does not meet this requirement.`,
      );
    }
    let release = (): void => undefined;
    session.busy = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      const before = session.persisted;
      const r = await receive(ctx, session.file, { flags: "r+", position: before, skip: before - start });
      if (!r.ok) {
        // Keep what arrived, rounded down to whole 256 KiB units, like GCS.
        const reached = start + r.received;
        session.persisted = Math.max(before, Math.floor(reached / RESUMABLE_CHUNK) * RESUMABLE_CHUNK);
        await truncate(session.file, session.persisted).catch(() => undefined);
        job.uploadedBytes = session.persisted;
        return;
      }
      session.persisted = Math.max(before, end + 1);
      job.uploadedBytes = session.persisted;
      if (final) await finalizeSession(session);
      return sessionResponse(ctx, session);
    } finally {
      session.busy = null;
      release();
    }
  };

  // --- dispatch -----------------------------------------------------------------------------

  let seq = 0;
  const onRequest = (origin: "api" | "storage", req: IncomingMessage, res: ServerResponse): void => {
    const t0 = performance.now();
    const method = (req.method ?? "GET").toUpperCase();
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://emulator.invalid");
    } catch {
      url = new URL("http://emulator.invalid/");
    }
    const route = origin === "api" ? classifyApi(method, url.pathname) : classifyStorage(method, url);
    const entry = logEntry(++seq, origin, method, route, url, req);
    requests.push(entry);
    try {
      opts.onRequest?.(entry);
    } catch {
      // A test hook's failure must not break the emulator.
    }
    const ctx: Ctx = { origin, req, res, url, route, entry, t0, closing: closing.signal };
    req.on("error", () => undefined);
    res.on("error", () => undefined);

    const run = async (): Promise<void> => {
      const action = faults.take(origin, route, method);
      if (action !== undefined && (await applyFault(ctx, action, rate))) return;
      if (origin === "api") await handleApi(api, ctx);
      else await handleStorage(ctx);
    };

    const p = run().catch(async (e: unknown) => {
      if (closed) return;
      if (!res.headersSent && !res.destroyed) {
        ctx.stall = undefined;
        ctx.cut = undefined;
        const detail = `emulator error: ${(e as Error)?.message ?? String(e)}`;
        await sendError(ctx, 500, genericProblem(500, detail), "InternalError", detail).catch(() => undefined);
      } else {
        res.destroy();
      }
    });
    track(p);
  };

  const makeServer = (origin: "api" | "storage"): Server => {
    const server = createServer({ highWaterMark: 1 << 20 } as object, (req, res) => onRequest(origin, req, res));
    server.requestTimeout = 0;
    server.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    server.on("clientError", (_err, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    });
    return server;
  };

  const listen = (server: Server, port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        const addr = server.address();
        resolve(typeof addr === "object" && addr !== null ? addr.port : port);
      });
    });

  const apiServer = makeServer("api");
  const storageServer = makeServer("storage");
  const urlHost = host.includes(":") ? `[${host}]` : host;
  try {
    jobs.apiUrl = `http://${urlHost}:${await listen(apiServer, opts.port ?? 0)}`;
    jobs.storageUrl = `http://${urlHost}:${await listen(storageServer, opts.storagePort ?? 0)}`;
  } catch (e) {
    apiServer.close();
    storageServer.close();
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    throw e;
  }

  const closeServer = (server: Server): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  return {
    apiUrl: jobs.apiUrl,
    storageUrl: jobs.storageUrl,
    token,
    requests,
    jobs: () => jobs.all().map((j) => jobs.info(j)),
    fault: (f: Fault) => faults.add(f),
    clearFaults: () => faults.clear(),
    failJob: (id: string, error?: string) => {
      const job = jobs.mustGet(id);
      job.status = "failed";
      job.error = error ?? "Job failed (forced by the emulator).";
    },
    expireJob: (id: string) => {
      const job = jobs.mustGet(id);
      job.status = "expired";
    },
    close: async () => {
      if (closed) return;
      closed = true;
      closing.abort();
      for (const s of sockets) s.destroy();
      await Promise.all([closeServer(apiServer), closeServer(storageServer)]);
      while (background.size > 0) await Promise.all([...background]);
      if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** HTTP reason phrase helper for callers printing statuses (499 is GCS's "client closed"). */
export function statusText(status: number): string {
  return status === 499 ? "Client Closed Request" : (STATUS_CODES[status] ?? "Unknown");
}
