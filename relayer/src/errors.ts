/**
 * Every error class of the relayer, in one place. Each sets `name` to its class name (a bare
 * `class X extends Error {}` is named "Error"), so an error's name in a log line or a check says what it is.
 *
 * The API's own `ApiProblem` (api/problems.ts) is not here: it is an answer to a request, typed by the problem
 * catalogue it lives beside, and already sets its name.
 */

/** The base of every class below: sets `name` to the class's own name (subclasses included). */
export abstract class RelayerError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/* ------------------------------------------------- options ------------------------------------------------- */

/** A usage error (options, deployment file): every problem found, one per line. The process exits with 2. */
export class OptionsError extends RelayerError {}

/* -------------------------------------------------- chain -------------------------------------------------- */

/** A failure worth retrying (network, timeout, 5xx, rate limit, transient node error). */
export class RetryableError extends RelayerError {}
/** A failure that retrying cannot fix (bad request, method not supported). */
export class NonRetryableError extends RelayerError {}
/** The node does not know the block (it may not have it yet, or it was reorged away). */
export class NotFoundError extends RelayerError {}
/** The chain after `close()`: every pending and later call rejects with this. */
export class ChainClosedError extends NonRetryableError {}
/**
 * An `eth_call` or `eth_estimateGas` reverted (an answer, not a failure: never retried, not counted as an RPC
 * error). `data` is the revert data the node gave ("0x" when none), for decoding a custom error or a reason.
 */
export class CallRevertedError extends NonRetryableError {
  readonly data: string;
  constructor(message?: string, options: ErrorOptions & { data?: string } = {}) {
    super(message, options);
    this.data = options.data ?? "0x";
  }
}
/** A response that parsed as JSON-RPC but does not hold what the method promises. Retryable. */
export class MalformedResponseError extends RelayerError {}

/* -------------------------------------------------- store -------------------------------------------------- */

/** The store's keys belong to another chain or escrow. */
export class NamespaceTaken extends RelayerError {}

/* ------------------------------------------------- domain ------------------------------------------------- */

/** Thrown when an event does not fit the projection (a bug, or logs from an unexpected contract). */
export class ProjectionError extends RelayerError {}

/* ------------------------------------------------- indexer ------------------------------------------------- */

/** The lease was lost: another process leads now. */
export class LeaseLost extends RelayerError {}
/** The indexer cannot go on without an operator (deep reorg, inconsistent logs). */
export class Halt extends RelayerError {}

/** A Redis call past its deadline. Coded ETIMEDOUT, which the API answers as 503 "unavailable" with Retry-After. */
export class RedisDeadlineError extends RelayerError {
  readonly code = "ETIMEDOUT";
}
