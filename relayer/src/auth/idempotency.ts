/**
 * `Idempotency-Key` on POSTs: the first response to a key is stored and every retry with the same key gets it back
 * (with `Idempotent-Replayed: true`) instead of running the handler again, so a client that lost a response can
 * retry without sending a second transaction.
 *
 * - A key is scoped to the API key that sent it (to the client's IP without one): two clients never share one.
 * - The request is fingerprinted (method, path and query, canonical JSON of the body); the same key with another
 *   fingerprint is 409 "idempotency-key-reused".
 * - The first request claims the key (a Lua script) before its handler runs; an identical request arriving while it
 *   runs polls until the response is stored, then replays it (so two identical concurrent POSTs run the handler
 *   once). A claim lapses after `pendingMs` (a process that died mid-request frees the key); a waiter that is still
 *   waiting after `waitMs` gets 409 "idempotency-key-in-use" with Retry-After.
 * - The response is stored before it is sent, for `ttlSeconds`; a 5xx is not stored (the key is freed for a retry).
 *
 * Redis: `<base>idem:<scope>:<sha256 of the key>`, a hash (fp, state, owner, status, headers, body as base64).
 * Must be mounted after the body parser and `authenticate`.
 */
import { createHash, randomBytes } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { RedisClient as Redis } from "../redis";
import { ApiProblem } from "../api/problems";
import { REDIS_TIMEOUT_MS, withDeadline } from "../deadline";
import type { ApiKey } from "./keys";

export const IDEMPOTENCY_TTL_SECONDS = 86_400;
/** How long an identical request waits for the first one's response. */
export const IDEMPOTENCY_WAIT_MS = 10_000;
/** How long a claim holds without a stored response (longer than any handler runs). */
export const IDEMPOTENCY_PENDING_MS = 60_000;
const POLL_MS = 50;
/** Response headers stored and replayed with the body. */
const REPLAYED_HEADERS = ["content-type", "location", "retry-after"];
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/**
 * Claims a key or reads what it holds. KEYS: 1 the record. ARGV: 1 fingerprint, 2 claim token, 3 claim ttl (ms).
 * Returns {"claimed"}, {"reused"}, {"pending"} or {"done", status, headers JSON, body base64}.
 */
const BEGIN_SCRIPT = `
local h = redis.call('HMGET', KEYS[1], 'fp', 'state', 'status', 'headers', 'body')
if not h[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'pending', 'owner', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'claimed'}
end
if h[1] ~= ARGV[1] then return {'reused'} end
if h[2] == 'done' then return {'done', h[3], h[4], h[5]} end
return {'pending'}`;

/** Stores the response of a claim still held. KEYS: 1. ARGV: 1 token, 2 status, 3 headers, 4 body, 5 ttl (s). */
const FINISH_SCRIPT = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('HDEL', KEYS[1], 'owner')
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1`;

/** Frees a claim still held (the response was a 5xx). KEYS: 1. ARGV: 1 token. */
const ABANDON_SCRIPT = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`;

/** JSON with object keys sorted at every level: equal values, equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Stored = { status: number; headers: Record<string, string>; body: Buffer };

function replay(res: Response, stored: Stored): void {
  res.status(stored.status);
  for (const [name, value] of Object.entries(stored.headers)) res.setHeader(name, value);
  res.setHeader("Idempotent-Replayed", "true");
  res.end(stored.body);
}

export function idempotency(deps: {
  redis: Redis;
  base: string;
  ttlSeconds?: number;
  waitMs?: number;
  pendingMs?: number;
  timeoutMs?: number;
}): RequestHandler {
  const { redis, base } = deps;
  const ttlSeconds = deps.ttlSeconds ?? IDEMPOTENCY_TTL_SECONDS;
  const waitMs = deps.waitMs ?? IDEMPOTENCY_WAIT_MS;
  const pendingMs = deps.pendingMs ?? IDEMPOTENCY_PENDING_MS;
  const timeoutMs = deps.timeoutMs ?? REDIS_TIMEOUT_MS;
  const run = <T>(what: string, promise: Promise<T>) => withDeadline(promise, timeoutMs, what);

  return async (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== "POST") return next();
    const idempotencyKey = req.get("idempotency-key");
    if (idempotencyKey === undefined) return next();
    if (!KEY_PATTERN.test(idempotencyKey)) {
      const message = "must be 1 to 255 printable ASCII characters";
      throw new ApiProblem("invalid-parameter", `Invalid parameter: header parameter "Idempotency-Key" ${message}.`, {
        errors: [{ parameter: "Idempotency-Key", in: "header", message }],
      });
    }
    const apiKey = res.locals.apiKey as ApiKey | undefined;
    const scope = apiKey ? `key:${apiKey.id}` : `ip:${req.ip ?? req.socket.remoteAddress ?? "unknown"}`;
    const record = `${base}idem:${scope}:${sha256(idempotencyKey)}`;
    const body: unknown = req.body;
    const fingerprint = sha256(`${req.method}\n${req.originalUrl}\n${body === undefined ? "" : canonicalJson(body)}`);
    const token = randomBytes(12).toString("hex");

    const deadline = performance.now() + waitMs;
    for (;;) {
      const answer = (await run(
        "idempotency claim",
        redis.eval(BEGIN_SCRIPT, 1, record, fingerprint, token, pendingMs),
      )) as string[];
      if (answer[0] === "claimed") break;
      if (answer[0] === "reused") {
        throw new ApiProblem(
          "idempotency-key-reused",
          "This Idempotency-Key was already used for a different request (method, path or body); use a new key.",
        );
      }
      if (answer[0] === "done") {
        replay(res, {
          status: Number(answer[1]),
          headers: JSON.parse(answer[2]) as Record<string, string>,
          body: Buffer.from(answer[3], "base64"),
        });
        return;
      }
      if (performance.now() >= deadline) {
        throw new ApiProblem(
          "idempotency-key-in-use",
          "A request with this Idempotency-Key is still being processed; retry shortly.",
          { headers: { "Retry-After": "1" } },
        );
      }
      await sleep(POLL_MS);
    }

    // The claim is ours: capture the response, store it, then send it.
    const chunks: Buffer[] = [];
    const toBuffer = (chunk: unknown, encoding?: unknown): Buffer | undefined =>
      chunk === undefined || chunk === null || typeof chunk === "function"
        ? undefined
        : Buffer.isBuffer(chunk)
          ? chunk
          : typeof chunk === "string"
            ? Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8")
            : Buffer.from(chunk as Uint8Array);
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      const b = toBuffer(chunk, rest[0]);
      if (b) chunks.push(b);
      return write(chunk, ...rest);
    }) as Response["write"];
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      res.end = end as Response["end"];
      const b = toBuffer(chunk, rest[0]);
      if (b) chunks.push(b);
      const status = res.statusCode;
      const saved =
        status >= 500
          ? run("idempotency release", redis.eval(ABANDON_SCRIPT, 1, record, token))
          : run(
              "idempotency store",
              redis.eval(
                FINISH_SCRIPT,
                1,
                record,
                token,
                status,
                JSON.stringify(
                  Object.fromEntries(
                    REPLAYED_HEADERS.flatMap((h) => {
                      const v = res.getHeader(h);
                      return v === undefined ? [] : [[h, String(v)]];
                    }),
                  ),
                ),
                Buffer.concat(chunks).toString("base64"),
                ttlSeconds,
              ),
            );
      // Sent even when Redis failed to store it: the request was handled; a retry then runs it again after the claim
      // lapses (the same as a request that never had a key).
      void saved.catch(() => undefined).finally(() => end(chunk, ...rest));
      return res;
    }) as Response["end"];
    next();
  };
}
