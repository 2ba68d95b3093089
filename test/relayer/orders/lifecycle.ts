/**
 * Orders end to end on a real Hardhat node and Redis, through the whole relayer in-process: a buy order through
 * auto-accept (the relayer's lock delegate), the buyer's "performed" and the acceptor's release; a sell order through
 * manual accept, the user's signed open, the acceptor's "performed" and the user's release; declines and missed
 * accept windows re-matched; no acceptor; expiry; late payment; dispute; platform cancel; who may see an order.
 *
 * Two acceptors under one gateway: A (auto-accept; its on-chain lock delegate is the relayer's LOCK_DELEGATE_KEY)
 * and B (manual). Their rates steer the matching: a buy order goes to the lowest rate, a sell order to the highest.
 *   EUR: A 0.92, B 0.95 → buy EUR → A (auto), sell EUR → B (manual)
 *   BRL: A 5.10, B 5.00 → buy BRL → B first (manual), then A
 */
import { expect } from "chai";
import { Wallet, id, type JsonRpcSigner } from "ethers";
import { USDT } from "../support/activity";
import { startWriteRelayer, type WriteRelayer } from "../support/write";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WAIT_MS = 60_000;

type Profile = {
  rates: Record<string, string>;
  methods: Record<string, { minAmount: string; maxAmount: string; details: string }>;
  autoAccept: boolean;
  paused: boolean;
};

const methods = {
  "SEPA:EUR": { minAmount: "1000000", maxAmount: "100000000000", details: "IBAN DE00 1234" },
  "PIX:BRL": { minAmount: "1000000", maxAmount: "100000000000", details: "PIX key 42" },
};

describe("orders: lifecycle end to end", function () {
  this.timeout(180_000);
  let w: WriteRelayer;
  let A: JsonRpcSigner;
  let B: JsonRpcSigner;
  let a: string;
  let b: string;
  let token: string;
  let platformKey: string;
  let aKey: string;
  let bKey: string;
  const delegate = Wallet.createRandom();
  let W: string;

  async function setProfile(acceptor: string, profile: Profile) {
    const r = w.relayer.redis;
    await r.hset(`${W}acc:${acceptor}`, "p", JSON.stringify(profile), "hb", String(Date.now()), "online", "1");
    await r.sadd(`${W}accs`, acceptor);
  }

  before(async () => {
    w = await startWriteRelayer("orders", {
      LOCK_DELEGATE_KEY: delegate.privateKey,
      ORDER_ACCEPT_S: "4",
      ORDER_SWEEP_MS: "100",
      ACCEPTOR_HEARTBEAT_MS: "3600000",
    });
    const { p } = w;
    A = p.acceptor;
    B = p.accounts[16];
    a = await w.address(A);
    b = await w.address(B);
    token = (await p.usdt.getAddress()).toLowerCase();
    const gateway = await p.gateway.getAddress();
    const mined = async (tx: Promise<{ wait: () => Promise<unknown> }>) => (await tx).wait();
    // A's lock delegate becomes the relayer's; B is a second acceptor with float.
    await mined(p.registry.connect(A).setLockDelegate(delegate.address));
    await mined(p.registry.connect(B).registerAcceptor(gateway, b));
    await mined(p.registry.connect(p.gateway).approveAcceptor(b));
    await mined(p.registry.connect(B).setLimits(token, USDT(1), USDT(1_000_000)));
    await mined(p.registry.connect(B).setMethods([id("SEPA:EUR"), id("PIX:BRL")], []));
    await mined(p.usdt.mint(b, USDT(1_000_000)));
    await mined(p.usdt.connect(B).approve(await p.escrow.getAddress(), USDT(1_000_000)));
    await mined(p.escrow.connect(B).depositFloat(token, USDT(500_000)));
    W = `${w.relayer.store.keyPrefix}w:o:`;
    await setProfile(a, { rates: { EUR: "0.92", BRL: "5.10" }, methods, autoAccept: true, paused: false });
    await setProfile(b, { rates: { EUR: "0.95", BRL: "5.00" }, methods, autoAccept: false, paused: false });
    platformKey = await w.key("platform", "0x" + "77".repeat(20));
    aKey = await w.key("acceptor", A);
    bKey = await w.key("acceptor", B);
    // The projection must show B and A's new delegate before matching reads them.
    for (const deadline = Date.now() + WAIT_MS; ;) {
      const [accB] = await w.relayer.store.getHashes([`acc:${b}`]);
      const [accA] = await w.relayer.store.getHashes([`acc:${a}`]);
      if (accB?.[`free:${token}`] && accA?.lockDelegate?.toLowerCase() === delegate.address.toLowerCase()) break;
      if (Date.now() > deadline) throw new Error("acceptors not indexed");
      await sleep(50);
    }
  });

  after(async () => {
    await w?.stop();
  });

  const post = (path: string, key: string | undefined, body: unknown) => {
    const req = w.http.post(path);
    if (key) req.set("Authorization", `Bearer ${key}`);
    return req.send(body as object);
  };
  const get = (path: string, key?: string) => {
    const req = w.http.get(path);
    if (key) req.set("Authorization", `Bearer ${key}`);
    return req;
  };

  async function createOrder(body: Record<string, unknown>, key = platformKey) {
    const res = await post("/v1/orders", key, { amount: USDT(100).toString(), token, reference: "cart-1", ...body });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { id: string; status: string; acceptor: string; dealId: string };
  }

  async function until(orderId: string, status: string) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const res = await get(`/v1/orders/${orderId}`, platformKey);
      if (res.status === 200 && res.body.status === status) return res.body;
      if (Date.now() > deadline) throw new Error(`order ${orderId} not ${status}: ${JSON.stringify(res.body)}`);
      await sleep(50);
    }
  }

  /** The user signs the checkout's typed data for `action` and posts it. */
  async function checkoutConfirm(orderId: string, action: string, user: JsonRpcSigner) {
    const typed = await get(`/v1/checkout/${orderId}/typed-data?action=${action}`).expect(200);
    const signature = await w.signTyped(user, typed.body.typedData);
    return post(`/v1/checkout/${orderId}/confirmations`, undefined, {
      action,
      signer: await w.address(user),
      signature,
      expiry: typed.body.expiry,
    });
  }

  async function orderEvents(orderId: string): Promise<string[]> {
    const entries = await w.relayer.redis.xrange(w.relayer.store.key("events"), "-", "+");
    return entries.flatMap(([, fields]) => {
      const v = fields[1];
      if (!v?.startsWith("o")) return [];
      const e = JSON.parse(v.slice(1)) as { t: string; o: string };
      return e.o === orderId ? [e.t] : [];
    });
  }

  /** Moves an order's expiry into the past (the test's own state), and makes it due for the sweeper. */
  async function expireNow(orderId: string) {
    const r = w.relayer.redis;
    const j = JSON.parse((await r.hget(`${W}ord:${orderId}`, "j"))!);
    j.expiresAt = Date.now() - 1;
    await r.hset(`${W}ord:${orderId}`, "j", JSON.stringify(j));
    await r.zadd(`${W}live`, 0, orderId);
  }

  it("when a buy order's acceptor auto-accepts → the delegate's lock funds it, the buyer's performed pays it, the acceptor's release releases it", async () => {
    const user = w.p.payees[0];
    const order = await createOrder({ side: "buy", currency: "EUR", method: "SEPA", user: await w.address(user) });
    expect(order.acceptor).to.equal(a);
    expect(order.status).to.equal("accepted");
    const funded = await until(order.id, "funded");
    expect(funded.dealId).to.equal(order.dealId);
    const view = await get(`/v1/checkout/${order.id}`).expect(200);
    expect(view.body.paymentDetails).to.equal("IBAN DE00 1234");
    expect(view.body.fiatAmount).to.equal("92.00");
    expect(view.body.next).to.deep.equal({ action: "performed", signer: await w.address(user) });
    const performed = await checkoutConfirm(order.id, "performed", user);
    expect(performed.status, JSON.stringify(performed.body)).to.equal(202);
    await until(order.id, "paid");
    const released = await w.confirm(order.dealId, "release", A, aKey);
    expect(released.status, JSON.stringify(released.body)).to.equal(202);
    await until(order.id, "released");
    expect(await orderEvents(order.id)).to.deep.equal([
      "order.assigned",
      "order.accepted",
      "order.funded",
      "order.paid",
      "order.released",
    ]);
  });

  it("when a sell order is accepted by hand → the user's signed open funds it, the acceptor's performed and the user's release release it", async () => {
    const user = w.p.payers[0];
    const order = await createOrder({ side: "sell", currency: "EUR", method: "SEPA:EUR", user: await w.address(user) });
    expect(order.acceptor).to.equal(b);
    expect(order.status).to.equal("assigned");
    const accepted = await post(`/v1/acceptor/orders/${order.id}/accept`, bKey, {});
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(200);
    expect(accepted.body.status).to.equal("accepted");
    const view = await get(`/v1/checkout/${order.id}`).expect(200);
    expect(view.body.approval.spender).to.equal((await w.p.escrow.getAddress()).toLowerCase());
    expect(view.body.next.action).to.equal("open");
    const typed = await get(`/v1/checkout/${order.id}/typed-data?action=open`).expect(200);
    const signature = await w.signTyped(user, typed.body.typedData);
    const opened = await post(`/v1/checkout/${order.id}/open`, undefined, { signature, expiry: typed.body.expiry });
    expect(opened.status, JSON.stringify(opened.body)).to.equal(202);
    expect(opened.body.dealId).to.equal(order.dealId);
    await until(order.id, "funded");
    const performed = await w.confirm(order.dealId, "performed", B, bKey);
    expect(performed.status, JSON.stringify(performed.body)).to.equal(202);
    await until(order.id, "paid");
    const released = await checkoutConfirm(order.id, "release", user);
    expect(released.status, JSON.stringify(released.body)).to.equal(202);
    await until(order.id, "released");
  });

  it("when a sell order's acceptor auto-accepts → accepted at once with nothing signed; the checkout asks the user to open", async () => {
    const user = w.p.payers[4];
    const order = await createOrder({ side: "sell", currency: "BRL", method: "PIX", user: await w.address(user) });
    expect(order.acceptor).to.equal(a);
    expect(order.status).to.equal("accepted");
    const view = await get(`/v1/checkout/${order.id}`).expect(200);
    expect(view.body.next).to.deep.equal({ action: "open", signer: await w.address(user) });
    expect(view.body.approval.amount).to.equal(USDT(100).toString());
    await post(`/v1/orders/${order.id}/cancel`, platformKey, {}).expect(200);
  });

  it("when the assigned acceptor declines → the order is re-matched to the next acceptor", async () => {
    const user = w.p.payees[1];
    const order = await createOrder({ side: "buy", currency: "BRL", method: "PIX", user: await w.address(user) });
    expect(order.acceptor).to.equal(b);
    const declined = await post(`/v1/acceptor/orders/${order.id}/decline`, bKey, { reason: "busy" });
    expect(declined.status, JSON.stringify(declined.body)).to.equal(200);
    expect(declined.body.acceptor).to.equal(a);
    expect(declined.body.tried).to.deep.equal([b]);
    await until(order.id, "funded");
    expect((await orderEvents(order.id)).slice(0, 3)).to.deep.equal([
      "order.assigned",
      "order.declined",
      "order.assigned",
    ]);
    // B no longer sees it.
    await get(`/v1/orders/${order.id}`, bKey).expect(404);
  });

  it("when the accept window passes → the order is re-matched to the next acceptor", async () => {
    const user = w.p.payees[2];
    const order = await createOrder({ side: "buy", currency: "BRL", method: "PIX", user: await w.address(user) });
    expect(order.acceptor).to.equal(b);
    const funded = await until(order.id, "funded");
    expect(funded.acceptor).to.equal(a);
    expect(funded.tried).to.deep.equal([b]);
    const late = await post(`/v1/acceptor/orders/${order.id}/accept`, bKey, {});
    expect(late.status).to.equal(404);
  });

  it("when no acceptor quotes the currency → 422 no-eligible-acceptor with the reasons", async () => {
    const res = await post("/v1/orders", platformKey, {
      side: "buy",
      amount: USDT(100).toString(),
      token,
      currency: "USD",
      method: "ZELLE",
      user: await w.address(w.p.payees[3]),
      reference: "none",
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(422);
    expect(res.body.type).to.match(/no-eligible-acceptor$/);
    expect(res.body.reasons).to.be.an("object");
  });

  it("when an order's expiry passes before funding → expired", async () => {
    const order = await createOrder({
      side: "sell",
      currency: "EUR",
      method: "SEPA",
      user: await w.address(w.p.payers[1]),
    });
    await expireNow(order.id);
    await until(order.id, "expired");
    expect(await orderEvents(order.id)).to.deep.equal(["order.assigned", "order.expired"]);
    const accept = await post(`/v1/acceptor/orders/${order.id}/accept`, bKey, {});
    expect(accept.status).to.equal(409);
  });

  it("when the buyer reports payment after expiry → paid late (order.paid_late), then the acceptor's release releases it", async () => {
    const user = w.p.payees[3];
    const order = await createOrder({ side: "buy", currency: "EUR", method: "SEPA", user: await w.address(user) });
    await until(order.id, "funded");
    await expireNow(order.id);
    await until(order.id, "expired");
    const performed = await checkoutConfirm(order.id, "performed", user);
    expect(performed.status, JSON.stringify(performed.body)).to.equal(202);
    const paid = await until(order.id, "paid");
    expect(paid.late).to.equal(true);
    expect(await orderEvents(order.id)).to.include("order.paid_late");
    expect((await w.confirm(order.dealId, "release", A, aKey)).status).to.equal(202);
    await until(order.id, "released");
  });

  it("when the acceptor disputes a paid order → disputed", async () => {
    const user = w.p.payees[4];
    const order = await createOrder({ side: "buy", currency: "EUR", method: "SEPA", user: await w.address(user) });
    await until(order.id, "funded");
    expect((await checkoutConfirm(order.id, "performed", user)).status).to.equal(202);
    await until(order.id, "paid");
    const disputed = await w.confirm(order.dealId, "dispute", A, aKey);
    expect(disputed.status, JSON.stringify(disputed.body)).to.equal(202);
    await until(order.id, "disputed");
  });

  it("when the buyer underpaid and both parties sign a split → split (order.split)", async () => {
    const user = w.p.payees[5];
    const order = await createOrder({ side: "buy", currency: "EUR", method: "SEPA", user: await w.address(user) });
    await until(order.id, "funded");
    expect((await checkoutConfirm(order.id, "performed", user)).status).to.equal(202);
    await until(order.id, "paid");
    const payeeAmount = USDT(60).toString();
    const userKey = await w.key("party", user);
    for (const [signer, key] of [
      [A, aKey],
      [user, userKey],
    ] as const) {
      const typed = await get(`/v1/deals/${order.dealId}/typed-data?action=split&payeeAmount=${payeeAmount}`).expect(
        200,
      );
      const res = await post(`/v1/deals/${order.dealId}/splits`, key, {
        payeeAmount,
        signer: await w.address(signer),
        signature: await w.signTyped(signer, typed.body.typedData),
        expiry: typed.body.typedData.message.expiry,
      });
      expect([200, 202], JSON.stringify(res.body)).to.include(res.status);
    }
    await until(order.id, "split");
    expect(await orderEvents(order.id)).to.include("order.split");
  });

  it("when the platform cancels before funding → cancelled; once more → 409 wrong-order-status", async () => {
    const order = await createOrder({
      side: "sell",
      currency: "EUR",
      method: "SEPA",
      user: await w.address(w.p.payers[2]),
    });
    const cancelled = await post(`/v1/orders/${order.id}/cancel`, platformKey, {});
    expect(cancelled.status, JSON.stringify(cancelled.body)).to.equal(200);
    expect(cancelled.body.status).to.equal("cancelled");
    const again = await post(`/v1/orders/${order.id}/cancel`, platformKey, {});
    expect(again.status).to.equal(409);
    expect(again.body.type).to.match(/wrong-order-status$/);
  });

  it("when another platform's key or another acceptor asks → 404; the assigned acceptor sees it and lists it", async () => {
    const order = await createOrder({
      side: "sell",
      currency: "EUR",
      method: "SEPA",
      user: await w.address(w.p.payers[3]),
    });
    const other = await w.key("platform", "0x" + "66".repeat(20));
    const res = await get(`/v1/orders/${order.id}`, other);
    expect(res.status).to.equal(404);
    expect(res.body.type).to.match(/order-not-found$/);
    await get(`/v1/orders/${order.id}`, aKey).expect(404);
    const seen = await get(`/v1/orders/${order.id}`, bKey).expect(200);
    expect(seen.body.acceptor).to.equal(b);
    const list = await get(`/v1/acceptor/orders?status=assigned`, bKey).expect(200);
    expect(list.body.data.map((o: { id: string }) => o.id)).to.include(order.id);
    const mine = await get(`/v1/orders?limit=100`, platformKey).expect(200);
    expect(mine.body.data.map((o: { id: string }) => o.id)).to.include(order.id);
    await get(`/v1/orders`, other).expect(200);
    expect((await get(`/v1/orders`, other)).body.data).to.deep.equal([]);
  });
});
