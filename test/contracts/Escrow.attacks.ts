import { anyUint } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import type { ContractTransactionReceipt, ContractTransactionResponse, TransactionReceipt } from "ethers";
import { ethers, network } from "hardhat";

import type { ERC1271Wallet, Escrow, HostileToken, TestUSDTUpgraded } from "../../typechain-types";
import {
  AcceptorStatus,
  Action,
  DAY,
  GATEWAY_FEE_BPS,
  GatewayStatus,
  Kind,
  MAX_DELEGATE_LOCK_DURATION,
  MAX_DELEGATE_RELEASE_WINDOW,
  MIN_BOND,
  PAYOUT_GAS,
  REGISTRY_HOOK_GAS,
  RELEASE_WINDOW,
  RESOLUTION_WINDOW,
  MIN_UNBONDING_DELAY,
  MIN_SLASH_TIME,
  HOUR,
  RefundReason,
  Status,
  UNBONDING_DELAY,
  USDT,
  approveExactly,
  dealIdOf,
  deployProtocol,
  depositFloat,
  feeOf,
  lockDeal,
  makeDeal,
  nextDelegateSalt,
  openDeal,
  signAction,
  signOpen,
  signResolution,
  signSplit,
  type DealOut,
  type Protocol,
  loadFixture,
} from "./fixtures";

/*
 * Proof-of-concept attacks on the escrow and the registry. Each section names the attack; each test says what the
 * attacker tries and what happens now. Tests of attacks the v1.0 security review found carry a one-line comment
 * starting "v1.0:" with what v1.0 allowed.
 */

/** Selector of OpenZeppelin's `ReentrancyGuardReentrantCall()`. */
const REENTRANT_CALL = "0x3ee5aeb5";
const HOST = (n: number | string): bigint => ethers.parseEther(String(n));
const NON_FINAL: number[] = [Status.Open, Status.Performed, Status.Disputed];
const NO_REASONS = ethers.ZeroHash;
const REASONS = ethers.id("written reasons");
/** Gas the escrow keeps back around a bounded call (its private CALL_OVERHEAD, as the tests expect it). */
const CALL_OVERHEAD = 5_000;
/** What must be left before a bounded call of `callGas` starts: callGas + callGas/63 + CALL_OVERHEAD. */
const requiredBefore = (callGas: number): bigint => BigInt(callGas + Math.floor(callGas / 63) + CALL_OVERHEAD);
/**
 * Runtime code that answers every call with ERC-1271's magic value: a wallet that approves any signature
 * (PUSH4 0x1626ba7e, PUSH1 224, SHL, PUSH0, MSTORE, PUSH1 32, PUSH0, RETURN). ERC1271Wallet cannot be made to.
 */
const YES_WALLET_CODE = "0x631626ba7e60e01b5f5260205ff3";
const ERC1271 = new ethers.Interface([
  "function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)",
]);

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

async function statusOf(escrow: Escrow, id: string): Promise<number> {
  return Number((await escrow.getDeal(id)).status);
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
    expect(NON_FINAL).to.include(await statusOf(escrow, dealIdOf(d)));
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
  await p.escrow.connect(await ethers.getSigner(deal.payee)).perform(deal);
  await p.escrow.connect(await ethers.getSigner(deal.payer)).release(deal);
}

/** Performs and has the payer dispute. */
async function performAndDispute(p: Protocol, deal: DealOut): Promise<void> {
  await p.escrow.connect(await ethers.getSigner(deal.payee)).perform(deal);
  await p.escrow.connect(await ethers.getSigner(deal.payer)).dispute(deal);
}

async function openDisputes(p: Protocol, gateway = p.gateway.address): Promise<bigint> {
  return (await p.registry.getGateway(gateway)).openDisputes;
}

/** An account the tests can send from without its key (funded with ether). */
async function impersonate(address: string): Promise<HardhatEthersSigner> {
  await network.provider.send("hardhat_setBalance", [address, ethers.toQuantity(ethers.parseEther("100"))]);
  await network.provider.send("hardhat_impersonateAccount", [address]);
  return ethers.getSigner(address);
}

/** A contract wallet that says yes to every ERC-1271 question, whatever the signature (and can send). */
async function yesWallet(): Promise<HardhatEthersSigner> {
  const address = ethers.Wallet.createRandom().address;
  await network.provider.send("hardhat_setCode", [address, YES_WALLET_CODE]);
  return impersonate(address);
}

/** Runs `body` and rolls the chain back afterwards (to try several exits from one state). */
async function inSnapshot(body: () => Promise<void>): Promise<void> {
  const snapshot: string = await network.provider.send("evm_snapshot", []);
  try {
    await body();
  } finally {
    await network.provider.send("evm_revert", [snapshot]);
  }
}

/** Mines the transactions `send` submits in one block (at `timestamp` when given); returns their receipts. */
async function inOneBlock(
  timestamp: bigint | undefined,
  send: () => Promise<ContractTransactionResponse[]>,
): Promise<TransactionReceipt[]> {
  await network.provider.send("evm_setAutomine", [false]);
  let hashes: string[];
  try {
    hashes = (await send()).map((tx) => tx.hash);
    if (timestamp !== undefined) await time.setNextBlockTimestamp(timestamp);
    await network.provider.send("evm_mine", []);
  } finally {
    await network.provider.send("evm_setAutomine", [true]);
  }
  const receipts = await Promise.all(hashes.map((h) => ethers.provider.getTransactionReceipt(h)));
  expect(new Set(receipts.map((r) => r!.blockNumber)).size).to.equal(1);
  return receipts.map((r) => r!);
}

/*//////////////////////////////////////////////////////////////
                       GAS-LIMIT PROBES
//////////////////////////////////////////////////////////////*/

/** What one transaction sent with a given gas limit did. */
interface GasOutcome {
  gasLimit: number;
  ok: boolean;
  /** For a success: why its outcome is not the normal one (undefined when it is). */
  problem?: string;
  /** For a failure: the escrow error's name, or "OutOfGas". */
  error?: string;
  /** For EscrowInsufficientGas: the gas it required. */
  required?: bigint;
}

function classifyFailure(e: unknown, escrow: Escrow): Pick<GasOutcome, "error" | "required"> {
  const err = e as { data?: unknown; message?: string };
  if (typeof err.data === "string" && err.data.length >= 10) {
    const parsed = escrow.interface.parseError(err.data);
    if (parsed?.name === "EscrowInsufficientGas") return { error: parsed.name, required: parsed.args[1] as bigint };
    return { error: parsed?.name ?? err.data };
  }
  if (/out of gas/i.test(err.message ?? "")) return { error: "OutOfGas" };
  return { error: err.message ?? String(e) };
}

/**
 * Sends one transaction with `gasLimit` in a snapshot, judges a success with `judge` (which returns why the outcome
 * is abnormal, or undefined) before the state is rolled back, and classifies a failure.
 */
async function runWithGas(
  escrow: Escrow,
  gasLimit: number,
  send: (overrides: { gasLimit: number }) => Promise<ContractTransactionResponse>,
  judge: (receipt: ContractTransactionReceipt) => Promise<string | undefined>,
): Promise<GasOutcome> {
  const snapshot: string = await network.provider.send("evm_snapshot", []);
  try {
    let receipt: ContractTransactionReceipt | null;
    try {
      receipt = await (await send({ gasLimit })).wait();
    } catch (e) {
      return { gasLimit, ok: false, ...classifyFailure(e, escrow) };
    }
    return { gasLimit, ok: true, problem: await judge(receipt!) };
  } finally {
    await network.provider.send("evm_revert", [snapshot]);
  }
}

/**
 * Searches the gas limits between `low` (must fail) and `high` (must succeed): a binary search for the smallest
 * limit that succeeds, every limit within 64 of it, and every 997th limit of the whole range. Returns that
 * threshold and every outcome seen.
 */
async function sweepGasLimits(
  escrow: Escrow,
  send: (overrides: { gasLimit: number }) => Promise<ContractTransactionResponse>,
  judge: (receipt: ContractTransactionReceipt) => Promise<string | undefined>,
  low = 30_000,
  high = 400_000,
): Promise<{ threshold: number; outcomes: GasOutcome[] }> {
  const seen = new Map<number, GasOutcome>();
  const at = async (gasLimit: number): Promise<GasOutcome> => {
    let o = seen.get(gasLimit);
    if (o === undefined) {
      o = await runWithGas(escrow, gasLimit, send, judge);
      seen.set(gasLimit, o);
    }
    return o;
  };
  expect((await at(low)).ok, `gas limit ${low} should fail`).to.equal(false);
  expect((await at(high)).ok, `gas limit ${high} should succeed`).to.equal(true);
  let lo = low;
  let hi = high;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await at(mid)).ok) hi = mid;
    else lo = mid;
  }
  for (let g = hi - 64; g <= hi + 64; g++) await at(g);
  for (let g = low; g <= high; g += 997) await at(g);
  return { threshold: hi, outcomes: [...seen.values()].sort((a, b) => a.gasLimit - b.gasLimit) };
}

/**
 * No gas limit starves the bounded call: every success has the normal outcome, every failure is a revert (the
 * escrow's EscrowInsufficientGas, or out of gas before it got there), the limits split cleanly at the threshold, and
 * one unit below it the escrow refuses with EscrowInsufficientGas(…, `required`).
 */
function expectNoStarvation(sweep: { threshold: number; outcomes: GasOutcome[] }, required: bigint): void {
  const { threshold, outcomes } = sweep;
  expect(outcomes.filter((o) => o.ok && o.problem !== undefined)).to.deep.equal([]);
  expect(outcomes.filter((o) => !o.ok && o.error !== "EscrowInsufficientGas" && o.error !== "OutOfGas")).to.deep.equal(
    [],
  );
  expect(outcomes.filter((o) => o.ok !== o.gasLimit >= threshold)).to.deep.equal([]);
  const below = outcomes.find((o) => o.gasLimit === threshold - 1)!;
  expect(below).to.deep.include({ ok: false, error: "EscrowInsufficientGas", required });
  expect(outcomes.length).to.be.greaterThan(500);
}

/** The names of the escrow's and registry's events in a receipt. */
function eventNames(p: Protocol, receipt: ContractTransactionReceipt): string[] {
  const names: string[] = [];
  for (const log of receipt.logs) {
    const parsed = p.escrow.interface.parseLog(log) ?? p.registry.interface.parseLog(log);
    if (parsed) names.push(parsed.name);
  }
  return names;
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

/** A deal locked from the acceptor's float by its lock delegate (prefixed salt, within the delegate's bounds). */
async function delegateDeal(p: Protocol, over: Partial<DealOut> = {}): Promise<DealOut> {
  return makeDeal(p, {
    payer: p.acceptor.address,
    kind: BigInt(Kind.OnRamp),
    salt: nextDelegateSalt(),
    releaseWindow: BigInt(MAX_DELEGATE_RELEASE_WINDOW),
    ...over,
  });
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

    before(async function () {
      const p = await loadFixture(hostileFixture);
      expect(p.escrow.interface.getError("ReentrancyGuardReentrantCall")!.selector).to.equal(REENTRANT_CALL);
    });

    it("every entry point that moves state, multicall included, refuses a re-entrant call during an open's pull", async function () {
      const p = await loadFixture(hostileFixture);
      const h = await p.hostile.getAddress();
      const target = await hostileDeal(p);
      const auth = { expiry: 0n, signature: "0x" };
      const iface = p.escrow.interface;
      const calls: [string, string][] = [
        ["open", iface.encodeFunctionData("open", [target, ethers.ZeroHash])],
        ["openWithSig", iface.encodeFunctionData("openWithSig", [target, ethers.ZeroHash, auth])],
        ["lock", iface.encodeFunctionData("lock", [target, ethers.ZeroHash])],
        ["lockWithSig", iface.encodeFunctionData("lockWithSig", [target, ethers.ZeroHash, p.acceptor.address, auth])],
        ["perform", iface.encodeFunctionData("perform", [target])],
        ["release", iface.encodeFunctionData("release", [target])],
        ["cancel", iface.encodeFunctionData("cancel", [target])],
        ["dispute", iface.encodeFunctionData("dispute", [target])],
        ["claim", iface.encodeFunctionData("claim", [target])],
        ["refund", iface.encodeFunctionData("refund", [target])],
        ["actWithSig", iface.encodeFunctionData("actWithSig", [target, Action.Release, p.payer.address, auth])],
        ["settleWithSigs", iface.encodeFunctionData("settleWithSigs", [target, auth, auth])],
        ["cancelWithSigs", iface.encodeFunctionData("cancelWithSigs", [target, auth, auth])],
        ["splitWithSigs", iface.encodeFunctionData("splitWithSigs", [target, 0n, auth, auth])],
        ["resolve", iface.encodeFunctionData("resolve", [target, 0n, NO_REASONS])],
        [
          "resolveWithSig",
          iface.encodeFunctionData("resolveWithSig", [target, 0n, NO_REASONS, p.gateway.address, auth]),
        ],
        ["postEvidence", iface.encodeFunctionData("postEvidence", [target, REASONS, "ipfs://x"])],
        [
          "postEvidenceWithSig",
          iface.encodeFunctionData("postEvidenceWithSig", [target, REASONS, "ipfs://x", p.payer.address, auth]),
        ],
        ["depositFloat", iface.encodeFunctionData("depositFloat", [h, 1n])],
        ["withdrawFloat", iface.encodeFunctionData("withdrawFloat", [h, 1n])],
        ["claimOwed", iface.encodeFunctionData("claimOwed", [h, p.gateway.address])],
        ["multicall", iface.encodeFunctionData("multicall", [[iface.encodeFunctionData("release", [target])]])],
      ];
      for (const [name, data] of calls) {
        const d = await hostileDeal(p);
        await p.hostile.connect(p.payer).approve(await p.escrow.getAddress(), d.amount);
        await arm(p, data);
        await expectGuardRefused(p, p.escrow.connect(p.payer).open(d, ethers.ZeroHash));
        expect(await statusOf(p.escrow, dealIdOf(d)), name).to.equal(Status.Open);
      }
    });

    describe("during open (transferFrom)", function () {
      it("a re-entrant claimOwed is refused and the amount is pulled exactly once", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        const fee = await gatewayFeeOwed(p);
        const d = await hostileDeal(p);
        await p.hostile.connect(p.payer).approve(await p.escrow.getAddress(), d.amount);
        await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));

        const tx = p.escrow.connect(p.payer).open(d, ethers.ZeroHash);
        await expectGuardRefused(p, tx);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.payer, p.escrow, p.gateway], [-d.amount, d.amount, 0n]);
        expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.Open);
        await expectSolvent(p.escrow, p.hostile, { openDeals: [d], owed: [[p.gateway.address, fee]] });
      });

      it("a re-entrant open of another deal is refused", async function () {
        const p = await loadFixture(hostileFixture);
        const d = await hostileDeal(p);
        const other = await hostileDeal(p);
        await p.hostile.connect(p.payer).approve(await p.escrow.getAddress(), d.amount + other.amount);
        await arm(p, p.escrow.interface.encodeFunctionData("open", [other, ethers.ZeroHash]));

        const tx = p.escrow.connect(p.payer).open(d, ethers.ZeroHash);
        await expectGuardRefused(p, tx);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.payer, p.escrow], [-d.amount, d.amount]);
        expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.Open);
        expect(await statusOf(p.escrow, dealIdOf(other))).to.equal(Status.None);
        await expectSolvent(p.escrow, p.hostile, { openDeals: [d] });
      });

      it("attack: re-entering depositFloat from the token's pull to credit the float twice → refused by the guard; credited once with what arrived", async function () {
        // v1.0 was guarded too (nonReentrant); this pins it, as the float is credited from a balance difference.
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        await p.hostile.connect(p.acceptor).approve(await p.escrow.getAddress(), HOST(2_000));
        await arm(p, p.escrow.interface.encodeFunctionData("depositFloat", [h, HOST(1_000)]));

        const tx = p.escrow.connect(p.acceptor).depositFloat(h, HOST(1_000));
        await expectGuardRefused(p, tx);
        await expect(tx).to.emit(p.escrow, "FloatDeposited").withArgs(p.acceptor.address, h, HOST(1_000));
        await expect(tx).to.changeTokenBalances(p.hostile, [p.acceptor, p.escrow], [-HOST(1_000), HOST(1_000)]);
        expect(await p.hostile.allowance(p.acceptor.address, await p.escrow.getAddress())).to.equal(HOST(1_000));
        await expectSolvent(p.escrow, p.hostile, { floats: [[p.acceptor.address, HOST(1_000), 0n]] });
      });

      it("attack: re-entering depositFloat through multicall during a deposit's pull → refused; credited once", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        const iface = p.escrow.interface;
        await p.hostile.connect(p.acceptor).approve(await p.escrow.getAddress(), HOST(2_000));
        const inner = iface.encodeFunctionData("depositFloat", [h, HOST(1_000)]);
        await arm(p, iface.encodeFunctionData("multicall", [[inner]]));

        const tx = p.escrow.connect(p.acceptor).multicall([inner]);
        await expectGuardRefused(p, tx);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.acceptor, p.escrow], [-HOST(1_000), HOST(1_000)]);
        await expectSolvent(p.escrow, p.hostile, { floats: [[p.acceptor.address, HOST(1_000), 0n]] });
      });
    });

    describe("during a payout push (bounded to PAYOUT_GAS) and during claims and withdrawals (all gas)", function () {
      /**
       * The armed callback (it reads, clears and records calldata in storage) makes the hostile transfer need more
       * than PAYOUT_GAS: the push fails, its effects (the callback and the disarming included) are undone, and the
       * amount is owed. The token stays armed for the claim.
       */
      async function expectPushDeferred(p: H, tx: Promise<unknown>, id: string, to: string, amount: bigint) {
        await expect(tx)
          .to.emit(p.escrow, "PayoutDeferred")
          .withArgs(id, await p.hostile.getAddress(), to, amount);
        await expect(tx).not.to.emit(p.hostile, "CallbackMade");
        expect((await p.hostile.armed())[0]).to.equal(true);
      }

      /** claimOwed gives the transfer all its gas: the callback runs, the guard refuses it, `to` is paid once. */
      async function expectClaimRefusesReentry(p: H, to: string, amount: bigint) {
        const h = await p.hostile.getAddress();
        const tx = p.escrow.connect(p.other).claimOwed(h, to);
        await expectGuardRefused(p, tx);
        await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(h, to, amount);
        await expect(tx).to.changeTokenBalances(p.hostile, [p.escrow, to], [-amount, amount]);
      }

      it("release: the push that would re-enter refund(another expired deal) is owed; the claim's re-entry is refused; each deal is paid once", async function () {
        const p = await loadFixture(hostileFixture);
        const expiring = await hostileDeal(p, { deadline: BigInt((await time.latest()) + DAY) });
        const d = await hostileDeal(p);
        const id = dealIdOf(d);
        await openDeal(p, expiring);
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        await time.increaseTo(expiring.deadline + 1n);
        await arm(p, p.escrow.interface.encodeFunctionData("refund", [expiring]));

        const fee = feeOf(d.amount, d.feeBps);
        const tx = p.escrow.connect(p.payer).release(d);
        await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id);
        await expectPushDeferred(p, tx, id, p.payee.address, d.amount - fee);
        expect(await statusOf(p.escrow, id)).to.equal(Status.Released);
        await expectClaimRefusesReentry(p, p.payee.address, d.amount - fee);
        expect(await statusOf(p.escrow, dealIdOf(expiring))).to.equal(Status.Open);
        await expectSolvent(p.escrow, p.hostile, {
          openDeals: [expiring],
          owed: [
            [p.gateway.address, fee],
            [p.payee.address, 0n],
          ],
        });

        // The refused refund is still available, once.
        await expect(p.escrow.refund(expiring)).to.changeTokenBalances(
          p.hostile,
          [p.escrow, p.payer],
          [-expiring.amount, expiring.amount],
        );
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, fee]] });
      });

      it("release: a re-entrant claimOwed of the fee credited a moment earlier is refused", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        const d = await hostileDeal(p);
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));

        const fee = feeOf(d.amount, d.feeBps);
        await expectPushDeferred(p, p.escrow.connect(p.payer).release(d), dealIdOf(d), p.payee.address, d.amount - fee);
        await expectClaimRefusesReentry(p, p.payee.address, d.amount - fee);
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, fee]] });
      });

      it("release: a re-entrant release of the same deal wrapped in multicall is refused", async function () {
        const p = await loadFixture(hostileFixture);
        const d = await hostileDeal(p);
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        const inner = p.escrow.interface.encodeFunctionData("release", [d]);
        await arm(p, p.escrow.interface.encodeFunctionData("multicall", [[inner]]));

        const fee = feeOf(d.amount, d.feeBps);
        await expectPushDeferred(p, p.escrow.connect(p.payer).release(d), dealIdOf(d), p.payee.address, d.amount - fee);
        await expectClaimRefusesReentry(p, p.payee.address, d.amount - fee);
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, fee]] });
      });

      it("refund: a re-entrant refund of the same deal is refused; the payer is refunded once", async function () {
        const p = await loadFixture(hostileFixture);
        const d = await hostileDeal(p);
        const id = dealIdOf(d);
        await openDeal(p, d);
        await time.increaseTo(d.deadline + 1n);
        await arm(p, p.escrow.interface.encodeFunctionData("refund", [d]));

        const tx = p.escrow.connect(p.other).refund(d);
        await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.Deadline);
        await expectPushDeferred(p, tx, id, p.payer.address, d.amount);
        expect(await statusOf(p.escrow, id)).to.equal(Status.Refunded);
        await expectClaimRefusesReentry(p, p.payer.address, d.amount);
        await expectSolvent(p.escrow, p.hostile, {});
      });

      it("refund: a short re-entrant claimOwed fits in the push's PAYOUT_GAS and is refused there; owed fees stay put", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        const fee = await gatewayFeeOwed(p);
        const d = await hostileDeal(p);
        await openDeal(p, d);
        await time.increaseTo(d.deadline + 1n);
        await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));

        const tx = p.escrow.connect(p.other).refund(d);
        await expectGuardRefused(p, tx);
        await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
        await expect(tx).to.changeTokenBalances(p.hostile, [p.escrow, p.payer, p.gateway], [-d.amount, d.amount, 0n]);
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, fee]] });
      });

      it("cancel: a re-entrant cancel is refused; the payer is refunded once", async function () {
        const p = await loadFixture(hostileFixture);
        const d = await hostileDeal(p);
        await openDeal(p, d);
        await arm(p, p.escrow.interface.encodeFunctionData("cancel", [d]));

        await expectPushDeferred(p, p.escrow.connect(p.payee).cancel(d), dealIdOf(d), p.payer.address, d.amount);
        await expectClaimRefusesReentry(p, p.payer.address, d.amount);
        await expectSolvent(p.escrow, p.hostile, {});
      });

      it("resolve: a re-entrant resolve is refused; both legs are owed and each is paid once", async function () {
        const p = await loadFixture(hostileFixture);
        const d = await hostileDeal(p);
        const id = dealIdOf(d);
        const h = await p.hostile.getAddress();
        await openDeal(p, d);
        await performAndDispute(p, d);
        const payeeAmount = HOST(60);
        await arm(p, p.escrow.interface.encodeFunctionData("resolve", [d, payeeAmount, REASONS]));

        const fee = feeOf(payeeAmount, d.feeBps);
        const tx = p.escrow.connect(p.gateway).resolve(d, payeeAmount, REASONS);
        await expect(tx)
          .to.emit(p.escrow, "DealResolved")
          .withArgs(id, p.gateway.address, payeeAmount - fee, fee, d.amount - payeeAmount, REASONS);
        // Both pushes meet the armed callback (the first push's failure undid its disarming).
        await expectPushDeferred(p, tx, id, p.payer.address, d.amount - payeeAmount);
        await expect(tx)
          .to.emit(p.escrow, "PayoutDeferred")
          .withArgs(id, h, p.payee.address, payeeAmount - fee);
        await expectClaimRefusesReentry(p, p.payer.address, d.amount - payeeAmount);
        await expect(p.escrow.claimOwed(h, p.payee.address)).to.changeTokenBalances(
          p.hostile,
          [p.escrow, p.payee],
          [-(payeeAmount - fee), payeeAmount - fee],
        );
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, fee]] });
      });

      it("on-ramp release: a re-entrant withdrawFloat is refused; the locked float is released once", async function () {
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
        await expectPushDeferred(p, tx, dealIdOf(d), p.payee.address, d.amount - fee);
        await expectSolvent(p.escrow, p.hostile, {
          floats: [[p.acceptor.address, HOST(900), 0n]],
          owed: [
            [p.gateway.address, fee],
            [p.payee.address, d.amount - fee],
          ],
        });
        await expectClaimRefusesReentry(p, p.payee.address, d.amount - fee);
        await expectSolvent(p.escrow, p.hostile, {
          floats: [[p.acceptor.address, HOST(900), 0n]],
          owed: [[p.gateway.address, fee]],
        });
      });

      it("claimOwed: a re-entrant claimOwed is refused; the fee is paid once", async function () {
        const p = await loadFixture(hostileFixture);
        const h = await p.hostile.getAddress();
        const fee = await gatewayFeeOwed(p);
        await arm(p, p.escrow.interface.encodeFunctionData("claimOwed", [h, p.gateway.address]));
        await expectClaimRefusesReentry(p, p.gateway.address, fee);
        await expectSolvent(p.escrow, p.hostile, { owed: [[p.gateway.address, 0n]] });
      });

      it("withdrawFloat: a re-entrant withdrawFloat and claimOwed are refused; the float is debited once", async function () {
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
        await expect(p.escrow.connect(p.other).actWithSig(p.b, Action.Release, p.payer.address, sigA))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(dealIdOf(p.b), p.payer.address);
        const performA = await signAction(p.escrow, p.payee, dealIdOf(p.a), Action.Perform);
        await expect(p.escrow.connect(p.other).settleWithSigs(p.b, performA, sigA))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(dealIdOf(p.b), p.payee.address);
        expect(await statusOf(p.escrow, dealIdOf(p.b))).to.equal(Status.Performed);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });

      it("a Split and a Resolution signed for deal A are refused for deal B", async function () {
        const p = await loadFixture(twoDealsFixture);
        await performAndDispute(p, p.a);
        await performAndDispute(p, p.b);
        const idA = dealIdOf(p.a);
        const idB = dealIdOf(p.b);
        const payerSplit = await signSplit(p.escrow, p.payer, idA, USDT(50));
        const payeeSplit = await signSplit(p.escrow, p.payee, idA, USDT(50));
        await expect(p.escrow.splitWithSigs(p.b, USDT(50), payerSplit, payeeSplit))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(idB, p.payer.address);
        const ruling = await signResolution(p.escrow, p.gateway, idA, USDT(90), REASONS);
        await expect(p.escrow.resolveWithSig(p.b, USDT(90), REASONS, p.gateway.address, ruling))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(idB, p.gateway.address);
        expect(await statusOf(p.escrow, idB)).to.equal(Status.Disputed);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });
    });

    describe("across actions, amounts and signers", function () {
      it("a Perform signature cannot be used as Release, Cancel, Claim or Dispute", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const perform = await signAction(p.escrow, p.payee, id, Action.Perform);
        const performByPayer = await signAction(p.escrow, p.payer, id, Action.Perform);
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
        expect(await statusOf(p.escrow, id)).to.equal(Status.Open);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });

      it("a signer who is not the action's party is refused before its signature is looked at", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
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
        expect(await statusOf(p.escrow, id)).to.equal(Status.Open);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });

      it("a Split signed for one amount is refused for another, and a Cancel is not a Split", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const payerSplit = await signSplit(p.escrow, p.payer, id, USDT(30));
        const payeeSplit = await signSplit(p.escrow, p.payee, id, USDT(30));
        await expect(p.escrow.splitWithSigs(p.a, USDT(31), payerSplit, payeeSplit))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payer.address);
        const payerCancel = await signAction(p.escrow, p.payer, id, Action.Cancel);
        await expect(p.escrow.splitWithSigs(p.a, 0n, payerCancel, payeeSplit))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payer.address);
        expect(await statusOf(p.escrow, id)).to.equal(Status.Open);
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
        await expect(p.escrow.actWithSig(p.a, Action.Release, p.payer.address, release))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payer.address);
        expect(await statusOf(p.escrow, id)).to.equal(Status.Performed);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });

      it("a signature for another verifying contract is refused", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
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
        expect(await statusOf(p.escrow, id)).to.equal(Status.Open);
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
        expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.None);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });
    });

    describe("after use", function () {
      it("a used Perform signature cannot be replayed", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
        const perform = await signAction(p.escrow, p.payee, id, Action.Perform);
        await p.escrow.actWithSig(p.a, Action.Perform, p.payee.address, perform);
        await expect(p.escrow.actWithSig(p.a, Action.Perform, p.payee.address, perform))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Performed);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.a, p.b] });
      });

      it("a used early Release signature cannot be replayed, before or after the payout", async function () {
        const p = await loadFixture(twoDealsFixture);
        const id = dealIdOf(p.a);
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
          .withArgs(id);
        await expect(p.escrow.connect(p.other).settleWithSigs(p.a, perform, release))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Released);
        await expect(p.escrow.actWithSig(p.a, Action.Perform, p.payee.address, perform))
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
        await expect(p.escrow.actWithSig(p.a, Action.Cancel, p.payee.address, payeeCancel))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Refunded);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.b] });
      });

      it("a used Split pair and a used Resolution cannot be replayed", async function () {
        const p = await loadFixture(twoDealsFixture);
        const idA = dealIdOf(p.a);
        const idB = dealIdOf(p.b);
        const payerSplit = await signSplit(p.escrow, p.payer, idA, USDT(40));
        const payeeSplit = await signSplit(p.escrow, p.payee, idA, USDT(40));
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
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, fees]] });
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
      await expectSolvent(w.escrow, w.usdt, { owed: [[w.gateway.address, fee]] });
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
        const d = await makeDeal(p, { payer: wallet.address });
        await openDeal(p, d);
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
        const other = await makeDeal(p, { payer: p.wallet.address });
        await openDeal(p, other);
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

  /*//////////////////////////////////////////////////////////////
       4. BLACKLISTS (USDT STOPS THE SENDER ONLY) AND DEPRECATION
  //////////////////////////////////////////////////////////////*/

  describe("blacklisted parties (USDT's blacklist stops only the sender)", function () {
    describe("a blacklisted payee", function () {
      async function blacklistedPayeeFixture() {
        const p = await deployProtocol();
        const d = await makeDeal(p);
        await openDeal(p, d);
        await p.usdt.connect(p.admin).addBlackList(p.payee.address);
        await p.escrow.connect(p.payee).perform(d);
        return { ...p, d };
      }

      it("release pays it in full: the payout arrives, frozen in its wallet by the token, and nothing is owed", async function () {
        const p = await loadFixture(blacklistedPayeeFixture);
        const id = dealIdOf(p.d);
        const fee = feeOf(p.d.amount, p.d.feeBps);
        const net = p.d.amount - fee;

        const tx = p.escrow.connect(p.payer).release(p.d);
        await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id);
        await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee, p.payer], [-net, net, 0n]);
        expect(await statusOf(p.escrow, id)).to.equal(Status.Released);
        await expectSolvent(p.escrow, p.usdt, {
          owed: [
            [p.gateway.address, fee],
            [p.payee.address, 0n],
          ],
        });

        // Frozen by the token, not by the escrow: the payee cannot move it until Tether lifts the listing.
        await expect(p.usdt.connect(p.payee).transfer(p.other.address, net)).to.be.revertedWithoutReason();
        await p.usdt.connect(p.admin).removeBlackList(p.payee.address);
        await expect(p.usdt.connect(p.payee).transfer(p.other.address, net)).to.changeTokenBalances(
          p.usdt,
          [p.payee, p.other],
          [-net, net],
        );
      });

      it("resolve: both the payee's share and the payer's refund arrive", async function () {
        const p = await loadFixture(blacklistedPayeeFixture);
        const id = dealIdOf(p.d);
        await p.escrow.connect(p.payer).dispute(p.d);
        const payeeAmount = USDT(60);
        const fee = feeOf(payeeAmount, p.d.feeBps);
        const refund = p.d.amount - payeeAmount;

        const tx = p.escrow.connect(p.gateway).resolve(p.d, payeeAmount, REASONS);
        await expect(tx)
          .to.emit(p.escrow, "DealResolved")
          .withArgs(id, p.gateway.address, payeeAmount - fee, fee, refund, REASONS);
        await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
        await expect(tx).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.payer, p.payee],
          [-(p.d.amount - fee), refund, payeeAmount - fee],
        );
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, fee]] });
      });

      it("on-ramp release to a listed buyer: the buyer receives and the acceptor's locked float is released", async function () {
        const p = await loadFixture(deployProtocol);
        await depositFloat(p, USDT(1_000));
        const d = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
        await lockDeal(p, d);
        await p.usdt.connect(p.admin).addBlackList(p.payee.address);
        await p.escrow.connect(p.payee).perform(d);
        const fee = feeOf(d.amount, d.feeBps);

        const tx = p.escrow.connect(p.acceptor).release(d);
        await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee], [-(d.amount - fee), d.amount - fee]);
        await expectSolvent(p.escrow, p.usdt, {
          floats: [[p.acceptor.address, USDT(900), 0n]],
          owed: [[p.gateway.address, fee]],
        });
      });
    });

    describe("a blacklisted payer", function () {
      async function blacklistedPayerFixture() {
        const p = await deployProtocol();
        const d = await makeDeal(p);
        await openDeal(p, d);
        await p.usdt.connect(p.admin).addBlackList(p.payer.address);
        return { ...p, d };
      }

      it("cannot open: the pull from its wallet reverts with empty data and no deal is recorded", async function () {
        const p = await loadFixture(blacklistedPayerFixture);
        const d = await makeDeal(p);
        await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
        await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash)).to.be.revertedWithoutReason();
        const sig = await signOpen(p.escrow, p.payer, d, ethers.ZeroHash);
        await expect(p.escrow.connect(p.other).openWithSig(d, ethers.ZeroHash, sig)).to.be.revertedWithoutReason();
        expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.None);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d] });
      });

      it("a deal opened before the listing refunds into its (frozen) wallet after the deadline; nothing is owed", async function () {
        const p = await loadFixture(blacklistedPayerFixture);
        const id = dealIdOf(p.d);
        await time.increaseTo(p.d.deadline + 1n);

        const tx = p.escrow.connect(p.other).refund(p.d);
        await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.Deadline);
        await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-p.d.amount, p.d.amount]);
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.payer.address, 0n]] });
      });

      it("payee cancel and a ruling's refund arrive in its wallet too", async function () {
        const p = await loadFixture(blacklistedPayerFixture);
        await inSnapshot(async () => {
          await expect(p.escrow.connect(p.payee).cancel(p.d)).to.changeTokenBalances(
            p.usdt,
            [p.escrow, p.payer],
            [-p.d.amount, p.d.amount],
          );
        });
        await performAndDispute(p, p.d);
        const payeeAmount = USDT(30);
        const fee = feeOf(payeeAmount, p.d.feeBps);
        const tx = p.escrow.connect(p.gateway).resolve(p.d, payeeAmount, NO_REASONS);
        await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
        await expect(tx).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.payee, p.payer],
          [-(p.d.amount - fee), payeeAmount - fee, p.d.amount - payeeAmount],
        );
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, fee]] });
      });
    });

    describe("a blacklisted acceptor or gateway", function () {
      it("a listed acceptor cannot deposit float (empty revert), but its withdrawal arrives", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        await depositFloat(p, USDT(1_000));
        await p.usdt.connect(p.admin).addBlackList(p.acceptor.address);
        await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), USDT(500));
        await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(500))).to.be.revertedWithoutReason();
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(1_000))).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.acceptor],
          [-USDT(1_000), USDT(1_000)],
        );
        await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, 0n, 0n]] });
      });

      it("a listed gateway's fee claim arrives", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        const d = await makeDeal(p);
        await openDeal(p, d);
        await settle(p, d);
        const fee = feeOf(d.amount, d.feeBps);
        await p.usdt.connect(p.admin).addBlackList(p.gateway.address);
        await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.gateway],
          [-fee, fee],
        );
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, 0n]] });
      });
    });

    describe("the token blacklists the ESCROW itself", function () {
      /**
       * A performed payment, an open payment, a disputed payment and a performed on-ramp deal; the gateway has a fee
       * owed; then Tether lists the escrow.
       */
      async function listedEscrowFixture() {
        const p = await deployProtocol();
        await depositFloat(p, USDT(1_000));
        const ramp = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
        await lockDeal(p, ramp);
        await p.escrow.connect(p.payee).perform(ramp);
        const performed = await makeDeal(p);
        const refundable = await makeDeal(p);
        const disputed = await makeDeal(p);
        const settled = await makeDeal(p);
        for (const d of [performed, refundable, disputed, settled]) await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(performed);
        await performAndDispute(p, disputed);
        await settle(p, settled);
        const settledFee = feeOf(settled.amount, settled.feeBps);
        await p.usdt.connect(p.admin).addBlackList(await p.escrow.getAddress());
        return { ...p, ramp, performed, refundable, disputed, settledFee };
      }

      it("opens and float deposits still succeed: the money arrives and is frozen in the escrow", async function () {
        const p = await loadFixture(listedEscrowFixture);
        const usdt = await p.usdt.getAddress();
        const d = await makeDeal(p);
        await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
        await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash)).to.changeTokenBalances(
          p.usdt,
          [p.payer, p.escrow],
          [-d.amount, d.amount],
        );
        await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), USDT(500));
        await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(500))).to.changeTokenBalances(
          p.usdt,
          [p.acceptor, p.escrow],
          [-USDT(500), USDT(500)],
        );
        // Frozen: the escrow cannot send any of it while listed.
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(500))).to.be.revertedWithoutReason();
        await expectSolvent(p.escrow, p.usdt, {
          openDeals: [p.performed, p.refundable, p.disputed, d],
          floats: [[p.acceptor.address, USDT(1_400), p.ramp.amount]],
          owed: [[p.gateway.address, p.settledFee]],
        });
      });

      it("every payout becomes owed: release, refund, resolve and an on-ramp release each settle with PayoutDeferred", async function () {
        const p = await loadFixture(listedEscrowFixture);
        const usdt = await p.usdt.getAddress();
        const fee = feeOf(p.performed.amount, p.performed.feeBps);
        const net = p.performed.amount - fee;

        const release = p.escrow.connect(p.payer).release(p.performed);
        await expect(release).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(p.performed));
        await expect(release)
          .to.emit(p.escrow, "PayoutDeferred")
          .withArgs(dealIdOf(p.performed), usdt, p.payee.address, net);

        await time.increaseTo(p.refundable.deadline + 1n);
        await expect(p.escrow.connect(p.other).refund(p.refundable))
          .to.emit(p.escrow, "PayoutDeferred")
          .withArgs(dealIdOf(p.refundable), usdt, p.payer.address, p.refundable.amount);

        // The gateway's window has passed by now: the arbiter rules, without fee; both legs are deferred.
        const resolve = p.escrow.connect(p.arbiter).resolve(p.disputed, USDT(70), NO_REASONS);
        await expect(resolve)
          .to.emit(p.escrow, "PayoutDeferred")
          .withArgs(dealIdOf(p.disputed), usdt, p.payer.address, USDT(30));
        await expect(resolve)
          .to.emit(p.escrow, "PayoutDeferred")
          .withArgs(dealIdOf(p.disputed), usdt, p.payee.address, USDT(70));

        const ramp = p.escrow.connect(p.acceptor).release(p.ramp);
        await expect(ramp).to.emit(p.escrow, "PayoutDeferred").withArgs(dealIdOf(p.ramp), usdt, p.payee.address, net);

        for (const d of [p.performed, p.refundable, p.disputed, p.ramp]) {
          expect(NON_FINAL).to.not.include(await statusOf(p.escrow, dealIdOf(d)));
        }
        await expectSolvent(p.escrow, p.usdt, {
          floats: [[p.acceptor.address, USDT(900), 0n]],
          owed: [
            [p.gateway.address, p.settledFee + 2n * fee],
            [p.payee.address, 2n * net + USDT(70)],
            [p.payer.address, p.refundable.amount + USDT(30)],
          ],
        });
      });

      it("withdrawFloat and claimOwed revert (empty data) while the escrow is listed, and pay once it is unlisted", async function () {
        const p = await loadFixture(listedEscrowFixture);
        const usdt = await p.usdt.getAddress();
        const fee = feeOf(p.performed.amount, p.performed.feeBps);
        const net = p.performed.amount - fee;
        await p.escrow.connect(p.payer).release(p.performed);

        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(900))).to.be.revertedWithoutReason();
        for (const account of [p.payee, p.gateway]) {
          await expect(p.escrow.connect(p.other).claimOwed(usdt, account.address)).to.be.revertedWithoutReason();
        }
        const liabilities: Liabilities = {
          openDeals: [p.refundable, p.disputed],
          floats: [[p.acceptor.address, USDT(900), p.ramp.amount]],
          owed: [
            [p.gateway.address, p.settledFee + fee],
            [p.payee.address, net],
          ],
        };
        await expectSolvent(p.escrow, p.usdt, liabilities);

        await p.usdt.connect(p.admin).removeBlackList(await p.escrow.getAddress());
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(900))).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.acceptor],
          [-USDT(900), USDT(900)],
        );
        await expect(p.escrow.connect(p.other).claimOwed(usdt, p.payee.address))
          .to.emit(p.escrow, "OwedClaimed")
          .withArgs(usdt, p.payee.address, net);
        await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.gateway],
          [-(p.settledFee + fee), p.settledFee + fee],
        );
        await expectSolvent(p.escrow, p.usdt, {
          openDeals: [p.refundable, p.disputed],
          floats: [[p.acceptor.address, 0n, p.ramp.amount]],
          owed: [
            [p.gateway.address, 0n],
            [p.payee.address, 0n],
          ],
        });
      });

      it("governance's answer, disallowing the token, stops new deals and deposits in it; open deals still settle", async function () {
        const p = await loadFixture(listedEscrowFixture);
        const usdt = await p.usdt.getAddress();
        await p.registry.connect(p.governor).setTokenAllowed(usdt, false);
        const d = await makeDeal(p);
        await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
        await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash))
          .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
          .withArgs(usdt);
        await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(1)))
          .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
          .withArgs(usdt);
        await expect(p.escrow.connect(p.payer).release(p.performed))
          .to.emit(p.escrow, "DealReleased")
          .withArgs(dealIdOf(p.performed));
      });
    });

    describe("the token is deprecated to an upgraded token that refuses transfers", function () {
      /** Three performed payments; then USDT forwards to an upgraded token (balances carried over) that refuses. */
      async function deprecatedFixture() {
        const p = await deployProtocol();
        const deals = [await makeDeal(p), await makeDeal(p), await makeDeal(p, { amount: USDT(250) })];
        for (const d of deals) {
          await openDeal(p, d);
          await p.escrow.connect(p.payee).perform(d);
        }
        const upgraded = (await ethers.deployContract("TestUSDTUpgraded", [
          await p.usdt.getAddress(),
        ])) as unknown as TestUSDTUpgraded;
        const escrowAddress = await p.escrow.getAddress();
        await upgraded.mint(escrowAddress, await p.usdt.balanceOf(escrowAddress));
        await p.usdt.connect(p.admin).deprecate(await upgraded.getAddress());
        await upgraded.setFailTransfers(true);
        return { ...p, deals, upgraded };
      }

      it("payouts are deferred and a multicall batch of releases still settles every deal", async function () {
        const p = await loadFixture(deprecatedFixture);
        const usdt = await p.usdt.getAddress();
        const calls = p.deals.map((d) => p.escrow.interface.encodeFunctionData("release", [d]));
        const tx = p.escrow.connect(p.payer).multicall(calls);
        for (const d of p.deals) {
          const net = d.amount - feeOf(d.amount, d.feeBps);
          await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(d));
          await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(dealIdOf(d), usdt, p.payee.address, net);
        }
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee], [0n, 0n]);
        const total = p.deals.reduce((s, d) => s + d.amount, 0n);
        const fees = p.deals.reduce((s, d) => s + feeOf(d.amount, d.feeBps), 0n);
        await expectSolvent(p.escrow, p.usdt, {
          owed: [
            [p.gateway.address, fees],
            [p.payee.address, total - fees],
          ],
        });
      });

      it("claims revert (empty data) while the upgraded token refuses and pay once it accepts", async function () {
        const p = await loadFixture(deprecatedFixture);
        const usdt = await p.usdt.getAddress();
        for (const d of p.deals) await p.escrow.connect(p.payer).release(d);
        const total = p.deals.reduce((s, d) => s + d.amount, 0n);
        const fees = p.deals.reduce((s, d) => s + feeOf(d.amount, d.feeBps), 0n);
        await expect(p.escrow.claimOwed(usdt, p.payee.address)).to.be.revertedWithoutReason();

        await p.upgraded.setFailTransfers(false);
        await expect(p.escrow.claimOwed(usdt, p.payee.address)).to.changeTokenBalances(
          p.upgraded,
          [p.escrow, p.payee],
          [-(total - fees), total - fees],
        );
        await expectSolvent(p.escrow, p.usdt, {
          owed: [
            [p.gateway.address, fees],
            [p.payee.address, 0n],
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
      await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id);
      await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(id, usdt, p.payee.address, net);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee], [0n, 0n]);
      expect(await statusOf(p.escrow, id)).to.equal(Status.Released);
      await expectSolvent(p.escrow, p.usdt, {
        owed: [
          [p.gateway.address, fee],
          [p.payee.address, net],
        ],
      });
    });

    it("claims revert (empty data) while paused and succeed after unpause", async function () {
      const p = await loadFixture(pausedFixture);
      const usdt = await p.usdt.getAddress();
      const fee = feeOf(p.d.amount, p.d.feeBps);
      const net = p.d.amount - fee;
      await settle(p, p.d);

      for (const account of [p.payee, p.gateway]) {
        await expect(p.escrow.connect(account).claimOwed(usdt, account.address)).to.be.revertedWithoutReason();
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
      await expect(p.escrow.claimOwed(usdt, p.payer.address)).to.be.revertedWithoutReason();
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.payer.address, p.d.amount]] });

      await p.usdt.connect(p.admin).unpause();
      await expect(p.escrow.claimOwed(usdt, p.payer.address)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payer],
        [-p.d.amount, p.d.amount],
      );
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.payer.address, 0n]] });
    });

    it("opens and deposits revert (empty data) while paused: the pull fails, nothing is recorded", async function () {
      const p = await loadFixture(pausedFixture);
      const usdt = await p.usdt.getAddress();
      const d = await makeDeal(p);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash)).to.be.revertedWithoutReason();
      await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), USDT(10));
      await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(10))).to.be.revertedWithoutReason();
      expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.None);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d], floats: [[p.acceptor.address, 0n, 0n]] });
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
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(1_000))).to.be.revertedWithoutReason();
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
    /** setParams takes the cap in whole tokens. */
    const TOKEN_MAX_FEE_WHOLE = 20n;
    const TOKEN_MAX_FEE = USDT(20);
    const tokenFee = (v: bigint) => {
      const f = (v * TOKEN_FEE_BPS) / 10_000n;
      return f > TOKEN_MAX_FEE ? TOKEN_MAX_FEE : f;
    };

    it("opening a deal reverts EscrowTransferShortfall, so a deal's amount is always exact", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE_WHOLE);
      const d = await makeDeal(p);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowTransferShortfall")
        .withArgs(usdt, d.amount, d.amount - tokenFee(d.amount));
      expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.None);
      await expectSolvent(p.escrow, p.usdt, {});
    });

    it("a float deposit is credited with exactly what arrived, and withdraws exactly", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE_WHOLE);
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
      await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE_WHOLE);
      await p.escrow.connect(p.payee).perform(d);
      const gatewayFee = feeOf(d.amount, d.feeBps);
      const net = d.amount - gatewayFee;

      const tx = p.escrow.connect(p.payer).release(d);
      await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(d));
      await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee, p.admin],
        [-net, net - tokenFee(net), tokenFee(net)],
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
      await p.usdt.connect(p.admin).setParams(TOKEN_FEE_BPS, TOKEN_MAX_FEE_WHOLE);
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
      // Nor with a delegate's salt: the salt gives no authority.
      const prefixed = { ...d, salt: nextDelegateSalt() };
      await expect(p.escrow.connect(p.other).lock(prefixed, ethers.ZeroHash))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(dealIdOf(prefixed), p.other.address);
      await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(1_000), 0n]] });
    });

    describe("the lock delegate front-runs the acceptor's planned lock id", function () {
      /** The acceptor has float and plans a lock with salt S (its id is known from the pending transaction). */
      async function plannedLockFixture() {
        const p = await deployProtocol();
        await depositFloat(p, USDT(1_000));
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
        await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(1_000), 0n]] });
      });
    });
  });

  /*//////////////////////////////////////////////////////////////
                       8. A MALICIOUS GATEWAY
  //////////////////////////////////////////////////////////////*/

  describe("a malicious gateway", function () {
    /** A payment the payer disputed while the gateway was active: the gateway holds it. */
    async function disputedFixture() {
      const p = await twoGatewaysFixture();
      const d = await makeDeal(p);
      await openDeal(p, d);
      await performAndDispute(p, d);
      const since = (await p.escrow.getDeal(dealIdOf(d))).since;
      return { ...p, d, endsAt: since + BigInt(RESOLUTION_WINDOW) };
    }

    before(async function () {
      const p = await loadFixture(disputedFixture);
      expect((await p.escrow.getDeal(dealIdOf(p.d))).flags).to.equal(2n); // GatewayHolds
      expect(await openDisputes(p)).to.equal(1n);
    });

    it("cannot resolve a deal that does not name it", async function () {
      const p = await loadFixture(disputedFixture);
      const id = dealIdOf(p.d);
      expect(await p.registry.canRule(p.gateway2.address)).to.equal(true);
      for (const caller of [p.gateway2, p.payer, p.payee, p.other]) {
        await expect(p.escrow.connect(caller).resolve(p.d, p.d.amount, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, caller.address);
      }
      // Naming itself in a copy of the deal does not match the commitment.
      await expect(
        p.escrow.connect(p.gateway2).resolve({ ...p.d, gateway: p.gateway2.address }, p.d.amount, NO_REASONS),
      )
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal")
        .withArgs(id);
      // Nor by signature: its own signature does not make it the deal's gateway.
      const sig = await signResolution(p.escrow, p.gateway2, id, p.d.amount, NO_REASONS);
      await expect(p.escrow.resolveWithSig(p.d, p.d.amount, NO_REASONS, p.gateway2.address, sig))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, p.gateway2.address);
      expect(await statusOf(p.escrow, id)).to.equal(Status.Disputed);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [p.d] });
    });

    it("cannot resolve a deal that is not disputed", async function () {
      const p = await loadFixture(twoGatewaysFixture);
      const d = await makeDeal(p);
      const id = dealIdOf(d);
      await openDeal(p, d);
      await expect(p.escrow.connect(p.gateway).resolve(d, d.amount, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Open);
      await p.escrow.connect(p.payee).perform(d);
      await expect(p.escrow.connect(p.gateway).resolve(d, d.amount, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Performed);
      await p.escrow.connect(p.payer).release(d);
      await expect(p.escrow.connect(p.gateway).resolve(d, 0n, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Released);
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, feeOf(d.amount, d.feeBps)]] });
    });

    it("cannot rule twice", async function () {
      const p = await loadFixture(disputedFixture);
      const id = dealIdOf(p.d);
      await p.escrow.connect(p.gateway).resolve(p.d, USDT(50), NO_REASONS);
      await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(id, Status.Resolved);
      const fee = feeOf(USDT(50), p.d.feeBps);
      expect(await openDisputes(p)).to.equal(0n);
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, fee]] });
    });

    it("cannot pay the payee more than the amount; its worst is all to one side, its fee from the payee's share", async function () {
      const p = await loadFixture(disputedFixture);
      const id = dealIdOf(p.d);
      await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount + 1n, NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowPayeeAmountTooHigh")
        .withArgs(id, p.d.amount + 1n, p.d.amount);
      const fee = feeOf(p.d.amount, p.d.feeBps);
      const tx = p.escrow.connect(p.gateway).resolve(p.d, p.d.amount, REASONS);
      await expect(tx)
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.gateway.address, p.d.amount - fee, fee, 0n, REASONS);
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
      const fee = feeOf(USDT(40), p.d.feeBps);
      await inSnapshot(async () => {
        await time.setNextBlockTimestamp(p.endsAt);
        await expect(p.escrow.connect(p.gateway).resolve(p.d, USDT(40), NO_REASONS))
          .to.emit(p.escrow, "DealResolved")
          .withArgs(id, p.gateway.address, USDT(40) - fee, fee, USDT(60), NO_REASONS);
      });

      await time.setNextBlockTimestamp(p.endsAt + 1n);
      await expect(p.escrow.connect(p.gateway).resolve(p.d, USDT(40), NO_REASONS))
        .to.be.revertedWithCustomError(p.escrow, "EscrowResolutionWindowClosed")
        .withArgs(id, p.endsAt);
      const tx = p.escrow.connect(p.arbiter).resolve(p.d, USDT(40), REASONS);
      await expect(tx)
        .to.emit(p.escrow, "DealResolved")
        .withArgs(id, p.arbiter.address, USDT(40), 0n, USDT(60), REASONS);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payee, p.payer], [-p.d.amount, USDT(40), USDT(60)]);
      expect(await openDisputes(p)).to.equal(0n);
      await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, 0n]] });
    });

    it("cannot act for a party: release, cancel, perform, dispute, claim, refund early, or sign for one", async function () {
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
      // Its own signature does not stand in for a party's, under its own name or the payer's.
      const release = await signAction(p.escrow, p.gateway, id, Action.Release);
      await expect(g.actWithSig(d, Action.Release, p.gateway.address, release))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(id, p.gateway.address);
      await expect(g.actWithSig(d, Action.Release, p.payer.address, release))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      await expectSolvent(p.escrow, p.usdt, { openDeals: [d] });
    });

    describe("a suspended gateway requests its exit to rule again", function () {
      /** A performed payment; the governor suspends the gateway, which then requests its exit. */
      async function suspendedExitingFixture() {
        const p = await twoGatewaysFixture();
        const d = await makeDeal(p);
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
        await p.registry.connect(p.gateway).requestExit();
        return { ...p, d };
      }

      it("attack: suspended, it requests its exit and rules a new dispute → EscrowUnauthorized; the arbiter rules at once; no second suspension is needed", async function () {
        // v1.0: requestExit took a suspended gateway to Exiting, where canRule was true again: it ruled the next
        // dispute (and took its fee) while the arbiter was refused until the governor suspended it again.
        const p = await loadFixture(suspendedExitingFixture);
        const gw = p.gateway.address;
        const id = dealIdOf(p.d);
        const g = await p.registry.getGateway(gw);
        expect([g.status, g.suspended]).to.deep.equal([BigInt(GatewayStatus.Exiting), true]);
        expect(await p.registry.canRule(gw)).to.equal(false);

        await expect(p.escrow.connect(p.payer).dispute(p.d))
          .to.emit(p.escrow, "DealDisputed")
          .withArgs(id, p.payer.address, false);
        expect(await openDisputes(p)).to.equal(0n);
        await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, gw);
        const sig = await signResolution(p.escrow, p.gateway, id, p.d.amount, NO_REASONS);
        await expect(p.escrow.connect(p.other).resolveWithSig(p.d, p.d.amount, NO_REASONS, gw, sig))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, gw);
        // No second suspension is needed (nor possible).
        await expect(p.registry.connect(p.governor).suspendGateway(gw))
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewaySuspended")
          .withArgs(gw);

        // The arbiter rules at once, without fee.
        const tx = p.escrow.connect(p.arbiter).resolve(p.d, USDT(20), REASONS);
        await expect(tx)
          .to.emit(p.escrow, "DealResolved")
          .withArgs(id, p.arbiter.address, USDT(20), 0n, p.d.amount - USDT(20), REASONS);
        await expect(tx).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.payee, p.payer, p.gateway],
          [-p.d.amount, USDT(20), p.d.amount - USDT(20), 0n],
        );
        await expectSolvent(p.escrow, p.usdt, { owed: [[gw, 0n]] });
      });

      it("a dispute raised while it was suspended stays the arbiter's even once it is reinstated (still exiting)", async function () {
        const p = await loadFixture(suspendedExitingFixture);
        const gw = p.gateway.address;
        const id = dealIdOf(p.d);
        await p.escrow.connect(p.payer).dispute(p.d);
        await p.registry.connect(p.governor).reinstateGateway(gw);
        expect(await p.registry.canRule(gw)).to.equal(true);
        await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, gw);
        await expect(p.escrow.connect(p.arbiter).resolve(p.d, USDT(20), NO_REASONS))
          .to.emit(p.escrow, "DealResolved")
          .withArgs(id, p.arbiter.address, USDT(20), 0n, p.d.amount - USDT(20), NO_REASONS);
        await expectSolvent(p.escrow, p.usdt, {});
      });

      it("a dispute it held before the suspension passes to the arbiter at once, whatever it requests", async function () {
        const p = await loadFixture(disputedFixture);
        const id = dealIdOf(p.d);
        const gw = p.gateway.address;
        await p.registry.connect(p.governor).suspendGateway(gw);
        await expect(p.registry.connect(p.gateway).requestExit()).to.emit(p.registry, "GatewayExitRequested");
        await expect(p.escrow.connect(p.gateway).resolve(p.d, p.d.amount, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, gw);
        // Well inside the gateway's window, the arbiter rules, without fee, and the held dispute is uncounted.
        expect(BigInt(await time.latest())).to.be.lessThan(p.endsAt);
        const tx = p.escrow.connect(p.arbiter).resolve(p.d, 0n, REASONS);
        await expect(tx).to.emit(p.escrow, "DealResolved").withArgs(id, p.arbiter.address, 0n, 0n, p.d.amount, REASONS);
        await expect(tx).to.emit(p.registry, "GatewayDisputesChanged").withArgs(gw, 0n);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-p.d.amount, p.d.amount]);
        await expectSolvent(p.escrow, p.usdt, { owed: [[gw, 0n]] });
      });

      it("while suspended it cannot complete its exit and take the bond", async function () {
        const p = await loadFixture(suspendedExitingFixture);
        const gw = p.gateway.address;
        await time.increase(UNBONDING_DELAY + 1);
        await expect(p.registry.connect(p.gateway).completeExit())
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewaySuspended")
          .withArgs(gw);
        expect((await p.registry.getGateway(gw)).bond).to.equal(MIN_BOND);
      });
    });

    describe("an exit held hostage with dust disputes", function () {
      /**
       * The attacker (other) opens dust deals (1 base unit, no fee) naming the active gateway, paying its sock
       * puppet, which performs them all; one more dust deal was disputed before the gateway asked to exit.
       */
      async function dustFixture() {
        const p = await deployProtocol();
        const attacker = p.other;
        const puppet = p.rest[0];
        const dust: DealOut[] = [];
        for (let i = 0; i < 4; i++) {
          const d = await makeDeal(p, { payer: attacker.address, payee: puppet.address, amount: 1n });
          await openDeal(p, d);
          await p.escrow.connect(puppet).perform(d);
          dust.push(d);
        }
        return { ...p, attacker, puppet, dust };
      }

      before(async function () {
        const p = await loadFixture(dustFixture);
        expect(feeOf(1n, p.dust[0].feeBps)).to.equal(0n);
      });

      it("attack: disputing a dust deal right before each completeExit → not held (gatewayHolds=false, counter unchanged); the exit completes after the delay", async function () {
        // v1.0: every dispute counted against the gateway and completeExit required zero, so a fresh dust dispute
        // before each attempt kept its bond forever.
        const p = await loadFixture(dustFixture);
        const gw = p.gateway.address;
        await p.escrow.connect(p.attacker).dispute(p.dust[0]); // before the request: held, the gateway's to rule
        expect(await openDisputes(p)).to.equal(1n);
        await p.registry.connect(p.gateway).requestExit();
        const exitAt = (await p.registry.getGateway(gw)).exitAt;

        await expect(p.escrow.connect(p.attacker).dispute(p.dust[1]))
          .to.emit(p.escrow, "DealDisputed")
          .withArgs(dealIdOf(p.dust[1]), p.attacker.address, false);
        await expect(p.registry.connect(p.gateway).completeExit())
          .to.be.revertedWithCustomError(p.registry, "RegistryUnbonding")
          .withArgs(gw, exitAt);

        // The gateway rules the one dispute it holds, within its window.
        await p.escrow.connect(p.gateway).resolve(p.dust[0], 0n, NO_REASONS);
        expect(await openDisputes(p)).to.equal(0n);

        // The sock puppet disputes too, once its release window is over: not held either.
        await time.increase(RELEASE_WINDOW + 1);
        await expect(p.escrow.connect(p.puppet).dispute(p.dust[2]))
          .to.emit(p.escrow, "DealDisputed")
          .withArgs(dealIdOf(p.dust[2]), p.puppet.address, false);

        // Right before the exit: one more dispute, in the block before completeExit.
        await time.setNextBlockTimestamp(exitAt);
        await expect(p.escrow.connect(p.attacker).dispute(p.dust[3]))
          .to.emit(p.escrow, "DealDisputed")
          .withArgs(dealIdOf(p.dust[3]), p.attacker.address, false);
        expect(await openDisputes(p)).to.equal(0n);
        const tx = p.registry.connect(p.gateway).completeExit();
        await expect(tx).to.emit(p.registry, "GatewayExited").withArgs(gw, MIN_BOND);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.registry, p.gateway], [-MIN_BOND, MIN_BOND]);

        // The dust disputes are the arbiter's, at once; the gateway never rules them.
        for (const d of p.dust.slice(1)) {
          await expect(p.escrow.connect(p.gateway).resolve(d, 1n, NO_REASONS))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(dealIdOf(d), gw);
          const ruling = p.escrow.connect(p.arbiter).resolve(d, 0n, NO_REASONS);
          await expect(ruling).to.emit(p.escrow, "DealResolved");
          await expect(ruling).not.to.emit(p.escrow, "DisputeCountSkipped");
        }
        await expectSolvent(p.escrow, p.usdt, {});
      });

      it("a dispute raised before the exit request holds the exit only until the gateway rules it", async function () {
        const p = await loadFixture(dustFixture);
        const gw = p.gateway.address;
        await p.escrow.connect(p.attacker).dispute(p.dust[0]);
        await p.registry.connect(p.gateway).requestExit();
        await time.increaseTo((await p.registry.getGateway(gw)).exitAt);
        await expect(p.registry.connect(p.gateway).completeExit())
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewayHasDisputes")
          .withArgs(gw, 1n);
        // Past its window it may no longer rule; the arbiter does, and the exit follows.
        await expect(p.escrow.connect(p.gateway).resolve(p.dust[0], 0n, NO_REASONS)).to.be.revertedWithCustomError(
          p.escrow,
          "EscrowResolutionWindowClosed",
        );
        await p.escrow.connect(p.arbiter).resolve(p.dust[0], 0n, NO_REASONS);
        await expect(p.registry.connect(p.gateway).completeExit())
          .to.emit(p.registry, "GatewayExited")
          .withArgs(gw, MIN_BOND);
      });
    });

    describe("the lock delegate", function () {
      async function delegateLockFixture() {
        const p = await deployProtocol();
        await depositFloat(p, USDT(1_000));
        const d = await delegateDeal(p);
        return { ...p, d };
      }

      it("can lock the acceptor's float with a delegate's salt, within its bounds", async function () {
        const p = await loadFixture(delegateLockFixture);
        const id = dealIdOf(p.d);
        const tx = p.escrow.connect(p.delegate).lock(p.d, ethers.ZeroHash);
        await expect(tx)
          .to.emit(p.escrow, "DealOpened")
          .withArgs(id, p.acceptor.address, p.payee.address, dealTuple(p.d), ethers.ZeroHash);
        await expect(tx).to.emit(p.escrow, "DealLockedByDelegate").withArgs(id, p.delegate.address);
        await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(900), p.d.amount]] });
      });

      it("cannot lock beyond its bounds: a deadline past 7 days or a release window past 2 days", async function () {
        const p = await loadFixture(delegateLockFixture);
        const now = BigInt(await time.latest()) + 10n;
        const latest = now + BigInt(MAX_DELEGATE_LOCK_DURATION);
        const far = { ...p.d, deadline: latest + 1n };
        await time.setNextBlockTimestamp(now);
        await expect(p.escrow.connect(p.delegate).lock(far, ethers.ZeroHash))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
          .withArgs(latest + 1n, latest);
        const slow = { ...p.d, releaseWindow: BigInt(MAX_DELEGATE_RELEASE_WINDOW) + 1n };
        await expect(p.escrow.connect(p.delegate).lock(slow, ethers.ZeroHash))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidReleaseWindow")
          .withArgs(slow.releaseWindow);
        await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(1_000), 0n]] });
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

      describe("a compromised delegate locks all free float to an accomplice, who performs at once", function () {
        async function drainedFixture() {
          const p = await deployProtocol();
          await depositFloat(p, USDT(1_000));
          const accomplice = p.other;
          const d = await delegateDeal(p, { payee: accomplice.address, amount: USDT(1_000) });
          await p.escrow.connect(p.delegate).lock(d, ethers.ZeroHash);
          await p.escrow.connect(accomplice).perform(d);
          const expiry = await p.escrow.lockExpiry(d);
          return { ...p, accomplice, d, expiry };
        }

        before(async function () {
          const p = await loadFixture(drainedFixture);
          expect(p.expiry).to.equal(p.d.deadline + p.d.releaseWindow + BigInt(RESOLUTION_WINDOW));
          await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, 0n, USDT(1_000)]] });
        });

        it("attack: the delegate tries to release, cancel, dispute or withdraw → refused every time", async function () {
          // v1.0: the delegate's lock had no end once its accomplice performed; the float stayed locked until the
          // acceptor gave in.
          const p = await loadFixture(drainedFixture);
          const id = dealIdOf(p.d);
          const usdt = await p.usdt.getAddress();
          const del = p.escrow.connect(p.delegate);
          for (const call of [del.release, del.cancel, del.dispute, del.claim]) {
            await expect(call(p.d))
              .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
              .withArgs(id, p.delegate.address);
          }
          // withdrawFloat draws on the caller's own float: the delegate has none, and no call names the acceptor's.
          await expect(del.withdrawFloat(usdt, USDT(1_000)))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
            .withArgs(p.delegate.address, usdt, 0n, USDT(1_000));
          // Its signatures do not stand in for the acceptor's, under its name or the acceptor's.
          const release = await signAction(p.escrow, p.delegate, id, Action.Release);
          await expect(del.actWithSig(p.d, Action.Release, p.delegate.address, release))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(id, p.delegate.address);
          await expect(del.actWithSig(p.d, Action.Release, p.acceptor.address, release))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
            .withArgs(id, p.acceptor.address);
          const perform = await signAction(p.escrow, p.accomplice, id, Action.Perform);
          await expect(del.settleWithSigs(p.d, perform, release))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
            .withArgs(id, p.acceptor.address);
          const split = await signSplit(p.escrow, p.delegate, id, p.d.amount);
          const accompliceSplit = await signSplit(p.escrow, p.accomplice, id, p.d.amount);
          await expect(del.splitWithSigs(p.d, p.d.amount, split, accompliceSplit))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
            .withArgs(id, p.acceptor.address);
          expect(await statusOf(p.escrow, id)).to.equal(Status.Performed);
          await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, 0n, USDT(1_000)]] });
        });

        it("the float comes back at lockExpiry without anyone's help: refund reverts before it, then anyone refunds (LockExpired)", async function () {
          const p = await loadFixture(drainedFixture);
          const id = dealIdOf(p.d);
          const usdt = await p.usdt.getAddress();
          await time.setNextBlockTimestamp(p.expiry);
          await expect(p.escrow.connect(p.rest[1]).refund(p.d))
            .to.be.revertedWithCustomError(p.escrow, "EscrowLockNotExpired")
            .withArgs(id, p.expiry);
          const tx = p.escrow.connect(p.rest[1]).refund(p.d);
          await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.LockExpired);
          await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.accomplice], [0n, 0n]);
          await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(1_000), 0n]] });
          await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(1_000))).to.changeTokenBalances(
            p.usdt,
            [p.escrow, p.acceptor],
            [-USDT(1_000), USDT(1_000)],
          );
          // The accomplice can do nothing with it any more.
          await expect(p.escrow.connect(p.accomplice).dispute(p.d))
            .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
            .withArgs(id, Status.Refunded);
        });

        it("the accomplice's dispute that the gateway never rules ends at lockExpiry too, and is uncounted", async function () {
          const p = await loadFixture(drainedFixture);
          const id = dealIdOf(p.d);
          await time.increase(Number(p.d.releaseWindow) + 1);
          await expect(p.escrow.connect(p.accomplice).dispute(p.d))
            .to.emit(p.escrow, "DealDisputed")
            .withArgs(id, p.accomplice.address, true);
          expect(await openDisputes(p)).to.equal(1n);
          await time.increaseTo(p.expiry + 1n);
          const tx = p.escrow.refund(p.d);
          await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.LockExpired);
          await expect(tx).to.emit(p.registry, "GatewayDisputesChanged").withArgs(p.gateway.address, 0n);
          await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(1_000), 0n]] });
        });
      });
    });
  });

  /*//////////////////////////////////////////////////////////////
                         9. DISPUTE TIMING
  //////////////////////////////////////////////////////////////*/

  describe("dispute timing", function () {
    describe("the payee performs and disputes in the same block", function () {
      it("attack: perform and dispute in one multicall → reverts EscrowReleaseWindowOpen; the payer keeps its window", async function () {
        // v1.0: the payee could dispute the moment it performed, taking the deal to the gateway before the payer
        // had any chance to check and release.
        const p = await loadFixture(deployProtocol);
        const d = await makeDeal(p);
        const id = dealIdOf(d);
        await openDeal(p, d);
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
        const p = await loadFixture(deployProtocol);
        const d = await makeDeal(p);
        const id = dealIdOf(d);
        await openDeal(p, d);
        const receipts = await inOneBlock(undefined, async () => [
          await p.escrow.connect(p.payee).perform(d, { gasLimit: 300_000 }),
          await p.escrow.connect(p.payee).dispute(d, { gasLimit: 300_000 }),
        ]);
        expect(receipts.map((r) => r.status)).to.deep.equal([1, 0]);
        expect(await statusOf(p.escrow, id)).to.equal(Status.Performed);
        expect(await openDisputes(p)).to.equal(0n);
      });

      it("the payee may dispute only once the payer's window is over: at its last second it reverts, one second later it holds", async function () {
        const p = await loadFixture(deployProtocol);
        const d = await makeDeal(p);
        const id = dealIdOf(d);
        await openDeal(p, d);
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
        const d = await makeDeal(p, { autoRelease: true });
        await openDeal(p, d);
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
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, fee]] });
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

  /*//////////////////////////////////////////////////////////////
             10. GAS STARVATION AND GAS-BURNING TOKENS
  //////////////////////////////////////////////////////////////*/

  describe("gas starvation of a bounded call", function () {
    /** A performed payment (the payer signed its Release for a relayer) and a disputed one the gateway holds. */
    async function starvationFixture() {
      const p = await deployProtocol();
      const performed = await makeDeal(p);
      const disputed = await makeDeal(p);
      const toDispute = await makeDeal(p);
      for (const d of [performed, disputed, toDispute]) {
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
      }
      await p.escrow.connect(p.payer).dispute(disputed);
      return { ...p, performed, disputed, toDispute };
    }
    type S = Awaited<ReturnType<typeof starvationFixture>>;

    before(async function () {
      const p = await loadFixture(starvationFixture);
      expect(await openDisputes(p)).to.equal(1n);
    });

    it("attack: a relayer picks the gas limit of a signed Release so that the payout push fails and is deferred → every limit either pays in full or reverts EscrowInsufficientGas", async function () {
      // v1.0: the push got whatever gas was left and a failed push was silently owed instead, so a submitter could
      // starve a gas-hungry token's transfer into a deferral.
      const p = await loadFixture(starvationFixture);
      const id = dealIdOf(p.performed);
      const net = p.performed.amount - feeOf(p.performed.amount, p.performed.feeBps);
      const sig = await signAction(p.escrow, p.payer, id, Action.Release);
      const payeeBefore = await p.usdt.balanceOf(p.payee.address);
      const judge = async (r: ContractTransactionReceipt) => {
        const names = eventNames(p, r);
        if (!names.includes("DealReleased")) return "not released";
        if (names.includes("PayoutDeferred")) return "payout deferred";
        const received = (await p.usdt.balanceOf(p.payee.address)) - payeeBefore;
        return received === net ? undefined : `payee received ${received}`;
      };
      const sweep = await sweepGasLimits(
        p.escrow,
        (o) => p.escrow.connect(p.other).actWithSig(p.performed, Action.Release, p.payer.address, sig, o),
        judge,
      );
      expectNoStarvation(sweep, requiredBefore(PAYOUT_GAS));
    });

    it("attack: a disputer picks its gas limit so that the registry hook fails and the dispute is not held → every limit either holds it or reverts EscrowInsufficientGas", async function () {
      // v1.0: the registry hook ran in try/catch with whatever gas was left; a starved hook was skipped silently,
      // so the dispute went uncounted.
      const p = await loadFixture(starvationFixture);
      const id = dealIdOf(p.toDispute);
      const judge = async (r: ContractTransactionReceipt) => {
        const names = eventNames(p, r);
        if (names.includes("DisputeCountSkipped")) return "count skipped";
        const parsed = r.logs.map((l) => p.escrow.interface.parseLog(l)).find((e) => e?.name === "DealDisputed");
        if (parsed?.args.dealId !== id || parsed.args.gatewayHolds !== true) return "not held";
        const flags = (await p.escrow.getDeal(id)).flags;
        if (flags !== 2n) return `flags ${flags}`;
        const count = await openDisputes(p);
        return count === 2n ? undefined : `counter ${count}`;
      };
      const sweep = await sweepGasLimits(p.escrow, (o) => p.escrow.connect(p.payer).dispute(p.toDispute, o), judge);
      expectNoStarvation(sweep, requiredBefore(REGISTRY_HOOK_GAS));
    });

    it("attack: the payee cancels a held dispute with a gas limit chosen to skip the uncount (leaving the gateway's exit blocked) → every limit either uncounts and refunds in full or reverts", async function () {
      // v1.0: the closing hook ran in try/catch with whatever gas was left; starving it left the counter high and
      // the gateway unable to exit.
      const p = await loadFixture(starvationFixture);
      const payerBefore = await p.usdt.balanceOf(p.payer.address);
      const judge = async (r: ContractTransactionReceipt) => {
        const names = eventNames(p, r);
        if (!names.includes("DealRefunded")) return "not refunded";
        if (names.includes("DisputeCountSkipped")) return "count skipped";
        if (names.includes("PayoutDeferred")) return "refund deferred";
        if ((await openDisputes(p)) !== 0n) return "counter not decremented";
        const received = (await p.usdt.balanceOf(p.payer.address)) - payerBefore;
        return received === p.disputed.amount ? undefined : `payer received ${received}`;
      };
      const sweep = await sweepGasLimits(p.escrow, (o) => p.escrow.connect(p.payee).cancel(p.disputed, o), judge);
      expectNoStarvation(sweep, requiredBefore(PAYOUT_GAS));
      // Below the push's requirement, the hook's own guard is what refuses (it needs less and comes first).
      const hookOnly = sweep.outcomes.filter((o) => o.error === "EscrowInsufficientGas");
      expect(hookOnly.map((o) => o.required)).to.include(requiredBefore(REGISTRY_HOOK_GAS));
    });

    it("an honest caller's usual gas estimate is enough (the guard reserves, the call uses far less)", async function () {
      const p: S = await loadFixture(starvationFixture);
      const tx = p.escrow.connect(p.payer).release(p.performed);
      await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
      const receipt = await (await tx).wait();
      expect(receipt!.gasUsed).to.be.lessThan(requiredBefore(PAYOUT_GAS));
    });
  });

  describe("a token that burns all gas in transfer, inside a batch of releases", function () {
    /** Four performed payments from the same payer; the gas a batch of their releases uses with a working token. */
    async function batchFixture() {
      const p = await deployProtocol();
      const deals: DealOut[] = [];
      for (let i = 0; i < 4; i++) {
        const d = await makeDeal(p);
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        deals.push(d);
      }
      const calls = deals.map((d) => p.escrow.interface.encodeFunctionData("release", [d]));
      let normalGas = 0n;
      await inSnapshot(async () => {
        const receipt = await (await p.escrow.connect(p.payer).multicall(calls)).wait();
        normalGas = receipt!.gasUsed;
      });
      return { ...p, deals, calls, normalGas };
    }

    it("attack: Tether takes the escrow's balance, so every transfer from it hits INVALID and burns all its gas → each payout burns at most PAYOUT_GAS, is owed, and the batch completes", async function () {
      // v1.0: the push got all the gas left, so the first burning transfer consumed 63/64 of the batch's gas and
      // the whole batch ran out of gas.
      const p = await loadFixture(batchFixture);
      const escrow = await p.escrow.getAddress();
      const usdt = await p.usdt.getAddress();
      // Listed, its funds destroyed, unlisted: TestUSDT's SafeMath sub now fails on every transfer out of the escrow.
      await p.usdt.connect(p.admin).addBlackList(escrow);
      await p.usdt.connect(p.admin).destroyBlackFunds(escrow);
      await p.usdt.connect(p.admin).removeBlackList(escrow);
      expect(await p.usdt.balanceOf(escrow)).to.equal(0n);
      // A transfer of 1 unit out of the escrow's empty balance burns every unit of gas it is given.
      await inSnapshot(async () => {
        const self = await impersonate(escrow);
        const [receipt] = await inOneBlock(undefined, async () => [
          await p.usdt.connect(self).transfer(p.payee.address, 1n, { gasLimit: 250_000 }),
        ]);
        expect([receipt.status, receipt.gasUsed]).to.deep.equal([0, 250_000n]);
      });

      const tx = p.escrow.connect(p.payer).multicall(p.calls, { gasLimit: 3_000_000 });
      for (const d of p.deals) {
        const net = d.amount - feeOf(d.amount, d.feeBps);
        await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(d));
        await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(dealIdOf(d), usdt, p.payee.address, net);
      }
      const receipt = await (await tx).wait();
      const extraPerPayout = (receipt!.gasUsed - p.normalGas) / BigInt(p.deals.length);
      // Each failing push burns its PAYOUT_GAS (less the normal transfer it replaces) plus the owed bookkeeping.
      expect(extraPerPayout).to.be.greaterThan(BigInt(PAYOUT_GAS) / 2n);
      expect(extraPerPayout).to.be.lessThan(BigInt(PAYOUT_GAS) + 30_000n);
      const fees = p.deals.reduce((s, d) => s + feeOf(d.amount, d.feeBps), 0n);
      const total = p.deals.reduce((s, d) => s + d.amount, 0n);
      expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(total - fees);
      expect(await p.escrow.owed(usdt, p.gateway.address)).to.equal(fees);
      for (const d of p.deals) expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.Released);
    });

    it("the same batch with too little gas for the guard reverts whole, never half-settled", async function () {
      const p = await loadFixture(batchFixture);
      await expect(p.escrow.connect(p.payer).multicall(p.calls, { gasLimit: 150_000 }))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientGas")
        .withArgs(anyUint, requiredBefore(PAYOUT_GAS));
      for (const d of p.deals) expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.Performed);
    });
  });

  /*//////////////////////////////////////////////////////////////
                   11. GRIEFING BY REGISTRATION
  //////////////////////////////////////////////////////////////*/

  describe("griefing by registration", function () {
    /** Gas of one lock by the approved acceptor (a fresh salt, the same shape every time). */
    async function lockGas(p: Protocol): Promise<bigint> {
      const d = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
      const receipt = await (await p.escrow.connect(p.acceptor).lock(d, ethers.ZeroHash)).wait();
      return receipt!.gasUsed;
    }

    it("attack: anyone registers many pending acceptors (with a delegate of its own) → none can lock, deposit or be an off-ramp payee until its gateway approves", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      const gw = p.gateway.address;
      const attacker = p.other;
      await depositFloat(p, USDT(1_000));
      const gasBefore = await lockGas(p);
      const countBefore = await p.registry.acceptorCount();

      const pending: HardhatEthersSigner[] = [];
      for (let i = 0; i < 12; i++) {
        const acc = await impersonate(ethers.Wallet.createRandom().address);
        await expect(p.registry.connect(acc).registerAcceptor(gw, attacker.address))
          .to.emit(p.registry, "AcceptorRegistered")
          .withArgs(acc.address, gw, attacker.address);
        // A pending record may set up its limits, methods and delegate: none of it gives it any power.
        await p.registry.connect(acc).setLimits(usdt, USDT(1), USDT(10_000));
        await p.usdt.connect(p.admin).mint(acc.address, USDT(100));
        await approveExactly(p.usdt, acc, await p.escrow.getAddress(), USDT(100));
        pending.push(acc);
      }
      expect(await p.registry.acceptorCount()).to.equal(countBefore + 12n);

      for (const acc of pending) {
        expect((await p.registry.getAcceptor(acc.address)).status).to.equal(AcceptorStatus.Pending);
        const own = await makeDeal(p, { payer: acc.address, kind: BigInt(Kind.OnRamp) });
        await expect(p.escrow.connect(acc).lock(own, ethers.ZeroHash))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(acc.address, AcceptorStatus.Pending);
        const byDelegate = await delegateDeal(p, { payer: acc.address, payee: attacker.address });
        await expect(p.escrow.connect(attacker).lock(byDelegate, ethers.ZeroHash))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(acc.address, AcceptorStatus.Pending);
        await expect(p.escrow.connect(acc).depositFloat(usdt, USDT(100)))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(acc.address, AcceptorStatus.Pending);
        const offRamp = await makeDeal(p, { payee: acc.address, kind: BigInt(Kind.OffRamp) });
        await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), offRamp.amount);
        await expect(p.escrow.connect(p.payer).open(offRamp, ethers.ZeroHash))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(acc.address, AcceptorStatus.Pending);
      }

      // Nothing on-chain iterates the registrations: the honest acceptor's lock costs what it did.
      const gasAfter = await lockGas(p);
      expect(Number(gasAfter - gasBefore)).to.be.within(-200, 200);
      // The gateway's approval is the gate: once approved, one of them can deposit.
      await p.registry.connect(p.gateway).approveAcceptor(pending[0].address);
      await expect(p.escrow.connect(pending[0]).depositFloat(usdt, USDT(100)))
        .to.emit(p.escrow, "FloatDeposited")
        .withArgs(pending[0].address, usdt, USDT(100));
    });

    it("registrations stop while paused and under a suspended gateway", async function () {
      const p = await loadFixture(deployProtocol);
      const gw = p.gateway.address;
      await p.registry.connect(p.governor).suspendGateway(gw);
      await expect(p.registry.connect(p.other).registerAcceptor(gw, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(p.registry, "RegistryGatewaySuspended")
        .withArgs(gw);
      await p.registry.connect(p.governor).reinstateGateway(gw);
      await p.registry.connect(p.pauser).pause();
      await expect(p.registry.connect(p.other).registerAcceptor(gw, ethers.ZeroAddress)).to.be.revertedWithCustomError(
        p.registry,
        "RegistryPaused",
      );
    });
  });

  /*//////////////////////////////////////////////////////////////
                 12. GOVERNANCE CANNOT BLOCK EXITS
  //////////////////////////////////////////////////////////////*/

  describe("governance cannot block exits", function () {
    /**
     * Deals and balances set up in normal times, then every governance switch thrown at once: new business paused
     * (PAUSER_ROLE), every token disallowed, every gateway and the acceptor suspended (GOVERNOR_ROLE), and the
     * arbiter's role revoked (DEFAULT_ADMIN_ROLE), so nobody may rule any dispute.
     */
    async function lockdownFixture() {
      const p = await twoGatewaysFixture();
      await depositFloat(p, USDT(1_000));
      const onRamp = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
      await lockDeal(p, onRamp);
      const delegated = await delegateDeal(p);
      await p.escrow.connect(p.delegate).lock(delegated, ethers.ZeroHash);
      await p.escrow.connect(p.payee).perform(delegated);
      const [refundable, cancellable, mutual, signed, splittable, pair, disputed, settled] = await Promise.all(
        Array.from({ length: 8 }, () => makeDeal(p)),
      );
      const auto = await makeDeal(p, { autoRelease: true });
      for (const d of [refundable, cancellable, mutual, signed, splittable, pair, disputed, settled, auto]) {
        await openDeal(p, d);
      }
      await settle(p, settled);
      await performAndDispute(p, disputed);
      for (const d of [splittable, pair, auto]) await p.escrow.connect(p.payee).perform(d);
      const settledFee = feeOf(settled.amount, settled.feeBps);

      await p.registry.connect(p.pauser).pause();
      for (const token of [await p.usdt.getAddress(), await p.dai.getAddress()]) {
        await p.registry.connect(p.governor).setTokenAllowed(token, false);
      }
      for (const gw of [p.gateway, p.gateway2]) await p.registry.connect(p.governor).suspendGateway(gw.address);
      await p.registry.connect(p.governor).suspendAcceptor(p.acceptor.address);
      await p.registry.connect(p.admin).revokeRole(await p.registry.ARBITER_ROLE(), p.arbiter.address);
      const open = [refundable, cancellable, mutual, signed, splittable, pair, disputed, auto];
      return {
        ...p,
        onRamp,
        delegated,
        open,
        refundable,
        cancellable,
        mutual,
        signed,
        splittable,
        pair,
        disputed,
        auto,
        settledFee,
      };
    }
    type L = Awaited<ReturnType<typeof lockdownFixture>>;

    /** Liabilities after the lockdown, less the deals a test settled and the float and fees it moved. */
    function remaining(p: L, gone: DealOut[], extra: { owedGateway?: bigint; free?: bigint; locked?: bigint } = {}) {
      return {
        openDeals: p.open.filter((d) => !gone.includes(d)),
        owed: [[p.gateway.address, extra.owedGateway ?? p.settledFee]],
        floats: [[p.acceptor.address, extra.free ?? USDT(800), extra.locked ?? USDT(200)]],
      } as Liabilities;
    }

    before(async function () {
      const p = await loadFixture(lockdownFixture);
      expect(await p.registry.paused()).to.equal(true);
      expect(await p.registry.isTokenAllowed(await p.usdt.getAddress())).to.equal(false);
      expect(await p.registry.canRule(p.gateway.address)).to.equal(false);
      expect(await p.registry.isArbiter(p.arbiter.address)).to.equal(false);
      expect(await openDisputes(p)).to.equal(1n);
      await expectSolvent(p.escrow, p.usdt, remaining(p, []));
    });

    it("new business is blocked: open, lock, delegate lock and deposit", async function () {
      const p = await loadFixture(lockdownFixture);
      const d = await makeDeal(p);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d.amount);
      await expect(p.escrow.connect(p.payer).open(d, ethers.ZeroHash)).to.be.revertedWithCustomError(
        p.registry,
        "RegistryPaused",
      );
      const lockD = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp) });
      await expect(p.escrow.connect(p.acceptor).lock(lockD, ethers.ZeroHash)).to.be.revertedWithCustomError(
        p.registry,
        "RegistryPaused",
      );
      await expect(
        p.escrow.connect(p.delegate).lock(await delegateDeal(p), ethers.ZeroHash),
      ).to.be.revertedWithCustomError(p.registry, "RegistryPaused");
      await expect(
        p.escrow.connect(p.acceptor).depositFloat(await p.usdt.getAddress(), d.amount),
      ).to.be.revertedWithCustomError(p.registry, "RegistryPaused");
      await expectSolvent(p.escrow, p.usdt, remaining(p, []));
    });

    it("refund after the deadline works", async function () {
      const p = await loadFixture(lockdownFixture);
      await time.increaseTo(p.refundable.deadline + 1n);
      const tx = p.escrow.connect(p.other).refund(p.refundable);
      await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(dealIdOf(p.refundable), RefundReason.Deadline);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-p.refundable.amount, p.refundable.amount]);
      await expectSolvent(p.escrow, p.usdt, remaining(p, [p.refundable]));
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
      await expectSolvent(p.escrow, p.usdt, remaining(p, [p.cancellable]));
    });

    it("release works, directly and by settleWithSigs, and so does an on-ramp release (the suspended gateway keeps the agreed fee)", async function () {
      const p = await loadFixture(lockdownFixture);
      const fee = feeOf(p.mutual.amount, p.mutual.feeBps);
      await p.escrow.connect(p.payee).perform(p.mutual);
      const tx = p.escrow.connect(p.payer).release(p.mutual);
      await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(p.mutual));
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
      await expectSolvent(
        p.escrow,
        p.usdt,
        remaining(p, [p.mutual, p.signed], { owedGateway: p.settledFee + 3n * fee, locked: p.delegated.amount }),
      );
    });

    it("split and cancel by both parties' signatures work", async function () {
      const p = await loadFixture(lockdownFixture);
      const sid = dealIdOf(p.splittable);
      const payeeAmount = USDT(35);
      const fee = feeOf(payeeAmount, p.splittable.feeBps);
      const split = p.escrow
        .connect(p.other)
        .splitWithSigs(
          p.splittable,
          payeeAmount,
          await signSplit(p.escrow, p.payer, sid, payeeAmount),
          await signSplit(p.escrow, p.payee, sid, payeeAmount),
        );
      await expect(split)
        .to.emit(p.escrow, "DealSplit")
        .withArgs(sid, payeeAmount - fee, fee, p.splittable.amount - payeeAmount);
      await expect(split).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee, p.payer],
        [-(p.splittable.amount - fee), payeeAmount - fee, p.splittable.amount - payeeAmount],
      );

      const cid = dealIdOf(p.pair);
      const cancel = p.escrow
        .connect(p.other)
        .cancelWithSigs(
          p.pair,
          await signAction(p.escrow, p.payer, cid, Action.Cancel),
          await signAction(p.escrow, p.payee, cid, Action.Cancel),
        );
      await expect(cancel).to.emit(p.escrow, "DealRefunded").withArgs(cid, RefundReason.MutualCancel);
      await expect(cancel).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-p.pair.amount, p.pair.amount]);
      await expectSolvent(p.escrow, p.usdt, remaining(p, [p.splittable, p.pair], { owedGateway: p.settledFee + fee }));
    });

    it("the payee's claim of an autoRelease payment works", async function () {
      const p = await loadFixture(lockdownFixture);
      const fee = feeOf(p.auto.amount, p.auto.feeBps);
      await time.increase(RELEASE_WINDOW + 1);
      await expect(p.escrow.connect(p.payee).claim(p.auto)).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.payee],
        [-(p.auto.amount - fee), p.auto.amount - fee],
      );
      await expectSolvent(p.escrow, p.usdt, remaining(p, [p.auto], { owedGateway: p.settledFee + fee }));
    });

    it("withdrawFloat of the free float works, and a cancelled lock returns to it", async function () {
      const p = await loadFixture(lockdownFixture);
      const usdt = await p.usdt.getAddress();
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(800))).to.changeTokenBalances(
        p.usdt,
        [p.escrow, p.acceptor],
        [-USDT(800), USDT(800)],
      );
      await expect(p.escrow.connect(p.payee).cancel(p.onRamp))
        .to.emit(p.escrow, "DealRefunded")
        .withArgs(dealIdOf(p.onRamp), RefundReason.PayeeCancel);
      await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, p.onRamp.amount))
        .to.emit(p.escrow, "FloatWithdrawn")
        .withArgs(p.acceptor.address, usdt, p.onRamp.amount);
      await expectSolvent(p.escrow, p.usdt, remaining(p, [], { free: 0n, locked: p.delegated.amount }));
    });

    it("a delegate's lock returns to the float at its expiry", async function () {
      const p = await loadFixture(lockdownFixture);
      await time.increaseTo((await p.escrow.lockExpiry(p.delegated)) + 1n);
      await expect(p.escrow.connect(p.other).refund(p.delegated))
        .to.emit(p.escrow, "DealRefunded")
        .withArgs(dealIdOf(p.delegated), RefundReason.LockExpired);
      await expectSolvent(p.escrow, p.usdt, remaining(p, [], { free: USDT(900), locked: p.onRamp.amount }));
    });

    it("claimOwed works", async function () {
      const p = await loadFixture(lockdownFixture);
      const usdt = await p.usdt.getAddress();
      const tx = p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address);
      await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.gateway.address, p.settledFee);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.gateway], [-p.settledFee, p.settledFee]);
      await expectSolvent(p.escrow, p.usdt, remaining(p, [], { owedGateway: 0n }));
    });

    it("a held dispute nobody may rule (gateway suspended, arbiter revoked) still ends: release, cancel, split or cancel by signatures", async function () {
      const p = await loadFixture(lockdownFixture);
      const id = dealIdOf(p.disputed);
      const amount = p.disputed.amount;
      const fee = feeOf(amount, p.disputed.feeBps);
      for (const caller of [p.gateway, p.arbiter]) {
        await expect(p.escrow.connect(caller).resolve(p.disputed, 0n, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, caller.address);
      }
      const exits: Array<[string, () => Promise<ContractTransactionResponse>, bigint, bigint, bigint]> = [
        ["release", () => p.escrow.connect(p.payer).release(p.disputed), amount - fee, 0n, fee],
        ["cancel", () => p.escrow.connect(p.payee).cancel(p.disputed), 0n, amount, 0n],
        [
          "split",
          async () =>
            p.escrow.splitWithSigs(
              p.disputed,
              USDT(50),
              await signSplit(p.escrow, p.payer, id, USDT(50)),
              await signSplit(p.escrow, p.payee, id, USDT(50)),
            ),
          USDT(50) - feeOf(USDT(50), p.disputed.feeBps),
          USDT(50),
          feeOf(USDT(50), p.disputed.feeBps),
        ],
        [
          "cancelWithSigs",
          async () =>
            p.escrow.cancelWithSigs(
              p.disputed,
              await signAction(p.escrow, p.payer, id, Action.Cancel),
              await signAction(p.escrow, p.payee, id, Action.Cancel),
            ),
          0n,
          amount,
          0n,
        ],
      ];
      for (const [name, exit, toPayee, toPayer, toGateway] of exits) {
        await inSnapshot(async () => {
          const tx = exit();
          await expect(tx, name).to.emit(p.registry, "GatewayDisputesChanged").withArgs(p.gateway.address, 0n);
          await expect(tx, name).to.changeTokenBalances(
            p.usdt,
            [p.escrow, p.payee, p.payer],
            [-(toPayee + toPayer), toPayee, toPayer],
          );
          await expectSolvent(p.escrow, p.usdt, remaining(p, [p.disputed], { owedGateway: p.settledFee + toGateway }));
        });
      }
    });

    it("with the escrow's ESCROW_ROLE revoked too, a held dispute still ends (the uncount is skipped and reported)", async function () {
      const p = await loadFixture(lockdownFixture);
      const id = dealIdOf(p.disputed);
      await p.registry.connect(p.admin).revokeRole(await p.registry.ESCROW_ROLE(), await p.escrow.getAddress());
      const tx = p.escrow.connect(p.payee).cancel(p.disputed);
      await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(id, RefundReason.PayeeCancel);
      await expect(tx).to.emit(p.escrow, "DisputeCountSkipped").withArgs(id, p.gateway.address, false);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.escrow, p.payer], [-p.disputed.amount, p.disputed.amount]);
      expect(await openDisputes(p)).to.equal(1n); // drift the audit command reports
      await expectSolvent(p.escrow, p.usdt, remaining(p, [p.disputed]));
    });

    describe("each governance role's worst case (IGatewayRegistry NatSpec)", function () {
      it("DEFAULT_ADMIN_ROLE: granting itself every role, it still moves no deal money and no float", async function () {
        const p = await loadFixture(twoGatewaysFixture);
        const usdt = await p.usdt.getAddress();
        await depositFloat(p, USDT(1_000));
        const d = await makeDeal(p);
        const id = dealIdOf(d);
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        for (const role of ["GOVERNOR_ROLE", "PAUSER_ROLE", "ARBITER_ROLE", "ESCROW_ROLE"] as const) {
          await p.registry.connect(p.admin).grantRole(await p.registry[role](), p.admin.address);
        }
        const before = await p.usdt.balanceOf(await p.escrow.getAddress());
        const a = p.escrow.connect(p.admin);
        for (const call of [a.release, a.cancel, a.perform, a.dispute, a.claim]) {
          await expect(call(d))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(id, p.admin.address);
        }
        await expect(a.resolve(d, d.amount, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Performed);
        await expect(a.withdrawFloat(usdt, USDT(1)))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.admin.address, usdt, 0n, USDT(1));
        await expect(a.claimOwed(usdt, p.admin.address))
          .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
          .withArgs(usdt, p.admin.address);
        // Its ESCROW_ROLE moves a counter in the registry, nothing in the escrow.
        await p.registry.connect(p.admin).noteDisputeOpened(p.gateway.address);
        expect(await p.usdt.balanceOf(await p.escrow.getAddress())).to.equal(before);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [d], floats: [[p.acceptor.address, USDT(1_000), 0n]] });
      });

      it("GOVERNOR_ROLE: slashing every bond and suspending every gateway takes only the bonds; deals still settle and the arbiter rules at once", async function () {
        const p = await loadFixture(twoGatewaysFixture);
        const agreed = await makeDeal(p);
        const disputed = await makeDeal(p);
        await openDeal(p, agreed);
        await openDeal(p, disputed);
        await performAndDispute(p, disputed);
        const escrowBefore = await p.usdt.balanceOf(await p.escrow.getAddress());
        for (const gw of [p.gateway, p.gateway2]) {
          await expect(p.registry.connect(p.governor).slashGateway(gw.address, MIN_BOND, p.governor.address))
            .to.emit(p.registry, "GatewaySlashed")
            .withArgs(gw.address, p.governor.address, MIN_BOND, 0n);
          await p.registry.connect(p.governor).suspendGateway(gw.address);
        }
        expect(await p.usdt.balanceOf(await p.escrow.getAddress())).to.equal(escrowBefore);
        await expectSolvent(p.escrow, p.usdt, { openDeals: [agreed, disputed] });

        await settle(p, agreed);
        const id = dealIdOf(disputed);
        await expect(p.escrow.connect(p.arbiter).resolve(disputed, USDT(10), REASONS))
          .to.emit(p.escrow, "DealResolved")
          .withArgs(id, p.arbiter.address, USDT(10), 0n, disputed.amount - USDT(10), REASONS);
        await expectSolvent(p.escrow, p.usdt, { owed: [[p.gateway.address, feeOf(agreed.amount, agreed.feeBps)]] });
      });

      it("ARBITER_ROLE: splits a dispute between payer and payee only, never above the amount, never an undisputed deal, never inside a holding gateway's window, and without fee", async function () {
        const p = await loadFixture(twoGatewaysFixture);
        const d = await makeDeal(p);
        const id = dealIdOf(d);
        await openDeal(p, d);
        await expect(p.escrow.connect(p.arbiter).resolve(d, 0n, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(id, Status.Open);
        await performAndDispute(p, d);
        const endsAt = (await p.escrow.getDeal(id)).since + BigInt(RESOLUTION_WINDOW);
        await expect(p.escrow.connect(p.arbiter).resolve(d, 0n, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowResolutionWindowOpen")
          .withArgs(id, endsAt);
        await time.increaseTo(endsAt + 1n);
        await expect(p.escrow.connect(p.arbiter).resolve(d, d.amount + 1n, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowPayeeAmountTooHigh")
          .withArgs(id, d.amount + 1n, d.amount);
        const tx = p.escrow.connect(p.arbiter).resolve(d, d.amount, NO_REASONS);
        await expect(tx)
          .to.emit(p.escrow, "DealResolved")
          .withArgs(id, p.arbiter.address, d.amount, 0n, 0n, NO_REASONS);
        await expect(tx).to.changeTokenBalances(
          p.usdt,
          [p.escrow, p.payee, p.payer, p.arbiter, p.gateway],
          [-d.amount, d.amount, 0n, 0n, 0n],
        );
        await expectSolvent(p.escrow, p.usdt, {
          owed: [
            [p.arbiter.address, 0n],
            [p.gateway.address, 0n],
          ],
        });
      });

      it("ESCROW_ROLE given to a key: inflating the counter while the gateway is active keeps it from exiting", async function () {
        const p = await loadFixture(deployProtocol);
        const key = p.rest[2];
        const gw = p.gateway.address;
        await p.registry.connect(p.admin).grantRole(await p.registry.ESCROW_ROLE(), key.address);
        await p.registry.connect(key).noteDisputeOpened(gw);
        await p.registry.connect(p.gateway).requestExit();
        // Once the gateway is exiting the key can no longer count disputes for it.
        expect(await p.registry.connect(key).noteDisputeOpened.staticCall(gw)).to.equal(false);
        await time.increase(UNBONDING_DELAY);
        await expect(p.registry.connect(p.gateway).completeExit())
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewayHasDisputes")
          .withArgs(gw, 1n);
        await expectSolvent(p.escrow, p.usdt, {});
      });

      it("ESCROW_ROLE given to a key: it can let a gateway exit with a held dispute, which then passes to the arbiter", async function () {
        const p = await loadFixture(deployProtocol);
        const key = p.rest[2];
        const gw = p.gateway.address;
        const d = await makeDeal(p);
        const id = dealIdOf(d);
        await openDeal(p, d);
        await performAndDispute(p, d);
        await p.registry.connect(p.admin).grantRole(await p.registry.ESCROW_ROLE(), key.address);
        await p.registry.connect(key).noteDisputeClosed(gw);
        await p.registry.connect(p.gateway).requestExit();
        await time.increase(UNBONDING_DELAY);
        await expect(p.registry.connect(p.gateway).completeExit())
          .to.emit(p.registry, "GatewayExited")
          .withArgs(gw, MIN_BOND);

        await expect(p.escrow.connect(p.gateway).resolve(d, d.amount, NO_REASONS))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(id, gw);
        const tx = p.escrow.connect(p.arbiter).resolve(d, USDT(50), NO_REASONS);
        await expect(tx)
          .to.emit(p.escrow, "DealResolved")
          .withArgs(id, p.arbiter.address, USDT(50), 0n, USDT(50), NO_REASONS);
        await expect(tx).to.emit(p.escrow, "DisputeCountSkipped").withArgs(id, gw, false);
        await expectSolvent(p.escrow, p.usdt, {});
      });
    });
  });

  /*//////////////////////////////////////////////////////////////
                 13. OPEN FINDINGS (SKIPPED: THEY FAIL)
  //////////////////////////////////////////////////////////////*/

  describe("findings of this review, settled", function () {
    // FINDING: with the unbonding floor equal to the resolution window, a gateway that asked to exit in the block a
    // dispute was raised could rule it at the last second of its window and take its bond in the same block,
    // leaving governance no block to slash. The escrow now needs the registry's floor to be its window plus
    // MIN_SLASH_TIME, so at the floor the bond is still there MIN_SLASH_TIME after that ruling.
    it("attack: rule unfairly at the end of the window and exit in the same block (delay at its floor) → RegistryUnbonding; governance slashes within MIN_SLASH_TIME", async function () {
      const p = await loadFixture(deployProtocol);
      const gw = p.gateway.address;
      await expect(p.registry.connect(p.governor).setUnbondingDelay(RESOLUTION_WINDOW))
        .to.be.revertedWithCustomError(p.registry, "RegistryInvalidParameter")
        .withArgs(RESOLUTION_WINDOW, MIN_UNBONDING_DELAY);
      await p.registry.connect(p.governor).setUnbondingDelay(MIN_UNBONDING_DELAY); // the floor
      const d = await makeDeal(p);
      const id = dealIdOf(d);
      await openDeal(p, d);
      await p.escrow.connect(p.payee).perform(d);
      await inOneBlock(undefined, async () => [
        await p.escrow.connect(p.payer).dispute(d, { gasLimit: 500_000 }),
        await p.registry.connect(p.gateway).requestExit({ gasLimit: 200_000 }),
      ]);
      const windowEnd = (await p.escrow.getDeal(id)).since + BigInt(RESOLUTION_WINDOW);
      const exitAt = (await p.registry.getGateway(gw)).exitAt;
      expect(exitAt - windowEnd).to.equal(BigInt(MIN_SLASH_TIME));
      await time.setNextBlockTimestamp(windowEnd);
      await p.escrow.connect(p.gateway).resolve(d, d.amount, NO_REASONS);
      await expect(p.registry.connect(p.gateway).completeExit())
        .to.be.revertedWithCustomError(p.registry, "RegistryUnbonding")
        .withArgs(gw, exitAt);
      await time.setNextBlockTimestamp(exitAt - 1n);
      await expect(p.registry.connect(p.governor).slashGateway(gw, MIN_BOND, p.payer.address)).to.emit(
        p.registry,
        "GatewaySlashed",
      );
    });

    // DECIDED: a signature binds the chain, the escrow, the deal, the action and an expiry — not the deal's state.
    // Since v1.1 a release ends a Disputed deal too, so a Release the payer signed earlier, still unexpired,
    // releases the deal after the payer's own dispute: the payer did sign "release". IEscrow's NatSpec tells signers
    // to give short expiries; binding signatures to the deal's state is left for a later version.
    for (const late of [false, true]) {
      it(`a Release signed before the payer disputes ${late ? "is refused after its expiry" : "still releases the disputed deal while unexpired (documented)"}`, async function () {
        const p = await loadFixture(deployProtocol);
        const d = await makeDeal(p);
        const id = dealIdOf(d);
        await openDeal(p, d);
        await p.escrow.connect(p.payee).perform(d);
        const release = await signAction(p.escrow, p.payer, id, Action.Release, BigInt((await time.latest()) + HOUR));
        await p.escrow.connect(p.payer).dispute(d); // the payer changes its mind
        if (late) await time.increase(HOUR + 1);
        const tx = p.escrow.connect(p.payee).actWithSig(d, Action.Release, p.payer.address, release);
        if (late) {
          await expect(tx).to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired").withArgs(release.expiry);
        } else {
          await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id);
        }
      });
    }
  });
});
