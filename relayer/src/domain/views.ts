/**
 * How stored entities are shown by the API. Pure.
 *
 * Finality: an entity's latest event sits in block `updatedBlock`; its confirmations are `head - updatedBlock + 1`
 * and it is `final` once that reaches the confirmation depth, `pending` before. A pending state can still be
 * undone by a reorg (the event stream then carries a retraction); a final one never changes.
 */
import type { Hash, HistoryEntry } from "./projection";

export type Finality = "pending" | "final";

export type Progress = { head: number; confirmations: number };

/**
 * Confirmations of an event in `block`: the block itself counts as one. An indexed event is in a mined block, so
 * it has at least one even when the recorded head is older than the data read (the head is cached briefly).
 */
export function confirmationsOf(block: number, head: number): number {
  return Math.max(1, head - block + 1);
}

export function finalityOf(block: number, progress: Progress): Finality {
  return confirmationsOf(block, progress.head) >= progress.confirmations ? "final" : "pending";
}

const hex0x = (v: string | undefined) => (v === undefined ? undefined : `0x${v}`);

export type DealView = {
  dealId: string;
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
  disputedBy?: string;
  resolvedBy?: string;
  openedBlock: number;
  updatedBlock: number;
  confirmations: number;
  finality: Finality;
  history: (HistoryEntry & { confirmations: number; finality: Finality })[];
};

export function dealView(dealId: string, deal: Hash, history: HistoryEntry[], progress: Progress): DealView {
  const updatedBlock = Number(deal.updatedBlock);
  return {
    dealId,
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
    ...(deal.disputedBy !== undefined ? { disputedBy: deal.disputedBy } : {}),
    ...(deal.resolvedBy !== undefined ? { resolvedBy: deal.resolvedBy } : {}),
    openedBlock: Number(deal.openedBlock),
    updatedBlock,
    confirmations: confirmationsOf(updatedBlock, progress.head),
    finality: finalityOf(updatedBlock, progress),
    history: history.map((h) => ({
      ...h,
      confirmations: confirmationsOf(h.blockNumber, progress.head),
      finality: finalityOf(h.blockNumber, progress),
    })),
  };
}

export type GatewayView = {
  address: string;
  status: string;
  bond: string;
  feeBps: number;
  feeCapBps: number;
  exitAt: number;
  openDisputes: number;
  metadata: string;
  registeredBlock: number;
  updatedBlock: number;
  finality: Finality;
};

export function gatewayView(address: string, gw: Hash, progress: Progress): GatewayView {
  return {
    address,
    status: gw.status,
    bond: gw.bond,
    feeBps: Number(gw.feeBps),
    feeCapBps: Number(gw.feeCapBps),
    exitAt: Number(gw.exitAt),
    openDisputes: Number(gw.openDisputes),
    metadata: hex0x(gw.metadata)!,
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
  /** Per token: order limits and float (free may be locked for orders or withdrawn; locked funds open deals). */
  tokens: { token: string; minAmount: string; maxAmount: string; free: string; locked: string }[];
  registeredBlock: number;
  updatedBlock: number;
  finality: Finality;
};

export function acceptorView(address: string, acc: Hash, methods: string[], progress: Progress): AcceptorView {
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
    methods: [...methods].sort(),
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
