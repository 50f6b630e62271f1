// Deterministic compliance results for the emulator.
//
// The rule is a pure function of the ID so tests can compute the expected result file without
// the server: d = ID mod 100 (its last two digits) decides the event, 10–99 need no action.
// Formats follow the real delivery files: tweets use
// `2019-08-10T12:22:39.022Z`, users `2019-03-02T03:37:59+00:00`, and the file has one blank
// line after the second result line (a composite-object component boundary in the real files).

import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";

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

const TWEET_REASONS = [
  "deleted", "deleted", "deleted", "deleted", "deleted",
  "protected", "protected", "suspended", "suspended", "scrub_geo",
] as const;
const USER_REASONS = [
  "deleted", "deleted", "deleted", "deleted", "deleted",
  "protected", "protected", "suspended", "suspended", "deactivated",
] as const;

/** Milliseconds since epoch encoded in a snowflake ID: `(id >> 22) + epoch` (IDs below 2^22 give the epoch itself). */
export function snowflakeMs(id: string): number {
  return Number(BigInt(id) >> 22n) + SNOWFLAKE_EPOCH_MS;
}

function formatTimestamp(ms: number, type: EmulatorJobType): string {
  const iso = new Date(ms).toISOString();
  return type === "tweets" ? iso : `${iso.slice(0, 19)}+00:00`;
}

/** True for IDs the API-origin flow reports as `invalid_id`: 0 or above 2^63-1. */
export function isInvalidApiId(id: string): boolean {
  const digits = id.replace(/^0+/, "");
  if (digits.length === 0) return true;
  return digits.length === 19 && digits > MAX_SIGNED_64;
}

/**
 * The result line the emulator writes for one uploaded ID, or null when the ID needs no action.
 * `id` must be a 1–19 digit string.
 */
export function expectedEvent(id: string, type: EmulatorJobType, flow: EmulatorFlow): EmulatedResultLine | null {
  if (flow === "api" && isInvalidApiId(id)) return { id, error: "invalid_id" };
  const d = Number(id.length >= 2 ? id.slice(-2) : id);
  if (d >= 10) return null;
  const reason = (type === "tweets" ? TWEET_REASONS : USER_REASONS)[d] ?? "deleted";
  const action = flow === "api" && reason === "scrub_geo" ? "scrub_geo" : "delete";
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

/** One NDJSON line (no trailing newline); keys in the order of the real files. */
export function renderResultLine(line: EmulatedResultLine): string {
  return JSON.stringify(line);
}

/**
 * The whole results file for IDs in upload order (blank lines in the input must be left out by
 * the caller): one line per event, each ending in `\n`, plus one blank line after the second.
 */
export function expectedResultsFile(ids: Iterable<string>, type: EmulatorJobType, flow: EmulatorFlow): string {
  let out = "";
  let n = 0;
  for (const id of ids) {
    const ev = expectedEvent(id, type, flow);
    if (ev === null) continue;
    out += renderResultLine(ev) + "\n";
    n++;
    if (n === 2) out += "\n";
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
 * Renders the line for an ID known to need one (d < 10 or an invalid API ID); the same string as
 * renderResultLine(expectedEvent(id, type, flow)), built without intermediate objects.
 */
function makeFastRenderer(type: EmulatorJobType, flow: EmulatorFlow): (id: string, d: number, invalid: boolean) => string {
  const fmt = makeFastFormatter(type);
  const reasons = type === "tweets" ? TWEET_REASONS : USER_REASONS;
  return (id, d, invalid) => {
    if (invalid) return `{"id":"${id}","error":"invalid_id"}`;
    const reason = reasons[d] ?? "deleted";
    const action = flow === "api" && reason === "scrub_geo" ? "scrub_geo" : "delete";
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
 * every non-blank line must be 1–19 ASCII digits (a trailing CR is tolerated).
 */
export async function processIdFile(
  inPath: string,
  outPath: string,
  type: EmulatorJobType,
  flow: EmulatorFlow,
): Promise<ProcessResult> {
  const render = makeFastRenderer(type, flow);
  const fh = await open(outPath, "w");
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
    if (d >= 10 && !invalid) return true;
    emit(render(buf.toString("latin1", start, end), d, invalid));
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
    }
    if (error === undefined && carry !== null) line(carry, 0, carry.length);
    if (error === undefined && ids === 0) error = "no IDs";
    if (error !== undefined) {
      await fh.truncate(0);
      return { ids, events: 0, bytes: 0, error };
    }
    if (outPos > 0) ready.push(out.subarray(0, outPos));
    await drain();
    return { ids, events, bytes };
  } finally {
    await fh.close();
  }
}
