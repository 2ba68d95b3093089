import { expect } from "chai";
import { ethers } from "hardhat";

import type { GatewayRegistry } from "../../../typechain-types";
import { AcceptorStatus, GATEWAY_FEE_CAP_BPS, GatewayStatus, loadFixture, METHOD_SEPA, USDT } from "../fixtures";
import {
  acceptorOf,
  baseFixture,
  Ctx,
  exitedFixture,
  itRevertsWrongStatus,
  METHOD_PIX,
  METHOD_UPI,
  methodEvents,
  pausedFixture,
  pendingAcceptorFixture,
  registerGateway,
  suspendedAcceptorFixture,
  suspendedFixture,
  twoGatewaysFixture,
} from "./shared";

describe("GatewayRegistry: acceptors", function () {
  /*------------------------------------------------------------
                          registerAcceptor
  ------------------------------------------------------------*/
  describe("registerAcceptor", function () {
    describe("validations", function () {
      it("reverts RegistryPaused while paused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(
          c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, ethers.ZeroAddress),
        ).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
      });

      it("reverts RegistryAcceptorWrongStatus for an account already registered (Active)", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.acceptor).registerAcceptor(c.gateway.address, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor.address, AcceptorStatus.Active);
      });

      it("reverts RegistryAcceptorWrongStatus for an account registering twice (Pending), even under another gateway", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await registerGateway(c, c.gateway2);
        await c.registry.connect(c.governor).approveGateway(c.gateway2.address, 300);
        await expect(c.registry.connect(c.acceptor2).registerAcceptor(c.gateway2.address, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor2.address, AcceptorStatus.Pending);
      });

      it("reverts RegistryAcceptorWrongStatus for a suspended acceptor", async function () {
        const c = await loadFixture(suspendedAcceptorFixture);
        await expect(c.registry.connect(c.acceptor).registerAcceptor(c.gateway.address, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor.address, AcceptorStatus.Suspended);
      });

      itRevertsWrongStatus(
        ["None", "Pending", "Exiting", "Exited", "Pending, suspended", "Exiting, suspended"],
        "gateway",
        (c, gw) => c.registry.connect(c.acceptor2).registerAcceptor(gw.address, ethers.ZeroAddress),
      );

      it("when the gateway is Active but suspended → it reverts RegistryGatewaySuspended", async function () {
        const c = await loadFixture(suspendedFixture);
        await expect(c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
          .withArgs(c.gateway.address);
        expect(await c.registry.acceptorCount()).to.equal(1n);
      });

      it("an acceptor whose gateway has exited can neither deposit nor register again under another gateway", async function () {
        const c = await loadFixture(exitedFixture);
        await registerGateway(c, c.gateway2);
        await c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY_FEE_CAP_BPS);
        await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(c.gateway.address, GatewayStatus.Exited);
        await expect(c.registry.connect(c.acceptor).registerAcceptor(c.gateway2.address, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor.address, AcceptorStatus.Active);
      });
    });

    describe("effects and events", function () {
      it("records a pending acceptor and emits AcceptorRegistered", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, c.delegate.address))
          .to.emit(c.registry, "AcceptorRegistered")
          .withArgs(c.acceptor2.address, c.gateway.address, c.delegate.address);
        expect(await acceptorOf(c.registry, c.acceptor2.address)).to.deep.equal({
          gateway: c.gateway.address,
          status: BigInt(AcceptorStatus.Pending),
          lockDelegate: c.delegate.address,
        });
      });

      it("accepts a zero lock delegate", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, ethers.ZeroAddress))
          .to.emit(c.registry, "AcceptorRegistered")
          .withArgs(c.acceptor2.address, c.gateway.address, ethers.ZeroAddress);
        expect((await c.registry.getAcceptor(c.acceptor2.address)).lockDelegate).to.equal(ethers.ZeroAddress);
      });

      it("appends the acceptor to the list", async function () {
        const c = await loadFixture(baseFixture);
        expect(await c.registry.acceptorCount()).to.equal(1n);
        await c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, ethers.ZeroAddress);
        await c.registry.connect(c.stranger).registerAcceptor(c.gateway.address, ethers.ZeroAddress);
        expect(await c.registry.acceptorCount()).to.equal(3n);
        expect(await c.registry.acceptorAt(0)).to.equal(c.acceptor.address);
        expect(await c.registry.acceptorAt(1)).to.equal(c.acceptor2.address);
        expect(await c.registry.acceptorAt(2)).to.equal(c.stranger.address);
      });
    });
  });

  /*------------------------------------------------------------
                          approveAcceptor
  ------------------------------------------------------------*/
  describe("approveAcceptor", function () {
    describe("validations", function () {
      it("reverts RegistryAcceptorWrongStatus for an unregistered account", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.gateway).approveAcceptor(c.stranger.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.stranger.address, AcceptorStatus.None);
      });

      it("reverts RegistryAcceptorWrongStatus for an active acceptor", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.gateway).approveAcceptor(c.acceptor.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor.address, AcceptorStatus.Active);
      });

      it("reverts RegistryAcceptorWrongStatus for a suspended acceptor", async function () {
        const c = await loadFixture(suspendedAcceptorFixture);
        await expect(c.registry.connect(c.gateway).approveAcceptor(c.acceptor.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor.address, AcceptorStatus.Suspended);
      });

      it("reverts RegistryNotAcceptorGateway for anyone but its gateway, the governor included", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await registerGateway(c, c.gateway2);
        await c.registry.connect(c.governor).approveGateway(c.gateway2.address, 300);
        for (const s of [c.gateway2, c.governor, c.admin, c.acceptor2, c.other]) {
          await expect(c.registry.connect(s).approveAcceptor(c.acceptor2.address))
            .to.be.revertedWithCustomError(c.registry, "RegistryNotAcceptorGateway")
            .withArgs(c.acceptor2.address, s.address);
        }
      });

      it("when its gateway is Active but suspended → it reverts RegistryGatewaySuspended", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
        await expect(c.registry.connect(c.gateway).approveAcceptor(c.acceptor2.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
          .withArgs(c.gateway.address);
        expect((await c.registry.getAcceptor(c.acceptor2.address)).status).to.equal(BigInt(AcceptorStatus.Pending));
      });

      it("when its gateway is Exiting (suspended or not) → it reverts RegistryGatewayWrongStatus", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await c.registry.connect(c.gateway).requestExit();
        await expect(c.registry.connect(c.gateway).approveAcceptor(c.acceptor2.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(c.gateway.address, GatewayStatus.Exiting);
        await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
        await expect(c.registry.connect(c.gateway).approveAcceptor(c.acceptor2.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(c.gateway.address, GatewayStatus.Exiting);
      });
    });

    describe("effects and events", function () {
      it("activates the acceptor and emits AcceptorApproved", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await expect(c.registry.connect(c.gateway).approveAcceptor(c.acceptor2.address))
          .to.emit(c.registry, "AcceptorApproved")
          .withArgs(c.acceptor2.address, c.gateway.address);
        expect(await acceptorOf(c.registry, c.acceptor2.address)).to.deep.equal({
          gateway: c.gateway.address,
          status: BigInt(AcceptorStatus.Active),
          lockDelegate: c.delegate.address,
        });
        await c.registry.checkDeposit(c.acceptor2.address, c.usdtAddr);
      });
    });
  });

  /*------------------------------------------------------------
                 suspendAcceptor / reinstateAcceptor
  ------------------------------------------------------------*/
  describe("suspendAcceptor", function () {
    describe("validations", function () {
      it("reverts RegistryNotAcceptorGateway for anyone but its gateway or a governor", async function () {
        const c = await loadFixture(twoGatewaysFixture);
        for (const s of [c.gateway2, c.admin, c.pauser, c.arbiter, c.acceptor, c.acceptor2, c.delegate, c.other]) {
          await expect(c.registry.connect(s).suspendAcceptor(c.acceptor.address))
            .to.be.revertedWithCustomError(c.registry, "RegistryNotAcceptorGateway")
            .withArgs(c.acceptor.address, s.address);
        }
      });

      it("reverts RegistryNotAcceptorGateway for a non-governor naming an unregistered account", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.gateway).suspendAcceptor(c.stranger.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryNotAcceptorGateway")
          .withArgs(c.stranger.address, c.gateway.address);
      });

      it("reverts RegistryAcceptorWrongStatus for an unregistered account (governor)", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.governor).suspendAcceptor(c.stranger.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.stranger.address, AcceptorStatus.None);
      });

      it("reverts RegistryAcceptorWrongStatus for a pending acceptor", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await expect(c.registry.connect(c.gateway).suspendAcceptor(c.acceptor2.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor2.address, AcceptorStatus.Pending);
      });

      it("reverts RegistryAcceptorWrongStatus for an acceptor already suspended", async function () {
        const c = await loadFixture(suspendedAcceptorFixture);
        await expect(c.registry.connect(c.governor).suspendAcceptor(c.acceptor.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor.address, AcceptorStatus.Suspended);
      });
    });

    describe("effects and events", function () {
      for (const by of ["gateway", "governor"] as const) {
        it(`suspends an active acceptor by its ${by} and emits AcceptorSuspended(acceptor, ${by})`, async function () {
          const c = await loadFixture(baseFixture);
          const caller = c[by];
          await expect(c.registry.connect(caller).suspendAcceptor(c.acceptor.address))
            .to.emit(c.registry, "AcceptorSuspended")
            .withArgs(c.acceptor.address, caller.address);
          expect(await acceptorOf(c.registry, c.acceptor.address)).to.deep.equal({
            gateway: c.gateway.address,
            status: BigInt(AcceptorStatus.Suspended),
            lockDelegate: c.delegate.address,
          });
          await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr))
            .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
            .withArgs(c.acceptor.address, AcceptorStatus.Suspended);
          await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true))
            .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
            .withArgs(c.acceptor.address, AcceptorStatus.Suspended);
        });
      }

      it("lets the governor suspend an acceptor whose gateway is suspended", async function () {
        const c = await loadFixture(suspendedFixture);
        await expect(c.registry.connect(c.governor).suspendAcceptor(c.acceptor.address))
          .to.emit(c.registry, "AcceptorSuspended")
          .withArgs(c.acceptor.address, c.governor.address);
      });
    });
  });

  describe("reinstateAcceptor", function () {
    describe("validations", function () {
      it("reverts RegistryNotAcceptorGateway for anyone but its gateway or a governor", async function () {
        const c = await loadFixture(suspendedAcceptorFixture);
        await registerGateway(c, c.gateway2);
        await c.registry.connect(c.governor).approveGateway(c.gateway2.address, 300);
        for (const s of [c.gateway2, c.admin, c.pauser, c.arbiter, c.acceptor, c.delegate, c.other]) {
          await expect(c.registry.connect(s).reinstateAcceptor(c.acceptor.address))
            .to.be.revertedWithCustomError(c.registry, "RegistryNotAcceptorGateway")
            .withArgs(c.acceptor.address, s.address);
        }
      });

      it("reverts RegistryAcceptorWrongStatus for an unregistered account (governor)", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.governor).reinstateAcceptor(c.stranger.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.stranger.address, AcceptorStatus.None);
      });

      it("reverts RegistryAcceptorWrongStatus for a pending acceptor", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await expect(c.registry.connect(c.gateway).reinstateAcceptor(c.acceptor2.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor2.address, AcceptorStatus.Pending);
      });

      it("reverts RegistryAcceptorWrongStatus for an active acceptor", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.governor).reinstateAcceptor(c.acceptor.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor.address, AcceptorStatus.Active);
      });

      it("when its gateway is Active but suspended → it reverts RegistryGatewaySuspended, for gateway and governor alike", async function () {
        const c = await loadFixture(suspendedAcceptorFixture);
        await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
        for (const s of [c.gateway, c.governor]) {
          await expect(c.registry.connect(s).reinstateAcceptor(c.acceptor.address))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
            .withArgs(c.gateway.address);
        }
      });

      it("when its gateway is Exiting → it reverts RegistryGatewayWrongStatus, for gateway and governor alike", async function () {
        const c = await loadFixture(suspendedAcceptorFixture);
        await c.registry.connect(c.gateway).requestExit();
        for (const s of [c.gateway, c.governor]) {
          await expect(c.registry.connect(s).reinstateAcceptor(c.acceptor.address))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(c.gateway.address, GatewayStatus.Exiting);
        }
      });
    });

    describe("effects and events", function () {
      for (const by of ["gateway", "governor"] as const) {
        it(`reinstates a suspended acceptor by its ${by} and emits AcceptorReinstated(acceptor, ${by})`, async function () {
          const c = await loadFixture(suspendedAcceptorFixture);
          const caller = c[by];
          await expect(c.registry.connect(caller).reinstateAcceptor(c.acceptor.address))
            .to.emit(c.registry, "AcceptorReinstated")
            .withArgs(c.acceptor.address, caller.address);
          expect((await c.registry.getAcceptor(c.acceptor.address)).status).to.equal(BigInt(AcceptorStatus.Active));
          await c.registry.checkDeposit(c.acceptor.address, c.usdtAddr);
        });
      }
    });
  });

  /*------------------------------------------------------------
               acceptor settings (registered callers)
  ------------------------------------------------------------*/
  describe("acceptor settings require a registered caller", function () {
    const calls: { fn: string; call: (c: Ctx, r: GatewayRegistry) => Promise<unknown> }[] = [
      { fn: "setLockDelegate", call: (c, r) => r.setLockDelegate(c.delegate.address) },
      { fn: "setMethods", call: (_c, r) => r.setMethods([METHOD_PIX], []) },
      { fn: "setLimits", call: (c, r) => r.setLimits(c.usdtAddr, 1, 2) },
    ];
    for (const { fn, call } of calls) {
      it(`${fn} reverts RegistryAcceptorWrongStatus(caller, None) for unregistered callers, gateways included`, async function () {
        const c = await loadFixture(baseFixture);
        for (const s of [c.stranger, c.gateway, c.governor, c.delegate]) {
          await expect(call(c, c.registry.connect(s)))
            .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
            .withArgs(s.address, AcceptorStatus.None);
        }
      });
    }
  });

  describe("setLockDelegate", function () {
    it("sets the delegate, emits AcceptorLockDelegateSet, and dealTerms reports it", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.connect(c.acceptor).setLockDelegate(c.other.address))
        .to.emit(c.registry, "AcceptorLockDelegateSet")
        .withArgs(c.acceptor.address, c.other.address);
      expect((await c.registry.getAcceptor(c.acceptor.address)).lockDelegate).to.equal(c.other.address);
      expect(
        (await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true)).lockDelegate,
      ).to.equal(c.other.address);
    });

    it("removes the delegate with zero", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.connect(c.acceptor).setLockDelegate(ethers.ZeroAddress))
        .to.emit(c.registry, "AcceptorLockDelegateSet")
        .withArgs(c.acceptor.address, ethers.ZeroAddress);
      expect(
        (await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true)).lockDelegate,
      ).to.equal(ethers.ZeroAddress);
    });

    it("works for pending and suspended acceptors", async function () {
      const p = await loadFixture(pendingAcceptorFixture);
      await expect(p.registry.connect(p.acceptor2).setLockDelegate(p.other.address))
        .to.emit(p.registry, "AcceptorLockDelegateSet")
        .withArgs(p.acceptor2.address, p.other.address);
      const s = await loadFixture(suspendedAcceptorFixture);
      await expect(s.registry.connect(s.acceptor).setLockDelegate(s.other.address))
        .to.emit(s.registry, "AcceptorLockDelegateSet")
        .withArgs(s.acceptor.address, s.other.address);
      expect((await s.registry.getAcceptor(s.acceptor.address)).lockDelegate).to.equal(s.other.address);
    });
  });

  describe("setMethods", function () {
    it("adds new methods, emitting AcceptorMethodSet(acceptor, method, true) for each", async function () {
      const c = await loadFixture(baseFixture);
      const tx = await c.registry.connect(c.acceptor).setMethods([METHOD_PIX, METHOD_UPI], []);
      await expect(tx).to.emit(c.registry, "AcceptorMethodSet").withArgs(c.acceptor.address, METHOD_PIX, true);
      await expect(tx).to.emit(c.registry, "AcceptorMethodSet").withArgs(c.acceptor.address, METHOD_UPI, true);
      expect(await methodEvents(c.registry, tx)).to.deep.equal([
        [METHOD_PIX, true],
        [METHOD_UPI, true],
      ]);
      expect(await c.registry.methodsOf(c.acceptor.address)).to.deep.equal([METHOD_SEPA, METHOD_PIX, METHOD_UPI]);
      expect(await c.registry.supportsMethod(c.acceptor.address, METHOD_PIX)).to.equal(true);
      expect(await c.registry.supportsMethod(c.acceptor.address, METHOD_UPI)).to.equal(true);
    });

    it("emits nothing for a method already present or a duplicate in the same call", async function () {
      const c = await loadFixture(baseFixture);
      const tx = await c.registry.connect(c.acceptor).setMethods([METHOD_SEPA, METHOD_PIX, METHOD_PIX], []);
      expect(await methodEvents(c.registry, tx)).to.deep.equal([[METHOD_PIX, true]]);
      expect(await c.registry.methodsOf(c.acceptor.address)).to.deep.equal([METHOD_SEPA, METHOD_PIX]);
    });

    it("removes methods, emitting AcceptorMethodSet(acceptor, method, false) only for those present", async function () {
      const c = await loadFixture(baseFixture);
      const tx = await c.registry.connect(c.acceptor).setMethods([], [METHOD_UPI, METHOD_SEPA, METHOD_SEPA]);
      await expect(tx).to.emit(c.registry, "AcceptorMethodSet").withArgs(c.acceptor.address, METHOD_SEPA, false);
      expect(await methodEvents(c.registry, tx)).to.deep.equal([[METHOD_SEPA, false]]);
      expect(await c.registry.methodsOf(c.acceptor.address)).to.deep.equal([]);
      expect(await c.registry.supportsMethod(c.acceptor.address, METHOD_SEPA)).to.equal(false);
    });

    it("adds before it removes: a method in both lists ends up removed", async function () {
      const c = await loadFixture(baseFixture);
      const tx = await c.registry.connect(c.acceptor).setMethods([METHOD_PIX], [METHOD_PIX, METHOD_SEPA]);
      expect(await methodEvents(c.registry, tx)).to.deep.equal([
        [METHOD_PIX, true],
        [METHOD_PIX, false],
        [METHOD_SEPA, false],
      ]);
      expect(await c.registry.methodsOf(c.acceptor.address)).to.deep.equal([]);
    });

    it("emits nothing for empty lists", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.connect(c.acceptor).setMethods([], [])).to.not.emit(c.registry, "AcceptorMethodSet");
      expect(await c.registry.methodsOf(c.acceptor.address)).to.deep.equal([METHOD_SEPA]);
    });

    it("works for pending and suspended acceptors, and keeps acceptors' sets apart", async function () {
      const c = await loadFixture(pendingAcceptorFixture);
      await expect(c.registry.connect(c.acceptor2).setMethods([METHOD_UPI], []))
        .to.emit(c.registry, "AcceptorMethodSet")
        .withArgs(c.acceptor2.address, METHOD_UPI, true);
      await c.registry.connect(c.gateway).approveAcceptor(c.acceptor2.address);
      await c.registry.connect(c.gateway).suspendAcceptor(c.acceptor2.address);
      await expect(c.registry.connect(c.acceptor2).setMethods([METHOD_PIX], [METHOD_UPI]))
        .to.emit(c.registry, "AcceptorMethodSet")
        .withArgs(c.acceptor2.address, METHOD_UPI, false);
      expect(await c.registry.methodsOf(c.acceptor2.address)).to.deep.equal([METHOD_PIX]);
      expect(await c.registry.methodsOf(c.acceptor.address)).to.deep.equal([METHOD_SEPA]);
      expect(await c.registry.supportsMethod(c.acceptor.address, METHOD_PIX)).to.equal(false);
      expect(await c.registry.methodsOf(c.stranger.address)).to.deep.equal([]);
    });
  });

  describe("setLimits", function () {
    describe("validations", function () {
      it("reverts RegistryInvalidLimits for a zero maximum", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.acceptor).setLimits(c.usdtAddr, 0, 0))
          .to.be.revertedWithCustomError(c.registry, "RegistryInvalidLimits")
          .withArgs(0, 0);
      });

      it("reverts RegistryInvalidLimits for a minimum above the maximum", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.acceptor).setLimits(c.usdtAddr, USDT(11), USDT(10)))
          .to.be.revertedWithCustomError(c.registry, "RegistryInvalidLimits")
          .withArgs(USDT(11), USDT(10));
      });
    });

    describe("effects and events", function () {
      it("overwrites the limits for one token, emits AcceptorLimitsSet, and dealTerms reports them", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.acceptor).setLimits(c.usdtAddr, USDT(50), USDT(900)))
          .to.emit(c.registry, "AcceptorLimitsSet")
          .withArgs(c.acceptor.address, c.usdtAddr, USDT(50), USDT(900));
        const l = await c.registry.limitsOf(c.acceptor.address, c.usdtAddr);
        expect([l.minAmount, l.maxAmount]).to.deep.equal([USDT(50), USDT(900)]);
        const other = await c.registry.limitsOf(c.acceptor.address, c.daiAddr);
        expect([other.minAmount, other.maxAmount]).to.deep.equal([ethers.parseEther("10"), ethers.parseEther("50000")]);
        const t = await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, false);
        expect([t.minAmount, t.maxAmount]).to.deep.equal([USDT(50), USDT(900)]);
      });

      it("accepts a zero minimum, equal bounds and the largest uint96", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.acceptor).setLimits(c.usdtAddr, 0, 1))
          .to.emit(c.registry, "AcceptorLimitsSet")
          .withArgs(c.acceptor.address, c.usdtAddr, 0, 1);
        await expect(c.registry.connect(c.acceptor).setLimits(c.usdtAddr, USDT(5), USDT(5)))
          .to.emit(c.registry, "AcceptorLimitsSet")
          .withArgs(c.acceptor.address, c.usdtAddr, USDT(5), USDT(5));
        const max = 2n ** 96n - 1n;
        await expect(c.registry.connect(c.acceptor).setLimits(c.usdtAddr, max, max))
          .to.emit(c.registry, "AcceptorLimitsSet")
          .withArgs(c.acceptor.address, c.usdtAddr, max, max);
        const l = await c.registry.limitsOf(c.acceptor.address, c.usdtAddr);
        expect([l.minAmount, l.maxAmount]).to.deep.equal([max, max]);
      });

      it("accepts a token that is not allowlisted, and pending acceptors", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await expect(c.registry.connect(c.acceptor2).setLimits(c.stranger.address, 1, 2))
          .to.emit(c.registry, "AcceptorLimitsSet")
          .withArgs(c.acceptor2.address, c.stranger.address, 1, 2);
        const l = await c.registry.limitsOf(c.acceptor2.address, c.stranger.address);
        expect([l.minAmount, l.maxAmount]).to.deep.equal([1n, 2n]);
      });
    });
  });

  /*------------------------------------------------------------
        open acceptor registration (a documented decision)
  ------------------------------------------------------------*/
  describe("open acceptor registration", function () {
    it("anyone can register any number of accounts as Pending; none gets anything from dealTerms or checkDeposit until its gateway approves it", async function () {
      const c = await loadFixture(baseFixture);
      const crowd = [c.acceptor2, c.stranger, ...c.spare];
      expect(crowd.length).to.be.greaterThanOrEqual(5);
      for (const [i, s] of crowd.entries()) {
        await expect(c.registry.connect(s).registerAcceptor(c.gateway.address, c.other.address))
          .to.emit(c.registry, "AcceptorRegistered")
          .withArgs(s.address, c.gateway.address, c.other.address);
        await c.registry.connect(s).setLimits(c.usdtAddr, 1, USDT(1_000_000));
        expect(await c.registry.acceptorAt(i + 1)).to.equal(s.address);
      }
      expect(await c.registry.acceptorCount()).to.equal(BigInt(crowd.length + 1));
      for (const s of crowd) {
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, s.address, true))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(s.address, AcceptorStatus.Pending);
        await expect(c.registry.checkDeposit(s.address, c.usdtAddr))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(s.address, AcceptorStatus.Pending);
      }
      // The gateway's approval is the gate: the one it approves is served, the rest still are not.
      await c.registry.connect(c.gateway).approveAcceptor(crowd[0].address);
      await c.registry.checkDeposit(crowd[0].address, c.usdtAddr);
      const t = await c.registry.dealTerms(c.gateway.address, c.usdtAddr, crowd[0].address, true);
      expect([t.lockDelegate, t.maxAmount]).to.deep.equal([c.other.address, USDT(1_000_000)]);
      await expect(c.registry.checkDeposit(crowd[1].address, c.usdtAddr))
        .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
        .withArgs(crowd[1].address, AcceptorStatus.Pending);
    });
  });
});
