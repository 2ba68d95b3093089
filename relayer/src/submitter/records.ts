/**
 * The submitter's Redis state, every key under one `base` (which holds the hash tag, so each script stays in one
 * slot): a JSON record per submission, the index of queued ones, and per relayer address its next nonce, its slots
 * (one per nonce not yet final) and the worker lease. Every command runs under a deadline.
 */
import type { RedisClient as Redis } from "../redis";
import type { Slot, SubmissionRecord } from "./types";
import { withDeadline } from "../deadline";

/** Submission records are kept this long after they were created (views of old submissions expire). */
export const RECORD_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Records `slot` at `nonce`, moves the next nonce on, and stores the updated records of the submissions it carries,
 * in one step, only if (1) this process still holds the key's lease, (2) the next nonce is still `nonce`, and (3)
 * every record is still queued: a nonce is never allocated without the signed transaction that fills it, and a
 * submission leaves the queue once, even if a paused leader wakes up after its successor took over.
 * KEYS: nonce, slot, slots, queued, lease, ...records. ARGV: nonce, slot JSON, ttl, token, ...(id, record JSON, status).
 * Returns 1 (recorded), 0 (the nonce moved), -1 (not the lease holder), -2 (a record is no longer queued).
 */
const COMMIT_SLOT = `
if redis.call('GET', KEYS[5]) ~= ARGV[4] then return -1 end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for k = 6, #KEYS do
  local current = redis.call('GET', KEYS[k])
  if current == false or cjson.decode(current).status ~= 'queued' then return -2 end
end
redis.call('SET', KEYS[1], tostring(tonumber(ARGV[1]) + 1))
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], tonumber(ARGV[1]), ARGV[1])
local k = 6
for i = 5, #ARGV, 3 do
  redis.call('SET', KEYS[k], ARGV[i + 1], 'EX', tonumber(ARGV[3]))
  if ARGV[i + 2] == 'queued' then redis.call('ZADD', KEYS[4], 0, ARGV[i]) else redis.call('ZREM', KEYS[4], ARGV[i]) end
  k = k + 1
end
return 1
`;

/** Sets the lease to ARGV[1] for ARGV[2] ms if it is free or already ours. */
const TAKE_LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return 1
end
return 0
`;

/**
 * Runs writes only while this process holds the key's lease (the follower's and the sender's updates of slots and
 * records: a leader paused past its lease must not, once woken, overwrite what its successor wrote since).
 * KEYS: lease, ...keys. ARGV: token, writes JSON [[command, key index in KEYS, ...args], ...]. Returns 1, or -1 (not
 * the lease holder: nothing written).
 */
const FENCED_WRITES = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local writes = cjson.decode(ARGV[2])
for i = 1, #writes do
  local w = writes[i]
  local args = {}
  for j = 3, #w do args[#args + 1] = w[j] end
  redis.call(w[1], KEYS[w[2]], unpack(args))
end
return 1
`;

/** A write of the submitter's leader that another process took the lease from: nothing was written. */
export class SubmitterLeaseLost extends Error {
  constructor() {
    super("the submitter lease is held by another process: nothing written");
    this.name = "SubmitterLeaseLost";
  }
}

/** Deletes the lease if it is ours. */
const DROP_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export type SubmitterStore = ReturnType<typeof createSubmitterStore>;

export function createSubmitterStore({
  redis,
  base,
  address,
  timeoutMs,
  fence,
}: {
  redis: Redis;
  base: string;
  address: string;
  timeoutMs: number;
  /** The leader's lease token: when set, slot and record updates (put, putSlot, dropSlot) are fenced by it. */
  fence?: string;
}) {
  const who = address.toLowerCase();
  const k = {
    record: (id: string) => `${base}sub:rec:${id}`,
    queued: `${base}sub:queued`,
    merge: (key: string) => `${base}sub:merge:${key}`,
    nonce: `${base}sub:nonce:${who}`,
    slot: (nonce: number) => `${base}sub:slot:${who}:${nonce}`,
    slots: `${base}sub:slots:${who}`,
    lease: `${base}sub:lease:${who}`,
  };

  const timed = <T>(what: string, promise: Promise<T>): Promise<T> => withDeadline(promise, timeoutMs, what);

  /** Commands for `write`: fenced in one script when `fence` is set, else one MULTI. */
  type Write = [command: string, key: string, ...args: (string | number)[]];
  async function write(what: string, writes: Write[]): Promise<void> {
    if (fence === undefined) {
      const tx = redis.multi();
      for (const [command, key, ...args] of writes) tx.call(command, key, ...args);
      await timed(what, tx.exec());
      return;
    }
    const keys = [k.lease];
    const indexed = writes.map(([command, key, ...args]) => {
      keys.push(key);
      return [command, keys.length, ...args.map(String)];
    });
    const result = await timed(what, redis.eval(FENCED_WRITES, keys.length, ...keys, fence, JSON.stringify(indexed)));
    if (result !== 1) throw new SubmitterLeaseLost();
  }
  const recordWrites = (records: SubmissionRecord[]): Write[] =>
    records.flatMap((r): Write[] => [
      ["SET", k.record(r.id), JSON.stringify(r), "EX", RECORD_TTL_SECONDS],
      r.status === "queued" ? ["ZADD", k.queued, r.createdAt, r.id] : ["ZREM", k.queued, r.id],
    ]);

  const parse = <T>(json: string | null): T | undefined => (json === null ? undefined : (JSON.parse(json) as T));

  return {
    keys: k,

    /** Creates a record unless its id exists; returns the stored record either way. */
    async create(record: SubmissionRecord): Promise<{ created: boolean; record: SubmissionRecord }> {
      const result = await timed(
        "create",
        redis
          .multi()
          .set(k.record(record.id), JSON.stringify(record), "EX", RECORD_TTL_SECONDS, "NX")
          .get(k.record(record.id))
          .exec(),
      );
      const created = result?.[0]?.[1] === "OK";
      const stored = parse<SubmissionRecord>((result?.[1]?.[1] as string | null) ?? null);
      if (!stored) throw new Error(`submission ${record.id} could not be stored`);
      if (created) {
        const tx = redis.multi().zadd(k.queued, record.createdAt, record.id);
        if (record.merge)
          tx.sadd(k.merge(record.merge.key), record.id).expire(k.merge(record.merge.key), RECORD_TTL_SECONDS);
        await timed("queue index", tx.exec());
      }
      return { created, record: stored };
    },

    /** Ids of every submission created with one of the merge `keys` (whatever their status now). */
    async mergedIds(keys: string[]): Promise<string[]> {
      if (keys.length === 0) return [];
      return timed("merge index", redis.sunion(...keys.map(k.merge)));
    },

    async get(id: string): Promise<SubmissionRecord | undefined> {
      return parse(await timed("get", redis.get(k.record(id))));
    },

    async getMany(ids: string[]): Promise<(SubmissionRecord | undefined)[]> {
      if (ids.length === 0) return [];
      const values = await timed("mget", redis.mget(ids.map(k.record)));
      return values.map((v) => parse<SubmissionRecord>(v));
    },

    /** Stores records (and keeps the queued index in step with their status). */
    async put(records: SubmissionRecord[]): Promise<void> {
      if (records.length === 0) return;
      await write("put", recordWrites(records));
    },

    /** Ids of queued submissions created before `before` (unix ms), oldest first. */
    async queuedIds(before = Number.MAX_SAFE_INTEGER, limit = 10_000): Promise<string[]> {
      return timed("queued", redis.zrangebyscore(k.queued, "-inf", before, "LIMIT", 0, limit));
    },

    async nextNonce(): Promise<number | undefined> {
      const value = await timed("nonce", redis.get(k.nonce));
      return value === null ? undefined : Number(value);
    },

    async setNextNonce(nonce: number): Promise<void> {
      await timed("set nonce", redis.set(k.nonce, String(nonce)));
    },

    /** See COMMIT_SLOT: "recorded", or why not. */
    async commitSlot(
      slot: Slot,
      records: SubmissionRecord[],
      token: string,
    ): Promise<"recorded" | "nonce-moved" | "not-leader" | "not-queued"> {
      const keys = [k.nonce, k.slot(slot.nonce), k.slots, k.queued, k.lease, ...records.map((r) => k.record(r.id))];
      const args = [String(slot.nonce), JSON.stringify(slot), String(RECORD_TTL_SECONDS), token];
      for (const r of records) args.push(r.id, JSON.stringify(r), r.status);
      const result = await timed("commit slot", redis.eval(COMMIT_SLOT, keys.length, ...keys, ...args));
      return result === 1 ? "recorded" : result === 0 ? "nonce-moved" : result === -1 ? "not-leader" : "not-queued";
    },

    /** Stores a slot and the records it carries together (a bump, a receipt, a status change). */
    async putSlot(slot: Slot, records: SubmissionRecord[]): Promise<void> {
      await write("put slot", [["SET", k.slot(slot.nonce), JSON.stringify(slot)], ...recordWrites(records)]);
    },

    /** Forgets a final (or abandoned) slot and stores the records it carried. */
    async dropSlot(nonce: number, records: SubmissionRecord[]): Promise<void> {
      await write("drop slot", [["DEL", k.slot(nonce)], ["ZREM", k.slots, String(nonce)], ...recordWrites(records)]);
    },

    /** Slots not yet final, by nonce. */
    async slots(): Promise<Slot[]> {
      const nonces = await timed("slots", redis.zrange(k.slots, 0, -1));
      if (nonces.length === 0) return [];
      const values = await timed("slot values", redis.mget(nonces.map((n) => k.slot(Number(n)))));
      return values.flatMap((v) => {
        const slot = parse<Slot>(v);
        return slot ? [slot] : [];
      });
    },

    async takeLease(token: string, ms: number): Promise<boolean> {
      return (await timed("lease", redis.eval(TAKE_LEASE, 1, k.lease, token, String(ms)))) === 1;
    },

    async dropLease(token: string): Promise<void> {
      await timed("drop lease", redis.eval(DROP_LEASE, 1, k.lease, token));
    },
  };
}
