// The HTTP layer against hostile local servers: every wait, loop and body is bounded, the token
// goes only where the client itself decided, and unusable answers are exit 4 with a sentence.

import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ApiError, ApiShapeError, NetworkError } from "../../src/api/errors.js";
import type { HttpOptions } from "../../src/api/http.js";
import { MAX_TIMER_MS, sleep } from "../../src/api/timers.js";
import type { Job } from "../../src/api/schemas.js";
import { CliError, ExitCode } from "../../src/errors.js";
import { tempDir } from "../helpers/cli.js";
import { flood, hostileClient, hostileServer, jobJson, rejection, sendJson, trickle } from "../helpers/hostile-http.js";

const JOB_ID = "1460694452490674183";
const TOKEN = "hostile-test-token";

/** A client for `origin` holding this file's token; backoff sleeps are recorded and skipped. */
const clientFor = (t: TestContext, origin: string, opts: Partial<HttpOptions> = {}) => hostileClient(t, origin, TOKEN, opts);

// ---------------------------------------------------------------------------------------------
// 12: timers never overflow

test("a sleep longer than Node's timer limit does not fire after 1 ms", async () => {
  const ac = new AbortController();
  let done = false;
  const pending = sleep(MAX_TIMER_MS + 60_000, ac.signal).then(
    () => (done = true),
    () => undefined,
  );
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(done, false, "a 24.9-day sleep must still be pending");
  ac.abort();
  await pending;
  assert.equal(done, false);
});

// ---------------------------------------------------------------------------------------------
// 13: resumable uploads must make progress

async function resumableJob(t: TestContext, storageHandler: Parameters<typeof hostileServer>[1]) {
  const api = await hostileServer(t, (_req, res) => sendJson(res, 404, { title: "not found" }));
  const storage = await hostileServer(t, storageHandler);
  const { api: client, sleeps } = clientFor(t, api.origin);
  const dir = await tempDir(t);
  const path = join(dir, "ids.txt");
  const bytes = Buffer.from("1160404233650352001\n1160404233650352002\n");
  await writeFile(path, bytes);
  const job = jobJson({ status: "created", resumable: true, upload_url: `${storage.origin}/upload?upload_id=x` }, storage.origin) as unknown as Job;
  return { api, storage, client, sleeps, job, source: { path, start: 0, end: bytes.length } };
}

test("a resumable upload whose 308 never advances Range backs off and ends with exit 5, not a PUT flood", { timeout: 20_000 }, async (t) => {
  const { storage, client, sleeps, job, source } = await resumableJob(t, (req, res) => {
    if (req.method === "POST") {
      res.writeHead(201, { location: `${storage.origin}/session/1` });
      return void res.end();
    }
    const puts = storage.requests.filter((r) => r.method === "PUT").length;
    // The old loop never ends; give up after many PUTs so the test fails instead of hanging.
    if (puts > 500) return void res.writeHead(200).end();
    res.writeHead(308, puts % 2 ? { range: "bytes=0-0" } : {});
    res.end();
  });
  const err = await rejection(client.uploadIds(job, source));
  assert.ok(err instanceof CliError, String(err));
  assert.equal(err.exitCode, ExitCode.transient);
  assert.match(err.message, /storage accepted no new bytes .*upload IDs for job 1460694452490674183.* run again later/);
  const puts = storage.requests.filter((r) => r.method === "PUT").length;
  assert.ok(puts <= 10, `${puts} PUTs`);
  assert.ok(sleeps.length >= 3, "it backs off between attempts that made no progress");
});

test("a resumable 308 claiming bytes that were never sent is an unusable answer (exit 4)", async (t) => {
  const { storage, client, job, source } = await resumableJob(t, (req, res) => {
    if (req.method === "POST") {
      res.writeHead(201, { location: `${storage.origin}/session/1` });
      return void res.end();
    }
    if (storage.requests.filter((r) => r.method === "PUT").length > 50) return void res.writeHead(200).end();
    res.writeHead(308, { range: "bytes=0-999999" });
    res.end();
  });
  const err = await rejection(client.uploadIds(job, source));
  assert.ok(err instanceof CliError, String(err));
  assert.equal(err.exitCode, ExitCode.refused);
  assert.match(err.message, /bytes=0-999999/);
  assert.equal(storage.requests.filter((r) => r.method === "PUT").length, 1);
});

// ---------------------------------------------------------------------------------------------
// 14: every API request has a total deadline; error bodies are capped

test("a JSON request that trickles one byte per second is cut at its total deadline and retried a bounded number of times", { timeout: 20_000 }, async (t) => {
  const server = await hostileServer(t, (_req, res) => trickle(res, 200, JSON.stringify({ data: jobJson() }), 100));
  const { api } = clientFor(t, server.origin, { timeouts: { total: 300 } });
  const err = await rejection(api.getJob(JOB_ID));
  assert.ok(err instanceof NetworkError, String(err));
  assert.equal(err.exitCode, ExitCode.transient);
  assert.match(err.message, /could not get job 1460694452490674183 after 3 attempts: the server did not finish answering within 0\.3 s/);
  assert.equal(server.requests.length, 3);
});

test("an endless error body is read only up to its cap", { timeout: 20_000 }, async (t) => {
  const server = await hostileServer(t, (_req, res, s) => flood(res, s, 400, '{"title":"x","detail":"' + "y".repeat(4096)));
  const { api } = clientFor(t, server.origin);
  const err = await rejection(api.getJob(JOB_ID));
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.status, 400);
  assert.equal(err.exitCode, ExitCode.refused);
  // The server writes ahead into socket buffers, but never much beyond the cap.
  assert.ok(server.written.bytes < 8 * 1024 * 1024, `${server.written.bytes} bytes written`);
});

test("an error body that trickles is abandoned at the deadline and the status still decides", { timeout: 20_000 }, async (t) => {
  const server = await hostileServer(t, (_req, res) => trickle(res, 404, JSON.stringify({ title: "Not Found", detail: "z".repeat(1000) }), 100));
  const { api } = clientFor(t, server.origin, { timeouts: { total: 300 } });
  const err = await rejection(api.getJob(JOB_ID));
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.status, 404);
  assert.equal(err.exitCode, ExitCode.refused);
});

// ---------------------------------------------------------------------------------------------
// 15: API JSON bodies are capped

for (const framing of ["content-length", "chunked"] as const) {
  test(`an oversized JSON answer (${framing}) is an unusable response, exit 4, not a memory blow-up`, { timeout: 20_000 }, async (t) => {
    const big = JSON.stringify({ data: jobJson({ name: "n".repeat(8 * 1024 * 1024) }) });
    const server = await hostileServer(t, (_req, res, s) => {
      if (framing === "content-length") return sendJson(res, 200, JSON.parse(big));
      flood(res, s, 200, big.slice(0, 64 * 1024), "application/json");
    });
    const { api } = clientFor(t, server.origin);
    const err = await rejection(api.getJob(JOB_ID));
    assert.ok(err instanceof ApiShapeError, String(err));
    assert.equal(err.exitCode, ExitCode.refused);
    assert.match(err.message, /get job 1460694452490674183.*more than 1 MiB/);
    assert.equal(server.requests.length, 1, "an oversized answer is not retried");
    if (framing === "chunked") assert.ok(server.written.bytes < 16 * 1024 * 1024, `${server.written.bytes} bytes written`);
  });
}

// ---------------------------------------------------------------------------------------------
// 20: the token goes only to requests the client itself authorised

test("a resumable session Location on the API origin never receives the bearer token", async (t) => {
  const apiServer = await hostileServer(t, (req, res) => {
    if (req.method === "PUT") return void res.writeHead(200).end();
    sendJson(res, 404, { title: "not found" });
  });
  const storage = await hostileServer(t, (req, res) => {
    // The storage origin points the session at an API path of its choosing.
    res.writeHead(201, { location: `${apiServer.origin}/2/compliance/jobs/${JOB_ID}/steal` });
    res.end();
  });
  const { api } = clientFor(t, apiServer.origin);
  const dir = await tempDir(t);
  const path = join(dir, "ids.txt");
  await writeFile(path, "1160404233650352001\n");
  const job = jobJson({ status: "created", resumable: true, upload_url: `${storage.origin}/upload?upload_id=x` }, storage.origin) as unknown as Job;
  await api.uploadIds(job, { path, start: 0, end: 20 });
  const puts = apiServer.requests.filter((r) => r.method === "PUT");
  assert.equal(puts.length, 1);
  assert.equal(puts[0]!.headers.authorization, undefined, "the session URL is the storage's choice: no token");
  assert.equal(storage.requests[0]!.headers.authorization, undefined);
});

test("API paths the client builds, and the job's own API-origin upload URL, carry the token", async (t) => {
  const server = await hostileServer(t, (req, res) => {
    if (req.method === "PUT") return void res.writeHead(200).end();
    sendJson(res, 200, { data: jobJson({ status: "created", upload_url: `${server.origin}/2/compliance/jobs/${JOB_ID}/upload` }, server.origin) });
  });
  const { api } = clientFor(t, server.origin);
  const job = await api.getJob(JOB_ID);
  const dir = await tempDir(t);
  const path = join(dir, "ids.txt");
  await writeFile(path, "1160404233650352001\n");
  await api.uploadIds(job, { path, start: 0, end: 20 });
  assert.deepEqual(
    server.requests.map((r) => [r.method, r.headers.authorization]),
    [
      ["GET", `Bearer ${TOKEN}`],
      ["PUT", `Bearer ${TOKEN}`],
    ],
  );
});

// ---------------------------------------------------------------------------------------------
// 21: upload/download URLs must be http(s)

for (const [field, url] of [
  ["upload_url", "file:///etc/passwd"],
  ["download_url", "data:text/plain,1160404233650352001"],
  ["upload_url", "ftp://files.example.test/up?X-Goog-Signature=s3cr3t"],
] as const) {
  test(`a job whose ${field} is ${url.split(":")[0]}: is an unusable response (exit 4) naming the redacted URL`, async (t) => {
    const server = await hostileServer(t, (_req, res) => sendJson(res, 200, { data: jobJson({ [field]: url }) }));
    const { api } = clientFor(t, server.origin);
    const err = await rejection(api.getJob(JOB_ID));
    assert.ok(err instanceof ApiShapeError, String(err));
    assert.equal(err.exitCode, ExitCode.refused);
    assert.match(err.message, new RegExp(`data\\.${field}: expected an http or https URL, not ${url.split(":")[0]}:`));
    assert.doesNotMatch(err.message, /s3cr3t/);
    if (url.startsWith("ftp")) assert.match(err.message, /ftp:\/\/files\.example\.test\/up\?X-Goog-Signature=REDACTED/);
    if (url.startsWith("file")) assert.match(err.message, /file:\/\/\/etc\/passwd/);
  });
}

// ---------------------------------------------------------------------------------------------
// 25: redirects and large problem bodies

test("a 3xx answer names the redacted Location and says which --api-url to use", async (t) => {
  const server = await hostileServer(t, (_req, res) => {
    res.writeHead(301, { location: "https://api.example.test/2/compliance/jobs?type=tweets&token=abc" });
    res.end();
  });
  const { api } = clientFor(t, server.origin);
  const err = await rejection(api.listJobs("tweets"));
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.exitCode, ExitCode.refused);
  assert.match(err.message, /answered 301 \(a redirect to https:\/\/api\.example\.test\/2\/compliance\/jobs\?type=tweets&token=REDACTED\)/);
  assert.match(err.message, /use --api-url https:\/\/api\.example\.test/);
  assert.doesNotMatch(err.message, /abc/);
});

test("a redirect from storage is not followed and says to fetch the job again", async (t) => {
  const storage = await hostileServer(t, (_req, res) => {
    res.writeHead(302, { location: "/elsewhere?X-Goog-Signature=s3cr3t" });
    res.end();
  });
  const api = await hostileServer(t, (_req, res) => sendJson(res, 404, {}));
  const { api: client } = clientFor(t, api.origin);
  const dir = await tempDir(t);
  const path = join(dir, "ids.txt");
  await writeFile(path, "1160404233650352001\n");
  const job = jobJson({ status: "created", upload_url: `${storage.origin}/upload` }, storage.origin) as unknown as Job;
  const err = await rejection(client.uploadIds(job, { path, start: 0, end: 20 }));
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.exitCode, ExitCode.refused);
  assert.equal(
    err.message,
    `storage answered 302 (a redirect to ${storage.origin}/elsewhere?X-Goog-Signature=REDACTED) when asked to upload IDs for job ${JOB_ID}; compliant does not follow redirects of signed URLs, so fetch the job again with \`compliant status\` and retry.`,
  );
  assert.equal(storage.requests.length, 1);
  assert.equal(api.requests.length, 0);
});

test("a problem body cut at the error-body cap still gives its leading title and detail", { timeout: 20_000 }, async (t) => {
  const head = JSON.stringify({ type: "https://api.x.com/2/problems/invalid-request", title: "Invalid Request", detail: "the name is too long" }).slice(0, -1);
  const server = await hostileServer(t, (_req, res, s) => flood(res, s, 400, "p".repeat(4096), "application/problem+json", `${head},"padding":"`));
  const { api } = clientFor(t, server.origin);
  const err = await rejection(api.getJob(JOB_ID));
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.problem?.title, "Invalid Request");
  assert.match(err.message, /\(400: the name is too long\)/);
});

test("a problem body over 64 KiB keeps its title and detail", async (t) => {
  const problem = { type: "https://api.x.com/2/problems/invalid-request", padding: "p".repeat(100 * 1024), title: "Invalid Request", detail: "the name is too long" };
  const server = await hostileServer(t, (_req, res) => sendJson(res, 400, problem, { "content-type": "application/problem+json" }));
  const { api } = clientFor(t, server.origin);
  const err = await rejection(api.getJob(JOB_ID));
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.problem?.title, "Invalid Request");
  assert.match(err.message, /\(400: the name is too long\)/);
});
