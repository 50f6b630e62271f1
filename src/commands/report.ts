import { Command } from "commander";
import { globals, type Define, type Zod } from "./options.js";

const options = (z: Zod) =>
  z.object({
    ...globals(z),
    args: z.array(z.string()),
    idsFile: z.string().min(1).optional(),
  });

/** `compliant report <results>`: counts by action and reason (jobs/report.ts). */
export const define: Define = (on) =>
  new Command("report")
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
    .action(on(options, async (opts, ctx) => (await import("../jobs/report.js")).run(opts, ctx)));
