/**
 * Failover benchmark (`npm run bench:failover`): two relayer processes against one Redis and one Hardhat node, under
 * read load from a few concurrent clients on each while new deals are mined; SIGKILL of the indexer leader. Prints
 * the indexing gap (from the kill to the survivor's projection showing the first block mined after it; target
 * ≤ LEASE_TTL_MS + POLL_INTERVAL_MS), the reads that failed per replica (target 0 on the survivor: non-2xx or network
 * errors), then the backfill rate of a fresh relayer on the single node and, with BENCH_CLUSTER=on, on a private
 * three-master Redis Cluster (target ≥ 0.7× the single node). The last line is one JSON object.
 *
 * Environment: REDIS_URL (single node, default 127.0.0.1:6379), BENCH_DEALS (deals before the run, default 1500),
 * BENCH_LEASE_TTL_MS (2000), BENCH_POLL_INTERVAL_MS (200), BENCH_CLIENTS (read clients per replica, 4),
 * BENCH_CLUSTER=on (the cluster's backfill: needs a relayer that reads REDIS_CLUSTER).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { deployToNode, startHardhatNode } from "../test/relayer/support/node";
import { connectProtocol, generateLoad, setupActors, type Protocol } from "../test/relayer/support/activity";
import { deletePrefix, freshPrefix } from "../test/relayer/support/indexer";
import { metric, spawnRelayer, type RelayerProcess } from "../test/relayer/support/relayer-process";
import { startRedisCluster } from "./lib/redis-cluster";
import { cleanUp, cleanups, fmt, log, round, runBench, sleep, timed } from "./bench/support";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const DEALS = Number(process.env.BENCH_DEALS ?? 1_500);
const BATCH = 100;
const LEASE_TTL_MS = Number(process.env.BENCH_LEASE_TTL_MS ?? 2_000);
const POLL_INTERVAL_MS = Number(process.env.BENCH_POLL_INTERVAL_MS ?? 200);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const CLUSTER = process.env.BENCH_CLUSTER === "on";
const WAIT_MS = 120_000;
/** Read load after the survivor indexed the next block, so a late failure would still be counted. */
const AFTER_GAP_MS = 2_000;
const CLUSTER_RATIO_TARGET = 0.7;

async function until<T>(what: string, check: () => Promise<T | undefined>, everyMs = 10): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A relayer process whose children the clean-up kills. */
async function relayer(env: Record<string, string>): Promise<RelayerProcess> {
  const r = await spawnRelayer(env);
  cleanups.push({ name: `relayer ${r.proc.pid}`, fn: () => r.kill("SIGKILL").then(() => undefined) });
  return r;
}

/** Read clients against `port` until `stop()`: counts 2xx answers and failures (any other status, network errors). */
function readLoad(port: number, clients: number) {
  const counts = { ok: 0, failed: 0, statuses: {} as Record<string, number> };
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v1/deals?limit=20`, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        if (res.status >= 200 && res.status < 300) counts.ok++;
        else {
          counts.failed++;
          counts.statuses[res.status] = (counts.statuses[res.status] ?? 0) + 1;
        }
      } catch {
        counts.failed++;
        counts.statuses.network = (counts.statuses.network ?? 0) + 1;
        await sleep(20); // a dead replica refuses at once: do not spin
      }
    }
  });
  return {
    counts,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Mines a few deals at a time until `stop()` (each generateLoad batch: three blocks). */
function miner(p: Protocol) {
  let running = true;
  let deals = 0;
  const loop = (async () => {
    while (running) {
      deals += (await generateLoad(p, 5, 5)).length;
      await sleep(100);
    }
  })();
  return {
    deals: () => deals,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/**
 * A fresh relayer backfilling the chain to `head` on `env`'s Redis: events/s from its lease (its "indexer lease
 * taken" log line's time) to the moment its metrics show `head` indexed.
 */
async function backfill(label: string, env: Record<string, string>, head: number): Promise<number> {
  const spawnedAt = Date.now();
  const r = await relayer(env);
  await until(`${label} backfill`, async () =>
    ((await metric(r.port, "relayer_indexed_block")) ?? -1) >= head ? true : undefined,
  );
  const done = Date.now();
  const events = (await metric(r.port, "relayer_events_indexed_total")) ?? 0;
  const taken = r.logs.find((l) => l.msg === "indexer lease taken");
  const from = typeof taken?.time === "number" ? taken.time : spawnedAt;
  await r.kill("SIGTERM");
  const rate = events / Math.max(0.001, (done - from) / 1000);
  log(`backfill ${label}: ${fmt(events)} events in ${((done - from) / 1000).toFixed(2)} s, ${fmt(rate)} events/s`);
  return rate;
}

async function main(): Promise<number> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  cleanups.push({ name: "redis connection", fn: () => redis.quit().then(() => undefined) });

  log("phase 1: chain");
  const node = (await timed("start hardhat node", () => startHardhatNode())).value;
  cleanups.push({ name: "hardhat node", fn: () => node.stop() });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-failover-"));
  cleanups.push({ name: "temp dir", fn: () => fs.rmSync(dir, { recursive: true, force: true }) });
  const deploymentFile = (await timed("deploy", () => deployToNode(node.url, dir))).value;
  const p = await connectProtocol(node.url, deploymentFile);
  cleanups.push({ name: "protocol provider", fn: () => p.provider.destroy() });
  await setupActors(p);
  await timed(`generate ${fmt(DEALS)} deals`, () => generateLoad(p, DEALS, BATCH));

  const base = {
    RPC_URL: node.url,
    DEPLOYMENT: deploymentFile,
    CONFIRMATIONS: "2",
    LEASE_TTL_MS: String(LEASE_TTL_MS),
    POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
  };
  const single = { ...base, REDIS_URL };

  log(`phase 2: failover (two replicas, lease TTL ${LEASE_TTL_MS} ms, poll interval ${POLL_INTERVAL_MS} ms)`);
  const prefix = freshPrefix("bench-failover");
  cleanups.push({ name: "redis keys", fn: () => deletePrefix(redis, prefix) });
  const replicas = [
    await relayer({ ...single, REDIS_PREFIX: prefix }),
    await relayer({ ...single, REDIS_PREFIX: prefix }),
  ];
  const head0 = await p.provider.getBlockNumber();
  const [leader] = await until("one leader caught up", async () => {
    const flags = await Promise.all(replicas.map((r) => metric(r.port, "relayer_indexer_leader")));
    const leaders = replicas.filter((_, i) => flags[i] === 1);
    if (leaders.length !== 1) return undefined;
    return ((await metric(leaders[0].port, "relayer_indexed_block")) ?? -1) >= head0 ? leaders : undefined;
  });
  const survivor = replicas.find((r) => r !== leader)!;
  log(`leader pid ${leader.proc.pid}, survivor pid ${survivor.proc.pid}; caught up at block ${head0}`);
  const loads = replicas.map((r) => readLoad(r.port, CLIENTS));
  const mining = miner(p);
  await sleep(2_000);
  const killHead = await p.provider.getBlockNumber();
  const killedAt = Date.now();
  leader.proc.kill("SIGKILL");
  log(`SIGKILL leader at block ${killHead}`);
  await until("the survivor to index the next block", async () =>
    ((await metric(survivor.port, "relayer_indexed_block")) ?? -1) > killHead ? true : undefined,
  );
  const gapMs = Date.now() - killedAt;
  log(`survivor indexed block ${killHead + 1}: gap ${gapMs} ms`);
  await sleep(AFTER_GAP_MS);
  await mining.stop();
  await Promise.all(loads.map((l) => l.stop()));
  const [leaderReads, survivorReads] = [loads[replicas.indexOf(leader)], loads[replicas.indexOf(survivor)]];
  for (const [name, l] of [
    ["killed leader", leaderReads],
    ["survivor", survivorReads],
  ] as const) {
    log(
      `reads on ${name}: ${fmt(l.counts.ok)} ok, ${fmt(l.counts.failed)} failed ${JSON.stringify(l.counts.statuses)}`,
    );
  }
  log(`deals mined during the read load: ${mining.deals()}`);
  await survivor.kill("SIGTERM");

  log("phase 3: backfill");
  const head = await p.provider.getBlockNumber();
  const backfillPrefix = freshPrefix("bench-failover-backfill");
  cleanups.push({ name: "redis keys (backfill)", fn: () => deletePrefix(redis, backfillPrefix) });
  const singleRate = await backfill("single node", { ...single, REDIS_PREFIX: backfillPrefix }, head);
  let clusterRate: number | null = null;
  if (CLUSTER) {
    const cluster = (await timed("start redis cluster", () => startRedisCluster())).value;
    cleanups.push({ name: "redis cluster", fn: () => cluster.stop() });
    clusterRate = await backfill(
      "cluster",
      { ...base, REDIS_CLUSTER: cluster.nodes, REDIS_PREFIX: freshPrefix("bench-failover-cluster") },
      head,
    );
  } else {
    log("backfill cluster: skipped (BENCH_CLUSTER=on runs it, once the relayer reads REDIS_CLUSTER)");
  }

  const gapTargetMs = LEASE_TTL_MS + POLL_INTERVAL_MS;
  const clusterRatio = clusterRate === null ? null : round(clusterRate / singleRate, 2);
  log(`targets: gap <= ${gapTargetMs} ms: ${gapMs <= gapTargetMs ? "met" : "MISSED"}`);
  log(`targets: 0 failed reads on the survivor: ${survivorReads.counts.failed === 0 ? "met" : "MISSED"}`);
  if (clusterRatio !== null) {
    log(
      `targets: cluster backfill >= ${CLUSTER_RATIO_TARGET}x: ${clusterRatio >= CLUSTER_RATIO_TARGET ? "met" : "MISSED"}`,
    );
  }
  await cleanUp();
  console.log(
    JSON.stringify({
      gapMs,
      leaseTtlMs: LEASE_TTL_MS,
      pollIntervalMs: POLL_INTERVAL_MS,
      gapTargetMs,
      failedReadsSurvivor: survivorReads.counts.failed,
      failedReadsTotal: leaderReads.counts.failed + survivorReads.counts.failed,
      reads: leaderReads.counts.ok + leaderReads.counts.failed + survivorReads.counts.ok + survivorReads.counts.failed,
      backfillSingleEvPerSec: Math.round(singleRate),
      backfillClusterEvPerSec: clusterRate === null ? null : Math.round(clusterRate),
      clusterRatio,
    }),
  );
  return 0;
}

runBench("bench-failover", main);
