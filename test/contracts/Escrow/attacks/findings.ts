import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import { Action, dealIdOf, deployProtocol, HOUR, loadFixture, makeDeal, MIN_BOND } from "../../fixtures";
import { MIN_SLASH_TIME, MIN_UNBONDING_DELAY, openDeal, RESOLUTION_WINDOW, signAction } from "../../fixtures";
import { inOneBlock, NO_REASONS } from "../shared/attacks";

describe("Escrow attacks: findings of this review, settled", function () {
  // FINDING: with the unbonding floor equal to the resolution window, a gateway that asked to exit in the block a
  // dispute was raised could rule it at the last second of its window and take its bond in the same block,
  // leaving governance no block to slash. The escrow now needs the registry's floor to be its window plus
  // MIN_SLASH_TIME, so at the floor the bond is still there MIN_SLASH_TIME after that ruling.
  it("attack: rule unfairly at the end of the window and exit in the same block (delay at its floor) → RegistryUnbonding; governance slashes within MIN_SLASH_TIME", async function () {
    const p = await loadFixture(deployProtocol);
    const gw = p.gateway.address;
    await expect(p.registry.connect(p.governor).setUnbondingDelay(RESOLUTION_WINDOW))
      .to.be.revertedWithCustomError(p.registry, "RegistryInvalidParameter")
      .withArgs(RESOLUTION_WINDOW, MIN_UNBONDING_DELAY);
    await p.registry.connect(p.governor).setUnbondingDelay(MIN_UNBONDING_DELAY); // the floor
    const d = await makeDeal(p);
    const id = dealIdOf(d);
    await openDeal(p, d);
    await p.escrow.connect(p.payee).perform(d);
    await inOneBlock(undefined, async () => [
      await p.escrow.connect(p.payer).dispute(d, { gasLimit: 500_000 }),
      await p.registry.connect(p.gateway).requestExit({ gasLimit: 200_000 }),
    ]);
    const windowEnd = (await p.escrow.getDeal(id)).since + BigInt(RESOLUTION_WINDOW);
    const exitAt = (await p.registry.getGateway(gw)).exitAt;
    expect(exitAt - windowEnd).to.equal(BigInt(MIN_SLASH_TIME));
    await time.setNextBlockTimestamp(windowEnd);
    await p.escrow.connect(p.gateway).resolve(d, d.amount, NO_REASONS);
    await expect(p.registry.connect(p.gateway).completeExit())
      .to.be.revertedWithCustomError(p.registry, "RegistryUnbonding")
      .withArgs(gw, exitAt);
    await time.setNextBlockTimestamp(exitAt - 1n);
    await expect(p.registry.connect(p.governor).slashGateway(gw, MIN_BOND, p.payer.address)).to.emit(
      p.registry,
      "GatewaySlashed",
    );
  });

  // DECIDED: a signature binds the chain, the escrow, the deal, the action and an expiry — not the deal's state.
  // Since v1.1 a release ends a Disputed deal too, so a Release the payer signed earlier, still unexpired,
  // releases the deal after the payer's own dispute: the payer did sign "release". IEscrow's NatSpec tells signers
  // to give short expiries; binding signatures to the deal's state is left for a later version.
  for (const late of [false, true]) {
    it(`a Release signed before the payer disputes ${late ? "is refused after its expiry" : "still releases the disputed deal while unexpired (documented)"}`, async function () {
      const p = await loadFixture(deployProtocol);
      const d = await makeDeal(p);
      const id = dealIdOf(d);
      await openDeal(p, d);
      await p.escrow.connect(p.payee).perform(d);
      const release = await signAction(p.escrow, p.payer, id, Action.Release, BigInt((await time.latest()) + HOUR));
      await p.escrow.connect(p.payer).dispute(d); // the payer changes its mind
      if (late) await time.increase(HOUR + 1);
      const tx = p.escrow.connect(p.payee).actWithSig(d, Action.Release, p.payer.address, release);
      if (late) {
        await expect(tx).to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired").withArgs(release.expiry);
      } else {
        await expect(tx).to.emit(p.escrow, "DealReleased").withArgs(id);
      }
    });
  }
});
