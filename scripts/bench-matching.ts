/**
 * Matching benchmark (`npm run bench:matching`): 1,000 acceptors (projection records and desk profiles written
 * straight into Redis under a fresh prefix, deleted afterwards), 10,000 match requests from 50 concurrent clients
 * shared by two matcher instances (each with its own Redis connection, desk, reservations and screening, as two
 * relayer replicas). Screening asks a real Hardhat node's test USDT (`isBlackListed`); its caches are warmed first,
 * as in a relayer that has been running, and each matcher reads its first snapshot before the clock starts.
 * Acceptors' float (200–2,000 USDT each) is about twice the buy demand, but the cheapest acceptors run out, so
 * reservations contend.
 *
 * Reports matches/s, p50/p99 match latency, double-bookings (recounted from Redis: for every acceptor and token, the
 * reservations held must not exceed its free float; must be 0) and, as a same-run baseline, the rate of bare
 * `EVAL "return 1"` round trips from as many clients. The last line is JSON. Exits 1 on any double-booking.
 *
 * Environment: REDIS_URL (default redis://127.0.0.1:6379), BENCH_ACCEPTORS (1000), BENCH_REQUESTS (10000),
 * BENCH_CLIENTS (50), BENCH_SCARCE (1: a tenth of the float, so demand exceeds it).
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { id as keccakId } from "ethers";
import { Redis } from "ioredis";
import { createChain } from "../relayer/src/chain/chain";
import { createCommon } from "../relayer/src/common";
import { parseOptions } from "../relayer/src/options";
import { createStore } from "../relayer/src/store/store";
import { createDesk, type AcceptorProfile } from "../relayer/src/orders/desk";
import { createReservations } from "../relayer/src/orders/reservations";
import { createScreening } from "../relayer/src/orders/screening";
import { createMatcher, type Matcher } from "../relayer/src/orders/matcher";
import type { OrderSide } from "../relayer/src/orders/matching";
import { TestUSDT__factory } from "../typechain-types";
import { startHardhatNode } from "../test/relayer/support/node";
import { cleanUp, cleanups, deletePrefixKeys, fmt, log, round, runBench, timed } from "./bench/support";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const ACCEPTORS = Number(process.env.BENCH_ACCEPTORS ?? 1000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 10_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
/** BENCH_SCARCE=1: a tenth of the float, so demand exceeds it and most reservations contend. */
const FLOAT_DIVISOR = process.env.BENCH_SCARCE === "1" ? 10n : 1n;
const MATCHERS = 2;
const USERS = 200;
const GATEWAYS = 10;
const HEARTBEAT_MS = 60_000;
const RESERVE_MS = 120_000;
const USDT = 1_000_000n;
const METHODS = ["SEPA:EUR", "PIX:BRL", "ACH:USD"] as const;

/** A deterministic pseudo-random sequence (the same acceptors and requests on every run). */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const addressOf = (n: number, tag: string) => "0x" + tag + n.toString(16).padStart(38, "0");
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

async function main(): Promise<number> {
  const prefix = `bench-matching-${randomBytes(4).toString("hex")}`;
  const connections: Redis[] = [];
  const connect = () => {
    const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, commandTimeout: 5_000 });
    connections.push(r);
    return r;
  };
  const admin = connect();
  cleanups.push({ name: "redis connections", fn: () => connections.forEach((c) => c.disconnect()) });
  cleanups.push({ name: "bench prefix keys", fn: () => deletePrefixKeys(admin, prefix) });

  log("1. setup");
  const node = (await timed("start hardhat node", () => startHardhatNode())).value;
  cleanups.push({ name: "hardhat node", fn: () => node.stop() });
  const owner = await node.provider.getSigner(0);
  const usdt = await new TestUSDT__factory(owner).deploy();
  await usdt.waitForDeployment();
  const token = (await usdt.getAddress()).toLowerCase();
  const common = createCommon(
    parseOptions({ RPC_URL: node.url, DEPLOYMENT: "unused.json", REDIS_PREFIX: prefix, LOG_LEVEL: "silent" }),
  );
  const escrow = "0x" + randomBytes(20).toString("hex");
  const keyPrefix = createStore({ common, redis: admin, chainId: 31337, escrow }).keyPrefix;
  const base = `${keyPrefix}w:o:`;

  const rand = prng(12);
  const acceptors = Array.from({ length: ACCEPTORS }, (_, i) => addressOf(i + 1, "ac"));
  const users = Array.from({ length: USERS }, (_, i) => addressOf(i + 1, "ee"));
  const free = new Map<string, bigint>();
  await timed(`write ${fmt(ACCEPTORS)} acceptors (projection records, profiles, heartbeats)`, async () => {
    const setupDesk = createDesk({ redis: admin, base });
    const pipe = admin.pipeline();
    for (let g = 0; g < GATEWAYS; g++) {
      pipe.hset(`${keyPrefix}gw:${addressOf(g, "9a")}`, { status: "active", suspended: "0", feeBps: "50" });
    }
    for (const [i, a] of acceptors.entries()) {
      const float = (BigInt(200 + Math.floor(rand() * 1800)) * USDT) / FLOAT_DIVISOR;
      free.set(a, float);
      pipe.hset(`${keyPrefix}acc:${a}`, {
        status: rand() < 0.97 ? "active" : "suspended",
        gateway: addressOf(i % GATEWAYS, "9a"),
        [`min:${token}`]: (5n * USDT).toString(),
        [`max:${token}`]: (500n * USDT).toString(),
        [`free:${token}`]: float.toString(),
      });
      const methods = METHODS.filter((m, k) => (k === 0 ? rand() < 0.9 : rand() < 0.5));
      if (methods.length > 0) pipe.sadd(`${keyPrefix}accm:${a}`, ...methods.map((m) => keccakId(m)));
      pipe.zadd(`${keyPrefix}accs`, i, a);
    }
    await pipe.exec();
    // Rates on a coarse grid, so many acceptors tie and round robin shares the orders among them.
    for (const a of acceptors) {
      const rate = (x: number) => (x + Math.floor(rand() * 5) / 100).toFixed(2);
      const profile: AcceptorProfile = {
        rates: { EUR: rate(0.9), BRL: rate(5.1), USD: rate(0.99) },
        methods: Object.fromEntries(
          METHODS.map((m) => [
            m,
            { minAmount: (1n * USDT).toString(), maxAmount: (1_000n * USDT).toString(), details: "IBAN" },
          ]),
        ),
        autoAccept: rand() < 0.5,
        paused: rand() < 0.03,
      };
      await setupDesk.setProfile(a, profile);
      await setupDesk.heartbeat(a, rand() < 0.97);
    }
  });

  const requests = Array.from({ length: REQUESTS }, (_, i) => {
    const method = METHODS[rand() < 0.8 ? 0 : rand() < 0.5 ? 1 : 2];
    return {
      orderId: `ord_${i.toString(16).padStart(24, "0")}`,
      side: (rand() < 0.8 ? "buy" : "sell") as OrderSide,
      token,
      amount: BigInt(10 + Math.floor(rand() * 91)) * USDT,
      currency: method.slice(-3),
      method,
      methodHash: keccakId(method),
      exclude: [] as string[],
      user: users[Math.floor(rand() * USERS)],
      reserveMs: RESERVE_MS,
    };
  });

  const matchers: Matcher[] = [];
  for (let m = 0; m < MATCHERS; m++) {
    const redis = connect();
    const store = createStore({ common, redis, chainId: 31337, escrow });
    const chain = createChain({ common, rpcUrl: node.url });
    cleanups.push({ name: `chain ${m}`, fn: () => chain.close() });
    const screening = createScreening({ chain, denyList: () => new Set() });
    await timed(`matcher ${m + 1}: warm its screening cache (${fmt(ACCEPTORS + USERS)} addresses)`, async () => {
      for (let i = 0; i < acceptors.length; i += 100) await screening.screen(acceptors.slice(i, i + 100), token);
      await screening.screen(users, token);
    });
    matchers.push(
      createMatcher({
        desk: createDesk({ redis, base }),
        reservations: createReservations({ redis, base, projectionBase: keyPrefix }),
        store,
        screening,
        options: { acceptorHeartbeatMs: HEARTBEAT_MS },
      }),
    );
  }

  // Snapshots warm, as in a relayer that has been running: one sell match each (nothing reserved).
  for (const [m, matcher] of matchers.entries()) {
    await timed(`matcher ${m + 1}: first snapshot`, () =>
      matcher.match({ ...requests[0], orderId: "ord_warmup", side: "sell", now: Date.now() }),
    );
  }

  log("2. baseline: bare EVAL round trips");
  const evalConns = [connect(), connect()];
  const evalRun = await timed(`${fmt(REQUESTS)} EVAL "return 1" from ${CLIENTS} clients`, async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        while (next < REQUESTS) {
          next++;
          await evalConns[c % evalConns.length].eval("return 1", 0);
        }
      }),
    );
  });
  const evalPerSec = REQUESTS / evalRun.seconds;

  // Acceptors keep sending heartbeats while orders come in (their online switches stay as set).
  const heartbeatDesk = createDesk({ redis: admin, base });
  const beating = setInterval(() => {
    for (const a of acceptors) heartbeatDesk.heartbeat(a).catch(() => undefined);
  }, HEARTBEAT_MS / 3);
  cleanups.push({ name: "heartbeats", fn: () => clearInterval(beating) });

  log("3. matching");
  const latencies: number[] = [];

  let matched = 0;
  let unmatched = 0;
  const matchedBuys: string[] = [];
  const reasons: Record<string, number> = {};
  const run = await timed(`${fmt(REQUESTS)} matches from ${CLIENTS} clients over ${MATCHERS} matchers`, async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const matcher = matchers[c % MATCHERS];
        while (next < REQUESTS) {
          const req = requests[next++];
          const t0 = performance.now();
          const outcome = await matcher.match({ ...req, now: Date.now() });
          const ms = performance.now() - t0;
          latencies.push(ms);
          if (outcome.ok) {
            matched++;
            if (req.side === "buy") matchedBuys.push(req.orderId);
          } else {
            unmatched++;
            for (const [rule, n] of Object.entries(outcome.reasons)) reasons[rule] = (reasons[rule] ?? 0) + n;
          }
        }
      }),
    );
  });

  log("4. recount");
  const held = await admin.hgetall(`${base}resamt`);
  const reservedBy = new Map<string, bigint>();
  for (const value of Object.values(held)) {
    const [a, t, amount] = value.split("|");
    reservedBy.set(`${a}|${t}`, (reservedBy.get(`${a}|${t}`) ?? 0n) + BigInt(amount));
  }
  let doubleBookings = 0;
  for (const [pair, sum] of reservedBy) {
    const [a] = pair.split("|");
    if (sum > free.get(a)!) {
      doubleBookings++;
      log(`DOUBLE-BOOKED: ${pair} holds ${sum} of free ${free.get(a)}`);
    }
  }
  const missing = matchedBuys.filter((id) => held[id] === undefined).length;
  const reservedTotal = [...reservedBy.values()].reduce((x, y) => x + y, 0n);
  const floatTotal = [...free.values()].reduce((x, y) => x + y, 0n);

  const sorted = [...latencies].sort((a, b) => a - b);
  const matchesPerSec = REQUESTS / run.seconds;
  const result = {
    matchesPerSec: round(matchesPerSec, 0),
    p50Ms: round(percentile(sorted, 0.5), 2),
    p99Ms: round(percentile(sorted, 0.99), 2),
    maxMs: round(sorted[sorted.length - 1], 2),
    doubleBookings,
    buysWithoutReservation: missing,
    requests: REQUESTS,
    matched,
    unmatched,
    acceptors: ACCEPTORS,
    clients: CLIENTS,
    matchers: MATCHERS,
    baselineEvalPerSec: round(evalPerSec, 0),
    ratioToEval: round(matchesPerSec / evalPerSec, 3),
  };
  log(
    `matched ${fmt(matched)}, unmatched ${fmt(unmatched)} (${JSON.stringify(reasons)}); reserved ` +
      `${fmt(Number(reservedTotal / USDT))} of ${fmt(Number(floatTotal / USDT))} USDT float`,
  );
  log(
    `${fmt(matchesPerSec)} matches/s (target ≥ 1,000), p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms (target < 50), ` +
      `baseline ${fmt(evalPerSec)} EVAL/s (matches are ${result.ratioToEval}× of it), double-bookings ${doubleBookings}`,
  );
  await cleanUp();
  console.log(JSON.stringify(result));
  return doubleBookings > 0 || missing > 0 ? 1 : 0;
}

runBench("bench-matching", main);
