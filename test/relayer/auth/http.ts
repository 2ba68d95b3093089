/**
 * The auth middleware (`auth/http.ts`) mounted on a small express app with the API's error handler, against the real
 * Redis: authentication (Bearer and X-Api-Key, open reads, the switch that closes them), scopes, rate limits, and
 * the security headers (CORS, preflights, nosniff, Cache-Control). Idempotency has its own file.
 */
import { type RedisClient, keysOf } from "../../support/redis";
import { expect } from "chai";
import type { Request, Response } from "express";
import request from "supertest";
import {
  apiKeyOf,
  authenticate,
  CORS_ALLOW_HEADERS,
  CORS_ALLOW_METHODS,
  rateLimit,
  requireScope,
  securityHeaders,
} from "../../../relayer/src/auth/http";
import { createKeyStore, type KeyStore, type Scope } from "../../../relayer/src/auth/keys";
import { expectProblem } from "../support/api";
import { appWith, connectRedis, startStallingRelay, testPrefix } from "./support";

const OWNER = "0x" + "ab".repeat(20);

describe("auth: HTTP middleware", function () {
  let redis: RedisClient;
  let space: ReturnType<typeof testPrefix>;
  let keys: KeyStore;
  /** Requests each handler ran. */
  let ran: string[];

  before(async function () {
    redis = await connectRedis();
  });

  beforeEach(function () {
    space = testPrefix("http");
    keys = createKeyStore({ redis, base: space.base });
    ran = [];
  });

  afterEach(async function () {
    await space.clean(redis);
  });

  after(async function () {
    await redis?.quit();
  });

  const secretOf = async (scope: Scope) => (await keys.create({ scope, owner: OWNER })).secret;

  /** GET /thing (open) and POST /thing (scope party or admin), behind `authenticate`. */
  const guarded = (requireKeyForReads = false, store: KeyStore = keys) =>
    appWith((app) => {
      app.use(authenticate(store, { requireKeyForReads }));
      app.get("/thing", (_req: Request, res: Response) => {
        ran.push("GET");
        res.json({ key: apiKeyOf(res)?.id ?? null });
      });
      app.get("/admin", requireScope("admin"), (_req: Request, res: Response) => {
        ran.push("GET admin");
        res.json({ ok: true });
      });
      app.post("/thing", requireScope("party", "admin"), (_req: Request, res: Response) => {
        ran.push("POST");
        res.status(202).json({ key: apiKeyOf(res)?.id });
      });
      app.options("/thing", (_req: Request, res: Response) => {
        ran.push("OPTIONS");
        res.status(204).end();
      });
    });

  /** Checks a 401 problem that ran no handler and shows no secret. */
  function expectUnauthenticated(res: request.Response, secret?: string) {
    const body = expectProblem(res, 401, "unauthenticated");
    expect(res.headers["www-authenticate"]).to.match(/^Bearer realm="relayer"/);
    if (secret !== undefined) expect(res.text + JSON.stringify(res.headers)).to.not.contain(secret);
    expect(ran).to.deep.equal([]);
    return body;
  }

  describe("authenticate", function () {
    it("lets a read without a key through, with no key in res.locals", async function () {
      const res = await request(guarded()).get("/thing").expect(200);
      expect(res.body).to.deep.equal({ key: null });
    });

    it("takes the key from Authorization: Bearer (any case of the scheme) or from X-Api-Key", async function () {
      const { secret, key } = await keys.create({ scope: "party", owner: OWNER });
      const app = guarded();
      for (const headers of [
        { Authorization: `Bearer ${secret}` },
        { Authorization: `bearer ${secret}` },
        { "X-Api-Key": secret },
        { Authorization: `Bearer ${secret}`, "X-Api-Key": secret },
      ]) {
        const res = await request(app).get("/thing").set(headers).expect(200);
        expect(res.body, JSON.stringify(Object.keys(headers))).to.deep.equal({ key: key.id });
      }
    });

    it("a POST without a key → 401 and the handler never runs", async function () {
      const res = await request(guarded()).post("/thing").send({ a: 1 });
      expect(expectUnauthenticated(res).detail).to.contain("POST needs an API key");
    });

    it("an unknown key → 401 even on an open read, without echoing the key", async function () {
      const unknown = `sk_party_${"z".repeat(44)}`;
      const res = await request(guarded()).get("/thing").set("Authorization", `Bearer ${unknown}`);
      expectUnauthenticated(res, unknown);
      expect(res.headers["www-authenticate"]).to.contain('error="invalid_token"');
    });

    it("a revoked key → 401 and nothing runs", async function () {
      const { secret, key } = await keys.create({ scope: "party", owner: OWNER });
      await keys.revoke(key.id);
      expectUnauthenticated(await request(guarded()).post("/thing").set("X-Api-Key", secret).send({}), secret);
    });

    it("a previous secret past its rotation grace → 401, the new one works", async function () {
      const { secret: old, key } = await keys.create({ scope: "party", owner: OWNER });
      const { secret } = await keys.rotate(key.id, 0);
      expectUnauthenticated(await request(guarded()).post("/thing").set("X-Api-Key", old).send({}), old);
      await request(guarded()).post("/thing").set("X-Api-Key", secret).send({}).expect(202);
    });

    it("an Authorization header that is not Bearer, or two headers naming different keys → 401", async function () {
      const secret = await secretOf("party");
      const other = await secretOf("party");
      const basic = await request(guarded())
        .get("/thing")
        .set("Authorization", `Basic ${Buffer.from(`u:${secret}`).toString("base64")}`);
      expect(expectUnauthenticated(basic).detail).to.contain("Bearer");
      const both = await request(guarded())
        .get("/thing")
        .set("Authorization", `Bearer ${secret}`)
        .set("X-Api-Key", other);
      expect(expectUnauthenticated(both, other).detail).to.contain("different keys");
      expect(both.text).to.not.contain(secret);
    });

    it("with requireKeyForReads: a read without a key → 401, a preflight (OPTIONS) still passes", async function () {
      const app = guarded(true);
      expect(expectUnauthenticated(await request(app).get("/thing")).detail).to.contain("requires an API key");
      await request(app).options("/thing").expect(204);
      expect(ran).to.deep.equal(["OPTIONS"]);
      await request(app)
        .get("/thing")
        .set("X-Api-Key", await secretOf("read"))
        .expect(200);
    });

    it("a Redis that stops answering → 503 unavailable with Retry-After, not a hang or a 500", async function () {
      const relay = await startStallingRelay();
      const slow = await connectRedis(relay.url);
      try {
        const store = createKeyStore({ redis: slow, base: space.base, timeoutMs: 200 });
        const { secret } = await store.create({ scope: "party", owner: OWNER });
        relay.stall();
        const res = await request(guarded(false, store)).get("/thing").set("X-Api-Key", secret);
        expectProblem(res, 503, "unavailable");
        expect(res.headers["retry-after"]).to.equal("1");
        expect(ran).to.deep.equal([]);
      } finally {
        slow.disconnect();
        await relay.close();
      }
    });
  });

  describe("requireScope", function () {
    it("a read key posting → 403 naming the scopes, and nothing runs", async function () {
      const res = await request(guarded())
        .post("/thing")
        .set("X-Api-Key", await secretOf("read"))
        .send({});
      expect(expectProblem(res, 403, "forbidden").detail).to.equal(
        "This route needs an API key of scope party or admin; this key's scope is read.",
      );
      expect(ran).to.deep.equal([]);
    });

    it("each listed scope passes; the others (acceptor, platform) → 403", async function () {
      const app = guarded();
      for (const scope of ["party", "admin"] as Scope[]) {
        await request(app)
          .post("/thing")
          .set("X-Api-Key", await secretOf(scope))
          .send({})
          .expect(202);
      }
      for (const scope of ["acceptor", "platform"] as Scope[]) {
        const res = await request(app)
          .post("/thing")
          .set("X-Api-Key", await secretOf(scope))
          .send({});
        expectProblem(res, 403, "forbidden");
      }
      expect(ran).to.deep.equal(["POST", "POST"]);
    });

    it("a scoped read without any key → 401, not 403", async function () {
      expectUnauthenticated(await request(guarded()).get("/admin"));
    });
  });

  describe("rateLimit", function () {
    const limited = (perMinute: number, burst?: number) =>
      appWith((app) => {
        app.use(authenticate(keys, { requireKeyForReads: false }));
        app.use(rateLimit({ redis, base: space.base, perMinute, burst }));
        app.get("/thing", (_req: Request, res: Response) => {
          ran.push("GET");
          res.json({});
        });
      });

    it("allows a burst, then → 429 rate-limited with Retry-After, and the handler does not run", async function () {
      const app = limited(60, 3);
      const secret = await secretOf("read");
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await request(app).get("/thing").set("X-Api-Key", secret).expect(200);
        remaining.push(res.headers["ratelimit-remaining"]);
      }
      expect(remaining).to.deep.equal(["2", "1", "0"]);
      const res = await request(app).get("/thing").set("X-Api-Key", secret);
      expect(expectProblem(res, 429, "rate-limited").detail).to.contain("at most 60 a minute");
      expect(Number(res.headers["retry-after"])).to.be.within(1, 1);
      expect(res.headers["ratelimit-limit"]).to.equal("60");
      expect(ran).to.have.length(3);
    });

    it("counts per key: a second key is not limited by the first one's use", async function () {
      const app = limited(60, 1);
      const [a, b] = [await secretOf("read"), await secretOf("read")];
      await request(app).get("/thing").set("X-Api-Key", a).expect(200);
      expectProblem(await request(app).get("/thing").set("X-Api-Key", a), 429, "rate-limited");
      await request(app).get("/thing").set("X-Api-Key", b).expect(200);
    });

    it("counts anonymous reads per client address, apart from keys", async function () {
      const app = limited(60, 1);
      await request(app).get("/thing").set("X-Forwarded-For", "203.0.113.1").expect(200);
      const res = await request(app).get("/thing").set("X-Forwarded-For", "203.0.113.1");
      expect(expectProblem(res, 429, "rate-limited").detail).to.contain("from this address");
      await request(app).get("/thing").set("X-Forwarded-For", "203.0.113.2").expect(200);
      await request(app)
        .get("/thing")
        .set("X-Forwarded-For", "203.0.113.1")
        .set("X-Api-Key", await secretOf("read"))
        .expect(200);
    });

    it("refills at perMinute: a limited key passes again once a token is due", async function () {
      const app = limited(60, 1); // one token a second
      const secret = await secretOf("read");
      await request(app).get("/thing").set("X-Api-Key", secret).expect(200);
      expectProblem(await request(app).get("/thing").set("X-Api-Key", secret), 429, "rate-limited");
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      await request(app).get("/thing").set("X-Api-Key", secret).expect(200);
    });

    it("keeps its buckets in Redis with an expiry", async function () {
      const app = limited(60, 5);
      await request(app).get("/thing").set("X-Forwarded-For", "203.0.113.9").expect(200);
      const [bucket] = await keysOf(redis, `${space.base}rl:*`);
      expect(bucket).to.equal(`${space.base}rl:ip:203.0.113.9`);
      expect(await redis.pttl(bucket)).to.be.within(1, 2_000);
    });

    it('with anonymous: "local" → reads without a key are limited per address in memory (no Redis key); keys still in Redis', async function () {
      const app = appWith((a) => {
        a.use(authenticate(keys, { requireKeyForReads: false }));
        a.use(rateLimit({ redis, base: space.base, perMinute: 60, burst: 2, anonymous: "local" }));
        a.get("/thing", (_req: Request, res: Response) => {
          ran.push("GET");
          res.json({});
        });
      });
      const remaining: string[] = [];
      for (let i = 0; i < 2; i++) {
        const res = await request(app).get("/thing").set("X-Forwarded-For", "203.0.113.7").expect(200);
        remaining.push(res.headers["ratelimit-remaining"]);
      }
      expect(remaining).to.deep.equal(["1", "0"]);
      const refused = await request(app).get("/thing").set("X-Forwarded-For", "203.0.113.7");
      expect(expectProblem(refused, 429, "rate-limited").detail).to.contain("from this address");
      expect(Number(refused.headers["retry-after"])).to.equal(1);
      await request(app).get("/thing").set("X-Forwarded-For", "203.0.113.8").expect(200);
      expect(await keysOf(redis, `${space.base}rl:ip:*`)).to.deep.equal([]);
      await request(app)
        .get("/thing")
        .set("X-Api-Key", await secretOf("read"))
        .expect(200);
      expect(await keysOf(redis, `${space.base}rl:key:*`)).to.have.length(1);
      expect(ran).to.have.length(4);
    });

    it("refuses a limit that is not positive", function () {
      expect(() => rateLimit({ redis, base: space.base, perMinute: 0 })).to.throw(RangeError);
      expect(() => rateLimit({ redis, base: space.base, perMinute: 10, burst: 0 })).to.throw(RangeError);
    });
  });

  describe("securityHeaders", function () {
    const served = (corsOrigins: string[]) =>
      appWith((app) => {
        app.use(securityHeaders({ corsOrigins }));
        app.use(authenticate(keys, { requireKeyForReads: false }));
        app.get("/thing", (_req: Request, res: Response) => {
          ran.push("GET");
          res.json({});
        });
        app.get("/cached", (_req: Request, res: Response) => {
          res.setHeader("Cache-Control", "public, max-age=60");
          res.json({});
        });
        app.post("/thing", (_req: Request, res: Response) => {
          ran.push("POST");
          res.status(201).json({});
        });
      });

    it("puts nosniff and Cache-Control: no-store on answers, problems and unknown routes", async function () {
      const app = served([]);
      const answers = {
        "GET /thing": await request(app).get("/thing"),
        "POST /thing (401)": await request(app).post("/thing"),
        "GET /nowhere (404)": await request(app).get("/nowhere"),
      };
      expect(answers["GET /thing"].status).to.equal(200);
      expect(answers["POST /thing (401)"].status).to.equal(401);
      expect(answers["GET /nowhere (404)"].status).to.equal(404);
      for (const [what, res] of Object.entries(answers)) {
        expect(res.headers["x-content-type-options"], what).to.equal("nosniff");
        expect(res.headers["cache-control"], what).to.equal("no-store");
      }
    });

    it("keeps a Cache-Control the handler set", async function () {
      const res = await request(served([])).get("/cached").expect(200);
      expect(res.headers["cache-control"]).to.equal("public, max-age=60");
    });

    it("allows a listed origin (echoed, Vary: Origin, exposed headers) and not another", async function () {
      const app = served(["https://app.example", "http://localhost:3000"]);
      const ok = await request(app).get("/thing").set("Origin", "https://app.example").expect(200);
      expect(ok.headers["access-control-allow-origin"]).to.equal("https://app.example");
      expect(ok.headers.vary).to.match(/Origin/);
      expect(ok.headers["access-control-expose-headers"]).to.contain("Retry-After").and.contain("Idempotent-Replayed");
      expect(ok.headers["access-control-expose-headers"]).to.contain("Location");
      const local = await request(app).get("/thing").set("Origin", "http://localhost:3000");
      expect(local.headers["access-control-allow-origin"]).to.equal("http://localhost:3000");
      const other = await request(app).get("/thing").set("Origin", "https://evil.example").expect(200);
      expect(other.headers["access-control-allow-origin"]).to.equal(undefined);
      expect(other.headers["access-control-expose-headers"]).to.equal(undefined);
    });

    it('with "*" allows any origin as *', async function () {
      const res = await request(served(["*"]))
        .get("/thing")
        .set("Origin", "https://any.example")
        .expect(200);
      expect(res.headers["access-control-allow-origin"]).to.equal("*");
    });

    it("answers a preflight from an allowed origin 204 with the methods and headers, before authentication", async function () {
      const res = await request(served(["https://app.example"]))
        .options("/thing")
        .set("Origin", "https://app.example")
        .set("Access-Control-Request-Method", "POST")
        .set("Access-Control-Request-Headers", "authorization, content-type, idempotency-key")
        .expect(204);
      expect(res.headers["access-control-allow-methods"]).to.equal(CORS_ALLOW_METHODS);
      expect(CORS_ALLOW_METHODS).to.equal("GET, POST, DELETE, OPTIONS");
      expect(res.headers["access-control-allow-headers"]).to.equal(CORS_ALLOW_HEADERS);
      for (const h of ["Authorization", "Content-Type", "Idempotency-Key"]) expect(CORS_ALLOW_HEADERS).to.contain(h);
      expect(res.headers["access-control-allow-origin"]).to.equal("https://app.example");
      expect(res.headers["access-control-max-age"]).to.equal("600");
      expect(ran).to.deep.equal([]);
    });

    it("leaves a preflight from another origin to the app, without CORS headers", async function () {
      const res = await request(served(["https://app.example"]))
        .options("/thing")
        .set("Origin", "https://evil.example")
        .set("Access-Control-Request-Method", "POST");
      expect(res.headers["access-control-allow-origin"]).to.equal(undefined);
      expect(res.headers["access-control-allow-methods"]).to.equal(undefined);
    });

    it("refuses an origin that is not scheme://host[:port]", function () {
      for (const bad of ["app.example", "https://app.example/", "https://app.example/path", "ftp://x", ""]) {
        expect(() => securityHeaders({ corsOrigins: [bad] }), bad).to.throw(RangeError);
      }
      expect(() =>
        securityHeaders({ corsOrigins: ["*", "https://a.example:8443", "http://[::1]:3000"] }),
      ).to.not.throw();
    });
  });
});
