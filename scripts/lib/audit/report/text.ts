/**
 * The report as text, what `npm run audit` prints without `--json`: tables padded to their widest cell, amounts
 * with the token's decimals and symbol, times in ISO 8601 UTC.
 */
import { formatAmount } from "../names";
import type { Alert, AuditReport } from "../types";

/** How many open deals the human report lists before "and N more". */
export const OPEN_DEALS_SHOWN = 20;
/** How many deals' dispute trails the human report lists (the latest opened) before "and N earlier". */
export const TRAILS_SHOWN = 20;

const isoTime = (seconds: number): string => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");

function table(header: string[], rows: string[][], rightAligned: (column: number) => boolean): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    "  " +
    cells
      .map((c, i) => (rightAligned(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
const alertLine = (a: Alert) => `  ${a.level === "error" ? "ERROR  " : "WARNING"} ${a.message}`;

/**
 * The report as text for a person: header, alerts (loud, first), tokens, deal counts, open deals, disputes, then
 * the verdict with every error and inconsistency.
 */
export function renderReport(report: AuditReport): string {
  const out: string[] = [];
  const tokenOf = new Map(report.tokens.map((t) => [t.token.toLowerCase(), t]));
  const amount = (value: string, token: string): string => {
    const t = tokenOf.get(token.toLowerCase());
    return `${formatAmount(BigInt(value), t?.decimals ?? null)} ${t?.symbol ?? token}`;
  };
  const alerts = report.alerts ?? [];
  const errors = alerts.filter((a) => a.level === "error");

  out.push(`Escrow audit — chain ${report.chainId}`);
  out.push(`  escrow    ${report.escrow}`);
  out.push(`  registry  ${report.registry}`);
  out.push(
    `  blocks    ${report.fromBlock}–${report.toBlock} (state read at block ${report.toBlock}, ${isoTime(report.timestamp)}), ${report.events} events`,
  );
  out.push("");

  if (alerts.length > 0) {
    out.push(`ALERTS: ${alerts.length}`);
    out.push(...alerts.map(alertLine));
    out.push("");
  }

  out.push("Tokens (balance of the escrow against what it owes)");
  if (report.tokens.length === 0) out.push("  none seen");
  else {
    const header = ["token", "address", "balance", "open deals", "free float", "locked float", "owed"];
    header.push("liabilities", "surplus", "escrow blacklisted", "paused");
    const yesNo = (v: boolean | null | undefined) => (v === true ? "YES" : v === false ? "no" : "n/a");
    const rows = report.tokens.map((t) => {
      const f = (v: string) => formatAmount(BigInt(v), t.decimals);
      return [
        t.symbol,
        t.token,
        f(t.balance),
        f(t.openDeals),
        f(t.freeFloat),
        f(t.lockedFloat),
        f(t.owed),
        f(t.liabilities),
        f(t.surplus),
        yesNo(t.escrowBlacklisted),
        yesNo(t.paused),
      ];
    });
    out.push(...table(header, rows, (i) => i >= 2 && i <= 8));
  }
  out.push("");

  const counts = Object.entries(report.deals.byStatus)
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
  out.push(`Deals: ${report.deals.total} (${counts})`);
  out.push("");

  out.push(`Open deals: ${report.openDeals.length}`);
  const shown = report.openDeals.slice(0, OPEN_DEALS_SHOWN);
  if (shown.length > 0) {
    const rows = shown.map((d) => [
      d.dealId,
      d.status + (d.payerReleased ? " (payer released)" : ""),
      d.kind,
      amount(d.amount, d.token),
      d.payer,
      d.payee,
      d.gateway,
      isoTime(d.deadline),
    ]);
    out.push(
      ...table(["deal", "status", "kind", "amount", "payer", "payee", "gateway", "deadline"], rows, (i) => i === 3),
    );
    if (report.openDeals.length > shown.length) out.push(`  and ${report.openDeals.length - shown.length} more`);
  }
  out.push("");

  out.push(`Disputes awaiting a ruling: ${report.disputes.length}`);
  if (report.disputes.length > 0) {
    const rows = report.disputes.map((d) => [
      d.dealId,
      d.gateway,
      d.gatewayHolds ? "yes" : "no",
      isoTime(d.since),
      isoTime(d.gatewayDeadline),
      d.ruler === "gateway"
        ? "the gateway rules"
        : d.ruler === "arbiter"
          ? d.gatewayHolds
            ? "OVERDUE: the arbiter may rule"
            : "the arbiter rules"
          : "NOBODY but the parties",
    ]);
    out.push(...table(["deal", "gateway", "held", "disputed at", "gateway rules until", ""], rows, () => false));
    const stuck = report.disputes.filter((d) => d.ruler === "parties only").length;
    out.push(
      stuck === 0
        ? "  Every disputed deal has someone able to end it."
        : `  ${plural(stuck, "disputed deal has", "disputed deals have")} nobody able to rule it: only the parties can end it.`,
    );
  }
  out.push("");

  const trails = report.trails ?? [];
  out.push(`Dispute and evidence trail: ${plural(trails.length, "deal", "deals")}`);
  if (trails.length > 0) {
    const latest = trails.slice(-TRAILS_SHOWN);
    const rows: string[][] = [];
    for (const t of latest) {
      t.steps.forEach((step, i) => {
        const what =
          step.kind === "disputed"
            ? "disputed"
            : step.kind === "evidence"
              ? `evidence ${step.contentHash} ${step.uri}`
              : `ruled: payee ${amount(step.payeeAmount, t.token)} + fee ${amount(step.fee, t.token)}, ` +
                `refund ${amount(step.refund, t.token)}; reasons ${step.reasons}`;
        rows.push([
          i === 0 ? `${t.dealId} (${t.status})` : "",
          step.time === null ? `block ${step.block}` : isoTime(step.time),
          `${step.role} ${step.by}`,
          what,
        ]);
      });
    }
    out.push(...table(["deal", "when", "by", "what"], rows, () => false));
    if (trails.length > latest.length) out.push(`  and ${trails.length - latest.length} earlier`);
  }
  out.push("");

  if (report.ok && alerts.length === 0) out.push("OK: all checks passed");
  else if (report.ok) out.push(`OK: all checks passed, ${plural(alerts.length, "warning", "warnings")} above`);
  else {
    const parts: string[] = [];
    if (report.inconsistencies.length > 0) {
      parts.push(plural(report.inconsistencies.length, "inconsistency", "inconsistencies"));
    }
    if (errors.length > 0) parts.push(plural(errors.length, "error", "errors"));
    out.push(`FAILED: ${parts.join(", ")}`);
    out.push(...errors.map(alertLine));
    for (const i of report.inconsistencies) {
      out.push(`  [${i.check}] ${i.message}${i.block !== undefined ? ` (block ${i.block})` : ""}`);
    }
  }
  return out.join("\n") + "\n";
}
