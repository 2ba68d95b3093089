/**
 * The public event types: one stable dotted name per protocol event, the suffixes of the stages an event goes
 * through (announced pending, then `.finalized` past the confirmation depth, or `.retracted` when a reorg undid it),
 * and the type filters consumers give (`deal.*`, `*.finalized`, exact names). Pure.
 */
import type { ProtocolEvent } from "../../../protocol";
import { ORDER_EVENT_TYPES } from "./orders";
import { DISPUTE_EVENT_TYPES } from "./disputes";

/** Protocol event (its `type`) → public type. */
export const PUBLIC_TYPES = {
  DealOpened: "deal.opened",
  DealPerformed: "deal.performed",
  DealReleaseApproved: "deal.release_approved",
  DealLockedByDelegate: "deal.locked",
  DealReleased: "deal.released",
  DealRefunded: "deal.refunded",
  DealDisputed: "deal.disputed",
  DealResolved: "deal.resolved",
  DealSplit: "deal.split",
  EvidencePosted: "deal.evidence_posted",
  DisputeCountSkipped: "deal.dispute_count_skipped",
  PayoutDeferred: "owed.credited",
  OwedClaimed: "owed.claimed",
  FloatDeposited: "float.deposited",
  FloatWithdrawn: "float.withdrawn",
  GatewayRegistered: "gateway.registered",
  GatewayApproved: "gateway.approved",
  GatewayFeeSet: "gateway.fee_set",
  GatewayBondAdded: "gateway.bond_added",
  GatewaySuspended: "gateway.suspended",
  GatewayReinstated: "gateway.reinstated",
  GatewaySlashed: "gateway.slashed",
  GatewayExitRequested: "gateway.exit_requested",
  GatewayExited: "gateway.exited",
  GatewayDisputesChanged: "gateway.disputes_changed",
  AcceptorRegistered: "acceptor.registered",
  AcceptorApproved: "acceptor.approved",
  AcceptorSuspended: "acceptor.suspended",
  AcceptorReinstated: "acceptor.reinstated",
  AcceptorLockDelegateSet: "acceptor.lock_delegate_set",
  AcceptorMethodSet: "acceptor.method_set",
  AcceptorLimitsSet: "acceptor.limits_set",
  TokenAllowed: "token.allowed",
  ArbiterGranted: "arbiter.granted",
  ArbiterRevoked: "arbiter.revoked",
} as const satisfies Record<ProtocolEvent["type"], string>;

export type ProtocolType = keyof typeof PUBLIC_TYPES;
export type BaseType = (typeof PUBLIC_TYPES)[ProtocolType];

/** What happened to an announced event: none (announced), finalized or retracted. */
export const STAGES = ["finalized", "retracted"] as const;
export type Stage = (typeof STAGES)[number];

/** Every public type: each base type, and each with a stage suffix; and the order events (they have no stages). */
export const ALL_TYPES: readonly string[] = [
  ...Object.values(PUBLIC_TYPES).flatMap((t) => [t, ...STAGES.map((s) => `${t}.${s}`)]),
  ...ORDER_EVENT_TYPES,
  ...DISPUTE_EVENT_TYPES,
];

export const publicTypeOf = (protocolType: string, stage?: Stage): string | undefined => {
  const base = (PUBLIC_TYPES as Record<string, string>)[protocolType];
  if (base === undefined) return undefined;
  return stage ? `${base}.${stage}` : base;
};

/** A type filter: an exact type or a pattern whose `*` stands for any characters (`deal.*`, `*.retracted`). */
export const TYPE_PATTERN = /^[a-z_.*]{1,64}$/;
/** Most patterns in one filter. */
export const TYPE_PATTERNS_MAX = 50;

const patternRegex = (pattern: string) => new RegExp(`^${pattern.replace(/[.]/g, "\\.").replace(/\*/g, ".*")}$`);

/** A matcher of a list of patterns (none or `*`: everything), or the first pattern that matches no known type. */
export function typeMatcher(patterns: readonly string[]): { match: (type: string) => boolean } | { unknown: string } {
  if (patterns.length === 0 || patterns.includes("*")) return { match: () => true };
  const regexes: RegExp[] = [];
  for (const p of patterns) {
    if (!TYPE_PATTERN.test(p)) return { unknown: p };
    const r = patternRegex(p);
    if (!ALL_TYPES.some((t) => r.test(t))) return { unknown: p };
    regexes.push(r);
  }
  return { match: (type: string) => regexes.some((r) => r.test(type)) };
}
