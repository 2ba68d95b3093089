/**
 * The acceptor console in a real browser: Debian's Chromium (playwright-core) against the whole relayer in-process
 * (real Redis, a real Hardhat node). The acceptor signs in with its API key, goes online, and works a buy and a sell
 * order with the buttons; its wallet (`window.ethereum`) is its node account, which signs the Lock and the
 * confirmations for real. The user's side is played through the checkout API. Each state is axe-checked (no
 * serious or critical violation) and saved under test-artifacts/pages/. Branch spec: acceptor.tree.
 */
import { expect } from "chai";
import type { WriteRelayer } from "../support/write";
import { launchBrowser, NARROW, type TestBrowser, type WalletPage } from "../support/browser";
import { startOrdersRelayer, type OrdersRelayer } from "../support/orders";

describe("acceptor console (Chromium, real relayer)", function () {
  this.timeout(300_000);
  let o: OrdersRelayer;
  let w: WriteRelayer;
  let b: TestBrowser;
  let origin: string;

  before(async function () {
    b = await launchBrowser();
    // A manual acceptor (no auto-accept), offline until the console takes it online.
    o = await startOrdersRelayer("pages-acceptor", { auto: false, online: false });
    w = o.w;
    origin = `http://127.0.0.1:${w.relayer.port}`;
  });
  after(async function () {
    await b?.close();
    await o?.stop();
  });

  async function console_(viewport = NARROW): Promise<WalletPage> {
    const page = await b.page({ rpcUrl: w.node.url, account: o.acceptor, viewport });
    await page.goto(`${origin}/acceptor`);
    return page;
  }
  async function signIn(page: WalletPage, key: string) {
    await page.getByLabel("API key (acceptor scope)").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  const item = (page: WalletPage, orderId: string) => page.locator(`[data-order="${orderId}"]`);
  const profile = async () =>
    (await w.http.get("/v1/acceptor/profile").set(o.bearer(o.acceptorKey)).expect(200)).body as { online: boolean };

  it("when GET /acceptor → 200 HTML with the pages' CSP, nosniff and no referrer", async function () {
    const res = await w.http.get("/acceptor").expect(200);
    expect(res.headers["content-type"]).to.equal("text/html; charset=utf-8");
    expect(res.headers["content-security-policy"]).to.include("default-src 'self'");
    expect(res.headers["content-security-policy"]).to.include("frame-ancestors 'none'");
    expect(res.headers["x-content-type-options"]).to.equal("nosniff");
    expect(res.headers["referrer-policy"]).to.equal("no-referrer");
    expect(res.text).to.include('src="/assets/acceptor.js"');
    await w.http.get("/acceptor/").expect(404);
  });

  it("when the key is wrong or not an acceptor's → the alert shows the API's detail and the key is not kept", async function () {
    const page = await console_();
    // Keyboard first: the first tab stop skips to the console, the key field is reachable and labelled.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).to.equal("Skip to the console");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal("main");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal("key");
    await b.check(page, "acceptor-sign-in");
    await signIn(page, "not-a-key");
    const alert = page.getByRole("alert");
    await alert.waitFor({ state: "visible" });
    expect(await alert.textContent()).to.not.equal("");
    await b.check(page, "acceptor-key-refused");
    const partyKey = await w.key("party", o.acceptor);
    const refused = page.waitForResponse((r) => r.url().endsWith("/v1/acceptor/profile"));
    await signIn(page, partyKey);
    expect((await refused).status()).to.equal(403);
    await alert.waitFor({ state: "visible" });
    expect(await alert.textContent()).to.not.equal("");
    expect(await page.locator("#console").isHidden()).to.equal(true);
    expect(await page.evaluate(() => sessionStorage.getItem("acceptorKey"))).to.equal(null);
    await page.context().close();
  });

  it("when the console goes online → heartbeats every 30 s while open; offline stops them", async function () {
    const page = await console_();
    await page.clock.install();
    await page.reload();
    const beats: string[] = [];
    page.on("request", (r) => {
      if (r.url().endsWith("/v1/acceptor/heartbeat")) beats.push(r.postData() ?? "");
    });
    await signIn(page, o.acceptorKey);
    const toggle = page.getByRole("button", { name: "Go online" });
    await toggle.click();
    await page.getByRole("button", { name: "Go offline" }).waitFor();
    expect(await page.getByRole("button", { name: "Go offline" }).getAttribute("aria-pressed")).to.equal("true");
    expect((await profile()).online).to.equal(true);
    expect(beats).to.deep.equal(['{"online":true}']);
    await page.clock.fastForward(30_500);
    for (let i = 0; i < 100 && beats.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(beats).to.deep.equal(['{"online":true}', "{}"]);
    await page.getByRole("button", { name: "Go offline" }).click();
    await page.getByRole("button", { name: "Go online" }).waitFor();
    expect((await profile()).online).to.equal(false);
    await page.clock.fastForward(61_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(beats).to.have.length(3);
    await page.context().close();
  });

  it("when signed in and online → a buy order: Accept signs the Lock with the wallet; after the user's payment “Fiat received” releases", async function () {
    const page = await console_();
    await signIn(page, o.acceptorKey);
    await page.locator("#profile-heading").waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal("profile-heading");
    expect(await page.locator("#acceptor-address").textContent()).to.equal(o.acceptor);
    await b.check(page, "acceptor-signed-in");
    await page.getByRole("button", { name: /Go online|Go offline/ }).click();
    await page.getByRole("button", { name: "Go offline" }).waitFor();

    const user = w.p.payees[1];
    const order = await o.createOrder({ side: "buy", user: await w.address(user) });
    expect(order.status).to.equal("assigned");
    const it_ = item(page, order.id);
    await it_.getByRole("button", { name: "Accept" }).waitFor();
    await b.fits(page);
    await b.check(page, "acceptor-buy-assigned");

    await it_.getByRole("button", { name: "Accept" }).click();
    await o.until(order.id, "funded");
    expect(page.rpc.map((r) => r.method)).to.include.members(["eth_requestAccounts", "eth_signTypedData_v4"]);
    await item(page, order.id).locator(".badge", { hasText: "Funded" }).waitFor();
    // Nothing to confirm until the user pays (the transfer's name can already be entered: its form's button).
    expect(await item(page, order.id).locator(".buttons button").count(), "nothing to do until the user pays").to.equal(
      0,
    );
    await item(page, order.id).getByLabel("Name on the incoming transfer").waitFor();

    await o.checkoutConfirm(order.id, "performed", user);
    const received = item(page, order.id).getByRole("button", { name: "Fiat received" });
    await received.waitFor();
    await b.check(page, "acceptor-buy-paid");
    await received.click();
    await o.until(order.id, "released");
    await item(page, order.id).locator(".badge", { hasText: "Released" }).waitFor();
    await page.locator("#status", { hasText: "Release confirmed" }).waitFor();
    await b.check(page, "acceptor-buy-released");
    await page.context().close();
  });

  it("when a sell order is assigned → Accept (nothing to sign); after the user's open “Fiat sent” marks it paid", async function () {
    const page = await console_({ width: 1024, height: 900 });
    // Signed in already in this tab? No: a new context has its own sessionStorage.
    await signIn(page, o.acceptorKey);
    await page.locator("#profile-heading").waitFor();
    const user = w.p.payers[1];
    const order = await o.createOrder({ side: "sell", user: await w.address(user) });
    await item(page, order.id).getByRole("button", { name: "Accept" }).click();
    await o.until(order.id, "accepted");
    expect(page.rpc.map((r) => r.method)).not.to.include("eth_signTypedData_v4");
    await o.checkoutOpen(order.id, user);
    await o.until(order.id, "funded");
    const sent = item(page, order.id).getByRole("button", { name: "Fiat sent" });
    await sent.waitFor();
    await b.check(page, "acceptor-sell-funded");
    await sent.click();
    await o.until(order.id, "paid");
    await item(page, order.id).locator(".badge", { hasText: "Paid" }).waitFor();
    await o.checkoutConfirm(order.id, "release", user);
    await o.until(order.id, "released");
    await item(page, order.id).locator(".badge", { hasText: "Released" }).waitFor();
    await b.check(page, "acceptor-sell-released");
    // Reloading keeps the session (sessionStorage); signing out forgets the key.
    await page.reload();
    await page.locator("#profile-heading").waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key (acceptor scope)").waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("acceptorKey"))).to.equal(null);
    await page.context().close();
  });

  it("when an assigned order is declined → it is re-matched away (no acceptor left: unmatched) and its buttons go", async function () {
    const page = await console_();
    await signIn(page, o.acceptorKey);
    await page.locator("#profile-heading").waitFor();
    const order = await o.createOrder({ side: "buy", user: await w.address(w.p.payees[2]) });
    await item(page, order.id).getByRole("button", { name: "Decline" }).click();
    await o.until(order.id, "unmatched");
    await page.waitForFunction((id) => !document.querySelector(`[data-order="${id}"] button`), order.id);
    await b.check(page, "acceptor-declined");
    await page.context().close();
  });
});
