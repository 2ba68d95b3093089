/**
 * The submitter against a real Hardhat node with the protocol deployed and a real Redis (a random key prefix per
 * test, removed after): the life of a submission, failures that block nothing, batching into one multicall, fee
 * bumps of a stuck transaction, and crashes (SIGKILL of a child process at each point of sending).
 */
import { deleteKeys } from "../../../relayer/src/redis";
import { keysOf, testRedis, testRedisEnv, type RedisClient } from "../../support/redis";
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { ContractFactory, Interface, Wallet } from "ethers";
import { Escrow__factory } from "../../../typechain-types";
import { createChain } from "../../../relayer/src/chain/chain";
import { createCommon, type Common } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { createSubmitter, type SubmitterDeps } from "../../../relayer/src/submitter/submitter";
import type {
  Call,
  Planner,
  SubmissionRecord,
  Submitter,
  SubmissionView,
  SubmitterOptions,
} from "../../../relayer/src/submitter/types";
import { Action, dealIdOf, makeDeal, signAction, type DealParams, type Protocol } from "../support/activity";
import { fund, mine, minedFrom, noNonceGaps, setAutomine } from "../support/chain-control";
import { startDeployed, type Deployed } from "../support/deployed";
import { capturingLogger } from "../support/logger";
import { spawnSubmitter, type SubmitterProcess } from "../support/submitter-process";
import { decodeError } from "../../../relayer/src/write/calls";

const escrowInterface = new Interface(Escrow__factory.abi);
const MULTICALL = escrowInterface.getFunction("multicall")!.selector;
const FAST: SubmitterOptions = {
  batchWindowMs: 300,
  pollMs: 100,
  leaseMs: 1_500,
  jobLockMs: 1_500,
  stalledIntervalMs: 500,
  bumpAfterMs: 60_000,
};

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("relayer/submitter", function () {
  this.timeout(180_000);
  let d: Deployed;
  let p: Protocol;
  let escrow: string;
  let redis: RedisClient;
  let common: Common;
  const prefixes: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    d = await startDeployed("submitter");
    p = d.p;
    escrow = await p.escrow.getAddress();
    redis = testRedis({ maxRetriesPerRequest: 1 });
    common = createCommon(parseOptions({ RPC_URL: d.node.url, DEPLOYMENT: "x", LOG_LEVEL: "silent" }));
  });

  afterEach(async () => {
    for (const clean of cleanups.splice(0).reverse()) await clean().catch(() => undefined);
    await setAutomine(p.provider, true);
    for (const prefix of prefixes.splice(0)) {
      const keys = await keysOf(redis, `${prefix}*`);
      await deleteKeys(redis, keys);
    }
  });

  after(async () => {
    await redis?.quit();
    await d?.node.stop();
  });

  /** A fresh key prefix (with the hash tag) and a fresh funded relayer key: no state shared between tests. */
  async function fresh(): Promise<{ base: string; key: string; address: string }> {
    const prefix = `test-sub-${randomBytes(4).toString("hex")}`;
    prefixes.push(prefix);
    const wallet = Wallet.createRandom();
    await fund(p.provider, wallet.address);
    return {
      base: `${prefix}:{31337:${escrow.slice(2, 10).toLowerCase()}}:`,
      key: wallet.privateKey,
      address: wallet.address,
    };
  }

  function submitterFor(env: { base: string; key: string }, over: Partial<SubmitterDeps> = {}): Submitter {
    const chain = createChain({ common: over.common ?? common, rpcUrl: d.node.url });
    const submitter = createSubmitter({
      common,
      chain,
      redis,
      base: env.base,
      signerKey: env.key,
      escrow,
      confirmations: 1,
      decodeError,
      ...over,
      options: { ...FAST, ...over.options },
    });
    cleanups.push(async () => {
      await submitter.stop();
      chain.close();
    });
    return submitter;
  }

  /** Opens a payment deal paid by payer `i` to payee `i` (sent by the payer itself). */
  async function openDeal(i = 0): Promise<DealParams> {
    const payer = p.payers[i % p.payers.length];
    const payee = p.payees[i % p.payees.length];
    const deal = await makeDeal(p, { payer: await payer.getAddress(), payee: await payee.getAddress() });
    await (await p.escrow.connect(payer).open(deal, "0x" + "00".repeat(32))).wait();
    return deal;
  }

  async function performCall(deal: DealParams, i = 0): Promise<Call> {
    const payee = p.payees[i % p.payees.length];
    const auth = await signAction(p, payee, dealIdOf(deal), Action.Perform);
    return {
      to: escrow,
      data: escrowInterface.encodeFunctionData("actWithSig", [deal, Action.Perform, await payee.getAddress(), auth]),
    };
  }

  async function settleCall(deal: DealParams, i = 0): Promise<Call> {
    const id = dealIdOf(deal);
    const payeeAuth = await signAction(p, p.payees[i % p.payees.length], id, Action.Perform);
    const payerAuth = await signAction(p, p.payers[i % p.payers.length], id, Action.Release);
    return { to: escrow, data: escrowInterface.encodeFunctionData("settleWithSigs", [deal, payeeAuth, payerAuth]) };
  }

  const statusOf = async (deal: DealParams) => Number((await p.escrow.getDeal(dealIdOf(deal))).status);

  const viewWhen = (s: Submitter, id: string, test: (v: SubmissionView) => boolean, ms?: number) =>
    until(
      `submission ${id}`,
      async () => {
        const v = await s.get(id);
        return v && test(v) ? v : undefined;
      },
      ms,
    );

  describe("one submission", () => {
    it("an actWithSig submission → queued, sent, mined, then final at the confirmation depth", async () => {
      const env = await fresh();
      const s = submitterFor(env, { confirmations: 3 });
      const deal = await openDeal(0);
      const queued = await s.submit({ kind: "perform", dealId: dealIdOf(deal), call: await performCall(deal) });
      expect(queued.status).to.equal("queued");
      expect(queued.transactions).to.deep.equal([]);
      const startBlock = await p.provider.getBlockNumber();
      await s.start();
      const mined = await viewWhen(s, queued.id, (v) => v.status === "mined");
      expect(mined.transactions).to.have.length(1);
      expect(mined.transactionHash).to.equal(mined.transactions[0].hash);
      expect(mined.confirmations).to.be.lessThan(3);
      expect(await statusOf(deal)).to.equal(2); // Performed
      await mine(p.provider, 2);
      const final = await viewWhen(s, queued.id, (v) => v.status === "final");
      expect(final.confirmations).to.be.at.least(3);
      expect(BigInt(final.gasUsed!)).to.be.greaterThan(0n);
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs.map((t) => t.hash)).to.deep.equal([final.transactionHash]);
    });

    it("the same id submitted twice → one submission and one transaction", async () => {
      const env = await fresh();
      const s = submitterFor(env);
      const deal = await openDeal(1);
      const call = await performCall(deal, 1);
      const first = await s.submit({ id: "sub_twice", kind: "perform", call });
      const again = await s.submit({ id: "sub_twice", kind: "other", call });
      expect(again).to.deep.equal(first);
      const startBlock = await p.provider.getBlockNumber();
      await s.start();
      await viewWhen(s, "sub_twice", (v) => v.status === "final");
      expect(await minedFrom(p.provider, env.address, startBlock)).to.have.length(1);
    });

    it("an unknown id → undefined; a malformed request → TypeError and nothing stored", async () => {
      const env = await fresh();
      const s = submitterFor(env);
      expect(await s.get("sub_nope")).to.equal(undefined);
      expect(await s.get("../../etc")).to.equal(undefined);
      let error: unknown;
      try {
        await s.submit({ kind: "perform", call: { to: "0x12", data: "0x" } });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(TypeError);
      expect(await keysOf(redis, `${env.base.split(":")[0]}*`)).to.deep.equal([]);
    });
  });

  describe("failures", () => {
    it("a reverting call → failed with the decoded custom error, and the next one in the window still goes", async () => {
      const env = await fresh();
      const s = submitterFor(env);
      const deal = await openDeal(2);
      const good = await performCall(deal, 2);
      // The payer is not the party of a Perform: the escrow refuses with EscrowUnauthorized.
      const payer = p.payers[2];
      const auth = await signAction(p, payer, dealIdOf(deal), Action.Perform);
      const bad = {
        to: escrow,
        data: escrowInterface.encodeFunctionData("actWithSig", [deal, Action.Perform, await payer.getAddress(), auth]),
      };
      const startBlock = await p.provider.getBlockNumber();
      const failing = await s.submit({ kind: "perform", call: bad });
      const passing = await s.submit({ kind: "perform", call: good });
      await s.start();
      const failed = await viewWhen(s, failing.id, (v) => v.status === "failed");
      expect(failed.error?.name).to.equal("EscrowUnauthorized");
      expect(failed.error?.args?.caller?.toLowerCase()).to.equal((await payer.getAddress()).toLowerCase());
      expect(failed.transactions).to.deep.equal([]);
      await viewWhen(s, passing.id, (v) => v.status === "final");
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs).to.have.length(1);
      expect(txs[0].input.startsWith(escrowInterface.getFunction("actWithSig")!.selector)).to.equal(true);
    });

    it("two calls that pass alone but not together → the batch is halved: one lands, the other fails decoded", async () => {
      const env = await fresh();
      const s = submitterFor(env);
      const deal = await openDeal(3);
      const a = await s.submit({ kind: "settle", call: await settleCall(deal, 3) });
      const b = await s.submit({ kind: "settle", call: await settleCall(deal, 3) });
      await s.start();
      const views = await Promise.all(
        [a.id, b.id].map((id) => viewWhen(s, id, (v) => v.status === "final" || v.status === "failed")),
      );
      expect(views.map((v) => v.status).sort()).to.deep.equal(["failed", "final"]);
      expect(views.find((v) => v.status === "failed")!.error?.name).to.equal("EscrowWrongStatus");
      expect(await statusOf(deal)).to.equal(3); // Released
    });
  });

  describe("reverted on chain", () => {
    /** Settles `deal` from its payee with a tip far above the submitter's, into the node's pool (automine off). */
    async function settleFirst(deal: DealParams, i: number): Promise<void> {
      const call = await settleCall(deal, i);
      await p.payees[i % p.payees.length].sendTransaction({
        to: escrow,
        data: call.data,
        gasLimit: 500_000n,
        maxFeePerGas: 1_000n * 10n ** 9n,
        maxPriorityFeePerGas: 500n * 10n ** 9n,
      });
    }

    it("a sent call that another transaction beats in its block → failed with the decoded error; the next one goes", async () => {
      const env = await fresh();
      const s = submitterFor(env);
      const deal = await openDeal(0);
      await setAutomine(p.provider, false);
      const startBlock = (await p.provider.getBlockNumber()) + 1;
      await s.start();
      const sub = await s.submit({ kind: "settle", call: await settleCall(deal, 0) });
      const sent = await viewWhen(s, sub.id, (v) => v.status === "sent");
      await settleFirst(deal, 0);
      await mine(p.provider, 1);
      const failed = await viewWhen(s, sub.id, (v) => v.status === "failed");
      expect(failed.error?.name).to.equal("EscrowWrongStatus");
      expect(failed.transactionHash).to.equal(sent.transactions[0].hash);
      await setAutomine(p.provider, true);
      const other = await openDeal(1);
      const next = await s.submit({ kind: "perform", call: await performCall(other, 1) });
      await viewWhen(s, next.id, (v) => v.status === "final");
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs.map((t) => t.nonce)).to.deep.equal([0, 1]);
    });

    it("a multicall that reverts on chain → its members go back to the queue once: the beaten one fails, the other lands", async () => {
      const env = await fresh();
      const s = submitterFor(env);
      const [dealA, dealB] = [await openDeal(2), await openDeal(3)];
      await setAutomine(p.provider, false);
      const startBlock = (await p.provider.getBlockNumber()) + 1;
      const a = await s.submit({ kind: "settle", call: await settleCall(dealA, 2) });
      const b = await s.submit({ kind: "settle", call: await settleCall(dealB, 3) });
      await s.start();
      const sentA = await viewWhen(s, a.id, (v) => v.status === "sent");
      expect((await s.get(b.id))!.transactions.map((t) => t.hash)).to.deep.equal([sentA.transactions[0].hash]);
      await settleFirst(dealA, 2);
      await mine(p.provider, 1);
      await setAutomine(p.provider, true);
      const failed = await viewWhen(s, a.id, (v) => v.status === "failed");
      expect(failed.error?.name).to.equal("EscrowWrongStatus");
      const final = await viewWhen(s, b.id, (v) => v.status === "final");
      expect(final.transactions).to.have.length(2);
      expect(final.transactionHash).to.equal(final.transactions[1].hash);
      expect(await statusOf(dealB)).to.equal(3);
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs.map((t) => t.nonce)).to.deep.equal([0, 1]);
      expect(txs[0].input.startsWith(MULTICALL)).to.equal(true);
    });
  });

  describe("planner and merge keys", () => {
    /** Merges a payee's actWithSig perform and the payer's release of one deal (same merge key) into settleWithSigs. */
    const settlePlanner: Planner = async (queued) => {
      const byKey = new Map<string, SubmissionRecord[]>();
      for (const r of queued) if (r.merge) byKey.set(r.merge.key, [...(byKey.get(r.merge.key) ?? []), r]);
      const plans = [];
      for (const group of byKey.values()) {
        const decoded = group.map((r) => ({ r, args: escrowInterface.decodeFunctionData("actWithSig", r.call.data) }));
        const perform = decoded.find((x) => Number(x.args[1]) === Action.Perform);
        const release = decoded.find((x) => Number(x.args[1]) === Action.Release);
        if (!perform || !release) continue; // wait for the other party
        const data = escrowInterface.encodeFunctionData("settleWithSigs", [
          perform.args[0],
          perform.args[3],
          release.args[3],
        ]);
        plans.push({ submissionIds: [perform.r.id, release.r.id], call: { to: escrow, data } });
      }
      return plans;
    };

    it("a perform and a release with one merge key, taken in different rounds → one settleWithSigs for both", async () => {
      const env = await fresh();
      const s = submitterFor(env, { planner: settlePlanner, options: { maxBatch: 1 } });
      const deal = await openDeal(0);
      const id = dealIdOf(deal);
      const payer = p.payers[0];
      const release = await signAction(p, payer, id, Action.Release);
      const releaseCall = {
        to: escrow,
        data: escrowInterface.encodeFunctionData("actWithSig", [
          deal,
          Action.Release,
          await payer.getAddress(),
          release,
        ]),
      };
      const startBlock = await p.provider.getBlockNumber();
      await s.start();
      const a = await s.submit({ kind: "perform", dealId: id, merge: { key: id }, call: await performCall(deal, 0) });
      await new Promise((resolve) => setTimeout(resolve, 600)); // a round passes with the perform alone: held
      expect((await s.get(a.id))!.status).to.equal("queued");
      const b = await s.submit({ kind: "release", dealId: id, merge: { key: id }, call: releaseCall });
      const [va, vb] = await Promise.all([a.id, b.id].map((x) => viewWhen(s, x, (v) => v.status === "final")));
      expect(va.transactionHash).to.equal(vb.transactionHash);
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs).to.have.length(1);
      expect(txs[0].input.startsWith(escrowInterface.getFunction("settleWithSigs")!.selector)).to.equal(true);
      expect(await statusOf(deal)).to.equal(3);
    });
  });

  describe("batching", () => {
    it("N settlements queued in one window → one multicall transaction, and gas per settlement ≤ 0.75 of each sent alone", async () => {
      const N = 6;
      const env = await fresh();
      const s = submitterFor(env, { options: { batchWindowMs: 1_000 } });
      const deals: DealParams[] = [];
      for (let i = 0; i < 2 * N; i++) deals.push(await openDeal(i));
      const calls = await Promise.all(deals.map((deal, i) => settleCall(deal, i)));
      // Baseline: the first N settled by their payees, each sending its own settleWithSigs.
      let baseline = 0n;
      for (let i = 0; i < N; i++) {
        const tx = await p.payees[i % p.payees.length].sendTransaction({ to: escrow, data: calls[i].data });
        baseline += (await tx.wait())!.gasUsed;
      }
      const startBlock = await p.provider.getBlockNumber();
      await s.start();
      const ids = [];
      for (let i = N; i < 2 * N; i++) ids.push((await s.submit({ kind: "settle", call: calls[i] })).id);
      const views = await Promise.all(ids.map((id) => viewWhen(s, id, (v) => v.status === "final")));
      const hashes = new Set(views.map((v) => v.transactionHash));
      expect(hashes.size).to.equal(1);
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs).to.have.length(1);
      expect(txs[0].input.startsWith(MULTICALL)).to.equal(true);
      for (const deal of deals) expect(await statusOf(deal)).to.equal(3);
      const ratio = Number(BigInt(views[0].gasUsed!)) / Number(baseline);
      expect(ratio).to.be.at.most(0.75);
    });
  });

  describe("interval mining", () => {
    it("40 settlements posted at once on a chain mining every 500 ms → a few multicalls, each final once, no gap", async () => {
      const env = await fresh();
      const s = submitterFor(env);
      const deals: DealParams[] = [];
      for (let i = 0; i < 40; i++) deals.push(await openDeal(i));
      const calls = await Promise.all(deals.map((deal, i) => settleCall(deal, i)));
      await s.start();
      await setAutomine(p.provider, false);
      await p.provider.send("evm_setIntervalMining", [500]);
      cleanups.push(() => p.provider.send("evm_setIntervalMining", [0]));
      const startBlock = await p.provider.getBlockNumber();
      const ids = await Promise.all(calls.map(async (call) => (await s.submit({ kind: "settle", call })).id));
      const views = await Promise.all(ids.map((id) => viewWhen(s, id, (v) => v.status === "final", 60_000)));
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs.length).to.be.at.most(3);
      expect(new Set(views.map((v) => v.transactionHash)).size).to.equal(txs.length);
      expect(await noNonceGaps(p.provider, env.address, txs)).to.equal(true);
      for (const deal of deals) expect(await statusOf(deal)).to.equal(3);
    });
  });

  describe("secrets", () => {
    it("the relayer's key → in no log line, even at debug", async () => {
      const env = await fresh();
      const { logger, lines } = capturingLogger("debug");
      const logged = createCommon(parseOptions({ RPC_URL: d.node.url, DEPLOYMENT: "x", LOG_LEVEL: "debug" }), logger);
      const s = submitterFor(env, { common: logged });
      await s.start();
      const deal = await openDeal(0);
      const bad = await s.submit({ kind: "perform", call: { to: escrow, data: "0xdeadbeef" } });
      const good = await s.submit({ kind: "perform", call: await performCall(deal, 0) });
      await viewWhen(s, bad.id, (v) => v.status === "failed");
      await viewWhen(s, good.id, (v) => v.status === "final");
      expect(lines.some((l) => l.msg === "transaction recorded")).to.equal(true);
      const text = JSON.stringify(lines).toLowerCase();
      expect(text).to.not.contain(env.key.slice(2).toLowerCase());
    });
  });

  describe("fee bumps", () => {
    it("a transaction not mined in bumpAfterMs → replaced at the same nonce with fees +12.5%, both hashes listed, one mined", async () => {
      const env = await fresh();
      const s = submitterFor(env, { options: { bumpAfterMs: 700 } });
      const deal = await openDeal(4);
      await setAutomine(p.provider, false);
      const startBlock = (await p.provider.getBlockNumber()) + 1;
      const sub = await s.submit({ kind: "perform", call: await performCall(deal, 4) });
      await s.start();
      const bumped = await viewWhen(s, sub.id, (v) => v.transactions.length >= 2);
      const [first, second] = bumped.transactions;
      expect(second.nonce).to.equal(first.nonce);
      expect(second.hash).to.not.equal(first.hash);
      expect(BigInt(second.maxFeePerGas) * 1000n).to.be.at.least(BigInt(first.maxFeePerGas) * 1125n);
      expect(BigInt(second.maxPriorityFeePerGas) * 1000n).to.be.at.least(BigInt(first.maxPriorityFeePerGas) * 1125n);
      expect(bumped.status).to.equal("sent");
      await mine(p.provider, 1);
      const final = await viewWhen(s, sub.id, (v) => v.status === "final");
      expect(final.id).to.equal(sub.id);
      expect(final.transactions.map((t) => t.hash)).to.include(final.transactionHash);
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs).to.have.length(1);
      expect(txs[0].hash).to.equal(final.transactionHash);
      expect(await statusOf(deal)).to.equal(2);
    });
  });

  describe("nonces and leadership", () => {
    it("a transaction of the relayer's key sent elsewhere → the submitter re-syncs and its submission lands, no gap", async () => {
      const env = await fresh();
      const s = submitterFor(env);
      const startBlock = await p.provider.getBlockNumber();
      await s.start();
      const dealA = await openDeal(0);
      const first = await s.submit({ kind: "perform", call: await performCall(dealA, 0) });
      await viewWhen(s, first.id, (v) => v.status === "final");
      // Someone else uses the key: nonce 1 is gone when the submitter next signs.
      const foreign = new Wallet(env.key, p.provider);
      await (await foreign.sendTransaction({ to: env.address, value: 0n })).wait();
      const dealB = await openDeal(1);
      const second = await s.submit({ kind: "perform", call: await performCall(dealB, 1) });
      const final = await viewWhen(s, second.id, (v) => v.status === "final", 60_000);
      expect(final.transactions.at(-1)!.nonce).to.equal(2);
      expect(await statusOf(dealB)).to.equal(2);
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs.map((t) => t.nonce)).to.deep.equal([0, 1, 2]);
      expect(await noNonceGaps(p.provider, env.address, txs)).to.equal(true);
    });

    it("two submitters started on one key → one leads; every submission lands once, no gap", async () => {
      const env = await fresh();
      const a = submitterFor(env);
      const b = submitterFor(env);
      const startBlock = await p.provider.getBlockNumber();
      await Promise.all([a.start(), b.start()]);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const deal = await openDeal(i);
        const via = i % 2 === 0 ? a : b;
        ids.push((await via.submit({ kind: "perform", call: await performCall(deal, i) })).id);
        await new Promise((resolve) => setTimeout(resolve, 400)); // one round each
      }
      const views = await Promise.all(ids.map((id) => viewWhen(a, id, (v) => v.status === "final")));
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs).to.have.length(new Set(views.map((v) => v.transactionHash)).size);
      expect(await noNonceGaps(p.provider, env.address, txs)).to.equal(true);
    });
  });

  describe("gas budget", () => {
    /** A budget in memory: what the submitter reserves and settles is recorded (H1's Redis budget is theirs). */
    function memoryBudget(limit: bigint) {
      const spent = new Map<string, bigint>();
      const settled: { keyId: string; reserved: bigint; used: bigint }[] = [];
      return {
        spent,
        settled,
        async reserve(keyId: string, gas: bigint) {
          const now = spent.get(keyId) ?? 0n;
          if (now + gas > limit) return { ok: false as const, remaining: limit - now, resetsAt: 0 };
          spent.set(keyId, now + gas);
          return { ok: true as const };
        },
        async settle(keyId: string, reserved: bigint, used: bigint) {
          settled.push({ keyId, reserved, used });
          spent.set(keyId, (spent.get(keyId) ?? 0n) - reserved + used);
        },
      };
    }

    it("a key whose budget covers the call → reserved before sending, settled with the gas used", async () => {
      const env = await fresh();
      const budget = memoryBudget(10_000_000n);
      const s = submitterFor(env, { budget });
      await s.start();
      const deal = await openDeal(5);
      const sub = await s.submit({ kind: "perform", keyId: "key_a", call: await performCall(deal, 5) });
      const final = await viewWhen(s, sub.id, (v) => v.status === "final");
      expect(budget.settled).to.have.length(1);
      expect(budget.settled[0].keyId).to.equal("key_a");
      expect(budget.settled[0].used).to.equal(BigInt(final.gasUsed!));
      expect(budget.settled[0].reserved).to.be.greaterThan(budget.settled[0].used);
      expect(budget.spent.get("key_a")).to.equal(BigInt(final.gasUsed!));
    });

    it("a key over its budget → failed GasBudgetExceeded, nothing sent, and the operator's submission still goes", async () => {
      const env = await fresh();
      const budget = memoryBudget(1_000n);
      const s = submitterFor(env, { budget });
      const startBlock = await p.provider.getBlockNumber();
      const [dealA, dealB] = [await openDeal(0), await openDeal(1)];
      const charged = await s.submit({ kind: "perform", keyId: "key_poor", call: await performCall(dealA, 0) });
      const operator = await s.submit({ kind: "perform", call: await performCall(dealB, 1) });
      await s.start();
      const refused = await viewWhen(s, charged.id, (v) => v.status === "failed");
      expect(refused.error?.name).to.equal("GasBudgetExceeded");
      expect(refused.transactions).to.deep.equal([]);
      const final = await viewWhen(s, operator.id, (v) => v.status === "final");
      expect(await minedFrom(p.provider, env.address, startBlock)).to.have.length(1);
      expect(final.transactionHash).to.be.a("string");
      expect(await statusOf(dealA)).to.equal(1); // still Open
    });
  });

  describe("preludes", () => {
    it("a prelude whose address has no code → sent first in its own transaction, then the call; with code → skipped", async () => {
      const env = await fresh();
      const artifact =
        await import("@safe-global/safe-contracts/build/artifacts/contracts/proxies/SafeProxyFactory.sol/SafeProxyFactory.json");
      const factory = await new ContractFactory(artifact.abi, artifact.bytecode, p.owner).deploy();
      await factory.waitForDeployment();
      const factoryAddress = await factory.getAddress();
      const create = factory.interface.encodeFunctionData("createProxyWithNonce", [escrow, "0x", 7n]);
      const predicted = factory.interface.decodeFunctionResult(
        "createProxyWithNonce",
        await p.provider.call({ to: factoryAddress, data: create }),
      )[0] as string;
      expect(await p.provider.getCode(predicted)).to.equal("0x");
      const s = submitterFor(env);
      const startBlock = await p.provider.getBlockNumber();
      await s.start();
      const dealA = await openDeal(0);
      const prelude = { to: factoryAddress, data: create, unlessCodeAt: predicted };
      const first = await s.submit({ kind: "perform", call: await performCall(dealA, 0), prelude });
      await viewWhen(s, first.id, (v) => v.status === "final");
      expect(await p.provider.getCode(predicted)).to.not.equal("0x");
      const dealB = await openDeal(1);
      const second = await s.submit({ kind: "perform", call: await performCall(dealB, 1), prelude });
      await viewWhen(s, second.id, (v) => v.status === "final");
      const txs = await minedFrom(p.provider, env.address, startBlock);
      expect(txs.map((t) => t.to.toLowerCase())).to.deep.equal(
        [factoryAddress, escrow, escrow].map((a) => a.toLowerCase()),
      );
      expect(await noNonceGaps(p.provider, env.address, txs)).to.equal(true);
    });
  });

  describe("crashes (SIGKILL of the submitter's process)", () => {
    const crashes = [
      { at: "afterTake", when: "between queued and sent (jobs taken, nothing recorded)", automine: true },
      { at: "afterRecord", when: "between queued and sent (signed and recorded, not broadcast)", automine: true },
      { at: "afterBroadcast", when: "between sent and mined (broadcast, not mined)", automine: false },
    ] as const;
    for (const crash of crashes) {
      it(`killed ${crash.when} → after restart each submission completes exactly once, no nonce gap`, async () => {
        const env = await fresh();
        const childEnv = {
          RPC_URL: d.node.url,
          ...testRedisEnv(),
          SUBMITTER_BASE: env.base,
          SUBMITTER_KEY: env.key,
          ESCROW: escrow,
          CONFIRMATIONS: "1",
          SUBMITTER_OPTIONS: JSON.stringify(FAST),
        };
        const deals = [await openDeal(0), await openDeal(1), await openDeal(2)];
        const client = submitterFor(env); // submits only: never started
        if (!crash.automine) await setAutomine(p.provider, false);
        const startBlock = (await p.provider.getBlockNumber()) + 1;
        const ids: string[] = [];
        for (const [i, deal] of deals.entries()) {
          ids.push((await client.submit({ kind: "settle", call: await settleCall(deal, i) })).id);
        }
        let child: SubmitterProcess | undefined = await spawnSubmitter({ ...childEnv, CRASH_AT: crash.at });
        cleanups.push(() => child!.kill());
        expect(await child.exited).to.equal("SIGKILL");
        expect(child.logs.map((l) => l.msg)).to.include("crashing");
        if (!crash.automine) {
          await setAutomine(p.provider, true);
          // nothing was mined by the crashed process: the transaction waits in the node's pool
          expect(await minedFrom(p.provider, env.address, startBlock)).to.have.length(0);
        }
        child = await spawnSubmitter(childEnv);
        if (!crash.automine) await mine(p.provider, 1);
        const views = await Promise.all(ids.map((id) => viewWhen(client, id, (v) => v.status === "final", 60_000)));
        for (const deal of deals) expect(await statusOf(deal)).to.equal(3);
        const txs = await minedFrom(p.provider, env.address, startBlock);
        expect(txs).to.have.length(1);
        expect(new Set(views.map((v) => v.transactionHash))).to.deep.equal(new Set([txs[0].hash]));
        expect(await noNonceGaps(p.provider, env.address, txs)).to.equal(true);
        for (const v of views) expect(v.transactions).to.have.length(1);
      });
    }
  });
});
