/**
 * The acceptor console's fraud signals in a real browser (Debian's Chromium) against the whole relayer in-process
 * (real Redis, a real Hardhat node): on a paid buy order the acceptor enters the name on the incoming transfer next
 * to the declared payer name; a mismatch warns and "Fiat received" then needs "Release anyway"; a match releases at
 * once; a released order can be reported as charged back. The acceptor auto-accepts (the relayer's lock delegate),
 * its wallet signs the release. Each state is axe-checked. Branch spec: acceptor.tree ("Fraud signals").
 */
import { expect } from "chai";
import type { JsonRpcSigner } from "ethers";
import { USDT } from "../support/activity";
import type { WriteRelayer } from "../support/write";
import { launchBrowser, NARROW, type TestBrowser, type WalletPage } from "../support/browser";
import { startOrdersRelayer, type OrdersRelayer } from "../support/orders";

describe("acceptor console: payer name and chargebacks (Chromium, real relayer)", function () {
  this.timeout(120_000);
  let o: OrdersRelayer;
  let w: WriteRelayer;
  let b: TestBrowser;
  let origin: string;

  before(async function () {
    b = await launchBrowser();
    o = await startOrdersRelayer("pages-acceptor-fraud", { auto: true, online: true });
    w = o.w;
    origin = `http://127.0.0.1:${w.relayer.port}`;
  });
  after(async function () {
    await b?.close();
    await o?.stop();
  });

  async function signedIn(): Promise<WalletPage> {
    const page = await b.page({ rpcUrl: w.node.url, account: o.acceptor, viewport: NARROW });
    await page.goto(`${origin}/acceptor`);
    await page.getByLabel("API key (acceptor scope)").fill(o.acceptorKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#profile-heading").waitFor();
    return page;
  }
  const item = (page: WalletPage, orderId: string) => page.locator(`[data-order="${orderId}"]`);

  /** A buy order declaring `payerName`, funded by the delegate's lock and paid by the user on the checkout. */
  async function paidBuyOrder(user: JsonRpcSigner, payerName: string) {
    const res = await w.http
      .post("/v1/orders")
      .set(o.bearer(o.platformKey))
      .send({
        side: "buy",
        amount: USDT(20).toString(),
        token: o.token,
        currency: "EUR",
        method: "SEPA",
        user: await w.address(user),
        reference: `fraud-page-${Math.random().toString(16).slice(2, 8)}`,
        payerName,
      });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    await o.until(res.body.id, "funded");
    await o.checkoutConfirm(res.body.id, "performed", user);
    await o.until(res.body.id, "paid");
    return res.body.id as string;
  }

  const statusOf = async (id: string) =>
    (await w.http.get(`/v1/orders/${id}`).set(o.bearer(o.platformKey)).expect(200)).body.status as string;

  it("when the transfer's name differs → the warning shows and “Fiat received” asks for “Release anyway”; a chargeback can then be reported", async function () {
    const page = await signedIn();
    const id = await paidBuyOrder(w.p.payees[1], "Maria Schmidt");
    const it_ = item(page, id);
    await it_.getByText("Maria Schmidt", { exact: true }).waitFor();
    await it_.getByLabel("Name on the incoming transfer").fill("Peter Schmidt");
    await it_.getByRole("button", { name: "Check name" }).click();
    await it_.getByText("Does not match the declared payer name", { exact: true }).waitFor();
    const warning = it_.locator(".warning");
    await warning.waitFor();
    expect(await warning.textContent()).to.contain("does not match the declared payer name");
    await b.check(page, "acceptor-name-mismatch");

    // The first press only asks again: nothing is signed, the order stays paid.
    const signsBefore = page.rpc.filter((r) => r.method === "eth_signTypedData_v4").length;
    await it_.getByRole("button", { name: "Fiat received" }).click();
    const anyway = it_.getByRole("button", { name: "Release anyway" });
    await anyway.waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).to.equal("Release anyway");
    expect(page.rpc.filter((r) => r.method === "eth_signTypedData_v4").length).to.equal(signsBefore);
    expect(await statusOf(id)).to.equal("paid");
    await b.check(page, "acceptor-release-anyway");

    await anyway.click();
    await o.until(id, "released");
    await it_.locator(".badge", { hasText: "Released" }).waitFor();
    const report = it_.getByRole("button", { name: "Report chargeback" });
    await report.click();
    await it_.getByText("Flagged", { exact: true }).waitFor();
    const view = await w.http.get(`/v1/orders/${id}`).set(o.bearer(o.platformKey)).expect(200);
    expect(view.body.chargeback).to.be.an("object");
    expect(view.body.nameCheck).to.equal("mismatch");
    await page.locator("#stats", { hasText: "1 charged back in 30 days" }).waitFor();
    await b.check(page, "acceptor-chargeback");
    await page.context().close();
  });

  it("when the transfer's name matches (words reordered, other case) → no warning; “Fiat received” releases at once", async function () {
    const page = await signedIn();
    const id = await paidBuyOrder(w.p.payees[2], "Anna-Lena Müller");
    const it_ = item(page, id);
    await it_.getByLabel("Name on the incoming transfer").fill("MUELLER ANNA-LENA");
    await it_.getByRole("button", { name: "Check name" }).click();
    // Müller vs MUELLER is a different spelling: a mismatch; the bank's own "MULLER ANNA-LENA" matches.
    await it_.getByText("Does not match the declared payer name", { exact: true }).waitFor();
    await it_.getByLabel("Name on the incoming transfer").fill("MULLER ANNA-LENA");
    await it_.getByRole("button", { name: "Check name" }).click();
    await it_.getByText("Matches the declared payer name", { exact: true }).waitFor();
    expect(await it_.locator(".warning").count()).to.equal(0);
    await it_.getByRole("button", { name: "Fiat received" }).click();
    await o.until(id, "released");
    expect(await it_.getByRole("button", { name: "Release anyway" }).count()).to.equal(0);
    await b.check(page, "acceptor-name-match");
    await page.context().close();
  });
});
