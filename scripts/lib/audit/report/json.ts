/**
 * The report as data (what `--json` prints, and what the text report is rendered from): the replay's deals,
 * floats and owed balances with the snapshot's token figures, every open deal and dispute, and the verdict.
 */
import { Status, isFinal } from "../../../../protocol";
import type { AuditLedger } from "../ledger";
import { checksummed, kindName, same, statusName, type StatusName } from "../names";
import type { Alert, AuditReport, DisputeReport, OpenDealReport, TrailReport, TrailRole } from "../types";

/** The report's header, the snapshot's findings, and the replay to list deals, floats and owed balances from. */
export type ReportInput = Pick<
  AuditReport,
  "chainId" | "escrow" | "registry" | "fromBlock" | "toBlock" | "timestamp" | "events" | "tokens" | "inconsistencies"
> & {
  ledger: AuditLedger;
  resolutionWindow: number;
  /** Timestamps of the blocks where deals last changed status. */
  blockTimes: ReadonlyMap<number, number>;
  /** The alerts so far (the report adds those of disputes nobody but their parties can end). */
  alerts: Alert[];
};

/** Assembles the report; adds a warning for every dispute nobody but its parties can end. */
export function buildReport(input: ReportInput): AuditReport {
  const { ledger, blockTimes, resolutionWindow } = input;
  const deals = [...ledger.deals.values()];
  const byStatus = { Open: 0, Performed: 0, Released: 0, Refunded: 0, Disputed: 0, Resolved: 0, Split: 0 };
  for (const d of deals) byStatus[statusName(d.status) as keyof typeof byStatus] += 1;
  // Deals keep the order they were opened in.
  const openDeals: OpenDealReport[] = deals
    .filter((d) => !isFinal(d.status))
    .map((d) => ({
      dealId: d.dealId,
      status: statusName(d.status) as StatusName,
      kind: kindName(d.params.kind),
      payer: checksummed(d.params.payer),
      payee: checksummed(d.params.payee),
      gateway: checksummed(d.params.gateway),
      token: checksummed(d.params.token),
      amount: d.params.amount.toString(),
      deadline: d.params.deadline,
      payerReleased: d.payerReleased,
    }));
  const disputes: DisputeReport[] = deals
    .filter((d) => d.status === Status.Disputed)
    .map((d) => {
      const since = blockTimes.get(d.sinceBlock)!;
      const ruler = ledger.rulerOf({ ...d, disputedTime: d.disputedTime ?? since }, input.timestamp);
      return {
        dealId: d.dealId,
        gateway: checksummed(d.params.gateway),
        gatewayHolds: d.held,
        since,
        gatewayDeadline: since + resolutionWindow,
        overdue: ruler !== "gateway",
        ruler,
      };
    })
    .sort((a, b) => a.gatewayDeadline - b.gatewayDeadline || (a.dealId < b.dealId ? -1 : 1));
  const trails: TrailReport[] = deals
    .filter((d) => d.trail.length > 0)
    .map((d) => {
      const { payer, payee, gateway } = d.params;
      const roleOf = (by: string): TrailRole =>
        same(by, payer)
          ? "payer"
          : same(by, payee)
            ? "payee"
            : same(by, gateway)
              ? "gateway"
              : ledger.arbiters.has(by.toLowerCase())
                ? "arbiter"
                : "other";
      return {
        dealId: d.dealId,
        status: statusName(d.status) as StatusName,
        gateway: checksummed(gateway),
        token: checksummed(d.params.token),
        steps: d.trail.map((step) => {
          const who = { block: step.block, time: step.time ?? null, by: checksummed(step.by), role: roleOf(step.by) };
          if (step.kind === "evidence") {
            return { ...who, kind: step.kind, contentHash: step.contentHash, uri: step.uri };
          }
          if (step.kind === "resolved") {
            return {
              ...who,
              kind: step.kind,
              payeeAmount: step.payeeAmount.toString(),
              fee: step.fee.toString(),
              refund: step.refund.toString(),
              reasons: step.reasons,
            };
          }
          return { ...who, kind: step.kind };
        }),
      };
    });
  // Every disputed deal has someone able to end it: its gateway in time, or an arbiter. Otherwise only its parties
  // can (release, cancel, split or settle by signatures).
  const alerts = [...input.alerts];
  for (const d of disputes) {
    if (d.ruler === "parties only") {
      alerts.push({
        level: "warning",
        check: "disputes",
        dealId: d.dealId,
        message: `deal ${d.dealId} is disputed, its gateway may not rule it and no account holds ARBITER_ROLE: only the parties can end it`,
      });
    }
  }
  const inconsistencies = input.inconsistencies;
  return {
    ok: inconsistencies.length === 0 && !alerts.some((a) => a.level === "error"),
    chainId: input.chainId,
    escrow: input.escrow,
    registry: input.registry,
    fromBlock: input.fromBlock,
    toBlock: input.toBlock,
    timestamp: input.timestamp,
    events: input.events,
    deals: { total: deals.length, byStatus },
    tokens: input.tokens,
    floats: [...ledger.floats.values()].map((f) => ({
      acceptor: f.acceptor,
      token: f.token,
      free: f.free.toString(),
      locked: f.locked.toString(),
      deposits: f.deposits.toString(),
      withdrawals: f.withdrawals.toString(),
      released: f.released.toString(),
      refunded: f.refunded.toString(),
    })),
    owed: [...ledger.owed.values()]
      .filter((o) => o.amount !== 0n)
      .map((o) => ({ token: o.token, account: o.account, amount: o.amount.toString() })),
    openDeals,
    disputes,
    trails,
    alerts: [...alerts.filter((a) => a.level === "error"), ...alerts.filter((a) => a.level === "warning")],
    inconsistencies,
  };
}

/** The report as one JSON document (what `--json` prints). */
export const renderJson = (report: AuditReport): string => JSON.stringify(report, null, 2) + "\n";
