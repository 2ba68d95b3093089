import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { expect } from "chai";
import { ethers } from "hardhat";
import type { HostileToken, TestERC20 } from "../../../typechain-types";

import { AcceptorStatus, approveExactly, dealIdOf, deployProtocol, feeOf, loadFixture, makeDeal } from "../fixtures";
import { PAYOUT_GAS, USDT, type Protocol } from "../fixtures";
import { BURN_GAS_LIMIT, expectFloat, expectRefusedUnlessActiveAcceptor, FLOAT } from "./shared/opening";
import { itIsRefusedByTheRegistry, makeDelegateLockDeal, REF, UINT96_MAX, withFloat } from "./shared/opening";
import { withPerformedDeal, withReleasedDeal } from "./shared/opening";

describe("Escrow.depositFloat", function () {
  describe("validations", function () {
    describe("when the registry refuses", function () {
      itIsRefusedByTheRegistry(deployProtocol, async (p) => {
        await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), FLOAT);
        const usdt = await p.usdt.getAddress();
        return () => p.escrow.connect(p.acceptor).depositFloat(usdt, FLOAT);
      });
    });

    it("when the token was never allowlisted or was disallowed → it reverts RegistryTokenNotAllowed", async function () {
      const p = await loadFixture(deployProtocol);
      await p.registry.connect(p.governor).setTokenAllowed(await p.dai.getAddress(), false);
      await expect(p.escrow.connect(p.acceptor).depositFloat(await p.dai.getAddress(), 1n))
        .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
        .withArgs(await p.dai.getAddress());
      const stray: TestERC20 = await ethers.deployContract("TestERC20", ["Stray", "STR", 6]);
      await expect(p.escrow.connect(p.acceptor).depositFloat(await stray.getAddress(), 1n))
        .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
        .withArgs(await stray.getAddress());
    });

    it("when the caller is not an Active acceptor → it reverts RegistryAcceptorWrongStatus", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      // the delegate is not the acceptor
      await expect(p.escrow.connect(p.delegate).depositFloat(usdt, FLOAT))
        .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
        .withArgs(p.delegate.address, AcceptorStatus.None);
      await expectRefusedUnlessActiveAcceptor(p, async (acceptor) =>
        p.escrow.connect(acceptor).depositFloat(usdt, FLOAT),
      );
    });

    it("when the acceptor's gateway was suspended and is reinstated → it deposits again", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
      await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), FLOAT);
      await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, FLOAT))
        .to.be.revertedWithCustomError(p.registry, "RegistryGatewaySuspended")
        .withArgs(p.gateway.address);
      await p.registry.connect(p.governor).reinstateGateway(p.gateway.address);
      await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, FLOAT))
        .to.emit(p.escrow, "FloatDeposited")
        .withArgs(p.acceptor.address, usdt, FLOAT);
    });

    it("when the amount is zero or above type(uint96).max → it reverts EscrowInvalidAmount", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      for (const amount of [0n, UINT96_MAX + 1n, 2n ** 128n, ethers.MaxUint256]) {
        await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, amount))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidAmount")
          .withArgs(amount);
      }
    });

    it("when the amount is type(uint96).max without the allowance → it passes the check and the token reverts (USDT burns the gas)", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, UINT96_MAX, { gasLimit: BURN_GAS_LIMIT })).to.be
        .reverted;
      expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(0n);
    });
  });

  describe("effects, events and transfers", function () {
    it("when every check passes → it credits the free float and emits FloatDeposited", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), FLOAT);
      const tx = p.escrow.connect(p.acceptor).depositFloat(usdt, FLOAT);
      await expect(tx).to.emit(p.escrow, "FloatDeposited").withArgs(p.acceptor.address, usdt, FLOAT);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [-FLOAT, FLOAT]);
      let f = await p.escrow.floatOf(p.acceptor.address, usdt);
      expect(f.free).to.equal(FLOAT);
      expect(f.locked).to.equal(0n);

      // a second deposit adds up
      await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), USDT(5));
      await p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(5));
      f = await p.escrow.floatOf(p.acceptor.address, usdt);
      expect(f.free).to.equal(FLOAT + USDT(5));
    });

    it("when USDT charges a transfer fee → it credits exactly what arrived (below and at the fee cap)", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).setParams(10, 5); // 0.1%, capped at 5 whole USDT
      expect(await p.usdt.maximumFee()).to.equal(USDT(5));
      let credited = 0n;
      // 1,000 USDT pays 1 USDT of fee; 10,000 USDT would pay 10 but the cap is 5
      for (const [amount, fee] of [
        [FLOAT, USDT(1)],
        [USDT(10_000), USDT(5)],
      ]) {
        await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), amount);
        const tx = p.escrow.connect(p.acceptor).depositFloat(usdt, amount);
        await expect(tx)
          .to.emit(p.escrow, "FloatDeposited")
          .withArgs(p.acceptor.address, usdt, amount - fee);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow, p.admin], [-amount, amount - fee, fee]);
        credited += amount - fee;
        expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(credited);
      }
      // the escrow holds exactly the credited float
      expect(await p.usdt.balanceOf(await p.escrow.getAddress())).to.equal(credited);
    });

    it("when the token is DAI → it keeps floats per token", async function () {
      const p = await loadFixture(deployProtocol);
      const dai = await p.dai.getAddress();
      const amount = ethers.parseEther("123");
      await p.dai.connect(p.acceptor).approve(await p.escrow.getAddress(), amount);
      const tx = p.escrow.connect(p.acceptor).depositFloat(dai, amount);
      await expect(tx).to.emit(p.escrow, "FloatDeposited").withArgs(p.acceptor.address, dai, amount);
      await expect(tx).to.changeTokenBalances(p.dai, [p.acceptor, p.escrow], [-amount, amount]);
      expect((await p.escrow.floatOf(p.acceptor.address, dai)).free).to.equal(amount);
      expect((await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress())).free).to.equal(0n);
    });
  });
});

describe("Escrow.withdrawFloat", function () {
  describe("validations", function () {
    it("when the amount is zero → it reverts EscrowInvalidAmount", async function () {
      const p = await loadFixture(withFloat);
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(await p.usdt.getAddress(), 0))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidAmount")
        .withArgs(0);
    });

    it("when the amount is above the free float → it reverts EscrowInsufficientFloat (nobody else can draw on it)", async function () {
      const p = await loadFixture(withFloat);
      const usdt = await p.usdt.getAddress();
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT + 1n))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
        .withArgs(p.acceptor.address, usdt, FLOAT, FLOAT + 1n);
      // the delegate and strangers have no float
      for (const s of [p.delegate, p.other]) {
        await expect(p.escrow.connect(s).withdrawFloat(usdt, 1n))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(s.address, usdt, 0, 1n);
      }
    });

    it("when part of the float is locked → it reverts EscrowInsufficientFloat above the free part and pays the free part", async function () {
      const p = await loadFixture(withFloat);
      const usdt = await p.usdt.getAddress();
      const deal = await makeDelegateLockDeal(p, { amount: USDT(600) });
      await p.escrow.connect(p.delegate).lock(deal, REF);
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(400) + 1n))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
        .withArgs(p.acceptor.address, usdt, USDT(400), USDT(400) + 1n);
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(400))).to.changeTokenBalances(
        p.usdt,
        [p.acceptor, p.escrow],
        [USDT(400), -USDT(400)],
      );
      await expectFloat(p, 0n, USDT(600));
    });

    it("when the token is paused → it reverts without data and keeps the float", async function () {
      const p = await loadFixture(withFloat);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).pause();
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT)).to.be.revertedWithoutReason();
      expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(FLOAT);
    });
  });

  describe("effects, events and transfers", function () {
    it("when the amount is free → it pays the acceptor and emits FloatWithdrawn", async function () {
      const p = await loadFixture(withFloat);
      const usdt = await p.usdt.getAddress();
      const tx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(300));
      await expect(tx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, USDT(300));
      await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [USDT(300), -USDT(300)]);
      expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(FLOAT - USDT(300));
    });

    it("when the registry is paused → it still pays", async function () {
      const p = await loadFixture(withFloat);
      const usdt = await p.usdt.getAddress();
      await p.registry.connect(p.pauser).pause();
      const tx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT);
      await expect(tx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, FLOAT);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [FLOAT, -FLOAT]);
      expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(0n);
    });

    it("when the acceptor and its gateway are suspended, and the gateway exits → it still pays", async function () {
      const p = await loadFixture(withFloat);
      const usdt = await p.usdt.getAddress();
      await p.registry.connect(p.governor).suspendAcceptor(p.acceptor.address);
      await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
      await p.registry.connect(p.gateway).requestExit();
      const tx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT);
      await expect(tx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, FLOAT);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [FLOAT, -FLOAT]);
    });

    it("when the acceptor is blacklisted by USDT → it still pays (USDT checks only the sender, here the escrow)", async function () {
      const p = await loadFixture(withFloat);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).addBlackList(p.acceptor.address);
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT)).to.changeTokenBalances(
        p.usdt,
        [p.acceptor, p.escrow],
        [FLOAT, -FLOAT],
      );
    });
  });
});

describe("Escrow.claimOwed", function () {
  /** claimOwed of `account`'s `amount` of USDT, sent by `by`: OwedClaimed, and the amount moves from the escrow to
   * `account` (nothing to the sender when it is someone else). */
  async function expectClaimed(p: Protocol, by: HardhatEthersSigner, account: HardhatEthersSigner, amount: bigint) {
    const usdt = await p.usdt.getAddress();
    const tx = p.escrow.connect(by).claimOwed(usdt, account.address);
    await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, account.address, amount);
    const others = by === account ? [] : [by];
    await expect(tx).to.changeTokenBalances(
      p.usdt,
      [account, ...others, p.escrow],
      [amount, ...others.map(() => 0n), -amount],
    );
  }

  it("when nothing is owed → it reverts EscrowNothingOwed", async function () {
    const p = await loadFixture(deployProtocol);
    const usdt = await p.usdt.getAddress();
    await expect(p.escrow.connect(p.gateway).claimOwed(usdt, p.gateway.address))
      .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
      .withArgs(usdt, p.gateway.address);
  });

  it("when the gateway is owed its fee → it pays the gateway, whoever calls, and resets the balance", async function () {
    const p = await loadFixture(withReleasedDeal);
    const usdt = await p.usdt.getAddress();
    expect(p.fee).to.be.greaterThan(0n);
    expect(await p.escrow.owed(usdt, p.gateway.address)).to.equal(p.fee);
    await expectClaimed(p, p.other, p.gateway, p.fee);
    expect(await p.escrow.owed(usdt, p.gateway.address)).to.equal(0n);
    await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address))
      .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
      .withArgs(usdt, p.gateway.address);
    // the balance is per token
    await expect(p.escrow.connect(p.other).claimOwed(await p.dai.getAddress(), p.gateway.address))
      .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
      .withArgs(await p.dai.getAddress(), p.gateway.address);
  });

  it("when the token is paused → it reverts without data and keeps the amount owed; once unpaused it pays", async function () {
    const p = await loadFixture(withReleasedDeal);
    const usdt = await p.usdt.getAddress();
    await p.usdt.connect(p.admin).pause();
    await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.be.revertedWithoutReason();
    expect(await p.escrow.owed(usdt, p.gateway.address)).to.equal(p.fee);
    await p.usdt.connect(p.admin).unpause();
    await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.changeTokenBalances(
      p.usdt,
      [p.gateway, p.escrow],
      [p.fee, -p.fee],
    );
  });

  it("when the registry is paused → it still pays", async function () {
    const p = await loadFixture(withReleasedDeal);
    await p.registry.connect(p.pauser).pause();
    await expectClaimed(p, p.gateway, p.gateway, p.fee);
  });

  it("when a release was deferred by a paused token → after the unpause it pays the payee in full", async function () {
    const p = await loadFixture(withPerformedDeal);
    const usdt = await p.usdt.getAddress();
    await p.usdt.connect(p.admin).pause();
    await expect(p.escrow.connect(p.payer).release(p.deal))
      .to.emit(p.escrow, "PayoutDeferred")
      .withArgs(dealIdOf(p.deal), usdt, p.payee.address, p.net);
    expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(p.net);
    await p.usdt.connect(p.admin).unpause();
    await expectClaimed(p, p.other, p.payee, p.net);
    expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(0n);
  });

  it("when the escrow itself is blacklisted → the payout is owed, claimOwed reverts without data while listed and pays once unlisted", async function () {
    const p = await loadFixture(withPerformedDeal);
    const usdt = await p.usdt.getAddress();
    const escrow = await p.escrow.getAddress();
    await p.usdt.connect(p.admin).addBlackList(escrow);
    await expect(p.escrow.connect(p.payer).release(p.deal))
      .to.emit(p.escrow, "PayoutDeferred")
      .withArgs(dealIdOf(p.deal), usdt, p.payee.address, p.net);
    await expect(p.escrow.connect(p.other).claimOwed(usdt, p.payee.address)).to.be.revertedWithoutReason();
    expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(p.net);

    await p.usdt.connect(p.admin).removeBlackList(escrow);
    await expectClaimed(p, p.other, p.payee, p.net);
  });

  it("when the payee is blacklisted by USDT → the release pays it (frozen in its wallet) and nothing is owed", async function () {
    const p = await loadFixture(withPerformedDeal);
    const usdt = await p.usdt.getAddress();
    await p.usdt.connect(p.admin).addBlackList(p.payee.address);
    const tx = p.escrow.connect(p.payer).release(p.deal);
    await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
    await expect(tx).to.changeTokenBalances(p.usdt, [p.payee, p.escrow], [p.net, -p.net]);
    await expect(p.escrow.connect(p.other).claimOwed(usdt, p.payee.address))
      .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
      .withArgs(usdt, p.payee.address);
  });

  it("when a payout needs more than PAYOUT_GAS → the release defers it and claimOwed pays it with all the gas given", async function () {
    const p = await loadFixture(deployProtocol);
    const hostile: HostileToken = await ethers.deployContract("HostileToken", ["Heavy", "HVY"]);
    const token = await hostile.getAddress();
    await p.registry.connect(p.governor).setTokenAllowed(token, true);
    await hostile.mint(p.payer.address, USDT(1_000));
    const deal = await makeDeal(p, { token });
    await hostile.connect(p.payer).approve(await p.escrow.getAddress(), deal.amount);
    await p.escrow.connect(p.payer).open(deal, REF);
    await p.escrow.connect(p.payee).perform(deal);
    // Every transfer of the token first runs a call that burns all the gas it gets (USDT's `assert` on a sender
    // without balance): under PAYOUT_GAS nothing is left for the transfer itself.
    await hostile.arm(
      await p.usdt.getAddress(),
      p.usdt.interface.encodeFunctionData("transfer", [p.other.address, 1n]),
    );
    const net = deal.amount - feeOf(deal.amount, deal.feeBps);
    await expect(p.escrow.connect(p.payer).release(deal))
      .to.emit(p.escrow, "PayoutDeferred")
      .withArgs(dealIdOf(deal), token, p.payee.address, net);
    expect(await p.escrow.owed(token, p.payee.address)).to.equal(net);

    const tx = p.escrow.connect(p.other).claimOwed(token, p.payee.address, { gasLimit: 8_000_000 });
    await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(token, p.payee.address, net);
    await expect(tx).to.changeTokenBalances(hostile, [p.payee, p.escrow], [net, -net]);
    const receipt = await (await tx).wait();
    expect(receipt!.gasUsed).to.be.greaterThan(BigInt(PAYOUT_GAS));
  });
});
