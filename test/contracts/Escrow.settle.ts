import { expect } from "chai";
import { ethers, network } from "hardhat";
import { takeSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyUint } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionResponse } from "ethers";
import type { ERC1271Wallet } from "../../typechain-types";
import {
  reachState,
  Action,
  DAY,
  DEAL_TYPE,
  Flags,
  GATEWAY_FEE_BPS,
  GatewayStatus,
  HOUR,
  Kind,
  MAX_DELEGATE_LOCK_DURATION,
  MAX_DELEGATE_RELEASE_WINDOW,
  PAYOUT_GAS,
  REGISTRY_HOOK_GAS,
  RefundReason,
  RELEASE_WINDOW,
  RESOLUTION_WINDOW,
  Status,
  UNBONDING_DELAY,
  USDT,
  dealIdOf,
  depositFloat,
  deployProtocol,
  feeOf,
  makeDeal,
  nextDelegateSalt,
  signAction,
  type Deal,
  type DealOut,
  type Protocol,
  loadFixture,
  KINDS,
  openKind,
  type DealCtx,
  type KindName,
} from "./fixtures";

/*//////////////////////////////////////////////////////////////
                        FIXTURE AND HELPERS
//////////////////////////////////////////////////////////////*/

/** Free float the acceptor holds in every test, enough for the on-ramp deals opened below. */
const FLOAT = USDT(10_000);
/** Default deal amount (makeDeal). */
const AMOUNT = USDT(100);
/** Reasons hash a ruling carries into DealResolved. */
const REASONS = ethers.id("ruling: goods delivered late, 60% to the payee");
/** Gas a bounded call needs left before it starts: the call's gas, EIP-150's 1/64 and the escrow's overhead. */
const requiredGas = (callGas: number): bigint => BigInt(callGas + Math.floor(callGas / 63) + 5_000);

/** The shared protocol plus a USDT float deposited by the acceptor. */
async function protocolWithFloat(): Promise<Protocol> {
  const p = await deployProtocol();
  await depositFloat(p, FLOAT);
  return p;
}

type Ctx = DealCtx<Protocol>;

/** Locks an on-ramp deal from the acceptor's float by its lock delegate (a salt with the delegate prefix). */
async function delegateLock(p: Protocol, over: Partial<Deal> = {}): Promise<Ctx> {
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

type State = "Open" | "OpenReleased" | "Performed" | "Disputed" | "Released" | "Refunded" | "Resolved" | "Split";
const STATUS_OF: Record<State, number> = {
  Open: Status.Open,
  OpenReleased: Status.Open,
  Performed: Status.Performed,
  Disputed: Status.Disputed,
  Released: Status.Released,
  Refunded: Status.Refunded,
  Resolved: Status.Resolved,
  Split: Status.Split,
};
const FINAL_STATES: State[] = ["Released", "Refunded", "Resolved", "Split"];

/** Drives an open deal to `state` (fixtures' reachState, rulings carrying this file's REASONS). */
const reach = (c: Ctx, state: State): Promise<void> => reachState(c, state, REASONS);

/** Loads the fixture, opens a deal of `kind` and drives it to `state`. */
async function setup(kind: KindName = "Payment", state: State = "Open", over: Partial<Deal> = {}): Promise<Ctx> {
  const p = await loadFixture(protocolWithFloat);
  const c = await openKind(p, kind, over);
  await reach(c, state);
  return c;
}

/** Timestamp of the block that mined `tx`. */
async function tsOf(tx: ContractTransactionResponse): Promise<bigint> {
  const rc = await tx.wait();
  const block = await ethers.provider.getBlock(rc!.blockNumber);
  return BigInt(block!.timestamp);
}

/** Names of the escrow's events in `tx`, in log order. */
async function escrowEventNames(p: Protocol, tx: ContractTransactionResponse): Promise<string[]> {
  const rc = await tx.wait();
  const addr = (await p.escrow.getAddress()).toLowerCase();
  return rc!.logs.filter((l) => l.address.toLowerCase() === addr).map((l) => p.escrow.interface.parseLog(l)!.name);
}

/** The first 25 bytes of the deal's EIP-712 struct hash, computed off-chain. */
function commitmentOf(deal: DealOut): string {
  return ethers.dataSlice(ethers.TypedDataEncoder.hashStruct("Deal", { Deal: DEAL_TYPE }, deal), 0, 25);
}

/** Asserts the stored record of `c`'s deal. */
async function expectRecord(c: Ctx, status: number, since: bigint, flags = 0): Promise<void> {
  const r = await c.p.escrow.getDeal(c.id);
  expect(r.status, "status").to.equal(status);
  expect(r.since, "since").to.equal(since);
  expect(r.flags, "flags").to.equal(flags);
  expect(r.commitment.toLowerCase()).to.equal(commitmentOf(c.deal).toLowerCase());
}

async function statusOf(c: Ctx): Promise<bigint> {
  return (await c.p.escrow.getDeal(c.id)).status;
}

async function openDisputes(p: Protocol, gw = p.gateway.address): Promise<bigint> {
  return (await p.registry.getGateway(gw)).openDisputes;
}

/** Balances and escrow books that a settlement may touch. */
async function books(c: Ctx) {
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

interface Payout {
  payeeNet: bigint;
  fee: bigint;
  refund: bigint;
}

/**
 * Runs a settling call and checks every leg: the payee's wallet gets `payeeNet`, the fee is owed to the gateway,
 * the refund goes to the payer's wallet (or the acceptor's free float for OnRamp, whose locked float drops by the
 * amount), nobody else is paid, no payout is deferred, and the record is `status` since the tx's block.
 */
async function expectSettlement(
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
function releasePayout(c: Ctx): Payout {
  const fee = feeOf(c.deal.amount, c.deal.feeBps);
  return { payeeNet: c.deal.amount - fee, fee, refund: 0n };
}

/** The full refund of `c`. */
function refundPayout(c: Ctx): Payout {
  return { payeeNet: 0n, fee: 0n, refund: c.deal.amount };
}

/** A ruling by the gateway: `payeeAmount` less the fee to the payee, the rest back. */
function gatewayRuling(c: Ctx, payeeAmount: bigint): Payout {
  const fee = feeOf(payeeAmount, c.deal.feeBps);
  return { payeeNet: payeeAmount - fee, fee, refund: c.deal.amount - payeeAmount };
}

/** A ruling by the arbiter: no fee. */
function arbiterRuling(c: Ctx, payeeAmount: bigint): Payout {
  return { payeeNet: payeeAmount, fee: 0n, refund: c.deal.amount - payeeAmount };
}

/** Asserts that nothing moved: balances, float and owed unchanged since `before`. */
async function expectUntouched(c: Ctx, before: Awaited<ReturnType<typeof books>>): Promise<void> {
  expect(await books(c)).to.deep.equal(before);
}

/** Signatures in these tests last 30 days unless a test gives the expiry (windows and deadlines are days long). */
async function longExpiry(): Promise<bigint> {
  return BigInt((await time.latest()) + 30 * DAY);
}

async function sign(c: Ctx, signer: HardhatEthersSigner, action: number, expiry?: bigint) {
  return signAction(c.p.escrow, signer, c.id, action, expiry ?? (await longExpiry()));
}

/** actWithSig submitted by `p.other` for `signer`, with `signer`'s own signature unless `auth` is given. */
async function act(
  c: Ctx,
  action: number,
  signer: HardhatEthersSigner,
  auth?: Awaited<ReturnType<typeof sign>>,
  deal: DealOut = c.deal,
): Promise<ContractTransactionResponse> {
  const a = auth ?? (await signAction(c.p.escrow, signer, dealIdOf(deal), action, await longExpiry()));
  return c.p.escrow.connect(c.p.other).actWithSig(deal, action, signer.address, a);
}

async function now(): Promise<bigint> {
  return BigInt(await time.latest());
}

/** The end of the payer's release window of a performed deal. */
async function releaseWindowEnd(c: Ctx): Promise<bigint> {
  return (await c.p.escrow.getDeal(c.id)).since + c.deal.releaseWindow;
}

/** The end of the gateway's resolution window of a disputed deal. */
async function resolutionEnd(c: Ctx): Promise<bigint> {
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
type Holding = "held" | "Exiting" | "suspended" | "suspended, then Exiting" | "Exited" | "registry refuses";
const NOT_HELD: Holding[] = ["Exiting", "suspended", "suspended, then Exiting", "Exited", "registry refuses"];

/**
 * Opens a deal of `kind` (deadline in 30 days, so the gateway can exit before it), has the payee perform, brings
 * the gateway or the registry into `holding` and has the payer dispute. Where the gateway can still hold disputes
 * at first, a second deal is disputed beforehand (held), so its counter is 1 and any wrong decrement shows.
 */
async function disputeWith(holding: Holding, kind: KindName = "Payment"): Promise<Ctx & { background: boolean }> {
  const p = await loadFixture(protocolWithFloat);
  const deadline = BigInt((await time.latest()) + 30 * DAY);
  const c = await openKind(p, kind, { deadline });
  await reach(c, "Performed");
  let background = false;
  if (holding !== "held" && holding !== "Exited") {
    const b = await openKind(p, "Payment", { deadline });
    await reach(b, "Disputed");
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

/** A call on a deal, as the tests below exercise it: where it works and how it is made. */
interface Subject {
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
function behavesLikeACallOnAKnownDeal(s: Subject): void {
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
function behavesLikeACallReservedTo(
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

/** The call reverts EscrowWrongStatus(dealId, status) from each of `states`, made by the party who may make it. */
function behavesLikeACallRefusedFrom(s: Subject, states: State[], label: (st: State) => string = (st) => st): void {
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

const finalLabel = (st: State) => `final (${st})`;

const payeeStrangers = {
  names: "payer, gateway, arbiter, lock delegate, anyone",
  of: (c: Ctx) => [c.payer, c.p.gateway, c.p.arbiter, c.p.delegate, c.p.other],
};
const payerStrangers = {
  names: "payee, gateway, arbiter, lock delegate, anyone",
  of: (c: Ctx) => [c.payee, c.p.gateway, c.p.arbiter, c.p.delegate, c.p.other],
};
const partyStrangers = {
  names: "gateway, arbiter, governor, lock delegate, anyone",
  of: (c: Ctx) => [c.p.gateway, c.p.arbiter, c.p.governor, c.p.delegate, c.p.other],
};

const afterReleaseWindow = async (c: Ctx) => {
  await time.increase(Number(c.deal.releaseWindow) + 1);
};

const performSubject: Subject = {
  state: "Open",
  by: (c) => c.payee,
  call: (c, d, who) => c.p.escrow.connect(who).perform(d),
};
const releaseSubject: Subject = {
  state: "Performed",
  by: (c) => c.payer,
  call: (c, d, who) => c.p.escrow.connect(who).release(d),
};
const cancelSubject: Subject = {
  state: "Open",
  by: (c) => c.payee,
  call: (c, d, who) => c.p.escrow.connect(who).cancel(d),
};
const disputeSubject = (by: "payer" | "payee"): Subject => ({
  state: "Performed",
  prepare: by === "payee" ? afterReleaseWindow : undefined,
  by: (c) => c[by],
  call: (c, d, who) => c.p.escrow.connect(who).dispute(d),
});
const claimSubject: Subject = {
  state: "Performed",
  over: { autoRelease: true },
  kinds: ["Payment"],
  prepare: afterReleaseWindow,
  by: (c) => c.payee,
  call: (c, d, who) => c.p.escrow.connect(who).claim(d),
};
const refundSubject: Subject = {
  state: "Open",
  prepare: async (c) => {
    await time.increaseTo(c.deal.deadline + 1n);
  },
  by: (c) => c.p.other,
  call: (c, d, who) => c.p.escrow.connect(who).refund(d),
};
const actSubject = (action: number, party: "payer" | "payee", state: State, prepare?: Subject["prepare"]): Subject => ({
  state,
  over: action === Action.Claim ? { autoRelease: true } : undefined,
  kinds: action === Action.Claim ? ["Payment"] : undefined,
  prepare,
  by: (c) => c[party],
  call: (c, d, who) => act(c, action, who, undefined, d),
});
const settleSubject: Subject = {
  state: "Open",
  by: (c) => c.p.other,
  call: async (c, d, who) =>
    c.p.escrow
      .connect(who)
      .settleWithSigs(
        d,
        await signAction(c.p.escrow, c.payee, dealIdOf(d), Action.Perform),
        await signAction(c.p.escrow, c.payer, dealIdOf(d), Action.Release),
      ),
};
const cancelSigsSubject: Subject = {
  state: "Open",
  by: (c) => c.p.other,
  call: async (c, d, who) =>
    c.p.escrow
      .connect(who)
      .cancelWithSigs(
        d,
        await signAction(c.p.escrow, c.payer, dealIdOf(d), Action.Cancel),
        await signAction(c.p.escrow, c.payee, dealIdOf(d), Action.Cancel),
      ),
};
const resolveSubject: Subject = {
  state: "Disputed",
  by: (c) => c.p.gateway,
  call: (c, d, who) => c.p.escrow.connect(who).resolve(d, d.amount / 2n, REASONS),
};

/*//////////////////////////////////////////////////////////////
                              TESTS
//////////////////////////////////////////////////////////////*/

describe("Escrow — after open (state machine)", function () {
  /*------------------------------------------------------------
                    Common: the deal's parameters
  ------------------------------------------------------------*/
  describe("every deal call checks the deal against its commitment", function () {
    describe("each parameter is bound (release of a performed deal)", function () {
      const mutations: { field: string; mutate: (c: Ctx) => Promise<DealOut> }[] = [
        { field: "payee", mutate: async (c) => ({ ...c.deal, payee: c.p.other.address }) },
        { field: "gateway", mutate: async (c) => ({ ...c.deal, gateway: c.p.gateway2.address }) },
        { field: "token", mutate: async (c) => ({ ...c.deal, token: await c.p.dai.getAddress() }) },
        { field: "amount", mutate: async (c) => ({ ...c.deal, amount: c.deal.amount - 1n }) },
        { field: "deadline", mutate: async (c) => ({ ...c.deal, deadline: c.deal.deadline + 1n }) },
        { field: "releaseWindow", mutate: async (c) => ({ ...c.deal, releaseWindow: c.deal.releaseWindow + 1n }) },
        { field: "feeBps", mutate: async (c) => ({ ...c.deal, feeBps: 0n }) },
        { field: "kind", mutate: async (c) => ({ ...c.deal, kind: BigInt(Kind.OffRamp) }) },
        { field: "autoRelease", mutate: async (c) => ({ ...c.deal, autoRelease: true }) },
      ];
      for (const m of mutations) {
        it(`when ${m.field} differs → it reverts EscrowUnknownDeal`, async function () {
          const c = await setup("Payment", "Performed");
          const d = await m.mutate(c);
          await expect(c.p.escrow.connect(c.payer).release(d))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
            .withArgs(c.id);
        });
      }

      it("when the salt differs → it reverts EscrowUnknownDeal (for the other id)", async function () {
        const c = await setup("Payment", "Performed");
        const d = { ...c.deal, salt: ethers.id("another salt") };
        await expect(c.p.escrow.connect(c.payer).release(d))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
          .withArgs(dealIdOf(d));
      });
    });
  });

  /*------------------------------------------------------------
                              perform
  ------------------------------------------------------------*/
  describe("perform", function () {
    behavesLikeACallOnAKnownDeal(performSubject);
    behavesLikeACallReservedTo(performSubject, "payee", payeeStrangers);

    describe("when the caller is the payee", function () {
      behavesLikeACallRefusedFrom(performSubject, ["Performed", "Disputed"]);
      behavesLikeACallRefusedFrom(performSubject, FINAL_STATES, finalLabel);

      describe("when the deal is Open", function () {
        it("when the deadline has passed → it reverts EscrowDeadlinePassed", async function () {
          const c = await setup();
          await time.setNextBlockTimestamp(c.deal.deadline + 1n);
          await expect(c.p.escrow.connect(c.payee).perform(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
            .withArgs(c.id, c.deal.deadline);
        });

        it("when the deadline has passed → it reverts EscrowDeadlinePassed, even when the payer released first", async function () {
          const c = await setup("Payment", "OpenReleased");
          await time.setNextBlockTimestamp(c.deal.deadline + 1n);
          await expect(c.p.escrow.connect(c.payee).perform(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
            .withArgs(c.id, c.deal.deadline);
        });

        describe("when the deadline has not passed (up to and at it)", function () {
          for (const kind of KINDS) {
            it(`${kind}: when the payer has not released → Performed; DealPerformed; no funds move`, async function () {
              const c = await setup(kind);
              const before = await books(c);
              const tx = await c.p.escrow.connect(c.payee).perform(c.deal);
              await expect(tx).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
              expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealPerformed"]);
              await expectRecord(c, Status.Performed, await tsOf(tx));
              await expectUntouched(c, before);
            });

            it(`${kind}: when the payer released first → Released at once; DealPerformed then DealReleased; the payee gets the amount less the fee, the fee is owed to the gateway`, async function () {
              const c = await setup(kind, "OpenReleased");
              const tx = await expectSettlement(
                c,
                () => c.p.escrow.connect(c.payee).perform(c.deal),
                releasePayout(c),
                Status.Released,
              );
              await expect(tx).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
              await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
              expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealPerformed", "DealReleased"]);
            });
          }

          it("at exactly the deadline → Performed", async function () {
            const c = await setup();
            await time.setNextBlockTimestamp(c.deal.deadline);
            const tx = await c.p.escrow.connect(c.payee).perform(c.deal);
            expect(await tsOf(tx)).to.equal(c.deal.deadline);
            await expectRecord(c, Status.Performed, c.deal.deadline);
          });

          it("when the registry is paused → it performs all the same", async function () {
            const c = await setup();
            await c.p.registry.connect(c.p.pauser).pause();
            await expect(c.p.escrow.connect(c.payee).perform(c.deal))
              .to.emit(c.p.escrow, "DealPerformed")
              .withArgs(c.id);
          });
        });
      });
    });
  });

  /*------------------------------------------------------------
                              release
  ------------------------------------------------------------*/
  describe("release", function () {
    behavesLikeACallOnAKnownDeal(releaseSubject);
    behavesLikeACallReservedTo(releaseSubject, "payer", payerStrangers);

    describe("when the caller is the payer", function () {
      behavesLikeACallRefusedFrom(releaseSubject, FINAL_STATES, finalLabel);

      describe("when the deal is Open", function () {
        it("when the payer already released → it reverts EscrowWrongStatus(Open)", async function () {
          const c = await setup("Payment", "OpenReleased");
          await expect(c.p.escrow.connect(c.payer).release(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, Status.Open);
        });

        for (const kind of KINDS) {
          it(`${kind}: when the payer has not released → stays Open with flags PayerReleased; DealReleaseApproved; no funds move`, async function () {
            const c = await setup(kind);
            const openedAt = (await c.p.escrow.getDeal(c.id)).since;
            const before = await books(c);
            const tx = await c.p.escrow.connect(c.payer).release(c.deal);
            await expect(tx).to.emit(c.p.escrow, "DealReleaseApproved").withArgs(c.id);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleaseApproved"]);
            await expectRecord(c, Status.Open, openedAt, Flags.PayerReleased);
            await expectUntouched(c, before);
          });
        }

        it("early release, twice, then perform: the second release reverts EscrowWrongStatus(Open); perform pays at once", async function () {
          const c = await setup("OffRamp");
          await c.p.escrow.connect(c.payer).release(c.deal);
          await expect(c.p.escrow.connect(c.payer).release(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, Status.Open);
          await expectSettlement(
            c,
            () => c.p.escrow.connect(c.payee).perform(c.deal),
            releasePayout(c),
            Status.Released,
          );
        });

        it("an approved open deal: the payee can still cancel (payer refunded)", async function () {
          const c = await setup("Payment", "OpenReleased");
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.payee).cancel(c.deal),
            refundPayout(c),
            Status.Refunded,
          );
          await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.PayeeCancel);
        });
      });

      describe("when the deal is Performed → Released; DealReleased(dealId); the payee gets the amount less the fee (rounded down), the fee is owed to the gateway", function () {
        for (const kind of KINDS) {
          it(`${kind}: Performed → Released, the payee gets 99.5, 0.5 owed to the gateway, DealReleased(dealId)`, async function () {
            const c = await setup(kind, "Performed");
            const pay = releasePayout(c);
            expect(pay.fee).to.equal(USDT("0.5"));
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.payer).release(c.deal),
              pay,
              Status.Released,
            );
            await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased"]);
          });
        }

        it("rounds the fee down (amount 100.000199 USDT at 50 bps → fee 0.5 USDT)", async function () {
          const c = await setup("Payment", "Performed", { amount: 100_000_199n });
          await expectSettlement(
            c,
            () => c.p.escrow.connect(c.payer).release(c.deal),
            { payeeNet: 99_500_199n, fee: 500_000n, refund: 0n },
            Status.Released,
          );
        });

        it("charges no fee when it rounds to zero (amount 199 base units)", async function () {
          const c = await setup("Payment", "Performed", { amount: 199n });
          await expectSettlement(
            c,
            () => c.p.escrow.connect(c.payer).release(c.deal),
            { payeeNet: 199n, fee: 0n, refund: 0n },
            Status.Released,
          );
        });

        it("fees accumulate in owed for the gateway across deals", async function () {
          const c1 = await setup("Payment", "Performed");
          const c2 = await openKind(c1.p, "OnRamp");
          await reach(c2, "Performed");
          await c1.p.escrow.connect(c1.payer).release(c1.deal);
          await c2.p.escrow.connect(c2.payer).release(c2.deal);
          expect(await c1.p.escrow.owed(c1.deal.token, c1.p.gateway.address)).to.equal(
            2n * feeOf(AMOUNT, GATEWAY_FEE_BPS),
          );
        });

        it("when the gateway is suspended → the gateway still earns the fee", async function () {
          const c = await setup("Payment", "Performed");
          await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
          expect((await c.p.registry.getGateway(c.p.gateway.address)).suspended).to.equal(true);
          await expectSettlement(
            c,
            () => c.p.escrow.connect(c.payer).release(c.deal),
            releasePayout(c),
            Status.Released,
          );
        });

        it("when the registry is paused → it releases all the same", async function () {
          const c = await setup("Payment", "Performed");
          await c.p.registry.connect(c.p.pauser).pause();
          await expectSettlement(
            c,
            () => c.p.escrow.connect(c.payer).release(c.deal),
            releasePayout(c),
            Status.Released,
          );
        });
      });

      describe("when the deal is Disputed (the payer gives in)", function () {
        for (const kind of KINDS) {
          it(`${kind}: when the gateway holds the dispute → Released; the payee gets the amount less the fee; the gateway's open disputes fall by one`, async function () {
            const c = await setup(kind, "Disputed");
            expect(await openDisputes(c.p)).to.equal(1n);
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.payer).release(c.deal),
              releasePayout(c),
              Status.Released,
            );
            await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
            await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
            expect(await openDisputes(c.p)).to.equal(0n);
          });
        }

        it("when the gateway holds the dispute and the registry refuses to uncount it → DisputeCountSkipped(opened false); Released all the same", async function () {
          const c = await setup("Payment", "Disputed");
          await c.p.registry
            .connect(c.p.admin)
            .revokeRole(await c.p.registry.ESCROW_ROLE(), await c.p.escrow.getAddress());
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.payer).release(c.deal),
            releasePayout(c),
            Status.Released,
          );
          await expect(tx).to.emit(c.p.escrow, "DisputeCountSkipped").withArgs(c.id, c.p.gateway.address, false);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased", "DisputeCountSkipped"]);
          expect(await openDisputes(c.p), "the counter drifted: the audit reports it").to.equal(1n);
        });

        it("when the gateway does not hold it (raised while suspended) → Released; the counter is unchanged", async function () {
          const c = await disputeWith("suspended");
          expect(await openDisputes(c.p)).to.equal(1n);
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.payer).release(c.deal),
            releasePayout(c),
            Status.Released,
          );
          await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
          await expect(tx).not.to.emit(c.p.escrow, "DisputeCountSkipped");
          expect(await openDisputes(c.p)).to.equal(1n);
        });
      });
    });

    describe("the payout (every settling call)", function () {
      it("when the payee is blacklisted by USDT → the payee still receives its payout (frozen in its wallet by the token)", async function () {
        const c = await setup("Payment", "Performed");
        await c.p.usdt.connect(c.p.admin).addBlackList(c.payee.address);
        await expectSettlement(c, () => c.p.escrow.connect(c.payer).release(c.deal), releasePayout(c), Status.Released);
        expect(await c.p.usdt.isBlackListed(c.payee.address)).to.equal(true);
      });

      it("when the payer is blacklisted by USDT → a cancel still refunds it", async function () {
        const c = await setup("Payment", "Performed");
        await c.p.usdt.connect(c.p.admin).addBlackList(c.payer.address);
        await expectSettlement(c, () => c.p.escrow.connect(c.payee).cancel(c.deal), refundPayout(c), Status.Refunded);
      });

      it("when USDT is paused → the payout is owed (PayoutDeferred), the deal is final; claimOwed pays once unpaused", async function () {
        const c = await setup("Payment", "Performed");
        const { payeeNet, fee } = releasePayout(c);
        await c.p.usdt.connect(c.p.admin).pause();
        const before = await books(c);
        const tx = await c.p.escrow.connect(c.payer).release(c.deal);
        await expect(tx).to.emit(c.p.escrow, "PayoutDeferred").withArgs(c.id, c.deal.token, c.payee.address, payeeNet);
        expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased", "PayoutDeferred"]);
        await expectRecord(c, Status.Released, await tsOf(tx));
        const after = await books(c);
        expect(after.payee).to.equal(before.payee);
        expect(after.escrow).to.equal(before.escrow);
        expect(after.owedPayee - before.owedPayee).to.equal(payeeNet);
        expect(after.owedGateway - before.owedGateway).to.equal(fee);

        await expect(c.p.escrow.connect(c.p.other).claimOwed(c.deal.token, c.payee.address)).to.be.reverted;
        await c.p.usdt.connect(c.p.admin).unpause();
        const claimed = await c.p.escrow.connect(c.p.other).claimOwed(c.deal.token, c.payee.address);
        await expect(claimed).to.emit(c.p.escrow, "OwedClaimed").withArgs(c.deal.token, c.payee.address, payeeNet);
        await expect(claimed).to.changeTokenBalances(c.p.usdt, [c.payee, c.p.escrow], [payeeNet, -payeeNet]);
        expect(await c.p.escrow.owed(c.deal.token, c.payee.address)).to.equal(0n);
      });

      it("when the escrow is blacklisted by USDT → every payout is owed (payee's release, payer's refund), the deals are final", async function () {
        const c = await setup("Payment", "Performed");
        const c2 = await openKind(c.p, "Payment");
        await c.p.usdt.connect(c.p.admin).addBlackList(await c.p.escrow.getAddress());
        const { payeeNet } = releasePayout(c);
        const tx = await c.p.escrow.connect(c.payer).release(c.deal);
        await expect(tx).to.emit(c.p.escrow, "PayoutDeferred").withArgs(c.id, c.deal.token, c.payee.address, payeeNet);
        await expect(tx).to.changeTokenBalances(c.p.usdt, [c.payee, c.p.escrow], [0n, 0n]);
        await expect(c.p.escrow.connect(c2.payee).cancel(c2.deal))
          .to.emit(c.p.escrow, "PayoutDeferred")
          .withArgs(c2.id, c2.deal.token, c2.payer.address, c2.deal.amount);
        expect(await statusOf(c)).to.equal(Status.Released);
        expect(await statusOf(c2)).to.equal(Status.Refunded);
        expect(await c.p.escrow.owed(c.deal.token, c.payee.address)).to.equal(payeeNet);
        expect(await c.p.escrow.owed(c.deal.token, c.payer.address)).to.equal(c2.deal.amount);
      });

      it("when the token burns all the gas it is given → the payout is owed after PAYOUT_GAS; a batch of releases still settles every deal", async function () {
        const p = await loadFixture(protocolWithFloat);
        const dai = await p.dai.getAddress();
        // Ten performed deals: five in USDT, five in DAI, alternating.
        const deals: Ctx[] = [];
        for (let i = 0; i < 10; i++) {
          const c = await openKind(p, "Payment", { amount: USDT(10 + i), ...(i % 2 ? { token: dai } : {}) });
          await reach(c, "Performed");
          deals.push(c);
        }
        const usdtDeals = deals.filter((c) => c.deal.token !== dai);
        const daiDeals = deals.filter((c) => c.deal.token === dai);
        // Tether destroys the escrow's USDT: every USDT transfer out of it now underflows its balance and hits
        // INVALID, which burns all the gas the call was given (as mainnet's 0.4.17 `assert` does).
        const escrowAddr = await p.escrow.getAddress();
        const calls = deals.map((c) => p.escrow.interface.encodeFunctionData("release", [c.deal]));
        // Control: the same batch on a healthy token.
        const snapshot = await takeSnapshot();
        const control = await (await p.escrow.connect(p.payer).multicall(calls)).wait();
        await snapshot.restore();
        await p.usdt.connect(p.admin).addBlackList(escrowAddr);
        await p.usdt.connect(p.admin).destroyBlackFunds(escrowAddr);
        await p.usdt.connect(p.admin).removeBlackList(escrowAddr);
        expect(await p.usdt.balanceOf(escrowAddr)).to.equal(0n);

        const net = (cs: Ctx[]) => cs.reduce((a, c) => a + releasePayout(c).payeeNet, 0n);
        const daiBefore = await p.dai.balanceOf(p.payee.address);
        const tx = await p.escrow.connect(p.payer).multicall(calls);
        const rc = await tx.wait();

        // Each failing USDT push burned its whole PAYOUT_GAS, far more than a working transfer costs.
        expect(rc!.gasUsed - control!.gasUsed, "gas burned by the failing pushes").to.be.greaterThan(
          BigInt(usdtDeals.length * (PAYOUT_GAS / 2)),
        );
        for (const c of usdtDeals) {
          await expect(tx)
            .to.emit(p.escrow, "PayoutDeferred")
            .withArgs(c.id, c.deal.token, c.payee.address, releasePayout(c).payeeNet);
        }
        expect(await p.escrow.owed(await p.usdt.getAddress(), p.payee.address)).to.equal(net(usdtDeals));
        expect(await p.dai.balanceOf(p.payee.address)).to.equal(daiBefore + net(daiDeals));
        expect(await p.escrow.owed(dai, p.payee.address)).to.equal(0n);
        for (const c of deals) expect(await statusOf(c)).to.equal(Status.Released);
      });

      describe("when the transaction leaves too little gas for the bounded payout", function () {
        it("→ it reverts EscrowInsufficientGas(available, PAYOUT_GAS + PAYOUT_GAS/63 + 5000); the deal stays Performed", async function () {
          const c = await setup("Payment", "Performed");
          const performedAt = (await c.p.escrow.getDeal(c.id)).since;
          await expect(c.p.escrow.connect(c.payer).release(c.deal, { gasLimit: 110_000 }))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInsufficientGas")
            .withArgs(anyUint, requiredGas(PAYOUT_GAS));
          await expectRecord(c, Status.Performed, performedAt);
        });

        it("→ never a silent deferral: at every gas limit the release either reverts or pays the payee in full", async function () {
          const c = await setup("Payment", "Performed");
          const data = c.p.escrow.interface.encodeFunctionData("release", [c.deal]);
          const tx = { from: c.payer.address, to: await c.p.escrow.getAddress(), data };
          const estimate = Number(await ethers.provider.estimateGas(tx));
          const outcomes: string[] = [];
          let lowestSuccess = 0;
          for (let g = 60_000; g <= estimate + 20_000; g += 2_000) {
            try {
              await ethers.provider.call({ ...tx, gasLimit: g });
              if (!lowestSuccess) lowestSuccess = g;
              outcomes.push("ok");
            } catch (e) {
              // Hardhat puts the revert data on `data`, or on `data.data` (with the reason) when it ran out of gas.
              const raw = (e as { data?: unknown }).data;
              const revert = typeof raw === "string" ? raw : ((raw as { data?: string } | undefined)?.data ?? "0x");
              if (revert === "0x") {
                outcomes.push("out of gas");
              } else {
                const err = c.p.escrow.interface.parseError(revert);
                expect(err?.name, `gas ${g}`).to.equal("EscrowInsufficientGas");
                expect(err?.args[1]).to.equal(requiredGas(PAYOUT_GAS));
                outcomes.push("insufficient");
              }
              expect(lowestSuccess, `gas ${g} failed above a gas limit that succeeded`).to.equal(0);
            }
          }
          expect(outcomes).to.include("insufficient");
          expect(lowestSuccess).to.be.greaterThan(0);
          // The cheapest transaction that goes through pays the payee: the payout got its whole bounded gas.
          const sent = await c.p.escrow.connect(c.payer).release(c.deal, { gasLimit: lowestSuccess });
          await expect(sent).not.to.emit(c.p.escrow, "PayoutDeferred");
          await expect(sent).to.changeTokenBalance(c.p.usdt, c.payee, releasePayout(c).payeeNet);
        });
      });
    });
  });

  /*------------------------------------------------------------
                              cancel
  ------------------------------------------------------------*/
  describe("cancel", function () {
    behavesLikeACallOnAKnownDeal(cancelSubject);
    behavesLikeACallReservedTo(cancelSubject, "payee", payeeStrangers);

    describe("when the caller is the payee", function () {
      behavesLikeACallRefusedFrom(cancelSubject, FINAL_STATES, finalLabel);

      describe("when the deal is Open, Performed or Disputed → Refunded (PayeeCancel); the whole amount back to the payer (the acceptor's free float for OnRamp); no fee", function () {
        for (const kind of KINDS) {
          for (const state of ["Open", "Performed", "Disputed"] as State[]) {
            it(`${kind} from ${state}: → Refunded (PayeeCancel), the whole amount back, no fee`, async function () {
              const c = await setup(kind, state);
              const disputesBefore = await openDisputes(c.p);
              const tx = await expectSettlement(
                c,
                () => c.p.escrow.connect(c.payee).cancel(c.deal),
                refundPayout(c),
                Status.Refunded,
              );
              await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.PayeeCancel);
              expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealRefunded"]);
              if (state === "Disputed") {
                expect(disputesBefore).to.equal(1n);
                expect(await openDisputes(c.p)).to.equal(0n);
                await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
              } else {
                expect(await openDisputes(c.p)).to.equal(disputesBefore);
                await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
              }
            });
          }
        }

        it("when the deal is Open and the payer had released → it refunds all the same", async function () {
          const c = await setup("OnRamp", "OpenReleased");
          await expectSettlement(c, () => c.p.escrow.connect(c.payee).cancel(c.deal), refundPayout(c), Status.Refunded);
        });

        it("when the deadline has passed → it refunds all the same", async function () {
          const c = await setup("Payment");
          await time.increaseTo(c.deal.deadline + 100n);
          await expectSettlement(c, () => c.p.escrow.connect(c.payee).cancel(c.deal), refundPayout(c), Status.Refunded);
        });

        for (const state of ["Open", "Disputed"] as State[]) {
          it(`when the registry is paused → it refunds all the same (from ${state})`, async function () {
            const c = await setup("OnRamp", state);
            await c.p.registry.connect(c.p.pauser).pause();
            await expectSettlement(
              c,
              () => c.p.escrow.connect(c.payee).cancel(c.deal),
              refundPayout(c),
              Status.Refunded,
            );
          });
        }

        it("when the gateway holds the dispute → the gateway's open disputes fall by one (only the deal's gateway, only once)", async function () {
          const c1 = await setup("Payment", "Disputed");
          const c2 = await openKind(c1.p, "OffRamp");
          await reach(c2, "Disputed");
          expect(await openDisputes(c1.p)).to.equal(2n);
          await c1.p.escrow.connect(c1.payee).cancel(c1.deal);
          expect(await openDisputes(c1.p)).to.equal(1n);
        });

        it("when the gateway does not hold the dispute (raised while Exiting) → the counter is unchanged", async function () {
          const c = await disputeWith("Exiting");
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.payee).cancel(c.deal),
            refundPayout(c),
            Status.Refunded,
          );
          await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
          expect(await openDisputes(c.p)).to.equal(1n);
        });
      });
    });
  });

  /*------------------------------------------------------------
                              dispute
  ------------------------------------------------------------*/
  describe("dispute", function () {
    behavesLikeACallOnAKnownDeal(disputeSubject("payer"));
    behavesLikeACallReservedTo(disputeSubject("payer"), "payer or the payee", partyStrangers);

    describe("when the caller is the payer or the payee", function () {
      for (const who of ["payer", "payee"] as const) {
        describe(`(the ${who})`, function () {
          behavesLikeACallRefusedFrom(disputeSubject(who), ["Open", "OpenReleased", "Disputed"], (st) =>
            st === "OpenReleased" ? "Open and released" : st,
          );
          behavesLikeACallRefusedFrom(disputeSubject(who), FINAL_STATES, finalLabel);
        });
      }

      describe("when the deal is Performed", function () {
        describe("when the caller is the payer", function () {
          for (const kind of KINDS) {
            it(`${kind}: when the deal is not autoRelease → Disputed at once (the block after perform)`, async function () {
              const c = await setup(kind, "Performed");
              const before = await books(c);
              const tx = await c.p.escrow.connect(c.payer).dispute(c.deal);
              await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c.payer.address, true);
              expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealDisputed"]);
              await expectRecord(c, Status.Disputed, await tsOf(tx), Flags.GatewayHolds);
              await expectUntouched(c, before);
            });
          }

          it("when the deal is not autoRelease → still Disputed after the release window and the deadline", async function () {
            const c = await setup("OnRamp", "Performed");
            await time.increaseTo(c.deal.deadline + BigInt(RELEASE_WINDOW) + 1n);
            await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
              .to.emit(c.p.escrow, "DealDisputed")
              .withArgs(c.id, c.payer.address, true);
          });

          describe("when the deal is an autoRelease payment", function () {
            const auto = { autoRelease: true };

            it("when the release window has not ended (at exactly since + releaseWindow) → Disputed", async function () {
              const c = await setup("Payment", "Performed", auto);
              const endsAt = await releaseWindowEnd(c);
              await time.setNextBlockTimestamp(endsAt);
              const tx = await c.p.escrow.connect(c.payer).dispute(c.deal);
              await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c.payer.address, true);
              await expectRecord(c, Status.Disputed, endsAt, Flags.GatewayHolds);
            });

            it("when the release window has ended (since + releaseWindow + 1) → it reverts EscrowReleaseWindowClosed(dealId, endsAt)", async function () {
              const c = await setup("Payment", "Performed", auto);
              const endsAt = await releaseWindowEnd(c);
              await time.setNextBlockTimestamp(endsAt + 1n);
              await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
                .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowClosed")
                .withArgs(c.id, endsAt);
            });

            it("window over: the payer's dispute reverts, the payee's claim pays (claim is never a race)", async function () {
              const c = await setup("Payment", "Performed", auto);
              const endsAt = await releaseWindowEnd(c);
              await time.setNextBlockTimestamp(endsAt + 1n);
              await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
                .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowClosed")
                .withArgs(c.id, endsAt);
              await expectSettlement(
                c,
                () => c.p.escrow.connect(c.payee).claim(c.deal),
                releasePayout(c),
                Status.Released,
              );
            });
          });
        });

        describe("when the caller is the payee", function () {
          it("when the release window has not ended (in the very transaction that performs) → it reverts EscrowReleaseWindowOpen(dealId, since + releaseWindow)", async function () {
            const c = await setup("Payment");
            const calls = [
              c.p.escrow.interface.encodeFunctionData("perform", [c.deal]),
              c.p.escrow.interface.encodeFunctionData("dispute", [c.deal]),
            ];
            const at = (await now()) + 10n;
            await time.setNextBlockTimestamp(at);
            await expect(c.p.escrow.connect(c.payee).multicall(calls))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
              .withArgs(c.id, at + c.deal.releaseWindow);
          });

          it("when the release window has not ended (the block after perform) → it reverts EscrowReleaseWindowOpen(dealId, since + releaseWindow)", async function () {
            const c = await setup("OffRamp", "Performed");
            const endsAt = await releaseWindowEnd(c);
            await expect(c.p.escrow.connect(c.payee).dispute(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
              .withArgs(c.id, endsAt);
          });

          it("when the release window has not ended (at exactly since + releaseWindow) → it reverts EscrowReleaseWindowOpen", async function () {
            const c = await setup("Payment", "Performed");
            const endsAt = await releaseWindowEnd(c);
            await time.setNextBlockTimestamp(endsAt);
            await expect(c.p.escrow.connect(c.payee).dispute(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
              .withArgs(c.id, endsAt);
          });

          for (const kind of KINDS) {
            it(`${kind}: when the release window has ended (since + releaseWindow + 1) → Disputed`, async function () {
              const c = await setup(kind, "Performed");
              const endsAt = await releaseWindowEnd(c);
              await time.setNextBlockTimestamp(endsAt + 1n);
              const before = await books(c);
              const tx = await c.p.escrow.connect(c.payee).dispute(c.deal);
              await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c.payee.address, true);
              await expectRecord(c, Status.Disputed, endsAt + 1n, Flags.GatewayHolds);
              await expectUntouched(c, before);
            });
          }

          it("when the release window has ended of an autoRelease payment → Disputed too (the payee may claim instead)", async function () {
            const c = await setup("Payment", "Performed", { autoRelease: true });
            await time.setNextBlockTimestamp((await releaseWindowEnd(c)) + 1n);
            await expect(c.p.escrow.connect(c.payee).dispute(c.deal))
              .to.emit(c.p.escrow, "DealDisputed")
              .withArgs(c.id, c.payee.address, true);
          });

          it("the window is the deal's own (2 hours): reverts at since + 2h, works one second later", async function () {
            const c = await setup("OffRamp", "Performed", { releaseWindow: BigInt(2 * HOUR) });
            const endsAt = (await c.p.escrow.getDeal(c.id)).since + BigInt(2 * HOUR);
            await time.setNextBlockTimestamp(endsAt);
            await expect(c.p.escrow.connect(c.payee).dispute(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
              .withArgs(c.id, endsAt);
            await expect(c.p.escrow.connect(c.payee).dispute(c.deal))
              .to.emit(c.p.escrow, "DealDisputed")
              .withArgs(c.id, c.payee.address, true);
          });
        });

        describe("who holds the dispute", function () {
          it("when the gateway is Active and not suspended → DealDisputed(gatewayHolds true); flags GatewayHolds; its open disputes rise by one", async function () {
            const c1 = await setup("Payment", "Performed");
            const c2 = await openKind(c1.p, "OnRamp");
            await reach(c2, "Performed");
            expect(await openDisputes(c1.p)).to.equal(0n);
            const tx1 = await c1.p.escrow.connect(c1.payer).dispute(c1.deal);
            await expect(tx1).to.emit(c1.p.escrow, "DealDisputed").withArgs(c1.id, c1.payer.address, true);
            await expect(tx1).to.emit(c1.p.registry, "GatewayDisputesChanged").withArgs(c1.p.gateway.address, 1);
            await expectRecord(c1, Status.Disputed, await tsOf(tx1), Flags.GatewayHolds);
            const tx2 = await c2.p.escrow.connect(c2.payer).dispute(c2.deal);
            await expect(tx2).to.emit(c2.p.registry, "GatewayDisputesChanged").withArgs(c2.p.gateway.address, 2);
            expect(await openDisputes(c1.p)).to.equal(2n);
          });

          for (const holding of ["Exiting", "suspended", "suspended, then Exiting", "Exited"] as Holding[]) {
            it(`when the gateway is ${holding} → DealDisputed(gatewayHolds false); flags 0; the counter is unchanged`, async function () {
              // disputeWith checks the event, the flags and the counter.
              const c = await disputeWith(holding);
              const g = await c.p.registry.getGateway(c.p.gateway.address);
              expect(g.openDisputes).to.equal(c.background ? 1n : 0n);
              expect(await c.p.registry.canRule(c.p.gateway.address)).to.equal(holding === "Exiting");
            });
          }

          it("when the registry refuses to count it (the escrow's ESCROW_ROLE revoked) → DisputeCountSkipped(dealId, gateway, true); not held; the arbiter rules at once", async function () {
            const p = await loadFixture(protocolWithFloat);
            const c = await openKind(p, "Payment");
            await reach(c, "Performed");
            await p.registry.connect(p.admin).revokeRole(await p.registry.ESCROW_ROLE(), await p.escrow.getAddress());
            const tx = await p.escrow.connect(c.payer).dispute(c.deal);
            await expect(tx).to.emit(p.escrow, "DisputeCountSkipped").withArgs(c.id, p.gateway.address, true);
            await expect(tx).to.emit(p.escrow, "DealDisputed").withArgs(c.id, c.payer.address, false);
            expect(await escrowEventNames(p, tx)).to.deep.equal(["DisputeCountSkipped", "DealDisputed"]);
            await expectRecord(c, Status.Disputed, await tsOf(tx), 0);
            expect(await openDisputes(p)).to.equal(0n);
            await expect(p.escrow.connect(p.gateway).resolve(c.deal, USDT(60), REASONS))
              .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
              .withArgs(c.id, p.gateway.address);
            await expectSettlement(
              c,
              () => p.escrow.connect(p.arbiter).resolve(c.deal, USDT(60), REASONS),
              arbiterRuling(c, USDT(60)),
              Status.Resolved,
            );
          });

          it("when the transaction leaves too little gas for the registry hook → it reverts EscrowInsufficientGas(available, REGISTRY_HOOK_GAS + REGISTRY_HOOK_GAS/63 + 5000)", async function () {
            const c = await setup("Payment", "Performed");
            await expect(c.p.escrow.connect(c.payer).dispute(c.deal, { gasLimit: 70_000 }))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowInsufficientGas")
              .withArgs(anyUint, requiredGas(REGISTRY_HOOK_GAS));
            expect(await statusOf(c)).to.equal(Status.Performed);
            // With enough gas the same dispute is held and counted.
            await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
              .to.emit(c.p.escrow, "DealDisputed")
              .withArgs(c.id, c.payer.address, true);
          });
        });

        it("when the registry is paused → it disputes all the same", async function () {
          const c = await setup("Payment", "Performed");
          await c.p.registry.connect(c.p.pauser).pause();
          await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
            .to.emit(c.p.escrow, "DealDisputed")
            .withArgs(c.id, c.payer.address, true);
        });
      });
    });
  });

  /*------------------------------------------------------------
                               claim
  ------------------------------------------------------------*/
  describe("claim", function () {
    const auto = { autoRelease: true };

    behavesLikeACallOnAKnownDeal(claimSubject);

    it("when the caller is not the payee (payer, gateway, arbiter, lock delegate, anyone) → it reverts EscrowUnauthorized", async function () {
      const c = await setup("Payment", "Performed", auto);
      await time.increase(RELEASE_WINDOW + 1);
      for (const s of payeeStrangers.of(c)) {
        await expect(c.p.escrow.connect(s).claim(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, s.address);
      }
    });

    describe("when the caller is the payee", function () {
      behavesLikeACallRefusedFrom(claimSubject, ["Open", "OpenReleased", "Disputed"], (st) =>
        st === "OpenReleased" ? "Open and released" : st,
      );
      behavesLikeACallRefusedFrom(claimSubject, FINAL_STATES, finalLabel);

      describe("when the deal is Performed", function () {
        for (const kind of KINDS) {
          it(`${kind}: when the deal is not autoRelease → it reverts EscrowNotAutoRelease, even after the window`, async function () {
            const c = await setup(kind, "Performed");
            await time.increase(RELEASE_WINDOW + 1);
            await expect(c.p.escrow.connect(c.payee).claim(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowNotAutoRelease")
              .withArgs(c.id);
          });
        }

        describe("when the deal is autoRelease", function () {
          it("when the release window has not ended (right after perform) → it reverts EscrowReleaseWindowOpen(dealId, since + releaseWindow)", async function () {
            const c = await setup("Payment", "Performed", auto);
            const endsAt = await releaseWindowEnd(c);
            await expect(c.p.escrow.connect(c.payee).claim(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
              .withArgs(c.id, endsAt);
          });

          it("when the release window has not ended (at exactly since + releaseWindow) → it reverts EscrowReleaseWindowOpen", async function () {
            const c = await setup("Payment", "Performed", auto);
            const endsAt = await releaseWindowEnd(c);
            await time.setNextBlockTimestamp(endsAt);
            await expect(c.p.escrow.connect(c.payee).claim(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
              .withArgs(c.id, endsAt);
          });

          it("when the release window has ended (the deal's own 2 hours + 1 s) → Released; DealReleased; the payee gets the amount less the fee", async function () {
            const c = await setup("Payment", "Performed", { ...auto, releaseWindow: BigInt(2 * HOUR) });
            const endsAt = await releaseWindowEnd(c);
            expect(endsAt).to.equal((await c.p.escrow.getDeal(c.id)).since + BigInt(2 * HOUR));
            await time.setNextBlockTimestamp(endsAt);
            await expect(c.p.escrow.connect(c.payee).claim(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
              .withArgs(c.id, endsAt);
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.payee).claim(c.deal),
              releasePayout(c),
              Status.Released,
            );
            expect(await tsOf(tx)).to.equal(endsAt + 1n);
            await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased"]);
          });

          it("when the payer released first during the window → there is nothing left to claim (EscrowWrongStatus(Released))", async function () {
            const c = await setup("Payment", "Performed", auto);
            await c.p.escrow.connect(c.payer).release(c.deal);
            await time.increase(RELEASE_WINDOW + 1);
            await expect(c.p.escrow.connect(c.payee).claim(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
              .withArgs(c.id, Status.Released);
          });

          it("when the registry is paused → it releases all the same", async function () {
            const c = await setup("Payment", "Performed", auto);
            await c.p.registry.connect(c.p.pauser).pause();
            await time.increase(RELEASE_WINDOW + 1);
            await expectSettlement(
              c,
              () => c.p.escrow.connect(c.payee).claim(c.deal),
              releasePayout(c),
              Status.Released,
            );
          });
        });
      });
    });
  });

  /*------------------------------------------------------------
                               refund
  ------------------------------------------------------------*/
  describe("refund", function () {
    behavesLikeACallOnAKnownDeal(refundSubject);

    describe("when the deal is Open", function () {
      it("when the deadline has not passed (before it) → it reverts EscrowDeadlineNotPassed", async function () {
        const c = await setup();
        await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlineNotPassed")
          .withArgs(c.id, c.deal.deadline);
      });

      it("when the deadline has not passed (at exactly it) → it reverts EscrowDeadlineNotPassed", async function () {
        const c = await setup();
        await time.setNextBlockTimestamp(c.deal.deadline);
        await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlineNotPassed")
          .withArgs(c.id, c.deal.deadline);
      });

      describe("when the deadline has passed → Refunded (Deadline); the whole amount back to the payer (the acceptor's free float for OnRamp)", function () {
        for (const kind of KINDS) {
          it(`${kind}: anyone, one second after the deadline → Refunded (Deadline), the whole amount back`, async function () {
            const c = await setup(kind);
            await time.setNextBlockTimestamp(c.deal.deadline + 1n);
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.other).refund(c.deal),
              refundPayout(c),
              Status.Refunded,
            );
            await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.Deadline);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealRefunded"]);
          });
        }

        it("the payee and the payer may trigger it too", async function () {
          const c1 = await setup("Payment");
          const c2 = await openKind(c1.p, "Payment");
          await time.increaseTo(c2.deal.deadline + 1n);
          await expect(c1.p.escrow.connect(c1.payee).refund(c1.deal))
            .to.emit(c1.p.escrow, "DealRefunded")
            .withArgs(c1.id, RefundReason.Deadline);
          await expect(c2.p.escrow.connect(c2.payer).refund(c2.deal))
            .to.emit(c2.p.escrow, "DealRefunded")
            .withArgs(c2.id, RefundReason.Deadline);
        });

        it("when the payer had released → it refunds all the same", async function () {
          const c = await setup("OnRamp", "OpenReleased");
          await time.increaseTo(c.deal.deadline + 1n);
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.other).refund(c.deal),
            refundPayout(c),
            Status.Refunded,
          );
          await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.Deadline);
        });

        it("when the deal is a delegate's lock → it refunds (Deadline) to the free float", async function () {
          const p = await loadFixture(protocolWithFloat);
          const c = await delegateLock(p);
          await time.increaseTo(c.deal.deadline + 1n);
          const tx = await expectSettlement(
            c,
            () => p.escrow.connect(p.other).refund(c.deal),
            refundPayout(c),
            Status.Refunded,
          );
          await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(c.id, RefundReason.Deadline);
          expect((await p.escrow.floatOf(p.acceptor.address, c.deal.token)).free).to.equal(FLOAT);
        });

        it("when the registry is paused → it refunds all the same", async function () {
          const c = await setup("Payment");
          await c.p.registry.connect(c.p.pauser).pause();
          await time.increaseTo(c.deal.deadline + 1n);
          await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.other).refund(c.deal),
            refundPayout(c),
            Status.Refunded,
          );
        });
      });
    });

    describe("when the deal is final → it reverts EscrowWrongStatus", function () {
      for (const state of FINAL_STATES) {
        it(`when the deal is final (${state}) → it reverts EscrowWrongStatus, even after the deadline`, async function () {
          const c = await setup("Payment", state);
          await time.increaseTo(c.deal.deadline + 1n);
          await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
        });
      }

      it("when the deal is final (a delegate's lock, refunded) → it reverts EscrowWrongStatus after its lock expiry", async function () {
        const p = await loadFixture(protocolWithFloat);
        const c = await delegateLock(p);
        await reach(c, "Refunded");
        await time.increaseTo((await p.escrow.lockExpiry(c.deal)) + 1n);
        await expect(p.escrow.connect(p.other).refund(c.deal))
          .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Refunded);
      });
    });

    describe("when the deal is Performed or Disputed", function () {
      for (const kind of KINDS) {
        for (const state of ["Performed", "Disputed"] as State[]) {
          it(`${kind} ${state}: when the deal is not a delegate's lock → it reverts EscrowWrongStatus, at any time (a year on)`, async function () {
            const c = await setup(kind, state);
            expect(await c.p.escrow.lockExpiry(c.deal)).to.equal(0n);
            await time.increaseTo(c.deal.deadline + 1n);
            await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
              .withArgs(c.id, STATUS_OF[state]);
            await time.increase(365 * DAY);
            await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
              .withArgs(c.id, STATUS_OF[state]);
          });
        }
      }

      describe("when the deal is a delegate's lock", function () {
        it("lockExpiry = deadline + releaseWindow + resolutionWindow", async function () {
          const p = await loadFixture(protocolWithFloat);
          const c = await delegateLock(p, { releaseWindow: BigInt(MAX_DELEGATE_RELEASE_WINDOW) });
          expect(await p.escrow.lockExpiry(c.deal)).to.equal(
            c.deal.deadline + BigInt(MAX_DELEGATE_RELEASE_WINDOW + RESOLUTION_WINDOW),
          );
        });

        it("Performed: when lockExpiry has not passed (before and at it) → it reverts EscrowLockNotExpired(dealId, lockExpiry)", async function () {
          const p = await loadFixture(protocolWithFloat);
          const c = await delegateLock(p);
          await reach(c, "Performed");
          const expiresAt = await p.escrow.lockExpiry(c.deal);
          await expect(p.escrow.connect(p.other).refund(c.deal))
            .to.be.revertedWithCustomError(p.escrow, "EscrowLockNotExpired")
            .withArgs(c.id, expiresAt);
          await time.setNextBlockTimestamp(expiresAt);
          await expect(p.escrow.connect(p.other).refund(c.deal))
            .to.be.revertedWithCustomError(p.escrow, "EscrowLockNotExpired")
            .withArgs(c.id, expiresAt);
        });

        it("Performed: when lockExpiry has passed → Refunded (LockExpired); the amount back to the acceptor's free float", async function () {
          const p = await loadFixture(protocolWithFloat);
          const c = await delegateLock(p);
          await reach(c, "Performed");
          expect((await p.escrow.floatOf(p.acceptor.address, c.deal.token)).free).to.equal(FLOAT - c.deal.amount);
          await time.setNextBlockTimestamp((await p.escrow.lockExpiry(c.deal)) + 1n);
          const tx = await expectSettlement(
            c,
            () => p.escrow.connect(p.other).refund(c.deal),
            refundPayout(c),
            Status.Refunded,
          );
          await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(c.id, RefundReason.LockExpired);
          expect(await floatOf(p, c.deal.token)).to.deep.equal([FLOAT, 0n]);
        });

        it("Disputed: when lockExpiry has not passed → it reverts EscrowLockNotExpired(dealId, lockExpiry)", async function () {
          const p = await loadFixture(protocolWithFloat);
          const c = await delegateLock(p);
          await reach(c, "Disputed");
          const expiresAt = await p.escrow.lockExpiry(c.deal);
          await time.setNextBlockTimestamp(expiresAt);
          await expect(p.escrow.connect(p.other).refund(c.deal))
            .to.be.revertedWithCustomError(p.escrow, "EscrowLockNotExpired")
            .withArgs(c.id, expiresAt);
        });

        it("Disputed: when lockExpiry has passed and the gateway holds the dispute → Refunded (LockExpired); the gateway's open disputes fall by one", async function () {
          const p = await loadFixture(protocolWithFloat);
          const c = await delegateLock(p);
          await reach(c, "Performed");
          await time.increase(RELEASE_WINDOW + 1);
          await expect(p.escrow.connect(c.payee).dispute(c.deal))
            .to.emit(p.escrow, "DealDisputed")
            .withArgs(c.id, c.payee.address, true);
          expect(await openDisputes(p)).to.equal(1n);
          await time.setNextBlockTimestamp((await p.escrow.lockExpiry(c.deal)) + 1n);
          const tx = await expectSettlement(
            c,
            () => p.escrow.connect(p.other).refund(c.deal),
            refundPayout(c),
            Status.Refunded,
          );
          await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(c.id, RefundReason.LockExpired);
          await expect(tx).to.emit(p.registry, "GatewayDisputesChanged").withArgs(p.gateway.address, 0);
          expect(await openDisputes(p)).to.equal(0n);
        });

        it("Disputed: when lockExpiry has passed and the dispute is not held (gateway suspended) → Refunded (LockExpired); the counter is unchanged", async function () {
          const p = await loadFixture(protocolWithFloat);
          const c = await delegateLock(p);
          const b = await openKind(p, "Payment");
          await reach(b, "Disputed");
          await reach(c, "Performed");
          await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
          await expect(p.escrow.connect(c.payer).dispute(c.deal))
            .to.emit(p.escrow, "DealDisputed")
            .withArgs(c.id, c.payer.address, false);
          await time.setNextBlockTimestamp((await p.escrow.lockExpiry(c.deal)) + 1n);
          const tx = await expectSettlement(
            c,
            () => p.escrow.connect(p.other).refund(c.deal),
            refundPayout(c),
            Status.Refunded,
          );
          await expect(tx).to.emit(p.escrow, "DealRefunded").withArgs(c.id, RefundReason.LockExpired);
          await expect(tx).not.to.emit(p.registry, "GatewayDisputesChanged");
          expect(await openDisputes(p)).to.equal(1n);
        });

        for (const holder of ["gateway", "arbiter"] as const) {
          it(`Disputed: when the dispute's resolution window ends after lockExpiry (the ${holder} rules it) → it reverts EscrowLockNotExpired(dealId, since + resolutionWindow) until the window is over`, async function () {
            const p = await loadFixture(protocolWithFloat);
            const c = await delegateLock(p);
            await reach(c, "Performed");
            if (holder === "arbiter") await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
            const expiresAt = await p.escrow.lockExpiry(c.deal);
            // The buyer disputes at the last second before the expiry: its window runs a whole resolution window on.
            await time.setNextBlockTimestamp(expiresAt);
            await p.escrow.connect(c.payee).dispute(c.deal);
            const windowEnd = (await p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW);
            expect(windowEnd).to.equal(expiresAt + BigInt(RESOLUTION_WINDOW));
            await time.setNextBlockTimestamp(expiresAt + 1n);
            await expect(p.escrow.connect(p.other).refund(c.deal))
              .to.be.revertedWithCustomError(p.escrow, "EscrowLockNotExpired")
              .withArgs(c.id, windowEnd);
            // Whoever may rule still has its whole window: at its last second the ruling lands.
            const ruler = holder === "gateway" ? p.gateway : p.arbiter;
            await time.setNextBlockTimestamp(windowEnd);
            await expect(p.escrow.connect(ruler).resolve(c.deal, c.deal.amount, ethers.ZeroHash)).to.emit(
              p.escrow,
              "DealResolved",
            );
          });
        }

        it("Disputed: when both lockExpiry and the dispute's window are over → Refunded (LockExpired)", async function () {
          const p = await loadFixture(protocolWithFloat);
          const c = await delegateLock(p);
          await reach(c, "Performed");
          const expiresAt = await p.escrow.lockExpiry(c.deal);
          await time.setNextBlockTimestamp(expiresAt);
          await p.escrow.connect(c.payee).dispute(c.deal);
          await time.setNextBlockTimestamp(expiresAt + BigInt(RESOLUTION_WINDOW));
          await expect(p.escrow.connect(p.other).refund(c.deal))
            .to.be.revertedWithCustomError(p.escrow, "EscrowLockNotExpired")
            .withArgs(c.id, expiresAt + BigInt(RESOLUTION_WINDOW));
          await time.setNextBlockTimestamp(expiresAt + BigInt(RESOLUTION_WINDOW) + 1n);
          await expect(p.escrow.connect(p.other).refund(c.deal))
            .to.emit(p.escrow, "DealRefunded")
            .withArgs(c.id, RefundReason.LockExpired);
          expect(await floatOf(p, c.deal.token)).to.deep.equal([FLOAT, 0n]);
        });

        it("the bound of a delegate's lock: the delegate locks to an accomplice who performs at once; nobody acts; at lockExpiry + 1 anyone returns the float", async function () {
          const p = await loadFixture(protocolWithFloat);
          const accomplice = p.rest[0];
          const lockedAt = (await now()) + 10n;
          const worst = {
            payee: accomplice.address,
            amount: USDT(5_000),
            deadline: lockedAt + BigInt(MAX_DELEGATE_LOCK_DURATION),
            releaseWindow: BigInt(MAX_DELEGATE_RELEASE_WINDOW),
          };
          await time.setNextBlockTimestamp(lockedAt);
          const c = await delegateLock(p, worst);
          await p.escrow.connect(accomplice).perform(c.deal);
          const expiresAt = await p.escrow.lockExpiry(c.deal);
          expect(expiresAt, "lock + 7 days + 2 days + the resolution window").to.equal(
            lockedAt + BigInt(MAX_DELEGATE_LOCK_DURATION + MAX_DELEGATE_RELEASE_WINDOW + RESOLUTION_WINDOW),
          );
          await time.setNextBlockTimestamp(expiresAt);
          await expect(p.escrow.connect(p.rest[1]).refund(c.deal))
            .to.be.revertedWithCustomError(p.escrow, "EscrowLockNotExpired")
            .withArgs(c.id, expiresAt);
          const accompliceBefore = await p.usdt.balanceOf(accomplice.address);
          await time.setNextBlockTimestamp(expiresAt + 1n);
          await expect(p.escrow.connect(p.rest[1]).refund(c.deal))
            .to.emit(p.escrow, "DealRefunded")
            .withArgs(c.id, RefundReason.LockExpired);
          expect(await floatOf(p, c.deal.token)).to.deep.equal([FLOAT, 0n]);
          expect(await p.usdt.balanceOf(accomplice.address)).to.equal(accompliceBefore);
          expect(await p.escrow.owed(c.deal.token, accomplice.address)).to.equal(0n);
        });
      });
    });
  });

  /*------------------------------------------------------------
                             actWithSig
  ------------------------------------------------------------*/
  describe("actWithSig", function () {
    behavesLikeACallOnAKnownDeal(actSubject(Action.Perform, "payee", "Open"));

    describe("when the signer is not the action's party → it reverts EscrowUnauthorized(dealId, signer) before any signature check", function () {
      const signed: [Subject, string, typeof payeeStrangers][] = [
        [actSubject(Action.Perform, "payee", "Open"), "payee (Perform)", payeeStrangers],
        [actSubject(Action.Cancel, "payee", "Open"), "payee (Cancel)", payeeStrangers],
        [actSubject(Action.Claim, "payee", "Performed", afterReleaseWindow), "payee (Claim)", payeeStrangers],
        [actSubject(Action.Release, "payer", "Performed"), "payer (Release)", payerStrangers],
        [actSubject(Action.Dispute, "payer", "Performed"), "payer or the payee (Dispute)", partyStrangers],
      ];
      for (const [subject, party, strangers] of signed) behavesLikeACallReservedTo(subject, party, strangers, "signer");

      it("when the signer is not the action's party and the signature is someone else's or expired → EscrowUnauthorized, not EscrowInvalidSignature or EscrowSignatureExpired (no signature is checked)", async function () {
        const c = await setup("Payment", "Performed", { autoRelease: true });
        await time.increase(RELEASE_WINDOW + 1);
        const expired = (await now()) - 1n;
        const cases: [number, HardhatEthersSigner, HardhatEthersSigner][] = [
          [Action.Perform, c.p.other, c.payee],
          [Action.Cancel, c.payer, c.payee],
          [Action.Claim, c.p.gateway, c.payee],
          [Action.Release, c.payee, c.payer],
          [Action.Dispute, c.p.arbiter, c.payer],
        ];
        for (const [action, stranger, party] of cases) {
          for (const auth of [await sign(c, party, action), await sign(c, stranger, action, expired)]) {
            await expect(act(c, action, stranger, auth))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
              .withArgs(c.id, stranger.address);
          }
        }
      });

      it("when the signer is a non-party ERC-1271 wallet that would accept the signature → EscrowUnauthorized(dealId, wallet); the wallet is never called", async function () {
        const p = await loadFixture(protocolWithFloat);
        // The wallet's owner is the deal's payee: the wallet accepts every signature the payee makes.
        const wallet = await deployWallet(p.payee);
        const walletAddr = await wallet.getAddress();
        const c = await openKind(p, "Payment");
        const auth = await sign(c, c.payee, Action.Perform);
        const digest = await p.escrow.hashTypedData(actionStructHash(c.id, Action.Perform, auth.expiry));
        expect(await wallet.isValidSignature(digest, auth.signature)).to.equal("0x1626ba7e");

        const data = p.escrow.interface.encodeFunctionData("actWithSig", [c.deal, Action.Perform, walletAddr, auth]);
        await expect(p.escrow.connect(p.other).actWithSig(c.deal, Action.Perform, walletAddr, auth))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, walletAddr);
        expect(await callsTo(p, data, walletAddr)).to.deep.equal([]);

        // Control: when the wallet IS the payee, the same check does call it (and accepts its owner's signature).
        const c2 = await openKind(p, "Payment", { payee: walletAddr });
        const auth2 = await sign(c2, p.payee, Action.Perform);
        const data2 = p.escrow.interface.encodeFunctionData("actWithSig", [c2.deal, Action.Perform, walletAddr, auth2]);
        expect(await callsTo(p, data2, walletAddr)).to.deep.equal(["STATICCALL"]);
        await expect(p.escrow.connect(p.other).actWithSig(c2.deal, Action.Perform, walletAddr, auth2))
          .to.emit(p.escrow, "DealPerformed")
          .withArgs(c2.id);
      });

      it("when the payer names itself the signer of the payee's actions (Perform, Cancel, Claim) with its own valid signature → EscrowUnauthorized(dealId, payer)", async function () {
        const c = await setup("Payment", "Performed", { autoRelease: true });
        await time.increase(RELEASE_WINDOW + 1);
        for (const action of [Action.Perform, Action.Cancel, Action.Claim]) {
          await expect(act(c, action, c.payer))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, c.payer.address);
        }
        await expect(act(c, Action.Release, c.payee))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, c.payee.address);
      });
    });

    describe("when the signer is the action's party", function () {
      it("when the signature has expired → it reverts EscrowSignatureExpired(expiry); one expiring in the same second works", async function () {
        const c = await setup();
        const t = (await now()) + 10n;
        const expired = await sign(c, c.payee, Action.Perform, t - 1n);
        await time.setNextBlockTimestamp(t);
        await expect(act(c, Action.Perform, c.payee, expired))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
          .withArgs(t - 1n);
        const atExpiry = await sign(c, c.payee, Action.Perform, t + 5n);
        await time.setNextBlockTimestamp(t + 5n);
        await expect(act(c, Action.Perform, c.payee, atExpiry))
          .to.emit(c.p.escrow, "DealPerformed")
          .withArgs(c.id);
      });

      for (const [name, action, party, state] of [
        ["Release", Action.Release, "payer", "Performed"],
        ["Cancel", Action.Cancel, "payee", "Open"],
        ["Dispute (payer)", Action.Dispute, "payer", "Performed"],
        ["Dispute (payee)", Action.Dispute, "payee", "Performed"],
        ["Claim", Action.Claim, "payee", "Performed"],
      ] as const) {
        it(`when the ${name} signature has expired → it reverts EscrowSignatureExpired(expiry)`, async function () {
          const c = await setup("Payment", state, action === Action.Claim ? { autoRelease: true } : {});
          const auth = await sign(c, c[party], action, (await now()) + 60n);
          await time.increase(RELEASE_WINDOW + 1);
          await expect(act(c, action, c[party], auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
            .withArgs(auth.expiry);
        });
      }

      describe("when the signature is not the signer's for this action, deal, chain and escrow → it reverts EscrowInvalidSignature(dealId, signer)", function () {
        it("Perform named for the payee: another's signature, another action's, another deal's, another chain's or escrow's", async function () {
          const c = await setup();
          const c2 = await openKind(c.p, "Payment");
          const { chainId } = await ethers.provider.getNetwork();
          const bad = [
            await sign(c, c.payer, Action.Perform),
            await sign(c, c.p.other, Action.Perform),
            await sign(c, c.p.delegate, Action.Perform),
            await sign(c, c.payee, Action.Cancel),
            await signAction(c.p.escrow, c.payee, c2.id, Action.Perform),
            await signAction(c.p.escrow, c.payee, c.id, Action.Perform, undefined, { chainId: chainId + 1n }),
            await signAction(c.p.escrow, c.payee, c.id, Action.Perform, undefined, {
              verifyingContract: c.p.other.address,
            }),
          ];
          for (const auth of bad) {
            await expect(act(c, Action.Perform, c.payee, auth))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
              .withArgs(c.id, c.payee.address);
          }
        });

        it("Release named for the payer: the payee's, the lock delegate's or the gateway's signature, or the payer's Cancel", async function () {
          const c = await setup("OnRamp", "Performed");
          const bad = [
            await sign(c, c.payee, Action.Release),
            await sign(c, c.p.delegate, Action.Release),
            await sign(c, c.p.gateway, Action.Release),
            await sign(c, c.payer, Action.Cancel),
          ];
          for (const auth of bad) {
            await expect(act(c, Action.Release, c.payer, auth))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
              .withArgs(c.id, c.payer.address);
          }
        });

        for (const who of ["payer", "payee"] as const) {
          it(`Dispute named for the ${who}: a third party's or the other party's signature, or the ${who}'s Release`, async function () {
            const c = await setup("Payment", "Performed");
            await time.increase(RELEASE_WINDOW + 1);
            const otherParty = who === "payer" ? c.payee : c.payer;
            const bad = [
              await sign(c, c.p.other, Action.Dispute),
              await sign(c, c.p.arbiter, Action.Dispute),
              await sign(c, otherParty, Action.Dispute),
              await sign(c, c[who], Action.Release),
            ];
            for (const auth of bad) {
              await expect(act(c, Action.Dispute, c[who], auth))
                .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
                .withArgs(c.id, c[who].address);
            }
          });
        }

        it("Cancel and Claim named for the payee: the payer's or another's signature", async function () {
          const c = await setup("Payment", "Performed", { autoRelease: true });
          await time.increase(RELEASE_WINDOW + 1);
          for (const action of [Action.Cancel, Action.Claim]) {
            for (const s of [c.payer, c.p.other]) {
              await expect(act(c, action, c.payee, await sign(c, s, action)))
                .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
                .withArgs(c.id, c.payee.address);
            }
          }
        });
      });

      it("when the signer is an ERC-1271 wallet → its owner's signature is accepted, another's reverts EscrowInvalidSignature(dealId, wallet)", async function () {
        const p = await loadFixture(protocolWithFloat);
        const owner = p.rest[0];
        const wallet = await deployWallet(owner);
        const walletAddr = await wallet.getAddress();
        const c = await openKind(p, "Payment", { payee: walletAddr });
        const ownerSig = await signAction(p.escrow, owner, c.id, Action.Perform);
        await expect(p.escrow.connect(p.other).actWithSig(c.deal, Action.Perform, walletAddr, ownerSig))
          .to.emit(p.escrow, "DealPerformed")
          .withArgs(c.id);
        const bad = await signAction(p.escrow, p.other, c.id, Action.Cancel);
        await expect(p.escrow.connect(p.other).actWithSig(c.deal, Action.Cancel, walletAddr, bad))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, walletAddr);
      });

      describe("when the signature is valid → the action as the direct call by the signer", function () {
        for (const kind of KINDS) {
          it(`${kind}: Perform → Performed; no funds move`, async function () {
            const c = await setup(kind);
            const before = await books(c);
            const tx = await act(c, Action.Perform, c.payee);
            await expect(tx).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
            await expectRecord(c, Status.Performed, await tsOf(tx));
            await expectUntouched(c, before);
          });
        }

        it("Perform after the payer's release → Released at once", async function () {
          const c = await setup("OnRamp", "OpenReleased");
          const tx = await expectSettlement(
            c,
            () => act(c, Action.Perform, c.payee),
            releasePayout(c),
            Status.Released,
          );
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealPerformed", "DealReleased"]);
        });

        it("Perform keeps the deadline rule: EscrowDeadlinePassed after it", async function () {
          const c = await setup();
          const auth = await sign(c, c.payee, Action.Perform);
          await time.increaseTo(c.deal.deadline + 1n);
          await expect(act(c, Action.Perform, c.payee, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
            .withArgs(c.id, c.deal.deadline);
        });

        for (const kind of KINDS) {
          it(`${kind}: Release → Released from Performed`, async function () {
            const c = await setup(kind, "Performed");
            const tx = await expectSettlement(
              c,
              () => act(c, Action.Release, c.payer),
              releasePayout(c),
              Status.Released,
            );
            await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
          });
        }

        it("Release → Released from Disputed; the held dispute is uncounted", async function () {
          const c = await setup("OffRamp", "Disputed");
          const tx = await expectSettlement(
            c,
            () => act(c, Action.Release, c.payer),
            releasePayout(c),
            Status.Released,
          );
          await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
        });

        it("Release → PayerReleased from Open", async function () {
          const c = await setup("OnRamp");
          const openedAt = (await c.p.escrow.getDeal(c.id)).since;
          await expect(act(c, Action.Release, c.payer))
            .to.emit(c.p.escrow, "DealReleaseApproved")
            .withArgs(c.id);
          await expectRecord(c, Status.Open, openedAt, Flags.PayerReleased);
        });

        for (const kind of KINDS) {
          it(`${kind}: Cancel → Refunded (PayeeCancel)`, async function () {
            const c = await setup(kind, "Performed");
            const tx = await expectSettlement(
              c,
              () => act(c, Action.Cancel, c.payee),
              refundPayout(c),
              Status.Refunded,
            );
            await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.PayeeCancel);
          });
        }

        it("Cancel from Disputed → Refunded; the held dispute is uncounted", async function () {
          const c = await setup("Payment", "Disputed");
          await expect(act(c, Action.Cancel, c.payee))
            .to.emit(c.p.registry, "GatewayDisputesChanged")
            .withArgs(c.p.gateway.address, 0);
          expect(await openDisputes(c.p)).to.equal(0n);
        });

        for (const kind of KINDS) {
          it(`${kind}: Dispute by the payer's signature → Disputed by the payer, at once`, async function () {
            const c = await setup(kind, "Performed");
            const tx = await act(c, Action.Dispute, c.payer);
            await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c.payer.address, true);
            await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 1);
            await expectRecord(c, Status.Disputed, await tsOf(tx), Flags.GatewayHolds);
          });

          it(`${kind}: Dispute by the payee's signature → EscrowReleaseWindowOpen in the window, Disputed by the payee after it`, async function () {
            const c = await setup(kind, "Performed");
            const endsAt = await releaseWindowEnd(c);
            const auth = await sign(c, c.payee, Action.Dispute);
            await expect(act(c, Action.Dispute, c.payee, auth))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
              .withArgs(c.id, endsAt);
            await time.setNextBlockTimestamp(endsAt + 1n);
            const tx = await act(c, Action.Dispute, c.payee, auth);
            await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c.payee.address, true);
            await expectRecord(c, Status.Disputed, endsAt + 1n, Flags.GatewayHolds);
          });
        }

        it("Dispute keeps the status rule: EscrowWrongStatus(Open) on an open deal", async function () {
          const c = await setup("Payment");
          await expect(act(c, Action.Dispute, c.payer))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, Status.Open);
        });

        describe("Dispute by the named signer, even when the payer is a wallet that accepts the payee's signatures", function () {
          /** A payment whose payer is an ERC-1271 wallet owned by the payee's key: it says yes to whatever the
           * payee signs (the review's yes-to-everything payer wallet). */
          async function walletPayerDeal(over: Partial<Deal> = {}): Promise<Ctx & { wallet: ERC1271Wallet }> {
            const p = await loadFixture(protocolWithFloat);
            const wallet = await deployWallet(p.payee);
            const walletAddr = await wallet.getAddress();
            const deal = await makeDeal(p, { payer: walletAddr, ...over });
            await p.usdt.connect(p.admin).mint(walletAddr, deal.amount);
            const escrowAddr = await p.escrow.getAddress();
            await wallet
              .connect(p.payee)
              .execute(deal.token, 0, p.usdt.interface.encodeFunctionData("approve", [escrowAddr, deal.amount]));
            await wallet
              .connect(p.payee)
              .execute(escrowAddr, 0, p.escrow.interface.encodeFunctionData("open", [deal, ethers.ZeroHash]));
            await p.escrow.connect(p.payee).perform(deal);
            const c: Ctx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payee, payee: p.payee };
            return { ...c, wallet };
          }

          it("the payee's signature, named for the payee, within the window → the payee's rule applies: EscrowReleaseWindowOpen", async function () {
            const c = await walletPayerDeal();
            const auth = await sign(c, c.payee, Action.Dispute);
            const digest = await c.p.escrow.hashTypedData(actionStructHash(c.id, Action.Dispute, auth.expiry));
            expect(await c.wallet.isValidSignature(digest, auth.signature), "the payer wallet accepts it").to.equal(
              "0x1626ba7e",
            );
            await expect(act(c, Action.Dispute, c.payee, auth))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
              .withArgs(c.id, await releaseWindowEnd(c));
          });

          it("an autoRelease payment after the window: the payee's signature named for the payee → Disputed by the payee (the payer wallet takes no credit)", async function () {
            const c = await walletPayerDeal({ autoRelease: true });
            const auth = await sign(c, c.payee, Action.Dispute);
            const endsAt = await releaseWindowEnd(c);
            await time.setNextBlockTimestamp(endsAt + 1n);
            await expect(act(c, Action.Dispute, c.payee, auth))
              .to.emit(c.p.escrow, "DealDisputed")
              .withArgs(c.id, c.payee.address, true);
          });

          it("an autoRelease payment after the window: the same signature named for the payer wallet → the payer's rule applies: EscrowReleaseWindowClosed", async function () {
            const c = await walletPayerDeal({ autoRelease: true });
            const walletAddr = await c.wallet.getAddress();
            const auth = await sign(c, c.payee, Action.Dispute);
            const endsAt = await releaseWindowEnd(c);
            await time.setNextBlockTimestamp(endsAt + 1n);
            await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Dispute, walletAddr, auth))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowClosed")
              .withArgs(c.id, endsAt);
          });
        });

        it("Claim → Released after the release window", async function () {
          const c = await setup("Payment", "Performed", { autoRelease: true });
          await time.increase(RELEASE_WINDOW + 1);
          const tx = await expectSettlement(c, () => act(c, Action.Claim, c.payee), releasePayout(c), Status.Released);
          await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
        });

        it("Claim → EscrowReleaseWindowOpen before the window ends", async function () {
          const c = await setup("Payment", "Performed", { autoRelease: true });
          await expect(act(c, Action.Claim, c.payee))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
            .withArgs(c.id, await releaseWindowEnd(c));
        });

        it("when replayed after it took effect → it reverts EscrowWrongStatus(Performed)", async function () {
          const c = await setup();
          const auth = await sign(c, c.payee, Action.Perform);
          await act(c, Action.Perform, c.payee, auth);
          await expect(act(c, Action.Perform, c.payee, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, Status.Performed);
        });
      });
    });
  });

  /*------------------------------------------------------------
                           settleWithSigs
  ------------------------------------------------------------*/
  describe("settleWithSigs", function () {
    async function sigs(c: Ctx) {
      return {
        payeeAuth: await sign(c, c.payee, Action.Perform),
        payerAuth: await sign(c, c.payer, Action.Release),
      };
    }

    behavesLikeACallOnAKnownDeal(settleSubject);
    behavesLikeACallRefusedFrom(settleSubject, FINAL_STATES, finalLabel);

    it("when the deal is Open and the deadline has passed → it reverts EscrowDeadlinePassed", async function () {
      const c = await setup("Payment");
      const { payeeAuth, payerAuth } = await sigs(c);
      await time.setNextBlockTimestamp(c.deal.deadline + 1n);
      await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerAuth))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
        .withArgs(c.id, c.deal.deadline);
    });

    it("when the payee's Perform signature is wrong or another action's → it reverts EscrowInvalidSignature(dealId, payee)", async function () {
      const c = await setup("OffRamp");
      const { payeeAuth, payerAuth } = await sigs(c);
      const bads = [
        await sign(c, c.p.other, Action.Perform),
        await sign(c, c.payer, Action.Perform),
        await sign(c, c.payee, Action.Release),
        payerAuth,
      ];
      for (const bad of bads) {
        await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, bad, payerAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payee.address);
      }
      // swapped slots
      await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payerAuth, payeeAuth))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
        .withArgs(c.id, c.payee.address);
    });

    it("when the payer's Release signature is wrong or another action's → it reverts EscrowInvalidSignature(dealId, payer)", async function () {
      const c = await setup("OnRamp");
      const { payeeAuth } = await sigs(c);
      const bads = [
        await sign(c, c.p.other, Action.Release),
        await sign(c, c.p.delegate, Action.Release),
        await sign(c, c.payer, Action.Cancel),
        payeeAuth,
      ];
      for (const bad of bads) {
        await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, bad))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payer.address);
      }
    });

    it("when a signature has expired → it reverts EscrowSignatureExpired(expiry)", async function () {
      const c = await setup("Payment");
      const { payeeAuth, payerAuth } = await sigs(c);
      const expiry = await now();
      const oldPayee = await sign(c, c.payee, Action.Perform, expiry);
      const oldPayer = await sign(c, c.payer, Action.Release, expiry - 1n);
      await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, oldPayee, payerAuth))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry);
      await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, oldPayer))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry - 1n);
    });

    describe("when both signatures are valid", function () {
      for (const kind of KINDS) {
        for (const state of ["Open", "OpenReleased", "Performed"] as State[]) {
          it(`${kind}: when the deal is ${state === "OpenReleased" ? "Open and released" : state} → Released; the payee gets the amount less the fee`, async function () {
            const c = await setup(kind, state);
            const { payeeAuth, payerAuth } = await sigs(c);
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerAuth),
              releasePayout(c),
              Status.Released,
            );
            await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased"]);
          });
        }
      }

      it("when the deal is Open at exactly the deadline → Released", async function () {
        const c = await setup("Payment");
        const payeeAuth = await sign(c, c.payee, Action.Perform, c.deal.deadline);
        const payerAuth = await sign(c, c.payer, Action.Release, c.deal.deadline);
        await time.setNextBlockTimestamp(c.deal.deadline);
        await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerAuth),
          releasePayout(c),
          Status.Released,
        );
      });

      it("when the deal is Performed after the deadline → Released (the deadline binds only an open deal)", async function () {
        const c = await setup("Payment", "Performed");
        await time.increaseTo(c.deal.deadline + 1n);
        const { payeeAuth, payerAuth } = await sigs(c);
        await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerAuth),
          releasePayout(c),
          Status.Released,
        );
      });

      for (const kind of KINDS) {
        it(`${kind}: when the deal is Disputed and the gateway holds the dispute → Released; its open disputes fall by one`, async function () {
          const c = await setup(kind, "Disputed");
          const { payeeAuth, payerAuth } = await sigs(c);
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerAuth),
            releasePayout(c),
            Status.Released,
          );
          await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
          expect(await openDisputes(c.p)).to.equal(0n);
        });
      }

      it("when the deal is Disputed and the gateway does not hold it (raised while suspended, then Exiting) → Released; the counter is unchanged", async function () {
        const c = await disputeWith("suspended, then Exiting");
        const { payeeAuth, payerAuth } = await sigs(c);
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerAuth),
          releasePayout(c),
          Status.Released,
        );
        await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
        expect(await openDisputes(c.p)).to.equal(1n);
      });
    });
  });

  /*------------------------------------------------------------
                           cancelWithSigs
  ------------------------------------------------------------*/
  describe("cancelWithSigs", function () {
    async function sigs(c: Ctx) {
      return {
        payerAuth: await sign(c, c.payer, Action.Cancel),
        payeeAuth: await sign(c, c.payee, Action.Cancel),
      };
    }

    behavesLikeACallOnAKnownDeal(cancelSigsSubject);
    behavesLikeACallRefusedFrom(cancelSigsSubject, FINAL_STATES, finalLabel);

    it("when the payer's Cancel signature is wrong or another action's → it reverts EscrowInvalidSignature(dealId, payer)", async function () {
      const c = await setup("OnRamp");
      const { payerAuth, payeeAuth } = await sigs(c);
      const bads = [
        await sign(c, c.p.other, Action.Cancel),
        await sign(c, c.p.delegate, Action.Cancel),
        await sign(c, c.payer, Action.Release),
        payeeAuth,
      ];
      for (const bad of bads) {
        await expect(c.p.escrow.connect(c.p.other).cancelWithSigs(c.deal, bad, payeeAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payer.address);
      }
      expect(payerAuth.signature).to.not.equal(payeeAuth.signature);
    });

    it("when the payee's Cancel signature is wrong or another action's → it reverts EscrowInvalidSignature(dealId, payee)", async function () {
      const c = await setup("Payment", "Disputed");
      const { payerAuth } = await sigs(c);
      const bads = [await sign(c, c.p.other, Action.Cancel), await sign(c, c.payee, Action.Perform), payerAuth];
      for (const bad of bads) {
        await expect(c.p.escrow.connect(c.p.other).cancelWithSigs(c.deal, payerAuth, bad))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payee.address);
      }
      expect(await openDisputes(c.p)).to.equal(1n);
    });

    it("when a signature has expired → it reverts EscrowSignatureExpired(expiry)", async function () {
      const c = await setup("Payment");
      const { payerAuth, payeeAuth } = await sigs(c);
      const expiry = await now();
      const oldPayer = await sign(c, c.payer, Action.Cancel, expiry);
      const oldPayee = await sign(c, c.payee, Action.Cancel, expiry - 2n);
      await expect(c.p.escrow.connect(c.p.other).cancelWithSigs(c.deal, oldPayer, payeeAuth))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry);
      await expect(c.p.escrow.connect(c.p.other).cancelWithSigs(c.deal, payerAuth, oldPayee))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry - 2n);
    });

    describe("when both signatures are valid", function () {
      for (const kind of KINDS) {
        for (const state of ["Open", "Performed", "Disputed"] as State[]) {
          const branch =
            state === "Disputed"
              ? "when the deal is Disputed and the gateway holds the dispute → Refunded (MutualCancel); its open disputes fall by one"
              : `when the deal is ${state} → Refunded (MutualCancel); the whole amount back`;
          it(`${kind}: ${branch}`, async function () {
            const c = await setup(kind, state);
            const { payerAuth, payeeAuth } = await sigs(c);
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.other).cancelWithSigs(c.deal, payerAuth, payeeAuth),
              refundPayout(c),
              Status.Refunded,
            );
            await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.MutualCancel);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealRefunded"]);
            if (state === "Disputed") {
              await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
              expect(await openDisputes(c.p)).to.equal(0n);
            } else {
              await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
            }
          });
        }
      }

      it("when the deal is Performed, the registry paused and the deadline passed → Refunded all the same", async function () {
        const c = await setup("Payment", "Performed");
        await c.p.registry.connect(c.p.pauser).pause();
        await time.increaseTo(c.deal.deadline + 1n);
        const { payerAuth, payeeAuth } = await sigs(c);
        await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.other).cancelWithSigs(c.deal, payerAuth, payeeAuth),
          refundPayout(c),
          Status.Refunded,
        );
      });

      it("when the deal is Disputed and the gateway does not hold it (registry refused to count it) → Refunded; the counter is unchanged", async function () {
        const c = await disputeWith("registry refuses");
        const { payerAuth, payeeAuth } = await sigs(c);
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.other).cancelWithSigs(c.deal, payerAuth, payeeAuth),
          refundPayout(c),
          Status.Refunded,
        );
        await expect(tx).not.to.emit(c.p.escrow, "DisputeCountSkipped");
        expect(await openDisputes(c.p)).to.equal(1n);
      });
    });
  });

  /*------------------------------------------------------------
                     disputes always end (review 2)
  ------------------------------------------------------------*/
  describe("disputes always end: the payer's release, the payee's cancel, settleWithSigs and cancelWithSigs end any dispute", function () {
    const enders: { name: string; pay: (c: Ctx) => Payout; run: (c: Ctx) => Promise<ContractTransactionResponse> }[] = [
      {
        name: "the payer releases (payee gets the amount less the fee, the gateway the fee)",
        pay: releasePayout,
        run: (c) => c.p.escrow.connect(c.payer).release(c.deal),
      },
      {
        name: "the payee cancels (all back)",
        pay: refundPayout,
        run: (c) => c.p.escrow.connect(c.payee).cancel(c.deal),
      },
      {
        name: "both sign settleWithSigs",
        pay: releasePayout,
        run: async (c) =>
          c.p.escrow
            .connect(c.p.other)
            .settleWithSigs(c.deal, await sign(c, c.payee, Action.Perform), await sign(c, c.payer, Action.Release)),
      },
      {
        name: "both sign cancelWithSigs",
        pay: refundPayout,
        run: async (c) =>
          c.p.escrow
            .connect(c.p.other)
            .cancelWithSigs(c.deal, await sign(c, c.payer, Action.Cancel), await sign(c, c.payee, Action.Cancel)),
      },
    ];
    const holdings: Holding[] = ["held", "Exiting", "suspended", "suspended, then Exiting"];

    for (const e of enders) {
      for (const holding of holdings) {
        const held = holding === "held";
        it(`a dispute ${held ? "the gateway holds" : `raised while the gateway is ${holding}`}: ${e.name} → final; the counter ${held ? "falls by exactly one" : "is unchanged"}`, async function () {
          const c = await disputeWith(holding, "OffRamp");
          const before = await openDisputes(c.p);
          expect(before).to.equal(1n);
          const tx = await expectSettlement(
            c,
            () => e.run(c),
            e.pay(c),
            e.pay(c).refund ? Status.Refunded : Status.Released,
          );
          expect(await openDisputes(c.p)).to.equal(held ? 0n : 1n);
          if (held) {
            await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
          } else {
            await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
          }
          await expect(tx).not.to.emit(c.p.escrow, "DisputeCountSkipped");
        });
      }

      it(`with the gateway gone (Exited) and no arbiter left: ${e.name} → the deal ends`, async function () {
        const c = await disputeWith("Exited", "OnRamp");
        await c.p.registry.connect(c.p.admin).revokeRole(await c.p.registry.ARBITER_ROLE(), c.p.arbiter.address);
        await time.increase(RESOLUTION_WINDOW + 1);
        for (const s of [c.p.gateway, c.p.arbiter]) {
          await expect(c.p.escrow.connect(s).resolve(c.deal, USDT(50), REASONS))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, s.address);
        }
        const tx = await expectSettlement(
          c,
          () => e.run(c),
          e.pay(c),
          e.pay(c).refund ? Status.Refunded : Status.Released,
        );
        await expect(tx).not.to.emit(c.p.escrow, "DisputeCountSkipped");
        expect(await openDisputes(c.p)).to.equal(0n);
      });
    }
  });

  /*------------------------------------------------------------
                              resolve
  ------------------------------------------------------------*/
  describe("resolve", function () {
    const SPLIT = USDT(60); // of 100

    behavesLikeACallOnAKnownDeal(resolveSubject);
    behavesLikeACallRefusedFrom(resolveSubject, ["Open", "OpenReleased", "Performed"], (st) =>
      st === "OpenReleased" ? "not Disputed (Open and released)" : `not Disputed (${st})`,
    );
    behavesLikeACallRefusedFrom(resolveSubject, FINAL_STATES, finalLabel);

    it("when payeeAmount > amount → it reverts EscrowPayeeAmountTooHigh (gateway in its window, arbiter after it)", async function () {
      const c = await setup("Payment", "Disputed");
      await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, c.deal.amount + 1n, REASONS))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowPayeeAmountTooHigh")
        .withArgs(c.id, c.deal.amount + 1n, c.deal.amount);
      await time.increase(RESOLUTION_WINDOW + 1);
      await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, c.deal.amount + 1n, REASONS))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowPayeeAmountTooHigh")
        .withArgs(c.id, c.deal.amount + 1n, c.deal.amount);
    });

    describe("when the caller is the deal's gateway", function () {
      describe("when it holds the dispute and may rule (not suspended; Active or Exiting)", function () {
        it("when the resolution window has ended → it reverts EscrowResolutionWindowClosed(dealId, disputedAt + window)", async function () {
          const c = await setup("Payment", "Disputed");
          const endsAt = await resolutionEnd(c);
          await time.setNextBlockTimestamp(endsAt + 1n);
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowClosed")
            .withArgs(c.id, endsAt);
        });

        it("when the resolution window has ended → it reverts EscrowResolutionWindowClosed; the window counts from the dispute, not from perform", async function () {
          const c = await setup("Payment", "Performed");
          await time.increase(2 * DAY);
          const tx = await c.p.escrow.connect(c.payer).dispute(c.deal);
          const endsAt = (await tsOf(tx)) + BigInt(RESOLUTION_WINDOW);
          expect(await resolutionEnd(c)).to.equal(endsAt);
          await time.setNextBlockTimestamp(endsAt + 1n);
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowClosed")
            .withArgs(c.id, endsAt);
        });

        describe("when the window runs → Resolved; DealResolved(by gateway, payee less fee, fee, refund, reasons); its open disputes fall by one", function () {
          for (const kind of KINDS) {
            it(`${kind}: payee gets payeeAmount − fee, fee owed to the gateway, payer gets the rest, reasons in DealResolved, openDisputes − 1`, async function () {
              const c = await setup(kind, "Disputed");
              const pay = gatewayRuling(c, SPLIT);
              expect(pay.fee).to.equal(USDT("0.3"));
              expect(await openDisputes(c.p)).to.equal(1n);
              const tx = await expectSettlement(
                c,
                () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS),
                pay,
                Status.Resolved,
              );
              await expect(tx)
                .to.emit(c.p.escrow, "DealResolved")
                .withArgs(c.id, c.p.gateway.address, USDT("59.7"), USDT("0.3"), USDT(40), REASONS);
              await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
              expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealResolved"]);
              expect(await openDisputes(c.p)).to.equal(0n);
            });
          }

          it("at exactly the end of the window, with no reasons (zero hash)", async function () {
            const c = await setup("Payment", "Disputed");
            const endsAt = await resolutionEnd(c);
            await time.setNextBlockTimestamp(endsAt);
            const pay = gatewayRuling(c, SPLIT);
            await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, ethers.ZeroHash))
              .to.emit(c.p.escrow, "DealResolved")
              .withArgs(c.id, c.p.gateway.address, pay.payeeNet, pay.fee, pay.refund, ethers.ZeroHash);
          });

          it("payeeAmount 0: everything back to the payer, no fee", async function () {
            const c = await setup("Payment", "Disputed");
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, 0n, REASONS),
              refundPayout(c),
              Status.Resolved,
            );
            await expect(tx)
              .to.emit(c.p.escrow, "DealResolved")
              .withArgs(c.id, c.p.gateway.address, 0n, 0n, c.deal.amount, REASONS);
          });

          it("payeeAmount = amount: everything to the payee less the fee, no refund", async function () {
            const c = await setup("OffRamp", "Disputed");
            const pay = releasePayout(c);
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, c.deal.amount, REASONS),
              pay,
              Status.Resolved,
            );
            await expect(tx)
              .to.emit(c.p.escrow, "DealResolved")
              .withArgs(c.id, c.p.gateway.address, pay.payeeNet, pay.fee, 0n, REASONS);
          });

          it("OnRamp, payeeAmount 0: the whole amount back to the acceptor's free float", async function () {
            const c = await setup("OnRamp", "Disputed");
            await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, 0n, REASONS),
              refundPayout(c),
              Status.Resolved,
            );
            expect(await floatOf(c.p, c.deal.token)).to.deep.equal([FLOAT, 0n]);
          });

          it("rounds the fee down on the payee's share (333333 base units → fee 1666)", async function () {
            const c = await setup("Payment", "Disputed");
            await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, 333_333n, REASONS),
              { payeeNet: 331_667n, fee: 1_666n, refund: c.deal.amount - 333_333n },
              Status.Resolved,
            );
          });

          it("charges the deal's 50 bps after the gateway raised its fee to 100 bps", async function () {
            const c = await setup("OnRamp", "Disputed");
            await c.p.registry.connect(c.p.gateway).setGatewayFee(100);
            await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
              .to.emit(c.p.escrow, "DealResolved")
              .withArgs(c.id, c.p.gateway.address, USDT("59.7"), USDT("0.3"), USDT(40), REASONS);
          });

          it("when the registry is paused → it rules all the same", async function () {
            const c = await setup("Payment", "Disputed");
            await c.p.registry.connect(c.p.pauser).pause();
            await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS)).to.emit(
              c.p.escrow,
              "DealResolved",
            );
          });

          it("when it requested exit after the dispute → it still rules it (with its fee); the arbiter is refused in the window", async function () {
            const p = await loadFixture(protocolWithFloat);
            const c = await openKind(p, "OffRamp");
            await reach(c, "Disputed");
            await p.registry.connect(p.gateway).requestExit();
            expect((await p.registry.getGateway(p.gateway.address)).status).to.equal(GatewayStatus.Exiting);
            await expect(p.escrow.connect(p.arbiter).resolve(c.deal, SPLIT, REASONS))
              .to.be.revertedWithCustomError(p.escrow, "EscrowResolutionWindowOpen")
              .withArgs(c.id, await resolutionEnd(c));
            await expectSettlement(
              c,
              () => p.escrow.connect(p.gateway).resolve(c.deal, SPLIT, REASONS),
              gatewayRuling(c, SPLIT),
              Status.Resolved,
            );
            expect(await openDisputes(p)).to.equal(0n);
          });

          it("when it was suspended and then reinstated → it rules again within the window; the arbiter is refused", async function () {
            const c = await setup("Payment", "Disputed");
            const endsAt = await resolutionEnd(c);
            await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
            await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
              .withArgs(c.id, c.p.gateway.address);
            await c.p.registry.connect(c.p.governor).reinstateGateway(c.p.gateway.address);
            await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT, REASONS))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
              .withArgs(c.id, endsAt);
            await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS),
              gatewayRuling(c, SPLIT),
              Status.Resolved,
            );
          });
        });
      });

      describe("when it does not hold the dispute or may not rule → it reverts EscrowUnauthorized", function () {
        it("when it holds the dispute but is suspended → EscrowUnauthorized", async function () {
          const c = await setup("OnRamp", "Disputed");
          await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, c.p.gateway.address);
        });

        it("when it holds the dispute, is suspended, then requests exit → EscrowUnauthorized (the sanction stays); the arbiter rules at once", async function () {
          const c = await setup("Payment", "Disputed");
          await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
          await c.p.registry.connect(c.p.gateway).requestExit();
          const g = await c.p.registry.getGateway(c.p.gateway.address);
          expect([g.status, g.suspended]).to.deep.equal([BigInt(GatewayStatus.Exiting), true]);
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, c.p.gateway.address);
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT, REASONS),
            arbiterRuling(c, SPLIT),
            Status.Resolved,
          );
          await expect(tx)
            .to.emit(c.p.escrow, "DealResolved")
            .withArgs(c.id, c.p.arbiter.address, SPLIT, 0n, c.deal.amount - SPLIT, REASONS);
          expect(await openDisputes(c.p)).to.equal(0n);
        });

        for (const holding of NOT_HELD) {
          it(`when the dispute was raised while it was ${holding === "registry refuses" ? "Active but the registry refused to count it" : holding} (not held) → EscrowUnauthorized, even in the window`, async function () {
            const c = await disputeWith(holding);
            await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
              .withArgs(c.id, c.p.gateway.address);
          });
        }

        it("when the dispute was raised after it requested exit, and it is later reinstated to good standing → still EscrowUnauthorized (it never held it)", async function () {
          const c = await disputeWith("suspended, then Exiting");
          await c.p.registry.connect(c.p.governor).reinstateGateway(c.p.gateway.address);
          expect(await c.p.registry.canRule(c.p.gateway.address)).to.equal(true);
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT, REASONS))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, c.p.gateway.address);
        });
      });
    });

    describe("when the caller is an arbiter", function () {
      it("when the gateway holds the dispute, may rule and the window runs → it reverts EscrowResolutionWindowOpen (also at its last second)", async function () {
        const c = await setup("Payment", "Disputed");
        const endsAt = await resolutionEnd(c);
        await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT, REASONS))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
          .withArgs(c.id, endsAt);
        await time.setNextBlockTimestamp(endsAt);
        await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT, REASONS))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
          .withArgs(c.id, endsAt);
      });

      describe("otherwise → Resolved with no fee; DealResolved(by arbiter, ..., reasons); a held dispute is uncounted", function () {
        for (const kind of KINDS) {
          it(`${kind}: when the window is over → Resolved with no fee; the held dispute is uncounted`, async function () {
            const c = await setup(kind, "Disputed");
            await time.setNextBlockTimestamp((await resolutionEnd(c)) + 1n);
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT, REASONS),
              arbiterRuling(c, SPLIT),
              Status.Resolved,
            );
            await expect(tx)
              .to.emit(c.p.escrow, "DealResolved")
              .withArgs(c.id, c.p.arbiter.address, SPLIT, 0n, c.deal.amount - SPLIT, REASONS);
            await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
            expect(await openDisputes(c.p)).to.equal(0n);
          });
        }

        it("when the window is over, payeeAmount = amount → the whole amount to the payee, no fee", async function () {
          const c = await setup("Payment", "Disputed");
          await time.increase(RESOLUTION_WINDOW + 1);
          await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.arbiter).resolve(c.deal, c.deal.amount, REASONS),
            arbiterRuling(c, c.deal.amount),
            Status.Resolved,
          );
        });

        it("when the gateway holding the dispute is suspended → at once, no fee; the held dispute is uncounted", async function () {
          const c = await setup("OnRamp", "Disputed");
          await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT, REASONS),
            arbiterRuling(c, SPLIT),
            Status.Resolved,
          );
          await expect(tx)
            .to.emit(c.p.escrow, "DealResolved")
            .withArgs(c.id, c.p.arbiter.address, SPLIT, 0n, c.deal.amount - SPLIT, REASONS);
          expect(await openDisputes(c.p)).to.equal(0n);
        });

        for (const holding of NOT_HELD) {
          it(`when the dispute is not held (raised while ${holding === "registry refuses" ? "the registry refused to count it" : `the gateway was ${holding}`}) → at once, no fee; the counter is unchanged`, async function () {
            const c = await disputeWith(holding);
            const before = await openDisputes(c.p);
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT, REASONS),
              arbiterRuling(c, SPLIT),
              Status.Resolved,
            );
            await expect(tx)
              .to.emit(c.p.escrow, "DealResolved")
              .withArgs(c.id, c.p.arbiter.address, SPLIT, 0n, c.deal.amount - SPLIT, REASONS);
            await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
            await expect(tx).not.to.emit(c.p.escrow, "DisputeCountSkipped");
            expect(await openDisputes(c.p)).to.equal(before);
          });
        }
      });
    });

    it("when the caller is anyone else (parties, governor, another gateway, admin, lock delegate) → it reverts EscrowUnauthorized, in and after the window", async function () {
      const c = await setup("OffRamp", "Disputed");
      const callers = [c.payer, c.payee, c.p.other, c.p.governor, c.p.gateway2, c.p.admin, c.p.delegate];
      for (const s of callers) {
        await expect(c.p.escrow.connect(s).resolve(c.deal, SPLIT, REASONS))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, s.address);
      }
      await time.increase(RESOLUTION_WINDOW + 1);
      for (const s of callers) {
        await expect(c.p.escrow.connect(s).resolve(c.deal, SPLIT, REASONS))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, s.address);
      }
    });
  });

  /*------------------------------------------------------------
                              multicall
  ------------------------------------------------------------*/
  describe("multicall (batches)", function () {
    const N = 20;

    async function performedBatch(): Promise<Ctx[]> {
      const p = await loadFixture(protocolWithFloat);
      const deals: Ctx[] = [];
      for (let i = 0; i < N; i++) {
        const c = await openKind(p, "Payment", { amount: USDT(10 + i) });
        await reach(c, "Performed");
        deals.push(c);
      }
      return deals;
    }

    it("the payer releases 20 performed deals in one transaction", async function () {
      const deals = await performedBatch();
      const { p } = deals[0];
      const token = p.usdt;
      const escrowAddr = await p.escrow.getAddress();
      const fees = deals.map((c) => feeOf(c.deal.amount, c.deal.feeBps));
      const totalFee = fees.reduce((a, b) => a + b, 0n);
      const totalNet = deals.reduce((a, c, i) => a + c.deal.amount - fees[i], 0n);
      const owedBefore = await p.escrow.owed(await token.getAddress(), p.gateway.address);

      const calls = deals.map((c) => p.escrow.interface.encodeFunctionData("release", [c.deal]));
      const tx = await p.escrow.connect(p.payer).multicall(calls);
      const ts = await tsOf(tx);

      await expect(tx).to.changeTokenBalances(token, [p.payee.address, escrowAddr], [totalNet, -totalNet]);
      expect(await p.escrow.owed(await token.getAddress(), p.gateway.address)).to.equal(owedBefore + totalFee);
      expect(await escrowEventNames(p, tx)).to.deep.equal(Array(N).fill("DealReleased"));
      for (const c of deals) {
        await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(c.id);
        await expectRecord(c, Status.Released, ts);
      }
    });

    it("a batch where one call reverts reverts as a whole (with that call's error)", async function () {
      const deals = await performedBatch();
      const { p } = deals[0];
      const bad = deals[7];
      await p.escrow.connect(bad.payee).cancel(bad.deal);
      const refundedAt = (await p.escrow.getDeal(bad.id)).since;
      const before = await books(deals[0]);

      const calls = deals.map((c) => p.escrow.interface.encodeFunctionData("release", [c.deal]));
      await expect(p.escrow.connect(p.payer).multicall(calls))
        .to.be.revertedWithCustomError(p.escrow, "EscrowWrongStatus")
        .withArgs(bad.id, Status.Refunded);

      await expectUntouched(deals[0], before);
      for (const c of deals) {
        if (c === bad) await expectRecord(c, Status.Refunded, refundedAt);
        else expect(await statusOf(c)).to.equal(Status.Performed);
      }
    });

    it("a batch submitted by someone other than the payer reverts EscrowUnauthorized", async function () {
      const deals = await performedBatch();
      const { p } = deals[0];
      const calls = deals.map((c) => p.escrow.interface.encodeFunctionData("release", [c.deal]));
      await expect(p.escrow.connect(p.other).multicall(calls))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(deals[0].id, p.other.address);
    });
  });

  /*------------------------------------------------------------
                                fees
  ------------------------------------------------------------*/
  describe("fees are fixed at open", function () {
    it("a deal opened at 50 bps keeps it after the gateway sets 100 bps", async function () {
      const c = await setup("Payment", "Performed");
      expect(c.deal.feeBps).to.equal(50n);
      await c.p.registry.connect(c.p.gateway).setGatewayFee(100);
      expect((await c.p.registry.getGateway(c.p.gateway.address)).feeBps).to.equal(100n);
      // the deal cannot be re-labelled with the new fee
      await expect(c.p.escrow.connect(c.payer).release({ ...c.deal, feeBps: 100n }))
        .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
        .withArgs(c.id);
      await expectSettlement(
        c,
        () => c.p.escrow.connect(c.payer).release(c.deal),
        { payeeNet: USDT("99.5"), fee: USDT("0.5"), refund: 0n },
        Status.Released,
      );
    });

    it("a deal opened after the change is charged 100 bps", async function () {
      const p = await loadFixture(protocolWithFloat);
      await p.registry.connect(p.gateway).setGatewayFee(100);
      const c = await openKind(p, "Payment", { feeBps: 100n });
      await reach(c, "Performed");
      await expectSettlement(
        c,
        () => p.escrow.connect(c.payer).release(c.deal),
        { payeeNet: USDT(99), fee: USDT(1), refund: 0n },
        Status.Released,
      );
    });
  });
});

/*//////////////////////////////////////////////////////////////
                      HELPERS USED ABOVE (hoisted)
//////////////////////////////////////////////////////////////*/

/** Deploys an ERC-1271 wallet whose owner is `owner` (it accepts exactly the owner's signatures). */
async function deployWallet(owner: HardhatEthersSigner): Promise<ERC1271Wallet> {
  const f = await ethers.getContractFactory("ERC1271Wallet");
  return (await f.deploy(owner.address)) as unknown as ERC1271Wallet;
}

/** The EIP-712 struct hash of DealAction(dealId, action, expiry). */
function actionStructHash(dealId: string, action: number, expiry: bigint): string {
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
async function callsTo(p: Protocol, data: string, target: string): Promise<string[]> {
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
async function floatOf(p: Protocol, token: string): Promise<[bigint, bigint]> {
  const f = await p.escrow.floatOf(p.acceptor.address, token);
  return [f.free, f.locked];
}
