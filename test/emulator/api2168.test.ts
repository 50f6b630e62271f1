// Issue 11: the "api" flow follows the compliance API as it is at the end of 2026 (OpenAPI 2.168,
// API-FACTS section 9): byte paths with a signed token, octet-stream uploads, resumable refused,
// DELETE → failed, and the new result lines. Real HTTP against startEmulator on 127.0.0.1.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ResultLineSchema } from "../../src/api/schemas.js";
import {
  expectedEvent,
  expectedLines,
  expectedResultsFile,
  processIdFile,
  renderResultLine,
  type EmulatedResultLine,
} from "../../src/emulator/server.js";
import { bearer, createJob, getJob, http, sampleIds, startFor } from "./helpers.js";

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
  const emu = await startFor(t, { flow: "api" });
  for (const type of ["tweets", "users"] as const) {
    const ids = [...sampleIds(200), "0", "9223372036854775808"];
    const job = await createJob(emu, { type });
    const up = await http(job.upload_url, { method: "PUT", headers: bearer(emu, { "content-type": "text/plain" }), body: ids.join("\n") + "\n" });
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
