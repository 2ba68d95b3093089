/**
 * Float reservations (relayer/src/orders/reservations.ts; branches in matching.tree, "reservations") against a real
 * Redis: the Lua script reads the projection's `acc:` hash written under a fresh prefix.
 */
import { testRedis, type RedisClient, keysOf } from "../../support/redis";
import { expect } from "chai";
import { createReservations, type Reservations } from "../../../relayer/src/orders/reservations";
import { addressOf, clearPrefix, seedAcceptor, storeUnder } from "../support/matching";

const TOKEN = "0x" + "70".repeat(20);
const OTHER_TOKEN = "0x" + "71".repeat(20);
const GW = "0x" + "9a".repeat(20);

describe("orders/reservations", function () {
  this.timeout(30_000);
  let redis: RedisClient;
  let prefix: string;
  let keyPrefix: string;
  let base: string;
  let reservations: Reservations;
  const A = addressOf(1);
  const B = addressOf(2);

  before(() => {
    redis = testRedis();
  });
  after(() => redis.disconnect());

  beforeEach(async function () {
    const s = storeUnder(redis, "res");
    prefix = s.prefix;
    keyPrefix = s.store.keyPrefix;
    base = s.base;
    reservations = createReservations({ redis, base, projectionBase: keyPrefix });
    for (const acceptor of [A, B]) {
      await seedAcceptor(redis, keyPrefix, {
        acceptor,
        gateway: GW,
        tokens: { [TOKEN]: { min: 1n, max: 1000n, free: 1000n }, [OTHER_TOKEN]: { min: 1n, max: 10n, free: 10n } },
      });
    }
  });

  afterEach(async () => clearPrefix(redis, prefix));

  it("keeps its keys in the projection's hash slot (the base carries the store's hash tag)", async function () {
    await reservations.reserve("ord_1", A, TOKEN, 1n, 60_000);
    const keys = await keysOf(redis, `${prefix}:*`);
    // Redis Cluster hashes only the first {…} of a key: one tag, one slot.
    const tags = new Set(keys.map((k) => /\{[^}]*\}/.exec(k)?.[0]));
    expect(keys.some((k) => k.startsWith(`${base}res:`))).to.equal(true);
    expect(keys.every((k) => k.startsWith(keyPrefix))).to.equal(true);
    expect([...tags])
      .to.have.length(1)
      .and.not.include(undefined);
  });

  it("when free float minus live reservations covers the amount → reserved", async function () {
    expect(await reservations.reserve("ord_1", A, TOKEN, 600n, 60_000)).to.deep.equal({ ok: true });
    expect(await reservations.reserve("ord_2", A, TOKEN, 400n, 60_000)).to.deep.equal({ ok: true });
    expect(await reservations.reservedOf(A, TOKEN)).to.equal(1000n);
    expect(await reservations.reservedOf(B, TOKEN)).to.equal(0n);
    expect(await reservations.reservedOf(A, OTHER_TOKEN)).to.equal(0n);
    expect(await reservations.reservationOf("ord_2")).to.deep.equal({ acceptor: A, token: TOKEN, amount: 400n });
  });

  it("when it does not → refused with the free float and what is reserved", async function () {
    await reservations.reserve("ord_1", A, TOKEN, 600n, 60_000);
    expect(await reservations.reserve("ord_2", A, TOKEN, 401n, 60_000)).to.deep.equal({
      ok: false,
      free: 1000n,
      reserved: 600n,
    });
    expect(await reservations.reservationOf("ord_2")).to.equal(undefined);
    expect(await reservations.reserve("ord_3", addressOf(7), TOKEN, 1n, 60_000)).to.deep.equal({
      ok: false,
      free: 0n,
      reserved: 0n,
    });
  });

  it("when amounts exceed 2^53 → added and compared exactly (decimal text, not doubles)", async function () {
    const free = 2n ** 96n - 1n;
    await seedAcceptor(redis, keyPrefix, {
      acceptor: A,
      gateway: GW,
      tokens: { [TOKEN]: { min: 1n, max: free, free } },
    });
    expect(await reservations.reserve("ord_1", A, TOKEN, free - 2n, 60_000)).to.deep.equal({ ok: true });
    expect(await reservations.reserve("ord_2", A, TOKEN, 1n, 60_000)).to.deep.equal({ ok: true });
    expect(await reservations.reserve("ord_3", A, TOKEN, 2n, 60_000)).to.deep.equal({
      ok: false,
      free,
      reserved: free - 1n,
    });
    expect(await reservations.reserve("ord_4", A, TOKEN, 1n, 60_000)).to.deep.equal({ ok: true });
    expect(await reservations.reservedOf(A, TOKEN)).to.equal(free);
  });

  it("when a reservation's expiry has passed → it no longer counts and is dropped", async function () {
    await reservations.reserve("ord_short", A, TOKEN, 1000n, 1);
    // Wait until Redis' clock has passed the expiry (no duration is asserted).
    while ((await reservations.reservedOf(A, TOKEN)) !== 0n) await new Promise((r) => setTimeout(r, 5));
    expect(await reservations.reserve("ord_2", A, TOKEN, 1000n, 60_000)).to.deep.equal({ ok: true });
    expect(await redis.hexists(`${base}resamt`, "ord_short")).to.equal(0);
    expect(await redis.zscore(`${base}res:${A}:${TOKEN}`, "ord_short")).to.equal(null);
  });

  it("when the order already holds a reservation → it is replaced, never counted twice", async function () {
    await reservations.reserve("ord_1", A, TOKEN, 700n, 60_000);
    expect(await reservations.reserve("ord_1", A, TOKEN, 900n, 60_000)).to.deep.equal({ ok: true });
    expect(await reservations.reservedOf(A, TOKEN)).to.equal(900n);
    // Re-matched to another acceptor: the first one's float is free again.
    expect(await reservations.reserve("ord_1", B, TOKEN, 800n, 60_000)).to.deep.equal({ ok: true });
    expect(await reservations.reservedOf(A, TOKEN)).to.equal(0n);
    expect(await reservations.reservedOf(B, TOKEN)).to.equal(800n);
  });

  it("release → drops the order's reservation; false when it held none", async function () {
    await reservations.reserve("ord_1", A, TOKEN, 1000n, 60_000);
    expect(await reservations.release("ord_1")).to.equal(true);
    expect(await reservations.reservedOf(A, TOKEN)).to.equal(0n);
    expect(await reservations.release("ord_1")).to.equal(false);
    expect(await reservations.release("ord_never")).to.equal(false);
    expect(await reservations.reserve("ord_2", A, TOKEN, 1000n, 60_000)).to.deep.equal({ ok: true });
  });

  it("reservedOfMany → each pair's live sum in one call", async function () {
    await reservations.reserve("ord_1", A, TOKEN, 10n, 60_000);
    await reservations.reserve("ord_2", B, OTHER_TOKEN, 3n, 60_000);
    expect(
      await reservations.reservedOfMany([
        { acceptor: A, token: TOKEN },
        { acceptor: B, token: OTHER_TOKEN },
        { acceptor: B, token: TOKEN },
      ]),
    ).to.deep.equal([10n, 3n, 0n]);
  });
  it("reserveFirst → the first candidate in order with float; when none has it → what each had", async function () {
    await reservations.reserve("ord_1", A, TOKEN, 950n, 60_000);
    expect(await reservations.reserveFirst("ord_2", [A, B], TOKEN, 100n, 60_000)).to.deep.equal({
      ok: true,
      acceptor: B,
    });
    expect(await reservations.reserveFirst("ord_3", [A, B], TOKEN, 951n, 60_000)).to.deep.equal({
      ok: false,
      refused: [
        { acceptor: A, free: 1000n, reserved: 950n },
        { acceptor: B, free: 1000n, reserved: 100n },
      ],
    });
    // The order's earlier reservation is dropped before the candidates are tried (re-matching).
    expect(await reservations.reserveFirst("ord_1", [A], TOKEN, 1000n, 60_000)).to.deep.equal({
      ok: true,
      acceptor: A,
    });
    expect(await reservations.reservedOf(A, TOKEN)).to.equal(1000n);
  });
});
