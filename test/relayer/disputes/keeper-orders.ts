/**
 * The keeper ends an expired, funded buy order: nobody acts on it, its deal (a delegate's lock, still Open) passes
 * its deadline, the keeper refunds it to the acceptor's float and the order follows its deal to `refunded` (the
 * orders' sweeper sends no refund of its own). Real Hardhat node and Redis; the keeper at its default interval.
 */
import { expect } from "chai";
import { startOrdersRelayer, type OrdersRelayer } from "../support/orders";

describe("relayer keeper and orders", function () {
  this.timeout(180_000);
  let o: OrdersRelayer;

  before(async function () {
    o = await startOrdersRelayer("keeper-orders", { auto: true, online: true });
  });
  after(async function () {
    await o?.stop();
  });

  it("a funded buy order nobody pays → its deal refunded by the keeper past its deadline (reason deadline) → the order is refunded", async function () {
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
