/**
 * The audit's replay (scripts/lib/audit/ledger): deals, floats, owed balances and the registry's counters rebuilt
 * from hand-made event sequences, and who may end a dispute.
 */
import { expect } from "chai";
import { ZeroHash, id } from "ethers";
import { Status } from "../../../../../protocol";
import { AuditLedger } from "../../../../../scripts/lib/audit/ledger";
import {
  A,
  T0,
  WINDOW,
  disputedAt,
  ev,
  idOf,
  ledger as ledgerWithGateway,
  opened,
  params,
  withId,
} from "../support/events";

describe("scripts/lib/audit/ledger", () => {
  describe("AuditLedger (the replay)", () => {
    it("rebuilds a released payment: status, since block, fee owed to the gateway, no inconsistency", () => {
      const [deal, dealId] = withId(params());
      const ledger = new AuditLedger().applyAll([
        opened(deal),
        ev({ type: "DealReleaseApproved", dealId }),
        ev({ type: "DealPerformed", dealId, block: 500 }),
        ev({ type: "DealReleased", dealId, block: 500 }),
      ]);
      ledger.finish();
      expect(ledger.inconsistencies).to.deep.equal([]);
      const d = ledger.deals.get(dealId.toLowerCase())!;
      // The amounts follow from the deal (the event carries none): 50 bps of 1,000,000.
      expect(d).to.include({ status: Status.Released, payerReleased: false, sinceBlock: 500, fee: 5_000n });
      expect(d.payeeAmount).to.equal(995_000n);
      expect(ledger.owed.get(`${A.token}|${A.gateway}`.toLowerCase())!.amount).to.equal(5_000n);
      expect(ledger.openDealsTotal(A.token)).to.equal(0n);
    });

    it("keeps payerReleased and the open block while the deal waits for the payee", () => {
      const [deal, dealId] = withId(params());
      const open = opened(deal);
      const ledger = new AuditLedger().applyAll([open, ev({ type: "DealReleaseApproved", dealId })]);
      expect(ledger.deals.get(dealId.toLowerCase())).to.include({
        status: Status.Open,
        payerReleased: true,
        sinceBlock: open.block,
      });
      expect(ledger.openDealsTotal(A.token)).to.equal(1_000_000n);
    });

    it("rebuilds an on-ramp float: lock, split ruling, deposit, withdrawal — I5 holds", () => {
      const [deal, dealId] = withId(params({ payer: A.acceptor, kind: "onramp", amount: 300n }));
      const ledger = new AuditLedger().applyAll([
        ev({ type: "FloatDeposited", acceptor: A.acceptor, token: A.token, amount: 1_000n }),
        opened(deal),
        ev({ type: "DealPerformed", dealId }),
        ev({ type: "DealDisputed", dealId, by: A.payee, gatewayHolds: false }),
        ev({ type: "ArbiterGranted", account: A.stranger }),
        ev({
          type: "DealResolved",
          dealId,
          by: A.stranger,
          payeeAmount: 100n,
          fee: 0n,
          refund: 200n,
          reasons: ZeroHash,
        }),
        ev({ type: "FloatWithdrawn", acceptor: A.acceptor, token: A.token, amount: 50n }),
      ]);
      ledger.finish();
      expect(ledger.inconsistencies).to.deep.equal([]);
      expect(ledger.unverifiedResolvers).to.deep.equal([]);
      expect(ledger.floats.get(`${A.acceptor}|${A.token}`.toLowerCase())).to.deep.include({
        free: 850n,
        locked: 0n,
        deposits: 1_000n,
        withdrawals: 50n,
        released: 300n,
        refunded: 200n,
      });
    });

    it("flags I3 for any event after a final state (an illegal transition)", () => {
      const [deal, dealId] = withId(params());
      const illegal = ev({ type: "DealPerformed", dealId });
      const ledger = new AuditLedger().applyAll([
        opened(deal),
        ev({ type: "DealRefunded", dealId, reason: "payee_cancel" }),
        illegal,
      ]);
      expect(ledger.inconsistencies).to.deep.equal([
        {
          check: "I3",
          dealId,
          block: illegal.block,
          message: `state machine: deal ${dealId} DealPerformed is not a legal step from Refunded (final)`,
        },
      ]);
      expect(ledger.deals.get(dealId.toLowerCase())!.status).to.equal(Status.Refunded);
    });

    it("flags I3 for a deadline refund of a performed deal, a second open, and an unknown deal", () => {
      const [deal, dealId] = withId(params());
      const unknown = id("unknown");
      const ledger = new AuditLedger().applyAll([
        opened(deal),
        ev({ type: "DealPerformed", dealId }),
        ev({ type: "DealRefunded", dealId, reason: "deadline" }),
        opened(deal),
        ev({ type: "DealReleased", dealId: unknown }),
      ]);
      expect(ledger.inconsistencies.map((i) => [i.check, i.message])).to.deep.equal([
        ["I3", `state machine: deal ${dealId} DealRefunded(Deadline) is not a legal step from Performed`],
        ["I3", `state machine: deal ${dealId} opened again while Performed`],
        ["I3", `state machine: DealReleased for unknown deal ${unknown}`],
      ]);
    });

    it("flags I2 when a split or a ruling does not add up to the amount or charges the wrong fee", () => {
      const a = params();
      const b = params();
      const c = params();
      const [ia, ib, ic] = [idOf(a), idOf(b), idOf(c)];
      const ledger = new AuditLedger().applyAll([
        opened(a),
        opened(b),
        opened(c),
        ev({ type: "DealSplit", dealId: ia, payeeAmount: 590_000n, fee: 10_000n, refund: 400_000n }),
        ev({ type: "DealPerformed", dealId: ib }),
        ev({ type: "DealDisputed", dealId: ib, by: A.payer, gatewayHolds: false }),
        ev({ type: "ArbiterGranted", account: A.stranger }),
        ev({
          type: "DealResolved",
          dealId: ib,
          by: A.stranger,
          payeeAmount: 500n,
          fee: 0n,
          refund: 1n,
          reasons: ZeroHash,
        }),
        ev({ type: "DealSplit", dealId: ic, payeeAmount: 600_000n, fee: 0n, refund: 300_000n }),
      ]);
      expect(ledger.inconsistencies.map((i) => [i.check, i.dealId])).to.deep.equal([
        ["I2", ia],
        ["I2", ib],
        ["I2", ic],
      ]);
      expect(ledger.inconsistencies[0].message).to.contain("Split fee 10000 != 50 bps of 600000 (3000)");
      expect(ledger.inconsistencies[1].message).to.contain("payee 500 + fee 0 + refund 1 != amount 1000000");
      expect(ledger.inconsistencies[2].message).to.contain("payee 600000 + fee 0 + refund 300000 != amount 1000000");
    });

    it("flags I4 for a dispute by a stranger, and leaves a ruling by a non-arbiter for the storage check", () => {
      const [deal, dealId] = withId(params());
      const ruling = ev({
        type: "DealResolved",
        dealId,
        by: A.stranger,
        payeeAmount: 0n,
        fee: 0n,
        refund: 1_000_000n,
        reasons: ZeroHash,
      });
      const ledger = new AuditLedger().applyAll([
        ev({ type: "ArbiterGranted", account: A.stranger }),
        ev({ type: "ArbiterRevoked", account: A.stranger }),
        opened(deal),
        ev({ type: "DealPerformed", dealId }),
        ev({ type: "DealDisputed", dealId, by: A.stranger, gatewayHolds: false }),
        ruling,
      ]);
      expect(ledger.inconsistencies.map((i) => [i.check, i.message])).to.deep.equal([
        ["I4", `authority: deal ${dealId} disputed by ${A.stranger}, neither payer nor payee`],
      ]);
      expect(ledger.unverifiedResolvers).to.deep.equal([{ dealId, by: A.stranger, block: ruling.block }]);
    });

    it("flags I5 when float would go negative and I2 when owed would", () => {
      const deal = params({ payer: A.acceptor, kind: "onramp", amount: 300n });
      const ledger = new AuditLedger().applyAll([
        ev({ type: "FloatDeposited", acceptor: A.acceptor, token: A.token, amount: 100n }),
        opened(deal),
        ev({ type: "FloatWithdrawn", acceptor: A.acceptor, token: A.token, amount: 1n }),
        ev({ type: "OwedClaimed", token: A.token, account: A.payee, amount: 7n }),
      ]);
      ledger.finish();
      expect(ledger.inconsistencies.map((i) => i.check)).to.deep.equal(["I5", "I5", "I2", "I5", "I2"]);
      expect(ledger.inconsistencies[0].message).to.contain("locked 300");
      expect(ledger.inconsistencies[0].message).to.contain("with only 100 free");
      expect(ledger.inconsistencies[2].message).to.contain("owed would go negative");
    });

    it("accepts a deferred payout to the payee of a settled deal and flags one to anybody else", () => {
      const [deal, dealId] = withId(params());
      const ledger = new AuditLedger().applyAll([
        opened(deal),
        ev({ type: "DealPerformed", dealId }),
        ev({ type: "DealReleased", dealId }),
        ev({ type: "PayoutDeferred", dealId, token: A.token, account: A.payee, amount: 995_000n }),
        ev({ type: "PayoutDeferred", dealId, token: A.token, account: A.stranger, amount: 1n }),
      ]);
      expect(ledger.inconsistencies.map((i) => [i.check, i.message])).to.deep.equal([
        ["I2", `conservation: deal ${dealId} deferred 1 to ${A.stranger}, who is paid nothing by it`],
      ]);
      expect(ledger.owed.get(`${A.token}|${A.payee}`.toLowerCase())!.amount).to.equal(995_000n);
    });

    it("tracks the registry's dispute counters and allowlisted tokens", () => {
      const ledger = new AuditLedger().applyAll([
        ev({ type: "GatewayDisputesChanged", gateway: A.gateway, openDisputes: 2 }),
        ev({ type: "GatewayDisputesChanged", gateway: A.gateway, openDisputes: 1 }),
        ev({ type: "TokenAllowed", token: A.token, allowed: true }),
      ]);
      expect(ledger.registryDisputes.get(A.gateway.toLowerCase())).to.equal(1);
      expect([...ledger.tokens]).to.deep.equal([A.token]);
    });
  });

  describe("who may end a dispute now (rulerOf)", () => {
    it("the gateway in its window, then an arbiter, and nobody but the parties without one", () => {
      const l = ledgerWithGateway();
      const dealId = disputedAt(l, T0 + 10);
      const d = l.deals.get(dealId.toLowerCase())!;
      expect(l.rulerOf(d, T0 + 10 + WINDOW)).to.equal("gateway");
      expect(l.rulerOf(d, T0 + 11 + WINDOW)).to.equal("arbiter");
      l.apply(ev({ type: "GatewaySuspended", gateway: A.gateway }));
      expect(l.rulerOf(d, T0 + 20)).to.equal("arbiter");
      l.apply(ev({ type: "ArbiterRevoked", account: A.stranger }));
      expect(l.rulerOf(d, T0 + 20)).to.equal("parties only");
      l.apply(ev({ type: "GatewayReinstated", gateway: A.gateway }));
      expect(l.rulerOf(d, T0 + 20)).to.equal("gateway");
    });
  });
});
