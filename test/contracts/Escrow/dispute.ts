import { anyUint } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import { Flags, HOUR, KINDS, loadFixture, REGISTRY_HOOK_GAS, RELEASE_WINDOW, Status, USDT } from "../fixtures";
import { arbiterRuling, atReleaseWindowEnd, behavesLikeACallAfterTheReleaseWindow } from "./shared/deals";
import { behavesLikeACallRefusedFrom, behavesLikeAPartysCall, books, disputeSubject } from "./shared/deals";
import { disputeWith, escrowEventNames, expectRecord, expectReleased, expectSettlement } from "./shared/deals";
import { expectUntouched, FINAL_STATES, finalLabel, now, openDisputes, openInState } from "./shared/deals";
import { partyStrangers, protocolWithFloat, REASONS, releaseWindowEnd, requiredGas, setup } from "./shared/deals";
import { statusOf, tsOf, type Holding } from "./shared/deals";

describe("Escrow.dispute", function () {
  behavesLikeAPartysCall(disputeSubject("payer"), "payer or the payee", partyStrangers);

  describe("when the caller is the payer or the payee", function () {
    for (const who of ["payer", "payee"] as const) {
      describe(`(the ${who})`, function () {
        behavesLikeACallRefusedFrom(disputeSubject(who), ["Open", "OpenReleased", "Disputed"], (st) =>
          st === "OpenReleased" ? "Open and released" : st,
        );
        behavesLikeACallRefusedFrom(disputeSubject(who), FINAL_STATES, finalLabel);
      });
    }

    describe("when the deal is Performed", function () {
      describe("when the caller is the payer", function () {
        for (const kind of KINDS) {
          it(`${kind}: when the deal is not autoRelease → Disputed at once (the block after perform)`, async function () {
            const c = await setup(kind, "Performed");
            const before = await books(c);
            const tx = await c.p.escrow.connect(c.payer).dispute(c.deal);
            await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c.payer.address, true);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealDisputed"]);
            await expectRecord(c, Status.Disputed, await tsOf(tx), Flags.GatewayHolds);
            await expectUntouched(c, before);
          });
        }

        it("when the deal is not autoRelease → still Disputed after the release window and the deadline", async function () {
          const c = await setup("OnRamp", "Performed");
          await time.increaseTo(c.deal.deadline + BigInt(RELEASE_WINDOW) + 1n);
          await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
            .to.emit(c.p.escrow, "DealDisputed")
            .withArgs(c.id, c.payer.address, true);
        });

        describe("when the deal is an autoRelease payment", function () {
          const auto = { autoRelease: true };

          it("when the release window has not ended (at exactly since + releaseWindow) → Disputed", async function () {
            const { c, endsAt } = await atReleaseWindowEnd("Payment", 0n, auto);
            const tx = await c.p.escrow.connect(c.payer).dispute(c.deal);
            await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c.payer.address, true);
            await expectRecord(c, Status.Disputed, endsAt, Flags.GatewayHolds);
          });

          it("when the release window has ended (since + releaseWindow + 1) → it reverts EscrowReleaseWindowClosed(dealId, endsAt)", async function () {
            const { c, endsAt } = await atReleaseWindowEnd("Payment", 1n, auto);
            await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowClosed")
              .withArgs(c.id, endsAt);
          });

          it("window over: the payer's dispute reverts, the payee's claim pays (claim is never a race)", async function () {
            const { c, endsAt } = await atReleaseWindowEnd("Payment", 1n, auto);
            await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowClosed")
              .withArgs(c.id, endsAt);
            await expectReleased(c, () => c.p.escrow.connect(c.payee).claim(c.deal));
          });
        });
      });

      describe("when the caller is the payee", function () {
        it("when the release window has not ended (in the very transaction that performs) → it reverts EscrowReleaseWindowOpen(dealId, since + releaseWindow)", async function () {
          const c = await setup("Payment");
          const calls = [
            c.p.escrow.interface.encodeFunctionData("perform", [c.deal]),
            c.p.escrow.interface.encodeFunctionData("dispute", [c.deal]),
          ];
          const at = (await now()) + 10n;
          await time.setNextBlockTimestamp(at);
          await expect(c.p.escrow.connect(c.payee).multicall(calls))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
            .withArgs(c.id, at + c.deal.releaseWindow);
        });

        behavesLikeACallAfterTheReleaseWindow(disputeSubject("payee"), "the block after perform", "OffRamp");

        for (const kind of KINDS) {
          it(`${kind}: when the release window has ended (since + releaseWindow + 1) → Disputed`, async function () {
            const { c, endsAt } = await atReleaseWindowEnd(kind, 1n);
            const before = await books(c);
            const tx = await c.p.escrow.connect(c.payee).dispute(c.deal);
            await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c.payee.address, true);
            await expectRecord(c, Status.Disputed, endsAt + 1n, Flags.GatewayHolds);
            await expectUntouched(c, before);
          });
        }

        it("when the release window has ended of an autoRelease payment → Disputed too (the payee may claim instead)", async function () {
          const c = await setup("Payment", "Performed", { autoRelease: true });
          await time.setNextBlockTimestamp((await releaseWindowEnd(c)) + 1n);
          await expect(c.p.escrow.connect(c.payee).dispute(c.deal))
            .to.emit(c.p.escrow, "DealDisputed")
            .withArgs(c.id, c.payee.address, true);
        });

        it("the window is the deal's own (2 hours): reverts at since + 2h, works one second later", async function () {
          const c = await setup("OffRamp", "Performed", { releaseWindow: BigInt(2 * HOUR) });
          const endsAt = (await c.p.escrow.getDeal(c.id)).since + BigInt(2 * HOUR);
          await time.setNextBlockTimestamp(endsAt);
          await expect(c.p.escrow.connect(c.payee).dispute(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
            .withArgs(c.id, endsAt);
          await expect(c.p.escrow.connect(c.payee).dispute(c.deal))
            .to.emit(c.p.escrow, "DealDisputed")
            .withArgs(c.id, c.payee.address, true);
        });
      });

      describe("who holds the dispute", function () {
        it("when the gateway is Active and not suspended → DealDisputed(gatewayHolds true); flags GatewayHolds; its open disputes rise by one", async function () {
          const c1 = await setup("Payment", "Performed");
          const c2 = await openInState(c1.p, "OnRamp", "Performed");
          expect(await openDisputes(c1.p)).to.equal(0n);
          const tx1 = await c1.p.escrow.connect(c1.payer).dispute(c1.deal);
          await expect(tx1).to.emit(c1.p.escrow, "DealDisputed").withArgs(c1.id, c1.payer.address, true);
          await expect(tx1).to.emit(c1.p.registry, "GatewayDisputesChanged").withArgs(c1.p.gateway.address, 1);
          await expectRecord(c1, Status.Disputed, await tsOf(tx1), Flags.GatewayHolds);
          const tx2 = await c2.p.escrow.connect(c2.payer).dispute(c2.deal);
          await expect(tx2).to.emit(c2.p.registry, "GatewayDisputesChanged").withArgs(c2.p.gateway.address, 2);
          expect(await openDisputes(c1.p)).to.equal(2n);
        });

        for (const holding of ["Exiting", "suspended", "suspended, then Exiting", "Exited"] as Holding[]) {
          it(`when the gateway is ${holding} → DealDisputed(gatewayHolds false); flags 0; the counter is unchanged`, async function () {
            // disputeWith checks the event, the flags and the counter.
            const c = await disputeWith(holding);
            const g = await c.p.registry.getGateway(c.p.gateway.address);
            expect(g.openDisputes).to.equal(c.background ? 1n : 0n);
            expect(await c.p.registry.canRule(c.p.gateway.address)).to.equal(holding === "Exiting");
          });
        }

        it("when the registry refuses to count it (the escrow's ESCROW_ROLE revoked) → DisputeCountSkipped(dealId, gateway, true); not held; the arbiter rules at once", async function () {
          const p = await loadFixture(protocolWithFloat);
          const c = await openInState(p, "Payment", "Performed");
          await p.registry.connect(p.admin).revokeRole(await p.registry.ESCROW_ROLE(), await p.escrow.getAddress());
          const tx = await p.escrow.connect(c.payer).dispute(c.deal);
          await expect(tx).to.emit(p.escrow, "DisputeCountSkipped").withArgs(c.id, p.gateway.address, true);
          await expect(tx).to.emit(p.escrow, "DealDisputed").withArgs(c.id, c.payer.address, false);
          expect(await escrowEventNames(p, tx)).to.deep.equal(["DisputeCountSkipped", "DealDisputed"]);
          await expectRecord(c, Status.Disputed, await tsOf(tx), 0);
          expect(await openDisputes(p)).to.equal(0n);
          await expect(p.escrow.connect(p.gateway).resolve(c.deal, USDT(60), REASONS))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, p.gateway.address);
          await expectSettlement(
            c,
            () => p.escrow.connect(p.arbiter).resolve(c.deal, USDT(60), REASONS),
            arbiterRuling(c, USDT(60)),
            Status.Resolved,
          );
        });

        it("when the transaction leaves too little gas for the registry hook → it reverts EscrowInsufficientGas(available, REGISTRY_HOOK_GAS + REGISTRY_HOOK_GAS/63 + 5000)", async function () {
          const c = await setup("Payment", "Performed");
          await expect(c.p.escrow.connect(c.payer).dispute(c.deal, { gasLimit: 70_000 }))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInsufficientGas")
            .withArgs(anyUint, requiredGas(REGISTRY_HOOK_GAS));
          expect(await statusOf(c)).to.equal(Status.Performed);
          // With enough gas the same dispute is held and counted.
          await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
            .to.emit(c.p.escrow, "DealDisputed")
            .withArgs(c.id, c.payer.address, true);
        });
      });

      it("when the registry is paused → it disputes all the same", async function () {
        const c = await setup("Payment", "Performed");
        await c.p.registry.connect(c.p.pauser).pause();
        await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
          .to.emit(c.p.escrow, "DealDisputed")
          .withArgs(c.id, c.payer.address, true);
      });
    });
  });
});
