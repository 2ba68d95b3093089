/**
 * The auditor's solvency check: rebuilds every deal, acceptor float and owed balance of an escrow from its events
 * alone, checks the invariants of DESIGN.md §5 while replaying them, then compares the result with the contracts'
 * storage and the token balances at one block.
 *
 * Plain ethers v6 and the typechain factories only (no Hardhat), so it runs from Node with ts-node against any
 * RPC endpoint. The replay ({@link AuditLedger}) is pure and unit-tested on hand-made event sequences;
 * {@link runAudit} does the IO around it. Both are written from the contracts' NatSpec, independently of the
 * relayer's code (they check the same chain from another angle).
 */
import { Contract, TypedDataEncoder, AbiCoder, dataSlice, getAddress, id, isError, keccak256 } from "ethers";
import type { Log, LogDescription, Provider, Result } from "ethers";
import { Escrow__factory } from "../../typechain-types/factories/contracts/Escrow__factory";
import { GatewayRegistry__factory } from "../../typechain-types/factories/contracts/GatewayRegistry__factory";
import type { Deployment } from "./deploy";

/*//////////////////////////////////////////////////////////////
                          TUNABLES AND NAMES
//////////////////////////////////////////////////////////////*/

/** First `eth_getLogs` range, in blocks. */
export const INITIAL_LOG_RANGE = 2_000;
/** Largest `eth_getLogs` range the scan grows to. */
export const MAX_LOG_RANGE = 10_000;
/** Attempts at the smallest range (one block) before the scan gives up. */
export const LOG_ATTEMPTS_AT_ONE_BLOCK = 5;
/** First backoff after a provider error, in milliseconds; doubles with each consecutive error. */
export const BACKOFF_BASE_MS = 250;
/** Longest backoff. */
export const BACKOFF_MAX_MS = 8_000;
/** Scans of the blocks mined while the previous scan ran, before storage is read at the last one. */
export const CATCH_UP_ROUNDS = 3;
/** Read calls (getters, balances, blocks) in flight at once. */
export const READ_CONCURRENCY = 16;
/** Attempts for one read call before the audit fails. */
export const READ_ATTEMPTS = 4;

const BPS = 10_000n;
const DAY = 24 * 3600;

/** Deal statuses as the contract numbers them. */
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
export type StatusName = (typeof STATUS_NAMES)[number];
export const Status = {
  None: 0,
  Open: 1,
  Performed: 2,
  Released: 3,
  Refunded: 4,
  Disputed: 5,
  Resolved: 6,
  Split: 7,
} as const;
/** Deal kinds as the contract numbers them. */
export const KIND_NAMES = ["Payment", "OnRamp", "OffRamp"] as const;
export const Kind = { Payment: 0, OnRamp: 1, OffRamp: 2 } as const;
/** Refund reasons as the contract numbers them. */
export const REFUND_REASONS = ["Deadline", "PayeeCancel", "MutualCancel", "LockExpired"] as const;
export const RefundReason = { Deadline: 0, PayeeCancel: 1, MutualCancel: 2, LockExpired: 3 } as const;
/** A gateway's life cycle as the registry numbers it; governance's suspension is a separate flag. */
export const GATEWAY_STATUS_NAMES = ["None", "Pending", "Active", "Exiting", "Exited"] as const;
export type GatewayStatusName = (typeof GATEWAY_STATUS_NAMES)[number];

const FINAL_STATUSES: ReadonlySet<number> = new Set([Status.Released, Status.Refunded, Status.Resolved, Status.Split]);
/** Whether `status` is final (Released, Refunded, Resolved or Split). */
export const isFinal = (status: number): boolean => FINAL_STATUSES.has(status);

/** keccak256("ARBITER_ROLE"), the registry role that rules disputes the gateway may not. */
export const ARBITER_ROLE = keccak256(Buffer.from("ARBITER_ROLE"));

/**
 * First 12 bytes of the salt of every lock by an acceptor's delegate and of no other deal (IEscrow's
 * `DELEGATE_SALT_PREFIX`: bytes12 of keccak256("USDT Escrow: lock by delegate")), lower-case.
 */
export const DELEGATE_SALT_PREFIX = dataSlice(id("USDT Escrow: lock by delegate"), 0, 12).toLowerCase();
/** Latest deadline of a delegate's lock, counted from the lock. */
export const MAX_DELEGATE_LOCK_DURATION = 7 * DAY;
/** Longest release window of a delegate's lock. */
export const MAX_DELEGATE_RELEASE_WINDOW = 2 * DAY;

/** Whether a salt carries the delegate prefix. */
export const isDelegateSalt = (salt: string): boolean => salt.toLowerCase().startsWith(DELEGATE_SALT_PREFIX);

/** EIP-712 type of the Deal struct (the commitment is the first 25 bytes of its struct hash). */
export const DEAL_TYPES = {
  Deal: [
    { name: "payer", type: "address" },
    { name: "payee", type: "address" },
    { name: "gateway", type: "address" },
    { name: "token", type: "address" },
    { name: "amount", type: "uint96" },
    { name: "deadline", type: "uint40" },
    { name: "releaseWindow", type: "uint32" },
    { name: "feeBps", type: "uint16" },
    { name: "kind", type: "uint8" },
    { name: "autoRelease", type: "bool" },
    { name: "salt", type: "bytes32" },
  ],
};

const ERC20_ABI = [
  "function balanceOf(address account) view returns (uint256)",
  "function symbol() view returns (string)",
  "function decimals() view returns (uint8)",
];

/** `isBlackListed(address)` (USDT's blacklist) and `paused()`. */
const IS_BLACKLISTED_SELECTOR = id("isBlackListed(address)").slice(0, 10);
const PAUSED_SELECTOR = id("paused()").slice(0, 10);

/*//////////////////////////////////////////////////////////////
                                TYPES
//////////////////////////////////////////////////////////////*/

/** A deal's parameters as emitted in DealOpened (addresses checksummed). */
export type DealParams = {
  payer: string;
  payee: string;
  gateway: string;
  token: string;
  amount: bigint;
  deadline: bigint;
  releaseWindow: bigint;
  feeBps: bigint;
  kind: number;
  autoRelease: boolean;
  salt: string;
};

/**
 * Where an event was emitted, and when: `time` is its block's timestamp (unix seconds), when known. The rules that
 * depend on time (release, resolution and lock windows) are checked only for events that carry it.
 */
export type EventPosition = { block: number; logIndex: number; txHash?: string; time?: number };

/** The events the replay understands, decoded and normalized (registry role events narrowed to ARBITER_ROLE). */
export type AuditEvent = EventPosition &
  (
    | { name: "DealOpened"; dealId: string; deal: DealParams; ref: string }
    | { name: "DealLockedByDelegate"; dealId: string; delegate: string }
    | { name: "DealPerformed"; dealId: string }
    | { name: "DealReleaseApproved"; dealId: string }
    | { name: "DealReleased"; dealId: string }
    | { name: "DealRefunded"; dealId: string; reason: number }
    | { name: "DealDisputed"; dealId: string; by: string; gatewayHolds: boolean }
    | {
        name: "DealResolved";
        dealId: string;
        by: string;
        payeeAmount: bigint;
        fee: bigint;
        refund: bigint;
        reasons: string;
      }
    | { name: "DealSplit"; dealId: string; payeeAmount: bigint; fee: bigint; refund: bigint }
    | { name: "EvidencePosted"; dealId: string; by: string }
    | { name: "DisputeCountSkipped"; dealId: string; gateway: string; opened: boolean }
    | { name: "PayoutDeferred"; dealId: string; token: string; account: string; amount: bigint }
    | { name: "OwedClaimed"; token: string; account: string; amount: bigint }
    | { name: "FloatDeposited"; acceptor: string; token: string; amount: bigint }
    | { name: "FloatWithdrawn"; acceptor: string; token: string; amount: bigint }
    | { name: "GatewayDisputesChanged"; gateway: string; openDisputes: number }
    | { name: "GatewayRegistered"; gateway: string }
    | { name: "GatewayApproved"; gateway: string }
    | { name: "GatewayExitRequested"; gateway: string }
    | { name: "GatewayExited"; gateway: string }
    | { name: "GatewaySuspended"; gateway: string }
    | { name: "GatewayReinstated"; gateway: string }
    | { name: "AcceptorRegistered"; acceptor: string; lockDelegate: string }
    | { name: "AcceptorLockDelegateSet"; acceptor: string; lockDelegate: string }
    | { name: "ArbiterGranted"; account: string }
    | { name: "ArbiterRevoked"; account: string }
    | { name: "TokenAllowed"; token: string; allowed: boolean }
  );

/** Which check found an inconsistency (DESIGN.md §5, plus storage and registry comparisons). */
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

/** A gateway's standing as rebuilt from the registry's events. */
export type GatewayState = { status: GatewayStatusName; suspended: boolean };

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
  refundReason?: number;
  resolvedBy?: string;
  /** Legs whose push failed and were credited as owed. */
  deferredPayee: boolean;
  deferredPayer: boolean;
};

/** An acceptor's float in one token as rebuilt from events, with the counters I5 is checked against. */
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

/** An amount the escrow owes an account in one token, as rebuilt from events. */
export type OwedState = { token: string; account: string; amount: bigint; credited: bigint; claimed: bigint };

/** A ruling (or evidence) by someone who held no ARBITER_ROLE by the events seen, checked on chain afterwards. */
export type UnverifiedResolver = { dealId: string; by: string; block: number };

/** Who may end a disputed deal now. */
export type DisputeRuler = "gateway" | "arbiter" | "parties only";

export type LedgerOptions = {
  /** The escrow's resolution window in seconds; the rules that need it are skipped without it. */
  resolutionWindow?: number;
};

/*//////////////////////////////////////////////////////////////
                        PURE HELPERS
//////////////////////////////////////////////////////////////*/

/** The fee the contract charges on `amount` at `feeBps` (rounded down). */
export const feeOf = (amount: bigint, feeBps: bigint): bigint => (amount * feeBps) / BPS;

/** The deal id, `keccak256(abi.encode(funder, salt))`. */
export const dealIdOf = (funder: string, salt: string): string =>
  keccak256(AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [funder, salt]));

/** The 25-byte commitment the escrow stores for a deal (first 25 bytes of its EIP-712 struct hash). */
export function commitmentOf(deal: DealParams): string {
  return TypedDataEncoder.hashStruct("Deal", DEAL_TYPES, deal)
    .slice(0, 2 + 50)
    .toLowerCase();
}

const statusName = (status: number): string => STATUS_NAMES[status] ?? `#${status}`;
const floatKey = (acceptor: string, token: string): string => `${acceptor.toLowerCase()}|${token.toLowerCase()}`;
const owedKey = (token: string, account: string): string => `${token.toLowerCase()}|${account.toLowerCase()}`;
const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
const standing = (g: GatewayState | undefined): string =>
  g === undefined ? "unknown to the registry" : `${g.status}${g.suspended ? ", suspended" : ""}`;

/*//////////////////////////////////////////////////////////////
                     THE REPLAY (PURE, NO IO)
//////////////////////////////////////////////////////////////*/

/**
 * Rebuilds deals, floats, owed balances, the registry's gateways, lock delegates, arbiters and dispute counters from
 * events applied in (block, logIndex) order, recording every event that is not a legal step (I2–I5) as an
 * inconsistency.
 */
export class AuditLedger {
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
  events = 0;
  /** Deals whose dispute the registry refused to count in the transaction being replayed. */
  private readonly skippedOpen = new Set<string>();

  constructor(readonly options: LedgerOptions = {}) {}

  /** Applies events in order. */
  applyAll(events: readonly AuditEvent[]): this {
    for (const e of events) this.apply(e);
    return this;
  }

  /** Applies one event. */
  apply(e: AuditEvent): void {
    this.events += 1;
    switch (e.name) {
      case "DealOpened":
        return this.opened(e);
      case "DealLockedByDelegate":
        return this.lockedByDelegate(e);
      case "DealPerformed": {
        const d = this.dealFor(e, [Status.Open]);
        if (!d) return;
        this.move(d, Status.Performed, e.block);
        d.performedTime = e.time;
        return;
      }
      case "DealReleaseApproved": {
        const d = this.dealFor(e, [Status.Open]);
        if (!d) return;
        if (d.payerReleased) this.flag("I3", e, `deal ${d.dealId}: DealReleaseApproved twice`, d.dealId);
        d.payerReleased = true;
        return;
      }
      case "DealReleased": {
        // Open → Released: both signatures before "performed"; Performed → Released: release or claim;
        // Disputed → Released: the payer gives in (or both sign). The event carries no amounts: they follow from
        // the deal (the amount less the fee to the payee, the fee to the gateway).
        const d = this.dealFor(e, [Status.Open, Status.Performed, Status.Disputed]);
        if (!d) return;
        const fee = feeOf(d.params.amount, d.params.feeBps);
        this.settle(d, e, d.params.amount - fee, fee, 0n, Status.Released);
        return;
      }
      case "DealRefunded":
        return this.refunded(e);
      case "DealDisputed":
        return this.disputed(e);
      case "DealResolved":
        return this.resolved(e);
      case "DealSplit":
        return this.split(e);
      case "EvidencePosted":
        return this.evidence(e);
      case "DisputeCountSkipped":
        return this.skipped(e);
      case "PayoutDeferred":
        return this.deferred(e);
      case "OwedClaimed": {
        const o = this.owedOf(e.token, e.account);
        if (e.amount > o.amount) {
          this.flag(
            "I2",
            e,
            `owed: ${e.account} claimed ${e.amount} of ${e.token} but only ${o.amount} was owed (owed would go negative)`,
          );
        }
        o.amount -= e.amount;
        o.claimed += e.amount;
        return;
      }
      case "FloatDeposited": {
        const f = this.floatOf(e.acceptor, e.token);
        f.free += e.amount;
        f.deposits += e.amount;
        return;
      }
      case "FloatWithdrawn": {
        const f = this.floatOf(e.acceptor, e.token);
        if (e.amount > f.free) {
          this.flag("I5", e, `float: ${e.acceptor} withdrew ${e.amount} of ${e.token} with only ${f.free} free`);
        }
        f.free -= e.amount;
        f.withdrawals += e.amount;
        return;
      }
      case "GatewayDisputesChanged":
        this.registryDisputes.set(e.gateway.toLowerCase(), e.openDisputes);
        return;
      case "GatewayRegistered":
        this.gateways.set(e.gateway.toLowerCase(), { status: "Pending", suspended: false });
        return;
      case "GatewayApproved":
        return this.gatewayStatus(e.gateway, "Active");
      case "GatewayExitRequested":
        return this.gatewayStatus(e.gateway, "Exiting");
      case "GatewayExited":
        return this.gatewayStatus(e.gateway, "Exited");
      case "GatewaySuspended":
      case "GatewayReinstated": {
        const g = this.gateways.get(e.gateway.toLowerCase());
        if (g) g.suspended = e.name === "GatewaySuspended";
        return;
      }
      case "AcceptorRegistered":
      case "AcceptorLockDelegateSet":
        this.lockDelegates.set(e.acceptor.toLowerCase(), e.lockDelegate.toLowerCase());
        return;
      case "ArbiterGranted":
        this.arbiters.add(e.account.toLowerCase());
        return;
      case "ArbiterRevoked":
        this.arbiters.delete(e.account.toLowerCase());
        return;
      case "TokenAllowed":
        if (e.allowed) this.tokens.add(getAddress(e.token));
        return;
    }
  }

  /** Whether `gateway` may rule the disputes it holds, by the registry's events so far: Active or Exiting, not
   * suspended. */
  canRule(gateway: string): boolean {
    const g = this.gateways.get(gateway.toLowerCase());
    return g !== undefined && !g.suspended && (g.status === "Active" || g.status === "Exiting");
  }

  /** Sum of the amounts of non-final deals that are not funded from a float (they sit in the escrow as is). */
  openDealsTotal(token: string): bigint {
    let total = 0n;
    for (const d of this.deals.values()) {
      if (!isFinal(d.status) && d.params.kind !== Kind.OnRamp && same(d.params.token, token)) total += d.params.amount;
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

  /**
   * Who may end a disputed deal at `now` (unix seconds): its gateway while it holds the dispute, may rule and the
   * window is open; otherwise an arbiter if anyone holds ARBITER_ROLE; otherwise only its parties (release,
   * cancel, split or settle by signatures).
   */
  rulerOf(d: DealState, now: number): DisputeRuler {
    const window = this.options.resolutionWindow;
    const inWindow = window === undefined || d.disputedTime === undefined || now <= d.disputedTime + window;
    if (d.held && this.canRule(d.params.gateway) && inWindow) return "gateway";
    return this.arbiters.size > 0 ? "arbiter" : "parties only";
  }

  /**
   * End-of-replay checks that need no IO: I5 for every float (free + locked equals the counters; locked equals the
   * amounts of its open on-ramp deals; nothing negative), owed never negative, and every salt with the delegate
   * prefix used by a delegate's lock.
   */
  finish(): this {
    const lockedByFloat = new Map<string, bigint>();
    for (const d of this.deals.values()) {
      if (d.params.kind === Kind.OnRamp && !isFinal(d.status)) {
        const key = floatKey(d.params.payer, d.params.token);
        lockedByFloat.set(key, (lockedByFloat.get(key) ?? 0n) + d.params.amount);
      }
      if (isDelegateSalt(d.params.salt) && d.params.kind === Kind.OnRamp && d.lockedBy === undefined) {
        this.inconsistencies.push({
          check: "I4",
          dealId: d.dealId,
          block: d.openedBlock,
          message: `authority: deal ${d.dealId} was locked with a salt reserved for delegate locks, but not by a delegate (no DealLockedByDelegate)`,
        });
      }
    }
    for (const [key, f] of this.floats) {
      const expected = f.deposits - f.withdrawals - f.released + f.refunded;
      if (f.free + f.locked !== expected) {
        this.inconsistencies.push({
          check: "I5",
          message: `float: ${f.acceptor} in ${f.token} free ${f.free} + locked ${f.locked} != deposits ${f.deposits} - withdrawals ${f.withdrawals} - released ${f.released} + refunded ${f.refunded} (${expected})`,
        });
      }
      const openLocked = lockedByFloat.get(key) ?? 0n;
      if (f.locked !== openLocked) {
        this.inconsistencies.push({
          check: "I5",
          message: `float: ${f.acceptor} in ${f.token} locked ${f.locked} != amounts of its open on-ramp deals ${openLocked}`,
        });
      }
      if (f.free < 0n || f.locked < 0n) {
        this.inconsistencies.push({
          check: "I5",
          message: `float: ${f.acceptor} in ${f.token} is negative (free ${f.free}, locked ${f.locked})`,
        });
      }
    }
    for (const o of this.owed.values()) {
      if (o.amount < 0n) {
        this.inconsistencies.push({
          check: "I2",
          message: `owed: ${o.account} is owed ${o.amount} of ${o.token}, a negative balance`,
        });
      }
    }
    return this;
  }

  /*------------------------------ internals ------------------------------*/

  private opened(e: Extract<AuditEvent, { name: "DealOpened" }>): void {
    const existing = this.deals.get(e.dealId.toLowerCase());
    if (existing) {
      this.flag("I3", e, `state machine: deal ${e.dealId} opened again while ${statusName(existing.status)}`, e.dealId);
      return;
    }
    const p = e.deal;
    if (!same(dealIdOf(p.payer, p.salt), e.dealId)) {
      this.flag("I4", e, `authority: deal ${e.dealId} is not keccak256(payer, salt) of its parameters`, e.dealId);
    }
    if (isDelegateSalt(p.salt) && p.kind !== Kind.OnRamp) {
      this.flag(
        "I4",
        e,
        `authority: deal ${e.dealId} (${KIND_NAMES[p.kind] ?? p.kind}) was opened with a salt reserved for delegate locks`,
        e.dealId,
      );
    }
    const d: DealState = {
      dealId: e.dealId,
      params: p,
      status: Status.Open,
      payerReleased: false,
      held: false,
      openedBlock: e.block,
      openedTime: e.time,
      endedHeldDispute: false,
      sinceBlock: e.block,
      payeeAmount: 0n,
      fee: 0n,
      refund: 0n,
      deferredPayee: false,
      deferredPayer: false,
    };
    this.deals.set(e.dealId.toLowerCase(), d);
    this.tokens.add(getAddress(p.token));
    if (p.kind === Kind.OnRamp) {
      const f = this.floatOf(p.payer, p.token);
      if (p.amount > f.free) {
        this.flag(
          "I5",
          e,
          `float: on-ramp deal ${e.dealId} locked ${p.amount} of ${p.token} from ${p.payer} with only ${f.free} free`,
          e.dealId,
        );
      }
      f.free -= p.amount;
      f.locked += p.amount;
    }
  }

  /** A lock by the acceptor's delegate: its salt, its bounds, and the delegate the acceptor named. */
  private lockedByDelegate(e: Extract<AuditEvent, { name: "DealLockedByDelegate" }>): void {
    const d = this.dealFor(e, [Status.Open]);
    if (!d) return;
    const p = d.params;
    const problems: string[] = [];
    if (p.kind !== Kind.OnRamp) problems.push(`it is a ${KIND_NAMES[p.kind] ?? p.kind} deal, not a lock`);
    if (!isDelegateSalt(p.salt)) problems.push("its salt lacks the delegate prefix");
    if (d.lockedBy !== undefined || e.block !== d.openedBlock) problems.push("it is not the lock's own transaction");
    const named = this.lockDelegates.get(p.payer.toLowerCase());
    if (named !== undefined && !same(named, e.delegate)) {
      problems.push(`the acceptor's lock delegate is ${getAddress(named)}`);
    }
    if (p.releaseWindow > BigInt(MAX_DELEGATE_RELEASE_WINDOW)) {
      problems.push(`its release window ${p.releaseWindow} s is above ${MAX_DELEGATE_RELEASE_WINDOW} s`);
    }
    if (d.openedTime !== undefined && p.deadline > BigInt(d.openedTime + MAX_DELEGATE_LOCK_DURATION)) {
      problems.push(`its deadline ${p.deadline} is more than ${MAX_DELEGATE_LOCK_DURATION} s after the lock`);
    }
    if (problems.length > 0) {
      this.flag(
        "I4",
        e,
        `authority: deal ${d.dealId} locked by delegate ${e.delegate}: ${problems.join("; ")}`,
        d.dealId,
      );
    }
    d.lockedBy = e.delegate;
  }

  private refunded(e: Extract<AuditEvent, { name: "DealRefunded" }>): void {
    const allowed: Record<number, number[]> = {
      [RefundReason.Deadline]: [Status.Open],
      [RefundReason.PayeeCancel]: [Status.Open, Status.Performed, Status.Disputed],
      [RefundReason.MutualCancel]: [Status.Open, Status.Performed, Status.Disputed],
      [RefundReason.LockExpired]: [Status.Performed, Status.Disputed],
    };
    const d = this.dealFor(e, allowed[e.reason] ?? [], `DealRefunded(${REFUND_REASONS[e.reason] ?? e.reason})`);
    if (!d) return;
    const p = d.params;
    if (e.reason === RefundReason.Deadline && e.time !== undefined && BigInt(e.time) <= p.deadline) {
      this.flag(
        "I4",
        e,
        `authority: deal ${d.dealId} refunded for its deadline at ${e.time}, before the deadline ${p.deadline}`,
        d.dealId,
      );
    }
    if (e.reason === RefundReason.LockExpired) {
      const window = this.options.resolutionWindow;
      if (p.kind !== Kind.OnRamp || !isDelegateSalt(p.salt) || d.lockedBy === undefined) {
        this.flag(
          "I4",
          e,
          `authority: deal ${d.dealId} refunded as an expired lock, but no delegate locked it`,
          d.dealId,
        );
      } else if (window !== undefined && e.time !== undefined) {
        // A disputed lock keeps its dispute's whole resolution window past the expiry.
        let expiry = p.deadline + p.releaseWindow + BigInt(window);
        if (d.status === Status.Disputed && d.disputedTime !== undefined) {
          const windowEnd = BigInt(d.disputedTime) + BigInt(window);
          if (windowEnd > expiry) expiry = windowEnd;
        }
        if (BigInt(e.time) <= expiry) {
          this.flag(
            "I4",
            e,
            `authority: deal ${d.dealId} refunded as an expired lock at ${e.time}, before its expiry ${expiry} (deadline + release window + resolution window, or a dispute's window)`,
            d.dealId,
          );
        }
      }
    }
    d.refundReason = e.reason;
    this.settle(d, e, 0n, 0n, p.amount, Status.Refunded);
  }

  private disputed(e: Extract<AuditEvent, { name: "DealDisputed" }>): void {
    const d = this.dealFor(e, [Status.Performed]);
    if (!d) return;
    const p = d.params;
    const byPayer = same(e.by, p.payer);
    if (!byPayer && !same(e.by, p.payee)) {
      this.flag("I4", e, `authority: deal ${d.dealId} disputed by ${e.by}, neither payer nor payee`, d.dealId);
    } else if (e.time !== undefined && d.performedTime !== undefined) {
      const windowEnd = BigInt(d.performedTime) + p.releaseWindow;
      if (!byPayer && BigInt(e.time) <= windowEnd) {
        this.flag(
          "I4",
          e,
          `authority: deal ${d.dealId} disputed by its payee at ${e.time}, within the payer's release window (until ${windowEnd})`,
          d.dealId,
        );
      }
      if (byPayer && p.autoRelease && BigInt(e.time) > windowEnd) {
        this.flag(
          "I4",
          e,
          `authority: deal ${d.dealId} (autoRelease) disputed by its payer at ${e.time}, after its release window (${windowEnd}): the payee's claim decides then`,
          d.dealId,
        );
      }
    }
    // The registry holds the dispute for the gateway exactly when it is Active and not suspended (unless it refused
    // to count it: DisputeCountSkipped in the same transaction).
    const gw = this.gateways.get(p.gateway.toLowerCase());
    const skipped = this.skippedOpen.delete(d.dealId.toLowerCase());
    if (gw !== undefined) {
      const goodStanding = gw.status === "Active" && !gw.suspended;
      if (e.gatewayHolds && !goodStanding) {
        this.flag(
          "registry",
          e,
          `registry: deal ${d.dealId}'s dispute is held by gateway ${p.gateway}, which was ${standing(gw)}`,
          d.dealId,
        );
      } else if (!e.gatewayHolds && goodStanding && !skipped) {
        this.flag(
          "registry",
          e,
          `registry: deal ${d.dealId}'s dispute is not held by gateway ${p.gateway}, which was Active and in good standing, and the registry did not refuse to count it`,
          d.dealId,
        );
      }
    }
    if (skipped && e.gatewayHolds) {
      this.flag(
        "I3",
        e,
        `state machine: deal ${d.dealId}'s dispute is held though the registry skipped its count`,
        d.dealId,
      );
    }
    this.move(d, Status.Disputed, e.block);
    d.held = Boolean(e.gatewayHolds);
    d.disputedTime = e.time;
  }

  private resolved(e: Extract<AuditEvent, { name: "DealResolved" }>): void {
    const d = this.dealFor(e, [Status.Disputed]);
    if (!d) return;
    const { amount, feeBps, gateway } = d.params;
    const window = this.options.resolutionWindow;
    const inWindow =
      window === undefined || e.time === undefined || d.disputedTime === undefined
        ? undefined
        : e.time <= d.disputedTime + window;
    // The gateway rules (and charges its fee) only a dispute it holds, while it may rule; anyone else, or the
    // gateway in any other case, rules as an arbiter: no fee, and never while the gateway's own window is open.
    const gatewayMayRule = d.held && this.canRule(gateway);
    const asGateway = same(e.by, gateway) && gatewayMayRule;
    if (asGateway) {
      if (inWindow === false) {
        this.flag(
          "I4",
          e,
          `authority: deal ${d.dealId} ruled by its gateway at ${e.time}, after its resolution window (until ${d.disputedTime! + window!})`,
          d.dealId,
        );
      }
    } else {
      if (!this.arbiters.has(e.by.toLowerCase())) {
        this.unverifiedResolvers.push({ dealId: d.dealId, by: e.by, block: e.block });
      }
      if (gatewayMayRule && inWindow === true) {
        this.flag(
          "I4",
          e,
          `authority: deal ${d.dealId} ruled by ${e.by} as an arbiter while its gateway held the dispute and its window was open (until ${d.disputedTime! + window!})`,
          d.dealId,
        );
      }
    }
    if (e.payeeAmount + e.fee + e.refund !== amount) {
      this.flag(
        "I2",
        e,
        `conservation: deal ${d.dealId} Resolved payee ${e.payeeAmount} + fee ${e.fee} + refund ${e.refund} != amount ${amount}`,
        d.dealId,
      );
    } else if (!asGateway && e.fee !== 0n) {
      this.flag(
        "I2",
        e,
        `conservation: deal ${d.dealId} ruled by ${e.by} as an arbiter charged fee ${e.fee}`,
        d.dealId,
      );
    } else if (asGateway && e.fee !== feeOf(e.payeeAmount + e.fee, feeBps)) {
      const expected = feeOf(e.payeeAmount + e.fee, feeBps);
      this.flag(
        "I2",
        e,
        `conservation: deal ${d.dealId} Resolved fee ${e.fee} != ${feeBps} bps of ${e.payeeAmount + e.fee} (${expected})`,
        d.dealId,
      );
    }
    d.resolvedBy = e.by;
    this.settle(d, e, e.payeeAmount, e.fee, e.refund, Status.Resolved);
  }

  private split(e: Extract<AuditEvent, { name: "DealSplit" }>): void {
    const d = this.dealFor(e, [Status.Open, Status.Performed, Status.Disputed]);
    if (!d) return;
    const { amount, feeBps } = d.params;
    const gross = e.payeeAmount + e.fee;
    if (gross + e.refund !== amount) {
      this.flag(
        "I2",
        e,
        `conservation: deal ${d.dealId} Split payee ${e.payeeAmount} + fee ${e.fee} + refund ${e.refund} != amount ${amount}`,
        d.dealId,
      );
    } else if (e.fee !== feeOf(gross, feeBps)) {
      this.flag(
        "I2",
        e,
        `conservation: deal ${d.dealId} Split fee ${e.fee} != ${feeBps} bps of ${gross} (${feeOf(gross, feeBps)})`,
        d.dealId,
      );
    }
    this.settle(d, e, e.payeeAmount, e.fee, e.refund, Status.Split);
  }

  private evidence(e: Extract<AuditEvent, { name: "EvidencePosted" }>): void {
    const d = this.deals.get(e.dealId.toLowerCase());
    if (!d) {
      this.flag("I3", e, `state machine: EvidencePosted for unknown deal ${e.dealId}`, e.dealId);
      return;
    }
    if (isFinal(d.status)) {
      this.flag(
        "I4",
        e,
        `authority: evidence posted on deal ${d.dealId} by ${e.by} after it ended (${statusName(d.status)})`,
        d.dealId,
      );
    }
    const p = d.params;
    const party = same(e.by, p.payer) || same(e.by, p.payee) || same(e.by, p.gateway);
    if (!party && !this.arbiters.has(e.by.toLowerCase())) {
      this.unverifiedPosters.push({ dealId: d.dealId, by: e.by, block: e.block });
    }
  }

  /**
   * The registry refused to count a dispute (opened: the dispute goes to the arbiter) or to uncount a held dispute
   * that just ended (closed: the gateway's counter stays one too high for good).
   */
  private skipped(e: Extract<AuditEvent, { name: "DisputeCountSkipped" }>): void {
    const d = this.deals.get(e.dealId.toLowerCase());
    if (!d) {
      this.flag("I3", e, `state machine: DisputeCountSkipped for unknown deal ${e.dealId}`, e.dealId);
      return;
    }
    if (!same(e.gateway, d.params.gateway)) {
      this.flag(
        "I3",
        e,
        `state machine: DisputeCountSkipped for deal ${d.dealId} names ${e.gateway}, not its gateway`,
        d.dealId,
      );
      return;
    }
    if (e.opened) {
      if (d.status !== Status.Performed) {
        this.flag(
          "I3",
          e,
          `state machine: DisputeCountSkipped(opened) for deal ${d.dealId} while ${statusName(d.status)}`,
          d.dealId,
        );
        return;
      }
      this.skippedOpen.add(d.dealId.toLowerCase());
      return;
    }
    if (!d.endedHeldDispute) {
      this.flag(
        "I3",
        e,
        `state machine: DisputeCountSkipped(closed) for deal ${d.dealId}, whose held dispute did not just end`,
        d.dealId,
      );
      return;
    }
    d.endedHeldDispute = false;
    const gw = e.gateway.toLowerCase();
    this.counterDrift.set(gw, (this.counterDrift.get(gw) ?? 0) + 1);
  }

  private deferred(e: Extract<AuditEvent, { name: "PayoutDeferred" }>): void {
    const d = this.deals.get(e.dealId.toLowerCase());
    if (!d) {
      this.flag("I3", e, `state machine: PayoutDeferred for unknown deal ${e.dealId}`, e.dealId);
    } else if (!isFinal(d.status)) {
      this.flag(
        "I3",
        e,
        `state machine: PayoutDeferred for deal ${e.dealId} while ${statusName(d.status)} (not settled)`,
        e.dealId,
      );
    } else if (!same(e.token, d.params.token)) {
      this.flag("I2", e, `conservation: deal ${e.dealId} deferred a payout in ${e.token}, not its token`, e.dealId);
    } else if (same(e.account, d.params.payee)) {
      if (d.deferredPayee || e.amount !== d.payeeAmount) {
        this.flag(
          "I2",
          e,
          `conservation: deal ${e.dealId} deferred ${e.amount} to its payee, whose share is ${d.payeeAmount}${d.deferredPayee ? " and was deferred already" : ""}`,
          e.dealId,
        );
      }
      d.deferredPayee = true;
    } else if (same(e.account, d.params.payer) && d.params.kind !== Kind.OnRamp) {
      if (d.deferredPayer || e.amount !== d.refund) {
        this.flag(
          "I2",
          e,
          `conservation: deal ${e.dealId} deferred ${e.amount} to its payer, whose refund is ${d.refund}${d.deferredPayer ? " and was deferred already" : ""}`,
          e.dealId,
        );
      }
      d.deferredPayer = true;
    } else {
      this.flag(
        "I2",
        e,
        `conservation: deal ${e.dealId} deferred ${e.amount} to ${e.account}, who is paid nothing by it`,
        e.dealId,
      );
    }
    const o = this.owedOf(e.token, e.account);
    o.amount += e.amount;
    o.credited += e.amount;
  }

  private gatewayStatus(gateway: string, status: GatewayStatusName): void {
    const key = gateway.toLowerCase();
    const g = this.gateways.get(key) ?? { status: "None", suspended: false };
    g.status = status;
    this.gateways.set(key, g);
  }

  /** The deal an event names, if it exists and its status is one of `allowed`; otherwise flags I3. */
  private dealFor(
    e: EventPosition & { name: string; dealId: string },
    allowed: readonly number[],
    label: string = e.name,
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

  private move(d: DealState, status: number, block: number): void {
    d.status = status;
    d.sinceBlock = block;
    d.payerReleased = false; // every status write clears the flags (Escrow._store)
  }

  /** A deal's final settlement: fee owed to the gateway, the on-ramp float unlocked and the refund returned. */
  private settle(d: DealState, e: EventPosition, payee: bigint, fee: bigint, refund: bigint, status: number): void {
    d.payeeAmount = payee;
    d.fee = fee;
    d.refund = refund;
    // A held dispute that ends here is uncounted by the registry (or a DisputeCountSkipped follows).
    d.endedHeldDispute = d.status === Status.Disputed && d.held;
    this.move(d, status, e.block);
    const { token, gateway, payer, kind, amount } = d.params;
    if (fee !== 0n) {
      const o = this.owedOf(token, gateway);
      o.amount += fee;
      o.credited += fee;
    }
    if (kind === Kind.OnRamp) {
      const f = this.floatOf(payer, token);
      if (amount > f.locked) {
        this.flag(
          "I5",
          e,
          `float: deal ${d.dealId} unlocked ${amount} of ${token} from ${payer} with only ${f.locked} locked`,
          d.dealId,
        );
      }
      f.locked -= amount;
      f.released += amount;
      f.free += refund;
      f.refunded += refund;
    }
  }

  private floatOf(acceptor: string, token: string): FloatState {
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

  private owedOf(token: string, account: string): OwedState {
    const key = owedKey(token, account);
    let o = this.owed.get(key);
    if (!o) {
      o = { token: getAddress(token), account: getAddress(account), amount: 0n, credited: 0n, claimed: 0n };
      this.owed.set(key, o);
      this.tokens.add(o.token);
    }
    return o;
  }

  private flag(check: CheckName, at: EventPosition, message: string, dealId?: string): void {
    this.inconsistencies.push({ check, ...(dealId ? { dealId } : {}), block: at.block, message });
  }
}

/*//////////////////////////////////////////////////////////////
                         DECODING LOGS
//////////////////////////////////////////////////////////////*/

const escrowInterface = Escrow__factory.createInterface();
const registryInterface = GatewayRegistry__factory.createInterface();

function toDealParams(r: Result): DealParams {
  return {
    payer: getAddress(r.payer),
    payee: getAddress(r.payee),
    gateway: getAddress(r.gateway),
    token: getAddress(r.token),
    amount: BigInt(r.amount),
    deadline: BigInt(r.deadline),
    releaseWindow: BigInt(r.releaseWindow),
    feeBps: BigInt(r.feeBps),
    kind: Number(r.kind),
    autoRelease: Boolean(r.autoRelease),
    salt: String(r.salt),
  };
}

/**
 * Decodes one log of the escrow or the registry into an {@link AuditEvent}; returns undefined for events the audit
 * does not use (other registry events, other roles). An EvidencePosted's URI is never read (it may hold any bytes).
 */
export function decodeLog(log: Log, escrow: string, registry: string): AuditEvent | undefined {
  const pos: EventPosition = { block: log.blockNumber, logIndex: log.index, txHash: log.transactionHash };
  const topics = log.topics as string[];
  let parsed: LogDescription | null = null;
  if (same(log.address, escrow)) {
    parsed = escrowInterface.parseLog({ topics, data: log.data });
    if (!parsed) return undefined;
    const a = parsed.args;
    switch (parsed.name) {
      case "DealOpened":
        return { ...pos, name: "DealOpened", dealId: a.dealId, deal: toDealParams(a.deal), ref: a.ref };
      case "DealLockedByDelegate":
        return { ...pos, name: "DealLockedByDelegate", dealId: a.dealId, delegate: getAddress(a.delegate) };
      case "DealPerformed":
      case "DealReleaseApproved":
      case "DealReleased":
        return { ...pos, name: parsed.name, dealId: a.dealId };
      case "DealRefunded":
        return { ...pos, name: "DealRefunded", dealId: a.dealId, reason: Number(a.reason) };
      case "DealDisputed":
        return {
          ...pos,
          name: "DealDisputed",
          dealId: a.dealId,
          by: getAddress(a.by),
          gatewayHolds: Boolean(a.gatewayHolds),
        };
      case "DealResolved":
        return {
          ...pos,
          name: "DealResolved",
          dealId: a.dealId,
          by: getAddress(a.by),
          payeeAmount: a.payeeAmount,
          fee: a.fee,
          refund: a.refund,
          reasons: a.reasons,
        };
      case "DealSplit":
        return {
          ...pos,
          name: "DealSplit",
          dealId: a.dealId,
          payeeAmount: a.payeeAmount,
          fee: a.fee,
          refund: a.refund,
        };
      case "EvidencePosted":
        // Indexed topics only: the URI may not be valid UTF-8, and the audit has no use for it.
        return {
          ...pos,
          name: "EvidencePosted",
          dealId: topics[1],
          by: getAddress(dataSlice(topics[2], 12)),
        };
      case "DisputeCountSkipped":
        return {
          ...pos,
          name: "DisputeCountSkipped",
          dealId: a.dealId,
          gateway: getAddress(a.gateway),
          opened: Boolean(a.opened),
        };
      case "PayoutDeferred":
        return {
          ...pos,
          name: "PayoutDeferred",
          dealId: a.dealId,
          token: getAddress(a.token),
          account: getAddress(a.account),
          amount: a.amount,
        };
      case "OwedClaimed":
        return {
          ...pos,
          name: "OwedClaimed",
          token: getAddress(a.token),
          account: getAddress(a.account),
          amount: a.amount,
        };
      case "FloatDeposited":
      case "FloatWithdrawn":
        return {
          ...pos,
          name: parsed.name,
          acceptor: getAddress(a.acceptor),
          token: getAddress(a.token),
          amount: a.amount,
        };
      default:
        return undefined;
    }
  }
  if (same(log.address, registry)) {
    parsed = registryInterface.parseLog({ topics, data: log.data });
    if (!parsed) return undefined;
    const a = parsed.args;
    switch (parsed.name) {
      case "GatewayDisputesChanged":
        return {
          ...pos,
          name: "GatewayDisputesChanged",
          gateway: getAddress(a.gateway),
          openDisputes: Number(a.openDisputes),
        };
      case "GatewayRegistered":
      case "GatewayApproved":
      case "GatewayExitRequested":
      case "GatewayExited":
      case "GatewaySuspended":
      case "GatewayReinstated":
        return { ...pos, name: parsed.name, gateway: getAddress(a.gateway) };
      case "AcceptorRegistered":
      case "AcceptorLockDelegateSet":
        return {
          ...pos,
          name: parsed.name,
          acceptor: getAddress(a.acceptor),
          lockDelegate: getAddress(a.lockDelegate),
        };
      case "RoleGranted":
      case "RoleRevoked":
        if (String(a.role).toLowerCase() !== ARBITER_ROLE) return undefined;
        return {
          ...pos,
          name: parsed.name === "RoleGranted" ? "ArbiterGranted" : "ArbiterRevoked",
          account: getAddress(a.account),
        };
      case "TokenAllowed":
        return { ...pos, name: "TokenAllowed", token: getAddress(a.token), allowed: Boolean(a.allowed) };
      default:
        return undefined;
    }
  }
  return undefined;
}

/** Whether the replay checks a rule that needs the time of this event's block (so runAudit reads it). */
export function needsTime(e: AuditEvent): boolean {
  switch (e.name) {
    case "DealPerformed":
    case "DealDisputed":
    case "DealResolved":
    case "DealRefunded":
      return true;
    case "DealOpened":
      return e.deal.kind === Kind.OnRamp && isDelegateSalt(e.deal.salt);
    default:
      return false;
  }
}

/*//////////////////////////////////////////////////////////////
                     IO HELPERS (ADAPTIVE SCAN)
//////////////////////////////////////////////////////////////*/

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Retries a read call on provider errors (never on a revert), with exponential backoff. */
export async function withRetry<T>(fn: () => Promise<T>, label: string, attempts = READ_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (isError(error, "CALL_EXCEPTION") || attempt >= attempts) {
        throw new Error(`${label}: ${errorMessage(error)}`, { cause: error });
      }
      await sleep(Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS));
    }
  }
}

/** A short message for an error (ethers errors carry a long `message`; their `shortMessage` is enough). */
export function errorMessage(error: unknown): string {
  if (error && typeof error === "object") {
    const e = error as { shortMessage?: string; message?: string };
    return e.shortMessage ?? e.message ?? String(error);
  }
  return String(error);
}

export type ScanProgress = { fromBlock: number; toBlock: number; head: number; events: number };

/** What the scan needs of a provider (any ethers Provider fits). */
export type LogSource = {
  getLogs(filter: { address: string[]; fromBlock: number; toBlock: number }): Promise<Log[]>;
};

export type FetchLogsOptions = {
  initialRange?: number;
  maxRange?: number;
  backoffBaseMs?: number;
  attemptsAtOneBlock?: number;
  /** Called after each range with the blocks scanned so far (`fromBlock`..`toBlock`). */
  onProgress?: (p: ScanProgress) => void;
};

/**
 * Every log of `addresses` in `[fromBlock, toBlock]`, ordered by (block, logIndex). Ranges adapt: a provider error
 * halves the range (down to one block) and retries after a backoff; a success doubles it up to `maxRange`. Fails
 * after `attemptsAtOneBlock` consecutive errors on a single block.
 */
export async function fetchLogs(
  provider: LogSource,
  addresses: string[],
  fromBlock: number,
  toBlock: number,
  options: FetchLogsOptions = {},
): Promise<Log[]> {
  const maxRange = options.maxRange ?? MAX_LOG_RANGE;
  const backoffBase = options.backoffBaseMs ?? BACKOFF_BASE_MS;
  const attemptsAtOne = options.attemptsAtOneBlock ?? LOG_ATTEMPTS_AT_ONE_BLOCK;
  let range = Math.min(options.initialRange ?? INITIAL_LOG_RANGE, maxRange);
  const logs: Log[] = [];
  let start = fromBlock;
  let failures = 0;
  let failuresAtOne = 0;
  while (start <= toBlock) {
    const end = Math.min(start + range - 1, toBlock);
    try {
      const chunk = await provider.getLogs({ address: addresses, fromBlock: start, toBlock: end });
      logs.push(...chunk);
      options.onProgress?.({ fromBlock, toBlock: end, head: toBlock, events: logs.length });
      start = end + 1;
      failures = 0;
      failuresAtOne = 0;
      range = Math.min(range * 2, maxRange);
    } catch (error) {
      failures += 1;
      if (range === 1) {
        failuresAtOne += 1;
        if (failuresAtOne >= attemptsAtOne) {
          throw new Error(`eth_getLogs failed on block ${start} ${failuresAtOne} times: ${errorMessage(error)}`, {
            cause: error,
          });
        }
      }
      range = Math.max(1, Math.floor(range / 2));
      await sleep(Math.min(backoffBase * 2 ** (failures - 1), BACKOFF_MAX_MS));
    }
  }
  return logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
}

/*//////////////////////////////////////////////////////////////
                             THE AUDIT
//////////////////////////////////////////////////////////////*/

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

export type OpenDealReport = {
  dealId: string;
  status: StatusName;
  kind: string;
  payer: string;
  payee: string;
  gateway: string;
  token: string;
  amount: string;
  deadline: number;
  payerReleased: boolean;
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
  floats: {
    acceptor: string;
    token: string;
    free: string;
    locked: string;
    deposits: string;
    withdrawals: string;
    released: string;
    refunded: string;
  }[];
  owed: { token: string; account: string; amount: string }[];
  openDeals: OpenDealReport[];
  disputes: DisputeReport[];
  /** Errors and warnings an operator must act on (see {@link Alert}). */
  alerts: Alert[];
  inconsistencies: Inconsistency[];
};

export type AuditOptions = {
  provider: Provider;
  deployment: Deployment;
  onProgress?: (p: ScanProgress) => void;
  /** Overrides of the scan's tunables (tests). */
  scan?: Omit<FetchLogsOptions, "onProgress">;
  concurrency?: number;
};

/** A failure to audit at all (wrong chain, no contract, unreadable deployment): not an inconsistency. */
export class AuditSetupError extends Error {}

/** Formats base units with `decimals` (no trailing ".0"); base units when the decimals are unknown. */
export function formatAmount(value: bigint, decimals: number | null): string {
  if (decimals === null) return value.toString();
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const unit = 10n ** BigInt(decimals);
  const whole = abs / unit;
  const frac = (abs % unit).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
}

/** A boolean a view returns in one word (0 or 1); null for anything else, "no such function". */
export function boolWord(data: string): boolean | null {
  if (!/^0x[0-9a-fA-F]{64}$/.test(data)) return null;
  const value = BigInt(data);
  return value === 0n ? false : value === 1n ? true : null;
}

/**
 * Calls a view that returns a bool and that the token may not have: a call that reverts or returns anything but
 * one word of 0 or 1 means "no such function" (null). Provider failures are retried, then thrown.
 */
async function optionalBool(provider: Provider, to: string, data: string, blockTag: number): Promise<boolean | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return boolWord(await provider.call({ to, data, blockTag }));
    } catch (error) {
      if (isError(error, "CALL_EXCEPTION")) return null;
      if (attempt >= READ_ATTEMPTS) throw new Error(`eth_call ${data.slice(0, 10)} on ${to}: ${errorMessage(error)}`);
      await sleep(Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS));
    }
  }
}

/** The ERROR line of a token that blacklists the escrow. */
export const blacklistedMessage = (token: string, symbol: string): string =>
  `token ${symbol} ${token} has blacklisted the escrow: every payout in it is deferred to owed; governance should disallow the token`;

/**
 * Audits a deployment: scans the escrow's and the registry's logs to the head, replays them, compares with storage
 * and balances at the head block, asks each token whether it blacklists the escrow or is paused, and returns the
 * report. Throws {@link AuditSetupError} when the provider is on another chain or the escrow has no code; throws on
 * RPC failures that outlast the retries.
 */
export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const { provider, deployment } = options;
  const limit = options.concurrency ?? READ_CONCURRENCY;
  const escrowRecord = deployment.contracts?.Escrow;
  const registryRecord = deployment.contracts?.GatewayRegistry;
  if (!escrowRecord?.address || !registryRecord?.address) {
    throw new AuditSetupError("the deployment records no Escrow or GatewayRegistry");
  }

  // Ask the node itself: a JsonRpcProvider with a static network would answer getNetwork() without asking.
  const rpc = provider as Provider & { send?: (method: string, params: unknown[]) => Promise<unknown> };
  const chainId = Number(
    await withRetry(
      async () =>
        typeof rpc.send === "function"
          ? BigInt(String(await rpc.send("eth_chainId", [])))
          : (await provider.getNetwork()).chainId,
      "eth_chainId",
    ),
  );
  if (chainId !== Number(deployment.chainId)) {
    throw new AuditSetupError(
      `the RPC serves chain ${chainId}, but the deployment (${deployment.network}) is on chain ${deployment.chainId}`,
    );
  }
  const startHead = await withRetry(() => provider.getBlockNumber(), "eth_blockNumber");
  const escrowAddress = getAddress(escrowRecord.address);
  const escrow = Escrow__factory.connect(escrowAddress, provider);
  const code = await withRetry(() => provider.getCode(escrowAddress, startHead), "eth_getCode");
  if (code === "0x") {
    throw new AuditSetupError(
      `no contract at the Escrow address ${escrowAddress} on chain ${chainId} (block ${startHead})`,
    );
  }
  const inconsistencies: Inconsistency[] = [];
  const alerts: Alert[] = [];
  const onChainRegistry = getAddress(
    await withRetry(() => escrow.registry({ blockTag: startHead }), "Escrow.registry"),
  );
  if (!same(onChainRegistry, registryRecord.address)) {
    inconsistencies.push({
      check: "registry",
      message: `registry: the escrow uses ${onChainRegistry}, the deployment records ${registryRecord.address}`,
    });
  }
  const registryAddress = onChainRegistry;
  const registry = GatewayRegistry__factory.connect(registryAddress, provider);
  const resolutionWindow = Number(
    await withRetry(() => escrow.resolutionWindow({ blockTag: startHead }), "resolutionWindow"),
  );

  // 1. Events, to the head read at the start; then a few catch-up scans of the blocks mined meanwhile, so that
  // storage is read at a block still recent (a non-archive node keeps the state of the last ~128 blocks only).
  // Storage, balances and events all describe block `head`.
  const fromBlock = Math.min(escrowRecord.blockNumber, registryRecord.blockNumber);
  const addresses = [escrowAddress, registryAddress];
  let head = startHead;
  const logs: Log[] = [];
  for (let round = 0, start = fromBlock; round <= CATCH_UP_ROUNDS; round++) {
    const before = logs.length;
    const scanned = await fetchLogs(provider, addresses, start, head, {
      ...options.scan,
      onProgress: (p) => options.onProgress?.({ fromBlock, toBlock: p.toBlock, head, events: before + p.events }),
    });
    logs.push(...scanned);
    const tip = await withRetry(() => provider.getBlockNumber(), "eth_blockNumber");
    if (tip <= head || round === CATCH_UP_ROUNDS) break;
    start = head + 1;
    head = tip;
  }
  const blockTag = head;

  // 2. Decode, then read the time of every block whose events a timed rule needs (the release, resolution and lock
  // windows run from block timestamps, which logs do not carry).
  const decoded = logs.map((log) => decodeLog(log, escrowAddress, registryAddress));
  const blockTimes = new Map<number, number>();
  const readTimes = async (blocks: number[]) => {
    const wanted = [...new Set(blocks)].filter((n) => !blockTimes.has(n));
    await mapLimit(wanted, limit, async (n) => {
      const block = await withRetry(() => provider.getBlock(n), `eth_getBlockByNumber ${n}`);
      if (!block) throw new Error(`block ${n} not found`);
      blockTimes.set(n, block.timestamp);
    });
  };
  await readTimes([
    head,
    ...decoded.filter((e): e is AuditEvent => e !== undefined && needsTime(e)).map((e) => e.block),
  ]);

  const ledger = new AuditLedger({ resolutionWindow });
  for (const token of deployment.tokens ?? []) ledger.tokens.add(getAddress(token));
  for (const event of decoded) {
    if (event) ledger.apply(needsTime(event) ? { ...event, time: blockTimes.get(event.block) } : event);
  }
  ledger.finish();
  inconsistencies.push(...ledger.inconsistencies);

  // 3. The `since` block of every deal (storage records the time of its last status change).
  await readTimes([...ledger.deals.values()].map((d) => d.sinceBlock));
  const headTime = blockTimes.get(head)!;

  /** Runs `check` on every item with bounded concurrency; what it finds is reported in the items' order. */
  const checkEach = async <T>(items: readonly T[], check: (item: T, found: Inconsistency[]) => Promise<void>) => {
    const results = await mapLimit(items, limit, async (item) => {
      const found: Inconsistency[] = [];
      await check(item, found);
      return found;
    });
    inconsistencies.push(...results.flat());
  };

  // 4. I4: rulings, and evidence, by someone who is none of the allowed and no arbiter by the role events.
  await checkEach(ledger.unverifiedResolvers, async (r, found) => {
    const arbiter = await withRetry(() => registry.isArbiter(r.by, { blockTag }), "isArbiter");
    if (!arbiter) {
      found.push({
        check: "I4",
        dealId: r.dealId,
        block: r.block,
        message: `authority: deal ${r.dealId} resolved by ${r.by}, neither its gateway (holding the dispute, in good standing) nor an arbiter`,
      });
    }
  });
  await checkEach(ledger.unverifiedPosters, async (r, found) => {
    const arbiter = await withRetry(() => registry.isArbiter(r.by, { blockTag }), "isArbiter");
    if (!arbiter) {
      found.push({
        check: "I4",
        dealId: r.dealId,
        block: r.block,
        message: `authority: evidence posted on deal ${r.dealId} by ${r.by}, neither a party, its gateway nor an arbiter`,
      });
    }
  });

  // 5. Deals against storage.
  const deals = [...ledger.deals.values()];
  await checkEach(deals, async (d, found) => {
    const rec = await withRetry(() => escrow.getDeal(d.dealId, { blockTag }), `getDeal ${d.dealId}`);
    const stored = Number(rec.status);
    if (stored !== d.status) {
      found.push({
        check: "storage",
        dealId: d.dealId,
        message: `storage: deal ${d.dealId} status ${statusName(stored)} on chain, ${statusName(d.status)} from events`,
      });
    }
    const commitment = commitmentOf(d.params);
    if (String(rec.commitment).toLowerCase() !== commitment) {
      found.push({
        check: "storage",
        dealId: d.dealId,
        message: `storage: deal ${d.dealId} commitment ${rec.commitment} on chain, ${commitment} from its DealOpened parameters`,
      });
    }
    // flags: 1 = released by the payer while Open, 2 = the gateway holds the dispute while Disputed.
    const flags = d.status === Status.Open && d.payerReleased ? 1 : d.status === Status.Disputed && d.held ? 2 : 0;
    if (Number(rec.flags) !== flags) {
      found.push({
        check: "storage",
        dealId: d.dealId,
        message: `storage: deal ${d.dealId} flags ${rec.flags} on chain, ${flags} from events`,
      });
    }
    const since = blockTimes.get(d.sinceBlock)!;
    if (Number(rec.since) !== since) {
      found.push({
        check: "storage",
        dealId: d.dealId,
        message: `storage: deal ${d.dealId} since ${rec.since} on chain, ${since} (block ${d.sinceBlock}) from events`,
      });
    }
  });

  // 6. Floats and owed balances against storage.
  const floats = [...ledger.floats.values()];
  await checkEach(floats, async (f, found) => {
    const s = await withRetry(() => escrow.floatOf(f.acceptor, f.token, { blockTag }), "floatOf");
    if (s.free !== f.free || s.locked !== f.locked) {
      found.push({
        check: "I5",
        message: `float: ${f.acceptor} in ${f.token} is free ${s.free} / locked ${s.locked} on chain, free ${f.free} / locked ${f.locked} from events`,
      });
    }
  });
  const owed = [...ledger.owed.values()];
  await checkEach(owed, async (o, found) => {
    const s = await withRetry(() => escrow.owed(o.token, o.account, { blockTag }), "owed");
    if (s !== o.amount) {
      found.push({
        check: "storage",
        message: `storage: owed ${o.token} to ${o.account} is ${s} on chain, ${o.amount} from events`,
      });
    }
  });

  // 7. The registry's dispute counters: a gateway's openDisputes is the number of disputes it holds that are still
  // open, plus those that ended without the registry uncounting them (DisputeCountSkipped, reported).
  const held = ledger.heldDisputesByGateway();
  const gateways = new Set<string>([...held.keys(), ...ledger.registryDisputes.keys(), ...ledger.counterDrift.keys()]);
  await checkEach([...gateways].sort(), async (gw, found) => {
    const g = await withRetry(() => registry.getGateway(gw, { blockTag }), "getGateway");
    const stored = Number(g.openDisputes);
    const holds = held.get(gw) ?? 0;
    const drift = ledger.counterDrift.get(gw) ?? 0;
    if (stored !== holds + drift) {
      found.push({
        check: "registry",
        message: `registry: gateway ${getAddress(gw)} has openDisputes ${stored}, but holds ${holds} open dispute(s) of this escrow${drift > 0 ? ` and ${drift} that ended uncounted` : ""} (another escrow using the registry would explain more)`,
      });
    }
    const fromEvents = ledger.registryDisputes.get(gw) ?? 0;
    if (stored !== fromEvents) {
      found.push({
        check: "registry",
        message: `registry: gateway ${getAddress(gw)} has openDisputes ${stored} on chain, ${fromEvents} by its GatewayDisputesChanged events`,
      });
    }
    if (drift > 0) {
      alerts.push({
        level: "warning",
        check: "registry",
        gateway: getAddress(gw),
        message: `gateway ${getAddress(gw)}: ${drift} held dispute(s) ended without the registry uncounting them (DisputeCountSkipped): its openDisputes stays ${drift} too high, and it cannot complete its exit while it is above zero`,
      });
    }
  });

  // 8. I1 per token, and the token's standing towards the escrow (blacklist, pause) at the audited block.
  const tokens = [...ledger.tokens].sort();
  const solvency: Inconsistency[][] = tokens.map(() => []);
  const tokenReports = await mapLimit(tokens, limit, async (token, i): Promise<TokenReport> => {
    const found = solvency[i];
    const erc20 = new Contract(token, ERC20_ABI, provider);
    const balance: bigint = await withRetry(() => erc20.balanceOf(escrowAddress, { blockTag }), `balanceOf ${token}`);
    const symbol: string = await erc20.symbol().catch(() => "?");
    const decimals: number | null = await erc20
      .decimals()
      .then((d: bigint) => Number(d))
      .catch(() => null);
    const escrowWord = escrowAddress.toLowerCase().slice(2).padStart(64, "0");
    const escrowBlacklisted = await optionalBool(provider, token, IS_BLACKLISTED_SELECTOR + escrowWord, blockTag);
    const paused = await optionalBool(provider, token, PAUSED_SELECTOR, blockTag);
    let freeFloat = 0n;
    let lockedFloat = 0n;
    for (const f of floats) {
      if (same(f.token, token)) {
        freeFloat += f.free;
        lockedFloat += f.locked;
      }
    }
    let owedTotal = 0n;
    for (const o of owed) if (same(o.token, token)) owedTotal += o.amount;
    const openDeals = ledger.openDealsTotal(token);
    const liabilities = openDeals + freeFloat + lockedFloat + owedTotal;
    const surplus = balance - liabilities;
    if (surplus < 0n) {
      const f = (v: bigint) => formatAmount(v, decimals);
      found.push({
        check: "I1",
        message: `I1 solvency: ${symbol} ${token} balance ${f(balance)} < liabilities ${f(liabilities)} (deficit ${f(-surplus)})`,
      });
    }
    return {
      token,
      symbol,
      decimals,
      balance: balance.toString(),
      openDeals: openDeals.toString(),
      freeFloat: freeFloat.toString(),
      lockedFloat: lockedFloat.toString(),
      owed: owedTotal.toString(),
      liabilities: liabilities.toString(),
      surplus: surplus.toString(),
      escrowBlacklisted,
      paused,
    };
  });
  inconsistencies.push(...solvency.flat());
  for (const t of tokenReports) {
    if (t.escrowBlacklisted) {
      alerts.push({ level: "error", check: "token", token: t.token, message: blacklistedMessage(t.token, t.symbol) });
    }
    if (t.paused) {
      alerts.push({
        level: "warning",
        check: "token",
        token: t.token,
        message: `token ${t.symbol} ${t.token} is paused: payouts in it are deferred to owed until it is unpaused`,
      });
    }
  }

  // 9. The report.
  const byStatus = { Open: 0, Performed: 0, Released: 0, Refunded: 0, Disputed: 0, Resolved: 0, Split: 0 };
  for (const d of deals) byStatus[statusName(d.status) as keyof typeof byStatus] += 1;
  // Deals keep the order they were opened in.
  const openDeals: OpenDealReport[] = deals
    .filter((d) => !isFinal(d.status))
    .map((d) => ({
      dealId: d.dealId,
      status: STATUS_NAMES[d.status],
      kind: KIND_NAMES[d.params.kind] ?? String(d.params.kind),
      payer: d.params.payer,
      payee: d.params.payee,
      gateway: d.params.gateway,
      token: d.params.token,
      amount: d.params.amount.toString(),
      deadline: Number(d.params.deadline),
      payerReleased: d.payerReleased,
    }));
  const disputes: DisputeReport[] = deals
    .filter((d) => d.status === Status.Disputed)
    .map((d) => {
      const since = blockTimes.get(d.sinceBlock)!;
      const gatewayDeadline = since + resolutionWindow;
      const ruler = ledger.rulerOf({ ...d, disputedTime: d.disputedTime ?? since }, headTime);
      return {
        dealId: d.dealId,
        gateway: d.params.gateway,
        gatewayHolds: d.held,
        since,
        gatewayDeadline,
        overdue: ruler !== "gateway",
        ruler,
      };
    })
    .sort((a, b) => a.gatewayDeadline - b.gatewayDeadline || (a.dealId < b.dealId ? -1 : 1));
  // Every disputed deal has someone able to end it: its gateway in time, or an arbiter. Otherwise only its parties
  // can (release, cancel, split or settle by signatures).
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

  return {
    ok: inconsistencies.length === 0 && !alerts.some((a) => a.level === "error"),
    chainId,
    escrow: escrowAddress,
    registry: registryAddress,
    fromBlock,
    toBlock: head,
    timestamp: headTime,
    events: logs.length,
    deals: { total: deals.length, byStatus },
    tokens: tokenReports,
    floats: floats.map((f) => ({
      acceptor: f.acceptor,
      token: f.token,
      free: f.free.toString(),
      locked: f.locked.toString(),
      deposits: f.deposits.toString(),
      withdrawals: f.withdrawals.toString(),
      released: f.released.toString(),
      refunded: f.refunded.toString(),
    })),
    owed: owed
      .filter((o) => o.amount !== 0n)
      .map((o) => ({ token: o.token, account: o.account, amount: o.amount.toString() })),
    openDeals,
    disputes,
    alerts: [...alerts.filter((a) => a.level === "error"), ...alerts.filter((a) => a.level === "warning")],
    inconsistencies,
  };
}

/*//////////////////////////////////////////////////////////////
                          HUMAN REPORT
//////////////////////////////////////////////////////////////*/

/** How many open deals the human report lists before "and N more". */
export const OPEN_DEALS_SHOWN = 20;

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
