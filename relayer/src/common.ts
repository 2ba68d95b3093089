/**
 * What every part of the relayer shares: options, the logger, metrics and shutdown hooks.
 */
import pino, { type Logger } from "pino";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Options } from "./options";

export type Metrics = {
  registry: Registry;
  headBlock: Gauge;
  indexedBlock: Gauge;
  finalizedBlock: Gauge;
  lagBlocks: Gauge;
  reorgs: Counter;
  retractions: Counter;
  rpcErrors: Counter<"method" | "kind">;
  eventsIndexed: Counter;
  isLeader: Gauge;
  disputeCountSkipped: Counter<"opened">;
  tokenEscrowBlacklisted: Gauge<"token">;
  tokenPaused: Gauge<"token">;
  requestDuration: Histogram<"method" | "route" | "status">;
  /* readiness (relayer/src/api/availability.ts) */
  halted: Gauge;
  projectionAvailable: Gauge;
  leaderHeartbeat: Gauge;
};

export type Common = {
  options: Options;
  logger: Logger;
  metrics: Metrics;
  /** Registers a hook run (in reverse order) when the process shuts down. */
  onShutdown: (name: string, hook: () => Promise<void> | void) => void;
  shutdown: () => Promise<void>;
};

export function createMetrics(): Metrics {
  const registry = new Registry();
  const opts = <T extends object>(o: T) => ({ ...o, registers: [registry] });
  return {
    registry,
    headBlock: new Gauge(opts({ name: "relayer_head_block", help: "Latest block number seen on the chain" })),
    indexedBlock: new Gauge(opts({ name: "relayer_indexed_block", help: "Latest block applied to the projection" })),
    finalizedBlock: new Gauge(
      opts({ name: "relayer_finalized_block", help: "Latest block past the confirmation depth" }),
    ),
    lagBlocks: new Gauge(opts({ name: "relayer_lag_blocks", help: "Head block minus indexed block" })),
    reorgs: new Counter(opts({ name: "relayer_reorgs_total", help: "Reorgs rolled back" })),
    retractions: new Counter(opts({ name: "relayer_retractions_total", help: "Announced events retracted by reorgs" })),
    rpcErrors: new Counter(
      opts({ name: "relayer_rpc_errors_total", help: "Failed RPC requests", labelNames: ["method", "kind"] as const }),
    ),
    eventsIndexed: new Counter(
      opts({ name: "relayer_events_indexed_total", help: "Events applied to the projection" }),
    ),
    isLeader: new Gauge(opts({ name: "relayer_indexer_leader", help: "1 while this process holds the indexer lease" })),
    disputeCountSkipped: new Counter(
      opts({
        name: "relayer_dispute_count_skipped_total",
        help: "DisputeCountSkipped events indexed: the registry refused to count (opened=true) or uncount a dispute",
        labelNames: ["opened"] as const,
      }),
    ),
    tokenEscrowBlacklisted: new Gauge(
      opts({
        name: "relayer_token_escrow_blacklisted",
        help: "1 while the token blacklists the escrow itself (every payout in it is deferred to owed), else 0",
        labelNames: ["token"] as const,
      }),
    ),
    tokenPaused: new Gauge(
      opts({
        name: "relayer_token_paused",
        help: "1 while the token is paused (payouts in it are deferred to owed), else 0",
        labelNames: ["token"] as const,
      }),
    ),
    requestDuration: new Histogram(
      opts({
        name: "relayer_http_request_duration_seconds",
        help: "HTTP request latency",
        labelNames: ["method", "route", "status"] as const,
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      }),
    ),
    /* readiness (relayer/src/api/availability.ts) */
    halted: new Gauge(
      opts({ name: "relayer_indexer_halted", help: "1 while this process's indexer is halted (needs a rebuild)" }),
    ),
    projectionAvailable: new Gauge(
      opts({
        name: "relayer_projection_available",
        help: "1 while the projection may be served (claimed, built, not halted, not being rebuilt), as last read",
      }),
    ),
    leaderHeartbeat: new Gauge(
      opts({ name: "relayer_leader_heartbeat", help: "1 while the indexer leader's heartbeat in Redis is fresh" }),
    ),
  };
}

export function createCommon(options: Options, logger?: Logger): Common {
  const hooks: { name: string; hook: () => Promise<void> | void }[] = [];
  let shuttingDown: Promise<void> | undefined;
  const log = logger ?? pino({ level: options.logLevel, base: { service: "relayer" } });
  return {
    options,
    logger: log,
    metrics: createMetrics(),
    onShutdown: (name, hook) => hooks.push({ name, hook }),
    shutdown: () => {
      shuttingDown ??= (async () => {
        for (const { name, hook } of [...hooks].reverse()) {
          try {
            await hook();
          } catch (error) {
            log.error({ msg: "shutdown hook failed", hook: name, err: error });
          }
        }
      })();
      return shuttingDown;
    },
  };
}
