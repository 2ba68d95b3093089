/**
 * Reads over a `Chain` that the indexer makes in more than one place.
 */
import { NotFoundError } from "../errors";
import type { BlockHeader, Chain } from "./types";

/**
 * The header of block `number`, or undefined when the node does not know it (not mined yet, or reorged away).
 * Any other failure is thrown.
 */
export async function blockIfKnown(chain: Pick<Chain, "block">, number: number): Promise<BlockHeader | undefined> {
  try {
    return await chain.block(number);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
