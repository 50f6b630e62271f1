import { UsageError } from "../errors.js";

const SAMPLES = 5;

/** Invalid dataset lines: the total and the first few, for one message. */
export class InvalidLines {
  count = 0;
  readonly samples: Array<{ lineNo: number; why: string }> = [];

  /** `unit` names what is numbered: "line" (JSON Lines), "element" (a JSON array). */
  constructor(readonly unit = "line") {}

  add(lineNo: number, why: string): void {
    this.count++;
    if (this.samples.length < SAMPLES) this.samples.push({ lineNo, why });
  }

  /** `line 4: not JSON, line 9: no Post ID, and 3 more` */
  describe(): string {
    const parts = this.samples.map((s) => `${this.unit} ${s.lineNo}: ${s.why}`);
    if (this.count > this.samples.length) parts.push(`and ${this.count - this.samples.length} more`);
    return parts.join(", ");
  }

  /** `2 invalid lines (line 4: not JSON, line 9: no Post ID)` */
  summary(): string {
    return `${this.count} invalid ${this.unit}${this.count === 1 ? "" : "s"} (${this.describe()})`;
  }
}

export function invalidDatasetError(name: string, invalid: InvalidLines, remedy = "fix them or pass --skip-invalid"): UsageError {
  return new UsageError(`the dataset ${name} has ${invalid.summary()}; ${remedy}.`);
}
