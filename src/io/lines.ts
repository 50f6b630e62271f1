/**
 * A byte-level line splitter: feed it chunks, it calls `onLine(buffer, start, end, lineNo)` for
 * every complete line (without the `\n`; a trailing `\r` is left for the caller) and keeps the
 * unfinished tail for the next chunk. No per-chunk string decoding, so it keeps up with the disk.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  /** Physical lines seen so far (1-based number of the last line emitted). */
  lineNo = 0;

  constructor(private readonly onLine: (buf: Buffer, start: number, end: number, lineNo: number) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(10);
    if (this.carry && nl !== -1) {
      const joined = Buffer.concat([this.carry, chunk.subarray(0, nl)]);
      this.carry = undefined;
      this.onLine(joined, 0, joined.length, ++this.lineNo);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    while (nl !== -1) {
      this.onLine(chunk, start, nl, ++this.lineNo);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      // Copy: the caller may reuse its chunk buffer.
      this.carry = this.carry ? Buffer.concat([this.carry, rest]) : Buffer.from(rest);
    }
  }

  /** Emits a final line that had no `\n`. */
  end(): void {
    if (this.carry && this.carry.length > 0) {
      const last = this.carry;
      this.carry = undefined;
      this.onLine(last, 0, last.length, ++this.lineNo);
    }
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
