/**
 * Fraud signals end to end (branch spec: fraud.tree beside this file) on a real Hardhat node and Redis, through the
 * whole relayer in-process: a buy order's declared payer name against the name on the incoming transfer the acceptor
 * enters; chargebacks on released buy orders — the event, the desk's stats, the method's maxChargebacks and the
 * blocked user in matching. One acceptor (auto-accept, SEPA:EUR) from support/orders.ts.
 */
import { expect } from "chai";
import { USDT } from "../support/activity";
import { PAYMENT_DETAILS, startOrdersRelayer, type OrdersRelayer } from "../support/orders";

describe("orders: fraud signals (payer name, chargebacks)", function () {
  this.timeout(120_000);
  let o: OrdersRelayer;
  let otherAcceptorKey: string;

  before(async () => {
    o = await startOrdersRelayer("fraud", { auto: true, online: true });
    otherAcceptorKey = await o.w.key("acceptor", o.w.p.accounts[16]);
  });
  after(async () => o?.stop());

  const post = (path: string, key: string, body: unknown) =>
    o.w.http
      .post(path)
      .set(o.bearer(key))
      .send(body as object);
  const getAs = (path: string, key: string) => o.w.http.get(path).set(o.bearer(key));

  /** A new order; `payerName` when given. Returns the response (the caller checks the status). */
  const order = (side: "buy" | "sell", user: string, extra: Record<string, unknown> = {}) =>
    post("/v1/orders", o.platformKey, {
      side,
      amount: USDT(10).toString(),
      token: o.token,
      currency: "EUR",
      method: "SEPA",
      user,
      reference: `fraud-${Math.random().toString(16).slice(2, 10)}`,
      ...extra,
    });

  const userAt = (i: number) => o.w.address(o.w.p.accounts[i]);

  const profile = (maxChargebacks?: number) =>
    o.w.http
      .put("/v1/acceptor/profile")
      .set(o.bearer(o.acceptorKey))
      .send({
        rates: { EUR: "0.92" },
        methods: {
          "SEPA:EUR": {
            minAmount: USDT(1).toString(),
            maxAmount: USDT(10_000).toString(),
            details: PAYMENT_DETAILS,
            ...(maxChargebacks === undefined ? {} : { maxChargebacks }),
          },
        },
        autoAccept: true,
        paused: false,
      })
      .expect(200);

  /** A buy order of `user` taken to released: the user's "performed" on the checkout, the acceptor's release. */
  async function releasedBuyOrder(userIndex: number) {
    const user = o.w.p.accounts[userIndex];
    const res = await order("buy", await o.w.address(user));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const id = res.body.id as string;
    await o.until(id, "funded");
    await o.checkoutConfirm(id, "performed", user);
    await o.until(id, "paid");
    const released = await o.w.confirm(res.body.dealId, "release", o.acceptorSigner, o.acceptorKey);
    expect(released.status, JSON.stringify(released.body)).to.equal(202);
    await o.until(id, "released");
    return { id, user: await o.w.address(user) };
  }

  describe("payerName on POST /v1/orders", function () {
    it("when a sell order carries payerName → 400 naming payerName", async () => {
      const res = await order("sell", await userAt(5), { payerName: "John Doe" });
      expect(res.status).to.equal(400);
      expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
      expect(JSON.stringify(res.body)).to.contain("payerName is for buy orders");
    });

    it("when payerName is blank, over 140 characters or holds a line break → 400", async () => {
      for (const payerName of ["   ", "x".repeat(141), "John\nDoe", 42]) {
        const res = await order("buy", await userAt(5), { payerName });
        expect(res.status, JSON.stringify(payerName)).to.equal(400);
        expect(res.body.errors?.[0]?.parameter).to.equal("payerName");
      }
    });

    it("when a buy order carries payerName → stored trimmed, shown to the platform and the acceptor, never on the checkout", async () => {
      const res = await order("buy", await userAt(5), { payerName: "  Jöhn  Doe " });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.payerName).to.equal("Jöhn  Doe");
      const id = res.body.id as string;
      expect((await getAs(`/v1/orders/${id}`, o.acceptorKey).expect(200)).body.payerName).to.equal("Jöhn  Doe");
      const checkout = await o.w.http.get(`/v1/checkout/${id}`).expect(200);
      expect(JSON.stringify(checkout.body)).not.to.contain("Doe");
      expect(checkout.body).not.to.have.property("payerName");
    });
  });

  describe("POST /v1/acceptor/orders/{id}/transfer-name", function () {
    it("when the name differs → mismatch; the same words reordered and upper-cased → match; the platform sees it", async () => {
      const res = await order("buy", await userAt(6), { payerName: "Jöhn Doe" });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const id = res.body.id as string;
      const path = `/v1/acceptor/orders/${id}/transfer-name`;
      const wrong = await post(path, o.acceptorKey, { name: "J. Doe" });
      expect(wrong.status, JSON.stringify(wrong.body)).to.equal(200);
      expect(wrong.body).to.include({ transferName: "J. Doe", nameCheck: "mismatch", payerName: "Jöhn Doe" });
      const right = await post(path, o.acceptorKey, { name: "DOE JOHN" });
      expect(right.body).to.include({ transferName: "DOE JOHN", nameCheck: "match" });
      const seen = await getAs(`/v1/orders/${id}`, o.platformKey).expect(200);
      expect(seen.body).to.include({ transferName: "DOE JOHN", nameCheck: "match" });
    });

    it("when the platform declared no payer name → undeclared", async () => {
      const res = await order("buy", await userAt(6));
      const named = await post(`/v1/acceptor/orders/${res.body.id}/transfer-name`, o.acceptorKey, { name: "Ann Lee" });
      expect(named.status, JSON.stringify(named.body)).to.equal(200);
      expect(named.body.nameCheck).to.equal("undeclared");
    });

    it("when the order is a sell order → 409 wrong-order-status", async () => {
      const res = await order("sell", await userAt(6));
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const named = await post(`/v1/acceptor/orders/${res.body.id}/transfer-name`, o.acceptorKey, { name: "Ann Lee" });
      expect(named.status).to.equal(409);
      expect(named.body.type).to.match(/wrong-order-status$/);
    });

    it("when another acceptor's key names it → 404; a platform key → 403; a bad body → 400", async () => {
      const res = await order("buy", await userAt(6), { payerName: "Ann Lee" });
      const path = `/v1/acceptor/orders/${res.body.id}/transfer-name`;
      expect((await post(path, otherAcceptorKey, { name: "Ann Lee" })).status).to.equal(404);
      expect((await post(path, o.platformKey, { name: "Ann Lee" })).status).to.equal(403);
      for (const body of [{}, { name: "" }, { name: "x".repeat(141) }, { name: "Ann", extra: 1 }]) {
        const bad = await post(path, o.acceptorKey, body);
        expect(bad.status, JSON.stringify(body)).to.equal(400);
        expect(bad.headers["content-type"]).to.match(/^application\/problem\+json/);
      }
    });
  });

  describe("POST /v1/acceptor/orders/{id}/chargeback", function () {
    it("when the buy order is not released → 409; a sell order → 409; another acceptor → 404; reason over 500 → 400", async () => {
      const buy = await order("buy", await userAt(7));
      const path = `/v1/acceptor/orders/${buy.body.id}/chargeback`;
      const early = await post(path, o.acceptorKey, {});
      expect(early.status, JSON.stringify(early.body)).to.equal(409);
      expect(early.body.type).to.match(/wrong-order-status$/);
      const sell = await order("sell", await userAt(7));
      expect((await post(`/v1/acceptor/orders/${sell.body.id}/chargeback`, o.acceptorKey, {})).status).to.equal(409);
      expect((await post(path, otherAcceptorKey, {})).status).to.equal(404);
      expect((await post(path, o.acceptorKey, { reason: "x".repeat(501) })).status).to.equal(400);
    });

    it("when a released buy order is flagged → once (a second flag answers the same), order.chargeback for the platform, counted in the stats; then maxChargebacks 1 turns its buy orders away (chargebacks) and the user stays blocked (blocked-user)", async () => {
      await profile();
      const { id, user } = await releasedBuyOrder(8);
      const path = `/v1/acceptor/orders/${id}/chargeback`;
      // The order is final: its transfer name can no longer be entered.
      expect((await post(`/v1/acceptor/orders/${id}/transfer-name`, o.acceptorKey, { name: "A B" })).status).to.equal(
        409,
      );
      const first = await post(path, o.acceptorKey, { reason: "SEPA recall 2026-12-01" });
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      expect(first.body.status).to.equal("released");
      expect(first.body.chargeback).to.include({ reason: "SEPA recall 2026-12-01" });
      const again = await post(path, o.acceptorKey, {});
      expect(again.status).to.equal(200);
      expect(again.body.chargeback).to.deep.equal(first.body.chargeback);

      const events = await getAs("/v1/events?types=order.chargeback", o.platformKey).expect(200);
      const mine = (events.body.data as { type: string; orderId: string; status: string }[]).filter(
        (e) => e.orderId === id,
      );
      expect(mine.map((e) => [e.type, e.status])).to.deep.equal([["order.chargeback", "released"]]);
      // The acceptor sees it too; another acceptor does not.
      const seenBy = async (key: string) =>
        ((await getAs("/v1/events?types=order.chargeback", key).expect(200)).body.data as { orderId: string }[]).filter(
          (e) => e.orderId === id,
        ).length;
      expect(await seenBy(o.acceptorKey)).to.equal(1);
      expect(await seenBy(otherAcceptorKey)).to.equal(0);

      const desk = await getAs("/v1/acceptor/profile", o.acceptorKey).expect(200);
      expect(desk.body.stats.chargebacks30d).to.deep.equal({ "SEPA:EUR": 1 });

      // maxChargebacks 1: the acceptor's one chargeback on SEPA:EUR reaches it; the only acceptor → 422.
      await profile(1);
      const limited = await order("buy", await userAt(9));
      expect(limited.status, JSON.stringify(limited.body)).to.equal(422);
      expect(limited.body.type).to.match(/no-eligible-acceptor$/);
      expect(limited.body.reasons).to.deep.equal({ chargebacks: 1 });
      // Sell orders carry no chargeback risk for the acceptor: they still match.
      expect((await order("sell", await userAt(9))).status).to.equal(201);

      // No limit: other users match again, the flagged user's buy orders do not; its sell orders still do.
      await profile();
      expect((await order("buy", await userAt(9))).status).to.equal(201);
      const blocked = await order("buy", user);
      expect(blocked.status, JSON.stringify(blocked.body)).to.equal(422);
      expect(blocked.body.reasons).to.deep.equal({ "blocked-user": 1 });
      expect((await order("sell", user)).status).to.equal(201);
    });
  });
});
