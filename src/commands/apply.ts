import { Command, Option } from "commander";
import { globals, type Define, type Zod } from "./options.js";

const datasetType = (what: string) => new Option("-t, --type <type>", what).choices(["tweets", "users"]).default("tweets");

const options = (z: Zod) =>
  z.object({
    ...globals(z),
    args: z.array(z.string()),
    results: z.string({ error: "pass the results file with --results <path>" }).min(1),
    type: z.enum(["tweets", "users"]),
    output: z.string().min(1).optional(),
    removed: z.string().min(1).optional(),
    rehydrate: z.string().min(1).optional(),
    force: z.boolean().optional(),
    strict: z.boolean().optional(),
    skipInvalid: z.boolean().optional(),
    format: z.enum(["jsonl", "csv"]).optional(),
    idColumn: z.string().min(1, { error: "--id-column needs a column name" }).optional(),
    userColumn: z.string().min(1, { error: "--user-column needs a column name" }).optional(),
  });

/** `compliant apply --results <r> <dataset>`: a cleaned copy of the dataset (jobs/apply.ts). */
export const define: Define = (on) =>
  new Command("apply")
    .description("write a copy of a dataset without the records that must be deleted, and with geo removed where scrub_geo applies")
    .argument("<dataset...>", "the dataset (any format `compliant ids` reads), or - for stdin (then -o defaults to -); several files or a folder are written to the same names in the -o folder")
    .requiredOption("-r, --results <path>", "results file from `compliant download` (or - for stdin)")
    .addOption(datasetType("what the results are about: Posts, or users (a user's Posts go with the user)"))
    .option("-o, --output <path>", "where to write the cleaned dataset, or - for stdout (default: <name>.compliant<ext> beside the dataset); a folder for several files or a folder (default <folder>.compliant)")
    .option("--removed <path>", "also write what was dropped to this file, for audit")
    .option("--rehydrate <path>", "also list the IDs of records whose Post was edited (action rehydrate), one per line, to fetch them again")
    .option("-f, --force", "overwrite existing output, --removed or --rehydrate files")
    .option("--strict", "refuse (exit 4, nothing written) if the results contain actions this version does not know")
    .option("--skip-invalid", "keep invalid dataset lines as they are (warned on stderr) instead of failing")
    .addOption(new Option("--format <format>", "dataset format (default: detected: csv for a .csv/.csv.gz name or a CSV header line, else JSON Lines)").choices(["jsonl", "csv"]))
    .option("--id-column <name>", "CSV: the column holding the Post ID (default: detected, e.g. id or status_id)")
    .option("--user-column <name>", "CSV: the column holding the author's user ID, for --type users (default: detected, e.g. author_id or user_id)")
    .addHelpText(
      "after",
      `
Rules: action "delete" removes the record (whatever the reason); action "scrub_geo", or reason
"scrub_geo"/"geo_scrubbed" with another action, removes geo, coordinates and place; action
"rehydrate" (an edited Post) keeps the record as stored and lists its ID with --rehydrate; other
actions are reported and left untouched. When an ID has several lines the most severe wins
(delete > scrub_geo > rehydrate). Error records (invalid_id) are counted, never applied. Records that are kept
are copied byte for byte (CSV rows too: same quoting and line ends; a scrub empties a row's geo
columns, and a retweet row goes with the Post it retweets); the output is written to <out>.partial and renamed when complete, and
the dataset itself is never modified. --json (global) prints the summary as JSON on stdout when
the output is a file. A JSON array keeps its layout (dropped elements go with their comma).
Several files or a folder: the output folder must be new or empty (or --force); it is built in
<out>.partial/ and renamed when every file is complete. An academictwitteR folder keeps its
layout: data_<id>.json without the removed Posts, users_<id>.json without their includes.

Examples:
  compliant apply --results results.ndjson archive.jsonl
  compliant apply -r users.ndjson --type users archive.jsonl -o archive.clean.jsonl --removed removed.jsonl
  zcat archive.jsonl.gz | compliant apply -r results.ndjson - | gzip > archive.clean.jsonl.gz
  compliant apply -r results.ndjson academictwitter-folder/ -o academictwitter-clean/
  compliant apply -r results.ndjson tweets.csv --removed removed.csv
`,
    )
    .action(on(options, async (opts, ctx) => (await import("../jobs/apply.js")).run(opts, ctx)));
