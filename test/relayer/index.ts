/**
 * The relayer as real processes against a real Hardhat node and real Redis servers: SIGKILL at random points,
 * a flaky RPC endpoint, a Redis restart, and two replicas handing the indexer lease over.
 */
import { testRedis, type RedisClient } from "../support/redis";
import { expect } from "chai";
import { Redis } from "ioredis";
import type { Store } from "../../relayer/src/store/store";
import { startDeployed } from "./support/deployed";
import type { HardhatNode } from "./support/node";
import { privateRedis } from "./support/private-redis";
import { startFaultyProxy } from "./support/faulty-proxy";
import {
  caughtUp as caughtUpWith,
  deletePrefix,
  freshPrefix,
  startIndexer,
  storeForDeployment,
} from "./support/indexer";
import { prng } from "./support/random";
import { generateLoad, runAllPaths, type Protocol } from "./support/activity";
import { metric, spawnRelayer, type RelayerProcess } from "./support/relayer-process";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("relayer processes: crashes, faults, restarts, failover", function () {
  this.timeout(600_000);
  let node: HardhatNode;
  let deploymentFile: string;
  let p: Protocol;
  let redis: RedisClient;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    ({ node, deploymentFile, p } = await startDeployed("process"));
    await runAllPaths(p);
    // Many small blocks, so the backfill makes many commits a kill can land between.
    await generateLoad(p, 240, 4);
    redis = testRedis();
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await redis?.quit();
    await node?.stop();
  });

  const newPrefix = () => freshPrefix("proc");
  const storeFor = (client: RedisClient, prefix: string): Store => {
    const store = storeForDeployment(client, node.url, deploymentFile, prefix);
    // Every key of the prefix: the spawned relayers also write their webhook dispatcher's keys under it.
    cleanups.push(() => deletePrefix(client, prefix));
    return store;
  };
  const relayerEnv = (prefix: string, extra: Record<string, string> = {}) => ({
    RPC_URL: node.url,
    DEPLOYMENT: deploymentFile,
    REDIS_PREFIX: prefix,
    CONFIRMATIONS: "3",
    POLL_INTERVAL_MS: "30",
    LEASE_TTL_MS: "1000",
    LOG_RANGE_MAX: "2",
    ...extra,
  });

  const caughtUp = (store: Store, timeoutMs = 90_000) => caughtUpWith(p.provider, store, { timeoutMs });

  /** A fresh in-process rebuild's projection, for comparison. */
  async function rebuild(): Promise<Record<string, unknown>> {
    const r = startIndexer({
      rpcUrl: node.url,
      deploymentFile,
      redis,
      prefix: newPrefix(),
      env: { CONFIRMATIONS: "3", POLL_INTERVAL_MS: "20" },
      holder: "rebuild",
    });
    cleanups.push(() => r.store.clear());
    await caughtUp(r.store);
    await r.stop();
    return r.store.dumpProjection();
  }

  it("killed with SIGKILL at random points eleven times, ends identical to a fresh rebuild", async () => {
    const prefix = newPrefix();
    const store = storeFor(redis, prefix);
    const random = prng(20261128);
    const kills: number[] = [];
    for (let i = 0; i < 11; i++) {
      const relayer = await spawnRelayer(relayerEnv(prefix));
      cleanups.push(() => relayer.kill());
      await sleep(Math.floor(random() * 500));
      // New blocks keep arriving between crashes, so kills land in the backfill and in the follow mode.
      if (i % 3 === 0) await generateLoad(p, 4, 2);
      await relayer.kill("SIGKILL");
      kills.push((await store.getMeta()).block ?? -1);
    }
    const progressed = new Set(kills).size;
    expect(progressed, `checkpoints at the kills: ${kills.join(",")}`).to.be.greaterThan(3);
    const last = await spawnRelayer(relayerEnv(prefix));
    cleanups.push(() => last.kill());
    await caughtUp(store);
    await last.kill("SIGTERM");
    expect(await store.dumpProjection()).to.deep.equal(await rebuild());
  });

  it("converges to the same projection through an RPC proxy that fails 30% of requests and delays others", async () => {
    const proxy = await startFaultyProxy({ target: node.url, failRate: 0.3, delayRate: 0.3, maxDelayMs: 150, seed: 7 });
    cleanups.push(async () => proxy.close());
    const prefix = newPrefix();
    const store = storeFor(redis, prefix);
    const relayer = await spawnRelayer(relayerEnv(prefix, { RPC_URL: proxy.url, LOG_RANGE_MAX: "64" }));
    cleanups.push(() => relayer.kill());
    await caughtUp(store, 180_000);
    expect(proxy.stats.failed, "the proxy injected failures").to.be.greaterThan(0);
    expect(await metric(relayer.port, "relayer_indexer_leader")).to.equal(1);
    await relayer.kill("SIGTERM");
    expect(await store.dumpProjection()).to.deep.equal(await rebuild());
  });

  it("reconnects after its Redis restarts mid-run and loses nothing", async () => {
    const redisServer = await privateRedis();
    cleanups.push(redisServer.stop);
    const client = new Redis({ port: redisServer.port });
    client.on("error", () => undefined); // the test stops this server on purpose
    cleanups.push(async () => client.disconnect());
    const prefix = newPrefix();
    const store = storeFor(client, prefix);
    const relayer = await spawnRelayer(relayerEnv(prefix, { REDIS_URL: redisServer.url, REDIS_CLUSTER: "" }));
    cleanups.push(() => relayer.kill());
    await sleep(300);
    await redisServer.stop();
    await generateLoad(p, 6, 2);
    await sleep(1500);
    await redisServer.start();
    await generateLoad(p, 6, 2);
    await caughtUp(store, 120_000);
    expect(relayer.proc.exitCode).to.equal(null);
    expect(relayer.logs.some((l) => l.msg === "indexer step failed" || l.msg === "redis error")).to.equal(true);
    await relayer.kill("SIGTERM");
    expect(await store.dumpProjection()).to.deep.equal(await rebuild());
  });

  it("runs two replicas: one indexes, and when it dies the other takes over within seconds", async () => {
    const prefix = newPrefix();
    const store = storeFor(redis, prefix);
    const a: RelayerProcess = await spawnRelayer(relayerEnv(prefix));
    const b: RelayerProcess = await spawnRelayer(relayerEnv(prefix));
    cleanups.push(
      () => a.kill(),
      () => b.kill(),
    );
    await caughtUp(store);
    const leaderA = await metric(a.port, "relayer_indexer_leader");
    const leaderB = await metric(b.port, "relayer_indexer_leader");
    expect([leaderA, leaderB].sort()).to.deep.equal([0, 1]);
    const [leader, standby] = leaderA === 1 ? [a, b] : [b, a];
    // Both serve the API.
    for (const r of [a, b]) expect((await fetch(`http://127.0.0.1:${r.port}/v1/health`)).status).to.equal(200);

    await leader.kill("SIGKILL");
    const killedAt = Date.now();
    await generateLoad(p, 4, 2);
    while ((await metric(standby.port, "relayer_indexer_leader")) !== 1) {
      if (Date.now() - killedAt > 10_000) throw new Error("standby did not take over within 10 s");
      await sleep(50);
    }
    await caughtUp(store);
    await standby.kill("SIGTERM");
    expect(await store.dumpProjection()).to.deep.equal(await rebuild());
  });
});
