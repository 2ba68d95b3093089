import { anyUint } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { expect } from "chai";
import type { ContractTransactionReceipt } from "ethers";

import { Action, dealIdOf, deployProtocol, feeOf, loadFixture, makeDeal, openDeal, PAYOUT_GAS } from "../../fixtures";
import { REGISTRY_HOOK_GAS, signAction, Status, type DealOut } from "../../fixtures";
import { eventNames, expectNoStarvation, impersonate, inOneBlock, inSnapshot, openDisputes } from "../shared/attacks";
import { openedDeal, requiredBefore, statusOf, sweepGasLimits } from "../shared/attacks";

describe("Escrow attacks: gas starvation of a bounded call", function () {
  /** A performed payment (the payer signed its Release for a relayer) and a disputed one the gateway holds. */
  async function starvationFixture() {
    const p = await deployProtocol();
    const performed = await makeDeal(p);
    const disputed = await makeDeal(p);
    const toDispute = await makeDeal(p);
    for (const d of [performed, disputed, toDispute]) {
      await openDeal(p, d);
      await p.escrow.connect(p.payee).perform(d);
    }
    await p.escrow.connect(p.payer).dispute(disputed);
    return { ...p, performed, disputed, toDispute };
  }
  type S = Awaited<ReturnType<typeof starvationFixture>>;

  before(async function () {
    const p = await loadFixture(starvationFixture);
    expect(await openDisputes(p)).to.equal(1n);
  });

  it("attack: a relayer picks the gas limit of a signed Release so that the payout push fails and is deferred → every limit either pays in full or reverts EscrowInsufficientGas", async function () {
    // v1.0: the push got whatever gas was left and a failed push was silently owed instead, so a submitter could
    // starve a gas-hungry token's transfer into a deferral.
    const p = await loadFixture(starvationFixture);
    const id = dealIdOf(p.performed);
    const net = p.performed.amount - feeOf(p.performed.amount, p.performed.feeBps);
    const sig = await signAction(p.escrow, p.payer, id, Action.Release);
    const payeeBefore = await p.usdt.balanceOf(p.payee.address);
    const judge = async (r: ContractTransactionReceipt) => {
      const names = eventNames(p, r);
      if (!names.includes("DealReleased")) return "not released";
      if (names.includes("PayoutDeferred")) return "payout deferred";
      const received = (await p.usdt.balanceOf(p.payee.address)) - payeeBefore;
      return received === net ? undefined : `payee received ${received}`;
    };
    const sweep = await sweepGasLimits(
      p.escrow,
      (o) => p.escrow.connect(p.other).actWithSig(p.performed, Action.Release, p.payer.address, sig, o),
      judge,
    );
    expectNoStarvation(sweep, requiredBefore(PAYOUT_GAS));
  });

  it("attack: a disputer picks its gas limit so that the registry hook fails and the dispute is not held → every limit either holds it or reverts EscrowInsufficientGas", async function () {
    // v1.0: the registry hook ran in try/catch with whatever gas was left; a starved hook was skipped silently,
    // so the dispute went uncounted.
    const p = await loadFixture(starvationFixture);
    const id = dealIdOf(p.toDispute);
    const judge = async (r: ContractTransactionReceipt) => {
      const names = eventNames(p, r);
      if (names.includes("DisputeCountSkipped")) return "count skipped";
      const parsed = r.logs.map((l) => p.escrow.interface.parseLog(l)).find((e) => e?.name === "DealDisputed");
      if (parsed?.args.dealId !== id || parsed.args.gatewayHolds !== true) return "not held";
      const flags = (await p.escrow.getDeal(id)).flags;
      if (flags !== 2n) return `flags ${flags}`;
      const count = await openDisputes(p);
      return count === 2n ? undefined : `counter ${count}`;
    };
    const sweep = await sweepGasLimits(p.escrow, (o) => p.escrow.connect(p.payer).dispute(p.toDispute, o), judge);
    expectNoStarvation(sweep, requiredBefore(REGISTRY_HOOK_GAS));
  });

  it("attack: the payee cancels a held dispute with a gas limit chosen to skip the uncount (leaving the gateway's exit blocked) → every limit either uncounts and refunds in full or reverts", async function () {
    // v1.0: the closing hook ran in try/catch with whatever gas was left; starving it left the counter high and
    // the gateway unable to exit.
    const p = await loadFixture(starvationFixture);
    const payerBefore = await p.usdt.balanceOf(p.payer.address);
    const judge = async (r: ContractTransactionReceipt) => {
      const names = eventNames(p, r);
      if (!names.includes("DealRefunded")) return "not refunded";
      if (names.includes("DisputeCountSkipped")) return "count skipped";
      if (names.includes("PayoutDeferred")) return "refund deferred";
      if ((await openDisputes(p)) !== 0n) return "counter not decremented";
      const received = (await p.usdt.balanceOf(p.payer.address)) - payerBefore;
      return received === p.disputed.amount ? undefined : `payer received ${received}`;
    };
    const sweep = await sweepGasLimits(p.escrow, (o) => p.escrow.connect(p.payee).cancel(p.disputed, o), judge);
    expectNoStarvation(sweep, requiredBefore(PAYOUT_GAS));
    // Below the push's requirement, the hook's own guard is what refuses (it needs less and comes first).
    const hookOnly = sweep.outcomes.filter((o) => o.error === "EscrowInsufficientGas");
    expect(hookOnly.map((o) => o.required)).to.include(requiredBefore(REGISTRY_HOOK_GAS));
  });

  it("an honest caller's usual gas estimate is enough (the guard reserves, the call uses far less)", async function () {
    const p: S = await loadFixture(starvationFixture);
    const tx = p.escrow.connect(p.payer).release(p.performed);
    await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
    const receipt = await (await tx).wait();
    expect(receipt!.gasUsed).to.be.lessThan(requiredBefore(PAYOUT_GAS));
  });
});

describe("Escrow attacks: a token that burns all gas in transfer, inside a batch of releases", function () {
  /** Four performed payments from the same payer; the gas a batch of their releases uses with a working token. */
  async function batchFixture() {
    const p = await deployProtocol();
    const deals: DealOut[] = [];
    for (let i = 0; i < 4; i++) {
      const d = await openedDeal(p);
      await p.escrow.connect(p.payee).perform(d);
      deals.push(d);
    }
    const calls = deals.map((d) => p.escrow.interface.encodeFunctionData("release", [d]));
    let normalGas = 0n;
    await inSnapshot(async () => {
      const receipt = await (await p.escrow.connect(p.payer).multicall(calls)).wait();
      normalGas = receipt!.gasUsed;
    });
    return { ...p, deals, calls, normalGas };
  }

  it("attack: Tether takes the escrow's balance, so every transfer from it hits INVALID and burns all its gas → each payout burns at most PAYOUT_GAS, is owed, and the batch completes", async function () {
    // v1.0: the push got all the gas left, so the first burning transfer consumed 63/64 of the batch's gas and
    // the whole batch ran out of gas.
    const p = await loadFixture(batchFixture);
    const escrow = await p.escrow.getAddress();
    const usdt = await p.usdt.getAddress();
    // Listed, its funds destroyed, unlisted: TestUSDT's SafeMath sub now fails on every transfer out of the escrow.
    await p.usdt.connect(p.admin).addBlackList(escrow);
    await p.usdt.connect(p.admin).destroyBlackFunds(escrow);
    await p.usdt.connect(p.admin).removeBlackList(escrow);
    expect(await p.usdt.balanceOf(escrow)).to.equal(0n);
    // A transfer of 1 unit out of the escrow's empty balance burns every unit of gas it is given.
    await inSnapshot(async () => {
      const self = await impersonate(escrow);
      const [receipt] = await inOneBlock(undefined, async () => [
        await p.usdt.connect(self).transfer(p.payee.address, 1n, { gasLimit: 250_000 }),
      ]);
      expect([receipt.status, receipt.gasUsed]).to.deep.equal([0, 250_000n]);
    });

    const tx = p.escrow.connect(p.payer).multicall(p.calls, { gasLimit: 3_000_000 });
    for (const d of p.deals) {
      const net = d.amount - feeOf(d.amount, d.feeBps);
      await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(dealIdOf(d));
      await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(dealIdOf(d), usdt, p.payee.address, net);
    }
    const receipt = await (await tx).wait();
    const extraPerPayout = (receipt!.gasUsed - p.normalGas) / BigInt(p.deals.length);
    // Each failing push burns its PAYOUT_GAS (less the normal transfer it replaces) plus the owed bookkeeping.
    expect(extraPerPayout).to.be.greaterThan(BigInt(PAYOUT_GAS) / 2n);
    expect(extraPerPayout).to.be.lessThan(BigInt(PAYOUT_GAS) + 30_000n);
    const fees = p.deals.reduce((s, d) => s + feeOf(d.amount, d.feeBps), 0n);
    const total = p.deals.reduce((s, d) => s + d.amount, 0n);
    expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(total - fees);
    expect(await p.escrow.owed(usdt, p.gateway.address)).to.equal(fees);
    for (const d of p.deals) expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.Released);
  });

  it("the same batch with too little gas for the guard reverts whole, never half-settled", async function () {
    const p = await loadFixture(batchFixture);
    await expect(p.escrow.connect(p.payer).multicall(p.calls, { gasLimit: 150_000 }))
      .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientGas")
      .withArgs(anyUint, requiredBefore(PAYOUT_GAS));
    for (const d of p.deals) expect(await statusOf(p.escrow, dealIdOf(d))).to.equal(Status.Performed);
  });
});
