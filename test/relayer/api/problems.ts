/**
 * How thrown values become problems (relayer/src/api/problems.ts): an outage of Redis — a single node or a cluster —
 * is a 503 `unavailable` with Retry-After, whatever form the client reports it in; any other error, Redis' own
 * replies included, is an internal error whose message is not shown.
 */
import { expect } from "chai";
import { Cluster, Redis, ReplyError } from "ioredis";
import { ApiProblem, problemOf } from "../../../relayer/src/api/problems";
import { RedisDeadlineError } from "../../../relayer/src/errors";
import { testRedis, type RedisClient } from "../../support/redis";

/** The error a real client rejects `run` with. */
async function rejection(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

const expectUnavailable = (error: Error) => {
  const { problem, headers, internal } = problemOf(error);
  expect(problem.status, `${error.name}: ${error.message}`).to.equal(503);
  expect(problem.type).to.match(/unavailable$/);
  expect(headers).to.deep.equal({ "Retry-After": "1" });
  expect(internal).to.equal(false);
};

describe("api/problems: problemOf", function () {
  this.timeout(20_000);

  it("when an ApiProblem is thrown → its kind and detail", () => {
    const { problem, internal } = problemOf(new ApiProblem("not-found", "No deal 0x01."));
    expect(problem).to.deep.include({ status: 404, detail: "No deal 0x01." });
    expect(internal).to.equal(false);
  });

  it("when a single node refuses connections or its client gave up → 503 unavailable", async () => {
    const refused = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    refused.on("error", () => undefined);
    expectUnavailable(await rejection(() => refused.connect()));
    expectUnavailable(await rejection(() => refused.get("k")));
    refused.disconnect();
    expectUnavailable(new RedisDeadlineError("redis: meta took longer than 1000 ms"));
  });

  it("when a cluster client reaches no node (refused, not ready, ended) → 503 unavailable", async () => {
    const notReady = new Cluster([{ host: "127.0.0.1", port: 1 }], {
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: () => null,
    });
    notReady.on("error", () => undefined);
    const refusedEarly = await rejection(() => notReady.get("k"));
    expect(refusedEarly.message).to.match(/^Cluster isn't ready/);
    expectUnavailable(refusedEarly);
    notReady.disconnect();

    const ended = new Cluster([{ host: "127.0.0.1", port: 1 }], {
      lazyConnect: true,
      clusterRetryStrategy: () => null,
    });
    ended.on("error", () => undefined);
    const none = await rejection(() => ended.connect());
    expect(none.message).to.equal("None of startup nodes is available");
    expectUnavailable(none);
    const afterEnd = await rejection(() => ended.get("k"));
    expectUnavailable(afterEnd);
    ended.disconnect();
  });

  it("when a cluster replies CLUSTERDOWN, TRYAGAIN, LOADING or MASTERDOWN → 503 unavailable", () => {
    for (const reply of [
      "CLUSTERDOWN The cluster is down",
      "TRYAGAIN Multiple keys request during rehashing of slot",
      "LOADING Redis is loading the dataset in memory",
      "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    ]) {
      expectUnavailable(new ReplyError(reply));
    }
  });

  describe("over the test run's Redis", function () {
    let redis: RedisClient;
    before(() => {
      redis = testRedis();
    });
    after(async () => {
      await redis.quit();
    });

    it("when Redis replies with an error of its own (WRONGTYPE) → 500 internal, its message not shown", async () => {
      const key = `test-problems-{${Date.now()}}:k`;
      await redis.set(key, "x");
      try {
        const error = await rejection(() => redis.hget(key, "f"));
        expect(error.message).to.match(/^WRONGTYPE/);
        const { problem, internal } = problemOf(error);
        expect(problem.status).to.equal(500);
        expect(problem.detail).to.not.contain("WRONGTYPE");
        expect(internal).to.equal(true);
      } finally {
        await redis.del(key);
      }
    });
  });
});
