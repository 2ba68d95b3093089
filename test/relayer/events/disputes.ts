/** Dispute events' stream value, decoding and audience (relayer/src/events/disputes.ts). */
import { expect } from "chai";
import {
  decodeDisputeEvent,
  disputeEventValue,
  disputeEventVisibleTo,
  isDisputeEvent,
} from "../../../relayer/src/events/disputes";
import { eventsOfEntry } from "../../../relayer/src/events/stream";

const GATEWAY = `0x${"ab".repeat(20)}`;
const input = {
  type: "dispute.window_closing" as const,
  dealId: `0x${"12".repeat(32)}`,
  gateway: GATEWAY,
  windowEndsAt: 1_800_000_000,
  secondsLeft: 3_600,
  at: 1_799_996_400_000,
};

describe("events: dispute events", function () {
  it("a written entry reads back as the public event (letter g)", function () {
    const value = disputeEventValue(input);
    expect(value[0]).to.equal("g");
    const [e] = eventsOfEntry("5-0", ["e", value], 31337);
    expect(e).to.deep.equal({ id: "5-0", chainId: 31337, ...input });
    expect(isDisputeEvent(e)).to.equal(true);
  });

  it("a malformed or unknown entry → none", function () {
    expect(decodeDisputeEvent("1-0", "not json", 1)).to.equal(undefined);
    expect(decodeDisputeEvent("1-0", JSON.stringify({ t: "dispute.other", d: "x", g: "y", w: 1, s: 1, at: 1 }), 1)).to
      .be.undefined;
    expect(decodeDisputeEvent("1-0", JSON.stringify({ t: "dispute.window_closing", d: "x", g: "y", w: "1" }), 1)).to.be
      .undefined;
  });

  it("only the gateway's keys and endpoints, and admin keys, see it", function () {
    expect(
      disputeEventVisibleTo(input, { scope: "gateway", owner: GATEWAY.toUpperCase().replace("0X", "0x") }),
    ).to.equal(true);
    expect(disputeEventVisibleTo(input, { owner: GATEWAY })).to.equal(true);
    expect(disputeEventVisibleTo(input, { scope: "admin", owner: `0x${"01".repeat(20)}` })).to.equal(true);
    expect(disputeEventVisibleTo(input, { scope: "party", owner: `0x${"01".repeat(20)}` })).to.equal(false);
    expect(disputeEventVisibleTo(input, undefined)).to.equal(false);
  });
});
