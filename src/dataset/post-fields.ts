import { isObject, type Obj } from "./record-shape.js";

// The fields of a Post that `apply` removes (geo) or follows into a page's `includes`
// (its place, media and polls).

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

export function placeIdOf(post: Obj): string | undefined {
  const geo = post.geo;
  return isObject(geo) && typeof geo.place_id === "string" ? geo.place_id : undefined;
}

export function attachmentKeys(post: Obj, key: "media_keys" | "poll_ids"): string[] {
  const a = post.attachments;
  if (!isObject(a) || !Array.isArray(a[key])) return [];
  return (a[key] as unknown[]).filter((k): k is string => typeof k === "string");
}
