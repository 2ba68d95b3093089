import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import { Action, approveExactly, dealIdOf, deployProtocol, feeOf, GatewayStatus, loadFixture } from "../../fixtures";
import { makeDeal, MAX_DELEGATE_LOCK_DURATION, MAX_DELEGATE_RELEASE_WINDOW, MIN_BOND, openDeal } from "../../fixtures";
import { RefundReason, RELEASE_WINDOW, RESOLUTION_WINDOW, signAction, signResolution, signSplit } from "../../fixtures";
import { Status, UNBONDING_DELAY, USDT, type DealOut } from "../../fixtures";
import { dealTuple, delegateDeal, expectFloatUntouched, expectSolvent, floatFixture } from "../shared/attacks";
import { inSnapshot, NO_REASONS, openDisputes, openedDeal, performAndDispute, REASONS } from "../shared/attacks";
import { statusOf, twoGatewaysFixture } from "../shared/attacks";

describe("Escrow attacks: a malicious gateway", function () {
  /** A payment the payer disputed while the gateway was active: the gateway holds it. */
  async function disputedFixture() {
    const p = await twoGatewaysFixture();
    const d = await openedDeal(p);
    await performAndDispute(p, d);
    const since = (await p.escrow.getDeal(dealIdOf(d))).since;
    return { ...p, d, endsAt: since + BigInt(RESOLUTION_WINDOW) };
  }

  before(async function () {
    const p = await loadFixture(disputedFixture);
    expect((await p.escrow.getDeal(dealIdOf(p.d))).flags).to.equal(2n); // GatewayHolds
    expect(await openDisputes(p)).to.equal(1n);
  });

  it("cannot resolve a deal that does not name it", async function () {
    const p = await loadFixture(disputedFixture);
    const id = dealIdOf(p.d);
    expect(await p.registry.canRule(p.gateway2.address)).to.equal(true);
    for (const caller of [p.gateway2, p.payer, p.payee, p.other]) {
      await expect(p.escrow.connect(caller).resolve(p.d, p.d.amount, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, caller.address);
    }
    // Naming itself in a copy of the deal does not match the commitment.
    await expect(p.escrow.connect(p.gateway2).resolve({ ...p.d, gateway: p.gateway2.address }, p.d.amount, NO_REASONS))
      .to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal")
      .withArgs(id);
    // Nor by signature: its own signature does not make it the deal's gateway.
    const sig = await signResolution(p.escrow, p.gateway2, id, p.d.amount, NO_REASONS);
    await expect(p.escrow.resolveWithSig(p.d, p.d.amount, NO_REASONS, p.gateway2.address, sig))
      .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
      .withArgs(id, p.gateway2.address);
    expect(await statusOf(p.escrow, id)).to.equal(Status.Disputed);
    await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d] });
  });

  it("cannot resolve a deal that is not disputed", async function () {
    const p = await loadFixture(twoGatewaysFixture);
    const d = await makeDeal(p);
    const id = dealIdOf(d);
    await openDeal(p, d);
    await expect(p.escrow.connect(p.gateway).resolve(d, d.amount, NO_REASONS))
      .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
      .withArgs(id, Status.Open);
    await p.escrow.connect(p.payee).perform(d);
    await expect(p.escrow.connect(p.gateway).resolve(d, d.amount, NO_REASONS))
      .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
      .withArgs(id, Status.Performed);
    await p.escrow.connect(p.payer).release(d);
    await expect(p.escrow.connect(p.gateway).resolve(d, 0n, NO_REASONS))
      .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
      .withArgs(id, Status.Released);
    await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: feeOf(d.amount, d.feeBps) } });
  });

  it("cannot rule twice", async function () {
    const p = await loadFixture(disputedFixture);
    const id = dealIdOf(p.d);
    await p.escrow.connect(p.gateway).resolve(p.d, USDT(50), NO_REASONS);
    await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount, NO_REASONS))
      .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
      .withArgs(id, Status.Resolved);
    const fee = feeOf(USDT(50), p.d.feeBps);
    expect(await openDisputes(p)).to.equal(0n);
    await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: fee } });
  });

  it("cannot pay the payee more than the amount; its worst is all to one side, its fee from the payee's share", async function () {
    const p = await loadFixture(disputedFixture);
    const id = dealIdOf(p.d);
    await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount + 1n, NO_REASONS))
      .to.be.revertedWithCustomError(p.escrow, "EscrowPayeeAmountTooHigh")
      .withArgs(id, p.d.amount + 1n, p.d.amount);
    const fee = feeOf(p.d.amount, p.d.feeBps);
    const tx = p.escrow.connect(p.gateway).resolve(p.d, p.d.amount, REASONS);
    await expect(tx)
      .to.emit(p.escrow, "DealResolved")
      .withArgs(id, p.gateway.address, p.d.amount - fee, fee, 0n, REASONS);
    await expect(tx).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.payee, p.payer, p.gateway],
      [-(p.d.amount - fee), p.d.amount - fee, 0n, 0n],
    );
    await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: fee } });
  });

  it("can rule up to the end of its window, not one second later; then only the arbiter, without fee", async function () {
    const p = await loadFixture(disputedFixture);
    const id = dealIdOf(p.d);
    const fee = feeOf(USDT(40), p.d.feeBps);
    await inSnapshot(async () => {
      await time.setNextBlockTimestamp(p.endsAt);
      await expect(p.escrow.connect(p.gateway).resolve(p.d, USDT(40), NO_REASONS))
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.gateway.address, USDT(40) - fee, fee, USDT(60), NO_REASONS);
    });

    await time.setNextBlockTimestamp(p.endsAt + 1n);
    await expect(p.escrow.connect(p.gateway).resolve(p.d, USDT(40), NO_REASONS))
      .to.be.revertedWithCustomError(p.escrow, "EscrowResolutionWindowClosed")
      .withArgs(id, p.endsAt);
    const tx = p.escrow.connect(p.arbiter).resolve(p.d, USDT(40), REASONS);
    await expect(tx).to.emit(p.escrow, "DealResolved").withArgs(id, p.arbiter.address, USDT(40), 0n, USDT(60), REASONS);
    await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee, p.payer], [-p.d.amount, USDT(40), USDT(60)]);
    expect(await openDisputes(p)).to.equal(0n);
    await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: 0n } });
  });

  it("cannot act for a party: release, cancel, perform, dispute, claim, refund early, or sign for one", async function () {
    const p = await loadFixture(twoGatewaysFixture);
    const d = await makeDeal(p);
    const id = dealIdOf(d);
    await openDeal(p, d);
    const g = p.escrow.connect(p.gateway);
    for (const call of [g.release, g.cancel, g.perform, g.dispute, g.claim]) {
      await expect(call(d))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, p.gateway.address);
    }
    await expect(g.refund(d))
      .to.be.revertedWithCustomError(p.escrow, "EscrowDeadlineNotPassed")
      .withArgs(id, d.deadline);
    // Its own signature does not stand in for a party's, under its own name or the payer's.
    const release = await signAction(p.escrow, p.gateway, id, Action.Release);
    await expect(g.actWithSig(d, Action.Release, p.gateway.address, release))
      .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
      .withArgs(id, p.gateway.address);
    await expect(g.actWithSig(d, Action.Release, p.payer.address, release))
      .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
      .withArgs(id, p.payer.address);
    await expectSolvent(p.escrow, p.usdt, { openDeals: [d] });
  });

  describe("a suspended gateway requests its exit to rule again", function () {
    /** A performed payment; the governor suspends the gateway, which then requests its exit. */
    async function suspendedExitingFixture() {
      const p = await twoGatewaysFixture();
      const d = await openedDeal(p);
      await p.escrow.connect(p.payee).perform(d);
      await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
      await p.registry.connect(p.gateway).requestExit();
      return { ...p, d };
    }

    it("attack: suspended, it requests its exit and rules a new dispute → EscrowUnauthorized; the arbiter rules at once; no second suspension is needed", async function () {
      // v1.0: requestExit took a suspended gateway to Exiting, where canRule was true again: it ruled the next
      // dispute (and took its fee) while the arbiter was refused until the governor suspended it again.
      const p = await loadFixture(suspendedExitingFixture);
      const gw = p.gateway.address;
      const id = dealIdOf(p.d);
      const g = await p.registry.getGateway(gw);
      expect([g.status, g.suspended]).to.deep.equal([BigInt(GatewayStatus.Exiting), true]);
      expect(await p.registry.canRule(gw)).to.equal(false);

      await expect(p.escrow.connect(p.payer).dispute(p.d))
        .to.emit(p.escrow, "DealDisputed")
        .withArgs(id, p.payer.address, false);
      expect(await openDisputes(p)).to.equal(0n);
      await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, gw);
      const sig = await signResolution(p.escrow, p.gateway, id, p.d.amount, NO_REASONS);
      await expect(p.escrow.connect(p.other).resolveWithSig(p.d, p.d.amount, NO_REASONS, gw, sig))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, gw);
      // No second suspension is needed (nor possible).
      await expect(p.registry.connect(p.governor).suspendGateway(gw))
        .to.be.revertedWithCustomError(p.registry, "RegistryGatewaySuspended")
        .withArgs(gw);

      // The arbiter rules at once, without fee.
      const tx = p.escrow.connect(p.arbiter).resolve(p.d, USDT(20), REASONS);
      await expect(tx)
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.arbiter.address, USDT(20), 0n, p.d.amount - USDT(20), REASONS);
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee, p.payer, p.gateway],
        [-p.d.amount, USDT(20), p.d.amount - USDT(20), 0n],
      );
      await expectSolvent(p.escrow, p.usdt, { owed: { [gw]: 0n } });
    });

    it("a dispute raised while it was suspended stays the arbiter's even once it is reinstated (still exiting)", async function () {
      const p = await loadFixture(suspendedExitingFixture);
      const gw = p.gateway.address;
      const id = dealIdOf(p.d);
      await p.escrow.connect(p.payer).dispute(p.d);
      await p.registry.connect(p.governor).reinstateGateway(gw);
      expect(await p.registry.canRule(gw)).to.equal(true);
      await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, gw);
      await expect(p.escrow.connect(p.arbiter).resolve(p.d, USDT(20), NO_REASONS))
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.arbiter.address, USDT(20), 0n, p.d.amount - USDT(20), NO_REASONS);
      await expectSolvent(p.escrow, p.usdt, {});
    });

    it("a dispute it held before the suspension passes to the arbiter at once, whatever it requests", async function () {
      const p = await loadFixture(disputedFixture);
      const id = dealIdOf(p.d);
      const gw = p.gateway.address;
      await p.registry.connect(p.governor).suspendGateway(gw);
      await expect(p.registry.connect(p.gateway).requestExit()).to.emit(p.registry, "GatewayExitRequested");
      await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, gw);
      // Well inside the gateway's window, the arbiter rules, without fee, and the held dispute is uncounted.
      expect(BigInt(await time.latest())).to.be.lessThan(p.endsAt);
      const tx = p.escrow.connect(p.arbiter).resolve(p.d, 0n, REASONS);
      await expect(tx).to.emit(p.escrow, "DealResolved").withArgs(id, p.arbiter.address, 0n, 0n, p.d.amount, REASONS);
      await expect(tx).to.emit(p.registry, "GatewayDisputesChanged").withArgs(gw, 0n);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-p.d.amount, p.d.amount]);
      await expectSolvent(p.escrow, p.usdt, { owed: { [gw]: 0n } });
    });

    it("while suspended it cannot complete its exit and take the bond", async function () {
      const p = await loadFixture(suspendedExitingFixture);
      const gw = p.gateway.address;
      await time.increase(UNBONDING_DELAY + 1);
      await expect(p.registry.connect(p.gateway).completeExit())
        .to.be.revertedWithCustomError(p.registry, "RegistryGatewaySuspended")
        .withArgs(gw);
      expect((await p.registry.getGateway(gw)).bond).to.equal(MIN_BOND);
    });
  });

  describe("an exit held hostage with dust disputes", function () {
    /**
     * The attacker (other) opens dust deals (1 base unit, no fee) naming the active gateway, paying its sock
     * puppet, which performs them all; one more dust deal was disputed before the gateway asked to exit.
     */
    async function dustFixture() {
      const p = await deployProtocol();
      const attacker = p.other;
      const puppet = p.rest[0];
      const dust: DealOut[] = [];
      for (let i = 0; i < 4; i++) {
        const d = await openedDeal(p, { payer: attacker.address, payee: puppet.address, amount: 1n });
        await p.escrow.connect(puppet).perform(d);
        dust.push(d);
      }
      return { ...p, attacker, puppet, dust };
    }

    before(async function () {
      const p = await loadFixture(dustFixture);
      expect(feeOf(1n, p.dust[0].feeBps)).to.equal(0n);
    });

    it("attack: disputing a dust deal right before each completeExit → not held (gatewayHolds=false, counter unchanged); the exit completes after the delay", async function () {
      // v1.0: every dispute counted against the gateway and completeExit required zero, so a fresh dust dispute
      // before each attempt kept its bond forever.
      const p = await loadFixture(dustFixture);
      const gw = p.gateway.address;
      await p.escrow.connect(p.attacker).dispute(p.dust[0]); // before the request: held, the gateway's to rule
      expect(await openDisputes(p)).to.equal(1n);
      await p.registry.connect(p.gateway).requestExit();
      const exitAt = (await p.registry.getGateway(gw)).exitAt;

      await expect(p.escrow.connect(p.attacker).dispute(p.dust[1]))
        .to.emit(p.escrow, "DealDisputed")
        .withArgs(dealIdOf(p.dust[1]), p.attacker.address, false);
      await expect(p.registry.connect(p.gateway).completeExit())
        .to.be.revertedWithCustomError(p.registry, "RegistryUnbonding")
        .withArgs(gw, exitAt);

      // The gateway rules the one dispute it holds, within its window.
      await p.escrow.connect(p.gateway).resolve(p.dust[0], 0n, NO_REASONS);
      expect(await openDisputes(p)).to.equal(0n);

      // The sock puppet disputes too, once its release window is over: not held either.
      await time.increase(RELEASE_WINDOW + 1);
      await expect(p.escrow.connect(p.puppet).dispute(p.dust[2]))
        .to.emit(p.escrow, "DealDisputed")
        .withArgs(dealIdOf(p.dust[2]), p.puppet.address, false);

      // Right before the exit: one more dispute, in the block before completeExit.
      await time.setNextBlockTimestamp(exitAt);
      await expect(p.escrow.connect(p.attacker).dispute(p.dust[3]))
        .to.emit(p.escrow, "DealDisputed")
        .withArgs(dealIdOf(p.dust[3]), p.attacker.address, false);
      expect(await openDisputes(p)).to.equal(0n);
      const tx = p.registry.connect(p.gateway).completeExit();
      await expect(tx).to.emit(p.registry, "GatewayExited").withArgs(gw, MIN_BOND);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.registry, p.gateway], [-MIN_BOND, MIN_BOND]);

      // The dust disputes are the arbiter's, at once; the gateway never rules them.
      for (const d of p.dust.slice(1)) {
        await expect(p.escrow.connect(p.gateway).resolve(d, 1n, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(d), gw);
        const ruling = p.escrow.connect(p.arbiter).resolve(d, 0n, NO_REASONS);
        await expect(ruling).to.emit(p.escrow, "DealResolved");
        await expect(ruling).not.to.emit(p.escrow, "DisputeCountSkipped");
      }
      await expectSolvent(p.escrow, p.usdt, {});
    });

    it("a dispute raised before the exit request holds the exit only until the gateway rules it", async function () {
      const p = await loadFixture(dustFixture);
      const gw = p.gateway.address;
      await p.escrow.connect(p.attacker).dispute(p.dust[0]);
      await p.registry.connect(p.gateway).requestExit();
      await time.increaseTo((await p.registry.getGateway(gw)).exitAt);
      await expect(p.registry.connect(p.gateway).completeExit())
        .to.be.revertedWithCustomError(p.registry, "RegistryGatewayHasDisputes")
        .withArgs(gw, 1n);
      // Past its window it may no longer rule; the arbiter does, and the exit follows.
      await expect(p.escrow.connect(p.gateway).resolve(p.dust[0], 0n, NO_REASONS)).to.be.revertedWithCustomError(
        p.escrow,
        "EscrowResolutionWindowClosed",
      );
      await p.escrow.connect(p.arbiter).resolve(p.dust[0], 0n, NO_REASONS);
      await expect(p.registry.connect(p.gateway).completeExit())
        .to.emit(p.registry, "GatewayExited")
        .withArgs(gw, MIN_BOND);
    });
  });

  describe("the lock delegate", function () {
    async function delegateLockFixture() {
      const p = await floatFixture();
      const d = await delegateDeal(p);
      return { ...p, d };
    }

    it("can lock the acceptor's float with a delegate's salt, within its bounds", async function () {
      const p = await loadFixture(delegateLockFixture);
      const id = dealIdOf(p.d);
      const tx = p.escrow.connect(p.delegate).lock(p.d, ethers.ZeroHash);
      await expect(tx)
        .to.emit(p.escrow, "DealOpened")
        .withArgs(id, p.acceptor.address, p.payee.address, dealTuple(p.d), ethers.ZeroHash);
      await expect(tx).to.emit(p.escrow, "DealLockedByDelegate").withArgs(id, p.delegate.address);
      await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(900), p.d.amount]] });
    });

    it("cannot lock beyond its bounds: a deadline past 7 days or a release window past 2 days", async function () {
      const p = await loadFixture(delegateLockFixture);
      const now = BigInt(await time.latest()) + 10n;
      const latest = now + BigInt(MAX_DELEGATE_LOCK_DURATION);
      const far = { ...p.d, deadline: latest + 1n };
      await time.setNextBlockTimestamp(now);
      await expect(p.escrow.connect(p.delegate).lock(far, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
        .withArgs(latest + 1n, latest);
      const slow = { ...p.d, releaseWindow: BigInt(MAX_DELEGATE_RELEASE_WINDOW) + 1n };
      await expect(p.escrow.connect(p.delegate).lock(slow, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidReleaseWindow")
        .withArgs(slow.releaseWindow);
      await expectFloatUntouched(p);
    });

    it("cannot open a wallet-funded deal in the acceptor's name", async function () {
      const p = await loadFixture(delegateLockFixture);
      const d = await makeDeal(p, { payer: p.acceptor.address, payee: p.delegate.address });
      await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), d.amount);
      await expect(p.escrow.connect(p.delegate).open(d, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(dealIdOf(d), p.delegate.address);
      await expectFloatUntouched(p);
    });

    describe("a compromised delegate locks all free float to an accomplice, who performs at once", function () {
      async function drainedFixture() {
        const p = await floatFixture();
        const accomplice = p.other;
        const d = await delegateDeal(p, { payee: accomplice.address, amount: USDT(1_000) });
        await p.escrow.connect(p.delegate).lock(d, ethers.ZeroHash);
        await p.escrow.connect(accomplice).perform(d);
        const expiry = await p.escrow.lockExpiry(d);
        return { ...p, accomplice, d, expiry };
      }

      before(async function () {
        const p = await loadFixture(drainedFixture);
        expect(p.expiry).to.equal(p.d.deadline + p.d.releaseWindow + BigInt(RESOLUTION_WINDOW));
        await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, 0n, USDT(1_000)]] });
      });

      it("attack: the delegate tries to release, cancel, dispute or withdraw → refused every time", async function () {
        // v1.0: the delegate's lock had no end once its accomplice performed; the float stayed locked until the
        // acceptor gave in.
        const p = await loadFixture(drainedFixture);
        const id = dealIdOf(p.d);
        const usdt = await p.usdt.getAddress();
        const del = p.escrow.connect(p.delegate);
        for (const call of [del.release, del.cancel, del.dispute, del.claim]) {
          await expect(call(p.d))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(id, p.delegate.address);
        }
        // withdrawFloat draws on the caller's own float: the delegate has none, and no call names the acceptor's.
        await expect(del.withdrawFloat(usdt, USDT(1_000)))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.delegate.address, usdt, 0n, USDT(1_000));
        // Its signatures do not stand in for the acceptor's, under its name or the acceptor's.
        const release = await signAction(p.escrow, p.delegate, id, Action.Release);
        await expect(del.actWithSig(p.d, Action.Release, p.delegate.address, release))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, p.delegate.address);
        await expect(del.actWithSig(p.d, Action.Release, p.acceptor.address, release))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.acceptor.address);
        const perform = await signAction(p.escrow, p.accomplice, id, Action.Perform);
        await expect(del.settleWithSigs(p.d, perform, release))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.acceptor.address);
        const split = await signSplit(p.escrow, p.delegate, id, p.d.amount);
        const accompliceSplit = await signSplit(p.escrow, p.accomplice, id, p.d.amount);
        await expect(del.splitWithSigs(p.d, p.d.amount, split, accompliceSplit))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.acceptor.address);
        expect(await statusOf(p.escrow, id)).to.equal(Status.Performed);
        await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, 0n, USDT(1_000)]] });
      });

      it("the float comes back at lockExpiry without anyone's help: refund reverts before it, then anyone refunds (LockExpired)", async function () {
        const p = await loadFixture(drainedFixture);
        const id = dealIdOf(p.d);
        const usdt = await p.usdt.getAddress();
        await time.setNextBlockTimestamp(p.expiry);
        await expect(p.escrow.connect(p.rest[1]).refund(p.d))
          .to.be.revertedWithCustomError(p.escrow, "EscrowLockNotExpired")
          .withArgs(id, p.expiry);
        const tx = p.escrow.connect(p.rest[1]).refund(p.d);
        await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.LockExpired);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.accomplice], [0n, 0n]);
        await expectFloatUntouched(p);
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(1_000))).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.acceptor],
          [-USDT(1_000), USDT(1_000)],
        );
        // The accomplice can do nothing with it any more.
        await expect(p.escrow.connect(p.accomplice).dispute(p.d))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Refunded);
      });

      it("the accomplice's dispute that the gateway never rules ends at lockExpiry too, and is uncounted", async function () {
        const p = await loadFixture(drainedFixture);
        const id = dealIdOf(p.d);
        await time.increase(Number(p.d.releaseWindow) + 1);
        await expect(p.escrow.connect(p.accomplice).dispute(p.d))
          .to.emit(p.escrow, "DealDisputed")
          .withArgs(id, p.accomplice.address, true);
        expect(await openDisputes(p)).to.equal(1n);
        await time.increaseTo(p.expiry + 1n);
        const tx = p.escrow.refund(p.d);
        await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.LockExpired);
        await expect(tx).to.emit(p.registry, "GatewayDisputesChanged").withArgs(p.gateway.address, 0n);
        await expectFloatUntouched(p);
      });
    });
  });
});
