import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import { HOUR, KINDS, RELEASE_WINDOW, Status } from "../fixtures";
import { behavesLikeACallAfterTheReleaseWindow, behavesLikeACallOnAKnownDeal } from "./shared/deals";
import { behavesLikeACallRefusedFrom, claimSubject, escrowEventNames, expectReleased } from "./shared/deals";
import { FINAL_STATES, finalLabel, payeeStrangers, releaseWindowEnd, setup, tsOf } from "./shared/deals";

describe("Escrow.claim", function () {
  const auto = { autoRelease: true };

  behavesLikeACallOnAKnownDeal(claimSubject);

  it("when the caller is not the payee (payer, gateway, arbiter, lock delegate, anyone) → it reverts EscrowUnauthorized", async function () {
    const c = await setup("Payment", "Performed", auto);
    await time.increase(RELEASE_WINDOW + 1);
    for (const s of payeeStrangers.of(c)) {
      await expect(c.p.escrow.connect(s).claim(c.deal))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
        .withArgs(c.id, s.address);
    }
  });

  describe("when the caller is the payee", function () {
    behavesLikeACallRefusedFrom(claimSubject, ["Open", "OpenReleased", "Disputed"], (st) =>
      st === "OpenReleased" ? "Open and released" : st,
    );
    behavesLikeACallRefusedFrom(claimSubject, FINAL_STATES, finalLabel);

    describe("when the deal is Performed", function () {
      for (const kind of KINDS) {
        it(`${kind}: when the deal is not autoRelease → it reverts EscrowNotAutoRelease, even after the window`, async function () {
          const c = await setup(kind, "Performed");
          await time.increase(RELEASE_WINDOW + 1);
          await expect(c.p.escrow.connect(c.payee).claim(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowNotAutoRelease")
            .withArgs(c.id);
        });
      }

      describe("when the deal is autoRelease", function () {
        behavesLikeACallAfterTheReleaseWindow(claimSubject, "right after perform");

        it("when the release window has ended (the deal's own 2 hours + 1 s) → Released; DealReleased; the payee gets the amount less the fee", async function () {
          const c = await setup("Payment", "Performed", { ...auto, releaseWindow: BigInt(2 * HOUR) });
          const endsAt = await releaseWindowEnd(c);
          expect(endsAt).to.equal((await c.p.escrow.getDeal(c.id)).since + BigInt(2 * HOUR));
          await time.setNextBlockTimestamp(endsAt);
          await expect(c.p.escrow.connect(c.payee).claim(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
            .withArgs(c.id, endsAt);
          const tx = await expectReleased(c, () => c.p.escrow.connect(c.payee).claim(c.deal));
          expect(await tsOf(tx)).to.equal(endsAt + 1n);
          await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased"]);
        });

        it("when the payer released first during the window → there is nothing left to claim (EscrowWrongStatus(Released))", async function () {
          const c = await setup("Payment", "Performed", auto);
          await c.p.escrow.connect(c.payer).release(c.deal);
          await time.increase(RELEASE_WINDOW + 1);
          await expect(c.p.escrow.connect(c.payee).claim(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, Status.Released);
        });

        it("when the registry is paused → it releases all the same", async function () {
          const c = await setup("Payment", "Performed", auto);
          await c.p.registry.connect(c.p.pauser).pause();
          await time.increase(RELEASE_WINDOW + 1);
          await expectReleased(c, () => c.p.escrow.connect(c.payee).claim(c.deal));
        });
      });
    });
  });
});
