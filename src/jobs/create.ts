import type { ComplianceApi, CreateJobInput } from "../api/client.js";
import { ApiError, NetworkError } from "../api/errors.js";
import { DEFAULT_RETRY } from "../api/http.js";
import type { Job, JobType } from "../api/schemas.js";
import { sleep } from "../api/timers.js";
import type { Context } from "../context.js";
import { CliError, ExitCode, UsageError } from "../errors.js";
import { forTerminal } from "../output/escape.js";
import { waitForJob } from "./poll.js";
import { newestFirst } from "./resolve.js";
import type { PartState, RunState, StateStore } from "./state.js";

/**
 * Names are at most 64 characters (`ComplianceJobName` in the spec), counted as Unicode code
 * points, the rule the built-in emulator applies for the API: an emoji is one character, not the
 * two UTF-16 units of a JS string's length.
 */
export function checkName(name: string | undefined): void {
  if (name === undefined) return;
  const length = [...name].length;
  if (length === 0 || length > 64) {
    throw new UsageError(`the job name must be 1–64 characters long (got ${length}); choose a ${length === 0 ? "non-empty" : "shorter"} --name.`);
  }
}

/**
 * The API refused `resumable: true` itself: from September 2026 X's API answered a create with it
 * 400 (its OpenAPI still lists the field). Nothing was created, so the job is made again without
 * it and its IDs go up in one PUT.
 */
export function refusedResumable(err: unknown, input: { resumable?: boolean }): err is ApiError {
  return input.resumable === true && err instanceof ApiError && err.status === 400;
}

/** The warning for a create that falls back from a resumable upload to one PUT. */
export function resumableFallbackNote(err: ApiError): string {
  const detail = err.problem?.detail ?? err.problem?.title;
  return `the API refused a resumable upload (400${detail ? `: ${forTerminal(detail).replace(/\.$/, "")}` : ""}), so nothing was created; creating the job without --resumable, and its IDs go up in one PUT`;
}

/**
 * One create request, for `compliant create` (no run state: the caller sees the answer or the
 * error). `--resumable` on an API that refuses it falls back to a plain job, with a warning.
 */
export async function createJob(ctx: Context, api: ComplianceApi, input: CreateJobInput): Promise<Job> {
  checkName(input.name);
  try {
    return await api.createJob(input, ctx.signal);
  } catch (err) {
    if (!refusedResumable(err, input)) throw err;
    ctx.log.warn(resumableFallbackNote(err));
    return api.createJob({ ...input, resumable: false }, ctx.signal);
  }
}

/** The longest a create request can last: every attempt with a full rate-limit wait and its socket timeouts. */
const MAX_CREATE_REQUEST_MS = DEFAULT_RETRY.maxAttempts * (DEFAULT_RETRY.maxRateLimitWaitMs + 120_000);

export interface RunCreateOptions {
  type: JobType;
  resumable?: boolean;
  /** Wait for another active job of this type to end instead of failing with exit 4. */
  waitForActive?: boolean;
  intervalMs: number;
  /** Epoch ms by which the whole run must be done (`--timeout`), and the timeout as the user gave it. */
  deadline?: number;
  timeoutMs?: number;
}

/**
 * Creates jobs for a recorded run. There is no idempotency key, so a create whose outcome is
 * unknown (no answer, a cut answer, an ambiguous 5xx, or a kill while it was in flight) is
 * recorded in the state before it is sent; only a job with our name made at or after that
 * moment, that no other run in this state folder has recorded, can be ours and is adopted. A 409
 * is a definite answer: this attempt made nothing, so the active job is someone else's.
 */
export class RunJobCreator {
  /** Set once the API has refused `resumable: true`: later parts are not asked for it again. */
  private resumableRefused = false;

  constructor(
    private readonly api: ComplianceApi,
    private readonly ctx: Context,
    private readonly store: StateStore,
    private readonly state: RunState,
    private readonly opts: RunCreateOptions,
  ) {}

  /** Records a job as this part's, replacing any earlier one and its unfinished attempt. */
  async record(part: PartState, job: Job): Promise<void> {
    part.jobId = job.id;
    part.stage = "created";
    part.uploadOrigin = originOf(job.upload_url);
    delete part.session;
    delete part.createAttempt;
    await this.store.save(this.state);
  }

  /** Creates (or adopts) this part's job and records it. */
  async createFor(part: PartState, label: string): Promise<Job> {
    const job = await this.create(part, label);
    await this.record(part, job);
    return job;
  }

  private async create(part: PartState, label: string): Promise<Job> {
    const { api, ctx, store, state, opts } = this;
    const input = { type: opts.type, name: state.name, resumable: opts.resumable && !this.resumableRefused };
    for (;;) {
      if (part.createAttempt) {
        const ours = await this.findOurs(part.createAttempt);
        if (ours) {
          ctx.log.warn(`job ${ours.id}${label} with our name was created by this run's earlier create request (sent at ${part.createAttempt}), whose answer never arrived; using it`);
          return ours;
        }
      }
      // The earlier attempt made nothing still waiting (it would have been listed just now);
      // from here on only this attempt's outcome is unknown, though a 409 looks once more.
      const earlier = part.createAttempt;
      part.createAttempt = new Date().toISOString();
      await store.save(state);
      ctx.log.progress(`creating a ${opts.type} job${label}`);
      try {
        const job = await api.createJob(input, ctx.signal);
        ctx.log.info(`created ${job.type} job ${job.id}${label} (name ${JSON.stringify(job.name ?? state.name)})`);
        return job;
      } catch (err) {
        if (err instanceof ApiError && err.kind === "conflict") {
          // The job that conflicts may be the one an earlier unanswered request made just now.
          const ours = earlier ? await this.findOurs(earlier) : undefined;
          if (ours) {
            ctx.log.warn(`job ${ours.id}${label} with our name was created by this run's earlier create request (sent at ${earlier}), whose answer never arrived; using it`);
            return ours;
          }
          delete part.createAttempt;
          await store.save(state);
          await this.waitForActive();
          continue;
        }
        // The POST may have reached the API even though we saw no answer: adopt our job rather
        // than create a second one. A connection cut while the answer's body was being read
        // surfaces as a bare socket error (the HTTP layer wraps only failures before the
        // headers), so anything that is not a CliError counts as ambiguous too. The attempt
        // stays recorded, so a later run looks for its job first.
        if (ctx.signal?.aborted) throw err;
        const bare = !(err instanceof CliError);
        if (bare || err instanceof NetworkError || (err instanceof ApiError && err.exitCode === ExitCode.transient)) {
          const adopted = await this.findOurs(part.createAttempt).catch(() => undefined);
          if (adopted) {
            ctx.log.warn(`creating the job failed ambiguously, but job ${adopted.id} with our name was created just now; using it`);
            return adopted;
          }
        } else {
          // A definite refusal: this attempt made nothing.
          delete part.createAttempt;
          await store.save(state);
          if (refusedResumable(err, input)) {
            ctx.log.warn(resumableFallbackNote(err));
            this.resumableRefused = true;
            input.resumable = false;
            continue;
          }
        }
        throw bare ? new NetworkError(`create a ${opts.type} job`, err, 1) : err;
      }
    }
  }

  /** After a 409: exit 4 naming the active job, or (--wait-for-active) wait for it to end. */
  private async waitForActive(): Promise<void> {
    const { api, ctx, state, opts } = this;
    const active = await this.activeJob();
    const mine = active?.name === state.name ? ", which has this run's name but was not created by it" : "";
    const which = active ? `job ${active.id}${active.name ? ` (${JSON.stringify(active.name)})` : ""}, ${active.status} since ${active.created_at}${mine}` : "another job";
    if (!opts.waitForActive) {
      throw new CliError(
        `a ${opts.type} job is already active: ${which}; only one may run at a time, so wait for it (pass --wait-for-active to do that automatically) — this tool never cancels or uses someone else's job.`,
        ExitCode.refused,
      );
    }
    ctx.log.info(`${which} is active; waiting for it to end (--wait-for-active)`);
    if (!active) return sleep(opts.intervalMs, ctx.signal);
    await waitForJob(api, active.id, {
      intervalMs: opts.intervalMs,
      timeoutMs: opts.deadline !== undefined ? Math.max(0, opts.deadline - Date.now()) : undefined,
      timeoutLabelMs: opts.timeoutMs,
      signal: ctx.signal,
      onPoll: (j, changed) => (changed ? ctx.log.info(`active job ${j.id} is ${forTerminal(j.status)}`) : ctx.log.progress(`waiting for active job ${j.id}`)),
    });
  }

  private async activeJob(): Promise<Job | undefined> {
    const [created, inProgress] = await Promise.all([
      this.api.listJobs(this.opts.type, "created", this.ctx.signal),
      this.api.listJobs(this.opts.type, "in_progress", this.ctx.signal),
    ]);
    return [...inProgress, ...created].sort(newestFirst)[0];
  }

  /**
   * A job this run's create request sent at `sentAt` can have made: still `created`, with our
   * name, made at or after that moment by the API's clock, and recorded by no run. The API's
   * clock is bounded from below by the listing's `Date` header (the server's time when it
   * answered was at least that, and we received the answer later), so a local clock running
   * ahead of the API's never hides our job and one running behind never admits an older one.
   */
  private async findOurs(sentAt: string): Promise<Job | undefined> {
    const { jobs, apiDate, receivedAt } = await this.api.listJobsDated(this.opts.type, "created", this.ctx.signal);
    // Clocks more than five minutes apart are not corrected for: our own job is then not found
    // (the run fails and says so) rather than an older job admitted on a bogus Date.
    const apiAhead = apiDate !== undefined ? Math.max(apiDate - receivedAt, -300_000) : 0;
    // created_at has whole seconds.
    const since = Math.floor((Date.parse(sentAt) + apiAhead) / 1000) * 1000;
    const others = await this.store.jobsOfOtherRuns();
    // Nor can it have been made long after: the request, with every rate-limit wait and retry
    // the HTTP layer allows, is over by then (this keeps a later run on another machine with
    // the same --name from being taken for an attempt recorded days ago).
    const until = since + MAX_CREATE_REQUEST_MS;
    return jobs
      .filter((j) => j.status === "created" && j.name === this.state.name && Date.parse(j.created_at) >= since && Date.parse(j.created_at) <= until)
      .filter((j) => !others.has(j.id) && !this.state.parts.some((p) => p.jobId === j.id))
      .sort(newestFirst)[0];
  }
}

/** The origin of a URL (scheme, host and port), or the URL itself when it does not parse. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
