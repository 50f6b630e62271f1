import type { ComplianceApi } from "../api/client.js";
import { JOB_TYPES, type Job, type JobType } from "../api/schemas.js";
import type { Context } from "../context.js";
import { CliError, ExitCode, UsageError } from "../errors.js";

const ID = /^[0-9]{1,19}$/;

/**
 * `<job>` is an id or a name. Names are not unique ("Currently duplicate names are possible",
 * reference client), so the newest job with that name wins, and we say so when several match.
 */
export async function resolveJob(ctx: Context, api: ComplianceApi, ref: string, type?: JobType): Promise<Job> {
  if (ID.test(ref)) return api.getJob(ref, ctx.signal);
  const types = type ? [type] : [...JOB_TYPES];
  const lists = await Promise.all(types.map((t) => api.listJobs(t, undefined, ctx.signal)));
  const matches = lists.flat().filter((j) => j.name === ref).sort(newestFirst);
  const newest = matches[0];
  if (!newest) {
    throw new UsageError(`no job named ${JSON.stringify(ref)} was found among recent ${types.join(" and ")} jobs; run \`compliant list\` to see job ids and names.`);
  }
  if (matches.length > 1) {
    ctx.log.warn(`${matches.length} jobs are named ${JSON.stringify(ref)}; using the newest, ${newest.id} (created ${newest.created_at})`);
  }
  return newest;
}

export function newestFirst(a: Job, b: Job): number {
  return Date.parse(b.created_at) - Date.parse(a.created_at);
}

export interface JobFilter {
  type?: JobType;
  status?: string;
  name?: string;
}

/** Recent jobs of one type or both (the API takes exactly one type per call), newest first. */
export async function findJobs(ctx: Context, api: ComplianceApi, filter: JobFilter): Promise<{ jobs: Job[]; types: JobType[] }> {
  const types = filter.type ? [filter.type] : [...JOB_TYPES];
  // `expired` is a job status but not an accepted filter value (GET /2/compliance/jobs takes
  // status=created|in_progress|failed|complete, per X's API reference): filter it here.
  const serverStatus = filter.status === "expired" ? undefined : filter.status;
  const lists = await Promise.all(types.map((t) => api.listJobs(t, serverStatus, ctx.signal)));
  const jobs = lists
    .flat()
    .filter((j) => (filter.name === undefined || j.name === filter.name) && (filter.status === undefined || j.status === filter.status))
    .sort(newestFirst);
  return { jobs, types };
}

/** DELETE /2/compliance/jobs/:id where the API offers it; a job that had already ended is exit 4. */
export async function cancelJob(ctx: Context, api: ComplianceApi, ref: string): Promise<Job> {
  const job = await resolveJob(ctx, api, ref);
  // An ended job is answered as it is (a failed one would look cancelled): nothing is sent.
  const ended = job.status === "complete" || job.status === "failed" || job.status === "expired";
  if (ended || !(await api.cancelJob(job.id, ctx.signal))) {
    throw new CliError(`job ${job.id} was not cancelled because it is ${job.status}; only a created or in_progress job can be cancelled.`, ExitCode.refused);
  }
  return job;
}
