import { setStorageAt, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { ethers } from "hardhat";

import { AcceptorStatus, approveExactly, DAY, GATEWAY_FEE_BPS, GATEWAY_FEE_CAP_BPS, GatewayStatus } from "../fixtures";
import { loadFixture, MAX_FEE_BPS, MIN_BOND, MIN_UNBONDING_DELAY, UNBONDING_DELAY, USDT } from "../fixtures";
import { addBond, ALL_STATES, baseFixture, type Ctx, exitingFixture, expectExitPays } from "./shared";
import { expectExitRefused, expectNotHeld, expectSanctioned, FIXTURE_GATEWAY, GATEWAY2_FEE_BPS } from "./shared";
import { gatewayIn, gatewayOf, type GatewayState, heldDisputeFixture, holdDispute, itRefusesReentry } from "./shared";
import { itRequiresRole, itRevertsAcceptorWrongStatus, itRevertsWhenPaused, itRevertsWrongStatus } from "./shared";
import { MAX_FEE_LIMIT_BPS, META, minedAt, pausedFixture, pendingAcceptorFixture, pendingFixture } from "./shared";
import { registerGateway, requestExit, SUSPENDED_STATES, suspendedExitingFixture, suspendedFixture } from "./shared";
import { twoGatewaysFixture } from "./shared";

const MAX_UINT32 = 2n ** 32n - 1n;

/** Storage slot of `_gateways` (slot 0: AccessControl `_roles`; 1: packed parameters; 2: `_allowedTokens`). */
const GATEWAYS_MAPPING_SLOT = 3n;

/**
 * One test: while USDT charges a transfer fee, `pull` of an amount by `who` credits only what arrived: the balances,
 * `event` (whose arguments `args` gives for the amount received) and the bond agree.
 */
function itCreditsWhatArrived(
  who: "gateway" | "gateway2",
  pull: (c: Ctx, amount: bigint) => Promise<ContractTransactionResponse>,
  event: "GatewayRegistered" | "GatewayBondAdded",
  args: (c: Ctx, received: bigint) => unknown[],
): void {
  it("when USDT charges a transfer fee → only what arrived is credited", async function () {
    const c = await loadFixture(baseFixture);
    await c.usdt.connect(c.admin).setParams(10, 20); // 0.1%, at most 20 USDT
    const [amount, fee] = [USDT(20_000), USDT(20)];
    const gw = c[who];
    const before = (await gatewayOf(c.registry, gw.address)).bond;
    const tx = pull(c, amount);
    await expect(tx).to.changeTokenBalances(c.usdt, [gw, c.registry, c.admin], [-amount, amount - fee, fee]);
    await expect(tx)
      .to.emit(c.registry, event)
      .withArgs(...args(c, amount - fee));
    expect((await gatewayOf(c.registry, gw.address)).bond).to.equal(before + amount - fee);
  });
}

describe("GatewayRegistry: gateways", function () {
  /*------------------------------------------------------------
                          registerGateway
  ------------------------------------------------------------*/
  describe("registerGateway", function () {
    describe("validations", function () {
      itRevertsWhenPaused((c) => registerGateway(c, c.gateway2));
      itRevertsWhenPaused(
        (c) => registerGateway(c, c.gateway, 0n, MAX_FEE_BPS + 1),
        "a caller already registered, no bond, a fee above the cap",
      );

      describe("a caller already registered", function () {
        itRevertsWrongStatus(
          ["Pending", "Active", "Exiting", "Exited", "Pending, suspended", "Active, suspended", "Exiting, suspended"],
          "caller",
          (c, gw) => registerGateway(c, gw),
        );
      });

      it("when the fee is above the global cap → it reverts RegistryFeeTooHigh(fee, maxFeeBps)", async function () {
        const c = await loadFixture(baseFixture);
        await expect(registerGateway(c, c.gateway2, MIN_BOND, MAX_FEE_BPS + 1))
          .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
          .withArgs(MAX_FEE_BPS + 1, MAX_FEE_BPS);
      });

      for (const [what, bond] of [
        ["zero", 0n],
        ["one unit below minBond", MIN_BOND - 1n],
      ] as const) {
        it(`when the bond is ${what} → it reverts RegistryBondTooLow(bond, minBond)`, async function () {
          const c = await loadFixture(baseFixture);
          await expect(registerGateway(c, c.gateway2, bond))
            .to.be.revertedWithCustomError(c.registry, "RegistryBondTooLow")
            .withArgs(bond, MIN_BOND);
        });
      }

      it("when USDT's transfer fee takes what arrives below minBond → it reverts RegistryBondTooLow(received, minBond); nothing moves", async function () {
        const c = await loadFixture(baseFixture);
        await c.usdt.connect(c.admin).setParams(10, 20); // 0.1%, at most 20 USDT
        const fee = USDT(10); // 0.1% of 10,000
        const before = await c.usdt.balanceOf(c.gateway2.address);
        await expect(registerGateway(c, c.gateway2, MIN_BOND))
          .to.be.revertedWithCustomError(c.registry, "RegistryBondTooLow")
          .withArgs(MIN_BOND - fee, MIN_BOND);
        expect(await c.usdt.balanceOf(c.gateway2.address)).to.equal(before);
        expect(await c.registry.gatewayCount()).to.equal(1n);
      });

      it("when the allowance is missing → USDT's own failure passes through: a revert without data", async function () {
        const c = await loadFixture(baseFixture);
        await expect(
          c.registry.connect(c.gateway2).registerGateway(MIN_BOND, GATEWAY2_FEE_BPS, META),
        ).to.be.revertedWithoutReason();
        expect(await c.registry.gatewayCount()).to.equal(1n);
      });
    });

    describe("effects and events", function () {
      it("when every check passes → Pending with its bond and fee and no cap yet; GatewayRegistered", async function () {
        const c = await loadFixture(baseFixture);
        await expect(registerGateway(c, c.gateway2, MIN_BOND, GATEWAY2_FEE_BPS, META))
          .to.emit(c.registry, "GatewayRegistered")
          .withArgs(c.gateway2.address, MIN_BOND, GATEWAY2_FEE_BPS, META);
        expect(await gatewayOf(c.registry, c.gateway2.address)).to.deep.equal({
          ...FIXTURE_GATEWAY,
          feeBps: BigInt(GATEWAY2_FEE_BPS),
          feeCapBps: 0n,
          status: BigInt(GatewayStatus.Pending),
        });
        expect(await c.registry.canRule(c.gateway2.address)).to.equal(false);
      });

      it("when it registers → it is appended to the gateway list", async function () {
        const c = await loadFixture(baseFixture);
        expect(await c.registry.gatewayCount()).to.equal(1n);
        await registerGateway(c, c.gateway2);
        await registerGateway(c, c.other);
        expect(await c.registry.gatewayCount()).to.equal(3n);
        expect(await c.registry.gatewayAt(0)).to.equal(c.gateway.address);
        expect(await c.registry.gatewayAt(1)).to.equal(c.gateway2.address);
        expect(await c.registry.gatewayAt(2)).to.equal(c.other.address);
      });

      it("when the fee is zero or exactly the global cap → it registers", async function () {
        const c = await loadFixture(baseFixture);
        for (const [gw, fee] of [
          [c.gateway2, 0],
          [c.other, MAX_FEE_BPS],
        ] as const) {
          await expect(registerGateway(c, gw, MIN_BOND, fee))
            .to.emit(c.registry, "GatewayRegistered")
            .withArgs(gw.address, MIN_BOND, fee, META);
        }
      });
    });

    describe("transfers", function () {
      it("when it registers → the bond moves from the caller to the registry", async function () {
        const c = await loadFixture(baseFixture);
        const bond = MIN_BOND + USDT(2_500);
        await approveExactly(c.usdt, c.gateway2, c.registryAddr, bond);
        await expect(c.registry.connect(c.gateway2).registerGateway(bond, 0, META)).to.changeTokenBalances(
          c.usdt,
          [c.gateway2, c.registry],
          [-bond, bond],
        );
        expect((await gatewayOf(c.registry, c.gateway2.address)).bond).to.equal(bond);
      });

      itCreditsWhatArrived(
        "gateway2",
        (c, bond) => registerGateway(c, c.gateway2, bond),
        "GatewayRegistered",
        (c, got) => [c.gateway2.address, got, GATEWAY2_FEE_BPS, META],
      );
    });

    itRefusesReentry(
      (h) => h.registry.interface.encodeFunctionData("registerGateway", [MIN_BOND, 0, META]),
      async (h) => {
        await expect(h.registry.connect(h.gateway).registerGateway(MIN_BOND, 0, META))
          .to.emit(h.registry, "GatewayRegistered")
          .withArgs(h.gateway.address, MIN_BOND, 0, META);
        expect(await h.registry.gatewayCount()).to.equal(1n);
      },
    );
  });

  /*------------------------------------------------------------
                              addBond
  ------------------------------------------------------------*/
  describe("addBond", function () {
    describe("validations", function () {
      itRevertsWrongStatus(["None", "Exited"], "caller", (c, gw) => addBond(c, gw, USDT(1)));

      it("when the amount is zero → it reverts RegistryBondTooLow(0, minBond)", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.gateway).addBond(0))
          .to.be.revertedWithCustomError(c.registry, "RegistryBondTooLow")
          .withArgs(0, MIN_BOND);
      });
    });

    for (const state of ["Pending", "Active", "Exiting", ...SUSPENDED_STATES] as const) {
      it(`when the caller is ${state} → the bond grows by what arrived, standing kept; GatewayBondAdded`, async function () {
        const { c, gw, status, suspended } = await gatewayIn(state);
        const tx = addBond(c, gw, USDT(7));
        await expect(tx).to.changeTokenBalances(c.usdt, [gw, c.registry], [-USDT(7), USDT(7)]);
        await expect(tx)
          .to.emit(c.registry, "GatewayBondAdded")
          .withArgs(gw.address, USDT(7), MIN_BOND + USDT(7));
        const g = await gatewayOf(c.registry, gw.address);
        expect([g.bond, g.status, g.suspended]).to.deep.equal([MIN_BOND + USDT(7), BigInt(status), suspended]);
      });
    }

    itCreditsWhatArrived(
      "gateway",
      (c, amount) => addBond(c, c.gateway, amount),
      "GatewayBondAdded",
      (c, got) => [c.gateway.address, got, MIN_BOND + got],
    );

    itRefusesReentry(
      (h) => h.registry.interface.encodeFunctionData("addBond", [1]),
      async (h) => {
        await expect(h.registry.connect(h.gateway).addBond(USDT(3)))
          .to.emit(h.registry, "GatewayBondAdded")
          .withArgs(h.gateway.address, USDT(3), MIN_BOND + USDT(3));
      },
      (h) => h.registry.connect(h.gateway).registerGateway(MIN_BOND, 0, META),
    );
  });

  /*------------------------------------------------------------
                          approveGateway
  ------------------------------------------------------------*/
  describe("approveGateway", function () {
    describe("validations", function () {
      itRequiresRole("GOVERNOR_ROLE", (c, r) => r.approveGateway(c.gateway2.address, 100), {
        fixture: pendingFixture,
      });

      itRevertsWrongStatus(
        ["None", "Active", "Exiting", "Exited", "Active, suspended", "Exiting, suspended"],
        "gateway",
        (c, gw) => c.registry.connect(c.governor).approveGateway(gw.address, 100),
      );

      it("when the cap is above MAX_FEE_LIMIT_BPS → it reverts RegistryInvalidParameter(cap, MAX_FEE_LIMIT_BPS)", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.governor).approveGateway(c.gateway2.address, MAX_FEE_LIMIT_BPS + 1))
          .to.be.revertedWithCustomError(c.registry, "RegistryInvalidParameter")
          .withArgs(MAX_FEE_LIMIT_BPS + 1, MAX_FEE_LIMIT_BPS);
      });

      it("when the gateway's fee is above the cap → it reverts RegistryFeeTooHigh(fee, cap); it stays Pending", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY2_FEE_BPS - 1))
          .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
          .withArgs(GATEWAY2_FEE_BPS, GATEWAY2_FEE_BPS - 1);
        expect((await gatewayOf(c.registry, c.gateway2.address)).status).to.equal(BigInt(GatewayStatus.Pending));
      });
    });

    describe("effects and events", function () {
      it("when the gateway is Pending and its fee within the cap → Active with the cap: it rules and is named in deals; GatewayApproved", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.governor).approveGateway(c.gateway2.address, 250))
          .to.emit(c.registry, "GatewayApproved")
          .withArgs(c.gateway2.address, 250);
        expect(await gatewayOf(c.registry, c.gateway2.address)).to.deep.equal({
          ...FIXTURE_GATEWAY,
          feeBps: BigInt(GATEWAY2_FEE_BPS),
          feeCapBps: 250n,
        });
        expect(await c.registry.canRule(c.gateway2.address)).to.equal(true);
        expect((await c.registry.dealTerms(c.gateway2.address, c.usdtAddr, ethers.ZeroAddress, false)).feeBps).to.equal(
          BigInt(GATEWAY2_FEE_BPS),
        );
      });

      it("when the cap equals the fee, or is MAX_FEE_LIMIT_BPS (above the global cap) → it approves", async function () {
        const c = await loadFixture(pendingFixture);
        await registerGateway(c, c.other);
        for (const [gw, cap] of [
          [c.gateway2, GATEWAY2_FEE_BPS],
          [c.other, MAX_FEE_LIMIT_BPS],
        ] as const) {
          await expect(c.registry.connect(c.governor).approveGateway(gw.address, cap))
            .to.emit(c.registry, "GatewayApproved")
            .withArgs(gw.address, cap);
        }
      });
    });
  });

  /*------------------------------------------------------------
                           setGatewayFee
  ------------------------------------------------------------*/
  describe("setGatewayFee", function () {
    describe("validations", function () {
      itRevertsWrongStatus(["None", "Exiting", "Exited", "Exiting, suspended"], "caller", (c, gw) =>
        c.registry.connect(gw).setGatewayFee(10),
      );

      it("when the caller is Pending and the fee above the global cap → it reverts RegistryFeeTooHigh(fee, maxFeeBps)", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.gateway2).setGatewayFee(MAX_FEE_BPS + 1))
          .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
          .withArgs(MAX_FEE_BPS + 1, MAX_FEE_BPS);
      });

      for (const state of ["Active", "Active, suspended"] as const) {
        it(`when the caller is ${state} and the fee above its own cap → it reverts RegistryFeeTooHigh(fee, feeCapBps)`, async function () {
          const { c, gw } = await gatewayIn(state);
          await expect(c.registry.connect(gw).setGatewayFee(GATEWAY_FEE_CAP_BPS + 1))
            .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
            .withArgs(GATEWAY_FEE_CAP_BPS + 1, GATEWAY_FEE_CAP_BPS);
        });
      }

      it("when the global cap is below the gateway's own cap and the fee above it → it reverts RegistryFeeTooHigh(fee, maxFeeBps)", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setMaxFee(200);
        await expect(c.registry.connect(c.gateway).setGatewayFee(250))
          .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
          .withArgs(250, 200);
      });
    });

    describe("effects and events", function () {
      for (const state of ["Pending", "Pending, suspended"] as const) {
        it(`when the caller is ${state} → any fee up to the global cap (the flag does not matter); approval then checks it`, async function () {
          const { c, gw, status, suspended } = await gatewayIn(state);
          await expect(c.registry.connect(gw).setGatewayFee(MAX_FEE_BPS))
            .to.emit(c.registry, "GatewayFeeSet")
            .withArgs(gw.address, MAX_FEE_BPS);
          const g = await gatewayOf(c.registry, gw.address);
          expect([g.feeBps, g.status, g.suspended]).to.deep.equal([BigInt(MAX_FEE_BPS), BigInt(status), suspended]);
          await expect(c.registry.connect(c.governor).approveGateway(gw.address, GATEWAY_FEE_CAP_BPS))
            .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
            .withArgs(MAX_FEE_BPS, GATEWAY_FEE_CAP_BPS);
        });
      }

      for (const state of ["Active", "Active, suspended"] as const) {
        it(`when the caller is ${state} → any fee up to its cap, standing kept; GatewayFeeSet`, async function () {
          const { c, gw, status, suspended } = await gatewayIn(state);
          await expect(c.registry.connect(gw).setGatewayFee(GATEWAY_FEE_CAP_BPS))
            .to.emit(c.registry, "GatewayFeeSet")
            .withArgs(gw.address, GATEWAY_FEE_CAP_BPS);
          await expect(c.registry.connect(gw).setGatewayFee(0))
            .to.emit(c.registry, "GatewayFeeSet")
            .withArgs(gw.address, 0);
          const g = await gatewayOf(c.registry, gw.address);
          expect([g.feeBps, g.status, g.suspended]).to.deep.equal([0n, BigInt(status), suspended]);
        });
      }

      it("when set → dealTerms quotes the new fee for new deals", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.gateway).setGatewayFee(120);
        expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress, false)).feeBps).to.equal(
          120n,
        );
      });
    });
  });

  /*------------------------------------------------------------
                            requestExit
  ------------------------------------------------------------*/
  describe("requestExit", function () {
    describe("validations", function () {
      itRevertsWrongStatus(["None", "Exiting", "Exited", "Exiting, suspended"], "caller", (c, gw) =>
        c.registry.connect(gw).requestExit(),
      );
    });

    describe("effects and events", function () {
      for (const state of ["Pending", "Active", "Pending, suspended", "Active, suspended"] as const) {
        const outcome = state.endsWith("suspended")
          ? "Exiting and still suspended (the sanction stays): canRule false"
          : "Exiting; exitAt = now + unbondingDelay; bond, fee and counter kept; GatewayExitRequested";
        it(`when the caller is ${state} → ${outcome}`, async function () {
          const { c, gw, suspended } = await gatewayIn(state);
          const before = await gatewayOf(c.registry, gw.address);
          const tx = await c.registry.connect(gw).requestExit();
          const exitAt = (await minedAt(tx)) + UNBONDING_DELAY;
          await expect(tx).to.emit(c.registry, "GatewayExitRequested").withArgs(gw.address, exitAt);
          expect(await gatewayOf(c.registry, gw.address)).to.deep.equal({
            ...before,
            status: BigInt(GatewayStatus.Exiting),
            exitAt: BigInt(exitAt),
          });
          if (suspended) await expectSanctioned(c, gw.address);
        });
      }

      it("when it holds disputes → Exiting all the same; the counter is kept for completeExit", async function () {
        const c = await loadFixture(baseFixture);
        await holdDispute(c, c.gateway.address, 1);
        await holdDispute(c, c.gateway.address, 2);
        await expect(c.registry.connect(c.gateway).requestExit()).to.emit(c.registry, "GatewayExitRequested");
        const g = await gatewayOf(c.registry, c.gateway.address);
        expect([g.status, g.openDisputes]).to.deep.equal([BigInt(GatewayStatus.Exiting), 2n]);
      });

      it("when paused → it works all the same", async function () {
        const c = await loadFixture(pausedFixture);
        const tx = await c.registry.connect(c.gateway).requestExit();
        await expect(tx)
          .to.emit(c.registry, "GatewayExitRequested")
          .withArgs(c.gateway.address, (await minedAt(tx)) + UNBONDING_DELAY);
        expect((await gatewayOf(c.registry, c.gateway.address)).status).to.equal(BigInt(GatewayStatus.Exiting));
      });

      it("afterwards → it is named in no new deal or acceptor, and noteDisputeOpened returns false and changes nothing", async function () {
        const c = await loadFixture(exitingFixture);
        const gw = c.gateway.address;
        expect(await c.registry.canRule(gw)).to.equal(true);
        for (const call of [
          c.registry.dealTerms(gw, c.usdtAddr, ethers.ZeroAddress, false),
          c.registry.connect(c.acceptor2).registerAcceptor(gw, ethers.ZeroAddress),
        ]) {
          await expect(call)
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw, GatewayStatus.Exiting);
        }
        await expectNotHeld(c, gw);
      });
    });
  });

  /*------------------------------------------------------------
                           completeExit
  ------------------------------------------------------------*/
  describe("completeExit", function () {
    describe("validations", function () {
      itRevertsWrongStatus(
        ["None", "Pending", "Active", "Exited", "Pending, suspended", "Active, suspended"],
        "caller",
        (c, gw) => c.registry.connect(gw).completeExit(),
      );

      it("when it is suspended → it reverts RegistryGatewaySuspended after exitAt with no dispute held", async function () {
        const c = await loadFixture(suspendedExitingFixture);
        await time.increaseTo(c.exitAt + DAY);
        expect((await gatewayOf(c.registry, c.gateway.address)).openDisputes).to.equal(0n);
        await expectExitRefused(c, c.gateway, "RegistryGatewaySuspended");
      });

      it("when it is suspended → it reverts RegistryGatewaySuspended before exitAt too (the sanction is checked first)", async function () {
        const c = await loadFixture(suspendedExitingFixture);
        await expectExitRefused(c, c.gateway, "RegistryGatewaySuspended");
      });

      it("when now < exitAt → it reverts RegistryUnbonding, up to the last second", async function () {
        const c = await loadFixture(exitingFixture);
        await expectExitRefused(c, c.gateway, "RegistryUnbonding", c.exitAt);
        await time.setNextBlockTimestamp(c.exitAt - 1);
        await expectExitRefused(c, c.gateway, "RegistryUnbonding", c.exitAt);
      });

      it("when it still holds disputes → it reverts RegistryGatewayHasDisputes; once they are closed it exits", async function () {
        const c = await loadFixture(heldDisputeFixture);
        const exitAt = await requestExit(c, c.gateway);
        await time.increaseTo(exitAt);
        await expectExitRefused(c, c.gateway, "RegistryGatewayHasDisputes", 1);
        await c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address);
        await expect(c.registry.connect(c.gateway).completeExit()).to.emit(c.registry, "GatewayExited");
      });
    });

    describe("effects, events and transfers", function () {
      it("when not suspended, at exactly exitAt with no dispute held → bond returned; Exited; GatewayExited", async function () {
        const c = await loadFixture(exitingFixture);
        await time.setNextBlockTimestamp(c.exitAt);
        await expectExitPays(c, c.gateway, MIN_BOND);
        expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({
          ...FIXTURE_GATEWAY,
          bond: 0n,
          status: BigInt(GatewayStatus.Exited),
          exitAt: BigInt(c.exitAt),
        });
        expect(await c.registry.canRule(c.gateway.address)).to.equal(false);
      });

      const before: [string, (c: Ctx) => Promise<unknown>, bigint][] = [
        [
          "bond was added while exiting → the whole bond is returned",
          (c) => addBond(c, c.gateway, USDT(500)),
          MIN_BOND + USDT(500),
        ],
        [
          "the bond was partly slashed → the rest is returned",
          (c) => c.registry.connect(c.governor).slashGateway(c.gateway.address, USDT(4_000), c.payer.address),
          MIN_BOND - USDT(4_000),
        ],
      ];
      for (const [what, change, returned] of before) {
        it(`when ${what}`, async function () {
          const c = await loadFixture(exitingFixture);
          await change(c);
          await time.increaseTo(c.exitAt);
          await expectExitPays(c, c.gateway, returned);
        });
      }

      it("when the whole bond was slashed → Exited with nothing transferred", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.governor).slashGateway(c.gateway.address, MIN_BOND, c.payer.address);
        await time.increaseTo(c.exitAt);
        const tx = c.registry.connect(c.gateway).completeExit();
        await expect(tx).to.emit(c.registry, "GatewayExited").withArgs(c.gateway.address, 0);
        await expect(tx).to.not.emit(c.usdt, "Transfer");
        await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.gateway], [0, 0]);
        expect((await gatewayOf(c.registry, c.gateway.address)).status).to.equal(BigInt(GatewayStatus.Exited));
      });

      it("when the delay is at its floor → the exit completes minUnbondingDelay after the request", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setUnbondingDelay(MIN_UNBONDING_DELAY);
        const tx = await c.registry.connect(c.gateway).requestExit();
        await time.setNextBlockTimestamp((await minedAt(tx)) + MIN_UNBONDING_DELAY);
        await expectExitPays(c, c.gateway, MIN_BOND);
      });

      it("when paused → it works all the same", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.pauser).pause();
        await time.increaseTo(c.exitAt);
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.emit(c.registry, "GatewayExited")
          .withArgs(c.gateway.address, MIN_BOND);
      });
    });

    itRefusesReentry(
      (h) => h.registry.interface.encodeFunctionData("completeExit"),
      async (h) => {
        await expect(h.registry.connect(h.gateway).completeExit()).to.changeTokenBalances(
          h.token,
          [h.registry, h.gateway],
          [-MIN_BOND, MIN_BOND],
        );
      },
      async (h) => {
        await h.registry.connect(h.gateway).registerGateway(MIN_BOND, 0, META);
        const tx = await h.registry.connect(h.gateway).requestExit();
        await time.increaseTo((await minedAt(tx)) + UNBONDING_DELAY);
      },
    );
  });

  /*------------------------------------------------------------
                  noteDisputeOpened / noteDisputeClosed
  ------------------------------------------------------------*/
  describe("noteDisputeOpened", function () {
    itRequiresRole("ESCROW_ROLE", (c, r) => r.noteDisputeOpened(c.gateway.address));
    itRequiresRole("ESCROW_ROLE", (c, r) => r.noteDisputeOpened(c.gateway2.address), {
      first: "a gateway whose disputes it does not count",
    });

    for (const state of ["None", "Pending", "Exiting", "Exited", ...SUSPENDED_STATES] as const) {
      it(`when the gateway is ${state} → it returns false; nothing changes; no event`, async function () {
        const { c, gw } = await gatewayIn(state);
        await expectNotHeld(c, gw.address);
      });
    }

    it("when the gateway is Active and in good standing → it returns true; the counter rises by one; GatewayDisputesChanged", async function () {
      const c = await loadFixture(baseFixture);
      await holdDispute(c, c.gateway.address, 1);
      await holdDispute(c, c.gateway.address, 2);
      expect((await gatewayOf(c.registry, c.gateway.address)).openDisputes).to.equal(2n);
    });

    it("when two gateways are Active → each keeps its own counter; the rest of the record is untouched", async function () {
      const c = await loadFixture(twoGatewaysFixture);
      const before = await gatewayOf(c.registry, c.gateway.address);
      await holdDispute(c, c.gateway.address, 1);
      expect((await gatewayOf(c.registry, c.gateway2.address)).openDisputes).to.equal(0n);
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({ ...before, openDisputes: 1n });
      await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway2.address))
        .to.be.revertedWithCustomError(c.registry, "RegistryDisputeCounter")
        .withArgs(c.gateway2.address, 0);
    });

    it("when the counter is at uint32 max → it reverts RegistryDisputeCounter (state forced through storage: unreachable in practice)", async function () {
      // 2^32 - 1 disputes cannot be opened in practice, so the counter is written directly. The bond is read
      // back from the same slot first, so a change in the storage layout fails this test instead of passing it.
      const c = await loadFixture(baseFixture);
      const slot = ethers.keccak256(
        ethers.AbiCoder.defaultAbiCoder().encode(["address", "uint256"], [c.gateway.address, GATEWAYS_MAPPING_SLOT]),
      );
      const word = BigInt(await ethers.provider.getStorage(c.registryAddr, slot));
      expect(word & (2n ** 96n - 1n)).to.equal(MIN_BOND);
      const shift = 96n + 16n + 16n + 8n + 8n + 40n; // bond, feeBps, feeCapBps, status, suspended, exitAt
      const forced = (word & ~(MAX_UINT32 << shift)) | ((MAX_UINT32 - 1n) << shift);
      await setStorageAt(c.registryAddr, slot, ethers.toBeHex(forced, 32));
      expect((await gatewayOf(c.registry, c.gateway.address)).openDisputes).to.equal(MAX_UINT32 - 1n);

      await holdDispute(c, c.gateway.address, Number(MAX_UINT32));
      await expect(c.registry.connect(c.escrowKey).noteDisputeOpened(c.gateway.address))
        .to.be.revertedWithCustomError(c.registry, "RegistryDisputeCounter")
        .withArgs(c.gateway.address, MAX_UINT32);
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({
        ...FIXTURE_GATEWAY,
        openDisputes: MAX_UINT32,
      });
    });
  });

  describe("noteDisputeClosed", function () {
    itRequiresRole("ESCROW_ROLE", (c, r) => r.noteDisputeClosed(c.gateway.address), { fixture: heldDisputeFixture });
    itRequiresRole("ESCROW_ROLE", (c, r) => r.noteDisputeClosed(c.gateway.address), { first: "a counter at 0" });

    for (const state of ["None", "Active"] as const) {
      it(`when the counter is 0 (gateway ${state}) → it reverts RegistryDisputeCounter`, async function () {
        const { c, gw } = await gatewayIn(state);
        await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(gw.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryDisputeCounter")
          .withArgs(gw.address, 0);
      });
    }

    const then: Record<string, (c: Ctx) => Promise<unknown>> = {
      Active: async () => undefined,
      Exiting: (c) => c.registry.connect(c.gateway).requestExit(),
      "Active, suspended": (c) => c.registry.connect(c.governor).suspendGateway(c.gateway.address),
      "Exiting, suspended": async (c) => {
        await c.registry.connect(c.gateway).requestExit();
        await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
      },
    };
    for (const [state, reach] of Object.entries(then)) {
      it(`when the counter is above 0 (gateway ${state}) → it falls by one; GatewayDisputesChanged`, async function () {
        const c = await loadFixture(baseFixture);
        await holdDispute(c, c.gateway.address, 1);
        await holdDispute(c, c.gateway.address, 2);
        await reach(c);
        const before = await gatewayOf(c.registry, c.gateway.address);
        await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address))
          .to.emit(c.registry, "GatewayDisputesChanged")
          .withArgs(c.gateway.address, 1);
        expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({ ...before, openDisputes: 1n });
        await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address))
          .to.emit(c.registry, "GatewayDisputesChanged")
          .withArgs(c.gateway.address, 0);
      });
    }
  });

  describe("canRule", function () {
    const expected: Record<GatewayState, boolean> = {
      None: false,
      Pending: false,
      Active: true,
      Exiting: true,
      Exited: false,
      "Pending, suspended": false,
      "Active, suspended": false,
      "Exiting, suspended": false,
    };
    for (const state of ALL_STATES) {
      it(`when the gateway is ${state} → ${expected[state]}`, async function () {
        const { c, gw, status, suspended } = await gatewayIn(state);
        const g = await gatewayOf(c.registry, gw.address);
        expect([g.status, g.suspended]).to.deep.equal([BigInt(status), suspended]);
        expect(await c.registry.canRule(gw.address)).to.equal(expected[state]);
      });
    }
  });

  /*------------------------------------------------------------
                     dealTerms / checkDeposit
  ------------------------------------------------------------*/
  describe("dealTerms", function () {
    describe("reverts", function () {
      itRevertsWhenPaused((c) => c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true));
      itRevertsWhenPaused(
        (c) => c.registry.dealTerms(c.gateway2.address, c.stranger.address, c.stranger.address, true),
        "an unknown gateway, token and acceptor",
      );

      it("when the token is not allowed → it reverts RegistryTokenNotAllowed (before the gateway check)", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.dealTerms(c.gateway2.address, c.stranger.address, ethers.ZeroAddress, false))
          .to.be.revertedWithCustomError(c.registry, "RegistryTokenNotAllowed")
          .withArgs(c.stranger.address);
      });

      it("when it is the bond token and governance disallowed it → it reverts RegistryTokenNotAllowed", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setTokenAllowed(c.usdtAddr, false);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress, false))
          .to.be.revertedWithCustomError(c.registry, "RegistryTokenNotAllowed")
          .withArgs(c.usdtAddr);
        const t = await c.registry.dealTerms(c.gateway.address, c.daiAddr, ethers.ZeroAddress, false);
        expect(t.feeBps).to.equal(BigInt(GATEWAY_FEE_BPS));
      });

      itRevertsWrongStatus(
        ["None", "Pending", "Exiting", "Exited", "Pending, suspended", "Exiting, suspended"],
        "gateway",
        (c, gw) => c.registry.dealTerms(gw.address, c.usdtAddr, ethers.ZeroAddress, false),
      );

      it("when the gateway is Active but suspended → it reverts RegistryGatewaySuspended, with or without an acceptor", async function () {
        const c = await loadFixture(suspendedFixture);
        for (const [acc, withDelegate] of [
          [ethers.ZeroAddress, false],
          [c.acceptor.address, true],
        ] as const) {
          await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, acc, withDelegate))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
            .withArgs(c.gateway.address);
        }
      });

      itRevertsAcceptorWrongStatus(["None", "Pending", "Suspended"], "the acceptor", (c, acc) =>
        c.registry.dealTerms(c.gateway.address, c.usdtAddr, acc.address, true),
      );

      it("when the acceptor is registered under another gateway → it reverts RegistryAcceptorGatewayMismatch", async function () {
        const c = await loadFixture(twoGatewaysFixture);
        for (const [acc, its, named] of [
          [c.acceptor2, c.gateway2, c.gateway],
          [c.acceptor, c.gateway, c.gateway2],
        ]) {
          await expect(c.registry.dealTerms(named.address, c.usdtAddr, acc.address, acc === c.acceptor))
            .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorGatewayMismatch")
            .withArgs(acc.address, its.address, named.address);
        }
      });
    });

    describe("returns", function () {
      /** The terms of a deal with the fixture gateway in `token`, as a list to compare with `deep.equal`. */
      async function termsOf(c: Ctx, token: string, acc: string, withDelegate: boolean) {
        const t = await c.registry.dealTerms(c.gateway.address, token, acc, withDelegate);
        return [t.feeBps, t.lockDelegate, t.minAmount, t.maxAmount];
      }
      const fee = BigInt(GATEWAY_FEE_BPS);

      it("when no acceptor is given → the gateway's fee; zero delegate and limits (whatever withDelegate says)", async function () {
        const c = await loadFixture(baseFixture);
        for (const withDelegate of [false, true]) {
          const t = await termsOf(c, c.usdtAddr, ethers.ZeroAddress, withDelegate);
          expect(t).to.deep.equal([fee, ethers.ZeroAddress, 0n, 0n]);
        }
      });

      it("when withDelegate is false → the fee and the acceptor's limits for the token; lockDelegate zero", async function () {
        const c = await loadFixture(baseFixture);
        const t = await termsOf(c, c.usdtAddr, c.acceptor.address, false);
        expect(t).to.deep.equal([fee, ethers.ZeroAddress, USDT(10), USDT(50_000)]);
      });

      it("when withDelegate is true → the fee, the acceptor's limits for the token asked and its lock delegate", async function () {
        const c = await loadFixture(baseFixture);
        const u = await termsOf(c, c.usdtAddr, c.acceptor.address, true);
        expect(u).to.deep.equal([fee, c.delegate.address, USDT(10), USDT(50_000)]);
        const d = await termsOf(c, c.daiAddr, c.acceptor.address, true);
        expect(d).to.deep.equal([fee, c.delegate.address, ethers.parseEther("10"), ethers.parseEther("50000")]);
      });

      it("when the acceptor set no limits for the (allowlisted) token → zero limits", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setTokenAllowed(c.stranger.address, true);
        const t = await termsOf(c, c.stranger.address, c.acceptor.address, true);
        expect(t).to.deep.equal([fee, c.delegate.address, 0n, 0n]);
      });

      it("when setMaxFee lowered the global cap below the gateway's fee → the fee clamped to the cap", async function () {
        const c = await loadFixture(baseFixture);
        const feeOfTerms = async (acc: string) => (await termsOf(c, c.usdtAddr, acc, false))[0];
        await c.registry.connect(c.governor).setMaxFee(20);
        expect(await feeOfTerms(ethers.ZeroAddress)).to.equal(20n);
        expect(await feeOfTerms(c.acceptor.address)).to.equal(20n);
        expect((await gatewayOf(c.registry, c.gateway.address)).feeBps).to.equal(fee);
        await c.registry.connect(c.governor).setMaxFee(GATEWAY_FEE_BPS);
        expect(await feeOfTerms(ethers.ZeroAddress)).to.equal(fee);
        await c.registry.connect(c.governor).setMaxFee(0);
        expect(await feeOfTerms(ethers.ZeroAddress)).to.equal(0n);
        await c.registry.connect(c.governor).setMaxFee(MAX_FEE_BPS);
        expect(await feeOfTerms(ethers.ZeroAddress)).to.equal(fee);
      });
    });
  });

  describe("checkDeposit", function () {
    itRevertsWhenPaused((c) => c.registry.checkDeposit(c.acceptor.address, c.usdtAddr));
    itRevertsWhenPaused(
      (c) => c.registry.checkDeposit(c.stranger.address, c.stranger.address),
      "an unknown acceptor and token",
    );

    it("when its gateway is Active and in good standing → it passes, for every allowlisted token", async function () {
      const c = await loadFixture(baseFixture);
      await c.registry.checkDeposit(c.acceptor.address, c.usdtAddr);
      await c.registry.checkDeposit(c.acceptor.address, c.daiAddr);
    });

    it("when the token is not allowed (the bond token included, once disallowed) → it reverts RegistryTokenNotAllowed", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.checkDeposit(c.acceptor.address, c.stranger.address))
        .to.be.revertedWithCustomError(c.registry, "RegistryTokenNotAllowed")
        .withArgs(c.stranger.address);
      await c.registry.connect(c.governor).setTokenAllowed(c.usdtAddr, false);
      await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr))
        .to.be.revertedWithCustomError(c.registry, "RegistryTokenNotAllowed")
        .withArgs(c.usdtAddr);
    });

    it("when the acceptor is not Active (None, Pending, Suspended) → it reverts RegistryAcceptorWrongStatus", async function () {
      const c = await loadFixture(pendingAcceptorFixture);
      await c.registry.connect(c.governor).suspendAcceptor(c.acceptor.address);
      for (const [acc, status] of [
        [c.stranger, AcceptorStatus.None],
        [c.acceptor2, AcceptorStatus.Pending],
        [c.acceptor, AcceptorStatus.Suspended],
      ] as const) {
        await expect(c.registry.checkDeposit(acc.address, c.usdtAddr))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(acc.address, status);
      }
    });

    for (const state of ["Exiting", "Exited", "Exiting, suspended"] as const) {
      it(`when the acceptor is Active and its gateway ${state} → it reverts RegistryGatewayWrongStatus`, async function () {
        const { c, gw, status } = await gatewayIn(state);
        expect((await c.registry.getAcceptor(c.acceptor.address)).status).to.equal(BigInt(AcceptorStatus.Active));
        await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(gw.address, status);
      });
    }

    it("when the acceptor is Active and its gateway Active but suspended → it reverts RegistryGatewaySuspended", async function () {
      const c = await loadFixture(suspendedFixture);
      expect((await c.registry.getAcceptor(c.acceptor.address)).status).to.equal(BigInt(AcceptorStatus.Active));
      await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr))
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
        .withArgs(c.gateway.address);
      await c.registry.connect(c.governor).reinstateGateway(c.gateway.address);
      await c.registry.checkDeposit(c.acceptor.address, c.usdtAddr);
    });
  });
});
