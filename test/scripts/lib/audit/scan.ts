/**
 * Reading the logs (scripts/lib/audit/scan.ts): the scan through the relayer's chain adapter against a JSON-RPC
 * endpoint that refuses and fails on cue, the decoding by the protocol model, and which events need their block's
 * time.
 */
import { expect } from "chai";
import { AbiCoder, ZeroHash, id } from "ethers";
import { Escrow__factory } from "../../../../typechain-types";
import type { RawLog } from "../../../../relayer/src/chain/types";
import { decodeLogs, needsTime, openChain, scanLogs } from "../../../../scripts/lib/audit/scan";
import { A, at, nextDelegateSalt, params } from "./support/events";
import { RpcFault, hex, startRpcStub, type RpcStub } from "./support/rpc-stub";

/** What a stub endpoint saw of eth_getLogs: the block ranges asked for, in order. */
type Asked = [number, number][];

describe("scripts/lib/audit/scan.ts", () => {
  describe("scanLogs (through the relayer's chain adapter)", () => {
    let stub: RpcStub | undefined;
    let chain: ReturnType<typeof openChain> | undefined;
    afterEach(async () => {
      chain?.close();
      await stub?.close();
      [stub, chain] = [undefined, undefined];
    });

    /** An endpoint whose eth_getLogs answers with `logs(from, to)` (or throws), and a chain adapter on it. */
    async function endpoint(logs: (from: number, to: number) => unknown[], tuning: object = {}): Promise<Asked> {
      const asked: Asked = [];
      stub = await startRpcStub((method, params) => {
        if (method === "eth_chainId") return hex(31337);
        const { fromBlock, toBlock } = params[0] as { fromBlock: string; toBlock: string };
        const range: [number, number] = [Number(fromBlock), Number(toBlock)];
        asked.push(range);
        return logs(...range);
      });
      chain = openChain(stub.url, "deployments/localhost.json", { requestTimeoutMs: 5_000, ...tuning });
      return asked;
    }

    /** A log of the escrow in block `n`, as a node writes it. */
    const logAt = (n: number) => ({
      address: A.token,
      topics: [id("Event()")],
      data: "0x",
      blockNumber: hex(n),
      blockHash: id(`block ${n}`),
      transactionHash: id(`tx ${n}`),
      logIndex: "0x0",
      removed: false,
    });

    it("starts at the relayer's 16-block span and grows it up to 10,000 blocks", async () => {
      const asked = await endpoint(() => []);
      await scanLogs(chain!, [A.token], 0, 60_000);
      const sizes = asked.map(([from, to]) => to - from + 1);
      expect(sizes.slice(0, 11)).to.deep.equal([16, 32, 64, 128, 256, 512, 1_024, 2_048, 4_096, 8_192, 10_000]);
      expect(Math.max(...sizes)).to.equal(10_000);
    });

    it("halves the span when the provider refuses a range, grows it after successes, and returns every log once, in order", async () => {
      const asked = await endpoint(
        (from, to) => {
          if (to - from + 1 > 700) throw new RpcFault(-32005, "query returned more than 10000 results");
          const logs = [];
          for (let n = to; n >= from; n -= 7) logs.push(logAt(n)); // out of order on purpose
          return logs;
        },
        { initialLogSpan: 2_000 },
      );
      const progress: number[] = [];
      const logs = await scanLogs(chain!, [A.token], 10, 9_999, (p) => progress.push(p.toBlock));
      const blocks = logs.map((l: RawLog) => l.blockNumber);
      expect(blocks).to.deep.equal([...blocks].sort((x, y) => x - y));
      expect(new Set(blocks).size).to.equal(blocks.length);
      expect(asked[0]).to.deep.equal([10, 2_009]); // the first span asked for
      expect(asked[1]).to.deep.equal([10, 1_009]); // halved
      expect(asked[2]).to.deep.equal([10, 509]); // halved again, then fine
      expect(asked[3]).to.deep.equal([510, 1_509]); // doubled after the success, refused
      expect(progress.at(-1)).to.equal(9_999);
      // Every block was covered exactly once by the ranges answered.
      const answered = asked.filter(([f, t]) => t - f + 1 <= 700);
      expect(answered[0][0]).to.equal(10);
      for (let i = 1; i < answered.length; i++) expect(answered[i][0]).to.equal(answered[i - 1][1] + 1);
      expect(answered.at(-1)![1]).to.equal(9_999);
    });

    it("gives up after the adapter's attempts when the provider keeps failing", async () => {
      const asked = await endpoint(
        () => {
          throw new RpcFault(-32000, "upstream down");
        },
        { initialLogSpan: 4, backoff: { initialMs: 1, maxMs: 2, maxAttempts: 3 } },
      );
      const failure = await scanLogs(chain!, [A.token], 0, 100).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(String(failure)).to.contain("eth_getLogs failed after 3 attempts: json-rpc error -32000: upstream down");
      expect(asked.map(([from, to]) => to - from + 1)).to.deep.equal([4, 2, 1]);
    });
  });

  describe("decoding", () => {
    it("decodes EvidencePosted whatever bytes its URI holds", () => {
      const iface = Escrow__factory.createInterface();
      const dealId = id("deal");
      const { topics } = iface.encodeEventLog(iface.getEvent("EvidencePosted"), [dealId, A.payee, id("photo"), "x"]);
      const data = AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes"], [id("photo"), "0xfffe41"]);
      const log = {
        address: A.token,
        topics,
        data,
        blockNumber: 7,
        blockHash: id("block"),
        transactionHash: id("tx"),
        index: 2,
      };
      expect(decodeLogs([log], { escrow: A.token, registry: A.gateway })).to.deep.equal([
        {
          block: 7,
          blockHash: id("block"),
          txHash: id("tx"),
          logIndex: 2,
          type: "EvidencePosted",
          dealId,
          by: A.payee.toLowerCase(),
          contentHash: id("photo"),
          uri: "\uFFFD\uFFFDA",
        },
      ]);
    });

    it("asks the time only of the events a timed rule needs", () => {
      const dealId = id("d");
      expect(needsTime({ ...at(), type: "DealDisputed", dealId, by: A.payer, gatewayHolds: true })).to.equal(true);
      expect(needsTime({ ...at(), type: "DealReleased", dealId })).to.equal(false);
      const lock = params({ payer: A.acceptor, kind: "onramp", salt: nextDelegateSalt() });
      expect(needsTime({ ...at(), type: "DealOpened", dealId, deal: lock, ref: ZeroHash })).to.equal(true);
      expect(needsTime({ ...at(), type: "DealOpened", dealId, deal: params(), ref: ZeroHash })).to.equal(false);
    });
  });
});
