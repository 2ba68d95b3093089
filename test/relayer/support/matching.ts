/**
 * What the matching tests share: a store over a fresh prefix (its keyPrefix carries the hash tag), projection
 * records of acceptors and gateways written straight into Redis (the projection is only Redis data), profiles, and
 * a Hardhat node with the USDT-faithful test token for screening.
 */
import { deleteKeys, scanAll, type RedisClient } from "../../../relayer/src/redis";
import { id as keccakId, type JsonRpcSigner } from "ethers";
import { createChain } from "../../../relayer/src/chain/chain";
import { createCommon } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { createStore, type Store } from "../../../relayer/src/store/store";
import type { AcceptorProfile } from "../../../relayer/src/orders/desk";
import { TestUSDT__factory, type TestUSDT } from "../../../typechain-types";
import { freshPrefix } from "./indexer";
import { startHardhatNode, type HardhatNode } from "./node";

export const CHAIN_ID = 31337;
export const ESCROW = "0x" + "e5".repeat(20);
export const TOKEN = "0x" + "70".repeat(20);

/** A store over a fresh prefix, and the write side's base W under it. */
export function storeUnder(redis: RedisClient, name: string): { prefix: string; store: Store; base: string } {
  const prefix = freshPrefix(name);
  const common = createCommon(
    parseOptions({
      RPC_URL: "http://127.0.0.1:1",
      DEPLOYMENT: "unused.json",
      REDIS_PREFIX: prefix,
      LOG_LEVEL: "silent",
    }),
  );
  const store = createStore({ common, redis, chainId: CHAIN_ID, escrow: ESCROW });
  return { prefix, store, base: `${store.keyPrefix}w:o:` };
}

/** Deletes every key under `prefix` (SCAN, then DEL in batches). */
export async function clearPrefix(redis: RedisClient, prefix: string): Promise<void> {
  // Every master of a cluster (SCAN walks one node), one DEL per hash tag.
  await deleteKeys(redis, await scanAll(redis, `${prefix}:*`, 1000));
}

export type SeededAcceptor = {
  acceptor: string;
  gateway: string;
  status?: string;
  /** Method names; their hashes go into `accm:`. */
  methods?: string[];
  tokens?: Record<string, { min: bigint; max: bigint; free: bigint }>;
};

/** Writes an acceptor's projection records (`acc:`, `accm:`, `accs`) as the indexer would. */
export async function seedAcceptor(
  redis: RedisClient | ReturnType<RedisClient["pipeline"]>,
  keyPrefix: string,
  a: SeededAcceptor,
) {
  const acc: Record<string, string> = {
    status: a.status ?? "active",
    gateway: a.gateway,
    lockDelegate: "0x" + "00".repeat(20),
    registeredBlock: "1",
    updatedBlock: "1",
  };
  for (const [token, t] of Object.entries(a.tokens ?? {})) {
    acc[`min:${token}`] = t.min.toString();
    acc[`max:${token}`] = t.max.toString();
    acc[`free:${token}`] = t.free.toString();
    acc[`locked:${token}`] = "0";
  }
  await redis.hset(`${keyPrefix}acc:${a.acceptor}`, acc);
  const methods = (a.methods ?? []).map((m) => keccakId(m));
  if (methods.length > 0) await redis.sadd(`${keyPrefix}accm:${a.acceptor}`, ...methods);
  await redis.zadd(`${keyPrefix}accs`, 1, a.acceptor);
}

/** Writes a gateway's projection record. */
export async function seedGateway(
  redis: RedisClient | ReturnType<RedisClient["pipeline"]>,
  keyPrefix: string,
  gateway: string,
  g: { status?: string; suspended?: boolean } = {},
) {
  await redis.hset(`${keyPrefix}gw:${gateway}`, {
    status: g.status ?? "active",
    suspended: g.suspended ? "1" : "0",
    feeBps: "50",
    bond: "0",
  });
}

/** A profile quoting EUR at `rate` with SEPA:EUR between `min` and `max` base units. */
export function profileOf(over: Partial<AcceptorProfile> = {}, rate = "0.92"): AcceptorProfile {
  return {
    rates: { EUR: rate },
    methods: { "SEPA:EUR": { minAmount: "1", maxAmount: "1000000000000", details: "IBAN DE00 0000 0000 0000" } },
    autoAccept: false,
    paused: false,
    ...over,
  };
}

/** An address from a number (lower-case). */
export const addressOf = (n: number, tag = "ac") => "0x" + tag + n.toString(16).padStart(38, "0");

/** A Hardhat node with TestUSDT deployed (its owner may blacklist) and the relayer's chain adapter on it. */
export async function startUsdtNode(): Promise<{
  node: HardhatNode;
  usdt: TestUSDT;
  owner: JsonRpcSigner;
  chain: ReturnType<typeof createChain>;
}> {
  const node = await startHardhatNode();
  const owner = await node.provider.getSigner(0);
  const usdt = await new TestUSDT__factory(owner).deploy();
  await usdt.waitForDeployment();
  const common = createCommon(
    parseOptions({ RPC_URL: node.url, DEPLOYMENT: "unused.json", REDIS_PREFIX: "unused", LOG_LEVEL: "silent" }),
  );
  return { node, usdt, owner, chain: createChain({ common, rpcUrl: node.url }) };
}
