/**
 * The escrow's state machine as data: which statuses each call starts from, who may make it, and where it leads
 * (docs/design.md §4). Time conditions (deadline, release window, resolution window, lock expiry) are named, not
 * evaluated: the contract is the judge; this table lets off-chain code refuse early and explain why.
 */
import { Status } from "./enums";

export type Caller = "payer" | "payee" | "payer and payee" | "ruler" | "anyone" | "party, gateway or arbiter";

export type Transition = {
  /** Statuses the call may start from. */
  from: readonly number[];
  /** Who must call or sign. */
  by: Caller;
  /** The status after (`undefined`: unchanged). */
  to: number | undefined;
  /** Conditions beside the status, in words. */
  when: string;
};

const LIVE = [Status.Open, Status.Performed, Status.Disputed] as const;

/** Every deal call, by the name of the contract function (the signed variants map to the same row). */
export const TRANSITIONS = {
  perform: {
    from: [Status.Open],
    by: "payee",
    to: Status.Performed,
    when: "before the deadline; releases at once when the payer has already released",
  },
  release: {
    from: [Status.Open, Status.Performed, Status.Disputed],
    by: "payer",
    to: Status.Released,
    when: "from Open it only records the payer's release (once); the deal releases when the payee performs",
  },
  cancel: { from: LIVE, by: "payee", to: Status.Refunded, when: "any time while live" },
  dispute: {
    from: [Status.Performed],
    by: "payer and payee",
    to: Status.Disputed,
    when: "the payer within the release window (any time unless autoRelease); the payee only after the window",
  },
  claim: {
    from: [Status.Performed],
    by: "payee",
    to: Status.Released,
    when: "autoRelease deals, after the release window",
  },
  refund: {
    from: LIVE,
    by: "anyone",
    to: Status.Refunded,
    when: "Open after the deadline; a delegate's lock after its lock expiry (Disputed: after its resolution window too)",
  },
  resolve: {
    from: [Status.Disputed],
    by: "ruler",
    to: Status.Resolved,
    when: "the gateway holding the dispute within the resolution window; an arbiter otherwise or after it",
  },
  settleWithSigs: {
    from: LIVE,
    by: "payer and payee",
    to: Status.Released,
    when: "the payee signs Perform and the payer Release; from Open only before the deadline",
  },
  cancelWithSigs: { from: LIVE, by: "payer and payee", to: Status.Refunded, when: "both sign Cancel" },
  splitWithSigs: { from: LIVE, by: "payer and payee", to: Status.Split, when: "both sign the same Split" },
  postEvidence: { from: LIVE, by: "party, gateway or arbiter", to: undefined, when: "an event only" },
} as const satisfies Record<string, Transition>;
export type DealCall = keyof typeof TRANSITIONS;

/** Whether `call` may start from `status` (the status check only). */
export const startsFrom = (call: DealCall, status: number): boolean =>
  (TRANSITIONS[call].from as readonly number[]).includes(status);

/** Statuses no call leaves. */
export const FINAL_STATUSES: ReadonlySet<number> = new Set([
  Status.Released,
  Status.Refunded,
  Status.Resolved,
  Status.Split,
]);
export const isFinal = (status: number): boolean => FINAL_STATUSES.has(status);
