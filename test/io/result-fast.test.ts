// The fast paths of ResultParser (the byte matcher FastEvent and the value check isPlainEvent) must
// never accept a line that ResultLineSchema rejects, and the parser as a whole must accept exactly the
// lines the schema accepts and count them as the schema path does. Checked on many generated lines:
// valid events in every shape, and mutations of each field (dates, offsets, IDs, types, keys, text).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FastEvent, isPlainEvent } from "../../src/io/result-fast.js";
import { ResultLineSchema } from "../../src/io/result-line.js";
import { ResultParser } from "../../src/io/results.js";
import { rng } from "../helpers/rng.js";

const next = rng(0x5eed);
const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length]!;
const chance = (p: number): boolean => next() / 2 ** 32 < p;
const int = (n: number): number => next() % n;
const pad = (n: number, w: number): string => String(n).padStart(w, "0");

const ACTIONS = ["delete", "rehydrate", "scrub_geo", "a", "x".repeat(200), "délete", "削除", "de\tlete", "😀"];
const REASONS = ["deleted", "suspended", "protected", "deactivated", "scrub_geo", "bounced", "", " ", "déactivé", "a\"b", "a\\b", "\u0000", "\u2028"];

/** A valid RFC 3339 timestamp as the schema accepts it (real calendar dates, Z or an offset). */
function validTimestamp(): string {
  const year = pick([1970, 2000, 2004, 2019, 2020, 2024, 2100, 2400, 1900, 9999, 0]) + (chance(0.5) ? 0 : int(30));
  const month = 1 + int(12);
  const days = [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  const day = chance(0.2) ? days : 1 + int(days);
  const frac = pick(["", "", ".000", ".5", ".022", ".123456789", "." + "9".repeat(30)]);
  const zone = pick(["Z", "Z", "+00:00", "-00:00", "+05:30", "-12:00", "+23:59", "-23:59", `+${pad(int(24), 2)}:${pad(int(60), 2)}`]);
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(int(24), 2)}:${pad(int(60), 2)}:${pad(int(60), 2)}${frac}${zone}`;
}

/** Timestamps of the right shape with a field out of range, and wrong shapes. */
function badTimestamp(): string {
  const t = validTimestamp();
  const at = (s: string, i: number, r: string): string => s.slice(0, i) + r + s.slice(i + r.length);
  return pick([
    () => "2019-13-45T99:99:99Z",
    () => "2019-02-30T00:00:00Z",
    () => "2019-02-29T00:00:00Z", // not a leap year
    () => "1900-02-29T00:00:00Z", // a century that is not one
    () => "2100-02-29T12:00:00+00:00",
    () => "2019-04-31T00:00:00Z",
    () => "2019-00-10T00:00:00Z",
    () => "2019-01-00T00:00:00Z",
    () => "2019-01-32T00:00:00Z",
    () => "2019-01-01T24:00:00Z",
    () => "2019-01-01T23:60:00Z",
    () => "2019-01-01T23:59:60Z", // a leap second: not accepted
    () => "2019-01-01T00:00:00+24:00",
    () => "2019-01-01T00:00:00+00:60",
    () => "2019-01-01T00:00:00+0000",
    () => "2019-01-01T00:00:00+00",
    () => "2019-01-01T00:00Z",
    () => "2019-01-01T00:00:00",
    () => "2019-01-01T00:00:00z",
    () => "2019-01-01t00:00:00Z",
    () => "2019-01-01 00:00:00Z",
    () => "2019-01-01T00:00:00.Z",
    () => "19-01-01T00:00:00Z",
    () => "+2019-01-01T00:00:00Z",
    () => "2019-1-01T00:00:00Z",
    () => "２０１９-01-01T00:00:00Z",
    () => "٢٠١٩-01-01T00:00:00Z",
    () => " " + t,
    () => t + " ",
    () => t + "Z",
    () => "",
    // One field replaced by random digits (most out of range).
    () => at(t, 5, pad(int(100), 2)),
    () => at(t, 8, pad(int(100), 2)),
    () => at(t, 11, pad(int(100), 2)),
    () => at(t, 14, pad(int(100), 2)),
    () => at(t, 17, pad(int(100), 2)),
    () => `${pad(int(10000), 4)}-02-29T00:00:00Z`,
    () => `${pad(int(10000), 4)}-${pad(int(100), 2)}-${pad(int(100), 2)}T${pad(int(100), 2)}:${pad(int(100), 2)}:${pad(int(100), 2)}${pick(["Z", `+${pad(int(100), 2)}:${pad(int(100), 2)}`, `-${pad(int(100), 2)}:${pad(int(100), 2)}`])}`,
  ])();
}

function id(): string {
  return pick([
    () => String(1 + int(1e9)) + pad(int(1e9), 9),
    () => "9".repeat(19),
    () => "1",
    () => "0",
    () => "0000000000000000001",
  ])();
}

function badId(): unknown {
  return pick([
    "",
    "9".repeat(20),
    "00000000000000000001",
    "-1",
    "+1",
    "1e5",
    "1.0",
    " 1",
    "1 ",
    "١٢٣",
    "１２３",
    "12a",
    123,
    null,
    true,
    ["1"],
    { id: "1" },
  ]);
}

type Fields = Record<string, unknown>;

/** A valid event, with its optional fields present or not. */
function validEvent(): Fields {
  const o: Fields = { id: id(), action: pick(ACTIONS) };
  if (chance(0.8)) o.created_at = validTimestamp();
  if (chance(0.4)) o.redacted_at = chance(0.3) ? null : validTimestamp();
  if (chance(0.2)) o.deleted_at = chance(0.5) ? null : validTimestamp();
  if (chance(0.8)) o.reason = pick(REASONS);
  return o;
}

/** The shape the service writes (the canonical fast path): id, action, created_at[, redacted_at], reason. */
function canonicalEvent(): Fields {
  const o: Fields = { id: id(), action: pick(ACTIONS.slice(0, 4)), created_at: validTimestamp() };
  if (chance(0.5)) o.redacted_at = chance(0.3) ? null : validTimestamp();
  o.reason = pick(REASONS.slice(0, 7));
  return o;
}

function shuffled(o: Fields): Fields {
  const keys = Object.keys(o);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

const WRONG_TYPES: unknown[] = [null, 0, 1.5, true, false, [], ["x"], {}, { a: 1 }, ""];

/** One mutation of a valid event (most make it invalid; some leave it valid). */
function mutated(base: Fields): Fields {
  const o = { ...base };
  const ts = ["created_at", "redacted_at", "deleted_at"][int(3)]!;
  switch (int(10)) {
    case 0:
    case 1:
    case 2:
      o[ts] = badTimestamp();
      break;
    case 3:
      o.id = badId();
      break;
    case 4:
      delete o[pick(["id", "action"])];
      break;
    case 5:
      o[pick(["id", "action", "reason", "created_at", "redacted_at", "deleted_at"])] = pick(WRONG_TYPES);
      break;
    case 6:
      o.action = "";
      break;
    case 7:
      o[pick(["extra", "error", "__proto__", "constructor", "toString", "ID", "Action", "created", "reason "])] = pick(["x", 1, null, { action: "delete" }, ["a"], "invalid_id"]);
      break;
    case 8:
      o.error = pick(["invalid_id", "", 1, null]);
      if (chance(0.5)) delete o.action;
      break;
    default:
      o[ts] = validTimestamp();
      break;
  }
  return o;
}

/** JSON text of an object, sometimes with whitespace, escapes or a BOM the byte matcher declines. */
function render(o: Fields): string {
  let text = JSON.stringify(o);
  switch (int(12)) {
    case 0:
      text = JSON.stringify(o, null, 1).replace(/\n/g, " ");
      break;
    case 1:
      text = text + pick([" ", "\t", "  \t", " \r"]);
      break;
    case 2:
      text = pick([" ", "\t"]) + text;
      break;
    case 3:
      // An escaped character in a string value.
      text = text.replace(/"([a-z])/, (_, c: string) => `"\\u00${c.charCodeAt(0).toString(16)}`);
      break;
    default:
      break;
  }
  return text;
}

/** Raw-text mutations: duplicate keys, broken JSON, odd bytes. */
function rawMutation(text: string): string {
  return pick([
    () => text.replace("{", '{"id":"1",'),
    () => text.replace("{", '{"action":"',).replace('"action":"', '"action":"x",'),
    () => text.slice(0, int(text.length)),
    () => text + "x",
    () => text + ",",
    () => text.replace(/}$/, ",}"),
    () => text.replace(/:/, " :"),
    () => "\ufeff" + text,
    () => text.replace(/null/, "nul"),
    () => text.replace(/"([0-9])/, '"\\u0031$1'),
    () => text.replace(/"(\d{4})-/, '"\\u0032$1-'),
    () => `[${text}]`,
    () => text.replace(/\d{2}:\d{2}:\d{2}/, (m) => m.replace(/^\d{2}/, String(24 + int(76)))),
  ])();
}

function generateLines(n: number): string[] {
  const lines: string[] = [];
  while (lines.length < n) {
    const kind = int(8);
    if (kind <= 1) lines.push(JSON.stringify(canonicalEvent()));
    else if (kind === 2) lines.push(render(shuffled(validEvent())));
    else if (kind <= 5) lines.push(render(shuffled(mutated(chance(0.5) ? canonicalEvent() : validEvent()))));
    else if (kind === 6) lines.push(JSON.stringify(mutated(canonicalEvent())));
    else lines.push(rawMutation(JSON.stringify(chance(0.5) ? canonicalEvent() : validEvent())));
  }
  return lines;
}

// Fixed lines that must be in every run, whatever the generator draws.
const FIXED = [
  '{"id":"1","action":"delete","created_at":"2019-13-45T99:99:99Z","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2019-02-30T00:00:00Z","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2020-02-29T00:00:00Z","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2000-02-29T00:00:00Z","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"1900-02-29T00:00:00Z","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2100-02-29T00:00:00Z","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2400-02-29T00:00:00Z","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"0000-02-29T00:00:00Z","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2019-04-31T00:00:00Z","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2019-12-31T23:59:59.999-23:59","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2019-12-31T23:59:60Z","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2019-01-01T00:00:00+24:00","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2019-01-01T00:00:00+23:59","reason":"deleted"}',
  '{"id":"1","action":"delete","created_at":"2019-01-01T00:00:00Z","redacted_at":"2019-13-01T00:00:00Z","reason":"deleted"}',
  '{"reason":"deleted","deleted_at":"2019-12-32T00:00:00Z","action":"delete","id":"1"}',
  '{"id":"1","action":"delete","redacted_at":"2019-01-01T25:00:00Z"}',
  '{"id":"0000000000000000001","action":"delete","created_at":"2019-01-01T00:00:00Z","reason":"deleted"}',
  '{"id":"00000000000000000001","action":"delete","created_at":"2019-01-01T00:00:00Z","reason":"deleted"}',
  '{"id":"6","error":"invalid_id"}',
  '{"id":"x","error":"invalid_id","action":"delete","created_at":"2019-13-45T99:99:99Z"}',
];

// Blank lines are the parser's own business (skipped and counted), not the schema's.
const LINES = [...FIXED, ...generateLines(30_000)].filter((t) => t.replace(/[ \t\r]/g, "") !== "");

interface Outcome {
  ok: boolean;
  events: number;
  errors: number;
  byAction: Record<string, number>;
  byReason: Record<string, number>;
  byError: Record<string, number>;
}

/** What the schema alone makes of one line (the parser's rules for counting what it accepts). */
function bySchema(text: string): Outcome {
  const out: Outcome = { ok: false, events: 0, errors: 0, byAction: {}, byReason: {}, byError: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return out;
  }
  const parsed = ResultLineSchema.safeParse(value);
  if (!parsed.success) return out;
  out.ok = true;
  const line = parsed.data as Record<string, unknown>;
  if ("action" in line && typeof line.action === "string") {
    out.events = 1;
    out.byAction[line.action] = 1;
    out.byReason[typeof line.reason === "string" ? line.reason : "(none)"] = 1;
  } else {
    out.errors = 1;
    out.byError[String(line.error)] = 1;
  }
  return out;
}

function byParser(text: string, withLines: boolean): Outcome {
  const parser = withLines ? new ResultParser("r.ndjson", () => undefined) : new ResultParser("r.ndjson");
  try {
    parser.push(Buffer.from(text + "\n"));
    const s = parser.end();
    return { ok: true, events: s.events, errors: s.errors, byAction: s.byAction, byReason: s.byReason, byError: s.byError };
  } catch {
    return { ok: false, events: 0, errors: 0, byAction: {}, byReason: {}, byError: {} };
  }
}

/** The text the parser hands on for a line (CR and leading spaces/tabs dropped). */
function lineBytes(text: string): { buf: Buffer; s: number; e: number } {
  const buf = Buffer.from(text);
  let e = buf.length;
  if (e > 0 && buf[e - 1] === 13) e--;
  let s = 0;
  while (s < e && (buf[s] === 32 || buf[s] === 9)) s++;
  return { buf, s, e };
}

describe("result fast paths against ResultLineSchema", () => {
  const schema = LINES.map(bySchema);

  it("covers both outcomes and every path", () => {
    const accepted = schema.filter((o) => o.ok).length;
    assert.ok(accepted > 8000 && LINES.length - accepted > 8000, `accepted ${accepted} of ${LINES.length}`);
    const fast = new FastEvent();
    const byBytes = LINES.filter((t) => {
      const { buf, s, e } = lineBytes(t);
      return s < e && fast.match(buf, s, e);
    }).length;
    assert.ok(byBytes > 3000, `the byte matcher took ${byBytes} lines`);
  });

  it("the byte matcher accepts a line only if the schema accepts it as that event", () => {
    const fast = new FastEvent();
    const wrong: string[] = [];
    LINES.forEach((text, k) => {
      const { buf, s, e } = lineBytes(text);
      if (s === e || !fast.match(buf, s, e)) return;
      const want = schema[k]!;
      const action = buf.toString("latin1", fast.actionS, fast.actionE);
      const reason = fast.reasonS < 0 ? "(none)" : buf.toString("latin1", fast.reasonS, fast.reasonE);
      if (!want.ok || want.events !== 1 || want.byAction[action] !== 1 || want.byReason[reason] !== 1) wrong.push(text);
    });
    assert.deepEqual(wrong.slice(0, 10), []);
  });

  it("the value check accepts a line only if the schema accepts it as that event", () => {
    const wrong: string[] = [];
    LINES.forEach((text, k) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return;
      }
      if (!isPlainEvent(value)) return;
      const want = schema[k]!;
      if (!want.ok || want.events !== 1 || want.byAction[value.action] !== 1 || want.byReason[value.reason ?? "(none)"] !== 1) wrong.push(text);
    });
    assert.deepEqual(wrong.slice(0, 10), []);
  });

  for (const withLines of [false, true]) {
    it(`the parser (${withLines ? "with a line callback: value check" : "counting only: byte matcher"}) accepts and counts exactly what the schema does`, () => {
      const wrong: { text: string; parser: Outcome; schema: Outcome }[] = [];
      LINES.forEach((text, k) => {
        const got = byParser(text, withLines);
        const want = schema[k]!;
        try {
          assert.deepEqual(got, want);
        } catch {
          wrong.push({ text, parser: got, schema: want });
        }
      });
      assert.deepEqual(wrong.slice(0, 5), []);
    });
  }
});
