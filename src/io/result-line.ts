import { z } from "zod";

// One line of a compliance results file, and the primitives it shares with the API's job shape
// (src/api/schemas.ts imports them from here: io does not depend on api).

/** Post and user IDs are 1–19 digit strings (`^[0-9]{1,19}$` in the spec); never numbers. */
export const IdString = z.string().regex(/^[0-9]{1,19}$/, "expected a 1–19 digit ID");

/** RFC 3339 with `Z` or an offset (jobs use `.000Z`, user results use `+00:00`). */
export const Timestamp = z.iso.datetime({ offset: true });

/**
 * One compliance event. `action` and `reason` are open strings: `delete` is the only action ever
 * recorded, the API-origin flow adds `rehydrate` and `scrub_geo`, and the 2026 docs add the
 * `bounced` reason. `redacted_at` is optional and may be null; `deleted_at` is its newer alias.
 */
export const ResultEventSchema = z.looseObject({
  id: IdString,
  action: z.string().min(1),
  reason: z.string().optional(),
  created_at: Timestamp.optional(),
  redacted_at: Timestamp.nullish(),
  deleted_at: Timestamp.nullish(),
});
export type ResultEvent = z.infer<typeof ResultEventSchema>;

/** The API-origin flow may report an ID it could not check: `{"id":"…","error":"invalid_id"}`. */
export const ResultErrorSchema = z.looseObject({
  id: z.string(),
  error: z.string().min(1),
});
export type ResultError = z.infer<typeof ResultErrorSchema>;

export const ResultLineSchema = z.union([ResultEventSchema, ResultErrorSchema]);
export type ResultLine = z.infer<typeof ResultLineSchema>;

export function isResultError(line: ResultLine): line is ResultError {
  return typeof (line as { error?: unknown }).error === "string" && !("action" in line);
}
