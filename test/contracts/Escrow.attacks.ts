import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import type { ERC1271Wallet, Escrow, HostileToken } from "../../typechain-types";
import {
  Action,
  DAY,
  GATEWAY_FEE_BPS,
  Kind,
  MIN_BOND,
  RESOLUTION_WINDOW,
  RefundReason,
  Status,
  USDT,
  approveExactly,
  dealIdOf,
  deployProtocol,
  depositFloat,
  feeOf,
  lockDeal,
  makeDeal,
  openDeal,
  signAction,
  signOpen,
  type DealOut,
  type Protocol,
  loadFixture,
} from "./fixtures";

/** Selector of OpenZeppelin's `ReentrancyGuardReentrantCall()`. */
const REENTRANT_CALL = "0x3ee5aeb5";
const HOST = (n: number | string): bigint => ethers.parseEther(String(n));
const NON_FINAL: number[] = [Status.Open, Status.Performed, Status.Disputed];

/*//////////////////////////////////////////////////////////////
                            HELPERS
//////////////////////////////////////////////////////////////*/

type Balances = { balanceOf(account: string): Promise<bigint>; getAddress(): Promise<string> };

/** What the escrow owes in one token, as the test expects it. */
interface Liabilities {
  /** Wallet-funded deals still held (not OnRamp: their amounts are in the acceptor's locked float). */
  openDeals?: DealOut[];
  /** [acceptor, free, locked] */
  floats?: Array<[string, bigint, bigint]>;
  /** [account, amount] */
  owed?: Array<[string, bigint]>;
}

/**
 * I1 Solvency, with equality: checks each expected float and owed balance against storage, that every listed deal
 * is still held, and that the escrow's token balance is exactly their sum.
 */
async function expectSolvent(escrow: Escrow, token: Balances, l: Liabilities): Promise<void> {
  const tokenAddress = await token.getAddress();
  let total = 0n;
  for (const d of l.openDeals ?? []) {
    expect(d.token).to.equal(tokenAddress);
    expect(d.kind).to.not.equal(BigInt(Kind.OnRamp));
    expect(NON_FINAL).to.include(Number(await escrow.statusOf(dealIdOf(d))));
    total += d.amount;
  }
  for (const [acceptor, free, locked] of l.floats ?? []) {
    const f = await escrow.floatOf(acceptor, tokenAddress);
    expect([f.free, f.locked]).to.deep.equal([free, locked]);
    total += free + locked;
  }
  for (const [account, amount] of l.owed ?? []) {
    expect(await escrow.owed(tokenAddress, account)).to.equal(amount);
    total += amount;
  }
  expect(await token.balanceOf(await escrow.getAddress())).to.equal(total);
}

/** The deal as the tuple the events carry. */
function dealTuple(d: DealOut) {
  return [
    d.payer,
    d.payee,
    d.gateway,
    d.token,
    d.amount,
    d.deadline,
    d.releaseWindow,
    d.feeBps,
    d.kind,
    d.autoRelease,
    d.salt,
  ];
}

/** Payee performs, payer releases. */
async function settle(p: Protocol, deal: DealOut): Promise<void> {
  await p.escrow.connect(p.payee).perform(deal);
  await p.escrow.connect(p.payer).release(deal);
}

/** Performs and has the payer dispute. */
async function performAndDispute(p: Protocol, deal: DealOut): Promise<void> {
  await p.escrow.connect(p.payee).perform(deal);
  await p.escrow.connect(p.payer).dispute(deal);
}

/*//////////////////////////////////////////////////////////////
                            FIXTURES
//////////////////////////////////////////////////////////////*/

/** The protocol plus an allowlisted HostileToken held by the payer and the acceptor. */
async function hostileFixture() {
  const p = await deployProtocol();
  const hostile = (await ethers.deployContract("HostileToken", ["Hostile", "HOST"])) as unknown as HostileToken;
  const h = await hostile.getAddress();
  await p.registry.connect(p.governor).setTokenAllowed(h, true);
  await hostile.mint(p.payer.address, HOST(1_000_000));
  await hostile.mint(p.acceptor.address, HOST(1_000_000));
  await p.registry.connect(p.acceptor).setLimits(h, HOST(10), HOST(50_000));
  return { ...p, hostile };
}

/** The protocol plus two ERC-1271 wallets: one owned by the payer (holding 1,000 USDT), one by the payee. */
async function walletsFixture() {
  const p = await deployProtocol();
  const payerWallet = (await ethers.deployContract("ERC1271Wallet", [p.payer.address])) as unknown as ERC1271Wallet;
  const payeeWallet = (await ethers.deployContract("ERC1271Wallet", [p.payee.address])) as unknown as ERC1271Wallet;
  await p.usdt.connect(p.admin).mint(await payerWallet.getAddress(), USDT(1_000));
  return { ...p, payerWallet, payeeWallet };
}

/** The protocol with gateway2 registered and approved too (an active gateway that deals do not name). */
async function twoGatewaysFixture() {
  const p = await deployProtocol();
  await approveExactly(p.usdt, p.gateway2, await p.registry.getAddress(), MIN_BOND);
  await p.registry.connect(p.gateway2).registerGateway(MIN_BOND, GATEWAY_FEE_BPS, ethers.id("gateway2 terms"));
  await p.registry.connect(p.governor).approveGateway(p.gateway2.address, 300);
  return p;
}

/*//////////////////////////////////////////////////////////////
                             TESTS
//////////////////////////////////////////////////////////////*/

describe("Escrow attacks", function () {
  /*//////////////////////////////////////////////////////////////
                    1. REENTRANCY (HOSTILE TOKEN)
  //////////////////////////////////////////////////////////////*/

  describe("reentrancy through a hostile token's callback", function () {
    type H = Awaited<ReturnType<typeof hostileFixture>>;

    async function hostileDeal(p: H, over: Partial<DealOut> = {}) {
      return makeDeal(p, { token: await p.hostile.getAddress(), amount: HOST(100), ...over });
    }

    /** A settled hostile deal leaves its fee owed to the gateway; returns that fee. */
    async function gatewayFeeOwed(p: H): Promise<bigint> {
      const d = await hostileDeal(p);
      await openDeal(p, d);
      await settle(p, d);
      return feeOf(d.amount, d.feeBps);
    }

    async function arm(p: H, data: string) {
      await p.hostile.arm(await p.escrow.getAddress(), data);
    }

    async function expectGuardRefused(p: H, tx: Promise<unknown>) {
      await expect(tx)
        .to.emit(p.hostile, "CallbackMade")
        .withArgs(await p.escrow.getAddress(), false, REENTRANT_CALL);
      expect(await p.hostile.lastCallFailed()).to.equal(true);
      expect(await p.hostile.lastRevertData()).to.equal(REENTRANT_CALL);
      expect((await p.hostile.armed())[0]).to.equal(false);
    }

    it("uses the selector of ReentrancyGuardReentrantCall()", async function () {
      const p = await loadFixture(hostileFixture);
      expect(p.escrow.interface.getError("ReentrancyGuardReentrantCall")!.selector).to.equal(REENTRANT_CALL);
    });

    it("every entry point that moves state refuses a re-entrant call", async function () {
      const p = await loadFixture(hostileFixture);
      const target = await hostileDeal(p);
      const auth = { expiry: 0n, signature: "0x" };
      const iface = p.escrow.interface;
      const calls: [string, string][] = [
        ["openWithSig", iface.encodeFunctionData("openWithSig", [target, ethers.ZeroHash, auth])],
        ["lock", iface.encodeFunctionData("lock", [target, ethers.ZeroHash])],
        ["lockWithSig", iface.encodeFunctionData("lockWithSig", [target, ethers.ZeroHash, p.acceptor.address, auth])],
        ["perform", iface.encodeFunctionData("perform", [target])],
        ["release", iface.encodeFunctionData("release", [target])],
        ["dispute", iface.encodeFunctionData("dispute", [target])],
        ["claim", iface.encodeFunctionData("claim", [target])],
        ["actWithSig", iface.encodeFunctionData("actWithSig", [target, Action.Release, auth])],
        ["settleWithSigs", iface.encodeFunctionData("settleWithSigs", [target, auth, auth])],
        ["cancelWithSigs", iface.encodeFunctionData("cancelWithSigs", [target, auth, auth])],
        ["resolve", iface.encodeFunctionData("resolve", [target, 0n])],
        ["withdrawFloat", iface.encodeFunctionData("withdrawFloat", [await p.hostile.getAddress(), 1n])],
      ];
      for (const [name, data] of calls) {
        const d = await hostileDeal(p);
        await p.hostile.connect(p.payer).approve(await p.escrow.getAddress(), d.amount);
        await arm(p, data);
        await expectGuardRefused(p, p.escrow.connect(p.payer).open(d, ethers.ZeroHash));
        expect(await p.escrow.statusOf(dealIdOf(d)), name).to.equal(Status.Open);
      }
    });

    describe("during open (transferFrom)", function () {
      it("refuses a re-entrant claimOwed and pulls the amount exactly once", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        const fee = await gatewayFeeOwed(p);
        const d = await hostileDeal(p);
        await p.hostile.connect(p.payer).approve(await p.escrow.getAddress(), d.amount);
        await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));

        const tx = p.escrow.connect(p.payer).open(d, ethers.ZeroHash);
        await expectGuardRefused(p, tx);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.payer, p.escrow, p.gateway], [-d.amount, d.amount, 0n]);
        expect(await p.escrow.statusOf(dealIdOf(d))).to.equal(Status.Open);
        await expectSolvent(p.escrow, p.hostile, { openDeals: [d], owed: [[p.gateway.address, fee]] });
      });

      it("refuses a re-entrant open of another deal", async function () {
        const p = await loadFixture(hostileFixture);
        const d = await hostileDeal(p);
        const other = await hostileDeal(p);
        await p.hostile.connect(p.payer).approve(await p.escrow.getAddress(), d.amount + other.amount);
        await arm(p, p.escrow.interface.encodeFunctionData("open", [other, ethers.ZeroHash]));

        const tx = p.escrow.connect(p.payer).open(d, ethers.ZeroHash);
        await expectGuardRefused(p, tx);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.payer, p.escrow], [-d.amount, d.amount]);
        expect(await p.escrow.statusOf(dealIdOf(d))).to.equal(Status.Open);
        expect(await p.escrow.statusOf(dealIdOf(other))).to.equal(Status.None);
        await expectSolvent(p.escrow, p.hostile, { openDeals: [d] });
      });

      it("refuses a re-entrant depositFloat while an acceptor deposits", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        await p.hostile.connect(p.acceptor).approve(await p.escrow.getAddress(), HOST(2_000));
        await arm(p, p.escrow.interface.encodeFunctionData("depositFloat", [h, HOST(1_000)]));

        const tx = p.escrow.connect(p.acceptor).depositFloat(h, HOST(1_000));
        await expectGuardRefused(p, tx);
        await expect(tx).to.emit(p.escrow, "FloatDeposited").withArgs(p.acceptor.address, h, HOST(1_000));
        await expect(tx).to.changeTokenBalances(p.hostile, [p.acceptor, p.escrow], [-HOST(1_000), HOST(1_000)]);
        await expectSolvent(p.escrow, p.hostile, { floats: [[p.acceptor.address, HOST(1_000), 0n]] });
      });
    });

    describe("during the payout transfer", function () {
      it("release: refuses a re-entrant refund of another (expired) deal; each is paid once", async function () {
        const p = await loadFixture(hostileFixture);
        const expiring = await hostileDeal(p, { deadline: BigInt((await time.latest()) + DAY) });
        const d = await hostileDeal(p);
        await openDeal(p, expiring);
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        await time.increaseTo(expiring.deadline + 1n);
        await arm(p, p.escrow.interface.encodeFunctionData("refund", [expiring]));

        const fee = feeOf(d.amount, d.feeBps);
        const tx = p.escrow.connect(p.payer).release(d);
        await expectGuardRefused(p, tx);
        await expect(tx)
          .to.emit(p.escrow, "DealReleased")
          .withArgs(dealIdOf(d), d.amount - fee, fee);
        await expect(tx).to.changeTokenBalances(
          p.hostile,
          [p.escrow, p.payee, p.payer],
          [-(d.amount - fee), d.amount - fee, 0n],
        );
        expect(await p.escrow.statusOf(dealIdOf(d))).to.equal(Status.Released);
        expect(await p.escrow.statusOf(dealIdOf(expiring))).to.equal(Status.Open);
        await expectSolvent(p.escrow, p.hostile, { openDeals: [expiring], owed: [[p.gateway.address, fee]] });

        // The refused refund is still available, once.
        await expect(p.escrow.refund(expiring)).to.changeTokenBalances(
          p.hostile,
          [p.escrow, p.payer],
          [-expiring.amount, expiring.amount],
        );
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, fee]] });
      });

      it("release: refuses a re-entrant claimOwed of the fee credited a moment earlier", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        const d = await hostileDeal(p);
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));

        const fee = feeOf(d.amount, d.feeBps);
        const tx = p.escrow.connect(p.payer).release(d);
        await expectGuardRefused(p, tx);
        await expect(tx).to.changeTokenBalances(
          p.hostile,
          [p.escrow, p.payee, p.gateway],
          [-(d.amount - fee), d.amount - fee, 0n],
        );
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, fee]] });
      });

      it("release: refuses a re-entrant release of the same deal wrapped in multicall", async function () {
        const p = await loadFixture(hostileFixture);
        const d = await hostileDeal(p);
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        const inner = p.escrow.interface.encodeFunctionData("release", [d]);
        await arm(p, p.escrow.interface.encodeFunctionData("multicall", [[inner]]));

        const fee = feeOf(d.amount, d.feeBps);
        const tx = p.escrow.connect(p.payer).release(d);
        await expectGuardRefused(p, tx);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.escrow, p.payee], [-(d.amount - fee), d.amount - fee]);
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, fee]] });
      });

      it("refund: refuses a re-entrant refund of the same deal; the payer is refunded once", async function () {
        const p = await loadFixture(hostileFixture);
        const d = await hostileDeal(p);
        await openDeal(p, d);
        await time.increaseTo(d.deadline + 1n);
        await arm(p, p.escrow.interface.encodeFunctionData("refund", [d]));

        const tx = p.escrow.connect(p.other).refund(d);
        await expectGuardRefused(p, tx);
        await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(dealIdOf(d), RefundReason.Deadline);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.escrow, p.payer], [-d.amount, d.amount]);
        expect(await p.escrow.statusOf(dealIdOf(d))).to.equal(Status.Refunded);
        await expectSolvent(p.escrow, p.hostile, {});
      });

      it("refund: refuses a re-entrant claimOwed; owed fees stay put", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        const fee = await gatewayFeeOwed(p);
        const d = await hostileDeal(p);
        await openDeal(p, d);
        await time.increaseTo(d.deadline + 1n);
        await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));

        const tx = p.escrow.connect(p.other).refund(d);
        await expectGuardRefused(p, tx);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.escrow, p.payer, p.gateway], [-d.amount, d.amount, 0n]);
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, fee]] });
      });

      it("cancel: refuses a re-entrant cancel; the payer is refunded once", async function () {
        const p = await loadFixture(hostileFixture);
        const d = await hostileDeal(p);
        await openDeal(p, d);
        await arm(p, p.escrow.interface.encodeFunctionData("cancel", [d]));

        const tx = p.escrow.connect(p.payee).cancel(d);
        await expectGuardRefused(p, tx);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.escrow, p.payer, p.payee], [-d.amount, d.amount, 0n]);
        await expectSolvent(p.escrow, p.hostile, {});
      });

      it("resolve: refuses a re-entrant resolve; the split is paid once", async function () {
        const p = await loadFixture(hostileFixture);
        const d = await hostileDeal(p);
        await openDeal(p, d);
        await performAndDispute(p, d);
        const payeeAmount = HOST(60);
        await arm(p, p.escrow.interface.encodeFunctionData("resolve", [d, payeeAmount]));

        const fee = feeOf(payeeAmount, d.feeBps);
        const tx = p.escrow.connect(p.gateway).resolve(d, payeeAmount);
        await expectGuardRefused(p, tx);
        await expect(tx)
          .to.emit(p.escrow, "DealResolved")
          .withArgs(dealIdOf(d), p.gateway.address, payeeAmount - fee, fee, d.amount - payeeAmount);
        await expect(tx).to.changeTokenBalances(
          p.hostile,
          [p.escrow, p.payer, p.payee],
          [-(d.amount - fee), d.amount - payeeAmount, payeeAmount - fee],
        );
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, fee]] });
      });

      it("claimOwed: refuses a re-entrant claimOwed; the fee is paid once", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        const fee = await gatewayFeeOwed(p);
        await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));

        const tx = p.escrow.connect(p.other).claimOwed(h, p.gateway.address);
        await expectGuardRefused(p, tx);
        await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(h, p.gateway.address, fee);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.escrow, p.gateway], [-fee, fee]);
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, 0n]] });
      });

      it("withdrawFloat: refuses a re-entrant withdrawFloat and claimOwed; the float is debited once", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        await p.hostile.connect(p.acceptor).approve(await p.escrow.getAddress(), HOST(1_000));
        await p.escrow.connect(p.acceptor).depositFloat(h, HOST(1_000));
        const fee = await gatewayFeeOwed(p);

        await arm(p, p.escrow.interface.encodeFunctionData("withdrawFloat", [h, HOST(400)]));
        const tx1 = p.escrow.connect(p.acceptor).withdrawFloat(h, HOST(400));
        await expectGuardRefused(p, tx1);
        await expect(tx1).to.changeTokenBalances(p.hostile, [p.escrow, p.acceptor], [-HOST(400), HOST(400)]);

        await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));
        const tx2 = p.escrow.connect(p.acceptor).withdrawFloat(h, HOST(100));
        await expectGuardRefused(p, tx2);
        await expect(tx2).to.changeTokenBalances(
          p.hostile,
          [p.escrow, p.acceptor, p.gateway],
          [-HOST(100), HOST(100), 0n],
        );
        await expectSolvent(p.escrow, p.hostile, {
          floats: [[p.acceptor.address, HOST(500), 0n]],
          owed: [[p.gateway.address, fee]],
        });
      });

      it("on-ramp release: refuses a re-entrant withdrawFloat; the locked float is released once", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        await p.hostile.connect(p.acceptor).approve(await p.escrow.getAddress(), HOST(1_000));
        await p.escrow.connect(p.acceptor).depositFloat(h, HOST(1_000));
        const d = await hostileDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
        await lockDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        await arm(p, p.escrow.interface.encodeFunctionData("withdrawFloat", [h, HOST(900)]));

        const fee = feeOf(d.amount, d.feeBps);
        const tx = p.escrow.connect(p.acceptor).release(d);
        await expectGuardRefused(p, tx);
        await expect(tx).to.changeTokenBalances(
          p.hostile,
          [p.escrow, p.payee, p.acceptor],
          [-(d.amount - fee), d.amount - fee, 0n],
        );
        await expectSolvent(p.escrow, p.hostile, {
          floats: [[p.acceptor.address, HOST(900), 0n]],
          owed: [[p.gateway.address, fee]],
        });
      });
    });
  });

  /*//////////////////////////////////////////////////////////////
                        2. SIGNATURE REPLAY
  //////////////////////////////////////////////////////////////*/

  describe("signature replay", function () {
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

    describe("across deals", function () {
      it("a Release signature for deal A is refused for deal B", async function () {
        const p = await loadFixture(twoDealsFixture);
        await p.escrow.connect(p.payee).perform(p.b);
        const sigA = await signAction(p.escrow, p.payer, dealIdOf(p.a), Action.Release);
        await expect(p.escrow.connect(p.other).actWithSig(p.b, Action.Release, sigA))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(dealIdOf(p.b), p.payer.address);
        const performA = await signAction(p.escrow, p.payee, dealIdOf(p.a), Action.Perform);
        await expect(p.escrow.connect(p.other).settleWithSigs(p.b, performA, sigA))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(dealIdOf(p.b), p.payee.address);
        expect(await p.escrow.statusOf(dealIdOf(p.b))).to.equal(Status.Performed);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });
    });

    describe("across actions", function () {
      it("a Perform signature cannot be used as Release, Cancel, Claim or Dispute", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const perform = await signAction(p.escrow, p.payee, id, Action.Perform);
        const performByPayer = await signAction(p.escrow, p.payer, id, Action.Perform);
        await expect(p.escrow.actWithSig(p.a, Action.Release, performByPayer))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payer.address);
        await expect(p.escrow.actWithSig(p.a, Action.Release, perform))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payer.address);
        await expect(p.escrow.actWithSig(p.a, Action.Cancel, perform))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payee.address);
        await expect(p.escrow.actWithSig(p.a, Action.Claim, perform))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payee.address);
        await expect(p.escrow.actWithSig(p.a, Action.Dispute, perform))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payee.address);
        // Nor as the payer's Cancel in a mutual cancel.
        const cancel = await signAction(p.escrow, p.payee, id, Action.Cancel);
        await expect(p.escrow.cancelWithSigs(p.a, performByPayer, cancel))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payer.address);
        expect(await p.escrow.statusOf(id)).to.equal(Status.Open);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });

      it("settleWithSigs refuses the two signatures swapped", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const perform = await signAction(p.escrow, p.payee, id, Action.Perform);
        const release = await signAction(p.escrow, p.payer, id, Action.Release);
        await expect(p.escrow.settleWithSigs(p.a, release, perform))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payee.address);
        // A Release signed by the payee (not the payer) is refused too.
        const releaseByPayee = await signAction(p.escrow, p.payee, id, Action.Release);
        await expect(p.escrow.settleWithSigs(p.a, perform, releaseByPayee))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payer.address);
        expect(await p.escrow.statusOf(id)).to.equal(Status.Open);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
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
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        await p.escrow.connect(p.payee).perform(p.a);
        const release = await signAction(p.escrow, p.payer, id, Action.Release, undefined, { chainId: 999n });
        await expect(p.escrow.actWithSig(p.a, Action.Release, release))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payer.address);
        expect(await p.escrow.statusOf(id)).to.equal(Status.Performed);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });

      it("a signature for another verifying contract is refused", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        await p.escrow.connect(p.payee).perform(p.a);
        const release = await signAction(p.escrow, p.payer, id, Action.Release, undefined, {
          verifyingContract: p.other.address,
        });
        await expect(p.escrow.actWithSig(p.a, Action.Release, release))
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
        expect(await escrow2.statusOf(id)).to.equal(Status.Open);

        const perform2 = await signAction(escrow2, p.payee, id, Action.Perform);
        const release2 = await signAction(escrow2, p.payer, id, Action.Release);
        await expect(p.escrow.settleWithSigs(p.a, perform2, release2))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payee.address);
        await expect(p.escrow.actWithSig(p.a, Action.Perform, perform2))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payee.address);
        // They are good where they were meant to be used.
        const fee = feeOf(p.a.amount, p.a.feeBps);
        await expect(escrow2.settleWithSigs(p.a, perform2, release2)).to.changeTokenBalances(
          p.usdt,
          [escrow2, p.payee],
          [-(p.a.amount - fee), p.a.amount - fee],
        );
        expect(await p.escrow.statusOf(id)).to.equal(Status.Open);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
        await expectSolvent(escrow2, p.usdt, { owed: [[p.gateway.address, fee]] });
      });
    });

    describe("expiry", function () {
      it("a signature is valid up to its expiry and refused one second later", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const expiry = BigInt(await time.latest()) + 100n;
        const perform = await signAction(p.escrow, p.payee, id, Action.Perform, expiry);
        await time.setNextBlockTimestamp(expiry + 1n);
        await expect(p.escrow.actWithSig(p.a, Action.Perform, perform))
          .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
          .withArgs(expiry);

        const expiryB = BigInt(await time.latest()) + 100n;
        const performB = await signAction(p.escrow, p.payee, dealIdOf(p.b), Action.Perform, expiryB);
        await time.setNextBlockTimestamp(expiryB);
        await expect(p.escrow.actWithSig(p.b, Action.Perform, performB))
          .to.emit(p.escrow, "DealPerformed")
          .withArgs(dealIdOf(p.b));
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });

      it("expired signatures are refused by openWithSig, settleWithSigs, cancelWithSigs and Dispute", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const expiry = BigInt(await time.latest()) + 100n;
        const fresh = BigInt((await time.latest()) + DAY);
        const d = await makeDeal(p);
        const open = await signOpen(p.escrow, p.payer, d, ethers.ZeroHash, "Open", expiry);
        const perform = await signAction(p.escrow, p.payee, id, Action.Perform, fresh);
        const release = await signAction(p.escrow, p.payer, id, Action.Release, expiry);
        const cancelPayer = await signAction(p.escrow, p.payer, id, Action.Cancel, expiry);
        const cancelPayee = await signAction(p.escrow, p.payee, id, Action.Cancel, fresh);
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
        await p.escrow.connect(p.payee).perform(p.a);
        const dispute = await signAction(p.escrow, p.payer, id, Action.Dispute, BigInt(await time.latest()) + 10n);
        await time.increase(11);
        await expect(p.escrow.actWithSig(p.a, Action.Dispute, dispute))
          .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
          .withArgs(dispute.expiry);
        expect(await p.escrow.statusOf(id)).to.equal(Status.Performed);
        expect(await p.escrow.statusOf(dealIdOf(d))).to.equal(Status.None);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });
    });

    describe("after use", function () {
      it("a used Perform signature cannot be replayed", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const perform = await signAction(p.escrow, p.payee, id, Action.Perform);
        await p.escrow.actWithSig(p.a, Action.Perform, perform);
        await expect(p.escrow.actWithSig(p.a, Action.Perform, perform))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Performed);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });

      it("a used early Release signature cannot be replayed, before or after the payout", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const release = await signAction(p.escrow, p.payer, id, Action.Release);
        await expect(p.escrow.actWithSig(p.a, Action.Release, release))
          .to.emit(p.escrow, "DealReleaseApproved")
          .withArgs(id);
        await expect(p.escrow.actWithSig(p.a, Action.Release, release))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Open);
        const fee = feeOf(p.a.amount, p.a.feeBps);
        await expect(p.escrow.connect(p.payee).perform(p.a)).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.payee],
          [-(p.a.amount - fee), p.a.amount - fee],
        );
        await expect(p.escrow.actWithSig(p.a, Action.Release, release))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Released);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.b], owed: [[p.gateway.address, fee]] });
      });

      it("a used settleWithSigs pair cannot be replayed", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const perform = await signAction(p.escrow, p.payee, id, Action.Perform);
        const release = await signAction(p.escrow, p.payer, id, Action.Release);
        const fee = feeOf(p.a.amount, p.a.feeBps);
        await expect(p.escrow.connect(p.other).settleWithSigs(p.a, perform, release))
          .to.emit(p.escrow, "DealReleased")
          .withArgs(id, p.a.amount - fee, fee);
        await expect(p.escrow.connect(p.other).settleWithSigs(p.a, perform, release))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Released);
        await expect(p.escrow.actWithSig(p.a, Action.Perform, perform))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Released);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.b], owed: [[p.gateway.address, fee]] });
      });

      it("a used mutual-cancel pair cannot be replayed", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const payerCancel = await signAction(p.escrow, p.payer, id, Action.Cancel);
        const payeeCancel = await signAction(p.escrow, p.payee, id, Action.Cancel);
        await expect(p.escrow.cancelWithSigs(p.a, payerCancel, payeeCancel)).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.payer],
          [-p.a.amount, p.a.amount],
        );
        await expect(p.escrow.cancelWithSigs(p.a, payerCancel, payeeCancel))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Refunded);
        await expect(p.escrow.actWithSig(p.a, Action.Cancel, payeeCancel))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Refunded);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.b] });
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
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, feeOf(d.amount, d.feeBps)]] });
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

  /*//////////////////////////////////////////////////////////////
                    3. CONTRACT WALLETS (ERC-1271)
  //////////////////////////////////////////////////////////////*/

  describe("contract-wallet (ERC-1271) parties", function () {
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
      await expect(settleTx)
        .to.emit(w.escrow, "DealReleased")
        .withArgs(id, d.amount - fee, fee);
      await expect(settleTx).to.changeTokenBalances(
        w.usdt,
        [w.escrow, w.payeeWallet, w.payee, w.payer],
        [-(d.amount - fee), d.amount - fee, 0n, 0n],
      );
      expect(await w.escrow.statusOf(id)).to.equal(Status.Released);
      await expectSolvent(w.escrow, w.usdt, { owed: [[w.gateway.address, fee]] });
    });

    it("refuses an open signed by someone other than the payer wallet's owner", async function () {
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
      expect(await w.escrow.statusOf(dealIdOf(d))).to.equal(Status.None);
      await expectSolvent(w.escrow, w.usdt, {});
    });

    it("refuses settlement signatures by non-owners", async function () {
      const w = await loadFixture(walletsFixture);
      const d = await walletDeal(w);
      const id = dealIdOf(d);
      await approveFromWallet(w, d.amount);
      await w.escrow.openWithSig(d, ethers.ZeroHash, await signOpen(w.escrow, w.payer, d, ethers.ZeroHash));

      const perform = await signAction(w.escrow, w.payee, id, Action.Perform);
      const release = await signAction(w.escrow, w.payer, id, Action.Release);
      const performByOther = await signAction(w.escrow, w.other, id, Action.Perform);
      const releaseByOther = await signAction(w.escrow, w.other, id, Action.Release);
      // The payer wallet's owner is not the payee wallet's owner, and vice versa.
      const performByPayerOwner = await signAction(w.escrow, w.payer, id, Action.Perform);
      const releaseByPayeeOwner = await signAction(w.escrow, w.payee, id, Action.Release);

      await expect(w.escrow.settleWithSigs(d, performByOther, release))
        .to.be.revertedWithCustomError(w.escrow, "EscrowInvalidSignature")
        .withArgs(id, d.payee);
      await expect(w.escrow.settleWithSigs(d, performByPayerOwner, release))
        .to.be.revertedWithCustomError(w.escrow, "EscrowInvalidSignature")
        .withArgs(id, d.payee);
      await expect(w.escrow.settleWithSigs(d, perform, releaseByOther))
        .to.be.revertedWithCustomError(w.escrow, "EscrowInvalidSignature")
        .withArgs(id, d.payer);
      await expect(w.escrow.settleWithSigs(d, perform, releaseByPayeeOwner))
        .to.be.revertedWithCustomError(w.escrow, "EscrowInvalidSignature")
        .withArgs(id, d.payer);
      expect(await w.escrow.statusOf(id)).to.equal(Status.Open);
      await expectSolvent(w.escrow, w.usdt, { openDeals: [d] });
    });

    it("a wallet disputes by signature and both wallets cancel by signatures", async function () {
      const w = await loadFixture(walletsFixture);
      const d = await walletDeal(w);
      const id = dealIdOf(d);
      await approveFromWallet(w, d.amount);
      await w.escrow.openWithSig(d, ethers.ZeroHash, await signOpen(w.escrow, w.payer, d, ethers.ZeroHash));
      await w.escrow.actWithSig(d, Action.Perform, await signAction(w.escrow, w.payee, id, Action.Perform));

      const disputeByOther = await signAction(w.escrow, w.other, id, Action.Dispute);
      await expect(w.escrow.actWithSig(d, Action.Dispute, disputeByOther))
        .to.be.revertedWithCustomError(w.escrow, "EscrowInvalidSignature")
        .withArgs(id, d.payee);
      await expect(w.escrow.actWithSig(d, Action.Dispute, await signAction(w.escrow, w.payee, id, Action.Dispute)))
        .to.emit(w.escrow, "DealDisputed")
        .withArgs(id, d.payee);

      const payerCancel = await signAction(w.escrow, w.payer, id, Action.Cancel);
      const payeeCancel = await signAction(w.escrow, w.payee, id, Action.Cancel);
      const tx = w.escrow.cancelWithSigs(d, payerCancel, payeeCancel);
      await expect(tx).to.emit(w.escrow, "DealRefunded").withArgs(id, RefundReason.MutualCancel);
      await expect(tx).to.changeTokenBalances(w.usdt, [w.escrow, w.payerWallet], [-d.amount, d.amount]);
      await expectSolvent(w.escrow, w.usdt, {});
    });
  });

  /*//////////////////////////////////////////////////////////////
                        4. BLACKLISTED PARTIES
  //////////////////////////////////////////////////////////////*/

  describe("blacklisted parties", function () {
    describe("payee blacklisted before release", function () {
      async function blacklistedPayeeFixture() {
        const p = await deployProtocol();
        const d = await makeDeal(p);
        await openDeal(p, d);
        await p.usdt.connect(p.admin).addBlackList(p.payee.address);
        await p.escrow.connect(p.payee).perform(d);
        return { ...p, d };
      }

      it("release settles: the fee is owed to the gateway and the payee's amount is deferred", async function () {
        const p = await loadFixture(blacklistedPayeeFixture);
        const id = dealIdOf(p.d);
        const usdt = await p.usdt.getAddress();
        const fee = feeOf(p.d.amount, p.d.feeBps);
        const net = p.d.amount - fee;

        const tx = p.escrow.connect(p.payer).release(p.d);
        await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id, net, fee);
        await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(id, usdt, p.payee.address, net);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee, p.payer], [0n, 0n, 0n]);
        expect(await p.escrow.statusOf(id)).to.equal(Status.Released);
        await expectSolvent(p.escrow, p.usdt, {
          owed: [
            [p.gateway.address, fee],
            [p.payee.address, net],
          ],
        });
      });

      it("nobody can claim the payee's amount while it is blacklisted; the fee is claimable", async function () {
        const p = await loadFixture(blacklistedPayeeFixture);
        const usdt = await p.usdt.getAddress();
        const fee = feeOf(p.d.amount, p.d.feeBps);
        const net = p.d.amount - fee;
        await p.escrow.connect(p.payer).release(p.d);

        for (const caller of [p.payee, p.other, p.gateway, p.payer]) {
          await expect(p.escrow.connect(caller).claimOwed(usdt, p.payee.address))
            .to.be.revertedWithCustomError(p.usdt, "TestUSDTBlacklisted")
            .withArgs(p.payee.address);
        }
        expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(net);
        // Owed balances belong to their account only: the others have nothing to claim.
        for (const caller of [p.other, p.payer]) {
          await expect(p.escrow.connect(caller).claimOwed(usdt, caller.address))
            .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
            .withArgs(usdt, caller.address);
        }
        await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.gateway],
          [-fee, fee],
        );
        await expectSolvent(p.escrow, p.usdt, {
          owed: [
            [p.gateway.address, 0n],
            [p.payee.address, net],
          ],
        });
      });

      it("after removeBlackList anyone's claimOwed pays the payee", async function () {
        const p = await loadFixture(blacklistedPayeeFixture);
        const usdt = await p.usdt.getAddress();
        const fee = feeOf(p.d.amount, p.d.feeBps);
        const net = p.d.amount - fee;
        await p.escrow.connect(p.payer).release(p.d);
        await p.usdt.connect(p.admin).removeBlackList(p.payee.address);

        const tx = p.escrow.connect(p.other).claimOwed(usdt, p.payee.address);
        await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.payee.address, net);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee, p.other], [-net, net, 0n]);
        await expect(p.escrow.claimOwed(usdt, p.payee.address))
          .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
          .withArgs(usdt, p.payee.address);
        await expectSolvent(p.escrow, p.usdt, {
          owed: [
            [p.gateway.address, fee],
            [p.payee.address, 0n],
          ],
        });
      });

      it("resolve: the payee's share is deferred while the payer's refund part still arrives", async function () {
        const p = await loadFixture(blacklistedPayeeFixture);
        const id = dealIdOf(p.d);
        const usdt = await p.usdt.getAddress();
        await p.escrow.connect(p.payer).dispute(p.d);
        const payeeAmount = USDT(60);
        const fee = feeOf(payeeAmount, p.d.feeBps);
        const refund = p.d.amount - payeeAmount;

        const tx = p.escrow.connect(p.gateway).resolve(p.d, payeeAmount);
        await expect(tx)
          .to.emit(p.escrow, "DealResolved")
          .withArgs(id, p.gateway.address, payeeAmount - fee, fee, refund);
        await expect(tx)
          .to.emit(p.escrow, "PayoutDeferred")
          .withArgs(id, usdt, p.payee.address, payeeAmount - fee);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer, p.payee], [-refund, refund, 0n]);
        await expectSolvent(p.escrow, p.usdt, {
          owed: [
            [p.gateway.address, fee],
            [p.payee.address, payeeAmount - fee],
            [p.payer.address, 0n],
          ],
        });

        await p.usdt.connect(p.admin).removeBlackList(p.payee.address);
        await expect(p.escrow.claimOwed(usdt, p.payee.address)).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.payee],
          [-(payeeAmount - fee), payeeAmount - fee],
        );
      });

      it("on-ramp release: the buyer's amount is deferred and the acceptor's locked float is released", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        await depositFloat(p, USDT(1_000));
        const d = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
        await lockDeal(p, d);
        await p.usdt.connect(p.admin).addBlackList(p.payee.address);
        await p.escrow.connect(p.payee).perform(d);
        const fee = feeOf(d.amount, d.feeBps);

        const tx = p.escrow.connect(p.acceptor).release(d);
        await expect(tx)
          .to.emit(p.escrow, "PayoutDeferred")
          .withArgs(dealIdOf(d), usdt, p.payee.address, d.amount - fee);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee], [0n, 0n]);
        await expectSolvent(p.escrow, p.usdt, {
          floats: [[p.acceptor.address, USDT(900), 0n]],
          owed: [
            [p.gateway.address, fee],
            [p.payee.address, d.amount - fee],
          ],
        });
      });
    });

    describe("payer blacklisted before a refund", function () {
      async function blacklistedPayerFixture() {
        const p = await deployProtocol();
        const d = await makeDeal(p);
        await openDeal(p, d);
        await p.usdt.connect(p.admin).addBlackList(p.payer.address);
        return { ...p, d };
      }

      it("refund after the deadline: the whole amount is owed to the payer", async function () {
        const p = await loadFixture(blacklistedPayerFixture);
        const id = dealIdOf(p.d);
        const usdt = await p.usdt.getAddress();
        await time.increaseTo(p.d.deadline + 1n);

        const tx = p.escrow.connect(p.other).refund(p.d);
        await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.Deadline);
        await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(id, usdt, p.payer.address, p.d.amount);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [0n, 0n]);
        expect(await p.escrow.statusOf(id)).to.equal(Status.Refunded);
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.payer.address, p.d.amount]] });
      });

      it("payee cancel: deferred to the payer, unclaimable until unlisted, then paid to the payer", async function () {
        const p = await loadFixture(blacklistedPayerFixture);
        const id = dealIdOf(p.d);
        const usdt = await p.usdt.getAddress();
        await expect(p.escrow.connect(p.payee).cancel(p.d))
          .to.emit(p.escrow, "PayoutDeferred")
          .withArgs(id, usdt, p.payer.address, p.d.amount);

        for (const caller of [p.payer, p.payee, p.other]) {
          await expect(p.escrow.connect(caller).claimOwed(usdt, p.payer.address))
            .to.be.revertedWithCustomError(p.usdt, "TestUSDTBlacklisted")
            .withArgs(p.payer.address);
        }
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.payer.address, p.d.amount]] });

        await p.usdt.connect(p.admin).removeBlackList(p.payer.address);
        const tx = p.escrow.connect(p.payee).claimOwed(usdt, p.payer.address);
        await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.payer.address, p.d.amount);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer, p.payee], [-p.d.amount, p.d.amount, 0n]);
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.payer.address, 0n]] });
      });

      it("resolve: the payer's refund is deferred while the payee's share still arrives", async function () {
        const p = await loadFixture(blacklistedPayerFixture);
        const id = dealIdOf(p.d);
        const usdt = await p.usdt.getAddress();
        await performAndDispute(p, p.d);
        const payeeAmount = USDT(30);
        const fee = feeOf(payeeAmount, p.d.feeBps);
        const refund = p.d.amount - payeeAmount;

        const tx = p.escrow.connect(p.gateway).resolve(p.d, payeeAmount);
        await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(id, usdt, p.payer.address, refund);
        await expect(tx).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.payee, p.payer],
          [-(payeeAmount - fee), payeeAmount - fee, 0n],
        );
        await expectSolvent(p.escrow, p.usdt, {
          owed: [
            [p.gateway.address, fee],
            [p.payer.address, refund],
          ],
        });
      });
    });
  });

  /*//////////////////////////////////////////////////////////////
                       5. USDT PAUSED MID-DEAL
  //////////////////////////////////////////////////////////////*/

  describe("USDT paused mid-deal", function () {
    async function pausedFixture() {
      const p = await deployProtocol();
      const d = await makeDeal(p);
      await openDeal(p, d);
      await p.usdt.connect(p.admin).pause();
      return { ...p, d };
    }

    it("perform works and release completes with every payout owed", async function () {
      const p = await loadFixture(pausedFixture);
      const id = dealIdOf(p.d);
      const usdt = await p.usdt.getAddress();
      const fee = feeOf(p.d.amount, p.d.feeBps);
      const net = p.d.amount - fee;

      await expect(p.escrow.connect(p.payee).perform(p.d)).to.emit(p.escrow, "DealPerformed").withArgs(id);
      const tx = p.escrow.connect(p.payer).release(p.d);
      await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id, net, fee);
      await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(id, usdt, p.payee.address, net);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee], [0n, 0n]);
      expect(await p.escrow.statusOf(id)).to.equal(Status.Released);
      await expectSolvent(p.escrow, p.usdt, {
        owed: [
          [p.gateway.address, fee],
          [p.payee.address, net],
        ],
      });
    });

    it("claims revert while paused and succeed after unpause", async function () {
      const p = await loadFixture(pausedFixture);
      const usdt = await p.usdt.getAddress();
      const fee = feeOf(p.d.amount, p.d.feeBps);
      const net = p.d.amount - fee;
      await settle(p, p.d);

      for (const account of [p.payee, p.gateway]) {
        await expect(p.escrow.connect(account).claimOwed(usdt, account.address)).to.be.revertedWithCustomError(
          p.usdt,
          "TestUSDTPaused",
        );
      }
      await expectSolvent(p.escrow, p.usdt, {
        owed: [
          [p.gateway.address, fee],
          [p.payee.address, net],
        ],
      });

      await p.usdt.connect(p.admin).unpause();
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.payee.address)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee],
        [-net, net],
      );
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address))
        .to.emit(p.escrow, "OwedClaimed")
        .withArgs(usdt, p.gateway.address, fee);
      await expectSolvent(p.escrow, p.usdt, {
        owed: [
          [p.gateway.address, 0n],
          [p.payee.address, 0n],
        ],
      });
    });

    it("a refund after the deadline while paused is owed to the payer", async function () {
      const p = await loadFixture(pausedFixture);
      const id = dealIdOf(p.d);
      const usdt = await p.usdt.getAddress();
      await time.increaseTo(p.d.deadline + 1n);

      const tx = p.escrow.connect(p.other).refund(p.d);
      await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.Deadline);
      await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(id, usdt, p.payer.address, p.d.amount);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [0n, 0n]);
      await expect(p.escrow.claimOwed(usdt, p.payer.address)).to.be.revertedWithCustomError(p.usdt, "TestUSDTPaused");
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.payer.address, p.d.amount]] });

      await p.usdt.connect(p.admin).unpause();
      await expect(p.escrow.claimOwed(usdt, p.payer.address)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payer],
        [-p.d.amount, p.d.amount],
      );
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.payer.address, 0n]] });
    });

    it("an on-ramp deal refunds to the float while paused; withdrawing waits for unpause", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await depositFloat(p, USDT(1_000));
      const d = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
      await lockDeal(p, d);
      await p.usdt.connect(p.admin).pause();
      await time.increaseTo(d.deadline + 1n);

      await expect(p.escrow.refund(d)).to.emit(p.escrow, "DealRefunded").withArgs(dealIdOf(d), RefundReason.Deadline);
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(1_000))).to.be.revertedWithCustomError(
        p.usdt,
        "TestUSDTPaused",
      );
      await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(1_000), 0n]] });
      await p.usdt.connect(p.admin).unpause();
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(1_000))).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.acceptor],
        [-USDT(1_000), USDT(1_000)],
      );
      await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, 0n, 0n]] });
    });
  });

  /*//////////////////////////////////////////////////////////////
                      6. USDT TRANSFER FEE ON
  //////////////////////////////////////////////////////////////*/

  describe("USDT transfer fee switched on", function () {
    const TOKEN_FEE_BPS = 10n; // 0.1%
    const TOKEN_MAX_FEE = USDT(20);
    const tokenFee = (v: bigint) => {
      const f = (v * TOKEN_FEE_BPS) / 10_000n;
      return f > TOKEN_MAX_FEE ? TOKEN_MAX_FEE : f;
    };

    it("opening a deal reverts EscrowTransferShortfall, so a deal's amount is always exact", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE);
      const d = await makeDeal(p);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowTransferShortfall")
        .withArgs(usdt, d.amount, d.amount - tokenFee(d.amount));
      expect(await p.escrow.statusOf(dealIdOf(d))).to.equal(Status.None);
      await expectSolvent(p.escrow, p.usdt, {});
    });

    it("a float deposit is credited with exactly what arrived, and withdraws exactly", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE);
      const amount = USDT(1_000);
      const received = amount - tokenFee(amount);
      await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), amount);

      const tx = p.escrow.connect(p.acceptor).depositFloat(usdt, amount);
      await expect(tx).to.emit(p.escrow, "FloatDeposited").withArgs(p.acceptor.address, usdt, received);
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.acceptor, p.escrow, p.admin],
        [-amount, received, tokenFee(amount)],
      );
      await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, received, 0n]] });

      const wtx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, received);
      await expect(wtx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, received);
      await expect(wtx).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.acceptor],
        [-received, received - tokenFee(received)],
      );
      await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, 0n, 0n]] });
    });

    it("fee switched on after open: release settles and the token fee comes out of what the payee receives", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      const d = await makeDeal(p, { amount: USDT(1_000) });
      const other = await makeDeal(p, { amount: USDT(250) });
      await openDeal(p, d);
      await openDeal(p, other);
      await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE);
      await p.escrow.connect(p.payee).perform(d);
      const gatewayFee = feeOf(d.amount, d.feeBps);
      const net = d.amount - gatewayFee;

      const tx = p.escrow.connect(p.payer).release(d);
      await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(d), net, gatewayFee);
      await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee, p.admin],
        [-net, d.amount - gatewayFee - tokenFee(net), tokenFee(net)],
      );
      await expectSolvent(p.escrow, p.usdt, { openDeals: [other], owed: [[p.gateway.address, gatewayFee]] });

      // Once the gateway claims its fee, the escrow has paid out exactly the deal's amount.
      await expect(p.escrow.claimOwed(usdt, p.gateway.address)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.gateway],
        [-gatewayFee, gatewayFee - tokenFee(gatewayFee)],
      );
      expect(await p.usdt.balanceOf(await p.escrow.getAddress())).to.equal(other.amount);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [other], owed: [[p.gateway.address, 0n]] });
    });

    it("fee switched on after open: a refund sends the whole amount, the payer bears the token fee", async function () {
      const p = await loadFixture(deployProtocol);
      const d = await makeDeal(p);
      await openDeal(p, d);
      await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE);
      await expect(p.escrow.connect(p.payee).cancel(d)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payer],
        [-d.amount, d.amount - tokenFee(d.amount)],
      );
      await expectSolvent(p.escrow, p.usdt, {});
    });
  });

  /*//////////////////////////////////////////////////////////////
                7. FRONT-RUNNING AN OPEN (SAME DEAL ID)
  //////////////////////////////////////////////////////////////*/

  describe("front-running an open with the same deal id", function () {
    /** The victim (payer) has approved the escrow; its open is pending. */
    async function pendingOpenFixture() {
      const p = await deployProtocol();
      const d = await makeDeal(p);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      return { ...p, d };
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
      expect(await p.escrow.statusOf(id)).to.equal(Status.None);

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
      expect(await p.escrow.statusOf(dealIdOf(copy))).to.equal(Status.Open);
      expect(await p.escrow.statusOf(dealIdOf(p.d))).to.equal(Status.None);

      await expect(p.escrow.connect(p.payer).open(p.d, ethers.ZeroHash)).to.changeTokenBalances(
        p.usdt,
        [p.payer, p.escrow],
        [-p.d.amount, p.d.amount],
      );
      expect(await p.escrow.statusOf(dealIdOf(p.d))).to.equal(Status.Open);
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
      expect(await p.escrow.statusOf(id)).to.equal(Status.None);

      // Relaying the genuine payload opens exactly the victim's deal.
      await expect(p.escrow.connect(p.other).openWithSig(p.d, ref, sig))
        .to.emit(p.escrow, "DealOpened")
        .withArgs(id, p.payer.address, p.payee.address, dealTuple(p.d), ref);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d] });
    });

    it("an attacker cannot lock an acceptor's float, even signing for itself", async function () {
      const p = await loadFixture(deployProtocol);
      await depositFloat(p, USDT(1_000));
      const d = await makeDeal(p, { payer: p.acceptor.address, payee: p.other.address, kind: BigInt(Kind.OnRamp) });
      const id = dealIdOf(d);
      await expect(p.escrow.connect(p.other).lock(d, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, p.other.address);
      const selfSigned = await signOpen(p.escrow, p.other, d, ethers.ZeroHash, "Lock");
      await expect(p.escrow.lockWithSig(d, ethers.ZeroHash, p.other.address, selfSigned))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, p.other.address);
      await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(1_000), 0n]] });
    });
  });

  /*//////////////////////////////////////////////////////////////
                       8. A MALICIOUS GATEWAY
  //////////////////////////////////////////////////////////////*/

  describe("a malicious gateway", function () {
    async function disputedFixture() {
      const p = await twoGatewaysFixture();
      const d = await makeDeal(p);
      await openDeal(p, d);
      await performAndDispute(p, d);
      const since = (await p.escrow.getDeal(dealIdOf(d))).since;
      return { ...p, d, endsAt: since + BigInt(RESOLUTION_WINDOW) };
    }

    it("cannot resolve a deal that does not name it", async function () {
      const p = await loadFixture(disputedFixture);
      const id = dealIdOf(p.d);
      expect(await p.registry.canRule(p.gateway2.address)).to.equal(true);
      for (const caller of [p.gateway2, p.payer, p.payee, p.other]) {
        await expect(p.escrow.connect(caller).resolve(p.d, p.d.amount))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, caller.address);
      }
      // Naming itself in a copy of the deal does not match the commitment.
      await expect(p.escrow.connect(p.gateway2).resolve({ ...p.d, gateway: p.gateway2.address }, p.d.amount))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal")
        .withArgs(id);
      expect(await p.escrow.statusOf(id)).to.equal(Status.Disputed);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d] });
    });

    it("cannot resolve a deal that is not disputed", async function () {
      const p = await loadFixture(twoGatewaysFixture);
      const d = await makeDeal(p);
      const id = dealIdOf(d);
      await openDeal(p, d);
      await expect(p.escrow.connect(p.gateway).resolve(d, d.amount))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Open);
      await p.escrow.connect(p.payee).perform(d);
      await expect(p.escrow.connect(p.gateway).resolve(d, d.amount))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Performed);
      await p.escrow.connect(p.payer).release(d);
      await expect(p.escrow.connect(p.gateway).resolve(d, 0n))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Released);
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, feeOf(d.amount, d.feeBps)]] });
    });

    it("cannot rule twice", async function () {
      const p = await loadFixture(disputedFixture);
      const id = dealIdOf(p.d);
      await p.escrow.connect(p.gateway).resolve(p.d, USDT(50));
      await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Resolved);
      const fee = feeOf(USDT(50), p.d.feeBps);
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, fee]] });
    });

    it("cannot pay the payee more than the amount", async function () {
      const p = await loadFixture(disputedFixture);
      const id = dealIdOf(p.d);
      await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount + 1n))
        .to.be.revertedWithCustomError(p.escrow, "EscrowPayeeAmountTooHigh")
        .withArgs(id, p.d.amount + 1n, p.d.amount);
      // The worst it can do is give everything to one side, its fee taken from the payee's share only.
      const fee = feeOf(p.d.amount, p.d.feeBps);
      const tx = p.escrow.connect(p.gateway).resolve(p.d, p.d.amount);
      await expect(tx)
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.gateway.address, p.d.amount - fee, fee, 0n);
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee, p.payer, p.gateway],
        [-(p.d.amount - fee), p.d.amount - fee, 0n, 0n],
      );
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, fee]] });
    });

    it("can rule up to the end of its window, not one second later; then only the arbiter, without fee", async function () {
      const p = await loadFixture(disputedFixture);
      const id = dealIdOf(p.d);
      const snapshotFree = await ethers.provider.send("evm_snapshot", []);
      await time.setNextBlockTimestamp(p.endsAt);
      await expect(p.escrow.connect(p.gateway).resolve(p.d, USDT(40)))
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.gateway.address, USDT(40) - feeOf(USDT(40), p.d.feeBps), feeOf(USDT(40), p.d.feeBps), USDT(60));
      await ethers.provider.send("evm_revert", [snapshotFree]);

      await time.setNextBlockTimestamp(p.endsAt + 1n);
      await expect(p.escrow.connect(p.gateway).resolve(p.d, USDT(40)))
        .to.be.revertedWithCustomError(p.escrow, "EscrowResolutionWindowClosed")
        .withArgs(id, p.endsAt);
      const tx = p.escrow.connect(p.arbiter).resolve(p.d, USDT(40));
      await expect(tx).to.emit(p.escrow, "DealResolved").withArgs(id, p.arbiter.address, USDT(40), 0n, USDT(60));
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee, p.payer], [-p.d.amount, USDT(40), USDT(60)]);
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, 0n]] });
    });

    it("cannot act for a party: release, cancel, perform, dispute, refund early", async function () {
      const p = await loadFixture(twoGatewaysFixture);
      const d = await makeDeal(p);
      const id = dealIdOf(d);
      await openDeal(p, d);
      const g = p.escrow.connect(p.gateway);
      for (const call of [g.release, g.cancel, g.perform, g.dispute, g.claim]) {
        await expect(call(d))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, p.gateway.address);
      }
      await expect(g.refund(d))
        .to.be.revertedWithCustomError(p.escrow, "EscrowDeadlineNotPassed")
        .withArgs(id, d.deadline);
      // Its own signature does not stand in for a party's.
      const release = await signAction(p.escrow, p.gateway, id, Action.Release);
      await expect(g.actWithSig(d, Action.Release, release))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [d] });
    });

    it("a suspended gateway can no longer rule; the arbiter can at once", async function () {
      const p = await loadFixture(disputedFixture);
      const id = dealIdOf(p.d);
      await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
      await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, p.gateway.address);
      await expect(p.escrow.connect(p.arbiter).resolve(p.d, 0n)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payer],
        [-p.d.amount, p.d.amount],
      );
      await expectSolvent(p.escrow, p.usdt, {});
    });

    describe("the lock delegate", function () {
      async function delegateLockFixture() {
        const p = await deployProtocol();
        await depositFloat(p, USDT(1_000));
        const d = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
        return { ...p, d };
      }

      it("can lock the acceptor's float", async function () {
        const p = await loadFixture(delegateLockFixture);
        await expect(p.escrow.connect(p.delegate).lock(p.d, ethers.ZeroHash))
          .to.emit(p.escrow, "DealOpened")
          .withArgs(dealIdOf(p.d), p.acceptor.address, p.payee.address, dealTuple(p.d), ethers.ZeroHash);
        await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(900), p.d.amount]] });
      });

      it("cannot release, cancel, dispute or withdraw the acceptor's float", async function () {
        const p = await loadFixture(delegateLockFixture);
        const id = dealIdOf(p.d);
        const usdt = await p.usdt.getAddress();
        await p.escrow.connect(p.delegate).lock(p.d, ethers.ZeroHash);
        await p.escrow.connect(p.payee).perform(p.d);
        const del = p.escrow.connect(p.delegate);

        for (const call of [del.release, del.cancel, del.dispute]) {
          await expect(call(p.d))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(id, p.delegate.address);
        }
        await expect(del.withdrawFloat(usdt, USDT(900)))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.delegate.address, usdt, 0n, USDT(900));
        // Its signatures do not stand in for the acceptor's either.
        const release = await signAction(p.escrow, p.delegate, id, Action.Release);
        await expect(del.actWithSig(p.d, Action.Release, release))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.acceptor.address);
        const cancel = await signAction(p.escrow, p.delegate, id, Action.Cancel);
        const payeeCancel = await signAction(p.escrow, p.payee, id, Action.Cancel);
        await expect(del.cancelWithSigs(p.d, cancel, payeeCancel))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.acceptor.address);
        expect(await p.escrow.statusOf(id)).to.equal(Status.Performed);
        await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(900), p.d.amount]] });
      });

      it("cannot open a wallet-funded deal in the acceptor's name", async function () {
        const p = await loadFixture(delegateLockFixture);
        const d = await makeDeal(p, { payer: p.acceptor.address, payee: p.delegate.address });
        await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), d.amount);
        await expect(p.escrow.connect(p.delegate).open(d, ethers.ZeroHash))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(d), p.delegate.address);
        await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(1_000), 0n]] });
      });
    });
  });

  /*//////////////////////////////////////////////////////////////
                 9. GOVERNANCE CANNOT BLOCK EXITS
  //////////////////////////////////////////////////////////////*/

  describe("governance cannot block exits", function () {
    /**
     * Deals and balances set up in normal times, then the lockdown: registry paused, the gateway suspended, the
     * acceptor suspended and USDT disallowed.
     */
    async function lockdownFixture() {
      const p = await deployProtocol();
      await depositFloat(p, USDT(1_000));
      const onRamp = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
      await lockDeal(p, onRamp);
      const refundable = await makeDeal(p);
      const cancellable = await makeDeal(p);
      const mutual = await makeDeal(p);
      const signed = await makeDeal(p);
      const disputed = await makeDeal(p);
      const settled = await makeDeal(p);
      for (const d of [refundable, cancellable, mutual, signed, disputed, settled]) await openDeal(p, d);
      await settle(p, settled);
      await performAndDispute(p, disputed);
      const settledFee = feeOf(settled.amount, settled.feeBps);

      await p.registry.connect(p.pauser).pause();
      await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
      await p.registry.connect(p.governor).suspendAcceptor(p.acceptor.address);
      await p.registry.connect(p.governor).setTokenAllowed(await p.usdt.getAddress(), false);
      return { ...p, onRamp, refundable, cancellable, mutual, signed, disputed, settledFee };
    }
    type L = Awaited<ReturnType<typeof lockdownFixture>>;

    /** Liabilities after the lockdown, less what a test settled. */
    function remaining(p: L, gone: DealOut[], owedGateway = p.settledFee): Liabilities {
      const open = [p.refundable, p.cancellable, p.mutual, p.signed, p.disputed].filter((d) => !gone.includes(d));
      return { openDeals: open, owed: [[p.gateway.address, owedGateway]] };
    }

    it("new business is blocked", async function () {
      const p = await loadFixture(lockdownFixture);
      const d = await makeDeal(p);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash)).to.be.revertedWithCustomError(
        p.registry,
        "RegistryPaused",
      );
      await expect(
        p.escrow.connect(p.acceptor).depositFloat(await p.usdt.getAddress(), d.amount),
      ).to.be.revertedWithCustomError(p.registry, "RegistryPaused");
      await expectSolvent(p.escrow, p.usdt, {
        ...remaining(p, []),
        floats: [[p.acceptor.address, USDT(900), p.onRamp.amount]],
      });
    });

    it("refund after the deadline works", async function () {
      const p = await loadFixture(lockdownFixture);
      await time.increaseTo(p.refundable.deadline + 1n);
      const tx = p.escrow.connect(p.other).refund(p.refundable);
      await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(dealIdOf(p.refundable), RefundReason.Deadline);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-p.refundable.amount, p.refundable.amount]);
      await expectSolvent(p.escrow, p.usdt, {
        ...remaining(p, [p.refundable]),
        floats: [[p.acceptor.address, USDT(900), p.onRamp.amount]],
      });
    });

    it("payee cancel works", async function () {
      const p = await loadFixture(lockdownFixture);
      const tx = p.escrow.connect(p.payee).cancel(p.cancellable);
      await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(dealIdOf(p.cancellable), RefundReason.PayeeCancel);
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payer],
        [-p.cancellable.amount, p.cancellable.amount],
      );
      await expectSolvent(p.escrow, p.usdt, {
        ...remaining(p, [p.cancellable]),
        floats: [[p.acceptor.address, USDT(900), p.onRamp.amount]],
      });
    });

    it("withdrawFloat of the free float works, and a cancelled lock returns to it", async function () {
      const p = await loadFixture(lockdownFixture);
      const usdt = await p.usdt.getAddress();
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(900))).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.acceptor],
        [-USDT(900), USDT(900)],
      );
      await expect(p.escrow.connect(p.payee).cancel(p.onRamp))
        .to.emit(p.escrow, "DealRefunded")
        .withArgs(dealIdOf(p.onRamp), RefundReason.PayeeCancel);
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, p.onRamp.amount))
        .to.emit(p.escrow, "FloatWithdrawn")
        .withArgs(p.acceptor.address, usdt, p.onRamp.amount);
      await expectSolvent(p.escrow, p.usdt, { ...remaining(p, []), floats: [[p.acceptor.address, 0n, 0n]] });
    });

    it("claimOwed works", async function () {
      const p = await loadFixture(lockdownFixture);
      const usdt = await p.usdt.getAddress();
      const tx = p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address);
      await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.gateway.address, p.settledFee);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.gateway], [-p.settledFee, p.settledFee]);
      await expectSolvent(p.escrow, p.usdt, {
        ...remaining(p, [], 0n),
        floats: [[p.acceptor.address, USDT(900), p.onRamp.amount]],
      });
    });

    it("a mutual release works, directly and by signatures, and so does an on-ramp release", async function () {
      const p = await loadFixture(lockdownFixture);
      const fee = feeOf(p.mutual.amount, p.mutual.feeBps);
      await p.escrow.connect(p.payee).perform(p.mutual);
      const tx = p.escrow.connect(p.payer).release(p.mutual);
      await expect(tx)
        .to.emit(p.escrow, "DealReleased")
        .withArgs(dealIdOf(p.mutual), p.mutual.amount - fee, fee);
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee],
        [-(p.mutual.amount - fee), p.mutual.amount - fee],
      );

      const id = dealIdOf(p.signed);
      const perform = await signAction(p.escrow, p.payee, id, Action.Perform);
      const release = await signAction(p.escrow, p.payer, id, Action.Release);
      await expect(p.escrow.connect(p.other).settleWithSigs(p.signed, perform, release)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee],
        [-(p.signed.amount - fee), p.signed.amount - fee],
      );

      await p.escrow.connect(p.payee).perform(p.onRamp);
      await expect(p.escrow.connect(p.acceptor).release(p.onRamp)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee],
        [-(p.onRamp.amount - fee), p.onRamp.amount - fee],
      );
      await expectSolvent(p.escrow, p.usdt, {
        ...remaining(p, [p.mutual, p.signed], p.settledFee + 3n * fee),
        floats: [[p.acceptor.address, USDT(900), 0n]],
      });
    });

    it("a disputed deal is still ruled (by the arbiter, the gateway being suspended) and can be cancelled", async function () {
      const p = await loadFixture(lockdownFixture);
      const id = dealIdOf(p.disputed);
      const snapshot = await ethers.provider.send("evm_snapshot", []);
      await expect(p.escrow.connect(p.arbiter).resolve(p.disputed, USDT(25))).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee, p.payer],
        [-p.disputed.amount, USDT(25), p.disputed.amount - USDT(25)],
      );
      await ethers.provider.send("evm_revert", [snapshot]);

      await expect(p.escrow.connect(p.payee).cancel(p.disputed))
        .to.emit(p.escrow, "DealRefunded")
        .withArgs(id, RefundReason.PayeeCancel);
      await expectSolvent(p.escrow, p.usdt, {
        ...remaining(p, [p.disputed]),
        floats: [[p.acceptor.address, USDT(900), p.onRamp.amount]],
      });
    });

    it("revoking the escrow's ESCROW_ROLE in the registry does not block the exits of a disputed deal", async function () {
      const p = await loadFixture(lockdownFixture);
      const id = dealIdOf(p.disputed);
      await p.registry.connect(p.admin).revokeRole(await p.registry.ESCROW_ROLE(), await p.escrow.getAddress());
      const snapshot = await ethers.provider.send("evm_snapshot", []);
      await expect(p.escrow.connect(p.payee).cancel(p.disputed))
        .to.emit(p.escrow, "DealRefunded")
        .withArgs(id, RefundReason.PayeeCancel);
      await ethers.provider.send("evm_revert", [snapshot]);
      await expect(p.escrow.connect(p.arbiter).resolve(p.disputed, 0n))
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.arbiter.address, 0n, 0n, p.disputed.amount);
      await expectSolvent(p.escrow, p.usdt, {
        ...remaining(p, [p.disputed]),
        floats: [[p.acceptor.address, USDT(900), p.onRamp.amount]],
      });
    });
  });
});
