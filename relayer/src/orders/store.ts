/**
 * Order records in Redis, under the write side's prefix W (same hash slot as the projection):
 *   W+"ord:"+id        hash  j = Order JSON, v = version
 *   W+"ix:plat:"+owner zset  orderId by createdAt (the platform's orders)
 *   W+"ix:accq:"+acc   zset  orderId by createdAt (orders assigned to or accepted by the acceptor)
 *   W+"ix:deal:"+deal  string orderId
 *   W+"live"           zset  orderId → next check (ms); terminal orders leave it
 *
 * Every write is one Lua compare-and-set on the version: the new JSON, its index entries and its order event
 * (XADD to the events stream) together, so of two relayer replicas moving the same order only one writes, and an
 * event is never written twice.
 */
import type { RedisClient as Redis } from "../redis";
import { orderEventValue } from "../events/orders";
import type { Order } from "./model";

// KEYS: 1 order, 2 events, 3 live, 4 ix:plat, 5 ix:accq (new acceptor), 6 ix:accq (old acceptor), 7 ix:deal
// ARGV: 1 expected version (0 = must not exist), 2 JSON, 3 (unused), 4 id, 5 createdAt,
//       6 live score ("" = leave live), 7 add to new acceptor queue (1/0), 8 remove from old queue (1/0),
//       9 set the deal index (1/0), 10… order event values, in order
const CAS = `
local v = redis.call('HGET', KEYS[1], 'v')
local current = tonumber(v or '0')
if current ~= tonumber(ARGV[1]) then return {0, current} end
local next = current + 1
redis.call('HSET', KEYS[1], 'j', ARGV[2], 'v', next)
redis.call('ZADD', KEYS[4], 'NX', ARGV[5], ARGV[4])
if ARGV[7] == '1' then redis.call('ZADD', KEYS[5], ARGV[5], ARGV[4]) end
if ARGV[8] == '1' then redis.call('ZREM', KEYS[6], ARGV[4]) end
if ARGV[9] == '1' then redis.call('SET', KEYS[7], ARGV[4]) end
if ARGV[6] == '' then redis.call('ZREM', KEYS[3], ARGV[4]) else redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4]) end
for i = 10, #ARGV do redis.call('XADD', KEYS[2], '*', 'e', ARGV[i]) end
return {1, next}
`;

/** One order event of a write: its type, and where it differs from the order written, its status and parties. */
export type OrderEventOf = { type: string; status?: string; acceptor?: string; dealId?: string };

export type StoredOrder = { order: Order; version: number };

export function createOrderStore(deps: { redis: Redis; base: string; eventsKey: string }) {
  const { redis, base, eventsKey } = deps;
  const ordKey = (id: string) => `${base}ord:${id}`;
  const platKey = (owner: string) => `${base}ix:plat:${owner}`;
  const accKey = (acceptor: string) => `${base}ix:accq:${acceptor}`;
  const dealKey = (dealId: string) => `${base}ix:deal:${dealId}`;
  const liveKey = `${base}live`;

  async function get(id: string): Promise<StoredOrder | undefined> {
    const [j, v] = await redis.hmget(ordKey(id), "j", "v");
    if (!j || !v) return undefined;
    return { order: JSON.parse(j) as Order, version: Number(v) };
  }

  /**
   * Writes `order` if its stored version is still `expected` (0: it must not exist yet). `event`: the type of the
   * order event to emit with it; `live`: the next check time (undefined: the order leaves the sweep).
   * `previousAcceptor`: the acceptor whose queue it leaves (a re-match).
   */
  async function put(
    order: Order,
    expected: number,
    opts: { events?: OrderEventOf[]; live?: number; previousAcceptor?: string },
  ): Promise<number | undefined> {
    const events = (opts.events ?? []).map((e) =>
      orderEventValue({
        type: e.type,
        orderId: order.id,
        status: e.status ?? order.status,
        platform: order.platform,
        acceptor: "acceptor" in e ? e.acceptor : order.acceptor,
        dealId: "dealId" in e ? e.dealId : order.dealId,
        reference: order.reference,
        at: order.updatedAt,
      }),
    );
    const old = opts.previousAcceptor && opts.previousAcceptor !== order.acceptor ? opts.previousAcceptor : undefined;
    const result = (await redis.eval(
      CAS,
      7,
      ordKey(order.id),
      eventsKey,
      liveKey,
      platKey(order.platform),
      accKey(order.acceptor ?? "-"),
      accKey(old ?? "-"),
      dealKey(order.dealId ?? "-"),
      String(expected),
      JSON.stringify(order),
      "",
      order.id,
      String(order.createdAt),
      opts.live === undefined ? "" : String(Math.round(opts.live)),
      order.acceptor ? "1" : "0",
      old ? "1" : "0",
      order.dealId ? "1" : "0",
      ...events,
    )) as [number, number];
    return result[0] === 1 ? result[1] : undefined;
  }

  /** Orders due for a check (live score ≤ now), at most `limit`. */
  const due = (now: number, limit: number) => redis.zrangebyscore(liveKey, "-inf", now, "LIMIT", 0, limit);

  /** A page of an index, newest first, strictly after (score, id). */
  async function page(index: "plat" | "accq", owner: string, limit: number, after?: { score: number; id: string }) {
    const key = index === "plat" ? platKey(owner) : accKey(owner);
    const raw = await redis.zrevrangebyscore(
      key,
      after ? after.score : "+inf",
      "-inf",
      "WITHSCORES",
      "LIMIT",
      0,
      limit + 200,
    );
    const entries: { id: string; score: number }[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const e = { id: raw[i], score: Number(raw[i + 1]) };
      if (after && (e.score > after.score || (e.score === after.score && e.id >= after.id))) continue;
      entries.push(e);
    }
    return entries.slice(0, limit);
  }

  /** A short lease on one order, so one replica works on it at a time (the CAS stays the judge). */
  const lease = async (id: string, holder: string, ms: number) =>
    (await redis.set(`${base}lk:${id}`, holder, "PX", ms, "NX")) === "OK";
  const unlease = (id: string) => redis.del(`${base}lk:${id}`);

  const orderOfDeal = async (dealId: string) => (await redis.get(dealKey(dealId))) ?? undefined;

  return { get, put, due, page, lease, unlease, orderOfDeal, keys: { ordKey, platKey, accKey, dealKey, liveKey } };
}
export type OrderStore = ReturnType<typeof createOrderStore>;
