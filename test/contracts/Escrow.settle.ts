import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionResponse } from "ethers";
import {
  Action,
  DAY,
  DEAL_TYPE,
  GATEWAY_FEE_BPS,
  GatewayStatus,
  Kind,
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
  lockDeal,
  makeDeal,
  openDeal,
  signAction,
  type Deal,
  type DealOut,
  type Protocol,
  loadFixture,
} from "./fixtures";

/*//////////////////////////////////////////////////////////////
                        FIXTURE AND HELPERS
//////////////////////////////////////////////////////////////*/

/** Free float the acceptor holds in every test, enough for the on-ramp deals opened below. */
const FLOAT = USDT(10_000);
/** Default deal amount (makeDeal). */
const AMOUNT = USDT(100);

/** The shared protocol plus a USDT float deposited by the acceptor. */
async function protocolWithFloat(): Promise<Protocol> {
  const p = await deployProtocol();
  await depositFloat(p, FLOAT);
  return p;
}

type KindName = "Payment" | "OffRamp" | "OnRamp";
const KINDS: KindName[] = ["Payment", "OffRamp", "OnRamp"];

/** A deal opened in a test, with the signers of its two parties. */
interface Ctx {
  p: Protocol;
  kind: KindName;
  deal: DealOut;
  id: string;
  payer: HardhatEthersSigner; // the funder: the payer's wallet, or the acceptor (OnRamp)
  payee: HardhatEthersSigner;
}

/**
 * Opens a deal of `kind`: Payment payer → payee from the wallet; OffRamp payer → acceptor (payee) from the wallet;
 * OnRamp acceptor (payer) → payee locked from the acceptor's float.
 */
async function openKind(p: Protocol, kind: KindName = "Payment", over: Partial<Deal> = {}): Promise<Ctx> {
  if (kind === "OnRamp") {
    const deal = await makeDeal(p, { payer: p.acceptor.address, payee: p.payee.address, kind: Kind.OnRamp, ...over });
    const id = await lockDeal(p, deal);
    return { p, kind, deal, id, payer: p.acceptor, payee: p.payee };
  }
  const payee = kind === "OffRamp" ? p.acceptor : p.payee;
  const deal = await makeDeal(p, {
    payee: payee.address,
    kind: kind === "OffRamp" ? Kind.OffRamp : Kind.Payment,
    ...over,
  });
  const id = await openDeal(p, deal);
  return { p, kind, deal, id, payer: p.payer, payee };
}

type State = "Open" | "OpenReleased" | "Performed" | "Disputed" | "Released" | "Refunded" | "Resolved";
const STATUS_OF: Record<State, number> = {
  Open: Status.Open,
  OpenReleased: Status.Open,
  Performed: Status.Performed,
  Disputed: Status.Disputed,
  Released: Status.Released,
  Refunded: Status.Refunded,
  Resolved: Status.Resolved,
};
const FINAL_STATES: State[] = ["Released", "Refunded", "Resolved"];

/** Drives an open deal to `state` by the parties' ordinary calls. */
async function reach(c: Ctx, state: State): Promise<void> {
  const e = c.p.escrow;
  switch (state) {
    case "Open":
      return;
    case "OpenReleased":
      await e.connect(c.payer).release(c.deal);
      return;
    case "Performed":
      await e.connect(c.payee).perform(c.deal);
      return;
    case "Disputed":
      await e.connect(c.payee).perform(c.deal);
      await e.connect(c.payer).dispute(c.deal);
      return;
    case "Released":
      await e.connect(c.payee).perform(c.deal);
      await e.connect(c.payer).release(c.deal);
      return;
    case "Refunded":
      await e.connect(c.payee).cancel(c.deal);
      return;
    case "Resolved":
      await e.connect(c.payee).perform(c.deal);
      await e.connect(c.payer).dispute(c.deal);
      await e.connect(c.p.gateway).resolve(c.deal, c.deal.amount / 2n);
      return;
  }
}

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
async function expectRecord(c: Ctx, status: number, since: bigint, payerReleased = false): Promise<void> {
  const r = await c.p.escrow.getDeal(c.id);
  expect(r.status).to.equal(status);
  expect(r.since).to.equal(since);
  expect(r.payerReleased).to.equal(payerReleased);
  expect(r.commitment.toLowerCase()).to.equal(commitmentOf(c.deal).toLowerCase());
  expect(await c.p.escrow.statusOf(c.id)).to.equal(status);
}

async function openDisputes(p: Protocol, gw = p.gateway.address): Promise<bigint> {
  return (await p.registry.getGateway(gw)).openDisputes;
}

/** Balances and escrow books that a settlement may touch. */
async function books(c: Ctx) {
  const { p, deal } = c;
  const token = p.usdt;
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

/** Asserts that nothing moved: balances, float and owed unchanged since `before`. */
async function expectUntouched(c: Ctx, before: Awaited<ReturnType<typeof books>>): Promise<void> {
  expect(await books(c)).to.deep.equal(before);
}

async function sign(c: Ctx, signer: HardhatEthersSigner, action: number, expiry?: bigint) {
  return signAction(c.p.escrow, signer, c.id, action, expiry);
}

async function now(): Promise<bigint> {
  return BigInt(await time.latest());
}

/*//////////////////////////////////////////////////////////////
                              TESTS
//////////////////////////////////////////////////////////////*/

describe("Escrow — after open (state machine)", function () {
  /*------------------------------------------------------------
                    Common: the deal's parameters
  ------------------------------------------------------------*/
  describe("every deal call checks the deal against its commitment", function () {
    type Call = (c: Ctx, deal: DealOut) => Promise<ContractTransactionResponse>;
    const cases: { name: string; state: State; prepare?: (c: Ctx) => Promise<void>; call: Call }[] = [
      { name: "perform", state: "Open", call: (c, d) => c.p.escrow.connect(c.payee).perform(d) },
      { name: "release", state: "Performed", call: (c, d) => c.p.escrow.connect(c.payer).release(d) },
      { name: "cancel", state: "Open", call: (c, d) => c.p.escrow.connect(c.payee).cancel(d) },
      { name: "dispute", state: "Performed", call: (c, d) => c.p.escrow.connect(c.payer).dispute(d) },
      {
        name: "claim",
        state: "Performed",
        prepare: async () => {
          await time.increase(RELEASE_WINDOW + 1);
        },
        call: (c, d) => c.p.escrow.connect(c.payee).claim(d),
      },
      {
        name: "refund",
        state: "Open",
        prepare: async (c) => {
          await time.increaseTo(c.deal.deadline);
        },
        call: (c, d) => c.p.escrow.connect(c.p.other).refund(d),
      },
      {
        name: "actWithSig",
        state: "Open",
        call: async (c, d) =>
          c.p.escrow
            .connect(c.p.other)
            .actWithSig(d, Action.Perform, await signAction(c.p.escrow, c.payee, dealIdOf(d), Action.Perform)),
      },
      {
        name: "settleWithSigs",
        state: "Open",
        call: async (c, d) =>
          c.p.escrow
            .connect(c.p.other)
            .settleWithSigs(
              d,
              await signAction(c.p.escrow, c.payee, dealIdOf(d), Action.Perform),
              await signAction(c.p.escrow, c.payer, dealIdOf(d), Action.Release),
            ),
      },
      {
        name: "cancelWithSigs",
        state: "Open",
        call: async (c, d) =>
          c.p.escrow
            .connect(c.p.other)
            .cancelWithSigs(
              d,
              await signAction(c.p.escrow, c.payer, dealIdOf(d), Action.Cancel),
              await signAction(c.p.escrow, c.payee, dealIdOf(d), Action.Cancel),
            ),
      },
      {
        name: "resolve",
        state: "Disputed",
        call: (c, d) => c.p.escrow.connect(c.p.gateway).resolve(d, d.amount / 2n),
      },
    ];

    for (const k of cases) {
      describe(k.name, function () {
        it("reverts EscrowUnknownDeal when a field differs from the opened deal (amount + 1), then works with it", async function () {
          const c = await setup("Payment", k.state, { autoRelease: true });
          if (k.prepare) await k.prepare(c);
          const tampered = { ...c.deal, amount: c.deal.amount + 1n };
          await expect(k.call(c, tampered))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
            .withArgs(c.id);
          await expect(k.call(c, c.deal)).not.to.be.reverted;
        });

        it("reverts EscrowUnknownDeal for a deal that was never opened", async function () {
          const c = await setup("Payment", k.state, { autoRelease: true });
          if (k.prepare) await k.prepare(c);
          const unknown = await makeDeal(c.p, { autoRelease: true, deadline: c.deal.deadline });
          await expect(k.call(c, unknown))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
            .withArgs(dealIdOf(unknown));
        });
      });
    }

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
        it(`reverts EscrowUnknownDeal when ${m.field} differs`, async function () {
          const c = await setup("Payment", "Performed");
          const d = await m.mutate(c);
          await expect(c.p.escrow.connect(c.payer).release(d))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
            .withArgs(c.id);
        });
      }

      it("reverts EscrowUnknownDeal (for the other id) when the salt differs", async function () {
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
    describe("validations", function () {
      for (const kind of KINDS) {
        it(`${kind}: only the payee — payer, gateway, arbiter and others revert EscrowUnauthorized`, async function () {
          const c = await setup(kind);
          for (const s of [c.payer, c.p.gateway, c.p.arbiter, c.p.other, c.p.delegate]) {
            await expect(c.p.escrow.connect(s).perform(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
              .withArgs(c.id, s.address);
          }
        });
      }

      for (const state of ["Performed", "Disputed", ...FINAL_STATES] as State[]) {
        it(`reverts EscrowWrongStatus from ${state}`, async function () {
          const c = await setup("Payment", state);
          await expect(c.p.escrow.connect(c.payee).perform(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
        });
      }

      it("works at exactly the deadline", async function () {
        const c = await setup();
        await time.setNextBlockTimestamp(c.deal.deadline);
        const tx = await c.p.escrow.connect(c.payee).perform(c.deal);
        expect(await tsOf(tx)).to.equal(c.deal.deadline);
        await expectRecord(c, Status.Performed, c.deal.deadline);
      });

      it("reverts EscrowDeadlinePassed after the deadline", async function () {
        const c = await setup();
        await time.setNextBlockTimestamp(c.deal.deadline + 1n);
        await expect(c.p.escrow.connect(c.payee).perform(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
          .withArgs(c.id, c.deal.deadline);
      });

      it("reverts EscrowDeadlinePassed after the deadline even when the payer released first", async function () {
        const c = await setup("Payment", "OpenReleased");
        await time.increaseTo(c.deal.deadline);
        await expect(c.p.escrow.connect(c.payee).perform(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
          .withArgs(c.id, c.deal.deadline);
      });
    });

    describe("effects", function () {
      for (const kind of KINDS) {
        it(`${kind}: Open → Performed, emits DealPerformed, moves no funds`, async function () {
          const c = await setup(kind);
          const before = await books(c);
          const tx = await c.p.escrow.connect(c.payee).perform(c.deal);
          await expect(tx).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealPerformed"]);
          await expectRecord(c, Status.Performed, await tsOf(tx));
          await expectUntouched(c, before);
        });

        it(`${kind}: after the payer's release it releases at once (DealPerformed then DealReleased)`, async function () {
          const c = await setup(kind, "OpenReleased");
          const pay = releasePayout(c);
          const tx = await expectSettlement(c, () => c.p.escrow.connect(c.payee).perform(c.deal), pay, Status.Released);
          await expect(tx).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
          await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id, pay.payeeNet, pay.fee);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealPerformed", "DealReleased"]);
        });
      }

      it("works while the registry is paused", async function () {
        const c = await setup();
        await c.p.registry.connect(c.p.pauser).pause();
        await expect(c.p.escrow.connect(c.payee).perform(c.deal)).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
      });
    });
  });

  /*------------------------------------------------------------
                              release
  ------------------------------------------------------------*/
  describe("release", function () {
    describe("validations", function () {
      for (const kind of KINDS) {
        it(`${kind}: only the payer — payee, gateway, arbiter, others and the lock delegate revert EscrowUnauthorized`, async function () {
          const c = await setup(kind, "Performed");
          for (const s of [c.payee, c.p.gateway, c.p.arbiter, c.p.other, c.p.delegate]) {
            await expect(c.p.escrow.connect(s).release(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
              .withArgs(c.id, s.address);
          }
        });
      }

      it("a second release of an open deal reverts EscrowWrongStatus(Open)", async function () {
        const c = await setup("Payment", "OpenReleased");
        await expect(c.p.escrow.connect(c.payer).release(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Open);
      });

      for (const state of ["Disputed", ...FINAL_STATES] as State[]) {
        it(`reverts EscrowWrongStatus from ${state}`, async function () {
          const c = await setup("Payment", state);
          await expect(c.p.escrow.connect(c.payer).release(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
        });
      }
    });

    describe("from Performed: pays out", function () {
      for (const kind of KINDS) {
        it(`${kind}: Performed → Released, payee gets amount − fee, fee owed to the gateway, DealReleased`, async function () {
          const c = await setup(kind, "Performed");
          const pay = releasePayout(c);
          expect(pay.fee).to.equal(USDT("0.5"));
          const tx = await expectSettlement(c, () => c.p.escrow.connect(c.payer).release(c.deal), pay, Status.Released);
          await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id, USDT("99.5"), USDT("0.5"));
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased"]);
        });
      }

      it("rounds the fee down (amount 100.000199 USDT at 50 bps → fee 0.5 USDT)", async function () {
        const c = await setup("Payment", "Performed", { amount: 100_000_199n });
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.payer).release(c.deal),
          { payeeNet: 99_500_199n, fee: 500_000n, refund: 0n },
          Status.Released,
        );
        await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id, 99_500_199n, 500_000n);
      });

      it("charges no fee when it rounds to zero (amount 199 base units)", async function () {
        const c = await setup("Payment", "Performed", { amount: 199n });
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.payer).release(c.deal),
          { payeeNet: 199n, fee: 0n, refund: 0n },
          Status.Released,
        );
        await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id, 199n, 0n);
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

      it("works while the registry is paused", async function () {
        const c = await setup("Payment", "Performed");
        await c.p.registry.connect(c.p.pauser).pause();
        await expectSettlement(c, () => c.p.escrow.connect(c.payer).release(c.deal), releasePayout(c), Status.Released);
      });
    });

    describe("from Open: approves the release", function () {
      for (const kind of KINDS) {
        it(`${kind}: emits DealReleaseApproved, stays Open with payerReleased, moves no funds`, async function () {
          const c = await setup(kind);
          const openedAt = (await c.p.escrow.getDeal(c.id)).since;
          const before = await books(c);
          const tx = await c.p.escrow.connect(c.payer).release(c.deal);
          await expect(tx).to.emit(c.p.escrow, "DealReleaseApproved").withArgs(c.id);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleaseApproved"]);
          await expectRecord(c, Status.Open, openedAt, true);
          await expectUntouched(c, before);
        });
      }

      it("the payee can still cancel an approved open deal (payer refunded)", async function () {
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
  });

  /*------------------------------------------------------------
                              cancel
  ------------------------------------------------------------*/
  describe("cancel", function () {
    describe("validations", function () {
      for (const kind of KINDS) {
        it(`${kind}: only the payee — payer, gateway, arbiter, others and the lock delegate revert EscrowUnauthorized`, async function () {
          const c = await setup(kind);
          for (const s of [c.payer, c.p.gateway, c.p.arbiter, c.p.other, c.p.delegate]) {
            await expect(c.p.escrow.connect(s).cancel(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
              .withArgs(c.id, s.address);
          }
        });
      }

      for (const state of FINAL_STATES) {
        it(`reverts EscrowWrongStatus from ${state}`, async function () {
          const c = await setup("Payment", state);
          await expect(c.p.escrow.connect(c.payee).cancel(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
        });
      }
    });

    describe("effects and transfers", function () {
      for (const kind of KINDS) {
        for (const state of ["Open", "Performed", "Disputed"] as State[]) {
          it(`${kind} from ${state}: → Refunded (PayeeCancel), the whole amount back to the payer, no fee`, async function () {
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

      it("from Disputed decrements only the deal's gateway counter by one", async function () {
        const c1 = await setup("Payment", "Disputed");
        const c2 = await openKind(c1.p, "OffRamp");
        await reach(c2, "Disputed");
        expect(await openDisputes(c1.p)).to.equal(2n);
        await c1.p.escrow.connect(c1.payee).cancel(c1.deal);
        expect(await openDisputes(c1.p)).to.equal(1n);
      });

      for (const state of ["Open", "Disputed"] as State[]) {
        it(`works while the registry is paused (from ${state})`, async function () {
          const c = await setup("OnRamp", state);
          await c.p.registry.connect(c.p.pauser).pause();
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.payee).cancel(c.deal),
            refundPayout(c),
            Status.Refunded,
          );
          await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.PayeeCancel);
        });
      }

      it("works after the deadline", async function () {
        const c = await setup("Payment");
        await time.increaseTo(c.deal.deadline + 100n);
        await expectSettlement(c, () => c.p.escrow.connect(c.payee).cancel(c.deal), refundPayout(c), Status.Refunded);
      });
    });
  });

  /*------------------------------------------------------------
                              dispute
  ------------------------------------------------------------*/
  describe("dispute", function () {
    describe("validations", function () {
      for (const kind of KINDS) {
        it(`${kind}: gateway, arbiter, others and the lock delegate revert EscrowUnauthorized`, async function () {
          const c = await setup(kind, "Performed");
          for (const s of [c.p.gateway, c.p.arbiter, c.p.other, c.p.delegate, c.p.governor]) {
            await expect(c.p.escrow.connect(s).dispute(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
              .withArgs(c.id, s.address);
          }
        });
      }

      for (const state of ["Open", "OpenReleased", "Disputed", ...FINAL_STATES] as State[]) {
        for (const who of ["payer", "payee"] as const) {
          it(`by the ${who} reverts EscrowWrongStatus from ${state}`, async function () {
            const c = await setup("Payment", state);
            await expect(c.p.escrow.connect(c[who]).dispute(c.deal))
              .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
              .withArgs(c.id, STATUS_OF[state]);
          });
        }
      }
    });

    describe("effects", function () {
      for (const kind of KINDS) {
        for (const who of ["payer", "payee"] as const) {
          it(`${kind}: the ${who} disputes a performed deal → Disputed, DealDisputed(by), openDisputes + 1`, async function () {
            const c = await setup(kind, "Performed");
            const before = await books(c);
            expect(await openDisputes(c.p)).to.equal(0n);
            const tx = await c.p.escrow.connect(c[who]).dispute(c.deal);
            await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c[who].address);
            await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 1);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealDisputed"]);
            expect(await openDisputes(c.p)).to.equal(1n);
            await expectRecord(c, Status.Disputed, await tsOf(tx));
            await expectUntouched(c, before);
          });
        }
      }

      it("counts each disputed deal of the gateway", async function () {
        const c1 = await setup("Payment", "Disputed");
        const c2 = await openKind(c1.p, "OnRamp");
        await reach(c2, "Disputed");
        expect(await openDisputes(c1.p)).to.equal(2n);
      });

      it("works after the deadline and after the release window", async function () {
        const c = await setup("OffRamp", "Performed");
        await time.increaseTo(c.deal.deadline + BigInt(RELEASE_WINDOW));
        await expect(c.p.escrow.connect(c.payee).dispute(c.deal))
          .to.emit(c.p.escrow, "DealDisputed")
          .withArgs(c.id, c.payee.address);
      });

      it("works while the registry is paused", async function () {
        const c = await setup("Payment", "Performed");
        await c.p.registry.connect(c.p.pauser).pause();
        await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
          .to.emit(c.p.escrow, "DealDisputed")
          .withArgs(c.id, c.payer.address);
      });
    });
  });

  /*------------------------------------------------------------
                               claim
  ------------------------------------------------------------*/
  describe("claim", function () {
    const auto = { autoRelease: true };

    /** The end of the payer's release window of a performed deal. */
    async function windowEnd(c: Ctx): Promise<bigint> {
      return (await c.p.escrow.getDeal(c.id)).since + c.deal.releaseWindow;
    }

    describe("validations", function () {
      it("only the payee — payer, gateway, arbiter and others revert EscrowUnauthorized", async function () {
        const c = await setup("Payment", "Performed", auto);
        await time.increase(RELEASE_WINDOW + 1);
        for (const s of [c.payer, c.p.gateway, c.p.arbiter, c.p.other]) {
          await expect(c.p.escrow.connect(s).claim(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, s.address);
        }
      });

      for (const state of ["Open", "OpenReleased", "Disputed", ...FINAL_STATES] as State[]) {
        it(`reverts EscrowWrongStatus from ${state}`, async function () {
          const c = await setup("Payment", state, auto);
          await time.increase(RELEASE_WINDOW + 1);
          await expect(c.p.escrow.connect(c.payee).claim(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
        });
      }

      for (const kind of KINDS) {
        it(`${kind} without autoRelease reverts EscrowNotAutoRelease even after the window`, async function () {
          const c = await setup(kind, "Performed");
          await time.increase(RELEASE_WINDOW + 1);
          await expect(c.p.escrow.connect(c.payee).claim(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowNotAutoRelease")
            .withArgs(c.id);
        });
      }

      it("reverts EscrowReleaseWindowOpen(performedAt + releaseWindow) right after perform", async function () {
        const c = await setup("Payment", "Performed", auto);
        const endsAt = await windowEnd(c);
        await expect(c.p.escrow.connect(c.payee).claim(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
          .withArgs(c.id, endsAt);
      });

      it("reverts EscrowReleaseWindowOpen at exactly the end of the window", async function () {
        const c = await setup("Payment", "Performed", auto);
        const endsAt = await windowEnd(c);
        await time.setNextBlockTimestamp(endsAt);
        await expect(c.p.escrow.connect(c.payee).claim(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
          .withArgs(c.id, endsAt);
      });

      it("uses the deal's own release window (2 hours)", async function () {
        const c = await setup("Payment", "Performed", { ...auto, releaseWindow: 2n * 3600n });
        const endsAt = await windowEnd(c);
        expect(endsAt).to.equal((await c.p.escrow.getDeal(c.id)).since + 7200n);
        await time.setNextBlockTimestamp(endsAt);
        await expect(c.p.escrow.connect(c.payee).claim(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
          .withArgs(c.id, endsAt);
        await time.setNextBlockTimestamp(endsAt + 1n);
        await expect(c.p.escrow.connect(c.payee).claim(c.deal)).to.emit(c.p.escrow, "DealReleased");
      });
    });

    describe("effects and transfers", function () {
      it("one second after the window: Performed → Released with the fee, DealReleased", async function () {
        const c = await setup("Payment", "Performed", auto);
        const endsAt = await windowEnd(c);
        await time.setNextBlockTimestamp(endsAt + 1n);
        const pay = releasePayout(c);
        const tx = await expectSettlement(c, () => c.p.escrow.connect(c.payee).claim(c.deal), pay, Status.Released);
        expect(await tsOf(tx)).to.equal(endsAt + 1n);
        await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id, pay.payeeNet, pay.fee);
        expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased"]);
      });

      it("the payer can still release during the window, after which claim reverts", async function () {
        const c = await setup("Payment", "Performed", auto);
        await c.p.escrow.connect(c.payer).release(c.deal);
        await time.increase(RELEASE_WINDOW + 1);
        await expect(c.p.escrow.connect(c.payee).claim(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Released);
      });

      it("works while the registry is paused", async function () {
        const c = await setup("Payment", "Performed", auto);
        await c.p.registry.connect(c.p.pauser).pause();
        await time.increase(RELEASE_WINDOW + 1);
        await expectSettlement(c, () => c.p.escrow.connect(c.payee).claim(c.deal), releasePayout(c), Status.Released);
      });
    });
  });

  /*------------------------------------------------------------
                               refund
  ------------------------------------------------------------*/
  describe("refund", function () {
    describe("validations", function () {
      it("reverts EscrowDeadlineNotPassed before the deadline", async function () {
        const c = await setup();
        await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlineNotPassed")
          .withArgs(c.id, c.deal.deadline);
      });

      it("reverts EscrowDeadlineNotPassed at exactly the deadline", async function () {
        const c = await setup();
        await time.setNextBlockTimestamp(c.deal.deadline);
        await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlineNotPassed")
          .withArgs(c.id, c.deal.deadline);
      });

      for (const state of ["Performed", "Disputed", ...FINAL_STATES] as State[]) {
        it(`reverts EscrowWrongStatus from ${state} even after the deadline`, async function () {
          const c = await setup("Payment", state);
          await time.increaseTo(c.deal.deadline + 1n);
          await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
        });
      }
    });

    describe("effects and transfers", function () {
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

      it("refunds an open deal the payer had released", async function () {
        const c = await setup("OnRamp", "OpenReleased");
        await time.increaseTo(c.deal.deadline);
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.other).refund(c.deal),
          refundPayout(c),
          Status.Refunded,
        );
        await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.Deadline);
      });

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

      it("works while the registry is paused", async function () {
        const c = await setup("Payment");
        await c.p.registry.connect(c.p.pauser).pause();
        await time.increaseTo(c.deal.deadline + 1n);
        await expectSettlement(c, () => c.p.escrow.connect(c.p.other).refund(c.deal), refundPayout(c), Status.Refunded);
      });

      it("a refunded deal cannot be refunded again", async function () {
        const c = await setup("Payment");
        await time.increaseTo(c.deal.deadline + 1n);
        await c.p.escrow.connect(c.p.other).refund(c.deal);
        await expect(c.p.escrow.connect(c.p.other).refund(c.deal))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Refunded);
      });
    });
  });

  /*------------------------------------------------------------
                             actWithSig
  ------------------------------------------------------------*/
  describe("actWithSig", function () {
    describe("Perform (payee's signature)", function () {
      for (const kind of KINDS) {
        it(`${kind}: submitted by another account, performs the deal`, async function () {
          const c = await setup(kind);
          const before = await books(c);
          const auth = await sign(c, c.payee, Action.Perform);
          const tx = await c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Perform, auth);
          await expect(tx).to.emit(c.p.escrow, "DealPerformed").withArgs(c.id);
          await expectRecord(c, Status.Performed, await tsOf(tx));
          await expectUntouched(c, before);
        });
      }

      it("after the payer's release, releases at once", async function () {
        const c = await setup("OnRamp", "OpenReleased");
        const auth = await sign(c, c.payee, Action.Perform);
        const pay = releasePayout(c);
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Perform, auth),
          pay,
          Status.Released,
        );
        expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealPerformed", "DealReleased"]);
        await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id, pay.payeeNet, pay.fee);
      });

      it("a payer's (or any other) signature reverts EscrowInvalidSignature(dealId, payee)", async function () {
        const c = await setup("OffRamp");
        for (const s of [c.payer, c.p.other, c.p.gateway, c.p.delegate]) {
          const auth = await sign(c, s, Action.Perform);
          await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Perform, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
            .withArgs(c.id, c.payee.address);
        }
      });

      it("an expired signature reverts EscrowSignatureExpired(expiry); one expiring in the same second works", async function () {
        const c = await setup();
        const t = (await now()) + 10n;
        const expired = await sign(c, c.payee, Action.Perform, t - 1n);
        await time.setNextBlockTimestamp(t);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Perform, expired))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
          .withArgs(t - 1n);
        const atExpiry = await sign(c, c.payee, Action.Perform, t + 5n);
        await time.setNextBlockTimestamp(t + 5n);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Perform, atExpiry))
          .to.emit(c.p.escrow, "DealPerformed")
          .withArgs(c.id);
      });

      it("a payee signature for another action, another deal or another chain reverts EscrowInvalidSignature", async function () {
        const c = await setup();
        const c2 = await openKind(c.p, "Payment");
        const { chainId } = await ethers.provider.getNetwork();
        const bad = [
          await sign(c, c.payee, Action.Cancel),
          await signAction(c.p.escrow, c.payee, c2.id, Action.Perform),
          await signAction(c.p.escrow, c.payee, c.id, Action.Perform, undefined, { chainId: chainId + 1n }),
          await signAction(c.p.escrow, c.payee, c.id, Action.Perform, undefined, {
            verifyingContract: c.p.other.address,
          }),
        ];
        for (const auth of bad) {
          await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Perform, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
            .withArgs(c.id, c.payee.address);
        }
      });

      it("cannot be replayed: the same signature again reverts EscrowWrongStatus(Performed)", async function () {
        const c = await setup();
        const auth = await sign(c, c.payee, Action.Perform);
        await c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Perform, auth);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Perform, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Performed);
      });

      it("keeps the deadline rule: EscrowDeadlinePassed after it", async function () {
        const c = await setup();
        await time.increaseTo(c.deal.deadline);
        const auth = await sign(c, c.payee, Action.Perform);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Perform, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
          .withArgs(c.id, c.deal.deadline);
      });

      it("accepts an ERC-1271 payee wallet's signature (its owner signs)", async function () {
        const p = await loadFixture(protocolWithFloat);
        const owner = p.rest[0];
        const wallet = await (await ethers.getContractFactory("ERC1271Wallet")).deploy(owner.address);
        const deal = await makeDeal(p, { payee: await wallet.getAddress() });
        const id = await openDeal(p, deal);
        const auth = await signAction(p.escrow, owner, id, Action.Perform);
        await expect(p.escrow.connect(p.other).actWithSig(deal, Action.Perform, auth))
          .to.emit(p.escrow, "DealPerformed")
          .withArgs(id);
        const bad = await signAction(p.escrow, p.other, id, Action.Cancel);
        await expect(p.escrow.connect(p.other).actWithSig(deal, Action.Cancel, bad))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, await wallet.getAddress());
      });
    });

    describe("Release (payer's signature)", function () {
      for (const kind of KINDS) {
        it(`${kind}: from Performed pays out`, async function () {
          const c = await setup(kind, "Performed");
          const auth = await sign(c, c.payer, Action.Release);
          const pay = releasePayout(c);
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Release, auth),
            pay,
            Status.Released,
          );
          await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id, pay.payeeNet, pay.fee);
        });
      }

      it("from Open approves the release (payerReleased)", async function () {
        const c = await setup("OnRamp");
        const openedAt = (await c.p.escrow.getDeal(c.id)).since;
        const auth = await sign(c, c.payer, Action.Release);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Release, auth))
          .to.emit(c.p.escrow, "DealReleaseApproved")
          .withArgs(c.id);
        await expectRecord(c, Status.Open, openedAt, true);
      });

      it("a payee's, other's or the lock delegate's signature reverts EscrowInvalidSignature(dealId, payer)", async function () {
        const c = await setup("OnRamp", "Performed");
        for (const s of [c.payee, c.p.other, c.p.delegate, c.p.gateway]) {
          const auth = await sign(c, s, Action.Release);
          await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Release, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
            .withArgs(c.id, c.payer.address);
        }
      });

      it("an expired signature reverts EscrowSignatureExpired(expiry)", async function () {
        const c = await setup("Payment", "Performed");
        const expiry = await now();
        const auth = await sign(c, c.payer, Action.Release, expiry);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Release, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
          .withArgs(expiry);
      });

      it("the payer's signature of another action reverts EscrowInvalidSignature", async function () {
        const c = await setup("Payment", "Performed");
        const auth = await sign(c, c.payer, Action.Cancel);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Release, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payer.address);
      });
    });

    describe("Cancel (payee's signature)", function () {
      for (const kind of KINDS) {
        it(`${kind}: refunds the payer (PayeeCancel)`, async function () {
          const c = await setup(kind, "Performed");
          const auth = await sign(c, c.payee, Action.Cancel);
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Cancel, auth),
            refundPayout(c),
            Status.Refunded,
          );
          await expect(tx).to.emit(c.p.escrow, "DealRefunded").withArgs(c.id, RefundReason.PayeeCancel);
        });
      }

      it("from Disputed decrements the gateway's openDisputes", async function () {
        const c = await setup("Payment", "Disputed");
        const auth = await sign(c, c.payee, Action.Cancel);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Cancel, auth))
          .to.emit(c.p.registry, "GatewayDisputesChanged")
          .withArgs(c.p.gateway.address, 0);
        expect(await openDisputes(c.p)).to.equal(0n);
      });

      it("a payer's or other's signature reverts EscrowInvalidSignature(dealId, payee)", async function () {
        const c = await setup("Payment");
        for (const s of [c.payer, c.p.other]) {
          const auth = await sign(c, s, Action.Cancel);
          await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Cancel, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
            .withArgs(c.id, c.payee.address);
        }
      });

      it("an expired signature reverts EscrowSignatureExpired(expiry)", async function () {
        const c = await setup("Payment");
        const expiry = (await now()) - 5n;
        const auth = await sign(c, c.payee, Action.Cancel, expiry);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Cancel, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
          .withArgs(expiry);
      });
    });

    describe("Dispute (payer's or payee's signature)", function () {
      for (const who of ["payer", "payee"] as const) {
        for (const kind of KINDS) {
          it(`${kind}: the ${who}'s signature disputes by the ${who}`, async function () {
            const c = await setup(kind, "Performed");
            const auth = await sign(c, c[who], Action.Dispute);
            const tx = await c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Dispute, auth);
            await expect(tx).to.emit(c.p.escrow, "DealDisputed").withArgs(c.id, c[who].address);
            await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 1);
            await expectRecord(c, Status.Disputed, await tsOf(tx));
          });
        }
      }

      it("a third party's signature reverts EscrowInvalidSignature(dealId, payee)", async function () {
        const c = await setup("Payment", "Performed");
        for (const s of [c.p.other, c.p.gateway, c.p.arbiter]) {
          const auth = await sign(c, s, Action.Dispute);
          await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Dispute, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
            .withArgs(c.id, c.payee.address);
        }
      });

      it("a party's signature of another action reverts EscrowInvalidSignature(dealId, payee)", async function () {
        const c = await setup("Payment", "Performed");
        const auth = await sign(c, c.payer, Action.Release);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Dispute, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payee.address);
      });

      for (const who of ["payer", "payee"] as const) {
        it(`an expired ${who} signature reverts EscrowSignatureExpired(expiry)`, async function () {
          const c = await setup("Payment", "Performed");
          const expiry = await now();
          const auth = await sign(c, c[who], Action.Dispute, expiry);
          await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Dispute, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
            .withArgs(expiry);
        });
      }

      it("keeps the status rule: EscrowWrongStatus(Open) on an open deal", async function () {
        const c = await setup("Payment");
        const auth = await sign(c, c.payee, Action.Dispute);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Dispute, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Open);
      });
    });

    describe("Claim (payee's signature)", function () {
      it("after the release window pays out", async function () {
        const c = await setup("Payment", "Performed", { autoRelease: true });
        await time.increase(RELEASE_WINDOW + 1);
        const auth = await sign(c, c.payee, Action.Claim);
        const pay = releasePayout(c);
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Claim, auth),
          pay,
          Status.Released,
        );
        await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id, pay.payeeNet, pay.fee);
      });

      it("keeps the window rule: EscrowReleaseWindowOpen before its end", async function () {
        const c = await setup("Payment", "Performed", { autoRelease: true });
        const endsAt = (await c.p.escrow.getDeal(c.id)).since + c.deal.releaseWindow;
        const auth = await sign(c, c.payee, Action.Claim);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Claim, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowReleaseWindowOpen")
          .withArgs(c.id, endsAt);
      });

      it("a payer's or other's signature reverts EscrowInvalidSignature(dealId, payee)", async function () {
        const c = await setup("Payment", "Performed", { autoRelease: true });
        await time.increase(RELEASE_WINDOW + 1);
        for (const s of [c.payer, c.p.other]) {
          const auth = await sign(c, s, Action.Claim);
          await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Claim, auth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
            .withArgs(c.id, c.payee.address);
        }
      });

      it("an expired signature reverts EscrowSignatureExpired(expiry)", async function () {
        const c = await setup("Payment", "Performed", { autoRelease: true });
        const auth = await sign(c, c.payee, Action.Claim, (await now()) + 60n);
        await time.increase(RELEASE_WINDOW + 1);
        await expect(c.p.escrow.connect(c.p.other).actWithSig(c.deal, Action.Claim, auth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowSignatureExpired")
          .withArgs(auth.expiry);
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

    describe("effects and transfers", function () {
      for (const kind of KINDS) {
        for (const state of ["Open", "OpenReleased", "Performed"] as State[]) {
          it(`${kind} from ${state}: one transaction by another account releases the deal`, async function () {
            const c = await setup(kind, state);
            const { payeeAuth, payerAuth } = await sigs(c);
            const pay = releasePayout(c);
            const tx = await expectSettlement(
              c,
              () => c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerAuth),
              pay,
              Status.Released,
            );
            await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id, pay.payeeNet, pay.fee);
            expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealReleased"]);
          });
        }
      }

      it("from Performed works after the deadline (the deadline binds only an open deal)", async function () {
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

      it("from Open works at exactly the deadline", async function () {
        const c = await setup("Payment");
        const payeeAuth = await sign(c, c.payee, Action.Perform, c.deal.deadline);
        const payerAuth = await sign(c, c.payer, Action.Release, c.deal.deadline);
        await time.setNextBlockTimestamp(c.deal.deadline);
        await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerAuth))
          .to.emit(c.p.escrow, "DealReleased")
          .withArgs(c.id, releasePayout(c).payeeNet, releasePayout(c).fee);
      });
    });

    describe("validations", function () {
      it("from Open after the deadline reverts EscrowDeadlinePassed", async function () {
        const c = await setup("Payment");
        const { payeeAuth, payerAuth } = await sigs(c);
        await time.setNextBlockTimestamp(c.deal.deadline + 1n);
        await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowDeadlinePassed")
          .withArgs(c.id, c.deal.deadline);
      });

      for (const state of ["Disputed", ...FINAL_STATES] as State[]) {
        it(`reverts EscrowWrongStatus from ${state}`, async function () {
          const c = await setup("Payment", state);
          const { payeeAuth, payerAuth } = await sigs(c);
          await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerAuth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
        });
      }

      it("a bad payee signature reverts EscrowInvalidSignature(dealId, payee)", async function () {
        const c = await setup("OffRamp");
        const { payerAuth } = await sigs(c);
        const bad = await sign(c, c.p.other, Action.Perform);
        await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, bad, payerAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payee.address);
      });

      it("a bad payer signature reverts EscrowInvalidSignature(dealId, payer)", async function () {
        const c = await setup("OnRamp");
        const { payeeAuth } = await sigs(c);
        for (const s of [c.p.other, c.p.delegate]) {
          const bad = await sign(c, s, Action.Release);
          await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, bad))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
            .withArgs(c.id, c.payer.address);
        }
      });

      it("the payer's Release signature cannot stand in for the payee's Perform signature", async function () {
        const c = await setup("Payment");
        const { payerAuth } = await sigs(c);
        await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payerAuth, payerAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payee.address);
        const payerPerform = await sign(c, c.payer, Action.Perform);
        await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payerPerform, payerAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payee.address);
      });

      it("signatures of the wrong actions or swapped slots revert EscrowInvalidSignature", async function () {
        const c = await setup("Payment");
        const { payeeAuth, payerAuth } = await sigs(c);
        await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payerAuth, payeeAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payee.address);
        const payeeRelease = await sign(c, c.payee, Action.Release);
        await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeRelease, payerAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payee.address);
        const payerCancel = await sign(c, c.payer, Action.Cancel);
        await expect(c.p.escrow.connect(c.p.other).settleWithSigs(c.deal, payeeAuth, payerCancel))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.payer.address);
      });

      it("an expired payee or payer signature reverts EscrowSignatureExpired(expiry)", async function () {
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

    describe("effects and transfers", function () {
      for (const kind of KINDS) {
        for (const state of ["Open", "Performed", "Disputed"] as State[]) {
          it(`${kind} from ${state}: → Refunded (MutualCancel), the whole amount back to the payer`, async function () {
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

      it("works while the registry is paused and after the deadline", async function () {
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
    });

    describe("validations", function () {
      for (const state of FINAL_STATES) {
        it(`reverts EscrowWrongStatus from ${state}`, async function () {
          const c = await setup("Payment", state);
          const { payerAuth, payeeAuth } = await sigs(c);
          await expect(c.p.escrow.connect(c.p.other).cancelWithSigs(c.deal, payerAuth, payeeAuth))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
        });
      }

      it("a bad payer signature reverts EscrowInvalidSignature(dealId, payer)", async function () {
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

      it("a bad payee signature reverts EscrowInvalidSignature(dealId, payee)", async function () {
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

      it("an expired payer or payee signature reverts EscrowSignatureExpired(expiry)", async function () {
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
    });
  });

  /*------------------------------------------------------------
                              resolve
  ------------------------------------------------------------*/
  describe("resolve", function () {
    const SPLIT = USDT(60); // of 100

    /** The end of the gateway's resolution window of a disputed deal. */
    async function resolutionEnd(c: Ctx): Promise<bigint> {
      return (await c.p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW);
    }

    describe("validations", function () {
      for (const state of ["Open", "OpenReleased", "Performed", ...FINAL_STATES] as State[]) {
        it(`reverts EscrowWrongStatus from ${state}`, async function () {
          const c = await setup("Payment", state);
          await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, STATUS_OF[state]);
        });
      }

      it("reverts EscrowPayeeAmountTooHigh when payeeAmount > amount (gateway and arbiter)", async function () {
        const c = await setup("Payment", "Disputed");
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, c.deal.amount + 1n))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowPayeeAmountTooHigh")
          .withArgs(c.id, c.deal.amount + 1n, c.deal.amount);
        await time.increase(RESOLUTION_WINDOW + 1);
        await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, c.deal.amount + 1n))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowPayeeAmountTooHigh")
          .withArgs(c.id, c.deal.amount + 1n, c.deal.amount);
      });

      it("anyone else (parties, other, governor, another gateway) reverts EscrowUnauthorized, in and after the window", async function () {
        const c = await setup("OffRamp", "Disputed");
        const callers = [c.payer, c.payee, c.p.other, c.p.governor, c.p.gateway2, c.p.admin, c.p.delegate];
        for (const s of callers) {
          await expect(c.p.escrow.connect(s).resolve(c.deal, SPLIT))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, s.address);
        }
        await time.increase(RESOLUTION_WINDOW + 1);
        for (const s of callers) {
          await expect(c.p.escrow.connect(s).resolve(c.deal, SPLIT))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, s.address);
        }
      });

      it("the gateway after the window reverts EscrowResolutionWindowClosed(dealId, disputedAt + window)", async function () {
        const c = await setup("Payment", "Disputed");
        const endsAt = await resolutionEnd(c);
        await time.setNextBlockTimestamp(endsAt + 1n);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowClosed")
          .withArgs(c.id, endsAt);
      });

      it("the arbiter within the window reverts EscrowResolutionWindowOpen (also at its last second)", async function () {
        const c = await setup("Payment", "Disputed");
        const endsAt = await resolutionEnd(c);
        await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
          .withArgs(c.id, endsAt);
        await time.setNextBlockTimestamp(endsAt);
        await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
          .withArgs(c.id, endsAt);
      });

      it("the window counts from the dispute, not from perform", async function () {
        const c = await setup("Payment", "Performed");
        await time.increase(2 * DAY);
        const tx = await c.p.escrow.connect(c.payer).dispute(c.deal);
        const endsAt = (await tsOf(tx)) + BigInt(RESOLUTION_WINDOW);
        expect(await resolutionEnd(c)).to.equal(endsAt);
        await time.setNextBlockTimestamp(endsAt + 1n);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowClosed")
          .withArgs(c.id, endsAt);
      });
    });

    describe("by the gateway within the window", function () {
      for (const kind of KINDS) {
        it(`${kind}: payee gets payeeAmount − fee, fee owed to the gateway, payer gets the rest, openDisputes − 1`, async function () {
          const c = await setup(kind, "Disputed");
          const fee = feeOf(SPLIT, c.deal.feeBps);
          expect(fee).to.equal(USDT("0.3"));
          const pay = { payeeNet: SPLIT - fee, fee, refund: c.deal.amount - SPLIT };
          expect(await openDisputes(c.p)).to.equal(1n);
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT),
            pay,
            Status.Resolved,
          );
          await expect(tx)
            .to.emit(c.p.escrow, "DealResolved")
            .withArgs(c.id, c.p.gateway.address, USDT("59.7"), USDT("0.3"), USDT(40));
          await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
          expect(await escrowEventNames(c.p, tx)).to.deep.equal(["DealResolved"]);
          expect(await openDisputes(c.p)).to.equal(0n);
        });
      }

      it("at exactly the end of the window", async function () {
        const c = await setup("Payment", "Disputed");
        const endsAt = await resolutionEnd(c);
        await time.setNextBlockTimestamp(endsAt);
        const fee = feeOf(SPLIT, GATEWAY_FEE_BPS);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT))
          .to.emit(c.p.escrow, "DealResolved")
          .withArgs(c.id, c.p.gateway.address, SPLIT - fee, fee, c.deal.amount - SPLIT);
      });

      it("payeeAmount 0: everything back to the payer, no fee", async function () {
        const c = await setup("Payment", "Disputed");
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, 0n),
          refundPayout(c),
          Status.Resolved,
        );
        await expect(tx).to.emit(c.p.escrow, "DealResolved").withArgs(c.id, c.p.gateway.address, 0n, 0n, c.deal.amount);
      });

      it("payeeAmount = amount: everything to the payee less the fee, no refund", async function () {
        const c = await setup("OffRamp", "Disputed");
        const pay = releasePayout(c);
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, c.deal.amount),
          pay,
          Status.Resolved,
        );
        await expect(tx)
          .to.emit(c.p.escrow, "DealResolved")
          .withArgs(c.id, c.p.gateway.address, pay.payeeNet, pay.fee, 0n);
      });

      it("OnRamp: payeeAmount 0 returns the whole amount to the acceptor's free float", async function () {
        const c = await setup("OnRamp", "Disputed");
        const before = await c.p.escrow.floatOf(c.p.acceptor.address, c.deal.token);
        await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, 0n),
          refundPayout(c),
          Status.Resolved,
        );
        const after = await c.p.escrow.floatOf(c.p.acceptor.address, c.deal.token);
        expect(after.free).to.equal(before.free + c.deal.amount);
        expect(after.free).to.equal(FLOAT);
        expect(after.locked).to.equal(0n);
      });

      it("rounds the fee down on the payee's share (333333 base units → fee 1666)", async function () {
        const c = await setup("Payment", "Disputed");
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.gateway).resolve(c.deal, 333_333n),
          { payeeNet: 331_667n, fee: 1_666n, refund: c.deal.amount - 333_333n },
          Status.Resolved,
        );
        await expect(tx)
          .to.emit(c.p.escrow, "DealResolved")
          .withArgs(c.id, c.p.gateway.address, 331_667n, 1_666n, c.deal.amount - 333_333n);
      });

      it("works while the registry is paused", async function () {
        const c = await setup("Payment", "Disputed");
        await c.p.registry.connect(c.p.pauser).pause();
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT)).to.emit(c.p.escrow, "DealResolved");
      });

      it("a resolved deal cannot be resolved again", async function () {
        const c = await setup("Payment", "Disputed");
        await c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Resolved);
      });
    });

    describe("by the arbiter", function () {
      for (const kind of KINDS) {
        it(`${kind}: after the window resolves with no fee`, async function () {
          const c = await setup(kind, "Disputed");
          const endsAt = await resolutionEnd(c);
          await time.setNextBlockTimestamp(endsAt + 1n);
          const pay = { payeeNet: SPLIT, fee: 0n, refund: c.deal.amount - SPLIT };
          const tx = await expectSettlement(
            c,
            () => c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT),
            pay,
            Status.Resolved,
          );
          await expect(tx)
            .to.emit(c.p.escrow, "DealResolved")
            .withArgs(c.id, c.p.arbiter.address, SPLIT, 0n, c.deal.amount - SPLIT);
          await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
          expect(await openDisputes(c.p)).to.equal(0n);
        });
      }

      it("payeeAmount = amount after the window: the whole amount to the payee, no fee", async function () {
        const c = await setup("Payment", "Disputed");
        await time.increase(RESOLUTION_WINDOW + 1);
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.arbiter).resolve(c.deal, c.deal.amount),
          { payeeNet: c.deal.amount, fee: 0n, refund: 0n },
          Status.Resolved,
        );
        await expect(tx).to.emit(c.p.escrow, "DealResolved").withArgs(c.id, c.p.arbiter.address, c.deal.amount, 0n, 0n);
      });

      it("immediately when the gateway is Suspended; the suspended gateway itself reverts EscrowUnauthorized", async function () {
        const c = await setup("OnRamp", "Disputed");
        await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
        expect((await c.p.registry.getGateway(c.p.gateway.address)).status).to.equal(GatewayStatus.Suspended);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, c.p.gateway.address);
        const tx = await expectSettlement(
          c,
          () => c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT),
          { payeeNet: SPLIT, fee: 0n, refund: c.deal.amount - SPLIT },
          Status.Resolved,
        );
        await expect(tx)
          .to.emit(c.p.escrow, "DealResolved")
          .withArgs(c.id, c.p.arbiter.address, SPLIT, 0n, c.deal.amount - SPLIT);
        expect(await openDisputes(c.p)).to.equal(0n);
      });

      it("a reinstated gateway rules again within the window and the arbiter is refused", async function () {
        const c = await setup("Payment", "Disputed");
        const endsAt = await resolutionEnd(c);
        await c.p.registry.connect(c.p.governor).suspendGateway(c.p.gateway.address);
        await c.p.registry.connect(c.p.governor).reinstateGateway(c.p.gateway.address);
        await expect(c.p.escrow.connect(c.p.arbiter).resolve(c.deal, SPLIT))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
          .withArgs(c.id, endsAt);
        const fee = feeOf(SPLIT, GATEWAY_FEE_BPS);
        await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, SPLIT))
          .to.emit(c.p.escrow, "DealResolved")
          .withArgs(c.id, c.p.gateway.address, SPLIT - fee, fee, c.deal.amount - SPLIT);
      });

      it("immediately when the gateway has exited; the exited gateway reverts EscrowUnauthorized", async function () {
        const p = await loadFixture(protocolWithFloat);
        const c = await openKind(p, "Payment", { deadline: BigInt((await time.latest()) + 30 * DAY) });
        await p.registry.connect(p.gateway).requestExit();
        await time.increase(UNBONDING_DELAY);
        await p.registry.connect(p.gateway).completeExit();
        expect((await p.registry.getGateway(p.gateway.address)).status).to.equal(GatewayStatus.Exited);
        await reach(c, "Disputed");
        await expect(p.escrow.connect(p.gateway).resolve(c.deal, SPLIT))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, p.gateway.address);
        await expectSettlement(
          c,
          () => p.escrow.connect(p.arbiter).resolve(c.deal, SPLIT),
          { payeeNet: SPLIT, fee: 0n, refund: c.deal.amount - SPLIT },
          Status.Resolved,
        );
      });
    });

    describe("an Exiting gateway", function () {
      it("still rules a dispute raised after its exit request (with its fee)", async function () {
        const p = await loadFixture(protocolWithFloat);
        const c = await openKind(p, "OffRamp");
        await expect(p.registry.connect(p.gateway).requestExit()).to.emit(p.registry, "GatewayExitRequested");
        expect((await p.registry.getGateway(p.gateway.address)).status).to.equal(GatewayStatus.Exiting);
        await reach(c, "Disputed");
        expect(await openDisputes(p)).to.equal(1n);
        const endsAt = await resolutionEnd(c);
        await expect(p.escrow.connect(p.arbiter).resolve(c.deal, SPLIT))
          .to.be.revertedWithCustomError(p.escrow, "EscrowResolutionWindowOpen")
          .withArgs(c.id, endsAt);
        const fee = feeOf(SPLIT, GATEWAY_FEE_BPS);
        const tx = await expectSettlement(
          c,
          () => p.escrow.connect(p.gateway).resolve(c.deal, SPLIT),
          { payeeNet: SPLIT - fee, fee, refund: c.deal.amount - SPLIT },
          Status.Resolved,
        );
        await expect(tx)
          .to.emit(p.escrow, "DealResolved")
          .withArgs(c.id, p.gateway.address, SPLIT - fee, fee, c.deal.amount - SPLIT);
        expect(await openDisputes(p)).to.equal(0n);
      });
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
      const payeeBefore = await token.balanceOf(p.payee.address);
      const escrowBefore = await token.balanceOf(escrowAddr);
      const owedBefore = await p.escrow.owed(await token.getAddress(), p.gateway.address);

      const calls = deals.map((c) => p.escrow.interface.encodeFunctionData("release", [c.deal]));
      const tx = await p.escrow.connect(p.payer).multicall(calls);
      const ts = await tsOf(tx);

      expect(await token.balanceOf(p.payee.address)).to.equal(payeeBefore + totalNet);
      expect(await token.balanceOf(escrowAddr)).to.equal(escrowBefore - totalNet);
      expect(await p.escrow.owed(await token.getAddress(), p.gateway.address)).to.equal(owedBefore + totalFee);
      const names = await escrowEventNames(p, tx);
      expect(names).to.deep.equal(Array(N).fill("DealReleased"));
      for (let i = 0; i < N; i++) {
        const c = deals[i];
        await expect(tx)
          .to.emit(p.escrow, "DealReleased")
          .withArgs(c.id, c.deal.amount - fees[i], fees[i]);
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
        else expect(await p.escrow.statusOf(c.id)).to.equal(Status.Performed);
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
      const tx = await expectSettlement(
        c,
        () => c.p.escrow.connect(c.payer).release(c.deal),
        { payeeNet: USDT("99.5"), fee: USDT("0.5"), refund: 0n },
        Status.Released,
      );
      await expect(tx).to.emit(c.p.escrow, "DealReleased").withArgs(c.id, USDT("99.5"), USDT("0.5"));
    });

    it("a dispute ruled after the fee change charges the deal's 50 bps", async function () {
      const c = await setup("OnRamp", "Disputed");
      await c.p.registry.connect(c.p.gateway).setGatewayFee(100);
      await expect(c.p.escrow.connect(c.p.gateway).resolve(c.deal, USDT(60)))
        .to.emit(c.p.escrow, "DealResolved")
        .withArgs(c.id, c.p.gateway.address, USDT("59.7"), USDT("0.3"), USDT(40));
    });

    it("a deal opened after the change is charged 100 bps", async function () {
      const p = await loadFixture(protocolWithFloat);
      await p.registry.connect(p.gateway).setGatewayFee(100);
      const c = await openKind(p, "Payment", { feeBps: 100n });
      await reach(c, "Performed");
      await expect(p.escrow.connect(c.payer).release(c.deal))
        .to.emit(p.escrow, "DealReleased")
        .withArgs(c.id, USDT(99), USDT(1));
    });
  });
});
