import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { run as apply } from "../../src/jobs/apply.js";
import { CliError, ExitCode, UsageError } from "../../src/errors.js";
import { fakeContext, rawLines, workdir } from "../helpers/fake-context.js";

const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");

test("apply removes deleted v2 Posts, scrubs geo, and copies every other line byte for byte", async () => {
  const dir = workdir();
  const L = rawLines(read(dir, "posts-v2.jsonl"));
  assert.equal(L.length, 10);
  const f = fakeContext(dir);
  await apply({ args: ["posts-v2.jsonl"], results: "results-tweets.ndjson", removed: "removed.jsonl" }, f.ctx);
  const expected =
    L[1]! +
    '{"id":"1500000000000000003","text":"geo post","author_id":"102","lang":"en"}\n' +
    L[3]! +
    L[5]! +
    '{"id":"1500000000000000007","text":"rehydrate with reason scrub_geo","author_id":"104"}\n' +
    L[8]! +
    L[9]!;
  assert.equal(read(dir, "posts-v2.compliant.jsonl"), expected);
  assert.equal(read(dir, "removed.jsonl"), L[0]! + L[4]! + L[6]!);
  assert.equal(readdirSync(dir).filter((n) => n.endsWith(".partial")).length, 0);
  assert.equal(f.stdout().length, 0);
  assert.match(f.stderr(), /read 10 lines of posts-v2\.jsonl, removed 3 records \(3 lines dropped\), scrubbed 2, rewrote 2 lines, kept 5 unchanged, kept 1 out of date \(rehydrate\); wrote posts-v2\.compliant\.jsonl and removed\.jsonl/);
  // rehydrate is understood now: no "action this version does not apply" warning for it.
  assert.doesNotMatch(f.stderr(), /does not apply/);
  assert.match(f.stderr(), /warning: 2 result lines are error records in results-tweets\.ndjson \(invalid_id: 2\); those IDs were not checked and nothing is done to them\.\n/);
});

test("apply keeps large v1.1 integer IDs exact when it rewrites a scrubbed Post", async () => {
  const dir = workdir();
  const L = rawLines(read(dir, "posts-v11.jsonl"));
  await apply({ args: ["posts-v11.jsonl"], results: "results-tweets.ndjson", output: "out.jsonl" }, fakeContext(dir).ctx);
  assert.equal(
    read(dir, "out.jsonl"),
    '{"created_at":"Sat Aug 10 12:22:40 +0000 2019","id":1500000000000000003,"id_str":"1500000000000000003","text":"v1 geo","user":{"id":102,"id_str":"102","screen_name":"c"},"retweet_count":0}\n' +
      L[2]!,
  );
});

test("apply edits v2 response pages: data, referenced Posts, media and places; drops pages left empty", async () => {
  const dir = workdir();
  const L = rawLines(read(dir, "pages-v2.jsonl"));
  const f = fakeContext(dir, { json: true });
  await apply({ args: ["pages-v2.jsonl"], results: "results-tweets.ndjson", output: "out.jsonl", removed: "removed.jsonl" }, f.ctx);
  const page = JSON.parse(L[0]!);
  const [deleted, kept, scrubbed] = page.data;
  delete scrubbed.geo;
  page.data = [kept, scrubbed];
  const [referenced] = page.includes.tweets;
  // An includes array left empty goes, and meta.result_count counts what data holds.
  delete page.includes.tweets;
  page.meta.result_count = 2;
  const [media1, media2] = page.includes.media;
  page.includes.media = [media2];
  page.includes.places = [page.includes.places[1]];
  assert.equal(read(dir, "out.jsonl"), `${JSON.stringify(page)}\n${L[1]}${L[3]}`);
  assert.equal(read(dir, "removed.jsonl"), `${JSON.stringify(deleted)}\n${JSON.stringify(referenced)}\n${JSON.stringify(media1)}\n${L[2]}`);
  const summary = JSON.parse(f.stdout().toString());
  assert.deepEqual(
    {
      lines: summary.lines,
      unchanged: summary.unchanged_lines,
      rewritten: summary.rewritten_lines,
      dropped: summary.dropped_lines,
      removed: summary.removed_records,
      scrubbed: summary.scrubbed_records,
      pruned: summary.pruned_includes,
    },
    { lines: 4, unchanged: 2, rewritten: 1, dropped: 1, removed: 3, scrubbed: 1, pruned: 3 },
  );
});

test("apply --type users drops a deleted user's Posts and user entries, and scrubs geo from Posts of a scrub_geo user", async () => {
  const dir = workdir();
  const pages = rawLines(read(dir, "pages-v2.jsonl"));
  await apply({ args: ["pages-v2.jsonl"], results: "results-users.ndjson", type: "users", output: "pages.out" }, fakeContext(dir).ctx);
  const page = JSON.parse(pages[0]!);
  const [, kept, scrubbed] = page.data;
  delete scrubbed.geo;
  page.data = [kept, scrubbed];
  page.includes.users = page.includes.users.slice(1);
  // An includes array left empty goes, and meta.result_count counts what data holds.
  delete page.includes.tweets;
  page.meta.result_count = 2;
  page.includes.media = [page.includes.media[1]];
  page.includes.places = [page.includes.places[1]];
  assert.equal(read(dir, "pages.out"), `${JSON.stringify(page)}\n${pages[1]}${pages[2]}${pages[3]}`);

  const posts = rawLines(read(dir, "posts-v2.jsonl"));
  await apply({ args: ["posts-v2.jsonl"], results: "results-users.ndjson", type: "users", output: "posts.out" }, fakeContext(dir).ctx);
  assert.equal(
    read(dir, "posts.out"),
    posts[1]! + '{"id":"1500000000000000003","text":"geo post","author_id":"102","lang":"en"}\n' + posts.slice(3, 9).join(""),
  );

  const users = rawLines(read(dir, "users-v2.jsonl"));
  await apply({ args: ["users-v2.jsonl"], results: "results-users.ndjson", type: "users", output: "users.out" }, fakeContext(dir).ctx);
  assert.equal(read(dir, "users.out"), users.slice(1).join(""));
});

test("apply on a plain ID list removes the IDs that must be deleted", async () => {
  const dir = workdir();
  await apply({ args: ["ids.txt"], results: "results-tweets.ndjson" }, fakeContext(dir).ctx);
  assert.equal(read(dir, "ids.compliant.txt"), "1500000000000000020\n1500000000000000003\n\n1500000000000000099\n");
});

test("apply reports invalid lines with their numbers and writes nothing", async () => {
  const dir = workdir();
  await assert.rejects(
    apply({ args: ["bad.jsonl"], results: "results-tweets.ndjson", removed: "removed.jsonl" }, fakeContext(dir).ctx),
    (err: unknown) =>
      err instanceof UsageError &&
      err.exitCode === ExitCode.usage &&
      err.message === "the dataset bad.jsonl has 3 invalid lines (line 2: not JSON, line 3: no Post ID, line 4: not JSON); fix them or pass --skip-invalid.",
  );
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith("bad.compliant") || n.startsWith("removed")), []);
});

test("apply --skip-invalid keeps invalid lines unchanged and warns", async () => {
  const dir = workdir();
  const L = rawLines(read(dir, "bad.jsonl"));
  const f = fakeContext(dir);
  await apply({ args: ["bad.jsonl"], results: "results-tweets.ndjson", skipInvalid: true }, f.ctx);
  assert.equal(read(dir, "bad.compliant.jsonl"), L.slice(0, 4).join(""));
  assert.match(f.stderr(), /warning: kept 3 invalid lines \(line 2: not JSON, line 3: no Post ID, line 4: not JSON\) of bad\.jsonl unchanged \(--skip-invalid\)/);
});

test("apply --strict refuses results with actions it does not apply, before writing", async () => {
  const dir = workdir();
  // rehydrate is understood since the 2026 result lines; an unknown action is what --strict refuses.
  writeFileSync(
    join(dir, "unknown.ndjson"),
    readFileSync(join(dir, "results-tweets.ndjson"), "utf8").replace('"action":"rehydrate","created_at":"2021-10-07T07:41:18.022Z","reason":"protected"', '"action":"quarantine","created_at":"2021-10-07T07:41:18.022Z","reason":"protected"'),
  );
  await assert.rejects(
    apply({ args: ["posts-v2.jsonl"], results: "unknown.ndjson", strict: true }, fakeContext(dir).ctx),
    (err: unknown) =>
      err instanceof CliError &&
      err.exitCode === ExitCode.refused &&
      err.message ===
        "the results file unknown.ndjson has 1 event with an action this version does not apply (quarantine: 1); nothing was written (--strict). Rerun without --strict to leave those records untouched.",
  );
  assert.equal(existsSync(join(dir, "posts-v2.compliant.jsonl")), false);
  // rehydrate alone does not stop --strict.
  await apply({ args: ["posts-v2.jsonl"], results: "results-tweets.ndjson", strict: true }, fakeContext(dir).ctx);
  assert.equal(existsSync(join(dir, "posts-v2.compliant.jsonl")), true);
});

test("apply refuses to overwrite an existing output without --force, and never writes over its input", async () => {
  const dir = workdir();
  writeFileSync(join(dir, "posts-v2.compliant.jsonl"), "precious\n");
  await assert.rejects(
    apply({ args: ["posts-v2.jsonl"], results: "results-tweets.ndjson" }, fakeContext(dir).ctx),
    { message: "the output file posts-v2.compliant.jsonl already exists; pass --force to overwrite it, or choose another path with -o." },
  );
  assert.equal(read(dir, "posts-v2.compliant.jsonl"), "precious\n");
  await apply({ args: ["posts-v2.jsonl"], results: "results-tweets.ndjson", force: true }, fakeContext(dir).ctx);
  assert.notEqual(read(dir, "posts-v2.compliant.jsonl"), "precious\n");

  const before = read(dir, "posts-v2.jsonl");
  await assert.rejects(
    apply({ args: ["posts-v2.jsonl"], results: "results-tweets.ndjson", output: "./posts-v2.jsonl", force: true }, fakeContext(dir).ctx),
    {
      message:
        "the output file ./posts-v2.jsonl is the dataset itself; apply never modifies its input in place: write elsewhere with -o and rename afterwards.",
    },
  );
  assert.equal(read(dir, "posts-v2.jsonl"), before);
});

test("apply -o - writes the cleaned dataset to stdout, and reads a dataset from stdin", async () => {
  const dir = workdir();
  const f = fakeContext(dir, { stdin: read(dir, "ids.txt") });
  await apply({ args: ["-"], results: "results-tweets.ndjson" }, f.ctx);
  assert.equal(f.stdout().toString(), "1500000000000000020\n1500000000000000003\n\n1500000000000000099\n");
});

test("apply fails on a corrupt results file with its line number (exit 4) and writes nothing", async () => {
  const dir = workdir();
  writeFileSync(join(dir, "broken.ndjson"), '{"id":"1","action":"delete","reason":"deleted"}\n{"id":"2","act');
  await assert.rejects(apply({ args: ["posts-v2.jsonl"], results: "broken.ndjson" }, fakeContext(dir).ctx), (err: unknown) => {
    return err instanceof CliError && err.exitCode === ExitCode.refused && /^broken\.ndjson line 2 is not a valid compliance event \(not JSON\)/.test(err.message);
  });
  assert.equal(existsSync(join(dir, "posts-v2.compliant.jsonl")), false);
});
