/**
 * Address screening before a match and before a release: the operator's deny list (a file, re-read when it
 * changes) and the token's own blacklist (`isBlackListed(address)`, as USDT names it; a token without the function
 * lists nobody). Blacklist answers are cached for {@link BLACKLIST_CACHE_MS}.
 */
import { statSync, readFileSync } from "node:fs";
import { Interface } from "ethers";
import type { Chain } from "../chain/types";

export const BLACKLIST_CACHE_MS = 60_000;
/** Most cached blacklist answers; the oldest is dropped first. */
export const BLACKLIST_CACHE_MAX = 10_000;

const BLACKLIST = new Interface(["function isBlackListed(address) view returns (bool)"]);

export type ScreenResult = { ok: true } | { ok: false; address: string; reason: "deny-list" | "token-blacklist" };

export type Screening = ReturnType<typeof createScreening>;

/** Parses a deny list: one address per line, `#` starts a comment, blank lines ignored; lower-cased. */
export function parseDenyList(text: string): Set<string> {
  const out = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    if (!/^0x[0-9a-fA-F]{40}$/.test(line)) throw new Error(`deny list: "${line}" is not an address`);
    out.add(line.toLowerCase());
  }
  return out;
}

/**
 * The deny list in the file at `path` (none: an empty list). The file is read now (a missing or malformed file
 * throws: the operator learns at start) and again whenever its modification time or size changes; a later read that
 * fails keeps the last good list and reports through `onError`.
 */
export function createDenyList(path: string | undefined, onError: (error: unknown) => void = () => undefined) {
  if (path === undefined) {
    const empty = new Set<string>();
    return () => empty;
  }
  let stamp = "";
  let list = new Set<string>();
  let failing = "";
  const read = () => {
    const st = statSync(path);
    const next = `${st.mtimeMs}:${st.size}`;
    if (next === stamp) return;
    stamp = next; // a malformed version is reported once, not on every screening
    list = parseDenyList(readFileSync(path, "utf8"));
    failing = "";
  };
  read();
  return (): Set<string> => {
    try {
      read();
    } catch (error) {
      const message = String(error);
      if (message !== failing) onError(error);
      failing = message;
    }
    return list;
  };
}

export function createScreening(deps: { chain: Pick<Chain, "call">; denyList: () => Set<string>; now?: () => number }) {
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { listed: boolean; until: number }>();

  async function blacklisted(token: string, address: string): Promise<boolean> {
    const key = `${token}:${address}`;
    const hit = cache.get(key);
    if (hit !== undefined && hit.until > now()) return hit.listed;
    const data = await deps.chain.call(token, BLACKLIST.encodeFunctionData("isBlackListed", [address]));
    // Reverted (no such function) or no return data (no code, or a fallback that returns nothing): not listed.
    let listed = false;
    if (data !== undefined && data.length >= 66) listed = BigInt(data.slice(0, 66)) !== 0n;
    cache.delete(key);
    if (cache.size >= BLACKLIST_CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(key, { listed, until: now() + BLACKLIST_CACHE_MS });
    return listed;
  }

  return {
    /** The first of `addresses` the deny list or `token`'s blacklist names, or ok. */
    async screen(addresses: string[], token: string): Promise<ScreenResult> {
      const lowered = addresses.map((a) => a.toLowerCase());
      const deny = deps.denyList();
      for (const address of lowered) if (deny.has(address)) return { ok: false, address, reason: "deny-list" };
      const listed = await Promise.all(lowered.map((a) => blacklisted(token.toLowerCase(), a)));
      const i = listed.indexOf(true);
      return i < 0 ? { ok: true } : { ok: false, address: lowered[i], reason: "token-blacklist" };
    },
  };
}
