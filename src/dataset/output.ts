import { lstat, realpath, stat } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { UsageError } from "../errors.js";
import { shown } from "../io/target.js";

/** `posts.jsonl` → `posts.compliant.jsonl`, `posts.jsonl.gz` → `posts.compliant.jsonl.gz`, beside the input. */
export function defaultOutputPath(datasetFull: string): string {
  const gz = datasetFull.endsWith(".gz") ? ".gz" : "";
  const plain = gz ? datasetFull.slice(0, -3) : datasetFull;
  const ext = extname(plain);
  const stem = basename(plain, ext);
  return join(dirname(datasetFull), `${stem}.compliant${ext}${gz}`);
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
