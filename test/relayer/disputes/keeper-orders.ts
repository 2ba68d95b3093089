/**
 * The keeper ends orders nobody acts on. An expired, funded buy order: its deal (a delegate's lock, still Open)
 * passes its deadline, the keeper refunds it to the acceptor's float and the order follows its deal to `refunded`
 * (the orders' sweeper sends no refund of its own). A paid buy order whose acceptor neither releases nor disputes:
 * the user's escalation, signed in advance on the checkout, is sent past the release window and the order is
 * disputed. Real Hardhat node and Redis; the keeper at its default interval.
 */
import { expect } from "chai";
import { startOrdersRelayer, type OrdersRelayer } from "../support/orders";

/** A describe block with its own node and relayer: each moves (or must not see moved) the chain's clock. */
function withRelayer(name: string, body: (r: () => OrdersRelayer) => void) {
  describe(name, function () {
    let o: OrdersRelayer;
    before(async function () {
      o = await startOrdersRelayer(`keeper-orders-${name.replace(/\W+/g, "-")}`, { auto: true, online: true });
    });
    after(async function () {
      await o?.stop();
    });
    body(() => o);
  });
}

describe("relayer keeper and orders", function () {
  this.timeout(180_000);

  withRelayer("an expired, funded buy order", (r) => {
    it("a funded buy order nobody pays → its deal refunded by the keeper past its deadline (reason deadline) → the order is refunded", async function () {
      const o = r();
      const { w } = o;
      const user = w.p.payees[1];
      const order = await o.createOrder({ side: "buy", user: await w.address(user) });
      await o.until(order.id, "funded");
      const got = await w.relayer.store.getDeal(order.dealId);
      expect(got!.deal.status).to.equal("open");
      const sentBefore = await w.sent();
      const now = (await w.p.provider.getBlock("latest"))!.timestamp;
      await w.p.provider.send("evm_increaseTime", [Number(got!.deal.deadline) - now + 1]);
      await w.p.provider.send("evm_mine", []);
      await o.until(order.id, "refunded");
      const view = await w.indexed(order.dealId, "refunded");
      expect(view.refundReason).to.equal("deadline");
      const entry = (await w.relayer.store.getDeal(order.dealId))!.history.find((h) => h.event === "DealRefunded")!;
      expect((await w.p.provider.getTransaction(entry.txHash))!.from.toLowerCase()).to.equal(w.signer);
      expect(await w.sent(), "one refund sent").to.equal(sentBefore + 1);
    });
  });

  withRelayer("an escalation past the release window", (r) => {
    it("a paid buy order the acceptor neither releases nor disputes → the user's escalation (signed on the checkout) is sent by the keeper past the release window → the order is disputed", async function () {
      const o = r();
      const { w } = o;
      const user = w.p.payees[2];
      const order = await o.createOrder({ side: "buy", user: await w.address(user) });
      await o.until(order.id, "funded");
      await o.checkoutConfirm(order.id, "performed", user);
      await o.until(order.id, "paid");
      const typed = await w.http.get(`/v1/checkout/${order.id}/typed-data?action=escalate`).expect(200);
      const body = { signature: await w.signTyped(user, typed.body.typedData), expiry: String(typed.body.expiry) };
      const held = await w.http.post(`/v1/checkout/${order.id}/escalation`).send(body);
      expect(held.status, JSON.stringify(held.body)).to.equal(201);
      expect(held.body).to.include({ action: "dispute", signer: await w.address(user), state: "waiting" });
      const deal = (await w.relayer.store.getDeal(order.dealId))!.deal;
      // Valid past the window: the keeper can still send it when the window has passed.
      expect(BigInt(typed.body.expiry)).to.be.greaterThan(BigInt(held.body.dueAt));
      expect((await w.http.get(`/v1/checkout/${order.id}`).expect(200)).body.escalation).to.deep.equal({
        state: "waiting",
        dueAt: held.body.dueAt,
      });
      const now = (await w.p.provider.getBlock("latest"))!.timestamp;
      await w.p.provider.send("evm_increaseTime", [held.body.dueAt - now + 1]);
      await w.p.provider.send("evm_mine", []);
      await o.until(order.id, "disputed");
      const view = await w.indexed(order.dealId, "disputed");
      expect(view.disputedBy).to.equal(await w.address(user));
      expect(Number(deal.releaseWindow)).to.be.greaterThan(0);
      expect((await w.http.get(`/v1/checkout/${order.id}`).expect(200)).body.escalation.state).to.equal("sent");
    });
  });

  withRelayer("escalation refusals", (r) => {
    it("an escalation of a sell order, an unpaid order or by another signer → refused, nothing held", async function () {
      const o = r();
      const { w } = o;
      const seller = await o.freshUser(13);
      const sell = await o.createOrder({ side: "sell", user: seller.address });
      await o.until(sell.id, "accepted");
      const refusedSell = await w.http.get(`/v1/checkout/${sell.id}/typed-data?action=escalate`);
      expect(refusedSell.status).to.equal(409);
      expect(refusedSell.body.type).to.match(/wrong-order-status$/);

      const user = w.p.payees[3];
      const buy = await o.createOrder({ side: "buy", user: await w.address(user) });
      await o.until(buy.id, "funded");
      const early = await w.http.post(`/v1/checkout/${buy.id}/escalation`).send({ signature: "0x00", expiry: "1" });
      expect(early.status, "not paid yet").to.equal(409);
      await o.checkoutConfirm(buy.id, "performed", user);
      await o.until(buy.id, "paid");
      const typed = await w.http.get(`/v1/checkout/${buy.id}/typed-data?action=escalate`).expect(200);
      const forged = await w.signTyped(w.p.payees[4], typed.body.typedData);
      const refused = await w.http
        .post(`/v1/checkout/${buy.id}/escalation`)
        .send({ signature: forged, expiry: String(typed.body.expiry) });
      expect(refused.status).to.equal(422);
      expect(refused.body.type).to.match(/invalid-signature$/);
      expect((await w.http.get(`/v1/checkout/${buy.id}`).expect(200)).body.escalation).to.equal(null);
    });
  });
});
