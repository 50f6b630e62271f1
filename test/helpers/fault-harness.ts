// Fault injection for `compliant all`: one seeded plan per run (IDs, split, flow, stale files
// beside the results, emulator faults, SIGKILLs at chosen moments), carried out with the real
// binary against the project's emulator, and checked after every attempt:
//   - a results file, whenever it exists, is either the untouched leftover or exactly the
//     emulator's expected bytes for this run's IDs (an attempt that exits 0 must leave the latter);
//   - no job is made twice: the emulator never holds more jobs than the run has parts (all jobs in
//     a run's emulator are that run's), plus one replacement for each job the harness itself
//     failed ("job-failed"): the only justified second job is the one replacing a job that ended
//     failed (upload URLs never expire within these short runs);
//   - a non-zero exit ends with a "compliant: …" sentence that is not an internal error;
//   - files beside the run (the ID file, an old results file, a symlinked .partial's target) are
//     never modified;
//   - the final re-run without faults exits 0 with the exact file.
// The plan is a pure function of the seed (and the enabled kinds); only timing varies between
// replays. Importing this module does nothing by itself.

import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { join } from "node:path";
import {
  expectedResultsFile,
  problems,
  startEmulator,
  type Emulator,
  type EmulatorFlow,
  type EmulatorJobType,
  type Fault,
  type FaultAction,
  type RequestLogEntry,
  type RouteKind,
} from "../../src/emulator/server.js";
import { runCli, type CliResult } from "./cli.js";
import { rng } from "./rng.js";

// ---------------------------------------------------------------------------------------------
// Kinds (COMPLIANT_FAULT_KINDS selects a subset, for triage)

export const FAULT_KINDS = [
  "kill", // SIGKILL at a chosen request, log line or delay, then the same command again
  "reset", // emulator: connection reset before any answer
  "cut", // emulator: body cut after n bytes (answers), upload dropped after n bytes
  "stall", // emulator: answer held back for a while
  "5xx", // emulator: 500/502/503/504
  "429", // emulator: rate limited (Retry-After 0, or a reset header 1-2 s ahead)
  "other-partial", // <results>.partial holding bytes of another job's results (before or between runs)
  "leftover", // an old results file at the target, replaced with --force
  "truncate", // the .partial truncated or deleted between runs
  "symlink", // <results>.partial is a symlink to a file elsewhere in the temp folder
  "split", // --max-ids-per-job splits the IDs into several jobs
  "resumable", // --resumable (storage resumable-upload protocol)
  "api-flow", // the API-origin flow (upload/download on the API origin)
  "job-failed", // the emulator fails an active job while it is polled: one replacement job is allowed
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const ALIASES: Record<string, FaultKind[]> = {
  all: [...FAULT_KINDS],
  net: ["reset", "cut", "stall"],
  http: ["5xx", "429"],
  stale: ["other-partial", "leftover", "truncate", "symlink"],
};

/** Parses COMPLIANT_FAULT_KINDS ("kill,cut,stale", "all,-symlink"); unset means all. */
export function parseKinds(spec: string | undefined): Set<FaultKind> {
  if (spec === undefined || spec.trim() === "") return new Set(FAULT_KINDS);
  const out = new Set<FaultKind>();
  const words = spec.split(",").map((w) => w.trim()).filter(Boolean);
  // Only exclusions: start from everything.
  if (words.every((w) => w.startsWith("-"))) for (const k of FAULT_KINDS) out.add(k);
  for (const w of words) {
    const neg = w.startsWith("-");
    const name = neg ? w.slice(1) : w;
    const kinds = ALIASES[name] ?? (FAULT_KINDS.includes(name as FaultKind) ? [name as FaultKind] : undefined);
    if (kinds === undefined) throw new Error(`COMPLIANT_FAULT_KINDS: unknown kind ${JSON.stringify(name)}; known: ${[...FAULT_KINDS, ...Object.keys(ALIASES)].join(", ")}`);
    for (const k of kinds) (neg ? out.delete(k) : out.add(k));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Plans

export type KillPlan =
  | { at: "request"; route: RouteKind; nth: number; delayMs: number }
  | { at: "stderr"; line: string; nth: number; delayMs: number }
  | { at: "time"; delayMs: number };

export type Mutation = "truncate-partial" | "delete-partial" | "other-partial";

export interface AttemptPlan {
  faults: Fault[];
  kill?: KillPlan;
  /** Fail the job that the nth status read asks about, if it is still created or in_progress. */
  failJobAtGet?: number;
  /** Done to the files beside the results just before this attempt starts. */
  before: Mutation[];
}

export interface Plan {
  seed: number;
  type: EmulatorJobType;
  flow: EmulatorFlow;
  resumable: boolean;
  pollsToComplete: number;
  ids: string[];
  /** The IDs of "another job", whose results the stale files hold. */
  otherIds: string[];
  maxIdsPerJob?: number;
  name?: string;
  /** An old results file at the target (the run gets --force). */
  leftover: boolean;
  /** A stale .partial with this many bytes of the other job's results. */
  otherPartialBytes?: number;
  /** The .partial is a symlink to elsewhere/victim.ndjson. */
  symlinkPartial: boolean;
  /**
   * What the symlink's target holds: plain text, another job's results cut after `bytes`, or
   * another job's whole results (valid NDJSON a careless resume would append to).
   */
  victim: { kind: "text" | "results-cut" | "results"; bytes: number };
  /** The first attempt passes --no-resume (the re-runs are the plain command). */
  noResumeFirst: boolean;
  /** Faulty attempts; a clean final run follows unless one of them exits 0. */
  attempts: AttemptPlan[];
  /** Done before the final clean run. */
  beforeFinal: Mutation[];
}

/** The IDs split as the CLI splits them (consecutive runs of maxIdsPerJob). */
export function partsOf(plan: Pick<Plan, "ids" | "maxIdsPerJob">): string[][] {
  const n = plan.maxIdsPerJob ?? plan.ids.length;
  const parts: string[][] = [];
  for (let i = 0; i < plan.ids.length; i += n) parts.push(plan.ids.slice(i, i + n));
  return parts;
}

/** What the emulator delivers for the plan: each part's results file, in part order. */
export function expectedFor(plan: Pick<Plan, "ids" | "maxIdsPerJob" | "type" | "flow">): string {
  return partsOf(plan)
    .map((p) => expectedResultsFile(p, plan.type, plan.flow))
    .join("");
}

/** A float in [0, 1) from the seeded 32-bit generator. */
function floats(seed: number): () => number {
  const next = rng(seed);
  return () => next() / 2 ** 32;
}

/** Unique IDs of 8–19 digits; about 40% end in 00–09 (the emulator's "needs action"). */
function makeIds(r: () => number, count: number, avoid: Set<string>): string[] {
  const out: string[] = [];
  while (out.length < count) {
    const digits = r() < 0.8 ? 19 : 8 + Math.floor(r() * 11);
    let s = String(1 + Math.floor(r() * 8)); // no leading zero; 19 digits stay below 2^63
    while (s.length < digits - 2) s += String(Math.floor(r() * 10));
    const d = r() < 0.4 ? Math.floor(r() * 10) : 10 + Math.floor(r() * 90);
    s += String(d).padStart(2, "0");
    if (avoid.has(s)) continue;
    avoid.add(s);
    out.push(s);
  }
  return out;
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function int(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

function uploadRoutes(plan: Pick<Plan, "flow" | "resumable">): RouteKind[] {
  if (plan.flow === "api") return ["upload"];
  return plan.resumable ? ["resumable-start", "resumable-chunk"] : ["upload"];
}

function routesFor(plan: Pick<Plan, "flow" | "resumable">): RouteKind[] {
  return ["create", "list", ...uploadRoutes(plan), "get", "download"];
}

/**
 * The plan for one seed. Every random choice is drawn whether or not its kind is enabled, and the
 * disabled ones are dropped afterwards, so a seed names the same scenario under any kind filter
 * (minus what was filtered out).
 */
export function makePlan(seed: number, kinds: Set<FaultKind> = new Set(FAULT_KINDS)): Plan {
  const r = floats(seed);
  const on = (k: FaultKind) => kinds.has(k);
  const type: EmulatorJobType = r() < 0.7 ? "tweets" : "users";
  const apiFlow = r() < 0.25;
  const resumableDraw = r() < 0.3;
  const flow: EmulatorFlow = apiFlow && on("api-flow") ? "api" : "storage";
  const resumable = flow === "storage" && resumableDraw && on("resumable");
  const pollsToComplete = int(r, 1, 3);
  const count = r() < 0.15 ? int(r, 5, 12) : int(r, 13, 300);
  const seen = new Set<string>();
  const ids = makeIds(r, count, seen);
  const otherIds = makeIds(r, int(r, 40, 200), seen);
  const splitDraw = r() < 0.35;
  const maxIdsDraw = Math.max(1, Math.ceil(count / int(r, 2, 3)));
  const maxIdsPerJob = splitDraw && on("split") && count >= 10 ? maxIdsDraw : undefined;
  const name = r() < 0.3 ? `fi-${seed}` : undefined;
  const leftover = r() < 0.3 && on("leftover");
  const stale = r();
  const other = expectedResultsFile(otherIds, type, flow);
  const otherSize = other.length;
  const cutDraw = Math.max(1, Math.floor(r() * otherSize));
  // Half the stale partials end at a line boundary: spliced, they still parse, so only the exact
  // comparison can tell (the worst case: exit 0 with a wrong file).
  const atLine = r() < 0.5 && other.lastIndexOf("\n", cutDraw - 1) > 0;
  const otherPartialDraw = atLine ? other.lastIndexOf("\n", cutDraw - 1) + 1 : cutDraw;
  const symlinkPartial = stale < 0.2 && on("symlink");
  const victim: Plan["victim"] = { kind: pick(r, ["text", "results-cut", "results"] as const), bytes: cutDraw };
  const otherPartialBytes = !symlinkPartial && stale >= 0.2 && stale < 0.55 && on("other-partial") && otherSize > 0 ? otherPartialDraw : undefined;
  const noResumeFirst = r() < 0.3 && otherPartialBytes !== undefined;

  const plan: Plan = {
    seed,
    type,
    flow,
    resumable,
    pollsToComplete,
    ids,
    otherIds,
    ...(maxIdsPerJob !== undefined ? { maxIdsPerJob } : {}),
    ...(name !== undefined ? { name } : {}),
    leftover,
    ...(otherPartialBytes !== undefined ? { otherPartialBytes } : {}),
    symlinkPartial,
    victim,
    noResumeFirst,
    attempts: [],
    beforeFinal: [],
  };
  const parts = partsOf(plan).length;
  const routes = routesFor(plan);
  const expectedBytes = expectedFor(plan).length;
  const uploadBytes = ids.reduce((n, id) => n + id.length + 1, 0);

  const mutations = (): Mutation[] => {
    const out: Mutation[] = [];
    const a = r();
    if (a < 0.35 && on("truncate")) out.push("truncate-partial");
    else if (a < 0.5 && on("truncate")) out.push("delete-partial");
    if (r() < 0.15 && on("other-partial")) out.push("other-partial");
    return out;
  };

  const fault = (): Fault | undefined => {
    const kind = pick(r, ["reset", "cut", "stall", "5xx", "429"] as const);
    const route = pick(r, routes);
    const times = pick(r, [1, 1, 1, 2, 2, 3]);
    const every = r() < 0.3 ? int(r, 2, 3) : undefined;
    let action: FaultAction;
    switch (kind) {
      case "reset":
        action = { type: "reset" };
        break;
      case "cut":
        if (route === "download") action = { type: "cut-body", afterBytes: Math.floor(r() * (expectedBytes / parts + 20)) };
        else if (route === "upload" || route === "resumable-chunk") action = { type: "drop-upload", afterBytes: Math.floor(r() * uploadBytes) };
        else action = { type: "cut-body", afterBytes: Math.floor(r() * 300) };
        break;
      case "stall":
        action = { type: "stall", ms: int(r, 50, 500) };
        break;
      case "5xx":
        action = { type: "status", status: pick(r, [500, 502, 503, 504]) };
        break;
      case "429":
        action =
          r() < 0.25
            ? { type: "rate-limit", resetInSeconds: 0 }
            : { type: "status", status: 429, headers: { "retry-after": "0" }, body: problems.tooManyRequests };
        break;
    }
    if (!on(kind)) return undefined;
    return { match: { route }, times, ...(every !== undefined ? { every } : {}), action };
  };

  const kill = (): KillPlan | undefined => {
    const how = r();
    const delayMs = r() < 0.4 ? 0 : int(r, 1, 60);
    let k: KillPlan;
    if (how < 0.55) {
      const route = pick(r, ["create", ...uploadRoutes(plan), "get", "get", "download", "download"] as RouteKind[]);
      const max = route === "get" ? parts * pollsToComplete : route === "create" || route === "download" || route === "upload" ? parts : 2;
      k = { at: "request", route, nth: int(r, 1, Math.max(1, max)), delayMs };
    } else if (how < 0.85) {
      const line = pick(r, ["created", "uploaded", "in_progress", "complete", "downloaded"]);
      k = { at: "stderr", line, nth: int(r, 1, parts), delayMs };
    } else {
      // The CLI needs ~0.4 s to start; earlier kills would only test node's start-up.
      k = { at: "time", delayMs: int(r, 450, 1500) };
    }
    return on("kill") ? k : undefined;
  };

  const n = pick(r, [1, 1, 1, 2, 2, 3]);
  for (let i = 0; i < n; i++) {
    // Four candidate faults are always drawn, so the draws that follow do not depend on how many are kept.
    const candidates = [fault(), fault(), fault(), fault()];
    const nf = pick(r, [0, 1, 1, 2, 2, 3, 4]);
    const killDraw = r();
    const k = kill();
    // Attempts before the last are killed more often: the re-run is what most of the checks are about.
    const killed = killDraw < (i < n - 1 ? 0.8 : 0.6) ? k : undefined;
    // An attempt with neither a kill nor a fault would only be a clean run: give it one fault.
    const faults = candidates.slice(0, killed ? nf : Math.max(1, nf)).filter((f): f is Fault => f !== undefined);
    // A stall on the route of the kill makes the kill land while that request is in flight.
    const stallMs = int(r, 150, 600);
    const stallDraw = r();
    if (killed?.at === "request" && stallDraw < 0.5 && on("stall")) faults.push({ match: { route: killed.route }, times: 1, action: { type: "stall", ms: stallMs } });
    const before = i === 0 ? [] : mutations();
    const failDraw = r();
    const failAt = int(r, 1, parts * pollsToComplete);
    const failJobAtGet = failDraw < 0.08 && on("job-failed") ? failAt : undefined;
    plan.attempts.push({ faults, ...(killed ? { kill: killed } : {}), ...(failJobAtGet !== undefined ? { failJobAtGet } : {}), before });
  }
  plan.beforeFinal = mutations();
  return plan;
}

/** A one-line description of a plan for failure messages. */
export function describePlan(plan: Plan): string {
  const { ids, otherIds, ...rest } = plan;
  return JSON.stringify({ ...rest, ids: ids.length, parts: partsOf(plan).map((p) => p.length), otherIds: otherIds.length });
}

// ---------------------------------------------------------------------------------------------
// Running a plan

export interface AttemptRecord {
  label: string;
  args: string[];
  faults: number;
  kill?: KillPlan;
  killedAt?: string;
  result: CliResult;
  /** Did our SIGKILL end it? */
  killed: boolean;
}

export interface Outcome {
  plan: Plan;
  attempts: AttemptRecord[];
  /** Problems found, each "[class] detail". Empty when the run passed. */
  failures: string[];
  notes: string[];
}

const RESULTS = "results.ndjson";
const PARTIAL = `${RESULTS}.partial`;
const WATCHDOG_MS = 45_000;

const STDERR_LINES: Record<string, RegExp> = {
  created: /created \w+ job \d+/g,
  uploaded: /uploaded \d[\d,]* IDs/g,
  in_progress: /is in_progress/g,
  complete: /job \d+(?: \(part \d+ of \d+\))? is complete/g,
  downloaded: /downloaded \d[\d,]* bytes/g,
};

interface Snapshot {
  path: string;
  kind: "file" | "symlink";
  content: string;
}

async function snapshot(path: string): Promise<Snapshot> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) return { path, kind: "symlink", content: await readlink(path) };
  return { path, kind: "file", content: (await readFile(path)).toString("latin1") };
}

async function readMaybe(path: string): Promise<{ kind: "absent" | "file" | "symlink" | "other"; content?: string }> {
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return { kind: "symlink", content: await readlink(path) };
    if (!st.isFile()) return { kind: "other" };
    return { kind: "file", content: (await readFile(path)).toString("latin1") };
  } catch {
    return { kind: "absent" };
  }
}

/** Where two strings first differ, with a little context from both. */
export function firstDifference(actual: string, expected: string): string {
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  const show = (s: string) => JSON.stringify(s.slice(Math.max(0, i - 30), i + 50));
  return `${actual.length} bytes vs ${expected.length} expected; first difference at byte ${i}: got ${show(actual)}, expected ${show(expected)}`;
}

/** The last log lines (a success's summary table left out). */
function tail(text: string, lines = 6): string {
  const all = text.trimEnd().split("\n");
  const summary = all.findIndex((l) => l.startsWith("summary ("));
  return (summary === -1 ? all : all.slice(0, summary + 1)).slice(-lines).join("\n");
}

/** The last line of stderr, if it is a sentence from the CLI (not an internal error). */
function errorSentence(stderr: string): string | undefined {
  const lines = stderr.trimEnd().split("\n").filter((l) => l.trim() !== "");
  const last = lines.at(-1) ?? "";
  // An internal error prints its message, then "This is a bug; …".
  if (lines.some((l) => /^compliant: internal error/.test(l))) return undefined;
  return /^compliant: \S.*\S/.test(last) && last.split(/\s+/).length >= 4 ? last : undefined;
}

export async function runPlan(plan: Plan): Promise<Outcome> {
  const outcome: Outcome = { plan, attempts: [], failures: [], notes: [] };
  const fail = (cls: string, detail: string) => outcome.failures.push(`[${cls}] ${detail}`);
  const dir = await mkdtemp(join(tmpdir(), `compliant-fault-${plan.seed}-`));
  let hook: ((e: RequestLogEntry) => void) | undefined;
  let failedJobs = 0;
  let emu: Emulator | undefined;
  try {
    emu = await startEmulator({
      flow: plan.flow,
      pollsToComplete: plan.pollsToComplete,
      // Rate limits are a fault the plan injects; the window itself must never bind.
      rateLimit: { limit: 1_000_000, windowSeconds: 900 },
      onRequest: (e) => hook?.(e),
    });
    const e = emu;
    const parts = partsOf(plan);
    const expected = expectedFor(plan);
    const other = expectedResultsFile(plan.otherIds, plan.type, plan.flow);
    const results = join(dir, RESULTS);
    const partial = join(dir, PARTIAL);

    // Files beside the run, which it must never modify.
    const idsFile = join(dir, "ids.txt");
    await writeFile(idsFile, plan.ids.join("\n") + "\n");
    const oldResults = join(dir, "old-results.ndjson");
    await writeFile(oldResults, other);
    const guarded = [idsFile, oldResults];
    if (plan.symlinkPartial) {
      const victim = join(dir, "elsewhere", "victim.ndjson");
      await mkdir(join(dir, "elsewhere"));
      // A tool that follows the link reads, truncates or appends to this file.
      const v = plan.victim;
      await writeFile(victim, v.kind === "text" ? "precious: not results, keep me\n".repeat(20) : v.kind === "results-cut" ? other.slice(0, v.bytes) : other);
      await symlink(victim, partial);
      guarded.push(victim);
    } else if (plan.otherPartialBytes !== undefined) {
      await writeFile(partial, other.slice(0, plan.otherPartialBytes));
    }
    const leftover = plan.leftover ? `{"id":"1","note":"results of an earlier night"}\n` + other : undefined;
    if (leftover !== undefined) await writeFile(results, leftover);
    const before = await Promise.all(guarded.map(snapshot));

    const args = (first: boolean): string[] => [
      "all",
      "--type",
      plan.type,
      "--ids-file",
      "ids.txt",
      "--results-file",
      RESULTS,
      "--interval",
      "0.05",
      ...(plan.leftover ? ["--force"] : []),
      ...(plan.maxIdsPerJob !== undefined ? ["--max-ids-per-job", String(plan.maxIdsPerJob)] : []),
      ...(plan.resumable ? ["--resumable"] : []),
      ...(plan.name !== undefined ? ["--name", plan.name] : []),
      ...(first && plan.noResumeFirst ? ["--no-resume"] : []),
    ];

    const r = floats(plan.seed ^ 0x5bd1e995);
    const mutate = async (ms: Mutation[]): Promise<void> => {
      for (const m of ms) {
        const st = await readMaybe(partial);
        if (st.kind !== "file" && !(st.kind === "absent" && m === "other-partial")) continue; // never act on the symlink
        const size = Buffer.byteLength(st.content ?? "", "latin1");
        if (m === "truncate-partial" && size > 0) {
          await truncate(partial, Math.floor(r() * size));
          outcome.notes.push(`truncated the .partial (${size} bytes)`);
        } else if (m === "delete-partial") {
          await unlink(partial);
          outcome.notes.push(`deleted the .partial (${size} bytes)`);
        } else if (m === "other-partial") {
          const cut = Math.max(1, Math.floor(r() * other.length));
          const line = other.lastIndexOf("\n", cut - 1) + 1;
          await writeFile(partial, other.slice(0, r() < 0.5 && line > 0 ? line : cut));
          outcome.notes.push(st.kind === "absent" ? "put another job's bytes where the .partial goes" : `replaced the .partial (${size} bytes) with another job's bytes`);
        }
      }
    };

    /** The checks that hold after every attempt, however it ended. */
    const checkAfter = async (label: string, rec: AttemptRecord): Promise<void> => {
      const now = await Promise.all(guarded.map((p) => snapshot(p).catch(() => ({ path: p, kind: "file", content: "<missing>" }) as Snapshot)));
      for (let i = 0; i < before.length; i++) {
        if (now[i]!.kind !== before[i]!.kind || now[i]!.content !== before[i]!.content) {
          fail("outside-file-modified", `${label}: ${before[i]!.path.slice(dir.length + 1)} was modified (${firstDifference(now[i]!.content, before[i]!.content)})`);
        }
      }
      const res = await readMaybe(results);
      if (res.kind === "file" && res.content !== expected && res.content !== leftover) {
        fail(rec.result.code === 0 ? "exit-0-wrong-results" : "wrong-results-on-disk", `${label} (exit ${rec.result.code ?? rec.result.signal}): ${firstDifference(res.content!, expected)}`);
      } else if (res.kind !== "file" && res.kind !== "absent") {
        fail("results-not-a-file", `${label}: the results path is a ${res.kind}`);
      }
      const jobs = e.jobs();
      // Each job the harness failed justifies exactly one replacement.
      if (jobs.length > parts.length + failedJobs) {
        fail("job-created-twice", `${label}: ${jobs.length} jobs for ${parts.length} part(s) (${failedJobs} failed by the harness): ${jobs.map((j) => `${j.id} ${j.status} ${j.uploadedIds} IDs`).join("; ")}`);
      }
      if (!rec.killed && rec.result.code !== 0) {
        if (rec.result.code === null) fail("died", `${label}: ended by ${rec.result.signal} that the harness did not send`);
        else if (rec.result.code === 1 || errorSentence(rec.result.stderr) === undefined) {
          fail(rec.result.code === 1 ? "internal-error" : "no-sentence", `${label}: exit ${rec.result.code}, stderr ends:\n${tail(rec.result.stderr)}`);
        }
      }
      if (rec.result.code === 0 && res.kind !== "file") fail("exit-0-without-results", `${label}: exit 0 but the results file is ${res.kind}`);
    };

    const attempt = async (label: string, a: AttemptPlan | undefined, first: boolean): Promise<AttemptRecord> => {
      e.clearFaults();
      for (const f of a?.faults ?? []) e.fault(f);
      const argv = args(first);
      let child: ChildProcess | undefined;
      let killedAt: string | undefined;
      let hung = false;
      const timers: NodeJS.Timeout[] = [];
      const killNow = (why: string) => {
        if (killedAt !== undefined || child === undefined || child.exitCode !== null) return;
        killedAt = why;
        child.kill("SIGKILL");
      };
      const later = (ms: number, why: string) => {
        if (ms <= 0) killNow(why);
        else timers.push(setTimeout(() => killNow(why), ms));
      };
      const k = a?.kill;
      let seen = 0;
      let gets = 0;
      hook = (entry) => {
        if (k?.at === "request" && entry.route === k.route && ++seen === k.nth) later(k.delayMs, `request ${entry.route} #${k.nth} +${k.delayMs} ms`);
        if (a?.failJobAtGet !== undefined && entry.route === "get" && ++gets === a.failJobAtGet) {
          // Only a job still at work can fail; the status read in flight then reports it.
          const id = entry.path.split("/").pop() ?? "";
          const job = e.jobs().find((j) => j.id === id);
          if (job && (job.status === "created" || job.status === "in_progress")) {
            e.failJob(id, "Job failed (fault injection).");
            failedJobs++;
            outcome.notes.push(`${label}: failed job ${id} at status read #${gets}`);
          }
        }
      };
      let text = "";
      let fired = false;
      const result = await runCli(argv, {
        cwd: dir,
        env: { X_API_BASE_URL: e.apiUrl, X_BEARER_TOKEN: e.token },
        onSpawn: (c) => {
          child = c;
          if (k?.at === "time") later(k.delayMs, `${k.delayMs} ms after start`);
          timers.push(
            setTimeout(() => {
              hung = true;
              c.kill("SIGKILL");
            }, WATCHDOG_MS),
          );
        },
        onStderr: (chunk) => {
          text += chunk;
          if (k?.at !== "stderr" || fired) return;
          const n = text.match(STDERR_LINES[k.line]!)?.length ?? 0;
          if (n >= k.nth) {
            fired = true;
            later(k.delayMs, `stderr "${k.line}" #${k.nth} +${k.delayMs} ms`);
          }
        },
      });
      hook = undefined;
      for (const t of timers) clearTimeout(t);
      const rec: AttemptRecord = {
        label,
        args: argv,
        faults: a?.faults.length ?? 0,
        ...(k ? { kill: k } : {}),
        ...(killedAt !== undefined ? { killedAt } : {}),
        result,
        killed: killedAt !== undefined && result.signal === "SIGKILL",
      };
      outcome.attempts.push(rec);
      if (hung) fail("hang", `${label}: still running after ${WATCHDOG_MS / 1000} s; stderr ends:\n${tail(result.stderr)}`);
      await checkAfter(label, rec);
      return rec;
    };

    /**
     * Done: exit 0, or a refusal because the results file already exists when an earlier attempt
     * was killed right after renaming the complete file into place (only without --force).
     */
    const stateFiles = async (): Promise<string[]> =>
      (await readdir(join(dir, ".state", "compliant")).catch(() => [] as string[])).filter((f) => !f.startsWith("."));
    let refusedExisting = false;
    const finished = async (rec: AttemptRecord): Promise<boolean> => {
      if (rec.result.code === 0) return true;
      if (rec.killed) {
        // Killed after it had finished (results in place, state removed): running the command
        // again would be a new run, with a new job.
        const res = await readMaybe(results);
        if (res.content === expected && !(await stateFiles()).some((f) => f.endsWith(".json"))) {
          outcome.notes.push(`${rec.label}: killed after the run had finished`);
          return true;
        }
      }
      if (!plan.leftover && rec.result.code === 2 && /results file .* already exists/.test(rec.result.stderr)) {
        const res = await readMaybe(results);
        if (res.content === expected) {
          outcome.notes.push(`${rec.label}: refused because the exact results file already exists (an earlier attempt was killed after its rename)`);
          refusedExisting = true;
          return true;
        }
      }
      return false;
    };

    let done = false;
    for (let i = 0; i < plan.attempts.length && !done; i++) {
      const a = plan.attempts[i]!;
      await mutate(a.before);
      const rec = await attempt(`attempt ${i + 1}`, a, i === 0);
      done = await finished(rec);
    }
    if (!done) {
      await mutate(plan.beforeFinal);
      let rec = await attempt("final run", undefined, false);
      if (!(await finished(rec)) && rec.result.code !== null) {
        // A tool may refuse a .partial that is a symlink instead of replacing it; a person would
        // then remove it as told. Only that refusal earns one more run.
        const st = await readMaybe(partial);
        if (plan.symlinkPartial && st.kind === "symlink" && rec.result.stderr.includes(PARTIAL)) {
          outcome.notes.push("the final run refused the symlinked .partial; removed it as its message asked, and ran once more");
          await unlink(partial);
          rec = await attempt("final run after removing the symlink", undefined, false);
        }
      }
      if (!(await finished(rec))) {
        fail("final-run-failed", `the final run without faults exited ${rec.result.code ?? rec.result.signal}; stderr ends:\n${tail(rec.result.stderr)}`);
      }
    }
    const final = await readMaybe(results);
    const finalFailed = outcome.failures.some((f) => f.startsWith("[final-run-failed]"));
    if (outcome.failures.length === 0 && final.content !== expected) {
      fail("final-results-wrong", final.kind === "file" ? firstDifference(final.content!, expected) : `the results file is ${final.kind}`);
    }
    const jobs = e.jobs();
    // Fewer jobs than parts only matters once the run claims success (more is caught above).
    if (!finalFailed && jobs.length !== parts.length + failedJobs) {
      fail("job-count", `${jobs.length} jobs for ${parts.length} part(s) (${failedJobs} failed by the harness): ${jobs.map((j) => `${j.id} ${j.status} ${j.uploadedIds} IDs`).join("; ")}`);
    }
    const uploads = jobs.filter((j) => j.status !== "failed").map((j) => j.uploadedIds).sort((x, y) => x - y);
    const wanted = parts.map((p) => p.length).sort((x, y) => x - y);
    if (outcome.failures.length === 0 && JSON.stringify(uploads) !== JSON.stringify(wanted)) {
      fail("upload-counts", `jobs hold ${uploads.join(",")} IDs, parts have ${wanted.join(",")}`);
    }
    const state = await stateFiles();
    // A lock left by a SIGKILL after the run finished is expected; anything else is not.
    const lastKilled = outcome.attempts.at(-1)?.killed === true;
    // (After a refusal because the exact file exists, the state of the killed run stays until --force.)
    if (outcome.failures.length === 0 && !refusedExisting && state.some((f) => !(lastKilled && f.endsWith(".lock")))) fail("state-left-behind", `after success the state folder holds ${state.join(", ")}`);
    return outcome;
  } finally {
    hook = undefined;
    await emu?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The failure message for one run: what failed, the plan, and what each attempt did. */
export function explain(o: Outcome, replay: string): string {
  const lines = [
    `seed ${o.plan.seed}: ${o.failures.length} problem(s); replay with ${replay}`,
    ...o.failures.map((f) => `  ${f.replace(/\n/g, "\n    ")}`),
    `  plan: ${describePlan(o.plan)}`,
    ...o.notes.map((n) => `  note: ${n}`),
    ...o.attempts.map(
      (a) =>
        `  ${a.label}: ${a.faults} fault(s)${a.kill ? `, kill ${JSON.stringify(a.kill)}` : ""}${a.killedAt ? ` → killed at ${a.killedAt}` : ""} → exit ${a.result.code ?? a.result.signal}\n    ${tail(a.result.stderr, 4).replace(/\n/g, "\n    ")}`,
    ),
  ];
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Which seeds a test file runs

export interface SeedConfig {
  seeds: number[];
  kinds: Set<FaultKind>;
  concurrency: number;
}

/**
 * Seeds for shard `shard` of `shards`: COMPLIANT_FAULT_SEED=n runs only seed n (in shard 0);
 * otherwise COMPLIANT_FAULT_RUNS (default 100) seeds from COMPLIANT_FAULT_FIRST_SEED (default 1),
 * split into consecutive halves.
 */
export function seedConfig(shard: number, shards: number, env: NodeJS.ProcessEnv = process.env): SeedConfig {
  const kinds = parseKinds(env.COMPLIANT_FAULT_KINDS);
  const concurrency = Math.max(1, Number(env.COMPLIANT_FAULT_CONCURRENCY ?? 3) || 3);
  if (env.COMPLIANT_FAULT_SEED !== undefined && env.COMPLIANT_FAULT_SEED !== "") {
    const seeds = env.COMPLIANT_FAULT_SEED.split(",").map((s) => Number(s.trim()));
    if (seeds.some((s) => !Number.isSafeInteger(s))) throw new Error(`COMPLIANT_FAULT_SEED must be whole numbers, got ${env.COMPLIANT_FAULT_SEED}`);
    return { seeds: shard === 0 ? seeds : [], kinds, concurrency };
  }
  const runs = Math.max(0, Number(env.COMPLIANT_FAULT_RUNS ?? 100) || 0);
  const first = Number(env.COMPLIANT_FAULT_FIRST_SEED ?? 1) || 1;
  const per = Math.ceil(runs / shards);
  const seeds: number[] = [];
  for (let i = shard * per; i < Math.min(runs, (shard + 1) * per); i++) seeds.push(first + i);
  return { seeds, kinds, concurrency };
}

/**
 * One shard of the seeded runs as a test suite: one test per seed, whose failure explains the
 * plan and prints the command that replays it (a replayed seed always runs in the first shard).
 */
export function faultSuite(shard: number, shards: number): void {
  const cfg = seedConfig(shard, shards);
  const kindsNote = process.env.COMPLIANT_FAULT_KINDS ? ` COMPLIANT_FAULT_KINDS=${process.env.COMPLIANT_FAULT_KINDS}` : "";
  describe(`compliant all under random kills, cut connections and stale files (shard ${shard + 1} of ${shards})`, { concurrency: cfg.concurrency }, () => {
    for (const seed of cfg.seeds) {
      it(`seed ${seed}: the results file is exact and no job is created twice`, async () => {
        const outcome = await runPlan(makePlan(seed, cfg.kinds));
        const replay = `COMPLIANT_FAULT_SEED=${seed}${kindsNote} node --test dist/test/e2e/fault-injection-a.test.js`;
        if (outcome.failures.length > 0) assert.fail(explain(outcome, replay));
      });
    }
  });
}
