/**
 * Decoding of the escrow's and the registry's logs into typed events, for the relayer, the audit and the scripts.
 * Pure: no IO. Addresses and hashes come out lower-case hex.
 */
import { Interface, getBytes, toUtf8Bytes, type EventFragment, type Log } from "ethers";
import { Escrow__factory, GatewayRegistry__factory } from "../typechain-types";
import { ARBITER_ROLE } from "./constants";
import { DEAL_KINDS, REFUND_REASONS, type RefundReasonName } from "./enums";
import type { DealParams, LogPosition, Sources } from "./types";

/**
 * Longest evidence URI kept, in characters (code points): an `EvidencePosted` URI is any string a party paid the
 * calldata for; a longer one is kept cut to this length (and marked), so no deal's history grows without bound.
 */
export const MAX_EVIDENCE_URI_CHARS = 1_024;

/** Every event of the protocol that off-chain code uses, tagged by `type` (the event's name). */
export type ProtocolEvent = LogPosition & {
  /**
   * Unix time (seconds) of the event's block: not in the log. The relayer's indexer sets it on every event before
   * committing it (from the block's header); events decoded elsewhere leave it out.
   */
  timestamp?: number;
} & (
    | { type: "DealOpened"; dealId: string; deal: DealParams; ref: string }
    | { type: "DealPerformed"; dealId: string }
    | { type: "DealReleaseApproved"; dealId: string }
    | { type: "DealLockedByDelegate"; dealId: string; delegate: string }
    | { type: "DealReleased"; dealId: string }
    | { type: "DealRefunded"; dealId: string; reason: RefundReasonName }
    | {
        type: "DealDisputed";
        dealId: string;
        by: string;
        gatewayHolds: boolean;
        /** Unix time of the event's block: not in the log; the indexer adds it from the block header. */
        timestamp?: number;
      }
    | {
        type: "DealResolved";
        dealId: string;
        by: string;
        payeeAmount: bigint;
        fee: bigint;
        refund: bigint;
        reasons: string;
      }
    | { type: "DealSplit"; dealId: string; payeeAmount: bigint; fee: bigint; refund: bigint }
    | {
        type: "EvidencePosted";
        dealId: string;
        by: string;
        contentHash: string;
        /** The URI as posted (invalid UTF-8 replaced), cut to MAX_EVIDENCE_URI_CHARS. */
        uri: string;
        /** Set when the posted URI was longer than MAX_EVIDENCE_URI_CHARS. */
        uriTruncated?: boolean;
      }
    | { type: "DisputeCountSkipped"; dealId: string; gateway: string; opened: boolean }
    | { type: "PayoutDeferred"; dealId: string; token: string; account: string; amount: bigint }
    | { type: "OwedClaimed"; token: string; account: string; amount: bigint }
    | { type: "FloatDeposited"; acceptor: string; token: string; amount: bigint }
    | { type: "FloatWithdrawn"; acceptor: string; token: string; amount: bigint }
    | { type: "GatewayRegistered"; gateway: string; bond: bigint; feeBps: number; metadata: string }
    | { type: "GatewayApproved"; gateway: string; feeCapBps: number }
    | { type: "GatewayFeeSet"; gateway: string; feeBps: number }
    | { type: "GatewayBondAdded"; gateway: string; bond: bigint }
    | { type: "GatewaySuspended"; gateway: string }
    | { type: "GatewayReinstated"; gateway: string }
    | { type: "GatewaySlashed"; gateway: string; recipient: string; amount: bigint; bond: bigint }
    | { type: "GatewayExitRequested"; gateway: string; exitAt: number }
    | { type: "GatewayExited"; gateway: string }
    | { type: "GatewayDisputesChanged"; gateway: string; openDisputes: number }
    | { type: "AcceptorRegistered"; acceptor: string; gateway: string; lockDelegate: string }
    | { type: "AcceptorApproved"; acceptor: string }
    | { type: "AcceptorSuspended"; acceptor: string }
    | { type: "AcceptorReinstated"; acceptor: string }
    | { type: "AcceptorLockDelegateSet"; acceptor: string; lockDelegate: string }
    | { type: "AcceptorMethodSet"; acceptor: string; method: string; supported: boolean }
    | { type: "AcceptorLimitsSet"; acceptor: string; token: string; minAmount: bigint; maxAmount: bigint }
    | { type: "TokenAllowed"; token: string; allowed: boolean }
    /** The registry's RoleGranted / RoleRevoked, for ARBITER_ROLE only (the audit follows the arbiter set). */
    | { type: "ArbiterGranted"; account: string }
    | { type: "ArbiterRevoked"; account: string }
  );

export type ProtocolEventType = ProtocolEvent["type"];

const escrowInterface = new Interface(Escrow__factory.abi);
const registryInterface = new Interface(GatewayRegistry__factory.abi);

/** Event fragments by topic0: ethers' parseLog re-hashes every fragment on every log; this map does it once. */
const fragmentsByTopic = (iface: Interface) => {
  const map = new Map<string, EventFragment>();
  iface.forEachEvent((fragment) => map.set(fragment.topicHash, fragment));
  return map;
};
const escrowFragments = fragmentsByTopic(escrowInterface);
const registryFragments = fragmentsByTopic(registryInterface);

/** The escrow events the relayer indexes. */
const ESCROW_EVENTS = [
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
];
const TOPIC = Object.fromEntries(
  ESCROW_EVENTS.map((name) => [name, escrowInterface.getEvent(name)!.topicHash]),
) as Record<string, string>;

/** Thrown inside the word decoder when a log does not have the exact layout; the ABI decoder then takes over. */
class LayoutMismatch extends Error {
  override name = "LayoutMismatch";
}
const HEX_WORD = /^[0-9a-fA-F]{64}$/;
const ADDRESS_WORD = /^0{24}[0-9a-fA-F]{40}$/;

function words(data: string, count: number): string[] {
  if (data.length !== 2 + count * 64) throw new LayoutMismatch();
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const w = data.slice(2 + i * 64, 2 + (i + 1) * 64);
    if (!HEX_WORD.test(w)) throw new LayoutMismatch();
    out.push(w.toLowerCase());
  }
  return out;
}
const topicWord = (topic: string) => {
  const w = topic.slice(2);
  if (topic.length !== 66 || !HEX_WORD.test(w)) throw new LayoutMismatch();
  return w.toLowerCase();
};
const asBytes32 = (w: string) => `0x${w}`;
const asAddress = (w: string) => {
  if (!ADDRESS_WORD.test(w)) throw new LayoutMismatch();
  return `0x${w.slice(24)}`;
};
const asUint = (w: string, bits: number) => {
  const v = BigInt(`0x${w}`);
  if (v >> BigInt(bits) !== 0n) throw new LayoutMismatch();
  return v;
};
const asBool = (w: string) => {
  const v = asUint(w, 8);
  if (v > 1n) throw new LayoutMismatch();
  return v === 1n;
};

/**
 * The URI of an `EvidencePosted` log: its bytes decoded as UTF-8 with every invalid sequence replaced (a party may
 * post any bytes; a strict decoder would make one such log stop the indexer), cut to MAX_EVIDENCE_URI_CHARS code
 * points.
 */
export function postedEvidenceUri(bytes: Uint8Array): { uri: string; truncated: boolean } {
  const text = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(bytes);
  if (text.length <= MAX_EVIDENCE_URI_CHARS) return { uri: text, truncated: false };
  const points = Array.from(text);
  if (points.length <= MAX_EVIDENCE_URI_CHARS) return { uri: text, truncated: false };
  return { uri: points.slice(0, MAX_EVIDENCE_URI_CHARS).join(""), truncated: true };
}

/** Reads `EvidencePosted` data: contentHash, then the ABI-encoded string (offset, length, bytes). */
function evidenceData(data: string): { contentHash: string; uri: string; truncated: boolean } {
  if (!/^0x([0-9a-fA-F]{64})+$/.test(data) || data.length < 2 + 3 * 64) throw new LayoutMismatch();
  const word = (i: number) => data.slice(2 + i * 64, 2 + (i + 1) * 64).toLowerCase();
  const offset = asUint(word(1), 32);
  if (offset % 32n !== 0n || offset < 64n) throw new LayoutMismatch();
  const lengthAt = Number(offset / 32n);
  if (2 + (lengthAt + 1) * 64 > data.length) throw new LayoutMismatch();
  const length = Number(asUint(word(lengthAt), 32));
  const start = 2 + (lengthAt + 1) * 64;
  if (start + length * 2 > data.length) throw new LayoutMismatch();
  const { uri, truncated } = postedEvidenceUri(Buffer.from(data.slice(start, start + length * 2), "hex"));
  return { contentHash: asBytes32(word(0)), uri, truncated };
}

/**
 * Decodes the escrow's events by reading their fixed ABI words directly (every escrow event has a static layout),
 * checking each word's range. The backfill's hot path: about fifty times faster than the generic ABI decoder.
 * Returns undefined for anything else, or for any log that does not have the exact layout.
 */
function decodeEscrowWords(topics: readonly string[], data: string, pos: LogPosition): ProtocolEvent | undefined {
  try {
    const t = topics.map(topicWord);
    const expectTopics = (n: number) => {
      if (t.length !== n) throw new LayoutMismatch();
    };
    switch (lower(topics[0])) {
      case TOPIC.DealOpened: {
        expectTopics(4);
        const w = words(data, 12);
        const kind = Number(asUint(w[8], 8));
        const autoRelease = asUint(w[9], 8);
        if (kind >= DEAL_KINDS.length || autoRelease > 1n) throw new LayoutMismatch();
        const payer = asAddress(w[0]);
        const payee = asAddress(w[1]);
        if (payer !== asAddress(t[2]) || payee !== asAddress(t[3])) throw new LayoutMismatch();
        return {
          ...pos,
          type: "DealOpened",
          dealId: asBytes32(t[1]),
          ref: asBytes32(w[11]),
          deal: {
            payer,
            payee,
            gateway: asAddress(w[2]),
            token: asAddress(w[3]),
            amount: asUint(w[4], 96),
            deadline: Number(asUint(w[5], 40)),
            releaseWindow: Number(asUint(w[6], 32)),
            feeBps: Number(asUint(w[7], 16)),
            kind: DEAL_KINDS[kind],
            autoRelease: autoRelease === 1n,
            salt: asBytes32(w[10]),
          },
        };
      }
      case TOPIC.DealPerformed:
      case TOPIC.DealReleaseApproved:
        expectTopics(2);
        words(data, 0);
        return {
          ...pos,
          type: lower(topics[0]) === TOPIC.DealPerformed ? "DealPerformed" : "DealReleaseApproved",
          dealId: asBytes32(t[1]),
        };
      case TOPIC.DealReleased:
        expectTopics(2);
        words(data, 0);
        return { ...pos, type: "DealReleased", dealId: asBytes32(t[1]) };
      case TOPIC.DealLockedByDelegate:
        expectTopics(3);
        words(data, 0);
        return { ...pos, type: "DealLockedByDelegate", dealId: asBytes32(t[1]), delegate: asAddress(t[2]) };
      case TOPIC.DealRefunded: {
        expectTopics(2);
        const reason = Number(asUint(words(data, 1)[0], 8));
        if (reason >= REFUND_REASONS.length) throw new LayoutMismatch();
        return { ...pos, type: "DealRefunded", dealId: asBytes32(t[1]), reason: REFUND_REASONS[reason] };
      }
      case TOPIC.DealDisputed: {
        expectTopics(3);
        const w = words(data, 1);
        return {
          ...pos,
          type: "DealDisputed",
          dealId: asBytes32(t[1]),
          by: asAddress(t[2]),
          gatewayHolds: asBool(w[0]),
        };
      }
      case TOPIC.DealResolved: {
        expectTopics(3);
        const w = words(data, 4);
        return {
          ...pos,
          type: "DealResolved",
          dealId: asBytes32(t[1]),
          by: asAddress(t[2]),
          payeeAmount: asUint(w[0], 96),
          fee: asUint(w[1], 96),
          refund: asUint(w[2], 96),
          reasons: asBytes32(w[3]),
        };
      }
      case TOPIC.DealSplit: {
        expectTopics(2);
        const w = words(data, 3);
        return {
          ...pos,
          type: "DealSplit",
          dealId: asBytes32(t[1]),
          payeeAmount: asUint(w[0], 96),
          fee: asUint(w[1], 96),
          refund: asUint(w[2], 96),
        };
      }
      case TOPIC.EvidencePosted: {
        expectTopics(3);
        const { contentHash, uri, truncated } = evidenceData(data);
        return {
          ...pos,
          type: "EvidencePosted",
          dealId: asBytes32(t[1]),
          by: asAddress(t[2]),
          contentHash,
          uri,
          ...(truncated ? { uriTruncated: true } : {}),
        };
      }
      case TOPIC.DisputeCountSkipped: {
        expectTopics(3);
        const w = words(data, 1);
        return {
          ...pos,
          type: "DisputeCountSkipped",
          dealId: asBytes32(t[1]),
          gateway: asAddress(t[2]),
          opened: asBool(w[0]),
        };
      }
      case TOPIC.PayoutDeferred: {
        expectTopics(4);
        const w = words(data, 1);
        return {
          ...pos,
          type: "PayoutDeferred",
          dealId: asBytes32(t[1]),
          token: asAddress(t[2]),
          account: asAddress(t[3]),
          amount: asUint(w[0], 96),
        };
      }
      case TOPIC.OwedClaimed: {
        expectTopics(3);
        const w = words(data, 1);
        return {
          ...pos,
          type: "OwedClaimed",
          token: asAddress(t[1]),
          account: asAddress(t[2]),
          amount: asUint(w[0], 256),
        };
      }
      case TOPIC.FloatDeposited:
      case TOPIC.FloatWithdrawn: {
        expectTopics(3);
        const w = words(data, 1);
        return {
          ...pos,
          type: lower(topics[0]) === TOPIC.FloatDeposited ? "FloatDeposited" : "FloatWithdrawn",
          acceptor: asAddress(t[1]),
          token: asAddress(t[2]),
          amount: asUint(w[0], 256),
        };
      }
      default:
        return undefined;
    }
  } catch (error) {
    if (error instanceof LayoutMismatch) return undefined;
    throw error;
  }
}

/** The topic0 of every event the relayer indexes, per contract (for eth_getLogs filters). */
export function topicsOf(): { escrow: string[]; registry: string[] } {
  const pick = (iface: Interface, names: string[]) => names.map((n) => iface.getEvent(n)!.topicHash);
  return {
    escrow: pick(escrowInterface, ESCROW_EVENTS),
    registry: pick(registryInterface, [
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
    ]),
  };
}

const lower = (a: string) => a.toLowerCase();

/**
 * Decodes one log of the escrow or the registry; returns undefined for logs no one uses (other contracts, roles
 * other than ARBITER_ROLE, parameter changes). Addresses are lower-case hex, ids 0x-prefixed lower-case hex.
 */
export function decodeLog(
  log: Pick<Log, "address" | "topics" | "data" | "blockNumber" | "blockHash" | "transactionHash" | "index">,
  sources: Sources,
): ProtocolEvent | undefined {
  const address = lower(log.address);
  const iface =
    address === lower(sources.escrow)
      ? escrowInterface
      : address === lower(sources.registry)
        ? registryInterface
        : undefined;
  if (!iface || log.topics.length === 0) return undefined;
  const pos: LogPosition = {
    block: log.blockNumber,
    blockHash: lower(log.blockHash),
    txHash: lower(log.transactionHash),
    logIndex: log.index,
  };
  if (iface === escrowInterface) {
    const fast = decodeEscrowWords(log.topics, log.data, pos);
    if (fast) return fast;
  }
  const fragment = (iface === escrowInterface ? escrowFragments : registryFragments).get(lower(log.topics[0]));
  if (!fragment) return undefined;
  const parsed = { name: fragment.name, args: iface.decodeEventLog(fragment, log.data, [...log.topics]) };
  const a = parsed.args;
  switch (parsed.name) {
    case "DealOpened": {
      const d = a.deal;
      return {
        ...pos,
        type: "DealOpened",
        dealId: lower(a.dealId),
        ref: lower(a.ref),
        deal: {
          payer: lower(d.payer),
          payee: lower(d.payee),
          gateway: lower(d.gateway),
          token: lower(d.token),
          amount: d.amount,
          deadline: Number(d.deadline),
          releaseWindow: Number(d.releaseWindow),
          feeBps: Number(d.feeBps),
          kind: DEAL_KINDS[Number(d.kind)],
          autoRelease: d.autoRelease,
          salt: lower(d.salt),
        },
      };
    }
    case "DealPerformed":
    case "DealReleaseApproved":
    case "DealReleased":
      return { ...pos, type: parsed.name, dealId: lower(a.dealId) };
    case "DealLockedByDelegate":
      return { ...pos, type: "DealLockedByDelegate", dealId: lower(a.dealId), delegate: lower(a.delegate) };
    case "DealRefunded":
      return { ...pos, type: "DealRefunded", dealId: lower(a.dealId), reason: REFUND_REASONS[Number(a.reason)] };
    case "DealDisputed":
      return {
        ...pos,
        type: "DealDisputed",
        dealId: lower(a.dealId),
        by: lower(a.by),
        gatewayHolds: a.gatewayHolds,
      };
    case "DealResolved":
      return {
        ...pos,
        type: "DealResolved",
        dealId: lower(a.dealId),
        by: lower(a.by),
        payeeAmount: a.payeeAmount,
        fee: a.fee,
        refund: a.refund,
        reasons: lower(a.reasons),
      };
    case "DealSplit":
      return {
        ...pos,
        type: "DealSplit",
        dealId: lower(a.dealId),
        payeeAmount: a.payeeAmount,
        fee: a.fee,
        refund: a.refund,
      };
    case "EvidencePosted": {
      // Only a log that the word decoder refused gets here: the ABI decoder throws on what it cannot read.
      const { uri, truncated } = postedEvidenceUri(getBytes(toUtf8Bytes(a.uri)));
      return {
        ...pos,
        type: "EvidencePosted",
        dealId: lower(a.dealId),
        by: lower(a.by),
        contentHash: lower(a.contentHash),
        uri,
        ...(truncated ? { uriTruncated: true } : {}),
      };
    }
    case "DisputeCountSkipped":
      return {
        ...pos,
        type: "DisputeCountSkipped",
        dealId: lower(a.dealId),
        gateway: lower(a.gateway),
        opened: a.opened,
      };
    case "PayoutDeferred":
      return {
        ...pos,
        type: "PayoutDeferred",
        dealId: lower(a.dealId),
        token: lower(a.token),
        account: lower(a.account),
        amount: a.amount,
      };
    case "OwedClaimed":
      return { ...pos, type: "OwedClaimed", token: lower(a.token), account: lower(a.account), amount: a.amount };
    case "FloatDeposited":
    case "FloatWithdrawn":
      return { ...pos, type: parsed.name, acceptor: lower(a.acceptor), token: lower(a.token), amount: a.amount };
    case "GatewayRegistered":
      return {
        ...pos,
        type: "GatewayRegistered",
        gateway: lower(a.gateway),
        bond: a.bond,
        feeBps: Number(a.feeBps),
        metadata: lower(a.metadata),
      };
    case "GatewayApproved":
      return { ...pos, type: "GatewayApproved", gateway: lower(a.gateway), feeCapBps: Number(a.feeCapBps) };
    case "GatewayFeeSet":
      return { ...pos, type: "GatewayFeeSet", gateway: lower(a.gateway), feeBps: Number(a.feeBps) };
    case "GatewayBondAdded":
      return { ...pos, type: "GatewayBondAdded", gateway: lower(a.gateway), bond: a.bond };
    case "GatewaySuspended":
    case "GatewayReinstated":
    case "GatewayExited":
      return { ...pos, type: parsed.name, gateway: lower(a.gateway) };
    case "GatewaySlashed":
      return {
        ...pos,
        type: "GatewaySlashed",
        gateway: lower(a.gateway),
        recipient: lower(a.recipient),
        amount: a.amount,
        bond: a.bond,
      };
    case "GatewayExitRequested":
      return { ...pos, type: "GatewayExitRequested", gateway: lower(a.gateway), exitAt: Number(a.exitAt) };
    case "GatewayDisputesChanged":
      return {
        ...pos,
        type: "GatewayDisputesChanged",
        gateway: lower(a.gateway),
        openDisputes: Number(a.openDisputes),
      };
    case "AcceptorRegistered":
      return {
        ...pos,
        type: "AcceptorRegistered",
        acceptor: lower(a.acceptor),
        gateway: lower(a.gateway),
        lockDelegate: lower(a.lockDelegate),
      };
    case "AcceptorApproved":
    case "AcceptorSuspended":
    case "AcceptorReinstated":
      return { ...pos, type: parsed.name, acceptor: lower(a.acceptor) };
    case "AcceptorLockDelegateSet":
      return {
        ...pos,
        type: "AcceptorLockDelegateSet",
        acceptor: lower(a.acceptor),
        lockDelegate: lower(a.lockDelegate),
      };
    case "AcceptorMethodSet":
      return {
        ...pos,
        type: "AcceptorMethodSet",
        acceptor: lower(a.acceptor),
        method: lower(a.method),
        supported: a.supported,
      };
    case "AcceptorLimitsSet":
      return {
        ...pos,
        type: "AcceptorLimitsSet",
        acceptor: lower(a.acceptor),
        token: lower(a.token),
        minAmount: a.minAmount,
        maxAmount: a.maxAmount,
      };
    case "TokenAllowed":
      return { ...pos, type: "TokenAllowed", token: lower(a.token), allowed: a.allowed };
    case "RoleGranted":
    case "RoleRevoked":
      if (lower(a.role) !== ARBITER_ROLE) return undefined;
      return {
        ...pos,
        type: parsed.name === "RoleGranted" ? "ArbiterGranted" : "ArbiterRevoked",
        account: lower(a.account),
      };
    default:
      return undefined;
  }
}
