import { JOB_TYPES, type JobType } from "../api/schemas.js";
import type { Context } from "../context.js";
import { jobTable } from "../output/render.js";
import { newestFirst } from "./shared.js";

export interface ListOptions {
  type?: JobType;
  status?: string;
  name?: string;
  json?: boolean;
}

/** `compliant list`: one call per type (the API takes exactly one), newest first. */
export async function run(opts: ListOptions, ctx: Context): Promise<void> {
  const api = await ctx.api();
  const types = opts.type ? [opts.type] : [...JOB_TYPES];
  // `expired` is a job status but not an accepted filter value (GET /2/compliance/jobs takes
  // status=created|in_progress|failed|complete, per X's API reference): filter it here.
  const serverStatus = opts.status === "expired" ? undefined : opts.status;
  const lists = await Promise.all(types.map((t) => api.listJobs(t, serverStatus, ctx.signal)));
  const jobs = lists
    .flat()
    .filter((j) => (opts.name === undefined || j.name === opts.name) && (opts.status === undefined || j.status === opts.status))
    .sort(newestFirst);
  if (opts.json) {
    ctx.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
    return;
  }
  if (jobs.length === 0) {
    ctx.log.info(`no ${types.join(" or ")} jobs${opts.status ? ` with status ${opts.status}` : ""}${opts.name ? ` named ${JSON.stringify(opts.name)}` : ""}`);
    return;
  }
  ctx.stdout.write(jobTable(jobs));
}
