/**
 * Mocha root hooks that give the test run a Redis on a fresh machine (scripts/lib/redis-server.ts): when REDIS_URL is
 * unset and nothing answers on 127.0.0.1:6379, a private redis-server is started before the first test, REDIS_URL
 * points at it for every test (and every process a test spawns), and it is stopped after the last. Loaded by the
 * Hardhat config: `mocha: { rootHooks: mochaHooks }` (import { mochaHooks } from "./test/support/redis").
 */
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
