/**
 * The typed client against a real relayer (startWriteRelayer: a Hardhat node, the deployed protocol, the whole
 * relayer in-process, real Redis): a deal opened and read back through it, problems as EscrowApiError, retries
 * through a real TCP proxy that drops or holds connections, the relayer's own 429 with Retry-After, and a webhook
 * delivery verified with verifyWebhook.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { expect } from "chai";
import { id, type JsonRpcSigner } from "ethers";
import fc from "fast-check";
import {
  backoffMs,
  createEscrowClient,
  EscrowApiError,
  EscrowNetworkError,
  verifyWebhook,
  type AttemptInfo,
  type EscrowClient,
  type components,
  type WebhookDelivery,
  retryAfterMs,
} from "../../client/src";
import { makeDeal, type DealParams } from "../relayer/support/activity";
import { startWriteRelayer, type WriteRelayer } from "../relayer/support/write";
import { startHttpProxy } from "./support/http-proxy";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WAIT_MS = 60_000;

async function until<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await sleep(50);
  }
}

/** A deal as the API's body takes it: every integer a decimal string, the kind by name. */
const dealInput = (deal: DealParams): components["schemas"]["DealInput"] => ({
  payer: deal.payer,
  payee: deal.payee,
  gateway: deal.gateway,
  token: deal.token,
  amount: deal.amount.toString(),
  deadline: deal.deadline.toString(),
  releaseWindow: deal.releaseWindow.toString(),
  feeBps: deal.feeBps.toString(),
  kind: (["payment", "onramp", "offramp"] as const)[Number(deal.kind)],
  autoRelease: deal.autoRelease,
  salt: deal.salt,
});

describe("client against a real relayer", function () {
  this.timeout(300_000);
  let w: WriteRelayer;
  let baseUrl: string;
  let payer: JsonRpcSigner;
  let payerAddress: string;
  let payeeAddress: string;

  before(async function () {
    w = await startWriteRelayer("client", { WEBHOOK_ALLOW_PRIVATE: "on", WEBHOOK_BACKOFF_MS: "50" });
    baseUrl = `http://127.0.0.1:${w.relayer.port}`;
    payer = w.p.payers[0];
    payerAddress = await w.address(payer);
    payeeAddress = await w.address(w.p.payees[0]);
  });
  after(async function () {
    await w?.stop();
  });

  /** The typed data of a payer's Open intent for a new deal, signed: the body of postIntent. */
  async function signedOpen(escrow: EscrowClient, amount = 10_000_000n) {
    const deal = await makeDeal(w.p, { payer: payerAddress, payee: payeeAddress, amount });
    const intent = { type: "open" as const, deal: dealInput(deal), ref: id(`client-${Math.random()}`) };
    const typed = await escrow.intentTypedData({ body: intent });
    const signature = await w.signTyped(payer, typed.typedData);
    return { deal, typed, body: { ...intent, expiry: typed.expiry, signature } };
  }

  const finalOf = (escrow: EscrowClient, submissionId: string) =>
    until(`submission ${submissionId}`, async () => {
      const s = await escrow.getSubmission({ params: { path: { id: submissionId } } });
      return s?.status === "final" || s?.status === "failed" ? s : undefined;
    });

  it("when a payer signs the typed data the client fetched and posts it → 202, and getDeal reads the open deal typed", async () => {
    const escrow = createEscrowClient({ baseUrl, apiKey: await w.key("party", payer) });
    const { typed, body } = await signedOpen(escrow);
    expect(typed.typedData.primaryType).to.equal("Open");
    const accepted = await escrow.postIntent({ body });
    expect(accepted.dealId).to.equal(typed.dealId);
    expect(accepted.submission).to.not.equal(null);
    const submission = await finalOf(escrow, accepted.submission!.id);
    expect(submission.status).to.equal("final");

    const deal = await until("the open deal", async () => {
      const d = await escrow.getDeal({ params: { path: { dealId: accepted.dealId } } }).catch((e: unknown) => {
        if (e instanceof EscrowApiError && e.kind === "deal-not-found") return undefined;
        throw e;
      });
      return d?.status === "open" ? d : undefined;
    });
    expect(deal!.dealId).to.equal(accepted.dealId);
    expect(deal!.payer).to.equal(payerAddress);
    expect(deal!.payee).to.equal(payeeAddress);
    expect(deal!.amount).to.equal(body.deal.amount);

    // With the deal's current ETag in If-None-Match the relayer answers 304: the method resolves with undefined.
    const etag = (await w.http.get(`/v1/deals/${accepted.dealId}`)).headers.etag as string;
    const unchanged = await escrow.getDeal({
      params: { path: { dealId: accepted.dealId } },
      headers: { "If-None-Match": etag },
    });
    expect(unchanged).to.equal(undefined);

    const page = await escrow.listDeals({ params: { query: { party: payerAddress } } });
    expect(page.data.map((d) => d.dealId)).to.include(accepted.dealId);
  });

  it("when the deal does not exist → EscrowApiError with the problem's type, title, detail and status", async () => {
    const apiKey = await w.key("party", payer);
    const escrow = createEscrowClient({ baseUrl, apiKey });
    const error = await escrow.getDeal({ params: { path: { dealId: `0x${"ab".repeat(32)}` } } }).then(
      () => expect.fail("resolved"),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(EscrowApiError);
    const e = error as EscrowApiError;
    expect(e.status).to.equal(404);
    expect(e.type).to.equal("https://usdt-escrow.dev/problems/deal-not-found");
    expect(e.kind).to.equal("deal-not-found");
    expect(e.title).to.equal("Deal not found");
    expect(e.detail).to.be.a("string").and.not.equal("");
    expect(e.problem.status).to.equal(404);
    expect(e.route).to.equal("getDeal");
    // The key is in no error, no message, no inspection of the client.
    for (const text of [e.message, String(e.stack), inspect(e, { depth: 5 }), inspect(escrow, { depth: 5 })]) {
      expect(text).not.to.include(apiKey);
    }
  });

  it("when a parameter is invalid → EscrowApiError 400 invalid-parameter whose errors name it", async () => {
    const escrow = createEscrowClient({ baseUrl });
    const e = (await escrow.getDeal({ params: { path: { dealId: "not-a-deal" } } }).catch((x: unknown) => x)) as
      EscrowApiError | undefined;
    expect(e).to.be.instanceOf(EscrowApiError);
    expect(e!.status).to.equal(400);
    expect(e!.kind).to.equal("invalid-parameter");
    expect(e!.errors?.map((x) => [x.parameter, x.in])).to.deep.equal([["dealId", "path"]]);
  });

  it("when a POST is refused (no API key) → EscrowApiError 401 unauthenticated, not retried", async () => {
    const attempts: AttemptInfo[] = [];
    const escrow = createEscrowClient({ baseUrl, onAttempt: (a) => attempts.push(a) });
    const { body } = await signedOpen(createEscrowClient({ baseUrl }));
    const e = (await escrow.postIntent({ body }).catch((x: unknown) => x)) as EscrowApiError;
    expect(e).to.be.instanceOf(EscrowApiError);
    expect([e.status, e.kind]).to.deep.equal([401, "unauthenticated"]);
    expect(attempts.filter((a) => a.route === "postIntent")).to.have.length(1);
  });

  it("when the connection drops after the relayer answered a POST → retried with the same Idempotency-Key, run once", async () => {
    const proxy = await startHttpProxy(w.relayer.port, (req, n) =>
      req.method === "POST" && req.path === "/v1/deals" && n === 1 ? "drop" : undefined,
    );
    try {
      const attempts: AttemptInfo[] = [];
      const escrow = createEscrowClient({
        baseUrl: proxy.url,
        apiKey: await w.key("party", payer),
        retryBaseMs: 20,
        onAttempt: (a) => attempts.push(a),
      });
      const { body } = await signedOpen(escrow);
      const sentBefore = await w.sent();
      const accepted = await escrow.postIntent({ body });

      const posts = proxy.requests.filter((r) => r.method === "POST" && r.path === "/v1/deals");
      expect(posts).to.have.length(2);
      const keys = posts.map((r) => r.headers["idempotency-key"]);
      expect(keys[0]).to.be.a("string").and.not.equal("");
      expect(keys[1]).to.equal(keys[0]);
      // The relayer answered both: the first answer never reached the client, the second is its replay.
      const answers = proxy.responses.filter((r) => r.status === 202);
      expect(answers.map((r) => [r.delivered, r.headers["idempotent-replayed"]])).to.deep.equal([
        [false, undefined],
        [true, "true"],
      ]);
      const posted = attempts.filter((a) => a.route === "postIntent");
      expect(posted.map((a) => [a.attempt, a.status ?? "network error", a.idempotencyKey])).to.deep.equal([
        [1, "network error", keys[0]],
        [2, 202, keys[0]],
      ]);

      await finalOf(escrow, accepted.submission!.id);
      expect((await w.sent()) - sentBefore).to.equal(1);
    } finally {
      await proxy.close();
    }
  });

  it("when two calls post the same body → each has its own Idempotency-Key (the second is refused as a duplicate deal)", async () => {
    const proxy = await startHttpProxy(w.relayer.port);
    try {
      const escrow = createEscrowClient({ baseUrl: proxy.url, apiKey: await w.key("party", payer) });
      const { body } = await signedOpen(escrow);
      const accepted = await escrow.postIntent({ body });
      await finalOf(escrow, accepted.submission!.id);
      const e = (await escrow.postIntent({ body }).catch((x: unknown) => x)) as EscrowApiError;
      expect(e).to.be.instanceOf(EscrowApiError);
      expect(e.status).to.equal(409);
      const keys = proxy.requests.filter((r) => r.method === "POST").map((r) => r.headers["idempotency-key"]);
      expect(new Set(keys).size).to.equal(keys.length);
    } finally {
      await proxy.close();
    }
  });

  it("when an attempt gets no answer within timeoutMs → aborted and retried; after the last, EscrowNetworkError", async () => {
    const proxy = await startHttpProxy(w.relayer.port, (req) => (req.path === "/v1/health" ? "hold" : undefined));
    try {
      const escrow = createEscrowClient({ baseUrl: proxy.url, timeoutMs: 300, retries: 2, retryBaseMs: 10 });
      const e = (await escrow.health().catch((x: unknown) => x)) as EscrowNetworkError;
      expect(e).to.be.instanceOf(EscrowNetworkError);
      expect([e.attempts, e.timedOut, e.route]).to.deep.equal([3, true, "health"]);
      expect(proxy.requests.filter((r) => r.path === "/v1/health")).to.have.length(3);
    } finally {
      await proxy.close();
    }
  });

  it("when the caller aborts → the call rejects with the caller's reason and is not retried", async () => {
    const proxy = await startHttpProxy(w.relayer.port, (req) => (req.path === "/v1/health" ? "hold" : undefined));
    try {
      const escrow = createEscrowClient({ baseUrl: proxy.url, retries: 5 });
      const controller = new AbortController();
      const call = escrow.health({ signal: controller.signal });
      await until("the request at the proxy", async () => (proxy.requests.length > 0 ? true : undefined));
      controller.abort(new Error("shop closed"));
      const e = (await call.catch((x: unknown) => x)) as Error;
      expect(e.message).to.equal("shop closed");
      expect(proxy.requests).to.have.length(1);
    } finally {
      await proxy.close();
    }
  });

  it("when a gateway in front answers 502 (HTML) → retried; with no retries left → EscrowApiError about:blank 502", async () => {
    const proxy = await startHttpProxy(w.relayer.port, (req, n) =>
      req.path === "/v1/gateways" && n <= 2 ? "bad-gateway" : undefined,
    );
    try {
      const retrying = createEscrowClient({ baseUrl: proxy.url, retryBaseMs: 10 });
      const page = await retrying.listGateways();
      expect(page.data.map((g) => g.address)).to.include(await w.address(w.p.gateway));
      expect(proxy.requests.filter((r) => r.path === "/v1/gateways")).to.have.length(3);

      const proxy2 = await startHttpProxy(w.relayer.port, () => "bad-gateway");
      try {
        const e = (await createEscrowClient({ baseUrl: proxy2.url, retries: 0 })
          .listGateways()
          .catch((x: unknown) => x)) as EscrowApiError;
        expect(e).to.be.instanceOf(EscrowApiError);
        expect([e.status, e.type, e.title]).to.deep.equal([502, "about:blank", "Bad Gateway"]);
        expect(e.detail).to.include("502 Bad Gateway");
      } finally {
        await proxy2.close();
      }
    } finally {
      await proxy.close();
    }
  });

  it("when the relayer answers text or a stream → metrics as text; the event stream outlives the attempt's deadline", async () => {
    const escrow = createEscrowClient({ baseUrl, timeoutMs: 300, apiKey: await w.key("party", payer) });
    const metrics = await escrow.metrics();
    expect(metrics).to.include("relayer_http_request_duration_seconds");
    const stream = await escrow.streamEvents();
    expect(stream).to.be.instanceOf(ReadableStream);
    try {
      await sleep(600); // past the deadline: a stream's deadline covers its headers only
      const { body } = await signedOpen(escrow);
      const accepted = await escrow.postIntent({ body });
      const reader = stream.getReader();
      const decoder = new TextDecoder();
      let text = "";
      while (!text.includes(accepted.dealId)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before the deal's event: ${text}`);
        text += decoder.decode(value, { stream: true });
      }
      expect(text).to.match(/event: deal\.opened/);
      await reader.cancel();
    } finally {
      await stream.cancel().catch(() => undefined);
    }
  });

  it("when a platform registers a webhook through the client and a deal opens → the delivery verifies with verifyWebhook", async () => {
    const received: { body: string; signature: string }[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          body: Buffer.concat(chunks).toString("utf8"),
          signature: req.headers["escrow-signature"] as string,
        });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    try {
      const platform = createEscrowClient({ baseUrl, apiKey: await w.key("platform", `0x${"cd".repeat(20)}`) });
      const endpoint = await platform.createWebhookEndpoint({
        body: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, types: ["deal.opened"] },
      });
      expect(endpoint.secret).to.match(/^whsec_/);
      await w.relayer.webhooks.dispatch();

      const escrow = createEscrowClient({ baseUrl, apiKey: await w.key("party", payer) });
      const { body } = await signedOpen(escrow);
      const accepted = await escrow.postIntent({ body });
      const delivery = await until("the webhook delivery", async () => {
        for (const r of received) {
          const d: WebhookDelivery = verifyWebhook({
            payload: r.body,
            header: r.signature,
            secrets: [endpoint.secret],
          });
          if (d.data.dealId === accepted.dealId) return d;
        }
        return undefined;
      });
      expect(delivery.type).to.equal("deal.opened");
      expect(delivery.endpointId).to.equal(endpoint.id);
      expect(() =>
        verifyWebhook({ payload: received[0].body, header: received[0].signature, secrets: ["whsec_other"] }),
      ).to.throw(/No Escrow-Signature v1= matches/);
      await platform.deleteWebhookEndpoint({ params: { path: { id: endpoint.id } } });
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

describe("client retry policy", () => {
  it("when Retry-After is delta-seconds or an HTTP date → its wait in ms; absent or unreadable → undefined", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("3", now)).to.equal(3000);
    expect(retryAfterMs(" 0 ", now)).to.equal(0);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:05 GMT", now)).to.equal(5000);
    expect(retryAfterMs("Wed, 31 Dec 2025 23:59:00 GMT", now)).to.equal(0);
    for (const v of [null, "", "soon", "-1"]) expect(retryAfterMs(v, now), String(v)).to.equal(undefined);
  });

  it("when any retry, base and cap are drawn → the backoff lies in [ceiling/2, ceiling], ceiling = min(cap, base·2^(n-1))", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, base, cap, draw) => {
          const ceiling = Math.min(cap, base * 2 ** Math.min(30, retry - 1));
          const wait = backoffMs(retry, base, cap, () => draw);
          expect(wait).to.be.at.least(Math.floor(ceiling / 2));
          expect(wait).to.be.at.most(ceiling);
        },
      ),
      { numRuns: 500, seed: 5 },
    );
  });
});

describe("client against a rate-limited relayer", function () {
  this.timeout(300_000);
  let w: WriteRelayer;
  let baseUrl: string;

  before(async function () {
    // 60 a minute, bursts of 60: once a key spent them, the relayer answers 429 with Retry-After: 1.
    w = await startWriteRelayer("client-rate", { RATE_LIMIT_PER_MINUTE: "60" });
    baseUrl = `http://127.0.0.1:${w.relayer.port}`;
  });
  after(async function () {
    await w?.stop();
  });

  /** Spends the key's whole burst; returns the 429 that ended it. */
  async function exhaust(apiKey: string): Promise<EscrowApiError> {
    const spender = createEscrowClient({ baseUrl, apiKey, retries: 0 });
    const results = await Promise.all(
      Array.from({ length: 80 }, () =>
        spender.listGateways().then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    const limited = results.find((r): r is EscrowApiError => r instanceof EscrowApiError && r.status === 429);
    expect(limited, "a 429 among 80 requests").to.not.equal(undefined);
    return limited!;
  }

  /**
   * Runs `call` right after spending the key's burst, until its first attempt met the limit (a slow machine may
   * refill a token in between): at most 5 rounds.
   */
  async function limited<T>(apiKey: string, call: (attempts: AttemptInfo[]) => Promise<T>) {
    for (let round = 1; ; round++) {
      const first = await exhaust(apiKey);
      expect([first.kind, first.retryAfterMs]).to.deep.equal(["rate-limited", 1000]);
      const attempts: AttemptInfo[] = [];
      const result = await call(attempts);
      if (attempts[0]?.status === 429 || round === 5) return { attempts, result };
    }
  }

  it("when the relayer answers 429 with Retry-After → the client waits that long, retries, and resolves", async () => {
    const apiKey = await w.key("read", `0x${"01".repeat(20)}`);
    const { attempts, result } = await limited(apiKey, (attempts) =>
      createEscrowClient({ baseUrl, apiKey, retries: 3, onAttempt: (a) => attempts.push(a) }).listGateways(),
    );
    expect(result.data).to.be.an("array");
    expect(attempts[0]).to.include({ status: 429, retryInMs: 1000 });
    expect(attempts[attempts.length - 1]).to.include({ status: 200 });
    expect(attempts.filter((a) => a.status === 429).every((a) => a.retryInMs! >= 1000)).to.equal(true);
  });

  it("when Retry-After is longer than maxRetryAfterMs → EscrowApiError 429 at once, with retryAfterMs", async () => {
    const apiKey = await w.key("read", `0x${"02".repeat(20)}`);
    const { attempts, result } = await limited(apiKey, (attempts) =>
      createEscrowClient({ baseUrl, apiKey, maxRetryAfterMs: 500, onAttempt: (a) => attempts.push(a) })
        .listGateways()
        .catch((x: unknown) => x),
    );
    const e = result as EscrowApiError;
    expect(e).to.be.instanceOf(EscrowApiError);
    expect([e.status, e.kind, e.retryAfterMs]).to.deep.equal([429, "rate-limited", 1000]);
    expect(attempts).to.have.length(1);
  });
});
