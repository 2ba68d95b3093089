/**
 * Follows the event stream with a blocking XREAD on a connection of its own (a blocking command must never hold the
 * shared client) and wakes its subscribers when entries arrive. Subscribers read what is new themselves (from their
 * own cursor, with XRANGE on the shared client), so a wake carries no data and a missed one only delays: each
 * subscriber also re-reads on its own timer.
 */
import { duplicateClient, type RedisClient as Redis } from "../redis";
import type { Logger } from "pino";
import { settledWithin } from "../deadline";

/** How long one XREAD blocks; the dedicated connection's command timeout is above it. */
export const TAIL_BLOCK_MS = 5_000;

export type Tail = {
  /** Calls `wake` whenever entries arrive; returns the unsubscribe function. */
  subscribe(wake: () => void): () => void;
  stop(): Promise<void>;
};

export function startTail({
  redis,
  streamKey,
  logger,
  blockMs = TAIL_BLOCK_MS,
}: {
  redis: Redis;
  streamKey: string;
  logger: Logger;
  blockMs?: number;
}): Tail {
  const subscribers = new Set<() => void>();
  // Dedicated: XREAD BLOCK holds its connection; no auto-pipelining, a timeout above the block time.
  const conn = duplicateClient(redis, {
    enableAutoPipelining: false,
    commandTimeout: blockMs + 5_000,
    lazyConnect: false,
  });
  conn.on("error", () => {
    // Logged by the loop when a read fails; ioredis reconnects by itself.
  });
  let stopped = false;

  const loop = async () => {
    let last: string | undefined;
    while (!stopped) {
      try {
        if (last === undefined) {
          const [newest] = await conn.xrevrange(streamKey, "+", "-", "COUNT", 1);
          last = newest?.[0] ?? "0-0";
        }
        const got = (await conn.xread("COUNT", 1000, "BLOCK", blockMs, "STREAMS", streamKey, last)) as
          [string, [string, string[]][]][] | null;
        const entries = got?.[0]?.[1] ?? [];
        if (entries.length > 0) {
          last = entries[entries.length - 1][0];
          for (const wake of subscribers) wake();
        }
      } catch (error) {
        if (stopped) return;
        logger.warn({ msg: "event stream tail failed; retrying", err: (error as Error).message });
        last = undefined;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  };
  const running = loop();

  return {
    subscribe(wake) {
      subscribers.add(wake);
      return () => subscribers.delete(wake);
    },
    async stop() {
      stopped = true;
      subscribers.clear();
      // A blocked XREAD would hold quit() for up to blockMs: drop the connection instead. A command a Cluster client
      // still holds in its offline queue (stopped while connecting) may never settle: wait at most one block.
      conn.disconnect();
      await settledWithin(running, blockMs);
    },
  };
}
