import { constants } from "node:fs";
import { lstat, open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { once } from "node:events";
import { createGzip } from "node:zlib";
import { CliError, ExitCode, UsageError } from "../errors.js";

// The one owner of output files that must never be seen half-written: a `.partial` beside the
// target, created new, written, synced and renamed over the target only when complete, and only
// if it is still the file this process wrote; or a device, FIFO or stream written as it goes.
// Downloads (which also resume a `.partial`) and `apply` both write through here.

/** The temporary file a result is written to, beside it, until it is complete. */
export function partialPath(target: string): string {
  return `${target}.partial`;
}

/**
 * Makes a new, empty `.partial`: whatever is there is removed first (`onRemoved` is told), and
 * the file is created with O_EXCL and O_NOFOLLOW, so a link planted there is never followed and
 * a file another process made at the same moment is never shared.
 */
export async function createPartial(partial: string, onRemoved?: () => void): Promise<FileHandle> {
  for (let attempt = 0; ; attempt++) {
    const gone = await unlink(partial).then(() => true, (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return false;
      throw err;
    });
    if (gone) onRemoved?.();
    try {
      return await open(partial, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 2) throw err;
    }
  }
}

/** The `.partial` was replaced by another process writing the same target: that file is left to it. */
export class ReplacedPartialError extends CliError {}

/**
 * Moves a finished `.partial` onto the results path. Only a regular file (or nothing) is ever
 * replaced: a device, FIFO or link found there now is left alone, and the download stays kept.
 */
export async function renameIntoPlace(partial: string, target: string, force: boolean | undefined, own?: { dev: number; ino: number }): Promise<void> {
  // Another process writing the same results path removes this run's .partial and makes its own
  // there: renaming that one would put its unfinished file in place, so only the file this run
  // wrote is renamed, and the results path must be that file afterwards.
  const replaced = () =>
    new ReplacedPartialError(
      `${partial} was replaced by another process while this run was writing it (another download to ${target}?), so the results file is not this run's; run one download per results file, then run this one again.`,
      ExitCode.transient,
    );
  const same = (s: { dev: number; ino: number } | undefined) => s !== undefined && own !== undefined && s.dev === own.dev && s.ino === own.ino;
  if (own && !same(await lstat(partial).catch(() => undefined))) throw replaced();
  const existing = await lstat(target).catch(() => undefined);
  if (existing && !force) {
    throw new UsageError(`the results file ${target} appeared while downloading; pass --force to overwrite it. The download is kept in ${partial}.`);
  }
  if (existing && !existing.isFile()) {
    throw new UsageError(`the results path ${target} became ${kindOf(existing)} while downloading; it is left as it is, and the download is kept in ${partial}. Run again to write into it, or choose another path.`);
  }
  await rename(partial, target).catch((err: NodeJS.ErrnoException) => {
    throw own && err.code === "ENOENT" ? replaced() : err;
  });
  if (own && !same(await lstat(target).catch(() => undefined))) throw replaced();
}

export function kindOf(s: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (s.isFile()) return "a regular file";
  if (s.isDirectory()) return "a folder";
  if (s.isSymbolicLink()) return "a symbolic link";
  if (s.isFIFO()) return "a FIFO";
  if (s.isCharacterDevice()) return "a character device";
  if (s.isBlockDevice()) return "a block device";
  return "a socket";
}

/** Where output pieces go: an atomically renamed file, or a stream (stdout). */
export interface Sink {
  write(pieces: Buffer[]): Promise<void>;
  /** Makes the output visible (rename into place). */
  commit(): Promise<void>;
  /** Throws the partial output away. */
  abort(): Promise<void>;
}

/**
 * Writes `<path>.partial` in the same folder, then renames it over `<path>` on commit. The
 * `.partial` is always a new file (a stale one is removed first; O_EXCL and O_NOFOLLOW, so a link
 * planted there is never followed), and only a regular file is ever renamed over. A device or
 * FIFO at `<path>` (given with --force) is written in place instead, with no rename. `mode`
 * sets the new file's permission bits (the umask does not apply).
 */
export async function atomicFileSink(full: string, opts: { mode?: number } = {}): Promise<Sink> {
  const there = await stat(full).catch(() => undefined);
  if (there && !there.isFile() && !there.isDirectory()) return inPlaceSink(full);
  const partial = partialPath(full);
  const file = await createPartial(partial);
  // A file that replaces another (sync --in-place) keeps its permissions, whatever the umask.
  if (opts.mode !== undefined) {
    await file.chmod(opts.mode).catch(async (err: unknown) => {
      await file.close().catch(() => undefined);
      await unlink(partial).catch(() => undefined);
      throw err;
    });
  }
  let closed: boolean | "replaced" = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await file.close();
    }
  };
  return {
    async write(pieces) {
      await writePieces(file, pieces);
    },
    async commit() {
      await file.sync();
      const own = await file.stat();
      await close();
      // Another process writing the same output removes this one's .partial and makes its own
      // there; renaming that would put its unfinished file in place. Only the file written here
      // is renamed, and the output must be that file afterwards.
      const mine = (s: { dev: number; ino: number } | undefined) => s !== undefined && s.dev === own.dev && s.ino === own.ino;
      const replaced = () =>
        new CliError(
          `${partial} was replaced by another process while this run was writing it (another apply to ${full}?), so the output is not this run's; run one apply per output file, then run this one again.`,
          ExitCode.transient,
        );
      if (!mine(await lstat(partial).catch(() => undefined))) {
        closed = "replaced";
        throw replaced();
      }
      const now = await lstat(full).catch(() => undefined);
      if (now && !now.isFile()) {
        throw new UsageError(`${full} became ${now.isSymbolicLink() ? "a symbolic link" : "a special file"} while it was being written; it was left as it is, and the output is in ${partial}.`);
      }
      await rename(partial, full).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
        closed = "replaced";
        throw replaced();
      });
      if (!mine(await lstat(full).catch(() => undefined))) {
        closed = "replaced";
        throw replaced();
      }
    },
    async abort() {
      await close().catch(() => undefined);
      // A .partial another process put there is that process's to finish.
      if (closed !== "replaced") await unlink(partial).catch(() => undefined);
    },
  };
}

async function writePieces(fh: FileHandle, pieces: Buffer[]): Promise<void> {
  if (pieces.length === 0) return;
  const total = pieces.reduce((n, p) => n + p.length, 0);
  const { bytesWritten } = await fh.writev(pieces);
  if (bytesWritten < total) {
    // Short write (rare on regular files): finish it piece by piece.
    const rest = Buffer.concat(pieces).subarray(bytesWritten);
    let off = 0;
    while (off < rest.length) off += (await fh.write(rest, off)).bytesWritten;
  }
}

/** A device or FIFO, written as it goes (never created, truncated or replaced). */
async function inPlaceSink(full: string): Promise<Sink> {
  const fh = await open(full, constants.O_WRONLY | constants.O_NOCTTY);
  const s = await fh.stat();
  if (s.isFile() || s.isDirectory()) {
    await fh.close();
    throw new UsageError(`${full} changed into ${s.isFile() ? "a regular file" : "a folder"} after it was checked; run again.`);
  }
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await fh.close();
    }
  };
  return {
    async write(pieces) {
      for (const p of pieces) {
        let off = 0;
        while (off < p.length) off += (await fh.write(p, off)).bytesWritten;
      }
    },
    commit: close,
    abort: () => close().catch(() => undefined),
  };
}

/**
 * Writes to a stream, waiting for 'drain' when it asks to. A stream that fails or closes instead
 * (stdout's reader went away) ends the wait too; the run's aborted signal then stops the caller.
 */
export function streamSink(stream: NodeJS.WritableStream): Sink {
  return {
    async write(pieces) {
      let ok = true;
      for (const p of pieces) ok = stream.write(p) && ok;
      if (!ok && !(stream as { destroyed?: boolean }).destroyed) {
        await new Promise<void>((done) => {
          const end = () => {
            stream.off("drain", end);
            stream.off("error", end);
            stream.off("close", end);
            done();
          };
          stream.once("drain", end);
          stream.once("error", end);
          stream.once("close", end);
        });
      }
    },
    async commit() {},
    async abort() {},
  };
}

/**
 * Compresses what is written with gzip (one member) before it reaches `inner`. zlib runs on
 * libuv's thread pool: one batch is compressed while the caller prepares the next.
 */
export function gzipSink(inner: Sink): Sink {
  const gz = createGzip({ chunkSize: 1 << 20 });
  let out: Buffer[] = [];
  let failed: unknown;
  gz.on("data", (c: Buffer) => out.push(c));
  gz.on("error", (err) => (failed ??= err));
  let inFlight: Promise<void> = Promise.resolve();
  const pass = async () => {
    if (failed !== undefined) throw failed;
    if (out.length === 0) return;
    const ready = out;
    out = [];
    await inner.write(ready);
  };
  return {
    async write(pieces) {
      await inFlight;
      await pass();
      if (pieces.length === 0) return;
      // One write per batch: zlib pays per call, and apply hands over hundreds of small pieces
      // (kept lines, commas, rewritten records) per chunk read.
      const batch = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
      inFlight = new Promise<void>((done) => {
        gz.write(batch, () => done());
      });
    },
    async commit() {
      await inFlight;
      const ended = once(gz, "end");
      gz.end();
      await ended;
      await pass();
      await inner.commit();
    },
    async abort() {
      gz.destroy();
      await inner.abort();
    },
  };
}

/** A whole file written through its `.partial` and renamed into place (an output folder's files). */
export async function writeFileAtomically(full: string, pieces: Buffer[]): Promise<void> {
  const sink = await atomicFileSink(full);
  try {
    await sink.write(pieces);
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

/** A sink chosen when it is first used (after the input has shown what it is), not when it is made. */
export function deferredSink(choose: () => Sink): Sink {
  let sink: Sink | undefined;
  const get = () => (sink ??= choose());
  return {
    write: (pieces) => get().write(pieces),
    commit: () => get().commit(),
    abort: () => get().abort(),
  };
}

/** Output to a file named `*.gz` is compressed. */
export function compressedByName(path: string, sink: Sink): Sink {
  return path.endsWith(".gz") ? gzipSink(sink) : sink;
}
