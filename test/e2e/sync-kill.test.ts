// A sync killed (SIGKILL) at a random point and run again gives the same clean dataset and the
// same ledger line as a run that was never interrupted, and never a second job of either type.
// Kill points are drawn from a seeded generator: at the k-th request the emulator receives (so
// every step of both jobs is hit), or after a random time (collection, apply, rename, ledger).
// COMPLIANT_SYNC_KILL_SEEDS=1-40 runs more seeds.

import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import type { ChildProcess } from "node:child_process";
import { startEmulator } from "../../src/emulator/server.js";
import { emuEnv, runCli, tempDir } from "../helpers/cli.js";
import { rng } from "../helpers/rng.js";

const P = (n: number) => `15000000${String(n).padStart(11, "0")}`;
const U = (n: number) => `25000000${String(n).padStart(11, "0")}`;

/** Pages and single Posts; about 1 in 9 IDs has an event (last two digits 00-15 in the API flow). */
function dataset(): string {
  const lines: string[] = [];
  for (let i = 0; i < 1500; i++) {
    const a = i * 7;
    lines.push(
      JSON.stringify({
        data: [
          { id: P(a), author_id: U(i % 300), text: `post ${a}`, geo: { place_id: `pl${i}` } },
          { id: P(a + 1), author_id: U((i * 3) % 300), text: "second", referenced_tweets: [{ type: "quoted", id: P(a + 2) }] },
        ],
        includes: { users: [{ id: U(i % 300) }, { id: U((i * 3) % 300) }], tweets: [{ id: P(a + 2), author_id: U((i + 7) % 300), text: "quoted" }], places: [{ id: `pl${i}` }] },
        meta: { result_count: 2 },
      }),
    );
    lines.push(`{"id":"${P(a + 3)}", "author_id":"${U((i + 11) % 300)}","text":"single ${i}"}`);
  }
  return `${lines.join("\n")}\n`;
}

interface Entry {
  [k: string]: unknown;
  types: Record<string, { jobs: Array<{ id: string; ids: number }>; results_file: string | null }>;
}

/** A ledger line without what differs between any two runs (times, paths, origin, job ids). */
function comparable(line: string): unknown {
  const e = JSON.parse(line) as Entry & { dataset: Record<string, unknown>; output: Record<string, unknown> };
  const { started_at: _s, finished_at: _f, api_origin: _o, sync_id: _i, ...rest } = e;
  const types = Object.fromEntries(
    Object.entries(e.types).map(([k, v]) => [k, { ...v, jobs: v.jobs.map((j) => j.ids), results_file: v.results_file === null ? null : "kept" }]),
  );
  return { ...rest, types, dataset: { ...e.dataset, path: "-" }, output: { ...e.output, path: "-" } };
}

const ARGS = (inPlace: boolean) => ["sync", "archive.jsonl", ...(inPlace ? ["--in-place"] : ["-o", "clean.jsonl"]), "--interval", "0.02", "--max-ids-per-job", "4000"];

// A lookup budget that never slows the polls down: the test is about kills, not rate limits.
const EMULATOR = { flow: "api", pollsToComplete: 2, rateLimit: { limit: 100_000, windowSeconds: 900 } } as const;

async function reference(t: TestContext, inPlace: boolean, text: string): Promise<{ output: Buffer; ledger: unknown; ms: number; jobs: number; requests: number }> {
  const dir = await tempDir(t, "compliant-sync-ref-");
  const emu = await startEmulator(EMULATOR);
  t.after(() => emu.close());
  await writeFile(join(dir, "archive.jsonl"), text);
  const started = Date.now();
  const r = await runCli(ARGS(inPlace), { cwd: dir, env: emuEnv(emu) });
  assert.equal(r.code, 0, r.stderr);
  const ledger = (await readFile(join(dir, "compliance-ledger.jsonl"), "utf8")).trim().split("\n");
  assert.equal(ledger.length, 1);
  return { output: await readFile(join(dir, inPlace ? "archive.jsonl" : "clean.jsonl")), ledger: comparable(ledger[0]!), ms: Date.now() - started, jobs: emu.jobs().length, requests: emu.requests.length };
}

function seeds(): number[] {
  const spec = process.env.COMPLIANT_SYNC_KILL_SEEDS;
  const m = spec ? /^(\d+)-(\d+)$/.exec(spec) : null;
  if (m) return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
  return [1, 2, 3, 4, 5, 6];
}

for (const inPlace of [false, true]) {
  test(`sync${inPlace ? " --in-place" : ""} killed at random points, then run again: same output, same ledger line, no second job`, async (t) => {
    const text = dataset();
    const ref = await reference(t, inPlace, text);
    assert.ok(ref.jobs >= 3, `the IDs are split into several jobs (${ref.jobs})`);
    for (const seed of seeds()) {
      const next = rng(seed * 7919 + (inPlace ? 1 : 0));
      const dir = await tempDir(t, `compliant-sync-kill-${seed}-`);
      let killAt = 0;
      let killDelay = 0;
      const emu = await startEmulator({
        ...EMULATOR,
        onRequest: (entry) => {
          if (killAt > 0 && entry.seq === killAt) {
            if (killDelay === 0) victim?.kill("SIGKILL");
            else setTimeout(() => victim?.kill("SIGKILL"), killDelay);
          }
        },
      });
      t.after(() => emu.close());
      await writeFile(join(dir, "archive.jsonl"), text);
      let victim: ChildProcess | undefined;
      // Three kinds of kill point: one of the requests an uninterrupted run makes (every step of
      // both jobs); a time within the run's length; or a little after its last request (the
      // download, then the apply, the rename and the ledger line).
      const mode = next() % 3;
      killAt = mode === 0 ? 1 + (next() % ref.requests) : mode === 2 ? ref.requests : 0;
      killDelay = mode === 2 ? 1 + (next() % 250) : 0;
      const afterMs = mode === 1 ? 30 + (next() % Math.max(1, ref.ms)) : undefined;
      const plan = mode === 0 ? `at request ${killAt}` : mode === 2 ? `${killDelay} ms after request ${killAt}` : `after ${afterMs} ms`;
      let timer: NodeJS.Timeout | undefined;
      const first = await runCli(ARGS(inPlace), {
        cwd: dir,
        env: emuEnv(emu),
        onSpawn: (child) => {
          victim = child;
          if (afterMs !== undefined) timer = setTimeout(() => child.kill("SIGKILL"), afterMs);
        },
      });
      clearTimeout(timer);
      killAt = 0;
      const ledgerPath = join(dir, "compliance-ledger.jsonl");
      const recorded = async () => (await readFile(ledgerPath, "utf8").catch(() => "")).trim().split("\n").filter(Boolean);
      const state = await readdir(join(dir, ".state", "compliant")).catch(() => [] as string[]);
      const unfinished = state.some((f) => f.endsWith(".sync"));
      // A run killed after it removed its record had finished (only its lock was left): running
      // it again would be the next sync, not a resumption.
      const rerun = first.code !== 0 && (unfinished || (await recorded()).length === 0);
      if (rerun) {
        const again = await runCli(ARGS(inPlace), { cwd: dir, env: emuEnv(emu) });
        assert.equal(again.code, 0, `seed ${seed} (killed ${plan}): the re-run failed: ${again.stderr}`);
      }
      t.diagnostic(`seed ${seed}: killed ${plan}: first run ${first.code ?? first.signal}; ${first.stderr.trim().split("\n").at(-1) ?? ""}`);
      const lines = await recorded();
      assert.equal(lines.length, 1, `seed ${seed} (killed ${plan}): one ledger line, not ${lines.length}`);
      assert.deepEqual(comparable(lines[0]!), ref.ledger, `seed ${seed} (killed ${plan}): the ledger line differs`);
      const output = await readFile(join(dir, inPlace ? "archive.jsonl" : "clean.jsonl"));
      assert.ok(output.equals(ref.output), `seed ${seed} (killed ${plan}): the output differs`);
      assert.equal(emu.jobs().length, ref.jobs, `seed ${seed} (killed ${plan}): ${emu.jobs().length} jobs instead of ${ref.jobs}`);
      // A lock of a process that is gone is taken over by the next run; anything else must be gone.
      const left = (await readdir(join(dir, ".state", "compliant"))).filter((f) => f !== "results" && (rerun || first.code === 0 || !f.endsWith(".lock")));
      assert.deepEqual(left, [], `seed ${seed} (killed ${plan}): state left behind: ${left.join(", ")}`);
    }
  });
}
