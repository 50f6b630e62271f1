import { Command, InvalidArgumentError } from "commander";
import { globals, type Define, type Zod } from "./options.js";

const options = (z: Zod) =>
  z.object({
    ...globals(z),
    ledger: z.string().min(1).optional(),
    maxAge: z.number().optional(),
  });

function hours(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError("--max-age must be a number of hours above 0, such as 24 or 1.5.");
  }
  return n;
}

/** `compliant history`: the ledger as a table, and an exit code a monitoring job can alert on (jobs/history.ts). */
export const define: Define = (on) =>
  new Command("history")
    .description("show the syncs recorded in a ledger, newest first; exit 1 when the newest is older than --max-age")
    .option("--ledger <file>", "the ledger to read (default: compliance-ledger.jsonl in the current folder)")
    .option("--max-age <hours>", "how old the newest sync may be before history exits 1 (default 24)", hours)
    .addHelpText(
      "after",
      `
Exit codes: 0 when the newest sync finished within --max-age hours; 1 when it is older, or the
ledger holds none (one line on stderr says which); 2 when the ledger cannot be read; 4 when a
line of it is not a ledger entry.

Examples:
  compliant history
  compliant history --ledger /data/compliance-ledger.jsonl --max-age 26 || notify "archive not compliant"
  compliant history --json | jq '.entries[0]'
`,
    )
    .action(on(options, async (opts, ctx) => (await import("../jobs/history.js")).run(opts, ctx)));
