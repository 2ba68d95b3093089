/**
 * The split path end to end (partial settlement by agreement): GET …/typed-data?action=split and POST …/splits on a
 * real Hardhat node with the whole relayer in-process and real Redis. The first party's signature is held; the
 * other's for the same amount sends one splitWithSigs. Every refusal sends nothing. Branch spec: split.tree.
 */
import { expect } from "chai";
import type { JsonRpcSigner } from "ethers";
import { startWriteRelayer, type WriteRelayer } from "../support/write";
import { USDT } from "../support/activity";
import { DEAL_STATUSES, Status } from "../../../protocol";
import { checkSplit, MAX_EXPIRY_SECONDS } from "../../../relayer/src/write/rules";

describe("relayer split rules (pure)", function () {
  const PAYER = `0x${"a1".repeat(20)}`;
  const PAYEE = `0x${"b2".repeat(20)}`;
  const NOW = 1_800_000_000;
  const EXPIRY = BigInt(NOW + 3600);
  const deal = (status: string) => ({
    status,
    payer: PAYER,
    payee: PAYEE,
    gateway: `0x${"c3".repeat(20)}`,
    amount: "100",
  });

  it("when payer or payee signs on a live deal (open, performed, disputed) → their role; from every other status → wrong-status", function () {
    for (const status of DEAL_STATUSES) {
      const live = ["open", "performed", "disputed"].includes(status);
      for (const [signer, role] of [
        [PAYER, "payer"],
        [PAYEE.toUpperCase().replace("0X", "0x"), "payee"],
      ]) {
        const out = checkSplit(deal(status), signer.toLowerCase(), 70n, EXPIRY, NOW);
        if (live) expect(out, `${status} ${role}`).to.deep.equal({ role });
        else expect(out, `${status} ${role}`).to.have.property("kind", "wrong-status");
      }
    }
  });

  it("when the signer has no role → wrong-signer; an amount above the deal's → split-amount-too-high (the whole amount is allowed)", function () {
    expect(checkSplit(deal("open"), `0x${"d4".repeat(20)}`, 1n, EXPIRY, NOW)).to.have.property("kind", "wrong-signer");
    expect(checkSplit(deal("open"), PAYER, 101n, EXPIRY, NOW)).to.have.property("kind", "split-amount-too-high");
    expect(checkSplit(deal("open"), PAYER, 100n, EXPIRY, NOW)).to.deep.equal({ role: "payer" });
    expect(checkSplit(deal("open"), PAYEE, 0n, EXPIRY, NOW)).to.deep.equal({ role: "payee" });
  });

  it("when the expiry has passed or lies more than MAX_EXPIRY_SECONDS ahead → signature-expired", function () {
    expect(checkSplit(deal("open"), PAYER, 1n, BigInt(NOW - 1), NOW)).to.have.property("kind", "signature-expired");
    expect(checkSplit(deal("open"), PAYER, 1n, BigInt(NOW + MAX_EXPIRY_SECONDS + 1), NOW)).to.have.property(
      "kind",
      "signature-expired",
    );
    expect(checkSplit(deal("open"), PAYER, 1n, BigInt(NOW), NOW)).to.deep.equal({ role: "payer" });
  });
});

describe("relayer split path (end to end)", function () {
  this.timeout(300_000);
  let w: WriteRelayer;

  before(async function () {
    w = await startWriteRelayer("split");
  });
  after(async function () {
    await w?.stop();
  });

  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
  async function sendsNothing<T>(act: () => Promise<T>): Promise<T> {
    const before = await w.sent();
    const out = await act();
    expect(await w.sent(), "transactions sent").to.equal(before);
    return out;
  }
  const expectProblem = (res: { status: number; body: { type?: string } }, status: number, type: string) => {
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(res.body.type).to.equal(`https://usdt-escrow.dev/problems/${type}`);
  };

  /** `signer`'s signature of the Split the API prepares (as `as`, default the signer). */
  async function signedSplit(dealId: string, payeeAmount: bigint, signer: JsonRpcSigner, as?: string) {
    const res = await w.http.get(`/v1/deals/${dealId}/typed-data?action=split&payeeAmount=${payeeAmount}`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return {
      payeeAmount: payeeAmount.toString(),
      signer: (as ?? (await w.address(signer))).toLowerCase(),
      signature: await w.signTyped(signer, res.body.typedData),
      expiry: res.body.typedData.message.expiry as string,
    };
  }
  const postSplit = async (dealId: string, key: string, body: unknown) =>
    w.http
      .post(`/v1/deals/${dealId}/splits`)
      .set(bearer(key))
      .send(body as object);

  it("when the split typed data is asked → the Split payload with the deal id, the amount and a suggested expiry; bad queries → 400", async function () {
    const { dealId } = await w.openDeal();
    const res = await w.http.get(`/v1/deals/${dealId}/typed-data?action=split&payeeAmount=7000000`).expect(200);
    expect(res.body.typedData.primaryType).to.equal("Split");
    expect(res.body.typedData.types.Split).to.deep.equal([
      { name: "dealId", type: "bytes32" },
      { name: "payeeAmount", type: "uint96" },
      { name: "expiry", type: "uint256" },
    ]);
    expect(res.body.typedData.message).to.deep.equal({ dealId, payeeAmount: "7000000", expiry: res.body.expiry });
    expectProblem(await w.http.get(`/v1/deals/${dealId}/typed-data?action=split`), 400, "invalid-parameter");
    expectProblem(
      await w.http.get(`/v1/deals/${dealId}/typed-data?action=release&payeeAmount=1`),
      400,
      "invalid-parameter",
    );
    expectProblem(
      await w.http.get(`/v1/deals/${dealId}/typed-data?action=split&payeeAmount=-1`),
      400,
      "invalid-parameter",
    );
  });

  it("when fiat was underpaid and both sign a 70/30 split → the first is held (awaiting the other), the second sends one splitWithSigs; payee, fee and refund match the chain's balances", async function () {
    const amount = USDT(10);
    const { dealId, deal, payer, payee } = await w.openDeal({ amount });
    const payeeAmount = (amount * 70n) / 100n;
    const token = w.p.usdt;
    const [payerAddr, payeeAddr] = [await w.address(payer), await w.address(payee)];
    const gateway = deal.gateway;
    const [payerBefore, payeeBefore, owedBefore] = await Promise.all([
      token.balanceOf(payerAddr),
      token.balanceOf(payeeAddr),
      w.p.escrow.owed(await token.getAddress(), gateway),
    ]);

    const first = await sendsNothing(async () =>
      postSplit(dealId, await w.key("party", payee), await signedSplit(dealId, payeeAmount, payee)),
    );
    expect(first.status, JSON.stringify(first.body)).to.equal(202);
    expect(first.body).to.deep.equal({
      dealId,
      payeeAmount: payeeAmount.toString(),
      submission: null,
      awaiting: "payer",
    });

    const second = await postSplit(dealId, await w.key("party", payer), await signedSplit(dealId, payeeAmount, payer));
    expect(second.status, JSON.stringify(second.body)).to.equal(202);
    expect(second.body.awaiting).to.equal(undefined);
    expect(second.headers.location).to.equal(`/v1/submissions/${second.body.submission.id}`);
    const sub = await w.final(second.body.submission.id);
    expect(sub.status).to.equal("final");
    expect(sub.kind).to.equal("split");
    expect((await w.p.escrow.getDeal(dealId)).status).to.equal(BigInt(Status.Split));

    const view = await w.indexed(dealId, "split");
    const [payerAfter, payeeAfter, owedAfter] = await Promise.all([
      token.balanceOf(payerAddr),
      token.balanceOf(payeeAddr),
      w.p.escrow.owed(await token.getAddress(), gateway),
    ]);
    // The chain is the judge: what the payee and the payer received and what the gateway is owed.
    expect(BigInt(view.payeeAmount)).to.equal(payeeAfter - payeeBefore);
    expect(BigInt(view.refund)).to.equal(payerAfter - payerBefore);
    expect(BigInt(view.fee)).to.equal(owedAfter - owedBefore);
    expect(payerAfter - payerBefore).to.equal(amount - payeeAmount);
    expect(BigInt(view.payeeAmount) + BigInt(view.fee)).to.equal(payeeAmount);
    expect(BigInt(view.fee)).to.equal((payeeAmount * BigInt(deal.feeBps)) / 10_000n);
  });

  it("when the two parties sign different amounts → neither pairs, both wait; the matching signature then settles", async function () {
    const amount = USDT(20);
    const { dealId, payer, payee } = await w.openDeal({ amount });
    const payerKey = await w.key("party", payer);
    const payeeKey = await w.key("party", payee);
    await sendsNothing(async () => {
      const a = await postSplit(dealId, payeeKey, await signedSplit(dealId, USDT(15), payee));
      expect(a.body).to.deep.include({ submission: null, awaiting: "payer" });
      const b = await postSplit(dealId, payerKey, await signedSplit(dealId, USDT(12), payer));
      expect(b.status, JSON.stringify(b.body)).to.equal(202);
      expect(b.body).to.deep.include({ submission: null, awaiting: "payee", payeeAmount: USDT(12).toString() });
    });
    // The payee agrees to the payer's 12: the payer's held signature pairs with it.
    const c = await postSplit(dealId, payeeKey, await signedSplit(dealId, USDT(12), payee));
    expect(c.status, JSON.stringify(c.body)).to.equal(202);
    expect((await w.final(c.body.submission.id)).status).to.equal("final");
    const view = await w.indexed(dealId, "split");
    expect(BigInt(view.refund)).to.equal(amount - USDT(12));
  });

  it("when the signer is neither payer nor payee → 422 wrong-signer; a forged signature → 422 invalid-signature; an amount above the deal's → 422; nothing sent", async function () {
    const { dealId, payer, payee } = await w.openDeal({ amount: USDT(5) });
    const stranger = w.p.payers[1];
    const key = await w.key("admin", await w.address(stranger));
    await sendsNothing(async () => {
      expectProblem(await postSplit(dealId, key, await signedSplit(dealId, USDT(1), stranger)), 422, "wrong-signer");
      const forged = await signedSplit(dealId, USDT(1), stranger, await w.address(payee));
      expectProblem(await postSplit(dealId, key, forged), 422, "invalid-signature");
      expectProblem(
        await postSplit(dealId, key, await signedSplit(dealId, USDT(6), payer)),
        422,
        "split-amount-too-high",
      );
      // Another owner's party key may not act on this deal.
      expectProblem(
        await postSplit(dealId, await w.key("party", stranger), await signedSplit(dealId, USDT(1), payer)),
        403,
        "forbidden",
      );
      const expired = { ...(await signedSplit(dealId, USDT(1), payer)), expiry: "1000" };
      expectProblem(await postSplit(dealId, key, expired), 422, "signature-expired");
      expectProblem(await postSplit(dealId, key, { payeeAmount: "1", signer: "x" }), 400, "invalid-parameter");
    });
  });

  it("when a disputed deal's parties both sign at the same moment → exactly one holds and one sends: one splitWithSigs, the dispute ends in a split", async function () {
    const { dealId, payer, payee } = await w.openDeal({ amount: USDT(8) });
    const performed = await w.confirm(dealId, "performed", payee, await w.key("party", payee));
    await w.final(performed.body.submission.id);
    const dispute = await w.confirm(dealId, "dispute", payer, await w.key("party", payer));
    await w.final(dispute.body.submission.id);
    await w.indexed(dealId, "disputed");
    const [payerBody, payeeBody] = [
      await signedSplit(dealId, USDT(5), payer),
      await signedSplit(dealId, USDT(5), payee),
    ];
    const before = await w.sent();
    const answers = await Promise.all([
      postSplit(dealId, await w.key("party", payer), payerBody),
      postSplit(dealId, await w.key("party", payee), payeeBody),
    ]);
    expect(answers.map((a) => a.status)).to.deep.equal([202, 202]);
    const sent = answers.filter((a) => a.body.submission !== null);
    expect(sent, JSON.stringify(answers.map((a) => a.body))).to.have.length(1);
    expect(answers.filter((a) => a.body.awaiting !== undefined)).to.have.length(1);
    expect((await w.final(sent[0].body.submission.id)).status).to.equal("final");
    expect(await w.sent()).to.equal(before + 1);
    const view = await w.indexed(dealId, "split");
    expect(BigInt(view.refund)).to.equal(USDT(3));
  });

  it("when the deal is already settled → 409 wrong-status for a split, nothing sent", async function () {
    const { dealId, payer, payee } = await w.openDeal({ amount: USDT(3) });
    const performed = await w.confirm(dealId, "performed", payee, await w.key("party", payee));
    await w.final(performed.body.submission.id);
    const release = await w.confirm(dealId, "release", payer, await w.key("party", payer));
    await w.final(release.body.submission.id);
    await w.indexed(dealId, "released");
    await sendsNothing(async () => {
      expectProblem(
        await postSplit(dealId, await w.key("party", payer), await signedSplit(dealId, USDT(1), payer)),
        409,
        "wrong-status",
      );
    });
  });
});
