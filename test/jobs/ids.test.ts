import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { run as apply } from "../../src/jobs/apply.js";
import { run as ids } from "../../src/jobs/ids.js";
import { ExitCode, UsageError } from "../../src/errors.js";
import { fakeContext, workdir } from "../helpers/fake-context.js";

async function idsOf(dir: string, opts: Record<string, unknown>, stdin?: string): Promise<{ out: string; err: string }> {
  const f = fakeContext(dir, { stdin });
  await ids({ args: [], ...opts } as Parameters<typeof ids>[0], f.ctx);
  return { out: f.stdout().toString(), err: f.stderr() };
}

const P = (n: number) => `15000000000000000${String(n).padStart(2, "0")}`;
const lines = (...xs: Array<string | number>) => xs.map((x) => (typeof x === "number" ? P(x) : x)).join("\n") + "\n";

test("ids prints Post IDs of v2 Posts, v1.1 Posts, v2 pages and plain ID lists", async () => {
  const dir = workdir();
  assert.equal((await idsOf(dir, { args: ["posts-v2.jsonl"] })).out, lines(1, 20, 3, 4, 5, 6, 7, 30, 31));
  assert.equal((await idsOf(dir, { args: ["posts-v11.jsonl"] })).out, lines(1, 3, 40));
  // data[].id, then the referenced Posts in includes.tweets; an empty page adds nothing
  assert.equal((await idsOf(dir, { args: ["pages-v2.jsonl"] })).out, lines(1, 50, 3, 11, 60, 2));
  assert.equal((await idsOf(dir, { args: ["ids.txt"] })).out, lines(1, 20, 3, 1, 99));
});

test("ids --type users prints authors and user objects, and --unique drops repeats", async () => {
  const dir = workdir();
  assert.equal((await idsOf(dir, { args: ["posts-v2.jsonl"], type: "users" })).out, lines("100", "101", "102", "103", "107", "103", "104", "105", "106"));
  assert.equal((await idsOf(dir, { args: ["posts-v11.jsonl"], type: "users" })).out, lines("100", "102", "101"));
  assert.equal((await idsOf(dir, { args: ["users-v2.jsonl"], type: "users" })).out, lines("100", "101", "102", "107"));
  const r = await idsOf(dir, { args: ["pages-v2.jsonl"], type: "users", unique: true });
  assert.equal(r.out, lines("100", "101", "102", "106"));
  assert.match(r.err, /printed 4 user IDs from 4 lines of pages-v2\.jsonl \(7 duplicates left out\)/);
});

test("ids --field takes IDs from a dot path, walking arrays", async () => {
  const dir = workdir();
  assert.equal((await idsOf(dir, { args: ["pages-v2.jsonl"], field: "data.id" })).out, lines(1, 50, 3, 60, 2));
  assert.equal((await idsOf(dir, { args: ["posts-v11.jsonl"], field: "id" })).out, lines(1, 3, 40)); // bare big integers stay exact
  await assert.rejects(idsOf(dir, { args: ["posts-v2.jsonl"], field: "user.id_str" }), {
    message: "the dataset posts-v2.jsonl has 9 invalid lines (line 1: no value at user.id_str, line 2: no value at user.id_str, line 3: no value at user.id_str, line 5: no value at user.id_str, line 6: no value at user.id_str, and 4 more); fix them or pass --skip-invalid.",
  });
});

test("ids checks the whole file first: invalid lines are reported by number and nothing is printed", async () => {
  const dir = workdir();
  const f = fakeContext(dir);
  await assert.rejects(
    ids({ args: ["bad.jsonl"] }, f.ctx),
    (err: unknown) =>
      err instanceof UsageError &&
      err.exitCode === ExitCode.usage &&
      err.message === "the dataset bad.jsonl has 3 invalid lines (line 2: not JSON, line 3: no Post ID, line 4: not JSON); fix them or pass --skip-invalid.",
  );
  assert.equal(f.stdout().length, 0);
  const r = await idsOf(dir, { args: ["bad.jsonl"], skipInvalid: true });
  assert.equal(r.out, lines(20, 1));
  assert.match(r.err, /warning: skipped 3 invalid lines \(line 2: not JSON, line 3: no Post ID, line 4: not JSON\) of bad\.jsonl \(--skip-invalid\)/);
});

test("ids reads stdin", async () => {
  const dir = workdir();
  const r = await idsOf(dir, { args: ["-"] }, readFileSync(join(dir, "posts-v11.jsonl"), "utf8"));
  assert.equal(r.out, lines(1, 3, 40));
});

test("ids output is an ID file, and ids→apply round-trips: applying to the IDs equals the IDs of the applied dataset", async () => {
  const dir = workdir();
  for (const [dataset, type, results] of [
    ["posts-v2.jsonl", "tweets", "results-tweets.ndjson"],
    ["posts-v11.jsonl", "tweets", "results-tweets.ndjson"],
    ["users-v2.jsonl", "users", "results-users.ndjson"],
  ] as const) {
    const list = (await idsOf(dir, { args: [dataset], type })).out;
    for (const line of list.split("\n").slice(0, -1)) assert.match(line, /^[0-9]{1,19}$/);
    await apply({ args: [dataset], results, type, output: `${dataset}.clean`, force: true }, fakeContext(dir).ctx);
    const cleanedIds = (await idsOf(dir, { args: [`${dataset}.clean`], type })).out;
    const f = fakeContext(dir, { stdin: list });
    await apply({ args: ["-"], results, type }, f.ctx);
    assert.equal(f.stdout().toString(), cleanedIds, dataset);
  }
});
