/**
 * The write API end to end: a real Hardhat node, real Redis, the whole relayer in-process. Each refusal is checked
 * to send nothing (the relayer's signer's transaction count stays put). Branch spec: write.tree.
 */
import { keysOf } from "../../support/redis";
import { expect } from "chai";
import { TypedDataEncoder, Wallet, id } from "ethers";
import { Action, Status, escrowDomain, typedDataOf, typesOf } from "../../../protocol";
import { startWriteRelayer, dealJson, type WriteRelayer } from "../support/write";
import { makeDeal, signAction } from "../support/activity";
import { createSafe, deploySafeKit, safeCreation, signSafeMessage } from "../support/safe";
import { wrapErc6492 } from "../../../relayer/src/signatures/erc6492";

describe("relayer write API (end to end)", function () {
  this.timeout(300_000);
  let w: WriteRelayer;

  before(async function () {
    w = await startWriteRelayer("api");
  });
  after(async function () {
    await w?.stop();
  });

  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
  const post = (path: string, key: string | undefined, body: unknown) => {
    const req = w.http.post(path);
    if (key) req.set(bearer(key));
    return req.send(body as object);
  };
  /** Runs `act` and checks that the relayer's signer sent nothing meanwhile. */
  async function sendsNothing(act: () => Promise<unknown>) {
    const before = await w.sent();
    await act();
    expect(await w.sent(), "transactions sent").to.equal(before);
  }
  const expectProblem = (res: { status: number; body: { type?: string } }, status: number, type: string) => {
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(res.body.type).to.equal(`https://usdt-escrow.dev/problems/${type}`);
  };

  describe("typed data", function () {
    it("GET …/typed-data → the DealAction payload the escrow verifies, with a suggested expiry an hour ahead", async function () {
      const { dealId, payee } = await w.openDeal();
      const res = await w.http
        .get(`/v1/deals/${dealId}/typed-data?action=performed&signer=${await w.address(payee)}`)
        .expect(200);
      const { typedData, expiry } = res.body;
      expect(typedData.primaryType).to.equal("DealAction");
      expect(typedData.domain).to.deep.equal({
        name: "USDT Escrow",
        version: "1",
        chainId: String(w.p.chainId),
        verifyingContract: await w.p.escrow.getAddress(),
      });
      expect(typedData.message).to.deep.equal({ dealId, action: Action.Perform, expiry });
      const now = (await w.p.provider.getBlock("latest"))!.timestamp;
      expect(Number(expiry)).to.be.within(now + 3000, now + 3700 + 600);
    });

    it("GET …/typed-data with a signer who has no role → 422 wrong-signer; an unknown deal → 404", async function () {
      const { dealId, payer } = await w.openDeal();
      const res = await w.http.get(`/v1/deals/${dealId}/typed-data?action=performed&signer=${await w.address(payer)}`);
      expectProblem(res, 422, "wrong-signer");
      expectProblem(await w.http.get(`/v1/deals/${id("none")}/typed-data?action=release`), 404, "deal-not-found");
      expectProblem(await w.http.get(`/v1/deals/${dealId}/typed-data?action=pay`), 400, "invalid-parameter");
    });

    it("POST /v1/typed-data → the Open payload and the deal id it will have", async function () {
      const [payer] = w.p.payers;
      const [payee] = w.p.payees;
      const deal = await makeDeal(w.p, { payer: await w.address(payer), payee: await w.address(payee) });
      const res = await w.http
        .post("/v1/typed-data")
        .send({ type: "open", deal: dealJson(deal), ref: id("x") })
        .expect(200);
      expect(res.body.dealId).to.equal((await w.p.escrow.dealIdOf(deal.payer, deal.salt)).toLowerCase());
      expect(res.body.typedData.primaryType).to.equal("Open");
      expect(Object.keys(res.body.typedData.types).sort()).to.deep.equal(["Deal", "EIP712Domain", "Open"]);
    });
  });

  describe("confirmations", function () {
    it("the payee's performed → 202, queued → final, and the deal is performed on chain", async function () {
      const { dealId, payee } = await w.openDeal();
      const key = await w.key("party", payee);
      const res = await w.confirm(dealId, "performed", payee, key);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.headers.location).to.equal(`/v1/submissions/${res.body.submission.id}`);
      const sub = await w.final(res.body.submission.id);
      expect(sub.status).to.equal("final");
      expect((await w.p.escrow.getDeal(dealId)).status).to.equal(BigInt(Status.Performed));
    });

    it("performed and release queued together → one settleWithSigs transaction; the deal is released", async function () {
      const { dealId, payer, payee } = await w.openDeal();
      const [payeeKey, payerKey] = [await w.key("party", payee), await w.key("party", payer)];
      const [a, b] = await Promise.all([
        w.confirm(dealId, "performed", payee, payeeKey),
        w.confirm(dealId, "release", payer, payerKey),
      ]);
      expect([a.status, b.status]).to.deep.equal([202, 202]);
      const [sa, sb] = [await w.final(a.body.submission.id), await w.final(b.body.submission.id)];
      expect(sa.transactionHash).to.be.a("string");
      expect(sb.transactionHash).to.equal(sa.transactionHash);
      expect((await w.p.escrow.getDeal(dealId)).status).to.equal(BigInt(Status.Released));
    });

    it("a payer's cancel waits for the payee's; then both cancel together (mutual_cancel)", async function () {
      const { dealId, payer, payee } = await w.openDeal();
      const first = await w.confirm(dealId, "cancel", payer, await w.key("party", payer));
      expect(first.status).to.equal(202);
      expect(first.body).to.deep.include({ submission: null, awaiting: "payee" });
      const second = await w.confirm(dealId, "cancel", payee, await w.key("party", payee));
      expect(second.status).to.equal(202);
      expect((await w.final(second.body.submission.id)).status).to.equal("final");
      const deal = await w.indexed(dealId, "refunded");
      expect(deal.refundReason).to.equal("mutual_cancel");
    });

    it("an action the escrow would refuse now → 422 would-revert naming the custom error, nothing sent", async function () {
      const { dealId, payee } = await w.openDeal();
      const key = await w.key("party", payee);
      await w.final((await w.confirm(dealId, "performed", payee, key)).body.submission.id);
      await w.indexed(dealId, "performed");
      await sendsNothing(async () => {
        // The payee may dispute only after the release window.
        const res = await w.confirm(dealId, "dispute", payee, key);
        expectProblem(res, 422, "would-revert");
        expect(res.body.error.name).to.equal("EscrowReleaseWindowOpen");
      });
    });
  });

  describe("refused before anything is sent", function () {
    it("forged, expired, wrong-chain, wrong-escrow and wrong-action signatures → 422", async function () {
      const { dealId, payee } = await w.openDeal();
      const key = await w.key("party", payee);
      const good = await w.signed(dealId, "performed", payee);
      const path = `/v1/deals/${dealId}/confirmations`;
      const domain = escrowDomain(w.p.chainId, await w.p.escrow.getAddress());
      const signWith = (d: object, action: number, expiry: string, wallet = Wallet.createRandom()) =>
        wallet.signTypedData(d, typesOf("DealAction"), { dealId, action, expiry });
      /** The payee's own key signs a DealAction on `chainId` and `escrow` (defaults: the right ones). */
      const signAs = (action: number, chainId: bigint = w.p.chainId, escrow = domain.verifyingContract as string) =>
        w.signTyped(payee, typedDataOf(chainId, escrow, "DealAction", { dealId, action, expiry: good.expiry }));
      await sendsNothing(async () => {
        const forged = await post(path, key, {
          ...good,
          signature: await signWith(domain, Action.Perform, good.expiry),
        });
        expectProblem(forged, 422, "invalid-signature");
        const now = (await w.p.provider.getBlock("latest"))!.timestamp;
        const expired = await post(path, key, { ...good, expiry: String(now - 3600) });
        expectProblem(expired, 422, "signature-expired");
        const wrongChain = await signAs(Action.Perform, 1n);
        expectProblem(await post(path, key, { ...good, signature: wrongChain }), 422, "invalid-signature");
        const wrongEscrow = await signAs(Action.Perform, w.p.chainId, Wallet.createRandom().address);
        expectProblem(await post(path, key, { ...good, signature: wrongEscrow }), 422, "invalid-signature");
        const wrongAction = await signAs(Action.Release);
        expectProblem(await post(path, key, { ...good, signature: wrongAction }), 422, "invalid-signature");
      });
    });

    it("a signature valid for another deal → 422; replayed after it took effect → 409 wrong-status", async function () {
      const one = await w.openDeal();
      const two = await w.openDeal();
      const key = await w.key("party", one.payee);
      const forTwo = await w.signed(two.dealId, "performed", two.payee);
      await sendsNothing(async () => {
        expectProblem(await post(`/v1/deals/${one.dealId}/confirmations`, key, forTwo), 422, "invalid-signature");
      });
      const ok = await post(`/v1/deals/${two.dealId}/confirmations`, key, forTwo);
      expect(ok.status).to.equal(202);
      await w.final(ok.body.submission.id);
      await w.indexed(two.dealId, "performed");
      await sendsNothing(async () => {
        expectProblem(await post(`/v1/deals/${two.dealId}/confirmations`, key, forTwo), 409, "wrong-status");
      });
    });

    it("authorization: no key 401, unknown or revoked key 401, read key 403, another's deal 403, platform key on a deal it did not register 403", async function () {
      const { dealId, payee } = await w.openDeal();
      const body = await w.signed(dealId, "performed", payee);
      const path = `/v1/deals/${dealId}/confirmations`;
      const stranger = Wallet.createRandom().address;
      const revoked = await w.relayer.keys.create({ scope: "party", owner: await w.address(payee) });
      await w.relayer.keys.revoke(revoked.key.id);
      await sendsNothing(async () => {
        expectProblem(await post(path, undefined, body), 401, "unauthenticated");
        expectProblem(await post(path, "sk_party_" + "1".repeat(40), body), 401, "unauthenticated");
        expectProblem(await post(path, revoked.secret, body), 401, "unauthenticated");
        expectProblem(await post(path, await w.key("read", payee), body), 403, "forbidden");
        expectProblem(await post(path, await w.key("acceptor", stranger), body), 403, "forbidden");
        expectProblem(await post(path, await w.key("party", stranger), body), 403, "forbidden");
        expectProblem(await post(path, await w.key("platform", stranger), body), 403, "forbidden");
      });
    });
  });

  describe("intents", function () {
    it("a signed open → 202 with the deal id at once; the deal opens on chain", async function () {
      const { dealId, deal } = await w.openDeal();
      expect(dealId).to.equal((await w.p.escrow.dealIdOf(deal.payer, deal.salt)).toLowerCase());
      expect((await w.p.escrow.getDeal(dealId)).status).to.equal(BigInt(Status.Open));
    });

    it("tampering: an open whose amount or payee changed after signing → 422 invalid-signature, nothing sent", async function () {
      const [payer] = w.p.payers;
      const [payee, other] = w.p.payees;
      const deal = await makeDeal(w.p, { payer: await w.address(payer), payee: await w.address(payee) });
      const body = { type: "open", deal: dealJson(deal), ref: id("t") };
      const typed = await w.http.post("/v1/typed-data").send(body).expect(200);
      const signature = await w.signTyped(payer, typed.body.typedData);
      const key = await w.key("party", payer);
      const expiry = typed.body.typedData.message.expiry;
      await sendsNothing(async () => {
        for (const change of [{ amount: "999000000" }, { payee: await w.address(other) }]) {
          const res = await post("/v1/deals", key, { ...body, deal: { ...body.deal, ...change }, expiry, signature });
          expectProblem(res, 422, "invalid-signature");
        }
      });
    });

    it("an open the payer has not approved enough for → 422 insufficient-funds, nothing sent", async function () {
      const [, payer] = w.p.payers;
      const [payee] = w.p.payees;
      await (await w.p.usdt.connect(payer).approve(await w.p.escrow.getAddress(), 0)).wait();
      const deal = await makeDeal(w.p, { payer: await w.address(payer), payee: await w.address(payee) });
      const body = { type: "open", deal: dealJson(deal), ref: id("t") };
      const typed = await w.http.post("/v1/typed-data").send(body).expect(200);
      const signature = await w.signTyped(payer, typed.body.typedData);
      await sendsNothing(async () => {
        const res = await post("/v1/deals", await w.key("party", payer), {
          ...body,
          expiry: typed.body.typedData.message.expiry,
          signature,
        });
        expectProblem(res, 422, "insufficient-funds");
        expect(res.body.detail).to.match(/approve/);
      });
    });
  });

  describe("idempotency", function () {
    it("the same Idempotency-Key and body → the first response replayed; another body → 409; nothing sent twice", async function () {
      const { dealId, payee } = await w.openDeal();
      const key = await w.key("party", payee);
      const body = await w.signed(dealId, "performed", payee);
      const path = `/v1/deals/${dealId}/confirmations`;
      const first = await post(path, key, body).set("Idempotency-Key", "k-1");
      expect(first.status).to.equal(202);
      await w.final(first.body.submission.id);
      await sendsNothing(async () => {
        const again = await post(path, key, body).set("Idempotency-Key", "k-1");
        expect(again.status).to.equal(202);
        expect(again.headers["idempotent-replayed"]).to.equal("true");
        expect(again.body.submission.id).to.equal(first.body.submission.id);
        const other = await post(path, key, { ...body, expiry: String(Number(body.expiry) - 1) }).set(
          "Idempotency-Key",
          "k-1",
        );
        expectProblem(other, 409, "idempotency-key-reused");
      });
    });

    it("two identical concurrent POSTs with one Idempotency-Key → one submission, one transaction", async function () {
      const { dealId, payee } = await w.openDeal();
      const key = await w.key("party", payee);
      const body = await w.signed(dealId, "performed", payee);
      const path = `/v1/deals/${dealId}/confirmations`;
      const before = await w.sent();
      const [a, b] = await Promise.all([
        post(path, key, body).set("Idempotency-Key", "same"),
        post(path, key, body).set("Idempotency-Key", "same"),
      ]);
      expect([a.status, b.status]).to.deep.equal([202, 202]);
      expect(a.body.submission.id).to.equal(b.body.submission.id);
      await w.final(a.body.submission.id);
      expect(await w.sent()).to.equal(before + 1);
    });
  });

  describe("smart-contract wallets", function () {
    /** A deal opened by the first payer to `payee` (a wallet's address), through the API. */
    const openTo = (payee: string) => w.openDeal({ payee });

    it("a Safe 1.4.1 as signer: typed data returns its SafeMessage; the owner's signature of it → 202, performed on chain", async function () {
      const kit = await deploySafeKit(w.p.owner, "1.4.1");
      const owner = w.p.payees[2];
      const safe = await createSafe(kit, [await w.address(owner)], 1);
      const { dealId } = await openTo(safe);
      const res = await w.http.get(`/v1/deals/${dealId}/typed-data?action=performed&signer=${safe}`).expect(200);
      expect(res.body.safe.primaryType).to.equal("SafeMessage");
      const signature = await w.signTyped(owner, res.body.safe);
      const key = await w.key("party", safe);
      const body = { action: "performed", signer: safe, signature, expiry: res.body.typedData.message.expiry };
      const posted = await post(`/v1/deals/${dealId}/confirmations`, key, body);
      expect(posted.status, JSON.stringify(posted.body)).to.equal(202);
      expect((await w.final(posted.body.submission.id)).status).to.equal("final");
      expect((await w.p.escrow.getDeal(dealId)).status).to.equal(BigInt(Status.Performed));
    });

    it("a Safe whose owner signed the escrow's typed data directly → 422 invalid-signature, reason safe-message-expected (GS026)", async function () {
      const kit = await deploySafeKit(w.p.owner, "1.3.0");
      const owner = w.p.payees[3];
      const safe = await createSafe(kit, [await w.address(owner)], 1);
      const { dealId } = await openTo(safe);
      const body = await w.signed(dealId, "performed", owner, safe);
      await sendsNothing(async () => {
        const res = await post(`/v1/deals/${dealId}/confirmations`, await w.key("party", safe), body);
        expectProblem(res, 422, "invalid-signature");
        expect(res.body.reason).to.equal("safe-message-expected");
        expect(res.body.detail).to.match(/SafeMessage/);
      });
    });

    it("an ERC-6492 signature of a Safe not deployed yet → the relayer deploys it first, then the deal moves", async function () {
      const kit = await deploySafeKit(w.p.owner, "1.4.1");
      const owner = w.p.payees[4];
      const creation = await safeCreation(kit, [await w.address(owner)], 1);
      expect(await w.p.provider.getCode(creation.address)).to.equal("0x");
      const { dealId } = await openTo(creation.address);
      const res = await w.http.get(`/v1/deals/${dealId}/typed-data?action=performed`).expect(200);
      const digest = TypedDataEncoder.hash(
        escrowDomain(w.p.chainId, await w.p.escrow.getAddress()),
        typesOf("DealAction"),
        res.body.typedData.message,
      );
      const inner = await signSafeMessage(creation.address, Number(w.p.chainId), digest, [owner]);
      const signature = wrapErc6492({ factory: creation.factory, factoryCalldata: creation.data, signature: inner });
      const posted = await post(`/v1/deals/${dealId}/confirmations`, await w.key("party", creation.address), {
        action: "performed",
        signer: creation.address,
        signature,
        expiry: res.body.typedData.message.expiry,
      });
      expect(posted.status, JSON.stringify(posted.body)).to.equal(202);
      expect((await w.final(posted.body.submission.id)).status).to.equal("final");
      expect(await w.p.provider.getCode(creation.address)).to.not.equal("0x");
      expect((await w.p.escrow.getDeal(dealId)).status).to.equal(BigInt(Status.Performed));
    });
  });

  describe("direct signatures still work beside the API", function () {
    it("a payee's signature made with the scripts' signer (ethers signTypedData) is accepted by the API too", async function () {
      const { dealId, payee } = await w.openDeal();
      const auth = await signAction(w.p, payee, dealId, Action.Perform);
      const res = await post(`/v1/deals/${dealId}/confirmations`, await w.key("party", payee), {
        action: "performed",
        signer: await w.address(payee),
        signature: auth.signature,
        expiry: String(auth.expiry),
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect((await w.final(res.body.submission.id)).status).to.equal("final");
    });
  });
});

describe("relayer clear() (what the demo and the tests call at their end)", function () {
  this.timeout(120_000);

  it("when a relayer that made API keys, counted rates and kept idempotency records clears → no key is left under its prefix", async function () {
    const w = await startWriteRelayer("clear");
    try {
      const prefix = w.relayer.store.keyPrefix.split(":{")[0];
      const key = await w.key("party", w.p.payers[0]);
      await w.http.get("/v1/gateways").set("Authorization", `Bearer ${key}`).expect(200);
      await w.http
        .post("/v1/deals")
        .set("Authorization", `Bearer ${key}`)
        .set("Idempotency-Key", "clear-1")
        .send({})
        .expect(400);
      // Every master of a cluster (SCAN walks one node).
      const scan = () => keysOf(w.relayer.redis, `${prefix}:*`);
      expect((await scan()).some((k) => k.startsWith(`${prefix}:{keys}:`))).to.equal(true);
      // As the demo and the fixtures end: the indexer first (it would write its heartbeat again), then clear().
      await w.relayer.indexer.stop();
      await w.relayer.clear();
      expect(await scan()).to.deep.equal([]);
    } finally {
      await w.stop();
    }
  });
});
