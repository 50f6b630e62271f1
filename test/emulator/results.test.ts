import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { ResultLineSchema } from "../../src/io/result-line.js";
import { expectedEvent, expectedResultsFile, processIdFile, renderResultLine, snowflakeMs } from "../../src/emulator/server.js";
import { runEmulator } from "../../src/emulator/main.js";
import { bearer, http, json } from "./helpers.js";

test("expectedEvent: reason by ID mod 100, actions per flow, timestamps", () => {
  const base = "11604042336503521";
  const reasons = (type: "tweets" | "users") =>
    Array.from({ length: 10 }, (_, d) => (expectedEvent(`${base}0${d}`, type, "storage") as { reason: string }).reason);
  assert.deepEqual(reasons("tweets"), ["deleted", "deleted", "deleted", "deleted", "deleted", "protected", "protected", "suspended", "suspended", "scrub_geo"]);
  assert.deepEqual(reasons("users"), ["deleted", "deleted", "deleted", "deleted", "deleted", "protected", "protected", "suspended", "suspended", "deactivated"]);
  for (let d = 10; d < 100; d++) assert.equal(expectedEvent(`${base}${d}`, "tweets", "storage"), null);
  assert.equal(expectedEvent("5", "tweets", "storage")?.constructor, Object);

  // The real recording: tweet 1160164553482756096 was created 2019-08-10T12:22:39.022Z.
  assert.equal(new Date(snowflakeMs("1160164553482756096")).toISOString(), "2019-08-10T12:22:39.022Z");
  assert.equal(expectedEvent("1160164553482756096", "tweets", "storage"), null);
  const tweet = expectedEvent("1160164553482756000", "tweets", "storage");
  assert.equal(renderResultLine(tweet!), '{"id":"1160164553482756000","action":"delete","created_at":"2019-08-10T12:22:39.022Z","redacted_at":"2019-09-09T12:22:51.367Z","reason":"deleted"}');
  const user = expectedEvent("1101688072863993807", "users", "storage");
  assert.equal(renderResultLine(user!), '{"id":"1101688072863993807","action":"delete","created_at":"2019-03-02T03:37:59+00:00","reason":"suspended"}');
  assert.equal((expectedEvent("4194303", "tweets", "storage") as { created_at: string }).created_at, "2010-11-04T01:42:54.657Z");

  assert.equal((expectedEvent("1160164553482756009", "tweets", "storage") as { action: string }).action, "delete");
  assert.equal((expectedEvent("1160164553482756009", "tweets", "api") as { action: string }).action, "scrub_geo");
  assert.deepEqual(expectedEvent("0", "tweets", "api"), { id: "0", error: "invalid_id" });
  assert.deepEqual(expectedEvent("9999999999999999999", "users", "api"), { id: "9999999999999999999", error: "invalid_id" });
  assert.notEqual((expectedEvent("9223372036854775807", "users", "api") as { error?: string }).error, "invalid_id");
  const apiDeleted = expectedEvent("1160164553482756004", "tweets", "api") as unknown as Record<string, unknown>;
  assert.equal(apiDeleted.redacted_at, null);
  assert.equal(apiDeleted.deleted_at, null);
  for (const id of ["0", "9223372036854775808", "1160164553482756004", "1160164553482756001", "38589770"]) {
    for (const flow of ["storage", "api"] as const) {
      const ev = expectedEvent(id, "users", flow);
      if (ev !== null) ResultLineSchema.parse(JSON.parse(renderResultLine(ev)));
    }
  }
});

test("expectedResultsFile: input order, one blank line after the second line", () => {
  const ids = ["100", "201", "302", "404", "555", "606"];
  const file = expectedResultsFile(ids, "tweets", "storage");
  const lines = file.split("\n");
  assert.equal(lines[2], "");
  assert.deepEqual(lines.filter((l) => l !== "").map((l) => JSON.parse(l).id), ["100", "201", "302", "404", "606"]);
  assert.ok(file.endsWith("}\n"));
  assert.equal(expectedResultsFile(["10"], "tweets", "storage"), "");
});

test("processIdFile matches expectedResultsFile for random IDs in every flow and type", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "emu-results-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ids: string[] = [];
  let x = 123456789n;
  for (let i = 0; i < 5000; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
    const s = x.toString();
    ids.push(s.slice(0, 1 + (i % 19)));
  }
  ids.push("0", "000", "9223372036854775807", "9223372036854775808", "9999999999999999999", "4194303", "4194304");
  const input = join(dir, "ids.txt");
  await writeFile(input, "\n" + ids.join("\r\n") + "\n\n");
  for (const type of ["tweets", "users"] as const) {
    for (const flow of ["storage", "api"] as const) {
      const out = join(dir, `${type}-${flow}.ndjson`);
      const r = await processIdFile(input, out, type, flow);
      assert.equal(r.ids, ids.length);
      assert.equal(await readFile(out, "latin1"), expectedResultsFile(ids, type, flow), `${type}/${flow}`);
    }
  }
  await writeFile(input, "1\n2\n\n 3\n");
  assert.equal((await processIdFile(input, join(dir, "x"), "tweets", "storage")).error, "invalid ID on line 4");
  await writeFile(input, "\n\r\n");
  assert.equal((await processIdFile(input, join(dir, "x"), "tweets", "storage")).error, "no IDs");
  await writeFile(input, "1\n" + "9".repeat(100));
  assert.equal((await processIdFile(input, join(dir, "x"), "tweets", "storage")).error, "invalid ID on line 2");
});

test("runEmulator prints eval-able settings and stops when the signal aborts", async () => {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c: Buffer) => (out += c.toString()));
  stderr.on("data", (c: Buffer) => (err += c.toString()));
  const ac = new AbortController();
  const running = runEmulator({ flow: "api", polls: 2, token: "emu-test-token" }, { stdout, stderr, signal: ac.signal });
  while (!out.includes("X_BEARER_TOKEN")) await new Promise((r) => setTimeout(r, 5));
  const m = /^X_API_BASE_URL=(http:\/\/127\.0\.0\.1:\d+)\nX_BEARER_TOKEN=emu-test-token\n$/.exec(out);
  assert.ok(m, out);
  assert.match(err, /emulator/);
  const base = m[1]!;
  const r = await http(`${base}/2/compliance/jobs`, { method: "POST", headers: { authorization: "Bearer emu-test-token" }, body: '{"type":"users"}' });
  assert.equal(r.status, 200);
  assert.match(json(r).data.upload_url, /\/upload\?token=[\w-]+$/);
  assert.equal(bearer({ token: "x" } as never).authorization, "Bearer x");
  ac.abort();
  await running;
  const after = await http(`${base}/2/compliance/jobs?type=users`).catch((e: Error) => e);
  assert.ok(after instanceof Error);
});
