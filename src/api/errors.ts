import { CliError, ExitCode, type ExitCodeValue } from "../errors.js";
import { forTerminal } from "../output/escape.js";
import type { Problem } from "./schemas.js";

/** The problem type's last path segment: `https://api.x.com/2/problems/conflict` → `conflict`. */
export function problemKind(type: string | undefined): string | undefined {
  if (!type) return undefined;
  const m = /\/2\/problems\/([a-z0-9-]+)\/?$/i.exec(type);
  return m ? m[1]!.toLowerCase() : type === "about:blank" ? "about:blank" : type;
}

/** A storage (GCS) XML error: `<Error><Code>ExpiredToken</Code><Message>…</Message></Error>`. */
export interface StorageErrorBody {
  code: string;
  message?: string;
}

export function parseStorageError(text: string): StorageErrorBody | undefined {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  if (!code) return undefined;
  return { code, message: /<Message>([^<]*)<\/Message>/.exec(text)?.[1] };
}

export interface ApiErrorInit {
  status: number;
  method: string;
  /** Already redacted. */
  url: string;
  what: string;
  problem?: Problem;
  storage?: StorageErrorBody;
  /** e.g. the reset time of a rate limit, in epoch ms. */
  resetAt?: number;
  attempts?: number;
  /**
   * For a 3xx: where it points (already redacted), whether the API (not the storage) answered, and
   * the `--api-url` that would reach it.
   */
  redirect?: { location?: string; fromApi: boolean; apiUrl?: string };
}

/**
 * One error type for every HTTP failure (after octokit's RequestError): the status, the problem
 * type/title/detail, and a message a person can act on. URLs are redacted before they get here.
 */
export class ApiError extends CliError {
  readonly status: number;
  readonly method: string;
  readonly url: string;
  readonly problem?: Problem;
  readonly kind?: string;
  readonly storage?: StorageErrorBody;
  readonly resetAt?: number;

  constructor(init: ApiErrorInit) {
    const kind = problemKind(init.problem?.type);
    super(describe(init, kind), exitCodeFor(init.status, kind, init.storage));
    this.status = init.status;
    this.method = init.method;
    this.url = init.url;
    this.problem = init.problem;
    this.kind = kind;
    this.storage = init.storage;
    this.resetAt = init.resetAt;
  }
}

function exitCodeFor(status: number, kind: string | undefined, storage?: StorageErrorBody): ExitCodeValue {
  if (storage) return status >= 500 ? ExitCode.transient : ExitCode.refused;
  if (status === 401 || status === 403) return ExitCode.auth;
  if (status === 429) return kind === "usage-capped" ? ExitCode.refused : ExitCode.transient;
  if (status === 408 || status >= 500) return ExitCode.transient;
  return ExitCode.refused;
}

/** An epoch-ms time as a person reads it in a message: `2026-12-03T09:23:20Z`. */
export function utcSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}

function describe(init: ApiErrorInit, kind: string | undefined): string {
  const { status, what } = init;
  // Every string the server chose is shown inert: control characters become visible escapes.
  const problem = init.problem && inert(init.problem);
  const storage = init.storage && { code: forTerminal(init.storage.code), message: init.storage.message === undefined ? undefined : forTerminal(init.storage.message) };
  const detail = problem?.detail ?? problem?.title;
  const tail = detail ? `: ${detail.replace(/\s+$/, "").replace(/\.$/, "")}` : "";
  if (storage) {
    if (storage.code === "ExpiredToken") {
      return `storage refused to ${what} because the signed URL expired (${status} ExpiredToken); upload URLs last 15 minutes and download URLs about 7 days, so create a new job.`;
    }
    if (storage.code === "SignatureDoesNotMatch") {
      return `storage refused to ${what} (${status} SignatureDoesNotMatch); the signed URL was altered or a signed header differs, so fetch the job again with \`compliant status\` and retry.`;
    }
    if (storage.code === "NoSuchKey") {
      return `storage has no results to ${what} yet (${status} NoSuchKey); wait until the job is complete.`;
    }
    return `storage refused to ${what} (${status} ${storage.code}${storage.message ? `: ${storage.message}` : ""}).`;
  }
  switch (kind) {
    case "client-not-enrolled":
    case "client-forbidden":
      if (problem?.reason === "client-not-enrolled" || kind === "client-forbidden") {
        const where = problem?.registration_url ? ` (see ${problem.registration_url})` : "";
        return `the API refused to ${what}: this App is not in a Project with compliance access (${status} client-forbidden); attach the App to a Project${where} and use that App's bearer token.`;
      }
      break;
    case "unsupported-authentication":
      return `the API refused to ${what} because the compliance endpoints need an App-only bearer token (${status} unsupported-authentication); use your App's bearer token, not a user-context token.`;
    case "usage-capped":
      return `the API refused to ${what} because the usage cap is exhausted (${status} usage-capped${tail}); wait for the next ${String(problem?.period ?? "billing").toLowerCase()} period or raise the cap.`;
    case "credits":
      return `the API refused to ${what} because the account has no credits left (${status}${tail}); add credits in the developer console.`;
    case "conflict":
      return `the API refused to ${what} because a job of this type is already active (${status} conflict); only one job per type may run at a time, so wait for it to finish (or pass --wait-for-active to \`compliant all\`).`;
    case "resource-not-found":
      return `the API found nothing to ${what} (${status} resource-not-found${tail}); run \`compliant list\` to see your jobs.`;
  }
  if (status >= 300 && status < 400) return redirected(init);
  if (status === 401) {
    return `the API refused the bearer token when asked to ${what} (401 Unauthorized); check that the token (from X_BEARER_TOKEN, BEARER_TOKEN or --token-file) is your App's current bearer token.`;
  }
  if (status === 403) {
    return `the API refused access when asked to ${what} (403${tail}); check that the App has compliance access and the token is an App-only bearer token.`;
  }
  if (status === 413) {
    return `the API refused to ${what} because the upload is too large (413${tail}); use \`compliant all\`, which splits large inputs across jobs (see --max-ids-per-job).`;
  }
  if (status === 429) {
    const when = init.resetAt ? ` after ${utcSeconds(init.resetAt)}` : " later";
    return `the API rate limit was reached when asked to ${what} (429${tail}); run again${when}.`;
  }
  if (status >= 500 || status === 408) {
    const tries = init.attempts && init.attempts > 1 ? ` after ${init.attempts} attempts` : "";
    return `the API failed to ${what}${tries} (${status}${tail}); this is temporary, so run again later.`;
  }
  return `the API refused to ${what} (${status}${tail}).`;
}

/** Redirects are never followed (the token must not travel): say where it pointed and what to do. */
function redirected(init: ApiErrorInit): string {
  const { status, what, redirect } = init;
  const to = redirect?.location ? ` to ${redirect.location}` : " without a Location";
  if (redirect?.apiUrl) {
    return `the API answered ${status} (a redirect${to}) when asked to ${what}; compliant does not follow redirects, so use --api-url ${redirect.apiUrl} if that is the API you mean.`;
  }
  if (redirect && !redirect.fromApi) {
    return `storage answered ${status} (a redirect${to}) when asked to ${what}; compliant does not follow redirects of signed URLs, so fetch the job again with \`compliant status\` and retry.`;
  }
  return `the API answered ${status} (a redirect${to}) when asked to ${what}; compliant does not follow redirects, so check --api-url (the API's own address, such as https://api.x.com).`;
}

function inert(problem: Problem): Problem {
  const out: Record<string, unknown> = { ...problem };
  for (const [k, v] of Object.entries(out)) if (typeof v === "string") out[k] = forTerminal(v);
  return out as Problem;
}

/** Network failure (DNS, refused, reset, timeout) that remained after retries: exit 5. */
export class NetworkError extends CliError {
  constructor(what: string, cause: unknown, attempts: number) {
    const reason = describeNetworkCause(cause);
    const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
    super(`could not ${what}${tries}: ${reason}; check the network and --api-url, then run again.`, ExitCode.transient, { cause });
  }
}

function describeNetworkCause(cause: unknown): string {
  const err = cause as { code?: string; message?: string; cause?: { code?: string } };
  const code = err?.code ?? err?.cause?.code;
  switch (code) {
    case "ECONNREFUSED":
      return "the connection was refused";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "the connection was reset";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "the host name could not be resolved";
    case "UND_ERR_CONNECT_TIMEOUT":
      return "connecting timed out";
    case "UND_ERR_HEADERS_TIMEOUT":
      return "the server sent no response in time";
    case "UND_ERR_BODY_TIMEOUT":
      return "the server stopped sending data";
    default:
      return err?.message ? err.message.replace(/\.$/, "") : String(cause);
  }
}

/** The API answered 2xx with a body that does not have the documented shape: exit 4. */
export class ApiShapeError extends CliError {
  constructor(what: string, issues: string) {
    super(`the API answered ${what} with data this client does not understand (${issues}); please report it with --verbose output.`, ExitCode.refused);
  }
}
