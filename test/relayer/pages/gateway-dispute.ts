/**
 * One whole dispute, end to end, as the issue tells it: a buy order is funded, the buyer says it paid, the acceptor
 * says nothing arrived and disputes; both post evidence (anchored on-chain with their signatures) and signed
 * messages through the API; the gateway opens the dispute in its console (Debian's Chromium), sees both files and
 * both messages, and rules 70/30 within its window with written reasons; the chain's ruling carries the reasons'
 * hash, and the audit command (run on the same node) prints the deal's trail: the dispute, both pieces of evidence
 * and the ruling. Branch spec: gateway.tree ("a whole dispute").
 */
import { createHash } from "node:crypto";
import { expect } from "chai";
import type { JsonRpcSigner } from "ethers";
import { orderMessageText, reasonsHash } from "../../../protocol";
import { main as audit } from "../../../scripts/lib/audit/cli";
import type { AuditReport } from "../../../scripts/lib/audit/types";
import { USDT } from "../support/activity";
import { launchBrowser, type TestBrowser } from "../support/browser";
import { startOrdersRelayer, type OrderBody, type OrdersRelayer } from "../support/orders";

const REASONS =
  "The buyer's transfer came from another name than the declared payer's; it was made: 70% to the buyer, 30% back.";
const sha = (b: Buffer) => `0x${createHash("sha256").update(b).digest("hex")}`;

describe("a whole dispute through the gateway console (Chromium, real relayer, audit)", function () {
  this.timeout(240_000);
  let o: OrdersRelayer;
  let b: TestBrowser;
  let user: JsonRpcSigner;
  let gateway: string;
  let order: OrderBody;
  const RECEIPT = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.from("transfer 115.46 EUR")]);
  const STATEMENT = Buffer.from("%PDF-1.4\nno credit from the declared payer\n%%EOF\n");

  /** `by` signs the Evidence typed data of `bytes`; `key` uploads it (202 expected); the submission id. */
  async function evidence(bytes: Buffer, type: string, by: JsonRpcSigner, key: string): Promise<string> {
    const signer = await o.w.address(by);
    const typed = await o.w.http
      .get(`/v1/deals/${order.dealId}/evidence/typed-data?contentHash=${sha(bytes)}&signer=${signer}`)
      .set(o.bearer(key))
      .expect(200);
    const res = await o.w.http
      .post(`/v1/deals/${order.dealId}/evidence`)
      .set(o.bearer(key))
      .set({
        "Content-Type": type,
        "Evidence-Signer": signer,
        "Evidence-Signature": await o.w.signTyped(by, typed.body.typedData),
        "Evidence-Expiry": String(typed.body.expiry),
      })
      .send(bytes);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return res.body.submission as string;
  }

  /** `by` signs a message after the thread's head; `key` posts it (201 expected). */
  async function message(by: JsonRpcSigner, key: string, body: string) {
    const path = `/v1/orders/${order.id}/messages`;
    const thread = await o.w.http.get(path).set(o.bearer(key)).expect(200);
    const fields = {
      orderId: order.id,
      dealId: order.dealId,
      author: await o.w.address(by),
      prev: thread.body.head as string,
      sentAt: Math.floor(Date.now() / 1000),
      body,
    };
    const signature = await by.signMessage(orderMessageText(fields));
    const { orderId: _o, dealId: _d, ...post } = fields;
    const res = await o.w.http
      .post(path)
      .set(o.bearer(key))
      .send({ ...post, signature });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
  }

  before(async function () {
    b = await launchBrowser();
    o = await startOrdersRelayer("gateway-dispute", { auto: true, online: true });
    gateway = (await o.w.p.gateway.getAddress()).toLowerCase();
    user = o.w.p.accounts[12];
  });
  after(async function () {
    await b?.close();
    await o?.stop();
  });

  it("buyer says paid, acceptor says not received, both post evidence and messages, the gateway rules 70/30 in its console; the chain and the audit show it", async function () {
    // The order is funded (the relayer's lock delegate locks the acceptor's float), the buyer says it paid.
    order = await o.createOrder({ side: "buy", user: await o.w.address(user), amount: USDT(125.5) });
    await o.until(order.id, "funded");
    await o.checkoutConfirm(order.id, "performed", user);
    await o.until(order.id, "paid");
    // The acceptor (the deal's payer) says nothing arrived: it disputes with its own signature.
    const dispute = await o.w.signed(order.dealId, "dispute", o.acceptorSigner);
    const disputed = await o.w.http
      .post(`/v1/deals/${order.dealId}/confirmations`)
      .set(o.bearer(o.acceptorKey))
      .send(dispute);
    expect(disputed.status, JSON.stringify(disputed.body)).to.equal(202);
    await o.until(order.id, "disputed");

    // Both sides post evidence (the platform for its user) and messages.
    const subs = [
      await evidence(RECEIPT, "image/png", user, o.platformKey),
      await evidence(STATEMENT, "application/pdf", o.acceptorSigner, o.acceptorKey),
    ];
    for (const id of subs) await o.w.final(id);
    await message(user, o.platformKey, "I paid 115.46 EUR this morning, reference as shown.");
    await message(o.acceptorSigner, o.acceptorKey, "No credit from the declared payer on our account.");

    // The gateway works it in its console, within its window.
    const page = await b.page({ rpcUrl: o.w.node.url, account: gateway, viewport: { width: 1024, height: 900 } });
    await page.goto(`http://127.0.0.1:${o.w.relayer.port}/gateway`);
    await page.getByLabel("API key (gateway scope)").fill(await o.w.key("gateway", gateway));
    await page.getByRole("button", { name: "Sign in" }).click();
    const item = page.locator(`[data-deal="${order.dealId}"]`);
    await item.getByRole("button", { name: "Open dispute" }).click();
    await page.locator("#detail-heading").waitFor();
    const evidenceItems = page.locator("#evidence-list li");
    await evidenceItems.nth(1).waitFor();
    const shown = await evidenceItems.allTextContents();
    expect(shown.join("\n")).to.match(/posted by the payee[\s\S]*anchored on chain/);
    expect(shown.join("\n")).to.match(/posted by the payer[\s\S]*anchored on chain/);
    const messages = await page.locator("#message-list li").allTextContents();
    expect(messages).to.have.length(2);
    expect(messages[0]).to.include("I paid 115.46 EUR");
    expect(messages[1]).to.include("No credit from the declared payer");
    await page.getByRole("slider").fill("70");
    await page.getByLabel(/Reasons/).fill(REASONS);
    await b.check(page, "gateway-whole-dispute");
    await page.getByRole("button", { name: "Sign ruling" }).click();
    await page.locator(".ruled").waitFor({ timeout: 60_000 });
    await page.context().close();

    // The chain's ruling carries the reasons' hash; the order ends resolved; the ruling's text is served.
    const deal = await o.w.indexed(order.dealId, "resolved");
    expect(deal.reasons).to.equal(reasonsHash(REASONS));
    expect(deal.resolvedBy).to.equal(gateway);
    const payee = (USDT(125.5) * 70n) / 100n;
    expect(BigInt(deal.payeeAmount) + BigInt(deal.fee)).to.equal(payee);
    expect(BigInt(deal.refund)).to.equal(USDT(125.5) - payee);
    await o.until(order.id, "resolved");
    const ruling = await o.w.http.get(`/v1/deals/${order.dealId}/ruling`).set(o.bearer(o.platformKey)).expect(200);
    expect(ruling.body).to.include({ reasons: REASONS, reasonsHash: reasonsHash(REASONS), ruledBy: gateway });

    // The audit command, from the chain alone, prints the deal's trail.
    let stdout = "";
    const code = await audit(["--deployment", o.w.deploymentFile, "--rpc", o.w.node.url, "--json"], {
      stdout: (t) => (stdout += t),
      stderr: () => undefined,
    });
    expect(code).to.equal(0);
    const report = JSON.parse(stdout) as AuditReport;
    const trail = report.trails.find((t) => t.dealId.toLowerCase() === order.dealId)!;
    expect(trail, "the deal's trail").to.not.equal(undefined);
    expect(trail.steps.map((s) => `${s.kind} ${s.role}`)).to.deep.equal([
      "disputed payer",
      "evidence payee",
      "evidence payer",
      "resolved gateway",
    ]);
    expect(trail.steps[1]).to.include({ contentHash: sha(RECEIPT) });
    expect(trail.steps[2]).to.include({ contentHash: sha(STATEMENT) });
    expect(trail.steps[3]).to.include({ reasons: reasonsHash(REASONS) });
  });
});
