/**
 * The Redis connection factory (relayer/src/redis.ts): which client each topology gets, the refusal of a cluster and
 * Sentinel at once, logs without credentials, the hash-tag grouping of a clean-up's DELs, and a relayer that serves
 * deals through a real Sentinel (a private master and sentinel from Debian's redis-server binary).
 */
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import net, { type AddressInfo } from "node:net";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Cluster, Redis } from "ioredis";
import { OptionsError } from "../../relayer/src/errors";
import { parseOptions } from "../../relayer/src/options";
import {
  createRedis,
  describeRedis,
  hashTagOf,
  isCluster,
  redisWhere,
  topologyOf,
  type RedisTopologyOptions,
} from "../../relayer/src/redis";
import { freePort, redisAnswers } from "../../scripts/lib/redis-server";
import { startWriteRelayer, type WriteRelayer } from "./support/write";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SINGLE: RedisTopologyOptions = { redisUrl: "redis://user:hunter2@10.0.0.5:6380/0" };
const NODES = [
  { host: "10.0.0.1", port: 7000 },
  { host: "10.0.0.2", port: 7001 },
];

describe("redis: the connection factory", function () {
  describe("topology", function () {
    it("when only REDIS_URL is set → a single node", function () {
      expect(topologyOf(SINGLE)).to.equal("single");
      const client = createRedis(SINGLE, { lazyConnect: true });
      expect(isCluster(client)).to.equal(false);
      expect(client).to.be.instanceOf(Redis);
      client.disconnect();
    });

    it("when REDIS_CLUSTER is set → a Cluster over its nodes, reading from masters, per-node deadlines", function () {
      const options = { ...SINGLE, redisCluster: NODES };
      expect(topologyOf(options)).to.equal("cluster");
      const client = createRedis(options, { lazyConnect: true, commandTimeout: 1234, maxRetriesPerRequest: 2 });
      expect(client).to.be.instanceOf(Cluster);
      const cluster = client as Cluster;
      expect(cluster.options.scaleReads).to.equal("master");
      expect(cluster.options.redisOptions).to.include({ commandTimeout: 1234, maxRetriesPerRequest: 2 });
      client.disconnect();
    });

    it("when REDIS_SENTINELS is set → a Redis that asks the sentinels for REDIS_SENTINEL_NAME's master", function () {
      const options = { ...SINGLE, redisSentinels: NODES, redisSentinelName: "orders" };
      expect(topologyOf(options)).to.equal("sentinel");
      const client = createRedis(options, { lazyConnect: true });
      expect(client).to.be.instanceOf(Redis);
      expect((client as Redis).options.sentinels).to.deep.equal(NODES);
      expect((client as Redis).options.name).to.equal("orders");
      client.disconnect();
    });

    it("when both REDIS_CLUSTER and REDIS_SENTINELS are set → OptionsError naming both", function () {
      const options = { ...SINGLE, redisCluster: NODES, redisSentinels: NODES };
      expect(() => topologyOf(options)).to.throw(OptionsError, /REDIS_CLUSTER and REDIS_SENTINELS/);
      expect(() => createRedis(options)).to.throw(OptionsError, /REDIS_CLUSTER and REDIS_SENTINELS/);
    });

    it("reads the topology from the relayer's options (an empty variable is unset)", function () {
      const base = { RPC_URL: "http://127.0.0.1:8545", DEPLOYMENT: "d.json" };
      expect(topologyOf(parseOptions({ ...base, REDIS_CLUSTER: "10.0.0.1:7000,10.0.0.2:7001" }))).to.equal("cluster");
      expect(topologyOf(parseOptions({ ...base, REDIS_SENTINELS: "10.0.0.1:26379" }))).to.equal("sentinel");
      expect(topologyOf(parseOptions({ ...base, REDIS_CLUSTER: "" }))).to.equal("single");
    });
  });

  describe("logs", function () {
    it("names the topology and its hosts, never a password", function () {
      expect(describeRedis(SINGLE)).to.equal("single redis://***@10.0.0.5:6380/0");
      expect(describeRedis({ ...SINGLE, redisCluster: NODES })).to.equal("cluster 10.0.0.1:7000,10.0.0.2:7001");
      expect(describeRedis({ ...SINGLE, redisSentinels: NODES, redisSentinelName: "m" })).to.equal(
        "sentinel m via 10.0.0.1:7000,10.0.0.2:7001",
      );
      expect(redisWhere(SINGLE)).to.equal("10.0.0.5:6380");
      for (const text of [describeRedis(SINGLE), redisWhere(SINGLE)]) expect(text).to.not.include("hunter2");
    });
  });

  describe("deadlines on a cluster", function () {
    // A cluster none of whose nodes answers: its commands wait in the offline queue, where ioredis' own commandTimeout
    // does not run (it starts when a node holds the command).
    const unreachable = { redisUrl: "", redisCluster: [{ host: "127.0.0.1", port: 1 }] };

    /** What a client's call came to within `ms`: "answered", its error's message, or "still waiting". */
    const outcomeWithin = (call: () => Promise<unknown>, ms: number) =>
      Promise.race([
        call().then(
          () => "answered",
          (error: Error) => error.message,
        ),
        sleep(ms).then(() => "still waiting"),
      ]);
    /** A cluster client of `nodes` with `settings`, disconnected after `use`. */
    const withCluster = async (
      nodes: { host: string; port: number }[],
      settings: { commandTimeout?: number },
      use: (client: ReturnType<typeof createRedis>) => Promise<void>,
    ) => {
      const client = createRedis({ redisUrl: "", redisCluster: nodes }, settings, "test");
      client.on("error", () => undefined);
      try {
        await use(client);
      } finally {
        client.disconnect();
      }
    };

    it("when a command waits in the offline queue past the client's commandTimeout → it fails with 'Command timed out'", async function () {
      await withCluster(unreachable.redisCluster, { commandTimeout: 200 }, async (client) => {
        expect(await outcomeWithin(() => client.get("k"), 5_000)).to.equal("Command timed out");
      });
    });

    it("when a pipeline or a MULTI waits for the cluster's slots past the commandTimeout → its exec fails with 'Command timed out'", async function () {
      // A node that accepts connections and never answers: the cluster's slot refresh waits (1 s by default) before
      // the client fails it, so only the pipeline's own deadline ends the wait at 200 ms.
      const silent = net.createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const port = (silent.address() as AddressInfo).port;
      try {
        for (const kind of ["pipeline", "multi"] as const) {
          await withCluster([{ host: "127.0.0.1", port }], { commandTimeout: 200 }, async (client) => {
            const batch = kind === "pipeline" ? client.pipeline().get("a").get("b") : client.multi().set("a", "1");
            expect(await outcomeWithin(() => batch.exec(), 5_000), kind).to.equal("Command timed out");
          });
        }
      } finally {
        silent.close();
      }
    });

    it("when no commandTimeout is given (BullMQ's, the blocking tail's own) → a command keeps waiting for the cluster", async function () {
      await withCluster(unreachable.redisCluster, {}, async (client) => {
        expect(await outcomeWithin(() => client.get("k"), 600)).to.equal("still waiting");
      });
    });
  });

  describe("hash tags", function () {
    it("groups a key by the first non-empty {…}, as Redis Cluster hashes it", function () {
      expect(hashTagOf("escrow:{31337:e7e7e7e7}:deal:1")).to.equal("31337:e7e7e7e7");
      expect(hashTagOf("escrow:{31337:e7e7e7e7:wh}:bull:webhooks:wait")).to.equal("31337:e7e7e7e7:wh");
      expect(hashTagOf("escrow:{keys}:key:k1")).to.equal("keys");
      expect(hashTagOf("escrow:{}:x")).to.equal("");
      expect(hashTagOf("plain")).to.equal("");
    });
  });
});

/** A private master and one sentinel watching it as `name` (redis-server --sentinel), in a temporary folder. */
async function startSentinel(name: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-sentinel-"));
  const masterPort = await freePort();
  const sentinelPort = await freePort();
  const children: ChildProcess[] = [];
  const run = (args: string[]) => {
    const child = spawn("redis-server", args, { stdio: "ignore" });
    child.once("error", () => undefined);
    children.push(child);
  };
  run(["--port", String(masterPort), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"]);
  const config = path.join(dir, "sentinel.conf");
  fs.writeFileSync(
    config,
    [
      `port ${sentinelPort}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${name} 5000`,
      "",
    ].join("\n"),
  );
  run([config, "--sentinel"]);
  const stop = async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await gone;
      }),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of [masterPort, sentinelPort]) {
      for (let i = 0; !(await redisAnswers("127.0.0.1", port, 200)); i++) {
        if (i > 200) throw new Error(`redis-server did not answer on port ${port}`);
        await sleep(25);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { masterPort, sentinels: `127.0.0.1:${sentinelPort}`, stop };
}

describe("redis: a relayer behind Sentinel", function () {
  this.timeout(300_000);
  let sentinel: Awaited<ReturnType<typeof startSentinel>> | undefined;
  let w: WriteRelayer | undefined;

  after(async function () {
    await w?.stop();
    await sentinel?.stop();
  });

  it("when REDIS_SENTINELS and REDIS_SENTINEL_NAME are set → it finds the master through them and serves a deal", async function () {
    sentinel = await startSentinel("escrowtest");
    w = await startWriteRelayer("sentinel", {
      REDIS_SENTINELS: sentinel.sentinels,
      REDIS_SENTINEL_NAME: "escrowtest",
      // Not the test run's Redis: this relayer's only Redis is the sentinel's master.
      REDIS_CLUSTER: "",
      REDIS_URL: "redis://127.0.0.1:1",
    });
    const { dealId } = await w.openDeal();
    const res = await w.http.get(`/v1/deals/${dealId}`).expect(200);
    expect(res.body).to.include({ dealId, status: "open" });
    // The projection is in the master the sentinel named.
    const master = new Redis({ port: sentinel.masterPort, lazyConnect: true, maxRetriesPerRequest: 1 });
    await master.connect();
    try {
      expect(await master.exists(w.relayer.store.key("meta"))).to.equal(1);
    } finally {
      master.disconnect();
    }
  });
});
