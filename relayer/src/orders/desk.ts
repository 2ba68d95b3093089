/**
 * The acceptor desk: what an acceptor keeps off chain (rates per currency, limits and payment details per method,
 * auto-accept, the "take a break" switch, business hours), its heartbeat and online switch, and its outcome
 * statistics. Matching reads all of it from one in-memory snapshot at most {@link SNAPSHOT_MS} old, so a match costs
 * no Redis read per acceptor.
 *
 * Keys, under the write side's base W (= store.keyPrefix + "w:o:", the projection's hash slot):
 *   W acc:<acceptor>   hash  — `p` profile JSON, `hb` last heartbeat (unix ms), `online` "1" | "0"
 *   W accs             set   — acceptors with a profile
 *   W st:<acceptor>    hash  — assigned, completed, declined, timedOut counts
 *   W rt:<acceptor>    list  — the last {@link RESPONSE_TIMES_KEPT} response times (ms), newest first
 *   W cb:<acceptor>    zset  — its chargebacks: `<method>|<orderId>` → unix ms of the flag (the last 30 days)
 *   W blk:<acceptor>   set   — users whose order it flagged as charged back (no more buy orders of theirs)
 *   W deskseq          string — a counter, bumped by every desk write
 *   W deskchg          zset  — acceptor → the counter at its last change: a snapshot re-reads only the acceptors
 *                               changed since the previous one (and everything every {@link FULL_RELOAD_MS})
 */
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import type { RedisClient as Redis } from "../redis";
import { z } from "zod";
import { CHARGEBACK_WINDOW_MS, type CandidateStats } from "./matching";

// Before any schema is made: the API names the profile schema in the OpenAPI document (api/acceptor-profile.ts).
extendZodWithOpenApi(z);

/** How old the snapshot matching reads may be. */
export const SNAPSHOT_MS = 500;
/** How often a snapshot re-reads every acceptor, not only the changed ones. */
export const FULL_RELOAD_MS = 60_000;
/** Response times kept per acceptor for the median. */
export const RESPONSE_TIMES_KEPT = 50;

const DECIMAL_RATE = /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,18})?$/;
const BASE_UNITS = /^(0|[1-9][0-9]{0,28})$/;
const HH_MM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
/** A payment method's name: rail and currency, e.g. "SEPA:EUR". */
export const METHOD_NAME = /^[A-Z0-9_]{1,32}:[A-Z]{3}$/;
/** Printable characters and line breaks (payment details are often a few lines: name, IBAN, reference). */
const PRINTABLE = /^[^\p{Cc}\p{Cs}\p{Co}\p{Cn}]*$/u;
const PRINTABLE_OR_NEWLINE = (s: string) => PRINTABLE.test(s.replace(/\r?\n/g, ""));

const wellFormed = (m: { minAmount: string; maxAmount: string }) =>
  BASE_UNITS.test(m.minAmount) && BASE_UNITS.test(m.maxAmount);

const methodTermsSchema = z
  .object({
    minAmount: z.string().regex(BASE_UNITS, "a whole number of token base units"),
    maxAmount: z.string().regex(BASE_UNITS, "a whole number of token base units"),
    details: z
      .string()
      .max(500, "at most 500 characters")
      .refine(PRINTABLE_OR_NEWLINE, "printable characters and line breaks only"),
    maxChargebacks: z
      .number()
      .int("a whole number")
      .min(0, "at least 0")
      .max(1_000_000, "at most 1000000")
      .optional()
      .openapi({
        description:
          "Once the acceptor's chargebacks on this method in the last 30 days reach this, its buy orders go elsewhere",
      }),
  })
  .strict()
  // Refinements run even after a member failed its pattern: each checks the pattern again before BigInt.
  .refine((m) => !wellFormed(m) || BigInt(m.minAmount) <= BigInt(m.maxAmount), {
    message: "minAmount must not exceed maxAmount",
    path: ["minAmount"],
  })
  .refine((m) => !wellFormed(m) || BigInt(m.maxAmount) > 0n, {
    message: "maxAmount must be above 0",
    path: ["maxAmount"],
  });

const hoursSchema = z
  .object({
    days: z
      .array(z.number().int().min(1).max(7))
      .min(1)
      .max(7)
      .refine((d) => new Set(d).size === d.length, "days must not repeat"),
    from: z.string().regex(HH_MM, "HH:MM (UTC)"),
    to: z.string().regex(HH_MM, "HH:MM (UTC)"),
  })
  .strict()
  .refine((w) => w.from !== w.to, { message: "from and to must differ", path: ["to"] });

/** An acceptor's off-chain profile, as PUT /v1/acceptor/profile takes it. */
export const acceptorProfileSchema = z
  .object({
    rates: z
      .record(
        z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 currency code"),
        z
          .string()
          .regex(DECIMAL_RATE, "a decimal number (fiat per whole token), at most 18 decimals")
          .refine((r) => /[1-9]/.test(r), "a rate must be above 0"),
      )
      .refine((r) => Object.keys(r).length <= 64, "at most 64 currencies"),
    methods: z
      .record(z.string().regex(METHOD_NAME, 'a method name like "SEPA:EUR"'), methodTermsSchema)
      .refine((m) => Object.keys(m).length <= 64, "at most 64 methods"),
    autoAccept: z.boolean(),
    paused: z.boolean(),
    hours: z.array(hoursSchema).min(1).max(28).optional(),
  })
  .strict();

export type AcceptorProfile = {
  rates: Record<string, string>;
  methods: Record<string, { minAmount: string; maxAmount: string; details: string; maxChargebacks?: number }>;
  autoAccept: boolean;
  paused: boolean;
  hours?: { days: number[]; from: string; to: string }[];
};

/** One acceptor as the snapshot holds it. */
export type DeskEntry = {
  profile?: AcceptorProfile;
  lastHeartbeat?: number;
  online: boolean;
  stats: CandidateStats;
  /** Its chargebacks of the last {@link CHARGEBACK_WINDOW_MS} (older ones are trimmed at the next flag). */
  chargebacks: { method: string; at: number }[];
  /** Users it flagged a chargeback of. */
  blockedUsers: ReadonlySet<string>;
};

export type DeskSnapshot = { at: number; entries: ReadonlyMap<string, DeskEntry> };

export type DeskOutcome = "assigned" | "completed" | "declined" | "timedOut";

export type Desk = ReturnType<typeof createDesk>;

/** The median of `values` (undefined when empty). */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const count = (v: string | undefined) => (v === undefined ? 0 : Number(v));

function statsOf(st: Record<string, string>, rt: string[]): CandidateStats {
  return {
    assigned: count(st.assigned),
    completed: count(st.completed),
    declined: count(st.declined),
    timedOut: count(st.timedOut),
    medianResponseMs: median(rt.map(Number)),
  };
}

/** Chargebacks from the `cb:` sorted set's members (`<method>|<orderId>`) and scores (unix ms). */
function chargebacksOf(withScores: string[]): { method: string; at: number }[] {
  const out: { method: string; at: number }[] = [];
  for (let i = 0; i + 1 < withScores.length; i += 2) {
    out.push({ method: withScores[i].split("|")[0], at: Number(withScores[i + 1]) });
  }
  return out;
}

/** Per method, how many of `chargebacks` fall within the 30 days before `now` (the desk's stats). */
export function chargebacks30d(chargebacks: { method: string; at: number }[], now: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of chargebacks) if (c.at > now - CHARGEBACK_WINDOW_MS) out[c.method] = (out[c.method] ?? 0) + 1;
  return out;
}

function entryOf(
  acc: Record<string, string>,
  st: Record<string, string>,
  rt: string[],
  cb: string[] = [],
  blk: string[] = [],
): DeskEntry {
  return {
    profile: acc.p === undefined ? undefined : (JSON.parse(acc.p) as AcceptorProfile),
    lastHeartbeat: acc.hb === undefined ? undefined : Number(acc.hb),
    online: acc.online !== "0",
    stats: statsOf(st, rt),
    chargebacks: chargebacksOf(cb),
    blockedUsers: new Set(blk),
  };
}

/**
 * Marks an acceptor changed: bumps the counter and records it, atomically, so changes appear in counter order.
 * KEYS: 1 deskseq, 2 deskchg. ARGV: 1 acceptor.
 */
const TOUCH_SCRIPT = `
local v = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], v, ARGV[1])
return v
`;

export function createDesk(deps: { redis: Redis; base: string; now?: () => number }) {
  const { redis, base } = deps;
  const now = deps.now ?? Date.now;
  const accKey = (a: string) => `${base}acc:${a.toLowerCase()}`;
  const stKey = (a: string) => `${base}st:${a.toLowerCase()}`;
  const rtKey = (a: string) => `${base}rt:${a.toLowerCase()}`;
  const cbKey = (a: string) => `${base}cb:${a.toLowerCase()}`;
  const blkKey = (a: string) => `${base}blk:${a.toLowerCase()}`;
  const ACCS = `${base}accs`;
  const SEQ = `${base}deskseq`;
  const CHG = `${base}deskchg`;
  const touch = (acceptor: string) => redis.eval(TOUCH_SCRIPT, 2, SEQ, CHG, acceptor.toLowerCase());

  let cached: DeskSnapshot | undefined;
  let loading: Promise<DeskSnapshot> | undefined;
  /** The counter the cached snapshot has read up to, and when it last read everything. */
  let seen = 0;
  let fullAt = -Infinity;
  /** Set by this instance's own writes: its next snapshot reads the changes at once. */
  let dirty = false;

  async function entriesOf(acceptors: string[]): Promise<Map<string, DeskEntry>> {
    const entries = new Map<string, DeskEntry>();
    if (acceptors.length === 0) return entries;
    const pipeline = redis.pipeline();
    for (const a of acceptors) {
      pipeline
        .hgetall(accKey(a))
        .hgetall(stKey(a))
        .lrange(rtKey(a), 0, -1)
        .zrange(cbKey(a), 0, -1, "WITHSCORES")
        .smembers(blkKey(a));
    }
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    acceptors.forEach((a, i) => {
      const [acc, st, rt, cb, blk] = [0, 1, 2, 3, 4].map((k) => results[5 * i + k][1]);
      const record = acc as Record<string, string>;
      if (record.p !== undefined) {
        entries.set(a, entryOf(record, st as Record<string, string>, rt as string[], cb as string[], blk as string[]));
      }
    });
    return entries;
  }

  async function load(): Promise<DeskSnapshot> {
    const started = now();
    if (cached === undefined || started - fullAt >= FULL_RELOAD_MS) {
      // The counter first: whatever changes while the rest is read is read again next time.
      const seq = Number((await redis.get(SEQ)) ?? 0);
      const entries = await entriesOf(await redis.smembers(ACCS));
      seen = seq;
      fullAt = started;
      return { at: started, entries };
    }
    const changed = await redis.zrangebyscore(CHG, `(${seen}`, "+inf", "WITHSCORES");
    if (changed.length === 0) return { at: started, entries: cached.entries };
    const acceptors: string[] = [];
    let upTo = seen;
    for (let i = 0; i < changed.length; i += 2) {
      acceptors.push(changed[i]);
      upTo = Math.max(upTo, Number(changed[i + 1]));
    }
    const fresh = await entriesOf(acceptors);
    const entries = new Map(cached.entries);
    for (const [a, e] of fresh) entries.set(a, e);
    seen = upTo;
    return { at: started, entries };
  }

  function refresh(): Promise<DeskSnapshot> {
    loading ??= load()
      .then((snap) => {
        cached = snap;
        return snap;
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  }

  return {
    /** The acceptor's profile, heartbeat and online switch (online by default: the switch is for going offline). */
    async getProfile(acceptor: string): Promise<DeskEntry> {
      const [acc, st, rt, cb, blk] = await Promise.all([
        redis.hgetall(accKey(acceptor)),
        redis.hgetall(stKey(acceptor)),
        redis.lrange(rtKey(acceptor), 0, -1),
        redis.zrange(cbKey(acceptor), 0, -1, "WITHSCORES"),
        redis.smembers(blkKey(acceptor)),
      ]);
      return entryOf(acc, st, rt, cb, blk);
    },

    /**
     * Records a chargeback the acceptor flagged (idempotent per order): it counts against `method`'s
     * `maxChargebacks` for 30 days, and `user` is blocked from the acceptor's buy orders. Chargebacks older than
     * the window are trimmed.
     */
    async recordChargeback(
      acceptor: string,
      c: { method: string; orderId: string; user: string; at: number },
    ): Promise<void> {
      await redis
        .multi()
        .zadd(cbKey(acceptor), "NX", c.at, `${c.method}|${c.orderId}`)
        .zremrangebyscore(cbKey(acceptor), "-inf", now() - CHARGEBACK_WINDOW_MS)
        .sadd(blkKey(acceptor), c.user.toLowerCase())
        .exec();
      await touch(acceptor);
      dirty = true;
    },

    /** Stores a profile (validate it with {@link acceptorProfileSchema} first). */
    async setProfile(acceptor: string, profile: AcceptorProfile): Promise<void> {
      await redis
        .multi()
        .hset(accKey(acceptor), "p", JSON.stringify(profile))
        .sadd(ACCS, acceptor.toLowerCase())
        .exec();
      await touch(acceptor);
      dirty = true;
    },

    /** Records a heartbeat now; `online` sets the switch (left as it was when undefined; online at first). */
    async heartbeat(acceptor: string, online?: boolean): Promise<{ lastHeartbeat: number; online: boolean }> {
      const at = now();
      const fields: Record<string, string> = { hb: String(at) };
      if (online !== undefined) fields.online = online ? "1" : "0";
      const replies = await redis.multi().hset(accKey(acceptor), fields).hget(accKey(acceptor), "online").exec();
      const current = replies?.[1]?.[1] as string | null | undefined;
      await touch(acceptor);
      dirty = true;
      return { lastHeartbeat: at, online: current !== "0" };
    },

    /** Counts an outcome; `responseMs` (how long the acceptor took to answer) joins the median's window. */
    async recordOutcome(acceptor: string, outcome: DeskOutcome, responseMs?: number): Promise<void> {
      const tx = redis.multi().hincrby(stKey(acceptor), outcome, 1);
      if (responseMs !== undefined) {
        tx.lpush(rtKey(acceptor), String(Math.max(0, Math.round(responseMs)))).ltrim(
          rtKey(acceptor),
          0,
          RESPONSE_TIMES_KEPT - 1,
        );
      }
      await tx.exec();
      await touch(acceptor);
    },

    /**
     * Every acceptor with a profile, its heartbeat, switch and stats, at most {@link SNAPSHOT_MS} old. Past half that
     * age the next snapshot is read in the background while callers still get the current one.
     */
    async snapshot(): Promise<DeskSnapshot> {
      if (dirty) {
        dirty = false;
        // A read already under way may have missed the write: let it end, then read again.
        if (loading) await loading.catch(() => undefined);
        return refresh();
      }
      const age = cached === undefined ? Infinity : now() - cached.at;
      if (cached !== undefined && age < SNAPSHOT_MS) {
        if (age >= SNAPSHOT_MS / 2) refresh().catch(() => undefined);
        return cached;
      }
      return refresh();
    },
  };
}
