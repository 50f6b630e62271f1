// Fault injection, shard 2 of 2: `compliant all` run many times against the emulator with random
// SIGKILLs (then the same command again), cut connections, 5xx/429 answers and stale files beside
// the results; every run must end with exactly the emulator's results and one job per part. The
// two shards split the seeds so node's runner (concurrency 2) runs them side by side.
//
//   COMPLIANT_FAULT_RUNS=2000      more seeds (default 100, split across both files)
//   COMPLIANT_FAULT_SEED=17        replay one seed (or a comma list), in shard 1 only
//   COMPLIANT_FAULT_KINDS=-symlink  leave kinds out for triage (see FAULT_KINDS in test/helpers/fault-harness.ts)
//   COMPLIANT_FAULT_CONCURRENCY=3  runs at a time per file

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { explain, makePlan, runPlan, seedConfig } from "../helpers/fault-harness.js";

const SHARD = 1;
const cfg = seedConfig(SHARD, 2);
const kindsNote = process.env.COMPLIANT_FAULT_KINDS ? ` COMPLIANT_FAULT_KINDS=${process.env.COMPLIANT_FAULT_KINDS}` : "";

describe(`compliant all under random kills, cut connections and stale files (shard ${SHARD + 1} of 2)`, { concurrency: cfg.concurrency }, () => {
  for (const seed of cfg.seeds) {
    it(`seed ${seed}: the results file is exact and no job is created twice`, async () => {
      const outcome = await runPlan(makePlan(seed, cfg.kinds));
      const replay = `COMPLIANT_FAULT_SEED=${seed}${kindsNote} node --test dist/test/e2e/fault-injection-a.test.js`;
      if (outcome.failures.length > 0) assert.fail(explain(outcome, replay));
    });
  }
});
