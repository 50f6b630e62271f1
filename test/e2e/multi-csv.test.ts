// CSV files among several datasets (files named on the command line, or a folder): each file's
// format is found as for one dataset (a .csv/.csv.gz name, a CSV header line, or --format), and
// --id-column/--user-column/--format apply to every file. Through the real binary.
import assert from "node:assert/strict";
import { copyFile, cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";
import { show } from "./unattended-helpers.js";

const FIXTURES = join(ROOT, "test", "fixtures", "datasets", "csv");
const P = (n: number) => `116040423365035200${n}`;
const U = (n: number) => `900000000000000000${n}`;

/** twarc-csv.csv split into its header and its seven rows (row n is Post n). */
async function twarcCsv(): Promise<{ header: string; rows: string[] }> {
  const text = await readFile(join(FIXTURES, "twarc-csv.csv"), "utf8");
  const [header, ...rows] = text.split(/(?<=\n)(?=1160404233650352)/);
  assert.equal(rows.length, 7);
  return { header: header!, rows };
}

/** Row 3 after its scrub: the geo.* columns emptied. */
const SCRUBBED_3 = `${P(3)},${P(3)},,,,${U(1)},,,,2019-08-11T04:02:00.000Z,"at home, in London",en,${U(1)},alice,,,,,\n`;

/** A folder `csvs/` of a.csv (rows 1-3), b.csv (rows 4-5) and c.csv.gz (rows 6-7), and the results. */
async function csvFolder(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t, "compliant-multi-csv-");
  const { header, rows } = await twarcCsv();
  await mkdir(join(dir, "csvs"));
  await writeFile(join(dir, "csvs", "a.csv"), header + rows.slice(0, 3).join(""));
  await writeFile(join(dir, "csvs", "b.csv"), header + rows.slice(3, 5).join(""));
  await writeFile(join(dir, "csvs", "c.csv.gz"), gzipSync(header + rows.slice(5).join("")));
  await copyFile(join(FIXTURES, "results-tweets.ndjson"), join(dir, "results.ndjson"));
  await copyFile(join(FIXTURES, "results-users.ndjson"), join(dir, "users.ndjson"));
  return { dir, header, rows };
}

test("a folder of twarc-csv files (one gzipped): ids gives the same IDs as the whole file, for tweets and --type users", async (t) => {
  const { dir } = await csvFolder(t);
  await copyFile(join(FIXTURES, "twarc-csv.csv"), join(dir, "whole.csv"));
  for (const type of [[], ["--type", "users"]]) {
    const whole = await runCli(["ids", ...type, "whole.csv"], { cwd: dir });
    assert.equal(whole.code, 0, show(whole));
    const folder = await runCli(["ids", ...type, "csvs"], { cwd: dir });
    assert.equal(folder.code, 0, show(folder));
    assert.equal(folder.stdout, whole.stdout, show(folder));
    assert.match(folder.stderr, /from 3 files \(10 records\) of csvs/, show(folder));
    const named = await runCli(["ids", ...type, "csvs/a.csv", "csvs/b.csv", "csvs/c.csv.gz"], { cwd: dir });
    assert.equal(named.stdout, whole.stdout, show(named));
  }
  assert.equal((await runCli(["ids", "csvs"], { cwd: dir })).stdout, [P(1), P(2), P(3), P(4), P(5), P(2), P(6), P(2), P(1), P(7)].join("\n") + "\n");
});

test("a folder of twarc-csv files: apply -o out/ writes each file back with the deleted rows gone and the scrubbed geo emptied; .csv.gz stays gzip", async (t) => {
  const { dir, header, rows } = await csvFolder(t);
  const r = await runCli(["apply", "-r", "results.ndjson", "csvs", "-o", "out/", "--rehydrate", "rehydrate.txt", "--json"], { cwd: dir });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual((await readdir(join(dir, "out"))).sort(), ["a.csv", "b.csv", "c.csv.gz"]);
  assert.equal(await readFile(join(dir, "out", "a.csv"), "utf8"), header + rows[0] + SCRUBBED_3);
  // Post 5 is a retweet of the deleted Post 2: it goes with it.
  assert.equal(await readFile(join(dir, "out", "b.csv"), "utf8"), header + rows[3]);
  const gz = await readFile(join(dir, "out", "c.csv.gz"));
  assert.deepEqual([...gz.subarray(0, 2)], [0x1f, 0x8b], "the .csv.gz output is gzip");
  assert.equal(gunzipSync(gz).toString("utf8"), header + rows[5] + rows[6]);
  assert.equal(await readFile(join(dir, "rehydrate.txt"), "utf8"), `${P(4)}\n`);
  const summary = JSON.parse(r.stdout) as Record<string, number>;
  assert.equal(summary.files, 3);
  assert.equal(summary.lines, 10, "seven rows and three headers");
  assert.equal(summary.removed_records, 2);
  assert.equal(summary.scrubbed_records, 1);
  assert.equal(summary.rewritten_lines, 1);

  // --type users: the rows of the deleted users 3 and 7 go.
  const users = await runCli(["apply", "--type", "users", "-r", "users.ndjson", "csvs/a.csv", "csvs/b.csv", "csvs/c.csv.gz", "-o", "users-out"], { cwd: dir });
  assert.equal(users.code, 0, show(users));
  assert.equal(await readFile(join(dir, "users-out", "a.csv"), "utf8"), header + rows.slice(0, 3).join(""));
  assert.equal(await readFile(join(dir, "users-out", "b.csv"), "utf8"), header + rows.slice(3, 5).join(""));
  assert.equal(gunzipSync(await readFile(join(dir, "users-out", "c.csv.gz"))).toString("utf8"), header);
});

test("a folder of CSV files: --removed holds the header once and the removed rows of every file", async (t) => {
  const { dir, header, rows } = await csvFolder(t);
  const r = await runCli(["apply", "-r", "results.ndjson", "csvs", "-o", "out", "--removed", "removed.csv"], { cwd: dir });
  assert.equal(r.code, 0, show(r));
  assert.equal(await readFile(join(dir, "removed.csv"), "utf8"), header + rows[1] + rows[4]);

  // A file with other columns: its removed rows cannot go under that header.
  await writeFile(join(dir, "csvs", "d.csv"), `id,text\n${P(2)},deleted\n`);
  const other = await runCli(["apply", "-r", "results.ndjson", "csvs", "-o", "out2", "--removed", "removed2.csv"], { cwd: dir });
  assert.equal(other.code, 2, show(other));
  assert.match(other.stderr, /compliant: --removed writes one file for the whole dataset, but the header of csvs\/d\.csv differs from that of csvs\/a\.csv/);
  assert.ok(!(await readdir(dir)).some((f) => f.startsWith("out2") || f.startsWith("removed2")), "nothing written");
  const without = await runCli(["apply", "-r", "results.ndjson", "csvs", "-o", "out3"], { cwd: dir });
  assert.equal(without.code, 0, show(without));
  assert.equal(await readFile(join(dir, "out3", "d.csv"), "utf8"), "id,text\n");
});

test("a mixed folder (one .jsonl, one .csv): each file is read in its own format", async (t) => {
  const dir = await tempDir(t, "compliant-mixed-");
  const { header, rows } = await twarcCsv();
  await mkdir(join(dir, "mixed"));
  const jsonl = `{"id":"${P(8)}","text":"kept"}\n{"id":"${P(2)}","text":"deleted"}\n{"id":"${P(3)}","geo":{"place_id":"x"}}\n`;
  await writeFile(join(dir, "mixed", "a.jsonl"), jsonl);
  await writeFile(join(dir, "mixed", "b.csv"), header + rows.slice(0, 3).join(""));
  await copyFile(join(FIXTURES, "results-tweets.ndjson"), join(dir, "results.ndjson"));
  const ids = await runCli(["ids", "mixed"], { cwd: dir });
  assert.equal(ids.code, 0, show(ids));
  assert.equal(ids.stdout, [P(8), P(2), P(3), P(1), P(2), P(3)].join("\n") + "\n");
  const applied = await runCli(["apply", "-r", "results.ndjson", "mixed", "-o", "clean"], { cwd: dir });
  assert.equal(applied.code, 0, show(applied));
  assert.equal(await readFile(join(dir, "clean", "a.jsonl"), "utf8"), `{"id":"${P(8)}","text":"kept"}\n{"id":"${P(3)}"}\n`);
  assert.equal(await readFile(join(dir, "clean", "b.csv"), "utf8"), header + rows[0] + SCRUBBED_3);

  // A CSV file found by its header alone (no .csv name), beside a JSON Lines file.
  await writeFile(join(dir, "export.data"), header + rows.slice(0, 2).join(""));
  const sniffed = await runCli(["ids", "mixed/a.jsonl", "export.data"], { cwd: dir });
  assert.equal(sniffed.code, 0, show(sniffed));
  assert.equal(sniffed.stdout, [P(8), P(2), P(3), P(1), P(2)].join("\n") + "\n");

  // --removed writes one file: JSON and CSV records cannot share it.
  const removed = await runCli(["apply", "-r", "results.ndjson", "mixed", "-o", "clean2", "--removed", "removed.txt"], { cwd: dir });
  assert.equal(removed.code, 2, show(removed));
  assert.match(removed.stderr, /--removed/);
  assert.ok(!(await readdir(dir)).some((f) => f.startsWith("clean2") || f.startsWith("removed")), "nothing written");
});

test("several files: --format and --id-column apply to every file; --id-column with no CSV file is the single-file usage error", async (t) => {
  const dir = await tempDir(t, "compliant-multi-flags-");
  await copyFile(join(FIXTURES, "results-tweets.ndjson"), join(dir, "results.ndjson"));
  await mkdir(join(dir, "own"));
  await writeFile(join(dir, "own", "a.txt"), `tweet,who\n${P(1)},${U(1)}\n${P(2)},${U(2)}\n`);
  await writeFile(join(dir, "own", "b.txt"), `tweet,who\n${P(3)},${U(3)}\n`);
  const ids = await runCli(["ids", "--format", "csv", "--id-column", "tweet", "own"], { cwd: dir });
  assert.equal(ids.code, 0, show(ids));
  assert.equal(ids.stdout, [P(1), P(2), P(3)].join("\n") + "\n");
  const users = await runCli(["ids", "--format", "csv", "-t", "users", "--user-column", "who", "own/a.txt", "own/b.txt"], { cwd: dir });
  assert.equal(users.stdout, [U(1), U(2), U(3)].join("\n") + "\n", show(users));
  const applied = await runCli(["apply", "-r", "results.ndjson", "--format", "csv", "--id-column", "tweet", "own", "-o", "out"], { cwd: dir });
  assert.equal(applied.code, 0, show(applied));
  assert.equal(await readFile(join(dir, "out", "a.txt"), "utf8"), `tweet,who\n${P(1)},${U(1)}\n`);
  assert.equal(await readFile(join(dir, "out", "b.txt"), "utf8"), `tweet,who\n${P(3)},${U(3)}\n`);

  // Without --format the files have no CSV name and no known ID column: with --id-column that is
  // the usage error one such file gives, before anything is printed or written.
  await mkdir(join(dir, "jsonl"));
  await writeFile(join(dir, "jsonl", "a.jsonl"), `{"id":"${P(1)}"}\n`);
  await writeFile(join(dir, "jsonl", "b.jsonl"), `{"id":"${P(2)}"}\n`);
  const single = await runCli(["ids", "--id-column", "tweet", "jsonl/a.jsonl"], { cwd: dir });
  assert.equal(single.code, 2, show(single));
  for (const args of [
    ["ids", "--id-column", "tweet", "jsonl"],
    ["ids", "--skip-invalid", "--user-column", "who", "-t", "users", "jsonl/a.jsonl", "jsonl/b.jsonl"],
    ["apply", "-r", "results.ndjson", "--id-column", "tweet", "jsonl", "-o", "bad"],
  ]) {
    const r = await runCli(args, { cwd: dir });
    assert.equal(r.code, 2, show(r));
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("compliant:"));
    assert.equal(lines.length, 1, show(r));
    assert.match(lines[0]!, /^compliant: --id-column and --user-column name CSV columns, but (no file in jsonl|none of jsonl\/a\.jsonl, jsonl\/b\.jsonl) is CSV \(no \.csv name or CSV header\); pass --format csv if it is\.$/);
    assert.ok(!(await readdir(dir)).some((f) => f.startsWith("bad")), "nothing written");
  }
  // An academictwitteR folder is JSON pages.
  await cp(join(ROOT, "test", "fixtures", "datasets", "academictwitter", "folder"), join(dir, "atr"), { recursive: true });
  const atr = await runCli(["ids", "--id-column", "tweet", "atr"], { cwd: dir });
  assert.equal(atr.code, 2, show(atr));
  assert.match(atr.stderr, /but no file in atr is CSV/);
  // --field reads JSON records: a CSV file among the datasets is the single-file usage error too.
  const field = await runCli(["ids", "--field", "data.id", "jsonl/a.jsonl", "own/a.txt", "--format", "csv"], { cwd: dir });
  assert.equal(field.code, 2, show(field));
  assert.match(field.stderr, /--field reads JSON records/);
});
