/**
 * Webhook delivery end to end over real Redis and BullMQ: events committed through the store's real commit and
 * rollback, fanned out by two dispatchers at once (two replicas), delivered to receivers on 127.0.0.1.
 */
import { expect } from "chai";
import { id } from "ethers";
import { performed, opened, released, at, DEAL2 } from "../support/domain";
import { startEventsFixture, startReceiver, eventually, type EventsFixture } from "../support/events";
import { verifySignature } from "../../../relayer/src/events/signing";
import { startWriteRelayer, type WriteRelayer } from "../support/write";
import { dealIdOf, makeDeal, USDT } from "../support/activity";
import { mine } from "../support/chain-control";
import { ZeroHash } from "ethers";
import { attemptsFor, backoffDelay, startWebhooks, RETRY_SPAN_MS } from "../../../relayer/src/events/webhooks";
import { settledWithin } from "../../../relayer/src/deadline";
import { unreachableCluster } from "../../support/redis";
import { createCommon } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { createStore } from "../../../relayer/src/store/store";
import { CHAIN_ID, ESCROW } from "../support/events";

describe("webhooks (delivery)", function () {
  this.timeout(120_000);
  let f: EventsFixture;

  beforeEach(async function () {
    f = await startEventsFixture("wh");
  });
  afterEach(async function () {
    await f?.close();
  });

  const register = async (key: string, url: string, types?: string[]) => {
    const res = await f.http
      .post("/v1/webhook-endpoints")
      .set("Authorization", `Bearer ${key}`)
      .send(types ? { url, types } : { url });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { id: string; secret: string };
  };

  /** deal.opened (+ finalized, committed final), deal.performed (pending, then finalized), deal.released (pending, then retracted). */
  async function produceSix(): Promise<void> {
    const b1 = await f.commit([opened(at(0))]);
    const b2 = await f.commit([performed(at(0))], { undoable: true });
    await f.commit([], { undoable: true, prune: [b2] });
    const b4 = await f.commit([released(at(0, 1))], { undoable: true });
    expect(await f.rollback(b4 - 1)).to.equal(1);
    expect(b1).to.be.lessThan(b2);
  }
  const SIX = [
    "deal.opened",
    "deal.opened.finalized",
    "deal.performed",
    "deal.performed.finalized",
    "deal.released",
    "deal.released.retracted",
  ];

  it("when one receiver is down then up → both get every event exactly once, sequences 1..N, signatures valid; the healthy one is not held up", async function () {
    const down = await startReceiver(503);
    const up = await startReceiver(200);
    // A second replica's dispatcher and worker over the same Redis: fan-out must still happen once.
    const replica = startWebhooks({ common: f.common, redis: f.redis, store: f.store, chainId: 31337 });
    try {
      const platform = await f.key("platform");
      const a = await register(platform, down.url);
      const b = await register(platform, up.url);
      await f.webhooks.dispatch(); // the cursor starts here: what follows is delivered
      await produceSix();

      await eventually(() => up.delivered().length >= SIX.length, 20_000, "the healthy endpoint's deliveries");
      // The failing endpoint was tried meanwhile and still fails: it did not hold the other one up.
      expect(down.received.length).to.be.greaterThan(0);
      expect(down.delivered()).to.deep.equal([]);

      down.setStatus(200);
      await eventually(() => new Set(down.delivered().map((d) => d.json.id)).size >= SIX.length, 30_000, "retries");
      // Let any duplicate show up before judging.
      await new Promise((resolve) => setTimeout(resolve, 500));

      for (const [receiver, endpoint] of [
        [down, a],
        [up, b],
      ] as const) {
        const delivered = receiver.delivered();
        const ids = delivered.map((d) => d.json.id);
        expect(new Set(ids).size, "distinct ids").to.equal(ids.length); // exactly once once delivered
        const inOrder = [...delivered].sort((x, y) => x.json.sequence - y.json.sequence);
        expect(inOrder.map((d) => d.json.sequence)).to.deep.equal([1, 2, 3, 4, 5, 6]);
        expect(inOrder.map((d) => d.json.type)).to.deep.equal(SIX);
        for (const d of receiver.received) {
          const header = String(d.headers["escrow-signature"]);
          expect(verifySignature(header, d.body, endpoint.secret), "signature").to.equal(true);
          expect(verifySignature(header, d.body.replace("deal.", "deaI."), endpoint.secret), "tampered").to.equal(
            false,
          );
          const body = JSON.parse(d.body) as { id: string; type: string; endpointId: string; data: { id: string } };
          expect(d.headers["escrow-event-id"]).to.equal(body.id);
          expect(d.headers["escrow-event-type"]).to.equal(body.type);
          expect(d.headers["content-type"]).to.equal("application/json");
          expect(body.endpointId).to.equal(endpoint.id);
          expect(body.data.id).to.equal(body.id);
        }
        // Retries resend the same bytes: every request for one id carries one body.
        const bodies = new Map<string, Set<string>>();
        for (const d of receiver.received) {
          const id = (JSON.parse(d.body) as { id: string }).id;
          bodies.set(id, (bodies.get(id) ?? new Set()).add(d.body));
        }
        expect([...bodies.values()].every((s) => s.size === 1)).to.equal(true);
      }

      // The failing endpoint's log holds its failed attempts (503) and the later deliveries, newest first.
      const log = await f.http
        .get(`/v1/webhook-endpoints/${a.id}/deliveries`)
        .set("Authorization", `Bearer ${platform}`);
      expect(log.status).to.equal(200);
      const attempts = log.body.data as { outcome: string; status?: number; attempt: number; sequence: number }[];
      expect(attempts.some((x) => x.outcome === "failed" && x.status === 503)).to.equal(true);
      expect(attempts.filter((x) => x.outcome === "delivered")).to.have.length(SIX.length);
      expect(attempts.some((x) => x.outcome === "delivered" && x.attempt > 1)).to.equal(true);
    } finally {
      await replica.stop();
      await down.close();
      await up.close();
    }
  });

  it("when an endpoint filters types → it gets only those; the retraction reaches a `*.retracted` filter", async function () {
    const receiver = await startReceiver(200);
    const retractions = await startReceiver(200);
    try {
      const platform = await f.key("platform");
      await register(platform, receiver.url, ["deal.opened", "deal.performed.*"]);
      await register(platform, retractions.url, ["*.retracted"]);
      await f.webhooks.dispatch();
      await produceSix();
      await eventually(() => receiver.delivered().length >= 2 && retractions.delivered().length >= 1);
      await f.commit([opened(at(0), { salt: `0x${"44".repeat(32)}` }, DEAL2)]);
      await eventually(() => receiver.delivered().length >= 3);
      const types = receiver
        .delivered()
        .sort((x, y) => x.json.sequence - y.json.sequence)
        .map((d) => `${d.json.sequence} ${d.json.type}`);
      expect(types).to.deep.equal(["1 deal.opened", "2 deal.performed.finalized", "3 deal.opened"]);
      expect(retractions.delivered().map((d) => `${d.json.sequence} ${d.json.type}`)).to.deep.equal([
        "1 deal.released.retracted",
      ]);
    } finally {
      await receiver.close();
      await retractions.close();
    }
  });

  it("when the secret is rotated → deliveries carry two signatures, each secret verifies; redeliver resends the same delivery", async function () {
    const receiver = await startReceiver(200);
    try {
      const platform = await f.key("platform");
      const endpoint = await register(platform, receiver.url);
      const rotated = await f.http
        .post(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`)
        .set("Authorization", `Bearer ${platform}`);
      expect(rotated.status).to.equal(200);
      const secret2 = rotated.body.secret as string;
      expect(secret2)
        .to.match(/^whsec_[0-9a-f]{64}$/)
        .and.not.equal(endpoint.secret);
      await f.webhooks.dispatch();
      await f.commit([opened(at(0))], { undoable: true });
      await eventually(() => receiver.delivered().length >= 1);
      const first = receiver.received[0];
      const header = String(first.headers["escrow-signature"]);
      expect(header.match(/v1=/g)).to.have.length(2);
      expect(verifySignature(header, first.body, endpoint.secret)).to.equal(true);
      expect(verifySignature(header, first.body, secret2)).to.equal(true);
      expect(verifySignature(header, first.body, "whsec_other")).to.equal(false);

      const id = (JSON.parse(first.body) as { id: string }).id;
      const again = await f.http
        .post(`/v1/webhook-endpoints/${endpoint.id}/deliveries/${id}/redeliver`)
        .set("Authorization", `Bearer ${platform}`);
      expect(again.status, JSON.stringify(again.body)).to.equal(202);
      await eventually(() => receiver.received.length >= 2);
      expect(receiver.received[1].body).to.equal(first.body);
      const missing = await f.http
        .post(`/v1/webhook-endpoints/${endpoint.id}/deliveries/1-0/redeliver`)
        .set("Authorization", `Bearer ${platform}`);
      expect(missing.status).to.equal(404);
      expect(missing.body.type).to.match(/delivery-not-found$/);
    } finally {
      await receiver.close();
    }
  });

  it("when an endpoint hangs → its requests time out and are retried, while another endpoint's arrive", async function () {
    await f.close();
    f = await startEventsFixture("wh-hang", { WEBHOOK_TIMEOUT_MS: "300" });
    const hanging = await startReceiver(0);
    const healthy = await startReceiver(200);
    try {
      const platform = await f.key("platform");
      const h = await register(platform, hanging.url);
      await register(platform, healthy.url);
      await f.webhooks.dispatch();
      for (let i = 0; i < 5; i++) {
        await f.commit([opened(at(0), { salt: id(`hang salt ${i}`) }, id(`hang deal ${i}`))]);
      }
      await eventually(() => healthy.delivered().length >= 10);
      await eventually(async () => {
        const log = await f.http
          .get(`/v1/webhook-endpoints/${h.id}/deliveries`)
          .set("Authorization", `Bearer ${platform}`);
        return (log.body.data as { error?: string }[]).some((x) => /no answer within 300 ms/.test(x.error ?? ""));
      });
    } finally {
      await hanging.close();
      await healthy.close();
    }
  });

  it("when a process died between recording and queueing deliveries → the outbox sweep queues them, once", async function () {
    const receiver = await startReceiver(200);
    try {
      const platform = await f.key("platform");
      const endpoint = await register(platform, receiver.url);
      await f.webhooks.dispatch();
      await f.commit([opened(at(0))], { undoable: true });
      await eventually(() => receiver.delivered().length >= 1);
      const sent = receiver.delivered()[0].json;
      // A recorded delivery whose job was queued already: the sweep must not send it twice.
      const outbox = f.webhooks.endpoints.key("outbox");
      await f.redis.zadd(outbox, Date.now() - 60_000, `${endpoint.id}|${sent.id}`);
      // A recorded delivery never queued (its process died): the sweep sends it.
      const lost = { ...sent, id: "1-7", sequence: 2, data: { ...sent.data, id: "1-7" } };
      await f.redis.set(f.webhooks.endpoints.key(`dl:${endpoint.id}:1-7`), JSON.stringify(lost), "EX", 600);
      await f.redis.zadd(outbox, Date.now() - 60_000, `${endpoint.id}|1-7`);
      await eventually(() => receiver.delivered().some((d) => d.json.id === "1-7"), 20_000, "the lost delivery");
      await eventually(async () => (await f.redis.zcard(outbox)) === 0, 20_000, "the outbox to drain");
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver.delivered().map((d) => d.json.id)).to.deep.equal([sent.id, "1-7"]);
    } finally {
      await receiver.close();
    }
  });

  it("retries with exponential backoff, capped at an hour, for at least 24 hours", function () {
    expect([1, 2, 3, 4].map((n) => backoffDelay(10_000, n))).to.deep.equal([10_000, 20_000, 40_000, 80_000]);
    expect(backoffDelay(10_000, 30)).to.equal(3_600_000);
    for (const base of [1, 50, 10_000, 3_600_000]) {
      const attempts = attemptsFor(base);
      let total = 0;
      for (let n = 1; n < attempts; n++) total += backoffDelay(base, n);
      expect(total, `base ${base}`).to.be.at.least(RETRY_SPAN_MS);
    }
  });
});

describe("webhooks (end to end: the relayer over a Hardhat node)", function () {
  this.timeout(300_000);
  let w: WriteRelayer;

  before(async function () {
    w = await startWriteRelayer("webhooks", {
      CONFIRMATIONS: "3",
      WEBHOOK_ALLOW_PRIVATE: "on",
      WEBHOOK_BACKOFF_MS: "50",
    });
  });
  after(async function () {
    await w?.stop();
  });

  it("when a deal opens, then a reorg removes it → deal.opened, then deal.opened.retracted; a kept deal is finalized", async function () {
    const receiver = await startReceiver(200);
    try {
      const key = await w.key("platform", `0x${"ab".repeat(20)}`);
      const res = await w.http
        .post("/v1/webhook-endpoints")
        .set("Authorization", `Bearer ${key}`)
        .send({
          url: receiver.url,
          types: ["deal.opened", "deal.opened.*"],
        });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      await w.relayer.webhooks.dispatch();
      const { p } = w;
      const payer = p.payers[0];
      const payee = await p.payees[0].getAddress();
      const snapshot = (await p.provider.send("evm_snapshot", [])) as string;
      const gone = await makeDeal(p, { payer: await payer.getAddress(), payee, amount: USDT(5) });
      await (await p.escrow.connect(payer).open(gone, ZeroHash)).wait();
      const goneId = dealIdOf(gone).toLowerCase();
      await eventually(() => receiver.delivered().some((d) => d.json.data.dealId === goneId), 60_000, "deal.opened");

      await p.provider.send("evm_revert", [snapshot]);
      const kept = await makeDeal(p, { payer: await payer.getAddress(), payee, amount: USDT(6) });
      await (await p.escrow.connect(payer).open(kept, ZeroHash)).wait();
      await mine(p.provider, 5);
      const seen = () =>
        receiver
          .delivered()
          .sort((a, b) => a.json.sequence - b.json.sequence)
          .map(
            (d) =>
              `${d.json.sequence} ${d.json.type} ${d.json.data.dealId === goneId ? "gone" : d.json.data.dealId === dealIdOf(kept).toLowerCase() ? "kept" : "other"}`,
          );
      await eventually(() => seen().length >= 4, 60_000, "the retraction and the finalization");
      expect(seen()).to.deep.equal([
        "1 deal.opened gone",
        "2 deal.opened.retracted gone",
        "3 deal.opened kept",
        "4 deal.opened.finalized kept",
      ]);
    } finally {
      await receiver.close();
    }
  });
});

describe("webhooks (stop)", function () {
  this.timeout(60_000);

  it("when its Redis Cluster never answers (no node listens) → stop() still ends: every close it waits for is bounded", async () => {
    // A real Cluster client whose only startup node refuses connections: BullMQ's closes and the tail's read wait
    // on connections that never complete; a relayer stopped during a cluster outage must still exit.
    const dead = unreachableCluster();
    const common = createCommon(
      parseOptions({
        RPC_URL: "http://127.0.0.1:1",
        DEPLOYMENT: "x",
        REDIS_PREFIX: "test-webhooks-stop",
        LOG_LEVEL: "silent",
        WEBHOOK_TIMEOUT_MS: "500",
      }),
    );
    try {
      const store = createStore({ common, redis: dead, chainId: CHAIN_ID, escrow: ESCROW });
      const webhooks = startWebhooks({ common, redis: dead, store, chainId: CHAIN_ID });
      await new Promise((resolve) => setTimeout(resolve, 300)); // its dispatcher and worker are trying to connect
      expect(await settledWithin(webhooks.stop(), 45_000), "stopped").to.equal(true);
    } finally {
      dead.disconnect();
    }
  });
});
