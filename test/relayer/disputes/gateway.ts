/**
 * The gateway's dispute desk end to end: a real Hardhat node, the whole relayer in-process (real Redis), two
 * disputes raised through the write API at different times. The queue (order, parties' stats, access), rulings
 * (typed data, a 70/30 ruling that lands on chain with its reasons' hash, refusals), the ruling read back with its
 * text, and the window-closing alert (once across two sweepers over one Redis; to the gateway's webhook only).
 * Branch spec: gateway.tree.
 */
import { expect } from "chai";
import { Wallet, type JsonRpcSigner } from "ethers";
import { createCommon } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { createChain } from "../../../relayer/src/chain/chain";
import { createGatewayDesk } from "../../../relayer/src/disputes/gateway";
import { feeOf, reasonsHash } from "../../../protocol";
import { startWriteRelayer, type WriteRelayer } from "../support/write";
import { increaseTime } from "../support/activity";
import { eventually, startReceiver } from "../support/events";

const REASONS = "The payee delivered 7 of 10 items (photos in evidence); the payer keeps the rest's price.";

describe("disputes: the gateway's desk (real node, real Redis)", function () {
  this.timeout(120_000);
  let w: WriteRelayer;
  let gateway: string;
  let gatewayKey: string;
  let payerKey: string;
  let payeeKey: string;
  let older: { dealId: string; payer: JsonRpcSigner; payee: JsonRpcSigner };
  let newer: { dealId: string; payer: JsonRpcSigner; payee: JsonRpcSigner };
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

  /** Opens a deal through the API, the payee marks it performed, the payer disputes it. */
  async function disputed() {
    const d = await w.openDeal();
    expect((await w.confirm(d.dealId, "performed", d.payee, payeeKey)).status).to.equal(202);
    await w.indexed(d.dealId, "performed");
    const res = await w.confirm(d.dealId, "dispute", d.payer, payerKey);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    await w.final(res.body.submission.id);
    await w.indexed(d.dealId, "disputed");
    return d;
  }

  /** Waits until the projection has seen the chain's latest block (its clock judges windows). */
  async function caughtUp() {
    const block = await w.p.provider.getBlockNumber();
    await eventually(async () => ((await w.relayer.store.getMeta()).block ?? 0) >= block, 20_000, "indexed");
  }

  before(async function () {
    receiver = await startReceiver();
    w = await startWriteRelayer("gateway-desk", { WEBHOOK_ALLOW_PRIVATE: "on" });
    gateway = (await w.p.gateway.getAddress()).toLowerCase();
    gatewayKey = await w.key("gateway", gateway);
    payerKey = await w.key("party", w.p.payers[0]);
    payeeKey = await w.key("party", w.p.payees[0]);
    older = await disputed();
    await increaseTime(w.p, 1_000);
    newer = await disputed();
  });
  after(async function () {
    await receiver?.close();
    await w?.stop();
  });

  const queue = (key: string, query = "") => w.http.get(`/v1/gateway/disputes${query}`).set(bearer(key));

  it("when a gateway key reads its queue → its disputes, least time left first, with both parties' stats", async function () {
    const res = await queue(gatewayKey).expect(200);
    expect(res.body.gateway).to.equal(gateway);
    expect(res.body.data.map((d: { dealId: string }) => d.dealId)).to.deep.equal([older.dealId, newer.dealId]);
    const [first, second] = res.body.data;
    expect(first.secondsLeft).to.be.lessThan(second.secondsLeft);
    expect(first.windowEndsAt).to.equal(first.deal.disputedAt + w.relayer.resolutionWindow);
    expect(first.heldByGateway).to.equal(true);
    expect(first.ruler).to.equal("gateway");
    expect(first.orderId).to.equal(null);
    expect(first.deal).to.not.have.property("history");
    const payer = (await w.address(older.payer)).toLowerCase();
    expect(first.parties.payer).to.deep.include({ address: payer, deals: 2, asPayer: 2, asPayee: 0, disputed: 2 });
    expect(first.parties.payer.completionRate).to.equal(null);
    expect(res.body.nextCursor).to.equal(null);
    // A page of one, then the next.
    const page = await queue(gatewayKey, "?limit=1").expect(200);
    expect(page.body.data).to.have.length(1);
    const rest = await queue(gatewayKey, `?limit=1&cursor=${page.body.nextCursor}`).expect(200);
    expect(rest.body.data[0].dealId).to.equal(newer.dealId);
  });

  it("when one dispute is read → it adds the deal's history", async function () {
    const res = await w.http.get(`/v1/gateway/disputes/${older.dealId}`).set(bearer(gatewayKey)).expect(200);
    expect(res.body.deal.history.map((h: { event: string }) => h.event)).to.deep.equal([
      "DealOpened",
      "DealPerformed",
      "DealDisputed",
    ]);
  });

  it("when the key is a party's → 403; a gateway-scope key of an address that is no gateway → 403; another gateway's queue → 403", async function () {
    await queue(payerKey).expect(403);
    const stranger = await w.key("gateway", Wallet.createRandom().address);
    const refused = await queue(stranger).expect(403);
    expect(refused.headers["content-type"]).to.match(/application\/problem\+json/);
    await queue(gatewayKey, `?gateway=${Wallet.createRandom().address}`).expect(403);
    await w.http.get(`/v1/gateway/disputes/${older.dealId}`).set(bearer(stranger)).expect(403);
    await w.http.get("/v1/gateway/disputes").expect(401);
    // Admin reads any gateway's queue; another gateway's is empty.
    const admin = await w.key("admin", Wallet.createRandom().address);
    expect((await queue(admin, `?gateway=${gateway}`).expect(200)).body.data).to.have.length(2);
    expect((await queue(admin, `?gateway=${Wallet.createRandom().address}`).expect(200)).body.data).to.have.length(0);
    await queue(gatewayKey, "?limit=0").expect(400);
  });

  const typedData = (dealId: string, body: object, key = gatewayKey) =>
    w.http.post(`/v1/deals/${dealId}/ruling/typed-data`).set(bearer(key)).send(body);

  it("when typed data is asked → a Resolution whose reasons is keccak256 of the text; bad bodies → 4xx", async function () {
    const res = await typedData(newer.dealId, { payeeAmount: "70000000", reasons: REASONS }).expect(200);
    expect(res.body.reasonsHash).to.equal(reasonsHash(REASONS));
    expect(res.body.typedData.primaryType).to.equal("Resolution");
    expect(res.body.typedData.message).to.deep.include({ dealId: newer.dealId, reasons: reasonsHash(REASONS) });
    await typedData(newer.dealId, { payeeAmount: "70000000", reasons: "" }).expect(400);
    await typedData(newer.dealId, { payeeAmount: "70000000", reasons: "x".repeat(10_001) }).expect(400);
    const over = await typedData(newer.dealId, { payeeAmount: "100000001", reasons: REASONS }).expect(422);
    expect(over.body.type).to.match(/split-amount-too-high$/);
    await typedData(newer.dealId, { payeeAmount: "1", reasons: REASONS }, payerKey).expect(403);
  });

  /** The ruling's body signed by `signer` (its typed data asked with the gateway's key). */
  async function signedRuling(dealId: string, payeeAmount: bigint, signer: JsonRpcSigner) {
    const res = await typedData(dealId, { payeeAmount: payeeAmount.toString(), reasons: REASONS }).expect(200);
    return {
      payeeAmount: payeeAmount.toString(),
      reasons: REASONS,
      signer: (await signer.getAddress()).toLowerCase(),
      signature: await w.signTyped(signer, res.body.typedData),
      expiry: res.body.expiry as string,
    };
  }
  const postRuling = (dealId: string, body: object, key = gatewayKey) =>
    w.http.post(`/v1/deals/${dealId}/rulings`).set(bearer(key)).send(body);

  it("when a ruling is signed by someone who is neither the gateway nor an arbiter → 422 wrong-signer; a party's key → 403", async function () {
    const body = await signedRuling(newer.dealId, 70_000_000n, newer.payer);
    const res = await postRuling(newer.dealId, body).expect(422);
    expect(res.body.type).to.match(/wrong-signer$/);
    await postRuling(newer.dealId, body, payerKey).expect(403);
    // The gateway named as signer, but the payer's signature: it does not verify.
    const forged = { ...body, signer: gateway };
    expect((await postRuling(newer.dealId, forged).expect(422)).body.type).to.match(/invalid-signature$/);
  });

  it("when the gateway rules 70/30 within its window → DealResolved carries the reasons' hash; balances move 70/30 less the fee; GET ruling has the text", async function () {
    const amount = 100_000_000n;
    const payee = await w.address(newer.payee);
    const payer = await w.address(newer.payer);
    const before = [await w.p.usdt.balanceOf(payee), await w.p.usdt.balanceOf(payer)];
    const body = await signedRuling(newer.dealId, 70_000_000n, w.p.gateway);
    const res = await postRuling(newer.dealId, body);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body).to.deep.include({
      dealId: newer.dealId,
      payeeAmount: "70000000",
      reasonsHash: reasonsHash(REASONS),
    });
    const sub = await w.final(res.body.submission.id);
    expect(sub.status).to.equal("final");
    expect(sub.kind).to.equal("ruling");
    await w.indexed(newer.dealId, "resolved");
    const receipt = await w.p.provider.getTransactionReceipt(sub.transactionHash!);
    const logs = receipt!.logs.map((l) => w.p.escrow.interface.parseLog(l)).filter((l) => l?.name === "DealResolved");
    expect(logs).to.have.length(1);
    expect(logs[0]!.args.reasons).to.equal(reasonsHash(REASONS));
    const fee = feeOf(70_000_000n, 50);
    expect(fee).to.be.greaterThan(0n);
    const after = [await w.p.usdt.balanceOf(payee), await w.p.usdt.balanceOf(payer)];
    expect(after[0] - before[0]).to.equal((amount * 70n) / 100n - fee);
    expect(after[1] - before[1]).to.equal((amount * 30n) / 100n);

    const ruling = await w.http.get(`/v1/deals/${newer.dealId}/ruling`).set(bearer(payeeKey)).expect(200);
    expect(ruling.body).to.deep.include({
      payeeAmount: "70000000",
      fee: fee.toString(),
      reasons: REASONS,
      reasonsHash: reasonsHash(REASONS),
      ruledBy: gateway,
      txHash: sub.transactionHash,
    });
    // Not a party's, the gateway's or the ref's platform's key: refused.
    const stranger = await w.key("party", Wallet.createRandom().address);
    await w.http.get(`/v1/deals/${newer.dealId}/ruling`).set(bearer(stranger)).expect(403);
    // A deal not resolved has no ruling; a resolved one is out of the queue and takes no second ruling.
    await w.http.get(`/v1/deals/${older.dealId}/ruling`).set(bearer(payeeKey)).expect(409);
    expect((await queue(gatewayKey).expect(200)).body.data.map((d: { dealId: string }) => d.dealId)).to.deep.equal([
      older.dealId,
    ]);
    expect((await postRuling(newer.dealId, body).expect(409)).body.type).to.match(/wrong-status$/);
  });

  it("when a dispute's window nears its end → one alert across two sweepers over one Redis, to the gateway's webhook only", async function () {
    // The relayer's own sweeper is stopped: the two below are the replicas.
    await w.relayer.gatewayDesk.stop();
    const endpoint = await w.http
      .post("/v1/webhook-endpoints")
      .set(bearer(gatewayKey))
      .send({ url: receiver.url, types: ["dispute.*"] });
    expect(endpoint.status, JSON.stringify(endpoint.body)).to.equal(201);
    const platformKey = await w.key("platform", Wallet.createRandom().address);
    const other = await w.http
      .post("/v1/webhook-endpoints")
      .set(bearer(platformKey))
      .send({ url: `${receiver.url}/other`, types: ["*"] });
    expect(other.status, JSON.stringify(other.body)).to.equal(201);

    const alertS = 21_600;
    const sweepers = await Promise.all(
      [1, 2].map(async () => {
        const common = createCommon(
          parseOptions({
            RPC_URL: w.node.url,
            DEPLOYMENT: "unused.json",
            LOG_LEVEL: "silent",
            DISPUTE_ALERT_S: String(alertS),
          }),
        );
        const chain = createChain({ common, rpcUrl: w.node.url });
        return {
          common,
          chain,
          desk: createGatewayDesk({
            common,
            redis: w.relayer.redis,
            store: w.relayer.store,
            chain,
            chainId: w.relayer.chainId,
            escrow: (await w.p.escrow.getAddress()).toLowerCase(),
            registry: (await w.p.registry.getAddress()).toLowerCase(),
            resolutionWindow: w.relayer.resolutionWindow,
            refs: w.relayer.keys,
          }),
        };
      }),
    );
    try {
      // Not yet inside the alert span: nothing.
      expect(await sweepers[0].desk.sweep()).to.deep.equal([]);
      const { windowEndsAt } = (await queue(gatewayKey).expect(200)).body.data[0];
      const now = (await w.p.provider.getBlock("latest"))!.timestamp;
      await increaseTime(w.p, windowEndsAt - now - alertS + 600);
      await caughtUp();
      const [a, b] = await Promise.all(sweepers.map((s) => s.desk.sweep()));
      expect([...a, ...b]).to.deep.equal([older.dealId]);
      expect(await sweepers[0].desk.sweep()).to.deep.equal([]);
      const metrics = await sweepers[0].common.metrics.registry.metrics();
      expect(metrics).to.match(/escrow_disputes_window_closing 1/);
      const counted = (
        await Promise.all(
          sweepers.map((s) => s.common.metrics.registry.getSingleMetricAsString("escrow_dispute_alerts_total")),
        )
      )
        .map((text) => Number(/escrow_dispute_alerts_total (\d+)/.exec(text)![1]))
        .reduce((x, y) => x + y, 0);
      expect(counted).to.equal(1);

      // The event: the gateway's key sees it, a party's does not.
      const seen = await w.http.get("/v1/events?types=dispute.*").set(bearer(gatewayKey)).expect(200);
      expect(seen.body.data).to.have.length(1);
      expect(seen.body.data[0]).to.deep.include({ type: "dispute.window_closing", dealId: older.dealId, gateway });
      expect(seen.body.data[0].secondsLeft).to.be.within(1, alertS);
      const hidden = await w.http.get("/v1/events?types=dispute.*").set(bearer(payerKey)).expect(200);
      expect(hidden.body.data).to.have.length(0);

      await eventually(
        () => receiver.delivered().some((r) => r.json.type === "dispute.window_closing"),
        20_000,
        "the alert's delivery",
      );
      const hooks = receiver.received.filter((r) => r.body.includes("dispute.window_closing"));
      expect(hooks).to.have.length(1);
      const delivered = JSON.parse(hooks[0].body) as { endpointId: string; data: { dealId: string } };
      expect(delivered.endpointId).to.equal(endpoint.body.id);
      expect(delivered.data.dealId).to.equal(older.dealId);
    } finally {
      for (const s of sweepers) {
        await s.desk.stop();
        await s.chain.close();
      }
    }
  });

  it("when the gateway rules after its window → 422 would-revert", async function () {
    const now = (await w.p.provider.getBlock("latest"))!.timestamp;
    const { windowEndsAt } = (await queue(gatewayKey).expect(200)).body.data[0];
    await increaseTime(w.p, windowEndsAt - now + 10);
    await caughtUp();
    const body = await signedRuling(older.dealId, 50_000_000n, w.p.gateway);
    const res = await postRuling(older.dealId, body).expect(422);
    expect(res.body.type).to.match(/would-revert$/);
    const item = (await queue(gatewayKey).expect(200)).body.data[0];
    expect(item).to.deep.include({ dealId: older.dealId, ruler: "arbiter", secondsLeft: 0 });
  });
});
