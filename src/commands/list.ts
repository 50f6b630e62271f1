import { Command, Option } from "commander";
import { globals, typeOption, type Define, type Zod } from "./options.js";

const STATUSES = ["created", "in_progress", "complete", "failed", "expired"] as const;

const options = (z: Zod) =>
  z.object({
    ...globals(z),
    type: z.enum(["tweets", "users"]).optional(),
    status: z.enum(STATUSES).optional(),
    name: z.string().optional(),
  });

/** `compliant list`: recent jobs of both types (or one), newest first. */
export const define: Define = (on) =>
  new Command("list")
    .description("list recent jobs (both types unless --type is given)")
    .addOption(typeOption())
    .addOption(new Option("-s, --status <status>", "only jobs with this status").choices(STATUSES))
    .option("-n, --name <name>", "only jobs with this name")
    .addHelpText("after", "\nExamples:\n  compliant list\n  compliant list --type users --status complete --json | jq -r '.[].id'\n")
    .action(
      on(options, async (opts, ctx) => {
        const { findJobs } = await import("../jobs/resolve.js");
        const { jobForOutput, jobTable } = await import("../output/render.js");
        const api = await ctx.api();
        const { jobs, types } = await findJobs(ctx, api, opts);
        if (opts.json) {
          ctx.stdout.write(`${JSON.stringify(jobs.map((j) => jobForOutput(j, api.apiOrigin)), null, 2)}\n`);
          return;
        }
        if (jobs.length === 0) {
          ctx.log.info(`no ${types.join(" or ")} jobs${opts.status ? ` with status ${opts.status}` : ""}${opts.name ? ` named ${JSON.stringify(opts.name)}` : ""}`);
          return;
        }
        ctx.stdout.write(jobTable(jobs));
      }),
    );
