import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import { AcceptorStatus, DAY, dealIdOf, GATEWAY_FEE_BPS, Kind, loadFixture, MAX_DEAL_DURATION } from "../fixtures";
import { MAX_DELEGATE_LOCK_DURATION, MAX_DELEGATE_RELEASE_WINDOW, MAX_RELEASE_WINDOW } from "../fixtures";
import { nextDelegateSalt, nextSalt, RESOLUTION_WINDOW, signOpen, Status, USDT, type DealOut } from "../fixtures";
import type { Protocol } from "../fixtures";
import { beforeCheckingTheDelegateSaltPrefix, expectDelegateLockEvents, expectFloat } from "./shared/opening";
import { expectOpenRecord, FLOAT, itIsRefusedByTheRegistry, lockSigned, makeDelegateLockDeal } from "./shared/opening";
import { makeLockDeal, nearDelegateSalt, REF, REF2, registerGateway, statusOf, structHash } from "./shared/opening";
import { tuple, withFloat, withSecondAcceptor } from "./shared/opening";

/** `by` locks `deal` for the fixture acceptor, with `ref`. */
function lockAs(p: Protocol, by: HardhatEthersSigner, deal: DealOut, ref = REF) {
  return p.escrow.connect(by).lock(deal, ref);
}

describe("Escrow.lock", function () {
  beforeCheckingTheDelegateSaltPrefix();

  describe("validations", function () {
    it("when the caller is neither the acceptor nor its delegate → it reverts EscrowUnauthorized (whatever the salt)", async function () {
      const p = await loadFixture(withFloat);
      for (const deal of [await makeLockDeal(p), await makeDelegateLockDeal(p)]) {
        for (const s of [p.other, p.payee, p.gateway]) {
          await expect(lockAs(p, s, deal))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(dealIdOf(deal), s.address);
        }
      }
    });

    it("when the caller is a replaced delegate → it reverts EscrowUnauthorized (the delegate is read at lock time)", async function () {
      const p = await loadFixture(withFloat);
      await p.registry.connect(p.acceptor).setLockDelegate(p.other.address);
      const deal = await makeDelegateLockDeal(p);
      await expect(lockAs(p, p.delegate, deal))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(dealIdOf(deal), p.delegate.address);
      await lockAs(p, p.other, deal);
      expect(await statusOf(p, deal)).to.equal(Status.Open);
    });

    it("when the caller is another acceptor's delegate → it reverts EscrowUnauthorized", async function () {
      const p = await loadFixture(withSecondAcceptor);
      const deal = await makeDelegateLockDeal(p, { payer: p.acc2.address });
      await expect(lockAs(p, p.delegate, deal))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(dealIdOf(deal), p.delegate.address);
    });

    it("when the kind is not OnRamp or autoRelease is set → it reverts EscrowInvalidKind", async function () {
      const p = await loadFixture(withFloat);
      const cases: [number, boolean][] = [
        [Kind.OnRamp, true],
        [Kind.Payment, false],
        [Kind.Payment, true],
        [Kind.OffRamp, false],
      ];
      for (const [kind, autoRelease] of cases) {
        const deal = await makeLockDeal(p, { kind, autoRelease });
        await expect(lockAs(p, p.acceptor, deal))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidKind")
          .withArgs(kind, autoRelease);
      }
    });

    it("when the parties overlap or the fee differs → it reverts as open does (EscrowInvalidParties, EscrowFeeMismatch)", async function () {
      const p = await loadFixture(withFloat);
      const self = await makeLockDeal(p, { payee: p.acceptor.address });
      await expect(lockAs(p, p.acceptor, self))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidParties")
        .withArgs(p.acceptor.address, p.acceptor.address, p.gateway.address);
      const fee = await makeLockDeal(p, { feeBps: 0 });
      await expect(lockAs(p, p.acceptor, fee))
        .to.be.revertedWithCustomError(p.escrow, "EscrowFeeMismatch")
        .withArgs(p.gateway.address, 0, GATEWAY_FEE_BPS);
      const delegateFee = await makeDelegateLockDeal(p, { feeBps: 0 });
      await expect(lockAs(p, p.delegate, delegateFee))
        .to.be.revertedWithCustomError(p.escrow, "EscrowFeeMismatch")
        .withArgs(p.gateway.address, 0, GATEWAY_FEE_BPS);
    });

    it("when the amount is above the free float → it reverts EscrowInsufficientFloat", async function () {
      const p = await loadFixture(withFloat);
      const usdt = await p.usdt.getAddress();
      const big = await makeLockDeal(p, { amount: FLOAT + 1n });
      await expect(lockAs(p, p.acceptor, big))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
        .withArgs(p.acceptor.address, usdt, FLOAT, FLOAT + 1n);

      const first = await makeLockDeal(p, { amount: USDT(600) });
      await lockAs(p, p.acceptor, first);
      const second = await makeDelegateLockDeal(p, { amount: USDT(500) });
      await expect(lockAs(p, p.delegate, second))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
        .withArgs(p.acceptor.address, usdt, USDT(400), USDT(500));

      // the float of another token does not count
      const dai = await makeLockDeal(p, { token: await p.dai.getAddress(), amount: ethers.parseEther("100") });
      await expect(lockAs(p, p.acceptor, dai))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
        .withArgs(p.acceptor.address, await p.dai.getAddress(), 0, ethers.parseEther("100"));
    });

    it("when the amount equals the free float → it locks it all", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p, { amount: FLOAT });
      await lockAs(p, p.acceptor, deal);
      await expectFloat(p, 0n, FLOAT);
    });

    it("when the amount is outside the acceptor's limits → it reverts EscrowAmountOutOfLimits", async function () {
      const p = await loadFixture(withFloat);
      for (const amount of [USDT(10) - 1n, USDT(50_000) + 1n]) {
        const deal = await makeLockDeal(p, { amount });
        await expect(lockAs(p, p.acceptor, deal))
          .to.be.revertedWithCustomError(p.escrow, "EscrowAmountOutOfLimits")
          .withArgs(p.acceptor.address, amount, USDT(10), USDT(50_000));
      }
    });

    it("when the acceptor is suspended → it reverts RegistryAcceptorWrongStatus for acceptor and delegate (the float stays put)", async function () {
      const p = await loadFixture(withFloat);
      await p.registry.connect(p.governor).suspendAcceptor(p.acceptor.address);
      for (const [s, deal] of [
        [p.acceptor, await makeLockDeal(p)],
        [p.delegate, await makeDelegateLockDeal(p)],
      ] as const) {
        await expect(lockAs(p, s, deal))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(p.acceptor.address, AcceptorStatus.Suspended);
      }
      const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
      expect(f.free).to.equal(FLOAT);
    });

    it("when the payer is no acceptor → it reverts RegistryAcceptorWrongStatus", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p, { payer: p.other.address });
      await expect(lockAs(p, p.other, deal))
        .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
        .withArgs(p.other.address, AcceptorStatus.None);
    });

    it("when the acceptor is registered under another gateway → it reverts RegistryAcceptorGatewayMismatch", async function () {
      const p = await loadFixture(withFloat);
      await registerGateway(p, p.gateway2);
      const deal = await makeLockDeal(p, { gateway: p.gateway2.address });
      await expect(lockAs(p, p.acceptor, deal))
        .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorGatewayMismatch")
        .withArgs(p.acceptor.address, p.gateway.address, p.gateway2.address);
    });

    describe("when the registry refuses the acceptor's lock", function () {
      itIsRefusedByTheRegistry(withFloat, async (p) => {
        const deal = await makeLockDeal(p);
        return () => lockAs(p, p.acceptor, deal);
      });
    });

    describe("when the registry refuses the delegate's lock", function () {
      itIsRefusedByTheRegistry(withFloat, async (p) => {
        const deal = await makeDelegateLockDeal(p);
        return () => lockAs(p, p.delegate, deal);
      });
    });

    it("when the acceptor repeats a salt → it reverts EscrowDealExists; so does the delegate", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p);
      await lockAs(p, p.acceptor, deal);
      await expect(p.escrow.connect(p.acceptor).lock({ ...deal, amount: USDT(20) }, REF))
        .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
        .withArgs(dealIdOf(deal));
      const byDelegate = await makeDelegateLockDeal(p);
      await lockAs(p, p.delegate, byDelegate);
      await expect(p.escrow.connect(p.delegate).lock({ ...byDelegate, amount: USDT(20) }, REF))
        .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
        .withArgs(dealIdOf(byDelegate));
    });
  });

  describe("salts: delegate locks never take an id the acceptor planned", function () {
    it("when the acceptor locks with a salt with DELEGATE_SALT_PREFIX → it reverts EscrowInvalidSalt", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeDelegateLockDeal(p);
      await expect(lockAs(p, p.acceptor, deal))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(deal.salt);
      expect(await statusOf(p, deal)).to.equal(Status.None);
    });

    it("when the delegate locks with a salt without DELEGATE_SALT_PREFIX → it reverts EscrowInvalidSalt", async function () {
      const p = await loadFixture(withFloat);
      for (const salt of [nextSalt(), ethers.ZeroHash, nearDelegateSalt()]) {
        const deal = await makeLockDeal(p, { salt });
        await expect(lockAs(p, p.delegate, deal))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
          .withArgs(salt);
      }
      const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
      expect(f.free).to.equal(FLOAT);
    });

    it("when the delegate front-runs the acceptor's signed lock with its salt → it reverts EscrowInvalidSalt, a prefixed salt gives it another id, and the acceptor's lock lands on its planned id", async function () {
      const p = await loadFixture(withFloat);
      const planned = await makeLockDeal(p, { amount: USDT(100) });
      const plannedId = dealIdOf(planned);
      const auth = await signOpen(p.escrow, p.acceptor, planned, REF, "Lock");

      // the delegate sees the salt in the mempool and tries to take the id for a payee of its choice
      const hijack = { ...planned, payee: p.delegate.address, amount: USDT(900) };
      await expect(lockAs(p, p.delegate, hijack, REF2))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(planned.salt);
      const hijackAuth = await signOpen(p.escrow, p.delegate, hijack, REF2, "Lock");
      await expect(p.escrow.connect(p.other).lockWithSig(hijack, REF2, p.delegate.address, hijackAuth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(planned.salt);

      // with a prefixed salt it locks, under another id
      const own = { ...hijack, salt: nextDelegateSalt() };
      await lockAs(p, p.delegate, own, REF2);
      expect(dealIdOf(own)).to.not.equal(plannedId);
      expect(await statusOf(p, own)).to.equal(Status.Open);

      // the acceptor's signed lock still lands on the id it planned, with its own terms
      await expect(p.escrow.connect(p.other).lockWithSig(planned, REF, p.acceptor.address, auth))
        .to.emit(p.escrow, "DealOpened")
        .withArgs(plannedId, p.acceptor.address, p.payee.address, tuple(planned), REF);
      const rec = await p.escrow.getDeal(plannedId);
      expect(rec.status).to.equal(Status.Open);
      expect(rec.commitment).to.equal(ethers.dataSlice(structHash(planned), 0, 25));
      const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
      expect(f.locked).to.equal(USDT(1_000));
      expect(f.free).to.equal(0n);
    });
  });

  describe("delegate bounds", function () {
    /** A lock by `by` (a delegate's salt for the delegate) with its deadline `duration` after the block that mines it
     * (at time `t`) and a release window of `releaseWindow`; it must be Open. */
    async function lockedAtBounds(by: "acceptor" | "delegate", duration: number, releaseWindow: number) {
      const p = await loadFixture(withFloat);
      const t = (await time.latest()) + 10;
      const make = by === "delegate" ? makeDelegateLockDeal : makeLockDeal;
      const deal = await make(p, { deadline: BigInt(t + duration), releaseWindow });
      await time.setNextBlockTimestamp(t);
      await lockAs(p, p[by], deal);
      expect(await statusOf(p, deal)).to.equal(Status.Open);
      return { p, deal, t };
    }

    it("when the delegate's deadline is beyond now + MAX_DELEGATE_LOCK_DURATION → it reverts EscrowInvalidDeadline", async function () {
      const p = await loadFixture(withFloat);
      for (const beyond of [1, DAY, MAX_DEAL_DURATION - MAX_DELEGATE_LOCK_DURATION]) {
        const t = (await time.latest()) + 10;
        const latest = t + MAX_DELEGATE_LOCK_DURATION;
        const deal = await makeDelegateLockDeal(p, { deadline: BigInt(latest + beyond) });
        await time.setNextBlockTimestamp(t);
        await expect(lockAs(p, p.delegate, deal))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
          .withArgs(latest + beyond, latest);
      }
    });

    it("when the delegate's release window is above MAX_DELEGATE_RELEASE_WINDOW → it reverts EscrowInvalidReleaseWindow", async function () {
      const p = await loadFixture(withFloat);
      for (const w of [MAX_DELEGATE_RELEASE_WINDOW + 1, MAX_RELEASE_WINDOW]) {
        const deal = await makeDelegateLockDeal(p, { releaseWindow: w });
        await expect(lockAs(p, p.delegate, deal))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidReleaseWindow")
          .withArgs(w);
      }
    });

    it("when the delegate's deadline and release window are at their bounds → it locks", async function () {
      const { p, deal, t } = await lockedAtBounds("delegate", MAX_DELEGATE_LOCK_DURATION, MAX_DELEGATE_RELEASE_WINDOW);
      expect(await p.escrow.lockExpiry(deal)).to.equal(
        t + MAX_DELEGATE_LOCK_DURATION + MAX_DELEGATE_RELEASE_WINDOW + RESOLUTION_WINDOW,
      );
    });

    it("when the acceptor locks with a deadline or release window beyond the delegate's bounds → it locks (the bounds are the delegate's)", async function () {
      const { p, deal } = await lockedAtBounds("acceptor", MAX_DEAL_DURATION, MAX_RELEASE_WINDOW);
      expect(await p.escrow.lockExpiry(deal)).to.equal(0n);
    });
  });

  describe("effects and events", function () {
    it("when the acceptor locks → free -amount, locked +amount, no token moves, DealOpened and no DealLockedByDelegate", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p, { amount: USDT(250) });
      const tx = lockAs(p, p.acceptor, deal);
      await expect(tx)
        .to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(deal), p.acceptor.address, p.payee.address, tuple(deal), REF);
      await expect(tx).not.to.emit(p.escrow, "DealLockedByDelegate");
      await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.delegate, p.escrow, p.payee], [0n, 0n, 0n, 0n]);
      await expectFloat(p, FLOAT - USDT(250), USDT(250));
      await expectOpenRecord(p, deal);
      expect(await p.escrow.lockExpiry(deal)).to.equal(0n);
    });

    it("when the delegate locks → the same float move, DealOpened then DealLockedByDelegate(dealId, delegate)", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeDelegateLockDeal(p, { amount: USDT(250) });
      const tx = lockAs(p, p.delegate, deal);
      await expectDelegateLockEvents(p, tx, deal, p.delegate.address);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.delegate, p.escrow, p.payee], [0n, 0n, 0n, 0n]);
      await expectFloat(p, FLOAT - USDT(250), USDT(250));
      await expectOpenRecord(p, deal);
      expect(await p.escrow.lockExpiry(deal)).to.equal(deal.deadline + deal.releaseWindow + BigInt(RESOLUTION_WINDOW));
    });

    it("when the token is DAI → it locks the DAI float only", async function () {
      const p = await loadFixture(withFloat);
      const dai = await p.dai.getAddress();
      await p.dai.connect(p.acceptor).approve(await p.escrow.getAddress(), ethers.parseEther("1000"));
      await p.escrow.connect(p.acceptor).depositFloat(dai, ethers.parseEther("1000"));
      const deal = await makeDelegateLockDeal(p, { token: dai, amount: ethers.parseEther("40") });
      await lockAs(p, p.delegate, deal);
      await expectFloat(p, ethers.parseEther("960"), ethers.parseEther("40"), dai);
      // the USDT float is untouched
      expect((await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress())).free).to.equal(FLOAT);
    });
  });
});

describe("Escrow.lockWithSig", function () {
  it("when the acceptor signed → it locks as the acceptor's lock, whoever submits; no DealLockedByDelegate", async function () {
    const p = await loadFixture(withFloat);
    const deal = await makeLockDeal(p);
    const tx = lockSigned(p, deal, p.acceptor);
    await expect(tx)
      .to.emit(p.escrow, "DealOpened")
      .withArgs(dealIdOf(deal), p.acceptor.address, p.payee.address, tuple(deal), REF);
    await expect(tx).not.to.emit(p.escrow, "DealLockedByDelegate");
    await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow, p.other], [0n, 0n, 0n]);
    await expectFloat(p, FLOAT - deal.amount, deal.amount);
  });

  it("when the delegate signed → it locks as the delegate's lock, whoever submits; DealOpened then DealLockedByDelegate(dealId, signer)", async function () {
    const p = await loadFixture(withFloat);
    const deal = await makeDelegateLockDeal(p);
    const tx = lockSigned(p, deal, p.delegate);
    await expectDelegateLockEvents(p, tx, deal, p.delegate.address);
    await expectFloat(p, FLOAT - deal.amount, deal.amount);
    expect(await p.escrow.lockExpiry(deal)).to.equal(deal.deadline + deal.releaseWindow + BigInt(RESOLUTION_WINDOW));
  });

  const wrongSalts = [
    { signer: "acceptor", salt: "with", make: makeDelegateLockDeal },
    { signer: "delegate", salt: "without", make: makeLockDeal },
  ] as const;
  for (const { signer, salt, make } of wrongSalts) {
    it(`when the ${signer} signed a salt ${salt} DELEGATE_SALT_PREFIX → it reverts EscrowInvalidSalt`, async function () {
      const p = await loadFixture(withFloat);
      const deal = await make(p);
      await expect(lockSigned(p, deal, p[signer]))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(deal.salt);
    });
  }

  it("when the delegate signed beyond its bounds → it reverts EscrowInvalidDeadline / EscrowInvalidReleaseWindow", async function () {
    const p = await loadFixture(withFloat);
    const t = (await time.latest()) + 10;
    const latest = t + MAX_DELEGATE_LOCK_DURATION;
    const late = await makeDelegateLockDeal(p, { deadline: BigInt(latest + DAY) });
    const lateAuth = await signOpen(p.escrow, p.delegate, late, REF, "Lock");
    await time.setNextBlockTimestamp(t);
    await expect(p.escrow.connect(p.other).lockWithSig(late, REF, p.delegate.address, lateAuth))
      .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
      .withArgs(latest + DAY, latest);

    const slow = await makeDelegateLockDeal(p, { releaseWindow: MAX_DELEGATE_RELEASE_WINDOW + 1 });
    await expect(lockSigned(p, slow, p.delegate))
      .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidReleaseWindow")
      .withArgs(MAX_DELEGATE_RELEASE_WINDOW + 1);
  });

  it("when the signature is not the named signer's → it reverts EscrowInvalidSignature", async function () {
    const p = await loadFixture(withFloat);
    const deal = await makeLockDeal(p);
    const auth = await signOpen(p.escrow, p.other, deal, REF, "Lock");
    for (const signer of [p.acceptor, p.delegate]) {
      await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, signer.address, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(deal), signer.address);
    }
  });

  it("when the signer is neither the acceptor nor its delegate → it reverts EscrowUnauthorized", async function () {
    const p = await loadFixture(withFloat);
    for (const deal of [await makeLockDeal(p), await makeDelegateLockDeal(p)]) {
      await expect(lockSigned(p, deal, p.other))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(dealIdOf(deal), p.other.address);
    }
  });

  it("when the signer is the zero address (an acceptor without a delegate) → it reverts EscrowInvalidSignature", async function () {
    const p = await loadFixture(withSecondAcceptor);
    const deal = await makeDelegateLockDeal(p, { payer: p.acc2.address });
    const auth = await signOpen(p.escrow, p.other, deal, REF, "Lock");
    const garbage = { expiry: auth.expiry, signature: ethers.zeroPadValue("0x", 65) };
    for (const a of [auth, garbage, { expiry: auth.expiry, signature: "0x" }]) {
      await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, ethers.ZeroAddress, a))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(deal), ethers.ZeroAddress);
    }
  });

  it("when the signature is an Open signature or covers another ref → it reverts EscrowInvalidSignature", async function () {
    const p = await loadFixture(withFloat);
    const deal = await makeLockDeal(p);
    const open = await signOpen(p.escrow, p.acceptor, deal, REF, "Open");
    await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, p.acceptor.address, open))
      .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
      .withArgs(dealIdOf(deal), p.acceptor.address);
    const lockSig = await signOpen(p.escrow, p.acceptor, deal, REF, "Lock");
    await expect(p.escrow.connect(p.other).lockWithSig(deal, REF2, p.acceptor.address, lockSig))
      .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
      .withArgs(dealIdOf(deal), p.acceptor.address);
  });

  it("when the signature has expired → it reverts EscrowSignatureExpired", async function () {
    const p = await loadFixture(withFloat);
    const deal = await makeDelegateLockDeal(p);
    const expiry = BigInt(await time.latest());
    const auth = await signOpen(p.escrow, p.delegate, deal, REF, "Lock", expiry);
    await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, p.delegate.address, auth))
      .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
      .withArgs(expiry);
  });

  describe("when the registry refuses the delegate's signed lock", function () {
    itIsRefusedByTheRegistry(withFloat, async (p) => {
      const deal = await makeDelegateLockDeal(p);
      const auth = await signOpen(p.escrow, p.delegate, deal, REF, "Lock");
      return () => p.escrow.connect(p.other).lockWithSig(deal, REF, p.delegate.address, auth);
    });
  });
});
