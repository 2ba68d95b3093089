/**
 * The chain adapter against a real Hardhat node (no mocks of the chain): directly, through a proxy that fails and
 * delays requests like public RPC providers, against a dead port and against a server that never answers.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { id, makeError, Wallet, type FetchResponse, type Log } from "ethers";
import {
  classifyError,
  createChain,
  DEFAULT_BACKOFF,
  INITIAL_LOG_SPAN,
  type Backoff,
  type EthersChain,
} from "../../../relayer/src/chain/chain";
import type { RawLog } from "../../../relayer/src/chain/types";
import { ChainClosedError, NonRetryableError, NotFoundError, RetryableError } from "../../../relayer/src/errors";
import { createCommon, type Common } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { GatewayRegistry__factory, TestUSDT__factory } from "../../../typechain-types";
import { startFaultyProxy, type FaultyProxy } from "../support/faulty-proxy";
import { deployToNode, freePort, startHardhatNode, type HardhatNode } from "../support/node";

/** Backoff for tests: the real policy's shape, in milliseconds instead of seconds. */
const FAST: Partial<Backoff> = { initialMs: 1, maxMs: 5 };
const LOG_RANGE_MAX = 4_000;

function makeCommon(rpcUrl: string, env: Record<string, string> = {}): Common {
  return createCommon(
    parseOptions({
      RPC_URL: rpcUrl,
      DEPLOYMENT: "x",
      LOG_LEVEL: "silent",
      LOG_RANGE_MAX: String(LOG_RANGE_MAX),
      ...env,
    }),
  );
}

/** `relayer_rpc_errors_total` as { "method/kind": count }. */
async function rpcErrors(common: Common): Promise<Record<string, number>> {
  const metric = await common.metrics.rpcErrors.get();
  const counts: Record<string, number> = {};
  for (const { labels, value } of metric.values) counts[`${labels.method}/${labels.kind}`] = value;
  return counts;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** An ethers Log in the adapter's shape (ethers keeps the node's lower-case hashes; addresses are checksummed). */
const toRaw = (log: Log): RawLog => ({
  address: log.address,
  topics: [...log.topics],
  data: log.data,
  blockNumber: log.blockNumber,
  blockHash: log.blockHash.toLowerCase(),
  transactionHash: log.transactionHash.toLowerCase(),
  index: log.index,
});

/** Calls logsInRange until `to` is covered; checks that the covered ranges are contiguous. */
async function collect(chain: EthersChain, addresses: string[], from: number, to: number) {
  const logs: RawLog[] = [];
  const ends: number[] = [];
  for (let next = from; next <= to;) {
    const result = await chain.logsInRange(addresses, next, to);
    expect(result.to).to.be.within(next, to);
    logs.push(...result.logs);
    ends.push(result.to);
    next = result.to + 1;
  }
  return { logs, ends };
}

/** An HTTP server that accepts requests and never answers them. */
async function startSilentServer(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer(() => requests++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe("relayer chain adapter (createChain)", function () {
  this.timeout(180_000);

  let node: HardhatNode;
  let dir: string;
  let addresses: string[];
  let head: number;
  /** Every log of `addresses` from block 0 to `head`, as the node returns them to ethers. */
  let expected: RawLog[];
  const chains: EthersChain[] = [];

  /** A chain adapter that the suite closes after each test. */
  function track(chain: EthersChain): EthersChain {
    chains.push(chain);
    return chain;
  }

  before(async function () {
    node = await startHardhatNode();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "relayer-chain-"));
    const deployment = JSON.parse(fs.readFileSync(await deployToNode(node.url, dir), "utf8"));
    const { provider } = node;
    const owner = await provider.getSigner(0);
    const registry = GatewayRegistry__factory.connect(deployment.contracts.GatewayRegistry.address, owner);
    const usdt = TestUSDT__factory.connect(deployment.contracts.TestUSDT.address, owner);
    const registryAddress = await registry.getAddress();
    const minBond = await registry.minBond();
    const mine = (blocks: number) => provider.send("hardhat_mine", [`0x${blocks.toString(16)}`]);
    const registerGateway = async (index: number) => {
      const gateway = await provider.getSigner(index);
      await (await usdt.mint(gateway.address, minBond)).wait();
      await (await usdt.connect(gateway).approve(registryAddress, minBond)).wait();
      await (await registry.connect(gateway).registerGateway(minBond, 50, id(`gateway ${index}`))).wait();
      await (await registry.approveGateway(gateway.address, 300)).wait();
    };

    // Events spread over ~5,600 blocks, with long empty stretches in between.
    await (await registry.setTokenAllowed(Wallet.createRandom().address, true)).wait();
    await mine(700);
    await registerGateway(1);
    await mine(1_500);
    await registerGateway(2);
    await mine(3_000);
    await registerGateway(3);
    await (await registry.setTokenAllowed(Wallet.createRandom().address, true)).wait();
    await mine(300);

    addresses = [
      deployment.contracts.GatewayRegistry.address,
      deployment.contracts.Escrow.address,
      usdt.target as string,
    ];
    head = await provider.getBlockNumber();
    expected = (await provider.getLogs({ address: addresses, fromBlock: 0, toBlock: head })).map(toRaw);
    // The set-up must give the tests logs to compare: several in one block, spread over thousands of blocks.
    expect(head).to.be.greaterThan(5_500);
    expect(expected.length).to.be.greaterThan(15);
    const blocks = expected.map((l) => l.blockNumber);
    expect(new Set(blocks).size).to.be.lessThan(blocks.length);
    expect(blocks[blocks.length - 1] - blocks[0]).to.be.greaterThan(5_000);
  });

  afterEach(function () {
    for (const chain of chains.splice(0)) chain.close();
  });

  after(async function () {
    await node?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("directly against the node", function () {
    let common: Common;
    let chain: EthersChain;

    beforeEach(function () {
      common = makeCommon(node.url);
      chain = track(createChain({ common, rpcUrl: node.url }));
    });

    describe("chainId and head", function () {
      it("reads the chain id and the latest block number", async function () {
        expect(await chain.chainId()).to.equal(Number((await node.provider.getNetwork()).chainId));
        expect(await chain.chainId()).to.equal(31337);
        expect(await chain.head()).to.equal(await node.provider.getBlockNumber());
      });

      it("follows new blocks", async function () {
        const before = await chain.head();
        await node.provider.send("hardhat_mine", ["0x3"]);
        expect(await chain.head()).to.equal(before + 3);
      });
    });

    describe("block", function () {
      it("returns number, hash, parent hash and timestamp as the node has them, in lower case", async function () {
        for (const n of [0, 1, 700, 2_500, head]) {
          const header = await chain.block(n);
          const block = await node.provider.getBlock(n);
          expect(header).to.deep.equal({
            number: n,
            hash: block!.hash!.toLowerCase(),
            parentHash: block!.parentHash.toLowerCase(),
            timestamp: block!.timestamp,
          });
          expect(header.hash).to.equal(header.hash.toLowerCase());
        }
      });

      it("chains each header to the previous one by parent hash", async function () {
        // Blocks mined one by one: Hardhat reports parentHash 0x0 inside a multi-block hardhat_mine.
        for (let i = 0; i < 20; i++) await node.provider.send("evm_mine", []);
        const last = await chain.head();
        let previous = await chain.block(last - 20);
        for (let n = last - 19; n <= last; n++) {
          const header = await chain.block(n);
          expect(header.parentHash).to.equal(previous.hash);
          expect(header.hash).to.not.equal(previous.hash);
          previous = header;
        }
      });

      it("throws NotFoundError for a block the node does not have yet, without counting an RPC error", async function () {
        const future = (await chain.head()) + 1_000;
        const error: Error = await expect(chain.block(future)).to.be.rejected;
        expect(error).to.be.instanceOf(NotFoundError);
        expect(error.message).to.contain(String(future));
        expect(total(await rpcErrors(common))).to.equal(0);
      });

      it("rejects a block number that is not a non-negative integer", async function () {
        await expect(chain.block(-1)).to.be.rejectedWith(RangeError);
        await expect(chain.block(1.5)).to.be.rejectedWith(RangeError);
      });
    });

    describe("logsInRange", function () {
      it("returns exactly the logs that provider.getLogs returns, in the same order", async function () {
        const { logs, ends } = await collect(chain, addresses, 0, head);
        expect(logs).to.deep.equal(expected);
        // 16, 32, 64, ... blocks (the logs per response stay far below the target), then LOG_RANGE_MAX
        const want: number[] = [];
        for (let from = 0, span = INITIAL_LOG_SPAN; from <= head; span = Math.min(LOG_RANGE_MAX, span * 2)) {
          want.push(Math.min(head, from + span - 1));
          from = want.at(-1)! + 1;
        }
        expect(ends).to.deep.equal(want);
      });

      it("sorts by block then log index, with lower-case hashes and numeric positions", async function () {
        const { logs } = await collect(chain, addresses, 0, head);
        for (let i = 1; i < logs.length; i++) {
          const [a, b] = [logs[i - 1], logs[i]];
          expect(a.blockNumber < b.blockNumber || (a.blockNumber === b.blockNumber && a.index < b.index)).to.equal(
            true,
          );
        }
        for (const log of logs) {
          expect(log.blockHash).to.match(/^0x[0-9a-f]{64}$/);
          expect(log.transactionHash).to.match(/^0x[0-9a-f]{64}$/);
          expect(log.index).to.be.a("number");
          expect(log.blockNumber).to.be.a("number");
        }
      });

      it("covers at most the current span per call, doubling it after each success up to LOG_RANGE_MAX", async function () {
        expect(chain.span()).to.equal(INITIAL_LOG_SPAN);
        const first = await chain.logsInRange(addresses, 0, head);
        expect(first.to).to.equal(INITIAL_LOG_SPAN - 1);
        expect(first.logs).to.deep.equal(expected.filter((l) => l.blockNumber <= first.to));
        expect(chain.span()).to.equal(2 * INITIAL_LOG_SPAN);
        for (let span = 2 * INITIAL_LOG_SPAN; span < LOG_RANGE_MAX;) {
          await chain.logsInRange(addresses, 0, 10);
          span = Math.min(LOG_RANGE_MAX, span * 2);
          expect(chain.span()).to.equal(span);
        }
      });

      it("narrows the span in proportion after a response above the target log count", async function () {
        const target = 4;
        const narrow = track(createChain({ common, rpcUrl: node.url, targetLogsPerRequest: target }));
        const first = await narrow.logsInRange(addresses, 0, head);
        expect(first.to).to.equal(INITIAL_LOG_SPAN - 1);
        const n = expected.filter((l) => l.blockNumber <= first.to).length;
        expect(n).to.be.greaterThan(target);
        expect(narrow.span()).to.equal(Math.max(1, Math.floor((INITIAL_LOG_SPAN * target) / n)));
        // the whole range still comes back exactly, in narrower requests
        const { logs, ends } = await collect(narrow, addresses, 0, head);
        expect(logs).to.deep.equal(expected);
        expect(ends.length).to.be.greaterThan(2);
      });

      it("filters by address, accepting any letter case", async function () {
        const registry = addresses[0];
        const { logs } = await collect(chain, [registry.toUpperCase().replace("0X", "0x")], 0, head);
        expect(logs).to.deep.equal(expected.filter((l) => l.address === registry));
        expect(logs).to.not.be.empty;
      });

      it("returns a single block's logs when from = to, and none for an empty address list", async function () {
        const block = expected[expected.length - 1].blockNumber;
        const result = await chain.logsInRange(addresses, block, block);
        expect(result).to.deep.equal({ logs: expected.filter((l) => l.blockNumber === block), to: block });
        expect(await chain.logsInRange([], 0, head)).to.deep.equal({ logs: [], to: head });
      });

      it("rejects from > to", async function () {
        await expect(chain.logsInRange(addresses, 10, 9)).to.be.rejectedWith(RangeError);
      });
    });

    describe("logsOfBlock", function () {
      it("returns the logs of exactly that block", async function () {
        const blocks = [...new Set(expected.map((l) => l.blockHash))];
        for (const hash of blocks) {
          expect(await chain.logsOfBlock(addresses, hash)).to.deep.equal(expected.filter((l) => l.blockHash === hash));
        }
      });

      it("returns no logs for a block without any, and none for an empty address list", async function () {
        const empty = await chain.block(head - 1);
        expect(await chain.logsOfBlock(addresses, empty.hash)).to.deep.equal([]);
        expect(await chain.logsOfBlock([], expected[0].blockHash)).to.deep.equal([]);
      });

      it("throws NotFoundError for a block hash the node does not know", async function () {
        const error: Error = await expect(chain.logsOfBlock(addresses, id("no such block"))).to.be.rejected;
        expect(error).to.be.instanceOf(NotFoundError);
        expect(await rpcErrors(common)).to.deep.equal({ "eth_getLogs/not_found": 1 });
      });

      it("rejects a block hash that is not 32 bytes of hex", async function () {
        await expect(chain.logsOfBlock(addresses, "0x1234")).to.be.rejectedWith(RangeError);
      });
    });

    describe("call", function () {
      const ESCROW_WORD = (address: string) => address.toLowerCase().slice(2).padStart(64, "0");
      it("returns what the function returns, in lower case", async function () {
        const usdt = addresses[2];
        const decimals = await chain.call(usdt, id("decimals()").slice(0, 10));
        expect(decimals).to.equal("0x" + "6".padStart(64, "0"));
        const listed = await chain.call(usdt, id("isBlackListed(address)").slice(0, 10) + ESCROW_WORD(addresses[1]));
        expect(listed).to.equal("0x" + "0".repeat(64));
        expect(total(await rpcErrors(common))).to.equal(0);
      });

      it("returns undefined for a call that reverts (a function the contract does not have), counting no RPC error", async function () {
        // The escrow has no paused(): no such selector and no fallback, so the call reverts.
        expect(await chain.call(addresses[1], id("paused()").slice(0, 10))).to.equal(undefined);
        expect(total(await rpcErrors(common))).to.equal(0);
      });

      it("returns 0x for an account without code", async function () {
        expect(await chain.call(Wallet.createRandom().address, id("paused()").slice(0, 10))).to.equal("0x");
      });

      it("rejects a target that is not an address, and data that is not hex", async function () {
        await expect(chain.call("0x1234", "0x")).to.be.rejectedWith(RangeError);
        await expect(chain.call(addresses[1], "0xabc")).to.be.rejectedWith(RangeError);
      });
    });
  });

  describe("through a faulty proxy", function () {
    let proxy: FaultyProxy;
    let common: Common;

    beforeEach(async function () {
      proxy = await startFaultyProxy({ target: node.url, failRate: 0, maxDelayMs: 30, seed: 2024 });
      common = makeCommon(proxy.url);
    });

    afterEach(async function () {
      await proxy.close();
    });

    it("probeHead: when many probes ask within maxAgeMs → one eth_blockNumber, shared while in flight", async function () {
      const chain = track(createChain({ common, rpcUrl: proxy.url }));
      await chain.chainId();
      proxy.resetStats();
      const heads = await Promise.all(Array.from({ length: 200 }, () => chain.probeHead(60_000, 1_000)));
      expect(new Set(heads).size).to.equal(1);
      expect(await chain.probeHead(60_000, 1_000)).to.equal(heads[0]);
      expect(proxy.stats.methods.eth_blockNumber).to.equal(1);
    });

    it("probeHead: when the node fails → one attempt, rejected, and no retry after it", async function () {
      const chain = track(createChain({ common, rpcUrl: proxy.url, backoff: FAST }));
      await chain.chainId();
      proxy.setMethodError("eth_blockNumber", { code: -32000, message: "overloaded" });
      proxy.resetStats();
      await expect(chain.probeHead(0, 1_000)).to.be.rejected;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(proxy.stats.methods.eth_blockNumber).to.equal(1);
    });

    it("gives identical results with 30% failures and 20% delays, counting every failure", async function () {
      proxy.setFailRate(0.3);
      proxy.setDelayRate(0.2);
      // A smaller cap: more eth_getLogs requests, some wide enough for random range refusals.
      common = makeCommon(proxy.url, { LOG_RANGE_MAX: "1000" });
      const chain = track(createChain({ common, rpcUrl: proxy.url, backoff: { ...FAST, maxAttempts: 12 } }));
      expect(await chain.chainId()).to.equal(31337);
      expect(await chain.head()).to.be.at.least(head);
      for (let pass = 0; pass < 3; pass++) {
        const { logs } = await collect(chain, addresses, 0, head);
        expect(logs).to.deep.equal(expected);
      }
      for (let n = head - 20; n <= head; n++) {
        const block = await node.provider.getBlock(n);
        expect((await chain.block(n)).hash).to.equal(block!.hash!.toLowerCase());
      }
      for (const hash of new Set(expected.map((l) => l.blockHash))) {
        expect(await chain.logsOfBlock(addresses, hash)).to.deep.equal(expected.filter((l) => l.blockHash === hash));
      }

      const counts = await rpcErrors(common);
      expect(proxy.stats.failed).to.be.greaterThan(5);
      expect(proxy.stats.delayed).to.be.greaterThan(5);
      // Every fault the proxy injected was seen, classified and counted exactly once; nothing else failed.
      expect(total(counts)).to.equal(proxy.stats.failed);
      expect(Object.keys(counts).every((k) => k.endsWith("/retryable") || k.endsWith("/range"))).to.equal(true);
      for (const kind of ["http502", "http429", "reset", "truncated", "internal", "malformed"] as const) {
        expect(proxy.stats.byKind[kind], kind).to.be.greaterThan(0);
      }
    });

    it("halves the span on -32005 'more than 10000 results' until accepted, then grows it back", async function () {
      proxy.setMaxLogsSpan(300);
      const chain = track(createChain({ common, rpcUrl: proxy.url, backoff: FAST, initialLogSpan: 2_000 }));
      const first = await chain.logsInRange(addresses, 0, head);
      expect(proxy.stats.logSpans).to.deep.equal([2_000, 1_000, 500, 250]);
      expect(first.to).to.equal(249);
      expect(first.logs).to.deep.equal(expected.filter((l) => l.blockNumber <= 249));
      expect(chain.span()).to.equal(500);
      expect(await rpcErrors(common)).to.deep.equal({ "eth_getLogs/range": 3 });

      proxy.setMaxLogsSpan(undefined);
      proxy.resetStats();
      const rest = await collect(chain, addresses, first.to + 1, head);
      expect(proxy.stats.logSpans.slice(0, 3)).to.deep.equal([500, 1_000, 2_000]);
      expect(chain.span()).to.equal(LOG_RANGE_MAX);
      expect([...first.logs, ...rest.logs]).to.deep.equal(expected);
    });

    it("treats a range refusal given as -32602 with a size message (as some providers do) as a range error", async function () {
      const chain = track(
        createChain({ common, rpcUrl: proxy.url, backoff: { ...FAST, maxAttempts: 1 }, initialLogSpan: 2_000 }),
      );
      await chain.chainId();
      proxy.setMethodError("eth_getLogs", {
        code: -32602,
        message: "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
      });
      const error: Error = await expect(chain.logsInRange(addresses, 0, head)).to.be.rejected;
      // shrunk to one block without spending attempts, then the one attempt at span 1
      expect(error).to.be.instanceOf(RetryableError);
      expect(proxy.stats.logSpans).to.deep.equal([2000, 1000, 500, 250, 125, 62, 31, 15, 7, 3, 1]);
      expect(await rpcErrors(common)).to.deep.equal({ "eth_getLogs/range": 11 });
    });

    it("retries a span of one block that is still refused with backoff, then throws RetryableError", async function () {
      proxy.setMaxLogsSpan(0);
      const chain = track(
        createChain({ common, rpcUrl: proxy.url, backoff: { ...FAST, maxAttempts: 4 }, initialLogSpan: 2_000 }),
      );
      const error: Error = await expect(chain.logsInRange(addresses, 0, head)).to.be.rejected;
      expect(error).to.be.instanceOf(RetryableError);
      // 2000 → 1000 → … → 1 (11 halvings, no backoff), then 4 attempts at span 1
      expect(proxy.stats.logSpans).to.deep.equal([2000, 1000, 500, 250, 125, 62, 31, 15, 7, 3, 1, 1, 1, 1]);
      expect(chain.span()).to.equal(1);
    });

    it("throws NonRetryableError at once, without retrying, on -32601 method not found", async function () {
      const chain = track(createChain({ common, rpcUrl: proxy.url, backoff: FAST }));
      await chain.chainId();
      proxy.setMethodError("eth_blockNumber", { code: -32601, message: "the method eth_blockNumber does not exist" });
      const error: Error = await expect(chain.head()).to.be.rejected;
      expect(error).to.be.instanceOf(NonRetryableError);
      expect(error).to.not.be.instanceOf(ChainClosedError);
      expect(proxy.stats.methods.eth_blockNumber).to.equal(1);
      expect(await rpcErrors(common)).to.deep.equal({ "eth_blockNumber/non_retryable": 1 });
    });

    it("throws NonRetryableError at once on -32602 invalid params, leaving the span as it was", async function () {
      const chain = track(createChain({ common, rpcUrl: proxy.url, backoff: FAST }));
      await chain.chainId();
      proxy.setMethodError("eth_getLogs", { code: -32602, message: "invalid argument 0: hex string has odd length" });
      const error: Error = await expect(chain.logsInRange(addresses, 0, head)).to.be.rejected;
      expect(error).to.be.instanceOf(NonRetryableError);
      expect(proxy.stats.methods.eth_getLogs).to.equal(1);
      expect(chain.span()).to.equal(INITIAL_LOG_SPAN);
      expect(await rpcErrors(common)).to.deep.equal({ "eth_getLogs/non_retryable": 1 });
    });

    it("retries -32603 internal errors up to maxAttempts, then throws RetryableError", async function () {
      const chain = track(createChain({ common, rpcUrl: proxy.url, backoff: { ...FAST, maxAttempts: 5 } }));
      await chain.chainId();
      proxy.setMethodError("eth_getBlockByNumber", { code: -32603, message: "internal error" });
      const error: Error = await expect(chain.block(1)).to.be.rejected;
      expect(error).to.be.instanceOf(RetryableError);
      expect(error.message).to.contain("5 attempts");
      expect(proxy.stats.methods.eth_getBlockByNumber).to.equal(5);
      expect(await rpcErrors(common)).to.deep.equal({ "eth_getBlockByNumber/retryable": 5 });
    });

    it("recovers when the endpoint recovers before the attempts run out", async function () {
      const chain = track(
        createChain({ common, rpcUrl: proxy.url, backoff: { initialMs: 20, factor: 2, maxMs: 20, maxAttempts: 20 } }),
      );
      await chain.chainId();
      proxy.setMethodError("eth_blockNumber", { code: -32000, message: "header not found" });
      const pending = chain.head();
      await new Promise((resolve) => setTimeout(resolve, 60));
      proxy.setMethodError("eth_blockNumber", undefined);
      expect(await pending).to.be.at.least(head);
      expect((await rpcErrors(common))["eth_blockNumber/retryable"]).to.be.within(1, 19);
    });
  });

  describe("unreachable endpoints", function () {
    it("ends in RetryableError after maxAttempts against a closed port", async function () {
      const url = `http://127.0.0.1:${await freePort()}`;
      const common = makeCommon(url);
      const chain = track(createChain({ common, rpcUrl: url, backoff: { ...FAST, maxAttempts: 4 } }));
      const error: Error = await expect(chain.head()).to.be.rejected;
      expect(error).to.be.instanceOf(RetryableError);
      expect(error.message).to.contain("4 attempts");
      // the chain id is read first; it is the call that gives up
      expect(await rpcErrors(common)).to.deep.equal({ "eth_chainId/retryable": 4 });
    });

    it("times a request out after requestTimeoutMs when the server never answers", async function () {
      const silent = await startSilentServer();
      try {
        const common = makeCommon(silent.url);
        const chain = track(
          createChain({ common, rpcUrl: silent.url, backoff: { ...FAST, maxAttempts: 3 }, requestTimeoutMs: 150 }),
        );
        const started = Date.now();
        const error: Error = await expect(chain.chainId()).to.be.rejected;
        expect(error).to.be.instanceOf(RetryableError);
        expect(error.message).to.contain("timeout");
        expect(Date.now() - started).to.be.within(3 * 150, 3_000);
        expect(silent.requests()).to.equal(3);
      } finally {
        await silent.close();
      }
    });

    it("uses the documented default policy", function () {
      expect(DEFAULT_BACKOFF).to.deep.equal({ initialMs: 100, factor: 2, maxMs: 5_000, maxAttempts: 8 });
    });
  });

  describe("close", function () {
    it("aborts a pending backoff sleep at once and rejects later calls", async function () {
      const url = `http://127.0.0.1:${await freePort()}`;
      const chain = createChain({
        common: makeCommon(url),
        rpcUrl: url,
        backoff: { initialMs: 60_000, maxMs: 60_000 },
      });
      const pending = expect(chain.head()).to.be.rejected;
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      chain.close();
      const error: Error = await pending;
      expect(error).to.be.instanceOf(ChainClosedError);
      expect(error).to.be.instanceOf(NonRetryableError);
      expect(Date.now() - started).to.be.lessThan(200);
      await expect(chain.head()).to.be.rejectedWith(ChainClosedError);
      chain.close(); // idempotent
    });

    it("aborts an in-flight request at once, before and after the provider exists", async function () {
      const proxy = await startFaultyProxy({ target: node.url, seed: 1 });
      try {
        const chain = createChain({ common: makeCommon(proxy.url), rpcUrl: proxy.url });
        const fresh = createChain({ common: makeCommon(proxy.url), rpcUrl: proxy.url });
        await chain.chainId(); // chain has its provider; fresh has not read the chain id yet
        proxy.setStalled("eth_blockNumber", true);
        proxy.setStalled("eth_chainId", true);
        const head = expect(chain.head()).to.be.rejectedWith(ChainClosedError);
        const chainId = expect(fresh.chainId()).to.be.rejectedWith(ChainClosedError);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(proxy.stats.byKind.stalled).to.equal(2);
        const started = Date.now();
        chain.close();
        fresh.close();
        await head;
        await chainId;
        expect(Date.now() - started).to.be.lessThan(200);
      } finally {
        await proxy.close();
      }
    });
  });

  describe("classifyError", function () {
    const rpc = (code: number, message: string) => ({ code: "UNKNOWN_ERROR", error: { code, message } });

    it("sorts JSON-RPC errors into range, non-retryable and retryable", function () {
      expect(classifyError(rpc(-32005, "query returned more than 10000 results"), "eth_getLogs").kind).to.equal(
        "range",
      );
      expect(classifyError(rpc(-32000, "block range is too wide"), "eth_getLogs").kind).to.equal("range");
      expect(classifyError(rpc(-32602, "Log response size exceeded"), "eth_getLogs").kind).to.equal("range");
      expect(classifyError(rpc(-32005, "limit exceeded"), "eth_getLogs").kind).to.equal("range");
      // the same words on another method are a rate limit, not a range
      expect(classifyError(rpc(-32005, "limit exceeded"), "eth_blockNumber").kind).to.equal("retryable");
      expect(classifyError(rpc(-32601, "method not found"), "eth_getLogs").kind).to.equal("non_retryable");
      expect(classifyError(rpc(-32600, "invalid request"), "eth_getLogs").kind).to.equal("non_retryable");
      expect(classifyError(rpc(-32602, "invalid params"), "eth_getLogs").kind).to.equal("non_retryable");
      expect(classifyError(rpc(-32000, "internal error"), "eth_getLogs").kind).to.equal("retryable");
      expect(classifyError(rpc(-32603, "internal error"), "eth_getLogs").kind).to.equal("retryable");
    });

    it("takes a reverted eth_call as an answer (reverted), and the same words elsewhere as a failure", function () {
      expect(classifyError(rpc(3, "execution reverted"), "eth_call").kind).to.equal("reverted");
      expect(classifyError(rpc(-32000, "execution reverted"), "eth_call").kind).to.equal("reverted");
      expect(
        classifyError(
          rpc(
            -32603,
            "Error: Transaction reverted: function selector was not recognized and there's no fallback function",
          ),
          "eth_call",
        ).kind,
      ).to.equal("reverted");
      expect(classifyError(rpc(-32603, "internal error"), "eth_call").kind).to.equal("retryable");
      expect(classifyError(rpc(-32000, "execution reverted"), "eth_getLogs").kind).to.equal("retryable");
    });

    it("sorts HTTP errors by status, reading a JSON-RPC error in a 4xx body", function () {
      const http = (status: number, responseBody: string | null = null) =>
        makeError(`server response ${status}`, "SERVER_ERROR", {
          request: "unknown request",
          response: { statusCode: status } as unknown as FetchResponse,
          info: { responseBody },
        });
      expect(classifyError(http(502), "eth_getLogs")).to.include({ kind: "retryable", reason: "http 502" });
      expect(classifyError(http(503), "eth_getLogs").kind).to.equal("retryable");
      expect(classifyError(http(429), "eth_getLogs").kind).to.equal("retryable");
      expect(classifyError(http(408), "eth_getLogs").kind).to.equal("retryable");
      expect(classifyError(http(401), "eth_getLogs")).to.include({ kind: "non_retryable", reason: "http 401" });
      expect(classifyError(http(404, "<html>not found</html>"), "eth_getLogs").kind).to.equal("non_retryable");
      const rangeBody = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        error: { code: -32602, message: "block range too large" },
      });
      expect(classifyError(http(400, rangeBody), "eth_getLogs").kind).to.equal("range");
      const busyBody = JSON.stringify({ jsonrpc: "2.0", id: 1, error: { code: -32000, message: "busy" } });
      expect(classifyError(http(400, busyBody), "eth_getLogs").kind).to.equal("retryable");
    });

    it("treats timeouts and malformed bodies as retryable", function () {
      expect(classifyError(new DOMException("slow", "TimeoutError"), "eth_chainId").reason).to.equal("timeout");
      expect(classifyError(makeError("request timeout", "TIMEOUT"), "eth_chainId").reason).to.equal("timeout");
      const garbage = makeError("response body is not valid JSON", "UNSUPPORTED_OPERATION", { operation: "bodyJson" });
      expect(classifyError(garbage, "eth_chainId")).to.include({ kind: "retryable", reason: "malformed response" });
      const missing = makeError("missing response for request", "BAD_DATA", { value: [] });
      expect(classifyError(missing, "eth_chainId").reason).to.equal("malformed response");
    });

    it("treats network failures and unknown errors as retryable", function () {
      const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
      expect(classifyError(refused, "eth_chainId")).to.include({
        kind: "retryable",
        reason: "network error ECONNREFUSED",
      });
      expect(classifyError(new Error("???"), "eth_chainId").kind).to.equal("retryable");
      expect(classifyError("a string", "eth_chainId").kind).to.equal("retryable");
    });
  });
});
