import { Kind, type EventIndex, type KindValue } from "./event-index.js";

/** What the IDs in a dataset and in a results file are: Post IDs or user IDs. */
export type DatasetType = "tweets" | "users";

/** A dataset line that parsed but holds no usable ID; `why` goes into the error message. */
export class InvalidRecord extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

type Obj = Record<string, unknown>;

const DIGITS = /^[0-9]{1,19}$/;
const MARK = "\uE000#"; // see json-lossless.ts

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

function isPostLike(v: Obj): boolean {
  return "author_id" in v || "text" in v || "full_text" in v || "edit_history_tweet_ids" in v || isObject(v.user);
}

/** The Post's own ID: `id_str` (v1.1) or `id` (v2). */
function postId(v: Obj): string | undefined {
  return idOf(v.id_str) ?? idOf(v.id);
}

/**
 * The user ID that decides a record's fate for `--type users`: the author of a Post
 * (`author_id` in v2, `user.id_str` in v1.1), or the user's own ID for a user object.
 * Returns undefined for a Post that names no author.
 */
function userKey(v: Obj): string | undefined {
  if ("author_id" in v) return idOf(v.author_id);
  if (isObject(v.user)) return idOf(v.user.id_str) ?? idOf(v.user.id);
  if (isPostLike(v)) return undefined;
  return idOf(v.id_str) ?? idOf(v.id);
}

function noIdWhy(v: Obj, type: DatasetType): string {
  if (type === "tweets") return "no Post ID";
  return isPostLike(v) ? "no author ID" : "no user ID";
}

function arrayAt(v: unknown, key: string): unknown[] | undefined {
  if (!isObject(v)) return undefined;
  const a = v[key];
  return Array.isArray(a) ? a : undefined;
}

// ---------------------------------------------------------------------------------------------
// `compliant ids`

/**
 * The IDs a dataset record contributes to an ID file.
 * tweets: a Post's `id_str`/`id`; in a page, `data[].id` and the referenced Posts in
 * `includes.tweets[].id`. users: a Post's author (`author_id`, `user.id_str`), a user object's
 * own ID; in a page, the authors of `data[]` Posts (or the IDs of `data[]` user objects) and
 * `includes.users[].id`. These are exactly the IDs `apply` acts on.
 */
export function recordIds(v: unknown, type: DatasetType): string[] {
  if (!isObject(v)) throw new InvalidRecord("not a JSON object");
  if (isPage(v)) {
    const ids: string[] = [];
    const data = Array.isArray(v.data) ? v.data : isObject(v.data) ? [v.data] : [];
    for (const entry of data) {
      if (!isObject(entry)) continue;
      const id = type === "tweets" ? postId(entry) : userKey(entry);
      if (id !== undefined) ids.push(id);
    }
    for (const entry of arrayAt(v.includes, type === "tweets" ? "tweets" : "users") ?? []) {
      const id = isObject(entry) ? idOf(entry.id) : undefined;
      if (id !== undefined) ids.push(id);
    }
    if (type === "users") {
      for (const entry of arrayAt(v.includes, "tweets") ?? []) {
        const id = isObject(entry) ? idOf(entry.author_id) : undefined;
        if (id !== undefined) ids.push(id);
      }
    }
    if (ids.length === 0 && data.length > 0) throw new InvalidRecord(type === "tweets" ? "no Post ID" : "no user ID");
    return ids;
  }
  const id = type === "tweets" ? postId(v) : userKey(v);
  if (id === undefined) throw new InvalidRecord(noIdWhy(v, type));
  return [id];
}

/**
 * `--field a.b.c`: the values at a dot path, fanning out over arrays (`data.id` on a page gives
 * every `data[].id`). Every value found must be an ID.
 */
export function fieldIds(v: unknown, path: readonly string[], display: string): string[] {
  let current: unknown[] = [v];
  let found = false;
  for (const key of path) {
    const next: unknown[] = [];
    found = false;
    for (const c of current) {
      for (const item of Array.isArray(c) ? c : [c]) {
        if (isObject(item) && key in item) {
          next.push(item[key]);
          found = true;
        }
      }
    }
    current = next;
  }
  // `data: []` (an empty page) holds no IDs but is not an error; a missing path is.
  if (!found && !current.length) {
    if (!(path.length > 1 && emptyArrayOnPath(v, path))) throw new InvalidRecord(`no value at ${display}`);
  }
  const flat = current.flatMap((c) => (Array.isArray(c) ? c : [c]));
  return flat.map((value) => {
    const id = idOf(value);
    if (id === undefined) throw new InvalidRecord(`${display} is not an ID`);
    return id;
  });
}

/** True if walking `path` stops at an empty array (so there was nothing to find, not a missing field). */
function emptyArrayOnPath(v: unknown, path: readonly string[]): boolean {
  let c: unknown = v;
  for (const key of path) {
    if (Array.isArray(c)) return c.length === 0;
    if (!isObject(c) || !(key in c)) return false;
    c = c[key];
  }
  return Array.isArray(c) && c.length === 0;
}

// ---------------------------------------------------------------------------------------------
// `compliant apply`

export interface ApplyCounts {
  /** Posts or users removed (whole-line records and entries inside pages). */
  removedRecords: number;
  /** Records with a scrub event (geo fields removed where present). */
  scrubbedRecords: number;
  /** Records whose event has an action this version does not apply; left untouched. */
  untouchedRecords: number;
  /** `includes.places/media/polls` entries dropped because only removed or scrubbed Posts used them. */
  prunedIncludes: number;
}

export type Outcome =
  | { kind: "keep" }
  | { kind: "drop" }
  | { kind: "rewrite"; value: Obj; removed: unknown[] };

const GEO_KEYS = ["geo", "coordinates", "place"] as const;

/** Removes the geo fields: v1.1 `geo`, `coordinates`, `place`, and the v2 `geo` object. */
export function removeGeo(v: Obj): boolean {
  let changed = false;
  for (const key of GEO_KEYS) {
    if (key in v) {
      delete v[key];
      changed = true;
    }
  }
  return changed;
}

function placeIdOf(post: Obj): string | undefined {
  const geo = post.geo;
  return isObject(geo) && typeof geo.place_id === "string" ? geo.place_id : undefined;
}

function attachmentKeys(post: Obj, key: "media_keys" | "poll_ids"): string[] {
  const a = post.attachments;
  if (!isObject(a) || !Array.isArray(a[key])) return [];
  return (a[key] as unknown[]).filter((k): k is string => typeof k === "string");
}

/**
 * Decides what happens to one parsed dataset record. Whole records (v2 Post, v1.1 Post, user
 * object) are kept, dropped, or rewritten without their geo fields. v2 response pages are edited
 * inside; see applyToPage.
 */
export function applyToRecord(v: unknown, type: DatasetType, index: EventIndex, counts: ApplyCounts): Outcome {
  if (!isObject(v)) throw new InvalidRecord("not a JSON object");
  if (isPage(v)) return applyToPage(v, type, index, counts);
  const key = type === "tweets" ? postId(v) : userKey(v);
  if (key === undefined) throw new InvalidRecord(noIdWhy(v, type));
  const kind = index.lookup(key);
  switch (kind) {
    case Kind.delete:
      counts.removedRecords++;
      return { kind: "drop" };
    case Kind.scrub:
      counts.scrubbedRecords++;
      return removeGeo(v) ? { kind: "rewrite", value: v, removed: [] } : { kind: "keep" };
    case Kind.other:
      counts.untouchedRecords++;
      return { kind: "keep" };
    default:
      return { kind: "keep" };
  }
}

/**
 * Edits a v2 response page:
 * - tweets: `data[]` Posts and referenced Posts in `includes.tweets[]` are matched by `id`;
 * - users: `includes.users[]` by `id`, and every Post (in `data[]` or `includes.tweets[]`) by its
 *   `author_id`, so the Posts of a deleted, suspended or protected account go with it; `data[]`
 *   entries without `author_id`/`text` are user objects (a users lookup page), matched by `id`.
 * Delete removes the entry; scrub removes its geo fields. `includes.places`, `includes.media` and
 * `includes.polls` entries used only by removed (or, for places, scrubbed) Posts are dropped too.
 * `meta` and `errors` are left as they were. A page whose `data` had entries and is now empty is
 * dropped as a whole line (its `includes` only expanded those Posts).
 */
function applyToPage(page: Obj, type: DatasetType, index: EventIndex, counts: ApplyCounts): Outcome {
  const removed: unknown[] = [];
  let changed = false;
  const affectedPlaces = new Set<string>();
  const affectedMedia = new Set<string>();
  const affectedPolls = new Set<string>();

  const kindOf = (entry: Obj, asPost: boolean): KindValue => {
    const key = type === "tweets" ? postId(entry) : asPost || isPostLike(entry) ? idOf(entry.author_id) : idOf(entry.id);
    return key === undefined ? Kind.none : index.lookup(key);
  };

  /** Filters one array of entries in place; returns the new array or undefined when unchanged. */
  const edit = (entries: unknown[], asPost: boolean, isPosts: boolean): unknown[] | undefined => {
    let touched = false;
    const kept: unknown[] = [];
    for (const entry of entries) {
      if (!isObject(entry)) {
        kept.push(entry);
        continue;
      }
      const kind = kindOf(entry, asPost);
      const post = isPosts && (asPost || isPostLike(entry));
      if (kind === Kind.delete) {
        counts.removedRecords++;
        touched = true;
        removed.push(entry);
        if (post) {
          const place = placeIdOf(entry);
          if (place !== undefined) affectedPlaces.add(place);
          for (const k of attachmentKeys(entry, "media_keys")) affectedMedia.add(k);
          for (const k of attachmentKeys(entry, "poll_ids")) affectedPolls.add(k);
        }
        continue;
      }
      if (kind === Kind.scrub) {
        counts.scrubbedRecords++;
        const place = post ? placeIdOf(entry) : undefined;
        if (removeGeo(entry)) {
          touched = true;
          if (place !== undefined) affectedPlaces.add(place);
        }
      } else if (kind === Kind.other) {
        counts.untouchedRecords++;
      }
      kept.push(entry);
    }
    return touched ? kept : undefined;
  };

  let droppedWhole = false;
  if (Array.isArray(page.data)) {
    const next = edit(page.data, false, true);
    if (next) {
      changed = true;
      if (page.data.length > 0 && next.length === 0) droppedWhole = true;
      page.data = next;
    }
  } else if (isObject(page.data)) {
    const next = edit([page.data], false, true);
    if (next) {
      changed = true;
      if (next.length === 0) droppedWhole = true;
      else page.data = next[0];
    }
  }
  const includes = isObject(page.includes) ? page.includes : undefined;
  if (includes) {
    if (Array.isArray(includes.tweets)) {
      const next = edit(includes.tweets, type === "users", true);
      if (next) {
        changed = true;
        includes.tweets = next;
      }
    }
    if (type === "users" && Array.isArray(includes.users)) {
      const next = edit(includes.users, false, false);
      if (next) {
        changed = true;
        includes.users = next;
      }
    }
  }
  if (droppedWhole) return { kind: "drop" };
  if (!changed) return { kind: "keep" };

  if (includes && (affectedPlaces.size || affectedMedia.size || affectedPolls.size)) {
    // What the remaining Posts still use stays.
    const posts: Obj[] = [];
    const collect = (a: unknown) => {
      if (Array.isArray(a)) {
        for (const e of a) if (isObject(e)) posts.push(e);
      } else if (isObject(a)) {
        posts.push(a);
      }
    };
    collect(page.data);
    collect(includes.tweets);
    for (const p of posts) {
      const place = placeIdOf(p);
      if (place !== undefined) affectedPlaces.delete(place);
      for (const k of attachmentKeys(p, "media_keys")) affectedMedia.delete(k);
      for (const k of attachmentKeys(p, "poll_ids")) affectedPolls.delete(k);
    }
    const prune = (key: string, idKey: string, ids: Set<string>, audit: boolean) => {
      const list = includes[key];
      if (!Array.isArray(list) || ids.size === 0) return;
      const kept = list.filter((e) => {
        const id = isObject(e) ? e[idKey] : undefined;
        if (typeof id === "string" && ids.has(id)) {
          counts.prunedIncludes++;
          if (audit) removed.push(e);
          return false;
        }
        return true;
      });
      if (kept.length !== list.length) includes[key] = kept;
    };
    // Places are geo data: dropped, not copied to the audit file.
    prune("places", "id", affectedPlaces, false);
    prune("media", "media_key", affectedMedia, true);
    prune("polls", "id", affectedPolls, true);
  }
  return { kind: "rewrite", value: page, removed };
}
