/**
 * The Redis of a fresh machine (`scripts/lib/redis-server.ts`): REDIS_URL when set, the Redis on the usual port when
 * one answers, else a private redis-server on a free port that answers, keeps nothing on disk and stops; and, with
 * no redis-server installed, one line saying how to get it.
 */
import { expect } from "chai";
import { Redis } from "ioredis";
import { createServer, type AddressInfo } from "node:net";
import { ensureRedis, INSTALL_HINT, redisAnswers } from "../../../scripts/lib/redis-server";

/** A port on which nothing listens. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("scripts: a Redis for tests and the demo", function () {
  this.timeout(30_000);

  it("uses REDIS_URL when it is set, starting nothing", async function () {
    const redis = await ensureRedis({
      env: { REDIS_URL: "redis://redis.example:6380" },
      probe: { host: "127.0.0.1", port: await deadPort() },
    });
    expect(redis).to.deep.include({ url: "redis://redis.example:6380", started: false });
    await redis.stop();
  });

  it("uses the Redis that answers on the probed port, starting nothing", async function () {
    const shared = await ensureRedis({ env: {}, probe: { host: "127.0.0.1", port: await deadPort() } });
    try {
      const port = Number(new URL(shared.url).port);
      const redis = await ensureRedis({ env: {}, probe: { host: "127.0.0.1", port } });
      expect(redis).to.deep.include({ url: shared.url, started: false });
    } finally {
      await shared.stop();
    }
  });

  it("starts a private redis-server on a free port when none answers, without persistence, and stops it", async function () {
    const redis = await ensureRedis({ env: {}, probe: { host: "127.0.0.1", port: await deadPort() } });
    expect(redis.started).to.equal(true);
    const port = Number(new URL(redis.url).port);
    expect(redis.url).to.equal(`redis://127.0.0.1:${port}`);
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      expect(await client.set("k", "v")).to.equal("OK");
      expect(await client.config("GET", "save")).to.deep.equal(["save", ""]);
      expect(await client.config("GET", "appendonly")).to.deep.equal(["appendonly", "no"]);
    } finally {
      client.disconnect();
    }
    await redis.stop();
    expect(await redisAnswers("127.0.0.1", port)).to.equal(false);
    await redis.stop();
  });

  it("without redis-server installed, throws one line saying how to install it", async function () {
    const error = await ensureRedis({
      env: {},
      probe: { host: "127.0.0.1", port: await deadPort() },
      command: "redis-server-not-installed-here",
    }).then(
      () => expect.fail("started"),
      (e: Error) => e,
    );
    expect(error.message).to.equal(INSTALL_HINT);
    expect(error.message).to.not.contain("\n");
    expect(error.message).to.contain("apt-get install redis-server").and.contain("brew install redis");
  });
});
