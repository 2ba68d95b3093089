import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import type { Escrow } from "../../../../typechain-types";

import { Action, approveExactly, DAY, dealIdOf, deployProtocol, feeOf, loadFixture, makeDeal } from "../../fixtures";
import { RefundReason, RELEASE_WINDOW, RESOLUTION_WINDOW, signAction, signOpen, signResolution } from "../../fixtures";
import { signSplit, Status, USDT, type Protocol } from "../../fixtures";
import { dealTuple, ERC1271, expectSolvent, inSnapshot, openDisputes, openedDeal } from "../shared/attacks";
import { performAndDispute, REASONS, settle, statusOf, walletsFixture, yesWallet } from "../shared/attacks";

/** Two DealAction signatures over deal `dealId`, each a signer and its action. */
async function signPair(p: Protocol, dealId: string, ...pair: [HardhatEthersSigner, number][]) {
  return Promise.all(pair.map(([signer, action]) => signAction(p.escrow, signer, dealId, action)));
}

/** The payer's and the payee's Split signatures of `payeeAmount` of deal `dealId`. */
async function signSplitBoth(p: Protocol, dealId: string, payeeAmount: bigint) {
  return [
    await signSplit(p.escrow, p.payer, dealId, payeeAmount),
    await signSplit(p.escrow, p.payee, dealId, payeeAmount),
  ] as const;
}

describe("Escrow attacks: signature replay", function () {
  /** Two open deals A and B between the same payer and payee. */
  async function twoDealsFixture() {
    const p = await deployProtocol();
    const a = await makeDeal(p);
    const b = await makeDeal(p);
    await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), a.amount + b.amount);
    await p.escrow.connect(p.payer).open(a, ethers.ZeroHash);
    await p.escrow.connect(p.payer).open(b, ethers.ZeroHash);
    return { ...p, a, b };
  }

  type T = Awaited<ReturnType<typeof twoDealsFixture>>;

  /** The two open deals, and A's id. */
  async function twoDeals(): Promise<{ p: T; id: string }> {
    const p = await loadFixture(twoDealsFixture);
    return { p, id: dealIdOf(p.a) };
  }

  /** Asserts that deal `id` is still `status` and that the escrow still holds both deals' money, and only that. */
  async function expectBothHeld(p: T, id: string, status: number = Status.Open) {
    expect(await statusOf(p.escrow, id)).to.equal(status);
    await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
  }

  describe("across deals", function () {
    it("a Release signature for deal A is refused for deal B", async function () {
      const p = await loadFixture(twoDealsFixture);
      await p.escrow.connect(p.payee).perform(p.b);
      const sigA = await signAction(p.escrow, p.payer, dealIdOf(p.a), Action.Release);
      await expect(p.escrow.connect(p.other).actWithSig(p.b, Action.Release, p.payer.address, sigA))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(p.b), p.payer.address);
      const performA = await signAction(p.escrow, p.payee, dealIdOf(p.a), Action.Perform);
      await expect(p.escrow.connect(p.other).settleWithSigs(p.b, performA, sigA))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(p.b), p.payee.address);
      await expectBothHeld(p, dealIdOf(p.b), Status.Performed);
    });

    it("a Split and a Resolution signed for deal A are refused for deal B", async function () {
      const p = await loadFixture(twoDealsFixture);
      await performAndDispute(p, p.a);
      await performAndDispute(p, p.b);
      const idA = dealIdOf(p.a);
      const idB = dealIdOf(p.b);
      const [payerSplit, payeeSplit] = await signSplitBoth(p, idA, USDT(50));
      await expect(p.escrow.splitWithSigs(p.b, USDT(50), payerSplit, payeeSplit))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(idB, p.payer.address);
      const ruling = await signResolution(p.escrow, p.gateway, idA, USDT(90), REASONS);
      await expect(p.escrow.resolveWithSig(p.b, USDT(90), REASONS, p.gateway.address, ruling))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(idB, p.gateway.address);
      await expectBothHeld(p, idB, Status.Disputed);
    });
  });

  describe("across actions, amounts and signers", function () {
    it("a Perform signature cannot be used as Release, Cancel, Claim or Dispute", async function () {
      const { p, id } = await twoDeals();
      const [perform, performByPayer] = await signPair(p, id, [p.payee, Action.Perform], [p.payer, Action.Perform]);
      await expect(p.escrow.actWithSig(p.a, Action.Release, p.payer.address, performByPayer))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      await expect(p.escrow.actWithSig(p.a, Action.Release, p.payer.address, perform))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      for (const action of [Action.Cancel, Action.Claim, Action.Dispute]) {
        await expect(p.escrow.actWithSig(p.a, action, p.payee.address, perform))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payee.address);
      }
      // Nor as the payer's Cancel in a mutual cancel.
      const cancel = await signAction(p.escrow, p.payee, id, Action.Cancel);
      await expect(p.escrow.cancelWithSigs(p.a, performByPayer, cancel))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      await expectBothHeld(p, id);
    });

    it("a signer who is not the action's party is refused before its signature is looked at", async function () {
      const { p, id } = await twoDeals();
      const cases: Array<[number, HardhatEthersSigner]> = [
        [Action.Release, p.payee],
        [Action.Perform, p.payer],
        [Action.Cancel, p.payer],
        [Action.Claim, p.payer],
        [Action.Dispute, p.other],
      ];
      for (const [action, signer] of cases) {
        // A genuine signature by that signer, for this very deal and action.
        const sig = await signAction(p.escrow, signer, id, action);
        await expect(p.escrow.actWithSig(p.a, action, signer.address, sig))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, signer.address);
      }
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
    });

    it("settleWithSigs refuses the two signatures swapped", async function () {
      const { p, id } = await twoDeals();
      const [perform, release] = await signPair(p, id, [p.payee, Action.Perform], [p.payer, Action.Release]);
      await expect(p.escrow.settleWithSigs(p.a, release, perform))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payee.address);
      // A Release signed by the payee (not the payer) is refused too.
      const releaseByPayee = await signAction(p.escrow, p.payee, id, Action.Release);
      await expect(p.escrow.settleWithSigs(p.a, perform, releaseByPayee))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      await expectBothHeld(p, id);
    });

    it("a Split signed for one amount is refused for another, and a Cancel is not a Split", async function () {
      const { p, id } = await twoDeals();
      const [payerSplit, payeeSplit] = await signSplitBoth(p, id, USDT(30));
      await expect(p.escrow.splitWithSigs(p.a, USDT(31), payerSplit, payeeSplit))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      const payerCancel = await signAction(p.escrow, p.payer, id, Action.Cancel);
      await expect(p.escrow.splitWithSigs(p.a, 0n, payerCancel, payeeSplit))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      await expectBothHeld(p, id);
    });

    it("an Open signature is not a Lock signature", async function () {
      const p = await loadFixture(deployProtocol);
      const d = await makeDeal(p);
      const lockSig = await signOpen(p.escrow, p.payer, d, ethers.ZeroHash, "Lock");
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await expect(p.escrow.openWithSig(d, ethers.ZeroHash, lockSig))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(d), p.payer.address);
      await expectSolvent(p.escrow, p.usdt, {});
    });
  });

  describe("across chains and contracts", function () {
    it("a signature for another chain id is refused", async function () {
      const { p, id } = await twoDeals();
      await p.escrow.connect(p.payee).perform(p.a);
      const release = await signAction(p.escrow, p.payer, id, Action.Release, undefined, { chainId: 999n });
      await expect(p.escrow.actWithSig(p.a, Action.Release, p.payer.address, release))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      await expectBothHeld(p, id, Status.Performed);
    });

    it("a signature for another verifying contract is refused", async function () {
      const { p, id } = await twoDeals();
      await p.escrow.connect(p.payee).perform(p.a);
      const release = await signAction(p.escrow, p.payer, id, Action.Release, undefined, {
        verifyingContract: p.other.address,
      });
      await expect(p.escrow.actWithSig(p.a, Action.Release, p.payer.address, release))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
    });

    it("a signature for a second escrow over the same registry, same deal id, is refused here", async function () {
      const p = await loadFixture(twoDealsFixture);
      const escrow2 = (await (
        await ethers.getContractFactory("Escrow")
      ).deploy(await p.registry.getAddress(), RESOLUTION_WINDOW)) as unknown as Escrow;
      // The same deal (same payer and salt, hence the same id) opened on the second escrow.
      await approveExactly(p.usdt, p.payer, await escrow2.getAddress(), p.a.amount);
      await escrow2.connect(p.payer).open(p.a, ethers.ZeroHash);
      const id = dealIdOf(p.a);
      expect(await statusOf(escrow2, id)).to.equal(Status.Open);

      const perform2 = await signAction(escrow2, p.payee, id, Action.Perform);
      const release2 = await signAction(escrow2, p.payer, id, Action.Release);
      await expect(p.escrow.settleWithSigs(p.a, perform2, release2))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payee.address);
      await expect(p.escrow.actWithSig(p.a, Action.Perform, p.payee.address, perform2))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payee.address);
      // They are good where they were meant to be used.
      const fee = feeOf(p.a.amount, p.a.feeBps);
      await expect(escrow2.settleWithSigs(p.a, perform2, release2)).to.changeTokenBalances(
        p.usdt,
        [escrow2, p.payee],
        [-(p.a.amount - fee), p.a.amount - fee],
      );
      await expectBothHeld(p, id);
      await expectSolvent(escrow2, p.usdt, { owed: { [p.gateway.address]: fee } });
    });
  });

  describe("expiry", function () {
    it("a signature is valid up to its expiry and refused one second later", async function () {
      const { p, id } = await twoDeals();
      const expiry = BigInt(await time.latest()) + 100n;
      const perform = await signAction(p.escrow, p.payee, id, Action.Perform, expiry);
      await time.setNextBlockTimestamp(expiry + 1n);
      await expect(p.escrow.actWithSig(p.a, Action.Perform, p.payee.address, perform))
        .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry);

      const expiryB = BigInt(await time.latest()) + 100n;
      const performB = await signAction(p.escrow, p.payee, dealIdOf(p.b), Action.Perform, expiryB);
      await time.setNextBlockTimestamp(expiryB);
      await expect(p.escrow.actWithSig(p.b, Action.Perform, p.payee.address, performB))
        .to.emit(p.escrow, "DealPerformed")
        .withArgs(dealIdOf(p.b));
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
    });

    it("expired signatures are refused by openWithSig, settleWithSigs, cancelWithSigs, splitWithSigs and Dispute", async function () {
      const { p, id } = await twoDeals();
      const expiry = BigInt(await time.latest()) + 100n;
      const fresh = BigInt((await time.latest()) + DAY);
      const d = await makeDeal(p);
      const open = await signOpen(p.escrow, p.payer, d, ethers.ZeroHash, "Open", expiry);
      const perform = await signAction(p.escrow, p.payee, id, Action.Perform, fresh);
      const release = await signAction(p.escrow, p.payer, id, Action.Release, expiry);
      const cancelPayer = await signAction(p.escrow, p.payer, id, Action.Cancel, expiry);
      const cancelPayee = await signAction(p.escrow, p.payee, id, Action.Cancel, fresh);
      const splitPayer = await signSplit(p.escrow, p.payer, id, USDT(10), expiry);
      const splitPayee = await signSplit(p.escrow, p.payee, id, USDT(10), fresh);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await time.increaseTo(expiry + 1n);

      await expect(p.escrow.openWithSig(d, ethers.ZeroHash, open))
        .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry);
      await expect(p.escrow.settleWithSigs(p.a, perform, release))
        .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry);
      await expect(p.escrow.cancelWithSigs(p.a, cancelPayer, cancelPayee))
        .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry);
      await expect(p.escrow.splitWithSigs(p.a, USDT(10), splitPayer, splitPayee))
        .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry);
      await p.escrow.connect(p.payee).perform(p.a);
      const dispute = await signAction(p.escrow, p.payer, id, Action.Dispute, BigInt(await time.latest()) + 10n);
      await time.increase(11);
      await expect(p.escrow.actWithSig(p.a, Action.Dispute, p.payer.address, dispute))
        .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
        .withArgs(dispute.expiry);
      expect(await statusOf(p.escrow, id)).to.equal(Status.Performed);
      await expectBothHeld(p, dealIdOf(d), Status.None);
    });
  });

  describe("after use", function () {
    it("a used Perform signature cannot be replayed", async function () {
      const { p, id } = await twoDeals();
      const perform = await signAction(p.escrow, p.payee, id, Action.Perform);
      await p.escrow.actWithSig(p.a, Action.Perform, p.payee.address, perform);
      await expect(p.escrow.actWithSig(p.a, Action.Perform, p.payee.address, perform))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Performed);
      await expectBothHeld(p, id, Status.Performed);
    });

    it("a used early Release signature cannot be replayed, before or after the payout", async function () {
      const { p, id } = await twoDeals();
      const release = await signAction(p.escrow, p.payer, id, Action.Release);
      await expect(p.escrow.actWithSig(p.a, Action.Release, p.payer.address, release))
        .to.emit(p.escrow, "DealReleaseApproved")
        .withArgs(id);
      await expect(p.escrow.actWithSig(p.a, Action.Release, p.payer.address, release))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Open);
      const fee = feeOf(p.a.amount, p.a.feeBps);
      await expect(p.escrow.connect(p.payee).perform(p.a)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee],
        [-(p.a.amount - fee), p.a.amount - fee],
      );
      await expect(p.escrow.actWithSig(p.a, Action.Release, p.payer.address, release))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Released);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.b], owed: { [p.gateway.address]: fee } });
    });

    it("a used settleWithSigs pair cannot be replayed", async function () {
      const { p, id } = await twoDeals();
      const [perform, release] = await signPair(p, id, [p.payee, Action.Perform], [p.payer, Action.Release]);
      const fee = feeOf(p.a.amount, p.a.feeBps);
      await expect(p.escrow.connect(p.other).settleWithSigs(p.a, perform, release))
        .to.emit(p.escrow, "DealReleased")
        .withArgs(id);
      await expect(p.escrow.connect(p.other).settleWithSigs(p.a, perform, release))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Released);
      await expect(p.escrow.actWithSig(p.a, Action.Perform, p.payee.address, perform))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Released);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.b], owed: { [p.gateway.address]: fee } });
    });

    it("a used mutual-cancel pair cannot be replayed", async function () {
      const { p, id } = await twoDeals();
      const [payerCancel, payeeCancel] = await signPair(p, id, [p.payer, Action.Cancel], [p.payee, Action.Cancel]);
      await expect(p.escrow.cancelWithSigs(p.a, payerCancel, payeeCancel)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payer],
        [-p.a.amount, p.a.amount],
      );
      await expect(p.escrow.cancelWithSigs(p.a, payerCancel, payeeCancel))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Refunded);
      await expect(p.escrow.actWithSig(p.a, Action.Cancel, p.payee.address, payeeCancel))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Refunded);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.b] });
    });

    it("a used Split pair and a used Resolution cannot be replayed", async function () {
      const p = await loadFixture(twoDealsFixture);
      const idA = dealIdOf(p.a);
      const idB = dealIdOf(p.b);
      const [payerSplit, payeeSplit] = await signSplitBoth(p, idA, USDT(40));
      await p.escrow.splitWithSigs(p.a, USDT(40), payerSplit, payeeSplit);
      await expect(p.escrow.splitWithSigs(p.a, USDT(40), payerSplit, payeeSplit))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(idA, Status.Split);

      await performAndDispute(p, p.b);
      const ruling = await signResolution(p.escrow, p.gateway, idB, USDT(70), REASONS);
      await p.escrow.connect(p.other).resolveWithSig(p.b, USDT(70), REASONS, p.gateway.address, ruling);
      await expect(p.escrow.connect(p.other).resolveWithSig(p.b, USDT(70), REASONS, p.gateway.address, ruling))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(idB, Status.Resolved);
      const fees = feeOf(USDT(40), p.a.feeBps) + feeOf(USDT(70), p.b.feeBps);
      await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: fees } });
    });

    it("an Open signature cannot be replayed, neither while the deal is open nor after it settled", async function () {
      const p = await loadFixture(deployProtocol);
      const d = await makeDeal(p);
      const id = dealIdOf(d);
      const ref = ethers.id("order-1");
      const open = await signOpen(p.escrow, p.payer, d, ref);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await expect(p.escrow.connect(p.other).openWithSig(d, ref, open)).to.changeTokenBalances(
        p.usdt,
        [p.payer, p.escrow],
        [-d.amount, d.amount],
      );

      // The payer approves again (for something else): the signature still cannot pull a second time.
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await expect(p.escrow.connect(p.other).openWithSig(d, ref, open))
        .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
        .withArgs(id);

      await settle(p, d);
      await expect(p.escrow.connect(p.other).openWithSig(d, ref, open))
        .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
        .withArgs(id);
      expect(await p.usdt.allowance(p.payer.address, await p.escrow.getAddress())).to.equal(d.amount);
      await expectSolvent(p.escrow, p.usdt, { owed: { [p.gateway.address]: feeOf(d.amount, d.feeBps) } });
    });

    it("an Open signature cannot be replayed after a refund", async function () {
      const p = await loadFixture(deployProtocol);
      const d = await makeDeal(p);
      const open = await signOpen(p.escrow, p.payer, d, ethers.ZeroHash);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await p.escrow.openWithSig(d, ethers.ZeroHash, open);
      await p.escrow.connect(p.payee).cancel(d);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await expect(p.escrow.openWithSig(d, ethers.ZeroHash, open))
        .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
        .withArgs(dealIdOf(d));
      await expectSolvent(p.escrow, p.usdt, {});
    });
  });
});

describe("Escrow attacks: contract-wallet (ERC-1271) parties", function () {
  type W = Awaited<ReturnType<typeof walletsFixture>>;

  async function walletDeal(w: W) {
    return makeDeal(w, {
      payer: await w.payerWallet.getAddress(),
      payee: await w.payeeWallet.getAddress(),
    });
  }

  async function approveFromWallet(w: W, amount: bigint) {
    const data = w.usdt.interface.encodeFunctionData("approve", [await w.escrow.getAddress(), amount]);
    await w.payerWallet.connect(w.payer).execute(await w.usdt.getAddress(), 0, data);
  }

  /** A wallet-to-wallet deal opened by the payer wallet owner's signature. */
  async function openedWalletDeal(w: W) {
    const d = await walletDeal(w);
    await approveFromWallet(w, d.amount);
    await w.escrow.openWithSig(d, ethers.ZeroHash, await signOpen(w.escrow, w.payer, d, ethers.ZeroHash));
    return d;
  }

  it("opens by openWithSig and settles by settleWithSigs with the wallets' owner signatures", async function () {
    const w = await loadFixture(walletsFixture);
    const d = await walletDeal(w);
    const id = dealIdOf(d);
    const ref = ethers.id("wallet order");
    await approveFromWallet(w, d.amount);

    const open = await signOpen(w.escrow, w.payer, d, ref);
    const tx = w.escrow.connect(w.other).openWithSig(d, ref, open);
    await expect(tx).to.emit(w.escrow, "DealOpened").withArgs(id, d.payer, d.payee, dealTuple(d), ref);
    await expect(tx).to.changeTokenBalances(w.usdt, [w.payerWallet, w.escrow], [-d.amount, d.amount]);

    const perform = await signAction(w.escrow, w.payee, id, Action.Perform);
    const release = await signAction(w.escrow, w.payer, id, Action.Release);
    const fee = feeOf(d.amount, d.feeBps);
    const settleTx = w.escrow.connect(w.other).settleWithSigs(d, perform, release);
    await expect(settleTx).to.emit(w.escrow, "DealReleased").withArgs(id);
    await expect(settleTx).to.changeTokenBalances(
      w.usdt,
      [w.escrow, w.payeeWallet, w.payee, w.payer],
      [-(d.amount - fee), d.amount - fee, 0n, 0n],
    );
    expect(await statusOf(w.escrow, id)).to.equal(Status.Released);
    await expectSolvent(w.escrow, w.usdt, { owed: { [w.gateway.address]: fee } });
  });

  it("an open signed by someone other than the payer wallet's owner is refused", async function () {
    const w = await loadFixture(walletsFixture);
    const d = await walletDeal(w);
    await approveFromWallet(w, d.amount);
    for (const signer of [w.other, w.payee]) {
      const open = await signOpen(w.escrow, signer, d, ethers.ZeroHash);
      await expect(w.escrow.openWithSig(d, ethers.ZeroHash, open))
        .to.be.revertedWithCustomError(w.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(d), d.payer);
    }
    // Nor may the owner's EOA open directly in the wallet's name: the wallet itself is the payer.
    await expect(w.escrow.connect(w.payer).open(d, ethers.ZeroHash))
      .to.be.revertedWithCustomError(w.escrow, "EscrowUnauthorized")
      .withArgs(dealIdOf(d), w.payer.address);
    expect(await statusOf(w.escrow, dealIdOf(d))).to.equal(Status.None);
    await expectSolvent(w.escrow, w.usdt, {});
  });

  it("settlement signatures by non-owners are refused", async function () {
    const w = await loadFixture(walletsFixture);
    const d = await openedWalletDeal(w);
    const id = dealIdOf(d);

    const perform = await signAction(w.escrow, w.payee, id, Action.Perform);
    const release = await signAction(w.escrow, w.payer, id, Action.Release);
    const performByOther = await signAction(w.escrow, w.other, id, Action.Perform);
    const releaseByOther = await signAction(w.escrow, w.other, id, Action.Release);
    // The payer wallet's owner is not the payee wallet's owner, and vice versa.
    const performByPayerOwner = await signAction(w.escrow, w.payer, id, Action.Perform);
    const releaseByPayeeOwner = await signAction(w.escrow, w.payee, id, Action.Release);

    for (const bad of [performByOther, performByPayerOwner]) {
      await expect(w.escrow.settleWithSigs(d, bad, release))
        .to.be.revertedWithCustomError(w.escrow, "EscrowInvalidSignature")
        .withArgs(id, d.payee);
    }
    for (const bad of [releaseByOther, releaseByPayeeOwner]) {
      await expect(w.escrow.settleWithSigs(d, perform, bad))
        .to.be.revertedWithCustomError(w.escrow, "EscrowInvalidSignature")
        .withArgs(id, d.payer);
    }
    expect(await statusOf(w.escrow, id)).to.equal(Status.Open);
    await expectSolvent(w.escrow, w.usdt, { openDeals: [d] });
  });

  it("a wallet disputes by signature and both wallets cancel by signatures", async function () {
    const w = await loadFixture(walletsFixture);
    const d = await openedWalletDeal(w);
    const id = dealIdOf(d);
    await w.escrow.actWithSig(d, Action.Perform, d.payee, await signAction(w.escrow, w.payee, id, Action.Perform));

    const disputeByOther = await signAction(w.escrow, w.other, id, Action.Dispute);
    await expect(w.escrow.actWithSig(d, Action.Dispute, d.payer, disputeByOther))
      .to.be.revertedWithCustomError(w.escrow, "EscrowInvalidSignature")
      .withArgs(id, d.payer);
    await expect(
      w.escrow.actWithSig(d, Action.Dispute, d.payer, await signAction(w.escrow, w.payer, id, Action.Dispute)),
    )
      .to.emit(w.escrow, "DealDisputed")
      .withArgs(id, d.payer, true);

    const payerCancel = await signAction(w.escrow, w.payer, id, Action.Cancel);
    const payeeCancel = await signAction(w.escrow, w.payee, id, Action.Cancel);
    const tx = w.escrow.cancelWithSigs(d, payerCancel, payeeCancel);
    await expect(tx).to.emit(w.escrow, "DealRefunded").withArgs(id, RefundReason.MutualCancel);
    await expect(tx).to.changeTokenBalances(w.usdt, [w.escrow, w.payerWallet], [-d.amount, d.amount]);
    expect(await openDisputes(w)).to.equal(0n);
    await expectSolvent(w.escrow, w.usdt, {});
  });

  describe("signed dispute credit theft (a yes-to-everything payer wallet)", function () {
    /** A Payment from a wallet that approves every signature to the EOA payee, performed, its window over. */
    async function yesPayerFixture() {
      const p = await deployProtocol();
      const wallet = await yesWallet();
      await p.usdt.connect(p.admin).mint(wallet.address, USDT(1_000));
      const d = await openedDeal(p, { payer: wallet.address });
      await p.escrow.connect(p.payee).perform(d);
      await time.increase(RELEASE_WINDOW + 1);
      return { ...p, wallet, d };
    }

    before(async function () {
      // The set-up: the wallet really approves any bytes at all.
      const p = await loadFixture(yesPayerFixture);
      const answer = await ethers.provider.call({
        to: p.wallet.address,
        data: ERC1271.encodeFunctionData("isValidSignature", [ethers.ZeroHash, "0x"]),
      });
      expect(answer.slice(0, 10)).to.equal("0x1626ba7e");
    });

    it("attack: a relayer submits the payee's Dispute signature → recorded as the payee's dispute (by = payee)", async function () {
      // v1.0: actWithSig(Dispute) tried the payer first; the payer's wallet said yes to the payee's signature, so
      // the dispute was credited to the payer.
      const p = await loadFixture(yesPayerFixture);
      const id = dealIdOf(p.d);
      const sig = await signAction(p.escrow, p.payee, id, Action.Dispute);
      await expect(p.escrow.connect(p.other).actWithSig(p.d, Action.Dispute, p.payee.address, sig))
        .to.emit(p.escrow, "DealDisputed")
        .withArgs(id, p.payee.address, true);
      expect(await statusOf(p.escrow, id)).to.equal(Status.Disputed);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d] });
    });

    it("attack: naming the payer's owner-bound wallet as signer of the payee's signature → EscrowInvalidSignature", async function () {
      const w = await loadFixture(walletsFixture);
      const d = await makeDeal(w, { payer: await w.payerWallet.getAddress() });
      await approveFromWallet(w, d.amount);
      await w.escrow.openWithSig(d, ethers.ZeroHash, await signOpen(w.escrow, w.payer, d, ethers.ZeroHash));
      await w.escrow.connect(w.payee).perform(d);
      await time.increase(RELEASE_WINDOW + 1);
      const id = dealIdOf(d);
      const payeeSig = await signAction(w.escrow, w.payee, id, Action.Dispute);
      await expect(w.escrow.connect(w.other).actWithSig(d, Action.Dispute, d.payer, payeeSig))
        .to.be.revertedWithCustomError(w.escrow, "EscrowInvalidSignature")
        .withArgs(id, d.payer);
      // The same signature goes through under the payee's name.
      await expect(w.escrow.connect(w.other).actWithSig(d, Action.Dispute, w.payee.address, payeeSig))
        .to.emit(w.escrow, "DealDisputed")
        .withArgs(id, w.payee.address, true);
    });

    it("a wallet that approves everything speaks only for itself: naming it works because it approves (any bytes), never for the payee", async function () {
      const p = await loadFixture(yesPayerFixture);
      const id = dealIdOf(p.d);
      const payeeSig = await signAction(p.escrow, p.payee, id, Action.Dispute);
      await inSnapshot(async () => {
        // The wallet itself approves, so the dispute is the wallet's; it would approve empty bytes just the same.
        await expect(p.escrow.connect(p.other).actWithSig(p.d, Action.Dispute, p.wallet.address, payeeSig))
          .to.emit(p.escrow, "DealDisputed")
          .withArgs(id, p.wallet.address, true);
      });
      await expect(
        p.escrow.connect(p.other).actWithSig(p.d, Action.Dispute, p.wallet.address, { ...payeeSig, signature: "0x" }),
      )
        .to.emit(p.escrow, "DealDisputed")
        .withArgs(id, p.wallet.address, true);
      // It cannot stand in for the payee (an EOA): only the payee's key does.
      const other = await openedDeal(p, { payer: p.wallet.address });
      await p.escrow.connect(p.payee).perform(other);
      await time.increase(RELEASE_WINDOW + 1);
      const fresh = BigInt(await time.latest()) + 3600n;
      await expect(p.escrow.actWithSig(other, Action.Dispute, p.payee.address, { expiry: fresh, signature: "0x" }))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(other), p.payee.address);
      // And a yes-wallet that is no party to the deal is refused before it is asked.
      const stranger = await yesWallet();
      await expect(p.escrow.actWithSig(other, Action.Dispute, stranger.address, { expiry: fresh, signature: "0x" }))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(dealIdOf(other), stranger.address);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d, other] });
    });
  });
});
