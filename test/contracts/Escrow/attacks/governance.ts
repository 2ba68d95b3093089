import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { ethers } from "hardhat";

import { AcceptorStatus, Action, approveExactly, dealIdOf, deployProtocol, depositFloat, feeOf } from "../../fixtures";
import { Kind, loadFixture, makeDeal, MIN_BOND, openDeal, RefundReason, RELEASE_WINDOW } from "../../fixtures";
import { RESOLUTION_WINDOW, signAction, signSplit, Status, UNBONDING_DELAY, USDT, type DealOut } from "../../fixtures";
import type { Protocol } from "../../fixtures";
import { approvedDeal, delegateDeal, expectSolvent, impersonate, inSnapshot, lockedRamp } from "../shared/attacks";
import { NO_REASONS, openDisputes, performAndDispute, REASONS, settle, twoGatewaysFixture } from "../shared/attacks";
import type { Liabilities } from "../shared/attacks";

describe("Escrow attacks: griefing by registration", function () {
  /** Gas of one lock by the approved acceptor (a fresh salt, the same shape every time). */
  async function lockGas(p: Protocol): Promise<bigint> {
    const d = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
    const receipt = await (await p.escrow.connect(p.acceptor).lock(d, ethers.ZeroHash)).wait();
    return receipt!.gasUsed;
  }

  it("attack: anyone registers many pending acceptors (with a delegate of its own) → none can lock, deposit or be an off-ramp payee until its gateway approves", async function () {
    const p = await loadFixture(deployProtocol);
    const usdt = await p.usdt.getAddress();
    const gw = p.gateway.address;
    const attacker = p.other;
    await depositFloat(p, USDT(1_000));
    const gasBefore = await lockGas(p);
    const countBefore = await p.registry.acceptorCount();

    const pending: HardhatEthersSigner[] = [];
    for (let i = 0; i < 12; i++) {
      const acc = await impersonate(ethers.Wallet.createRandom().address);
      await expect(p.registry.connect(acc).registerAcceptor(gw, attacker.address))
        .to.emit(p.registry, "AcceptorRegistered")
        .withArgs(acc.address, gw, attacker.address);
      // A pending record may set up its limits, methods and delegate: none of it gives it any power.
      await p.registry.connect(acc).setLimits(usdt, USDT(1), USDT(10_000));
      await p.usdt.connect(p.admin).mint(acc.address, USDT(100));
      await approveExactly(p.usdt, acc, await p.escrow.getAddress(), USDT(100));
      pending.push(acc);
    }
    expect(await p.registry.acceptorCount()).to.equal(countBefore + 12n);

    for (const acc of pending) {
      expect((await p.registry.getAcceptor(acc.address)).status).to.equal(AcceptorStatus.Pending);
      const own = await makeDeal(p, { payer: acc.address, kind: BigInt(Kind.OnRamp) });
      await expect(p.escrow.connect(acc).lock(own, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
        .withArgs(acc.address, AcceptorStatus.Pending);
      const byDelegate = await delegateDeal(p, { payer: acc.address, payee: attacker.address });
      await expect(p.escrow.connect(attacker).lock(byDelegate, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
        .withArgs(acc.address, AcceptorStatus.Pending);
      await expect(p.escrow.connect(acc).depositFloat(usdt, USDT(100)))
        .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
        .withArgs(acc.address, AcceptorStatus.Pending);
      const offRamp = await makeDeal(p, { payee: acc.address, kind: BigInt(Kind.OffRamp) });
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), offRamp.amount);
      await expect(p.escrow.connect(p.payer).open(offRamp, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
        .withArgs(acc.address, AcceptorStatus.Pending);
    }

    // Nothing on-chain iterates the registrations: the honest acceptor's lock costs what it did.
    const gasAfter = await lockGas(p);
    expect(Number(gasAfter - gasBefore)).to.be.within(-200, 200);
    // The gateway's approval is the gate: once approved, one of them can deposit.
    await p.registry.connect(p.gateway).approveAcceptor(pending[0].address);
    await expect(p.escrow.connect(pending[0]).depositFloat(usdt, USDT(100)))
      .to.emit(p.escrow, "FloatDeposited")
      .withArgs(pending[0].address, usdt, USDT(100));
  });

  it("registrations stop while paused and under a suspended gateway", async function () {
    const p = await loadFixture(deployProtocol);
    const gw = p.gateway.address;
    await p.registry.connect(p.governor).suspendGateway(gw);
    await expect(p.registry.connect(p.other).registerAcceptor(gw, ethers.ZeroAddress))
      .to.be.revertedWithCustomError(p.registry, "RegistryGatewaySuspended")
      .withArgs(gw);
    await p.registry.connect(p.governor).reinstateGateway(gw);
    await p.registry.connect(p.pauser).pause();
    await expect(p.registry.connect(p.other).registerAcceptor(gw, ethers.ZeroAddress)).to.be.revertedWithCustomError(
      p.registry,
      "RegistryPaused",
    );
  });
});

describe("Escrow attacks: governance cannot block exits", function () {
  /**
   * Deals and balances set up in normal times, then every governance switch thrown at once: new business paused
   * (PAUSER_ROLE), every token disallowed, every gateway and the acceptor suspended (GOVERNOR_ROLE), and the
   * arbiter's role revoked (DEFAULT_ADMIN_ROLE), so nobody may rule any dispute.
   */
  async function lockdownFixture() {
    const p = await twoGatewaysFixture();
    await depositFloat(p, USDT(1_000));
    const onRamp = await lockedRamp(p);
    const delegated = await delegateDeal(p);
    await p.escrow.connect(p.delegate).lock(delegated, ethers.ZeroHash);
    await p.escrow.connect(p.payee).perform(delegated);
    const [refundable, cancellable, mutual, signed, splittable, pair, disputed, settled] = await Promise.all(
      Array.from({ length: 8 }, () => makeDeal(p)),
    );
    const auto = await makeDeal(p, { autoRelease: true });
    for (const d of [refundable, cancellable, mutual, signed, splittable, pair, disputed, settled, auto]) {
      await openDeal(p, d);
    }
    await settle(p, settled);
    await performAndDispute(p, disputed);
    for (const d of [splittable, pair, auto]) await p.escrow.connect(p.payee).perform(d);
    const settledFee = feeOf(settled.amount, settled.feeBps);

    await p.registry.connect(p.pauser).pause();
    for (const token of [await p.usdt.getAddress(), await p.dai.getAddress()]) {
      await p.registry.connect(p.governor).setTokenAllowed(token, false);
    }
    for (const gw of [p.gateway, p.gateway2]) await p.registry.connect(p.governor).suspendGateway(gw.address);
    await p.registry.connect(p.governor).suspendAcceptor(p.acceptor.address);
    await p.registry.connect(p.admin).revokeRole(await p.registry.ARBITER_ROLE(), p.arbiter.address);
    const open = [refundable, cancellable, mutual, signed, splittable, pair, disputed, auto];
    return {
      ...p,
      onRamp,
      delegated,
      open,
      refundable,
      cancellable,
      mutual,
      signed,
      splittable,
      pair,
      disputed,
      auto,
      settledFee,
    };
  }
  type L = Awaited<ReturnType<typeof lockdownFixture>>;

  /** Liabilities after the lockdown, less the deals a test settled and the float and fees it moved. */
  function remaining(p: L, gone: DealOut[], extra: { owedGateway?: bigint; free?: bigint; locked?: bigint } = {}) {
    return {
      openDeals: p.open.filter((d) => !gone.includes(d)),
      owed: { [p.gateway.address]: extra.owedGateway ?? p.settledFee },
      floats: [[p.acceptor.address, extra.free ?? USDT(800), extra.locked ?? USDT(200)]],
    } as Liabilities;
  }

  /** `tx` refunded `deal` whole to the payer for `reason`, and the escrow still holds exactly the rest. */
  async function expectRefundedInLockdown(p: L, tx: Promise<unknown>, deal: DealOut, reason: number) {
    await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(dealIdOf(deal), reason);
    await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-deal.amount, deal.amount]);
    await expectSolvent(p.escrow, p.usdt, remaining(p, [deal]));
  }

  before(async function () {
    const p = await loadFixture(lockdownFixture);
    expect(await p.registry.paused()).to.equal(true);
    expect(await p.registry.isTokenAllowed(await p.usdt.getAddress())).to.equal(false);
    expect(await p.registry.canRule(p.gateway.address)).to.equal(false);
    expect(await p.registry.isArbiter(p.arbiter.address)).to.equal(false);
    expect(await openDisputes(p)).to.equal(1n);
    await expectSolvent(p.escrow, p.usdt, remaining(p, []));
  });

  it("new business is blocked: open, lock, delegate lock and deposit", async function () {
    const p = await loadFixture(lockdownFixture);
    const d = await approvedDeal(p);
    await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash)).to.be.revertedWithCustomError(
      p.registry,
      "RegistryPaused",
    );
    const lockD = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
    await expect(p.escrow.connect(p.acceptor).lock(lockD, ethers.ZeroHash)).to.be.revertedWithCustomError(
      p.registry,
      "RegistryPaused",
    );
    await expect(
      p.escrow.connect(p.delegate).lock(await delegateDeal(p), ethers.ZeroHash),
    ).to.be.revertedWithCustomError(p.registry, "RegistryPaused");
    await expect(
      p.escrow.connect(p.acceptor).depositFloat(await p.usdt.getAddress(), d.amount),
    ).to.be.revertedWithCustomError(p.registry, "RegistryPaused");
    await expectSolvent(p.escrow, p.usdt, remaining(p, []));
  });

  it("refund after the deadline works", async function () {
    const p = await loadFixture(lockdownFixture);
    await time.increaseTo(p.refundable.deadline + 1n);
    const tx = p.escrow.connect(p.other).refund(p.refundable);
    await expectRefundedInLockdown(p, tx, p.refundable, RefundReason.Deadline);
  });

  it("payee cancel works", async function () {
    const p = await loadFixture(lockdownFixture);
    const tx = p.escrow.connect(p.payee).cancel(p.cancellable);
    await expectRefundedInLockdown(p, tx, p.cancellable, RefundReason.PayeeCancel);
  });

  it("release works, directly and by settleWithSigs, and so does an on-ramp release (the suspended gateway keeps the agreed fee)", async function () {
    const p = await loadFixture(lockdownFixture);
    const fee = feeOf(p.mutual.amount, p.mutual.feeBps);
    await p.escrow.connect(p.payee).perform(p.mutual);
    const tx = p.escrow.connect(p.payer).release(p.mutual);
    await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(p.mutual));
    await expect(tx).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.payee],
      [-(p.mutual.amount - fee), p.mutual.amount - fee],
    );

    const id = dealIdOf(p.signed);
    const perform = await signAction(p.escrow, p.payee, id, Action.Perform);
    const release = await signAction(p.escrow, p.payer, id, Action.Release);
    await expect(p.escrow.connect(p.other).settleWithSigs(p.signed, perform, release)).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.payee],
      [-(p.signed.amount - fee), p.signed.amount - fee],
    );

    await p.escrow.connect(p.payee).perform(p.onRamp);
    await expect(p.escrow.connect(p.acceptor).release(p.onRamp)).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.payee],
      [-(p.onRamp.amount - fee), p.onRamp.amount - fee],
    );
    await expectSolvent(
      p.escrow,
      p.usdt,
      remaining(p, [p.mutual, p.signed], { owedGateway: p.settledFee + 3n * fee, locked: p.delegated.amount }),
    );
  });

  it("split and cancel by both parties' signatures work", async function () {
    const p = await loadFixture(lockdownFixture);
    const sid = dealIdOf(p.splittable);
    const payeeAmount = USDT(35);
    const fee = feeOf(payeeAmount, p.splittable.feeBps);
    const split = p.escrow
      .connect(p.other)
      .splitWithSigs(
        p.splittable,
        payeeAmount,
        await signSplit(p.escrow, p.payer, sid, payeeAmount),
        await signSplit(p.escrow, p.payee, sid, payeeAmount),
      );
    await expect(split)
      .to.emit(p.escrow, "DealSplit")
      .withArgs(sid, payeeAmount - fee, fee, p.splittable.amount - payeeAmount);
    await expect(split).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.payee, p.payer],
      [-(p.splittable.amount - fee), payeeAmount - fee, p.splittable.amount - payeeAmount],
    );

    const cid = dealIdOf(p.pair);
    const cancel = p.escrow
      .connect(p.other)
      .cancelWithSigs(
        p.pair,
        await signAction(p.escrow, p.payer, cid, Action.Cancel),
        await signAction(p.escrow, p.payee, cid, Action.Cancel),
      );
    await expect(cancel).to.emit(p.escrow, "DealRefunded").withArgs(cid, RefundReason.MutualCancel);
    await expect(cancel).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-p.pair.amount, p.pair.amount]);
    await expectSolvent(p.escrow, p.usdt, remaining(p, [p.splittable, p.pair], { owedGateway: p.settledFee + fee }));
  });

  it("the payee's claim of an autoRelease payment works", async function () {
    const p = await loadFixture(lockdownFixture);
    const fee = feeOf(p.auto.amount, p.auto.feeBps);
    await time.increase(RELEASE_WINDOW + 1);
    await expect(p.escrow.connect(p.payee).claim(p.auto)).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.payee],
      [-(p.auto.amount - fee), p.auto.amount - fee],
    );
    await expectSolvent(p.escrow, p.usdt, remaining(p, [p.auto], { owedGateway: p.settledFee + fee }));
  });

  it("withdrawFloat of the free float works, and a cancelled lock returns to it", async function () {
    const p = await loadFixture(lockdownFixture);
    const usdt = await p.usdt.getAddress();
    await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(800))).to.changeTokenBalances(
      p.usdt,
      [p.escrow, p.acceptor],
      [-USDT(800), USDT(800)],
    );
    await expect(p.escrow.connect(p.payee).cancel(p.onRamp))
      .to.emit(p.escrow, "DealRefunded")
      .withArgs(dealIdOf(p.onRamp), RefundReason.PayeeCancel);
    await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, p.onRamp.amount))
      .to.emit(p.escrow, "FloatWithdrawn")
      .withArgs(p.acceptor.address, usdt, p.onRamp.amount);
    await expectSolvent(p.escrow, p.usdt, remaining(p, [], { free: 0n, locked: p.delegated.amount }));
  });

  it("a delegate's lock returns to the float at its expiry", async function () {
    const p = await loadFixture(lockdownFixture);
    await time.increaseTo((await p.escrow.lockExpiry(p.delegated)) + 1n);
    await expect(p.escrow.connect(p.other).refund(p.delegated))
      .to.emit(p.escrow, "DealRefunded")
      .withArgs(dealIdOf(p.delegated), RefundReason.LockExpired);
    await expectSolvent(p.escrow, p.usdt, remaining(p, [], { free: USDT(900), locked: p.onRamp.amount }));
  });

  it("claimOwed works", async function () {
    const p = await loadFixture(lockdownFixture);
    const usdt = await p.usdt.getAddress();
    const tx = p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address);
    await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.gateway.address, p.settledFee);
    await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.gateway], [-p.settledFee, p.settledFee]);
    await expectSolvent(p.escrow, p.usdt, remaining(p, [], { owedGateway: 0n }));
  });

  it("a held dispute nobody may rule (gateway suspended, arbiter revoked) still ends: release, cancel, split or cancel by signatures", async function () {
    const p = await loadFixture(lockdownFixture);
    const id = dealIdOf(p.disputed);
    const amount = p.disputed.amount;
    const fee = feeOf(amount, p.disputed.feeBps);
    for (const caller of [p.gateway, p.arbiter]) {
      await expect(p.escrow.connect(caller).resolve(p.disputed, 0n, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, caller.address);
    }
    const exits: Array<[string, () => Promise<ContractTransactionResponse>, bigint, bigint, bigint]> = [
      ["release", () => p.escrow.connect(p.payer).release(p.disputed), amount - fee, 0n, fee],
      ["cancel", () => p.escrow.connect(p.payee).cancel(p.disputed), 0n, amount, 0n],
      [
        "split",
        async () =>
          p.escrow.splitWithSigs(
            p.disputed,
            USDT(50),
            await signSplit(p.escrow, p.payer, id, USDT(50)),
            await signSplit(p.escrow, p.payee, id, USDT(50)),
          ),
        USDT(50) - feeOf(USDT(50), p.disputed.feeBps),
        USDT(50),
        feeOf(USDT(50), p.disputed.feeBps),
      ],
      [
        "cancelWithSigs",
        async () =>
          p.escrow.cancelWithSigs(
            p.disputed,
            await signAction(p.escrow, p.payer, id, Action.Cancel),
            await signAction(p.escrow, p.payee, id, Action.Cancel),
          ),
        0n,
        amount,
        0n,
      ],
    ];
    for (const [name, exit, toPayee, toPayer, toGateway] of exits) {
      await inSnapshot(async () => {
        const tx = exit();
        await expect(tx, name).to.emit(p.registry, "GatewayDisputesChanged").withArgs(p.gateway.address, 0n);
        await expect(tx, name).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.payee, p.payer],
          [-(toPayee + toPayer), toPayee, toPayer],
        );
        await expectSolvent(p.escrow, p.usdt, remaining(p, [p.disputed], { owedGateway: p.settledFee + toGateway }));
      });
    }
  });

  it("with the escrow's ESCROW_ROLE revoked too, a held dispute still ends (the uncount is skipped and reported)", async function () {
    const p = await loadFixture(lockdownFixture);
    const id = dealIdOf(p.disputed);
    await p.registry.connect(p.admin).revokeRole(await p.registry.ESCROW_ROLE(), await p.escrow.getAddress());
    const tx = p.escrow.connect(p.payee).cancel(p.disputed);
    await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.PayeeCancel);
    await expect(tx).to.emit(p.escrow, "DisputeCountSkipped").withArgs(id, p.gateway.address, false);
    await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-p.disputed.amount, p.disputed.amount]);
    expect(await openDisputes(p)).to.equal(1n); // drift the audit command reports
    await expectSolvent(p.escrow, p.usdt, remaining(p, [p.disputed]));
  });

  describe("each governance role's worst case (IGatewayRegistry NatSpec)", function () {
    it("DEFAULT_ADMIN_ROLE: granting itself every role, it still moves no deal money and no float", async function () {
      const p = await loadFixture(twoGatewaysFixture);
      const usdt = await p.usdt.getAddress();
      await depositFloat(p, USDT(1_000));
      const d = await makeDeal(p);
      const id = dealIdOf(d);
      await openDeal(p, d);
      await p.escrow.connect(p.payee).perform(d);
      for (const role of ["GOVERNOR_ROLE", "PAUSER_ROLE", "ARBITER_ROLE", "ESCROW_ROLE"] as const) {
        await p.registry.connect(p.admin).grantRole(await p.registry[role](), p.admin.address);
      }
      const before = await p.usdt.balanceOf(await p.escrow.getAddress());
      const a = p.escrow.connect(p.admin);
      for (const call of [a.release, a.cancel, a.perform, a.dispute, a.claim]) {
        await expect(call(d))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, p.admin.address);
      }
      await expect(a.resolve(d, d.amount, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Performed);
      await expect(a.withdrawFloat(usdt, USDT(1)))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
        .withArgs(p.admin.address, usdt, 0n, USDT(1));
      await expect(a.claimOwed(usdt, p.admin.address))
        .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
        .withArgs(usdt, p.admin.address);
      // Its ESCROW_ROLE moves a counter in the registry, nothing in the escrow.
      await p.registry.connect(p.admin).noteDisputeOpened(p.gateway.address);
      expect(await p.usdt.balanceOf(await p.escrow.getAddress())).to.equal(before);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [d], floats: [[p.acceptor.address, USDT(1_000), 0n]] });
    });

    it("GOVERNOR_ROLE: slashing every bond and suspending every gateway takes only the bonds; deals still settle and the arbiter rules at once", async function () {
      const p = await loadFixture(twoGatewaysFixture);
      const agreed = await makeDeal(p);
      const disputed = await makeDeal(p);
      await openDeal(p, agreed);
      await openDeal(p, disputed);
      await performAndDispute(p, disputed);
      const escrowBefore = await p.usdt.balanceOf(await p.escrow.getAddress());
      for (const gw of [p.gateway, p.gateway2]) {
        await expect(p.registry.connect(p.governor).slashGateway(gw.address, MIN_BOND, p.governor.address))
          .to.emit(p.registry, "GatewaySlashed")
          .withArgs(gw.address, p.governor.address, MIN_BOND, 0n);
        await p.registry.connect(p.governor).suspendGateway(gw.address);
      }
      expect(await p.usdt.balanceOf(await p.escrow.getAddress())).to.equal(escrowBefore);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [agreed, disputed] });

      await settle(p, agreed);
      const id = dealIdOf(disputed);
      await expect(p.escrow.connect(p.arbiter).resolve(disputed, USDT(10), REASONS))
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.arbiter.address, USDT(10), 0n, disputed.amount - USDT(10), REASONS);
      await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: feeOf(agreed.amount, agreed.feeBps) } });
    });

    it("ARBITER_ROLE: splits a dispute between payer and payee only, never above the amount, never an undisputed deal, never inside a holding gateway's window, and without fee", async function () {
      const p = await loadFixture(twoGatewaysFixture);
      const d = await makeDeal(p);
      const id = dealIdOf(d);
      await openDeal(p, d);
      await expect(p.escrow.connect(p.arbiter).resolve(d, 0n, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Open);
      await performAndDispute(p, d);
      const endsAt = (await p.escrow.getDeal(id)).since + BigInt(RESOLUTION_WINDOW);
      await expect(p.escrow.connect(p.arbiter).resolve(d, 0n, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowResolutionWindowOpen")
        .withArgs(id, endsAt);
      await time.increaseTo(endsAt + 1n);
      await expect(p.escrow.connect(p.arbiter).resolve(d, d.amount + 1n, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowPayeeAmountTooHigh")
        .withArgs(id, d.amount + 1n, d.amount);
      const tx = p.escrow.connect(p.arbiter).resolve(d, d.amount, NO_REASONS);
      await expect(tx).to.emit(p.escrow, "DealResolved").withArgs(id, p.arbiter.address, d.amount, 0n, 0n, NO_REASONS);
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee, p.payer, p.arbiter, p.gateway],
        [-d.amount, d.amount, 0n, 0n, 0n],
      );
      await expectSolvent(p.escrow, p.usdt, {
        owed: { [p.arbiter.address]: 0n, [p.gateway.address]: 0n },
      });
    });

    it("ESCROW_ROLE given to a key: inflating the counter while the gateway is active keeps it from exiting", async function () {
      const p = await loadFixture(deployProtocol);
      const key = p.rest[2];
      const gw = p.gateway.address;
      await p.registry.connect(p.admin).grantRole(await p.registry.ESCROW_ROLE(), key.address);
      await p.registry.connect(key).noteDisputeOpened(gw);
      await p.registry.connect(p.gateway).requestExit();
      // Once the gateway is exiting the key can no longer count disputes for it.
      expect(await p.registry.connect(key).noteDisputeOpened.staticCall(gw)).to.equal(false);
      await time.increase(UNBONDING_DELAY);
      await expect(p.registry.connect(p.gateway).completeExit())
        .to.be.revertedWithCustomError(p.registry, "RegistryGatewayHasDisputes")
        .withArgs(gw, 1n);
      await expectSolvent(p.escrow, p.usdt, {});
    });

    it("ESCROW_ROLE given to a key: it can let a gateway exit with a held dispute, which then passes to the arbiter", async function () {
      const p = await loadFixture(deployProtocol);
      const key = p.rest[2];
      const gw = p.gateway.address;
      const d = await makeDeal(p);
      const id = dealIdOf(d);
      await openDeal(p, d);
      await performAndDispute(p, d);
      await p.registry.connect(p.admin).grantRole(await p.registry.ESCROW_ROLE(), key.address);
      await p.registry.connect(key).noteDisputeClosed(gw);
      await p.registry.connect(p.gateway).requestExit();
      await time.increase(UNBONDING_DELAY);
      await expect(p.registry.connect(p.gateway).completeExit())
        .to.emit(p.registry, "GatewayExited")
        .withArgs(gw, MIN_BOND);

      await expect(p.escrow.connect(p.gateway).resolve(d, d.amount, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, gw);
      const tx = p.escrow.connect(p.arbiter).resolve(d, USDT(50), NO_REASONS);
      await expect(tx)
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.arbiter.address, USDT(50), 0n, USDT(50), NO_REASONS);
      await expect(tx).to.emit(p.escrow, "DisputeCountSkipped").withArgs(id, gw, false);
      await expectSolvent(p.escrow, p.usdt, {});
    });
  });
});
