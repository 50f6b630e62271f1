import { createReadStream } from "node:fs";
import { z } from "zod";
import type { Context } from "../context.js";
import { CliError, ExitCode, UsageError } from "../errors.js";
import { DatasetApplier, type ApplierCounts } from "../dataset/applier.js";
import { loadResults, type LoadedResults } from "../dataset/event-index.js";
import { invalidDatasetError } from "../dataset/invalid.js";
import { forTerminal } from "../output/escape.js";
import {
  atomicFileSink,
  checkInputFile,
  checkOutputFile,
  defaultOutputPath,
  shown,
  streamSink,
  type Sink,
} from "../dataset/output.js";
import type { DatasetType } from "../dataset/record-shape.js";

const ApplyOptions = z.looseObject({
  args: z.array(z.string()),
  results: z.string({ error: "pass the results file with --results <path>" }).min(1),
  type: z.enum(["tweets", "users"]).default("tweets"),
  output: z.string().min(1).optional(),
  removed: z.string().min(1).optional(),
  force: z.boolean().optional(),
  strict: z.boolean().optional(),
  skipInvalid: z.boolean().optional(),
  json: z.boolean().optional(),
});
export type ApplyOptions = z.input<typeof ApplyOptions>;

/** The `--json` document of `compliant apply` (stable interface; snake_case like `all`'s summary). */
export interface ApplySummary {
  dataset: string;
  output: string;
  removed_file: string | null;
  type: DatasetType;
  results: { events: number; error_records: number; delete: number; scrub: number; untouched: number; untouched_actions: Record<string, number> };
  lines: number;
  blank_lines: number;
  unchanged_lines: number;
  rewritten_lines: number;
  dropped_lines: number;
  removed_records: number;
  scrubbed_records: number;
  untouched_records: number;
  pruned_includes: number;
  invalid_lines: number;
  bytes: number;
  seconds: number;
}

function parseOptions(raw: unknown) {
  const parsed = ApplyOptions.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${issue?.path.join(".") ?? "options"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

export async function run(raw: ApplyOptions, ctx: Context): Promise<void> {
  const started = Date.now();
  const opts = parseOptions(raw);
  const json = Boolean(opts.json ?? ctx.flags.json);
  const dataset = opts.args[0];
  if (dataset === undefined) throw new UsageError("no dataset given; run compliant apply --results <results> <dataset>.");
  if (opts.args.length > 1) throw new UsageError(`apply takes one dataset, got ${opts.args.length}; run it once per file.`);

  // Preflight: every path is checked before anything is read or written.
  const fromStdin = dataset === "-";
  const datasetFull = fromStdin ? "-" : await checkInputFile(ctx.cwd, dataset, "dataset");
  const resultsFull = opts.results === "-" ? "-" : await checkInputFile(ctx.cwd, opts.results, "results file");
  if (fromStdin && resultsFull === "-") throw new UsageError("the dataset and the results file cannot both come from stdin.");
  const inputs = [
    ...(datasetFull !== "-" ? [{ full: datasetFull, what: "dataset" }] : []),
    ...(resultsFull !== "-" ? [{ full: resultsFull, what: "results file" }] : []),
  ];
  const outPath = opts.output ?? (fromStdin ? "-" : shown(ctx.cwd, defaultOutputPath(datasetFull)));
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
  const datasetName = fromStdin ? "(stdin)" : shown(ctx.cwd, datasetFull);
  const resultsName = resultsFull === "-" ? "(stdin)" : shown(ctx.cwd, resultsFull);

  // The whole results file is read (and validated) first: memory grows with events only.
  const results = await loadResults(resultsName, resultsFull === "-" ? (ctx.stdin as AsyncIterable<Buffer>) : createReadStream(resultsFull, { highWaterMark: 1 << 20 }));
  const otherList = Object.entries(results.otherActions)
    .map(([a, n]) => `${forTerminal(a)}: ${n}`)
    .join(", ");
  if (results.events.other > 0) {
    if (opts.strict) {
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

  const out: Sink = outFull === "-" ? streamSink(ctx.stdout) : await atomicFileSink(outFull);
  let audit: Sink | undefined;
  const applier = new DatasetApplier(opts.type, results.index, removedFull !== undefined);
  try {
    if (removedFull !== undefined) audit = await atomicFileSink(removedFull);
    const input = fromStdin ? (ctx.stdin as AsyncIterable<Buffer>) : createReadStream(datasetFull, { highWaterMark: 1 << 20 });
    for await (const chunk of input) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      applier.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
      const { out: pieces, removed } = applier.take();
      await out.write(pieces);
      if (audit) await audit.write(removed);
      ctx.log.progress(`applied results to ${applier.counts.lines.toLocaleString("en-US")} lines of ${datasetName}`);
    }
    applier.end();
    const { out: pieces, removed } = applier.take();
    await out.write(pieces);
    if (audit) await audit.write(removed);
    if (applier.invalid.count > 0 && !opts.skipInvalid) {
      throw invalidDatasetError(datasetName, applier.invalid);
    }
    if (audit) await audit.commit();
    await out.commit();
  } catch (err) {
    await out.abort();
    await audit?.abort();
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
    type: opts.type,
    seconds: (Date.now() - started) / 1000,
  });
  if (json && outFull !== "-") {
    ctx.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    ctx.log.info(describe(summary));
  }
}

function buildSummary(
  c: ApplierCounts,
  r: LoadedResults,
  meta: Pick<ApplySummary, "dataset" | "output" | "removed_file" | "type" | "seconds">,
): ApplySummary {
  return {
    dataset: meta.dataset,
    output: meta.output,
    removed_file: meta.removed_file,
    type: meta.type,
    results: {
      events: r.stats.events,
      error_records: r.stats.errors,
      delete: r.events.delete,
      scrub: r.events.scrub,
      untouched: r.events.other,
      untouched_actions: r.otherActions,
    },
    lines: c.lines,
    blank_lines: c.blankLines,
    unchanged_lines: c.unchangedLines,
    rewritten_lines: c.rewrittenLines,
    dropped_lines: c.droppedLines,
    removed_records: c.removedRecords,
    scrubbed_records: c.scrubbedRecords,
    untouched_records: c.untouchedRecords,
    pruned_includes: c.prunedIncludes,
    invalid_lines: c.invalidLines,
    bytes: c.bytes,
    seconds: meta.seconds,
  };
}

function describe(s: ApplySummary): string {
  const parts = [
    `read ${s.lines} lines of ${s.dataset}`,
    `removed ${s.removed_records} record${s.removed_records === 1 ? "" : "s"} (${s.dropped_lines} line${s.dropped_lines === 1 ? "" : "s"} dropped)`,
    `scrubbed ${s.scrubbed_records}`,
    `rewrote ${s.rewritten_lines} line${s.rewritten_lines === 1 ? "" : "s"}`,
    `kept ${s.unchanged_lines} unchanged`,
  ];
  if (s.untouched_records) parts.push(`left ${s.untouched_records} untouched (unknown action)`);
  if (s.pruned_includes) parts.push(`pruned ${s.pruned_includes} includes`);
  if (s.invalid_lines) parts.push(`${s.invalid_lines} invalid kept as they were`);
  const where = s.output === "-" ? "stdout" : s.output;
  return `${parts.join(", ")}; wrote ${where}${s.removed_file ? ` and ${s.removed_file}` : ""}`;
}
