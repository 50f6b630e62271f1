import { Kind, type EventIndex, type KindValue } from "./event-index.js";
import { removeGeo } from "./post-fields.js";
import { idOf, isObject, isPostLike, postId, userKey, type DatasetType, type Obj } from "./record-shape.js";

// Copies of other Posts (and users) stored inside a record, and what `apply` does to them:
// - v1.1: `retweeted_status`, `quoted_status` (Posts, each with its `user`);
// - twarc2 flattened / 4CAT: `referenced_tweets[i]` expanded to full Posts (`type` retweeted,
//   quoted, replied_to), `author`/`author_user` and `in_reply_to_user` user objects.
// A retweet of a removed Post (or, with --type users, of a removed user's Post) is that Post: the
// record goes. A quote or reply keeps its own content and loses the copy (a v2 reference is cut
// back to `{type, id}`). A scrub event for a copy removes the copy's geo fields.
// A bare v2 reference `{type: "retweeted", id}` is no copy, but it names the Post the record is
// a retweet of: the record goes when that Post is deleted (as with the CSV columns,
// csv-applier.ts). Bare `quoted` and `replied_to` references hold nothing to remove and stay.

/** Nesting followed at most (a quote inside a retweet is two levels). */
const MAX_DEPTH = 4;

/**
 * The ID that decides a copy's fate: the Post's ID, or with --type users its author's. A bare
 * reference `{type, id}` has the Post's ID only.
 */
function copyKey(c: Obj, type: DatasetType): string | undefined {
  if (type === "tweets") return postId(c);
  return isPostLike(c) ? userKey(c) : undefined;
}

function kindOf(c: Obj, type: DatasetType, index: EventIndex): KindValue {
  const key = copyKey(c, type);
  return key === undefined ? Kind.none : index.lookup(key);
}

/**
 * True if the record is a retweet of a removed Post: its `retweeted_status` or a `retweeted`
 * reference (expanded, or bare `{type, id}`) has a delete event. A bare reference names no
 * author, so with --type users only a copy tells.
 */
export function isRetweetOfRemoved(v: Obj, type: DatasetType, index: EventIndex): boolean {
  if (isObject(v.retweeted_status) && kindOf(v.retweeted_status, type, index) === Kind.delete) return true;
  const refs = v.referenced_tweets;
  if (Array.isArray(refs)) for (const r of refs) if (isObject(r) && r.type === "retweeted" && kindOf(r, type, index) === Kind.delete) return true;
  return false;
}

/** What applyToCopies tells its caller. */
export interface CopyContext {
  type: DatasetType;
  index: EventIndex;
  counts: { removedRecords: number; removedUsers: number; scrubbedRecords: number; untouchedRecords: number; rehydrateRecords: number };
  /** Copies taken out, for the audit file. */
  removed: unknown[];
  onRehydrate?: (id: string) => void;
}

/**
 * Applies the events to the copies inside record `v` (not to `v` itself), editing `v` in place.
 * Call isRetweetOfRemoved first: a retweet of a removed Post is removed, not edited. Returns true
 * if `v` changed.
 */
export function applyToCopies(v: Obj, ctx: CopyContext, depth = 0): boolean {
  if (depth >= MAX_DEPTH) return false;
  let changed = false;
  /** Judges one copy: false if it must go (deleted, or a retweet of a deleted Post). */
  const visit = (c: Obj): boolean => {
    const kind = kindOf(c, ctx.type, ctx.index);
    if (kind === Kind.delete || isRetweetOfRemoved(c, ctx.type, ctx.index)) {
      ctx.counts.removedRecords++;
      ctx.removed.push(c);
      return false;
    }
    if (kind === Kind.scrub) {
      ctx.counts.scrubbedRecords++;
      if (removeGeo(c)) changed = true;
    } else if (kind === Kind.rehydrate) {
      ctx.counts.untouchedRecords++;
      ctx.counts.rehydrateRecords++;
      const key = copyKey(c, ctx.type);
      if (key !== undefined) ctx.onRehydrate?.(key);
    } else if (kind === Kind.other) {
      ctx.counts.untouchedRecords++;
    }
    if (applyToCopies(c, ctx, depth + 1)) changed = true;
    return true;
  };
  for (const key of ["retweeted_status", "quoted_status"] as const) {
    const c = v[key];
    if (isObject(c) && !visit(c)) {
      delete v[key];
      changed = true;
    }
  }
  const refs = v.referenced_tweets;
  if (Array.isArray(refs)) {
    for (let i = 0; i < refs.length; i++) {
      const r = refs[i];
      if (!isObject(r) || !isPostLike(r)) continue;
      if (!visit(r)) {
        refs[i] = { type: r.type, id: r.id };
        changed = true;
      }
    }
  }
  if (ctx.type === "users") {
    // Embedded user objects: the record's own author (when it is judged by `author_id`) and the
    // user replied to. A removed user's copy goes; the `*_id` fields stay.
    for (const key of ["author", "author_user", "in_reply_to_user"] as const) {
      const u = v[key];
      if (!isObject(u)) continue;
      const id = idOf(u.id_str) ?? idOf(u.id);
      if (id !== undefined && ctx.index.lookup(id) === Kind.delete) {
        ctx.counts.removedRecords++;
        ctx.counts.removedUsers++;
        ctx.removed.push(u);
        delete v[key];
        changed = true;
      }
    }
  }
  return changed;
}

/**
 * The IDs found only in the copies inside `v` (for `compliant ids`), appended to `into` when new;
 * with tweets also the Post a bare `retweeted` reference names (it decides the record's fate).
 */
export function copyIds(v: Obj, type: DatasetType, into: string[], depth = 0): void {
  if (depth >= MAX_DEPTH) return;
  const add = (id: string | undefined) => {
    if (id !== undefined && !into.includes(id)) into.push(id);
  };
  if (type === "users") {
    for (const key of ["author", "author_user", "in_reply_to_user"] as const) {
      const u = v[key];
      if (isObject(u)) add(idOf(u.id_str) ?? idOf(u.id));
    }
  }
  const copies: Obj[] = [];
  for (const key of ["retweeted_status", "quoted_status"] as const) if (isObject(v[key])) copies.push(v[key] as Obj);
  const refs = v.referenced_tweets;
  if (Array.isArray(refs)) {
    for (const r of refs) {
      if (!isObject(r)) continue;
      if (isPostLike(r)) copies.push(r);
      else if (r.type === "retweeted") add(copyKey(r, type));
    }
  }
  for (const c of copies) {
    add(copyKey(c, type));
    copyIds(c, type, into, depth + 1);
  }
}
