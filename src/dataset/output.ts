import { constants } from "node:fs";
import { lstat, open, realpath, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { CliError, ExitCode, UsageError } from "../errors.js";
import { shown } from "../io/target.js";

/** `posts.jsonl` → `posts.compliant.jsonl`, beside the input. */
export function defaultOutputPath(datasetFull: string): string {
  const ext = extname(datasetFull);
  const stem = basename(datasetFull, ext);
  return join(dirname(datasetFull), `${stem}.compliant${ext}`);
}

/** Checks that a dataset path is a readable regular file; returns its full path. */
export async function checkInputFile(cwd: string, path: string, what: string): Promise<string> {
  const full = resolve(cwd, path);
  let s;
  try {
    s = await stat(full);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read the ${what} ${path}: ${code === "ENOENT" ? "no such file" : (err as Error).message}.`);
  }
  if (s.isDirectory()) throw new UsageError(`the ${what} ${path} is a folder; give a file.`);
  return full;
}

/**
 * Preflight for an output file: its folder must exist, it must not be one of the inputs (also
 * through a link), and an existing file is replaced only with --force.
 */
export async function checkOutputFile(
  cwd: string,
  path: string,
  what: string,
  opts: { force: boolean; inputs: Array<{ full: string; what: string }> },
): Promise<string> {
  // resolve() drops a trailing slash, which would turn "x/" (a folder) into the file x.
  if (path.endsWith("/")) throw new UsageError(`the ${what} ${path} names a folder; give a file name such as ${path}${basename(path)}.jsonl.`);
  const full = resolve(cwd, path);
  for (const input of opts.inputs) {
    if (full === input.full || (await sameFile(full, input.full))) {
      throw new UsageError(
        `the ${what} ${path} is the ${input.what} itself; apply never modifies its input in place: write elsewhere with -o and rename afterwards.`,
      );
    }
    // The output is first written to `<output>.partial`, which must not be an input either.
    const partial = `${full}.partial`;
    if (partial === input.full || (await sameFile(partial, input.full))) {
      throw new UsageError(
        `the ${input.what} ${shown(cwd, input.full)} is the same file as ${shown(cwd, partial)}, where the ${what} ${path} is written first; nothing was written. Choose another -o, or rename the ${input.what}.`,
      );
    }
  }
  const dir = dirname(full);
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error("not a folder");
  } catch {
    throw new UsageError(`cannot write the ${what} ${path}: the folder ${dir} does not exist; create it or choose another path.`);
  }
  let link;
  try {
    link = await lstat(full);
  } catch {
    return full;
  }
  const existing = link.isSymbolicLink() ? await stat(full).catch(() => undefined) : link;
  if (!existing) throw new UsageError(`the ${what} ${path} is a symbolic link to a missing file; remove it or choose another path.`);
  if (existing.isDirectory()) throw new UsageError(`the ${what} ${path} is a folder; give a file name.`);
  if (!opts.force) throw new UsageError(`the ${what} ${path} already exists; pass --force to overwrite it, or choose another path with -o.`);
  // A link to a regular file stands for that file: its `.partial` is made beside it and renamed
  // over it. (A device or FIFO is written in place by atomicFileSink.)
  if (link.isSymbolicLink() && existing.isFile()) {
    const real = await realpath(full);
    if (real !== full) return checkOutputFile(cwd, real, what, opts);
  }
  return full;
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [sa, sb] = await Promise.all([stat(a), stat(b)]);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
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
 * FIFO at `<path>` (given with --force) is written in place instead, with no rename.
 */
export async function atomicFileSink(full: string): Promise<Sink> {
  const there = await stat(full).catch(() => undefined);
  if (there && !there.isFile() && !there.isDirectory()) return inPlaceSink(full);
  const partial = `${full}.partial`;
  let fh: FileHandle | undefined;
  for (let attempt = 0; !fh; attempt++) {
    await unlink(partial).catch(() => undefined);
    fh = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST" || attempt >= 2) throw err;
      return undefined;
    });
  }
  const file = fh;
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
