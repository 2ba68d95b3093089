/**
 * Hand-made events for the audit's replay, shaped as the protocol model's decoder emits them (addresses lower-case,
 * every event at its own block), salts for deals, and a ledger with a gateway and an arbiter to replay them on.
 */
import { ZeroHash, concat, getAddress, id, toBeHex, zeroPadValue } from "ethers";
import { DELEGATE_SALT_PREFIX, dealIdOf, type DealParams } from "../../../../../protocol";
import { AuditLedger, type AuditEvent } from "../../../../../scripts/lib/audit/ledger";

/** Parties of the hand-made deals, checksummed as the audit prints them. */
export const A = {
  payer: getAddress("0x00000000000000000000000000000000000000a1"),
  payee: getAddress("0x00000000000000000000000000000000000000b2"),
  gateway: getAddress("0x00000000000000000000000000000000000000c3"),
  token: getAddress("0x00000000000000000000000000000000000000d4"),
  acceptor: getAddress("0x00000000000000000000000000000000000000e5"),
  stranger: getAddress("0x00000000000000000000000000000000000000f6"),
};

let saltCounter = 0n;
/** A fresh salt. */
export const nextSalt = (): string => zeroPadValue(toBeHex(++saltCounter + 0xa0d1700000n), 32);
/** A salt for a lock by the acceptor's delegate: the reserved prefix, then a counter. */
export const nextDelegateSalt = (): string =>
  concat([DELEGATE_SALT_PREFIX, zeroPadValue(toBeHex(++saltCounter + 0xa0d1700000n), 20)]);

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
/** Addresses lower-cased, as the decoder gives them. */
const decoded = <T extends object>(fields: T): T =>
  Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, typeof v === "string" && ADDRESS.test(v) ? v.toLowerCase() : v]),
  ) as T;

let block = 100;
/** The position of the next event: a block of its own. */
export const at = () => ({ block: block++, logIndex: 0, blockHash: ZeroHash, txHash: ZeroHash });

/** A payment of 1,000,000 base units at 50 bps between A.payer and A.payee, with `over` on top. */
export const params = (over: Partial<DealParams> = {}): DealParams =>
  decoded({
    payer: A.payer,
    payee: A.payee,
    gateway: A.gateway,
    token: A.token,
    amount: 1_000_000n,
    deadline: 2_000_000_000,
    releaseWindow: 3600,
    feeBps: 50,
    kind: "payment",
    autoRelease: false,
    salt: nextSalt(),
    ...over,
  });

/** The id of a deal. */
export const idOf = (deal: DealParams): string => dealIdOf(deal.payer, deal.salt);

/** A deal and its id. */
export const withId = (deal: DealParams): [DealParams, string] => [deal, idOf(deal)];

/** The DealOpened of `deal`. */
export const opened = (deal: DealParams): AuditEvent => ({
  ...at(),
  type: "DealOpened",
  dealId: idOf(deal),
  deal,
  ref: id("ref"),
});

/** Any event, at the next block unless `e` says otherwise. */
export const ev = (e: Record<string, unknown>): AuditEvent => ({ ...at(), ...decoded(e) }) as AuditEvent;

export const DAY = 24 * 3600;
/** The escrow's resolution window in the hand-made ledgers (the deploy script's default). */
export const WINDOW = 3 * DAY;
/** When the hand-made deals are performed. */
export const T0 = 1_800_000_000;

/** A ledger with the escrow's resolution window, the gateway registered and approved, and an arbiter. */
export const ledger = (): AuditLedger =>
  new AuditLedger({ resolutionWindow: WINDOW }).applyAll([
    ev({ type: "GatewayRegistered", gateway: A.gateway }),
    ev({ type: "GatewayApproved", gateway: A.gateway }),
    ev({ type: "ArbiterGranted", account: A.stranger }),
  ]);

/**
 * A payment opened, performed at T0 and disputed by `by` at `time`: held, or (held false) not held because the
 * registry refused to count it (DisputeCountSkipped first, unless `skip` is false). Returns the deal's id.
 */
export function disputedAt(
  l: AuditLedger,
  time: number,
  over: Partial<DealParams> = {},
  by = A.payer,
  held = true,
  skip = !held,
): string {
  const deal = params(over);
  const dealId = idOf(deal);
  l.applyAll([
    opened(deal),
    ev({ type: "DealPerformed", dealId, time: T0 }),
    ...(skip ? [ev({ type: "DisputeCountSkipped", dealId, gateway: A.gateway, opened: true })] : []),
    ev({ type: "DealDisputed", dealId, by, gatewayHolds: held, time }),
  ]);
  return dealId;
}

/** The ledger's inconsistencies as `check message` lines. */
export const messages = (l: AuditLedger): string[] => l.inconsistencies.map((i) => `${i.check} ${i.message}`);

/** A ruling of a 1,000,000 deal: `payeeAmount` and `fee` to the payee and the gateway, the rest refunded. */
export const ruling = (dealId: string, by: string, payeeAmount: bigint, fee: bigint, time: number): AuditEvent =>
  ev({
    type: "DealResolved",
    dealId,
    by,
    payeeAmount,
    fee,
    refund: 1_000_000n - payeeAmount - fee,
    reasons: ZeroHash,
    time,
  });
