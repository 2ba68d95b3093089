import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import type { HostileToken, TestERC20, TestUSDT } from "../../../typechain-types";

describe("HostileToken", function () {
  /** Alice holds 100 HOST and lets Bob spend 50; a TestUSDT (owned by the deployer) and a TestERC20 serve as targets. */
  async function deployFixture() {
    const [deployer, alice, bob, carol] = await ethers.getSigners();
    const token: HostileToken = await ethers.deployContract("HostileToken", ["Hostile", "HOST"], deployer);
    const usdt: TestUSDT = await ethers.deployContract("TestUSDT", deployer);
    const other: TestERC20 = await ethers.deployContract("TestERC20", ["Other", "OTH", 18], deployer);
    await token.mint(alice.address, 100n);
    await token.connect(alice).approve(bob.address, 50n);
    return { token, usdt, other, deployer, alice, bob, carol };
  }

  describe("arm / disarm", function () {
    it("arm stores the callback and emits Armed", async function () {
      const { token, other, carol } = await loadFixture(deployFixture);
      const data = other.interface.encodeFunctionData("mint", [carol.address, 1n]);
      await expect(token.arm(await other.getAddress(), data))
        .to.emit(token, "Armed")
        .withArgs(await other.getAddress(), data);
      expect(await token.armed()).to.deep.equal([true, await other.getAddress(), data]);
    });

    it("disarm cancels the callback", async function () {
      const { token, other, alice, carol } = await loadFixture(deployFixture);
      await token.arm(await other.getAddress(), other.interface.encodeFunctionData("mint", [carol.address, 1n]));
      await expect(token.disarm()).to.emit(token, "Disarmed");
      expect(await token.armed()).to.deep.equal([false, ethers.ZeroAddress, "0x"]);
      await expect(token.connect(alice).transfer(carol.address, 1n)).not.to.emit(token, "CallbackMade");
      expect(await other.balanceOf(carol.address)).to.equal(0n);
    });
  });

  describe("callback", function () {
    it("transfer calls the target before moving balances, once", async function () {
      const { token, other, alice, carol } = await loadFixture(deployFixture);
      const target = await other.getAddress();
      await token.arm(target, other.interface.encodeFunctionData("mint", [carol.address, 7n]));

      const tx = token.connect(alice).transfer(carol.address, 10n);
      await expect(tx).to.emit(token, "CallbackMade").withArgs(target, true, "0x");
      await expect(tx).to.changeTokenBalances(token, [alice, carol], [-10n, 10n]);
      expect(await other.balanceOf(carol.address)).to.equal(7n);
      expect(await token.lastCallFailed()).to.equal(false);
      expect(await token.lastRevertData()).to.equal("0x");
      expect((await token.armed())[0]).to.equal(false);

      await expect(token.connect(alice).transfer(carol.address, 1n)).not.to.emit(token, "CallbackMade");
      expect(await other.balanceOf(carol.address)).to.equal(7n);
    });

    it("transferFrom fires the callback too", async function () {
      const { token, other, alice, bob, carol } = await loadFixture(deployFixture);
      await token.arm(await other.getAddress(), other.interface.encodeFunctionData("mint", [carol.address, 3n]));
      const tx = token.connect(bob).transferFrom(alice.address, carol.address, 50n);
      await expect(tx).to.emit(token, "CallbackMade");
      await expect(tx).to.changeTokenBalances(token, [alice, carol], [-50n, 50n]);
      expect(await other.balanceOf(carol.address)).to.equal(3n);
    });

    it("records a reverted inner call without bubbling it", async function () {
      const { token, other, alice, carol } = await loadFixture(deployFixture);
      const target = await other.getAddress();
      // The hostile token has no allowance from alice at `other`: ERC20InsufficientAllowance(hostile, 0, 1).
      await token.arm(target, other.interface.encodeFunctionData("transferFrom", [alice.address, carol.address, 1n]));
      const expected = other.interface.encodeErrorResult("ERC20InsufficientAllowance", [
        await token.getAddress(),
        0n,
        1n,
      ]);

      const tx = token.connect(alice).transfer(carol.address, 10n);
      await expect(tx).to.emit(token, "CallbackMade").withArgs(target, false, expected);
      await expect(tx).to.changeTokenBalance(token, carol, 10n);
      expect(await token.lastCallFailed()).to.equal(true);
      expect(await token.lastRevertData()).to.equal(expected);
    });

    it("records an inner call that reverts without data (mainnet-faithful USDT) as a failure with empty data", async function () {
      const { token, usdt, alice, carol } = await loadFixture(deployFixture);
      await token.arm(await usdt.getAddress(), usdt.interface.encodeFunctionData("pause"));
      const tx = token.connect(alice).transfer(carol.address, 10n);
      await expect(tx)
        .to.emit(token, "CallbackMade")
        .withArgs(await usdt.getAddress(), false, "0x");
      expect(await token.lastCallFailed()).to.equal(true);
    });

    it("a later successful callback clears the recorded failure", async function () {
      const { token, usdt, other, alice, carol } = await loadFixture(deployFixture);
      await token.arm(await usdt.getAddress(), usdt.interface.encodeFunctionData("pause"));
      await token.connect(alice).transfer(carol.address, 1n);
      await token.arm(await other.getAddress(), other.interface.encodeFunctionData("mint", [carol.address, 1n]));
      await token.connect(alice).transfer(carol.address, 1n);
      expect(await token.lastCallFailed()).to.equal(false);
      expect(await token.lastRevertData()).to.equal("0x");
    });

    it("does not recurse when the callback re-enters the token itself", async function () {
      const { token, alice, carol } = await loadFixture(deployFixture);
      const self = await token.getAddress();
      await token.mint(self, 5n);
      await token.arm(self, token.interface.encodeFunctionData("transfer", [carol.address, 5n]));

      const tx = token.connect(alice).transfer(carol.address, 1n);
      await expect(tx).to.changeTokenBalances(token, [alice, self, carol], [-1n, -5n, 6n]);
      const receipt = await (await tx).wait();
      const callbacks = receipt!.logs.filter((log) => token.interface.parseLog(log)?.name === "CallbackMade");
      expect(callbacks).to.have.length(1);
    });
  });

  describe("setFailTransfers", function () {
    it("blocks transfer and transferFrom, and can be lifted", async function () {
      const { token, alice, bob, carol } = await loadFixture(deployFixture);
      await expect(token.setFailTransfers(true)).to.emit(token, "FailTransfersSet").withArgs(true);
      expect(await token.failTransfers()).to.equal(true);
      await expect(token.connect(alice).transfer(carol.address, 1n)).to.be.revertedWithCustomError(
        token,
        "HostileTokenTransferBlocked",
      );
      await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n)).to.be.revertedWithCustomError(
        token,
        "HostileTokenTransferBlocked",
      );

      await token.setFailTransfers(false);
      await expect(token.connect(alice).transfer(carol.address, 1n)).to.changeTokenBalance(token, carol, 1n);
    });

    it("does not block minting", async function () {
      const { token, carol } = await loadFixture(deployFixture);
      await token.setFailTransfers(true);
      await expect(token.mint(carol.address, 1n)).to.changeTokenBalance(token, carol, 1n);
    });
  });
});
