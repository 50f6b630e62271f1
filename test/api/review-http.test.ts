// Review of the bounded HTTP layer against hostile local servers: header times no Date can hold,
// an answer body that never ends after an upload, and servers that echo the bearer token back.

import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ApiError } from "../../src/api/errors.js";
import type { HttpOptions } from "../../src/api/http.js";
import type { Job } from "../../src/api/schemas.js";
import { CliError, ExitCode } from "../../src/errors.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { hostileClient, hostileServer, jobJson, rejection, sendJson } from "../helpers/hostile-http.js";
import { endlessBody, tokenOf } from "../helpers/hostile-review.js";

const JOB_ID = "1460694452490674183";
const TOKEN = "review-secret-token";

/** A client for `origin` holding this file's token; backoff sleeps are recorded and skipped. */
const clientFor = (t: TestContext, origin: string, opts: Partial<HttpOptions> = {}) => hostileClient(t, origin, TOKEN, opts);

// ---------------------------------------------------------------------------------------------
// Header times: a value no Date can hold is not a time to wait for (or to print)

test("a 429 whose x-rate-limit-reset is beyond any date is retried with backoff and ends exit 5 with a sentence", async (t) => {
  const server = await hostileServer(t, (_req, res) => sendJson(res, 429, { title: "Too Many Requests" }, { "x-rate-limit-reset": "1e300" }));
  const { api, sleeps } = clientFor(t, server.origin);
  const err = await rejection(api.getJob(JOB_ID));
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.exitCode, ExitCode.transient);
  assert.match(err.message, /^the API rate limit was reached when asked to get job 1460694452490674183 \(429: Too Many Requests\); run again later\.$/);
  assert.equal(server.requests.length, 3);
  assert.ok(sleeps.length === 2 && sleeps.every((ms) => ms <= 100), `backoff sleeps (at least 100 ms each), not a header wait: ${sleeps.join(", ")}`);
});

test("a Retry-After of 1e300 seconds is ignored like any unreadable header, not an internal error", async (t) => {
  const server = await hostileServer(t, (_req, res) => sendJson(res, 429, { title: "Too Many Requests" }, { "retry-after": "1e300" }));
  const { api } = clientFor(t, server.origin);
  const err = await rejection(api.getJob(JOB_ID));
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.exitCode, ExitCode.transient);
  assert.match(err.message, /run again later\.$/);
});

test("status --wait with rate-limit headers whose reset is beyond any date polls at --interval to the end, not exit 1", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const server = await hostileServer(t, (_req, res) => {
    const done = server.requests.length >= 3;
    sendJson(res, 200, { data: jobJson({ status: done ? "complete" : "in_progress" }) }, {
      "x-rate-limit-limit": "5",
      "x-rate-limit-remaining": "0",
      "x-rate-limit-reset": "1e300",
    });
  });
  const r = await runCli(["status", JOB_ID, "--wait", "--interval", "0.05"], { cwd: dir, env: { X_API_BASE_URL: server.origin, X_BEARER_TOKEN: TOKEN } });
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(server.requests.length, 3);
});

// ---------------------------------------------------------------------------------------------
// An upload's answer is bounded like any other answer

for (const resumable of [false, true]) {
  test(`a ${resumable ? "resumable" : "single-PUT"} upload whose answer body never ends is cut at the total deadline`, { timeout: 20_000 }, async (t) => {
    const storage = await hostileServer(t, (req, res) => {
      if (req.method === "POST") {
        res.writeHead(201, { location: `${storage.origin}/session/1` });
        return void res.end();
      }
      // The upload is taken; the answer's body then trickles for ever, well within idle timeouts.
      endlessBody(res, 200);
    });
    const { api } = clientFor(t, storage.origin, { timeouts: { total: 300 } });
    const dir = await tempDir(t);
    const path = join(dir, "ids.txt");
    const bytes = Buffer.from("1160404233650352001\n1160404233650352002\n");
    await writeFile(path, bytes);
    const job = jobJson({ status: "created", resumable, upload_url: `${storage.origin}/upload?upload_id=x` }, storage.origin) as unknown as Job;
    await api.uploadIds(job, { path, start: 0, end: bytes.length });
    assert.equal(storage.requests.filter((r) => r.method === "PUT").length, 1);
  });
}

for (const location of ["file:///etc/passwd", "ftp://127.0.0.1/session?upload_id=s3cret"]) {
  test(`a resumable session Location ${location.split(":")[0]}: is an unusable answer (exit 4), never recorded or retried`, async (t) => {
    const storage = await hostileServer(t, (req, res) => {
      if (req.method === "POST") {
        res.writeHead(201, { location });
        return void res.end();
      }
      res.writeHead(200).end();
    });
    const { api } = clientFor(t, "http://127.0.0.1:1");
    const dir = await tempDir(t);
    const path = join(dir, "ids.txt");
    await writeFile(path, "1160404233650352001\n");
    const job = jobJson({ status: "created", resumable: true, upload_url: `${storage.origin}/upload?upload_id=x` }, storage.origin) as unknown as Job;
    const sessions: string[] = [];
    const err = await rejection(api.uploadIds(job, { path, start: 0, end: 20 }, { onSession: (s) => sessions.push(s) }));
    assert.ok(err instanceof CliError, String(err));
    assert.equal(err.exitCode, ExitCode.refused);
    assert.match(err.message, /start a resumable upload for job 1460694452490674183 .*the session Location is not an http or https URL/);
    assert.ok(!err.message.includes("s3cret"), err.message);
    assert.deepEqual(sessions, [], "an unusable session is not saved for a later run to resume");
    assert.equal(storage.requests.length, 1);
  });
}

// ---------------------------------------------------------------------------------------------
// A server that echoes the token back never gets it printed

test("a bearer token echoed in a problem detail, a non-JSON answer or a Location is never in the message", async (t) => {
  const server = await hostileServer(t, (req, res) => {
    const token = tokenOf(req);
    if (req.url?.endsWith("/1")) return sendJson(res, 403, { title: "Forbidden", detail: `token ${token} is not allowed` });
    if (req.url?.endsWith("/2")) {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(`not json: ${token}`);
    }
    res.writeHead(301, { location: `/moved/${token}?token=${token}` });
    res.end();
  });
  const { api } = clientFor(t, server.origin);
  for (const id of ["1", "2", "3"]) {
    const err = await rejection(api.getJob(id));
    assert.ok(err instanceof ApiError, String(err));
    assert.ok(!err.message.includes(TOKEN), err.message);
    assert.match(err.message, /\[REDACTED\]/);
  }
});

test("with -v, a server echoing the token in its answers never gets it onto stderr or stdout", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const server = await hostileServer(t, (req, res) => {
    const token = tokenOf(req);
    sendJson(res, 400, { title: `Bad ${token}`, detail: `the token ${token} is echoed`, type: `https://api.x.com/2/problems/${token}` });
  });
  const r = await runCli(["-v", "status", JOB_ID], { cwd: dir, env: { X_API_BASE_URL: server.origin, X_BEARER_TOKEN: TOKEN } });
  assert.equal(r.code, ExitCode.refused, r.stderr);
  assert.match(r.stderr, /the token \[REDACTED\] is echoed/);
  assert.ok(!r.stderr.includes(TOKEN) && !r.stdout.includes(TOKEN), r.stderr);
});

test("removing an echoed token never alters an answer the client acts on, even for a one-letter token", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const server = await hostileServer(t, (_req, res) => sendJson(res, 200, { data: jobJson({ status: "complete", name: "tttt" }) }));
  const r = await runCli(["--json", "status", JOB_ID], { cwd: dir, env: { X_API_BASE_URL: server.origin, X_BEARER_TOKEN: "t" } });
  assert.equal(r.code, 0, r.stderr);
  const shown = JSON.parse(r.stdout) as { id?: string; name?: string; data?: { id?: string; name?: string } };
  const job = shown.data ?? shown;
  assert.equal(job.id, JOB_ID);
  assert.equal(job.name, "tttt");
});

// ---------------------------------------------------------------------------------------------
// A streamed body keeps following the run's signal after its request returns

test("SIGTERM during a download whose body never ends stops the run at once with exit 143", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  let seen!: () => void;
  const downloading = new Promise<void>((r) => (seen = r));
  const server = await hostileServer(t, (req, res) => {
    if (!req.url?.startsWith("/download/")) return sendJson(res, 200, { data: jobJson({ status: "complete" }, server.origin) });
    seen();
    endlessBody(res, 200, { "content-type": "application/x-ndjson" });
  });
  const r = await runCli(["download", JOB_ID, "out.ndjson"], {
    cwd: dir,
    env: { X_API_BASE_URL: server.origin, X_BEARER_TOKEN: TOKEN },
    onSpawn: (child) => void downloading.then(() => setTimeout(() => child.kill("SIGTERM"), 200)),
  });
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /compliant: interrupted by SIGTERM/);
});
