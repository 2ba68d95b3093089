/**
 * `Idempotency-Key` (`auth/idempotency.ts`) on a small express app behind `authenticate`, against the real Redis:
 * replays, the same key with another request, scoping per API key, concurrent identical requests (the handler runs
 * once), what is not stored (5xx) and what is (4xx), claims that lapse, and refused keys.
 */
import { type RedisClient, keysOf } from "../../support/redis";
import { expect } from "chai";
import express, { type Request, type Response } from "express";
import request from "supertest";
import { ApiProblem } from "../../../relayer/src/api/problems";
import { apiKeyOf, authenticate, idempotency } from "../../../relayer/src/auth/http";
import { canonicalJson } from "../../../relayer/src/auth/idempotency";
import { createKeyStore, type KeyStore } from "../../../relayer/src/auth/keys";
import { expectProblem } from "../support/api";
import { appWith, connectRedis, testPrefix } from "./support";

const OWNER = "0x" + "ab".repeat(20);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("auth: Idempotency-Key", function () {
  let redis: RedisClient;
  let space: ReturnType<typeof testPrefix>;
  let keys: KeyStore;
  let secret: string;
  /** Bodies the handler ran with, in order. */
  let ran: unknown[];
  /** What the handler answers: status (5xx fails), delay, or a hang on the first call. */
  let behaviour: { status: number; delayMs: number; hangFirst: boolean };

  before(async function () {
    redis = await connectRedis();
  });

  beforeEach(async function () {
    space = testPrefix("idem");
    keys = createKeyStore({ redis, base: space.base });
    secret = (await keys.create({ scope: "party", owner: OWNER })).secret;
    ran = [];
    behaviour = { status: 201, delayMs: 0, hangFirst: false };
  });

  afterEach(async function () {
    await space.clean(redis);
  });

  after(async function () {
    await redis?.quit();
  });

  const app = (options: { waitMs?: number; pendingMs?: number; ttlSeconds?: number } = {}) =>
    appWith((a) => {
      a.use(authenticate(keys, { requireKeyForReads: false }));
      a.use(express.json());
      a.use(idempotency({ redis, base: space.base, ...options }));
      a.post("/v1/deals/:id/confirmations", async (req: Request, res: Response) => {
        ran.push(req.body);
        const n = ran.length;
        if (behaviour.hangFirst && n === 1) return; // never answers: the process "died" mid-request
        if (behaviour.delayMs > 0) await sleep(behaviour.delayMs);
        if (behaviour.status === 404) throw new ApiProblem("deal-not-found", "No deal 1 has been indexed.");
        res
          .status(behaviour.status)
          .setHeader("Location", `/v1/submissions/sub_${n}`)
          .setHeader("X-Not-Replayed", "1")
          .json({ submission: `sub_${n}`, key: apiKeyOf(res)?.id });
      });
    });

  const post = (a: express.Express, key: string | undefined, body: object, path = "/v1/deals/1/confirmations") => {
    const r = request(a).post(path).set("X-Api-Key", secret);
    if (key !== undefined) r.set("Idempotency-Key", key);
    return r.send(body);
  };

  it("replays the first response (status, body, Location) with Idempotent-Replayed, and runs the handler once", async function () {
    const a = app();
    const first = await post(a, "k-1", { action: "release", n: 1 }).expect(201);
    expect(first.headers["idempotent-replayed"]).to.equal(undefined);
    const again = await post(a, "k-1", { n: 1, action: "release" }).expect(201);
    expect(again.headers["idempotent-replayed"]).to.equal("true");
    expect(again.body).to.deep.equal(first.body);
    expect(again.headers.location).to.equal("/v1/submissions/sub_1");
    expect(again.headers["content-type"]).to.equal(first.headers["content-type"]);
    expect(again.headers["x-not-replayed"]).to.equal(undefined);
    expect(ran).to.have.length(1);
  });

  it("stores the response for ttlSeconds", async function () {
    await post(app({ ttlSeconds: 120 }), "k-ttl", {}).expect(201);
    const [record] = await keysOf(redis, `${space.base}idem:*`);
    expect(await redis.ttl(record)).to.be.within(110, 120);
    expect(await redis.hget(record, "state")).to.equal("done");
  });

  it("the same key with another body or path → 409 idempotency-key-reused, and the handler does not run", async function () {
    const a = app();
    await post(a, "k-2", { action: "release" }).expect(201);
    const body = expectProblem(await post(a, "k-2", { action: "cancel" }), 409, "idempotency-key-reused");
    expect(body.detail).to.contain("different request");
    expectProblem(
      await post(a, "k-2", { action: "release" }, "/v1/deals/2/confirmations"),
      409,
      "idempotency-key-reused",
    );
    expect(ran).to.have.length(1);
  });

  it("scopes a key to the API key: another API key with the same Idempotency-Key runs anew", async function () {
    const a = app();
    const other = (await keys.create({ scope: "party", owner: OWNER })).secret;
    const first = await post(a, "shared", { x: 1 }).expect(201);
    const second = await request(a)
      .post("/v1/deals/1/confirmations")
      .set("X-Api-Key", other)
      .set("Idempotency-Key", "shared")
      .send({ x: 1 })
      .expect(201);
    expect(second.headers["idempotent-replayed"]).to.equal(undefined);
    expect(second.body.submission).to.not.equal(first.body.submission);
    expect(ran).to.have.length(2);
  });

  it("runs every POST without an Idempotency-Key", async function () {
    const a = app();
    await post(a, undefined, { x: 1 }).expect(201);
    await post(a, undefined, { x: 1 }).expect(201);
    expect(ran).to.have.length(2);
    expect(await keysOf(redis, `${space.base}idem:*`)).to.deep.equal([]);
  });

  it("five identical concurrent POSTs → the handler runs once, all five get its response", async function () {
    behaviour.delayMs = 300;
    const a = app();
    const answers = await Promise.all([0, 1, 2, 3, 4].map(() => post(a, "k-race", { action: "release" })));
    expect(ran).to.have.length(1);
    for (const res of answers) {
      expect(res.status).to.equal(201);
      expect(res.body.submission).to.equal("sub_1");
    }
    expect(answers.filter((r) => r.headers["idempotent-replayed"] === "true")).to.have.length(4);
  });

  it("a request still waiting after waitMs → 409 idempotency-key-in-use with Retry-After", async function () {
    behaviour.delayMs = 1_500;
    const a = app({ waitMs: 200 });
    const [first, second] = await Promise.all([post(a, "k-slow", {}), sleep(50).then(() => post(a, "k-slow", {}))]);
    expect(first.status).to.equal(201);
    expectProblem(second, 409, "idempotency-key-in-use");
    expect(second.headers["retry-after"]).to.equal("1");
    expect(ran).to.have.length(1);
  });

  it("a 5xx is not stored: the retry runs the handler again", async function () {
    const a = app();
    behaviour.status = 503;
    await post(a, "k-5xx", { x: 1 }).expect(503);
    expect(await keysOf(redis, `${space.base}idem:*`)).to.deep.equal([]);
    behaviour.status = 201;
    const retry = await post(a, "k-5xx", { x: 1 }).expect(201);
    expect(retry.headers["idempotent-replayed"]).to.equal(undefined);
    expect(ran).to.have.length(2);
  });

  it("a 4xx problem is stored and replayed as it was", async function () {
    const a = app();
    behaviour.status = 404;
    const first = await post(a, "k-404", {});
    expectProblem(first, 404, "deal-not-found");
    behaviour.status = 201;
    const again = await post(a, "k-404", {});
    expectProblem(again, 404, "deal-not-found");
    expect(again.headers["idempotent-replayed"]).to.equal("true");
    expect(ran).to.have.length(1);
  });

  it("a claim whose request never finished lapses after pendingMs; the retry then runs", async function () {
    behaviour.hangFirst = true;
    const a = app({ pendingMs: 1_000, waitMs: 100 });
    await post(a, "k-dead", {})
      .timeout(150)
      .then(
        () => expect.fail("answered"),
        (e: Error & { timeout?: number }) => expect(e.timeout).to.equal(150),
      );
    expectProblem(await post(a, "k-dead", {}), 409, "idempotency-key-in-use");
    await sleep(1_100);
    const retry = await post(a, "k-dead", {}).expect(201);
    expect(retry.body.submission).to.equal("sub_2");
  });

  it("refuses an Idempotency-Key that is empty, longer than 255 or not printable → 400, nothing runs", async function () {
    const a = app();
    for (const bad of ["", "x".repeat(256), "a\tb"]) {
      const res = await post(a, bad, {});
      const body = expectProblem(res, 400, "invalid-parameter");
      expect(body.errors).to.deep.equal([
        { parameter: "Idempotency-Key", in: "header", message: "must be 1 to 255 printable ASCII characters" },
      ]);
    }
    await post(a, "x".repeat(255), {}).expect(201);
    expect(ran).to.have.length(1);
  });

  it("leaves GETs alone", async function () {
    const a = appWith((x) => {
      x.use(idempotency({ redis, base: space.base }));
      x.get("/thing", (_req: Request, res: Response) => {
        ran.push("GET");
        res.json({});
      });
    });
    await request(a).get("/thing").set("Idempotency-Key", "k").expect(200);
    const again = await request(a).get("/thing").set("Idempotency-Key", "k").expect(200);
    expect(again.headers["idempotent-replayed"]).to.equal(undefined);
    expect(ran).to.have.length(2);
  });

  it("canonical JSON: equal values give equal text whatever the key order", function () {
    expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: "x", u: undefined })).to.equal('{"a":"x","b":[1,{"c":2,"d":1}]}');
    expect(canonicalJson({ a: 1 })).to.not.equal(canonicalJson({ a: "1" }));
  });
});
