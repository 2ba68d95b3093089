/** The public event types: one per protocol event, stage suffixes, and the filters consumers give. */
import { expect } from "chai";
import { ALL_TYPES, PUBLIC_TYPES, publicTypeOf, typeMatcher } from "../../../relayer/src/events/types";
import { ORDER_EVENT_TYPES } from "../../../relayer/src/events/orders";
import { DISPUTE_EVENT_TYPES } from "../../../relayer/src/events/disputes";

describe("event types", function () {
  it("names every protocol event with a distinct dotted type of its area", function () {
    const names = Object.values(PUBLIC_TYPES);
    expect(new Set(names).size).to.equal(names.length);
    for (const name of names) expect(name).to.match(/^(deal|owed|float|gateway|acceptor|token|arbiter)\.[a-z_]+$/);
    expect(PUBLIC_TYPES).to.include({
      DealOpened: "deal.opened",
      DealPerformed: "deal.performed",
      DealReleaseApproved: "deal.release_approved",
      DealLockedByDelegate: "deal.locked",
      DealReleased: "deal.released",
      DealRefunded: "deal.refunded",
      DealDisputed: "deal.disputed",
      DealResolved: "deal.resolved",
      DealSplit: "deal.split",
      EvidencePosted: "deal.evidence_posted",
      PayoutDeferred: "owed.credited",
      OwedClaimed: "owed.claimed",
      FloatDeposited: "float.deposited",
      FloatWithdrawn: "float.withdrawn",
      GatewayRegistered: "gateway.registered",
      TokenAllowed: "token.allowed",
      ArbiterGranted: "arbiter.granted",
      ArbiterRevoked: "arbiter.revoked",
    });
    // Each protocol type with its two stages, then the order events (written by the relayer: no stages).
    expect(ALL_TYPES).to.have.length(names.length * 3 + ORDER_EVENT_TYPES.length + DISPUTE_EVENT_TYPES.length);
    expect(new Set(ALL_TYPES).size).to.equal(ALL_TYPES.length);
    for (const type of ORDER_EVENT_TYPES) expect(type).to.match(/^order\.[a-z_]+$/);
    for (const type of DISPUTE_EVENT_TYPES) expect(type).to.match(/^dispute\.[a-z_]+$/);
  });

  it("when a stage is given → the type with its suffix; an unknown protocol event → undefined", function () {
    expect(publicTypeOf("DealOpened")).to.equal("deal.opened");
    expect(publicTypeOf("DealOpened", "finalized")).to.equal("deal.opened.finalized");
    expect(publicTypeOf("PayoutDeferred", "retracted")).to.equal("owed.credited.retracted");
    expect(publicTypeOf("NoSuchEvent")).to.equal(undefined);
  });

  it("when filtering → exact names, `*` for any characters, none or `*` for all; a pattern matching nothing is named", function () {
    const match = (patterns: string[]) => {
      const m = typeMatcher(patterns);
      if (!("match" in m)) throw new Error(`unknown ${m.unknown}`);
      return ALL_TYPES.filter(m.match);
    };
    expect(match([])).to.deep.equal(ALL_TYPES);
    expect(match(["*"])).to.deep.equal(ALL_TYPES);
    expect(match(["deal.opened"])).to.deep.equal(["deal.opened"]);
    expect(match(["owed.*"])).to.deep.equal([
      "owed.credited",
      "owed.credited.finalized",
      "owed.credited.retracted",
      "owed.claimed",
      "owed.claimed.finalized",
      "owed.claimed.retracted",
    ]);
    expect(match(["*.retracted"]).every((t) => t.endsWith(".retracted"))).to.equal(true);
    expect(match(["deal.opened", "float.deposited.finalized"])).to.deep.equal([
      "deal.opened",
      "float.deposited.finalized",
    ]);
    expect(typeMatcher(["deal.opened", "deal.nope"])).to.deep.equal({ unknown: "deal.nope" });
    expect(typeMatcher(["Deal.Opened"])).to.deep.equal({ unknown: "Deal.Opened" });
    expect(typeMatcher(["deal.(opened|x)"])).to.deep.equal({ unknown: "deal.(opened|x)" });
  });
});
