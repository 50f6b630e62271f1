// The storage origin: a GCS-like bucket behind V4-signed URLs. Checks the signature, the signed
// headers and expiry as GCS does, serves the delivery object, takes single-request uploads of the
// submission object and hands resumable uploads to the session store.

import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { xmlError } from "./problems.js";
import { parseGoogDate, stringToSign, type SignedParams, type UrlSigner } from "./signing.js";
import {
  contentLengthOf,
  headerString,
  send,
  sendFile,
  sendMissingLength,
  sendNoSuchKey,
  sendNotAccepting,
  sendXml,
  type Ctx,
} from "./http-util.js";
import { BUCKETS, EMULATOR_APP_ID, type JobStore } from "./jobs.js";
import type { ResumableSessions } from "./resumable.js";
import type { Clock, RouteKind } from "./types.js";

export interface StorageDeps {
  clock: Clock;
  signer: UrlSigner;
  maxUploadBytes: number;
  jobs: JobStore;
  sessions: ResumableSessions;
}

const STORAGE_RE = /^\/(twttr-tweet-compliance|twttr-user-compliance)\/([0-9]{1,19})\/(submission|delivery)\/([^/]+)$/;

export function classifyStorage(method: string, url: URL): RouteKind {
  const m = STORAGE_RE.exec(url.pathname);
  if (m === null) return "unknown";
  const session = url.searchParams.has("upload_id");
  if (m[3] === "delivery") return !session && (method === "GET" || method === "HEAD") ? "download" : "unknown";
  if (session) return method === "PUT" ? "resumable-chunk" : method === "DELETE" ? "resumable-cancel" : "unknown";
  return method === "PUT" ? "upload" : method === "POST" ? "resumable-start" : "unknown";
}

export async function handleStorage(d: StorageDeps, ctx: Ctx): Promise<void> {
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
  if (route === "unknown" || !d.signer.verify(signedMethod, url.pathname, params, signature)) return mismatch();
  // Signed header values must match what the emulator signed.
  if (route === "upload" || route === "resumable-start") {
    const signed = params.signedHeaders.split(";");
    if (signed.includes("content-type") && headerString(req.headers["content-type"]) !== "text/plain") return mismatch();
    if (signed.includes("x-goog-resumable") && headerString(req.headers["x-goog-resumable"]) !== "start") return mismatch();
    if (route === "resumable-start" && !signed.includes("x-goog-resumable")) return mismatch();
  }
  const sessionRoute = route === "resumable-chunk" || route === "resumable-cancel";
  if (!sessionRoute && d.clock.now() > dateMs + expiresS * 1000) {
    return sendXml(ctx, 400, xmlError("ExpiredToken", "The provided token has expired.", {
      Details: `Request signature expired at: ${new Date(dateMs + expiresS * 1000).toISOString().replace(/\.\d{3}Z$/, "+00:00")}`,
    }));
  }
  const job = d.jobs.get(m[2]!);
  if (job === undefined || BUCKETS[job.type] !== m[1] || m[4] !== `${EMULATOR_APP_ID}_${job.id}`) return sendNoSuchKey(ctx);

  if (route === "download") {
    if (d.jobs.statusOf(job) !== "complete") return sendNoSuchKey(ctx);
    const completed = job.completedMs ?? d.clock.now();
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

  if (route === "upload") {
    const length = contentLengthOf(req);
    if (length === undefined) return sendMissingLength(ctx);
    if (length > d.maxUploadBytes) {
      return sendXml(ctx, 413, xmlError("EntityTooLarge", `The upload exceeds the maximum of ${d.maxUploadBytes} bytes.`), { connection: "close" });
    }
    if (job.status !== "created") return sendNotAccepting(ctx, d.jobs.statusOf(job));
    const stored = await d.jobs.storeUpload(ctx, job);
    if (stored === "cut") return;
    if (stored === "closed") return sendNotAccepting(ctx, d.jobs.statusOf(job));
    return send(ctx, 200, {
      "content-type": "text/html; charset=UTF-8",
      etag: `"${randomBytes(16).toString("hex")}"`,
      "x-goog-generation": String(d.clock.now() * 1000),
      "x-goog-metageneration": "1",
      "x-goog-stored-content-length": String(stored),
      "x-goog-stored-content-encoding": "identity",
    });
  }

  if (route === "resumable-start") return d.sessions.start(ctx, job);
  return d.sessions.handle(ctx, job, q.get("upload_id") ?? "");
}
