// Gzipped archives: recognised by their magic bytes (whatever the name), decompressed as they
// stream, and written back compressed when the output is named *.gz (or, on stdout, when the
// dataset was compressed). A damaged one is exit 2 and writes nothing.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { runCli, tempDir } from "../helpers/cli.js";
import { ls, show } from "./unattended-helpers.js";

const POSTS = [
  `{"id":"1160404233650352001","text":"kept, byte for byte",  "geo":{"place_id":"p1"}}`,
  `{"id":"1160404233650352002","text":"deleted"}`,
  `{"id":"1160404233650352003","text":"scrubbed","geo":{"place_id":"p3"}}`,
  `{"id":"1160404233650352004","text":"kept too"}`,
].join("\n") + "\n";
const RESULTS = [
  `{"id":"1160404233650352002","action":"delete","reason":"deleted","created_at":"2020-01-01T00:00:00Z"}`,
  `{"id":"1160404233650352003","action":"scrub_geo","reason":"geo_scrubbed","created_at":"2020-01-01T00:00:00Z"}`,
].join("\n") + "\n";

async function world(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  await writeFile(join(dir, "results.ndjson"), RESULTS);
  await writeFile(join(dir, "posts.jsonl"), POSTS);
  // Two gzip members, as `cat a.gz b.gz` makes: one stream of lines.
  const half = POSTS.indexOf("\n", POSTS.length / 2) + 1;
  await writeFile(join(dir, "posts.jsonl.gz"), Buffer.concat([gzipSync(POSTS.slice(0, half)), gzipSync(POSTS.slice(half))]));
  return dir;
}

test("apply on a .jsonl.gz writes a .compliant.jsonl.gz with exactly what apply writes for the plain file", async (t) => {
  const dir = await world(t);
  const plain = await runCli(["apply", "-r", "results.ndjson", "posts.jsonl"], { cwd: dir });
  assert.equal(plain.code, 0, show(plain));
  const gz = await runCli(["apply", "-r", "results.ndjson", "posts.jsonl.gz"], { cwd: dir });
  assert.equal(gz.code, 0, show(gz));
  const expected = await readFile(join(dir, "posts.compliant.jsonl"), "utf8");
  assert.equal(gunzipSync(await readFile(join(dir, "posts.compliant.jsonl.gz"))).toString(), expected);
  const lines = expected.split("\n");
  assert.equal(lines[0], `{"id":"1160404233650352001","text":"kept, byte for byte",  "geo":{"place_id":"p1"}}`, "kept records are copied byte for byte");
  assert.ok(!expected.includes("352002"), "the deleted Post is gone");
  assert.ok(!expected.includes('"p3"'), "geo is scrubbed");
});

test("gzip is known by its bytes: ids reads a gzip file of any name, stdin too, and stdout follows the input", async (t) => {
  const dir = await world(t);
  await writeFile(join(dir, "archive.data"), await readFile(join(dir, "posts.jsonl.gz")));
  const ids = await runCli(["ids", "archive.data"], { cwd: dir });
  assert.equal(ids.code, 0, show(ids));
  assert.equal(ids.stdout, ["1160404233650352001", "1160404233650352002", "1160404233650352003", "1160404233650352004", ""].join("\n"));
  const viaStdin = await runCli(["apply", "-r", "results.ndjson", "-"], { cwd: dir, stdin: await readFile(join(dir, "posts.jsonl.gz")) });
  assert.equal(viaStdin.code, 0, show(viaStdin));
  const plain = await runCli(["apply", "-r", "results.ndjson", "posts.jsonl", "-o", "-"], { cwd: dir });
  assert.equal(gunzipSync(viaStdin.stdoutBytes!).toString(), plain.stdout, "gzip in on stdin, gzip out on stdout");
  const named = await runCli(["apply", "-r", "results.ndjson", "posts.jsonl", "-o", "out.jsonl.gz", "--removed", "removed.jsonl"], { cwd: dir });
  assert.equal(named.code, 0, show(named));
  assert.equal(gunzipSync(await readFile(join(dir, "out.jsonl.gz"))).toString(), plain.stdout, "an output named .gz is compressed");
  assert.equal(await readFile(join(dir, "removed.jsonl"), "utf8"), `{"id":"1160404233650352002","text":"deleted"}\n`);
});

test("a gzip file cut short is exit 2 with one sentence, and no output is left", async (t) => {
  const dir = await world(t);
  const whole = await readFile(join(dir, "posts.jsonl.gz"));
  await writeFile(join(dir, "cut.jsonl.gz"), whole.subarray(0, 40));
  const before = await ls(dir);
  for (const args of [["apply", "-r", "results.ndjson", "cut.jsonl.gz"], ["ids", "cut.jsonl.gz"]]) {
    const r = await runCli(args, { cwd: dir });
    assert.equal(r.code, 2, show(r));
    assert.equal(r.stdout, "");
    assert.ok(
      r.stderr.endsWith(
        "compliant: cut.jsonl.gz is gzip-compressed but cannot be decompressed (it ends in the middle of the compressed data); it is probably cut short or damaged, so nothing was written. Check it with `gzip -t`, and use a complete copy.\n",
      ),
      show(r),
    );
    assert.deepEqual(await ls(dir), before, "nothing was created");
  }
});
