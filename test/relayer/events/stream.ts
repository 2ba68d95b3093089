/** The public events of stream entries, cursors, and pages read from a real store's stream. */
import { expect } from "chai";
import { eventsOfEntry, parseCursor } from "../../../relayer/src/events/stream";
import { at, opened, performed, released } from "../support/domain";
import { startEventsFixture, type EventsFixture } from "../support/events";
import { announcementOf } from "../../../relayer/src/store/store";

describe("event stream reader", function () {
  const announcement = announcementOf({ ...performed(at(7, 2)), timestamp: 1_800_000_000 } as ReturnType<
    typeof performed
  >);

  it("when an entry is final at commit (x) → two events, the second `<id>.f` finalized", function () {
    const events = eventsOfEntry("5-1", ["e", `x${announcement}`], 1);
    expect(events.map((e) => `${e.id} ${e.type}`)).to.deep.equal([
      "5-1 deal.performed",
      "5-1.f deal.performed.finalized",
    ]);
    expect(events[0]).to.deep.include({ chainId: 1, block: 7, logIndex: 2, timestamp: 1_800_000_000 });
  });

  it("when an entry is pending (p), finalized (f) or retracted (r) → one event of that stage; unknown → none", function () {
    expect(eventsOfEntry("1-0", ["e", `p${announcement}`], 1).map((e) => e.type)).to.deep.equal(["deal.performed"]);
    expect(eventsOfEntry("1-0", ["e", `f${announcement}`], 1).map((e) => e.type)).to.deep.equal([
      "deal.performed.finalized",
    ]);
    expect(eventsOfEntry("1-0", ["e", `r${announcement}`], 1).map((e) => e.type)).to.deep.equal([
      "deal.performed.retracted",
    ]);
    expect(eventsOfEntry("1-0", ["e", `q${announcement}`], 1)).to.deep.equal([]);
    expect(eventsOfEntry("1-0", ["e", "x{broken"], 1)).to.deep.equal([]);
    expect(eventsOfEntry("1-0", ["other", `x${announcement}`], 1)).to.deep.equal([]);
  });

  it("parses cursors `<ms>-<n>` and `<ms>-<n>.f`; anything else is malformed", function () {
    expect(parseCursor("1764864000000-3")).to.deep.equal({ ms: 1764864000000n, seq: 3n, half: false });
    expect(parseCursor("1-0.f")).to.deep.equal({ ms: 1n, seq: 0n, half: true });
    for (const bad of ["", "1", "1-", "-1", "1-0.x", "a-b", "1-0-0", `${"9".repeat(21)}-0`, "18446744073709551616-0"]) {
      expect(parseCursor(bad), bad).to.equal(undefined);
    }
  });

  describe("over a store", function () {
    let f: EventsFixture;
    beforeEach(async function () {
      f = await startEventsFixture("stream", {}, { dispatch: false });
    });
    afterEach(async function () {
      await f?.close();
    });

    it("when a filter skips events → `next` is the last event scanned; the scan budget bounds a page", async function () {
      await f.commit([opened(at(0))]);
      const b = await f.commit([performed(at(0))], { undoable: true });
      await f.commit([], { undoable: true, prune: [b] });
      await f.commit([released(at(0))], { undoable: true });
      const all = await f.webhooks.reader.page(undefined, 100);
      expect(all.events).to.have.length(5);
      const filtered = await f.webhooks.reader.page(undefined, 100, (t) => t === "deal.opened.finalized");
      expect(filtered.events.map((e) => e.type)).to.deep.equal(["deal.opened.finalized"]);
      expect(filtered.next).to.equal(all.events.at(-1)!.id);
      const bounded = await f.webhooks.reader.page(undefined, 1, () => false, 3);
      expect(bounded).to.deep.equal({ events: [], next: all.events[2].id });
      expect(await f.webhooks.reader.lastId()).to.equal(all.events.at(-1)!.id);
      expect(await f.webhooks.reader.page(parseCursor(all.events.at(-1)!.id), 10)).to.deep.equal({
        events: [],
        next: undefined,
      });
    });
  });
});
