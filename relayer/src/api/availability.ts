/**
 * Whether the projection may be served, and whether this relayer is ready: the read side's answer to "is this data
 * right?", shared by the data-route guard (every replica), `/v1/ready` and the metrics.
 *
 *  - The projection is *unavailable* while the indexer is halted (a reorg deeper than the confirmations kept: what
 *    is stored may no longer exist on chain), while an operator rebuilds it, and until a first backfill completed
 *    (an empty or flushed Redis). The data routes then answer 503 `projection-unavailable` rather than 404s or
 *    orphaned deals. A projection that is merely behind (a restarted indexer catching up) stays available: it is
 *    stale, not wrong, and readiness says so.
 *  - *Ready* means: Redis answers, the keys are claimed, the projection is available and backfilled, the leader's
 *    heartbeat is fresh, and the indexed block is within READY_MAX_LAG_BLOCKS of the head (the higher of the head the
 *    leader last saw and the one this process's own RPC node reports).
 *
 * Meta and the heartbeat are read together (one round trip), under a deadline, and cached for {@link STATE_CACHE_MS}
 * with concurrent callers sharing one read, as app.ts does with progress.
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import type { Metrics } from "../common";
import { withDeadline } from "../deadline";
import type { Meta, ProjectionState, Store } from "../store/store";
import { ApiProblem, RETRY_AFTER_SECONDS, type ProblemKind } from "./problems";

/** How long the projection's state is cached in memory. */
export const STATE_CACHE_MS = 250;
/** Deadline of one read of the projection's state (a hung Redis answers 503 after it, never hangs a request). */
export const STATE_DEADLINE_MS = 1_000;
/** Deadline of a whole readiness check: a probe gets its answer within a second, whatever hangs. */
export const READY_DEADLINE_MS = 800;
/** At most one "redis timed out" warning per this interval (the others are counted in the next). */
export const TIMEOUT_WARNING_INTERVAL_MS = 10_000;

export type Availability = {
  /** Meta and the leader's head (cached, deadline-bound). */
  state(): Promise<ProjectionState>;
  /** The same, read now (the cache is refreshed with it). */
  fresh(): Promise<ProjectionState>;
  /**
   * Registers a listener called when the projection is reset under this process: it became unavailable (halt,
   * rebuild, flush) or rolled back (its reorg count moved). In-process caches of projection data clear themselves
   * here.
   */
  onProjectionReset(listener: () => void): void;
};

/** Why the projection must not be served now, or undefined when it may be. */
export function unavailableReason(meta: Meta): string | undefined {
  if (meta.halted !== undefined) {
    return `The indexer halted (${meta.halted}); the stored data may no longer match the chain until an operator rebuilds the projection.`;
  }
  if (meta.rebuilding !== undefined) return `The projection is being rebuilt (since ${meta.rebuilding}).`;
  if (!meta.built) return "The projection is being built; its backfill has not reached the finalized block yet.";
  return undefined;
}

export function createAvailability({
  store,
  metrics,
  logger,
  cacheMs = STATE_CACHE_MS,
  deadlineMs = STATE_DEADLINE_MS,
}: {
  store: Pick<Store, "projectionState">;
  metrics?: Pick<Metrics, "projectionAvailable" | "leaderHeartbeat">;
  logger?: Logger;
  cacheMs?: number;
  deadlineMs?: number;
}): Availability {
  const listeners: (() => void)[] = [];
  let cached: { at: number; state: Promise<ProjectionState> } | undefined;
  let last: { available: boolean; reorgs: number } | undefined;

  const observe = ({ meta, leaderHead }: ProjectionState) => {
    const available = unavailableReason(meta) === undefined;
    metrics?.projectionAvailable.set(available ? 1 : 0);
    metrics?.leaderHeartbeat.set(leaderHead === undefined ? 0 : 1);
    const reset = last !== undefined && ((last.available && !available) || last.reorgs !== meta.reorgs);
    last = { available, reorgs: meta.reorgs };
    if (!reset) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        logger?.error({ msg: "projection reset listener failed", err: error });
      }
    }
  };

  const read = () => {
    const now = performance.now();
    const state = withDeadline(store.projectionState(), deadlineMs, "projection state").then((s) => {
      observe(s);
      return s;
    });
    const entry = { at: now, state };
    cached = entry;
    state.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return state;
  };

  return {
    state() {
      if (cached && performance.now() - cached.at < cacheMs) return cached.state;
      return read();
    },
    fresh: read,
    onProjectionReset: (listener) => listeners.push(listener),
  };
}

/**
 * Express middleware for the data routes: 503 `projection-unavailable` (with the reason and Retry-After) while the
 * projection must not be served; a Redis that does not answer in time is the usual 503 `unavailable`.
 */
export function projectionGuard(availability: Availability): RequestHandler {
  return async (_req: Request, _res: Response, next: NextFunction) => {
    const { meta } = await availability.state();
    const reason = unavailableReason(meta);
    if (reason !== undefined) {
      throw new ApiProblem("projection-unavailable", reason, {
        headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
      });
    }
    next();
  };
}

/** Problems that say "not in the projection": believed only once a fresh read shows the projection is there. */
const ABSENCE_KINDS: ReadonlySet<ProblemKind> = new Set(["deal-not-found", "gateway-not-found", "acceptor-not-found"]);

/**
 * A not-found answer re-checked against a fresh read of meta: the guard's state may be up to the cache time old, and
 * a projection flushed or reset within it would answer 404 for what exists. Returns the error to answer with: the
 * original one, or 503 `projection-unavailable` when the projection turns out to be gone.
 */
export async function confirmAbsence(availability: Availability, error: unknown): Promise<unknown> {
  if (!(error instanceof ApiProblem) || !ABSENCE_KINDS.has(error.kind)) return error;
  const state = await availability.fresh().catch(() => undefined);
  const reason = state && unavailableReason(state.meta);
  if (reason === undefined) return error;
  return new ApiProblem("projection-unavailable", reason, { headers: { "Retry-After": String(RETRY_AFTER_SECONDS) } });
}

export type ReadinessResult = {
  ready: boolean;
  checks: Record<string, boolean | string>;
  /** The indexed block and the head it was judged against, when known. */
  block?: number;
  head?: number;
};

/**
 * Judges readiness from what was read (pure). `state` is undefined when Redis did not answer (`redisError` says
 * how); `ownHead` is this process's RPC node's head, undefined when it did not answer.
 */
export function judgeReadiness({
  state,
  redisError,
  owner,
  ownHead,
  maxLagBlocks,
  localHalt,
}: {
  state?: ProjectionState;
  redisError?: string;
  /** `<chainId>:<escrow>` this relayer claims. */
  owner: string;
  ownHead?: number;
  maxLagBlocks: number;
  /** This process's indexer's halt reason (it may not have reached Redis yet). */
  localHalt?: string;
}): ReadinessResult {
  const checks: Record<string, boolean | string> = {};
  checks.rpc = ownHead === undefined ? "the RPC node did not answer eth_blockNumber in time" : true;
  if (!state) {
    checks.redis = redisError ?? "no answer";
    return { ready: false, checks };
  }
  checks.redis = true;
  const { meta, leaderHead } = state;
  checks.claimed =
    meta.owner === owner ? true : meta.owner === undefined ? "meta has no owner (empty or flushed Redis)" : meta.owner;
  const halt = localHalt ?? meta.halted;
  checks.projection =
    halt !== undefined
      ? `halted: ${halt}`
      : meta.rebuilding !== undefined
        ? `rebuilding since ${meta.rebuilding}`
        : meta.built
          ? true
          : "not built yet";
  checks.backfilled = meta.backfilled ? true : "backfill in progress";
  checks.leader = leaderHead === undefined ? "no heartbeat" : true;
  const head = Math.max(leaderHead ?? 0, ownHead ?? 0, meta.head ?? 0);
  const indexed = meta.block;
  if (indexed === undefined) checks.lag = "nothing indexed";
  else {
    const lag = Math.max(0, head - indexed);
    checks.lag = lag <= maxLagBlocks ? true : `${lag} blocks behind head ${head} (at most ${maxLagBlocks})`;
  }
  return {
    ready: Object.values(checks).every((v) => v === true),
    checks,
    block: indexed,
    head: head > 0 ? head : undefined,
  };
}

/** Whether an error is a Redis call past its deadline (ioredis' commandTimeout, or {@link withDeadline}). */
export function isRedisTimeout(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.message === "Command timed out" || error.name === "RedisDeadlineError";
}

/** A warning logger for Redis timeouts, at most one line per interval, counting what it held back. */
export function timeoutWarning(logger: Logger, intervalMs = TIMEOUT_WARNING_INTERVAL_MS) {
  let lastAt = -Infinity;
  let held = 0;
  return (where: string, error: unknown) => {
    const now = performance.now();
    if (now - lastAt < intervalMs) {
      held++;
      return;
    }
    logger.warn({
      msg: "redis did not answer in time",
      where,
      err: error instanceof Error ? error.message : String(error),
      suppressedSinceLast: held,
    });
    lastAt = now;
    held = 0;
  };
}
