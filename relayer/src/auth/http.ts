/**
 * The API's guards as express middleware: who is calling (`authenticate`), what the key may do (`requireScope`),
 * how often (`rateLimit`), replays of POSTs (`idempotency`, in idempotency.ts), and the headers every response
 * carries (`securityHeaders`: CORS, nosniff, Cache-Control). Refusals are thrown as ApiProblems, so the app's one
 * error handler answers them as problem+json; a Redis outage there becomes 503 "unavailable".
 *
 * Mount order: securityHeaders, authenticate, rateLimit, express.json, idempotency, then the routes (requireScope on
 * each route that needs one). No secret is ever logged or echoed: refusals name the header, never its value.
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { RedisClient as Redis } from "../redis";
import { ApiProblem } from "../api/problems";
import { REDIS_TIMEOUT_MS, withDeadline } from "../deadline";
import type { ApiKey, KeyStore, Scope } from "./keys";

export { idempotency } from "./idempotency";

/** Methods that read; every other method needs a key. */
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const BEARER = /^Bearer +(\S+) *$/i;

/** The key the request was authenticated with (set by `authenticate`), if any. */
export const apiKeyOf = (res: Response): ApiKey | undefined => res.locals.apiKey as ApiKey | undefined;

function unauthenticated(detail: string, keyGiven: boolean): ApiProblem {
  const challenge = keyGiven ? 'Bearer realm="relayer", error="invalid_token"' : 'Bearer realm="relayer"';
  return new ApiProblem("unauthenticated", detail, { headers: { "WWW-Authenticate": challenge } });
}

/** The secret a request carries: `Authorization: Bearer <secret>` or `X-Api-Key: <secret>`. */
function credentialOf(req: Request): string | undefined {
  const authorization = req.get("authorization");
  const header = req.get("x-api-key");
  let bearer: string | undefined;
  if (authorization !== undefined) {
    const match = BEARER.exec(authorization);
    if (!match) throw unauthenticated("The Authorization header must be `Bearer <API key>`.", true);
    bearer = match[1];
  }
  if (bearer !== undefined && header !== undefined && header.trim() !== bearer) {
    throw unauthenticated("The Authorization and X-Api-Key headers carry different keys; send one.", true);
  }
  return bearer ?? (header === undefined ? undefined : header.trim());
}

/**
 * Authenticates the request's key, if it carries one, into `res.locals.apiKey`. 401 "unauthenticated" when the key
 * is unknown, revoked or expired; when none is given on a method that writes; and on every route but preflights
 * (OPTIONS) when `requireKeyForReads`.
 */
export function authenticate(
  keys: KeyStore,
  opts: { requireKeyForReads: boolean; /** a POST that only computes (typed data): a read */ asRead?: boolean },
): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    res.locals.apiKey = undefined;
    const secret = credentialOf(req);
    if (secret === undefined) {
      const writes = !READ_METHODS.has(req.method) && !opts.asRead;
      const needed = writes || (opts.requireKeyForReads && req.method !== "OPTIONS");
      if (needed) {
        const what = READ_METHODS.has(req.method)
          ? "This relayer requires an API key"
          : `${req.method} needs an API key`;
        throw unauthenticated(`${what}: send it as \`Authorization: Bearer <API key>\`.`, false);
      }
      next();
      return;
    }
    const key = await keys.authenticate(secret);
    if (!key) throw unauthenticated("The API key is unknown, revoked or expired.", true);
    res.locals.apiKey = key;
    next();
  };
}

/** 403 "forbidden" unless the request's key has one of `scopes` (401 when there is no key). */
export function requireScope(...scopes: Scope[]): RequestHandler {
  const names = scopes.join(" or ");
  return (_req: Request, res: Response, next: NextFunction) => {
    const key = apiKeyOf(res);
    if (!key) throw unauthenticated(`This route needs an API key of scope ${names}.`, false);
    if (!scopes.includes(key.scope)) {
      throw new ApiProblem(
        "forbidden",
        `This route needs an API key of scope ${names}; this key's scope is ${key.scope}.`,
      );
    }
    next();
  };
}

/**
 * A token bucket per key: `burst` tokens, refilled at `perMinute` per minute; each request takes one. Times come
 * from Redis (TIME), so every replica shares one clock. KEYS: 1 the bucket. ARGV: 1 per minute, 2 burst.
 * Returns {allowed (1/0), tokens left (floor), ms until a token is free}.
 */
const BUCKET_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local perMs = tonumber(ARGV[1]) / 60000
local cap = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or cap
local at = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - at) * perMs)
local allowed, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / perMs)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((cap - tokens) / perMs) + 1000)
return {allowed, math.floor(tokens), wait}`;

/** Most client addresses whose in-process buckets are kept (the least recently seen go first). */
export const LOCAL_BUCKETS_MAX = 10_000;

/**
 * The same token bucket as BUCKET_SCRIPT, in this process's memory: for anonymous requests when the limit need not
 * be shared by replicas. A read then costs no Redis call for its limit.
 */
function localBuckets(perMinute: number, burst: number) {
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (who: string): [number, number, number] => {
    const now = Date.now();
    const b = buckets.get(who);
    let tokens = b === undefined ? burst : Math.min(burst, b.tokens + Math.max(0, now - b.at) * perMs);
    let allowed = 0;
    let wait = 0;
    if (tokens >= 1) {
      tokens -= 1;
      allowed = 1;
    } else {
      wait = Math.ceil((1 - tokens) / perMs);
    }
    if (b !== undefined) buckets.delete(who);
    buckets.set(who, { tokens, at: now });
    if (buckets.size > LOCAL_BUCKETS_MAX) buckets.delete(buckets.keys().next().value!);
    return [allowed, Math.floor(tokens), wait];
  };
}

/**
 * Limits requests per key id (per client IP for requests without a key) to `perMinute`, with bursts of up to
 * `burst` (default `perMinute`). Over the limit: 429 "rate-limited" with Retry-After (whole seconds, at least 1).
 * Every answer carries RateLimit-Limit and RateLimit-Remaining. One Lua script per request — except, with
 * `anonymous: "local"`, requests without a key: those are counted per client address in this process's memory
 * (each replica allows the limit; no Redis call on the anonymous read path).
 */
export function rateLimit(deps: {
  redis: Redis;
  base: string;
  perMinute: number;
  burst?: number;
  timeoutMs?: number;
  /** Where anonymous requests' buckets live: "shared" in Redis (default) or "local" to this process. */
  anonymous?: "shared" | "local";
}): RequestHandler {
  const { redis, base, perMinute } = deps;
  const burst = deps.burst ?? perMinute;
  const timeoutMs = deps.timeoutMs ?? REDIS_TIMEOUT_MS;
  if (!(perMinute > 0) || !Number.isFinite(perMinute)) throw new RangeError("perMinute must be a positive number");
  if (!Number.isInteger(burst) || burst < 1) throw new RangeError("burst must be a whole number of at least 1");
  const local = deps.anonymous === "local" ? localBuckets(perMinute, burst) : undefined;
  return async (req: Request, res: Response, next: NextFunction) => {
    const key = apiKeyOf(res);
    const who = key ? `key:${key.id}` : `ip:${req.ip ?? req.socket.remoteAddress ?? "unknown"}`;
    const [allowed, left, waitMs] =
      !key && local
        ? local(who)
        : ((await withDeadline(
            redis.eval(BUCKET_SCRIPT, 1, `${base}rl:${who}`, perMinute, burst),
            timeoutMs,
            "rate limit",
          )) as [number, number, number]);
    res.setHeader("RateLimit-Limit", String(perMinute));
    res.setHeader("RateLimit-Remaining", String(left));
    if (allowed !== 1) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiProblem(
        "rate-limited",
        `Too many requests ${key ? "with this API key" : "from this address"}: at most ${perMinute} a minute; retry in ${seconds} s.`,
        { headers: { "Retry-After": String(seconds) } },
      );
    }
    next();
  };
}

/** Methods and headers a browser may use, and response headers it may read. */
export const CORS_ALLOW_METHODS = "GET, POST, DELETE, OPTIONS";
export const CORS_ALLOW_HEADERS =
  "Authorization, Content-Type, Idempotency-Key, X-Api-Key, Evidence-Signer, Evidence-Signature, Evidence-Expiry, " +
  "Evidence-Name";
export const CORS_EXPOSE_HEADERS = "Retry-After, Idempotent-Replayed, Location, RateLimit-Limit, RateLimit-Remaining";
/** How long a browser may cache a preflight answer (seconds). */
export const CORS_MAX_AGE = "600";
/** An origin CORS may allow: scheme://host[:port] (for an option's schema; "*" is allowed besides). */
export const CORS_ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * CORS for `corsOrigins` ("*" for any; otherwise exact origins such as `https://app.example`), answering preflights
 * (OPTIONS with Access-Control-Request-Method) from an allowed origin with 204; `X-Content-Type-Options: nosniff`
 * and `Cache-Control: no-store` on every response (a handler may set another Cache-Control).
 */
export function securityHeaders(opts: { corsOrigins: string[] }): RequestHandler {
  const any = opts.corsOrigins.includes("*");
  const origins = new Set<string>();
  for (const origin of opts.corsOrigins) {
    if (origin === "*") continue;
    if (!CORS_ORIGIN.test(origin))
      throw new RangeError(`CORS origin ${origin} is not "*" nor a scheme://host[:port] origin`);
    origins.add(origin.toLowerCase());
  }
  return (req: Request, res: Response, next: NextFunction) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Cache-Control", "no-store");
    if (!any) res.setHeader("Vary", "Origin");
    const origin = req.get("origin");
    const allowed = origin !== undefined && (any || origins.has(origin.toLowerCase()));
    if (allowed) {
      res.setHeader("Access-Control-Allow-Origin", any ? "*" : origin);
      res.setHeader("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
      if (req.method === "OPTIONS" && req.get("access-control-request-method") !== undefined) {
        res.setHeader("Access-Control-Allow-Methods", CORS_ALLOW_METHODS);
        res.setHeader("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
        res.setHeader("Access-Control-Max-Age", CORS_MAX_AGE);
        res.status(204).end();
        return;
      }
    }
    next();
  };
}
