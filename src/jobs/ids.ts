import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { IdSet } from "../io/id-set.js";
import { LineSplitter } from "../io/lines.js";
import { InvalidLines, invalidDatasetError } from "../dataset/invalid.js";
import { parseLossless } from "../dataset/json-lossless.js";
import { fieldIds, recordIds } from "../dataset/record-ids.js";
import { InvalidRecord, type DatasetType } from "../dataset/record-shape.js";
import { streamSink } from "../io/atomic-file.js";
import { isFolder } from "../dataset/folder.js";
import { inputFrom, inputName, readInput } from "../io/input.js";
import { extractArrayIds, sniffArray } from "../dataset/json-array.js";
import { CsvIdReader } from "../dataset/csv-ids.js";
import { detectFormat, type DatasetFormat } from "../dataset/format.js";

/** What `compliant ids` is told (commands/ids.ts declares and checks the flags). */
export interface IdsOptions {
  args: string[];
  /** Default tweets. */
  type?: "tweets" | "users";
  /** A dot path such as data.id, already checked. */
  field?: string;
  unique?: boolean;
  skipInvalid?: boolean;
  /** Default: detected (csv by a .csv/.csv.gz name or a CSV header first line). */
  format?: DatasetFormat;
  /** CSV: the Post ID column (default: detected). */
  idColumn?: string;
  /** CSV: the user ID column for --type users (default: detected). */
  userColumn?: string;
}

export interface Extraction {
  invalid: InvalidLines;
  ids: number;
  lines: number;
  /** What `lines` counts: "element" for a JSON array. */
  unit?: string;
}

/**
 * Reads a dataset and calls `onId` for every ID in it (see recordIds for what counts). Plain ID
 * lines are taken as they are; JSON lines are parsed. Invalid lines are collected, not thrown.
 */
export async function extract(
  given: AsyncIterable<Buffer | string>,
  type: DatasetType,
  field: readonly string[] | undefined,
  onId: ((id: string) => void) | undefined,
  onChunkDone: (() => Promise<void>) | undefined,
  signal: AbortSignal,
  stopOnInvalid = true,
  name = "(stdin)",
): Promise<Extraction> {
  // A file whose first byte that is not whitespace is `[` holds one JSON array (json-array.ts).
  const sniffed = await sniffArray(given as AsyncIterable<Buffer>);
  if (sniffed.array) return { ...(await extractArrayIds(sniffed.input, name, type, field, onId, onChunkDone, signal, stopOnInvalid)), unit: "element" };
  const input = sniffed.input;
  const result: Extraction = { invalid: new InvalidLines(), ids: 0, lines: 0 };
  const fieldName = field?.join(".") ?? "";
  const splitter = new LineSplitter((buf, start, end, lineNo) => {
    result.lines++;
    const text = buf.toString("utf8", start, end).trim();
    if (text === "") return;
    let ids: string[];
    const c = text.charCodeAt(0);
    if (c >= 48 && c <= 57) {
      if (!/^[0-9]{1,19}$/.test(text)) {
        result.invalid.add(lineNo, /^[0-9]+$/.test(text) ? "not an ID (more than 19 digits)" : "not an ID or JSON");
        return;
      }
      ids = [text];
    } else {
      let value: unknown;
      try {
        if (c !== 123) throw new Error("not an object");
        value = parseLossless(text);
      } catch {
        result.invalid.add(lineNo, "not JSON");
        return;
      }
      try {
        ids = field ? fieldIds(value, field, fieldName) : recordIds(value, type);
      } catch (err) {
        if (err instanceof InvalidRecord) {
          result.invalid.add(lineNo, err.why);
          return;
        }
        throw err;
      }
    }
    if (onId && (!stopOnInvalid || result.invalid.count === 0)) for (const id of ids) onId(id);
    result.ids += ids.length;
  });
  for await (const chunk of input) {
    if (signal.aborted) throw signal.reason;
    splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    await onChunkDone?.();
  }
  splitter.end();
  await onChunkDone?.();
  return result;
}

/** extract() for a CSV archive (dataset/csv-ids.ts): a "line" is a record. */
export async function extractCsv(
  input: AsyncIterable<Buffer>,
  reader: (onIds: ((ids: string[]) => void) | undefined) => CsvIdReader,
  onId: ((id: string) => void) | undefined,
  onChunkDone: (() => Promise<void>) | undefined,
  signal: AbortSignal,
  stopOnInvalid = true,
): Promise<Extraction> {
  const csv = reader(
    onId
      ? (ids) => {
          if (!stopOnInvalid || csv.invalid.count === 0) for (const id of ids) onId(id);
        }
      : undefined,
  );
  for await (const chunk of input) {
    if (signal.aborted) throw signal.reason;
    csv.push(chunk);
    await onChunkDone?.();
  }
  csv.end();
  await onChunkDone?.();
  return { invalid: csv.invalid, ids: csv.ids, lines: csv.lines };
}

export async function run(given: IdsOptions, ctx: Context): Promise<void> {
  const opts = { ...given, type: given.type ?? "tweets" };
  const dataset = opts.args[0];
  if (dataset === undefined) throw new UsageError("no dataset given; run compliant ids <dataset>, or - to read stdin.");
  if (opts.args.length > 1 || (await isFolder(ctx.cwd, dataset))) return (await import("./datasets.js")).runIdsMany(opts, ctx);
  const input = await inputFrom(ctx.cwd, dataset, "dataset");
  const fromStdin = input.kind === "stdin";
  const name = inputName(ctx.cwd, input);
  const field = opts.field?.split(".");
  const choice = { idColumn: opts.idColumn, userColumn: opts.userColumn };
  const sniff = await detectFormat(readInput(input, ctx.stdin, name), input.kind === "file" ? input.path : undefined, opts.format, choice);
  const csv = sniff.format === "csv";
  if (csv && field) throw new UsageError("--field reads JSON records; for a CSV dataset name the column with --id-column (or --user-column with --type users).");
  if (!csv && (opts.idColumn !== undefined || opts.userColumn !== undefined)) {
    throw new UsageError(`--id-column and --user-column name CSV columns, but ${name} is not CSV (no .csv name or CSV header); pass --format csv if it is.`);
  }
  // The first pass reuses the sniffed stream; stdin has only that one.
  let first: AsyncIterable<Buffer> | undefined = sniff.stream;
  const open = (): AsyncIterable<Buffer> => {
    const s = first ?? readInput(input, ctx.stdin, name);
    first = undefined;
    return s;
  };
  const reader = (onIds: ((ids: string[]) => void) | undefined) => new CsvIdReader(opts.type, choice, name, onIds);
  const extractAny = (
    source: AsyncIterable<Buffer>,
    type: DatasetType,
    fieldPath: readonly string[] | undefined,
    onId: ((id: string) => void) | undefined,
    onChunkDone: (() => Promise<void>) | undefined,
    signal: AbortSignal,
    stopOnInvalid = true,
  ) => (csv ? extractCsv(source, reader, onId, onChunkDone, signal, stopOnInvalid) : extract(source, type, fieldPath, onId, onChunkDone, signal, stopOnInvalid, name));

  // A file is checked completely before the first ID is printed, so a pipe into
  // `compliant all --ids-file -` never starts a job from half a dataset. Stdin can be read only
  // once: there, printing stops at the first invalid line and the run fails at the end.
  if (!fromStdin && !opts.skipInvalid) {
    const check = await extractAny(open(), opts.type, field, undefined, undefined, ctx.signal);
    if (check.invalid.count > 0) throw invalidDatasetError(name, check.invalid);
  }

  const seen = opts.unique ? new IdSet() : undefined;
  const sink = streamSink(ctx.stdout);
  let pending: string[] = [];
  let printed = 0;
  const result = await extractAny(
    open(),
    opts.type,
    field,
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
