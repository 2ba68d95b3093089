/**
 * The keeper end to end on a real Hardhat node, real Redis and the whole relayer in-process: due refunds sent with
 * no request, actions signed in advance sent when the escrow accepts them (and not before), the routes' key rules,
 * and exactly one transaction per due item across two replicas sharing one Redis prefix and one signer key.
 * Branch spec: keeper.tree.
 */
import { testRedis } from "../../support/redis";
import { expect } from "chai";
import { id, type JsonRpcSigner } from "ethers";
import request from "supertest";
import { createCommon } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { startRelayer } from "../../../relayer/src/index";
import { ESCROW } from "../../../relayer/src/write/calls";
import { Action, typedDataOf } from "../../../protocol";
import { createMetrics, type Common } from "../../../relayer/src/common";
import { createKeeper } from "../../../relayer/src/disputes/keeper";
import { startWriteRelayer, type WriteRelayer } from "../support/write";
import { deletePrefix, freshPrefix } from "../support/indexer";
import { dealIdOf, makeDeal, type DealParams } from "../support/activity";

const INTERVAL_MS = 150;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("relayer keeper (end to end)", function () {
  this.timeout(180_000);
  let w: WriteRelayer;
  let escrow: string;

  before(async function () {
    w = await startWriteRelayer("keeper", { KEEPER: "on", KEEPER_INTERVAL_MS: String(INTERVAL_MS) });
    escrow = (await w.p.escrow.getAddress()).toLowerCase();
  });
  after(async function () {
    await w?.stop();
  });

  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
  const chainNow = async () => (await w.p.provider.getBlock("latest"))!.timestamp;
  /** Moves the node's clock `seconds` on and mines a block with the new time. */
  async function later(seconds: number) {
    await w.p.provider.send("evm_increaseTime", [seconds]);
    await w.p.provider.send("evm_mine", []);
  }
  /** Several keeper ticks pass with no transaction from the relayer's signer. */
  async function keeperSendsNothing() {
    const before = await w.sent();
    await sleep(INTERVAL_MS * 6);
    expect(await w.sent(), "transactions sent by the relayer").to.equal(before);
  }
  /** `signer`'s DealAction signature of `action` on `dealId`: the body of POST …/scheduled. */
  async function scheduled(dealId: string, name: string, action: number, signer: JsonRpcSigner, as?: string) {
    const expiry = (await chainNow()) + 7 * 86_400;
    const typed = typedDataOf(w.relayer.chainId, escrow, "DealAction", { dealId, action, expiry: BigInt(expiry) });
    return {
      action: name,
      signer: (as ?? (await w.address(signer))).toLowerCase(),
      signature: await w.signTyped(signer, typed),
      expiry: String(expiry),
    };
  }
  /**
   * Opens a payment deal on chain, as its payer (the relayer is not asked: its write side's expiries follow the wall
   * clock, which this file's moved chain clock runs ahead of).
   */
  async function openDeal(over: Partial<DealParams> = {}) {
    const [payer] = w.p.payers;
    const [payee] = w.p.payees;
    const deal = await makeDeal(w.p, { payer: await w.address(payer), payee: await w.address(payee), ...over });
    await (await w.p.escrow.connect(payer).open(deal, id(`keeper-${deal.salt}`))).wait();
    const dealId = dealIdOf(deal);
    await w.indexed(dealId, "open");
    return { deal, dealId, payer, payee };
  }
  async function performed(deal: DealParams, dealId: string, payee: JsonRpcSigner) {
    await (await w.p.escrow.connect(payee).perform(deal)).wait();
    await w.indexed(dealId, "performed");
  }
  const list = async (dealId: string, key: string) =>
    (await w.http.get(`/v1/deals/${dealId}/scheduled`).set(bearer(key)).expect(200)).body as {
      items: { action: string; state: string; dueAt: number | null; submission: string | null }[];
    };
  /** The address that sent the transaction of the deal's `event`. */
  async function senderOf(dealId: string, event: string) {
    const got = await w.relayer.store.getDeal(dealId);
    const entry = got!.history.find((h) => h.event === event)!;
    return (await w.p.provider.getTransaction(entry.txHash))!.from.toLowerCase();
  }

  it("an Open deal past its deadline → refunded by the relayer's signer with no request (reason deadline); at its deadline → not", async function () {
    const deadline = (await chainNow()) + 600;
    const { dealId } = await openDeal({ deadline });
    await keeperSendsNothing();
    expect((await w.indexed(dealId, "open")).status).to.equal("open");
    await later(601);
    const view = await w.indexed(dealId, "refunded");
    expect(view.refundReason).to.equal("deadline");
    expect(await senderOf(dealId, "DealRefunded")).to.equal(w.signer);
  });

  it("a payee's scheduled claim of an autoRelease deal → held until the release window has passed, then claimed", async function () {
    const { deal, dealId, payee } = await openDeal({ autoRelease: true, releaseWindow: 3_600 });
    await performed(deal, dealId, payee);
    const key = await w.key("party", payee);
    const body = await scheduled(dealId, "claim", Action.Claim, payee);
    const res = await w.http.post(`/v1/deals/${dealId}/scheduled`).set(bearer(key)).send(body);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.state).to.equal("waiting");
    expect(res.body.dueAt).to.be.a("number");
    await keeperSendsNothing();
    expect((await w.indexed(dealId, "performed")).status).to.equal("performed");
    await later(3_601);
    await w.indexed(dealId, "released");
    const [item] = (await list(dealId, key)).items;
    expect(item).to.include({ action: "claim", state: "sent" });
    expect((await w.final(item.submission!)).status).to.equal("final");
    expect(await senderOf(dealId, "DealReleased")).to.equal(w.signer);
  });

  it("a payee's scheduled dispute of a deal without autoRelease → escalates once the release window passed unreleased", async function () {
    const { deal, dealId, payee } = await openDeal({ releaseWindow: 3_600 });
    await performed(deal, dealId, payee);
    const key = await w.key("party", payee);
    const body = await scheduled(dealId, "dispute", Action.Dispute, payee);
    await w.http.post(`/v1/deals/${dealId}/scheduled`).set(bearer(key)).send(body).expect(201);
    await keeperSendsNothing();
    await later(3_601);
    await w.indexed(dealId, "disputed");
    expect((await w.relayer.store.getDeal(dealId))!.deal.disputedBy).to.equal(await w.address(payee));
  });

  it("a payer's scheduled release → waits while the deal is open, pays once the payee performs", async function () {
    const { deal, dealId, payer, payee } = await openDeal();
    const key = await w.key("party", payer);
    const body = await scheduled(dealId, "release", Action.Release, payer);
    await w.http.post(`/v1/deals/${dealId}/scheduled`).set(bearer(key)).send(body).expect(201);
    await keeperSendsNothing();
    expect((await w.relayer.store.getDeal(dealId))!.deal.payerReleased).to.equal("0");
    await (await w.p.escrow.connect(payee).perform(deal)).wait();
    await w.indexed(dealId, "released");
    expect(await senderOf(dealId, "DealReleased")).to.equal(w.signer);
    expect((await list(dealId, key)).items[0]).to.include({ action: "release", state: "sent" });
  });

  it("DELETE by the signer's key → forgotten (404 after); by another key of the deal → 403; a stranger's key → 403 on every route", async function () {
    const { dealId, payer, payee } = await openDeal();
    const payeeKey = await w.key("party", payee);
    const payerKey = await w.key("party", payer);
    const stranger = await w.key("party", `0x${"5e".repeat(20)}`);
    const body = await scheduled(dealId, "dispute", Action.Dispute, payee);
    const refused = await w.http.post(`/v1/deals/${dealId}/scheduled`).set(bearer(stranger)).send(body);
    expect(refused.status, JSON.stringify(refused.body)).to.equal(403);
    await w.http.get(`/v1/deals/${dealId}/scheduled`).set(bearer(stranger)).expect(403);
    await w.http.post(`/v1/deals/${dealId}/scheduled`).set(bearer(payeeKey)).send(body).expect(201);
    await w.http.delete(`/v1/deals/${dealId}/scheduled/dispute`).set(bearer(stranger)).expect(403);
    await w.http.delete(`/v1/deals/${dealId}/scheduled/dispute`).set(bearer(payerKey)).expect(403);
    expect((await list(dealId, payerKey)).items).to.have.length(1);
    await w.http.delete(`/v1/deals/${dealId}/scheduled/dispute`).set(bearer(payeeKey)).expect(204);
    expect((await list(dealId, payeeKey)).items).to.deep.equal([]);
    const again = await w.http.delete(`/v1/deals/${dealId}/scheduled/dispute`).set(bearer(payeeKey));
    expect(again.status).to.equal(404);
    expect(again.body.type).to.match(/scheduled-not-found$/);
  });

  it("a wrong signer → 422 wrong-signer; a claim on a deal without autoRelease → 409; a bad signature → 422; an unknown action → 400", async function () {
    const { dealId, payer, payee } = await openDeal();
    const key = await w.key("party", payee);
    const post = (b: object) => w.http.post(`/v1/deals/${dealId}/scheduled`).set(bearer(key)).send(b);
    const byPayer = await post(await scheduled(dealId, "claim", Action.Claim, payer));
    expect(byPayer.status).to.equal(422);
    expect(byPayer.body.type).to.match(/wrong-signer$/);
    expect((await post(await scheduled(dealId, "claim", Action.Claim, payee))).status).to.equal(409);
    // The payer's signature presented as the payee's.
    const forged = await post(await scheduled(dealId, "dispute", Action.Dispute, payer, await w.address(payee)));
    expect(forged.status).to.equal(422);
    expect(forged.body.type).to.match(/invalid-signature$/);
    const unknown = await post({ ...(await scheduled(dealId, "dispute", Action.Dispute, payee)), action: "cancel" });
    expect(unknown.status).to.equal(400);
    expect((await list(dealId, key)).items).to.deep.equal([]);
  });

  it("two replicas (same Redis prefix, node and signer key, both keepers on) → N due deals refunded by exactly N refund calls, none reverted", async function () {
    const common = createCommon(parseOptions({ ...w.options, PORT: "0" }));
    const second = await startRelayer(common);
    try {
      await second.untilServing();
      expect(second.keeper, "second replica's keeper").to.not.equal(undefined);
      const other = request(`http://127.0.0.1:${second.port}`);
      /** Refunds both keepers queued, by their escrow_keeper_sent_total{kind="refund"}. */
      const queued = async () => {
        let sum = 0;
        for (const http of [w.http, other]) {
          const text = (await http.get("/metrics").expect(200)).text;
          const line = text.split("\n").find((l) => l.startsWith('escrow_keeper_sent_total{kind="refund"}'));
          sum += line ? Number(line.split(" ").at(-1)) : 0;
        }
        return sum;
      };
      const queuedBefore = await queued();
      const N = 3;
      const deadline = (await chainNow()) + 600;
      const ids: string[] = [];
      for (let i = 0; i < N; i++) ids.push((await openDeal({ deadline })).dealId);
      const from = await w.p.provider.getBlockNumber();
      await later(601);
      for (const id of ids) await w.indexed(id, "refunded");
      // A few more ticks of both keepers: a second refund would be sent (and revert) now if it ever were.
      await sleep(INTERVAL_MS * 6);
      const to = await w.p.provider.getBlockNumber();
      const refund = ESCROW.getFunction("refund")!.selector;
      const multicall = ESCROW.getFunction("multicall")!.selector;
      let refunds = 0;
      for (let b = from + 1; b <= to; b++) {
        const block = await w.p.provider.getBlock(b, true);
        for (const tx of block!.prefetchedTransactions) {
          if (tx.from.toLowerCase() !== w.signer || tx.to?.toLowerCase() !== escrow) continue;
          expect((await w.p.provider.getTransactionReceipt(tx.hash))!.status, `tx ${tx.hash}`).to.equal(1);
          const calls = tx.data.startsWith(multicall)
            ? (ESCROW.decodeFunctionData("multicall", tx.data)[0] as string[])
            : [tx.data];
          refunds += calls.filter((c) => c.startsWith(refund)).length;
        }
      }
      expect(refunds).to.equal(N);
      expect((await queued()) - queuedBefore, "refunds queued by both keepers").to.equal(N);
      for (const id of ids) expect(await senderOf(id, "DealRefunded")).to.equal(w.signer);
    } finally {
      await second.indexer.stop();
      await common.shutdown();
    }
  });
});

describe("relayer keeper claims (real Redis; a fake chain and submitter)", function () {
  const prefix = freshPrefix("keeper-claims");
  const redis = testRedis({ commandTimeout: 2_000 });
  const DEAL = `0x${"d1".repeat(32)}`;
  const deal = {
    status: "open",
    kind: "payment",
    payer: `0x${"a1".repeat(20)}`,
    payee: `0x${"b2".repeat(20)}`,
    gateway: `0x${"c3".repeat(20)}`,
    token: `0x${"e4".repeat(20)}`,
    amount: "100",
    deadline: "1000",
    releaseWindow: "3600",
    feeBps: "50",
    autoRelease: "0",
    salt: "11".repeat(32),
  };
  const silent = { info() {}, warn() {} };
  after(async function () {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  /** A keeper replica over one open deal, sharing `submissions` (id → status) with the other replicas. */
  function replica(submissions: Map<string, string>, accepts: () => boolean) {
    const sent: string[] = [];
    const keeper = createKeeper({
      common: { logger: silent, metrics: createMetrics() } as unknown as Common,
      redis,
      store: {
        keyPrefix: `${prefix}:{e}:`,
        readDealIds: async (index: string) =>
          ({ ids: index === "ix:status:open" ? [{ id: DEAL, score: 1 }] : [] }) as never,
        readDealsById: async (ids: string[]) =>
          ({ deals: ids.map((id) => ({ id, score: 1, deal, history: [] })), gateways: new Map() }) as never,
        getDeal: async () => undefined,
      },
      chain: { simulate: async () => (accepts() ? { ok: true, data: "0x" } : { ok: false, revertData: "0x" }) },
      submitter: {
        async submit(r) {
          submissions.set(r.id, "queued");
          sent.push(r.id);
          return { id: r.id };
        },
        get: async (id) => (submissions.has(id) ? { status: submissions.get(id)! } : undefined),
      },
      write: { verifyDealAction: async () => undefined as never, authorizeDeal: async () => undefined as never },
      escrow: `0x${"f5".repeat(20)}`,
      relayer: `0x${"99".repeat(20)}`,
      resolutionWindow: 86_400,
      now: async () => 1001,
      intervalMs: 1_000,
    });
    return { keeper, sent };
  }

  it("a due refund on two replicas → one claim, one submission; it failed → the claim is released, a later tick sends again once", async function () {
    const submissions = new Map<string, string>();
    const a = replica(submissions, () => true);
    const b = replica(submissions, () => true);
    await Promise.all([a.keeper.tick(), b.keeper.tick()]);
    const first = [...a.sent, ...b.sent];
    expect(first, "submissions after the first ticks").to.have.length(1);
    expect(await redis.get(`${prefix}:{e}:w:d:kp:c:${DEAL}:refund`)).to.equal(first[0]);
    await Promise.all([a.keeper.tick(), b.keeper.tick()]);
    expect([...a.sent, ...b.sent], "held by the claim").to.have.length(1);
    submissions.set(first[0], "failed");
    await a.keeper.tick();
    expect(await redis.get(`${prefix}:{e}:w:d:kp:c:${DEAL}:refund`), "claim released").to.equal(null);
    await Promise.all([a.keeper.tick(), b.keeper.tick()]);
    const all = [...a.sent, ...b.sent];
    expect(all, "sent again once").to.have.length(2);
    expect(all[1]).to.not.equal(first[0]);
  });

  it("a due refund the escrow would refuse (simulation reverts) → neither claimed nor sent", async function () {
    await redis.del(`${prefix}:{e}:w:d:kp:c:${DEAL}:refund`);
    const r = replica(new Map(), () => false);
    await r.keeper.tick();
    expect(r.sent).to.deep.equal([]);
    expect(await redis.get(`${prefix}:{e}:w:d:kp:c:${DEAL}:refund`)).to.equal(null);
  });
});
