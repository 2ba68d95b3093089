/**
 * Matching (branch spec: matching.tree beside this file): the pure eligibility rules and ranking, then the matcher
 * over real Redis (projection records written under a fresh prefix) and a real Hardhat node (the token's
 * blacklist).
 */
import { testRedis, type RedisClient } from "../../support/redis";
import { expect } from "chai";
import { id as keccakId } from "ethers";
import {
  ELIGIBILITY_RULES,
  eligibility,
  rank,
  withinHours,
  type Candidate,
  type MatchRequest,
} from "../../../relayer/src/orders/matching";
import { createDesk } from "../../../relayer/src/orders/desk";
import { createReservations } from "../../../relayer/src/orders/reservations";
import { createScreening } from "../../../relayer/src/orders/screening";
import { createMatcher } from "../../../relayer/src/orders/matcher";
import {
  addressOf,
  clearPrefix,
  profileOf,
  seedAcceptor,
  seedGateway,
  startUsdtNode,
  storeUnder,
} from "../support/matching";

const TOKEN = "0x" + "70".repeat(20);
const GW = "0x" + "9a".repeat(20);
/** Monday 2026-11-30 12:00 UTC. */
const MONDAY_NOON = Date.UTC(2026, 10, 30, 12, 0);
const HEARTBEAT_MS = 60_000;

const request = (over: Partial<MatchRequest> = {}): MatchRequest => ({
  side: "buy",
  token: TOKEN,
  amount: 100n,
  currency: "EUR",
  method: "SEPA:EUR",
  methodHash: keccakId("SEPA:EUR"),
  exclude: [],
  now: MONDAY_NOON,
  ...over,
});

const candidate = (over: Partial<Candidate> = {}): Candidate => ({
  acceptor: addressOf(1),
  onChain: {
    status: "active",
    gateway: GW,
    methods: new Set([keccakId("SEPA:EUR")]),
    tokens: { [TOKEN]: { minAmount: 10n, maxAmount: 1000n, free: 500n } },
  },
  gateway: { status: "active", suspended: false, feeBps: 50 },
  profile: profileOf({ methods: { "SEPA:EUR": { minAmount: "50", maxAmount: "800", details: "IBAN" } } }),
  lastHeartbeat: MONDAY_NOON - 1_000,
  online: true,
  stats: { assigned: 0, completed: 0, declined: 0, timedOut: 0 },
  reserved: 0n,
  ...over,
});

const ruleOf = (c: Candidate, r = request()) => {
  const v = eligibility(c, r, { heartbeatMs: HEARTBEAT_MS });
  return v.ok ? "eligible" : v.rule;
};

describe("orders/matching", function () {
  describe("eligibility", function () {
    it("when every rule holds → eligible", function () {
      expect(ruleOf(candidate())).to.equal("eligible");
    });

    it("when the registry status is not active (pending, suspended, no projection hash) → not-active", function () {
      for (const status of ["pending", "suspended", "unknown"]) {
        expect(ruleOf(candidate({ onChain: { ...candidate().onChain, status } }))).to.equal("not-active");
      }
    });

    it("when the gateway is unknown, not active or suspended → gateway-cannot-take-deals", function () {
      expect(ruleOf(candidate({ gateway: undefined }))).to.equal("gateway-cannot-take-deals");
      for (const status of ["pending", "exiting", "exited"]) {
        expect(ruleOf(candidate({ gateway: { status, suspended: false, feeBps: 50 } }))).to.equal(
          "gateway-cannot-take-deals",
        );
      }
      expect(ruleOf(candidate({ gateway: { status: "active", suspended: true, feeBps: 50 } }))).to.equal(
        "gateway-cannot-take-deals",
      );
    });

    it("when the switch is off, no heartbeat was sent, or the last is too old → offline", function () {
      expect(ruleOf(candidate({ online: false }))).to.equal("offline");
      expect(ruleOf(candidate({ lastHeartbeat: undefined }))).to.equal("offline");
      expect(ruleOf(candidate({ lastHeartbeat: MONDAY_NOON - HEARTBEAT_MS - 1 }))).to.equal("offline");
      expect(ruleOf(candidate({ lastHeartbeat: MONDAY_NOON - HEARTBEAT_MS }))).to.equal("eligible");
    });

    it("when the profile says paused → paused", function () {
      expect(ruleOf(candidate({ profile: { ...candidate().profile!, paused: true } }))).to.equal("paused");
    });

    it("when hours are set and now is outside every window → outside-hours", function () {
      const hours = (from: string, to: string, days = [1]) => ({
        profile: { ...candidate().profile!, hours: [{ days, from, to }] },
      });
      expect(ruleOf(candidate(hours("13:00", "17:00")))).to.equal("outside-hours");
      expect(ruleOf(candidate(hours("09:00", "17:00", [2, 3])))).to.equal("outside-hours");
      expect(ruleOf(candidate(hours("09:00", "17:00")))).to.equal("eligible");
      expect(ruleOf(candidate(hours("12:00", "12:01")))).to.equal("eligible");
      expect(ruleOf(candidate(hours("11:00", "12:00")))).to.equal("outside-hours");
    });

    it("when a window runs overnight (from > to) → open from `from` on a listed day to `to` the next day", function () {
      const w = [{ days: [7], from: "22:00", to: "13:00" }]; // Sunday 22:00 → Monday 13:00
      expect(withinHours(w, MONDAY_NOON)).to.equal(true);
      expect(withinHours(w, MONDAY_NOON + 60 * 60_000)).to.equal(false); // Monday 13:00
      expect(withinHours([{ days: [1], from: "22:00", to: "13:00" }], MONDAY_NOON)).to.equal(false);
      expect(withinHours([{ days: [1], from: "11:00", to: "01:00" }], MONDAY_NOON)).to.equal(true);
    });

    it("when no hours are set → always open", function () {
      expect(withinHours(undefined, MONDAY_NOON)).to.equal(true);
      expect(withinHours(undefined, MONDAY_NOON + 13 * 3_600_000)).to.equal(true);
    });

    it("when the registry lacks the method hash, or the profile lacks the method name → method-unsupported", function () {
      expect(ruleOf(candidate({ onChain: { ...candidate().onChain, methods: new Set() } }))).to.equal(
        "method-unsupported",
      );
      expect(ruleOf(candidate({ profile: { ...candidate().profile!, methods: {} } }))).to.equal("method-unsupported");
      expect(ruleOf(candidate({ profile: undefined }))).to.equal("method-unsupported");
    });

    it("when the profile quotes no rate for the currency → currency-unquoted", function () {
      expect(ruleOf(candidate({ profile: { ...candidate().profile!, rates: { USD: "1.0" } } }))).to.equal(
        "currency-unquoted",
      );
    });

    it("when the token has no limits or the amount is outside them → amount-outside-token-limits", function () {
      expect(ruleOf(candidate({ onChain: { ...candidate().onChain, tokens: {} } }))).to.equal(
        "amount-outside-token-limits",
      );
      const profile = profileOf({ methods: { "SEPA:EUR": { minAmount: "1", maxAmount: "5000", details: "" } } });
      expect(ruleOf(candidate({ profile }), request({ amount: 9n }))).to.equal("amount-outside-token-limits");
      expect(ruleOf(candidate({ profile }), request({ amount: 1001n }))).to.equal("amount-outside-token-limits");
      expect(ruleOf(candidate({ profile }), request({ amount: 10n }))).to.equal("eligible");
      expect(ruleOf(candidate({ profile }), request({ amount: 500n }))).to.equal("eligible");
    });

    it("when the amount is outside the method's limits → amount-outside-method-limits", function () {
      expect(ruleOf(candidate(), request({ amount: 49n }))).to.equal("amount-outside-method-limits");
      expect(
        ruleOf(
          candidate({
            onChain: {
              ...candidate().onChain,
              tokens: { [TOKEN]: { minAmount: 1n, maxAmount: 1000n, free: 10_000n } },
            },
          }),
          request({ amount: 801n }),
        ),
      ).to.equal("amount-outside-method-limits");
      expect(ruleOf(candidate(), request({ amount: 50n }))).to.equal("eligible");
    });

    it("when buying and the method's chargebacks within 30 days reach its maxChargebacks → chargebacks", function () {
      const limited = (max: number) =>
        profileOf({ methods: { "SEPA:EUR": { minAmount: "50", maxAmount: "800", details: "", maxChargebacks: max } } });
      const day = 24 * 3_600_000;
      const recent = [{ method: "SEPA:EUR", at: MONDAY_NOON - day }];
      expect(ruleOf(candidate({ profile: limited(1), chargebacks: recent }))).to.equal("chargebacks");
      expect(ruleOf(candidate({ profile: limited(0) }))).to.equal("chargebacks");
      expect(ruleOf(candidate({ profile: limited(2), chargebacks: recent }))).to.equal("eligible");
      // Older than 30 days, or on another method: not counted.
      const old = [{ method: "SEPA:EUR", at: MONDAY_NOON - 30 * day }];
      expect(ruleOf(candidate({ profile: limited(1), chargebacks: old }))).to.equal("eligible");
      const other = [{ method: "WISE:EUR", at: MONDAY_NOON - day }];
      expect(ruleOf(candidate({ profile: limited(1), chargebacks: other }))).to.equal("eligible");
      // No maxChargebacks: never limited. Sell orders are not (the acceptor sends the fiat: nothing to reverse).
      expect(ruleOf(candidate({ chargebacks: recent }))).to.equal("eligible");
      expect(ruleOf(candidate({ profile: limited(1), chargebacks: recent }), request({ side: "sell" }))).to.equal(
        "eligible",
      );
    });

    it("when buying for a user the acceptor flagged a chargeback of → blocked-user", function () {
      const user = addressOf(77);
      const blockedUsers = new Set([user]);
      expect(ruleOf(candidate({ blockedUsers }), request({ user }))).to.equal("blocked-user");
      expect(ruleOf(candidate({ blockedUsers }), request({ user: addressOf(78) }))).to.equal("eligible");
      expect(ruleOf(candidate({ blockedUsers }), request({ user, side: "sell" }))).to.equal("eligible");
      // Checked before float: a blocked user is the reason even when the float is short.
      expect(ruleOf(candidate({ blockedUsers, reserved: 10_000n }), request({ user }))).to.equal("blocked-user");
    });

    it("when buying and free float minus reservations is below the amount → insufficient-float", function () {
      expect(ruleOf(candidate({ reserved: 401n }))).to.equal("insufficient-float");
      expect(ruleOf(candidate({ reserved: 400n }))).to.equal("eligible");
      expect(ruleOf(candidate(), request({ amount: 501n, side: "buy" }))).to.equal("insufficient-float");
    });

    it("when selling → no float needed", function () {
      expect(ruleOf(candidate({ reserved: 10_000n }), request({ side: "sell" }))).to.equal("eligible");
    });

    it("when the order already tried the acceptor → excluded", function () {
      expect(ruleOf(candidate(), request({ exclude: [addressOf(1)] }))).to.equal("excluded");
    });

    it("when several rules fail → the first in the pinned order is the answer", function () {
      expect(ELIGIBILITY_RULES[0]).to.equal("not-active");
      const c = candidate({
        onChain: { ...candidate().onChain, status: "pending" },
        online: false,
        profile: { ...candidate().profile!, paused: true },
      });
      expect(ruleOf(c)).to.equal("not-active");
      expect(ruleOf({ ...c, onChain: candidate().onChain })).to.equal("offline");
      expect(ruleOf({ ...c, onChain: candidate().onChain, online: true })).to.equal("paused");
    });
  });

  describe("rank", function () {
    const withRate = (n: number, rate: string, stats: Partial<Candidate["stats"]> = {}) =>
      candidate({
        acceptor: addressOf(n),
        profile: profileOf({}, rate),
        stats: { assigned: 0, completed: 0, declined: 0, timedOut: 0, ...stats },
      });

    it("when buying → lowest rate first", function () {
      const ranked = rank([withRate(1, "0.93"), withRate(2, "0.9"), withRate(3, "0.925")], request(), 0);
      expect(ranked.map((c) => c.acceptor)).to.deep.equal([addressOf(2), addressOf(3), addressOf(1)]);
    });

    it("when selling → highest rate first", function () {
      const ranked = rank(
        [withRate(1, "0.93"), withRate(2, "0.9"), withRate(3, "0.925")],
        request({ side: "sell" }),
        0,
      );
      expect(ranked.map((c) => c.acceptor)).to.deep.equal([addressOf(1), addressOf(3), addressOf(2)]);
    });

    it("when rates are equal → higher completion rate first (none finished counts as 1)", function () {
      const ranked = rank(
        [
          withRate(1, "0.9", { completed: 1, declined: 1 }),
          withRate(2, "0.90", { completed: 9, timedOut: 1 }),
          withRate(3, "0.9"),
        ],
        request(),
        0,
      );
      expect(ranked.map((c) => c.acceptor)).to.deep.equal([addressOf(3), addressOf(2), addressOf(1)]);
    });

    it("when completion rates are equal → faster median response first (none measured last)", function () {
      const ranked = rank(
        [
          withRate(1, "0.9", { medianResponseMs: 9000 }),
          withRate(2, "0.9"),
          withRate(3, "0.9", { medianResponseMs: 800 }),
        ],
        request(),
        0,
      );
      expect(ranked.map((c) => c.acceptor)).to.deep.equal([addressOf(3), addressOf(1), addressOf(2)]);
    });

    it("when acceptors are equal on all three → rotated by turn (round robin)", function () {
      const equals = [withRate(3, "0.9"), withRate(1, "0.9"), withRate(2, "0.9")];
      const worse = withRate(4, "0.95");
      const firsts = [0, 1, 2, 3].map((turn) => rank([...equals, worse], request(), turn)[0].acceptor);
      expect(firsts).to.deep.equal([addressOf(1), addressOf(2), addressOf(3), addressOf(1)]);
      for (let turn = 0; turn < 3; turn++) expect(rank([...equals, worse], request(), turn)[3]).to.equal(worse);
    });
  });

  describe("matcher.match (real Redis, real Hardhat node)", function () {
    this.timeout(120_000);
    let redis: RedisClient;
    let usdtNode: Awaited<ReturnType<typeof startUsdtNode>>;
    let token: string;
    let prefix: string;
    let keyPrefix: string;
    let base: string;
    let denied: Set<string>;
    let matcher: ReturnType<typeof createMatcher>;
    let reservations: ReturnType<typeof createReservations>;
    let desk: ReturnType<typeof createDesk>;
    let orders = 0;

    before(async function () {
      redis = testRedis();
      usdtNode = await startUsdtNode();
      token = (await usdtNode.usdt.getAddress()).toLowerCase();
    });

    after(async function () {
      usdtNode.chain.close();
      await usdtNode.node.stop();
      redis.disconnect();
    });

    beforeEach(async function () {
      const s = storeUnder(redis, "match");
      prefix = s.prefix;
      keyPrefix = s.store.keyPrefix;
      base = s.base;
      denied = new Set();
      desk = createDesk({ redis, base });
      reservations = createReservations({ redis, base, projectionBase: keyPrefix });
      const screening = createScreening({ chain: usdtNode.chain, denyList: () => denied });
      matcher = createMatcher({
        desk,
        reservations,
        store: s.store,
        screening,
        options: { acceptorHeartbeatMs: HEARTBEAT_MS },
      });
      await seedGateway(redis, keyPrefix, GW);
    });

    afterEach(async function () {
      await clearPrefix(redis, prefix);
    });

    /** An acceptor on chain and at the desk: SEPA:EUR, limits 1..10^12, `free` float, quoting `rate`. */
    async function acceptorAt(n: number, rate: string, free = 1_000n) {
      const acceptor = addressOf(n);
      await seedAcceptor(redis, keyPrefix, {
        acceptor,
        gateway: GW,
        methods: ["SEPA:EUR"],
        tokens: { [token]: { min: 1n, max: 10n ** 12n, free } },
      });
      await desk.setProfile(acceptor, profileOf({}, rate));
      await desk.heartbeat(acceptor);
      return acceptor;
    }

    const order = (over: Partial<MatchRequest> = {}) => ({
      ...request({ token, now: Date.now(), ...over }),
      orderId: `ord_${(++orders).toString(16).padStart(24, "0")}`,
      user: addressOf(99, "ee"),
      reserveMs: 60_000,
    });

    it("when no acceptor is eligible → refused with a count per rule", async function () {
      await acceptorAt(1, "0.9");
      await acceptorAt(2, "0.9", 10n);
      await seedAcceptor(redis, keyPrefix, { acceptor: addressOf(3), gateway: GW, status: "pending" });
      const outcome = await matcher.match(order({ amount: 100n, currency: "USD" }));
      expect(outcome).to.deep.equal({ ok: false, reasons: { "not-active": 1, "currency-unquoted": 2 } });
      const second = await matcher.match(order({ amount: 2_000n }));
      expect(second).to.deep.equal({ ok: false, reasons: { "not-active": 1, "insufficient-float": 2 } });
    });

    it("when buying → the best-ranked acceptor is chosen and its float reserved", async function () {
      await acceptorAt(1, "0.95");
      const best = await acceptorAt(2, "0.90");
      const req = order({ amount: 300n });
      const outcome = await matcher.match(req);
      expect(outcome).to.include({ ok: true, acceptor: best, rate: "0.90" });
      expect(await reservations.reservedOf(best, token)).to.equal(300n);
      expect(await reservations.reservedOf(addressOf(1), token)).to.equal(0n);
    });

    it("when the script refuses (the snapshot was behind) → the next ranked acceptor is reserved", async function () {
      const best = await acceptorAt(1, "0.90");
      const next = await acceptorAt(2, "0.95");
      await matcher.match(order({ amount: 1n })); // the snapshot now holds both with free float
      await reservations.reserve("ord_elsewhere", best, token, 900n, 60_000); // another replica took most of it
      const outcome = await matcher.match(order({ amount: 200n }));
      expect(outcome).to.include({ ok: true, acceptor: next });
      expect(await reservations.reservedOf(best, token)).to.equal(901n);
      expect(await reservations.reservedOf(next, token)).to.equal(200n);
    });

    it("when more candidates than one script run takes were taken elsewhere → later runs reach one with float", async function () {
      const all: string[] = [];
      for (let n = 1; n <= 11; n++) all.push(await acceptorAt(n, n <= 10 ? "0.90" : "0.99"));
      await matcher.match(order({ amount: 1n })); // the snapshot now holds them all with free float
      await reservations.release(`ord_${orders.toString(16).padStart(24, "0")}`);
      // Another replica took the float of every acceptor at the best rate.
      for (const [i, a] of all.slice(0, 10).entries())
        await reservations.reserve(`ord_other_${i}`, a, token, 1_000n, 60_000);
      const outcome = await matcher.match(order({ amount: 500n }));
      expect(outcome).to.include({ ok: true, acceptor: all[10], rate: "0.99" });
      // Nobody left: every refusal is counted once.
      expect(await matcher.match(order({ amount: 600n }))).to.deep.equal({
        ok: false,
        reasons: { "insufficient-float": 11 },
      });
    });

    it("when selling → the best-ranked acceptor (highest rate) is chosen and nothing is reserved", async function () {
      await acceptorAt(1, "0.90", 0n);
      const best = await acceptorAt(2, "0.95", 0n);
      const outcome = await matcher.match(order({ side: "sell", amount: 500n }));
      expect(outcome).to.include({ ok: true, acceptor: best, rate: "0.95" });
      expect(await reservations.reservedOf(best, token)).to.equal(0n);
    });

    it("when the order already tried the best → the next is chosen", async function () {
      const best = await acceptorAt(1, "0.90");
      const next = await acceptorAt(2, "0.95");
      const outcome = await matcher.match(order({ exclude: [best] }));
      expect(outcome).to.include({ ok: true, acceptor: next });
    });

    it("when the user is on the deny list → refused as screened, nothing reserved", async function () {
      const a = await acceptorAt(1, "0.90");
      const req = order();
      denied.add(req.user);
      const outcome = await matcher.match(req);
      expect(outcome).to.deep.equal({
        ok: false,
        reasons: { screened: 1 },
        screened: { address: req.user, reason: "deny-list" },
      });
      expect(await reservations.reservedOf(a, token)).to.equal(0n);
    });

    it("when the user is on the token's blacklist → refused as screened (token-blacklist)", async function () {
      await acceptorAt(1, "0.90");
      const req = order({});
      req.user = addressOf(98, "ee");
      await (await usdtNode.usdt.addBlackList(req.user)).wait();
      const outcome = await matcher.match(req);
      expect(outcome).to.deep.include({ ok: false, screened: { address: req.user, reason: "token-blacklist" } });
    });

    it("when the best-ranked acceptor is screened out → the next is chosen, counted as screened", async function () {
      const best = await acceptorAt(1, "0.90");
      const next = await acceptorAt(2, "0.95");
      denied.add(best);
      expect(await matcher.match(order())).to.include({ ok: true, acceptor: next });
      denied.add(next);
      expect(await matcher.match(order())).to.deep.equal({ ok: false, reasons: { screened: 2 } });
      expect(await reservations.reservedOf(best, token)).to.equal(0n);
    });
  });
});
