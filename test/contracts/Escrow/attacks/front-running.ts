import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import { Action, approveExactly, DAY, dealIdOf, deployProtocol, feeOf, Kind, loadFixture } from "../../fixtures";
import { makeDeal, MAX_DELEGATE_RELEASE_WINDOW, nextDelegateSalt, openDeal, signAction } from "../../fixtures";
import { signOpen, Status, USDT, type DealOut } from "../../fixtures";
import { approvedDeal, dealTuple, expectFloatUntouched, expectSolvent, floatFixture } from "../shared/attacks";
import { inOneBlock, inSnapshot, openDisputes, openedDeal, statusOf } from "../shared/attacks";

describe("Escrow attacks: front-running an open with the same deal id", function () {
  describe("the lock delegate front-runs the acceptor's planned lock id", function () {
    /** The acceptor has float and plans a lock with salt S (its id is known from the pending transaction). */
    async function plannedLockFixture() {
      const p = await floatFixture();
      const planned = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
      return { ...p, planned };
    }

    it("attack: the delegate locks the acceptor's planned id (same salt) to its accomplice → EscrowInvalidSalt", async function () {
      // v1.0: the delegate could take the id the acceptor planned (same salt), locking its float to its accomplice.
      const p = await loadFixture(plannedLockFixture);
      const salt = p.planned.salt;
      const hijack = {
        ...p.planned,
        payee: p.other.address,
        deadline: BigInt((await time.latest()) + DAY),
        releaseWindow: BigInt(MAX_DELEGATE_RELEASE_WINDOW),
      };
      expect(dealIdOf(hijack)).to.equal(dealIdOf(p.planned));
      await expect(p.escrow.connect(p.delegate).lock(hijack, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(salt);
      // Not even the acceptor's own terms, and not by signature either.
      await expect(p.escrow.connect(p.delegate).lock(p.planned, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(salt);
      const sig = await signOpen(p.escrow, p.delegate, hijack, ethers.ZeroHash, "Lock");
      await expect(p.escrow.connect(p.other).lockWithSig(hijack, ethers.ZeroHash, p.delegate.address, sig))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(salt);
      expect(await statusOf(p.escrow, dealIdOf(p.planned))).to.equal(Status.None);

      // The acceptor's planned lock goes through.
      await expect(p.escrow.connect(p.acceptor).lock(p.planned, ethers.ZeroHash))
        .to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(p.planned), p.acceptor.address, p.payee.address, dealTuple(p.planned), ethers.ZeroHash);
      await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(900), p.planned.amount]] });
    });

    it("delegate and acceptor ids never meet: the acceptor cannot use a delegate's salt either", async function () {
      const p = await loadFixture(plannedLockFixture);
      const prefixed = { ...p.planned, salt: nextDelegateSalt() };
      await expect(p.escrow.connect(p.acceptor).lock(prefixed, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(prefixed.salt);
      // Nor may a payer open a payment with one.
      const payment = await makeDeal(p, { salt: nextDelegateSalt() });
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), payment.amount);
      await expect(p.escrow.connect(p.payer).open(payment, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(payment.salt);
      await expectFloatUntouched(p);
    });
  });

  /** The victim (payer) has approved the escrow; its open is pending. */
  async function pendingOpenFixture() {
    const p = await deployProtocol();
    return { ...p, d: await approvedDeal(p) };
  }

  it("the attacker cannot open the victim's deal, nor a variant paying itself from the victim", async function () {
    const p = await loadFixture(pendingOpenFixture);
    const id = dealIdOf(p.d);
    await expect(p.escrow.connect(p.other).open(p.d, ethers.ZeroHash))
      .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
      .withArgs(id, p.other.address);
    const hijack = { ...p.d, payee: p.other.address };
    await expect(p.escrow.connect(p.other).open(hijack, ethers.ZeroHash))
      .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
      .withArgs(id, p.other.address);
    expect(await statusOf(p.escrow, id)).to.equal(Status.None);

    const tx = p.escrow.connect(p.payer).open(p.d, ethers.ZeroHash);
    await expect(tx)
      .to.emit(p.escrow, "DealOpened")
      .withArgs(id, p.payer.address, p.payee.address, dealTuple(p.d), ethers.ZeroHash);
    await expect(tx).to.changeTokenBalances(p.usdt, [p.payer, p.escrow], [-p.d.amount, p.d.amount]);
    await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d] });
  });

  it("the same salt with the attacker as payer gives another id; the victim's open still succeeds", async function () {
    const p = await loadFixture(pendingOpenFixture);
    const copy = { ...p.d, payer: p.other.address };
    expect(dealIdOf(copy)).to.not.equal(dealIdOf(p.d));
    await openDeal(p, copy);
    expect(await statusOf(p.escrow, dealIdOf(copy))).to.equal(Status.Open);
    expect(await statusOf(p.escrow, dealIdOf(p.d))).to.equal(Status.None);

    await expect(p.escrow.connect(p.payer).open(p.d, ethers.ZeroHash)).to.changeTokenBalances(
      p.usdt,
      [p.payer, p.escrow],
      [-p.d.amount, p.d.amount],
    );
    expect(await statusOf(p.escrow, dealIdOf(p.d))).to.equal(Status.Open);
    await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d, copy] });
  });

  it("openWithSig with the victim's signature but altered terms is refused", async function () {
    const p = await loadFixture(pendingOpenFixture);
    const id = dealIdOf(p.d);
    const ref = ethers.id("victim order");
    const sig = await signOpen(p.escrow, p.payer, p.d, ref);
    const altered: Array<[DealOut, string]> = [
      [{ ...p.d, payee: p.other.address }, ref],
      [{ ...p.d, amount: p.d.amount - 1n }, ref],
      [{ ...p.d, deadline: p.d.deadline + 1n }, ref],
      [{ ...p.d, releaseWindow: p.d.releaseWindow + 1n }, ref],
      [{ ...p.d, autoRelease: true }, ref],
      [p.d, ethers.id("attacker order")],
    ];
    for (const [deal, r] of altered) {
      await expect(p.escrow.connect(p.other).openWithSig(deal, r, sig))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
    }
    const later = { expiry: sig.expiry + 1n, signature: sig.signature };
    await expect(p.escrow.connect(p.other).openWithSig(p.d, ref, later))
      .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
      .withArgs(id, p.payer.address);
    expect(await statusOf(p.escrow, id)).to.equal(Status.None);

    // Relaying the genuine payload opens exactly the victim's deal.
    await expect(p.escrow.connect(p.other).openWithSig(p.d, ref, sig))
      .to.emit(p.escrow, "DealOpened")
      .withArgs(id, p.payer.address, p.payee.address, dealTuple(p.d), ref);
    await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d] });
  });

  it("an attacker cannot lock an acceptor's float, even signing for itself", async function () {
    const p = await loadFixture(floatFixture);
    const d = await makeDeal(p, { payer: p.acceptor.address, payee: p.other.address, kind: BigInt(Kind.OnRamp) });
    const id = dealIdOf(d);
    await expect(p.escrow.connect(p.other).lock(d, ethers.ZeroHash))
      .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
      .withArgs(id, p.other.address);
    const selfSigned = await signOpen(p.escrow, p.other, d, ethers.ZeroHash, "Lock");
    await expect(p.escrow.lockWithSig(d, ethers.ZeroHash, p.other.address, selfSigned))
      .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
      .withArgs(id, p.other.address);
    // Nor with a delegate's salt: the salt gives no authority.
    const prefixed = { ...d, salt: nextDelegateSalt() };
    await expect(p.escrow.connect(p.other).lock(prefixed, ethers.ZeroHash))
      .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
      .withArgs(dealIdOf(prefixed), p.other.address);
    await expectFloatUntouched(p);
  });
});

describe("Escrow attacks: dispute timing", function () {
  describe("the payee performs and disputes in the same block", function () {
    /** A payment opened in this test, and its id. */
    async function openedPayment() {
      const p = await loadFixture(deployProtocol);
      const d = await openedDeal(p);
      return { p, d, id: dealIdOf(d) };
    }

    it("attack: perform and dispute in one multicall → reverts EscrowReleaseWindowOpen; the payer keeps its window", async function () {
      // v1.0: the payee could dispute the moment it performed, taking the deal to the gateway before the payer
      // had any chance to check and release.
      const { p, d, id } = await openedPayment();
      const iface = p.escrow.interface;
      const at = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(at);
      await expect(
        p.escrow
          .connect(p.payee)
          .multicall([iface.encodeFunctionData("perform", [d]), iface.encodeFunctionData("dispute", [d])]),
      )
        .to.be.revertedWithCustomError(p.escrow, "EscrowReleaseWindowOpen")
        .withArgs(id, at + d.releaseWindow);
      expect(await statusOf(p.escrow, id)).to.equal(Status.Open);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [d] });
    });

    it("attack: perform and dispute as two transactions in one block → the dispute fails, the perform stands", async function () {
      const { p, d, id } = await openedPayment();
      const receipts = await inOneBlock(undefined, async () => [
        await p.escrow.connect(p.payee).perform(d, { gasLimit: 300_000 }),
        await p.escrow.connect(p.payee).dispute(d, { gasLimit: 300_000 }),
      ]);
      expect(receipts.map((r) => r.status)).to.deep.equal([1, 0]);
      expect(await statusOf(p.escrow, id)).to.equal(Status.Performed);
      expect(await openDisputes(p)).to.equal(0n);
    });

    it("the payee may dispute only once the payer's window is over: at its last second it reverts, one second later it holds", async function () {
      const { p, d, id } = await openedPayment();
      await p.escrow.connect(p.payee).perform(d);
      const endsAt = (await p.escrow.getDeal(id)).since + d.releaseWindow;
      await time.setNextBlockTimestamp(endsAt);
      await expect(p.escrow.connect(p.payee).dispute(d))
        .to.be.revertedWithCustomError(p.escrow, "EscrowReleaseWindowOpen")
        .withArgs(id, endsAt);
      await time.setNextBlockTimestamp(endsAt + 1n);
      await expect(p.escrow.connect(p.payee).dispute(d))
        .to.emit(p.escrow, "DealDisputed")
        .withArgs(id, p.payee.address, true);
    });
  });

  describe("an autoRelease payment: the payer's dispute races the payee's claim", function () {
    async function autoReleaseFixture() {
      const p = await deployProtocol();
      const d = await openedDeal(p, { autoRelease: true });
      await p.escrow.connect(p.payee).perform(d);
      const endsAt = (await p.escrow.getDeal(dealIdOf(d))).since + d.releaseWindow;
      return { ...p, d, endsAt };
    }

    it("attack: the payer disputes after the window to block the claim → EscrowReleaseWindowClosed; the claim pays", async function () {
      // v1.0: the payer could dispute after its window (front-running the payee's claim) and send the deal to the
      // gateway instead of paying.
      const p = await loadFixture(autoReleaseFixture);
      const id = dealIdOf(p.d);
      const fee = feeOf(p.d.amount, p.d.feeBps);
      await time.setNextBlockTimestamp(p.endsAt + 1n);
      await expect(p.escrow.connect(p.payer).dispute(p.d))
        .to.be.revertedWithCustomError(p.escrow, "EscrowReleaseWindowClosed")
        .withArgs(id, p.endsAt);
      // Nor by a relayed signature.
      const sig = await signAction(p.escrow, p.payer, id, Action.Dispute);
      await expect(p.escrow.connect(p.other).actWithSig(p.d, Action.Dispute, p.payer.address, sig))
        .to.be.revertedWithCustomError(p.escrow, "EscrowReleaseWindowClosed")
        .withArgs(id, p.endsAt);
      const tx = p.escrow.connect(p.payee).claim(p.d);
      await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee], [-(p.d.amount - fee), p.d.amount - fee]);
      await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: fee } });
    });

    it("attack: dispute and claim sent into the same block after the window, the dispute with the higher tip → the dispute fails, the claim pays", async function () {
      const p = await loadFixture(autoReleaseFixture);
      const id = dealIdOf(p.d);
      const receipts = await inOneBlock(p.endsAt + 1n, async () => [
        await p.escrow.connect(p.payer).dispute(p.d, {
          gasLimit: 300_000,
          maxFeePerGas: 10n ** 11n,
          maxPriorityFeePerGas: 10n ** 10n,
        }),
        await p.escrow.connect(p.payee).claim(p.d, { gasLimit: 300_000 }),
      ]);
      expect(receipts.map((r) => r.status)).to.deep.equal([0, 1]);
      expect(await statusOf(p.escrow, id)).to.equal(Status.Released);
    });

    it("up to the window's last second the payer may dispute and the payee may not claim", async function () {
      const p = await loadFixture(autoReleaseFixture);
      const id = dealIdOf(p.d);
      await inSnapshot(async () => {
        await time.setNextBlockTimestamp(p.endsAt);
        await expect(p.escrow.connect(p.payee).claim(p.d))
          .to.be.revertedWithCustomError(p.escrow, "EscrowReleaseWindowOpen")
          .withArgs(id, p.endsAt);
      });
      await time.setNextBlockTimestamp(p.endsAt);
      await expect(p.escrow.connect(p.payer).dispute(p.d))
        .to.emit(p.escrow, "DealDisputed")
        .withArgs(id, p.payer.address, true);
    });
  });
});
