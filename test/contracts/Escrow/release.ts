import { anyUint } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import { feeOf, Flags, GATEWAY_FEE_BPS, KINDS, loadFixture, openKind, PAYOUT_GAS, RefundReason } from "../fixtures";
import { Status, USDT } from "../fixtures";
import { AMOUNT, behavesLikeACallRefusedFrom, behavesLikeAPartysCall, books, disputeWith } from "./shared/deals";
import { escrowEventNames, expectRecord, expectRefunded, expectReleased, expectSettlement } from "./shared/deals";
import { expectUntouched, FINAL_STATES, finalLabel, openDisputes, openInState, payerStrangers } from "./shared/deals";
import { protocolWithFloat, releasePayout, releaseSubject, requiredGas, setup, statusOf, tsOf } from "./shared/deals";
import type { Ctx } from "./shared/deals";

describe("Escrow.release", function () {
  behavesLikeAPartysCall(releaseSubject, "payer", payerStrangers);

  describe("when the caller is the payer", function () {
    behavesLikeACallRefusedFrom(releaseSubject, FINAL_STATES, finalLabel);

    describe("when the deal is Open", function () {
      it("when the payer already released → it reverts EscrowWrongStatus(Open)", async function () {
        const c = await setup("Payment", "OpenReleased");
        await expect(c.p.escrow.connect(c.payer).release(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Open);
      });

      for (const kind of KINDS) {
        it(`${kind}: when the payer has not released → stays Open with flags PayerReleased; DealReleaseApproved; no funds move`, async function () {
          const c = await setup(kind);
          const openedAt = (await c.p.escrow.getDeal(c.id)).since;
          const before = await books(c);
          const tx = await c.p.escrow.connect(c.payer).release(c.deal);
          await expect(tx).to.emit(c.p.escrow, "DealReleaseApproved").withArgs(c.id);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleaseApproved"]);
          await expectRecord(c, Status.Open, openedAt, Flags.PayerReleased);
          await expectUntouched(c, before);
        });
      }

      it("when the payer releases early twice → the second release reverts EscrowWrongStatus(Open); the payee's perform then pays at once", async function () {
        const c = await setup("OffRamp");
        await c.p.escrow.connect(c.payer).release(c.deal);
        await expect(c.p.escrow.connect(c.payer).release(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Open);
        await expectReleased(c, () => c.p.escrow.connect(c.payee).perform(c.deal));
      });

      it("when the payer released early → the payee can still cancel (the payer is refunded)", async function () {
        const c = await setup("Payment", "OpenReleased");
        const tx = await expectRefunded(c, () => c.p.escrow.connect(c.payee).cancel(c.deal));
        await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.PayeeCancel);
      });
    });

    describe("when the deal is Performed → Released; DealReleased(dealId); the payee gets the amount less the fee (rounded down), the fee is owed to the gateway", function () {
      for (const kind of KINDS) {
        it(`${kind}: when the deal is Performed → Released; the payee gets 99.5, 0.5 is owed to the gateway; DealReleased(dealId)`, async function () {
          const c = await setup(kind, "Performed");
          const pay = releasePayout(c);
          expect(pay.fee).to.equal(USDT("0.5"));
          const tx = await expectSettlement(c, () => c.p.escrow.connect(c.payer).release(c.deal), pay, Status.Released);
          await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased"]);
        });
      }

      const roundings: [string, bigint, bigint][] = [
        [
          "when the fee has a fraction (amount 100.000199 USDT at 50 bps) → it is rounded down (fee 0.5 USDT)",
          100_000_199n,
          500_000n,
        ],
        ["when the fee rounds to zero (amount 199 base units) → no fee", 199n, 0n],
      ];
      for (const [title, amount, fee] of roundings) {
        it(title, async function () {
          const c = await setup("Payment", "Performed", { amount });
          const payout = { payeeNet: amount - fee, fee, refund: 0n };
          await expectSettlement(c, () => c.p.escrow.connect(c.payer).release(c.deal), payout, Status.Released);
        });
      }

      it("when the gateway earns fees on several deals → they add up in what it is owed", async function () {
        const c1 = await setup("Payment", "Performed");
        const c2 = await openInState(c1.p, "OnRamp", "Performed");
        await c1.p.escrow.connect(c1.payer).release(c1.deal);
        await c2.p.escrow.connect(c2.payer).release(c2.deal);
        expect(await c1.p.escrow.owed(c1.deal.token, c1.p.gateway.address)).to.equal(
          2n * feeOf(AMOUNT, GATEWAY_FEE_BPS),
        );
      });

      it("when the gateway is suspended → the gateway still earns the fee", async function () {
        const c = await setup("Payment", "Performed");
        await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
        expect((await c.p.registry.getGateway(c.p.gateway.address)).suspended).to.equal(true);
        await expectReleased(c, () => c.p.escrow.connect(c.payer).release(c.deal));
      });

      it("when the registry is paused → it releases all the same", async function () {
        const c = await setup("Payment", "Performed");
        await c.p.registry.connect(c.p.pauser).pause();
        await expectReleased(c, () => c.p.escrow.connect(c.payer).release(c.deal));
      });
    });

    describe("when the deal is Disputed (the payer gives in)", function () {
      for (const kind of KINDS) {
        it(`${kind}: when the gateway holds the dispute → Released; the payee gets the amount less the fee; the gateway's open disputes fall by one`, async function () {
          const c = await setup(kind, "Disputed");
          expect(await openDisputes(c.p)).to.equal(1n);
          const tx = await expectReleased(c, () => c.p.escrow.connect(c.payer).release(c.deal));
          await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
          await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
          expect(await openDisputes(c.p)).to.equal(0n);
        });
      }

      it("when the gateway holds the dispute and the registry refuses to uncount it → DisputeCountSkipped(opened false); Released all the same", async function () {
        const c = await setup("Payment", "Disputed");
        await c.p.registry
          .connect(c.p.admin)
          .revokeRole(await c.p.registry.ESCROW_ROLE(), await c.p.escrow.getAddress());
        const tx = await expectReleased(c, () => c.p.escrow.connect(c.payer).release(c.deal));
        await expect(tx).to.emit(c.p.escrow, "DisputeCountSkipped").withArgs(c.id, c.p.gateway.address, false);
        expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased", "DisputeCountSkipped"]);
        expect(await openDisputes(c.p), "the counter drifted: the audit reports it").to.equal(1n);
      });

      it("when the gateway does not hold it (raised while suspended) → Released; the counter is unchanged", async function () {
        const c = await disputeWith("suspended");
        expect(await openDisputes(c.p)).to.equal(1n);
        const tx = await expectReleased(c, () => c.p.escrow.connect(c.payer).release(c.deal));
        await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
        await expect(tx).not.to.emit(c.p.escrow, "DisputeCountSkipped");
        expect(await openDisputes(c.p)).to.equal(1n);
      });
    });
  });

  describe("the payout (every settling call)", function () {
    it("when the payee is blacklisted by USDT → the payee still receives its payout (frozen in its wallet by the token)", async function () {
      const c = await setup("Payment", "Performed");
      await c.p.usdt.connect(c.p.admin).addBlackList(c.payee.address);
      await expectReleased(c, () => c.p.escrow.connect(c.payer).release(c.deal));
      expect(await c.p.usdt.isBlackListed(c.payee.address)).to.equal(true);
    });

    it("when the payer is blacklisted by USDT → a cancel still refunds it", async function () {
      const c = await setup("Payment", "Performed");
      await c.p.usdt.connect(c.p.admin).addBlackList(c.payer.address);
      await expectRefunded(c, () => c.p.escrow.connect(c.payee).cancel(c.deal));
    });

    it("when USDT is paused → the payout is owed (PayoutDeferred), the deal is final; claimOwed pays once unpaused", async function () {
      const c = await setup("Payment", "Performed");
      const { payeeNet, fee } = releasePayout(c);
      await c.p.usdt.connect(c.p.admin).pause();
      const before = await books(c);
      const tx = await c.p.escrow.connect(c.payer).release(c.deal);
      await expect(tx).to.emit(c.p.escrow, "PayoutDeferred").withArgs(c.id, c.deal.token, c.payee.address, payeeNet);
      expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased", "PayoutDeferred"]);
      await expectRecord(c, Status.Released, await tsOf(tx));
      const after = await books(c);
      expect(after.payee).to.equal(before.payee);
      expect(after.escrow).to.equal(before.escrow);
      expect(after.owedPayee - before.owedPayee).to.equal(payeeNet);
      expect(after.owedGateway - before.owedGateway).to.equal(fee);

      await expect(c.p.escrow.connect(c.p.other).claimOwed(c.deal.token, c.payee.address)).to.be.reverted;
      await c.p.usdt.connect(c.p.admin).unpause();
      const claimed = await c.p.escrow.connect(c.p.other).claimOwed(c.deal.token, c.payee.address);
      await expect(claimed).to.emit(c.p.escrow, "OwedClaimed").withArgs(c.deal.token, c.payee.address, payeeNet);
      await expect(claimed).to.changeTokenBalances(c.p.usdt, [c.payee, c.p.escrow], [payeeNet, -payeeNet]);
      expect(await c.p.escrow.owed(c.deal.token, c.payee.address)).to.equal(0n);
    });

    it("when the escrow is blacklisted by USDT → every payout is owed (payee's release, payer's refund), the deals are final", async function () {
      const c = await setup("Payment", "Performed");
      const c2 = await openKind(c.p, "Payment");
      await c.p.usdt.connect(c.p.admin).addBlackList(await c.p.escrow.getAddress());
      const { payeeNet } = releasePayout(c);
      const tx = await c.p.escrow.connect(c.payer).release(c.deal);
      await expect(tx).to.emit(c.p.escrow, "PayoutDeferred").withArgs(c.id, c.deal.token, c.payee.address, payeeNet);
      await expect(tx).to.changeTokenBalances(c.p.usdt, [c.payee, c.p.escrow], [0n, 0n]);
      await expect(c.p.escrow.connect(c2.payee).cancel(c2.deal))
        .to.emit(c.p.escrow, "PayoutDeferred")
        .withArgs(c2.id, c2.deal.token, c2.payer.address, c2.deal.amount);
      expect(await statusOf(c)).to.equal(Status.Released);
      expect(await statusOf(c2)).to.equal(Status.Refunded);
      expect(await c.p.escrow.owed(c.deal.token, c.payee.address)).to.equal(payeeNet);
      expect(await c.p.escrow.owed(c.deal.token, c.payer.address)).to.equal(c2.deal.amount);
    });

    it("when the token burns all the gas it is given → the payout is owed after PAYOUT_GAS; a batch of releases still settles every deal", async function () {
      const p = await loadFixture(protocolWithFloat);
      const dai = await p.dai.getAddress();
      // Ten performed deals: five in USDT, five in DAI, alternating.
      const deals: Ctx[] = [];
      for (let i = 0; i < 10; i++) {
        const c = await openInState(p, "Payment", "Performed", {
          amount: USDT(10 + i),
          ...(i % 2 ? { token: dai } : {}),
        });
        deals.push(c);
      }
      const usdtDeals = deals.filter((c) => c.deal.token !== dai);
      const daiDeals = deals.filter((c) => c.deal.token === dai);
      // Tether destroys the escrow's USDT: every USDT transfer out of it now underflows its balance and hits
      // INVALID, which burns all the gas the call was given (as mainnet's 0.4.17 `assert` does).
      const escrowAddr = await p.escrow.getAddress();
      const calls = deals.map((c) => p.escrow.interface.encodeFunctionData("release", [c.deal]));
      // Control: the same batch on a healthy token.
      const snapshot = await takeSnapshot();
      const control = await (await p.escrow.connect(p.payer).multicall(calls)).wait();
      await snapshot.restore();
      await p.usdt.connect(p.admin).addBlackList(escrowAddr);
      await p.usdt.connect(p.admin).destroyBlackFunds(escrowAddr);
      await p.usdt.connect(p.admin).removeBlackList(escrowAddr);
      expect(await p.usdt.balanceOf(escrowAddr)).to.equal(0n);

      const net = (cs: Ctx[]) => cs.reduce((a, c) => a + releasePayout(c).payeeNet, 0n);
      const daiBefore = await p.dai.balanceOf(p.payee.address);
      const tx = await p.escrow.connect(p.payer).multicall(calls);
      const rc = await tx.wait();

      // Each failing USDT push burned its whole PAYOUT_GAS, far more than a working transfer costs.
      expect(rc!.gasUsed - control!.gasUsed, "gas burned by the failing pushes").to.be.greaterThan(
        BigInt(usdtDeals.length * (PAYOUT_GAS / 2)),
      );
      for (const c of usdtDeals) {
        await expect(tx)
          .to.emit(p.escrow, "PayoutDeferred")
          .withArgs(c.id, c.deal.token, c.payee.address, releasePayout(c).payeeNet);
      }
      expect(await p.escrow.owed(await p.usdt.getAddress(), p.payee.address)).to.equal(net(usdtDeals));
      expect(await p.dai.balanceOf(p.payee.address)).to.equal(daiBefore + net(daiDeals));
      expect(await p.escrow.owed(dai, p.payee.address)).to.equal(0n);
      for (const c of deals) expect(await statusOf(c)).to.equal(Status.Released);
    });

    describe("when the transaction leaves too little gas for the bounded payout", function () {
      it("→ it reverts EscrowInsufficientGas(available, PAYOUT_GAS + PAYOUT_GAS/63 + 5000); the deal stays Performed", async function () {
        const c = await setup("Payment", "Performed");
        const performedAt = (await c.p.escrow.getDeal(c.id)).since;
        await expect(c.p.escrow.connect(c.payer).release(c.deal, { gasLimit: 110_000 }))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInsufficientGas")
          .withArgs(anyUint, requiredGas(PAYOUT_GAS));
        await expectRecord(c, Status.Performed, performedAt);
      });

      it("→ never a silent deferral: at every gas limit the release either reverts or pays the payee in full", async function () {
        const c = await setup("Payment", "Performed");
        const data = c.p.escrow.interface.encodeFunctionData("release", [c.deal]);
        const tx = { from: c.payer.address, to: await c.p.escrow.getAddress(), data };
        const estimate = Number(await ethers.provider.estimateGas(tx));
        const outcomes: string[] = [];
        let lowestSuccess = 0;
        for (let g = 60_000; g <= estimate + 20_000; g += 2_000) {
          try {
            await ethers.provider.call({ ...tx, gasLimit: g });
            if (!lowestSuccess) lowestSuccess = g;
            outcomes.push("ok");
          } catch (e) {
            // Hardhat puts the revert data on `data`, or on `data.data` (with the reason) when it ran out of gas.
            const raw = (e as { data?: unknown }).data;
            const revert = typeof raw === "string" ? raw : ((raw as { data?: string } | undefined)?.data ?? "0x");
            if (revert === "0x") {
              outcomes.push("out of gas");
            } else {
              const err = c.p.escrow.interface.parseError(revert);
              expect(err?.name, `gas ${g}`).to.equal("EscrowInsufficientGas");
              expect(err?.args[1]).to.equal(requiredGas(PAYOUT_GAS));
              outcomes.push("insufficient");
            }
            expect(lowestSuccess, `gas ${g} failed above a gas limit that succeeded`).to.equal(0);
          }
        }
        expect(outcomes).to.include("insufficient");
        expect(lowestSuccess).to.be.greaterThan(0);
        // The cheapest transaction that goes through pays the payee: the payout got its whole bounded gas.
        const sent = await c.p.escrow.connect(c.payer).release(c.deal, { gasLimit: lowestSuccess });
        await expect(sent).not.to.emit(c.p.escrow, "PayoutDeferred");
        await expect(sent).to.changeTokenBalance(c.p.usdt, c.payee, releasePayout(c).payeeNet);
      });
    });
  });
});

describe("Escrow: multicall (batches)", function () {
  const N = 20;

  async function performedBatch(): Promise<Ctx[]> {
    const p = await loadFixture(protocolWithFloat);
    const deals: Ctx[] = [];
    for (let i = 0; i < N; i++) {
      const c = await openInState(p, "Payment", "Performed", { amount: USDT(10 + i) });
      deals.push(c);
    }
    return deals;
  }

  it("when the payer batches the releases of 20 performed deals → one transaction releases them all", async function () {
    const deals = await performedBatch();
    const { p } = deals[0];
    const token = p.usdt;
    const escrowAddr = await p.escrow.getAddress();
    const fees = deals.map((c) => feeOf(c.deal.amount, c.deal.feeBps));
    const totalFee = fees.reduce((a, b) => a + b, 0n);
    const totalNet = deals.reduce((a, c, i) => a + c.deal.amount - fees[i], 0n);
    const owedBefore = await p.escrow.owed(await token.getAddress(), p.gateway.address);

    const calls = deals.map((c) => p.escrow.interface.encodeFunctionData("release", [c.deal]));
    const tx = await p.escrow.connect(p.payer).multicall(calls);
    const ts = await tsOf(tx);

    await expect(tx).to.changeTokenBalances(token, [p.payee.address, escrowAddr], [totalNet, -totalNet]);
    expect(await p.escrow.owed(await token.getAddress(), p.gateway.address)).to.equal(owedBefore + totalFee);
    expect(await escrowEventNames(p, tx)).to.deep.equal(Array(N).fill("DealReleased"));
    for (const c of deals) {
      await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(c.id);
      await expectRecord(c, Status.Released, ts);
    }
  });

  it("when one release in the batch reverts → the whole batch reverts, with that call's error", async function () {
    const deals = await performedBatch();
    const { p } = deals[0];
    const bad = deals[7];
    await p.escrow.connect(bad.payee).cancel(bad.deal);
    const refundedAt = (await p.escrow.getDeal(bad.id)).since;
    const before = await books(deals[0]);

    const calls = deals.map((c) => p.escrow.interface.encodeFunctionData("release", [c.deal]));
    await expect(p.escrow.connect(p.payer).multicall(calls))
      .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
      .withArgs(bad.id, Status.Refunded);

    await expectUntouched(deals[0], before);
    for (const c of deals) {
      if (c === bad) await expectRecord(c, Status.Refunded, refundedAt);
      else expect(await statusOf(c)).to.equal(Status.Performed);
    }
  });

  it("when someone other than the payer submits the batch → it reverts EscrowUnauthorized", async function () {
    const deals = await performedBatch();
    const { p } = deals[0];
    const calls = deals.map((c) => p.escrow.interface.encodeFunctionData("release", [c.deal]));
    await expect(p.escrow.connect(p.other).multicall(calls))
      .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
      .withArgs(deals[0].id, p.other.address);
  });
});

describe("Escrow: fees are fixed at open", function () {
  it("when the gateway raises its fee (50 → 100 bps) after the open → the release charges the deal's 50 bps", async function () {
    const c = await setup("Payment", "Performed");
    expect(c.deal.feeBps).to.equal(50n);
    await c.p.registry.connect(c.p.gateway).setGatewayFee(100);
    expect((await c.p.registry.getGateway(c.p.gateway.address)).feeBps).to.equal(100n);
    // the deal cannot be re-labelled with the new fee
    await expect(c.p.escrow.connect(c.payer).release({ ...c.deal, feeBps: 100n }))
      .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
      .withArgs(c.id);
    await expectSettlement(
      c,
      () => c.p.escrow.connect(c.payer).release(c.deal),
      { payeeNet: USDT("99.5"), fee: USDT("0.5"), refund: 0n },
      Status.Released,
    );
  });

  it("when the deal is opened after the raise → the release charges 100 bps", async function () {
    const p = await loadFixture(protocolWithFloat);
    await p.registry.connect(p.gateway).setGatewayFee(100);
    const c = await openInState(p, "Payment", "Performed", { feeBps: 100n });
    await expectSettlement(
      c,
      () => p.escrow.connect(c.payer).release(c.deal),
      { payeeNet: USDT(99), fee: USDT(1), refund: 0n },
      Status.Released,
    );
  });
});
