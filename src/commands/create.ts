import { Command } from "commander";
import { globals, typeOption, type Define, type Zod } from "./options.js";

const options = (z: Zod) =>
  z.object({
    ...globals(z),
    type: z.enum(["tweets", "users"]),
    name: z.string().optional(),
    resumable: z.boolean().optional(),
  });

/** `compliant create`: prints the new job's id (first line), so `job=$(compliant create …)` works. */
export const define: Define = (on) =>
  new Command("create")
    .description("create a compliance job and print it (its id first)")
    .addOption(typeOption().makeOptionMandatory())
    .option("-n, --name <name>", "a label for the job (at most 64 characters)")
    .option("--resumable", "ask for a resumable upload URL (for very large or flaky uploads)")
    .addHelpText("after", "\nExample:\n  job=$(compliant create --type tweets --name nightly) && compliant upload \"$job\" ids.txt\n")
    .action(
      on(options, async (opts, ctx) => {
        const { checkName, createJob } = await import("../jobs/create.js");
        const { jobDetails, jobForOutput } = await import("../output/render.js");
        checkName(opts.name);
        const api = await ctx.api();
        const job = await createJob(ctx, api, { type: opts.type, name: opts.name, resumable: opts.resumable });
        if (opts.json) {
          ctx.stdout.write(`${JSON.stringify(jobForOutput(job, api.apiOrigin), null, 2)}\n`);
          return;
        }
        ctx.stdout.write(`${job.id}\n`);
        if ((ctx.stdout as { isTTY?: boolean }).isTTY) ctx.stdout.write(jobDetails(job));
        ctx.log.info(`created ${job.type} job ${job.id}; upload IDs before ${job.upload_expires_at} (15 minutes): compliant upload ${job.id} <ids-file>`);
      }),
    );
