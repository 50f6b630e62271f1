import type { Context } from "../context.js";
import { CliError, ExitCode, UsageError } from "../errors.js";
import type { ApplierCounts } from "../dataset/applier.js";
import { isFolder } from "../dataset/folder.js";
import { loadResults, type LoadedResults } from "../dataset/event-index.js";
import { invalidDatasetError } from "../dataset/invalid.js";
import { forTerminal } from "../output/escape.js";
import { checkOutputFile, defaultOutputPath } from "../dataset/output.js";
import { inputFrom, inputName, readInput, type Input } from "../io/input.js";
import { atomicFileSink, compressedByName, deferredSink, gzipSink, streamSink, type Sink } from "../io/atomic-file.js";
import type { DatasetType } from "../dataset/record-shape.js";
import { shown } from "../io/target.js";
import { detectFormat, type DatasetFormat } from "../dataset/format.js";
import { applyStream, checkFormatFlags, columnChoice, datasetApplier } from "./dataset-file.js";

/** What `compliant apply` is told (commands/apply.ts declares and checks the flags). */
export interface ApplyOptions {
  args: string[];
  results: string;
  /** Default tweets. */
  type?: "tweets" | "users";
  output?: string;
  removed?: string;
  /** Where to list the IDs of records with a `rehydrate` event (out of date), one per line. */
  rehydrate?: string;
  force?: boolean;
  strict?: boolean;
  skipInvalid?: boolean;
  json?: boolean;
  /** Default: detected (csv by a .csv/.csv.gz name or a CSV header first line). */
  format?: DatasetFormat;
  /** CSV: the Post ID column (default: detected). */
  idColumn?: string;
  /** CSV: the user ID column for --type users (default: detected). */
  userColumn?: string;
}

/** The `--json` document of `compliant apply` (stable interface; snake_case like `all`'s summary). */
export interface ApplySummary {
  dataset: string;
  output: string;
  removed_file: string | null;
  rehydrate_file: string | null;
  type: DatasetType;
  results: {
    events: number;
    error_records: number;
    delete: number;
    scrub: number;
    /** Events `apply` leaves untouched: `rehydrate` ones and actions it does not know. */
    untouched: number;
    /** Of those, `rehydrate` events. */
    rehydrate: number;
    untouched_actions: Record<string, number>;
    /** Distinct IDs by the kind that wins for each (delete > scrub > rehydrate > untouched). */
    ids_by_kind: { delete: number; scrub: number; rehydrate: number; untouched: number };
    /** Event lines beyond the first for an ID. */
    duplicate_lines: number;
    invalid_id_count: number;
  };
  lines: number;
  blank_lines: number;
  unchanged_lines: number;
  rewritten_lines: number;
  dropped_lines: number;
  removed_records: number;
  scrubbed_records: number;
  untouched_records: number;
  rehydrate_records: number;
  /** IDs written to the rehydrate file (each once). */
  rehydrate_ids: number;
  pruned_includes: number;
  invalid_lines: number;
  bytes: number;
  seconds: number;
}

export async function run(given: ApplyOptions, ctx: Context): Promise<void> {
  const opts = { ...given, type: given.type ?? "tweets" };
  const started = Date.now();
  const json = Boolean(opts.json ?? ctx.flags.json);
  const dataset = opts.args[0];
  if (dataset === undefined) throw new UsageError("no dataset given; run compliant apply --results <results> <dataset>.");
  if (opts.args.length > 1 || (await isFolder(ctx.cwd, dataset))) return (await import("./datasets.js")).runApplyMany(opts, ctx);

  // Preflight: every path is checked before anything is read or written.
  const datasetIn = await inputFrom(ctx.cwd, dataset, "dataset");
  const resultsIn = await inputFrom(ctx.cwd, opts.results, "results file");
  if (datasetIn.kind === "stdin" && resultsIn.kind === "stdin") throw new UsageError("the dataset and the results file cannot both come from stdin.");
  const inputs = [
    ...(datasetIn.kind === "file" ? [{ full: datasetIn.path, what: "dataset" }] : []),
    ...(resultsIn.kind === "file" ? [{ full: resultsIn.path, what: "results file" }] : []),
  ];
  const outPath = opts.output ?? (datasetIn.kind === "stdin" ? "-" : shown(ctx.cwd, defaultOutputPath(datasetIn.path)));
  const outFull = outPath === "-" ? "-" : await checkOutputFile(ctx.cwd, outPath, "output file", { force: Boolean(opts.force), inputs });
  let removedFull: string | undefined;
  if (opts.removed !== undefined) {
    if (opts.removed === "-") throw new UsageError("--removed needs a file path (stdout carries the dataset or the summary).");
    removedFull = await checkOutputFile(ctx.cwd, opts.removed, "removed file", {
      force: Boolean(opts.force),
      // The output is written to <output>.partial first: the removed file (or its own .partial)
      // being that path would rename one file over the other, and the output would hold the
      // dropped records.
      inputs: [...inputs, ...(outFull !== "-" ? [{ full: outFull, what: "output file" }, { full: `${outFull}.partial`, what: "output's temporary file" }] : [])],
    });
  }
  let rehydrateFull: string | undefined;
  if (opts.rehydrate !== undefined) {
    if (opts.rehydrate === "-") throw new UsageError("--rehydrate needs a file path (stdout carries the dataset or the summary).");
    rehydrateFull = await checkOutputFile(ctx.cwd, opts.rehydrate, "rehydrate file", {
      force: Boolean(opts.force),
      inputs: [
        ...inputs,
        ...(outFull !== "-" ? [{ full: outFull, what: "output file" }, { full: `${outFull}.partial`, what: "output's temporary file" }] : []),
        ...(removedFull !== undefined ? [{ full: removedFull, what: "removed file" }, { full: `${removedFull}.partial`, what: "removed file's temporary file" }] : []),
      ],
    });
  }
  const datasetName = inputName(ctx.cwd, datasetIn);
  const resultsName = inputName(ctx.cwd, resultsIn);

  const results = await loadAndWarn(resultsIn, resultsName, datasetName, rehydrateFull !== undefined, Boolean(opts.strict), ctx);

  // The format is known before any output file is opened, so a CSV header without the column
  // asked for fails with nothing written.
  let inputGzip = false;
  const choice = columnChoice(opts);
  const sniff = await detectFormat(readInput(datasetIn, ctx.stdin, datasetName, (gz) => (inputGzip = gz)), datasetIn.kind === "file" ? datasetIn.path : undefined, opts.format, choice);
  const csv = sniff.format === "csv";
  checkFormatFlags(opts, csv, `${datasetName} is not CSV`);
  // A file named *.gz is written gzip-compressed; stdout is compressed when the dataset was.
  const stdout = streamSink(ctx.stdout);
  const out: Sink = outFull === "-" ? deferredSink(() => (inputGzip ? gzipSink(stdout) : stdout)) : compressedByName(outFull, await atomicFileSink(outFull));
  let audit: Sink | undefined;
  let refetch: Sink | undefined;
  // The per-file code (format, applier, streaming) is shared with several datasets: jobs/dataset-file.ts.
  const applier = datasetApplier(csv, opts.type, results.index, removedFull !== undefined, choice, datasetName);
  try {
    if (removedFull !== undefined) audit = compressedByName(removedFull, await atomicFileSink(removedFull));
    if (rehydrateFull !== undefined) refetch = await atomicFileSink(rehydrateFull);
    await applyStream(
      sniff.stream,
      applier,
      { out, removed: audit, rehydrate: refetch },
      ctx.signal,
      () => ctx.log.progress(`applied results to ${applier.counts.lines.toLocaleString("en-US")} ${csv ? "CSV records" : `${applier.unit}s`} of ${datasetName}`),
    );
    if (applier.invalid.count > 0 && !opts.skipInvalid) {
      throw invalidDatasetError(datasetName, applier.invalid);
    }
    if (audit) await audit.commit();
    if (refetch) await refetch.commit();
    await out.commit();
  } catch (err) {
    await out.abort();
    await audit?.abort();
    await refetch?.abort();
    throw err;
  } finally {
    ctx.log.done();
  }

  if (applier.invalid.count > 0) {
    ctx.log.warn(`kept ${applier.invalid.summary()} of ${datasetName} unchanged (--skip-invalid)`);
  }
  const summary = buildSummary(applier.counts, results, {
    dataset: datasetName,
    output: outFull === "-" ? "-" : shown(ctx.cwd, outFull),
    removed_file: removedFull === undefined ? null : shown(ctx.cwd, removedFull),
    rehydrate_file: rehydrateFull === undefined ? null : shown(ctx.cwd, rehydrateFull),
    rehydrate_ids: applier.rehydrateIds,
    type: opts.type,
    seconds: (Date.now() - started) / 1000,
  });
  if (json && outFull !== "-") {
    ctx.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    ctx.log.info(describe(summary, applier.unit));
  }
}

/** Reads (and validates) the whole results file, and says what in it will not be applied. */
export async function loadAndWarn(resultsIn: Input, resultsName: string, datasetName: string, listRehydrate: boolean, strict: boolean, ctx: Context): Promise<LoadedResults> {
  // The whole results file is read (and validated) first: memory grows with events only.
  const results = await loadResults(resultsName, readInput(resultsIn, ctx.stdin, resultsName));
  const otherList = Object.entries(results.otherActions)
    .map(([a, n]) => `${forTerminal(a)}: ${n}`)
    .join(", ");
  if (results.events.rehydrate > 0 && !listRehydrate) {
    const n = results.stats.distinct.rehydrate;
    ctx.log.info(`${n} ID${n === 1 ? "" : "s"} in ${resultsName} ${n === 1 ? "is a Post that was" : "are Posts that were"} edited (rehydrate): ${n === 1 ? "its record is" : "their records are"} kept as stored; pass --rehydrate <file> to list them for fetching again`);
  }
  if (results.events.other > 0) {
    if (strict) {
      throw new CliError(
        `the results file ${resultsName} has ${results.events.other} ${results.events.other === 1 ? "event with an action" : "events with actions"} this version does not apply (${otherList}); nothing was written (--strict). Rerun without --strict to leave those records untouched.`,
        ExitCode.refused,
      );
    }
    const one = results.events.other === 1;
    ctx.log.warn(`${results.events.other} event${one ? "" : "s"} in ${resultsName} ${one ? "has an action" : "have actions"} this version does not apply (${otherList}); ${one ? "its record is" : "their records are"} left untouched.`);
  }
  if (results.stats.errors > 0) {
    const errs = Object.entries(results.stats.byError).map(([e, n]) => `${forTerminal(e)}: ${n}`).join(", ");
    const one = results.stats.errors === 1;
    ctx.log.warn(`${results.stats.errors} result line${one ? " is an error record" : "s are error records"} in ${resultsName} (${errs}); ${one ? "that ID was" : "those IDs were"} not checked and nothing is done to ${one ? "it" : "them"}.`);
  }
  ctx.log.info(`loaded ${results.index.size} IDs from ${results.stats.events} events in ${resultsName}; applying them to ${datasetName}`);
  return results;
}

export function buildSummary(
  c: ApplierCounts,
  r: LoadedResults,
  meta: Pick<ApplySummary, "dataset" | "output" | "removed_file" | "rehydrate_file" | "rehydrate_ids" | "type" | "seconds">,
): ApplySummary {
  const d = r.stats.distinct;
  return {
    dataset: meta.dataset,
    output: meta.output,
    removed_file: meta.removed_file,
    rehydrate_file: meta.rehydrate_file,
    type: meta.type,
    results: {
      events: r.stats.events,
      error_records: r.stats.errors,
      delete: r.events.delete,
      scrub: r.events.scrub,
      untouched: r.events.rehydrate + r.events.other,
      rehydrate: r.events.rehydrate,
      untouched_actions: r.events.rehydrate > 0 ? { rehydrate: r.events.rehydrate, ...r.otherActions } : r.otherActions,
      ids_by_kind: { delete: d.delete, scrub: d.scrub, rehydrate: d.rehydrate, untouched: d.other },
      duplicate_lines: d.duplicateLines,
      invalid_id_count: r.stats.invalidIds.length,
    },
    lines: c.lines,
    blank_lines: c.blankLines,
    unchanged_lines: c.unchangedLines,
    rewritten_lines: c.rewrittenLines,
    dropped_lines: c.droppedLines,
    removed_records: c.removedRecords,
    scrubbed_records: c.scrubbedRecords,
    untouched_records: c.untouchedRecords,
    rehydrate_records: c.rehydrateRecords,
    rehydrate_ids: meta.rehydrate_ids,
    pruned_includes: c.prunedIncludes,
    invalid_lines: c.invalidLines,
    bytes: c.bytes,
    seconds: meta.seconds,
  };
}

export function describe(s: ApplySummary, unit = "line"): string {
  const parts = [
    `read ${s.lines} ${unit}s of ${s.dataset}`,
    `removed ${s.removed_records} record${s.removed_records === 1 ? "" : "s"} (${s.dropped_lines} ${unit}${s.dropped_lines === 1 ? "" : "s"} dropped)`,
    `scrubbed ${s.scrubbed_records}`,
    `rewrote ${s.rewritten_lines} ${unit}${s.rewritten_lines === 1 ? "" : "s"}`,
    `kept ${s.unchanged_lines} unchanged`,
  ];
  const unknown = s.untouched_records - s.rehydrate_records;
  if (s.rehydrate_records) parts.push(`kept ${s.rehydrate_records} out of date (rehydrate${s.rehydrate_file ? `: ${s.rehydrate_ids} ID${s.rehydrate_ids === 1 ? "" : "s"} listed` : ""})`);
  if (unknown) parts.push(`left ${unknown} untouched (unknown action)`);
  if (s.pruned_includes) parts.push(`pruned ${s.pruned_includes} includes`);
  if (s.invalid_lines) parts.push(`${s.invalid_lines} invalid kept as they were`);
  const where = s.output === "-" ? "stdout" : s.output;
  const also = [s.removed_file, s.rehydrate_file].filter((f): f is string => f !== null);
  return `${parts.join(", ")}; wrote ${where}${also.map((f) => ` and ${f}`).join("")}`;
}
