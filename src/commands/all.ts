import { Command } from "commander";
import { globals, IDS_FILE, MAX_INTERVAL_S, MAX_TIMEOUT_S, oneOf, positiveInt, RESULTS_FILE, seconds, typeOption, type Define, type Zod } from "./options.js";

const options = (z: Zod) =>
  z
    .object({
      ...globals(z),
      quiet: z.boolean().optional(),
      type: z.enum(["tweets", "users"]),
      name: z.string().optional(),
      idsFile: z.string().optional(),
      resultsFile: z.string().optional(),
      interval: z.number().optional(),
      timeout: z.number().optional(),
      dedupe: z.boolean().optional(),
      maxIdsPerJob: z.number().optional(),
      resumable: z.boolean().optional(),
      waitForActive: z.boolean().optional(),
      force: z.boolean().optional(),
      resume: z.boolean().optional(),
    })
    .transform((o, ctx) => ({ ...o, resultsFile: oneOf(ctx, RESULTS_FILE, o.resultsFile, undefined), idsFile: oneOf(ctx, IDS_FILE, o.idsFile, undefined) }));

/**
 * `compliant all`: validate → create → upload → poll → download → summary (jobs/all.ts); the
 * summary goes to stderr, or with --json to stdout (to stderr when the results themselves do).
 */
export const define: Define = (on) =>
  new Command("all")
    .description("create a job, upload IDs, wait, download the results and print a summary (safe to re-run: it resumes)")
    .addOption(typeOption().makeOptionMandatory())
    .option("-n, --name <name>", "a label for the job")
    .option("-i, --ids-file <path>", "file of Post or user IDs, one per line (- for stdin)")
    .option("-o, --results-file <path>", "where to write the NDJSON results (- for stdout)")
    .option("--interval <seconds>", `seconds between status polls (0.01 to ${MAX_INTERVAL_S}; default 30, 1 with --emulator)`, seconds("--interval", MAX_INTERVAL_S))
    .option("--timeout <seconds>", `stop waiting after this many seconds (exit 7; the next run resumes; 0.01 to ${MAX_TIMEOUT_S}, 7 days)`, seconds("--timeout", MAX_TIMEOUT_S, " (7 days)"))
    .option("--dedupe", "drop repeated IDs before uploading")
    .option("--max-ids-per-job <n>", "split larger inputs into sequential jobs (default: what fits in 128 MB)", positiveInt("--max-ids-per-job"))
    .option("--resumable", "use resumable uploads")
    .option("--wait-for-active", "if a job of this type is already active, wait for it to end, then go on")
    .option("-f, --force", "overwrite an existing results file")
    .option("--no-resume", "ignore saved state and start a new job")
    .addHelpText(
      "after",
      `
Examples:
  compliant all --type tweets --ids-file ids.txt --results-file results.ndjson
  seq 1000 1099 | compliant all --emulator --type users --ids-file - --results-file - | jq .
  # crontab: every night at 03:17, resume-safe, plain timestamped log lines
  17 3 * * * cd /data && compliant all --type tweets --name nightly -i ids.txt -o results.ndjson --force >>compliant.log 2>&1
`,
    )
    .action(
      on(options, async (opts, ctx) => {
        const { runAll } = await import("../jobs/all.js");
        const { summaryText } = await import("../output/render.js");
        const summary = await runAll(ctx, opts);
        if (opts.json && opts.resultsFile !== "-") ctx.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        else if (opts.json) ctx.stderr.write(`${JSON.stringify(summary)}\n`);
        else if (!opts.quiet) ctx.stderr.write(summaryText(summary));
      }),
    );
