/**
 * The acceptor desk (relayer/src/orders/desk.ts) over real Redis, its profile schema, and its routes
 * (GET/PUT /v1/acceptor/profile, POST /v1/acceptor/heartbeat) on a whole relayer over a Hardhat node with the
 * protocol deployed and an approved acceptor.
 */
import { testRedis, type RedisClient } from "../../support/redis";
import { expect } from "chai";
import {
  acceptorProfileSchema,
  chargebacks30d,
  createDesk,
  median,
  RESPONSE_TIMES_KEPT,
} from "../../../relayer/src/orders/desk";
import { PROBLEM_CONTENT_TYPE } from "../../../relayer/src/api/problems";
import { addressOf, clearPrefix, profileOf, storeUnder } from "../support/matching";
import { startWriteRelayer, type WriteRelayer } from "../support/write";

describe("orders/desk", function () {
  this.timeout(120_000);

  describe("profile schema", function () {
    const valid = () => ({
      rates: { EUR: "0.92", BRL: "5.1234" },
      methods: {
        "SEPA:EUR": {
          minAmount: "1000000",
          maxAmount: "5000000000",
          details: "Jane Doe\nIBAN DE89 3704 0044 0532 0130 00",
        },
        "PIX:BRL": { minAmount: "1", maxAmount: "1", details: "" },
      },
      autoAccept: true,
      paused: false,
      hours: [
        { days: [1, 2, 3, 4, 5], from: "08:00", to: "18:30" },
        { days: [6], from: "22:00", to: "02:00" },
      ],
    });
    const refusal = (mutate: (p: ReturnType<typeof valid>) => unknown) => {
      const p = valid();
      const input = mutate(p) ?? p;
      const result = acceptorProfileSchema.safeParse(input);
      return result.success ? "accepted" : [...new Set(result.error.issues.map((i) => i.path.join(".")))].join(",");
    };

    it("when every member is well-formed → accepted (hours optional)", function () {
      expect(refusal(() => undefined)).to.equal("accepted");
      expect(
        refusal((p) => {
          const { hours: _hours, ...rest } = p;
          return rest;
        }),
      ).to.equal("accepted");
    });

    it("when a method's maxChargebacks is not a whole number ≥ 0 → refused at methods.<m>.maxChargebacks; 0 and up accepted", function () {
      for (const bad of [-1, 1.5, "2", null]) {
        expect(
          refusal((p) => {
            (p.methods["SEPA:EUR"] as Record<string, unknown>).maxChargebacks = bad;
          }),
        ).to.equal("methods.SEPA:EUR.maxChargebacks");
      }
      for (const good of [0, 3]) {
        expect(
          refusal((p) => {
            (p.methods["SEPA:EUR"] as Record<string, unknown>).maxChargebacks = good;
          }),
        ).to.equal("accepted");
      }
    });

    it("when a rate is not a positive decimal (or has over 18 decimals) → refused at rates.<CUR>", function () {
      for (const rate of ["0", "0.000", "-1", "1e3", "1.", ".5", "01.5", "abc", "1." + "1".repeat(19), ""]) {
        expect(
          refusal((p) => void (p.rates.EUR = rate)),
          rate,
        ).to.equal("rates.EUR");
      }
      expect(refusal((p) => void ((p.rates as Record<string, string>).eur = "1"))).to.match(/^rates/);
    });

    it("when a method's name, amounts or details are malformed → refused at that member", function () {
      const methods = (p: ReturnType<typeof valid>) =>
        p.methods as Record<string, { minAmount: string; maxAmount: string; details: string }>;
      expect(refusal((p) => void (methods(p)["sepa:EUR"] = methods(p)["SEPA:EUR"]))).to.match(/^methods/);
      expect(refusal((p) => void (methods(p)["SEPA"] = methods(p)["SEPA:EUR"]))).to.match(/^methods/);
      expect(refusal((p) => void (methods(p)["A".repeat(33) + ":EUR"] = methods(p)["SEPA:EUR"]))).to.match(/^methods/);
      expect(refusal((p) => void (p.methods["SEPA:EUR"].minAmount = "1.5"))).to.equal("methods.SEPA:EUR.minAmount");
      expect(refusal((p) => void (p.methods["SEPA:EUR"].minAmount = "6000000000"))).to.equal(
        "methods.SEPA:EUR.minAmount",
      );
      expect(refusal((p) => void (p.methods["PIX:BRL"].maxAmount = "0"))).to.include("methods.PIX:BRL");
      expect(refusal((p) => void (p.methods["SEPA:EUR"].details = "x".repeat(501)))).to.equal(
        "methods.SEPA:EUR.details",
      );
      expect(refusal((p) => void (p.methods["SEPA:EUR"].details = "bell\u0007"))).to.equal("methods.SEPA:EUR.details");
      expect(refusal((p) => void (p.methods["SEPA:EUR"].details = "x".repeat(500)))).to.equal("accepted");
    });

    it("when hours are malformed (time, days, equal ends, empty) → refused at hours", function () {
      expect(refusal((p) => void (p.hours[0].from = "24:00"))).to.equal("hours.0.from");
      expect(refusal((p) => void (p.hours[0].to = "9:00"))).to.equal("hours.0.to");
      expect(refusal((p) => void (p.hours[0].days = [0]))).to.equal("hours.0.days.0");
      expect(refusal((p) => void (p.hours[0].days = [8]))).to.equal("hours.0.days.0");
      expect(refusal((p) => void (p.hours[0].days = [1, 1]))).to.equal("hours.0.days");
      expect(refusal((p) => void (p.hours[0].days = []))).to.equal("hours.0.days");
      expect(refusal((p) => void (p.hours[1].to = "22:00"))).to.equal("hours.1.to");
      expect(refusal((p) => void (p.hours = []))).to.equal("hours");
    });

    it("when a member is unknown or a switch is not a boolean → refused", function () {
      expect(refusal((p) => ({ ...p, extra: 1 }))).to.equal("");
      expect(refusal((p) => ({ ...p, autoAccept: "yes" }))).to.equal("autoAccept");
      expect(refusal((p) => ({ ...p, paused: undefined }))).to.equal("paused");
      expect(refusal((p) => ({ ...p, rates: null, methods: [] }))).to.equal("rates,methods");
      expect(refusal((p) => ({ ...p, methods: { "SEPA:EUR": null } }))).to.equal("methods.SEPA:EUR");
      expect(refusal((p) => ({ ...p, methods: { "SEPA:EUR": { minAmount: 1, maxAmount: "x" } } }))).to.match(
        /^methods\.SEPA:EUR\./,
      );
    });
  });

  describe("desk over Redis", function () {
    let redis: RedisClient;
    let prefix: string;
    let base: string;
    const A = addressOf(1);

    before(() => {
      redis = testRedis();
    });
    after(() => redis.disconnect());
    beforeEach(() => {
      const s = storeUnder(redis, "desk");
      prefix = s.prefix;
      base = s.base;
    });
    afterEach(async () => clearPrefix(redis, prefix));

    it("when nothing was stored → no profile, no heartbeat, online switch on, zero stats", async function () {
      const desk = createDesk({ redis, base });
      expect(await desk.getProfile(A)).to.deep.equal({
        profile: undefined,
        lastHeartbeat: undefined,
        online: true,
        stats: { assigned: 0, completed: 0, declined: 0, timedOut: 0, medianResponseMs: undefined },
        chargebacks: [],
        blockedUsers: new Set(),
      });
    });

    it("recordChargeback → counted once per order, per method, for 30 days; the user blocked; in the snapshot", async function () {
      let clock = Date.UTC(2026, 10, 30);
      const desk = createDesk({ redis, base, now: () => clock });
      await desk.setProfile(A, profileOf());
      const day = 24 * 3_600_000;
      const user = "0x" + "ee".repeat(20);
      await desk.recordChargeback(A, { method: "SEPA:EUR", orderId: "ord_1", user, at: clock - 40 * day });
      await desk.recordChargeback(A, { method: "SEPA:EUR", orderId: "ord_2", user, at: clock });
      await desk.recordChargeback(A, { method: "SEPA:EUR", orderId: "ord_2", user, at: clock + 5 });
      await desk.recordChargeback(A, { method: "PIX:BRL", orderId: "ord_3", user: user.toUpperCase(), at: clock });
      const entry = await desk.getProfile(A);
      // The 40-day-old one was trimmed by the next flag; ord_2 counted once, at its first flag.
      expect(entry.chargebacks).to.have.deep.members([
        { method: "SEPA:EUR", at: clock },
        { method: "PIX:BRL", at: clock },
      ]);
      expect(chargebacks30d(entry.chargebacks, clock)).to.deep.equal({ "SEPA:EUR": 1, "PIX:BRL": 1 });
      expect(chargebacks30d(entry.chargebacks, clock + 30 * day)).to.deep.equal({});
      expect([...entry.blockedUsers]).to.deep.equal([user]);
      clock += 1;
      const snap = await desk.snapshot();
      expect(snap.entries.get(A)?.chargebacks).to.have.length(2);
      expect(snap.entries.get(A)?.blockedUsers.has(user)).to.equal(true);
    });

    it("setProfile → getProfile returns it, and the acceptor joins the snapshot", async function () {
      const desk = createDesk({ redis, base });
      const profile = profileOf({ autoAccept: true });
      await desk.setProfile(A.toUpperCase().replace("0X", "0x"), profile);
      expect((await desk.getProfile(A)).profile).to.deep.equal(profile);
      const snap = await desk.snapshot();
      expect([...snap.entries.keys()]).to.deep.equal([A]);
      expect(snap.entries.get(A)!.profile).to.deep.equal(profile);
    });

    it("heartbeat → records it; online sets the switch, and a heartbeat without it keeps the switch", async function () {
      let clock = 1_000_000;
      const desk = createDesk({ redis, base, now: () => clock });
      expect(await desk.heartbeat(A)).to.deep.equal({ lastHeartbeat: 1_000_000, online: true });
      clock += 5;
      expect(await desk.heartbeat(A, false)).to.deep.equal({ lastHeartbeat: 1_000_005, online: false });
      clock += 5;
      expect(await desk.heartbeat(A)).to.deep.equal({ lastHeartbeat: 1_000_010, online: false });
      expect(await desk.heartbeat(A, true)).to.include({ online: true });
      expect(await desk.getProfile(A)).to.include({ lastHeartbeat: 1_000_010, online: true });
    });

    it("recordOutcome → counts each outcome; the median is over the last 50 response times", async function () {
      const desk = createDesk({ redis, base });
      await desk.recordOutcome(A, "assigned");
      await desk.recordOutcome(A, "assigned");
      await desk.recordOutcome(A, "completed", 100_000);
      await desk.recordOutcome(A, "declined", 7);
      await desk.recordOutcome(A, "timedOut");
      for (let i = 1; i <= RESPONSE_TIMES_KEPT; i++) await desk.recordOutcome(A, "completed", i);
      const { stats } = await desk.getProfile(A);
      // 100000 and 7 were pushed out by the 50 later times 1..50: median 25.5.
      expect(stats).to.deep.equal({ assigned: 2, completed: 51, declined: 1, timedOut: 1, medianResponseMs: 25.5 });
      expect(await redis.llen(`${base}rt:${A}`)).to.equal(RESPONSE_TIMES_KEPT);
    });

    it("median → middle value, mean of the two middles when even, undefined when empty", function () {
      expect(median([])).to.equal(undefined);
      expect(median([5, 1, 3])).to.equal(3);
      expect(median([4, 1, 3, 2])).to.equal(2.5);
    });

    it("snapshot → served from memory while fresh; another instance's writes appear once it is renewed", async function () {
      const mine = createDesk({ redis, base });
      const other = createDesk({ redis, base });
      await mine.setProfile(A, profileOf());
      const first = await mine.snapshot();
      expect(await mine.snapshot()).to.equal(first); // the same object: no Redis read
      await other.setProfile(addressOf(2), profileOf());
      // Renewed within SNAPSHOT_MS (no duration asserted: polled until it shows).
      for (;;) {
        const snap = await mine.snapshot();
        if (snap.entries.has(addressOf(2))) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await mine.heartbeat(A, false);
      expect((await mine.snapshot()).entries.get(A)!.online).to.equal(false); // its own writes: at once
    });
  });

  describe("routes (whole relayer, Hardhat node)", function () {
    let w: WriteRelayer;
    let acceptor: string;
    let key: string;

    before(async function () {
      w = await startWriteRelayer("desk");
      acceptor = await w.address(w.p.acceptor);
      key = await w.key("acceptor", w.p.acceptor);
    });
    after(async () => w?.stop());

    const auth = (k: string) => ({ Authorization: `Bearer ${k}` });

    it("GET /v1/acceptor/profile when nothing was stored → profile null, the registry record, zero stats", async function () {
      const res = await w.http.get("/v1/acceptor/profile").set(auth(key)).expect(200);
      expect(res.body).to.deep.include({ acceptor, profile: null, online: true, lastHeartbeat: null });
      expect(res.body.onChain).to.include({ address: acceptor, status: "active" });
      expect(res.body.stats).to.deep.equal({
        assigned: 0,
        completed: 0,
        declined: 0,
        timedOut: 0,
        chargebacks30d: {},
      });
    });

    it("PUT /v1/acceptor/profile when valid → 200 with the stored profile; GET returns it", async function () {
      const profile = profileOf({
        autoAccept: true,
        hours: [{ days: [1, 2, 3, 4, 5, 6, 7], from: "00:00", to: "23:59" }],
      });
      const res = await w.http.put("/v1/acceptor/profile").set(auth(key)).send(profile).expect(200);
      expect(res.body.profile).to.deep.equal(profile);
      expect((await w.http.get("/v1/acceptor/profile").set(auth(key)).expect(200)).body.profile).to.deep.equal(profile);
    });

    it("PUT /v1/acceptor/profile when invalid → 400 invalid-parameter naming the member", async function () {
      const bad = { ...profileOf(), methods: { "SEPA:EUR": { minAmount: "9", maxAmount: "1", details: "" } } };
      const res = await w.http.put("/v1/acceptor/profile").set(auth(key)).send(bad).expect(400);
      expect(res.headers["content-type"]).to.include(PROBLEM_CONTENT_TYPE);
      expect(res.body.errors).to.deep.include({
        parameter: "methods.SEPA:EUR.minAmount",
        in: "body",
        message: "minAmount must not exceed maxAmount",
      });
      await w.http
        .put("/v1/acceptor/profile")
        .set(auth(key))
        .set("Content-Type", "application/json")
        .send("[1]")
        .expect(400);
      await w.http
        .put("/v1/acceptor/profile")
        .set(auth(key))
        .set("Content-Type", "application/json")
        .send("{")
        .expect(400);
    });

    it("POST /v1/acceptor/heartbeat → 200 {lastHeartbeat, online}; with no body too", async function () {
      const off = await w.http.post("/v1/acceptor/heartbeat").set(auth(key)).send({ online: false }).expect(200);
      expect(off.body.online).to.equal(false);
      expect(off.body.lastHeartbeat).to.be.a("number");
      const kept = await w.http.post("/v1/acceptor/heartbeat").set(auth(key)).expect(200);
      expect(kept.body.online).to.equal(false);
      const on = await w.http.post("/v1/acceptor/heartbeat").set(auth(key)).send({ online: true }).expect(200);
      expect(on.body.online).to.equal(true);
      await w.http.post("/v1/acceptor/heartbeat").set(auth(key)).send({ online: "yes" }).expect(400);
      await w.http.post("/v1/acceptor/heartbeat").set(auth(key)).send({ other: 1 }).expect(400);
    });

    it("when no key → 401; when the key's scope is not acceptor → 403", async function () {
      await w.http.get("/v1/acceptor/profile").expect(401);
      await w.http.post("/v1/acceptor/heartbeat").send({}).expect(401);
      for (const scope of ["read", "party", "platform", "admin"] as const) {
        const other = await w.key(scope, w.p.acceptor);
        const res = await w.http.put("/v1/acceptor/profile").set(auth(other)).send(profileOf()).expect(403);
        expect(res.body.type).to.match(/forbidden$/);
      }
    });

    it("when the key's owner is no registered acceptor → its desk still works, onChain null", async function () {
      const stranger = await w.key("acceptor", "0x" + "ab".repeat(20));
      await w.http.put("/v1/acceptor/profile").set(auth(stranger)).send(profileOf()).expect(200);
      const res = await w.http.get("/v1/acceptor/profile").set(auth(stranger)).expect(200);
      expect(res.body.onChain).to.equal(null);
    });

    it("when a method other than GET, PUT or POST is used → 405 with Allow", async function () {
      const res = await w.http.delete("/v1/acceptor/profile").set(auth(key)).expect(405);
      expect(res.headers.allow).to.equal("GET, PUT, HEAD, OPTIONS");
    });
  });
});
