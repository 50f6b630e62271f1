import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { lstat, open, realpath } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import { CancelUnsupportedError, type ComplianceApi } from "../api/client.js";
import { ApiError } from "../api/errors.js";
import type { Job, JobType } from "../api/schemas.js";
import { resolveStateDir } from "../config.js";
import type { Context } from "../context.js";
import { CliError, ExitCode, InterruptedError, TimeoutError, UsageError } from "../errors.js";
import { partialPath, renameIntoPlace } from "../io/atomic-file.js";
import { readRange, type DownloadStats } from "../io/download.js";
import type { PreparedIds } from "../io/ids.js";
import { emptyStats, mergeStats, type ResultStats } from "../io/result-stats.js";
import { MAX_LINES_PER_ID, ResultParser } from "../io/results.js";
import { displayPath, displayTarget, openInPlace, refuseSameFile, resultsTarget, targetName, type ResultsTarget } from "../io/target.js";
import { forTerminal } from "../output/escape.js";
import { invalidIdsWarning, summaryFrom, type RunSummary } from "../output/render.js";
import { checkName, originOf, RunJobCreator } from "./create.js";
import { fetchResults } from "./download.js";
import { assertComplete, defaultIntervalMs, waitForJob } from "./poll.js";
import { dropStaleResultsLock, runKey, StateStore, type PartState, type RunState } from "./state.js";
import { checkUploadable, UploadHostChangedError, uploadPart, UploadUrlExpiredError, validateIds } from "./upload.js";

/** What a run of `compliant all` (or the library's runAll) is told. */
export interface AllOptions {
  type: JobType;
  name?: string;
  /** The ID file, or `-` for stdin. */
  idsFile: string;
  /** The results file, or `-` for stdout. */
  resultsFile: string;
  interval?: number;
  timeout?: number;
  dedupe?: boolean;
  maxIdsPerJob?: number;
  resumable?: boolean;
  waitForActive?: boolean;
  force?: boolean;
  resume?: boolean;
  /** The run talks to the built-in emulator (polls every second unless --interval says otherwise). */
  emulator?: boolean;
  stateDir?: string;
  /**
   * sync keeps its results in a folder of the state folder that it owns (results/): only that
   * caller may write there. Not a CLI flag.
   */
  resultsInStateDir?: boolean;
  /**
   * Told the summary once the results are in place, before the run's record is removed: a caller
   * that records it (sync) then never runs the same IDs again after a crash between the two. It
   * is told the record's key too, to remove a record such a crash left (the next run of the same
   * IDs would otherwise resume this finished job instead of making a new one).
   */
  onFinished?: (summary: RunSummary, run: { stateKey: string }) => Promise<void>;
  /** The command a user runs again to resume (sync's runs are resumed by `compliant sync`). Not a CLI flag. */
  resumeCommand?: string;
}

/**
 * `compliant all`: validate → create → upload → poll → download → summary, for one job or for a
 * split input's sequential jobs. Every step is recorded, so the same command run again resumes.
 * Resolves to the summary (`compliant all --json` prints it); the caller shows it.
 */
export async function runAll(ctx: Context, opts: AllOptions): Promise<RunSummary> {
  checkName(opts.name);
  // Preflight: nothing is created until the results path and the whole ID file are known good.
  const target = await resultsTarget(ctx.cwd, opts.resultsFile, opts.force);
  if (opts.idsFile !== "-" && target.kind !== "stdout") {
    await refuseSameFile([{ full: target.path, what: "results file" }], [{ full: resolve(ctx.cwd, opts.idsFile), what: "ID file" }]);
  }
  if (target.kind !== "stdout" && !opts.resultsInStateDir) await refuseInStateDir(target.path, resolveStateDir(opts.stateDir, ctx.env));
  const ids = await validateIds(opts.idsFile, ctx, { dedupe: opts.dedupe, maxIdsPerJob: opts.maxIdsPerJob });
  let releaseLock: (() => Promise<void>) | undefined;
  let releaseResults: (() => Promise<void>) | undefined;
  try {
    // The default name tells runs apart by content and split, so one never adopts another's job.
    const name = opts.name ?? `compliant-${ids.sha256.slice(0, 12)}${opts.maxIdsPerJob ? `-m${opts.maxIdsPerJob}` : ""}`;
    // Credentials first: a run that cannot talk to the API must leave no state or lock behind.
    const api = await ctx.api();
    const store = new StateStore(resolveStateDir(opts.stateDir, ctx.env), runKey(api.apiUrl, opts.type, name, ids.sha256, opts.maxIdsPerJob));
    releaseLock = await store.lock(`${opts.type} job ${JSON.stringify(name)} on ${ids.source}`);
    // Another run (another type, other IDs) given the same results file would overwrite this one's.
    if (target.kind !== "stdout") releaseResults = await store.lockResults(target.path, displayTarget(ctx.cwd, target), `compliant all --type ${opts.type} on ${ids.source}`);
    const state = await loadOrStart(store, opts, ctx, { name, ids, target: targetName(target) });
    const runner = new AllRun(api, ctx, opts, store, state, ids, target);
    const stats = await runner.go();
    const summary = summaryFrom(
      state.parts.map((p) => ({ id: p.jobId!, type: opts.type, name, status: "complete", ids: p.ids })),
      displayTarget(ctx.cwd, target),
      ids.ids,
      ids.duplicates,
      stats,
    );
    await opts.onFinished?.(summary, { stateKey: store.key });
    await store.remove();
    // Not a failure (the run did what it could): the IDs are named so they can be looked at.
    const invalid = invalidIdsWarning(summary);
    if (invalid !== undefined) ctx.log.warn(invalid);
    return summary;
  } finally {
    await releaseResults?.();
    await releaseLock?.();
    await ids.cleanup();
  }
}

async function loadOrStart(
  store: StateStore,
  opts: AllOptions,
  ctx: Context,
  run: { name: string; ids: PreparedIds; target: string },
): Promise<RunState> {
  const saved = opts.resume === false ? undefined : await store.load();
  if (saved) {
    // The key is a digest of these; a record that disagrees was altered or is another run's.
    if (saved.type !== opts.type || saved.name !== run.name || saved.idsSha256 !== run.ids.sha256) {
      throw store.damaged("it was written for another type, name or ID file");
    }
    if (saved.parts.length !== run.ids.parts.length || saved.parts.some((p, i) => p.ids !== run.ids.parts[i]!.ids)) {
      throw store.damaged(`it splits the IDs into ${saved.parts.length} job(s) of other sizes than this run's ${run.ids.parts.length}`);
    }
    if (saved.resultsFile !== run.target) {
      // The saved job belongs to these IDs, not to a path: resume it and write where this run is
      // told to. What the earlier run downloaded went to its own file, so it is fetched again.
      saved.parts = saved.parts.map((p) => ({
        index: p.index,
        ids: p.ids,
        stage: p.stage === "downloaded" ? "complete" : p.stage,
        ...(p.jobId !== undefined ? { jobId: p.jobId } : {}),
        ...(p.session !== undefined ? { session: p.session } : {}),
        ...(p.createAttempt !== undefined ? { createAttempt: p.createAttempt } : {}),
        ...(p.uploadOrigin !== undefined ? { uploadOrigin: p.uploadOrigin } : {}),
      }));
      ctx.log.info(`the earlier run of these IDs wrote to ${displayPath(ctx.cwd, saved.resultsFile)}; this run resumes its job and writes to ${displayPath(ctx.cwd, run.target)} instead`);
      if (saved.resultsFile !== "-") await dropStaleResultsLock(store, saved.resultsFile);
      saved.resultsFile = run.target;
      await store.save(saved);
    }
    const jobs = saved.parts.filter((p) => p.jobId).map((p) => `${p.jobId} (${p.stage})`);
    // A run that stopped before creating anything has nothing to resume worth mentioning.
    if (jobs.length) ctx.log.info(`resuming the earlier run from ${store.file}: job ${jobs.join(", ")}`);
    return saved;
  }
  if (opts.resume === false) await store.remove();
  const now = new Date().toISOString();
  const state: RunState = {
    version: 1,
    key: store.key,
    type: opts.type,
    name: run.name,
    idsSha256: run.ids.sha256,
    resultsFile: run.target,
    startedAt: now,
    updatedAt: now,
    parts: run.ids.parts.map((p) => ({ index: p.index, ids: p.ids, stage: "pending" })),
  };
  await store.save(state);
  return state;
}

class AllRun {
  private readonly deadline?: number;
  private readonly creator: RunJobCreator;
  private replacedExpired = false;
  /** The results file's absolute path, or undefined for stdout. */
  private readonly path: string | undefined;

  constructor(
    private readonly api: ComplianceApi,
    private readonly ctx: Context,
    private readonly opts: AllOptions,
    private readonly store: StateStore,
    private readonly state: RunState,
    private readonly ids: PreparedIds,
    private readonly target: ResultsTarget,
  ) {
    this.deadline = opts.timeout !== undefined ? Date.now() + opts.timeout * 1000 : undefined;
    this.path = target.kind === "stdout" ? undefined : target.path;
    this.creator = new RunJobCreator(api, ctx, store, state, {
      type: opts.type,
      resumable: opts.resumable,
      waitForActive: opts.waitForActive,
      intervalMs: defaultIntervalMs(opts.interval, opts.emulator),
      deadline: this.deadline,
      timeoutMs: opts.timeout !== undefined ? opts.timeout * 1000 : undefined,
    });
  }

  /** The `.partial` a regular results file is written through. */
  private get partial(): string {
    return partialPath(this.path!);
  }

  private get resumeHint(): string {
    return `run the same \`${this.opts.resumeCommand ?? "compliant all"}\` command again to resume`;
  }

  async go() {
    const total = emptyStats();
    const parts = this.state.parts;
    const split = parts.length > 1;
    // stdout and a device or FIFO given with --force are written as a stream: no .partial, no rename.
    const special = this.target.kind === "device";
    const streamed = this.target.kind !== "file";
    let sink: Awaited<ReturnType<typeof openInPlace>> | undefined;
    let base = 0;
    try {
      if (streamed) await this.reemitDownloaded();
      sink = special ? await openInPlace(this.path!) : undefined;
      // Parts an earlier run downloaded are checked against the length and SHA-256 it recorded
      // before they count or anything is appended after them; from the first one that does not
      // match (or is gone), every part is downloaded again.
      const holder = split && !streamed && !(await exists(this.partial)) ? this.path : undefined;
      const counted: Array<ResultStats | undefined> = [];
      for (let at = 0, i = 0; i < parts.length && parts[i]!.stage === "downloaded"; i++) {
        const part = parts[i]!;
        const stats = await this.countPart(part, at, holder);
        if (!stats) {
          const where = holder ?? (split ? this.partial : this.path!);
          this.ctx.log.warn(`the results of job ${part.jobId} are no longer what this run wrote to ${displayPath(this.ctx.cwd, where)}; downloading them again`);
          // A finished file that does not hold every part is not built on: all parts are fetched again.
          if (holder !== undefined) counted.length = 0;
          break;
        }
        counted.push(stats);
        at += part.resultBytes ?? 0;
      }
      const renamed = holder !== undefined && counted.length === parts.length;
      // The .partial the parts were written to: only that file is renamed into place.
      let written: DownloadStats["file"];
      for (const part of parts) {
        const label = split ? ` (part ${part.index + 1} of ${parts.length})` : "";
        let stats = counted[part.index];
        if (!stats) {
          if (part.stage === "downloaded") {
            part.stage = "complete";
            delete part.resultBytes;
            delete part.resultSha256;
          }
          const got = await this.runPart(part, label, base, streamed ? (sink?.stream ?? this.ctx.stdout) : undefined);
          written = got.file ?? written;
          stats = got;
        }
        mergeStats(total, stats);
        base += part.resultBytes ?? 0;
      }
      if (!streamed && split && !renamed) {
        // Every part is in the .partial now; it becomes the results file in one rename.
        await renameIntoPlace(this.partial, this.path!, this.opts.force, written);
      }
      return total;
    } catch (err) {
      // The first failure is the one to report, not a write error the closing stream repeats.
      await sink?.close().catch(() => undefined);
      sink = undefined;
      this.explain(err);
      throw err;
    } finally {
      await sink?.close();
    }
  }

  /** Before a part is appended to the .partial, the parts before it must still be what was written. */
  private async checkEarlierParts(index: number): Promise<void> {
    for (let at = 0, i = 0; i < index; i++) {
      const part = this.state.parts[i]!;
      if (!(await this.countPart(part, at, undefined))) {
        throw new CliError(
          `${this.partial} changed while this run was writing it (the results of job ${part.jobId} in it are not what was written); run the same command again: the parts it holds are checked and any damaged one is downloaded again.`,
          ExitCode.transient,
        );
      }
      at += part.resultBytes ?? 0;
    }
  }

  /**
   * A streamed run cannot see what an earlier run emitted, so parts it downloaded are downloaded
   * and emitted again; when one of them can no longer be downloaded, nothing is emitted at all.
   */
  private async reemitDownloaded(): Promise<void> {
    for (const part of this.state.parts) {
      if (part.stage !== "downloaded") continue;
      const job = part.jobId ? await this.api.getJob(part.jobId, this.ctx.signal) : undefined;
      if (!job || job.status !== "complete" || Date.parse(job.download_expires_at) <= Date.now()) {
        throw new CliError(
          `the earlier run already wrote the results of job ${part.jobId} (part ${part.index + 1} of ${this.state.parts.length}) to its output, and they can no longer be downloaded to write them again${job ? ` (the job is ${forTerminal(job.status)}, download URL until ${job.download_expires_at})` : ""}, so this run cannot produce a complete result set on ${this.path ?? "stdout"}; run the command with --no-resume to start over with new jobs.`,
          ExitCode.refused,
        );
      }
      part.stage = "complete";
      delete part.resultBytes;
      delete part.resultSha256;
    }
  }

  private async runPart(part: PartState, label: string, base: number, stream?: NodeJS.WritableStream): Promise<DownloadStats> {
    let job = part.jobId ? await this.api.getJob(part.jobId, this.ctx.signal) : undefined;
    if (job && (job.status === "failed" || job.status === "expired") && part.stage !== "complete") {
      const why = job.error ? ` (${forTerminal(job.error)})` : job.status === "failed" ? " (with no reason given: it may have been cancelled, which ends a job failed)" : "";
      this.ctx.log.warn(`the earlier job ${job.id} ended ${forTerminal(job.status)}${why}; starting a new job for these IDs`);
      job = undefined;
    }
    if (!job) job = await this.creator.createFor(part, label);

    if (job.status === "created") {
      // A recorded upload that the API never saw (the job still waits for its IDs) did not
      // happen as far as the results are concerned: polling would wait for ever, so send again.
      if (part.stage === "uploaded") this.ctx.log.warn(`job ${job.id}${label} is still waiting for its IDs although ${this.store.file} records their upload; uploading them again`);
      job = await this.upload(job, part, label);
    }

    if (job.status !== "complete") {
      job = await waitForJob(this.api, job.id, {
        first: job,
        intervalMs: defaultIntervalMs(this.opts.interval, this.opts.emulator),
        timeoutMs: this.deadline !== undefined ? Math.max(0, this.deadline - Date.now()) : undefined,
        signal: this.ctx.signal,
        timeoutLabelMs: this.opts.timeout !== undefined ? this.opts.timeout * 1000 : undefined,
        resumeHint: `${this.opts.resumeCommand ?? "compliant all"} … (the same command)`,
        onPoll: (j, changed, next) => {
          if (changed) this.ctx.log.info(`job ${j.id}${label} is ${forTerminal(j.status)}`);
          if (changed && next) this.ctx.log.progress(`waiting for job ${j.id}${label}; next check in ${Math.round(next / 1000)} s`);
          else if (!changed) this.ctx.log.progress(`job ${j.id}${label} is still ${forTerminal(j.status)}${next ? `; next check in ${Math.round(next / 1000)} s` : ""}`);
        },
        onSlowDown: (ms) => this.ctx.log.debug(`polling every ${Math.round(ms / 1000)} s to stay within the rate limit`),
      });
      assertComplete(job);
      part.stage = "complete";
      await this.store.save(this.state);
    }
    if (Date.parse(job.download_expires_at) <= Date.now()) throw this.downloadExpired(job);

    const last = part.index === this.state.parts.length - 1;
    const streamed = stream !== undefined;
    if (!streamed && base > 0) await this.checkEarlierParts(part.index);
    const jobId = job.id;
    let savedAt = 0;
    const stats = await fetchResults(this.api, job, this.ctx, {
      to: stream ? { stream } : { file: this.path! },
      shownAs: displayTarget(this.ctx.cwd, this.target),
      force: this.opts.force,
      baseOffset: base,
      // Only what this job's own download recorded is continued; anything else is downloaded afresh.
      resumeFrom: !streamed && part.partial?.jobId === jobId ? part.partial : undefined,
      onCheckpoint: streamed
        ? undefined
        : (cp, last) => {
            part.partial = { jobId, ...cp };
            // A checkpoint a little behind the file is still a valid place to resume from.
            if (!last && cp.bytes > 0 && Date.now() - savedAt < 500) return;
            savedAt = Date.now();
            return this.store.save(this.state);
          },
      limit: { lines: part.ids, perId: MAX_LINES_PER_ID, why: `the ${part.ids.toLocaleString("en-US")} IDs uploaded for it` },
      endWithNewline: this.state.parts.length > 1,
      finalize: last && this.state.parts.length === 1,
      label: `downloading the results of job ${job.id}${label}`,
    });
    part.resultBytes = stats.bytes;
    part.resultSha256 = stats.sha256;
    delete part.partial;
    part.stage = "downloaded";
    await this.store.save(this.state);
    return stats;
  }

  /**
   * Results already on disk are counted from the file, so a resumed run reports every part; they
   * count only when their length and SHA-256 are still those recorded (undefined otherwise).
   */
  private async countPart(part: PartState, base: number, holder: string | undefined): Promise<ResultStats | undefined> {
    if (part.resultSha256 === undefined || part.resultBytes === undefined) return undefined;
    const path = holder ?? (this.state.parts.length === 1 ? this.path! : this.partial);
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
    if (!fh) return undefined;
    try {
      const parser = new ResultParser(`the results of job ${part.jobId}`, undefined, undefined, "reread");
      const sha = createHash("sha256");
      const block = Buffer.alloc(1 << 20);
      for (let done = 0; done < part.resultBytes; ) {
        const { bytesRead } = await fh.read(block, 0, Math.min(block.length, part.resultBytes - done), base + done);
        if (bytesRead === 0) return undefined;
        const chunk = block.subarray(0, bytesRead);
        sha.update(chunk);
        parser.push(chunk);
        done += bytesRead;
      }
      if (sha.digest("hex") !== part.resultSha256) return undefined;
      parser.end();
      const stats = await parser.finishDistinct(() => readRange(fh, base, part.resultBytes!));
      stats.bytes = part.resultBytes;
      return stats;
    } catch (err) {
      if (err instanceof CliError) return undefined;
      throw err;
    } finally {
      await fh.close();
    }
  }

  /** Results stay downloadable about 7 days; after that only a new job can produce them. */
  private downloadExpired(job: Job): CliError {
    return new CliError(
      `the results of job ${job.id} can no longer be downloaded: its download URL expired at ${job.download_expires_at} (about 7 days after the job was made); the state of this run is kept in ${this.store.file}, and running the command again with --no-resume starts a new job for these IDs.`,
      ExitCode.refused,
    );
  }

  private async upload(job: Job, part: PartState, label: string): Promise<Job> {
    const idPart = this.ids.parts[part.index]!;
    for (;;) {
      try {
        if (part.uploadOrigin !== undefined && originOf(job.upload_url) !== part.uploadOrigin) throw new UploadHostChangedError(job, part.uploadOrigin);
        checkUploadable(job, Date.now());
        await uploadPart(this.api, job, this.ids, idPart, this.ctx, {
          uri: part.session,
          save: (uri) => {
            part.session = uri;
            this.store.save(this.state).catch((e: unknown) => this.ctx.log.warn(`could not record the upload session in ${this.store.file}: ${(e as Error).message}`));
          },
        });
        part.stage = "uploaded";
        delete part.session;
        await this.store.save(this.state);
        return { ...job, status: "in_progress" };
      } catch (err) {
        const expired = err instanceof UploadUrlExpiredError || (err instanceof ApiError && err.storage?.code === "ExpiredToken");
        if (err instanceof ApiError && err.status === 413) {
          // The job can never take this upload; don't leave it blocking the type for 15 minutes.
          await this.api.cancelJob(job.id, this.ctx.signal).catch(() => undefined);
          throw new CliError(
            `the API refused the upload for job ${job.id} as too large (413); pass a smaller --max-ids-per-job to split the IDs across more jobs.`,
            ExitCode.refused,
          );
        }
        if (!expired || this.replacedExpired) throw err;
        // An upload URL is never renewed, so the only remedy is a new job; do it once.
        this.replacedExpired = true;
        this.ctx.log.warn(`the upload URL of job ${job.id} expired before the upload; replacing it with a new job`);
        await this.api.cancelJob(job.id, this.ctx.signal).catch((e: unknown) => {
          if (!(e instanceof CancelUnsupportedError)) this.ctx.log.warn(`could not cancel job ${job.id}: ${(e as Error).message}`);
        });
        job = await this.creator.createFor(part, label);
      }
    }
  }

  /** On the way out: say what is left behind and how to continue. */
  private explain(err: unknown): void {
    const jobs = this.state.parts.filter((p) => p.jobId && p.stage !== "downloaded").map((p) => p.jobId);
    const job = jobs.length ? `job ${jobs.join(", ")} ` : "";
    // A signal surfaces as whatever the aborted operation threw (often a plain AbortError whose
    // cause is the InterruptedError), so the signal itself decides whether this was an interruption.
    const interrupted = err instanceof InterruptedError || this.ctx.signal?.aborted === true;
    if (interrupted || err instanceof TimeoutError || (err instanceof CliError && err.exitCode === ExitCode.transient)) {
      this.ctx.log.info(`${job ? `${job}is left as it is; ` : ""}state kept in ${this.store.file}; ${this.resumeHint}`);
    } else if (err instanceof ApiError && err.storage && (err.storage.code === "ExpiredToken" || /expired/i.test(err.storage.message ?? ""))) {
      // Signed URLs are never renewed: resuming would meet the same refusal every time.
      this.ctx.log.info(`${job || "the job "}cannot be used any more: its signed URL expired; state kept in ${this.store.file}; run the command again with --no-resume to start a new job for these IDs`);
    } else if (err instanceof CliError && err.exitCode === ExitCode.jobFailed) {
      this.ctx.log.info(`state kept in ${this.store.file}; running the same command again starts a new job for these IDs`);
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

/**
 * The state folder holds this tool's records, locks and temporary files under names it chooses,
 * and removes them when a run ends: a results file there could be one of them (it would be
 * overwritten by the record and then deleted, after a run that exits 0), so it is refused.
 */
async function refuseInStateDir(target: string, stateDir: string): Promise<void> {
  const real = async (p: string) => realpath(p).catch(() => resolve(p));
  const dir = await real(stateDir);
  const where = await real(dirname(target));
  if (where === dir || where.startsWith(dir.endsWith(sep) ? dir : dir + sep)) {
    throw new UsageError(
      `the results file ${target} is inside the state folder ${stateDir}, whose files compliant replaces and removes itself; nothing was created. Write the results elsewhere, or pass another --state-dir.`,
    );
  }
}
