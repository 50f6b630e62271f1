import { Command, Option } from "commander";
import { globals, MAX_INTERVAL_S, MAX_TIMEOUT_S, positiveInt, seconds, type Define, type Zod } from "./options.js";

const options = (z: Zod) =>
  z.object({
    ...globals(z),
    quiet: z.boolean().optional(),
    args: z.array(z.string()),
    output: z.string().min(1).optional(),
    inPlace: z.boolean().optional(),
    removed: z.string().min(1).optional(),
    rehydrate: z.string().min(1).optional(),
    resultsDir: z.string().min(1).optional(),
    ledger: z.string().min(1).optional(),
    interval: z.number().optional(),
    timeout: z.number().optional(),
    maxIdsPerJob: z.number().optional(),
    waitForActive: z.boolean().optional(),
    force: z.boolean().optional(),
    format: z.enum(["jsonl", "csv"]).optional(),
    idColumn: z.string().min(1, { error: "--id-column needs a column name" }).optional(),
    userColumn: z.string().min(1, { error: "--user-column needs a column name" }).optional(),
  });

/** `compliant sync <dataset>`: both jobs, both result sets applied, one ledger line (jobs/sync.ts). */
export const define: Define = (on) =>
  new Command("sync")
    .description("keep an archive compliant in one run: check every Post and user in it (two jobs at once), remove and scrub what must go, and record it in a ledger")
    .argument("<dataset...>", "the dataset (any format `compliant apply` reads: a file, several files or a folder)")
    .option("-o, --output <path>", "where to write the clean dataset (a folder for several files or a folder)")
    .option("--in-place", "replace the dataset (one file) with its clean copy, atomically, once everything succeeded")
    .option("--removed <path>", "also write what was removed to this file, for audit")
    .option("--rehydrate <path>", "also list the IDs of Posts that were edited (action rehydrate), one per line, to fetch them again")
    .option("--results-dir <dir>", "keep both results files in this folder (default: results/ in the state folder)")
    .option("--ledger <file>", "append the ledger line here (default: compliance-ledger.jsonl beside the output)")
    .option("--interval <seconds>", `seconds between status polls (0.01 to ${MAX_INTERVAL_S}; default 30, 1 with --emulator)`, seconds("--interval", MAX_INTERVAL_S))
    .option("--timeout <seconds>", `stop waiting after this many seconds (exit 7; the next run resumes; 0.01 to ${MAX_TIMEOUT_S}, 7 days)`, seconds("--timeout", MAX_TIMEOUT_S, " (7 days)"))
    .option("--max-ids-per-job <n>", "split larger ID sets into sequential jobs of each type", positiveInt("--max-ids-per-job"))
    .option("--wait-for-active", "if a job of a type is already active, wait for it to end, then go on")
    .option("-f, --force", "overwrite an existing output (or --removed) file, or write into a non-empty output folder")
    .addOption(new Option("--format <format>", "dataset format (default: detected per file)").choices(["jsonl", "csv"]))
    .option("--id-column <name>", "CSV: the column holding the Post ID (default: detected)")
    .option("--user-column <name>", "CSV: the column holding the author's user ID (default: detected)")
    .addHelpText(
      "after",
      `
What it does:
  1. reads the dataset once and collects every Post ID and every user ID in it (top level,
     includes, embedded and referenced copies, authors);
  2. runs a tweets job and a users job at the same time, with everything \`all\` guarantees
     (resume after a crash, no duplicate jobs, retries, --timeout, signals);
  3. applies both result sets in one pass: Posts with a delete event go; Posts whose author has
     a delete event (deleted, suspended, protected, deactivated, …) go; those users go from
     includes and embedded copies; geo is scrubbed per scrub_geo; nested copies follow apply's rules;
  4. appends one JSON line to the ledger (what was checked and done, with SHA-256 of the dataset
     and the output). A run that cannot write the ledger fails.
Run the same command again after a crash: it resumes, and never starts a second job of a type.

Examples:
  compliant sync archive.jsonl -o archive.clean.jsonl
  compliant sync --emulator archive.jsonl.gz --in-place --removed removed.jsonl.gz
  # crontab: every night at 03:17
  17 3 * * * cd /data && compliant sync archive.jsonl.gz --in-place >>compliant.log 2>&1
`,
    )
    .action(
      on(options, async (opts, ctx) => {
        const { runSync, syncText } = await import("../jobs/sync.js");
        const summary = await runSync(ctx, opts);
        if (opts.json) ctx.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        else if (!opts.quiet) ctx.stderr.write(syncText(summary));
      }),
    );
