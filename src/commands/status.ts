import type { Job } from "../api/schemas.js";
import type { Context } from "../context.js";
import { JobEndedError } from "../errors.js";
import { forTerminal } from "../output/escape.js";
import { jobDetails } from "../output/render.js";
import { waitForJob } from "../poll.js";
import { resolveJob } from "./shared.js";

export interface StatusOptions {
  args: string[];
  wait?: boolean;
  interval?: number;
  timeout?: number;
  json?: boolean;
  emulator?: boolean;
}

/** `compliant status <job> [--wait]`. With --wait a failed or expired job exits 6. */
export async function run(opts: StatusOptions, ctx: Context): Promise<void> {
  const api = await ctx.api();
  let job = await resolveJob(ctx, api, opts.args[0]!);
  if (opts.wait) {
    job = await waitForJob(api, job.id, {
      first: job,
      intervalMs: defaultIntervalMs(opts.interval, opts.emulator),
      timeoutMs: opts.timeout !== undefined ? opts.timeout * 1000 : undefined,
      signal: ctx.signal,
      onPoll: (j, changed) => (changed ? ctx.log.info(`job ${j.id} is ${forTerminal(j.status)}`) : ctx.log.progress(`job ${j.id} is still ${forTerminal(j.status)}`)),
      onSlowDown: (ms) => ctx.log.debug(`polling every ${Math.round(ms / 1000)} s to stay within the rate limit`),
    });
  }
  print(job, opts, ctx);
  if (opts.wait) assertComplete(job);
}

function print(job: Job, opts: StatusOptions, ctx: Context): void {
  ctx.stdout.write(opts.json ? `${JSON.stringify(job, null, 2)}\n` : jobDetails(job));
}

/** Seconds between polls: --interval, else 30 s (the reference client's pace), 1 s on the emulator. */
export function defaultIntervalMs(interval: number | undefined, emulator: boolean | undefined): number {
  return (interval ?? (emulator ? 1 : 30)) * 1000;
}

export function assertComplete(job: Job): void {
  if (job.status === "failed") {
    throw new JobEndedError(`job ${job.id} failed${job.error ? ` (${forTerminal(job.error)})` : ""}; check the ID file (one ${job.type === "users" ? "user" : "Post"} ID per line) and run it again as a new job.`);
  }
  if (job.status === "expired") {
    throw new JobEndedError(`job ${job.id} expired${job.error ? ` (${forTerminal(job.error)})` : ""} before it completed; create a new job and upload the IDs within 15 minutes.`);
  }
}
