import { test } from "node:test";
import assert from "node:assert/strict";
import { JobListResponseSchema, JobResponseSchema, JobSchema } from "../../src/api/schemas.js";
import { manualClock, problems } from "../../src/emulator/server.js";
import { bearer, createJob, getJob, http, json, startFor } from "./helpers.js";

test("create, get and list responses have the recorded shapes", async (t) => {
  const emu = await startFor(t);
  const r = await http(`${emu.apiUrl}/2/compliance/jobs`, {
    method: "POST",
    headers: bearer(emu, { "content-type": "application/json" }),
    body: JSON.stringify({ type: "tweets" }),
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers["content-type"], "application/json; charset=utf-8");
  assert.ok(r.headers["x-response-time"]);
  const created = JobResponseSchema.parse(json(r)).data;
  assert.match(created.id, /^[0-9]{19}$/);
  assert.equal(created.status, "created");
  assert.equal(created.resumable, false);
  assert.equal("name" in created, false);
  assert.equal("error" in created, false);
  assert.match(created.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
  const c = Date.parse(created.created_at);
  assert.equal(Date.parse(created.upload_expires_at) - c, 15 * 60 * 1000);
  assert.equal(Date.parse(created.download_expires_at) - c, 7 * 24 * 3600 * 1000);
  const up = new URL(created.upload_url);
  assert.equal(up.origin, emu.storageUrl);
  assert.equal(up.pathname, `/twttr-tweet-compliance/${created.id}/submission/1400000000000000001_${created.id}`);
  assert.equal(up.searchParams.get("X-Goog-Algorithm"), "GOOG4-RSA-SHA256");
  assert.equal(up.searchParams.get("X-Goog-Expires"), "900");
  assert.equal(up.searchParams.get("X-Goog-SignedHeaders"), "content-type;host");
  assert.match(created.upload_url, /X-Goog-SignedHeaders=content-type%3Bhost&X-Goog-Signature=[0-9a-f]{512}$/);
  assert.equal(up.searchParams.get("X-Goog-Date"), created.created_at.replace(/[-:]/g, "").replace(".000", ""));
  const down = new URL(created.download_url);
  assert.equal(down.pathname, `/twttr-tweet-compliance/${created.id}/delivery/1400000000000000001_${created.id}`);
  assert.equal(down.searchParams.get("X-Goog-Expires"), "604800");
  assert.equal(down.searchParams.get("X-Goog-SignedHeaders"), "host");

  const got = await getJob(emu, created.id);
  assert.deepEqual(JobResponseSchema.parse(got).data, created);

  const users = await createJob(emu, { type: "users", name: "nightly", resumable: false });
  JobSchema.parse(users);
  assert.equal(users.name, "nightly");
  assert.match(users.upload_url, /\/twttr-user-compliance\//);

  const list = await http(`${emu.apiUrl}/2/compliance/jobs?type=tweets`, { headers: bearer(emu) });
  const parsed = JobListResponseSchema.parse(json(list));
  assert.equal(parsed.data?.length, 1);
  assert.deepEqual(parsed.meta, { result_count: 1 });
  assert.deepEqual(json(list).data[0], created);
});

test("list: newest first, status filter, empty list, validation", async (t) => {
  const clock = manualClock(Date.UTC(2026, 0, 1));
  const emu = await startFor(t, { clock, flow: "api" });
  const a = await createJob(emu);
  await http(`${emu.apiUrl}/2/compliance/jobs/${a.id}`, { method: "DELETE", headers: bearer(emu) });
  clock.advance(1000);
  const b = await createJob(emu);
  const list = json(await http(`${emu.apiUrl}/2/compliance/jobs?type=tweets`, { headers: bearer(emu) }));
  assert.deepEqual(list.data.map((j: { id: string }) => j.id), [b.id, a.id]);
  assert.ok(BigInt(b.id) > BigInt(a.id));
  const created = json(await http(`${emu.apiUrl}/2/compliance/jobs?type=tweets&status=created`, { headers: bearer(emu) }));
  assert.deepEqual(created.data.map((j: { id: string }) => j.id), [b.id]);
  const empty = await http(`${emu.apiUrl}/2/compliance/jobs?type=users`, { headers: bearer(emu) });
  assert.equal(empty.status, 200);
  assert.deepEqual(json(empty), { meta: { result_count: 0 } });
  JobListResponseSchema.parse(json(empty));

  for (const q of ["", "?type=posts", "?type=tweets&status=expired", "?type=tweets&max_results=5"]) {
    const r = await http(`${emu.apiUrl}/2/compliance/jobs${q}`, { headers: bearer(emu) });
    assert.equal(r.status, 400, q);
    assert.equal(r.headers["content-type"], "application/problem+json");
    const body = json(r);
    assert.equal(body.type, "https://api.twitter.com/2/problems/invalid-request");
    assert.equal(body.title, "Invalid Request");
    assert.ok(Array.isArray(body.errors) && body.errors.length > 0);
    assert.equal(typeof body.errors[0].message, "string");
    assert.equal(typeof body.errors[0].parameters, "object");
  }
  // A list does not count as a poll.
  assert.equal(emu.jobs().find((j) => j.id === b.id)?.getPolls, 0);
});

test("one active job per type: 409 conflict; other type and finished jobs do not block", async (t) => {
  const emu = await startFor(t);
  const first = await createJob(emu);
  const r = await http(`${emu.apiUrl}/2/compliance/jobs`, {
    method: "POST",
    headers: bearer(emu, { "content-type": "application/json" }),
    body: JSON.stringify({ type: "tweets" }),
  });
  assert.equal(r.status, 409);
  assert.deepEqual(json(r), {
    title: "Conflict",
    detail: "You cannot create a new job if one is already in progress.",
    type: "https://api.twitter.com/2/problems/conflict",
    status: 409,
  });
  await createJob(emu, { type: "users" });
  emu.expireJob(first.id);
  const second = await createJob(emu);
  assert.notEqual(second.id, first.id);
  assert.equal((await getJob(emu, first.id)).data.status, "expired");
});

test("401 without or with a wrong bearer token, on every /2/ route", async (t) => {
  const emu = await startFor(t);
  for (const headers of [{}, { authorization: "Bearer nope" }, { authorization: emu.token }] as Record<string, string>[]) {
    for (const [method, path] of [
      ["POST", "/2/compliance/jobs"],
      ["GET", "/2/compliance/jobs?type=tweets"],
      ["GET", "/2/compliance/jobs/123"],
    ] as const) {
      const r = await http(`${emu.apiUrl}${path}`, { method, headers });
      assert.equal(r.status, 401);
      assert.deepEqual(json(r), problems.unauthorized);
      assert.deepEqual(json(r), { title: "Unauthorized", type: "about:blank", status: 401, detail: "Unauthorized" });
    }
  }
  assert.ok(emu.requests.every((e) => e.status === 401));
  assert.ok(emu.requests.some((e) => e.authorization) && emu.requests.some((e) => !e.authorization));
  assert.equal(JSON.stringify(emu.requests).includes(emu.token), false);
});

test("create validation: type enum, name length, unknown keys, bad JSON", async (t) => {
  const emu = await startFor(t);
  const post = (body: string) =>
    http(`${emu.apiUrl}/2/compliance/jobs`, { method: "POST", headers: bearer(emu, { "content-type": "application/json" }), body });
  for (const body of [
    "{}",
    '{"type":"posts"}',
    JSON.stringify({ type: "tweets", name: "x".repeat(65) }),
    '{"type":"tweets","extra":1}',
    '{"type":"tweets","resumable":"yes"}',
    "not json",
    "[]",
  ]) {
    const r = await post(body);
    assert.equal(r.status, 400, body);
    const p = json(r);
    assert.equal(p.type, "https://api.twitter.com/2/problems/invalid-request");
    assert.equal(p.detail, "One or more parameters to your request was invalid.");
    assert.ok(p.errors.length >= 1);
  }
  const ok = await post(JSON.stringify({ type: "tweets", name: "x".repeat(64), resumable: true }));
  assert.equal(ok.status, 200);
  assert.equal(json(ok).data.resumable, true);
  assert.equal(emu.jobs().length, 1);
});

test("get: bad id 400, unknown id 200 with errors only", async (t) => {
  const emu = await startFor(t);
  const bad = await http(`${emu.apiUrl}/2/compliance/jobs/abc`, { headers: bearer(emu) });
  assert.equal(bad.status, 400);
  assert.equal(json(bad).type, "https://api.twitter.com/2/problems/invalid-request");
  const id = "1234567890123456789";
  const r = await http(`${emu.apiUrl}/2/compliance/jobs/${id}`, { headers: bearer(emu) });
  assert.equal(r.status, 200);
  assert.deepEqual(json(r), {
    errors: [
      {
        value: id,
        detail: `Could not find compliance job with id: [${id}].`,
        title: "Not Found Error",
        resource_type: "compliance_job",
        parameter: "id",
        resource_id: id,
        type: "https://api.twitter.com/2/problems/resource-not-found",
      },
    ],
  });
  const unknownPath = await http(`${emu.apiUrl}/2/nothing`, { headers: bearer(emu) });
  assert.equal(unknownPath.status, 404);
});

test("cancel: 404 on the storage flow by default, 200 and no longer active on the api flow", async (t) => {
  const storage = await startFor(t);
  const s = await createJob(storage);
  const r1 = await http(`${storage.apiUrl}/2/compliance/jobs/${s.id}`, { method: "DELETE", headers: bearer(storage) });
  assert.equal(r1.status, 404);
  assert.equal(json(r1).type, "about:blank");

  const api = await startFor(t, { flow: "api", cancelToFailed: false });
  const a = await createJob(api);
  const r2 = await http(`${api.apiUrl}/2/compliance/jobs/${a.id}`, { method: "DELETE", headers: bearer(api) });
  assert.equal(r2.status, 200);
  assert.deepEqual(json(r2), { data: { id: a.id, cancelled: true } });
  const after = (await getJob(api, a.id)).data;
  assert.equal(after.status, "expired");
  assert.equal(after.error, "cancelled");
  await createJob(api); // no longer blocks
  const again = await http(`${api.apiUrl}/2/compliance/jobs/${a.id}`, { method: "DELETE", headers: bearer(api) });
  assert.deepEqual(json(again), { data: { id: a.id, cancelled: false } });
});

test("rate limits: per-endpoint headers decrement, 429 over the limit, window resets with the clock", async (t) => {
  const clock = manualClock(Date.UTC(2026, 5, 1, 12, 0, 0));
  const emu = await startFor(t, { clock, rateLimit: { limit: 3, windowSeconds: 60 } });
  const list = () => http(`${emu.apiUrl}/2/compliance/jobs?type=tweets`, { headers: bearer(emu) });
  const reset = String(Date.UTC(2026, 5, 1, 12, 1, 0) / 1000);
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await list();
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-rate-limit-limit"], "3");
    assert.equal(r.headers["x-rate-limit-reset"], reset);
    seen.push(String(r.headers["x-rate-limit-remaining"]));
  }
  assert.deepEqual(seen, ["2", "1", "0"]);
  const over = await list();
  assert.equal(over.status, 429);
  assert.equal(over.headers["x-rate-limit-remaining"], "0");
  assert.deepEqual(json(over), { title: "Too Many Requests", detail: "Too Many Requests", type: "about:blank", status: 429 });
  // Separate budget per endpoint.
  const get = await http(`${emu.apiUrl}/2/compliance/jobs/1`, { headers: bearer(emu) });
  assert.equal(get.headers["x-rate-limit-remaining"], "2");
  clock.advance(60_000);
  const fresh = await list();
  assert.equal(fresh.status, 200);
  assert.equal(fresh.headers["x-rate-limit-remaining"], "2");
});
