import { createHash, type Hash } from "node:crypto";
import { constants } from "node:fs";
import { open, unlink, type FileHandle } from "node:fs/promises";
import { CliError, ExitCode } from "../errors.js";
import { createPartial, partialPath, ReplacedPartialError, renameIntoPlace } from "./atomic-file.js";
import { Crc32c } from "./crc32c.js";
import type { ResultStats } from "./result-stats.js";
import { ResultParser, type LineLimit } from "./results.js";

/** What is in a `.partial` for one part: its first `bytes` bytes (whole lines) and their SHA-256. */
export interface Checkpoint {
  bytes: number;
  sha256: string;
}

export const EMPTY_SHA256 = createHash("sha256").digest("hex");

/** One opening of the results from `offset` on (the HTTP layer provides it; see ComplianceApi.openResults). */
export interface OpenedBody {
  response: { body: AsyncIterable<unknown> & { dump(): Promise<unknown> } };
  /** The server honoured the Range request (206 from `offset`). */
  resumed: boolean;
  /** Bytes of the whole object when the framing says so. */
  total?: number;
  /** How the end of the body can be recognised: "none" means only by the connection closing. */
  framing: "length" | "chunked" | "none";
  /** Base64 CRC-32C of the whole object, when the storage sent one. */
  crc32c?: string;
  /** The Range asked for starts at or beyond the end of the object (a 416). */
  unsatisfiable?: boolean;
  /** The object's size, when an unsatisfiable Range told it. */
  size?: number;
}

/** Where a download's bytes come from: opened again from the bytes held after every cut. */
export interface ResultSource {
  /** The job whose results these are (for messages). */
  jobId: string;
  open(offset: number, signal?: AbortSignal): Promise<OpenedBody>;
  /** The error to end with when the download was cut more often than it may be resumed. */
  gaveUp(cause: unknown, attempts: number): Error;
}

/** Where a download goes: a regular file (through `<path>.partial`, renamed into place), or a stream written as it comes. */
export type DownloadTo = { file: string } | { stream: NodeJS.WritableStream };

export interface DownloadOptions {
  to: DownloadTo;
  force?: boolean;
  /** Bytes of earlier parts already in the `.partial` (split inputs write one file). */
  baseOffset?: number;
  /** Rename the `.partial` into place at the end (default true; false for all but the last part). */
  finalize?: boolean;
  /**
   * What an earlier run of this job recorded of this part in the `.partial`: continued only when
   * the file still holds exactly those bytes (length and SHA-256); otherwise downloaded afresh.
   */
  resumeFrom?: Checkpoint;
  /**
   * Told, after each write, the whole lines of this part now in the `.partial`, so a later run can
   * resume them. A caller that records checkpoints keeps the `.partial` when a download fails for
   * a reason worth resuming; without it the `.partial` is always removed on failure.
   */
  onCheckpoint?: (c: Checkpoint, last?: boolean) => void | Promise<void>;
  /** At most this many result lines (one per ID uploaded). */
  limit?: LineLimit;
  /** End a non-empty part with `\n` when the server did not, so the next part's first line stays apart. */
  endWithNewline?: boolean;
  signal?: AbortSignal;
  onProgress?: (bytes: number, total: number | undefined) => void;
  onResume?: (offset: number, why: string) => void;
  /** Told when a `.partial` found on disk is not used. */
  onDiscard?: (why: string) => void;
  /** Told the size of every chunk received (the binary paces collections by it). */
  onChunk?: (bytes: number) => void;
  /** Attempts after a connection cut mid-body (each resumes with Range). */
  maxResumes?: number;
}

/** The counts of one download, `bytes` as written (with any `\n` added), and their SHA-256. */
export interface DownloadStats extends ResultStats {
  sha256: string;
  /** The `.partial` this download wrote (device and inode), so only that file is renamed into place. */
  file?: { dev: number; ino: number };
}


/**
 * Streams a job's results to `<target>.partial` (or a stream), validating and counting every line
 * as it passes; a cut connection resumes with `Range` from the bytes already written, and the file
 * is renamed into place only when complete, so the final path never holds a truncated file.
 */
export async function downloadResults(from: ResultSource, opts: DownloadOptions): Promise<DownloadStats> {
  const job = { id: from.jobId };
  const out = "stream" in opts.to ? opts.to.stream : undefined;
  const target = "file" in opts.to ? opts.to.file : undefined;
  const partial = target !== undefined ? partialPath(target) : undefined;
  const source = `the results of job ${job.id}`;
  const base = opts.baseOffset ?? 0;

  // Every byte of this part passes through feed(), in order: counted, hashed (SHA-256 for the
  // checkpoints, CRC-32C for the storage's checksum), and marked at its last newline.
  let parser!: ResultParser;
  let sha!: Hash;
  // The CRC-32C is kept only once the storage sends one to compare with.
  let crc: Crc32c | undefined;
  let offset = 0;
  let lastByte = -1;
  let mark: Checkpoint = { bytes: 0, sha256: EMPTY_SHA256 };
  const restart = () => {
    // A file can be read again, so distinct IDs are counted in fixed memory (see DistinctMode).
    parser = new ResultParser(source, undefined, opts.limit, out ? "exact" : "reread");
    sha = createHash("sha256");
    crc = undefined;
    offset = 0;
    lastByte = -1;
    mark = { bytes: 0, sha256: EMPTY_SHA256 };
  };
  const feed = (buf: Buffer) => {
    if (buf.length === 0) return;
    parser.push(buf);
    crc?.update(buf);
    const nl = buf.lastIndexOf(10);
    if (nl === -1) {
      sha.update(buf);
    } else {
      sha.update(buf.subarray(0, nl + 1));
      mark = { bytes: offset + nl + 1, sha256: sha.copy().digest("hex") };
      if (nl + 1 < buf.length) sha.update(buf.subarray(nl + 1));
    }
    offset += buf.length;
    lastByte = buf[buf.length - 1]!;
  };
  restart();

  let file: FileHandle | undefined;
  if (partial) {
    file = await openPartial(partial, base, opts);
    if (opts.resumeFrom && opts.resumeFrom.bytes > 0) {
      if (await replay(file, base, opts.resumeFrom, feed)) {
        if (mark.bytes === opts.resumeFrom.bytes && mark.sha256 === opts.resumeFrom.sha256) {
          opts.onResume?.(offset, "continuing an interrupted download");
        } else {
          restart();
          opts.onDiscard?.(`${partial} does not hold what the earlier run wrote there; downloading job ${job.id} again`);
        }
      } else {
        restart();
        opts.onDiscard?.(`${partial} is shorter than what the earlier run wrote there; downloading job ${job.id} again`);
      }
    }
    await file.truncate(base + offset);
  }

  /** The whole lines known to be in the file (for the last checkpoint when the download stops). */
  let written: Checkpoint | undefined;
  let resumes = 0;
  const maxResumes = opts.maxResumes ?? 5;
  const streamErrors = out ? watchErrors(out) : undefined;
  try {
    let expectedCrc: string | undefined;
    for (;;) {
      opts.signal?.throwIfAborted();
      const opened = await from.open(offset, opts.signal);
      if (opened.unsatisfiable) {
        // A Range from `offset` on that cannot be met: when the object is exactly that long,
        // every byte is already here (a run stopped between the last write and the rename).
        if (opened.size === offset) {
          expectedCrc = undefined;
          break;
        }
        if (out) throw new CliError(`the download of job ${job.id} was cut and the server cannot resume it; run the command again.`, ExitCode.transient);
        if (++resumes > maxResumes) throw from.gaveUp(new Error("416 Range Not Satisfiable"), resumes);
        restart();
        if (file) await file.truncate(base);
        opts.onResume?.(0, "the bytes kept do not fit the results on the server");
        continue;
      }
      if (opened.framing === "none") {
        await opened.response.body.dump().catch(() => undefined);
        throw new CliError(
          `the server sent ${source} without a Content-Length or chunked framing, so a cut connection could not be told from the end of the results, and the download was refused. Run again later; if it persists, something between this machine and the storage rewrites its answers.`,
          ExitCode.refused,
        );
      }
      if (offset > 0 && !opened.resumed) {
        // The server ignored Range: start again from byte 0.
        if (out) {
          await opened.response.body.dump().catch(() => undefined);
          throw new CliError(`the download of job ${job.id} was cut and the server cannot resume it; run the command again.`, ExitCode.transient);
        }
        restart();
        if (file) await file.truncate(base);
      }
      expectedCrc = opened.crc32c;
      if (expectedCrc !== undefined && crc === undefined) {
        // The checksum covers the whole object: take in the bytes already held first.
        crc = file ? await crcOf(file, base, offset) : offset === 0 ? new Crc32c() : undefined;
        if (crc === undefined) expectedCrc = undefined;
      }
      const total = opened.total;
      // File writes are batched (WRITE_BATCH bytes per writev, one in flight while the next batch
      // fills); `offset` counts bytes parsed, and every byte parsed is written before resuming.
      const writer = file
        ? new BatchWriter(file, base + offset, (cp) => {
            written = cp;
            return opts.onCheckpoint?.(cp);
          })
        : undefined;
      try {
        for await (const chunk of opened.response.body) {
          const buf = chunk as Buffer;
          opts.onChunk?.(buf.length);
          feed(buf);
          if (writer) await writer.add(buf, mark);
          else await writeTo(out!, buf, streamErrors!, opts.signal);
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
        // The output refusing the bytes (a FIFO's reader gone, a full device) is no cut connection.
        if (streamErrors?.error !== undefined) throw streamErrors.error;
        if (++resumes > maxResumes) throw from.gaveUp(err, resumes);
        opts.onResume?.(offset, "the connection was cut");
      }
    }
    parser.end();
    const stats = file ? await parser.finishDistinct(() => readRange(file!, base, offset)) : parser.stats;
    if (expectedCrc !== undefined && crc !== undefined && crc.base64() !== expectedCrc) {
      throw new CliError(
        `${source} do not match the checksum the storage sent (x-goog-hash crc32c=${expectedCrc}, got ${crc.base64()}), so they were discarded; run again, and if it persists, the results are damaged on the way.`,
        ExitCode.refused,
      );
    }
    if (opts.endWithNewline && offset > 0 && lastByte !== 10) {
      const nl = Buffer.from("\n");
      if (file) await writeAll(file, [nl], base + offset);
      else await writeTo(out!, nl, streamErrors!, opts.signal);
      sha.update(nl);
      offset += 1;
    }
    const sha256 = sha.digest("hex");
    let own: { dev: number; ino: number } | undefined;
    if (file && partial) {
      await file.sync();
      own = await file.stat();
      await file.close();
      file = undefined;
      // Recorded before the rename, so a run stopped just before it finds a complete .partial.
      if (opts.onCheckpoint && mark.bytes > 0) await opts.onCheckpoint(mark, true);
      if (opts.finalize !== false) await renameIntoPlace(partial, target!, opts.force, own);
    }
    return { ...stats, bytes: offset, sha256, ...(own ? { file: { dev: own.dev, ino: own.ino } } : {}) };
  } catch (err) {
    await file?.close().catch(() => undefined);
    file = undefined;
    // The .partial there now is another process's: it is left to that process.
    if (partial && !(err instanceof ReplacedPartialError)) {
      // Results found wrong (exit 4) are never resumed; others only when a caller records checkpoints.
      const wrong = err instanceof CliError && err.exitCode === ExitCode.refused;
      if (wrong || !opts.onCheckpoint) {
        if (wrong) await Promise.resolve(opts.onCheckpoint?.({ bytes: 0, sha256: EMPTY_SHA256 }, true)).catch(() => undefined);
        await dropPart(partial, base);
      } else if (written) {
        // Kept to be resumed: record everything written, not just the last checkpoint saved.
        await Promise.resolve(opts.onCheckpoint(written, true)).catch(() => undefined);
      }
    }
    throw err;
  } finally {
    streamErrors?.dispose();
  }
}

/**
 * Opens the `.partial` for this part. A part after the first continues the file the earlier parts
 * are in; a resumed part re-opens its own. Otherwise whatever is there is removed and a new file is
 * made with O_EXCL, and no path is ever followed through a symlink (O_NOFOLLOW), so a link planted
 * at `<target>.partial` can never redirect the writes.
 */
async function openPartial(partial: string, base: number, opts: DownloadOptions): Promise<FileHandle> {
  if (base > 0 || opts.resumeFrom) {
    const fh = await open(partial, constants.O_RDWR | constants.O_NOFOLLOW).catch(() => undefined);
    if (fh) {
      const s = await fh.stat();
      if (s.isFile() && s.nlink === 1 && s.size >= base) return fh;
      await fh.close();
    }
    if (base > 0) {
      throw new CliError(
        `${partial} changed while this run was writing it (it is missing, shorter than the parts already in it, or not a plain file); run the same command again: the parts it holds are checked and any damaged one is downloaded again.`,
        ExitCode.transient,
      );
    }
    opts.onDiscard?.(`${partial} is not the file the earlier run wrote; downloading afresh`);
  }
  return createPartial(partial, () => {
    if (!opts.resumeFrom) opts.onDiscard?.(`removed ${partial} left by an earlier run; downloading afresh`);
  });
}

/** Feeds the first `cp.bytes` bytes of this part back through `feed`; false when the file is shorter. */
async function replay(fh: FileHandle, base: number, cp: Checkpoint, feed: (b: Buffer) => void): Promise<boolean> {
  const block = Buffer.alloc(1 << 20);
  let done = 0;
  try {
    while (done < cp.bytes) {
      const { bytesRead } = await fh.read(block, 0, Math.min(block.length, cp.bytes - done), base + done);
      if (bytesRead === 0) return false;
      feed(Buffer.from(block.subarray(0, bytesRead)));
      done += bytesRead;
    }
    return true;
  } catch (err) {
    // Bytes that do not even parse are not what was recorded.
    if (err instanceof CliError) return true;
    throw err;
  }
}

/**
 * `length` bytes of the file from `start` (fewer if the file is shorter), in blocks of up to 1 MiB
 * read into one buffer: each block is valid only until the next is asked for (ResultParser copies
 * what it keeps), so reading a file again allocates nothing per block.
 */
export async function* readRange(fh: FileHandle, start: number, length: number): AsyncGenerator<Buffer> {
  const block = Buffer.allocUnsafe(Math.min(1 << 20, length));
  for (let done = 0; done < length; ) {
    const { bytesRead } = await fh.read(block, 0, Math.min(block.length, length - done), start + done);
    if (bytesRead === 0) return;
    yield block.subarray(0, bytesRead);
    done += bytesRead;
  }
}

/** The CRC-32C of `length` bytes of the file from `start`. */
async function crcOf(fh: FileHandle, start: number, length: number): Promise<Crc32c> {
  const crc = new Crc32c();
  const block = Buffer.alloc(1 << 20);
  for (let done = 0; done < length; ) {
    const { bytesRead } = await fh.read(block, 0, Math.min(block.length, length - done), start + done);
    if (bytesRead === 0) break;
    crc.update(block.subarray(0, bytesRead));
    done += bytesRead;
  }
  return crc;
}

/** Removes this part from the `.partial`: the whole file for the first part, else back to `base`. */
async function dropPart(partial: string, base: number): Promise<void> {
  if (base === 0) {
    await unlink(partial).catch(() => undefined);
    return;
  }
  const fh = await open(partial, constants.O_RDWR | constants.O_NOFOLLOW).catch(() => undefined);
  await fh?.truncate(base).catch(() => undefined);
  await fh?.close().catch(() => undefined);
}

const WRITE_BATCH = 1024 * 1024;

/** Positional writes of consecutive chunks, gathered into ~1 MiB writev calls. */
class BatchWriter {
  private chunks: Buffer[] = [];
  private size = 0;
  private mark: Checkpoint | undefined;
  private inFlight: Promise<unknown> | undefined;
  /** The first write failure, if any (the file then has a gap, so the download cannot resume). */
  error: unknown;

  constructor(
    private readonly file: FileHandle,
    private position: number,
    private readonly onWritten?: (c: Checkpoint) => void | Promise<void>,
  ) {}

  /** `mark`: the whole lines of the part up to and including `buf`. */
  async add(buf: Buffer, mark: Checkpoint): Promise<void> {
    this.chunks.push(buf);
    this.size += buf.length;
    this.mark = mark;
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
    const mark = this.mark;
    this.position += this.size;
    this.chunks = [];
    this.size = 0;
    this.inFlight = writeAll(this.file, chunks, at)
      .then(() => (mark && this.onWritten ? this.onWritten(mark) : undefined))
      .catch((err: unknown) => {
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

interface ErrorWatch {
  error: unknown;
  dispose(): void;
}

/** Records a stream's 'error' (a FIFO whose reader left, a full device) so the next write throws it. */
function watchErrors(stream: NodeJS.WritableStream): ErrorWatch {
  const watch: ErrorWatch = {
    error: undefined,
    dispose: () => stream.removeListener("error", onError),
  };
  const onError = (err: unknown) => {
    watch.error ??= err;
  };
  stream.on("error", onError);
  return watch;
}

async function writeTo(stream: NodeJS.WritableStream, buf: Buffer, watch: ErrorWatch, signal?: AbortSignal): Promise<void> {
  if (watch.error !== undefined) throw watch.error;
  if (!stream.write(buf)) await drain(stream, watch, signal);
}

async function drain(stream: NodeJS.WritableStream, watch: ErrorWatch, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      cleanup();
      resolve();
    };
    const fail = (err: unknown) => {
      cleanup();
      reject(err);
    };
    const abort = () => fail(signal?.reason);
    const cleanup = () => {
      stream.removeListener("drain", done);
      stream.removeListener("error", fail);
      signal?.removeEventListener("abort", abort);
    };
    stream.once("drain", done);
    stream.once("error", fail);
    signal?.addEventListener("abort", abort, { once: true });
  });
  if (watch.error !== undefined) throw watch.error;
}
