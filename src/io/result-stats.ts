// The counts of a results file, kept by ResultParser and summed over the jobs of a split upload.

import { emptyDistinct, type DistinctCounts } from "./result-kinds.js";

/** Counts of a results file (or stream), the basis of every summary and `compliant report`. */
export interface ResultStats {
  /** Compliance events: IDs that need action. */
  events: number;
  /** Error records (`{"id":…,"error":…}`) from the API-origin flow. */
  errors: number;
  blankLines: number;
  bytes: number;
  byAction: Record<string, number>;
  byReason: Record<string, number>;
  byError: Record<string, number>;
  /**
   * Distinct IDs by the kind that wins for each (delete > scrub > rehydrate > other), and the
   * event lines beyond one per ID. Summed over the jobs of a split upload (each job's IDs counted
   * apart: an ID given to two jobs counts in both).
   */
  distinct: DistinctCounts;
  /** The distinct IDs of `invalid_id` error records, in file order. */
  invalidIds: string[];
}

export function emptyStats(): ResultStats {
  return { events: 0, errors: 0, blankLines: 0, bytes: 0, byAction: {}, byReason: {}, byError: {}, distinct: emptyDistinct(), invalidIds: [] };
}

export function mergeStats(into: ResultStats, from: ResultStats): ResultStats {
  into.events += from.events;
  into.errors += from.errors;
  into.blankLines += from.blankLines;
  into.bytes += from.bytes;
  for (const key of ["byAction", "byReason", "byError"] as const) {
    for (const [k, v] of Object.entries(from[key])) into[key][k] = (into[key][k] ?? 0) + v;
  }
  for (const key of ["delete", "scrub", "rehydrate", "other", "duplicateLines"] as const) into.distinct[key] += from.distinct[key];
  if (from.invalidIds.length > 0) into.invalidIds = [...new Set([...into.invalidIds, ...from.invalidIds])];
  return into;
}
