/**
 * Replay over HTTP: GET /v1/events pages and filters, the SSE stream equals the replay (from a cursor and live),
 * retention's 410 and the refusals of malformed input. Real Redis; the store written through its real commit and
 * rollback.
 */
import { expect } from "chai";
import { id } from "ethers";
import http from "node:http";
import { at, opened, performed, released } from "../support/domain";
import { eventually, startEventsFixture, type EventsFixture } from "../support/events";
import { trimEvents } from "../../../relayer/src/events/stream";

type Ev = { id: string; type: string; block: number; dealId?: string; timestamp?: number; chainId: number };

/** An SSE client: every `id`/`event`/`data` block and comment line received, until closed. */
function openStream(port: number, path: string, headers: Record<string, string> = {}) {
  const events: { id?: string; event?: string; data: Ev }[] = [];
  const comments: string[] = [];
  let status = 0;
  let contentType = "";
  let ended = false;
  let buffer = "";
  const req = http.get({ host: "127.0.0.1", port, path, headers }, (res) => {
    status = res.statusCode ?? 0;
    contentType = String(res.headers["content-type"]);
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) comments.push(line);
          else {
            const i = line.indexOf(": ");
            fields[line.slice(0, i)] = line.slice(i + 2);
          }
        }
        if (fields.data) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) as Ev });
      }
    });
    res.on("end", () => (ended = true));
    res.on("close", () => (ended = true));
  });
  req.on("error", () => (ended = true));
  return {
    events,
    comments,
    status: () => status,
    contentType: () => contentType,
    ended: () => ended,
    close: () => req.destroy(),
  };
}

describe("GET /v1/events and /v1/events/stream", function () {
  this.timeout(60_000);
  let f: EventsFixture;

  beforeEach(async function () {
    f = await startEventsFixture("api-events", {}, { heartbeatMs: 100, dispatch: false });
  });
  afterEach(async function () {
    await f?.close();
  });

  /** deal.opened (final at commit: two events), performed pending then finalized, released pending then retracted. */
  async function seedSix(): Promise<void> {
    await f.commit([{ ...opened(at(0)), timestamp: 1_800_000_000 } as ReturnType<typeof opened>]);
    const b2 = await f.commit([performed(at(0))], { undoable: true });
    await f.commit([], { undoable: true, prune: [b2] });
    const b4 = await f.commit([released(at(0, 1))], { undoable: true });
    await f.rollback(b4 - 1);
  }
  const all = async (query = ""): Promise<Ev[]> => {
    const res = await f.http.get(`/v1/events${query}`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.data as Ev[];
  };

  it("when events were announced, finalized and retracted → each in order, with stable ids, block time and subject", async function () {
    await seedSix();
    const events = await all();
    expect(events.map((e) => `${e.type}@${e.block}`)).to.deep.equal([
      "deal.opened@100",
      "deal.opened.finalized@100",
      "deal.performed@101",
      "deal.performed.finalized@101",
      "deal.released@103",
      "deal.released.retracted@103",
    ]);
    expect(events[0]).to.include({ chainId: 31337, timestamp: 1_800_000_000, logIndex: 0 });
    expect(events[0].dealId).to.match(/^0x[0-9a-f]{64}$/);
    expect(events[1].id).to.equal(`${events[0].id}.f`);
    expect(events[2]).to.not.have.property("timestamp");
    expect(await all()).to.deep.equal(events); // stable
  });

  it("when paging with limit and nextCursor → the same events; a cursor inside a final-at-commit entry resumes at its finalization", async function () {
    await seedSix();
    const whole = await all();
    const paged: Ev[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const res = await f.http.get(`/v1/events?limit=2${cursor ? `&after=${cursor}` : ""}`).expect(200);
      if (res.body.data.length === 0) {
        expect(res.body.nextCursor).to.equal(cursor);
        break;
      }
      paged.push(...(res.body.data as Ev[]));
      cursor = res.body.nextCursor as string;
    }
    expect(paged).to.deep.equal(whole);
    expect((await all(`?after=${whole[0].id}`))[0].type).to.equal("deal.opened.finalized");
  });

  it("when filtering by types with wildcards → only those, and nextCursor moves past what was skipped", async function () {
    await seedSix();
    expect((await all("?types=deal.*.finalized,*.retracted")).map((e) => e.type)).to.deep.equal([
      "deal.opened.finalized",
      "deal.performed.finalized",
      "deal.released.retracted",
    ]);
    const res = await f.http.get("/v1/events?types=deal.opened").expect(200);
    expect(res.body.data.map((e: Ev) => e.type)).to.deep.equal(["deal.opened"]);
    const whole = await all();
    expect(res.body.nextCursor).to.equal(whole.at(-1)!.id);
  });

  it("when the input is malformed → 400 naming the parameter; an empty stream → no events and a null cursor", async function () {
    const empty = await f.http.get("/v1/events").expect(200);
    expect(empty.body).to.deep.equal({ data: [], nextCursor: null });
    for (const [query, parameter] of [
      ["?after=abc", "after"],
      ["?after=1-2-3", "after"],
      ["?types=deal.nope", "types"],
      ["?types=DEAL.*", "types"],
      ["?limit=0", "limit"],
      ["?limit=1001", "limit"],
      ["?cursor=1", "cursor"],
    ]) {
      const res = await f.http.get(`/v1/events${query}`);
      expect(res.status, query).to.equal(400);
      expect(res.body.errors[0].parameter, query).to.equal(parameter);
    }
    const sse = await f.http.get("/v1/events/stream").set("Last-Event-ID", "nope");
    expect(sse.status).to.equal(400);
    expect(sse.body.errors[0]).to.include({ parameter: "Last-Event-ID", in: "header" });
  });

  it("when the retention trimmed past a cursor → 410 cursor-expired (replay and stream); a newer cursor still reads", async function () {
    await seedSix();
    const whole = await all();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const keys = {
      streamKey: f.store.key("events"),
      guardKey: f.store.key("w:events:trim"),
      trimmedKey: f.store.key("w:events:trimmed"),
    };
    await f.redis.del(keys.guardKey); // the fixture's own start trimmed (nothing) and holds the guard
    expect(await trimEvents(f.redis, keys, 0, 60_000)).to.equal(5); // five entries held the six events
    expect(await trimEvents(f.redis, keys, 0, 60_000)).to.equal(-1); // another trim within the period: skipped
    const res = await f.http.get(`/v1/events?after=${whole[2].id}`);
    expect(res.status).to.equal(410);
    expect(res.body.type).to.match(/cursor-expired$/);
    expect(res.body.detail).to.match(/GET \/v1\/deals/);
    expect((await f.http.get(`/v1/events/stream?after=${whole[2].id}`)).status).to.equal(410);
    await f.commit([opened(at(0), { salt: id("later salt") }, id("later deal"))]);
    const after = await all();
    expect(after.map((e) => e.type)).to.deep.equal(["deal.opened", "deal.opened.finalized"]);
    expect((await f.http.get(`/v1/events?after=${after[0].id}`)).status).to.equal(200);
  });

  it("when a client streams from a cursor → the SSE events equal the replay, then live ones follow; Last-Event-ID resumes", async function () {
    await seedSix();
    const whole = await all();
    const sse = openStream(f.server.port, `/v1/events/stream?after=${whole[1].id}`);
    try {
      await eventually(() => sse.events.length >= 4, 10_000, "the replayed part");
      expect(sse.status()).to.equal(200);
      expect(sse.contentType()).to.match(/^text\/event-stream/);
      expect(sse.events.map((e) => e.data)).to.deep.equal(whole.slice(2));
      expect(sse.events.map((e) => e.id)).to.deep.equal(whole.slice(2).map((e) => e.id));
      expect(sse.events.map((e) => e.event)).to.deep.equal(whole.slice(2).map((e) => e.type));
      await f.commit([opened(at(0), { salt: id("live salt") }, id("live deal"))], { undoable: true });
      await eventually(() => sse.events.length >= 5, 10_000, "the live event");
      await eventually(() => sse.comments.some((c) => c.includes("heartbeat")), 10_000, "a heartbeat");
      const replay = await all(`?after=${whole[1].id}`);
      expect(sse.events.map((e) => e.data)).to.deep.equal(replay);
    } finally {
      sse.close();
    }
    const resumed = openStream(f.server.port, "/v1/events/stream?types=deal.*", { "Last-Event-ID": whole[3].id });
    try {
      await eventually(() => resumed.events.length >= 3, 10_000, "the resumed stream");
      expect(resumed.events.map((e) => e.data)).to.deep.equal((await all()).slice(4));
    } finally {
      resumed.close();
    }
  });

  it("when no cursor is given → the stream starts with the next event; on shutdown it ends cleanly", async function () {
    await seedSix();
    const sse = openStream(f.server.port, "/v1/events/stream");
    await eventually(() => sse.status() === 200, 10_000, "the stream to open");
    await f.commit([opened(at(0), { salt: id("next salt") }, id("next deal"))]);
    await eventually(() => sse.events.length >= 2, 10_000, "the next events");
    expect(sse.events.map((e) => e.data.type)).to.deep.equal(["deal.opened", "deal.opened.finalized"]);
    await f.webhooks.stop();
    await eventually(() => sse.ended(), 10_000, "the stream to end");
    await f.server.close();
  });
});
