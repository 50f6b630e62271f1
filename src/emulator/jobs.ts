// The job store: every compliance job the emulator knows, its lifecycle (created → in_progress →
// complete/failed, or expired when nothing was uploaded within the upload window), its URLs and
// the files that hold its uploaded IDs and its results.

import { rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { processIdFile, type EmulatorFlow, type EmulatorJobType, type ProcessResult } from "./results.js";
import type { UrlSigner } from "./signing.js";
import { isoSeconds, receive, type Ctx } from "./http-util.js";
import type { Clock, EmulatedJobInfo, JobStatus } from "./types.js";

/** The `<n>` part of real object names is constant per app; this is the emulator's "app". */
export const EMULATOR_APP_ID = "1400000000000000001";
/** Upload URLs are valid for 15 minutes; a job with no upload by then expires. */
export const UPLOAD_WINDOW_MS = 15 * 60 * 1000;
/** Download URLs (and results) are valid for 7 days after the job was created. */
export const DOWNLOAD_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/** The storage bucket for each job type; object paths are /<bucket>/<job id>/<kind>/<app>_<job id>. */
export const BUCKETS: Record<EmulatorJobType, string> = { tweets: "twttr-tweet-compliance", users: "twttr-user-compliance" };
const SIMPLE_SIGNED_HEADERS = "content-type;host";
const RESUMABLE_SIGNED_HEADERS = "content-length;content-type;host;x-goog-resumable";
/** Job ids are Twitter snowflakes: milliseconds since this epoch, shifted left by 22 bits. */
const TWITTER_EPOCH_MS = 1288834974657;

export interface Job {
  id: string;
  type: EmulatorJobType;
  name?: string;
  resumable: boolean;
  createdMs: number;
  status: JobStatus;
  error?: string;
  cancelled: boolean;
  polls: number;
  uploadedBytes: number;
  uploadedIds: number;
  uploadUrl: string;
  downloadUrl: string;
  uploadFile: string;
  resultsFile: string;
  processing?: Promise<ProcessResult>;
  completedMs?: number;
}

export interface JobStoreOptions {
  flow: EmulatorFlow;
  clock: Clock;
  signer: UrlSigner;
  /** Where upload, session and results files live. */
  dataDir: string;
  /** Registers background work (results processing) that close() must wait for. */
  track: (p: Promise<unknown>) => void;
}

export class JobStore {
  private readonly jobs = new Map<string, Job>();
  private lastId = 0n;
  private fileSeq = 0;
  /** Origins the job URLs point at; set once both servers listen. */
  apiUrl = "";
  storageUrl = "";

  constructor(private readonly o: JobStoreOptions) {}

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  mustGet(id: string): Job {
    const job = this.jobs.get(id);
    if (job === undefined) throw new Error(`emulator: no job ${id}`);
    return job;
  }

  all(): Job[] {
    return [...this.jobs.values()];
  }

  /** The status a client sees now: a `created` job past its upload window is `expired`. */
  statusOf(job: Job): JobStatus {
    return job.status === "created" && this.o.clock.now() > job.createdMs + UPLOAD_WINDOW_MS ? "expired" : job.status;
  }

  /** A fresh, unique file name in the data directory for `job` (`ext`: "tmp", "part"). */
  newFile(job: Job, ext: string): string {
    return join(this.o.dataDir, `${job.id}.${++this.fileSeq}.${ext}`);
  }

  private nextJobId(now: number): string {
    let v = BigInt(Math.max(0, Math.floor(now) - TWITTER_EPOCH_MS)) << 22n;
    if (v < 10n ** 18n) v += 10n ** 18n;
    if (v <= this.lastId) v = this.lastId + 1n;
    this.lastId = v;
    return v.toString();
  }

  private objectPath(type: EmulatorJobType, id: string, kind: "submission" | "delivery"): string {
    return `/${BUCKETS[type]}/${id}/${kind}/${EMULATOR_APP_ID}_${id}`;
  }

  create(type: EmulatorJobType, name: string | undefined, resumable: boolean): Job {
    const { clock, flow, signer, dataDir } = this.o;
    const now = clock.now();
    const createdMs = Math.floor(now / 1000) * 1000;
    const id = this.nextJobId(now);
    let uploadUrl: string;
    let downloadUrl: string;
    if (flow === "api") {
      // OpenAPI 2.168: byte paths on the API origin that take the bearer header and a signed token.
      uploadUrl = `${this.apiUrl}/2/compliance/jobs/${id}/upload?token=${signer.byteToken("upload", id)}`;
      downloadUrl = `${this.apiUrl}/2/compliance/jobs/${id}/download?token=${signer.byteToken("download", id)}`;
    } else {
      uploadUrl = signer.signUrl(
        this.storageUrl,
        resumable ? "POST" : "PUT",
        this.objectPath(type, id, "submission"),
        createdMs,
        UPLOAD_WINDOW_MS / 1000,
        resumable ? RESUMABLE_SIGNED_HEADERS : SIMPLE_SIGNED_HEADERS,
      );
      downloadUrl = signer.signUrl(
        this.storageUrl,
        "GET",
        this.objectPath(type, id, "delivery"),
        createdMs,
        DOWNLOAD_WINDOW_MS / 1000,
        "host",
      );
    }
    const job: Job = {
      id,
      type,
      resumable,
      createdMs,
      status: "created",
      cancelled: false,
      polls: 0,
      uploadedBytes: 0,
      uploadedIds: 0,
      uploadUrl,
      downloadUrl,
      uploadFile: join(dataDir, `${id}.upload`),
      resultsFile: join(dataDir, `${id}.results.ndjson`),
    };
    if (name !== undefined) job.name = name;
    this.jobs.set(id, job);
    return job;
  }

  /** The job as the API returns it. */
  json(job: Job): Record<string, unknown> {
    const status = this.statusOf(job);
    const o: Record<string, unknown> = { id: job.id, type: job.type };
    if (job.name !== undefined) o.name = job.name;
    o.resumable = job.resumable;
    o.status = status;
    o.created_at = isoSeconds(job.createdMs);
    o.upload_url = job.uploadUrl;
    o.upload_expires_at = isoSeconds(job.createdMs + UPLOAD_WINDOW_MS);
    o.download_url = job.downloadUrl;
    o.download_expires_at = isoSeconds(job.createdMs + DOWNLOAD_WINDOW_MS);
    if (job.error !== undefined && (status === "failed" || job.cancelled)) o.error = job.error;
    return o;
  }

  /** The job as a test sees it through `Emulator.jobs()`. */
  info(j: Job): EmulatedJobInfo {
    const info: EmulatedJobInfo = {
      id: j.id,
      type: j.type,
      status: this.statusOf(j),
      resumable: j.resumable,
      uploadedBytes: j.uploadedBytes,
      uploadedIds: j.uploadedIds,
      getPolls: j.polls,
    };
    if (j.name !== undefined) info.name = j.name;
    if (j.error !== undefined) info.error = j.error;
    return info;
  }

  /** The job's IDs are in `uploadFile`: it goes in_progress and its results start computing. */
  markUploaded(job: Job, bytes: number): void {
    if (job.status !== "created") return;
    job.status = "in_progress";
    job.uploadedBytes = bytes;
    job.polls = 0;
    const p = processIdFile(job.uploadFile, job.resultsFile, job.type, this.o.flow).then((r) => {
      job.uploadedIds = r.ids;
      return r;
    });
    job.processing = p;
    this.o.track(p);
  }

  /** Called when an in_progress job has been polled enough: waits for the results. */
  async finishProcessing(job: Job): Promise<void> {
    let r: ProcessResult;
    try {
      r = job.processing === undefined ? { ids: 0, events: 0, bytes: 0, error: "no IDs" } : await job.processing;
    } catch (e) {
      r = { ids: 0, events: 0, bytes: 0, error: `internal error: ${(e as Error).message}` };
    }
    if (job.status !== "in_progress") return; // forced meanwhile
    if (r.error !== undefined) {
      job.status = "failed";
      job.error = r.error;
    } else {
      job.status = "complete";
      job.completedMs = this.o.clock.now();
    }
  }

  /**
   * Receives a whole (non-resumable) upload into a temp file and keeps it as the job's IDs, if the
   * job still takes uploads once the body is in (it may have expired meanwhile). "cut": the
   * connection failed (already answered); "closed": the job stopped taking uploads.
   */
  async storeUpload(ctx: Ctx, job: Job): Promise<number | "cut" | "closed"> {
    const tmp = this.newFile(job, "tmp");
    const r = await receive(ctx, tmp, { flags: "w", position: 0, skip: 0 });
    if (!r.ok || job.status !== "created") {
      await unlink(tmp).catch(() => undefined);
      return r.ok ? "closed" : "cut";
    }
    await rename(tmp, job.uploadFile);
    this.markUploaded(job, r.received);
    return r.received;
  }
}
