import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import type { TestUSDTUpgraded } from "../../../../typechain-types";

import { approveExactly, dealIdOf, deployProtocol, depositFloat, feeOf, loadFixture, makeDeal } from "../../fixtures";
import { openDeal, RefundReason, signOpen, Status, USDT } from "../../fixtures";
import { approvedDeal, expectFloatUntouched, expectSolvent, floatFixture, inSnapshot } from "../shared/attacks";
import { lockedRamp, NO_REASONS, NON_FINAL, openedDeal, performAndDispute, REASONS, settle } from "../shared/attacks";
import { statusOf, type Liabilities } from "../shared/attacks";

describe("Escrow attacks: blacklisted parties (USDT's blacklist stops only the sender)", function () {
  describe("a blacklisted payee", function () {
    async function blacklistedPayeeFixture() {
      const p = await deployProtocol();
      const d = await openedDeal(p);
      await p.usdt.connect(p.admin).addBlackList(p.payee.address);
      await p.escrow.connect(p.payee).perform(d);
      return { ...p, d };
    }

    it("release pays it in full: the payout arrives, frozen in its wallet by the token, and nothing is owed", async function () {
      const p = await loadFixture(blacklistedPayeeFixture);
      const id = dealIdOf(p.d);
      const fee = feeOf(p.d.amount, p.d.feeBps);
      const net = p.d.amount - fee;

      const tx = p.escrow.connect(p.payer).release(p.d);
      await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id);
      await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee, p.payer], [-net, net, 0n]);
      expect(await statusOf(p.escrow, id)).to.equal(Status.Released);
      await expectSolvent(p.escrow, p.usdt, {
        owed: { [p.gateway.address]: fee, [p.payee.address]: 0n },
      });

      // Frozen by the token, not by the escrow: the payee cannot move it until Tether lifts the listing.
      await expect(p.usdt.connect(p.payee).transfer(p.other.address, net)).to.be.revertedWithoutReason();
      await p.usdt.connect(p.admin).removeBlackList(p.payee.address);
      await expect(p.usdt.connect(p.payee).transfer(p.other.address, net)).to.changeTokenBalances(
        p.usdt,
        [p.payee, p.other],
        [-net, net],
      );
    });

    it("resolve: both the payee's share and the payer's refund arrive", async function () {
      const p = await loadFixture(blacklistedPayeeFixture);
      const id = dealIdOf(p.d);
      await p.escrow.connect(p.payer).dispute(p.d);
      const payeeAmount = USDT(60);
      const fee = feeOf(payeeAmount, p.d.feeBps);
      const refund = p.d.amount - payeeAmount;

      const tx = p.escrow.connect(p.gateway).resolve(p.d, payeeAmount, REASONS);
      await expect(tx)
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.gateway.address, payeeAmount - fee, fee, refund, REASONS);
      await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payer, p.payee],
        [-(p.d.amount - fee), refund, payeeAmount - fee],
      );
      await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: fee } });
    });

    it("on-ramp release to a listed buyer: the buyer receives and the acceptor's locked float is released", async function () {
      const p = await loadFixture(floatFixture);
      const d = await lockedRamp(p);
      await p.usdt.connect(p.admin).addBlackList(p.payee.address);
      await p.escrow.connect(p.payee).perform(d);
      const fee = feeOf(d.amount, d.feeBps);

      const tx = p.escrow.connect(p.acceptor).release(d);
      await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee], [-(d.amount - fee), d.amount - fee]);
      await expectSolvent(p.escrow, p.usdt, {
        floats: [[p.acceptor.address, USDT(900), 0n]],
        owed: { [p.gateway.address]: fee },
      });
    });
  });

  describe("a blacklisted payer", function () {
    async function blacklistedPayerFixture() {
      const p = await deployProtocol();
      const d = await openedDeal(p);
      await p.usdt.connect(p.admin).addBlackList(p.payer.address);
      return { ...p, d };
    }

    it("cannot open: the pull from its wallet reverts with empty data and no deal is recorded", async function () {
      const p = await loadFixture(blacklistedPayerFixture);
      const d = await approvedDeal(p);
      await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash)).to.be.revertedWithoutReason();
      const sig = await signOpen(p.escrow, p.payer, d, ethers.ZeroHash);
      await expect(p.escrow.connect(p.other).openWithSig(d, ethers.ZeroHash, sig)).to.be.revertedWithoutReason();
      expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.None);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d] });
    });

    it("a deal opened before the listing refunds into its (frozen) wallet after the deadline; nothing is owed", async function () {
      const p = await loadFixture(blacklistedPayerFixture);
      const id = dealIdOf(p.d);
      await time.increaseTo(p.d.deadline + 1n);

      const tx = p.escrow.connect(p.other).refund(p.d);
      await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.Deadline);
      await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-p.d.amount, p.d.amount]);
      await expectSolvent(p.escrow, p.usdt, { owed: { [p.payer.address]: 0n } });
    });

    it("payee cancel and a ruling's refund arrive in its wallet too", async function () {
      const p = await loadFixture(blacklistedPayerFixture);
      await inSnapshot(async () => {
        await expect(p.escrow.connect(p.payee).cancel(p.d)).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.payer],
          [-p.d.amount, p.d.amount],
        );
      });
      await performAndDispute(p, p.d);
      const payeeAmount = USDT(30);
      const fee = feeOf(payeeAmount, p.d.feeBps);
      const tx = p.escrow.connect(p.gateway).resolve(p.d, payeeAmount, NO_REASONS);
      await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee, p.payer],
        [-(p.d.amount - fee), payeeAmount - fee, p.d.amount - payeeAmount],
      );
      await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: fee } });
    });
  });

  describe("a blacklisted acceptor or gateway", function () {
    it("a listed acceptor cannot deposit float (empty revert), but its withdrawal arrives", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await depositFloat(p, USDT(1_000));
      await p.usdt.connect(p.admin).addBlackList(p.acceptor.address);
      await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), USDT(500));
      await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(500))).to.be.revertedWithoutReason();
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(1_000))).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.acceptor],
        [-USDT(1_000), USDT(1_000)],
      );
      await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, 0n, 0n]] });
    });

    it("a listed gateway's fee claim arrives", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      const d = await openedDeal(p);
      await settle(p, d);
      const fee = feeOf(d.amount, d.feeBps);
      await p.usdt.connect(p.admin).addBlackList(p.gateway.address);
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.gateway],
        [-fee, fee],
      );
      await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: 0n } });
    });
  });

  describe("the token blacklists the ESCROW itself", function () {
    /**
     * A performed payment, an open payment, a disputed payment and a performed on-ramp deal; the gateway has a fee
     * owed; then Tether lists the escrow.
     */
    async function listedEscrowFixture() {
      const p = await floatFixture();
      const ramp = await lockedRamp(p);
      await p.escrow.connect(p.payee).perform(ramp);
      const performed = await makeDeal(p);
      const refundable = await makeDeal(p);
      const disputed = await makeDeal(p);
      const settled = await makeDeal(p);
      for (const d of [performed, refundable, disputed, settled]) await openDeal(p, d);
      await p.escrow.connect(p.payee).perform(performed);
      await performAndDispute(p, disputed);
      await settle(p, settled);
      const settledFee = feeOf(settled.amount, settled.feeBps);
      await p.usdt.connect(p.admin).addBlackList(await p.escrow.getAddress());
      return { ...p, ramp, performed, refundable, disputed, settledFee };
    }

    it("opens and float deposits still succeed: the money arrives and is frozen in the escrow", async function () {
      const p = await loadFixture(listedEscrowFixture);
      const usdt = await p.usdt.getAddress();
      const d = await approvedDeal(p);
      await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash)).to.changeTokenBalances(
        p.usdt,
        [p.payer, p.escrow],
        [-d.amount, d.amount],
      );
      await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), USDT(500));
      await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(500))).to.changeTokenBalances(
        p.usdt,
        [p.acceptor, p.escrow],
        [-USDT(500), USDT(500)],
      );
      // Frozen: the escrow cannot send any of it while listed.
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(500))).to.be.revertedWithoutReason();
      await expectSolvent(p.escrow, p.usdt, {
        openDeals: [p.performed, p.refundable, p.disputed, d],
        floats: [[p.acceptor.address, USDT(1_400), p.ramp.amount]],
        owed: { [p.gateway.address]: p.settledFee },
      });
    });

    it("every payout becomes owed: release, refund, resolve and an on-ramp release each settle with PayoutDeferred", async function () {
      const p = await loadFixture(listedEscrowFixture);
      const usdt = await p.usdt.getAddress();
      const fee = feeOf(p.performed.amount, p.performed.feeBps);
      const net = p.performed.amount - fee;

      const release = p.escrow.connect(p.payer).release(p.performed);
      await expect(release).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(p.performed));
      await expect(release)
        .to.emit(p.escrow, "PayoutDeferred")
        .withArgs(dealIdOf(p.performed), usdt, p.payee.address, net);

      await time.increaseTo(p.refundable.deadline + 1n);
      await expect(p.escrow.connect(p.other).refund(p.refundable))
        .to.emit(p.escrow, "PayoutDeferred")
        .withArgs(dealIdOf(p.refundable), usdt, p.payer.address, p.refundable.amount);

      // The gateway's window has passed by now: the arbiter rules, without fee; both legs are deferred.
      const resolve = p.escrow.connect(p.arbiter).resolve(p.disputed, USDT(70), NO_REASONS);
      await expect(resolve)
        .to.emit(p.escrow, "PayoutDeferred")
        .withArgs(dealIdOf(p.disputed), usdt, p.payer.address, USDT(30));
      await expect(resolve)
        .to.emit(p.escrow, "PayoutDeferred")
        .withArgs(dealIdOf(p.disputed), usdt, p.payee.address, USDT(70));

      const ramp = p.escrow.connect(p.acceptor).release(p.ramp);
      await expect(ramp).to.emit(p.escrow, "PayoutDeferred").withArgs(dealIdOf(p.ramp), usdt, p.payee.address, net);

      for (const d of [p.performed, p.refundable, p.disputed, p.ramp]) {
        expect(NON_FINAL).to.not.include(await statusOf(p.escrow, dealIdOf(d)));
      }
      await expectSolvent(p.escrow, p.usdt, {
        floats: [[p.acceptor.address, USDT(900), 0n]],
        owed: {
          [p.gateway.address]: p.settledFee + 2n * fee,
          [p.payee.address]: 2n * net + USDT(70),
          [p.payer.address]: p.refundable.amount + USDT(30),
        },
      });
    });

    it("withdrawFloat and claimOwed revert (empty data) while the escrow is listed, and pay once it is unlisted", async function () {
      const p = await loadFixture(listedEscrowFixture);
      const usdt = await p.usdt.getAddress();
      const fee = feeOf(p.performed.amount, p.performed.feeBps);
      const net = p.performed.amount - fee;
      await p.escrow.connect(p.payer).release(p.performed);

      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(900))).to.be.revertedWithoutReason();
      for (const account of [p.payee, p.gateway]) {
        await expect(p.escrow.connect(p.other).claimOwed(usdt, account.address)).to.be.revertedWithoutReason();
      }
      const liabilities: Liabilities = {
        openDeals: [p.refundable, p.disputed],
        floats: [[p.acceptor.address, USDT(900), p.ramp.amount]],
        owed: { [p.gateway.address]: p.settledFee + fee, [p.payee.address]: net },
      };
      await expectSolvent(p.escrow, p.usdt, liabilities);

      await p.usdt.connect(p.admin).removeBlackList(await p.escrow.getAddress());
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(900))).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.acceptor],
        [-USDT(900), USDT(900)],
      );
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.payee.address))
        .to.emit(p.escrow, "OwedClaimed")
        .withArgs(usdt, p.payee.address, net);
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.gateway],
        [-(p.settledFee + fee), p.settledFee + fee],
      );
      await expectSolvent(p.escrow, p.usdt, {
        openDeals: [p.refundable, p.disputed],
        floats: [[p.acceptor.address, 0n, p.ramp.amount]],
        owed: { [p.gateway.address]: 0n, [p.payee.address]: 0n },
      });
    });

    it("governance's answer, disallowing the token, stops new deals and deposits in it; open deals still settle", async function () {
      const p = await loadFixture(listedEscrowFixture);
      const usdt = await p.usdt.getAddress();
      await p.registry.connect(p.governor).setTokenAllowed(usdt, false);
      const d = await approvedDeal(p);
      await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
        .withArgs(usdt);
      await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(1)))
        .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
        .withArgs(usdt);
      await expect(p.escrow.connect(p.payer).release(p.performed))
        .to.emit(p.escrow, "DealReleased")
        .withArgs(dealIdOf(p.performed));
    });
  });

  describe("the token is deprecated to an upgraded token that refuses transfers", function () {
    /** Three performed payments; then USDT forwards to an upgraded token (balances carried over) that refuses. */
    async function deprecatedFixture() {
      const p = await deployProtocol();
      const deals = [await makeDeal(p), await makeDeal(p), await makeDeal(p, { amount: USDT(250) })];
      for (const d of deals) {
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
      }
      const upgraded = (await ethers.deployContract("TestUSDTUpgraded", [
        await p.usdt.getAddress(),
      ])) as unknown as TestUSDTUpgraded;
      const escrowAddress = await p.escrow.getAddress();
      await upgraded.mint(escrowAddress, await p.usdt.balanceOf(escrowAddress));
      await p.usdt.connect(p.admin).deprecate(await upgraded.getAddress());
      await upgraded.setFailTransfers(true);
      return { ...p, deals, upgraded };
    }

    it("payouts are deferred and a multicall batch of releases still settles every deal", async function () {
      const p = await loadFixture(deprecatedFixture);
      const usdt = await p.usdt.getAddress();
      const calls = p.deals.map((d) => p.escrow.interface.encodeFunctionData("release", [d]));
      const tx = p.escrow.connect(p.payer).multicall(calls);
      for (const d of p.deals) {
        const net = d.amount - feeOf(d.amount, d.feeBps);
        await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(d));
        await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(dealIdOf(d), usdt, p.payee.address, net);
      }
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee], [0n, 0n]);
      const total = p.deals.reduce((s, d) => s + d.amount, 0n);
      const fees = p.deals.reduce((s, d) => s + feeOf(d.amount, d.feeBps), 0n);
      await expectSolvent(p.escrow, p.usdt, {
        owed: { [p.gateway.address]: fees, [p.payee.address]: total - fees },
      });
    });

    it("claims revert (empty data) while the upgraded token refuses and pay once it accepts", async function () {
      const p = await loadFixture(deprecatedFixture);
      const usdt = await p.usdt.getAddress();
      for (const d of p.deals) await p.escrow.connect(p.payer).release(d);
      const total = p.deals.reduce((s, d) => s + d.amount, 0n);
      const fees = p.deals.reduce((s, d) => s + feeOf(d.amount, d.feeBps), 0n);
      await expect(p.escrow.claimOwed(usdt, p.payee.address)).to.be.revertedWithoutReason();

      await p.upgraded.setFailTransfers(false);
      await expect(p.escrow.claimOwed(usdt, p.payee.address)).to.changeTokenBalances(
        p.upgraded,
        [p.escrow, p.payee],
        [-(total - fees), total - fees],
      );
      await expectSolvent(p.escrow, p.usdt, {
        owed: { [p.gateway.address]: fees, [p.payee.address]: 0n },
      });
    });
  });
});

describe("Escrow attacks: USDT paused mid-deal", function () {
  async function pausedFixture() {
    const p = await deployProtocol();
    const d = await openedDeal(p);
    await p.usdt.connect(p.admin).pause();
    return { ...p, d };
  }

  it("perform works and release completes with every payout owed", async function () {
    const p = await loadFixture(pausedFixture);
    const id = dealIdOf(p.d);
    const usdt = await p.usdt.getAddress();
    const fee = feeOf(p.d.amount, p.d.feeBps);
    const net = p.d.amount - fee;

    await expect(p.escrow.connect(p.payee).perform(p.d)).to.emit(p.escrow, "DealPerformed").withArgs(id);
    const tx = p.escrow.connect(p.payer).release(p.d);
    await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id);
    await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(id, usdt, p.payee.address, net);
    await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee], [0n, 0n]);
    expect(await statusOf(p.escrow, id)).to.equal(Status.Released);
    await expectSolvent(p.escrow, p.usdt, {
      owed: { [p.gateway.address]: fee, [p.payee.address]: net },
    });
  });

  it("claims revert (empty data) while paused and succeed after unpause", async function () {
    const p = await loadFixture(pausedFixture);
    const usdt = await p.usdt.getAddress();
    const fee = feeOf(p.d.amount, p.d.feeBps);
    const net = p.d.amount - fee;
    await settle(p, p.d);

    for (const account of [p.payee, p.gateway]) {
      await expect(p.escrow.connect(account).claimOwed(usdt, account.address)).to.be.revertedWithoutReason();
    }
    await expectSolvent(p.escrow, p.usdt, {
      owed: { [p.gateway.address]: fee, [p.payee.address]: net },
    });

    await p.usdt.connect(p.admin).unpause();
    await expect(p.escrow.connect(p.other).claimOwed(usdt, p.payee.address)).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.payee],
      [-net, net],
    );
    await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address))
      .to.emit(p.escrow, "OwedClaimed")
      .withArgs(usdt, p.gateway.address, fee);
    await expectSolvent(p.escrow, p.usdt, {
      owed: { [p.gateway.address]: 0n, [p.payee.address]: 0n },
    });
  });

  it("a refund after the deadline while paused is owed to the payer", async function () {
    const p = await loadFixture(pausedFixture);
    const id = dealIdOf(p.d);
    const usdt = await p.usdt.getAddress();
    await time.increaseTo(p.d.deadline + 1n);

    const tx = p.escrow.connect(p.other).refund(p.d);
    await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.Deadline);
    await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(id, usdt, p.payer.address, p.d.amount);
    await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [0n, 0n]);
    await expect(p.escrow.claimOwed(usdt, p.payer.address)).to.be.revertedWithoutReason();
    await expectSolvent(p.escrow, p.usdt, { owed: { [p.payer.address]: p.d.amount } });

    await p.usdt.connect(p.admin).unpause();
    await expect(p.escrow.claimOwed(usdt, p.payer.address)).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.payer],
      [-p.d.amount, p.d.amount],
    );
    await expectSolvent(p.escrow, p.usdt, { owed: { [p.payer.address]: 0n } });
  });

  it("opens and deposits revert (empty data) while paused: the pull fails, nothing is recorded", async function () {
    const p = await loadFixture(pausedFixture);
    const usdt = await p.usdt.getAddress();
    const d = await approvedDeal(p);
    await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash)).to.be.revertedWithoutReason();
    await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), USDT(10));
    await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(10))).to.be.revertedWithoutReason();
    expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.None);
    await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d], floats: [[p.acceptor.address, 0n, 0n]] });
  });

  it("an on-ramp deal refunds to the float while paused; withdrawing waits for unpause", async function () {
    const p = await loadFixture(deployProtocol);
    const usdt = await p.usdt.getAddress();
    await depositFloat(p, USDT(1_000));
    const d = await lockedRamp(p);
    await p.usdt.connect(p.admin).pause();
    await time.increaseTo(d.deadline + 1n);

    await expect(p.escrow.refund(d)).to.emit(p.escrow, "DealRefunded").withArgs(dealIdOf(d), RefundReason.Deadline);
    await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(1_000))).to.be.revertedWithoutReason();
    await expectFloatUntouched(p);
    await p.usdt.connect(p.admin).unpause();
    await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(1_000))).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.acceptor],
      [-USDT(1_000), USDT(1_000)],
    );
    await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, 0n, 0n]] });
  });
});

describe("Escrow attacks: USDT transfer fee switched on", function () {
  const TOKEN_FEE_BPS = 10n; // 0.1%
  /** setParams takes the cap in whole tokens. */
  const TOKEN_MAX_FEE_WHOLE = 20n;
  const TOKEN_MAX_FEE = USDT(20);
  const tokenFee = (v: bigint) => {
    const f = (v * TOKEN_FEE_BPS) / 10_000n;
    return f > TOKEN_MAX_FEE ? TOKEN_MAX_FEE : f;
  };

  it("opening a deal reverts EscrowTransferShortfall, so a deal's amount is always exact", async function () {
    const p = await loadFixture(deployProtocol);
    const usdt = await p.usdt.getAddress();
    const d = await approvedDeal(p);
    await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE_WHOLE);
    await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash))
      .to.be.revertedWithCustomError(p.escrow, "EscrowTransferShortfall")
      .withArgs(usdt, d.amount, d.amount - tokenFee(d.amount));
    expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.None);
    await expectSolvent(p.escrow, p.usdt, {});
  });

  it("a float deposit is credited with exactly what arrived, and withdraws exactly", async function () {
    const p = await loadFixture(deployProtocol);
    const usdt = await p.usdt.getAddress();
    await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE_WHOLE);
    const amount = USDT(1_000);
    const received = amount - tokenFee(amount);
    await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), amount);

    const tx = p.escrow.connect(p.acceptor).depositFloat(usdt, amount);
    await expect(tx).to.emit(p.escrow, "FloatDeposited").withArgs(p.acceptor.address, usdt, received);
    await expect(tx).to.changeTokenBalances(
      p.usdt,
      [p.acceptor, p.escrow, p.admin],
      [-amount, received, tokenFee(amount)],
    );
    await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, received, 0n]] });

    const wtx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, received);
    await expect(wtx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, received);
    await expect(wtx).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.acceptor],
      [-received, received - tokenFee(received)],
    );
    await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, 0n, 0n]] });
  });

  it("fee switched on after open: release settles and the token fee comes out of what the payee receives", async function () {
    const p = await loadFixture(deployProtocol);
    const usdt = await p.usdt.getAddress();
    const d = await makeDeal(p, { amount: USDT(1_000) });
    const other = await makeDeal(p, { amount: USDT(250) });
    await openDeal(p, d);
    await openDeal(p, other);
    await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE_WHOLE);
    await p.escrow.connect(p.payee).perform(d);
    const gatewayFee = feeOf(d.amount, d.feeBps);
    const net = d.amount - gatewayFee;

    const tx = p.escrow.connect(p.payer).release(d);
    await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(d));
    await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
    await expect(tx).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.payee, p.admin],
      [-net, net - tokenFee(net), tokenFee(net)],
    );
    await expectSolvent(p.escrow, p.usdt, { openDeals: [other], owed: { [p.gateway.address]: gatewayFee } });

    // Once the gateway claims its fee, the escrow has paid out exactly the deal's amount.
    await expect(p.escrow.claimOwed(usdt, p.gateway.address)).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.gateway],
      [-gatewayFee, gatewayFee - tokenFee(gatewayFee)],
    );
    expect(await p.usdt.balanceOf(await p.escrow.getAddress())).to.equal(other.amount);
    await expectSolvent(p.escrow, p.usdt, { openDeals: [other], owed: { [p.gateway.address]: 0n } });
  });

  it("fee switched on after open: a refund sends the whole amount, the payer bears the token fee", async function () {
    const p = await loadFixture(deployProtocol);
    const d = await openedDeal(p);
    await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE_WHOLE);
    await expect(p.escrow.connect(p.payee).cancel(d)).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.payer],
      [-d.amount, d.amount - tokenFee(d.amount)],
    );
    await expectSolvent(p.escrow, p.usdt, {});
  });
});
