// The typed client against the local emulator (no mocked fetch): both upload/download flows,
// where the bearer token goes, the resumable protocol, and the error paths.

import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CancelUnsupportedError, ComplianceApi, RESUMABLE_CHUNK } from "../../src/api/client.js";
import { ApiError, ApiShapeError, NetworkError } from "../../src/api/errors.js";
import type { HttpOptions } from "../../src/api/http.js";
import { ExitCode } from "../../src/errors.js";
import { waitForJob } from "../../src/jobs/poll.js";
import { expectedResultsFile, manualClock, problems, type Emulator, type EmulatorFlow } from "../../src/emulator/server.js";
import { emulatorFor, tempDir } from "../helpers/cli.js";

const FAST_RETRY = { baseBackoffMs: 1, maxBackoffMs: 5, maxAttempts: 5 };

interface Recorded {
  sleeps: number[];
  retries: Array<{ what: string; attempt: number; waitMs: number; reason: string }>;
  rateLimits: Array<{ what: string; waitMs: number; resetAt: number }>;
}

/** A client for `apiUrl`; sleeps are recorded and skipped so retries cost no wall-clock time. */
function clientFor(t: TestContext, apiUrl: string, opts: Partial<HttpOptions> = {}): { api: ComplianceApi; rec: Recorded } {
  const rec: Recorded = { sleeps: [], retries: [], rateLimits: [] };
  const api = new ComplianceApi(apiUrl, {
    apiOrigin: new URL(apiUrl).origin,
    userAgent: "compliant-test",
    retry: FAST_RETRY,
    sleep: async (ms) => {
      rec.sleeps.push(ms);
    },
    onRetry: (i) => rec.retries.push(i),
    onRateLimit: (i) => rec.rateLimits.push(i),
    ...opts,
  });
  t.after(() => api.close());
  return { api, rec };
}

function emuClient(t: TestContext, emu: Emulator, opts: Partial<HttpOptions> = {}) {
  return clientFor(t, emu.apiUrl, { token: emu.token, ...opts });
}

function ids(count: number, base = 1160404233650352000n): string[] {
  return Array.from({ length: count }, (_, i) => (base + BigInt(i)).toString());
}

async function idFile(dir: string, list: string[], name = "ids.txt"): Promise<{ path: string; bytes: Buffer }> {
  const path = join(dir, name);
  const bytes = Buffer.from(list.join("\n") + "\n");
  await writeFile(path, bytes);
  return { path, bytes };
}

async function readAll(body: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function rejectsWith(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail("expected a rejection");
}

for (const flow of ["storage", "api"] as EmulatorFlow[]) {
  test(`${flow} flow: create, get, list, upload, download, and the bearer token only on the API origin`, async (t) => {
    const emu = await emulatorFor(t, { flow });
    const dir = await tempDir(t);
    const { api } = emuClient(t, emu);

    const job = await api.createJob({ type: "tweets", name: "contract" });
    assert.equal(job.type, "tweets");
    assert.equal(job.name, "contract");
    assert.equal(job.status, "created");
    assert.equal(job.resumable, false);
    assert.equal(api.http.isApiOrigin(job.upload_url), flow === "api");
    assert.equal(api.http.isApiOrigin(job.download_url), flow === "api");
    assert.deepEqual(await api.getJob(job.id), job);
    assert.deepEqual((await api.listJobs("tweets")).map((j) => j.id), [job.id]);
    assert.deepEqual(await api.listJobs("users"), [], "an empty list comes back without data");
    assert.deepEqual(await api.listJobs("tweets", "complete"), []);

    const list = ids(250);
    const file = await idFile(dir, list);
    const progress: number[] = [];
    await api.uploadIds(job, { path: file.path, start: 0, end: file.bytes.length }, { onProgress: (sent) => progress.push(sent) });
    assert.equal(progress.at(-1), file.bytes.length);
    const uploads = emu.requests.filter((r) => r.route === "upload");
    assert.equal(uploads.length, 1);
    // Exactly text/plain to signed storage (it is part of the signature); the API's byte path takes octet-stream.
    assert.equal(uploads[0]!.contentType, flow === "api" ? "application/octet-stream" : "text/plain");
    assert.equal(uploads[0]!.contentLength, file.bytes.length);
    assert.equal(uploads[0]!.chunked, false);
    assert.equal(uploads[0]!.status, 200);
    assert.equal(uploads[0]!.origin, flow === "api" ? "api" : "storage");
    assert.equal(uploads[0]!.authorization, flow === "api", "the bearer goes with the upload only on the API origin");

    const done = await api.getJob(job.id);
    assert.equal(done.status, "complete");
    const expected = expectedResultsFile(list, "tweets", flow);
    const whole = await api.openResults(done, 0);
    assert.equal(whole.resumed, false);
    assert.equal(whole.total, Buffer.byteLength(expected));
    assert.equal(await readAll(whole.response.body), expected);
    const part = await api.openResults(done, 100);
    assert.equal(part.resumed, true);
    assert.equal(part.total, Buffer.byteLength(expected));
    assert.equal(await readAll(part.response.body), Buffer.from(expected).subarray(100).toString("utf8"));
    const downloads = emu.requests.filter((r) => r.route === "download");
    assert.equal(downloads.length, 2);
    assert.equal(downloads[1]!.range, "bytes=100-");
    for (const d of downloads) assert.equal(d.authorization, flow === "api");

    // Every request on the API origin carried the token; none on the storage origin did.
    for (const r of emu.requests) assert.equal(r.authorization, r.origin === "api", `${r.method} ${r.route} on ${r.origin}`);
    assert.ok(emu.requests.some((r) => r.origin === (flow === "api" ? "api" : "storage") && r.route === "upload"));
  });
}

test("cancelJob: DELETE on the api flow; the storage flow says it cannot (exit 4)", async (t) => {
  // OpenAPI 2.168: the job becomes failed (there is no cancelled status), and 200 answers it.
  const apiEmu = await emulatorFor(t, { flow: "api" });
  const { api } = emuClient(t, apiEmu);
  const job = await api.createJob({ type: "users" });
  assert.equal(await api.cancelJob(job.id), true);
  assert.equal(apiEmu.jobs()[0]!.status, "failed");
  assert.equal((await api.getJob(job.id)).status, "failed");
  assert.equal(apiEmu.requests.filter((r) => r.route === "cancel" && r.method === "DELETE" && r.authorization).length, 1);
  // The slot is free again.
  await api.createJob({ type: "users" });

  // The older answer, {"data":{"cancelled":…}}: an ended job is not cancelled, and the client says so.
  const oldEmu = await emulatorFor(t, { flow: "api", cancelToFailed: false });
  const { api: old } = emuClient(t, oldEmu);
  const oldJob = await old.createJob({ type: "users" });
  assert.equal(await old.cancelJob(oldJob.id), true);
  assert.equal(oldEmu.jobs()[0]!.status, "expired");
  assert.equal(await old.cancelJob(oldJob.id), false);

  const storageEmu = await emulatorFor(t, { flow: "storage" });
  const { api: storage } = emuClient(t, storageEmu);
  const other = await storage.createJob({ type: "users" });
  const err = await rejectsWith(storage.cancelJob(other.id));
  assert.ok(err instanceof CancelUnsupportedError);
  assert.equal(err.exitCode, ExitCode.refused);
  assert.equal(
    err.message,
    `this API does not support cancelling jobs (404 on DELETE /2/compliance/jobs/${other.id}); the job stays as it is and ends on its own (an unused upload expires after 15 minutes).`,
  );
  assert.equal(storageEmu.requests.filter((r) => r.route === "cancel").length, 1, "a 404 is not retried");
});

test("resumable upload: chunks of n×256 KiB, a dropped connection mid-way resumes, the emulator gets exactly the file", async (t) => {
  const dataDir = await tempDir(t, "compliant-emu-data-");
  const emu = await emulatorFor(t, { dataDir });
  const dir = await tempDir(t);
  const { api } = emuClient(t, emu);
  assert.equal(RESUMABLE_CHUNK % 262_144, 0);

  // A little over one client chunk, so the upload takes two chunks and the second is cut.
  const list = ids(Math.ceil((RESUMABLE_CHUNK + 400_000) / 20));
  const file = await idFile(dir, list);
  const total = file.bytes.length;
  assert.ok(total > RESUMABLE_CHUNK + 300_000);

  const job = await api.createJob({ type: "tweets", resumable: true });
  assert.equal(job.resumable, true);
  // The second chunk PUT on the session dies after 300 000 bytes.
  emu.fault({ match: { route: "resumable-chunk", method: "PUT" }, every: 2, times: 1, action: { type: "drop-upload", afterBytes: 300_000 } });
  const sessions: string[] = [];
  await api.uploadIds(job, { path: file.path, start: 0, end: total }, { onSession: (s) => sessions.push(s) });
  assert.equal(sessions.length, 1);
  assert.ok(sessions[0]!.includes("upload_id="));

  const storage = emu.requests.filter((r) => r.origin === "storage");
  const kept = RESUMABLE_CHUNK + 262_144; // what GCS keeps of the cut chunk: whole 256 KiB units
  assert.deepEqual(
    storage.map((r) => [r.method, r.route, r.contentRange ?? null, r.status]),
    [
      ["POST", "resumable-start", null, 201],
      ["PUT", "resumable-chunk", `bytes 0-${RESUMABLE_CHUNK - 1}/${total}`, 308],
      ["PUT", "resumable-chunk", `bytes ${RESUMABLE_CHUNK}-${total - 1}/${total}`, 0],
      ["PUT", "resumable-chunk", `bytes */${total}`, 308],
      ["PUT", "resumable-chunk", `bytes ${kept}-${total - 1}/${total}`, 200],
    ],
  );
  assert.equal(storage[0]!.contentType, "text/plain");
  assert.equal(storage[0]!.contentLength, 0);
  for (const r of storage) {
    assert.equal(r.authorization, false, "no bearer token on a storage URL");
    assert.equal(r.chunked, false);
  }
  assert.equal(storage[4]!.contentLength, total - kept);

  const stored = await readFile(join(dataDir, `${job.id}.upload`));
  assert.ok(stored.equals(file.bytes), "the emulator holds exactly the file");
  const info = emu.jobs().find((j) => j.id === job.id)!;
  assert.equal(info.status, "in_progress");
  assert.equal(info.uploadedBytes, total);
});

test("resumable upload: a later run continues an existing session from where it stands", async (t) => {
  const emu = await emulatorFor(t);
  const dir = await tempDir(t);
  const { api } = emuClient(t, emu);
  const list = ids(30_000);
  const file = await idFile(dir, list);
  const total = file.bytes.length;
  const job = await api.createJob({ type: "users", resumable: true });
  // First run: every chunk attempt is cut before a whole 256 KiB unit arrives; after five the client gives up.
  emu.fault({ match: { route: "resumable-chunk", method: "PUT" }, times: 100, action: { type: "drop-upload", afterBytes: 1000 } });
  let session: string | undefined;
  const err = await rejectsWith(api.uploadIds(job, { path: file.path, start: 0, end: total }, { onSession: (s) => (session = s) }));
  assert.ok(err instanceof NetworkError, String(err));
  assert.equal(err.exitCode, ExitCode.transient);
  assert.ok(session);
  emu.clearFaults();
  assert.equal(emu.jobs()[0]!.status, "created");

  const before = emu.requests.length;
  await api.uploadIds(job, { path: file.path, start: 0, end: total }, { sessionUri: session });
  const second = emu.requests.slice(before);
  assert.deepEqual(second.map((r) => [r.route, r.contentRange]), [
    ["resumable-chunk", `bytes */${total}`],
    ["resumable-chunk", `bytes 0-${total - 1}/${total}`],
  ], "no new session: ask where it stands, then send the rest");
  assert.equal(emu.jobs()[0]!.status, "in_progress");
  assert.equal(emu.jobs()[0]!.uploadedBytes, total);
});

test("401: wrong token → ApiError exit 3 with an actionable message, not retried", async (t) => {
  const emu = await emulatorFor(t);
  const { api } = clientFor(t, emu.apiUrl, { token: "not-the-token" });
  const err = await rejectsWith(api.listJobs("tweets"));
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 401);
  assert.equal(err.exitCode, ExitCode.auth);
  assert.equal(
    err.message,
    "the API refused the bearer token when asked to list tweets jobs (401 Unauthorized); check that the token (from X_BEARER_TOKEN, BEARER_TOKEN or --token-file) is your App's current bearer token.",
  );
  assert.ok(!err.message.includes("not-the-token"));
  assert.equal(emu.requests.length, 1);
  // No token at all: still 401, and no Authorization header was sent.
  const { api: none } = clientFor(t, emu.apiUrl, {});
  assert.equal(((await rejectsWith(none.getJob("1"))) as ApiError).exitCode, ExitCode.auth);
  assert.equal(emu.requests.at(-1)!.authorization, false);
});

test("403 client-forbidden → exit 3 and the message says to attach the App to a Project", async (t) => {
  const emu = await emulatorFor(t);
  const { api } = emuClient(t, emu);
  emu.fault({ match: { route: "create" }, action: { type: "status", status: 403, body: problems.clientForbidden } });
  const err = await rejectsWith(api.createJob({ type: "tweets" }));
  assert.ok(err instanceof ApiError);
  assert.equal(err.exitCode, ExitCode.auth);
  assert.equal(err.kind, "client-forbidden");
  assert.match(err.message, /not in a Project with compliance access \(403 client-forbidden\); attach the App to a Project \(see https:\/\/developer\.twitter\.com\/en\/account\)/);
  assert.equal(emu.jobs().length, 0);
});

test("409: a second active job of the same type is a conflict (exit 4), not retried", async (t) => {
  const emu = await emulatorFor(t);
  const { api } = emuClient(t, emu);
  const first = await api.createJob({ type: "tweets" });
  const err = await rejectsWith(api.createJob({ type: "tweets" }));
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 409);
  assert.equal(err.kind, "conflict");
  assert.equal(err.exitCode, ExitCode.refused);
  assert.match(err.message, /^the API refused to create a tweets job because a job of this type is already active \(409 conflict\)/);
  assert.equal(emu.requests.filter((r) => r.route === "create").length, 2);
  // The other type is independent.
  const users = await api.createJob({ type: "users" });
  assert.deepEqual(emu.jobs().map((j) => j.id).sort(), [first.id, users.id].sort());
});

test("429 with a reset: waits until the reset, then succeeds (GET and the non-idempotent POST)", async (t) => {
  const emu = await emulatorFor(t);
  const { api, rec } = emuClient(t, emu);
  emu.fault({ match: { route: "list" }, action: { type: "rate-limit", resetInSeconds: 1 } });
  assert.deepEqual(await api.listJobs("tweets"), []);
  assert.equal(emu.requests.filter((r) => r.route === "list").map((r) => r.status).join(","), "429,200");
  assert.equal(rec.rateLimits.length, 1);
  assert.equal(rec.rateLimits[0]!.what, "list tweets jobs");
  // Until x-rate-limit-reset (1–2 s ahead) plus one second of slack.
  assert.ok(rec.rateLimits[0]!.waitMs >= 1000 && rec.rateLimits[0]!.waitMs <= 3000, String(rec.rateLimits[0]!.waitMs));
  assert.deepEqual(rec.sleeps, [rec.rateLimits[0]!.waitMs]);
  assert.equal(rec.retries.length, 0);

  // A 429 on POST means nothing was created, so it is repeated after the reset.
  emu.fault({ match: { route: "create" }, action: { type: "rate-limit", resetInSeconds: 1 } });
  const job = await api.createJob({ type: "tweets" });
  assert.equal(emu.requests.filter((r) => r.route === "create").map((r) => r.status).join(","), "429,200");
  assert.deepEqual(emu.jobs().map((j) => j.id), [job.id]);
});

test("429 whose reset is too far away: exit 5 with the time to run again", async (t) => {
  const emu = await emulatorFor(t);
  const { api, rec } = emuClient(t, emu, { retry: { ...FAST_RETRY, maxRateLimitWaitMs: 500 } });
  emu.fault({ match: { route: "get" }, action: { type: "rate-limit", resetInSeconds: 60 } });
  const err = await rejectsWith(api.getJob("1460694452490674183"));
  assert.ok(err instanceof ApiError);
  assert.equal(err.exitCode, ExitCode.transient);
  assert.match(err.message, /^the API rate limit was reached when asked to get job 1460694452490674183 \(429: Too Many Requests\); run again after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.$/);
  assert.equal(rec.sleeps.length, 0);
});

test("5xx is retried with backoff, and reported with the attempts when it persists", async (t) => {
  const emu = await emulatorFor(t);
  const { api, rec } = emuClient(t, emu);
  const job = await api.createJob({ type: "tweets" });
  emu.fault({ match: { route: "get" }, times: 2, action: { type: "status", status: 503 } });
  assert.equal((await api.getJob(job.id)).id, job.id);
  assert.deepEqual(emu.requests.filter((r) => r.route === "get").map((r) => r.status), [503, 503, 200]);
  assert.deepEqual(rec.retries.map((r) => [r.attempt, r.reason, r.what]), [
    [1, "HTTP 503", `get job ${job.id}`],
    [2, "HTTP 503", `get job ${job.id}`],
  ]);
  assert.deepEqual(rec.sleeps, [100, 100], "FAST_RETRY backoff is the 100 ms floor");

  const { api: three } = emuClient(t, emu, { retry: { ...FAST_RETRY, maxAttempts: 3 } });
  emu.fault({ match: { route: "list" }, times: 10, action: { type: "status", status: 500 } });
  const err = await rejectsWith(three.listJobs("users"));
  assert.ok(err instanceof ApiError);
  assert.equal(err.exitCode, ExitCode.transient);
  assert.equal(err.message, "the API failed to list users jobs after 3 attempts (500: Internal Server Error); this is temporary, so run again later.");
  assert.equal(emu.requests.filter((r) => r.route === "list").length, 3);

  // A 5xx on POST /2/compliance/jobs is ambiguous (the job may exist): not repeated blindly.
  emu.clearFaults();
  emu.fault({ match: { route: "create" }, action: { type: "status", status: 503 } });
  const post = await rejectsWith(api.createJob({ type: "users" }));
  assert.equal((post as ApiError).exitCode, ExitCode.transient);
  assert.equal(emu.requests.filter((r) => r.route === "create").length, 2);
});

test("usage cap (429 usage-capped) is not retried: exit 4", async (t) => {
  const emu = await emulatorFor(t);
  const { api, rec } = emuClient(t, emu);
  emu.fault({ match: { route: "list" }, action: { type: "usage-cap" } });
  const err = await rejectsWith(api.listJobs("tweets"));
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 429);
  assert.equal(err.kind, "usage-capped");
  assert.equal(err.exitCode, ExitCode.refused);
  assert.equal(
    err.message,
    "the API refused to list tweets jobs because the usage cap is exhausted (429 usage-capped: Usage cap exceeded: Monthly product cap); wait for the next monthly period or raise the cap.",
  );
  assert.equal(emu.requests.length, 1);
  assert.equal(rec.sleeps.length + rec.retries.length + rec.rateLimits.length, 0);
});

test("unknown job id: the message suggests `compliant list` (both flows)", async (t) => {
  for (const flow of ["storage", "api"] as EmulatorFlow[]) {
    const emu = await emulatorFor(t, { flow });
    const { api } = emuClient(t, emu);
    const err = await rejectsWith(api.getJob("1234567890123456789"));
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 404);
    assert.equal(err.exitCode, ExitCode.refused);
    assert.equal(
      err.message,
      "the API found nothing to get job 1234567890123456789 (404 resource-not-found: Could not find compliance job with id: [1234567890123456789]); run `compliant list` to see your jobs.",
    );
  }
});

test("an expired upload URL: storage says ExpiredToken (exit 4), the token is still not sent there", async (t) => {
  const clock = manualClock(Date.UTC(2026, 0, 1));
  const emu = await emulatorFor(t, { clock });
  const dir = await tempDir(t);
  const { api } = emuClient(t, emu);
  const job = await api.createJob({ type: "tweets" });
  clock.advance(16 * 60_000);
  const file = await idFile(dir, ids(3));
  const err = await rejectsWith(api.uploadIds(job, { path: file.path, start: 0, end: file.bytes.length }));
  assert.ok(err instanceof ApiError);
  assert.equal(err.storage?.code, "ExpiredToken");
  assert.equal(err.exitCode, ExitCode.refused);
  assert.match(err.message, /signed URL expired \(400 ExpiredToken\)/);
  assert.ok(!err.message.includes("X-Goog-Signature="));
  assert.equal(emu.requests.filter((r) => r.route === "upload").length, 1, "a 400 is not retried");
  assert.equal(emu.requests.find((r) => r.route === "upload")!.authorization, false);
});

test("upload of a byte range sends exactly those bytes", async (t) => {
  const dataDir = await tempDir(t, "compliant-emu-data-");
  const emu = await emulatorFor(t, { dataDir, flow: "api" });
  const dir = await tempDir(t);
  const { api } = emuClient(t, emu);
  const list = ids(100);
  const file = await idFile(dir, list);
  const start = 20 * 10; // line-aligned: 10 IDs of 19 digits + LF
  const end = 20 * 60;
  const job = await api.createJob({ type: "tweets" });
  await api.uploadIds(job, { path: file.path, start, end });
  const upload = emu.requests.find((r) => r.route === "upload")!;
  assert.equal(upload.contentLength, end - start);
  assert.equal(upload.contentType, "application/octet-stream");
  assert.equal(upload.authorization, true);
  assert.ok((await readFile(join(dataDir, `${job.id}.upload`))).equals(file.bytes.subarray(start, end)));
});

// A plain local server for what the emulator never does.
async function serve(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test("a redirect is not followed, so the token cannot leak to another origin", async (t) => {
  const other = await serve(t, (_req, res) => res.end("{}"));
  const api = await serve(t, (_req, res) => {
    res.writeHead(302, { location: `${other.url}/2/compliance/jobs?type=tweets` });
    res.end();
  });
  const { api: client } = clientFor(t, api.url, { token: "redirect-secret" });
  const err = await rejectsWith(client.listJobs("tweets"));
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 302);
  assert.equal(api.seen[0]!.headers.authorization, "Bearer redirect-secret");
  assert.equal(other.seen.length, 0);
});

test("a 200 with a body of the wrong shape is an ApiShapeError (exit 4)", async (t) => {
  const bad = { data: { id: 12, type: "tweets", status: "created" } };
  const server = await serve(t, (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(bad));
  });
  const { api } = clientFor(t, server.url, { token: "x" });
  const err = await rejectsWith(api.getJob("12"));
  assert.ok(err instanceof ApiShapeError);
  assert.equal(err.exitCode, ExitCode.refused);
  assert.match(err.message, /^the API answered GET \/2\/compliance\/jobs\/:id \(get job 12\) with data this client does not understand \(data\.id: /);
});

test("connection refused: retried, then NetworkError exit 5", async (t) => {
  // Nothing listens on port 1.
  const { api, rec } = clientFor(t, "http://127.0.0.1:1", { token: "x", retry: { ...FAST_RETRY, maxAttempts: 3 } });
  const err = await rejectsWith(api.listJobs("tweets"));
  assert.ok(err instanceof NetworkError, String(err));
  assert.equal(err.exitCode, ExitCode.transient);
  assert.equal(err.message, "could not list tweets jobs after 3 attempts: the connection was refused; check the network and --api-url, then run again.");
  assert.equal(rec.retries.length, 2);
});

test("rate-limit headers are recorded per endpoint, and polling stretches to fit the budget", async (t) => {
  const emu = await emulatorFor(t, { rateLimit: { limit: 5, windowSeconds: 900 }, pollsToComplete: 4 });
  const dir = await tempDir(t);
  const { api } = emuClient(t, emu);
  const job = await api.createJob({ type: "tweets" });
  const file = await idFile(dir, ids(3));
  await api.uploadIds(job, { path: file.path, start: 0, end: file.bytes.length });
  await api.getJob(job.id);
  // The key keeps the API version: `/2/`, not an id.
  assert.deepEqual([...api.http.rateLimits.keys()].sort(), ["GET /2/compliance/jobs/:id", "POST /2/compliance/jobs"]);
  const budget = api.http.rateLimits.get("GET /2/compliance/jobs/:id")!;
  assert.equal(budget.limit, 5);
  assert.equal(budget.remaining, 4);
  assert.ok(budget.resetAt! > Date.now());

  const delays: number[] = [];
  const slowDowns: number[] = [];
  const done = await waitForJob(api, job.id, {
    intervalMs: 50,
    sleep: async (ms) => {
      delays.push(ms);
    },
    onSlowDown: (ms) => slowDowns.push(ms),
  });
  assert.equal(done.status, "complete");
  // 3, then 2 left of 5 in a 900 s window: spread over the time to the reset, never faster.
  assert.equal(delays.length, 2);
  for (const ms of delays) assert.ok(ms > 200_000, `polling stretched to ${ms} ms`);
  assert.deepEqual(slowDowns, delays);
  assert.ok(!emu.requests.some((r) => r.status === 429), "polling never ran into the limit");
});

test("a JSON body cut mid-read is retried for GETs and reported as a network failure for POSTs", async (t) => {
  const emu = await emulatorFor(t);
  const { api, rec } = emuClient(t, emu);
  const job = await api.createJob({ type: "tweets" });
  emu.fault({ match: { route: "get" }, action: { type: "cut-body", afterBytes: 20 } });
  const again = await api.getJob(job.id);
  assert.equal(again.id, job.id);
  assert.equal(emu.requests.filter((r) => r.route === "get").length, 2, "one cut read, one retry");
  assert.ok(rec.retries.length >= 1, "the retry was reported");

  emu.fault({ match: { route: "create" }, action: { type: "cut-body", afterBytes: 20 } });
  await assert.rejects(api.createJob({ type: "users" }), (err: unknown) => {
    assert.ok(err instanceof NetworkError);
    assert.equal(err.exitCode, ExitCode.transient);
    return true;
  });
  assert.equal(emu.requests.filter((r) => r.route === "create").length, 2, "the POST is not repeated");
});
