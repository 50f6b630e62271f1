// HTTP plumbing shared by both origins: the per-request context, header parsing, responses that
// honour the stall / cut-body faults, and request-body readers (including the drop-upload fault).

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { genericProblem, xmlError, xmlErrorForStatus, type ProblemBody } from "./problems.js";
import type { RateState } from "./rate-limit.js";
import type { RequestLogEntry, RouteKind } from "./types.js";

export const JSON_TYPE = "application/json; charset=utf-8";
export const PROBLEM_TYPE = "application/problem+json";
export const XML_TYPE = "application/xml; charset=UTF-8";
/** Request bodies are written to disk in batches of about this many bytes. */
const WRITE_BATCH = 1 << 20;

/** One request in flight: what it is, where its response goes, and the faults applied to it. */
export interface Ctx {
  origin: "api" | "storage";
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  route: RouteKind;
  entry: RequestLogEntry;
  t0: number;
  /** Aborted when the emulator closes; cuts stalls short. */
  closing: AbortSignal;
  stall?: number;
  cut?: number;
  drop?: number;
  rl?: RateState;
}

type Range = { start: number; end: number } | "unsatisfiable" | undefined;

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString();
}

export function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(", ") : v;
}

function isChunked(req: IncomingMessage): boolean {
  return /\bchunked\b/i.test(headerString(req.headers["transfer-encoding"]) ?? "");
}

export function contentLengthOf(req: IncomingMessage): number | undefined {
  const v = req.headers["content-length"];
  if (v === undefined || isChunked(req)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function mediaType(v: string | undefined): string {
  return (v ?? "").split(";")[0]!.trim().toLowerCase();
}

function parseRange(header: string | undefined, size: number): Range {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === "" && m[2] === "")) return undefined; // multi-range or malformed: full body
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

/** Waits `ms`, or less if the emulator closes meanwhile. */
export function delay(ms: number, closing: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (closing.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      closing.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    closing.addEventListener("abort", done);
  });
}

/** Builds the log entry for a request as it arrives (header values only, never secrets). */
export function logEntry(seq: number, origin: "api" | "storage", method: string, route: RouteKind, url: URL, req: IncomingMessage): RequestLogEntry {
  const entry: RequestLogEntry = {
    seq,
    method,
    origin,
    route,
    path: url.pathname,
    authorization: req.headers.authorization !== undefined,
    chunked: isChunked(req),
    status: 0,
    bytesIn: 0,
  };
  const ct = headerString(req.headers["content-type"]);
  if (ct !== undefined) entry.contentType = ct;
  const cl = contentLengthOf(req);
  if (cl !== undefined) entry.contentLength = cl;
  const range = headerString(req.headers.range);
  if (range !== undefined) entry.range = range;
  const contentRange = headerString(req.headers["content-range"]);
  if (contentRange !== undefined) entry.contentRange = contentRange;
  return entry;
}

// --- responses --------------------------------------------------------------------------------

function baseHeaders(ctx: Ctx): OutgoingHttpHeaders {
  if (ctx.origin === "storage") {
    return { server: "UploadServer", "x-guploader-uploadid": `EMU${randomBytes(12).toString("base64url")}` };
  }
  const h: OutgoingHttpHeaders = {
    server: "compliant-emulator",
    "cache-control": "no-cache, no-store, max-age=0",
    "x-response-time": String(Math.max(1, Math.round(performance.now() - ctx.t0))),
  };
  if (ctx.rl !== undefined) {
    h["x-rate-limit-limit"] = String(ctx.rl.limit);
    h["x-rate-limit-remaining"] = String(ctx.rl.remaining);
    h["x-rate-limit-reset"] = String(ctx.rl.reset);
  }
  return h;
}

function writeHead(ctx: Ctx, status: number, headers: OutgoingHttpHeaders): void {
  ctx.entry.status = status;
  if (status === 499) ctx.res.statusMessage = "Client Closed Request";
  ctx.res.writeHead(status, { ...baseHeaders(ctx), ...headers });
}

/**
 * Runs `work` until it ends or the client's connection closes, whichever comes first. An
 * answer queued behind another on a pipelined connection has no socket of its own yet, and
 * neither its writes nor a pipeline into it ever settle once that connection is gone.
 */
async function untilGone(req: IncomingMessage, work: () => Promise<unknown>, onGone: () => void): Promise<void> {
  const socket = req.socket;
  let listener: (() => void) | undefined;
  const gone = new Promise<void>((resolve) => {
    if (socket.destroyed) return resolve();
    listener = () => resolve();
    socket.once("close", listener);
  });
  try {
    const done = await Promise.race([work().then(() => true, () => true), gone.then(() => false)]);
    if (!done) onGone();
  } finally {
    if (listener) socket.removeListener("close", listener);
  }
}

function writeChunk(res: ServerResponse, chunk: Buffer): Promise<void> {
  return untilGone(
    res.req,
    () => new Promise<void>((resolve) => void res.write(chunk, () => resolve())),
    () => res.destroy(),
  );
}

export async function send(ctx: Ctx, status: number, headers: OutgoingHttpHeaders, body: string | Buffer = ""): Promise<void> {
  const buf = typeof body === "string" ? Buffer.from(body) : body;
  const { res } = ctx;
  if (res.destroyed) return;
  writeHead(ctx, status, { "content-length": buf.length, ...headers });
  if (ctx.stall !== undefined) {
    res.flushHeaders();
    await delay(ctx.stall, ctx.closing);
  }
  if (ctx.cut !== undefined) {
    await writeChunk(res, buf.subarray(0, ctx.cut));
    res.socket?.destroy();
    return;
  }
  if (ctx.req.method === "HEAD") res.end();
  else res.end(buf);
}

export function sendJson(ctx: Ctx, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): Promise<void> {
  return send(ctx, status, { "content-type": status >= 400 ? PROBLEM_TYPE : JSON_TYPE, ...headers }, JSON.stringify(body));
}

export function sendXml(ctx: Ctx, status: number, xml: string, headers: OutgoingHttpHeaders = {}): Promise<void> {
  return send(ctx, status, { "content-type": XML_TYPE, ...headers }, xml);
}

/** An error in the origin's own format: a JSON problem on the API, GCS XML on storage. */
export function sendError(ctx: Ctx, status: number, problem: ProblemBody, xmlCode?: string, xmlMessage?: string): Promise<void> {
  return ctx.origin === "storage"
    ? sendXml(ctx, status, xmlCode !== undefined ? xmlError(xmlCode, xmlMessage ?? "") : xmlErrorForStatus(status))
    : sendJson(ctx, status, problem);
}

/** Serves `file`, honouring a single `Range` request the way GCS does. */
export async function sendFile(ctx: Ctx, file: string, contentType: string, extra: OutgoingHttpHeaders): Promise<void> {
  const { req, res } = ctx;
  const size = (await stat(file)).size;
  const range = parseRange(headerString(req.headers.range), size);
  if (range === "unsatisfiable") {
    const headers = { "content-range": `bytes */${size}` };
    if (ctx.origin === "storage") {
      return sendXml(ctx, 416, xmlError("InvalidRange", "The requested range cannot be satisfied."), headers);
    }
    return sendJson(ctx, 416, genericProblem(416), headers);
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  const length = size === 0 ? 0 : end - start + 1;
  const headers: OutgoingHttpHeaders = {
    "content-type": contentType,
    "content-length": length,
    "accept-ranges": "bytes",
    ...extra,
  };
  if (range !== undefined) headers["content-range"] = `bytes ${start}-${end}/${size}`;
  writeHead(ctx, range !== undefined ? 206 : 200, headers);
  if (ctx.stall !== undefined) {
    res.flushHeaders();
    await delay(ctx.stall, ctx.closing);
  }
  if (req.method === "HEAD" || length === 0) {
    if (ctx.cut !== undefined) res.socket?.destroy();
    else res.end();
    return;
  }
  if (ctx.cut !== undefined) {
    const limit = Math.min(ctx.cut, length);
    if (limit > 0) {
      for await (const chunk of createReadStream(file, { start, end: start + limit - 1 }) as AsyncIterable<Buffer>) {
        if (res.destroyed) break;
        await writeChunk(res, chunk);
      }
    } else {
      res.flushHeaders();
      await writeChunk(res, Buffer.alloc(0));
    }
    res.socket?.destroy();
    return;
  }
  const source = createReadStream(file, { start, end, highWaterMark: 1 << 20 });
  // A pipeline error means the client went away; so does the connection closing first.
  await untilGone(req, () => pipeline(source, res), () => {
    source.destroy();
    res.destroy();
  });
}

// --- GCS-style storage errors shared by the storage routes and resumable sessions --------------

export function sendNoSuchKey(ctx: Ctx): Promise<void> {
  return sendXml(ctx, 404, xmlError("NoSuchKey", "The specified key does not exist."));
}

export function sendMissingLength(ctx: Ctx): Promise<void> {
  return sendXml(ctx, 411, xmlError("MissingContentLength", "You must provide the Content-Length HTTP header."), { connection: "close" });
}

/** 403 for an upload to a job that is no longer `created`; `status` is its current status. */
export function sendNotAccepting(ctx: Ctx, status: string): Promise<void> {
  return sendXml(ctx, 403, xmlError("AccessDenied", "Access denied.", {
    Details: `The job no longer accepts uploads (status: ${status}).`,
  }));
}

// --- request bodies ---------------------------------------------------------------------------

/** Reads a body of at most `limit` bytes; undefined when it is longer. */
export async function readSmallBody(ctx: Ctx, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of ctx.req as AsyncIterable<Buffer>) {
    ctx.entry.bytesIn += c.length;
    total += c.length;
    if (total > limit) return undefined;
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/**
 * Streams the request body into `file` at `position`, skipping its first `skip` bytes (bytes a
 * resumable session already holds). Socket chunks are batched into ~1 MiB `writev` calls, which
 * keeps ingest near loopback speed. With a drop-upload fault, reads `ctx.drop` bytes and
 * destroys the socket. Whatever arrived is written before resolving; ok=false when the body did
 * not arrive completely.
 */
export async function receive(
  ctx: Ctx,
  file: string,
  opts: { flags: string; position: number; skip: number },
): Promise<{ ok: boolean; received: number }> {
  const { req } = ctx;
  const fh = await open(file, opts.flags);
  return new Promise((resolve) => {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let pos = opts.position;
    let writing = false;
    let failed = false;
    let received = 0;
    let ended = false;
    let ok = false;
    let settled = false;
    const finalize = (): void => {
      if (writing || settled) return;
      if (pendingBytes > 0 && !failed) {
        flush();
        return;
      }
      settled = true;
      req.removeListener("data", onData);
      fh.close().then(
        () => resolve({ ok: ok && !failed, received }),
        () => resolve({ ok: false, received }),
      );
    };
    const flush = (): void => {
      const bufs = pending;
      const n = pendingBytes;
      pending = [];
      pendingBytes = 0;
      writing = true;
      fh.writev(bufs, pos)
        .then(
          () => undefined,
          () => {
            failed = true;
            req.socket?.destroy();
          },
        )
        .then(() => {
          writing = false;
          if (ended) finalize();
          else if (req.isPaused()) req.resume();
        });
      pos += n;
    };
    const end = (complete: boolean): void => {
      if (ended) return;
      ended = true;
      ok = complete;
      finalize();
    };
    const onData = (chunk: Buffer): void => {
      if (ended) return;
      let c = chunk;
      let dropNow = false;
      if (ctx.drop !== undefined && received + c.length >= ctx.drop) {
        c = c.subarray(0, Math.max(0, ctx.drop - received));
        dropNow = true;
      }
      const before = received;
      received += c.length;
      ctx.entry.bytesIn += c.length;
      if (before < opts.skip) c = c.subarray(Math.min(c.length, opts.skip - before));
      if (c.length > 0) {
        pending.push(c);
        pendingBytes += c.length;
      }
      if (dropNow) {
        req.socket?.destroy();
        end(false);
        return;
      }
      if (pendingBytes >= WRITE_BATCH) {
        if (writing) req.pause();
        else flush();
      }
    };
    req.on("data", onData);
    req.on("end", () => end(true));
    req.on("error", () => end(false));
    req.on("close", () => end(false));
    if (ctx.drop !== undefined && ctx.drop <= 0) {
      req.socket?.destroy();
      end(false);
    } else if (req.destroyed) {
      // The connection went away while the file was being opened ('close' already fired).
      end(false);
    }
  });
}
