/**
 * Order events in the event stream: entries written with XADD the way the orders side writes them (orderEventValue
 * under a fresh prefix), replayed by GET /v1/events and the SSE stream with type filters, shown only to the keys of
 * the order's platform and acceptor owners and to admin keys, and fanned out only to those owners' webhook
 * endpoints, signed. Real Redis, real BullMQ, receivers on 127.0.0.1.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { at, opened } from "../support/domain";
import { eventually, startEventsFixture, startReceiver, type EventsFixture } from "../support/events";
import {
  decodeOrderEvent,
  ORDER_EVENT_TYPES,
  orderEventValue,
  type OrderEventInput,
} from "../../../relayer/src/events/orders";
import { eventsOfEntry } from "../../../relayer/src/events/stream";
import { typeMatcher } from "../../../relayer/src/events/types";
import { verifySignature } from "../../../relayer/src/events/signing";

const newAddress = () => `0x${randomBytes(20).toString("hex")}`;
const orderId = () => `ord_${randomBytes(12).toString("hex")}`;

type Ev = { id: string; type: string; orderId?: string; platform?: string; acceptor?: string; dealId?: string };

/** An SSE reader: the events received until closed. */
function openStream(port: number, path: string, headers: Record<string, string> = {}) {
  const events: Ev[] = [];
  let status = 0;
  let buffer = "";
  const req = http.get({ host: "127.0.0.1", port, path, headers }, (res) => {
    status = res.statusCode ?? 0;
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split("\n").find((l) => l.startsWith("data: "));
        if (data) events.push(JSON.parse(data.slice(6)) as Ev);
      }
    });
  });
  req.on("error", () => undefined);
  return { events, status: () => status, close: () => req.destroy() };
}

describe("order events (stream, replay, visibility, webhooks)", function () {
  this.timeout(60_000);
  let f: EventsFixture;
  const platform = newAddress();
  const acceptor = newAddress();
  const stranger = newAddress();

  beforeEach(async function () {
    f = await startEventsFixture("orders");
  });
  afterEach(async function () {
    await f?.close();
  });

  const write = async (e: OrderEventInput): Promise<string> =>
    (await f.redis.xadd(f.store.key("events"), "*", "e", orderEventValue(e)))!;

  const order = (type: string, status: string, over: Partial<OrderEventInput> = {}): OrderEventInput => ({
    type,
    orderId: orderId(),
    status,
    platform,
    acceptor,
    reference: "shop-42",
    at: 1_800_000_000_000,
    ...over,
  });

  const get = (path: string, key?: string) => {
    const r = f.http.get(path);
    return key ? r.set("Authorization", `Bearer ${key}`) : r;
  };

  describe("the entry format (pure)", function () {
    it("when an order event is written → its value is `o` + the pinned one-letter JSON, and it decodes to the public event", function () {
      const value = orderEventValue({
        type: "order.funded",
        orderId: "ord_" + "ab".repeat(12),
        status: "funded",
        platform: "0x" + "11".repeat(20),
        acceptor: "0x" + "22".repeat(20),
        dealId: "0x" + "33".repeat(32),
        reference: "r-1",
        at: 1_800_000_000_123,
      });
      expect(value[0]).to.equal("o");
      expect(JSON.parse(value.slice(1))).to.deep.equal({
        t: "order.funded",
        o: "ord_" + "ab".repeat(12),
        s: "funded",
        p: "0x" + "11".repeat(20),
        a: "0x" + "22".repeat(20),
        d: "0x" + "33".repeat(32),
        r: "r-1",
        at: 1_800_000_000_123,
      });
      expect(eventsOfEntry("7-0", ["e", value], 31337)).to.deep.equal([
        {
          id: "7-0",
          type: "order.funded",
          chainId: 31337,
          orderId: "ord_" + "ab".repeat(12),
          status: "funded",
          platform: "0x" + "11".repeat(20),
          acceptor: "0x" + "22".repeat(20),
          dealId: "0x" + "33".repeat(32),
          reference: "r-1",
          at: 1_800_000_000_123,
        },
      ]);
    });

    it("when optional members are absent → they are absent from the value and the event", function () {
      const value = orderEventValue({
        type: "order.unmatched",
        orderId: "ord_1",
        status: "unmatched",
        platform: "0x" + "11".repeat(20),
        reference: "r",
        at: 5,
      });
      expect(Object.keys(JSON.parse(value.slice(1)) as object)).to.deep.equal(["t", "o", "s", "p", "r", "at"]);
      const [e] = eventsOfEntry("1-0", ["e", value], 1);
      expect(e).to.not.have.property("acceptor");
      expect(e).to.not.have.property("dealId");
    });

    it("when an order.message entry carries its message → the event's message { hash, author, role }; malformed → no event", function () {
      const author = "0x" + "AB".repeat(20);
      const value = orderEventValue({
        type: "order.message",
        orderId: "ord_1",
        status: "paid",
        platform: "0x" + "11".repeat(20),
        reference: "r",
        at: 5,
        message: { hash: "0x" + "01".repeat(32), author, role: "acceptor" },
      });
      const [e] = eventsOfEntry("1-0", ["e", value], 1);
      expect(e).to.deep.include({ type: "order.message", orderId: "ord_1" });
      expect((e as { message?: unknown }).message).to.deep.equal({
        hash: "0x" + "01".repeat(32),
        author: author.toLowerCase(),
        role: "acceptor",
      });
      const base = '{"t":"order.message","o":"x","s":"paid","p":"p","r":"r","at":1';
      for (const m of ['"m":["0x1","0x2"]', '"m":"0x1"', '"m":[1,2,3]']) {
        expect(decodeOrderEvent("1-0", `${base},${m}}`, 1), m).to.equal(undefined);
      }
    });

    it("when an order entry is malformed or of an unknown type → no event", function () {
      expect(eventsOfEntry("1-0", ["e", "o{broken"], 1)).to.deep.equal([]);
      expect(
        eventsOfEntry("1-0", ["e", 'o{"t":"order.nope","o":"x","s":"s","p":"p","r":"r","at":1}'], 1),
      ).to.deep.equal([]);
      expect(decodeOrderEvent("1-0", '{"t":"order.paid","o":"x","s":"paid","p":"p","r":"r"}', 1)).to.equal(undefined);
      expect(decodeOrderEvent("1-0", '{"t":"order.paid","o":1,"s":"paid","p":"p","r":"r","at":1}', 1)).to.equal(
        undefined,
      );
      expect(decodeOrderEvent("1-0", "[1]", 1)).to.equal(undefined);
    });

    it("when filtering by `order.*` or an exact order type → the order types are known; deal filters do not match them", function () {
      const all = typeMatcher(["order.*"]);
      expect("match" in all && ORDER_EVENT_TYPES.every((t) => all.match(t))).to.equal(true);
      const exact = typeMatcher(["order.paid_late"]);
      expect("match" in exact && exact.match("order.paid_late") && !exact.match("order.paid")).to.equal(true);
      const deals = typeMatcher(["deal.*"]);
      expect("match" in deals && ORDER_EVENT_TYPES.some((t) => deals.match(t))).to.equal(false);
      expect(typeMatcher(["order.bogus"])).to.deep.equal({ unknown: "order.bogus" });
    });
  });

  describe("replay and SSE", function () {
    it("when order and deal events are in the stream → platform, acceptor and admin keys see the order events in order; a stranger and anonymous readers see only the deal events", async function () {
      await f.commit([opened(at(0))]);
      const assigned = order("order.assigned", "assigned");
      const idA = await write(assigned);
      const idB = await write({ ...assigned, type: "order.accepted", status: "accepted", at: assigned.at + 1 });
      const other = order("order.assigned", "assigned", { platform: newAddress(), acceptor: newAddress() });
      const idC = await write(other);

      const platformKey = await f.key("platform", platform);
      const acceptorKey = await f.key("acceptor", acceptor);
      const adminKey = await f.key("admin");
      const strangerKey = await f.key("platform", stranger);

      const typesOf = async (key?: string, query = "") => {
        const res = await get(`/v1/events${query}`, key);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        return res.body as { data: Ev[]; nextCursor: string };
      };
      const forPlatform = await typesOf(platformKey);
      expect(forPlatform.data.map((e) => e.type)).to.deep.equal([
        "deal.opened",
        "deal.opened.finalized",
        "order.assigned",
        "order.accepted",
      ]);
      expect(forPlatform.data.slice(2).map((e) => e.id)).to.deep.equal([idA, idB]);
      expect(forPlatform.data[2]).to.deep.include({
        orderId: assigned.orderId,
        status: "assigned",
        platform,
        acceptor,
        reference: "shop-42",
        chainId: 31337,
      });
      // The cursor moves past the hidden order event too: a filtered reader never rescans it.
      expect(forPlatform.nextCursor).to.equal(idC);

      expect((await typesOf(acceptorKey)).data.map((e) => e.id).slice(2)).to.deep.equal([idA, idB]);
      expect((await typesOf(adminKey)).data.map((e) => e.id).slice(2)).to.deep.equal([idA, idB, idC]);
      expect((await typesOf(strangerKey)).data.map((e) => e.type)).to.deep.equal([
        "deal.opened",
        "deal.opened.finalized",
      ]);
      const anonymous = await typesOf(undefined);
      expect(anonymous.data.map((e) => e.type)).to.deep.equal(["deal.opened", "deal.opened.finalized"]);

      // Type filters: order.* keeps only order events; an exact order type only that one; deal.* none of them.
      expect((await typesOf(platformKey, "?types=order.*")).data.map((e) => e.id)).to.deep.equal([idA, idB]);
      expect((await typesOf(platformKey, "?types=order.accepted")).data.map((e) => e.id)).to.deep.equal([idB]);
      expect((await typesOf(adminKey, "?types=deal.*")).data.map((e) => e.type)).to.deep.equal([
        "deal.opened",
        "deal.opened.finalized",
      ]);
      // Paging resumes after an order event's id.
      expect((await typesOf(platformKey, `?after=${idA}`)).data.map((e) => e.id)).to.deep.equal([idB]);
      expect((await get("/v1/events?types=order.nope", platformKey)).status).to.equal(400);
    });

    it("when SSE readers follow the stream → only the platform's key gets the live order event; the stranger's stream stays without it", async function () {
      const platformKey = await f.key("platform", platform);
      const strangerKey = await f.key("party", stranger);
      const start = await write(order("order.cancelled", "cancelled", { platform: newAddress() }));
      const mine = openStream(f.server.port, `/v1/events/stream?after=${start}&types=order.*`, {
        Authorization: `Bearer ${platformKey}`,
      });
      const theirs = openStream(f.server.port, `/v1/events/stream?after=${start}`, {
        Authorization: `Bearer ${strangerKey}`,
      });
      const anonymous = openStream(f.server.port, `/v1/events/stream?after=${start}`);
      try {
        await eventually(
          () => mine.status() === 200 && theirs.status() === 200 && anonymous.status() === 200,
          10_000,
          "the streams to open",
        );
        const funded = order("order.funded", "funded", { dealId: "0x" + "44".repeat(32) });
        const id = await write(funded);
        await f.commit([opened(at(0))]);
        await eventually(() => mine.events.length >= 1, 10_000, "the platform's live order event");
        await eventually(() => theirs.events.length >= 2 && anonymous.events.length >= 2, 10_000, "the deal events");
        expect(mine.events.map((e) => [e.id, e.type, e.orderId])).to.deep.equal([[id, "order.funded", funded.orderId]]);
        expect(theirs.events.map((e) => e.type)).to.deep.equal(["deal.opened", "deal.opened.finalized"]);
        expect(anonymous.events.map((e) => e.type)).to.deep.equal(["deal.opened", "deal.opened.finalized"]);
      } finally {
        mine.close();
        theirs.close();
        anonymous.close();
      }
    });
  });

  describe("webhooks", function () {
    it("when an order event is fanned out → the platform's and the acceptor's endpoints get it signed, sequence 1; another owner's endpoint gets only the deal event", async function () {
      const platformHook = await startReceiver(200);
      const acceptorHook = await startReceiver(200);
      const strangerHook = await startReceiver(200);
      try {
        const register = async (key: string, url: string) => {
          const res = await f.http.post("/v1/webhook-endpoints").set("Authorization", `Bearer ${key}`).send({ url });
          expect(res.status, JSON.stringify(res.body)).to.equal(201);
          return res.body as { id: string; secret: string };
        };
        const p = await register(await f.key("platform", platform), platformHook.url);
        const a = await register(await f.key("acceptor", acceptor), acceptorHook.url);
        const s = await register(await f.key("platform", stranger), strangerHook.url);
        await f.webhooks.dispatch(); // the cursor starts here

        const paid = order("order.paid", "paid", { dealId: "0x" + "55".repeat(32) });
        const id = await write(paid);
        // A deal event afterwards, which every endpoint receives: once the stranger has it, the fan-out of the
        // order event before it is over.
        await f.commit([opened(at(0))]);
        await f.webhooks.dispatch();
        await eventually(() => strangerHook.delivered().length >= 2, 20_000, "the stranger's deal events");
        await eventually(
          () => platformHook.delivered().length >= 3 && acceptorHook.delivered().length >= 3,
          20_000,
          "the owners' deliveries",
        );

        expect(strangerHook.delivered().map((d) => [d.json.type, d.json.sequence])).to.deep.equal([
          ["deal.opened", 1],
          ["deal.opened.finalized", 2],
        ]);
        for (const [hook, endpoint] of [
          [platformHook, p],
          [acceptorHook, a],
        ] as const) {
          const delivered = hook.delivered().sort((x, y) => x.json.sequence - y.json.sequence);
          expect(delivered.map((d) => [d.json.type, d.json.sequence])).to.deep.equal([
            ["order.paid", 1],
            ["deal.opened", 2],
            ["deal.opened.finalized", 3],
          ]);
          const first = delivered[0];
          expect(first.json.id).to.equal(id);
          expect(first.json.endpointId).to.equal(endpoint.id);
          expect(first.json.data).to.deep.equal({
            id,
            type: "order.paid",
            chainId: 31337,
            orderId: paid.orderId,
            status: "paid",
            platform,
            acceptor,
            dealId: paid.dealId,
            reference: "shop-42",
            at: paid.at,
          });
          expect(verifySignature(String(first.headers["escrow-signature"]), first.body, endpoint.secret)).to.equal(
            true,
          );
          expect(verifySignature(String(first.headers["escrow-signature"]), first.body, s.secret)).to.equal(false);
        }
        expect(strangerHook.received.some((r) => r.body.includes("order."))).to.equal(false);
      } finally {
        await platformHook.close();
        await acceptorHook.close();
        await strangerHook.close();
      }
    });
  });
});
