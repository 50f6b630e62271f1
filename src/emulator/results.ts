// Deterministic compliance results for the emulator.
//
// The rule is a pure function of the ID so tests can compute the expected result file without
// the server (expectedLines / expectedEvent / expectedResultsFile). d = ID mod 100 (its last two
// digits; a one-digit ID is its own d) decides the lines:
//
//   storage flow (unchanged since the first emulator):
//     d 0-4 delete/deleted (with redacted_at), 5-6 delete/protected, 7-8 delete/suspended,
//     9 delete/scrub_geo (tweets) or delete/deactivated (users); 10-99 no line.
//
//   api flow (the API as it is at the end of 2026: X's docs of August 2026 and public notes of Sept.):
//     an ID that is all zeros or above 2^63-1 gets one `{"id":"…","error":"invalid_id"}` line
//     and nothing else; for every other ID:
//       d   tweets                                   users
//       0-4 delete/deleted                           delete/deleted
//           (redacted_at and its alias deleted_at; both null when d = 4)
//       5-6 delete/protected                         delete/protected
//       7-8 delete/suspended                         delete/suspended
//       9   scrub_geo/geo_scrubbed                   delete/deactivated
//       10  delete/bounced                           scrub_geo/geo_scrubbed
//       11  rehydrate/tweet_edited                   (no line)
//     and two lines for one ID (duplicates; the second line is written later in the file):
//       12  rehydrate/tweet_edited, delete/deleted   scrub_geo/geo_scrubbed, delete/suspended
//       13  delete/protected, scrub_geo/geo_scrubbed delete/deactivated, scrub_geo/geo_scrubbed
//       14  scrub_geo/geo_scrubbed, rehydrate/…      delete/protected, delete/protected
//       15  delete/suspended, delete/suspended       scrub_geo/geo_scrubbed, scrub_geo/geo_scrubbed
//       16-99 no line.
//     So the most severe action (delete > scrub_geo > rehydrate) comes second for d = 12 and first
//     for d = 13 and 14; d = 14 (users) and 15 repeat the very same line.
//
// The file: the first line of every ID that has one, in upload order; then the second lines of
// the duplicated IDs, in upload order (a later component of the composite object); and one blank
// line after the second line of the whole file (a component boundary in the real files).
// Formats follow the real delivery files: tweets use `2019-08-10T12:22:39.022Z`, users
// `2019-03-02T03:37:59+00:00`; keys come in the order id, action, created_at, redacted_at
// (, deleted_at), reason. A `deleted` line's redacted_at is created_at + (d + 1) × 30 days + 12.345 s.

import { createReadStream } from "node:fs";
import { open, unlink, type FileHandle } from "node:fs/promises";

export type EmulatorJobType = "tweets" | "users";
export type EmulatorFlow = "storage" | "api";

export interface EmulatedEvent {
  id: string;
  action: string;
  created_at: string;
  redacted_at?: string | null;
  deleted_at?: string | null;
  reason: string;
}
export interface EmulatedErrorLine {
  id: string;
  error: string;
}
export type EmulatedResultLine = EmulatedEvent | EmulatedErrorLine;

/** Twitter's snowflake epoch (2010-11-04T01:42:54.657Z). */
export const SNOWFLAKE_EPOCH_MS = 1288834974657;
const MAX_SIGNED_64 = "9223372036854775807";
const DAY_MS = 86_400_000;

/** One result line's action and reason. */
type Spec = readonly [action: string, reason: string];
/** The lines for one value of d (none, one, or two for a duplicated ID). */
type Specs = readonly Spec[];

const del = (reason: string): Spec => ["delete", reason];
const GEO: Spec = ["scrub_geo", "geo_scrubbed"];
const EDITED: Spec = ["rehydrate", "tweet_edited"];
const STORAGE_TWEETS: readonly Specs[] = [
  ...Array.from({ length: 5 }, () => [del("deleted")]),
  [del("protected")], [del("protected")], [del("suspended")], [del("suspended")], [del("scrub_geo")],
];
const STORAGE_USERS: readonly Specs[] = [...STORAGE_TWEETS.slice(0, 9), [del("deactivated")]];
const API_TWEETS: readonly Specs[] = [
  ...STORAGE_TWEETS.slice(0, 9),
  [GEO],
  [del("bounced")],
  [EDITED],
  [EDITED, del("deleted")],
  [del("protected"), GEO],
  [GEO, EDITED],
  [del("suspended"), del("suspended")],
];
const API_USERS: readonly Specs[] = [
  ...STORAGE_USERS,
  [GEO],
  [],
  [GEO, del("suspended")],
  [del("deactivated"), GEO],
  [del("protected"), del("protected")],
  [GEO, GEO],
];
/** Lines per d = 0..99 for each flow and type (d beyond a table's end has no line). */
const RULES: Record<EmulatorFlow, Record<EmulatorJobType, readonly Specs[]>> = {
  storage: { tweets: STORAGE_TWEETS, users: STORAGE_USERS },
  api: { tweets: API_TWEETS, users: API_USERS },
};
const NONE: Specs = [];

function specsFor(type: EmulatorJobType, flow: EmulatorFlow, d: number): Specs {
  return RULES[flow][type][d] ?? NONE;
}

/** How severe an action is when one ID has several lines: delete > scrub_geo > rehydrate. */
const SEVERITY: Record<string, number> = { delete: 3, scrub_geo: 2, rehydrate: 1 };
const severity = (l: EmulatedResultLine): number => ("action" in l ? (SEVERITY[l.action] ?? 0) : 0);

/** Milliseconds since epoch encoded in a snowflake ID: `(id >> 22) + epoch` (IDs below 2^22 give the epoch itself). */
export function snowflakeMs(id: string): number {
  return Number(BigInt(id) >> 22n) + SNOWFLAKE_EPOCH_MS;
}

function formatTimestamp(ms: number, type: EmulatorJobType): string {
  const iso = new Date(ms).toISOString();
  return type === "tweets" ? iso : `${iso.slice(0, 19)}+00:00`;
}

/** True for IDs the API-origin flow reports as `invalid_id`: 0 (any number of zeros) or above 2^63-1. */
export function isInvalidApiId(id: string): boolean {
  const digits = id.replace(/^0+/, "");
  if (digits.length === 0) return true;
  return digits.length === 19 && digits > MAX_SIGNED_64;
}

function lastTwo(id: string): number {
  return Number(id.length >= 2 ? id.slice(-2) : id);
}

function eventLine(id: string, type: EmulatorJobType, flow: EmulatorFlow, d: number, [action, reason]: Spec): EmulatedEvent {
  const createdMs = snowflakeMs(id);
  // Built in the key order of the real files: id, action, created_at, redacted_at, reason.
  const ev: Partial<EmulatedEvent> & { id: string } = { id, action, created_at: formatTimestamp(createdMs, type) };
  if (reason === "deleted") {
    const redacted = formatTimestamp(createdMs + (d + 1) * 30 * DAY_MS + 12_345, type);
    if (flow === "api") {
      // The API-origin flow documents `deleted_at` as an alias and allows a null `redacted_at`.
      const value = d === 4 ? null : redacted;
      ev.redacted_at = value;
      ev.deleted_at = value;
    } else {
      ev.redacted_at = redacted;
    }
  }
  ev.reason = reason;
  return ev as EmulatedEvent;
}

/**
 * Every result line the emulator writes for one uploaded ID, in file order (for a duplicated ID
 * the second one is written after the first lines of all IDs): none when the ID needs no action.
 * `id` must be a 1–19 digit string. See the rule at the top of this file.
 */
export function expectedLines(id: string, type: EmulatorJobType, flow: EmulatorFlow): EmulatedResultLine[] {
  if (flow === "api" && isInvalidApiId(id)) return [{ id, error: "invalid_id" }];
  const d = lastTwo(id);
  return specsFor(type, flow, d).map((spec) => eventLine(id, type, flow, d, spec));
}

/**
 * The line that decides what happens to one uploaded ID, or null when the ID needs no action:
 * its only line, or for a duplicated ID the one with the most severe action
 * (delete > scrub_geo > rehydrate; the first of equals). `id` must be a 1–19 digit string.
 */
export function expectedEvent(id: string, type: EmulatorJobType, flow: EmulatorFlow): EmulatedResultLine | null {
  let best: EmulatedResultLine | null = null;
  for (const line of expectedLines(id, type, flow)) {
    if (best === null || severity(line) > severity(best)) best = line;
  }
  return best;
}

/** One NDJSON line (no trailing newline); keys in the order of the real files. */
export function renderResultLine(line: EmulatedResultLine): string {
  return JSON.stringify(line);
}

/**
 * The whole results file for IDs in upload order (blank lines in the input must be left out by
 * the caller): the first line of each ID that has one, then the second lines of duplicated IDs,
 * each ending in `\n`, plus one blank line after the second line of the file.
 */
export function expectedResultsFile(ids: Iterable<string>, type: EmulatorJobType, flow: EmulatorFlow): string {
  const first: string[] = [];
  const later: string[] = [];
  for (const id of ids) {
    const lines = expectedLines(id, type, flow);
    lines.forEach((l, i) => (i === 0 ? first : later).push(renderResultLine(l)));
  }
  let out = "";
  let n = 0;
  for (const l of [...first, ...later]) {
    out += l + "\n";
    if (++n === 2) out += "\n";
  }
  return out;
}

export interface ProcessResult {
  /** Valid IDs read (duplicates counted). */
  ids: number;
  /** Result lines written. */
  events: number;
  /** Size of the results file. */
  bytes: number;
  /** Set when the upload is rejected; the job then fails with this message. */
  error?: string;
}

const NL = 10;
const CR = 13;
const ZERO = 48;
const NINE = 57;
const OUT_BUF = 1 << 20;
/** Second lines of duplicated IDs kept in memory before they spill to a side file. */
const LATER_IN_MEMORY = 4096;
const MAX_SIGNED_64_BYTES = Buffer.from(MAX_SIGNED_64, "latin1");

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

/** `(id >> 22)` for a 1–19 digit ID without BigInt (exact: every intermediate stays below 2^53). */
function snowflakeMsFast(id: string): number {
  const len = id.length;
  const hi = len > 9 ? Number(id.slice(0, len - 9)) : 0;
  const lo = len > 9 ? Number(id.slice(len - 9)) : Number(id);
  // id / 2^22 = hi * 1953125 / 8192 + lo / 2^22, with hi = a * 8192 + b.
  const a = Math.floor(hi / 8192);
  const t = (hi - a * 8192) * 1953125;
  return a * 1953125 + Math.floor((t * 512 + lo) / 4194304) + SNOWFLAKE_EPOCH_MS;
}

/** Same output as formatTimestamp, with the date part cached per day. */
function makeFastFormatter(type: EmulatorJobType): (ms: number) => string {
  const days = new Map<number, string>();
  return (ms: number): string => {
    const day = Math.floor(ms / DAY_MS);
    let prefix = days.get(day);
    if (prefix === undefined) {
      if (days.size > 100_000) days.clear();
      prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
      days.set(day, prefix);
    }
    let rem = ms - day * DAY_MS;
    const h = Math.floor(rem / 3_600_000);
    rem -= h * 3_600_000;
    const m = Math.floor(rem / 60_000);
    rem -= m * 60_000;
    const sec = Math.floor(rem / 1000);
    const time = `${prefix}${PAD2[h]}:${PAD2[m]}:${PAD2[sec]}`;
    return type === "tweets" ? `${time}.${PAD3[rem - sec * 1000]}Z` : `${time}+00:00`;
  };
}

/**
 * Renders one event line for an ID and one of its specs; the same string as
 * renderResultLine(expectedLines(id, type, flow)[i]), built without intermediate objects.
 */
function makeFastRenderer(type: EmulatorJobType, flow: EmulatorFlow): (id: string, d: number, spec: Spec) => string {
  const fmt = makeFastFormatter(type);
  return (id, d, [action, reason]) => {
    const createdMs = snowflakeMsFast(id);
    let line = `{"id":"${id}","action":"${action}","created_at":"${fmt(createdMs)}"`;
    if (reason === "deleted") {
      const redacted = flow === "api" && d === 4 ? "null" : `"${fmt(createdMs + (d + 1) * 30 * DAY_MS + 12_345)}"`;
      line += flow === "api" ? `,"redacted_at":${redacted},"deleted_at":${redacted}` : `,"redacted_at":${redacted}`;
    }
    return `${line},"reason":"${reason}"}`;
  };
}

/**
 * Read an uploaded ID file and write its results file, streaming both. Byte-level parsing:
 * every non-blank line must be 1–19 ASCII digits (a trailing CR is tolerated). The second lines
 * of duplicated IDs wait in memory (and beyond LATER_IN_MEMORY lines in `<outPath>.later`) until
 * the input ends, then follow the first lines.
 */
export async function processIdFile(
  inPath: string,
  outPath: string,
  type: EmulatorJobType,
  flow: EmulatorFlow,
): Promise<ProcessResult> {
  const render = makeFastRenderer(type, flow);
  const rules = RULES[flow][type];
  const fh = await open(outPath, "w");
  const laterPath = `${outPath}.later`;
  let laterFh: FileHandle | undefined;
  let later: string[] = [];
  let out = Buffer.allocUnsafe(OUT_BUF);
  let outPos = 0;
  let ready: Buffer[] = [];
  let ids = 0;
  let events = 0;
  let bytes = 0;
  let lineNo = 0;
  let error: string | undefined;

  const emit = (s: string): void => {
    // Lines are ASCII; a line never exceeds ~200 bytes.
    if (outPos + s.length + 2 > out.length) {
      ready.push(out.subarray(0, outPos));
      out = Buffer.allocUnsafe(OUT_BUF);
      outPos = 0;
    }
    outPos += out.write(s, outPos, "latin1");
    out[outPos++] = NL;
    events++;
    if (events === 2) out[outPos++] = NL;
  };
  const drain = async (): Promise<void> => {
    if (ready.length === 0) return;
    const bufs = ready;
    ready = [];
    for (const b of bufs) bytes += b.length;
    await fh.writev(bufs);
  };
  const spill = async (): Promise<void> => {
    if (later.length < LATER_IN_MEMORY) return;
    laterFh ??= await open(laterPath, "w");
    await laterFh.write(later.join("\n") + "\n", null, "latin1");
    events += later.length;
    later = [];
  };

  // Returns false (and sets error) on an invalid line.
  const line = (buf: Buffer, start: number, end: number): boolean => {
    lineNo++;
    if (end > start && buf[end - 1] === CR) end--;
    const len = end - start;
    if (len === 0) return true;
    if (len > 19) {
      error = `invalid ID on line ${lineNo}`;
      return false;
    }
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c < ZERO || c > NINE) {
        error = `invalid ID on line ${lineNo}`;
        return false;
      }
    }
    ids++;
    const d = len >= 2 ? (buf[end - 2]! - ZERO) * 10 + (buf[end - 1]! - ZERO) : buf[end - 1]! - ZERO;
    let invalid = false;
    if (flow === "api") {
      if (d === 0) {
        invalid = true;
        for (let i = start; i < end; i++) {
          if (buf[i] !== ZERO) {
            invalid = false;
            break;
          }
        }
      }
      if (len === 19 && buf[start]! >= 57 && buf.compare(MAX_SIGNED_64_BYTES, 0, 19, start, end) > 0) invalid = true;
    }
    if (invalid) {
      emit(`{"id":"${buf.toString("latin1", start, end)}","error":"invalid_id"}`);
      return true;
    }
    const specs = rules[d];
    if (specs === undefined || specs.length === 0) return true;
    const id = buf.toString("latin1", start, end);
    emit(render(id, d, specs[0]!));
    for (let i = 1; i < specs.length; i++) later.push(render(id, d, specs[i]!));
    return true;
  };

  let carry: Buffer | null = null;
  try {
    const input = createReadStream(inPath, { highWaterMark: 1 << 20 });
    outer: for await (const chunk of input as AsyncIterable<Buffer>) {
      const buf: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(NL, start);
        if (nl === -1) break;
        if (!line(buf, start, nl)) {
          input.destroy();
          break outer;
        }
        start = nl + 1;
      }
      carry = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
      if (carry !== null && carry.length > 64) {
        // An over-long line can never be a valid ID; report it without buffering it all.
        lineNo++;
        error = `invalid ID on line ${lineNo}`;
        input.destroy();
        break;
      }
      await drain();
      await spill();
    }
    if (error === undefined && carry !== null) line(carry, 0, carry.length);
    if (error === undefined && ids === 0) error = "no IDs";
    if (error !== undefined) {
      await fh.truncate(0);
      return { ids, events: 0, bytes: 0, error };
    }
    if (laterFh !== undefined) {
      // Thousands of first lines came before: the blank line is long written.
      if (outPos > 0) ready.push(out.subarray(0, outPos));
      outPos = 0;
      await drain();
      await laterFh.close();
      laterFh = undefined;
      for await (const chunk of createReadStream(laterPath, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        await fh.write(chunk);
      }
    }
    for (const l of later) emit(l);
    if (outPos > 0) ready.push(out.subarray(0, outPos));
    await drain();
    return { ids, events, bytes };
  } finally {
    await laterFh?.close();
    await unlink(laterPath).catch(() => undefined);
    await fh.close();
  }
}
