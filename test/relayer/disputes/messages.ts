/**
 * Per-order messages on a real Hardhat node and Redis, through the whole relayer in-process (support/orders.ts):
 * the order's user (through its platform's key, and on the keyless checkout) and its acceptor write a signed hash
 * chain; stale and concurrent appends, forged signatures, strangers, the gateway before and after a dispute, bad
 * bodies and clocks; the signed bundle checked from the outside. Branches: messages.tree.
 */
import { expect } from "chai";
import { Wallet, getBytes, verifyMessage, type JsonRpcSigner } from "ethers";
import {
  ZERO_HASH,
  bundleHash,
  orderMessageHash,
  orderMessageText,
  type OrderMessage,
  type OrderMessageFields,
} from "../../../protocol";
import { ApiProblem } from "../../../relayer/src/api/problems";
import { createMessages } from "../../../relayer/src/disputes/messages";
import type { Order } from "../../../relayer/src/orders/model";
import { startOrdersRelayer, type OrderBody, type OrdersRelayer } from "../support/orders";

type Signer = Pick<JsonRpcSigner, "getAddress" | "signMessage">;
const nowS = () => Math.floor(Date.now() / 1000);

describe("disputes: per-order messages", function () {
  this.timeout(120_000);
  let o: OrdersRelayer;
  let order: OrderBody;
  let user: JsonRpcSigner;
  let userAddress: string;
  let gatewayAddress: string;
  let gatewayKey: string;
  let adminKey: string;

  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
  const path = (id = order.id) => `/v1/orders/${id}/messages`;

  /** A message of `signer` after `prev`, signed over the pinned text (EIP-191). */
  async function signed(signer: Signer, prev: string, body: string, over: Partial<OrderMessageFields> = {}) {
    const author = (await signer.getAddress()).toLowerCase();
    const fields = { orderId: order.id, dealId: order.dealId, author, prev, sentAt: nowS(), body, ...over };
    return { ...fields, signature: await signer.signMessage(orderMessageText(fields)) };
  }
  /** Posts a message (the signed fields but the order's ids, which the path carries); no key: the checkout. */
  const post = (key: string | undefined, m: object, id = order.id) => {
    const { orderId: _o, dealId: _d, ...body } = m as Record<string, unknown>;
    return key === undefined
      ? o.w.http.post(`/v1/checkout/${id}/messages`).send(body)
      : o.w.http.post(path(id)).set(bearer(key)).send(body);
  };
  async function thread(key = adminKey) {
    const res = await o.w.http.get(path()).set(bearer(key));
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body as { orderId: string; dealId: string; head: string; items: OrderMessage[] };
  }
  async function head() {
    return (await thread()).head;
  }

  before(async () => {
    o = await startOrdersRelayer("messages", { auto: true, online: true });
    user = o.w.p.payees[0];
    userAddress = await o.w.address(user);
    order = await o.createOrder({ side: "buy", user: userAddress });
    gatewayAddress = await o.w.address(o.w.p.gateway);
    gatewayKey = await o.w.key("gateway", o.w.p.gateway);
    adminKey = await o.w.key("admin", "0x" + "ad".repeat(20));
  });
  after(async () => {
    await o?.stop();
  });

  it("the user (platform key) and the acceptor (its key) post in turn → 201 each; the thread is a hash chain, oldest first", async () => {
    let prev = ZERO_HASH;
    const sent: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [signer, key, role] =
        i % 2 === 0 ? [user, o.platformKey, "user"] : [o.acceptorSigner, o.acceptorKey, "acceptor"];
      const m = await signed(signer, prev, `message ${i}: ümlaut ✓\n\tindented`);
      const res = await post(key, m);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.message).to.include({ role, author: m.author, prev, hash: orderMessageHash(m) });
      prev = res.body.message.hash;
      sent.push(prev);
    }
    const t = await thread(o.platformKey);
    expect(t).to.include({ orderId: order.id, dealId: order.dealId, head: prev });
    expect(t.items.map((m) => m.hash)).to.deep.equal(sent);
    t.items.forEach((m, i) => expect(m.prev).to.equal(i === 0 ? ZERO_HASH : sent[i - 1]));
    // The acceptor reads the same thread.
    expect((await thread(o.acceptorKey)).head).to.equal(prev);
  });

  it("each new message → event order.message { hash, author, role } without its body, to the platform and the acceptor only", async () => {
    const h = await head();
    const events = async (key: string) => {
      const res = await o.w.http.get("/v1/events?types=order.message&limit=1000").set(bearer(key));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return (res.body.data as { orderId: string; message?: { hash: string } }[]).filter((e) => e.orderId === order.id);
    };
    const seen = await events(o.platformKey);
    expect(seen.length).to.be.at.least(4);
    const last = seen.find((e) => e.message?.hash === h) as Record<string, unknown> | undefined;
    expect(last).to.deep.include({ type: "order.message", orderId: order.id, dealId: order.dealId });
    expect(last?.message).to.deep.equal({ hash: h, author: await o.w.address(o.acceptorSigner), role: "acceptor" });
    expect(JSON.stringify(seen)).to.not.include("message 3");
    expect((await events(o.acceptorKey)).length).to.equal(seen.length);
    const stranger = await o.w.key("platform", Wallet.createRandom().address);
    expect(await events(stranger)).to.deep.equal([]);
  });

  it("when prev is not the head → 409 message-conflict with the head; nothing stored", async () => {
    const before = await thread();
    const stale = await signed(user, before.items[0].hash, "stale");
    const res = await post(o.platformKey, stale);
    expect(res.status, JSON.stringify(res.body)).to.equal(409);
    expect(res.body).to.include({ type: "https://usdt-escrow.dev/problems/message-conflict", head: before.head });
    expect(await thread()).to.deep.equal(before);
  });

  it("when two posts name the same head at once → exactly one 201, the other 409 message-conflict", async () => {
    const h = await head();
    const a = await signed(user, h, "from the user");
    const b = await signed(o.acceptorSigner, h, "from the acceptor");
    const results = await Promise.all([post(o.platformKey, a), post(o.acceptorKey, b)]);
    expect(results.map((r) => r.status).sort()).to.deep.equal([201, 409]);
    const won = results.find((r) => r.status === 201)!.body.message as OrderMessage;
    const t = await thread();
    expect(t.head).to.equal(won.hash);
    expect(t.items.filter((m) => m.prev === h)).to.have.length(1);
  });

  it("when the signature is another key's → 422 invalid-signature; nothing stored", async () => {
    const h = await head();
    const forged = await signed(Wallet.createRandom(), h, "I never got the money");
    const res = await post(o.acceptorKey, { ...forged, author: await o.w.address(o.acceptorSigner) });
    expect(res.status, JSON.stringify(res.body)).to.equal(422);
    expect(res.body.type).to.equal("https://usdt-escrow.dev/problems/invalid-signature");
    // Signed by the author, but over another body than the one sent.
    const other = await signed(user, h, "original");
    const altered = await post(o.platformKey, { ...other, body: "altered" });
    expect(altered.status, JSON.stringify(altered.body)).to.equal(422);
    expect(await head()).to.equal(h);
  });

  it("when the key does not speak for the author → 403 forbidden (platform for the acceptor, acceptor for the user)", async () => {
    const h = await head();
    const asAcceptor = await signed(o.acceptorSigner, h, "by the platform's key");
    expect((await post(o.platformKey, asAcceptor)).status).to.equal(403);
    const asUser = await signed(user, h, "by the acceptor's key");
    expect((await post(o.acceptorKey, asUser)).status).to.equal(403);
    // An author with no part in the order, whoever signs.
    const outsider = Wallet.createRandom();
    expect((await post(adminKey, await signed(outsider, h, "hello"))).status).to.equal(403);
    expect(await head()).to.equal(h);
  });

  it("when another platform's or acceptor's key asks → 404 order-not-found, as the order routes answer; a read key → 403", async () => {
    const h = await head();
    const m = await signed(user, h, "hi");
    for (const key of [
      await o.w.key("platform", Wallet.createRandom().address),
      await o.w.key("acceptor", Wallet.createRandom().address),
      await o.w.key("gateway", Wallet.createRandom().address),
    ]) {
      for (const res of [
        await o.w.http.get(path()).set(bearer(key)),
        await o.w.http.get(`${path()}/bundle`).set(bearer(key)),
        await post(key, m),
      ]) {
        expect(res.status, JSON.stringify(res.body)).to.equal(404);
        expect(res.body.type).to.equal("https://usdt-escrow.dev/problems/order-not-found");
      }
    }
    const read = await o.w.key("read", userAddress);
    expect((await o.w.http.get(path()).set(bearer(read))).status).to.equal(403);
    expect((await o.w.http.get(path())).status).to.equal(401);
    expect(await head()).to.equal(h);
  });

  it("when the body is empty, too long in code points or has control characters → 400; MESSAGE_MAX_CHARS code points pass", async () => {
    const h = await head();
    const bad = [
      "",
      "🚀".repeat(4001),
      "nul \u0000 byte",
      "carriage\r\nreturn",
      "bell \u0007",
      "c1 \u0085",
      "lone \ud800",
    ];
    for (const body of bad) {
      const res = await post(o.platformKey, await signed(user, h, "x").then((m) => ({ ...m, body })));
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.errors?.[0]?.parameter, JSON.stringify(res.body)).to.equal("body");
    }
    for (const body of [undefined, 42]) {
      const res = await post(o.platformKey, { ...(await signed(user, h, "x")), body });
      expect(res.status).to.equal(400);
    }
    expect((await post(o.platformKey, { ...(await signed(user, h, "x")), prev: "0x12" })).status).to.equal(400);
    expect(await head()).to.equal(h);
    // 4000 code points (8000 UTF-16 units) is the default limit, and taken.
    const long = await signed(user, h, "🚀".repeat(4000));
    const res = await post(o.platformKey, long);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
  });

  it("when sentAt is more than 300 s off the relayer's clock → 422 message-clock-skew", async () => {
    const h = await head();
    for (const sentAt of [nowS() - 3600, nowS() + 3600]) {
      const res = await post(o.platformKey, await signed(user, h, "late", { sentAt }));
      expect(res.status, JSON.stringify(res.body)).to.equal(422);
      expect(res.body.type).to.equal("https://usdt-escrow.dev/problems/message-clock-skew");
    }
    expect(await head()).to.equal(h);
  });

  it("on the checkout (no key): GET → the thread; the user's own signature → 201; another author → 422 wrong-signer", async () => {
    const listed = await o.w.http.get(`/v1/checkout/${order.id}/messages`).expect(200);
    const h = listed.body.head as string;
    expect(h).to.equal(await head());
    const notUser = await post(undefined, await signed(o.acceptorSigner, h, "acceptor on the checkout"));
    expect(notUser.status, JSON.stringify(notUser.body)).to.equal(422);
    expect(notUser.body.type).to.equal("https://usdt-escrow.dev/problems/wrong-signer");
    const forged = await post(undefined, { ...(await signed(Wallet.createRandom(), h, "x")), author: userAddress });
    expect(forged.status).to.equal(422);
    const ok = await post(undefined, await signed(user, h, "sent from my checkout"));
    expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
    expect(ok.body.message.role).to.equal("user");
  });

  it("the deal's gateway: before a dispute → 403 (reading and writing); once disputed → reads, writes and exports", async () => {
    expect((await o.w.http.get(path()).set(bearer(gatewayKey))).status).to.equal(403);
    expect((await o.w.http.get(`${path()}/bundle`).set(bearer(gatewayKey))).status).to.equal(403);
    const early = await signed(o.w.p.gateway, await head(), "too early");
    expect((await post(gatewayKey, early)).status).to.equal(403);
    expect((await post(adminKey, early)).status).to.equal(403);
    // The user says paid; the acceptor disputes.
    await o.until(order.id, "funded");
    await o.checkoutConfirm(order.id, "performed", user);
    await o.until(order.id, "paid");
    const disputed = await o.w.confirm(
      order.dealId,
      "dispute",
      o.acceptorSigner,
      await o.w.key("party", o.acceptorSigner),
    );
    expect(disputed.status, JSON.stringify(disputed.body)).to.equal(202);
    await o.until(order.id, "disputed");
    const t = await thread(gatewayKey);
    const m = await signed(o.w.p.gateway, t.head, "Please both upload your bank statements.");
    const res = await post(gatewayKey, m);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.message).to.include({ role: "gateway", author: gatewayAddress });
    // The gateway's key speaks for the gateway only.
    const asUser = await signed(user, res.body.message.hash, "not mine");
    expect((await post(gatewayKey, asUser)).status).to.equal(403);
  });

  it("the bundle verifies from the outside: every hash, the chain, each author's signature and the relayer's", async () => {
    const res = await o.w.http.get(`${path()}/bundle`).set(bearer(gatewayKey));
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const { bundle, relayer, signature } = res.body as {
      bundle: {
        orderId: string;
        dealId: string;
        chainId: number;
        escrow: string;
        head: string;
        messages: OrderMessage[];
      };
      relayer: string;
      signature: string;
    };
    expect(bundle).to.include({
      orderId: order.id,
      dealId: order.dealId,
      chainId: o.w.relayer.chainId,
      escrow: o.escrow,
    });
    expect(bundle.messages.length).to.be.at.least(8);
    let prev = ZERO_HASH;
    for (const m of bundle.messages) {
      expect(m.prev).to.equal(prev);
      expect(orderMessageHash(m)).to.equal(m.hash);
      expect(verifyMessage(orderMessageText(m), m.signature).toLowerCase()).to.equal(m.author);
      prev = m.hash;
    }
    expect(bundle.head).to.equal(prev);
    expect(new Set(bundle.messages.map((m) => m.role))).to.deep.equal(new Set(["user", "acceptor", "gateway"]));
    const hash = bundleHash(bundle as unknown as Record<string, unknown>);
    expect(res.body.bundleHash).to.equal(hash);
    expect(relayer).to.equal(o.w.signer);
    expect(verifyMessage(getBytes(hash), signature).toLowerCase()).to.equal(relayer);
    // One changed byte in a stored message breaks its hash and the relayer's signature.
    const tampered = structuredClone(bundle);
    tampered.messages[1].body += ".";
    expect(orderMessageHash(tampered.messages[1])).to.not.equal(tampered.messages[1].hash);
    expect(verifyMessage(getBytes(bundleHash(tampered as unknown as Record<string, unknown>)), signature)).to.not.equal(
      relayer,
    );
  });

  describe("the service alone (on the same Redis)", () => {
    const stub = (redis = o.w.relayer.redis) => ({
      redis,
      store: o.w.relayer.store,
      getOrder: async (id: string) =>
        id === order.id
          ? ({ ...order, user: userAddress, platform: "0x" + "77".repeat(20), history: [] } as unknown as Order)
          : undefined,
      checkSignature: async () => ({ ok: true as const, via: "eoa" as const, signature: "0x" }),
      chainId: o.w.relayer.chainId,
      escrow: o.escrow,
      maxChars: 4000,
    });
    const admin = { key: { id: "k", scope: "admin" as const, owner: "0x" + "ad".repeat(20) } };

    it("when the relayer has no signer key → the bundle answers 503 unavailable", async () => {
      const messages = createMessages(stub());
      const error = await messages.bundle(admin, order.id).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ApiProblem);
      expect((error as ApiProblem).kind).to.equal("unavailable");
    });

    it("when the thread is full → 409 message-thread-full; nothing stored", async () => {
      const { head: h, items } = await thread();
      const messages = createMessages({ ...stub(), maxMessages: items.length });
      const m = await signed(user, h, "one too many");
      const error = await messages.post(admin, order.id, m).catch((e: unknown) => e);
      expect((error as ApiProblem).kind).to.equal("message-thread-full");
      expect((await thread()).head).to.equal(h);
    });
  });
});
