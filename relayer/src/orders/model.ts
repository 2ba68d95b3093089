/**
 * Orders, pure: a platform's payment request, matched to an acceptor and bound to exactly one on-chain deal, whose
 * statuses it then follows. No IO here: the store (store.ts) writes orders, the service (service.ts) moves them.
 *
 * The transition table says which status may follow which, and what drives each move: the acceptor (accept,
 * decline), the clock (accept window, expiry), the platform (cancel) or the deal's status in the projection, once
 * final.
 */
import type { DealKind } from "../../../protocol";

import type { OrderSide } from "./matching";
import type { NameCheck } from "./names";

export type { OrderSide };
export type OrderStatus =
  | "assigned"
  | "accepted"
  | "funded"
  | "paid"
  | "released"
  | "refunded"
  | "split"
  | "resolved"
  | "disputed"
  | "expired"
  | "unmatched"
  | "cancelled";

/** The deal struct as JSON (amount as a decimal string, kind by name). */
export type DealParamsJson = {
  payer: string;
  payee: string;
  gateway: string;
  token: string;
  amount: string;
  deadline: number;
  releaseWindow: number;
  feeBps: number;
  kind: DealKind;
  autoRelease: boolean;
  salt: string;
};

export type OrderHistoryEntry = { status: OrderStatus; at: number; note?: string };

export type Order = {
  id: string;
  side: OrderSide;
  status: OrderStatus;
  amount: string;
  token: string;
  currency: string;
  method: string;
  methodHash: string;
  user: string;
  reference: string;
  ref: string;
  platform: string;
  platformKeyId: string;
  acceptor?: string;
  rate?: string;
  fiatAmount?: string;
  paymentDetails?: string;
  dealId?: string;
  salt?: string;
  deal?: DealParamsJson;
  tried: string[];
  acceptBy?: number;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
  late?: boolean;
  /** Buy orders: the name on the bank account the user pays from, as the platform declared it (personal data). */
  payerName?: string;
  /** Buy orders: the name the acceptor saw on the incoming transfer, and how it compares with `payerName`. */
  transferName?: string;
  nameCheck?: NameCheck;
  /** A released buy order the acceptor flagged: the fiat it received was reversed. */
  chargeback?: { at: number; reason?: string };
  history: OrderHistoryEntry[];
};

/** Order ids: "ord_" + 24 lower-case hex characters. */
export const ORDER_ID = /^ord_[0-9a-f]{24}$/;

/** Statuses an order never leaves. */
export const TERMINAL: ReadonlySet<OrderStatus> = new Set([
  "released",
  "refunded",
  "split",
  "resolved",
  "unmatched",
  "cancelled",
]);

/** Statuses before the deal is open: the platform may still cancel, the clock may still expire the order. */
export const BEFORE_FUNDING: ReadonlySet<OrderStatus> = new Set(["assigned", "accepted"]);

/** What drives a move. */
export type Driver = "acceptor" | "clock" | "platform" | "deal";

/**
 * Each status's possible next statuses, with what drives the move (for "deal", the deal status in the projection,
 * final, that the order follows). `assigned → assigned` is a re-match after a decline or a missed accept window.
 */
export const ORDER_TRANSITIONS: Record<OrderStatus, { to: OrderStatus; by: Driver; when: string }[]> = {
  assigned: [
    { to: "accepted", by: "acceptor", when: "the acceptor accepts (buy: its lock is sent)" },
    { to: "assigned", by: "acceptor", when: "declined or the accept window passed, another acceptor is eligible" },
    { to: "unmatched", by: "acceptor", when: "declined or the accept window passed, no acceptor left" },
    { to: "expired", by: "clock", when: "expiresAt passed" },
    { to: "cancelled", by: "platform", when: "the platform cancels" },
    { to: "funded", by: "deal", when: "deal open" },
  ],
  accepted: [
    { to: "funded", by: "deal", when: "deal open" },
    { to: "expired", by: "clock", when: "expiresAt passed" },
    { to: "cancelled", by: "platform", when: "the platform cancels" },
  ],
  funded: [
    { to: "paid", by: "deal", when: "deal performed" },
    { to: "released", by: "deal", when: "deal released" },
    { to: "refunded", by: "deal", when: "deal refunded" },
    { to: "disputed", by: "deal", when: "deal disputed" },
    { to: "split", by: "deal", when: "deal split" },
    { to: "expired", by: "clock", when: "buy order, expiresAt passed, the buyer never paid" },
  ],
  paid: [
    { to: "released", by: "deal", when: "deal released" },
    { to: "refunded", by: "deal", when: "deal refunded" },
    { to: "disputed", by: "deal", when: "deal disputed" },
    { to: "split", by: "deal", when: "deal split" },
  ],
  disputed: [
    { to: "resolved", by: "deal", when: "deal resolved" },
    { to: "released", by: "deal", when: "deal released" },
    { to: "split", by: "deal", when: "deal split" },
    { to: "refunded", by: "deal", when: "deal refunded" },
  ],
  expired: [
    { to: "paid", by: "deal", when: "deal performed after expiresAt (late payment)" },
    { to: "refunded", by: "deal", when: "deal refunded" },
    { to: "released", by: "deal", when: "deal released" },
    { to: "disputed", by: "deal", when: "deal disputed" },
    { to: "split", by: "deal", when: "deal split" },
  ],
  released: [],
  refunded: [],
  split: [],
  resolved: [],
  unmatched: [],
  cancelled: [],
};

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].some((t) => t.to === to);
}

/** The order status a deal status stands for. */
export function orderStatusOfDeal(dealStatus: string): OrderStatus | undefined {
  switch (dealStatus) {
    case "open":
      return "funded";
    case "performed":
      return "paid";
    case "released":
    case "refunded":
    case "split":
    case "disputed":
    case "resolved":
      return dealStatus;
    default:
      return undefined;
  }
}

/**
 * Where an order goes when its deal shows `dealStatus` (final), or undefined when it stays. An expired order whose
 * deal is still open stays expired (a funded buy deal refunds at its deadline); `late` marks a payment reported
 * after expiresAt.
 */
export function followDeal(
  order: Pick<Order, "status" | "expiresAt">,
  dealStatus: string,
  changedAtMs: number,
): { to: OrderStatus; late: boolean } | undefined {
  const to = orderStatusOfDeal(dealStatus);
  if (to === undefined || to === order.status) return undefined;
  if (order.status === "expired" && to === "funded") return undefined;
  if (!canMove(order.status, to)) return undefined;
  const late = to === "paid" && (order.status === "expired" || changedAtMs > order.expiresAt);
  return { to, late };
}

/** The event type of a move into `to` (a late payment has its own). */
export function eventTypeOf(to: OrderStatus, late = false): string {
  return late && to === "paid" ? "order.paid_late" : `order.${to}`;
}

/** Fiat amount: amount (base units, `decimals`) × rate (fiat per whole token), rounded to cents. */
export function fiatAmountOf(amount: string, rate: string, decimals = 6): string {
  const [whole, frac = ""] = rate.split(".");
  const scale = 10n ** BigInt(frac.length);
  const rateUnits = BigInt(whole + frac);
  const cents =
    (BigInt(amount) * rateUnits * 100n + (10n ** BigInt(decimals) * scale) / 2n) / (10n ** BigInt(decimals) * scale);
  const s = cents.toString().padStart(3, "0");
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}

/** What the platform, the acceptor and an admin see of an order. */
export function orderView(order: Order) {
  return { ...order, history: order.history.map((h) => ({ ...h })) };
}
export type OrderView = ReturnType<typeof orderView>;

/** Who signs what next, for the checkout page: the user's next step, or the other party's. */
export function nextOf(order: Order, dealStatus: string | undefined): { action: string | null; signer: string | null } {
  const payer = order.deal?.payer ?? null;
  const payee = order.deal?.payee ?? null;
  if (order.side === "sell" && (order.status === "accepted" || order.status === "assigned") && !dealStatus) {
    return { action: order.status === "accepted" ? "open" : null, signer: order.status === "accepted" ? payer : null };
  }
  if (dealStatus === "open" && (order.status === "funded" || order.status === "expired")) {
    return { action: "performed", signer: payee };
  }
  if (dealStatus === "performed") return { action: "release", signer: payer };
  return { action: null, signer: null };
}

/** What the checkout page shows (no key: the order id is the capability; payment details only once funded). */
export function checkoutView(
  order: Order,
  deal: { status: string; finality: string } | null,
  approval?: { token: string; spender: string; amount: string },
  escalation: { state: string; dueAt: number | null } | null = null,
) {
  const funded = !BEFORE_FUNDING.has(order.status) && order.status !== "unmatched" && order.status !== "cancelled";
  return {
    orderId: order.id,
    side: order.side,
    status: order.status,
    amount: order.amount,
    token: order.token,
    currency: order.currency,
    method: order.method,
    fiatAmount: order.fiatAmount ?? null,
    rate: order.rate ?? null,
    paymentDetails: funded ? (order.paymentDetails ?? null) : null,
    expiresAt: order.expiresAt,
    user: order.user,
    acceptor: order.acceptor ?? null,
    dealId: order.dealId ?? null,
    late: order.late ?? false,
    deal,
    next: nextOf(order, deal?.status),
    escalation,
    ...(approval ? { approval } : {}),
  };
}
export type CheckoutView = ReturnType<typeof checkoutView>;
