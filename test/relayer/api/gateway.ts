/** The dispute desk's request schemas (relayer/src/api/gateway.ts); the routes end to end: test/relayer/disputes. */
import { expect } from "chai";
import { GatewayQueueQuery, RulingBody, RulingTypedDataBody } from "../../../relayer/src/api/gateway";

const SIGNER = `0x${"Ab".repeat(20)}`;
const ok = { payeeAmount: "70000000", reasons: "why", signer: SIGNER, signature: `0x${"11".repeat(65)}`, expiry: 5 };

describe("api: the gateway's dispute desk schemas", function () {
  it("a ruling: amounts as decimal strings or safe numbers within uint96, signer lower-cased", function () {
    const r = RulingBody.parse(ok);
    expect(r).to.deep.include({ payeeAmount: 70_000_000n, signer: SIGNER.toLowerCase(), expiry: 5n });
    expect(RulingBody.safeParse({ ...ok, payeeAmount: (1n << 96n).toString() }).success).to.equal(false);
    expect(RulingBody.safeParse({ ...ok, payeeAmount: "-1" }).success).to.equal(false);
    expect(RulingBody.safeParse({ ...ok, extra: 1 }).success, "unknown members").to.equal(false);
    expect(RulingBody.safeParse({ ...ok, signature: "0x1" }).success).to.equal(false);
  });

  it("reasons: 1 to 10,000 characters", function () {
    expect(RulingTypedDataBody.safeParse({ payeeAmount: "1", reasons: "" }).success).to.equal(false);
    expect(RulingTypedDataBody.safeParse({ payeeAmount: "1", reasons: "x".repeat(10_000) }).success).to.equal(true);
    expect(RulingTypedDataBody.safeParse({ payeeAmount: "1", reasons: "x".repeat(10_001) }).success).to.equal(false);
  });

  it("the queue's query: limit 1..200, a numeric cursor, a gateway address", function () {
    expect(GatewayQueueQuery.parse({ limit: "200", cursor: "50" })).to.deep.equal({ limit: 200, cursor: "50" });
    for (const bad of [{ limit: "0" }, { limit: "201" }, { cursor: "abc" }, { gateway: "0x12" }, { other: "1" }]) {
      expect(GatewayQueueQuery.safeParse(bad).success, JSON.stringify(bad)).to.equal(false);
    }
  });
});
