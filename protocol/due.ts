/**
 * When the escrow's time rules let a call through: the calls anyone may send (a refund) and those a party may sign
 * in advance (the payee's claim and escalation), as the first unix second at which the escrow accepts each. The
 * escrow compares with `block.timestamp > end`, so a call is due from `end + 1`: exactly at a deadline it is not.
 * Pure; mirrors Escrow.refund, _claim, _dispute and _lockExpiry (the contract stays the judge: a sender simulates).
 */
import { isDelegateSalt } from "./constants";
import type { DealKind, DealStatus } from "./enums";

/** What the rules read of a deal (its projection's fields, normalised). */
export type DueDeal = {
  status: DealStatus;
  kind: DealKind;
  salt: string;
  deadline: number;
  releaseWindow: number;
  autoRelease: boolean;
  /** Block time the deal became Performed (the escrow's `since` while Performed), when known. */
  performedAt?: number;
  /** Block time the deal became Disputed (the escrow's `since` while Disputed), when known. */
  disputedAt?: number;
};

/** A call the keeper may send once due. */
export type DueKind = "refund" | "claim" | "dispute";

/** `deadline + releaseWindow + resolutionWindow` of a delegate's lock (an on-ramp salted as one); else undefined. */
export function lockExpiry(deal: DueDeal, resolutionWindow: number): number | undefined {
  if (deal.kind !== "onramp" || !isDelegateSalt(deal.salt)) return undefined;
  return deal.deadline + deal.releaseWindow + resolutionWindow;
}

/**
 * First second at which anyone may `refund` the deal: an Open deal after its deadline; a delegate's lock, Performed
 * or Disputed, after its lock expiry (Disputed: not before its resolution window ends either). Undefined: never.
 */
export function refundDueAt(deal: DueDeal, resolutionWindow: number): number | undefined {
  if (deal.status === "open") return deal.deadline + 1;
  if (deal.status !== "performed" && deal.status !== "disputed") return undefined;
  let expiresAt = lockExpiry(deal, resolutionWindow);
  if (expiresAt === undefined) return undefined;
  if (deal.status === "disputed") {
    if (deal.disputedAt === undefined) return undefined;
    expiresAt = Math.max(expiresAt, deal.disputedAt + resolutionWindow);
  }
  return expiresAt + 1;
}

/** First second of the payee's `claim`: a Performed autoRelease deal after its release window. */
export function claimDueAt(deal: DueDeal): number | undefined {
  if (deal.status !== "performed" || !deal.autoRelease || deal.performedAt === undefined) return undefined;
  return deal.performedAt + deal.releaseWindow + 1;
}

/** First second of the payee's `dispute` (escalation): a Performed deal after its release window. */
export function payeeDisputeDueAt(deal: DueDeal): number | undefined {
  if (deal.status !== "performed" || deal.performedAt === undefined) return undefined;
  return deal.performedAt + deal.releaseWindow + 1;
}

/** The first second each call falls due (`refund` for anyone; `claim`, `dispute` for the payee). */
export function dueTimes(deal: DueDeal, resolutionWindow: number): Record<DueKind, number | undefined> {
  return { refund: refundDueAt(deal, resolutionWindow), claim: claimDueAt(deal), dispute: payeeDisputeDueAt(deal) };
}

/** The calls due at `now` (unix seconds, the chain's time). */
export function dueActions(deal: DueDeal, now: number, resolutionWindow: number): DueKind[] {
  const times = dueTimes(deal, resolutionWindow);
  return (Object.keys(times) as DueKind[]).filter((k) => times[k] !== undefined && now >= times[k]!);
}
