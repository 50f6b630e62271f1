import assert from "node:assert/strict";
import { test } from "node:test";
import { run as report } from "../../src/jobs/report.js";
import { fakeContext, workdir } from "../helpers/fake-context.js";

test("report counts a real results file by action and reason", async () => {
  const dir = workdir();
  const f = fakeContext(dir);
  await report({ args: ["cassette-users.ndjson"] }, f.ctx);
  assert.equal(
    f.stdout().toString(),
    "cassette-users.ndjson: 20 events, 0 error records\n" +
      "ACTION  REASON     COUNT\n" +
      "delete  suspended     15\n" +
      "delete  deleted        5\n" +
      "apply: removes 20, scrubs geo from 0, leaves 0 untouched (actions it does not apply)\n",
  );
});

test("report --json with --ids-file counts checked IDs, IDs needing action, not checked and needing none", async () => {
  const dir = workdir();
  const f = fakeContext(dir, { json: true });
  await report({ args: ["results-tweets.ndjson"], idsFile: "ids.txt" }, f.ctx);
  assert.deepEqual(JSON.parse(f.stdout().toString()), {
    results_file: "results-tweets.ndjson",
    events: 9,
    error_records: 2,
    blank_lines: 1,
    result_bytes: 1125,
    by_action: { delete: 5, rehydrate: 2, scrub_geo: 2 },
    by_reason: { scrub_geo: 4, bounced: 1, deleted: 1, protected: 2, suspended: 1 },
    by_action_reason: [
      { action: "scrub_geo", reason: "scrub_geo", count: 2 },
      { action: "delete", reason: "bounced", count: 1 },
      { action: "delete", reason: "deleted", count: 1 },
      { action: "delete", reason: "protected", count: 1 },
      { action: "delete", reason: "scrub_geo", count: 1 },
      { action: "delete", reason: "suspended", count: 1 },
      { action: "rehydrate", reason: "protected", count: 1 },
      { action: "rehydrate", reason: "scrub_geo", count: 1 },
    ],
    errors: { invalid_id: 2 },
    apply: { delete: 5, scrub: 3, untouched: 1 },
    ids_by_kind: { delete: 5, scrub: 3, rehydrate: 1, untouched: 0 },
    duplicate_lines: 0,
    invalid_id_count: 2,
    invalid_ids: ["abc", "1500000000000000099"],
    ids_file: "ids.txt",
    ids_checked: 5,
    ids_needing_action: 3,
    ids_not_checked: 1,
    ids_without_action: 1,
  });
  assert.match(f.stderr(), /warning: 7 IDs in results-tweets\.ndjson are not in ids\.txt; is it the file you uploaded\?/);
});
