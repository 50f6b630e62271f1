import { z } from "zod";
import { IdString, Timestamp } from "../io/result-line.js";
import { redactUrl } from "./redact.js";

// Shapes follow the API's documented job shape: validate against the v2.166 job shape, but
// let unknown keys through (the API adds fields such as `resumable` before the spec does),
// keep `name`, `resumable`, `meta` and `error` optional, and accept timestamps with `Z` or an
// offset (jobs use `.000Z`, user results use `+00:00`).

/**
 * A job's upload or download URL: only http(s) is something this client may PUT to or GET from
 * (a `file:`, `data:` or `ftp:` URL is an unusable answer). The message names the URL, redacted.
 */
const TransferUrl = z.string().superRefine((value, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // Reported below.
  }
  if (url && (url.protocol === "https:" || url.protocol === "http:")) return;
  const shown = url ? redactUrl(value) : "(not a URL)";
  ctx.addIssue({
    code: "custom",
    message: url
      ? `expected an http or https URL, not ${url.protocol} (${shown.length > 200 ? `${shown.slice(0, 200)}…` : shown})`
      : "expected an http or https URL",
  });
});

export const JOB_TYPES = ["tweets", "users"] as const;
export const JobTypeSchema = z.enum(JOB_TYPES);
export type JobType = z.infer<typeof JobTypeSchema>;

export const JOB_STATUSES = ["created", "in_progress", "complete", "failed", "expired"] as const;
export type KnownJobStatus = (typeof JOB_STATUSES)[number];
/** Terminal for polling: `complete`, `failed`, `expired`. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["complete", "failed", "expired"]);

export const JobSchema = z.looseObject({
  id: IdString,
  type: JobTypeSchema,
  // An open string: a status this client does not know yet is shown, not rejected.
  status: z.string().min(1),
  name: z.string().optional(),
  resumable: z.boolean().optional(),
  created_at: Timestamp,
  upload_url: TransferUrl,
  upload_expires_at: Timestamp,
  download_url: TransferUrl,
  download_expires_at: Timestamp,
  // Not in any spec, but read by twarc, tweepy and node-twitter-api-v2 for failed jobs.
  error: z.string().optional(),
});
export type Job = z.infer<typeof JobSchema>;

export const ProblemSchema = z.looseObject({
  type: z.string().optional(),
  title: z.string().optional(),
  detail: z.string().optional(),
  status: z.number().optional(),
  reason: z.string().optional(),
  registration_url: z.string().optional(),
});
export type Problem = z.infer<typeof ProblemSchema>;

export const JobResponseSchema = z.looseObject({
  data: JobSchema,
  errors: z.array(ProblemSchema).optional(),
});

// `data` has minItems 1 in the spec, so an empty list may come back without it (twarc guards
// for `{}`), and `meta` is absent in 2021 recordings.
export const JobListResponseSchema = z.looseObject({
  data: z.array(JobSchema).optional(),
  meta: z.looseObject({ result_count: z.number().optional() }).optional(),
  errors: z.array(ProblemSchema).optional(),
});
