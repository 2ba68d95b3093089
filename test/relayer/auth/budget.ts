/**
 * The daily gas budget per API key (`auth/budget.ts`) against the real Redis: reservations within and beyond the
 * budget, settlement refunds, keys apart, the UTC day boundary, atomicity under concurrent reservations, expiry of
 * its Redis keys, and refused amounts.
 */
import { type RedisClient, keysOf } from "../../support/redis";
import { expect } from "chai";
import { createGasBudget } from "../../../relayer/src/auth/budget";
import { connectRedis, testPrefix } from "./support";

const DAY = 86_400;
/** Noon of a UTC day. */
const NOON = 20_000 * DAY + DAY / 2;

describe("auth: daily gas budget", function () {
  let redis: RedisClient;
  let space: ReturnType<typeof testPrefix>;
  let clock: number;

  before(async function () {
    redis = await connectRedis();
  });

  beforeEach(function () {
    space = testPrefix("gas");
    clock = NOON;
  });

  afterEach(async function () {
    await space.clean(redis);
  });

  after(async function () {
    await redis?.quit();
  });

  const budget = (dailyGas = 1_000_000n) => createGasBudget({ redis, base: space.base, dailyGas, now: () => clock });

  it("takes reservations until the budget is spent, then refuses with what remains and the next UTC midnight", async function () {
    const b = budget();
    expect(await b.remaining("key_a")).to.equal(1_000_000n);
    expect(await b.reserve("key_a", 600_000n)).to.deep.equal({ ok: true });
    expect(await b.remaining("key_a")).to.equal(400_000n);
    expect(await b.reserve("key_a", 400_001n)).to.deep.equal({
      ok: false,
      remaining: 400_000n,
      resetsAt: 20_001 * DAY,
    });
    expect(await b.remaining("key_a")).to.equal(400_000n);
    expect(await b.reserve("key_a", 400_000n)).to.deep.equal({ ok: true });
    expect(await b.remaining("key_a")).to.equal(0n);
  });

  it("settles a reservation: gives back what was not used, takes more when more was used", async function () {
    const b = budget();
    await b.reserve("key_a", 300_000n);
    await b.settle("key_a", 300_000n, 120_000n);
    expect(await b.remaining("key_a")).to.equal(880_000n);
    await b.reserve("key_a", 100_000n);
    await b.settle("key_a", 100_000n, 150_000n);
    expect(await b.remaining("key_a")).to.equal(730_000n);
  });

  it("never counts a day's use below zero (a reservation made yesterday, settled today)", async function () {
    const b = budget();
    await b.reserve("key_a", 500_000n);
    clock += DAY;
    await b.settle("key_a", 500_000n, 100_000n);
    expect(await b.remaining("key_a")).to.equal(1_000_000n);
  });

  it("keeps each key's budget apart", async function () {
    const b = budget();
    await b.reserve("key_a", 1_000_000n);
    expect((await b.reserve("key_a", 1n)).ok).to.equal(false);
    expect(await b.reserve("key_b", 1_000_000n)).to.deep.equal({ ok: true });
  });

  it("starts afresh at the next UTC midnight, and forgets days before yesterday", async function () {
    const b = budget();
    await b.reserve("key_a", 1_000_000n);
    clock = 20_001 * DAY - 1;
    expect((await b.reserve("key_a", 1n)).ok).to.equal(false);
    clock = 20_001 * DAY;
    expect(await b.reserve("key_a", 1_000_000n)).to.deep.equal({ ok: true });
    clock = 20_002 * DAY;
    await b.reserve("key_a", 1n);
    expect(await redis.hkeys(`${space.base}gas:key_a`)).to.have.members(["20001", "20002"]);
  });

  it("expires its Redis key two days after the last change", async function () {
    await budget().reserve("key_a", 1n);
    expect(await redis.ttl(`${space.base}gas:key_a`)).to.be.within(2 * DAY - 5, 2 * DAY);
  });

  it("is atomic: 40 concurrent reservations of a tenth of the budget → exactly 10 granted", async function () {
    const b = budget();
    const answers = await Promise.all(Array.from({ length: 40 }, () => b.reserve("key_a", 100_000n)));
    expect(answers.filter((a) => a.ok)).to.have.length(10);
    expect(await b.remaining("key_a")).to.equal(0n);
  });

  it("counts exactly up to 2^53 - 1", async function () {
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    const b = budget(max);
    expect(await b.reserve("key_a", max - 1n)).to.deep.equal({ ok: true });
    expect(await b.remaining("key_a")).to.equal(1n);
    expect((await b.reserve("key_a", 2n)).ok).to.equal(false);
  });

  it("refuses negative or too large amounts and an empty key id", async function () {
    expect(() => budget(-1n)).to.throw(RangeError);
    expect(() => budget(2n ** 53n)).to.throw(RangeError);
    const b = budget();
    for (const attempt of [() => b.reserve("key_a", -1n), () => b.settle("key_a", 1n, -1n), () => b.remaining("")]) {
      await attempt().then(
        () => expect.fail("accepted"),
        (e: Error) => expect(e).to.be.instanceOf(RangeError),
      );
    }
    expect(await keysOf(redis, `${space.prefix}:*`)).to.deep.equal([]);
  });
});
