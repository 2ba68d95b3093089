/**
 * The indexer against a real Hardhat node and a real Redis: every deal path, rebuild determinism, idempotent
 * commits, and reorgs made with evm_snapshot/evm_revert; then, over a stub chain, how it logs a failed step.
 */
import { testRedis, type RedisClient } from "../../support/redis";
import { expect } from "chai";
import { id } from "ethers";
import type { EthersChain } from "../../../relayer/src/chain/chain";
import type { Chain } from "../../../relayer/src/chain/types";
import { createCommon } from "../../../relayer/src/common";
import type { DeploymentFile } from "../../../relayer/src/deployment";
import { ChainClosedError, NonRetryableError, RetryableError } from "../../../relayer/src/errors";
import { createIndexer } from "../../../relayer/src/indexer/indexer";
import { parseOptions } from "../../../relayer/src/options";
import { createStore, decodeAnnouncement, type Store } from "../../../relayer/src/store/store";
import { caughtUp, freshPrefix, startIndexer, type InProcessIndexer } from "../support/indexer";
import { capturingLogger, WARN, type LogLine } from "../support/logger";
import { startDeployed } from "../support/deployed";
import { eventually } from "../support/events";
import type { HardhatNode } from "../support/node";
import {
  dealIdOf,
  makeDeal,
  makeDelegateLock,
  runAllPaths,
  USDT,
  type Expected,
  type Protocol,
} from "../support/activity";

describe("relayer indexer (Hardhat node + Redis)", function () {
  this.timeout(300_000);
  let node: HardhatNode;
  let deploymentFile: string;
  let deployment: DeploymentFile;
  let p: Protocol;
  let redis: RedisClient;
  const running: InProcessIndexer[] = [];
  /** What every deal path should have left, as driven in the set-up. */
  let expected: Expected[];
  /** The indexer that followed the chain while the set-up drove the deals (confirmation depth 3). */
  let live: InProcessIndexer;

  /** Starts an in-process indexer with its own key prefix; `instrument` may wrap its chain and store first. */
  function start(
    confirmations: number,
    instrument?: (chain: EthersChain, store: Store) => void,
    backfillChunkLogs?: number,
  ): InProcessIndexer {
    const r = startIndexer({
      rpcUrl: node.url,
      deploymentFile,
      redis,
      env: { CONFIRMATIONS: String(confirmations), POLL_INTERVAL_MS: "20", LEASE_TTL_MS: "1000", LOG_RANGE_MAX: "40" },
      instrument,
      backfillChunkLogs,
    });
    running.push(r);
    return r;
  }

  /** Waits until the projection has applied the node's current head block. */
  const caughtUpWith = (r: InProcessIndexer) => caughtUp(p.provider, r.store, { halted: r.indexer.halted });

  async function rebuildDump(confirmations: number) {
    const fresh = start(confirmations);
    await caughtUpWith(fresh);
    const dump = await fresh.store.dumpProjection();
    await fresh.stop();
    return dump;
  }

  before(async () => {
    ({ node, deploymentFile, deployment, p } = await startDeployed("indexer"));
    redis = testRedis();
    // The live indexer follows the chain block by block while every deal path runs.
    live = start(3);
    expected = await runAllPaths(p);
    await caughtUpWith(live);
  });

  after(async () => {
    for (const r of running) {
      await r.stop();
      await r.store.clear();
    }
    await redis?.quit();
    await node?.stop();
  });

  it("shows deals driven through every path with the right status and history", async () => {
    for (const e of expected) {
      const got = await live.store.getDeal(e.dealId.toLowerCase());
      expect(got, e.dealId).to.not.equal(undefined);
      expect(got!.deal.status, `status of ${e.kind} deal ${e.dealId}`).to.equal(e.status);
      expect(got!.deal.kind).to.equal(e.kind);
      expect(got!.history.map((h) => h.event)).to.deep.equal(e.events);
      for (const h of got!.history) {
        const receipt = await p.provider.getTransactionReceipt(h.txHash);
        expect(receipt!.blockNumber).to.equal(h.blockNumber);
        expect(receipt!.logs.some((l) => l.index === h.logIndex)).to.equal(true);
      }
    }
    // Floats and owed balances agree with the contract's getters.
    const usdt = (await p.usdt.getAddress()).toLowerCase();
    const acceptor = (await p.acceptor.getAddress()).toLowerCase();
    const [acc] = await live.store.getHashes([`acc:${acceptor}`]);
    const float = await p.escrow.floatOf(acceptor, usdt);
    expect(acc![`free:${usdt}`]).to.equal(float.free.toString());
    expect(acc![`locked:${usdt}`]).to.equal(float.locked.toString());
    const gateway = (await p.gateway.getAddress()).toLowerCase();
    const [owed] = await live.store.getHashes([`owed:${gateway}`]);
    expect(owed![usdt]).to.equal((await p.escrow.owed(usdt, gateway)).toString());
    const [gw] = await live.store.getHashes([`gw:${gateway}`]);
    const onChain = await p.registry.getGateway(gateway);
    expect(gw!.status).to.equal("active");
    expect(gw!.suspended).to.equal("0");
    expect(gw!.openDisputes).to.equal(onChain.openDisputes.toString());
    expect(gw!.bond).to.equal(onChain.bond.toString());
  });

  it("stamps every dispute with its block's time and records what the v1.1 events say", async function () {
    const byEvents = (events: string[]) => expected.filter((e) => e.events.join() === events.join());
    for (const e of expected) {
      const got = (await live.store.getDeal(e.dealId.toLowerCase()))!;
      const record = await p.escrow.getDeal(e.dealId);
      // The escrow's `since` of a deal still disputed is the dispute's time, as the indexer stamped it.
      if (e.status === "disputed") {
        expect(got.deal.disputedAt, e.dealId).to.equal(record.since.toString());
        expect(got.deal.gatewayHolds === "1", e.dealId).to.equal((Number(record.flags) & 2) === 2);
      }
      const dispute = got.history.find((h) => h.event === "DealDisputed");
      if (dispute) {
        const block = await p.provider.getBlock(dispute.blockNumber);
        expect(got.deal.disputedAt, e.dealId).to.equal(String(block!.timestamp));
      }
    }
    // The dispute the registry refused to count: not held, and the skip in the history.
    const [skippedDeal] = byEvents([
      "DealOpened",
      "DealPerformed",
      "DisputeCountSkipped",
      "DealDisputed",
      "DealResolved",
    ]);
    const skipped = (await live.store.getDeal(skippedDeal.dealId.toLowerCase()))!;
    expect(skipped.deal).to.include({
      gatewayHolds: "0",
      status: "resolved",
      resolvedBy: (await p.owner.getAddress()).toLowerCase(),
    });
    expect(skipped.history[2].args).to.deep.equal({
      gateway: (await p.gateway.getAddress()).toLowerCase(),
      opened: true,
    });
    const metrics = await live.common.metrics.registry.getSingleMetricAsString("relayer_dispute_count_skipped_total");
    expect(metrics).to.match(/relayer_dispute_count_skipped_total\{opened="true"\} 1/);
    // The split, the expired delegate lock and the evidence.
    const splitDeal = expected.find((e) => e.status === "split")!;
    expect((await live.store.getDeal(splitDeal.dealId.toLowerCase()))!.deal).to.include({
      payeeAmount: (USDT(70) - (USDT(70) * 50n) / 10_000n).toString(),
      refund: (splitDeal.deal.amount - USDT(70)).toString(),
    });
    const expired = expected.find((e) => e.events.includes("DealLockedByDelegate") && e.status === "refunded")!;
    expect((await live.store.getDeal(expired.dealId.toLowerCase()))!.deal).to.include({
      refundReason: "lock_expired",
      lockedBy: (await p.delegate.getAddress()).toLowerCase(),
    });
    const withEvidence = expected.find((e) => e.events.includes("EvidencePosted"))!;
    const posted = (await live.store.getDeal(withEvidence.dealId.toLowerCase()))!.history.filter(
      (h) => h.event === "EvidencePosted",
    );
    expect(posted.map((h) => h.args.uri)).to.deep.equal(["ipfs://bafy-parcel", "https://example.org/track/17", ""]);
  });

  it("a rebuild from the deployment block yields a byte-identical projection", async () => {
    const liveDump = await live.store.dumpProjection();
    expect(Object.keys(liveDump).length).to.be.greaterThan(20);
    expect(await rebuildDump(3)).to.deep.equal(liveDump);
    // A rebuild with another confirmation depth (more blocks through the batched, final path) agrees too.
    expect(await rebuildDump(1)).to.deep.equal(liveDump);
  });

  it("stamps every history entry with its block's time, when following and when backfilling", async () => {
    const fresh = start(1); // depth 1: every block is final, so all of them come through the backfill
    await caughtUpWith(fresh);
    const times = new Map<number, number>();
    for (const e of expected) {
      const followed = (await live.store.getDeal(e.dealId.toLowerCase()))!;
      const backfilled = (await fresh.store.getDeal(e.dealId.toLowerCase()))!;
      for (const [i, h] of followed.history.entries()) {
        if (!times.has(h.blockNumber)) times.set(h.blockNumber, (await p.provider.getBlock(h.blockNumber))!.timestamp);
        expect(h.timestamp, `${e.dealId} ${h.event}`).to.equal(times.get(h.blockNumber));
        expect(backfilled.history[i].timestamp, `${e.dealId} ${h.event} (backfilled)`).to.equal(h.timestamp);
      }
    }
    expect(times.size).to.be.greaterThan(3);
    await fresh.stop();
  });

  it("when backfilling → reads headers only of blocks that hold events, however many empty blocks lie between", async () => {
    // evm_mine one by one: hardhat_mine reserves blocks whose headers the node makes up later (parent hashes the
    // indexer following afterwards would not recognise).
    for (let i = 0; i < 30; i++) await p.provider.send("evm_mine", []);
    const asked: number[] = [];
    const r = start(1, (chain) => {
      const block = chain.block.bind(chain);
      chain.block = async (n) => {
        asked.push(n);
        return block(n);
      };
    });
    await caughtUpWith(r);
    const withLogs = new Set(
      (
        await p.provider.getLogs({
          address: [deployment.contracts.Escrow.address, deployment.contracts.GatewayRegistry.address],
          fromBlock: 0,
        })
      ).map((l) => l.blockNumber),
    );
    const empty = [...new Set(asked)].filter((n) => !withLogs.has(n));
    // A chunk that ends past its last log asks for its end block's hash, and the checkpoint is checked: a few.
    expect(empty.length, `headers of blocks without events: ${empty.join(", ")}`).to.be.at.most(3);
    expect(asked.filter((n) => withLogs.has(n)).length).to.be.greaterThan(3);
    await r.stop();
  });

  it("reads the next final range while it commits the current one, and gets over a failed read-ahead", async () => {
    const liveDump = await live.store.dumpProjection();
    const trace: string[] = [];
    let reads = 0;
    let injected = 0;
    const r = start(1, (chain, store) => {
      const read = chain.logsInRange.bind(chain);
      chain.logsInRange = async (addresses, from, to) => {
        trace.push(`read ${from}`);
        reads += 1;
        // The third read is a read-ahead (the first read of a fresh indexer is not): it fails, once.
        if (reads === 3) {
          injected += 1;
          throw new RetryableError("injected eth_getLogs failure");
        }
        return read(addresses, from, to);
      };
      const commit = store.commit.bind(store);
      store.commit = async (input) => {
        const result = await commit(input);
        trace.push(`committed ${input.toBlock}`);
        return result;
      };
    });
    await caughtUpWith(r);
    expect(injected).to.equal(1);
    expect(await r.store.dumpProjection()).to.deep.equal(liveDump);
    // Some read of the blocks from F on started before the commit that reached F - 1 had finished.
    const overlapped = trace.filter(
      (t, i) => t.startsWith("read ") && trace.slice(i + 1).includes(`committed ${Number(t.slice(5)) - 1}`),
    );
    expect(overlapped.length, trace.join(", ")).to.be.greaterThan(1);
    await r.stop();
  });

  it("commits a range in batches of whole blocks when it holds more logs than a batch: the same projection", async () => {
    const liveDump = await live.store.dumpProjection();
    const commits: { toBlock: number; events: number; toHash: string }[] = [];
    let reads = 0;
    const r = start(
      1,
      (chain, store) => {
        const read = chain.logsInRange.bind(chain);
        chain.logsInRange = async (addresses, from, to) => {
          reads += 1;
          return read(addresses, from, to);
        };
        const commit = store.commit.bind(store);
        store.commit = async (input) => {
          commits.push({ toBlock: input.toBlock, events: input.events.length, toHash: input.toHash });
          return commit(input);
        };
      },
      3,
    );
    await caughtUpWith(r);
    expect(await r.store.dumpProjection()).to.deep.equal(liveDump);
    expect(commits.length).to.be.greaterThan(reads);
    // Every checkpoint hash is the chain's hash of that block, whether taken from a log or asked for.
    for (const c of commits) {
      expect(c.toHash, `block ${c.toBlock}`).to.equal((await p.provider.getBlock(c.toBlock))!.hash);
    }
    // A batch of more than 3 events is one block's (a block is never split).
    const perBlock = new Map<number, number>();
    for (const log of await p.provider.getLogs({
      address: [deployment.contracts.Escrow.address, deployment.contracts.GatewayRegistry.address],
      fromBlock: 0,
      toBlock: "latest",
    })) {
      perBlock.set(log.blockNumber, (perBlock.get(log.blockNumber) ?? 0) + 1);
    }
    expect(perBlock.size).to.be.greaterThan(0);
    let previous = -1;
    for (const c of commits) {
      if (c.events > 3) {
        const blocks = [...perBlock.keys()].filter((b) => b > previous && b <= c.toBlock);
        expect(blocks.length, `batch ending at ${c.toBlock}`).to.equal(1);
      }
      previous = c.toBlock;
    }
    await r.stop();
  });

  it("applies a block exactly once: a repeated commit of the same block is refused", async () => {
    const meta = await live.store.getMeta();
    const holder = await live.store.leaseHolder();
    expect(holder).to.be.a("string");
    const result = await live.store.commit({
      leaseValue: holder!,
      expectBlock: meta.block! - 1,
      toBlock: meta.block!,
      toHash: meta.hash!,
      events: [],
      undoable: false,
      blockHashes: [],
      pruneBlocks: [],
    });
    expect(result).to.equal("STALE");
    const wrongLease = await live.store.commit({
      leaseValue: "1:someone-else",
      expectBlock: meta.block,
      toBlock: meta.block! + 1,
      toHash: meta.hash!,
      events: [],
      undoable: false,
      blockHashes: [],
      pruneBlocks: [],
    });
    expect(wrongLease).to.equal("LEASE");
    expect((await live.store.getMeta()).block).to.equal(meta.block);
  });

  describe("reorgs", () => {
    // A reorg rewrites the chain under every indexer that follows it (a deep one halts them): the live indexer's part
    // is over, and each test here starts indexers of its own.
    before(async () => {
      await live.stop();
    });

    it("rolls a shallow reorg back and forward, records retractions and never changes a final deal", async () => {
      const r = start(6);
      await caughtUpWith(r);
      const finalDeal = expected[0].dealId.toLowerCase();
      const finalBefore = await r.store.getDeal(finalDeal);
      const [payer] = p.payers;
      const [payee] = p.payees;

      // The orphaned blocks also change state that existed before them: an open deal is performed and the
      // acceptor's float is locked, so the rollback must restore earlier values, not only delete new keys.
      const stillOpen = expected.find((e) => e.status === "open")!;
      const stillOpenId = stillOpen.dealId.toLowerCase();
      const openBefore = await r.store.getDeal(stillOpenId);
      const acceptorKey = `acc:${(await p.acceptor.getAddress()).toLowerCase()}`;
      const [floatBefore] = await r.store.getHashes([acceptorKey]);

      const snapshot = await p.provider.send("evm_snapshot", []);
      const gone = await makeDeal(p, {
        payer: await payer.getAddress(),
        payee: await payee.getAddress(),
        amount: USDT(7),
      });
      await (await p.escrow.connect(payer).open(gone, id("gone"))).wait();
      await (await p.escrow.connect(payee).perform(gone)).wait();
      await (await p.escrow.connect(await p.provider.getSigner(stillOpen.deal.payee)).perform(stillOpen.deal)).wait();
      const lock = await makeDelegateLock(p, { payee: await payee.getAddress(), amount: USDT(33) });
      await (await p.escrow.connect(p.delegate).lock(lock, id("gone-lock"))).wait();
      await caughtUpWith(r);
      const goneId = dealIdOf(gone).toLowerCase();
      expect((await r.store.getDeal(goneId))!.deal.status).to.equal("performed");
      expect((await r.store.getDeal(stillOpenId))!.deal.status).to.equal("performed");
      expect((await r.store.getHashes([acceptorKey]))[0]).to.not.deep.equal(floatBefore);
      const [lastBefore] = await redis.xrevrange(r.store.key("events"), "+", "-", "COUNT", 1);

      // The alternative chain: the same height plus more, with a different deal.
      await p.provider.send("evm_revert", [snapshot]);
      const kept = await makeDeal(p, {
        payer: await payer.getAddress(),
        payee: await payee.getAddress(),
        amount: USDT(9),
      });
      await (await p.escrow.connect(payer).open(kept, id("kept"))).wait();
      for (let i = 0; i < 3; i++) await p.provider.send("evm_mine", []);
      await caughtUpWith(r);

      expect(await r.store.getDeal(goneId)).to.equal(undefined);
      expect(await r.store.getDeal(dealIdOf(lock).toLowerCase())).to.equal(undefined);
      expect(await r.store.getDeal(stillOpenId)).to.deep.equal(openBefore);
      expect((await r.store.getHashes([acceptorKey]))[0]).to.deep.equal(floatBefore);
      expect((await r.store.getDeal(dealIdOf(kept).toLowerCase()))!.deal.status).to.equal("open");
      expect((await r.store.getMeta()).reorgs).to.equal(1);
      expect(await r.store.getDeal(finalDeal)).to.deep.equal(finalBefore);

      // The stream announced the vanished events, then retracted them.
      const entries = await redis.xrange(r.store.key("events"), `(${lastBefore[0]}`, "+");
      const retracted = entries
        .filter(([, fields]) => fields[1].startsWith("r"))
        .map(([, fields]) => decodeAnnouncement(fields[1].slice(1)));
      expect(retracted.map((e) => `${e.type}:${e.dealId}`)).to.deep.equal([
        `DealLockedByDelegate:${dealIdOf(lock).toLowerCase()}`,
        `DealOpened:${dealIdOf(lock).toLowerCase()}`,
        `DealPerformed:${stillOpenId}`,
        `DealPerformed:${goneId}`,
        `DealOpened:${goneId}`,
      ]);

      expect(await rebuildDump(6)).to.deep.equal(await r.store.dumpProjection());
      await r.stop();
    });

    it("undoes a block in which one deal opened, was performed and was released (writes combined per key)", async () => {
      const r = start(4);
      await caughtUpWith(r);
      const before = await r.store.dumpProjection();
      const [payer] = p.payers;
      const [payee] = p.payees;
      const snapshot = await p.provider.send("evm_snapshot", []);
      const d = await makeDeal(p, { payer: await payer.getAddress(), payee: await payee.getAddress() });
      await p.provider.send("evm_setAutomine", [false]);
      try {
        const sent = [
          await p.escrow.connect(payer).open(d, id("one-block")),
          await p.escrow.connect(payee).perform(d),
          await p.escrow.connect(payer).release(d),
        ];
        await p.provider.send("evm_mine", []);
        const receipts = await Promise.all(sent.map((tx) => tx.wait()));
        expect(new Set(receipts.map((x) => x!.blockNumber)).size).to.equal(1);
      } finally {
        await p.provider.send("evm_setAutomine", [true]);
      }
      await caughtUpWith(r);
      const dealId = dealIdOf(d).toLowerCase();
      const got = await r.store.getDeal(dealId);
      expect(got!.deal.status).to.equal("released");
      expect(got!.history.map((h) => h.event)).to.deep.equal(["DealOpened", "DealPerformed", "DealReleased"]);
      expect(await r.store.dumpProjection()).to.not.deep.equal(before);

      await p.provider.send("evm_revert", [snapshot]);
      for (let i = 0; i < 3; i++) await p.provider.send("evm_mine", []);
      await caughtUpWith(r);
      expect(await r.store.getDeal(dealId)).to.equal(undefined);
      expect(await r.store.dumpProjection()).to.deep.equal(before);
      await r.stop();
    });

    it("halts on a reorg deeper than the confirmation depth and leaves the projection as it was", async () => {
      const r = start(2);
      await caughtUpWith(r);
      const [payer] = p.payers;
      const [payee] = p.payees;
      const snapshot = await p.provider.send("evm_snapshot", []);
      for (let i = 0; i < 3; i++) {
        const d = await makeDeal(p, { payer: await payer.getAddress(), payee: await payee.getAddress() });
        await (await p.escrow.connect(payer).open(d, id(`deep-${i}`))).wait();
      }
      for (let i = 0; i < 2; i++) await p.provider.send("evm_mine", []);
      await caughtUpWith(r);
      const before = await r.store.dumpProjection();
      await p.provider.send("evm_revert", [snapshot]);
      // One block at a time: hardhat_mine reports zero parent hashes inside long runs.
      for (let i = 0; i < 9; i++) await p.provider.send("evm_mine", []);
      const deadline = Date.now() + 20_000;
      while (!r.indexer.halted() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
      expect(r.indexer.halted()).to.match(/deeper than the 2 confirmations|reaches finalized blocks/);
      // Nothing final was rewritten: the projection is what it was before the reorg.
      expect(await r.store.dumpProjection()).to.deep.equal(before);
      await r.stop();
    });

    it("when it halts → records the halt in meta and beats on; when an operator rebuilds → indexes again to the rebuilt projection", async () => {
      const r = start(2);
      await caughtUpWith(r);
      const [payer] = p.payers;
      const [payee] = p.payees;
      const snapshot = await p.provider.send("evm_snapshot", []);
      const orphans: string[] = [];
      for (let i = 0; i < 3; i++) {
        const d = await makeDeal(p, { payer: await payer.getAddress(), payee: await payee.getAddress() });
        await (await p.escrow.connect(payer).open(d, id(`orphan-${i}`))).wait();
        orphans.push(dealIdOf(d));
      }
      for (let i = 0; i < 2; i++) await p.provider.send("evm_mine", []);
      await caughtUpWith(r);
      await p.provider.send("evm_revert", [snapshot]);
      for (let i = 0; i < 9; i++) await p.provider.send("evm_mine", []);
      const deadline = Date.now() + 20_000;
      while ((await r.store.getMeta()).halted === undefined && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 25));
      }
      const halted = await r.store.projectionState();
      expect(halted.meta.halted, "the halt reaches Redis").to.match(
        /deeper than the 2 confirmations|reaches finalized/,
      );
      expect(halted.leaderHead, "a halted leader still beats").to.be.a("number");
      expect(await r.store.getDeal(orphans[0].toLowerCase()), "the orphan is still stored").to.not.equal(undefined);

      // The operator's rebuild: fence the indexer out, reset, hand the lease back.
      const lease = await r.store.seizeLease("operator", 60_000);
      expect(await r.store.resetProjection(lease)).to.be.a("number");
      await r.store.releaseLease(lease);
      // (Not caughtUpWith: the indexer reports its halt until it sees the rebuild.)
      await caughtUp(p.provider, r.store);
      expect(r.indexer.halted(), "the halt is over").to.equal(undefined);
      // The commit that reaches the head comes before the progress write that marks the projection built.
      const until = Date.now() + 20_000;
      while (!(await r.store.getMeta()).built && Date.now() < until) await new Promise((res) => setTimeout(res, 25));
      const meta = await r.store.getMeta();
      expect(meta).to.deep.include({ halted: undefined, rebuilding: undefined, built: true });
      for (const dealId of orphans) expect(await r.store.getDeal(dealId.toLowerCase())).to.equal(undefined);
      expect(await r.store.dumpProjection()).to.deep.equal(await rebuildDump(2));
      await r.stop();
    });

    it("when its lease was seized before it recorded a halt (a rebuild under way) → the halt is dropped, not recorded; leading again, it judges anew", async () => {
      // A long lease: its renewal (every third of it) does not notice the seizure before the reorg is judged.
      const r = startIndexer({
        rpcUrl: node.url,
        deploymentFile,
        redis,
        env: { CONFIRMATIONS: "2", POLL_INTERVAL_MS: "20", LEASE_TTL_MS: "60000", LOG_RANGE_MAX: "40" },
      });
      running.push(r);
      await caughtUpWith(r);
      const [payer] = p.payers;
      const [payee] = p.payees;
      const snapshot = await p.provider.send("evm_snapshot", []);
      const d = await makeDeal(p, { payer: await payer.getAddress(), payee: await payee.getAddress() });
      await (await p.escrow.connect(payer).open(d, id("seized-halt"))).wait();
      for (let i = 0; i < 2; i++) await p.provider.send("evm_mine", []);
      await caughtUpWith(r);
      const operator = await r.store.seizeLease("operator", 60_000);
      await p.provider.send("evm_revert", [snapshot]);
      for (let i = 0; i < 9; i++) await p.provider.send("evm_mine", []);
      await eventually(async () => !r.indexer.isLeader(), 20_000, "the indexer stepping back");
      expect(r.indexer.halted(), "no halt kept").to.equal(undefined);
      expect((await r.store.getMeta()).halted, "no halt recorded").to.equal(undefined);

      await r.store.releaseLease(operator);
      await eventually(async () => (await r.store.getMeta()).halted !== undefined, 20_000, "the halt recorded");
      expect((await r.store.getMeta()).halted).to.match(/deeper than the 2 confirmations|reaches finalized/);
      await r.stop();
    });
  });
});

const ESCROW = "0x" + "e5".repeat(20);
const REGISTRY = "0x" + "7e".repeat(20);

describe("relayer indexer: a failed step (stub chain + Redis)", function () {
  let redis: RedisClient;
  const stores: Store[] = [];

  before(function () {
    redis = testRedis();
  });

  after(async function () {
    for (const store of stores) await store.clear();
    await redis?.quit();
  });

  /** Runs an indexer whose chain fails every `head()` with `error`, and returns its first "indexer step failed" line. */
  async function failedStep(error: Error): Promise<LogLine> {
    const { logger, lines } = capturingLogger("warn");
    const prefix = freshPrefix("idx-fail");
    const common = createCommon(
      parseOptions({ RPC_URL: "http://127.0.0.1:1", DEPLOYMENT: "x", REDIS_PREFIX: prefix, POLL_INTERVAL_MS: "20" }),
      logger,
    );
    const store = createStore({ common, redis, chainId: 31337, escrow: ESCROW });
    stores.push(store);
    const unused = () => Promise.reject(new Error("not used by this test"));
    const chain: Chain = {
      chainId: async () => 31337,
      head: async () => Promise.reject(error),
      block: unused,
      logsInRange: unused,
      logsOfBlock: unused,
      call: unused,
      request: unused,
      simulate: unused,
      close: () => undefined,
    };
    const indexer = createIndexer({
      common,
      chain,
      store,
      sources: { escrow: ESCROW, registry: REGISTRY },
      deploymentBlock: 1,
      holder: "test-failed-step",
    });
    void indexer.start();
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const line = lines.find((l) => l.msg === "indexer step failed");
        if (line) return line;
        if (Date.now() > deadline) throw new Error(`no failed step logged: ${JSON.stringify(lines)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await indexer.stop();
    }
  }

  it("logs a failure that retrying cannot fix with retryable false (NonRetryableError and its subclasses)", async function () {
    for (const error of [
      new NonRetryableError("eth_blockNumber failed: json-rpc error -32601"),
      new ChainClosedError(),
    ]) {
      const line = await failedStep(error);
      expect(line, error.name).to.include({ level: WARN, retryable: false });
      expect((line.err as { type: string }).type, error.name).to.equal(error.name);
    }
  });

  it("logs any other failure with retryable true", async function () {
    for (const error of [new RetryableError("eth_blockNumber failed after 8 attempts"), new Error("redis down")]) {
      expect(await failedStep(error), error.name).to.include({ level: WARN, retryable: true });
    }
  });
});
