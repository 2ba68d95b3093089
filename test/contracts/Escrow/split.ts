import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import { DAY, dealIdOf, KINDS, loadFixture, makeDeal, openDeal, openKind, RELEASE_WINDOW } from "../fixtures";
import { signSplit, Status, UNBONDING_DELAY } from "../fixtures";
import { AMOUNT, expectSettlement, FINAL_STATES, openDisputes, openInState, type LiveState } from "./shared/deals";
import { FINAL_STATUS, itChecksSignatures, PARTIAL, payoutOf, protocolWithWallets } from "./shared/signed";
import { setupWithWallets, split, type WalletCtx } from "./shared/signed";

describe("Escrow.splitWithSigs", function () {
  describe("validations", function () {
    it("when the deal was never opened → it reverts EscrowUnknownDeal", async function () {
      const p = await loadFixture(protocolWithWallets);
      const deal = await makeDeal(p);
      const c: WalletCtx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payer, payee: p.payee };
      await expect(split(c, PARTIAL)).to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal").withArgs(c.id);
    });

    it("when a field differs from the opened deal (amount + 1) → it reverts EscrowUnknownDeal", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      await expect(split({ ...c, deal: { ...c.deal, amount: c.deal.amount + 1n } }, PARTIAL))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
        .withArgs(c.id);
    });

    for (const state of FINAL_STATES) {
      it(`when the deal is final (${state}) → it reverts EscrowWrongStatus(dealId, ${state})`, async function () {
        const c = await setupWithWallets("Payment", state);
        await expect(split(c, PARTIAL))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, FINAL_STATUS[state]);
      });
    }

    it("when payeeAmount > amount (both signed it) → it reverts EscrowPayeeAmountTooHigh(dealId, payeeAmount, amount)", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      await expect(split(c, AMOUNT + 1n))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowPayeeAmountTooHigh")
        .withArgs(c.id, AMOUNT + 1n, AMOUNT);
    });

    it("when the same signatures are submitted again → it reverts EscrowWrongStatus(dealId, Split)", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      const payerAuth = await signSplit(c.p.escrow, c.payer, c.id, PARTIAL);
      const payeeAuth = await signSplit(c.p.escrow, c.payee, c.id, PARTIAL);
      await c.p.escrow.connect(c.p.other).splitWithSigs(c.deal, PARTIAL, payerAuth, payeeAuth);
      await expect(c.p.escrow.connect(c.p.other).splitWithSigs(c.deal, PARTIAL, payerAuth, payeeAuth))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
        .withArgs(c.id, Status.Split);
    });
  });

  itChecksSignatures("Split", ["payer", "payee"], ["payeeAmount"], (c) => ({
    msg: { dealId: c.id, payeeAmount: PARTIAL },
    other: { payeeAmount: PARTIAL + 1n },
    key: { payer: c.payer, payee: c.payee },
    address: { payer: c.deal.payer, payee: c.deal.payee },
    sign: (key, m, expiry) => signSplit(c.p.escrow, key, String(m.dealId), BigInt(String(m.payeeAmount)), expiry),
    submit: ([payerAuth, payeeAuth]) =>
      c.p.escrow.connect(c.p.other).splitWithSigs(c.deal, PARTIAL, payerAuth!, payeeAuth!),
    succeeded: async (tx) => {
      const { payeeNet, fee, refund } = payoutOf(c, PARTIAL);
      await expect(tx).to.emit(c.p.escrow, "DealSplit").withArgs(c.id, payeeNet, fee, refund);
    },
  }));

  describe("ERC-1271 wallets as parties", function () {
    /** A payment from `payerWallet` (or the payer EOA) to `payeeWallet` (or the payee EOA), performed. */
    async function walletDeal(payerIsWallet: boolean, payeeIsWallet: boolean) {
      const p = await loadFixture(protocolWithWallets);
      const escrow = await p.escrow.getAddress();
      const payer = payerIsWallet ? await p.payerWallet.getAddress() : p.payer.address;
      const payee = payeeIsWallet ? await p.payeeWallet.getAddress() : p.payee.address;
      const deal = await makeDeal(p, { payer, payee });
      if (payerIsWallet) {
        const usdt = await p.usdt.getAddress();
        const approve = p.usdt.interface.encodeFunctionData("approve", [escrow, deal.amount]);
        await p.payerWallet.connect(p.payer).execute(usdt, 0, approve);
        await p.payerWallet
          .connect(p.payer)
          .execute(escrow, 0, p.escrow.interface.encodeFunctionData("open", [deal, ethers.ZeroHash]));
      } else {
        await openDeal(p, deal);
      }
      if (payeeIsWallet) {
        await p.payeeWallet
          .connect(p.payee)
          .execute(escrow, 0, p.escrow.interface.encodeFunctionData("perform", [deal]));
      } else {
        await p.escrow.connect(p.payee).perform(deal);
      }
      const c: WalletCtx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payer, payee: p.payee };
      return c;
    }

    const combos: [boolean, boolean, string][] = [
      [true, false, "the payer is a wallet and its owner signed"],
      [false, true, "the payee is a wallet and its owner signed"],
      [true, true, "both are wallets and their owners signed"],
    ];
    for (const [payerIsWallet, payeeIsWallet, name] of combos) {
      it(`when ${name} → it splits`, async function () {
        // The wallets' owners are the payer and payee EOAs, so `split` signs with the owners' keys.
        const c = await walletDeal(payerIsWallet, payeeIsWallet);
        await expectSettlement(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
      });
    }

    it("when the payer is a wallet and another key signed for it → it reverts EscrowInvalidSignature(dealId, wallet)", async function () {
      const c = await walletDeal(true, false);
      const payerAuth = await signSplit(c.p.escrow, c.p.other, c.id, PARTIAL);
      const payeeAuth = await signSplit(c.p.escrow, c.payee, c.id, PARTIAL);
      await expect(c.p.escrow.splitWithSigs(c.deal, PARTIAL, payerAuth, payeeAuth))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
        .withArgs(c.id, c.deal.payer);
    });

    it("when the payee is a wallet and another key signed for it → it reverts EscrowInvalidSignature(dealId, wallet)", async function () {
      const c = await walletDeal(false, true);
      const payerAuth = await signSplit(c.p.escrow, c.payer, c.id, PARTIAL);
      const payeeAuth = await signSplit(c.p.escrow, c.p.other, c.id, PARTIAL);
      await expect(c.p.escrow.splitWithSigs(c.deal, PARTIAL, payerAuth, payeeAuth))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
        .withArgs(c.id, c.deal.payee);
    });
  });

  describe("effects and transfers", function () {
    const states: LiveState[] = ["Open", "OpenPastDeadline", "OpenReleased", "Performed", "Disputed"];
    const shares: [string, (amount: bigint) => bigint][] = [
      ["0 (all back)", () => 0n],
      ["33.333333 (fee rounds down)", () => PARTIAL],
      ["the whole amount (nothing back)", (amount) => amount],
    ];
    for (const kind of KINDS) {
      for (const state of states) {
        for (const [shareName, share] of shares) {
          const refundTo = kind === "OnRamp" ? "the acceptor's free float (locked drops by amount)" : "the payer";
          it(`${kind}, ${state}, payeeAmount ${shareName} → Split; DealSplit; payee gets payeeAmount − fee, fee owed to the gateway, the rest to ${refundTo}`, async function () {
            const c = await setupWithWallets(kind, state);
            const payeeAmount = share(c.deal.amount);
            const e = payoutOf(c, payeeAmount);
            const tx = await expectSettlement(c, () => split(c, payeeAmount), e, Status.Split);
            await expect(tx).to.emit(c.p.escrow, "DealSplit").withArgs(c.id, e.payeeNet, e.fee, e.refund);
          });
        }
      }
    }

    it("when the fee has a fraction (33.333333 USDT at 50 bps) → it is floor(payeeAmount × feeBps / 10,000): 0.166666 USDT", async function () {
      const c = await setupWithWallets("Payment", "Performed");
      await expect(split(c, PARTIAL))
        .to.emit(c.p.escrow, "DealSplit")
        .withArgs(c.id, 33_166_667n, 166_666n, 66_666_667n);
    });

    it("when the gateway changed its fee since the open → the deal's feeBps still applies", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      await c.p.registry.connect(c.p.gateway).setGatewayFee(250);
      await expectSettlement(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
    });
  });

  describe("the gateway's dispute counter", function () {
    it("when the deal is a dispute the gateway holds → its open-dispute counter drops by 1", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      await openInState(c.p, "OnRamp", "Disputed");
      expect(await openDisputes(c.p)).to.equal(2n);
      await expect(split(c, PARTIAL)).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.deal.gateway, 1n);
      expect(await openDisputes(c.p)).to.equal(1n);
    });

    it("when the payee raised the held dispute after the release window → the counter drops by 1 too", async function () {
      const c = await setupWithWallets("Payment", "Performed");
      await time.increase(RELEASE_WINDOW + 1);
      await c.p.escrow.connect(c.payee).dispute(c.deal);
      expect(await openDisputes(c.p)).to.equal(1n);
      await expectSettlement(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
      expect(await openDisputes(c.p)).to.equal(0n);
    });

    it("when the deal is a dispute the gateway does not hold (raised while it was exiting) → the counter does not move", async function () {
      const held = await setupWithWallets("Payment", "Disputed");
      const c = await openInState(held.p, "Payment", "Performed");
      await c.p.registry.connect(c.p.gateway).requestExit();
      await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
        .to.emit(c.p.escrow, "DealDisputed")
        .withArgs(c.id, c.deal.payer, false);
      expect(await openDisputes(c.p)).to.equal(1n);
      await expect(split(c, PARTIAL)).not.to.emit(c.p.registry, "GatewayDisputesChanged");
      expect(await openDisputes(c.p)).to.equal(1n);
    });

    for (const state of ["Open", "Performed"] as const) {
      it(`when the deal is ${state} → the counter does not move`, async function () {
        const held = await setupWithWallets("Payment", "Disputed");
        const c = await openInState(held.p, "Payment", state);
        await expect(split(c, PARTIAL)).not.to.emit(c.p.registry, "GatewayDisputesChanged");
        expect(await openDisputes(c.p)).to.equal(1n);
      });
    }

    it("when the registry refuses to uncount the held dispute → DisputeCountSkipped(dealId, gateway, false) and it splits", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      await c.p.registry.connect(c.p.admin).revokeRole(await c.p.registry.ESCROW_ROLE(), await c.p.escrow.getAddress());
      const tx = await expectSettlement(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
      await expect(tx).to.emit(c.p.escrow, "DisputeCountSkipped").withArgs(c.id, c.deal.gateway, false);
      expect(await openDisputes(c.p), "the counter drifted (the audit reports it)").to.equal(1n);
    });
  });

  describe("exits: no pause, sanction or token freeze blocks it", function () {
    it("when the registry is paused and the gateway suspended → it splits a held dispute and uncounts it", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      await c.p.registry.connect(c.p.pauser).pause();
      await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
      await expectSettlement(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
      expect(await openDisputes(c.p)).to.equal(0n);
    });

    it("when the gateway has exited → it splits (the fee is still owed to the gateway)", async function () {
      const p = await loadFixture(protocolWithWallets);
      const c = await openKind(p, "OnRamp", { deadline: BigInt((await time.latest()) + 30 * DAY) });
      await p.registry.connect(p.gateway).requestExit();
      await time.increase(UNBONDING_DELAY);
      await p.registry.connect(p.gateway).completeExit();
      await expectSettlement(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
    });

    it("when the token is paused → both pushes are owed instead (PayoutDeferred), the fee owed to the gateway", async function () {
      const c = await setupWithWallets("Payment", "Disputed");
      const { p, deal } = c;
      const e = payoutOf(c, PARTIAL);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).pause();
      const tx = await split(c, PARTIAL);
      await expect(tx).to.emit(p.escrow, "DealSplit").withArgs(c.id, e.payeeNet, e.fee, e.refund);
      await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(c.id, usdt, deal.payer, e.refund);
      await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(c.id, usdt, deal.payee, e.payeeNet);
      await expect(tx).to.changeTokenBalances(p.usdt, [deal.payer, deal.payee, await p.escrow.getAddress()], [0, 0, 0]);
      expect(await p.escrow.owed(usdt, deal.payer)).to.equal(e.refund);
      expect(await p.escrow.owed(usdt, deal.payee)).to.equal(e.payeeNet);
      expect(await p.escrow.owed(usdt, deal.gateway)).to.equal(e.fee);
      expect((await p.escrow.getDeal(c.id)).status).to.equal(Status.Split);
      expect(await openDisputes(p)).to.equal(0n);
      await p.usdt.connect(p.admin).unpause();
      await expect(p.escrow.claimOwed(usdt, deal.payee)).to.changeTokenBalance(p.usdt, deal.payee, e.payeeNet);
    });

    it("when the token is paused and the kind is OnRamp → the payee's push is owed, the refund still reaches the float", async function () {
      const c = await setupWithWallets("OnRamp", "Disputed");
      const { p, deal } = c;
      const e = payoutOf(c, PARTIAL);
      const usdt = await p.usdt.getAddress();
      const before = await p.escrow.floatOf(deal.payer, usdt);
      await p.usdt.connect(p.admin).pause();
      const tx = await split(c, PARTIAL);
      await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(c.id, usdt, deal.payee, e.payeeNet);
      const after = await p.escrow.floatOf(deal.payer, usdt);
      expect([after.free - before.free, before.locked - after.locked]).to.deep.equal([e.refund, deal.amount]);
      expect(await p.escrow.owed(usdt, deal.payee)).to.equal(e.payeeNet);
    });
  });
});
