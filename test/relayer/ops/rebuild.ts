/**
 * `npm run relayer -- rebuild` (ops/rebuild.ts) against a real Redis: what it deletes and what it keeps, the fencing
 * of a running indexer's lease, its messages and exit codes. (Its end-to-end use after a deep reorg, with relayer
 * processes and a Hardhat node, is in test/relayer/readiness.ts.)
 */
import { deleteKeys } from "../../../relayer/src/redis";
import { testRedis, type RedisClient, keysOf } from "../../support/redis";
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { testRedisEnv } from "../../support/redis";
import { createCommon } from "../../../relayer/src/common";
import { parseOptions, parseOptionsOf } from "../../../relayer/src/options";
import { REBUILD_OPTIONS, runRebuildCommand, type RebuildOptions } from "../../../relayer/src/ops/rebuild";
import { createStore, type Store } from "../../../relayer/src/store/store";
import { freshPrefix } from "../support/indexer";
import { freePort } from "../support/node";
import { runToEnd } from "../support/relayer-process";

const CHAIN_ID = 31337;
const ESCROW = "0x" + "5e".repeat(20);
const REGISTRY = "0x" + "7e".repeat(20);

describe("ops/rebuild", function () {
  this.timeout(60_000);
  let redis: RedisClient;
  let deploymentFile: string;
  let prefix: string;
  let store: Store;
  let options: RebuildOptions;
  let out: string[];
  let err: string[];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };

  before(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "relayer-rebuild-"));
    deploymentFile = path.join(dir, "deployment.json");
    fs.writeFileSync(
      deploymentFile,
      JSON.stringify({
        chainId: CHAIN_ID,
        contracts: {
          Escrow: { address: ESCROW, blockNumber: 7 },
          GatewayRegistry: { address: REGISTRY, blockNumber: 5 },
        },
      }),
    );
    redis = testRedis();
  });

  beforeEach(async () => {
    prefix = freshPrefix("rebuild");
    out = [];
    err = [];
    const env = { ...testRedisEnv(), REDIS_PREFIX: prefix, DEPLOYMENT: deploymentFile };
    options = parseOptionsOf(REBUILD_OPTIONS, env);
    const common = createCommon(parseOptions({ ...env, RPC_URL: "http://127.0.0.1:1", LOG_LEVEL: "silent" }));
    store = createStore({ common, redis, chainId: CHAIN_ID, escrow: ESCROW });
  });

  afterEach(async () => {
    await store.clear();
    const left = await keysOf(redis, `${prefix}*`);
    await deleteKeys(redis, left);
  });

  after(async () => {
    await redis.quit();
  });

  /** A halted projection with a deal, a submission of the write side and a running indexer's lease. */
  async function seedHalted() {
    await store.claim();
    const indexerLease = (await store.lease("indexer", 60_000))!;
    await redis.hset(store.key("meta"), "block", "40", "built", "1", "backfilled", "1", "halted", "deep reorg");
    await redis.hset(store.key("deal:0xaa"), "s", "open");
    await redis.rpush(store.key("hist:0xaa"), "x");
    await redis.zadd(store.key("ix:updated"), 1, "0xaa");
    await redis.set(store.key("w:sub:1"), "pending");
    await store.heartbeat(40, 60_000);
    const apiKey = `${prefix}:keys:demo`;
    await redis.set(apiKey, "hashed");
    return { indexerLease, apiKey };
  }

  it("when the projection is halted → deletes it, keeps the write side's keys and API keys, fences the indexer out, exits 0", async () => {
    const { indexerLease, apiKey } = await seedHalted();
    const code = await runRebuildCommand([], options, io);
    expect(code, err.join("\n")).to.equal(0);
    expect(await redis.exists(store.key("deal:0xaa"), store.key("hist:0xaa"), store.key("ix:updated"))).to.equal(0);
    expect(await redis.get(store.key("w:sub:1"))).to.equal("pending");
    expect(await redis.get(apiKey)).to.equal("hashed");
    await redis.del(apiKey);
    const meta = await store.getMeta();
    expect(meta).to.deep.include({ block: undefined, built: false, halted: undefined, owner: `${CHAIN_ID}:${ESCROW}` });
    expect(meta.rebuilding).to.be.a("string");
    expect(await store.lease("indexer", 60_000, indexerLease), "the old lease cannot be renewed").to.not.equal(
      indexerLease,
    );
    expect(out.join("\n")).to.match(/fencing out 1:indexer/);
    expect(out.join("\n")).to.match(/deleted \d+ keys/);
    expect(out.join("\n")).to.match(/cleared the halt: deep reorg/);
    expect(out.join("\n")).to.match(/running indexer backfills from block 5/);
  });

  it("when no indexer beats → says to start the relayer", async () => {
    await store.claim();
    expect(await runRebuildCommand([], options, io)).to.equal(0);
    expect(out.join("\n")).to.match(/no indexer heartbeat: start the relayer/);
  });

  it("when the keys belong to another escrow with the same tag → refuses, deletes nothing, exits 1", async () => {
    await redis.hset(store.key("meta"), "owner", `${CHAIN_ID}:0x5e5e5e5e00000000000000000000000000000000`);
    await redis.hset(store.key("deal:0xaa"), "s", "open");
    expect(await runRebuildCommand([], options, io)).to.equal(1);
    expect(err.join("\n")).to.match(/belong to/);
    expect(await redis.exists(store.key("deal:0xaa"))).to.equal(1);
  });

  it("when Redis does not answer → exits 1 without printing its URL", async () => {
    const port = await freePort();
    // A single node that is not there (not the run's cluster, if any).
    const unreachable = { ...options, redisCluster: undefined, redisUrl: `redis://user:hunter2@127.0.0.1:${port}` };
    const code = await runRebuildCommand([], unreachable, io);
    expect(code).to.equal(1);
    expect(err.join("\n")).to.match(/cannot reach Redis at 127\.0\.0\.1/);
    expect(err.join("\n")).to.not.contain("hunter2");
  });

  it("when given an argument or an unreadable deployment → usage error, exit 2", async () => {
    expect(await runRebuildCommand(["--now"], options, io)).to.equal(2);
    expect(await runRebuildCommand([], { ...options, deployment: "/nonexistent.json" }, io)).to.equal(2);
    expect(err.join("\n")).to.match(/usage: npm run relayer -- rebuild/);
  });

  it("when run as `relayer rebuild` → dispatched from main with the environment's options", async () => {
    await seedHalted();
    await redis.del(`${prefix}:keys:demo`);
    const run = await runToEnd(["rebuild"], {
      env: { ...testRedisEnv(), REDIS_PREFIX: prefix, DEPLOYMENT: deploymentFile },
    });
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/deleted \d+ keys/);
    const bad = await runToEnd(["rebuild"], {
      env: { ...testRedisEnv(), DEPLOYMENT: deploymentFile, LEASE_TTL_MS: "soon" },
    });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/^relayer rebuild: LEASE_TTL_MS/);
  });
});
