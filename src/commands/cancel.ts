import type { Context } from "../context.js";
import { CliError, ExitCode } from "../errors.js";
import { resolveJob } from "./shared.js";

export interface CancelOptions {
  args: string[];
  json?: boolean;
}

/** `compliant cancel <job>`: DELETE /2/compliance/jobs/:id where the API offers it. */
export async function run(opts: CancelOptions, ctx: Context): Promise<void> {
  const api = await ctx.api();
  const job = await resolveJob(ctx, api, opts.args[0]!);
  if (!(await api.cancelJob(job.id, ctx.signal))) {
    throw new CliError(`job ${job.id} was not cancelled because it is ${job.status}; only a created or in_progress job can be cancelled.`, ExitCode.refused);
  }
  if (opts.json) ctx.stdout.write(`${JSON.stringify({ id: job.id, cancelled: true })}\n`);
  else ctx.log.info(`cancelled job ${job.id}`);
}
