import { constants } from "node:fs";
import { access, lstat, open, realpath, stat } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { UsageError } from "../errors.js";

// Where output goes: the checks made on a results path before anything is created, and the
// in-place writing of a device or FIFO given as one.

/**
 * Where results are written:
 * - `stdout` (the path `-`);
 * - a regular `file` (or where one will be made), written to `<path>.partial` and renamed over it;
 * - a `device`, FIFO or socket (or a link to one) given with --force: written in place as a
 *   stream, with no `.partial` and no rename, so the special file itself is never replaced.
 * `path` is absolute (a symlink to a regular file stands for that file).
 */
export type ResultsTarget = { kind: "stdout" } | { kind: "file"; path: string } | { kind: "device"; path: string };

/** The target as a run's record and `--json` output spell it: `-` for stdout, else the absolute path. */
export function targetName(t: ResultsTarget): string {
  return t.kind === "stdout" ? "-" : t.path;
}

/** A target as shown to the user: `stdout`, else the path relative to cwd when inside it. */
export function displayTarget(cwd: string, t: ResultsTarget): string {
  return t.kind === "stdout" ? "stdout" : shown(cwd, t.path);
}

/**
 * Preflight for a results path, before anything is created: its folder must exist, and an
 * existing file is only replaced with --force.
 */
export async function resultsTarget(cwd: string, path: string, force: boolean | undefined): Promise<ResultsTarget> {
  const target = await resultsTargetOf(cwd, path, force);
  if (target.kind === "file") await checkPartialSlot(path, `${target.path}.partial`);
  return target;
}

/**
 * The `.partial` beside a results file is replaced by a new file when a download starts; a folder
 * there can't be, so it is refused before anything is created rather than after the upload.
 */
async function checkPartialSlot(path: string, partial: string): Promise<void> {
  const there = await lstat(partial).catch(() => undefined);
  if (there?.isDirectory()) {
    throw new UsageError(`${partial} is a folder, where compliant would keep the unfinished download of ${path}; remove or rename that folder, or choose another results path.`);
  }
}

async function resultsTargetOf(cwd: string, path: string, force: boolean | undefined): Promise<ResultsTarget> {
  if (path === "-") return { kind: "stdout" };
  // resolve() drops a trailing slash, which would turn "x/" (a folder) into the file x.
  if (path.endsWith("/")) throw new UsageError(`the results path ${path} names a folder; give a file name such as ${path}results.ndjson.`);
  const full = resolve(cwd, path);
  const dir = dirname(full);
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new Error("not a directory");
    await access(dir, 2 /* W_OK */);
  } catch {
    throw new UsageError(`cannot write the results file ${path}: the folder ${dir} does not exist or is not writable; create it or choose another path.`);
  }
  let link;
  try {
    link = await lstat(full);
  } catch {
    return { kind: "file", path: full };
  }
  const existing = link.isSymbolicLink() ? await stat(full).catch(() => undefined) : link;
  if (!existing) throw new UsageError(`the results path ${path} is a symbolic link to a missing file; remove it or choose another path.`);
  if (existing.isDirectory()) throw new UsageError(`the results path ${path} is a folder; give a file name such as ${path.replace(/\/?$/, "/")}results.ndjson.`);
  if (!force) {
    throw new UsageError(`the results file ${path} already exists; pass --force to overwrite it, or choose another path.`);
  }
  if (!existing.isFile()) return { kind: "device", path: full };
  if (!link.isSymbolicLink()) return { kind: "file", path: full };
  const real = await realpath(full);
  try {
    await access(dirname(real), 2 /* W_OK */);
  } catch {
    throw new UsageError(`cannot replace the results file ${path}: it links to ${real}, whose folder is not writable; choose another path.`);
  }
  return { kind: "file", path: real };
}

/**
 * Opens a device or FIFO results target for writing in place: never created, never truncated as
 * a regular file would be, and refused if it has turned into a regular file or folder since.
 */
export async function openInPlace(full: string): Promise<{ stream: NodeJS.WritableStream; close: () => Promise<void> }> {
  const fh = await open(full, constants.O_WRONLY | constants.O_NOCTTY);
  const s = await fh.stat();
  if (s.isFile() || s.isDirectory()) {
    await fh.close();
    throw new UsageError(`the results path ${full} changed into ${s.isFile() ? "a regular file" : "a folder"} after it was checked; run again.`);
  }
  const stream = fh.createWriteStream();
  // Writes complete after write() returns, so a device that refuses them (/dev/full: ENOSPC, a
  // FIFO whose reader left: EPIPE) is known only here; close() reports it, so the run never
  // ends 0 with the results lost.
  let failed: unknown;
  stream.on("error", (err) => (failed ??= err));
  return {
    stream,
    close: async () => {
      if (!stream.destroyed) {
        await new Promise<void>((done) => {
          stream.once("error", () => done());
          stream.end((err?: Error | null) => {
            if (err) failed ??= err;
            done();
          });
        });
      }
      failed ??= stream.errored ?? undefined;
      if (failed !== undefined) throw failed;
    },
  };
}

/**
 * Refuses (exit 2, before anything is written) a run whose output, or the output's `.partial`, is
 * the same file (device and inode, so also through a link) as one of its inputs.
 */
export async function refuseSameFile(
  outputs: Array<{ full: string; what: string }>,
  inputs: Array<{ full: string; what: string }>,
): Promise<void> {
  const ids = await Promise.all(inputs.map(async (i) => ({ ...i, s: await stat(i.full).catch(() => undefined) })));
  for (const out of outputs) {
    for (const path of [out.full, `${out.full}.partial`]) {
      const s = await stat(path).catch(() => undefined);
      if (!s) continue;
      const hit = ids.find((i) => i.s && i.s.dev === s.dev && i.s.ino === s.ino && !s.isCharacterDevice() && !s.isFIFO());
      if (hit) {
        throw new UsageError(
          `the ${hit.what} ${hit.full} is the same file as ${path === out.full ? `the ${out.what}` : `the ${out.what}'s temporary file`} ${path}, which this run would overwrite; nothing was written. Use another path for the ${out.what}.`,
        );
      }
    }
  }
}

/** A path as shown to the user: relative to cwd when inside it, else absolute. */
export function shown(cwd: string, full: string): string {
  const rel = relative(cwd, full);
  return rel && !rel.startsWith("..") && !resolve(rel).startsWith("..") ? rel : full;
}

/** A path given as `-` (stdout) or a results target's absolute path, as shown to the user. */
export function displayPath(cwd: string, full: string): string {
  return full === "-" ? "stdout" : shown(cwd, full);
}
