/**
 * The gateway console in a real browser: Debian's Chromium (playwright-core) against the whole relayer in-process
 * (real Redis, a real Hardhat node). The gateway signs in with its API key, finds the dispute in its queue, opens
 * it (evidence and messages show "none" where the relayer has none or lacks the route), moves the split slider to
 * 70 %, writes its reasons and signs with its wallet (`window.ethereum`: its node account signs for real); the
 * ruling lands on chain with the reasons' hash. Each state is axe-checked and saved under test-artifacts/pages/.
 * Branch spec: gateway.tree.
 */
import { expect } from "chai";
import { reasonsHash } from "../../../protocol";
import { startWriteRelayer, type WriteRelayer } from "../support/write";
import { launchBrowser, type TestBrowser, type WalletPage } from "../support/browser";

const REASONS = "Seven of ten items arrived (photos); the payer keeps the price of the rest.";

describe("gateway console (Chromium, real relayer)", function () {
  this.timeout(180_000);
  let w: WriteRelayer;
  let b: TestBrowser;
  let origin: string;
  let gateway: string;
  let dealId: string;

  before(async function () {
    b = await launchBrowser();
    // An alert span longer than the resolution window: the dispute shows in the warning style at once.
    w = await startWriteRelayer("pages-gateway", { DISPUTE_ALERT_S: "300000" });
    origin = `http://127.0.0.1:${w.relayer.port}`;
    gateway = (await w.p.gateway.getAddress()).toLowerCase();
    const payerKey = await w.key("party", w.p.payers[0]);
    const payeeKey = await w.key("party", w.p.payees[0]);
    const d = await w.openDeal();
    dealId = d.dealId;
    expect((await w.confirm(dealId, "performed", d.payee, payeeKey)).status).to.equal(202);
    await w.indexed(dealId, "performed");
    const res = await w.confirm(dealId, "dispute", d.payer, payerKey);
    await w.final(res.body.submission.id);
    await w.indexed(dealId, "disputed");
  });
  after(async function () {
    await b?.close();
    await w?.stop();
  });

  async function console_(): Promise<WalletPage> {
    const page = await b.page({ rpcUrl: w.node.url, account: gateway, viewport: { width: 1024, height: 900 } });
    await page.goto(`${origin}/gateway`);
    return page;
  }
  async function signIn(page: WalletPage, key: string) {
    await page.getByLabel("API key (gateway scope)").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

  it("when GET /gateway → 200 HTML with the pages' CSP", async function () {
    const res = await w.http.get("/gateway").expect(200);
    expect(res.headers["content-security-policy"]).to.include("default-src 'self'");
    expect(res.text).to.include('src="/assets/gateway.js"');
    await w.http.get("/assets/gateway.js").expect(200);
  });

  it("when a party's key signs in → the alert shows the API's detail and the key is not kept", async function () {
    const page = await console_();
    await b.check(page, "gateway-sign-in");
    await signIn(page, await w.key("party", w.p.payers[0]));
    const alert = page.getByRole("alert");
    await alert.waitFor({ state: "visible" });
    expect(await alert.textContent()).to.not.equal("");
    expect(await page.evaluate(() => sessionStorage.getItem("gatewayKey"))).to.equal(null);
    await page.context().close();
  });

  it("when the gateway signs in, opens the dispute and rules 70/30 with reasons → the ruling lands on chain", async function () {
    const page = await console_();
    await signIn(page, await w.key("gateway", gateway));
    const item = page.locator(`[data-deal="${dealId}"]`);
    await item.waitFor();
    expect(await item.locator(".countdown").textContent()).to.match(/\d+:\d\d:\d\d/);
    expect(await item.locator(".countdown.warn").count(), "inside the alert span: the warning style").to.equal(1);
    expect(await item.getAttribute("class")).to.include("closing");
    await b.check(page, "gateway-queue");

    await item.getByRole("button", { name: "Open dispute" }).click();
    await page.locator("#detail-heading").waitFor();
    expect(await page.locator("#evidence-list").textContent()).to.equal("none");
    expect(await page.locator("#message-list").textContent()).to.equal("none");
    await page.getByRole("slider").fill("70");
    expect(await page.locator("#payee-amount").textContent()).to.include("70.00 USDT");
    expect(await page.locator("#payer-amount").textContent()).to.include("30.00 USDT");
    await page.getByLabel(/Reasons/).fill(REASONS);
    await b.check(page, "gateway-ruling-form");
    await page.getByRole("button", { name: "Sign ruling" }).click();
    await page.locator(".ruled").waitFor({ timeout: 60_000 });
    expect(page.rpc.map((r) => r.method)).to.include("eth_signTypedData_v4");
    const deal = await w.indexed(dealId, "resolved");
    expect(deal.reasons).to.equal(reasonsHash(REASONS));
    expect(deal.resolvedBy).to.equal(gateway);
    expect(BigInt(deal.payeeAmount) + BigInt(deal.fee)).to.equal(70_000_000n);
    await b.check(page, "gateway-ruled");
    await page.context().close();
  });
});
