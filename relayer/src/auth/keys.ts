/**
 * API keys: who may call the write API, with which scope, on whose behalf. A key is an id (public, shown in lists
 * and logs) and a secret `sk_<scope>_<base58 of 32 random bytes>` shown once at creation; Redis stores only the
 * secret's SHA-256, so a copy of Redis lets nobody call the API.
 *
 * Rotation replaces a key's secret, not the key: the id stays, and with it the refs the key registered, its rate
 * limit, its gas budget and its idempotency records. The previous secret keeps working for the grace period (two
 * secrets valid during the rotation window); `authenticate` of that previous secret answers the key with `expiresAt`
 * set to the moment it stops working. A revoked key stops at once, every secret of it, and is listed with
 * `expiresAt` = the time of its revocation.
 *
 * Keys under `base` (a prefix ending in ":" holding a hash tag, e.g. `escrow:{keys}:`), every one in its slot:
 *   key:<id>      hash    scope, owner, label, createdAt, secret (hash), prev + prevUntil (rotation), revokedAt
 *   secret:<hash> string  the key id (the previous secret's entry expires with its grace)
 *   ids           zset    key ids by creation time
 *   refs          hash    ref (bytes32) → id of the key that registered it
 */
import { createHash, randomBytes } from "node:crypto";
import { encodeBase58 } from "ethers";
import type { RedisClient as Redis } from "../redis";
import { REDIS_TIMEOUT_MS, withDeadline } from "../deadline";

export const SCOPES = ["read", "party", "acceptor", "gateway", "platform", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export type ApiKey = {
  id: string;
  scope: Scope;
  /** Lower-case 0x address on whose behalf the key acts. */
  owner: string;
  label?: string;
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds: when the secret used stops working (rotation grace), or when the key was revoked. */
  expiresAt?: number;
};

export type KeyStore = {
  create(input: { scope: Scope; owner: string; label?: string }): Promise<{ secret: string; key: ApiKey }>;
  /** The key of a secret; undefined when unknown, malformed, revoked or past its rotation grace. */
  authenticate(secret: string): Promise<ApiKey | undefined>;
  /** False when there is no such key or it was already revoked. */
  revoke(id: string): Promise<boolean>;
  /** A new secret for the key; the previous one stays valid for `graceSeconds`. Rejects for an unknown or revoked key. */
  rotate(id: string, graceSeconds: number): Promise<{ secret: string; key: ApiKey }>;
  /** Every key, oldest first, revoked ones included (with `expiresAt`). */
  list(): Promise<ApiKey[]>;
  /** Records that the key registered a deal ref (bytes32 hex); false when another key registered it first. */
  registerRef(keyId: string, ref: string): Promise<boolean>;
  /** The id of the key that registered the ref. */
  refOwner(ref: string): Promise<string | undefined>;
};

const BASE58 = "[1-9A-HJ-NP-Za-km-z]";
/** The shape of a secret; anything else is refused without asking Redis. */
export const SECRET_PATTERN = new RegExp(`^sk_(${SCOPES.join("|")})_${BASE58}{32,64}$`);
const ID_PATTERN = /^key_[0-9a-f]{20}$/;
const ADDRESS_PATTERN = /^0x[0-9a-fA-F]{40}$/;
const REF_PATTERN = /^0x[0-9a-fA-F]{64}$/;
/** Longest label; printable characters only. */
export const LABEL_MAX = 100;
/** Longest rotation grace: 30 days. */
export const GRACE_MAX_SECONDS = 30 * 24 * 3600;

/** The base of the API keys' Redis keys for a REDIS_PREFIX. */
export const keysBase = (prefix: string) => `${prefix}:{keys}:`;

/** SHA-256 of a secret, hex. */
export const secretHash = (secret: string) => createHash("sha256").update(secret).digest("hex");

const newSecret = (scope: Scope) => `sk_${scope}_${encodeBase58(randomBytes(32))}`;
const newId = () => `key_${randomBytes(10).toString("hex")}`;
const isScope = (s: unknown): s is Scope => typeof s === "string" && (SCOPES as readonly string[]).includes(s);

/**
 * Revokes a key. KEYS: 1 the key's hash. ARGV: 1 base, 2 now (s). Returns 1, or 0 when unknown or already revoked.
 */
const REVOKE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'revokedAt') == 1 then return 0 end
local f = redis.call('HMGET', KEYS[1], 'secret', 'prev')
for i = 1, 2 do if f[i] then redis.call('DEL', ARGV[1] .. 'secret:' .. f[i]) end end
redis.call('HDEL', KEYS[1], 'prev', 'prevUntil')
redis.call('HSET', KEYS[1], 'revokedAt', ARGV[2])
return 1`;

/**
 * Gives a key a new secret. KEYS: 1 the key's hash. ARGV: 1 base, 2 the key id, 3 new secret hash, 4 now (s),
 * 5 grace (s). The secret before the previous one stops at once; the previous one expires after the grace.
 * Returns 1, or 0 when the key is unknown or revoked.
 */
const ROTATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'revokedAt') == 1 then return 0 end
local f = redis.call('HMGET', KEYS[1], 'secret', 'prev')
if f[2] then redis.call('DEL', ARGV[1] .. 'secret:' .. f[2]) end
local grace = tonumber(ARGV[5])
if grace > 0 then
  redis.call('EXPIREAT', ARGV[1] .. 'secret:' .. f[1], tonumber(ARGV[4]) + grace)
  redis.call('HSET', KEYS[1], 'prev', f[1], 'prevUntil', tonumber(ARGV[4]) + grace)
else
  redis.call('DEL', ARGV[1] .. 'secret:' .. f[1])
  redis.call('HDEL', KEYS[1], 'prev', 'prevUntil')
end
redis.call('SET', ARGV[1] .. 'secret:' .. ARGV[3], ARGV[2])
redis.call('HSET', KEYS[1], 'secret', ARGV[3])
return 1`;

/** The key of a stored hash (undefined when the hash is empty). */
function keyOf(id: string, h: Record<string, string>): ApiKey | undefined {
  if (!isScope(h.scope)) return undefined;
  const key: ApiKey = { id, scope: h.scope, owner: h.owner, createdAt: Number(h.createdAt) };
  if (h.label !== undefined) key.label = h.label;
  if (h.revokedAt !== undefined) key.expiresAt = Number(h.revokedAt);
  return key;
}

/** Checks and normalises the input of `create`; throws a RangeError saying what is wrong. */
function checkInput(input: { scope: Scope; owner: string; label?: string }): { owner: string; label?: string } {
  if (!isScope(input.scope)) throw new RangeError(`scope must be one of ${SCOPES.join(", ")}`);
  if (typeof input.owner !== "string" || !ADDRESS_PATTERN.test(input.owner)) {
    throw new RangeError("owner must be a 0x address (20 bytes hex)");
  }
  const label = input.label;
  if (label !== undefined && (label.length < 1 || label.length > LABEL_MAX || !/^[\x20-\x7e]+$/.test(label))) {
    throw new RangeError(`label must be 1 to ${LABEL_MAX} printable ASCII characters`);
  }
  return { owner: input.owner.toLowerCase(), label };
}

function checkRef(ref: string): string {
  if (typeof ref !== "string" || !REF_PATTERN.test(ref)) throw new RangeError("ref must be a bytes32 hex string");
  return ref.toLowerCase();
}

export function createKeyStore(deps: {
  redis: Redis;
  base: string;
  timeoutMs?: number;
  /** The clock, unix seconds (tests move it). */
  now?: () => number;
}): KeyStore {
  const { redis, base } = deps;
  const timeoutMs = deps.timeoutMs ?? REDIS_TIMEOUT_MS;
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  const k = (name: string) => base + name;
  const run = <T>(what: string, promise: Promise<T>) => withDeadline(promise, timeoutMs, what);

  const read = async (id: string): Promise<Record<string, string>> =>
    ID_PATTERN.test(id) ? run("read key", redis.hgetall(k(`key:${id}`))) : {};

  return {
    async create(input) {
      const { owner, label } = checkInput(input);
      const id = newId();
      const secret = newSecret(input.scope);
      const createdAt = now();
      const fields: Record<string, string | number> = {
        scope: input.scope,
        owner,
        createdAt,
        secret: secretHash(secret),
      };
      if (label !== undefined) fields.label = label;
      // Listed in creation order: a shared counter orders keys made within the same second.
      const order = await run("order key", redis.incr(k("ids:seq")));
      await run(
        "create key",
        redis
          .multi()
          .hset(k(`key:${id}`), fields)
          .set(k(`secret:${secretHash(secret)}`), id)
          .zadd(k("ids"), order, id)
          .exec(),
      );
      const key: ApiKey = { id, scope: input.scope, owner, createdAt };
      if (label !== undefined) key.label = label;
      return { secret, key };
    },

    async authenticate(secret) {
      if (typeof secret !== "string" || !SECRET_PATTERN.test(secret)) return undefined;
      const hash = secretHash(secret);
      const id = await run("find secret", redis.get(k(`secret:${hash}`)));
      if (id === null) return undefined;
      const h = await read(id);
      const key = keyOf(id, h);
      if (!key || h.revokedAt !== undefined) return undefined;
      if (h.secret === hash) return key;
      if (h.prev === hash && now() < Number(h.prevUntil)) return { ...key, expiresAt: Number(h.prevUntil) };
      return undefined;
    },

    async revoke(id) {
      if (!ID_PATTERN.test(id)) return false;
      const done = await run("revoke key", redis.eval(REVOKE_SCRIPT, 1, k(`key:${id}`), base, now()));
      return done === 1;
    },

    async rotate(id, graceSeconds) {
      if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > GRACE_MAX_SECONDS) {
        throw new RangeError(`the grace must be a whole number of seconds from 0 to ${GRACE_MAX_SECONDS}`);
      }
      const h = await read(id);
      const key = keyOf(id, h);
      if (!key || h.revokedAt !== undefined) throw new RangeError(`no active key ${id}`);
      const secret = newSecret(key.scope);
      const done = await run(
        "rotate key",
        redis.eval(ROTATE_SCRIPT, 1, k(`key:${id}`), base, id, secretHash(secret), now(), graceSeconds),
      );
      if (done !== 1) throw new RangeError(`no active key ${id}`);
      return { secret, key };
    },

    async list() {
      const ids = await run("list keys", redis.zrange(k("ids"), 0, -1));
      if (ids.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hgetall(k(`key:${id}`));
      const results = (await run("read keys", pipeline.exec())) ?? [];
      return ids.flatMap((id, i) => {
        const [error, h] = results[i] ?? [];
        if (error) throw error;
        const key = keyOf(id, h as Record<string, string>);
        return key ? [key] : [];
      });
    },

    async registerRef(keyId, ref) {
      const r = checkRef(ref);
      if (!ID_PATTERN.test(keyId)) throw new RangeError(`no key ${keyId}`);
      const set = await run("register ref", redis.hsetnx(k("refs"), r, keyId));
      if (set === 1) return true;
      return (await run("read ref", redis.hget(k("refs"), r))) === keyId;
    },

    async refOwner(ref) {
      if (typeof ref !== "string" || !REF_PATTERN.test(ref)) return undefined;
      return (await run("read ref", redis.hget(k("refs"), ref.toLowerCase()))) ?? undefined;
    },
  };
}
