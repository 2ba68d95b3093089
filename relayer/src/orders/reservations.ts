/**
 * Float reservations: a buy order matched to an acceptor holds part of its free float until the deal opens (the
 * lock then moves the float on chain) or the reservation lapses. One Lua script checks and reserves atomically, so
 * relayer replicas never promise the same float twice; its time is Redis' own (TIME), the same for every replica.
 *
 * Keys, under the write side's base W (its hash tag puts them in the projection's slot, so the script also reads
 * the projection's `acc:<acceptor>` hash):
 *   W res:<acceptor>:<token>  zset  — orderId → expiry (unix ms)
 *   W resamt                  hash  — orderId → "<acceptor>|<token>|<amount>"
 *
 * Amounts are decimal strings of token base units; the script adds and compares them as decimal text (Lua's numbers
 * are doubles, exact only below 2^53).
 */
import type { Redis } from "ioredis";

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
-- Drops the lapsed members of zset z (and their amounts in hash h); returns the sum of the others' amounts.
local function live_sum(z, h, now)
  local lapsed = redis.call('ZRANGEBYSCORE', z, '-inf', '(' .. now)
  for _, id in ipairs(lapsed) do redis.call('HDEL', h, id) end
  if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', '(' .. now) end
  local sum = '0'
  local live = redis.call('ZRANGE', z, 0, -1)
  for _, id in ipairs(live) do
    local v = redis.call('HGET', h, id)
    if v then sum = dec_add(sum, string.match(v, '([0-9]+)$')) end
  end
  return sum
end
`;

/**
 * Reserves. KEYS: 1 res zset of the acceptor and token, 2 resamt, 3 the projection's acc:<acceptor>.
 * ARGV: 1 orderId, 2 "<acceptor>|<token>|<amount>", 3 amount, 4 ttl ms, 5 token, 6 the base W (to find an earlier
 * reservation of the order with another acceptor or token: same hash tag, same slot).
 * Returns {1} or {0, free, reserved}.
 */
const RESERVE_SCRIPT = `${DECIMAL_LUA}
local now = now_ms()
local prior = redis.call('HGET', KEYS[2], ARGV[1])
if prior and prior ~= ARGV[2] then
  local a, t = string.match(prior, '^([^|]+)|([^|]+)|')
  redis.call('ZREM', ARGV[6] .. 'res:' .. a .. ':' .. t, ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
elseif prior then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
local reserved = live_sum(KEYS[1], KEYS[2], now)
local free = redis.call('HGET', KEYS[3], 'free:' .. ARGV[5]) or '0'
if not dec_lte(dec_add(reserved, ARGV[3]), free) then return {0, free, reserved} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return {1}
`;

/** Releases. KEYS: 1 resamt. ARGV: 1 orderId, 2 the base W. Returns 1 if the order held a reservation. */
const RELEASE_SCRIPT = `
local prior = redis.call('HGET', KEYS[1], ARGV[1])
if not prior then return 0 end
local a, t = string.match(prior, '^([^|]+)|([^|]+)|')
redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('ZREM', ARGV[2] .. 'res:' .. a .. ':' .. t, ARGV[1])
`;

/** Sums the live reservations of each zset in KEYS (after dropping lapsed ones). KEYS: resamt, then the zsets. */
const RESERVED_SCRIPT = `${DECIMAL_LUA}
local now = now_ms()
local out = {}
for i = 2, #KEYS do out[#out + 1] = live_sum(KEYS[i], KEYS[1], now) end
return out
`;

export type Reservations = ReturnType<typeof createReservations>;

export type ReserveResult = { ok: true } | { ok: false; free: bigint; reserved: bigint };

export function createReservations(deps: { redis: Redis; base: string; projectionBase: string }) {
  const { redis, base, projectionBase } = deps;
  const RESAMT = `${base}resamt`;
  const resKey = (acceptor: string, token: string) => `${base}res:${acceptor.toLowerCase()}:${token.toLowerCase()}`;

  /** EVALSHA with a fallback to EVAL when the script is not loaded (ioredis' defineCommand does exactly that). */
  const commands = redis as Redis & {
    orderReserve?: (...args: (string | number)[]) => Promise<unknown>;
    orderRelease?: (...args: (string | number)[]) => Promise<unknown>;
    orderReserved?: (...args: (string | number)[]) => Promise<unknown>;
  };
  if (commands.orderReserve === undefined) {
    redis.defineCommand("orderReserve", { numberOfKeys: 3, lua: RESERVE_SCRIPT });
    redis.defineCommand("orderRelease", { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    redis.defineCommand("orderReserved", { lua: RESERVED_SCRIPT });
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
      const a = acceptor.toLowerCase();
      const t = token.toLowerCase();
      const reply = (await commands.orderReserve!(
        resKey(a, t),
        RESAMT,
        `${projectionBase}acc:${a}`,
        orderId,
        `${a}|${t}|${amount}`,
        amount.toString(),
        Math.max(1, Math.round(ttlMs)),
        t,
        base,
      )) as [number, string?, string?];
      if (reply[0] === 1) return { ok: true };
      return { ok: false, free: BigInt(reply[1]!), reserved: BigInt(reply[2]!) };
    },

    /** Drops the order's reservation; true if it held one. */
    async release(orderId: string): Promise<boolean> {
      return (await commands.orderRelease!(RESAMT, orderId, base)) === 1;
    },

    /** The acceptor's live reservations in `token` (base units). */
    async reservedOf(acceptor: string, token: string): Promise<bigint> {
      const [sum] = (await commands.orderReserved!(2, RESAMT, resKey(acceptor, token))) as string[];
      return BigInt(sum);
    },

    /** Live reservations of many acceptor/token pairs in one round trip (the matcher's snapshot). */
    async reservedOfMany(pairs: { acceptor: string; token: string }[]): Promise<bigint[]> {
      if (pairs.length === 0) return [];
      const keys = pairs.map((p) => resKey(p.acceptor, p.token));
      const sums = (await commands.orderReserved!(keys.length + 1, RESAMT, ...keys)) as string[];
      return sums.map((s) => BigInt(s));
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
