/**
 * The projection reducer under random legal event sequences: a fast-check model walks the deal state machine (the
 * contract's rules) and checks the projection's invariants and its determinism.
 */
import { expect } from "chai";
import fc from "fast-check";
import { id } from "ethers";
import { DEAL_KINDS, DELEGATE_SALT_PREFIX, REFUND_REASONS, type DealKind, type DealParams } from "../../../protocol";
import { type ProtocolEvent, type RefundReasonName as RefundReason } from "../../../protocol";
import { DEAL_STATUSES, FINAL_STATUSES, type DealStatus } from "../../../relayer/src/domain/projection";
import { MemoryView, apply, addr, PAYER, PAYEE, GATEWAY, ARBITER, ACCEPTOR, USDT, DAI, DEAL2 } from "../support/domain";
import { SEPA, AMOUNT, FEE, NET, at, ev, dealParams, opened, performed, approved, released } from "../support/domain";
import { refunded, disputed, resolved, split, evidence, lockedByDelegate, skipped, deferred } from "../support/domain";
import { claimed, deposited, withdrawn, dealOf, owedOf, floatOf, registeredGateway } from "../support/domain";
import { registeredAcceptor } from "../support/domain";

describe("relayer domain: projection determinism and invariants (fast-check)", function () {
  it("the same sequence applied to two fresh views yields identical state", function () {
    const events = [
      ...registryScenario(),
      deposited(at(30), 5n * AMOUNT),
      opened(at(31), { kind: "onramp", payer: ACCEPTOR }),
      opened(at(31, 1), { salt: id("salt 2") }, DEAL2),
      performed(at(32)),
      disputed(at(33), PAYEE),
      resolved(at(34), 500_000n, 2_500n, 497_500n),
      released(at(35), DEAL2),
      deferred(at(35, 1), PAYEE, NET, DEAL2),
      claimed(at(36), GATEWAY, FEE + 2_500n),
    ];
    const a = new MemoryView();
    const b = new MemoryView();
    apply(a, ...events);
    apply(b, ...events);
    expect(a.snapshot()).to.equal(b.snapshot());
    expect(a.snapshot()).to.not.equal(new MemoryView().snapshot());
  });

  it("random legal event sequences keep the projection's invariants", function () {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const model = runScenario(scenario);
        const view = new MemoryView();
        apply(view, ...model.events);
        const twin = new MemoryView();
        apply(twin, ...model.events);
        expect(twin.snapshot()).to.equal(view.snapshot());
        checkInvariants(view, model);
      }),
      { numRuns: 200, seed: 20_240_601 },
    );
  });
});

function registryScenario(): ProtocolEvent[] {
  return [
    ev("TokenAllowed", at(1), { token: USDT, allowed: true }),
    registeredGateway(at(2)),
    ev("GatewayApproved", at(3), { gateway: GATEWAY, feeCapBps: 300 }),
    registeredAcceptor(at(4)),
    ev("AcceptorApproved", at(5), { acceptor: ACCEPTOR }),
    ev("AcceptorMethodSet", at(6), { acceptor: ACCEPTOR, method: SEPA, supported: true }),
    ev("AcceptorLimitsSet", at(7), { acceptor: ACCEPTOR, token: USDT, minAmount: 1n, maxAmount: 10n * AMOUNT }),
  ];
}

/*//////////////////////////////////////////////////////////////
                 A MODEL THAT WALKS THE STATE MACHINE
//////////////////////////////////////////////////////////////*/

const ACCEPTORS = [ACCEPTOR, addr("acceptor 2")];
const PAYERS = [PAYER, addr("payer 2")];
const PAYEES = [PAYEE, addr("payee 2")];
const GATEWAYS = [GATEWAY, addr("gateway 2")];
const TOKENS = [USDT, DAI];
const BPS = 10_000n;

type DealSpec = { kind: DealKind; amount: bigint; feeBps: number; autoRelease: boolean; who: number; token: number };
type Step = { target: number; choice: number; ratio: number; defer: boolean };
type Scenario = { deals: DealSpec[]; steps: Step[] };

type ModelDeal = {
  id: string;
  params: DealParams;
  /** An on-ramp deal locked by the acceptor's delegate (it can expire once performed). */
  byDelegate: boolean;
  /** While disputed: the gateway holds the dispute. */
  held?: boolean;
  status: DealStatus | "none";
  payerReleased: boolean;
  settled?: { payeeAmount: bigint; fee: bigint; refund: bigint };
  events: number;
};

type Model = {
  deals: ModelDeal[];
  events: ProtocolEvent[];
  /** per `${acceptor}/${token}` */
  free: Map<string, bigint>;
  deposits: Map<string, bigint>;
  withdrawals: Map<string, bigint>;
  /** per `${account}/${token}` */
  owed: Map<string, bigint>;
};

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  deals: fc.array(
    fc.record({
      kind: fc.constantFrom(...DEAL_KINDS),
      amount: fc.bigInt({ min: 1n, max: 10n ** 15n }),
      feeBps: fc.integer({ min: 0, max: 300 }),
      autoRelease: fc.boolean(),
      who: fc.nat({ max: 7 }),
      token: fc.nat({ max: 1 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  steps: fc.array(
    fc.record({
      target: fc.nat({ max: 99 }),
      choice: fc.nat({ max: 999 }),
      ratio: fc.integer({ min: 0, max: 10_000 }),
      defer: fc.boolean(),
    }),
    { minLength: 10, maxLength: 80, size: "medium" },
  ),
});

const add = (m: Map<string, bigint>, key: string, delta: bigint) => m.set(key, (m.get(key) ?? 0n) + delta);

/** Interprets a scenario as a legal sequence of events (the contract's rules), tracking the expected totals. */
function runScenario(scenario: Scenario): Model {
  const model: Model = {
    deals: scenario.deals.map((spec, i) => {
      const kind = spec.kind;
      const payer = kind === "onramp" ? ACCEPTORS[spec.who % 2] : PAYERS[spec.who % 2];
      const payee = kind === "offramp" ? ACCEPTORS[(spec.who >> 1) % 2] : PAYEES[(spec.who >> 1) % 2];
      const byDelegate = kind === "onramp" && spec.autoRelease;
      const params = dealParams({
        kind,
        payer,
        payee,
        gateway: GATEWAYS[(spec.who >> 2) % 2],
        token: TOKENS[spec.token],
        amount: spec.amount,
        feeBps: spec.feeBps,
        autoRelease: kind === "payment" && spec.autoRelease,
        salt: byDelegate ? `${DELEGATE_SALT_PREFIX}${i.toString(16).padStart(40, "0")}` : id(`salt ${i}`),
      });
      return { id: id(`deal ${i}`), params, byDelegate, status: "none", payerReleased: false, events: 0 };
    }),
    events: [],
    free: new Map(),
    deposits: new Map(),
    withdrawals: new Map(),
    owed: new Map(),
  };
  let block = 100;
  for (const step of scenario.steps) {
    block += 1;
    let logIndex = 0;
    const emit = (event: ProtocolEvent) => {
      model.events.push(event);
      logIndex += 1;
    };
    const pos = () => at(block, logIndex);
    const n = model.deals.length;
    const slot = step.target % (2 * n + 3); // deals twice as likely as each float or owed action

    if (slot === 2 * n) {
      // Deposit float.
      const acceptor = ACCEPTORS[step.choice % 2];
      const token = TOKENS[(step.choice >> 1) % 2];
      const amount = 1n + BigInt(step.ratio) * 10n ** 11n;
      add(model.free, `${acceptor}/${token}`, amount);
      add(model.deposits, `${acceptor}/${token}`, amount);
      emit(deposited(pos(), amount, acceptor, token));
      continue;
    }
    if (slot === 2 * n + 1) {
      // Withdraw part of a free float.
      const key = [...model.free.keys()].filter((k) => model.free.get(k)! > 0n)[step.choice % 4];
      if (key === undefined) continue;
      const [acceptor, token] = key.split("/");
      const free = model.free.get(key)!;
      const amount = 1n + ((free - 1n) * BigInt(step.ratio)) / BPS;
      add(model.free, key, -amount);
      add(model.withdrawals, key, amount);
      emit(withdrawn(pos(), amount, acceptor, token));
      continue;
    }
    if (slot === 2 * n + 2) {
      // Claim an owed balance.
      const key = [...model.owed.keys()].filter((k) => model.owed.get(k)! > 0n)[step.choice % 4];
      if (key === undefined) continue;
      const [account, token] = key.split("/");
      const amount = model.owed.get(key)!;
      model.owed.set(key, 0n);
      emit(claimed(pos(), account, amount, token));
      continue;
    }

    const deal = model.deals[slot % n];
    const d = deal.params;
    const emitDeal = (event: ProtocolEvent) => {
      deal.events += 1;
      emit(event);
    };
    const settle = (payeeAmount: bigint, fee: bigint, refund: bigint) => {
      deal.settled = { payeeAmount, fee, refund };
      if (fee !== 0n) add(model.owed, `${d.gateway}/${d.token}`, fee);
      if (d.kind === "onramp") {
        add(model.free, `${d.payer}/${d.token}`, refund);
      } else if (refund !== 0n && step.defer) {
        add(model.owed, `${d.payer}/${d.token}`, refund);
        emitDeal(deferred(pos(), d.payer, refund, deal.id, d.token));
      }
      if (payeeAmount !== 0n && step.defer && step.ratio % 2 === 0) {
        add(model.owed, `${d.payee}/${d.token}`, payeeAmount);
        emitDeal(deferred(pos(), d.payee, payeeAmount, deal.id, d.token));
      }
    };
    /** The registry refused to uncount the held dispute the deal just left (after its final event). */
    const skipClose = (wasHeld: boolean) => {
      if (wasHeld && step.ratio % 7 === 0) emitDeal(skipped(pos(), false, deal.id, d.gateway));
    };
    const wasHeld = deal.status === "disputed" && deal.held === true;
    const release = () => {
      const fee = (d.amount * BigInt(d.feeBps)) / BPS;
      deal.status = "released";
      emitDeal(released(pos(), deal.id));
      skipClose(wasHeld);
      settle(d.amount - fee, fee, 0n);
    };
    const splitDeal = () => {
      const awarded = (d.amount * BigInt(step.ratio)) / BPS;
      const fee = (awarded * BigInt(d.feeBps)) / BPS;
      deal.status = "split";
      emitDeal(split(pos(), awarded - fee, fee, d.amount - awarded, deal.id));
      skipClose(wasHeld);
      settle(awarded - fee, fee, d.amount - awarded);
    };
    const postEvidence = () => {
      const by = [d.payer, d.payee, d.gateway, ARBITER][step.ratio % 4];
      emitDeal(evidence(pos(), by, `ipfs://${step.ratio}`, deal.id));
    };
    const refund = (reason: RefundReason) => {
      deal.status = "refunded";
      emitDeal(refunded(pos(), reason, deal.id));
      skipClose(wasHeld);
      settle(0n, 0n, d.amount);
    };
    const resolve = (byGateway: boolean) => {
      const awarded = (d.amount * BigInt(step.ratio)) / BPS;
      const fee = byGateway ? (awarded * BigInt(d.feeBps)) / BPS : 0n;
      deal.status = "resolved";
      emitDeal(resolved(pos(), awarded - fee, fee, d.amount - awarded, byGateway ? d.gateway : ARBITER, deal.id));
      skipClose(wasHeld);
      settle(awarded - fee, fee, d.amount - awarded);
    };

    // Legal moves from the deal's status (docs/design.md §4.3), weighted so that walks reach the later states.
    const moves: [weight: number, move: () => void][] = [];
    const cancel = () => refund(step.ratio % 2 === 0 ? "payee_cancel" : "mutual_cancel");
    switch (deal.status) {
      case "none":
        moves.push([
          1,
          () => {
            if (d.kind === "onramp") {
              const key = `${d.payer}/${d.token}`;
              const free = model.free.get(key) ?? 0n;
              if (free < d.amount) {
                add(model.free, key, d.amount - free);
                add(model.deposits, key, d.amount - free);
                emit(deposited(pos(), d.amount - free, d.payer, d.token));
              }
              add(model.free, key, -d.amount);
            }
            deal.status = "open";
            emitDeal(opened(pos(), d, deal.id));
            if (deal.byDelegate) emitDeal(lockedByDelegate(pos(), deal.id));
          },
        ]);
        break;
      case "open":
        // perform (which releases at once when the payer released first)
        moves.push([
          4,
          () => {
            deal.status = "performed";
            emitDeal(performed(pos(), deal.id));
            if (deal.payerReleased) release();
          },
        ]);
        if (!deal.payerReleased) {
          moves.push([
            2,
            () => {
              deal.payerReleased = true;
              emitDeal(approved(pos(), deal.id));
            },
          ]);
        }
        moves.push([1, release]); // settleWithSigs
        moves.push([2, () => refund(REFUND_REASONS[step.ratio % 3])]); // deadline, payee cancel, mutual cancel
        moves.push([1, splitDeal]);
        moves.push([1, postEvidence]);
        break;
      case "performed":
        moves.push([2, release]); // the payer's release, or the payee's claim
        moves.push([
          3,
          () => {
            // The registry counts it (held) unless the gateway is exiting or suspended, or it refused to count.
            const held = step.ratio % 3 !== 0;
            if (!held && step.ratio % 2 === 0) emitDeal(skipped(pos(), true, deal.id, d.gateway));
            deal.status = "disputed";
            deal.held = held;
            emitDeal(disputed(pos(), step.ratio % 2 === 0 ? d.payer : d.payee, deal.id, held));
          },
        ]);
        moves.push([1, cancel]);
        moves.push([1, splitDeal]);
        moves.push([1, postEvidence]);
        if (deal.byDelegate) moves.push([1, () => refund("lock_expired")]);
        break;
      case "disputed":
        moves.push([3, () => resolve(deal.held === true && step.ratio % 3 !== 0)]); // the gateway, or an arbiter
        moves.push([1, cancel]);
        moves.push([1, release]); // the payer gives in (or both sign)
        moves.push([1, splitDeal]);
        moves.push([2, postEvidence]);
        if (deal.byDelegate) moves.push([1, () => refund("lock_expired")]);
        break;
      default:
        break; // final: nothing moves
    }
    const total = moves.reduce((n, [w]) => n + w, 0);
    let pick = step.choice % Math.max(total, 1);
    for (const [weight, move] of moves) {
      if (pick < weight) {
        move();
        break;
      }
      pick -= weight;
    }
  }
  return model;
}

function checkInvariants(view: MemoryView, model: Model): void {
  const live = model.deals.filter((d) => d.status !== "none");
  let finalAmounts = 0n;
  let finalPaid = 0n;
  for (const deal of live) {
    const hash = dealOf(view, deal.id);
    expect(hash.status, deal.id).to.equal(deal.status);
    expect(hash.payerReleased).to.equal(deal.payerReleased ? "1" : "0");
    // (b) exactly one status index, the deal's own status; every index holds it.
    expect(view.statusIndexesOf(deal.id)).to.deep.equal([deal.status]);
    expect(view.zscore("ix:updated", deal.id)).to.not.equal(undefined);
    expect(view.zscore(`ix:party:${deal.params.payer}`, deal.id)).to.not.equal(undefined);
    expect(view.zscore(`ix:party:${deal.params.payee}`, deal.id)).to.not.equal(undefined);
    expect(view.zscore(`ix:gw:${deal.params.gateway}`, deal.id)).to.not.equal(undefined);
    expect(view.history(deal.id)).to.have.lengthOf(deal.events);
    if (FINAL_STATUSES.has(deal.status as DealStatus)) {
      // (a) conservation of every final deal.
      const paid = BigInt(hash.payeeAmount) + BigInt(hash.fee) + BigInt(hash.refund);
      expect(paid, deal.id).to.equal(deal.params.amount);
      expect({ payeeAmount: hash.payeeAmount, fee: hash.fee, refund: hash.refund }).to.deep.equal({
        payeeAmount: deal.settled!.payeeAmount.toString(),
        fee: deal.settled!.fee.toString(),
        refund: deal.settled!.refund.toString(),
      });
      finalAmounts += deal.params.amount;
      finalPaid += paid;
    } else {
      expect(hash).to.not.have.any.keys("payeeAmount", "fee", "refund");
    }
  }
  expect(finalPaid).to.equal(finalAmounts);
  const indexed = DEAL_STATUSES.reduce((n, s) => n + (view.zsets.get(`ix:status:${s}`)?.size ?? 0), 0);
  expect(indexed).to.equal(live.length);
  expect(view.zsets.get("ix:updated")?.size ?? 0).to.equal(live.length);

  // (c) float: free + locked = deposits − withdrawals − released + refunded, where `released` is every settled
  // on-ramp amount leaving the locked float and `refunded` what came back to the free float.
  for (const acceptor of ACCEPTORS) {
    for (const token of TOKENS) {
      const key = `${acceptor}/${token}`;
      const onramps = live.filter((d) => d.params.kind === "onramp" && d.params.payer === acceptor);
      const mine = onramps.filter((d) => d.params.token === token);
      const settled = mine.filter((d) => d.settled);
      const releasedOut = settled.reduce((s, d) => s + d.params.amount, 0n);
      const refundedIn = settled.reduce((s, d) => s + d.settled!.refund, 0n);
      const lockedNow = mine.filter((d) => !d.settled).reduce((s, d) => s + d.params.amount, 0n);
      const expected = (model.deposits.get(key) ?? 0n) - (model.withdrawals.get(key) ?? 0n) - releasedOut + refundedIn;
      const f = floatOf(view, acceptor, token);
      const free = BigInt(f.free ?? "0");
      const locked = BigInt(f.locked ?? "0");
      expect(free + locked, `float ${key}`).to.equal(expected);
      expect(locked, `locked ${key}`).to.equal(lockedNow);
      expect(free, `free ${key}`).to.equal(model.free.get(key) ?? 0n);
    }
  }

  // Owed balances match the model (fees to gateways, deferred payouts, claims).
  for (const [key, amount] of model.owed) {
    const [account, token] = key.split("/");
    expect(BigInt(owedOf(view, account, token) ?? "0"), `owed ${key}`).to.equal(amount);
  }
}
