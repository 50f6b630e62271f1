import { createReadStream } from "node:fs";
import type { ResultLine } from "../io/result-line.js";
import { classifyEvent, IdKindMap, Kind } from "../io/result-kinds.js";
import type { ResultStats } from "../io/result-stats.js";
import { ResultParser } from "../io/results.js";

// The rule (Kind, classifyEvent) lives in io/result-kinds.ts so the result parser can count
// distinct IDs by winning kind during a download; it is re-exported here for dataset code.
export { classifyEvent, Kind, type KindValue } from "../io/result-kinds.js";

/** ID → strongest kind of its events, looked up by `apply` (see IdKindMap). */
export class EventIndex extends IdKindMap {}

export interface LoadedResults {
  index: EventIndex;
  stats: ResultStats;
  /** Events per kind (not per distinct ID; `stats.distinct` has those). */
  events: { delete: number; scrub: number; rehydrate: number; other: number };
  /** Events of kind OTHER (actions this version does not know), by action. */
  otherActions: Record<string, number>;
}

/** Adds one parsed result line to the index and the counts. */
export function indexResultLine(line: ResultLine, into: LoadedResults): void {
  if (!("action" in line) || typeof line.action !== "string") return; // error record: counted by ResultParser only
  const kind = classifyEvent(line.action, typeof line.reason === "string" ? line.reason : undefined);
  into.index.add(line.id, kind);
  if (kind === Kind.delete) into.events.delete++;
  else if (kind === Kind.scrub) into.events.scrub++;
  else if (kind === Kind.rehydrate) into.events.rehydrate++;
  else {
    into.events.other++;
    into.otherActions[line.action] = (into.otherActions[line.action] ?? 0) + 1;
  }
}

/**
 * Reads a results file (or stream) into an EventIndex. Validation is ResultParser's: a bad line
 * throws InvalidResultLineError with its line number (exit 4). Memory grows with the events only.
 */
export async function loadResults(source: string, stream: AsyncIterable<Buffer | string>): Promise<LoadedResults> {
  const loaded: LoadedResults = { index: new EventIndex(), stats: undefined as unknown as ResultStats, events: { delete: 0, scrub: 0, rehydrate: 0, other: 0 }, otherActions: {} };
  // The index holds every ID with its winning kind, so it gives the distinct counts itself.
  const parser = new ResultParser(source, (line) => indexResultLine(line, loaded), undefined, "none");
  for await (const chunk of stream) parser.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  loaded.stats = parser.end();
  const byKind = loaded.index.kindCounts();
  const { delete: del, scrub, rehydrate, other } = loaded.events;
  loaded.stats.distinct = {
    delete: byKind[Kind.delete]!,
    scrub: byKind[Kind.scrub]!,
    rehydrate: byKind[Kind.rehydrate]!,
    other: byKind[Kind.other]!,
    duplicateLines: del + scrub + rehydrate + other - loaded.index.size,
  };
  return loaded;
}

export function openResults(path: string): AsyncIterable<Buffer> {
  return createReadStream(path, { highWaterMark: 1 << 20 });
}
