// The archive-maintenance pipeline of the README, through the real binary:
// `compliant ids` → `compliant all --ids-file -` → `compliant apply`.

import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { expectedEvent, expectedResultsFile } from "../../src/emulator/server.js";
import { emuEnv, emulatorFor, runCli, tempDir } from "../helpers/cli.js";

test("ids | all --ids-file - | apply: the archive loses exactly the deleted Posts and the scrubbed geo", async (t) => {
  const dir = await tempDir(t, "compliant-pipeline-");
  // The API-origin flow, whose scrub_geo events carry action "scrub_geo" (the storage flow says delete).
  const emu = await emulatorFor(t, { flow: "api", rateLimit: { limit: 100_000, windowSeconds: 900 } });
  const env = emuEnv(emu);
  const ids = Array.from({ length: 200 }, (_, i) => (1500000000000000000n + BigInt(i)).toString());
  const lines = ids.map((id, i) => JSON.stringify({ id, text: `post ${i}`, author_id: "42", geo: { place_id: "01a9a39529b27f36" } }));
  await writeFile(join(dir, "archive.jsonl"), lines.join("\n") + "\n");

  const listed = await runCli(["ids", "archive.jsonl"], { cwd: dir, env });
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stdout, ids.join("\n") + "\n");

  const checked = await runCli(["all", "--type", "tweets", "--ids-file", "-", "--results-file", "results.ndjson", "--interval", "0.05", "--json"], {
    cwd: dir,
    env,
    stdin: listed.stdout,
  });
  assert.equal(checked.code, 0, checked.stderr);
  const results = await readFile(join(dir, "results.ndjson"), "utf8");
  assert.equal(results, expectedResultsFile(ids, "tweets", "api"));
  const summary = JSON.parse(checked.stdout) as { ids_checked: number; ids_needing_action: number };
  assert.equal(summary.ids_checked, 200);

  const applied = await runCli(["apply", "--results", "results.ndjson", "archive.jsonl", "-o", "clean.jsonl"], { cwd: dir, env });
  assert.equal(applied.code, 0, applied.stderr);
  const expected: string[] = [];
  ids.forEach((id, i) => {
    const ev = expectedEvent(id, "tweets", "api");
    const action = ev && "action" in ev ? ev.action : undefined;
    if (action === "delete") return;
    if (action === "scrub_geo") {
      expected.push(JSON.stringify({ id, text: `post ${i}`, author_id: "42" }));
      return;
    }
    expected.push(lines[i]!); // untouched: the original bytes
  });
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), expected.join("\n") + "\n");
  // The input is never modified in place.
  assert.equal(await readFile(join(dir, "archive.jsonl"), "utf8"), lines.join("\n") + "\n");
});
