import { csvColumns, csvId, csvIdList, type CsvColumnChoice, type CsvColumns } from "./csv-columns.js";
import { headerNames, idSpan } from "./csv-applier.js";
import { CsvScanner, fieldText, type CsvRecord } from "./csv-scan.js";
import { InvalidLines } from "./invalid.js";
import type { DatasetType } from "./record-shape.js";

/**
 * `ids` on a CSV archive: for each row, tweets gives its Post ID and the IDs of the Posts it
 * retweets, quotes or replies to; users gives its author and the other users it names (the
 * retweeted, quoted and replied-to authors, rtweet's mentions). Each ID once a row, rtweet's `x`
 * removed. A row without the ID the run needs is invalid.
 */
export class CsvIdReader {
  readonly invalid = new InvalidLines();
  /** Records read, the header included. */
  lines = 0;
  ids = 0;
  private readonly scanner: CsvScanner;
  private columns: CsvColumns | undefined;
  private readonly span: [number, number] = [0, 0];

  constructor(
    private readonly type: DatasetType,
    private readonly choice: CsvColumnChoice,
    private readonly dataset: string,
    private readonly onIds: ((ids: string[]) => void) | undefined,
  ) {
    this.scanner = new CsvScanner((r) => this.record(r));
  }

  push(chunk: Buffer): void {
    this.scanner.push(chunk);
  }

  end(): void {
    this.scanner.end();
  }

  private text(r: CsvRecord, col: number): string {
    return col < r.starts.length ? fieldText(r.buf, r.starts[col]!, r.ends[col]!) : "";
  }

  private record(r: CsvRecord): void {
    this.lines++;
    if (!this.columns) {
      this.columns = csvColumns(headerNames(r), this.type, this.choice, this.dataset);
      return;
    }
    if (r.contentEnd === r.start) return;
    if (r.unclosed) {
      this.invalid.add(r.lineNo, "a quoted field is not closed");
      return;
    }
    const cols = this.columns;
    if (cols.noKey) return;
    const keyCol = this.type === "tweets" ? cols.post : cols.author;
    idSpan(r, keyCol, this.span);
    if (this.span[0] < 0) {
      const name = cols.names[keyCol]!;
      this.invalid.add(r.lineNo, this.span[0] === -1 ? `no ${this.type === "tweets" ? "Post" : "user"} ID in column ${name}` : `column ${name} is not an ID`);
      return;
    }
    const ids = [r.buf.toString("latin1", this.span[0], this.span[1])];
    const add = (id: string | null | undefined) => {
      if (id && !ids.includes(id)) ids.push(id);
    };
    if (this.type === "tweets") {
      for (const c of cols.retweetedPost) add(csvId(this.text(r, c)));
      for (const c of cols.otherPosts) add(csvId(this.text(r, c)));
    } else {
      for (const c of cols.retweetedUser) add(csvId(this.text(r, c)));
      for (const c of cols.otherUsers) for (const id of csvIdList(this.text(r, c))) add(id);
    }
    this.ids += ids.length;
    this.onIds?.(ids);
  }
}
