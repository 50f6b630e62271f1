// The result parser's fast paths: hand-written checks that accept a line only when
// ResultLineSchema would accept it as an event (anything they are unsure of is left to the schema).
//   * FastEvent works on the raw bytes of lines in the usual shapes (no JSON.parse, no string);
//   * isPlainEvent works on a JSON.parse'd value (no zod).

const ID = /^[0-9]{1,19}$/;
// What the schema's Timestamp (zod's iso datetime with offset) accepts, but for the days 29–31 that
// some months lack (dayExists): RFC 3339 with seconds, an optional fraction, and Z or ±hh:mm, each
// field in range (`\d` is ASCII digits, as without the u flag). Its fixed prefix puts the month at
// 5–6 and the day at 8–9.
const TIMESTAMP = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

/** Days in each month (1–12) of a common year. */
const MONTH_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether the date exists in the Gregorian calendar (month 1–12, day 1–31; Feb 29 in leap years only). */
function dayExists(year: number, month: number, day: number): boolean {
  if (day <= MONTH_DAYS[month]!) return true;
  return month === 2 && day === 29 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** The number spelled by the two ASCII digits at v[i], v[i + 1]. */
function twoDigits(v: string, i: number): number {
  return v.charCodeAt(i) * 10 + v.charCodeAt(i + 1) - 528;
}

/** What the schema's Timestamp accepts. */
function isTimestamp(v: string): boolean {
  if (!TIMESTAMP.test(v)) return false;
  // Days 01–28 exist in every month (the common case: one look at the day's tens digit).
  const d = v.charCodeAt(8);
  if (d < 50 || (d === 50 && v.charCodeAt(9) < 57)) return true;
  return dayExists(twoDigits(v, 0) * 100 + twoDigits(v, 2), twoDigits(v, 5), twoDigits(v, 8));
}

/** The schema's checks for an ordinary event, without zod's per-call cost (1M lines per job). */
export function isPlainEvent(v: unknown): v is { id: string; action: string; reason?: string } {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.id === "string" &&
    ID.test(o.id) &&
    typeof o.action === "string" &&
    o.action.length > 0 &&
    (o.reason === undefined || typeof o.reason === "string") &&
    (o.created_at === undefined || (typeof o.created_at === "string" && isTimestamp(o.created_at))) &&
    (o.redacted_at === undefined || o.redacted_at === null || (typeof o.redacted_at === "string" && isTimestamp(o.redacted_at))) &&
    (o.deleted_at === undefined || o.deleted_at === null || (typeof o.deleted_at === "string" && isTimestamp(o.deleted_at)))
  );
}

const KEY_ID = 1;
const KEY_ACTION = 2;
const KEY_CREATED = 3;
const KEY_REDACTED = 4;
const KEY_DELETED = 5;
const KEY_REASON = 6;

const KEY_BYTES = ["", "id", "action", "created_at", "redacted_at", "deleted_at", "reason"].map((k) => Buffer.from(k, "latin1"));

export function bytesEqual(buf: Buffer, s: number, want: Buffer): boolean {
  for (let i = 0; i < want.length; i++) if (buf[s + i] !== want[i]) return false;
  return true;
}

/** Which known key `buf[s, e)` spells (0 for any other). */
function keyOf(buf: Buffer, s: number, e: number): number {
  const n = e - s;
  const c = buf[s];
  let key = 0;
  if (n === 2) key = c === 105 ? KEY_ID : 0;
  else if (n === 6) key = c === 97 ? KEY_ACTION : c === 114 ? KEY_REASON : 0;
  else if (n === 10) key = c === 99 ? KEY_CREATED : c === 100 ? KEY_DELETED : 0;
  else if (n === 11) key = c === 114 ? KEY_REDACTED : 0;
  return key !== 0 && bytesEqual(buf, s, KEY_BYTES[key]!) ? key : 0;
}

const D = (c: number | undefined): boolean => c !== undefined && c >= 48 && c <= 57;

/** The number spelled by the two ASCII digits at buf[i], buf[i + 1]. */
function twoDigitsAt(buf: Buffer, i: number): number {
  return buf[i]! * 10 + buf[i + 1]! - 528;
}

/**
 * Matches what isTimestamp accepts at `buf[s…]` and returns the index just after it, or -1. The
 * caller requires the closing quote there, so the string's whole content matched, as the anchored
 * regex requires.
 */
function timestampEnd(buf: Buffer, s: number, e: number): number {
  if (e - s < 20) return -1;
  if (
    !(D(buf[s]) && D(buf[s + 1]) && D(buf[s + 2]) && D(buf[s + 3]) && buf[s + 4] === 45 &&
      D(buf[s + 5]) && D(buf[s + 6]) && buf[s + 7] === 45 && D(buf[s + 8]) && D(buf[s + 9]) &&
      buf[s + 10] === 84 && D(buf[s + 11]) && D(buf[s + 12]) && buf[s + 13] === 58 &&
      D(buf[s + 14]) && D(buf[s + 15]) && buf[s + 16] === 58 && D(buf[s + 17]) && D(buf[s + 18]))
  ) {
    return -1;
  }
  // The ranges (all digits now): month 01–12, day 01–31 and in the month, hh ≤ 23, mm and ss ≤ 59.
  const month = twoDigitsAt(buf, s + 5);
  const day = twoDigitsAt(buf, s + 8);
  if (month < 1 || month > 12 || day < 1 || twoDigitsAt(buf, s + 11) > 23 || buf[s + 14]! > 53 || buf[s + 17]! > 53) return -1;
  if (day > 28 && !dayExists(twoDigitsAt(buf, s) * 100 + twoDigitsAt(buf, s + 2), month, day)) return -1;
  let i = s + 19;
  if (buf[i] === 46) {
    i++;
    if (!D(buf[i])) return -1;
    while (i < e && D(buf[i])) i++;
  }
  const c = buf[i];
  if (c === 90) return i + 1; // Z
  if (
    (c === 43 || c === 45) && D(buf[i + 1]) && D(buf[i + 2]) && buf[i + 3] === 58 && D(buf[i + 4]) && D(buf[i + 5]) &&
    twoDigitsAt(buf, i + 1) <= 23 && buf[i + 4]! <= 53
  ) {
    return i + 6;
  }
  return -1;
}

const ID_OPEN = Buffer.from('{"id":"', "latin1");
const ACTION_KEY = Buffer.from('","action":"', "latin1");
const CREATED_KEY = Buffer.from('","created_at":"', "latin1");
const REDACTED_KEY = Buffer.from(',"redacted_at":', "latin1");
const REASON_KEY = Buffer.from(',"reason":"', "latin1");

/** True when buf[s…] starts with `want`, within buf[s, e). */
function startsWith(buf: Buffer, s: number, e: number, want: Buffer): boolean {
  return s + want.length <= e && bytesEqual(buf, s, want);
}

/** True when buf[i…] spells the JSON literal `null`. */
function isNullAt(buf: Buffer, i: number): boolean {
  return buf[i] === 110 && buf[i + 1] === 117 && buf[i + 2] === 108 && buf[i + 3] === 108;
}

/** The index of the first byte at or after s that is not printable ASCII other than `"` and `\`. */
function printableEnd(buf: Buffer, s: number, e: number): number {
  let i = s;
  while (i < e) {
    const c = buf[i]!;
    if (c < 32 || c > 126 || c === 34 || c === 92) break;
    i++;
  }
  return i;
}

/**
 * Recognises, on the raw bytes, the lines that JSON.parse + isPlainEvent would accept in the
 * usual shape: one flat object whose keys are all among id/action/created_at/redacted_at/
 * deleted_at/reason (each at most once), whose values are strings of printable ASCII without
 * escapes (or null for redacted_at/deleted_at), and which pass the same checks as isPlainEvent.
 * Anything else (escapes, non-ASCII, other keys or types, odd whitespace) returns false and takes
 * the JSON.parse path, so what is accepted and every message stay exactly as before.
 */
export class FastEvent {
  /** The ID's, the action's and the reason's bytes in the last matched line (reasonS = -1: no reason). */
  idS = 0;
  idE = 0;
  actionS = 0;
  actionE = 0;
  reasonS = -1;
  reasonE = -1;

  /**
   * The shape every recorded result file has, checked in one straight pass: `{"id":"…","action":
   * "…","created_at":"…"[,"redacted_at":"…"|null],"reason":"…"}`. It accepts a subset of what the
   * general loop below accepts (same value checks), ~2× faster; any other line takes that loop.
   */
  private canonical(buf: Buffer, s: number, e: number): boolean {
    if (!startsWith(buf, s, e, ID_OPEN)) return false;
    let i = s + ID_OPEN.length;
    const ds = i;
    while (D(buf[i])) i++;
    if (i === ds || i - ds > 19 || !startsWith(buf, i, e, ACTION_KEY)) return false;
    this.idS = ds;
    this.idE = i;
    i += ACTION_KEY.length;
    this.actionS = i;
    i = printableEnd(buf, i, e);
    if (i === this.actionS || buf[i] !== 34) return false;
    this.actionE = i;
    if (!startsWith(buf, i, e, CREATED_KEY)) return false;
    i = timestampEnd(buf, i + CREATED_KEY.length, e);
    if (i === -1 || buf[i] !== 34) return false;
    i++;
    if (startsWith(buf, i, e, REDACTED_KEY)) {
      i += REDACTED_KEY.length;
      if (buf[i] === 34) {
        i = timestampEnd(buf, i + 1, e);
        if (i === -1 || buf[i] !== 34) return false;
        i++;
      } else if (isNullAt(buf, i)) {
        i += 4;
      } else {
        return false;
      }
    }
    if (!startsWith(buf, i, e, REASON_KEY)) return false;
    i += REASON_KEY.length;
    this.reasonS = i;
    i = printableEnd(buf, i, e);
    this.reasonE = i;
    return buf[i] === 34 && buf[i + 1] === 125 && i + 2 === e;
  }

  match(buf: Buffer, s: number, e: number): boolean {
    // Trailing JSON whitespace is fine for JSON.parse; leading spaces/tabs are already skipped.
    while (e > s && (buf[e - 1] === 32 || buf[e - 1] === 9 || buf[e - 1] === 13)) e--;
    if (this.canonical(buf, s, e)) return true;
    if (buf[s] !== 123 || buf[e - 1] !== 125) return false; // { … }
    let i = s + 1;
    let seen = 0;
    let idS = 0, idE = 0, actionS = 0, actionE = 0, reasonS = 0, reasonE = 0;
    for (;;) {
      if (buf[i] !== 34) return false;
      const ks = ++i;
      i = printableEnd(buf, ks, e);
      if (i >= e || buf[i] !== 34) return false;
      const key = keyOf(buf, ks, i);
      if (key === 0 || seen & (1 << key)) return false;
      seen |= 1 << key;
      if (buf[++i] !== 58) return false; // :
      i++;
      if (buf[i] === 34) {
        const vs = ++i;
        if (key === KEY_ID) {
          while (D(buf[i])) i++;
          if (i === vs || i - vs > 19 || buf[i] !== 34) return false;
          idS = vs;
          idE = i;
        } else if (key === KEY_ACTION || key === KEY_REASON) {
          i = printableEnd(buf, vs, e);
          if (i >= e || buf[i] !== 34) return false;
          if (key === KEY_ACTION) {
            if (i === vs) return false;
            actionS = vs;
            actionE = i;
          } else {
            reasonS = vs;
            reasonE = i;
          }
        } else {
          i = timestampEnd(buf, vs, e);
          if (i === -1 || buf[i] !== 34) return false;
        }
        i++;
      } else if ((key === KEY_REDACTED || key === KEY_DELETED) && isNullAt(buf, i)) {
        i += 4;
      } else {
        return false;
      }
      if (buf[i] === 44) {
        i++;
        continue;
      }
      if (buf[i] === 125 && i === e - 1) break;
      return false;
    }
    if (!(seen & (1 << KEY_ID)) || !(seen & (1 << KEY_ACTION))) return false;
    this.idS = idS;
    this.idE = idE;
    this.actionS = actionS;
    this.actionE = actionE;
    this.reasonS = seen & (1 << KEY_REASON) ? reasonS : -1;
    this.reasonE = reasonE;
    return true;
  }
}
