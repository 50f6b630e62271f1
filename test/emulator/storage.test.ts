import { test } from "node:test";
import assert from "node:assert/strict";
import { JobResponseSchema } from "../../src/api/schemas.js";
import { expectedResultsFile, manualClock } from "../../src/emulator/server.js";
import { bearer, createJob, getJob, http, putIds, sampleIds, startFor, xmlCode } from "./helpers.js";

test("storage flow: create → PUT → in_progress → complete → download equals the expected file", async (t) => {
  const emu = await startFor(t, { pollsToComplete: 2 });
  const job = await createJob(emu);
  const ids = sampleIds(250);
  const body = "\n" + ids.join("\r\n") + "\n\n";
  const put = await putIds(job.upload_url, body);
  assert.equal(put.status, 200);
  assert.equal(put.body.length, 0);
  assert.equal(put.headers["x-goog-stored-content-length"], String(Buffer.byteLength(body)));

  const p1 = await getJob(emu, job.id);
  assert.equal(p1.data.status, "in_progress");
  JobResponseSchema.parse(p1);
  // Results are not downloadable before the job is complete.
  const early = await http(job.download_url);
  assert.equal(early.status, 404);
  assert.equal(xmlCode(early.text), "NoSuchKey");
  const p2 = await getJob(emu, job.id);
  assert.equal(p2.data.status, "complete");
  assert.equal(p2.data.upload_url, job.upload_url); // URLs never change

  const dl = await http(job.download_url);
  assert.equal(dl.status, 200);
  assert.equal(dl.headers["content-type"], "application/octet-stream");
  assert.equal(dl.headers["accept-ranges"], "bytes");
  const expected = expectedResultsFile(ids, "tweets", "storage");
  assert.equal(dl.text, expected);
  assert.equal(dl.headers["content-length"], String(Buffer.byteLength(expected)));
  // Shape like the real files: blank third line, 30 events (d < 10 of 0..249), every action "delete".
  const lines = dl.text.split("\n");
  assert.equal(lines[2], "");
  assert.equal(lines.filter((l) => l !== "").length, 30);
  assert.ok(lines.filter((l) => l !== "").every((l) => JSON.parse(l).action === "delete"));

  const info = emu.jobs()[0]!;
  assert.equal(info.uploadedIds, 250);
  assert.equal(info.getPolls, 2);
  // The bearer token never reached the storage origin.
  assert.ok(emu.requests.filter((e) => e.origin === "storage").every((e) => !e.authorization));
  assert.deepEqual(
    emu.requests.map((e) => `${e.origin}:${e.route}:${e.status}`),
    ["api:create:200", "storage:upload:200", "api:get:200", "storage:download:404", "api:get:200", "storage:download:200"],
  );
});

test("users jobs use the users bucket and +00:00 timestamps", async (t) => {
  const emu = await startFor(t);
  const job = await createJob(emu, { type: "users" });
  const ids = ["38589770", "403485611", "1101688072863993800", "1101688072863993801", "1101688072863993809"];
  assert.equal((await putIds(job.upload_url, ids.join("\n"))).status, 200);
  assert.equal((await getJob(emu, job.id)).data.status, "complete");
  const dl = await http(job.download_url);
  assert.equal(dl.text, expectedResultsFile(ids, "users", "storage"));
  const first = JSON.parse(dl.text.split("\n")[0]!);
  assert.equal(first.created_at, "2019-03-02T03:37:59+00:00");
  assert.match(first.redacted_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
  assert.equal(JSON.parse(dl.text.split("\n")[3]!).reason, "deactivated");
});

test("upload Content-Type must be exactly text/plain (403 SignatureDoesNotMatch)", async (t) => {
  const emu = await startFor(t);
  const job = await createJob(emu);
  for (const ct of ["text/plain;charset=UTF-8", "application/octet-stream", "text/plain; charset=utf-8"]) {
    const r = await putIds(job.upload_url, "1\n", { "content-type": ct });
    assert.equal(r.status, 403, ct);
    assert.equal(xmlCode(r.text), "SignatureDoesNotMatch");
    assert.match(r.text, /^<\?xml version='1.0' encoding='UTF-8'\?><Error><Code>/);
  }
  // fetch() adds ";charset=UTF-8" to string bodies by default: the classic client bug.
  const viaFetch = await fetch(job.upload_url, { method: "PUT", body: "1\n" });
  assert.equal(viaFetch.status, 403);
  await viaFetch.arrayBuffer();
  // A tampered signature or path also fails.
  const tampered = job.upload_url.replace(/X-Goog-Signature=([0-9a-f])/, (_m, c: string) => `X-Goog-Signature=${c === "a" ? "b" : "a"}`);
  assert.equal((await putIds(tampered, "1\n")).status, 403);
  const otherPath = job.upload_url.replace("/submission/", "/delivery/");
  assert.equal((await putIds(otherPath, "1\n")).status, 403);
  assert.equal(emu.jobs()[0]!.status, "created");
  assert.equal((await putIds(job.upload_url, "1\n")).status, 200);
});

test("storage rejects an Authorization header, chunked bodies and oversize uploads", async (t) => {
  const emu = await startFor(t, { maxUploadBytes: 1000 });
  const job = await createJob(emu);
  const withAuth = await putIds(job.upload_url, "1\n", { authorization: `Bearer ${emu.token}` });
  assert.equal(withAuth.status, 400);
  assert.equal(xmlCode(withAuth.text), "InvalidArgument");
  assert.match(withAuth.text, /Multiple authentication methods/);
  const log = emu.requests.at(-1)!;
  assert.equal(log.authorization, true);
  assert.equal(JSON.stringify(log).includes(emu.token), false);

  const chunked = await http(job.upload_url, { method: "PUT", headers: { "content-type": "text/plain" }, body: "1\n", chunked: true });
  assert.equal(chunked.status, 411);
  assert.equal(xmlCode(chunked.text), "MissingContentLength");
  assert.equal(emu.requests.at(-1)!.chunked, true);

  const big = await putIds(job.upload_url, "1\n".repeat(501));
  assert.equal(big.status, 413);
  assert.equal(emu.jobs()[0]!.status, "created");
});

test("expired upload URL: 400 ExpiredToken, job reads expired and no longer blocks", async (t) => {
  const clock = manualClock(Date.UTC(2026, 2, 3, 4, 5, 6, 789));
  const emu = await startFor(t, { clock });
  const job = await createJob(emu);
  assert.equal(job.created_at, "2026-03-03T04:05:06.000Z");
  clock.advance(14 * 60 * 1000);
  assert.equal((await getJob(emu, job.id)).data.status, "created");
  clock.advance(2 * 60 * 1000);
  const r = await putIds(job.upload_url, "1\n");
  assert.equal(r.status, 400);
  assert.equal(xmlCode(r.text), "ExpiredToken");
  assert.match(r.text, /<Message>The provided token has expired.<\/Message>/);
  assert.equal((await getJob(emu, job.id)).data.status, "expired");
  await createJob(emu);
});

test("download: Range 206, suffix range, 416, HEAD, expiry after 7 days", async (t) => {
  const clock = manualClock(Date.UTC(2026, 0, 10));
  const emu = await startFor(t, { clock });
  const job = await createJob(emu);
  const ids = sampleIds(100);
  await putIds(job.upload_url, ids.join("\n") + "\n");
  assert.equal((await getJob(emu, job.id)).data.status, "complete");
  const full = Buffer.from(expectedResultsFile(ids, "tweets", "storage"));

  const part = await http(job.download_url, { headers: { range: "bytes=100-" } });
  assert.equal(part.status, 206);
  assert.equal(part.headers["content-range"], `bytes 100-${full.length - 1}/${full.length}`);
  assert.deepEqual(part.body, full.subarray(100));
  const mid = await http(job.download_url, { headers: { range: "bytes=10-19" } });
  assert.deepEqual(mid.body, full.subarray(10, 20));
  const suffix = await http(job.download_url, { headers: { range: "bytes=-5" } });
  assert.deepEqual(suffix.body, full.subarray(full.length - 5));
  const bad = await http(job.download_url, { headers: { range: `bytes=${full.length}-` } });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers["content-range"], `bytes */${full.length}`);
  const head = await http(job.download_url, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers["content-length"], String(full.length));
  assert.equal(emu.requests.at(-1)!.route, "download");

  clock.advance(7 * 24 * 3600 * 1000 + 1000);
  const late = await http(job.download_url);
  assert.equal(late.status, 400);
  assert.equal(xmlCode(late.text), "ExpiredToken");
});

test("uploads only while created; invalid IDs and empty files fail the job; failJob/expireJob", async (t) => {
  const emu = await startFor(t);
  const a = await createJob(emu);
  await putIds(a.upload_url, "123\n456\nabc\n789\n");
  const again = await putIds(a.upload_url, "1\n");
  assert.equal(again.status, 403);
  assert.equal(xmlCode(again.text), "AccessDenied");
  const failed = (await getJob(emu, a.id)).data;
  assert.equal(failed.status, "failed");
  assert.equal(failed.error, "invalid ID on line 3");
  assert.equal((await http(a.download_url)).status, 404);

  const b = await createJob(emu);
  await putIds(b.upload_url, "");
  assert.deepEqual([(await getJob(emu, b.id)).data.status, (await getJob(emu, b.id)).data.error], ["failed", "no IDs"]);

  const c = await createJob(emu);
  await putIds(c.upload_url, "12345678901234567890\n");
  assert.equal((await getJob(emu, c.id)).data.error, "invalid ID on line 1");

  const d = await createJob(emu);
  emu.failJob(d.id, "boom");
  assert.deepEqual([(await getJob(emu, d.id)).data.status, (await getJob(emu, d.id)).data.error], ["failed", "boom"]);
  const e = await createJob(emu, { type: "tweets" });
  emu.expireJob(e.id);
  const expired = (await getJob(emu, e.id)).data;
  assert.equal(expired.status, "expired");
  assert.equal("error" in expired, false);

  // No matching IDs → complete with a 0-byte results file.
  const f = await createJob(emu);
  await putIds(f.upload_url, "10\n11\n");
  assert.equal((await getJob(emu, f.id)).data.status, "complete");
  const dl = await http(f.download_url);
  assert.equal(dl.status, 200);
  assert.equal(dl.body.length, 0);
  assert.deepEqual(bearer(emu).authorization, `Bearer ${emu.token}`);
});
