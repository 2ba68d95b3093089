import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import type { ERC1271Wallet } from "../../../typechain-types";

import { Action, dealIdOf, Flags, Kind, KINDS, loadFixture, makeDeal, openKind, RefundReason } from "../fixtures";
import { RELEASE_WINDOW, signAction, Status, type Deal, type DealOut, type KindName } from "../fixtures";
import { act, actionStructHash, actSubject, afterReleaseWindow, behavesLikeACallOnAKnownDeal } from "./shared/deals";
import { behavesLikeACallRefusedFrom, behavesLikeACallReservedTo, books, bothSignedSubject } from "./shared/deals";
import { byBoth, callsTo, deployWallet, disputeWith, escrowEventNames, expectRecord } from "./shared/deals";
import { expectRefunded, expectReleased, expectUntouched, FINAL_STATES, finalLabel } from "./shared/deals";
import { MUTUAL_CANCEL, now, openDisputes, partyStrangers, payeeStrangers, payerStrangers } from "./shared/deals";
import { protocolWithFloat, releaseWindowEnd, sendBoth, SETTLE, setup, sign, signBoth, tsOf } from "./shared/deals";
import type { Auth, BothSigned, Ctx, State, Subject } from "./shared/deals";

/** For one signer of a call by both signatures: the deal it is tested on, and any further check. */
interface SignerCase {
  kind: KindName;
  state?: State;
  /** Further checks once every wrong signature was refused, given the two valid ones. */
  also?: (c: Ctx, good: [Auth, Auth]) => Promise<void>;
}

const actionName = (action: number) => Object.keys(Action)[action];

/**
 * The checks of a call by both parties' signatures before it acts: the deal against its commitment, a final deal,
 * then each signature in argument order, wrong or expired. A wrong signature is a stranger's, the acceptor's lock
 * delegate's, the other party's (its valid one included), or the signer's own of another action.
 */
function behavesLikeACallByBothSignatures(call: BothSigned, cases: [SignerCase, SignerCase]): void {
  const subject = bothSignedSubject(call);
  behavesLikeACallOnAKnownDeal(subject);
  behavesLikeACallRefusedFrom(subject, FINAL_STATES, finalLabel);

  call.signers.forEach(({ party, action }, slot) => {
    const signerCase = cases[slot];
    const otherParty = party === "payer" ? "payee" : "payer";
    const otherAction = action === Action.Release ? Action.Cancel : Action.Release;
    it(`when the ${party}'s ${actionName(action)} signature is wrong or another action's → it reverts EscrowInvalidSignature(dealId, ${party})`, async function () {
      const c = await setup(signerCase.kind, signerCase.state);
      const good = await signBoth(call, c);
      const bads = [
        await sign(c, c.p.other, action),
        await sign(c, c.p.delegate, action),
        await sign(c, c[otherParty], action),
        await sign(c, c[party], otherAction),
        good[1 - slot],
      ];
      for (const bad of bads) {
        await expect(sendBoth(call, c, slot === 0 ? [bad, good[1]] : [good[0], bad]))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c[party].address);
      }
      if (signerCase.also) await signerCase.also(c, good);
    });
  });

  it("when a signature has expired → it reverts EscrowSignatureExpired(expiry)", async function () {
    const c = await setup("Payment");
    const good = await signBoth(call, c);
    const expiry = await now();
    const old = await signBoth(call, c, c.deal, [expiry, expiry - 1n]);
    for (const [auths, expired] of [
      [[old[0], good[1]], expiry],
      [[good[0], old[1]], expiry - 1n],
    ] as [[Auth, Auth], bigint][]) {
      await expect(sendBoth(call, c, auths))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
        .withArgs(expired);
    }
  });
}

describe("Escrow: every deal call checks the deal against its commitment", function () {
  describe("each parameter is bound (release of a performed deal)", function () {
    const mutations: { field: string; mutate: (c: Ctx) => Promise<DealOut> }[] = [
      { field: "payee", mutate: async (c) => ({ ...c.deal, payee: c.p.other.address }) },
      { field: "gateway", mutate: async (c) => ({ ...c.deal, gateway: c.p.gateway2.address }) },
      { field: "token", mutate: async (c) => ({ ...c.deal, token: await c.p.dai.getAddress() }) },
      { field: "amount", mutate: async (c) => ({ ...c.deal, amount: c.deal.amount - 1n }) },
      { field: "deadline", mutate: async (c) => ({ ...c.deal, deadline: c.deal.deadline + 1n }) },
      { field: "releaseWindow", mutate: async (c) => ({ ...c.deal, releaseWindow: c.deal.releaseWindow + 1n }) },
      { field: "feeBps", mutate: async (c) => ({ ...c.deal, feeBps: 0n }) },
      { field: "kind", mutate: async (c) => ({ ...c.deal, kind: BigInt(Kind.OffRamp) }) },
      { field: "autoRelease", mutate: async (c) => ({ ...c.deal, autoRelease: true }) },
    ];
    for (const m of mutations) {
      it(`when ${m.field} differs → it reverts EscrowUnknownDeal`, async function () {
        const c = await setup("Payment", "Performed");
        const d = await m.mutate(c);
        await expect(c.p.escrow.connect(c.payer).release(d))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
          .withArgs(c.id);
      });
    }

    it("when the salt differs → it reverts EscrowUnknownDeal (for the other id)", async function () {
      const c = await setup("Payment", "Performed");
      const d = { ...c.deal, salt: ethers.id("another salt") };
      await expect(c.p.escrow.connect(c.payer).release(d))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
        .withArgs(dealIdOf(d));
    });
  });
});

describe("Escrow.actWithSig", function () {
  behavesLikeACallOnAKnownDeal(actSubject(Action.Perform, "payee", "Open"));

  describe("when the signer is not the action's party → it reverts EscrowUnauthorized(dealId, signer) before any signature check", function () {
    const signed: [Subject, string, typeof payeeStrangers][] = [
      [actSubject(Action.Perform, "payee", "Open"), "payee (Perform)", payeeStrangers],
      [actSubject(Action.Cancel, "payee", "Open"), "payee (Cancel)", payeeStrangers],
      [actSubject(Action.Claim, "payee", "Performed", afterReleaseWindow), "payee (Claim)", payeeStrangers],
      [actSubject(Action.Release, "payer", "Performed"), "payer (Release)", payerStrangers],
      [actSubject(Action.Dispute, "payer", "Performed"), "payer or the payee (Dispute)", partyStrangers],
    ];
    for (const [subject, party, strangers] of signed) behavesLikeACallReservedTo(subject, party, strangers, "signer");

    it("when the signer is not the action's party and the signature is someone else's or expired → EscrowUnauthorized, not EscrowInvalidSignature or EscrowSignatureExpired (no signature is checked)", async function () {
      const c = await setup("Payment", "Performed", { autoRelease: true });
      await time.increase(RELEASE_WINDOW + 1);
      const expired = (await now()) - 1n;
      const cases: [number, HardhatEthersSigner, HardhatEthersSigner][] = [
        [Action.Perform, c.p.other, c.payee],
        [Action.Cancel, c.payer, c.payee],
        [Action.Claim, c.p.gateway, c.payee],
        [Action.Release, c.payee, c.payer],
        [Action.Dispute, c.p.arbiter, c.payer],
      ];
      for (const [action, stranger, party] of cases) {
        for (const auth of [await sign(c, party, action), await sign(c, stranger, action, expired)]) {
          await expect(act(c, action, stranger, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, stranger.address);
        }
      }
    });

    it("when the signer is a non-party ERC-1271 wallet that would accept the signature → EscrowUnauthorized(dealId, wallet); the wallet is never called", async function () {
      const p = await loadFixture(protocolWithFloat);
      // The wallet's owner is the deal's payee: the wallet accepts every signature the payee makes.
      const wallet = await deployWallet(p.payee);
      const walletAddr = await wallet.getAddress();
      const c = await openKind(p, "Payment");
      const auth = await sign(c, c.payee, Action.Perform);
      const digest = await p.escrow.hashTypedData(actionStructHash(c.id, Action.Perform, auth.expiry));
      expect(await wallet.isValidSignature(digest, auth.signature)).to.equal("0x1626ba7e");

      const data = p.escrow.interface.encodeFunctionData("actWithSig", [c.deal, Action.Perform, walletAddr, auth]);
      await expect(p.escrow.connect(p.other).actWithSig(c.deal, Action.Perform, walletAddr, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(c.id, walletAddr);
      expect(await callsTo(p, data, walletAddr)).to.deep.equal([]);

      // Control: when the wallet IS the payee, the same check does call it (and accepts its owner's signature).
      const c2 = await openKind(p, "Payment", { payee: walletAddr });
      const auth2 = await sign(c2, p.payee, Action.Perform);
      const data2 = p.escrow.interface.encodeFunctionData("actWithSig", [c2.deal, Action.Perform, walletAddr, auth2]);
      expect(await callsTo(p, data2, walletAddr)).to.deep.equal(["STATICCALL"]);
      await expect(p.escrow.connect(p.other).actWithSig(c2.deal, Action.Perform, walletAddr, auth2))
        .to.emit(p.escrow, "DealPerformed")
        .withArgs(c2.id);
    });

    it("when the payer names itself the signer of the payee's actions (Perform, Cancel, Claim) with its own valid signature → EscrowUnauthorized(dealId, payer)", async function () {
      const c = await setup("Payment", "Performed", { autoRelease: true });
      await time.increase(RELEASE_WINDOW + 1);
      for (const action of [Action.Perform, Action.Cancel, Action.Claim]) {
        await expect(act(c, action, c.payer))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, c.payer.address);
      }
      await expect(act(c, Action.Release, c.payee))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
        .withArgs(c.id, c.payee.address);
    });
  });

  describe("when the signer is the action's party", function () {
    it("when the signature has expired → it reverts EscrowSignatureExpired(expiry); one expiring in the same second works", async function () {
      const c = await setup();
      const t = (await now()) + 10n;
      const expired = await sign(c, c.payee, Action.Perform, t - 1n);
      await time.setNextBlockTimestamp(t);
      await expect(act(c, Action.Perform, c.payee, expired))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
        .withArgs(t - 1n);
      const atExpiry = await sign(c, c.payee, Action.Perform, t + 5n);
      await time.setNextBlockTimestamp(t + 5n);
      await expect(act(c, Action.Perform, c.payee, atExpiry))
        .to.emit(c.p.escrow, "DealPerformed")
        .withArgs(c.id);
    });

    for (const [name, action, party, state] of [
      ["Release", Action.Release, "payer", "Performed"],
      ["Cancel", Action.Cancel, "payee", "Open"],
      ["Dispute (payer)", Action.Dispute, "payer", "Performed"],
      ["Dispute (payee)", Action.Dispute, "payee", "Performed"],
      ["Claim", Action.Claim, "payee", "Performed"],
    ] as const) {
      it(`when the ${name} signature has expired → it reverts EscrowSignatureExpired(expiry)`, async function () {
        const c = await setup("Payment", state, action === Action.Claim ? { autoRelease: true } : {});
        const auth = await sign(c, c[party], action, (await now()) + 60n);
        await time.increase(RELEASE_WINDOW + 1);
        await expect(act(c, action, c[party], auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
          .withArgs(auth.expiry);
      });
    }

    describe("when the signature is not the signer's for this action, deal, chain and escrow → it reverts EscrowInvalidSignature(dealId, signer)", function () {
      it("Perform named for the payee: another's signature, another action's, another deal's, another chain's or escrow's", async function () {
        const c = await setup();
        const c2 = await openKind(c.p, "Payment");
        const { chainId } = await ethers.provider.getNetwork();
        const bad = [
          await sign(c, c.payer, Action.Perform),
          await sign(c, c.p.other, Action.Perform),
          await sign(c, c.p.delegate, Action.Perform),
          await sign(c, c.payee, Action.Cancel),
          await signAction(c.p.escrow, c.payee, c2.id, Action.Perform),
          await signAction(c.p.escrow, c.payee, c.id, Action.Perform, undefined, { chainId: chainId + 1n }),
          await signAction(c.p.escrow, c.payee, c.id, Action.Perform, undefined, {
            verifyingContract: c.p.other.address,
          }),
        ];
        for (const auth of bad) {
          await expect(act(c, Action.Perform, c.payee, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
            .withArgs(c.id, c.payee.address);
        }
      });

      it("Release named for the payer: the payee's, the lock delegate's or the gateway's signature, or the payer's Cancel", async function () {
        const c = await setup("OnRamp", "Performed");
        const bad = [
          await sign(c, c.payee, Action.Release),
          await sign(c, c.p.delegate, Action.Release),
          await sign(c, c.p.gateway, Action.Release),
          await sign(c, c.payer, Action.Cancel),
        ];
        for (const auth of bad) {
          await expect(act(c, Action.Release, c.payer, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
            .withArgs(c.id, c.payer.address);
        }
      });

      for (const who of ["payer", "payee"] as const) {
        it(`Dispute named for the ${who}: a third party's or the other party's signature, or the ${who}'s Release`, async function () {
          const c = await setup("Payment", "Performed");
          await time.increase(RELEASE_WINDOW + 1);
          const otherParty = who === "payer" ? c.payee : c.payer;
          const bad = [
            await sign(c, c.p.other, Action.Dispute),
            await sign(c, c.p.arbiter, Action.Dispute),
            await sign(c, otherParty, Action.Dispute),
            await sign(c, c[who], Action.Release),
          ];
          for (const auth of bad) {
            await expect(act(c, Action.Dispute, c[who], auth))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
              .withArgs(c.id, c[who].address);
          }
        });
      }

      it("Cancel and Claim named for the payee: the payer's or another's signature", async function () {
        const c = await setup("Payment", "Performed", { autoRelease: true });
        await time.increase(RELEASE_WINDOW + 1);
        for (const action of [Action.Cancel, Action.Claim]) {
          for (const s of [c.payer, c.p.other]) {
            await expect(act(c, action, c.payee, await sign(c, s, action)))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
              .withArgs(c.id, c.payee.address);
          }
        }
      });
    });

    it("when the signer is an ERC-1271 wallet → its owner's signature is accepted, another's reverts EscrowInvalidSignature(dealId, wallet)", async function () {
      const p = await loadFixture(protocolWithFloat);
      const owner = p.rest[0];
      const wallet = await deployWallet(owner);
      const walletAddr = await wallet.getAddress();
      const c = await openKind(p, "Payment", { payee: walletAddr });
      const ownerSig = await signAction(p.escrow, owner, c.id, Action.Perform);
      await expect(p.escrow.connect(p.other).actWithSig(c.deal, Action.Perform, walletAddr, ownerSig))
        .to.emit(p.escrow, "DealPerformed")
        .withArgs(c.id);
      const bad = await signAction(p.escrow, p.other, c.id, Action.Cancel);
      await expect(p.escrow.connect(p.other).actWithSig(c.deal, Action.Cancel, walletAddr, bad))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(c.id, walletAddr);
    });

    describe("when the signature is valid → the action as the direct call by the signer", function () {
      for (const kind of KINDS) {
        it(`${kind}: Perform → Performed; no funds move`, async function () {
          const c = await setup(kind);
          const before = await books(c);
          const tx = await act(c, Action.Perform, c.payee);
          await expect(tx).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
          await expectRecord(c, Status.Performed, await tsOf(tx));
          await expectUntouched(c, before);
        });
      }

      it("Perform after the payer's release → Released at once", async function () {
        const c = await setup("OnRamp", "OpenReleased");
        const tx = await expectReleased(c, () => act(c, Action.Perform, c.payee));
        expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealPerformed", "DealReleased"]);
      });

      it("Perform keeps the deadline rule: EscrowDeadlinePassed after it", async function () {
        const c = await setup();
        const auth = await sign(c, c.payee, Action.Perform);
        await time.increaseTo(c.deal.deadline + 1n);
        await expect(act(c, Action.Perform, c.payee, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
          .withArgs(c.id, c.deal.deadline);
      });

      for (const kind of KINDS) {
        it(`${kind}: Release → Released from Performed`, async function () {
          const c = await setup(kind, "Performed");
          const tx = await expectReleased(c, () => act(c, Action.Release, c.payer));
          await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
        });
      }

      it("Release → Released from Disputed; the held dispute is uncounted", async function () {
        const c = await setup("OffRamp", "Disputed");
        const tx = await expectReleased(c, () => act(c, Action.Release, c.payer));
        await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
      });

      it("Release → PayerReleased from Open", async function () {
        const c = await setup("OnRamp");
        const openedAt = (await c.p.escrow.getDeal(c.id)).since;
        await expect(act(c, Action.Release, c.payer))
          .to.emit(c.p.escrow, "DealReleaseApproved")
          .withArgs(c.id);
        await expectRecord(c, Status.Open, openedAt, Flags.PayerReleased);
      });

      for (const kind of KINDS) {
        it(`${kind}: Cancel → Refunded (PayeeCancel)`, async function () {
          const c = await setup(kind, "Performed");
          const tx = await expectRefunded(c, () => act(c, Action.Cancel, c.payee));
          await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.PayeeCancel);
        });
      }

      it("Cancel from Disputed → Refunded; the held dispute is uncounted", async function () {
        const c = await setup("Payment", "Disputed");
        await expect(act(c, Action.Cancel, c.payee))
          .to.emit(c.p.registry, "GatewayDisputesChanged")
          .withArgs(c.p.gateway.address, 0);
        expect(await openDisputes(c.p)).to.equal(0n);
      });

      for (const kind of KINDS) {
        it(`${kind}: Dispute by the payer's signature → Disputed by the payer, at once`, async function () {
          const c = await setup(kind, "Performed");
          const tx = await act(c, Action.Dispute, c.payer);
          await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c.payer.address, true);
          await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 1);
          await expectRecord(c, Status.Disputed, await tsOf(tx), Flags.GatewayHolds);
        });

        it(`${kind}: Dispute by the payee's signature → EscrowReleaseWindowOpen in the window, Disputed by the payee after it`, async function () {
          const c = await setup(kind, "Performed");
          const endsAt = await releaseWindowEnd(c);
          const auth = await sign(c, c.payee, Action.Dispute);
          await expect(act(c, Action.Dispute, c.payee, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
            .withArgs(c.id, endsAt);
          await time.setNextBlockTimestamp(endsAt + 1n);
          const tx = await act(c, Action.Dispute, c.payee, auth);
          await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c.payee.address, true);
          await expectRecord(c, Status.Disputed, endsAt + 1n, Flags.GatewayHolds);
        });
      }

      it("Dispute keeps the status rule: EscrowWrongStatus(Open) on an open deal", async function () {
        const c = await setup("Payment");
        await expect(act(c, Action.Dispute, c.payer))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Open);
      });

      describe("Dispute by the named signer, even when the payer is a wallet that accepts the payee's signatures", function () {
        /** A payment whose payer is an ERC-1271 wallet owned by the payee's key: it says yes to whatever the
         * payee signs (the review's yes-to-everything payer wallet). */
        async function walletPayerDeal(over: Partial<Deal> = {}): Promise<Ctx & { wallet: ERC1271Wallet }> {
          const p = await loadFixture(protocolWithFloat);
          const wallet = await deployWallet(p.payee);
          const walletAddr = await wallet.getAddress();
          const deal = await makeDeal(p, { payer: walletAddr, ...over });
          await p.usdt.connect(p.admin).mint(walletAddr, deal.amount);
          const escrowAddr = await p.escrow.getAddress();
          await wallet
            .connect(p.payee)
            .execute(deal.token, 0, p.usdt.interface.encodeFunctionData("approve", [escrowAddr, deal.amount]));
          await wallet
            .connect(p.payee)
            .execute(escrowAddr, 0, p.escrow.interface.encodeFunctionData("open", [deal, ethers.ZeroHash]));
          await p.escrow.connect(p.payee).perform(deal);
          const c: Ctx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payee, payee: p.payee };
          return { ...c, wallet };
        }

        it("the payee's signature, named for the payee, within the window → the payee's rule applies: EscrowReleaseWindowOpen", async function () {
          const c = await walletPayerDeal();
          const auth = await sign(c, c.payee, Action.Dispute);
          const digest = await c.p.escrow.hashTypedData(actionStructHash(c.id, Action.Dispute, auth.expiry));
          expect(await c.wallet.isValidSignature(digest, auth.signature), "the payer wallet accepts it").to.equal(
            "0x1626ba7e",
          );
          await expect(act(c, Action.Dispute, c.payee, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
            .withArgs(c.id, await releaseWindowEnd(c));
        });

        it("an autoRelease payment after the window: the payee's signature named for the payee → Disputed by the payee (the payer wallet takes no credit)", async function () {
          const c = await walletPayerDeal({ autoRelease: true });
          const auth = await sign(c, c.payee, Action.Dispute);
          const endsAt = await releaseWindowEnd(c);
          await time.setNextBlockTimestamp(endsAt + 1n);
          await expect(act(c, Action.Dispute, c.payee, auth))
            .to.emit(c.p.escrow, "DealDisputed")
            .withArgs(c.id, c.payee.address, true);
        });

        it("an autoRelease payment after the window: the same signature named for the payer wallet → the payer's rule applies: EscrowReleaseWindowClosed", async function () {
          const c = await walletPayerDeal({ autoRelease: true });
          const walletAddr = await c.wallet.getAddress();
          const auth = await sign(c, c.payee, Action.Dispute);
          const endsAt = await releaseWindowEnd(c);
          await time.setNextBlockTimestamp(endsAt + 1n);
          await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Dispute, walletAddr, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowClosed")
            .withArgs(c.id, endsAt);
        });
      });

      it("Claim → Released after the release window", async function () {
        const c = await setup("Payment", "Performed", { autoRelease: true });
        await time.increase(RELEASE_WINDOW + 1);
        const tx = await expectReleased(c, () => act(c, Action.Claim, c.payee));
        await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
      });

      it("Claim → EscrowReleaseWindowOpen before the window ends", async function () {
        const c = await setup("Payment", "Performed", { autoRelease: true });
        await expect(act(c, Action.Claim, c.payee))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
          .withArgs(c.id, await releaseWindowEnd(c));
      });

      it("when replayed after it took effect → it reverts EscrowWrongStatus(Performed)", async function () {
        const c = await setup();
        const auth = await sign(c, c.payee, Action.Perform);
        await act(c, Action.Perform, c.payee, auth);
        await expect(act(c, Action.Perform, c.payee, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Performed);
      });
    });
  });
});

describe("Escrow.settleWithSigs", function () {
  behavesLikeACallByBothSignatures(SETTLE, [
    {
      kind: "OffRamp",
      also: async (c, [payeeAuth, payerAuth]) => {
        // swapped slots
        await expect(sendBoth(SETTLE, c, [payerAuth, payeeAuth]))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payee.address);
      },
    },
    { kind: "OnRamp" },
  ]);

  it("when the deal is Open and the deadline has passed → it reverts EscrowDeadlinePassed", async function () {
    const c = await setup("Payment");
    const auths = await signBoth(SETTLE, c);
    await time.setNextBlockTimestamp(c.deal.deadline + 1n);
    await expect(sendBoth(SETTLE, c, auths))
      .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
      .withArgs(c.id, c.deal.deadline);
  });

  describe("when both signatures are valid", function () {
    for (const kind of KINDS) {
      for (const state of ["Open", "OpenReleased", "Performed"] as State[]) {
        it(`${kind}: when the deal is ${state === "OpenReleased" ? "Open and released" : state} → Released; the payee gets the amount less the fee`, async function () {
          const c = await setup(kind, state);
          const tx = await expectReleased(c, byBoth(SETTLE, c));
          await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased"]);
        });
      }
    }

    it("when the deal is Open at exactly the deadline → Released", async function () {
      const c = await setup("Payment");
      const auths = await signBoth(SETTLE, c, c.deal, [c.deal.deadline, c.deal.deadline]);
      await time.setNextBlockTimestamp(c.deal.deadline);
      await expectReleased(c, () => sendBoth(SETTLE, c, auths));
    });

    it("when the deal is Performed after the deadline → Released (the deadline binds only an open deal)", async function () {
      const c = await setup("Payment", "Performed");
      await time.increaseTo(c.deal.deadline + 1n);
      await expectReleased(c, byBoth(SETTLE, c));
    });

    for (const kind of KINDS) {
      it(`${kind}: when the deal is Disputed and the gateway holds the dispute → Released; its open disputes fall by one`, async function () {
        const c = await setup(kind, "Disputed");
        const tx = await expectReleased(c, byBoth(SETTLE, c));
        await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
        expect(await openDisputes(c.p)).to.equal(0n);
      });
    }

    it("when the deal is Disputed and the gateway does not hold it (raised while suspended, then Exiting) → Released; the counter is unchanged", async function () {
      const c = await disputeWith("suspended, then Exiting");
      const tx = await expectReleased(c, byBoth(SETTLE, c));
      await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
      expect(await openDisputes(c.p)).to.equal(1n);
    });
  });
});

describe("Escrow.cancelWithSigs", function () {
  behavesLikeACallByBothSignatures(MUTUAL_CANCEL, [
    {
      kind: "OnRamp",
      also: async (_c, [payerAuth, payeeAuth]) => {
        expect(payerAuth.signature).to.not.equal(payeeAuth.signature);
      },
    },
    {
      kind: "Payment",
      state: "Disputed",
      also: async (c) => {
        expect(await openDisputes(c.p)).to.equal(1n);
      },
    },
  ]);

  describe("when both signatures are valid", function () {
    for (const kind of KINDS) {
      for (const state of ["Open", "Performed", "Disputed"] as State[]) {
        const branch =
          state === "Disputed"
            ? "when the deal is Disputed and the gateway holds the dispute → Refunded (MutualCancel); its open disputes fall by one"
            : `when the deal is ${state} → Refunded (MutualCancel); the whole amount back`;
        it(`${kind}: ${branch}`, async function () {
          const c = await setup(kind, state);
          const tx = await expectRefunded(c, byBoth(MUTUAL_CANCEL, c));
          await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.MutualCancel);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealRefunded"]);
          if (state === "Disputed") {
            await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
            expect(await openDisputes(c.p)).to.equal(0n);
          } else {
            await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
          }
        });
      }
    }

    it("when the deal is Performed, the registry paused and the deadline passed → Refunded all the same", async function () {
      const c = await setup("Payment", "Performed");
      await c.p.registry.connect(c.p.pauser).pause();
      await time.increaseTo(c.deal.deadline + 1n);
      await expectRefunded(c, byBoth(MUTUAL_CANCEL, c));
    });

    it("when the deal is Disputed and the gateway does not hold it (registry refused to count it) → Refunded; the counter is unchanged", async function () {
      const c = await disputeWith("registry refuses");
      const tx = await expectRefunded(c, byBoth(MUTUAL_CANCEL, c));
      await expect(tx).not.to.emit(c.p.escrow, "DisputeCountSkipped");
      expect(await openDisputes(c.p)).to.equal(1n);
    });
  });
});
