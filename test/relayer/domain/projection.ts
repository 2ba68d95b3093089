/**
 * The projection reducer (`projection.ts`) over an in-memory `ProjectionView` with Redis semantics: every deal path,
 * floats, owed payouts, the registry, and the event sequences it refuses (ProjectionError).
 */
import { expect } from "chai";
import fc from "fast-check";
import { ZeroAddress, id } from "ethers";
import { REFUND_REASONS, type DealParams, type LogPosition, type ProtocolEvent } from "../../../protocol";
import { LOG_INDEX_SPAN, applyEvent, keysRead, keysReadAfterDeal } from "../../../relayer/src/domain/projection";
import { reindexDeal, scoreOf, type DealStatus, type Hash } from "../../../relayer/src/domain/projection";
import { decodeHistory, encodeHistory, type HistoryEntry } from "../../../relayer/src/domain/projection";
import { ProjectionError } from "../../../relayer/src/errors";
import { MemoryView, apply, addr, PAYER, PAYEE, GATEWAY, ARBITER, ACCEPTOR, DELEGATE, USDT } from "../support/domain";
import { DAI, REF, DEAL, DEAL2, SEPA, PIX, AMOUNT, FEE, NET, at, ev, SALT, opened, performed } from "../support/domain";
import { approved, released, refunded, timeOf, disputed, REASONS, resolved, split, evidence } from "../support/domain";
import { lockedByDelegate, skipped, DELEGATE_SALT, deferred, claimed, deposited, withdrawn } from "../support/domain";
import {
  dealOf,
  owedOf,
  floatOf,
  entry,
  registeredGateway,
  registeredAcceptor,
  exitingGateway,
} from "../support/domain";

/** Checks that the deal sits in exactly the status index `status` and that every index scores it `score`. */
function expectIndexed(view: MemoryView, status: DealStatus, score: number, dealId = DEAL, d = dealOf(view, dealId)) {
  expect(view.statusIndexesOf(dealId)).to.deep.equal([status]);
  expect(view.zscore(`ix:status:${status}`, dealId), `ix:status:${status}`).to.equal(score);
  expect(view.zscore("ix:updated", dealId), "ix:updated").to.equal(score);
  expect(view.zscore(`ix:party:${d.payer}`, dealId), "ix:party:<payer>").to.equal(score);
  expect(view.zscore(`ix:party:${d.payee}`, dealId), "ix:party:<payee>").to.equal(score);
  expect(view.zscore(`ix:gw:${d.gateway}`, dealId), "ix:gw:<gateway>").to.equal(score);
}

/** The fields the projection writes when the scenarios' payment deal (`dealParams()`) opens at `pos`, written out. */
const openedFields = (pos: LogPosition): Hash => ({
  status: "open",
  kind: "payment",
  payer: PAYER,
  payee: PAYEE,
  gateway: GATEWAY,
  token: USDT,
  amount: "1000000",
  deadline: "2000000000",
  releaseWindow: "3600",
  feeBps: "50",
  autoRelease: "0",
  salt: SALT.slice(2),
  ref: REF.slice(2),
  payerReleased: "0",
  openedBlock: String(pos.block),
  updatedBlock: String(pos.block),
  updatedLog: String(pos.logIndex),
});

describe("relayer domain: projection", function () {
  describe("projection: deals", function () {
    describe("scoreOf", function () {
      it("orders by block, then log index", function () {
        expect(scoreOf(10, 3)).to.equal(10 * LOG_INDEX_SPAN + 3);
        expect(scoreOf(10, LOG_INDEX_SPAN - 1)).to.be.lessThan(scoreOf(11, 0));
        expect(Number.isSafeInteger(scoreOf(90_000_000_000, LOG_INDEX_SPAN - 1))).to.equal(true);
      });
    });

    describe("DealOpened", function () {
      it("writes the deal hash, its first history entry and every index", function () {
        const view = new MemoryView();
        const p = at(10, 2);
        apply(view, opened(p));
        expect(dealOf(view)).to.deep.equal(openedFields(p));
        expect(view.history(DEAL)).to.deep.equal([entry("DealOpened", p, { ref: REF })]);
        expectIndexed(view, "open", scoreOf(10, 2));
        expect(view.zrange(`ix:party:${PAYER}`)).to.deep.equal([DEAL]);
        expect(view.zrange(`ix:party:${PAYEE}`)).to.deep.equal([DEAL]);
        expect(view.zrange(`ix:gw:${GATEWAY}`)).to.deep.equal([DEAL]);
        expect(view.hashes.has(`acc:${PAYER}`)).to.equal(false);
      });

      it("stores kind and autoRelease of every kind", function () {
        const view = new MemoryView();
        apply(view, opened(at(10), { autoRelease: true }, DEAL), opened(at(11), { kind: "offramp" }, DEAL2));
        expect(dealOf(view, DEAL)).to.include({ kind: "payment", autoRelease: "1" });
        expect(dealOf(view, DEAL2)).to.include({ kind: "offramp", autoRelease: "0" });
        // An off-ramp's payee is the acceptor, but no float moves.
        expect([...view.hashes.keys()].filter((k) => k.startsWith("acc:"))).to.deep.equal([]);
      });

      it("an on-ramp lock moves the acceptor's float from free to locked", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 3n * AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }));
        expect(floatOf(view)).to.deep.equal({ free: (2n * AMOUNT).toString(), locked: AMOUNT.toString() });
        expect(dealOf(view)).to.include({ kind: "onramp", payer: ACCEPTOR });
        expectIndexed(view, "open", scoreOf(10, 0));
      });

      it("indexes several deals of one party by their update", function () {
        const view = new MemoryView();
        apply(view, opened(at(10), {}, DEAL), opened(at(11), {}, DEAL2), performed(at(12), DEAL));
        expect(view.zrange(`ix:party:${PAYER}`)).to.deep.equal([DEAL2, DEAL]);
        expect(view.zrange("ix:updated")).to.deep.equal([DEAL2, DEAL]);
        expect(view.zrange("ix:status:open")).to.deep.equal([DEAL2]);
        expect(view.zrange("ix:status:performed")).to.deep.equal([DEAL]);
      });
    });

    describe("payment: open → performed → released", function () {
      it("moves status, indexes, history and the gateway's owed fee", function () {
        const view = new MemoryView();
        const [p1, p2, p3] = [at(10, 1), at(11, 4), at(12, 0)];
        apply(view, opened(p1));

        apply(view, performed(p2));
        expect(dealOf(view)).to.deep.equal({
          ...openedFields(p1),
          status: "performed",
          performedBlock: "11",
          updatedBlock: "11",
          updatedLog: "4",
        });
        expectIndexed(view, "performed", scoreOf(11, 4));

        apply(view, released(p3));
        expect(dealOf(view)).to.deep.equal({
          ...openedFields(p1),
          status: "released",
          performedBlock: "11",
          payeeAmount: NET.toString(),
          fee: FEE.toString(),
          refund: "0",
          updatedBlock: "12",
          updatedLog: "0",
        });
        expectIndexed(view, "released", scoreOf(12, 0));
        expect(owedOf(view, GATEWAY)).to.equal(FEE.toString());
        expect(view.history(DEAL)).to.deep.equal([
          entry("DealOpened", p1, { ref: REF }),
          entry("DealPerformed", p2, {}),
          entry("DealReleased", p3, { payeeAmount: NET.toString(), fee: FEE.toString() }),
        ]);
      });

      it("the claim path (payee claims after the payer's silence) is a release after performed", function () {
        const view = new MemoryView();
        apply(view, opened(at(10), { autoRelease: true }), performed(at(11)), released(at(500, 3)));
        expect(dealOf(view)).to.include({ status: "released", autoRelease: "1", payerReleased: "0" });
        expectIndexed(view, "released", scoreOf(500, 3));
        expect(view.history(DEAL).map((h) => h.event)).to.deep.equal(["DealOpened", "DealPerformed", "DealReleased"]);
      });

      it("settle with both signatures releases directly from open", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), released(at(11, 2)));
        expect(dealOf(view)).to.include({
          status: "released",
          payeeAmount: NET.toString(),
          fee: FEE.toString(),
          refund: "0",
          payerReleased: "0",
          updatedBlock: "11",
          updatedLog: "2",
        });
        expect(dealOf(view)).to.not.have.property("performedBlock");
        expectIndexed(view, "released", scoreOf(11, 2));
        expect(owedOf(view, GATEWAY)).to.equal(FEE.toString());
      });

      it("a zero fee credits nothing to the gateway", function () {
        const view = new MemoryView();
        apply(view, opened(at(10), { feeBps: 0 }), released(at(11)));
        expect(dealOf(view)).to.include({ status: "released", payeeAmount: AMOUNT.toString(), fee: "0" });
        expect(view.hashes.has(`owed:${GATEWAY}`)).to.equal(false);
      });
    });

    describe("open + releaseApproved → performed → released", function () {
      it("records the payer's release, then pays out when the payee performs (one transaction)", function () {
        const view = new MemoryView();
        const [p1, p2, p3, p4] = [at(10), at(11, 5), at(12, 0), at(12, 1)];
        apply(view, opened(p1), approved(p2));
        expect(dealOf(view)).to.include({ status: "open", payerReleased: "1", updatedBlock: "11", updatedLog: "5" });
        expectIndexed(view, "open", scoreOf(11, 5));

        apply(view, performed(p3));
        expect(dealOf(view)).to.include({ status: "performed", payerReleased: "1", performedBlock: "12" });
        expectIndexed(view, "performed", scoreOf(12, 0));

        apply(view, released(p4));
        expect(dealOf(view)).to.include({ status: "released", payerReleased: "1", updatedLog: "1" });
        expectIndexed(view, "released", scoreOf(12, 1));
        expect(view.history(DEAL)).to.deep.equal([
          entry("DealOpened", p1, { ref: REF }),
          entry("DealReleaseApproved", p2, {}),
          entry("DealPerformed", p3, {}),
          entry("DealReleased", p4, { payeeAmount: NET.toString(), fee: FEE.toString() }),
        ]);
      });
    });

    describe("open → refunded", function () {
      for (const reason of REFUND_REASONS.filter((r) => r !== "lock_expired")) {
        it(`refunds the whole amount with reason ${reason}, no fee`, function () {
          const view = new MemoryView();
          const p2 = at(20, 3);
          apply(view, opened(at(10)), refunded(p2, reason));
          expect(dealOf(view)).to.deep.equal({
            ...openedFields(at(10)),
            status: "refunded",
            refundReason: reason,
            payeeAmount: "0",
            fee: "0",
            refund: AMOUNT.toString(),
            updatedBlock: "20",
            updatedLog: "3",
          });
          expectIndexed(view, "refunded", scoreOf(20, 3));
          expect(view.history(DEAL)[1]).to.deep.equal(entry("DealRefunded", p2, { reason }));
          expect(view.hashes.has(`owed:${GATEWAY}`)).to.equal(false);
        });
      }
    });

    describe("performed → refunded (cancel)", function () {
      for (const reason of ["payee_cancel", "mutual_cancel"] as const) {
        it(`refunds a performed deal (${reason})`, function () {
          const view = new MemoryView();
          apply(view, opened(at(10)), performed(at(11)), refunded(at(12), reason));
          expect(dealOf(view)).to.include({ status: "refunded", refundReason: reason, refund: AMOUNT.toString() });
          expectIndexed(view, "refunded", scoreOf(12, 0));
          expect(view.history(DEAL).map((h) => h.event)).to.deep.equal(["DealOpened", "DealPerformed", "DealRefunded"]);
        });
      }
    });

    describe("performed → disputed → resolved / refunded", function () {
      it("a dispute records who disputed, whether the gateway holds it, and when (the block's time)", function () {
        const view = new MemoryView();
        const p3 = at(12, 6);
        apply(view, opened(at(10)), performed(at(11)), disputed(p3, PAYEE));
        expect(dealOf(view)).to.include({
          status: "disputed",
          disputedBy: PAYEE,
          gatewayHolds: "1",
          disputedAt: String(timeOf(12)),
          updatedBlock: "12",
          updatedLog: "6",
        });
        expectIndexed(view, "disputed", scoreOf(12, 6));
        expect(view.history(DEAL)[2]).to.deep.equal({
          ...entry("DealDisputed", p3, { by: PAYEE, gatewayHolds: true }),
          timestamp: timeOf(12),
        });
      });

      it("a dispute the registry did not count: DisputeCountSkipped in the history, then an unheld dispute", function () {
        const view = new MemoryView();
        const [p3, p4] = [at(12, 0), at(12, 1)];
        apply(view, opened(at(10)), performed(at(11)), skipped(p3, true), disputed(p4, PAYER, DEAL, false));
        expect(dealOf(view)).to.include({ status: "disputed", gatewayHolds: "0", updatedLog: "1" });
        expect(view.history(DEAL).slice(2)).to.deep.equal([
          entry("DisputeCountSkipped", p3, { gateway: GATEWAY, opened: true }),
          { ...entry("DealDisputed", p4, { by: PAYER, gatewayHolds: false }), timestamp: timeOf(12) },
        ]);
      });

      it("a dispute that ends without the registry uncounting it: DisputeCountSkipped after the final event", function () {
        const view = new MemoryView();
        apply(
          view,
          opened(at(10)),
          performed(at(11)),
          disputed(at(12)),
          released(at(13, 0)),
          skipped(at(13, 1), false),
        );
        expect(dealOf(view)).to.include({ status: "released", updatedBlock: "13", updatedLog: "0" });
        expect(view.history(DEAL).at(-1)).to.deep.equal(
          entry("DisputeCountSkipped", at(13, 1), { gateway: GATEWAY, opened: false }),
        );
      });

      it("a DealDisputed without its block's timestamp is refused (the indexer always adds it)", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), performed(at(11)));
        const bare = ev("DealDisputed", at(12), { dealId: DEAL, by: PAYER, gatewayHolds: true });
        expect(() => applyEvent(view, bare)).to.throw(ProjectionError, /timestamp/);
      });

      it("the payer gives in: a disputed deal released pays the payee the amount less the fee", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), performed(at(11)), disputed(at(12)), released(at(13)));
        expect(dealOf(view)).to.include({
          status: "released",
          disputedBy: PAYER,
          payeeAmount: NET.toString(),
          fee: FEE.toString(),
          refund: "0",
        });
        expectIndexed(view, "released", scoreOf(13, 0));
        expect(owedOf(view, GATEWAY)).to.equal(FEE.toString());
      });

      it("evidence from anyone the escrow lets post is kept in the history and moves the deal's update", function () {
        const view = new MemoryView();
        const [p4, p5] = [at(13, 2), at(14, 0)];
        apply(
          view,
          opened(at(10)),
          performed(at(11)),
          disputed(at(12)),
          evidence(p4, PAYER),
          evidence(p5, GATEWAY, ""),
        );
        expect(dealOf(view)).to.include({ status: "disputed", updatedBlock: "14", updatedLog: "0" });
        expectIndexed(view, "disputed", scoreOf(14, 0));
        expect(view.history(DEAL).slice(3)).to.deep.equal([
          entry("EvidencePosted", p4, { by: PAYER, contentHash: id("content ipfs://proof"), uri: "ipfs://proof" }),
          entry("EvidencePosted", p5, { by: GATEWAY, contentHash: id("content "), uri: "" }),
        ]);
      });

      it("the gateway's split pays the payee, credits the fee and refunds the rest", function () {
        const view = new MemoryView();
        const p4 = at(13, 1);
        // The gateway awards 600,000 to the payee: 3,000 fee, 597,000 net; 400,000 back to the payer.
        apply(view, opened(at(10)), performed(at(11)), disputed(at(12)), resolved(p4, 597_000n, 3_000n, 400_000n));
        expect(dealOf(view)).to.include({
          status: "resolved",
          disputedBy: PAYER,
          resolvedBy: GATEWAY,
          payeeAmount: "597000",
          fee: "3000",
          refund: "400000",
          updatedBlock: "13",
          updatedLog: "1",
        });
        expect(dealOf(view)).to.not.have.property("refundReason");
        expectIndexed(view, "resolved", scoreOf(13, 1));
        expect(owedOf(view, GATEWAY)).to.equal("3000");
        expect(dealOf(view)).to.include({ reasons: REASONS.slice(2) });
        expect(view.history(DEAL)[3]).to.deep.equal(
          entry("DealResolved", p4, {
            by: GATEWAY,
            payeeAmount: "597000",
            fee: "3000",
            refund: "400000",
            reasons: REASONS,
          }),
        );
      });

      it("the arbiter's ruling charges no fee", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), performed(at(11)), disputed(at(12)), resolved(at(99), 0n, 0n, AMOUNT, ARBITER));
        expect(dealOf(view)).to.include({ status: "resolved", resolvedBy: ARBITER, fee: "0", refund: "1000000" });
        expect(view.hashes.has(`owed:${GATEWAY}`)).to.equal(false);
      });

      for (const reason of ["payee_cancel", "mutual_cancel"] as const) {
        it(`a disputed deal can still be cancelled (${reason})`, function () {
          const view = new MemoryView();
          apply(view, opened(at(10)), performed(at(11)), disputed(at(12)), refunded(at(13), reason));
          expect(dealOf(view)).to.include({ status: "refunded", refundReason: reason, disputedBy: PAYER });
          expectIndexed(view, "refunded", scoreOf(13, 0));
        });
      }
    });

    describe("DealReleased carries no amounts", function () {
      it("pays the payee the amount less floor(amount × feeBps / 10,000), the rest to the gateway", function () {
        const view = new MemoryView();
        // 1,000,037 at 75 bps: 7,500.28 rounds down to 7,500.
        apply(view, opened(at(10), { amount: 1_000_037n, feeBps: 75 }), performed(at(11)), released(at(12)));
        expect(dealOf(view)).to.include({ payeeAmount: "992537", fee: "7500", refund: "0" });
        expect(owedOf(view, GATEWAY)).to.equal("7500");
        expect(view.history(DEAL)[2].args).to.deep.equal({ payeeAmount: "992537", fee: "7500" });
      });
    });

    describe("split by agreement", function () {
      for (const [from, path] of [
        ["open (even past its deadline)", [opened(at(10))]],
        ["performed", [opened(at(10)), performed(at(11))]],
        ["disputed", [opened(at(10)), performed(at(11)), disputed(at(12))]],
      ] as [string, ProtocolEvent[]][]) {
        it(`ends a deal that is ${from}: the payee's share less the fee, the fee owed, the rest back`, function () {
          const view = new MemoryView();
          apply(view, ...path, split(at(20, 1), 696_500n, 3_500n, 300_000n));
          expect(dealOf(view)).to.include({ status: "split", payeeAmount: "696500", fee: "3500", refund: "300000" });
          expectIndexed(view, "split", scoreOf(20, 1));
          expect(owedOf(view, GATEWAY)).to.equal("3500");
          expect(view.history(DEAL).at(-1)).to.deep.equal(
            entry("DealSplit", at(20, 1), { payeeAmount: "696500", fee: "3500", refund: "300000" }),
          );
        });
      }

      it("returns the payer's share of an on-ramp deal to the acceptor's free float", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 2n * AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }));
        apply(view, split(at(11), 0n, 0n, AMOUNT));
        expect(floatOf(view)).to.deep.equal({ free: (2n * AMOUNT).toString(), locked: "0" });
        expect(view.hashes.has(`owed:${GATEWAY}`)).to.equal(false);
      });
    });

    describe("a lock by the acceptor's delegate", function () {
      const delegateLock = (pos: LogPosition, over: Partial<DealParams> = {}, dealId = DEAL) =>
        opened(pos, { kind: "onramp", payer: ACCEPTOR, salt: DELEGATE_SALT, ...over }, dealId);

      it("records who locked: the acceptor by default, its delegate after DealLockedByDelegate", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 2n * AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }, DEAL2));
        expect(dealOf(view, DEAL2)).to.include({ lockedBy: ACCEPTOR });
        apply(view, delegateLock(at(11, 0)), lockedByDelegate(at(11, 1)));
        expect(dealOf(view)).to.include({ status: "open", lockedBy: DELEGATE, updatedLog: "1" });
        expect(view.history(DEAL)[1]).to.deep.equal(entry("DealLockedByDelegate", at(11, 1), { delegate: DELEGATE }));
      });

      for (const status of ["performed", "disputed"] as const) {
        it(`expires ${status}: refunded (lock_expired) to the acceptor's free float`, function () {
          const view = new MemoryView();
          apply(view, deposited(at(9), AMOUNT), delegateLock(at(10)), lockedByDelegate(at(10, 1)), performed(at(11)));
          if (status === "disputed") apply(view, disputed(at(12), PAYEE));
          apply(view, refunded(at(50), "lock_expired"));
          expect(dealOf(view)).to.include({ status: "refunded", refundReason: "lock_expired", refund: "1000000" });
          expect(floatOf(view)).to.deep.equal({ free: AMOUNT.toString(), locked: "0" });
        });
      }

      it("refuses lock_expired on an open deal, and on a lock the acceptor made itself", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 3n * AMOUNT), delegateLock(at(10)), lockedByDelegate(at(10, 1)));
        expect(() => applyEvent(view, refunded(at(11), "lock_expired"))).to.throw(ProjectionError, /open/);
        apply(view, opened(at(12), { kind: "onramp", payer: ACCEPTOR }, DEAL2), performed(at(13), DEAL2));
        expect(() => applyEvent(view, refunded(at(14), "lock_expired", DEAL2))).to.throw(
          ProjectionError,
          /not a delegate's lock/,
        );
      });

      it("refuses DealLockedByDelegate on a deal without the delegate prefix, or twice", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 3n * AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }));
        expect(() => applyEvent(view, lockedByDelegate(at(10, 1)))).to.throw(ProjectionError, /delegate/);
        apply(view, delegateLock(at(11), {}, DEAL2), lockedByDelegate(at(11, 1), DEAL2));
        expect(() => applyEvent(view, lockedByDelegate(at(11, 2), DEAL2))).to.throw(ProjectionError, /delegate/);
      });
    });

    describe("on-ramp floats", function () {
      const onramp = (pos: LogPosition) => opened(pos, { kind: "onramp", payer: ACCEPTOR });

      it("release: locked − amount, free unchanged; the fee is owed to the gateway", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 3n * AMOUNT), onramp(at(10)), performed(at(11)), released(at(12)));
        expect(floatOf(view)).to.deep.equal({ free: (2n * AMOUNT).toString(), locked: "0" });
        expect(owedOf(view, GATEWAY)).to.equal(FEE.toString());
        expect(view.zscore(`ix:party:${ACCEPTOR}`, DEAL)).to.equal(scoreOf(12, 0));
      });

      it("refund: locked − amount, free + amount", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 3n * AMOUNT), onramp(at(10)), refunded(at(12), "deadline"));
        expect(floatOf(view)).to.deep.equal({ free: (3n * AMOUNT).toString(), locked: "0" });
      });

      it("resolve: locked − amount, free + refund", function () {
        const view = new MemoryView();
        apply(
          view,
          deposited(at(9), 3n * AMOUNT),
          onramp(at(10)),
          performed(at(11)),
          disputed(at(12), PAYEE),
          resolved(at(13), 248_750n, 1_250n, 750_000n),
        );
        expect(floatOf(view)).to.deep.equal({ free: (2n * AMOUNT + 750_000n).toString(), locked: "0" });
        expect(owedOf(view, GATEWAY)).to.equal("1250");
      });

      it("two locks and one release leave the other deal's amount locked", function () {
        const view = new MemoryView();
        apply(
          view,
          deposited(at(9), 3n * AMOUNT),
          onramp(at(10)),
          opened(at(11), { kind: "onramp", payer: ACCEPTOR, salt: id("salt 2") }, DEAL2),
          released(at(12)),
        );
        expect(floatOf(view)).to.deep.equal({ free: AMOUNT.toString(), locked: AMOUNT.toString() });
      });

      it("keeps floats per token", function () {
        const view = new MemoryView();
        apply(
          view,
          deposited(at(9), AMOUNT),
          deposited(at(9, 1), 2n * AMOUNT, ACCEPTOR, DAI),
          opened(at(10), { kind: "onramp", payer: ACCEPTOR, token: DAI }),
        );
        expect(floatOf(view)).to.deep.equal({ free: AMOUNT.toString(), locked: "0" });
        expect(floatOf(view, ACCEPTOR, DAI)).to.deep.equal({ free: AMOUNT.toString(), locked: AMOUNT.toString() });
      });
    });

    describe("float deposits and withdrawals", function () {
      it("credit and debit the free float", function () {
        const view = new MemoryView();
        apply(view, deposited(at(1), 500n));
        expect(floatOf(view)).to.deep.equal({ free: "500", locked: "0" });
        apply(view, deposited(at(2), 250n), withdrawn(at(3), 700n));
        expect(floatOf(view)).to.deep.equal({ free: "50", locked: "0" });
        apply(view, withdrawn(at(4), 50n));
        expect(floatOf(view)).to.deep.equal({ free: "0", locked: "0" });
      });

      it("keep the acceptor's registry fields", function () {
        const view = new MemoryView();
        apply(view, registeredAcceptor(at(1)), deposited(at(2), 500n));
        expect(view.hashes.get(`acc:${ACCEPTOR}`)).to.include({
          status: "pending",
          gateway: GATEWAY,
          lockDelegate: DELEGATE,
          registeredBlock: "1",
          [`free:${USDT}`]: "500",
        });
      });
    });

    describe("owed payouts", function () {
      it("PayoutDeferred credits the account and appends to the deal's history; OwedClaimed debits", function () {
        const view = new MemoryView();
        const [p3, p4] = [at(12, 0), at(12, 1)];
        apply(view, opened(at(10)), performed(at(11)), released(p3), deferred(p4, PAYEE, NET));
        expect(owedOf(view, PAYEE)).to.equal(NET.toString());
        expect(owedOf(view, GATEWAY)).to.equal(FEE.toString());
        expect(view.history(DEAL)[3]).to.deep.equal(
          entry("PayoutDeferred", p4, { token: USDT, account: PAYEE, amount: NET.toString() }),
        );
        // The deal itself stays as released.
        expect(dealOf(view)).to.include({ status: "released", updatedBlock: "12", updatedLog: "0" });

        apply(view, claimed(at(30), PAYEE, NET));
        expect(owedOf(view, PAYEE)).to.equal("0");
        apply(view, claimed(at(31), GATEWAY, FEE));
        expect(owedOf(view, GATEWAY)).to.equal("0");
      });

      it("accumulates owed per account and token over several deals", function () {
        const view = new MemoryView();
        apply(
          view,
          opened(at(10), {}, DEAL),
          opened(at(10, 1), { token: DAI, salt: id("salt 2") }, DEAL2),
          released(at(11), DEAL),
          refunded(at(11, 1), "deadline", DEAL2),
          deferred(at(11, 2), PAYER, AMOUNT, DEAL2, DAI),
          deferred(at(11, 3), PAYEE, NET, DEAL),
        );
        expect(view.hashes.get(`owed:${PAYER}`)).to.deep.equal({ [DAI]: AMOUNT.toString() });
        expect(view.hashes.get(`owed:${PAYEE}`)).to.deep.equal({ [USDT]: NET.toString() });
        expect(view.hashes.get(`owed:${GATEWAY}`)).to.deep.equal({ [USDT]: FEE.toString() });
      });
    });

    describe("gateway fee revenue (fees:<gateway>)", function () {
      it("when deals settle with a fee → the fees add up per token, and a claim of the owed fees leaves them", function () {
        const view = new MemoryView();
        apply(
          view,
          opened(at(10), {}, DEAL),
          opened(at(10, 1), { salt: id("salt 2") }, DEAL2),
          released(at(11), DEAL),
          split(at(11, 1), NET - 100n, FEE, 100n, DEAL2),
        );
        expect(view.hashes.get(`fees:${GATEWAY}`)).to.deep.equal({ [USDT]: (FEE * 2n).toString() });
        apply(view, claimed(at(12), GATEWAY, FEE * 2n));
        expect(owedOf(view, GATEWAY)).to.equal("0");
        expect(view.hashes.get(`fees:${GATEWAY}`)).to.deep.equal({ [USDT]: (FEE * 2n).toString() });
      });

      it("when a deal settles without a fee (a refund) → no revenue is recorded", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), refunded(at(11), "deadline"));
        expect(view.hashes.get(`fees:${GATEWAY}`)).to.equal(undefined);
      });
    });

    describe("the ref index (ix:ref:<ref>)", function () {
      it("when deals share a ref → both are indexed under it, scored by opening; a zero ref is not indexed", function () {
        const view = new MemoryView();
        const ZERO = `0x${"00".repeat(32)}`;
        apply(
          view,
          opened(at(10), {}, DEAL),
          opened(at(11), { salt: id("salt 2") }, DEAL2),
          opened(at(12), { salt: id("salt 3") }, id("deal 3"), ZERO),
        );
        const key = `ix:ref:${REF.slice(2)}`;
        expect(view.zscore(key, DEAL)).to.equal(scoreOf(10, 0));
        expect(view.zscore(key, DEAL2)).to.equal(scoreOf(11, 0));
        expect([...view.zsets.keys()].filter((k) => k.startsWith("ix:ref:"))).to.deep.equal([key]);
      });
    });

    describe("reindexDeal", function () {
      it("adds a new deal to every index and moves a changed status", function () {
        const view = new MemoryView();
        const before = { status: "open", payer: PAYER, payee: PAYEE, gateway: GATEWAY };
        reindexDeal(view, DEAL, undefined, before, 5);
        expectIndexed(view, "open", 5, DEAL, before);
        reindexDeal(view, DEAL, before, { ...before, status: "performed" }, 9);
        expectIndexed(view, "performed", 9, DEAL, before);
        expect(view.zsets.has("ix:status:open")).to.equal(false);
        reindexDeal(view, DEAL, { ...before, status: "performed" }, { ...before, status: "performed" }, 12);
        expectIndexed(view, "performed", 12, DEAL, before);
      });
    });

    describe("encodeHistory / decodeHistory", function () {
      const TX = `0x${"ab".repeat(32)}`;
      it("stores an entry compactly and reads it back", function () {
        const entry: HistoryEntry = {
          event: "PayoutDeferred",
          blockNumber: 123_456,
          txHash: TX,
          logIndex: 7,
          args: { token: USDT, account: PAYEE, amount: "90" },
        };
        const stored = encodeHistory(entry);
        const tx = Buffer.from("ab".repeat(32), "hex").toString("base64url");
        expect(tx).to.have.length(43);
        expect(stored).to.equal(`123456:7:${tx}:PayoutDeferred:${JSON.stringify(entry.args)}`);
        expect(decodeHistory(stored, {})).to.deep.equal(entry);
      });

      it("leaves out empty args", function () {
        const entry: HistoryEntry = { event: "DealPerformed", blockNumber: 1, txHash: TX, logIndex: 0, args: {} };
        expect(encodeHistory(entry)).to.equal(
          `1:0:${Buffer.from("ab".repeat(32), "hex").toString("base64url")}:DealPerformed`,
        );
        expect(decodeHistory(encodeHistory(entry), {})).to.deep.equal(entry);
      });

      it("takes the arguments of once-per-deal events from the deal instead of storing them twice", function () {
        const deal: Hash = {
          ref: "cd".repeat(32),
          payeeAmount: "9950",
          fee: "50",
          refund: "0",
          refundReason: "cancel",
          disputedBy: PAYEE,
          gatewayHolds: "1",
          resolvedBy: GATEWAY,
          reasons: "ef".repeat(32),
          lockedBy: DELEGATE,
        };
        const cases: [string, HistoryEntry["args"]][] = [
          ["DealOpened", { ref: `0x${"cd".repeat(32)}` }],
          ["DealLockedByDelegate", { delegate: DELEGATE }],
          ["DealReleased", { payeeAmount: "9950", fee: "50" }],
          ["DealRefunded", { reason: "cancel" }],
          ["DealDisputed", { by: PAYEE, gatewayHolds: true }],
          [
            "DealResolved",
            { by: GATEWAY, payeeAmount: "9950", fee: "50", refund: "0", reasons: `0x${"ef".repeat(32)}` },
          ],
          ["DealSplit", { payeeAmount: "9950", fee: "50", refund: "0" }],
        ];
        for (const [event, args] of cases) {
          const entry: HistoryEntry = { event, blockNumber: 9, txHash: TX, logIndex: 2, args };
          const stored = encodeHistory(entry);
          expect(stored).to.equal(`9:2:${Buffer.from("ab".repeat(32), "hex").toString("base64url")}:${event}`);
          expect(decodeHistory(stored, deal)).to.deep.equal(entry);
        }
      });

      it("when the entry has a block timestamp → stored as @<base 36> after the event name, and read back", function () {
        const entry: HistoryEntry = {
          event: "PayoutDeferred",
          blockNumber: 5,
          txHash: TX,
          logIndex: 1,
          timestamp: 1_800_000_060,
          args: { token: USDT, account: PAYEE, amount: "90" },
        };
        const stored = encodeHistory(entry);
        const tx = Buffer.from("ab".repeat(32), "hex").toString("base64url");
        expect(stored).to.equal(
          `5:1:${tx}:PayoutDeferred@${(1_800_000_060).toString(36)}:${JSON.stringify(entry.args)}`,
        );
        expect(decodeHistory(stored, {})).to.deep.equal(entry);
        const opened: HistoryEntry = {
          event: "DealOpened",
          blockNumber: 5,
          txHash: TX,
          logIndex: 0,
          timestamp: 7,
          args: {},
        };
        expect(decodeHistory(encodeHistory(opened), { ref: "cd".repeat(32) })).to.deep.equal({
          ...opened,
          args: { ref: `0x${"cd".repeat(32)}` },
        });
      });

      it("when an entry was stored without a timestamp (before stamping) → it reads back without one", function () {
        const tx = Buffer.from("ab".repeat(32), "hex").toString("base64url");
        expect(decodeHistory(`5:1:${tx}:DealPerformed`, {})).to.not.have.property("timestamp");
      });

      it("when events are applied → each history entry carries its event's timestamp", function () {
        const view = new MemoryView();
        const stamp = <T extends ProtocolEvent>(e: T): T => ({ ...e, timestamp: timeOf(e.block) });
        apply(view, stamp(opened(at(10))), stamp(performed(at(11))), stamp(released(at(12))));
        const stored = view.lists.get(`hist:${DEAL}`)!;
        expect(stored.map((h) => decodeHistory(h, dealOf(view)).timestamp)).to.deep.equal([
          timeOf(10),
          timeOf(11),
          timeOf(12),
        ]);
      });

      it("round-trips any entry (fast-check)", function () {
        const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${Buffer.from(b).toString("hex")}`);
        fc.assert(
          fc.property(
            fc.constantFrom("DealPerformed", "DealReleaseApproved", "PayoutDeferred"),
            fc.nat(),
            fc.nat({ max: 99_999 }),
            hex32,
            fc.dictionary(
              fc.string().filter((k) => k !== "__proto__"),
              fc.oneof(fc.string(), fc.integer(), fc.boolean()),
            ),
            fc.option(fc.nat(), { nil: undefined }),
            (event, blockNumber, logIndex, txHash, args, timestamp) => {
              const entry: HistoryEntry = { event, blockNumber, txHash, logIndex, args };
              if (timestamp !== undefined) entry.timestamp = timestamp;
              expect(decodeHistory(encodeHistory(entry), {})).to.deep.equal(entry);
            },
          ),
        );
      });
    });

    describe("keysRead / keysReadAfterDeal", function () {
      it("announce the hashes a settlement reads once the deal is known", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }));
        const deal = dealOf(view);
        expect(keysRead(released(at(11)))).to.deep.equal([`deal:${DEAL}`]);
        expect(keysReadAfterDeal(released(at(11)), deal)).to.deep.equal([
          `owed:${GATEWAY}`,
          `fees:${GATEWAY}`,
          `acc:${ACCEPTOR}`,
        ]);
        expect(keysReadAfterDeal(refunded(at(11), "deadline"), deal)).to.deep.equal([
          `owed:${GATEWAY}`,
          `fees:${GATEWAY}`,
          `acc:${ACCEPTOR}`,
        ]);
        expect(keysReadAfterDeal(performed(at(11)), deal)).to.deep.equal([]);
        expect(keysReadAfterDeal(released(at(11)), undefined)).to.deep.equal([]);
        expect(keysRead(opened(at(10), { kind: "onramp", payer: ACCEPTOR }))).to.deep.equal([
          `deal:${DEAL}`,
          `acc:${ACCEPTOR}`,
        ]);
        expect(keysRead(opened(at(10)))).to.deep.equal([`deal:${DEAL}`]);
        expect(keysRead(registeredAcceptor(at(1)))).to.deep.equal([`acc:${ACCEPTOR}`]);
        expect(keysRead(registeredGateway(at(1)))).to.deep.equal([`gw:${GATEWAY}`]);
        expect(keysRead(ev("TokenAllowed", at(1), { token: USDT, allowed: true }))).to.deep.equal(["tokens"]);
        expect(keysReadAfterDeal(split(at(11), 0n, 0n, AMOUNT), deal)).to.deep.equal([
          `owed:${GATEWAY}`,
          `fees:${GATEWAY}`,
          `acc:${ACCEPTOR}`,
        ]);
        for (const event of [
          evidence(at(11), PAYER),
          lockedByDelegate(at(11)),
          skipped(at(11), true),
          disputed(at(11)),
        ]) {
          expect(keysRead(event), event.type).to.deep.equal([`deal:${DEAL}`]);
          expect(keysReadAfterDeal(event, deal), event.type).to.deep.equal([]);
        }
      });
    });
  });

  describe("projection: illegal sequences throw ProjectionError", function () {
    describe("events after a final state", function () {
      const finals: [string, ProtocolEvent[]][] = [
        ["released", [opened(at(10)), performed(at(11)), released(at(12))]],
        ["refunded", [opened(at(10)), refunded(at(12), "deadline")]],
        ["resolved", [opened(at(10)), performed(at(11)), disputed(at(12)), resolved(at(13), 0n, 0n, AMOUNT)]],
        ["split", [opened(at(10)), split(at(12), 0n, 0n, AMOUNT)]],
      ];
      const laters: [string, ProtocolEvent][] = [
        ["DealPerformed", performed(at(20))],
        ["DealReleaseApproved", approved(at(20))],
        ["DealReleased", released(at(20))],
        ["DealRefunded", refunded(at(20), "payee_cancel")],
        ["DealDisputed", disputed(at(20))],
        ["DealResolved", resolved(at(20), 0n, 0n, AMOUNT)],
        ["DealSplit", split(at(20), 0n, 0n, AMOUNT)],
        ["EvidencePosted", evidence(at(20), PAYER)],
      ];
      for (const [status, path] of finals) {
        for (const [name, later] of laters) {
          it(`${name} after ${status}`, function () {
            const view = new MemoryView();
            apply(view, ...path);
            expect(() => applyEvent(view, later)).to.throw(ProjectionError, /final/);
          });
        }
      }

      it("a second settlement of a released on-ramp deal", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 2n * AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }));
        apply(view, released(at(11)));
        expect(() => applyEvent(view, refunded(at(12), "deadline"))).to.throw(ProjectionError);
      });
    });

    describe("events for an unknown deal", function () {
      const events: ProtocolEvent[] = [
        performed(at(20)),
        approved(at(20)),
        released(at(20)),
        refunded(at(20), "deadline"),
        disputed(at(20)),
        resolved(at(20), 0n, 0n, AMOUNT),
        split(at(20), 0n, 0n, AMOUNT),
        evidence(at(20), PAYER),
        lockedByDelegate(at(20)),
        skipped(at(20), true),
      ];
      for (const event of events) {
        it(event.type, function () {
          const view = new MemoryView();
          apply(view, opened(at(10), {}, DEAL2));
          expect(() => applyEvent(view, event)).to.throw(ProjectionError, /unknown deal/);
        });
      }
    });

    it("opening the same deal twice", function () {
      const view = new MemoryView();
      apply(view, opened(at(10)));
      expect(() => applyEvent(view, opened(at(11)))).to.throw(ProjectionError, /opened twice/);
    });

    describe("settlements that do not add up to the amount", function () {
      it("DealSplit with payee + fee + refund ≠ amount", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), performed(at(11)));
        expect(() => applyEvent(view, split(at(12), NET, FEE, 1n))).to.throw(ProjectionError, /settles/);
        expect(() => applyEvent(view, split(at(12), 0n, 0n, AMOUNT - 1n))).to.throw(ProjectionError, /settles/);
      });

      it("DealResolved with payee + fee + refund ≠ amount", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), performed(at(11)), disputed(at(12)));
        expect(() => applyEvent(view, resolved(at(13), 500_000n, 0n, 500_001n))).to.throw(ProjectionError, /settles/);
        expect(() => applyEvent(view, resolved(at(13), 0n, 0n, 0n))).to.throw(ProjectionError, /settles/);
      });
    });

    describe("balances below zero", function () {
      it("OwedClaimed beyond what is owed", function () {
        const view = new MemoryView();
        expect(() => applyEvent(view, claimed(at(1), PAYEE, 1n))).to.throw(ProjectionError, /owed/);
        apply(view, opened(at(10)), released(at(11)), deferred(at(11, 1), PAYEE, NET));
        expect(() => applyEvent(view, claimed(at(12), PAYEE, NET + 1n))).to.throw(ProjectionError, /owed/);
        expect(() => applyEvent(view, claimed(at(12), PAYEE, 1n, DAI))).to.throw(ProjectionError, /owed/);
      });

      it("FloatWithdrawn beyond the free float", function () {
        const view = new MemoryView();
        expect(() => applyEvent(view, withdrawn(at(1), 1n))).to.throw(ProjectionError, /float/);
        apply(view, deposited(at(2), 3n * AMOUNT), opened(at(3), { kind: "onramp", payer: ACCEPTOR }));
        // 2 × AMOUNT is free, AMOUNT locked: the locked part cannot be withdrawn.
        expect(() => applyEvent(view, withdrawn(at(4), 2n * AMOUNT + 1n))).to.throw(ProjectionError, /float/);
      });

      it("an on-ramp lock beyond the free float", function () {
        const view = new MemoryView();
        apply(view, deposited(at(2), AMOUNT - 1n));
        expect(() => applyEvent(view, opened(at(3), { kind: "onramp", payer: ACCEPTOR }))).to.throw(
          ProjectionError,
          /float/,
        );
      });
    });

    describe("registry events for unknown entities", function () {
      it("gateway events before GatewayRegistered", function () {
        const view = new MemoryView();
        expect(() => applyEvent(view, ev("GatewaySuspended", at(1), { gateway: GATEWAY }))).to.throw(
          ProjectionError,
          /unknown gateway/,
        );
        expect(() => applyEvent(view, ev("GatewayFeeSet", at(1), { gateway: GATEWAY, feeBps: 1 }))).to.throw(
          ProjectionError,
          /unknown gateway/,
        );
      });

      it("acceptor events before AcceptorRegistered", function () {
        const view = new MemoryView();
        expect(() => applyEvent(view, ev("AcceptorApproved", at(1), { acceptor: ACCEPTOR }))).to.throw(
          ProjectionError,
          /unknown acceptor/,
        );
        const method = ev("AcceptorMethodSet", at(1), { acceptor: ACCEPTOR, method: SEPA, supported: true });
        expect(() => applyEvent(view, method)).to.throw(ProjectionError, /unknown acceptor/);
      });
    });

    // The contract emits each of these only from the statuses of docs/design.md §4.3; any other order means a bug or logs
    // from an unexpected contract ("an event that does not fit the projection").
    describe("transitions the state machine forbids", function () {
      const cases: [string, ProtocolEvent[], ProtocolEvent][] = [
        ["DealPerformed on a performed deal", [opened(at(10)), performed(at(11))], performed(at(12))],
        ["DealPerformed on a disputed deal", [opened(at(10)), performed(at(11)), disputed(at(12))], performed(at(13))],
        ["DealReleaseApproved on a performed deal", [opened(at(10)), performed(at(11))], approved(at(12))],
        ["DealReleaseApproved twice", [opened(at(10)), approved(at(11))], approved(at(12))],
        ["DealDisputed on an open deal", [opened(at(10))], disputed(at(11))],
        [
          "DealDisputed on a disputed deal",
          [opened(at(10)), performed(at(11)), disputed(at(12))],
          disputed(at(13), PAYEE),
        ],
        ["DealResolved on an open deal", [opened(at(10))], resolved(at(11), 0n, 0n, AMOUNT)],
        ["DealResolved on a performed deal", [opened(at(10)), performed(at(11))], resolved(at(12), 0n, 0n, AMOUNT)],
        [
          "DealResolved on a split deal",
          [opened(at(10)), split(at(11), 0n, 0n, AMOUNT)],
          resolved(at(12), 0n, 0n, AMOUNT),
        ],
        [
          "DealRefunded (lock_expired) on a performed payment",
          [opened(at(10)), performed(at(11))],
          refunded(at(12), "lock_expired"),
        ],
        [
          "DealRefunded (deadline) on a performed deal",
          [opened(at(10)), performed(at(11))],
          refunded(at(12), "deadline"),
        ],
      ];
      for (const [title, path, event] of cases) {
        it(title, function () {
          const view = new MemoryView();
          apply(view, ...path);
          expect(() => applyEvent(view, event)).to.throw(ProjectionError);
        });
      }
    });
  });

  /*//////////////////////////////////////////////////////////////
                         REGISTRY PROJECTION
  //////////////////////////////////////////////////////////////*/

  describe("projection: registry", function () {
    it("a gateway's life cycle: registered → approved → fee → bond → suspended → reinstated → slashed → exit", function () {
      const view = new MemoryView();
      const gw = () => view.hashes.get(`gw:${GATEWAY}`);
      const steps: [ProtocolEvent, Hash][] = [
        [
          registeredGateway(at(5, 2)),
          {
            status: "pending",
            suspended: "0",
            bond: "1000",
            feeBps: "50",
            feeCapBps: "0",
            exitAt: "0",
            openDisputes: "0",
            metadata: id("terms").slice(2),
            registeredBlock: "5",
            updatedBlock: "5",
          },
        ],
        [ev("GatewayApproved", at(6), { gateway: GATEWAY, feeCapBps: 300 }), { status: "active", feeCapBps: "300" }],
        [ev("GatewayFeeSet", at(7), { gateway: GATEWAY, feeBps: 120 }), { feeBps: "120" }],
        [ev("GatewayBondAdded", at(8), { gateway: GATEWAY, bond: 1_500n }), { bond: "1500" }],
        [ev("GatewayDisputesChanged", at(9), { gateway: GATEWAY, openDisputes: 2 }), { openDisputes: "2" }],
        [ev("GatewaySuspended", at(10), { gateway: GATEWAY }), { suspended: "1" }],
        [ev("GatewayReinstated", at(11), { gateway: GATEWAY }), { suspended: "0" }],
        [
          ev("GatewaySlashed", at(12), { gateway: GATEWAY, recipient: addr("treasury"), amount: 400n, bond: 1_100n }),
          { bond: "1100" },
        ],
        [ev("GatewayDisputesChanged", at(13), { gateway: GATEWAY, openDisputes: 0 }), { openDisputes: "0" }],
        [
          ev("GatewayExitRequested", at(14), { gateway: GATEWAY, exitAt: 1_900_000_000 }),
          { status: "exiting", exitAt: "1900000000" },
        ],
        [ev("GatewayExited", at(15), { gateway: GATEWAY }), { status: "exited", bond: "0" }],
      ];
      let expected: Hash = {};
      for (const [event, change] of steps) {
        apply(view, event);
        expected = { ...expected, ...change, updatedBlock: String(event.block) };
        expect(gw(), event.type).to.deep.equal(expected);
      }
      expect(view.zscore("gws", GATEWAY)).to.equal(scoreOf(5, 2));
      expect(gw()).to.include({ registeredBlock: "5", feeBps: "120", feeCapBps: "300" });
    });

    it("suspension is a flag apart from the life cycle: an exiting gateway stays exiting, its exitAt kept", function () {
      const view = new MemoryView();
      apply(view, ...exitingGateway(), ev("GatewaySuspended", at(8), { gateway: GATEWAY }));
      expect(view.hashes.get(`gw:${GATEWAY}`)).to.include({
        status: "exiting",
        suspended: "1",
        exitAt: "1900000000",
        updatedBlock: "8",
      });
      apply(view, ev("GatewayReinstated", at(9), { gateway: GATEWAY }));
      expect(view.hashes.get(`gw:${GATEWAY}`)).to.include({ status: "exiting", suspended: "0", exitAt: "1900000000" });
    });

    it("a suspended pending gateway stays suspended once approved", function () {
      const view = new MemoryView();
      apply(
        view,
        registeredGateway(at(5)),
        ev("GatewaySuspended", at(6), { gateway: GATEWAY }),
        ev("GatewayApproved", at(7), { gateway: GATEWAY, feeCapBps: 300 }),
      );
      expect(view.hashes.get(`gw:${GATEWAY}`)).to.include({ status: "active", suspended: "1" });
    });

    it("gateways are ordered by registration in `gws`", function () {
      const view = new MemoryView();
      const gw2 = addr("gateway 2");
      apply(view, registeredGateway(at(7, 1), gw2), registeredGateway(at(7, 0)));
      expect(view.zrange("gws")).to.deep.equal([GATEWAY, gw2]);
      expect(view.zscore("gws", gw2)).to.equal(scoreOf(7, 1));
    });

    it("an acceptor's life cycle: registered → approved → suspended → reinstated, lock delegate", function () {
      const view = new MemoryView();
      const acc = () => view.hashes.get(`acc:${ACCEPTOR}`);
      apply(view, registeredAcceptor(at(20, 3)));
      expect(acc()).to.deep.equal({
        status: "pending",
        gateway: GATEWAY,
        lockDelegate: DELEGATE,
        registeredBlock: "20",
        updatedBlock: "20",
      });
      expect(view.zscore("accs", ACCEPTOR)).to.equal(scoreOf(20, 3));
      apply(view, ev("AcceptorApproved", at(21), { acceptor: ACCEPTOR }));
      expect(acc()).to.include({ status: "active", updatedBlock: "21" });
      apply(view, ev("AcceptorSuspended", at(22), { acceptor: ACCEPTOR }));
      expect(acc()).to.include({ status: "suspended", updatedBlock: "22" });
      apply(view, ev("AcceptorReinstated", at(23), { acceptor: ACCEPTOR }));
      expect(acc()).to.include({ status: "active", updatedBlock: "23" });
      apply(view, ev("AcceptorLockDelegateSet", at(24), { acceptor: ACCEPTOR, lockDelegate: ZeroAddress }));
      expect(acc()).to.deep.equal({
        status: "active",
        gateway: GATEWAY,
        lockDelegate: ZeroAddress,
        registeredBlock: "20",
        updatedBlock: "24",
      });
    });

    it("methods are sets per acceptor and per method", function () {
      const view = new MemoryView();
      const acc2 = addr("acceptor 2");
      const method = (pos: LogPosition, m: string, supported: boolean, acceptor = ACCEPTOR) =>
        ev("AcceptorMethodSet", pos, { acceptor, method: m, supported });
      apply(view, registeredAcceptor(at(1)), registeredAcceptor(at(2), acc2));
      apply(view, method(at(3), SEPA, true), method(at(3, 1), PIX, true), method(at(4), SEPA, true, acc2));
      apply(view, method(at(5), SEPA, true)); // a set: no duplicate
      expect(view.smembers(`accm:${ACCEPTOR}`)).to.deep.equal([SEPA, PIX].sort());
      expect(view.smembers(`ix:method:${SEPA}`)).to.deep.equal([ACCEPTOR, acc2].sort());
      expect(view.smembers(`ix:method:${PIX}`)).to.deep.equal([ACCEPTOR]);
      expect(view.hashes.get(`acc:${ACCEPTOR}`)).to.include({ updatedBlock: "5" });

      apply(view, method(at(6), SEPA, false));
      expect(view.smembers(`accm:${ACCEPTOR}`)).to.deep.equal([PIX]);
      expect(view.smembers(`ix:method:${SEPA}`)).to.deep.equal([acc2]);
      apply(view, method(at(7), PIX, false));
      expect(view.sets.has(`accm:${ACCEPTOR}`)).to.equal(false);
      expect(view.sets.has(`ix:method:${PIX}`)).to.equal(false);
      expect(view.zrange("accs")).to.deep.equal([ACCEPTOR, acc2]);
    });

    it("limits are kept per token, beside the float", function () {
      const view = new MemoryView();
      const limits = (pos: LogPosition, token: string, minAmount: bigint, maxAmount: bigint) =>
        ev("AcceptorLimitsSet", pos, { acceptor: ACCEPTOR, token, minAmount, maxAmount });
      apply(view, registeredAcceptor(at(1)), limits(at(2), USDT, 10n, 50n), limits(at(3), DAI, 1n, 2n));
      apply(view, deposited(at(4), 30n), limits(at(5), USDT, 20n, 60n));
      expect(view.hashes.get(`acc:${ACCEPTOR}`)).to.include({
        [`min:${USDT}`]: "20",
        [`max:${USDT}`]: "60",
        [`min:${DAI}`]: "1",
        [`max:${DAI}`]: "2",
        [`free:${USDT}`]: "30",
        updatedBlock: "5",
      });
    });

    it("tokens are allowed and disallowed in one hash", function () {
      const view = new MemoryView();
      apply(
        view,
        ev("TokenAllowed", at(1), { token: USDT, allowed: true }),
        ev("TokenAllowed", at(2), { token: DAI, allowed: true }),
        ev("TokenAllowed", at(3), { token: DAI, allowed: false }),
      );
      expect(view.hashes.get("tokens")).to.deep.equal({ [USDT]: "1", [DAI]: "0" });
    });
  });
});
