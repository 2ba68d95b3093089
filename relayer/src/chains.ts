/**
 * Several chains from one Redis: one relayer per chain (its own DEPLOYMENT, RPC_URL and indexer), all with the same
 * REDIS_URL/REDIS_CLUSTER and REDIS_PREFIX. Each relayer registers its chain in the hash `<prefix>:{chains}` (field:
 * the chain id; value: a {@link ChainEntry} as JSON) when it starts, and the API reads that hash to serve every
 * registered chain: for another chain it builds a read-only store over the same Redis (the projection's keys carry
 * the chain id and escrow in their hash tag: store/store.ts), never an indexer, a lease or a writer.
 *
 * A relayer writes only its own entry (HSET of its own field, never HDEL): re-registered at start and whenever a
 * read of the registry finds it missing (a flushed Redis). One escrow per chain id: a second deployment on the same
 * chain id replaces the entry.
 */
import type { RedisClient as Redis } from "./redis";
import type { Common } from "./common";
import { REDIS_TIMEOUT_MS, withDeadline } from "./deadline";
import { createStore, type Store } from "./store/store";
import { createAvailability, type Availability } from "./api/availability";

/** A chain served from this Redis, as registered by the relayer that indexes it. */
export type ChainEntry = {
  chainId: number;
  escrow: string;
  registry: string;
  /** The projection's key prefix (`<prefix>:{<chainId>:<escrow8>}:`). */
  keyPrefix: string;
  deploymentBlock: number;
  /** The escrow's resolution window (seconds): a disputed deal's view needs it. */
  resolutionWindow: number;
  /** Confirmations the chain's relayer waits for (its deal views' finality). */
  confirmations: number;
  name?: string;
};

/** One chain as the API reads it: its entry, its (read-only for others) store and its availability. */
export type ServedChain = { entry: ChainEntry; store: Store; availability: Availability; own: boolean };

export type Chains = {
  /** This relayer's chain. */
  own: ServedChain;
  /** Every registered chain, this relayer's first, then the others by ascending chain id. */
  list(): Promise<ServedChain[]>;
};

/** How long a read of the registry is kept in memory. */
export const CHAINS_CACHE_MS = 1_000;

/** The registry's key: a hash tag of its own, so it lives in one slot of a cluster. */
export const chainsKey = (redisPrefix: string) => `${redisPrefix}:{chains}`;

/** Records (or replaces) this chain's entry. */
export async function registerChain(redis: Redis, redisPrefix: string, entry: ChainEntry): Promise<void> {
  await withDeadline(
    redis.hset(chainsKey(redisPrefix), String(entry.chainId), JSON.stringify(entry)),
    REDIS_TIMEOUT_MS,
    "register chain",
  );
}

/** Parses one registry entry; undefined when it is not one (an entry of another version is skipped, not fatal). */
export function parseChainEntry(field: string, json: string): ChainEntry | undefined {
  try {
    const e = JSON.parse(json) as Partial<ChainEntry>;
    const ok =
      Number.isSafeInteger(e.chainId) &&
      String(e.chainId) === field &&
      typeof e.escrow === "string" &&
      /^0x[0-9a-fA-F]{40}$/.test(e.escrow) &&
      typeof e.registry === "string" &&
      typeof e.keyPrefix === "string" &&
      Number.isSafeInteger(e.deploymentBlock) &&
      Number.isSafeInteger(e.resolutionWindow) &&
      Number.isSafeInteger(e.confirmations);
    return ok ? (e as ChainEntry) : undefined;
  } catch {
    return undefined;
  }
}

/** The chains the API serves: `own` and whatever else is registered in the same Redis under the same prefix. */
export function createChains({
  common,
  redis,
  own,
  cacheMs = CHAINS_CACHE_MS,
}: {
  common: Pick<Common, "options" | "logger">;
  redis: Redis;
  own: ServedChain;
  cacheMs?: number;
}): Chains {
  const key = chainsKey(common.options.redisPrefix);
  /** Read-only stores of the other chains, by `<chainId>:<escrow>`. */
  const others = new Map<string, ServedChain>();
  let cached: { at: number; list: Promise<ServedChain[]> } | undefined;

  const read = async (): Promise<ServedChain[]> => {
    const all = await withDeadline(redis.hgetall(key), REDIS_TIMEOUT_MS, "chains");
    if (all[String(own.entry.chainId)] === undefined) {
      // Flushed (or never written): put our entry back; the others put back theirs when they read.
      await registerChain(redis, common.options.redisPrefix, own.entry);
    }
    const served: ServedChain[] = [own];
    const entries = Object.entries(all)
      .map(([field, json]) => parseChainEntry(field, json))
      .filter((e): e is ChainEntry => e !== undefined && e.chainId !== own.entry.chainId)
      .sort((a, b) => a.chainId - b.chainId);
    for (const entry of entries) {
      const id = `${entry.chainId}:${entry.escrow.toLowerCase()}`;
      let chain = others.get(id);
      if (!chain) {
        const store = createStore({ common, redis, chainId: entry.chainId, escrow: entry.escrow });
        chain = { entry, store, availability: createAvailability({ store, logger: common.logger }), own: false };
        others.set(id, chain);
      }
      chain.entry = entry;
      served.push(chain);
    }
    return served;
  };

  return {
    own,
    list() {
      const now = performance.now();
      if (cached && now - cached.at < cacheMs) return cached.list;
      const entry = { at: now, list: read() };
      cached = entry;
      entry.list.catch(() => {
        if (cached === entry) cached = undefined;
      });
      return entry.list;
    },
  };
}

/** The chains of a single-chain API (tests, tools): `own` only, no registry. */
export function singleChain(own: ServedChain): Chains {
  return { own, list: () => Promise.resolve([own]) };
}
