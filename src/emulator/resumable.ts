// GCS resumable upload sessions on the storage origin: a POST starts a session, PUTs with
// Content-Range add 256 KiB-multiple chunks (or query the status with `bytes */total`), a DELETE
// cancels it. A dropped chunk keeps what arrived, rounded down to whole 256 KiB units, as GCS does.

import type { OutgoingHttpHeaders } from "node:http";
import { randomBytes } from "node:crypto";
import { rename, truncate, unlink, writeFile } from "node:fs/promises";
import { xmlError } from "./problems.js";
import {
  contentLengthOf,
  headerString,
  readSmallBody,
  receive,
  send,
  sendMissingLength,
  sendNotAccepting,
  sendXml,
  type Ctx,
} from "./http-util.js";
import type { Job, JobStore } from "./jobs.js";

/** Every chunk but the last must be a multiple of this many bytes. */
export const RESUMABLE_CHUNK = 262_144;

interface Session {
  id: string;
  job: Job;
  file: string;
  persisted: number;
  complete: boolean;
  /** The chunk request currently writing, if any; later requests wait for it. */
  busy: Promise<void> | null;
}

export class ResumableSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly jobs: JobStore) {}

  /** POST with `x-goog-resumable: start` (already verified): opens a session for `job`. */
  async start(ctx: Ctx, job: Job): Promise<void> {
    if (contentLengthOf(ctx.req) === undefined) return sendMissingLength(ctx);
    if (job.status !== "created") return sendNotAccepting(ctx, this.jobs.statusOf(job));
    await readSmallBody(ctx, 1 << 20);
    const uploadId = `EMU${randomBytes(24).toString("base64url")}`;
    const file = this.jobs.newFile(job, "part");
    await writeFile(file, "");
    this.sessions.set(uploadId, { id: uploadId, job, file, persisted: 0, complete: false, busy: null });
    return send(ctx, 201, {
      location: `${job.uploadUrl}&upload_id=${uploadId}`,
      "x-guploader-uploadid": uploadId,
      "content-type": "text/html; charset=UTF-8",
    });
  }

  /** A PUT (chunk or status query) or DELETE on the session `uploadId` of `job`. */
  async handle(ctx: Ctx, job: Job, uploadId: string): Promise<void> {
    const { req, route } = ctx;
    const session = this.sessions.get(uploadId);
    if (session === undefined || session.job !== job) {
      return sendXml(ctx, 404, xmlError("NoSuchUpload", "The requested upload was not found."));
    }
    if (route === "resumable-cancel") {
      this.sessions.delete(session.id);
      if (!session.complete) await unlink(session.file).catch(() => undefined);
      return send(ctx, 499, { "content-type": "text/html; charset=UTF-8" });
    }
    const badRequest = (message: string): Promise<void> => sendXml(ctx, 400, xmlError("InvalidArgument", message));
    // Requests on one session are serialised (a status query right after a dropped connection
    // must see what that connection persisted).
    while (session.busy !== null) await session.busy;
    if (!this.sessions.has(session.id)) return sendXml(ctx, 404, xmlError("NoSuchUpload", "The requested upload was not found."));
    if (session.complete) return sessionResponse(ctx, session);
    if (job.status !== "created") return sendNotAccepting(ctx, this.jobs.statusOf(job));

    const cr = headerString(req.headers["content-range"])?.trim();
    const length = contentLengthOf(req);
    let start: number;
    let end: number;
    let total: number | undefined;
    if (cr === undefined) {
      // A PUT without Content-Range uploads the whole object.
      if (length === undefined) return sendMissingLength(ctx);
      if (length === 0) {
        if (session.persisted !== 0) return badRequest("Invalid request: the upload already has data.");
        await this.finalize(session);
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
            await this.finalize(session);
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
    if (length === undefined) return sendMissingLength(ctx);
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
      if (final) await this.finalize(session);
      return sessionResponse(ctx, session);
    } finally {
      session.busy = null;
      release();
    }
  }

  /** The session has all its bytes: they become the job's IDs (if it still takes uploads). */
  private async finalize(s: Session): Promise<void> {
    s.complete = true;
    const job = s.job;
    if (job.status !== "created") return;
    await rename(s.file, job.uploadFile);
    this.jobs.markUploaded(job, s.persisted);
  }
}

/** 200 once the session is complete, else 308 with the `range` GCS holds. */
function sessionResponse(ctx: Ctx, s: Session): Promise<void> {
  if (s.complete) return send(ctx, 200, { "x-goog-stored-content-length": String(s.persisted), "content-type": "text/html; charset=UTF-8" });
  const headers: OutgoingHttpHeaders = { "content-type": "text/html; charset=UTF-8" };
  if (s.persisted > 0) headers.range = `bytes=0-${s.persisted - 1}`;
  return send(ctx, 308, headers);
}
