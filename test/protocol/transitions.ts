/**
 * The protocol model's transition table against the escrow: every deal call, by the party entitled to make it,
 * from every status a deal can reach. A call the table says cannot start from a status reverts
 * `EscrowWrongStatus`; a call it says can start does not (it may still wait for a deadline or a window, named in
 * the table's `when`), and when it succeeds the deal is in the table's `to` status.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { Escrow__factory } from "../../typechain-types";
import {
  Action,
  STATUS_NAMES,
  Status,
  TRANSITIONS,
  dealIdOf,
  isFinal,
  startsFrom,
  type DealCall,
} from "../../protocol";
import {
  DAY,
  Kind,
  depositFloat,
  deployProtocol,
  loadFixture,
  makeDeal,
  nextDelegateSalt,
  openKind,
  reachState,
  signAction,
  signSplit,
  type DealCtx,
  type DealState,
} from "../contracts/fixtures";

const STATES: DealState[] = ["Open", "Performed", "Disputed", "Released", "Refunded", "Resolved", "Split"];

/** The deal a call is tried on: `claim` needs an autoRelease deal, `refund` of a live deal a delegate's lock. */
async function dealFor(call: DealCall): Promise<DealCtx> {
  const p = await loadFixture(deployProtocol);
  if (call === "claim") return openKind(p, "Payment", { autoRelease: true });
  if (call !== "refund") return openKind(p, "Payment");
  const deal = await makeDeal(p, {
    payer: p.acceptor.address,
    kind: BigInt(Kind.OnRamp),
    salt: nextDelegateSalt(),
    releaseWindow: BigInt(DAY),
  });
  await depositFloat(p, deal.amount);
  await p.escrow.connect(p.delegate).lock(deal, ethers.ZeroHash);
  return { p, kind: "OnRamp", deal, id: dealIdOf(deal.payer, deal.salt), payer: p.acceptor, payee: p.payee };
}

/** Makes `call` as the party entitled to it (both parties' signatures for the *WithSigs calls). */
async function attempt(c: DealCtx, call: DealCall): Promise<unknown> {
  const { escrow, gateway, other } = c.p;
  const half = c.deal.amount / 2n;
  switch (call) {
    case "perform":
    case "cancel":
    case "claim":
      return (await escrow.connect(c.payee)[call](c.deal)).wait();
    case "release":
    case "dispute":
      return (await escrow.connect(c.payer)[call](c.deal)).wait();
    case "refund":
      return (await escrow.connect(other).refund(c.deal)).wait();
    case "resolve":
      return (await escrow.connect(gateway).resolve(c.deal, half, ethers.ZeroHash)).wait();
    case "postEvidence":
      return (await escrow.connect(c.payer).postEvidence(c.deal, ethers.id("file"), "uri")).wait();
    case "settleWithSigs":
    case "cancelWithSigs": {
      const action = call === "settleWithSigs" ? Action.Release : Action.Cancel;
      const payerAuth = await signAction(escrow, c.payer, c.id, action);
      const payeeAuth = await signAction(escrow, c.payee, c.id, action);
      return (await escrow.connect(other)[call](c.deal, payerAuth, payeeAuth)).wait();
    }
    case "splitWithSigs": {
      const payerAuth = await signSplit(escrow, c.payer, c.id, half);
      const payeeAuth = await signSplit(escrow, c.payee, c.id, half);
      return (await escrow.connect(other).splitWithSigs(c.deal, half, payerAuth, payeeAuth)).wait();
    }
  }
}

/** "ok", or the name of the escrow's custom error the call reverted with. */
async function outcome(c: DealCtx, call: DealCall): Promise<string> {
  try {
    await attempt(c, call);
    return "ok";
  } catch (error) {
    const data = (error as { data?: string }).data;
    const parsed = data ? c.p.escrow.interface.parseError(data) : null;
    if (!parsed) throw error;
    return parsed.name;
  }
}

describe("protocol/transitions", function () {
  it("names every state-changing deal call of the escrow's ABI (signed variants under their plain call)", function () {
    const calls = new Set(Object.keys(TRANSITIONS));
    const signedVariants: Record<string, string> = {
      actWithSig: "perform",
      resolveWithSig: "resolve",
      postEvidenceWithSig: "postEvidence",
    };
    const notDealCalls = new Set(["open", "openWithSig", "lock", "lockWithSig", "depositFloat", "withdrawFloat"]);
    const dealCalls = deployedDealCalls().filter((name) => !notDealCalls.has(name));
    for (const name of dealCalls) expect(calls.has(signedVariants[name] ?? name), name).to.equal(true);
    expect([...calls].sort()).to.deep.equal(dealCalls.filter((n) => !(n in signedVariants)).sort());
  });

  it("no call starts from None, and final statuses are exactly those no call starts from", function () {
    for (const [status] of STATUS_NAMES.entries()) {
      const starts = (Object.keys(TRANSITIONS) as DealCall[]).some((call) => startsFrom(call, status));
      expect(starts, STATUS_NAMES[status]).to.equal(status !== Status.None && !isFinal(status));
    }
  });

  for (const call of Object.keys(TRANSITIONS) as DealCall[]) {
    describe(call, function () {
      for (const state of STATES) {
        const from = Status[state as keyof typeof Status];
        const allowed = startsFrom(call, from);
        it(`from ${state}: ${allowed ? "does not revert EscrowWrongStatus" : "reverts EscrowWrongStatus"}`, async function () {
          const c = await dealFor(call);
          await reachState(c, state);
          const result = await outcome(c, call);
          if (!allowed) return expect(result).to.equal("EscrowWrongStatus");
          expect(result).to.not.equal("EscrowWrongStatus");
          if (result !== "ok") return;
          const { status } = await c.p.escrow.getDeal(c.id);
          const to = TRANSITIONS[call].to ?? from;
          // release from Open only records the payer's release; the deal stays Open.
          expect(Number(status)).to.equal(call === "release" && from === Status.Open ? Status.Open : to);
        });
      }
    });
  }
});

/** The escrow's non-view functions that take a Deal as their first argument, plus the float calls. */
function deployedDealCalls(): string[] {
  const names: string[] = [];
  Escrow__factory.createInterface().forEachFunction((f) => {
    if (f.stateMutability === "view" || f.stateMutability === "pure") return;
    if (f.inputs[0]?.baseType === "tuple" && f.inputs[0].components?.[0]?.name === "payer") names.push(f.name);
  });
  return names;
}
