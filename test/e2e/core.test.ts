// End to end: the real binary (bin/compliant.js) against the emulator, for every command's
// success path, job names, help/version, --emulator, .env, and bearer-token secrecy.
// Bad input cases live in core-bad-input.test.ts.

import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ComplianceApi } from "../../src/api/client.js";
import { redactUrl } from "../../src/api/redact.js";
import type { Job } from "../../src/api/schemas.js";
import { EXIT_CODE_HELP } from "../../src/errors.js";
import { expectedResultsFile, manualClock, type Emulator, type EmulatorFlow, type EmulatorOptions } from "../../src/emulator/server.js";
import { ROOT, emuEnv, emulatorFor, runCli, tempDir, type CliResult } from "../helpers/cli.js";

const VERSION = (JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /;

/** stderr as lines, without the timestamps of non-TTY log lines. */
/** The notice naming a non-default API (every run here talks to the emulator). */
const API_NOTICE = /^using the API at http:\/\/127\.0\.0\.1:\d+ \(from X_API_BASE_URL in the environment\), not https:\/\/api\.x\.com$/;

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "").map((l) => l.replace(STAMP, "")).filter((l) => !API_NOTICE.test(l));
}

function ids(count: number, base = 1160404233650352000n): string[] {
  return Array.from({ length: count }, (_, i) => (base + BigInt(i)).toString());
}

interface World {
  dir: string;
  emu: Emulator;
  run(args: string[], opts?: { env?: Record<string, string | undefined>; stdin?: string | Buffer }): Promise<CliResult>;
  /** A client on the emulator, for setting up jobs without the CLI. */
  api: ComplianceApi;
  file(name: string, text: string | Buffer): Promise<string>;
}

async function world(t: TestContext, opts: EmulatorOptions = {}): Promise<World> {
  const dir = await tempDir(t, "compliant-core-");
  // A large rate-limit budget: with the real 150 per 15 minutes, polling stretches to ~6 s per call.
  const emu = await emulatorFor(t, { rateLimit: { limit: 100_000, windowSeconds: 900 }, ...opts });
  const api = new ComplianceApi(emu.apiUrl, { apiOrigin: emu.apiUrl, token: emu.token, userAgent: "compliant-test" });
  t.after(() => api.close());
  return {
    dir,
    emu,
    api,
    run: (args, o = {}) => runCli(args, { cwd: dir, env: emuEnv(emu, o.env), stdin: o.stdin }),
    file: async (name, text) => {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    },
  };
}

/** A job that is complete, with `list` uploaded (through the client, not the CLI). */
async function completeJob(w: World, list: string[], type: "tweets" | "users" = "tweets", name?: string): Promise<Job> {
  const job = await w.api.createJob({ type, name });
  const path = await w.file(`setup-${job.id}.txt`, list.join("\n") + "\n");
  await w.api.uploadIds(job, { path, start: 0, end: Buffer.byteLength(list.join("\n") + "\n") });
  const done = await w.api.getJob(job.id);
  assert.equal(done.status, "complete", "the emulator completes after one poll");
  return done;
}

function assertOk(r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

describe("compliant, end to end", { concurrency: 4 }, () => {
  it("create: stdout is the id off a TTY; --json prints the full job; --resumable", async (t) => {
    const w = await world(t);
    const r = await w.run(["create", "--type", "tweets", "--name", "nightly"]);
    assertOk(r, "create");
    assert.match(r.stdout, /^\d{1,19}\n$/);
    const id = r.stdout.trim();
    const [info] = w.emu.jobs();
    assert.deepEqual({ id: info!.id, type: info!.type, name: info!.name, status: info!.status }, { id, type: "tweets", name: "nightly", status: "created" });
    const job = await w.api.getJob(id);
    assert.deepEqual(lines(r.stderr), [
      `created tweets job ${id}; upload IDs before ${job.upload_expires_at} (15 minutes): compliant upload ${id} <ids-file>`,
    ]);

    const j = await w.run(["create", "--type", "users", "--resumable", "--json"]);
    assertOk(j, "create --json");
    const created = JSON.parse(j.stdout) as Job;
    assert.equal(created.type, "users");
    assert.equal(created.resumable, true);
    assert.equal(created.status, "created");
    // --json prints the job as the API returned it, its signed URLs with every secret redacted.
    const fresh = await w.api.getJob(created.id);
    assert.deepEqual(created, { ...fresh, upload_url: redactUrl(fresh.upload_url, w.api.apiOrigin), download_url: redactUrl(fresh.download_url, w.api.apiOrigin) });
    assert.ok(!j.stdout.includes(new URL(fresh.upload_url).searchParams.get("X-Goog-Signature")!), "no signature is printed");
    assert.match(created.upload_url, /X-Goog-Signature=REDACTED/);
    assert.deepEqual(lines(j.stderr), [], "--json prints only the document");
    assert.equal(w.emu.requests.filter((q) => q.route === "create").length, 2);
  });

  it("list: a table of both types; --json; --type, --status and --name filters", async (t) => {
    const clock = manualClock(Date.now() - 60_000);
    const w = await world(t, { clock });
    const tweets = await completeJob(w, ids(5), "tweets", "alpha");
    clock.advance(5_000);
    const users = await w.api.createJob({ type: "users", name: "beta" });
    const [table, json, byType, byStatus, none] = await Promise.all([
      w.run(["list"]),
      w.run(["list", "--json"]),
      w.run(["list", "--type", "users", "--json"]),
      w.run(["list", "--status", "complete", "--name", "alpha", "--json"]),
      // `expired` is not a filter value the API accepts: the CLI filters it itself.
      w.run(["list", "--type", "tweets", "--status", "expired"]),
    ]);
    for (const r of [table, json, byType, byStatus, none]) assertOk(r, "list");

    const rows = table.stdout.trimEnd().split("\n");
    assert.equal(rows.length, 3);
    assert.match(rows[0]!, /^ID +TYPE +NAME +STATUS +CREATED +UPLOAD BY +DOWNLOAD BY$/);
    assert.match(rows[1]!, new RegExp(`^${users.id} +users +beta +created +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ`), "newest first");
    assert.match(rows[2]!, new RegExp(`^${tweets.id} +tweets +alpha +complete `));
    assert.deepEqual(lines(table.stderr), []);

    const all = JSON.parse(json.stdout) as Job[];
    assert.deepEqual(all.map((j) => [j.id, j.type, j.status]), [
      [users.id, "users", "created"],
      [tweets.id, "tweets", "complete"],
    ]);
    assert.deepEqual((JSON.parse(byType.stdout) as Job[]).map((j) => j.id), [users.id]);
    assert.deepEqual((JSON.parse(byStatus.stdout) as Job[]).map((j) => j.id), [tweets.id]);
    assert.equal(none.stdout, "");
    assert.deepEqual(lines(none.stderr), ["no tweets jobs with status expired"]);
    // The API takes one type per call: `list` asks for both.
    assert.equal(w.emu.requests.filter((q) => q.route === "list").length, 8);
    assert.ok(
      w.emu.requests.some((q) => q.route === "list" && q.status === 200) && !w.emu.requests.some((q) => q.status === 400),
      "the API was never asked for status=expired",
    );
  });

  it("status --wait: polls until complete, then the details", async (t) => {
    const w = await world(t, { pollsToComplete: 3 });
    const job = await w.api.createJob({ type: "tweets", name: "s" });
    const path = await w.file("ids.txt", ids(10).join("\n") + "\n");
    await w.api.uploadIds(job, { path, start: 0, end: 200 });

    const waited = await w.run(["status", job.id, "--wait", "--interval", "0.05"]);
    assertOk(waited, "status --wait");
    assert.equal(
      waited.stdout,
      [
        `id          ${job.id}`,
        "type        tweets",
        "name        s",
        "status      complete",
        "resumable   false",
        `created     ${job.created_at}`,
        `upload by   ${job.upload_expires_at}`,
        `download by ${job.download_expires_at}`,
        "",
      ].join("\n"),
    );
    assert.deepEqual(lines(waited.stderr), [`job ${job.id} is in_progress`, `job ${job.id} is complete`]);
    assert.equal(w.emu.requests.filter((q) => q.route === "get").length, 3, "polled until the third read completed it");
  });

  it("status --wait: exit 6 when the job failed or expired, exit 7 at --timeout", async (t) => {
    const w = await world(t, { pollsToComplete: 1_000_000 });
    const tweets = await w.api.createJob({ type: "tweets" });
    const users = await w.api.createJob({ type: "users" });
    w.emu.failJob(tweets.id, "the file is not an ID file");
    w.emu.expireJob(users.id);
    const [failed, expired] = await Promise.all([
      w.run(["status", tweets.id, "--wait", "--interval", "0.05"]),
      w.run(["status", users.id, "--wait", "--interval", "0.05"]),
    ]);
    assert.equal(failed.code, 6, failed.stderr);
    assert.match(failed.stdout, /^status {6}failed$/m);
    assert.match(failed.stdout, /^error {7}the file is not an ID file$/m);
    assert.deepEqual(lines(failed.stderr), [
      `job ${tweets.id} is failed`,
      `compliant: job ${tweets.id} failed (the file is not an ID file); check the ID file (one Post ID per line) and run it again as a new job.`,
    ]);
    assert.equal(expired.code, 6, expired.stderr);
    assert.equal(
      lines(expired.stderr).at(-1),
      `compliant: job ${users.id} expired before it completed; create a new job and upload the IDs within 15 minutes.`,
    );

    const w2 = await world(t, { pollsToComplete: 1_000_000 });
    const slow = await w2.api.createJob({ type: "tweets" });
    const path = await w2.file("ids.txt", ids(3).join("\n") + "\n");
    await w2.api.uploadIds(slow, { path, start: 0, end: 60 });
    const timedOut = await w2.run(["status", slow.id, "--wait", "--interval", "0.05", "--timeout", "0.2"]);
    assert.equal(timedOut.code, 7, timedOut.stderr);
    assert.equal(timedOut.stdout, "");
    assert.match(
      lines(timedOut.stderr).at(-1)!,
      new RegExp(`^compliant: job ${slow.id} is still in_progress after the .+ timeout; run \`compliant status ${slow.id} --wait\` to keep waiting\\.$`),
    );
    assert.ok(w2.emu.requests.filter((q) => q.route === "get").length >= 2, "it polled");
  });

  for (const how of ["positional", "--ids-file", "stdin"] as const) {
    it(`upload (${how}): validates, then PUTs exactly the file as text/plain`, async (t) => {
      const dataDir = await tempDir(t, "compliant-emu-data-");
      const w = await world(t, { dataDir });
      const list = ids(120);
      const text = list.join("\n") + "\n";
      const path = await w.file("ids.txt", text);
      const job = await w.api.createJob({ type: "tweets", name: "up" });
      const args =
        how === "positional" ? ["upload", job.id, "ids.txt"] : how === "--ids-file" ? ["upload", "up", "--ids-file", path] : ["upload", job.id, "-"];
      const r = await w.run(args, how === "stdin" ? { stdin: text } : {});
      assertOk(r, `upload ${how}`);
      assert.equal(r.stdout, "");
      const source = how === "stdin" ? "stdin" : how === "positional" ? "ids.txt" : path;
      assert.deepEqual(lines(r.stderr), [
        `checking ${how === "stdin" ? "IDs from stdin" : source}`,
        `checked ${source}: 120 IDs`,
        `uploaded 120 IDs (${text.length.toLocaleString("en-US")} bytes) to job ${job.id}`,
        `next: compliant status ${job.id} --wait, then compliant download ${job.id} <results-file>`,
      ]);
      const uploads = w.emu.requests.filter((q) => q.route === "upload");
      assert.equal(uploads.length, 1);
      assert.equal(uploads[0]!.contentType, "text/plain");
      assert.equal(uploads[0]!.contentLength, text.length);
      assert.equal(uploads[0]!.authorization, false);
      assert.equal(await readFile(join(dataDir, `${job.id}.upload`), "utf8"), text);
      assert.equal(w.emu.jobs()[0]!.status, "in_progress");
      if (how !== "positional") return;

      // The job no longer takes an upload (its GET completed it): exit 4, and nothing is sent.
      const again = await w.run(args);
      assert.equal(again.code, 4);
      assert.equal(
        lines(again.stderr).at(-1),
        `compliant: job ${job.id} is complete, so it no longer takes an upload; create a new job with \`compliant create --type tweets\`.`,
      );
      assert.equal(w.emu.requests.filter((q) => q.route === "upload").length, 1);
    });
  }

  it("upload --json prints what was sent", async (t) => {
    const w = await world(t, { flow: "api" });
    await w.file("one.txt", `${ids(1)[0]}\n`);
    const job = await w.api.createJob({ type: "users" });
    const r = await w.run(["upload", job.id, "one.txt", "--json"]);
    assertOk(r, "upload --json");
    assert.deepEqual(JSON.parse(r.stdout), { id: job.id, ids: 1, bytes: 20, duplicates: 0 });
    assert.deepEqual(lines(r.stderr).slice(1, 3), ["checked one.txt: 1 ID", `uploaded 1 ID (20 bytes) to job ${job.id}`]);
    assert.equal(w.emu.requests.find((q) => q.route === "upload")!.authorization, true, "api flow: the upload goes to the API origin with the token");
  });

  for (const flow of ["storage", "api"] as EmulatorFlow[]) {
    it(`download (${flow} flow): to a file and to stdout, byte-identical to what the emulator serves`, async (t) => {
      const w = await world(t, { flow });
      const list = ids(230);
      const job = await completeJob(w, list, "users", "dl");
      const expected = expectedResultsFile(list, "users", flow);
      if (flow === "storage") await w.file("other.ndjson", "old\n");
      const [stdout, file, json] = await Promise.all([
        w.run(["download", "dl", "-"]),
        flow === "storage" ? w.run(["download", job.id, "out.ndjson"]) : undefined,
        flow === "storage" ? w.run(["download", job.id, "--results-file", "other.ndjson", "--json", "--force"]) : undefined,
      ]);
      assertOk(stdout, "download -");
      assert.equal(stdout.stdout, expected);
      assert.match(stdout.stderr, /to stdout\n/);
      for (const q of w.emu.requests) assert.equal(q.authorization, q.origin === "api");
      if (file === undefined || json === undefined) return;

      assertOk(file, "download file");
      assert.equal(file.stdout, "");
      assert.equal(await readFile(join(w.dir, "out.ndjson"), "utf8"), expected);
      const events = list.filter((_, i) => expectedResultsFile([list[i]!], "users", flow) !== "").length;
      const l = lines(file.stderr);
      assert.equal(l.shift(), `downloading the results of job ${job.id}`);
      assert.equal(l[0], `downloaded ${Buffer.byteLength(expected).toLocaleString("en-US")} bytes of results for job ${job.id} to out.ndjson`);
      assert.equal(l[1], `${events} IDs need action`);
      assert.equal(l[2], "by reason");

      // --json, and --force replaced the existing file.
      assertOk(json, "download --json --force");
      const summary = JSON.parse(json.stdout) as Record<string, unknown>;
      assert.deepEqual(Object.keys(summary), ["id", "results_file", "events", "errors", "by_action", "by_reason", "bytes"]);
      assert.equal(summary.id, job.id);
      assert.equal(summary.results_file, join(w.dir, "other.ndjson"));
      assert.equal(summary.events, events);
      assert.equal(summary.bytes, Buffer.byteLength(expected));
      assert.equal(await readFile(join(w.dir, "other.ndjson"), "utf8"), expected);
    });
  }

  it("all: results file exact, summary on stderr; --json summary on stdout", async (t) => {
    const w = await world(t);
    const list = ids(200);
    await w.file("ids.txt", list.join("\n") + "\n");
    const expected = expectedResultsFile(list, "tweets", "storage");
    const r = await w.run(["all", "--type", "tweets", "--ids-file", "ids.txt", "--results-file", "results.ndjson", "--interval", "0.05"]);
    assertOk(r, "all");
    assert.equal(r.stdout, "");
    assert.equal(await readFile(join(w.dir, "results.ndjson"), "utf8"), expected);
    const [job] = w.emu.jobs();
    const events = expected.split("\n").filter((l) => l !== "").length;
    const l = lines(r.stderr);
    const at = l.indexOf(`summary (job ${job!.id}, results in results.ndjson)`);
    assert.ok(at > 0, r.stderr);
    assert.deepEqual(l.slice(at + 1, at + 4), [`  IDs checked          200`, `  IDs needing action   ${events}`, `  IDs with no action   ${200 - events}`]);
    assert.ok(l.includes(`created tweets job ${job!.id} (name "${job!.name}")`));
    assert.match(job!.name!, /^compliant-[0-9a-f]{12}$/);

    const j = await w.run(["all", "--type", "tweets", "-i", "ids.txt", "-o", "again.ndjson", "--name", "nightly", "--interval", "0.05", "--json"]);
    assertOk(j, "all --json");
    const summary = JSON.parse(j.stdout) as Record<string, unknown>;
    const second = w.emu.jobs().find((x) => x.name === "nightly")!;
    assert.deepEqual(Object.keys(summary), [
      "jobs",
      "results_file",
      "ids_checked",
      "ids_needing_action",
      "ids_without_action",
      "duplicates",
      "by_action",
      "by_reason",
      "errors",
      "result_bytes",
      // Added with the 2026 result lines (distinct IDs by winning kind, invalid_id IDs).
      "ids_by_kind",
      "duplicate_lines",
      "invalid_id_count",
      "invalid_ids",
    ]);
    assert.deepEqual(summary.jobs, [{ id: second.id, type: "tweets", name: "nightly", status: "complete", ids: 200 }]);
    assert.equal(summary.results_file, "again.ndjson");
    assert.equal(summary.ids_checked, 200);
    assert.equal(summary.ids_needing_action, events);
    assert.equal(summary.ids_without_action, 200 - events);
    assert.equal(summary.duplicates, 0);
    assert.equal(summary.result_bytes, Buffer.byteLength(expected));
    assert.deepEqual(summary.errors, {});
    assert.equal(Object.values(summary.by_reason as Record<string, number>).reduce((a, b) => a + b, 0), events);
    assert.equal(await readFile(join(w.dir, "again.ndjson"), "utf8"), expected);
    assert.ok(!j.stderr.includes("summary ("), "no human summary with --json");
  });

  it(
    "all -o -: the summary counts the results it streamed",
    async (t) => {
      const w = await world(t);
      const list = ids(100);
      await w.file("ids.txt", list.join("\n") + "\n");
      const events = expectedResultsFile(list, "tweets", "storage").split("\n").filter((l) => l !== "").length;
      const r = await w.run(["all", "--type", "tweets", "-i", "ids.txt", "-o", "-", "--interval", "0.05"]);
      assertOk(r, "all -o -");
      assert.ok(lines(r.stderr).includes(`  IDs needing action   ${events}`), r.stderr);
    },
  );

  it("cancel: DELETE on the api flow; the storage flow does not support it (exit 4)", async (t) => {
    const w = await world(t, { flow: "api" });
    const job = await w.api.createJob({ type: "tweets", name: "doomed" });
    const r = await w.run(["cancel", "doomed"]);
    assertOk(r, "cancel");
    assert.equal(r.stdout, "");
    // OpenAPI 2.168: a cancelled job is `failed` (there is no cancelled status), and status says so.
    assert.deepEqual(lines(r.stderr), [`cancelled job ${job.id}; the API now shows it as failed (it has no cancelled status)`]);
    assert.equal(w.emu.jobs()[0]!.status, "failed");
    const shown = await w.run(["status", job.id, "--json"]);
    assertOk(shown, "status");
    assert.equal(JSON.parse(shown.stdout).status, "failed");
    assert.equal(w.emu.requests.filter((q) => q.route === "cancel" && q.method === "DELETE").length, 1);
    const ended = await w.run(["cancel", job.id]);
    // A job that has already ended cannot be cancelled: exit 4, one sentence, and no DELETE is sent.
    assert.equal(ended.code, 4);
    assert.equal(ended.stdout, "");
    assert.deepEqual(lines(ended.stderr), [`compliant: job ${job.id} was not cancelled because it is failed; only a created or in_progress job can be cancelled.`]);
    assert.equal(w.emu.requests.filter((q) => q.route === "cancel" && q.method === "DELETE").length, 1);

    const s = await world(t, { flow: "storage" });
    const other = await s.api.createJob({ type: "tweets" });
    const refused = await s.run(["cancel", other.id]);
    assert.equal(refused.code, 4);
    assert.equal(refused.stdout, "");
    assert.deepEqual(lines(refused.stderr), [
      `compliant: this API does not support cancelling jobs (404 on DELETE /2/compliance/jobs/${other.id}); the job stays as it is and ends on its own (an unused upload expires after 15 minutes).`,
    ]);
    assert.equal(s.emu.jobs()[0]!.status, "created");
  });

  it("a job given by name: the newest wins, with a warning when several match", async (t) => {
    const clock = manualClock(Date.now() - 120_000);
    const w = await world(t, { clock });
    const older = await completeJob(w, ids(3), "tweets", "dup");
    clock.advance(10_000);
    const newer = await w.api.createJob({ type: "users", name: "dup" });
    const dup = await w.run(["status", "dup", "--json"]);
    assertOk(dup, "status dup");
    assert.equal((JSON.parse(dup.stdout) as Job).id, newer.id);
    assert.deepEqual(lines(dup.stderr), [`warning: 2 jobs are named "dup"; using the newest, ${newer.id} (created ${newer.created_at})`]);
    assert.ok(older.created_at < newer.created_at);
  });

  it("--help lists the exit codes (exit 0); --version; an unknown command exits 2", async (t) => {
    const dir = await tempDir(t);
    const [help, version, unknown, sub, none, helpCmd] = await Promise.all([
      runCli(["--help"], { cwd: dir }),
      runCli(["--version"], { cwd: dir }),
      runCli(["bogus"], { cwd: dir }),
      runCli(["all", "--help"], { cwd: dir }),
      runCli([], { cwd: dir }),
      runCli(["help", "status"], { cwd: dir }),
    ]);
    assert.equal(help.code, 0);
    assert.equal(help.stderr, "");
    assert.ok(help.stdout.includes(EXIT_CODE_HELP), help.stdout);
    for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 130, 143]) assert.match(help.stdout, new RegExp(`^  ${code} +\\S`, "m"));
    for (const cmd of ["create", "list", "status", "upload", "download", "all", "cancel", "emulator"]) assert.match(help.stdout, new RegExp(`^  ${cmd}\\b`, "m"));
    assert.equal(version.code, 0);
    assert.equal(version.stdout, `${VERSION}\n`);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stdout, "");
    assert.equal(unknown.stderr, "compliant: unknown command 'bogus'\n(add --help to the command for usage)\n");
    assert.equal(sub.code, 0);
    assert.match(sub.stdout, /--ids-file <path>/);
    // No command at all is a usage error: the help goes to stderr and the exit code is 2.
    assert.equal(none.code, 2);
    assert.equal(none.stdout, "");
    assert.match(none.stderr, /^Usage: compliant \[options\] \[command\]/);
    assert.equal(helpCmd.code, 0);
    assert.match(helpCmd.stdout, /^Usage: compliant status \[options\] <job>/);
  });

  it("--emulator: the README quick start works without any token and says so on stderr", async (t) => {
    const dir = await tempDir(t);
    const r = await runCli(
      ["all", "--emulator", "--type", "tweets", "--ids-file", join(ROOT, "examples/tweet-ids.txt"), "--results-file", "results.ndjson", "--force"],
      { cwd: dir },
    );
    assertOk(r, "all --emulator");
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /using the built-in emulator at http:\/\/127\.0\.0\.1:\d+ \(--emulator\): no request goes to the real X API\n/);
    const list = (await readFile(join(ROOT, "examples/tweet-ids.txt"), "utf8")).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
    assert.equal(await readFile(join(dir, "results.ndjson"), "utf8"), expectedResultsFile(list, "tweets", "storage"));
  });

  for (const flow of ["storage", "api"] as EmulatorFlow[]) {
    it(`the bearer token never appears in any output, also with --verbose, and never goes to storage (${flow} flow)`, async (t) => {
      const token = `tok-${flow}-Zq8xV3mK7pL2wR9t`;
      const w = await world(t, { token, flow });
      const list = ids(40);
      await w.file("ids.txt", list.join("\n") + "\n");
      // On the api flow the results go to stdout (-o -), byte-identical to what the emulator serves.
      const out = flow === "api" ? "-" : "r.ndjson";
      const r = await w.run(["all", "--type", "users", "-i", "ids.txt", "-o", out, "--interval", "0.05", "--verbose"]);
      assertOk(r, "all --verbose");
      const expected = expectedResultsFile(list, "users", flow);
      assert.equal(flow === "api" ? r.stdout : await readFile(join(w.dir, "r.ndjson"), "utf8"), expected);
      if (flow === "api") assert.match(r.stderr, /summary \(job \d+, results in stdout\)/);
      assert.match(r.stderr, /debug: --> POST /);
      for (const text of [r.stdout, r.stderr]) {
        assert.ok(!text.includes(token), "token printed");
        assert.ok(!text.includes(token.slice(4)), "token fragment printed");
        assert.ok(!/X-Goog-Signature=(?!REDACTED)/.test(text), "a URL signature printed");
      }
      const storage = w.emu.requests.filter((q) => q.origin === "storage");
      if (flow === "storage") assert.ok(storage.length >= 2, "the upload and the download went to storage");
      else assert.equal(storage.length, 0);
      for (const q of storage) assert.equal(q.authorization, false, `${q.method} ${q.route} carried the token`);
      for (const q of w.emu.requests.filter((x) => x.origin === "api")) assert.equal(q.authorization, true);

      if (flow === "api") return;
      // A refused token is not echoed either, even with --verbose.
      const wrong = `bad-${token}`;
      const refused = await w.run(["list", "--verbose"], { env: { X_BEARER_TOKEN: wrong } });
      assert.equal(refused.code, 3);
      assert.ok(!refused.stderr.includes(token) && !refused.stdout.includes(token));
      // `list` asks for both types at once; whichever is refused first is reported.
      assert.match(
        refused.stderr,
        /^compliant: the API refused the bearer token when asked to list (tweets|users) jobs \(401 Unauthorized\); check that the token \(from X_BEARER_TOKEN, BEARER_TOKEN or --token-file\) is your App's current bearer token\.$/m,
      );
    });
  }

  it(".env in the working directory is read; the real environment wins over it", async (t) => {
    const w = await world(t);
    await w.file(".env", `X_BEARER_TOKEN=${w.emu.token}\nX_API_BASE_URL=${w.emu.apiUrl}\n`);
    const noEnv = { X_BEARER_TOKEN: undefined, X_API_BASE_URL: undefined };
    const [fromFile, envWins] = await Promise.all([
      runCli(["list", "--json"], { cwd: w.dir, env: { ...noEnv, BEARER_TOKEN: "ignored-fallback" } }),
      runCli(["list", "--json"], { cwd: w.dir, env: { X_BEARER_TOKEN: "from-the-real-env" } }),
    ]);
    assertOk(fromFile, "token from .env (its X_BEARER_TOKEN beats a BEARER_TOKEN)");
    assert.deepEqual(JSON.parse(fromFile.stdout), []);
    assert.equal(envWins.code, 3, "the real environment's (wrong) token was used");
    assert.match(envWins.stderr, /401 Unauthorized/);

    const d2 = await tempDir(t);
    await writeFile(join(d2, ".env"), `X_BEARER_TOKEN=wrong\nX_API_BASE_URL=${w.emu.apiUrl}\n`);
    const realWins = await runCli(["list", "--json"], { cwd: d2, env: { X_BEARER_TOKEN: w.emu.token } });
    assertOk(realWins, "real env beats .env");
  });
});
