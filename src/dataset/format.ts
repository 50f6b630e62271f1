import { createReadStream } from "node:fs";
import { readInput } from "../io/input.js";
import { fieldText } from "./csv-scan.js";
import { isCsvHeader, type CsvColumnChoice } from "./csv-columns.js";

export type DatasetFormat = "jsonl" | "csv";

/** How far into a dataset the first line is looked for. */
const SNIFF_BYTES = 1 << 16;
/** A CSV file's name, compressed or not. */
const CSV_NAME = /\.csv(\.gz)?$/i;

/** The fields of one header line (no quoted line ends in a header). */
function splitHeader(line: string): string[] {
  const names: string[] = [];
  const re = /("(?:[^"]|"")*"|[^,]*)(,|$)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    const raw = Buffer.from(m[1]!);
    names.push(fieldText(raw, 0, raw.length).trim());
    if (m[2] === "") break;
  }
  return names;
}

/**
 * The format of a dataset: `--format` when given; else CSV for a `.csv`/`.csv.gz` name, or a
 * first line that is a CSV header with an ID column; else JSON Lines (and ID lists).
 */
export function sniffFormat(head: Buffer, name: string | undefined, given: DatasetFormat | undefined, choice: CsvColumnChoice = {}): DatasetFormat {
  if (given) return given;
  if (name && CSV_NAME.test(name)) return "csv";
  let s = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) s = 3;
  const c = head[s];
  if (c === undefined || c === 123 /* { */ || c === 91 /* [ */ || (c >= 48 && c <= 57)) return "jsonl";
  let nl = head.indexOf(10, s);
  if (nl < 0) nl = head.length;
  const line = head.toString("utf8", s, nl).replace(/\r$/, "");
  return isCsvHeader(splitHeader(line), choice) ? "csv" : "jsonl";
}

/**
 * Reads the start of a stream (up to its first line end, at most 64 KiB) to tell its format,
 * and gives the whole stream back, those bytes included. `close` ends the input when the stream
 * is not to be read.
 */
export async function detectFormat(
  input: AsyncIterable<Buffer>,
  name: string | undefined,
  given: DatasetFormat | undefined,
  choice: CsvColumnChoice = {},
): Promise<{ format: DatasetFormat; stream: AsyncIterable<Buffer>; close: () => Promise<void> }> {
  const it = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  if (!given && !(name && CSV_NAME.test(name))) {
    while (size < SNIFF_BYTES) {
      const next = await it.next();
      if (next.done) {
        done = true;
        break;
      }
      head.push(next.value);
      size += next.value.length;
      if (next.value.includes(10)) break;
    }
  }
  const format = sniffFormat(Buffer.concat(head), name, given, choice);
  async function* stream(): AsyncGenerator<Buffer> {
    yield* head;
    if (done) return;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return {
    format,
    stream: stream(),
    close: async () => {
      await it.return?.();
    },
  };
}

/**
 * The format of one dataset file, as detectFormat tells it from the file's first bytes (nothing
 * is read for --format or a CSV name); the file is closed again. For the files of a dataset of
 * several, whose formats are all known before the first is read through.
 */
export async function detectFileFormat(full: string, name: string, given: DatasetFormat | undefined, choice: CsvColumnChoice = {}): Promise<DatasetFormat> {
  if (given) return given;
  if (CSV_NAME.test(full)) return "csv";
  const raw = createReadStream(full, { highWaterMark: 1 << 20 });
  try {
    const found = await detectFormat(readInput({ kind: "stdin" }, raw, name), full, given, choice);
    raw.destroy();
    await found.close();
    return found.format;
  } finally {
    raw.destroy();
  }
}
