/**
 * What the indexer needs from the chain. Implemented over ethers v6 in chain.ts.
 */
import type { Log } from "ethers";

/** A block header as the indexer uses it (hashes lower-case, timestamp in unix seconds). */
export type BlockHeader = { number: number; hash: string; parentHash: string; timestamp: number };

/** A log as the indexer decodes it. */
export type RawLog = Pick<
  Log,
  "address" | "topics" | "data" | "blockNumber" | "blockHash" | "transactionHash" | "index"
>;

/** A chain update, as a tagged union (for subscribers of the indexer). */
export type ChainUpdate =
  | { type: "block"; block: BlockHeader; events: number }
  | { type: "reorg"; from: number; to: number; retracted: number }
  | { type: "finalize"; block: number };

/** A call as `eth_call` takes it (addresses and data as 0x hex). */
export type CallRequest = { from?: string; to: string; data: string; gas?: bigint; value?: bigint };

/** What a simulated call did: returned `data`, or reverted with `revertData` ("0x" when the node gave none). */
export type CallOutcome = { ok: true; data: string } | { ok: false; revertData: string };

export type Chain = {
  chainId(): Promise<number>;
  /** The latest block number. */
  head(): Promise<number>;
  /** The header of `number` (throws NotFoundError when the node does not have it). */
  block(number: number): Promise<BlockHeader>;
  /**
   * Logs of `addresses` from `from` up to at most `to`, in an adaptive range: returns the logs and the last block
   * covered (`to` when the range allowed it, less after the provider refused a large range). Ordered by block and
   * log index.
   */
  logsInRange(addresses: string[], from: number, to: number): Promise<{ logs: RawLog[]; to: number }>;
  /** Logs of `addresses` in the block with `blockHash` (consistent with that exact block). */
  logsOfBlock(addresses: string[], blockHash: string): Promise<RawLog[]>;
  /**
   * `eth_call` of `data` on `to` at the latest block: the returned data (lower-case hex, "0x" when none), or
   * undefined when the call reverted (for example a function the contract does not have).
   */
  call(to: string, data: string): Promise<string | undefined>;
  /**
   * Any JSON-RPC method, with the adapter's deadline, retries and error classification (the write side's
   * `eth_sendRawTransaction`, `eth_getTransactionCount`, fees and receipts). A revert of `eth_call` or
   * `eth_estimateGas` throws CallRevertedError with the revert data.
   */
  request(method: string, params: unknown[]): Promise<unknown>;
  /**
   * `eth_call` of a transaction at `block` ("latest" or "pending"): its return data, or its revert data when it
   * reverted (to decode the custom error or reason it reverted with).
   */
  simulate(tx: CallRequest, block?: "latest" | "pending"): Promise<CallOutcome>;
  /** Stops in-flight retries (shutdown). */
  close(): void;
};
