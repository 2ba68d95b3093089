/**
 * The contracts' enums, numbered as the contracts number them (a test checks each list against the compiled
 * sources). Two spellings: the contracts' names (`Kind.OnRamp`), and the names the relayer's API and store use
 * (`"onramp"`), which are the same lists lower-cased (refund reasons in snake_case: `payee_cancel`).
 */

/** `{ Name: index }` for a list of enum member names. */
type EnumOf<N extends readonly string[]> = { readonly [K in N[number]]: number };
function enumOf<const N extends readonly string[]>(names: N): EnumOf<N> {
  return Object.freeze(Object.fromEntries(names.map((name, i) => [name, i]))) as EnumOf<N>;
}

/** `IEscrow.DealKind`. */
export const KIND_NAMES = ["Payment", "OnRamp", "OffRamp"] as const;
export const Kind = enumOf(KIND_NAMES);
/** `IEscrow.DealStatus`. */
export const STATUS_NAMES = [
  "None",
  "Open",
  "Performed",
  "Released",
  "Refunded",
  "Disputed",
  "Resolved",
  "Split",
] as const;
export const Status = enumOf(STATUS_NAMES);
/** `IEscrow.Action`: what a party signs in a `DealAction`. */
export const ACTION_NAMES = ["Perform", "Release", "Cancel", "Dispute", "Claim"] as const;
export const Action = enumOf(ACTION_NAMES);
/** `IEscrow.RefundReason`. */
export const REFUND_REASON_NAMES = ["Deadline", "PayeeCancel", "MutualCancel", "LockExpired"] as const;
export const RefundReason = enumOf(REFUND_REASON_NAMES);
/** `IGatewayRegistry.GatewayStatus`: the gateway's own life cycle; governance's suspension is a separate flag. */
export const GATEWAY_STATUS_NAMES = ["None", "Pending", "Active", "Exiting", "Exited"] as const;
export const GatewayStatus = enumOf(GATEWAY_STATUS_NAMES);
/** `IGatewayRegistry.AcceptorStatus`. */
export const ACCEPTOR_STATUS_NAMES = ["None", "Pending", "Active", "Suspended"] as const;
export const AcceptorStatus = enumOf(ACCEPTOR_STATUS_NAMES);
/** Bits of a deal record's `flags`. */
export const Flags = { PayerReleased: 1, GatewayHolds: 2 } as const;

/** The API's names: index = the contract's number (statuses and registry statuses without None). */
export const DEAL_KINDS = ["payment", "onramp", "offramp"] as const;
export type DealKind = (typeof DEAL_KINDS)[number];
export const REFUND_REASONS = ["deadline", "payee_cancel", "mutual_cancel", "lock_expired"] as const;
export type RefundReasonName = (typeof REFUND_REASONS)[number];
/** Deal statuses from Open on: `DEAL_STATUSES[Status.X - 1]`. */
export const DEAL_STATUSES = ["open", "performed", "released", "refunded", "disputed", "resolved", "split"] as const;
export type DealStatus = (typeof DEAL_STATUSES)[number];
/** Gateway statuses from Pending on: `GATEWAY_STATUSES[GatewayStatus.X - 1]`. */
export const GATEWAY_STATUSES = ["pending", "active", "exiting", "exited"] as const;
export type GatewayStatusName = (typeof GATEWAY_STATUSES)[number];
/** Acceptor statuses from Pending on. */
export const ACCEPTOR_STATUSES = ["pending", "active", "suspended"] as const;
export type AcceptorStatusName = (typeof ACCEPTOR_STATUSES)[number];
