import { Option, type Command } from "commander";
import type { Context } from "../context.js";

// `ids`, `report` and `apply`: the commands that work on the user's own files. This module is
// imported at start-up, so it only declares options; handlers load when a command runs.

export type RunAction = <O>(load: () => Promise<(opts: O, ctx: Context) => Promise<void>>) => (...args: unknown[]) => Promise<void>;

const typeOption = (what: string) =>
  new Option("-t, --type <type>", what).choices(["tweets", "users"]).default("tweets");

export function registerDatasetCommands(program: Command, action: RunAction): void {
  program
    .command("ids")
    .description("print the Post or user IDs of a dataset, one per line, ready for `compliant all --ids-file -`")
    .argument("<dataset>", "plain ID list, or JSON Lines of v2 Posts, v2 API response pages (twarc2), v1.1 Posts or user objects; - for stdin")
    .addOption(typeOption("which IDs: Post IDs, or user/author IDs"))
    .option("--field <path>", "take IDs from this dot path instead (e.g. data.id, user.id_str); arrays are walked")
    .option("-u, --unique", "print each ID once (memory grows with the number of distinct IDs)")
    .option("--skip-invalid", "skip lines that are not JSON or hold no ID (warned on stderr) instead of failing")
    .addHelpText(
      "after",
      `
Formats, detected line by line: a line starting with a digit is an ID; a line starting with {
is JSON. --type tweets takes id_str or id, and in v2 pages data[].id plus includes.tweets[].id;
--type users takes author_id (v2), user.id_str (v1.1), a user object's own id, and in v2 pages
includes.users[].id. A file is checked completely before the first ID is printed.

Examples:
  compliant ids archive.jsonl > tweet-ids.txt
  compliant ids --type users --unique archive.jsonl | compliant all --type users --ids-file - --results-file users.ndjson
  compliant ids --field data.id pages.jsonl
`,
    )
    .action(action(async () => (await import("./ids.js")).run));

  program
    .command("report")
    .description("count a results file by action and reason; with --ids-file, how many checked IDs need no action")
    .argument("<results>", "results file (NDJSON from `compliant download`), or - for stdin")
    .option("--ids-file <path>", "the ID file you uploaded, to count IDs checked, needing action and needing none")
    .addHelpText(
      "after",
      `
--json (a global flag) prints one JSON document instead of the table.

Examples:
  compliant report results.ndjson
  compliant report results.ndjson --ids-file tweet-ids.txt --json
`,
    )
    .action(action(async () => (await import("./report.js")).run));

  program
    .command("apply")
    .description("write a copy of a dataset without the records that must be deleted, and with geo removed where scrub_geo applies")
    .argument("<dataset>", "the dataset (any format `compliant ids` reads), or - for stdin (then -o defaults to -)")
    .requiredOption("-r, --results <path>", "results file from `compliant download` (or - for stdin)")
    .addOption(typeOption("what the results are about: Posts, or users (a user's Posts go with the user)"))
    .option("-o, --output <path>", "where to write the cleaned dataset, or - for stdout (default: <name>.compliant<ext> beside the dataset)")
    .option("--removed <path>", "also write what was dropped to this file, for audit")
    .option("-f, --force", "overwrite existing output or --removed files")
    .option("--strict", "refuse (exit 4, nothing written) if the results contain actions this version does not apply, such as rehydrate")
    .option("--skip-invalid", "keep invalid dataset lines as they are (warned on stderr) instead of failing")
    .addHelpText(
      "after",
      `
Rules: action "delete" removes the record (whatever the reason); action "scrub_geo", or reason
"scrub_geo" with another action, removes geo, coordinates and place; other actions (rehydrate, ...)
are reported and left untouched. Error records are counted, never applied. Records that are kept
are copied byte for byte; the output is written to <out>.partial and renamed when complete, and
the dataset itself is never modified. --json (global) prints the summary as JSON on stdout when
the output is a file.

Examples:
  compliant apply --results results.ndjson archive.jsonl
  compliant apply -r users.ndjson --type users archive.jsonl -o archive.clean.jsonl --removed removed.jsonl
  zcat archive.jsonl.gz | compliant apply -r results.ndjson - | gzip > archive.clean.jsonl.gz
`,
    )
    .action(action(async () => (await import("./apply.js")).run));
}
