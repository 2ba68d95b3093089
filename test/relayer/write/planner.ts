/**
 * The submitter's planner: a payee's perform and the payer's release for one deal, queued together, become one
 * settleWithSigs; everything else stays its own call, in queue order.
 */
import { expect } from "chai";
import { Action, type DealStruct } from "../../../protocol";
import { ESCROW, encode, type Call } from "../../../relayer/src/write/calls";
import { planCalls } from "../../../relayer/src/write/planner";

const TO = `0x${"e5".repeat(20)}`;
const dealOf = (n: number): DealStruct => ({
  payer: `0x${"a1".repeat(20)}`,
  payee: `0x${"b2".repeat(20)}`,
  gateway: `0x${"c3".repeat(20)}`,
  token: `0x${"d4".repeat(20)}`,
  amount: 1_000_000n,
  deadline: 2_000_000_000,
  releaseWindow: 86_400,
  feeBps: 50,
  kind: 0,
  autoRelease: false,
  salt: `0x${n.toString(16).padStart(64, "0")}`,
});
const auth = (n: number) => ({
  expiry: 2_000_000_000n + BigInt(n),
  signature: `0x${n.toString(16).padStart(2, "0").repeat(65)}`,
});
const act = (deal: DealStruct, action: number, signer: string, n: number): Call => ({
  to: TO,
  data: encode.actWithSig(deal, action, signer, auth(n)),
});
const perform = (deal: DealStruct, n = 1) => act(deal, Action.Perform, deal.payee, n);
const release = (deal: DealStruct, n = 2) => act(deal, Action.Release, deal.payer, n);
const queue = (...calls: Call[]) => calls.map((call, i) => ({ id: `s${i}`, call }));

describe("relayer/write/planner", function () {
  it("a payee's perform and the payer's release of one deal → one settleWithSigs carrying both signatures", function () {
    const deal = dealOf(1);
    for (const calls of [
      [perform(deal), release(deal)],
      [release(deal), perform(deal)],
    ]) {
      const plans = planCalls(queue(...calls));
      expect(plans).to.have.length(1);
      expect(plans[0].submissionIds).to.have.members(["s0", "s1"]);
      const parsed = ESCROW.parseTransaction({ data: plans[0].call.data })!;
      expect(parsed.name).to.equal("settleWithSigs");
      expect(parsed.args[1].signature).to.equal(auth(1).signature); // the payee's
      expect(parsed.args[2].signature).to.equal(auth(2).signature); // the payer's
      expect(plans[0].call.to).to.equal(TO);
    }
  });

  it("other deals, other actions and other calls stay their own call, in queue order", function () {
    const [a, b] = [dealOf(1), dealOf(2)];
    const other = { to: TO, data: encode.multicall([]) };
    const plans = planCalls(queue(perform(a), release(b), act(a, Action.Dispute, a.payer, 3), other));
    expect(plans.map((p) => p.submissionIds)).to.deep.equal([["s0"], ["s1"], ["s2"], ["s3"]]);
    expect(plans.map((p) => ESCROW.parseTransaction({ data: p.call.data })!.name)).to.deep.equal([
      "actWithSig",
      "actWithSig",
      "actWithSig",
      "multicall",
    ]);
  });

  it("a second perform of the same deal is not paired twice: one settle, the extra perform alone", function () {
    const deal = dealOf(1);
    const plans = planCalls(queue(perform(deal, 1), perform(deal, 5), release(deal)));
    expect(plans.map((p) => p.submissionIds)).to.deep.equal([["s0", "s2"], ["s1"]]);
  });

  it("a release signed by the payee is not a payer's release: no pairing", function () {
    const deal = dealOf(1);
    const plans = planCalls(queue(perform(deal), act(deal, Action.Release, deal.payee, 2)));
    expect(plans).to.have.length(2);
  });
});
