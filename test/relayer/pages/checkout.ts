/**
 * The hosted checkout in a real browser: Debian's Chromium (playwright-core) against the whole relayer in-process
 * (real Redis, a real Hardhat node), the user's wallet being the node's unlocked accounts behind `window.ethereum`.
 * Each page state is checked with axe-core (no serious or critical violation), for Content-Security-Policy refusals,
 * and saved as a screenshot under test-artifacts/pages/. Branch spec: checkout.tree.
 */
import { expect } from "chai";
import type { WriteRelayer } from "../support/write";
import { launchBrowser, NARROW, type TestBrowser, type WalletPage } from "../support/browser";
import { PAYMENT_DETAILS, startOrdersRelayer, type OrdersRelayer } from "../support/orders";

const ORDER = "ord_0123456789abcdef01234567";

describe("hosted checkout page (Chromium, real relayer)", function () {
  this.timeout(300_000);
  let o: OrdersRelayer;
  let w: WriteRelayer;
  let b: TestBrowser;
  let origin: string;

  before(async function () {
    b = await launchBrowser();
    // The acceptor auto-accepts: a buy order is funded by the relayer's lock delegate, a sell order waits for the
    // user's signed open on the checkout.
    o = await startOrdersRelayer("pages-checkout", { auto: true, online: true });
    w = o.w;
    origin = `http://127.0.0.1:${w.relayer.port}`;
  });
  after(async function () {
    await b?.close();
    await o?.stop();
  });

  /** The checkout of `orderId` in a fresh page whose wallet is `account`. */
  async function open(orderId: string, account: string, viewport = NARROW): Promise<WalletPage> {
    const page = await b.page({ rpcUrl: w.node.url, account, viewport });
    await page.goto(`${origin}/checkout/${orderId}`);
    await page.locator("#order").waitFor({ state: "visible" });
    return page;
  }
  const status = (page: WalletPage) => page.locator("#status");
  const wallet = (page: WalletPage) => page.rpc.map((r) => r.method);

  describe("serving", function () {
    it("when GET /checkout/{a well-formed order id} → 200 HTML with a strict CSP, nosniff, no referrer", async function () {
      const res = await w.http.get(`/checkout/${ORDER}`).expect(200);
      expect(res.headers["content-type"]).to.equal("text/html; charset=utf-8");
      const csp = res.headers["content-security-policy"] as string;
      for (const directive of [
        "default-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
      ]) {
        expect(csp).to.include(directive);
      }
      expect(csp).not.to.include("unsafe-inline");
      expect(res.headers["x-content-type-options"]).to.equal("nosniff");
      expect(res.headers["referrer-policy"]).to.equal("no-referrer");
      expect(res.headers["cache-control"]).to.equal("no-store");
      expect(res.text).to.include('src="/assets/checkout.js"');
      expect(res.text, "no inline script").not.to.match(/<script(?![^>]*\bsrc=)[^>]*>/);
    });

    it("when the order id is malformed → 404 HTML page (not the checkout)", async function () {
      for (const bad of ["ord_123", "ord_0123456789ABCDEF01234567", "0123456789abcdef01234567", `${ORDER}0`]) {
        const res = await w.http.get(`/checkout/${bad}`).expect(404);
        expect(res.headers["content-type"]).to.equal("text/html; charset=utf-8");
        expect(res.headers["content-security-policy"]).to.include("default-src 'self'");
        expect(res.text).to.include("Not found");
        expect(res.text).not.to.include("checkout.js");
      }
    });

    it("when an asset is requested → its content type and Cache-Control public, max-age=300", async function () {
      const types: Record<string, string> = {
        "checkout.js": "text/javascript; charset=utf-8",
        "wallet.js": "text/javascript; charset=utf-8",
        "common.js": "text/javascript; charset=utf-8",
        "app.css": "text/css; charset=utf-8",
      };
      for (const [file, type] of Object.entries(types)) {
        const res = await w.http.get(`/assets/${file}`).expect(200);
        expect(res.headers["content-type"], file).to.equal(type);
        expect(res.headers["cache-control"], file).to.equal("public, max-age=300");
        expect(res.headers["x-content-type-options"], file).to.equal("nosniff");
      }
    });

    it("when an unknown asset, a page as an asset or a path outside the pages is asked → 404 problem", async function () {
      for (const path of [
        "/assets/nope.js",
        "/assets/checkout.html",
        "/assets/..%2Fsrc%2Fapi%2Fpages.ts",
        "/assets/%2e%2e%2fpackage.json",
        "/assets/../package.json",
      ]) {
        const res = await w.http.get(path);
        expect(res.status, path).to.equal(404);
        expect(res.headers["content-type"], path).to.match(/^application\/problem\+json/);
      }
    });

    it("when the checkout of an order the relayer does not know is opened → the page shows the API's detail", async function () {
      const page = await b.page({ viewport: NARROW });
      await page.goto(`${origin}/checkout/${ORDER}`);
      const alert = page.getByRole("alert");
      await alert.waitFor({ state: "visible" });
      expect(await alert.textContent()).to.not.equal("");
      await b.fits(page);
      await b.check(page, "checkout-unknown-order");
      await page.context().close();
    });
  });

  describe("a buy order (the user pays fiat, receives USDT)", function () {
    it("when funded → amount, fiat, method, payment details and countdown; “I have paid” signs performed; “Escalate if not released” signs a dispute held by the keeper; the acceptor's release shows released", async function () {
      const user = w.p.payees[0];
      const address = await w.address(user);
      const order = await o.createOrder({ side: "buy", user: address });
      const page = await open(order.id, address);

      await page.locator("#details").waitFor({ state: "visible" });
      expect(await page.locator("#details-text").textContent()).to.equal(PAYMENT_DETAILS);
      expect(await page.locator("#get").textContent()).to.equal("125.50 USDT");
      expect(await page.locator("#pay").textContent()).to.match(/115\.46/);
      expect(await page.locator("#method").textContent()).to.equal("SEPA:EUR");
      expect(await page.locator("#countdown").textContent()).to.match(/^\d+:\d\d$/);
      expect(await page.locator('[aria-current="step"]').textContent()).to.equal("Waiting for payment");
      await b.fits(page);
      await b.check(page, "checkout-buy-funded");
      await page.getByRole("button", { name: "Copy details" }).click();
      await page.locator("#copied", { hasText: "Copied." }).waitFor();
      expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal(PAYMENT_DETAILS);

      await page.getByRole("button", { name: "I have paid" }).click();
      await o.until(order.id, "paid");
      await page.locator('[aria-current="step"]', { hasText: "Paid" }).waitFor();
      expect(await status(page).textContent()).to.match(/Payment reported/);
      expect(wallet(page)).to.include.members(["eth_requestAccounts", "eth_signTypedData_v4"]);
      // The user's one step left: sign its escalation in advance (held by the keeper, sent only past the window).
      const escalate = page.getByRole("button", { name: "Escalate if not released" });
      await escalate.waitFor();
      await b.check(page, "checkout-buy-paid");
      await escalate.click();
      await page.locator("#escalation-note", { hasText: "Escalation signed" }).waitFor();
      expect(await page.locator("#actions").isHidden(), "no step left for the user").to.equal(true);
      const held = await w.http.get(`/v1/checkout/${order.id}`).expect(200);
      expect(held.body.escalation).to.include({ state: "waiting" });
      await b.check(page, "checkout-buy-escalation-held");

      const released = await w.confirm(order.dealId, "release", o.acceptorSigner, o.acceptorKey);
      expect(released.status, JSON.stringify(released.body)).to.equal(202);
      await o.until(order.id, "released");
      await page.locator("#status", { hasText: "released to you" }).waitFor();
      expect(await page.locator("#countdown-row").isHidden(), "no countdown once over").to.equal(true);
      await b.check(page, "checkout-buy-released");
      await page.context().close();
    });
  });

  describe("a sell order (the user pays USDT, receives fiat)", function () {
    it("when accepted → connect, approve (no allowance yet) and sign the open funds it; the acceptor's performed offers “I received the fiat”, which releases", async function () {
      const user = await o.freshUser(17);
      const order = await o.createOrder({ side: "sell", user: user.address });
      const page = await open(order.id, user.address, { width: 1024, height: 800 });
      const pay = page.getByRole("button", { name: "Connect wallet and pay" });
      await pay.waitFor();
      expect(await page.locator("#pay").textContent()).to.equal("125.50 USDT");
      await b.check(page, "checkout-sell-accepted");

      await pay.click();
      await o.until(order.id, "funded");
      await page.locator("#status", { hasText: "in escrow" }).waitFor();
      expect(wallet(page)).to.include.members([
        "eth_requestAccounts",
        "eth_call",
        "eth_sendTransaction",
        "eth_getTransactionReceipt",
        "eth_signTypedData_v4",
      ]);
      expect(await page.locator("#actions").isHidden()).to.equal(true);
      await b.check(page, "checkout-sell-funded");

      const performed = await w.confirm(order.dealId, "performed", o.acceptorSigner, o.acceptorKey);
      expect(performed.status, JSON.stringify(performed.body)).to.equal(202);
      const received = page.getByRole("button", { name: "I received the fiat" });
      await received.waitFor();
      await b.check(page, "checkout-sell-paid");

      await received.click();
      await o.until(order.id, "released");
      await page.locator("#status", { hasText: "payment is complete" }).waitFor();
      expect(wallet(page).filter((m) => m === "eth_signTypedData_v4")).to.have.length(2);
      await b.check(page, "checkout-sell-released");
      await page.context().close();
    });

    it("when the acceptor says it sent the fiat but it did not arrive → “I did not receive it” signs a dispute; the page says it is disputed", async function () {
      const user = w.p.payers[2];
      const address = await w.address(user);
      const order = await o.createOrder({ side: "sell", user: address });
      await o.until(order.id, "accepted");
      await o.checkoutOpen(order.id, user);
      await o.until(order.id, "funded");
      const performed = await w.confirm(order.dealId, "performed", o.acceptorSigner, o.acceptorKey);
      expect(performed.status, JSON.stringify(performed.body)).to.equal(202);
      await o.until(order.id, "paid");
      const page = await open(order.id, address);
      const dispute = page.getByRole("button", { name: "I did not receive it" });
      await dispute.waitFor();
      await dispute.click();
      await o.until(order.id, "disputed");
      await page.locator("#message", { hasText: "disputed" }).waitFor();
      expect(await page.locator("#actions").isHidden()).to.equal(true);
      expect(await page.locator("#countdown-row").isHidden()).to.equal(true);
      await b.check(page, "checkout-sell-disputed");
      await page.context().close();
    });

    it("when the connected wallet is not the order's user → the alert says which wallet to connect, nothing is signed", async function () {
      const user = await o.freshUser(18);
      const order = await o.createOrder({ side: "sell", user: user.address });
      const other = await w.address(w.p.accounts[19]);
      const page = await open(order.id, other);
      await page.getByRole("button", { name: /Connect wallet/ }).click();
      const alert = page.getByRole("alert");
      await alert.waitFor({ state: "visible" });
      expect(await alert.textContent()).to.include(user.address);
      expect(wallet(page)).not.to.include("eth_signTypedData_v4");
      await b.check(page, "checkout-wrong-wallet");
      await page.context().close();
    });

    it("when the platform cancels it before funding → a plain message, no steps and no button", async function () {
      const user = await o.freshUser(18);
      const order = await o.createOrder({ side: "sell", user: user.address });
      await w.http.post(`/v1/orders/${order.id}/cancel`).set(o.bearer(o.platformKey)).send({}).expect(200);
      const page = await open(order.id, user.address);
      await page.locator("#message", { hasText: "cancelled" }).waitFor();
      expect(await page.locator("#steps").isHidden()).to.equal(true);
      expect(await page.locator("#actions").isHidden()).to.equal(true);
      await b.check(page, "checkout-cancelled");
      await page.context().close();
    });
  });
});
