// Canned error bodies used by the emulator, shaped like the real services' errors: JSON problems
// (RFC 7807 style: `title`, `detail`, `type`, usually `status`) on the API origin, and GCS XML
// `<Error><Code>…</Code><Message>…</Message></Error>` documents on the storage origin.

import { STATUS_CODES } from "node:http";

export type ProblemBody = Record<string, unknown>;

const P = "https://api.twitter.com/2/problems/";

export const problems = {
  unauthorized: { title: "Unauthorized", type: "about:blank", status: 401, detail: "Unauthorized" },
  tooManyRequests: { title: "Too Many Requests", detail: "Too Many Requests", type: "about:blank", status: 429 },
  usageCapped: {
    account_id: 1234567890,
    product_name: "standard-basic",
    title: "UsageCapExceeded",
    period: "Monthly",
    scope: "Product",
    detail: "Usage cap exceeded: Monthly product cap",
    type: `${P}usage-capped`,
  },
  clientForbidden: {
    client_id: "101010101",
    required_enrollment: "Standard Basic",
    registration_url: "https://developer.twitter.com/en/account",
    title: "Client Forbidden",
    detail:
      "This request must be made using an approved developer account that is enrolled in the requested endpoint. Learn more by visiting our documentation.",
    reason: "client-not-enrolled",
    type: "https://api.x.com/2/problems/client-forbidden",
  },
  conflict: {
    title: "Conflict",
    detail: "You cannot create a new job if one is already in progress.",
    type: `${P}conflict`,
    status: 409,
  },
  creditsDepleted: {
    account_id: 1234567890,
    title: "CreditsDepleted",
    detail: "Your enrolled account [1234567890] does not have any credits to fulfill this request.",
    type: `${P}credits`,
  },
  lengthRequired: {
    title: "Length Required",
    detail: "A Content-Length header is required; chunked transfer encoding is not supported.",
    type: "about:blank",
    status: 411,
  },
  notFound: { title: "Not Found", detail: "Not Found", type: "about:blank", status: 404 },
  /** X's legacy body for a path that does not exist. */
  pageNotFound: { errors: [{ message: "Sorry, that page does not exist", code: 34 }] },
} as const satisfies Record<string, ProblemBody>;

export interface InvalidRequestError {
  message: string;
  parameters: Record<string, string[]>;
}

/** 400 invalid-request problem in the real shape (no top-level `status`). */
export function invalidRequest(errors: InvalidRequestError[]): ProblemBody {
  return {
    errors,
    title: "Invalid Request",
    detail: "One or more parameters to your request was invalid.",
    type: `${P}invalid-request`,
  };
}

/** The `errors[]` entry for an unknown job id (GET answers 200 with only this). */
export function jobNotFoundError(id: string): ProblemBody {
  return {
    value: id,
    detail: `Could not find compliance job with id: [${id}].`,
    title: "Not Found Error",
    resource_type: "compliance_job",
    parameter: "id",
    resource_id: id,
    type: `${P}resource-not-found`,
  };
}

export function payloadTooLarge(max: number): ProblemBody {
  return {
    title: "Payload Too Large",
    detail: `The upload exceeds the maximum of ${max} bytes. Split the IDs across sequential jobs.`,
    type: "about:blank",
    status: 413,
  };
}

/** 415 for an upload whose Content-Type is not one of `accepted`. */
export function unsupportedMediaType(accepted: readonly string[]): ProblemBody {
  return {
    title: "Unsupported Media Type",
    detail: `The upload must be sent with Content-Type: ${accepted.join(" or ")}.`,
    type: "about:blank",
    status: 415,
  };
}

/** 401 for a byte path whose `token` query parameter is not the one in the job's URL. */
export function invalidByteToken(kind: "upload" | "download", id: string): ProblemBody {
  return {
    title: "Unauthorized",
    type: "about:blank",
    status: 401,
    detail: `The token query parameter is not valid for the ${kind} of job ${id}; use the job's ${kind}_url as it is.`,
  };
}

/** A conflict problem with a specific detail (the canned `problems.conflict` is the one-active-job body). */
export function conflict(detail: string): ProblemBody {
  return { title: "Conflict", detail, type: `${P}conflict`, status: 409 };
}

/** A generic about:blank problem for any status. */
export function genericProblem(status: number, detail?: string): ProblemBody {
  const title = STATUS_CODES[status] ?? "Error";
  return { title, detail: detail ?? title, type: "about:blank", status };
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;");
}

/** A GCS XML error document. */
export function xmlError(code: string, message: string, extra?: Record<string, string>): string {
  let body = `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>`;
  for (const [k, v] of Object.entries(extra ?? {})) body += `<${k}>${xmlEscape(v)}</${k}>`;
  return body + "</Error>";
}

const XML_DEFAULTS: Record<number, [string, string]> = {
  400: ["InvalidArgument", "Invalid argument."],
  401: ["AuthenticationRequired", "Authentication required."],
  403: ["AccessDenied", "Access denied."],
  404: ["NoSuchKey", "The specified key does not exist."],
  408: ["RequestTimeout", "Request timed out."],
  409: ["Conflict", "Conflict."],
  429: ["SlowDown", "Please reduce your request rate."],
  500: ["InternalError", "We encountered an internal error. Please try again."],
  502: ["BadGateway", "Bad gateway."],
  503: ["ServiceUnavailable", "Service Unavailable."],
  504: ["GatewayTimeout", "Gateway timeout."],
};

/** The default XML error for a status on the storage origin. */
export function xmlErrorForStatus(status: number): string {
  const [code, message] = XML_DEFAULTS[status] ?? ["Error", STATUS_CODES[status] ?? "Error"];
  return xmlError(code, message);
}
