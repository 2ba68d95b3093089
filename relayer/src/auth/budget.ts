/**
 * The daily gas budget of each API key: the relayer's operator pays the gas of what keys submit, and caps it per key
 * and UTC day. The submitter reserves a transaction's gas estimate before sending it and settles with the gas used
 * once mined (refunding the difference). Each operation is one Lua script on one Redis key per API key
 * (`<base>gas:<keyId>`, a hash UTC day number → gas used), which expires two days after its last change.
 *
 * A reservation settled after midnight is settled against the new day (the refund cannot make a day's use negative).
 * Gas amounts are exact up to 2^53 - 1 (Lua numbers).
 */
import type { RedisClient as Redis } from "../redis";
import { REDIS_TIMEOUT_MS, withDeadline } from "../deadline";

const DAY = 86_400;
const MAX_GAS = BigInt(Number.MAX_SAFE_INTEGER);
const TTL_SECONDS = 2 * DAY;

/**
 * KEYS: 1 the key's hash. ARGV: 1 op (reserve | settle | remaining), 2 day, 3 amount (reserve: gas; settle: used -
 * reserved), 4 daily budget, 5 ttl (s). Returns {ok (1/0), remaining after the op}.
 */
const BUDGET_SCRIPT = `
local day = ARGV[2]
local used = tonumber(redis.call('HGET', KEYS[1], day) or '0')
local daily = tonumber(ARGV[4])
local amount = tonumber(ARGV[3])
if ARGV[1] == 'remaining' then return {1, tostring(math.max(0, daily - used))} end
if ARGV[1] == 'reserve' and used + amount > daily then return {0, tostring(math.max(0, daily - used))} end
used = math.max(0, used + amount)
redis.call('HSET', KEYS[1], day, string.format('%.0f', used))
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(field) < tonumber(day) - 1 then redis.call('HDEL', KEYS[1], field) end
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, string.format('%.0f', math.max(0, daily - used))}`;

export type GasBudget = {
  /** Takes `gas` from the key's budget of today; refused (nothing taken) when it would exceed it. */
  reserve(keyId: string, gas: bigint): Promise<{ ok: true } | { ok: false; remaining: bigint; resetsAt: number }>;
  /** Settles a reservation: gives back `reserved - used` (or takes more when used exceeds it). */
  settle(keyId: string, reserved: bigint, used: bigint): Promise<void>;
  /** What the key may still spend today. */
  remaining(keyId: string): Promise<bigint>;
};

const checkGas = (gas: bigint, what: string) => {
  if (typeof gas !== "bigint" || gas < 0n || gas > MAX_GAS) throw new RangeError(`${what} must be 0 to 2^53 - 1`);
};

export function createGasBudget(deps: {
  redis: Redis;
  base: string;
  dailyGas: bigint;
  timeoutMs?: number;
  /** The clock, unix seconds (tests move it). */
  now?: () => number;
}): GasBudget {
  const { redis, base, dailyGas } = deps;
  checkGas(dailyGas, "dailyGas");
  const timeoutMs = deps.timeoutMs ?? REDIS_TIMEOUT_MS;
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  const call = async (op: string, keyId: string, amount: bigint): Promise<[boolean, bigint, number]> => {
    if (typeof keyId !== "string" || keyId === "") throw new RangeError("a gas budget needs a key id");
    const day = Math.floor(now() / DAY);
    const [ok, remaining] = (await withDeadline(
      redis.eval(BUDGET_SCRIPT, 1, `${base}gas:${keyId}`, op, day, amount.toString(), dailyGas.toString(), TTL_SECONDS),
      timeoutMs,
      `gas budget ${op}`,
    )) as [number, string];
    return [ok === 1, BigInt(remaining), (day + 1) * DAY];
  };
  return {
    async reserve(keyId, gas) {
      checkGas(gas, "gas");
      const [ok, remaining, resetsAt] = await call("reserve", keyId, gas);
      return ok ? { ok: true } : { ok: false, remaining, resetsAt };
    },
    async settle(keyId, reserved, used) {
      checkGas(reserved, "reserved");
      checkGas(used, "used");
      await call("settle", keyId, used - reserved);
    },
    async remaining(keyId) {
      return (await call("remaining", keyId, 0n))[1];
    },
  };
}
