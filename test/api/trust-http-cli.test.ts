// The real binary against hostile local API servers: polling and waits stay bounded, --timeout
// and signals cut a request in flight, and the exit code says what happened.

import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/cli.js";
import { hostileServer, jobJson, sendJson, trickle } from "../helpers/hostile-http.js";

const JOB_ID = "1460694452490674183";
const THIRTY_DAYS_S = 30 * 24 * 3600;

function env(origin: string): Record<string, string> {
  return { X_API_BASE_URL: origin, X_BEARER_TOKEN: "hostile-cli-token" };
}

test("rate-limit headers announcing a reset 30 days ahead end polling with exit 5, not a 1 ms poll flood", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const server = await hostileServer(t, (_req, res) => {
    // Bounded so the old flood ends (with a wrong exit 0) instead of running for ever.
    const done = server.requests.length > 200;
    sendJson(res, 200, { data: jobJson({ status: done ? "complete" : "in_progress" }) }, {
      "x-rate-limit-limit": "5",
      "x-rate-limit-remaining": "0",
      "x-rate-limit-reset": String(Math.floor(Date.now() / 1000) + THIRTY_DAYS_S),
    });
  });
  const r = await runCli(["status", JOB_ID, "--wait", "--interval", "0.05"], { cwd: dir, env: env(server.origin) });
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /compliant: the API's rate limit allows the next status poll of job 1460694452490674183 only after \d{4}-\d\d-\d\dT[\d:]+Z, more than 16 minutes away; run `compliant status 1460694452490674183 --wait` again later\./);
  assert.ok(server.requests.length <= 3, `${server.requests.length} requests`);
});

test("a 429 whose x-rate-limit-reset is 30 days ahead ends with exit 5 after few requests", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const server = await hostileServer(t, (_req, res) => {
    if (server.requests.length > 200) return sendJson(res, 200, { data: jobJson({ status: "complete" }) });
    sendJson(res, 429, { title: "Too Many Requests", type: "about:blank" }, { "x-rate-limit-reset": String(Math.floor(Date.now() / 1000) + THIRTY_DAYS_S) });
  });
  const r = await runCli(["status", JOB_ID, "--wait", "--interval", "0.05"], { cwd: dir, env: env(server.origin) });
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /compliant: the API rate limit was reached when asked to get job 1460694452490674183 \(429: Too Many Requests\); run again after \d{4}-/);
  assert.ok(server.requests.length <= 2, `${server.requests.length} requests`);
});

test("a Retry-After far in the future is capped like a rate-limit reset: exit 5, one request", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const server = await hostileServer(t, (_req, res) => {
    if (server.requests.length > 200) return sendJson(res, 200, { data: jobJson({ status: "complete" }) });
    sendJson(res, 429, { title: "Too Many Requests" }, { "retry-after": String(THIRTY_DAYS_S * 1000) });
  });
  const r = await runCli(["status", JOB_ID], { cwd: dir, env: env(server.origin) });
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /rate limit was reached when asked to get job/);
  assert.equal(server.requests.length, 1);
});

test("--interval and --timeout outside their documented ranges are usage errors (exit 2) before any request", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const server = await hostileServer(t, (_req, res) => sendJson(res, 200, { data: jobJson() }));
  const cases: Array<[string[], RegExp]> = [
    [["status", JOB_ID, "--wait", "--interval", "2200000"], /--interval must be a number of seconds from 0\.01 to 3600, like 30 or 0\.5/],
    [["status", JOB_ID, "--wait", "--interval", "0.001"], /--interval must be a number of seconds from 0\.01 to 3600/],
    [["all", "-t", "tweets", "-i", "ids.txt", "-o", "r.ndjson", "--interval", "3601"], /--interval must be a number of seconds from 0\.01 to 3600/],
    [["status", JOB_ID, "--wait", "--timeout", "2200000"], /--timeout must be a number of seconds from 0\.01 to 604800 \(7 days\)/],
    [["all", "-t", "tweets", "-i", "ids.txt", "-o", "r.ndjson", "--timeout", "1000000000"], /--timeout must be a number of seconds from 0\.01 to 604800/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args, { cwd: dir, env: env(server.origin) });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
  }
  assert.equal(server.requests.length, 0);
});

test("status --wait --timeout 3 against a server trickling one byte per second exits 7 with the resume hint", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const server = await hostileServer(t, (_req, res) => {
    const body = JSON.stringify({ data: jobJson() });
    // The lookup answers at once; every poll after it trickles.
    if (server.requests.length === 1) return sendJson(res, 200, JSON.parse(body));
    trickle(res, 200, body, 1000);
  });
  const r = await runCli(["status", JOB_ID, "--wait", "--timeout", "3", "--interval", "0.05"], { cwd: dir, env: env(server.origin) });
  assert.equal(r.code, 7, r.stderr);
  assert.match(r.stderr, /compliant: job 1460694452490674183 is still in_progress after the 3 s timeout; run `compliant status 1460694452490674183 --wait` to keep waiting\./);
  assert.ok(server.requests.length <= 3, `${server.requests.length} requests`);
});

test("SIGTERM during a trickling request stops the run at once with exit 143", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  let seen!: () => void;
  const requested = new Promise<void>((r) => (seen = r));
  const server = await hostileServer(t, (_req, res) => {
    seen();
    trickle(res, 200, JSON.stringify({ data: jobJson() }), 1000);
  });
  const r = await runCli(["status", JOB_ID], {
    cwd: dir,
    env: env(server.origin),
    onSpawn: (child) => void requested.then(() => setTimeout(() => child.kill("SIGTERM"), 200)),
  });
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /compliant: interrupted by SIGTERM/);
  assert.equal(server.requests.length, 1);
});

test("an oversized job answer and a file: upload URL are unusable responses: exit 4 with a sentence", { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const server = await hostileServer(t, (req, res) => {
    if (req.url!.includes("1460694452490674184")) return sendJson(res, 200, { data: jobJson({ id: "1460694452490674184", upload_url: "file:///etc/passwd" }) });
    sendJson(res, 200, { data: jobJson({ name: "n".repeat(2 * 1024 * 1024) }) });
  });
  const big = await runCli(["status", JOB_ID], { cwd: dir, env: env(server.origin) });
  assert.equal(big.code, 4, big.stderr);
  assert.equal(
    withoutApiNotice(big.stderr),
    "compliant: the API answered GET /2/compliance/jobs/:id (get job 1460694452490674183) with data this client does not understand (the body is more than 1 MiB, far more than any job or job list); please report it with --verbose output.\n",
  );
  const file = await runCli(["status", "1460694452490674184"], { cwd: dir, env: env(server.origin) });
  assert.equal(file.code, 4, file.stderr);
  assert.match(withoutApiNotice(file.stderr), /^compliant: the API answered GET \/2\/compliance\/jobs\/:id \(get job 1460694452490674184\) with data this client does not understand \(data\.upload_url: expected an http or https URL, not file: \(file:\/\/\/etc\/passwd\)\)/);
  assert.equal(file.stdout, "");
});

/** Drops the one "using the API at …" notice a non-default API URL adds to stderr. */
function withoutApiNotice(stderr: string): string {
  return stderr.replace(/^\S+ using the API at .*\n/m, "");
}
