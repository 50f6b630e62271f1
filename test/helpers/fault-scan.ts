// Triage for the fault-injection runs: `node dist/test/helpers/fault-scan.js FIRST LAST` runs seeds
// FIRST..LAST (honouring COMPLIANT_FAULT_KINDS and COMPLIANT_FAULT_CONCURRENCY) and prints one
// line per seed, then how many seeds met each failure class with a few seeds to replay; the full
// explanation of every failing seed goes to the file named by COMPLIANT_FAULT_LOG, if set.
// Not a test: nothing runs when the test runner imports the folder's tests.

import { appendFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { explain, makePlan, parseKinds, runPlan } from "./fault-harness.js";

async function main(argv: string[]): Promise<number> {
  const first = Number(argv[0] ?? 1);
  const last = Number(argv[1] ?? first + 99);
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) {
    process.stderr.write("usage: node dist/test/helpers/fault-scan.js FIRST_SEED LAST_SEED\n");
    return 2;
  }
  const kinds = parseKinds(process.env.COMPLIANT_FAULT_KINDS);
  const concurrency = Math.max(1, Number(process.env.COMPLIANT_FAULT_CONCURRENCY ?? 3) || 3);
  const log = process.env.COMPLIANT_FAULT_LOG;
  const byClass = new Map<string, number[]>();
  let next = first;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next <= last) {
      const seed = next++;
      const o = await runPlan(makePlan(seed, kinds));
      const classes = [...new Set(o.failures.map((f) => /^\[([^\]]+)\]/.exec(f)?.[1] ?? "?"))];
      for (const c of classes) byClass.set(c, [...(byClass.get(c) ?? []), seed]);
      if (classes.length > 0) failed++;
      process.stdout.write(`seed ${seed}: ${classes.length > 0 ? classes.join(", ") : "ok"} (${o.attempts.length} runs)\n`);
      if (log && classes.length > 0) appendFileSync(log, `${explain(o, `COMPLIANT_FAULT_SEED=${seed}`)}\n\n`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  process.stdout.write(`\n${failed} of ${last - first + 1} seeds failed\n`);
  for (const [c, seeds] of [...byClass].sort((a, b) => b[1].length - a[1].length)) {
    process.stdout.write(`  ${c}: ${seeds.length} (e.g. ${seeds.sort((a, b) => a - b).slice(0, 5).join(", ")})\n`);
  }
  return failed > 0 ? 1 : 0;
}

// node --test runs every file under test/ (NODE_TEST_CONTEXT is set in its children): only a
// direct `node dist/test/helpers/fault-scan.js` scans.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.env.NODE_TEST_CONTEXT === undefined) {
  process.exitCode = await main(process.argv.slice(2));
}
