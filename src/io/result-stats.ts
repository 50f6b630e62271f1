// The counts of a results file, kept by ResultParser and summed over the jobs of a split upload.

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
}

export function emptyStats(): ResultStats {
  return { events: 0, errors: 0, blankLines: 0, bytes: 0, byAction: {}, byReason: {}, byError: {} };
}

export function mergeStats(into: ResultStats, from: ResultStats): ResultStats {
  into.events += from.events;
  into.errors += from.errors;
  into.blankLines += from.blankLines;
  into.bytes += from.bytes;
  for (const key of ["byAction", "byReason", "byError"] as const) {
    for (const [k, v] of Object.entries(from[key])) into[key][k] = (into[key][k] ?? 0) + v;
  }
  return into;
}
