/**
 * How the audit names and prints what it checks: the contracts' enum names (the protocol model's API names are
 * lower-case; the audit's report keeps the contracts' spelling), checksummed addresses and token amounts.
 */
import { getAddress } from "ethers";
import {
  DEAL_KINDS,
  GATEWAY_STATUS_NAMES,
  KIND_NAMES,
  REFUND_REASONS,
  REFUND_REASON_NAMES,
  STATUS_NAMES,
  type DealKind,
  type RefundReasonName,
} from "../../../protocol";

/** A deal status by the contract's name. */
export type StatusName = (typeof STATUS_NAMES)[number];
/** A gateway's life cycle by the registry's names; governance's suspension is a separate flag. */
export type GatewayStage = (typeof GATEWAY_STATUS_NAMES)[number];

/** A status number by its name (`#n` for a number the contract does not have). */
export const statusName = (status: number): string => STATUS_NAMES[status] ?? `#${status}`;
/** A deal kind by the contract's name (`OnRamp` for `onramp`). */
export const kindName = (kind: DealKind): string => KIND_NAMES[DEAL_KINDS.indexOf(kind)] ?? String(kind);
/** A refund reason by the contract's name (`PayeeCancel` for `payee_cancel`). */
export const reasonName = (reason: RefundReasonName): string =>
  REFUND_REASON_NAMES[REFUND_REASONS.indexOf(reason)] ?? String(reason);

/** An address as the audit prints it (the protocol's decoder gives lower-case hex): checksummed. */
export const checksummed = (address: string): string => getAddress(address);

/** Whether two addresses (or ids) are the same, whatever their case. */
export const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

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
