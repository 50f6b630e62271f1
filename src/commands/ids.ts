import { Command, Option } from "commander";
import { type Define, type Zod } from "./options.js";

const datasetType = (what: string) => new Option("-t, --type <type>", what).choices(["tweets", "users"]).default("tweets");

const FIELD = /^[^.\s]+(\.[^.\s]+)*$/;

const options = (z: Zod) =>
  z.object({
    args: z.array(z.string()),
    type: z.enum(["tweets", "users"]),
    field: z
      .string()
      .optional()
      .refine((f) => f === undefined || FIELD.test(f), { error: "--field must be a dot path such as data.id or user.id_str" }),
    unique: z.boolean().optional(),
    skipInvalid: z.boolean().optional(),
    format: z.enum(["jsonl", "csv"]).optional(),
    idColumn: z.string().min(1, { error: "--id-column needs a column name" }).optional(),
    userColumn: z.string().min(1, { error: "--user-column needs a column name" }).optional(),
  });

/** `compliant ids <dataset>`: the Post or user IDs of a dataset, one per line (jobs/ids.ts). */
export const define: Define = (on) =>
  new Command("ids")
    .description("print the Post or user IDs of a dataset, one per line, ready for `compliant all --ids-file -`")
    .argument("<dataset...>", "plain ID list, JSON Lines of v2 Posts, v2 API response pages (twarc2), v1.1 Posts or user objects, a JSON array of them, or CSV with a header (twarc-csv, Hydrator, 4CAT, rtweet); - for stdin; several files, or a folder (of such files, or academictwitteR's data_<id>.json/users_<id>.json)")
    .addOption(datasetType("which IDs: Post IDs, or user/author IDs"))
    .option("--field <path>", "take IDs from this dot path instead (e.g. data.id, user.id_str); arrays are walked")
    .option("-u, --unique", "print each ID once (memory grows with the number of distinct IDs)")
    .option("--skip-invalid", "skip lines that are not JSON or hold no ID (warned on stderr) instead of failing")
    .addOption(new Option("--format <format>", "dataset format (default: detected: csv for a .csv/.csv.gz name or a CSV header line, else JSON Lines)").choices(["jsonl", "csv"]))
    .option("--id-column <name>", "CSV: the column holding the Post ID (default: detected, e.g. id or status_id)")
    .option("--user-column <name>", "CSV: the column holding the author's user ID, for --type users (default: detected, e.g. author_id or user_id)")
    .addHelpText(
      "after",
      `
Formats, detected line by line: a line starting with a digit is an ID; a line starting with {
is JSON. --type tweets takes id_str or id, and in v2 pages data[].id plus includes.tweets[].id;
--type users takes author_id (v2), user.id_str (v1.1), a user object's own id, and in v2 pages
includes.users[].id. A file is checked completely before the first ID is printed.
A file whose first byte is [ holds a JSON array of such records. Several files, or a folder of
them, print one after the other; an academictwitteR folder (data_<id>.json arrays of Posts with
users_<id>.json includes) is read as one v2 page per data file.
CSV (a .csv/.csv.gz name, --format csv, or a header line with an ID column such as id or
status_id): the Post ID column and the referenced Post columns, or with --type users the author
column and the other user ID columns; rtweet's x-prefixed IDs are printed without the x.

Examples:
  compliant ids archive.jsonl > tweet-ids.txt
  compliant ids --type users --unique archive.jsonl | compliant all --type users --ids-file - --results-file users.ndjson
  compliant ids --field data.id pages.jsonl
  compliant ids academictwitter-folder/ | compliant all --ids-file - --results-file results.ndjson
  compliant ids --type users --user-column author_id export.csv
`,
    )
    .action(on(options, async (opts, ctx) => (await import("../jobs/ids.js")).run(opts, ctx)));
