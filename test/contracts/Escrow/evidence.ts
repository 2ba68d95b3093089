import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { ethers } from "hardhat";

import { dealIdOf, loadFixture, makeDeal, signEvidence } from "../fixtures";
import { FINAL_STATES, type LiveState } from "./shared/deals";
import { CONTENT, FINAL_STATUS, itChecksSignatures, protocolWithWallets, setupWithWallets, URI } from "./shared/signed";
import type { WalletCtx } from "./shared/signed";

/** Everything a call could change: the deal's record, balances, float, owed balances, the gateway's record. */
async function world(c: WalletCtx) {
  const { p, deal } = c;
  const accounts = [p.payer, p.payee, p.acceptor, p.gateway, p.arbiter, p.other].map((s) => s.address);
  accounts.push(await p.escrow.getAddress(), await p.registry.getAddress());
  const r = await p.escrow.getDeal(c.id);
  return {
    record: [r.commitment, r.since, r.status, r.flags],
    balances: await Promise.all(accounts.map((a) => p.usdt.balanceOf(a))),
    owed: await Promise.all(accounts.map((a) => p.escrow.owed(deal.token, a))),
    float: [...(await p.escrow.floatOf(p.acceptor.address, deal.token))],
    gateway: [...(await p.registry.getGateway(deal.gateway))],
  };
}

/** Runs `send` and asserts it emitted EvidencePosted(dealId, by, contentHash, uri) — its only log — and changed
 * nothing else. */
async function expectOnlyEvidence(
  c: WalletCtx,
  send: () => Promise<ContractTransactionResponse>,
  by: string,
  contentHash = CONTENT,
  uri = URI,
): Promise<void> {
  const before = await world(c);
  const tx = await send();
  await expect(tx).to.emit(c.p.escrow, "EvidencePosted").withArgs(c.id, by, contentHash, uri);
  const rc = await tx.wait();
  expect(rc!.logs.length, "EvidencePosted is the only log").to.equal(1);
  expect(await world(c)).to.deep.equal(before);
}

type Poster = "payer" | "payee" | "gateway" | "arbiter";
const POSTERS: Poster[] = ["payer", "payee", "gateway", "arbiter"];
function posterOf(c: WalletCtx, who: Poster): HardhatEthersSigner {
  return { payer: c.payer, payee: c.payee, gateway: c.p.gateway, arbiter: c.p.arbiter }[who];
}
const LIVE: LiveState[] = ["Open", "Performed", "Disputed"];
const NOT_ROLES: [string, (c: WalletCtx) => HardhatEthersSigner, ((c: WalletCtx) => Promise<void>)?][] = [
  ["a stranger", (c) => c.p.other],
  ["another active gateway", (c) => c.p.gateway2],
  ["the acceptor's lock delegate", (c) => c.p.delegate],
  [
    "a revoked arbiter",
    (c) => c.p.arbiter,
    async (c) => {
      await c.p.registry.connect(c.p.admin).revokeRole(await c.p.registry.ARBITER_ROLE(), c.p.arbiter.address);
    },
  ],
];

/** An evidence post by `who` on `c`'s deal: postEvidence sent by it, or postEvidenceWithSig signed by it. */
type Post = (c: WalletCtx, who: HardhatEthersSigner) => Promise<ContractTransactionResponse>;

/** postEvidence and postEvidenceWithSig refuse a final deal (posted by `finalBy`) and a poster (`role`: the caller or
 * the signer) who is not a party, the deal's gateway or an arbiter. */
function behavesLikeAnEvidencePostRefused(post: Post, role: "caller" | "signer", finalBy: "payer" | "payee"): void {
  for (const state of FINAL_STATES) {
    it(`when the deal is final (${state}) → it reverts EscrowWrongStatus(dealId, ${state})`, async function () {
      const c = await setupWithWallets("Payment", state);
      await expect(post(c, c[finalBy]))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
        .withArgs(c.id, FINAL_STATUS[state]);
    });
  }

  const own = role === "signer" ? " (its own valid signature)" : "";
  for (const [name, who, prepare] of NOT_ROLES) {
    it(`when the ${role} is ${name}${own} → it reverts EscrowUnauthorized(dealId, ${role})`, async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      if (prepare) await prepare(c);
      await expect(post(c, who(c)))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
        .withArgs(c.id, who(c).address);
    });
  }
}

/** postEvidence and postEvidenceWithSig post for every poster (`role`: the caller or the signer) on a live deal. */
function behavesLikeAnEvidencePostOfEveryPoster(post: Post, role: "caller" | "signer"): void {
  for (const state of LIVE) {
    for (const who of POSTERS) {
      it(`when the deal is ${state} and the ${role} is the ${who} → EvidencePosted(dealId, ${who}, contentHash, uri), nothing else changes`, async function () {
        const c = await setupWithWallets("Payment", state);
        const by = posterOf(c, who);
        await expectOnlyEvidence(c, () => post(c, by), by.address);
      });
    }
  }
}

describe("Escrow.postEvidence", function () {
  function post(c: WalletCtx, by: HardhatEthersSigner, contentHash = CONTENT, uri = URI) {
    return c.p.escrow.connect(by).postEvidence(c.deal, contentHash, uri);
  }

  describe("validations", function () {
    it("when the deal was never opened → it reverts EscrowUnknownDeal", async function () {
      const p = await loadFixture(protocolWithWallets);
      const deal = await makeDeal(p);
      await expect(p.escrow.connect(p.payer).postEvidence(deal, CONTENT, URI))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal")
        .withArgs(dealIdOf(deal));
    });

    behavesLikeAnEvidencePostRefused(post, "caller", "payer");
  });

  describe("effects: EvidencePosted and nothing else", function () {
    behavesLikeAnEvidencePostOfEveryPoster(post, "caller");

    for (const kind of ["OnRamp", "OffRamp"] as const) {
      for (const who of ["payer", "payee"] as const) {
        it(`when the kind is ${kind} and the caller is the ${who} (${(kind === "OnRamp") === (who === "payer") ? "the acceptor" : "its counterparty"}) → it posts`, async function () {
          const c = await setupWithWallets(kind, "Disputed");
          const by = posterOf(c, who);
          await expectOnlyEvidence(c, () => post(c, by), by.address);
        });
      }
    }

    it("when the caller is the deal's gateway, though suspended → it posts (its record stays the dispute's)", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
      await expectOnlyEvidence(c, () => post(c, c.p.gateway), c.deal.gateway);
    });

    it("when the uri is long (2,000 characters) and the hash zero → both are carried verbatim", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      const uri = "https://evidence.example/" + "x".repeat(2_000 - 25);
      await expectOnlyEvidence(c, () => post(c, c.payee, ethers.ZeroHash, uri), c.deal.payee, ethers.ZeroHash, uri);
    });

    it("when the registry is paused and the gateway suspended → it posts", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      await c.p.registry.connect(c.p.pauser).pause();
      await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
      await expectOnlyEvidence(c, () => post(c, c.payer), c.deal.payer);
    });
  });
});

describe("Escrow.postEvidenceWithSig", function () {
  async function postSigned(c: WalletCtx, key: HardhatEthersSigner, signer = key.address) {
    const auth = await signEvidence(c.p.escrow, key, c.id, CONTENT, URI);
    return c.p.escrow.connect(c.p.other).postEvidenceWithSig(c.deal, CONTENT, URI, signer, auth);
  }

  itChecksSignatures("Evidence", ["poster"], ["contentHash", "uri"], (c) => ({
    msg: { dealId: c.id, contentHash: CONTENT, uri: URI },
    other: { contentHash: ethers.id("another file"), uri: URI + "#tampered" },
    key: { poster: c.payer },
    address: { poster: c.deal.payer },
    sign: (key, m, expiry) =>
      signEvidence(c.p.escrow, key, String(m.dealId), String(m.contentHash), String(m.uri), expiry),
    submit: ([auth]) => c.p.escrow.connect(c.p.other).postEvidenceWithSig(c.deal, CONTENT, URI, c.deal.payer, auth!),
    succeeded: async (tx) => {
      await expect(tx).to.emit(c.p.escrow, "EvidencePosted").withArgs(c.id, c.deal.payer, CONTENT, URI);
    },
  }));

  describe("validations", function () {
    it("when the deal was never opened (a valid signature over its id) → it reverts EscrowUnknownDeal", async function () {
      const p = await loadFixture(protocolWithWallets);
      const deal = await makeDeal(p);
      const c: WalletCtx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payer, payee: p.payee };
      await expect(postSigned(c, p.payer)).to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal").withArgs(c.id);
    });

    behavesLikeAnEvidencePostRefused(postSigned, "signer", "payee");
  });

  describe("effects: EvidencePosted and nothing else", function () {
    behavesLikeAnEvidencePostOfEveryPoster(postSigned, "signer");

    it("when the signer is the payer's ERC-1271 wallet and its owner signed → it posts as the wallet", async function () {
      const p = await loadFixture(protocolWithWallets);
      const wallet = await p.payerWallet.getAddress();
      const deal = await makeDeal(p, { payer: wallet });
      const escrow = await p.escrow.getAddress();
      const approve = p.usdt.interface.encodeFunctionData("approve", [escrow, deal.amount]);
      await p.payerWallet.connect(p.payer).execute(await p.usdt.getAddress(), 0, approve);
      const open = p.escrow.interface.encodeFunctionData("open", [deal, ethers.ZeroHash]);
      await p.payerWallet.connect(p.payer).execute(escrow, 0, open);
      const c: WalletCtx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payer, payee: p.payee };
      await expectOnlyEvidence(c, () => postSigned(c, p.payer, wallet), wallet);
    });

    it("when the registry is paused and the gateway suspended → it posts", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      await c.p.registry.connect(c.p.pauser).pause();
      await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
      await expectOnlyEvidence(c, () => postSigned(c, c.payee), c.deal.payee);
    });

    it("when the same signature is submitted again while the deal is live → it posts the same record again (no nonce)", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      const auth = await signEvidence(c.p.escrow, c.payer, c.id, CONTENT, URI);
      const send = () => c.p.escrow.connect(c.p.other).postEvidenceWithSig(c.deal, CONTENT, URI, c.deal.payer, auth);
      await expectOnlyEvidence(c, send, c.deal.payer);
      await expectOnlyEvidence(c, send, c.deal.payer);
    });
  });
});
