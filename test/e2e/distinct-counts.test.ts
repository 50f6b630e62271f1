// Distinct IDs by winning kind are counted in fixed memory when the results are a file (read a
// second time when an ID may repeat) and exactly as they stream otherwise: both must give the
// same figures. The emulator's api flow repeats IDs (src/emulator/results.ts).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli, tempDir, type CliResult } from "../helpers/cli.js";

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /;

function assertOk(r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout.slice(0, 500)}\nstderr: ${r.stderr}`);
}

/** The summary's count lines ("  IDs to remove   13"), without the file name or timings. */
function summaryCounts(stderr: string): string[] {
  return stderr
    .split("\n")
    .map((l) => l.replace(STAMP, ""))
    .filter((l) => /^ {2}(IDs|repeated lines|events)/.test(l));
}

test("all --emulator-flow api: results to stdout and to a file give the same distinct counts; report of the file and of stdin too", async (t) => {
  const dir = await tempDir(t, "compliant-distinct-");
  const base = 1160404233650352000n;
  // Every last-two-digit value, so every rule of the api flow (repeated IDs included) occurs.
  const ids = Array.from({ length: 3000 }, (_, i) => (base + BigInt(i) * 7n).toString());
  await writeFile(join(dir, "ids.txt"), ids.join("\n") + "\n");
  const common = ["all", "--emulator", "--emulator-flow", "api", "--type", "tweets", "-i", "ids.txt", "--interval", "0.05", "--no-resume"];
  const toFile = await runCli([...common, "-o", "r.ndjson"], { cwd: dir });
  assertOk(toFile, "all -o r.ndjson");
  const toStdout = await runCli([...common, "-o", "-"], { cwd: dir });
  assertOk(toStdout, "all -o -");
  assert.equal(toStdout.stdout, await readFile(join(dir, "r.ndjson"), "utf8"));
  const counts = summaryCounts(toFile.stderr);
  assert.ok(counts.some((l) => /^ {2}repeated lines +[1-9]/.test(l)), `the api flow repeats IDs:\n${toFile.stderr}`);
  assert.deepEqual(summaryCounts(toStdout.stderr), counts);

  const fromFile = await runCli(["report", "r.ndjson", "--json"], { cwd: dir });
  assertOk(fromFile, "report r.ndjson");
  const fromStdin = await runCli(["report", "-", "--json"], { cwd: dir, stdin: toStdout.stdout });
  assertOk(fromStdin, "report -");
  const file = JSON.parse(fromFile.stdout) as Record<string, unknown>;
  const stdin = JSON.parse(fromStdin.stdout) as Record<string, unknown>;
  assert.ok((file.duplicate_lines as number) > 0);
  assert.deepEqual({ ...stdin, results_file: "r.ndjson" }, file);
  const needing = Object.values(file.ids_by_kind as Record<string, number>).reduce((a, b) => a + b, 0);
  assert.ok(counts.includes(`  IDs needing action   ${needing.toLocaleString("en-US")}`), counts.join("\n"));
});
