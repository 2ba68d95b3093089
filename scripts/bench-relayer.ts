/**
 * Relayer benchmark (`npm run bench:relayer`): a real `hardhat node` over HTTP, a real Redis, the relayer's own
 * parts. Not a test: it reports figures against targets and fails only when something breaks.
 *
 *  1. load      — a node, the protocol deployed, ≥ 20,000 deal events (open/perform/release through multicall)
 *  2. raw       — eth_getLogs over the whole range + decodeLog, no store: the ceiling for the indexer
 *  3. backfill  — an in-process indexer from the deployment block to the head (fresh prefix), events/s
 *                 (2 and 3 run alternately, 3 times each; medians)
 *  4. api       — the relayer as a child process (INDEXER=off) under autocannon on GET /v1/deals/{id} of a final
 *                 (settled) deal, and on GET /v1/deals?limit=100, each against a bare express server returning the
 *                 same body from memory (alternately, 2 times each; medians): apiRatio and listRatio; peak RSS
 *  5. redis     — MEMORY USAGE per deal (hash + history) plus each deal's share of the index sorted sets and of
 *                 the retained event stream
 *  6. webhooks  — delivery p50 and p99 after the event's block, 10 endpoints (scripts/bench/webhooks.ts)
 *  7. a table with the targets, then one JSON line (the last line printed)
 *
 * Environment (optional): REDIS_URL (default redis://127.0.0.1:6379), BENCH_DEALS (default 6,700), BENCH_BATCH
 * (deals per multicall, default 100), BENCH_API_SECONDS (default 10), BENCH_CONNECTIONS (default 10, autocannon's own default),
 * BENCH_LOG_LEVEL (the in-process indexer's log level, default silent).
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { createCommon, type Common } from "../relayer/src/common";
import { parseOptions } from "../relayer/src/options";
import { createChain } from "../relayer/src/chain/chain";
import { createStore, type Store } from "../relayer/src/store/store";
import { createIndexer } from "../relayer/src/indexer/indexer";
import { decodeLog, type Sources } from "../protocol";
import { indexedContracts, readDeployment, type DeploymentFile } from "../relayer/src/deployment";
import { deployToNode, startHardhatNode, type HardhatNode } from "../test/relayer/support/node";
import { measureWebhookDelivery } from "./bench/webhooks";
import { connectProtocol, generateLoad, setupActors, type Protocol } from "../test/relayer/support/activity";
import {
  cleanUp,
  cleanups,
  fmt,
  log,
  median,
  memoryOf,
  meter,
  round,
  runBench,
  sleep,
  spawnServer,
  timed,
} from "./bench/support";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const DEALS = Number(process.env.BENCH_DEALS ?? 6_700);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
/** Concurrent generateLoad streams. */
const GENERATORS = 3;
const API_SECONDS = Number(process.env.BENCH_API_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const MIN_EVENTS = 20_000;
const BACKFILL_RUNS = 3;
const API_RUNS = 2;
/** Un-measured load on each server before its first measured run (JIT, connection pools). */
const WARMUP_SECONDS = 2;
/** Deal keys sampled for MEMORY USAGE. */
const MEMORY_SAMPLE = 600;
const RSS_POLL_MS = 200;
const BACKFILL_TIMEOUT_MS = 120_000;

const TARGETS = {
  backfillEventsPerSec: 5_000,
  backfillRatio: 0.5,
  apiRps: 5_000,
  apiP99Ms: 10,
  apiRatio: 0.8,
  listRatio: 0.5,
  redisBytesPerDeal: 3_072,
  webhookP99Ms: 500,
  relayerRssMb: 300,
};

/* --------------------------------------------------- phases --------------------------------------------------- */

type RawResult = { events: number; logs: number; seconds: number; rpcMs: number; decodeMs: number; requests: number };

/** eth_getLogs over [from, to] in the chain adapter's adaptive ranges, and decodeLog on every log: no store. */
async function rawPass(common: Common, rpcUrl: string, sources: Sources, from: number, to: number) {
  const chain = createChain({ common, rpcUrl });
  try {
    const addresses = [sources.escrow, sources.registry];
    let events = 0;
    let logs = 0;
    let rpcMs = 0;
    let decodeMs = 0;
    let requests = 0;
    const t0 = performance.now();
    for (let next = from; next <= to;) {
      const r0 = performance.now();
      const range = await chain.logsInRange(addresses, next, to);
      const r1 = performance.now();
      requests++;
      for (const raw of range.logs) if (decodeLog(raw, sources) !== undefined) events++;
      decodeMs += performance.now() - r1;
      rpcMs += r1 - r0;
      logs += range.logs.length;
      next = range.to + 1;
    }
    const seconds = (performance.now() - t0) / 1000;
    return { events, logs, seconds, rpcMs, decodeMs, requests } satisfies RawResult;
  } finally {
    chain.close();
  }
}

type BackfillResult = { events: number; seconds: number; steps: Record<string, number> };

/** An in-process indexer from the deployment block; wall time until the store's checkpoint is the head. */
async function backfillPass(args: {
  rpcUrl: string;
  deploymentFile: string;
  deployment: DeploymentFile;
  prefix: string;
  redis: Redis;
  head: number;
}): Promise<BackfillResult> {
  const { rpcUrl, deploymentFile, deployment, prefix, redis, head } = args;
  const common = createCommon(
    parseOptions({
      RPC_URL: rpcUrl,
      DEPLOYMENT: deploymentFile,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      CONFIRMATIONS: "1",
      LOG_RANGE_MAX: "10000",
      POLL_INTERVAL_MS: "20",
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "silent",
    }),
  );
  const { sources, deploymentBlock } = indexedContracts(deployment);
  const { escrow } = sources;
  const chain = createChain({ common, rpcUrl });
  const store = createStore({ common, redis, chainId: deployment.chainId, escrow });
  // Where the time goes: RPC calls, and the store's commit (of which: the Lua script's EVAL round trip).
  const steps: Record<string, number> = {};
  meter(chain, "logsInRange", steps, "rpc eth_getLogs");
  meter(chain, "block", steps, "rpc eth_getBlockByNumber");
  meter(chain, "head", steps, "rpc eth_blockNumber");
  meter(store, "commit", steps, "store.commit (total)");
  const evalTotals: Record<string, number> = {};
  const originalEval = redis.eval;
  meter(redis, "eval", evalTotals, "eval");
  const indexer = createIndexer({
    common,
    chain,
    store,
    sources,
    deploymentBlock,
    holder: `bench:${process.pid}:${randomBytes(4).toString("hex")}`,
  });
  try {
    const t0 = performance.now();
    void indexer.start();
    for (;;) {
      const meta = await store.getMeta();
      if (meta.block === head) break;
      const halted = indexer.halted();
      if (halted) throw new Error(`indexer halted: ${halted}`);
      if (performance.now() - t0 > BACKFILL_TIMEOUT_MS)
        throw new Error(`backfill not done in ${BACKFILL_TIMEOUT_MS} ms (at block ${meta.block} of ${head})`);
      await sleep(5);
    }
    const seconds = (performance.now() - t0) / 1000;
    const events = (await common.metrics.eventsIndexed.get()).values[0]?.value ?? 0;
    steps["  of which redis EVAL (commit script)"] = evalTotals.eval;
    return { events, seconds, steps };
  } finally {
    await indexer.stop();
    chain.close();
    redis.eval = originalEval;
  }
}

type ApiResult = { rps: number; p50: number; p99: number; requests: number; non2xx: number; errors: number };

async function load(url: string, seconds: number): Promise<ApiResult> {
  const result = await autocannon({ url, connections: CONNECTIONS, pipelining: 1, duration: seconds });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const describeApi = (r: ApiResult) =>
  `${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms (${fmt(r.requests)} requests, ${r.non2xx} non-2xx, ${r.errors} errors)`;

/* ---------------------------------------------------- main ---------------------------------------------------- */

async function main(): Promise<void> {
  const prefix = `bench-${randomBytes(4).toString("hex")}`;
  log(`relayer benchmark: ${fmt(DEALS)} deals in multicall batches of ${BATCH}; Redis ${REDIS_URL}, prefix ${prefix}`);
  log(
    `machine: ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );

  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  cleanups.push({ name: "redis connection", fn: () => redis.quit().then(() => undefined) });

  /* 1. load */
  log("1. load");
  const node: HardhatNode = (await timed("start hardhat node", () => startHardhatNode())).value;
  cleanups.push({ name: "hardhat node", fn: () => node.stop() });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-relayer-"));
  cleanups.push({ name: "temp dir", fn: () => fs.rmSync(dir, { recursive: true, force: true }) });
  const deploymentFile = (await timed("deploy", () => deployToNode(node.url, dir))).value;
  const deployment = readDeployment(deploymentFile);
  const p: Protocol = await connectProtocol(node.url, deploymentFile);
  cleanups.push({ name: "protocol provider", fn: () => p.provider.destroy() });
  await timed("setupActors", () => setupActors(p));

  const gasLimit = Number((await p.provider.getBlock("latest"))!.gasLimit);
  // The first batch on its own, to check that its largest transaction fits a block comfortably.
  const beforeFirst = await p.provider.getBlockNumber();
  const first = await timed(`first batch (${BATCH} deals)`, () => generateLoad(p, Math.min(BATCH, DEALS), BATCH));
  let maxGas = 0;
  for (let b = beforeFirst + 1; b <= (await p.provider.getBlockNumber()); b++) {
    maxGas = Math.max(maxGas, Number((await p.provider.getBlock(b))!.gasUsed));
  }
  log(
    `block gas limit ${fmt(gasLimit)}; largest batch tx ${fmt(maxGas)} gas (${((maxGas / gasLimit) * 100).toFixed(1)}%,` +
      ` ${fmt(maxGas / BATCH)} per deal)`,
  );
  if (maxGas > 0.9 * gasLimit) throw new Error(`a batch of ${BATCH} deals nearly fills a block: lower BENCH_BATCH`);
  // The rest in GENERATORS concurrent streams of whole batches (the node mines each transaction on its own; this
  // only overlaps the client-side round trips).
  const remaining = DEALS - first.value.length;
  const batches = Math.ceil(remaining / BATCH);
  const shares = Array.from(
    { length: GENERATORS },
    (_, i) =>
      Math.min(remaining, Math.ceil(batches / GENERATORS) * BATCH * (i + 1)) -
      Math.min(remaining, Math.ceil(batches / GENERATORS) * BATCH * i),
  ).filter((n) => n > 0);
  const rest = await timed(`generate ${fmt(remaining)} more deals (${shares.length} concurrent streams)`, () =>
    Promise.all(shares.map((n) => generateLoad(p, n, BATCH))),
  );
  const dealIds = [...first.value, ...rest.value.flat()];
  const generationSeconds = first.seconds + rest.seconds;
  const head = await p.provider.getBlockNumber();
  const { sources, deploymentBlock: fromBlock } = indexedContracts(deployment);
  log(
    `generated ${fmt(dealIds.length)} deals (${fmt(dealIds.length * 3)} deal events) in ${generationSeconds.toFixed(1)} s;` +
      ` blocks ${fromBlock}..${head}`,
  );

  /* 2 + 3. raw baseline and backfill, alternately */
  log("2+3. raw getLogs+decode baseline vs. indexer backfill (alternating)");
  const rawCommon = createCommon(
    parseOptions({
      RPC_URL: node.url,
      DEPLOYMENT: deploymentFile,
      LOG_RANGE_MAX: "10000",
      LOG_LEVEL: "silent",
    }),
  );
  const benchStore: Store = createStore({
    common: { ...rawCommon, options: { ...rawCommon.options, redisPrefix: prefix } },
    redis,
    chainId: deployment.chainId,
    escrow: sources.escrow,
  });
  cleanups.push({ name: "bench prefix keys", fn: () => benchStore.clear() });

  const raws: RawResult[] = [];
  const backfills: BackfillResult[] = [];
  for (let run = 1; run <= BACKFILL_RUNS; run++) {
    const raw = await rawPass(rawCommon, node.url, sources, fromBlock, head);
    raws.push(raw);
    log(
      `raw #${run}: ${fmt(raw.events)} events (${fmt(raw.logs)} logs, ${raw.requests} eth_getLogs) in ` +
        `${raw.seconds.toFixed(2)} s = ${fmt(raw.events / raw.seconds)} events/s ` +
        `[rpc ${fmt(raw.rpcMs)} ms, decode ${fmt(raw.decodeMs)} ms]`,
    );
    await benchStore.clear();
    const backfill = await backfillPass({ rpcUrl: node.url, deploymentFile, deployment, prefix, redis, head });
    backfills.push(backfill);
    const other =
      backfill.seconds * 1000 -
      Object.entries(backfill.steps)
        .filter(([k]) => !k.startsWith(" "))
        .reduce((s, [, v]) => s + v, 0);
    log(
      `backfill #${run}: ${fmt(backfill.events)} events in ${backfill.seconds.toFixed(2)} s = ` +
        `${fmt(backfill.events / backfill.seconds)} events/s`,
    );
    for (const [name, ms] of Object.entries(backfill.steps)) log(`    ${name.padEnd(40)} ${fmt(ms).padStart(7)} ms`);
    // eth_getLogs of the next range runs while the current one is committed, so the steps can add up to more than
    // the wall time; the difference is then the overlap.
    if (other >= 0) log(`    ${"decode, projection prep, polling, other".padEnd(40)} ${fmt(other).padStart(7)} ms`);
    else log(`    ${"overlap (reads during commits)".padEnd(40)} ${fmt(-other).padStart(7)} ms`);
  }
  const rawEventsPerSec = median(raws.map((r) => r.events / r.seconds));
  const backfillEventsPerSec = median(backfills.map((b) => b.events / b.seconds));
  const backfillRatio = backfillEventsPerSec / rawEventsPerSec;
  const indexedEvents = backfills.at(-1)!.events;
  if (indexedEvents < dealIds.length * 3)
    throw new Error(`only ${indexedEvents} events indexed for ${dealIds.length} deals`);
  if (indexedEvents < MIN_EVENTS)
    log(`WARNING: ${indexedEvents} events, fewer than the ${MIN_EVENTS} a full run needs`);
  if (indexedEvents !== raws.at(-1)!.events) {
    throw new Error(`the indexer applied ${indexedEvents} events, the raw pass decoded ${raws.at(-1)!.events}`);
  }
  log(
    `median raw ${fmt(rawEventsPerSec)} events/s; median backfill ${fmt(backfillEventsPerSec)} events/s; ` +
      `ratio ${backfillRatio.toFixed(2)}`,
  );

  /* 4. API load */
  log("4. API load");
  const dealId = dealIds[Math.floor(dealIds.length / 2)];
  const relayer = (
    await timed("spawn relayer (INDEXER=off, LOG_LEVEL=warn)", () =>
      spawnServer(
        "relayer/src/index.ts",
        {
          RPC_URL: node.url,
          DEPLOYMENT: deploymentFile,
          REDIS_URL,
          REDIS_PREFIX: prefix,
          INDEXER: "off",
          CONFIRMATIONS: "1",
          LOG_LEVEL: "warn",
          // One client address makes every request: the limiter runs on each (its cost is measured) but never
          // refuses, so the figures are the read path's.
          RATE_LIMIT_PER_MINUTE: "1000000",
        },
        "/v1/health",
      ),
    )
  ).value;
  cleanups.push({ name: "relayer process", fn: () => relayer.stop() });
  const relayerUrl = `http://127.0.0.1:${relayer.port}/v1/deals/${dealId}`;
  const response = await fetch(relayerUrl);
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET ${relayerUrl}: ${response.status} ${body}`);
  const parsed = JSON.parse(body) as { status?: string; history?: unknown[] };
  log(`deal ${dealId}: status ${parsed.status}, ${parsed.history?.length} history entries, body ${body.length} bytes`);
  if (!["released", "refunded", "resolved", "split"].includes(String(parsed.status))) {
    throw new Error(`deal ${dealId} is ${parsed.status}: the API figure is for a settled (final) deal`);
  }
  const bodyFile = path.join(dir, "deal.json");
  fs.writeFileSync(bodyFile, body);
  const relayerListUrl = `http://127.0.0.1:${relayer.port}/v1/deals?limit=100`;
  const listResponse = await fetch(relayerListUrl);
  const listBody = await listResponse.text();
  if (listResponse.status !== 200) throw new Error(`GET ${relayerListUrl}: ${listResponse.status} ${listBody}`);
  const listed = (JSON.parse(listBody) as { data: unknown[] }).data.length;
  if (listed !== 100) throw new Error(`GET ${relayerListUrl}: ${listed} deals, not 100`);
  log(`list page: ${listed} deals, body ${fmt(listBody.length)} bytes`);
  const listFile = path.join(dir, "list.json");
  fs.writeFileSync(listFile, listBody);
  const bare = (
    await timed("spawn bare express server", () =>
      spawnServer("scripts/bench/bare-server.ts", { BODY_FILE: bodyFile, LIST_FILE: listFile }, `/v1/deals/${dealId}`),
    )
  ).value;
  cleanups.push({ name: "bare server", fn: () => bare.stop() });
  const bareUrl = `http://127.0.0.1:${bare.port}/v1/deals/${dealId}`;
  const bareBody = await (await fetch(bareUrl)).text();
  if (bareBody !== body) throw new Error("the bare server's body differs from the relayer's");
  const bareListUrl = `http://127.0.0.1:${bare.port}/v1/deals?limit=100`;
  if ((await (await fetch(bareListUrl)).text()) !== listBody) {
    throw new Error("the bare server's list differs from the relayer's");
  }

  await load(relayerUrl, WARMUP_SECONDS);
  await load(bareUrl, WARMUP_SECONDS);
  const relayerRuns: ApiResult[] = [];
  const bareRuns: ApiResult[] = [];
  let rssMaxKb = 0;
  for (let run = 1; run <= API_RUNS; run++) {
    const sampler = setInterval(() => {
      rssMaxKb = Math.max(rssMaxKb, memoryOf(relayer.proc.pid!).rssKb);
    }, RSS_POLL_MS);
    const r = await load(relayerUrl, API_SECONDS).finally(() => clearInterval(sampler));
    relayerRuns.push(r);
    log(`relayer #${run}: ${describeApi(r)}`);
    const b = await load(bareUrl, API_SECONDS);
    bareRuns.push(b);
    log(`bare    #${run}: ${describeApi(b)}`);
    if (r.non2xx > 0 || r.errors > 0 || b.non2xx > 0 || b.errors > 0) throw new Error("failed requests under load");
  }
  // The list: a page of 100 deals against the same 100 objects from memory.
  await load(relayerListUrl, WARMUP_SECONDS);
  await load(bareListUrl, WARMUP_SECONDS);
  const listRuns: ApiResult[] = [];
  const bareListRuns: ApiResult[] = [];
  for (let run = 1; run <= API_RUNS; run++) {
    const sampler = setInterval(() => {
      rssMaxKb = Math.max(rssMaxKb, memoryOf(relayer.proc.pid!).rssKb);
    }, RSS_POLL_MS);
    const r = await load(relayerListUrl, API_SECONDS).finally(() => clearInterval(sampler));
    listRuns.push(r);
    log(`relayer list #${run}: ${describeApi(r)}`);
    const b = await load(bareListUrl, API_SECONDS);
    bareListRuns.push(b);
    log(`bare list    #${run}: ${describeApi(b)}`);
    if (r.non2xx > 0 || r.errors > 0 || b.non2xx > 0 || b.errors > 0)
      throw new Error("failed list requests under load");
  }
  const listRps = median(listRuns.map((r) => r.rps));
  const listP50Ms = median(listRuns.map((r) => r.p50));
  const listP99Ms = median(listRuns.map((r) => r.p99));
  const bareListRps = median(bareListRuns.map((r) => r.rps));
  const listRatio = listRps / bareListRps;
  log(
    `median list ${fmt(listRps)} req/s (p50 ${listP50Ms} ms, p99 ${listP99Ms} ms); bare ${fmt(bareListRps)} req/s; ` +
      `ratio ${listRatio.toFixed(2)}`,
  );
  const { hwmKb } = memoryOf(relayer.proc.pid!);
  const apiRps = median(relayerRuns.map((r) => r.rps));
  const apiP50Ms = median(relayerRuns.map((r) => r.p50));
  const apiP99Ms = median(relayerRuns.map((r) => r.p99));
  const bareRps = median(bareRuns.map((r) => r.rps));
  const bareP99Ms = median(bareRuns.map((r) => r.p99));
  const apiRatio = apiRps / bareRps;
  const relayerRssMb = Math.max(hwmKb, rssMaxKb) / 1024;
  log(
    `median relayer ${fmt(apiRps)} req/s (p50 ${apiP50Ms} ms, p99 ${apiP99Ms} ms); bare ${fmt(bareRps)} req/s ` +
      `(p99 ${bareP99Ms} ms); ratio ${apiRatio.toFixed(2)}`,
  );
  log(`relayer RSS: max VmRSS under load ${fmt(rssMaxKb / 1024, 1)} MB, VmHWM ${fmt(hwmKb / 1024, 1)} MB`);

  /* 5. Redis memory */
  log("5. Redis memory");
  const usage = async (keys: string[]) => {
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.call("MEMORY", "USAGE", key, "SAMPLES", "0");
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, value], i) => {
      if (error) throw error;
      if (value === null) throw new Error(`no key ${keys[i]}`);
      return Number(value);
    });
  };
  const step = Math.max(1, Math.floor(dealIds.length / MEMORY_SAMPLE));
  const sample = dealIds.filter((_, i) => i % step === 0).slice(0, MEMORY_SAMPLE);
  const dealBytes = await usage(sample.map((d) => benchStore.key(`deal:${d}`)));
  const histBytes = await usage(sample.map((d) => benchStore.key(`hist:${d}`)));
  const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const deals = await redis.zcard(benchStore.key("ix:updated"));
  const ixKeys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(
      cursor,
      "MATCH",
      `${benchStore.keyPrefix.replace(/[{}[\]*?]/g, "\\$&")}ix:*`,
      "COUNT",
      1000,
    );
    cursor = next;
    ixKeys.push(...batch);
  } while (cursor !== "0");
  const ixBytes = await usage(ixKeys);
  const ixTotal = ixBytes.reduce((s, x) => s + x, 0);
  const [streamBytes] = await usage([benchStore.key("events")]);
  const perDeal = { deal: avg(dealBytes), hist: avg(histBytes), ix: ixTotal / deals, stream: streamBytes / deals };
  // The retained event stream counts: it grows with the deals (within its retention window).
  const redisBytesPerDeal = perDeal.deal + perDeal.hist + perDeal.ix + perDeal.stream;
  log(`sampled ${sample.length} deals of ${fmt(deals)} indexed; key prefix "${benchStore.keyPrefix}"`);
  log(`  deal:<id> hash            ${fmt(perDeal.deal).padStart(6)} B/deal`);
  log(`  hist:<id> list            ${fmt(perDeal.hist).padStart(6)} B/deal`);
  for (let i = 0; i < ixKeys.length; i++) {
    const name = ixKeys[i].slice(benchStore.keyPrefix.length);
    log(`    ${name.padEnd(60)} ${fmt(ixBytes[i]).padStart(10)} B  ${fmt(ixBytes[i] / deals).padStart(5)} B/deal`);
  }
  log(`  ix:* zsets (${ixKeys.length} keys)        ${fmt(perDeal.ix).padStart(6)} B/deal`);
  log(`  events stream             ${fmt(perDeal.stream).padStart(6)} B/deal (${fmt(streamBytes)} B)`);
  log(`  = redisBytesPerDeal       ${fmt(redisBytesPerDeal).padStart(6)} B/deal`);

  /* 6. webhooks */
  log("6. webhooks");
  // Ten endpoints on one local receiver, deals mined a quarter second apart: receive time minus mining time.
  const webhooks = await measureWebhookDelivery({
    nodeUrl: node.url,
    deploymentFile,
    redisUrl: REDIS_URL,
    protocol: p,
  });
  const webhookP99Ms: number | null = Number.isFinite(webhooks.webhookP99Ms) ? webhooks.webhookP99Ms : null;
  log(
    `  ${fmt(webhooks.deliveries)} deliveries to ${webhooks.endpoints} endpoints: p50 ${webhooks.webhookP50Ms} ms, ` +
      `p99 ${webhookP99Ms ?? "-"} ms`,
  );

  /* 7. report */
  const results = {
    backfillEventsPerSec: Math.round(backfillEventsPerSec),
    backfillRatio: round(backfillRatio, 2),
    apiRps: Math.round(apiRps),
    apiP99Ms: apiP99Ms,
    apiRatio: round(apiRatio, 2),
    listRps: Math.round(listRps),
    listP99Ms,
    listRatio: round(listRatio, 2),
    redisBytesPerDeal: Math.round(redisBytesPerDeal),
    relayerRssMb: round(relayerRssMb, 1),
    webhookP50Ms: webhooks.webhookP50Ms,
    webhookP99Ms,
  };
  const rows: [string, string, string, boolean][] = [
    [
      "backfill events/s",
      fmt(results.backfillEventsPerSec),
      `>= ${fmt(TARGETS.backfillEventsPerSec)}`,
      results.backfillEventsPerSec >= TARGETS.backfillEventsPerSec,
    ],
    [
      "backfill ratio (vs raw)",
      results.backfillRatio.toFixed(2),
      `>= ${TARGETS.backfillRatio}`,
      backfillRatio >= TARGETS.backfillRatio,
    ],
    ["API req/s", fmt(results.apiRps), `>= ${fmt(TARGETS.apiRps)}`, apiRps >= TARGETS.apiRps],
    ["API p99 latency (ms)", String(apiP99Ms), `< ${TARGETS.apiP99Ms}`, apiP99Ms < TARGETS.apiP99Ms],
    [
      "API ratio (vs bare express)",
      results.apiRatio.toFixed(2),
      `>= ${TARGETS.apiRatio}`,
      apiRatio >= TARGETS.apiRatio,
    ],
    [
      "list ratio (100 deals vs bare)",
      results.listRatio.toFixed(2),
      `>= ${TARGETS.listRatio}`,
      listRatio >= TARGETS.listRatio,
    ],
    [
      "Redis bytes per deal (+stream)",
      fmt(results.redisBytesPerDeal),
      `<= ${fmt(TARGETS.redisBytesPerDeal)}`,
      redisBytesPerDeal <= TARGETS.redisBytesPerDeal,
    ],
    [
      "relayer peak RSS (MB)",
      results.relayerRssMb.toFixed(1),
      `<= ${TARGETS.relayerRssMb}`,
      relayerRssMb <= TARGETS.relayerRssMb,
    ],
    [
      "webhook delivery p99 (ms)",
      webhookP99Ms === null ? "-" : String(webhookP99Ms),
      `< ${TARGETS.webhookP99Ms}`,
      webhookP99Ms !== null && webhookP99Ms < TARGETS.webhookP99Ms,
    ],
  ];
  console.log("");
  console.log(`${"metric".padEnd(30)} ${"value".padStart(10)}  ${"target".padEnd(10)}  result`);
  console.log(`${"-".repeat(30)} ${"-".repeat(10)}  ${"-".repeat(10)}  ------`);
  for (const [name, value, target, met] of rows) {
    const verdict = value === "-" ? "not measured" : met ? "met" : "MISSED";
    console.log(`${name.padEnd(30)} ${value.padStart(10)}  ${target.padEnd(10)}  ${verdict}`);
  }
  console.log(
    `(raw baseline ${fmt(rawEventsPerSec)} events/s; bare express ${fmt(bareRps)} req/s, p99 ${bareP99Ms} ms; API p50 ${apiP50Ms} ms; ` +
      `list: relayer p50 ${listP50Ms} ms, bare ${fmt(bareListRps)} req/s; ` +
      `${fmt(indexedEvents)} events, ${fmt(dealIds.length)} deals generated in ${generationSeconds.toFixed(1)} s)`,
  );
  console.log("");
  await cleanUp();
  log(
    `cleaned up; load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  console.log(JSON.stringify(results));
}

runBench("bench-relayer", main);
