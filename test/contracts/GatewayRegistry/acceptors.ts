import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { ethers } from "hardhat";

import type { GatewayRegistry } from "../../../typechain-types";
import { AcceptorStatus, GATEWAY_FEE_CAP_BPS, GatewayStatus, loadFixture, METHOD_SEPA, USDT } from "../fixtures";
import { acceptorOf, baseFixture, type Ctx, exitedFixture, extend, itRevertsAcceptorWrongStatus } from "./shared";
import { itRevertsWhenPaused, itRevertsWrongStatus, pendingAcceptorFixture, pendingFixture } from "./shared";
import { registerGateway, suspendedAcceptorFixture, suspendedFixture, twoGatewaysFixture } from "./shared";

const METHOD_PIX = ethers.id("PIX:BRL");
const METHOD_UPI = ethers.id("UPI:INR");

/** The (method, supported) pairs of every AcceptorMethodSet event emitted by `tx`, in order. */
async function methodEvents(registry: GatewayRegistry, tx: ContractTransactionResponse): Promise<[string, boolean][]> {
  const receipt = await tx.wait();
  const out: [string, boolean][] = [];
  for (const log of receipt!.logs) {
    const parsed = registry.interface.parseLog(log);
    if (parsed?.name === "AcceptorMethodSet") out.push([parsed.args.method, parsed.args.supported]);
  }
  return out;
}

/** gateway2 Active beside the fixture gateway; acceptor2 registered under the fixture gateway, awaiting approval. */
const pendingBesideTwoGatewaysFixture = extend(pendingFixture, async (c) => {
  await c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY_FEE_CAP_BPS);
  await c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, c.delegate.address);
});

/** twoGatewaysFixture with the fixture acceptor suspended by its gateway. */
const suspendedBesideTwoGatewaysFixture = extend(twoGatewaysFixture, (c) =>
  c.registry.connect(c.gateway).suspendAcceptor(c.acceptor.address),
);

/**
 * One test: `fn` about the fixture's `acc` reverts RegistryNotAcceptorGateway(acc, caller) for every caller but the
 * acceptor's own gateway: another Active gateway, the other roles, the acceptors, the delegate, a stranger, and the
 * governor too unless `governors` may act.
 */
function itRefusesAllButItsGateway(
  fn: "approveAcceptor" | "suspendAcceptor" | "reinstateAcceptor",
  fixture: () => Promise<Ctx>,
  acc: "acceptor" | "acceptor2",
  governors: boolean,
): void {
  const who = governors ? "neither its gateway nor a governor" : "not its gateway (the governor included)";
  it(`when the caller is ${who} → it reverts RegistryNotAcceptorGateway`, async function () {
    const c = await loadFixture(fixture);
    const others = [c.gateway2, c.admin, c.pauser, c.arbiter, c.acceptor, c.acceptor2, c.delegate, c.other];
    for (const s of governors ? others : [c.governor, ...others]) {
      await expect(c.registry.connect(s)[fn](c[acc].address))
        .to.be.revertedWithCustomError(c.registry, "RegistryNotAcceptorGateway")
        .withArgs(c[acc].address, s.address);
    }
  });
}

/** One test: `call` by an account that never registered as an acceptor reverts RegistryAcceptorWrongStatus(it, None). */
function itRequiresRegisteredAcceptor(call: (c: Ctx, r: GatewayRegistry) => Promise<unknown>): void {
  it("when the caller is no registered acceptor (gateways, governor and delegates included) → it reverts RegistryAcceptorWrongStatus(caller, None)", async function () {
    const c = await loadFixture(baseFixture);
    for (const s of [c.stranger, c.gateway, c.governor, c.delegate]) {
      await expect(call(c, c.registry.connect(s)))
        .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
        .withArgs(s.address, AcceptorStatus.None);
    }
  });
}

describe("GatewayRegistry: acceptors", function () {
  /*------------------------------------------------------------
                          registerAcceptor
  ------------------------------------------------------------*/
  describe("registerAcceptor", function () {
    describe("validations", function () {
      itRevertsWhenPaused((c) =>
        c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, ethers.ZeroAddress),
      );
      itRevertsWhenPaused(
        (c) => c.registry.connect(c.acceptor).registerAcceptor(c.stranger.address, ethers.ZeroAddress),
        "an acceptor already registered, naming an unknown gateway",
      );

      itRevertsAcceptorWrongStatus(
        ["Active", "Pending", "Suspended"],
        "the caller (registering again, under another Active gateway)",
        async (c, acc) => {
          await registerGateway(c, c.gateway2);
          await c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY_FEE_CAP_BPS);
          return c.registry.connect(acc).registerAcceptor(c.gateway2.address, ethers.ZeroAddress);
        },
      );

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

      it("when the acceptor's gateway has exited → it can neither deposit nor register again under another gateway", async function () {
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
      for (const delegate of ["delegate", "none"] as const) {
        it(`when every check passes (lock delegate: ${delegate}) → Pending under the gateway with that delegate; AcceptorRegistered`, async function () {
          const c = await loadFixture(baseFixture);
          const lockDelegate = delegate === "none" ? ethers.ZeroAddress : c.delegate.address;
          await expect(c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, lockDelegate))
            .to.emit(c.registry, "AcceptorRegistered")
            .withArgs(c.acceptor2.address, c.gateway.address, lockDelegate);
          expect(await acceptorOf(c.registry, c.acceptor2.address)).to.deep.equal({
            gateway: c.gateway.address,
            status: BigInt(AcceptorStatus.Pending),
            lockDelegate,
          });
        });
      }

      it("when it registers → it is appended to the acceptor list", async function () {
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
      itRevertsAcceptorWrongStatus(["None", "Active", "Suspended"], "the acceptor", (c, acc) =>
        c.registry.connect(c.gateway).approveAcceptor(acc.address),
      );

      itRefusesAllButItsGateway("approveAcceptor", pendingBesideTwoGatewaysFixture, "acceptor2", false);

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
        for (const sanction of [false, true]) {
          if (sanction) await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
          await expect(c.registry.connect(c.gateway).approveAcceptor(c.acceptor2.address))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(c.gateway.address, GatewayStatus.Exiting);
        }
      });
    });

    describe("effects and events", function () {
      it("when its gateway approves a Pending acceptor → Active: it may deposit; AcceptorApproved", async function () {
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
      itRefusesAllButItsGateway("suspendAcceptor", twoGatewaysFixture, "acceptor", true);

      it("when a non-governor names an unregistered account → it reverts RegistryNotAcceptorGateway (the caller is checked first)", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.gateway).suspendAcceptor(c.stranger.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryNotAcceptorGateway")
          .withArgs(c.stranger.address, c.gateway.address);
      });

      itRevertsAcceptorWrongStatus(["None", "Pending", "Suspended"], "the acceptor (the governor asking)", (c, acc) =>
        c.registry.connect(c.governor).suspendAcceptor(acc.address),
      );
    });

    describe("effects and events", function () {
      for (const by of ["gateway", "governor"] as const) {
        it(`when its ${by} suspends an Active acceptor → Suspended: no deposit, no deal; AcceptorSuspended(acceptor, ${by})`, async function () {
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
          for (const view of [
            c.registry.checkDeposit(c.acceptor.address, c.usdtAddr),
            c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true),
          ]) {
            await expect(view)
              .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
              .withArgs(c.acceptor.address, AcceptorStatus.Suspended);
          }
        });
      }

      it("when its gateway is suspended → the governor suspends it all the same", async function () {
        const c = await loadFixture(suspendedFixture);
        await expect(c.registry.connect(c.governor).suspendAcceptor(c.acceptor.address))
          .to.emit(c.registry, "AcceptorSuspended")
          .withArgs(c.acceptor.address, c.governor.address);
      });
    });
  });

  describe("reinstateAcceptor", function () {
    describe("validations", function () {
      itRefusesAllButItsGateway("reinstateAcceptor", suspendedBesideTwoGatewaysFixture, "acceptor", true);

      itRevertsAcceptorWrongStatus(["None", "Pending", "Active"], "the acceptor (the governor asking)", (c, acc) =>
        c.registry.connect(c.governor).reinstateAcceptor(acc.address),
      );

      for (const [standing, error] of [
        ["Active but suspended", "RegistryGatewaySuspended"],
        ["Exiting", "RegistryGatewayWrongStatus"],
      ] as const) {
        it(`when its gateway is ${standing} → it reverts ${error}, for gateway and governor alike`, async function () {
          const c = await loadFixture(suspendedAcceptorFixture);
          if (error === "RegistryGatewaySuspended") {
            await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
          } else {
            await c.registry.connect(c.gateway).requestExit();
          }
          const args = error === "RegistryGatewaySuspended" ? [] : [GatewayStatus.Exiting];
          for (const s of [c.gateway, c.governor]) {
            await expect(c.registry.connect(s).reinstateAcceptor(c.acceptor.address))
              .to.be.revertedWithCustomError(c.registry, error)
              .withArgs(c.gateway.address, ...args);
          }
        });
      }
    });

    describe("effects and events", function () {
      for (const by of ["gateway", "governor"] as const) {
        it(`when its ${by} reinstates a Suspended acceptor → Active: it may deposit again; AcceptorReinstated(acceptor, ${by})`, async function () {
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
           acceptor settings (any registered acceptor)
  ------------------------------------------------------------*/
  describe("setLockDelegate", function () {
    itRequiresRegisteredAcceptor((c, r) => r.setLockDelegate(c.delegate.address));

    for (const to of ["another account", "zero (removed)"] as const) {
      it(`when the delegate is ${to} → stored, and dealTerms reports it; AcceptorLockDelegateSet`, async function () {
        const c = await loadFixture(baseFixture);
        const delegate = to === "another account" ? c.other.address : ethers.ZeroAddress;
        await expect(c.registry.connect(c.acceptor).setLockDelegate(delegate))
          .to.emit(c.registry, "AcceptorLockDelegateSet")
          .withArgs(c.acceptor.address, delegate);
        expect((await c.registry.getAcceptor(c.acceptor.address)).lockDelegate).to.equal(delegate);
        const terms = await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true);
        expect(terms.lockDelegate).to.equal(delegate);
      });
    }

    it("when the acceptor is Pending or Suspended → it sets it all the same", async function () {
      for (const [fixture, who] of [
        [pendingAcceptorFixture, "acceptor2"],
        [suspendedAcceptorFixture, "acceptor"],
      ] as const) {
        const c = await loadFixture(fixture);
        await expect(c.registry.connect(c[who]).setLockDelegate(c.other.address))
          .to.emit(c.registry, "AcceptorLockDelegateSet")
          .withArgs(c[who].address, c.other.address);
        expect((await c.registry.getAcceptor(c[who].address)).lockDelegate).to.equal(c.other.address);
      }
    });
  });

  describe("setMethods", function () {
    itRequiresRegisteredAcceptor((_c, r) => r.setMethods([METHOD_PIX], []));

    it("when methods are added → each new one stored; AcceptorMethodSet(acceptor, method, true) for each", async function () {
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

    it("when an added method is present already or repeated in the call → no second entry, no second event", async function () {
      const c = await loadFixture(baseFixture);
      const tx = await c.registry.connect(c.acceptor).setMethods([METHOD_SEPA, METHOD_PIX, METHOD_PIX], []);
      expect(await methodEvents(c.registry, tx)).to.deep.equal([[METHOD_PIX, true]]);
      expect(await c.registry.methodsOf(c.acceptor.address)).to.deep.equal([METHOD_SEPA, METHOD_PIX]);
    });

    it("when methods are removed → those present go; AcceptorMethodSet(acceptor, method, false) for them only", async function () {
      const c = await loadFixture(baseFixture);
      const tx = await c.registry.connect(c.acceptor).setMethods([], [METHOD_UPI, METHOD_SEPA, METHOD_SEPA]);
      await expect(tx).to.emit(c.registry, "AcceptorMethodSet").withArgs(c.acceptor.address, METHOD_SEPA, false);
      expect(await methodEvents(c.registry, tx)).to.deep.equal([[METHOD_SEPA, false]]);
      expect(await c.registry.methodsOf(c.acceptor.address)).to.deep.equal([]);
      expect(await c.registry.supportsMethod(c.acceptor.address, METHOD_SEPA)).to.equal(false);
    });

    it("when a method is in both lists → added first, then removed: it ends up removed", async function () {
      const c = await loadFixture(baseFixture);
      const tx = await c.registry.connect(c.acceptor).setMethods([METHOD_PIX], [METHOD_PIX, METHOD_SEPA]);
      expect(await methodEvents(c.registry, tx)).to.deep.equal([
        [METHOD_PIX, true],
        [METHOD_PIX, false],
        [METHOD_SEPA, false],
      ]);
      expect(await c.registry.methodsOf(c.acceptor.address)).to.deep.equal([]);
    });

    it("when both lists are empty → nothing changes; no event", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.connect(c.acceptor).setMethods([], [])).to.not.emit(c.registry, "AcceptorMethodSet");
      expect(await c.registry.methodsOf(c.acceptor.address)).to.deep.equal([METHOD_SEPA]);
    });

    it("when the acceptor is Pending or Suspended → it works all the same; each acceptor keeps its own set", async function () {
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
    /** The acceptor's limits for `token` as [min, max]. */
    async function limitsOf(c: Ctx, acc: string, token: string): Promise<bigint[]> {
      const l = await c.registry.limitsOf(acc, token);
      return [l.minAmount, l.maxAmount];
    }

    describe("validations", function () {
      itRequiresRegisteredAcceptor((c, r) => r.setLimits(c.usdtAddr, 1, 2));

      for (const [what, min, max] of [
        ["the maximum is zero", 0n, 0n],
        ["the minimum is above the maximum", USDT(11), USDT(10)],
      ] as const) {
        it(`when ${what} → it reverts RegistryInvalidLimits(min, max)`, async function () {
          const c = await loadFixture(baseFixture);
          await expect(c.registry.connect(c.acceptor).setLimits(c.usdtAddr, min, max))
            .to.be.revertedWithCustomError(c.registry, "RegistryInvalidLimits")
            .withArgs(min, max);
        });
      }
    });

    describe("effects and events", function () {
      it("when 0 < max and min <= max → the token's limits replaced, other tokens' kept, dealTerms reports them; AcceptorLimitsSet", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.acceptor).setLimits(c.usdtAddr, USDT(50), USDT(900)))
          .to.emit(c.registry, "AcceptorLimitsSet")
          .withArgs(c.acceptor.address, c.usdtAddr, USDT(50), USDT(900));
        expect(await limitsOf(c, c.acceptor.address, c.usdtAddr)).to.deep.equal([USDT(50), USDT(900)]);
        expect(await limitsOf(c, c.acceptor.address, c.daiAddr)).to.deep.equal([
          ethers.parseEther("10"),
          ethers.parseEther("50000"),
        ]);
        const t = await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, false);
        expect([t.minAmount, t.maxAmount]).to.deep.equal([USDT(50), USDT(900)]);
      });

      it("when the minimum is zero, the bounds are equal, or both are the largest uint96 → stored", async function () {
        const c = await loadFixture(baseFixture);
        const top = 2n ** 96n - 1n;
        for (const [min, max] of [
          [0n, 1n],
          [USDT(5), USDT(5)],
          [top, top],
        ]) {
          await expect(c.registry.connect(c.acceptor).setLimits(c.usdtAddr, min, max))
            .to.emit(c.registry, "AcceptorLimitsSet")
            .withArgs(c.acceptor.address, c.usdtAddr, min, max);
          expect(await limitsOf(c, c.acceptor.address, c.usdtAddr)).to.deep.equal([min, max]);
        }
      });

      it("when the token is not allowlisted, or the acceptor Pending → stored all the same", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await expect(c.registry.connect(c.acceptor2).setLimits(c.stranger.address, 1, 2))
          .to.emit(c.registry, "AcceptorLimitsSet")
          .withArgs(c.acceptor2.address, c.stranger.address, 1, 2);
        expect(await limitsOf(c, c.acceptor2.address, c.stranger.address)).to.deep.equal([1n, 2n]);
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
        for (const view of [
          c.registry.dealTerms(c.gateway.address, c.usdtAddr, s.address, true),
          c.registry.checkDeposit(s.address, c.usdtAddr),
        ]) {
          await expect(view)
            .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
            .withArgs(s.address, AcceptorStatus.Pending);
        }
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
