import { Kind, type EventIndex, type KindValue } from "./event-index.js";
import { attachmentKeys, placeIdOf, removeGeo } from "./post-fields.js";
import { applyToCopies, isRetweetOfRemoved } from "./record-nested.js";
import { idOf, InvalidRecord, isObject, isPage, isPostLike, isUserObject, noIdWhy, postId, userKey, type DatasetType, type Obj } from "./record-shape.js";

// `compliant apply` on one parsed record: what its compliance events do to it.

export interface ApplyCounts {
  /** Posts or users removed (whole-line records and entries inside pages). */
  removedRecords: number;
  /**
   * Of those, user objects removed for their own user event (`--type users`); the others removed
   * for a user event are Posts of that user (sync tells the two apart in its summary).
   */
  removedUsers: number;
  /** Records with a scrub event (geo fields removed where present). */
  scrubbedRecords: number;
  /** Records left untouched: a `rehydrate` event, or an action this version does not apply. */
  untouchedRecords: number;
  /** Of those, records with a `rehydrate` event (out of date: their IDs go to `--rehydrate`). */
  rehydrateRecords: number;
  /** `includes.places/media/polls` entries dropped because only removed or scrubbed Posts used them. */
  prunedIncludes: number;
}

export type Outcome =
  | { kind: "keep" }
  | { kind: "drop" }
  | { kind: "rewrite"; value: Obj; removed: unknown[] };

/**
 * Decides what happens to one parsed dataset record. Whole records (v2 Post, v1.1 Post, user
 * object) are kept, dropped, or rewritten without their geo fields. v2 response pages are edited
 * inside; see applyToPage.
 */
/** Told the ID of every record with a `rehydrate` event (repeats included). */
export type OnRehydrate = (id: string) => void;

/**
 * `keepKeyless`: a record with no ID of this type (a Post with no author, for users) is kept as it
 * is, its copies still judged, instead of being invalid; sync applies its users results to Posts
 * that may have no author field.
 */
export function applyToRecord(v: unknown, type: DatasetType, index: EventIndex, counts: ApplyCounts, onRehydrate?: OnRehydrate, keepKeyless = false): Outcome {
  if (!isObject(v)) throw new InvalidRecord("not a JSON object");
  if (isPage(v)) return applyToPage(v, type, index, counts, onRehydrate);
  // A user object has no Post ID, so Post results leave it as it is.
  if (type === "tweets" && isUserObject(v)) return { kind: "keep" };
  const key = type === "tweets" ? postId(v) : userKey(v);
  if (key === undefined && !keepKeyless) throw new InvalidRecord(noIdWhy(v, type));
  const kind = key === undefined ? Kind.none : index.lookup(key);
  if (kind === Kind.delete || (mayHoldCopies(v) && isRetweetOfRemoved(v, type, index))) {
    counts.removedRecords++;
    if (type === "users" && !isPostLike(v)) counts.removedUsers++;
    return { kind: "drop" };
  }
  let changed = false;
  switch (kind) {
    case Kind.scrub:
      counts.scrubbedRecords++;
      changed = removeGeo(v);
      break;
    case Kind.rehydrate:
      counts.untouchedRecords++;
      counts.rehydrateRecords++;
      onRehydrate?.(key!);
      break;
    case Kind.other:
      counts.untouchedRecords++;
      break;
    default:
      break;
  }
  const removed: unknown[] = [];
  if (mayHoldCopies(v) && applyToCopies(v, { type, index, counts, removed, onRehydrate })) changed = true;
  return changed ? { kind: "rewrite", value: v, removed } : { kind: "keep" };
}

/** True if a record may embed copies of other Posts or users (record-nested.ts). */
function mayHoldCopies(v: Obj): boolean {
  return "retweeted_status" in v || "quoted_status" in v || "referenced_tweets" in v || "author" in v || "author_user" in v || "in_reply_to_user" in v;
}

/**
 * Edits a v2 response page:
 * - tweets: `data[]` Posts and referenced Posts in `includes.tweets[]` are matched by `id`;
 * - users: `includes.users[]` by `id`, and every Post (in `data[]` or `includes.tweets[]`) by its
 *   `author_id`, so the Posts of a deleted, suspended or protected account go with it; `data[]`
 *   entries without `author_id`/`text` are user objects (a users lookup page), matched by `id`.
 * Delete removes the entry; scrub removes its geo fields. `includes.places`, `includes.media` and
 * `includes.polls` entries used only by removed (or, for places, scrubbed) Posts are dropped too.
 * A Post whose expanded copies (record-nested.ts) retweet a removed Post goes too; the other copies
 * are edited as in a whole record. `meta.result_count` is set to what `data` holds, `includes`
 * arrays left empty by the edit are removed (and `includes` when empty), `errors` is left as it
 * was. A page whose `data` had entries and is now empty is dropped as a whole line (its
 * `includes` only expanded those Posts).
 */
function applyToPage(page: Obj, type: DatasetType, index: EventIndex, counts: ApplyCounts, onRehydrate?: OnRehydrate): Outcome {
  const removed: unknown[] = [];
  let changed = false;
  const affectedPlaces = new Set<string>();
  const affectedMedia = new Set<string>();
  const affectedPolls = new Set<string>();

  let lastKey: string | undefined;
  const kindOf = (entry: Obj, asPost: boolean): KindValue => {
    const key = type === "tweets" ? (isUserObject(entry) ? undefined : postId(entry)) : asPost || isPostLike(entry) ? idOf(entry.author_id) : idOf(entry.id);
    lastKey = key;
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
      const copies = post && mayHoldCopies(entry);
      if (kind === Kind.delete || (copies && isRetweetOfRemoved(entry, type, index))) {
        counts.removedRecords++;
        if (type === "users" && !post) counts.removedUsers++;
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
      } else if (kind === Kind.rehydrate) {
        counts.untouchedRecords++;
        counts.rehydrateRecords++;
        if (lastKey !== undefined) onRehydrate?.(lastKey);
      } else if (kind === Kind.other) {
        counts.untouchedRecords++;
      }
      if (copies && applyToCopies(entry, { type, index, counts, removed, onRehydrate })) touched = true;
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
  /** The `includes` arrays this edit replaced (an empty one is then left out of the page). */
  const replaced = new Set<string>();
  if (includes) {
    if (Array.isArray(includes.tweets)) {
      const next = edit(includes.tweets, type === "users", true);
      if (next) {
        changed = true;
        includes.tweets = next;
        replaced.add("tweets");
      }
    }
    if (type === "users" && Array.isArray(includes.users)) {
      const next = edit(includes.users, false, false);
      if (next) {
        changed = true;
        includes.users = next;
        replaced.add("users");
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
      if (kept.length !== list.length) {
        includes[key] = kept;
        replaced.add(key);
      }
    };
    // Places are geo data: dropped, not copied to the audit file.
    prune("places", "id", affectedPlaces, false);
    prune("media", "media_key", affectedMedia, true);
    prune("polls", "id", affectedPolls, true);
  }
  // Keep the page's own account true: `meta.result_count` counts `data`, and an `includes` array
  // this edit emptied goes (and `includes` with it when nothing is left). `includes` is replaced,
  // not edited, so a caller holding the original object (folder.ts) still sees the new arrays.
  if (isObject(page.meta) && typeof page.meta.result_count === "number" && Array.isArray(page.data)) page.meta.result_count = page.data.length;
  if (includes && [...replaced].some((k) => Array.isArray(includes[k]) && (includes[k] as unknown[]).length === 0)) {
    const left: Obj = {};
    for (const [k, val] of Object.entries(includes)) if (!(replaced.has(k) && Array.isArray(val) && val.length === 0)) left[k] = val;
    if (Object.keys(left).length > 0) page.includes = left;
    else delete page.includes;
  }
  return { kind: "rewrite", value: page, removed };
}
