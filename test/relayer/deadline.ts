/**
 * Deadlines (relayer/src/deadline.ts): a Redis call past its deadline rejects coded ETIMEDOUT; a stop step waits for
 * what it closes at most its bound and says whether it settled.
 */
import { expect } from "chai";
import { settledWithin, withDeadline } from "../../relayer/src/deadline";
import { RedisDeadlineError } from "../../relayer/src/errors";

const never = () => new Promise<never>(() => undefined);
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe("deadline", function () {
  describe("withDeadline", function () {
    it("when the call answers first → its value", async () => {
      expect(await withDeadline(later(5, "v"), 1_000, "get")).to.equal("v");
    });

    it("when the call fails first → its own error", async () => {
      const error = await withDeadline(Promise.reject(new Error("boom")), 1_000, "get").catch((e: Error) => e);
      expect((error as Error).message).to.equal("boom");
    });

    it("when the call never answers → a RedisDeadlineError coded ETIMEDOUT naming the call", async () => {
      const error = (await withDeadline(never(), 20, "meta").catch((e: unknown) => e)) as RedisDeadlineError;
      expect(error).to.be.instanceOf(RedisDeadlineError);
      expect(error.code).to.equal("ETIMEDOUT");
      expect(error.message).to.equal("redis: meta took longer than 20 ms");
    });
  });

  describe("settledWithin", function () {
    it("when there is nothing to wait for → true at once", async () => {
      expect(await settledWithin(undefined, 1_000)).to.equal(true);
    });

    it("when the promise resolves or rejects within the bound → true (a rejection is not thrown)", async () => {
      expect(await settledWithin(later(5, "x"), 1_000)).to.equal(true);
      expect(await settledWithin(Promise.reject(new Error("closed")), 1_000)).to.equal(true);
    });

    it("when the promise never settles → false once the bound has passed", async () => {
      expect(await settledWithin(never(), 20)).to.equal(false);
    });
  });
});
