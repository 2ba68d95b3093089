/**
 * The report as text (scripts/lib/audit/report/text.ts).
 */
import { expect } from "chai";
import { renderReport } from "../../../../../scripts/lib/audit/report/text";
import { A } from "../support/events";

/** A token row as the snapshot reports it (6 decimals, so amounts print as USDT). */
const TOKEN = {
  symbol: "USDT",
  decimals: 6,
  balance: "0",
  openDeals: "0",
  freeFloat: "0",
  lockedFloat: "0",
  owed: "0",
  liabilities: "0",
  surplus: "0",
  escrowBlacklisted: null,
  paused: null,
};

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
      trails: [],
      alerts: [],
      inconsistencies: [
        { check: "I3", message: "state machine: x", block: 7 },
        { check: "storage", message: "storage: y" },
      ],
    });
    expect(text).to.contain("FAILED: 2 inconsistencies\n  [I3] state machine: x (block 7)\n  [storage] storage: y\n");
  });

  it("renders a deal's dispute trail: the dispute, each piece of evidence with its hash and URI, the ruling", () => {
    const hash = `0x${"ab".repeat(32)}`;
    const reasons = `0x${"cd".repeat(32)}`;
    const text = renderReport({
      ok: true,
      chainId: 1,
      escrow: A.payer,
      registry: A.payee,
      fromBlock: 1,
      toBlock: 9,
      timestamp: 0,
      events: 4,
      deals: {
        total: 1,
        byStatus: { Open: 0, Performed: 0, Released: 0, Refunded: 0, Disputed: 0, Resolved: 1, Split: 0 },
      },
      tokens: [{ ...TOKEN, token: A.token }],
      floats: [],
      owed: [],
      openDeals: [],
      disputes: [],
      trails: [
        {
          dealId: "0x01",
          status: "Resolved",
          gateway: A.gateway,
          token: A.token,
          steps: [
            { kind: "disputed", block: 5, time: 1_700_000_000, by: A.payer, role: "payer" },
            { kind: "evidence", block: 6, time: null, by: A.payee, role: "payee", contentHash: hash, uri: "/v1/e" },
            {
              kind: "resolved",
              block: 8,
              time: 1_700_000_100,
              by: A.gateway,
              role: "gateway",
              payeeAmount: "6930000",
              fee: "70000",
              refund: "3000000",
              reasons,
            },
          ],
        },
      ],
      alerts: [],
      inconsistencies: [],
    });
    const lines = text.split("\n");
    const at = lines.indexOf("Dispute and evidence trail: 1 deal");
    expect(at, text).to.be.greaterThan(-1);
    expect(lines[at + 2]).to.match(
      new RegExp(`^  0x01 \\(Resolved\\) +2023-11-14T22:13:20Z +payer ${A.payer} +disputed$`),
    );
    expect(lines[at + 3]).to.match(new RegExp(`^ +block 6 +payee ${A.payee} +evidence ${hash} /v1/e$`));
    expect(lines[at + 4]).to.contain(`gateway ${A.gateway}`);
    expect(lines[at + 4]).to.contain(`ruled: payee 6.93 USDT + fee 0.07 USDT, refund 3 USDT; reasons ${reasons}`);
  });
});
