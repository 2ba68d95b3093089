/**
 * How stored entities are shown by the API. Pure.
 *
 * Finality: an entity's latest event sits in block `updatedBlock`; its confirmations are `head - updatedBlock + 1`
 * and it is `final` once that reaches the confirmation depth, `pending` before. A pending state can still be
 * undone by a reorg (the event stream then carries a retraction); a final one never changes.
 */
import { isDelegateLock, type Hash, type HistoryEntry } from "./projection";

export type Finality = "pending" | "final";

/**
 * How far the projection reaches: the head block, the confirmation depth, and `now`, the unix time the deal views
 * judge windows by (the later of the wall clock and the timestamp of the latest block the indexer read, so a chain
 * whose clock runs ahead, as a test chain's does, is judged by its own time).
 */
export type Progress = { head: number; confirmations: number; now: number };

/** What a deal view needs beyond the deal: the escrow's resolution window, and the deal's gateway while disputed. */
/** `chainId`: the deal's chain, shown in its view (the API always gives it; several chains share one API). */
export type DealContext = { resolutionWindow: number; gateway?: Hash; chainId?: number };

/**
 * Confirmations of an event in `block`: the block itself counts as one. An indexed event is in a mined block, so
 * it has at least one even when the recorded head is older than the data read (the head is cached briefly).
 */
export function confirmationsOf(block: number, head: number): number {
  return Math.max(1, head - block + 1);
}

/**
 * Confirmations as a deal view shows them: counted up to the confirmation depth and no further. Past the depth
 * the number says nothing more (final is final), and a final deal's view then never changes: it is served from a
 * cache with a strong ETag and `immutable`.
 */
function shownConfirmations(block: number, progress: Depth): number {
  return Math.min(confirmationsOf(block, progress.head), Math.max(1, progress.confirmations));
}

/** The part of {@link Progress} finality depends on. */
export type Depth = Pick<Progress, "head" | "confirmations">;

export function finalityOf(block: number, progress: Depth): Finality {
  return confirmationsOf(block, progress.head) >= progress.confirmations ? "final" : "pending";
}

const hex0x = (v: string | undefined) => (v === undefined ? undefined : `0x${v}`);

export type DealView = {
  dealId: string;
  chainId?: number;
  status: string;
  kind: string;
  payer: string;
  payee: string;
  gateway: string;
  token: string;
  amount: string;
  deadline: number;
  releaseWindow: number;
  feeBps: number;
  autoRelease: boolean;
  salt: string;
  ref: string;
  payerReleased: boolean;
  payeeAmount?: string;
  fee?: string;
  refund?: string;
  refundReason?: string;
  /** The escrow's DealRecord.flags as stored now: 1 payer released while open, 2 the gateway holds the dispute. */
  flags: number;
  disputedBy?: string;
  /** Whether the deal's gateway held the dispute (counted in its open disputes, its to rule in its window). */
  gatewayHolds?: boolean;
  /** Unix time the dispute was raised. */
  disputedAt?: number;
  /** While disputed: the last second the gateway may rule a dispute it holds (disputedAt + resolution window). */
  resolutionDeadline?: number;
  /** While disputed: who may rule now. */
  disputeRuler?: "gateway" | "arbiter";
  resolvedBy?: string;
  /** Hash of the ruling's written reasons (zero when none were given). */
  reasons?: string;
  /** On-ramp: who authorised the lock, the acceptor (the payer) or its lock delegate. */
  lockedBy?: string;
  /** A delegate's lock: after this unix time anyone may return it, still not final, to the acceptor's float. */
  lockExpiry?: number;
  /**
   * While disputed: the gateway may no longer rule it (its window passed, it does not hold the dispute, or it is
   * suspended or gone) — an arbiter may. The audit command's "OVERDUE".
   */
  overdue?: boolean;
  evidence: EvidenceView[];
  openedBlock: number;
  updatedBlock: number;
  /** Unix time of the opening block and of the latest event's block (absent for entries stored unstamped). */
  openedAt?: number;
  updatedAt?: number;
  confirmations: number;
  finality: Finality;
  history: (HistoryEntry & { confirmations: number; finality: Finality })[];
};

export type EvidenceView = {
  by: string;
  contentHash: string;
  uri: string;
  uriTruncated?: boolean;
  blockNumber: number;
  txHash: string;
};

/** A deal's EvidencePosted events (the evidence anchored on-chain), oldest first. */
export const evidenceEntries = (history: HistoryEntry[]): HistoryEntry[] =>
  history.filter((h) => h.event === "EvidencePosted");

/** One anchored evidence as the deal view shows it. */
export const evidenceViewOf = (h: HistoryEntry): EvidenceView => ({
  by: String(h.args.by),
  contentHash: String(h.args.contentHash),
  uri: String(h.args.uri),
  ...(h.args.uriTruncated === true ? { uriTruncated: true } : {}),
  blockNumber: h.blockNumber,
  txHash: h.txHash,
});

/**
 * Who may rule a disputed deal at `now`: its gateway while it holds the dispute, is in good standing (active or
 * exiting, not suspended) and its window is open; an arbiter otherwise. The parties may end it any time (release,
 * cancel, split or settle).
 */
export function disputeRulerOf(deal: Hash, gateway: Hash | undefined, deadline: number, now: number) {
  const goodStanding =
    gateway !== undefined && gateway.suspended !== "1" && (gateway.status === "active" || gateway.status === "exiting");
  return deal.gatewayHolds === "1" && goodStanding && now <= deadline ? "gateway" : "arbiter";
}

/** The escrow's stored flags of a deal: 1 while open and released by the payer, 2 while disputed and held. */
function flagsOf(deal: Hash): number {
  if (deal.status === "open" && deal.payerReleased === "1") return 1;
  if (deal.status === "disputed" && deal.gatewayHolds === "1") return 2;
  return 0;
}

export function dealView(
  dealId: string,
  deal: Hash,
  history: HistoryEntry[],
  progress: Progress,
  context: DealContext,
): DealView {
  const updatedBlock = Number(deal.updatedBlock);
  const disputed = deal.status === "disputed";
  const deadline = deal.disputedAt === undefined ? undefined : Number(deal.disputedAt) + context.resolutionWindow;
  const delegateLock = isDelegateLock(deal);
  const ruler =
    disputed && deadline !== undefined ? disputeRulerOf(deal, context.gateway, deadline, progress.now) : undefined;
  const openedAt = history[0]?.timestamp;
  // Events of one block share its time: any entry of the latest event's block dates the deal's latest change.
  let updatedAt: number | undefined;
  for (let i = history.length - 1; i >= 0 && updatedAt === undefined; i--) {
    if (history[i].blockNumber === updatedBlock) updatedAt = history[i].timestamp;
  }
  return {
    dealId,
    ...(context.chainId === undefined ? {} : { chainId: context.chainId }),
    status: deal.status,
    kind: deal.kind,
    payer: deal.payer,
    payee: deal.payee,
    gateway: deal.gateway,
    token: deal.token,
    amount: deal.amount,
    deadline: Number(deal.deadline),
    releaseWindow: Number(deal.releaseWindow),
    feeBps: Number(deal.feeBps),
    autoRelease: deal.autoRelease === "1",
    salt: hex0x(deal.salt)!,
    ref: hex0x(deal.ref)!,
    payerReleased: deal.payerReleased === "1",
    ...(deal.payeeAmount !== undefined ? { payeeAmount: deal.payeeAmount } : {}),
    ...(deal.fee !== undefined ? { fee: deal.fee } : {}),
    ...(deal.refund !== undefined ? { refund: deal.refund } : {}),
    ...(deal.refundReason !== undefined ? { refundReason: deal.refundReason } : {}),
    flags: flagsOf(deal),
    ...(deal.disputedBy !== undefined ? { disputedBy: deal.disputedBy } : {}),
    ...(deal.gatewayHolds !== undefined ? { gatewayHolds: deal.gatewayHolds === "1" } : {}),
    ...(deal.disputedAt !== undefined ? { disputedAt: Number(deal.disputedAt) } : {}),
    ...(ruler !== undefined ? { resolutionDeadline: deadline, disputeRuler: ruler, overdue: ruler !== "gateway" } : {}),
    ...(deal.resolvedBy !== undefined ? { resolvedBy: deal.resolvedBy } : {}),
    ...(deal.reasons !== undefined ? { reasons: hex0x(deal.reasons) } : {}),
    ...(deal.lockedBy !== undefined ? { lockedBy: deal.lockedBy } : {}),
    ...(delegateLock
      ? { lockExpiry: Number(deal.deadline) + Number(deal.releaseWindow) + context.resolutionWindow }
      : {}),
    evidence: evidenceEntries(history).map(evidenceViewOf),
    openedBlock: Number(deal.openedBlock),
    updatedBlock,
    ...(openedAt !== undefined ? { openedAt } : {}),
    ...(updatedAt !== undefined ? { updatedAt } : {}),
    confirmations: shownConfirmations(updatedBlock, progress),
    finality: finalityOf(updatedBlock, progress),
    history: history.map((h) => ({
      ...h,
      confirmations: shownConfirmations(h.blockNumber, progress),
      finality: finalityOf(h.blockNumber, progress),
    })),
  };
}

export type GatewayView = {
  address: string;
  status: string;
  /** Governance's sanction, apart from the life cycle: no new deals, no rulings, no completed exit. */
  suspended: boolean;
  /** May rule the disputes it holds now: active or exiting, and not suspended. */
  canRule: boolean;
  bond: string;
  feeBps: number;
  feeCapBps: number;
  exitAt: number;
  openDisputes: number;
  metadata: string;
  /** Fees earned from settled deals per token, ever (what it has not claimed yet is its owed balance). */
  feesEarned: { token: string; amount: string }[];
  registeredBlock: number;
  updatedBlock: number;
  finality: Finality;
};

/** Per-token amounts of a hash (token → base units) as a list sorted by token. */
export function tokenAmounts(hash: Hash | undefined): { token: string; amount: string }[] {
  return Object.entries(hash ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([token, amount]) => ({ token, amount }));
}

export function gatewayView(address: string, gw: Hash, progress: Depth, fees?: Hash): GatewayView {
  return {
    address,
    status: gw.status,
    suspended: gw.suspended === "1",
    canRule: gw.suspended !== "1" && (gw.status === "active" || gw.status === "exiting"),
    bond: gw.bond,
    feeBps: Number(gw.feeBps),
    feeCapBps: Number(gw.feeCapBps),
    exitAt: Number(gw.exitAt),
    openDisputes: Number(gw.openDisputes),
    metadata: hex0x(gw.metadata)!,
    feesEarned: tokenAmounts(fees),
    registeredBlock: Number(gw.registeredBlock),
    updatedBlock: Number(gw.updatedBlock),
    finality: finalityOf(Number(gw.updatedBlock), progress),
  };
}

export type AcceptorView = {
  address: string;
  status: string;
  gateway: string;
  lockDelegate: string;
  methods: string[];
  /** The same methods with their names where the relayer knows them (see domain/methods.ts). */
  paymentMethods: { method: string; name?: string }[];
  /** Per token: order limits and float (free may be locked for orders or withdrawn; locked funds open deals). */
  tokens: { token: string; minAmount: string; maxAmount: string; free: string; locked: string }[];
  registeredBlock: number;
  updatedBlock: number;
  finality: Finality;
};

export function acceptorView(
  address: string,
  acc: Hash,
  methods: string[],
  progress: Depth,
  nameOf: (method: string) => string | undefined = () => undefined,
): AcceptorView {
  const sorted = [...methods].sort();
  const tokens = new Set<string>();
  for (const field of Object.keys(acc)) {
    const m = /^(min|max|free|locked):(0x[0-9a-f]{40})$/.exec(field);
    if (m) tokens.add(m[2]);
  }
  return {
    address,
    status: acc.status,
    gateway: acc.gateway,
    lockDelegate: acc.lockDelegate,
    methods: sorted,
    paymentMethods: sorted.map((method) => {
      const name = nameOf(method);
      return name === undefined ? { method } : { method, name };
    }),
    tokens: [...tokens].sort().map((token) => ({
      token,
      minAmount: acc[`min:${token}`] ?? "0",
      maxAmount: acc[`max:${token}`] ?? "0",
      free: acc[`free:${token}`] ?? "0",
      locked: acc[`locked:${token}`] ?? "0",
    })),
    registeredBlock: Number(acc.registeredBlock),
    updatedBlock: Number(acc.updatedBlock),
    finality: finalityOf(Number(acc.updatedBlock), progress),
  };
}
