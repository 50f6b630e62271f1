import { Command } from "commander";
import { globals, MAX_INTERVAL_S, MAX_TIMEOUT_S, seconds, type Define, type Zod } from "./options.js";

const options = (z: Zod) =>
  z
    .object({
      ...globals(z),
      args: z.tuple([z.string()]),
      wait: z.boolean().optional(),
      interval: z.number().optional(),
      timeout: z.number().optional(),
    })
    .transform(({ args: [job], ...o }) => ({ ...o, job }));

/** `compliant status <job> [--wait]`. With --wait a failed or expired job exits 6. */
export const define: Define = (on) =>
  new Command("status")
    .description("show one job; with --wait, poll until it is complete, failed or expired")
    .argument("<job>", "job id, or job name (the newest job with that name)")
    .option("-w, --wait", "poll until the job is complete, failed or expired (exit 6 if it failed or expired)")
    .option("-i, --interval <seconds>", `seconds between polls with --wait (0.01 to ${MAX_INTERVAL_S})`, seconds("--interval", MAX_INTERVAL_S))
    .option("--timeout <seconds>", `give up waiting after this many seconds (exit 7; 0.01 to ${MAX_TIMEOUT_S}, 7 days)`, seconds("--timeout", MAX_TIMEOUT_S, " (7 days)"))
    .addHelpText("after", "\nExamples:\n  compliant status 1460694452490674183\n  compliant status nightly --wait --interval 60 --timeout 7200\n")
    .action(
      on(options, async (opts, ctx) => {
        const { resolveJob } = await import("../jobs/resolve.js");
        const { assertComplete, defaultIntervalMs, waitForJob } = await import("../jobs/poll.js");
        const { forTerminal } = await import("../output/escape.js");
        const { jobDetails, jobForOutput } = await import("../output/render.js");
        const api = await ctx.api();
        let job = await resolveJob(ctx, api, opts.job);
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
        ctx.stdout.write(opts.json ? `${JSON.stringify(jobForOutput(job, api.apiOrigin), null, 2)}\n` : jobDetails(job));
        if (opts.wait) assertComplete(job);
      }),
    );
