/**
 * Webhook endpoints in Redis, each owned by the address its API key acts for. Keys under `base` (one hash tag with
 * the dispatcher's keys, so its Lua script runs on one node):
 *   ep:<id>     hash    owner, url, types (JSON), description, secret, prev + prevUntil (rotation), createdAt, seq
 *   eps         set     every endpoint id (the dispatcher's fan-out)
 *   own:<owner> zset    the owner's endpoint ids by creation time
 *   log:<id>    list    delivery attempts, newest first, at most DELIVERY_LOG_MAX
 *   dl:<id>:<event id>  string  a delivery's body (kept for retries and redelivery), expiring with the events
 * The secret is stored as such: the relayer must sign with it.
 */
import { randomBytes } from "node:crypto";
import type { RedisClient as Redis } from "../redis";
import { REDIS_TIMEOUT_MS, withDeadline } from "../deadline";
import { newWebhookSecret } from "./signing";

/** Delivery attempts kept per endpoint. */
export const DELIVERY_LOG_MAX = 200;
/** Endpoints one owner may have. */
export const ENDPOINTS_PER_OWNER_MAX = 20;

export type Endpoint = {
  id: string;
  url: string;
  types: string[];
  description?: string;
  createdAt: string;
  /** While a rotated-out secret still signs (ISO time). */
  previousSecretExpiresAt?: string;
};

export type EndpointSecrets = { url: string; types: string[]; secrets: string[] };

export type DeliveryAttempt = {
  deliveryId: string;
  eventId: string;
  type: string;
  sequence: number;
  attempt: number;
  outcome: "delivered" | "failed";
  status?: number;
  durationMs: number;
  error?: string;
  at: string;
};

export const ENDPOINT_ID = /^we_[0-9a-f]{16}$/;

export type Endpoints = ReturnType<typeof createEndpoints>;

export function createEndpoints({
  redis,
  base,
  timeoutMs = REDIS_TIMEOUT_MS,
}: {
  redis: Redis;
  base: string;
  timeoutMs?: number;
}) {
  const k = (name: string) => base + name;
  const deadline = <T>(p: Promise<T>, what: string) => withDeadline(p, timeoutMs, what);

  const viewOf = (id: string, h: Record<string, string>, now = Date.now()): Endpoint => ({
    id,
    url: h.url,
    types: JSON.parse(h.types) as string[],
    ...(h.description ? { description: h.description } : {}),
    createdAt: h.createdAt,
    ...(h.prevUntil && Number(h.prevUntil) > now
      ? { previousSecretExpiresAt: new Date(Number(h.prevUntil)).toISOString() }
      : {}),
  });

  async function owned(owner: string, id: string): Promise<Record<string, string> | undefined> {
    if (!ENDPOINT_ID.test(id)) return undefined;
    const h = await deadline(redis.hgetall(k(`ep:${id}`)), "webhook endpoint");
    return h.owner === owner ? h : undefined;
  }

  return {
    key: k,

    async count(owner: string): Promise<number> {
      return deadline(redis.zcard(k(`own:${owner}`)), "webhook endpoints");
    },

    async create(
      owner: string,
      input: { url: string; types: string[]; description?: string },
    ): Promise<{ endpoint: Endpoint; secret: string }> {
      const id = `we_${randomBytes(8).toString("hex")}`;
      const secret = newWebhookSecret();
      const createdAt = new Date().toISOString();
      const fields: Record<string, string> = {
        owner,
        url: input.url,
        types: JSON.stringify(input.types),
        secret,
        createdAt,
        seq: "0",
      };
      if (input.description) fields.description = input.description;
      await deadline(
        redis
          .multi()
          .hset(k(`ep:${id}`), fields)
          .sadd(k("eps"), id)
          .zadd(k(`own:${owner}`), Date.now(), id)
          .exec(),
        "webhook endpoint create",
      );
      return { endpoint: viewOf(id, fields), secret };
    },

    async list(owner: string): Promise<Endpoint[]> {
      const ids = await deadline(redis.zrange(k(`own:${owner}`), 0, -1), "webhook endpoints");
      const hashes = await Promise.all(ids.map((id) => deadline(redis.hgetall(k(`ep:${id}`)), "webhook endpoint")));
      return ids.flatMap((id, i) => (hashes[i].owner === owner ? [viewOf(id, hashes[i])] : []));
    },

    async get(owner: string, id: string): Promise<Endpoint | undefined> {
      const h = await owned(owner, id);
      return h && viewOf(id, h);
    },

    async remove(owner: string, id: string): Promise<boolean> {
      if (!(await owned(owner, id))) return false;
      await deadline(
        redis
          .multi()
          .del(k(`ep:${id}`), k(`log:${id}`))
          .srem(k("eps"), id)
          .zrem(k(`own:${owner}`), id)
          .exec(),
        "webhook endpoint delete",
      );
      return true;
    },

    /** A new secret; the current one keeps signing for `graceMs`. */
    async rotate(
      owner: string,
      id: string,
      graceMs: number,
    ): Promise<{ endpoint: Endpoint; secret: string } | undefined> {
      const h = await owned(owner, id);
      if (!h) return undefined;
      const secret = newWebhookSecret();
      const prevUntil = String(Date.now() + graceMs);
      await deadline(redis.hset(k(`ep:${id}`), { secret, prev: h.secret, prevUntil }), "webhook secret rotation");
      return { endpoint: viewOf(id, { ...h, prevUntil }), secret };
    },

    /** What a delivery needs: the URL and every secret that signs now (current first). */
    async secretsOf(id: string): Promise<EndpointSecrets | undefined> {
      const h = await deadline(redis.hgetall(k(`ep:${id}`)), "webhook endpoint");
      if (!h.url) return undefined;
      const secrets = [h.secret];
      if (h.prev && Number(h.prevUntil) > Date.now()) secrets.push(h.prev);
      return { url: h.url, types: JSON.parse(h.types) as string[], secrets };
    },

    /** Every endpoint's id, owner and type filter (the dispatcher's fan-out). */
    async all(): Promise<{ id: string; owner: string; types: string[] }[]> {
      const ids = await deadline(redis.smembers(k("eps")), "webhook endpoints");
      if (ids.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hmget(k(`ep:${id}`), "types", "owner");
      const results = (await deadline(pipeline.exec(), "webhook endpoints")) ?? [];
      return ids.flatMap((id, i) => {
        const [types, owner] = (results[i]?.[1] as (string | null)[] | undefined) ?? [null, null];
        return types ? [{ id, owner: owner ?? "", types: JSON.parse(types) as string[] }] : [];
      });
    },

    async record(id: string, attempt: DeliveryAttempt): Promise<void> {
      await deadline(
        redis
          .multi()
          .lpush(k(`log:${id}`), JSON.stringify(attempt))
          .ltrim(k(`log:${id}`), 0, DELIVERY_LOG_MAX - 1)
          .exec(),
        "webhook delivery log",
      );
    },

    async deliveries(owner: string, id: string): Promise<DeliveryAttempt[] | undefined> {
      if (!(await owned(owner, id))) return undefined;
      const entries = await deadline(redis.lrange(k(`log:${id}`), 0, -1), "webhook delivery log");
      return entries.map((e) => JSON.parse(e) as DeliveryAttempt);
    },

    async body(id: string, eventId: string): Promise<string | undefined> {
      return (await deadline(redis.get(k(`dl:${id}:${eventId}`)), "webhook delivery")) ?? undefined;
    },

    owned,
  };
}
