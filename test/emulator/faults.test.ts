import { test } from "node:test";
import assert from "node:assert/strict";
import { expectedResultsFile, manualClock, problems } from "../../src/emulator/server.js";
import { bearer, createJob, getJob, http, httpOutcome, json, putIds, sampleIds, startFor, xmlCode } from "./helpers.js";

test("status faults: JSON problem on the API origin, XML on storage, custom body and headers, times", async (t) => {
  const emu = await startFor(t);
  emu.fault({ match: { route: "create" }, times: 2, action: { type: "status", status: 503 } });
  for (let i = 0; i < 2; i++) {
    const r = await http(`${emu.apiUrl}/2/compliance/jobs`, { method: "POST", headers: bearer(emu), body: '{"type":"tweets"}' });
    assert.equal(r.status, 503);
    assert.equal(r.headers["content-type"], "application/problem+json");
    assert.deepEqual(json(r), { title: "Service Unavailable", detail: "Service Unavailable", type: "about:blank", status: 503 });
  }
  const job = await createJob(emu);
  emu.fault({ match: { origin: "storage", method: "PUT" }, action: { type: "status", status: 500 } });
  const s = await putIds(job.upload_url, "1\n");
  assert.equal(s.status, 500);
  assert.equal(xmlCode(s.text), "InternalError");
  emu.fault({ match: { route: "get" }, action: { type: "status", status: 403, body: problems.clientForbidden, headers: { "x-custom": "1" } } });
  const f = await http(`${emu.apiUrl}/2/compliance/jobs/${job.id}`, { headers: bearer(emu) });
  assert.equal(f.status, 403);
  assert.equal(f.headers["x-custom"], "1");
  assert.equal(json(f).reason, "client-not-enrolled");
  assert.equal((await getJob(emu, job.id)).data.status, "created");
});

test("rate-limit and usage-cap faults", async (t) => {
  const clock = manualClock(Date.UTC(2026, 1, 1));
  const emu = await startFor(t, { clock });
  emu.fault({ match: { route: "list" }, action: { type: "rate-limit", resetInSeconds: 30 } });
  const r = await http(`${emu.apiUrl}/2/compliance/jobs?type=tweets`, { headers: bearer(emu) });
  assert.equal(r.status, 429);
  assert.equal(r.headers["x-rate-limit-remaining"], "0");
  assert.equal(r.headers["x-rate-limit-reset"], String(Date.UTC(2026, 1, 1) / 1000 + 30));
  assert.equal(json(r).type, "about:blank");
  emu.fault({ match: { route: "list" }, action: { type: "usage-cap" } });
  const u = await http(`${emu.apiUrl}/2/compliance/jobs?type=tweets`, { headers: bearer(emu) });
  assert.equal(u.status, 429);
  assert.deepEqual(json(u), problems.usageCapped);
  assert.equal(json(u).type, "https://api.twitter.com/2/problems/usage-capped");
  assert.equal((await http(`${emu.apiUrl}/2/compliance/jobs?type=tweets`, { headers: bearer(emu) })).status, 200);
});

test("reset fault destroys the connection; every-Nth faults; clearFaults", async (t) => {
  const emu = await startFor(t);
  emu.fault({ match: { route: "get" }, action: { type: "reset" } });
  const out = await httpOutcome(`${emu.apiUrl}/2/compliance/jobs/1`, { headers: bearer(emu) });
  assert.ok(out instanceof Error);
  assert.equal(emu.requests.at(-1)!.status, 0);

  emu.fault({ match: { route: "get" }, every: 3, action: { type: "status", status: 502 } });
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await http(`${emu.apiUrl}/2/compliance/jobs/1`, { headers: bearer(emu) })).status);
  assert.deepEqual(statuses, [200, 200, 502, 200, 200, 502, 200]);
  emu.fault({ match: { route: "get" }, every: 2, times: 1, action: { type: "status", status: 504 } });
  emu.clearFaults();
  assert.equal((await http(`${emu.apiUrl}/2/compliance/jobs/1`, { headers: bearer(emu) })).status, 200);
  emu.fault({ match: { route: "get" }, every: 2, times: 1, action: { type: "status", status: 504 } });
  const s2: number[] = [];
  for (let i = 0; i < 5; i++) s2.push((await http(`${emu.apiUrl}/2/compliance/jobs/1`, { headers: bearer(emu) })).status);
  assert.deepEqual(s2, [200, 504, 200, 200, 200]);
});

test("cut-body on a download: full Content-Length, short body, then a closed socket; Range resumes", async (t) => {
  const emu = await startFor(t);
  const job = await createJob(emu);
  const ids = sampleIds(300);
  await putIds(job.upload_url, ids.join("\n"));
  await getJob(emu, job.id);
  const full = Buffer.from(expectedResultsFile(ids, "tweets", "storage"));
  emu.fault({ match: { route: "download" }, action: { type: "cut-body", afterBytes: 1000 } });
  const received: Buffer[] = [];
  const err = await new Promise<Error | undefined>((resolve) => {
    void import("node:http").then(({ get }) => {
      const req = get(job.download_url, { agent: false }, (res) => {
        assert.equal(res.headers["content-length"], String(full.length));
        res.on("data", (c: Buffer) => received.push(c));
        res.on("error", (e) => resolve(e));
        res.on("end", () => resolve(undefined));
        res.on("aborted", () => resolve(new Error("aborted")));
      });
      req.on("error", (e) => resolve(e));
    });
  });
  assert.ok(err instanceof Error);
  const got = Buffer.concat(received);
  assert.equal(got.length, 1000);
  const rest = await http(job.download_url, { headers: { range: `bytes=${got.length}-` } });
  assert.equal(rest.status, 206);
  assert.deepEqual(Buffer.concat([got, rest.body]), full);
});

test("stall fault delays the body after the headers", async (t) => {
  const emu = await startFor(t);
  emu.fault({ match: { route: "list" }, action: { type: "stall", ms: 150 } });
  const { get } = await import("node:http");
  const t0 = performance.now();
  const timing = await new Promise<{ headers: number; end: number; body: string }>((resolve, reject) => {
    get(`${emu.apiUrl}/2/compliance/jobs?type=tweets`, { headers: bearer(emu), agent: false }, (res) => {
      const headers = performance.now() - t0;
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ headers, end: performance.now() - t0, body }));
    }).on("error", reject);
  });
  assert.ok(timing.end >= 140, `body after ${timing.end} ms`);
  assert.ok(timing.end - timing.headers >= 100, `headers at ${timing.headers} ms, body at ${timing.end} ms`);
  assert.deepEqual(JSON.parse(timing.body), { meta: { result_count: 0 } });
});

test("drop-upload on a simple PUT: connection dies, nothing stored, retry succeeds", async (t) => {
  const emu = await startFor(t);
  const job = await createJob(emu);
  const body = sampleIds(20_000).join("\n");
  emu.fault({ match: { route: "upload" }, action: { type: "drop-upload", afterBytes: 5000 } });
  const out = await httpOutcome(job.upload_url, { method: "PUT", headers: { "content-type": "text/plain" }, body });
  assert.ok(out instanceof Error);
  const entry = emu.requests.at(-1)!;
  assert.equal(entry.status, 0);
  assert.equal(entry.bytesIn, 5000);
  assert.equal(emu.jobs()[0]!.status, "created");
  assert.equal((await putIds(job.upload_url, body)).status, 200);
  assert.equal(emu.jobs()[0]!.status, "in_progress");
});
