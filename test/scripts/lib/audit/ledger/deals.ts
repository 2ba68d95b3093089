/**
 * The rules of a deal's life as the audit replays them (scripts/lib/audit/ledger/deals.ts): what a release, a
 * split, a dispute, a ruling, evidence and a delegate's lock may do, and when.
 */
import { expect } from "chai";
import { getAddress } from "ethers";
import { Status, type DealParams } from "../../../../../protocol";
import { AuditLedger } from "../../../../../scripts/lib/audit/ledger";
import {
  A,
  DAY,
  T0,
  WINDOW,
  disputedAt,
  ev,
  idOf,
  ledger,
  messages,
  nextDelegateSalt,
  nextSalt,
  opened,
  params,
  ruling,
  withId,
} from "../support/events";

describe("scripts/lib/audit/ledger/deals.ts", () => {
  describe("DealReleased (no amounts in the event)", () => {
    it("derives the payee's amount and the fee from the deal, and releases a disputed deal (the payer gives in)", () => {
      const l = ledger();
      const dealId = disputedAt(l, T0 + 10, { amount: 1_000_037n, feeBps: 75 });
      l.apply(ev({ type: "DealReleased", dealId }));
      l.finish();
      expect(l.inconsistencies).to.deep.equal([]);
      expect(l.deals.get(dealId.toLowerCase())).to.include({
        status: Status.Released,
        payeeAmount: 992_537n,
        fee: 7_500n,
      });
      expect(l.owed.get(`${A.token}|${A.gateway}`.toLowerCase())!.amount).to.equal(7_500n);
    });
  });

  describe("DealSplit", () => {
    it("ends an open, performed or disputed deal (final), fee on the payee's share only", () => {
      const l = ledger();
      const [open, openId] = withId(params());
      const disputed = disputedAt(l, T0 + 10);
      l.applyAll([
        opened(open),
        ev({ type: "DealSplit", dealId: openId, payeeAmount: 597_000n, fee: 3_000n, refund: 400_000n }),
        ev({ type: "DealSplit", dealId: disputed, payeeAmount: 0n, fee: 0n, refund: 1_000_000n }),
      ]);
      expect(l.inconsistencies).to.deep.equal([]);
      expect(l.deals.get(openId.toLowerCase())!.status).to.equal(Status.Split);
      expect(l.heldDisputesByGateway().size).to.equal(0);
      const after = ev({ type: "DealPerformed", dealId: openId });
      l.apply(after);
      expect(messages(l)).to.deep.equal([
        `I3 state machine: deal ${openId} DealPerformed is not a legal step from Split (final)`,
      ]);
    });
  });

  describe("I4: who may dispute, and when", () => {
    const cases: [string, Partial<DealParams>, string, number, string | undefined][] = [
      ["the payer, any time after performed", {}, "payer", T0 + 30 * DAY, undefined],
      ["the payee, after the payer's release window", {}, "payee", T0 + 3_601, undefined],
      ["the payee, within the payer's release window", {}, "payee", T0 + 3_600, "disputed by its payee at"],
      ["the payer of an autoRelease payment within its window", { autoRelease: true }, "payer", T0 + 3_600, undefined],
      [
        "the payer of an autoRelease payment after its window",
        { autoRelease: true },
        "payer",
        T0 + 3_601,
        "after its release window",
      ],
    ];
    for (const [title, over, who, at, flagged] of cases) {
      it(`${title} → ${flagged ? "I4" : "legal"}`, () => {
        const l = ledger();
        disputedAt(l, at, over, who === "payer" ? A.payer : A.payee);
        if (flagged) expect(messages(l).join("\n")).to.match(new RegExp(`^I4 authority: .*${flagged}`));
        else expect(l.inconsistencies).to.deep.equal([]);
      });
    }
  });

  describe("I4: who may rule, and when", () => {
    it("the gateway, on a dispute it holds, within its window: legal, with its fee", () => {
      const l = ledger();
      const dealId = disputedAt(l, T0 + 10);
      l.apply(ruling(dealId, A.gateway, 597_000n, 3_000n, T0 + 10 + WINDOW));
      expect(l.inconsistencies).to.deep.equal([]);
      expect(l.unverifiedResolvers).to.deep.equal([]);
    });

    it("the gateway after its window → I4 (the arbiter's then)", () => {
      const l = ledger();
      const dealId = disputedAt(l, T0 + 10);
      l.apply(ruling(dealId, A.gateway, 597_000n, 3_000n, T0 + 11 + WINDOW));
      expect(messages(l)).to.deep.equal([
        `I4 authority: deal ${dealId} ruled by its gateway at ${T0 + 11 + WINDOW}, after its resolution window (until ${T0 + 10 + WINDOW})`,
      ]);
    });

    it("the gateway on a dispute it does not hold, or while suspended → not the gateway's ruling (checked as an arbiter's)", () => {
      for (const setup of ["unheld", "suspended"] as const) {
        const l = ledger();
        const dealId = disputedAt(l, T0 + 10, {}, A.payer, setup !== "unheld");
        if (setup === "suspended") l.apply(ev({ type: "GatewaySuspended", gateway: A.gateway }));
        const r = ruling(dealId, A.gateway, 597_000n, 3_000n, T0 + 20);
        l.apply(r);
        expect(l.unverifiedResolvers, setup).to.deep.equal([{ dealId, by: A.gateway, block: r.block }]);
        expect(messages(l), setup).to.deep.equal([
          `I2 conservation: deal ${dealId} ruled by ${A.gateway} as an arbiter charged fee 3000`,
        ]);
      }
    });

    it("an exiting gateway still rules the disputes it holds", () => {
      const l = ledger();
      const dealId = disputedAt(l, T0 + 10);
      l.applyAll([
        ev({ type: "GatewayExitRequested", gateway: A.gateway }),
        ruling(dealId, A.gateway, 597_000n, 3_000n, T0 + 20),
      ]);
      expect(l.inconsistencies).to.deep.equal([]);
    });

    it("an arbiter while the gateway holds the dispute and its window is open → I4", () => {
      const l = ledger();
      const dealId = disputedAt(l, T0 + 10);
      l.apply(ruling(dealId, A.stranger, 600_000n, 0n, T0 + 20));
      expect(messages(l)).to.deep.equal([
        `I4 authority: deal ${dealId} ruled by ${A.stranger} as an arbiter while its gateway held the dispute and its window was open (until ${T0 + 10 + WINDOW})`,
      ]);
    });

    it("an arbiter after the window, on an unheld dispute, or once the gateway is suspended: legal, without a fee", () => {
      const after = ledger();
      after.apply(ruling(disputedAt(after, T0 + 10), A.stranger, 600_000n, 0n, T0 + 11 + WINDOW));
      const unheld = ledger();
      unheld.apply(ruling(disputedAt(unheld, T0 + 10, {}, A.payer, false), A.stranger, 600_000n, 0n, T0 + 20));
      const suspended = ledger();
      const id3 = disputedAt(suspended, T0 + 10);
      suspended.applyAll([
        ev({ type: "GatewaySuspended", gateway: A.gateway }),
        ruling(id3, A.stranger, 600_000n, 0n, T0 + 20),
      ]);
      for (const l of [after, unheld, suspended]) {
        expect(l.inconsistencies).to.deep.equal([]);
        expect(l.unverifiedResolvers).to.deep.equal([]);
      }
    });
  });

  describe("the registry's answer to a new dispute (held or not)", () => {
    it("held while the gateway was suspended → registry inconsistency", () => {
      const l = ledger();
      l.apply(ev({ type: "GatewaySuspended", gateway: A.gateway }));
      const dealId = disputedAt(l, T0 + 10);
      expect(messages(l)).to.deep.equal([
        `registry registry: deal ${dealId}'s dispute is held by gateway ${A.gateway}, which was Active, suspended`,
      ]);
    });

    it("not held while the gateway was active, without a DisputeCountSkipped → registry inconsistency", () => {
      const l = ledger();
      const dealId = disputedAt(l, T0 + 10, {}, A.payer, false, false);
      expect(messages(l)).to.deep.equal([
        `registry registry: deal ${dealId}'s dispute is not held by gateway ${A.gateway}, which was Active and in good standing, and the registry did not refuse to count it`,
      ]);
    });

    it("not held after a DisputeCountSkipped(opened): legal; a skipped close of a held dispute counts as drift", () => {
      const l = ledger();
      const [deal, dealId] = withId(params());
      const held = disputedAt(l, T0 + 10);
      l.applyAll([
        opened(deal),
        ev({ type: "DealPerformed", dealId, time: T0 }),
        ev({ type: "DisputeCountSkipped", dealId, gateway: A.gateway, opened: true }),
        ev({ type: "DealDisputed", dealId, by: A.payer, gatewayHolds: false, time: T0 + 10 }),
        ev({ type: "DealReleased", dealId: held }),
        ev({ type: "DisputeCountSkipped", dealId: held, gateway: A.gateway, opened: false }),
      ]);
      expect(l.inconsistencies).to.deep.equal([]);
      expect(l.counterDrift.get(A.gateway.toLowerCase())).to.equal(1);
      expect(l.heldDisputesByGateway().size).to.equal(0);
    });

    it("a DisputeCountSkipped(closed) for a deal whose held dispute did not just end → I3", () => {
      const l = ledger();
      const dealId = disputedAt(l, T0 + 10, {}, A.payer, true);
      l.apply(ev({ type: "DisputeCountSkipped", dealId, gateway: A.gateway, opened: false }));
      expect(messages(l)).to.deep.equal([
        `I3 state machine: DisputeCountSkipped(closed) for deal ${dealId}, whose held dispute did not just end`,
      ]);
    });
  });

  describe("I4: evidence", () => {
    it("from a party, the gateway or an arbiter while the deal is live: legal", () => {
      const l = ledger();
      const dealId = disputedAt(l, T0 + 10);
      for (const by of [A.payer, A.payee, A.gateway, A.stranger]) l.apply(ev({ type: "EvidencePosted", dealId, by }));
      expect(l.inconsistencies).to.deep.equal([]);
      expect(l.unverifiedPosters).to.deep.equal([]);
    });

    it("from anyone else → checked against ARBITER_ROLE on chain; after the deal ended → I4", () => {
      const l = new AuditLedger({ resolutionWindow: WINDOW });
      const [deal, dealId] = withId(params());
      const outsider = ev({ type: "EvidencePosted", dealId, by: A.acceptor });
      l.applyAll([opened(deal), outsider, ev({ type: "DealRefunded", dealId, reason: "payee_cancel" })]);
      const late = ev({ type: "EvidencePosted", dealId, by: A.payer });
      l.apply(late);
      expect(l.unverifiedPosters).to.deep.equal([{ dealId, by: A.acceptor, block: outsider.block }]);
      expect(messages(l)).to.deep.equal([
        `I4 authority: evidence posted on deal ${dealId} by ${A.payer} after it ended (Refunded)`,
      ]);
    });
  });

  describe("delegate locks", () => {
    const DELEGATE = getAddress("0x00000000000000000000000000000000000000d7");
    const lock = (over: Partial<DealParams> = {}) =>
      params({
        payer: A.acceptor,
        kind: "onramp",
        amount: 300n,
        deadline: T0 + DAY,
        salt: nextDelegateSalt(),
        ...over,
      });
    const setup = () =>
      new AuditLedger({ resolutionWindow: WINDOW }).applyAll([
        ev({ type: "AcceptorRegistered", acceptor: A.acceptor, lockDelegate: DELEGATE }),
        ev({ type: "FloatDeposited", acceptor: A.acceptor, token: A.token, amount: 10_000n }),
      ]);
    const lockedBy = (l: AuditLedger, deal: DealParams, delegate = DELEGATE, time = T0) => {
      const dealId = idOf(deal);
      const open = { ...opened(deal), time };
      l.applyAll([open, ev({ type: "DealLockedByDelegate", dealId, delegate, block: open.block, time })]);
      return dealId;
    };

    it("by the acceptor's delegate with a delegate salt, within its bounds: legal", () => {
      const l = setup();
      lockedBy(l, lock({ deadline: T0 + 7 * DAY, releaseWindow: 2 * DAY }));
      l.finish();
      expect(l.inconsistencies).to.deep.equal([]);
    });

    it("by someone else, past the bounds, or without the prefix → I4", () => {
      const l = setup();
      const wrong = lockedBy(l, lock(), A.stranger);
      const long = lockedBy(l, lock({ deadline: T0 + 7 * DAY + 1, releaseWindow: 2 * DAY + 1 }));
      const plain = lockedBy(l, lock({ salt: nextSalt() }));
      expect(messages(l)).to.deep.equal([
        `I4 authority: deal ${wrong} locked by delegate ${A.stranger}: the acceptor's lock delegate is ${DELEGATE}`,
        `I4 authority: deal ${long} locked by delegate ${DELEGATE}: its release window 172801 s is above 172800 s; its deadline ${T0 + 7 * DAY + 1} is more than 604800 s after the lock`,
        `I4 authority: deal ${plain} locked by delegate ${DELEGATE}: its salt lacks the delegate prefix`,
      ]);
    });

    it("a delegate salt on anything but a delegate's lock → I4", () => {
      const l = setup();
      const payment = params({ salt: nextDelegateSalt() });
      const acceptorLock = lock();
      l.applyAll([opened(payment), opened(acceptorLock)]);
      l.finish();
      expect(messages(l)).to.deep.equal([
        `I4 authority: deal ${idOf(payment)} (Payment) was opened with a salt reserved for delegate locks`,
        `I4 authority: deal ${idOf(acceptorLock)} was locked with a salt reserved for delegate locks, but not by a delegate (no DealLockedByDelegate)`,
      ]);
    });

    const expiry = (d: DealParams) => d.deadline + d.releaseWindow + WINDOW;
    for (const [title, from, at, expected] of [
      ["performed, after its expiry → legal (back to the float)", "performed", 1, undefined],
      ["disputed, after its expiry → legal", "disputed", 1, undefined],
      ["performed, at its expiry → I4", "performed", 0, "before its expiry"],
    ] as [string, string, number, string | undefined][]) {
      it(`LockExpired of a delegate's lock ${title}`, () => {
        const l = setup();
        const deal = lock({ deadline: T0 + DAY });
        const dealId = lockedBy(l, deal);
        l.apply(ev({ type: "DealPerformed", dealId, time: T0 + 10 }));
        if (from === "disputed") {
          l.applyAll([
            ev({ type: "GatewayRegistered", gateway: A.gateway }),
            ev({ type: "GatewayApproved", gateway: A.gateway }),
            ev({ type: "DealDisputed", dealId, by: A.acceptor, gatewayHolds: true, time: T0 + 20 }),
          ]);
        }
        l.apply(ev({ type: "DealRefunded", dealId, reason: "lock_expired", time: expiry(deal) + at }));
        l.finish();
        if (expected) expect(messages(l).join("\n")).to.contain(expected);
        else {
          expect(l.inconsistencies).to.deep.equal([]);
          expect(l.floats.get(`${A.acceptor}|${A.token}`.toLowerCase())).to.include({ free: 10_000n, locked: 0n });
        }
      });
    }

    it("LockExpired of a lock the acceptor made → I4; of an open lock → I3", () => {
      const l = setup();
      const [own, ownId] = withId(params({ payer: A.acceptor, kind: "onramp", amount: 300n }));
      l.applyAll([opened(own), ev({ type: "DealPerformed", dealId: ownId, time: T0 })]);
      l.apply(ev({ type: "DealRefunded", dealId: ownId, reason: "lock_expired", time: T0 + 365 * DAY }));
      const open = lock();
      const openId = lockedBy(l, open);
      l.apply(ev({ type: "DealRefunded", dealId: openId, reason: "lock_expired", time: T0 + 365 * DAY }));
      expect(messages(l)).to.deep.equal([
        `I4 authority: deal ${ownId} refunded as an expired lock, but no delegate locked it`,
        `I3 state machine: deal ${openId} DealRefunded(LockExpired) is not a legal step from Open`,
      ]);
    });
  });
});
