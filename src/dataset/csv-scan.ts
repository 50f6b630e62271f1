// A byte-level RFC 4180 scanner: it finds records and the byte spans of their fields, and never
// decodes or rebuilds a record, so `apply` can copy the rows it keeps as their original bytes
// (same quoting, same line ends) and rewrite only the fields it must empty.

/** One CSV record, as spans into `buf`. The spans are valid only during the callback. */
export interface CsvRecord {
  buf: Buffer;
  /** First byte of the record. */
  start: number;
  /** End of the last field (before the line end). */
  contentEnd: number;
  /** End of the record including its line end (`\n` or `\r\n`); equal to contentEnd for a last line without one. */
  end: number;
  /** Field i spans [starts[i], ends[i]) including its quotes, if any. */
  starts: number[];
  ends: number[];
  /** 1-based physical line the record starts on. */
  lineNo: number;
  /** A quoted field that never closed (only at the end of the input). */
  unclosed: boolean;
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** The text of a field: a quoted one without its quotes and with `""` read as `"`. */
export function fieldText(buf: Buffer, start: number, end: number): string {
  if (end - start >= 2 && buf[start] === QUOTE && buf[end - 1] === QUOTE) {
    const inner = buf.toString("utf8", start + 1, end - 1);
    return inner.includes('"') ? inner.replaceAll('""', '"') : inner;
  }
  if (end > start && buf[start] === QUOTE) return buf.toString("utf8", start + 1, end); // unclosed
  return buf.toString("utf8", start, end);
}

/**
 * Feed it chunks; it calls `onRecord` for every complete record. A record split across chunks is
 * gathered (with its scan state, so it is not scanned twice). A quote opens a quoted field only
 * at the start of a field; inside one, `""` is a quote and commas and line ends are data. A stray
 * quote elsewhere is data, as most readers take it.
 */
export class CsvScanner {
  private carry: Buffer | undefined;
  /** Scan state of the record in `carry`. */
  private pos = 0;
  private inQuotes = false;
  private fieldStart = 0;
  private starts: number[] = [];
  private ends: number[] = [];
  private lineNo = 1;
  private recordLine = 1;

  constructor(private readonly onRecord: (r: CsvRecord) => void) {}

  push(chunk: Buffer): void {
    let buf: Buffer;
    if (this.carry) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    } else {
      buf = chunk;
    }
    this.scan(buf, false);
  }

  end(): void {
    if (this.carry) {
      const buf = this.carry;
      this.carry = undefined;
      this.scan(buf, true);
    }
  }

  private scan(buf: Buffer, final: boolean): void {
    // Offsets in the saved state are relative to the record start, which is 0 in a carried buffer.
    let recStart = 0;
    let i = this.pos;
    let inQuotes = this.inQuotes;
    let fieldStart = this.fieldStart;
    let starts = this.starts;
    let ends = this.ends;
    const n = buf.length;
    while (i < n) {
      if (inQuotes) {
        const q = buf.indexOf(QUOTE, i);
        // Count the line ends passed inside the quoted field.
        const stop = q === -1 ? n : q;
        for (let k = buf.indexOf(LF, i); k !== -1 && k < stop; k = buf.indexOf(LF, k + 1)) this.lineNo++;
        if (q === -1) {
          i = n;
          break;
        }
        if (q + 1 >= n && !final) {
          // Cannot tell `"` from `""` yet.
          i = q;
          break;
        }
        if (buf[q + 1] === QUOTE) {
          i = q + 2;
          continue;
        }
        inQuotes = false;
        i = q + 1;
        continue;
      }
      const c = buf[i]!;
      if (c === COMMA) {
        starts.push(fieldStart);
        ends.push(i);
        fieldStart = i + 1;
        i++;
        continue;
      }
      if (c === QUOTE && i === fieldStart) {
        inQuotes = true;
        i++;
        continue;
      }
      if (c === LF) {
        const contentEnd = i > recStart && buf[i - 1] === CR && i - 1 >= fieldStart ? i - 1 : i;
        starts.push(fieldStart);
        ends.push(contentEnd);
        this.onRecord({ buf, start: recStart, contentEnd, end: i + 1, starts, ends, lineNo: this.recordLine, unclosed: false });
        this.lineNo++;
        this.recordLine = this.lineNo;
        recStart = i + 1;
        fieldStart = recStart;
        starts = [];
        ends = [];
        i++;
        continue;
      }
      i++;
    }
    if (final) {
      if (recStart < n) {
        let contentEnd = n;
        if (!inQuotes && buf[n - 1] === CR) contentEnd = n - 1;
        starts.push(fieldStart);
        ends.push(contentEnd);
        this.onRecord({ buf, start: recStart, contentEnd, end: n, starts, ends, lineNo: this.recordLine, unclosed: inQuotes });
      }
      this.reset();
      return;
    }
    if (recStart < n) {
      // Keep the unfinished record, its state made relative to its start.
      this.carry = Buffer.from(buf.subarray(recStart));
      this.pos = i - recStart;
      this.inQuotes = inQuotes;
      this.fieldStart = fieldStart - recStart;
      this.starts = recStart === 0 ? starts : starts.map((s) => s - recStart);
      this.ends = recStart === 0 ? ends : ends.map((e) => e - recStart);
    } else {
      this.reset();
    }
  }

  private reset(): void {
    this.pos = 0;
    this.inQuotes = false;
    this.fieldStart = 0;
    this.starts = [];
    this.ends = [];
  }
}
