import { UsageError } from "../errors.js";
import { IdSet } from "../io/id-set.js";
import { LineSplitter } from "../io/lines.js";
import type { StreamApplier as UnitApplier } from "../dataset/chain.js";
import type { Sink } from "../io/atomic-file.js";
import { CsvApplier } from "../dataset/csv-applier.js";
import type { CsvColumnChoice } from "../dataset/csv-columns.js";
import { CsvIdReader } from "../dataset/csv-ids.js";
import type { EventIndex } from "../dataset/event-index.js";
import type { DatasetFormat } from "../dataset/format.js";
import { InvalidLines } from "../dataset/invalid.js";
import { AutoApplier, extractArrayIds, sniffArray } from "../dataset/json-array.js";
import { parseLossless } from "../dataset/json-lossless.js";
import { emitRecordIds, type IdReading } from "../dataset/record-ids.js";
import { InvalidRecord, type DatasetType } from "../dataset/record-shape.js";

// One dataset file (or stdin) for `ids` and `apply`, in whichever format it is: the code a single
// dataset (jobs/ids.ts, jobs/apply.ts) and each file of several (jobs/datasets.ts) go through.

/** The format flags of `ids` and `apply`. */
export interface FormatOptions {
  /** Default: detected (csv by a .csv/.csv.gz name or a CSV header first line). */
  format?: DatasetFormat;
  /** CSV: the Post ID column (default: detected). */
  idColumn?: string;
  /** CSV: the user ID column for --type users (default: detected). */
  userColumn?: string;
}

export function columnChoice(o: FormatOptions): CsvColumnChoice {
  return { idColumn: o.idColumn, userColumn: o.userColumn };
}

/**
 * The usage errors of format flags that do not fit the datasets: --field with a CSV dataset, and
 * --id-column/--user-column with none. `notCsv` says what is not CSV ("a.jsonl is not CSV").
 */
export function checkFormatFlags(o: FormatOptions & { field?: string }, anyCsv: boolean, notCsv: string): void {
  if (anyCsv && o.field) throw new UsageError("--field reads JSON records; for a CSV dataset name the column with --id-column (or --user-column with --type users).");
  if (!anyCsv && (o.idColumn !== undefined || o.userColumn !== undefined)) {
    throw new UsageError(`--id-column and --user-column name CSV columns, but ${notCsv} (no .csv name or CSV header); pass --format csv if it is.`);
  }
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
  type: IdReading,
  field: readonly string[] | undefined,
  onId: ((id: string, type: DatasetType) => void) | undefined,
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
  const splitter = new LineSplitter((buf, start, end, lineNo) => {
    result.lines++;
    const text = buf.toString("utf8", start, end).trim();
    if (text === "") return;
    const c = text.charCodeAt(0);
    const emit = !stopOnInvalid || result.invalid.count === 0;
    if (c >= 48 && c <= 57) {
      if (!/^[0-9]{1,19}$/.test(text)) {
        result.invalid.add(lineNo, /^[0-9]+$/.test(text) ? "not an ID (more than 19 digits)" : "not an ID or JSON");
        return;
      }
      // A plain ID line: an ID of the reading's type (a Post ID when sync reads both).
      if (onId && emit) onId(text, type === "both" ? "tweets" : type);
      result.ids++;
      return;
    }
    let value: unknown;
    try {
      if (c !== 123) throw new Error("not an object");
      value = parseLossless(text);
    } catch {
      result.invalid.add(lineNo, "not JSON");
      return;
    }
    try {
      result.ids += emitRecordIds(value, type, field, onId, emit);
    } catch (err) {
      if (err instanceof InvalidRecord) {
        result.invalid.add(lineNo, err.why);
        return;
      }
      throw err;
    }
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
async function extractCsv(
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

/** What `ids` reads one dataset as. */
export interface IdsReading {
  csv: boolean;
  type: DatasetType;
  /** --field, split at its dots (JSON only). */
  field: readonly string[] | undefined;
  choice: CsvColumnChoice;
  /** The dataset as named in messages. */
  name: string;
}

/** `ids` on one dataset in its format: extract() for JSON, CsvIdReader for CSV. */
export function extractDataset(
  source: AsyncIterable<Buffer>,
  how: IdsReading,
  onId: ((id: string) => void) | undefined,
  onChunkDone: (() => Promise<void>) | undefined,
  signal: AbortSignal,
  stopOnInvalid = true,
): Promise<Extraction> {
  if (!how.csv) return extract(source, how.type, how.field, onId, onChunkDone, signal, stopOnInvalid, how.name);
  return extractCsv(source, (onIds) => new CsvIdReader(how.type, how.choice, how.name, onIds), onId, onChunkDone, signal, stopOnInvalid);
}

/** An applier for one dataset; `unit` is what its line counts count in the summary (dataset/chain.ts). */
export type FileApplier = UnitApplier;

/**
 * `apply`'s applier for one dataset in its format: AutoApplier (JSON Lines or a JSON array) or
 * CsvApplier. `auditHeader` false leaves a CSV header out of the removed records.
 */
export function datasetApplier(csv: boolean, type: DatasetType, index: EventIndex, audit: boolean, choice: CsvColumnChoice, name: string, auditHeader = true, keepKeyless = false): FileApplier {
  return csv ? new CsvApplier(type, index, audit, choice, name, auditHeader) : new AutoApplier(type, index, audit, name, keepKeyless);
}

type Writes = Pick<Sink, "write">;

/** Where applyStream writes: the dataset's output, and (when asked for) its removed records and rehydrate IDs. */
export interface ApplyTargets {
  out: Writes;
  removed: Writes | undefined;
  rehydrate: Writes | undefined;
}

/**
 * Streams one dataset through its applier into the targets, calling `progress` after every
 * chunk. Invalid records are left in `applier.invalid` for the caller to judge.
 */
export async function applyStream(source: AsyncIterable<Buffer>, applier: FileApplier, to: ApplyTargets, signal: AbortSignal, progress: () => void): Promise<void> {
  const flush = async () => {
    const { out, removed, rehydrate } = applier.take();
    await to.out.write(out);
    if (to.removed) await to.removed.write(removed);
    if (to.rehydrate) await to.rehydrate.write(rehydrate);
  };
  for await (const chunk of source) {
    if (signal.aborted) throw signal.reason;
    applier.push(chunk);
    await flush();
    progress();
  }
  applier.end();
  await flush();
}

/** `--rehydrate`: the IDs of records kept out of date (action rehydrate), each once over the run. */
export class RehydrateList {
  private readonly listed = new IdSet();
  count = 0;
  constructor(readonly sink: Sink) {}

  /** Takes newline-ended ID lines (as the appliers give them). */
  async write(pieces: Buffer[]): Promise<void> {
    if (pieces.length === 0) return;
    const ids = Buffer.concat(pieces).toString("latin1").split("\n").filter((id) => id !== "" && this.listed.add(id));
    this.count += ids.length;
    if (ids.length > 0) await this.sink.write([Buffer.from(`${ids.join("\n")}\n`, "latin1")]);
  }
}
