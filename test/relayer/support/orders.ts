/**
 * Orders for the page tests: the write fixture (support/write.ts) with one acceptor's desk set up through the API
 * (its profile by PUT /v1/acceptor/profile with its own key), a platform key that creates orders, and helpers to
 * wait for an order's status and to sign the checkout's typed data as the user's wallet does.
 *
 *   const o = await startOrdersRelayer("checkout", { auto: true });
 *   const order = await o.createOrder({ side: "buy", user });
 *   await o.until(order.id, "funded");
 */
import { expect } from "chai";
import { Wallet, type JsonRpcSigner } from "ethers";
import { USDT } from "./activity";
import { startWriteRelayer, type WriteRelayer } from "./write";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WAIT_MS = 60_000;

export const PAYMENT_DETAILS = "IBAN DE89 3704 0044 0532 0130 00\nBIC COBADEFFXXX";

export type OrderBody = { id: string; status: string; acceptor: string; dealId: string; side: string };

/**
 * `auto`: the acceptor auto-accepts, its on-chain lock delegate being the relayer's LOCK_DELEGATE_KEY (a buy order
 * is then funded without the acceptor); otherwise it accepts by hand. `online`: whether the desk starts online.
 */
export async function startOrdersRelayer(name: string, opts: { auto: boolean; online: boolean }) {
  const delegate = Wallet.createRandom();
  const w: WriteRelayer = await startWriteRelayer(name, {
    LOCK_DELEGATE_KEY: delegate.privateKey,
    ORDER_SWEEP_MS: "100",
    // Online is the switch the tests set; a heartbeat's age never takes the acceptor offline mid-test.
    ACCEPTOR_HEARTBEAT_MS: "3600000",
  });
  const { p } = w;
  const acceptorSigner = p.acceptor;
  const acceptor = await w.address(acceptorSigner);
  const token = (await p.usdt.getAddress()).toLowerCase();
  const escrow = (await p.escrow.getAddress()).toLowerCase();
  if (opts.auto) await (await p.registry.connect(acceptorSigner).setLockDelegate(delegate.address)).wait();
  const acceptorKey = await w.key("acceptor", acceptorSigner);
  const platformKey = await w.key("platform", "0x" + "77".repeat(20));
  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

  const profile = await w.http
    .put("/v1/acceptor/profile")
    .set(bearer(acceptorKey))
    .send({
      rates: { EUR: "0.92" },
      methods: {
        "SEPA:EUR": { minAmount: USDT(1).toString(), maxAmount: USDT(10_000).toString(), details: PAYMENT_DETAILS },
      },
      autoAccept: opts.auto,
      paused: false,
    });
  expect(profile.status, JSON.stringify(profile.body)).to.equal(200);
  await w.http.post("/v1/acceptor/heartbeat").set(bearer(acceptorKey)).send({ online: opts.online }).expect(200);
  // Matching reads the projection: wait until it shows the acceptor's float (and its new delegate).
  for (const deadline = Date.now() + WAIT_MS; ;) {
    const [acc] = await w.relayer.store.getHashes([`acc:${acceptor}`]);
    const delegateOk = !opts.auto || acc?.lockDelegate?.toLowerCase() === delegate.address.toLowerCase();
    if (acc?.[`free:${token}`] && delegateOk) break;
    if (Date.now() > deadline) throw new Error("the acceptor was not indexed");
    await sleep(50);
  }

  const o = {
    w,
    acceptorSigner,
    acceptor,
    acceptorKey,
    platformKey,
    token,
    escrow,
    bearer,
    /** A new order by the platform (201 expected). */
    async createOrder(body: { side: "buy" | "sell"; user: string; amount?: bigint; reference?: string }) {
      const res = await w.http
        .post("/v1/orders")
        .set(bearer(platformKey))
        .send({
          side: body.side,
          amount: (body.amount ?? USDT(125.5)).toString(),
          token,
          currency: "EUR",
          method: "SEPA",
          user: body.user,
          reference: body.reference ?? `cart-${Math.random().toString(16).slice(2, 10)}`,
        });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      return res.body as OrderBody;
    },
    /** Waits until the order is in `status` (as its platform sees it). */
    async until(orderId: string, status: string) {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const res = await w.http.get(`/v1/orders/${orderId}`).set(bearer(platformKey));
        if (res.status === 200 && res.body.status === status) return res.body as OrderBody;
        if (Date.now() > deadline) throw new Error(`order ${orderId} not ${status}: ${JSON.stringify(res.body)}`);
        await sleep(50);
      }
    },
    /** The user signs the checkout's typed data for `action` and posts it (202 expected). */
    async checkoutConfirm(orderId: string, action: string, user: JsonRpcSigner) {
      const typed = await w.http.get(`/v1/checkout/${orderId}/typed-data?action=${action}`).expect(200);
      const signature = await w.signTyped(user, typed.body.typedData);
      const res = await w.http
        .post(`/v1/checkout/${orderId}/confirmations`)
        .send({ action, signer: await w.address(user), signature, expiry: typed.body.expiry });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
    },
    /** The user signs the sell order's Open on the checkout's typed data and posts it (202 expected). */
    async checkoutOpen(orderId: string, user: JsonRpcSigner) {
      const typed = await w.http.get(`/v1/checkout/${orderId}/typed-data?action=open`).expect(200);
      const signature = await w.signTyped(user, typed.body.typedData);
      const res = await w.http
        .post(`/v1/checkout/${orderId}/open`)
        .send({ signature, expiry: typed.body.expiry ?? typed.body.typedData.message.expiry });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
    },
    /** A node account with USDT but no allowance for the escrow (its checkout must approve first). */
    async freshUser(index: number) {
      const signer = p.accounts[index];
      const address = await w.address(signer);
      await (await p.usdt.mint(address, USDT(1_000))).wait();
      expect(await p.usdt.allowance(address, escrow)).to.equal(0n);
      return { signer, address };
    },
    stop: () => w.stop(),
  };
  return o;
}

export type OrdersRelayer = Awaited<ReturnType<typeof startOrdersRelayer>>;
