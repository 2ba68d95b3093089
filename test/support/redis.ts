/**
 * Mocha root hooks that give the test run a Redis on a fresh machine (scripts/lib/redis-server.ts): when REDIS_URL is
 * unset and nothing answers on 127.0.0.1:6379, a private redis-server is started before the first test, REDIS_URL
 * points at it for every test (and every process a test spawns), and it is stopped after the last. Loaded by the
 * Hardhat config: `mocha: { rootHooks: mochaHooks }` (import { mochaHooks } from "./test/support/redis").
 */
import { Cluster, type RedisOptions } from "ioredis";
import { createRedis, scanAll, type HostPort, type RedisClient } from "../../relayer/src/redis";
import { ensureRedis, type RedisHandle } from "../../scripts/lib/redis-server";

let redis: RedisHandle | undefined;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(30_000);
    redis = await ensureRedis();
    if (redis.started) {
      process.env.REDIS_URL = redis.url;
      console.log(`  (no Redis on 127.0.0.1:6379: the tests use a private redis-server at ${redis.url})`);
    }
  },
  async afterAll() {
    if (redis?.started) delete process.env.REDIS_URL;
    await redis?.stop();
    redis = undefined;
  },
};

/** The Redis the tests use: REDIS_URL (the private server's, when the root hook started one) or the default. */
export const testRedisUrl = (): string => process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** The cluster the tests run against, from REDIS_CLUSTER (`host:port,…`, set by `npm run test:cluster`), if any. */
export function testClusterNodes(): HostPort[] | undefined {
  const list = process.env.REDIS_CLUSTER?.trim();
  if (!list) return undefined;
  return list.split(",").map((node) => {
    const [host, port] = node.trim().split(":");
    return { host, port: Number(port) };
  });
}

/** Whether this run talks to a Redis Cluster (`npm run test:cluster`). */
export const onCluster = (): boolean => testClusterNodes() !== undefined;

/**
 * A client of the test run's Redis, through the relayer's own factory: a Cluster over REDIS_CLUSTER's nodes when
 * set, else REDIS_URL (testRedisUrl()). `settings` apply per node (lazyConnect, timeouts, retries, …).
 */
export function testRedis(settings: RedisOptions = {}): RedisClient {
  return createRedis({ redisUrl: testRedisUrl(), redisCluster: testClusterNodes() }, settings, "test");
}
export type { RedisClient };

/** KEYS `pattern` over every master of a cluster (KEYS on a Cluster client asks one node): SCAN, for tests. */
export const keysOf = (redis: RedisClient, pattern: string): Promise<string[]> => scanAll(redis, pattern, 1000);

/** The environment that points a spawned relayer, CLI or child process at the test run's Redis (cluster or not). */
export const testRedisEnv = (): { REDIS_URL: string; REDIS_CLUSTER: string } => ({
  REDIS_URL: testRedisUrl(),
  REDIS_CLUSTER: process.env.REDIS_CLUSTER ?? "",
});

/**
 * A real Cluster client whose only startup node refuses connections (port 1): its commands wait in the offline queue
 * and it keeps retrying — a cluster outage, for the tests of what must still end during one. Disconnect it after.
 */
export function unreachableCluster(): Cluster {
  const cluster = new Cluster([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true, clusterRetryStrategy: () => 50 });
  cluster.on("error", () => undefined);
  return cluster;
}
