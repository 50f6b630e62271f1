// CSV archives (twarc-csv, Hydrator, 4CAT, rtweet's pre-1.0 CSV): `ids` lists their IDs and
// `apply` removes, scrubs and keeps whole rows, copying every untouched row as its bytes.
import assert from "node:assert/strict";
import { copyFile, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync, gunzipSync } from "node:zlib";
import { expectedEvent, expectedResultsFile } from "../../src/emulator/server.js";
import { emuEnv, emulatorFor, ROOT, runCli, tempDir } from "../helpers/cli.js";
import { show } from "./unattended-helpers.js";

const FIXTURES = join(ROOT, "test", "fixtures", "datasets", "csv");
const P = (n: number) => `116040423365035200${n}`;
const U = (n: number) => `900000000000000000${n}`;

interface Format {
  file: string;
  /** Where a row starts (a quoted field's continuation lines never match). */
  rowStart: RegExp;
  /** Post number of each data row, in order. */
  posts: number[];
  /** Author (user number) of each data row. */
  authors: number[];
  /** Whether the format links a retweet to the Post it retweets (so it goes with it). */
  retweetColumn: boolean;
  /** Row of Post 6 (a quote of the deleted Post 2) when its copy of Post 2 is emptied; default: unchanged. */
  quote?: (row: string) => string;
  /** Row of Post 3 after the scrub: its geo columns emptied. */
  scrubbed: string;
  ids: string[];
  userIds: string[];
}

const FORMATS: Format[] = [
  {
    file: "twarc-csv.csv",
    rowStart: /(?<=\n)(?=1160404233650352)/,
    posts: [1, 2, 3, 4, 5, 6, 7],
    authors: [1, 2, 1, 1, 4, 3, 7],
    retweetColumn: true,
    scrubbed: `${P(3)},${P(3)},,,,${U(1)},,,,2019-08-11T04:02:00.000Z,"at home, in London",en,${U(1)},alice,,,,,\n`,
    ids: [P(1), P(2), P(3), P(4), P(5), P(2), P(6), P(2), P(1), P(7)],
    userIds: [U(1), U(2), U(1), U(1), U(4), U(2), U(3), U(1), U(2), U(7)],
  },
  {
    file: "hydrator.csv",
    rowStart: /(?<=\n)(?=,Sun Aug|"[-0-9.]+,[-0-9.]+",Sun Aug)/,
    posts: [1, 2, 3, 4, 5, 6, 7],
    authors: [1, 2, 1, 1, 4, 3, 7],
    retweetColumn: true,
    scrubbed: "",
    ids: [P(1), P(2), P(3), P(4), P(5), P(2), P(6), P(2), P(1), P(7)],
    userIds: [U(1), U(2), U(1), U(1), U(4), U(3), U(1), U(7)],
  },
  {
    file: "4cat.csv",
    rowStart: /(?<=\n)(?=1160404233650352)/,
    posts: [1, 2, 3, 4, 6, 7],
    authors: [1, 2, 1, 1, 3, 7],
    retweetColumn: false,
    scrubbed: "",
    ids: [P(1), P(2), P(3), P(4), P(6), P(7)],
    userIds: [U(1), U(2), U(1), U(1), U(3), U(7)],
  },
  {
    file: "rtweet.csv",
    rowStart: /(?<=\n)(?="x9)/,
    posts: [1, 2, 3, 4, 5, 6, 7],
    authors: [1, 2, 1, 1, 4, 3, 7],
    retweetColumn: true,
    quote: (row) => row.replace(`"x${P(2)}","to be deleted","x${U(2)}"`, `"x${P(2)}",,"x${U(2)}"`),
    scrubbed: "",
    ids: [P(1), P(2), P(3), P(4), P(5), P(2), P(6), P(2), P(1), P(7)],
    userIds: [U(1), U(2), U(1), U(1), U(4), U(2), U(3), U(2), U(1), U(5), U(7)],
  },
];

// The scrubbed rows of the formats whose geo columns are not all at the end, spelt out.
FORMATS[1]!.scrubbed =
  `,Sun Aug 11 04:00:00 +0000 2019,,,,0,${P(3)},,,,en,,,,0,,,"<a href=""http://twitter.com"" rel=""nofollow"">Twitter Web App</a>",at home,https://twitter.com/alice/status/${P(3)},Mon Jan 01 00:00:00 +0000 2010,${U(1)},false,"a bio, with a comma",1,2,3,0,Somewhere,Alice,alice,10,,,false\r\n`;
FORMATS[2]!.scrubbed = `${P(3)},${P(3)},2019-08-11 04:00:00,1565496000,https://twitter.com/alice/status/${P(3)},,at home,alice,Alice,${U(1)},Twitter Web App,en,no,0,0,0,0,no,,no,,no,,,,,,,,\r\n`;
FORMATS[3]!.scrubbed = `"x${U(1)}","x${P(3)}",2019-08-11 04:00:00,"alice","at home","Twitter Web App",NA,NA,FALSE,FALSE,NA,NA,NA,NA,NA,NA,NA,,,,,,,,,,,\n`;

async function fixture(f: Format): Promise<{ text: string; header: string; rows: Map<number, string> }> {
  const text = await readFile(join(FIXTURES, f.file), "latin1");
  const [header, ...rows] = text.split(f.rowStart);
  assert.equal(rows.length, f.posts.length, `${f.file}: the test finds every row`);
  return { text, header: header!, rows: new Map(rows.map((r, i) => [f.posts[i]!, r])) };
}

for (const f of FORMATS) {
  test(`${f.file}: ids gives the Post IDs (referenced ones too) and --type users every user ID`, async (t) => {
    const dir = await tempDir(t);
    await copyFile(join(FIXTURES, f.file), join(dir, f.file));
    const posts = await runCli(["ids", f.file], { cwd: dir });
    assert.equal(posts.code, 0, show(posts));
    assert.equal(posts.stdout, f.ids.join("\n") + "\n");
    const users = await runCli(["ids", "--type", "users", f.file], { cwd: dir });
    assert.equal(users.code, 0, show(users));
    assert.equal(users.stdout, f.userIds.join("\n") + "\n");
    // Detected by the header too: the same file on stdin, with no name to go by.
    const piped = await runCli(["ids", "-"], { cwd: dir, stdin: await readFile(join(dir, f.file)) });
    assert.equal(piped.stdout, posts.stdout, show(piped));
  });

  test(`${f.file}: apply removes deleted Posts${f.retweetColumn ? " and their retweets" : ""}, empties the geo of scrubbed rows, lists rehydrate IDs, and keeps every other row byte for byte`, async (t) => {
    const dir = await tempDir(t);
    await copyFile(join(FIXTURES, f.file), join(dir, f.file));
    await copyFile(join(FIXTURES, "results-tweets.ndjson"), join(dir, "results.ndjson"));
    const { header, rows } = await fixture(f);
    const r = await runCli(["apply", "-r", "results.ndjson", f.file, "--removed", "removed.csv", "--rehydrate", "rehydrate.txt", "--json"], { cwd: dir });
    assert.equal(r.code, 0, show(r));
    const gone = new Set([2, ...(f.retweetColumn ? [5] : [])]);
    const expected = header + [...rows].filter(([n]) => !gone.has(n)).map(([n, row]) => (n === 3 ? f.scrubbed : n === 6 && f.quote ? f.quote(row) : row)).join("");
    const out = f.file.replace(/\.csv$/, ".compliant.csv");
    assert.equal(await readFile(join(dir, out), "latin1"), expected);
    assert.equal(await readFile(join(dir, "removed.csv"), "latin1"), header + [...rows].filter(([n]) => gone.has(n)).map(([, row]) => row).join(""));
    assert.equal(await readFile(join(dir, "rehydrate.txt"), "utf8"), `${P(4)}\n`);
    const summary = JSON.parse(r.stdout) as Record<string, number>;
    assert.equal(summary.lines, rows.size + 1);
    assert.equal(summary.removed_records, gone.size);
    assert.equal(summary.scrubbed_records, 1);
    const rewritten = f.quote ? 2 : 1;
    assert.equal(summary.rewritten_lines, rewritten);
    assert.equal(summary.rehydrate_records, 1);
    assert.equal(summary.unchanged_lines, rows.size + 1 - gone.size - rewritten);
  });

  test(`${f.file}: apply --type users removes the rows of deleted users and keeps the rest byte for byte`, async (t) => {
    const dir = await tempDir(t);
    await copyFile(join(FIXTURES, f.file), join(dir, f.file));
    await copyFile(join(FIXTURES, "results-users.ndjson"), join(dir, "users.ndjson"));
    const { header, rows } = await fixture(f);
    const r = await runCli(["apply", "--type", "users", "-r", "users.ndjson", f.file, "-o", "-", "--removed", "removed.csv", "--rehydrate", "rehydrate.txt"], { cwd: dir });
    assert.equal(r.code, 0, show(r));
    const authorOf = new Map(f.posts.map((p, i) => [p, f.authors[i]!]));
    const deleted = (n: number) => authorOf.get(n) === 3 || authorOf.get(n) === 7;
    assert.equal(Buffer.from(r.stdoutBytes!).toString("latin1"), header + [...rows].filter(([n]) => !deleted(n)).map(([, row]) => row).join(""));
    assert.equal(await readFile(join(dir, "removed.csv"), "latin1"), header + [...rows].filter(([n]) => deleted(n)).map(([, row]) => row).join(""));
    assert.equal(await readFile(join(dir, "rehydrate.txt"), "utf8"), `${U(2)}\n`);
  });
}

test("CSV: a .csv.gz archive is read and written compressed; --format csv reads a CSV of any name", async (t) => {
  const dir = await tempDir(t);
  const plain = await readFile(join(FIXTURES, "twarc-csv.csv"));
  await writeFile(join(dir, "a.csv.gz"), gzipSync(plain));
  await writeFile(join(dir, "a.data"), plain);
  await copyFile(join(FIXTURES, "results-tweets.ndjson"), join(dir, "results.ndjson"));
  const gz = await runCli(["apply", "-r", "results.ndjson", "a.csv.gz"], { cwd: dir });
  assert.equal(gz.code, 0, show(gz));
  const other = await runCli(["apply", "-r", "results.ndjson", "--format", "csv", "a.data", "-o", "b.csv"], { cwd: dir });
  assert.equal(other.code, 0, show(other));
  assert.equal(gunzipSync(await readFile(join(dir, "a.compliant.csv.gz"))).toString("latin1"), await readFile(join(dir, "b.csv"), "latin1"));
  assert.ok(!(await readFile(join(dir, "b.csv"), "latin1")).includes(`\n${P(2)},`), "the deleted Post's row is gone");
});

test("CSV: --id-column names the ID column; one that is not in the header is exit 2 in one sentence, nothing written", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "own.csv"), `tweet,who,text\n${P(1)},${U(1)},a\n${P(2)},${U(2)},b\n`);
  await copyFile(join(FIXTURES, "results-tweets.ndjson"), join(dir, "results.ndjson"));
  const ids = await runCli(["ids", "--id-column", "tweet", "own.csv"], { cwd: dir });
  assert.equal(ids.stdout, `${P(1)}\n${P(2)}\n`, show(ids));
  const users = await runCli(["ids", "-t", "users", "--user-column", "who", "own.csv"], { cwd: dir });
  assert.equal(users.stdout, `${U(1)}\n${U(2)}\n`, show(users));
  const applied = await runCli(["apply", "-r", "results.ndjson", "--id-column", "tweet", "own.csv", "-o", "out.csv"], { cwd: dir });
  assert.equal(applied.code, 0, show(applied));
  assert.equal(await readFile(join(dir, "out.csv"), "utf8"), `tweet,who,text\n${P(1)},${U(1)},a\n`);

  for (const args of [
    ["ids", "--id-column", "nope", "own.csv"],
    ["apply", "-r", "results.ndjson", "--id-column", "nope", "own.csv", "-o", "bad.csv", "--removed", "bad-removed.csv"],
    ["apply", "-r", "results.ndjson", "own.csv", "-o", "bad.csv"],
  ]) {
    const before = (await readdir(dir)).sort();
    const r = await runCli(args, { cwd: dir });
    assert.equal(r.code, 2, show(r));
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("compliant:"));
    assert.equal(lines.length, 1, show(r));
    assert.match(lines[0]!, /^compliant: [^\n]*\.$/);
    assert.match(lines[0]!, args.includes("nope") ? /--id-column "nope" is not a column of own\.csv/ : /no Post ID column in the header of own\.csv.*--id-column/);
    assert.deepEqual((await readdir(dir)).sort(), before, "nothing written");
  }
});

test("CSV round trip: ids | all --ids-file - | apply on a twarc-csv file", async (t) => {
  const dir = await tempDir(t, "compliant-csv-pipeline-");
  const emu = await emulatorFor(t, { flow: "api", rateLimit: { limit: 100_000, windowSeconds: 900 } });
  const env = emuEnv(emu);
  const ids = Array.from({ length: 120 }, (_, i) => (1500000000000000000n + BigInt(i)).toString());
  const header = "id,author_id,text,geo.coordinates.coordinates,geo.place_id\r\n";
  const rows = ids.map((id, i) => `${id},42,"post ${i},\nsecond line","[1.5, 2.5]",01a9a39529b27f36\r\n`);
  await writeFile(join(dir, "archive.csv"), header + rows.join(""));

  const listed = await runCli(["ids", "archive.csv"], { cwd: dir, env });
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stdout, ids.join("\n") + "\n");
  const checked = await runCli(["all", "--type", "tweets", "--ids-file", "-", "--results-file", "results.ndjson", "--interval", "0.05"], { cwd: dir, env, stdin: listed.stdout });
  assert.equal(checked.code, 0, checked.stderr);
  assert.equal(await readFile(join(dir, "results.ndjson"), "utf8"), expectedResultsFile(ids, "tweets", "api"));

  const applied = await runCli(["apply", "--results", "results.ndjson", "archive.csv", "-o", "clean.csv"], { cwd: dir, env });
  assert.equal(applied.code, 0, applied.stderr);
  let expected = header;
  let deleted = 0;
  let scrubbed = 0;
  ids.forEach((id, i) => {
    const ev = expectedEvent(id, "tweets", "api");
    const action = ev && "action" in ev ? ev.action : undefined;
    if (action === "delete") return void deleted++;
    if (action === "scrub_geo") {
      scrubbed++;
      expected += `${id},42,"post ${i},\nsecond line",,\r\n`;
      return;
    }
    expected += rows[i]!;
  });
  assert.ok(deleted > 0 && scrubbed > 0, "the emulator's results delete and scrub some Posts");
  assert.equal(await readFile(join(dir, "clean.csv"), "utf8"), expected);
});
