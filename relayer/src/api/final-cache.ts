/**
 * The cache of final deals' answers: settled (released, refunded, resolved, split) and past the confirmation
 * depth. Such a deal never changes (its view counts confirmations only up to the depth), so its JSON body is built once, kept with a strong ETag, and served without Redis: the read path of a
 * final deal is then validation and a Map lookup. Bounded (least recently used out first); pending deals, and open
 * or disputed ones, never enter it. `clear()` empties it and voids reads in flight when the projection is reset (rebuild, deep reorg):
 * what was final there may be gone.
 */
import { createHash } from "node:crypto";

/** Entries kept by default: a final deal's body is a few KB, so about 20 MB at most. */
export const FINAL_CACHE_ENTRIES = 5_000;

export type CachedBody = { body: string; etag: string };

/** A strong ETag of a body: the same bytes, the same tag (whichever replica built it). */
export function etagOf(body: string): string {
  return `"${createHash("sha1").update(body).digest("base64url")}"`;
}

/** Whether an If-None-Match header matches `etag` (weak comparison, as RFC 9110 asks for GET; `*` matches any). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t.replace(/^W\//, "") === bare;
  });
}

export type FinalCache = {
  get(dealId: string): CachedBody | undefined;
  /** Keeps a final deal's body; ignored when the cache was cleared since `generation` was read. */
  set(dealId: string, entry: CachedBody, generation: number): void;
  /** The current generation: read it before the Redis read whose result may be kept. */
  generation(): number;
  clear(): void;
  readonly size: number;
};

export function createFinalCache(maxEntries = FINAL_CACHE_ENTRIES): FinalCache {
  const entries = new Map<string, CachedBody>();
  let generation = 0;
  return {
    get(dealId) {
      const entry = entries.get(dealId);
      if (entry !== undefined) {
        // Most recently used last: Map keeps insertion order.
        entries.delete(dealId);
        entries.set(dealId, entry);
      }
      return entry;
    },
    set(dealId, entry, seen) {
      if (seen !== generation || maxEntries <= 0) return;
      entries.delete(dealId);
      entries.set(dealId, entry);
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
    generation: () => generation,
    clear() {
      generation++;
      entries.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
