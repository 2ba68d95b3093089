/** Helpers of the tests of the calls that open deals and move float: open, lock, depositFloat, withdrawFloat,
 * claimOwed, and the views. */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { expect } from "chai";
import type { ContractTransactionResponse, Interface } from "ethers";
import { ethers } from "hardhat";
import type { GatewayRegistry } from "../../../../typechain-types";

import { AcceptorStatus, approveExactly, DEAL_TYPE, dealIdOf, DELEGATE_SALT_PREFIX } from "../../fixtures";
import { deployProtocol, depositFloat, feeOf, GATEWAY_FEE_BPS, GATEWAY_FEE_CAP_BPS } from "../../fixtures";
import { GatewayStatus, Kind, loadFixture, makeDeal, MAX_FEE_BPS, MIN_BOND, nextDelegateSalt } from "../../fixtures";
import { nextSalt, openDeal, signOpen, Status, USDT, type DealOut, type Protocol } from "../../fixtures";

/*//////////////////////////////////////////////////////////////
                         LOCAL HELPERS
//////////////////////////////////////////////////////////////*/

export const UINT96_MAX = 2n ** 96n - 1n;
export const FLOAT = USDT(1_000);
/** A gas limit for a call the token makes burn all its gas (USDT's SafeMath `assert` on a short allowance or
 * balance): sent with it, the transaction is mined and reverts instead of failing gas estimation. */
export const BURN_GAS_LIMIT = 1_000_000;

export const REF = ethers.id("order #1");
export const REF2 = ethers.id("order #2");

const OPEN_FIELDS = [
  { name: "deal", type: "Deal" },
  { name: "ref", type: "bytes32" },
  { name: "expiry", type: "uint256" },
];
export const OPEN_TYPES = { Open: OPEN_FIELDS, Deal: DEAL_TYPE };
export const LOCK_TYPES = { Lock: OPEN_FIELDS, Deal: DEAL_TYPE };
const DEAL_TYPES = { Deal: DEAL_TYPE };
export const ACTION_TYPES = {
  DealAction: [
    { name: "dealId", type: "bytes32" },
    { name: "action", type: "uint8" },
    { name: "expiry", type: "uint256" },
  ],
};
/** The Deal's fields in ABI order: a Deal is static, so `fn(deal, ...)` encodes field i in word i after the selector. */
export const DEAL_FIELDS = DEAL_TYPE.map((f) => f.name) as (keyof DealOut)[];

/** The deal as a tuple in struct order, for `withArgs`. */
export function tuple(d: DealOut) {
  return DEAL_FIELDS.map((k) => d[k]);
}

/** EIP-712 struct hash of a deal, computed off-chain. */
export function structHash(d: DealOut): string {
  return ethers.TypedDataEncoder.hashStruct("Deal", DEAL_TYPES, d);
}

/** An on-ramp deal the fixture acceptor locks itself from its float for the payee (the buyer). */
export async function makeLockDeal(p: Protocol, over: Parameters<typeof makeDeal>[1] = {}) {
  return makeDeal(p, { payer: p.acceptor.address, payee: p.payee.address, kind: Kind.OnRamp, ...over });
}

/** An on-ramp deal for the acceptor's lock delegate: a salt with DELEGATE_SALT_PREFIX, within the delegate's
 * bounds (makeDeal's deadline of now + 7 days, a one-day release window). */
export async function makeDelegateLockDeal(p: Protocol, over: Parameters<typeof makeDeal>[1] = {}) {
  return makeLockDeal(p, { salt: nextDelegateSalt(), ...over });
}

/** A salt whose first 11 bytes are DELEGATE_SALT_PREFIX's and whose 12th differs: an ordinary salt. */
export function nearDelegateSalt(): string {
  const prefix = ethers.getBytes(DELEGATE_SALT_PREFIX);
  return ethers.concat([prefix.slice(0, 11), ethers.toBeHex(prefix[11] ^ 1, 1), ethers.dataSlice(nextSalt(), 12)]);
}

/** An off-ramp deal: the payer sells to the fixture acceptor. */
export async function makeOffRampDeal(p: Protocol, over: Parameters<typeof makeDeal>[1] = {}) {
  return makeDeal(p, { payee: p.acceptor.address, kind: Kind.OffRamp, ...over });
}

/** Approves the escrow for `deal.amount` of the deal's token from its payer. */
export async function approveFor(p: Protocol, deal: DealOut, signer?: HardhatEthersSigner) {
  const s = signer ?? (await ethers.getSigner(deal.payer));
  const token = await ethers.getContractAt("TestUSDT", deal.token);
  await approveExactly(token, s, await p.escrow.getAddress(), deal.amount);
}

/** Registers `gw` as a gateway (minimum bond, default fee) and, unless `approve` is false, approves it. */
export async function registerGateway(p: Protocol, gw: HardhatEthersSigner, approve = true) {
  await approveExactly(p.usdt, gw, await p.registry.getAddress(), MIN_BOND);
  await p.registry.connect(gw).registerGateway(MIN_BOND, GATEWAY_FEE_BPS, ethers.id("gw2"));
  if (approve) await p.registry.connect(p.governor).approveGateway(gw.address, GATEWAY_FEE_CAP_BPS);
}

/** Registers `acc` as an acceptor under the fixture gateway without a lock delegate; approved unless told not. */
export async function registerAcceptor(p: Protocol, acc: HardhatEthersSigner, approve = true) {
  await p.registry.connect(acc).registerAcceptor(p.gateway.address, ethers.ZeroAddress);
  if (approve) await p.registry.connect(p.gateway).approveAcceptor(acc.address);
  await p.registry.connect(acc).setLimits(await p.usdt.getAddress(), USDT(10), USDT(50_000));
}

/** A registry that accepts resolution windows up to `minUnbondingDelay` (its floor of the unbonding delay). */
export async function deployRegistry(p: Protocol, minUnbondingDelay: number): Promise<GatewayRegistry> {
  const factory = await ethers.getContractFactory("GatewayRegistry");
  const args = [p.admin.address, await p.usdt.getAddress(), MIN_BOND, MAX_FEE_BPS] as const;
  return (await factory.deploy(...args, minUnbondingDelay, minUnbondingDelay)) as unknown as GatewayRegistry;
}

/** The status of a deal, from its stored record. */
export async function statusOf(p: Protocol, deal: DealOut): Promise<bigint> {
  return (await p.escrow.getDeal(dealIdOf(deal))).status;
}

/** Calldata of `fn(deal, ...rest)` with the deal's word for `field` replaced by `word` (out-of-range high bits). */
export function dirtyCalldata(
  p: Protocol,
  fn: "open" | "perform",
  args: unknown[],
  field: keyof DealOut,
  word: bigint,
) {
  const iface: Interface = p.escrow.interface;
  const data = iface.encodeFunctionData(fn, args);
  const start = 2 + 2 * (4 + 32 * DEAL_FIELDS.indexOf(field));
  return data.slice(0, start) + ethers.toBeHex(word, 32).slice(2) + data.slice(start + 64);
}

/** Each field but payer and salt (the deal id's inputs) with a bit set above its type's range. */
export function dirtyWords(deal: DealOut): [keyof DealOut, bigint][] {
  return [
    ["payee", BigInt(deal.payee) | (1n << 160n)],
    ["gateway", BigInt(deal.gateway) | (1n << 255n)],
    ["amount", deal.amount | (1n << 96n)],
    ["deadline", deal.deadline | (1n << 40n)],
    ["releaseWindow", deal.releaseWindow | (1n << 32n)],
    ["feeBps", deal.feeBps | (1n << 16n)],
    ["kind", deal.kind | (1n << 8n)],
    ["autoRelease", 2n],
  ];
}

/**
 * Asserts the events of a lock by the acceptor's delegate: DealOpened(dealId, acceptor, payee, deal, ref) and,
 * as the escrow's very next log, DealLockedByDelegate(dealId, delegate).
 */
export async function expectDelegateLockEvents(
  p: Protocol,
  tx: Promise<ContractTransactionResponse>,
  deal: DealOut,
  delegate: string = p.delegate.address,
  ref: string = REF,
) {
  const dealId = dealIdOf(deal);
  await expect(tx)
    .to.emit(p.escrow, "DealOpened")
    .withArgs(dealId, deal.payer, deal.payee, tuple(deal), ref)
    .and.to.emit(p.escrow, "DealLockedByDelegate")
    .withArgs(dealId, delegate);
  const receipt = await (await tx).wait();
  const escrow = await p.escrow.getAddress();
  const logs = receipt!.logs.filter((l) => l.address === escrow).map((l) => p.escrow.interface.parseLog(l)!);
  const opened = logs.findIndex((l) => l.name === "DealOpened" && l.args.dealId === dealId);
  expect(opened, "DealOpened").to.be.greaterThanOrEqual(0);
  const next = logs[opened + 1];
  expect(next?.name).to.equal("DealLockedByDelegate");
  expect(next!.args.dealId).to.equal(dealId);
  expect(next!.args.delegate).to.equal(delegate);
}

/** Asserts the fixture acceptor's float in `token` (USDT unless given): [free, locked]. */
export async function expectFloat(p: Protocol, free: bigint, locked: bigint, token?: string): Promise<void> {
  const f = await p.escrow.floatOf(p.acceptor.address, token ?? (await p.usdt.getAddress()));
  expect([f.free, f.locked], "float [free, locked]").to.deep.equal([free, locked]);
}

/** Asserts the stored record of a deal just opened or locked: Open, its commitment, no flags. */
export async function expectOpenRecord(p: Protocol, deal: DealOut): Promise<void> {
  const rec = await p.escrow.getDeal(dealIdOf(deal));
  expect(rec.status).to.equal(Status.Open);
  expect(rec.commitment).to.equal(ethers.dataSlice(structHash(deal), 0, 25));
  expect(rec.flags).to.equal(0n);
}

/** Opens `deal` (its payer approving the escrow first) and checks that it is Open. */
export async function expectOpens(p: Protocol, deal: DealOut): Promise<void> {
  await openDeal(p, deal);
  expect(await statusOf(p, deal)).to.equal(Status.Open);
}

/** A fresh protocol (`fixture`) and a deal (makeDeal with `over`) whose payer approved the escrow for it. */
export async function approvedDeal(over: Parameters<typeof makeDeal>[1] = {}, fixture = deployProtocol) {
  const p = await loadFixture(fixture);
  const deal = await makeDeal(p, over);
  await approveFor(p, deal);
  return { p, deal };
}

/**
 * Asserts that `send(acceptor)` reverts RegistryAcceptorWrongStatus(acceptor, status) for an acceptor that is not
 * Active: `other` unregistered (None), then registered but not approved (Pending), then the fixture acceptor
 * suspended by its gateway (Suspended).
 */
export async function expectRefusedUnlessActiveAcceptor(
  p: Protocol,
  send: (acceptor: HardhatEthersSigner) => Promise<unknown>,
): Promise<void> {
  const refused = async (acceptor: HardhatEthersSigner, status: number) =>
    expect(send(acceptor))
      .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
      .withArgs(acceptor.address, status);
  await refused(p.other, AcceptorStatus.None);
  await registerAcceptor(p, p.other, false);
  await refused(p.other, AcceptorStatus.Pending);
  await p.registry.connect(p.gateway).suspendAcceptor(p.acceptor.address);
  await refused(p.acceptor, AcceptorStatus.Suspended);
}

/** Asserts that a deal at the fixture gateway's own fee (50 bps) reverts EscrowFeeMismatch(gateway, 50, `fee`) once
 * the fee it must carry is `fee`, and that a deal at `fee` opens. */
export async function expectOnlyFeeAccepted(p: Protocol, fee: number): Promise<void> {
  const old = await makeDeal(p);
  await approveFor(p, old);
  await expect(p.escrow.connect(p.payer).open(old, REF))
    .to.be.revertedWithCustomError(p.escrow, "EscrowFeeMismatch")
    .withArgs(p.gateway.address, GATEWAY_FEE_BPS, fee);
  await expectOpens(p, await makeDeal(p, { feeBps: fee }));
}

/** lockWithSig of `deal` naming `signer`, submitted by a stranger, with `signer`'s own Lock signature unless `auth`
 * is given. */
export async function lockSigned(
  p: Protocol,
  deal: DealOut,
  signer: HardhatEthersSigner,
  auth?: { expiry: bigint; signature: string },
  ref: string = REF,
): Promise<ContractTransactionResponse> {
  const a = auth ?? (await signOpen(p.escrow, signer, deal, ref, "Lock"));
  return p.escrow.connect(p.other).lockWithSig(deal, ref, signer.address, a);
}

/*//////////////////////////////////////////////////////////////
                      SHARED BEHAVIOURS
//////////////////////////////////////////////////////////////*/

/** A refusal of the registry, set up after the call was prepared. */
interface RegistryGate {
  when: string;
  error: string;
  close: (p: Protocol) => Promise<unknown>;
  args: (p: Protocol) => Promise<unknown[]>;
}

const REGISTRY_GATES: RegistryGate[] = [
  {
    when: "the registry is paused",
    error: "RegistryPaused",
    close: (p) => p.registry.connect(p.pauser).pause(),
    args: async () => [],
  },
  {
    when: "the token is not allowlisted (any more)",
    error: "RegistryTokenNotAllowed",
    close: async (p) => p.registry.connect(p.governor).setTokenAllowed(await p.usdt.getAddress(), false),
    args: async (p) => [await p.usdt.getAddress()],
  },
  {
    when: "the gateway is Exiting",
    error: "RegistryGatewayWrongStatus",
    close: (p) => p.registry.connect(p.gateway).requestExit(),
    args: async (p) => [p.gateway.address, GatewayStatus.Exiting],
  },
  {
    when: "the gateway is suspended",
    error: "RegistryGatewaySuspended",
    close: (p) => p.registry.connect(p.governor).suspendGateway(p.gateway.address),
    args: async (p) => [p.gateway.address],
  },
];

/**
 * Shared behaviour of every call that needs the registry's consent (open, openWithSig, lock, lockWithSig,
 * depositFloat): for each refusal, the call prepared beforehand (approvals, signatures) reverts with the registry's
 * error.
 */
export function itIsRefusedByTheRegistry(
  fixture: () => Promise<Protocol>,
  prepare: (p: Protocol) => Promise<() => Promise<ContractTransactionResponse>>,
) {
  for (const gate of REGISTRY_GATES) {
    it(`when ${gate.when} → it reverts ${gate.error}`, async function () {
      const p = await loadFixture(fixture);
      const send = await prepare(p);
      await gate.close(p);
      await expect(send())
        .to.be.revertedWithCustomError(p.registry, gate.error)
        .withArgs(...(await gate.args(p)));
    });
  }
}

/*//////////////////////////////////////////////////////////////
                            FIXTURES
//////////////////////////////////////////////////////////////*/

/** The protocol with 1,000 USDT of free float deposited by the fixture acceptor. */
export async function withFloat() {
  const p = await deployProtocol();
  await depositFloat(p, FLOAT);
  return p;
}

/** The protocol with float, and a second acceptor (`acc2`, no lock delegate) under the fixture gateway with float
 * of its own. */
export async function withSecondAcceptor() {
  const p = await withFloat();
  const acc2 = p.rest[0];
  await registerAcceptor(p, acc2);
  await depositFloat(p, FLOAT, acc2);
  return { ...p, acc2 };
}

/** The protocol with a second active gateway (`gateway2`). */
export async function withGateway2() {
  const p = await deployProtocol();
  await registerGateway(p, p.gateway2);
  return p;
}

/** A 100 USDT payment released by both parties: the gateway is owed its fee. */
export async function withReleasedDeal() {
  const p = await deployProtocol();
  const deal = await makeDeal(p);
  await openDeal(p, deal);
  await p.escrow.connect(p.payee).perform(deal);
  await p.escrow.connect(p.payer).release(deal);
  return { ...p, deal, fee: feeOf(deal.amount, deal.feeBps) };
}

/** A 100 USDT payment the payee performed; the payer has not released yet. */
export async function withPerformedDeal() {
  const p = await deployProtocol();
  const deal = await makeDeal(p);
  await openDeal(p, deal);
  await p.escrow.connect(p.payee).perform(deal);
  return { ...p, deal, fee: feeOf(deal.amount, deal.feeBps), net: deal.amount - feeOf(deal.amount, deal.feeBps) };
}

/** The tests' own copy of the delegate salt prefix must be 12 bytes, or every delegate test is moot. */
export function beforeCheckingTheDelegateSaltPrefix(): void {
  before(function () {
    expect(ethers.dataLength(DELEGATE_SALT_PREFIX)).to.equal(12);
    expect(nextDelegateSalt().startsWith(DELEGATE_SALT_PREFIX)).to.equal(true);
    expect(nextSalt().startsWith(DELEGATE_SALT_PREFIX)).to.equal(false);
  });
}
