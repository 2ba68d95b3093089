/**
 * Errors of the API as RFC 9457 problem details (`application/problem+json`). Every error response is built here:
 * handlers throw an {@link ApiProblem} (or anything else), and {@link problemOf} maps it to a problem with a stable
 * `type` URI per kind. A 500 is reserved for real bugs, and its detail never carries the error's message or stack.
 */
import type { Response } from "express";

export const PROBLEM_BASE = "https://usdt-escrow.dev/problems/";
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Every kind of problem the API answers with: its stable type URI (PROBLEM_BASE + key), title and status. */
export const PROBLEM_KINDS = {
  "invalid-parameter": { status: 400, title: "Invalid parameter" },
  "malformed-request": { status: 400, title: "Malformed request" },
  unauthenticated: { status: 401, title: "Unauthenticated" },
  forbidden: { status: 403, title: "Forbidden" },
  "not-found": { status: 404, title: "Not found" },
  "deal-not-found": { status: 404, title: "Deal not found" },
  "gateway-not-found": { status: 404, title: "Gateway not found" },
  "acceptor-not-found": { status: 404, title: "Acceptor not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "submission-not-found": { status: 404, title: "Submission not found" },
  "wrong-status": { status: 409, title: "Wrong status" },
  "deal-exists": { status: 409, title: "Deal exists" },
  /* several chains (chains.ts): an id on two chains; a write for a deal of another relayer's chain */
  "ambiguous-deal": { status: 409, title: "Ambiguous deal" },
  "wrong-chain": { status: 409, title: "Wrong chain" },
  "ref-taken": { status: 409, title: "Reference taken" },
  "wrong-signer": { status: 422, title: "Wrong signer" },
  "signature-expired": { status: 422, title: "Signature expired" },
  "invalid-signature": { status: 422, title: "Invalid signature" },
  "would-revert": { status: 422, title: "The escrow would revert" },
  "insufficient-funds": { status: 422, title: "Insufficient funds" },
  "split-amount-too-high": { status: 422, title: "Split amount too high" },
  "report-too-large": { status: 422, title: "Report too large" },
  "request-timeout": { status: 408, title: "Request timeout" },
  "idempotency-key-reused": { status: 409, title: "Idempotency key reused" },
  "idempotency-key-in-use": { status: 409, title: "Idempotency key in use" },
  "payload-too-large": { status: 413, title: "Payload too large" },
  "uri-too-long": { status: 414, title: "URI too long" },
  "rate-limited": { status: 429, title: "Too many requests" },
  "headers-too-large": { status: 431, title: "Request header fields too large" },
  internal: { status: 500, title: "Internal error" },
  "not-ready": { status: 503, title: "Not ready" },
  unavailable: { status: 503, title: "Service unavailable" },
  /* ---- edges outside express (server.ts) ---- */
  "expectation-failed": { status: 417, title: "Expectation failed" },
  /* readiness (availability.ts): halted, rebuilding or not yet built */
  "projection-unavailable": { status: 503, title: "Projection unavailable" },
  /* events, replay and webhooks */
  "cursor-expired": { status: 410, title: "Cursor expired" },
  "webhook-endpoint-not-found": { status: 404, title: "Webhook endpoint not found" },
  "delivery-not-found": { status: 404, title: "Delivery not found" },
  "webhook-url-refused": { status: 422, title: "Webhook URL refused" },
  "too-many-endpoints": { status: 409, title: "Too many webhook endpoints" },
  /* orders */
  "order-not-found": { status: 404, title: "Order not found" },
  "wrong-order-status": { status: 409, title: "Wrong order status" },
  "accept-window-passed": { status: 409, title: "Accept window passed" },
  "no-eligible-acceptor": { status: 422, title: "No eligible acceptor" },
  "address-screened": { status: 422, title: "Address screened" },
  "lock-delegate-missing": { status: 422, title: "Lock delegate missing" },
  /* disputes: evidence */
  "evidence-not-found": { status: 404, title: "Evidence not found" },
  "evidence-too-large": { status: 413, title: "Evidence too large" },
  "unsupported-media-type": { status: 415, title: "Unsupported media type" },
  /* disputes: per-order messages */
  "message-conflict": { status: 409, title: "Message conflict" },
  "message-thread-full": { status: 409, title: "Message thread full" },
  "message-clock-skew": { status: 422, title: "Message clock skew" },
  /* disputes: the keeper's scheduled actions */
  "scheduled-not-found": { status: 404, title: "Scheduled action not found" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemKind = keyof typeof PROBLEM_KINDS;

/** One invalid input: which parameter, where it was, and why it was refused. */
export type ParameterError = { parameter: string; in: "path" | "query" | "header" | "body"; message: string };

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: ParameterError[];
  /** Extension members (RFC 9457 §3.2), e.g. `ready` and `checks` of the not-ready problem. */
  [extension: string]: unknown;
};

/** An expected failure of a request; thrown by handlers, answered as a problem of its kind. */
export class ApiProblem extends Error {
  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    readonly extra: {
      errors?: ParameterError[];
      headers?: Record<string, string>;
      members?: Record<string, unknown>;
    } = {},
  ) {
    super(detail);
    this.name = "ApiProblem";
  }
}

/** Builds the problem body of a kind. */
export function problem(
  kind: ProblemKind,
  detail: string,
  extra: Omit<Problem, "type" | "title" | "status" | "detail"> = {},
): Problem {
  const { status, title } = PROBLEM_KINDS[kind];
  return { type: PROBLEM_BASE + kind, title, status, detail, ...extra };
}

/** Retry-After of an unavailable store. */
export const RETRY_AFTER_SECONDS = 1;

/** Network error codes of a lost connection. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "EAI_AGAIN",
]);

/**
 * A failure to reach Redis (ioredis: closed connection, retries exhausted, socket errors, a cluster without a
 * reachable node or a master) — an outage, not a bug, so a 503. Other errors Redis itself replies with
 * (ReplyError, e.g. WRONGTYPE) stay internal errors.
 */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // A cluster that has lost a master, or a node still loading its data, replies so until it recovers.
  if (error.name === "ReplyError") return /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN)\b/.test(error.message);
  const code = (error as NodeJS.ErrnoException).code;
  return (
    error.name === "MaxRetriesPerRequestError" ||
    // A Redis Cluster client: no node answers, the slots cannot be read, redirections without end, or it ended.
    error.name === "ClusterAllFailedError" ||
    error.message === "None of startup nodes is available" ||
    error.message === "Cluster is ended." ||
    error.message.startsWith("Cluster isn't ready") ||
    error.message.startsWith("Too many Cluster redirections") ||
    error.message === "Connection is closed." ||
    // ioredis' commandTimeout: Redis hung or unreachable past the deadline.
    error.message === "Command timed out" ||
    error.message.startsWith("Stream isn't writeable") ||
    (typeof code === "string" && CONNECTION_CODES.has(code))
  );
}

/** Shown instead of the message of an unexpected error (which might leak internals). */
const INTERNAL_DETAIL = "The server failed to answer the request; the failure was logged.";

/** How a thrown value maps to a problem: expected failures keep their detail, anything else is an internal error. */
export function problemOf(error: unknown): { problem: Problem; headers?: Record<string, string>; internal: boolean } {
  if (error instanceof ApiProblem) {
    const { errors, headers, members } = error.extra;
    return {
      problem: problem(error.kind, error.detail, { ...(errors ? { errors } : {}), ...members }),
      headers,
      internal: false,
    };
  }
  // Express 5 (router) throws a URIError, marked status 400, for a path parameter with bad percent-encoding.
  if (error instanceof URIError) {
    return {
      problem: problem("invalid-parameter", "A path segment has malformed percent-encoding.", {
        errors: [{ parameter: "path", in: "path", message: "malformed percent-encoding" }],
      }),
      internal: false,
    };
  }
  if (isUnavailable(error)) {
    return {
      problem: problem("unavailable", "The data store is unreachable; retry shortly."),
      headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
      internal: false,
    };
  }
  // body-parser (express.json) errors: http-errors with a `type` and an exposable 4xx status.
  const e = error as { status?: unknown; statusCode?: unknown; type?: unknown; expose?: unknown } | undefined;
  const status =
    typeof e?.status === "number" ? e.status : typeof e?.statusCode === "number" ? e.statusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500) {
    if (status === 413)
      return { problem: problem("payload-too-large", "The request body is too large."), internal: false };
    const detail =
      e?.type === "entity.parse.failed"
        ? "The request body is not valid JSON."
        : e?.type === "encoding.unsupported" || e?.type === "charset.unsupported"
          ? "The request body's encoding or charset is not supported."
          : "The request could not be read.";
    return { problem: problem("malformed-request", detail), internal: false };
  }
  return { problem: problem("internal", INTERNAL_DETAIL), internal: true };
}

/** Sends a problem (with `instance` set to the request path unless given). */
export function sendProblem(res: Response, body: Problem, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/**
 * A complete HTTP/1.1 response carrying a problem, for answering on the raw socket (clientError: the request
 * could not even be parsed, so there is no express response to use).
 */
export function rawProblemResponse(body: Problem): string {
  const json = JSON.stringify(body);
  return (
    `HTTP/1.1 ${body.status} ${body.title}\r\n` +
    `Content-Type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(json)}\r\n` +
    "Connection: close\r\n\r\n" +
    json
  );
}
