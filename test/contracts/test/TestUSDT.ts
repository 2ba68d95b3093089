import { loadFixture, setStorageAt } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import { ethers, network } from "hardhat";

import type { HardhatEthersSigner as Signer } from "@nomicfoundation/hardhat-ethers/signers";
import type { TestUSDT, TestUSDTUpgraded } from "../../../typechain-types";

const USDT = (whole: number | bigint): bigint => BigInt(whole) * 10n ** 6n;
const MAX_UINT256 = ethers.MaxUint256;
/** Gas given to transactions that are expected to hit INVALID and burn all of it. */
const GAS_LIMIT = 500_000n;

/** Mainnet TetherToken's storage slots (the test double keeps them). */
const SLOT = { ownerAndPaused: 0, totalSupply: 1, balances: 2, basisPointsRate: 3, maximumFee: 4, allowed: 5 };
const BLACKLIST_SLOT = 6;
const UPGRADED_SLOT = 7;

const coder = ethers.AbiCoder.defaultAbiCoder();
const mappingSlot = (key: string, slot: number | string): string =>
  ethers.keccak256(coder.encode(["address", "uint256"], [key, slot]));

/**
 * Sends a transaction that must fail, mines it, and returns the gas its receipt records. Automining is off while it
 * is sent so that Hardhat mines the failed transaction instead of rejecting the call; it is always switched back on.
 */
async function gasUsedByFailedTx(send: () => Promise<ContractTransactionResponse>): Promise<bigint> {
  await network.provider.send("evm_setAutomine", [false]);
  let hash: string;
  try {
    hash = (await send()).hash;
    await network.provider.send("evm_mine");
  } finally {
    await network.provider.send("evm_setAutomine", [true]);
  }
  const receipt = await ethers.provider.getTransactionReceipt(hash);
  expect(receipt, "receipt of the failed transaction").to.not.equal(null);
  expect(receipt!.status, "the transaction must fail").to.equal(0);
  return receipt!.gasUsed;
}

/** The token's logs of `receipt`, as `[eventName, ...args]`. */
function events(token: TestUSDT, receipt: ContractTransactionReceipt | null): unknown[][] {
  return receipt!.logs.map((log) => {
    const parsed = token.interface.parseLog(log)!;
    return [parsed.name, ...parsed.args];
  });
}

/** transfer, transferFrom (bob spends alice's allowance) and approve each return empty data, as on mainnet. */
async function expectNoReturnData(token: TestUSDT, alice: Signer, bob: Signer, carol: Signer) {
  const calls = [
    [alice, await token.transfer.populateTransaction(bob.address, 1n)],
    [bob, await token.transferFrom.populateTransaction(alice.address, carol.address, 1n)],
    [alice, await token.approve.populateTransaction(carol.address, 1n)],
  ] as const;
  for (const [from, tx] of calls) {
    expect(await ethers.provider.call({ ...tx, from: from.address })).to.equal("0x");
  }
}

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

  /** As `fundedFixture`, with the fee switched on: 10 bp capped at 5 whole USDT. */
  async function feeFixture() {
    const ctx = await fundedFixture();
    await ctx.token.setParams(10, 5);
    return ctx;
  }

  /** As `fundedFixture`, then deprecated in favour of a TestUSDTUpgraded where Alice holds 500 USDT. */
  async function deprecatedFixture() {
    const ctx = await fundedFixture();
    const { token, owner, alice } = ctx;
    const upgraded: TestUSDTUpgraded = await ethers.deployContract(
      "TestUSDTUpgraded",
      [await token.getAddress()],
      owner,
    );
    await upgraded.mint(alice.address, USDT(500));
    await token.deprecate(await upgraded.getAddress());
    return { ...ctx, upgraded };
  }

  describe("metadata and initial state", function () {
    it("is named Tether USD, symbol USDT, 6 decimals, MAX_UINT = 2**256 - 1", async function () {
      const { token } = await loadFixture(deployFixture);
      expect(await token.name()).to.equal("Tether USD");
      expect(await token.symbol()).to.equal("USDT");
      expect(await token.decimals()).to.equal(6n);
      expect(await token.MAX_UINT()).to.equal(MAX_UINT256);
    });

    it("starts with zero supply, no fee, unpaused, not deprecated, the deployer as owner", async function () {
      const { token, owner } = await loadFixture(deployFixture);
      expect(await token.totalSupply()).to.equal(0n);
      expect(await token._totalSupply()).to.equal(0n);
      expect(await token.basisPointsRate()).to.equal(0n);
      expect(await token.maximumFee()).to.equal(0n);
      expect(await token.paused()).to.equal(false);
      expect(await token.deprecated()).to.equal(false);
      expect(await token.upgradedAddress()).to.equal(ethers.ZeroAddress);
      expect(await token.owner()).to.equal(owner.address);
      expect(await token.getOwner()).to.equal(owner.address);
    });
  });

  describe("return data (no bool, like mainnet)", function () {
    it("transfer, transferFrom and approve return no data", async function () {
      const { token, alice, bob, carol } = await loadFixture(fundedFixture);
      await expectNoReturnData(token, alice, bob, carol);
    });

    it("the ABI declares no outputs for transfer, transferFrom and approve", async function () {
      const { token } = await loadFixture(deployFixture);
      for (const name of ["transfer", "transferFrom", "approve"] as const) {
        expect(token.interface.getFunction(name)!.outputs).to.have.length(0);
      }
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
  });

  describe("transfer", function () {
    it("moves the value and emits one Transfer when there is no fee", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      const tx = token.connect(alice).transfer(bob.address, USDT(250));
      await expect(tx).to.changeTokenBalances(token, [alice, bob], [-USDT(250), USDT(250)]);
      expect(events(token, await (await tx).wait())).to.deep.equal([
        ["Transfer", alice.address, bob.address, USDT(250)],
      ]);
    });

    it("allows a zero-value transfer, the whole balance and a self-transfer", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await expect(token.connect(alice).transfer(bob.address, 0n))
        .to.emit(token, "Transfer")
        .withArgs(alice.address, bob.address, 0n);
      await expect(token.connect(alice).transfer(alice.address, USDT(10))).to.changeTokenBalance(token, alice, 0n);
      await expect(token.connect(alice).transfer(bob.address, USDT(1_000))).to.changeTokenBalances(
        token,
        [alice, bob],
        [-USDT(1_000), USDT(1_000)],
      );
    });

    it("reverts without data while paused", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await token.pause();
      await expect(token.connect(alice).transfer(bob.address, 1n)).to.be.revertedWithoutReason();
    });
  });

  describe("transferFrom", function () {
    it("moves the value, decreases the allowance and emits Transfer only", async function () {
      const { token, alice, bob, carol } = await loadFixture(fundedFixture);
      const tx = token.connect(bob).transferFrom(alice.address, carol.address, USDT(120));
      await expect(tx).to.changeTokenBalances(token, [alice, bob, carol], [-USDT(120), 0n, USDT(120)]);
      expect(events(token, await (await tx).wait())).to.deep.equal([
        ["Transfer", alice.address, carol.address, USDT(120)],
      ]);
      expect(await token.allowance(alice.address, bob.address)).to.equal(USDT(180));
    });

    it("never decreases an allowance of MAX_UINT", async function () {
      const { token, alice, carol, mallory } = await loadFixture(fundedFixture);
      await token.connect(alice).approve(mallory.address, MAX_UINT256);
      await token.connect(mallory).transferFrom(alice.address, carol.address, USDT(400));
      expect(await token.allowance(alice.address, mallory.address)).to.equal(MAX_UINT256);
      expect(await token.balanceOf(carol.address)).to.equal(USDT(400));
    });

    it("decreases an allowance of MAX_UINT - 1", async function () {
      const { token, alice, carol, mallory } = await loadFixture(fundedFixture);
      await token.connect(alice).approve(mallory.address, MAX_UINT256 - 1n);
      await token.connect(mallory).transferFrom(alice.address, carol.address, 5n);
      expect(await token.allowance(alice.address, mallory.address)).to.equal(MAX_UINT256 - 6n);
    });

    it("reverts without data while paused", async function () {
      const { token, alice, bob, carol } = await loadFixture(fundedFixture);
      await token.pause();
      await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n)).to.be.revertedWithoutReason();
    });
  });

  describe("approve", function () {
    it("sets the allowance from zero and emits Approval", async function () {
      const { token, alice, carol } = await loadFixture(fundedFixture);
      await expect(token.connect(alice).approve(carol.address, USDT(5)))
        .to.emit(token, "Approval")
        .withArgs(alice.address, carol.address, USDT(5));
      expect(await token.allowance(alice.address, carol.address)).to.equal(USDT(5));
      expect(await token.allowed(alice.address, carol.address)).to.equal(USDT(5));
    });

    it("reverts without data from a non-zero to another non-zero allowance, even the same one", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await expect(token.connect(alice).approve(bob.address, USDT(1))).to.be.revertedWithoutReason();
      await expect(token.connect(alice).approve(bob.address, USDT(300))).to.be.revertedWithoutReason();
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

    it("works while paused and for blacklisted holder and spender", async function () {
      const { token, alice, carol } = await loadFixture(fundedFixture);
      await token.pause();
      await token.addBlackList(alice.address);
      await token.addBlackList(carol.address);
      await expect(token.connect(alice).approve(carol.address, 1n))
        .to.emit(token, "Approval")
        .withArgs(alice.address, carol.address, 1n);
    });
  });

  describe("blacklist (only the sender is checked, as on mainnet)", function () {
    it("a blacklisted sender cannot transfer: empty revert", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await token.addBlackList(alice.address);
      await expect(token.connect(alice).transfer(bob.address, 1n)).to.be.revertedWithoutReason();
    });

    it("a blacklisted `from` cannot be spent from by transferFrom: empty revert", async function () {
      const { token, alice, bob, carol } = await loadFixture(fundedFixture);
      await token.addBlackList(alice.address);
      await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n)).to.be.revertedWithoutReason();
    });

    // USDT's blacklist stops only the sender: a listed recipient or spender moves tokens as before.
    const unaffected: [string, "bob" | "carol", "transfer" | "transferFrom"][] = [
      ["a blacklisted recipient still receives by transfer", "bob", "transfer"],
      ["a blacklisted recipient still receives by transferFrom", "carol", "transferFrom"],
      ["a blacklisted spender can still transferFrom", "bob", "transferFrom"],
    ];
    for (const [name, listed, call] of unaffected) {
      it(name, async function () {
        const f = await loadFixture(fundedFixture);
        const { token, alice, bob, carol } = f;
        await token.addBlackList(f[listed].address);
        const to = call === "transfer" ? bob : carol;
        const tx =
          call === "transfer"
            ? token.connect(alice).transfer(to.address, USDT(10))
            : token.connect(bob).transferFrom(alice.address, to.address, USDT(10));
        await expect(tx).to.changeTokenBalances(token, [alice, to], [-USDT(10), USDT(10)]);
        if (call === "transferFrom") expect(await token.allowance(alice.address, bob.address)).to.equal(USDT(290));
      });
    }

    it("a blacklisted account can still spend someone else's allowance to itself", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await token.addBlackList(bob.address);
      await expect(token.connect(bob).transferFrom(alice.address, bob.address, USDT(1))).to.changeTokenBalance(
        token,
        bob,
        USDT(1),
      );
    });

    it("adds and removes with events; isBlackListed and getBlackListStatus agree", async function () {
      const { token, alice } = await loadFixture(deployFixture);
      await expect(token.addBlackList(alice.address)).to.emit(token, "AddedBlackList").withArgs(alice.address);
      expect(await token.isBlackListed(alice.address)).to.equal(true);
      expect(await token.getBlackListStatus(alice.address)).to.equal(true);
      await expect(token.removeBlackList(alice.address)).to.emit(token, "RemovedBlackList").withArgs(alice.address);
      expect(await token.isBlackListed(alice.address)).to.equal(false);
      expect(await token.getBlackListStatus(alice.address)).to.equal(false);
    });

    it("lets a removed account transfer again", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await token.addBlackList(alice.address);
      await token.removeBlackList(alice.address);
      await expect(token.connect(alice).transfer(bob.address, 1n)).to.changeTokenBalance(token, bob, 1n);
    });

    it("destroyBlackFunds zeroes a listed balance and the supply; DestroyedBlackFunds, no Transfer", async function () {
      const { token, alice } = await loadFixture(fundedFixture);
      await token.addBlackList(alice.address);
      const tx = token.destroyBlackFunds(alice.address);
      await expect(tx).to.emit(token, "DestroyedBlackFunds").withArgs(alice.address, USDT(1_000));
      await expect(tx).to.not.emit(token, "Transfer");
      expect(await token.balanceOf(alice.address)).to.equal(0n);
      expect(await token.totalSupply()).to.equal(0n);
    });

    it("destroyBlackFunds reverts without data for an account not listed", async function () {
      const { token, alice } = await loadFixture(fundedFixture);
      await expect(token.destroyBlackFunds(alice.address)).to.be.revertedWithoutReason();
    });
  });

  describe("SafeMath failures burn all the gas (0.4.17 assert = INVALID)", function () {
    it("transfer beyond the balance uses the whole gas limit", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      const gasUsed = await gasUsedByFailedTx(() =>
        token.connect(alice).transfer(bob.address, USDT(1_000) + 1n, { gasLimit: GAS_LIMIT }),
      );
      expect(gasUsed).to.equal(GAS_LIMIT);
    });

    it("transferFrom beyond the allowance (balance sufficient) uses the whole gas limit", async function () {
      const { token, alice, bob, carol } = await loadFixture(fundedFixture);
      const gasUsed = await gasUsedByFailedTx(() =>
        token.connect(bob).transferFrom(alice.address, carol.address, USDT(300) + 1n, { gasLimit: GAS_LIMIT }),
      );
      expect(gasUsed).to.equal(GAS_LIMIT);
    });

    it("transferFrom beyond the balance (allowance sufficient) uses the whole gas limit", async function () {
      const { token, alice, bob, carol } = await loadFixture(fundedFixture);
      await token.connect(alice).transfer(carol.address, USDT(900));
      const gasUsed = await gasUsedByFailedTx(() =>
        token.connect(bob).transferFrom(alice.address, carol.address, USDT(200), { gasLimit: GAS_LIMIT }),
      );
      expect(gasUsed).to.equal(GAS_LIMIT);
    });

    it("transferFrom beyond the balance with a MAX_UINT allowance uses the whole gas limit", async function () {
      const { token, alice, carol, mallory } = await loadFixture(fundedFixture);
      await token.connect(alice).approve(mallory.address, MAX_UINT256);
      const gasUsed = await gasUsedByFailedTx(() =>
        token.connect(mallory).transferFrom(alice.address, carol.address, USDT(1_000) + 1n, { gasLimit: GAS_LIMIT }),
      );
      expect(gasUsed).to.equal(GAS_LIMIT);
    });

    it("a credit overflowing the recipient's balance uses the whole gas limit", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await setStorageAt(await token.getAddress(), mappingSlot(bob.address, SLOT.balances), MAX_UINT256);
      expect(await token.balanceOf(bob.address)).to.equal(MAX_UINT256);
      const gasUsed = await gasUsedByFailedTx(() =>
        token.connect(alice).transfer(bob.address, 1n, { gasLimit: GAS_LIMIT }),
      );
      expect(gasUsed).to.equal(GAS_LIMIT);
    });

    it("a fee computation overflowing value * basisPointsRate uses the whole gas limit", async function () {
      const { token, alice, bob } = await loadFixture(feeFixture);
      await setStorageAt(await token.getAddress(), mappingSlot(alice.address, SLOT.balances), MAX_UINT256);
      const gasUsed = await gasUsedByFailedTx(() =>
        token.connect(alice).transfer(bob.address, MAX_UINT256, { gasLimit: GAS_LIMIT }),
      );
      expect(gasUsed).to.equal(GAS_LIMIT);
    });

    it("a require failure (blacklisted sender) does not burn the gas", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await token.addBlackList(alice.address);
      const gasUsed = await gasUsedByFailedTx(() =>
        token.connect(alice).transfer(bob.address, 1n, { gasLimit: GAS_LIMIT }),
      );
      expect(gasUsed).to.be.lessThan(50_000n);
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

    it("reverts without data pausing twice and unpausing when not paused", async function () {
      const { token } = await loadFixture(deployFixture);
      await expect(token.unpause()).to.be.revertedWithoutReason();
      await token.pause();
      await expect(token.pause()).to.be.revertedWithoutReason();
    });
  });

  describe("transfer fee", function () {
    describe("setParams", function () {
      it("takes the cap in whole tokens: setParams(10, 5) stores 5e6 and emits Params(10, 5e6)", async function () {
        const { token } = await loadFixture(deployFixture);
        await expect(token.setParams(10, 5)).to.emit(token, "Params").withArgs(10n, USDT(5));
        expect(await token.basisPointsRate()).to.equal(10n);
        expect(await token.maximumFee()).to.equal(USDT(5));
      });

      it("accepts the largest values, 19 bp and 49 whole tokens", async function () {
        const { token } = await loadFixture(deployFixture);
        await expect(token.setParams(19, 49)).to.emit(token, "Params").withArgs(19n, USDT(49));
        expect(await token.maximumFee()).to.equal(USDT(49));
      });

      it("reverts without data for a rate of 20 bp", async function () {
        const { token } = await loadFixture(deployFixture);
        await expect(token.setParams(20, 1)).to.be.revertedWithoutReason();
      });

      it("reverts without data for a cap of 50 whole tokens (and so for any base-unit-sized cap)", async function () {
        const { token } = await loadFixture(deployFixture);
        await expect(token.setParams(1, 50)).to.be.revertedWithoutReason();
        await expect(token.setParams(1, USDT(5))).to.be.revertedWithoutReason();
      });
    });

    describe("when on (10 bp, cap 5 USDT)", function () {
      it("transfer: the fee Transfer to the owner comes before the payment Transfer", async function () {
        const { token, owner, alice, bob } = await loadFixture(feeFixture);
        // 10 bp of 1,000 USDT = 1 USDT (under the 5 USDT cap).
        const tx = token.connect(alice).transfer(bob.address, USDT(1_000));
        await expect(tx).to.changeTokenBalances(token, [alice, bob, owner], [-USDT(1_000), USDT(999), USDT(1)]);
        expect(events(token, await (await tx).wait())).to.deep.equal([
          ["Transfer", alice.address, owner.address, USDT(1)],
          ["Transfer", alice.address, bob.address, USDT(999)],
        ]);
      });

      it("transferFrom: same split and order; the allowance drops by the full value", async function () {
        const { token, owner, alice, bob, carol } = await loadFixture(feeFixture);
        // 10 bp of 300 USDT = 0.3 USDT.
        const tx = token.connect(bob).transferFrom(alice.address, carol.address, USDT(300));
        await expect(tx).to.changeTokenBalances(
          token,
          [alice, carol, owner],
          [-USDT(300), USDT(300) - 300_000n, 300_000n],
        );
        expect(events(token, await (await tx).wait())).to.deep.equal([
          ["Transfer", alice.address, owner.address, 300_000n],
          ["Transfer", alice.address, carol.address, USDT(300) - 300_000n],
        ]);
        expect(await token.allowance(alice.address, bob.address)).to.equal(0n);
      });

      it("caps the fee at 5 whole USDT (5e6 base units)", async function () {
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

      it("rounds the fee down", async function () {
        const { token, owner, alice, bob } = await loadFixture(feeFixture);
        // 10 bp of 1,999 base units = 1.999 -> 1.
        await expect(token.connect(alice).transfer(bob.address, 1_999n)).to.changeTokenBalances(
          token,
          [alice, bob, owner],
          [-1_999n, 1_998n, 1n],
        );
      });

      it("charges no fee (and emits no fee Transfer) when it rounds to zero", async function () {
        const { token, owner, alice, bob } = await loadFixture(feeFixture);
        const tx = token.connect(alice).transfer(bob.address, 999n);
        await expect(tx).to.changeTokenBalances(token, [alice, bob, owner], [-999n, 999n, 0n]);
        expect(events(token, await (await tx).wait())).to.deep.equal([["Transfer", alice.address, bob.address, 999n]]);
      });

      it("the fee never exceeds the value: 19 bp capped at 1 USDT on 10 USDT sends 9.981 USDT", async function () {
        const { token, owner, alice, bob } = await loadFixture(fundedFixture);
        await token.setParams(19, 1);
        await expect(token.connect(alice).transfer(bob.address, USDT(10))).to.changeTokenBalances(
          token,
          [alice, bob, owner],
          [-USDT(10), 9_981_000n, 19_000n],
        );
      });

      it("charges nothing when the cap is zero", async function () {
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
    it("issue credits the owner and emits Issue but no Transfer", async function () {
      const { token, owner } = await loadFixture(deployFixture);
      const tx = token.issue(USDT(10));
      await expect(tx).to.emit(token, "Issue").withArgs(USDT(10));
      await expect(tx).to.not.emit(token, "Transfer");
      await expect(tx).to.changeTokenBalance(token, owner, USDT(10));
      expect(await token.totalSupply()).to.equal(USDT(10));
    });

    it("issue reverts without data on zero (mainnet's strict `>` check) and on supply overflow", async function () {
      const { token } = await loadFixture(deployFixture);
      await expect(token.issue(0n)).to.be.revertedWithoutReason();
      await token.issue(MAX_UINT256);
      await expect(token.issue(1n)).to.be.revertedWithoutReason();
    });

    it("redeem burns from the owner and emits Redeem but no Transfer", async function () {
      const { token, owner } = await loadFixture(deployFixture);
      await token.issue(USDT(10));
      const tx = token.redeem(USDT(4));
      await expect(tx).to.emit(token, "Redeem").withArgs(USDT(4));
      await expect(tx).to.not.emit(token, "Transfer");
      await expect(tx).to.changeTokenBalance(token, owner, -USDT(4));
      expect(await token.totalSupply()).to.equal(USDT(6));
    });

    it("redeem reverts without data beyond the owner's balance", async function () {
      const { token, alice } = await loadFixture(deployFixture);
      await token.issue(USDT(1));
      await token.mint(alice.address, USDT(5));
      await expect(token.redeem(USDT(1) + 1n)).to.be.revertedWithoutReason();
    });

    it("mint (test convenience) = issue + fee-free move: Issue, then Transfer(owner, to)", async function () {
      const { token, owner, alice } = await loadFixture(deployFixture);
      await token.setParams(19, 49);
      const tx = token.mint(alice.address, USDT(3));
      await expect(tx).to.changeTokenBalances(token, [owner, alice], [0n, USDT(3)]);
      expect(events(token, await (await tx).wait())).to.deep.equal([
        ["Issue", USDT(3)],
        ["Transfer", owner.address, alice.address, USDT(3)],
      ]);
      expect(await token.totalSupply()).to.equal(USDT(3));
    });

    it("mint ignores pause and blacklist (the issuer moves its own new supply)", async function () {
      const { token, alice } = await loadFixture(deployFixture);
      await token.pause();
      await token.addBlackList(alice.address);
      await expect(token.mint(alice.address, 1n)).to.changeTokenBalance(token, alice, 1n);
    });
  });

  describe("deprecate", function () {
    it("sets deprecated and upgradedAddress and emits Deprecate", async function () {
      const { token, alice } = await loadFixture(fundedFixture);
      await expect(token.deprecate(alice.address)).to.emit(token, "Deprecate").withArgs(alice.address);
      expect(await token.deprecated()).to.equal(true);
      expect(await token.upgradedAddress()).to.equal(alice.address);
    });

    it("forwards balanceOf, allowance and totalSupply to the successor; the legacy storage stays", async function () {
      const { token, alice, bob } = await loadFixture(deprecatedFixture);
      expect(await token.balanceOf(alice.address)).to.equal(USDT(500));
      expect(await token.totalSupply()).to.equal(USDT(500));
      expect(await token.allowance(alice.address, bob.address)).to.equal(0n);
      expect(await token.balances(alice.address)).to.equal(USDT(1_000));
      expect(await token._totalSupply()).to.equal(USDT(1_000));
      expect(await token.allowed(alice.address, bob.address)).to.equal(USDT(300));
    });

    it("forwards transfer as transferByLegacy(msg.sender, to, value)", async function () {
      const { token, upgraded, alice, bob } = await loadFixture(deprecatedFixture);
      const tx = token.connect(alice).transfer(bob.address, USDT(100));
      await expect(tx).to.emit(upgraded, "Transfer").withArgs(alice.address, bob.address, USDT(100));
      await expect(tx).to.not.emit(token, "Transfer");
      expect(await upgraded.balanceOf(bob.address)).to.equal(USDT(100));
      expect(await token.balanceOf(bob.address)).to.equal(USDT(100));
      expect(await token.balances(alice.address)).to.equal(USDT(1_000));
    });

    it("forwards approve as approveByLegacy(msg.sender, spender, value); no legacy non-zero rule", async function () {
      const { token, upgraded, alice, bob } = await loadFixture(deprecatedFixture);
      await expect(token.connect(alice).approve(bob.address, USDT(50)))
        .to.emit(upgraded, "Approval")
        .withArgs(alice.address, bob.address, USDT(50));
      await token.connect(alice).approve(bob.address, USDT(60));
      expect(await token.allowance(alice.address, bob.address)).to.equal(USDT(60));
      expect(await token.allowed(alice.address, bob.address)).to.equal(USDT(300));
    });

    it("forwards transferFrom as transferFromByLegacy(msg.sender, from, to, value)", async function () {
      const { token, upgraded, alice, bob, carol } = await loadFixture(deprecatedFixture);
      await token.connect(alice).approve(bob.address, USDT(50));
      const tx = token.connect(bob).transferFrom(alice.address, carol.address, USDT(20));
      await expect(tx).to.emit(upgraded, "Transfer").withArgs(alice.address, carol.address, USDT(20));
      expect(await upgraded.allowance(alice.address, bob.address)).to.equal(USDT(30));
      expect(await token.balanceOf(carol.address)).to.equal(USDT(20));
      expect(await token.allowed(alice.address, bob.address)).to.equal(USDT(300));
    });

    it("forwarded transfer, transferFrom and approve return no data", async function () {
      const { token, alice, bob, carol } = await loadFixture(deprecatedFixture);
      await token.connect(alice).approve(bob.address, USDT(50));
      await expectNoReturnData(token, alice, bob, carol);
    });

    it("still checks pause and the sender blacklist before forwarding", async function () {
      const { token, alice, bob, carol } = await loadFixture(deprecatedFixture);
      await token.connect(alice).approve(bob.address, USDT(50));
      await token.addBlackList(alice.address);
      await expect(token.connect(alice).transfer(bob.address, 1n)).to.be.revertedWithoutReason();
      await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n)).to.be.revertedWithoutReason();
      await token.removeBlackList(alice.address);
      await token.pause();
      await expect(token.connect(alice).transfer(bob.address, 1n)).to.be.revertedWithoutReason();
      await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n)).to.be.revertedWithoutReason();
    });

    it("a successor that refuses makes transfer and transferFrom revert without data", async function () {
      const { token, upgraded, alice, bob, carol } = await loadFixture(deprecatedFixture);
      await token.connect(alice).approve(bob.address, USDT(50));
      await upgraded.setFailTransfers(true);
      await expect(token.connect(alice).transfer(bob.address, 1n)).to.be.revertedWithoutReason();
      await expect(token.connect(bob).transferFrom(alice.address, carol.address, 1n)).to.be.revertedWithoutReason();
    });

    it("a successor without code makes transfer revert without data", async function () {
      const { token, alice, bob, carol } = await loadFixture(fundedFixture);
      await token.deprecate(carol.address);
      await expect(token.connect(alice).transfer(bob.address, 1n)).to.be.revertedWithoutReason();
    });

    it("destroyBlackFunds reads the successor's balance and subtracts it from the legacy supply", async function () {
      const { token, alice } = await loadFixture(deprecatedFixture);
      await token.addBlackList(alice.address);
      await expect(token.destroyBlackFunds(alice.address))
        .to.emit(token, "DestroyedBlackFunds")
        .withArgs(alice.address, USDT(500));
      expect(await token.balances(alice.address)).to.equal(0n);
      expect(await token._totalSupply()).to.equal(USDT(500));
    });
  });

  describe("TestUSDTUpgraded", function () {
    it("accepts the ...ByLegacy calls from the legacy token only: empty revert for anyone else", async function () {
      const { upgraded, alice, bob } = await loadFixture(deprecatedFixture);
      await expect(
        upgraded.connect(alice).transferByLegacy(alice.address, bob.address, 1n),
      ).to.be.revertedWithoutReason();
      await expect(
        upgraded.connect(alice).transferFromByLegacy(alice.address, alice.address, bob.address, 0n),
      ).to.be.revertedWithoutReason();
      await expect(
        upgraded.connect(alice).approveByLegacy(alice.address, bob.address, 1n),
      ).to.be.revertedWithoutReason();
    });
  });

  describe("ownership", function () {
    it("transferOwnership hands over owner rights without any event", async function () {
      const { token, owner, alice } = await loadFixture(deployFixture);
      const receipt = await (await token.transferOwnership(alice.address)).wait();
      expect(receipt!.logs).to.have.length(0);
      expect(await token.owner()).to.equal(alice.address);
      expect(await token.getOwner()).to.equal(alice.address);
      await expect(token.connect(owner).pause()).to.be.revertedWithoutReason();
      await expect(token.connect(alice).pause()).to.emit(token, "Pause");
    });

    it("transferOwnership to the zero address keeps the owner, does not revert and emits nothing", async function () {
      const { token, owner } = await loadFixture(deployFixture);
      const receipt = await (await token.transferOwnership(ethers.ZeroAddress)).wait();
      expect(receipt!.status).to.equal(1);
      expect(receipt!.logs).to.have.length(0);
      expect(await token.owner()).to.equal(owner.address);
    });

    describe("owner-only functions revert without data for others", function () {
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
        ["deprecate", (t, a) => t.deprecate(a)],
      ];
      for (const [name, call] of calls) {
        it(name, async function () {
          const { token, mallory } = await loadFixture(deployFixture);
          await expect(call(token.connect(mallory), mallory.address)).to.be.revertedWithoutReason();
        });
      }
    });
  });

  describe("onlyPayloadSize (short calldata)", function () {
    // Calldata of each call: Alice pays Carol, Bob spends Alice's allowance, Alice approves Carol.
    const cases: [name: string, words: number, encode: (t: TestUSDT, alice: string, carol: string) => string][] = [
      ["transfer", 2, (t, _alice, carol) => t.interface.encodeFunctionData("transfer", [carol, 1n])],
      ["transferFrom", 3, (t, alice, carol) => t.interface.encodeFunctionData("transferFrom", [alice, carol, 1n])],
      ["approve", 2, (t, _alice, carol) => t.interface.encodeFunctionData("approve", [carol, 0n])],
    ];
    for (const [name, words, encode] of cases) {
      it(`${name} reverts without data one byte short of ${words} words; works at full length`, async function () {
        const { token, alice, bob, carol } = await loadFixture(fundedFixture);
        const data = encode(token, alice.address, carol.address);
        expect(ethers.dataLength(data)).to.equal(4 + 32 * words);
        const sender = name === "transferFrom" ? bob : alice;
        const to = await token.getAddress();
        const short = ethers.dataSlice(data, 0, 4 + 32 * words - 1);
        await expect(sender.sendTransaction({ to, data: short, gasLimit: GAS_LIMIT })).to.be.revertedWithoutReason();
        await expect(sender.sendTransaction({ to, data })).to.not.be.reverted;
      });
    }
  });

  describe("storage layout (mainnet's slots)", function () {
    it("owner+paused share slot 0; _totalSupply, basisPointsRate, maximumFee are words 1, 3, 4", async function () {
      const { token, owner } = await loadFixture(fundedFixture);
      await token.setParams(19, 49);
      await token.pause();
      const address = await token.getAddress();
      const slot = async (i: number | string) => BigInt(await ethers.provider.getStorage(address, i));
      const slot0 = await slot(SLOT.ownerAndPaused);
      expect(slot0).to.equal(BigInt(owner.address) | (1n << 160n));
      expect(await slot(SLOT.totalSupply)).to.equal(USDT(1_000));
      expect(await slot(SLOT.basisPointsRate)).to.equal(19n);
      expect(await slot(SLOT.maximumFee)).to.equal(USDT(49));
    });

    it("balances, allowed and isBlackListed are mappings at slots 2, 5 and 6", async function () {
      const { token, alice, bob } = await loadFixture(fundedFixture);
      await token.addBlackList(bob.address);
      const address = await token.getAddress();
      const slot = async (i: string) => BigInt(await ethers.provider.getStorage(address, i));
      expect(await slot(mappingSlot(alice.address, SLOT.balances))).to.equal(USDT(1_000));
      expect(await slot(mappingSlot(bob.address, mappingSlot(alice.address, SLOT.allowed)))).to.equal(USDT(300));
      expect(await slot(mappingSlot(bob.address, BLACKLIST_SLOT))).to.equal(1n);
    });

    it("upgradedAddress and deprecated share one slot", async function () {
      const { token, upgraded } = await loadFixture(deprecatedFixture);
      const word = BigInt(await ethers.provider.getStorage(await token.getAddress(), UPGRADED_SLOT));
      expect(word).to.equal(BigInt(await upgraded.getAddress()) | (1n << 160n));
    });
  });
});
