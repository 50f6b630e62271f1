// GCS-V4-shaped signed URLs for the emulator's storage origin. The signature is an HMAC with a
// per-emulator secret (not RSA), rendered as 512 hex digits like the real ones, over the method,
// path, credential, date, expiry and signed-header list. The upload_id of a resumable session is
// not part of the signature (it is its own credential, as on GCS).
//
// The "api" flow's byte paths (OpenAPI 2.168) carry a signed `token` query parameter instead:
// base64url of an HMAC with the same secret over the path's kind ("upload" / "download") and the
// job id, so a token is good for exactly one job and one of its two byte paths. How long it lasts
// is the job's business (an upload only while the job is `created`, a download for 7 days).

import { createHmac, timingSafeEqual } from "node:crypto";

const SERVICE_ACCOUNT = "compliant-emulator-svc-acct@compliant-emulator.iam.gserviceaccount.com";

/** `YYYYMMDDTHHMMSSZ` */
function googDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
}

/** Parses `YYYYMMDDTHHMMSSZ` to ms, or NaN. */
export function parseGoogDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null) return Number.NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

export interface SignedParams {
  credential: string;
  date: string;
  expires: string;
  signedHeaders: string;
}

export function stringToSign(method: string, path: string, p: SignedParams): string {
  return ["GOOG4-RSA-SHA256", method, path, p.credential, p.date, p.expires, p.signedHeaders].join("\n");
}

export class UrlSigner {
  constructor(private readonly secret: Buffer) {}

  signature(method: string, path: string, p: SignedParams): string {
    const s = stringToSign(method, path, p);
    let hex = "";
    for (let i = 0; i < 8; i++) hex += createHmac("sha256", this.secret).update(`${i}\n${s}`).digest("hex");
    return hex;
  }

  /** Builds `origin + path + ?X-Goog-…` with the parameters in the order of the real URLs. */
  signUrl(origin: string, method: string, path: string, createdMs: number, expiresSeconds: number, signedHeaders: string): string {
    const date = googDate(createdMs);
    const p: SignedParams = {
      credential: `${SERVICE_ACCOUNT}/${date.slice(0, 8)}/auto/storage/goog4_request`,
      date,
      expires: String(expiresSeconds),
      signedHeaders,
    };
    const q = new URLSearchParams();
    q.set("X-Goog-Algorithm", "GOOG4-RSA-SHA256");
    q.set("X-Goog-Credential", p.credential);
    q.set("X-Goog-Date", p.date);
    q.set("X-Goog-Expires", p.expires);
    q.set("X-Goog-SignedHeaders", p.signedHeaders);
    q.set("X-Goog-Signature", this.signature(method, path, p));
    // URLSearchParams encodes ';' as %3B, '@' as %40 and '/' as %2F, like the recordings.
    return `${origin}${path}?${q.toString()}`;
  }

  /** The `token` of a job's byte path on the API origin. */
  byteToken(kind: "upload" | "download", jobId: string): string {
    return createHmac("sha256", this.secret).update(`compliance-${kind}\n${jobId}`).digest("base64url");
  }

  verifyByteToken(kind: "upload" | "download", jobId: string, token: string): boolean {
    const expected = Buffer.from(this.byteToken(kind, jobId));
    const got = Buffer.from(token);
    return expected.length === got.length && timingSafeEqual(expected, got);
  }

  verify(method: string, path: string, p: SignedParams, signature: string): boolean {
    const expected = Buffer.from(this.signature(method, path, p));
    const got = Buffer.from(signature.toLowerCase());
    return expected.length === got.length && timingSafeEqual(expected, got);
  }
}
