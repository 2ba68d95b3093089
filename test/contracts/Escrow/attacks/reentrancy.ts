import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import { Action, DAY, dealIdOf, feeOf, Kind, loadFixture, lockDeal, makeDeal, openDeal } from "../../fixtures";
import { RefundReason, Status, type DealOut } from "../../fixtures";
import { expectSolvent, HOST, hostileFixture, NO_REASONS, performAndDispute, REASONS } from "../shared/attacks";
import { REENTRANT_CALL, settle, statusOf } from "../shared/attacks";

describe("Escrow attacks: reentrancy through a hostile token's callback", function () {
  type H = Awaited<ReturnType<typeof hostileFixture>>;

  async function hostileDeal(p: H, over: Partial<DealOut> = {}) {
    return makeDeal(p, { token: await p.hostile.getAddress(), amount: HOST(100), ...over });
  }

  /** A settled hostile deal leaves its fee owed to the gateway; returns that fee. */
  async function gatewayFeeOwed(p: H): Promise<bigint> {
    const d = await hostileDeal(p);
    await openDeal(p, d);
    await settle(p, d);
    return feeOf(d.amount, d.feeBps);
  }

  async function arm(p: H, data: string) {
    await p.hostile.arm(await p.escrow.getAddress(), data);
  }

  async function expectGuardRefused(p: H, tx: Promise<unknown>) {
    await expect(tx)
      .to.emit(p.hostile, "CallbackMade")
      .withArgs(await p.escrow.getAddress(), false, REENTRANT_CALL);
    expect(await p.hostile.lastCallFailed()).to.equal(true);
    expect(await p.hostile.lastRevertData()).to.equal(REENTRANT_CALL);
    expect((await p.hostile.armed())[0]).to.equal(false);
  }

  before(async function () {
    const p = await loadFixture(hostileFixture);
    expect(p.escrow.interface.getError("ReentrancyGuardReentrantCall")!.selector).to.equal(REENTRANT_CALL);
  });

  it("every entry point that moves state, multicall included, refuses a re-entrant call during an open's pull", async function () {
    const p = await loadFixture(hostileFixture);
    const h = await p.hostile.getAddress();
    const target = await hostileDeal(p);
    const auth = { expiry: 0n, signature: "0x" };
    const iface = p.escrow.interface;
    const calls: [string, string][] = [
      ["open", iface.encodeFunctionData("open", [target, ethers.ZeroHash])],
      ["openWithSig", iface.encodeFunctionData("openWithSig", [target, ethers.ZeroHash, auth])],
      ["lock", iface.encodeFunctionData("lock", [target, ethers.ZeroHash])],
      ["lockWithSig", iface.encodeFunctionData("lockWithSig", [target, ethers.ZeroHash, p.acceptor.address, auth])],
      ["perform", iface.encodeFunctionData("perform", [target])],
      ["release", iface.encodeFunctionData("release", [target])],
      ["cancel", iface.encodeFunctionData("cancel", [target])],
      ["dispute", iface.encodeFunctionData("dispute", [target])],
      ["claim", iface.encodeFunctionData("claim", [target])],
      ["refund", iface.encodeFunctionData("refund", [target])],
      ["actWithSig", iface.encodeFunctionData("actWithSig", [target, Action.Release, p.payer.address, auth])],
      ["settleWithSigs", iface.encodeFunctionData("settleWithSigs", [target, auth, auth])],
      ["cancelWithSigs", iface.encodeFunctionData("cancelWithSigs", [target, auth, auth])],
      ["splitWithSigs", iface.encodeFunctionData("splitWithSigs", [target, 0n, auth, auth])],
      ["resolve", iface.encodeFunctionData("resolve", [target, 0n, NO_REASONS])],
      ["resolveWithSig", iface.encodeFunctionData("resolveWithSig", [target, 0n, NO_REASONS, p.gateway.address, auth])],
      ["postEvidence", iface.encodeFunctionData("postEvidence", [target, REASONS, "ipfs://x"])],
      [
        "postEvidenceWithSig",
        iface.encodeFunctionData("postEvidenceWithSig", [target, REASONS, "ipfs://x", p.payer.address, auth]),
      ],
      ["depositFloat", iface.encodeFunctionData("depositFloat", [h, 1n])],
      ["withdrawFloat", iface.encodeFunctionData("withdrawFloat", [h, 1n])],
      ["claimOwed", iface.encodeFunctionData("claimOwed", [h, p.gateway.address])],
      ["multicall", iface.encodeFunctionData("multicall", [[iface.encodeFunctionData("release", [target])]])],
    ];
    for (const [name, data] of calls) {
      const d = await hostileDeal(p);
      await p.hostile.connect(p.payer).approve(await p.escrow.getAddress(), d.amount);
      await arm(p, data);
      await expectGuardRefused(p, p.escrow.connect(p.payer).open(d, ethers.ZeroHash));
      expect(await statusOf(p.escrow, dealIdOf(d)), name).to.equal(Status.Open);
    }
  });

  describe("during open (transferFrom)", function () {
    it("a re-entrant claimOwed is refused and the amount is pulled exactly once", async function () {
      const p = await loadFixture(hostileFixture);
      const h = await p.hostile.getAddress();
      const fee = await gatewayFeeOwed(p);
      const d = await hostileDeal(p);
      await p.hostile.connect(p.payer).approve(await p.escrow.getAddress(), d.amount);
      await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));

      const tx = p.escrow.connect(p.payer).open(d, ethers.ZeroHash);
      await expectGuardRefused(p, tx);
      await expect(tx).to.changeTokenBalances(p.hostile, [p.payer, p.escrow, p.gateway], [-d.amount, d.amount, 0n]);
      expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.Open);
      await expectSolvent(p.escrow, p.hostile, { openDeals: [d], owed: { [p.gateway.address]: fee } });
    });

    it("a re-entrant open of another deal is refused", async function () {
      const p = await loadFixture(hostileFixture);
      const d = await hostileDeal(p);
      const other = await hostileDeal(p);
      await p.hostile.connect(p.payer).approve(await p.escrow.getAddress(), d.amount + other.amount);
      await arm(p, p.escrow.interface.encodeFunctionData("open", [other, ethers.ZeroHash]));

      const tx = p.escrow.connect(p.payer).open(d, ethers.ZeroHash);
      await expectGuardRefused(p, tx);
      await expect(tx).to.changeTokenBalances(p.hostile, [p.payer, p.escrow], [-d.amount, d.amount]);
      expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.Open);
      expect(await statusOf(p.escrow, dealIdOf(other))).to.equal(Status.None);
      await expectSolvent(p.escrow, p.hostile, { openDeals: [d] });
    });

    it("attack: re-entering depositFloat from the token's pull to credit the float twice → refused by the guard; credited once with what arrived", async function () {
      // v1.0 was guarded too (nonReentrant); this pins it, as the float is credited from a balance difference.
      const p = await loadFixture(hostileFixture);
      const h = await p.hostile.getAddress();
      await p.hostile.connect(p.acceptor).approve(await p.escrow.getAddress(), HOST(2_000));
      await arm(p, p.escrow.interface.encodeFunctionData("depositFloat", [h, HOST(1_000)]));

      const tx = p.escrow.connect(p.acceptor).depositFloat(h, HOST(1_000));
      await expectGuardRefused(p, tx);
      await expect(tx).to.emit(p.escrow, "FloatDeposited").withArgs(p.acceptor.address, h, HOST(1_000));
      await expect(tx).to.changeTokenBalances(p.hostile, [p.acceptor, p.escrow], [-HOST(1_000), HOST(1_000)]);
      expect(await p.hostile.allowance(p.acceptor.address, await p.escrow.getAddress())).to.equal(HOST(1_000));
      await expectSolvent(p.escrow, p.hostile, { floats: [[p.acceptor.address, HOST(1_000), 0n]] });
    });

    it("attack: re-entering depositFloat through multicall during a deposit's pull → refused; credited once", async function () {
      const p = await loadFixture(hostileFixture);
      const h = await p.hostile.getAddress();
      const iface = p.escrow.interface;
      await p.hostile.connect(p.acceptor).approve(await p.escrow.getAddress(), HOST(2_000));
      const inner = iface.encodeFunctionData("depositFloat", [h, HOST(1_000)]);
      await arm(p, iface.encodeFunctionData("multicall", [[inner]]));

      const tx = p.escrow.connect(p.acceptor).multicall([inner]);
      await expectGuardRefused(p, tx);
      await expect(tx).to.changeTokenBalances(p.hostile, [p.acceptor, p.escrow], [-HOST(1_000), HOST(1_000)]);
      await expectSolvent(p.escrow, p.hostile, { floats: [[p.acceptor.address, HOST(1_000), 0n]] });
    });
  });

  describe("during a payout push (bounded to PAYOUT_GAS) and during claims and withdrawals (all gas)", function () {
    /**
     * The armed callback (it reads, clears and records calldata in storage) makes the hostile transfer need more
     * than PAYOUT_GAS: the push fails, its effects (the callback and the disarming included) are undone, and the
     * amount is owed. The token stays armed for the claim.
     */
    async function expectPushDeferred(p: H, tx: Promise<unknown>, id: string, to: string, amount: bigint) {
      await expect(tx)
        .to.emit(p.escrow, "PayoutDeferred")
        .withArgs(id, await p.hostile.getAddress(), to, amount);
      await expect(tx).not.to.emit(p.hostile, "CallbackMade");
      expect((await p.hostile.armed())[0]).to.equal(true);
    }

    /** claimOwed gives the transfer all its gas: the callback runs, the guard refuses it, `to` is paid once. */
    async function expectClaimRefusesReentry(p: H, to: string, amount: bigint) {
      const h = await p.hostile.getAddress();
      const tx = p.escrow.connect(p.other).claimOwed(h, to);
      await expectGuardRefused(p, tx);
      await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(h, to, amount);
      await expect(tx).to.changeTokenBalances(p.hostile, [p.escrow, to], [-amount, amount]);
    }

    /** The payer releases `d` (its push armed to re-enter): the payout is owed, the payee's claim refuses the
     * re-entry and pays it, and the gateway is owed its fee. */
    async function expectReleaseOwedAndClaimed(p: H, d: DealOut) {
      const fee = feeOf(d.amount, d.feeBps);
      await expectPushDeferred(p, p.escrow.connect(p.payer).release(d), dealIdOf(d), p.payee.address, d.amount - fee);
      await expectClaimRefusesReentry(p, p.payee.address, d.amount - fee);
      await expectSolvent(p.escrow, p.hostile, { owed: { [p.gateway.address]: fee } });
    }

    /** The acceptor's 1,000 HOST of free float, deposited; returns the token's address. */
    async function depositHostileFloat(p: H): Promise<string> {
      const h = await p.hostile.getAddress();
      await p.hostile.connect(p.acceptor).approve(await p.escrow.getAddress(), HOST(1_000));
      await p.escrow.connect(p.acceptor).depositFloat(h, HOST(1_000));
      return h;
    }

    it("release: the push that would re-enter refund(another expired deal) is owed; the claim's re-entry is refused; each deal is paid once", async function () {
      const p = await loadFixture(hostileFixture);
      const expiring = await hostileDeal(p, { deadline: BigInt((await time.latest()) + DAY) });
      const d = await hostileDeal(p);
      const id = dealIdOf(d);
      await openDeal(p, expiring);
      await openDeal(p, d);
      await p.escrow.connect(p.payee).perform(d);
      await time.increaseTo(expiring.deadline + 1n);
      await arm(p, p.escrow.interface.encodeFunctionData("refund", [expiring]));

      const fee = feeOf(d.amount, d.feeBps);
      const tx = p.escrow.connect(p.payer).release(d);
      await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id);
      await expectPushDeferred(p, tx, id, p.payee.address, d.amount - fee);
      expect(await statusOf(p.escrow, id)).to.equal(Status.Released);
      await expectClaimRefusesReentry(p, p.payee.address, d.amount - fee);
      expect(await statusOf(p.escrow, dealIdOf(expiring))).to.equal(Status.Open);
      await expectSolvent(p.escrow, p.hostile, {
        openDeals: [expiring],
        owed: { [p.gateway.address]: fee, [p.payee.address]: 0n },
      });

      // The refused refund is still available, once.
      await expect(p.escrow.refund(expiring)).to.changeTokenBalances(
        p.hostile,
        [p.escrow, p.payer],
        [-expiring.amount, expiring.amount],
      );
      await expectSolvent(p.escrow, p.hostile, { owed: { [p.gateway.address]: fee } });
    });

    it("release: a re-entrant claimOwed of the fee credited a moment earlier is refused", async function () {
      const p = await loadFixture(hostileFixture);
      const h = await p.hostile.getAddress();
      const d = await hostileDeal(p);
      await openDeal(p, d);
      await p.escrow.connect(p.payee).perform(d);
      await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));

      await expectReleaseOwedAndClaimed(p, d);
    });

    it("release: a re-entrant release of the same deal wrapped in multicall is refused", async function () {
      const p = await loadFixture(hostileFixture);
      const d = await hostileDeal(p);
      await openDeal(p, d);
      await p.escrow.connect(p.payee).perform(d);
      const inner = p.escrow.interface.encodeFunctionData("release", [d]);
      await arm(p, p.escrow.interface.encodeFunctionData("multicall", [[inner]]));

      await expectReleaseOwedAndClaimed(p, d);
    });

    it("refund: a re-entrant refund of the same deal is refused; the payer is refunded once", async function () {
      const p = await loadFixture(hostileFixture);
      const d = await hostileDeal(p);
      const id = dealIdOf(d);
      await openDeal(p, d);
      await time.increaseTo(d.deadline + 1n);
      await arm(p, p.escrow.interface.encodeFunctionData("refund", [d]));

      const tx = p.escrow.connect(p.other).refund(d);
      await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.Deadline);
      await expectPushDeferred(p, tx, id, p.payer.address, d.amount);
      expect(await statusOf(p.escrow, id)).to.equal(Status.Refunded);
      await expectClaimRefusesReentry(p, p.payer.address, d.amount);
      await expectSolvent(p.escrow, p.hostile, {});
    });

    it("refund: a short re-entrant claimOwed fits in the push's PAYOUT_GAS and is refused there; owed fees stay put", async function () {
      const p = await loadFixture(hostileFixture);
      const h = await p.hostile.getAddress();
      const fee = await gatewayFeeOwed(p);
      const d = await hostileDeal(p);
      await openDeal(p, d);
      await time.increaseTo(d.deadline + 1n);
      await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));

      const tx = p.escrow.connect(p.other).refund(d);
      await expectGuardRefused(p, tx);
      await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
      await expect(tx).to.changeTokenBalances(p.hostile, [p.escrow, p.payer, p.gateway], [-d.amount, d.amount, 0n]);
      await expectSolvent(p.escrow, p.hostile, { owed: { [p.gateway.address]: fee } });
    });

    it("cancel: a re-entrant cancel is refused; the payer is refunded once", async function () {
      const p = await loadFixture(hostileFixture);
      const d = await hostileDeal(p);
      await openDeal(p, d);
      await arm(p, p.escrow.interface.encodeFunctionData("cancel", [d]));

      await expectPushDeferred(p, p.escrow.connect(p.payee).cancel(d), dealIdOf(d), p.payer.address, d.amount);
      await expectClaimRefusesReentry(p, p.payer.address, d.amount);
      await expectSolvent(p.escrow, p.hostile, {});
    });

    it("resolve: a re-entrant resolve is refused; both legs are owed and each is paid once", async function () {
      const p = await loadFixture(hostileFixture);
      const d = await hostileDeal(p);
      const id = dealIdOf(d);
      const h = await p.hostile.getAddress();
      await openDeal(p, d);
      await performAndDispute(p, d);
      const payeeAmount = HOST(60);
      await arm(p, p.escrow.interface.encodeFunctionData("resolve", [d, payeeAmount, REASONS]));

      const fee = feeOf(payeeAmount, d.feeBps);
      const tx = p.escrow.connect(p.gateway).resolve(d, payeeAmount, REASONS);
      await expect(tx)
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.gateway.address, payeeAmount - fee, fee, d.amount - payeeAmount, REASONS);
      // Both pushes meet the armed callback (the first push's failure undid its disarming).
      await expectPushDeferred(p, tx, id, p.payer.address, d.amount - payeeAmount);
      await expect(tx)
        .to.emit(p.escrow, "PayoutDeferred")
        .withArgs(id, h, p.payee.address, payeeAmount - fee);
      await expectClaimRefusesReentry(p, p.payer.address, d.amount - payeeAmount);
      await expect(p.escrow.claimOwed(h, p.payee.address)).to.changeTokenBalances(
        p.hostile,
        [p.escrow, p.payee],
        [-(payeeAmount - fee), payeeAmount - fee],
      );
      await expectSolvent(p.escrow, p.hostile, { owed: { [p.gateway.address]: fee } });
    });

    it("on-ramp release: a re-entrant withdrawFloat is refused; the locked float is released once", async function () {
      const p = await loadFixture(hostileFixture);
      const h = await depositHostileFloat(p);
      const d = await hostileDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
      await lockDeal(p, d);
      await p.escrow.connect(p.payee).perform(d);
      await arm(p, p.escrow.interface.encodeFunctionData("withdrawFloat", [h, HOST(900)]));

      const fee = feeOf(d.amount, d.feeBps);
      const tx = p.escrow.connect(p.acceptor).release(d);
      await expectPushDeferred(p, tx, dealIdOf(d), p.payee.address, d.amount - fee);
      await expectSolvent(p.escrow, p.hostile, {
        floats: [[p.acceptor.address, HOST(900), 0n]],
        owed: { [p.gateway.address]: fee, [p.payee.address]: d.amount - fee },
      });
      await expectClaimRefusesReentry(p, p.payee.address, d.amount - fee);
      await expectSolvent(p.escrow, p.hostile, {
        floats: [[p.acceptor.address, HOST(900), 0n]],
        owed: { [p.gateway.address]: fee },
      });
    });

    it("claimOwed: a re-entrant claimOwed is refused; the fee is paid once", async function () {
      const p = await loadFixture(hostileFixture);
      const h = await p.hostile.getAddress();
      const fee = await gatewayFeeOwed(p);
      await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));
      await expectClaimRefusesReentry(p, p.gateway.address, fee);
      await expectSolvent(p.escrow, p.hostile, { owed: { [p.gateway.address]: 0n } });
    });

    it("withdrawFloat: a re-entrant withdrawFloat and claimOwed are refused; the float is debited once", async function () {
      const p = await loadFixture(hostileFixture);
      const h = await depositHostileFloat(p);
      const fee = await gatewayFeeOwed(p);

      await arm(p, p.escrow.interface.encodeFunctionData("withdrawFloat", [h, HOST(400)]));
      const tx1 = p.escrow.connect(p.acceptor).withdrawFloat(h, HOST(400));
      await expectGuardRefused(p, tx1);
      await expect(tx1).to.changeTokenBalances(p.hostile, [p.escrow, p.acceptor], [-HOST(400), HOST(400)]);

      await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));
      const tx2 = p.escrow.connect(p.acceptor).withdrawFloat(h, HOST(100));
      await expectGuardRefused(p, tx2);
      await expect(tx2).to.changeTokenBalances(
        p.hostile,
        [p.escrow, p.acceptor, p.gateway],
        [-HOST(100), HOST(100), 0n],
      );
      await expectSolvent(p.escrow, p.hostile, {
        floats: [[p.acceptor.address, HOST(500), 0n]],
        owed: { [p.gateway.address]: fee },
      });
    });
  });
});
