import type { ComplianceApi } from "../api/client.js";
import type { Job } from "../api/schemas.js";
import type { Context } from "../context.js";
import { CliError, ExitCode, UsageError } from "../errors.js";
import { prepareIds, type IdPart, type PreparedIds } from "../io/ids.js";
import { idCount, transferText } from "../output/render.js";
import { idsFileFrom, resolveJob } from "./shared.js";

export interface UploadCommandOptions {
  args: string[];
  idsFile?: string;
  dedupe?: boolean;
  json?: boolean;
}

/** `compliant upload <job> <ids-file>`: validates the whole file first, then uploads it. */
export async function run(opts: UploadCommandOptions, ctx: Context): Promise<void> {
  const path = idsFileFrom(opts.idsFile, opts.args[1]);
  const ids = await validateIds(path, ctx, { dedupe: opts.dedupe });
  try {
    if (ids.parts.length > 1) {
      throw new UsageError(`the ID file ${ids.source} is too large for one job (${ids.uploadBytes} bytes, more than 128 MB); use \`compliant all\`, which splits it across jobs.`);
    }
    const api = await ctx.api();
    const job = await resolveJob(ctx, api, opts.args[0]!);
    checkUploadable(job, Date.now());
    await uploadPart(api, job, ids, ids.parts[0]!, ctx);
    if (opts.json) ctx.stdout.write(`${JSON.stringify({ id: job.id, ids: ids.ids, bytes: ids.uploadBytes, duplicates: ids.duplicates })}\n`);
    ctx.log.info(`next: compliant status ${job.id} --wait, then compliant download ${job.id} <results-file>`);
  } finally {
    await ids.cleanup();
  }
}

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

/** Upload URLs live 15 minutes and are never refreshed: check before sending. */
export function checkUploadable(job: Job, nowMs: number): void {
  if (job.status !== "created") {
    throw new CliError(`job ${job.id} is ${job.status}, so it no longer takes an upload; create a new job with \`compliant create --type ${job.type}\`.`, ExitCode.refused);
  }
  if (Date.parse(job.upload_expires_at) <= nowMs) {
    throw new CliError(`the upload URL of job ${job.id} expired at ${job.upload_expires_at} (upload URLs last 15 minutes); create a new job with \`compliant create --type ${job.type}\` and upload again.`, ExitCode.refused);
  }
}

export async function uploadPart(
  api: ComplianceApi,
  job: Job,
  ids: PreparedIds,
  part: IdPart,
  ctx: Context,
  session?: { uri?: string; save?: (uri: string) => void },
): Promise<void> {
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
