import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import type { ERC1271Wallet, TestUSDT } from "../../../typechain-types";

const MAGIC_VALUE = "0x1626ba7e";
const INVALID = "0xffffffff";
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

describe("ERC1271Wallet", function () {
  /** A wallet owned by `owner`, holding 1 ETH and 100 USDT. */
  async function deployFixture() {
    const [owner, stranger, recipient] = await ethers.getSigners();
    const wallet: ERC1271Wallet = await ethers.deployContract("ERC1271Wallet", [owner.address], owner);
    const usdt: TestUSDT = await ethers.deployContract("TestUSDT", owner);
    await owner.sendTransaction({ to: await wallet.getAddress(), value: ethers.parseEther("1") });
    await usdt.mint(await wallet.getAddress(), 100_000_000n);
    return { wallet, usdt, owner, stranger, recipient };
  }

  const domain = { name: "Probe", version: "1", chainId: 31337, verifyingContract: ethers.ZeroAddress };
  const types = { Message: [{ name: "contents", type: "string" }] };
  const message = { contents: "hello" };

  describe("isValidSignature", function () {
    it("accepts the owner's EIP-712 signature of the digest", async function () {
      const { wallet, owner } = await loadFixture(deployFixture);
      const digest = ethers.TypedDataEncoder.hash(domain, types, message);
      const signature = await owner.signTypedData(domain, types, message);
      expect(await wallet.isValidSignature(digest, signature)).to.equal(MAGIC_VALUE);
    });

    it("rejects another signer", async function () {
      const { wallet, stranger } = await loadFixture(deployFixture);
      const digest = ethers.TypedDataEncoder.hash(domain, types, message);
      const signature = await stranger.signTypedData(domain, types, message);
      expect(await wallet.isValidSignature(digest, signature)).to.equal(INVALID);
    });

    it("rejects a signature of a different hash", async function () {
      const { wallet, owner } = await loadFixture(deployFixture);
      const signature = await owner.signTypedData(domain, types, message);
      expect(await wallet.isValidSignature(ethers.id("other"), signature)).to.equal(INVALID);
    });

    it("treats the hash as is: an eth_sign signature is valid for the prefixed hash only", async function () {
      const { wallet, owner } = await loadFixture(deployFixture);
      const signature = await owner.signMessage("hello");
      expect(await wallet.isValidSignature(ethers.hashMessage("hello"), signature)).to.equal(MAGIC_VALUE);
      expect(await wallet.isValidSignature(ethers.id("hello"), signature)).to.equal(INVALID);
    });

    it("returns 0xffffffff, without reverting, for malformed and malleable signatures", async function () {
      const { wallet, owner } = await loadFixture(deployFixture);
      const digest = ethers.TypedDataEncoder.hash(domain, types, message);
      const sig = ethers.Signature.from(await owner.signTypedData(domain, types, message));
      const highS = ethers.concat([
        sig.r,
        ethers.toBeHex(SECP256K1_N - BigInt(sig.s), 32),
        ethers.toBeHex(sig.v === 27 ? 28 : 27, 1),
      ]);
      for (const bad of ["0x", ethers.dataSlice(sig.serialized, 0, 64), ethers.zeroPadValue("0x", 65), highS]) {
        expect(await wallet.isValidSignature(digest, bad)).to.equal(INVALID);
      }
    });
  });

  describe("execute", function () {
    it("lets the owner call a token (no-return approve) and returns the call's data", async function () {
      const { wallet, usdt, recipient } = await loadFixture(deployFixture);
      const walletAddress = await wallet.getAddress();
      const approve = usdt.interface.encodeFunctionData("approve", [recipient.address, 5n]);
      await expect(wallet.execute(await usdt.getAddress(), 0n, approve))
        .to.emit(wallet, "Executed")
        .withArgs(await usdt.getAddress(), 0n, approve)
        .and.to.emit(usdt, "Approval")
        .withArgs(walletAddress, recipient.address, 5n);

      const balanceOf = usdt.interface.encodeFunctionData("balanceOf", [walletAddress]);
      const result = await wallet.execute.staticCall(await usdt.getAddress(), 0n, balanceOf);
      expect(BigInt(result)).to.equal(100_000_000n);
    });

    it("forwards value to a contract", async function () {
      const { wallet, owner } = await loadFixture(deployFixture);
      const other = await ethers.deployContract("ERC1271Wallet", [owner.address]);
      const value = ethers.parseEther("0.25");
      await expect(wallet.execute(await other.getAddress(), value, "0x")).to.changeEtherBalances(
        [wallet, other],
        [-value, value],
      );
    });

    it("bubbles the target's revert", async function () {
      const { wallet, recipient } = await loadFixture(deployFixture);
      // An OpenZeppelin token reverts with data (mainnet-faithful USDT reverts with none).
      const erc20 = await ethers.deployContract("TestERC20", ["Probe", "PRB", 18]);
      const transfer = erc20.interface.encodeFunctionData("transfer", [recipient.address, 1n]);
      await expect(wallet.execute(await erc20.getAddress(), 0n, transfer))
        .to.be.revertedWithCustomError(erc20, "ERC20InsufficientBalance")
        .withArgs(await wallet.getAddress(), 0n, 1n);
    });

    it("reverts for an EOA target (OpenZeppelin Address.functionCallWithValue)", async function () {
      const { wallet, recipient } = await loadFixture(deployFixture);
      await expect(wallet.execute(recipient.address, 1n, "0x"))
        .to.be.revertedWithCustomError(wallet, "AddressEmptyCode")
        .withArgs(recipient.address);
    });

    it("reverts for anyone but the owner", async function () {
      const { wallet, usdt, stranger } = await loadFixture(deployFixture);
      await expect(wallet.connect(stranger).execute(await usdt.getAddress(), 0n, "0x"))
        .to.be.revertedWithCustomError(wallet, "ERC1271WalletNotOwner")
        .withArgs(stranger.address);
    });
  });

  it("exposes its owner and accepts ether", async function () {
    const { wallet, owner, stranger } = await loadFixture(deployFixture);
    expect(await wallet.owner()).to.equal(owner.address);
    await expect(stranger.sendTransaction({ to: await wallet.getAddress(), value: 1n })).to.changeEtherBalance(
      wallet,
      1n,
    );
  });
});
