import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import type { TestUSDT } from "../../../typechain-types";

const USDT = (whole: number | bigint): bigint => BigInt(whole) * 10n ** 6n;
const MAX_UINT256 = ethers.MaxUint256;

describe("TestUSDT", function () {
  /** A fresh token; the deployer is the owner; nobody holds anything. */
  async function deployFixture() {
    const [owner, alice, bob, carol, mallory] = await ethers.getSigners();
    const token: TestUSDT = await ethers.deployContract("TestUSDT", owner);
    return { token, owner, alice, bob, carol, mallory };
  }

  /** Alice holds 1,000 USDT; Bob may spend 300 of it. */
  async function fundedFixture() {
    const ctx = await deployFixture();
    const { token, alice, bob } = ctx;
    await token.mint(alice.address, USDT(1_000));
    await token.connect(alice).approve(bob.address, USDT(300));
    return ctx;
  }

  /** As `fundedFixture`, with the fee switched on: 10 bp capped at 5 USDT. */
  async function feeFixture() {
    const ctx = await fundedFixture();
    await ctx.token.setParams(10, USDT(5));
    return ctx;
  }

  describe("metadata", function () {
    it("is named Tether USD, symbol USDT, 6 decimals", async function () {
      const { token } = await loadFixture(deployFixture);
      expect(await token.name()).to.equal("Tether USD");
      expect(await token.symbol()).to.equal("USDT");
      expect(await token.decimals()).to.equal(6n);
    });

    it("starts with zero supply, no fee, not paused, the deployer as owner", async function () {
      const { token, owner } = await loadFixture(deployFixture);
      expect(await token.totalSupply()).to.equal(0n);
      expect(await token.basisPointsRate()).to.equal(0n);
      expect(await token.maximumFee()).to.equal(0n);
      expect(await token.paused()).to.equal(false);
      expect(await token.owner()).to.equal(owner.address);
    });

    it("exposes the mainnet fee bounds", async function () {
      const { token } = await loadFixture(deployFixture);
      expect(await token.MAX_BASIS_POINTS_RATE()).to.equal(20n);
      expect(await token.MAX_MAXIMUM_FEE()).to.equal(USDT(50));
    });
  });

  describe("return data (no bool, like mainnet)", function () {
    it("transfer returns no data", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      const tx = await token.connect(alice).transfer.populateTransaction(bob.address, 1n);
      expect(await ethers.provider.call({ ...tx, from: alice.address })).to.equal("0x");
    });

    it("transferFrom returns no data", async function () {
      const { token, alice, bob, carol } = await loadFixture(fundedFixture);
      const tx = await token.connect(bob).transferFrom.populateTransaction(alice.address, carol.address, 1n);
      expect(await ethers.provider.call({ ...tx, from: bob.address })).to.equal("0x");
    });

    it("approve returns no data", async function () {
      const { token, alice, carol } = await loadFixture(fundedFixture);
      const tx = await token.connect(alice).approve.populateTransaction(carol.address, 1n);
      expect(await ethers.provider.call({ ...tx, from: alice.address })).to.equal("0x");
    });

    it("a caller expecting the standard `returns (bool)` cannot decode the result", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      const erc20 = new ethers.Contract(
        await token.getAddress(),
        ["function transfer(address to, uint256 value) returns (bool)"],
        alice,
      );
      await expect(erc20.transfer.staticCall(bob.address, 1n)).to.be.rejectedWith(/could not decode result data/);
    });

    it("emits the fee Transfer before the payment Transfer, as on mainnet", async function () {
      const { token, owner, alice, bob } = await loadFixture(fundedFixture);
      await token.setParams(10, USDT(5));
      const receipt = await (await token.connect(alice).transfer(bob.address, USDT(1_000))).wait();
      const transfers = receipt!.logs.map((log) => [...token.interface.parseLog(log)!.args]);
      expect(transfers).to.deep.equal([
        [alice.address, owner.address, USDT(1)],
        [alice.address, bob.address, USDT(999)],
      ]);
    });

    it("the ABI declares no outputs for transfer, transferFrom and approve", async function () {
      const { token } = await loadFixture(deployFixture);
      for (const name of ["transfer", "transferFrom", "approve"] as const) {
        expect(token.interface.getFunction(name)!.outputs).to.have.length(0);
      }
    });
  });

  describe("transfer", function () {
    describe("validations", function () {
      it("reverts when the balance is insufficient", async function () {
        const { token, alice, bob } = await loadFixture(fundedFixture);
        await expect(token.connect(alice).transfer(bob.address, USDT(1_000) + 1n))
          .to.be.revertedWithCustomError(token, "TestUSDTInsufficientBalance")
          .withArgs(alice.address, USDT(1_000), USDT(1_000) + 1n);
      });

      it("reverts when the sender is blacklisted", async function () {
        const { token, alice, bob } = await loadFixture(fundedFixture);
        await token.addBlackList(alice.address);
        await expect(token.connect(alice).transfer(bob.address, 1n))
          .to.be.revertedWithCustomError(token, "TestUSDTBlacklisted")
          .withArgs(alice.address);
      });

      it("reverts when the recipient is blacklisted", async function () {
        const { token, alice, bob } = await loadFixture(fundedFixture);
        await token.addBlackList(bob.address);
        await expect(token.connect(alice).transfer(bob.address, 1n))
          .to.be.revertedWithCustomError(token, "TestUSDTBlacklisted")
          .withArgs(bob.address);
      });

      it("reverts while paused", async function () {
        const { token, alice, bob } = await loadFixture(fundedFixture);
        await token.pause();
        await expect(token.connect(alice).transfer(bob.address, 1n)).to.be.revertedWithCustomError(
          token,
          "TestUSDTPaused",
        );
      });
    });

    describe("effects", function () {
      it("moves the value and emits Transfer", async function () {
        const { token, alice, bob } = await loadFixture(fundedFixture);
        const tx = token.connect(alice).transfer(bob.address, USDT(250));
        await expect(tx).to.changeTokenBalances(token, [alice, bob], [-USDT(250), USDT(250)]);
        await expect(tx).to.emit(token, "Transfer").withArgs(alice.address, bob.address, USDT(250));
      });

      it("allows a zero-value transfer and the whole balance", async function () {
        const { token, alice, bob } = await loadFixture(fundedFixture);
        await expect(token.connect(alice).transfer(bob.address, 0n))
          .to.emit(token, "Transfer")
          .withArgs(alice.address, bob.address, 0n);
        await expect(token.connect(alice).transfer(bob.address, USDT(1_000))).to.changeTokenBalances(
          token,
          [alice, bob],
          [-USDT(1_000), USDT(1_000)],
        );
      });

      it("keeps the balance on a self-transfer", async function () {
        const { token, alice } = await loadFixture(fundedFixture);
        await expect(token.connect(alice).transfer(alice.address, USDT(10))).to.changeTokenBalance(token, alice, 0n);
      });
    });
  });

  describe("approve", function () {
    it("sets the allowance from zero and emits Approval", async function () {
      const { token, alice, carol } = await loadFixture(fundedFixture);
      await expect(token.connect(alice).approve(carol.address, USDT(5)))
        .to.emit(token, "Approval")
        .withArgs(alice.address, carol.address, USDT(5));
      expect(await token.allowance(alice.address, carol.address)).to.equal(USDT(5));
    });

    it("reverts changing a non-zero allowance to another non-zero value", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await expect(token.connect(alice).approve(bob.address, USDT(1)))
        .to.be.revertedWithCustomError(token, "TestUSDTApproveNonZero")
        .withArgs(alice.address, bob.address, USDT(300));
    });

    it("reverts re-approving the same non-zero value", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await expect(token.connect(alice).approve(bob.address, USDT(300)))
        .to.be.revertedWithCustomError(token, "TestUSDTApproveNonZero")
        .withArgs(alice.address, bob.address, USDT(300));
    });

    it("allows the reset-to-zero-then-set path", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await expect(token.connect(alice).approve(bob.address, 0n))
        .to.emit(token, "Approval")
        .withArgs(alice.address, bob.address, 0n);
      await expect(token.connect(alice).approve(bob.address, USDT(7)))
        .to.emit(token, "Approval")
        .withArgs(alice.address, bob.address, USDT(7));
      expect(await token.allowance(alice.address, bob.address)).to.equal(USDT(7));
    });

    it("works while paused and for blacklisted accounts", async function () {
      const { token, alice, carol } = await loadFixture(fundedFixture);
      await token.pause();
      await token.addBlackList(alice.address);
      await token.addBlackList(carol.address);
      await expect(token.connect(alice).approve(carol.address, 1n))
        .to.emit(token, "Approval")
        .withArgs(alice.address, carol.address, 1n);
    });
  });

  describe("transferFrom", function () {
    describe("validations", function () {
      it("reverts when the allowance is insufficient", async function () {
        const { token, alice, bob, carol } = await loadFixture(fundedFixture);
        await expect(token.connect(bob).transferFrom(alice.address, carol.address, USDT(300) + 1n))
          .to.be.revertedWithCustomError(token, "TestUSDTInsufficientAllowance")
          .withArgs(bob.address, USDT(300), USDT(300) + 1n);
      });

      it("reverts when the balance is insufficient", async function () {
        const { token, alice, bob, carol } = await loadFixture(fundedFixture);
        await token.connect(alice).transfer(carol.address, USDT(900));
        await expect(token.connect(bob).transferFrom(alice.address, carol.address, USDT(200)))
          .to.be.revertedWithCustomError(token, "TestUSDTInsufficientBalance")
          .withArgs(alice.address, USDT(100), USDT(200));
      });

      it("reverts when `from` is blacklisted", async function () {
        const { token, alice, bob, carol } = await loadFixture(fundedFixture);
        await token.addBlackList(alice.address);
        await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n))
          .to.be.revertedWithCustomError(token, "TestUSDTBlacklisted")
          .withArgs(alice.address);
      });

      it("reverts when `to` is blacklisted", async function () {
        const { token, alice, bob, carol } = await loadFixture(fundedFixture);
        await token.addBlackList(carol.address);
        await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n))
          .to.be.revertedWithCustomError(token, "TestUSDTBlacklisted")
          .withArgs(carol.address);
      });

      it("reverts when the spender is blacklisted", async function () {
        const { token, alice, bob, carol } = await loadFixture(fundedFixture);
        await token.addBlackList(bob.address);
        await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n))
          .to.be.revertedWithCustomError(token, "TestUSDTBlacklisted")
          .withArgs(bob.address);
      });

      it("reverts while paused", async function () {
        const { token, alice, bob, carol } = await loadFixture(fundedFixture);
        await token.pause();
        await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n)).to.be.revertedWithCustomError(
          token,
          "TestUSDTPaused",
        );
      });
    });

    describe("effects", function () {
      it("moves the value, decreases the allowance and emits Transfer only", async function () {
        const { token, alice, bob, carol } = await loadFixture(fundedFixture);
        const tx = token.connect(bob).transferFrom(alice.address, carol.address, USDT(120));
        await expect(tx).to.changeTokenBalances(token, [alice, bob, carol], [-USDT(120), 0n, USDT(120)]);
        await expect(tx).to.emit(token, "Transfer").withArgs(alice.address, carol.address, USDT(120));
        await expect(tx).not.to.emit(token, "Approval");
        expect(await token.allowance(alice.address, bob.address)).to.equal(USDT(180));
      });

      it("does not decrease an allowance of type(uint256).max", async function () {
        const { token, alice, carol, mallory } = await loadFixture(fundedFixture);
        await token.connect(alice).approve(mallory.address, MAX_UINT256);
        await token.connect(mallory).transferFrom(alice.address, carol.address, USDT(400));
        expect(await token.allowance(alice.address, mallory.address)).to.equal(MAX_UINT256);
        expect(await token.balanceOf(carol.address)).to.equal(USDT(400));
      });

      it("decreases an allowance of type(uint256).max - 1", async function () {
        const { token, alice, carol, mallory } = await loadFixture(fundedFixture);
        await token.connect(alice).approve(mallory.address, MAX_UINT256 - 1n);
        await token.connect(mallory).transferFrom(alice.address, carol.address, 5n);
        expect(await token.allowance(alice.address, mallory.address)).to.equal(MAX_UINT256 - 6n);
      });
    });
  });

  describe("blacklist", function () {
    it("adds and removes with events", async function () {
      const { token, alice } = await loadFixture(deployFixture);
      await expect(token.addBlackList(alice.address)).to.emit(token, "AddedBlackList").withArgs(alice.address);
      expect(await token.isBlackListed(alice.address)).to.equal(true);
      await expect(token.removeBlackList(alice.address)).to.emit(token, "RemovedBlackList").withArgs(alice.address);
      expect(await token.isBlackListed(alice.address)).to.equal(false);
    });

    it("lets a removed account transfer again", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await token.addBlackList(alice.address);
      await token.removeBlackList(alice.address);
      await expect(token.connect(alice).transfer(bob.address, 1n)).to.changeTokenBalance(token, bob, 1n);
    });

    it("destroyBlackFunds burns a listed account's balance", async function () {
      const { token, alice } = await loadFixture(fundedFixture);
      await token.addBlackList(alice.address);
      const tx = token.destroyBlackFunds(alice.address);
      await expect(tx).to.emit(token, "DestroyedBlackFunds").withArgs(alice.address, USDT(1_000));
      await expect(tx).to.emit(token, "Transfer").withArgs(alice.address, ethers.ZeroAddress, USDT(1_000));
      expect(await token.balanceOf(alice.address)).to.equal(0n);
      expect(await token.totalSupply()).to.equal(0n);
    });

    it("destroyBlackFunds reverts for an account not listed", async function () {
      const { token, alice } = await loadFixture(fundedFixture);
      await expect(token.destroyBlackFunds(alice.address))
        .to.be.revertedWithCustomError(token, "TestUSDTNotBlacklisted")
        .withArgs(alice.address);
    });
  });

  describe("pause", function () {
    it("pauses and unpauses with events", async function () {
      const { token } = await loadFixture(deployFixture);
      await expect(token.pause()).to.emit(token, "Pause");
      expect(await token.paused()).to.equal(true);
      await expect(token.unpause()).to.emit(token, "Unpause");
      expect(await token.paused()).to.equal(false);
    });

    it("restores transfers after unpause", async function () {
      const { token, alice, bob, carol } = await loadFixture(fundedFixture);
      await token.pause();
      await token.unpause();
      await expect(token.connect(alice).transfer(carol.address, 1n)).to.changeTokenBalance(token, carol, 1n);
      await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n)).to.changeTokenBalance(
        token,
        carol,
        1n,
      );
    });

    it("reverts pausing twice and unpausing when not paused", async function () {
      const { token } = await loadFixture(deployFixture);
      await expect(token.unpause()).to.be.revertedWithCustomError(token, "TestUSDTNotPaused");
      await token.pause();
      await expect(token.pause()).to.be.revertedWithCustomError(token, "TestUSDTPaused");
    });
  });

  describe("transfer fee", function () {
    describe("setParams", function () {
      it("sets the rate and cap and emits Params", async function () {
        const { token } = await loadFixture(deployFixture);
        await expect(token.setParams(19, USDT(50) - 1n))
          .to.emit(token, "Params")
          .withArgs(19n, USDT(50) - 1n);
        expect(await token.basisPointsRate()).to.equal(19n);
        expect(await token.maximumFee()).to.equal(USDT(50) - 1n);
      });

      it("reverts a rate of 20 bp or more", async function () {
        const { token } = await loadFixture(deployFixture);
        await expect(token.setParams(20, USDT(1)))
          .to.be.revertedWithCustomError(token, "TestUSDTInvalidParams")
          .withArgs(20n, USDT(1));
      });

      it("reverts a cap of 50 USDT or more", async function () {
        const { token } = await loadFixture(deployFixture);
        await expect(token.setParams(1, USDT(50)))
          .to.be.revertedWithCustomError(token, "TestUSDTInvalidParams")
          .withArgs(1n, USDT(50));
      });

      it("rejects values that would truncate in storage", async function () {
        const { token } = await loadFixture(deployFixture);
        await expect(token.setParams(2n ** 16n + 1n, 0n))
          .to.be.revertedWithCustomError(token, "TestUSDTInvalidParams")
          .withArgs(2n ** 16n + 1n, 0n);
        await expect(token.setParams(0n, 2n ** 64n))
          .to.be.revertedWithCustomError(token, "TestUSDTInvalidParams")
          .withArgs(0n, 2n ** 64n);
      });
    });

    describe("when on", function () {
      it("transfer: recipient gets value - fee, owner gets the fee, two Transfer events", async function () {
        const { token, owner, alice, bob } = await loadFixture(feeFixture);
        // 10 bp of 1,000 USDT = 1 USDT (under the 5 USDT cap).
        const tx = token.connect(alice).transfer(bob.address, USDT(1_000));
        await expect(tx).to.changeTokenBalances(token, [alice, bob, owner], [-USDT(1_000), USDT(999), USDT(1)]);
        await expect(tx).to.emit(token, "Transfer").withArgs(alice.address, owner.address, USDT(1));
        await expect(tx).to.emit(token, "Transfer").withArgs(alice.address, bob.address, USDT(999));
      });

      it("transferFrom: same split; the allowance drops by the full value", async function () {
        const { token, owner, alice, bob, carol } = await loadFixture(feeFixture);
        // 10 bp of 300 USDT = 0.3 USDT.
        const tx = token.connect(bob).transferFrom(alice.address, carol.address, USDT(300));
        await expect(tx).to.changeTokenBalances(
          token,
          [alice, carol, owner],
          [-USDT(300), USDT(300) - 300_000n, 300_000n],
        );
        await expect(tx).to.emit(token, "Transfer").withArgs(alice.address, owner.address, 300_000n);
        expect(await token.allowance(alice.address, bob.address)).to.equal(0n);
      });

      it("rounds the fee down", async function () {
        const { token, owner, alice, bob } = await loadFixture(feeFixture);
        // 10 bp of 1,999 base units = 1.999 -> 1.
        await expect(token.connect(alice).transfer(bob.address, 1_999n)).to.changeTokenBalances(
          token,
          [alice, bob, owner],
          [-1_999n, 1_998n, 1n],
        );
      });

      it("charges no fee (and no fee event) when it rounds to zero", async function () {
        const { token, owner, alice, bob } = await loadFixture(feeFixture);
        const tx = token.connect(alice).transfer(bob.address, 999n);
        await expect(tx).to.changeTokenBalances(token, [alice, bob, owner], [-999n, 999n, 0n]);
        const receipt = await (await tx).wait();
        const transfers = receipt!.logs
          .map((log) => token.interface.parseLog(log)!)
          .filter((e) => e.name === "Transfer");
        expect(transfers.map((e) => [...e.args])).to.deep.equal([[alice.address, bob.address, 999n]]);
      });

      it("caps the fee at maximumFee", async function () {
        const { token, owner, alice, bob } = await loadFixture(feeFixture);
        await token.mint(alice.address, USDT(99_000));
        // 10 bp of 100,000 USDT = 100 USDT, capped at 5 USDT.
        const tx = token.connect(alice).transfer(bob.address, USDT(100_000));
        await expect(tx).to.changeTokenBalances(
          token,
          [alice, bob, owner],
          [-USDT(100_000), USDT(100_000) - USDT(5), USDT(5)],
        );
        await expect(tx).to.emit(token, "Transfer").withArgs(alice.address, owner.address, USDT(5));
      });

      it("charges nothing when the cap is zero, as on mainnet", async function () {
        const { token, owner, alice, bob } = await loadFixture(fundedFixture);
        await token.setParams(19, 0);
        await expect(token.connect(alice).transfer(bob.address, USDT(1_000))).to.changeTokenBalances(
          token,
          [alice, bob, owner],
          [-USDT(1_000), USDT(1_000), 0n],
        );
      });

      it("pays the fee to the current owner after an ownership transfer", async function () {
        const { token, owner, alice, bob, carol } = await loadFixture(feeFixture);
        await token.transferOwnership(carol.address);
        await expect(token.connect(alice).transfer(bob.address, USDT(1_000))).to.changeTokenBalances(
          token,
          [owner, carol],
          [0n, USDT(1)],
        );
      });

      it("keeps the total supply constant", async function () {
        const { token, alice, bob } = await loadFixture(feeFixture);
        await token.connect(alice).transfer(bob.address, USDT(777));
        expect(await token.totalSupply()).to.equal(USDT(1_000));
      });
    });
  });

  describe("supply", function () {
    it("issue mints to the owner with Issue and Transfer", async function () {
      const { token, owner } = await loadFixture(deployFixture);
      const tx = token.issue(USDT(10));
      await expect(tx).to.emit(token, "Issue").withArgs(USDT(10));
      await expect(tx).to.emit(token, "Transfer").withArgs(ethers.ZeroAddress, owner.address, USDT(10));
      await expect(tx).to.changeTokenBalance(token, owner, USDT(10));
      expect(await token.totalSupply()).to.equal(USDT(10));
    });

    it("mint credits any account", async function () {
      const { token, alice } = await loadFixture(deployFixture);
      await expect(token.mint(alice.address, USDT(3)))
        .to.emit(token, "Transfer")
        .withArgs(ethers.ZeroAddress, alice.address, USDT(3));
      expect(await token.balanceOf(alice.address)).to.equal(USDT(3));
      expect(await token.totalSupply()).to.equal(USDT(3));
    });

    it("redeem burns from the owner with Redeem", async function () {
      const { token, owner } = await loadFixture(deployFixture);
      await token.issue(USDT(10));
      const tx = token.redeem(USDT(4));
      await expect(tx).to.emit(token, "Redeem").withArgs(USDT(4));
      await expect(tx).to.changeTokenBalance(token, owner, -USDT(4));
      expect(await token.totalSupply()).to.equal(USDT(6));
    });

    it("redeem reverts beyond the owner's balance", async function () {
      const { token, owner } = await loadFixture(deployFixture);
      await token.issue(USDT(1));
      await expect(token.redeem(USDT(1) + 1n))
        .to.be.revertedWithCustomError(token, "TestUSDTInsufficientBalance")
        .withArgs(owner.address, USDT(1), USDT(1) + 1n);
    });
  });

  describe("ownership", function () {
    it("transferOwnership hands over owner rights and emits OwnershipTransferred", async function () {
      const { token, owner, alice } = await loadFixture(deployFixture);
      await expect(token.transferOwnership(alice.address))
        .to.emit(token, "OwnershipTransferred")
        .withArgs(owner.address, alice.address);
      expect(await token.owner()).to.equal(alice.address);
      await expect(token.pause()).to.be.revertedWithCustomError(token, "TestUSDTNotOwner").withArgs(owner.address);
      await expect(token.connect(alice).pause()).to.emit(token, "Pause");
    });

    it("rejects the zero address", async function () {
      const { token } = await loadFixture(deployFixture);
      await expect(token.transferOwnership(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(token, "TestUSDTInvalidOwner")
        .withArgs(ethers.ZeroAddress);
    });

    describe("owner-only functions revert for others", function () {
      const calls: [string, (t: TestUSDT, a: string) => Promise<unknown>][] = [
        ["transferOwnership", (t, a) => t.transferOwnership(a)],
        ["issue", (t) => t.issue(1n)],
        ["redeem", (t) => t.redeem(0n)],
        ["mint", (t, a) => t.mint(a, 1n)],
        ["addBlackList", (t, a) => t.addBlackList(a)],
        ["removeBlackList", (t, a) => t.removeBlackList(a)],
        ["destroyBlackFunds", (t, a) => t.destroyBlackFunds(a)],
        ["pause", (t) => t.pause()],
        ["unpause", (t) => t.unpause()],
        ["setParams", (t) => t.setParams(1n, 1n)],
      ];
      for (const [name, call] of calls) {
        it(name, async function () {
          const { token, mallory } = await loadFixture(deployFixture);
          await expect(call(token.connect(mallory), mallory.address))
            .to.be.revertedWithCustomError(token, "TestUSDTNotOwner")
            .withArgs(mallory.address);
        });
      }
    });
  });

  describe("storage layout", function () {
    it("packs owner, paused, basisPointsRate and maximumFee into slot 0", async function () {
      const { token, owner } = await loadFixture(deployFixture);
      await token.setParams(19, USDT(49));
      await token.pause();
      const slot0 = BigInt(await ethers.provider.getStorage(await token.getAddress(), 0));
      const mask = (bits: bigint) => (1n << bits) - 1n;
      expect(ethers.getAddress(ethers.toBeHex(slot0 & mask(160n), 20))).to.equal(owner.address);
      expect((slot0 >> 160n) & mask(8n)).to.equal(1n);
      expect((slot0 >> 168n) & mask(16n)).to.equal(19n);
      expect((slot0 >> 184n) & mask(64n)).to.equal(USDT(49));
    });
  });
});
