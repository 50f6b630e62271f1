// Review of "results you can trust": ways found to end with exit 0 and a wrong file, each
// reproduced with the real binary, real files and the emulator (127.0.0.1 only).

import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runCli, tempDir, type CliResult } from "../helpers/cli.js";

const show = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

test("apply refuses a --removed file that is the output's own .partial, so the output never holds the dropped records", async (t) => {
  const dir = await tempDir(t, "compliant-review-");
  const records = Array.from({ length: 6 }, (_, i) => `{"id":"${1000 + i}","text":"t${i}"}\n`);
  await writeFile(join(dir, "data.jsonl"), records.join(""));
  await writeFile(join(dir, "r.ndjson"), '{"id":"1000","action":"delete","reason":"deleted"}\n{"id":"1001","action":"delete","reason":"deleted"}\n');
  const r = await runCli(["apply", "-r", "r.ndjson", "data.jsonl", "-o", "clean.jsonl", "--removed", "clean.jsonl.partial"], { cwd: dir });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /clean\.jsonl\.partial/);
  assert.deepEqual((await readdir(dir)).sort(), ["data.jsonl", "r.ndjson"]);
  // The other way round: -o is the --removed file's .partial.
  const r2 = await runCli(["apply", "-r", "r.ndjson", "data.jsonl", "-o", "gone.jsonl.partial", "--removed", "gone.jsonl"], { cwd: dir });
  assert.equal(r2.code, 2, show(r2));
  assert.deepEqual((await readdir(dir)).sort(), ["data.jsonl", "r.ndjson"]);
  assert.equal(await readFile(join(dir, "data.jsonl"), "utf8"), records.join(""));
});
