/** Fee bumps: the pure arithmetic of a replacement's fees. */
import { expect } from "chai";
import { MIN_BUMP_PERCENT, bumpedFees } from "../../../relayer/src/submitter/fees";

const GWEI = 1_000_000_000n;

describe("relayer/submitter/fees", () => {
  const previous = { maxFeePerGas: 40n * GWEI, maxPriorityFeePerGas: 2n * GWEI };
  const low = { maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: GWEI };

  it("a bump over a lower suggestion → both fees +12.5% (rounded up)", () => {
    expect(bumpedFees(previous, low, 12.5)).to.deep.equal({
      maxFeePerGas: 45n * GWEI,
      maxPriorityFeePerGas: 2_250_000_000n,
    });
  });

  it("a suggestion above the bump → the suggestion", () => {
    const high = { maxFeePerGas: 90n * GWEI, maxPriorityFeePerGas: 5n * GWEI };
    expect(bumpedFees(previous, high, 12.5)).to.deep.equal(high);
  });

  it(`a bump percent under ${MIN_BUMP_PERCENT} → raised to ${MIN_BUMP_PERCENT}`, () => {
    expect(bumpedFees(previous, low, 1)!.maxFeePerGas).to.equal(45n * GWEI);
  });

  it("odd wei amounts → rounded up, never under +12.5%", () => {
    const fees = bumpedFees(
      { maxFeePerGas: 7n, maxPriorityFeePerGas: 1n },
      { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n },
      12.5,
    )!;
    expect(fees.maxFeePerGas * 1000n).to.be.at.least(7n * 1125n);
    expect(fees.maxPriorityFeePerGas * 1000n).to.be.at.least(1125n);
  });

  it("a cap that leaves room → the fee stops at the cap", () => {
    const high = { maxFeePerGas: 90n * GWEI, maxPriorityFeePerGas: 5n * GWEI };
    expect(bumpedFees(previous, high, 12.5, 50n * GWEI)).to.deep.equal({
      maxFeePerGas: 50n * GWEI,
      maxPriorityFeePerGas: 5n * GWEI,
    });
  });

  it("a cap under the least acceptable replacement → no bump (undefined)", () => {
    expect(bumpedFees(previous, low, 12.5, 44n * GWEI)).to.equal(undefined);
  });
});
