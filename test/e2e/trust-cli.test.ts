// Results you can trust, at the CLI's edges: how it is started, what it does when stdout goes
// away, which stdin and token it accepts, which API it talks to, and what it shows a person.
// Everything runs the real binary against the emulator or a hostile local server (127.0.0.1).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, open, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { ComplianceApi } from "../../src/api/client.js";
import type { Job } from "../../src/api/schemas.js";
import { resolveApiUrl } from "../../src/config.js";
import { EXIT_CODE_HELP, systemError } from "../../src/errors.js";
import type { Emulator } from "../../src/emulator/server.js";
import { BIN, cleanEnv, emuEnv, emulatorFor, runCli, tempDir, type CliResult } from "../helpers/cli.js";
import { sampleIds } from "../emulator/helpers.js";
import { HOSTILE_JOB_ID, hostileApi } from "../helpers/hostile-cli.js";

const show = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

async function world(t: TestContext) {
  const dir = await tempDir(t, "compliant-trust-");
  const emu = await emulatorFor(t, { rateLimit: { limit: 1_000_000, windowSeconds: 900 } });
  const api = new ComplianceApi(emu.apiUrl, { apiOrigin: emu.apiUrl, token: emu.token, userAgent: "compliant-test" });
  t.after(() => api.close());
  return { dir, emu, api };
}

/** A complete job with `count` IDs uploaded through the client (not the CLI). */
async function completeJob(dir: string, api: ComplianceApi, count: number): Promise<Job> {
  const job = await api.createJob({ type: "tweets", name: "setup" });
  const text = sampleIds(count).join("\n") + "\n";
  const path = join(dir, `setup-${job.id}.txt`);
  await writeFile(path, text);
  await api.uploadIds(job, { path, start: 0, end: Buffer.byteLength(text) });
  for (let i = 0; i < 20; i++) {
    const j = await api.getJob(job.id);
    if (j.status === "complete") return j;
  }
  throw new Error("the setup job did not complete");
}

const apiRequests = (emu: Emulator) => emu.requests.filter((r) => r.origin === "api");

// --- 23: the entry point ------------------------------------------------------------------------

/** Runs an executable (not through runCli, which always starts bin/compliant.js itself). */
function runExecutable(file: string, args: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: cleanEnv(cwd, env) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test("the CLI runs when started through a symlink under another name", async (t) => {
  const { dir, emu } = await world(t);
  const link = join(dir, "cx");
  await symlink(BIN, link);
  const version = await runExecutable(link, ["--version"], dir);
  assert.equal(version.code, 0, show(version));
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  const list = await runExecutable(link, ["list", "--json"], dir, emuEnv(emu));
  assert.equal(list.code, 0, show(list));
  assert.deepEqual(JSON.parse(list.stdout), []);
  // And by node with the script's path under yet another name (a second link).
  const other = join(dir, "archive-check");
  await symlink(BIN, other);
  const byNode = await runExecutable(process.execPath, [other, "--version"], dir);
  assert.equal(byNode.code, 0, show(byNode));
  assert.equal(byNode.stdout, version.stdout);
});

// --- 24: stdout's reader goes away ---------------------------------------------------------------

test("download to a stdout whose reader went away stops at once with exit 141", async (t) => {
  const { dir, emu, api } = await world(t);
  const job = await completeJob(dir, api, 2000);
  const r = await runCli(["download", job.id, "-"], { cwd: dir, env: emuEnv(emu), onSpawn: (child) => child.stdout!.destroy() });
  assert.equal(r.code, 141, show(r));
  assert.match(r.stderr, /compliant: stopped because the reader of stdout went away \(broken pipe\); nothing more was written\.\n$/);
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.ok(EXIT_CODE_HELP.includes("141"), "the exit-code table documents 141");
});

test("download J - | head -1 in a real shell pipeline: one line out, and the download exits 141", async (t) => {
  const { dir, emu, api } = await world(t);
  // ~2,000 result lines (~300 KB): more than a pipe holds, so writes continue after head exits.
  const job = await completeJob(dir, api, 20_000);
  const r = await new Promise<CliResult>((resolve, reject) => {
    const script = `"$0" "$1" download "$2" - | head -1; echo "exit \${PIPESTATUS[0]}" >&2`;
    const child = spawn("bash", ["-c", script, process.execPath, BIN, job.id], { cwd: dir, env: cleanEnv(dir, emuEnv(emu)) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout.split("\n").length, 2, "head printed one line");
  assert.match(r.stdout, /^\{"id":"\d+","action":"delete"/);
  assert.match(r.stderr, /compliant: stopped because the reader of stdout went away \(broken pipe\); nothing more was written\.\nexit 141\n$/);
});

test("ids big.txt | head -1 exits 141 at once instead of waiting for a drain that never comes", async (t) => {
  const dir = await tempDir(t, "compliant-trust-");
  await writeFile(join(dir, "big.txt"), sampleIds(200_000).join("\n") + "\n");
  const script = `"$0" "$1" ids big.txt | head -1; echo "exit \${PIPESTATUS[0]}" >&2`;
  const r = await runExecutable("bash", ["-c", script, process.execPath, BIN], dir);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, `${sampleIds(1)[0]}\n`);
  assert.match(r.stderr, /compliant: stopped because the reader of stdout went away \(broken pipe\); nothing more was written\.\nexit 141\n$/);
  assert.doesNotMatch(r.stderr, /internal error/);
});

test("all -o - whose reader went away exits 141, releases its lock and keeps its state", async (t) => {
  const { dir, emu } = await world(t);
  const idsFile = join(dir, "ids.txt");
  await writeFile(idsFile, sampleIds(2000).join("\n") + "\n");
  const stateDir = join(dir, ".state", "compliant");
  const r = await runCli(["all", "--type", "tweets", "-i", idsFile, "-o", "-", "--interval", "0.05"], {
    cwd: dir,
    env: emuEnv(emu),
    onSpawn: (child) => child.stdout!.destroy(),
  });
  assert.equal(r.code, 141, show(r));
  assert.match(r.stderr, /compliant: stopped because the reader of stdout went away \(broken pipe\)/);
  const files = await readdir(stateDir);
  assert.equal(files.filter((f) => f.endsWith(".lock")).length, 0, `no lock left behind: ${files.join(", ")}`);
  assert.equal(files.filter((f) => f.endsWith(".json")).length, 1, `the state is kept: ${files.join(", ")}`);
  assert.equal(emu.requests.filter((q) => q.route === "create").length, 1);
});

// --- 18: two readers of stdin --------------------------------------------------------------------

test("a token and IDs both from stdin are refused up front, and no token line is ever echoed", async (t) => {
  const { dir, emu } = await world(t);
  const stdin = `${emu.token}\n${Array.from({ length: 10 }, (_, i) => String(i + 1)).join("\n")}\n`;
  const r = await runCli(["--token-file", "-", "all", "--type", "tweets", "-i", "-", "-o", "r.ndjson"], {
    cwd: dir,
    env: { X_API_BASE_URL: emu.apiUrl },
    stdin,
  });
  assert.equal(r.code, 2, show(r));
  assert.equal(
    r.stderr,
    "compliant: --token-file - and --ids-file - both read stdin, which can be read only once; put the token in a file (--token-file <path>) or in X_BEARER_TOKEN, and keep stdin for the IDs.\n",
  );
  assert.ok(!r.stderr.includes(emu.token.slice(0, 8)) && !r.stdout.includes(emu.token.slice(0, 8)));
  assert.deepEqual(emu.requests, []);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith("r.ndjson")), []);

  const upload = await runCli(["--token-file", "-", "upload", "123", "-"], { cwd: dir, env: { X_API_BASE_URL: emu.apiUrl }, stdin });
  assert.equal(upload.code, 2, show(upload));
  assert.match(upload.stderr, /^compliant: --token-file - and the ID file argument - both read stdin/);
  assert.deepEqual(emu.requests, []);
});

test("an input that is the token file or the working folder's .env is refused before it is read", async (t) => {
  const { dir, emu } = await world(t);
  const tokenFile = join(dir, "token");
  await writeFile(tokenFile, `${emu.token}\n`, { mode: 0o600 });
  const same = await runCli(["--token-file", "token", "all", "--type", "tweets", "-i", tokenFile, "-o", "r.ndjson"], { cwd: dir, env: { X_API_BASE_URL: emu.apiUrl } });
  assert.equal(same.code, 2, show(same));
  assert.equal(same.stderr, `compliant: --token-file and --ids-file are the same file (${tokenFile}); the token file must hold only the token.\n`);
  await writeFile(join(dir, ".env"), `X_BEARER_TOKEN=${emu.token}\nX_API_BASE_URL=${emu.apiUrl}\n`);
  const env = await runCli(["upload", "123", ".env"], { cwd: dir });
  assert.equal(env.code, 2, show(env));
  assert.equal(env.stderr, "compliant: the ID file argument .env is the .env file, which holds settings such as the bearer token; pass the file of IDs or data instead.\n");
  for (const r of [same, env]) assert.ok(!r.stderr.includes(emu.token.slice(0, 8)));
  assert.deepEqual(emu.requests, []);
});

// --- 21 (token half): a malformed token ----------------------------------------------------------

test("a token file with two lines, or a token with a control character, is exit 2 and never sent", async (t) => {
  const { dir, emu } = await world(t);
  const tokenFile = join(dir, "token");
  await writeFile(tokenFile, `${emu.token}\nsecond-line\n`, { mode: 0o600 });
  const two = await runCli(["--token-file", tokenFile, "list"], { cwd: dir, env: { X_API_BASE_URL: emu.apiUrl } });
  assert.equal(two.code, 2, show(two));
  assert.equal(two.stderr, `compliant: the token file ${tokenFile} has more than one line; a bearer token is one line, so put only the token in it.\n`);

  const inEnv = await runCli(["list"], { cwd: dir, env: { X_API_BASE_URL: emu.apiUrl, X_BEARER_TOKEN: `${emu.token}\r\nInjected: 1` } });
  assert.equal(inEnv.code, 2, show(inEnv));
  assert.equal(inEnv.stderr, "compliant: the token in X_BEARER_TOKEN has more than one line; a bearer token is one line, so set X_BEARER_TOKEN to the token alone.\n");

  const control = await runCli(["list"], { cwd: dir, env: { X_API_BASE_URL: emu.apiUrl, X_BEARER_TOKEN: `${emu.token.slice(0, 4)}\u0007${emu.token.slice(4)}` } });
  assert.equal(control.code, 2, show(control));
  assert.match(control.stderr, /^compliant: the token in X_BEARER_TOKEN has a control character at position 5; /);
  for (const r of [two, inEnv, control]) assert.ok(!r.stderr.includes(emu.token.slice(0, 8)), "the token is never shown");
  assert.deepEqual(emu.requests, [], "nothing was sent");
});

// --- 25 (token part): a token file others can read -----------------------------------------------

test("a token file readable by other users is used with a warning; a private one silently", async (t) => {
  const { dir, emu } = await world(t);
  const tokenFile = join(dir, "token");
  await writeFile(tokenFile, `${emu.token}\n`);
  await chmod(tokenFile, 0o644);
  const open = await runCli(["--token-file", tokenFile, "list"], { cwd: dir, env: { X_API_BASE_URL: emu.apiUrl } });
  assert.equal(open.code, 0, show(open));
  assert.match(open.stderr, new RegExp(`warning: the token file ${tokenFile} can be read or written by other users \\(mode 644\\); restrict it with chmod 600 `));
  await chmod(tokenFile, 0o600);
  const closed = await runCli(["--token-file", tokenFile, "list"], { cwd: dir, env: { X_API_BASE_URL: emu.apiUrl } });
  assert.equal(closed.code, 0, show(closed));
  assert.doesNotMatch(closed.stderr, /warning/);
});

// --- 19: which API gets the token ----------------------------------------------------------------

test("a .env pointing the API at a plain-http, non-loopback server is refused before any request", async (t) => {
  const { dir, emu } = await world(t);
  await writeFile(join(dir, ".env"), "X_API_BASE_URL=http://api.example.invalid\n");
  const r = await runCli(["list"], { cwd: dir, env: { X_BEARER_TOKEN: emu.token } });
  assert.equal(r.code, 2, show(r));
  assert.equal(
    r.stderr,
    `compliant: the API URL http://api.example.invalid (from X_API_BASE_URL in ${join(dir, ".env")}) is plain http, which would send the bearer token unencrypted; use https:// (plain http is accepted only for loopback addresses such as 127.0.0.1 or localhost).\n`,
  );
  const flag = await runCli(["--api-url", "http://10.1.2.3:8080", "list"], { cwd: dir, env: { X_BEARER_TOKEN: emu.token } });
  assert.equal(flag.code, 2, show(flag));
  assert.match(flag.stderr, /^compliant: the API URL http:\/\/10\.1\.2\.3:8080 \(from --api-url\) is plain http/);

  // Loopback is fine over http (a local emulator or proxy); https is fine anywhere.
  for (const url of ["http://127.0.0.1:1", "http://127.5.6.7", "http://localhost:8787", "http://[::1]:8787", "https://api.example.com"]) {
    assert.doesNotThrow(() => resolveApiUrl(url, {}), url);
  }
  for (const url of ["http://127.0.0.1.example.com", "http://128.0.0.1", "http://[::2]", "http://0.0.0.0"]) {
    assert.throws(() => resolveApiUrl(url, {}), /is plain http/, url);
  }
});

test("an API other than X's is named on stderr with where it came from; --quiet silences it unless it came from .env", async (t) => {
  const { dir, emu } = await world(t);
  const dotEnv = join(dir, ".env");
  const notice = `using the API at ${emu.apiUrl} (from X_API_BASE_URL in ${dotEnv}), not https://api.x.com`;
  await writeFile(dotEnv, `X_API_BASE_URL=${emu.apiUrl}\n`);
  const r = await runCli(["list", "--json"], { cwd: dir, env: { X_BEARER_TOKEN: emu.token } });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(JSON.parse(r.stdout), []);
  assert.equal(r.stderr.replace(/^\S+ /, ""), `${notice}\n`);
  // A URL planted in the working folder's .env is named even under --quiet.
  const quiet = await runCli(["-q", "list"], { cwd: dir, env: { X_BEARER_TOKEN: emu.token } });
  assert.equal(quiet.code, 0, show(quiet));
  assert.equal(quiet.stderr.replace(/^\S+ /, ""), `${notice}\n`);
  // One the user set in the environment or on the command line: --quiet means quiet.
  const fromEnv = await runCli(["-q", "list"], { cwd: dir, env: { X_BEARER_TOKEN: emu.token, X_API_BASE_URL: emu.apiUrl } });
  assert.equal(fromEnv.code, 0, show(fromEnv));
  assert.equal(fromEnv.stderr, "");
  const fromFlag = await runCli(["--api-url", emu.apiUrl, "list", "--json"], { cwd: dir, env: { X_BEARER_TOKEN: emu.token } });
  assert.equal(fromFlag.stderr.replace(/^\S+ /, ""), `using the API at ${emu.apiUrl} (from --api-url), not https://api.x.com\n`);
  assert.ok(apiRequests(emu).length >= 4);
});

// --- 17: terminal injection ----------------------------------------------------------------------

/** Sets the window title, rings the bell, clears the screen, returns to column 0, fakes a line, and sends a C1 CSI. */
const HOSTILE = "\u001b]0;pwned\u0007\u001b[2J\r\nfake\u009b31m";
const SHOWN = "\\u001b]0;pwned\\u0007\\u001b[2J\\r\\nfake\\u009b31m";

/** Text a terminal shows as it is: no control character but the program's own line breaks. */
function assertInert(text: string, what: string): void {
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, `${what} holds a raw control character: ${JSON.stringify(text)}`);
  assert.doesNotMatch(text, /^fake/m, `${what} starts a line the server wrote`);
}

test("job names, statuses and errors from the API are shown escaped; --json keeps them exact", async (t) => {
  const dir = await tempDir(t, "compliant-trust-");
  const server = await hostileApi(t, { job: { name: HOSTILE, status: `in_progress${HOSTILE}` } });
  const env = { X_API_BASE_URL: server.url, X_BEARER_TOKEN: "token-for-hostile" };
  const table = await runCli(["list", "--type", "tweets"], { cwd: dir, env });
  assert.equal(table.code, 0, show(table));
  assertInert(table.stdout, "list");
  assertInert(table.stderr, "list's stderr");
  assert.ok(table.stdout.includes(SHOWN), table.stdout);
  const details = await runCli(["status", HOSTILE_JOB_ID], { cwd: dir, env });
  assert.equal(details.code, 0, show(details));
  assertInert(details.stdout, "status");
  assert.ok(details.stdout.includes(`name        ${SHOWN}\n`), details.stdout);
  assert.ok(details.stdout.includes(`status      in_progress${SHOWN}\n`), details.stdout);
  const json = await runCli(["list", "--type", "tweets", "--json"], { cwd: dir, env });
  assert.equal(json.code, 0, show(json));
  const [job] = JSON.parse(json.stdout) as Job[];
  assert.equal(job!.name, HOSTILE, "--json keeps the name exactly");
  assert.equal(job!.status, `in_progress${HOSTILE}`);

  const failed = await hostileApi(t, { job: { status: "failed", error: HOSTILE } });
  const wait = await runCli(["status", HOSTILE_JOB_ID, "--wait", "--interval", "0.05"], { cwd: dir, env: { ...env, X_API_BASE_URL: failed.url } });
  assert.equal(wait.code, 6, show(wait));
  assertInert(wait.stderr, "status --wait's stderr");
  assert.ok(wait.stderr.includes(`compliant: job ${HOSTILE_JOB_ID} failed (${SHOWN}); `), wait.stderr);
});

test("a problem's title and detail are shown escaped", async (t) => {
  const dir = await tempDir(t, "compliant-trust-");
  const server = await hostileApi(t, { createProblem: { status: 400, body: { type: "about:blank", title: HOSTILE, detail: HOSTILE, status: 400 } } });
  const r = await runCli(["create", "--type", "tweets"], { cwd: dir, env: { X_API_BASE_URL: server.url, X_BEARER_TOKEN: "token-for-hostile" } });
  assert.equal(r.code, 4, show(r));
  assertInert(r.stderr, "create's stderr");
  assert.ok(r.stderr.includes(`(400: ${SHOWN})`), r.stderr);
});

test("result actions and reasons are shown escaped in summaries and reports; --json and the results file keep them", async (t) => {
  const dir = await tempDir(t, "compliant-trust-");
  const lines = [
    { id: "1460694452490674100", action: `delete${HOSTILE}`, created_at: "2021-01-01T00:00:00.000Z", reason: HOSTILE },
    { id: "1460694452490674101", action: "delete", created_at: "2021-01-01T00:00:00.000Z", reason: `deleted${HOSTILE}` },
  ];
  const results = lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
  // The job's name is hostile too: it shows up in all's progress lines.
  const server = await hostileApi(t, { results, job: { name: HOSTILE } });
  const env = { X_API_BASE_URL: server.url, X_BEARER_TOKEN: "token-for-hostile" };
  await writeFile(join(dir, "ids.txt"), "1460694452490674100\n1460694452490674101\n1460694452490674102\n");
  const all = await runCli(["all", "--type", "tweets", "-i", "ids.txt", "-o", "r.ndjson", "--interval", "0.05"], { cwd: dir, env });
  assert.equal(all.code, 0, show(all));
  assertInert(all.stderr, "all's summary");
  assert.ok(all.stderr.includes(`  delete${SHOWN}  1\n`), all.stderr);
  assert.ok(all.stderr.includes(`  deleted${SHOWN}  1\n`), all.stderr);
  assert.equal(await readFile(join(dir, "r.ndjson"), "utf8"), results, "the results file is exactly what was sent");

  const report = await runCli(["report", "r.ndjson"], { cwd: dir });
  assert.equal(report.code, 0, show(report));
  assertInert(report.stdout, "report");
  assert.ok(report.stdout.includes(`delete${SHOWN}`) && report.stdout.includes(`deleted${SHOWN}`), report.stdout);
  const reportJson = await runCli(["report", "r.ndjson", "--json"], { cwd: dir });
  assert.equal(reportJson.code, 0, show(reportJson));
  assert.deepEqual(Object.keys((JSON.parse(reportJson.stdout) as { by_action: Record<string, number> }).by_action).sort(), ["delete", `delete${HOSTILE}`]);

  const allJson = await runCli(["all", "--type", "tweets", "-i", "ids.txt", "-o", "r2.ndjson", "--interval", "0.05", "--json", "--no-resume"], { cwd: dir, env });
  assert.equal(allJson.code, 0, show(allJson));
  assert.deepEqual((JSON.parse(allJson.stdout) as { by_reason: Record<string, number> }).by_reason, { [HOSTILE]: 1, [`deleted${HOSTILE}`]: 1 });
});

test("apply's warnings name unknown actions and error records escaped, so a results file cannot start a line of its own", async (t) => {
  const dir = await tempDir(t, "compliant-trust-");
  const results = [
    { id: "1460694452490674100", action: `quarantine${HOSTILE}`, created_at: "2021-01-01T00:00:00.000Z", reason: "deleted" },
    { id: "1460694452490674101", error: `invalid_id${HOSTILE}` },
  ].map((l) => JSON.stringify(l)).join("\n") + "\n";
  await writeFile(join(dir, "r.ndjson"), results);
  const dataset = '{"data":[{"id":"1460694452490674100","text":"a"},{"id":"1460694452490674102","text":"b"}]}\n';
  await writeFile(join(dir, "data.jsonl"), dataset);
  const r = await runCli(["apply", "--results", "r.ndjson", "data.jsonl", "-o", "clean.jsonl"], { cwd: dir });
  assert.equal(r.code, 0, show(r));
  assertInert(r.stderr, "apply's warnings");
  assert.ok(r.stderr.includes(`quarantine${SHOWN}: 1`), r.stderr);
  assert.ok(r.stderr.includes(`invalid_id${SHOWN}: 1`), r.stderr);
  assert.equal(await readFile(join(dir, "clean.jsonl"), "utf8"), dataset, "a record whose action is unknown is left untouched");
});

// --- 16: long lines --------------------------------------------------------------------------------

test("a results line over 1 MiB stops the download before the line ends (exit 4), and report refuses it (exit 2)", async (t) => {
  const dir = await tempDir(t, "compliant-trust-");
  const total = 64 * 1024 * 1024;
  let sent = 0;
  const server = await hostileApi(t, {
    job: { status: "complete" },
    results: (res) => {
      // One endless line, chunked: it never ends before the client gives up.
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const block = Buffer.alloc(64 * 1024, 0x61);
      const more = () => {
        while (sent < total && !res.destroyed) {
          sent += block.length;
          if (!res.write(block)) return void res.once("drain", more);
        }
        res.end();
      };
      res.on("close", () => (sent = Math.min(sent, total)));
      more();
    },
  });
  const r = await runCli(["download", HOSTILE_JOB_ID, "out.ndjson"], { cwd: dir, env: { X_API_BASE_URL: server.url, X_BEARER_TOKEN: "token-for-hostile" } });
  assert.equal(r.code, 4, show(r));
  assert.match(r.stderr, /compliant: the results of job \d+ line 1 is not a valid compliance event \(longer than 1 MiB\): "a{80}"; /);
  assert.ok(sent < total / 2, `the client stopped reading early (${sent} of ${total} bytes sent)`);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith("out.ndjson")), [], "no results file, no .partial");

  const file = join(dir, "long.ndjson");
  await writeFile(file, `${"b".repeat(3 * 1024 * 1024)}\n`);
  const report = await runCli(["report", "long.ndjson"], { cwd: dir });
  assert.equal(report.code, 2, show(report));
  assert.match(report.stderr, /^compliant: long\.ndjson does not look like a compliance results file: line 1 is not a valid compliance event \(longer than 1 MiB\): "b{80}"; pass the NDJSON file/);
});

// --- 25 (name part): name length ------------------------------------------------------------------

test("--name length is counted in characters (code points), as the API counts it, not UTF-16 units", async (t) => {
  const { dir, emu } = await world(t);
  const sixtyFour = "😀".repeat(64);
  const ok = await runCli(["create", "--type", "tweets", "--name", sixtyFour], { cwd: dir, env: emuEnv(emu) });
  assert.equal(ok.code, 0, show(ok));
  assert.equal(emu.jobs()[0]!.name, sixtyFour, "the API took the 64-character name");
  const long = await runCli(["create", "--type", "tweets", "--name", `${sixtyFour}a`], { cwd: dir, env: emuEnv(emu) });
  assert.equal(long.code, 2, show(long));
  assert.equal(long.stderr, "compliant: the job name must be 1–64 characters long (got 65); choose a shorter --name.\n");
  assert.equal(emu.jobs().length, 1, "nothing was created for the long name");
});

// --- 22: file-system failures are not bugs ---------------------------------------------------------

/** Runs the binary with stdout on an open file descriptor (e.g. /dev/full). */
function runWithStdout(args: string[], cwd: string, env: Record<string, string | undefined>, stdoutFd: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(cwd, env), stdio: ["ignore", stdoutFd, "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout: "", stderr }));
  });
}

test("results written to a full disk (stdout on /dev/full) are exit 5 with what to do, not exit 0 or a bug report", async (t) => {
  const { dir, emu, api } = await world(t);
  const job = await completeJob(dir, api, 2000);
  const full = await open("/dev/full", "w");
  t.after(() => full.close());
  const r = await runWithStdout(["download", job.id, "-"], dir, emuEnv(emu), full.fd);
  assert.equal(r.code, 5, show(r));
  assert.match(r.stderr, /\ncompliant: cannot write to stdout: the disk is full \(ENOSPC\); free some space, then run again\.\n$/);
  assert.doesNotMatch(r.stderr, /internal error|This is a bug/);
});

test("an output path the system refuses (/sys, /proc) is exit 2 naming the path; all adds that it resumes", async (t) => {
  const { dir, emu, api } = await world(t);
  const job = await completeJob(dir, api, 100);
  const sys = await runCli(["download", job.id, "/sys/compliant-results.ndjson"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(sys.code, 2, show(sys));
  assert.match(sys.stderr, /\ncompliant: cannot [a-z ]+ \/sys\/compliant-results\.ndjson\S*: permission denied \(EACCES\); check the permissions of the file and its folder, or choose another path\.\n$/);

  const idsFile = join(dir, "ids.txt");
  await writeFile(idsFile, sampleIds(100).join("\n") + "\n");
  const all = await runCli(["all", "--type", "tweets", "-i", idsFile, "-o", "/proc/compliant-results.ndjson", "--interval", "0.05"], { cwd: dir, env: emuEnv(emu) });
  assert.equal(all.code, 2, show(all));
  assert.match(all.stderr, /\ncompliant: cannot [a-z ]+ \/proc\/compliant-results\.ndjson\S*: [^;]+\((ENOENT|EACCES|EPERM)\); [^;]+; the run's state is kept, so running it again resumes where it stopped\.\n$/);
  for (const r of [sys, all]) assert.doesNotMatch(r.stderr, /internal error|This is a bug/);
});

test("every file-system failure that is not a bug maps to exit 2 or 5 with the path and what to do", () => {
  const fsError = (code: string, syscall: string, path?: string) => Object.assign(new Error(`${code}: ${syscall}`), { code, syscall, path });
  const cases: Array<[string, string, number, RegExp]> = [
    ["ENOSPC", "write", 5, /^cannot write to \/data\/r\.ndjson: the disk is full \(ENOSPC\); free some space, then run again\.$/],
    ["EDQUOT", "write", 5, /quota is used up \(EDQUOT\)/],
    ["EMFILE", "open", 5, /^cannot open \/data\/r\.ndjson: this process has too many open files \(EMFILE\); raise the limit \(ulimit -n\)/],
    ["EIO", "read", 5, /input\/output error occurred \(EIO\); check the disk, then run again\.$/],
    ["EROFS", "open", 2, /^cannot open \/data\/r\.ndjson: the file system is read-only \(EROFS\); choose a path on a writable file system\.$/],
    ["EACCES", "mkdir", 2, /^cannot create the folder \/data\/r\.ndjson: permission denied \(EACCES\)/],
    ["EPERM", "rename", 2, /not permitted \(EPERM\)/],
    ["EINVAL", "write", 2, /does not support this \(EINVAL\)/],
  ];
  for (const [code, syscall, exit, message] of cases) {
    const e = systemError(fsError(code, syscall, "/data/r.ndjson"));
    assert.ok(e, code);
    assert.equal(e.exitCode, exit, code);
    assert.match(e.message, message, code);
  }
  assert.match(systemError(fsError("ENOSPC", "write", "/data/r.ndjson"), { resumes: true })!.message, /then run again; the run's state is kept, so running it again resumes where it stopped\.$/);
  // Not a file-system error (no syscall), or an unknown code: left alone (a bug stays a bug).
  assert.equal(systemError(Object.assign(new Error("x"), { code: "ENOSPC" })), undefined);
  assert.equal(systemError(fsError("EWHATEVER", "open", "/x")), undefined);
});
