import { lstat, mkdir, readdir, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { UsageError } from "../errors.js";
import { shown } from "../io/target.js";
import type { ApplierCounts } from "./applier.js";
import type { EventIndex } from "./event-index.js";
import { ArrayLayout, ArrayScanner, ArrayStructureError } from "./json-array.js";
import { parseLossless, stringifyLossless } from "./json-lossless.js";
import { applyToRecord, type OnRehydrate } from "./record-apply.js";
import { fieldIds, recordIds } from "./record-ids.js";
import { InvalidRecord, isObject, type DatasetType, type Obj } from "./record-shape.js";

// Datasets spread over several files: files named on the command line, a folder of dataset
// files, or an academictwitteR folder (data_<id>.json arrays of Posts, each with a users_<id>.json
// holding that page's `includes`), which is read and written as one dataset of pages.

/** True if `arg` names a folder (stdin and files are not). */
export async function isFolder(cwd: string, arg: string): Promise<boolean> {
  if (arg === "-") return false;
  return (await stat(resolve(cwd, arg)).catch(() => undefined))?.isDirectory() ?? false;
}

export interface DatasetFile {
  full: string;
  /** As shown in messages. */
  name: string;
  /** The file's name, which it keeps in the output folder. */
  base: string;
}

export interface AcademicPage {
  data: DatasetFile;
  users: DatasetFile | undefined;
}

export type DatasetPlan =
  | { kind: "files"; files: DatasetFile[]; folder: string | undefined; skipped: string[] }
  | { kind: "academictwitter"; folder: string; pages: AcademicPage[]; others: DatasetFile[]; skipped: string[] };

const DATA = /^data_(.+)\.json$/;

/**
 * What the dataset arguments are: several files, one folder of dataset files, or one
 * academictwitteR folder (it holds a data_<id>.json file). Files are taken in name order;
 * subfolders are not entered (their names are returned in `skipped`).
 */
export async function planDatasets(cwd: string, args: readonly string[]): Promise<DatasetPlan> {
  const file = (full: string): DatasetFile => ({ full, name: shown(cwd, full), base: basename(full) });
  if (args.length === 1) {
    const folder = resolve(cwd, args[0]!);
    const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const files = entries.filter((e) => e.isFile()).map((e) => file(join(folder, e.name)));
    const skipped = entries.filter((e) => !e.isFile()).map((e) => shown(cwd, join(folder, e.name)));
    if (files.some((f) => DATA.test(f.base))) {
      const pages: AcademicPage[] = [];
      const paired = new Set<string>();
      for (const f of files) {
        const m = DATA.exec(f.base);
        if (!m) continue;
        const users = files.find((u) => u.base === `users_${m[1]}.json`);
        if (users) paired.add(users.base);
        pages.push({ data: f, users });
      }
      const others = files.filter((f) => !DATA.test(f.base) && !paired.has(f.base));
      return { kind: "academictwitter", folder, pages, others, skipped };
    }
    const datasets = files.filter((f) => !f.base.startsWith("."));
    if (datasets.length === 0) throw new UsageError(`the folder ${args[0]} holds no dataset files; give a folder of JSON Lines, JSON array or CSV files (gzipped or not), or an academictwitteR folder (data_<id>.json files).`);
    return { kind: "files", files: datasets, folder, skipped };
  }
  const files: DatasetFile[] = [];
  const bases = new Map<string, string>();
  for (const arg of args) {
    if (arg === "-") throw new UsageError("- (stdin) cannot be one of several datasets; give files only, or pipe one dataset.");
    const full = resolve(cwd, arg);
    const s = await stat(full).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read the dataset ${arg}: ${err.code === "ENOENT" ? "no such file" : err.message}.`);
    });
    if (s.isDirectory()) throw new UsageError(`the dataset ${arg} is a folder; give several files, or one folder alone.`);
    const f = file(full);
    const other = bases.get(f.base);
    if (other !== undefined) throw new UsageError(`the datasets ${other} and ${arg} have the same name ${f.base}, which each would have in the output folder; rename one, or run them separately.`);
    bases.set(f.base, arg);
    files.push(f);
  }
  return { kind: "files", files, folder: undefined, skipped: [] };
}

/** One academictwitteR page, read whole (one API page: up to 500 Posts). */
export interface ReadPage {
  dataBuf: Buffer;
  posts: unknown[];
  usersBuf: Buffer | undefined;
  includes: Obj | undefined;
}

function notValid(file: DatasetFile, folder: string, what: string, why: string): UsageError {
  return new UsageError(`${file.base} in the academictwitteR folder ${folder} is not ${what} (${why}); nothing was written: fix or remove that file and run again.`);
}

/** Reads data_<id>.json (a JSON array) and users_<id>.json (an object); a file that is neither is a usage error. */
export async function readPage(page: AcademicPage, folderName: string): Promise<ReadPage> {
  const dataBuf = await readFile(page.data.full);
  return parsePage(page, folderName, dataBuf, page.users ? await readFile(page.users.full) : undefined);
}

/** readPage on bytes already read (sync applies a second result set to what the first left). */
export function parsePage(page: AcademicPage, folderName: string, dataBuf: Buffer, usersBuf: Buffer | undefined): ReadPage {
  const posts: unknown[] = [];
  let failure: string | undefined;
  const scanner = new ArrayScanner({
    gap: () => undefined,
    element: (buf, s, e, no) => {
      if (failure !== undefined) return;
      try {
        posts.push(parseLossless(buf.toString("utf8", s, e)));
      } catch {
        failure = `element ${no} is not JSON`;
      }
    },
  });
  try {
    scanner.push(dataBuf);
    scanner.end();
  } catch (err) {
    if (!(err instanceof ArrayStructureError)) throw err;
    failure = `it ${err.why}, line ${err.lineNo}`;
  }
  if (failure !== undefined) throw notValid(page.data, folderName, "a JSON array of Posts", failure);
  if (!page.users || usersBuf === undefined) return { dataBuf, posts, usersBuf: undefined, includes: undefined };
  let includes: unknown;
  try {
    includes = parseLossless(usersBuf.toString("utf8"));
  } catch {
    throw notValid(page.users, folderName, "JSON", "it does not parse");
  }
  if (!isObject(includes)) throw notValid(page.users, folderName, "an includes object", "it is not a JSON object");
  return { dataBuf, posts, usersBuf, includes };
}

function asPage(p: ReadPage): Obj {
  return p.includes ? { data: p.posts, includes: p.includes } : { data: p.posts };
}

/** `ids` on one page: as for a v2 response page (recordIds), or the --field values of each Post. */
export function pageIds(p: ReadPage, type: DatasetType, field: readonly string[] | undefined, page: AcademicPage, folderName: string): string[] {
  try {
    if (field) return p.posts.flatMap((v) => fieldIds(v, field, field.join(".")));
    return recordIds(asPage(p), type);
  } catch (err) {
    if (err instanceof InvalidRecord) throw notValid(page.data, folderName, "a JSON array of Posts with IDs", err.why);
    throw err;
  }
}

/** What `apply` makes of one page: the bytes of its two files (undefined: the file is left out), and what was removed. */
export interface PageOutput {
  data: Buffer[] | undefined;
  users: Buffer[] | undefined;
  removed: unknown[];
}

const GEO = ["geo", "coordinates", "place"];
const hasGeo = (v: unknown) => isObject(v) && GEO.some((k) => k in v);

/**
 * `apply` on one page, by record-apply's rules for a v2 page `{data, includes}`: deleted Posts go
 * from the data file (with their separating comma), scrubbed ones are rewritten, the others keep
 * their bytes; the users file is rewritten only if its includes changed. A page left with no
 * Posts is left out (both files), as a JSON Lines page is.
 */
export function applyToPageFiles(p: ReadPage, type: DatasetType, index: EventIndex, counts: ApplierCounts, onRehydrate: OnRehydrate): PageOutput {
  const geoBefore = p.posts.map(hasGeo);
  const before = p.includes ? new Map(Object.entries(p.includes)) : undefined;
  const page = asPage(p);
  counts.lines += p.posts.length;
  counts.bytes += p.dataBuf.length + (p.usersBuf?.length ?? 0);
  const outcome = applyToRecord(page, type, index, counts, onRehydrate);
  if (outcome.kind === "drop") {
    counts.droppedLines += p.posts.length;
    return { data: undefined, users: undefined, removed: [{ data: p.posts, ...(p.includes ? { includes: p.includes } : {}) }] };
  }
  if (outcome.kind === "keep") {
    counts.unchangedLines += p.posts.length;
    return { data: [p.dataBuf], users: p.usersBuf ? [p.usersBuf] : undefined, removed: [] };
  }
  const kept = new Set(Array.isArray(page.data) ? page.data : []);
  const layout = new ArrayLayout();
  new ArrayScanner({
    gap: (b, s, e) => layout.onGap(b, s, e),
    element: (b, s, e, no) => {
      const v = p.posts[no - 1];
      if (!kept.has(v)) {
        counts.droppedLines++;
        layout.element(undefined);
      } else if (geoBefore[no - 1] && !hasGeo(v)) {
        counts.rewrittenLines++;
        layout.element(Buffer.from(stringifyLossless(v)));
      } else {
        counts.unchangedLines++;
        layout.element(b, s, e);
      }
    },
  }).push(p.dataBuf);
  layout.end();
  let users: Buffer[] | undefined = p.usersBuf ? [p.usersBuf] : undefined;
  if (p.includes && before && Object.entries(p.includes).some(([k, v]) => before.get(k) !== v)) {
    const text = p.usersBuf!.toString("latin1");
    const trailing = text.slice(text.trimEnd().length);
    users = [Buffer.from(stringifyLossless(p.includes) + trailing)];
  }
  return { data: layout.take(), users, removed: outcome.removed };
}

/**
 * Preflight for an output folder: its parent must exist; it must not exist, or be empty, or
 * --force; it must not hold an input nor lie inside the dataset folder.
 */
export async function checkOutputFolder(
  cwd: string,
  path: string,
  opts: { force: boolean; inputs: Array<{ full: string; what: string }>; datasetFolder: string | undefined },
): Promise<string> {
  const full = resolve(cwd, path);
  const partial = `${full}.partial`;
  if (opts.datasetFolder !== undefined && (full === opts.datasetFolder || full.startsWith(opts.datasetFolder + sep))) {
    throw new UsageError(`the output folder ${path} is ${full === opts.datasetFolder ? "the dataset folder itself" : "inside the dataset folder"}; apply never writes where it reads: choose a folder beside it.`);
  }
  for (const input of opts.inputs) {
    if (input.full === full || input.full.startsWith(full + sep) || input.full === partial || input.full.startsWith(partial + sep)) {
      throw new UsageError(`the output folder ${path} would hold the ${input.what} ${shown(cwd, input.full)}; apply never writes where it reads: choose another -o.`);
    }
  }
  const parent = dirname(full);
  if (!(await stat(parent).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`cannot write the output folder ${path}: the folder ${parent} does not exist; create it or choose another path.`);
  }
  const there = await lstat(full).catch(() => undefined);
  if (!there) return full;
  if (!there.isDirectory()) throw new UsageError(`the output folder ${path} exists and is not a folder; choose another -o.`);
  if ((await readdir(full)).length > 0 && !opts.force) {
    throw new UsageError(`the output folder ${path} already exists and is not empty; pass --force to replace the files of the same names in it, or choose another -o.`);
  }
  return full;
}

/**
 * The output folder is built in `<out>.partial/` (made new), and put in place only when every
 * file in it is complete: renamed to `<out>`, or (an existing folder, with --force) its files
 * renamed into `<out>` one by one. A failure removes `<out>.partial/` and leaves `<out>` as it was.
 */
export class StagedFolder {
  private constructor(
    readonly target: string,
    readonly dir: string,
  ) {}

  static async create(target: string): Promise<StagedFolder> {
    const dir = `${target}.partial`;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    return new StagedFolder(target, dir);
  }

  path(base: string): string {
    return join(this.dir, base);
  }

  async commit(): Promise<void> {
    const there = await lstat(this.target).catch(() => undefined);
    if (!there) return rename(this.dir, this.target);
    if (!there.isDirectory()) throw new UsageError(`${this.target} became something other than a folder while apply ran; the output is left in ${this.dir}.`);
    const existing = await readdir(this.target);
    if (existing.length === 0) {
      await rmdir(this.target);
      return rename(this.dir, this.target);
    }
    const names = await readdir(this.dir);
    for (const name of names) {
      const dest = join(this.target, name);
      if ((await lstat(dest).catch(() => undefined))?.isDirectory()) {
        throw new UsageError(`${dest} is a folder, so the file of that name cannot replace it; nothing was written to ${this.target}.`);
      }
    }
    for (const name of names) await rename(join(this.dir, name), join(this.target, name));
    await rmdir(this.dir);
  }

  async abort(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
