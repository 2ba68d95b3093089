/**
 * The Redis store (`store.ts`) on its own, against a real Redis (REDIS_URL, default 127.0.0.1:6379): its keys, the lease and its
 * fencing token, commits (atomic with the checkpoint, refused with a stale checkpoint or a lost lease), undo logs and
 * rollbacks, the event stream, and the reads the API serves. Every test starts from an empty key prefix of its own
 * and deletes it afterwards.
 */
import { keysOf, testRedis, type RedisClient } from "../../support/redis";
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { createCommon, type Common } from "../../../relayer/src/common";
import type { ProtocolEvent } from "../../../protocol";
import { NamespaceTaken } from "../../../relayer/src/errors";
import { parseOptions } from "../../../relayer/src/options";
import {
  announcementOf,
  decodeAnnouncement,
  createStore,
  DEAL_FIELDS,
  type CommitInput,
  type Store,
} from "../../../relayer/src/store/store";
import {
  AMOUNT,
  DEAL,
  DEAL2,
  GATEWAY,
  PAYEE,
  PAYER,
  at,
  opened,
  performed,
  registeredGateway,
  released,
} from "../support/domain";

const CHAIN_ID = 31337;
const ESCROW = "0x" + "E5".repeat(20);
const HOLDER = "store-test";
const TTL_MS = 60_000;

describe("relayer store (Redis)", function () {
  let redis: RedisClient;
  let prefix: string;
  let common: Common;
  let store: Store;
  /** Every store a test made, cleared after it. */
  let stores: Store[];

  const storeFor = (options: { chainId?: number; escrow?: string } = {}) => {
    const made = createStore({
      common,
      redis,
      chainId: options.chainId ?? CHAIN_ID,
      escrow: options.escrow ?? ESCROW,
    });
    stores.push(made);
    return made;
  };

  before(async function () {
    redis = testRedis({ lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  beforeEach(function () {
    prefix = `test-store-${randomBytes(6).toString("hex")}`;
    common = createCommon(
      parseOptions({ RPC_URL: "http://127.0.0.1:1", DEPLOYMENT: "x", REDIS_PREFIX: prefix, LOG_LEVEL: "silent" }),
    );
    stores = [];
    store = storeFor();
  });

  afterEach(async function () {
    for (const made of stores) await made.clear();
    expect(await keysOf(redis, `${prefix}:*`)).to.deep.equal([]);
  });

  after(async function () {
    await redis?.quit();
  });

  /** The input of a commit of `events` as block `block` on top of `expectBlock`, under `lease`. */
  const input = (
    lease: string,
    expectBlock: number | undefined,
    block: number,
    events: ProtocolEvent[],
    extra: Partial<CommitInput> = {},
  ): CommitInput => ({
    leaseValue: lease,
    expectBlock,
    toBlock: block,
    toHash: at(block).blockHash,
    events,
    undoable: false,
    blockHashes: [[block, at(block).blockHash]],
    pruneBlocks: [],
    ...extra,
  });

  /** Takes the lease and commits each of `blocks` in turn, undoable or not; returns the lease. */
  async function commitBlocks(blocks: [number, ProtocolEvent[]][], undoable = false): Promise<string> {
    const lease = (await store.lease(HOLDER, TTL_MS))!;
    for (const [block, events] of blocks) {
      const expectBlock = (await store.getMeta()).block;
      expect(await store.commit(input(lease, expectBlock, block, events, { undoable }))).to.equal("OK");
    }
    return lease;
  }

  /**
   * The event stream: each entry's id, stage letter (p announced pending, x committed final, f finalized,
   * r retracted) and announcement.
   */
  async function stream(): Promise<{ id: string; stage: string; event: { type: string; block: number } }[]> {
    const entries = await redis.xrange(store.key("events"), "-", "+");
    return entries.map(([id, fields]) => {
      expect(fields[0]).to.equal("e");
      return { id, stage: fields[1][0], event: decodeAnnouncement(fields[1].slice(1)) };
    });
  }
  /** Stream ids in order: `<ms>-<n>` from the server's clock, strictly increasing. */
  const increasing = (ids: string[]) =>
    ids.every((id, i) => {
      if (i === 0) return /^\d+-\d+$/.test(id);
      const [ms, n] = id.split("-").map(BigInt);
      const [pms, pn] = ids[i - 1].split("-").map(BigInt);
      return ms > pms || (ms === pms && n > pn);
    });

  describe("store keys", function () {
    beforeEach(async function () {
      await commitBlocks([
        [10, [registeredGateway(at(10))]],
        [11, [opened(at(11)), opened(at(11, 1), { salt: "0x" + "22".repeat(32) }, DEAL2)]],
      ]);
    });

    it("puts every key under <prefix>:{<chainId>:<first 8 hex digits of the escrow>}:", async function () {
      expect(store.keyPrefix).to.equal(`${prefix}:{${CHAIN_ID}:${ESCROW.slice(2, 10).toLowerCase()}}:`);
      const keys = await keysOf(redis, `${prefix}:*`);
      expect(keys.length).to.be.greaterThan(2);
      for (const key of keys) expect(key.startsWith(store.keyPrefix)).to.equal(true, key);
    });

    it("stores deal hashes with short field names and serves the logical ones", async function () {
      const raw = await redis.hgetall(store.key(`deal:${DEAL}`));
      expect(raw.s).to.equal((await store.getDeal(DEAL))!.deal.status);
      expect(Object.keys(raw)).to.not.include("status");
      for (const field of Object.keys(raw)) expect(Object.values(DEAL_FIELDS)).to.include(field);
      const stored = Object.values(DEAL_FIELDS);
      expect(new Set(stored).size).to.equal(stored.length, "stored names are distinct");
      // Addresses are stored without their 0x and served with it.
      expect(raw.pr).to.equal(PAYER.slice(2));
      expect((await store.getDeal(DEAL))!.deal.payer).to.equal(PAYER);
    });

    it("claims the keys for one escrow and refuses another escrow with the same key tag", async function () {
      await store.claim();
      await store.claim(); // idempotent
      expect(await redis.hget(store.key("meta"), "owner")).to.equal(`${CHAIN_ID}:${ESCROW.toLowerCase()}`);
      const lookalike = ESCROW.slice(0, 10) + "00".repeat(16);
      const other = storeFor({ escrow: lookalike });
      expect(other.keyPrefix).to.equal(store.keyPrefix);
      let error: unknown;
      await other.claim().catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(NamespaceTaken);
      expect((error as Error).message)
        .to.include(ESCROW.toLowerCase())
        .and.include("REDIS_PREFIX");
      // another chain id has its own keys
      const otherChain = storeFor({ chainId: CHAIN_ID + 1, escrow: lookalike });
      expect(otherChain.keyPrefix).to.not.equal(store.keyPrefix);
      await otherChain.claim();
    });
  });

  describe("meta", function () {
    it("reads an empty store as no checkpoint, not backfilled, no reorgs", async function () {
      expect(await store.getMeta()).to.deep.equal({
        block: undefined,
        hash: undefined,
        head: undefined,
        time: undefined,
        backfilled: false,
        reorgs: 0,
        seq: 0,
        owner: undefined,
        built: false,
        halted: undefined,
        rebuilding: undefined,
      });
    });

    it("records the head and the backfill state, and the latest block time only when given", async function () {
      await redis.hset(store.key("meta"), "block", "39");
      await store.setProgress(40, false, 1_800_000_000);
      expect(await store.getMeta()).to.deep.include({ head: 40, backfilled: false, time: 1_800_000_000 });
      await store.setProgress(41, true);
      expect(await store.getMeta()).to.deep.include({ head: 41, backfilled: true, time: 1_800_000_000 });
    });

    it("when meta holds no checkpoint (flushed or reset under the indexer) → records no progress", async function () {
      await store.setProgress(41, true);
      expect(await store.getMeta()).to.deep.include({ head: undefined, backfilled: false, built: false });
    });

    it("when a backfill completes → marks the projection built (kept while catching up) and ends a rebuild", async function () {
      await redis.hset(store.key("meta"), "block", "39", "rebuilding", "2026-01-01T00:00:00Z");
      await store.setProgress(40, false);
      expect(await store.getMeta()).to.deep.include({ built: false, rebuilding: "2026-01-01T00:00:00Z" });
      await store.setProgress(41, true);
      expect(await store.getMeta()).to.deep.include({ built: true, rebuilding: undefined });
      await store.setProgress(60, false);
      expect(await store.getMeta()).to.deep.include({ built: true, backfilled: false });
    });

    it("when the leader beats → the heartbeat holds its head until the TTL runs out", async function () {
      expect((await store.projectionState()).leaderHead).to.equal(undefined);
      await store.heartbeat(77, 60_000);
      expect((await store.projectionState()).leaderHead).to.equal(77);
      await store.heartbeat(78, 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await store.projectionState()).leaderHead).to.equal(undefined);
    });

    it("when the indexer halts under its lease → meta carries the reason", async function () {
      const lease = (await store.lease("indexer", TTL_MS))!;
      expect(await store.setHalted("reorg below block 9", lease)).to.equal(true);
      expect((await store.getMeta()).halted).to.equal("reorg below block 9");
    });

    it("when the lease was seized before the halt is recorded (a rebuild) → false, and meta carries no halt", async function () {
      const lease = (await store.lease("indexer", TTL_MS))!;
      await store.seizeLease("rebuild", TTL_MS);
      expect(await store.setHalted("reorg below block 9", lease)).to.equal(false);
      expect((await store.getMeta()).halted).to.equal(undefined);
    });
  });

  describe("resetProjection (rebuild)", function () {
    it("when it holds the lease → deletes the projection but keeps the lease, its sequence and the write side's keys", async function () {
      await store.claim();
      const first = (await store.lease("indexer", TTL_MS))!;
      await redis.hset(store.key("meta"), "block", "50", "built", "1", "backfilled", "1", "halted", "deep reorg");
      await redis.hset(store.key("deal:0x01"), "s", "open");
      await redis.set(store.key("w:sub:1"), "pending");
      await store.heartbeat(50, 60_000);
      const seized = await store.seizeLease("rebuild", TTL_MS);
      expect(Number(seized.split(":")[0])).to.be.greaterThan(Number(first.split(":")[0]));
      expect(await store.lease("indexer", TTL_MS, first), "the old holder's renewal fails").to.equal(undefined);
      expect(await store.resetProjection(seized)).to.be.a("number");
      expect(await redis.exists(store.key("deal:0x01"), store.key("hb"))).to.equal(0);
      expect(await redis.get(store.key("w:sub:1"))).to.equal("pending");
      expect(await store.leaseHolder()).to.equal(seized);
      const meta = await store.getMeta();
      expect(meta).to.deep.include({ block: undefined, built: false, halted: undefined });
      expect(meta.owner).to.be.a("string");
      expect(meta.rebuilding).to.be.a("string");
    });

    it("when the projection was halted → the halt goes only together with the checkpoint: after every write of the reset, meta holds both or neither", async function () {
      // An indexer that saw its halt cleared while the old checkpoint was still there would judge the chain against
      // keys being deleted, and halt again after the rebuild. The reset's client reads meta after each of its writes
      // (the batched deletions included), so every state a reader could see between two of them is looked at.
      await store.claim();
      await redis.hset(store.key("meta"), "block", "50", "hash", "0xab", "built", "1", "halted", "deep reorg");
      for (let i = 0; i < 2500; i += 500) {
        const pipeline = redis.pipeline();
        for (let j = i; j < i + 500; j++) pipeline.set(store.key(`deal:0x${j.toString(16)}`), "x");
        await pipeline.exec();
      }
      const seen: { write: string; block?: number; halted?: string; rebuilding?: string }[] = [];
      const writes = new Set(["hset", "hdel", "del", "eval"]);
      const observed = new Proxy(redis, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver);
          if (typeof name !== "string" || !writes.has(name) || typeof value !== "function") return value;
          return async (...args: unknown[]) => {
            const result = await value.apply(target, args);
            const { block, halted, rebuilding } = await store.getMeta();
            seen.push({ write: name, block, halted, rebuilding });
            return result;
          };
        },
      });
      const resetter = createStore({ common, redis: observed, chainId: CHAIN_ID, escrow: ESCROW });
      const seized = await store.seizeLease("rebuild", TTL_MS);
      expect(await resetter.resetProjection(seized)).to.equal(2501); // the deals and meta
      expect(seen.filter((m) => m.write === "del").length, "the deals go in several batches").to.be.greaterThan(1);
      const bare = seen.filter((m) => m.block !== undefined && m.halted === undefined);
      expect(bare, "a checkpoint without its halt").to.deep.equal([]);
      const beforeLast = seen.slice(0, -1);
      expect(beforeLast.length).to.be.greaterThan(0);
      for (const m of beforeLast)
        expect(m, "marked rebuilding, still halted, checkpoint kept").to.deep.include({
          block: 50,
          halted: "deep reorg",
        });
      expect(beforeLast.every((m) => m.rebuilding !== undefined)).to.equal(true);
      expect(seen.at(-1)).to.deep.include({ write: "eval", block: undefined, halted: undefined });
      expect(seen.at(-1)!.rebuilding).to.be.a("string");
    });

    it("when the lease was taken by another → deletes nothing and says LEASE", async function () {
      await redis.hset(store.key("deal:0x01"), "s", "open");
      const seized = await store.seizeLease("rebuild", TTL_MS);
      await store.seizeLease("other", TTL_MS);
      expect(await store.resetProjection(seized)).to.equal("LEASE");
      expect(await redis.exists(store.key("deal:0x01"))).to.equal(1);
    });
  });

  describe("lease", function () {
    it("gives a free lease to one holder as <fencing token>:<holder>, and none to another while it is held", async function () {
      const value = await store.lease("a", TTL_MS);
      expect(value).to.match(/^\d+:a$/);
      expect(await store.leaseHolder()).to.equal(value);
      expect(await store.lease("b", TTL_MS)).to.equal(undefined);
    });

    it("renews the lease for the holder of its current value only", async function () {
      const value = (await store.lease("a", TTL_MS))!;
      await redis.pexpire(store.key("lease"), 5_000);
      expect(await store.lease("a", TTL_MS, value)).to.equal(value);
      expect(await redis.pttl(store.key("lease"))).to.be.greaterThan(5_000);
      expect(await store.lease("b", TTL_MS, "1:b")).to.equal(undefined);
      expect(await store.leaseHolder()).to.equal(value);
    });

    it("hands the lease over with a higher fencing token after a release or an expiry", async function () {
      const first = (await store.lease("a", TTL_MS))!;
      await store.releaseLease(first);
      expect(await store.leaseHolder()).to.equal(undefined);
      const second = (await store.lease("b", 50))!;
      expect(Number(second.split(":")[0])).to.equal(Number(first.split(":")[0]) + 1);
      await new Promise((resolve) => setTimeout(resolve, 120));
      // Once expired, the next holder gets the next token, and the old value renews nothing.
      const third = (await store.lease("c", TTL_MS))!;
      expect(Number(third.split(":")[0])).to.equal(Number(second.split(":")[0]) + 1);
      expect(await store.lease("b", TTL_MS, second)).to.equal(undefined);
      expect(await store.leaseHolder()).to.equal(third);
    });

    it("refuses a renewal after expiry even with the lease free, and leaves it free for a fresh election", async function () {
      const old = (await store.lease("a", 50))!;
      await new Promise((resolve) => setTimeout(resolve, 120));
      // A renewal that took a new token in passing would leave a lease its caller drops: nobody could lead for a TTL.
      expect(await store.lease("a", TTL_MS, old)).to.equal(undefined);
      expect(await store.leaseHolder()).to.equal(undefined);
      const fresh = (await store.lease("a", TTL_MS))!;
      expect(Number(fresh.split(":")[0])).to.equal(Number(old.split(":")[0]) + 1);
    });

    it("releases only its own lease: a stale value leaves the new holder's in place", async function () {
      const old = (await store.lease("a", 50))!;
      await new Promise((resolve) => setTimeout(resolve, 120));
      const current = (await store.lease("b", TTL_MS))!;
      await store.releaseLease(old);
      expect(await store.leaseHolder()).to.equal(current);
    });
  });

  describe("commit", function () {
    it("applies the events and moves the checkpoint in one step", async function () {
      const lease = (await store.lease(HOLDER, TTL_MS))!;
      expect(await store.commit(input(lease, undefined, 10, [opened(at(10))]))).to.equal("OK");
      expect(await store.getMeta()).to.deep.include({ block: 10, hash: at(10).blockHash, seq: 1 });
      expect(await store.blockHash(10)).to.equal(at(10).blockHash);
      const got = (await store.getDeal(DEAL))!;
      expect(got.deal).to.include({ status: "open", payer: PAYER, payee: PAYEE, amount: AMOUNT.toString() });
      expect(got.history.map((h) => h.event)).to.deep.equal(["DealOpened"]);
      expect(await store.commit(input(lease, 10, 11, [performed(at(11))]))).to.equal("OK");
      expect((await store.getDeal(DEAL))!.deal.status).to.equal("performed");
      expect(await store.getMeta()).to.deep.include({ block: 11, seq: 2 });
    });

    it("refuses a commit that does not continue the checkpoint (STALE), writing nothing", async function () {
      const lease = await commitBlocks([[10, [opened(at(10))]]]);
      const before = await store.dumpProjection();
      expect(await store.commit(input(lease, undefined, 10, []))).to.equal("STALE");
      expect(await store.commit(input(lease, 9, 11, [performed(at(11))]))).to.equal("STALE");
      expect(await store.commit(input(lease, 11, 12, [performed(at(12))]))).to.equal("STALE");
      expect(await store.dumpProjection()).to.deep.equal(before);
      expect(await store.getMeta()).to.deep.include({ block: 10, seq: 1 });
    });

    it("refuses a commit under a lease that is not the current one (LEASE): the fencing", async function () {
      const stale = (await store.lease("a", 50))!;
      await new Promise((resolve) => setTimeout(resolve, 120));
      const current = (await store.lease("b", TTL_MS))!;
      expect(await store.commit(input(stale, undefined, 10, [opened(at(10))]))).to.equal("LEASE");
      expect(await store.commit(input("1:nobody", undefined, 10, [opened(at(10))]))).to.equal("LEASE");
      expect(await store.getMeta()).to.deep.include({ block: undefined, seq: 0 });
      expect(await store.getDeal(DEAL)).to.equal(undefined);
      expect(await store.commit(input(current, undefined, 10, [opened(at(10))]))).to.equal("OK");
    });

    it("when blocks are committed final → one `x` entry per event, ids from the server clock, in the order applied", async function () {
      await commitBlocks([
        [10, [registeredGateway(at(10)), opened(at(10, 1))]],
        [11, []],
        [12, [performed(at(12)), released(at(12, 1))]],
      ]);
      const entries = await stream();
      expect(increasing(entries.map((e) => e.id))).to.equal(true);
      expect(entries.map((e) => `${e.stage} ${e.event.type}@${e.event.block}`)).to.deep.equal([
        "x GatewayRegistered@10",
        "x DealOpened@10",
        "x DealPerformed@12",
        "x DealReleased@12",
      ]);
      expect(entries[1].event).to.deep.equal(decodeAnnouncement(announcementOf(opened(at(10, 1)))));
      expect((await store.getMeta()).seq).to.equal(4);
    });

    it("when an undoable block is pruned as final → a `p` entry at commit, then an `f` entry per announcement", async function () {
      const lease = await commitBlocks([[10, [opened(at(10))]]]);
      expect(
        await store.commit(input(lease, 10, 11, [performed(at(11)), released(at(11, 1))], { undoable: true })),
      ).to.equal("OK");
      expect((await stream()).map((e) => `${e.stage} ${e.event.type}`)).to.deep.equal([
        "x DealOpened",
        "p DealPerformed",
        "p DealReleased",
      ]);
      expect(await store.commit(input(lease, 11, 12, [], { undoable: true, pruneBlocks: [11] }))).to.equal("OK");
      const entries = await stream();
      expect(increasing(entries.map((e) => e.id))).to.equal(true);
      expect(entries.slice(3).map((e) => `${e.stage} ${e.event.type}@${e.event.block}`)).to.deep.equal([
        "f DealPerformed@11",
        "f DealReleased@11",
      ]);
      expect((await store.getMeta()).seq).to.equal(5);
    });

    it("announces the block time when the indexer stamped the event, and leaves it out when not", async function () {
      expect(
        decodeAnnouncement(announcementOf({ ...performed(at(11)), timestamp: 1_700_000_000 } as ProtocolEvent)),
      ).to.include({ type: "DealPerformed", timestamp: 1_700_000_000 });
      expect(decodeAnnouncement(announcementOf(performed(at(11))))).to.not.have.property("timestamp");
      // Stored with one-letter keys: the stream repeats them in every entry.
      expect(Object.keys(JSON.parse(announcementOf(performed(at(11)))) as object)).to.deep.equal([
        "t",
        "d",
        "b",
        "h",
        "x",
        "l",
      ]);
    });

    it("keeps an undo log and the announcements of an undoable block only, and drops them when pruned", async function () {
      const lease = await commitBlocks([[10, [opened(at(10))]]]);
      expect(await redis.exists(store.key("undo:10"), store.key("bev:10"))).to.equal(0);
      expect(await store.commit(input(lease, 10, 11, [performed(at(11))], { undoable: true }))).to.equal("OK");
      expect(await redis.exists(store.key("undo:11"), store.key("bev:11"))).to.equal(2);
      expect(await store.blockHash(11)).to.equal(at(11).blockHash);
      expect(await store.commit(input(lease, 11, 12, [], { undoable: true, pruneBlocks: [11] }))).to.equal("OK");
      expect(await redis.exists(store.key("undo:11"), store.key("bev:11"))).to.equal(0);
      expect(await store.blockHash(11)).to.equal(undefined);
      // A block without events keeps an undo log (empty) but no announcements.
      expect(await redis.exists(store.key("undo:12"))).to.equal(1);
      expect(await redis.exists(store.key("bev:12"))).to.equal(0);
    });
  });

  describe("rollback", function () {
    /** Block 10 final; 11 and 12 undoable, changing what 10 wrote. Returns the lease and the projection at 10. */
    async function chainOfThree(): Promise<{ lease: string; atTen: Record<string, unknown> }> {
      const lease = await commitBlocks([[10, [registeredGateway(at(10)), opened(at(10, 1))]]]);
      const atTen = await store.dumpProjection();
      expect(await store.commit(input(lease, 10, 11, [performed(at(11))], { undoable: true }))).to.equal("OK");
      const open2 = opened(at(12), { salt: "0x" + "33".repeat(32) }, DEAL2);
      expect(await store.commit(input(lease, 11, 12, [open2, released(at(12, 1))], { undoable: true }))).to.equal("OK");
      return { lease, atTen };
    }

    it("undoes the blocks above the target, newest first, and retracts what they announced", async function () {
      const { lease, atTen } = await chainOfThree();
      expect((await store.getDeal(DEAL))!.deal.status).to.equal("released");
      expect(await store.rollback(lease, 12, 10, at(10).blockHash)).to.deep.equal({ retracted: 3 });
      expect(await store.dumpProjection()).to.deep.equal(atTen);
      expect(await store.getMeta()).to.deep.include({ block: 10, hash: at(10).blockHash, reorgs: 1, seq: 8 });
      expect(await store.blockHash(11)).to.equal(undefined);
      expect(await store.blockHash(12)).to.equal(undefined);
      expect(await redis.exists(store.key("undo:11"), store.key("undo:12"), store.key("bev:12"))).to.equal(0);
      const entries = await stream();
      expect(increasing(entries.map((e) => e.id))).to.equal(true);
      expect(entries.slice(5).map((e) => `${e.stage} ${e.event.type}@${e.event.block}`)).to.deep.equal([
        "r DealReleased@12",
        "r DealOpened@12",
        "r DealPerformed@11",
      ]);
    });

    it("lets the indexer commit on top of the block it rolled back to", async function () {
      const { lease } = await chainOfThree();
      await store.rollback(lease, 12, 11, at(11).blockHash);
      expect(await store.commit(input(lease, 11, 12, [released(at(12))], { undoable: true }))).to.equal("OK");
      expect((await store.getDeal(DEAL))!.deal.status).to.equal("released");
      expect(await store.getDeal(DEAL2)).to.equal(undefined);
    });

    it("refuses a rollback past a final block (DEEP), a moved checkpoint (STALE) or a lost lease (LEASE)", async function () {
      const { lease } = await chainOfThree();
      const before = await store.dumpProjection();
      expect(await store.rollback(lease, 12, 9, at(9).blockHash)).to.equal("DEEP");
      expect(await store.rollback(lease, 11, 10, at(10).blockHash)).to.equal("STALE");
      expect(await store.rollback("1:nobody", 12, 10, at(10).blockHash)).to.equal("LEASE");
      expect(await store.dumpProjection()).to.deep.equal(before);
      expect(await store.getMeta()).to.deep.include({ block: 12, reorgs: 0 });
    });
  });

  describe("reads", function () {
    it("lists deal ids of an index newest first, a page at a time after a cursor, ties by id", async function () {
      const ids = ["0x01", "0x02", "0x03", "0x04", "0x05"].map((p) => p.padEnd(66, "0"));
      // Two deals share a score: the cursor must not skip or repeat either.
      const scores = [5, 7, 7, 9, 11];
      for (let i = 0; i < ids.length; i++) await redis.zadd(store.key("ix:test"), scores[i], ids[i]);
      const pages: string[][] = [];
      let after: { score: number; id: string } | undefined;
      do {
        const page = await store.listDealIds("ix:test", 2, after);
        pages.push(page.ids);
        after = page.ids.length === 2 ? page.last : undefined;
      } while (after);
      expect(pages.flat()).to.deep.equal([ids[4], ids[3], ids[2], ids[1], ids[0]]);
      expect(pages[0]).to.have.length(2);
      expect(await store.listDealIds("ix:nothing", 5)).to.deep.equal({ ids: [], last: undefined });
    });

    it("reads hashes (undefined when absent), sorted sets, sets and their intersection under its prefix", async function () {
      await commitBlocks([
        [10, [registeredGateway(at(10))]],
        [11, [opened(at(11)), opened(at(11, 1), { salt: "0x" + "44".repeat(32) }, DEAL2)]],
      ]);
      const [gw, missing, deal] = await store.getHashes([`gw:${GATEWAY}`, "gw:0xnone", `deal:${DEAL}`]);
      expect(gw).to.include({ status: "pending" });
      expect(missing).to.equal(undefined);
      expect(deal).to.include({ status: "open", payer: PAYER });
      expect(await store.zrangeAll("gws")).to.deep.equal([GATEWAY]);
      await redis.sadd(store.key("s:a"), "x", "y");
      await redis.sadd(store.key("s:b"), "y", "z");
      expect((await store.smembers("s:a")).sort()).to.deep.equal(["x", "y"]);
      expect(await store.sinter(["s:a", "s:b"])).to.deep.equal(["y"]);
      await store.ping();
    });

    it("when ids are read in pages by the script → the same order and cursors as listDealIds, ties included", async function () {
      const ids = ["0x01", "0x02", "0x03", "0x04", "0x05"].map((p) => p.padEnd(66, "0"));
      const scores = [5, 7, 7, 9, 11];
      for (let i = 0; i < ids.length; i++) await redis.zadd(store.key("ix:test"), scores[i], ids[i]);
      const seen: string[] = [];
      let next: { score: number; id: string } | undefined;
      let pages = 0;
      do {
        // The next page starts AT `next` (inclusive): the store's "after" is just below it.
        const page = await store.readDealIds("ix:test", 2, next && { score: next.score, id: `${next.id}\u0000` });
        seen.push(...page.ids.map((x) => x.id));
        next = page.next;
        pages++;
      } while (next && pages < 10);
      expect(seen).to.deep.equal([ids[4], ids[3], ids[2], ids[1], ids[0]]);
      expect(await store.readDealIds("ix:nothing", 5)).to.deep.equal({ ids: [], next: undefined });
    });

    it("when a page is read with a status filter → only matching deals, at most `budget` entries read", async function () {
      await commitBlocks([
        [10, [registeredGateway(at(10))]],
        [11, [opened(at(11)), opened(at(11, 1), { salt: "0x" + "44".repeat(32) }, DEAL2)]],
        [12, [performed(at(12))]],
      ]);
      const open = await store.readDealPage({ index: `ix:party:${PAYER}`, limit: 5, budget: 5, status: "open" });
      expect(open.deals.map((d) => d.id)).to.deep.equal([DEAL2]);
      expect(open.next).to.equal(undefined);
      expect(open.deals[0].deal).to.include({ status: "open", payer: PAYER });
      expect(open.deals[0].history.map((h) => h.event)).to.deep.equal(["DealOpened"]);
      // Budget 1: the newest entry (DEAL, performed) is read and dropped; the page is empty but goes on.
      const short = await store.readDealPage({ index: `ix:party:${PAYER}`, limit: 5, budget: 1, status: "open" });
      expect(short.deals).to.deep.equal([]);
      expect(short.next?.id).to.equal(DEAL2);
    });

    it("when deals are read by id → each with its history, gone ones left out", async function () {
      await commitBlocks([[11, [opened(at(11))]]]);
      const { deals } = await store.readDealsById([DEAL, DEAL2]);
      expect(deals.map((d) => d.id)).to.deep.equal([DEAL]);
      expect(deals[0].deal).to.deep.equal((await store.getDeal(DEAL))!.deal);
      expect(deals[0].history).to.deep.equal((await store.getDeal(DEAL))!.history);
      expect((await store.readDealsById([])).deals).to.deep.equal([]);
    });

    it("dumps the projection without progress, lease, block hashes, stream and undo logs", async function () {
      await commitBlocks([[10, [opened(at(10))]]], true);
      const dump = await store.dumpProjection();
      expect(Object.keys(dump)).to.include(`deal:${DEAL}`);
      for (const name of Object.keys(dump)) {
        expect(name).to.not.match(/^(meta|lease|lease:seq|blocks|events|undo:\d+|bev:\d+)$/);
      }
    });
  });

  it("clears every key of its chain and escrow, and no other", async function () {
    await commitBlocks([[10, [opened(at(10))]]]);
    const neighbour = storeFor({ chainId: CHAIN_ID + 1 });
    await redis.hset(neighbour.key("meta"), "block", "1");
    await store.clear();
    const left = await keysOf(redis, `${prefix}:*`);
    expect(left.filter((key) => key.startsWith(store.keyPrefix))).to.deep.equal([]);
    expect(left).to.not.deep.equal([]);
    expect(await redis.hget(neighbour.key("meta"), "block")).to.equal("1");
  });
});
