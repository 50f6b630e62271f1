import { copyFile } from "node:fs/promises";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { IdSet } from "../io/id-set.js";
import { inputFrom, inputName, readInput } from "../io/input.js";
import { atomicFileSink, compressedByName, streamSink, writeFileAtomically, type Sink } from "../io/atomic-file.js";
import { shown } from "../io/target.js";
import { applyToPageFiles, checkOutputFolder, pageIds, planDatasets, readPage, StagedFolder, type DatasetPlan } from "../dataset/folder.js";
import { invalidDatasetError } from "../dataset/invalid.js";
import { addCounts, zeroCounts } from "../dataset/applier.js";
import { CsvApplier } from "../dataset/csv-applier.js";
import { detectFileFormat } from "../dataset/format.js";
import { stringifyLossless } from "../dataset/json-lossless.js";
import { checkOutputFile } from "../dataset/output.js";
import type { IdsOptions } from "./ids.js";
import { buildSummary, describe, loadAndWarn, type ApplyOptions } from "./apply.js";
import { applyStream, checkFormatFlags, columnChoice, datasetApplier, extractDataset, RehydrateList, type FileApplier, type FormatOptions } from "./dataset-file.js";

// `ids` and `apply` on a dataset of several files: files named on the command line, a folder of
// dataset files, or an academictwitteR folder (dataset/folder.ts). Each file goes through the
// same per-file path as a single dataset (jobs/dataset-file.ts), in its own format.

function planName(plan: DatasetPlan, cwd: string): string {
  if (plan.kind === "academictwitter" || plan.folder !== undefined) return shown(cwd, plan.kind === "academictwitter" ? plan.folder : plan.folder!);
  return plan.files.map((f) => f.name).join(", ");
}

/** What is not CSV, for the usage error of --id-column on datasets none of which is. */
function notCsv(plan: DatasetPlan, name: string): string {
  return plan.kind === "academictwitter" || plan.folder !== undefined ? `no file in ${name} is CSV` : `none of ${name} is CSV`;
}

/**
 * The format of every file of a plan (each as one dataset's is found, --format and the column
 * flags applying to all), known before any is read through; the flags that fit none of them are
 * the usage errors a single dataset gives. An academictwitteR folder is JSON pages.
 */
async function planFormats(plan: DatasetPlan, name: string, opts: FormatOptions & { field?: string }): Promise<boolean[]> {
  if (plan.kind === "academictwitter") {
    if (opts.format === "csv") throw new UsageError(`${name} is an academictwitteR folder (JSON pages), not CSV; drop --format csv.`);
    checkFormatFlags(opts, false, notCsv(plan, name));
    return [];
  }
  const choice = columnChoice(opts);
  const csv: boolean[] = [];
  for (const f of plan.files) csv.push((await detectFileFormat(f.full, f.name, opts.format, choice)) === "csv");
  checkFormatFlags(opts, csv.includes(true), notCsv(plan, name));
  return csv;
}

function warnSkipped(plan: DatasetPlan, ctx: Context): void {
  if (plan.skipped.length > 0) ctx.log.warn(`left out ${plan.skipped.join(", ")}: folders inside the dataset folder are not entered`);
}

/** `compliant ids` on several files or a folder: every file is checked before the first ID is printed. */
export async function runIdsMany(opts: IdsOptions & { type: "tweets" | "users" }, ctx: Context): Promise<void> {
  const plan = await planDatasets(ctx.cwd, opts.args);
  const name = planName(plan, ctx.cwd);
  const csv = await planFormats(plan, name, opts);
  warnSkipped(plan, ctx);
  const field = opts.field?.split(".");
  const seen = opts.unique ? new IdSet() : undefined;
  const sink = streamSink(ctx.stdout);
  let pending: string[] = [];
  let printed = 0;
  let total = 0;
  let records = 0;
  const onId = (id: string) => {
    if (seen && !seen.add(id)) return;
    pending.push(id);
    printed++;
  };
  const flush = async () => {
    if (pending.length === 0) return;
    const text = `${pending.join("\n")}\n`;
    pending = [];
    await sink.write([Buffer.from(text)]);
  };

  if (plan.kind === "academictwitter") {
    // Check every page first (a broken file fails before anything is printed), then print.
    for (const page of plan.pages) pageIds(await readPage(page, name), opts.type, field, page, name);
    for (const page of plan.pages) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const read = await readPage(page, name);
      const ids = pageIds(read, opts.type, field, page, name);
      records += read.posts.length;
      total += ids.length;
      for (const id of ids) onId(id);
      await flush();
    }
    ctx.log.info(`printed ${printed} ${opts.type === "tweets" ? "Post" : "user"} IDs from ${records} Posts in ${plan.pages.length} data files of ${name}${seen ? ` (${total - printed} duplicates left out)` : ""}`);
    return;
  }

  const open = (full: string, shownName: string) => readInput({ kind: "file", path: full }, ctx.stdin, shownName);
  const choice = columnChoice(opts);
  const how = (i: number) => ({ csv: csv[i]!, type: opts.type, field, choice, name: plan.files[i]!.name });
  if (!opts.skipInvalid) {
    for (const [i, f] of plan.files.entries()) {
      const check = await extractDataset(open(f.full, f.name), how(i), undefined, undefined, ctx.signal, true);
      if (check.invalid.count > 0) throw invalidDatasetError(f.name, check.invalid);
    }
  }
  for (const [i, f] of plan.files.entries()) {
    const result = await extractDataset(open(f.full, f.name), how(i), onId, flush, ctx.signal, !opts.skipInvalid);
    if (result.invalid.count > 0) {
      if (!opts.skipInvalid) throw invalidDatasetError(f.name, result.invalid);
      ctx.log.warn(`skipped ${result.invalid.summary()} of ${f.name} (--skip-invalid)`);
    }
    total += result.ids;
    records += result.lines;
  }
  ctx.log.info(`printed ${printed} ${opts.type === "tweets" ? "Post" : "user"} IDs from ${plan.files.length} files (${records} records) of ${name}${seen ? ` (${total - printed} duplicates left out)` : ""}`);
}

/**
 * The one --removed file of several files: each file's removed records, the CSV rows under one
 * header (the first CSV file's; a CSV file with other columns is a usage error, its rows could not
 * go under that header). Mixing CSV and JSON files is refused before anything is read.
 */
class RemovedFile {
  private header: { names: string; file: string } | undefined;

  constructor(private readonly sink: Sink) {}

  /** Where the removed records of one file's applier go. */
  of(applier: FileApplier, file: string): Pick<Sink, "write"> {
    let checked = false;
    return {
      write: async (pieces) => {
        if (!checked && applier instanceof CsvApplier && applier.header) {
          checked = true;
          const names = applier.headerNames!.join("\n");
          if (this.header === undefined) {
            this.header = { names, file };
            await this.sink.write([applier.header]);
          } else if (this.header.names !== names) {
            throw new UsageError(`--removed writes one file for the whole dataset, but the header of ${file} differs from that of ${this.header.file}; run those files separately, or drop --removed.`);
          }
        }
        await this.sink.write(pieces);
      },
    };
  }
}


/**
 * `compliant apply` on several files or a folder: each file is written to the same name in the
 * output folder, built in `<out>.partial/` and put in place only when all are complete.
 */
export async function runApplyMany(opts: ApplyOptions & { type: "tweets" | "users" }, ctx: Context): Promise<void> {
  const started = Date.now();
  const json = Boolean(opts.json ?? ctx.flags.json);
  const plan = await planDatasets(ctx.cwd, opts.args);
  const datasetName = planName(plan, ctx.cwd);
  const csv = await planFormats(plan, datasetName, opts);
  const folder = plan.kind === "academictwitter" ? plan.folder : plan.folder;
  const resultsIn = await inputFrom(ctx.cwd, opts.results, "results file");
  const outPath = opts.output ?? (folder !== undefined ? `${shown(ctx.cwd, folder)}.compliant` : undefined);
  if (outPath === undefined) throw new UsageError("apply on several datasets writes them into a folder: pass -o <folder>.");
  if (outPath === "-") throw new UsageError("several datasets cannot be written to stdout; pass -o <folder>.");
  const datasetFiles = plan.kind === "academictwitter" ? [...plan.pages.flatMap((p) => (p.users ? [p.data, p.users] : [p.data])), ...plan.others] : plan.files;
  const inputs = [
    ...datasetFiles.map((f) => ({ full: f.full, what: "dataset" })),
    ...(resultsIn.kind === "file" ? [{ full: resultsIn.path, what: "results file" }] : []),
  ];
  const outFull = await checkOutputFolder(ctx.cwd, outPath, { force: Boolean(opts.force), inputs, datasetFolder: folder });
  const inOut = (full: string) => full === outFull || full.startsWith(`${outFull}/`) || full.startsWith(`${outFull}.partial/`);
  let removedFull: string | undefined;
  if (opts.removed !== undefined) {
    if (opts.removed === "-") throw new UsageError("--removed needs a file path (stdout carries the summary).");
    removedFull = await checkOutputFile(ctx.cwd, opts.removed, "removed file", { force: Boolean(opts.force), inputs });
    if (inOut(removedFull)) throw new UsageError(`the removed file ${opts.removed} is inside the output folder ${outPath}; write it beside the folder.`);
    if (csv.includes(true) && csv.includes(false)) {
      throw new UsageError(`--removed writes one file for the whole dataset, but ${datasetName} holds both CSV and JSON files, whose records cannot share it; run them separately, or drop --removed.`);
    }
  }
  let rehydrateFull: string | undefined;
  if (opts.rehydrate !== undefined) {
    if (opts.rehydrate === "-") throw new UsageError("--rehydrate needs a file path (stdout carries the summary).");
    rehydrateFull = await checkOutputFile(ctx.cwd, opts.rehydrate, "rehydrate file", {
      force: Boolean(opts.force),
      inputs: [...inputs, ...(removedFull !== undefined ? [{ full: removedFull, what: "removed file" }] : [])],
    });
    if (inOut(rehydrateFull)) throw new UsageError(`the rehydrate file ${opts.rehydrate} is inside the output folder ${outPath}; write it beside the folder.`);
  }
  warnSkipped(plan, ctx);
  const resultsName = inputName(ctx.cwd, resultsIn);
  const results = await loadAndWarn(resultsIn, resultsName, datasetName, rehydrateFull !== undefined, Boolean(opts.strict), ctx);

  const total = zeroCounts();
  let unit = "line";
  const staged = await StagedFolder.create(outFull);
  let audit: Sink | undefined;
  let refetch: RehydrateList | undefined;
  const invalidKept: string[] = [];
  try {
    if (removedFull !== undefined) audit = compressedByName(removedFull, await atomicFileSink(removedFull));
    if (rehydrateFull !== undefined) refetch = new RehydrateList(await atomicFileSink(rehydrateFull));
    if (plan.kind === "academictwitter") {
      unit = "Post";
      const rehydrateIds: string[] = [];
      for (const page of plan.pages) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        const read = await readPage(page, datasetName);
        const out = applyToPageFiles(read, opts.type, results.index, total, (id) => rehydrateIds.push(id));
        await refetch?.write([Buffer.from(rehydrateIds.map((id) => `${id}\n`).join(""), "latin1")]);
        rehydrateIds.length = 0;
        if (audit) await audit.write(out.removed.map((r) => Buffer.from(`${stringifyLossless(r)}\n`)));
        if (out.data) await writeFileAtomically(staged.path(page.data.base), out.data);
        if (out.users && page.users) await writeFileAtomically(staged.path(page.users.base), out.users);
        ctx.log.progress(`applied results to ${plan.pages.indexOf(page) + 1} of ${plan.pages.length} pages of ${datasetName}`);
      }
      for (const other of plan.others) await copyFile(other.full, staged.path(other.base));
    } else {
      const choice = columnChoice(opts);
      const removedFile = audit && new RemovedFile(audit);
      for (const [i, f] of plan.files.entries()) {
        const applier = datasetApplier(csv[i]!, opts.type, results.index, audit !== undefined, choice, f.name, false);
        const target = staged.path(f.base);
        const out = compressedByName(target, await atomicFileSink(target));
        try {
          const words = csv[i] ? "CSV records" : `${applier.unit}s`;
          await applyStream(
            readInput({ kind: "file", path: f.full }, ctx.stdin, f.name),
            applier,
            { out, removed: removedFile?.of(applier, f.name), rehydrate: refetch },
            ctx.signal,
            () => ctx.log.progress(`applied results to ${applier.counts.lines.toLocaleString("en-US")} ${words} of ${f.name}`),
          );
          if (applier.invalid.count > 0) {
            if (!opts.skipInvalid) throw invalidDatasetError(f.name, applier.invalid);
            invalidKept.push(`${applier.invalid.summary()} of ${f.name}`);
          }
          await out.commit();
        } catch (err) {
          await out.abort();
          throw err;
        }
        if (plan.files.length === 1) unit = applier.unit;
        else unit = "record";
        addCounts(total, applier.counts);
      }
    }
    if (audit) await audit.commit();
    if (refetch) await refetch.sink.commit();
    await staged.commit();
  } catch (err) {
    await audit?.abort();
    await refetch?.sink.abort();
    await staged.abort();
    throw err;
  } finally {
    ctx.log.done();
  }

  for (const what of invalidKept) ctx.log.warn(`kept ${what} unchanged (--skip-invalid)`);
  const summary = {
    ...buildSummary(total, results, {
      dataset: datasetName,
      output: shown(ctx.cwd, outFull),
      removed_file: removedFull === undefined ? null : shown(ctx.cwd, removedFull),
      rehydrate_file: rehydrateFull === undefined ? null : shown(ctx.cwd, rehydrateFull),
      rehydrate_ids: refetch?.count ?? 0,
      type: opts.type,
      seconds: (Date.now() - started) / 1000,
    }),
    files: plan.kind === "academictwitter" ? plan.pages.length : plan.files.length,
  };
  if (json) ctx.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else ctx.log.info(describe(summary, unit));
}


