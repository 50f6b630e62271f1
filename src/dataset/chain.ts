import type { ApplierCounts } from "./applier.js";
import type { InvalidLines } from "./invalid.js";
import type { StreamApplier as Applier } from "./json-array.js";

/** What every streaming applier (JSON Lines, JSON array, CSV) offers: bytes in, bytes out, and what it counts in. */
export interface StreamApplier extends Applier {
  readonly unit: string;
}

/**
 * Several appliers in a row over one read of the dataset: what the first keeps (bytes, unchanged
 * or rewritten) is what the second reads, and so on, so `sync` applies the Post results and the
 * user results in one pass with no file in between. Each stage keeps its own counts (`stages`),
 * which is how a Post removed for its own event is told from one removed for its author.
 */
export class ChainApplier implements StreamApplier {
  private removed: Buffer[] = [];
  private rehydrate: Buffer[] = [];
  private out: Buffer[] = [];

  constructor(readonly stages: readonly StreamApplier[]) {
    if (stages.length === 0) throw new Error("ChainApplier needs at least one stage");
  }

  /** The first stage's counts: what was read. The stages' own counts say what each changed. */
  get counts(): ApplierCounts {
    return this.stages[0]!.counts;
  }

  /** Invalid records are the first stage's to find; later stages see them kept as they were. */
  get invalid(): InvalidLines {
    return this.stages[0]!.invalid;
  }

  get unit(): string {
    return this.stages[0]!.unit;
  }

  get rehydrateIds(): number {
    return this.stages.reduce((n, s) => n + s.rehydrateIds, 0);
  }

  push(chunk: Buffer): void {
    this.stages[0]!.push(chunk);
    this.flow(0, false);
  }

  end(): void {
    this.stages[0]!.end();
    this.flow(0, true);
  }

  take(): { out: Buffer[]; removed: Buffer[]; rehydrate: Buffer[] } {
    const taken = { out: this.out, removed: this.removed, rehydrate: this.rehydrate };
    this.out = [];
    this.removed = [];
    this.rehydrate = [];
    return taken;
  }

  /** Moves what stage `i` produced into stage i + 1 (ending it too when `ending`), down to the last. */
  private flow(i: number, ending: boolean): void {
    const { out, removed, rehydrate } = this.stages[i]!.take();
    for (const b of removed) this.removed.push(b);
    for (const b of rehydrate) this.rehydrate.push(b);
    const next = this.stages[i + 1];
    if (!next) {
      for (const b of out) this.out.push(b);
      return;
    }
    // One chunk per hand-over: the next stage's scanner pays per call, not per byte.
    if (out.length === 1) next.push(out[0]!);
    else if (out.length > 1) next.push(Buffer.concat(out));
    if (ending) next.end();
    this.flow(i + 1, ending);
  }
}
