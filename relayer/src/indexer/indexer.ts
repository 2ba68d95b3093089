/**
 * The indexer: one leader per chain and escrow (a Redis lease whose value is the fencing token every commit
 * checks) backfills from the deployment block and then follows the chain block by block.
 *
 *  - Blocks at or below the finalized block (head - CONFIRMATIONS + 1) are read with eth_getLogs in adaptive
 *    ranges and committed in batches, without undo logs: they can no longer change. A batch holds whole blocks and
 *    at most BACKFILL_CHUNK_LOGS logs (unless one block has more); the rest of a range read at once waits in memory
 *    for the next steps, so no step keeps the event loop (lease renewals) or Redis (the commit script) busy for
 *    long, however dense the range. While a range is committed, the next one is already being read (one read
 *    ahead at most): final blocks cannot change, so what is read ahead stays valid.
 *  - Newer blocks are read one at a time by hash; each is checked against its parent's stored hash and committed
 *    with an undo log. When the parent does not match, the indexer walks back to the common ancestor and rolls the
 *    projection back (retracting what the removed blocks announced) before going on.
 *  - Every commit is atomic with its checkpoint, so a crash at any point resumes exactly where it left off, and a
 *    block is never applied twice.
 *  - A log does not say when its block was mined; merchants want every history entry dated, and a dispute's
 *    resolution deadline counts from the block that raised it. The indexer stamps every event with its block's
 *    timestamp before committing: from the header it read anyway for a followed block; for a backfilled range, one
 *    `eth_getBlockByNumber` per block that holds events (blocks without events cost nothing), at most
 *    HEADER_CONCURRENCY at once, each checked against the logs' block hash.
 */
import type { Common } from "../common";
import { blockIfKnown } from "../chain/blocks";
import type { BlockHeader, Chain, ChainUpdate, RawLog } from "../chain/types";
import { decodeLog, type ProtocolEvent, type Sources } from "../../../protocol";
import { Halt, LeaseLost, NonRetryableError, ProjectionError, RetryableError } from "../errors";
import type { Meta, Store } from "../store/store";

/** How often progress is logged during the backfill. */
const PROGRESS_LOG_INTERVAL_MS = 2_000;
/** Backoff after a failed step (RPC or Redis trouble), doubled up to the cap. */
const ERROR_BACKOFF_MS = 250;
const ERROR_BACKOFF_CAP_MS = 5_000;
/**
 * Most logs decoded and committed in one backfill step. Decoding and projecting run on the event loop: a step of
 * tens of thousands of logs outlasts the lease (whose renewals cannot run meanwhile) and never commits.
 */
export const BACKFILL_CHUNK_LOGS = 2_000;
/**
 * Headers read at once while stamping a backfilled batch: enough to hide the RPC latency behind each other, few
 * enough not to trip a provider's per-second limit (each request has the chain adapter's deadline and retries).
 */
export const HEADER_CONCURRENCY = 8;
/** Block times kept ahead of their commits at most (a backfill range holds far fewer blocks with logs). */
const HEADER_TIMES_MAX = 50_000;

/**
 * How long the leader's heartbeat lives in Redis: a few lease renewals and poll intervals, so that a step slowed by
 * a retried RPC call does not make every replica unready, while a dead leader is noticed within seconds.
 */
export const heartbeatTtlMs = (options: { leaseTtlMs: number; pollIntervalMs: number }) =>
  Math.max(2 * options.leaseTtlMs, 5 * options.pollIntervalMs);

export type Indexer = {
  /** Starts the loop (takes part in the leader election); resolves when it stops. */
  start(): Promise<void>;
  /** Stops the loop and releases the lease. */
  stop(): Promise<void>;
  isLeader(): boolean;
  /** Set when the indexer halted on an error it cannot recover from (a reorg deeper than the depth kept). */
  halted(): string | undefined;
  /** Subscribes to chain updates applied by this process while it leads. */
  onUpdate(listener: (update: ChainUpdate) => void): void;
};

export function createIndexer({
  common,
  chain,
  store,
  sources,
  deploymentBlock,
  holder,
  backfillChunkLogs = BACKFILL_CHUNK_LOGS,
}: {
  common: Common;
  chain: Chain;
  store: Store;
  sources: Sources;
  deploymentBlock: number;
  /** This process's id in the lease (host:pid:random). */
  holder: string;
  /** Most logs per backfill commit (tests use small values). */
  backfillChunkLogs?: number;
}): Indexer {
  const { logger, metrics, options } = common;
  const confirmations = options.confirmations;
  const addresses = [sources.escrow, sources.registry];
  const listeners: ((u: ChainUpdate) => void)[] = [];
  const heartbeatTtl = heartbeatTtlMs(options);

  let running = false;
  let lease: string | undefined;
  let renewTimer: NodeJS.Timeout | undefined;
  let halted: string | undefined;
  /** Whether the halt is recorded in Redis meta (from then on, its disappearance means an operator rebuilt). */
  let haltRecorded = false;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;
  let progress = { at: 0, events: 0, block: 0 };
  /** Logs of final blocks `from..to` read but not committed yet (valid only while the checkpoint is `from - 1`). */
  let fetched: { from: number; to: number; logs: RawLog[] } | undefined;
  /** The head and finalized block of the last step that asked the node. */
  let known: { head: number; finalized: number } | undefined;
  /** The read of the final range after `fetched`, in flight while `fetched` is committed. */
  let ahead: { from: number; read: Promise<{ logs: RawLog[]; to: number }> } | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const emit = (update: ChainUpdate) => {
    for (const l of listeners) {
      try {
        l(update);
      } catch (error) {
        logger.error({ msg: "chain update listener failed", err: error });
      }
    }
  };

  function setLeader(value: string | undefined) {
    const was = lease !== undefined;
    lease = value;
    metrics.isLeader.set(value ? 1 : 0);
    if (value && !was) {
      logger.info({ msg: "indexer lease taken", lease: value });
      renewTimer = setInterval(renew, Math.max(100, Math.floor(options.leaseTtlMs / 3)));
    } else if (!value && was) {
      if (running) logger.warn({ msg: "indexer lease lost" });
      else logger.info({ msg: "indexer lease released" });
      clearInterval(renewTimer);
      renewTimer = undefined;
    }
  }

  async function renew() {
    const current = lease;
    if (!current) return;
    try {
      const value = await store.lease(holder, options.leaseTtlMs, current);
      if (lease === current && value !== current) setLeader(undefined);
    } catch (error) {
      logger.warn({ msg: "lease renewal failed", err: error });
    }
  }

  const decode = (logs: Parameters<typeof decodeLog>[0][]) =>
    logs.map((log) => decodeLog(log, sources)).filter((e): e is ProtocolEvent => e !== undefined);

  /**
   * Block times by block hash, read (or being read) ahead of the commits that need them: a backfilled range's
   * headers are requested as soon as its logs are known, HEADER_CONCURRENCY at a time in block order, so they
   * arrive while the range's earlier batches are committed. Entries go once their block is committed.
   */
  const headerTimes = new Map<string, Promise<number>>();
  let headersInFlight = 0;
  const headerSlots: (() => void)[] = [];

  async function withHeaderSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (headersInFlight >= HEADER_CONCURRENCY) await new Promise<void>((resolve) => headerSlots.push(resolve));
    headersInFlight++;
    try {
      return await fn();
    } finally {
      headersInFlight--;
      headerSlots.shift()?.();
    }
  }

  /** The time of block `number` whose hash must be `blockHash` (a final block: a mismatch is retried). */
  function timeOfBlock(number: number, blockHash: string): Promise<number> {
    let time = headerTimes.get(blockHash);
    if (time === undefined) {
      if (headerTimes.size >= HEADER_TIMES_MAX) headerTimes.clear(); // ranges dropped by reorgs: start afresh
      const pending = withHeaderSlot(async () => {
        const header = await chain.block(number);
        if (header.hash !== blockHash) {
          throw new RetryableError(
            `block ${number} is ${header.hash} on the node, but its logs came from ${blockHash}`,
          );
        }
        return header.timestamp;
      });
      // A failed read is asked again by the next step; until then nobody may be waiting for it.
      pending.catch(() => {
        if (headerTimes.get(blockHash) === pending) headerTimes.delete(blockHash);
      });
      headerTimes.set(blockHash, pending);
      time = pending;
    }
    return time;
  }

  /** Starts reading the headers of the blocks holding `logs` (in the background). */
  function prefetchHeaders(logs: RawLog[]): void {
    for (const log of logs) void timeOfBlock(log.blockNumber, log.blockHash).catch(() => undefined);
  }

  /**
   * Sets `timestamp` on every event (logs do not carry it): from `known` headers, or read by number and checked
   * against the log's block hash (final blocks only: a mismatch is a reorg below the confirmation depth, retried
   * until the node agrees). One header per distinct block, HEADER_CONCURRENCY requests in flight at most.
   */
  async function stampEvents(events: ProtocolEvent[], known: BlockHeader[] = []): Promise<void> {
    const times = new Map(known.map((h) => [h.hash, h.timestamp]));
    const wanted = new Map<string, number>();
    for (const event of events) {
      if (!times.has(event.blockHash)) wanted.set(event.blockHash, event.block);
    }
    const read = await Promise.all([...wanted].map(([blockHash, number]) => timeOfBlock(number, blockHash)));
    [...wanted.keys()].forEach((blockHash, i) => times.set(blockHash, read[i]));
    for (const event of events) event.timestamp = times.get(event.blockHash);
    for (const blockHash of wanted.keys()) headerTimes.delete(blockHash);
  }

  /**
   * The first batch of a fetched range: whole blocks, at most `backfillChunkLogs` logs unless its first block alone
   * has more. Returns the logs and the last block covered (the range's end when the batch takes all its logs, else
   * the block of the batch's last log).
   */
  function firstChunk(range: { from: number; to: number; logs: RawLog[] }): { logs: RawLog[]; to: number } {
    const { logs } = range;
    if (logs.length <= backfillChunkLogs) return { logs, to: range.to };
    const first = logs[0].blockNumber;
    const over = logs[backfillChunkLogs].blockNumber;
    let end = backfillChunkLogs;
    if (over > first) {
      while (logs[end - 1].blockNumber === over) end--;
    } else {
      while (end < logs.length && logs[end].blockNumber === first) end++;
    }
    // Up to the block of its last log (the blocks after it, up to the next log, have none).
    return { logs: logs.slice(0, end), to: logs[end - 1].blockNumber };
  }

  /** Starts reading the final blocks `from..finalized` in the background (nothing is awaited here). */
  function readAhead(from: number, finalized: number) {
    const read = chain.logsInRange(addresses, from, finalized);
    // Its blocks' headers are read while the current range is still being committed.
    read.then(
      (r) => prefetchHeaders(r.logs),
      () => undefined,
    );
    // Awaited (and its error handled) by the step that uses it; a read that is dropped must not go unhandled.
    read.catch(() => undefined);
    ahead = { from, read };
  }

  /** The logs of the final range starting at `from`: what was read ahead for it, or a new read. */
  async function readRange(from: number, finalized: number): Promise<{ logs: RawLog[]; to: number }> {
    const pending = ahead;
    ahead = undefined;
    if (pending?.from === from) {
      const read = await pending.read;
      // The head can step back in a reorg; what lies above the finalized block now is read again by hash later.
      if (read.to <= finalized) return read;
    }
    return chain.logsInRange(addresses, from, finalized);
  }

  /** Blocks whose undo logs and hashes are dropped once `finalized` is final. */
  const prunable = (from: number, to: number) => {
    const out: number[] = [];
    for (let b = Math.max(deploymentBlock, from); b <= to; b++) out.push(b);
    return out;
  };

  async function commit(meta: Meta, input: Omit<Parameters<Store["commit"]>[0], "leaseValue" | "expectBlock">) {
    if (!lease) throw new LeaseLost();
    const result = await store.commit({ ...input, leaseValue: lease, expectBlock: meta.block });
    if (result === "LEASE") throw new LeaseLost();
    if (result === "STALE") {
      logger.warn({ msg: "checkpoint moved under the indexer; re-reading", block: meta.block });
      return false;
    }
    metrics.indexedBlock.set(input.toBlock);
    metrics.eventsIndexed.inc(input.events.length);
    for (const event of input.events) {
      if (event.type !== "DisputeCountSkipped") continue;
      metrics.disputeCountSkipped.inc({ opened: String(event.opened) });
      // The registry refused to count (or uncount) a dispute: the gateway's counter no longer matches its disputes.
      logger.warn({
        msg: "the registry skipped a dispute count",
        dealId: event.dealId,
        gateway: event.gateway,
        opened: event.opened,
        block: event.block,
      });
    }
    return true;
  }

  /**
   * Walks back from the checkpoint to the block the store and the chain agree on, and rolls back to it. Returns
   * false when the checkpoint turns out to be canonical after all (a node that reported an inconsistent parent).
   */
  async function rollBack(meta: Meta): Promise<boolean> {
    const from = meta.block!;
    let ancestor = from;
    let ancestorHash: string | undefined;
    for (;;) {
      const stored = ancestor === from ? meta.hash : await store.blockHash(ancestor);
      if (stored === undefined || from - ancestor > confirmations) {
        throw new Halt(`reorg below block ${ancestor}, deeper than the ${confirmations} confirmations kept`);
      }
      const canonical = await blockIfKnown(chain, ancestor);
      if (canonical?.hash === stored) {
        ancestorHash = stored;
        break;
      }
      ancestor -= 1;
    }
    if (ancestor === from) {
      logger.warn({ msg: "parent hash mismatch, but the checkpoint is still canonical; retrying", block: from });
      return false;
    }
    if (!lease) throw new LeaseLost();
    const result = await store.rollback(lease, from, ancestor, ancestorHash);
    if (result === "LEASE") throw new LeaseLost();
    if (result === "STALE") return true;
    if (result === "DEEP") throw new Halt(`reorg from ${from} to ${ancestor} reaches finalized blocks`);
    metrics.reorgs.inc();
    metrics.retractions.inc(result.retracted);
    metrics.indexedBlock.set(ancestor);
    logger.warn({ msg: "reorg rolled back", from, to: ancestor, retracted: result.retracted });
    emit({ type: "reorg", from, to: ancestor, retracted: result.retracted });
    return true;
  }

  /** Renews the heartbeat replicas read: this leader is alive and saw `head`. */
  async function beat(head: number) {
    await store.heartbeat(head, heartbeatTtl);
  }

  /**
   * While halted: records the halt in meta (every replica then serves the projection as unavailable) and waits for
   * an operator's rebuild, which deletes the record; then indexes again from what the rebuild left.
   */
  async function haltedStep(): Promise<void> {
    if (!haltRecorded) {
      if (!lease || !(await store.setHalted(halted!, lease))) throw new LeaseLost();
      haltRecorded = true;
      return;
    }
    const meta = await store.getMeta();
    if (meta.halted !== undefined) {
      if (known) await beat(known.head);
      return;
    }
    logger.warn({ msg: "halt cleared (the projection was rebuilt); indexing again", reason: halted });
    halted = undefined;
    haltRecorded = false;
    metrics.halted.set(0);
    fetched = undefined;
    ahead = undefined;
  }

  /** One step of the loop: a backfill batch, one new block, a rollback, or an idle check. */
  async function step(): Promise<"busy" | "idle"> {
    const meta = await store.getMeta();
    // Meta goes with a flushed Redis: the owner is recorded again before anything is indexed.
    if (meta.owner === undefined) await store.claim();
    const next = meta.block === undefined ? deploymentBlock : meta.block + 1;
    // The rest of a range already read holds final blocks after a final checkpoint: nothing to ask the node (whose
    // answers would wait behind the range being read ahead).
    if (fetched?.from === next && known !== undefined && fetched.to <= known.finalized) {
      await beat(known.head);
      return backfill(meta, next, known.head, known.finalized);
    }
    const head = await chain.head();
    const finalized = head - confirmations + 1;
    known = { head, finalized };
    await beat(head);
    metrics.headBlock.set(head);
    metrics.finalizedBlock.set(Math.max(0, finalized));
    metrics.lagBlocks.set(Math.max(0, head - (meta.block ?? deploymentBlock - 1)));

    // The checkpoint itself must still be canonical (a reorg may have happened while no block came, or while the
    // indexer was down).
    if (meta.block !== undefined && (next > head || next <= finalized)) {
      const current = await blockIfKnown(chain, meta.block);
      if (current?.hash !== meta.hash) return (await rollBack(meta)) ? "busy" : "idle";
    }

    if (next > head) {
      await store.setProgress(head, true);
      return "idle";
    }

    if (next <= finalized) return backfill(meta, next, head, finalized);

    // Follow: one unfinalized block, checked against its parent.
    const header = await blockIfKnown(chain, next);
    if (!header) return "idle";
    if (meta.block !== undefined && header.parentHash !== meta.hash) {
      return (await rollBack(meta)) ? "busy" : "idle";
    }
    const events = decode(await chain.logsOfBlock(addresses, header.hash));
    await stampEvents(events, [header]);
    const stale = next - confirmations - 1;
    const done = await commit(meta, {
      toBlock: next,
      toHash: header.hash,
      events,
      undoable: true,
      blockHashes: [[next, header.hash]],
      pruneBlocks: stale >= deploymentBlock ? [stale] : [],
    });
    if (done) {
      await store.setProgress(head, true, header.timestamp);
      emit({ type: "block", block: header, events: events.length });
      if (finalized >= deploymentBlock) emit({ type: "finalize", block: finalized });
    }
    return next < head ? "busy" : "idle";
  }

  /** Backfill: a final range (or what is left of the one read before), committed a chunk at a time. */
  async function backfill(meta: Meta, next: number, head: number, finalized: number): Promise<"busy"> {
    let range = fetched?.from === next && fetched.to <= finalized ? fetched : undefined;
    fetched = undefined;
    if (!range) {
      const read = await readRange(next, finalized);
      range = { from: next, to: read.to, logs: read.logs };
    }
    if (!ahead && range.to < finalized) readAhead(range.to + 1, finalized);
    prefetchHeaders(range.logs);
    const chunk = firstChunk(range);
    const events = decode(chunk.logs);
    await stampEvents(events);
    // A chunk that ends on a block with logs has that block's hash in them (and its time was read for them).
    const last = chunk.logs.at(-1);
    const end = last?.blockNumber === chunk.to ? undefined : await chain.block(chunk.to);
    const toHash = end?.hash ?? last!.blockHash;
    // The time of the chain as indexed: what the write side and the keeper judge expiries and windows by.
    const toTime = end?.timestamp ?? (await timeOfBlock(chunk.to, toHash));
    const pruneFrom =
      meta.block === undefined ? chunk.to + 1 : Math.max(deploymentBlock, meta.block - confirmations - 1);
    const done = await commit(meta, {
      toBlock: chunk.to,
      toHash,
      events,
      undoable: false,
      blockHashes: [[chunk.to, toHash]],
      pruneBlocks: prunable(pruneFrom, Math.min(meta.block ?? -1, chunk.to)),
    });
    if (done) {
      if (chunk.to < range.to) {
        fetched = { from: chunk.to + 1, to: range.to, logs: range.logs.slice(chunk.logs.length) };
      }
      logProgress(chunk.to, finalized, events.length);
      await store.setProgress(head, chunk.to >= finalized, toTime);
      emit({ type: "finalize", block: chunk.to });
    }
    return "busy";
  }

  function logProgress(block: number, target: number, events: number) {
    const now = Date.now();
    progress.events += events;
    if (now - progress.at < PROGRESS_LOG_INTERVAL_MS && block < target) return;
    const seconds = progress.at === 0 ? 0 : (now - progress.at) / 1000;
    const total = target - deploymentBlock + 1;
    const done = block - deploymentBlock + 1;
    logger.info({
      msg: "backfill",
      block,
      target,
      blocksDone: done,
      blocksTotal: total,
      percent: Math.floor((done / Math.max(1, total)) * 100),
      eventsPerSec: seconds > 0 ? Math.round(progress.events / seconds) : undefined,
    });
    progress = { at: now, events: 0, block };
  }

  async function run() {
    let backoff = ERROR_BACKOFF_MS;
    while (running) {
      try {
        if (!lease) {
          setLeader(await store.lease(holder, options.leaseTtlMs));
          if (!lease) {
            // A follower asks again every poll interval (at most a third of the TTL): a dead leader's successor
            // then indexes within the lease TTL plus one poll interval (one cheap script call per poll meanwhile).
            await sleep(Math.max(50, Math.min(options.pollIntervalMs, Math.floor(options.leaseTtlMs / 3))));
            continue;
          }
        }
        if (halted) {
          await haltedStep();
          if (halted) await sleep(options.pollIntervalMs);
          continue;
        }
        const state = await step();
        backoff = ERROR_BACKOFF_MS;
        if (state === "idle") await sleep(options.pollIntervalMs);
      } catch (error) {
        if (!running) break;
        if (error instanceof LeaseLost) {
          setLeader(undefined);
          if (halted !== undefined && !haltRecorded) {
            // Judged under a lease that was seized meanwhile (a rebuild deleting what the judgement read): not a
            // verdict on the chain. Whoever leads next reads the chain and the store again.
            logger.warn({ msg: "halt dropped: the indexer lease was lost before it was recorded", reason: halted });
            halted = undefined;
            metrics.halted.set(0);
          }
          continue;
        }
        if (error instanceof Halt || error instanceof ProjectionError) {
          halted = error.message;
          haltRecorded = false;
          metrics.halted.set(1);
          logger.fatal({ msg: "indexer halted; the projection needs an operator (rebuild)", reason: error.message });
          continue;
        }
        const retryable = !(error instanceof NonRetryableError);
        logger.warn({ msg: "indexer step failed", err: error, retryable, backoffMs: backoff });
        await sleep(backoff);
        backoff = Math.min(backoff * 2, ERROR_BACKOFF_CAP_MS);
      }
    }
  }

  return {
    start() {
      if (!running) {
        running = true;
        loop = run();
      }
      return loop!;
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
      clearInterval(renewTimer);
      const value = lease;
      setLeader(undefined);
      if (value) await store.releaseLease(value).catch(() => undefined);
    },
    isLeader: () => lease !== undefined,
    halted: () => halted,
    onUpdate: (listener) => listeners.push(listener),
  };
}
