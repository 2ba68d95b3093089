/**
 * The webhook endpoints API: scopes and ownership, the secret shown once, rotation, deletion, and the URL rules
 * (SSRF) with WEBHOOK_ALLOW_PRIVATE off. Real Redis, real API keys.
 */
import { expect } from "chai";
import { startEventsFixture, type EventsFixture } from "../support/events";

describe("/v1/webhook-endpoints", function () {
  this.timeout(60_000);
  let f: EventsFixture;

  before(async function () {
    f = await startEventsFixture("api-wh", { WEBHOOK_ALLOW_PRIVATE: "off" }, { dispatch: false });
  });
  after(async function () {
    await f?.close();
  });

  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
  const PUBLIC_URL = "https://93.184.215.14/hooks"; // a public address literal: no DNS needed
  const expectProblem = (res: { status: number; body: { type?: string } }, status: number, type: string) => {
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(res.body.type).to.equal(`https://usdt-escrow.dev/problems/${type}`);
  };

  it("when a platform key registers an endpoint → 201 with the secret, which no later read shows", async function () {
    const key = await f.key("platform");
    const res = await f.http
      .post("/v1/webhook-endpoints")
      .set(bearer(key))
      .send({ url: PUBLIC_URL, types: ["deal.*"], description: "orders" });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.include({ url: PUBLIC_URL, description: "orders" });
    expect(res.body.types).to.deep.equal(["deal.*"]);
    expect(res.body.id).to.match(/^we_[0-9a-f]{16}$/);
    expect(res.body.secret).to.match(/^whsec_[0-9a-f]{64}$/);
    expect(res.headers.location).to.equal(`/v1/webhook-endpoints/${res.body.id}`);
    const one = await f.http.get(`/v1/webhook-endpoints/${res.body.id}`).set(bearer(key)).expect(200);
    const list = await f.http.get("/v1/webhook-endpoints").set(bearer(key)).expect(200);
    expect(list.body.data).to.deep.equal([one.body]);
    for (const body of [one.body, list.body]) expect(JSON.stringify(body)).to.not.include(res.body.secret);
    const dflt = await f.http.post("/v1/webhook-endpoints").set(bearer(key)).send({ url: PUBLIC_URL }).expect(201);
    expect(dflt.body.types).to.deep.equal(["*"]);
  });

  it("when the key's scope is not platform, acceptor or admin → 403; without a key → 401; admin and acceptor keys may", async function () {
    for (const scope of ["read", "party"] as const) {
      const key = await f.key(scope);
      expectProblem(
        await f.http.post("/v1/webhook-endpoints").set(bearer(key)).send({ url: PUBLIC_URL }),
        403,
        "forbidden",
      );
      expectProblem(await f.http.get("/v1/webhook-endpoints").set(bearer(key)), 403, "forbidden");
    }
    expectProblem(await f.http.post("/v1/webhook-endpoints").send({ url: PUBLIC_URL }), 401, "unauthenticated");
    expectProblem(await f.http.get("/v1/webhook-endpoints"), 401, "unauthenticated");
    const admin = await f.key("admin");
    await f.http.post("/v1/webhook-endpoints").set(bearer(admin)).send({ url: PUBLIC_URL }).expect(201);
    const acceptor = await f.key("acceptor");
    await f.http.post("/v1/webhook-endpoints").set(bearer(acceptor)).send({ url: PUBLIC_URL }).expect(201);
  });

  it("when another owner asks for an endpoint → 404 as if absent; its list stays its own", async function () {
    const mine = await f.key("platform");
    const theirs = await f.key("platform");
    const created = await f.http.post("/v1/webhook-endpoints").set(bearer(mine)).send({ url: PUBLIC_URL }).expect(201);
    const path = `/v1/webhook-endpoints/${created.body.id}`;
    expectProblem(await f.http.get(path).set(bearer(theirs)), 404, "webhook-endpoint-not-found");
    expectProblem(await f.http.delete(path).set(bearer(theirs)), 404, "webhook-endpoint-not-found");
    expectProblem(await f.http.post(`${path}/rotate-secret`).set(bearer(theirs)), 404, "webhook-endpoint-not-found");
    expectProblem(await f.http.get(`${path}/deliveries`).set(bearer(theirs)), 404, "webhook-endpoint-not-found");
    expect((await f.http.get("/v1/webhook-endpoints").set(bearer(theirs)).expect(200)).body.data).to.deep.equal([]);
  });

  it("when the secret is rotated → a new secret once, the endpoint says until when the old one signs", async function () {
    const key = await f.key("platform");
    const created = await f.http.post("/v1/webhook-endpoints").set(bearer(key)).send({ url: PUBLIC_URL }).expect(201);
    const rotated = await f.http
      .post(`/v1/webhook-endpoints/${created.body.id}/rotate-secret`)
      .set(bearer(key))
      .expect(200);
    expect(rotated.body.secret)
      .to.match(/^whsec_/)
      .and.not.equal(created.body.secret);
    const one = await f.http.get(`/v1/webhook-endpoints/${created.body.id}`).set(bearer(key)).expect(200);
    expect(Date.parse(one.body.previousSecretExpiresAt)).to.be.greaterThan(Date.parse(one.body.createdAt));
    expect(one.body).to.not.have.property("secret");
  });

  it("when an endpoint is deleted → 204, then 404; its deliveries are gone", async function () {
    const key = await f.key("platform");
    const created = await f.http.post("/v1/webhook-endpoints").set(bearer(key)).send({ url: PUBLIC_URL }).expect(201);
    const path = `/v1/webhook-endpoints/${created.body.id}`;
    await f.http.get(`${path}/deliveries`).set(bearer(key)).expect(200, { data: [] });
    const del = await f.http.delete(path).set(bearer(key));
    expect(del.status).to.equal(204);
    expectProblem(await f.http.get(path).set(bearer(key)), 404, "webhook-endpoint-not-found");
    expectProblem(await f.http.delete(path).set(bearer(key)), 404, "webhook-endpoint-not-found");
    expect(await f.redis.exists(f.webhooks.endpoints.key(`ep:${created.body.id}`))).to.equal(0);
  });

  it("when the URL targets loopback, private, link-local or non-http → 422 webhook-url-refused (option off)", async function () {
    const key = await f.key("platform");
    for (const url of [
      "http://127.0.0.1:8080/hook",
      "http://localhost/hook",
      "http://10.1.2.3/hook",
      "http://172.16.0.1/hook",
      "http://192.168.1.1/hook",
      "http://169.254.169.254/latest/meta-data",
      "http://[::1]/hook",
      "http://[fd00::1]/hook",
      "http://[fe80::1]/hook",
      "http://[::ffff:127.0.0.1]/hook",
      "http://0.0.0.0/hook",
      "http://224.0.0.1/hook",
      "ftp://93.184.215.14/hook",
      "file:///etc/passwd",
      "https://user:pass@93.184.215.14/hook",
      "not a url",
    ]) {
      const res = await f.http.post("/v1/webhook-endpoints").set(bearer(key)).send({ url });
      expectProblem(res, 422, "webhook-url-refused");
    }
    expect((await f.http.get("/v1/webhook-endpoints").set(bearer(key))).body.data).to.deep.equal([]);
  });

  it("when the body or path is malformed → 400 naming the member", async function () {
    const key = await f.key("platform");
    for (const [body, parameter] of [
      [{}, "url"],
      [{ url: PUBLIC_URL, types: [] }, "types"],
      [{ url: PUBLIC_URL, types: ["deal.nope"] }, "types"],
      [{ url: PUBLIC_URL, types: ["DEAL"] }, "types.0"],
      [{ url: PUBLIC_URL, extra: 1 }, "extra"],
      [{ url: PUBLIC_URL, description: "x".repeat(201) }, "description"],
    ] as const) {
      const res = await f.http.post("/v1/webhook-endpoints").set(bearer(key)).send(body);
      expectProblem(res, 400, "invalid-parameter");
      expect(res.body.errors[0].parameter, JSON.stringify(body)).to.equal(parameter);
    }
    expectProblem(await f.http.get("/v1/webhook-endpoints/nope").set(bearer(key)), 400, "invalid-parameter");
    expectProblem(
      await f.http.post("/v1/webhook-endpoints/we_0000000000000000/deliveries/x/redeliver").set(bearer(key)),
      400,
      "invalid-parameter",
    );
    const options = await f.http.options("/v1/webhook-endpoints/we_0000000000000000");
    expect(options.status).to.equal(204);
    expect(options.headers.allow).to.equal("GET, DELETE, HEAD, OPTIONS");
  });
});
