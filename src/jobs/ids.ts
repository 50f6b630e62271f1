import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { IdSet } from "../io/id-set.js";
import { invalidDatasetError } from "../dataset/invalid.js";
import { streamSink } from "../io/atomic-file.js";
import { isFolder } from "../dataset/folder.js";
import { inputFrom, inputName, readInput } from "../io/input.js";
import { detectFormat } from "../dataset/format.js";
import { checkFormatFlags, columnChoice, extractDataset, type FormatOptions, type IdsReading } from "./dataset-file.js";

/** What `compliant ids` is told (commands/ids.ts declares and checks the flags). */
export interface IdsOptions extends FormatOptions {
  args: string[];
  /** Default tweets. */
  type?: "tweets" | "users";
  /** A dot path such as data.id, already checked. */
  field?: string;
  unique?: boolean;
  skipInvalid?: boolean;
}

// The per-file code (extract(), the CSV reader) is shared with several datasets: jobs/dataset-file.ts.
export { extract, type Extraction } from "./dataset-file.js";

export async function run(given: IdsOptions, ctx: Context): Promise<void> {
  const opts = { ...given, type: given.type ?? "tweets" };
  const dataset = opts.args[0];
  if (dataset === undefined) throw new UsageError("no dataset given; run compliant ids <dataset>, or - to read stdin.");
  if (opts.args.length > 1 || (await isFolder(ctx.cwd, dataset))) return (await import("./datasets.js")).runIdsMany(opts, ctx);
  const input = await inputFrom(ctx.cwd, dataset, "dataset");
  const fromStdin = input.kind === "stdin";
  const name = inputName(ctx.cwd, input);
  const field = opts.field?.split(".");
  const choice = columnChoice(opts);
  const sniff = await detectFormat(readInput(input, ctx.stdin, name), input.kind === "file" ? input.path : undefined, opts.format, choice);
  const csv = sniff.format === "csv";
  checkFormatFlags(opts, csv, `${name} is not CSV`);
  // The first pass reuses the sniffed stream; stdin has only that one.
  let first: AsyncIterable<Buffer> | undefined = sniff.stream;
  const open = (): AsyncIterable<Buffer> => {
    const s = first ?? readInput(input, ctx.stdin, name);
    first = undefined;
    return s;
  };
  const how: IdsReading = { csv, type: opts.type, field, choice, name };

  // A file is checked completely before the first ID is printed, so a pipe into
  // `compliant all --ids-file -` never starts a job from half a dataset. Stdin can be read only
  // once: there, printing stops at the first invalid line and the run fails at the end.
  if (!fromStdin && !opts.skipInvalid) {
    const check = await extractDataset(open(), how, undefined, undefined, ctx.signal);
    if (check.invalid.count > 0) throw invalidDatasetError(name, check.invalid);
  }

  const seen = opts.unique ? new IdSet() : undefined;
  const sink = streamSink(ctx.stdout);
  let pending: string[] = [];
  let printed = 0;
  const result = await extractDataset(
    open(),
    how,
    (id) => {
      if (seen && !seen.add(id)) return;
      pending.push(id);
      printed++;
    },
    async () => {
      if (pending.length === 0) return;
      const text = `${pending.join("\n")}\n`;
      pending = [];
      await sink.write([Buffer.from(text)]);
    },
    ctx.signal,
    !opts.skipInvalid,
  );
  if (result.invalid.count > 0) {
    if (!opts.skipInvalid) throw invalidDatasetError(name, result.invalid);
    ctx.log.warn(`skipped ${result.invalid.summary()} of ${name} (--skip-invalid)`);
  }
  const dupes = result.ids - printed;
  ctx.log.info(`printed ${printed} ${opts.type === "tweets" ? "Post" : "user"} IDs from ${result.lines} ${csv ? "CSV records" : `${result.unit ?? "line"}s`} of ${name}${seen ? ` (${dupes} duplicates left out)` : ""}`);
}
