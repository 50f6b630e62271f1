import type { ComplianceApi } from "../api/client.js";
import type { Job } from "../api/schemas.js";
import type { Context } from "../context.js";
import { CliError, ExitCode, UsageError } from "../errors.js";
import { prepareIds, type IdPart, type PreparedIds } from "../io/ids.js";
import { idCount, transferText } from "../output/render.js";
import { resolveJob } from "./resolve.js";

/** One streaming validation pass with a progress line; reports what it found. */
export async function validateIds(path: string, ctx: Context, opts: { dedupe?: boolean; maxIdsPerJob?: number }): Promise<PreparedIds> {
  const started = Date.now();
  ctx.log.progress(`checking ${path === "-" ? "IDs from stdin" : path}`);
  const ids = await prepareIds(path, {
    dedupe: opts.dedupe,
    maxIdsPerJob: opts.maxIdsPerJob,
    signal: ctx.signal,
    stdin: ctx.stdin,
    onProgress: ({ bytes, ids }) => ctx.log.progress(() => `checking ${path === "-" ? "stdin" : path}: ${ids.toLocaleString("en-US")} IDs, ${transferText(bytes, undefined, started, Date.now())}`),
  });
  const notes = [idCount(ids.ids)];
  if (ids.blankLines) notes.push(`${ids.blankLines} blank line${ids.blankLines === 1 ? "" : "s"} skipped`);
  if (ids.duplicates) notes.push(`${ids.duplicates.toLocaleString("en-US")} duplicate${ids.duplicates === 1 ? "" : "s"}${opts.dedupe ? " removed" : " kept (pass --dedupe to drop them)"}`);
  if (ids.parts.length > 1) notes.push(`split into ${ids.parts.length} jobs`);
  ctx.log.info(`checked ${ids.source}: ${notes.join(", ")}`);
  return ids;
}

/** A job that no longer takes an upload: not `created` any more. */
export class NotUploadableError extends CliError {
  constructor(readonly job: Job) {
    super(`job ${job.id} is ${job.status}, so it no longer takes an upload; create a new job with \`compliant create --type ${job.type}\`.`, ExitCode.refused);
  }
}

/** A job whose upload URL expired (they last 15 minutes and are never renewed): only a new job helps. */
export class UploadUrlExpiredError extends CliError {
  constructor(readonly job: Job) {
    super(`the upload URL of job ${job.id} expired at ${job.upload_expires_at} (upload URLs last 15 minutes); create a new job with \`compliant create --type ${job.type}\` and upload again.`, ExitCode.refused);
  }
}

/**
 * The job's upload URL now points at another host than when the job was created (as one did in
 * September 2026, when X moved uploads off storage.googleapis.com): the IDs are not sent after it.
 */
export class UploadHostChangedError extends CliError {
  constructor(readonly job: Job, was: string) {
    const now = (() => {
      try {
        return new URL(job.upload_url).origin;
      } catch {
        return "an address that is not a URL";
      }
    })();
    super(
      `the upload URL of job ${job.id} points at ${now} now, not at ${was} as when the job was created, so its IDs were not sent there; the job is left to expire unused. Run the same command with --no-resume to start a new job for these IDs.`,
      ExitCode.refused,
    );
  }
}

/** Upload URLs live 15 minutes and are never refreshed: check before sending. */
export function checkUploadable(job: Job, nowMs: number): void {
  if (job.status !== "created") throw new NotUploadableError(job);
  if (Date.parse(job.upload_expires_at) <= nowMs) throw new UploadUrlExpiredError(job);
}

/** Where a resumable upload's session is kept, so a later run continues it. */
export interface UploadSession {
  uri?: string;
  save?: (uri: string) => void;
}

/** Uploads one part of a prepared ID file to a job, with a progress line. */
export async function uploadPart(api: ComplianceApi, job: Job, ids: PreparedIds, part: IdPart, ctx: Context, session?: UploadSession): Promise<void> {
  const started = Date.now();
  const label = `uploading ${idCount(part.ids)} to job ${job.id}`;
  ctx.log.progress(label);
  await api.uploadIds(job, { path: ids.uploadPath, start: part.start, end: part.end }, {
    signal: ctx.signal,
    sessionUri: session?.uri,
    onSession: session?.save,
    onProgress: (sent, total) => ctx.log.progress(() => `${label}: ${transferText(sent, total, started, Date.now())}`),
  });
  ctx.log.info(`uploaded ${idCount(part.ids)} (${part.bytes.toLocaleString("en-US")} bytes) to job ${job.id}`);
}

/**
 * `compliant upload` and the library's uploadIds: validates the whole ID file, then uploads it to
 * a job that still takes it (`job` is an id or name, or a getter for the library's Job argument).
 * A file too large for one job is refused, `tooLarge` saying what to use instead.
 */
export async function uploadFile(
  ctx: Context,
  path: string,
  opts: { job: string | ((api: ComplianceApi) => Promise<Job>); dedupe?: boolean; tooLarge: string },
): Promise<{ job: Job; ids: { ids: number; uploadBytes: number; duplicates: number } }> {
  const ids = await validateIds(path, ctx, { dedupe: opts.dedupe });
  try {
    if (ids.parts.length > 1) {
      throw new UsageError(`the ID file ${ids.source} is too large for one job (${ids.uploadBytes} bytes, more than 128 MB); ${opts.tooLarge}.`);
    }
    const api = await ctx.api();
    const job = typeof opts.job === "string" ? await resolveJob(ctx, api, opts.job) : await opts.job(api);
    checkUploadable(job, Date.now());
    await uploadPart(api, job, ids, ids.parts[0]!, ctx);
    return { job, ids: { ids: ids.ids, uploadBytes: ids.uploadBytes, duplicates: ids.duplicates } };
  } finally {
    await ids.cleanup();
  }
}
