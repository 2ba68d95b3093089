/**
 * Reading the logs: the escrow's and the registry's logs from their deployment to the head, through the relayer's
 * chain adapter (the same adaptive `eth_getLogs` ranges, retries with jitter and failure classification as the
 * indexer), decoded by the protocol model, and the block times the timed rules need.
 */
import { createChain, type EthersChain } from "../../../relayer/src/chain/chain";
import type { Chain, RawLog } from "../../../relayer/src/chain/types";
import { createCommon } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { decodeLog, isDelegateSalt, type Sources } from "../../../protocol";
import type { AuditEvent } from "./ledger";
import { mapLimit } from "./rpc";

/** Scans of the blocks mined while the previous scan ran, before storage is read at the last one. */
export const CATCH_UP_ROUNDS = 3;
/**
 * Block headers read at once through the chain adapter (it listens for its own close on one signal per request,
 * and Node warns of a leak above ten listeners).
 */
export const HEADER_CONCURRENCY = 8;

export type ScanProgress = { fromBlock: number; toBlock: number; head: number; events: number };

export type ChainOptions = {
  /** Total time one request may take. */
  requestTimeoutMs: number;
  /** Tuning for tests: the adapter's retry policy and first `eth_getLogs` span. */
  backoff?: Parameters<typeof createChain>[0]["backoff"];
  initialLogSpan?: number;
};

/**
 * The relayer's chain adapter on `rpcUrl` (http or https), with the relayer's defaults (a range of at most
 * LOG_RANGE_MAX's default, 10,000 blocks) and its logger silenced: the audit's stdout is its report. Throws when the
 * URL is not one the adapter takes.
 */
export function openChain(rpcUrl: string, deploymentFile: string, options: ChainOptions): EthersChain {
  const common = createCommon(parseOptions({ RPC_URL: rpcUrl, DEPLOYMENT: deploymentFile, LOG_LEVEL: "silent" }));
  return createChain({ common, rpcUrl, ...options });
}

/**
 * Every log of `addresses` in `[fromBlock, toBlock]`, ordered by (block, logIndex), read in the adapter's adaptive
 * ranges; `onProgress` after each range with the blocks read so far.
 */
export async function scanLogs(
  chain: Pick<Chain, "logsInRange">,
  addresses: string[],
  fromBlock: number,
  toBlock: number,
  onProgress?: (p: ScanProgress) => void,
): Promise<RawLog[]> {
  const logs: RawLog[] = [];
  for (let next = fromBlock; next <= toBlock;) {
    const range = await chain.logsInRange(addresses, next, toBlock);
    logs.push(...range.logs);
    onProgress?.({ fromBlock, toBlock: range.to, head: toBlock, events: logs.length });
    next = range.to + 1;
  }
  return logs;
}

/**
 * The logs from `fromBlock` to `head`, then a few catch-up scans of the blocks mined meanwhile, so that storage is
 * read at a block still recent (a non-archive node keeps the state of the last ~128 blocks only). Returns the logs
 * and the last block scanned, the block whose state the audit then reads.
 */
export async function scanToHead(
  chain: Pick<Chain, "logsInRange" | "head">,
  addresses: string[],
  fromBlock: number,
  head: number,
  onProgress?: (p: ScanProgress) => void,
): Promise<{ logs: RawLog[]; head: number }> {
  const logs: RawLog[] = [];
  for (let round = 0, start = fromBlock; round <= CATCH_UP_ROUNDS; round++) {
    const before = logs.length;
    const end = head;
    logs.push(
      ...(await scanLogs(chain, addresses, start, end, (p) =>
        onProgress?.({ fromBlock, toBlock: p.toBlock, head: end, events: before + p.events }),
      )),
    );
    const tip = await chain.head();
    if (tip <= head || round === CATCH_UP_ROUNDS) break;
    start = head + 1;
    head = tip;
  }
  return { logs, head };
}

/** The logs decoded by the protocol model; undefined for logs the protocol does not use (other roles, parameters). */
export const decodeLogs = (logs: readonly RawLog[], sources: Sources): (AuditEvent | undefined)[] =>
  logs.map((log) => decodeLog(log, sources));

/** Whether the replay checks a rule that needs the time of this event's block (so the audit reads it). */
export function needsTime(e: AuditEvent): boolean {
  switch (e.type) {
    case "DealPerformed":
    case "DealDisputed":
    case "DealResolved":
    case "DealRefunded":
      return true;
    case "DealOpened":
      return e.deal.kind === "onramp" && isDelegateSalt(e.deal.salt);
    default:
      return false;
  }
}

/** Adds the timestamps of `blocks` that `times` lacks. */
export async function readBlockTimes(
  chain: Pick<Chain, "block">,
  blocks: readonly number[],
  times: Map<number, number>,
): Promise<void> {
  const wanted = [...new Set(blocks)].filter((n) => !times.has(n));
  await mapLimit(wanted, HEADER_CONCURRENCY, async (n) => {
    times.set(n, (await chain.block(n)).timestamp);
  });
}
