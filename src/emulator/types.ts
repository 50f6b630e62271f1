// The emulator's public types: its options, the handle a test holds, the request log and the
// fault-injection vocabulary. Everything here is re-exported from server.ts.

import type { EmulatorFlow, EmulatorJobType } from "./results.js";

export interface Clock {
  now(): number;
}
export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

export type RouteKind =
  | "create"
  | "list"
  | "get"
  | "cancel"
  | "upload"
  | "resumable-start"
  | "resumable-chunk"
  | "resumable-cancel"
  | "download"
  | "unknown";

export interface RequestLogEntry {
  seq: number;
  method: string;
  origin: "api" | "storage";
  route: RouteKind;
  /** Path without the query string (signed URLs and upload ids are never logged). */
  path: string;
  /** Whether an Authorization header was present; its value is never stored. */
  authorization: boolean;
  contentType?: string;
  contentLength?: number;
  chunked: boolean;
  range?: string;
  contentRange?: string;
  /** Response status; 0 while pending or when the connection was dropped without a response. */
  status: number;
  /** Request body bytes the emulator read. */
  bytesIn: number;
}

export type JobStatus = "created" | "in_progress" | "complete" | "failed" | "expired";

export interface EmulatedJobInfo {
  id: string;
  type: EmulatorJobType;
  name?: string;
  status: JobStatus;
  resumable: boolean;
  uploadedBytes: number;
  uploadedIds: number;
  getPolls: number;
  error?: string;
}

export interface FaultMatch {
  route?: RouteKind;
  method?: string;
  origin?: "api" | "storage";
}
export type FaultAction =
  | { type: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  | { type: "rate-limit"; resetInSeconds: number }
  | { type: "usage-cap" }
  | { type: "reset" }
  | { type: "cut-body"; afterBytes: number }
  | { type: "stall"; ms: number }
  | { type: "drop-upload"; afterBytes: number };
export interface Fault {
  match: FaultMatch;
  /** How many times to apply; default 1 (Infinity when `every` is set). */
  times?: number;
  /** Apply to every Nth matching request instead of the next ones. */
  every?: number;
  action: FaultAction;
}

export interface EmulatorOptions {
  host?: string;
  port?: number;
  storagePort?: number;
  token?: string;
  flow?: EmulatorFlow;
  pollsToComplete?: number;
  clock?: Clock;
  dataDir?: string;
  rateLimit?: { limit: number; windowSeconds: number };
  maxUploadBytes?: number;
  /** Answer DELETE /2/compliance/jobs/{id}; default: only on the "api" flow (the storage flow's API had no DELETE: 404). */
  cancelSupported?: boolean;
  /**
   * OpenAPI 2.168: the "api" flow's upload takes only `Content-Type: application/octet-stream`
   * (anything else: 415). On by default; off, `text/plain` is accepted too (an older client's).
   */
  octetStreamOnly?: boolean;
  /**
   * OpenAPI 2.168: DELETE of a created or in_progress job makes it `failed` and answers 200
   * `{"data": job}` (an ended job: the same answer, status unchanged). On by default; off, the
   * older answer: the job becomes `expired` (error "cancelled") and the body is
   * `{"data":{"id":…,"cancelled":true|false}}`.
   */
  cancelToFailed?: boolean;
  /**
   * Testing hook: called synchronously as each request arrives (after it is logged, before it is
   * handled), so a test can act at an exact moment, e.g. kill its client mid-request.
   */
  onRequest?: (entry: RequestLogEntry) => void;
}

export interface Emulator {
  apiUrl: string;
  storageUrl: string;
  token: string;
  requests: RequestLogEntry[];
  jobs(): EmulatedJobInfo[];
  fault(f: Fault): void;
  clearFaults(): void;
  failJob(id: string, error?: string): void;
  expireJob(id: string): void;
  close(): Promise<void>;
}
