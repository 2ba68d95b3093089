/** Helpers and shared behaviours of the tests of the calls on an opened deal (the state machine). */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { ethers, network } from "hardhat";
import type { ERC1271Wallet } from "../../../../typechain-types";

import { Action, DAY, DEAL_TYPE, dealIdOf, deployProtocol, depositFloat, feeOf, Flags } from "../../fixtures";
import { GatewayStatus, Kind, KINDS, loadFixture, makeDeal, nextDelegateSalt, openKind } from "../../fixtures";
import { reachState, RESOLUTION_WINDOW, signAction, Status, UNBONDING_DELAY, USDT, type Deal } from "../../fixtures";
import type { DealCtx, DealOut, KindName, Protocol } from "../../fixtures";

/*//////////////////////////////////////////////////////////////
                        FIXTURE AND HELPERS
//////////////////////////////////////////////////////////////*/

/** Free float the acceptor holds in every test, enough for the on-ramp deals the tests open. */
export const FLOAT = USDT(10_000);
/** Default deal amount (makeDeal). */
export const AMOUNT = USDT(100);
/** Reasons hash a ruling carries into DealResolved. */
export const REASONS = ethers.id("ruling: goods delivered late, 60% to the payee");
/** Gas a bounded call needs left before it starts: the call's gas, EIP-150's 1/64 and the escrow's overhead. */
export const requiredGas = (callGas: number): bigint => BigInt(callGas + Math.floor(callGas / 63) + 5_000);

/** The shared protocol plus a USDT float deposited by the acceptor. */
export async function protocolWithFloat(): Promise<Protocol> {
  const p = await deployProtocol();
  await depositFloat(p, FLOAT);
  return p;
}

export type Ctx = DealCtx<Protocol>;

/** Locks an on-ramp deal from the acceptor's float by its lock delegate (a salt with the delegate prefix). */
export async function delegateLock(p: Protocol, over: Partial<Deal> = {}): Promise<Ctx> {
  const deal = await makeDeal(p, {
    payer: p.acceptor.address,
    payee: p.payee.address,
    kind: Kind.OnRamp,
    salt: nextDelegateSalt(),
    ...over,
  });
  await expect(p.escrow.connect(p.delegate).lock(deal, ethers.ZeroHash))
    .to.emit(p.escrow, "DealLockedByDelegate")
    .withArgs(dealIdOf(deal), p.delegate.address);
  return { p, kind: "OnRamp", deal, id: dealIdOf(deal), payer: p.acceptor, payee: p.payee };
}

export type LiveState = "Open" | "OpenPastDeadline" | "OpenReleased" | "Performed" | "Disputed";
export type FinalState = "Released" | "Refunded" | "Resolved" | "Split";
export type State = LiveState | FinalState;
export const STATUS_OF: Record<State, number> = {
  Open: Status.Open,
  OpenPastDeadline: Status.Open,
  OpenReleased: Status.Open,
  Performed: Status.Performed,
  Disputed: Status.Disputed,
  Released: Status.Released,
  Refunded: Status.Refunded,
  Resolved: Status.Resolved,
  Split: Status.Split,
};
export const FINAL_STATES: FinalState[] = ["Released", "Refunded", "Resolved", "Split"];

/** Drives an open deal to `state` (fixtures' reachState, rulings carrying REASONS). */
export const reach = (c: Ctx, state: State): Promise<void> => reachState(c, state, REASONS);

/** Loads the fixture, opens a deal of `kind` and drives it to `state`. */
export async function setup(kind: KindName = "Payment", state: State = "Open", over: Partial<Deal> = {}): Promise<Ctx> {
  return openInState(await loadFixture(protocolWithFloat), kind, state, over);
}

/** Opens a deal of `kind` in `p` and drives it to `state`. */
export async function openInState<P extends Protocol>(
  p: P,
  kind: KindName,
  state: State,
  over: Partial<Deal> = {},
): Promise<DealCtx<P>> {
  const c = await openKind(p, kind, over);
  await reach(c, state);
  return c;
}

/** Timestamp of the block that mined `tx`. */
export async function tsOf(tx: ContractTransactionResponse): Promise<bigint> {
  const rc = await tx.wait();
  const block = await ethers.provider.getBlock(rc!.blockNumber);
  return BigInt(block!.timestamp);
}

/** Names of the escrow's events in `tx`, in log order. */
export async function escrowEventNames(p: Protocol, tx: ContractTransactionResponse): Promise<string[]> {
  const rc = await tx.wait();
  const addr = (await p.escrow.getAddress()).toLowerCase();
  return rc!.logs.filter((l) => l.address.toLowerCase() === addr).map((l) => p.escrow.interface.parseLog(l)!.name);
}

/** The first 25 bytes of the deal's EIP-712 struct hash, computed off-chain. */
function commitmentOf(deal: DealOut): string {
  return ethers.dataSlice(ethers.TypedDataEncoder.hashStruct("Deal", { Deal: DEAL_TYPE }, deal), 0, 25);
}

/** Asserts the stored record of `c`'s deal. */
export async function expectRecord(c: Ctx, status: number, since: bigint, flags = 0): Promise<void> {
  const r = await c.p.escrow.getDeal(c.id);
  expect(r.status, "status").to.equal(status);
  expect(r.since, "since").to.equal(since);
  expect(r.flags, "flags").to.equal(flags);
  expect(r.commitment.toLowerCase()).to.equal(commitmentOf(c.deal).toLowerCase());
}

export async function statusOf(c: Ctx): Promise<bigint> {
  return (await c.p.escrow.getDeal(c.id)).status;
}

export async function openDisputes(p: Protocol, gw = p.gateway.address): Promise<bigint> {
  return (await p.registry.getGateway(gw)).openDisputes;
}

/** Balances and escrow books that a settlement may touch. */
export async function books(c: Ctx) {
  const { p, deal } = c;
  const token = await ethers.getContractAt("TestUSDT", deal.token);
  const escrowAddr = await p.escrow.getAddress();
  const f = await p.escrow.floatOf(p.acceptor.address, deal.token);
  return {
    payer: await token.balanceOf(deal.payer),
    payee: await token.balanceOf(deal.payee),
    gateway: await token.balanceOf(deal.gateway),
    other: await token.balanceOf(p.other.address),
    escrow: await token.balanceOf(escrowAddr),
    owedGateway: await p.escrow.owed(deal.token, deal.gateway),
    owedPayer: await p.escrow.owed(deal.token, deal.payer),
    owedPayee: await p.escrow.owed(deal.token, deal.payee),
    free: f.free,
    locked: f.locked,
  };
}

export interface Payout {
  payeeNet: bigint;
  fee: bigint;
  refund: bigint;
}

/**
 * Runs a settling call and checks every leg: the payee's wallet gets `payeeNet`, the fee is owed to the gateway,
 * the refund goes to the payer's wallet (or the acceptor's free float for OnRamp, whose locked float drops by the
 * amount), nobody else is paid, no payout is deferred, and the record is `status` since the tx's block.
 */
export async function expectSettlement(
  c: Ctx,
  run: () => Promise<ContractTransactionResponse>,
  e: Payout,
  status: number,
): Promise<ContractTransactionResponse> {
  expect(e.payeeNet + e.fee + e.refund, "conservation of the expected payout").to.equal(c.deal.amount);
  const onRamp = c.kind === "OnRamp";
  const before = await books(c);
  const tx = await run();
  const ts = await tsOf(tx);
  const after = await books(c);
  expect(after.payee - before.payee, "payee wallet").to.equal(e.payeeNet);
  expect(after.payer - before.payer, "payer wallet").to.equal(onRamp ? 0n : e.refund);
  expect(after.gateway - before.gateway, "gateway wallet").to.equal(0n);
  expect(after.other - before.other, "submitter wallet").to.equal(0n);
  expect(before.escrow - after.escrow, "escrow balance").to.equal(e.payeeNet + (onRamp ? 0n : e.refund));
  expect(after.owedGateway - before.owedGateway, "fee owed to gateway").to.equal(e.fee);
  expect(after.owedPayer, "owed payer").to.equal(before.owedPayer);
  expect(after.owedPayee, "owed payee").to.equal(before.owedPayee);
  expect(after.free - before.free, "acceptor free float").to.equal(onRamp ? e.refund : 0n);
  expect(before.locked - after.locked, "acceptor locked float").to.equal(onRamp ? c.deal.amount : 0n);
  await expect(tx).not.to.emit(c.p.escrow, "PayoutDeferred");
  await expectRecord(c, status, ts);
  return tx;
}

/** The full release of `c`: amount less the deal's fee to the payee. */
export function releasePayout(c: Ctx): Payout {
  const fee = feeOf(c.deal.amount, c.deal.feeBps);
  return { payeeNet: c.deal.amount - fee, fee, refund: 0n };
}

/** The full refund of `c`. */
export function refundPayout(c: Ctx): Payout {
  return { payeeNet: 0n, fee: 0n, refund: c.deal.amount };
}

/** `expectSettlement` of a full release: `run` leaves `c` Released, the payee paid the amount less the fee. */
export function expectReleased(c: Ctx, run: () => Promise<ContractTransactionResponse>) {
  return expectSettlement(c, run, releasePayout(c), Status.Released);
}

/** `expectSettlement` of a full refund: `run` leaves `c` Refunded, the whole amount back. */
export function expectRefunded(c: Ctx, run: () => Promise<ContractTransactionResponse>) {
  return expectSettlement(c, run, refundPayout(c), Status.Refunded);
}

/** A ruling by the gateway: `payeeAmount` less the fee to the payee, the rest back. */
export function gatewayRuling(c: Ctx, payeeAmount: bigint): Payout {
  const fee = feeOf(payeeAmount, c.deal.feeBps);
  return { payeeNet: payeeAmount - fee, fee, refund: c.deal.amount - payeeAmount };
}

/** A ruling by the arbiter: no fee. */
export function arbiterRuling(c: Ctx, payeeAmount: bigint): Payout {
  return { payeeNet: payeeAmount, fee: 0n, refund: c.deal.amount - payeeAmount };
}

/** Asserts that nothing moved: balances, float and owed unchanged since `before`. */
export async function expectUntouched(c: Ctx, before: Awaited<ReturnType<typeof books>>): Promise<void> {
  expect(await books(c)).to.deep.equal(before);
}

/** Signatures in these tests last 30 days unless a test gives the expiry (windows and deadlines are days long). */
async function longExpiry(): Promise<bigint> {
  return BigInt((await time.latest()) + 30 * DAY);
}

/** A signature and its expiry, as the escrow's calls by signature take them. */
export type Auth = { expiry: bigint; signature: string };

export async function sign(c: Ctx, signer: HardhatEthersSigner, action: number, expiry?: bigint): Promise<Auth> {
  return signAction(c.p.escrow, signer, c.id, action, expiry ?? (await longExpiry()));
}

/** actWithSig submitted by `p.other` for `signer`, with `signer`'s own signature unless `auth` is given. */
export async function act(
  c: Ctx,
  action: number,
  signer: HardhatEthersSigner,
  auth?: Auth,
  deal: DealOut = c.deal,
): Promise<ContractTransactionResponse> {
  const a = auth ?? (await signAction(c.p.escrow, signer, dealIdOf(deal), action, await longExpiry()));
  return c.p.escrow.connect(c.p.other).actWithSig(deal, action, signer.address, a);
}

export async function now(): Promise<bigint> {
  return BigInt(await time.latest());
}

/** The end of the payer's release window of a performed deal. */
export async function releaseWindowEnd(c: Ctx): Promise<bigint> {
  return (await c.p.escrow.getDeal(c.id)).since + c.deal.releaseWindow;
}

/** A deal of `kind` opened and performed in this test, with the next block `offset` seconds after the end of its
 * release window; returns the deal and that end. */
export async function atReleaseWindowEnd(
  kind: KindName,
  offset: bigint,
  over: Partial<Deal> = {},
): Promise<{ c: Ctx; endsAt: bigint }> {
  const c = await setup(kind, "Performed", over);
  const endsAt = await releaseWindowEnd(c);
  await time.setNextBlockTimestamp(endsAt + offset);
  return { c, endsAt };
}

/** The end of the gateway's resolution window of a disputed deal. */
export async function resolutionEnd(c: Ctx): Promise<bigint> {
  return (await c.p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW);
}

/** The gateway asks to exit, waits out the unbonding delay and leaves (it must hold no dispute). */
async function exitGateway(p: Protocol): Promise<void> {
  await p.registry.connect(p.gateway).requestExit();
  await time.increase(UNBONDING_DELAY);
  await p.registry.connect(p.gateway).completeExit();
  expect((await p.registry.getGateway(p.gateway.address)).status).to.equal(GatewayStatus.Exited);
}

/** How a disputed deal came to be disputed, and so whether the gateway holds it. */
export type Holding = "held" | "Exiting" | "suspended" | "suspended, then Exiting" | "Exited" | "registry refuses";
export const NOT_HELD: Holding[] = ["Exiting", "suspended", "suspended, then Exiting", "Exited", "registry refuses"];

/**
 * Opens a deal of `kind` (deadline in 30 days, so the gateway can exit before it), has the payee perform, brings
 * the gateway or the registry into `holding` and has the payer dispute. Where the gateway can still hold disputes
 * at first, a second deal is disputed beforehand (held), so its counter is 1 and any wrong decrement shows.
 */
export async function disputeWith(
  holding: Holding,
  kind: KindName = "Payment",
): Promise<Ctx & { background: boolean }> {
  const p = await loadFixture(protocolWithFloat);
  const deadline = BigInt((await time.latest()) + 30 * DAY);
  const c = await openInState(p, kind, "Performed", { deadline });
  let background = false;
  if (holding !== "held" && holding !== "Exited") {
    await openInState(p, "Payment", "Disputed", { deadline });
    background = true;
  }
  switch (holding) {
    case "Exiting":
      await p.registry.connect(p.gateway).requestExit();
      break;
    case "suspended":
      await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
      break;
    case "suspended, then Exiting":
      await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
      await p.registry.connect(p.gateway).requestExit();
      break;
    case "Exited":
      await exitGateway(p);
      break;
    case "registry refuses":
      await p.registry.connect(p.admin).revokeRole(await p.registry.ESCROW_ROLE(), await p.escrow.getAddress());
      break;
  }
  const before = await openDisputes(p);
  const tx = await p.escrow.connect(c.payer).dispute(c.deal);
  const held = holding === "held";
  await expect(tx).to.emit(p.escrow, "DealDisputed").withArgs(c.id, c.payer.address, held);
  expect(await openDisputes(p)).to.equal(before + (held ? 1n : 0n));
  await expectRecord(c, Status.Disputed, await tsOf(tx), held ? Flags.GatewayHolds : 0);
  return { ...c, background };
}

/*//////////////////////////////////////////////////////////////
                         SHARED BEHAVIOURS
//////////////////////////////////////////////////////////////*/

/** A call on a deal, as the shared behaviours exercise it: where it works and how it is made. */
export interface Subject {
  /** The state from which the call works when made by `by`. */
  state: State;
  over?: Partial<Deal>;
  /** Brings a deal in `state` to the moment the call works (past a deadline or window). */
  prepare?: (c: Ctx) => Promise<void>;
  /** Who makes (or signs) the call that works. */
  by: (c: Ctx) => HardhatEthersSigner;
  /** The kinds the call applies to (all by default; Claim: payments only). */
  kinds?: KindName[];
  /** Makes the call on `deal` as `who`: its sender, or its signer for a call by signature. */
  call: (c: Ctx, deal: DealOut, who: HardhatEthersSigner) => Promise<ContractTransactionResponse>;
}

async function setupSubject(s: Subject, kind: KindName = "Payment"): Promise<Ctx> {
  return setup(kind, s.state, s.over);
}

/** Every call on a deal checks the deal's parameters against the commitment stored at open. */
export function behavesLikeACallOnAKnownDeal(s: Subject): void {
  it("when a parameter differs from the opened deal (amount + 1) → it reverts EscrowUnknownDeal; the deal itself works", async function () {
    const c = await setupSubject(s);
    if (s.prepare) await s.prepare(c);
    const tampered = { ...c.deal, amount: c.deal.amount + 1n };
    await expect(s.call(c, tampered, s.by(c)))
      .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
      .withArgs(c.id);
    await expect(s.call(c, c.deal, s.by(c))).not.to.be.reverted;
  });

  it("when the deal was never opened → it reverts EscrowUnknownDeal", async function () {
    const c = await setupSubject(s);
    if (s.prepare) await s.prepare(c);
    const unknown = await makeDeal(c.p, { ...s.over, deadline: c.deal.deadline });
    await expect(s.call(c, unknown, s.by(c)))
      .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
      .withArgs(dealIdOf(unknown));
  });
}

/** Only `party` may make the call: everyone in `strangers` reverts EscrowUnauthorized(dealId, them), any kind. */
export function behavesLikeACallReservedTo(
  s: Subject,
  party: string,
  strangers: { names: string; of: (c: Ctx) => HardhatEthersSigner[] },
  role: "caller" | "signer" = "caller",
): void {
  for (const kind of s.kinds ?? KINDS) {
    it(`${kind}: when the ${role} is not the ${party} (${strangers.names}) → it reverts EscrowUnauthorized`, async function () {
      const c = await setupSubject(s, kind);
      if (s.prepare) await s.prepare(c);
      for (const who of strangers.of(c)) {
        await expect(s.call(c, c.deal, who))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, who.address);
      }
      await expect(s.call(c, c.deal, s.by(c))).not.to.be.reverted;
    });
  }
}

/** A party's call on a deal checks, before it acts, the deal against its commitment and then its caller. */
export function behavesLikeAPartysCall(
  s: Subject,
  party: string,
  strangers: { names: string; of: (c: Ctx) => HardhatEthersSigner[] },
): void {
  behavesLikeACallOnAKnownDeal(s);
  behavesLikeACallReservedTo(s, party, strangers);
}

/** The call reverts EscrowWrongStatus(dealId, status) from each of `states`, made by the party who may make it. */
export function behavesLikeACallRefusedFrom(
  s: Subject,
  states: State[],
  label: (st: State) => string = (st) => st,
): void {
  for (const state of states) {
    it(`when the deal is ${label(state)} → it reverts EscrowWrongStatus(${state === "OpenReleased" ? "Open" : state})`, async function () {
      const c = await setup("Payment", state, s.over);
      if (s.prepare) await s.prepare(c);
      await expect(s.call(c, c.deal, s.by(c)))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
        .withArgs(c.id, STATUS_OF[state]);
    });
  }
}

/**
 * A call of the payee's that waits out the payer's release window of a performed deal: while the window runs it
 * reverts EscrowReleaseWindowOpen(dealId, since + releaseWindow), right after perform (`soon` says when, on a deal of
 * `kind`) and at the window's last second.
 */
export function behavesLikeACallAfterTheReleaseWindow(s: Subject, soon: string, kind: KindName = "Payment"): void {
  it(`when the release window has not ended (${soon}) → it reverts EscrowReleaseWindowOpen(dealId, since + releaseWindow)`, async function () {
    const c = await setup(kind, "Performed", s.over);
    await expect(s.call(c, c.deal, s.by(c)))
      .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
      .withArgs(c.id, await releaseWindowEnd(c));
  });

  it("when the release window has not ended (at exactly since + releaseWindow) → it reverts EscrowReleaseWindowOpen", async function () {
    const { c, endsAt } = await atReleaseWindowEnd("Payment", 0n, s.over);
    await expect(s.call(c, c.deal, s.by(c)))
      .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
      .withArgs(c.id, endsAt);
  });
}

export const finalLabel = (st: State) => `final (${st})`;

export const payeeStrangers = {
  names: "payer, gateway, arbiter, lock delegate, anyone",
  of: (c: Ctx) => [c.payer, c.p.gateway, c.p.arbiter, c.p.delegate, c.p.other],
};
export const payerStrangers = {
  names: "payee, gateway, arbiter, lock delegate, anyone",
  of: (c: Ctx) => [c.payee, c.p.gateway, c.p.arbiter, c.p.delegate, c.p.other],
};
export const partyStrangers = {
  names: "gateway, arbiter, governor, lock delegate, anyone",
  of: (c: Ctx) => [c.p.gateway, c.p.arbiter, c.p.governor, c.p.delegate, c.p.other],
};

export const afterReleaseWindow = async (c: Ctx) => {
  await time.increase(Number(c.deal.releaseWindow) + 1);
};

export const performSubject: Subject = {
  state: "Open",
  by: (c) => c.payee,
  call: (c, d, who) => c.p.escrow.connect(who).perform(d),
};
export const releaseSubject: Subject = {
  state: "Performed",
  by: (c) => c.payer,
  call: (c, d, who) => c.p.escrow.connect(who).release(d),
};
export const cancelSubject: Subject = {
  state: "Open",
  by: (c) => c.payee,
  call: (c, d, who) => c.p.escrow.connect(who).cancel(d),
};
export const disputeSubject = (by: "payer" | "payee"): Subject => ({
  state: "Performed",
  prepare: by === "payee" ? afterReleaseWindow : undefined,
  by: (c) => c[by],
  call: (c, d, who) => c.p.escrow.connect(who).dispute(d),
});
export const claimSubject: Subject = {
  state: "Performed",
  over: { autoRelease: true },
  kinds: ["Payment"],
  prepare: afterReleaseWindow,
  by: (c) => c.payee,
  call: (c, d, who) => c.p.escrow.connect(who).claim(d),
};
export const refundSubject: Subject = {
  state: "Open",
  prepare: async (c) => {
    await time.increaseTo(c.deal.deadline + 1n);
  },
  by: (c) => c.p.other,
  call: (c, d, who) => c.p.escrow.connect(who).refund(d),
};
export const actSubject = (
  action: number,
  party: "payer" | "payee",
  state: State,
  prepare?: Subject["prepare"],
): Subject => ({
  state,
  over: action === Action.Claim ? { autoRelease: true } : undefined,
  kinds: action === Action.Claim ? ["Payment"] : undefined,
  prepare,
  by: (c) => c[party],
  call: (c, d, who) => act(c, action, who, undefined, d),
});
/** A party of a deal and the action it signs. */
type Signed = { party: "payer" | "payee"; action: number };

/** A call that takes both parties' signatures, and who signs which action, in the call's argument order. */
export interface BothSigned {
  fn: "settleWithSigs" | "cancelWithSigs";
  signers: [Signed, Signed];
}

/** settleWithSigs: the payee's Perform, then the payer's Release. */
export const SETTLE: BothSigned = {
  fn: "settleWithSigs",
  signers: [
    { party: "payee", action: Action.Perform },
    { party: "payer", action: Action.Release },
  ],
};

/** cancelWithSigs: the payer's Cancel, then the payee's Cancel. */
export const MUTUAL_CANCEL: BothSigned = {
  fn: "cancelWithSigs",
  signers: [
    { party: "payer", action: Action.Cancel },
    { party: "payee", action: Action.Cancel },
  ],
};

/** Both parties' signatures for `call` over `deal`, in argument order; 30 days unless `expiries` are given. */
export async function signBoth(
  call: BothSigned,
  c: Ctx,
  deal: DealOut = c.deal,
  expiries: bigint[] = [],
): Promise<[Auth, Auth]> {
  const [a, b] = call.signers;
  const id = dealIdOf(deal);
  return [
    await signAction(c.p.escrow, c[a.party], id, a.action, expiries[0] ?? (await longExpiry())),
    await signAction(c.p.escrow, c[b.party], id, b.action, expiries[1] ?? (await longExpiry())),
  ];
}

/** Submits `call` over `deal` with `auths`, sent by `from` (a stranger unless told). */
export function sendBoth(
  call: BothSigned,
  c: Ctx,
  auths: [Auth, Auth],
  deal: DealOut = c.deal,
  from: HardhatEthersSigner = c.p.other,
): Promise<ContractTransactionResponse> {
  return c.p.escrow.connect(from)[call.fn](deal, auths[0], auths[1]);
}

/** A run of `call` with both parties' fresh signatures, sent by a stranger. */
export const byBoth = (call: BothSigned, c: Ctx) => async () => sendBoth(call, c, await signBoth(call, c));

/** `call` as a Subject: both parties' fresh signatures, submitted by anyone. */
export const bothSignedSubject = (call: BothSigned): Subject => ({
  state: "Open",
  by: (c) => c.p.other,
  call: async (c, d, who) => sendBoth(call, c, await signBoth(call, c, d), d, who),
});
export const resolveSubject: Subject = {
  state: "Disputed",
  by: (c) => c.p.gateway,
  call: (c, d, who) => c.p.escrow.connect(who).resolve(d, d.amount / 2n, REASONS),
};

/*//////////////////////////////////////////////////////////////
                WALLETS, STRUCT HASHES, TRACES, FLOATS
//////////////////////////////////////////////////////////////*/

/** Deploys an ERC-1271 wallet whose owner is `owner` (it accepts exactly the owner's signatures). */
export async function deployWallet(owner: HardhatEthersSigner): Promise<ERC1271Wallet> {
  const f = await ethers.getContractFactory("ERC1271Wallet");
  return (await f.deploy(owner.address)) as unknown as ERC1271Wallet;
}

/** The EIP-712 struct hash of DealAction(dealId, action, expiry). */
export function actionStructHash(dealId: string, action: number, expiry: bigint): string {
  return ethers.TypedDataEncoder.hashStruct(
    "DealAction",
    {
      DealAction: [
        { name: "dealId", type: "bytes32" },
        { name: "action", type: "uint8" },
        { name: "expiry", type: "uint256" },
      ],
    },
    { dealId, action, expiry },
  );
}

/**
 * The call opcodes (CALL, STATICCALL, DELEGATECALL, CALLCODE) that target `target` when `p.other` sends `data` to
 * the escrow, from the node's opcode trace of the call.
 */
export async function callsTo(p: Protocol, data: string, target: string): Promise<string[]> {
  const trace = (await network.provider.request({
    method: "debug_traceCall",
    params: [{ from: p.other.address, to: await p.escrow.getAddress(), data }, "latest"],
  })) as { structLogs: { op: string; stack: string[] }[] };
  const want = target.toLowerCase().slice(2);
  return trace.structLogs
    .filter((l) => ["CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"].includes(l.op))
    .filter((l) => l.stack[l.stack.length - 2].toLowerCase().endsWith(want))
    .map((l) => l.op);
}

/** An acceptor's float as [free, locked]. */
export async function floatOf(p: Protocol, token: string): Promise<[bigint, bigint]> {
  const f = await p.escrow.floatOf(p.acceptor.address, token);
  return [f.free, f.locked];
}
