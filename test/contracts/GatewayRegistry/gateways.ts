import { setStorageAt, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import {
  AcceptorStatus,
  approveExactly,
  DAY,
  GATEWAY_FEE_BPS,
  GATEWAY_FEE_CAP_BPS,
  GatewayStatus,
  loadFixture,
  MAX_FEE_BPS,
  MIN_BOND,
  MIN_UNBONDING_DELAY,
  UNBONDING_DELAY,
  USDT,
} from "../fixtures";
import {
  addBond,
  ALL_STATES,
  baseFixture,
  Ctx,
  exitingFixture,
  expectNotHeld,
  expectSanctioned,
  GATEWAY2_FEE_BPS,
  gatewayIn,
  gatewayOf,
  GATEWAYS_MAPPING_SLOT,
  GatewayState,
  holdDispute,
  hostileFixture,
  itRevertsWrongStatus,
  MAX_FEE_LIMIT_BPS,
  MAX_UINT32,
  META,
  minedAt,
  pausedFixture,
  pendingAcceptorFixture,
  pendingFixture,
  registerGateway,
  requestExit,
  SUSPENDED_STATES,
  suspendedAcceptorFixture,
  suspendedExitingFixture,
  suspendedFixture,
  suspendedPendingFixture,
  twoGatewaysFixture,
} from "./shared";

describe("GatewayRegistry: gateways", function () {
  /*------------------------------------------------------------
                          registerGateway
  ------------------------------------------------------------*/
  describe("registerGateway", function () {
    describe("validations", function () {
      it("reverts RegistryPaused while paused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(registerGateway(c, c.gateway2)).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
      });

      describe("a caller already registered", function () {
        itRevertsWrongStatus(
          ["Pending", "Active", "Exiting", "Exited", "Pending, suspended", "Active, suspended", "Exiting, suspended"],
          "caller",
          (c, gw) => registerGateway(c, gw),
        );
      });

      it("reverts RegistryFeeTooHigh for a fee above the global cap", async function () {
        const c = await loadFixture(baseFixture);
        await expect(registerGateway(c, c.gateway2, MIN_BOND, MAX_FEE_BPS + 1))
          .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
          .withArgs(MAX_FEE_BPS + 1, MAX_FEE_BPS);
      });

      it("reverts RegistryBondTooLow for a zero bond", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.gateway2).registerGateway(0, GATEWAY2_FEE_BPS, META))
          .to.be.revertedWithCustomError(c.registry, "RegistryBondTooLow")
          .withArgs(0, MIN_BOND);
      });

      it("reverts RegistryBondTooLow for a bond one unit below the minimum", async function () {
        const c = await loadFixture(baseFixture);
        await expect(registerGateway(c, c.gateway2, MIN_BOND - 1n))
          .to.be.revertedWithCustomError(c.registry, "RegistryBondTooLow")
          .withArgs(MIN_BOND - 1n, MIN_BOND);
      });

      it("reverts RegistryBondTooLow with what arrived when a transfer fee takes the bond below the minimum", async function () {
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

      it("reverts without data when the allowance is missing (USDT's own failure, passed through)", async function () {
        const c = await loadFixture(baseFixture);
        await expect(
          c.registry.connect(c.gateway2).registerGateway(MIN_BOND, GATEWAY2_FEE_BPS, META),
        ).to.be.revertedWithoutReason();
        expect(await c.registry.gatewayCount()).to.equal(1n);
      });
    });

    describe("effects and events", function () {
      it("records a pending gateway and emits GatewayRegistered", async function () {
        const c = await loadFixture(baseFixture);
        await expect(registerGateway(c, c.gateway2, MIN_BOND, GATEWAY2_FEE_BPS, META))
          .to.emit(c.registry, "GatewayRegistered")
          .withArgs(c.gateway2.address, MIN_BOND, GATEWAY2_FEE_BPS, META);
        expect(await gatewayOf(c.registry, c.gateway2.address)).to.deep.equal({
          bond: MIN_BOND,
          feeBps: BigInt(GATEWAY2_FEE_BPS),
          feeCapBps: 0n,
          status: BigInt(GatewayStatus.Pending),
          suspended: false,
          exitAt: 0n,
          openDisputes: 0n,
        });
        expect(await c.registry.canRule(c.gateway2.address)).to.equal(false);
      });

      it("appends the gateway to the list", async function () {
        const c = await loadFixture(baseFixture);
        expect(await c.registry.gatewayCount()).to.equal(1n);
        await registerGateway(c, c.gateway2);
        await registerGateway(c, c.other);
        expect(await c.registry.gatewayCount()).to.equal(3n);
        expect(await c.registry.gatewayAt(0)).to.equal(c.gateway.address);
        expect(await c.registry.gatewayAt(1)).to.equal(c.gateway2.address);
        expect(await c.registry.gatewayAt(2)).to.equal(c.other.address);
      });

      it("accepts a fee of zero and exactly the global cap", async function () {
        const c = await loadFixture(baseFixture);
        await expect(registerGateway(c, c.gateway2, MIN_BOND, 0))
          .to.emit(c.registry, "GatewayRegistered")
          .withArgs(c.gateway2.address, MIN_BOND, 0, META);
        await expect(registerGateway(c, c.other, MIN_BOND, MAX_FEE_BPS))
          .to.emit(c.registry, "GatewayRegistered")
          .withArgs(c.other.address, MIN_BOND, MAX_FEE_BPS, META);
      });
    });

    describe("transfers", function () {
      it("pulls the bond from the caller", async function () {
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

      it("credits only what arrived when USDT charges a transfer fee", async function () {
        const c = await loadFixture(baseFixture);
        await c.usdt.connect(c.admin).setParams(10, 20); // 0.1%, at most 20 USDT
        const bond = USDT(20_000);
        const fee = USDT(20);
        await approveExactly(c.usdt, c.gateway2, c.registryAddr, bond);
        const tx = c.registry.connect(c.gateway2).registerGateway(bond, GATEWAY2_FEE_BPS, META);
        await expect(tx).to.changeTokenBalances(c.usdt, [c.gateway2, c.registry, c.admin], [-bond, bond - fee, fee]);
        await expect(tx)
          .to.emit(c.registry, "GatewayRegistered")
          .withArgs(c.gateway2.address, bond - fee, GATEWAY2_FEE_BPS, META);
        expect((await gatewayOf(c.registry, c.gateway2.address)).bond).to.equal(bond - fee);
      });
    });

    it("is guarded against re-entry from the bond token", async function () {
      const h = await loadFixture(hostileFixture);
      await h.token.arm(
        await h.registry.getAddress(),
        h.registry.interface.encodeFunctionData("registerGateway", [MIN_BOND, 0, META]),
      );
      await expect(h.registry.connect(h.gateway).registerGateway(MIN_BOND, 0, META))
        .to.emit(h.registry, "GatewayRegistered")
        .withArgs(h.gateway.address, MIN_BOND, 0, META);
      expect(await h.token.lastCallFailed()).to.equal(true);
      expect(await h.token.lastRevertData()).to.equal(h.reentrancySelector);
      expect(await h.registry.gatewayCount()).to.equal(1n);
    });
  });

  /*------------------------------------------------------------
                              addBond
  ------------------------------------------------------------*/
  describe("addBond", function () {
    describe("validations", function () {
      itRevertsWrongStatus(["None", "Exited"], "caller", (c, gw) => addBond(c, gw, USDT(1)));

      it("reverts RegistryBondTooLow for a zero amount", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.gateway).addBond(0))
          .to.be.revertedWithCustomError(c.registry, "RegistryBondTooLow")
          .withArgs(0, MIN_BOND);
      });
    });

    for (const state of ["Pending", "Active", "Exiting", ...SUSPENDED_STATES] as const) {
      it(`adds to the bond of a gateway that is ${state}, moving the tokens and emitting GatewayBondAdded`, async function () {
        const { c, gw, status, suspended } = await gatewayIn(state);
        const tx = addBond(c, gw, USDT(7));
        await expect(tx).to.changeTokenBalances(c.usdt, [gw, c.registry], [-USDT(7), USDT(7)]);
        await expect(tx)
          .to.emit(c.registry, "GatewayBondAdded")
          .withArgs(gw.address, USDT(7), MIN_BOND + USDT(7));
        const g = await gatewayOf(c.registry, gw.address);
        expect(g.bond).to.equal(MIN_BOND + USDT(7));
        expect([g.status, g.suspended]).to.deep.equal([BigInt(status), suspended]);
      });
    }

    it("credits only what arrived when USDT charges a transfer fee", async function () {
      const c = await loadFixture(baseFixture);
      await c.usdt.connect(c.admin).setParams(19, 1); // 0.19%, at most 1 USDT
      const amount = USDT(5_000);
      const fee = USDT(1);
      const tx = addBond(c, c.gateway, amount);
      await expect(tx).to.changeTokenBalances(c.usdt, [c.gateway, c.registry, c.admin], [-amount, amount - fee, fee]);
      await expect(tx)
        .to.emit(c.registry, "GatewayBondAdded")
        .withArgs(c.gateway.address, amount - fee, MIN_BOND + amount - fee);
      expect((await gatewayOf(c.registry, c.gateway.address)).bond).to.equal(MIN_BOND + amount - fee);
    });

    it("is guarded against re-entry from the bond token", async function () {
      const h = await loadFixture(hostileFixture);
      await h.registry.connect(h.gateway).registerGateway(MIN_BOND, 0, META);
      const registryAddr = await h.registry.getAddress();
      await h.token.arm(registryAddr, h.registry.interface.encodeFunctionData("addBond", [1]));
      await expect(h.registry.connect(h.gateway).addBond(USDT(3)))
        .to.emit(h.registry, "GatewayBondAdded")
        .withArgs(h.gateway.address, USDT(3), MIN_BOND + USDT(3));
      expect(await h.token.lastCallFailed()).to.equal(true);
      expect(await h.token.lastRevertData()).to.equal(h.reentrancySelector);
    });
  });

  /*------------------------------------------------------------
                          approveGateway
  ------------------------------------------------------------*/
  describe("approveGateway", function () {
    describe("validations", function () {
      itRevertsWrongStatus(
        ["None", "Active", "Exiting", "Exited", "Active, suspended", "Exiting, suspended"],
        "gateway",
        (c, gw) => c.registry.connect(c.governor).approveGateway(gw.address, 100),
      );

      it("reverts RegistryInvalidParameter for a cap above MAX_FEE_LIMIT_BPS", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.governor).approveGateway(c.gateway2.address, MAX_FEE_LIMIT_BPS + 1))
          .to.be.revertedWithCustomError(c.registry, "RegistryInvalidParameter")
          .withArgs(MAX_FEE_LIMIT_BPS + 1, MAX_FEE_LIMIT_BPS);
      });

      it("reverts RegistryFeeTooHigh when the gateway's fee is above the cap given", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY2_FEE_BPS - 1))
          .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
          .withArgs(GATEWAY2_FEE_BPS, GATEWAY2_FEE_BPS - 1);
        expect((await gatewayOf(c.registry, c.gateway2.address)).status).to.equal(BigInt(GatewayStatus.Pending));
      });
    });

    describe("effects and events", function () {
      it("activates the gateway with its cap and emits GatewayApproved", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.governor).approveGateway(c.gateway2.address, 250))
          .to.emit(c.registry, "GatewayApproved")
          .withArgs(c.gateway2.address, 250);
        expect(await gatewayOf(c.registry, c.gateway2.address)).to.deep.equal({
          bond: MIN_BOND,
          feeBps: BigInt(GATEWAY2_FEE_BPS),
          feeCapBps: 250n,
          status: BigInt(GatewayStatus.Active),
          suspended: false,
          exitAt: 0n,
          openDisputes: 0n,
        });
        expect(await c.registry.canRule(c.gateway2.address)).to.equal(true);
        expect((await c.registry.dealTerms(c.gateway2.address, c.usdtAddr, ethers.ZeroAddress, false)).feeBps).to.equal(
          BigInt(GATEWAY2_FEE_BPS),
        );
      });

      it("accepts a cap equal to the fee and a cap of MAX_FEE_LIMIT_BPS (above the global cap)", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY2_FEE_BPS))
          .to.emit(c.registry, "GatewayApproved")
          .withArgs(c.gateway2.address, GATEWAY2_FEE_BPS);
        await registerGateway(c, c.other);
        await expect(c.registry.connect(c.governor).approveGateway(c.other.address, MAX_FEE_LIMIT_BPS))
          .to.emit(c.registry, "GatewayApproved")
          .withArgs(c.other.address, MAX_FEE_LIMIT_BPS);
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

      it("reverts RegistryFeeTooHigh above the global cap for a pending gateway", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.gateway2).setGatewayFee(MAX_FEE_BPS + 1))
          .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
          .withArgs(MAX_FEE_BPS + 1, MAX_FEE_BPS);
      });

      for (const state of ["Active", "Active, suspended"] as const) {
        it(`reverts RegistryFeeTooHigh above its own cap for a gateway that is ${state}`, async function () {
          const { c, gw } = await gatewayIn(state);
          await expect(c.registry.connect(gw).setGatewayFee(GATEWAY_FEE_CAP_BPS + 1))
            .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
            .withArgs(GATEWAY_FEE_CAP_BPS + 1, GATEWAY_FEE_CAP_BPS);
        });
      }

      it("reverts RegistryFeeTooHigh against the global cap when it is below the gateway's own cap", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setMaxFee(200);
        await expect(c.registry.connect(c.gateway).setGatewayFee(250))
          .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
          .withArgs(250, 200);
      });
    });

    describe("effects and events", function () {
      it("lets a pending gateway set any fee up to the global cap; approval then checks it", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.gateway2).setGatewayFee(MAX_FEE_BPS))
          .to.emit(c.registry, "GatewayFeeSet")
          .withArgs(c.gateway2.address, MAX_FEE_BPS);
        expect((await gatewayOf(c.registry, c.gateway2.address)).feeBps).to.equal(BigInt(MAX_FEE_BPS));
        await expect(c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY_FEE_CAP_BPS))
          .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
          .withArgs(MAX_FEE_BPS, GATEWAY_FEE_CAP_BPS);
      });

      it("lets a pending gateway that is suspended set its fee all the same (the flag does not matter)", async function () {
        const c = await loadFixture(suspendedPendingFixture);
        await expect(c.registry.connect(c.gateway2).setGatewayFee(MAX_FEE_BPS))
          .to.emit(c.registry, "GatewayFeeSet")
          .withArgs(c.gateway2.address, MAX_FEE_BPS);
        const g = await gatewayOf(c.registry, c.gateway2.address);
        expect([g.feeBps, g.status, g.suspended]).to.deep.equal([
          BigInt(MAX_FEE_BPS),
          BigInt(GatewayStatus.Pending),
          true,
        ]);
      });

      for (const state of ["Active", "Active, suspended"] as const) {
        it(`lets a gateway that is ${state} set a fee up to its cap and emits GatewayFeeSet`, async function () {
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

      it("changes the fee quoted for new deals", async function () {
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
      for (const state of ["Pending", "Active"] as const) {
        it(`when the caller is ${state} → Exiting; exitAt = now + unbondingDelay; bond, fee and counter kept; GatewayExitRequested`, async function () {
          const { c, gw } = await gatewayIn(state);
          const before = await gatewayOf(c.registry, gw.address);
          const tx = await c.registry.connect(gw).requestExit();
          const exitAt = (await minedAt(tx)) + UNBONDING_DELAY;
          await expect(tx).to.emit(c.registry, "GatewayExitRequested").withArgs(gw.address, exitAt);
          expect(await gatewayOf(c.registry, gw.address)).to.deep.equal({
            ...before,
            status: BigInt(GatewayStatus.Exiting),
            exitAt: BigInt(exitAt),
          });
        });
      }

      for (const state of ["Pending, suspended", "Active, suspended"] as const) {
        it(`when the caller is ${state} → Exiting and still suspended (the sanction stays): canRule false`, async function () {
          const { c, gw } = await gatewayIn(state);
          const before = await gatewayOf(c.registry, gw.address);
          const tx = await c.registry.connect(gw).requestExit();
          const exitAt = (await minedAt(tx)) + UNBONDING_DELAY;
          await expect(tx).to.emit(c.registry, "GatewayExitRequested").withArgs(gw.address, exitAt);
          expect(await gatewayOf(c.registry, gw.address)).to.deep.equal({
            ...before,
            status: BigInt(GatewayStatus.Exiting),
            suspended: true,
            exitAt: BigInt(exitAt),
          });
          await expectSanctioned(c, gw.address);
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
        expect(await c.registry.canRule(c.gateway.address)).to.equal(true);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress, false))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(c.gateway.address, GatewayStatus.Exiting);
        await expect(c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(c.gateway.address, GatewayStatus.Exiting);
        await expectNotHeld(c, c.gateway.address);
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
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
          .withArgs(c.gateway.address);
      });

      it("when it is suspended → it reverts RegistryGatewaySuspended before exitAt too (the sanction is checked first)", async function () {
        const c = await loadFixture(suspendedExitingFixture);
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
          .withArgs(c.gateway.address);
      });

      it("when now < exitAt → it reverts RegistryUnbonding, up to the last second", async function () {
        const c = await loadFixture(exitingFixture);
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryUnbonding")
          .withArgs(c.gateway.address, c.exitAt);
        await time.setNextBlockTimestamp(c.exitAt - 1);
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryUnbonding")
          .withArgs(c.gateway.address, c.exitAt);
      });

      it("when it still holds disputes → it reverts RegistryGatewayHasDisputes; once they are closed it exits", async function () {
        const c = await loadFixture(baseFixture);
        await holdDispute(c, c.gateway.address, 1);
        const exitAt = await requestExit(c, c.gateway);
        await time.increaseTo(exitAt);
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayHasDisputes")
          .withArgs(c.gateway.address, 1);
        await c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address);
        await expect(c.registry.connect(c.gateway).completeExit()).to.emit(c.registry, "GatewayExited");
      });
    });

    describe("effects, events and transfers", function () {
      it("when not suspended, at exactly exitAt with no dispute held → bond returned; Exited; GatewayExited", async function () {
        const c = await loadFixture(exitingFixture);
        await time.setNextBlockTimestamp(c.exitAt);
        const tx = c.registry.connect(c.gateway).completeExit();
        await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.gateway], [-MIN_BOND, MIN_BOND]);
        await expect(tx).to.emit(c.registry, "GatewayExited").withArgs(c.gateway.address, MIN_BOND);
        expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({
          bond: 0n,
          feeBps: BigInt(GATEWAY_FEE_BPS),
          feeCapBps: BigInt(GATEWAY_FEE_CAP_BPS),
          status: BigInt(GatewayStatus.Exited),
          suspended: false,
          exitAt: BigInt(c.exitAt),
          openDisputes: 0n,
        });
        expect(await c.registry.canRule(c.gateway.address)).to.equal(false);
      });

      it("when bond was added while exiting → the whole bond is returned", async function () {
        const c = await loadFixture(exitingFixture);
        await addBond(c, c.gateway, USDT(500));
        await time.increaseTo(c.exitAt);
        const bond = MIN_BOND + USDT(500);
        const tx = c.registry.connect(c.gateway).completeExit();
        await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.gateway], [-bond, bond]);
        await expect(tx).to.emit(c.registry, "GatewayExited").withArgs(c.gateway.address, bond);
      });

      it("when the bond was partly slashed → the rest is returned", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.governor).slashGateway(c.gateway.address, USDT(4_000), c.payer.address);
        await time.increaseTo(c.exitAt);
        const rest = MIN_BOND - USDT(4_000);
        const tx = c.registry.connect(c.gateway).completeExit();
        await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.gateway], [-rest, rest]);
        await expect(tx).to.emit(c.registry, "GatewayExited").withArgs(c.gateway.address, rest);
      });

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

      it("at the floor delay: the exit completes minUnbondingDelay after the request", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setUnbondingDelay(MIN_UNBONDING_DELAY);
        const tx = await c.registry.connect(c.gateway).requestExit();
        const exitAt = (await minedAt(tx)) + MIN_UNBONDING_DELAY;
        await time.setNextBlockTimestamp(exitAt);
        await expect(c.registry.connect(c.gateway).completeExit()).to.changeTokenBalances(
          c.usdt,
          [c.registry, c.gateway],
          [-MIN_BOND, MIN_BOND],
        );
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

    it("is guarded against re-entry from the bond token", async function () {
      const h = await loadFixture(hostileFixture);
      await h.registry.connect(h.gateway).registerGateway(MIN_BOND, 0, META);
      const tx = await h.registry.connect(h.gateway).requestExit();
      await time.increaseTo((await minedAt(tx)) + UNBONDING_DELAY);
      await h.token.arm(await h.registry.getAddress(), h.registry.interface.encodeFunctionData("completeExit"));
      await expect(h.registry.connect(h.gateway).completeExit()).to.changeTokenBalances(
        h.token,
        [h.registry, h.gateway],
        [-MIN_BOND, MIN_BOND],
      );
      expect(await h.token.lastCallFailed()).to.equal(true);
      expect(await h.token.lastRevertData()).to.equal(h.reentrancySelector);
    });
  });

  /*------------------------------------------------------------
                  noteDisputeOpened / noteDisputeClosed
  ------------------------------------------------------------*/
  describe("noteDisputeOpened", function () {
    it("when the caller lacks ESCROW_ROLE → it reverts AccessControlUnauthorizedAccount (the gateway and the governor included)", async function () {
      const c = await loadFixture(baseFixture);
      for (const s of [c.gateway, c.governor, c.arbiter]) {
        await expect(c.registry.connect(s).noteDisputeOpened(c.gateway.address))
          .to.be.revertedWithCustomError(c.registry, "AccessControlUnauthorizedAccount")
          .withArgs(s.address, await c.registry.ESCROW_ROLE());
      }
    });

    for (const state of ["None", "Pending", "Exiting", "Exited"] as const) {
      it(`when the gateway is ${state} (not Active) → it returns false; nothing changes; no event`, async function () {
        const { c, gw } = await gatewayIn(state);
        await expectNotHeld(c, gw.address);
      });
    }

    for (const state of SUSPENDED_STATES) {
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

    it("keeps each gateway's counter apart and leaves the rest of the record untouched", async function () {
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
        bond: MIN_BOND,
        feeBps: BigInt(GATEWAY_FEE_BPS),
        feeCapBps: BigInt(GATEWAY_FEE_CAP_BPS),
        status: BigInt(GatewayStatus.Active),
        suspended: false,
        exitAt: 0n,
        openDisputes: MAX_UINT32,
      });
    });
  });

  describe("noteDisputeClosed", function () {
    it("when the caller lacks ESCROW_ROLE → it reverts AccessControlUnauthorizedAccount (the gateway and the governor included)", async function () {
      const c = await loadFixture(baseFixture);
      await holdDispute(c, c.gateway.address, 1);
      for (const s of [c.gateway, c.governor, c.arbiter]) {
        await expect(c.registry.connect(s).noteDisputeClosed(c.gateway.address))
          .to.be.revertedWithCustomError(c.registry, "AccessControlUnauthorizedAccount")
          .withArgs(s.address, await c.registry.ESCROW_ROLE());
      }
    });

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
      it(`is ${expected[state]} for a gateway that is ${state}`, async function () {
        const { c, gw, status, suspended } = await gatewayIn(state);
        const g = await gatewayOf(c.registry, gw.address);
        expect([g.status, g.suspended]).to.deep.equal([BigInt(status), suspended]);
        expect(await c.registry.canRule(gw.address)).to.equal(expected[state]);
      });
    }
  });

  /*------------------------------------------------------------
                              views
  ------------------------------------------------------------*/
  describe("dealTerms", function () {
    describe("reverts", function () {
      it("when paused → it reverts RegistryPaused (checked first)", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(
          c.registry.dealTerms(c.gateway2.address, c.stranger.address, c.stranger.address, true),
        ).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
      });

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

      it("when the acceptor is unregistered → it reverts RegistryAcceptorWrongStatus", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.stranger.address, true))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.stranger.address, AcceptorStatus.None);
      });

      it("when the acceptor is Pending → it reverts RegistryAcceptorWrongStatus", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor2.address, false))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor2.address, AcceptorStatus.Pending);
      });

      it("when the acceptor is Suspended → it reverts RegistryAcceptorWrongStatus", async function () {
        const c = await loadFixture(suspendedAcceptorFixture);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor.address, AcceptorStatus.Suspended);
      });

      it("when the acceptor is registered under another gateway → it reverts RegistryAcceptorGatewayMismatch", async function () {
        const c = await loadFixture(twoGatewaysFixture);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor2.address, false))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorGatewayMismatch")
          .withArgs(c.acceptor2.address, c.gateway2.address, c.gateway.address);
        await expect(c.registry.dealTerms(c.gateway2.address, c.usdtAddr, c.acceptor.address, true))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorGatewayMismatch")
          .withArgs(c.acceptor.address, c.gateway.address, c.gateway2.address);
      });
    });

    describe("returns", function () {
      it("when no acceptor is given → the gateway's fee; zero delegate and limits (whatever withDelegate says)", async function () {
        const c = await loadFixture(baseFixture);
        for (const withDelegate of [false, true]) {
          const t = await c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress, withDelegate);
          expect([t.feeBps, t.lockDelegate, t.minAmount, t.maxAmount]).to.deep.equal([
            BigInt(GATEWAY_FEE_BPS),
            ethers.ZeroAddress,
            0n,
            0n,
          ]);
        }
      });

      it("when withDelegate is false → the fee and the acceptor's limits for the token; lockDelegate zero", async function () {
        const c = await loadFixture(baseFixture);
        const u = await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, false);
        expect([u.feeBps, u.lockDelegate, u.minAmount, u.maxAmount]).to.deep.equal([
          BigInt(GATEWAY_FEE_BPS),
          ethers.ZeroAddress,
          USDT(10),
          USDT(50_000),
        ]);
      });

      it("when withDelegate is true → the fee, the acceptor's limits for the token asked and its lock delegate", async function () {
        const c = await loadFixture(baseFixture);
        const u = await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true);
        expect([u.feeBps, u.lockDelegate, u.minAmount, u.maxAmount]).to.deep.equal([
          BigInt(GATEWAY_FEE_BPS),
          c.delegate.address,
          USDT(10),
          USDT(50_000),
        ]);
        const d = await c.registry.dealTerms(c.gateway.address, c.daiAddr, c.acceptor.address, true);
        expect([d.lockDelegate, d.minAmount, d.maxAmount]).to.deep.equal([
          c.delegate.address,
          ethers.parseEther("10"),
          ethers.parseEther("50000"),
        ]);
      });

      it("zero limits for an allowlisted token the acceptor set none for", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setTokenAllowed(c.stranger.address, true);
        const t = await c.registry.dealTerms(c.gateway.address, c.stranger.address, c.acceptor.address, true);
        expect([t.lockDelegate, t.minAmount, t.maxAmount]).to.deep.equal([c.delegate.address, 0n, 0n]);
      });

      it("the fee clamped to the global cap after setMaxFee lowered it", async function () {
        const c = await loadFixture(baseFixture);
        const feeOfTerms = async (acc: string) =>
          (await c.registry.dealTerms(c.gateway.address, c.usdtAddr, acc, false)).feeBps;
        await c.registry.connect(c.governor).setMaxFee(20);
        expect(await feeOfTerms(ethers.ZeroAddress)).to.equal(20n);
        expect(await feeOfTerms(c.acceptor.address)).to.equal(20n);
        expect((await gatewayOf(c.registry, c.gateway.address)).feeBps).to.equal(BigInt(GATEWAY_FEE_BPS));
        await c.registry.connect(c.governor).setMaxFee(GATEWAY_FEE_BPS);
        expect(await feeOfTerms(ethers.ZeroAddress)).to.equal(BigInt(GATEWAY_FEE_BPS));
        await c.registry.connect(c.governor).setMaxFee(0);
        expect(await feeOfTerms(ethers.ZeroAddress)).to.equal(0n);
        await c.registry.connect(c.governor).setMaxFee(MAX_FEE_BPS);
        expect(await feeOfTerms(ethers.ZeroAddress)).to.equal(BigInt(GATEWAY_FEE_BPS));
      });
    });
  });

  describe("checkDeposit", function () {
    it("when its gateway is Active and in good standing → it passes, for every allowlisted token", async function () {
      const c = await loadFixture(baseFixture);
      await c.registry.checkDeposit(c.acceptor.address, c.usdtAddr);
      await c.registry.checkDeposit(c.acceptor.address, c.daiAddr);
    });

    it("when paused → it reverts RegistryPaused", async function () {
      const c = await loadFixture(pausedFixture);
      await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr)).to.be.revertedWithCustomError(
        c.registry,
        "RegistryPaused",
      );
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
      await expect(c.registry.checkDeposit(c.stranger.address, c.usdtAddr))
        .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
        .withArgs(c.stranger.address, AcceptorStatus.None);
      await expect(c.registry.checkDeposit(c.acceptor2.address, c.usdtAddr))
        .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
        .withArgs(c.acceptor2.address, AcceptorStatus.Pending);
      await c.registry.connect(c.governor).suspendAcceptor(c.acceptor.address);
      await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr))
        .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
        .withArgs(c.acceptor.address, AcceptorStatus.Suspended);
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
