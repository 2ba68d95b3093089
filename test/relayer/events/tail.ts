/**
 * The event stream's tail (relayer/src/events/tail.ts): one blocking XREAD on a connection of its own wakes the
 * subscribers when entries arrive; stop() ends whatever its connection is doing — blocked in XREAD, or a Cluster
 * client that never reached a node (a stop during a cluster outage must not hang the shutdown).
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { startTail, type Tail } from "../../../relayer/src/events/tail";
import { settledWithin } from "../../../relayer/src/deadline";
import { testRedis, unreachableCluster, type RedisClient } from "../../support/redis";
import { eventually } from "../support/events";

const logger = pino({ level: "silent" });
/** Whether stop() ended within `ms` (a hang fails the test, not the run). */
const stopped = (tail: Tail, ms: number) => settledWithin(tail.stop(), ms);

describe("event stream tail", function () {
  this.timeout(20_000);
  let redis: RedisClient;
  let streamKey: string;

  before(() => {
    redis = testRedis();
  });
  beforeEach(() => {
    streamKey = `test-tail-{${randomBytes(6).toString("hex")}}:events`;
  });
  afterEach(async () => {
    await redis.del(streamKey);
  });
  after(async () => {
    await redis.quit();
  });

  it("when entries are added → every subscriber is woken; after unsubscribe → that one no longer", async () => {
    const tail = startTail({ redis, streamKey, logger, blockMs: 200 });
    try {
      let a = 0;
      let b = 0;
      tail.subscribe(() => a++);
      const unsubscribe = tail.subscribe(() => b++);
      await eventually(
        async () => {
          await redis.xadd(streamKey, "*", "e", "x"); // until the tail's first read has its cursor
          return a > 0;
        },
        10_000,
        "the first wake",
      );
      expect(b).to.be.greaterThan(0);
      unsubscribe();
      const [aBefore, bBefore] = [a, b];
      await redis.xadd(streamKey, "*", "e", "y");
      await eventually(async () => a > aBefore, 10_000, "the next wake");
      expect(b).to.equal(bBefore);
    } finally {
      await tail.stop();
    }
  });

  it("when stopped while blocked in XREAD → stop() ends and nobody is woken afterwards", async () => {
    const tail = startTail({ redis, streamKey, logger, blockMs: 5_000 });
    let woken = 0;
    tail.subscribe(() => woken++);
    await new Promise((resolve) => setTimeout(resolve, 200)); // inside its blocking read
    expect(await stopped(tail, 10_000), "stopped").to.equal(true);
    await redis.xadd(streamKey, "*", "e", "late");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(woken).to.equal(0);
  });

  it("when its Redis Cluster never answers (no node listens) → stop() still ends, after at most one block", async () => {
    // A real Cluster client whose only startup node refuses connections: its commands wait in the offline queue,
    // which dropping the connection does not settle.
    const dead = unreachableCluster();
    try {
      const tail = startTail({ redis: dead, streamKey, logger, blockMs: 300 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await stopped(tail, 10_000), "stopped").to.equal(true);
    } finally {
      dead.disconnect();
    }
  });
});
