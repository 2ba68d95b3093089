import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import { KINDS, RefundReason } from "../fixtures";
import { behavesLikeACallRefusedFrom, behavesLikeAPartysCall, cancelSubject, disputeWith } from "./shared/deals";
import { escrowEventNames, expectRefunded, FINAL_STATES, finalLabel, openDisputes, openInState } from "./shared/deals";
import { payeeStrangers, setup, type State } from "./shared/deals";

describe("Escrow.cancel", function () {
  behavesLikeAPartysCall(cancelSubject, "payee", payeeStrangers);

  describe("when the caller is the payee", function () {
    behavesLikeACallRefusedFrom(cancelSubject, FINAL_STATES, finalLabel);

    describe("when the deal is Open, Performed or Disputed → Refunded (PayeeCancel); the whole amount back to the payer (the acceptor's free float for OnRamp); no fee", function () {
      for (const kind of KINDS) {
        for (const state of ["Open", "Performed", "Disputed"] as State[]) {
          it(`${kind} from ${state}: → Refunded (PayeeCancel), the whole amount back, no fee`, async function () {
            const c = await setup(kind, state);
            const disputesBefore = await openDisputes(c.p);
            const tx = await expectRefunded(c, () => c.p.escrow.connect(c.payee).cancel(c.deal));
            await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.PayeeCancel);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealRefunded"]);
            if (state === "Disputed") {
              expect(disputesBefore).to.equal(1n);
              expect(await openDisputes(c.p)).to.equal(0n);
              await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
            } else {
              expect(await openDisputes(c.p)).to.equal(disputesBefore);
              await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
            }
          });
        }
      }

      it("when the deal is Open and the payer had released → it refunds all the same", async function () {
        const c = await setup("OnRamp", "OpenReleased");
        await expectRefunded(c, () => c.p.escrow.connect(c.payee).cancel(c.deal));
      });

      it("when the deadline has passed → it refunds all the same", async function () {
        const c = await setup("Payment");
        await time.increaseTo(c.deal.deadline + 100n);
        await expectRefunded(c, () => c.p.escrow.connect(c.payee).cancel(c.deal));
      });

      for (const state of ["Open", "Disputed"] as State[]) {
        it(`when the registry is paused → it refunds all the same (from ${state})`, async function () {
          const c = await setup("OnRamp", state);
          await c.p.registry.connect(c.p.pauser).pause();
          await expectRefunded(c, () => c.p.escrow.connect(c.payee).cancel(c.deal));
        });
      }

      it("when the gateway holds the dispute → the gateway's open disputes fall by one (only the deal's gateway, only once)", async function () {
        const c1 = await setup("Payment", "Disputed");
        await openInState(c1.p, "OffRamp", "Disputed");
        expect(await openDisputes(c1.p)).to.equal(2n);
        await c1.p.escrow.connect(c1.payee).cancel(c1.deal);
        expect(await openDisputes(c1.p)).to.equal(1n);
      });

      it("when the gateway does not hold the dispute (raised while Exiting) → the counter is unchanged", async function () {
        const c = await disputeWith("Exiting");
        const tx = await expectRefunded(c, () => c.p.escrow.connect(c.payee).cancel(c.deal));
        await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
        expect(await openDisputes(c.p)).to.equal(1n);
      });
    });
  });
});
