/**
 * What every part of the relayer shares: options, the logger, metrics and shutdown hooks.
 */
import pino, { type DestinationStream, type Logger } from "pino";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Options } from "./options";
import { createRedactor, secretsOfUrl } from "./redact";

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
  // Node's process metrics under their standard names (process_cpu_seconds_total, process_resident_memory_bytes,
  // nodejs_eventloop_lag_seconds, nodejs_heap_size_used_bytes, ...), so stock Node.js dashboards work unchanged;
  // the relayer's own metrics keep the relayer_ prefix.
  collectDefaultMetrics({ register: registry });
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

/** Where log lines go: stdout by default; `isTTY` decides the format when LOG_FORMAT is auto. */
export type LogOutput = { write(text: string): unknown; isTTY?: boolean };

const LEVEL_NAMES: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
/** Members of a pino line that the pretty format shows in its own way, or not at all. */
const PRETTY_OMITTED = new Set(["level", "time", "msg", "pid", "hostname", "service"]);

/** One value of a pretty line: bare when it is a plain word, JSON (quoted, escaped) otherwise. */
function prettyValue(value: unknown): string {
  if (typeof value === "string") return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return JSON.stringify(value);
}

/**
 * A pino JSON line as a human reads it: `HH:MM:SS.mmm LEVEL message key=value ...`, and an error's stack indented
 * below. Lines that are not pino's JSON pass through unchanged.
 */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const time = typeof entry.time === "number" ? new Date(entry.time).toISOString().slice(11, 23) : "--:--:--.---";
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5);
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [key, value] of Object.entries(entry)) {
    if (PRETTY_OMITTED.has(key) || value === undefined) continue;
    const error = value as { message?: unknown; stack?: unknown; type?: unknown } | null;
    if (key === "err" && error && typeof error === "object" && typeof error.message === "string") {
      fields.push(`${key}=${prettyValue(error.message)}`);
      if (typeof error.stack === "string") stack = error.stack;
      continue;
    }
    fields.push(`${key}=${prettyValue(value)}`);
  }
  const msg = typeof entry.msg === "string" ? entry.msg : "";
  const head = [time, level, msg, ...fields].filter((part) => part !== "").join(" ");
  const tail = stack === undefined ? "" : `\n${stack.replace(/^/gm, "    ")}`;
  return `${head}${tail}\n`;
}

/**
 * The logger's destination: every line redacted (URL credentials and keys, the configured secrets), then written as
 * JSON, or pretty when LOG_FORMAT says so (auto: when `output` is a terminal).
 */
export function logDestination(
  options: Pick<Options, "logFormat" | "rpcUrl" | "redisUrl" | "relayerKey" | "relayerKeystorePassword">,
  output: LogOutput = process.stdout,
): DestinationStream {
  const redact = createRedactor([
    options.relayerKey,
    options.relayerKeystorePassword,
    ...secretsOfUrl(options.rpcUrl),
    ...secretsOfUrl(options.redisUrl),
  ]);
  const pretty = options.logFormat === "pretty" || (options.logFormat === "auto" && output.isTTY === true);
  return {
    write: (line: string) => {
      const safe = redact(line);
      output.write(pretty ? prettyLine(safe.trimEnd()) : safe);
    },
  };
}

export function createCommon(options: Options, logger?: Logger, output?: LogOutput): Common {
  const hooks: { name: string; hook: () => Promise<void> | void }[] = [];
  let shuttingDown: Promise<void> | undefined;
  const log =
    logger ?? pino({ level: options.logLevel, base: { service: "relayer" } }, logDestination(options, output));
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
