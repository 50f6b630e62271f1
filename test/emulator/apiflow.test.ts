import { test } from "node:test";
import assert from "node:assert/strict";
import { JobResponseSchema } from "../../src/api/schemas.js";
import { ResultLineSchema } from "../../src/io/result-line.js";
import { expectedResultsFile } from "../../src/emulator/server.js";
import { bearer, createJob, getJob, http, json, sampleIds, startFor } from "./helpers.js";

test("api flow: upload and download on the API origin with the bearer token", async (t) => {
  const emu = await startFor(t, { flow: "api", octetStreamOnly: false });
  const job = await createJob(emu);
  // OpenAPI 2.168: the byte paths carry a signed token (api2168.test.ts checks it in detail).
  assert.match(job.upload_url, new RegExp(`^${emu.apiUrl}/2/compliance/jobs/${job.id}/upload\\?token=[\\w-]+$`));
  assert.match(job.download_url, new RegExp(`^${emu.apiUrl}/2/compliance/jobs/${job.id}/download\\?token=[\\w-]+$`));
  const ids = [...sampleIds(120), "0", "9223372036854775807", "9223372036854775808"];
  const body = ids.join("\n") + "\n";

  assert.equal((await http(job.upload_url, { method: "PUT", headers: { "content-type": "text/plain" }, body })).status, 401);
  // With octetStreamOnly off, application/octet-stream (2.168) and text/plain (an older client's) are accepted.
  const wrongType = await http(job.upload_url, { method: "PUT", headers: bearer(emu, { "content-type": "application/json" }), body });
  assert.equal(wrongType.status, 415);
  assert.equal(wrongType.headers["content-type"], "application/problem+json");
  const chunked = await http(job.upload_url, { method: "PUT", headers: bearer(emu, { "content-type": "text/plain" }), body, chunked: true });
  assert.equal(chunked.status, 411);
  const early = await http(job.download_url, { headers: bearer(emu) });
  assert.equal(early.status, 409);
  assert.equal(json(early).type, "https://api.twitter.com/2/problems/conflict");

  const up = await http(job.upload_url, { method: "PUT", headers: bearer(emu, { "content-type": "text/plain" }), body });
  assert.equal(up.status, 200);
  assert.equal(JobResponseSchema.parse(json(up)).data.status, "in_progress");
  assert.equal((await getJob(emu, job.id)).data.status, "complete");

  assert.equal((await http(job.download_url)).status, 401);
  const dl = await http(job.download_url, { headers: bearer(emu) });
  assert.equal(dl.status, 200);
  assert.equal(dl.headers["content-type"], "application/octet-stream");
  assert.equal(dl.text, expectedResultsFile(ids, "tweets", "api"));
  const lines = dl.text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  for (const l of lines) ResultLineSchema.parse(l);
  // The first lines end with the three extra IDs; the second lines of duplicated IDs follow.
  const last = lines.findIndex((l) => l.id === "9223372036854775808");
  assert.deepEqual(lines.slice(last - 2, last + 1), [
    { id: "0", error: "invalid_id" },
    lines[last - 1],
    { id: "9223372036854775808", error: "invalid_id" },
  ]);
  assert.equal(lines[last - 1].error, undefined);
  assert.ok(lines.some((l) => l.action === "scrub_geo" && l.reason === "geo_scrubbed"));
  assert.ok(lines.some((l) => l.reason === "deleted" && l.redacted_at === null && "deleted_at" in l));
  assert.ok(lines.some((l) => l.reason === "deleted" && typeof l.redacted_at === "string" && l.deleted_at === l.redacted_at));
  const range = await http(job.download_url, { headers: bearer(emu, { range: "bytes=5-" }) });
  assert.equal(range.status, 206);
  assert.equal(range.text, dl.text.slice(5));
  assert.equal(emu.requests.filter((e) => e.route === "upload").length, 4);
});

test("api flow: 413 above maxUploadBytes, 409 when not created, nothing uploaded on the storage origin", async (t) => {
  const emu = await startFor(t, { flow: "api", maxUploadBytes: 100, octetStreamOnly: false });
  const job = await createJob(emu);
  const big = await http(job.upload_url, { method: "PUT", headers: bearer(emu, { "content-type": "text/plain" }), body: "1\n".repeat(51) });
  assert.equal(big.status, 413);
  assert.equal(json(big).status, 413);
  const ok = await http(job.upload_url, { method: "PUT", headers: bearer(emu, { "content-type": "text/plain; charset=utf-8" }), body: "1\n" });
  assert.equal(ok.status, 200);
  const again = await http(job.upload_url, { method: "PUT", headers: bearer(emu, { "content-type": "text/plain" }), body: "1\n" });
  assert.equal(again.status, 409);
  assert.equal(emu.requests.filter((e) => e.origin === "storage").length, 0);
  const unknown = await http(`${emu.apiUrl}/2/compliance/jobs/1234/upload`, { method: "PUT", headers: bearer(emu, { "content-type": "text/plain" }), body: "1\n" });
  assert.equal(unknown.status, 404);
});
