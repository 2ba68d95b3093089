/**
 * The ledger's books: the deals, floats, owed balances and registry state rebuilt from events so far, what the
 * replay found, and the bookkeeping every rule shares (a deal's legal step, a settlement, a float, an owed balance).
 * The rules themselves are in deals.ts and index.ts.
 */
import { getAddress } from "ethers";
import {
  Status,
  isFinal,
  type DealParams,
  type ProtocolEvent,
  type ProtocolEventType,
  type RefundReasonName,
} from "../../../../protocol";
import { checksummed, same, statusName, type GatewayStage } from "../names";
import type { CheckName, Inconsistency } from "../types";

/**
 * An event as the replay takes it: decoded by the protocol model (addresses lower-case), with `time`, its block's
 * timestamp (unix seconds), when known. The rules that depend on time (release, resolution and lock windows) are
 * checked only for events that carry it.
 */
export type AuditEvent = ProtocolEvent & { time?: number };
/** The event of one type. */
export type EventOf<T extends ProtocolEventType> = Extract<AuditEvent, { type: T }>;

/** A gateway's standing as rebuilt from the registry's events. */
export type GatewayState = { status: GatewayStage; suspended: boolean };

/**
 * One step of a deal's dispute trail, in chain order: the dispute, each piece of evidence (its content hash and
 * URI, as anchored), the ruling (with the hash of its written reasons). Addresses lower-case.
 */
export type TrailStep = { block: number; time?: number; by: string } & (
  | { kind: "disputed" }
  | { kind: "evidence"; contentHash: string; uri: string }
  | { kind: "resolved"; payeeAmount: bigint; fee: bigint; refund: bigint; reasons: string }
);

/** A deal as rebuilt from events. */
export type DealState = {
  dealId: string;
  params: DealParams;
  status: number;
  payerReleased: boolean;
  /** While (or once) disputed: whether the deal's gateway held the dispute (DealDisputed.gatewayHolds). */
  held: boolean;
  /** The lock delegate that authorised an on-ramp lock (DealLockedByDelegate). */
  lockedBy?: string;
  openedBlock: number;
  openedTime?: number;
  /** When the payee performed (the release window runs from it). */
  performedTime?: number;
  /** When the deal was disputed (the resolution window runs from it). */
  disputedTime?: number;
  /** The deal just left a held dispute (a DisputeCountSkipped of its closing may follow in the same transaction). */
  endedHeldDispute: boolean;
  /** Block of the last event that changed the status (what storage's `since` records). */
  sinceBlock: number;
  /** Settlement split once final. */
  payeeAmount: bigint;
  fee: bigint;
  refund: bigint;
  refundReason?: RefundReasonName;
  resolvedBy?: string;
  /** Legs whose push failed and were credited as owed. */
  deferredPayee: boolean;
  deferredPayer: boolean;
  /** Its dispute, evidence and ruling, as they happened (empty for a deal never disputed nor given evidence). */
  trail: TrailStep[];
};

/** An acceptor's float in one token as rebuilt from events (addresses checksummed), with the I5 counters. */
export type FloatState = {
  acceptor: string;
  token: string;
  free: bigint;
  locked: bigint;
  deposits: bigint;
  withdrawals: bigint;
  /** Amounts that left `locked` on settlement: the whole amount of every settled on-ramp deal. */
  released: bigint;
  /** Refund parts of settled on-ramp deals that went back to `free`. */
  refunded: bigint;
};

/** An amount the escrow owes an account in one token, as rebuilt from events (addresses checksummed). */
export type OwedState = { token: string; account: string; amount: bigint; credited: bigint; claimed: bigint };

/**
 * A ruling (or evidence) by someone (checksummed) who held no ARBITER_ROLE by the events seen, checked on chain
 * afterwards.
 */
export type UnverifiedResolver = { dealId: string; by: string; block: number };

export type LedgerOptions = {
  /** The escrow's resolution window in seconds; the rules that need it are skipped without it. */
  resolutionWindow?: number;
};

export const floatKey = (acceptor: string, token: string): string => `${acceptor.toLowerCase()}|${token.toLowerCase()}`;
const owedKey = (token: string, account: string): string => `${token.toLowerCase()}|${account.toLowerCase()}`;

/** The state the replay rebuilds, and the bookkeeping its rules share. */
export class Books {
  readonly deals = new Map<string, DealState>();
  readonly floats = new Map<string, FloatState>();
  readonly owed = new Map<string, OwedState>();
  /** Last `openDisputes` the registry emitted per gateway (lowercase address). */
  readonly registryDisputes = new Map<string, number>();
  /** Gateways' standing by the registry's events (lowercase address). */
  readonly gateways = new Map<string, GatewayState>();
  /** Acceptors' lock delegates by the registry's events (lowercase addresses). */
  readonly lockDelegates = new Map<string, string>();
  /** Current ARBITER_ROLE holders by the registry's events (lowercase). */
  readonly arbiters = new Set<string>();
  /** Held disputes that ended without the registry uncounting them (DisputeCountSkipped closed), per gateway. */
  readonly counterDrift = new Map<string, number>();
  /** Tokens seen in deals, floats, owed balances and the registry's allowlist (checksummed). */
  readonly tokens = new Set<string>();
  readonly inconsistencies: Inconsistency[] = [];
  readonly unverifiedResolvers: UnverifiedResolver[] = [];
  /** Evidence posted by someone who is neither party nor gateway nor, by the events seen, an arbiter. */
  readonly unverifiedPosters: UnverifiedResolver[] = [];
  /** Events applied. */
  events = 0;
  /** Deals whose dispute the registry refused to count in the transaction being replayed (lowercase ids). */
  readonly skippedOpen = new Set<string>();

  constructor(readonly options: LedgerOptions = {}) {}

  /*------------------------------ queries ------------------------------*/

  /**
   * Whether `gateway` may rule the disputes it holds, by the registry's events so far: Active or Exiting, not
   * suspended.
   */
  canRule(gateway: string): boolean {
    const g = this.gateways.get(gateway.toLowerCase());
    return g !== undefined && !g.suspended && (g.status === "Active" || g.status === "Exiting");
  }

  /** Sum of the amounts of non-final deals that are not funded from a float (they sit in the escrow as is). */
  openDealsTotal(token: string): bigint {
    let total = 0n;
    for (const d of this.deals.values()) {
      if (!isFinal(d.status) && d.params.kind !== "onramp" && same(d.params.token, token)) total += d.params.amount;
    }
    return total;
  }

  /** Number of this ledger's deals in Disputed whose gateway holds the dispute, per gateway (lowercase). */
  heldDisputesByGateway(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const d of this.deals.values()) {
      if (d.status === Status.Disputed && d.held) {
        const gw = d.params.gateway.toLowerCase();
        counts.set(gw, (counts.get(gw) ?? 0) + 1);
      }
    }
    return counts;
  }

  /*------------------------------ bookkeeping ------------------------------*/

  /** The deal an event names, if it exists and its status is one of `allowed`; otherwise flags I3. */
  dealFor(
    e: { type: string; dealId: string; block: number },
    allowed: readonly number[],
    label: string = e.type,
  ): DealState | undefined {
    const d = this.deals.get(e.dealId.toLowerCase());
    if (!d) {
      this.flag("I3", e, `state machine: ${label} for unknown deal ${e.dealId}`, e.dealId);
      return undefined;
    }
    if (!allowed.includes(d.status)) {
      this.flag(
        "I3",
        e,
        `state machine: deal ${e.dealId} ${label} is not a legal step from ${statusName(d.status)}${isFinal(d.status) ? " (final)" : ""}`,
        e.dealId,
      );
      return undefined;
    }
    return d;
  }

  move(d: DealState, status: number, block: number): void {
    d.status = status;
    d.sinceBlock = block;
    d.payerReleased = false; // every status write clears the flags (Escrow._store)
  }

  /** A deal's final settlement: fee owed to the gateway, the on-ramp float unlocked and the refund returned. */
  settle(d: DealState, e: { block: number }, payee: bigint, fee: bigint, refund: bigint, status: number): void {
    d.payeeAmount = payee;
    d.fee = fee;
    d.refund = refund;
    // A held dispute that ends here is uncounted by the registry (or a DisputeCountSkipped follows).
    d.endedHeldDispute = d.status === Status.Disputed && d.held;
    this.move(d, status, e.block);
    const { token, gateway, payer, kind, amount } = d.params;
    if (fee !== 0n) this.credit(token, gateway, fee);
    if (kind === "onramp") {
      const f = this.floatOf(payer, token);
      if (amount > f.locked) {
        this.flag(
          "I5",
          e,
          `float: deal ${d.dealId} unlocked ${amount} of ${f.token} from ${f.acceptor} with only ${f.locked} locked`,
          d.dealId,
        );
      }
      f.locked -= amount;
      f.released += amount;
      f.free += refund;
      f.refunded += refund;
    }
  }

  /** Adds `amount` to what the escrow owes `account` in `token`. */
  credit(token: string, account: string, amount: bigint): void {
    const o = this.owedOf(token, account);
    o.amount += amount;
    o.credited += amount;
  }

  floatOf(acceptor: string, token: string): FloatState {
    const key = floatKey(acceptor, token);
    let f = this.floats.get(key);
    if (!f) {
      f = {
        acceptor: getAddress(acceptor),
        token: getAddress(token),
        free: 0n,
        locked: 0n,
        deposits: 0n,
        withdrawals: 0n,
        released: 0n,
        refunded: 0n,
      };
      this.floats.set(key, f);
      this.tokens.add(f.token);
    }
    return f;
  }

  owedOf(token: string, account: string): OwedState {
    const key = owedKey(token, account);
    let o = this.owed.get(key);
    if (!o) {
      o = { token: getAddress(token), account: getAddress(account), amount: 0n, credited: 0n, claimed: 0n };
      this.owed.set(key, o);
      this.tokens.add(o.token);
    }
    return o;
  }

  /** Sets a gateway's life-cycle stage (a gateway the registry never announced starts from None). */
  stage(gateway: string, status: GatewayStage): void {
    const key = gateway.toLowerCase();
    const g = this.gateways.get(key) ?? { status: "None", suspended: false };
    g.status = status;
    this.gateways.set(key, g);
  }

  /** Records an inconsistency found at an event. */
  flag(check: CheckName, at: { block: number }, message: string, dealId?: string): void {
    this.inconsistencies.push({ check, ...(dealId ? { dealId } : {}), block: at.block, message });
  }

  /** A ruling or a piece of evidence to check against ARBITER_ROLE on chain. */
  unverified(list: UnverifiedResolver[], dealId: string, by: string, block: number): void {
    list.push({ dealId, by: checksummed(by), block });
  }
}
