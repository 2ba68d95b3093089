/**
 * What the audit finds and reports: the inconsistencies and alerts every stage adds to, and the report's shape (the
 * document `--json` prints; its addresses checksummed, its amounts base units as decimal strings).
 */
import type { StatusName } from "./names";

/** Which check found an inconsistency (docs/design.md §5, plus storage and registry comparisons). */
export type CheckName = "I1" | "I2" | "I3" | "I4" | "I5" | "storage" | "registry";

export type Inconsistency = { check: CheckName; dealId?: string; block?: number; message: string };

/**
 * Something an operator must act on that is not an inconsistency of the escrow's own state: a token that
 * blacklists the escrow (an error: the audit fails), a paused token, a dispute only its parties can end, a
 * registry counter that drifted (warnings).
 */
export type Alert = {
  level: "error" | "warning";
  check: "token" | "disputes" | "registry";
  message: string;
  token?: string;
  dealId?: string;
  gateway?: string;
};

/** Who may end a disputed deal now. */
export type DisputeRuler = "gateway" | "arbiter" | "parties only";

export type TokenReport = {
  token: string;
  symbol: string;
  decimals: number | null;
  balance: string;
  /** Amounts of non-final deals funded from a wallet (Payment, OffRamp). */
  openDeals: string;
  freeFloat: string;
  lockedFloat: string;
  owed: string;
  liabilities: string;
  /** balance − liabilities; negative is a deficit (an I1 inconsistency). */
  surplus: string;
  /**
   * `isBlackListed(escrow)` at the audited block: true means every payout in the token is deferred to owed and
   * whatever is deposited freezes (an error); null when the token has no blacklist.
   */
  escrowBlacklisted: boolean | null;
  /** `paused()` at the audited block (a warning: payouts are deferred while it lasts); null when it has no pause. */
  paused: boolean | null;
};

/**
 * A deal that is not final yet: its status and kind by the contract's names, its parties and token checksummed
 * (the JSON lists them in buildReport's order: id, status, kind, parties, token, amount, deadline, payerReleased).
 */
export type OpenDealReport = {
  dealId: string;
  status: StatusName;
  /** Released by the payer while Open (the deal releases when the payee performs). */
  payerReleased: boolean;
  kind: string;
  amount: string;
  /** Unix seconds. */
  deadline: number;
  payer: string;
  payee: string;
  gateway: string;
  token: string;
};

export type DisputeReport = {
  dealId: string;
  gateway: string;
  /** Whether the gateway holds the dispute (DealDisputed.gatewayHolds). */
  gatewayHolds: boolean;
  /** When the dispute was recorded (unix seconds). */
  since: number;
  /** Last second the gateway may rule a dispute it holds; after it the arbiter may. */
  gatewayDeadline: number;
  /** The gateway's window has passed (or it never held the dispute): not the gateway's to rule any more. */
  overdue: boolean;
  /** Who may end the dispute at the audited block besides its parties. */
  ruler: DisputeRuler;
};

/** Who took a step of a dispute trail, by the deal's parameters and the arbiters the registry's events name. */
export type TrailRole = "payer" | "payee" | "gateway" | "arbiter" | "other";

/**
 * A deal's dispute and evidence trail: every dispute, piece of evidence and ruling on it in chain order, with who
 * took it (checksummed) and, for evidence, the content hash and URI anchored; for a ruling, the shares and the hash
 * of its written reasons.
 */
export type TrailReport = {
  dealId: string;
  status: StatusName;
  gateway: string;
  token: string;
  steps: ({ block: number; time: number | null; by: string; role: TrailRole } & (
    | { kind: "disputed" }
    | { kind: "evidence"; contentHash: string; uri: string }
    | { kind: "resolved"; payeeAmount: string; fee: string; refund: string; reasons: string }
  ))[];
};

export type FloatReport = {
  acceptor: string;
  token: string;
  free: string;
  locked: string;
  deposits: string;
  withdrawals: string;
  released: string;
  refunded: string;
};

export type AuditReport = {
  /** No inconsistency and no error-level alert. */
  ok: boolean;
  chainId: number;
  escrow: string;
  registry: string;
  fromBlock: number;
  toBlock: number;
  /** Timestamp of `toBlock`, the block storage and balances were read at. */
  timestamp: number;
  /** Logs of the escrow and the registry replayed. */
  events: number;
  deals: { total: number; byStatus: Record<Exclude<StatusName, "None">, number> };
  tokens: TokenReport[];
  floats: FloatReport[];
  owed: { token: string; account: string; amount: string }[];
  openDeals: OpenDealReport[];
  disputes: DisputeReport[];
  /** Deals with a dispute or evidence, in the order they were opened, each with its trail. */
  trails: TrailReport[];
  /** Errors and warnings an operator must act on (see {@link Alert}). */
  alerts: Alert[];
  inconsistencies: Inconsistency[];
};
