/**
 * The read API against a real Redis (127.0.0.1:6379): the projection is seeded by committing protocol events
 * through the store's real write path (lease + commit), then every route is exercised over HTTP.
 */
import { expect } from "chai";
import { id as keccakId } from "ethers";
import { Redis } from "ioredis";
import { randomBytes } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:net";
import request from "supertest";
import { createCommon, type Common } from "../../../relayer/src/common";
import type { ProtocolEvent } from "../../../relayer/src/domain/events";
import { scoreOf, type DealStatus } from "../../../relayer/src/domain/projection";
import { createApi, MAX_URL_LENGTH, type Readiness } from "../../../relayer/src/api/app";
import { buildOpenApiDocument, ROUTES } from "../../../relayer/src/api/openapi";
import { PROBLEM_BASE } from "../../../relayer/src/api/problems";
import { startServer, type RunningServer } from "../../../relayer/src/api/server";
import { parseOptions } from "../../../relayer/src/options";
import { NamespaceTaken } from "../../../relayer/src/errors";
import { createStore, DEAL_FIELDS, type Store } from "../../../relayer/src/store/store";
import type { TokenHealth } from "../../../relayer/src/tokens/monitor";

/* ------------------------------------------------ fixtures ------------------------------------------------ */

const CHAIN_ID = 31337;
const CONFIRMATIONS = 3;
const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;
const ESCROW = "0x" + "E5".repeat(20);
const USDT = addr(0x1001);
const DAI = addr(0x1002);
const GW1 = addr(0xa001);
const GW2 = addr(0xa002);
const GW3 = addr(0xa003);
const ACC1 = addr(0xb001);
const ACC2 = addr(0xb002);
const ACC3 = addr(0xb003);
const PARTIES = [0, 1, 2, 3, 4, 5].map((i) => addr(0xc000 + i));
const SEPA = keccakId("SEPA:EUR");
const PIX = keccakId("PIX:BRL");
const DEAL_COUNT = 64;
const FLOAT = 1_000_000_000_000n;
const RESOLUTION_WINDOW = 3 * 24 * 3600;
/** A recent dispute (its gateway's window open for days) and one long over. */
const RECENT = Math.floor(Date.now() / 1000);
const LONG_AGO = 1_600_000_000;
/** First 12 bytes of a delegate's lock salt (bytes12 of keccak256("USDT Escrow: lock by delegate")). */
const DELEGATE_PREFIX = keccakId("USDT Escrow: lock by delegate").slice(2, 26);

const dealIdOf = (i: number) => keccakId(`api-test-deal-${i}`);
const txHashOf = (block: number, logIndex: number) => keccakId(`tx-${block}-${logIndex}`);
const blockHashOf = (block: number) => keccakId(`block-${block}`);

/** What the test expects of each deal (a tiny model of the projection). */
type ModelDeal = {
  i: number;
  dealId: string;
  status: DealStatus;
  payer: string;
  payee: string;
  gateway: string;
  token: string;
  amount: bigint;
  deadline: number;
  kind: "payment" | "onramp";
  salt: string;
  releaseWindow: number;
  score: number;
  updatedBlock: number;
  history: { event: string; block: number; logIndex: number }[];
};

type Dist<T> = T extends unknown ? Omit<T, "block" | "blockHash" | "txHash" | "logIndex"> : never;
type EventBody = Dist<ProtocolEvent>;

/** Builds the seed: blocks of events, and the model of every deal. */
function buildSeed(): { blocks: Map<number, ProtocolEvent[]>; deals: ModelDeal[]; lastBlock: number } {
  const blocks = new Map<number, ProtocolEvent[]>();
  const deals: ModelDeal[] = [];
  const at = (block: number, body: EventBody): ProtocolEvent => {
    const list = blocks.get(block) ?? [];
    blocks.set(block, list);
    const logIndex = list.length * 3 + 1; // gaps, as real logs of other contracts would leave
    const event = {
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

const newestFirst = (a: ModelDeal, b: ModelDeal) => b.score - a.score || (a.dealId < b.dealId ? 1 : -1);

/* ------------------------------------------------- helpers ------------------------------------------------- */

type Res = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** A raw request (paths are sent as given: no normalisation, no encoding). */
function raw(
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
function rawSocket(port: number, bytes: Buffer): Promise<Res> {
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

/** A seeded PRNG (mulberry32). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function expectProblem(
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

/* -------------------------------------------------- tests -------------------------------------------------- */

describe("relayer read API", function () {
  const prefix = `test-api-${randomBytes(6).toString("hex")}`;
  let redis: Redis;
  let common: Common;
  let store: Store;
  let server: RunningServer;
  let http: ReturnType<typeof request>;
  let seed: ReturnType<typeof buildSeed>;
  let head: number;
  let readiness: Awaited<ReturnType<Readiness>> | Error = { ready: true, checks: { redis: true, indexer: true } };
  let tokenHealth: TokenHealth[] = [];

  const model = (i: number) => seed.deals[i];
  const allNewestFirst = () => [...seed.deals].sort(newestFirst);

  before(async function () {
    redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const options = parseOptions({
      RPC_URL: "http://127.0.0.1:8545",
      DEPLOYMENT: "none.json",
      REDIS_PREFIX: prefix,
      CONFIRMATIONS: String(CONFIRMATIONS),
      LOG_LEVEL: "silent",
    });
    common = createCommon(options);
    store = createStore({ common, redis, chainId: CHAIN_ID, escrow: ESCROW });
    seed = buildSeed();
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
    // The head is one block past the last one: events of the last block have 2 confirmations (pending at 3).
    head = seed.lastBlock + 1;
    await store.setProgress(head, true);
    const app = createApi({
      common,
      store,
      metaCacheMs: 0,
      resolutionWindow: RESOLUTION_WINDOW,
      tokens: () => tokenHealth,
      readiness: async () => {
        if (readiness instanceof Error) throw readiness;
        return readiness;
      },
    });
    server = await startServer(app, 0, "127.0.0.1");
    http = request(`http://127.0.0.1:${server.port}`);
  });

  after(async function () {
    agent.destroy();
    await server?.close();
    await store?.clear();
    const left = await redis.keys(`${prefix}:*`);
    expect(left).to.deep.equal([]);
    await redis.quit();
  });

  /* -------------------------------------------- GET /v1/deals/{id} -------------------------------------------- */

  describe("GET /v1/deals/{dealId}", function () {
    describe("content", function () {
      it("returns every field of an open deal", async function () {
        const d = model(0);
        const res = await http
          .get(`/v1/deals/${d.dealId}`)
          .expect(200)
          .expect("Content-Type", /^application\/json/);
        expect(res.body).to.deep.include({
          dealId: d.dealId,
          status: "open",
          kind: "payment",
          payer: d.payer,
          payee: d.payee,
          gateway: d.gateway,
          token: d.token,
          amount: d.amount.toString(),
          deadline: d.deadline,
          releaseWindow: 3600,
          feeBps: 50,
          autoRelease: true,
          salt: keccakId("salt-0"),
          ref: keccakId("ref-0"),
          payerReleased: false,
          flags: 0,
          evidence: [],
          openedBlock: 20,
          updatedBlock: 20,
          confirmations: head - 20 + 1,
          finality: "final",
        });
        expect(res.body).not.to.have.any.keys(
          "payeeAmount",
          "fee",
          "refund",
          "refundReason",
          "resolvedBy",
          "disputeRuler",
          "lockedBy",
          "lockExpiry",
        );
        expect(res.body.history).to.have.length(1);
        expect(res.body.history[0]).to.deep.equal({
          event: "DealOpened",
          blockNumber: 20,
          txHash: txHashOf(20, d.history[0].logIndex),
          logIndex: d.history[0].logIndex,
          args: { ref: keccakId("ref-0") },
          confirmations: head - 20 + 1,
          finality: "final",
        });
      });

      it("returns the settlement of a released deal and its whole history in order", async function () {
        const d = model(2);
        const res = await http.get(`/v1/deals/${d.dealId}`).expect(200);
        const fee = (d.amount * 50n) / 10_000n;
        expect(res.body).to.deep.include({
          status: "released",
          payerReleased: true,
          payeeAmount: (d.amount - fee).toString(),
          fee: fee.toString(),
          refund: "0",
          updatedBlock: d.updatedBlock,
        });
        expect(
          res.body.history.map((h: { event: string; blockNumber: number; logIndex: number }) => [
            h.event,
            h.blockNumber,
            h.logIndex,
          ]),
        ).to.deep.equal(d.history.map((h) => [h.event, h.block, h.logIndex]));
      });

      it("returns the reason of a refund and the resolver of a dispute", async function () {
        const refunded = await http.get(`/v1/deals/${model(3).dealId}`).expect(200);
        expect(refunded.body).to.deep.include({
          status: "refunded",
          refundReason: "deadline",
          refund: model(3).amount.toString(),
        });
        const resolved = await http.get(`/v1/deals/${model(4).dealId}`).expect(200);
        expect(resolved.body).to.deep.include({
          status: "resolved",
          resolvedBy: model(4).gateway,
          disputedBy: model(4).payer,
          gatewayHolds: true,
          reasons: keccakId("reasons-4"),
        });
        expect(resolved.body).not.to.have.any.keys("disputeRuler", "resolutionDeadline");
        const disputed = await http.get(`/v1/deals/${model(9).dealId}`).expect(200);
        expect(disputed.body).to.deep.include({ status: "disputed", disputedBy: model(9).payer });
        expect(disputed.body).not.to.have.property("resolvedBy");
      });

      it("says who may rule a disputed deal now, by its gateway's standing read at request time", async function () {
        const ruler = async (i: number) => {
          const res = await http.get(`/v1/deals/${model(i).dealId}`).expect(200);
          return res.body as { disputeRuler: string; resolutionDeadline: number; gatewayHolds: boolean; flags: number };
        };
        expect(await ruler(9)).to.deep.include({
          gatewayHolds: true,
          flags: 2,
          resolutionDeadline: RECENT + RESOLUTION_WINDOW,
          disputeRuler: "gateway",
        });
        // Raised while the gateway could not hold it; and a held one whose window is long over.
        expect(await ruler(19)).to.deep.include({ gatewayHolds: false, flags: 0, disputeRuler: "arbiter" });
        expect(await ruler(29)).to.deep.include({
          gatewayHolds: true,
          resolutionDeadline: LONG_AGO + RESOLUTION_WINDOW,
          disputeRuler: "arbiter",
        });
        // Governance suspends the gateway: its held disputes pass to the arbiter at once (and back on reinstating).
        const gw = store.key(`gw:${model(9).gateway}`);
        await redis.hset(gw, "suspended", "1");
        try {
          expect((await ruler(9)).disputeRuler).to.equal("arbiter");
          const listed = await http.get(`/v1/deals?status=disputed&limit=100`).expect(200);
          const nine = listed.body.data.find((d: { dealId: string }) => d.dealId === model(9).dealId);
          expect(nine.disputeRuler).to.equal("arbiter");
        } finally {
          await redis.hset(gw, "suspended", "0");
        }
        expect((await ruler(9)).disputeRuler).to.equal("gateway");
        const listed = await http.get(`/v1/deals?status=disputed&limit=100`).expect(200);
        expect(listed.body.data.find((d: { dealId: string }) => d.dealId === model(9).dealId).disputeRuler).to.equal(
          "gateway",
        );
      });

      it("lists a disputed deal's evidence with its block and transaction", async function () {
        const d = model(9);
        const res = await http.get(`/v1/deals/${d.dealId}`).expect(200);
        const posted = d.history.filter((h) => h.event === "EvidencePosted");
        expect(res.body.evidence).to.deep.equal([
          {
            by: d.payer,
            contentHash: keccakId("a"),
            uri: "ipfs://a",
            blockNumber: posted[0].block,
            txHash: txHashOf(posted[0].block, posted[0].logIndex),
          },
          {
            by: d.gateway,
            contentHash: keccakId("b"),
            uri: "",
            blockNumber: posted[1].block,
            txHash: txHashOf(posted[1].block, posted[1].logIndex),
          },
        ]);
      });

      it("shows a split deal's shares", async function () {
        const d = model(10);
        const share = (d.amount * 7n) / 10n;
        const fee = (share * 50n) / 10_000n;
        const res = await http.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(res.body).to.deep.include({
          status: "split",
          payeeAmount: (share - fee).toString(),
          fee: fee.toString(),
          refund: (d.amount - share).toString(),
        });
        expect(res.body.history.map((h: { event: string }) => h.event)).to.deep.equal(["DealOpened", "DealSplit"]);
      });

      it("is pending until the latest event has the confirmation depth, per history entry too", async function () {
        const last = seed.deals.filter((d) => d.updatedBlock === seed.lastBlock);
        expect(last).not.to.be.empty;
        const d = last[0];
        const res = await http.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(res.body.confirmations).to.equal(2);
        expect(res.body.finality).to.equal("pending");
        expect(res.body.history[0].finality).to.equal("final");
        expect(res.body.history.at(-1)).to.deep.include({ confirmations: 2, finality: "pending" });
        await store.setProgress(head + 1, true);
        try {
          const later = await http.get(`/v1/deals/${d.dealId}`).expect(200);
          expect(later.body).to.deep.include({ confirmations: 3, finality: "final" });
        } finally {
          await store.setProgress(head, true);
        }
      });

      it("accepts the id in any case and answers in lower case", async function () {
        const d = model(7);
        const res = await http.get(`/v1/deals/0x${d.dealId.slice(2).toUpperCase()}`).expect(200);
        expect(res.body.dealId).to.equal(d.dealId);
      });

      it("counts the locked float of an open on-ramp deal on its acceptor", async function () {
        const d = model(5);
        expect(d.kind).to.equal("onramp");
        const res = await http.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(res.body).to.deep.include({
          kind: "onramp",
          payer: ACC1,
          lockedBy: addr(0xd001),
          lockExpiry: d.deadline + d.releaseWindow + RESOLUTION_WINDOW,
        });
      });
    });

    describe("errors", function () {
      it("answers an unknown deal with a deal-not-found problem", async function () {
        const unknown = keccakId("nope");
        const res = await http.get(`/v1/deals/${unknown}`);
        const body = expectProblem(res, 404, "deal-not-found");
        expect(body.detail).to.contain(unknown);
        expect(body.instance).to.equal(`/v1/deals/${unknown}`);
      });

      for (const bad of [
        "0x1234",
        "abc",
        `0x${"g".repeat(64)}`,
        `0x${"a".repeat(65)}`,
        `${"a".repeat(66)}`,
        `0X${"a".repeat(64)}`,
      ]) {
        it(`refuses the malformed id ${bad.slice(0, 12)}… (length ${bad.length})`, async function () {
          const body = expectProblem(await http.get(`/v1/deals/${bad}`), 400, "invalid-parameter");
          expect(body.errors).to.deep.equal([
            { parameter: "dealId", in: "path", message: "must be 0x followed by 64 hex digits" },
          ]);
          expect(body.detail).to.contain("dealId");
        });
      }

      it("refuses bad percent-encoding in the path with a 400", async function () {
        const res = await raw(server.port, "GET", "/v1/deals/%E0%A4%A");
        expect(res.status).to.equal(400);
        expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
        expect(JSON.parse(res.body).type).to.equal(PROBLEM_BASE + "invalid-parameter");
      });

      it("refuses query parameters it does not take", async function () {
        const body = expectProblem(await http.get(`/v1/deals/${model(0).dealId}?verbose=1`), 400, "invalid-parameter");
        expect(body.errors).to.deep.equal([
          { parameter: "verbose", in: "query", message: "is unknown (this route takes no query parameters)" },
        ]);
      });
    });
  });

  /* ----------------------------------------------- GET /v1/deals ----------------------------------------------- */

  describe("GET /v1/deals", function () {
    /** Follows nextCursor to the end; returns the pages. */
    async function allPages(
      query: string,
    ): Promise<{ dealId: string; status: string; payer: string; payee: string; gateway: string }[][]> {
      const pages = [];
      let cursor: string | null = null;
      for (let n = 0; n < 500; n++) {
        const url: string = `/v1/deals?${query}${cursor ? `&cursor=${cursor}` : ""}`;
        const res = await http.get(url).expect(200);
        pages.push(res.body.data);
        cursor = res.body.nextCursor;
        if (cursor === null) return pages;
        expect(cursor).to.match(/^[A-Za-z0-9_-]+$/);
      }
      throw new Error("pagination does not end");
    }

    describe("listing and pagination", function () {
      it("lists the 20 most recently updated deals by default", async function () {
        const res = await http.get("/v1/deals").expect(200);
        expect(res.body.data.map((d: { dealId: string }) => d.dealId)).to.deep.equal(
          allNewestFirst()
            .slice(0, 20)
            .map((d) => d.dealId),
        );
        expect(res.body.nextCursor).to.be.a("string");
        expect(res.body.data[0]).to.have.property("history").that.is.an("array").and.not.empty;
      });

      for (const limit of [1, 7, 16, 63]) {
        it(`pages through all ${DEAL_COUNT} deals with limit ${limit}: stable order, no duplicates, no gaps`, async function () {
          const pages = await allPages(`limit=${limit}`);
          for (const page of pages.slice(0, -1)) expect(page).to.have.length(limit);
          const ids = pages.flat().map((d) => d.dealId);
          expect(new Set(ids).size).to.equal(ids.length);
          expect(ids).to.deep.equal(allNewestFirst().map((d) => d.dealId));
        });
      }

      it("ends with a null cursor when the last page is exactly full", async function () {
        const pages = await allPages(`limit=16`);
        expect(pages).to.have.length(DEAL_COUNT / 16);
        const one = await http.get(`/v1/deals?limit=100`).expect(200);
        expect(one.body.data).to.have.length(DEAL_COUNT);
        expect(one.body.nextCursor).to.equal(null);
      });

      it("gives the same page for the same cursor", async function () {
        const first = await http.get("/v1/deals?limit=5").expect(200);
        const a = await http.get(`/v1/deals?limit=5&cursor=${first.body.nextCursor}`).expect(200);
        const b = await http.get(`/v1/deals?cursor=${first.body.nextCursor}&limit=5`).expect(200);
        expect(a.body).to.deep.equal(b.body);
        expect(a.body.data.map((d: { dealId: string }) => d.dealId)).to.deep.equal(
          allNewestFirst()
            .slice(5, 10)
            .map((d) => d.dealId),
        );
      });
    });

    describe("filters", function () {
      it("filters by party, as payer and as payee", async function () {
        const party = PARTIES[1];
        const expected = allNewestFirst().filter((d) => d.payer === party || d.payee === party);
        expect(expected.some((d) => d.payer === party)).to.equal(true);
        expect(expected.some((d) => d.payee === party)).to.equal(true);
        const pages = await allPages(`party=${party.toUpperCase().replace("0X", "0x")}&limit=4`);
        expect(pages.flat().map((d) => d.dealId)).to.deep.equal(expected.map((d) => d.dealId));
      });

      it("filters by gateway", async function () {
        const expected = allNewestFirst().filter((d) => d.gateway === GW2);
        const pages = await allPages(`gateway=${GW2}&limit=9`);
        expect(pages.flat().map((d) => d.dealId)).to.deep.equal(expected.map((d) => d.dealId));
        const none = await http.get(`/v1/deals?gateway=${GW3}`).expect(200);
        expect(none.body).to.deep.equal({ data: [], nextCursor: null });
      });

      for (const status of ["open", "performed", "released", "refunded", "disputed", "resolved", "split"] as const) {
        it(`filters by status ${status}`, async function () {
          const expected = allNewestFirst().filter((d) => d.status === status);
          expect(expected).not.to.be.empty;
          const pages = await allPages(`status=${status}&limit=3`);
          expect(pages.flat().map((d) => d.dealId)).to.deep.equal(expected.map((d) => d.dealId));
          for (const d of pages.flat()) expect(d.status).to.equal(status);
        });
      }

      it("combines status with party: scans a bounded number of deals and returns shorter pages with a cursor", async function () {
        const party = PARTIES[4];
        const expected = allNewestFirst().filter(
          (d) => (d.payer === party || d.payee === party) && d.status === "resolved",
        );
        const partyDeals = allNewestFirst().filter((d) => d.payer === party || d.payee === party);
        expect(expected.length).to.be.greaterThan(0);
        const pages = await allPages(`party=${party}&status=resolved&limit=1`);
        expect(pages.flat().map((d) => d.dealId)).to.deep.equal(expected.map((d) => d.dealId));
        // limit 1 scans at most 5 of the party's deals per request.
        expect(pages.length).to.be.at.least(Math.ceil(partyDeals.length / 5));
        expect(pages.some((p) => p.length === 0)).to.equal(true);
        for (const p of pages) expect(p.length).to.be.at.most(1);
      });

      it("combines status with gateway", async function () {
        const expected = allNewestFirst().filter((d) => d.gateway === GW1 && d.status === "open");
        const pages = await allPages(`gateway=${GW1}&status=open&limit=2`);
        expect(pages.flat().map((d) => d.dealId)).to.deep.equal(expected.map((d) => d.dealId));
      });
    });

    describe("validation", function () {
      const cases: [string, string, string][] = [
        ["limit=0", "limit", "must be an integer from 1 to 100"],
        ["limit=101", "limit", "must be an integer from 1 to 100"],
        ["limit=1.5", "limit", "must be an integer from 1 to 100"],
        ["limit=-1", "limit", "must be an integer from 1 to 100"],
        ["limit=1e1", "limit", "must be an integer from 1 to 100"],
        ["limit=abc", "limit", "must be an integer from 1 to 100"],
        ["limit=", "limit", "must be an integer from 1 to 100"],
        ["status=closed", "status", "must be one of open, performed, released, refunded, disputed, resolved, split"],
        ["status=OPEN", "status", "must be one of open, performed, released, refunded, disputed, resolved, split"],
        ["party=0x123", "party", "must be an address: 0x followed by 40 hex digits"],
        [`party=${"ab".repeat(21)}`, "party", "must be an address: 0x followed by 40 hex digits"],
        [`gateway=0x${"zz".repeat(20)}`, "gateway", "must be an address: 0x followed by 40 hex digits"],
        ["cursor=not*base64", "cursor", "must be a cursor returned as nextCursor (base64url)"],
        [`cursor=${"A".repeat(513)}`, "cursor", "must be at most 512 characters"],
        [`cursor=${Buffer.from("not json").toString("base64url")}`, "cursor", "is not a cursor returned by this API"],
        [
          `cursor=${Buffer.from('{"s":-1,"id":"0x","f":"-|-"}').toString("base64url")}`,
          "cursor",
          "is not a cursor returned by this API",
        ],
        [`cursor=${Buffer.from("null").toString("base64url")}`, "cursor", "is not a cursor returned by this API"],
        ["foo=bar", "foo", "is unknown (known: party, gateway, status, cursor, limit)"],
        ["__proto__=x", "__proto__", "is unknown (known: party, gateway, status, cursor, limit)"],
        ["limit=5&limit=6", "limit", "is repeated; give it once"],
        ["status=%E0%A4%A", "status", "has a malformed percent-encoded value"],
      ];
      for (const [query, parameter, message] of cases) {
        it(`refuses ${query.slice(0, 40)}`, async function () {
          const res = await raw(server.port, "GET", `/v1/deals?${query}`);
          const body = expectProblem({ ...res, body: JSON.parse(res.body) }, 400, "invalid-parameter");
          expect(body.errors).to.deep.equal([{ parameter, in: "query", message }]);
          expect(body.detail).to.contain(`"${parameter}"`);
        });
      }

      it("refuses party together with gateway", async function () {
        const body = expectProblem(
          await http.get(`/v1/deals?party=${PARTIES[0]}&gateway=${GW1}`),
          400,
          "invalid-parameter",
        );
        expect(body.errors![0]).to.include({ parameter: "gateway", in: "query" });
        expect(body.errors![0].message).to.contain("party");
      });

      it("lists every invalid parameter at once", async function () {
        const body = expectProblem(await http.get(`/v1/deals?limit=0&status=x&bogus=1`), 400, "invalid-parameter");
        expect(body.errors!.map((e) => e.parameter).sort()).to.deep.equal(["bogus", "limit", "status"]);
      });

      it("refuses a cursor issued for other filters", async function () {
        const first = await http.get(`/v1/deals?limit=2&party=${PARTIES[0]}`).expect(200);
        const cursor = first.body.nextCursor as string;
        for (const other of [`party=${PARTIES[1]}`, "", `party=${PARTIES[0]}&status=open`, `gateway=${GW1}`]) {
          const body = expectProblem(
            await http.get(`/v1/deals?limit=2&cursor=${cursor}${other ? `&${other}` : ""}`),
            400,
            "invalid-parameter",
          );
          expect(body.errors).to.deep.equal([
            { parameter: "cursor", in: "query", message: "was issued for other filters (party, gateway or status)" },
          ]);
        }
        // The same filters in another case are the same filters.
        await http
          .get(`/v1/deals?limit=2&cursor=${cursor}&party=${PARTIES[0].toUpperCase().replace("0X", "0x")}`)
          .expect(200);
      });
    });
  });

  /* ------------------------------------------------ gateways ------------------------------------------------ */

  describe("GET /v1/gateways", function () {
    it("lists every gateway in registration order", async function () {
      const res = await http.get("/v1/gateways").expect(200);
      expect(res.body.data.map((g: { address: string }) => g.address)).to.deep.equal([GW1, GW2, GW3]);
      expect(res.body.data[0]).to.deep.equal({
        address: GW1,
        status: "active",
        suspended: false,
        canRule: true,
        bond: "5000000000",
        feeBps: 50,
        feeCapBps: 300,
        exitAt: 0,
        openDisputes: 0,
        metadata: keccakId(GW1),
        registeredBlock: 10,
        updatedBlock: 10,
        finality: "final",
      });
      expect(res.body.data[2].status).to.equal("pending");
    });

    it("returns one gateway, given in any case", async function () {
      const res = await http.get(`/v1/gateways/${GW2.toUpperCase().replace("0X", "0x")}`).expect(200);
      expect(res.body).to.deep.include({ address: GW2, status: "active", feeCapBps: 200 });
    });

    it("answers an unknown gateway with gateway-not-found and a bad address with 400", async function () {
      expectProblem(await http.get(`/v1/gateways/${addr(0xdead)}`), 404, "gateway-not-found");
      const body = expectProblem(await http.get(`/v1/gateways/0x12`), 400, "invalid-parameter");
      expect(body.errors).to.deep.equal([
        { parameter: "address", in: "path", message: "must be an address: 0x followed by 40 hex digits" },
      ]);
      expectProblem(await http.get(`/v1/gateways?x=1`), 400, "invalid-parameter");
    });
  });

  /* ------------------------------------------------ acceptors ------------------------------------------------ */

  describe("GET /v1/acceptors", function () {
    const addresses = (res: request.Response) => res.body.data.map((a: { address: string }) => a.address);

    it("lists every acceptor in registration order", async function () {
      const res = await http.get("/v1/acceptors").expect(200);
      expect(addresses(res)).to.deep.equal([ACC1, ACC2, ACC3]);
    });

    it("filters by payment method given by name (hashed) or by id in any case", async function () {
      expect(addresses(await http.get("/v1/acceptors?method=SEPA:EUR").expect(200))).to.deep.equal([ACC1, ACC2]);
      expect(
        addresses(await http.get(`/v1/acceptors?method=${encodeURIComponent("PIX:BRL")}`).expect(200)),
      ).to.deep.equal([ACC2, ACC3]);
      expect(addresses(await http.get(`/v1/acceptors?method=${SEPA}`).expect(200))).to.deep.equal([ACC1, ACC2]);
      expect(
        addresses(await http.get(`/v1/acceptors?method=0x${PIX.slice(2).toUpperCase()}`).expect(200)),
      ).to.deep.equal([ACC2, ACC3]);
      expect(addresses(await http.get("/v1/acceptors?method=ACH:USD").expect(200))).to.deep.equal([]);
      expect(addresses(await http.get("/v1/acceptors?method=sepa:eur").expect(200))).to.deep.equal([]);
    });

    it("filters by token (limits or float) and by status", async function () {
      expect(addresses(await http.get(`/v1/acceptors?token=${USDT}`).expect(200))).to.deep.equal([ACC1]);
      expect(addresses(await http.get(`/v1/acceptors?token=${DAI}`).expect(200))).to.deep.equal([ACC2]);
      expect(addresses(await http.get(`/v1/acceptors?token=${addr(0x9999)}`).expect(200))).to.deep.equal([]);
      expect(addresses(await http.get("/v1/acceptors?status=active").expect(200))).to.deep.equal([ACC1, ACC2]);
      expect(addresses(await http.get("/v1/acceptors?status=suspended").expect(200))).to.deep.equal([ACC3]);
      expect(addresses(await http.get("/v1/acceptors?status=active&method=PIX:BRL").expect(200))).to.deep.equal([ACC2]);
      expect(
        addresses(await http.get(`/v1/acceptors?status=active&method=SEPA:EUR&token=${DAI}`).expect(200)),
      ).to.deep.equal([ACC2]);
    });

    it("returns one acceptor with limits and free and locked float per token", async function () {
      const onramp = model(5);
      const res = await http.get(`/v1/acceptors/${ACC1}`).expect(200);
      expect(res.body).to.deep.equal({
        address: ACC1,
        status: "active",
        gateway: GW1,
        lockDelegate: addr(0xd001),
        methods: [SEPA],
        tokens: [
          {
            token: USDT,
            minAmount: "10000000",
            maxAmount: "50000000000",
            free: (FLOAT - onramp.amount).toString(),
            locked: onramp.amount.toString(),
          },
        ],
        registeredBlock: 11,
        // The on-ramp lock (its deal's open) is the acceptor's latest change: float moves count as updates.
        updatedBlock: onramp.updatedBlock,
        finality: "final",
      });
      const two = await http.get(`/v1/acceptors/${ACC2.toUpperCase().replace("0X", "0x")}`).expect(200);
      expect(two.body.methods).to.deep.equal([SEPA, PIX].sort());
      expect(two.body.tokens).to.deep.equal([{ token: DAI, minAmount: "1", maxAmount: "2", free: "0", locked: "0" }]);
    });

    it("validates method, token, status and the address", async function () {
      const cases: [string, string, string][] = [
        ["method=0x1234", "method", "a method id must be 0x followed by 64 hex digits"],
        ["method=", "method", "a method name must be 1 to 64 printable ASCII characters (or pass a bytes32 id)"],
        [
          `method=${"A".repeat(65)}`,
          "method",
          "a method name must be 1 to 64 printable ASCII characters (or pass a bytes32 id)",
        ],
        ["method=%C3%A9", "method", "a method name must be 1 to 64 printable ASCII characters (or pass a bytes32 id)"],
        ["token=usdt", "token", "must be an address: 0x followed by 40 hex digits"],
        ["status=open", "status", "must be one of pending, active, suspended"],
        ["limit=5", "limit", "is unknown (known: method, token, status)"],
        ["method=SEPA:EUR&method=PIX:BRL", "method", "is repeated; give it once"],
      ];
      for (const [query, parameter, message] of cases) {
        const body = expectProblem(await http.get(`/v1/acceptors?${query}`), 400, "invalid-parameter");
        expect(body.errors, query).to.deep.equal([{ parameter, in: "query", message }]);
      }
      expectProblem(await http.get(`/v1/acceptors/${addr(0xbeef)}`), 404, "acceptor-not-found");
      expectProblem(await http.get(`/v1/acceptors/nope`), 400, "invalid-parameter");
    });
  });

  /* ------------------------------------------ operations endpoints ------------------------------------------ */

  describe("health, readiness, metrics", function () {
    it("GET /v1/health is 200 while the process is up, with what the token monitor last saw", async function () {
      const res = await http
        .get("/v1/health")
        .expect(200)
        .expect("Content-Type", /^application\/json/);
      expect(res.body).to.deep.equal({ status: "ok", tokens: [] });
      tokenHealth = [
        { token: USDT, allowed: true, escrowBlacklisted: true, paused: false, checkedAt: 1_700_000_000_000 },
        { token: DAI, allowed: false, escrowBlacklisted: null, paused: null, checkedAt: 1_700_000_000_001 },
      ];
      try {
        expect((await http.get("/v1/health").expect(200)).body).to.deep.equal({ status: "ok", tokens: tokenHealth });
      } finally {
        tokenHealth = [];
      }
    });

    it("GET /v1/ready is 200 when ready, 503 not-ready with the checks otherwise", async function () {
      readiness = { ready: true, checks: { redis: true, indexer: true } };
      expect((await http.get("/v1/ready").expect(200)).body).to.deep.equal({
        ready: true,
        checks: { redis: true, indexer: true },
      });
      readiness = { ready: false, checks: { redis: true, indexer: "backfilling" } };
      try {
        const body = expectProblem(await http.get("/v1/ready"), 503, "not-ready");
        expect(body).to.deep.include({ ready: false, checks: { redis: true, indexer: "backfilling" } });
        expect(body.detail).to.contain("indexer");
        readiness = new Error("secret internals");
        const failed = expectProblem(await http.get("/v1/ready"), 503, "not-ready");
        expect(failed.checks).to.deep.equal({ readiness: "the readiness check failed" });
        expect(JSON.stringify(failed)).not.to.contain("secret");
      } finally {
        readiness = { ready: true, checks: { redis: true, indexer: true } };
      }
    });

    it("GET /metrics serves the request histogram labelled by route pattern, never by raw URL", async function () {
      await http.get(`/v1/deals/${model(1).dealId}`).expect(200);
      await http.get(`/v1/gateways/${addr(0xdead)}`).expect(404);
      await http.get(`/v1/no/such/route`).expect(404);
      const res = await http
        .get("/metrics")
        .expect(200)
        .expect("Content-Type", /^text\/plain/);
      expect(res.text).to.contain("# TYPE relayer_http_request_duration_seconds histogram");
      expect(res.text).to.match(
        /relayer_http_request_duration_seconds_bucket\{le="[0-9.]+",method="GET",route="\/v1\/deals\/:dealId",status="200"\}/,
      );
      expect(res.text).to.match(
        /relayer_http_request_duration_seconds_count\{method="GET",route="\/v1\/gateways\/:address",status="404"\} [1-9]/,
      );
      expect(res.text).to.match(/route="unmatched",status="404"/);
      expect(res.text).not.to.contain(model(1).dealId);
      expect(res.text).not.to.contain("no/such");
    });
  });

  /* ------------------------------------------------- OpenAPI ------------------------------------------------- */

  describe("GET /v1/openapi.json", function () {
    type Doc = {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { name: string; in: string; required?: boolean; schema: unknown }[];
            responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
          }
        >
      >;
      components: {
        schemas: Record<string, { type?: string; properties?: Record<string, unknown>; required?: string[] }>;
      };
    };
    let doc: Doc;

    before(async function () {
      const res = await http
        .get("/v1/openapi.json")
        .expect(200)
        .expect("Content-Type", /^application\/json/);
      doc = res.body;
    });

    it("is an OpenAPI 3.1 document with info, paths and components", function () {
      expect(doc.openapi).to.match(/^3\.1\.\d+$/);
      expect(doc.info.title).to.be.a("string").and.not.empty;
      expect(doc.info.version).to.be.a("string").and.not.empty;
      expect(doc).to.deep.equal(JSON.parse(JSON.stringify(buildOpenApiDocument())));
    });

    it("documents every route the app serves, with a 200 and problem responses", function () {
      const expected = [
        "/v1/deals/{dealId}",
        "/v1/deals",
        "/v1/gateways",
        "/v1/gateways/{address}",
        "/v1/acceptors",
        "/v1/acceptors/{address}",
        "/v1/health",
        "/v1/ready",
        "/metrics",
        "/v1/openapi.json",
      ];
      expect(Object.keys(doc.paths).sort()).to.deep.equal([...expected].sort());
      expect(ROUTES.map((r) => r.path).sort()).to.deep.equal([...expected].sort());
      for (const path of expected) {
        const op = doc.paths[path].get;
        expect(op, path).to.be.an("object");
        expect(op.responses["200"], path).to.be.an("object");
        for (const status of ["400", "405", "500"]) {
          expect(op.responses[status].content!["application/problem+json"].schema, `${path} ${status}`).to.deep.equal({
            $ref: "#/components/schemas/Problem",
          });
        }
        for (const name of path.match(/\{(\w+)\}/g) ?? []) {
          const param = op.parameters!.find((p) => p.name === name.slice(1, -1));
          expect(param, `${path} ${name}`).to.deep.include({ in: "path", required: true });
        }
      }
      expect(
        doc.paths["/v1/deals/{dealId}"].get.responses["404"].content!["application/problem+json"].schema,
      ).to.deep.equal({
        $ref: "#/components/schemas/Problem",
      });
      expect(doc.paths["/v1/ready"].get.responses["503"]).to.be.an("object");
      const listParams = doc.paths["/v1/deals"].get.parameters!.map((p) => `${p.in}:${p.name}`).sort();
      expect(listParams).to.deep.equal(["query:cursor", "query:gateway", "query:limit", "query:party", "query:status"]);
      const accParams = doc.paths["/v1/acceptors"].get.parameters!.map((p) => `${p.in}:${p.name}`).sort();
      expect(accParams).to.deep.equal(["query:method", "query:status", "query:token"]);
    });

    it("has DealView and Problem components, and every $ref resolves", function () {
      const deal = doc.components.schemas.DealView;
      expect(deal.type).to.equal("object");
      for (const field of [
        "status",
        "payer",
        "payee",
        "gateway",
        "token",
        "amount",
        "deadline",
        "confirmations",
        "finality",
        "history",
      ]) {
        expect(deal.properties, field).to.have.property(field);
        expect(deal.required, field).to.include(field);
      }
      const problem = doc.components.schemas.Problem;
      expect(problem.required).to.include.members(["type", "title", "status", "detail"]);
      const refs: string[] = [];
      const walk = (node: unknown) => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === "object") {
          for (const [k, v] of Object.entries(node)) {
            if (k === "$ref") refs.push(v as string);
            else walk(v);
          }
        }
      };
      walk(doc);
      expect(refs).not.to.be.empty;
      for (const ref of refs) {
        const m = /^#\/components\/schemas\/(\w+)$/.exec(ref);
        expect(m, ref).to.not.equal(null);
        expect(doc.components.schemas, ref).to.have.property(m![1]);
      }
    });

    /** Checks a value against a schema of the document (the subset of JSON Schema the generator emits). */
    function conforms(value: unknown, schema: Record<string, unknown>, at: string, open = false): string[] {
      const ref = schema.$ref as string | undefined;
      if (ref)
        return conforms(value, doc.components.schemas[ref.split("/").pop()!] as Record<string, unknown>, at, open);
      const errors: string[] = [];
      if (schema.allOf)
        for (const s of schema.allOf as Record<string, unknown>[]) errors.push(...conforms(value, s, at, true));
      if (schema.anyOf) {
        const options = (schema.anyOf as Record<string, unknown>[]).map((s) => conforms(value, s, at));
        if (options.every((o) => o.length > 0)) errors.push(`${at}: matches no anyOf option`);
      }
      if (schema.enum && !(schema.enum as unknown[]).includes(value))
        errors.push(`${at}: ${String(value)} not in enum`);
      const types = schema.type === undefined ? [] : ([] as string[]).concat(schema.type as string);
      const typeOf = (v: unknown) =>
        v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v;
      if (
        types.length > 0 &&
        !types.some((t) => t === typeOf(value) || (t === "number" && typeof value === "number"))
      ) {
        errors.push(`${at}: ${typeOf(value)} is not ${types.join("|")}`);
      }
      if (typeof value === "string" && typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(value)) {
        errors.push(`${at}: does not match ${schema.pattern}`);
      }
      if (Array.isArray(value) && schema.items) {
        value.forEach((v, i) => errors.push(...conforms(v, schema.items as Record<string, unknown>, `${at}[${i}]`)));
      }
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
        for (const key of (schema.required ?? []) as string[])
          if (!(key in value)) errors.push(`${at}.${key}: missing`);
        for (const [key, v] of Object.entries(value)) {
          if (properties[key]) errors.push(...conforms(v, properties[key], `${at}.${key}`));
          else if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
            errors.push(...conforms(v, schema.additionalProperties as Record<string, unknown>, `${at}.${key}`));
          } else if (schema.properties && !open) errors.push(`${at}.${key}: not documented`);
        }
      }
      return errors;
    }

    it("describes what the routes actually answer", async function () {
      const samples: [string, number, string][] = [
        ...[0, 2, 3, 4, 5, 9].map((i): [string, number, string] => [
          `/v1/deals/${model(i).dealId}`,
          200,
          "/v1/deals/{dealId}",
        ]),
        ["/v1/deals?limit=100", 200, "/v1/deals"],
        [`/v1/deals?party=${PARTIES[2]}&status=open&limit=1`, 200, "/v1/deals"],
        ["/v1/gateways", 200, "/v1/gateways"],
        [`/v1/gateways/${GW3}`, 200, "/v1/gateways/{address}"],
        ["/v1/acceptors", 200, "/v1/acceptors"],
        [`/v1/acceptors/${ACC1}`, 200, "/v1/acceptors/{address}"],
        ["/v1/health", 200, "/v1/health"],
        ["/v1/ready", 200, "/v1/ready"],
        [`/v1/deals/${keccakId("x")}`, 404, "/v1/deals/{dealId}"],
        ["/v1/deals?limit=0&x=1", 400, "/v1/deals"],
        [`/v1/acceptors/${addr(1)}`, 404, "/v1/acceptors/{address}"],
      ];
      for (const [url, status, path] of samples) {
        const res = await http.get(url).expect(status);
        const content = doc.paths[path].get.responses[String(status)].content!;
        const schema = (content["application/json"] ?? content["application/problem+json"]).schema as Record<
          string,
          unknown
        >;
        expect(conforms(res.body, schema, url)).to.deep.equal([]);
      }
      readiness = { ready: false, checks: { redis: false } };
      try {
        const res = await http.get("/v1/ready").expect(503);
        const schema = doc.paths["/v1/ready"].get.responses["503"].content!["application/problem+json"].schema;
        expect(conforms(res.body, schema as Record<string, unknown>, "ready")).to.deep.equal([]);
      } finally {
        readiness = { ready: true, checks: { redis: true, indexer: true } };
      }
    });

    it("documents finality and the method name hashing", function () {
      const text = JSON.stringify(doc);
      expect(text).to.contain("pending");
      expect(text).to.contain("final");
      expect(doc.paths["/v1/deals"].get).to.have.property("description").that.contains("fewer than `limit`");
      expect(JSON.stringify(doc.paths["/v1/acceptors"])).to.contain("keccak256");
    });
  });

  /* ------------------------------------------------- errors ------------------------------------------------- */

  describe("protocol errors", function () {
    it("answers unknown routes with a not-found problem", async function () {
      for (const path of ["/v1/nope", "/", "/v2/deals", "/v1/deals/0x12/extra", "/v1/gateways/a/b"]) {
        const body = expectProblem(await http.get(path), 404, "not-found");
        expect(body.instance).to.equal(path);
      }
    });

    it("answers other methods with 405 and Allow", async function () {
      for (const method of ["post", "put", "patch", "delete"] as const) {
        for (const path of [`/v1/deals/${model(0).dealId}`, "/v1/deals", "/metrics", "/v1/health"]) {
          const res = await http[method](path);
          expectProblem(res, 405, "method-not-allowed");
          expect(res.headers.allow).to.equal("GET, HEAD, OPTIONS");
        }
      }
    });

    it("answers OPTIONS with 204 and Allow, HEAD like GET without a body", async function () {
      const options = await http.options("/v1/deals").expect(204);
      expect(options.headers.allow).to.equal("GET, HEAD, OPTIONS");
      const head = await raw(server.port, "HEAD", `/v1/deals/${model(0).dealId}`);
      expect(head.status).to.equal(200);
      expect(head.body).to.equal("");
      expect(head.headers["content-type"]).to.match(/^application\/json/);
    });

    it("does not announce express", async function () {
      const res = await http.get("/v1/health").expect(200);
      expect(res.headers).not.to.have.property("x-powered-by");
    });

    it("answers a malformed JSON body with 400 and a huge one with 413", async function () {
      const bad = await http.get("/v1/health").set("Content-Type", "application/json").send('{"a":');
      expectProblem(bad, 400, "malformed-request");
      const post = await http.post("/v1/deals").set("Content-Type", "application/json").send("{nope");
      expectProblem(post, 400, "malformed-request");
      const huge = await http
        .post("/v1/deals")
        .set("Content-Type", "application/json")
        .send(`{"a":"${"x".repeat(200_000)}"}`);
      expectProblem(huge, 413, "payload-too-large");
    });

    it("answers a URL over the limit with 414 and a request head over node's limit with 431", async function () {
      const long = await raw(server.port, "GET", `/v1/deals?party=${"a".repeat(MAX_URL_LENGTH)}`);
      expect(long.status).to.equal(414);
      expect(long.headers["content-type"]).to.match(/^application\/problem\+json/);
      expect(JSON.parse(long.body).type).to.equal(PROBLEM_BASE + "uri-too-long");
      const huge = await rawSocket(
        server.port,
        Buffer.from(`GET /v1/deals?x=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
      );
      expect(huge.status).to.equal(431);
      expect(huge.headers["content-type"]).to.match(/^application\/problem\+json/);
      expect(JSON.parse(huge.body)).to.include({ type: PROBLEM_BASE + "headers-too-large", status: 431 });
      const garbage = await rawSocket(server.port, Buffer.from("NONSENSE\r\n\r\n"));
      expect(garbage.status).to.equal(400);
      expect(JSON.parse(garbage.body)).to.include({ type: PROBLEM_BASE + "malformed-request", status: 400 });
    });

    it("answers a store outage with 503 unavailable and a bug with a 500 that leaks nothing", async function () {
      const closed = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true });
      await closed.connect();
      await closed.quit();
      const deadStore = createStore({ common, redis: closed, chainId: CHAIN_ID, escrow: ESCROW });
      const down = request(
        createApi({
          common,
          store: deadStore,
          resolutionWindow: RESOLUTION_WINDOW,
          readiness: async () => ({ ready: false, checks: {} }),
        }),
      );
      const res = await down.get(`/v1/deals/${model(0).dealId}`);
      expectProblem(res, 503, "unavailable");
      expect(res.headers["retry-after"]).to.equal("1");

      const buggy: Store = {
        ...store,
        getDeal: async () => Promise.reject(new TypeError("secret internals at /srv/app.js:1")),
      };
      const bug = request(
        createApi({
          common,
          store: buggy,
          resolutionWindow: RESOLUTION_WINDOW,
          readiness: async () => ({ ready: true, checks: {} }),
        }),
      );
      const failed = await bug.get(`/v1/deals/${model(0).dealId}`);
      const body = expectProblem(failed, 500, "internal");
      expect(JSON.stringify(body)).not.to.match(/secret|app\.js|TypeError|stack/);
    });

    it("caches the head for META_CACHE_MS by default", async function () {
      const cachedApi = request(
        createApi({
          common,
          store,
          resolutionWindow: RESOLUTION_WINDOW,
          readiness: async () => ({ ready: true, checks: {} }),
        }),
      );
      const d = model(1);
      const first = await cachedApi.get(`/v1/deals/${d.dealId}`).expect(200);
      await store.setProgress(head + 10, true);
      try {
        const soon = await cachedApi.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(soon.body.confirmations).to.equal(first.body.confirmations);
        await new Promise((r) => setTimeout(r, 300));
        const later = await cachedApi.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(later.body.confirmations).to.equal(first.body.confirmations + 10);
      } finally {
        await store.setProgress(head, true);
      }
    });

    it("closes with idle keep-alive connections open", async function () {
      const app = createApi({
        common,
        store,
        resolutionWindow: RESOLUTION_WINDOW,
        readiness: async () => ({ ready: true, checks: {} }),
      });
      const other = await startServer(app, 0, "127.0.0.1");
      const keepAlive = new Agent({ keepAlive: true });
      await new Promise<void>((resolve, reject) => {
        httpRequest({ host: "127.0.0.1", port: other.port, path: "/v1/health", agent: keepAlive }, (res) => {
          res.resume();
          res.on("end", resolve);
        })
          .on("error", reject)
          .end();
      });
      const started = Date.now();
      await other.close();
      expect(Date.now() - started).to.be.below(1000);
      keepAlive.destroy();
    });
  });

  /* -------------------------------------------------- fuzz -------------------------------------------------- */

  describe("store keys", function () {
    it("puts every key under <prefix>:{<chainId>:<first 8 hex digits of the escrow>}:", async function () {
      expect(store.keyPrefix).to.equal(`${prefix}:{${CHAIN_ID}:${ESCROW.slice(2, 10).toLowerCase()}}:`);
      const keys = await redis.keys(`${prefix}:*`);
      expect(keys.length).to.be.greaterThan(seed.deals.length);
      for (const key of keys) expect(key.startsWith(store.keyPrefix)).to.equal(true, key);
    });

    it("stores deal hashes with short field names and serves the logical ones", async function () {
      const d = model(0);
      const raw = await redis.hgetall(store.key(`deal:${d.dealId}`));
      expect(raw.s).to.equal((await store.getDeal(d.dealId))!.deal.status);
      expect(Object.keys(raw)).to.not.include("status");
      for (const field of Object.keys(raw)) expect(Object.values(DEAL_FIELDS)).to.include(field);
      const stored = Object.values(DEAL_FIELDS);
      expect(new Set(stored).size).to.equal(stored.length, "stored names are distinct");
    });

    it("claims the keys for one escrow and refuses another escrow with the same key tag", async function () {
      await store.claim();
      await store.claim(); // idempotent
      expect(await redis.hget(store.key("meta"), "owner")).to.equal(`${CHAIN_ID}:${ESCROW.toLowerCase()}`);
      const lookalike = ESCROW.slice(0, 10) + "00".repeat(16);
      const other = createStore({ common, redis, chainId: CHAIN_ID, escrow: lookalike });
      expect(other.keyPrefix).to.equal(store.keyPrefix);
      let error: unknown;
      await other.claim().catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(NamespaceTaken);
      expect((error as Error).message)
        .to.include(ESCROW.toLowerCase())
        .and.include("REDIS_PREFIX");
      // another chain id has its own keys
      const otherChain = createStore({ common, redis, chainId: CHAIN_ID + 1, escrow: lookalike });
      expect(otherChain.keyPrefix).to.not.equal(store.keyPrefix);
      await otherChain.claim();
      await otherChain.clear();
    });
  });

  describe("fuzz", function () {
    const FUZZ_REQUESTS = 2500;
    const FUZZ_SEED = 0xe5c0;

    it(`answers ${FUZZ_REQUESTS} malformed requests with < 500, and every error as problem+json`, async function () {
      const rand = mulberry32(FUZZ_SEED);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
      const int = (n: number) => Math.floor(rand() * n);
      const validCursor = (await http.get("/v1/deals?limit=3").expect(200)).body.nextCursor as string;
      const atoms = [
        "",
        "0x",
        model(0).dealId,
        model(0).dealId.toUpperCase(),
        PARTIES[1],
        GW1,
        "open",
        "resolved",
        "SEPA:EUR",
        "1",
        "100",
        "101",
        "-5",
        "1e3",
        "NaN",
        "null",
        "true",
        "[]",
        "{}",
        "%",
        "%%",
        "%zz",
        "%E0%A4%A",
        "%C3%28",
        "%ED%A0%80",
        "%00",
        "%2F",
        "%2e%2e",
        "..",
        "//",
        "%F0%9F%92%A9",
        "%C3%A9",
        "+",
        "=",
        "&",
        "__proto__",
        "constructor",
        "toString",
        validCursor,
        validCursor.slice(0, 10),
        Buffer.from('{"s":1,"id":"x"}').toString("base64url"),
      ];
      const names = [
        "party",
        "gateway",
        "status",
        "cursor",
        "limit",
        "method",
        "token",
        "foo",
        "__proto__",
        "constructor",
        "PARTY",
        "limit[]",
        "a%5Bb%5D",
        "%E0%A4%A",
        "",
      ];
      const bases = [
        "/v1",
        "/v1/deals",
        "/v1/deals/",
        "/v1/gateways",
        "/v1/gateways/",
        "/v1/acceptors",
        "/v1/acceptors/",
        "/v1/health",
        "/v1/ready",
        "/metrics",
        "/v1/openapi.json",
        "",
        "/v1//deals",
        "/V1/DEALS",
      ];
      const methods = [
        "GET",
        "GET",
        "GET",
        "GET",
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "DELETE",
        "PATCH",
        "OPTIONS",
        "PROPFIND",
        "TRACE",
      ];
      const token = (): string => {
        const r = rand();
        if (r < 0.5) return pick(atoms);
        if (r < 0.7) return Array.from({ length: 1 + int(5) }, () => pick(atoms)).join("");
        if (r < 0.8) {
          const codePoint = () => {
            const c = 0x80 + int(0x2ffff);
            return c >= 0xd800 && c <= 0xdfff ? c + 0x800 : c; // no lone surrogates: they have no UTF-8
          };
          return encodeURIComponent(String.fromCodePoint(...Array.from({ length: 1 + int(4) }, codePoint)));
        }
        if (r < 0.9) return "a".repeat(int(3) === 0 ? 9000 : 1 + int(2000));
        return Array.from({ length: 1 + int(30) }, () => String.fromCharCode(0x21 + int(0x5e)))
          .join("")
          .replace(/[#?]/g, "_");
      };
      type Case = { method: string; path: string; rawUnicode?: boolean };
      const cases: Case[] = [];
      for (let n = 0; n < FUZZ_REQUESTS; n++) {
        let path = pick(bases);
        if (path.endsWith("/") || rand() < 0.3) path += token();
        if (rand() < 0.15) path += `/${token()}`;
        if (rand() < 0.7) {
          const params = Array.from({ length: int(5) }, () => {
            const name = rand() < 0.8 ? pick(names) : token();
            return rand() < 0.1 ? name : `${name}=${token()}`;
          });
          if (rand() < 0.2 && params.length > 0) params.push(params[0]);
          path += `?${params.join(pick(["&", "&", "&&", ";"]))}`;
        }
        cases.push({
          method: pick(methods),
          path: path.startsWith("/") ? path : `/${path}`,
          rawUnicode: rand() < 0.03,
        });
      }

      const failures: string[] = [];
      const statuses = new Map<number, number>();
      const check = (c: Case, res: Res) => {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const where = `${c.method} ${c.path.slice(0, 120)} → ${res.status}`;
        if (res.status >= 500) failures.push(`${where}: ${res.body.slice(0, 200)}`);
        if (res.status >= 400) {
          if (!/^application\/problem\+json/.test(String(res.headers["content-type"])))
            failures.push(`${where}: content-type ${res.headers["content-type"]}`);
          if (c.method !== "HEAD") {
            try {
              const body = JSON.parse(res.body);
              if (typeof body.type !== "string" || !body.type.startsWith(PROBLEM_BASE) || body.status !== res.status) {
                failures.push(`${where}: bad problem ${res.body.slice(0, 200)}`);
              }
            } catch {
              failures.push(`${where}: not JSON ${res.body.slice(0, 200)}`);
            }
          }
        }
      };
      let next = 0;
      const worker = async () => {
        while (next < cases.length) {
          const c = cases[next++];
          let res: Res;
          if (c.rawUnicode) {
            const path = c.path + "é€😀";
            res = await rawSocket(
              server.port,
              Buffer.from(`${c.method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, "utf8"),
            );
          } else {
            try {
              res = await raw(server.port, c.method, c.path);
            } catch (error) {
              failures.push(`${c.method} ${c.path.slice(0, 120)}: ${(error as Error).message}`);
              continue;
            }
          }
          check(c, res);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      expect(failures, failures.slice(0, 10).join("\n")).to.deep.equal([]);
      // The fuzz reached both the validation and the routing: many 400s and 404s, some successes.
      expect(statuses.get(400) ?? 0).to.be.greaterThan(200);
      expect(statuses.get(404) ?? 0).to.be.greaterThan(100);
      expect(statuses.get(200) ?? 0).to.be.greaterThan(10);
    });
  });
});
