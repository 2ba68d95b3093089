import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import type { TestERC20 } from "../../../typechain-types";

describe("TestERC20", function () {
  async function deployFixture() {
    const [deployer, alice, bob] = await ethers.getSigners();
    const token: TestERC20 = await ethers.deployContract("TestERC20", ["Test Dollar", "TD", 6], deployer);
    return { token, alice, bob };
  }

  it("has the constructor's name, symbol and decimals", async function () {
    const { token } = await loadFixture(deployFixture);
    expect(await token.name()).to.equal("Test Dollar");
    expect(await token.symbol()).to.equal("TD");
    expect(await token.decimals()).to.equal(6n);
  });

  it("supports other decimals", async function () {
    const token = await ethers.deployContract("TestERC20", ["Eighteen", "E18", 18]);
    expect(await token.decimals()).to.equal(18n);
  });

  it("lets anyone mint", async function () {
    const { token, alice, bob } = await loadFixture(deployFixture);
    await expect(token.connect(alice).mint(bob.address, 5n))
      .to.emit(token, "Transfer")
      .withArgs(ethers.ZeroAddress, bob.address, 5n);
    expect(await token.balanceOf(bob.address)).to.equal(5n);
    expect(await token.totalSupply()).to.equal(5n);
  });

  it("returns true from transfer, unlike TestUSDT", async function () {
    const { token, alice, bob } = await loadFixture(deployFixture);
    await token.mint(alice.address, 5n);
    expect(await token.connect(alice).transfer.staticCall(bob.address, 5n)).to.equal(true);
  });

  it("reverts with the OpenZeppelin error on insufficient balance", async function () {
    const { token, alice, bob } = await loadFixture(deployFixture);
    await expect(token.connect(alice).transfer(bob.address, 1n))
      .to.be.revertedWithCustomError(token, "ERC20InsufficientBalance")
      .withArgs(alice.address, 0n, 1n);
  });
});
