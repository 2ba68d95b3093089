/**
 * The order sweeper: one loop per process over the `live` zset's due entries (score ≤ now), moving each order on
 * (accept windows, expiries, the deal it follows). Several replicas may sweep at once: each order is leased for
 * the step and written by compare-and-set (store.ts), so an order moves, and its event is written, once.
 * Every Redis call has the shared client's command deadline; a failed pass is logged and retried next interval.
 */
import type { Logger } from "pino";

/** Due orders read per pass. */
export const SWEEP_BATCH = 100;

export function createSweeper(deps: {
  due(now: number, limit: number): Promise<string[]>;
  advance(id: string): Promise<string>;
  intervalMs: number;
  logger: Logger;
}) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;

  async function pass(): Promise<void> {
    const ids = await deps.due(Date.now(), SWEEP_BATCH);
    for (const id of ids) {
      if (stopped) return;
      try {
        const outcome = await deps.advance(id);
        if (outcome !== "waiting" && outcome !== "leased") deps.logger.debug({ msg: "order swept", id, outcome });
      } catch (error) {
        deps.logger.warn({ msg: "order sweep step failed", id, err: (error as Error).message });
      }
    }
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pass()
        .catch((error: unknown) => deps.logger.warn({ msg: "order sweep failed", err: (error as Error).message }))
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, deps.intervalMs);
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    /** One pass now (tests). */
    pass,
  };
}
