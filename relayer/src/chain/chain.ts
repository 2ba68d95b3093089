/**
 * The chain adapter: raw JSON-RPC over an ethers v6 FetchRequest, with every failure classified (retryable,
 * non-retryable, "range too large", not found), retried with exponential backoff and jitter, counted in
 * `relayer_rpc_errors_total` and logged. `eth_getLogs` runs in an adaptive block range that halves when the
 * provider refuses or fails a range and doubles again after each success.
 *
 * ethers' own machinery is switched off where it would hide failures or hang: the chain id is read once with
 * `eth_chainId` (no network detection loop), requests are never batched, the FetchRequest never retries a 429 by
 * itself, every HTTP request runs under a hard total timeout with `fetch` and an AbortSignal (which `close()` also
 * aborts), and response bodies are decoded natively (ethers' JavaScript UTF-8 decoder holds the event loop for
 * seconds on a response of tens of thousands of logs, long enough for the indexer's lease to lapse).
 */
import { setMaxListeners } from "node:events";
import {
  FetchRequest,
  getAddress,
  toQuantity,
  isError,
  makeError,
  type FetchGetUrlFunc,
  type GetUrlResponse,
} from "ethers";
import type { Common } from "../common";
import {
  CallRevertedError,
  ChainClosedError,
  MalformedResponseError,
  NonRetryableError,
  NotFoundError,
  RetryableError,
} from "../errors";
import { redactText, redactUrl } from "../redact";
import type { BlockHeader, CallOutcome, CallRequest, Chain, RawLog } from "./types";

/** Total time one HTTP request may take (connect, send, wait, read the body). */
export const REQUEST_TIMEOUT_MS = 10_000;
/**
 * Block span of the first `eth_getLogs` request. Small, because nothing is known yet of how dense the range is: the
 * first response stays cheap however dense, and the span doubles after every response under the target (so a
 * sparse chain reaches `options.logRangeMax` after a dozen requests).
 */
export const INITIAL_LOG_SPAN = 16;
/**
 * Logs one `eth_getLogs` response should hold at most: a range that returned more is narrowed in proportion, so a
 * dense stretch of the chain is read in responses that neither hold the event loop long nor use much memory, and
 * that a reader can overlap with its own work (half of the 10,000-log cap common among hosted providers).
 */
export const TARGET_LOGS_PER_REQUEST = 5_000;

/** Retry policy of one call: `maxAttempts` tries, waiting `initialMs * factor^(n-1)` (at most `maxMs`) between. */
export type Backoff = { initialMs: number; factor: number; maxMs: number; maxAttempts: number };

export const DEFAULT_BACKOFF: Backoff = { initialMs: 100, factor: 2, maxMs: 5_000, maxAttempts: 8 };

/**
 * What a failed request was, as far as retrying goes. `reverted`: an `eth_call` whose execution reverted, an answer
 * rather than a failure.
 */
export type FailureKind = "retryable" | "non_retryable" | "range" | "not_found" | "reverted";

/** A classified failure: `kind` decides what happens, `reason` says why (logged). */
export type Failure = { kind: FailureKind; reason: string; code?: number; message: string };

/** `createChain`'s result: the `Chain` plus the current adaptive `eth_getLogs` span (for tests and metrics). */
export type EthersChain = Chain & {
  /** The block span the next `eth_getLogs` request asks for. */
  span(): number;
  /**
   * The latest block number for probes (readiness): an answer younger than `maxAgeMs` is reused, and concurrent
   * callers share one request in flight, so any number of probes costs one `eth_blockNumber` per `maxAgeMs`. One
   * attempt, cut off after `timeoutMs`: nothing keeps retrying after the probe that asked has answered.
   */
  probeHead(maxAgeMs: number, timeoutMs: number): Promise<number>;
};

/** Transport-level error codes (node:net, undici) that a later attempt may not hit. */
const NETWORK_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/** JSON-RPC codes that mean our request is wrong: retrying cannot help (unless the message is about range size). */
const NON_RETRYABLE_RPC_CODES = new Set([
  -32700, // parse error
  -32600, // invalid request
  -32601, // method not found
  -32602, // invalid params
  -32004, // method not supported (EIP-1474; Hardhat uses it for unknown methods)
  -32006, // JSON-RPC version not supported
]);

/** How providers say that an `eth_getLogs` range holds too many results or spans too many blocks. */
const RANGE_TOO_LARGE =
  /more than \d+ results|too many (results|logs|blocks)|block range|range (is )?too (large|wide|big)|range limit|range exceed|exceeds? (the )?(max|limit)|limit exceeded|response size|response too large|max(imum)? (results|block range|range)|query timeout exceeded/i;

/** How nodes say that an `eth_call` reverted (geth: code 3 "execution reverted"; Hardhat: "... reverted ..."). */
const REVERTED = /revert|VM Exception|invalid opcode|out of gas/i;
/**
 * A node's refusal of a raw transaction (nonce, replacement fee, funds, gas): an answer about that transaction, which
 * the submitter acts on at once, not a failure of the node to retry.
 */
const TX_REFUSED =
  /nonce too (low|high)|already known|known transaction|already imported|underpriced|fee too low|insufficient funds|intrinsic gas|exceeds block gas limit/i;
/** Methods whose "execution reverted" is an answer (the call's outcome), not a failure of the node. */
const REVERTING_METHODS = new Set(["eth_call", "eth_estimateGas"]);

/** How nodes say that they do not know a block hash (`eth_getLogs` with `blockHash`). */
const UNKNOWN_BLOCK =
  /unknown block|block not found|header not found|blockhash cannot be found|block hash (was )?not found|cannot find block|block (does not|doesn't) exist/i;

/** HTTP statuses worth retrying: timeouts, rate limits, every 5xx (ethers reports its own escalations as 599). */
const isRetryableStatus = (status: number) => status === 408 || status === 425 || status === 429 || status >= 500;

type RpcErrorObject = { code?: unknown; message?: unknown };

const asRecord = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;

/** The JSON-RPC error object inside an ethers error (`UNKNOWN_ERROR`/`UNSUPPORTED_OPERATION` from `send`). */
function rpcErrorOf(error: Record<string, unknown>): RpcErrorObject | undefined {
  const candidates = [error.error, asRecord(error.info)?.error];
  for (const candidate of candidates) {
    const object = asRecord(candidate);
    if (object && ("code" in object || "message" in object)) return object;
  }
  return undefined;
}

/** The revert data a node attached to a reverted call's error (`error.data`, as hex), "0x" when it gave none. */
export function revertDataOf(error: unknown): string {
  const record = asRecord(error);
  const rpc = record && rpcErrorOf(record);
  const data = asRecord(rpc)?.data;
  const hex = typeof data === "string" ? data : asRecord(data)?.data;
  return typeof hex === "string" && HEX_DATA.test(hex) ? hex.toLowerCase() : "0x";
}

/** Classifies a JSON-RPC error object (from a 200 response, or from the body of an HTTP error). */
function classifyRpcError(rpc: RpcErrorObject, method: string): Failure {
  const code = typeof rpc.code === "number" ? rpc.code : undefined;
  const message = typeof rpc.message === "string" ? rpc.message : JSON.stringify(rpc);
  if (method === "eth_getLogs" && RANGE_TOO_LARGE.test(message)) {
    return { kind: "range", reason: "range too large", code, message };
  }
  if (method === "eth_sendRawTransaction" && TX_REFUSED.test(message)) {
    return { kind: "non_retryable", reason: "transaction refused", code, message };
  }
  if (REVERTING_METHODS.has(method) && (code === 3 || REVERTED.test(message))) {
    return { kind: "reverted", reason: "execution reverted", code, message };
  }
  if (code !== undefined && NON_RETRYABLE_RPC_CODES.has(code)) {
    return { kind: "non_retryable", reason: `json-rpc error ${code}`, code, message };
  }
  // -32000 server error, -32603 internal error, -32005 limit exceeded (rate limit), and unknown codes: a node can
  // recover from these; the attempt limit bounds the cost of being wrong.
  return { kind: "retryable", reason: code === undefined ? "json-rpc error" : `json-rpc error ${code}`, code, message };
}

/**
 * Classifies whatever a call (the FetchRequest, a JSON-RPC error, or this module's own validation) threw. Pure:
 * exported for tests. Anything unrecognised is retryable (the attempt limit bounds it).
 */
export function classifyError(error: unknown, method: string): Failure {
  const record = asRecord(error);
  // ethers' shortMessage leaves out the request (whose URL may hold an API key)
  const short = record && typeof record.shortMessage === "string" ? record.shortMessage : undefined;
  // Redacted all the same: a fetch or node message may quote the URL, with its key or credentials.
  const message = redactText(short ?? (error instanceof Error ? error.message : String(error)));
  if (!record) return { kind: "retryable", reason: "unknown failure", message };
  if (error instanceof MalformedResponseError) return { kind: "retryable", reason: "malformed response", message };

  // fetch: DOMException TimeoutError from AbortSignal.timeout, TypeError("fetch failed") with a cause
  if (record.name === "TimeoutError" || isError(error, "TIMEOUT")) {
    return { kind: "retryable", reason: "timeout", message };
  }
  const cause = asRecord(record.cause);
  const networkCode = [record.code, cause?.code, asRecord(cause?.cause)?.code].find(
    (c): c is string => typeof c === "string" && NETWORK_ERROR_CODES.has(c),
  );
  if (networkCode) return { kind: "retryable", reason: `network error ${networkCode}`, message };

  if (isError(error, "SERVER_ERROR")) {
    const response = asRecord(error.response);
    const status = typeof response?.statusCode === "number" ? response.statusCode : undefined;
    if (status === 401 || status === 403) {
      // Wrong or missing credentials (the URL's user:pass, or its API key): no retry can fix that.
      return {
        kind: "non_retryable",
        reason: `http ${status}`,
        code: status,
        message: `${message} (the RPC refused the credentials in RPC_URL: its user:pass@ or its API key)`,
      };
    }
    if (status !== undefined && !isRetryableStatus(status)) {
      // A 4xx may carry a JSON-RPC error that says more (some providers answer "range too large" with a 400).
      const rpc = rpcErrorOf({ error: asRecord(parseJson(responseBody(error.info)))?.error });
      if (rpc) return classifyRpcError(rpc, method);
      return { kind: "non_retryable", reason: `http ${status}`, message };
    }
    return { kind: "retryable", reason: status === undefined ? "server error" : `http ${status}`, message };
  }
  if (isError(error, "UNKNOWN_ERROR") || isError(error, "UNSUPPORTED_OPERATION")) {
    const rpc = rpcErrorOf(record);
    if (rpc) return classifyRpcError(rpc, method);
    // "response body is not valid JSON" / "... UTF-8": an empty or garbled answer
    if (/response body/i.test(message)) return { kind: "retryable", reason: "malformed response", message };
  }
  if (isError(error, "BAD_DATA")) return { kind: "retryable", reason: "malformed response", message };
  if (error instanceof TypeError) return { kind: "retryable", reason: "network error", message };
  return { kind: "retryable", reason: "unknown failure", message };
}

function responseBody(info: unknown): string | undefined {
  const body = asRecord(info)?.responseBody;
  return typeof body === "string" ? body : undefined;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const HASH = /^0x[0-9a-fA-F]{64}$/;
const QUANTITY = /^0x[0-9a-fA-F]{1,16}$/;
const HEX_DATA = /^0x([0-9a-fA-F]{2})*$/;

function quantity(value: unknown, field: string): number {
  if (typeof value !== "string" || !QUANTITY.test(value)) {
    throw new MalformedResponseError(`${field} is not a hex quantity: ${JSON.stringify(value)}`);
  }
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw new MalformedResponseError(`${field} is out of range: ${value}`);
  return number;
}

function hash(value: unknown, field: string): string {
  if (typeof value !== "string" || !HASH.test(value)) {
    throw new MalformedResponseError(`${field} is not a 32-byte hash: ${JSON.stringify(value)}`);
  }
  return value.toLowerCase();
}

function parseLog(value: unknown): RawLog {
  const log = asRecord(value);
  if (!log) throw new MalformedResponseError(`log is not an object: ${JSON.stringify(value)}`);
  if (log.removed === true) throw new MalformedResponseError("eth_getLogs returned a removed log");
  if (!Array.isArray(log.topics)) throw new MalformedResponseError("log topics is not an array");
  if (typeof log.data !== "string" || !HEX_DATA.test(log.data)) throw new MalformedResponseError("log data is not hex");
  let address: string;
  try {
    address = getAddress(String(log.address));
  } catch {
    throw new MalformedResponseError(`log address is invalid: ${JSON.stringify(log.address)}`);
  }
  return {
    address,
    topics: log.topics.map((topic, i) => hash(topic, `topics[${i}]`)),
    data: log.data.toLowerCase(),
    blockNumber: quantity(log.blockNumber, "blockNumber"),
    blockHash: hash(log.blockHash, "blockHash"),
    transactionHash: hash(log.transactionHash, "transactionHash"),
    index: quantity(log.logIndex, "logIndex"),
  };
}

function parseLogs(value: unknown): RawLog[] {
  if (!Array.isArray(value)) throw new MalformedResponseError("eth_getLogs result is not an array");
  return value.map(parseLog).sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
}

const toHex = (n: number) => `0x${n.toString(16)}`;

/**
 * A `FetchGetUrlFunc` over the global `fetch`: one hard deadline for the whole exchange (`req.timeout`), and
 * cancellation by ethers or by `closed`. (ethers' default only sets a socket idle timeout and leaves the socket
 * open when it fires.)
 */
function fetchGetUrl(closed: AbortSignal): FetchGetUrlFunc {
  return async (req, cancel): Promise<GetUrlResponse> => {
    // One controller per request, fed by the three reasons to stop; the listener on the long-lived `closed`
    // signal is removed afterwards so requests do not pile up on it.
    const controller = new AbortController();
    const abort = () => controller.abort();
    const timer = setTimeout(
      () => controller.abort(new DOMException(`request timeout after ${req.timeout} ms`, "TimeoutError")),
      req.timeout,
    );
    cancel?.addListener(abort);
    closed.addEventListener("abort", abort, { once: true });
    try {
      const headers = req.headers;
      delete headers["content-length"]; // fetch computes it
      const response = await fetch(req.url, {
        method: req.method,
        headers,
        body: req.body ? new Uint8Array(req.body) : undefined,
        signal: controller.signal,
      });
      const body = new Uint8Array(await response.arrayBuffer());
      const responseHeaders: Record<string, string> = {};
      response.headers.forEach((value, name) => (responseHeaders[name] = value));
      return {
        statusCode: response.status,
        statusMessage: response.statusText,
        headers: responseHeaders,
        body: body.length > 0 ? body : null,
      };
    } finally {
      clearTimeout(timer);
      closed.removeEventListener("abort", abort);
    }
  };
}

/**
 * Creates the chain adapter for `rpcUrl` (http or https). Nothing is sent until the first call; the chain id is
 * read once, then fixed. Optional `backoff` (merged over `DEFAULT_BACKOFF`), `requestTimeoutMs`, `initialLogSpan` and
 * `targetLogsPerRequest` exist for tests.
 */
export function createChain({
  common,
  rpcUrl,
  backoff: backoffOverrides,
  requestTimeoutMs = REQUEST_TIMEOUT_MS,
  initialLogSpan = INITIAL_LOG_SPAN,
  targetLogsPerRequest = TARGET_LOGS_PER_REQUEST,
}: {
  common: Pick<Common, "options" | "logger" | "metrics">;
  rpcUrl: string;
  backoff?: Partial<Backoff>;
  requestTimeoutMs?: number;
  initialLogSpan?: number;
  targetLogsPerRequest?: number;
}): EthersChain {
  if (!/^https?:\/\//i.test(rpcUrl)) throw new Error(`createChain needs an http(s) RPC URL, not ${redactUrl(rpcUrl)}`);
  const backoff: Backoff = { ...DEFAULT_BACKOFF, ...backoffOverrides };
  const logger = common.logger.child({ module: "chain" });
  const { metrics } = common;
  const maxSpan = Math.max(1, common.options.logRangeMax);
  let span = Math.max(1, Math.min(initialLogSpan, maxSpan));

  const closing = new AbortController();
  // Every request in flight listens on this one signal: many concurrent reads are normal, not a leak.
  setMaxListeners(0, closing.signal);
  // `user:pass@` in the URL becomes a Basic Authorization header: fetch refuses a URL that holds credentials.
  const endpoint = new URL(rpcUrl);
  const basicAuth =
    endpoint.username !== "" || endpoint.password !== ""
      ? Buffer.from(`${decodeURIComponent(endpoint.username)}:${decodeURIComponent(endpoint.password)}`).toString(
          "base64",
        )
      : undefined;
  endpoint.username = "";
  endpoint.password = "";
  const connection = new FetchRequest(endpoint.href);
  if (basicAuth !== undefined) connection.setHeader("authorization", `Basic ${basicAuth}`);
  connection.timeout = requestTimeoutMs;
  connection.allowGzip = false;
  connection.getUrlFunc = fetchGetUrl(closing.signal);
  connection.retryFunc = async () => false; // a 429 comes back to us, not into ethers' own retry loop
  connection.setThrottleParams({ maxAttempts: 1 });

  let chainIdPromise: Promise<number> | undefined;
  let nextId = 1;

  const closedError = () => new ChainClosedError("the chain client is closed");

  /**
   * One JSON-RPC call, one POST (timeout, cancellation and HTTP errors as the FetchRequest reports them); a JSON-RPC
   * error is thrown as ethers' JsonRpcProvider would throw it.
   */
  async function sendOnce(method: string, params: unknown[], timeoutMs?: number): Promise<unknown> {
    if (closing.signal.aborted) throw closedError();
    const request = connection.clone();
    if (timeoutMs !== undefined) request.timeout = timeoutMs;
    const payload = { jsonrpc: "2.0", id: nextId++, method, params };
    request.body = JSON.stringify(payload);
    request.setHeader("content-type", "application/json");
    const response = await request.send();
    response.assertOk();
    const raw = response.body;
    let parsed: unknown;
    try {
      parsed = raw === null ? null : JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString("utf8"));
    } catch {
      throw new MalformedResponseError("response is not JSON");
    }
    const body = asRecord(parsed);
    if (!body) throw new MalformedResponseError("response is not a JSON-RPC object");
    if ("error" in body) throw makeError("could not coalesce error", "UNKNOWN_ERROR", { error: body.error, payload });
    if (!("result" in body)) throw new MalformedResponseError("response holds neither result nor error");
    return body.result;
  }

  /** Counts a failure in `relayer_rpc_errors_total` and logs it at warn, with the caller's context. */
  function report(method: string, failure: Failure, context: Record<string, unknown>): void {
    metrics.rpcErrors.inc({ method, kind: failure.kind });
    // Refused credentials need the operator, not patience: an error, not a warning.
    const refused = failure.code === 401 || failure.code === 403;
    logger[refused ? "error" : "warn"]({
      msg: "rpc request failed",
      method,
      kind: failure.kind,
      reason: failure.reason,
      code: failure.code,
      error: failure.message,
      ...context,
    });
  }

  /** The backoff before attempt `failures + 1`: exponential, capped, with "equal jitter" (half fixed, half random). */
  function delayAfter(failures: number): number {
    const ceiling = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** (failures - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  /** Sleeps `ms`, or rejects with ChainClosedError as soon as `close()` is called. */
  function sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (closing.signal.aborted) return reject(closedError());
      const onAbort = () => {
        clearTimeout(timer);
        reject(closedError());
      };
      const timer = setTimeout(() => {
        closing.signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      closing.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  function giveUp(method: string, attempts: number, failure: Failure, cause: unknown): RetryableError {
    return new RetryableError(`${method} failed after ${attempts} attempts: ${failure.reason}: ${failure.message}`, {
      cause,
    });
  }

  /**
   * One JSON-RPC call with retries: `parse` validates the result (a throw of MalformedResponseError is retried);
   * `notFound` turns a "not found" answer into NotFoundError.
   */
  async function call<T>(
    method: string,
    params: unknown[],
    parse: (result: unknown) => T,
    notFound?: (failure: Failure) => boolean,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return parse(await sendOnce(method, params));
      } catch (error) {
        if (closing.signal.aborted) throw closedError();
        let failure = classifyError(error, method);
        if (failure.kind === "reverted") {
          throw new CallRevertedError(`${method}: ${failure.message}`, { cause: error, data: revertDataOf(error) });
        }
        if (notFound?.(failure)) failure = { ...failure, kind: "not_found" };
        const willRetry = (failure.kind === "retryable" || failure.kind === "range") && attempt < backoff.maxAttempts;
        const delayMs = willRetry ? delayAfter(attempt) : undefined;
        report(method, failure, { attempt, maxAttempts: backoff.maxAttempts, retryInMs: delayMs });
        if (failure.kind === "not_found") throw new NotFoundError(`${method}: ${failure.message}`, { cause: error });
        if (failure.kind === "non_retryable") {
          throw new NonRetryableError(`${method} failed: ${failure.reason}: ${failure.message}`, { cause: error });
        }
        if (delayMs === undefined) throw giveUp(method, attempt, failure, error);
        await sleep(delayMs);
      }
    }
  }

  function chainId(): Promise<number> {
    if (!chainIdPromise) {
      const pending = call("eth_chainId", [], (result) => quantity(result, "eth_chainId")).then((id) => {
        if (closing.signal.aborted) throw closedError();
        return id;
      });
      chainIdPromise = pending;
      // A failed first read may be retried by a later call.
      pending.catch(() => {
        if (chainIdPromise === pending) chainIdPromise = undefined;
      });
    }
    return chainIdPromise;
  }

  /** A call that needs the chain id first. */
  async function rpc<T>(...args: Parameters<typeof call<T>>): Promise<T> {
    await chainId();
    return call(...args);
  }

  /** The latest answer of probeHead, and the request in flight. */
  let probed: { at: number; head: number } | undefined;
  let probing: Promise<number> | undefined;

  const checkBlockNumber = (n: number, name: string) => {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
  };

  return {
    chainId,

    head: () => rpc("eth_blockNumber", [], (result) => quantity(result, "eth_blockNumber")),

    async block(number: number): Promise<BlockHeader> {
      checkBlockNumber(number, "number");
      const header = await rpc("eth_getBlockByNumber", [toHex(number), false], (result) => {
        if (result === null) return null;
        const block = asRecord(result);
        if (!block) throw new MalformedResponseError("block is not an object");
        const parsed = {
          number: quantity(block.number, "number"),
          hash: hash(block.hash, "hash"),
          parentHash: hash(block.parentHash, "parentHash"),
          timestamp: quantity(block.timestamp, "timestamp"),
        };
        if (parsed.number !== number) {
          throw new MalformedResponseError(`asked for block ${number}, got block ${parsed.number}`);
        }
        return parsed;
      });
      if (!header) throw new NotFoundError(`block ${number} is not known to the node`);
      return header;
    },

    /**
     * One `eth_getLogs` request of at most `span()` blocks from `from`. A "range too large" answer halves the span
     * and asks again at once; any other retryable failure halves it too and waits (counting towards
     * `maxAttempts`, as does a range error at span 1). A success doubles the span, up to `options.logRangeMax`.
     * No addresses means no logs (an empty address list would match every contract). Throws RangeError when
     * `from > to`.
     */
    async logsInRange(addresses: string[], from: number, to: number): Promise<{ logs: RawLog[]; to: number }> {
      checkBlockNumber(from, "from");
      checkBlockNumber(to, "to");
      if (from > to) throw new RangeError(`from (${from}) is after to (${to})`);
      if (addresses.length === 0) return { logs: [], to };
      const address = addresses.map((a) => a.toLowerCase());
      const method = "eth_getLogs";
      await chainId();
      for (let failures = 0; ;) {
        const end = Math.min(to, from + span - 1);
        try {
          const result = await sendOnce(method, [{ fromBlock: toHex(from), toBlock: toHex(end), address }]);
          const logs = parseLogs(result);
          const stray = logs.find((l) => l.blockNumber < from || l.blockNumber > end);
          if (stray) throw new MalformedResponseError(`log of block ${stray.blockNumber} outside ${from}..${end}`);
          const requested = end - from + 1;
          span =
            logs.length > targetLogsPerRequest
              ? Math.max(1, Math.floor((requested * targetLogsPerRequest) / logs.length))
              : Math.min(maxSpan, span * 2);
          return { logs, to: end };
        } catch (error) {
          if (closing.signal.aborted) throw closedError();
          const requested = end - from + 1;
          const failure = classifyError(error, method);
          // A range refusal that a smaller span can still avoid is progress, not a failed attempt.
          const shrinkOnly = failure.kind === "range" && requested > 1;
          if (!shrinkOnly && failure.kind !== "non_retryable") failures++;
          const delayMs = shrinkOnly || failures >= backoff.maxAttempts ? undefined : delayAfter(failures);
          report(method, failure, {
            fromBlock: from,
            toBlock: end,
            attempt: failures,
            maxAttempts: backoff.maxAttempts,
            retryInMs: delayMs,
          });
          if (failure.kind === "non_retryable") {
            throw new NonRetryableError(`${method} failed: ${failure.reason}: ${failure.message}`, { cause: error });
          }
          const previous = span;
          span = Math.max(1, Math.floor(Math.min(span, requested) / 2));
          if (span !== previous) logger.debug({ msg: "eth_getLogs span shrunk", previous, span });
          if (shrinkOnly) continue;
          if (delayMs === undefined) throw giveUp(method, failures, failure, error);
          await sleep(delayMs);
        }
      }
    },

    /** Logs of `addresses` in the block `blockHash`; NotFoundError when the node does not know that block. */
    async logsOfBlock(addresses: string[], blockHash: string): Promise<RawLog[]> {
      if (!HASH.test(blockHash)) throw new RangeError(`blockHash must be a 32-byte hex hash, got ${blockHash}`);
      const wanted = blockHash.toLowerCase();
      if (addresses.length === 0) return [];
      const address = addresses.map((a) => a.toLowerCase());
      return rpc(
        "eth_getLogs",
        [{ blockHash: wanted, address }],
        (result) => {
          const logs = parseLogs(result);
          if (logs.some((l) => l.blockHash !== wanted)) throw new MalformedResponseError("log of another block");
          return logs;
        },
        (failure) => failure.kind !== "range" && UNKNOWN_BLOCK.test(failure.message),
      );
    },

    async call(to: string, data: string): Promise<string | undefined> {
      if (!/^0x[0-9a-fA-F]{40}$/.test(to)) throw new RangeError(`to must be an address, got ${to}`);
      if (!HEX_DATA.test(data)) throw new RangeError("data must be 0x-prefixed hex bytes");
      try {
        return await rpc("eth_call", [{ to: to.toLowerCase(), data }, "latest"], (result) => {
          if (typeof result !== "string" || !HEX_DATA.test(result)) {
            throw new MalformedResponseError(`eth_call result is not hex data: ${JSON.stringify(result)}`);
          }
          return result.toLowerCase();
        });
      } catch (error) {
        if (error instanceof CallRevertedError) return undefined;
        throw error;
      }
    },

    request: (method: string, params: unknown[]) => rpc(method, params, (result) => result),

    async simulate(tx: CallRequest, block: "latest" | "pending" = "latest"): Promise<CallOutcome> {
      if (!/^0x[0-9a-fA-F]{40}$/.test(tx.to)) throw new RangeError(`to must be an address, got ${tx.to}`);
      if (!HEX_DATA.test(tx.data)) throw new RangeError("data must be 0x-prefixed hex bytes");
      const call: Record<string, string> = { to: tx.to.toLowerCase(), data: tx.data };
      if (tx.from !== undefined) call.from = tx.from.toLowerCase();
      if (tx.gas !== undefined) call.gas = toQuantity(tx.gas);
      if (tx.value !== undefined) call.value = toQuantity(tx.value);
      try {
        const data = await rpc("eth_call", [call, block], (result) => {
          if (typeof result !== "string" || !HEX_DATA.test(result)) {
            throw new MalformedResponseError(`eth_call result is not hex data: ${JSON.stringify(result)}`);
          }
          return result.toLowerCase();
        });
        return { ok: true, data };
      } catch (error) {
        if (error instanceof CallRevertedError) return { ok: false, revertData: error.data };
        throw error;
      }
    },

    span: () => span,

    probeHead(maxAgeMs: number, timeoutMs: number): Promise<number> {
      if (probed && performance.now() - probed.at < maxAgeMs) return Promise.resolve(probed.head);
      if (probing) return probing;
      const pending = (async () => {
        await chainId();
        try {
          const head = quantity(await sendOnce("eth_blockNumber", [], timeoutMs), "eth_blockNumber");
          probed = { at: performance.now(), head };
          metrics.headBlock.set(head);
          return head;
        } catch (error) {
          metrics.rpcErrors.inc({ method: "eth_blockNumber", kind: classifyError(error, "eth_blockNumber").kind });
          throw error;
        }
      })().finally(() => {
        probing = undefined;
      });
      probing = pending;
      return pending;
    },

    close(): void {
      if (closing.signal.aborted) return;
      closing.abort();
    },
  };
}
