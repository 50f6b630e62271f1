import { createReadStream } from "node:fs";
import { open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import type { ComplianceApi } from "../api/client.js";
import { NetworkError } from "../api/errors.js";
import type { Job } from "../api/schemas.js";
import { CliError, ExitCode, UsageError } from "../errors.js";
import { ResultParser, scanResults, type ResultStats } from "./results.js";

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
      try {
        for await (const chunk of response.body) {
          const buf = chunk as Buffer;
          parser.push(buf);
          if (file) await file.write(buf, 0, buf.length, base + offset);
          else if (!opts.stdout.write(buf)) await drain(opts.stdout, opts.signal);
          offset += buf.length;
          opts.onProgress?.(offset, total);
        }
        if (total !== undefined && offset < total) throw Object.assign(new Error("body ended early"), { code: "ECONNRESET" });
        break;
      } catch (err) {
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

/** Counts an existing results file (used when a run resumes after its download finished). */
export async function countResultsFile(path: string): Promise<ResultStats> {
  return scanResults(path, createReadStream(path) as AsyncIterable<Buffer>);
}
