import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import { KINDS, Status } from "../fixtures";
import { behavesLikeACallRefusedFrom, behavesLikeAPartysCall, books, escrowEventNames } from "./shared/deals";
import { expectRecord, expectReleased, expectUntouched, FINAL_STATES, finalLabel } from "./shared/deals";
import { payeeStrangers, performSubject, setup, tsOf } from "./shared/deals";

describe("Escrow.perform", function () {
  behavesLikeAPartysCall(performSubject, "payee", payeeStrangers);

  describe("when the caller is the payee", function () {
    behavesLikeACallRefusedFrom(performSubject, ["Performed", "Disputed"]);
    behavesLikeACallRefusedFrom(performSubject, FINAL_STATES, finalLabel);

    describe("when the deal is Open", function () {
      it("when the deadline has passed → it reverts EscrowDeadlinePassed", async function () {
        const c = await setup();
        await time.setNextBlockTimestamp(c.deal.deadline + 1n);
        await expect(c.p.escrow.connect(c.payee).perform(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
          .withArgs(c.id, c.deal.deadline);
      });

      it("when the deadline has passed → it reverts EscrowDeadlinePassed, even when the payer released first", async function () {
        const c = await setup("Payment", "OpenReleased");
        await time.setNextBlockTimestamp(c.deal.deadline + 1n);
        await expect(c.p.escrow.connect(c.payee).perform(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
          .withArgs(c.id, c.deal.deadline);
      });

      describe("when the deadline has not passed (up to and at it)", function () {
        for (const kind of KINDS) {
          it(`${kind}: when the payer has not released → Performed; DealPerformed; no funds move`, async function () {
            const c = await setup(kind);
            const before = await books(c);
            const tx = await c.p.escrow.connect(c.payee).perform(c.deal);
            await expect(tx).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealPerformed"]);
            await expectRecord(c, Status.Performed, await tsOf(tx));
            await expectUntouched(c, before);
          });

          it(`${kind}: when the payer released first → Released at once; DealPerformed then DealReleased; the payee gets the amount less the fee, the fee is owed to the gateway`, async function () {
            const c = await setup(kind, "OpenReleased");
            const tx = await expectReleased(c, () => c.p.escrow.connect(c.payee).perform(c.deal));
            await expect(tx).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
            await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealPerformed", "DealReleased"]);
          });
        }

        it("when the deadline is this very second → Performed (the deadline itself is in time)", async function () {
          const c = await setup();
          await time.setNextBlockTimestamp(c.deal.deadline);
          const tx = await c.p.escrow.connect(c.payee).perform(c.deal);
          expect(await tsOf(tx)).to.equal(c.deal.deadline);
          await expectRecord(c, Status.Performed, c.deal.deadline);
        });

        it("when the registry is paused → it performs all the same", async function () {
          const c = await setup();
          await c.p.registry.connect(c.p.pauser).pause();
          await expect(c.p.escrow.connect(c.payee).perform(c.deal)).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
        });
      });
    });
  });
});
