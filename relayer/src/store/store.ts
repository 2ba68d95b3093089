/**
 * The Redis adapter: the projection's keys, atomic commits and rollbacks (Lua, fenced by the indexer lease), the
 * lease itself, and the reads the API serves.
 *
 * Every key is `<prefix>:{<chainId>:<first 8 hex digits of the escrow>}:<name>`: the hash tag keeps one escrow's
 * keys in one Redis Cluster slot, and several chains or escrows share one Redis. The tag is short because it is
 * repeated in every key (two per deal); {@link Store.claim} records the full escrow address in `meta` and refuses
 * to start when another escrow with the same tag already owns the keys.
 *
 * Deal hashes are stored with short field names ({@link DEAL_FIELDS}); the store translates on every write and
 * read, so the projection and the API see the logical names.
 */
import { createHash } from "node:crypto";
import { scanAll, type RedisClient as Redis } from "../redis";
import type { Common } from "../common";
import { NamespaceTaken } from "../errors";
import {
  applyEvent,
  decodeHistory,
  keysRead,
  keysReadAfterDeal,
  type Hash,
  type HistoryEntry,
  type ProjectionView,
} from "../domain/projection";
import type { ProtocolEvent } from "../../../protocol";
import { COMMIT_SCRIPT, LEASE_SCRIPT, RELEASE_SCRIPT, ROLLBACK_SCRIPT } from "./scripts";
import { READ_DEALS_BY_ID_SCRIPT, READ_DEALS_SCRIPT } from "./reads";

/** The indexer's progress as stored. */
export type Meta = {
  /** Last block applied, or undefined before the first commit. */
  block?: number;
  hash?: string;
  /** Latest head seen by the leader. */
  head?: number;
  /** Timestamp (unix seconds) of the latest block whose header the leader read. */
  time?: number;
  /** True once the backfill reached the finalized block. */
  backfilled: boolean;
  reorgs: number;
  seq: number;
  /** `<chainId>:<escrow>` once {@link Store.claim} recorded who owns the keys (gone after a FLUSHALL or a rebuild). */
  owner?: string;
  /**
   * True once a backfill reached the finalized block since the projection was created. Unlike `backfilled` it stays
   * set while a restarted indexer catches up: the data is stale then, not missing.
   */
  built: boolean;
  /** Why the indexer halted (a reorg deeper than the confirmations kept): the data may be wrong until a rebuild. */
  halted?: string;
  /** Set (to when it began, ISO 8601) while an operator's rebuild is deleting and re-indexing the projection. */
  rebuilding?: string;
};

/** What the readiness check and the data-route guard read in one round trip: progress and the leader's heartbeat. */
export type ProjectionState = {
  meta: Meta;
  /** The head the leader saw at its last step, while its heartbeat is fresh; undefined when it is stale or absent. */
  leaderHead?: number;
};

/** What one commit writes. */
export type CommitInput = {
  leaseValue: string;
  /** The checkpoint block this commit continues from (undefined for the first). */
  expectBlock?: number;
  toBlock: number;
  toHash: string;
  events: ProtocolEvent[];
  /** Keep an undo log and the announcements for this (single, unfinalized) block. */
  undoable: boolean;
  /** Block hashes to remember for reorg detection. */
  blockHashes: [number, string][];
  /** Blocks that became final: their undo logs and hashes are dropped. */
  pruneBlocks: number[];
};

export type CommitResult = "OK" | "LEASE" | "STALE";
export type RollbackResult = { retracted: number } | "LEASE" | "STALE" | "DEEP";

export type Store = ReturnType<typeof createStore>;

/**
 * Takes the lease unconditionally with the next fencing token. KEYS: 1 lease, 2 lease sequence. ARGV: 1 holder,
 * 2 ttl ms.
 */
const SEIZE_SCRIPT = `
local token = redis.call('INCR', KEYS[2])
local value = token .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
`;

/** Records a halt if the lease is still ours. KEYS: 1 meta, 2 lease. ARGV: 1 lease value, 2 reason. */
const HALT_SCRIPT = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'halted', ARGV[2])
return 1
`;

/**
 * Leaves meta with its owner and the rebuild mark only, if the lease is still ours. KEYS: 1 meta, 2 lease.
 * ARGV: 1 lease value, 2 the rebuild mark.
 */
const RESET_META_SCRIPT = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'LEASE' end
local owner = redis.call('HGET', KEYS[1], 'owner')
redis.call('DEL', KEYS[1])
if owner then redis.call('HSET', KEYS[1], 'owner', owner) end
redis.call('HSET', KEYS[1], 'rebuilding', ARGV[2])
return 'OK'
`;

/**
 * Records progress, unless meta holds no checkpoint (the projection was flushed or reset under a running indexer,
 * whose late write must not mark an empty projection as built). A completed backfill marks the projection built
 * and ends a rebuild. KEYS: 1 meta. ARGV: 1 head, 2 backfilled "1"|"0", 3 time or "".
 */
const PROGRESS_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], 'block') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'head', ARGV[1], 'backfilled', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'time', ARGV[3]) end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'built', '1')
  redis.call('HDEL', KEYS[1], 'rebuilding')
end
return 1
`;

/** Keys per SCAN step and per DEL when clearing. */
const SCAN_COUNT = 1000;

/** Logical deal field → stored field name. Stored names are short: they are repeated in every deal's hash. */
export const DEAL_FIELDS: Readonly<Record<string, string>> = {
  status: "s",
  kind: "k",
  payer: "pr",
  payee: "pe",
  gateway: "g",
  token: "t",
  amount: "a",
  deadline: "dl",
  releaseWindow: "rw",
  feeBps: "fb",
  autoRelease: "ar",
  salt: "sa",
  ref: "rf",
  payerReleased: "rl",
  openedBlock: "ob",
  performedBlock: "pb",
  updatedBlock: "ub",
  updatedLog: "ul",
  payeeAmount: "pa",
  fee: "f",
  refund: "rd",
  refundReason: "rr",
  disputedBy: "db",
  resolvedBy: "rb",
  gatewayHolds: "gh",
  disputedAt: "da",
  reasons: "rs",
  lockedBy: "lb",
};
const DEAL_FIELDS_BY_STORED = new Map(Object.entries(DEAL_FIELDS).map(([name, stored]) => [stored, name]));

/** Deal fields holding an address: stored without its `0x`. */
const DEAL_ADDRESS_FIELDS = new Set(["payer", "payee", "gateway", "token", "disputedBy", "resolvedBy", "lockedBy"]);

/** Converts a deal hash from logical to stored form (`toStored`) or back: field names and addresses' `0x`. */
function renameDealFields(hash: Hash, toStored: boolean): Hash {
  const out: Hash = {};
  for (const [field, value] of Object.entries(hash)) {
    const renamed = toStored ? DEAL_FIELDS[field] : DEAL_FIELDS_BY_STORED.get(field);
    if (renamed === undefined) throw new Error(`deal field ${field} has no ${toStored ? "stored" : "logical"} name`);
    const logical = toStored ? field : renamed;
    if (!DEAL_ADDRESS_FIELDS.has(logical)) out[renamed] = value;
    else if (!toStored) out[renamed] = `0x${value}`;
    else if (value.startsWith("0x")) out[renamed] = value.slice(2);
    else throw new Error(`deal field ${field} is not a 0x address: ${value}`);
  }
  return out;
}

/** A stored deal hash as HGETALL's flat reply ([field, value, ...]) in logical form: one pass, no intermediate. */
function logicalDealOf(flat: string[]): Hash {
  const out: Hash = {};
  for (let i = 0; i < flat.length; i += 2) {
    const name = DEAL_FIELDS_BY_STORED.get(flat[i]);
    if (name === undefined) throw new Error(`deal field ${flat[i]} has no logical name`);
    out[name] = DEAL_ADDRESS_FIELDS.has(name) ? `0x${flat[i + 1]}` : flat[i + 1];
  }
  return out;
}

const hashOf = (flat: string[]): Hash => {
  const out: Hash = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
};

/** A page of deals as the store reads it: each deal with its index score, and what the page's views need. */
export type DealPage = {
  deals: { id: string; score: number; deal: Hash; history: HistoryEntry[] }[];
  /** The gateways of the disputed deals of the page (who may rule depends on their standing). */
  gateways: Map<string, Hash | undefined>;
  /** Where the next page starts (inclusive), or undefined when the index is exhausted. */
  next?: { score: number; id: string };
};

/** Filters of {@link Store.readDealPage}. */
export type DealPageQuery = {
  index: string;
  limit: number;
  /** Start strictly after this position (score, id), as listDealIds. */
  after?: { score: number; id: string };
  /** Most index entries read (the page may be shorter when filters drop deals). */
  budget: number;
  status?: string;
  /** Disputes past their ruling deadline only, judged at `now` with the escrow's resolution window. */
  overdue?: { now: number; resolutionWindow: number };
};

const isDealKey = (name: string) => name.startsWith("deal:");

const READ_DEALS_SHA = createHash("sha1").update(READ_DEALS_SCRIPT).digest("hex");
const READ_DEALS_BY_ID_SHA = createHash("sha1").update(READ_DEALS_BY_ID_SCRIPT).digest("hex");

/** A page script's JSON reply: deals and gateways (an empty Lua table comes as {}), and where the next page starts. */
function parsePage(reply: string): DealPage {
  const list = <T>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);
  const [rawDeals, rawGateways, next] = JSON.parse(reply) as [unknown, unknown, [string, string] | false | undefined];
  const deals = list<[string, string, unknown, unknown]>(rawDeals).map(([id, score, flat, hist]) => {
    const deal = logicalDealOf(list<string>(flat));
    return { id, score: Number(score), deal, history: list<string>(hist).map((h) => decodeHistory(h, deal)) };
  });
  const gateways = new Map<string, Hash | undefined>(
    list<[string, unknown]>(rawGateways).map(([address, flat]) => {
      const fields = list<string>(flat);
      return [address, fields.length === 0 ? undefined : hashOf(fields)];
    }),
  );
  return { deals, gateways, next: next ? { id: next[0], score: Number(next[1]) } : undefined };
}

/** An event as the stream announces it: its protocol type, subject, position and, when known, its block's time. */
export type Announcement = {
  type: string;
  block: number;
  blockHash: string;
  txHash: string;
  logIndex: number;
  timestamp?: number;
  dealId?: string;
  acceptor?: string;
  gateway?: string;
  account?: string;
  token?: string;
};

/** The fields naming what an event is about, as announced (every one the event has). */
const SUBJECT_FIELDS = ["dealId", "acceptor", "gateway", "account", "token"] as const;

/**
 * Stored names of an announcement's fields: one letter each, since every stream entry repeats them (the retained
 * stream counts in the bytes a deal costs).
 */
const ANNOUNCEMENT_KEYS: Readonly<Record<keyof Announcement, string>> = {
  type: "t",
  block: "b",
  blockHash: "h",
  txHash: "x",
  logIndex: "l",
  timestamp: "s",
  dealId: "d",
  acceptor: "a",
  gateway: "g",
  account: "c",
  token: "k",
};
const ANNOUNCEMENT_NAMES = new Map(Object.entries(ANNOUNCEMENT_KEYS).map(([name, key]) => [key, name]));

/**
 * The announcement of an event in the event stream (and of its finalization and retraction), as stored (JSON with
 * one-letter keys; {@link decodeAnnouncement} reads it). relayer/src/events/stream.ts turns it into the public event.
 */
export function announcementOf(event: ProtocolEvent): string {
  const fields = event as unknown as Partial<Record<keyof Announcement, string | number>>;
  const out: Record<string, string | number> = {};
  for (const name of ["type", ...SUBJECT_FIELDS, "block", "blockHash", "txHash", "logIndex", "timestamp"] as const) {
    const value = fields[name];
    if (value !== undefined && (name !== "timestamp" || typeof value === "number"))
      out[ANNOUNCEMENT_KEYS[name]] = value;
  }
  return JSON.stringify(out);
}

/** An announcement as {@link announcementOf} stored it, with its fields' full names; throws on malformed JSON. */
export function decodeAnnouncement(stored: string): Announcement {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(JSON.parse(stored) as Record<string, unknown>)) {
    const name = ANNOUNCEMENT_NAMES.get(key);
    if (name !== undefined) out[name] = value;
  }
  return out as Announcement;
}

/**
 * A view over prefetched hashes that records writes, combined per key: one HSET of every field a commit sets in a
 * hash (last value wins), one RPUSH of every value appended to a list, one ZADD and one ZREM per sorted set and one
 * SADD and one SREM per set, with each member's last state only. Writes to different keys commute and each key's
 * writes are reduced to their net effect, so the commit leaves the same state as the writes one by one — in a
 * fraction of the commands when a batch touches the same deals and indices again and again.
 */
class BufferedView implements ProjectionView {
  readonly touched = new Set<string>();
  private readonly hashWrites = new Map<string, Map<string, string>>();
  private readonly listWrites = new Map<string, string[]>();
  /** Sorted-set members: their last score, or null when removed. */
  private readonly zsetWrites = new Map<string, Map<string, string | null>>();
  /** Set members: whether present after the writes. */
  private readonly setWrites = new Map<string, Map<string, boolean>>();
  constructor(
    private readonly hashes: Map<string, Hash | undefined>,
    private readonly k: (name: string) => string,
  ) {}
  getHash(key: string): Hash | undefined {
    if (!this.hashes.has(key)) throw new Error(`projection read ${key} without prefetching it`);
    return this.hashes.get(key);
  }
  setFields(key: string, fields: Hash): void {
    const current = this.getHash(key);
    this.hashes.set(key, { ...(current ?? {}), ...fields });
    const stored = isDealKey(key) ? renameDealFields(fields, true) : fields;
    const entries = Object.entries(stored);
    if (entries.length === 0) return;
    const pending = this.entry(this.hashWrites, key, () => new Map<string, string>());
    for (const [field, value] of entries) pending.set(field, value);
  }
  pushList(key: string, value: string): void {
    this.entry(this.listWrites, key, () => []).push(value);
  }
  zadd(key: string, score: number, member: string): void {
    this.entry(this.zsetWrites, key, () => new Map<string, string | null>()).set(member, String(score));
  }
  zrem(key: string, member: string): void {
    this.entry(this.zsetWrites, key, () => new Map<string, string | null>()).set(member, null);
  }
  sadd(key: string, member: string): void {
    this.entry(this.setWrites, key, () => new Map<string, boolean>()).set(member, true);
  }
  srem(key: string, member: string): void {
    this.entry(this.setWrites, key, () => new Map<string, boolean>()).set(member, false);
  }

  /**
   * The operations for the commit script: ["hset", key, [field, value, ...]], ["rpush", key, [value, ...]],
   * ["zadd", key, [score, member, ...]], ["zrem", key, [member, ...]], ["sadd", key, [member, ...]] and
   * ["srem", key, [member, ...]].
   */
  ops(): [string, string, string[]][] {
    const out: [string, string, string[]][] = [];
    for (const [key, fields] of this.hashWrites) out.push(["hset", key, [...fields].flat()]);
    for (const [key, values] of this.listWrites) out.push(["rpush", key, values]);
    for (const [key, members] of this.zsetWrites) {
      const add: string[] = [];
      const rem: string[] = [];
      for (const [member, score] of members) {
        if (score === null) rem.push(member);
        else add.push(score, member);
      }
      if (rem.length > 0) out.push(["zrem", key, rem]);
      if (add.length > 0) out.push(["zadd", key, add]);
    }
    for (const [key, members] of this.setWrites) {
      const add: string[] = [];
      const rem: string[] = [];
      for (const [member, present] of members) (present ? add : rem).push(member);
      if (rem.length > 0) out.push(["srem", key, rem]);
      if (add.length > 0) out.push(["sadd", key, add]);
    }
    return out;
  }

  private entry<V>(writes: Map<string, V>, name: string, create: () => V): V {
    const key = this.k(name);
    let pending = writes.get(key);
    if (pending === undefined) {
      pending = create();
      writes.set(key, pending);
      this.touched.add(key);
    }
    return pending;
  }
}

export function createStore({
  common,
  redis,
  chainId,
  escrow,
}: {
  common: Pick<Common, "options" | "logger">;
  redis: Redis;
  chainId: number;
  escrow: string;
}) {
  const base = `${common.options.redisPrefix}:{${chainId}:${escrow.toLowerCase().slice(2, 10)}}:`;
  const k = (name: string) => base + name;
  const META = k("meta");
  const LEASE = k("lease");
  const LEASE_SEQ = k("lease:seq");
  const BLOCKS = k("blocks");
  const EVENTS = k("events");
  const HEARTBEAT = k("hb");
  // A key of the projection's slot: a script that builds its key names from the base still names one key, so a
  // Redis Cluster sends it to the master holding the `{chainId:escrow8}` tag (with no key it goes to any node).
  const DEALS_ROUTE = k("meta");

  const evalScript = (script: string, keys: string[], args: (string | number)[]) =>
    redis.eval(script, keys.length, ...keys, ...args) as Promise<unknown>;

  /** Every key of this chain and escrow (SCAN, so Redis is never blocked). */
  async function scanKeys(): Promise<string[]> {
    const pattern = `${base.replace(/[{}[\]*?]/g, "\\$&")}*`;
    // On a cluster the tag lives on one master, but SCAN walks one node: every master is asked.
    return scanAll(redis, pattern, SCAN_COUNT);
  }

  async function fetchHashes(names: string[], into: Map<string, Hash | undefined>): Promise<void> {
    const missing = [...new Set(names)].filter((n) => !into.has(n));
    if (missing.length === 0) return;
    const pipeline = redis.pipeline();
    for (const n of missing) pipeline.hgetall(k(n));
    const results = (await pipeline.exec()) ?? [];
    missing.forEach((n, i) => {
      const [error, value] = results[i];
      if (error) throw error;
      const hash = value as Hash;
      if (Object.keys(hash).length === 0) into.set(n, undefined);
      else into.set(n, isDealKey(n) ? renameDealFields(hash, false) : hash);
    });
  }

  async function readMeta(): Promise<Meta> {
    const m = await redis.hgetall(META);
    return {
      block: m.block === undefined ? undefined : Number(m.block),
      hash: m.hash,
      head: m.head === undefined ? undefined : Number(m.head),
      time: m.time === undefined ? undefined : Number(m.time),
      backfilled: m.backfilled === "1",
      reorgs: Number(m.reorgs ?? 0),
      seq: Number(m.seq ?? 0),
      owner: m.owner,
      built: m.built === "1",
      halted: m.halted,
      rebuilding: m.rebuilding,
    };
  }

  /** Computes the operations of a batch of events over the current projection. */
  async function project(events: ProtocolEvent[]): Promise<BufferedView> {
    const hashes = new Map<string, Hash | undefined>();
    await fetchHashes(events.flatMap(keysRead), hashes);
    // Second round: settlement events also touch the deal's gateway and acceptor, known once the deal is read.
    const opened = new Map<string, Hash>();
    for (const e of events) {
      if (e.type === "DealOpened") opened.set(`deal:${e.dealId}`, { ...e.deal, amount: "" } as unknown as Hash);
    }
    const second = events.flatMap((e) =>
      "dealId" in e ? keysReadAfterDeal(e, opened.get(`deal:${e.dealId}`) ?? hashes.get(`deal:${e.dealId}`)) : [],
    );
    await fetchHashes(second, hashes);
    const view = new BufferedView(hashes, k);
    for (const event of events) applyEvent(view, event);
    return view;
  }

  return {
    /** The key of a logical name (for tests and tools). */
    key: k,
    keyPrefix: base,
    /** The chain and escrow (lower case) whose projection this is. */
    chainId,
    escrow: escrow.toLowerCase(),

    /**
     * Records that these keys belong to this chain and escrow, or throws when they belong to another escrow
     * whose address shares the key tag.
     */
    async claim(): Promise<void> {
      const owner = `${chainId}:${escrow.toLowerCase()}`;
      await redis.hsetnx(META, "owner", owner);
      const recorded = await redis.hget(META, "owner");
      if (recorded !== owner) {
        throw new NamespaceTaken(`Redis keys ${base}* belong to ${recorded}, not ${owner}; set another REDIS_PREFIX`);
      }
    },

    getMeta: readMeta,

    /** The meta hash and the heartbeat, sent together (one round trip with auto-pipelining). */
    async projectionState(): Promise<ProjectionState> {
      const [meta, hb] = await Promise.all([readMeta(), redis.get(HEARTBEAT)]);
      const leaderHead = hb === null ? undefined : Number(hb);
      return { meta, leaderHead: Number.isSafeInteger(leaderHead) ? leaderHead : undefined };
    },

    /**
     * The leader's heartbeat: the head it just saw, kept by Redis for `ttlMs` (Redis expires it, so replicas on other
     * hosts judge its age without comparing clocks).
     */
    async heartbeat(head: number, ttlMs: number): Promise<void> {
      await redis.set(HEARTBEAT, String(head), "PX", ttlMs);
    },

    /**
     * Records that the indexer halted, so that every replica stops serving the projection as good — if the lease
     * `leaseValue` is still the indexer's. A halt judged under a lease since seized (an operator's rebuild deleting
     * the keys the judgement read) is not recorded: false.
     */
    async setHalted(reason: string, leaseValue: string): Promise<boolean> {
      return (await evalScript(HALT_SCRIPT, [META, LEASE], [leaseValue, reason])) === 1;
    },

    /**
     * Takes the indexer lease whoever holds it (a new fencing token, so the holder's next commit or renewal fails),
     * for an operator's rebuild. Returns the lease value.
     */
    async seizeLease(holder: string, ttlMs: number): Promise<string> {
      return (await evalScript(SEIZE_SCRIPT, [LEASE, LEASE_SEQ], [holder, ttlMs])) as string;
    },

    /**
     * Starts a rebuild under the lease `leaseValue`: marks meta `rebuilding` (the data routes answer 503 from then
     * on), deletes every projection key of this chain and escrow — not the lease, not the write side's `w:` keys
     * (submissions, which no event rebuilds) — and leaves meta holding only the owner and the mark. The indexer
     * backfills from the deployment block and clears the mark when it reaches the finalized block. Returns the
     * number of keys deleted, or "LEASE" when the lease was lost meanwhile.
     */
    async resetProjection(leaseValue: string): Promise<number | "LEASE"> {
      if ((await redis.get(LEASE)) !== leaseValue) return "LEASE";
      const began = new Date().toISOString();
      await redis.hset(META, "rebuilding", began);
      // The halt (and the checkpoint) go only with the atomic reset below: an indexer that saw its halt cleared while
      // the old checkpoint was still there would judge the chain against keys being deleted, and halt again.
      await redis.hdel(META, "built", "backfilled");
      const keep = new Set([META, LEASE, LEASE_SEQ]);
      const doomed = (await scanKeys()).filter((key) => !keep.has(key) && !key.startsWith(`${base}w:`));
      for (let i = 0; i < doomed.length; i += SCAN_COUNT) await redis.del(...doomed.slice(i, i + SCAN_COUNT));
      const result = await evalScript(RESET_META_SCRIPT, [META, LEASE], [leaseValue, began]);
      if (result !== "OK") return "LEASE";
      return doomed.length + 1;
    },

    /**
     * Records the head and backfill state (informational; read by the API for finality) and, when given, the
     * timestamp of the latest block read (the API judges dispute windows by it when the chain's clock is ahead).
     */
    async setProgress(head: number, backfilled: boolean, time?: number): Promise<void> {
      await evalScript(PROGRESS_SCRIPT, [META], [head, backfilled ? "1" : "0", time ?? ""]);
    },

    /** The stored hash of `block`, if it is within the remembered window. */
    async blockHash(block: number): Promise<string | undefined> {
      return (await redis.hget(BLOCKS, String(block))) ?? undefined;
    },

    /** Applies events and moves the checkpoint in one atomic, fenced step. */
    async commit(input: CommitInput): Promise<CommitResult> {
      const view = await project(input.events);
      const announcements = input.events.map(announcementOf);
      const result = await evalScript(
        COMMIT_SCRIPT,
        [META, LEASE, BLOCKS, EVENTS, ...view.touched],
        [
          input.leaseValue,
          input.expectBlock === undefined ? "" : String(input.expectBlock),
          String(input.toBlock),
          input.toHash,
          JSON.stringify(view.ops()),
          input.undoable ? k(`undo:${input.toBlock}`) : "",
          JSON.stringify(input.blockHashes.flatMap(([n, h]) => [String(n), h])),
          JSON.stringify(announcements),
          input.undoable ? k(`bev:${input.toBlock}`) : "",
          JSON.stringify(input.pruneBlocks.flatMap((b) => [k(`undo:${b}`), k(`bev:${b}`)])),
          JSON.stringify(input.pruneBlocks.map(String)),
        ],
      );
      return result as CommitResult;
    },

    /** Rolls back to `toBlock` (whose hash is `toHash`), retracting what the removed blocks announced. */
    async rollback(leaseValue: string, fromBlock: number, toBlock: number, toHash: string): Promise<RollbackResult> {
      const result = await evalScript(
        ROLLBACK_SCRIPT,
        [META, LEASE, BLOCKS, EVENTS],
        [leaseValue, String(fromBlock), String(toBlock), toHash, base],
      );
      if (typeof result === "number") return { retracted: result };
      return result as RollbackResult;
    },

    /** Takes the lease (`current` undefined) or renews it; returns the lease value, or undefined if lost. */
    async lease(holder: string, ttlMs: number, current?: string): Promise<string | undefined> {
      const value = await evalScript(LEASE_SCRIPT, [LEASE, LEASE_SEQ], [holder, ttlMs, current ?? ""]);
      return typeof value === "string" ? value : undefined;
    },

    async releaseLease(value: string): Promise<void> {
      await evalScript(RELEASE_SCRIPT, [LEASE], [value]);
    },

    async leaseHolder(): Promise<string | undefined> {
      return (await redis.get(LEASE)) ?? undefined;
    },

    /* ----------------------------------- reads ----------------------------------- */

    /**
     * A deal and its history: two commands sent together, one round trip. Plain commands rather than an explicit
     * pipeline, so that with `enableAutoPipelining` the reads of every request handled in the same event-loop turn
     * share one socket write (an explicit pipeline is written on its own).
     */
    async getDeal(dealId: string): Promise<{ deal: Hash; history: HistoryEntry[] } | undefined> {
      const [deal, hist] = await Promise.all([
        redis.hgetall(k(`deal:${dealId}`)),
        redis.lrange(k(`hist:${dealId}`), 0, -1),
      ]);
      if (Object.keys(deal).length === 0) return undefined;
      const logical = renameDealFields(deal, false);
      return { deal: logical, history: hist.map((h) => decodeHistory(h, logical)) };
    },

    /**
     * Deal ids from one index, newest first, strictly after the cursor position (score, id), at most `limit`.
     * Returns the ids and the position of the last one.
     */
    async listDealIds(
      index: string,
      limit: number,
      after?: { score: number; id: string },
    ): Promise<{ ids: string[]; last?: { score: number; id: string } }> {
      const max = after ? `(${after.score}` : "+inf";
      // Members with the cursor's own score that sort below its id come first, then lower scores.
      const ids: { id: string; score: number }[] = [];
      if (after) {
        const same = await redis.zrevrangebyscore(k(index), after.score, after.score);
        for (const id of same) if (id < after.id && ids.length < limit) ids.push({ id, score: after.score });
      }
      if (ids.length < limit) {
        const rest = await redis.zrevrangebyscore(k(index), max, "-inf", "WITHSCORES", "LIMIT", 0, limit - ids.length);
        for (let i = 0; i < rest.length; i += 2) ids.push({ id: rest[i], score: Number(rest[i + 1]) });
      }
      const last = ids.at(-1);
      return { ids: ids.map((x) => x.id), last: last ? { score: last.score, id: last.id } : undefined };
    },

    /**
     * A page of deals in one round trip (one script: index, hashes, histories, and the disputed deals' gateways),
     * filtered by status and overdue disputes in Redis, reading at most `budget` index entries.
     */
    async readDealPage(query: DealPageQuery): Promise<DealPage> {
      const { after } = query;
      // EVALSHA: the script's text crosses the wire once per Redis (again after a SCRIPT FLUSH or a restart).
      const args = [
        base,
        query.limit,
        after ? String(after.score) : "+inf",
        after ? after.id : "",
        query.budget,
        query.status ?? "",
        query.overdue ? "1" : "",
        query.overdue?.now ?? 0,
        query.overdue?.resolutionWindow ?? 0,
        "",
      ];
      const reply = await redis.evalsha(READ_DEALS_SHA, 1, k(query.index), ...args).catch((error: unknown) => {
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        return redis.eval(READ_DEALS_SCRIPT, 1, k(query.index), ...args);
      });
      return parsePage(reply as string);
    },

    /**
     * Deal ids of one index, newest first, strictly after `after`, at most `limit`, and where the next page starts:
     * one round trip (the page script in ids-only mode), for readers that hold most deals in memory already.
     */
    async readDealIds(
      index: string,
      limit: number,
      after?: { score: number; id: string },
    ): Promise<{ ids: { id: string; score: number }[]; next?: { score: number; id: string } }> {
      const args = [base, limit, after ? String(after.score) : "+inf", after ? after.id : "", limit, "", "", 0, 0, "1"];
      const reply = await redis.evalsha(READ_DEALS_SHA, 1, k(index), ...args).catch((error: unknown) => {
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        return redis.eval(READ_DEALS_SCRIPT, 1, k(index), ...args);
      });
      const [entries, , next] = JSON.parse(reply as string) as [[string, string][] | object, unknown, [string, string]];
      const ids = Array.isArray(entries) ? entries.map(([id, score]) => ({ id, score: Number(score) })) : [];
      return { ids, next: next ? { id: next[0], score: Number(next[1]) } : undefined };
    },

    /** Given deals with their histories, and the disputed ones' gateways, in one command (gone deals left out). */
    async readDealsById(ids: string[]): Promise<Omit<DealPage, "next">> {
      if (ids.length === 0) return { deals: [], gateways: new Map() };
      const reply = await redis.evalsha(READ_DEALS_BY_ID_SHA, 1, DEALS_ROUTE, base, ...ids).catch((error: unknown) => {
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        return redis.eval(READ_DEALS_BY_ID_SCRIPT, 1, DEALS_ROUTE, base, ...ids);
      });
      const { deals, gateways } = parsePage(reply as string);
      return { deals, gateways };
    },

    async getHashes(names: string[]): Promise<(Hash | undefined)[]> {
      const map = new Map<string, Hash | undefined>();
      await fetchHashes(names, map);
      return names.map((n) => map.get(n));
    },

    /** Every member of a sorted set with its score, ascending (ties by member). */
    async zrangeWithScores(name: string): Promise<{ id: string; score: number }[]> {
      const flat = await redis.zrange(k(name), 0, -1, "WITHSCORES");
      const out: { id: string; score: number }[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i], score: Number(flat[i + 1]) });
      return out;
    },

    async zrangeAll(name: string): Promise<string[]> {
      return redis.zrange(k(name), 0, -1);
    },

    async smembers(name: string): Promise<string[]> {
      return redis.smembers(k(name));
    },

    async sinter(names: string[]): Promise<string[]> {
      return redis.sinter(...names.map(k));
    },

    async ping(): Promise<void> {
      await redis.ping();
    },

    /**
     * Every projection key and its content, canonically ordered (for comparing a live projection with a
     * rebuild). Leaves out progress, lease, undo logs, block hashes, the event stream and the write side's keys
     * (`w:…`: submissions and a payer's pending cancel, which no event rebuilds).
     */
    async dumpProjection(): Promise<Record<string, unknown>> {
      const keys = await scanKeys();
      const skip = /:(meta|lease|lease:seq|hb|blocks|events|undo:\d+|bev:\d+)$/;
      const out: Record<string, unknown> = {};
      for (const key of keys.filter((x) => !skip.test(x) && !x.startsWith(`${base}w:`)).sort()) {
        const type = await redis.type(key);
        const name = key.slice(base.length);
        if (type === "hash") out[name] = Object.fromEntries(Object.entries(await redis.hgetall(key)).sort());
        else if (type === "list") out[name] = await redis.lrange(key, 0, -1);
        else if (type === "zset") out[name] = await redis.zrange(key, 0, -1, "WITHSCORES");
        else if (type === "set") out[name] = (await redis.smembers(key)).sort();
        else out[name] = await redis.get(key);
      }
      return out;
    },

    /** Deletes every key of this chain and escrow (a rebuild from the deployment block follows). */
    async clear(): Promise<void> {
      const keys = await scanKeys();
      for (let i = 0; i < keys.length; i += SCAN_COUNT) await redis.del(...keys.slice(i, i + SCAN_COUNT));
    },
  };
}
