import { Command } from "commander";
import { globals, type Define, type Zod } from "./options.js";

const options = (z: Zod) =>
  z.object({ ...globals(z), args: z.tuple([z.string()]) }).transform(({ args: [job], ...o }) => ({ ...o, job }));

/** `compliant cancel <job>`: DELETE /2/compliance/jobs/:id where the API offers it. */
export const define: Define = (on) =>
  new Command("cancel")
    .description("cancel a job (DELETE /2/compliance/jobs/:id, where the API supports it)")
    .argument("<job>", "job id or name")
    .action(
      on(options, async (opts, ctx) => {
        const { cancelJob } = await import("../jobs/resolve.js");
        const job = await cancelJob(ctx, await ctx.api(), opts.job);
        if (opts.json) ctx.stdout.write(`${JSON.stringify({ id: job.id, cancelled: true })}\n`);
        else ctx.log.info(`cancelled job ${job.id}; the API now shows it as failed (it has no cancelled status)`);
      }),
    );
