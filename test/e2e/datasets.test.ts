// `ids` and `apply` on JSON array files, several files, folders of dataset files and
// academictwitteR folders (data_<id>.json + users_<id>.json), through the real binary.

import assert from "node:assert/strict";
import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { expectedEvent } from "../../src/emulator/server.js";
import { emuEnv, emulatorFor, ROOT, runCli, tempDir } from "../helpers/cli.js";

const FIX = join(ROOT, "test", "fixtures", "datasets", "academictwitter");

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

test("a JSON array file: ids reads every element; apply keeps untouched elements byte for byte and drops removed ones with their comma", async (t) => {
  const dir = await tempDir(t, "compliant-array-");
  const array = `[\n  {"id":"1500000000000000101", "text":"kept"},\n  {"id":"1500000000000000102","text":"deleted"},\n  {"id":"1500000000000000103","text":"scrubbed","geo":{"place_id":"pl3"}},\n  {"id":"1500000000000000104",  "text":"kept too"}\n]\n`;
  await writeFile(join(dir, "data.json"), array);
  await cp(join(FIX, "results-tweets.ndjson"), join(dir, "r.ndjson"));
  const ids = await runCli(["ids", "data.json"], { cwd: dir });
  assert.equal(ids.code, 0, ids.stderr);
  assert.equal(ids.stdout, ["101", "102", "103", "104"].map((s) => `1500000000000000${s}`).join("\n") + "\n");
  const applied = await runCli(["apply", "-r", "r.ndjson", "data.json", "-o", "clean.json"], { cwd: dir });
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(
    await readFile(join(dir, "clean.json"), "utf8"),
    `[\n  {"id":"1500000000000000101", "text":"kept"},\n  {"id":"1500000000000000103","text":"scrubbed"},\n  {"id":"1500000000000000104",  "text":"kept too"}\n]\n`,
  );
  assert.match(applied.stderr, /read 4 elements of data\.json, removed 1 record/);

  // Every element removed: an empty array.
  await writeFile(join(dir, "one.json"), `[{"id":"1500000000000000102"}]`);
  const empty = await runCli(["apply", "-r", "r.ndjson", "one.json", "-o", "-"], { cwd: dir });
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, "[]");
});

test("a broken JSON array: exit 2 with one sentence, nothing written", async (t) => {
  const dir = await tempDir(t, "compliant-array-bad-");
  await cp(join(FIX, "results-tweets.ndjson"), join(dir, "r.ndjson"));
  await writeFile(join(dir, "cut.json"), `[{"id":"1500000000000000101"},{"id":"15`);
  const ids = await runCli(["ids", "cut.json"], { cwd: dir });
  assert.equal(ids.code, 2);
  assert.equal(ids.stdout, "");
  assert.match(ids.stderr, /cut\.json starts as a JSON array but ends inside element 2/);
  const applied = await runCli(["apply", "-r", "r.ndjson", "cut.json", "-o", "out.json"], { cwd: dir });
  assert.equal(applied.code, 2);
  assert.deepEqual(await files(dir), ["cut.json", "r.ndjson"]);
});

test("an academictwitteR folder: ids gives data and includes IDs; apply writes the same layout without the deleted Posts and their copies", async (t) => {
  const dir = await tempDir(t, "compliant-atr-");
  await cp(join(FIX, "folder"), join(dir, "tweets"), { recursive: true });
  await cp(join(FIX, "results-tweets.ndjson"), join(dir, "r.ndjson"));
  await cp(join(FIX, "results-users.ndjson"), join(dir, "u.ndjson"));
  const ids = await runCli(["ids", "tweets"], { cwd: dir });
  assert.equal(ids.code, 0, ids.stderr);
  assert.deepEqual(ids.stdout.trim().split("\n"), ["101", "102", "103", "104", "201", "202", "301", "302"].map((s) => `1500000000000000${s}`));
  const users = await runCli(["ids", "--type", "users", "--unique", "tweets"], { cwd: dir });
  assert.deepEqual(users.stdout.trim().split("\n").sort(), ["11", "12", "13", "14"]);

  const applied = await runCli(["apply", "-r", "r.ndjson", "tweets", "-o", "clean"], { cwd: dir });
  assert.equal(applied.code, 0, applied.stderr);
  const src = join(dir, "tweets");
  const out = join(dir, "clean");
  assert.deepEqual(await files(out), await files(src));
  const data = await readFile(join(out, "data_1500000000000000102.json"), "utf8");
  const original = await readFile(join(src, "data_1500000000000000102.json"), "utf8");
  const posts = original.trim().slice(1, -1).split(/,(?=\{"id")/);
  assert.equal(data, `[${posts[0]},{"id":"1500000000000000103","text":"scrubbed","author_id":"11"},${posts[3]}]\n`);
  const includes = JSON.parse(await readFile(join(out, "users_1500000000000000102.json"), "utf8")) as { tweets: Array<{ id: string }>; places: unknown[]; users: unknown[] };
  assert.deepEqual(includes.tweets.map((p) => p.id), ["1500000000000000202"]);
  assert.deepEqual(includes.places, []);
  assert.equal(includes.users.length, 4);
  // Untouched page and other files: byte for byte.
  for (const f of ["data_1500000000000000302.json", "users_1500000000000000302.json", "query"]) {
    assert.deepEqual(await readFile(join(out, f)), await readFile(join(src, f)), f);
  }

  const byUser = await runCli(["apply", "-r", "u.ndjson", "--type", "users", "tweets", "-o", "clean-users"], { cwd: dir });
  assert.equal(byUser.code, 0, byUser.stderr);
  const second = await readFile(join(dir, "clean-users", "data_1500000000000000302.json"), "utf8");
  assert.equal(second, `[{"id":"1500000000000000301","text":"second page, untouched","author_id":"14"}]\n`);
  const u1 = JSON.parse(await readFile(join(dir, "clean-users", "users_1500000000000000102.json"), "utf8")) as { users: Array<{ id: string }>; places: Array<{ id: string }> };
  assert.deepEqual(u1.users.map((u) => u.id), ["11", "13", "14"]);
  assert.deepEqual(u1.places.map((p) => p.id), ["pl3"]);
});

test("academictwitteR folder: an existing output folder needs --force; a data_ file that is not JSON fails with exit 2 and writes nothing", async (t) => {
  const dir = await tempDir(t, "compliant-atr-bad-");
  await cp(join(FIX, "folder"), join(dir, "tweets"), { recursive: true });
  await cp(join(FIX, "results-tweets.ndjson"), join(dir, "r.ndjson"));
  await mkdir(join(dir, "clean"));
  await writeFile(join(dir, "clean", "old.txt"), "x");
  const exists = await runCli(["apply", "-r", "r.ndjson", "tweets", "-o", "clean"], { cwd: dir });
  assert.equal(exists.code, 2);
  assert.match(exists.stderr, /the output folder clean already exists and is not empty; pass --force/);
  assert.deepEqual(await files(join(dir, "clean")), ["old.txt"]);
  const forced = await runCli(["apply", "-r", "r.ndjson", "tweets", "-o", "clean", "--force"], { cwd: dir });
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(await files(join(dir, "clean")), [...(await files(join(dir, "tweets"))), "old.txt"].sort());

  await writeFile(join(dir, "tweets", "data_1500000000000000999.json"), "this is not JSON\n");
  const bad = await runCli(["apply", "-r", "r.ndjson", "tweets", "-o", "fresh"], { cwd: dir });
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split("\n").filter((l) => l.startsWith("compliant:")).length, 1);
  assert.match(bad.stderr, /compliant: data_1500000000000000999\.json in the academictwitteR folder tweets is not a JSON array of Posts/);
  assert.ok(!(await files(dir)).some((f) => f.startsWith("fresh")), "no output folder, no .partial");
  const ids = await runCli(["ids", "tweets"], { cwd: dir });
  assert.equal(ids.code, 2);
  assert.equal(ids.stdout, "");
});

test("several files and a folder of JSON Lines: ids prints all; apply writes each to its name in the output folder", async (t) => {
  const dir = await tempDir(t, "compliant-many-");
  await cp(join(FIX, "results-tweets.ndjson"), join(dir, "r.ndjson"));
  await mkdir(join(dir, "in"));
  const a = `{"id":"1500000000000000101"}\n{"id":"1500000000000000102"}\n`;
  const b = `{"id":"1500000000000000103","geo":{"place_id":"x"}}\n{"id":"1500000000000000104"}\n`;
  await writeFile(join(dir, "in", "a.jsonl"), a);
  await writeFile(join(dir, "in", "b.jsonl"), b);
  const ids = await runCli(["ids", "in/a.jsonl", "in/b.jsonl"], { cwd: dir });
  assert.equal(ids.code, 0, ids.stderr);
  assert.equal(ids.stdout.trim().split("\n").length, 4);
  const folderIds = await runCli(["ids", "in"], { cwd: dir });
  assert.equal(folderIds.stdout, ids.stdout);
  const applied = await runCli(["apply", "-r", "r.ndjson", "in/a.jsonl", "in/b.jsonl", "-o", "out/"], { cwd: dir });
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(await readFile(join(dir, "out", "a.jsonl"), "utf8"), `{"id":"1500000000000000101"}\n`);
  assert.equal(await readFile(join(dir, "out", "b.jsonl"), "utf8"), `{"id":"1500000000000000103"}\n{"id":"1500000000000000104"}\n`);
  const folder = await runCli(["apply", "-r", "r.ndjson", "in"], { cwd: dir });
  assert.equal(folder.code, 0, folder.stderr);
  assert.deepEqual(await files(join(dir, "in.compliant")), ["a.jsonl", "b.jsonl"]);
  const noOut = await runCli(["apply", "-r", "r.ndjson", "in/a.jsonl", "in/b.jsonl"], { cwd: dir });
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /pass -o <folder>/);
});

test("ids <academictwitteR folder> | all --ids-file - | apply <folder> -o out: the folder loses exactly the deleted Posts", async (t) => {
  const dir = await tempDir(t, "compliant-atr-pipeline-");
  const emu = await emulatorFor(t, { flow: "api", rateLimit: { limit: 100_000, windowSeconds: 900 } });
  const env = emuEnv(emu);
  await mkdir(join(dir, "archive"));
  const all: string[] = [];
  for (let page = 0; page < 3; page++) {
    const ids = Array.from({ length: 40 }, (_, i) => (1500000000000000000n + BigInt(page * 40 + i)).toString());
    all.push(...ids);
    const posts = ids.map((id, i) => JSON.stringify({ id, text: `post ${i}`, author_id: "42", geo: { place_id: `p${id}` } }));
    await writeFile(join(dir, "archive", `data_${ids[39]}.json`), `[${posts.join(",")}]`);
    await writeFile(join(dir, "archive", `users_${ids[39]}.json`), JSON.stringify({ users: [{ id: "42", username: "u" }], places: ids.map((id) => ({ id: `p${id}` })) }));
  }
  const listed = await runCli(["ids", "archive"], { cwd: dir, env });
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stdout, all.join("\n") + "\n");
  const checked = await runCli(["all", "--type", "tweets", "--ids-file", "-", "--results-file", "results.ndjson", "--interval", "0.05"], { cwd: dir, env, stdin: listed.stdout });
  assert.equal(checked.code, 0, checked.stderr);
  const applied = await runCli(["apply", "--results", "results.ndjson", "archive", "-o", "out"], { cwd: dir, env });
  assert.equal(applied.code, 0, applied.stderr);
  const kept: string[] = [];
  for (const f of (await files(join(dir, "out"))).filter((n) => n.startsWith("data_"))) {
    for (const p of JSON.parse(await readFile(join(dir, "out", f), "utf8")) as Array<{ id: string; geo?: unknown }>) {
      const ev = expectedEvent(p.id, "tweets", "api");
      const action = ev && "action" in ev ? ev.action : undefined;
      assert.notEqual(action, "delete", p.id);
      assert.equal(p.geo === undefined, action === "scrub_geo", p.id);
      kept.push(p.id);
    }
  }
  const deleted = all.filter((id) => {
    const ev = expectedEvent(id, "tweets", "api");
    return ev && "action" in ev && ev.action === "delete";
  });
  assert.ok(deleted.length > 0, "the emulator deletes some");
  assert.equal(kept.length, all.length - deleted.length);
});
