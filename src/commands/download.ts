import { Command } from "commander";
import { globals, oneOf, RESULTS_FILE, type Define, type Zod } from "./options.js";

const options = (z: Zod) =>
  z
    .object({
      ...globals(z),
      args: z.tuple([z.string(), z.string().optional()]),
      resultsFile: z.string().optional(),
      force: z.boolean().optional(),
    })
    .transform(({ args: [job, file], ...o }, ctx) => ({ ...o, job, resultsFile: oneOf(ctx, RESULTS_FILE, o.resultsFile, file) }));

/** `compliant download <job> <results-file|->`: streams, validates, and renames into place. */
export const define: Define = (on) =>
  new Command("download")
    .description("download a complete job's results (NDJSON) to a file or stdout")
    .argument("<job>", "job id or name")
    .argument("[results-file]", "where to write the results (same as --results-file)")
    .option("-o, --results-file <path>", "results file, or - for stdout")
    .option("-f, --force", "overwrite an existing results file")
    .addHelpText("after", "\nExamples:\n  compliant download nightly results.ndjson\n  compliant download nightly - | jq -r 'select(.action==\"delete\") | .id'\n")
    .action(
      on(options, async (opts, ctx) => {
        const { resultsTarget, targetName } = await import("../io/target.js");
        const { resolveJob } = await import("../jobs/resolve.js");
        const { downloadJob, downloadSummary } = await import("../jobs/download.js");
        const { countsTable, idCount } = await import("../output/render.js");
        const target = await resultsTarget(ctx.cwd, opts.resultsFile, opts.force);
        const api = await ctx.api();
        const job = await resolveJob(ctx, api, opts.job);
        const stats = await downloadJob(ctx, api, job, target, { force: opts.force, notYet: `run \`compliant status ${job.id} --wait\` first` });
        if (opts.json && target.kind !== "stdout") {
          ctx.stdout.write(`${JSON.stringify(downloadSummary(job, targetName(target), stats))}\n`);
        } else {
          ctx.log.info(`${idCount(stats.events)} need${stats.events === 1 ? "s" : ""} action${stats.events ? "\n" + countsTable("by reason", stats.byReason).trimEnd() : ""}`);
        }
      }),
    );
