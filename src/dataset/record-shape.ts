import { MARK } from "./json-lossless.js";

// What a parsed dataset record is (a Post, a user object, a v2 response page) and which of its
// fields hold the IDs that compliance events are matched on.

/** What the IDs in a dataset and in a results file are: Post IDs or user IDs. */
export type DatasetType = "tweets" | "users";

/** A dataset line that parsed but holds no usable ID; `why` goes into the error message. */
export class InvalidRecord extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

export type Obj = Record<string, unknown>;

const DIGITS = /^[0-9]{1,19}$/;

export function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An ID value: a 1–19 digit string, a safe non-negative integer, or a large integer kept by parseLossless. */
export function idOf(v: unknown): string | undefined {
  if (typeof v === "string") {
    if (DIGITS.test(v)) return v;
    if (v.startsWith(MARK)) {
      const digits = v.slice(MARK.length);
      return DIGITS.test(digits) ? digits : undefined;
    }
    return undefined;
  }
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return String(v);
  return undefined;
}

/** A v2 response page (twarc2 and similar tools): `{"data": [...] | {...}, "includes": {...}}`. */
export function isPage(v: Obj): boolean {
  return ("data" in v && (Array.isArray(v.data) || isObject(v.data))) || ("includes" in v && isObject(v.includes) && !("id" in v) && !("id_str" in v));
}

export function isPostLike(v: Obj): boolean {
  return "author_id" in v || "text" in v || "full_text" in v || "edit_history_tweet_ids" in v || isObject(v.user);
}

/**
 * A user object (a v2 `username` or a v1.1 `screen_name`, and nothing of a Post): it has no Post
 * ID, whatever its `id` is, so Post results never touch it (sync reads both kinds of dataset).
 */
export function isUserObject(v: Obj): boolean {
  return !isPostLike(v) && ("username" in v || "screen_name" in v);
}

/** The Post's own ID: `id_str` (v1.1) or `id` (v2). */
export function postId(v: Obj): string | undefined {
  return idOf(v.id_str) ?? idOf(v.id);
}

/**
 * The user ID that decides a record's fate for `--type users`: the author of a Post
 * (`author_id` in v2, `user.id_str` in v1.1, else the `id` of an embedded `author` (twarc2
 * flattened) or `author_user` (4CAT) object), or the user's own ID for a user object.
 * Returns undefined for a Post that names no author.
 */
export function userKey(v: Obj): string | undefined {
  if ("author_id" in v) return idOf(v.author_id);
  if (isObject(v.user)) return idOf(v.user.id_str) ?? idOf(v.user.id);
  if (isObject(v.author)) return idOf(v.author.id);
  if (isObject(v.author_user)) return idOf(v.author_user.id);
  if (isPostLike(v)) return undefined;
  return idOf(v.id_str) ?? idOf(v.id);
}

/** Why a whole record (not a page) has no key for `type`, for InvalidRecord. */
export function noIdWhy(v: Obj, type: DatasetType): string {
  if (type === "tweets") return "no Post ID";
  return isPostLike(v) ? "no author ID" : "no user ID";
}
