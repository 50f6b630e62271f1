import { access, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { ComplianceApi } from "../api/client.js";
import { JOB_TYPES, type Job, type JobType } from "../api/schemas.js";
import type { Context } from "../context.js";
import { shown } from "../dataset/output.js";
import { UsageError } from "../errors.js";

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

/** The ID file from `--ids-file` or the positional argument; exactly one of them. */
export function idsFileFrom(option: string | undefined, positional: string | undefined): string {
  if (option !== undefined && positional !== undefined && option !== positional) {
    throw new UsageError(`the ID file was given twice (${positional} and --ids-file ${option}); pass it once.`);
  }
  const path = option ?? positional;
  if (path === undefined) throw new UsageError("no ID file given; pass --ids-file <path>, or - to read IDs from stdin.");
  return path;
}

export function resultsFileFrom(option: string | undefined, positional: string | undefined): string {
  if (option !== undefined && positional !== undefined && option !== positional) {
    throw new UsageError(`the results file was given twice (${positional} and --results-file ${option}); pass it once.`);
  }
  const path = option ?? positional;
  if (path === undefined) throw new UsageError("no results file given; pass --results-file <path>, or - to write the results to stdout.");
  return path;
}

/**
 * Preflight for a results path, before anything is created: its folder must exist, and an
 * existing file is only replaced with --force.
 */
export async function checkResultsPath(cwd: string, path: string, force: boolean | undefined): Promise<string | "-"> {
  if (path === "-") return "-";
  const full = resolve(cwd, path);
  const dir = dirname(full);
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new Error("not a directory");
    await access(dir, 2 /* W_OK */);
  } catch {
    throw new UsageError(`cannot write the results file ${path}: the folder ${dir} does not exist or is not writable; create it or choose another path.`);
  }
  let existing;
  try {
    existing = await stat(full);
  } catch {
    return full;
  }
  if (existing.isDirectory()) throw new UsageError(`the results path ${path} is a folder; give a file name such as ${path.replace(/\/?$/, "/")}results.ndjson.`);
  if (!force) {
    throw new UsageError(`the results file ${path} already exists; pass --force to overwrite it, or choose another path.`);
  }
  return full;
}

/** A results target as shown to the user: `stdout` for `-`, else relative to cwd when inside it. */
export function displayPath(cwd: string, full: string): string {
  return full === "-" ? "stdout" : shown(cwd, full);
}
