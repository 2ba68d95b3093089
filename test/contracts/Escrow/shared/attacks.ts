/** Helpers and fixtures of the attack tests (test/contracts/Escrow/attacks/). */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import type { ContractTransactionReceipt, ContractTransactionResponse, TransactionReceipt } from "ethers";
import { ethers, network } from "hardhat";
import type { ERC1271Wallet, Escrow, HostileToken } from "../../../../typechain-types";

import { approveExactly, dealIdOf, deployProtocol, depositFloat, GATEWAY_FEE_BPS, Kind } from "../../fixtures";
import { lockDeal, makeDeal, MAX_DELEGATE_RELEASE_WINDOW, MIN_BOND, nextDelegateSalt, openDeal } from "../../fixtures";
import { Status, USDT, type DealOut, type Protocol } from "../../fixtures";

/*
 * The attack tests are proof-of-concept attacks on the escrow and the registry. Each suite ("Escrow attacks: …") names
 * the attack; each test says what the attacker tries and what happens now. Tests of attacks the v1.0 security review found carry a one-line comment
 * starting "v1.0:" with what v1.0 allowed.
 */

/** Selector of OpenZeppelin's `ReentrancyGuardReentrantCall()`. */
export const REENTRANT_CALL = "0x3ee5aeb5";
export const HOST = (n: number | string): bigint => ethers.parseEther(String(n));
export const NON_FINAL: number[] = [Status.Open, Status.Performed, Status.Disputed];
export const NO_REASONS = ethers.ZeroHash;
export const REASONS = ethers.id("written reasons");
/** Gas the escrow keeps back around a bounded call (its private CALL_OVERHEAD, as the tests expect it). */
const CALL_OVERHEAD = 5_000;
/** What must be left before a bounded call of `callGas` starts: callGas + callGas/63 + CALL_OVERHEAD. */
export const requiredBefore = (callGas: number): bigint => BigInt(callGas + Math.floor(callGas / 63) + CALL_OVERHEAD);
/**
 * Runtime code that answers every call with ERC-1271's magic value: a wallet that approves any signature
 * (PUSH4 0x1626ba7e, PUSH1 224, SHL, PUSH0, MSTORE, PUSH1 32, PUSH0, RETURN). ERC1271Wallet cannot be made to.
 */
const YES_WALLET_CODE = "0x631626ba7e60e01b5f5260205ff3";
export const ERC1271 = new ethers.Interface([
  "function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)",
]);

/*//////////////////////////////////////////////////////////////
                            HELPERS
//////////////////////////////////////////////////////////////*/

export type Balances = { balanceOf(account: string): Promise<bigint>; getAddress(): Promise<string> };

/** What the escrow owes in one token, as the test expects it. */
export interface Liabilities {
  /** Wallet-funded deals still held (not OnRamp: their amounts are in the acceptor's locked float). */
  openDeals?: DealOut[];
  /** [acceptor, free, locked] */
  floats?: Array<[string, bigint, bigint]>;
  /** account → amount */
  owed?: Record<string, bigint>;
}

export async function statusOf(escrow: Escrow, id: string): Promise<number> {
  return Number((await escrow.getDeal(id)).status);
}

/**
 * I1 Solvency, with equality: checks each expected float and owed balance against storage, that every listed deal
 * is still held, and that the escrow's token balance is exactly their sum.
 */
export async function expectSolvent(escrow: Escrow, token: Balances, l: Liabilities): Promise<void> {
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
  for (const [account, amount] of Object.entries(l.owed ?? {})) {
    expect(await escrow.owed(tokenAddress, account)).to.equal(amount);
    total += amount;
  }
  expect(await token.balanceOf(await escrow.getAddress())).to.equal(total);
}

/** The deal as the tuple the events carry. */
export function dealTuple(d: DealOut) {
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
export async function settle(p: Protocol, deal: DealOut): Promise<void> {
  await p.escrow.connect(await ethers.getSigner(deal.payee)).perform(deal);
  await p.escrow.connect(await ethers.getSigner(deal.payer)).release(deal);
}

/** Performs and has the payer dispute. */
export async function performAndDispute(p: Protocol, deal: DealOut): Promise<void> {
  await p.escrow.connect(await ethers.getSigner(deal.payee)).perform(deal);
  await p.escrow.connect(await ethers.getSigner(deal.payer)).dispute(deal);
}

export async function openDisputes(p: Protocol, gateway = p.gateway.address): Promise<bigint> {
  return (await p.registry.getGateway(gateway)).openDisputes;
}

/** An account the tests can send from without its key (funded with ether). */
export async function impersonate(address: string): Promise<HardhatEthersSigner> {
  await network.provider.send("hardhat_setBalance", [address, ethers.toQuantity(ethers.parseEther("100"))]);
  await network.provider.send("hardhat_impersonateAccount", [address]);
  return ethers.getSigner(address);
}

/** A contract wallet that says yes to every ERC-1271 question, whatever the signature (and can send). */
export async function yesWallet(): Promise<HardhatEthersSigner> {
  const address = ethers.Wallet.createRandom().address;
  await network.provider.send("hardhat_setCode", [address, YES_WALLET_CODE]);
  return impersonate(address);
}

/** Runs `body` and rolls the chain back afterwards (to try several exits from one state). */
export async function inSnapshot(body: () => Promise<void>): Promise<void> {
  const snapshot: string = await network.provider.send("evm_snapshot", []);
  try {
    await body();
  } finally {
    await network.provider.send("evm_revert", [snapshot]);
  }
}

/** Mines the transactions `send` submits in one block (at `timestamp` when given); returns their receipts. */
export async function inOneBlock(
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
export async function sweepGasLimits(
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
export function expectNoStarvation(sweep: { threshold: number; outcomes: GasOutcome[] }, required: bigint): void {
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
export function eventNames(p: Protocol, receipt: ContractTransactionReceipt): string[] {
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
export async function hostileFixture() {
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
export async function walletsFixture() {
  const p = await deployProtocol();
  const payerWallet = (await ethers.deployContract("ERC1271Wallet", [p.payer.address])) as unknown as ERC1271Wallet;
  const payeeWallet = (await ethers.deployContract("ERC1271Wallet", [p.payee.address])) as unknown as ERC1271Wallet;
  await p.usdt.connect(p.admin).mint(await payerWallet.getAddress(), USDT(1_000));
  return { ...p, payerWallet, payeeWallet };
}

/** The protocol with 1,000 USDT of free float deposited by the acceptor. */
export async function floatFixture() {
  const p = await deployProtocol();
  await depositFloat(p, USDT(1_000));
  return p;
}

/** I1 for floatFixture's escrow when nothing happened to it: it holds exactly the acceptor's 1,000 USDT of free float. */
export async function expectFloatUntouched(p: Protocol): Promise<void> {
  await expectSolvent(p.escrow, p.usdt, { floats: [[p.acceptor.address, USDT(1_000), 0n]] });
}

/** A payment (makeDeal with `over`) its payer approved the escrow for, not opened yet. */
export async function approvedDeal(p: Protocol, over: Parameters<typeof makeDeal>[1] = {}): Promise<DealOut> {
  const d = await makeDeal(p, over);
  await approveExactly(p.usdt, await ethers.getSigner(d.payer), await p.escrow.getAddress(), d.amount);
  return d;
}

/** Opens a deal (makeDeal with `over`) from its payer's wallet and returns it. */
export async function openedDeal(p: Protocol, over: Parameters<typeof makeDeal>[1] = {}): Promise<DealOut> {
  const d = await makeDeal(p, over);
  await openDeal(p, d);
  return d;
}

/** Locks an on-ramp deal (makeDeal with `over`) from the acceptor's float, by the acceptor, and returns it. */
export async function lockedRamp(p: Protocol, over: Parameters<typeof makeDeal>[1] = {}): Promise<DealOut> {
  const d = await makeDeal(p, { payer: p.acceptor.address, kind: BigInt(Kind.OnRamp), ...over });
  await lockDeal(p, d);
  return d;
}

/** The protocol with gateway2 registered and approved too (an active gateway that deals do not name). */
export async function twoGatewaysFixture() {
  const p = await deployProtocol();
  await approveExactly(p.usdt, p.gateway2, await p.registry.getAddress(), MIN_BOND);
  await p.registry.connect(p.gateway2).registerGateway(MIN_BOND, GATEWAY_FEE_BPS, ethers.id("gateway2 terms"));
  await p.registry.connect(p.governor).approveGateway(p.gateway2.address, 300);
  return p;
}

/** A deal locked from the acceptor's float by its lock delegate (prefixed salt, within the delegate's bounds). */
export async function delegateDeal(p: Protocol, over: Partial<DealOut> = {}): Promise<DealOut> {
  return makeDeal(p, {
    payer: p.acceptor.address,
    kind: BigInt(Kind.OnRamp),
    salt: nextDelegateSalt(),
    releaseWindow: BigInt(MAX_DELEGATE_RELEASE_WINDOW),
    ...over,
  });
}
