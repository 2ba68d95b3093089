/**
 * An unreliable JSON-RPC endpoint for tests: an HTTP proxy on a free port of 127.0.0.1 in front of a real node,
 * that fails and delays requests the way public RPC providers do. The faults are drawn from a PRNG seeded with
 * `seed`, one draw sequence per request in arrival order, so a sequential client sees the same faults on every run.
 *
 *   const proxy = await startFaultyProxy({ target: node.url, failRate: 0.3, delayRate: 0.2, maxDelayMs: 50, seed: 7 });
 *   const chain = createChain({ common, rpcUrl: proxy.url });
 *   ...
 *   await proxy.close();
 *
 * Random faults (a fraction `failRate` of requests, each kind equally likely among those that apply):
 * - `http502`: HTTP 502 with an HTML body; `http429`: HTTP 429 Too Many Requests;
 * - `reset`: the connection is destroyed before any answer; `truncated`: a 200 whose body stops half-way;
 * - `internal`: JSON-RPC error -32000 "internal error"; `malformed`: a 200 whose body is not JSON;
 * - `range` (only `eth_getLogs` over more than RANGE_FAULT_MIN_SPAN blocks): JSON-RPC error -32005
 *   "query returned more than 10000 results".
 * Deterministic faults, set by the test: `setMethodError(method, error)` answers every request of `method` with a
 * JSON-RPC error; `setStalled(method, true)` never answers `method`; `setMaxLogsSpan(n)` answers every `eth_getLogs` over more than `n` blocks with the -32005 above.
 * Of the rest, a fraction `delayRate` waits up to `maxDelayMs` before being forwarded unchanged.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { prng } from "./random";

export type FaultKind = "http502" | "http429" | "reset" | "truncated" | "internal" | "malformed" | "range";

const FAULT_KINDS: readonly FaultKind[] = ["http502", "http429", "reset", "truncated", "internal", "malformed"];
/** Random `range` faults only hit `eth_getLogs` requests wider than this many blocks. */
export const RANGE_FAULT_MIN_SPAN = 500;
const RANGE_MESSAGE = "query returned more than 10000 results";

export type ProxyStats = {
  /** Requests received. */
  requests: number;
  /** Requests answered with a fault (random or deterministic). */
  failed: number;
  /** Requests delayed before forwarding. */
  delayed: number;
  /** Faults by kind (deterministic method errors count as `method`; stalled requests as `stalled`, not failed). */
  byKind: Record<FaultKind | "method" | "stalled", number>;
  /** Requests by JSON-RPC method (a batch counts as "batch"). */
  methods: Record<string, number>;
  /** Block spans of `eth_getLogs` range requests, in arrival order (answered or not). */
  logSpans: number[];
};

export type FaultyProxy = {
  /** `http://127.0.0.1:<port>` */
  url: string;
  stats: ProxyStats;
  setFailRate(rate: number): void;
  setDelayRate(rate: number): void;
  /** Answers every request of `method` with this JSON-RPC error (undefined: stop). */
  setMethodError(method: string, error: { code: number; message: string } | undefined): void;
  /** Holds every later request of `method` unanswered until close() (false: answer later ones again). */
  setStalled(method: string, stalled: boolean): void;
  /** Refuses every `eth_getLogs` wider than `span` blocks with -32005 (undefined: stop). */
  setMaxLogsSpan(span: number | undefined): void;
  /** Zeroes the stats. */
  resetStats(): void;
  /** Stops listening, drops open connections and pending delays. */
  close(): Promise<void>;
};

export type FaultyProxyOptions = {
  /** The real endpoint. */
  target: string;
  /** Fraction of requests failed at random (0..1). */
  failRate?: number;
  /** Fraction of the other requests delayed (0..1). */
  delayRate?: number;
  maxDelayMs?: number;
  /** PRNG seed. */
  seed?: number;
  /** See setMaxLogsSpan. */
  maxLogsSpan?: number;
};

type RpcRequest = { id?: unknown; method?: unknown; params?: unknown };

/** Block span of an `eth_getLogs` request with numeric fromBlock/toBlock; undefined otherwise. */
function logsSpan(request: RpcRequest): number | undefined {
  if (request.method !== "eth_getLogs" || !Array.isArray(request.params)) return undefined;
  const filter = request.params[0] as { fromBlock?: unknown; toBlock?: unknown } | undefined;
  const from = filter?.fromBlock;
  const to = filter?.toBlock;
  if (typeof from !== "string" || typeof to !== "string" || !from.startsWith("0x") || !to.startsWith("0x")) {
    return undefined;
  }
  return Number(to) - Number(from) + 1;
}

function emptyStats(): ProxyStats {
  return {
    requests: 0,
    failed: 0,
    delayed: 0,
    byKind: {
      http502: 0,
      http429: 0,
      reset: 0,
      truncated: 0,
      internal: 0,
      malformed: 0,
      range: 0,
      method: 0,
      stalled: 0,
    },
    methods: {},
    logSpans: [],
  };
}

export async function startFaultyProxy(options: FaultyProxyOptions): Promise<FaultyProxy> {
  let failRate = options.failRate ?? 0;
  let delayRate = options.delayRate ?? 0;
  const maxDelayMs = options.maxDelayMs ?? 0;
  let maxLogsSpan = options.maxLogsSpan;
  const random = prng(options.seed ?? 1);
  const methodErrors = new Map<string, { code: number; message: string }>();
  const stalledMethods = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const stats = emptyStats();

  const rpcError = (res: http.ServerResponse, id: unknown, code: number, message: string) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", id: id ?? null, error: { code, message } }));
  };

  const fault = (kind: FaultKind | "method") => {
    stats.failed++;
    stats.byKind[kind]++;
  };

  const answerWithFault = (kind: FaultKind, req: http.IncomingMessage, res: http.ServerResponse, id: unknown) => {
    fault(kind);
    switch (kind) {
      case "http502":
        res.writeHead(502, { "content-type": "text/html" });
        res.end("<html><body>502 Bad Gateway</body></html>");
        return;
      case "http429":
        res.writeHead(429, { "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", id: id ?? null, error: { code: 429, message: "Too Many Requests" } }));
        return;
      case "reset":
        req.socket.destroy();
        return;
      case "truncated":
        res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
        res.write('{"jsonrpc":"2.0","id":');
        setImmediate(() => res.destroy());
        return;
      case "internal":
        rpcError(res, id, -32000, "internal error");
        return;
      case "malformed":
        res.writeHead(200, { "content-type": "application/json" });
        res.end("upstream connect error or disconnect/reset before headers");
        return;
      case "range":
        rpcError(res, id, -32005, RANGE_MESSAGE);
        return;
    }
  };

  const forward = async (body: Buffer, res: http.ServerResponse) => {
    try {
      const upstream = await fetch(options.target, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: new Uint8Array(body),
      });
      const text = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
      res.end(text);
    } catch {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end("proxy could not reach the target");
    }
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => {
    stats.requests++;
    let request: RpcRequest = {};
    let method = "unknown";
    try {
      const parsed: unknown = JSON.parse(body.toString("utf8"));
      if (Array.isArray(parsed)) method = "batch";
      else if (parsed && typeof parsed === "object") {
        request = parsed as RpcRequest;
        if (typeof request.method === "string") method = request.method;
      }
    } catch {
      // forwarded as it is: the target answers the parse error
    }
    stats.methods[method] = (stats.methods[method] ?? 0) + 1;
    const span = logsSpan(request);
    if (span !== undefined) stats.logSpans.push(span);

    if (stalledMethods.has(method)) {
      stats.byKind.stalled++;
      return; // answered by nobody; close() drops the connection
    }
    const methodError = methodErrors.get(method);
    if (methodError) {
      fault("method");
      return rpcError(res, request.id, methodError.code, methodError.message);
    }
    if (span !== undefined && maxLogsSpan !== undefined && span > maxLogsSpan) {
      return answerWithFault("range", req, res, request.id);
    }
    // Always three draws per request, so one request's faults never shift another's.
    const [failDraw, kindDraw, delayDraw] = [random(), random(), random()];
    if (failDraw < failRate) {
      const kinds =
        span !== undefined && span > RANGE_FAULT_MIN_SPAN ? [...FAULT_KINDS, "range" as const] : FAULT_KINDS;
      return answerWithFault(kinds[Math.floor(kindDraw * kinds.length)], req, res, request.id);
    }
    if (delayDraw < delayRate && maxDelayMs > 0) {
      stats.delayed++;
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          void forward(body, res);
        },
        Math.floor((delayDraw / delayRate) * maxDelayMs),
      );
      timers.add(timer);
      return;
    }
    void forward(body, res);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    setFailRate: (rate) => (failRate = rate),
    setDelayRate: (rate) => (delayRate = rate),
    setMethodError: (method, error) => (error ? methodErrors.set(method, error) : methodErrors.delete(method)),
    setStalled: (method, stalled) => (stalled ? stalledMethods.add(method) : stalledMethods.delete(method)),
    setMaxLogsSpan: (span) => (maxLogsSpan = span),
    resetStats: () => Object.assign(stats, emptyStats()),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
