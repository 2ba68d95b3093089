/**
 * The due-time rules (protocol/due.ts) against the escrow's comparisons: every call is due from one second after
 * its end (`block.timestamp > end`), never exactly at it.
 */
import { expect } from "chai";
import {
  DELEGATE_SALT_PREFIX,
  claimDueAt,
  dueActions,
  lockExpiry,
  payeeDisputeDueAt,
  refundDueAt,
} from "../../protocol";
import type { DueDeal } from "../../protocol";

const RW = 86_400;
const DEADLINE = 1_800_000_000;
const PLAIN_SALT = `0x${"11".repeat(32)}`;
const DELEGATE_SALT = `${DELEGATE_SALT_PREFIX}${"22".repeat(20)}`;
const deal = (over: Partial<DueDeal> = {}): DueDeal => ({
  status: "open",
  kind: "payment",
  salt: PLAIN_SALT,
  deadline: DEADLINE,
  releaseWindow: 3_600,
  autoRelease: false,
  ...over,
});

describe("protocol due times", function () {
  it("an Open deal: refund not due exactly at its deadline, due at deadline + 1", function () {
    const d = deal();
    expect(refundDueAt(d, RW)).to.equal(DEADLINE + 1);
    expect(dueActions(d, DEADLINE, RW)).to.deep.equal([]);
    expect(dueActions(d, DEADLINE + 1, RW)).to.deep.equal(["refund"]);
  });

  it("a Performed deal not locked by a delegate never refunds; neither does a final one", function () {
    expect(refundDueAt(deal({ status: "performed", performedAt: DEADLINE - 10 }), RW)).to.equal(undefined);
    expect(refundDueAt(deal({ status: "disputed", disputedAt: DEADLINE }), RW)).to.equal(undefined);
    for (const status of ["released", "refunded", "resolved", "split"] as const) {
      expect(dueActions(deal({ status, performedAt: 1 }), DEADLINE * 2, RW), status).to.deep.equal([]);
    }
  });

  it("a delegate's lock (on-ramp, delegate salt) Performed: refund from deadline + releaseWindow + resolutionWindow + 1", function () {
    const d = deal({ status: "performed", kind: "onramp", salt: DELEGATE_SALT, performedAt: DEADLINE - 100 });
    const expiry = DEADLINE + 3_600 + RW;
    expect(lockExpiry(d, RW)).to.equal(expiry);
    expect(dueActions(d, expiry, RW)).to.not.include("refund");
    expect(dueActions(d, expiry + 1, RW)).to.include("refund");
    // The salt alone or the kind alone is no delegate's lock.
    expect(lockExpiry({ ...d, kind: "payment" }, RW)).to.equal(undefined);
    expect(lockExpiry({ ...d, salt: PLAIN_SALT }, RW)).to.equal(undefined);
  });

  it("a delegate's lock Disputed: not before the lock expiry nor before its resolution window ends (the later)", function () {
    const base = { status: "disputed" as const, kind: "onramp" as const, salt: DELEGATE_SALT };
    const expiry = DEADLINE + 3_600 + RW;
    const early = deal({ ...base, disputedAt: DEADLINE });
    expect(refundDueAt(early, RW)).to.equal(expiry + 1);
    const late = deal({ ...base, disputedAt: expiry });
    expect(refundDueAt(late, RW)).to.equal(expiry + RW + 1);
    expect(dueActions(late, expiry + RW, RW)).to.deep.equal([]);
    expect(dueActions(late, expiry + RW + 1, RW)).to.deep.equal(["refund"]);
    expect(refundDueAt(deal(base), RW), "dispute time unknown").to.equal(undefined);
  });

  it("claim: an autoRelease Performed deal from performedAt + releaseWindow + 1; never without autoRelease", function () {
    const d = deal({ status: "performed", autoRelease: true, performedAt: DEADLINE - 500 });
    const end = DEADLINE - 500 + 3_600;
    expect(claimDueAt(d)).to.equal(end + 1);
    expect(dueActions(d, end, RW)).to.deep.equal([]);
    expect(dueActions(d, end + 1, RW)).to.deep.equal(["claim", "dispute"]);
    expect(claimDueAt({ ...d, autoRelease: false })).to.equal(undefined);
    expect(claimDueAt({ ...d, status: "disputed" })).to.equal(undefined);
    expect(claimDueAt({ ...d, performedAt: undefined })).to.equal(undefined);
  });

  it("the payee's dispute: any Performed deal from performedAt + releaseWindow + 1; not from open or disputed", function () {
    const d = deal({ status: "performed", performedAt: DEADLINE });
    expect(payeeDisputeDueAt(d)).to.equal(DEADLINE + 3_600 + 1);
    expect(dueActions(d, DEADLINE + 3_600, RW)).to.deep.equal([]);
    expect(dueActions(d, DEADLINE + 3_601, RW)).to.deep.equal(["dispute"]);
    expect(payeeDisputeDueAt({ ...d, status: "open" })).to.equal(undefined);
    expect(payeeDisputeDueAt({ ...d, status: "disputed" })).to.equal(undefined);
  });
});
