/**
 * The API views (`views.ts`) of projected deals, gateways and acceptors, and their confirmations and finality.
 */
import { expect } from "chai";
import { id } from "ethers";
import type { ProtocolEvent } from "../../../protocol";
import type { Hash } from "../../../relayer/src/domain/projection";
import { acceptorView, confirmationsOf, dealView, finalityOf, gatewayView } from "../../../relayer/src/domain/views";
import { MemoryView, apply, PAYER, PAYEE, GATEWAY, ARBITER, ACCEPTOR, DELEGATE, USDT, DAI } from "../support/domain";
import { SALT, REF, DEAL, DEAL2, SEPA, PIX, AMOUNT, FEE_BPS, FEE, NET, at, ev, dealParams } from "../support/domain";
import { opened, performed, approved, released, refunded, timeOf, disputed, REASONS } from "../support/domain";
import { resolved, evidence, lockedByDelegate, DELEGATE_SALT, deposited, dealOf, entry } from "../support/domain";
import { registeredGateway, registeredAcceptor, exitingGateway, EXIT_AT } from "../support/domain";

describe("relayer domain: views", function () {
  describe("confirmationsOf / finalityOf", function () {
    it("counts the event's own block: confirmations = head − block + 1, at least 1 (a stale head)", function () {
      expect(confirmationsOf(10, 10)).to.equal(1);
      expect(confirmationsOf(10, 11)).to.equal(2);
      expect(confirmationsOf(10, 12)).to.equal(3);
      // The head is cached briefly: an indexed event is in a mined block, so it has one confirmation at least.
      expect(confirmationsOf(10, 9)).to.equal(1);
      expect(confirmationsOf(10, 0)).to.equal(1);
    });

    it("is final exactly at the confirmation depth", function () {
      expect(finalityOf(10, { head: 11, confirmations: 3 })).to.equal("pending");
      expect(finalityOf(10, { head: 12, confirmations: 3 })).to.equal("final");
      expect(finalityOf(10, { head: 13, confirmations: 3 })).to.equal("final");
      expect(finalityOf(10, { head: 10, confirmations: 2 })).to.equal("pending");
      expect(finalityOf(10, { head: 10, confirmations: 1 })).to.equal("final");
      expect(finalityOf(10, { head: 8, confirmations: 2 })).to.equal("pending");
    });
  });

  describe("dealView", function () {
    const build = (...events: ProtocolEvent[]) => {
      const view = new MemoryView();
      apply(view, ...events);
      return view;
    };
    const WINDOW = 3 * 86_400;
    const NOW = timeOf(20);
    const CONTEXT = { resolutionWindow: WINDOW };
    const depth = (head: number, confirmations: number) => ({ head, confirmations, now: NOW });

    it("shows a released deal with typed fields and per-entry finality (depth 3)", function () {
      const [p1, p2, p3] = [at(8, 1), at(9, 0), at(10, 4)];
      const view = build(opened(p1), performed(p2), released(p3));
      const shown = dealView(DEAL, dealOf(view), view.history(DEAL), depth(11, 3), CONTEXT);
      const d = dealParams();
      expect(shown).to.deep.equal({
        dealId: DEAL,
        status: "released",
        kind: "payment",
        payer: PAYER,
        payee: PAYEE,
        gateway: GATEWAY,
        token: USDT,
        amount: "1000000",
        deadline: d.deadline,
        releaseWindow: d.releaseWindow,
        feeBps: FEE_BPS,
        autoRelease: false,
        salt: SALT,
        ref: REF,
        payerReleased: false,
        flags: 0,
        evidence: [],
        payeeAmount: NET.toString(),
        fee: FEE.toString(),
        refund: "0",
        openedBlock: 8,
        updatedBlock: 10,
        confirmations: 2,
        finality: "pending",
        history: [
          // Counted up to the depth (3), not head - 8 + 1 = 4: a final entry's view never changes.
          { ...entry("DealOpened", p1, { ref: REF }), confirmations: 3, finality: "final" },
          { ...entry("DealPerformed", p2, {}), confirmations: 3, finality: "final" },
          {
            ...entry("DealReleased", p3, { payeeAmount: NET.toString(), fee: FEE.toString() }),
            confirmations: 2,
            finality: "pending",
          },
        ],
      });
      const later = dealView(DEAL, dealOf(view), view.history(DEAL), depth(12, 3), CONTEXT);
      expect(later).to.include({ confirmations: 3, finality: "final" });
      expect(later.history.map((h) => h.finality)).to.deep.equal(["final", "final", "final"]);
    });

    it("has no settlement fields while open, and booleans from the flags", function () {
      const view = build(opened(at(10), { autoRelease: true }), approved(at(11)));
      const shown = dealView(DEAL, dealOf(view), view.history(DEAL), depth(11, 1), CONTEXT);
      expect(shown).to.include({
        status: "open",
        autoRelease: true,
        payerReleased: true,
        flags: 1,
        finality: "final",
      });
      expect(shown).to.not.have.any.keys(
        "payeeAmount",
        "fee",
        "refund",
        "refundReason",
        "disputedBy",
        "resolvedBy",
        "gatewayHolds",
        "disputeRuler",
        "resolutionDeadline",
        "lockedBy",
        "lockExpiry",
      );
      expect(shown.salt).to.match(/^0x[0-9a-f]{64}$/);
      expect(shown.ref).to.match(/^0x[0-9a-f]{64}$/);
    });

    it("shows the refund reason of a refunded deal", function () {
      const view = build(opened(at(10)), refunded(at(11), "mutual_cancel"));
      const shown = dealView(DEAL, dealOf(view), view.history(DEAL), depth(20, 3), CONTEXT);
      expect(shown).to.include({
        status: "refunded",
        refundReason: "mutual_cancel",
        payeeAmount: "0",
        fee: "0",
        refund: "1000000",
      });
      expect(shown).to.not.have.any.keys("disputedBy", "resolvedBy");
    });

    it("shows who disputed and who resolved", function () {
      const view = build(
        opened(at(10)),
        performed(at(11)),
        disputed(at(12), PAYEE),
        resolved(at(13), 0n, 0n, AMOUNT, ARBITER),
      );
      const shown = dealView(DEAL, dealOf(view), view.history(DEAL), depth(13, 3), CONTEXT);
      expect(shown).to.include({
        status: "resolved",
        disputedBy: PAYEE,
        gatewayHolds: true,
        disputedAt: timeOf(12),
        resolvedBy: ARBITER,
        reasons: REASONS,
        refund: "1000000",
        flags: 0,
      });
      expect(shown).to.not.have.any.keys("refundReason", "disputeRuler", "resolutionDeadline");
      expect(shown).to.include({ confirmations: 1, finality: "pending" });
    });

    describe("who rules a disputed deal now (disputeRuler) and until when the gateway may (resolutionDeadline)", function () {
      const gatewayHash = (over: Hash = {}): Hash => ({ status: "active", suspended: "0", ...over });
      const disputedView = (gatewayHolds: boolean) =>
        build(opened(at(10)), performed(at(11)), disputed(at(12), PAYER, DEAL, gatewayHolds));
      const shown = (gatewayHolds: boolean, now: number, gateway: Hash | undefined) => {
        const view = disputedView(gatewayHolds);
        return dealView(
          DEAL,
          dealOf(view),
          view.history(DEAL),
          { head: 13, confirmations: 1, now },
          {
            resolutionWindow: WINDOW,
            gateway,
          },
        );
      };
      const deadline = timeOf(12) + WINDOW;
      const cases: [string, boolean, number, Hash | undefined, "gateway" | "arbiter"][] = [
        ["held, the gateway active, within the window → gateway", true, deadline, gatewayHash(), "gateway"],
        [
          "held, the gateway exiting, within the window → gateway",
          true,
          deadline - 1,
          gatewayHash({ status: "exiting" }),
          "gateway",
        ],
        ["held, the window over → arbiter", true, deadline + 1, gatewayHash(), "arbiter"],
        ["held, the gateway suspended → arbiter", true, deadline - 1, gatewayHash({ suspended: "1" }), "arbiter"],
        ["held, the gateway exited → arbiter", true, deadline - 1, gatewayHash({ status: "exited" }), "arbiter"],
        ["held, the gateway unknown → arbiter", true, deadline - 1, undefined, "arbiter"],
        [
          "not held (raised while the gateway was exiting or suspended) → arbiter",
          false,
          deadline - 1,
          gatewayHash(),
          "arbiter",
        ],
      ];
      for (const [title, held, now, gateway, ruler] of cases) {
        it(title, function () {
          const view = shown(held, now, gateway);
          expect(view).to.include({
            status: "disputed",
            gatewayHolds: held,
            disputedAt: timeOf(12),
            resolutionDeadline: deadline,
            disputeRuler: ruler,
            flags: held ? 2 : 0,
          });
        });
      }
    });

    it("shows who locked an on-ramp deal, and when a delegate's lock expires", function () {
      const delegateSalt = DELEGATE_SALT;
      const view = build(
        deposited(at(9), 2n * AMOUNT),
        opened(at(10), { kind: "onramp", payer: ACCEPTOR, salt: delegateSalt }),
        lockedByDelegate(at(10, 1)),
        opened(at(11), { kind: "onramp", payer: ACCEPTOR }, DEAL2),
      );
      const d = dealParams();
      const byDelegate = dealView(DEAL, dealOf(view), view.history(DEAL), depth(11, 1), CONTEXT);
      expect(byDelegate).to.include({ lockedBy: DELEGATE, lockExpiry: d.deadline + d.releaseWindow + WINDOW });
      const byAcceptor = dealView(DEAL2, dealOf(view, DEAL2), view.history(DEAL2), depth(11, 1), CONTEXT);
      expect(byAcceptor).to.include({ lockedBy: ACCEPTOR });
      expect(byAcceptor).to.not.have.property("lockExpiry");
    });

    it("lists the evidence posted, oldest first, with its block and transaction", function () {
      const [p4, p5] = [at(13, 1), at(14, 2)];
      const view = build(
        opened(at(10)),
        performed(at(11)),
        disputed(at(12)),
        evidence(p4, PAYEE, "https://example.org/tracking"),
        evidence(p5, ARBITER, "ipfs://ruling-notes"),
      );
      const shown = dealView(DEAL, dealOf(view), view.history(DEAL), depth(14, 1), CONTEXT);
      expect(shown.evidence).to.deep.equal([
        {
          by: PAYEE,
          contentHash: id("content https://example.org/tracking"),
          uri: "https://example.org/tracking",
          blockNumber: 13,
          txHash: p4.txHash,
        },
        {
          by: ARBITER,
          contentHash: id("content ipfs://ruling-notes"),
          uri: "ipfs://ruling-notes",
          blockNumber: 14,
          txHash: p5.txHash,
        },
      ]);
    });
  });

  describe("dealView: times, capped confirmations, overdue (issue 11)", function () {
    const WINDOW = 3 * 86_400;
    const stamp = <T extends ProtocolEvent>(e: T): T => ({ ...e, timestamp: timeOf(e.block) });

    it("when history entries carry block times → openedAt, updatedAt and each entry's timestamp", function () {
      const view = new MemoryView();
      apply(
        view,
        stamp(opened(at(8))),
        stamp(performed(at(9))),
        stamp(released(at(10, 2))),
        stamp(deposited(at(11), 5n)),
      );
      const shown = dealView(
        DEAL,
        dealOf(view),
        view.history(DEAL),
        { head: 30, confirmations: 3, now: 0 },
        {
          resolutionWindow: WINDOW,
        },
      );
      expect(shown).to.include({ openedAt: timeOf(8), updatedAt: timeOf(10), confirmations: 3, finality: "final" });
      expect(shown.history.map((h) => [h.timestamp, h.confirmations])).to.deep.equal([
        [timeOf(8), 3],
        [timeOf(9), 3],
        [timeOf(10), 3],
      ]);
    });

    it("when entries were stored without times → no openedAt/updatedAt", function () {
      const view = new MemoryView();
      apply(view, opened(at(8)));
      const shown = dealView(
        DEAL,
        dealOf(view),
        view.history(DEAL),
        { head: 9, confirmations: 3, now: 0 },
        {
          resolutionWindow: WINDOW,
        },
      );
      expect(shown).to.not.have.any.keys("openedAt", "updatedAt");
    });

    it("when a held dispute's window has passed → overdue; while it is open → not; an unheld one → overdue", function () {
      const view = new MemoryView();
      apply(view, registeredGateway(at(1)), opened(at(8)), performed(at(9)), disputed(at(10)));
      const gw = { ...view.hashes.get(`gw:${GATEWAY}`)!, status: "active" };
      const deal = dealOf(view);
      const deadline = timeOf(10) + WINDOW;
      const at_ = (now: number, d: Hash = deal) =>
        dealView(
          DEAL,
          d,
          view.history(DEAL),
          { head: 20, confirmations: 3, now },
          { resolutionWindow: WINDOW, gateway: gw },
        );
      expect(at_(deadline)).to.include({ overdue: false, disputeRuler: "gateway", resolutionDeadline: deadline });
      expect(at_(deadline + 1)).to.include({ overdue: true, disputeRuler: "arbiter" });
      expect(at_(deadline, { ...deal, gatewayHolds: "0" })).to.include({ overdue: true });
      const settled = new MemoryView();
      apply(settled, opened(at(8)), released(at(9)));
      expect(
        dealView(
          DEAL,
          dealOf(settled),
          settled.history(DEAL),
          { head: 20, confirmations: 3, now: 0 },
          {
            resolutionWindow: WINDOW,
          },
        ),
      ).to.not.have.property("overdue");
    });
  });

  describe("gatewayView", function () {
    it("shows a gateway with numbers and 0x metadata", function () {
      const view = new MemoryView();
      apply(view, registeredGateway(at(5)), ev("GatewayApproved", at(7), { gateway: GATEWAY, feeCapBps: 300 }));
      expect(gatewayView(GATEWAY, view.hashes.get(`gw:${GATEWAY}`)!, { head: 8, confirmations: 3 })).to.deep.equal({
        address: GATEWAY,
        status: "active",
        suspended: false,
        canRule: true,
        bond: "1000",
        feeBps: 50,
        feeCapBps: 300,
        exitAt: 0,
        openDisputes: 0,
        metadata: id("terms"),
        feesEarned: [],
        registeredBlock: 5,
        updatedBlock: 7,
        finality: "pending",
      });
      expect(gatewayView(GATEWAY, view.hashes.get(`gw:${GATEWAY}`)!, { head: 9, confirmations: 3 }).finality).to.equal(
        "final",
      );
    });

    it("shows the suspension apart from the status, and whether the gateway may rule", function () {
      const view = new MemoryView();
      apply(view, ...exitingGateway());
      const shown = () => gatewayView(GATEWAY, view.hashes.get(`gw:${GATEWAY}`)!, { head: 9, confirmations: 1 });
      expect(shown()).to.include({ status: "exiting", suspended: false, canRule: true, exitAt: EXIT_AT });
      apply(view, ev("GatewaySuspended", at(8), { gateway: GATEWAY }));
      expect(shown()).to.include({ status: "exiting", suspended: true, canRule: false });
      apply(
        view,
        ev("GatewayReinstated", at(9), { gateway: GATEWAY }),
        ev("GatewayExited", at(10), { gateway: GATEWAY }),
      );
      expect(shown()).to.include({ status: "exited", suspended: false, canRule: false });
    });
  });

  describe("acceptorView", function () {
    it("lists every token found in limits or float fields, and sorted methods", function () {
      const view = new MemoryView();
      apply(
        view,
        registeredAcceptor(at(1)),
        deposited(at(2), 3n * AMOUNT),
        opened(at(3), { kind: "onramp", payer: ACCEPTOR }),
        ev("AcceptorMethodSet", at(4), { acceptor: ACCEPTOR, method: SEPA, supported: true }),
        ev("AcceptorMethodSet", at(4, 1), { acceptor: ACCEPTOR, method: PIX, supported: true }),
        ev("AcceptorLimitsSet", at(5), { acceptor: ACCEPTOR, token: DAI, minAmount: 5n, maxAmount: 9n }),
      );
      const shown = acceptorView(ACCEPTOR, view.hashes.get(`acc:${ACCEPTOR}`)!, view.smembers(`accm:${ACCEPTOR}`), {
        head: 5,
        confirmations: 1,
      });
      expect(shown).to.deep.equal({
        address: ACCEPTOR,
        status: "pending",
        gateway: GATEWAY,
        lockDelegate: DELEGATE,
        methods: [PIX, SEPA].sort(),
        paymentMethods: [PIX, SEPA].sort().map((method) => ({ method })),
        tokens: [
          { token: DAI, minAmount: "5", maxAmount: "9", free: "0", locked: "0" },
          { token: USDT, minAmount: "0", maxAmount: "0", free: (2n * AMOUNT).toString(), locked: AMOUNT.toString() },
        ].sort((a, b) => (a.token < b.token ? -1 : 1)),
        registeredBlock: 1,
        updatedBlock: 5,
        finality: "final",
      });
    });

    it("counts a float change as the acceptor's latest update (a pending deposit is not final)", function () {
      // views.ts: "an entity's latest event sits in block updatedBlock; ... a final one never changes". A deposit,
      // withdrawal, lock or settlement changes the float the view shows, so it must move updatedBlock.
      const view = new MemoryView();
      apply(view, registeredAcceptor(at(1)), deposited(at(10), 3n * AMOUNT));
      const progress = { head: 10, confirmations: 3 };
      let shown = acceptorView(ACCEPTOR, view.hashes.get(`acc:${ACCEPTOR}`)!, [], progress);
      expect(shown).to.include({ updatedBlock: 10, finality: "pending" });
      apply(view, opened(at(20), { kind: "onramp", payer: ACCEPTOR }));
      shown = acceptorView(ACCEPTOR, view.hashes.get(`acc:${ACCEPTOR}`)!, [], { head: 20, confirmations: 3 });
      expect(shown).to.include({ updatedBlock: 20, finality: "pending" });
      apply(view, released(at(30)));
      shown = acceptorView(ACCEPTOR, view.hashes.get(`acc:${ACCEPTOR}`)!, [], { head: 30, confirmations: 3 });
      expect(shown).to.include({ updatedBlock: 30, finality: "pending" });
    });

    it("sorts methods it is given in any order and ignores fields that are not per-token", function () {
      const shown = acceptorView(
        ACCEPTOR,
        { status: "active", gateway: GATEWAY, lockDelegate: DELEGATE, registeredBlock: "1", updatedBlock: "2" },
        [SEPA, PIX, id("A")],
        { head: 2, confirmations: 2 },
      );
      expect(shown.methods).to.deep.equal([SEPA, PIX, id("A")].sort());
      expect(shown.tokens).to.deep.equal([]);
      expect(shown.finality).to.equal("pending");
    });
  });
});
