/**
 * The report as text (scripts/lib/audit/report/text.ts).
 */
import { expect } from "chai";
import { renderReport } from "../../../../../scripts/lib/audit/report/text";
import { A } from "../support/events";

describe("scripts/lib/audit/report/text.ts", () => {
  it("renders a failed report with every inconsistency", () => {
    const text = renderReport({
      ok: false,
      chainId: 1,
      escrow: A.payer,
      registry: A.payee,
      fromBlock: 1,
      toBlock: 2,
      timestamp: 0,
      events: 0,
      deals: {
        total: 0,
        byStatus: { Open: 0, Performed: 0, Released: 0, Refunded: 0, Disputed: 0, Resolved: 0, Split: 0 },
      },
      tokens: [],
      floats: [],
      owed: [],
      openDeals: [],
      disputes: [],
      alerts: [],
      inconsistencies: [
        { check: "I3", message: "state machine: x", block: 7 },
        { check: "storage", message: "storage: y" },
      ],
    });
    expect(text).to.contain("FAILED: 2 inconsistencies\n  [I3] state machine: x (block 7)\n  [storage] storage: y\n");
  });
});
