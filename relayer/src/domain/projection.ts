/**
 * The projection: how each event changes the indexed state (deals, floats, owed balances, gateways, acceptors and
 * their indexes). Pure: it reads and writes through a {@link ProjectionView}; the store turns the writes into Redis
 * operations and their undo log.
 *
 * Entity keys are logical names (the store adds the prefix and hash tag):
 *   deal:<id>            hash  — the deal's fields and status
 *   hist:<id>            list  — the deal's history (see encodeHistory), its evidence among it
 *   gw:<address>         hash  — a gateway
 *   acc:<address>        hash  — an acceptor: registry fields, limits and float per token
 *   accm:<address>       set   — an acceptor's payment methods
 *   owed:<address>       hash  — owed per token (deferred payouts and gateway fees)
 *   fees:<gateway>       hash  — fees a gateway earned per token, ever (owed: its fees not yet claimed)
 *   tokens               hash  — token → "1" allowed / "0"
 *   ix:party:<address>   zset  — deals where the address is payer or payee, scored by last update
 *   ix:gw:<address>      zset  — deals naming the gateway
 *   ix:status:<status>   zset  — deals by status
 *   ix:updated           zset  — every deal by last update
 *   ix:ref:<ref, hex>    zset  — deals opened with that (non-zero) ref, scored by opening; refs may repeat
 *   ix:method:<method>   set   — acceptors supporting a method
 *   gws, accs            zset  — gateways and acceptors by registration order
 */
import {
  ACCEPTOR_STATUSES,
  DEAL_STATUSES,
  GATEWAY_STATUSES,
  feeOf,
  isDelegateSalt,
  isFinal,
  type AcceptorStatusName,
  type DealKind,
  type DealStatus,
  type GatewayStatusName,
  type ProtocolEvent,
  type RefundReasonName,
} from "../../../protocol";
import { ProjectionError } from "../errors";

export { ACCEPTOR_STATUSES, DEAL_STATUSES, GATEWAY_STATUSES };
export type { DealStatus };
/** A gateway's own life cycle (without None); governance's sanction is the separate `suspended` flag. */
export type GatewayStatus = GatewayStatusName;
export type AcceptorStatus = AcceptorStatusName;
/** The API names of the final statuses. */
export const FINAL_STATUSES: ReadonlySet<DealStatus> = new Set(DEAL_STATUSES.filter((_, i) => isFinal(i + 1)));

/** Scores order entities by (block, log index) — exact in a double up to block 9e10. */
export const LOG_INDEX_SPAN = 100_000;
export function scoreOf(block: number, logIndex: number): number {
  return block * LOG_INDEX_SPAN + logIndex;
}

export type Hash = Record<string, string>;

/** Reads and writes of the projection; implemented over prefetched state by the store. */
export interface ProjectionView {
  getHash(key: string): Hash | undefined;
  setFields(key: string, fields: Hash): void;
  pushList(key: string, value: string): void;
  zadd(key: string, score: number, member: string): void;
  zrem(key: string, member: string): void;
  sadd(key: string, member: string): void;
  srem(key: string, member: string): void;
}

/** A history entry of a deal, as stored (compact) and as served. */
export type HistoryEntry = {
  event: string;
  blockNumber: number;
  txHash: string;
  logIndex: number;
  /** Unix time of the event's block (absent in entries stored before the indexer stamped every event). */
  timestamp?: number;
  args: Record<string, string | number | boolean>;
};

/** Hash keys the projection reads for an event (to prefetch before applying). */
export function keysRead(event: ProtocolEvent): string[] {
  switch (event.type) {
    case "DealOpened":
      return [`deal:${event.dealId}`, ...(event.deal.kind === "onramp" ? [`acc:${event.deal.payer}`] : [])];
    case "DealPerformed":
    case "DealReleaseApproved":
    case "DealDisputed":
    case "DealLockedByDelegate":
    case "EvidencePosted":
    case "DisputeCountSkipped":
      return [`deal:${event.dealId}`];
    case "DealReleased":
    case "DealRefunded":
    case "DealResolved":
    case "DealSplit":
      // The deal's gateway and acceptor are known only once the deal is read; the store reads in two rounds.
      return [`deal:${event.dealId}`];
    case "PayoutDeferred":
      return [`deal:${event.dealId}`, `owed:${event.account}`];
    case "OwedClaimed":
      return [`owed:${event.account}`];
    case "FloatDeposited":
    case "FloatWithdrawn":
      return [`acc:${event.acceptor}`];
    case "TokenAllowed":
      return ["tokens"];
    default:
      return "gateway" in event && !("acceptor" in event)
        ? [`gw:${event.gateway}`]
        : [`acc:${(event as { acceptor: string }).acceptor}`];
  }
}

const SETTLEMENTS: ReadonlySet<string> = new Set(["DealReleased", "DealRefunded", "DealResolved", "DealSplit"]);

/** Hash keys a settlement event reads once its deal is known (the payer's float, the gateway's owed balance). */
export function keysReadAfterDeal(event: ProtocolEvent, deal: Hash | undefined): string[] {
  if (!deal) return [];
  if (!SETTLEMENTS.has(event.type)) return [];
  const keys = [`owed:${deal.gateway}`, `fees:${deal.gateway}`];
  if (deal.kind === "onramp") keys.push(`acc:${deal.payer}`);
  return keys;
}

const big = (v: string | undefined) => BigInt(v ?? "0");
const strip0x = (hex: string) => (hex.startsWith("0x") ? hex.slice(2) : hex);

/** Applies one event to the projection. */
export function applyEvent(view: ProjectionView, event: ProtocolEvent): void {
  const score = scoreOf(event.block, event.logIndex);
  switch (event.type) {
    case "DealOpened":
      return openDeal(view, event, score);
    case "DealPerformed":
      return updateDeal(
        view,
        event,
        score,
        (d) => ({ ...d, status: "performed", performedBlock: String(event.block) }),
        {},
        ["open"],
      );
    case "DealReleaseApproved":
      if (requireDeal(view, event.dealId).payerReleased === "1") {
        throw new ProjectionError(`DealReleaseApproved twice on deal ${event.dealId}`);
      }
      return updateDeal(view, event, score, (d) => ({ ...d, payerReleased: "1" }), {}, ["open"]);
    case "DealLockedByDelegate": {
      const deal = requireDeal(view, event.dealId);
      if (deal.kind !== "onramp" || !isDelegateSalt(`0x${deal.salt}`) || deal.lockedBy !== deal.payer) {
        throw new ProjectionError(`DealLockedByDelegate on deal ${event.dealId}, not a delegate's fresh lock`);
      }
      return updateDeal(view, event, score, (d) => ({ ...d, lockedBy: event.delegate }), {}, ["open"]);
    }
    case "DealReleased": {
      // The event carries no amounts: the amount less the fee goes to the payee, the fee to the gateway.
      const deal = requireDeal(view, event.dealId);
      const amount = big(deal.amount);
      const fee = feeOf(amount, Number(deal.feeBps));
      // From open: both signatures at once; from disputed: the payer gave in (or both signed).
      return settleDeal(view, event, score, ["open", "performed", "disputed"], "released", amount - fee, fee, 0n, {});
    }
    case "DealRefunded": {
      const deal = requireDeal(view, event.dealId);
      // After the deadline only a deal the payee never performed refunds; a delegate's lock past its expiry only
      // once performed (an open one refunds at its deadline); a cancel ends any deal not yet final.
      const from: DealStatus[] =
        event.reason === "deadline"
          ? ["open"]
          : event.reason === "lock_expired"
            ? ["performed", "disputed"]
            : ["open", "performed", "disputed"];
      if (event.reason === "lock_expired" && !isDelegateLock(deal)) {
        throw new ProjectionError(`DealRefunded(lock_expired) on deal ${event.dealId}, not a delegate's lock`);
      }
      return settleDeal(
        view,
        event,
        score,
        from,
        "refunded",
        0n,
        0n,
        big(deal.amount),
        { reason: event.reason },
        {
          refundReason: event.reason,
        },
      );
    }
    case "DealDisputed": {
      if (event.timestamp === undefined) {
        throw new ProjectionError(`DealDisputed on deal ${event.dealId} without its block's timestamp`);
      }
      const at = String(event.timestamp);
      return updateDeal(
        view,
        event,
        score,
        (d) => ({
          ...d,
          status: "disputed",
          disputedBy: event.by,
          gatewayHolds: event.gatewayHolds ? "1" : "0",
          disputedAt: at,
        }),
        { by: event.by },
        ["performed"],
      );
    }
    case "DealResolved":
      return settleDeal(
        view,
        event,
        score,
        ["disputed"],
        "resolved",
        event.payeeAmount,
        event.fee,
        event.refund,
        {},
        { resolvedBy: event.by, reasons: strip0x(event.reasons) },
      );
    case "DealSplit":
      return settleDeal(
        view,
        event,
        score,
        ["open", "performed", "disputed"],
        "split",
        event.payeeAmount,
        event.fee,
        event.refund,
        {},
      );
    case "EvidencePosted":
      // Changes nothing but the history; it is the deal's latest event all the same (it moves its update).
      return updateDeal(
        view,
        event,
        score,
        (d) => d,
        {
          by: event.by,
          contentHash: event.contentHash,
          uri: event.uri,
          ...(event.uriTruncated ? { uriTruncated: true } : {}),
        },
        [],
      );
    case "DisputeCountSkipped":
      // Emitted before DealDisputed (opened) or after the final event (closed) of the same transaction: history only.
      requireDeal(view, event.dealId);
      appendHistory(view, event.dealId, event, { gateway: event.gateway, opened: event.opened });
      return;
    case "PayoutDeferred": {
      requireDeal(view, event.dealId);
      addOwed(view, event.account, event.token, event.amount);
      appendHistory(view, event.dealId, event, {
        token: event.token,
        account: event.account,
        amount: event.amount.toString(),
      });
      return;
    }
    case "OwedClaimed":
      return addOwed(view, event.account, event.token, -event.amount);
    case "FloatDeposited":
      return addFloat(view, event.acceptor, event.token, event.amount, 0n, event.block);
    case "FloatWithdrawn":
      return addFloat(view, event.acceptor, event.token, -event.amount, 0n, event.block);
    case "TokenAllowed":
      return view.setFields("tokens", { [event.token]: event.allowed ? "1" : "0" });
    case "GatewayRegistered":
      view.setFields(`gw:${event.gateway}`, {
        status: "pending",
        suspended: "0",
        bond: event.bond.toString(),
        feeBps: String(event.feeBps),
        feeCapBps: "0",
        exitAt: "0",
        openDisputes: "0",
        metadata: strip0x(event.metadata),
        registeredBlock: String(event.block),
        updatedBlock: String(event.block),
      });
      view.zadd("gws", score, event.gateway);
      return;
    case "GatewayApproved":
      return setGateway(view, event.gateway, event.block, { status: "active", feeCapBps: String(event.feeCapBps) });
    case "GatewayFeeSet":
      return setGateway(view, event.gateway, event.block, { feeBps: String(event.feeBps) });
    case "GatewayBondAdded":
      return setGateway(view, event.gateway, event.block, { bond: event.bond.toString() });
    case "GatewaySuspended":
      return setGateway(view, event.gateway, event.block, { suspended: "1" });
    case "GatewayReinstated":
      return setGateway(view, event.gateway, event.block, { suspended: "0" });
    case "GatewaySlashed":
      return setGateway(view, event.gateway, event.block, { bond: event.bond.toString() });
    case "GatewayExitRequested":
      return setGateway(view, event.gateway, event.block, { status: "exiting", exitAt: String(event.exitAt) });
    case "GatewayExited":
      return setGateway(view, event.gateway, event.block, { status: "exited", bond: "0" });
    case "GatewayDisputesChanged":
      return setGateway(view, event.gateway, event.block, { openDisputes: String(event.openDisputes) });
    case "AcceptorRegistered":
      view.setFields(`acc:${event.acceptor}`, {
        status: "pending",
        gateway: event.gateway,
        lockDelegate: event.lockDelegate,
        registeredBlock: String(event.block),
        updatedBlock: String(event.block),
      });
      view.zadd("accs", score, event.acceptor);
      return;
    case "AcceptorApproved":
    case "AcceptorReinstated":
      return setAcceptor(view, event.acceptor, event.block, { status: "active" });
    case "AcceptorSuspended":
      return setAcceptor(view, event.acceptor, event.block, { status: "suspended" });
    case "AcceptorLockDelegateSet":
      return setAcceptor(view, event.acceptor, event.block, { lockDelegate: event.lockDelegate });
    case "AcceptorMethodSet":
      setAcceptor(view, event.acceptor, event.block, {});
      if (event.supported) {
        view.sadd(`accm:${event.acceptor}`, event.method);
        view.sadd(`ix:method:${event.method}`, event.acceptor);
      } else {
        view.srem(`accm:${event.acceptor}`, event.method);
        view.srem(`ix:method:${event.method}`, event.acceptor);
      }
      return;
    case "AcceptorLimitsSet":
      return setAcceptor(view, event.acceptor, event.block, {
        [`min:${event.token}`]: event.minAmount.toString(),
        [`max:${event.token}`]: event.maxAmount.toString(),
      });
  }
}

/** Whether a deal (its hash) was locked by the acceptor's lock delegate. */
export function isDelegateLock(deal: Hash): boolean {
  return deal.kind === "onramp" && deal.lockedBy !== undefined && deal.lockedBy !== deal.payer;
}

function requireDeal(view: ProjectionView, dealId: string): Hash {
  const deal = view.getHash(`deal:${dealId}`);
  if (!deal) throw new ProjectionError(`event for unknown deal ${dealId}`);
  return deal;
}

function openDeal(view: ProjectionView, event: Extract<ProtocolEvent, { type: "DealOpened" }>, score: number) {
  const key = `deal:${event.dealId}`;
  if (view.getHash(key)) throw new ProjectionError(`deal ${event.dealId} opened twice`);
  const d = event.deal;
  const fields: Hash = {
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
    salt: strip0x(d.salt),
    ref: strip0x(event.ref),
    payerReleased: "0",
    ...(d.kind === "onramp" ? { lockedBy: d.payer } : {}),
    openedBlock: String(event.block),
    updatedBlock: String(event.block),
    updatedLog: String(event.logIndex),
  };
  view.setFields(key, fields);
  if (d.kind === "onramp") addFloat(view, d.payer, d.token, -d.amount, d.amount, event.block);
  appendHistory(view, event.dealId, event, { ref: event.ref });
  reindexDeal(view, event.dealId, undefined, fields, score);
  // A zero ref is "none": indexing it would make one set of every deal that has none.
  if (!/^0*$/.test(fields.ref)) view.zadd(`ix:ref:${fields.ref}`, score, event.dealId);
}

function updateDeal(
  view: ProjectionView,
  event: ProtocolEvent & { dealId: string },
  score: number,
  change: (deal: Hash) => Hash,
  args: HistoryEntry["args"],
  expected: DealStatus[] = [],
) {
  const before = requireStatus(view, event, expected);
  const after = {
    ...change(before),
    updatedBlock: String(event.block),
    updatedLog: String(event.logIndex),
  };
  view.setFields(`deal:${event.dealId}`, diff(before, after));
  appendHistory(view, event.dealId, event, args);
  reindexDeal(view, event.dealId, before, after, score);
}

function settleDeal(
  view: ProjectionView,
  event: ProtocolEvent & { dealId: string },
  score: number,
  from: DealStatus[],
  status: DealStatus,
  payeeAmount: bigint,
  fee: bigint,
  refund: bigint,
  args: HistoryEntry["args"],
  extra: Hash = {},
) {
  const deal = requireStatus(view, event, from);
  const amount = big(deal.amount);
  if (payeeAmount + fee + refund !== amount) {
    throw new ProjectionError(`deal ${event.dealId} settles ${payeeAmount + fee + refund} of ${amount}`);
  }
  if (fee !== 0n) {
    addOwed(view, deal.gateway, deal.token, fee);
    // Revenue ever earned: owed falls when the gateway claims; this only grows (a reorg's undo log takes it back).
    const earned = big(view.getHash(`fees:${deal.gateway}`)?.[deal.token]) + fee;
    view.setFields(`fees:${deal.gateway}`, { [deal.token]: earned.toString() });
  }
  if (deal.kind === "onramp") addFloat(view, deal.payer, deal.token, refund, -amount, event.block);
  updateDeal(
    view,
    event,
    score,
    (d) => ({
      ...d,
      ...extra,
      status,
      payeeAmount: payeeAmount.toString(),
      fee: fee.toString(),
      refund: refund.toString(),
    }),
    args,
    from,
  );
}

/** The deal, checked to be in one of the `expected` statuses (any status not final when empty). */
function requireStatus(view: ProjectionView, event: ProtocolEvent & { dealId: string }, expected: DealStatus[]): Hash {
  const deal = requireDeal(view, event.dealId);
  if (FINAL_STATUSES.has(deal.status as DealStatus)) {
    throw new ProjectionError(`${event.type} on final deal ${event.dealId}`);
  }
  if (expected.length > 0 && !expected.includes(deal.status as DealStatus)) {
    throw new ProjectionError(`${event.type} on deal ${event.dealId} in status ${deal.status}`);
  }
  return deal;
}

function appendHistory(view: ProjectionView, dealId: string, event: ProtocolEvent, args: HistoryEntry["args"]) {
  view.pushList(
    `hist:${dealId}`,
    encodeHistory({
      event: event.type,
      blockNumber: event.block,
      txHash: event.txHash,
      logIndex: event.logIndex,
      ...(event.timestamp === undefined ? {} : { timestamp: event.timestamp }),
      args,
    }),
  );
}

/**
 * Arguments of the events that happen at most once to a deal and whose arguments the deal's hash holds anyway:
 * their history entries do not store them a second time.
 */
const ARGS_FROM_DEAL: Readonly<Record<string, (deal: Hash) => HistoryEntry["args"]>> = {
  DealOpened: (d) => ({ ref: `0x${d.ref}` }),
  DealLockedByDelegate: (d) => ({ delegate: d.lockedBy }),
  DealReleased: (d) => ({ payeeAmount: d.payeeAmount, fee: d.fee }),
  DealRefunded: (d) => ({ reason: d.refundReason }),
  DealDisputed: (d) => ({ by: d.disputedBy, gatewayHolds: d.gatewayHolds === "1" }),
  DealResolved: (d) => ({
    by: d.resolvedBy,
    payeeAmount: d.payeeAmount,
    fee: d.fee,
    refund: d.refund,
    reasons: `0x${d.reasons}`,
  }),
  DealSplit: (d) => ({ payeeAmount: d.payeeAmount, fee: d.fee, refund: d.refund }),
};

/**
 * A history entry as stored: `<block>:<logIndex>:<tx hash, base64url>:<event>[@<timestamp, base 36>][:<args JSON>]`
 * (base64url and base 36 keep an entry short: a deal's history is most of its bytes). Arguments the deal's hash
 * already holds ({@link ARGS_FROM_DEAL}) are left out; {@link decodeHistory} restores them. Entries written before
 * the indexer stamped every event have no `@<timestamp>`; event names never hold an `@`.
 */
export function encodeHistory(entry: HistoryEntry): string {
  const tx = Buffer.from(strip0x(entry.txHash), "hex").toString("base64url");
  const at = entry.timestamp === undefined ? "" : `@${entry.timestamp.toString(36)}`;
  const head = `${entry.blockNumber}:${entry.logIndex}:${tx}:${entry.event}${at}`;
  const stored = entry.event in ARGS_FROM_DEAL ? {} : entry.args;
  return Object.keys(stored).length === 0 ? head : `${head}:${JSON.stringify(stored)}`;
}

/** Reads a stored history entry of `deal` (the deal's hash, logical field names). */
export function decodeHistory(stored: string, deal: Hash): HistoryEntry {
  const [block, logIndex, txHash, tagged] = stored.split(":", 4);
  const argsAt = block.length + logIndex.length + txHash.length + tagged.length + 4;
  const marker = tagged.indexOf("@");
  const event = marker < 0 ? tagged : tagged.slice(0, marker);
  const fromDeal = ARGS_FROM_DEAL[event];
  const args = fromDeal
    ? fromDeal(deal)
    : argsAt < stored.length
      ? (JSON.parse(stored.slice(argsAt)) as HistoryEntry["args"])
      : {};
  const tx = `0x${Buffer.from(txHash, "base64url").toString("hex")}`;
  const entry: HistoryEntry = { event, blockNumber: Number(block), txHash: tx, logIndex: Number(logIndex), args };
  if (marker >= 0) entry.timestamp = parseInt(tagged.slice(marker + 1), 36);
  return entry;
}

/** Moves a deal's index entries from its `before` fields to its `after` fields. */
export function reindexDeal(
  view: ProjectionView,
  dealId: string,
  before: Hash | undefined,
  after: Hash,
  score: number,
) {
  if (before && before.status !== after.status) view.zrem(`ix:status:${before.status}`, dealId);
  view.zadd(`ix:status:${after.status}`, score, dealId);
  view.zadd("ix:updated", score, dealId);
  view.zadd(`ix:party:${after.payer}`, score, dealId);
  view.zadd(`ix:party:${after.payee}`, score, dealId);
  view.zadd(`ix:gw:${after.gateway}`, score, dealId);
}

function addOwed(view: ProjectionView, account: string, token: string, delta: bigint) {
  const key = `owed:${account}`;
  const current = big(view.getHash(key)?.[token]);
  const next = current + delta;
  if (next < 0n) throw new ProjectionError(`owed ${token} of ${account} below zero`);
  view.setFields(key, { [token]: next.toString() });
}

/** Moves an acceptor's float; the change is part of the acceptor's state, so it moves its `updatedBlock` too. */
function addFloat(
  view: ProjectionView,
  acceptor: string,
  token: string,
  freeDelta: bigint,
  lockedDelta: bigint,
  block: number,
) {
  const key = `acc:${acceptor}`;
  const acc = view.getHash(key) ?? {};
  const free = big(acc[`free:${token}`]) + freeDelta;
  const locked = big(acc[`locked:${token}`]) + lockedDelta;
  if (free < 0n || locked < 0n) throw new ProjectionError(`float of ${acceptor} in ${token} below zero`);
  view.setFields(key, {
    [`free:${token}`]: free.toString(),
    [`locked:${token}`]: locked.toString(),
    updatedBlock: String(block),
  });
}

function setGateway(view: ProjectionView, gateway: string, block: number, fields: Hash) {
  if (!view.getHash(`gw:${gateway}`)) throw new ProjectionError(`event for unknown gateway ${gateway}`);
  view.setFields(`gw:${gateway}`, { ...fields, updatedBlock: String(block) });
}

function setAcceptor(view: ProjectionView, acceptor: string, block: number, fields: Hash) {
  if (!view.getHash(`acc:${acceptor}`)) throw new ProjectionError(`event for unknown acceptor ${acceptor}`);
  view.setFields(`acc:${acceptor}`, { ...fields, updatedBlock: String(block) });
}

function diff(before: Hash, after: Hash): Hash {
  const out: Hash = {};
  for (const [k, v] of Object.entries(after)) if (before[k] !== v) out[k] = v;
  return out;
}

/** The kind and reason names, re-exported for the API's schemas. */
export type { DealKind, RefundReasonName as RefundReason };
