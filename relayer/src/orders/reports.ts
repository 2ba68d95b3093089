/**
 * Settlement reports, pure: the rows of the orders whose deal settled in a time range (released, split, resolved
 * or refunded, judged by the settling event's block time), their totals per token, and the CSV text. The amounts
 * are the projection's, which the indexer took from the escrow's events: payeeAmount is what the payee received
 * (after the gateway's fee), fee what the gateway was credited, refund what went back to the payer (or, for an
 * on-ramp, to the acceptor's float); amount = payeeAmount + fee + refund for every row.
 */
import type { HistoryEntry, Hash } from "../domain/projection";
import type { Order } from "./model";

/** The deal statuses that end a deal with money moved. */
export const SETTLED_STATUSES: ReadonlySet<string> = new Set(["released", "split", "resolved", "refunded"]);
const SETTLING_EVENTS: ReadonlySet<string> = new Set(["DealReleased", "DealSplit", "DealResolved", "DealRefunded"]);

/** The report's columns, in order (the CSV header row). */
export const REPORT_COLUMNS = [
  "orderId",
  "reference",
  "side",
  "status",
  "acceptor",
  "user",
  "token",
  "amount",
  "payeeAmount",
  "fee",
  "refund",
  "fiatAmount",
  "currency",
  "dealId",
  "openTx",
  "settleTx",
  "openedAt",
  "settledAt",
  "chargeback",
  "chargebackReason",
] as const;

export type SettlementRow = Record<(typeof REPORT_COLUMNS)[number], string>;
/** `chargebacks`: rows the acceptor flagged as charged back (the fiat it received was reversed). */
export type TokenTotals = {
  amount: string;
  payeeAmount: string;
  fee: string;
  refund: string;
  count: number;
  chargebacks: number;
};
export type SettlementReport = { rows: SettlementRow[]; totals: Record<string, TokenTotals> };

/** A deal as the projection holds it (store.getDeal). */
export type DealRecord = { deal: Hash; history: HistoryEntry[] };

const iso = (seconds: number | undefined) => (seconds === undefined ? "" : new Date(seconds * 1000).toISOString());

/**
 * The row of an order whose deal settled within [fromS, toS) (unix seconds, block time), or undefined. `status` is
 * the deal's settlement (released, split, resolved, refunded).
 */
export function settlementRow(
  order: Order,
  record: DealRecord | undefined,
  fromS: number,
  toS: number,
): SettlementRow | undefined {
  if (!record || !order.dealId) return undefined;
  const { deal, history } = record;
  if (!SETTLED_STATUSES.has(deal.status)) return undefined;
  const settle = [...history].reverse().find((h) => SETTLING_EVENTS.has(h.event));
  const settledAt = settle?.timestamp;
  if (!settle || settledAt === undefined || settledAt < fromS || settledAt >= toS) return undefined;
  const open = history.find((h) => h.event === "DealOpened") ?? history[0];
  return {
    orderId: order.id,
    reference: order.reference,
    side: order.side,
    status: deal.status,
    acceptor: order.acceptor ?? "",
    user: order.user,
    token: order.token,
    amount: deal.amount ?? order.amount,
    payeeAmount: deal.payeeAmount ?? "0",
    fee: deal.fee ?? "0",
    refund: deal.refund ?? "0",
    fiatAmount: order.fiatAmount ?? "",
    currency: order.currency,
    dealId: order.dealId,
    openTx: open?.txHash ?? "",
    settleTx: settle.txHash,
    openedAt: iso(open?.timestamp),
    settledAt: iso(settledAt),
    chargeback: order.chargeback ? "true" : "false",
    chargebackReason: order.chargeback?.reason ?? "",
  };
}

/** Rows (oldest settlement first, then by order id) and totals per token. */
export function settlementReport(
  orders: Order[],
  deals: ReadonlyMap<string, DealRecord>,
  fromS: number,
  toS: number,
): SettlementReport {
  const rows = orders
    .flatMap((o) => {
      const row = settlementRow(o, o.dealId ? deals.get(o.dealId) : undefined, fromS, toS);
      return row ? [row] : [];
    })
    .sort((a, b) =>
      a.settledAt !== b.settledAt ? (a.settledAt < b.settledAt ? -1 : 1) : a.orderId < b.orderId ? -1 : 1,
    );
  type Sum = { amount: bigint; payeeAmount: bigint; fee: bigint; refund: bigint; count: number; chargebacks: number };
  const sums = new Map<string, Sum>();
  for (const r of rows) {
    const t = sums.get(r.token) ?? { amount: 0n, payeeAmount: 0n, fee: 0n, refund: 0n, count: 0, chargebacks: 0 };
    if (r.chargeback === "true") t.chargebacks++;
    t.amount += BigInt(r.amount);
    t.payeeAmount += BigInt(r.payeeAmount);
    t.fee += BigInt(r.fee);
    t.refund += BigInt(r.refund);
    t.count++;
    sums.set(r.token, t);
  }
  const totals: Record<string, TokenTotals> = {};
  for (const [token, t] of [...sums].sort(([a], [b]) => (a < b ? -1 : 1))) {
    totals[token] = {
      amount: t.amount.toString(),
      payeeAmount: t.payeeAmount.toString(),
      fee: t.fee.toString(),
      refund: t.refund.toString(),
      count: t.count,
      chargebacks: t.chargebacks,
    };
  }
  return { rows, totals };
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF, quotes doubled. A text a spreadsheet
 * would run as a formula (starting with =, +, -, @, tab or CR) gets a leading apostrophe: a platform's reference is
 * its own text, and an acceptor opens the same report.
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The report as CSV: a header row, one line per row, CRLF line ends (RFC 4180). */
export function settlementCsv(rows: SettlementRow[]): string {
  const lines = [REPORT_COLUMNS.join(","), ...rows.map((r) => REPORT_COLUMNS.map((c) => csvField(r[c])).join(","))];
  return lines.map((l) => `${l}\r\n`).join("");
}

/** Longest range of one report. */
export const REPORT_MAX_DAYS = 93;

/**
 * A time parameter: unix seconds (digits) or an ISO 8601 date or date-time (a date is its midnight UTC; a date-time
 * without offset is read as UTC). Undefined when it is neither.
 */
export function parseReportTime(text: string): number | undefined {
  if (/^[0-9]{1,12}$/.test(text)) return Number(text);
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(
    text,
  );
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", s = "00", zone = "Z"] = m;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2026-02-30 over into March: a date must read back as given.
  if (new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).getUTCDate() !== Number(d)) return undefined;
  return Math.floor(ms / 1000);
}
