import { Kind, type EventIndex } from "./event-index.js";
import type { DatasetType } from "./record-shape.js";

// Byte scanners over one JSON line of a dataset, for apply's fast path: they look at the bytes of
// buf[s, e) without decoding or parsing them. All are cheap, conservative checks: when they find
// nothing usable the line is parsed, and parsing decides.

/** JSON whitespace inside a line (the newline and a trailing CR are the line splitter's). */
export function isSpace(c: number | undefined): boolean {
  return c === 32 || c === 9;
}

/** What scanQuotedIds found in a line. */
export const Found = {
  /** No quoted digit string has an event, and none is the value of an ID key. */
  none: 0,
  /** No quoted digit string has an event; at least one is the value of an `id`, `id_str` or `author_id` key. */
  idKey: 1,
  /** A quoted digit string (anywhere: an ID, a mention, a reply) has an event. */
  event: 2,
} as const;
export type FoundValue = (typeof Found)[keyof typeof Found];

/** `"id"`, `"id_str"`, `"author_id"` as bytes, for the cheap shape check. */
const ID_KEYS = ["id", "id_str", "author_id"].map((k) => Buffer.from(k));

/**
 * Scans the line buf[s, e) (an object: buf[s] is `{`) for quoted digit strings (`"1234…"`) and
 * looks each one up in the index, stopping at the first that has an event. Strings are not
 * tracked, so a quote inside a string may start a false candidate; that costs a lookup at most
 * (a false event makes the caller parse the line), and no digit string of valid JSON is missed.
 */
export function scanQuotedIds(buf: Buffer, s: number, e: number, index: EventIndex): FoundValue {
  let hasIdKey = false;
  for (let i = s + 1; i < e; i++) {
    if (buf[i] !== 34) continue;
    let j = i + 1;
    let c = buf[j]!;
    while (c >= 48 && c <= 57) c = buf[++j]!;
    if (j === i + 1 || c !== 34) continue;
    if (index.lookupRange(buf, i + 1, j) !== Kind.none) return Found.event;
    if (!hasIdKey) hasIdKey = precededByIdKey(buf, s, i);
    i = j;
  }
  return hasIdKey ? Found.idKey : Found.none;
}

/**
 * True if buf[s, e) holds a quoted digit string with an event other than the record's own ID
 * buf[ks, ke) (wherever that ID is repeated, e.g. as `conversation_id`). Such a string may be the
 * ID of a copy the record embeds (record-nested.ts), or of the Post it retweets, so the record
 * must be parsed even when its own ID has no event (or one that alone would leave it as it is).
 */
export function eventElsewhere(buf: Buffer, s: number, e: number, ks: number, ke: number, index: EventIndex): boolean {
  const n = ke - ks;
  for (let i = s + 1; i < e; i++) {
    if (buf[i] !== 34) continue;
    let j = i + 1;
    let c = buf[j]!;
    while (c >= 48 && c <= 57) c = buf[++j]!;
    if (j === i + 1 || c !== 34) continue;
    if (!(j - i - 1 === n && buf.compare(buf, ks, ke, i + 1, j) === 0) && index.lookupRange(buf, i + 1, j) !== Kind.none) return true;
    i = j;
  }
  return false;
}

/** True if the string opening at `quote` is the value of an `"id"`, `"id_str"` or `"author_id"` key. */
function precededByIdKey(buf: Buffer, lineStart: number, quote: number): boolean {
  let p = quote - 1;
  while (p > lineStart && isSpace(buf[p])) p--;
  if (buf[p] !== 58 /* : */) return false;
  p--;
  while (p > lineStart && isSpace(buf[p])) p--;
  if (buf[p] !== 34) return false;
  for (const key of ID_KEYS) {
    const k0 = p - key.length;
    if (k0 - 1 < lineStart || buf[k0 - 1] !== 34) continue;
    if (buf.compare(key, 0, key.length, k0, p) === 0) return true;
  }
  return false;
}

const K_OTHER = 0;
const K_ID = 1;
const K_ID_STR = 2;
const K_AUTHOR = 3;
const K_PAGE = 4;
/** `username` (v2) or `screen_name` (v1.1): a user object's, unless the record is a Post. */
const K_NAME = 5;
/** `text`, `full_text` or `user`: the record is a Post. */
const K_POST = 6;
const USERNAME = Buffer.from("username");
const SCREEN_NAME = Buffer.from("screen_name");
const TEXT = Buffer.from("text");
const FULL_TEXT = Buffer.from("full_text");
const USER = Buffer.from("user");

const ID_STR = Buffer.from("id_str");
const AUTHOR_ID = Buffer.from("author_id");
const DATA = Buffer.from("data");
const INCLUDES = Buffer.from("includes");

function keyCode(buf: Buffer, s: number, e: number): number {
  const n = e - s;
  if (n === 2 && buf[s] === 105 && buf[s + 1] === 100) return K_ID;
  if (n === 6 && buf.compare(ID_STR, 0, 6, s, e) === 0) return K_ID_STR;
  if (n === 9 && buf.compare(AUTHOR_ID, 0, 9, s, e) === 0) return K_AUTHOR;
  if ((n === 4 && buf.compare(DATA, 0, 4, s, e) === 0) || (n === 8 && buf.compare(INCLUDES, 0, 8, s, e) === 0)) return K_PAGE;
  if ((n === 8 && buf.compare(USERNAME, 0, 8, s, e) === 0) || (n === 11 && buf.compare(SCREEN_NAME, 0, 11, s, e) === 0)) return K_NAME;
  if ((n === 4 && (buf.compare(TEXT, 0, 4, s, e) === 0 || buf.compare(USER, 0, 4, s, e) === 0)) || (n === 9 && buf.compare(FULL_TEXT, 0, 9, s, e) === 0)) return K_POST;
  return K_OTHER;
}

function isIdSpan(buf: Buffer, s: number, e: number): boolean {
  if (e - s < 1 || e - s > 19) return false;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * The top-level ID fields of one JSON object line, found without parsing it. One instance is
 * reused line after line (so a scan allocates nothing); its fields describe the last scan():
 * the spans in the buffer of the digit-string values of the top-level `id`, `id_str` and
 * `author_id` keys (-1 when the key is absent or its value is not a 1–19 digit string written
 * without escapes), and whether the object has a top-level `data` or `includes` key (a v2
 * response page).
 */
export class TopLevelIds {
  idStart = -1;
  idEnd = -1;
  idStrStart = -1;
  idStrEnd = -1;
  authorStart = -1;
  authorEnd = -1;
  isPage = false;
  /** A top-level `username`/`screen_name`, and `text`/`full_text`/`user`/`author_id`: record-shape's isUserObject, from the bytes. */
  hasName = false;
  hasPostField = false;
  /** The span keyFor() chose. */
  keyStart = -1;
  keyEnd = -1;

  /**
   * Chooses, from the last scan(), the field that decides a whole record's fate for `type`:
   * tweets its `id_str` (v1.1) or `id`, users its `author_id`. Returns false when there is none
   * (the record is then parsed, and its parsed fields decide).
   */
  keyFor(type: DatasetType): boolean {
    if (type === "tweets" && this.hasName && !this.hasPostField) {
      // A user object has no Post ID, whatever its `id` is: parsed, it is kept (record-apply.ts).
      this.keyStart = this.keyEnd = -1;
      return false;
    }
    if (type === "tweets") {
      if (this.idStrStart >= 0) [this.keyStart, this.keyEnd] = [this.idStrStart, this.idStrEnd];
      else [this.keyStart, this.keyEnd] = [this.idStart, this.idEnd];
    } else {
      [this.keyStart, this.keyEnd] = [this.authorStart, this.authorEnd];
    }
    return this.keyStart >= 0;
  }

  /**
   * Walks the JSON object in buf[s, e) tracking strings and nesting, and records its top-level ID
   * fields. Returns false if the bytes are not shaped like an object.
   */
  scan(buf: Buffer, s: number, e: number): boolean {
    this.idStart = this.idEnd = this.idStrStart = this.idStrEnd = this.authorStart = this.authorEnd = -1;
    this.isPage = false;
    this.hasName = this.hasPostField = false;
    if (buf[s] !== 123) return false;
    let depth = 1;
    let expectKey = true;
    let i = s + 1;
    while (i < e) {
      const c = buf[i]!;
      if (c === 34) {
        let j = i + 1;
        while (j < e) {
          const d = buf[j]!;
          if (d === 92) j += 2;
          else if (d === 34) break;
          else j++;
        }
        if (depth === 1 && expectKey) {
          expectKey = false;
          const code = keyCode(buf, i + 1, j);
          let k = j + 1;
          while (k < e && isSpace(buf[k])) k++;
          if (buf[k] !== 58) return false;
          k++;
          while (k < e && isSpace(buf[k])) k++;
          if (code === K_PAGE) this.isPage = true;
          else if (code === K_NAME) this.hasName = true;
          else if (code === K_POST || code === K_AUTHOR) this.hasPostField = true;
          if ((code === K_ID || code === K_ID_STR || code === K_AUTHOR) && buf[k] === 34) {
            let m = k + 1;
            while (m < e && buf[m] !== 34 && buf[m] !== 92) m++;
            const digits = isIdSpan(buf, k + 1, m) && buf[m] === 34;
            const vs = digits ? k + 1 : -1;
            const ve = digits ? m : -1;
            if (code === K_ID) {
              this.idStart = vs;
              this.idEnd = ve;
            } else if (code === K_ID_STR) {
              this.idStrStart = vs;
              this.idStrEnd = ve;
            } else {
              this.authorStart = vs;
              this.authorEnd = ve;
            }
          }
          i = k;
          continue;
        }
        i = j + 1;
        continue;
      }
      if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) depth--;
      else if (c === 44 && depth === 1) expectKey = true;
      i++;
    }
    return depth === 0;
  }
}
