// Contract tests: every real recorded response under test/fixtures/cassettes/ (traffic recorded
// against the live API by tweepy's and academictwitteR's test suites, 2021–2022) must parse with
// the client's schemas, and the two real result files with ResultParser.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { JobListResponseSchema, JobResponseSchema } from "../../src/api/schemas.js";
import { ResultParser } from "../../src/io/results.js";
import { ROOT } from "../helpers/cli.js";

const CASSETTES = resolve(ROOT, "test/fixtures/cassettes");

/** Fails loudly (never skips) when the recorded cassettes are missing from the checkout. */
function cassettesDir(): string {
  if (!existsSync(CASSETTES)) {
    assert.fail(`the recorded cassettes are missing: expected ${CASSETTES}; the contract tests cannot run without them.`);
  }
  return CASSETTES;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else out.push(full);
  }
  return out;
}

interface Interaction {
  request: { method: string; uri: string };
  response: { status: number | { code: number }; body: unknown };
}

/** tweepy files are lists of interactions; academictwitteR files are one {request, response}. */
function interactions(file: string): Interaction[] {
  const parsed = JSON.parse(readFileSync(file, "utf8")) as Interaction | Interaction[];
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const i of list) {
    assert.ok(i.request && i.response, `${file}: not a {request, response} interaction`);
  }
  return list;
}

function statusCode(i: Interaction): number {
  return typeof i.response.status === "number" ? i.response.status : i.response.status.code;
}

type Kind = "create" | "get" | "list" | "storage";

function kindOf(i: Interaction): Kind {
  const u = new URL(i.request.uri);
  if (u.hostname !== "api.twitter.com" && u.hostname !== "api.x.com") return "storage";
  if (u.pathname === "/2/compliance/jobs") return i.request.method === "POST" ? "create" : "list";
  assert.match(u.pathname, /^\/2\/compliance\/jobs\/\d{1,19}$/, `unexpected API path ${u.pathname}`);
  return "get";
}

test("every decoded job response parses with JobResponseSchema / JobListResponseSchema", () => {
  const files = walk(cassettesDir()).filter((f) => f.endsWith(".decoded.json"));
  assert.ok(files.length >= 12, `expected at least 12 decoded cassettes, found ${files.length}`);
  const seen: Record<Kind, number> = { create: 0, get: 0, list: 0, storage: 0 };
  let listedJobs = 0;
  for (const file of files) {
    const name = relative(CASSETTES, file);
    for (const i of interactions(file)) {
      const kind = kindOf(i);
      seen[kind]++;
      assert.equal(statusCode(i), 200, `${name}: ${i.request.method} ${i.request.uri}`);
      if (kind === "storage") continue;
      const body = i.response.body;
      assert.equal(typeof body, "object", `${name}: the ${kind} body is not decoded JSON`);
      if (kind === "list") {
        const r = JobListResponseSchema.safeParse(body);
        assert.ok(r.success, `${name}: list body rejected: ${r.success ? "" : JSON.stringify(r.error.issues[0])}`);
        const jobs = r.data.data ?? [];
        assert.ok(jobs.length > 0, `${name}: a recorded list has jobs`);
        listedJobs += jobs.length;
        const type = new URL(i.request.uri).searchParams.get("type");
        for (const j of jobs) assert.equal(j.type, type, `${name}: list of ${type} holds a ${j.type} job`);
      } else {
        const r = JobResponseSchema.safeParse(body);
        assert.ok(r.success, `${name}: ${kind} body rejected: ${r.success ? "" : JSON.stringify(r.error.issues[0])}`);
        if (kind === "get") assert.equal(r.data.data.id, new URL(i.request.uri).pathname.split("/").pop(), `${name}: id matches the path`);
        // Unknown keys pass through (the API adds fields before the spec does).
        assert.equal(typeof r.data.data.resumable, "boolean", `${name}: resumable kept`);
      }
    }
  }
  // tweepy ×2 (create, get, list each) + academictwitteR (2 creates, 2 gets, 2 lists).
  assert.deepEqual({ create: seen.create, get: seen.get, list: seen.list }, { create: 4, get: 4, list: 4 });
  assert.ok(listedJobs >= 8, `expected the recorded lists to hold at least 8 jobs, found ${listedJobs}`);
});

test("both real result files parse line by line with ResultParser (20 events and 1 blank line each)", () => {
  const files = walk(cassettesDir()).filter((f) => f.endsWith(".body.ndjson"));
  assert.equal(files.length, 2, `expected the tweets and the users result file, found ${files.map((f) => relative(CASSETTES, f)).join(", ")}`);
  for (const file of files) {
    const bytes = readFileSync(file);
    const parser = new ResultParser(relative(CASSETTES, file));
    parser.push(bytes);
    const stats = parser.end();
    assert.equal(stats.events, 20, `${file}: events`);
    assert.equal(stats.blankLines, 1, `${file}: blank lines`);
    assert.equal(stats.errors, 0);
    assert.equal(stats.bytes, bytes.length);
    assert.deepEqual(stats.byAction, { delete: 20 });
    // Every line on its own, too (a parser fed line by line must agree).
    const one = new ResultParser("lines");
    for (const line of bytes.toString("utf8").split(/(?<=\n)/)) one.push(Buffer.from(line));
    assert.deepEqual(one.end(), stats);
  }
});

test("the decoded delivery bodies are the same bytes as the .body.ndjson files", () => {
  const files = walk(cassettesDir()).filter((f) => f.endsWith(".body.ndjson"));
  for (const file of files) {
    const decoded = file.replace(/\.body\.ndjson$/, ".decoded.json");
    const [i] = interactions(decoded);
    assert.equal(typeof i!.response.body, "string");
    assert.equal(i!.response.body, readFileSync(file, "utf8"), `${decoded}: body differs from ${file}`);
    const parser = new ResultParser(decoded);
    parser.push(Buffer.from(i!.response.body as string));
    assert.equal(parser.end().events, 20);
  }
});
