/**
 * Float reservations: a buy order matched to an acceptor holds part of its free float until the deal opens (the
 * lock then moves the float on chain) or the reservation lapses. One Lua script checks and reserves atomically, so
 * relayer replicas never promise the same float twice; its time is Redis' own (TIME), the same for every replica.
 *
 * Keys, under the write side's base W (its hash tag puts them in the projection's slot, so the script also reads
 * the projection's `acc:<acceptor>` hash):
 *   W res:<acceptor>:<token>  zset  — orderId → expiry (unix ms)
 *   W resamt                  hash  — orderId → "<acceptor>|<token>|<amount>"
 *   W ressum                  hash  — "<acceptor>:<token>" → "<sum>|<earliest expiry>" as of the last script run on
 *                                     that zset: the matcher's snapshot reads them all in one HGETALL (a sum whose
 *                                     earliest expiry has passed may include lapsed reservations: only a hint)
 *
 * Amounts are decimal strings of token base units; the script adds and compares them as decimal text (Lua's numbers
 * are doubles, exact only below 2^53).
 */
import type { RedisClient as Redis } from "../redis";

/** Decimal-text arithmetic for the scripts: add and compare non-negative integers without leading zeros. */
const DECIMAL_LUA = `
local function dec_add(a, b)
  local out, i, j, carry = {}, #a, #b, 0
  while i > 0 or j > 0 or carry > 0 do
    local s = carry
    if i > 0 then s = s + string.byte(a, i) - 48; i = i - 1 end
    if j > 0 then s = s + string.byte(b, j) - 48; j = j - 1 end
    out[#out + 1] = string.char(48 + s % 10)
    carry = math.floor(s / 10)
  end
  local r = string.reverse(table.concat(out))
  if r == '' then return '0' end
  return r
end
local function dec_lte(a, b)
  if #a ~= #b then return #a < #b end
  return a <= b
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Records zset z's live sum in hash s (field f) with its earliest expiry; drops the field when z is empty.
local function store_sum(z, s, f, sum)
  local first = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
  if #first == 0 then redis.call('HDEL', s, f) else redis.call('HSET', s, f, sum .. '|' .. first[2]) end
end
-- The sum of zset z's live reservations (amounts in hash h). Every script keeps it in hash s, field
-- "<acceptor>:<token>" (z's key ends in "res:<acceptor>:<token>"): it is read from there while no member has lapsed
-- (O(log n)); otherwise, or when forced after a removal, the lapsed members are dropped and it is recounted.
local function live_sum(z, h, s, now, force)
  local f = string.match(z, 'res:([^:]+:[^:]+)$')
  if not force and redis.call('ZCOUNT', z, '-inf', '(' .. now) == 0 then
    local stored = redis.call('HGET', s, f)
    if stored then return string.match(stored, '^([0-9]+)|') end
    if redis.call('EXISTS', z) == 0 then return '0' end
  end
  local lapsed = redis.call('ZRANGEBYSCORE', z, '-inf', '(' .. now)
  for _, id in ipairs(lapsed) do redis.call('HDEL', h, id) end
  if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', '(' .. now) end
  local sum = '0'
  local live = redis.call('ZRANGE', z, 0, -1)
  for _, id in ipairs(live) do
    local v = redis.call('HGET', h, id)
    if v then sum = dec_add(sum, string.match(v, '([0-9]+)$')) end
  end
  store_sum(z, s, f, sum)
  return sum
end
`;

/**
 * Reserves with the first of several acceptors whose free float minus live reservations covers the amount (the
 * matcher passes its ranked candidates, so one round trip tries them all). An earlier reservation of the same order
 * is dropped first (re-matching replaces it).
 * KEYS: 1 resamt, 2 ressum, then per candidate i: 2i+1 its res zset, 2i+2 the projection's acc:<acceptor>.
 * ARGV: 1 orderId, 2 amount, 3 ttl ms, 4 token, 5 the base W (to find the earlier reservation's zset: same hash tag,
 * same slot), then the candidates' addresses.
 * Returns {1, index} (1-based candidate) or {0, free1, reserved1, free2, reserved2, ...}.
 */
const RESERVE_SCRIPT = `${DECIMAL_LUA}
local now = now_ms()
local prior = redis.call('HGET', KEYS[1], ARGV[1])
if prior then
  local a, t = string.match(prior, '^([^|]+)|([^|]+)|')
  local z = ARGV[5] .. 'res:' .. a .. ':' .. t
  redis.call('ZREM', z, ARGV[1])
  redis.call('HDEL', KEYS[1], ARGV[1])
  live_sum(z, KEYS[1], KEYS[2], now, true)
end
local refused = {0}
for i = 1, #ARGV - 5 do
  local z, acc, a = KEYS[2 * i + 1], KEYS[2 * i + 2], ARGV[5 + i]
  local field = a .. ':' .. ARGV[4]
  local reserved = live_sum(z, KEYS[1], KEYS[2], now, false)
  local free = redis.call('HGET', acc, 'free:' .. ARGV[4]) or '0'
  if dec_lte(dec_add(reserved, ARGV[2]), free) then
    redis.call('ZADD', z, now + tonumber(ARGV[3]), ARGV[1])
    redis.call('HSET', KEYS[1], ARGV[1], a .. '|' .. ARGV[4] .. '|' .. ARGV[2])
    store_sum(z, KEYS[2], field, dec_add(reserved, ARGV[2]))
    return {1, i}
  end
  refused[#refused + 1] = free
  refused[#refused + 1] = reserved
end
return refused
`;

/** Releases. KEYS: 1 resamt, 2 ressum. ARGV: 1 orderId, 2 the base W. Returns 1 if the order held a reservation. */
const RELEASE_SCRIPT = `${DECIMAL_LUA}
local prior = redis.call('HGET', KEYS[1], ARGV[1])
if not prior then return 0 end
local a, t = string.match(prior, '^([^|]+)|([^|]+)|')
local z = ARGV[2] .. 'res:' .. a .. ':' .. t
redis.call('HDEL', KEYS[1], ARGV[1])
local removed = redis.call('ZREM', z, ARGV[1])
live_sum(z, KEYS[1], KEYS[2], now_ms(), true)
return removed
`;

/** Sums the live reservations of each zset (after dropping lapsed ones). KEYS: resamt, ressum, then the zsets. */
const RESERVED_SCRIPT = `${DECIMAL_LUA}
local now = now_ms()
local out = {}
for i = 3, #KEYS do out[#out + 1] = live_sum(KEYS[i], KEYS[1], KEYS[2], now, false) end
return out
`;

export type Reservations = ReturnType<typeof createReservations>;

export type ReserveResult = { ok: true } | { ok: false; free: bigint; reserved: bigint };
export type ReserveFirstResult =
  { ok: true; acceptor: string } | { ok: false; refused: { acceptor: string; free: bigint; reserved: bigint }[] };

export function createReservations(deps: { redis: Redis; base: string; projectionBase: string }) {
  const { redis, base, projectionBase } = deps;
  const RESAMT = `${base}resamt`;
  const RESSUM = `${base}ressum`;
  const resKey = (acceptor: string, token: string) => `${base}res:${acceptor.toLowerCase()}:${token.toLowerCase()}`;

  /** EVALSHA with a fallback to EVAL when the script is not loaded (ioredis' defineCommand does exactly that). */
  const commands = redis as Redis & {
    orderReserveFirst?: (...args: (string | number)[]) => Promise<unknown>;
    orderRelease?: (...args: (string | number)[]) => Promise<unknown>;
    orderReserved?: (...args: (string | number)[]) => Promise<unknown>;
  };
  if (commands.orderReserveFirst === undefined) {
    redis.defineCommand("orderReserveFirst", { lua: RESERVE_SCRIPT });
    redis.defineCommand("orderRelease", { numberOfKeys: 2, lua: RELEASE_SCRIPT });
    redis.defineCommand("orderReserved", { lua: RESERVED_SCRIPT });
  }

  /**
   * Holds `amount` of float in `token` for the order with the first of `acceptors` (in their order) that has it;
   * otherwise what each had (free and reserved), in the same order.
   */
  async function reserveFirst(
    orderId: string,
    acceptors: string[],
    token: string,
    amount: bigint,
    ttlMs: number,
  ): Promise<ReserveFirstResult> {
    const t = token.toLowerCase();
    const list = acceptors.map((a) => a.toLowerCase());
    const keys = [RESAMT, RESSUM, ...list.flatMap((a) => [resKey(a, t), `${projectionBase}acc:${a}`])];
    const reply = (await commands.orderReserveFirst!(
      keys.length,
      ...keys,
      orderId,
      amount.toString(),
      Math.max(1, Math.round(ttlMs)),
      t,
      base,
      ...list,
    )) as (number | string)[];
    if (reply[0] === 1) return { ok: true, acceptor: list[Number(reply[1]) - 1] };
    return {
      ok: false,
      refused: list.map((acceptor, i) => ({
        acceptor,
        free: BigInt(reply[1 + 2 * i]),
        reserved: BigInt(reply[2 + 2 * i]),
      })),
    };
  }

  return {
    /**
     * Holds `amount` of the acceptor's free float in `token` for the order for `ttlMs`, if its free float minus the
     * live reservations covers it. Reserving again for the same order replaces its earlier reservation.
     */
    async reserve(
      orderId: string,
      acceptor: string,
      token: string,
      amount: bigint,
      ttlMs: number,
    ): Promise<ReserveResult> {
      const first = await reserveFirst(orderId, [acceptor], token, amount, ttlMs);
      if (first.ok) return { ok: true };
      const [{ free, reserved }] = first.refused;
      return { ok: false, free, reserved };
    },

    reserveFirst,

    /** Drops the order's reservation; true if it held one. */
    async release(orderId: string): Promise<boolean> {
      return (await commands.orderRelease!(RESAMT, RESSUM, orderId, base)) === 1;
    },

    /** The acceptor's live reservations in `token` (base units). */
    async reservedOf(acceptor: string, token: string): Promise<bigint> {
      const [sum] = (await commands.orderReserved!(3, RESAMT, RESSUM, resKey(acceptor, token))) as string[];
      return BigInt(sum);
    },

    /** Live reservations of many acceptor/token pairs in one round trip (the matcher's snapshot). */
    async reservedOfMany(pairs: { acceptor: string; token: string }[]): Promise<bigint[]> {
      if (pairs.length === 0) return [];
      const keys = pairs.map((p) => resKey(p.acceptor, p.token));
      const sums = (await commands.orderReserved!(keys.length + 2, RESAMT, RESSUM, ...keys)) as string[];
      return sums.map((s) => BigInt(s));
    },

    /**
     * Every acceptor/token's reserved sum as the scripts last recorded it, in one read (the matcher's snapshot):
     * keyed "<acceptor>:<token>", with `until`, the earliest expiry among them (after it, the sum may include a
     * lapsed reservation: treat it as unknown). The reservation script stays the judge.
     */
    async sums(): Promise<Map<string, { reserved: bigint; until: number }>> {
      const out = new Map<string, { reserved: bigint; until: number }>();
      for (const [field, value] of Object.entries(await redis.hgetall(RESSUM))) {
        const [sum, until] = value.split("|");
        out.set(field, { reserved: BigInt(sum), until: Number(until) });
      }
      return out;
    },

    /** The order's reservation, if it holds one: acceptor, token, amount (it may have lapsed). */
    async reservationOf(orderId: string): Promise<{ acceptor: string; token: string; amount: bigint } | undefined> {
      const v = await redis.hget(RESAMT, orderId);
      if (v === null) return undefined;
      const [acceptor, token, amount] = v.split("|");
      return { acceptor, token, amount: BigInt(amount) };
    },
  };
}
