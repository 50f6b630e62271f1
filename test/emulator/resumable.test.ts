import { test } from "node:test";
import assert from "node:assert/strict";
import { expectedResultsFile } from "../../src/emulator/server.js";
import { createJob, getJob, http, httpOutcome, putIds, sampleIds, startFor, xmlCode } from "./helpers.js";

const CHUNK = 262_144;
const startHeaders = { "content-type": "text/plain", "content-length": 0, "x-goog-resumable": "start" };

function idFile(count: number): { ids: string[]; body: Buffer } {
  const ids = sampleIds(count);
  return { ids, body: Buffer.from(ids.join("\n") + "\n") };
}

test("resumable: start 201 + Location, 308 with Range, status queries, final 200, results", async (t) => {
  const emu = await startFor(t);
  const job = await createJob(emu, { type: "tweets", resumable: true });
  assert.equal(job.resumable, true);
  assert.match(job.upload_url, /X-Goog-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bx-goog-resumable&/);

  // A simple PUT to a resumable URL does not match its signature.
  assert.equal((await putIds(job.upload_url, "1\n")).status, 403);
  // Missing x-goog-resumable header: signature mismatch too.
  const noHeader = await http(job.upload_url, { method: "POST", headers: { "content-type": "text/plain", "content-length": 0 } });
  assert.equal(noHeader.status, 403);

  const start = await http(job.upload_url, { method: "POST", headers: startHeaders });
  assert.equal(start.status, 201);
  const session = String(start.headers.location);
  assert.ok(session.startsWith(`${job.upload_url}&upload_id=`));

  const { ids, body } = idFile(30_000); // 600_000 bytes: 2 full chunks + a tail
  const total = body.length;
  const q0 = await http(session, { method: "PUT", headers: { "content-range": `bytes */${total}` } });
  assert.equal(q0.status, 308);
  assert.equal(q0.headers.range, undefined);

  const c1 = await http(session, { method: "PUT", headers: { "content-range": `bytes 0-${CHUNK - 1}/${total}` }, body: body.subarray(0, CHUNK) });
  assert.equal(c1.status, 308);
  assert.equal(c1.headers.range, `bytes=0-${CHUNK - 1}`);
  // Non-multiple non-final chunk: 400.
  const odd = await http(session, { method: "PUT", headers: { "content-range": `bytes ${CHUNK}-${CHUNK + 99}/${total}` }, body: body.subarray(CHUNK, CHUNK + 100) });
  assert.equal(odd.status, 400);
  // Re-sending bytes already persisted is harmless.
  const c2 = await http(session, {
    method: "PUT",
    headers: { "content-range": `bytes 0-${2 * CHUNK - 1}/*` },
    body: body.subarray(0, 2 * CHUNK),
  });
  assert.equal(c2.status, 308);
  assert.equal(c2.headers.range, `bytes=0-${2 * CHUNK - 1}`);
  const q1 = await http(session, { method: "PUT", headers: { "content-range": "bytes */*" } });
  assert.equal(q1.status, 308);
  assert.equal(q1.headers.range, `bytes=0-${2 * CHUNK - 1}`);
  assert.equal(emu.jobs()[0]!.status, "created");

  const last = await http(session, {
    method: "PUT",
    headers: { "content-range": `bytes ${2 * CHUNK}-${total - 1}/${total}` },
    body: body.subarray(2 * CHUNK),
  });
  assert.equal(last.status, 200);
  const done = await http(session, { method: "PUT", headers: { "content-range": "bytes */*" } });
  assert.equal(done.status, 200);
  assert.equal(emu.jobs()[0]!.uploadedBytes, total);
  assert.equal((await getJob(emu, job.id)).data.status, "complete");
  assert.equal((await http(job.download_url)).text, expectedResultsFile(ids, "tweets", "storage"));
  assert.deepEqual(
    emu.requests.filter((e) => e.origin === "storage").map((e) => e.route),
    ["upload", "resumable-start", "resumable-start", "resumable-chunk", "resumable-chunk", "resumable-chunk", "resumable-chunk", "resumable-chunk", "resumable-chunk", "resumable-chunk", "download"],
  );
});

test("resumable: resume after a dropped upload keeps whole 256 KiB units", async (t) => {
  const emu = await startFor(t);
  const job = await createJob(emu, { type: "users", resumable: true });
  const session = String((await http(job.upload_url, { method: "POST", headers: startHeaders })).headers.location);
  const { ids, body } = idFile(40_000);
  const total = body.length;
  emu.fault({ match: { route: "resumable-chunk" }, action: { type: "drop-upload", afterBytes: CHUNK + 1000 } });
  const dropped = await httpOutcome(session, { method: "PUT", headers: { "content-range": `bytes 0-${total - 1}/${total}` }, body });
  assert.ok(dropped instanceof Error);
  assert.equal(emu.requests.at(-1)!.status, 0);

  const q = await http(session, { method: "PUT", headers: { "content-range": `bytes */${total}` } });
  assert.equal(q.status, 308);
  assert.equal(q.headers.range, `bytes=0-${CHUNK - 1}`);
  const rest = await http(session, { method: "PUT", headers: { "content-range": `bytes ${CHUNK}-${total - 1}/${total}` }, body: body.subarray(CHUNK) });
  assert.equal(rest.status, 200);
  assert.equal((await getJob(emu, job.id)).data.status, "complete");
  assert.equal((await http(job.download_url)).text, expectedResultsFile(ids, "users", "storage"));
});

test("resumable: drop before 256 KiB persists nothing (308 without Range); DELETE → 499; unknown session 404", async (t) => {
  const emu = await startFor(t);
  const job = await createJob(emu, { type: "tweets", resumable: true });
  const session = String((await http(job.upload_url, { method: "POST", headers: startHeaders })).headers.location);
  const body = Buffer.from(sampleIds(1000).join("\n"));
  emu.fault({ match: { route: "resumable-chunk", origin: "storage" }, action: { type: "drop-upload", afterBytes: 100 } });
  assert.ok((await httpOutcome(session, { method: "PUT", headers: { "content-range": `bytes 0-${body.length - 1}/${body.length}` }, body })) instanceof Error);
  const q = await http(session, { method: "PUT", headers: { "content-range": "bytes */*" } });
  assert.equal(q.status, 308);
  assert.equal(q.headers.range, undefined);

  const del = await http(session, { method: "DELETE" });
  assert.equal(del.status, 499);
  const gone = await http(session, { method: "PUT", headers: { "content-range": "bytes */*" } });
  assert.equal(gone.status, 404);
  assert.equal(xmlCode(gone.text), "NoSuchUpload");
  assert.equal(emu.jobs()[0]!.status, "created");
  // A new session still works, whole file in one PUT without Content-Range.
  const s2 = String((await http(job.upload_url, { method: "POST", headers: startHeaders })).headers.location);
  assert.equal((await http(s2, { method: "PUT", headers: { "content-type": "text/plain" }, body })).status, 200);
  assert.equal(emu.jobs()[0]!.status, "in_progress");
});
