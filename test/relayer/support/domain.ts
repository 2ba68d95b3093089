/**
 * What the pure tests of the relayer's domain share: an in-memory `ProjectionView` with Redis semantics, the actors
 * and amounts of the scenarios, and builders of protocol events at a log position.
 */
import { expect } from "chai";
import { dataSlice, getAddress, id } from "ethers";
import type {
  DealParams,
  LogPosition,
  ProtocolEvent,
  ProtocolEventType,
  RefundReasonName as RefundReason,
  Sources,
} from "../../../protocol";
import { DELEGATE_SALT_PREFIX } from "../../../protocol";
import {
  DEAL_STATUSES,
  applyEvent,
  keysRead,
  keysReadAfterDeal,
  type Hash,
  decodeHistory,
  type HistoryEntry,
  type ProjectionView,
} from "../../../relayer/src/domain/projection";

/*//////////////////////////////////////////////////////////////
                 IN-MEMORY VIEW WITH REDIS SEMANTICS
//////////////////////////////////////////////////////////////*/

/** The collection at `key`, created (and stored) when there is none yet. */
function collection<C>(store: Map<string, C>, key: string, create: () => C): C {
  let found = store.get(key);
  if (found === undefined) {
    found = create();
    store.set(key, found);
  }
  return found;
}

/** Removes `member` from the collection at `key`, and the key once its collection is empty (as Redis does). */
function removeMember(
  store: Map<string, { delete(member: string): boolean; size: number }>,
  key: string,
  member: string,
) {
  const found = store.get(key);
  if (!found) return;
  found.delete(member);
  if (found.size === 0) store.delete(key);
}

/**
 * A `ProjectionView` over Maps that behaves like the Redis commands the store issues: HSET merges fields (values are
 * strings), RPUSH appends, ZADD inserts or updates the score, ZREM/SREM delete and drop empty keys, SADD is a set.
 * It also records every hash key the reducer reads or writes, since the store can only serve prefetched hashes.
 */
export class MemoryView implements ProjectionView {
  readonly hashes = new Map<string, Hash>();
  readonly lists = new Map<string, string[]>();
  readonly zsets = new Map<string, Map<string, number>>();
  readonly sets = new Map<string, Set<string>>();
  readonly touched = new Set<string>();

  getHash(key: string): Hash | undefined {
    this.touched.add(key);
    const hash = this.hashes.get(key);
    return hash === undefined ? undefined : { ...hash };
  }
  setFields(key: string, fields: Hash): void {
    this.touched.add(key);
    for (const [field, value] of Object.entries(fields)) {
      if (typeof value !== "string") throw new Error(`HSET ${key} ${field}: not a string (${String(value)})`);
    }
    if (Object.keys(fields).length === 0) return;
    this.hashes.set(key, { ...(this.hashes.get(key) ?? {}), ...fields });
  }
  pushList(key: string, value: string): void {
    collection(this.lists, key, () => []).push(value);
  }
  zadd(key: string, score: number, member: string): void {
    if (!Number.isFinite(score)) throw new Error(`ZADD ${key}: score ${score}`);
    collection(this.zsets, key, () => new Map<string, number>()).set(member, score);
  }
  zrem(key: string, member: string): void {
    removeMember(this.zsets, key, member);
  }
  sadd(key: string, member: string): void {
    collection(this.sets, key, () => new Set<string>()).add(member);
  }
  srem(key: string, member: string): void {
    removeMember(this.sets, key, member);
  }

  /** ZSCORE */
  zscore(key: string, member: string): number | undefined {
    return this.zsets.get(key)?.get(member);
  }
  /** ZRANGE 0 -1: by score, ties by member. */
  zrange(key: string): string[] {
    return [...(this.zsets.get(key) ?? new Map<string, number>()).entries()]
      .sort(([ma, sa], [mb, sb]) => sa - sb || (ma < mb ? -1 : ma > mb ? 1 : 0))
      .map(([m]) => m);
  }
  /** SMEMBERS, sorted. */
  smembers(key: string): string[] {
    return [...(this.sets.get(key) ?? [])].sort();
  }
  history(dealId: string): HistoryEntry[] {
    const deal = this.getHash(`deal:${dealId}`) ?? {};
    return (this.lists.get(`hist:${dealId}`) ?? []).map((e) => decodeHistory(e, deal));
  }
  /** The statuses whose index holds the deal. */
  statusIndexesOf(dealId: string): string[] {
    return DEAL_STATUSES.filter((s) => this.zsets.get(`ix:status:${s}`)?.has(dealId));
  }
  /** The whole state, canonically ordered. */
  snapshot(): string {
    const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return JSON.stringify({
      hashes: sorted(this.hashes).map(([k, h]) => [k, Object.entries(h).sort()]),
      lists: sorted(this.lists),
      zsets: sorted(this.zsets).map(([k, z]) => [k, [...z.entries()].sort()]),
      sets: sorted(this.sets).map(([k, s]) => [k, [...s].sort()]),
    });
  }
}

/**
 * Applies events one by one and checks that the reducer touched only hashes that `keysRead` and
 * `keysReadAfterDeal` announced (what the store prefetches; it fails on anything else).
 */
export function apply(view: MemoryView, ...events: ProtocolEvent[]): void {
  for (const event of events) {
    const prefetched = new Set(keysRead(event));
    if ("dealId" in event) {
      for (const key of keysReadAfterDeal(event, view.hashes.get(`deal:${event.dealId}`))) prefetched.add(key);
    }
    view.touched.clear();
    applyEvent(view, event);
    for (const key of view.touched) {
      expect(prefetched.has(key), `${event.type} touched ${key}; prefetched ${[...prefetched].join(", ")}`).to.equal(
        true,
      );
    }
  }
}

/*//////////////////////////////////////////////////////////////
                       ACTORS AND EVENT BUILDERS
//////////////////////////////////////////////////////////////*/

/** A checksummed (mixed-case) address derived from a label. */
export const addrC = (label: string) => getAddress(dataSlice(id(label), 12));
/** The same address in lower case, as the relayer stores it. */
export const addr = (label: string) => addrC(label).toLowerCase();

export const ESCROW = addr("escrow");
export const REGISTRY = addr("registry");
export const SOURCES: Sources = { escrow: ESCROW, registry: REGISTRY };
export const PAYER = addr("payer");
export const PAYEE = addr("payee");
export const GATEWAY = addr("gateway");
export const ARBITER = addr("arbiter");
export const ACCEPTOR = addr("acceptor");
export const DELEGATE = addr("delegate");
export const USDT = addr("usdt");
export const DAI = addr("dai");
export const SALT = id("salt 1");
export const REF = id("order 1");
export const DEAL = id("deal 1");
export const DEAL2 = id("deal 2");
export const SEPA = id("SEPA:EUR");
export const PIX = id("PIX:BRL");

export const AMOUNT = 1_000_000n;
export const FEE_BPS = 50;
export const FEE = (AMOUNT * BigInt(FEE_BPS)) / 10_000n; // 5,000
export const NET = AMOUNT - FEE; // 995,000

/** A log position in block `block` at index `logIndex` (hashes derived from them). */
export function at(block: number, logIndex = 0): LogPosition {
  return { block, blockHash: id(`block ${block}`), txHash: id(`tx ${block}`), logIndex };
}

export type EventOf<T extends ProtocolEventType> = Extract<ProtocolEvent, { type: T }>;
export type BodyOf<T extends ProtocolEventType> = Omit<EventOf<T>, keyof LogPosition | "type">;

export function ev<T extends ProtocolEventType>(type: T, pos: LogPosition, body: BodyOf<T>): ProtocolEvent {
  return { ...pos, type, ...body } as unknown as ProtocolEvent;
}

export function dealParams(overrides: Partial<DealParams> = {}): DealParams {
  return {
    payer: PAYER,
    payee: PAYEE,
    gateway: GATEWAY,
    token: USDT,
    amount: AMOUNT,
    deadline: 2_000_000_000,
    releaseWindow: 3_600,
    feeBps: FEE_BPS,
    kind: "payment",
    autoRelease: false,
    salt: SALT,
    ...overrides,
  };
}

export const opened = (pos: LogPosition, overrides: Partial<DealParams> = {}, dealId = DEAL, ref = REF) =>
  ev("DealOpened", pos, { dealId, deal: dealParams(overrides), ref });
export const performed = (pos: LogPosition, dealId = DEAL) => ev("DealPerformed", pos, { dealId });
export const approved = (pos: LogPosition, dealId = DEAL) => ev("DealReleaseApproved", pos, { dealId });
export const released = (pos: LogPosition, dealId = DEAL) => ev("DealReleased", pos, { dealId });
export const refunded = (pos: LogPosition, reason: RefundReason, dealId = DEAL) =>
  ev("DealRefunded", pos, { dealId, reason });
/** The unix time of block `block` in these tests (12 s blocks from 1,800,000,000). */
export const timeOf = (block: number) => 1_800_000_000 + 12 * block;
export const disputed = (pos: LogPosition, by = PAYER, dealId = DEAL, gatewayHolds = true) =>
  ev("DealDisputed", pos, { dealId, by, gatewayHolds, timestamp: timeOf(pos.block) });
export const REASONS = id("written reasons");
export const resolved = (
  pos: LogPosition,
  payeeAmount: bigint,
  fee: bigint,
  refund: bigint,
  by = GATEWAY,
  dealId = DEAL,
  reasons = REASONS,
) => ev("DealResolved", pos, { dealId, by, payeeAmount, fee, refund, reasons });
export const split = (pos: LogPosition, payeeAmount: bigint, fee: bigint, refund: bigint, dealId = DEAL) =>
  ev("DealSplit", pos, { dealId, payeeAmount, fee, refund });
export const evidence = (pos: LogPosition, by: string, uri = "ipfs://proof", dealId = DEAL) =>
  ev("EvidencePosted", pos, { dealId, by, contentHash: id(`content ${uri}`), uri });
export const lockedByDelegate = (pos: LogPosition, dealId = DEAL, delegate = DELEGATE) =>
  ev("DealLockedByDelegate", pos, { dealId, delegate });
export const skipped = (pos: LogPosition, opened: boolean, dealId = DEAL, gateway = GATEWAY) =>
  ev("DisputeCountSkipped", pos, { dealId, gateway, opened });
/** A salt with the escrow's DELEGATE_SALT_PREFIX: a lock by the acceptor's delegate. */
export const DELEGATE_SALT = DELEGATE_SALT_PREFIX + "00".repeat(19) + "01";
export const deferred = (pos: LogPosition, account: string, amount: bigint, dealId = DEAL, token = USDT) =>
  ev("PayoutDeferred", pos, { dealId, token, account, amount });
export const claimed = (pos: LogPosition, account: string, amount: bigint, token = USDT) =>
  ev("OwedClaimed", pos, { token, account, amount });
export const deposited = (pos: LogPosition, amount: bigint, acceptor = ACCEPTOR, token = USDT) =>
  ev("FloatDeposited", pos, { acceptor, token, amount });
export const withdrawn = (pos: LogPosition, amount: bigint, acceptor = ACCEPTOR, token = USDT) =>
  ev("FloatWithdrawn", pos, { acceptor, token, amount });

/** The deal's hash (fails if absent). */
export function dealOf(view: MemoryView, dealId = DEAL): Hash {
  const deal = view.hashes.get(`deal:${dealId}`);
  expect(deal, `deal:${dealId}`).to.not.equal(undefined);
  return deal!;
}

export function owedOf(view: MemoryView, account: string, token = USDT): string | undefined {
  return view.hashes.get(`owed:${account}`)?.[token];
}

export function floatOf(view: MemoryView, acceptor = ACCEPTOR, token = USDT): { free?: string; locked?: string } {
  const acc = view.hashes.get(`acc:${acceptor}`) ?? {};
  return { free: acc[`free:${token}`], locked: acc[`locked:${token}`] };
}

export const entry = (event: ProtocolEventType, pos: LogPosition, args: HistoryEntry["args"]): HistoryEntry => ({
  event,
  blockNumber: pos.block,
  txHash: pos.txHash,
  logIndex: pos.logIndex,
  args,
});

/*//////////////////////////////////////////////////////////////
                     REGISTRY EVENT HELPERS
//////////////////////////////////////////////////////////////*/

export function registeredGateway(pos: LogPosition, gateway = GATEWAY): ProtocolEvent {
  return ev("GatewayRegistered", pos, { gateway, bond: 1_000n, feeBps: 50, metadata: id("terms") });
}

/** When the exiting gateway of the scenarios may complete its exit. */
export const EXIT_AT = 1_900_000_000;
/** The gateway registered (block 5), approved with a 300 bps cap (6) and asking to exit at EXIT_AT (7). */
export const exitingGateway = (): ProtocolEvent[] => [
  registeredGateway(at(5)),
  ev("GatewayApproved", at(6), { gateway: GATEWAY, feeCapBps: 300 }),
  ev("GatewayExitRequested", at(7), { gateway: GATEWAY, exitAt: EXIT_AT }),
];

export function registeredAcceptor(pos: LogPosition, acceptor = ACCEPTOR): ProtocolEvent {
  return ev("AcceptorRegistered", pos, { acceptor, gateway: GATEWAY, lockDelegate: DELEGATE });
}
