import { open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { UsageError } from "../errors.js";

/** Shows a path relative to the working directory when it is inside it. */
export function shown(cwd: string, full: string): string {
  const rel = relative(cwd, full);
  return rel && !rel.startsWith("..") && !resolve(rel).startsWith("..") ? rel : full;
}

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
  const full = resolve(cwd, path);
  for (const input of opts.inputs) {
    if (full === input.full || (await sameFile(full, input.full))) {
      throw new UsageError(
        `the ${what} ${path} is the ${input.what} itself; apply never modifies its input in place: write elsewhere with -o and rename afterwards.`,
      );
    }
  }
  const dir = dirname(full);
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error("not a folder");
  } catch {
    throw new UsageError(`cannot write the ${what} ${path}: the folder ${dir} does not exist; create it or choose another path.`);
  }
  let existing;
  try {
    existing = await stat(full);
  } catch {
    return full;
  }
  if (existing.isDirectory()) throw new UsageError(`the ${what} ${path} is a folder; give a file name.`);
  if (!opts.force) throw new UsageError(`the ${what} ${path} already exists; pass --force to overwrite it, or choose another path with -o.`);
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

/** Writes `<path>.partial` in the same folder, then renames it over `<path>` on commit. */
export async function atomicFileSink(full: string): Promise<Sink> {
  const partial = `${full}.partial`;
  const fh: FileHandle = await open(partial, "w");
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await fh.close();
    }
  };
  return {
    async write(pieces) {
      if (pieces.length === 0) return;
      const total = pieces.reduce((n, p) => n + p.length, 0);
      let { bytesWritten } = await fh.writev(pieces);
      if (bytesWritten < total) {
        // Short write (rare on regular files): finish it piece by piece.
        const rest = Buffer.concat(pieces).subarray(bytesWritten);
        let off = 0;
        while (off < rest.length) off += (await fh.write(rest, off)).bytesWritten;
        bytesWritten = total;
      }
    },
    async commit() {
      await fh.sync();
      await close();
      await rename(partial, full);
    },
    async abort() {
      await close().catch(() => undefined);
      await unlink(partial).catch(() => undefined);
    },
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
