import { copyIds } from "./record-nested.js";
import { idOf, InvalidRecord, isObject, isPage, isUserObject, noIdWhy, postId, userKey, type DatasetType } from "./record-shape.js";

// `compliant ids`: the IDs a parsed dataset record contributes to an ID file.

function arrayAt(v: unknown, key: string): unknown[] | undefined {
  if (!isObject(v)) return undefined;
  const a = v[key];
  return Array.isArray(a) ? a : undefined;
}

/**
 * The IDs a dataset record contributes to an ID file.
 * tweets: a Post's `id_str`/`id`; in a page, `data[].id` and the referenced Posts in
 * `includes.tweets[].id`. users: a Post's author (`author_id`, `user.id_str`), a user object's
 * own ID; in a page, the authors of `data[]` Posts (or the IDs of `data[]` user objects) and
 * `includes.users[].id`. Then the IDs of the copies a record embeds (record-nested.ts: retweeted,
 * quoted and expanded referenced Posts, or with users their authors and embedded user objects)
 * and, with tweets, of the Post a bare `retweeted` reference names, each once per record. These are exactly the IDs `apply` acts on.
 */
export function recordIds(v: unknown, type: DatasetType): string[] {
  if (!isObject(v)) throw new InvalidRecord("not a JSON object");
  if (isPage(v)) {
    const ids: string[] = [];
    const data = Array.isArray(v.data) ? v.data : isObject(v.data) ? [v.data] : [];
    let users = 0;
    for (const entry of data) {
      if (!isObject(entry)) continue;
      if (type === "tweets" && isUserObject(entry)) {
        users++;
        continue;
      }
      const id = type === "tweets" ? postId(entry) : userKey(entry);
      if (id !== undefined) ids.push(id);
      copyIds(entry, type, ids);
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
    if (ids.length === 0 && data.length > users) throw new InvalidRecord(type === "tweets" ? "no Post ID" : "no user ID");
    return ids;
  }
  // A user object holds no Post ID (a users dataset read for Posts gives none).
  if (type === "tweets" && isUserObject(v)) return [];
  const id = type === "tweets" ? postId(v) : userKey(v);
  if (id === undefined) throw new InvalidRecord(noIdWhy(v, type));
  const ids = [id];
  copyIds(v, type, ids);
  return ids;
}

/** How `ids` reads a record: for one type, or (sync) for both from one parse. */
export type IdReading = DatasetType | "both";

/**
 * Both kinds of ID of a record, from one parse (sync): its Post IDs and its user IDs as
 * recordIds gives them. A Post with no author has Post IDs and no user ID; a user object the
 * reverse, and without its own ID it is invalid, as a Post without one is.
 */
export function bothIds(v: unknown): { tweets: string[]; users: string[] } {
  // A record that is not a user object must have a Post ID; a user object must have its own ID;
  // a Post that names no author simply has no user ID.
  const tweets = recordIds(v, "tweets");
  let users: string[] = [];
  try {
    users = recordIds(v, "users");
  } catch (err) {
    if (!(err instanceof InvalidRecord) || (isObject(v) && isUserObject(v))) throw err;
  }
  return { tweets, users };
}

/**
 * `ids` on one parsed record: its IDs for the reading (`--field`'s values when a field is given),
 * told to `onId` with their type when `emit` is true; InvalidRecord when it has none. Returns how
 * many there were.
 */
export function emitRecordIds(
  value: unknown,
  reading: IdReading,
  field: readonly string[] | undefined,
  onId: ((id: string, type: DatasetType) => void) | undefined,
  emit: boolean,
): number {
  let ids: string[];
  let users: string[] | undefined;
  if (field) ids = fieldIds(value, field, field.join("."));
  else if (reading === "both") ({ tweets: ids, users } = bothIds(value));
  else ids = recordIds(value, reading);
  if (onId && emit) {
    const postType = reading === "both" ? "tweets" : reading;
    for (const id of ids) onId(id, postType);
    if (users) for (const id of users) onId(id, "users");
  }
  return ids.length + (users?.length ?? 0);
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
