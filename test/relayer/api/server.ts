/**
 * The HTTP edges that node answers before express sees a request (relayer/src/api/server.ts), and the app's
 * routing settings: each refusal is a problem+json like every other, and paths match in one spelling only.
 */
import { expect } from "chai";
import { PROBLEM_BASE } from "../../../relayer/src/api/problems";
import { rawSocket, startSeededApi, type SeededApi } from "../support/api";

const parsed = (body: string) => JSON.parse(body) as { type: string; title: string; status: number; detail: string };

describe("relayer HTTP server edges", function () {
  let api: SeededApi;
  const send = (text: string) => rawSocket(api.server.port, Buffer.from(text));

  before(async function () {
    api = await startSeededApi("server");
  });

  after(async function () {
    await api?.close();
  });

  function expectRawProblem(
    res: { status: number; headers: Record<string, unknown>; body: string },
    status: number,
    kind: string,
  ) {
    expect(res.status, res.body).to.equal(status);
    expect(String(res.headers["content-type"])).to.match(/^application\/problem\+json/);
    const body = parsed(res.body);
    expect(body).to.include({ type: PROBLEM_BASE + kind, status });
    expect(body.title).to.be.a("string").and.not.empty;
    expect(body.detail).to.be.a("string").and.not.empty;
    expect(Number(res.headers["content-length"])).to.equal(Buffer.byteLength(res.body));
  }

  describe("requests node answers itself", function () {
    it("when the method is CONNECT → 405 problem instead of a dropped connection", async function () {
      const res = await send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
      expectRawProblem(res, 405, "method-not-allowed");
    });

    it("when an HTTP/1.1 request has no Host → 400 malformed-request problem, not an empty 400", async function () {
      const res = await send("GET /v1/health HTTP/1.1\r\n\r\n");
      expectRawProblem(res, 400, "malformed-request");
      expect(parsed(res.body).detail).to.match(/Host/);
    });

    it("when an HTTP/1.0 request has no Host → served (Host is HTTP/1.1's rule)", async function () {
      const res = await send("GET /v1/health HTTP/1.0\r\n\r\n");
      expect(res.status).to.equal(200);
      expect(JSON.parse(res.body)).to.include({ status: "ok" });
    });

    it("when Expect is not 100-continue → 417 expectation-failed problem, not an empty 417", async function () {
      const res = await send("GET /v1/health HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nConnection: close\r\n\r\n");
      expectRawProblem(res, 417, "expectation-failed");
    });

    it("when Expect is 100-continue → the request goes on to the app", async function () {
      const res = await send("GET /v1/health HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
      // Node writes the interim 100 first; the final answer follows it.
      expect(res.body).to.match(/HTTP\/1\.1 200 OK/);
    });
  });

  describe("requests node cannot parse", function () {
    it("when a HEAD's head is over node's limit → 431 headers only, no body a client would misread", async function () {
      const res = await send(`HEAD /v1/deals/${"x".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(res.status).to.equal(431);
      expect(String(res.headers["content-type"])).to.match(/^application\/problem\+json/);
      expect(res.body).to.equal("");
    });

    it("when a GET's head is over node's limit → 431 with the problem body", async function () {
      const res = await send(`GET /v1/deals/${"x".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expectRawProblem(res, 431, "headers-too-large");
    });
  });

  describe("routing", function () {
    for (const path of ["/v1/deals/", "/V1/DEALS", "/v1/Deals", "/v1/health/", "/V1/health", "/METRICS"]) {
      it(`when the path is spelled ${path} → 404 not-found problem (strict, case-sensitive)`, async function () {
        const res = await api.http.get(path);
        expect(res.status).to.equal(404);
        expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
        expect(res.body).to.include({ type: PROBLEM_BASE + "not-found", status: 404 });
      });
    }

    it("when the path is spelled exactly → GET, HEAD and OPTIONS still answer", async function () {
      await api.http.get("/v1/deals").expect(200);
      await api.http.head("/v1/deals").expect(200);
      const options = await api.http.options("/v1/deals").expect(204);
      expect(options.headers.allow).to.contain("GET").and.contain("OPTIONS");
      await api.http.get(`/v1/deals/${api.seed.deals[0].dealId}`).expect(200);
    });
  });
});
