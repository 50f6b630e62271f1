// The library entry point: `import { ComplianceClient, runAll } from "compliant"`.
//
// Both run the CLI's own code (the same validation, uploads, downloads, resumable state and
// messages) with a Context built here instead of from argv: nothing is printed unless `log` is
// given, and every failure rejects with a CliError whose `exitCode` is the one the CLI would exit
// with. Nothing here changes process-wide settings (the binary's V8 tuning lives in runtime.ts
// and is applied only by bin/compliant.js).

import { Readable, Writable } from "node:stream";
import type { ComplianceApi } from "./api/client.js";
import { JOB_STATUSES, JOB_TYPES, type Job, type JobType, type KnownJobStatus } from "./api/schemas.js";
import { MAX_INTERVAL_S, MAX_TIMEOUT_S } from "./commands/options.js";
import { VERSION } from "./version.js";
import { checkToken, resolveApiUrl, type GlobalFlags } from "./config.js";
import type { Context } from "./context.js";
import { CliError, ExitCode, InterruptedError, systemError, UsageError } from "./errors.js";
import type { DownloadSummary } from "./jobs/download.js";
import { createLog, type Log } from "./output/log.js";
import type { RunSummary } from "./output/render.js";
import { terminalPolicy } from "./output/terminal.js";

export { CliError, ExitCode, UsageError } from "./errors.js";
export type { ExitCodeValue } from "./errors.js";
export type { Job, JobType, KnownJobStatus } from "./api/schemas.js";
export type { RunSummary } from "./output/render.js";

export interface ClientOptions {
  /** API base URL; default https://api.x.com. Plain http only for loopback (the token goes there). */
  apiUrl?: string;
  /** The App-only bearer token. */
  token: string;
  /** Progress, notes and warnings, one line each, as the CLI prints them on stderr (default: none). */
  log?: NodeJS.WritableStream;
  /** Stops every request, poll and stream; the call rejects with exit code 130. */
  signal?: AbortSignal;
  /** Relative paths are resolved against this folder (default: process.cwd() at each call). */
  cwd?: string;
}

/** What `uploadIds` sent. */
export interface UploadSummary {
  id: string;
  ids: number;
  bytes: number;
  duplicates: number;
}

/** What `downloadResults` wrote (the same object `compliant download --json` prints). */
export type { DownloadSummary } from "./jobs/download.js";

export interface RunAllOptions extends Omit<ClientOptions, "token"> {
  token: string;
  type: JobType;
  /** File of Post or user IDs, one per line. */
  idsFile: string;
  /** Where the NDJSON results are written (atomically: a `.partial` renamed into place). */
  resultsFile: string;
  name?: string;
  /** Seconds between status polls (0.01 to 3600; default 30). */
  intervalSeconds?: number;
  /** Stop waiting after this many seconds (rejects with exit code 7; the next run resumes). */
  timeoutSeconds?: number;
  /** Where resumable run state is kept (default $XDG_STATE_HOME/compliant). */
  stateDir?: string;
  /** Overwrite an existing results file. */
  force?: boolean;
}

function usage(message: string): never {
  throw new UsageError(message);
}

function checkType(type: unknown, what: string): JobType {
  if (typeof type !== "string" || !(JOB_TYPES as readonly string[]).includes(type)) {
    usage(`${what}: type must be "tweets" or "users" (got ${JSON.stringify(type)}).`);
  }
  return type as JobType;
}

function checkPath(path: unknown, what: string): string {
  if (typeof path !== "string" || path === "" || path === "-") {
    usage(`${what} must be a file path (got ${JSON.stringify(path)}); the library reads and writes files, not stdin or stdout.`);
  }
  return path;
}

function checkSeconds(value: unknown, what: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0.01 || value > max) {
    usage(`${what} must be a number of seconds from 0.01 to ${max} (got ${JSON.stringify(value)}).`);
  }
  return value;
}

function checkJobId(id: unknown): string {
  if (typeof id !== "string" || !/^[0-9]{1,19}$/.test(id)) usage(`a job id is 1–19 digits (got ${JSON.stringify(id)}).`);
  return id;
}

/** A writable that drops everything (the library prints nothing unless asked). */
function sink(): Writable {
  return new Writable({ write: (_chunk, _enc, cb) => cb() });
}

/** Any failure as the CLI would report it: a CliError carrying its exit code. */
function asCliError(err: unknown, signal: AbortSignal | undefined, resumes: boolean): CliError {
  if (err instanceof CliError) return err;
  if (signal?.aborted) return new InterruptedError("SIGINT", "interrupted: the AbortSignal passed in was aborted");
  const system = systemError(err, { resumes });
  if (system) return system;
  const message = err instanceof Error ? err.message : String(err);
  return new CliError(`internal error: ${message}. This is a bug; please report it (compliant ${VERSION}, Node ${process.version}).`, ExitCode.internal, { cause: err });
}

/** A run's Context, as cli.ts builds one from argv, from options instead. */
class Session {
  readonly apiUrl: string;
  private readonly apiOrigin: string;
  private readonly token: string;
  private api?: ComplianceApi;
  readonly signal: AbortSignal;
  /** One log for the session, so the client's retry and rate-limit warnings reach `log` too. */
  private readonly log: Log;

  constructor(
    private readonly opts: ClientOptions,
    what: string,
  ) {
    if (opts === null || typeof opts !== "object") usage(`${what} needs an options object with at least a token.`);
    if (typeof opts.token !== "string" || opts.token.trim() === "") usage(`${what}: token must be the App's bearer token (a non-empty string).`);
    this.token = checkToken(opts.token.trim(), `the token passed to ${what}`);
    if (opts.apiUrl !== undefined && typeof opts.apiUrl !== "string") usage(`${what}: apiUrl must be a string such as https://api.x.com.`);
    ({ apiUrl: this.apiUrl, apiOrigin: this.apiOrigin } = resolveApiUrl(opts.apiUrl, {}));
    this.signal = opts.signal ?? new AbortController().signal;
    this.log = createLog({ policy: terminalPolicy({ quiet: opts.log === undefined }, {}, false), stderr: opts.log ?? sink() });
  }

  context(flags: GlobalFlags = {}): Context {
    const allFlags: GlobalFlags = { ...flags, quiet: this.opts.log === undefined };
    const log = this.log;
    const stderr = this.opts.log ?? sink();
    const signal = this.signal;
    return {
      flags: allFlags,
      // Only what the CLI's code reads for a library run: where `runAll` keeps its state by default.
      env: process.env.XDG_STATE_HOME !== undefined ? { XDG_STATE_HOME: process.env.XDG_STATE_HOME } : {},
      cwd: this.opts.cwd ?? process.cwd(),
      stdin: Readable.from([]),
      stdout: sink(),
      stderr,
      log,
      signal,
      api: () => this.client(),
    };
  }

  async client(): Promise<ComplianceApi> {
    if (this.api) return this.api;
    const log = this.log;
    // Loaded on first use, as the CLI does (zod and undici take a while).
    const { ComplianceApi } = await import("./api/client.js");
    this.api = new ComplianceApi(this.apiUrl, {
      apiOrigin: this.apiOrigin,
      token: this.token,
      userAgent: `compliant/${VERSION}`,
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      debug: (m) => log.debug(m),
      onRateLimit: ({ what, waitMs }) => log.warn(`rate-limited while trying to ${what}; waiting ${Math.ceil(waitMs / 1000)} s`),
      onRetry: ({ what, attempt, waitMs, reason }) => log.warn(`could not ${what} (${reason}); retry ${attempt} in ${(waitMs / 1000).toFixed(1)} s`),
    });
    return this.api;
  }

  async close(): Promise<void> {
    const api = this.api;
    this.api = undefined;
    await api?.close();
  }

  async run<T>(resumes: boolean, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw asCliError(err, this.opts.signal, resumes);
    } finally {
      this.log.done();
    }
  }
}

/**
 * The X API v2 batch compliance endpoints, with the CLI's checks: every input is validated before
 * a request is made, and every failure is a CliError carrying the CLI's exit code. Call close()
 * when done (it ends the keep-alive connections).
 */
export class ComplianceClient {
  private readonly session: Session;

  constructor(options: ClientOptions) {
    this.session = new Session(options, "ComplianceClient");
  }

  /** The API base URL requests go to. */
  get apiUrl(): string {
    return this.session.apiUrl;
  }

  /** Creates a job (POST /2/compliance/jobs); its upload URL lasts 15 minutes. */
  createJob(input: { type: JobType; name?: string; resumable?: boolean }): Promise<Job> {
    return this.session.run(false, async () => {
      const type = checkType(input?.type, "createJob");
      if (input.name !== undefined) {
        if (typeof input.name !== "string") usage("createJob: name must be a string of 1–64 characters.");
        const { checkName } = await import("./jobs/create.js");
        checkName(input.name);
      }
      const api = await this.session.client();
      return api.createJob({ type, ...(input.name !== undefined ? { name: input.name } : {}), ...(input.resumable ? { resumable: true } : {}) }, this.session.signal);
    });
  }

  /** Recent jobs of one type, optionally of one status. */
  listJobs(input: { type: JobType; status?: KnownJobStatus }): Promise<Job[]> {
    return this.session.run(false, async () => {
      const type = checkType(input?.type, "listJobs");
      if (input.status !== undefined && !(JOB_STATUSES as readonly string[]).includes(input.status)) {
        usage(`listJobs: status must be one of ${JOB_STATUSES.join(", ")} (got ${JSON.stringify(input.status)}).`);
      }
      const api = await this.session.client();
      return api.listJobs(type, input.status, this.session.signal);
    });
  }

  /** One job by id. */
  getJob(id: string): Promise<Job> {
    return this.session.run(false, async () => (await this.session.client()).getJob(checkJobId(id), this.session.signal));
  }

  /**
   * Validates the whole ID file (one ID of 1–19 digits per line), then uploads it to a job that is
   * still `created` and whose upload URL has not expired. `job` is a Job or its id.
   */
  uploadIds(job: Job | string, path: string): Promise<UploadSummary> {
    return this.session.run(false, async () => {
      const file = checkPath(path, "uploadIds: the ID file");
      const ctx = this.session.context();
      const { uploadFile } = await import("./jobs/upload.js");
      const { resolve } = await import("node:path");
      const { job: found, ids } = await uploadFile(ctx, resolve(ctx.cwd, file), { job: () => this.job(job), tooLarge: "use runAll, which splits it across jobs" });
      return { id: found.id, ids: ids.ids, bytes: ids.uploadBytes, duplicates: ids.duplicates };
    });
  }

  /**
   * Streams a complete job's results to `path`, validating every line; the file appears only
   * when whole (a `.partial` beside it is renamed into place). An existing file needs `force`.
   */
  downloadResults(job: Job | string, path: string, options: { force?: boolean } = {}): Promise<DownloadSummary> {
    return this.session.run(false, async () => {
      const file = checkPath(path, "downloadResults: the results file");
      const ctx = this.session.context();
      const { resultsTarget, targetName } = await import("./io/target.js");
      const target = await resultsTarget(ctx.cwd, file, options.force);
      if (target.kind === "device") usage(`the results path ${file} is not a regular file; give a file path.`);
      const found = await this.job(job);
      const { downloadJob, downloadSummary } = await import("./jobs/download.js");
      const stats = await downloadJob(ctx, await this.session.client(), found, target, { force: options.force, notYet: "wait until it is complete" });
      return downloadSummary(found, targetName(target), stats);
    });
  }

  /**
   * Cancels a job (DELETE /2/compliance/jobs/:id; the job then reads `failed`). Resolves to the
   * cancelled job; rejects with exit code 4 where the API does not support cancelling or the job
   * has already ended.
   */
  cancelJob(id: string): Promise<Job> {
    return this.session.run(false, async () => {
      const { cancelJob } = await import("./jobs/resolve.js");
      await cancelJob(this.session.context(), await this.session.client(), checkJobId(id));
      return (await this.session.client()).getJob(id, this.session.signal);
    });
  }

  /** Ends the client's connections. */
  close(): Promise<void> {
    return this.session.close();
  }

  private async job(job: Job | string): Promise<Job> {
    if (typeof job === "string") return (await this.session.client()).getJob(checkJobId(job), this.session.signal);
    if (job === null || typeof job !== "object" || typeof job.id !== "string") usage("expected a Job (as createJob or getJob returns) or a job id.");
    // A fresh copy: the status and URLs the caller holds may be out of date.
    return (await this.session.client()).getJob(checkJobId(job.id), this.session.signal);
  }
}

/**
 * Does what `compliant all` does: validate the IDs, create (or adopt) a job, upload, wait,
 * download and check the results, resuming an earlier interrupted run of the same IDs. Resolves
 * to the object `compliant all --json` prints; rejects with a CliError carrying the exit code.
 */
export async function runAll(options: RunAllOptions): Promise<RunSummary> {
  const session = new Session(options, "runAll");
  try {
    return await session.run(true, async () => {
      const type = checkType(options.type, "runAll");
      const idsFile = checkPath(options.idsFile, "runAll: idsFile");
      const resultsFile = checkPath(options.resultsFile, "runAll: resultsFile");
      if (options.name !== undefined && typeof options.name !== "string") usage("runAll: name must be a string of 1–64 characters.");
      const interval = checkSeconds(options.intervalSeconds, "runAll: intervalSeconds", MAX_INTERVAL_S);
      const timeout = checkSeconds(options.timeoutSeconds, "runAll: timeoutSeconds", MAX_TIMEOUT_S);
      if (options.stateDir !== undefined && (typeof options.stateDir !== "string" || options.stateDir === "")) usage("runAll: stateDir must be a folder path.");
      const ctx = session.context({ json: true, ...(options.stateDir !== undefined ? { stateDir: options.stateDir } : {}) });
      const { runAll: run } = await import("./jobs/all.js");
      return run(ctx, {
        type,
        idsFile,
        resultsFile,
        ...(options.name !== undefined ? { name: options.name } : {}),
        ...(interval !== undefined ? { interval } : {}),
        ...(timeout !== undefined ? { timeout } : {}),
        ...(options.stateDir !== undefined ? { stateDir: options.stateDir } : {}),
        ...(options.force ? { force: true } : {}),
      });
    });
  } finally {
    await session.close();
  }
}
