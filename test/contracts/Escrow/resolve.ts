import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { ethers } from "hardhat";
import type { ERC1271Wallet } from "../../../typechain-types";

import { DAY, dealIdOf, GatewayStatus, KINDS, loadFixture, makeDeal, RESOLUTION_WINDOW } from "../fixtures";
import { signResolution, Status, USDT } from "../fixtures";
import { AMOUNT, arbiterRuling, behavesLikeACallOnAKnownDeal, behavesLikeACallRefusedFrom } from "./shared/deals";
import { disputeWith, escrowEventNames, expectSettlement, FINAL_STATES, finalLabel, FLOAT } from "./shared/deals";
import { floatOf, gatewayRuling, NOT_HELD, openDisputes, openInState, protocolWithFloat } from "./shared/deals";
import { REASONS, resolutionEnd, resolveSubject, setup, tsOf, type Ctx, type FinalState } from "./shared/deals";
import type { State } from "./shared/deals";
import { FINAL_STATUS, itChecksSignatures, later, PARTIAL, payoutOf, protocolWithWallets } from "./shared/signed";
import { setupWithWallets, type WalletCtx } from "./shared/signed";

describe("Escrow.resolve", function () {
  const SPLIT = USDT(60); // of 100

  /** `who` rules `payeeAmount` of `c` with REASONS: every leg checked (the gateway takes its fee, an arbiter none),
   * and DealResolved(dealId, who, payee's net, fee, refund, REASONS). */
  async function expectRuling(c: Ctx, who: "gateway" | "arbiter", payeeAmount = SPLIT) {
    const by = c.p[who];
    const pay = who === "gateway" ? gatewayRuling(c, payeeAmount) : arbiterRuling(c, payeeAmount);
    const rule = () => c.p.escrow.connect(by).resolve(c.deal, payeeAmount, REASONS);
    const tx = await expectSettlement(c, rule, pay, Status.Resolved);
    await expect(tx)
      .to.emit(c.p.escrow, "DealResolved")
      .withArgs(c.id, by.address, pay.payeeNet, pay.fee, pay.refund, REASONS);
    return tx;
  }

  behavesLikeACallOnAKnownDeal(resolveSubject);
  behavesLikeACallRefusedFrom(resolveSubject, ["Open", "OpenReleased", "Performed"], (st) =>
    st === "OpenReleased" ? "not Disputed (Open and released)" : `not Disputed (${st})`,
  );
  behavesLikeACallRefusedFrom(resolveSubject, FINAL_STATES, finalLabel);

  it("when payeeAmount > amount → it reverts EscrowPayeeAmountTooHigh (gateway in its window, arbiter after it)", async function () {
    const c = await setup("Payment", "Disputed");
    await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, c.deal.amount + 1n, REASONS))
      .to.be.revertedWithCustomError(c.p.escrow, "EscrowPayeeAmountTooHigh")
      .withArgs(c.id, c.deal.amount + 1n, c.deal.amount);
    await time.increase(RESOLUTION_WINDOW + 1);
    await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, c.deal.amount + 1n, REASONS))
      .to.be.revertedWithCustomError(c.p.escrow, "EscrowPayeeAmountTooHigh")
      .withArgs(c.id, c.deal.amount + 1n, c.deal.amount);
  });

  describe("when the caller is the deal's gateway", function () {
    describe("when it holds the dispute and may rule (not suspended; Active or Exiting)", function () {
      it("when the resolution window has ended → it reverts EscrowResolutionWindowClosed(dealId, disputedAt + window)", async function () {
        const c = await setup("Payment", "Disputed");
        const endsAt = await resolutionEnd(c);
        await time.setNextBlockTimestamp(endsAt + 1n);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowClosed")
          .withArgs(c.id, endsAt);
      });

      it("when the resolution window has ended → it reverts EscrowResolutionWindowClosed; the window counts from the dispute, not from perform", async function () {
        const c = await setup("Payment", "Performed");
        await time.increase(2 * DAY);
        const tx = await c.p.escrow.connect(c.payer).dispute(c.deal);
        const endsAt = (await tsOf(tx)) + BigInt(RESOLUTION_WINDOW);
        expect(await resolutionEnd(c)).to.equal(endsAt);
        await time.setNextBlockTimestamp(endsAt + 1n);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowClosed")
          .withArgs(c.id, endsAt);
      });

      describe("when the window runs → Resolved; DealResolved(by gateway, payee less fee, fee, refund, reasons); its open disputes fall by one", function () {
        for (const kind of KINDS) {
          it(`${kind}: when the window runs → the payee gets payeeAmount − fee, the fee is owed to the gateway, the payer gets the rest; reasons in DealResolved; openDisputes − 1`, async function () {
            const c = await setup(kind, "Disputed");
            const pay = gatewayRuling(c, SPLIT);
            expect(pay.fee).to.equal(USDT("0.3"));
            expect(await openDisputes(c.p)).to.equal(1n);
            const tx = await expectRuling(c, "gateway");
            expect([pay.payeeNet, pay.refund]).to.deep.equal([USDT("59.7"), USDT(40)]);
            await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealResolved"]);
            expect(await openDisputes(c.p)).to.equal(0n);
          });
        }

        it("when it rules at the window's last second with no reasons → Resolved; DealResolved carries the zero hash", async function () {
          const c = await setup("Payment", "Disputed");
          const endsAt = await resolutionEnd(c);
          await time.setNextBlockTimestamp(endsAt);
          const pay = gatewayRuling(c, SPLIT);
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, ethers.ZeroHash))
            .to.emit(c.p.escrow, "DealResolved")
            .withArgs(c.id, c.p.gateway.address, pay.payeeNet, pay.fee, pay.refund, ethers.ZeroHash);
        });

        it("when payeeAmount is 0 → everything back to the payer, no fee", async function () {
          const c = await setup("Payment", "Disputed");
          await expectRuling(c, "gateway", 0n);
        });

        it("when payeeAmount is the amount → everything to the payee less the fee, no refund", async function () {
          const c = await setup("OffRamp", "Disputed");
          await expectRuling(c, "gateway", c.deal.amount);
        });

        it("when the kind is OnRamp and payeeAmount is 0 → the whole amount back to the acceptor's free float", async function () {
          const c = await setup("OnRamp", "Disputed");
          await expectRuling(c, "gateway", 0n);
          expect(await floatOf(c.p, c.deal.token)).to.deep.equal([FLOAT, 0n]);
        });

        it("when the fee on the payee's share has a fraction (333333 base units) → it is rounded down (1666)", async function () {
          const c = await setup("Payment", "Disputed");
          await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, 333_333n, REASONS),
            { payeeNet: 331_667n, fee: 1_666n, refund: c.deal.amount - 333_333n },
            Status.Resolved,
          );
        });

        it("when the gateway raised its fee to 100 bps after the open → it charges the deal's 50 bps", async function () {
          const c = await setup("OnRamp", "Disputed");
          await c.p.registry.connect(c.p.gateway).setGatewayFee(100);
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
            .to.emit(c.p.escrow, "DealResolved")
            .withArgs(c.id, c.p.gateway.address, USDT("59.7"), USDT("0.3"), USDT(40), REASONS);
        });

        it("when the registry is paused → it rules all the same", async function () {
          const c = await setup("Payment", "Disputed");
          await c.p.registry.connect(c.p.pauser).pause();
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS)).to.emit(
            c.p.escrow,
            "DealResolved",
          );
        });

        it("when it requested exit after the dispute → it still rules it (with its fee); the arbiter is refused in the window", async function () {
          const p = await loadFixture(protocolWithFloat);
          const c = await openInState(p, "OffRamp", "Disputed");
          await p.registry.connect(p.gateway).requestExit();
          expect((await p.registry.getGateway(p.gateway.address)).status).to.equal(GatewayStatus.Exiting);
          await expect(p.escrow.connect(p.arbiter).resolve(c.deal, SPLIT, REASONS))
            .to.be.revertedWithCustomError(p.escrow, "EscrowResolutionWindowOpen")
            .withArgs(c.id, await resolutionEnd(c));
          await expectRuling(c, "gateway");
          expect(await openDisputes(p)).to.equal(0n);
        });

        it("when it was suspended and then reinstated → it rules again within the window; the arbiter is refused", async function () {
          const c = await setup("Payment", "Disputed");
          const endsAt = await resolutionEnd(c);
          await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, c.p.gateway.address);
          await c.p.registry.connect(c.p.governor).reinstateGateway(c.p.gateway.address);
          await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT, REASONS))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
            .withArgs(c.id, endsAt);
          await expectRuling(c, "gateway");
        });
      });
    });

    describe("when it does not hold the dispute or may not rule → it reverts EscrowUnauthorized", function () {
      it("when it holds the dispute but is suspended → EscrowUnauthorized", async function () {
        const c = await setup("OnRamp", "Disputed");
        await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, c.p.gateway.address);
      });

      it("when it holds the dispute, is suspended, then requests exit → EscrowUnauthorized (the sanction stays); the arbiter rules at once", async function () {
        const c = await setup("Payment", "Disputed");
        await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
        await c.p.registry.connect(c.p.gateway).requestExit();
        const g = await c.p.registry.getGateway(c.p.gateway.address);
        expect([g.status, g.suspended]).to.deep.equal([BigInt(GatewayStatus.Exiting), true]);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, c.p.gateway.address);
        await expectRuling(c, "arbiter");
        expect(await openDisputes(c.p)).to.equal(0n);
      });

      for (const holding of NOT_HELD) {
        it(`when the dispute was raised while it was ${holding === "registry refuses" ? "Active but the registry refused to count it" : holding} (not held) → EscrowUnauthorized, even in the window`, async function () {
          const c = await disputeWith(holding);
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, c.p.gateway.address);
        });
      }

      it("when the dispute was raised after it requested exit, and it is later reinstated to good standing → still EscrowUnauthorized (it never held it)", async function () {
        const c = await disputeWith("suspended, then Exiting");
        await c.p.registry.connect(c.p.governor).reinstateGateway(c.p.gateway.address);
        expect(await c.p.registry.canRule(c.p.gateway.address)).to.equal(true);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, c.p.gateway.address);
      });
    });
  });

  describe("when the caller is an arbiter", function () {
    describe("when the gateway may not rule it (its window is over, it is suspended, or it does not hold the dispute) → Resolved with no fee; DealResolved(by arbiter, ..., reasons); a held dispute is uncounted", function () {
      for (const kind of KINDS) {
        it(`${kind}: when the window is over → Resolved with no fee; the held dispute is uncounted`, async function () {
          const c = await setup(kind, "Disputed");
          await time.setNextBlockTimestamp((await resolutionEnd(c)) + 1n);
          const tx = await expectRuling(c, "arbiter");
          await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
          expect(await openDisputes(c.p)).to.equal(0n);
        });
      }

      it("when the window is over, payeeAmount = amount → the whole amount to the payee, no fee", async function () {
        const c = await setup("Payment", "Disputed");
        await time.increase(RESOLUTION_WINDOW + 1);
        await expectRuling(c, "arbiter", c.deal.amount);
      });

      it("when the gateway holding the dispute is suspended → at once, no fee; the held dispute is uncounted", async function () {
        const c = await setup("OnRamp", "Disputed");
        await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
        await expectRuling(c, "arbiter");
        expect(await openDisputes(c.p)).to.equal(0n);
      });

      for (const holding of NOT_HELD) {
        it(`when the dispute is not held (raised while ${holding === "registry refuses" ? "the registry refused to count it" : `the gateway was ${holding}`}) → at once, no fee; the counter is unchanged`, async function () {
          const c = await disputeWith(holding);
          const before = await openDisputes(c.p);
          const tx = await expectRuling(c, "arbiter");
          await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
          await expect(tx).not.to.emit(c.p.escrow, "DisputeCountSkipped");
          expect(await openDisputes(c.p)).to.equal(before);
        });
      }
    });

    it("when the gateway holds the dispute, may rule and the window runs → it reverts EscrowResolutionWindowOpen (also at its last second)", async function () {
      const c = await setup("Payment", "Disputed");
      const endsAt = await resolutionEnd(c);
      await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT, REASONS))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
        .withArgs(c.id, endsAt);
      await time.setNextBlockTimestamp(endsAt);
      await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT, REASONS))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
        .withArgs(c.id, endsAt);
    });
  });

  it("when the caller is anyone else (parties, governor, another gateway, admin, lock delegate) → it reverts EscrowUnauthorized, in and after the window", async function () {
    const c = await setup("OffRamp", "Disputed");
    const callers = [c.payer, c.payee, c.p.other, c.p.governor, c.p.gateway2, c.p.admin, c.p.delegate];
    for (const s of callers) {
      await expect(c.p.escrow.connect(s).resolve(c.deal, SPLIT, REASONS))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
        .withArgs(c.id, s.address);
    }
    await time.increase(RESOLUTION_WINDOW + 1);
    for (const s of callers) {
      await expect(c.p.escrow.connect(s).resolve(c.deal, SPLIT, REASONS))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
        .withArgs(c.id, s.address);
    }
  });
});

describe("Escrow.resolveWithSig", function () {
  /** Resolves `c` on `signer`'s signature, submitted by a stranger. */
  async function resolveSigned(c: WalletCtx, signer: HardhatEthersSigner, payeeAmount: bigint, reasons = REASONS) {
    const auth = await signResolution(c.p.escrow, signer, c.id, payeeAmount, reasons);
    return c.p.escrow.connect(c.p.other).resolveWithSig(c.deal, payeeAmount, reasons, signer.address, auth);
  }

  itChecksSignatures("Resolution", ["gateway"], ["payeeAmount", "reasons"], (c) => ({
    msg: { dealId: c.id, payeeAmount: PARTIAL, reasons: REASONS },
    other: { payeeAmount: PARTIAL + 1n, reasons: ethers.id("other reasons") },
    key: { gateway: c.p.gateway },
    address: { gateway: c.deal.gateway },
    sign: (key, m, expiry) =>
      signResolution(c.p.escrow, key, String(m.dealId), BigInt(String(m.payeeAmount)), String(m.reasons), expiry),
    submit: ([auth]) => c.p.escrow.connect(c.p.other).resolveWithSig(c.deal, PARTIAL, REASONS, c.deal.gateway, auth!),
    succeeded: async (tx) => {
      const { payeeNet, fee, refund } = payoutOf(c, PARTIAL);
      await expect(tx)
        .to.emit(c.p.escrow, "DealResolved")
        .withArgs(c.id, c.deal.gateway, payeeNet, fee, refund, REASONS);
    },
  }));

  describe("validations", function () {
    it("when the deal was never opened (a valid signature over its id) → it reverts EscrowUnknownDeal", async function () {
      const p = await loadFixture(protocolWithWallets);
      const deal = await makeDeal(p);
      const c: WalletCtx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payer, payee: p.payee };
      await expect(resolveSigned(c, p.gateway, PARTIAL))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal")
        .withArgs(c.id);
    });

    for (const state of ["Open", "Performed", ...FINAL_STATES] as State[]) {
      const status =
        state === "Open" ? Status.Open : state === "Performed" ? Status.Performed : FINAL_STATUS[state as FinalState];
      it(`when the deal is ${state}, not Disputed → it reverts EscrowWrongStatus(dealId, ${state})`, async function () {
        const c = await setupWithWallets("Payment", state);
        await expect(resolveSigned(c, c.p.gateway, PARTIAL))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, status);
      });
    }

    it("when payeeAmount > amount → it reverts EscrowPayeeAmountTooHigh(dealId, payeeAmount, amount)", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      await expect(resolveSigned(c, c.p.gateway, AMOUNT + 1n))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowPayeeAmountTooHigh")
        .withArgs(c.id, AMOUNT + 1n, AMOUNT);
    });

    it("when the same signature is submitted again → it reverts EscrowWrongStatus(dealId, Resolved)", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      const auth = await signResolution(c.p.escrow, c.p.gateway, c.id, PARTIAL, REASONS);
      const again = () => c.p.escrow.resolveWithSig(c.deal, PARTIAL, REASONS, c.deal.gateway, auth);
      await again();
      await expect(again())
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
        .withArgs(c.id, Status.Resolved);
    });
  });

  describe("who may rule", function () {
    /** Situations in which the signer may not rule, and how to get there from a held dispute. */
    const refused: {
      name: string;
      who: (c: WalletCtx) => HardhatEthersSigner;
      prepare?: (c: WalletCtx) => Promise<void>;
    }[] = [
      { name: "the payer", who: (c) => c.payer },
      { name: "the payee", who: (c) => c.payee },
      { name: "a stranger", who: (c) => c.p.other },
      { name: "another active gateway", who: (c) => c.p.gateway2 },
      { name: "the acceptor's lock delegate", who: (c) => c.p.delegate },
      {
        name: "a revoked arbiter (window over)",
        who: (c) => c.p.arbiter,
        prepare: async (c) => {
          await c.p.registry.connect(c.p.admin).revokeRole(await c.p.registry.ARBITER_ROLE(), c.p.arbiter.address);
          await time.increase(RESOLUTION_WINDOW + 1);
        },
      },
      {
        name: "the deal's gateway, suspended",
        who: (c) => c.p.gateway,
        prepare: async (c) => {
          await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
        },
      },
    ];
    for (const r of refused) {
      it(`when the signer is ${r.name} → it reverts EscrowUnauthorized(dealId, signer)`, async function () {
        const c = await setupWithWallets("Payment", "Disputed");
        if (r.prepare) await r.prepare(c);
        const signer = r.who(c);
        await expect(resolveSigned(c, signer, PARTIAL))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, signer.address);
      });
    }

    it("when the signer is the deal's gateway but does not hold the dispute (raised while it was exiting) → it reverts EscrowUnauthorized(dealId, gateway)", async function () {
      const c = await setupWithWallets("Payment", "Performed");
      await c.p.registry.connect(c.p.gateway).requestExit();
      await c.p.escrow.connect(c.payer).dispute(c.deal);
      await expect(resolveSigned(c, c.p.gateway, PARTIAL))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
        .withArgs(c.id, c.deal.gateway);
    });

    it("when the gateway holds the dispute and its resolution window is over → it reverts EscrowResolutionWindowClosed(dealId, since + window)", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      const endsAt = (await c.p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW);
      await time.increaseTo(endsAt + 1n);
      await expect(resolveSigned(c, c.p.gateway, PARTIAL))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowClosed")
        .withArgs(c.id, endsAt);
    });

    it("when the gateway holds the dispute, may rule and its window is open → an arbiter's signature reverts EscrowResolutionWindowOpen(dealId, since + window)", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      const endsAt = (await c.p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW);
      await expect(resolveSigned(c, c.p.arbiter, PARTIAL))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
        .withArgs(c.id, endsAt);
    });
  });

  describe("the gateway's signature rules exactly as resolve by the gateway", function () {
    const shares: [string, (amount: bigint) => bigint][] = [
      ["0", () => 0n],
      ["33.333333", () => PARTIAL],
      ["the whole amount", (amount) => amount],
    ];
    const ways: [string, (c: WalletCtx, payeeAmount: bigint) => Promise<ContractTransactionResponse>][] = [
      [
        "resolve by the gateway itself (control)",
        (c, x) => c.p.escrow.connect(c.p.gateway).resolve(c.deal, x, REASONS),
      ],
      ["resolveWithSig, the gateway's signature submitted by a stranger", (c, x) => resolveSigned(c, c.p.gateway, x)],
    ];
    for (const [shareName, share] of shares) {
      for (const [way, rule] of ways) {
        it(`payeeAmount ${shareName}, ${way} → fee owed to the gateway, DealResolved(by gateway, reasons), counter −1`, async function () {
          const c = await setupWithWallets("Payment", "Disputed");
          const payeeAmount = share(c.deal.amount);
          const e = payoutOf(c, payeeAmount);
          const tx = await expectSettlement(c, () => rule(c, payeeAmount), e, Status.Resolved);
          await expect(tx)
            .to.emit(c.p.escrow, "DealResolved")
            .withArgs(c.id, c.deal.gateway, e.payeeNet, e.fee, e.refund, REASONS);
          expect(await openDisputes(c.p)).to.equal(0n);
        });
      }
    }

    it("when the kind is OnRamp → the refund returns to the acceptor's free float", async function () {
      const c = await setupWithWallets("OnRamp", "Disputed");
      await expectSettlement(c, () => resolveSigned(c, c.p.gateway, PARTIAL), payoutOf(c, PARTIAL), Status.Resolved);
    });

    it("when the reasons are zero (none written) → DealResolved carries zero", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      const e = payoutOf(c, PARTIAL);
      await expect(resolveSigned(c, c.p.gateway, PARTIAL, ethers.ZeroHash))
        .to.emit(c.p.escrow, "DealResolved")
        .withArgs(c.id, c.deal.gateway, e.payeeNet, e.fee, e.refund, ethers.ZeroHash);
    });

    const mayStill: [string, (c: WalletCtx) => Promise<void>][] = [
      ["is exiting since the dispute", async (c) => void (await c.p.registry.connect(c.p.gateway).requestExit())],
      [
        "was suspended and reinstated",
        async (c) => {
          await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
          await c.p.registry.connect(c.p.governor).reinstateGateway(c.deal.gateway);
        },
      ],
      [
        "is in the last second of its window",
        async (c) => {
          await time.setNextBlockTimestamp((await c.p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW));
        },
      ],
    ];
    for (const [name, prepare] of mayStill) {
      it(`when the gateway holds the dispute and ${name} → its signature rules, with its fee`, async function () {
        const c = await setupWithWallets("Payment", "Disputed");
        const expiry = await later(RESOLUTION_WINDOW + DAY);
        const auth = await signResolution(c.p.escrow, c.p.gateway, c.id, PARTIAL, REASONS, expiry);
        await prepare(c);
        const e = payoutOf(c, PARTIAL);
        const send = () => c.p.escrow.connect(c.p.other).resolveWithSig(c.deal, PARTIAL, REASONS, c.deal.gateway, auth);
        const tx = await expectSettlement(c, send, e, Status.Resolved);
        await expect(tx)
          .to.emit(c.p.escrow, "DealResolved")
          .withArgs(c.id, c.deal.gateway, e.payeeNet, e.fee, e.refund, REASONS);
      });
    }
  });

  describe("an arbiter's signature rules like the arbiter, without a fee, only when the arbiter may", function () {
    const situations: { name: string; held: boolean; prepare: (c: WalletCtx) => Promise<void> }[] = [
      {
        name: "the gateway's resolution window is over",
        held: true,
        prepare: async () => void (await time.increase(RESOLUTION_WINDOW + 1)),
      },
      {
        name: "the gateway is suspended (window open)",
        held: true,
        prepare: async (c) => void (await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway)),
      },
      {
        name: "the dispute was raised while the gateway was exiting (not held)",
        held: false,
        prepare: async () => undefined,
      },
    ];
    for (const s of situations) {
      it(`when ${s.name} → DealResolved(by arbiter, fee 0, reasons); ${s.held ? "the held dispute is uncounted" : "the counter does not move"}`, async function () {
        const c = await setupWithWallets("Payment", "Performed");
        if (!s.held) await c.p.registry.connect(c.p.gateway).requestExit();
        await c.p.escrow.connect(c.payer).dispute(c.deal);
        expect(await openDisputes(c.p)).to.equal(s.held ? 1n : 0n);
        await s.prepare(c);
        const e = payoutOf(c, PARTIAL, false);
        const tx = await expectSettlement(c, () => resolveSigned(c, c.p.arbiter, PARTIAL), e, Status.Resolved);
        await expect(tx)
          .to.emit(c.p.escrow, "DealResolved")
          .withArgs(c.id, c.p.arbiter.address, PARTIAL, 0n, e.refund, REASONS);
        if (!s.held) await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
        expect(await openDisputes(c.p)).to.equal(0n);
      });
    }

    it("when the arbiter is an ERC-1271 wallet holding ARBITER_ROLE and its owner signed → it rules without a fee", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      const wallet = (await ethers.deployContract("ERC1271Wallet", [c.p.other.address])) as unknown as ERC1271Wallet;
      const arbiter = await wallet.getAddress();
      await c.p.registry.connect(c.p.admin).grantRole(await c.p.registry.ARBITER_ROLE(), arbiter);
      await time.increase(RESOLUTION_WINDOW + 1);
      const auth = await signResolution(c.p.escrow, c.p.other, c.id, PARTIAL, REASONS);
      const e = payoutOf(c, PARTIAL, false);
      const send = () => c.p.escrow.connect(c.payee).resolveWithSig(c.deal, PARTIAL, REASONS, arbiter, auth);
      const tx = await expectSettlement(c, send, e, Status.Resolved);
      await expect(tx).to.emit(c.p.escrow, "DealResolved").withArgs(c.id, arbiter, PARTIAL, 0n, e.refund, REASONS);
    });
  });
});
