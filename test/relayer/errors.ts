/**
 * The relayer's error classes (`errors.ts`): each is named after itself, so a log line or a check by name tells them
 * apart, and the chain's failures keep their hierarchy.
 */
import { expect } from "chai";
import * as errors from "../../relayer/src/errors";

describe("relayer errors", function () {
  it("names every error class after itself, subclasses included", function () {
    const classes = Object.entries(errors).filter(([name]) => name !== "RelayerError");
    expect(classes.length).to.be.greaterThan(8);
    for (const [name, Class] of classes) {
      const error = new (Class as new (message: string) => Error)("message");
      expect(error.name, name).to.equal(name);
      expect(error).to.be.instanceOf(Error);
      expect(String(error)).to.equal(`${name}: message`);
      expect(error.stack!.split("\n")[0]).to.equal(`${name}: message`);
    }
  });

  it("keeps the chain's closed and reverted answers non-retryable, and passes a cause on", function () {
    expect(new errors.ChainClosedError()).to.be.instanceOf(errors.NonRetryableError);
    expect(new errors.CallRevertedError()).to.be.instanceOf(errors.NonRetryableError);
    expect(new errors.MalformedResponseError()).to.not.be.instanceOf(errors.NonRetryableError);
    const cause = new Error("socket hang up");
    expect(new errors.RetryableError("eth_call failed", { cause }).cause).to.equal(cause);
  });
});
