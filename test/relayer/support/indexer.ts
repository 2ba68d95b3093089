/**
 * An indexer run in the test process against a deployment on a Hardhat node and a real Redis, each under a key
 * prefix of its own, and a wait for it to reach the node's head.
 *
 *   const r = startIndexer({ rpcUrl: node.url, deploymentFile, redis, env: { CONFIRMATIONS: "3" } });
 *   await caughtUp(provider, r.store, { halted: r.indexer.halted });
 *   ...
 *   await r.stop();
 */
import type { RedisClient } from "../../support/redis";
import { deleteKeys, scanAll } from "../../../relayer/src/redis";
import { randomBytes } from "node:crypto";
import type { JsonRpcProvider } from "ethers";
import { createCommon, type Common } from "../../../relayer/src/common";
import { createChain, type EthersChain } from "../../../relayer/src/chain/chain";
import { indexedContracts, readDeployment } from "../../../relayer/src/deployment";
import { createIndexer, type Indexer } from "../../../relayer/src/indexer/indexer";
import { parseOptions } from "../../../relayer/src/options";
import { createStore, type Store } from "../../../relayer/src/store/store";

export type InProcessIndexer = {
  common: Common;
  chain: EthersChain;
  store: Store;
  indexer: Indexer;
  prefix: string;
  /** Stops the indexer (releasing its lease) and closes its chain client; the keys stay. */
  stop(): Promise<void>;
};

/** A fresh key prefix `test-<name>-<random>`. */
export const freshPrefix = (name: string) => `test-${name}-${randomBytes(4).toString("hex")}`;

/**
 * Deletes every key under `prefix:` — the projection's, and those of every other tag a relayer writes under it
 * (webhooks' `:wh}`, API keys' `{keys}`), which a store's clear() leaves.
 */
export async function deletePrefix(redis: RedisClient, prefix: string): Promise<void> {
  // Every master of a cluster (SCAN walks one node), one DEL per hash tag (a cluster refuses a DEL across slots).
  await deleteKeys(redis, await scanAll(redis, `${prefix}:*`, 500));
}

/**
 * Creates and starts an indexer of the deployment in `deploymentFile`. `env` holds options over RPC_URL, DEPLOYMENT,
 * REDIS_PREFIX and LOG_LEVEL=silent; `instrument` may wrap the chain and the store before the indexer starts.
 */
export function startIndexer({
  rpcUrl,
  deploymentFile,
  redis,
  prefix = freshPrefix("idx"),
  env = {},
  holder = `test-${prefix}`,
  instrument,
  backfillChunkLogs,
}: {
  rpcUrl: string;
  deploymentFile: string;
  redis: RedisClient;
  prefix?: string;
  env?: Record<string, string>;
  holder?: string;
  instrument?: (chain: EthersChain, store: Store) => void;
  backfillChunkLogs?: number;
}): InProcessIndexer {
  const common = createCommon(
    parseOptions({ RPC_URL: rpcUrl, DEPLOYMENT: deploymentFile, REDIS_PREFIX: prefix, LOG_LEVEL: "silent", ...env }),
  );
  const deployment = readDeployment(deploymentFile);
  const chain = createChain({ common, rpcUrl });
  const store = createStore({
    common,
    redis,
    chainId: deployment.chainId,
    escrow: deployment.contracts.Escrow.address,
  });
  instrument?.(chain, store);
  const indexer = createIndexer({
    common,
    chain,
    store,
    ...indexedContracts(deployment),
    holder,
    backfillChunkLogs,
  });
  void indexer.start();
  return {
    common,
    chain,
    store,
    indexer,
    prefix,
    stop: async () => {
      await indexer.stop();
      chain.close();
    },
  };
}

/**
 * Waits until `store` has applied the node's head block (its number and its hash). Fails after `timeoutMs`, or as
 * soon as `halted` (an indexer's) reports a halt.
 */
export async function caughtUp(
  provider: JsonRpcProvider,
  store: Store,
  { timeoutMs = 60_000, halted }: { timeoutMs?: number; halted?: () => string | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const head = (await provider.getBlock("latest"))!;
    // A store whose Redis is down (a test may stop it) is not caught up yet.
    const meta = await store.getMeta().catch(() => undefined);
    if (meta?.block === head.number && meta.hash === head.hash) return;
    const reason = halted?.();
    if (reason) throw new Error(`indexer halted: ${reason}`);
    if (Date.now() > deadline) throw new Error(`indexer stuck at ${meta?.block}, head ${head.number}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A store over `client` for the escrow of `deploymentFile` on the node at `rpcUrl`, under `prefix` (silent logs). */
export function storeForDeployment(client: RedisClient, rpcUrl: string, deploymentFile: string, prefix: string): Store {
  const deployment = readDeployment(deploymentFile);
  const common = createCommon(
    parseOptions({ RPC_URL: rpcUrl, DEPLOYMENT: deploymentFile, REDIS_PREFIX: prefix, LOG_LEVEL: "silent" }),
  );
  return createStore({
    common,
    redis: client,
    chainId: deployment.chainId,
    escrow: deployment.contracts.Escrow.address,
  });
}
