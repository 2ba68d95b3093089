/**
 * Several chains from one Redis (relayer/src/chains.ts; spec: chains.tree): two Hardhat nodes with different chain
 * ids, the protocol deployed on each, one relayer per chain in-process with the same REDIS_PREFIX (and the same
 * signer key), and one API answering for both. REDIS_CLUSTER, when set (the cluster suite), is passed through.
 */
import { expect } from "chai";
import { toBeHex } from "ethers";
import { createCommon } from "../../relayer/src/common";
import { parseOptions } from "../../relayer/src/options";
import { createStore } from "../../relayer/src/store/store";
import { createAvailability } from "../../relayer/src/api/availability";
import { chainsKey, createChains, parseChainEntry, registerChain, type ChainEntry } from "../../relayer/src/chains";
import { testRedis } from "../support/redis";
import { freshPrefix } from "./support/indexer";
import { nextSalt } from "./support/activity";
import { startWriteRelayer, type WriteRelayer } from "./support/write";

const CHAIN_A = 31337;
const CHAIN_B = 31338;
const WAIT_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type DealJson = { dealId: string; chainId: number; status: string };

describe("relayer: several chains on one Redis", function () {
  this.timeout(300_000);
  let a: WriteRelayer;
  let b: WriteRelayer;
  /** A deal on chain A only, one on chain B only, and one id on both (same payer and salt). */
  let onlyA: string;
  let onlyB: string;
  let both: string;

  /** Every page of GET /v1/deals (on relayer `w`, with `query`), following nextCursor. */
  const allPages = async (w: WriteRelayer, query: string): Promise<DealJson[]> => {
    const out: DealJson[] = [];
    let cursor: string | null = null;
    do {
      const res = await w.http.get(`/v1/deals?${query}${cursor === null ? "" : `&cursor=${cursor}`}`).expect(200);
      out.push(...(res.body.data as DealJson[]));
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null);
    return out;
  };

  before(async () => {
    const cluster: Record<string, string> = process.env.REDIS_CLUSTER
      ? { REDIS_CLUSTER: process.env.REDIS_CLUSTER }
      : {};
    a = await startWriteRelayer("chains-a", cluster);
    // Chain B's relayer: the same Redis prefix and the same signer key (its nonces must stay per chain).
    const key = a.options.RELAYER_KEY!;
    b = await startWriteRelayer(
      "chains-b",
      { ...cluster, REDIS_PREFIX: a.options.REDIS_PREFIX!, RELAYER_KEY: key },
      { chainId: CHAIN_B },
    );
    await b.p.provider.send("hardhat_setBalance", [a.signer, toBeHex(10n ** 20n)]);
    expect(a.relayer.chainId).to.equal(CHAIN_A);
    expect(b.relayer.chainId).to.equal(CHAIN_B);

    onlyA = (await a.openDeal()).dealId;
    onlyB = (await b.openDeal()).dealId;
    const salt = nextSalt();
    both = (await a.openDeal({ salt })).dealId;
    expect((await b.openDeal({ salt })).dealId).to.equal(both);
  });

  after(async () => {
    await b?.stop();
    await a?.stop();
  });

  it("at start → each relayer registers its chain; GET /v1/chains on either lists both, its own first", async function () {
    for (const [w, own, other] of [
      [a, CHAIN_A, CHAIN_B],
      [b, CHAIN_B, CHAIN_A],
    ] as const) {
      const res = await w.http.get("/v1/chains").expect(200);
      const chains = res.body.data as {
        chainId: number;
        own: boolean;
        available: boolean;
        indexedBlock: number;
        escrow: string;
      }[];
      expect(chains.map((c) => [c.chainId, c.own])).to.deep.equal([
        [own, true],
        [other, false],
      ]);
      for (const c of chains) {
        expect(c.available, JSON.stringify(c)).to.equal(true);
        expect(c.indexedBlock).to.be.a("number");
      }
      expect(chains[0].escrow).to.equal((await w.p.escrow.getAddress()).toLowerCase());
    }
  });

  it("GET /v1/deals without chainId → every chain's deals with their chainId, own chain first", async function () {
    for (const w of [a, b]) {
      const res = await w.http.get("/v1/deals?limit=100").expect(200);
      const deals = res.body.data as DealJson[];
      const pairs = deals.map((d) => `${d.chainId}:${d.dealId}`);
      expect(pairs).to.include.members([
        `${CHAIN_A}:${onlyA}`,
        `${CHAIN_B}:${onlyB}`,
        `${CHAIN_A}:${both}`,
        `${CHAIN_B}:${both}`,
      ]);
      const own = w.relayer.chainId;
      const firstOther = deals.findIndex((d) => d.chainId !== own);
      expect(deals.slice(firstOther).every((d) => d.chainId !== own)).to.equal(true);
    }
  });

  it("paged with limit=1 → every deal exactly once, the same list as one page", async function () {
    const whole = (await a.http.get("/v1/deals?limit=100").expect(200)).body.data as DealJson[];
    const paged = await allPages(a, "limit=1");
    expect(paged.map((d) => `${d.chainId}:${d.dealId}`)).to.deep.equal(whole.map((d) => `${d.chainId}:${d.dealId}`));
    // A filtered list pages the same way.
    const open = await allPages(a, "status=open&limit=1");
    expect(open.length).to.equal(whole.filter((d) => d.status === "open").length);
  });

  it("GET /v1/deals with chainId → that chain's deals only", async function () {
    const onB = await allPages(a, `chainId=${CHAIN_B}&limit=2`);
    expect(onB.map((d) => d.dealId)).to.include.members([onlyB, both]);
    expect(onB.every((d) => d.chainId === CHAIN_B)).to.equal(true);
    const onA = await allPages(b, `chainId=${CHAIN_A}`);
    expect(onA.map((d) => d.dealId)).to.include.members([onlyA, both]);
    expect(onA.every((d) => d.chainId === CHAIN_A)).to.equal(true);
  });

  it("GET /v1/deals with a chain not served → 400 naming the known chains; a malformed chainId → 400", async function () {
    const res = await a.http.get("/v1/deals?chainId=5").expect(400);
    expect(res.body.type).to.match(/invalid-parameter$/);
    expect(res.body.errors).to.deep.equal([
      {
        parameter: "chainId",
        in: "query",
        message: `no chain 5 is served here; known chains: ${CHAIN_A}, ${CHAIN_B}`,
      },
    ]);
    for (const bad of ["0x7a69", "0", "-1", "1.5", "abc"]) {
      const r = await a.http.get(`/v1/deals?chainId=${bad}`).expect(400);
      expect(r.body.errors[0].parameter).to.equal("chainId");
    }
    await a.http.get(`/v1/deals/${onlyA}?chainId=5`).expect(400);
  });

  it("GET /v1/deals/{id} → found on either relayer's API, with its chainId", async function () {
    for (const w of [a, b]) {
      expect((await w.http.get(`/v1/deals/${onlyA}`).expect(200)).body.chainId).to.equal(CHAIN_A);
      expect((await w.http.get(`/v1/deals/${onlyB}`).expect(200)).body.chainId).to.equal(CHAIN_B);
      await w.http.get(`/v1/deals/${onlyB}?chainId=${CHAIN_A}`).expect(404);
    }
  });

  it("the same id on both chains → 409 ambiguous-deal naming both; chainId picks one", async function () {
    for (const w of [a, b]) {
      const res = await w.http.get(`/v1/deals/${both}`).expect(409);
      expect(res.body.type).to.match(/ambiguous-deal$/);
      expect(res.body.chains).to.have.members([CHAIN_A, CHAIN_B]);
      for (const chainId of [CHAIN_A, CHAIN_B]) {
        const one = await w.http.get(`/v1/deals/${both}?chainId=${chainId}`).expect(200);
        expect(one.body).to.include({ dealId: both, chainId });
      }
    }
  });

  it("a write's typed data naming a deal of the other chain only → 409 wrong-chain with the chainId to use", async function () {
    const res = await a.http.get(`/v1/deals/${onlyB}/typed-data?action=performed`).expect(409);
    expect(res.body.type).to.match(/wrong-chain$/);
    expect(res.body.chainId).to.equal(CHAIN_B);
    const back = await b.http.get(`/v1/deals/${onlyA}/typed-data?action=performed`).expect(409);
    expect(back.body.chainId).to.equal(CHAIN_A);
  });

  it("the same signer key on both chains → each chain's transactions mine with nonces 0, 1, … and no gap", async function () {
    for (const [w, dealId] of [
      [a, onlyA],
      [b, onlyB],
    ] as const) {
      const payee = w.p.payees[0];
      const key = await w.key("party", payee);
      const sentBefore = await w.p.provider.getTransactionCount(a.signer, "latest");
      const res = await w.confirm(dealId, "performed", payee, key);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      const done = await w.final(res.body.submission.id);
      expect(done.status, JSON.stringify(done)).to.equal("final");
      const tx = await w.p.provider.getTransaction(done.transactionHash!);
      expect(tx?.from.toLowerCase()).to.equal(a.signer);
      expect(tx?.nonce).to.equal(sentBefore);
      // Every nonce below the count is mined on this chain: no gap, nothing pending.
      expect(await w.p.provider.getTransactionCount(a.signer, "pending")).to.equal(sentBefore + 1);
      await w.indexed(dealId, "performed");
    }
  });

  it("another chain's projection may not be served → 503 for that chain's deals only", async function () {
    const meta = b.relayer.store.key("meta");
    await a.relayer.redis.hset(meta, "halted", "test: chain B halted");
    try {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const res = await a.http.get(`/v1/deals/${onlyB}?chainId=${CHAIN_B}`);
        if (res.status === 503) {
          expect(res.body.type).to.match(/projection-unavailable$/);
          break;
        }
        if (Date.now() > deadline) throw new Error(`still ${res.status}`);
        await sleep(50);
      }
      expect((await a.http.get(`/v1/deals/${onlyA}`).expect(200)).body.chainId).to.equal(CHAIN_A);
      // Unfiltered: chain B is left out; named: 503.
      const list = (await a.http.get("/v1/deals?limit=100").expect(200)).body.data as DealJson[];
      expect(list.every((d) => d.chainId === CHAIN_A)).to.equal(true);
      await a.http.get(`/v1/deals?chainId=${CHAIN_B}`).expect(503);
      const chains = (await a.http.get("/v1/chains").expect(200)).body.data as {
        chainId: number;
        available: boolean;
      }[];
      expect(chains.find((c) => c.chainId === CHAIN_B)?.available).to.equal(false);
    } finally {
      await a.relayer.redis.hdel(meta, "halted");
    }
  });

  it("its own projection may not be served → 503 for its own deals only; GET /v1/chains still answers", async function () {
    const meta = a.relayer.store.key("meta");
    await a.relayer.redis.hset(meta, "halted", "test: chain A halted");
    try {
      // Each chain's state is cached briefly: wait until A shows as halted and B (just cleared) as served.
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const chains = (await a.http.get("/v1/chains").expect(200)).body.data as {
          chainId: number;
          available: boolean;
        }[];
        const shown = JSON.stringify(chains.map((c) => [c.chainId, c.available]));
        if (
          shown ===
          JSON.stringify([
            [CHAIN_A, false],
            [CHAIN_B, true],
          ])
        )
          break;
        if (Date.now() > deadline) throw new Error(`GET /v1/chains still shows ${shown}`);
        await sleep(50);
      }
      // Its own chain's deals answer 503; the other chain's are served as ever, by this relayer's API too.
      const res = await a.http.get(`/v1/deals/${onlyA}`).expect(503);
      expect(res.body.type).to.match(/projection-unavailable$/);
      await a.http.get(`/v1/deals?chainId=${CHAIN_A}`).expect(503);
      expect((await a.http.get(`/v1/deals/${onlyB}`).expect(200)).body.chainId).to.equal(CHAIN_B);
      const list = (await a.http.get("/v1/deals?limit=100").expect(200)).body.data as DealJson[];
      expect(list.length).to.be.greaterThan(0);
      expect(list.every((d) => d.chainId === CHAIN_B)).to.equal(true);
      // Writes stay guarded by this relayer's projection.
      await a.http.get(`/v1/deals/${onlyA}/typed-data?action=performed`).expect(503);
      // Chain B's relayer serves chain B as ever.
      expect((await b.http.get(`/v1/deals/${onlyB}`).expect(200)).body.chainId).to.equal(CHAIN_B);
    } finally {
      await a.relayer.redis.hdel(meta, "halted");
    }
  });
});

describe("relayer: the registry of chains (chains.ts)", function () {
  const entryOf = (chainId: number, escrow = `0x${"ab".repeat(20)}`): ChainEntry => ({
    chainId,
    escrow,
    registry: `0x${"cd".repeat(20)}`,
    keyPrefix: `p:{${chainId}:abababab}:`,
    deploymentBlock: 1,
    resolutionWindow: 86_400,
    confirmations: 2,
  });

  it("parses an entry; skips one of another shape, another field or malformed JSON", function () {
    const entry = entryOf(10);
    expect(parseChainEntry("10", JSON.stringify(entry))).to.deep.equal(entry);
    expect(parseChainEntry("11", JSON.stringify(entry))).to.equal(undefined);
    expect(parseChainEntry("10", JSON.stringify({ ...entry, escrow: "0x12" }))).to.equal(undefined);
    expect(parseChainEntry("10", JSON.stringify({ ...entry, confirmations: "2" }))).to.equal(undefined);
    expect(parseChainEntry("10", "{not json")).to.equal(undefined);
  });

  it("lists its own chain first, the others by chain id; writes its entry back when the registry was flushed", async function () {
    const prefix = freshPrefix("chains-registry");
    const redis = testRedis({ maxRetriesPerRequest: 1 });
    try {
      const common = createCommon(
        parseOptions({
          RPC_URL: "http://127.0.0.1:8545",
          DEPLOYMENT: "none.json",
          REDIS_PREFIX: prefix,
          LOG_LEVEL: "silent",
        }),
      );
      const store = createStore({ common, redis, chainId: 20, escrow: `0x${"ab".repeat(20)}` });
      const own = { entry: entryOf(20), store, availability: createAvailability({ store }), own: true };
      await registerChain(redis, prefix, own.entry);
      await registerChain(redis, prefix, entryOf(30));
      await registerChain(redis, prefix, entryOf(10));
      await redis.hset(chainsKey(prefix), "99", "{not json");
      const chains = createChains({ common, redis, own, cacheMs: 0 });
      const listed = await chains.list();
      expect(listed.map((c) => [c.entry.chainId, c.own])).to.deep.equal([
        [20, true],
        [10, false],
        [30, false],
      ]);
      // Another chain's store reads that chain's keys.
      expect(listed[1].store.keyPrefix).to.equal(`${prefix}:{10:abababab}:`);
      await redis.del(chainsKey(prefix));
      expect((await chains.list()).map((c) => c.entry.chainId)).to.deep.equal([20]);
      expect(Object.keys(await redis.hgetall(chainsKey(prefix)))).to.deep.equal(["20"]);
    } finally {
      await redis.del(chainsKey(prefix));
      redis.disconnect();
    }
  });
});
