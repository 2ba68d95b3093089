/**
 * Rulings of a disputed deal: the written reasons (their hash goes on-chain with the Resolution the gateway or an
 * arbiter signs) and the end of the gateway's resolution window. Pure.
 */
import { keccak256, toUtf8Bytes } from "ethers";

/** The on-chain `reasons` of a ruling: keccak256 of the reasons' UTF-8 text (0x + 64 lower-case hex digits). */
export function reasonsHash(text: string): string {
  return keccak256(toUtf8Bytes(text)).toLowerCase();
}

/**
 * The last second (unix) the gateway may rule a dispute it holds: the time the deal entered Disputed plus the
 * escrow's resolution window (the escrow's `block.timestamp <= since + resolutionWindow`).
 */
export function resolutionWindowEnd(disputedAt: number, window: number): number {
  return disputedAt + window;
}
