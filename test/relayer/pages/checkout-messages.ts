/**
 * The checkout page's Messages panel in a real browser (Debian's Chromium, playwright-core) against the whole relayer
 * in-process: the user's wallet (the node's unlocked account behind `window.ethereum`) signs each message with
 * personal_sign, the relayer checks it, and the acceptor's answer shows on a later poll. axe-core and the CSP are
 * checked on each state, as for the rest of the checkout. Branch spec: checkout-messages.tree.
 */
import { expect } from "chai";
import { verifyMessage } from "ethers";
import { orderMessageText, type OrderMessage } from "../../../protocol";
import { launchBrowser, NARROW, type TestBrowser, type WalletPage } from "../support/browser";
import { startOrdersRelayer, type OrdersRelayer } from "../support/orders";

describe("checkout page: messages (Chromium, real relayer)", function () {
  this.timeout(180_000);
  let o: OrdersRelayer;
  let b: TestBrowser;
  let origin: string;

  before(async function () {
    b = await launchBrowser();
    o = await startOrdersRelayer("pages-messages", { auto: true, online: true });
    origin = `http://127.0.0.1:${o.w.relayer.port}`;
  });
  after(async function () {
    await b?.close();
    await o?.stop();
  });

  async function open(orderId: string, account: string): Promise<WalletPage> {
    const page = await b.page({ rpcUrl: o.w.node.url, account, viewport: NARROW });
    await page.goto(`${origin}/checkout/${orderId}`);
    await page.locator("#order").waitFor({ state: "visible" });
    return page;
  }
  const thread = async (orderId: string) =>
    (await o.w.http.get(`/v1/checkout/${orderId}/messages`).expect(200)).body as {
      head: string;
      items: OrderMessage[];
    };

  it("the user signs and sends a message; the acceptor's answer shows as the payment partner's", async function () {
    const user = o.w.p.payees[1];
    const address = await o.w.address(user);
    const order = await o.createOrder({ side: "buy", user: address });
    const page = await open(order.id, address);
    await page.locator("#msgs").waitFor({ state: "visible" });
    await page.locator("#msg-empty", { hasText: "No messages yet." }).waitFor();
    await b.fits(page);
    await b.check(page, "checkout-messages-empty");

    // A blank message asks the wallet nothing.
    await page.getByLabel("Your message").fill("   ");
    await page.getByRole("button", { name: "Sign and send" }).click();
    await page.locator("#msg-alert", { hasText: "Write a message first." }).waitFor();
    expect(page.rpc.map((r) => r.method)).to.not.include("personal_sign");

    const text = "I sent the transfer: reference 42.\nPlease check — ✓";
    await page.getByLabel("Your message").fill(text);
    await page.getByRole("button", { name: "Sign and send" }).click();
    await page.locator("#msg-list li", { hasText: "reference 42" }).waitFor();
    expect(await page.getByLabel("Your message").inputValue()).to.equal("");
    expect(await page.locator("#msg-alert").isHidden()).to.equal(true);
    expect(page.rpc.map((r) => r.method)).to.include("personal_sign");
    const [sent] = (await thread(order.id)).items;
    expect(sent).to.include({ role: "user", author: address, body: text });
    expect(verifyMessage(orderMessageText(sent), sent.signature).toLowerCase()).to.equal(address);
    await b.check(page, "checkout-messages-sent");

    // The acceptor answers through the API; the page shows it on a later poll.
    const fields = {
      orderId: order.id,
      dealId: order.dealId,
      author: o.acceptor,
      prev: sent.hash,
      sentAt: Math.floor(Date.now() / 1000),
      body: "Received, releasing now.",
    };
    const signature = await o.acceptorSigner.signMessage(orderMessageText(fields));
    const { orderId: _o, dealId: _d, ...body } = fields;
    const answer = await o.w.http
      .post(`/v1/orders/${order.id}/messages`)
      .set(o.bearer(o.acceptorKey))
      .send({ ...body, signature });
    expect(answer.status, JSON.stringify(answer.body)).to.equal(201);
    const item = page.locator("#msg-list li", { hasText: "Received, releasing now." });
    await item.waitFor({ timeout: 20_000 });
    expect(await item.locator("strong").textContent()).to.equal("Payment partner");
    await b.check(page, "checkout-messages-answered");
    await page.context().close();
  });

  it("when the connected wallet is not the order's user → the panel says which wallet to connect; nothing is sent", async function () {
    const address = await o.w.address(o.w.p.payees[2]);
    const order = await o.createOrder({ side: "buy", user: address });
    const other = await o.w.address(o.w.p.payees[3]);
    const page = await open(order.id, other);
    await page.locator("#msgs").waitFor({ state: "visible" });
    await page.getByLabel("Your message").fill("hello");
    await page.getByRole("button", { name: "Sign and send" }).click();
    await page.locator("#msg-alert", { hasText: "Connect the wallet of this order" }).waitFor();
    expect(page.rpc.map((r) => r.method)).to.not.include("personal_sign");
    expect((await thread(order.id)).items).to.deep.equal([]);
    b.clean(page);
    await page.context().close();
  });
});
