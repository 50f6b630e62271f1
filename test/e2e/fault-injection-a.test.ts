// Fault injection, shard 1 of 2: `compliant all` run many times against the emulator with random
// SIGKILLs (then the same command again), cut connections, 5xx/429 answers, failed jobs and stale
// files beside the results. After every run: a results file, if there, is the untouched leftover
// or exactly the emulator's bytes; never more jobs than parts (plus one per job the emulator
// failed); a non-zero exit ends with a sentence, never "internal error"; the ID file, an old
// results file and a symlinked .partial's target are untouched; and the final run without faults
// exits 0 with the exact file. The two shards split the seeds so node's runner (concurrency 2)
// runs them side by side. Plans and checks: test/helpers/fault-harness.ts.
//
//   COMPLIANT_FAULT_RUNS=2000        more seeds (default 100, split across both files)
//   COMPLIANT_FAULT_FIRST_SEED=5001  start the seeds elsewhere (default 1)
//   COMPLIANT_FAULT_SEED=17          replay one seed (or a comma list), in shard 1 only
//   COMPLIANT_FAULT_KINDS=-stale     leave kinds out for triage: kill reset cut stall 5xx 429
//                                    other-partial leftover truncate symlink split resumable
//                                    api-flow job-failed; groups net http stale all; "a,b" keeps
//                                    only those, "-a,-b" drops them (a replay needs the same value)
//   COMPLIANT_FAULT_CONCURRENCY=3    runs at a time per file
//   node dist/test/helpers/fault-scan.js 1 300   the same runs outside the test runner, with a
//                                    count of seeds per failure class

import { faultSuite } from "../helpers/fault-harness.js";

faultSuite(0, 2);
