/**
 * EIP-1559 fees: a suggestion from the node (`eth_feeHistory` for the next base fee, `eth_maxPriorityFeePerGas`
 * for the tip), and the fees of a replacement (a bump), which nodes accept only when both fees rise enough.
 */
import type { Chain } from "../chain/types";

export type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };

/** The least fee rise a replacement may have, in percent (geth refuses less than 10%, we keep a margin). */
export const MIN_BUMP_PERCENT = 12.5;

const ceilPercent = (value: bigint, percent: number): bigint => {
  const basisPoints = BigInt(Math.round(percent * 100));
  return (value * (10_000n + basisPoints) + 9_999n) / 10_000n;
};

/** `maxFeePerGas` = 2 × the next block's base fee + the tip, at most `cap` (and the tip at most maxFeePerGas). */
export async function suggestFees(chain: Chain, cap?: bigint): Promise<Fees> {
  const history = (await chain.request("eth_feeHistory", ["0x1", "latest", []])) as { baseFeePerGas?: string[] };
  const bases = history?.baseFeePerGas ?? [];
  const nextBase = bases.length > 0 ? BigInt(bases[bases.length - 1]) : 0n;
  let tip: bigint;
  try {
    tip = BigInt((await chain.request("eth_maxPriorityFeePerGas", [])) as string);
  } catch {
    tip = 1_000_000_000n;
  }
  let maxFeePerGas = nextBase * 2n + tip;
  if (cap !== undefined && maxFeePerGas > cap) maxFeePerGas = cap;
  return { maxFeePerGas, maxPriorityFeePerGas: tip > maxFeePerGas ? maxFeePerGas : tip };
}

/**
 * The fees of a replacement for a transaction sent with `previous`: each raised by at least `percent` (at least
 * {@link MIN_BUMP_PERCENT}), or to the current suggestion when that is higher. Undefined when `cap` leaves no room
 * for a rise a node would accept.
 */
export function bumpedFees(previous: Fees, current: Fees, percent: number, cap?: bigint): Fees | undefined {
  const rise = Math.max(percent, MIN_BUMP_PERCENT);
  const minFee = ceilPercent(previous.maxFeePerGas, rise);
  const minTip = ceilPercent(previous.maxPriorityFeePerGas, rise);
  let maxFeePerGas = current.maxFeePerGas > minFee ? current.maxFeePerGas : minFee;
  const maxPriorityFeePerGas = current.maxPriorityFeePerGas > minTip ? current.maxPriorityFeePerGas : minTip;
  if (cap !== undefined && maxFeePerGas > cap) maxFeePerGas = cap;
  if (maxFeePerGas < minFee || maxPriorityFeePerGas > maxFeePerGas) return undefined;
  return { maxFeePerGas, maxPriorityFeePerGas };
}
