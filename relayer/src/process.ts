/**
 * The relayer as an operating-system process: how it ends. SIGINT and SIGTERM shut it down and exit 0. An error that
 * nothing awaited (an unhandled rejection, an uncaught exception) leaves the relayer in a state nobody reasoned
 * about, so it logs one fatal line — through the logger, whose every line is redacted, never Node's default stack
 * print, which would show an RPC or Redis URL with its credentials — shuts down and exits 1 for the supervisor to
 * restart it. Once a shutdown has begun, a late rejection from a client whose connection is closing under a pending
 * command (ioredis and BullMQ do this when stopped before they connected) is expected: it is logged at warn and the
 * shutdown goes on. A shutdown that takes longer than `shutdownMs` is cut short: the process exits anyway.
 */
import type { Common } from "./common";
import { settledWithin } from "./deadline";

/** How long a shutdown may take before the process exits without waiting for the rest. */
export const SHUTDOWN_MS = 30_000;

/** The part of `process` the supervisor listens on. */
export type ProcessEvents = {
  on(event: "SIGINT" | "SIGTERM", listener: () => void): unknown;
  on(event: "unhandledRejection" | "uncaughtException", listener: (reason: unknown) => void): unknown;
};

export type Supervisor = {
  /** Shuts down once (later calls return the same promise), then exits with `code`. */
  stop(code: number, why: string): Promise<void>;
};

export function superviseProcess(
  common: Common,
  options: { events?: ProcessEvents; exit?: (code: number) => void; shutdownMs?: number } = {},
): Supervisor {
  const { events = process as ProcessEvents, exit = (code) => process.exit(code), shutdownMs = SHUTDOWN_MS } = options;
  const logger = common.logger.child({ module: "process" });
  let stopping: Promise<void> | undefined;

  const stop = (code: number, why: string): Promise<void> => {
    stopping ??= (async () => {
      if (!(await settledWithin(common.shutdown(), shutdownMs))) {
        logger.error({ msg: "shutdown did not end in time; exiting without it", why, waitedMs: shutdownMs });
      }
      exit(code);
    })();
    return stopping;
  };

  const fault = (kind: string) => (reason: unknown) => {
    if (stopping) {
      logger.warn({ msg: `${kind} while shutting down; the shutdown goes on`, err: reason });
      return;
    }
    logger.fatal({ msg: `${kind}; shutting down`, err: reason });
    void stop(1, kind);
  };

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    events.on(signal, () => {
      if (stopping) return;
      logger.info({ msg: "shutting down", signal });
      void stop(0, signal);
    });
  }
  events.on("unhandledRejection", fault("unhandled rejection"));
  events.on("uncaughtException", fault("uncaught exception"));
  return { stop };
}
