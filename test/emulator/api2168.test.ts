// The "api" flow follows the compliance API as it is at the end of 2026 (X's OpenAPI 2.168 and
// the public reports of September 2026): byte paths with a signed token, octet-stream uploads,
// resumable refused, DELETE → failed, and the new result lines. Real HTTP against startEmulator
// on 127.0.0.1.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JobResponseSchema, JobListResponseSchema } from "../../src/api/schemas.js";
import { ResultLineSchema } from "../../src/io/result-line.js";
import {
  expectedEvent,
  expectedLines,
  expectedResultsFile,
  processIdFile,
  renderResultLine,
  type EmulatedResultLine,
} from "../../src/emulator/server.js";
import { bearer, createJob, getJob, http, json, sampleIds, startFor, type HttpResult } from "./helpers.js";

const OCTET = "application/octet-stream";

function tokenOf(url: string): string {
  return new URL(url).searchParams.get("token") ?? "";
}

/** The URL with its token replaced (or removed when `token` is undefined). */
function withToken(url: string, token: string | undefined): string {
  const u = new URL(url);
  if (token === undefined) u.searchParams.delete("token");
  else u.searchParams.set("token", token);
  return u.toString();
}

function put(url: string, headers: Record<string, string | number>, body: string): Promise<HttpResult> {
  return http(url, { method: "PUT", headers, body });
}

test("byte paths: upload_url and download_url carry a signed token; both the bearer header and the token are demanded", async (t) => {
  const emu = await startFor(t, { flow: "api" });
  const job = await createJob(emu);
  const other = await createJob(emu, { type: "users" });
  assert.match(job.upload_url, new RegExp(`^${emu.apiUrl}/2/compliance/jobs/${job.id}/upload\\?token=[\\w-]{43}$`));
  assert.match(job.download_url, new RegExp(`^${emu.apiUrl}/2/compliance/jobs/${job.id}/download\\?token=[\\w-]{43}$`));
  assert.notEqual(tokenOf(job.upload_url), tokenOf(job.download_url));
  assert.notEqual(tokenOf(job.upload_url), tokenOf(other.upload_url));
  // GET and list return the same URLs (signed once, at creation).
  assert.equal((await getJob(emu, job.id)).data.upload_url, job.upload_url);
  assert.equal((await getJob(emu, job.id)).data.download_url, job.download_url);

  const body = sampleIds(30).join("\n") + "\n";
  const ok = bearer(emu, { "content-type": OCTET });

  // No bearer, a wrong bearer: 401 about:blank, token or not.
  const noBearer: Record<string, string>[] = [{ "content-type": OCTET }, { "content-type": OCTET, authorization: "Bearer nope" }];
  for (const headers of noBearer) {
    const r = await put(job.upload_url, headers, body);
    assert.equal(r.status, 401);
    assert.deepEqual(json(r), { title: "Unauthorized", type: "about:blank", status: 401, detail: "Unauthorized" });
  }
  // Bearer but no token, or an empty one: 400 invalid-request naming `token`.
  for (const url of [withToken(job.upload_url, undefined), withToken(job.upload_url, "")]) {
    const r = await put(url, ok, body);
    assert.equal(r.status, 400, url);
    assert.equal(r.headers["content-type"], "application/problem+json");
    const p = json(r);
    assert.equal(p.type, "https://api.twitter.com/2/problems/invalid-request");
    assert.deepEqual(p.errors, [{ parameters: { token: [] }, message: "The `token` query parameter can not be empty" }]);
  }
  // An unknown query parameter next to the token: 400 too.
  const extra = await put(`${job.upload_url}&resumable=true`, ok, body);
  assert.equal(extra.status, 400);
  assert.deepEqual(json(extra).errors[0].parameters, { resumable: ["true"] });
  // A wrong token, the download token, another job's token: 401 naming the token.
  for (const token of ["x".repeat(43), tokenOf(job.download_url), tokenOf(other.upload_url)]) {
    const r = await put(withToken(job.upload_url, token), ok, body);
    assert.equal(r.status, 401, token);
    assert.deepEqual(json(r), {
      title: "Unauthorized",
      type: "about:blank",
      status: 401,
      detail: `The token query parameter is not valid for the upload of job ${job.id}; use the job's upload_url as it is.`,
    });
  }
  // An unknown job: 404 resource-not-found, whatever the token.
  const unknown = await put(`${emu.apiUrl}/2/compliance/jobs/1234567890123456789/upload?token=${tokenOf(job.upload_url)}`, ok, body);
  assert.equal(unknown.status, 404);
  assert.equal(json(unknown).type, "https://api.twitter.com/2/problems/resource-not-found");
  assert.equal(emu.jobs().find((j) => j.id === job.id)!.status, "created", "no refused request took the upload");

  // Both credentials: 200 with JSON {"data": job} (2.168 UploadComplianceJobSubmissionResponse).
  const up = await put(job.upload_url, ok, body);
  assert.equal(up.status, 200);
  assert.equal(up.headers["content-type"], "application/json; charset=utf-8");
  const uploaded = JobResponseSchema.parse(json(up)).data;
  assert.equal(uploaded.id, job.id);
  assert.equal(uploaded.status, "in_progress");
  assert.equal(uploaded.upload_url, job.upload_url);
  assert.equal((await getJob(emu, job.id)).data.status, "complete");

  // The download demands the same pair.
  assert.equal((await http(job.download_url)).status, 401);
  assert.equal((await http(withToken(job.download_url, undefined), { headers: bearer(emu) })).status, 400);
  assert.equal((await http(withToken(job.download_url, tokenOf(job.upload_url)), { headers: bearer(emu) })).status, 401);
  assert.equal((await http(withToken(job.download_url, tokenOf(other.download_url)), { headers: bearer(emu) })).status, 401);
  const dl = await http(job.download_url, { headers: bearer(emu) });
  assert.equal(dl.status, 200);
  assert.equal(dl.headers["content-type"], OCTET);
  assert.equal(dl.text, expectedResultsFile(sampleIds(30), "tweets", "api"));
  const head = await http(job.download_url, { method: "HEAD", headers: bearer(emu) });
  assert.equal(head.status, 200);
  assert.equal(head.headers["content-length"], String(dl.body.length));

  // Tokens are secrets: the request log keeps paths only.
  const log = JSON.stringify(emu.requests);
  for (const url of [job.upload_url, job.download_url]) assert.ok(!log.includes(tokenOf(url)));
  assert.ok(emu.requests.every((r) => r.origin === "api"), "nothing went to the storage origin");
});

test("byte paths: octet-stream uploads; octetStreamOnly refuses text/plain with 415", async (t) => {
  const body = sampleIds(20).join("\n") + "\n";
  // octetStreamOnly off: application/octet-stream (2.168) and text/plain (an older client's).
  const lax = await startFor(t, { flow: "api", octetStreamOnly: false });
  for (const type of [OCTET, "text/plain"]) {
    const job = await createJob(lax, { type: "users" });
    const r = await put(job.upload_url, bearer(lax, { "content-type": type }), body);
    assert.equal(r.status, 200, type);
    await getJob(lax, job.id); // completes, freeing the slot
  }
  const laxJob = await createJob(lax, { type: "users" });
  const refusedLax = await put(laxJob.upload_url, bearer(lax, { "content-type": "application/json" }), body);
  assert.equal(refusedLax.status, 415);
  assert.equal(json(refusedLax).detail, "The upload must be sent with Content-Type: application/octet-stream or text/plain.");

  const strict = await startFor(t, { flow: "api", octetStreamOnly: true });
  const job = await createJob(strict, { type: "users" });
  for (const type of ["text/plain", "text/plain; charset=utf-8", "application/x-ndjson"]) {
    const r = await put(job.upload_url, bearer(strict, { "content-type": type }), body);
    assert.equal(r.status, 415, type);
    assert.equal(r.headers["content-type"], "application/problem+json");
    assert.deepEqual(json(r), {
      title: "Unsupported Media Type",
      detail: "The upload must be sent with Content-Type: application/octet-stream.",
      type: "about:blank",
      status: 415,
    });
  }
  const noType = await http(job.upload_url, { method: "PUT", headers: bearer(strict), body });
  assert.equal(noType.status, 415);
  assert.equal(strict.jobs()[0]!.status, "created");
  const chunked = await http(job.upload_url, { method: "PUT", headers: bearer(strict, { "content-type": OCTET }), body, chunked: true });
  assert.equal(chunked.status, 411);
  const up = await put(job.upload_url, bearer(strict, { "content-type": OCTET }), body);
  assert.equal(up.status, 200);
  assert.equal(json(up).data.status, "in_progress");
  assert.deepEqual(
    strict.requests.filter((r) => r.route === "upload").map((r) => [r.contentType ?? "", r.status]),
    [["text/plain", 415], ["text/plain; charset=utf-8", 415], ["application/x-ndjson", 415], ["", 415], [OCTET, 411], [OCTET, 200]],
  );
  // octetStreamOnly is about the API origin: the storage flow's signed PUT stays text/plain.
  const storage = await startFor(t, { octetStreamOnly: true });
  const sj = await createJob(storage);
  assert.equal((await put(sj.upload_url, { "content-type": "text/plain" }, body)).status, 200);
});

test("resumable: true at create is a 400 invalid-request on the api flow; the storage flow keeps resumable uploads", async (t) => {
  const emu = await startFor(t, { flow: "api" });
  const post = (body: unknown) =>
    http(`${emu.apiUrl}/2/compliance/jobs`, { method: "POST", headers: bearer(emu, { "content-type": "application/json" }), body: JSON.stringify(body) });
  const r = await post({ type: "tweets", name: "big", resumable: true });
  assert.equal(r.status, 400);
  assert.equal(r.headers["content-type"], "application/problem+json");
  assert.deepEqual(json(r), {
    errors: [
      {
        parameters: { resumable: ["true"] },
        message: "The `resumable` body parameter value [true] is not supported: upload the IDs with one PUT to the job's upload_url",
      },
    ],
    title: "Invalid Request",
    detail: "One or more parameters to your request was invalid.",
    type: "https://api.twitter.com/2/problems/invalid-request",
  });
  assert.equal(emu.jobs().length, 0, "nothing was created");
  const plain = await post({ type: "tweets", resumable: false });
  assert.equal(plain.status, 200);
  assert.equal(json(plain).data.resumable, false);

  const storage = await startFor(t);
  const job = await createJob(storage, { type: "tweets", resumable: true });
  assert.equal(job.resumable, true);
  assert.match(job.upload_url, /X-Goog-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bx-goog-resumable&/);
});

test("cancelToFailed: DELETE turns a created or in_progress job failed and answers 200 {data: job}", async (t) => {
  const emu = await startFor(t, { flow: "api", cancelToFailed: true, pollsToComplete: 3 });
  const del = (id: string) => http(`${emu.apiUrl}/2/compliance/jobs/${id}`, { method: "DELETE", headers: bearer(emu) });

  const a = await createJob(emu);
  const r = await del(a.id);
  assert.equal(r.status, 200);
  const data = JobResponseSchema.parse(json(r)).data;
  assert.deepEqual(Object.keys(json(r)), ["data"]);
  assert.equal(data.id, a.id);
  assert.equal(data.status, "failed");
  assert.equal("error" in data, false, "2.168's ComplianceJob has no error field");
  assert.equal("cancelled" in data, false);
  assert.equal((await getJob(emu, a.id)).data.status, "failed");
  assert.equal(emu.jobs()[0]!.status, "failed");
  const failed = JobListResponseSchema.parse(json(await http(`${emu.apiUrl}/2/compliance/jobs?type=tweets&status=failed`, { headers: bearer(emu) })));
  assert.deepEqual(failed.data?.map((j) => j.id), [a.id]);
  // The upload no longer takes the job, and the slot is free for a new one.
  assert.equal((await put(a.upload_url, bearer(emu, { "content-type": OCTET }), "1\n")).status, 409);
  const b = await createJob(emu);

  // In progress: cancelled before the results are ready, it stays failed however often polled.
  assert.equal((await put(b.upload_url, bearer(emu, { "content-type": OCTET }), sampleIds(10).join("\n"))).status, 200);
  assert.equal((await getJob(emu, b.id)).data.status, "in_progress");
  assert.equal(json(await del(b.id)).data.status, "failed");
  for (let i = 0; i < 4; i++) assert.equal((await getJob(emu, b.id)).data.status, "failed");
  assert.equal((await http(b.download_url, { headers: bearer(emu) })).status, 409);

  // An ended job is answered as it is: a second DELETE, a complete job.
  const again = await del(a.id);
  assert.equal(again.status, 200);
  assert.equal(json(again).data.status, "failed");
  const c = await createJob(emu);
  await put(c.upload_url, bearer(emu, { "content-type": OCTET }), "1\n");
  for (let i = 0; i < 3; i++) await getJob(emu, c.id);
  assert.equal((await getJob(emu, c.id)).data.status, "complete");
  const done = await del(c.id);
  assert.equal(done.status, 200);
  assert.equal(json(done).data.status, "complete");
  assert.equal((await http(c.download_url, { headers: bearer(emu) })).status, 200);

  // Unknown and malformed ids as on GET; no bearer → 401.
  assert.equal(json(await del("1234567890123456789")).errors[0].type, "https://api.twitter.com/2/problems/resource-not-found");
  assert.equal((await del("abc")).status, 400);
  assert.equal((await http(`${emu.apiUrl}/2/compliance/jobs/${a.id}`, { method: "DELETE" })).status, 401);

  // The storage flow still has no DELETE (404), with or without the option.
  const storage = await startFor(t, { cancelToFailed: true });
  const s = await createJob(storage);
  const r404 = await http(`${storage.apiUrl}/2/compliance/jobs/${s.id}`, { method: "DELETE", headers: bearer(storage) });
  assert.equal(r404.status, 404);
  assert.equal(storage.jobs()[0]!.status, "created");
});

// --- results ---------------------------------------------------------------------------------

type Pair = [string, string];
const pairs = (lines: EmulatedResultLine[]): Pair[] => lines.map((l) => ("action" in l ? [l.action, l.reason] : ["error", l.error]));

test("expectedLines: the api flow's actions, reasons and duplicates by ID mod 100; the storage flow as before", () => {
  const base = "11604042336503521";
  const table = (type: "tweets" | "users", flow: "storage" | "api") =>
    Array.from({ length: 100 }, (_, d) => pairs(expectedLines(`${base}${String(d).padStart(2, "0")}`, type, flow)));
  const del = (r: string): Pair => ["delete", r];
  const geo: Pair = ["scrub_geo", "geo_scrubbed"];
  const edited: Pair = ["rehydrate", "tweet_edited"];
  const common = [[del("deleted")], [del("deleted")], [del("deleted")], [del("deleted")], [del("deleted")], [del("protected")], [del("protected")], [del("suspended")], [del("suspended")]];
  const none = (n: number) => Array.from({ length: n }, () => []);
  assert.deepEqual(table("tweets", "api"), [
    ...common,
    [geo],
    [del("bounced")],
    [edited],
    [edited, del("deleted")],
    [del("protected"), geo],
    [geo, edited],
    [del("suspended"), del("suspended")],
    ...none(84),
  ]);
  assert.deepEqual(table("users", "api"), [
    ...common,
    [del("deactivated")],
    [geo],
    [],
    [geo, del("suspended")],
    [del("deactivated"), geo],
    [del("protected"), del("protected")],
    [geo, geo],
    ...none(84),
  ]);
  // The storage flow is unchanged: one delete line for d < 10, nothing else.
  assert.deepEqual(table("tweets", "storage"), [...common, [del("scrub_geo")], ...none(90)]);
  assert.deepEqual(table("users", "storage"), [...common, [del("deactivated")], ...none(90)]);
  // Every reason the brief lists occurs, per type.
  const reasons = (type: "tweets" | "users") => new Set(table(type, "api").flat().map((p) => p.join("/")));
  for (const r of ["delete/deleted", "delete/protected", "delete/suspended", "delete/bounced", "scrub_geo/geo_scrubbed", "rehydrate/tweet_edited"]) assert.ok(reasons("tweets").has(r), r);
  for (const r of ["delete/deleted", "delete/protected", "delete/suspended", "delete/deactivated", "scrub_geo/geo_scrubbed"]) assert.ok(reasons("users").has(r), r);
  assert.ok(![...reasons("users")].some((r) => r.startsWith("rehydrate")), "rehydrate is for edited Posts only");

  // Invalid IDs: one error line and nothing else, on the api flow only.
  for (const id of ["0", "00", "9223372036854775808", "9999999999999999912"]) {
    assert.deepEqual(expectedLines(id, "tweets", "api"), [{ id, error: "invalid_id" }]);
  }
  assert.equal(expectedLines("9999999999999999912", "tweets", "storage").length, 0, "the storage flow has no invalid IDs");
  // Exact line shapes, and every line passes the client's schema.
  const [first, second] = expectedLines("1160164553482756012", "tweets", "api");
  assert.equal(renderResultLine(first!), '{"id":"1160164553482756012","action":"rehydrate","created_at":"2019-08-10T12:22:39.022Z","reason":"tweet_edited"}');
  assert.equal(
    renderResultLine(second!),
    '{"id":"1160164553482756012","action":"delete","created_at":"2019-08-10T12:22:39.022Z","redacted_at":"2020-09-03T12:22:51.367Z","deleted_at":"2020-09-03T12:22:51.367Z","reason":"deleted"}',
  );
  assert.equal(renderResultLine(expectedLines("1101688072863993810", "users", "api")[0]!), '{"id":"1101688072863993810","action":"scrub_geo","created_at":"2019-03-02T03:37:59+00:00","reason":"geo_scrubbed"}');
  for (const type of ["tweets", "users"] as const) {
    for (let d = 0; d < 16; d++) {
      for (const l of expectedLines(`${base}${String(d).padStart(2, "0")}`, type, "api")) ResultLineSchema.parse(JSON.parse(renderResultLine(l)));
    }
  }
});

test("expectedEvent: a duplicated ID's most severe line (delete > scrub_geo > rehydrate)", () => {
  const action = (id: string, type: "tweets" | "users") => {
    const ev = expectedEvent(id, type, "api");
    return ev === null ? null : "action" in ev ? `${ev.action}/${ev.reason}` : ev.error;
  };
  assert.equal(action("1160164553482756012", "tweets"), "delete/deleted"); // the second line
  assert.equal(action("1160164553482756013", "tweets"), "delete/protected"); // the first line
  assert.equal(action("1160164553482756014", "tweets"), "scrub_geo/geo_scrubbed");
  assert.equal(action("1160164553482756015", "tweets"), "delete/suspended");
  assert.equal(action("1160164553482756011", "tweets"), "rehydrate/tweet_edited");
  assert.equal(action("1160164553482756012", "users"), "delete/suspended");
  assert.equal(action("1160164553482756015", "users"), "scrub_geo/geo_scrubbed");
  assert.equal(action("1160164553482756011", "users"), null);
  assert.equal(action("1160164553482756016", "tweets"), null);
  assert.equal(action("0", "tweets"), "invalid_id");
  // With one line, expectedEvent is that line.
  assert.deepEqual(expectedEvent("1160164553482756010", "tweets", "api"), expectedLines("1160164553482756010", "tweets", "api")[0]);
});

test("expectedResultsFile: first lines in upload order, then the duplicates' second lines, one blank line after the second line", () => {
  const ids = ["1000", "1012", "1099", "1013", "1005", "1011"];
  const file = expectedResultsFile(ids, "tweets", "api");
  const lines = file.split("\n");
  assert.equal(lines[2], "");
  assert.ok(file.endsWith("}\n"));
  const parsed = lines.filter((l) => l !== "").map((l) => JSON.parse(l));
  assert.deepEqual(
    parsed.map((l) => `${l.id} ${l.action}`),
    ["1000 delete", "1012 rehydrate", "1013 delete", "1005 delete", "1011 rehydrate", "1012 delete", "1013 scrub_geo"],
  );
  // One duplicated ID alone (the same line twice): the blank line follows its second line.
  const one = expectedResultsFile(["1015"], "tweets", "api").split("\n");
  assert.equal(one.length, 4);
  assert.equal(one[1], one[0]);
  assert.deepEqual(one.slice(2), ["", ""]);
  assert.equal(expectedResultsFile(["1016", "1099"], "tweets", "api"), "");
});

test("processIdFile writes exactly expectedResultsFile on the api flow, also when the duplicates spill to disk", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "emu-api2168-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cases: string[][] = [
    ["1015"],
    ["1012", "1099"],
    ["0", "1013"],
    [...sampleIds(300), "0", "9223372036854775808", "12", "7"],
    // 4% of IDs are duplicated: 160 000 IDs give 6 400 second lines, more than are kept in memory.
    sampleIds(160_000, 1500000000000000000n),
  ];
  for (const ids of cases) {
    const input = join(dir, "ids.txt");
    await writeFile(input, ids.join("\n") + "\n");
    for (const type of ["tweets", "users"] as const) {
      const out = join(dir, `${type}.ndjson`);
      const r = await processIdFile(input, out, type, "api");
      const expected = expectedResultsFile(ids, type, "api");
      assert.equal(r.ids, ids.length);
      assert.equal(r.events, expected.split("\n").filter((l) => l !== "").length);
      assert.equal(r.bytes, Buffer.byteLength(expected));
      assert.equal(await readFile(out, "latin1"), expected, `${type}, ${ids.length} IDs`);
    }
  }
  assert.deepEqual((await readdir(dir)).sort(), ["ids.txt", "tweets.ndjson", "users.ndjson"], "no side file left behind");
});

test("api flow over HTTP: error lines, new actions and duplicated IDs, exactly as expectedResultsFile says", async (t) => {
  const emu = await startFor(t, { flow: "api", octetStreamOnly: true });
  for (const type of ["tweets", "users"] as const) {
    const ids = [...sampleIds(200), "0", "9223372036854775808"];
    const job = await createJob(emu, { type });
    const up = await put(job.upload_url, bearer(emu, { "content-type": OCTET }), ids.join("\n") + "\n");
    assert.equal(up.status, 200);
    assert.equal((await getJob(emu, job.id)).data.status, "complete");
    const dl = await http(job.download_url, { headers: bearer(emu) });
    assert.equal(dl.status, 200);
    assert.equal(dl.text, expectedResultsFile(ids, type, "api"));
    const lines = dl.text.split("\n").filter((l) => l !== "").map((l) => ResultLineSchema.parse(JSON.parse(l)) as Record<string, unknown>);
    const count = new Map<string, number>();
    for (const l of lines) count.set(l.id as string, (count.get(l.id as string) ?? 0) + 1);
    // sampleIds(200) covers every d twice: d 12–15 are the duplicated IDs.
    const twice = [...count].filter(([, n]) => n === 2).map(([id]) => Number(id.slice(-2)) % 100).sort((a, b) => a - b);
    assert.deepEqual(twice, [12, 12, 13, 13, 14, 14, 15, 15]);
    assert.ok([...count.values()].every((n) => n <= 2));
    assert.deepEqual(lines.filter((l) => "error" in l).map((l) => l.id), ["0", "9223372036854775808"]);
    for (const id of count.keys()) {
      const mine = lines.filter((l) => l.id === id);
      assert.deepEqual(mine, expectedLines(id, type, "api"));
    }
  }
});
