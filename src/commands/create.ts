import type { JobType } from "../api/schemas.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { jobDetails } from "../output/render.js";

export interface CreateOptions {
  type: JobType;
  name?: string;
  resumable?: boolean;
  json?: boolean;
}

/** `compliant create`: prints the new job's id (first line), so `job=$(compliant create …)` works. */
export async function run(opts: CreateOptions, ctx: Context): Promise<void> {
  checkName(opts.name);
  const api = await ctx.api();
  const job = await api.createJob({ type: opts.type, name: opts.name, resumable: opts.resumable }, ctx.signal);
  if (opts.json) {
    ctx.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
    return;
  }
  ctx.stdout.write(`${job.id}\n`);
  if ((ctx.stdout as { isTTY?: boolean }).isTTY) ctx.stdout.write(jobDetails(job));
  ctx.log.info(`created ${job.type} job ${job.id}; upload IDs before ${job.upload_expires_at} (15 minutes): compliant upload ${job.id} <ids-file>`);
}

/**
 * Names are at most 64 characters (`ComplianceJobName` in the spec), counted as Unicode code
 * points, the rule the built-in emulator applies for the API: an emoji is one character, not the
 * two UTF-16 units of a JS string's length.
 */
export function checkName(name: string | undefined): void {
  if (name === undefined) return;
  const length = [...name].length;
  if (length === 0 || length > 64) {
    throw new UsageError(`the job name must be 1–64 characters long (got ${length}); choose a ${length === 0 ? "non-empty" : "shorter"} --name.`);
  }
}
