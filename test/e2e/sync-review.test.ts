// `compliant sync` and `compliant history` under review: what a hostile user and a careful auditor
// tried, each a defect that was found and fixed. Real binary, real files, the emulator (API flow:
// Posts …00 delete/deleted, …09 scrub_geo, …50-99 nothing; users …01 delete/deleted, …50-99 nothing).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, lstat, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { emuEnv, emulatorFor, runCli, tempDir } from "../helpers/cli.js";

const P = (d: string) => `1500000000000000${d}`;
const U = (d: string) => `2500000000000000${d}`;
const line = (v: unknown) => `${JSON.stringify(v)}\n`;
const sha = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

// P100 deleted; P150 by a deleted user; P250 kept; P209 scrubbed.
export const ARCHIVE =
  line({ id: P("100"), author_id: U("050"), text: "deleted Post" }) +
  line({ id: P("150"), author_id: U("001"), text: "by a deleted user" }) +
  `{"id": "${P("250")}",  "author_id":"${U("070")}", "text":"kept byte for byte"}\n` +
  line({ id: P("209"), author_id: U("070"), text: "scrub my geo", geo: { place_id: "pl2" } });
export const CLEAN = `{"id": "${P("250")}",  "author_id":"${U("070")}", "text":"kept byte for byte"}\n` + line({ id: P("209"), author_id: U("070"), text: "scrub my geo" });

interface Entry {
  sync_id: string;
  finished_at: string;
  dataset: { path: string; sha256: string; bytes: number; sha256_of: string; files?: string[] };
  output: { path: string; sha256: string; bytes: number; in_place: boolean };
  types: Record<"tweets" | "users", { jobs: Array<{ id: string }>; ids_checked: number; results_file: string | null; results_sha256: string | null }>;
  records: { read: number; removed_for_own_event: number; removed_for_author: number; scrubbed: number };
}

async function ledger(path: string): Promise<Entry[]> {
  return (await readFile(path, "utf8")).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Entry);
}

const SYNC = (...args: string[]) => ["sync", ...args, "--interval", "0.05"];

test("an empty dataset: the clean copy (and --removed) are written, so the ledger never names an output that does not exist", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-empty-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "empty.jsonl"), "\n\n");
  const r = await runCli(SYNC("empty.jsonl", "-o", "clean.jsonl", "--removed", "removed.jsonl"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(emu.jobs().length, 0);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), "\n\n");
  assert.equal(await readFile(join(dir, "removed.jsonl"), "utf8"), "");
  const [e] = await ledger(join(dir, "compliance-ledger.jsonl"));
  assert.equal(e!.output.sha256, sha("\n\n"));
});

test("a dataset given as a symbolic link is read like apply reads it; --in-place replaces the file it points to and keeps the link", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-link-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "real.jsonl"), ARCHIVE);
  await symlink("real.jsonl", join(dir, "link.jsonl"));
  const r = await runCli(SYNC("link.jsonl", "-o", "clean.jsonl"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), CLEAN);
  const inPlace = await runCli(SYNC("link.jsonl", "--in-place"), { cwd: dir, env: emuEnv(emu) });
  assert.equal(inPlace.code, 0, inPlace.stderr);
  assert.ok((await lstat(join(dir, "link.jsonl"))).isSymbolicLink(), "the link stays a link");
  assert.equal(await readFile(join(dir, "real.jsonl"), "utf8"), CLEAN);
});

test("--in-place keeps the dataset's permissions: a private (0600) archive is not made world-readable", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-mode-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "private.jsonl"), ARCHIVE);
  await chmod(join(dir, "private.jsonl"), 0o600);
  await writeFile(join(dir, "group.jsonl.gz"), gzipSync(ARCHIVE));
  await chmod(join(dir, "group.jsonl.gz"), 0o640);
  for (const [name, mode] of [["private.jsonl", 0o600], ["group.jsonl.gz", 0o640]] as const) {
    const r = await runCli(SYNC(name, "--in-place"), { cwd: dir, env: emuEnv(emu) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(join(dir, name))).mode & 0o7777, mode, name);
  }
  assert.equal(await readFile(join(dir, "private.jsonl"), "utf8"), CLEAN);
});

test("--in-place keeps the dataset's compression whatever it is called: gzip stays gzip, plain stays plain", async (t) => {
  const dir = await tempDir(t, "compliant-syncrev-gzname-");
  const emu = await emulatorFor(t, { flow: "api" });
  await writeFile(join(dir, "gzipped.jsonl"), gzipSync(ARCHIVE));
  await writeFile(join(dir, "plain.jsonl.gz"), ARCHIVE);
  for (const name of ["gzipped.jsonl", "plain.jsonl.gz"]) {
    const r = await runCli(SYNC(name, "--in-place"), { cwd: dir, env: emuEnv(emu) });
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal(gunzipSync(await readFile(join(dir, "gzipped.jsonl"))).toString(), CLEAN);
  assert.equal(await readFile(join(dir, "plain.jsonl.gz"), "utf8"), CLEAN);
  const entries = await ledger(join(dir, "compliance-ledger.jsonl"));
  assert.equal(entries[1]!.output.sha256, sha(await readFile(join(dir, "plain.jsonl.gz"))));
});
