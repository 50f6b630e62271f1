// The API as it was at the end of 2026 (OpenAPI 2.168 and the failures reported in September
// 2026), against the emulator's api flow: a 400 to `resumable`, a 404 on the upload byte path,
// and an upload URL whose host moved between create and upload.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { expectedResultsFile } from "../../src/emulator/server.js";
import { emuEnv, runCli, tempDir } from "../helpers/cli.js";
import { sampleIds } from "../emulator/helpers.js";
import { ls, read, routes, setup, show } from "./unattended-helpers.js";

const FALLBACK = /the API refused a resumable upload \(400[^)]*\), so nothing was created; creating the job without --resumable, and its IDs go up in one PUT/;

test("all --resumable on an API that answers resumable 400: one warning, one job made without it, one PUT, the exact results", async (t) => {
  const s = await setup(t, { flow: "api" });
  const r = await s.run(s.args("--resumable"));
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stderr.split("\n").filter((l) => FALLBACK.test(l)).length, 1, show(r));
  assert.deepEqual(routes(s.emu.requests, "create").map((q) => q.status), [400, 200]);
  assert.equal(s.emu.jobs().length, 1);
  assert.equal(s.emu.jobs()[0]!.resumable, false);
  assert.equal(routes(s.emu.requests, "upload").length, 1);
  assert.equal(await read(s.results), s.expected());
  assert.deepEqual(await ls(s.stateDir), []);
});

test("create --resumable on such an API prints the job it made without it, and says so", async (t) => {
  const s = await setup(t, { flow: "api" });
  const r = await s.run(["create", "--type", "tweets", "--resumable"]);
  assert.equal(r.code, 0, show(r));
  const [job] = s.emu.jobs();
  assert.equal(r.stdout, `${job!.id}\n`);
  assert.match(r.stderr, FALLBACK);
  assert.equal(job!.resumable, false);
});

test("a 404 on the upload byte path is exit 4 with one sentence, and no IDs reach the job", async (t) => {
  const s = await setup(t, { flow: "api" });
  s.emu.fault({ match: { route: "upload" }, times: 10, action: { type: "status", status: 404 } });
  const job = JSON.parse((await s.run(["create", "--type", "tweets", "--json"])).stdout) as { id: string };
  const r = await s.run(["upload", job.id, s.idsFile]);
  assert.equal(r.code, 4, show(r));
  assert.equal(r.stdout, "");
  assert.deepEqual(r.stderr.split("\n").filter((l) => l.startsWith("compliant:")), [
    `compliant: the API answered 404 Not Found to the upload of job ${job.id} on its own upload path (PUT /2/compliance/jobs/${job.id}/upload, sent with the bearer token and the URL's signed token), so no IDs were uploaded and the job will expire unused; this is the API's fault, not the file's: try again later with a new job, and if it persists, report it to X.`,
  ]);
  assert.equal(routes(s.emu.requests, "upload").length, 1, "a 404 is not retried");
  assert.equal(s.emu.jobs()[0]!.status, "created");
});

test("an upload URL whose host changed since the job was created is not followed: exit 4, one sentence, nothing uploaded", async (t) => {
  const s = await setup(t, { flow: "api" });
  // The first run makes its job, and every attempt of its upload is answered 503: exit 5, state kept.
  s.emu.fault({ match: { route: "upload" }, times: 5, action: { type: "status", status: 503 } });
  const first = await s.run(s.args());
  assert.equal(first.code, 5, show(first));
  assert.equal(s.emu.jobs()[0]!.status, "created");
  // The run's record says the upload URL was on another host when the job was made.
  const [name] = (await ls(s.stateDir)).filter((f) => f.endsWith(".json"));
  const file = join(s.stateDir, name!);
  const state = JSON.parse(await readFile(file, "utf8")) as { parts: Array<{ uploadOrigin?: string; jobId?: string }> };
  assert.equal(state.parts[0]!.uploadOrigin, new URL(s.emu.apiUrl).origin);
  state.parts[0]!.uploadOrigin = "https://storage.googleapis.com";
  await writeFile(file, JSON.stringify(state));
  s.emu.clearFaults();
  const uploadsBefore = routes(s.emu.requests, "upload").length;

  const second = await runCli(s.args(), { cwd: s.dir, env: emuEnv(s.emu) });
  assert.equal(second.code, 4, show(second));
  const jobId = state.parts[0]!.jobId!;
  assert.ok(
    second.stderr.includes(
      `compliant: the upload URL of job ${jobId} points at ${new URL(s.emu.apiUrl).origin} now, not at https://storage.googleapis.com as when the job was created, so its IDs were not sent there; the job is left to expire unused. Run the same command with --no-resume to start a new job for these IDs.`,
    ),
    show(second),
  );
  assert.equal(routes(s.emu.requests, "upload").length, uploadsBefore, "nothing was sent");
});

test("--emulator --emulator-flow api runs `all` on the API-origin flow; --emulator-flow alone is exit 2 and starts nothing", async (t) => {
  const dir = await tempDir(t);
  const ids = sampleIds(40);
  await writeFile(join(dir, "ids.txt"), ids.join("\n") + "\n");
  const r = await runCli(["all", "--emulator", "--emulator-flow", "api", "--type", "tweets", "-i", "ids.txt", "-o", "r.ndjson"], { cwd: dir });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /using the built-in emulator at http:\/\/127\.0\.0\.1:\d+ \(--emulator --emulator-flow api\)/);
  assert.equal(await read(join(dir, "r.ndjson")), expectedResultsFile(ids, "tweets", "api"));

  const before = await ls(dir);
  const alone = await runCli(["all", "--emulator-flow", "api", "--type", "tweets", "-i", "ids.txt", "-o", "s.ndjson"], { cwd: dir });
  assert.equal(alone.code, 2);
  assert.equal(alone.stdout, "");
  assert.equal(alone.stderr, "compliant: --emulator-flow chooses the flow of the built-in emulator, so it needs --emulator; add --emulator, or drop --emulator-flow.\n");
  assert.deepEqual(await ls(dir), before, "nothing was created");
});

test("the byte paths' token is a secret: create, status and list --json show it redacted", async (t) => {
  const s = await setup(t, { flow: "api" });
  const created = await s.run(["create", "--type", "tweets", "--json"]);
  assert.equal(created.code, 0, show(created));
  const [job] = s.emu.jobs();
  const status = await s.run(["status", job!.id, "--json"]);
  const list = await s.run(["list", "--json"]);
  for (const r of [created, status, list]) {
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /\/upload\?token=REDACTED"/);
    assert.match(r.stdout, /\/download\?token=REDACTED"/);
    assert.doesNotMatch(r.stdout, /token=(?!REDACTED)/);
  }
});
