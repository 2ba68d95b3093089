import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import { DAY, KINDS, loadFixture, MAX_DELEGATE_LOCK_DURATION, MAX_DELEGATE_RELEASE_WINDOW } from "../fixtures";
import { openKind, RefundReason, RELEASE_WINDOW, RESOLUTION_WINDOW, Status, USDT, type Protocol } from "../fixtures";
import { behavesLikeACallOnAKnownDeal, delegateLock, escrowEventNames, expectRefunded } from "./shared/deals";
import { FINAL_STATES, FLOAT, floatOf, now, openDisputes, openInState, protocolWithFloat, reach } from "./shared/deals";
import { refundSubject, setup, STATUS_OF, type Ctx, type State } from "./shared/deals";

describe("Escrow.refund", function () {
  behavesLikeACallOnAKnownDeal(refundSubject);

  describe("when the deal is Open", function () {
    it("when the deadline has not passed (before it) → it reverts EscrowDeadlineNotPassed", async function () {
      const c = await setup();
      await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlineNotPassed")
        .withArgs(c.id, c.deal.deadline);
    });

    it("when the deadline has not passed (at exactly it) → it reverts EscrowDeadlineNotPassed", async function () {
      const c = await setup();
      await time.setNextBlockTimestamp(c.deal.deadline);
      await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlineNotPassed")
        .withArgs(c.id, c.deal.deadline);
    });

    describe("when the deadline has passed → Refunded (Deadline); the whole amount back to the payer (the acceptor's free float for OnRamp)", function () {
      for (const kind of KINDS) {
        it(`${kind}: anyone, one second after the deadline → Refunded (Deadline), the whole amount back`, async function () {
          const c = await setup(kind);
          await time.setNextBlockTimestamp(c.deal.deadline + 1n);
          const tx = await expectRefunded(c, () => c.p.escrow.connect(c.p.other).refund(c.deal));
          await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.Deadline);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealRefunded"]);
        });
      }

      it("when the payee or the payer calls it → it refunds all the same", async function () {
        const c1 = await setup("Payment");
        const c2 = await openKind(c1.p, "Payment");
        await time.increaseTo(c2.deal.deadline + 1n);
        await expect(c1.p.escrow.connect(c1.payee).refund(c1.deal))
          .to.emit(c1.p.escrow, "DealRefunded")
          .withArgs(c1.id, RefundReason.Deadline);
        await expect(c2.p.escrow.connect(c2.payer).refund(c2.deal))
          .to.emit(c2.p.escrow, "DealRefunded")
          .withArgs(c2.id, RefundReason.Deadline);
      });

      it("when the payer had released → it refunds all the same", async function () {
        const c = await setup("OnRamp", "OpenReleased");
        await time.increaseTo(c.deal.deadline + 1n);
        const tx = await expectRefunded(c, () => c.p.escrow.connect(c.p.other).refund(c.deal));
        await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.Deadline);
      });

      it("when the deal is a delegate's lock → it refunds (Deadline) to the free float", async function () {
        const p = await loadFixture(protocolWithFloat);
        const c = await delegateLock(p);
        await time.increaseTo(c.deal.deadline + 1n);
        const tx = await expectRefunded(c, () => p.escrow.connect(p.other).refund(c.deal));
        await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(c.id, RefundReason.Deadline);
        expect((await p.escrow.floatOf(p.acceptor.address, c.deal.token)).free).to.equal(FLOAT);
      });

      it("when the registry is paused → it refunds all the same", async function () {
        const c = await setup("Payment");
        await c.p.registry.connect(c.p.pauser).pause();
        await time.increaseTo(c.deal.deadline + 1n);
        await expectRefunded(c, () => c.p.escrow.connect(c.p.other).refund(c.deal));
      });
    });
  });

  describe("when the deal is final → it reverts EscrowWrongStatus", function () {
    for (const state of FINAL_STATES) {
      it(`when the deal is final (${state}) → it reverts EscrowWrongStatus, even after the deadline`, async function () {
        const c = await setup("Payment", state);
        await time.increaseTo(c.deal.deadline + 1n);
        await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, STATUS_OF[state]);
      });
    }

    it("when the deal is final (a delegate's lock, refunded) → it reverts EscrowWrongStatus after its lock expiry", async function () {
      const p = await loadFixture(protocolWithFloat);
      const c = await delegateLock(p);
      await reach(c, "Refunded");
      await time.increaseTo((await p.escrow.lockExpiry(c.deal)) + 1n);
      await expect(p.escrow.connect(p.other).refund(c.deal))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(c.id, Status.Refunded);
    });
  });

  describe("when the deal is Performed or Disputed", function () {
    for (const kind of KINDS) {
      for (const state of ["Performed", "Disputed"] as State[]) {
        it(`${kind} ${state}: when the deal is not a delegate's lock → it reverts EscrowWrongStatus, at any time (a year on)`, async function () {
          const c = await setup(kind, state);
          expect(await c.p.escrow.lockExpiry(c.deal)).to.equal(0n);
          await time.increaseTo(c.deal.deadline + 1n);
          await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
          await time.increase(365 * DAY);
          await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
        });
      }
    }

    describe("when the deal is a delegate's lock", function () {
      /** Asserts that anyone's refund of `c` reverts EscrowLockNotExpired(dealId, `until`). */
      async function expectLockNotExpired(c: Ctx, until: bigint) {
        await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowLockNotExpired")
          .withArgs(c.id, until);
      }

      /** A delegate's lock of this test, performed by the payee, and its lockExpiry. */
      async function performedLock(): Promise<{ p: Protocol; c: Ctx; expiresAt: bigint }> {
        const p = await loadFixture(protocolWithFloat);
        const c = await delegateLock(p);
        await reach(c, "Performed");
        return { p, c, expiresAt: await p.escrow.lockExpiry(c.deal) };
      }

      it("when the deal is a delegate's lock → its lockExpiry is deadline + releaseWindow + resolutionWindow", async function () {
        const p = await loadFixture(protocolWithFloat);
        const c = await delegateLock(p, { releaseWindow: BigInt(MAX_DELEGATE_RELEASE_WINDOW) });
        expect(await p.escrow.lockExpiry(c.deal)).to.equal(
          c.deal.deadline + BigInt(MAX_DELEGATE_RELEASE_WINDOW + RESOLUTION_WINDOW),
        );
      });

      it("Performed: when lockExpiry has not passed (before and at it) → it reverts EscrowLockNotExpired(dealId, lockExpiry)", async function () {
        const { c, expiresAt } = await performedLock();
        await expectLockNotExpired(c, expiresAt);
        await time.setNextBlockTimestamp(expiresAt);
        await expectLockNotExpired(c, expiresAt);
      });

      it("Performed: when lockExpiry has passed → Refunded (LockExpired); the amount back to the acceptor's free float", async function () {
        const { p, c, expiresAt } = await performedLock();
        expect((await p.escrow.floatOf(p.acceptor.address, c.deal.token)).free).to.equal(FLOAT - c.deal.amount);
        await time.setNextBlockTimestamp(expiresAt + 1n);
        const tx = await expectRefunded(c, () => p.escrow.connect(p.other).refund(c.deal));
        await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(c.id, RefundReason.LockExpired);
        expect(await floatOf(p, c.deal.token)).to.deep.equal([FLOAT, 0n]);
      });

      it("Disputed: when lockExpiry has not passed → it reverts EscrowLockNotExpired(dealId, lockExpiry)", async function () {
        const { p, c, expiresAt } = await performedLock();
        await p.escrow.connect(c.payer).dispute(c.deal);
        await time.setNextBlockTimestamp(expiresAt);
        await expectLockNotExpired(c, expiresAt);
      });

      it("Disputed: when lockExpiry has passed and the gateway holds the dispute → Refunded (LockExpired); the gateway's open disputes fall by one", async function () {
        const { p, c, expiresAt } = await performedLock();
        await time.increase(RELEASE_WINDOW + 1);
        await expect(p.escrow.connect(c.payee).dispute(c.deal))
          .to.emit(p.escrow, "DealDisputed")
          .withArgs(c.id, c.payee.address, true);
        expect(await openDisputes(p)).to.equal(1n);
        await time.setNextBlockTimestamp(expiresAt + 1n);
        const tx = await expectRefunded(c, () => p.escrow.connect(p.other).refund(c.deal));
        await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(c.id, RefundReason.LockExpired);
        await expect(tx).to.emit(p.registry, "GatewayDisputesChanged").withArgs(p.gateway.address, 0);
        expect(await openDisputes(p)).to.equal(0n);
      });

      it("Disputed: when lockExpiry has passed and the dispute is not held (gateway suspended) → Refunded (LockExpired); the counter is unchanged", async function () {
        const { p, c, expiresAt } = await performedLock();
        await openInState(p, "Payment", "Disputed");
        await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
        await expect(p.escrow.connect(c.payer).dispute(c.deal))
          .to.emit(p.escrow, "DealDisputed")
          .withArgs(c.id, c.payer.address, false);
        await time.setNextBlockTimestamp(expiresAt + 1n);
        const tx = await expectRefunded(c, () => p.escrow.connect(p.other).refund(c.deal));
        await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(c.id, RefundReason.LockExpired);
        await expect(tx).not.to.emit(p.registry, "GatewayDisputesChanged");
        expect(await openDisputes(p)).to.equal(1n);
      });

      for (const holder of ["gateway", "arbiter"] as const) {
        it(`Disputed: when the dispute's resolution window ends after lockExpiry (the ${holder} rules it) → it reverts EscrowLockNotExpired(dealId, since + resolutionWindow) until the window is over`, async function () {
          const { p, c, expiresAt } = await performedLock();
          if (holder === "arbiter") await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
          // The buyer disputes at the last second before the expiry: its window runs a whole resolution window on.
          await time.setNextBlockTimestamp(expiresAt);
          await p.escrow.connect(c.payee).dispute(c.deal);
          const windowEnd = (await p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW);
          expect(windowEnd).to.equal(expiresAt + BigInt(RESOLUTION_WINDOW));
          await time.setNextBlockTimestamp(expiresAt + 1n);
          await expectLockNotExpired(c, windowEnd);
          // Whoever may rule still has its whole window: at its last second the ruling lands.
          const ruler = holder === "gateway" ? p.gateway : p.arbiter;
          await time.setNextBlockTimestamp(windowEnd);
          await expect(p.escrow.connect(ruler).resolve(c.deal, c.deal.amount, ethers.ZeroHash)).to.emit(
            p.escrow,
            "DealResolved",
          );
        });
      }

      it("Disputed: when both lockExpiry and the dispute's window are over → Refunded (LockExpired)", async function () {
        const { p, c, expiresAt } = await performedLock();
        await time.setNextBlockTimestamp(expiresAt);
        await p.escrow.connect(c.payee).dispute(c.deal);
        await time.setNextBlockTimestamp(expiresAt + BigInt(RESOLUTION_WINDOW));
        await expectLockNotExpired(c, expiresAt + BigInt(RESOLUTION_WINDOW));
        await time.setNextBlockTimestamp(expiresAt + BigInt(RESOLUTION_WINDOW) + 1n);
        await expect(p.escrow.connect(p.other).refund(c.deal))
          .to.emit(p.escrow, "DealRefunded")
          .withArgs(c.id, RefundReason.LockExpired);
        expect(await floatOf(p, c.deal.token)).to.deep.equal([FLOAT, 0n]);
      });

      it("when the delegate locks to an accomplice who performs at once and nobody acts → at lockExpiry + 1 anyone returns the float (the bound of a delegate's lock)", async function () {
        const p = await loadFixture(protocolWithFloat);
        const accomplice = p.rest[0];
        const lockedAt = (await now()) + 10n;
        const worst = {
          payee: accomplice.address,
          amount: USDT(5_000),
          deadline: lockedAt + BigInt(MAX_DELEGATE_LOCK_DURATION),
          releaseWindow: BigInt(MAX_DELEGATE_RELEASE_WINDOW),
        };
        await time.setNextBlockTimestamp(lockedAt);
        const c = await delegateLock(p, worst);
        await p.escrow.connect(accomplice).perform(c.deal);
        const expiresAt = await p.escrow.lockExpiry(c.deal);
        expect(expiresAt, "lock + 7 days + 2 days + the resolution window").to.equal(
          lockedAt + BigInt(MAX_DELEGATE_LOCK_DURATION + MAX_DELEGATE_RELEASE_WINDOW + RESOLUTION_WINDOW),
        );
        await time.setNextBlockTimestamp(expiresAt);
        await expect(p.escrow.connect(p.rest[1]).refund(c.deal))
          .to.be.revertedWithCustomError(p.escrow, "EscrowLockNotExpired")
          .withArgs(c.id, expiresAt);
        const accompliceBefore = await p.usdt.balanceOf(accomplice.address);
        await time.setNextBlockTimestamp(expiresAt + 1n);
        await expect(p.escrow.connect(p.rest[1]).refund(c.deal))
          .to.emit(p.escrow, "DealRefunded")
          .withArgs(c.id, RefundReason.LockExpired);
        expect(await floatOf(p, c.deal.token)).to.deep.equal([FLOAT, 0n]);
        expect(await p.usdt.balanceOf(accomplice.address)).to.equal(accompliceBefore);
        expect(await p.escrow.owed(c.deal.token, accomplice.address)).to.equal(0n);
      });
    });
  });
});
