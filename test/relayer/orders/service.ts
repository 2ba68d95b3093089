/**
 * The order service's branches that the lifecycle file does not walk, on a real node and Redis through the whole
 * relayer: a buy order accepted with the acceptor's own Lock signature, auto-accept without the relayer as lock
 * delegate, a decline with nobody left, refusals (400/401/403/404/409/422), screening, paging, and the
 * compare-and-set that keeps two replicas from writing one move (and its event) twice.
 *
 * One acceptor (the fixture's, A) with auto-accept on in its profile but its on-chain lock delegate left at another
 * address: it accepts by hand.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Wallet } from "ethers";
import { DELEGATE_SALT_PREFIX } from "../../../protocol";
import { USDT } from "../support/activity";
import { startWriteRelayer, type WriteRelayer } from "../support/write";
import { createReservations } from "../../../relayer/src/orders/reservations";
import {
  ORDER_TRANSITIONS,
  TERMINAL,
  canMove,
  eventTypeOf,
  fiatAmountOf,
  followDeal,
  type Order,
} from "../../../relayer/src/orders/model";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WAIT_MS = 60_000;
const DENIED = "0x" + "de".repeat(20);

describe("orders: the order model", function () {
  const base = { status: "funded" as const, expiresAt: 1_000_000 };

  it("when the deal shows performed before expiresAt → paid, not late; after it → paid, late", function () {
    expect(followDeal(base, "performed", 999_000)).to.deep.equal({ to: "paid", late: false });
    expect(followDeal(base, "performed", 1_000_001)).to.deep.equal({ to: "paid", late: true });
    expect(followDeal({ ...base, status: "expired" }, "performed", 0)).to.deep.equal({ to: "paid", late: true });
    expect(eventTypeOf("paid", true)).to.equal("order.paid_late");
  });

  it("when an expired order's deal is still open → it stays expired; a settled deal ends it", function () {
    expect(followDeal({ ...base, status: "expired" }, "open", 0)).to.equal(undefined);
    expect(followDeal({ ...base, status: "expired" }, "refunded", 0)).to.deep.equal({ to: "refunded", late: false });
  });

  it("when a deal status has no move from the order's status → none (terminal orders never move)", function () {
    expect(followDeal({ ...base, status: "released" }, "refunded", 0)).to.equal(undefined);
    expect(followDeal({ ...base, status: "cancelled" }, "open", 0)).to.equal(undefined);
    expect(followDeal({ ...base, status: "accepted" }, "open", 0)).to.deep.equal({ to: "funded", late: false });
    expect(followDeal({ ...base, status: "paid" }, "split", 0)).to.deep.equal({ to: "split", late: false });
    expect(followDeal({ ...base, status: "disputed" }, "resolved", 0)).to.deep.equal({ to: "resolved", late: false });
  });

  it("when a rate is applied → the fiat amount is rounded to cents", function () {
    expect(fiatAmountOf("100000000", "0.92")).to.equal("92.00");
    expect(fiatAmountOf("1234567", "5.1")).to.equal("6.30");
    expect(fiatAmountOf("1", "1")).to.equal("0.00");
  });

  it("when a status is terminal → the table lists no next status", function () {
    for (const status of TERMINAL) expect(ORDER_TRANSITIONS[status]).to.deep.equal([]);
    expect(canMove("assigned", "accepted")).to.equal(true);
    expect(canMove("funded", "cancelled")).to.equal(false);
  });
});

describe("orders: service branches", function () {
  this.timeout(180_000);
  let w: WriteRelayer;
  let a: string;
  let token: string;
  let platformKey: string;
  let aKey: string;
  let W: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orders-deny-"));
  const denyFile = path.join(dir, "deny.txt");

  before(async () => {
    fs.writeFileSync(denyFile, `# screened in tests\n${DENIED}\n`);
    w = await startWriteRelayer("orders-service", {
      LOCK_DELEGATE_KEY: Wallet.createRandom().privateKey,
      ORDER_ACCEPT_S: "30",
      ORDER_SWEEP_MS: "100",
      ACCEPTOR_HEARTBEAT_MS: "3600000",
      DENY_LIST: denyFile,
    });
    a = await w.address(w.p.acceptor);
    token = (await w.p.usdt.getAddress()).toLowerCase();
    W = `${w.relayer.store.keyPrefix}w:o:`;
    const profile = {
      rates: { EUR: "0.9" },
      methods: { "SEPA:EUR": { minAmount: "1000000", maxAmount: "100000000000", details: "IBAN X" } },
      autoAccept: true,
      paused: false,
    };
    await w.relayer.redis.hset(`${W}acc:${a}`, "p", JSON.stringify(profile), "hb", String(Date.now()), "online", "1");
    await w.relayer.redis.sadd(`${W}accs`, a);
    platformKey = await w.key("platform", "0x" + "55".repeat(20));
    aKey = await w.key("acceptor", w.p.acceptor);
  });

  after(async () => {
    await w?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const post = (url: string, key: string | undefined, body: unknown) => {
    const req = w.http.post(url);
    if (key) req.set("Authorization", `Bearer ${key}`);
    return req.send(body as object);
  };
  const get = (url: string, key?: string) => {
    const req = w.http.get(url);
    if (key) req.set("Authorization", `Bearer ${key}`);
    return req;
  };
  const orderBody = async (over: Record<string, unknown> = {}) => ({
    side: "buy",
    amount: USDT(50).toString(),
    token,
    currency: "EUR",
    method: "SEPA",
    user: await w.address(w.p.payees[0]),
    reference: "svc",
    ...over,
  });
  async function create(over: Record<string, unknown> = {}) {
    const res = await post("/v1/orders", platformKey, await orderBody(over));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as Order;
  }
  async function until(orderId: string, status: string) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const res = await get(`/v1/orders/${orderId}`, platformKey);
      if (res.status === 200 && res.body.status === status) return res.body as Order;
      if (Date.now() > deadline) throw new Error(`order ${orderId} not ${status}: ${JSON.stringify(res.body)}`);
      await sleep(50);
    }
  }
  async function eventsOf(orderId: string): Promise<string[]> {
    const entries = await w.relayer.redis.xrange(w.relayer.store.key("events"), "-", "+");
    return entries.flatMap(([, f]) => {
      if (!f[1]?.startsWith("o")) return [];
      const e = JSON.parse(f[1].slice(1)) as { t: string; o: string };
      return e.o === orderId ? [e.t] : [];
    });
  }

  it("when the acceptor's on-chain lock delegate is not the relayer's → auto-accept falls back to manual (assigned)", async () => {
    const order = await create();
    expect(order.status).to.equal("assigned");
    expect(order.acceptor).to.equal(a);
    expect(order.deal!.salt.startsWith(DELEGATE_SALT_PREFIX)).to.equal(false);
    expect(order.deal!.kind).to.equal("onramp");
    expect(order.deal!.payer).to.equal(a);
    await post(`/v1/orders/${order.id}/cancel`, platformKey, {}).expect(200);
  });

  it("when a buy order's acceptor posts its own signed Lock → the lock is sent, accepted, then funded", async () => {
    const order = await create();
    const noSig = await post(`/v1/acceptor/orders/${order.id}/accept`, aKey, {});
    expect(noSig.status).to.equal(400);
    const typed = await get(`/v1/acceptor/orders/${order.id}/lock-typed-data`, aKey).expect(200);
    expect(typed.body.dealId).to.equal(order.dealId);
    const signature = await w.signTyped(w.p.acceptor, typed.body.typedData);
    const res = await post(`/v1/acceptor/orders/${order.id}/accept`, aKey, { signature, expiry: typed.body.expiry });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.status).to.equal("accepted");
    expect(res.body.paymentDetails).to.equal("IBAN X");
    await until(order.id, "funded");
    const again = await post(`/v1/acceptor/orders/${order.id}/accept`, aKey, { signature, expiry: typed.body.expiry });
    expect(again.status).to.equal(409);
    expect(again.body.type).to.match(/wrong-order-status$/);
  });

  it("when the only acceptor declines → unmatched (order.declined, order.unmatched) and its reservation released", async () => {
    const order = await create();
    const reservations = createReservations({
      redis: w.relayer.redis,
      base: W,
      projectionBase: w.relayer.store.keyPrefix,
    });
    expect(await reservations.reservedOf(a, token)).to.equal(USDT(50));
    const res = await post(`/v1/acceptor/orders/${order.id}/decline`, aKey, {});
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.status).to.equal("unmatched");
    expect(await eventsOf(order.id)).to.deep.equal(["order.assigned", "order.declined", "order.unmatched"]);
    expect(await reservations.reservedOf(a, token)).to.equal(0n);
  });

  it("when two replicas write the same move from one version → one write, one event", async () => {
    const order = await create();
    const store = w.relayer.orders!.orders;
    const stored = (await store.get(order.id))!;
    const moved: Order = { ...stored.order, status: "cancelled", updatedAt: Date.now() };
    const results = await Promise.all(
      [1, 2].map(() => store.put(moved, stored.version, { events: [{ type: "order.cancelled" }] })),
    );
    expect(results.filter((r) => r !== undefined)).to.have.length(1);
    expect(await eventsOf(order.id)).to.deep.equal(["order.assigned", "order.cancelled"]);
  });

  it("when the user is on the deny list → 422 address-screened naming it", async () => {
    const res = await post("/v1/orders", platformKey, await orderBody({ user: DENIED }));
    expect(res.status).to.equal(422);
    expect(res.body.type).to.match(/address-screened$/);
    expect(res.body.address).to.equal(DENIED);
    expect(res.body.reason).to.equal("deny-list");
  });

  it("when a request is malformed → 400; without a key → 401; with a read key → 403", async () => {
    for (const bad of [
      { side: "hold" },
      { amount: "0" },
      { amount: "1.5" },
      { user: "0x12" },
      { method: "SEPA:USD" },
      { expiresInSeconds: 10 },
      { reference: "" },
      { extra: 1 },
    ]) {
      const res = await post("/v1/orders", platformKey, await orderBody(bad));
      expect(res.status, JSON.stringify(bad)).to.equal(400);
    }
    expect((await post("/v1/orders", undefined, await orderBody())).status).to.equal(401);
    const read = await w.key("read", "0x" + "44".repeat(20));
    expect((await post("/v1/orders", read, await orderBody())).status).to.equal(403);
    expect((await get("/v1/orders/ord_nothex", platformKey)).status).to.equal(400);
    const unknown = await get(`/v1/orders/ord_${"0".repeat(24)}`, platformKey);
    expect(unknown.status).to.equal(404);
    expect(unknown.body.type).to.match(/order-not-found$/);
    expect((await get(`/v1/checkout/ord_${"0".repeat(24)}`)).status).to.equal(404);
    expect((await get("/v1/orders?status=nope", platformKey)).status).to.equal(400);
  });

  it("when the checkout is asked by no key → it answers; a confirmation signed by someone other than the user → 422 wrong-signer", async () => {
    const order = await create();
    const view = await get(`/v1/checkout/${order.id}`).expect(200);
    expect(view.body.paymentDetails).to.equal(null);
    expect(view.body.status).to.equal("assigned");
    const res = await post(`/v1/checkout/${order.id}/confirmations`, undefined, {
      action: "performed",
      signer: a,
      signature: "0x" + "11".repeat(65),
      expiry: "9999999999",
    });
    expect(res.status).to.equal(422);
    expect(res.body.type).to.match(/wrong-signer$/);
    const open = await get(`/v1/checkout/${order.id}/typed-data?action=open`);
    expect(open.status).to.equal(409);
  });

  it("when an address is screened after funding → the user's release on the checkout is refused with 422 address-screened", async () => {
    const user = w.p.payers[0];
    const order = await create({ side: "sell", user: await w.address(user) });
    expect(order.acceptor).to.equal(a);
    await post(`/v1/acceptor/orders/${order.id}/accept`, aKey, {}).expect(200);
    const typed = await get(`/v1/checkout/${order.id}/typed-data?action=open`).expect(200);
    const signature = await w.signTyped(user, typed.body.typedData);
    const opened = await post(`/v1/checkout/${order.id}/open`, undefined, { signature, expiry: typed.body.expiry });
    expect(opened.status, JSON.stringify(opened.body)).to.equal(202);
    await until(order.id, "funded");
    expect((await w.confirm(order.dealId!, "performed", w.p.acceptor, aKey)).status).to.equal(202);
    await until(order.id, "paid");
    // The operator's deny list now names the acceptor (re-read when the file changes).
    fs.writeFileSync(denyFile, `${DENIED}\n${a}\n`);
    const typedRelease = await get(`/v1/checkout/${order.id}/typed-data?action=release`).expect(200);
    const res = await post(`/v1/checkout/${order.id}/confirmations`, undefined, {
      action: "release",
      signer: await w.address(user),
      signature: await w.signTyped(user, typedRelease.body.typedData),
      expiry: typedRelease.body.expiry,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(422);
    expect(res.body.type).to.match(/address-screened$/);
    expect(res.body.address).to.equal(a);
    fs.writeFileSync(denyFile, `${DENIED}\n`);
  });

  it("when the buyer is screened after paying → the acceptor's release through the deal's confirmations is refused with 422 address-screened, and passes once cleared", async () => {
    const buyer = w.p.payees[1];
    const order = await create({ user: await w.address(buyer) });
    const typed = await get(`/v1/acceptor/orders/${order.id}/lock-typed-data`, aKey).expect(200);
    const signature = await w.signTyped(w.p.acceptor, typed.body.typedData);
    await post(`/v1/acceptor/orders/${order.id}/accept`, aKey, { signature, expiry: typed.body.expiry }).expect(200);
    await until(order.id, "funded");
    const performed = await w.signed(order.dealId!, "performed", buyer);
    expect((await post(`/v1/checkout/${order.id}/confirmations`, undefined, performed)).status).to.equal(202);
    await until(order.id, "paid");
    fs.writeFileSync(denyFile, `${DENIED}\n${await w.address(buyer)}\n`);
    try {
      const refused = await w.confirm(order.dealId!, "release", w.p.acceptor, aKey);
      expect(refused.status, JSON.stringify(refused.body)).to.equal(422);
      expect(refused.body.type).to.match(/address-screened$/);
      expect(refused.body.address).to.equal(await w.address(buyer));
    } finally {
      fs.writeFileSync(denyFile, `${DENIED}\n`);
    }
    // The deny list is re-read when the file changes; the token blacklist answer is cached, the deny list is not.
    const released = await w.confirm(order.dealId!, "release", w.p.acceptor, aKey);
    expect(released.status, JSON.stringify(released.body)).to.equal(202);
    await until(order.id, "released");
  });

  it("when a platform pages its orders → newest first, nextCursor until null; a cursor of another filter → 400", async () => {
    const key = await w.key("platform", "0x" + "33".repeat(20));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post("/v1/orders", key, await orderBody({ reference: `page-${i}` }));
      expect(res.status).to.equal(201);
      ids.push(res.body.id);
      await sleep(2);
    }
    const first = await get("/v1/orders?limit=2", key).expect(200);
    expect(first.body.data.map((o: Order) => o.id)).to.deep.equal([ids[2], ids[1]]);
    expect(first.body.nextCursor).to.be.a("string");
    const second = await get(`/v1/orders?limit=2&cursor=${first.body.nextCursor}`, key).expect(200);
    expect(second.body.data.map((o: Order) => o.id)).to.deep.equal([ids[0]]);
    expect(second.body.nextCursor).to.equal(null);
    const other = await get(`/v1/orders?status=funded&cursor=${first.body.nextCursor}`, key);
    expect(other.status).to.equal(400);
  });
});
