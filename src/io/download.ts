import { createReadStream } from "node:fs";
import { open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import type { ComplianceApi } from "../api/client.js";
import { NetworkError } from "../api/errors.js";
import type { Job } from "../api/schemas.js";
import { CliError, ExitCode, UsageError } from "../errors.js";
import { TransferPacer } from "./memory.js";
import { ResultParser, type ResultStats } from "./results.js";

export interface DownloadOptions {
  /** Absolute path, or "-" for the stream in `stdout`. */
  target: string;
  stdout: NodeJS.WritableStream;
  force?: boolean;
  /** Bytes of earlier parts already in the `.partial` (split inputs write one file). */
  baseOffset?: number;
  /** Rename the `.partial` into place at the end (default true; false for all but the last part). */
  finalize?: boolean;
  /** Continue a `.partial` left by an interrupted run of the same job. */
  resumePartial?: boolean;
  signal?: AbortSignal;
  onProgress?: (bytes: number, total: number | undefined) => void;
  onResume?: (offset: number, why: string) => void;
  /** Attempts after a connection cut mid-body (each resumes with Range). */
  maxResumes?: number;
}

export function partialPath(target: string): string {
  return `${target}.partial`;
}

/**
 * Streams a job's results to `<target>.partial` (or stdout), validating and counting every line as
 * it passes; a cut connection resumes with `Range` from the bytes already written, and the file is
 * renamed into place only when complete, so the final path never holds a truncated file.
 */
export async function downloadResults(api: ComplianceApi, job: Job, opts: DownloadOptions): Promise<ResultStats> {
  const toStdout = opts.target === "-";
  const partial = toStdout ? undefined : partialPath(opts.target);
  const source = `the results of job ${job.id}`;
  let parser = new ResultParser(source);
  let offset = 0;
  let file: FileHandle | undefined;
  const base = opts.baseOffset ?? 0;

  if (partial) {
    if (opts.resumePartial) {
      const size = await stat(partial).then((s) => s.size, () => 0);
      if (size > base) {
        // Re-count what is already on disk; only whole lines count, so cut back to the last newline.
        offset = Math.max(0, (await lastLineEnd(partial, size)) - base);
        if (offset > 0) {
          for await (const chunk of createReadStream(partial, { start: base, end: base + offset - 1 })) parser.push(chunk as Buffer);
          opts.onResume?.(offset, "continuing an interrupted download");
        }
      }
    }
    file = await open(partial, base + offset > 0 ? "r+" : "w", 0o644).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return open(partial, "w", 0o644);
      throw err;
    });
    await file.truncate(base + offset);
  }

  let resumes = 0;
  const maxResumes = opts.maxResumes ?? 5;
  const pacer = new TransferPacer();
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      const { response, resumed, total } = await api.openResults(job, offset, opts.signal);
      if (offset > 0 && !resumed) {
        // The server ignored Range: start again from byte 0.
        offset = 0;
        parser = new ResultParser(source);
        if (file) await file.truncate(base);
        if (toStdout) throw new CliError(`the download of job ${job.id} was cut and the server cannot resume it; run the command again.`, ExitCode.transient);
      }
      // File writes are batched (WRITE_BATCH bytes per writev, one in flight while the next batch
      // fills); `offset` counts bytes parsed, and every byte parsed is written before resuming.
      const writer = file ? new BatchWriter(file, base + offset) : undefined;
      try {
        for await (const chunk of response.body) {
          const buf = chunk as Buffer;
          pacer.add(buf.length);
          parser.push(buf);
          if (writer) await writer.add(buf);
          else if (!opts.stdout.write(buf)) await drain(opts.stdout, opts.signal);
          offset += buf.length;
          opts.onProgress?.(offset, total);
        }
        await writer?.flush();
        if (total !== undefined && offset < total) throw Object.assign(new Error("body ended early"), { code: "ECONNRESET" });
        break;
      } catch (err) {
        if (writer) {
          // Bytes parsed so far reach the file before any resume; a failed write is not resumable.
          await writer.flush().catch(() => undefined);
          if (writer.error !== undefined) throw writer.error;
        }
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (err instanceof CliError) throw err;
        if (++resumes > maxResumes) throw new NetworkError(`download the results of job ${job.id}`, err, resumes);
        opts.onResume?.(offset, "the connection was cut");
      }
    }
    const stats = parser.end();
    if (file && partial) {
      await file.sync();
      await file.close();
      file = undefined;
      if (opts.finalize !== false) {
        if (!opts.force && (await exists(opts.target))) {
          throw new UsageError(`the results file ${opts.target} appeared while downloading; pass --force to overwrite it. The download is kept in ${partial}.`);
        }
        await rename(partial, opts.target);
      }
    }
    return stats;
  } catch (err) {
    await file?.close().catch(() => undefined);
    // Keep a resumable .partial only when an interrupted run may continue it; otherwise remove it.
    if (partial && !opts.resumePartial) await unlink(partial).catch(() => undefined);
    throw err;
  }
}

const WRITE_BATCH = 1024 * 1024;

/** Positional writes of consecutive chunks, gathered into ~1 MiB writev calls. */
class BatchWriter {
  private chunks: Buffer[] = [];
  private size = 0;
  private inFlight: Promise<unknown> | undefined;
  /** The first write failure, if any (the file then has a gap, so the download cannot resume). */
  error: unknown;

  constructor(
    private readonly file: FileHandle,
    private position: number,
  ) {}

  async add(buf: Buffer): Promise<void> {
    this.chunks.push(buf);
    this.size += buf.length;
    if (this.size >= WRITE_BATCH) await this.start();
  }

  /** Waits for the previous batch, then starts writing the gathered one (without waiting). */
  private async start(): Promise<void> {
    if (this.inFlight) {
      const prev = this.inFlight;
      this.inFlight = undefined;
      await prev;
    }
    if (this.size === 0) return;
    const chunks = this.chunks;
    const at = this.position;
    this.position += this.size;
    this.chunks = [];
    this.size = 0;
    this.inFlight = writeAll(this.file, chunks, at).catch((err: unknown) => {
      this.error ??= err;
      throw err;
    });
    // A failure surfaces at the next add/flush; keep it from being reported as unhandled meanwhile.
    this.inFlight.catch(() => undefined);
  }

  /** Writes everything gathered so far and waits for it. */
  async flush(): Promise<void> {
    await this.start();
    const last = this.inFlight;
    this.inFlight = undefined;
    await last;
  }
}

async function writeAll(file: FileHandle, chunks: Buffer[], position: number): Promise<void> {
  let list = chunks;
  let at = position;
  for (;;) {
    const { bytesWritten } = await file.writev(list, at);
    at += bytesWritten;
    let skip = bytesWritten;
    let i = 0;
    while (i < list.length && skip >= list[i]!.length) skip -= list[i++]!.length;
    if (i === list.length) return;
    list = [list[i]!.subarray(skip), ...list.slice(i + 1)];
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function drain(stream: NodeJS.WritableStream, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    const abort = () => reject(signal?.reason);
    stream.once("drain", done);
    signal?.addEventListener("abort", abort, { once: true });
  });
}

/** Byte length up to and including the last `\n` in the first `size` bytes (0 if none). */
async function lastLineEnd(path: string, size: number): Promise<number> {
  const fh = await open(path, "r");
  try {
    const block = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - block.length);
      const { bytesRead } = await fh.read(block, 0, end - start, start);
      const nl = block.subarray(0, bytesRead).lastIndexOf(10);
      if (nl !== -1) return start + nl + 1;
      end = start;
    }
    return 0;
  } finally {
    await fh.close();
  }
}
