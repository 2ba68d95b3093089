/**
 * How the audit names and prints (scripts/lib/audit/names.ts).
 */
import { expect } from "chai";
import { formatAmount } from "../../../../scripts/lib/audit/names";

describe("scripts/lib/audit/names.ts", () => {
  it("formats amounts with the token's decimals and no trailing zeros", () => {
    expect(formatAmount(123_456_789n, 6)).to.equal("123.456789");
    expect(formatAmount(750_000_000n, 6)).to.equal("750");
    expect(formatAmount(-1_500_000n, 6)).to.equal("-1.5");
    expect(formatAmount(42n, null)).to.equal("42");
  });
});
