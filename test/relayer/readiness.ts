/**
 * Readiness that tells the truth, with the relayer as real processes against a real Hardhat node and real Redis
 * servers (a private redis-server on its own port where the test stops, restarts or flushes it): a hung Redis, a
 * Redis restarted with its data or empty, a failed master of a private Redis Cluster, an API-only replica without a leader, the cost of many probes, the
 * metrics after a restart, and a reorg deeper than the confirmations followed by the operator's rebuild.
 */
import { testRedis, type RedisClient } from "../support/redis";
import { expect } from "chai";
import { Redis } from "ioredis";
import { id } from "ethers";
import { testRedisEnv } from "../support/redis";
import { STATE_CACHE_MS } from "../../relayer/src/api/availability";
import { createCommon } from "../../relayer/src/common";
import { parseOptions } from "../../relayer/src/options";
import type { Store } from "../../relayer/src/store/store";
import { startRelayer } from "../../relayer/src/index";
import { startDeployed } from "./support/deployed";
import type { HardhatNode } from "./support/node";
import { privateRedis } from "./support/private-redis";
import { createRedis } from "../../relayer/src/redis";
import { startRedisCluster } from "../../scripts/lib/redis-cluster";
import { startFaultyProxy } from "./support/faulty-proxy";
import { caughtUp as caughtUpWith, deletePrefix, freshPrefix, storeForDeployment } from "./support/indexer";
import { dealIdOf, generateLoad, makeDeal, runAllPaths, type Protocol } from "./support/activity";
import { metric, runToEnd, spawnRelayer, type RelayerProcess } from "./support/relayer-process";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Answer = { status: number; body: Record<string, unknown> } | "no answer";

/** GET with a client timeout, as a probe or a merchant would send it. */
async function get(port: number, route: string, timeoutMs: number): Promise<Answer> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${route}`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return { status: res.status, body: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : {} };
  } catch {
    return "no answer";
  }
}

/** Polls `check` until it returns a value (not undefined), failing after `timeoutMs`. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The first 200 of /v1/ready (its body); on a timeout the error carries the last answer and the relayer's logs. */
async function readyBody({ port, logs }: Pick<RelayerProcess, "port" | "logs">, timeoutMs = 60_000) {
  let last: Answer = "no answer";
  try {
    return await waitFor(
      "ready",
      async () => {
        last = await get(port, "/v1/ready", 1_500);
        return last !== "no answer" && last.status === 200 ? last.body : undefined;
      },
      timeoutMs,
    );
  } catch (error) {
    const tail = logs.slice(-30).map((l) => JSON.stringify(l));
    throw new Error(`${(error as Error).message}; last answer ${JSON.stringify(last)}\n${tail.join("\n")}`);
  }
}

describe("relayer readiness (processes, Hardhat node, Redis servers)", function () {
  this.timeout(300_000);
  let node: HardhatNode;
  let deploymentFile: string;
  let p: Protocol;
  let redis: RedisClient;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    ({ node, deploymentFile, p } = await startDeployed("readiness"));
    await runAllPaths(p);
    await generateLoad(p, 30, 3);
    redis = testRedis();
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  after(async () => {
    await redis?.quit();
    await node?.stop();
  });

  const storeFor = (client: RedisClient, prefix: string): Store => {
    const store = storeForDeployment(client, node.url, deploymentFile, prefix);
    // Every key of the prefix: the spawned relayers also write their webhook dispatcher's keys under it.
    cleanups.push(() => deletePrefix(client, prefix));
    return store;
  };
  const env = (prefix: string, extra: Record<string, string> = {}) => ({
    // The run's Redis (a cluster under test:cluster) for in-process relayers too; a private server's test overrides.
    ...testRedisEnv(),
    RPC_URL: node.url,
    DEPLOYMENT: deploymentFile,
    REDIS_PREFIX: prefix,
    CONFIRMATIONS: "3",
    POLL_INTERVAL_MS: "30",
    LEASE_TTL_MS: "1000",
    READY_MAX_LAG_BLOCKS: "1",
    ...extra,
  });
  const relayer = async (environment: Record<string, string>) => {
    const r = await spawnRelayer(environment);
    cleanups.push(() => r.kill());
    return r;
  };
  /** A client of a private server, and its store under a fresh prefix. */
  const privateStore = (url: string, prefix: string) => {
    const client = new Redis(url);
    client.on("error", () => undefined); // the tests stop these servers on purpose
    cleanups.push(async () => client.disconnect());
    return { client, store: storeFor(client, prefix) };
  };

  it("when its Redis hangs (SIGSTOP) → /v1/ready and /v1/deals answer 503 in time; after SIGCONT → ready only once caught up", async () => {
    const server = await privateRedis();
    cleanups.push(server.stop);
    const prefix = freshPrefix("ready-hang");
    const { store } = privateStore(server.url, prefix);
    const r = await relayer(env(prefix, { REDIS_URL: server.url, REDIS_CLUSTER: "" }));
    await readyBody(r);
    process.kill(server.pid(), "SIGSTOP");
    let headWhileHung: number;
    try {
      // The projection's state is cached for STATE_CACHE_MS by design; past it, every answer must see the hang.
      await sleep(STATE_CACHE_MS + 50);
      const ready = await get(r.port, "/v1/ready", 1_500);
      expect(ready, "/v1/ready within 1.5 s").to.not.equal("no answer");
      expect((ready as Exclude<Answer, string>).status).to.equal(503);
      const deals = await get(r.port, "/v1/deals?limit=5", 4_000);
      expect(deals, "/v1/deals within 4 s").to.not.equal("no answer");
      expect((deals as Exclude<Answer, string>).status).to.equal(503);
      // Blocks mined while Redis hangs: the relayer is behind when it comes back.
      await generateLoad(p, 4, 1);
      headWhileHung = await p.provider.getBlockNumber();
    } finally {
      process.kill(server.pid(), "SIGCONT");
    }
    const body = await readyBody(r);
    expect(body.block, "the first ready answer came after the blocks mined meanwhile were indexed").to.be.at.least(
      headWhileHung - 1,
    );
    expect(r.logs.some((l) => l.msg === "redis did not answer in time")).to.equal(true);
    await caughtUpWith(p.provider, store);
  });

  it("when Redis restarts with its data → not ready until the indexer retook the lease and indexed the blocks mined meanwhile", async () => {
    const server = await privateRedis();
    cleanups.push(server.stop);
    const prefix = freshPrefix("ready-restart");
    const { store } = privateStore(server.url, prefix);
    const r = await relayer(env(prefix, { REDIS_URL: server.url, REDIS_CLUSTER: "" }));
    await readyBody(r);
    await server.stop();
    await generateLoad(p, 4, 1);
    const head = await p.provider.getBlockNumber();
    await server.start();
    const body = await readyBody(r);
    expect(body.block, "ready only with the blocks mined while Redis was away").to.be.at.least(head - 1);
    expect(await store.leaseHolder(), "the indexer holds its lease again").to.be.a("string");
  });

  it("when Redis is flushed under a running relayer → existing deals answer 503 projection-unavailable (never 404) until rebuilt", async () => {
    const server = await privateRedis();
    cleanups.push(server.stop);
    const prefix = freshPrefix("ready-flush");
    const { client, store } = privateStore(server.url, prefix);
    // Small log ranges: the rebuild takes many steps, so the test sees it under way.
    const r = await relayer(env(prefix, { REDIS_URL: server.url, REDIS_CLUSTER: "", LOG_RANGE_MAX: "2" }));
    await caughtUpWith(p.provider, store);
    await readyBody(r);
    const {
      ids: [dealId],
    } = await store.listDealIds("ix:updated", 1);
    expect((await get(r.port, `/v1/deals/${dealId}`, 4_000)) as { status: number }).to.include({ status: 200 });
    await client.flushall();
    const seen = { deal: new Map<string, number>(), ready: new Map<number, number>() };
    const count = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
    await waitFor("the deal back", async () => {
      const [deal, ready] = await Promise.all([
        get(r.port, `/v1/deals/${dealId}`, 4_000),
        get(r.port, "/v1/ready", 1_500),
      ]);
      if (deal === "no answer" || ready === "no answer") throw new Error("no answer");
      const kind = deal.status === 200 ? "200" : `${deal.status} ${String(deal.body.type).split("/").at(-1)}`;
      count(seen.deal, kind);
      count(seen.ready, ready.status);
      return deal.status === 200 ? true : undefined;
    });
    const summary = JSON.stringify([...seen.deal]);
    expect(
      [...seen.deal.keys()].every((k) => k === "200" || k === "503 projection-unavailable"),
      summary,
    ).to.equal(true);
    expect(seen.deal.get("503 projection-unavailable"), summary).to.be.greaterThan(0);
    expect(seen.ready.get(503), "ready said 503 while the projection was rebuilt").to.be.greaterThan(0);
    await readyBody(r);
  });

  it("when another master of the Redis Cluster fails (paused past the node timeout) → the cluster is down: every data answer 503 in time, never 500; after SIGCONT → ready only once caught up", async () => {
    // A three-master cluster of its own, no replicas. The paused master holds none of the chain's keys: until the
    // others mark it failed, the relayer serves; then every node refuses every slot (CLUSTERDOWN, which ioredis
    // retries until the relayer's deadline), an outage.
    // (A hang of the master holding the chain's keys is the single node's hang above: its commands time out.)
    const cluster = await startRedisCluster();
    cleanups.push(cluster.stop);
    const nodes = cluster.ports.map((port) => ({ host: "127.0.0.1", port }));
    const client = createRedis({ redisUrl: "", redisCluster: nodes }, { commandTimeout: 2_000 }, "test");
    client.on("error", () => undefined); // the test pauses a master on purpose
    cleanups.push(async () => client.disconnect());
    const prefix = freshPrefix("ready-cluster");
    const store = storeFor(client, prefix);
    const r = await relayer(env(prefix, { REDIS_CLUSTER: cluster.nodes }));
    await caughtUpWith(p.provider, store);
    await readyBody(r);
    const {
      ids: [dealId],
    } = await store.listDealIds("ix:updated", 1);
    const routes = ["/v1/ready", "/v1/deals?limit=5", `/v1/deals/${dealId}`, "/v1/chains"];
    const holder = await cluster.masterOf(store.key("meta"));
    const paused = cluster.ports.find((port) => port !== holder)!;
    /** Route and answer → how often, and the same after the holder of the chain's keys said cluster_state:fail. */
    const seen = { before: new Map<string, number>(), down: new Map<string, number>() };
    process.kill(cluster.pidOf(paused), "SIGSTOP");
    let headWhileDown: number;
    try {
      let roundsDown = 0;
      const giveUp = Date.now() + 45_000;
      while (roundsDown < 3 && Date.now() < giveUp) {
        const down = (await cluster.stateOf(holder)) === "fail";
        // Each Redis call has its deadline (2 s), not the request as a whole: a data route whose first reads passed
        // just before the cluster went down waits out the deadline of each later one. A probe has 1.5 s.
        const answers = await Promise.all(
          routes.map((route) => get(r.port, route, route === "/v1/ready" ? 1_500 : 8_000)),
        );
        answers.forEach((answer, i) => {
          const kind = answer === "no answer" ? "no answer" : String(answer.status);
          const key = `${routes[i].split("?")[0].replace(dealId, "{id}")} ${kind}`;
          const into = down ? seen.down : seen.before;
          into.set(key, (into.get(key) ?? 0) + 1);
        });
        if (down) roundsDown++;
        else await sleep(200);
      }
      await generateLoad(p, 3, 1);
      headWhileDown = await p.provider.getBlockNumber();
    } finally {
      process.kill(cluster.pidOf(paused), "SIGCONT");
    }
    const summary = JSON.stringify({ before: [...seen.before], down: [...seen.down] });
    expect(seen.down.size, `the cluster went down within 45 s: ${summary}`).to.be.greaterThan(0);
    const everyAnswer = [...seen.before.keys(), ...seen.down.keys()];
    expect(
      everyAnswer.every((k) => / (200|503)$/.test(k)),
      `every answer in time, 200 or 503: ${summary}`,
    ).to.equal(true);
    // A state read within STATE_CACHE_MS of the outage may still say ready once; the data routes read Redis.
    for (const route of ["/v1/deals", "/v1/deals/{id}"]) {
      expect(seen.down.get(`${route} 503`), `${route} while the cluster is down: ${summary}`).to.equal(3);
    }
    expect(seen.down.get("/v1/ready 503"), `ready while the cluster is down: ${summary}`).to.be.at.least(2);
    const body = await readyBody(r, 120_000);
    expect(body.block, "ready only with the blocks mined while the cluster was down").to.be.at.least(headWhileDown - 1);
    expect((await get(r.port, `/v1/deals/${dealId}`, 4_000)) as { status: number }).to.include({ status: 200 });
  });

  it("when an API-only replica has no leader → 503 'leader: no heartbeat'; with the leader back → 200 and new deals visible", async () => {
    const prefix = freshPrefix("ready-replica");
    const store = storeFor(redis, prefix);
    let leader: RelayerProcess = await relayer(env(prefix));
    const replica = await relayer(env(prefix, { INDEXER: "off" }));
    await caughtUpWith(p.provider, store);
    await readyBody(replica);
    await leader.kill("SIGKILL");
    const stale = await waitFor("the replica unready", async () => {
      const answer = await get(replica.port, "/v1/ready", 1_500);
      return answer !== "no answer" && answer.status === 503 ? answer.body : undefined;
    });
    expect((stale.checks as Record<string, unknown>).leader).to.equal("no heartbeat");
    const [newDeal] = await generateLoad(p, 1, 1);
    leader = await relayer(env(prefix));
    await readyBody(replica);
    const found = await get(replica.port, `/v1/deals/${newDeal.toLowerCase()}`, 4_000);
    expect(found !== "no answer" && found.status, "the new deal on the replica").to.equal(200);
  });

  it("when 4,000 probes arrive → one eth_blockNumber per poll interval, and none left running after a probe answered", async () => {
    const proxy = await startFaultyProxy({ target: node.url });
    cleanups.push(async () => proxy.close());
    const prefix = freshPrefix("ready-probes");
    storeFor(redis, prefix);
    // An API-only process whose RPC goes through the counting proxy; the chain head is cached for a minute.
    const r = await relayer(env(prefix, { INDEXER: "off", RPC_URL: proxy.url, POLL_INTERVAL_MS: "60000" }));
    let stderr = "";
    r.proc.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await get(r.port, "/v1/ready", 1_500);
    proxy.resetStats();
    for (let round = 0; round < 8; round++) {
      const answers = await Promise.all(Array.from({ length: 500 }, () => get(r.port, "/v1/ready", 10_000)));
      expect(answers.every((a) => a !== "no answer" && a.status === 503)).to.equal(true);
    }
    expect(proxy.stats.methods.eth_blockNumber ?? 0, "eth_blockNumber calls for 4,000 probes").to.be.at.most(1);

    // A failing node: the probe's one attempt fails, and nothing retries behind its back.
    const cold = await relayer(env(prefix, { INDEXER: "off", RPC_URL: proxy.url, POLL_INTERVAL_MS: "10" }));
    cold.proc.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    proxy.setMethodError("eth_blockNumber", { code: -32000, message: "node overloaded" });
    proxy.resetStats();
    const failed = await get(cold.port, "/v1/ready", 1_500);
    expect(failed !== "no answer" && failed.status).to.equal(503);
    expect((failed as { body: Record<string, Record<string, unknown>> }).body.checks.rpc).to.be.a("string");
    await sleep(1_500);
    expect(proxy.stats.methods.eth_blockNumber, "requests after the probe answered").to.equal(1);
    expect(stderr).to.not.contain("MaxListenersExceededWarning");
  });

  it("when restarted on an idle chain → relayer_indexed_block shows the checkpoint, not 0", async () => {
    const prefix = freshPrefix("ready-metric");
    const store = storeFor(redis, prefix);
    const first = await relayer(env(prefix));
    await caughtUpWith(p.provider, store);
    await first.kill("SIGTERM");
    const { block } = await store.getMeta();
    const second = await relayer(env(prefix));
    expect(await metric(second.port, "relayer_indexed_block")).to.equal(block);
  });

  it("when started in-process on a fresh prefix → untilServing resolves once the projection may be served", async () => {
    const prefix = freshPrefix("ready-serving");
    const store = storeFor(redis, prefix);
    const common = createCommon(parseOptions({ ...env(prefix), PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent" }));
    cleanups.push(() => common.shutdown());
    const started = await startRelayer(common);
    await started.untilServing();
    const meta = await store.getMeta();
    expect(meta.built, "built when untilServing resolved").to.equal(true);
    const {
      ids: [dealId],
    } = await store.listDealIds("ix:updated", 1);
    expect((await get(started.port, `/v1/deals/${dealId}`, 4_000)) as { status: number }).to.include({ status: 200 });
  });

  // Last: the reorg rewrites the shared chain.
  it("when a reorg deeper than the confirmations halts the indexer → every replica serves 503 until `rebuild`, then the chain's truth", async () => {
    const prefix = freshPrefix("ready-deep");
    const store = storeFor(redis, prefix);
    const deepEnv = env(prefix, { CONFIRMATIONS: "2" });
    const leader = await relayer(deepEnv);
    const replica = await relayer({ ...deepEnv, INDEXER: "off" });
    await caughtUpWith(p.provider, store);
    const [payer] = p.payers;
    const [payee] = p.payees;
    const snapshot = await p.provider.send("evm_snapshot", []);
    const d = await makeDeal(p, { payer: await payer.getAddress(), payee: await payee.getAddress() });
    await (await p.escrow.connect(payer).open(d, id("orphan"))).wait();
    const orphan = dealIdOf(d).toLowerCase();
    for (let i = 0; i < 4; i++) await p.provider.send("evm_mine", []);
    await caughtUpWith(p.provider, store);
    expect((await get(replica.port, `/v1/deals/${orphan}`, 4_000)) as { status: number }).to.include({
      status: 200,
    });
    await p.provider.send("evm_revert", [snapshot]);
    for (let i = 0; i < 9; i++) await p.provider.send("evm_mine", []);

    for (const r of [leader, replica]) {
      const body = await waitFor("the orphan refused", async () => {
        const answer = await get(r.port, `/v1/deals/${orphan}`, 4_000);
        return answer !== "no answer" && answer.status === 503 ? answer.body : undefined;
      });
      expect(body.type).to.match(/projection-unavailable$/);
      expect(body.detail).to.match(/halted/);
      const ready = await get(r.port, "/v1/ready", 1_500);
      expect(ready !== "no answer" && ready.status).to.equal(503);
    }

    const rebuilt = await runToEnd(["rebuild"], {
      env: { ...testRedisEnv(), REDIS_PREFIX: prefix, DEPLOYMENT: deploymentFile },
    });
    expect(rebuilt.code, rebuilt.stderr).to.equal(0);
    expect(rebuilt.stdout).to.match(/deleted \d+ keys/);
    expect(rebuilt.stdout).to.match(/cleared the halt/);

    for (const r of [leader, replica]) {
      await readyBody(r);
      const answer = await get(r.port, `/v1/deals/${orphan}`, 4_000);
      expect(answer !== "no answer" && answer.status, "the orphan is gone").to.equal(404);
    }
  });
});
