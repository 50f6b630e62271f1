import { copyFile } from "node:fs/promises";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { IdSet } from "../io/id-set.js";
import { inputFrom, inputName, readInput } from "../io/input.js";
import { atomicFileSink, compressedByName, streamSink, type Sink } from "../io/atomic-file.js";
import { shown } from "../io/target.js";
import type { ApplierCounts } from "../dataset/applier.js";
import { applyToPageFiles, checkOutputFolder, pageIds, planDatasets, readPage, StagedFolder, type DatasetPlan } from "../dataset/folder.js";
import { invalidDatasetError } from "../dataset/invalid.js";
import { zeroCounts } from "../dataset/applier.js";
import { AutoApplier } from "../dataset/json-array.js";
import { stringifyLossless } from "../dataset/json-lossless.js";
import { checkOutputFile } from "../dataset/output.js";
import { extract, type IdsOptions } from "./ids.js";
import { buildSummary, describe, loadAndWarn, type ApplyOptions } from "./apply.js";

// `ids` and `apply` on a dataset of several files: files named on the command line, a folder of
// dataset files, or an academictwitteR folder (dataset/folder.ts). Each file goes through the
// same per-file path as a single dataset.

function planName(plan: DatasetPlan, cwd: string): string {
  if (plan.kind === "academictwitter" || plan.folder !== undefined) return shown(cwd, plan.kind === "academictwitter" ? plan.folder : plan.folder!);
  return plan.files.map((f) => f.name).join(", ");
}

function warnSkipped(plan: DatasetPlan, ctx: Context): void {
  if (plan.skipped.length > 0) ctx.log.warn(`left out ${plan.skipped.join(", ")}: folders inside the dataset folder are not entered`);
}

/** `compliant ids` on several files or a folder: every file is checked before the first ID is printed. */
export async function runIdsMany(opts: IdsOptions & { type: "tweets" | "users" }, ctx: Context): Promise<void> {
  const plan = await planDatasets(ctx.cwd, opts.args);
  const name = planName(plan, ctx.cwd);
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
  if (!opts.skipInvalid) {
    for (const f of plan.files) {
      const check = await extract(open(f.full, f.name), opts.type, field, undefined, undefined, ctx.signal, true, f.name);
      if (check.invalid.count > 0) throw invalidDatasetError(f.name, check.invalid);
    }
  }
  for (const f of plan.files) {
    const result = await extract(open(f.full, f.name), opts.type, field, onId, flush, ctx.signal, !opts.skipInvalid, f.name);
    if (result.invalid.count > 0) {
      if (!opts.skipInvalid) throw invalidDatasetError(f.name, result.invalid);
      ctx.log.warn(`skipped ${result.invalid.summary()} of ${f.name} (--skip-invalid)`);
    }
    total += result.ids;
    records += result.lines;
  }
  ctx.log.info(`printed ${printed} ${opts.type === "tweets" ? "Post" : "user"} IDs from ${plan.files.length} files (${records} records) of ${name}${seen ? ` (${total - printed} duplicates left out)` : ""}`);
}

function add(total: ApplierCounts, c: ApplierCounts): void {
  for (const k of Object.keys(total) as Array<keyof ApplierCounts>) total[k] += c[k];
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
  const listed = new IdSet();
  let unit = "line";
  const staged = await StagedFolder.create(outFull);
  let audit: Sink | undefined;
  let refetch: Sink | undefined;
  const writeRehydrate = async (pieces: Buffer[]) => {
    if (!refetch || pieces.length === 0) return;
    const ids = Buffer.concat(pieces).toString("latin1").split("\n").filter((id) => id !== "" && listed.add(id));
    if (ids.length > 0) await refetch.write([Buffer.from(`${ids.join("\n")}\n`, "latin1")]);
  };
  const invalidKept: string[] = [];
  try {
    if (removedFull !== undefined) audit = compressedByName(removedFull, await atomicFileSink(removedFull));
    if (rehydrateFull !== undefined) refetch = await atomicFileSink(rehydrateFull);
    if (plan.kind === "academictwitter") {
      unit = "Post";
      const rehydrateIds: string[] = [];
      for (const page of plan.pages) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        const read = await readPage(page, datasetName);
        const out = applyToPageFiles(read, opts.type, results.index, total, (id) => rehydrateIds.push(id));
        await writeRehydrate([Buffer.from(rehydrateIds.map((id) => `${id}\n`).join(""), "latin1")]);
        rehydrateIds.length = 0;
        if (audit) await audit.write(out.removed.map((r) => Buffer.from(`${stringifyLossless(r)}\n`)));
        if (out.data) await writeFile(staged.path(page.data.base), out.data);
        if (out.users && page.users) await writeFile(staged.path(page.users.base), out.users);
        ctx.log.progress(`applied results to ${plan.pages.indexOf(page) + 1} of ${plan.pages.length} pages of ${datasetName}`);
      }
      for (const other of plan.others) await copyFile(other.full, staged.path(other.base));
    } else {
      for (const f of plan.files) {
        const applier = new AutoApplier(opts.type, results.index, audit !== undefined, f.name);
        const target = staged.path(f.base);
        const out = compressedByName(target, await atomicFileSink(target));
        try {
          for await (const chunk of readInput({ kind: "file", path: f.full }, ctx.stdin, f.name)) {
            if (ctx.signal.aborted) throw ctx.signal.reason;
            applier.push(chunk);
            const { out: pieces, removed, rehydrate } = applier.take();
            await out.write(pieces);
            if (audit) await audit.write(removed);
            await writeRehydrate(rehydrate);
            ctx.log.progress(`applied results to ${applier.counts.lines.toLocaleString("en-US")} ${applier.unit}s of ${f.name}`);
          }
          applier.end();
          const { out: pieces, removed, rehydrate } = applier.take();
          await out.write(pieces);
          if (audit) await audit.write(removed);
          await writeRehydrate(rehydrate);
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
        add(total, applier.counts);
      }
    }
    if (audit) await audit.commit();
    if (refetch) await refetch.commit();
    await staged.commit();
  } catch (err) {
    await audit?.abort();
    await refetch?.abort();
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
      rehydrate_ids: listed.size,
      type: opts.type,
      seconds: (Date.now() - started) / 1000,
    }),
    files: plan.kind === "academictwitter" ? plan.pages.length : plan.files.length,
  };
  if (json) ctx.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else ctx.log.info(describe(summary, unit));
}

/** One file of the output folder, written whole (`.partial` then renamed). */
async function writeFile(full: string, pieces: Buffer[]): Promise<void> {
  const sink = await atomicFileSink(full);
  try {
    await sink.write(pieces);
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

