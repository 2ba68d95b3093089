/**
 * The read API's test fixtures: a projection seeded by committing protocol events through the store's real write
 * path (lease + commit) into a real Redis (REDIS_URL, default 127.0.0.1:6379) under a key prefix of its own, the model of every seeded
 * deal, the API served over it on a free port, and raw HTTP helpers that send paths as given.
 */
import { testRedis, type RedisClient, keysOf } from "../../support/redis";
import { expect } from "chai";
import { id as keccakId } from "ethers";
import { randomBytes } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:net";
import request from "supertest";
import { createCommon, type Common } from "../../../relayer/src/common";
import type { DealParams, ProtocolEvent } from "../../../protocol";
import { scoreOf, type DealStatus } from "../../../relayer/src/domain/projection";
import { createApi, type Readiness } from "../../../relayer/src/api/app";
import { PROBLEM_BASE } from "../../../relayer/src/api/problems";
import { startServer, type RunningServer } from "../../../relayer/src/api/server";
import { parseOptions } from "../../../relayer/src/options";
import { createStore, type Store } from "../../../relayer/src/store/store";
import type { TokenHealth } from "../../../relayer/src/tokens/monitor";

/* ------------------------------------------------ fixtures ------------------------------------------------ */

export const CHAIN_ID = 31337;
export const CONFIRMATIONS = 3;
export const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;
export const ESCROW = "0x" + "E5".repeat(20);
export const USDT = addr(0x1001);
export const DAI = addr(0x1002);
export const GW1 = addr(0xa001);
export const GW2 = addr(0xa002);
export const GW3 = addr(0xa003);
export const ACC1 = addr(0xb001);
export const ACC2 = addr(0xb002);
export const ACC3 = addr(0xb003);
export const PARTIES = [0, 1, 2, 3, 4, 5].map((i) => addr(0xc000 + i));
export const SEPA = keccakId("SEPA:EUR");
export const PIX = keccakId("PIX:BRL");
export const DEAL_COUNT = 64;
export const FLOAT = 1_000_000_000_000n;
export const RESOLUTION_WINDOW = 3 * 24 * 3600;
/** A recent dispute (its gateway's window open for days) and one long over. */
export const RECENT = Math.floor(Date.now() / 1000);
export const LONG_AGO = 1_600_000_000;
/** First 12 bytes of a delegate's lock salt (bytes12 of keccak256("USDT Escrow: lock by delegate")). */
export const DELEGATE_PREFIX = keccakId("USDT Escrow: lock by delegate").slice(2, 26);

export const dealIdOf = (i: number) => keccakId(`api-test-deal-${i}`);
export const txHashOf = (block: number, logIndex: number) => keccakId(`tx-${block}-${logIndex}`);
/** The seeded blocks' times (as the indexer stamps every event; a dispute's own time, when given, wins). */
export const timeOfBlock = (block: number) => 1_700_000_000 + 12 * block;
export const blockHashOf = (block: number) => keccakId(`block-${block}`);

/** What the test expects of each deal (a tiny model of the projection): the parameters it opened with, and more. */
export type ModelDeal = Omit<DealParams, "feeBps" | "autoRelease"> & {
  i: number;
  dealId: string;
  status: DealStatus;
  score: number;
  updatedBlock: number;
  history: { event: string; block: number; logIndex: number }[];
};

export type Dist<T> = T extends unknown ? Omit<T, "block" | "blockHash" | "txHash" | "logIndex"> : never;
export type EventBody = Dist<ProtocolEvent>;

/** Builds the seed: blocks of events, and the model of every deal. */
export function buildSeed(): { blocks: Map<number, ProtocolEvent[]>; deals: ModelDeal[]; lastBlock: number } {
  const blocks = new Map<number, ProtocolEvent[]>();
  const deals: ModelDeal[] = [];
  const at = (block: number, body: EventBody): ProtocolEvent => {
    const list = blocks.get(block) ?? [];
    blocks.set(block, list);
    const logIndex = list.length * 3 + 1; // gaps, as real logs of other contracts would leave
    const event = {
      timestamp: timeOfBlock(block),
      ...body,
      block,
      blockHash: blockHashOf(block),
      txHash: txHashOf(block, logIndex),
      logIndex,
    } as ProtocolEvent;
    list.push(event);
    return event;
  };
  const touch = (d: ModelDeal, e: ProtocolEvent, status?: DealStatus) => {
    d.history.push({ event: e.type, block: e.block, logIndex: e.logIndex });
    d.score = scoreOf(e.block, e.logIndex);
    d.updatedBlock = e.block;
    if (status) d.status = status;
  };

  // Registry: tokens, three gateways (two approved), three acceptors.
  at(10, { type: "TokenAllowed", token: USDT, allowed: true });
  at(10, { type: "TokenAllowed", token: DAI, allowed: true });
  for (const gw of [GW1, GW2, GW3]) {
    at(10, { type: "GatewayRegistered", gateway: gw, bond: 5_000_000_000n, feeBps: 50, metadata: keccakId(gw) });
  }
  at(10, { type: "GatewayApproved", gateway: GW1, feeCapBps: 300 });
  at(10, { type: "GatewayApproved", gateway: GW2, feeCapBps: 200 });
  at(11, { type: "AcceptorRegistered", acceptor: ACC1, gateway: GW1, lockDelegate: addr(0xd001) });
  at(11, { type: "AcceptorRegistered", acceptor: ACC2, gateway: GW1, lockDelegate: addr(0xd002) });
  at(11, { type: "AcceptorRegistered", acceptor: ACC3, gateway: GW2, lockDelegate: addr(0xd003) });
  at(11, { type: "AcceptorApproved", acceptor: ACC1 });
  at(11, { type: "AcceptorApproved", acceptor: ACC2 });
  at(12, { type: "AcceptorMethodSet", acceptor: ACC1, method: SEPA, supported: true });
  at(12, { type: "AcceptorMethodSet", acceptor: ACC2, method: SEPA, supported: true });
  at(12, { type: "AcceptorMethodSet", acceptor: ACC2, method: PIX, supported: true });
  at(12, { type: "AcceptorMethodSet", acceptor: ACC3, method: PIX, supported: true });
  at(12, {
    type: "AcceptorLimitsSet",
    acceptor: ACC1,
    token: USDT,
    minAmount: 10_000_000n,
    maxAmount: 50_000_000_000n,
  });
  at(12, { type: "AcceptorLimitsSet", acceptor: ACC2, token: DAI, minAmount: 1n, maxAmount: 2n });
  at(12, { type: "FloatDeposited", acceptor: ACC1, token: USDT, amount: FLOAT });
  at(13, { type: "AcceptorSuspended", acceptor: ACC3 });

  // Deals: three opened per block from block 20; deal 5 is an on-ramp funded by ACC1's float, locked by its
  // delegate.
  for (let i = 0; i < DEAL_COUNT; i++) {
    const kind = i === 5 ? "onramp" : "payment";
    const d: ModelDeal = {
      i,
      dealId: dealIdOf(i),
      status: "open",
      payer: kind === "onramp" ? ACC1 : PARTIES[i % 6],
      payee: PARTIES[(i + 1) % 6],
      gateway: i % 2 === 0 ? GW1 : GW2,
      token: i === 5 || i % 3 !== 0 ? USDT : DAI,
      amount: 1_000_000n * BigInt(i + 1),
      deadline: 1_900_000_000 + i,
      kind,
      salt: i === 5 ? `0x${DELEGATE_PREFIX}${"05".repeat(20)}` : keccakId(`salt-${i}`),
      releaseWindow: 3600,
      score: 0,
      updatedBlock: 0,
      history: [],
    };
    const e = at(20 + Math.floor(i / 3), {
      type: "DealOpened",
      dealId: d.dealId,
      ref: keccakId(`ref-${i}`),
      deal: {
        payer: d.payer,
        payee: d.payee,
        gateway: d.gateway,
        token: d.token,
        amount: d.amount,
        deadline: d.deadline,
        releaseWindow: 3600,
        feeBps: 50,
        kind,
        autoRelease: i % 4 === 0,
        salt: d.salt,
      },
    });
    touch(d, e);
    if (i === 5) touch(d, at(e.block, { type: "DealLockedByDelegate", dealId: d.dealId, delegate: addr(0xd001) }));
    deals.push(d);
  }

  // Updates from block 50: performed, released, refunded, disputed, resolved.
  let block = 50;
  let inBlock = 0;
  const next = () => {
    if (++inBlock > 4) {
      block++;
      inBlock = 1;
    }
    return block;
  };
  for (const d of deals) {
    const fee = (d.amount * 50n) / 10_000n;
    if (d.i % 10 === 0 && d.i > 0) {
      // Split by agreement while open: 70% to the payee (the fee out of it), the rest back.
      const share = (d.amount * 7n) / 10n;
      const splitFee = (share * 50n) / 10_000n;
      const e = at(next(), {
        type: "DealSplit",
        dealId: d.dealId,
        payeeAmount: share - splitFee,
        fee: splitFee,
        refund: d.amount - share,
      });
      touch(d, e, "split");
      continue;
    }
    switch (d.i % 5) {
      case 1:
        touch(d, at(next(), { type: "DealPerformed", dealId: d.dealId }), "performed");
        break;
      case 2:
        // The payer releases first; the payee's "performed" then releases at once (as the escrow emits it).
        touch(d, at(next(), { type: "DealReleaseApproved", dealId: d.dealId }));
        touch(d, at(next(), { type: "DealPerformed", dealId: d.dealId }), "performed");
        touch(d, at(next(), { type: "DealReleased", dealId: d.dealId }), "released");
        break;
      case 3:
        touch(d, at(next(), { type: "DealRefunded", dealId: d.dealId, reason: "deadline" }), "refunded");
        break;
      case 4:
        touch(d, at(next(), { type: "DealPerformed", dealId: d.dealId }), "performed");
        // Deals 19, 39, 59: raised while the gateway could not hold it; 29: its window long over.
        touch(
          d,
          at(next(), {
            type: "DealDisputed",
            dealId: d.dealId,
            by: d.payer,
            gatewayHolds: d.i % 20 !== 19,
            timestamp: d.i === 29 ? LONG_AGO : RECENT,
          }),
          "disputed",
        );
        if (d.i === 9) {
          touch(
            d,
            at(next(), {
              type: "EvidencePosted",
              dealId: d.dealId,
              by: d.payer,
              contentHash: keccakId("a"),
              uri: "ipfs://a",
            }),
          );
          touch(
            d,
            at(next(), {
              type: "EvidencePosted",
              dealId: d.dealId,
              by: d.gateway,
              contentHash: keccakId("b"),
              uri: "",
            }),
          );
        }
        if (d.i % 10 === 4) {
          const refund = d.amount / 2n;
          touch(
            d,
            at(next(), {
              type: "DealResolved",
              dealId: d.dealId,
              by: d.gateway,
              payeeAmount: d.amount - fee - refund,
              fee,
              refund,
              reasons: keccakId(`reasons-${d.i}`),
            }),
            "resolved",
          );
        }
        break;
    }
  }
  return { blocks, deals, lastBlock: Math.max(...blocks.keys()) };
}

export const newestFirst = (a: ModelDeal, b: ModelDeal) => b.score - a.score || (a.dealId < b.dealId ? 1 : -1);

/* ------------------------------------------------- helpers ------------------------------------------------- */

export type Res = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** A raw request (paths are sent as given: no normalisation, no encoding). */
export function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Sends bytes on a fresh socket and parses the (Connection: close) response. */
export function rawSocket(port: number, bytes: Buffer): Promise<Res> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(bytes));
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const head = text.slice(0, split).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(head[0].split(" ")[1]), headers, body: text.slice(split + 4) });
    });
  });
}

export function expectProblem(
  res: { status: number; headers: Record<string, unknown>; body: unknown },
  status: number,
  kind: string,
) {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(String(res.headers["content-type"])).to.match(/^application\/problem\+json/);
  const body = res.body as Record<string, unknown>;
  expect(body.type).to.equal(PROBLEM_BASE + kind);
  expect(body.status).to.equal(status);
  expect(body.title).to.be.a("string").and.not.empty;
  expect(body.detail).to.be.a("string").and.not.empty;
  return body as {
    detail: string;
    errors?: { parameter: string; in: string; message: string }[];
    [k: string]: unknown;
  };
}

/* ---------------------------------------------- the seeded API ---------------------------------------------- */

export type Seed = ReturnType<typeof buildSeed>;
type ReadinessAnswer = Awaited<ReturnType<Readiness>>;

/** What the readiness check of the seeded API answers unless a test says otherwise. */
export const READY: ReadinessAnswer = { ready: true, checks: { redis: true, indexer: true } };

/** The read API over a seeded store. A test may change `readiness` and `tokenHealth` (and must restore them). */
export type SeededApi = {
  prefix: string;
  redis: RedisClient;
  common: Common;
  store: Store;
  server: RunningServer;
  /** supertest against the server. */
  http: ReturnType<typeof request>;
  seed: Seed;
  /** The head the store records: one block past the last seeded one. */
  head: number;
  /** What the readiness check answers; an Error is thrown by it. */
  readiness: ReadinessAnswer | Error;
  /** What the token monitor reports. */
  tokenHealth: TokenHealth[];
  /** Stops the server, deletes every key of the prefix (and checks that none is left), closes Redis. */
  close(): Promise<void>;
};

/**
 * Seeds a projection under a fresh `test-<name>-<random>` prefix and serves the API over it (head cache off). The
 * events of the last seeded block have two confirmations of three (pending).
 */
export async function startSeededApi(name: string): Promise<SeededApi> {
  const prefix = `test-${name}-${randomBytes(6).toString("hex")}`;
  const redis = testRedis({ lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const common = createCommon(
    parseOptions({
      RPC_URL: "http://127.0.0.1:8545",
      DEPLOYMENT: "none.json",
      REDIS_PREFIX: prefix,
      CONFIRMATIONS: String(CONFIRMATIONS),
      LOG_LEVEL: "silent",
    }),
  );
  const store = createStore({ common, redis, chainId: CHAIN_ID, escrow: ESCROW });
  const seed = buildSeed();
  const lease = await store.lease("api-test", 60_000);
  expect(lease).to.be.a("string");
  let previous: number | undefined;
  for (const block of [...seed.blocks.keys()].sort((a, b) => a - b)) {
    const result = await store.commit({
      leaseValue: lease!,
      expectBlock: previous,
      toBlock: block,
      toHash: blockHashOf(block),
      events: seed.blocks.get(block)!,
      undoable: false,
      blockHashes: [],
      pruneBlocks: [],
    });
    expect(result).to.equal("OK");
    previous = block;
  }
  await store.releaseLease(lease!);
  const head = seed.lastBlock + 1;
  await store.setProgress(head, true);
  // Read by the app's closures, which run only once the object below exists.
  // eslint-disable-next-line prefer-const
  let api: SeededApi;
  const app = createApi({
    common,
    store,
    metaCacheMs: 0,
    resolutionWindow: RESOLUTION_WINDOW,
    tokens: () => api.tokenHealth,
    readiness: async () => {
      if (api.readiness instanceof Error) throw api.readiness;
      return api.readiness;
    },
  });
  const server = await startServer(app, 0, "127.0.0.1");
  api = {
    prefix,
    redis,
    common,
    store,
    server,
    http: request(`http://127.0.0.1:${server.port}`),
    seed,
    head,
    readiness: READY,
    tokenHealth: [],
    close: async () => {
      agent.destroy();
      await server.close();
      await store.clear();
      expect(await keysOf(redis, `${prefix}:*`)).to.deep.equal([]);
      await redis.quit();
    },
  };
  return api;
}

/** The API over `store` with the default head cache, whose readiness check answers `ready` with no checks. */
export function apiOver(common: Common, store: Store, ready = true) {
  return createApi({
    common,
    store,
    resolutionWindow: RESOLUTION_WINDOW,
    readiness: async () => ({ ready, checks: {} }),
  });
}
