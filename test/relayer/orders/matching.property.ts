/**
 * Properties of matching (fast-check), on real Redis:
 * (a) a reservation never exceeds free float, with two processes (this one and a forked one, each with its own
 *     connection) reserving against the same keys at once;
 * (b) every acceptor the matcher picks satisfies every eligibility rule, by a check written independently of
 *     matching.ts (and when it picks none, none satisfies them) — chargebacks and blocked users included.
 */
import { testRedis, type RedisClient } from "../../support/redis";
import { expect } from "chai";
import fc from "fast-check";
import { id as keccakId } from "ethers";
import { testRedisEnv } from "../../support/redis";
import { createDesk, type AcceptorProfile } from "../../../relayer/src/orders/desk";
import { createReservations } from "../../../relayer/src/orders/reservations";
import { createScreening } from "../../../relayer/src/orders/screening";
import { createMatcher } from "../../../relayer/src/orders/matcher";
import { scaledRate } from "../../../relayer/src/orders/matching";
import { addressOf, clearPrefix, seedAcceptor, seedGateway, startUsdtNode, storeUnder } from "../support/matching";
import { forkReserver, type Reserver } from "../support/reserve-process";

const TOKEN = "0x" + "70".repeat(20);
const HEARTBEAT_MS = 60_000;

describe("orders/matching properties", function () {
  this.timeout(120_000);
  let redis: RedisClient;

  before(() => {
    redis = testRedis();
  });
  after(() => redis.disconnect());

  describe("(a) reservations across two processes", function () {
    let prefix: string;
    let keyPrefix: string;
    let base: string;
    let child: Reserver;

    before(async function () {
      const s = storeUnder(redis, "resprop");
      prefix = s.prefix;
      keyPrefix = s.store.keyPrefix;
      base = s.base;
      child = forkReserver({ ...testRedisEnv(), RES_BASE: base, RES_PROJECTION_BASE: keyPrefix });
      await child.ready;
    });

    after(async function () {
      await child?.stop();
      await clearPrefix(redis, prefix);
    });

    it("Σ reserved never exceeds the free float, and reservations succeed in both processes", async function () {
      const reservations = createReservations({ redis, base, projectionBase: keyPrefix });
      let run = 0;
      let parentWins = 0;
      let childWins = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.bigInt({ min: 0n, max: 2_000n }),
          fc.array(fc.bigInt({ min: 1n, max: 500n }), { minLength: 1, maxLength: 15 }),
          fc.array(fc.bigInt({ min: 1n, max: 500n }), { minLength: 1, maxLength: 15 }),
          async (free, mine, theirs) => {
            const acceptor = addressOf(++run);
            await seedAcceptor(redis, keyPrefix, {
              acceptor,
              gateway: addressOf(0, "9a"),
              tokens: { [TOKEN]: { min: 1n, max: 10n ** 9n, free } },
            });
            const ask = (who: string, amount: bigint, i: number) => ({
              orderId: `ord_${run}_${who}_${i}`,
              acceptor,
              token: TOKEN,
              amount: amount.toString(),
              ttlMs: 60_000,
            });
            const [theirResults, ...myResults] = await Promise.all([
              child.reserve(theirs.map((a, i) => ask("c", a, i))),
              ...mine.map((a, i) => reservations.reserve(`ord_${run}_p_${i}`, acceptor, TOKEN, a, 60_000)),
            ]);
            let sum = 0n;
            myResults.forEach((r, i) => {
              if (!r.ok) return;
              sum += mine[i];
              parentWins++;
            });
            theirResults.forEach((ok, i) => {
              if (!ok) return;
              sum += theirs[i];
              childWins++;
            });
            expect(sum <= free, `reserved ${sum} of free ${free}`).to.equal(true);
            expect(await reservations.reservedOf(acceptor, TOKEN)).to.equal(sum);
            const smallest = [...mine, ...theirs].reduce((a, b) => (a < b ? a : b));
            if (smallest <= free) expect(sum > 0n, "something fit but nothing was reserved").to.equal(true);
            // Whatever is left is smaller than every refused amount (no reservation was refused wrongly).
            const refused = [...mine.filter((_, i) => !myResults[i].ok), ...theirs.filter((_, i) => !theirResults[i])];
            for (const amount of refused)
              expect(free - sum < amount, `refused ${amount}, left ${free - sum}`).to.equal(true);
          },
        ),
        { numRuns: 60 },
      );
      expect(parentWins, "reservations won by this process").to.be.greaterThan(0);
      expect(childWins, "reservations won by the forked process").to.be.greaterThan(0);
    });
  });

  describe("(b) every matched acceptor satisfies every rule", function () {
    let usdtNode: Awaited<ReturnType<typeof startUsdtNode>>;
    let token: string;

    before(async function () {
      usdtNode = await startUsdtNode();
      token = (await usdtNode.usdt.getAddress()).toLowerCase();
    });
    after(async function () {
      usdtNode?.chain.close();
      await usdtNode?.node.stop();
    });

    const METHODS = ["SEPA:EUR", "PIX:BRL", "ACH:USD"] as const;
    const NOW = Date.UTC(2026, 10, 30, 12, 0); // a Monday, noon UTC
    const DAY_MS = 24 * 3_600_000;
    /** The order's user. */
    const USER = addressOf(1, "ee");

    /** True with `percent` % chance: the generators lean towards eligible acceptors, so both outcomes occur. */
    const likely = (percent: number) => fc.integer({ min: 0, max: 99 }).map((n) => n < percent);
    const someOf = <T>(items: readonly T[], percent: number) =>
      fc.tuple(...items.map(() => likely(percent))).map((keep) => items.filter((_, i) => keep[i]));
    const genAcceptor = fc.record({
      status: fc.oneof(
        { arbitrary: fc.constant("active"), weight: 8 },
        { arbitrary: fc.constantFrom("pending", "suspended"), weight: 1 },
      ),
      gateway: fc.oneof(
        { arbitrary: fc.constant("good"), weight: 8 },
        { arbitrary: fc.constantFrom("suspended", "pending", "missing"), weight: 1 },
      ),
      chainMethods: someOf(METHODS, 85),
      limits: fc.option(
        fc.record({ min: fc.bigInt({ min: 1n, max: 100n }), span: fc.bigInt({ min: 0n, max: 1_000n }) }),
        {
          freq: 10,
        },
      ),
      free: fc.bigInt({ min: 0n, max: 1_000n }),
      online: likely(90),
      heartbeatAge: fc.option(fc.integer({ min: 0, max: Math.round(1.3 * HEARTBEAT_MS) }), { freq: 10 }),
      paused: likely(10),
      hours: fc.option(
        fc.array(
          fc.record({
            days: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
            from: fc.integer({ min: 0, max: 23 }),
            to: fc.integer({ min: 0, max: 23 }),
          }),
          { minLength: 1, maxLength: 2 },
        ),
        { freq: 3 },
      ),
      profileMethods: someOf(METHODS, 85),
      methodMin: fc.bigInt({ min: 1n, max: 100n }),
      methodSpan: fc.bigInt({ min: 0n, max: 1_000n }),
      maxChargebacks: fc.option(fc.integer({ min: 0, max: 3 }), { freq: 2 }),
      /** Chargebacks it flagged: on which method, how many days ago, and whether of the order's user. */
      chargebacks: fc.array(
        fc.record({
          method: fc.constantFrom(...METHODS),
          ageDays: fc.integer({ min: 0, max: 40 }),
          ofUser: likely(15),
        }),
        { maxLength: 3 },
      ),
      rates: someOf(["EUR", "BRL", "USD"] as const, 85).chain((currencies) =>
        fc
          .tuple(...currencies.map(() => fc.integer({ min: 1, max: 999 })))
          .map((ns) => Object.fromEntries(currencies.map((c, i) => [c, `0.${ns[i]}`])) as Record<string, string>),
      ),
    });
    type Gen = typeof genAcceptor extends fc.Arbitrary<infer T> ? T : never;

    const hhmm = (h: number) => `${String(h).padStart(2, "0")}:00`;
    const hoursOf = (g: Gen) =>
      g.hours?.filter((w) => w.from !== w.to).map((w) => ({ days: w.days, from: hhmm(w.from), to: hhmm(w.to) }));

    /** Opening hours, as minutes of the week [start, end) — a different reckoning from matching.ts. */
    function openAt(hours: ReturnType<typeof hoursOf>, at: number): boolean {
      if (hours === undefined || hours.length === 0) return true;
      const d = new Date(at);
      const week = ((d.getUTCDay() + 6) % 7) * 1440 + d.getUTCHours() * 60 + d.getUTCMinutes();
      return hours.some((w) =>
        w.days.some((day) => {
          const start = (day - 1) * 1440 + Number(w.from.slice(0, 2)) * 60;
          let length = (Number(w.to.slice(0, 2)) - Number(w.from.slice(0, 2))) * 60;
          if (length < 0) length += 1440;
          return (week - start + 10080) % 10080 < length;
        }),
      );
    }

    function satisfiesAll(
      g: Gen,
      addr: string,
      req: { side: string; amount: bigint; method: string; currency: string; exclude: string[] },
    ) {
      if (g.status !== "active" || g.gateway !== "good") return false;
      if (!g.online || g.heartbeatAge === null || g.heartbeatAge > HEARTBEAT_MS) return false;
      if (g.paused || !openAt(hoursOf(g), NOW)) return false;
      if (!g.chainMethods.includes(req.method as never) || !g.profileMethods.includes(req.method as never))
        return false;
      if (g.rates[req.currency] === undefined) return false;
      if (g.limits === null || req.amount < g.limits.min || req.amount > g.limits.min + g.limits.span) return false;
      if (req.amount < g.methodMin || req.amount > g.methodMin + g.methodSpan) return false;
      // Chargebacks: those on the method flagged less than 30 whole days ago count against maxChargebacks.
      const recent = g.chargebacks.filter((c) => c.method === req.method && c.ageDays < 30).length;
      if (req.side === "buy" && g.maxChargebacks !== null && recent >= g.maxChargebacks) return false;
      // A user whose order the acceptor ever flagged gets none of its buy orders.
      if (req.side === "buy" && g.chargebacks.some((c) => c.ofUser)) return false;
      if (req.side === "buy" && g.free < req.amount) return false;
      return !req.exclude.includes(addr);
    }

    it("the chosen acceptor passes an independent check of every rule, and has the best price", async function () {
      let matched = 0;
      let refused = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(genAcceptor, { minLength: 1, maxLength: 8 }),
          fc.record({
            side: fc.constantFrom("buy" as const, "sell" as const),
            amount: fc.bigInt({ min: 1n, max: 600n }),
            method: fc.constantFrom(...METHODS),
            excludeFirst: fc.boolean(),
          }),
          async (gens, r) => {
            const s = storeUnder(redis, "matchprop");
            let clock = NOW;
            const desk = createDesk({ redis, base: s.base, now: () => clock });
            const reservations = createReservations({ redis, base: s.base, projectionBase: s.store.keyPrefix });
            const screening = createScreening({ chain: usdtNode.chain, denyList: () => new Set() });
            const matcher = createMatcher({
              desk,
              reservations,
              store: s.store,
              screening,
              options: { acceptorHeartbeatMs: HEARTBEAT_MS },
            });
            try {
              const good = addressOf(1, "9a");
              await seedGateway(redis, s.store.keyPrefix, good);
              await seedGateway(redis, s.store.keyPrefix, addressOf(2, "9a"), { suspended: true });
              await seedGateway(redis, s.store.keyPrefix, addressOf(3, "9a"), { status: "pending" });
              const gatewayOf = {
                good,
                suspended: addressOf(2, "9a"),
                pending: addressOf(3, "9a"),
                missing: addressOf(4, "9a"),
              };
              const addrs = gens.map((_, i) => addressOf(i + 1));
              for (const [i, g] of gens.entries()) {
                await seedAcceptor(redis, s.store.keyPrefix, {
                  acceptor: addrs[i],
                  gateway: gatewayOf[g.gateway as keyof typeof gatewayOf],
                  status: g.status,
                  methods: g.chainMethods,
                  tokens:
                    g.limits === null
                      ? {}
                      : { [token]: { min: g.limits.min, max: g.limits.min + g.limits.span, free: g.free } },
                });
                const profile: AcceptorProfile = {
                  rates: g.rates,
                  methods: Object.fromEntries(
                    g.profileMethods.map((m) => [
                      m,
                      {
                        minAmount: g.methodMin.toString(),
                        maxAmount: (g.methodMin + g.methodSpan).toString(),
                        details: "x",
                        ...(g.maxChargebacks === null ? {} : { maxChargebacks: g.maxChargebacks }),
                      },
                    ]),
                  ),
                  autoAccept: false,
                  paused: g.paused,
                  ...(hoursOf(g)?.length ? { hours: hoursOf(g) } : {}),
                };
                await desk.setProfile(addrs[i], profile);
                clock = NOW;
                for (const [k, c] of g.chargebacks.entries()) {
                  await desk.recordChargeback(addrs[i], {
                    method: c.method,
                    orderId: `ord_${i}_${k}`,
                    user: c.ofUser ? USER : addressOf(k + 1, "ef"),
                    at: NOW - c.ageDays * DAY_MS,
                  });
                }
                if (g.heartbeatAge !== null) {
                  clock = NOW - g.heartbeatAge;
                  await desk.heartbeat(addrs[i], g.online);
                } else if (!g.online) {
                  await redis.hset(`${s.base}acc:${addrs[i]}`, "online", "0");
                }
              }
              clock = NOW;
              const currency = r.method.slice(-3);
              const req = {
                side: r.side,
                token,
                amount: r.amount,
                currency,
                method: r.method,
                methodHash: keccakId(r.method),
                exclude: r.excludeFirst ? [addrs[0]] : [],
                now: NOW,
                orderId: "ord_prop",
                user: USER,
                reserveMs: 60_000,
              };
              const outcome = await matcher.match(req);
              const passing = addrs.filter((a, i) => satisfiesAll(gens[i], a, req));
              if (outcome.ok) {
                matched++;
                const i = addrs.indexOf(outcome.acceptor);
                expect(satisfiesAll(gens[i], outcome.acceptor, req), `chose ${outcome.acceptor}`).to.equal(true);
                const best = passing
                  .map((a) => scaledRate(gens[addrs.indexOf(a)].rates[currency]))
                  .reduce((x, y) => ((r.side === "buy" ? y < x : y > x) ? y : x));
                expect(scaledRate(outcome.rate)).to.equal(best);
              } else {
                refused++;
                expect(passing, JSON.stringify(outcome.reasons)).to.deep.equal([]);
                const counted = Object.values(outcome.reasons).reduce((x, y) => x + y, 0);
                expect(counted).to.equal(gens.length);
              }
            } finally {
              await clearPrefix(redis, s.prefix);
            }
          },
        ),
        { numRuns: 60 },
      );
      expect(matched, "runs that matched").to.be.greaterThan(0);
      expect(refused, "runs that matched nobody").to.be.greaterThan(0);
    });
  });
});
