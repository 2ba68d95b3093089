/**
 * Pure unit tests of the relayer's domain code (no IO): log decoding (`events.ts`), the projection reducer
 * (`projection.ts`) over an in-memory `ProjectionView` with Redis semantics, and the API views (`views.ts`).
 * A fast-check model walks the deal state machine of DESIGN.md §4 and checks the projection's invariants.
 */
import { expect } from "chai";
import fc from "fast-check";
import {
  AbiCoder,
  Interface,
  ZeroAddress,
  dataSlice,
  getAddress,
  hexlify,
  id,
  toUtf8Bytes,
  type EventFragment,
} from "ethers";
import { Escrow__factory, GatewayRegistry__factory } from "../../../typechain-types";
import {
  DEAL_KINDS,
  MAX_EVIDENCE_URI_CHARS,
  REFUND_REASONS,
  decodeLog,
  evidenceUri,
  topicsOf,
  type DealKind,
  type DealParams,
  type LogPosition,
  type ProtocolEvent,
  type ProtocolEventType,
  type RefundReason,
  type Sources,
} from "../../../relayer/src/domain/events";
import {
  DEAL_STATUSES,
  DELEGATE_SALT_PREFIX,
  FINAL_STATUSES,
  LOG_INDEX_SPAN,
  applyEvent,
  keysRead,
  keysReadAfterDeal,
  reindexDeal,
  scoreOf,
  type DealStatus,
  type Hash,
  decodeHistory,
  encodeHistory,
  type HistoryEntry,
  type ProjectionView,
} from "../../../relayer/src/domain/projection";
import { ProjectionError } from "../../../relayer/src/errors";
import { acceptorView, confirmationsOf, dealView, finalityOf, gatewayView } from "../../../relayer/src/domain/views";

/*//////////////////////////////////////////////////////////////
                 IN-MEMORY VIEW WITH REDIS SEMANTICS
//////////////////////////////////////////////////////////////*/

/**
 * A `ProjectionView` over Maps that behaves like the Redis commands the store issues: HSET merges fields (values are
 * strings), RPUSH appends, ZADD inserts or updates the score, ZREM/SREM delete and drop empty keys, SADD is a set.
 * It also records every hash key the reducer reads or writes, since the store can only serve prefetched hashes.
 */
class MemoryView implements ProjectionView {
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
    const list = this.lists.get(key) ?? [];
    list.push(value);
    this.lists.set(key, list);
  }
  zadd(key: string, score: number, member: string): void {
    if (!Number.isFinite(score)) throw new Error(`ZADD ${key}: score ${score}`);
    const zset = this.zsets.get(key) ?? new Map<string, number>();
    zset.set(member, score);
    this.zsets.set(key, zset);
  }
  zrem(key: string, member: string): void {
    const zset = this.zsets.get(key);
    if (!zset) return;
    zset.delete(member);
    if (zset.size === 0) this.zsets.delete(key);
  }
  sadd(key: string, member: string): void {
    const set = this.sets.get(key) ?? new Set<string>();
    set.add(member);
    this.sets.set(key, set);
  }
  srem(key: string, member: string): void {
    const set = this.sets.get(key);
    if (!set) return;
    set.delete(member);
    if (set.size === 0) this.sets.delete(key);
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
function apply(view: MemoryView, ...events: ProtocolEvent[]): void {
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
const addrC = (label: string) => getAddress(dataSlice(id(label), 12));
/** The same address in lower case, as the relayer stores it. */
const addr = (label: string) => addrC(label).toLowerCase();

const ESCROW = addr("escrow");
const REGISTRY = addr("registry");
const SOURCES: Sources = { escrow: ESCROW, registry: REGISTRY };
const PAYER = addr("payer");
const PAYEE = addr("payee");
const GATEWAY = addr("gateway");
const ARBITER = addr("arbiter");
const ACCEPTOR = addr("acceptor");
const DELEGATE = addr("delegate");
const USDT = addr("usdt");
const DAI = addr("dai");
const SALT = id("salt 1");
const REF = id("order 1");
const DEAL = id("deal 1");
const DEAL2 = id("deal 2");
const SEPA = id("SEPA:EUR");
const PIX = id("PIX:BRL");

const AMOUNT = 1_000_000n;
const FEE_BPS = 50;
const FEE = (AMOUNT * BigInt(FEE_BPS)) / 10_000n; // 5,000
const NET = AMOUNT - FEE; // 995,000

/** A log position in block `block` at index `logIndex` (hashes derived from them). */
function at(block: number, logIndex = 0): LogPosition {
  return { block, blockHash: id(`block ${block}`), txHash: id(`tx ${block}`), logIndex };
}

type EventOf<T extends ProtocolEventType> = Extract<ProtocolEvent, { type: T }>;
type BodyOf<T extends ProtocolEventType> = Omit<EventOf<T>, keyof LogPosition | "type">;

function ev<T extends ProtocolEventType>(type: T, pos: LogPosition, body: BodyOf<T>): ProtocolEvent {
  return { ...pos, type, ...body } as unknown as ProtocolEvent;
}

function dealParams(overrides: Partial<DealParams> = {}): DealParams {
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

const opened = (pos: LogPosition, overrides: Partial<DealParams> = {}, dealId = DEAL, ref = REF) =>
  ev("DealOpened", pos, { dealId, deal: dealParams(overrides), ref });
const performed = (pos: LogPosition, dealId = DEAL) => ev("DealPerformed", pos, { dealId });
const approved = (pos: LogPosition, dealId = DEAL) => ev("DealReleaseApproved", pos, { dealId });
const released = (pos: LogPosition, dealId = DEAL) => ev("DealReleased", pos, { dealId });
const refunded = (pos: LogPosition, reason: RefundReason, dealId = DEAL) => ev("DealRefunded", pos, { dealId, reason });
/** The unix time of block `block` in these tests (12 s blocks from 1,800,000,000). */
const timeOf = (block: number) => 1_800_000_000 + 12 * block;
const disputed = (pos: LogPosition, by = PAYER, dealId = DEAL, gatewayHolds = true) =>
  ev("DealDisputed", pos, { dealId, by, gatewayHolds, timestamp: timeOf(pos.block) });
const REASONS = id("written reasons");
const resolved = (
  pos: LogPosition,
  payeeAmount: bigint,
  fee: bigint,
  refund: bigint,
  by = GATEWAY,
  dealId = DEAL,
  reasons = REASONS,
) => ev("DealResolved", pos, { dealId, by, payeeAmount, fee, refund, reasons });
const split = (pos: LogPosition, payeeAmount: bigint, fee: bigint, refund: bigint, dealId = DEAL) =>
  ev("DealSplit", pos, { dealId, payeeAmount, fee, refund });
const evidence = (pos: LogPosition, by: string, uri = "ipfs://proof", dealId = DEAL) =>
  ev("EvidencePosted", pos, { dealId, by, contentHash: id(`content ${uri}`), uri });
const lockedByDelegate = (pos: LogPosition, dealId = DEAL, delegate = DELEGATE) =>
  ev("DealLockedByDelegate", pos, { dealId, delegate });
const skipped = (pos: LogPosition, opened: boolean, dealId = DEAL, gateway = GATEWAY) =>
  ev("DisputeCountSkipped", pos, { dealId, gateway, opened });
/** A salt with the escrow's DELEGATE_SALT_PREFIX: a lock by the acceptor's delegate. */
const DELEGATE_SALT = "0x" + DELEGATE_SALT_PREFIX + "00".repeat(19) + "01";
const deferred = (pos: LogPosition, account: string, amount: bigint, dealId = DEAL, token = USDT) =>
  ev("PayoutDeferred", pos, { dealId, token, account, amount });
const claimed = (pos: LogPosition, account: string, amount: bigint, token = USDT) =>
  ev("OwedClaimed", pos, { token, account, amount });
const deposited = (pos: LogPosition, amount: bigint, acceptor = ACCEPTOR, token = USDT) =>
  ev("FloatDeposited", pos, { acceptor, token, amount });
const withdrawn = (pos: LogPosition, amount: bigint, acceptor = ACCEPTOR, token = USDT) =>
  ev("FloatWithdrawn", pos, { acceptor, token, amount });

/** The deal's hash (fails if absent). */
function dealOf(view: MemoryView, dealId = DEAL): Hash {
  const deal = view.hashes.get(`deal:${dealId}`);
  expect(deal, `deal:${dealId}`).to.not.equal(undefined);
  return deal!;
}

/** Checks that the deal sits in exactly the status index `status` and that every index scores it `score`. */
function expectIndexed(view: MemoryView, status: DealStatus, score: number, dealId = DEAL, d = dealOf(view, dealId)) {
  expect(view.statusIndexesOf(dealId)).to.deep.equal([status]);
  expect(view.zscore(`ix:status:${status}`, dealId), `ix:status:${status}`).to.equal(score);
  expect(view.zscore("ix:updated", dealId), "ix:updated").to.equal(score);
  expect(view.zscore(`ix:party:${d.payer}`, dealId), "ix:party:<payer>").to.equal(score);
  expect(view.zscore(`ix:party:${d.payee}`, dealId), "ix:party:<payee>").to.equal(score);
  expect(view.zscore(`ix:gw:${d.gateway}`, dealId), "ix:gw:<gateway>").to.equal(score);
}

function owedOf(view: MemoryView, account: string, token = USDT): string | undefined {
  return view.hashes.get(`owed:${account}`)?.[token];
}

function floatOf(view: MemoryView, acceptor = ACCEPTOR, token = USDT): { free?: string; locked?: string } {
  const acc = view.hashes.get(`acc:${acceptor}`) ?? {};
  return { free: acc[`free:${token}`], locked: acc[`locked:${token}`] };
}

const entry = (event: ProtocolEventType, pos: LogPosition, args: HistoryEntry["args"]): HistoryEntry => ({
  event,
  blockNumber: pos.block,
  txHash: pos.txHash,
  logIndex: pos.logIndex,
  args,
});

/** The fields the projection writes when a deal opens (from `dealParams(overrides)` at `pos`). */
function openedFields(pos: LogPosition, overrides: Partial<DealParams> = {}): Hash {
  const d = dealParams(overrides);
  return {
    status: "open",
    kind: d.kind,
    payer: d.payer,
    payee: d.payee,
    gateway: d.gateway,
    token: d.token,
    amount: d.amount.toString(),
    deadline: String(d.deadline),
    releaseWindow: String(d.releaseWindow),
    feeBps: String(d.feeBps),
    autoRelease: d.autoRelease ? "1" : "0",
    salt: d.salt.slice(2),
    ref: REF.slice(2),
    payerReleased: "0",
    ...(d.kind === "onramp" ? { lockedBy: d.payer } : {}),
    openedBlock: String(pos.block),
    updatedBlock: String(pos.block),
    updatedLog: String(pos.logIndex),
  };
}

/*//////////////////////////////////////////////////////////////
                              DECODING
//////////////////////////////////////////////////////////////*/

const escrowIface = new Interface(Escrow__factory.abi);
const registryIface = new Interface(GatewayRegistry__factory.abi);

type RawLog = Parameters<typeof decodeLog>[0];

const RAW_POS = {
  blockNumber: 42,
  blockHash: "0x" + "AB".repeat(32),
  transactionHash: "0x" + "CD".repeat(32),
  index: 7,
};
const DECODED_POS: LogPosition = {
  block: 42,
  blockHash: "0x" + "ab".repeat(32),
  txHash: "0x" + "cd".repeat(32),
  logIndex: 7,
};

function rawLog(iface: Interface, name: string, values: unknown[], address: string): RawLog {
  const fragment = iface.getEvent(name) as EventFragment;
  const { data, topics } = iface.encodeEventLog(fragment, values);
  return { address, topics, data, ...RAW_POS };
}

type DecodeCase = {
  title: string;
  contract: "escrow" | "registry";
  name: ProtocolEventType;
  values: unknown[];
  expected: Record<string, unknown>;
};

const C = {
  payer: addrC("payer"),
  payee: addrC("payee"),
  gateway: addrC("gateway"),
  token: addrC("usdt"),
  acceptor: addrC("acceptor"),
  delegate: addrC("delegate"),
  governor: addrC("governor"),
  treasury: addrC("treasury"),
};

const kindCases: DecodeCase[] = DEAL_KINDS.map((kind, i) => ({
  title: `DealOpened (kind ${i} → ${kind})`,
  contract: "escrow",
  name: "DealOpened",
  values: [
    DEAL,
    C.payer,
    C.payee,
    {
      payer: C.payer,
      payee: C.payee,
      gateway: C.gateway,
      token: C.token,
      amount: 123_456_789n,
      deadline: 1_900_000_001,
      releaseWindow: 7_200,
      feeBps: 75,
      kind: i,
      autoRelease: kind === "payment",
      salt: SALT,
    },
    REF,
  ],
  expected: {
    dealId: DEAL,
    ref: REF,
    deal: {
      payer: PAYER,
      payee: PAYEE,
      gateway: GATEWAY,
      token: USDT,
      amount: 123_456_789n,
      deadline: 1_900_000_001,
      releaseWindow: 7_200,
      feeBps: 75,
      kind,
      autoRelease: kind === "payment",
      salt: SALT,
    },
  },
}));

const reasonCases: DecodeCase[] = REFUND_REASONS.map((reason, i) => ({
  title: `DealRefunded (reason ${i} → ${reason})`,
  contract: "escrow",
  name: "DealRefunded",
  values: [DEAL, i],
  expected: { dealId: DEAL, reason },
}));

const DECODE_CASES: DecodeCase[] = [
  ...kindCases,
  { title: "DealPerformed", contract: "escrow", name: "DealPerformed", values: [DEAL], expected: { dealId: DEAL } },
  {
    title: "DealReleaseApproved",
    contract: "escrow",
    name: "DealReleaseApproved",
    values: [DEAL],
    expected: { dealId: DEAL },
  },
  {
    title: "DealLockedByDelegate",
    contract: "escrow",
    name: "DealLockedByDelegate",
    values: [DEAL, C.delegate],
    expected: { dealId: DEAL, delegate: DELEGATE },
  },
  {
    title: "DealReleased (no amounts: they follow from the deal)",
    contract: "escrow",
    name: "DealReleased",
    values: [DEAL],
    expected: { dealId: DEAL },
  },
  ...reasonCases,
  {
    title: "DealDisputed (held by the gateway)",
    contract: "escrow",
    name: "DealDisputed",
    values: [DEAL, C.payee, true],
    expected: { dealId: DEAL, by: PAYEE, gatewayHolds: true },
  },
  {
    title: "DealDisputed (not held: the arbiter's)",
    contract: "escrow",
    name: "DealDisputed",
    values: [DEAL, C.payer, false],
    expected: { dealId: DEAL, by: PAYER, gatewayHolds: false },
  },
  {
    title: "DealResolved",
    contract: "escrow",
    name: "DealResolved",
    values: [DEAL, C.gateway, 597_000n, 3_000n, 400_000n, REASONS],
    expected: { dealId: DEAL, by: GATEWAY, payeeAmount: 597_000n, fee: 3_000n, refund: 400_000n, reasons: REASONS },
  },
  {
    title: "DealSplit",
    contract: "escrow",
    name: "DealSplit",
    values: [DEAL, 696_500n, 3_500n, 300_000n],
    expected: { dealId: DEAL, payeeAmount: 696_500n, fee: 3_500n, refund: 300_000n },
  },
  {
    title: "EvidencePosted",
    contract: "escrow",
    name: "EvidencePosted",
    values: [DEAL, C.payee, id("photo"), "ipfs://bafy/photo.jpg"],
    expected: { dealId: DEAL, by: PAYEE, contentHash: id("photo"), uri: "ipfs://bafy/photo.jpg" },
  },
  {
    title: "EvidencePosted (empty URI)",
    contract: "escrow",
    name: "EvidencePosted",
    values: [DEAL, C.gateway, id("note"), ""],
    expected: { dealId: DEAL, by: GATEWAY, contentHash: id("note"), uri: "" },
  },
  {
    title: "DisputeCountSkipped (opened)",
    contract: "escrow",
    name: "DisputeCountSkipped",
    values: [DEAL, C.gateway, true],
    expected: { dealId: DEAL, gateway: GATEWAY, opened: true },
  },
  {
    title: "DisputeCountSkipped (closed)",
    contract: "escrow",
    name: "DisputeCountSkipped",
    values: [DEAL, C.gateway, false],
    expected: { dealId: DEAL, gateway: GATEWAY, opened: false },
  },
  {
    title: "PayoutDeferred",
    contract: "escrow",
    name: "PayoutDeferred",
    values: [DEAL, C.token, C.payee, NET],
    expected: { dealId: DEAL, token: USDT, account: PAYEE, amount: NET },
  },
  {
    title: "OwedClaimed",
    contract: "escrow",
    name: "OwedClaimed",
    values: [C.token, C.payee, NET],
    expected: { token: USDT, account: PAYEE, amount: NET },
  },
  {
    title: "FloatDeposited",
    contract: "escrow",
    name: "FloatDeposited",
    values: [C.acceptor, C.token, 5_000_000n],
    expected: { acceptor: ACCEPTOR, token: USDT, amount: 5_000_000n },
  },
  {
    title: "FloatWithdrawn",
    contract: "escrow",
    name: "FloatWithdrawn",
    values: [C.acceptor, C.token, 4_000_000n],
    expected: { acceptor: ACCEPTOR, token: USDT, amount: 4_000_000n },
  },
  {
    title: "GatewayRegistered",
    contract: "registry",
    name: "GatewayRegistered",
    values: [C.gateway, 1_000_000_000n, 50, id("terms")],
    expected: { gateway: GATEWAY, bond: 1_000_000_000n, feeBps: 50, metadata: id("terms") },
  },
  {
    title: "GatewayApproved",
    contract: "registry",
    name: "GatewayApproved",
    values: [C.gateway, 300],
    expected: { gateway: GATEWAY, feeCapBps: 300 },
  },
  {
    title: "GatewayFeeSet",
    contract: "registry",
    name: "GatewayFeeSet",
    values: [C.gateway, 80],
    expected: { gateway: GATEWAY, feeBps: 80 },
  },
  {
    title: "GatewayBondAdded (bond is the new total, not the amount added)",
    contract: "registry",
    name: "GatewayBondAdded",
    values: [C.gateway, 10n, 1_010n],
    expected: { gateway: GATEWAY, bond: 1_010n },
  },
  {
    title: "GatewaySuspended",
    contract: "registry",
    name: "GatewaySuspended",
    values: [C.gateway],
    expected: { gateway: GATEWAY },
  },
  {
    title: "GatewayReinstated",
    contract: "registry",
    name: "GatewayReinstated",
    values: [C.gateway],
    expected: { gateway: GATEWAY },
  },
  {
    title: "GatewaySlashed",
    contract: "registry",
    name: "GatewaySlashed",
    values: [C.gateway, C.treasury, 100n, 910n],
    expected: { gateway: GATEWAY, recipient: addr("treasury"), amount: 100n, bond: 910n },
  },
  {
    title: "GatewayExitRequested",
    contract: "registry",
    name: "GatewayExitRequested",
    values: [C.gateway, 1_900_000_000],
    expected: { gateway: GATEWAY, exitAt: 1_900_000_000 },
  },
  {
    title: "GatewayExited",
    contract: "registry",
    name: "GatewayExited",
    values: [C.gateway, 910n],
    expected: { gateway: GATEWAY },
  },
  {
    title: "GatewayDisputesChanged",
    contract: "registry",
    name: "GatewayDisputesChanged",
    values: [C.gateway, 3],
    expected: { gateway: GATEWAY, openDisputes: 3 },
  },
  {
    title: "AcceptorRegistered",
    contract: "registry",
    name: "AcceptorRegistered",
    values: [C.acceptor, C.gateway, C.delegate],
    expected: { acceptor: ACCEPTOR, gateway: GATEWAY, lockDelegate: DELEGATE },
  },
  {
    title: "AcceptorApproved",
    contract: "registry",
    name: "AcceptorApproved",
    values: [C.acceptor, C.gateway],
    expected: { acceptor: ACCEPTOR },
  },
  {
    title: "AcceptorSuspended",
    contract: "registry",
    name: "AcceptorSuspended",
    values: [C.acceptor, C.governor],
    expected: { acceptor: ACCEPTOR },
  },
  {
    title: "AcceptorReinstated",
    contract: "registry",
    name: "AcceptorReinstated",
    values: [C.acceptor, C.gateway],
    expected: { acceptor: ACCEPTOR },
  },
  {
    title: "AcceptorLockDelegateSet",
    contract: "registry",
    name: "AcceptorLockDelegateSet",
    values: [C.acceptor, ZeroAddress],
    expected: { acceptor: ACCEPTOR, lockDelegate: ZeroAddress },
  },
  {
    title: "AcceptorMethodSet (added)",
    contract: "registry",
    name: "AcceptorMethodSet",
    values: [C.acceptor, SEPA, true],
    expected: { acceptor: ACCEPTOR, method: SEPA, supported: true },
  },
  {
    title: "AcceptorMethodSet (removed)",
    contract: "registry",
    name: "AcceptorMethodSet",
    values: [C.acceptor, PIX, false],
    expected: { acceptor: ACCEPTOR, method: PIX, supported: false },
  },
  {
    title: "AcceptorLimitsSet",
    contract: "registry",
    name: "AcceptorLimitsSet",
    values: [C.acceptor, C.token, 10_000_000n, 50_000_000_000n],
    expected: { acceptor: ACCEPTOR, token: USDT, minAmount: 10_000_000n, maxAmount: 50_000_000_000n },
  },
  {
    title: "TokenAllowed (allowed)",
    contract: "registry",
    name: "TokenAllowed",
    values: [C.token, true],
    expected: { token: USDT, allowed: true },
  },
  {
    title: "TokenAllowed (disallowed)",
    contract: "registry",
    name: "TokenAllowed",
    values: [C.token, false],
    expected: { token: USDT, allowed: false },
  },
];

/** Every member of the ProtocolEvent union; the type below fails to compile if one is missing. */
const ALL_EVENT_TYPES = [
  "DealOpened",
  "DealLockedByDelegate",
  "DealPerformed",
  "DealReleaseApproved",
  "DealReleased",
  "DealRefunded",
  "DealDisputed",
  "DealResolved",
  "DealSplit",
  "EvidencePosted",
  "DisputeCountSkipped",
  "PayoutDeferred",
  "OwedClaimed",
  "FloatDeposited",
  "FloatWithdrawn",
  "GatewayRegistered",
  "GatewayApproved",
  "GatewayFeeSet",
  "GatewayBondAdded",
  "GatewaySuspended",
  "GatewayReinstated",
  "GatewaySlashed",
  "GatewayExitRequested",
  "GatewayExited",
  "GatewayDisputesChanged",
  "AcceptorRegistered",
  "AcceptorApproved",
  "AcceptorSuspended",
  "AcceptorReinstated",
  "AcceptorLockDelegateSet",
  "AcceptorMethodSet",
  "AcceptorLimitsSet",
  "TokenAllowed",
] as const satisfies readonly ProtocolEventType[];
type MissingEventTypes = Exclude<ProtocolEventType, (typeof ALL_EVENT_TYPES)[number]>;
const _allEventTypesListed: [MissingEventTypes] extends [never] ? true : never = true;

describe("relayer domain (pure)", function () {
  describe("events", function () {
    describe("topicsOf", function () {
      it("lists the topic0 of every indexed escrow and registry event, and nothing else", function () {
        const topics = topicsOf();
        const expectedOf = (iface: Interface, contract: DecodeCase["contract"]) => [
          ...new Set(DECODE_CASES.filter((c) => c.contract === contract).map((c) => iface.getEvent(c.name)!.topicHash)),
        ];
        expect([...topics.escrow].sort()).to.deep.equal(expectedOf(escrowIface, "escrow").sort());
        expect([...topics.registry].sort()).to.deep.equal(expectedOf(registryIface, "registry").sort());
        expect(topics.escrow).to.have.lengthOf(15);
        expect(topics.registry).to.have.lengthOf(18);
        expect(topics.escrow).to.not.include(escrowIface.getEvent("EIP712DomainChanged")!.topicHash);
        expect(topics.registry).to.not.include(registryIface.getEvent("Paused")!.topicHash);
      });
    });

    describe("decodeLog", function () {
      it("has a case for every member of the ProtocolEvent union", function () {
        expect(_allEventTypesListed).to.equal(true);
        expect([...new Set(DECODE_CASES.map((c) => c.name))].sort()).to.deep.equal([...ALL_EVENT_TYPES].sort());
      });

      describe("decodes every event type (addresses and ids lower-cased, amounts bigint, names mapped)", function () {
        for (const c of DECODE_CASES) {
          it(c.title, function () {
            const iface = c.contract === "escrow" ? escrowIface : registryIface;
            const address = c.contract === "escrow" ? addrC("escrow") : addrC("registry");
            const decoded = decodeLog(rawLog(iface, c.name, c.values, address), SOURCES);
            expect(decoded).to.deep.equal({ ...DECODED_POS, type: c.name, ...c.expected });
          });
        }
      });

      describe("sources", function () {
        const log = () => rawLog(escrowIface, "DealPerformed", [DEAL], ESCROW);

        it("returns undefined for a log of another contract, even with an indexed topic", function () {
          expect(decodeLog({ ...log(), address: addrC("someone else") }, SOURCES)).to.equal(undefined);
          const registryLog = rawLog(registryIface, "GatewaySuspended", [C.gateway], addrC("someone else"));
          expect(decodeLog(registryLog, SOURCES)).to.equal(undefined);
        });

        it("does not decode one contract's event from the other's address", function () {
          expect(decodeLog({ ...log(), address: REGISTRY }, SOURCES)).to.equal(undefined);
          const registryLog = rawLog(registryIface, "GatewaySuspended", [C.gateway], ESCROW);
          expect(decodeLog(registryLog, SOURCES)).to.equal(undefined);
        });

        it("matches sources and log addresses regardless of case", function () {
          const upper = (a: string) => "0x" + a.slice(2).toUpperCase();
          const mixed: Sources = { escrow: addrC("escrow"), registry: upper(REGISTRY) };
          expect(decodeLog(log(), mixed)).to.deep.include({ type: "DealPerformed", dealId: DEAL });
          expect(decodeLog({ ...log(), address: upper(ESCROW) }, SOURCES)).to.deep.include({ type: "DealPerformed" });
          const registryLog = rawLog(registryIface, "GatewaySuspended", [C.gateway], REGISTRY);
          expect(decodeLog(registryLog, mixed)).to.deep.include({ type: "GatewaySuspended", gateway: GATEWAY });
        });
      });

      describe("EvidencePosted URIs (any bytes a party paid for)", function () {
        const withUri = (uriBytes: string) => {
          const log = rawLog(escrowIface, "EvidencePosted", [DEAL, C.payee, id("photo"), ""], ESCROW);
          // A string is ABI-encoded as bytes are: the same layout, any content.
          const data = AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes"], [id("photo"), uriBytes]);
          return { ...log, data };
        };

        it("replaces invalid UTF-8 instead of failing (one such log must not stop the indexer)", function () {
          const decoded = decodeLog(withUri("0x697066733a2f2fff fe41".replace(" ", "")), SOURCES);
          expect(decoded).to.deep.include({ type: "EvidencePosted", uri: "ipfs://\ufffd\ufffdA" });
          expect(decoded).to.not.have.property("uriTruncated");
        });

        it(`cuts a URI longer than ${MAX_EVIDENCE_URI_CHARS} characters and says so`, function () {
          const long = "é".repeat(MAX_EVIDENCE_URI_CHARS + 5);
          const decoded = decodeLog(withUri(hexlify(toUtf8Bytes(long))), SOURCES);
          expect(decoded).to.deep.include({
            type: "EvidencePosted",
            uri: "é".repeat(MAX_EVIDENCE_URI_CHARS),
            uriTruncated: true,
          });
          const exact = "x".repeat(MAX_EVIDENCE_URI_CHARS);
          expect(decodeLog(withUri(hexlify(toUtf8Bytes(exact))), SOURCES)).to.deep.include({ uri: exact });
        });

        it("matches evidenceUri on its own: code points, not UTF-16 units", function () {
          const emoji = "😀".repeat(MAX_EVIDENCE_URI_CHARS + 1);
          const cut = evidenceUri(toUtf8Bytes(emoji));
          expect(cut.truncated).to.equal(true);
          expect(Array.from(cut.uri)).to.have.length(MAX_EVIDENCE_URI_CHARS);
          expect(cut.uri).to.equal("😀".repeat(MAX_EVIDENCE_URI_CHARS));
        });
      });

      describe("logs the relayer does not index", function () {
        it("returns undefined for an ABI event that is not indexed (EIP712DomainChanged, Paused, MinBondSet)", function () {
          expect(decodeLog(rawLog(escrowIface, "EIP712DomainChanged", [], ESCROW), SOURCES)).to.equal(undefined);
          expect(decodeLog(rawLog(registryIface, "Paused", [C.governor], REGISTRY), SOURCES)).to.equal(undefined);
          expect(decodeLog(rawLog(registryIface, "MinBondSet", [5n], REGISTRY), SOURCES)).to.equal(undefined);
          const role = rawLog(registryIface, "RoleGranted", [id("GOVERNOR_ROLE"), C.governor, C.governor], REGISTRY);
          expect(decodeLog(role, SOURCES)).to.equal(undefined);
        });

        it("returns undefined for an unknown topic on a known address", function () {
          const unknown = { address: ESCROW, topics: [id("Unknown(uint256)")], data: "0x", ...RAW_POS };
          expect(decodeLog(unknown, SOURCES)).to.equal(undefined);
          expect(decodeLog({ ...unknown, address: REGISTRY }, SOURCES)).to.equal(undefined);
        });

        it("returns undefined for a log without topics (anonymous) on a known address", function () {
          // Documented: "returns undefined for logs the relayer does not index".
          const anonymous = { address: ESCROW, topics: [], data: "0x", ...RAW_POS };
          expect(() => decodeLog(anonymous, SOURCES)).to.not.throw();
          expect(decodeLog(anonymous, SOURCES)).to.equal(undefined);
        });

        it("throws on a known topic whose data or indexed topics do not decode (wrong ABI: fail loudly)", function () {
          const good = rawLog(escrowIface, "DealRefunded", [DEAL, 1], ESCROW);
          expect(() => decodeLog({ ...good, data: "0x1234" }, SOURCES)).to.throw(/BUFFER_OVERRUN|out-of-bounds/);
          expect(() => decodeLog({ ...good, topics: good.topics.slice(0, 1) }, SOURCES)).to.throw();
        });
      });
    });
  });

  /*//////////////////////////////////////////////////////////////
                          THE DEAL REDUCER
  //////////////////////////////////////////////////////////////*/

  describe("projection: deals", function () {
    describe("scoreOf", function () {
      it("orders by block, then log index", function () {
        expect(scoreOf(10, 3)).to.equal(10 * LOG_INDEX_SPAN + 3);
        expect(scoreOf(10, LOG_INDEX_SPAN - 1)).to.be.lessThan(scoreOf(11, 0));
        expect(Number.isSafeInteger(scoreOf(90_000_000_000, LOG_INDEX_SPAN - 1))).to.equal(true);
      });
    });

    describe("DealOpened", function () {
      it("writes the deal hash, its first history entry and every index", function () {
        const view = new MemoryView();
        const p = at(10, 2);
        apply(view, opened(p));
        expect(dealOf(view)).to.deep.equal(openedFields(p));
        expect(view.history(DEAL)).to.deep.equal([entry("DealOpened", p, { ref: REF })]);
        expectIndexed(view, "open", scoreOf(10, 2));
        expect(view.zrange(`ix:party:${PAYER}`)).to.deep.equal([DEAL]);
        expect(view.zrange(`ix:party:${PAYEE}`)).to.deep.equal([DEAL]);
        expect(view.zrange(`ix:gw:${GATEWAY}`)).to.deep.equal([DEAL]);
        expect(view.hashes.has(`acc:${PAYER}`)).to.equal(false);
      });

      it("stores kind and autoRelease of every kind", function () {
        const view = new MemoryView();
        apply(view, opened(at(10), { autoRelease: true }, DEAL), opened(at(11), { kind: "offramp" }, DEAL2));
        expect(dealOf(view, DEAL)).to.include({ kind: "payment", autoRelease: "1" });
        expect(dealOf(view, DEAL2)).to.include({ kind: "offramp", autoRelease: "0" });
        // An off-ramp's payee is the acceptor, but no float moves.
        expect([...view.hashes.keys()].filter((k) => k.startsWith("acc:"))).to.deep.equal([]);
      });

      it("an on-ramp lock moves the acceptor's float from free to locked", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 3n * AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }));
        expect(floatOf(view)).to.deep.equal({ free: (2n * AMOUNT).toString(), locked: AMOUNT.toString() });
        expect(dealOf(view)).to.include({ kind: "onramp", payer: ACCEPTOR });
        expectIndexed(view, "open", scoreOf(10, 0));
      });

      it("indexes several deals of one party by their update", function () {
        const view = new MemoryView();
        apply(view, opened(at(10), {}, DEAL), opened(at(11), {}, DEAL2), performed(at(12), DEAL));
        expect(view.zrange(`ix:party:${PAYER}`)).to.deep.equal([DEAL2, DEAL]);
        expect(view.zrange("ix:updated")).to.deep.equal([DEAL2, DEAL]);
        expect(view.zrange("ix:status:open")).to.deep.equal([DEAL2]);
        expect(view.zrange("ix:status:performed")).to.deep.equal([DEAL]);
      });
    });

    describe("payment: open → performed → released", function () {
      it("moves status, indexes, history and the gateway's owed fee", function () {
        const view = new MemoryView();
        const [p1, p2, p3] = [at(10, 1), at(11, 4), at(12, 0)];
        apply(view, opened(p1));

        apply(view, performed(p2));
        expect(dealOf(view)).to.deep.equal({
          ...openedFields(p1),
          status: "performed",
          performedBlock: "11",
          updatedBlock: "11",
          updatedLog: "4",
        });
        expectIndexed(view, "performed", scoreOf(11, 4));

        apply(view, released(p3));
        expect(dealOf(view)).to.deep.equal({
          ...openedFields(p1),
          status: "released",
          performedBlock: "11",
          payeeAmount: NET.toString(),
          fee: FEE.toString(),
          refund: "0",
          updatedBlock: "12",
          updatedLog: "0",
        });
        expectIndexed(view, "released", scoreOf(12, 0));
        expect(owedOf(view, GATEWAY)).to.equal(FEE.toString());
        expect(view.history(DEAL)).to.deep.equal([
          entry("DealOpened", p1, { ref: REF }),
          entry("DealPerformed", p2, {}),
          entry("DealReleased", p3, { payeeAmount: NET.toString(), fee: FEE.toString() }),
        ]);
      });

      it("the claim path (payee claims after the payer's silence) is a release after performed", function () {
        const view = new MemoryView();
        apply(view, opened(at(10), { autoRelease: true }), performed(at(11)), released(at(500, 3)));
        expect(dealOf(view)).to.include({ status: "released", autoRelease: "1", payerReleased: "0" });
        expectIndexed(view, "released", scoreOf(500, 3));
        expect(view.history(DEAL).map((h) => h.event)).to.deep.equal(["DealOpened", "DealPerformed", "DealReleased"]);
      });

      it("settle with both signatures releases directly from open", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), released(at(11, 2)));
        expect(dealOf(view)).to.include({
          status: "released",
          payeeAmount: NET.toString(),
          fee: FEE.toString(),
          refund: "0",
          payerReleased: "0",
          updatedBlock: "11",
          updatedLog: "2",
        });
        expect(dealOf(view)).to.not.have.property("performedBlock");
        expectIndexed(view, "released", scoreOf(11, 2));
        expect(owedOf(view, GATEWAY)).to.equal(FEE.toString());
      });

      it("a zero fee credits nothing to the gateway", function () {
        const view = new MemoryView();
        apply(view, opened(at(10), { feeBps: 0 }), released(at(11)));
        expect(dealOf(view)).to.include({ status: "released", payeeAmount: AMOUNT.toString(), fee: "0" });
        expect(view.hashes.has(`owed:${GATEWAY}`)).to.equal(false);
      });
    });

    describe("open + releaseApproved → performed → released", function () {
      it("records the payer's release, then pays out when the payee performs (one transaction)", function () {
        const view = new MemoryView();
        const [p1, p2, p3, p4] = [at(10), at(11, 5), at(12, 0), at(12, 1)];
        apply(view, opened(p1), approved(p2));
        expect(dealOf(view)).to.include({ status: "open", payerReleased: "1", updatedBlock: "11", updatedLog: "5" });
        expectIndexed(view, "open", scoreOf(11, 5));

        apply(view, performed(p3));
        expect(dealOf(view)).to.include({ status: "performed", payerReleased: "1", performedBlock: "12" });
        expectIndexed(view, "performed", scoreOf(12, 0));

        apply(view, released(p4));
        expect(dealOf(view)).to.include({ status: "released", payerReleased: "1", updatedLog: "1" });
        expectIndexed(view, "released", scoreOf(12, 1));
        expect(view.history(DEAL)).to.deep.equal([
          entry("DealOpened", p1, { ref: REF }),
          entry("DealReleaseApproved", p2, {}),
          entry("DealPerformed", p3, {}),
          entry("DealReleased", p4, { payeeAmount: NET.toString(), fee: FEE.toString() }),
        ]);
      });
    });

    describe("open → refunded", function () {
      for (const reason of REFUND_REASONS.filter((r) => r !== "lock_expired")) {
        it(`refunds the whole amount with reason ${reason}, no fee`, function () {
          const view = new MemoryView();
          const p2 = at(20, 3);
          apply(view, opened(at(10)), refunded(p2, reason));
          expect(dealOf(view)).to.deep.equal({
            ...openedFields(at(10)),
            status: "refunded",
            refundReason: reason,
            payeeAmount: "0",
            fee: "0",
            refund: AMOUNT.toString(),
            updatedBlock: "20",
            updatedLog: "3",
          });
          expectIndexed(view, "refunded", scoreOf(20, 3));
          expect(view.history(DEAL)[1]).to.deep.equal(entry("DealRefunded", p2, { reason }));
          expect(view.hashes.has(`owed:${GATEWAY}`)).to.equal(false);
        });
      }
    });

    describe("performed → refunded (cancel)", function () {
      for (const reason of ["payee_cancel", "mutual_cancel"] as const) {
        it(`refunds a performed deal (${reason})`, function () {
          const view = new MemoryView();
          apply(view, opened(at(10)), performed(at(11)), refunded(at(12), reason));
          expect(dealOf(view)).to.include({ status: "refunded", refundReason: reason, refund: AMOUNT.toString() });
          expectIndexed(view, "refunded", scoreOf(12, 0));
          expect(view.history(DEAL).map((h) => h.event)).to.deep.equal(["DealOpened", "DealPerformed", "DealRefunded"]);
        });
      }
    });

    describe("performed → disputed → resolved / refunded", function () {
      it("a dispute records who disputed, whether the gateway holds it, and when (the block's time)", function () {
        const view = new MemoryView();
        const p3 = at(12, 6);
        apply(view, opened(at(10)), performed(at(11)), disputed(p3, PAYEE));
        expect(dealOf(view)).to.include({
          status: "disputed",
          disputedBy: PAYEE,
          gatewayHolds: "1",
          disputedAt: String(timeOf(12)),
          updatedBlock: "12",
          updatedLog: "6",
        });
        expectIndexed(view, "disputed", scoreOf(12, 6));
        expect(view.history(DEAL)[2]).to.deep.equal(entry("DealDisputed", p3, { by: PAYEE, gatewayHolds: true }));
      });

      it("a dispute the registry did not count: DisputeCountSkipped in the history, then an unheld dispute", function () {
        const view = new MemoryView();
        const [p3, p4] = [at(12, 0), at(12, 1)];
        apply(view, opened(at(10)), performed(at(11)), skipped(p3, true), disputed(p4, PAYER, DEAL, false));
        expect(dealOf(view)).to.include({ status: "disputed", gatewayHolds: "0", updatedLog: "1" });
        expect(view.history(DEAL).slice(2)).to.deep.equal([
          entry("DisputeCountSkipped", p3, { gateway: GATEWAY, opened: true }),
          entry("DealDisputed", p4, { by: PAYER, gatewayHolds: false }),
        ]);
      });

      it("a dispute that ends without the registry uncounting it: DisputeCountSkipped after the final event", function () {
        const view = new MemoryView();
        apply(
          view,
          opened(at(10)),
          performed(at(11)),
          disputed(at(12)),
          released(at(13, 0)),
          skipped(at(13, 1), false),
        );
        expect(dealOf(view)).to.include({ status: "released", updatedBlock: "13", updatedLog: "0" });
        expect(view.history(DEAL).at(-1)).to.deep.equal(
          entry("DisputeCountSkipped", at(13, 1), { gateway: GATEWAY, opened: false }),
        );
      });

      it("a DealDisputed without its block's timestamp is refused (the indexer always adds it)", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), performed(at(11)));
        const bare = ev("DealDisputed", at(12), { dealId: DEAL, by: PAYER, gatewayHolds: true });
        expect(() => applyEvent(view, bare)).to.throw(ProjectionError, /timestamp/);
      });

      it("the payer gives in: a disputed deal released pays the payee the amount less the fee", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), performed(at(11)), disputed(at(12)), released(at(13)));
        expect(dealOf(view)).to.include({
          status: "released",
          disputedBy: PAYER,
          payeeAmount: NET.toString(),
          fee: FEE.toString(),
          refund: "0",
        });
        expectIndexed(view, "released", scoreOf(13, 0));
        expect(owedOf(view, GATEWAY)).to.equal(FEE.toString());
      });

      it("evidence from anyone the escrow lets post is kept in the history and moves the deal's update", function () {
        const view = new MemoryView();
        const [p4, p5] = [at(13, 2), at(14, 0)];
        apply(
          view,
          opened(at(10)),
          performed(at(11)),
          disputed(at(12)),
          evidence(p4, PAYER),
          evidence(p5, GATEWAY, ""),
        );
        expect(dealOf(view)).to.include({ status: "disputed", updatedBlock: "14", updatedLog: "0" });
        expectIndexed(view, "disputed", scoreOf(14, 0));
        expect(view.history(DEAL).slice(3)).to.deep.equal([
          entry("EvidencePosted", p4, { by: PAYER, contentHash: id("content ipfs://proof"), uri: "ipfs://proof" }),
          entry("EvidencePosted", p5, { by: GATEWAY, contentHash: id("content "), uri: "" }),
        ]);
      });

      it("the gateway's split pays the payee, credits the fee and refunds the rest", function () {
        const view = new MemoryView();
        const p4 = at(13, 1);
        // The gateway awards 600,000 to the payee: 3,000 fee, 597,000 net; 400,000 back to the payer.
        apply(view, opened(at(10)), performed(at(11)), disputed(at(12)), resolved(p4, 597_000n, 3_000n, 400_000n));
        expect(dealOf(view)).to.include({
          status: "resolved",
          disputedBy: PAYER,
          resolvedBy: GATEWAY,
          payeeAmount: "597000",
          fee: "3000",
          refund: "400000",
          updatedBlock: "13",
          updatedLog: "1",
        });
        expect(dealOf(view)).to.not.have.property("refundReason");
        expectIndexed(view, "resolved", scoreOf(13, 1));
        expect(owedOf(view, GATEWAY)).to.equal("3000");
        expect(dealOf(view)).to.include({ reasons: REASONS.slice(2) });
        expect(view.history(DEAL)[3]).to.deep.equal(
          entry("DealResolved", p4, {
            by: GATEWAY,
            payeeAmount: "597000",
            fee: "3000",
            refund: "400000",
            reasons: REASONS,
          }),
        );
      });

      it("the arbiter's ruling charges no fee", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), performed(at(11)), disputed(at(12)), resolved(at(99), 0n, 0n, AMOUNT, ARBITER));
        expect(dealOf(view)).to.include({ status: "resolved", resolvedBy: ARBITER, fee: "0", refund: "1000000" });
        expect(view.hashes.has(`owed:${GATEWAY}`)).to.equal(false);
      });

      for (const reason of ["payee_cancel", "mutual_cancel"] as const) {
        it(`a disputed deal can still be cancelled (${reason})`, function () {
          const view = new MemoryView();
          apply(view, opened(at(10)), performed(at(11)), disputed(at(12)), refunded(at(13), reason));
          expect(dealOf(view)).to.include({ status: "refunded", refundReason: reason, disputedBy: PAYER });
          expectIndexed(view, "refunded", scoreOf(13, 0));
        });
      }
    });

    describe("DealReleased carries no amounts", function () {
      it("pays the payee the amount less floor(amount × feeBps / 10,000), the rest to the gateway", function () {
        const view = new MemoryView();
        // 1,000,037 at 75 bps: 7,500.28 rounds down to 7,500.
        apply(view, opened(at(10), { amount: 1_000_037n, feeBps: 75 }), performed(at(11)), released(at(12)));
        expect(dealOf(view)).to.include({ payeeAmount: "992537", fee: "7500", refund: "0" });
        expect(owedOf(view, GATEWAY)).to.equal("7500");
        expect(view.history(DEAL)[2].args).to.deep.equal({ payeeAmount: "992537", fee: "7500" });
      });
    });

    describe("split by agreement", function () {
      for (const [from, path] of [
        ["open (even past its deadline)", [opened(at(10))]],
        ["performed", [opened(at(10)), performed(at(11))]],
        ["disputed", [opened(at(10)), performed(at(11)), disputed(at(12))]],
      ] as [string, ProtocolEvent[]][]) {
        it(`ends a deal that is ${from}: the payee's share less the fee, the fee owed, the rest back`, function () {
          const view = new MemoryView();
          apply(view, ...path, split(at(20, 1), 696_500n, 3_500n, 300_000n));
          expect(dealOf(view)).to.include({ status: "split", payeeAmount: "696500", fee: "3500", refund: "300000" });
          expectIndexed(view, "split", scoreOf(20, 1));
          expect(owedOf(view, GATEWAY)).to.equal("3500");
          expect(view.history(DEAL).at(-1)).to.deep.equal(
            entry("DealSplit", at(20, 1), { payeeAmount: "696500", fee: "3500", refund: "300000" }),
          );
        });
      }

      it("returns the payer's share of an on-ramp deal to the acceptor's free float", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 2n * AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }));
        apply(view, split(at(11), 0n, 0n, AMOUNT));
        expect(floatOf(view)).to.deep.equal({ free: (2n * AMOUNT).toString(), locked: "0" });
        expect(view.hashes.has(`owed:${GATEWAY}`)).to.equal(false);
      });
    });

    describe("a lock by the acceptor's delegate", function () {
      const delegateLock = (pos: LogPosition, over: Partial<DealParams> = {}, dealId = DEAL) =>
        opened(pos, { kind: "onramp", payer: ACCEPTOR, salt: DELEGATE_SALT, ...over }, dealId);

      it("records who locked: the acceptor by default, its delegate after DealLockedByDelegate", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 2n * AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }, DEAL2));
        expect(dealOf(view, DEAL2)).to.include({ lockedBy: ACCEPTOR });
        apply(view, delegateLock(at(11, 0)), lockedByDelegate(at(11, 1)));
        expect(dealOf(view)).to.include({ status: "open", lockedBy: DELEGATE, updatedLog: "1" });
        expect(view.history(DEAL)[1]).to.deep.equal(entry("DealLockedByDelegate", at(11, 1), { delegate: DELEGATE }));
      });

      for (const status of ["performed", "disputed"] as const) {
        it(`expires ${status}: refunded (lock_expired) to the acceptor's free float`, function () {
          const view = new MemoryView();
          apply(view, deposited(at(9), AMOUNT), delegateLock(at(10)), lockedByDelegate(at(10, 1)), performed(at(11)));
          if (status === "disputed") apply(view, disputed(at(12), PAYEE));
          apply(view, refunded(at(50), "lock_expired"));
          expect(dealOf(view)).to.include({ status: "refunded", refundReason: "lock_expired", refund: "1000000" });
          expect(floatOf(view)).to.deep.equal({ free: AMOUNT.toString(), locked: "0" });
        });
      }

      it("refuses lock_expired on an open deal, and on a lock the acceptor made itself", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 3n * AMOUNT), delegateLock(at(10)), lockedByDelegate(at(10, 1)));
        expect(() => applyEvent(view, refunded(at(11), "lock_expired"))).to.throw(ProjectionError, /open/);
        apply(view, opened(at(12), { kind: "onramp", payer: ACCEPTOR }, DEAL2), performed(at(13), DEAL2));
        expect(() => applyEvent(view, refunded(at(14), "lock_expired", DEAL2))).to.throw(
          ProjectionError,
          /not a delegate's lock/,
        );
      });

      it("refuses DealLockedByDelegate on a deal without the delegate prefix, or twice", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 3n * AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }));
        expect(() => applyEvent(view, lockedByDelegate(at(10, 1)))).to.throw(ProjectionError, /delegate/);
        apply(view, delegateLock(at(11), {}, DEAL2), lockedByDelegate(at(11, 1), DEAL2));
        expect(() => applyEvent(view, lockedByDelegate(at(11, 2), DEAL2))).to.throw(ProjectionError, /delegate/);
      });
    });

    describe("on-ramp floats", function () {
      const onramp = (pos: LogPosition) => opened(pos, { kind: "onramp", payer: ACCEPTOR });

      it("release: locked − amount, free unchanged; the fee is owed to the gateway", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 3n * AMOUNT), onramp(at(10)), performed(at(11)), released(at(12)));
        expect(floatOf(view)).to.deep.equal({ free: (2n * AMOUNT).toString(), locked: "0" });
        expect(owedOf(view, GATEWAY)).to.equal(FEE.toString());
        expect(view.zscore(`ix:party:${ACCEPTOR}`, DEAL)).to.equal(scoreOf(12, 0));
      });

      it("refund: locked − amount, free + amount", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 3n * AMOUNT), onramp(at(10)), refunded(at(12), "deadline"));
        expect(floatOf(view)).to.deep.equal({ free: (3n * AMOUNT).toString(), locked: "0" });
      });

      it("resolve: locked − amount, free + refund", function () {
        const view = new MemoryView();
        apply(
          view,
          deposited(at(9), 3n * AMOUNT),
          onramp(at(10)),
          performed(at(11)),
          disputed(at(12), PAYEE),
          resolved(at(13), 248_750n, 1_250n, 750_000n),
        );
        expect(floatOf(view)).to.deep.equal({ free: (2n * AMOUNT + 750_000n).toString(), locked: "0" });
        expect(owedOf(view, GATEWAY)).to.equal("1250");
      });

      it("two locks and one release leave the other deal's amount locked", function () {
        const view = new MemoryView();
        apply(
          view,
          deposited(at(9), 3n * AMOUNT),
          onramp(at(10)),
          opened(at(11), { kind: "onramp", payer: ACCEPTOR, salt: id("salt 2") }, DEAL2),
          released(at(12)),
        );
        expect(floatOf(view)).to.deep.equal({ free: AMOUNT.toString(), locked: AMOUNT.toString() });
      });

      it("keeps floats per token", function () {
        const view = new MemoryView();
        apply(
          view,
          deposited(at(9), AMOUNT),
          deposited(at(9, 1), 2n * AMOUNT, ACCEPTOR, DAI),
          opened(at(10), { kind: "onramp", payer: ACCEPTOR, token: DAI }),
        );
        expect(floatOf(view)).to.deep.equal({ free: AMOUNT.toString(), locked: "0" });
        expect(floatOf(view, ACCEPTOR, DAI)).to.deep.equal({ free: AMOUNT.toString(), locked: AMOUNT.toString() });
      });
    });

    describe("float deposits and withdrawals", function () {
      it("credit and debit the free float", function () {
        const view = new MemoryView();
        apply(view, deposited(at(1), 500n));
        expect(floatOf(view)).to.deep.equal({ free: "500", locked: "0" });
        apply(view, deposited(at(2), 250n), withdrawn(at(3), 700n));
        expect(floatOf(view)).to.deep.equal({ free: "50", locked: "0" });
        apply(view, withdrawn(at(4), 50n));
        expect(floatOf(view)).to.deep.equal({ free: "0", locked: "0" });
      });

      it("keep the acceptor's registry fields", function () {
        const view = new MemoryView();
        apply(view, registeredAcceptor(at(1)), deposited(at(2), 500n));
        expect(view.hashes.get(`acc:${ACCEPTOR}`)).to.include({
          status: "pending",
          gateway: GATEWAY,
          lockDelegate: DELEGATE,
          registeredBlock: "1",
          [`free:${USDT}`]: "500",
        });
      });
    });

    describe("owed payouts", function () {
      it("PayoutDeferred credits the account and appends to the deal's history; OwedClaimed debits", function () {
        const view = new MemoryView();
        const [p3, p4] = [at(12, 0), at(12, 1)];
        apply(view, opened(at(10)), performed(at(11)), released(p3), deferred(p4, PAYEE, NET));
        expect(owedOf(view, PAYEE)).to.equal(NET.toString());
        expect(owedOf(view, GATEWAY)).to.equal(FEE.toString());
        expect(view.history(DEAL)[3]).to.deep.equal(
          entry("PayoutDeferred", p4, { token: USDT, account: PAYEE, amount: NET.toString() }),
        );
        // The deal itself stays as released.
        expect(dealOf(view)).to.include({ status: "released", updatedBlock: "12", updatedLog: "0" });

        apply(view, claimed(at(30), PAYEE, NET));
        expect(owedOf(view, PAYEE)).to.equal("0");
        apply(view, claimed(at(31), GATEWAY, FEE));
        expect(owedOf(view, GATEWAY)).to.equal("0");
      });

      it("accumulates owed per account and token over several deals", function () {
        const view = new MemoryView();
        apply(
          view,
          opened(at(10), {}, DEAL),
          opened(at(10, 1), { token: DAI, salt: id("salt 2") }, DEAL2),
          released(at(11), DEAL),
          refunded(at(11, 1), "deadline", DEAL2),
          deferred(at(11, 2), PAYER, AMOUNT, DEAL2, DAI),
          deferred(at(11, 3), PAYEE, NET, DEAL),
        );
        expect(view.hashes.get(`owed:${PAYER}`)).to.deep.equal({ [DAI]: AMOUNT.toString() });
        expect(view.hashes.get(`owed:${PAYEE}`)).to.deep.equal({ [USDT]: NET.toString() });
        expect(view.hashes.get(`owed:${GATEWAY}`)).to.deep.equal({ [USDT]: FEE.toString() });
      });
    });

    describe("reindexDeal", function () {
      it("adds a new deal to every index and moves a changed status", function () {
        const view = new MemoryView();
        const before = { status: "open", payer: PAYER, payee: PAYEE, gateway: GATEWAY };
        reindexDeal(view, DEAL, undefined, before, 5);
        expectIndexed(view, "open", 5, DEAL, before);
        reindexDeal(view, DEAL, before, { ...before, status: "performed" }, 9);
        expectIndexed(view, "performed", 9, DEAL, before);
        expect(view.zsets.has("ix:status:open")).to.equal(false);
        reindexDeal(view, DEAL, { ...before, status: "performed" }, { ...before, status: "performed" }, 12);
        expectIndexed(view, "performed", 12, DEAL, before);
      });
    });

    describe("encodeHistory / decodeHistory", function () {
      const TX = `0x${"ab".repeat(32)}`;
      it("stores an entry compactly and reads it back", function () {
        const entry: HistoryEntry = {
          event: "PayoutDeferred",
          blockNumber: 123_456,
          txHash: TX,
          logIndex: 7,
          args: { token: USDT, account: PAYEE, amount: "90" },
        };
        const stored = encodeHistory(entry);
        const tx = Buffer.from("ab".repeat(32), "hex").toString("base64url");
        expect(tx).to.have.length(43);
        expect(stored).to.equal(`123456:7:${tx}:PayoutDeferred:${JSON.stringify(entry.args)}`);
        expect(decodeHistory(stored, {})).to.deep.equal(entry);
      });

      it("leaves out empty args", function () {
        const entry: HistoryEntry = { event: "DealPerformed", blockNumber: 1, txHash: TX, logIndex: 0, args: {} };
        expect(encodeHistory(entry)).to.equal(
          `1:0:${Buffer.from("ab".repeat(32), "hex").toString("base64url")}:DealPerformed`,
        );
        expect(decodeHistory(encodeHistory(entry), {})).to.deep.equal(entry);
      });

      it("takes the arguments of once-per-deal events from the deal instead of storing them twice", function () {
        const deal: Hash = {
          ref: "cd".repeat(32),
          payeeAmount: "9950",
          fee: "50",
          refund: "0",
          refundReason: "cancel",
          disputedBy: PAYEE,
          gatewayHolds: "1",
          resolvedBy: GATEWAY,
          reasons: "ef".repeat(32),
          lockedBy: DELEGATE,
        };
        const cases: [string, HistoryEntry["args"]][] = [
          ["DealOpened", { ref: `0x${"cd".repeat(32)}` }],
          ["DealLockedByDelegate", { delegate: DELEGATE }],
          ["DealReleased", { payeeAmount: "9950", fee: "50" }],
          ["DealRefunded", { reason: "cancel" }],
          ["DealDisputed", { by: PAYEE, gatewayHolds: true }],
          [
            "DealResolved",
            { by: GATEWAY, payeeAmount: "9950", fee: "50", refund: "0", reasons: `0x${"ef".repeat(32)}` },
          ],
          ["DealSplit", { payeeAmount: "9950", fee: "50", refund: "0" }],
        ];
        for (const [event, args] of cases) {
          const entry: HistoryEntry = { event, blockNumber: 9, txHash: TX, logIndex: 2, args };
          const stored = encodeHistory(entry);
          expect(stored).to.equal(`9:2:${Buffer.from("ab".repeat(32), "hex").toString("base64url")}:${event}`);
          expect(decodeHistory(stored, deal)).to.deep.equal(entry);
        }
      });

      it("round-trips any entry (fast-check)", function () {
        const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${Buffer.from(b).toString("hex")}`);
        fc.assert(
          fc.property(
            fc.constantFrom("DealPerformed", "DealReleaseApproved", "PayoutDeferred"),
            fc.nat(),
            fc.nat({ max: 99_999 }),
            hex32,
            fc.dictionary(
              fc.string().filter((k) => k !== "__proto__"),
              fc.oneof(fc.string(), fc.integer(), fc.boolean()),
            ),
            (event, blockNumber, logIndex, txHash, args) => {
              const entry: HistoryEntry = { event, blockNumber, txHash, logIndex, args };
              expect(decodeHistory(encodeHistory(entry), {})).to.deep.equal(entry);
            },
          ),
        );
      });
    });

    describe("keysRead / keysReadAfterDeal", function () {
      it("announce the hashes a settlement reads once the deal is known", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }));
        const deal = dealOf(view);
        expect(keysRead(released(at(11)))).to.deep.equal([`deal:${DEAL}`]);
        expect(keysReadAfterDeal(released(at(11)), deal)).to.deep.equal([`owed:${GATEWAY}`, `acc:${ACCEPTOR}`]);
        expect(keysReadAfterDeal(refunded(at(11), "deadline"), deal)).to.deep.equal([
          `owed:${GATEWAY}`,
          `acc:${ACCEPTOR}`,
        ]);
        expect(keysReadAfterDeal(performed(at(11)), deal)).to.deep.equal([]);
        expect(keysReadAfterDeal(released(at(11)), undefined)).to.deep.equal([]);
        expect(keysRead(opened(at(10), { kind: "onramp", payer: ACCEPTOR }))).to.deep.equal([
          `deal:${DEAL}`,
          `acc:${ACCEPTOR}`,
        ]);
        expect(keysRead(opened(at(10)))).to.deep.equal([`deal:${DEAL}`]);
        expect(keysRead(registeredAcceptor(at(1)))).to.deep.equal([`acc:${ACCEPTOR}`]);
        expect(keysRead(registeredGateway(at(1)))).to.deep.equal([`gw:${GATEWAY}`]);
        expect(keysRead(ev("TokenAllowed", at(1), { token: USDT, allowed: true }))).to.deep.equal(["tokens"]);
        expect(keysReadAfterDeal(split(at(11), 0n, 0n, AMOUNT), deal)).to.deep.equal([
          `owed:${GATEWAY}`,
          `acc:${ACCEPTOR}`,
        ]);
        for (const event of [
          evidence(at(11), PAYER),
          lockedByDelegate(at(11)),
          skipped(at(11), true),
          disputed(at(11)),
        ]) {
          expect(keysRead(event), event.type).to.deep.equal([`deal:${DEAL}`]);
          expect(keysReadAfterDeal(event, deal), event.type).to.deep.equal([]);
        }
      });
    });
  });

  describe("projection: illegal sequences throw ProjectionError", function () {
    describe("events after a final state", function () {
      const finals: [string, ProtocolEvent[]][] = [
        ["released", [opened(at(10)), performed(at(11)), released(at(12))]],
        ["refunded", [opened(at(10)), refunded(at(12), "deadline")]],
        ["resolved", [opened(at(10)), performed(at(11)), disputed(at(12)), resolved(at(13), 0n, 0n, AMOUNT)]],
        ["split", [opened(at(10)), split(at(12), 0n, 0n, AMOUNT)]],
      ];
      const laters: [string, ProtocolEvent][] = [
        ["DealPerformed", performed(at(20))],
        ["DealReleaseApproved", approved(at(20))],
        ["DealReleased", released(at(20))],
        ["DealRefunded", refunded(at(20), "payee_cancel")],
        ["DealDisputed", disputed(at(20))],
        ["DealResolved", resolved(at(20), 0n, 0n, AMOUNT)],
        ["DealSplit", split(at(20), 0n, 0n, AMOUNT)],
        ["EvidencePosted", evidence(at(20), PAYER)],
      ];
      for (const [status, path] of finals) {
        for (const [name, later] of laters) {
          it(`${name} after ${status}`, function () {
            const view = new MemoryView();
            apply(view, ...path);
            expect(() => applyEvent(view, later)).to.throw(ProjectionError, /final/);
          });
        }
      }

      it("a second settlement of a released on-ramp deal", function () {
        const view = new MemoryView();
        apply(view, deposited(at(9), 2n * AMOUNT), opened(at(10), { kind: "onramp", payer: ACCEPTOR }));
        apply(view, released(at(11)));
        expect(() => applyEvent(view, refunded(at(12), "deadline"))).to.throw(ProjectionError);
      });
    });

    describe("events for an unknown deal", function () {
      const events: ProtocolEvent[] = [
        performed(at(20)),
        approved(at(20)),
        released(at(20)),
        refunded(at(20), "deadline"),
        disputed(at(20)),
        resolved(at(20), 0n, 0n, AMOUNT),
        split(at(20), 0n, 0n, AMOUNT),
        evidence(at(20), PAYER),
        lockedByDelegate(at(20)),
        skipped(at(20), true),
      ];
      for (const event of events) {
        it(event.type, function () {
          const view = new MemoryView();
          apply(view, opened(at(10), {}, DEAL2));
          expect(() => applyEvent(view, event)).to.throw(ProjectionError, /unknown deal/);
        });
      }
    });

    it("opening the same deal twice", function () {
      const view = new MemoryView();
      apply(view, opened(at(10)));
      expect(() => applyEvent(view, opened(at(11)))).to.throw(ProjectionError, /opened twice/);
    });

    describe("settlements that do not add up to the amount", function () {
      it("DealSplit with payee + fee + refund ≠ amount", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), performed(at(11)));
        expect(() => applyEvent(view, split(at(12), NET, FEE, 1n))).to.throw(ProjectionError, /settles/);
        expect(() => applyEvent(view, split(at(12), 0n, 0n, AMOUNT - 1n))).to.throw(ProjectionError, /settles/);
      });

      it("DealResolved with payee + fee + refund ≠ amount", function () {
        const view = new MemoryView();
        apply(view, opened(at(10)), performed(at(11)), disputed(at(12)));
        expect(() => applyEvent(view, resolved(at(13), 500_000n, 0n, 500_001n))).to.throw(ProjectionError, /settles/);
        expect(() => applyEvent(view, resolved(at(13), 0n, 0n, 0n))).to.throw(ProjectionError, /settles/);
      });
    });

    describe("balances below zero", function () {
      it("OwedClaimed beyond what is owed", function () {
        const view = new MemoryView();
        expect(() => applyEvent(view, claimed(at(1), PAYEE, 1n))).to.throw(ProjectionError, /owed/);
        apply(view, opened(at(10)), released(at(11)), deferred(at(11, 1), PAYEE, NET));
        expect(() => applyEvent(view, claimed(at(12), PAYEE, NET + 1n))).to.throw(ProjectionError, /owed/);
        expect(() => applyEvent(view, claimed(at(12), PAYEE, 1n, DAI))).to.throw(ProjectionError, /owed/);
      });

      it("FloatWithdrawn beyond the free float", function () {
        const view = new MemoryView();
        expect(() => applyEvent(view, withdrawn(at(1), 1n))).to.throw(ProjectionError, /float/);
        apply(view, deposited(at(2), 3n * AMOUNT), opened(at(3), { kind: "onramp", payer: ACCEPTOR }));
        // 2 × AMOUNT is free, AMOUNT locked: the locked part cannot be withdrawn.
        expect(() => applyEvent(view, withdrawn(at(4), 2n * AMOUNT + 1n))).to.throw(ProjectionError, /float/);
      });

      it("an on-ramp lock beyond the free float", function () {
        const view = new MemoryView();
        apply(view, deposited(at(2), AMOUNT - 1n));
        expect(() => applyEvent(view, opened(at(3), { kind: "onramp", payer: ACCEPTOR }))).to.throw(
          ProjectionError,
          /float/,
        );
      });
    });

    describe("registry events for unknown entities", function () {
      it("gateway events before GatewayRegistered", function () {
        const view = new MemoryView();
        expect(() => applyEvent(view, ev("GatewaySuspended", at(1), { gateway: GATEWAY }))).to.throw(
          ProjectionError,
          /unknown gateway/,
        );
        expect(() => applyEvent(view, ev("GatewayFeeSet", at(1), { gateway: GATEWAY, feeBps: 1 }))).to.throw(
          ProjectionError,
          /unknown gateway/,
        );
      });

      it("acceptor events before AcceptorRegistered", function () {
        const view = new MemoryView();
        expect(() => applyEvent(view, ev("AcceptorApproved", at(1), { acceptor: ACCEPTOR }))).to.throw(
          ProjectionError,
          /unknown acceptor/,
        );
        const method = ev("AcceptorMethodSet", at(1), { acceptor: ACCEPTOR, method: SEPA, supported: true });
        expect(() => applyEvent(view, method)).to.throw(ProjectionError, /unknown acceptor/);
      });
    });

    // The contract emits each of these only from the statuses of DESIGN.md §4; any other order means a bug or logs
    // from an unexpected contract ("an event that does not fit the projection").
    describe("transitions the state machine forbids", function () {
      const cases: [string, ProtocolEvent[], ProtocolEvent][] = [
        ["DealPerformed on a performed deal", [opened(at(10)), performed(at(11))], performed(at(12))],
        ["DealPerformed on a disputed deal", [opened(at(10)), performed(at(11)), disputed(at(12))], performed(at(13))],
        ["DealReleaseApproved on a performed deal", [opened(at(10)), performed(at(11))], approved(at(12))],
        ["DealReleaseApproved twice", [opened(at(10)), approved(at(11))], approved(at(12))],
        ["DealDisputed on an open deal", [opened(at(10))], disputed(at(11))],
        [
          "DealDisputed on a disputed deal",
          [opened(at(10)), performed(at(11)), disputed(at(12))],
          disputed(at(13), PAYEE),
        ],
        ["DealResolved on an open deal", [opened(at(10))], resolved(at(11), 0n, 0n, AMOUNT)],
        ["DealResolved on a performed deal", [opened(at(10)), performed(at(11))], resolved(at(12), 0n, 0n, AMOUNT)],
        [
          "DealResolved on a split deal",
          [opened(at(10)), split(at(11), 0n, 0n, AMOUNT)],
          resolved(at(12), 0n, 0n, AMOUNT),
        ],
        [
          "DealRefunded (lock_expired) on a performed payment",
          [opened(at(10)), performed(at(11))],
          refunded(at(12), "lock_expired"),
        ],
        [
          "DealRefunded (deadline) on a performed deal",
          [opened(at(10)), performed(at(11))],
          refunded(at(12), "deadline"),
        ],
      ];
      for (const [title, path, event] of cases) {
        it(title, function () {
          const view = new MemoryView();
          apply(view, ...path);
          expect(() => applyEvent(view, event)).to.throw(ProjectionError);
        });
      }
    });
  });

  /*//////////////////////////////////////////////////////////////
                         REGISTRY PROJECTION
  //////////////////////////////////////////////////////////////*/

  describe("projection: registry", function () {
    it("a gateway's life cycle: registered → approved → fee → bond → suspended → reinstated → slashed → exit", function () {
      const view = new MemoryView();
      const gw = () => view.hashes.get(`gw:${GATEWAY}`);
      const steps: [ProtocolEvent, Hash][] = [
        [
          registeredGateway(at(5, 2)),
          {
            status: "pending",
            suspended: "0",
            bond: "1000",
            feeBps: "50",
            feeCapBps: "0",
            exitAt: "0",
            openDisputes: "0",
            metadata: id("terms").slice(2),
            registeredBlock: "5",
            updatedBlock: "5",
          },
        ],
        [ev("GatewayApproved", at(6), { gateway: GATEWAY, feeCapBps: 300 }), { status: "active", feeCapBps: "300" }],
        [ev("GatewayFeeSet", at(7), { gateway: GATEWAY, feeBps: 120 }), { feeBps: "120" }],
        [ev("GatewayBondAdded", at(8), { gateway: GATEWAY, bond: 1_500n }), { bond: "1500" }],
        [ev("GatewayDisputesChanged", at(9), { gateway: GATEWAY, openDisputes: 2 }), { openDisputes: "2" }],
        [ev("GatewaySuspended", at(10), { gateway: GATEWAY }), { suspended: "1" }],
        [ev("GatewayReinstated", at(11), { gateway: GATEWAY }), { suspended: "0" }],
        [
          ev("GatewaySlashed", at(12), { gateway: GATEWAY, recipient: addr("treasury"), amount: 400n, bond: 1_100n }),
          { bond: "1100" },
        ],
        [ev("GatewayDisputesChanged", at(13), { gateway: GATEWAY, openDisputes: 0 }), { openDisputes: "0" }],
        [
          ev("GatewayExitRequested", at(14), { gateway: GATEWAY, exitAt: 1_900_000_000 }),
          { status: "exiting", exitAt: "1900000000" },
        ],
        [ev("GatewayExited", at(15), { gateway: GATEWAY }), { status: "exited", bond: "0" }],
      ];
      let expected: Hash = {};
      for (const [event, change] of steps) {
        apply(view, event);
        expected = { ...expected, ...change, updatedBlock: String(event.block) };
        expect(gw(), event.type).to.deep.equal(expected);
      }
      expect(view.zscore("gws", GATEWAY)).to.equal(scoreOf(5, 2));
      expect(gw()).to.include({ registeredBlock: "5", feeBps: "120", feeCapBps: "300" });
    });

    it("suspension is a flag apart from the life cycle: an exiting gateway stays exiting, its exitAt kept", function () {
      const view = new MemoryView();
      apply(
        view,
        registeredGateway(at(5)),
        ev("GatewayApproved", at(6), { gateway: GATEWAY, feeCapBps: 300 }),
        ev("GatewayExitRequested", at(7), { gateway: GATEWAY, exitAt: 1_900_000_000 }),
        ev("GatewaySuspended", at(8), { gateway: GATEWAY }),
      );
      expect(view.hashes.get(`gw:${GATEWAY}`)).to.include({
        status: "exiting",
        suspended: "1",
        exitAt: "1900000000",
        updatedBlock: "8",
      });
      apply(view, ev("GatewayReinstated", at(9), { gateway: GATEWAY }));
      expect(view.hashes.get(`gw:${GATEWAY}`)).to.include({ status: "exiting", suspended: "0", exitAt: "1900000000" });
    });

    it("a suspended pending gateway stays suspended once approved", function () {
      const view = new MemoryView();
      apply(
        view,
        registeredGateway(at(5)),
        ev("GatewaySuspended", at(6), { gateway: GATEWAY }),
        ev("GatewayApproved", at(7), { gateway: GATEWAY, feeCapBps: 300 }),
      );
      expect(view.hashes.get(`gw:${GATEWAY}`)).to.include({ status: "active", suspended: "1" });
    });

    it("gateways are ordered by registration in `gws`", function () {
      const view = new MemoryView();
      const gw2 = addr("gateway 2");
      apply(view, registeredGateway(at(7, 1), gw2), registeredGateway(at(7, 0)));
      expect(view.zrange("gws")).to.deep.equal([GATEWAY, gw2]);
      expect(view.zscore("gws", gw2)).to.equal(scoreOf(7, 1));
    });

    it("an acceptor's life cycle: registered → approved → suspended → reinstated, lock delegate", function () {
      const view = new MemoryView();
      const acc = () => view.hashes.get(`acc:${ACCEPTOR}`);
      apply(view, registeredAcceptor(at(20, 3)));
      expect(acc()).to.deep.equal({
        status: "pending",
        gateway: GATEWAY,
        lockDelegate: DELEGATE,
        registeredBlock: "20",
        updatedBlock: "20",
      });
      expect(view.zscore("accs", ACCEPTOR)).to.equal(scoreOf(20, 3));
      apply(view, ev("AcceptorApproved", at(21), { acceptor: ACCEPTOR }));
      expect(acc()).to.include({ status: "active", updatedBlock: "21" });
      apply(view, ev("AcceptorSuspended", at(22), { acceptor: ACCEPTOR }));
      expect(acc()).to.include({ status: "suspended", updatedBlock: "22" });
      apply(view, ev("AcceptorReinstated", at(23), { acceptor: ACCEPTOR }));
      expect(acc()).to.include({ status: "active", updatedBlock: "23" });
      apply(view, ev("AcceptorLockDelegateSet", at(24), { acceptor: ACCEPTOR, lockDelegate: ZeroAddress }));
      expect(acc()).to.deep.equal({
        status: "active",
        gateway: GATEWAY,
        lockDelegate: ZeroAddress,
        registeredBlock: "20",
        updatedBlock: "24",
      });
    });

    it("methods are sets per acceptor and per method", function () {
      const view = new MemoryView();
      const acc2 = addr("acceptor 2");
      const method = (pos: LogPosition, m: string, supported: boolean, acceptor = ACCEPTOR) =>
        ev("AcceptorMethodSet", pos, { acceptor, method: m, supported });
      apply(view, registeredAcceptor(at(1)), registeredAcceptor(at(2), acc2));
      apply(view, method(at(3), SEPA, true), method(at(3, 1), PIX, true), method(at(4), SEPA, true, acc2));
      apply(view, method(at(5), SEPA, true)); // a set: no duplicate
      expect(view.smembers(`accm:${ACCEPTOR}`)).to.deep.equal([SEPA, PIX].sort());
      expect(view.smembers(`ix:method:${SEPA}`)).to.deep.equal([ACCEPTOR, acc2].sort());
      expect(view.smembers(`ix:method:${PIX}`)).to.deep.equal([ACCEPTOR]);
      expect(view.hashes.get(`acc:${ACCEPTOR}`)).to.include({ updatedBlock: "5" });

      apply(view, method(at(6), SEPA, false));
      expect(view.smembers(`accm:${ACCEPTOR}`)).to.deep.equal([PIX]);
      expect(view.smembers(`ix:method:${SEPA}`)).to.deep.equal([acc2]);
      apply(view, method(at(7), PIX, false));
      expect(view.sets.has(`accm:${ACCEPTOR}`)).to.equal(false);
      expect(view.sets.has(`ix:method:${PIX}`)).to.equal(false);
      expect(view.zrange("accs")).to.deep.equal([ACCEPTOR, acc2]);
    });

    it("limits are kept per token, beside the float", function () {
      const view = new MemoryView();
      const limits = (pos: LogPosition, token: string, minAmount: bigint, maxAmount: bigint) =>
        ev("AcceptorLimitsSet", pos, { acceptor: ACCEPTOR, token, minAmount, maxAmount });
      apply(view, registeredAcceptor(at(1)), limits(at(2), USDT, 10n, 50n), limits(at(3), DAI, 1n, 2n));
      apply(view, deposited(at(4), 30n), limits(at(5), USDT, 20n, 60n));
      expect(view.hashes.get(`acc:${ACCEPTOR}`)).to.include({
        [`min:${USDT}`]: "20",
        [`max:${USDT}`]: "60",
        [`min:${DAI}`]: "1",
        [`max:${DAI}`]: "2",
        [`free:${USDT}`]: "30",
        updatedBlock: "5",
      });
    });

    it("tokens are allowed and disallowed in one hash", function () {
      const view = new MemoryView();
      apply(
        view,
        ev("TokenAllowed", at(1), { token: USDT, allowed: true }),
        ev("TokenAllowed", at(2), { token: DAI, allowed: true }),
        ev("TokenAllowed", at(3), { token: DAI, allowed: false }),
      );
      expect(view.hashes.get("tokens")).to.deep.equal({ [USDT]: "1", [DAI]: "0" });
    });
  });

  /*//////////////////////////////////////////////////////////////
                                VIEWS
  //////////////////////////////////////////////////////////////*/

  describe("views", function () {
    describe("confirmationsOf / finalityOf", function () {
      it("counts the event's own block: confirmations = head − block + 1, at least 1 (a stale head)", function () {
        expect(confirmationsOf(10, 10)).to.equal(1);
        expect(confirmationsOf(10, 11)).to.equal(2);
        expect(confirmationsOf(10, 12)).to.equal(3);
        // The head is cached briefly: an indexed event is in a mined block, so it has one confirmation at least.
        expect(confirmationsOf(10, 9)).to.equal(1);
        expect(confirmationsOf(10, 0)).to.equal(1);
      });

      it("is final exactly at the confirmation depth", function () {
        expect(finalityOf(10, { head: 11, confirmations: 3 })).to.equal("pending");
        expect(finalityOf(10, { head: 12, confirmations: 3 })).to.equal("final");
        expect(finalityOf(10, { head: 13, confirmations: 3 })).to.equal("final");
        expect(finalityOf(10, { head: 10, confirmations: 2 })).to.equal("pending");
        expect(finalityOf(10, { head: 10, confirmations: 1 })).to.equal("final");
        expect(finalityOf(10, { head: 8, confirmations: 2 })).to.equal("pending");
      });
    });

    describe("dealView", function () {
      const build = (...events: ProtocolEvent[]) => {
        const view = new MemoryView();
        apply(view, ...events);
        return view;
      };
      const WINDOW = 3 * 86_400;
      const NOW = timeOf(20);
      const CONTEXT = { resolutionWindow: WINDOW };
      const depth = (head: number, confirmations: number) => ({ head, confirmations, now: NOW });

      it("shows a released deal with typed fields and per-entry finality (depth 3)", function () {
        const [p1, p2, p3] = [at(8, 1), at(9, 0), at(10, 4)];
        const view = build(opened(p1), performed(p2), released(p3));
        const shown = dealView(DEAL, dealOf(view), view.history(DEAL), depth(11, 3), CONTEXT);
        const d = dealParams();
        expect(shown).to.deep.equal({
          dealId: DEAL,
          status: "released",
          kind: "payment",
          payer: PAYER,
          payee: PAYEE,
          gateway: GATEWAY,
          token: USDT,
          amount: "1000000",
          deadline: d.deadline,
          releaseWindow: d.releaseWindow,
          feeBps: FEE_BPS,
          autoRelease: false,
          salt: SALT,
          ref: REF,
          payerReleased: false,
          flags: 0,
          evidence: [],
          payeeAmount: NET.toString(),
          fee: FEE.toString(),
          refund: "0",
          openedBlock: 8,
          updatedBlock: 10,
          confirmations: 2,
          finality: "pending",
          history: [
            { ...entry("DealOpened", p1, { ref: REF }), confirmations: 4, finality: "final" },
            { ...entry("DealPerformed", p2, {}), confirmations: 3, finality: "final" },
            {
              ...entry("DealReleased", p3, { payeeAmount: NET.toString(), fee: FEE.toString() }),
              confirmations: 2,
              finality: "pending",
            },
          ],
        });
        const later = dealView(DEAL, dealOf(view), view.history(DEAL), depth(12, 3), CONTEXT);
        expect(later).to.include({ confirmations: 3, finality: "final" });
        expect(later.history.map((h) => h.finality)).to.deep.equal(["final", "final", "final"]);
      });

      it("has no settlement fields while open, and booleans from the flags", function () {
        const view = build(opened(at(10), { autoRelease: true }), approved(at(11)));
        const shown = dealView(DEAL, dealOf(view), view.history(DEAL), depth(11, 1), CONTEXT);
        expect(shown).to.include({
          status: "open",
          autoRelease: true,
          payerReleased: true,
          flags: 1,
          finality: "final",
        });
        expect(shown).to.not.have.any.keys(
          "payeeAmount",
          "fee",
          "refund",
          "refundReason",
          "disputedBy",
          "resolvedBy",
          "gatewayHolds",
          "disputeRuler",
          "resolutionDeadline",
          "lockedBy",
          "lockExpiry",
        );
        expect(shown.salt).to.match(/^0x[0-9a-f]{64}$/);
        expect(shown.ref).to.match(/^0x[0-9a-f]{64}$/);
      });

      it("shows the refund reason of a refunded deal", function () {
        const view = build(opened(at(10)), refunded(at(11), "mutual_cancel"));
        const shown = dealView(DEAL, dealOf(view), view.history(DEAL), depth(20, 3), CONTEXT);
        expect(shown).to.include({
          status: "refunded",
          refundReason: "mutual_cancel",
          payeeAmount: "0",
          fee: "0",
          refund: "1000000",
        });
        expect(shown).to.not.have.any.keys("disputedBy", "resolvedBy");
      });

      it("shows who disputed and who resolved", function () {
        const view = build(
          opened(at(10)),
          performed(at(11)),
          disputed(at(12), PAYEE),
          resolved(at(13), 0n, 0n, AMOUNT, ARBITER),
        );
        const shown = dealView(DEAL, dealOf(view), view.history(DEAL), depth(13, 3), CONTEXT);
        expect(shown).to.include({
          status: "resolved",
          disputedBy: PAYEE,
          gatewayHolds: true,
          disputedAt: timeOf(12),
          resolvedBy: ARBITER,
          reasons: REASONS,
          refund: "1000000",
          flags: 0,
        });
        expect(shown).to.not.have.any.keys("refundReason", "disputeRuler", "resolutionDeadline");
        expect(shown).to.include({ confirmations: 1, finality: "pending" });
      });

      describe("who rules a disputed deal now (disputeRuler) and until when the gateway may (resolutionDeadline)", function () {
        const gatewayHash = (over: Hash = {}): Hash => ({ status: "active", suspended: "0", ...over });
        const disputedView = (gatewayHolds: boolean) =>
          build(opened(at(10)), performed(at(11)), disputed(at(12), PAYER, DEAL, gatewayHolds));
        const shown = (gatewayHolds: boolean, now: number, gateway: Hash | undefined) => {
          const view = disputedView(gatewayHolds);
          return dealView(
            DEAL,
            dealOf(view),
            view.history(DEAL),
            { head: 13, confirmations: 1, now },
            {
              resolutionWindow: WINDOW,
              gateway,
            },
          );
        };
        const deadline = timeOf(12) + WINDOW;
        const cases: [string, boolean, number, Hash | undefined, "gateway" | "arbiter"][] = [
          ["held, the gateway active, within the window → gateway", true, deadline, gatewayHash(), "gateway"],
          [
            "held, the gateway exiting, within the window → gateway",
            true,
            deadline - 1,
            gatewayHash({ status: "exiting" }),
            "gateway",
          ],
          ["held, the window over → arbiter", true, deadline + 1, gatewayHash(), "arbiter"],
          ["held, the gateway suspended → arbiter", true, deadline - 1, gatewayHash({ suspended: "1" }), "arbiter"],
          ["held, the gateway exited → arbiter", true, deadline - 1, gatewayHash({ status: "exited" }), "arbiter"],
          ["held, the gateway unknown → arbiter", true, deadline - 1, undefined, "arbiter"],
          [
            "not held (raised while the gateway was exiting or suspended) → arbiter",
            false,
            deadline - 1,
            gatewayHash(),
            "arbiter",
          ],
        ];
        for (const [title, held, now, gateway, ruler] of cases) {
          it(title, function () {
            const view = shown(held, now, gateway);
            expect(view).to.include({
              status: "disputed",
              gatewayHolds: held,
              disputedAt: timeOf(12),
              resolutionDeadline: deadline,
              disputeRuler: ruler,
              flags: held ? 2 : 0,
            });
          });
        }
      });

      it("shows who locked an on-ramp deal, and when a delegate's lock expires", function () {
        const delegateSalt = DELEGATE_SALT;
        const view = build(
          deposited(at(9), 2n * AMOUNT),
          opened(at(10), { kind: "onramp", payer: ACCEPTOR, salt: delegateSalt }),
          lockedByDelegate(at(10, 1)),
          opened(at(11), { kind: "onramp", payer: ACCEPTOR }, DEAL2),
        );
        const d = dealParams();
        const byDelegate = dealView(DEAL, dealOf(view), view.history(DEAL), depth(11, 1), CONTEXT);
        expect(byDelegate).to.include({ lockedBy: DELEGATE, lockExpiry: d.deadline + d.releaseWindow + WINDOW });
        const byAcceptor = dealView(DEAL2, dealOf(view, DEAL2), view.history(DEAL2), depth(11, 1), CONTEXT);
        expect(byAcceptor).to.include({ lockedBy: ACCEPTOR });
        expect(byAcceptor).to.not.have.property("lockExpiry");
      });

      it("lists the evidence posted, oldest first, with its block and transaction", function () {
        const [p4, p5] = [at(13, 1), at(14, 2)];
        const view = build(
          opened(at(10)),
          performed(at(11)),
          disputed(at(12)),
          evidence(p4, PAYEE, "https://example.org/tracking"),
          evidence(p5, ARBITER, "ipfs://ruling-notes"),
        );
        const shown = dealView(DEAL, dealOf(view), view.history(DEAL), depth(14, 1), CONTEXT);
        expect(shown.evidence).to.deep.equal([
          {
            by: PAYEE,
            contentHash: id("content https://example.org/tracking"),
            uri: "https://example.org/tracking",
            blockNumber: 13,
            txHash: p4.txHash,
          },
          {
            by: ARBITER,
            contentHash: id("content ipfs://ruling-notes"),
            uri: "ipfs://ruling-notes",
            blockNumber: 14,
            txHash: p5.txHash,
          },
        ]);
      });
    });

    describe("gatewayView", function () {
      it("shows a gateway with numbers and 0x metadata", function () {
        const view = new MemoryView();
        apply(view, registeredGateway(at(5)), ev("GatewayApproved", at(7), { gateway: GATEWAY, feeCapBps: 300 }));
        expect(gatewayView(GATEWAY, view.hashes.get(`gw:${GATEWAY}`)!, { head: 8, confirmations: 3 })).to.deep.equal({
          address: GATEWAY,
          status: "active",
          suspended: false,
          canRule: true,
          bond: "1000",
          feeBps: 50,
          feeCapBps: 300,
          exitAt: 0,
          openDisputes: 0,
          metadata: id("terms"),
          registeredBlock: 5,
          updatedBlock: 7,
          finality: "pending",
        });
        expect(
          gatewayView(GATEWAY, view.hashes.get(`gw:${GATEWAY}`)!, { head: 9, confirmations: 3 }).finality,
        ).to.equal("final");
      });

      it("shows the suspension apart from the status, and whether the gateway may rule", function () {
        const view = new MemoryView();
        apply(
          view,
          registeredGateway(at(5)),
          ev("GatewayApproved", at(6), { gateway: GATEWAY, feeCapBps: 300 }),
          ev("GatewayExitRequested", at(7), { gateway: GATEWAY, exitAt: 1_900_000_000 }),
        );
        const shown = () => gatewayView(GATEWAY, view.hashes.get(`gw:${GATEWAY}`)!, { head: 9, confirmations: 1 });
        expect(shown()).to.include({ status: "exiting", suspended: false, canRule: true, exitAt: 1_900_000_000 });
        apply(view, ev("GatewaySuspended", at(8), { gateway: GATEWAY }));
        expect(shown()).to.include({ status: "exiting", suspended: true, canRule: false });
        apply(
          view,
          ev("GatewayReinstated", at(9), { gateway: GATEWAY }),
          ev("GatewayExited", at(10), { gateway: GATEWAY }),
        );
        expect(shown()).to.include({ status: "exited", suspended: false, canRule: false });
      });
    });

    describe("acceptorView", function () {
      it("lists every token found in limits or float fields, and sorted methods", function () {
        const view = new MemoryView();
        apply(
          view,
          registeredAcceptor(at(1)),
          deposited(at(2), 3n * AMOUNT),
          opened(at(3), { kind: "onramp", payer: ACCEPTOR }),
          ev("AcceptorMethodSet", at(4), { acceptor: ACCEPTOR, method: SEPA, supported: true }),
          ev("AcceptorMethodSet", at(4, 1), { acceptor: ACCEPTOR, method: PIX, supported: true }),
          ev("AcceptorLimitsSet", at(5), { acceptor: ACCEPTOR, token: DAI, minAmount: 5n, maxAmount: 9n }),
        );
        const shown = acceptorView(ACCEPTOR, view.hashes.get(`acc:${ACCEPTOR}`)!, view.smembers(`accm:${ACCEPTOR}`), {
          head: 5,
          confirmations: 1,
        });
        expect(shown).to.deep.equal({
          address: ACCEPTOR,
          status: "pending",
          gateway: GATEWAY,
          lockDelegate: DELEGATE,
          methods: [PIX, SEPA].sort(),
          tokens: [
            { token: DAI, minAmount: "5", maxAmount: "9", free: "0", locked: "0" },
            { token: USDT, minAmount: "0", maxAmount: "0", free: (2n * AMOUNT).toString(), locked: AMOUNT.toString() },
          ].sort((a, b) => (a.token < b.token ? -1 : 1)),
          registeredBlock: 1,
          updatedBlock: 5,
          finality: "final",
        });
      });

      it("counts a float change as the acceptor's latest update (a pending deposit is not final)", function () {
        // views.ts: "an entity's latest event sits in block updatedBlock; ... a final one never changes". A deposit,
        // withdrawal, lock or settlement changes the float the view shows, so it must move updatedBlock.
        const view = new MemoryView();
        apply(view, registeredAcceptor(at(1)), deposited(at(10), 3n * AMOUNT));
        const progress = { head: 10, confirmations: 3 };
        let shown = acceptorView(ACCEPTOR, view.hashes.get(`acc:${ACCEPTOR}`)!, [], progress);
        expect(shown).to.include({ updatedBlock: 10, finality: "pending" });
        apply(view, opened(at(20), { kind: "onramp", payer: ACCEPTOR }));
        shown = acceptorView(ACCEPTOR, view.hashes.get(`acc:${ACCEPTOR}`)!, [], { head: 20, confirmations: 3 });
        expect(shown).to.include({ updatedBlock: 20, finality: "pending" });
        apply(view, released(at(30)));
        shown = acceptorView(ACCEPTOR, view.hashes.get(`acc:${ACCEPTOR}`)!, [], { head: 30, confirmations: 3 });
        expect(shown).to.include({ updatedBlock: 30, finality: "pending" });
      });

      it("sorts methods it is given in any order and ignores fields that are not per-token", function () {
        const shown = acceptorView(
          ACCEPTOR,
          { status: "active", gateway: GATEWAY, lockDelegate: DELEGATE, registeredBlock: "1", updatedBlock: "2" },
          [SEPA, PIX, id("A")],
          { head: 2, confirmations: 2 },
        );
        expect(shown.methods).to.deep.equal([SEPA, PIX, id("A")].sort());
        expect(shown.tokens).to.deep.equal([]);
        expect(shown.finality).to.equal("pending");
      });
    });
  });

  /*//////////////////////////////////////////////////////////////
                      DETERMINISM AND INVARIANTS
  //////////////////////////////////////////////////////////////*/

  describe("determinism and invariants (fast-check)", function () {
    it("the same sequence applied to two fresh views yields identical state", function () {
      const events = [
        ...registryScenario(),
        deposited(at(30), 5n * AMOUNT),
        opened(at(31), { kind: "onramp", payer: ACCEPTOR }),
        opened(at(31, 1), { salt: id("salt 2") }, DEAL2),
        performed(at(32)),
        disputed(at(33), PAYEE),
        resolved(at(34), 500_000n, 2_500n, 497_500n),
        released(at(35), DEAL2),
        deferred(at(35, 1), PAYEE, NET, DEAL2),
        claimed(at(36), GATEWAY, FEE + 2_500n),
      ];
      const a = new MemoryView();
      const b = new MemoryView();
      apply(a, ...events);
      apply(b, ...events);
      expect(a.snapshot()).to.equal(b.snapshot());
      expect(a.snapshot()).to.not.equal(new MemoryView().snapshot());
    });

    it("random legal event sequences keep the projection's invariants", function () {
      fc.assert(
        fc.property(scenarioArb, (scenario) => {
          const model = runScenario(scenario);
          const view = new MemoryView();
          apply(view, ...model.events);
          const twin = new MemoryView();
          apply(twin, ...model.events);
          expect(twin.snapshot()).to.equal(view.snapshot());
          checkInvariants(view, model);
        }),
        { numRuns: 200, seed: 20_240_601 },
      );
    });
  });
});

/*//////////////////////////////////////////////////////////////
                     REGISTRY EVENT HELPERS
//////////////////////////////////////////////////////////////*/

function registeredGateway(pos: LogPosition, gateway = GATEWAY): ProtocolEvent {
  return ev("GatewayRegistered", pos, { gateway, bond: 1_000n, feeBps: 50, metadata: id("terms") });
}

function registeredAcceptor(pos: LogPosition, acceptor = ACCEPTOR): ProtocolEvent {
  return ev("AcceptorRegistered", pos, { acceptor, gateway: GATEWAY, lockDelegate: DELEGATE });
}

function registryScenario(): ProtocolEvent[] {
  return [
    ev("TokenAllowed", at(1), { token: USDT, allowed: true }),
    registeredGateway(at(2)),
    ev("GatewayApproved", at(3), { gateway: GATEWAY, feeCapBps: 300 }),
    registeredAcceptor(at(4)),
    ev("AcceptorApproved", at(5), { acceptor: ACCEPTOR }),
    ev("AcceptorMethodSet", at(6), { acceptor: ACCEPTOR, method: SEPA, supported: true }),
    ev("AcceptorLimitsSet", at(7), { acceptor: ACCEPTOR, token: USDT, minAmount: 1n, maxAmount: 10n * AMOUNT }),
  ];
}

/*//////////////////////////////////////////////////////////////
                 A MODEL THAT WALKS THE STATE MACHINE
//////////////////////////////////////////////////////////////*/

const ACCEPTORS = [ACCEPTOR, addr("acceptor 2")];
const PAYERS = [PAYER, addr("payer 2")];
const PAYEES = [PAYEE, addr("payee 2")];
const GATEWAYS = [GATEWAY, addr("gateway 2")];
const TOKENS = [USDT, DAI];
const BPS = 10_000n;

type DealSpec = { kind: DealKind; amount: bigint; feeBps: number; autoRelease: boolean; who: number; token: number };
type Step = { target: number; choice: number; ratio: number; defer: boolean };
type Scenario = { deals: DealSpec[]; steps: Step[] };

type ModelDeal = {
  id: string;
  params: DealParams;
  /** An on-ramp deal locked by the acceptor's delegate (it can expire once performed). */
  byDelegate: boolean;
  /** While disputed: the gateway holds the dispute. */
  held?: boolean;
  status: DealStatus | "none";
  payerReleased: boolean;
  settled?: { payeeAmount: bigint; fee: bigint; refund: bigint };
  events: number;
};

type Model = {
  deals: ModelDeal[];
  events: ProtocolEvent[];
  /** per `${acceptor}/${token}` */
  free: Map<string, bigint>;
  deposits: Map<string, bigint>;
  withdrawals: Map<string, bigint>;
  /** per `${account}/${token}` */
  owed: Map<string, bigint>;
};

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  deals: fc.array(
    fc.record({
      kind: fc.constantFrom(...DEAL_KINDS),
      amount: fc.bigInt({ min: 1n, max: 10n ** 15n }),
      feeBps: fc.integer({ min: 0, max: 300 }),
      autoRelease: fc.boolean(),
      who: fc.nat({ max: 7 }),
      token: fc.nat({ max: 1 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  steps: fc.array(
    fc.record({
      target: fc.nat({ max: 99 }),
      choice: fc.nat({ max: 999 }),
      ratio: fc.integer({ min: 0, max: 10_000 }),
      defer: fc.boolean(),
    }),
    { minLength: 10, maxLength: 80, size: "medium" },
  ),
});

const add = (m: Map<string, bigint>, key: string, delta: bigint) => m.set(key, (m.get(key) ?? 0n) + delta);

/** Interprets a scenario as a legal sequence of events (the contract's rules), tracking the expected totals. */
function runScenario(scenario: Scenario): Model {
  const model: Model = {
    deals: scenario.deals.map((spec, i) => {
      const kind = spec.kind;
      const payer = kind === "onramp" ? ACCEPTORS[spec.who % 2] : PAYERS[spec.who % 2];
      const payee = kind === "offramp" ? ACCEPTORS[(spec.who >> 1) % 2] : PAYEES[(spec.who >> 1) % 2];
      const byDelegate = kind === "onramp" && spec.autoRelease;
      const params = dealParams({
        kind,
        payer,
        payee,
        gateway: GATEWAYS[(spec.who >> 2) % 2],
        token: TOKENS[spec.token],
        amount: spec.amount,
        feeBps: spec.feeBps,
        autoRelease: kind === "payment" && spec.autoRelease,
        salt: byDelegate ? `0x${DELEGATE_SALT_PREFIX}${i.toString(16).padStart(40, "0")}` : id(`salt ${i}`),
      });
      return { id: id(`deal ${i}`), params, byDelegate, status: "none", payerReleased: false, events: 0 };
    }),
    events: [],
    free: new Map(),
    deposits: new Map(),
    withdrawals: new Map(),
    owed: new Map(),
  };
  let block = 100;
  for (const step of scenario.steps) {
    block += 1;
    let logIndex = 0;
    const emit = (event: ProtocolEvent) => {
      model.events.push(event);
      logIndex += 1;
    };
    const pos = () => at(block, logIndex);
    const n = model.deals.length;
    const slot = step.target % (2 * n + 3); // deals twice as likely as each float or owed action

    if (slot === 2 * n) {
      // Deposit float.
      const acceptor = ACCEPTORS[step.choice % 2];
      const token = TOKENS[(step.choice >> 1) % 2];
      const amount = 1n + BigInt(step.ratio) * 10n ** 11n;
      add(model.free, `${acceptor}/${token}`, amount);
      add(model.deposits, `${acceptor}/${token}`, amount);
      emit(deposited(pos(), amount, acceptor, token));
      continue;
    }
    if (slot === 2 * n + 1) {
      // Withdraw part of a free float.
      const key = [...model.free.keys()].filter((k) => model.free.get(k)! > 0n)[step.choice % 4];
      if (key === undefined) continue;
      const [acceptor, token] = key.split("/");
      const free = model.free.get(key)!;
      const amount = 1n + ((free - 1n) * BigInt(step.ratio)) / BPS;
      add(model.free, key, -amount);
      add(model.withdrawals, key, amount);
      emit(withdrawn(pos(), amount, acceptor, token));
      continue;
    }
    if (slot === 2 * n + 2) {
      // Claim an owed balance.
      const key = [...model.owed.keys()].filter((k) => model.owed.get(k)! > 0n)[step.choice % 4];
      if (key === undefined) continue;
      const [account, token] = key.split("/");
      const amount = model.owed.get(key)!;
      model.owed.set(key, 0n);
      emit(claimed(pos(), account, amount, token));
      continue;
    }

    const deal = model.deals[slot % n];
    const d = deal.params;
    const emitDeal = (event: ProtocolEvent) => {
      deal.events += 1;
      emit(event);
    };
    const settle = (payeeAmount: bigint, fee: bigint, refund: bigint) => {
      deal.settled = { payeeAmount, fee, refund };
      if (fee !== 0n) add(model.owed, `${d.gateway}/${d.token}`, fee);
      if (d.kind === "onramp") {
        add(model.free, `${d.payer}/${d.token}`, refund);
      } else if (refund !== 0n && step.defer) {
        add(model.owed, `${d.payer}/${d.token}`, refund);
        emitDeal(deferred(pos(), d.payer, refund, deal.id, d.token));
      }
      if (payeeAmount !== 0n && step.defer && step.ratio % 2 === 0) {
        add(model.owed, `${d.payee}/${d.token}`, payeeAmount);
        emitDeal(deferred(pos(), d.payee, payeeAmount, deal.id, d.token));
      }
    };
    /** The registry refused to uncount the held dispute the deal just left (after its final event). */
    const skipClose = (wasHeld: boolean) => {
      if (wasHeld && step.ratio % 7 === 0) emitDeal(skipped(pos(), false, deal.id, d.gateway));
    };
    const wasHeld = deal.status === "disputed" && deal.held === true;
    const release = () => {
      const fee = (d.amount * BigInt(d.feeBps)) / BPS;
      deal.status = "released";
      emitDeal(released(pos(), deal.id));
      skipClose(wasHeld);
      settle(d.amount - fee, fee, 0n);
    };
    const splitDeal = () => {
      const awarded = (d.amount * BigInt(step.ratio)) / BPS;
      const fee = (awarded * BigInt(d.feeBps)) / BPS;
      deal.status = "split";
      emitDeal(split(pos(), awarded - fee, fee, d.amount - awarded, deal.id));
      skipClose(wasHeld);
      settle(awarded - fee, fee, d.amount - awarded);
    };
    const postEvidence = () => {
      const by = [d.payer, d.payee, d.gateway, ARBITER][step.ratio % 4];
      emitDeal(evidence(pos(), by, `ipfs://${step.ratio}`, deal.id));
    };
    const refund = (reason: RefundReason) => {
      deal.status = "refunded";
      emitDeal(refunded(pos(), reason, deal.id));
      skipClose(wasHeld);
      settle(0n, 0n, d.amount);
    };
    const resolve = (byGateway: boolean) => {
      const awarded = (d.amount * BigInt(step.ratio)) / BPS;
      const fee = byGateway ? (awarded * BigInt(d.feeBps)) / BPS : 0n;
      deal.status = "resolved";
      emitDeal(resolved(pos(), awarded - fee, fee, d.amount - awarded, byGateway ? d.gateway : ARBITER, deal.id));
      skipClose(wasHeld);
      settle(awarded - fee, fee, d.amount - awarded);
    };

    // Legal moves from the deal's status (DESIGN.md §4), weighted so that walks reach the later states.
    const moves: [weight: number, move: () => void][] = [];
    const cancel = () => refund(step.ratio % 2 === 0 ? "payee_cancel" : "mutual_cancel");
    switch (deal.status) {
      case "none":
        moves.push([
          1,
          () => {
            if (d.kind === "onramp") {
              const key = `${d.payer}/${d.token}`;
              const free = model.free.get(key) ?? 0n;
              if (free < d.amount) {
                add(model.free, key, d.amount - free);
                add(model.deposits, key, d.amount - free);
                emit(deposited(pos(), d.amount - free, d.payer, d.token));
              }
              add(model.free, key, -d.amount);
            }
            deal.status = "open";
            emitDeal(opened(pos(), d, deal.id));
            if (deal.byDelegate) emitDeal(lockedByDelegate(pos(), deal.id));
          },
        ]);
        break;
      case "open":
        // perform (which releases at once when the payer released first)
        moves.push([
          4,
          () => {
            deal.status = "performed";
            emitDeal(performed(pos(), deal.id));
            if (deal.payerReleased) release();
          },
        ]);
        if (!deal.payerReleased) {
          moves.push([
            2,
            () => {
              deal.payerReleased = true;
              emitDeal(approved(pos(), deal.id));
            },
          ]);
        }
        moves.push([1, release]); // settleWithSigs
        moves.push([2, () => refund(REFUND_REASONS[step.ratio % 3])]); // deadline, payee cancel, mutual cancel
        moves.push([1, splitDeal]);
        moves.push([1, postEvidence]);
        break;
      case "performed":
        moves.push([2, release]); // the payer's release, or the payee's claim
        moves.push([
          3,
          () => {
            // The registry counts it (held) unless the gateway is exiting or suspended, or it refused to count.
            const held = step.ratio % 3 !== 0;
            if (!held && step.ratio % 2 === 0) emitDeal(skipped(pos(), true, deal.id, d.gateway));
            deal.status = "disputed";
            deal.held = held;
            emitDeal(disputed(pos(), step.ratio % 2 === 0 ? d.payer : d.payee, deal.id, held));
          },
        ]);
        moves.push([1, cancel]);
        moves.push([1, splitDeal]);
        moves.push([1, postEvidence]);
        if (deal.byDelegate) moves.push([1, () => refund("lock_expired")]);
        break;
      case "disputed":
        moves.push([3, () => resolve(deal.held === true && step.ratio % 3 !== 0)]); // the gateway, or an arbiter
        moves.push([1, cancel]);
        moves.push([1, release]); // the payer gives in (or both sign)
        moves.push([1, splitDeal]);
        moves.push([2, postEvidence]);
        if (deal.byDelegate) moves.push([1, () => refund("lock_expired")]);
        break;
      default:
        break; // final: nothing moves
    }
    const total = moves.reduce((n, [w]) => n + w, 0);
    let pick = step.choice % Math.max(total, 1);
    for (const [weight, move] of moves) {
      if (pick < weight) {
        move();
        break;
      }
      pick -= weight;
    }
  }
  return model;
}

function checkInvariants(view: MemoryView, model: Model): void {
  const live = model.deals.filter((d) => d.status !== "none");
  let finalAmounts = 0n;
  let finalPaid = 0n;
  for (const deal of live) {
    const hash = dealOf(view, deal.id);
    expect(hash.status, deal.id).to.equal(deal.status);
    expect(hash.payerReleased).to.equal(deal.payerReleased ? "1" : "0");
    // (b) exactly one status index, the deal's own status; every index holds it.
    expect(view.statusIndexesOf(deal.id)).to.deep.equal([deal.status]);
    expect(view.zscore("ix:updated", deal.id)).to.not.equal(undefined);
    expect(view.zscore(`ix:party:${deal.params.payer}`, deal.id)).to.not.equal(undefined);
    expect(view.zscore(`ix:party:${deal.params.payee}`, deal.id)).to.not.equal(undefined);
    expect(view.zscore(`ix:gw:${deal.params.gateway}`, deal.id)).to.not.equal(undefined);
    expect(view.history(deal.id)).to.have.lengthOf(deal.events);
    if (FINAL_STATUSES.has(deal.status as DealStatus)) {
      // (a) conservation of every final deal.
      const paid = BigInt(hash.payeeAmount) + BigInt(hash.fee) + BigInt(hash.refund);
      expect(paid, deal.id).to.equal(deal.params.amount);
      expect({ payeeAmount: hash.payeeAmount, fee: hash.fee, refund: hash.refund }).to.deep.equal({
        payeeAmount: deal.settled!.payeeAmount.toString(),
        fee: deal.settled!.fee.toString(),
        refund: deal.settled!.refund.toString(),
      });
      finalAmounts += deal.params.amount;
      finalPaid += paid;
    } else {
      expect(hash).to.not.have.any.keys("payeeAmount", "fee", "refund");
    }
  }
  expect(finalPaid).to.equal(finalAmounts);
  const indexed = DEAL_STATUSES.reduce((n, s) => n + (view.zsets.get(`ix:status:${s}`)?.size ?? 0), 0);
  expect(indexed).to.equal(live.length);
  expect(view.zsets.get("ix:updated")?.size ?? 0).to.equal(live.length);

  // (c) float: free + locked = deposits − withdrawals − released + refunded, where `released` is every settled
  // on-ramp amount leaving the locked float and `refunded` what came back to the free float.
  for (const acceptor of ACCEPTORS) {
    for (const token of TOKENS) {
      const key = `${acceptor}/${token}`;
      const onramps = live.filter((d) => d.params.kind === "onramp" && d.params.payer === acceptor);
      const mine = onramps.filter((d) => d.params.token === token);
      const settled = mine.filter((d) => d.settled);
      const releasedOut = settled.reduce((s, d) => s + d.params.amount, 0n);
      const refundedIn = settled.reduce((s, d) => s + d.settled!.refund, 0n);
      const lockedNow = mine.filter((d) => !d.settled).reduce((s, d) => s + d.params.amount, 0n);
      const expected = (model.deposits.get(key) ?? 0n) - (model.withdrawals.get(key) ?? 0n) - releasedOut + refundedIn;
      const f = floatOf(view, acceptor, token);
      const free = BigInt(f.free ?? "0");
      const locked = BigInt(f.locked ?? "0");
      expect(free + locked, `float ${key}`).to.equal(expected);
      expect(locked, `locked ${key}`).to.equal(lockedNow);
      expect(free, `free ${key}`).to.equal(model.free.get(key) ?? 0n);
    }
  }

  // Owed balances match the model (fees to gateways, deferred payouts, claims).
  for (const [key, amount] of model.owed) {
    const [account, token] = key.split("/");
    expect(BigInt(owedOf(view, account, token) ?? "0"), `owed ${key}`).to.equal(amount);
  }
}
