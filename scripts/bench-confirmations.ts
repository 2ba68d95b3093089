/**
 * Write-side benchmark (`npm run bench:confirmations`): co-signed releases posted to the relayer's HTTP API by
 * concurrent clients, against a real `hardhat node` mining every second (interval mining, automine off, so
 * batching matters) and a real Redis. Not a test: it reports figures against the targets of issue 10 and fails only
 * when something breaks (a nonce gap, a refused POST, a failed submission, a deal never settled).
 *
 *  1. setup     — a node (automine while setting up), the protocol deployed, the actors, 2 × BENCH_DEALS deals opened
 *                 by their payers through `multicall` (not timed); then automine off and a block every second
 *  2. relayer   — the whole relayer in-process (indexer, API, submitter with the pairing planner) with a fresh
 *                 funded signer key and a fresh REDIS_PREFIX; one party API key per client and party
 *  3. measured  — BENCH_CLIENTS clients; for each of its deals a client POSTs the payee's "performed" and the
 *                 payer's "release" together (signatures made before the clock starts) and goes on to its next deal
 *                 once both are answered. A block watcher records when each deal's DealReleased is first seen.
 *  4. baseline  — the other BENCH_DEALS deals settled by as many clients, each sending its own `settleWithSigs`
 *                 transactions (one per deal) from a funded wallet of its own
 *  5. checks    — every submission final, none failed; the relayer's nonces 0..n-1 each mined exactly once
 *  6. a table with the targets, then one JSON line (the last line printed)
 *
 * For a missed target it also prints where the time went: the CPU the node and this process (relayer + clients) used
 * during the measured run (per deal), the relayer's JSON-RPC calls by method (through a meter on the global fetch,
 * which the chain adapter uses), and each submission's time queued in the submitter vs. waiting for its block.
 *
 * A "confirmation" here is one deal settled: the payee's and the payer's signatures, two POSTs, paid out on chain.
 * p50/p99 are over POSTs: from a POST's start to the moment the block watcher first saw the block that settled its
 * deal. Gas per confirmation = the gasUsed of every transaction the relayer sent / deals settled; the baseline's =
 * the gasUsed of the clients' own settleWithSigs transactions / deals settled.
 *
 * Parties: the node's unlocked payer and payee accounts (support/activity setupActors), signing locally with their
 * keys derived from Hardhat's public default mnemonic (checked against the node's accounts).
 *
 * Exit code 1 on a nonce gap or duplicate, a refused POST, a failed submission, a reverted baseline transaction or a
 * deal not settled within BENCH_TIMEOUT_S; the timing targets only print MISSED (a shared 2-core machine is noisy).
 *
 * Environment (optional): REDIS_URL (default redis://127.0.0.1:6379), BENCH_DEALS (deals per run, default 600),
 * BENCH_CLIENTS (default 50), BENCH_TIMEOUT_S (wait for settlement, default 90), BENCH_LOG_LEVEL (the relayer's,
 * default warn); SUBMIT_BATCH_WINDOW_MS, SUBMIT_MAX_BATCH and SUBMIT_POLL_MS are passed to the relayer when set.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { HDNodeWallet, Wallet, ZeroHash, toBeHex } from "ethers";
import { Redis } from "ioredis";
import { Action, digestOf, escrowDomain } from "../protocol";
import { createCommon } from "../relayer/src/common";
import { parseOptions } from "../relayer/src/options";
import { startRelayer } from "../relayer/src/index";
import { indexedContracts, readDeployment } from "../relayer/src/deployment";
import { ESCROW } from "../relayer/src/write/calls";
import { deployToNode, startHardhatNode } from "../test/relayer/support/node";
import {
  connectProtocol,
  dealIdOf,
  makeDeal,
  setupActors,
  USDT,
  type DealParams,
} from "../test/relayer/support/activity";
import { cleanUp, cleanups, deletePrefixKeys, fmt, log, round, runBench, sleep, timed } from "./bench/support";
import {
  HARDHAT_MNEMONIC,
  callsOf,
  cpuSecondsOf,
  errorText,
  machineCpu,
  partyOf,
  meterRpc,
  percentile,
  receiptsOf,
  sum,
  sum2,
  watchBlocks,
  type Pair,
  type Party,
  type Prepared,
} from "./bench/confirmations";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const DEALS = Number(process.env.BENCH_DEALS ?? 600);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 90) * 1000;
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? "warn";
/** Deals per `multicall` when opening them (not timed). */
const OPEN_BATCH = 100;
const BLOCK_MS = 1_000;
const POST_TIMEOUT_MS = 30_000;
const PASSED_THROUGH = ["SUBMIT_BATCH_WINDOW_MS", "SUBMIT_MAX_BATCH", "SUBMIT_POLL_MS"];

const TARGETS = { confirmationsPerSec: 200, p99Ms: 2_500, gasRatio: 0.75, nonceGaps: 0 };

/* ---------------------------------------------------- main ---------------------------------------------------- */

async function main(): Promise<number> {
  const prefix = `bench-conf-${randomBytes(4).toString("hex")}`;
  log(`confirmations benchmark: ${fmt(DEALS)} deals, ${CLIENTS} clients; Redis ${REDIS_URL}, prefix ${prefix}`);
  log(
    `machine: ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  if (!(DEALS > 0 && CLIENTS > 0 && DEALS >= CLIENTS))
    throw new Error("BENCH_DEALS must be at least BENCH_CLIENTS > 0");

  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, commandTimeout: 5_000 });
  cleanups.push({ name: "redis connection", fn: () => redis.quit().then(() => undefined) });
  cleanups.push({ name: "bench prefix keys", fn: () => deletePrefixKeys(redis, prefix) });

  /* 1. setup */
  log("1. setup");
  const node = (await timed("start hardhat node", () => startHardhatNode())).value;
  cleanups.push({ name: "hardhat node", fn: () => node.stop() });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-confirmations-"));
  cleanups.push({ name: "temp dir", fn: () => fs.rmSync(dir, { recursive: true, force: true }) });
  const deploymentFile = (await timed("deploy", () => deployToNode(node.url, dir))).value;
  const deployment = readDeployment(deploymentFile);
  const { sources } = indexedContracts(deployment);
  const p = await connectProtocol(node.url, deploymentFile);
  cleanups.push({ name: "protocol provider", fn: () => p.provider.destroy() });
  await timed("setupActors", () => setupActors(p));

  const root = HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, "m/44'/60'/0'/0");
  const indexOf = (s: (typeof p.accounts)[number]) => p.accounts.indexOf(s);
  const pairs: Pair[] = p.payers.map((payer, i) => ({
    payer: partyOf(root, indexOf(payer), payer.address),
    payee: partyOf(root, indexOf(p.payees[i]), p.payees[i].address),
  }));
  const escrow = await p.escrow.getAddress();
  const domain = escrowDomain(p.chainId, escrow);

  /** 2 × DEALS deals; deal i goes to client i % CLIENTS, whose parties are pair (client % pairs). */
  const openDeals = async (count: number): Promise<Prepared[]> => {
    const expiry = BigInt((await p.provider.getBlock("latest"))!.timestamp + 3_600);
    const byPair = new Map<number, DealParams[]>();
    const prepared: Prepared[] = [];
    for (let i = 0; i < count; i += OPEN_BATCH) {
      const made = await Promise.all(
        Array.from({ length: Math.min(OPEN_BATCH, count - i) }, (_, k) => {
          const pair = ((i + k) % CLIENTS) % pairs.length;
          const { payer, payee } = pairs[pair];
          return makeDeal(p, { payer: payer.address, payee: payee.address, amount: USDT(1 + ((i + k) % 50)) }).then(
            (deal) => ({ deal, pair }),
          );
        }),
      );
      for (const { deal, pair } of made) {
        byPair.set(pair, [...(byPair.get(pair) ?? []), deal]);
        const dealId = dealIdOf(deal).toLowerCase();
        const sign = (party: Party, action: number) =>
          party.wallet.signingKey.sign(digestOf(domain, "DealAction", { dealId, action, expiry })).serialized;
        prepared.push({
          dealId,
          deal,
          pair,
          expiry,
          performed: sign(pairs[pair].payee, Action.Perform),
          release: sign(pairs[pair].payer, Action.Release),
        });
      }
    }
    for (const [pair, deals] of byPair) {
      const payer = p.payers[pair];
      for (let i = 0; i < deals.length; i += OPEN_BATCH) {
        const calls = deals.slice(i, i + OPEN_BATCH).map((d) => ESCROW.encodeFunctionData("open", [d, ZeroHash]));
        await (await p.escrow.connect(payer).multicall(calls)).wait();
      }
    }
    return prepared;
  };
  const relayed = (await timed(`open ${fmt(DEALS)} deals for the relayer, sign both parties`, () => openDeals(DEALS)))
    .value;
  const baseline = (await timed(`open ${fmt(DEALS)} deals for the baseline, sign both parties`, () => openDeals(DEALS)))
    .value;

  await p.provider.send("evm_setAutomine", [false]);
  await p.provider.send("evm_setIntervalMining", [BLOCK_MS]);
  log(`automine off; interval mining every ${BLOCK_MS} ms`);
  const watcher = await watchBlocks(p.provider, sources, (await p.provider.getBlockNumber()) + 1);
  cleanups.push({ name: "block watcher", fn: () => watcher.stop() });

  /* 2. relayer */
  log("2. relayer");
  const signerKey = Wallet.createRandom();
  const signer = signerKey.address.toLowerCase();
  await p.provider.send("hardhat_setBalance", [signer, toBeHex(10n ** 21n)]);
  const passed = Object.fromEntries(PASSED_THROUGH.filter((k) => process.env[k]).map((k) => [k, process.env[k]!]));
  const common = createCommon(
    parseOptions({
      RPC_URL: node.url,
      DEPLOYMENT: deploymentFile,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      PORT: "0",
      HOST: "127.0.0.1",
      CONFIRMATIONS: "1",
      POLL_INTERVAL_MS: "50",
      LOG_LEVEL,
      RELAYER_KEY: signerKey.privateKey,
      ...passed,
    }),
  );
  const o = common.options;
  log(
    `relayer options: batch window ${o.submitBatchWindowMs} ms, max batch ${o.submitMaxBatch} submissions, ` +
      `poll ${o.submitPollMs} ms, rate limit ${o.rateLimitPerMinute}/min per key`,
  );
  const rpc = meterRpc(node.url);
  const relayer = (await timed("start relayer in-process", () => startRelayer(common))).value;
  cleanups.push({
    name: "relayer",
    fn: async () => {
      await relayer.indexer.stop();
      await relayer.clear();
      await common.shutdown();
    },
  });
  const api = `http://127.0.0.1:${relayer.port}`;
  await timed("indexer catches up with the opened deals", async () => {
    const last = [relayed.at(-1)!.dealId, baseline.at(-1)!.dealId];
    const deadline = Date.now() + 60_000;
    while (!(await Promise.all(last.map((d) => relayer.store.getDeal(d)))).every((d) => d?.deal.status === "open")) {
      if (Date.now() > deadline) throw new Error("the indexer did not index the opened deals within 60 s");
      await sleep(100);
    }
  });
  const keys = (
    await timed(`create ${CLIENTS * 2} party API keys (one per client and party)`, () =>
      Promise.all(
        Array.from({ length: CLIENTS }, async (_, c) => {
          const { payer, payee } = pairs[c % pairs.length];
          const [a, b] = await Promise.all([
            relayer.keys.create({ scope: "party", owner: payer.address, label: `bench client ${c}` }),
            relayer.keys.create({ scope: "party", owner: payee.address, label: `bench client ${c}` }),
          ]);
          return { payer: a.secret, payee: b.secret };
        }),
      ),
    )
  ).value;

  /* 3. measured run */
  log("3. measured: clients POST both confirmations per deal");
  type Posted = { dealId: string; start: number; answeredMs: number; status: number; submission?: string };
  const posted: Posted[] = [];
  const refusals: string[] = [];
  const post = async (d: Prepared, action: "performed" | "release", secret: string) => {
    const signer = action === "performed" ? pairs[d.pair].payee.address : pairs[d.pair].payer.address;
    const body = {
      action,
      signer,
      signature: action === "performed" ? d.performed : d.release,
      expiry: d.expiry.toString(),
    };
    const start = performance.now();
    let status = 0;
    let answer: { submission?: { id?: string }; type?: string; detail?: string } = {};
    try {
      const res = await fetch(`${api}/v1/deals/${d.dealId}/confirmations`, {
        method: "POST",
        headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
      });
      status = res.status;
      answer = (await res.json()) as typeof answer;
    } catch (error) {
      answer = { detail: errorText(error) };
    }
    if (status !== 202 && refusals.length < 5)
      refusals.push(`${action} ${d.dealId}: ${status} ${answer.type ?? ""} ${answer.detail ?? ""}`);
    posted.push({
      dealId: d.dealId,
      start,
      answeredMs: performance.now() - start,
      status,
      submission: answer.submission?.id,
    });
  };
  const byClient = Array.from({ length: CLIENTS }, (_, c) => relayed.filter((_, i) => i % CLIENTS === c));
  const progress = setInterval(() => {
    log(
      `  ${fmt(posted.length)} POSTs answered, ${fmt(relayed.filter((d) => watcher.released.has(d.dealId)).length)} of ` +
        `${fmt(DEALS)} deals settled, ${fmt(watcher.txs.filter((t) => t.from === signer).length)} relayer txs mined`,
    );
  }, 2_000);
  rpc.on = true;
  const cpu0 = { node: cpuSecondsOf(node.pid), bench: process.cpuUsage(), machine: machineCpu() };
  const t0 = performance.now();
  let t1: number;
  try {
    await Promise.all(
      byClient.map(async (deals, c) => {
        for (const d of deals)
          await Promise.all([post(d, "performed", keys[c].payee), post(d, "release", keys[c].payer)]);
      }),
    );
    const postsDone = performance.now();
    log(`all ${fmt(posted.length)} POSTs answered in ${((postsDone - t0) / 1000).toFixed(2)} s`);
    const accepted = new Set(posted.filter((x) => x.status === 202).map((x) => x.dealId));
    await watcher.settled(
      relayed.map((d) => d.dealId).filter((d) => accepted.has(d)),
      TIMEOUT_MS,
    );
    t1 = Math.max(
      ...relayed.filter((d) => watcher.released.has(d.dealId)).map((d) => watcher.released.get(d.dealId)!.at),
    );
  } finally {
    clearInterval(progress);
    rpc.on = false;
  }
  const benchCpu = process.cpuUsage(cpu0.bench);
  const cpu = {
    node: cpuSecondsOf(node.pid) - cpu0.node,
    bench: (benchCpu.user + benchCpu.system) / 1e6,
    machine: machineCpu(cpu0.machine),
  };
  const seconds = (t1 - t0) / 1000;
  const settledRelayed = relayed.filter((d) => watcher.released.has(d.dealId)).length;
  const latencies = posted
    .filter((x) => watcher.released.has(x.dealId))
    .map((x) => watcher.released.get(x.dealId)!.at - x.start);
  const answerMs = posted.map((x) => x.answeredMs);
  log(`${fmt(settledRelayed)} deals settled in ${seconds.toFixed(2)} s (first POST to the block of the last)`);
  for (const r of refusals) log(`  refused: ${r}`);
  log(
    `CPU during the measured run (${seconds.toFixed(1)} s): hardhat node ${cpu.node.toFixed(1)} s ` +
      `(${fmt((cpu.node / seconds) * 100)}% of one core, ${fmt((cpu.node * 1000) / settledRelayed, 1)} ms per deal); ` +
      `relayer + clients (this process) ${cpu.bench.toFixed(1)} s (${fmt((cpu.bench * 1000) / settledRelayed, 1)} ms ` +
      `per deal); whole machine ${fmt(cpu.machine.busy * 100)}% busy of ${os.cpus().length} cores`,
  );
  log("the relayer's JSON-RPC calls during the measured run (wall time; they overlap):");
  for (const [name, { calls, ms }] of [...rpc.totals].sort((a, b) => sum2(b[1].ms) - sum2(a[1].ms))) {
    log(
      `    ${name.padEnd(40)} ${fmt(calls).padStart(6)} calls ${fmt(sum2(ms)).padStart(8)} ms  ` +
        `p50 ${fmt(percentile(ms, 50), 1)} ms  p99 ${fmt(percentile(ms, 99), 1)} ms`,
    );
  }

  /* 4. baseline */
  log("4. baseline: clients send their own settleWithSigs");
  const feeData = await p.provider.getFeeData();
  const clientWallets = Array.from({ length: CLIENTS }, () => Wallet.createRandom());
  await Promise.all(clientWallets.map((w) => p.provider.send("hardhat_setBalance", [w.address, toBeHex(10n ** 21n)])));
  const settleData = (d: Prepared) =>
    ESCROW.encodeFunctionData("settleWithSigs", [
      d.deal,
      { expiry: d.expiry, signature: d.performed },
      { expiry: d.expiry, signature: d.release },
    ]);
  const gasLimit =
    (BigInt(
      await p.provider.send("eth_estimateGas", [
        { from: clientWallets[0].address, to: escrow, data: settleData(baseline[0]) },
      ]),
    ) *
      3n) /
    2n;
  const raws = await Promise.all(
    clientWallets.map((w, c) =>
      Promise.all(
        baseline
          .filter((_, i) => i % CLIENTS === c)
          .map(async (d, nonce) => ({
            dealId: d.dealId,
            raw: await w.signTransaction({
              type: 2,
              chainId: p.chainId,
              nonce,
              to: escrow,
              data: settleData(d),
              gasLimit,
              maxFeePerGas: feeData.maxFeePerGas! * 2n,
              maxPriorityFeePerGas: feeData.maxPriorityFeePerGas!,
            }),
          })),
      ),
    ),
  );
  const sent: { dealId: string; start: number; hash: string }[] = [];
  const b0 = performance.now();
  await Promise.all(
    raws.map(async (txs) => {
      for (const { dealId, raw } of txs) {
        const start = performance.now();
        const hash = (await p.provider.send("eth_sendRawTransaction", [raw])) as string;
        sent.push({ dealId, start, hash });
      }
    }),
  );
  await watcher.settled(
    baseline.map((d) => d.dealId),
    TIMEOUT_MS,
  );
  const b1 = Math.max(...baseline.map((d) => watcher.released.get(d.dealId)!.at));
  const baselineSeconds = (b1 - b0) / 1000;
  const baselineLatencies = sent.map((s) => watcher.released.get(s.dealId)!.at - s.start);
  const baselineReceipts = await receiptsOf(
    p.provider,
    sent.map((s) => s.hash),
  );
  const baselineGas = sum(baselineReceipts.map((r) => r.gasUsed));
  const baselineReverted = baselineReceipts.filter((r) => !r.ok).length;
  const baselineGasPerConfirmation = Number(baselineGas) / DEALS;
  log(
    `${fmt(DEALS)} deals settled by ${fmt(sent.length)} transactions in ${baselineSeconds.toFixed(2)} s; ` +
      `${fmt(baselineGasPerConfirmation)} gas per deal; ${baselineReverted} reverted`,
  );

  /* 5. checks */
  log("5. checks: submissions, the relayer's transactions and nonces");
  const submissionIds = posted.filter((x) => x.submission).map((x) => x.submission!);
  const statuses = new Map<string, number>();
  const deadline = Date.now() + 30_000;
  let views = await Promise.all(submissionIds.map((id) => relayer.submitter!.get(id)));
  while (views.some((v) => v?.status !== "final" && v?.status !== "failed") && Date.now() < deadline) {
    await sleep(250);
    views = await Promise.all(submissionIds.map((id) => relayer.submitter!.get(id)));
  }
  for (const v of views) statuses.set(v?.status ?? "missing", (statuses.get(v?.status ?? "missing") ?? 0) + 1);
  const failedSubmissions = submissionIds.length - (statuses.get("final") ?? 0);
  log(`submissions: ${[...statuses].map(([s, n]) => `${fmt(n)} ${s}`).join(", ")}`);
  for (const v of views.filter((x) => x?.status === "failed").slice(0, 5))
    log(`  failed ${v!.id}: ${v!.error?.name} ${v!.error?.message}`);

  // Where a submission's time goes: queued in the submitter (created → its transaction signed and broadcast), then
  // waiting for a block (broadcast → the watcher saw the block).
  const epoch = (at: number) => performance.timeOrigin + at;
  const queuedMs: number[] = [];
  const blockWaitMs: number[] = [];
  for (const v of views) {
    const tx = v?.transactions.at(-1);
    const mined = v?.dealId && watcher.released.get(v.dealId);
    if (!v || !tx || !mined) continue;
    queuedMs.push(tx.sentAt - v.createdAt);
    blockWaitMs.push(epoch(mined.at) - tx.sentAt);
  }
  log(
    `submission time: queued→broadcast p50 ${fmt(percentile(queuedMs, 50))} ms, p99 ${fmt(percentile(queuedMs, 99))} ms; ` +
      `broadcast→block seen p50 ${fmt(percentile(blockWaitMs, 50))} ms, p99 ${fmt(percentile(blockWaitMs, 99))} ms`,
  );
  const sentTimes = [
    ...new Set(views.map((v) => v?.transactions.at(-1)?.sentAt).filter((x): x is number => x !== undefined)),
  ].sort((a, b) => a - b);
  const gaps = sentTimes.slice(1).map((t, i) => t - sentTimes[i]);
  if (gaps.length > 0)
    log(`relayer broadcasts: ${sentTimes.length}, every ${fmt(percentile(gaps, 50))} ms (median) apart`);

  await sleep(BLOCK_MS * 1.5); // one more block: anything still pending from the relayer would show
  const [latestCount, pendingCount] = await Promise.all(
    ["latest", "pending"].map(async (tag) => Number(await p.provider.send("eth_getTransactionCount", [signer, tag]))),
  );
  const relayerTxs = watcher.txs.filter((t) => t.from === signer);
  const nonces = new Set(relayerTxs.map((t) => t.nonce));
  let nonceGaps = 0;
  for (let n = 0; n < latestCount; n++) if (!nonces.has(n)) nonceGaps++;
  nonceGaps += pendingCount - latestCount; // sent but never mined
  const duplicates = relayerTxs.length - nonces.size;
  const relayerReceipts = await receiptsOf(
    p.provider,
    relayerTxs.map((t) => t.hash),
  );
  const relayerGas = sum(relayerReceipts.map((r) => r.gasUsed));
  const relayerReverted = relayerReceipts.filter((r) => !r.ok).length;
  const gasPerConfirmation = Number(relayerGas) / settledRelayed;
  const callCounts = new Map<string, number>();
  const batchSizes = relayerTxs.map((t) => {
    const calls = callsOf(t.input);
    for (const c of calls) callCounts.set(c, (callCounts.get(c) ?? 0) + 1);
    return calls.length;
  });
  const blocksUsed = new Set(relayerTxs.map((t) => t.block)).size;
  log(
    `relayer: ${fmt(relayerTxs.length)} transactions in ${blocksUsed} blocks (nonces 0..${latestCount - 1}, ` +
      `pending ${pendingCount - latestCount}, duplicates ${duplicates}, reverted ${relayerReverted}); calls ` +
      `per transaction min ${Math.min(...batchSizes)} / median ${percentile(batchSizes, 50)} / max ${Math.max(...batchSizes)}`,
  );
  log(`relayer calls: ${[...callCounts].map(([name, n]) => `${fmt(n)} ${name}`).join(", ")}`);
  if (watcher.failure()) log(`block watcher: last error ${watcher.failure()}`);

  /* 6. report */
  const confirmationsPerSec = settledRelayed / seconds;
  const p50Ms = Math.round(percentile(latencies, 50));
  const p99Ms = Math.round(percentile(latencies, 99));
  const gasRatio = gasPerConfirmation / baselineGasPerConfirmation;
  const results = {
    confirmationsPerSec: round(confirmationsPerSec, 1),
    p50Ms,
    p99Ms,
    gasPerConfirmation: Math.round(gasPerConfirmation),
    baselineGasPerConfirmation: Math.round(baselineGasPerConfirmation),
    gasRatio: round(gasRatio, 3),
    nonceGaps,
    nodeCpuMsPerConfirmation: round((cpu.node * 1000) / settledRelayed, 1),
    deals: DEALS,
    clients: CLIENTS,
    posts: posted.length,
    refusedPosts: posted.filter((x) => x.status !== 202).length,
    failedSubmissions,
    transactions: relayerTxs.length,
    transactionsPerConfirmation: round(relayerTxs.length / settledRelayed, 4),
    postAnswerP50Ms: Math.round(percentile(answerMs, 50)),
    postAnswerP99Ms: Math.round(percentile(answerMs, 99)),
    baselineConfirmationsPerSec: round(DEALS / baselineSeconds, 1),
    baselineP50Ms: Math.round(percentile(baselineLatencies, 50)),
    baselineP99Ms: Math.round(percentile(baselineLatencies, 99)),
  };
  const rows: [string, string, string, boolean | undefined][] = [
    [
      "confirmations/s (deals settled)",
      fmt(confirmationsPerSec, 1),
      `>= ${TARGETS.confirmationsPerSec}`,
      confirmationsPerSec >= TARGETS.confirmationsPerSec,
    ],
    ["POST→mined p50 (ms)", fmt(p50Ms), "", undefined],
    ["POST→mined p99 (ms)", fmt(p99Ms), `<= ${fmt(TARGETS.p99Ms)}`, p99Ms <= TARGETS.p99Ms],
    ["POST→202 p50 / p99 (ms)", `${results.postAnswerP50Ms} / ${results.postAnswerP99Ms}`, "", undefined],
    ["relayer txs per confirmation", String(results.transactionsPerConfirmation), "", undefined],
    ["gas per confirmation", fmt(gasPerConfirmation), "", undefined],
    ["baseline gas per confirmation", fmt(baselineGasPerConfirmation), "", undefined],
    ["gas ratio", gasRatio.toFixed(3), `<= ${TARGETS.gasRatio}`, gasRatio <= TARGETS.gasRatio],
    ["nonce gaps", String(nonceGaps), `= ${TARGETS.nonceGaps}`, nonceGaps === TARGETS.nonceGaps],
    [
      "refused POSTs / failed submissions",
      `${results.refusedPosts} / ${failedSubmissions}`,
      "= 0 / 0",
      results.refusedPosts === 0 && failedSubmissions === 0,
    ],
  ];
  console.log("");
  console.log(`${"metric".padEnd(36)} ${"value".padStart(12)}  ${"target".padEnd(9)}  result`);
  console.log(`${"-".repeat(36)} ${"-".repeat(12)}  ${"-".repeat(9)}  ------`);
  for (const [name, value, target, met] of rows) {
    const result = met === undefined ? "" : met ? "met" : "MISSED";
    console.log(`${name.padEnd(36)} ${value.padStart(12)}  ${target.padEnd(9)}  ${result}`);
  }
  console.log(
    `(baseline: ${fmt(results.baselineConfirmationsPerSec, 1)} deals/s, send→mined p50 ${results.baselineP50Ms} ms, ` +
      `p99 ${results.baselineP99Ms} ms, ${DEALS} transactions. Timings on a shared ${os.cpus().length}-CPU machine ` +
      `are noisy: the node, Redis, the relayer and the clients share it; only nonce gaps and failures fail the run.)`,
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
  const broken =
    nonceGaps > 0 || duplicates > 0 || failedSubmissions > 0 || results.refusedPosts > 0 || baselineReverted > 0;
  return broken ? 1 : 0;
}

runBench("bench-confirmations", main);
