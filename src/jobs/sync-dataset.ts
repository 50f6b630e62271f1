import { createHash, type Hash } from "node:crypto";
import { copyFile, open, readdir, readFile, stat, type FileHandle } from "node:fs/promises";
import type { Context } from "../context.js";
import { CliError, ExitCode } from "../errors.js";
import { IdSet } from "../io/id-set.js";
import { readInput } from "../io/input.js";
import { tee } from "../io/tee.js";
import { atomicFileSink, compressedByName, gzipSink, writeFileAtomically, type Sink } from "../io/atomic-file.js";
import { ChainApplier } from "../dataset/chain.js";
import type { CsvColumnChoice } from "../dataset/csv-columns.js";
import { addCounts, zeroCounts, type ApplierCounts } from "../dataset/applier.js";
import type { EventIndex } from "../dataset/event-index.js";
import { applyToPageFiles, pageIds, parsePage, readPage, StagedFolder, type DatasetFile, type DatasetPlan } from "../dataset/folder.js";
import { detectFormat, type DatasetFormat } from "../dataset/format.js";
import { invalidDatasetError, type InvalidLines } from "../dataset/invalid.js";
import { stringifyLossless } from "../dataset/json-lossless.js";
import { transferText } from "../output/render.js";
import type { DatasetType } from "../dataset/record-shape.js";
import { applyStream, datasetApplier, extract, extractDataset, RehydrateList } from "./dataset-file.js";

// The dataset side of `compliant sync`: one read that collects every Post ID and every user ID
// (and the dataset's SHA-256), and one pass that applies both result sets (dataset/chain.ts).
// A dataset is one file, several files or a folder of them, or an academictwitteR folder.

export type SyncDataset =
  | { kind: "file"; full: string; name: string }
  | { kind: "plan"; plan: DatasetPlan; name: string };

export interface FormatChoice {
  format?: DatasetFormat;
  choice: CsvColumnChoice;
}

/** Size and SHA-256 of the dataset's bytes; for several files, of their `sha256sum`-style manifest. */
export interface Fingerprint {
  bytes: number;
  sha256: string;
  /** "file": the file's own bytes; "manifest": `<sha256>  <name>` lines of every file, in name order. */
  of: "file" | "manifest";
}

/** An ID file being written: each ID once, in the order first seen. */
export class IdFileWriter {
  private readonly seen = new IdSet();
  private pending: string[] = [];
  count = 0;

  private constructor(private readonly fh: FileHandle) {}

  static async create(path: string): Promise<IdFileWriter> {
    return new IdFileWriter(await open(path, "w", 0o600));
  }

  add(id: string): void {
    if (!this.seen.add(id)) return;
    this.pending.push(id);
    this.count++;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = `${this.pending.join("\n")}\n`;
    this.pending = [];
    await this.fh.write(text);
  }

  private closed = false;

  /** Writes what is pending and closes the file (once; later calls do nothing). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush();
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }
}

function manifest(entries: Array<{ base: string; sha256: string; bytes: number }>): Fingerprint {
  const sorted = [...entries].sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
  const text = sorted.map((e) => `${e.sha256}  ${e.base}\n`).join("");
  return { bytes: sorted.reduce((n, e) => n + e.bytes, 0), sha256: createHash("sha256").update(text).digest("hex"), of: "manifest" };
}

/** A reader of one file that also hashes its bytes as they are on disk, and says how far it is. */
function hashedRead(full: string, name: string, ctx: Context, onFormat?: (gzip: boolean) => void): { stream: AsyncIterable<Buffer>; done: () => { bytes: number; sha256: string }; progress: (what: string) => void } {
  const sha = createHash("sha256");
  let bytes = 0;
  let size: number | undefined;
  stat(full).then((st) => (size = st.size), () => undefined);
  const started = Date.now();
  const stream = readInput({ kind: "file", path: full }, ctx.stdin, name, onFormat, (c) => {
    sha.update(c);
    bytes += c.length;
  });
  return {
    stream,
    done: () => ({ bytes, sha256: sha.digest("hex") }),
    // Bytes as on disk against the file's size: a rate and an ETA for a .gz too.
    progress: (what) => ctx.log.progress(() => `${what} ${name}: ${transferText(bytes, size, started, Date.now())}`),
  };
}

/** sync keeps no invalid record as it is (a record it cannot read may hold what must go). */
const SYNC_REMEDY = "nothing was created: fix or remove them, then run the sync again";

/** Collects both kinds of ID from one stream (tee'd: one read, two parses side by side). */
async function collectStream(
  stream: AsyncIterable<Buffer>,
  full: string,
  name: string,
  fmt: FormatChoice,
  into: Record<DatasetType, IdFileWriter>,
  signal: AbortSignal,
  progress: () => void,
  noUser: NoUser,
): Promise<number> {
  const sniff = await detectFormat(stream, full, fmt.format, fmt.choice);
  const flush = async () => {
    progress();
    await into.tweets.flush();
    await into.users.flush();
  };
  if (sniff.format !== "csv") {
    // JSON: one parse gives both kinds (a record is invalid only when it has neither).
    const r = await extract(sniff.stream, "both", undefined, (id, type) => into[type].add(id), flush, signal, true, name);
    if (r.invalid.count > 0) throw invalidDatasetError(name, r.invalid, SYNC_REMEDY);
    return r.lines;
  }
  // CSV: the Post and the user column are read by two readers of the same bytes.
  const [a, b] = tee(sniff.stream, 2);
  const one = (src: AsyncIterable<Buffer>, type: DatasetType) =>
    extractDataset(src, { csv: true, type, field: undefined, choice: fmt.choice, name }, (id) => into[type].add(id), () => (progress(), into[type].flush()), signal, false);
  const [t, u] = await Promise.all([one(a!, "tweets"), one(b!, "users")]);
  // A record with no Post ID fails the tweets reading. One the tweets reading took but the users
  // reading did not is a Post that names no author: it is checked by its Post ID, and has no
  // user to check (collectIds judges a dataset without Posts).
  if (t.invalid.count > 0) throw invalidDatasetError(name, t.invalid, SYNC_REMEDY);
  noUser.count += u.invalid.count;
  if (u.invalid.count > 0) noUser.first ??= { name, invalid: u.invalid };
  return t.lines;
}

/** Records the users reading found no user ID in (collectIds decides what they mean). */
interface NoUser {
  count: number;
  first?: { name: string; invalid: InvalidLines };
}


/** Step 1 of sync: every Post ID and user ID of the dataset into two ID files, and its fingerprint. */
export async function collectIds(ds: SyncDataset, fmt: FormatChoice, into: Record<DatasetType, IdFileWriter>, ctx: Context): Promise<{ fingerprint: Fingerprint; records: number }> {
  const noUser: NoUser = { count: 0 };
  const judged = <T>(r: T): T => {
    // In a dataset of user objects (no Post IDs at all) a record without a user ID is unreadable;
    // beside Posts, it is a Post without an author.
    if (noUser.first && into.tweets.count === 0) throw invalidDatasetError(noUser.first.name, noUser.first.invalid, SYNC_REMEDY);
    if (noUser.count > 0) ctx.log.info(`${noUser.count.toLocaleString("en-US")} record${noUser.count === 1 ? "" : "s"} name no author: checked by Post ID only (no user to check)`);
    return r;
  };
  if (ds.kind === "file") {
    const read = hashedRead(ds.full, ds.name, ctx);
    const records = await collectStream(read.stream, ds.full, ds.name, fmt, into, ctx.signal, () => read.progress("collecting Post and user IDs from"), noUser);
    return judged({ fingerprint: { ...read.done(), of: "file" }, records });
  }
  const plan = ds.plan;
  const entries: Array<{ base: string; sha256: string; bytes: number }> = [];
  let records = 0;
  if (plan.kind === "academictwitter") {
    for (const page of plan.pages) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const read = await readPage(page, ds.name);
      for (const type of ["tweets", "users"] as const) {
        for (const id of pageIds(read, type, undefined, page, ds.name)) into[type].add(id);
        await into[type].flush();
      }
      records += read.posts.length;
      entries.push(fileEntry(page.data, read.dataBuf));
      if (page.users && read.usersBuf) entries.push(fileEntry(page.users, read.usersBuf));
    }
    for (const other of plan.others) entries.push(fileEntry(other, await readFile(other.full)));
    return { fingerprint: manifest(entries), records };
  }
  for (const f of plan.files) {
    const read = hashedRead(f.full, f.name, ctx);
    records += await collectStream(read.stream, f.full, f.name, fmt, into, ctx.signal, () => read.progress("collecting Post and user IDs from"), noUser);
    entries.push({ base: f.base, ...read.done() });
  }
  return judged({ fingerprint: manifest(entries), records });
}

/** Size and SHA-256 of bytes held whole (an academictwitteR page, a file of a folder). */
function digestOf(buf: Buffer): { bytes: number; sha256: string } {
  return { bytes: buf.length, sha256: createHash("sha256").update(buf).digest("hex") };
}

function fileEntry(f: DatasetFile, buf: Buffer): { base: string; sha256: string; bytes: number } {
  return { base: f.base, ...digestOf(buf) };
}

/** What an apply writes beside the output: removed records (`--removed`) and rehydrate IDs (`--rehydrate`). */
export interface Side {
  removed: Sink | undefined;
  rehydrate: RehydrateList | undefined;
}

/** One result set to apply: its type and index. */
export interface Stage {
  type: DatasetType;
  index: EventIndex;
}

/** What the apply pass did, per stage (in the order given) and in all. */
export interface ApplyOutcome {
  stages: ApplierCounts[];
  /** Records read (lines, CSV records, array elements or academictwitteR Posts). */
  records: number;
  unit: string;
  /**
   * Puts the output in place (rename). `before` is told the output's fingerprint once every byte
   * is written and before anything is renamed (sync records it, so a crash between the two is
   * recognised afterwards).
   */
  commit: (before: (output: Fingerprint) => Promise<void>) => Promise<Fingerprint>;
  /** Throws the output away. */
  abort: () => Promise<void>;
}

/**
 * A Sink that hashes the bytes it passes on (the bytes as they reach the disk, after gzip), and
 * tells `before` their fingerprint when the layer above commits: every byte has passed by then,
 * and nothing is renamed yet.
 */
function hashing(inner: Sink, sha: Hash, counter: { bytes: number }, before: { hook?: (fp: { bytes: number; sha256: string }) => Promise<void> }): Sink {
  return {
    async write(pieces) {
      for (const p of pieces) {
        sha.update(p);
        counter.bytes += p.length;
      }
      await inner.write(pieces);
    },
    async commit() {
      await before.hook?.({ bytes: counter.bytes, sha256: sha.copy().digest("hex") });
      await inner.commit();
    },
    abort: () => inner.abort(),
  };
}

/** Streams one file through the chain of stages into `target` (its .partial; renamed by commit). */
async function applyFile(
  full: string,
  name: string,
  target: string,
  stages: readonly Stage[],
  fmt: FormatChoice,
  side: Side,
  expected: string | undefined,
  auditHeader: { first: boolean },
  ctx: Context,
  inPlace = false,
): Promise<{ counts: ApplierCounts[]; records: number; unit: string; sink: Sink; before: { hook?: (fp: { bytes: number; sha256: string }) => Promise<void> }; out: () => { bytes: number; sha256: string }; input: { bytes: number; sha256: string } }> {
  let gzip = false;
  const read = hashedRead(full, name, ctx, (gz) => (gzip = gz));
  const sniff = await detectFormat(read.stream, full, fmt.format, fmt.choice);
  const csv = sniff.format === "csv";
  // A CSV header goes to the removed file once: from the first stage of the first CSV file.
  const audit = side.removed;
  const appliers = stages.map((s, i) => datasetApplier(csv, s.type, s.index, audit !== undefined, fmt.choice, name, i === 0 && auditHeader.first, true));
  if (csv && audit) auditHeader.first = false;
  const chain = new ChainApplier(appliers);
  const sha = createHash("sha256");
  const counter = { bytes: 0 };
  const before: { hook?: (fp: { bytes: number; sha256: string }) => Promise<void> } = {};
  // In place, the file stays what it was: its permissions, and gzip or not (whatever its name);
  // a new output is compressed by its name, as apply's is.
  const mode = inPlace ? (await stat(full)).mode & 0o7777 : undefined;
  const hashed = hashing(await atomicFileSink(target, { mode }), sha, counter, before);
  const sink = inPlace ? (gzip ? gzipSink(hashed) : hashed) : compressedByName(target, hashed);
  try {
    await applyStream(sniff.stream, chain, { out: sink, removed: audit, rehydrate: side.rehydrate }, ctx.signal, () =>
      read.progress(`applying both result sets (${chain.counts.lines.toLocaleString("en-US")} ${csv ? "CSV records" : `${chain.unit}s`}) to`),
    );
    if (chain.invalid.count > 0) throw invalidDatasetError(name, chain.invalid, SYNC_REMEDY);
    const input = read.done();
    if (expected !== undefined && input.sha256 !== expected) throw changedError(name);
    // A gzip sink writes its last bytes on commit: the hash is complete only after that.
    return {
      counts: appliers.map((a) => a.counts),
      records: chain.counts.lines,
      unit: csv ? "CSV record" : chain.unit,
      sink,
      before,
      out: () => ({ bytes: counter.bytes, sha256: sha.copy().digest("hex") }),
      input,
    };
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

function changedError(name: string): CliError {
  return new CliError(
    `${name} changed while sync was running (its SHA-256 is not what the IDs were collected from), so the results may not cover it; nothing was replaced. Run the same sync again once nothing else writes the dataset.`,
    ExitCode.transient,
  );
}

/**
 * Step 3 of sync: both result sets applied in one pass. A single file is written to `<out>.partial`
 * (or, in place, `<dataset>.partial`); several files into `<out>.partial/`. Nothing is in place
 * until `commit` is called. `expected` is the fingerprint the IDs were collected from: a dataset
 * that changed since is refused.
 */
export async function applyStages(
  ds: SyncDataset,
  outFull: string,
  stages: readonly Stage[],
  fmt: FormatChoice,
  side: Side,
  expected: Fingerprint,
  ctx: Context,
  inPlace = false,
): Promise<ApplyOutcome> {
  const audit = side.removed;
  if (ds.kind === "file") {
    const r = await applyFile(ds.full, ds.name, outFull, stages, fmt, side, expected.sha256, { first: true }, ctx, inPlace);
    return {
      stages: r.counts,
      records: r.records,
      unit: r.unit,
      commit: async (before) => {
        r.before.hook = (fp) => before({ ...fp, of: "file" });
        await r.sink.commit();
        return { ...r.out(), of: "file" };
      },
      abort: () => r.sink.abort(),
    };
  }
  const plan = ds.plan;
  const staged = await StagedFolder.create(outFull);
  const counts = stages.map(() => zeroCounts());
  const inEntries: Array<{ base: string; sha256: string; bytes: number }> = [];
  const outEntries: Array<{ base: string; sha256: string; bytes: number }> = [];
  let records = 0;
  let unit = "record";
  const auditHeader = { first: true };
  try {
    if (plan.kind === "academictwitter") {
      unit = "Post";
      for (const page of plan.pages) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        let read = await readPage(page, ds.name);
        inEntries.push(fileEntry(page.data, read.dataBuf));
        if (page.users && read.usersBuf) inEntries.push(fileEntry(page.users, read.usersBuf));
        records += read.posts.length;
        let data: Buffer | undefined = read.dataBuf;
        let users: Buffer | undefined = read.usersBuf;
        for (let i = 0; i < stages.length && data !== undefined; i++) {
          if (i > 0) read = parsePage(page, ds.name, data, users);
          const edited: string[] = [];
          const out = applyToPageFiles(read, stages[i]!.type, stages[i]!.index, counts[i]!, (id) => edited.push(`${id}\n`));
          if (audit) await audit.write(out.removed.map((r) => Buffer.from(`${stringifyLossless(r)}\n`)));
          if (side.rehydrate && edited.length > 0) await side.rehydrate.write([Buffer.from(edited.join(""), "latin1")]);
          data = out.data ? Buffer.concat(out.data) : undefined;
          users = out.users ? Buffer.concat(out.users) : undefined;
        }
        if (data !== undefined) {
          await writeFileAtomically(staged.path(page.data.base), [data]);
          outEntries.push(fileEntry(page.data, data));
          if (users !== undefined && page.users) {
            await writeFileAtomically(staged.path(page.users.base), [users]);
            outEntries.push(fileEntry(page.users, users));
          }
        }
        ctx.log.progress(`applied both result sets to ${plan.pages.indexOf(page) + 1} of ${plan.pages.length} pages of ${ds.name}`);
      }
      for (const other of plan.others) {
        const buf = await readFile(other.full);
        inEntries.push(fileEntry(other, buf));
        await copyFile(other.full, staged.path(other.base));
        outEntries.push(fileEntry(other, buf));
      }
    } else {
      for (const f of plan.files) {
        const r = await applyFile(f.full, f.name, staged.path(f.base), stages, fmt, side, undefined, auditHeader, ctx);
        await r.sink.commit();
        inEntries.push({ base: f.base, ...r.input });
        outEntries.push({ base: f.base, ...r.out() });
        r.counts.forEach((c, i) => addCounts(counts[i]!, c));
        records += r.records;
        if (plan.files.length === 1) unit = r.unit;
      }
    }
    if (manifest(inEntries).sha256 !== expected.sha256) throw changedError(ds.name);
  } catch (err) {
    await staged.abort();
    throw err;
  }
  const output = manifest(outEntries);
  return {
    stages: counts,
    records,
    unit,
    commit: async (before) => {
      await before(output);
      await staged.commit();
      return output;
    },
    abort: () => staged.abort(),
  };
}

/** The fingerprint of what is at `full` now (a file's bytes, or a folder's manifest), or undefined if nothing is there. */
export async function fingerprintOf(full: string, kind: "file" | "manifest"): Promise<Fingerprint | undefined> {
  if (kind === "file") {
    const fh = await open(full, "r").catch(() => undefined);
    if (!fh) return undefined;
    try {
      const sha = createHash("sha256");
      let bytes = 0;
      for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20 })) {
        sha.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
      return { bytes, sha256: sha.digest("hex"), of: "file" };
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
  const names = await readdir(full, { withFileTypes: true }).catch(() => undefined);
  if (!names) return undefined;
  const entries = [];
  for (const e of names) if (e.isFile()) entries.push({ base: e.name, ...(await fileDigest(`${full}/${e.name}`)) });
  return manifest(entries);
}

async function fileDigest(full: string): Promise<{ bytes: number; sha256: string }> {
  return digestOf(await readFile(full));
}
