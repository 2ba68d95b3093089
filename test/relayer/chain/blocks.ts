/**
 * The chain helpers of `blocks.ts` over a stub chain.
 */
import { expect } from "chai";
import { blockIfKnown } from "../../../relayer/src/chain/blocks";
import type { BlockHeader } from "../../../relayer/src/chain/types";
import { NotFoundError, RetryableError } from "../../../relayer/src/errors";

describe("relayer chain helpers", function () {
  describe("blockIfKnown", function () {
    const header: BlockHeader = {
      number: 7,
      hash: "0x" + "07".repeat(32),
      parentHash: "0x" + "06".repeat(32),
      timestamp: 1,
    };
    const chainThat = (answer: (n: number) => Promise<BlockHeader>) => ({ block: answer });

    it("returns the header the node has", async function () {
      expect(
        await blockIfKnown(
          chainThat(async () => header),
          7,
        ),
      ).to.equal(header);
    });

    it("returns undefined for a block the node does not know (NotFoundError)", async function () {
      const chain = chainThat(async (n) => Promise.reject(new NotFoundError(`block ${n} is not known to the node`)));
      expect(await blockIfKnown(chain, 8)).to.equal(undefined);
    });

    it("throws every other failure", async function () {
      const failure = new RetryableError("eth_getBlockByNumber failed after 8 attempts");
      await expect(
        blockIfKnown(
          chainThat(async () => Promise.reject(failure)),
          8,
        ),
      ).to.be.rejectedWith(failure);
    });
  });
});
