// Unit tests of the API layer's pure parts: retry decisions, URL redaction, error messages, and
// the terminal policy.

import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffMs, pollDelayMs, rateLimitWaitMs, readRateLimit, shouldRetry, type RetryQuestion } from "../../src/api/retry.js";
import { endpointKey, redactUrl, scrub } from "../../src/api/http.js";
import { ApiError, ApiShapeError, NetworkError, parseStorageError, problemKind, type ApiErrorInit } from "../../src/api/errors.js";
import { ExitCode } from "../../src/errors.js";
import { terminalPolicy } from "../../src/output/terminal.js";

// ---------------------------------------------------------------------------------------------
// retry.ts

test("shouldRetry: the decision table", () => {
  const q = (over: Partial<RetryQuestion>): RetryQuestion => ({ attempt: 1, maxAttempts: 5, method: "GET", failure: "status", ...over });
  const table: Array<[string, Partial<RetryQuestion>, boolean]> = [
    ["GET network", { failure: "network" }, true],
    ["GET not sent", { failure: "not-sent" }, true],
    ["GET 500", { status: 500 }, true],
    ["GET 502", { status: 502 }, true],
    ["GET 503", { status: 503 }, true],
    ["GET 504", { status: 504 }, true],
    ["GET 505", { status: 505 }, false],
    ["GET 408", { status: 408 }, true],
    ["GET 429 rate limit", { status: 429, problemType: "about:blank" }, true],
    ["GET 429 usage cap", { status: 429, problemType: "usage-capped" }, false],
    ["GET 402 credits", { status: 402, problemType: "credits" }, false],
    ["GET 400", { status: 400 }, false],
    ["GET 401", { status: 401 }, false],
    ["GET 403", { status: 403 }, false],
    ["GET 404", { status: 404 }, false],
    ["GET 409", { status: 409 }, false],
    ["GET 503 on the last attempt", { status: 503, attempt: 5 }, false],
    ["GET network on the last attempt", { failure: "network", attempt: 5 }, false],
    ["GET with a single attempt", { failure: "network", maxAttempts: 1 }, false],
    // POST /2/compliance/jobs has no idempotency key.
    ["POST not sent", { method: "POST", failure: "not-sent" }, true],
    ["POST network (ambiguous)", { method: "POST", failure: "network" }, false],
    ["POST 500 (ambiguous)", { method: "POST", status: 500 }, false],
    ["POST 503 (ambiguous)", { method: "POST", status: 503 }, false],
    // A 429 is refused before anything is created: safe to repeat after the reset.
    ["POST 429 rate limit", { method: "POST", status: 429, problemType: "about:blank" }, true],
    ["POST 429 usage cap", { method: "POST", status: 429, problemType: "usage-capped" }, false],
    ["POST 409 conflict", { method: "POST", status: 409, problemType: "conflict" }, false],
    // The resumable-session start creates nothing on the API side.
    ["repeatable POST network", { method: "POST", repeatable: true, failure: "network" }, true],
    ["repeatable POST 503", { method: "POST", repeatable: true, status: 503 }, true],
    ["PUT network", { method: "PUT", failure: "network" }, true],
    ["PUT 503", { method: "PUT", status: 503 }, true],
    ["PUT 403", { method: "PUT", status: 403 }, false],
    ["DELETE 502", { method: "DELETE", status: 502 }, true],
  ];
  for (const [name, over, expected] of table) assert.equal(shouldRetry(q(over)), expected, name);
});

test("backoffMs: full jitter within [100 ms, min(cap, base·2^(n-1))]", () => {
  const at = (r: number) => () => r;
  assert.equal(backoffMs(1, { random: at(1) }), 500);
  assert.equal(backoffMs(2, { random: at(1) }), 1000);
  assert.equal(backoffMs(3, { random: at(1) }), 2000);
  assert.equal(backoffMs(3, { random: at(0.5) }), 1000);
  assert.equal(backoffMs(20, { random: at(1) }), 30_000, "capped");
  assert.equal(backoffMs(1, { random: at(0) }), 100, "never below 100 ms");
  assert.equal(backoffMs(0, { random: at(1) }), 500, "attempt 0 behaves like attempt 1");
  assert.equal(backoffMs(4, { baseMs: 10, capMs: 50, random: at(1) }), 100, "the 100 ms floor wins over a small cap");
  assert.equal(backoffMs(2, { baseMs: 10, capMs: 50, random: at(1) }), 100, "the 100 ms floor wins over a small base");
  for (let attempt = 1; attempt <= 12; attempt++) {
    for (const r of [0, 0.1, 0.37, 0.5, 0.99, 0.999999]) {
      const ms = backoffMs(attempt, { random: at(r) });
      assert.ok(ms >= 100 && ms <= Math.min(30_000, 500 * 2 ** (attempt - 1)), `attempt ${attempt}, r ${r}: ${ms}`);
      assert.ok(Number.isInteger(ms));
    }
  }
});

test("readRateLimit and rateLimitWaitMs read the x-rate-limit headers and Retry-After", () => {
  assert.deepEqual(readRateLimit({ "x-rate-limit-limit": "150", "x-rate-limit-remaining": "149", "x-rate-limit-reset": "1633593378" }), {
    limit: 150,
    remaining: 149,
    resetAt: 1633593378_000,
  });
  assert.deepEqual(readRateLimit({ "x-rate-limit-remaining": ["3", "4"] }), { limit: undefined, remaining: 3, resetAt: undefined });
  assert.equal(readRateLimit({ "content-type": "application/json" }), undefined);

  const now = 1_700_000_000_000;
  // Until the reset, plus one second of slack for clock skew.
  assert.equal(rateLimitWaitMs({ "x-rate-limit-reset": String(now / 1000 + 60) }, now), 61_000);
  assert.equal(rateLimitWaitMs({ "x-rate-limit-reset": [String(now / 1000 + 2)] }, now), 3_000);
  assert.equal(rateLimitWaitMs({ "x-rate-limit-reset": String(now / 1000 - 30) }, now), 1_000, "a reset in the past waits only the slack");
  assert.equal(rateLimitWaitMs({ "retry-after": "7" }, now), 7_000);
  assert.equal(rateLimitWaitMs({ "retry-after": new Date(now + 12_000).toUTCString() }, now), 12_000);
  assert.equal(rateLimitWaitMs({ "x-rate-limit-reset": "0", "retry-after": "2" }, now), 2_000);
  assert.equal(rateLimitWaitMs({ "x-rate-limit-reset": "soon" }, now), undefined);
  assert.equal(rateLimitWaitMs({}, now), undefined);
});

test("pollDelayMs spreads the remaining budget until the reset", () => {
  const now = 1_000_000;
  assert.equal(pollDelayMs(30_000, undefined, now), 30_000);
  assert.equal(pollDelayMs(30_000, { limit: 150 }, now), 30_000, "no remaining/reset: the interval");
  assert.equal(pollDelayMs(30_000, { remaining: 149, resetAt: now + 900_000 }, now), 30_000, "plenty left: the interval");
  // 5 per 15 minutes: 4 usable requests over 900 s = one per 225 s.
  assert.equal(pollDelayMs(30_000, { remaining: 5, resetAt: now + 900_000 }, now), 225_000);
  assert.equal(pollDelayMs(50, { remaining: 11, resetAt: now + 1_000 }, now), 100);
  // One (kept for the final read) or none left: wait for the reset.
  assert.equal(pollDelayMs(30_000, { remaining: 1, resetAt: now + 600_000 }, now), 601_000);
  assert.equal(pollDelayMs(30_000, { remaining: 0, resetAt: now + 600_000 }, now), 601_000);
  assert.equal(pollDelayMs(30_000, { remaining: 0, resetAt: now - 5_000 }, now), 30_000, "a past reset never shortens the interval");
  assert.equal(pollDelayMs(2_000, { remaining: 0, resetAt: now - 5_000 }, now), 2_000);
});

// ---------------------------------------------------------------------------------------------
// http.ts

const SIGNED =
  "https://storage.googleapis.com/twttr-tweet-compliance/1446017776678801409/submission/1168916625673924610_1446017776678801409" +
  "?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=complianceapi-public-svc-acct%40twttr-compliance-public-prod.iam.gserviceaccount.com%2F20211007%2Fauto%2Fstorage%2Fgoog4_request" +
  "&X-Goog-Date=20211007T074118Z&X-Goog-Expires=900&X-Goog-SignedHeaders=content-type%3Bhost&X-Goog-Signature=56a5df0dd766dfe8dc09b8e0";

test("redactUrl hides signatures, credentials and session ids, and keeps the harmless parts", () => {
  const shown = redactUrl(SIGNED, "https://api.x.com");
  const u = new URL(shown);
  assert.equal(u.origin + u.pathname, SIGNED.split("?")[0]);
  assert.equal(u.searchParams.get("X-Goog-Signature"), "REDACTED");
  assert.equal(u.searchParams.get("X-Goog-Credential"), "REDACTED");
  assert.equal(u.searchParams.get("X-Goog-Algorithm"), "GOOG4-RSA-SHA256");
  assert.equal(u.searchParams.get("X-Goog-Date"), "20211007T074118Z");
  assert.equal(u.searchParams.get("X-Goog-Expires"), "900");
  assert.equal(u.searchParams.get("X-Goog-SignedHeaders"), "content-type;host");
  assert.ok(!shown.includes("56a5df0dd766"));
  assert.ok(!shown.includes("complianceapi-public-svc-acct"));

  // Without knowing the API origin, the known secret parameters still go.
  const bare = redactUrl(`${SIGNED}&upload_id=ADPycdt-secret`);
  assert.ok(!bare.includes("56a5df0dd766") && !bare.includes("ADPycdt-secret"), bare);
  assert.equal(new URL(bare).searchParams.get("upload_id"), "REDACTED");

  // On a foreign origin every unknown parameter is treated as secret; on the API origin it is kept.
  assert.equal(redactUrl("https://cdn.example/x?k=secret&type=tweets", "https://api.x.com"), "https://cdn.example/x?k=REDACTED&type=tweets");
  assert.equal(redactUrl("https://api.x.com/2/compliance/jobs?type=users&status=complete", "https://api.x.com"), "https://api.x.com/2/compliance/jobs?type=users&status=complete");
  assert.equal(redactUrl("https://api.x.com/2/x?access_token=abc&token=def", "https://api.x.com"), "https://api.x.com/2/x?access_token=REDACTED&token=REDACTED");
  // Credentials in the URL itself are dropped.
  assert.equal(redactUrl("https://user:pass@api.x.com/2/compliance/jobs", "https://api.x.com"), "https://api.x.com/2/compliance/jobs");
  assert.equal(redactUrl("not a url"), "(invalid URL)");
});

test("scrub and endpointKey", () => {
  assert.equal(scrub("Bearer s3cr3t and s3cr3t", "s3cr3t"), "Bearer [REDACTED] and [REDACTED]");
  assert.equal(scrub("nothing", undefined), "nothing");
  assert.equal(endpointKey("GET", "https://api.x.com/2/compliance/jobs/1460694452490674183"), "GET /2/compliance/jobs/:id");
  assert.equal(endpointKey("GET", "https://api.x.com/2/compliance/jobs?type=tweets"), "GET /2/compliance/jobs");
  assert.equal(endpointKey("PUT", "http://127.0.0.1:1/2/compliance/jobs/12/upload"), "PUT /2/compliance/jobs/:id/upload");
});

// ---------------------------------------------------------------------------------------------
// errors.ts

test("problemKind accepts both problem hosts and keeps unknown types", () => {
  for (const host of ["https://api.twitter.com", "https://api.x.com"]) {
    assert.equal(problemKind(`${host}/2/problems/conflict`), "conflict");
    assert.equal(problemKind(`${host}/2/problems/client-forbidden`), "client-forbidden");
    assert.equal(problemKind(`${host}/2/problems/usage-capped/`), "usage-capped");
    assert.equal(problemKind(`${host}/2/problems/Resource-Not-Found`), "resource-not-found");
  }
  assert.equal(problemKind("about:blank"), "about:blank");
  assert.equal(problemKind(undefined), undefined);
  assert.equal(problemKind(""), undefined);
  assert.equal(problemKind("https://example.com/whatever"), "https://example.com/whatever");
});

const P = (host: string, kind: string) => `${host}/2/problems/${kind}`;
const base = { method: "POST", url: "https://api.x.com/2/compliance/jobs", what: "create a tweets job" };

function apiError(init: Partial<ApiErrorInit> & { status: number }): ApiError {
  return new ApiError({ ...base, ...init });
}

/** One sentence: no line breaks, ends with a full stop. */
function assertOneSentence(message: string): void {
  assert.ok(!message.includes("\n"), message);
  assert.match(message, /\.$/, message);
}

test("ApiError: actionable messages and exit codes for the documented problems (both hosts)", () => {
  for (const host of ["https://api.twitter.com", "https://api.x.com"]) {
    const forbidden = apiError({
      status: 403,
      problem: { type: P(host, "client-forbidden"), title: "Client Forbidden", reason: "client-not-enrolled", registration_url: "https://developer.twitter.com/en/account" },
    });
    assert.equal(forbidden.exitCode, ExitCode.auth);
    assert.equal(forbidden.kind, "client-forbidden");
    assert.equal(
      forbidden.message,
      "the API refused to create a tweets job: this App is not in a Project with compliance access (403 client-forbidden); attach the App to a Project (see https://developer.twitter.com/en/account) and use that App's bearer token.",
    );

    const conflict = apiError({ status: 409, problem: { type: P(host, "conflict"), title: "Conflict", detail: "You cannot create a new job if one is already in progress." } });
    assert.equal(conflict.exitCode, ExitCode.refused);
    assert.equal(conflict.kind, "conflict");
    assert.match(conflict.message, /already active \(409 conflict\).*--wait-for-active/);

    const capped = apiError({ status: 429, problem: { type: P(host, "usage-capped"), title: "UsageCapExceeded", detail: "Usage cap exceeded: Monthly product cap", period: "Monthly" } });
    assert.equal(capped.exitCode, ExitCode.refused, "a usage cap is not transient");
    assert.equal(
      capped.message,
      "the API refused to create a tweets job because the usage cap is exhausted (429 usage-capped: Usage cap exceeded: Monthly product cap); wait for the next monthly period or raise the cap.",
    );

    const unsupported = apiError({ status: 403, problem: { type: P(host, "unsupported-authentication"), title: "Unsupported Authentication" } });
    assert.equal(unsupported.exitCode, ExitCode.auth);
    assert.match(unsupported.message, /App-only bearer token/);

    const credits = apiError({ status: 402, problem: { type: P(host, "credits"), title: "CreditsDepleted", detail: "No credits." } });
    assert.equal(credits.exitCode, ExitCode.refused);
    assert.match(credits.message, /no credits left \(402: No credits\); add credits/);

    const notFound = new ApiError({
      status: 404,
      method: "GET",
      url: "https://api.x.com/2/compliance/jobs/123",
      what: "get job 123",
      problem: { type: P(host, "resource-not-found"), title: "Not Found Error", detail: "Could not find compliance job with id: [123]." },
    });
    assert.equal(notFound.exitCode, ExitCode.refused);
    assert.equal(notFound.message, "the API found nothing to get job 123 (404 resource-not-found: Could not find compliance job with id: [123]); run `compliant list` to see your jobs.");
    for (const e of [forbidden, conflict, capped, unsupported, credits, notFound]) assertOneSentence(e.message);
  }
});

test("ApiError: plain statuses", () => {
  const unauthorized = apiError({ status: 401, problem: { type: "about:blank", title: "Unauthorized", detail: "Unauthorized" } });
  assert.equal(unauthorized.exitCode, ExitCode.auth);
  assert.equal(
    unauthorized.message,
    "the API refused the bearer token when asked to create a tweets job (401 Unauthorized); check that the token (from X_BEARER_TOKEN, BEARER_TOKEN or --token-file) is your App's current bearer token.",
  );
  const forbidden = apiError({ status: 403 });
  assert.equal(forbidden.exitCode, ExitCode.auth);
  assert.match(forbidden.message, /403\); check that the App has compliance access/);

  const resetAt = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const limited = apiError({ status: 429, problem: { type: "about:blank", title: "Too Many Requests", detail: "Too Many Requests" }, resetAt });
  assert.equal(limited.exitCode, ExitCode.transient);
  assert.equal(limited.message, "the API rate limit was reached when asked to create a tweets job (429: Too Many Requests); run again after 2026-01-02T03:04:05Z.");
  assert.match(apiError({ status: 429 }).message, /run again later\.$/);

  const down = apiError({ status: 503, attempts: 5, problem: { type: "about:blank", title: "Service Unavailable", detail: "Service Unavailable." } });
  assert.equal(down.exitCode, ExitCode.transient);
  assert.equal(down.message, "the API failed to create a tweets job after 5 attempts (503: Service Unavailable); this is temporary, so run again later.");
  assert.equal(apiError({ status: 408 }).exitCode, ExitCode.transient);
  assert.equal(apiError({ status: 413 }).exitCode, ExitCode.refused);
  assert.match(apiError({ status: 413 }).message, /--max-ids-per-job/);
  assert.equal(apiError({ status: 400, problem: { detail: "One or more parameters to your request was invalid." } }).message, "the API refused to create a tweets job (400: One or more parameters to your request was invalid).");
  for (const s of [400, 401, 403, 404, 408, 409, 413, 429, 500, 502]) assertOneSentence(apiError({ status: s }).message);
});

test("ApiError: storage XML errors never count as auth failures", () => {
  const expired = parseStorageError("<?xml version='1.0' encoding='UTF-8'?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>");
  assert.deepEqual(expired, { code: "ExpiredToken", message: "The provided token has expired." });
  assert.equal(parseStorageError("not xml"), undefined);
  const what = "upload IDs for job 1";
  const e1 = new ApiError({ status: 400, method: "PUT", url: "https://storage.googleapis.com/x", what, storage: expired });
  assert.equal(e1.exitCode, ExitCode.refused);
  assert.match(e1.message, /signed URL expired \(400 ExpiredToken\).*create a new job\.$/);
  const e2 = new ApiError({ status: 403, method: "PUT", url: "https://storage.googleapis.com/x", what, storage: { code: "SignatureDoesNotMatch" } });
  assert.equal(e2.exitCode, ExitCode.refused, "a storage 403 is not the bearer token's fault");
  const e3 = new ApiError({ status: 503, method: "PUT", url: "https://storage.googleapis.com/x", what, storage: { code: "ServiceUnavailable", message: "Service Unavailable." } });
  assert.equal(e3.exitCode, ExitCode.transient);
  assert.equal(e3.message, "storage refused to upload IDs for job 1 (503 ServiceUnavailable: Service Unavailable.).");
});

test("NetworkError and ApiShapeError", () => {
  const refused = new NetworkError("list tweets jobs", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), 5);
  assert.equal(refused.exitCode, ExitCode.transient);
  assert.equal(refused.message, "could not list tweets jobs after 5 attempts: the connection was refused; check the network and --api-url, then run again.");
  const dns = new NetworkError("create a tweets job", { cause: { code: "ENOTFOUND" } }, 1);
  assert.equal(dns.message, "could not create a tweets job: the host name could not be resolved; check the network and --api-url, then run again.");
  const shape = new ApiShapeError("GET /2/compliance/jobs/:id (get job 1)", "data.id: expected a 1–19 digit ID");
  assert.equal(shape.exitCode, ExitCode.refused);
  assertOneSentence(shape.message);
});

// ---------------------------------------------------------------------------------------------
// output/terminal.ts

test("terminalPolicy: fancy only on a TTY without NO_COLOR, CI, TERM=dumb, --json or --quiet", () => {
  assert.deepEqual(terminalPolicy({}, {}, true), { fancy: true, quiet: false, verbose: false });
  assert.equal(terminalPolicy({}, {}, false).fancy, false, "non-TTY");
  assert.equal(terminalPolicy({}, { NO_COLOR: "1" }, true).fancy, false, "NO_COLOR");
  assert.equal(terminalPolicy({}, { CI: "true" }, true).fancy, false, "CI");
  assert.equal(terminalPolicy({}, { TERM: "dumb" }, true).fancy, false, "TERM=dumb");
  assert.equal(terminalPolicy({ json: true }, {}, true).fancy, false, "--json");
  assert.deepEqual(terminalPolicy({ quiet: true, verbose: true }, {}, true), { fancy: false, quiet: true, verbose: false }, "--quiet wins over --verbose");
  assert.deepEqual(terminalPolicy({ verbose: true }, { CI: "1" }, false), { fancy: false, quiet: false, verbose: true });
  assert.equal(terminalPolicy({}, { TERM: "xterm-256color" }, true).fancy, true);
});

// ---------------------------------------------------------------------------------------------
// config.ts: where the token comes from (the e2e tests cover .env and the real environment)

test("resolveToken: --token-file, then X_BEARER_TOKEN, then BEARER_TOKEN; blanks do not count", async (t) => {
  const { resolveToken, loadEnv, resolveApiUrl } = await import("../../src/config.js");
  const { mkdtemp, rm, writeFile } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { Readable } = await import("node:stream");
  const dir = await mkdtemp(join(tmpdir(), "compliant-config-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const stdin = Readable.from([]);
  assert.deepEqual(await resolveToken({}, { X_BEARER_TOKEN: " a ", BEARER_TOKEN: "b" }, stdin), { token: "a", source: "X_BEARER_TOKEN" });
  assert.deepEqual(await resolveToken({}, { X_BEARER_TOKEN: "  ", BEARER_TOKEN: "b" }, stdin), { token: "b", source: "BEARER_TOKEN" });
  await writeFile(join(dir, "token"), "from-file\n");
  assert.deepEqual(await resolveToken({ tokenFile: join(dir, "token") }, { X_BEARER_TOKEN: "a" }, stdin), { token: "from-file", source: "--token-file" });
  assert.deepEqual(await resolveToken({ tokenFile: "-" }, {}, Readable.from([Buffer.from("piped\n")])), { token: "piped", source: "--token-file" });
  await assert.rejects(resolveToken({}, { BEARER_TOKEN: "" }, stdin), (e: Error & { exitCode?: number }) => e.exitCode === ExitCode.usage && /^no bearer token found;/.test(e.message));
  await writeFile(join(dir, "empty"), "\n");
  await assert.rejects(resolveToken({ tokenFile: join(dir, "empty") }, {}, stdin), /the token file .* is empty; put your App's bearer token in it\./);
  await assert.rejects(resolveToken({ tokenFile: join(dir, "nope") }, {}, stdin), (e: Error) => /cannot read the token file .*nope: ENOENT/.test(e.message) && !e.message.includes("from-file"));

  await writeFile(join(dir, ".env"), "X_BEARER_TOKEN=file-token\nX_API_BASE_URL=http://127.0.0.1:9/\n");
  assert.deepEqual(loadEnv(dir, { X_BEARER_TOKEN: "real" }), { X_BEARER_TOKEN: "real", X_API_BASE_URL: "http://127.0.0.1:9/" });
  assert.deepEqual(loadEnv(join(dir, "no-such-dir"), { A: "1" }), { A: "1" });
  assert.deepEqual(resolveApiUrl(undefined, { X_API_BASE_URL: "https://api.x.com/" }), { apiUrl: "https://api.x.com", apiOrigin: "https://api.x.com" });
  assert.deepEqual(resolveApiUrl("http://127.0.0.1:8787", { X_API_BASE_URL: "https://api.x.com" }), { apiUrl: "http://127.0.0.1:8787", apiOrigin: "http://127.0.0.1:8787" });
  assert.throws(() => resolveApiUrl("ftp://x", {}), /must start with https:\/\/ or http:\/\//);
});
