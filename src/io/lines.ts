export interface LineSplitterOptions {
  /**
   * The longest line accepted, in bytes (without its `\n`). A longer line fails as soon as its
   * length passes the limit, before its end arrives, so a never-ending line cannot fill memory.
   */
  maxLineBytes?: number;
  /** The error thrown for a line over the limit; given its number and its first bytes. */
  tooLong?: (lineNo: number, head: Buffer, limit: number) => Error;
}

/** A line over `maxLineBytes`, when no `tooLong` was given. */
export class LineTooLongError extends Error {
  constructor(
    readonly lineNo: number,
    readonly limit: number,
  ) {
    super(`line ${lineNo} is longer than ${limit} bytes`);
    this.name = "LineTooLongError";
  }
}

/** How much of an over-long line an error message may quote. */
const HEAD_BYTES = 80;

/**
 * A byte-level line splitter: feed it chunks, it calls `onLine(buffer, start, end, lineNo)` for
 * every complete line (without the `\n`; a trailing `\r` is left for the caller) and keeps the
 * unfinished tail for the next chunk. No per-chunk string decoding, so it keeps up with the disk.
 *
 * The tail is gathered in one buffer that doubles when full, so a line spread over many chunks
 * costs time linear in its length (not a re-copy of everything so far for each chunk). The
 * buffer handed to `onLine` for a gathered line holds exactly that line, as before.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  private carried = 0;
  private readonly max: number;
  private readonly tooLong?: LineSplitterOptions["tooLong"];
  /** Physical lines seen so far (1-based number of the last line emitted). */
  lineNo = 0;
  /** Bytes copied into the tail buffer so far: a measure of the work done on split lines. */
  copiedBytes = 0;

  constructor(
    private readonly onLine: (buf: Buffer, start: number, end: number, lineNo: number) => void,
    opts: LineSplitterOptions = {},
  ) {
    this.max = opts.maxLineBytes ?? Infinity;
    this.tooLong = opts.tooLong;
  }

  push(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(10);
    if (this.carried > 0 && nl !== -1) {
      this.append(chunk, 0, nl);
      // Exactly the line: callers read `end === buf.length` as "no newline byte follows here".
      const joined = this.carry!.subarray(0, this.carried);
      const length = this.carried;
      // A fresh tail buffer for the next line: onLine may keep views of this one.
      this.carry = undefined;
      this.carried = 0;
      this.onLine(joined, 0, length, ++this.lineNo);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    while (nl !== -1) {
      if (nl - start > this.max) throw this.fail(chunk.subarray(start, Math.min(nl, start + HEAD_BYTES)));
      this.onLine(chunk, start, nl, ++this.lineNo);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    // Copy: the caller may reuse its chunk buffer.
    if (start < chunk.length) this.append(chunk, start, chunk.length);
  }

  /** Emits a final line that had no `\n`. */
  end(): void {
    if (this.carried > 0) {
      const last = this.carry!.subarray(0, this.carried);
      const length = this.carried;
      this.carry = undefined;
      this.carried = 0;
      this.onLine(last, 0, length, ++this.lineNo);
    }
  }

  private append(chunk: Buffer, from: number, to: number): void {
    const n = to - from;
    const need = this.carried + n;
    if (need > this.max) {
      const head = this.carried > 0 ? this.carry!.subarray(0, Math.min(this.carried, HEAD_BYTES)) : chunk.subarray(from, from + HEAD_BYTES);
      throw this.fail(head);
    }
    if (this.carry === undefined || need > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(need, 2 * (this.carry?.length ?? 0), 4096), Math.max(need, this.max)));
      if (this.carried > 0) this.carry!.copy(grown, 0, 0, this.carried);
      this.copiedBytes += this.carried;
      this.carry = grown;
    }
    chunk.copy(this.carry, this.carried, from, to);
    this.copiedBytes += n;
    this.carried = need;
  }

  private fail(head: Buffer): Error {
    const lineNo = this.lineNo + 1;
    const copy = Buffer.from(head);
    this.carry = undefined;
    this.carried = 0;
    return this.tooLong ? this.tooLong(lineNo, copy, this.max) : new LineTooLongError(lineNo, this.max);
  }
}

/** Async iteration over lines of a stream as strings, for code that is not on a hot path. */
export async function* readLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<{ text: string; lineNo: number }> {
  const pending: Array<{ text: string; lineNo: number }> = [];
  const splitter = new LineSplitter((buf, s, e, lineNo) => {
    if (e > s && buf[e - 1] === 13) e--;
    pending.push({ text: buf.toString("utf8", s, e), lineNo });
  });
  for await (const chunk of stream) {
    splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    yield* pending.splice(0);
  }
  splitter.end();
  yield* pending.splice(0);
}
