import { existsSync } from "node:fs";
// End to end: every bad input ends with one clear sentence on stderr and exit 2, and creates no
// job (no POST), uploads nothing, and leaves an existing results file as it was.

import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ComplianceApi } from "../../src/api/client.js";
import type { Job } from "../../src/api/schemas.js";
import { formatInvalidExample, idFileMessages } from "../../src/io/id-messages.js";
import type { Emulator } from "../../src/emulator/server.js";
import { emuEnv, emulatorFor, runCli, tempDir, type CliResult } from "../helpers/cli.js";

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /;
const USAGE_HINT = "(add --help to the command for usage)";
const KEEP = "this results file must not change\n";

/** The notice naming a non-default API (every run here talks to the emulator). */
const API_NOTICE = /^using the API at http:\/\/127\.0\.0\.1:\d+ \(from X_API_BASE_URL in the environment\), not https:\/\/api\.x\.com$/;

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "").map((l) => l.replace(STAMP, "")).filter((l) => !API_NOTICE.test(l));
}

function ids(count: number, base = 1160404233650352000n): string[] {
  return Array.from({ length: count }, (_, i) => (base + BigInt(i)).toString());
}

interface Bench {
  dir: string;
  emu: Emulator;
  /** A created tweets job named "existing", for upload/download cases. */
  job: Job;
  /** A complete users job named "done", for download cases. */
  done: Job;
  /** emu.requests index after set-up: what the CLI did comes after it. */
  mark: number;
  run(args: string[], env?: Record<string, string | undefined>): Promise<CliResult>;
}

async function bench(t: TestContext): Promise<Bench> {
  const dir = await realpath(await tempDir(t, "compliant-bad-"));
  const emu = await emulatorFor(t);
  const api = new ComplianceApi(emu.apiUrl, { apiOrigin: emu.apiUrl, token: emu.token, userAgent: "compliant-test" });
  t.after(() => api.close());
  const job = await api.createJob({ type: "tweets", name: "existing" });
  const done = await api.createJob({ type: "users", name: "done" });
  const setupIds = join(dir, "setup.txt");
  await writeFile(setupIds, ids(5).join("\n") + "\n");
  await api.uploadIds(done, { path: setupIds, start: 0, end: 100 });
  assert.equal((await api.getJob(done.id)).status, "complete");

  await writeFile(join(dir, "ids.txt"), ids(10).join("\n") + "\n");
  await writeFile(join(dir, "empty.txt"), "");
  await writeFile(join(dir, "blank.txt"), "\n  \n\r\n");
  await mkdir(join(dir, "a-folder"));
  await writeFile(join(dir, "bad.txt"), ["1160404233650352000", "abc", "  1160404233650352001  ", "12345678901234567890", "", "1x", "-5", "1160404233650352002"].join("\n") + "\n");
  await writeFile(join(dir, "results.ndjson"), KEEP);
  return {
    dir,
    emu,
    job,
    done,
    mark: emu.requests.length,
    run: (args, env) => runCli(args, { cwd: dir, env: emuEnv(emu, env) }),
  };
}

const BAD_LINES = [
  formatInvalidExample(2, "abc"),
  formatInvalidExample(4, "12345678901234567890"),
  formatInvalidExample(6, "1x"),
  formatInvalidExample(7, "-5"),
];

/** Exit 2, nothing on stdout, stderr ending with `message`, and no side effects. */
async function assertRefused(b: Bench, r: CliResult, expectedStderr: string[]): Promise<void> {
  assert.equal(r.code, 2, `exit ${r.code}\nstderr: ${r.stderr}`);
  assert.equal(r.stdout, "");
  assert.deepEqual(lines(r.stderr), expectedStderr);
  if (expectedStderr.at(-1) === USAGE_HINT) {
    // commander's own parse errors: one line, then the pointer to --help.
    assert.match(expectedStderr.at(-2)!, /^compliant: [^\n]+$/);
  } else {
    assert.match(expectedStderr.at(-1)!, /^compliant: [^\n]+\.$/, "one sentence, ending with a full stop");
  }
  const after = b.emu.requests.slice(b.mark);
  assert.deepEqual(after.filter((q) => q.method === "POST").map((q) => q.route), [], "no job created");
  assert.deepEqual(
    after.filter((q) => q.route === "upload" || q.route.startsWith("resumable")).map((q) => q.route),
    [],
    "nothing uploaded",
  );
  assert.equal(b.emu.jobs().length, 2);
  assert.equal(b.emu.jobs().find((j) => j.name === "existing")!.status, "created");
  assert.equal(await readFile(join(b.dir, "results.ndjson"), "utf8"), KEEP, "the existing results file is unchanged");
}

describe("bad input: exit 2, one sentence, nothing created, uploaded or overwritten", { concurrency: 4 }, () => {
  it("missing token (neither X_BEARER_TOKEN nor BEARER_TOKEN)", async (t) => {
    const b = await bench(t);
    const msg =
      "compliant: no bearer token found; set X_BEARER_TOKEN (or BEARER_TOKEN) in the environment or .env, pass --token-file, or try the local emulator with --emulator.";
    const noToken = { X_BEARER_TOKEN: undefined };
    const [create, all, download] = await Promise.all([
      b.run(["create", "--type", "tweets"], noToken),
      b.run(["all", "--type", "tweets", "-i", "ids.txt", "-o", "new.ndjson"], noToken),
      b.run(["download", b.done.id, "results.ndjson", "--force"], { X_BEARER_TOKEN: "", BEARER_TOKEN: "  " }),
    ]);
    await assertRefused(b, create, [msg]);
    await assertRefused(b, all, ["checking ids.txt", "checked ids.txt: 10 IDs", msg]);
    // No run state or lock is left behind, so the next run does not claim to resume anything.
    assert.equal(existsSync(join(b.dir, ".state", "compliant")), false, "no state directory");
    await assertRefused(b, download, [msg]);
    assert.equal(b.emu.requests.length, b.mark, "not one request reached the API");
  });

  it("unknown --type", async (t) => {
    const b = await bench(t);
    const [create, all] = await Promise.all([
      b.run(["create", "--type", "posts"]),
      b.run(["all", "--type", "Tweets", "-i", "ids.txt", "-o", "new.ndjson"]),
    ]);
    const msg = (v: string) => `compliant: option '-t, --type <type>' argument '${v}' is invalid. Allowed choices are tweets, users.`;
    await assertRefused(b, create, [msg("posts"), USAGE_HINT]);
    await assertRefused(b, all, [msg("Tweets"), USAGE_HINT]);
    assert.equal(b.emu.requests.length, b.mark);
  });

  it("a job name that matches nothing", async (t) => {
    const b = await bench(t);
    const msg = 'compliant: no job named "nightly" was found among recent tweets and users jobs; run `compliant list` to see job ids and names.';
    const [upload, download, status] = await Promise.all([
      b.run(["upload", "nightly", "ids.txt"]),
      b.run(["download", "nightly", "new.ndjson"]),
      b.run(["status", "nightly", "--wait"]),
    ]);
    await assertRefused(b, upload, ["checking ids.txt", "checked ids.txt: 10 IDs", msg]);
    await assertRefused(b, download, [msg]);
    await assertRefused(b, status, [msg]);
    assert.deepEqual(await readFile(join(b.dir, "new.ndjson")).catch((e: NodeJS.ErrnoException) => e.code), "ENOENT");
  });

  for (const [what, file, message] of [
    ["a missing ID file", "missing.txt", idFileMessages.missing("missing.txt")],
    ["an unreadable ID file (a directory)", "a-folder", idFileMessages.directory("a-folder")],
    ["an empty ID file", "empty.txt", idFileMessages.empty("empty.txt")],
    ["an ID file of blank lines", "blank.txt", idFileMessages.empty("blank.txt")],
    ["lines that are not 1–19 digit IDs (line numbers and text reported)", "bad.txt", idFileMessages.invalid("bad.txt", 4, BAD_LINES)],
  ] as const) {
    it(what, async (t) => {
      const b = await bench(t);
      const thorough = file === "bad.txt" || file === "missing.txt";
      const runs = await Promise.all([
        b.run(["upload", b.job.id, file]),
        ...(thorough
          ? [
              b.run(["upload", "existing", "--ids-file", file]),
              // Even with --force, a bad ID file leaves the existing results alone.
              b.run(["all", "--type", "tweets", "--ids-file", file, "--results-file", "results.ndjson", "--force"]),
            ]
          : []),
      ]);
      for (const r of runs) await assertRefused(b, r, [`checking ${file}`, `compliant: ${message}`]);
    });
  }

  it("more than five invalid lines: the count is exact and the first five are quoted", async (t) => {
    const b = await bench(t);
    const body = ["1160404233650352000", ...Array.from({ length: 8 }, (_, i) => `id-${i}`), "x".repeat(60)].join("\n");
    await writeFile(join(b.dir, "many.txt"), body);
    const r = await b.run(["upload", b.job.id, "many.txt"]);
    const examples = [2, 3, 4, 5, 6].map((n) => formatInvalidExample(n, `id-${n - 2}`));
    await assertRefused(b, r, ["checking many.txt", `compliant: ${idFileMessages.invalid("many.txt", 9, examples)}`]);
  });

  it("`all` checks the whole ID file before it creates a job (a bad last line of 20 000)", async (t) => {
    const b = await bench(t);
    const list = ids(20_000);
    await writeFile(join(b.dir, "long.txt"), [...list, "1160404233650352000x"].join("\n"));
    const r = await b.run(["all", "--type", "tweets", "-i", "long.txt", "-o", "new.ndjson"]);
    await assertRefused(b, r, ["checking long.txt", `compliant: ${idFileMessages.invalid("long.txt", 1, [formatInvalidExample(20_001, "1160404233650352000x")])}`]);
    // Not even the token or the API was needed to refuse it.
    assert.equal(b.emu.requests.length, b.mark);
  });

  it("a results path whose folder does not exist", async (t) => {
    const b = await bench(t);
    const [download, all] = await Promise.all([
      b.run(["download", b.done.id, "no/such/folder/results.ndjson"]),
      b.run(["all", "--type", "tweets", "-i", "ids.txt", "-o", "nowhere/results.ndjson"]),
    ]);
    await assertRefused(b, download, [
      `compliant: cannot write the results file no/such/folder/results.ndjson: the folder ${join(b.dir, "no/such/folder")} does not exist or is not writable; create it or choose another path.`,
    ]);
    await assertRefused(b, all, [
      `compliant: cannot write the results file nowhere/results.ndjson: the folder ${join(b.dir, "nowhere")} does not exist or is not writable; create it or choose another path.`,
    ]);
    assert.deepEqual(b.emu.requests.slice(b.mark), [], "checked before any request");
  });

  it("an existing results file without --force", async (t) => {
    const b = await bench(t);
    const msg = "compliant: the results file results.ndjson already exists; pass --force to overwrite it, or choose another path.";
    const [download, all, byName] = await Promise.all([
      b.run(["download", b.done.id, "-o", "results.ndjson"]),
      b.run(["all", "--type", "tweets", "-i", "ids.txt", "-o", "results.ndjson"]),
      b.run(["download", "done", join(b.dir, "results.ndjson")]),
    ]);
    await assertRefused(b, download, [msg]);
    await assertRefused(b, all, [msg]);
    await assertRefused(b, byName, [msg.replace("results.ndjson already", `${join(b.dir, "results.ndjson")} already`)]);
    assert.deepEqual(b.emu.requests.slice(b.mark), [], "checked before any request");
    // A folder in place of the results file is refused too.
    const folder = await b.run(["download", b.done.id, "a-folder"]);
    await assertRefused(b, folder, ["compliant: the results path a-folder is a folder; give a file name such as a-folder/results.ndjson."]);
  });

  it("other usage errors: bad numbers, a name too long, an ID file given twice, a missing argument", async (t) => {
    const b = await bench(t);
    const [interval, timeout, name, twice, noIds, noResults, missingArg] = await Promise.all([
      b.run(["status", b.job.id, "--wait", "--interval", "0"]),
      b.run(["all", "--type", "tweets", "-i", "ids.txt", "-o", "new.ndjson", "--timeout", "soon"]),
      b.run(["create", "--type", "tweets", "--name", "n".repeat(65)]),
      b.run(["upload", b.job.id, "ids.txt", "--ids-file", "other.txt"]),
      b.run(["all", "--type", "tweets", "-o", "new.ndjson"]),
      b.run(["all", "--type", "tweets", "-i", "ids.txt"]),
      b.run(["status"]),
    ]);
    await assertRefused(b, interval, [
      "compliant: option '-i, --interval <seconds>' argument '0' is invalid. --interval must be a positive number of seconds, like 30 or 0.5.",
      USAGE_HINT,
    ]);
    await assertRefused(b, timeout, [
      "compliant: option '--timeout <seconds>' argument 'soon' is invalid. --timeout must be a positive number of seconds, like 30 or 0.5.",
      USAGE_HINT,
    ]);
    await assertRefused(b, name, ["compliant: the job name must be 1–64 characters long (got 65); choose a shorter --name."]);
    await assertRefused(b, twice, ["compliant: the ID file was given twice (ids.txt and --ids-file other.txt); pass it once."]);
    await assertRefused(b, noIds, ["compliant: no ID file given; pass --ids-file <path>, or - to read IDs from stdin."]);
    await assertRefused(b, noResults, ["compliant: no results file given; pass --results-file <path>, or - to write the results to stdout."]);
    await assertRefused(b, missingArg, ["compliant: missing required argument 'job'", USAGE_HINT]);
  });
});
