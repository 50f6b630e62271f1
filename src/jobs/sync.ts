import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, lstat, mkdir, open, readdir, readFile, realpath, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { JobType } from "../api/schemas.js";
import { resolveStateDir } from "../config.js";
import type { Context } from "../context.js";
import { CliError, ExitCode, UsageError } from "../errors.js";
import { atomicFileSink, compressedByName, type Sink } from "../io/atomic-file.js";
import { readInput } from "../io/input.js";
import { shown } from "../io/target.js";
import { isFolder, planDatasets, checkOutputFolder } from "../dataset/folder.js";
import { EventIndex, loadResults, type LoadedResults } from "../dataset/event-index.js";
import { checkOutputFile } from "../dataset/output.js";
import type { DatasetFormat } from "../dataset/format.js";
import { forTerminal } from "../output/escape.js";
import { sharedProgress } from "../output/log.js";
import type { RunSummary } from "../output/render.js";
import { VERSION } from "../version.js";
import { runAll } from "./all.js";
import { RehydrateList } from "./dataset-file.js";
import { appendLedger, LEDGER_FILE, ledgerEntryFor, type LedgerEntry, type LedgerTypeEntry } from "./ledger.js";
import { dropStaleResultsLock, lockInStateDir, StateStore } from "./state.js";
import { applyStages, collectIds, fingerprintOf, IdFileWriter, type Fingerprint, type Stage, type SyncDataset } from "./sync-dataset.js";

/** What `compliant sync` is told (commands/sync.ts declares and checks the flags). */
export interface SyncOptions {
  args: string[];
  output?: string;
  inPlace?: boolean;
  removed?: string;
  rehydrate?: string;
  resultsDir?: string;
  ledger?: string;
  interval?: number;
  timeout?: number;
  maxIdsPerJob?: number;
  waitForActive?: boolean;
  force?: boolean;
  json?: boolean;
  format?: DatasetFormat;
  idColumn?: string;
  userColumn?: string;
  emulator?: boolean;
  stateDir?: string;
}

/** The `--json` document of `compliant sync` (stable interface). */
export interface SyncSummary {
  dataset: string;
  output: string;
  in_place: boolean;
  ledger: string;
  removed_file: string | null;
  rehydrate_file: string | null;
  types: Record<JobType, { ids_checked: number; ids_needing_action: number; jobs: string[]; results_file: string | null }>;
  records: LedgerEntry["records"];
  started_at: string;
  finished_at: string;
}

const TYPES: readonly JobType[] = ["tweets", "users"];

/**
 * What a sync in progress has recorded in the state folder, so a re-run after a crash resumes it:
 * the dataset it collected IDs from, where the results go, each type's finished run, and (once the
 * output is written) the output's fingerprint, recorded before the rename that puts it in place.
 */
interface SyncRecord {
  version: 1;
  key: string;
  startedAt: string;
  dataset: Fingerprint;
  results: Record<JobType, string>;
  finished: Partial<Record<JobType, RunSummary>>;
  /** Set just before the output is renamed into place. */
  output?: Fingerprint;
  /** The input's ID counts (an empty type runs no job). */
  ids: Record<JobType, number>;
  /** What the apply did, recorded with `output` (the ledger line needs it after a crash). */
  counts?: Counted;
  /** The state key of each finished type's `all` run, whose record a crash may have left. */
  states?: Partial<Record<JobType, string>>;
}

interface Counted {
  records: LedgerEntry["records"];
  sha: Partial<Record<JobType, string>>;
}

class SyncStore {
  readonly file: string;
  constructor(
    readonly dir: string,
    readonly key: string,
  ) {
    this.file = join(dir, `sync-${key}.sync`);
  }

  idsFile(type: JobType): string {
    return join(this.dir, `sync-${this.key}.${type}.ids`);
  }

  async load(): Promise<SyncRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw this.damaged(`it cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let r: Partial<SyncRecord>;
    try {
      r = JSON.parse(text) as Partial<SyncRecord>;
    } catch {
      throw this.damaged("it is not valid JSON");
    }
    if (r.version !== 1 || r.key !== this.key || typeof r.startedAt !== "string" || typeof r.dataset?.sha256 !== "string" || typeof r.results?.tweets !== "string" || typeof r.results?.users !== "string" || typeof r.finished !== "object" || r.finished === null) {
      throw this.damaged("it is not a sync record of this version");
    }
    return r as SyncRecord;
  }

  private saving: Promise<void> = Promise.resolve();

  /**
   * Saves the record as it is now. Saves run one after the other: both jobs finish at about the
   * same time and each saves, and two overlapping saves could rename in the other order, leaving
   * the earlier snapshot (one job not finished) on disk; a kill then would start that job again.
   */
  save(r: SyncRecord): Promise<void> {
    const text = `${JSON.stringify(r, null, 2)}\n`;
    const next = this.saving.then(() => this.write(text));
    this.saving = next.catch(() => undefined);
    return next;
  }

  private async write(text: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${randomBytes(8).toString("hex")}.tmp`;
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      await fh.write(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file).catch(async (err: unknown) => {
      await unlink(tmp).catch(() => undefined);
      throw err;
    });
  }

  async removeIdFiles(): Promise<void> {
    for (const t of TYPES) await unlink(this.idsFile(t)).catch(() => undefined);
  }

  /** Removes the record, the ID files and any temp file a killed save left. */
  async remove(): Promise<void> {
    await unlink(this.file).catch(() => undefined);
    await this.removeIdFiles();
    const prefix = `sync-${this.key}.sync.`;
    const left = await readdir(this.dir).catch(() => [] as string[]);
    for (const f of left) if (f.startsWith(prefix) && f.endsWith(".tmp")) await unlink(join(this.dir, f)).catch(() => undefined);
  }

  damaged(why: string): UsageError {
    return new UsageError(`the saved sync record ${this.file} is damaged (${why}); remove it and run the sync again (jobs it started are resumed from their own records).`);
  }
}

/** Where the dataset is and where its clean copy goes, all checked before anything is read. */
interface Plan {
  ds: SyncDataset;
  /** The dataset's absolute path (file or folder; the first of several files). */
  datasetFull: string;
  /** Several files given (not a folder): all of them, as the ledger names them. */
  datasetFiles: string[] | undefined;
  outFull: string;
  inPlace: boolean;
  removedFull: string | undefined;
  rehydrateFull: string | undefined;
  ledgerFull: string;
  resultsDir: string;
  stateDir: string;
  /** Set when the output exists and --force was not given: throws the usage error. */
  refuseExisting: (() => Promise<void>) | undefined;
}

async function preflight(opts: SyncOptions, ctx: Context): Promise<Plan> {
  const args = opts.args;
  if (args.length === 0) throw new UsageError("no dataset given; run compliant sync <dataset> -o <clean-dataset> (or --in-place).");
  if (args.includes("-")) throw new UsageError("sync reads the dataset twice (once for the IDs, once to apply the results), so it cannot come from stdin; give a file or folder.");
  if (opts.inPlace && opts.output !== undefined) throw new UsageError("pass either -o <clean-dataset> or --in-place, not both.");
  if (!opts.inPlace && opts.output === undefined) throw new UsageError("say where the clean dataset goes: -o <clean-dataset>, or --in-place to replace the dataset once everything succeeded.");
  if (opts.output === "-") throw new UsageError("sync writes the clean dataset to a file (its SHA-256 goes to the ledger), not stdout; pass -o <file>.");
  const many = args.length > 1 || (await isFolder(ctx.cwd, args[0]!));
  const stateDir = resolveStateDir(opts.stateDir, ctx.env);
  let ds: SyncDataset;
  let datasetFull: string;
  let outFull: string;
  const inputs: Array<{ full: string; what: string }> = [];
  // An existing output without --force is refused, unless it is the one an interrupted run of
  // this sync put in place before it could write its ledger line (SyncRun.go decides).
  let refuseExisting: (() => Promise<void>) | undefined;
  let datasetFiles: string[] | undefined;
  let datasetFolder: string | undefined;
  if (!many) {
    datasetFull = resolve(ctx.cwd, args[0]!);
    // A link to a file is that file (as for apply); --in-place then replaces the file it points to.
    const st = await stat(datasetFull).catch(() => undefined);
    if (!st) throw new UsageError(`the dataset ${args[0]} does not exist.`);
    if (!st.isFile()) throw new UsageError(`the dataset ${args[0]} is not a regular file or folder.`);
    ds = { kind: "file", full: datasetFull, name: shown(ctx.cwd, datasetFull) };
    inputs.push({ full: datasetFull, what: "dataset" });
    if (opts.inPlace) {
      outFull = await realpath(datasetFull);
      // The rename puts a new file under this name only: other names of the same file go on
      // holding what had to be removed.
      if (st.nlink > 1) {
        ctx.log.warn(`${shown(ctx.cwd, datasetFull)} has ${st.nlink - 1} other hard link${st.nlink > 2 ? "s" : ""}: --in-place replaces the file under this name only, and the other name${st.nlink > 2 ? "s" : ""} will keep the content that had to be removed`);
      }
    } else {
      outFull = await checkOutputFile(ctx.cwd, opts.output!, "output file", { force: true, inputs });
      if (!opts.force && (await lstat(outFull).catch(() => undefined))) {
        refuseExisting = async () => {
          await checkOutputFile(ctx.cwd, opts.output!, "output file", { force: false, inputs });
        };
      }
    }
  } else {
    if (opts.inPlace) {
      throw new UsageError("--in-place replaces one file atomically; a folder or several files cannot be replaced in one step, so pass -o <new-folder> and swap the folders afterwards.");
    }
    const plan = await planDatasets(ctx.cwd, args);
    const folder = plan.kind === "academictwitter" ? plan.folder : plan.folder;
    datasetFull = folder ?? resolve(ctx.cwd, args[0]!);
    const files = plan.kind === "academictwitter" ? [...plan.pages.flatMap((p) => (p.users ? [p.data, p.users] : [p.data])), ...plan.others] : plan.files;
    for (const f of files) inputs.push({ full: f.full, what: "dataset" });
    if (plan.skipped.length > 0) ctx.log.warn(`left out ${plan.skipped.join(", ")}: folders inside the dataset folder are not entered`);
    ds = { kind: "plan", plan, name: folder !== undefined ? shown(ctx.cwd, folder) : files.map((f) => f.name).join(", ") };
    if (folder === undefined) datasetFiles = files.map((f) => f.full);
    datasetFolder = folder;
    outFull = await checkOutputFolder(ctx.cwd, opts.output!, { force: true, inputs, datasetFolder: folder });
    if (!opts.force && ((await readdir(outFull).catch(() => [])) as string[]).length > 0) {
      refuseExisting = async () => {
        await checkOutputFolder(ctx.cwd, opts.output!, { force: false, inputs, datasetFolder: folder });
      };
    }
  }
  const taken = [...inputs, { full: outFull, what: "output" }];
  // --removed and --rehydrate: files of their own, beside (never inside) an output folder.
  const sideFile = async (path: string | undefined, what: string, flag: string): Promise<string | undefined> => {
    if (path === undefined) return undefined;
    if (path === "-") throw new UsageError(`${flag} needs a file path (stdout carries the summary).`);
    const full = await checkOutputFile(ctx.cwd, path, what, { force: Boolean(opts.force), inputs: taken });
    if (many && (full.startsWith(outFull + sep) || full.startsWith(`${outFull}.partial${sep}`))) {
      throw new UsageError(`the ${what} ${path} is inside the output folder ${opts.output}; write it beside the folder.`);
    }
    // Each is written to `<name>.partial` first, which replaces whatever is there.
    if (full === `${outFull}.partial` || outFull === `${full}.partial`) {
      throw new UsageError(`the ${what} ${path} and the output ${shown(ctx.cwd, outFull)} would overwrite each other while being written (one is the other's .partial); choose another ${flag}.`);
    }
    taken.push({ full, what });
    return full;
  };
  const removedFull = await sideFile(opts.removed, "removed file", "--removed");
  const rehydrateFull = await sideFile(opts.rehydrate, "rehydrate file", "--rehydrate");
  const ledgerFull = resolve(ctx.cwd, opts.ledger ?? join(dirname(outFull), LEDGER_FILE));
  await checkLedger(ctx, ledgerFull, taken, many ? outFull : undefined);
  const resultsDir = opts.resultsDir !== undefined ? resolve(ctx.cwd, opts.resultsDir) : join(stateDir, "results");
  if (opts.resultsDir !== undefined) {
    const st = await lstat(resultsDir).catch(() => undefined);
    if (!st?.isDirectory()) throw new UsageError(`the results folder ${opts.resultsDir} does not exist or is not a folder; create it or choose another --results-dir.`);
    // Found only at the download, an unwritable folder would fail the run after both jobs ran.
    const probe = join(resultsDir, `.compliant-probe-${randomBytes(6).toString("hex")}`);
    try {
      await (await open(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)).close();
      await unlink(probe);
    } catch (err) {
      throw new UsageError(`the results folder ${opts.resultsDir} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another --results-dir. Nothing was done.`);
    }
  }
  if (resultsDir === outFull || resultsDir.startsWith(outFull + sep)) throw new UsageError(`the results folder is inside the output ${shown(ctx.cwd, outFull)}; choose another --results-dir.`);
  // Every file in a dataset folder is part of the dataset: the next sync would read an audit
  // file, the ledger or a results file written there as records of the archive.
  if (datasetFolder !== undefined) {
    const inFolder: Array<[string | undefined, string]> = [
      [removedFull && dirname(removedFull), "--removed"],
      [rehydrateFull && dirname(rehydrateFull), "--rehydrate"],
      [dirname(ledgerFull), "--ledger"],
      [resultsDir, "--results-dir"],
    ];
    for (const [where, flag] of inFolder) {
      if (where !== undefined && (where === datasetFolder || (await sameDir(where, datasetFolder)))) {
        throw new UsageError(`${flag} would write inside the dataset folder ${shown(ctx.cwd, datasetFolder)}, and the next sync would read that file as part of the archive; write it beside the folder.`);
      }
    }
  }
  return { ds, datasetFull, outFull, inPlace: Boolean(opts.inPlace), removedFull, rehydrateFull, ledgerFull, resultsDir, stateDir, refuseExisting, datasetFiles };
}

async function sameDir(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

/** The ledger must be appendable now, so a run never does all the work and then fails on it. */
async function checkLedger(ctx: Context, full: string, taken: Array<{ full: string; what: string }>, outFolder: string | undefined): Promise<void> {
  const name = shown(ctx.cwd, full);
  for (const t of taken) if (t.full === full) throw new UsageError(`the ledger ${name} is the ${t.what}; pass another --ledger.`);
  // An output is first written to `<output>.partial`, which replaces whatever is there: the ledger.
  for (const t of taken) {
    if (t.what !== "dataset" && full === `${t.full}.partial`) throw new UsageError(`the ledger ${name} is where the ${t.what} is written before it is renamed into place, which would delete it; pass another --ledger.`);
  }
  if (outFolder !== undefined && (full.startsWith(outFolder + sep) || full.startsWith(`${outFolder}.partial${sep}`))) {
    throw new UsageError(`the ledger ${name} is inside the output folder ${shown(ctx.cwd, outFolder)}, which holds the clean dataset only; write it beside the folder.`);
  }
  const st = await lstat(full).catch(() => undefined);
  if (st) {
    if (!st.isFile()) throw new UsageError(`the ledger ${name} is not a regular file; pass another --ledger.`);
    await access(full, constants.W_OK).catch(() => {
      throw new UsageError(`the ledger ${name} is not writable, and a sync that cannot record itself does not succeed; make it writable or pass another --ledger. Nothing was done.`);
    });
    return;
  }
  const dir = dirname(full);
  if (!(await lstat(dir).catch(() => undefined))?.isDirectory()) throw new UsageError(`cannot write the ledger ${name}: the folder ${dir} does not exist; create it or pass another --ledger.`);
  await access(dir, constants.W_OK).catch(() => {
    throw new UsageError(`cannot create the ledger ${name}: the folder ${dir} is not writable; pass another --ledger. Nothing was done.`);
  });
}

function stampOf(iso: string): string {
  return iso.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * `compliant sync`: collect → both jobs at once → apply both result sets in one pass → ledger.
 * Every step is recorded (this run's record, and each job's own `all` record), so the same
 * command run again after a crash resumes without a second job of either type.
 */
export async function runSync(ctx: Context, opts: SyncOptions): Promise<SyncSummary> {
  const plan = await preflight(opts, ctx);
  const api = await ctx.api();
  const key = createHash("sha256")
    .update(JSON.stringify([api.apiUrl, await realpath(plan.datasetFull), plan.outFull]))
    .digest("hex")
    .slice(0, 24);
  const store = new SyncStore(plan.stateDir, key);
  const release = await lockInStateDir(plan.stateDir, `sync-${key}.lock`, `sync of ${plan.ds.name}`, (holder) =>
    new CliError(`another \`compliant sync\` of ${plan.ds.name} is already running (pid ${holder.pid}, since ${holder.started}); let it finish, or remove ${join(plan.stateDir, `sync-${key}.lock`)} if that process is gone.`, ExitCode.transient),
  );
  try {
    return await new SyncRun(ctx, opts, plan, store, api.apiOrigin).go();
  } finally {
    await release();
  }
}

class SyncRun {
  constructor(
    private readonly ctx: Context,
    private readonly opts: SyncOptions,
    private readonly plan: Plan,
    private readonly store: SyncStore,
    private readonly apiOrigin: string,
  ) {}

  private get fmt() {
    return { format: this.opts.format, choice: { idColumn: this.opts.idColumn, userColumn: this.opts.userColumn, optionalAuthor: true } };
  }

  async go(): Promise<SyncSummary> {
    const { ctx, plan, store } = this;
    let record = await store.load();
    const outKind: Fingerprint["of"] = plan.ds.kind === "file" ? "file" : "manifest";

    // A run that stopped after recording the output's fingerprint may have renamed it into place:
    // then only the ledger line is missing.
    if (record?.output) {
      const now = await fingerprintOf(plan.outFull, outKind);
      if (now && now.sha256 === record.output.sha256) {
        ctx.log.info(`the earlier sync of ${plan.ds.name} (started ${record.startedAt}) wrote its output; recording it in the ledger`);
        return this.finish(record, record.output, this.recount(record));
      }
      delete record.output;
    }
    // Refused only now, with the interrupted run's output recognised above.
    await plan.refuseExisting?.();

    const writers = { tweets: await IdFileWriter.create(store.idsFile("tweets")), users: await IdFileWriter.create(store.idsFile("users")) };
    let collected;
    try {
      ctx.log.progress(`collecting Post and user IDs from ${plan.ds.name}`);
      collected = await collectIds(plan.ds, this.fmt, writers, ctx);
    } catch (err) {
      // A dataset that cannot be read leaves no ID file behind (a record, if any, stays to resume).
      await writers.tweets.close().catch(() => undefined);
      await writers.users.close().catch(() => undefined);
      await store.removeIdFiles();
      throw err;
    } finally {
      await writers.tweets.close().catch(() => undefined);
      await writers.users.close().catch(() => undefined);
      ctx.log.done();
    }
    const ids = { tweets: writers.tweets.count, users: writers.users.count };
    ctx.log.info(`collected ${ids.tweets.toLocaleString("en-US")} Post IDs and ${ids.users.toLocaleString("en-US")} user IDs from ${collected.records.toLocaleString("en-US")} records of ${plan.ds.name}`);

    if (record && record.dataset.sha256 !== collected.fingerprint.sha256) {
      ctx.log.warn(`${plan.ds.name} changed since the interrupted sync of ${record.startedAt}; starting a new sync (jobs of the earlier one are left as they are)`);
      await this.dropFinishedRuns(record);
      record = undefined;
    }
    if (record) {
      ctx.log.info(`resuming the sync of ${plan.ds.name} started ${record.startedAt}`);
      // A type still to download goes to the results folder of this run (the one recorded may be
      // gone, or the reason the earlier run failed); a finished one stays where it was written.
      let moved = false;
      for (const type of TYPES) {
        const there = join(plan.resultsDir, basename(record.results[type]));
        if (record.finished[type] === undefined && there !== record.results[type]) {
          record.results[type] = there;
          moved = true;
        }
      }
      if (moved) {
        if (this.opts.resultsDir === undefined) await mkdir(plan.resultsDir, { recursive: true, mode: 0o700 });
        await store.save(record);
      }
    } else {
      const startedAt = new Date().toISOString();
      // The run key in the name: two archives called the same, synced in the same second (cron
      // starts them together), must not share (or overwrite) each other's results files.
      const base = `${stampOf(startedAt)}-${store.key.slice(0, 8)}-${basename(plan.datasetFull).replace(/[^A-Za-z0-9._-]/g, "_")}`;
      record = {
        version: 1,
        key: store.key,
        startedAt,
        dataset: collected.fingerprint,
        results: { tweets: join(plan.resultsDir, `${base}.tweets.ndjson`), users: join(plan.resultsDir, `${base}.users.ndjson`) },
        finished: {},
        ids,
      };
      if (this.opts.resultsDir === undefined) await mkdir(plan.resultsDir, { recursive: true, mode: 0o700 });
      await store.save(record);
    }

    await this.runJobs(record);
    const results = await this.loadBoth(record);
    return this.applyAndFinish(record, results);
  }

  /** Both jobs at once (one active job per type is allowed), each with everything `all` does. */
  private async runJobs(record: SyncRecord): Promise<void> {
    const { ctx } = this;
    const todo = TYPES.filter((t) => record.finished[t] === undefined && record.ids[t] > 0);
    if (todo.length === 0) return;
    const labelled = sharedProgress(ctx.log);
    // The first failure stops the other job's run (its state is kept, as after Ctrl-C), so the
    // run ends with one clear error instead of waiting minutes for a job whose work is moot.
    const stop = new AbortController();
    const onOuter = () => stop.abort(ctx.signal.reason);
    ctx.signal.addEventListener("abort", onOuter, { once: true });
    const signal = AbortSignal.any([ctx.signal, stop.signal]);
    let first: unknown;
    const runs = todo.map(async (type) => {
      const sub = { ...ctx, log: labelled(type === "tweets" ? "Posts" : "users"), signal };
      try {
        await runAll(sub, {
          type,
          idsFile: this.store.idsFile(type),
          resultsFile: record.results[type],
          interval: this.opts.interval,
          timeout: this.opts.timeout,
          maxIdsPerJob: this.opts.maxIdsPerJob,
          waitForActive: this.opts.waitForActive,
          emulator: this.opts.emulator,
          stateDir: this.opts.stateDir,
          force: true,
          resultsInStateDir: true,
          resumeCommand: "compliant sync",
          onFinished: async (summary, run) => {
            record.finished[type] = summary;
            (record.states ??= {})[type] = run.stateKey;
            await this.store.save(record);
          },
        });
      } catch (err) {
        if (first === undefined) {
          first = err;
          stop.abort(new CliError("the other job of this sync failed", ExitCode.transient));
        }
        throw err;
      } finally {
        sub.log.done();
      }
    });
    try {
      await Promise.allSettled(runs);
    } finally {
      ctx.signal.removeEventListener("abort", onOuter);
    }
    if (first !== undefined) {
      ctx.log.info(`the sync's state is kept in ${this.store.file}; run the same \`compliant sync\` command again to resume`);
      throw first;
    }
  }

  private async loadBoth(record: SyncRecord): Promise<Partial<Record<JobType, { loaded: LoadedResults; sha256: string }>>> {
    const out: Partial<Record<JobType, { loaded: LoadedResults; sha256: string }>> = {};
    for (const type of TYPES) {
      if (record.ids[type] === 0) continue;
      const path = record.results[type];
      const name = shown(this.ctx.cwd, path);
      const sha = createHash("sha256");
      const loaded = await loadResults(name, readInput({ kind: "file", path }, this.ctx.stdin, name, undefined, (c) => sha.update(c))).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          throw new CliError(`the results file ${name} of this sync is gone; run the same sync again (the state of the sync is in ${this.store.file}; remove it to start over with new jobs).`, ExitCode.refused);
        }
        throw err;
      });
      out[type] = { loaded, sha256: sha.digest("hex") };
    }
    return out;
  }

  private async applyAndFinish(record: SyncRecord, results: Partial<Record<JobType, { loaded: LoadedResults; sha256: string }>>): Promise<SyncSummary> {
    const { ctx, plan } = this;
    const stages: Stage[] = [];
    for (const type of TYPES) {
      const r = results[type];
      if (r) stages.push({ type, index: r.loaded.index });
    }
    // A dataset with no IDs (empty, or blank lines) ran no job, but its clean copy is still
    // written: the ledger names the output and its SHA-256, so the file must be there.
    if (stages.length === 0) stages.push({ type: "tweets", index: new EventIndex() });
    let audit: Sink | undefined;
    let refetch: RehydrateList | undefined;
    let outcome;
    try {
      if (plan.removedFull !== undefined) audit = compressedByName(plan.removedFull, await atomicFileSink(plan.removedFull));
      if (plan.rehydrateFull !== undefined) refetch = new RehydrateList(await atomicFileSink(plan.rehydrateFull));
      outcome = await applyStages(plan.ds, plan.outFull, stages, this.fmt, { removed: audit, rehydrate: refetch }, record.dataset, ctx, plan.inPlace);
    } catch (err) {
      await audit?.abort();
      await refetch?.sink.abort();
      throw err;
    } finally {
      ctx.log.done();
    }
    const stageCounts = (type: JobType) => {
      const i = stages.findIndex((st) => st.type === type);
      return i < 0 ? undefined : outcome.stages[i];
    };
    const tweets = stageCounts("tweets");
    const users = stageCounts("users");
    const counted: Counted = {
      records: {
        read: outcome.records,
        removed_for_own_event: (tweets?.removedRecords ?? 0) + (users?.removedUsers ?? 0),
        removed_for_author: (users?.removedRecords ?? 0) - (users?.removedUsers ?? 0),
        scrubbed: (tweets?.scrubbedRecords ?? 0) + (users?.scrubbedRecords ?? 0),
        rehydrate: tweets?.rehydrateRecords ?? 0,
      },
      sha: { ...(results.tweets ? { tweets: results.tweets.sha256 } : {}), ...(results.users ? { users: results.users.sha256 } : {}) },
    };
    let output: Fingerprint;
    try {
      if (audit) await audit.commit();
      if (refetch) await refetch.sink.commit();
      output = await outcome.commit(async (fp) => {
        record.output = fp;
        record.counts = counted;
        await this.store.save(record);
      });
    } catch (err) {
      await outcome.abort();
      throw err;
    }
    return this.finish(record, output, counted);
  }

  /**
   * Removes what the `all` runs of the finished types may have left: a kill between this sync
   * recording a type as finished and that run removing its own record leaves the record (and
   * its locks), and the next sync of the same IDs would resume that finished job (last night's
   * results) instead of making a new one. A run still holding its lock is left alone.
   */
  private async dropFinishedRuns(record: SyncRecord): Promise<void> {
    for (const type of TYPES) {
      const key = record.states?.[type];
      if (key === undefined) continue;
      const run = new StateStore(this.plan.stateDir, key);
      const release = await run.lock(`cleanup after the sync of ${this.plan.ds.name}`).catch(() => undefined);
      if (!release) continue;
      try {
        await run.remove();
        await dropStaleResultsLock(run, record.results[type]);
      } finally {
        await release();
      }
    }
  }

  /** After a crash between the rename and the ledger line: the counts recorded with the output. */
  private recount(record: SyncRecord): Counted {
    if (record.counts) return record.counts;
    throw new CliError(`the sync record ${this.store.file} has the output's fingerprint but not its counts; remove it and run the sync again.`, ExitCode.refused);
  }

  private async finish(record: SyncRecord, output: Fingerprint, c: Counted): Promise<SyncSummary> {
    const { ctx, plan } = this;
    const typeEntry = (type: JobType): LedgerTypeEntry => {
      const s = record.finished[type];
      return {
        jobs: (s?.jobs ?? []).map((j) => ({ id: j.id, ids: j.ids })),
        ids_checked: s?.ids_checked ?? 0,
        ids_needing_action: s?.ids_needing_action ?? 0,
        by_action: s?.by_action ?? {},
        by_reason: s?.by_reason ?? {},
        errors: s?.errors ?? {},
        results_file: s ? record.results[type] : null,
        results_sha256: c.sha[type] ?? null,
      };
    };
    const finishedAt = new Date().toISOString();
    // To the millisecond: two syncs of one key can start in the same second (one with no job
    // takes milliseconds), and a second-stamp made the second one look already recorded.
    const syncId = `${record.key}-${record.startedAt.replace(/[-:]/g, "")}`;
    const entry: LedgerEntry = {
      ledger_version: 1,
      sync_id: syncId,
      started_at: record.startedAt,
      finished_at: finishedAt,
      tool: "compliant",
      tool_version: VERSION,
      api_origin: this.apiOrigin,
      dataset: { path: plan.datasetFull, ...(plan.datasetFiles ? { files: plan.datasetFiles } : {}), bytes: record.dataset.bytes, sha256: record.dataset.sha256, sha256_of: record.dataset.of },
      output: { path: plan.outFull, in_place: plan.inPlace, bytes: output.bytes, sha256: output.sha256, sha256_of: output.of },
      removed_file: plan.removedFull ?? null,
      rehydrate_file: plan.rehydrateFull ?? null,
      types: { tweets: typeEntry("tweets"), users: typeEntry("users") },
      records: c.records,
    };
    // A run killed after its ledger line was written (before its record was removed) is done.
    const already = await ledgerEntryFor(plan.ledgerFull, syncId);
    if (already) {
      ctx.log.info(`the ledger ${shown(ctx.cwd, plan.ledgerFull)} already records this sync (finished ${already.finished_at})`);
      entry.finished_at = already.finished_at;
    } else {
      await appendLedger(plan.ledgerFull, entry);
    }
    await this.dropFinishedRuns(record);
    await this.store.remove();
    const summary: SyncSummary = {
      dataset: plan.ds.name,
      output: shown(ctx.cwd, plan.outFull),
      in_place: plan.inPlace,
      ledger: shown(ctx.cwd, plan.ledgerFull),
      removed_file: plan.removedFull === undefined ? null : shown(ctx.cwd, plan.removedFull),
      rehydrate_file: plan.rehydrateFull === undefined ? null : shown(ctx.cwd, plan.rehydrateFull),
      types: {
        tweets: { ids_checked: entry.types.tweets.ids_checked, ids_needing_action: entry.types.tweets.ids_needing_action, jobs: entry.types.tweets.jobs.map((j) => j.id), results_file: entry.types.tweets.results_file && shown(ctx.cwd, entry.types.tweets.results_file) },
        users: { ids_checked: entry.types.users.ids_checked, ids_needing_action: entry.types.users.ids_needing_action, jobs: entry.types.users.jobs.map((j) => j.id), results_file: entry.types.users.results_file && shown(ctx.cwd, entry.types.users.results_file) },
      },
      records: c.records,
      started_at: record.startedAt,
      finished_at: entry.finished_at,
    };
    return summary;
  }
}

/** The summary as stderr lines. */
export function syncText(s: SyncSummary): string {
  const t = s.types;
  const r = s.records;
  const jobs = (j: string[]) => (j.length ? ` (job ${j.join(", ")})` : " (no job: none in the dataset)");
  return [
    `Posts: ${t.tweets.ids_checked} IDs checked${jobs(t.tweets.jobs)}, ${t.tweets.ids_needing_action} needing action`,
    `users: ${t.users.ids_checked} IDs checked${jobs(t.users.jobs)}, ${t.users.ids_needing_action} needing action`,
    `records: ${r.read} read; removed ${r.removed_for_own_event} for their own event and ${r.removed_for_author} for their author's; scrubbed ${r.scrubbed}${r.rehydrate ? `; ${r.rehydrate} kept out of date (edited: ${s.rehydrate_file ? `IDs listed in ${s.rehydrate_file}` : "pass --rehydrate <file> to list them for fetching again"})` : ""}`,
    `wrote ${s.output}${s.in_place ? " (in place)" : ""}${[s.removed_file, s.rehydrate_file].filter((f) => f !== null).map((f) => ` and ${f}`).join("")}; recorded in ${s.ledger}`,
  ]
    .map(forTerminal)
    .concat("")
    .join("\n");
}
