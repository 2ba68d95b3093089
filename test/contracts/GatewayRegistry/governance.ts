import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { expect } from "chai";
import { ethers } from "hardhat";

import { AcceptorStatus, DAY, depositFloat, disputedDeal, feeOf, GATEWAY_FEE_BPS } from "../fixtures";
import { GATEWAY_FEE_CAP_BPS, GatewayStatus, loadFixture, makeDeal, MAX_FEE_BPS, METHOD_SEPA } from "../fixtures";
import { MIN_BOND, MIN_UNBONDING_DELAY, openDeal, RESOLUTION_WINDOW, Status, UNBONDING_DELAY, USDT } from "../fixtures";
import { addBond, baseFixture, type Ctx, exitingFixture, expectExitPays, expectExitRefused } from "./shared";
import { expectNotHeld, expectSanctioned, FIXTURE_GATEWAY, gatewayIn, gatewayOf, holdDispute } from "./shared";
import { itIsBoundedSetter, itRefusesReentry, itRequiresRole, itRevertsWrongStatus, MAX_FEE_LIMIT_BPS } from "./shared";
import { MAX_UNBONDING_DELAY, META, minedAt, pausedFixture, pendingAcceptorFixture, pendingFixture } from "./shared";
import { registerGateway, requestExit, type Role, SUSPENDED_STATES, suspendedExitingFixture } from "./shared";
import { suspendedFixture, suspendedPendingFixture } from "./shared";

const REASONS = ethers.id("ruling reasons");

/** The constructor's six parameters, each overridable, with the fixture's values as defaults. */
type DeployParams = {
  admin: string;
  token: string;
  minBond: bigint | number;
  maxFee: number;
  delay: number;
  floor: number;
};

/** A GatewayRegistry factory and a bond token, with `deploy(over)` taking the fixture's parameters by default. */
async function deployArgs() {
  const [deployer, admin] = await ethers.getSigners();
  const factory = (await ethers.getContractFactory("GatewayRegistry")).connect(deployer);
  const token = await (await ethers.getContractFactory("TestUSDT")).deploy();
  const tokenAddr = await token.getAddress();
  const deploy = (over: Partial<DeployParams> = {}) => {
    const defaults = { admin: admin.address, token: tokenAddr, minBond: MIN_BOND, maxFee: MAX_FEE_BPS };
    const p = { ...defaults, delay: UNBONDING_DELAY, floor: MIN_UNBONDING_DELAY, ...over };
    return factory.deploy(p.admin, p.token, p.minBond, p.maxFee, p.delay, p.floor);
  };
  return { deployer, admin, factory, tokenAddr, deploy };
}

describe("GatewayRegistry: governance", function () {
  /*------------------------------------------------------------
                           constructor
  ------------------------------------------------------------*/
  describe("constructor", function () {
    it("when the admin is the zero address → it reverts RegistryZeroAddress", async function () {
      const { factory, deploy } = await loadFixture(deployArgs);
      await expect(deploy({ admin: ethers.ZeroAddress })).to.be.revertedWithCustomError(factory, "RegistryZeroAddress");
    });

    it("when the bond token is the zero address → it reverts RegistryZeroAddress", async function () {
      const { factory, deploy } = await loadFixture(deployArgs);
      await expect(deploy({ token: ethers.ZeroAddress })).to.be.revertedWithCustomError(factory, "RegistryZeroAddress");
    });

    it("when the fee cap is above MAX_FEE_LIMIT_BPS → it reverts RegistryInvalidParameter(cap, MAX_FEE_LIMIT_BPS)", async function () {
      const { factory, deploy } = await loadFixture(deployArgs);
      await expect(deploy({ maxFee: MAX_FEE_LIMIT_BPS + 1 }))
        .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
        .withArgs(MAX_FEE_LIMIT_BPS + 1, MAX_FEE_LIMIT_BPS);
    });

    it("when the delay is above MAX_UNBONDING_DELAY → it reverts RegistryInvalidParameter(delay, MAX_UNBONDING_DELAY)", async function () {
      const { factory, deploy } = await loadFixture(deployArgs);
      await expect(deploy({ delay: MAX_UNBONDING_DELAY + 1 }))
        .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
        .withArgs(MAX_UNBONDING_DELAY + 1, MAX_UNBONDING_DELAY);
    });

    it("when the floor is above MAX_UNBONDING_DELAY → it reverts RegistryInvalidParameter(floor, MAX_UNBONDING_DELAY)", async function () {
      const { factory, deploy } = await loadFixture(deployArgs);
      await expect(deploy({ delay: MAX_UNBONDING_DELAY, floor: MAX_UNBONDING_DELAY + 1 }))
        .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
        .withArgs(MAX_UNBONDING_DELAY + 1, MAX_UNBONDING_DELAY);
    });

    it("when the initial delay is below the floor → it reverts RegistryInvalidParameter(delay, floor)", async function () {
      const { factory, deploy } = await loadFixture(deployArgs);
      for (const [delay, floor] of [
        [3 * DAY - 1, 3 * DAY],
        [0, 1],
      ]) {
        await expect(deploy({ delay, floor }))
          .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
          .withArgs(delay, floor);
      }
    });

    it("when the initial delay equals the floor → it deploys, and minUnbondingDelay() returns the floor", async function () {
      const { deploy } = await loadFixture(deployArgs);
      const registry = await deploy({ delay: 3 * DAY, floor: 3 * DAY });
      expect(await registry.unbondingDelay()).to.equal(BigInt(3 * DAY));
      expect(await registry.minUnbondingDelay()).to.equal(BigInt(3 * DAY));
    });

    it("when every parameter is at its limit, or zero → it deploys with them", async function () {
      const { deploy } = await loadFixture(deployArgs);
      const top = 2n ** 96n - 1n;
      const limits = {
        minBond: top,
        maxFee: MAX_FEE_LIMIT_BPS,
        delay: MAX_UNBONDING_DELAY,
        floor: MAX_UNBONDING_DELAY,
      };
      for (const p of [limits, { minBond: 0, maxFee: 0, delay: 0, floor: 0 }]) {
        const registry = await deploy(p);
        expect(await registry.minBond()).to.equal(p.minBond);
        expect(await registry.maxFeeBps()).to.equal(p.maxFee);
        expect(await registry.unbondingDelay()).to.equal(p.delay);
        expect(await registry.minUnbondingDelay()).to.equal(p.floor);
      }
    });

    const params = { minBond: USDT(123), maxFee: 77, delay: 5 * DAY, floor: 2 * DAY };

    it("when it deploys → MinBondSet, MaxFeeSet, UnbondingDelaySet, and RoleGranted for the admin", async function () {
      const { admin, deployer, deploy } = await loadFixture(deployArgs);
      const registry = await deploy(params);
      const tx = registry.deploymentTransaction()!;
      await expect(tx).to.emit(registry, "MinBondSet").withArgs(USDT(123));
      await expect(tx).to.emit(registry, "MaxFeeSet").withArgs(77);
      await expect(tx)
        .to.emit(registry, "UnbondingDelaySet")
        .withArgs(5 * DAY);
      await expect(tx).to.emit(registry, "RoleGranted").withArgs(ethers.ZeroHash, admin.address, deployer.address);
    });

    it("when it deploys → the parameters stored; unpaused, no gateway or acceptor, the bond token not yet allowed", async function () {
      const { tokenAddr, deploy } = await loadFixture(deployArgs);
      const registry = await deploy(params);
      expect(await registry.bondToken()).to.equal(tokenAddr);
      expect(await registry.minBond()).to.equal(USDT(123));
      expect(await registry.maxFeeBps()).to.equal(77n);
      expect(await registry.unbondingDelay()).to.equal(BigInt(5 * DAY));
      expect(await registry.minUnbondingDelay()).to.equal(BigInt(2 * DAY));
      expect(await registry.paused()).to.equal(false);
      expect(await registry.gatewayCount()).to.equal(0n);
      expect(await registry.acceptorCount()).to.equal(0n);
      expect(await registry.isTokenAllowed(tokenAddr)).to.equal(false);
    });

    it("when it deploys → DEFAULT_ADMIN_ROLE to the admin only, not to the deployer, and no other role", async function () {
      const { admin, deployer, deploy } = await loadFixture(deployArgs);
      const registry = await deploy(params);
      expect(await registry.hasRole(ethers.ZeroHash, admin.address)).to.equal(true);
      expect(await registry.hasRole(ethers.ZeroHash, deployer.address)).to.equal(false);
      for (const role of ["GOVERNOR_ROLE", "PAUSER_ROLE", "ARBITER_ROLE", "ESCROW_ROLE"] as const) {
        expect(await registry.hasRole(await registry[role](), admin.address)).to.equal(false);
      }
    });

    it("the role identifiers and hard limits are the documented constants", async function () {
      const { registry } = await loadFixture(baseFixture);
      expect(await registry.GOVERNOR_ROLE()).to.equal(ethers.id("GOVERNOR_ROLE"));
      expect(await registry.PAUSER_ROLE()).to.equal(ethers.id("PAUSER_ROLE"));
      expect(await registry.ARBITER_ROLE()).to.equal(ethers.id("ARBITER_ROLE"));
      expect(await registry.ESCROW_ROLE()).to.equal(ethers.id("ESCROW_ROLE"));
      expect(await registry.MAX_FEE_LIMIT_BPS()).to.equal(BigInt(MAX_FEE_LIMIT_BPS));
      expect(await registry.MAX_UNBONDING_DELAY()).to.equal(BigInt(MAX_UNBONDING_DELAY));
    });
  });

  /*------------------------------------------------------------
         access control (each function's role: in its tests)
  ------------------------------------------------------------*/
  describe("access control", function () {
    it("DEFAULT_ADMIN_ROLE is the admin of every role", async function () {
      const { registry } = await loadFixture(baseFixture);
      for (const role of ["GOVERNOR_ROLE", "PAUSER_ROLE", "ARBITER_ROLE", "ESCROW_ROLE"] as const) {
        expect(await registry.getRoleAdmin(await registry[role]())).to.equal(ethers.ZeroHash);
      }
    });

    it("when the admin grants or revokes a role → it takes effect at once", async function () {
      const { registry, admin, other } = await loadFixture(baseFixture);
      const role = await registry.GOVERNOR_ROLE();
      await expect(registry.connect(admin).grantRole(role, other.address))
        .to.emit(registry, "RoleGranted")
        .withArgs(role, other.address, admin.address);
      await expect(registry.connect(other).setMinBond(7)).to.emit(registry, "MinBondSet").withArgs(7);
      await expect(registry.connect(admin).revokeRole(role, other.address))
        .to.emit(registry, "RoleRevoked")
        .withArgs(role, other.address, admin.address);
      await expect(registry.connect(other).setMinBond(8))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, role);
    });

    it("when a caller without DEFAULT_ADMIN_ROLE grants a role → it reverts AccessControlUnauthorizedAccount", async function () {
      const { registry, governor, other } = await loadFixture(baseFixture);
      await expect(registry.connect(governor).grantRole(await registry.GOVERNOR_ROLE(), other.address))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(governor.address, ethers.ZeroHash);
    });

    it("when a holder renounces a role → its own only: naming another account reverts AccessControlBadConfirmation", async function () {
      const { registry, pauser, other } = await loadFixture(baseFixture);
      const role = await registry.PAUSER_ROLE();
      await expect(registry.connect(pauser).renounceRole(role, other.address)).to.be.revertedWithCustomError(
        registry,
        "AccessControlBadConfirmation",
      );
      await expect(registry.connect(pauser).renounceRole(role, pauser.address))
        .to.emit(registry, "RoleRevoked")
        .withArgs(role, pauser.address, pauser.address);
      expect(await registry.hasRole(role, pauser.address)).to.equal(false);
    });

    it("supports the ERC-165 and IAccessControl interface ids only", async function () {
      const { registry } = await loadFixture(baseFixture);
      expect(await registry.supportsInterface("0x01ffc9a7")).to.equal(true); // ERC-165
      expect(await registry.supportsInterface("0x7965db0b")).to.equal(true); // IAccessControl
      expect(await registry.supportsInterface("0xffffffff")).to.equal(false);
    });
  });

  /*------------------------------------------------------------
            privileged roles: the worst each can do (NatSpec)
  ------------------------------------------------------------*/
  describe("privileged roles: worst cases", function () {
    /** Tries every registry lever as `s` (except those of the roles in `held`): each reverts for want of its role. */
    async function expectNoOtherLever(c: Ctx, s: HardhatEthersSigner, held: Role[]): Promise<void> {
      const r = c.registry.connect(s);
      const levers: { role: Role; call: () => Promise<unknown> }[] = [
        { role: "GOVERNOR_ROLE", call: () => r.suspendGateway(c.gateway.address) },
        { role: "GOVERNOR_ROLE", call: () => r.slashGateway(c.gateway.address, 1, s.address) },
        { role: "GOVERNOR_ROLE", call: () => r.setTokenAllowed(c.usdtAddr, false) },
        { role: "GOVERNOR_ROLE", call: () => r.setUnbondingDelay(MAX_UNBONDING_DELAY) },
        { role: "PAUSER_ROLE", call: () => r.unpause() },
        { role: "ESCROW_ROLE", call: () => r.noteDisputeOpened(c.gateway.address) },
        { role: "ESCROW_ROLE", call: () => r.noteDisputeClosed(c.gateway.address) },
      ];
      for (const { role, call } of levers) {
        if (held.includes(role)) continue;
        await expect(call())
          .to.be.revertedWithCustomError(c.registry, "AccessControlUnauthorizedAccount")
          .withArgs(s.address, await c.registry[role]());
      }
      await expect(r.grantRole(await c.registry.GOVERNOR_ROLE(), s.address))
        .to.be.revertedWithCustomError(c.registry, "AccessControlUnauthorizedAccount")
        .withArgs(s.address, ethers.ZeroHash);
    }

    it("GOVERNOR_ROLE suspends and slashes every gateway: it takes the bonds only; deals still settle, disputes pass to the arbiter, exits wait", async function () {
      const c = await loadFixture(pendingFixture); // gateway Active, gateway2 Pending
      // One deal performed and one disputed (held by the gateway), both opened before governance turns.
      const performed = await makeDeal(c);
      const performedId = await openDeal(c, performed);
      await c.escrow.connect(c.payee).perform(performed);
      const disputed = await makeDeal(c);
      const disputedId = await disputedDeal(c, disputed);
      expect((await gatewayOf(c.registry, c.gateway.address)).openDisputes).to.equal(1n);
      const escrowHeld = await c.usdt.balanceOf(c.escrowAddr);
      expect(escrowHeld).to.equal(performed.amount + disputed.amount);

      for (const gw of [c.gateway, c.gateway2]) {
        await c.registry.connect(c.governor).suspendGateway(gw.address);
        const tx = c.registry.connect(c.governor).slashGateway(gw.address, MIN_BOND, c.governor.address);
        await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.governor, c.escrow], [-MIN_BOND, MIN_BOND, 0]);
        // The bond is the limit: not one unit more, and nothing of the other gateway's.
        await expect(c.registry.connect(c.governor).slashGateway(gw.address, 1, c.governor.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryInvalidSlash")
          .withArgs(gw.address, 1, 0);
      }
      expect(await c.usdt.balanceOf(c.registryAddr)).to.equal(0n);
      expect(await c.usdt.balanceOf(c.escrowAddr)).to.equal(escrowHeld);
      await expectSanctioned(c, c.gateway.address);
      await expectSanctioned(c, c.gateway2.address);

      // The performed deal settles by the payer's confirmation; the suspended gateway keeps the fee fixed at open.
      const fee = feeOf(performed.amount, performed.feeBps);
      await expect(c.escrow.connect(c.payer).release(performed)).to.changeTokenBalances(
        c.usdt,
        [c.payee, c.escrow],
        [performed.amount - fee, -(performed.amount - fee)],
      );
      expect((await c.escrow.getDeal(performedId)).status).to.equal(BigInt(Status.Released));
      expect(await c.escrow.owed(c.usdtAddr, c.gateway.address)).to.equal(fee);

      // The held dispute passes to the arbiter at once (the gateway cannot rule); the counter falls.
      const ruling = c.escrow.connect(c.arbiter).resolve(disputed, disputed.amount / 2n, REASONS);
      await expect(ruling).to.changeTokenBalances(
        c.usdt,
        [c.payee, c.payer, c.arbiter, c.gateway],
        [disputed.amount / 2n, disputed.amount / 2n, 0, 0],
      );
      await expect(ruling).to.emit(c.registry, "GatewayDisputesChanged").withArgs(c.gateway.address, 0);
      expect((await c.escrow.getDeal(disputedId)).status).to.equal(BigInt(Status.Resolved));

      // Exits wait for reinstatement: the bond (here all slashed) stays until governance lifts the sanction.
      const exitAt = await requestExit(c, c.gateway);
      await time.increaseTo(exitAt);
      await expectExitRefused(c, c.gateway, "RegistryGatewaySuspended");
    });

    it("PAUSER_ROLE halts new business for good, yet no exit, settlement or sanction is blocked, and it has no other lever", async function () {
      const c = await loadFixture(baseFixture);
      const deal = await makeDeal(c);
      await openDeal(c, deal);
      await c.escrow.connect(c.payee).perform(deal);
      await c.registry.connect(c.pauser).pause();

      await expect(registerGateway(c, c.gateway2)).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
      await expect(
        c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress, false),
      ).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
      await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr)).to.be.revertedWithCustomError(
        c.registry,
        "RegistryPaused",
      );

      await expectNoOtherLever(c, c.pauser, ["PAUSER_ROLE"]);

      const fee = feeOf(deal.amount, deal.feeBps);
      await expect(c.escrow.connect(c.payer).release(deal)).to.changeTokenBalances(
        c.usdt,
        [c.payee, c.escrow],
        [deal.amount - fee, -(deal.amount - fee)],
      );
      const exitAt = await requestExit(c, c.gateway);
      await time.increaseTo(exitAt);
      await expectExitPays(c, c.gateway, MIN_BOND);
    });

    it("ARBITER_ROLE has no registry lever; it rules a dispute only once the gateway cannot, within the deal's amount, paying only payer and payee", async function () {
      const c = await loadFixture(baseFixture);
      await expectNoOtherLever(c, c.arbiter, []);
      await expect(c.registry.connect(c.arbiter).pause())
        .to.be.revertedWithCustomError(c.registry, "AccessControlUnauthorizedAccount")
        .withArgs(c.arbiter.address, await c.registry.PAUSER_ROLE());
      expect(await c.registry.isArbiter(c.arbiter.address)).to.equal(true);

      // Never a deal that is not disputed.
      const performed = await makeDeal(c);
      const performedId = await openDeal(c, performed);
      await c.escrow.connect(c.payee).perform(performed);
      await expect(c.escrow.connect(c.arbiter).resolve(performed, 0, REASONS))
        .to.be.revertedWithCustomError(c.escrow, "EscrowWrongStatus")
        .withArgs(performedId, Status.Performed);

      // Not a dispute the gateway holds and may still rule.
      const deal = await makeDeal(c);
      const id = await disputedDeal(c, deal);
      const endsAt = (await c.escrow.getDeal(id)).since + BigInt(RESOLUTION_WINDOW);
      await expect(c.escrow.connect(c.arbiter).resolve(deal, 0, REASONS))
        .to.be.revertedWithCustomError(c.escrow, "EscrowResolutionWindowOpen")
        .withArgs(id, endsAt);

      // Once the gateway is suspended, at once: never more than the amount, and only to the payer and the payee.
      await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
      await expect(c.escrow.connect(c.arbiter).resolve(deal, deal.amount + 1n, REASONS))
        .to.be.revertedWithCustomError(c.escrow, "EscrowPayeeAmountTooHigh")
        .withArgs(id, deal.amount + 1n, deal.amount);
      await expect(c.escrow.connect(c.arbiter).resolve(deal, deal.amount, REASONS)).to.changeTokenBalances(
        c.usdt,
        [c.payee, c.payer, c.arbiter, c.gateway, c.escrow],
        [deal.amount, 0, 0, 0, -deal.amount],
      );
    });

    it("ESCROW_ROLE held by a key only moves counters: it can keep a gateway from exiting or let it exit with disputes pending, nothing more", async function () {
      const c = await loadFixture(pendingFixture);
      await expectNoOtherLever(c, c.escrowKey, ["ESCROW_ROLE"]);
      const registryBalance = await c.usdt.balanceOf(c.registryAddr);

      // It can count disputes against an Active gateway in good standing, and only against one.
      for (let i = 1; i <= 3; i++) await holdDispute(c, c.gateway.address, i);
      await expectNotHeld(c, c.gateway2.address);
      const exitAt = await requestExit(c, c.gateway);
      await expectNotHeld(c, c.gateway.address);

      // While it keeps the count, the gateway cannot take its bond back.
      await time.increaseTo(exitAt);
      await expectExitRefused(c, c.gateway, "RegistryGatewayHasDisputes", 3);
      expect(await c.usdt.balanceOf(c.registryAddr)).to.equal(registryBalance);

      // It can count them all down (were they real, the arbiter would rule them), never below zero.
      for (let i = 2; i >= 0; i--) {
        await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address))
          .to.emit(c.registry, "GatewayDisputesChanged")
          .withArgs(c.gateway.address, i);
      }
      await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address))
        .to.be.revertedWithCustomError(c.registry, "RegistryDisputeCounter")
        .withArgs(c.gateway.address, 0);
      await expect(c.registry.connect(c.gateway).completeExit()).to.changeTokenBalances(
        c.usdt,
        [c.registry, c.gateway, c.escrowKey],
        [-MIN_BOND, MIN_BOND, 0],
      );
    });

    it("DEFAULT_ADMIN_ROLE grants itself every role and inherits their worst cases, yet deal money and float stay in the escrow", async function () {
      const c = await loadFixture(baseFixture);
      const deal = await makeDeal(c);
      const id = await openDeal(c, deal);
      await c.escrow.connect(c.payee).perform(deal);
      await depositFloat(c, USDT(500));
      const escrowHeld = await c.usdt.balanceOf(c.escrowAddr);
      expect(escrowHeld).to.equal(deal.amount + USDT(500));

      for (const role of ["GOVERNOR_ROLE", "PAUSER_ROLE", "ARBITER_ROLE", "ESCROW_ROLE"] as const) {
        await c.registry.connect(c.admin).grantRole(await c.registry[role](), c.admin.address);
      }
      // It cuts the escrow off the counters: a dispute raised now is skipped, not held, and goes to the arbiter.
      await c.registry.connect(c.admin).revokeRole(await c.registry.ESCROW_ROLE(), c.escrowAddr);
      const raised = c.escrow.connect(c.payer).dispute(deal);
      await expect(raised).to.emit(c.escrow, "DisputeCountSkipped").withArgs(id, c.gateway.address, true);
      await expect(raised).to.emit(c.escrow, "DealDisputed").withArgs(id, c.payer.address, false);

      // Every governor, pauser and escrow lever at once.
      await c.registry.connect(c.admin).suspendGateway(c.gateway.address);
      await c.registry.connect(c.admin).slashGateway(c.gateway.address, MIN_BOND, c.admin.address);
      await c.registry.connect(c.admin).pause();
      await c.registry.connect(c.admin).setTokenAllowed(c.usdtAddr, false);
      await c.registry.connect(c.admin).setUnbondingDelay(MAX_UNBONDING_DELAY);
      expect(await c.registry.connect(c.admin).noteDisputeOpened.staticCall(c.gateway.address)).to.equal(false);
      expect(await c.usdt.balanceOf(c.escrowAddr)).to.equal(escrowHeld);
      expect((await c.escrow.floatOf(c.acceptor.address, c.usdtAddr)).free).to.equal(USDT(500));

      // As arbiter it rules the dispute, paying only the deal's parties; the acceptor still withdraws its float.
      await expect(c.escrow.connect(c.admin).resolve(deal, 0, REASONS)).to.changeTokenBalances(
        c.usdt,
        [c.payer, c.admin, c.escrow],
        [deal.amount, 0, -deal.amount],
      );
      await expect(c.escrow.connect(c.acceptor).withdrawFloat(c.usdtAddr, USDT(500))).to.changeTokenBalances(
        c.usdt,
        [c.acceptor, c.escrow],
        [USDT(500), -USDT(500)],
      );
    });
  });

  /*------------------------------------------------------------
       gateway standing: sequences of suspension and exit
  ------------------------------------------------------------*/
  describe("suspension and exit sequences", function () {
    it("suspended, then requests exit → Exiting and still suspended; canRule false; completeExit after the delay reverts RegistryGatewaySuspended; after reinstatement it completes", async function () {
      const c = await loadFixture(suspendedFixture);
      const exitAt = await requestExit(c, c.gateway);
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({
        bond: MIN_BOND,
        feeBps: BigInt(GATEWAY_FEE_BPS),
        feeCapBps: BigInt(GATEWAY_FEE_CAP_BPS),
        status: BigInt(GatewayStatus.Exiting),
        suspended: true,
        exitAt: BigInt(exitAt),
        openDisputes: 0n,
      });
      await expectSanctioned(c, c.gateway.address);
      await time.increaseTo(exitAt);
      await expectExitRefused(c, c.gateway, "RegistryGatewaySuspended");
      await c.registry.connect(c.governor).reinstateGateway(c.gateway.address);
      await expectExitPays(c, c.gateway, MIN_BOND);
    });

    it("exiting, then suspended, then reinstated → canRule true again, exitAt unchanged, the exit completes at the original exitAt", async function () {
      const c = await loadFixture(exitingFixture);
      await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
      expect(await c.registry.canRule(c.gateway.address)).to.equal(false);
      await time.increase(DAY);
      await c.registry.connect(c.governor).reinstateGateway(c.gateway.address);
      const g = await gatewayOf(c.registry, c.gateway.address);
      expect([g.status, g.suspended, g.exitAt]).to.deep.equal([BigInt(GatewayStatus.Exiting), false, BigInt(c.exitAt)]);
      expect(await c.registry.canRule(c.gateway.address)).to.equal(true);
      await time.setNextBlockTimestamp(c.exitAt);
      await expectExitPays(c, c.gateway, MIN_BOND);
    });

    it("a suspended gateway calling everything it can (requestExit, setGatewayFee, addBond, approveAcceptor, reinstateAcceptor, suspendAcceptor) never regains canRule or dealTerms", async function () {
      const c = await loadFixture(pendingAcceptorFixture); // acceptor Active, acceptor2 Pending, both under gateway
      await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
      const gw = c.gateway.address;
      const asGateway = c.registry.connect(c.gateway);

      await expect(asGateway.suspendAcceptor(c.acceptor.address))
        .to.emit(c.registry, "AcceptorSuspended")
        .withArgs(c.acceptor.address, gw);
      await expectSanctioned(c, gw);

      await expect(asGateway.setGatewayFee(GATEWAY_FEE_CAP_BPS)).to.emit(c.registry, "GatewayFeeSet");
      await expectSanctioned(c, gw);
      await expect(addBond(c, c.gateway, USDT(1))).to.emit(c.registry, "GatewayBondAdded");
      await expectSanctioned(c, gw);
      await expect(asGateway.approveAcceptor(c.acceptor2.address))
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
        .withArgs(gw);
      await expect(asGateway.reinstateAcceptor(c.acceptor.address))
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
        .withArgs(gw);
      await expect(registerGateway(c, c.gateway))
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
        .withArgs(gw, GatewayStatus.Active);
      await expectSanctioned(c, gw);

      const exitAt = await requestExit(c, c.gateway);
      await expectSanctioned(c, gw);
      await expect(asGateway.setGatewayFee(0))
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
        .withArgs(gw, GatewayStatus.Exiting);
      await expect(asGateway.requestExit())
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
        .withArgs(gw, GatewayStatus.Exiting);
      await expect(asGateway.approveAcceptor(c.acceptor2.address))
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
        .withArgs(gw, GatewayStatus.Exiting);
      await expect(addBond(c, c.gateway, USDT(1))).to.emit(c.registry, "GatewayBondAdded");
      await time.increaseTo(exitAt);
      await expectExitRefused(c, c.gateway, "RegistryGatewaySuspended");
      await expectSanctioned(c, gw);
      // Its acceptors stay closed to new business throughout.
      await expect(c.registry.checkDeposit(c.acceptor2.address, c.usdtAddr))
        .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
        .withArgs(c.acceptor2.address, AcceptorStatus.Pending);
    });

    it("approveGateway of a suspended pending gateway → Active and still suspended: no deal, no ruling until reinstated", async function () {
      const c = await loadFixture(suspendedPendingFixture);
      await expect(c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY_FEE_CAP_BPS))
        .to.emit(c.registry, "GatewayApproved")
        .withArgs(c.gateway2.address, GATEWAY_FEE_CAP_BPS);
      const g = await gatewayOf(c.registry, c.gateway2.address);
      expect([g.status, g.suspended]).to.deep.equal([BigInt(GatewayStatus.Active), true]);
      await expectSanctioned(c, c.gateway2.address);
      await c.registry.connect(c.governor).reinstateGateway(c.gateway2.address);
      expect(await c.registry.canRule(c.gateway2.address)).to.equal(true);
      await holdDispute(c, c.gateway2.address, 1);
    });

    it("requestExit while holding disputes → allowed; completeExit waits until openDisputes is 0", async function () {
      const c = await loadFixture(baseFixture);
      await holdDispute(c, c.gateway.address, 1);
      await holdDispute(c, c.gateway.address, 2);
      const exitAt = await requestExit(c, c.gateway);
      expect((await gatewayOf(c.registry, c.gateway.address)).openDisputes).to.equal(2n);
      await time.increaseTo(exitAt);
      await expectExitRefused(c, c.gateway, "RegistryGatewayHasDisputes", 2);
      await c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address);
      await expectExitRefused(c, c.gateway, "RegistryGatewayHasDisputes", 1);
      await c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address);
      await expectExitPays(c, c.gateway, MIN_BOND);
    });

    it("disputes raised after the exit request never hold the bond hostage: hold 1, request exit, 5 more are refused, close the 1 → the exit completes after the delay", async function () {
      const c = await loadFixture(baseFixture);
      await holdDispute(c, c.gateway.address, 1);
      const exitAt = await requestExit(c, c.gateway);
      for (let i = 0; i < 5; i++) await expectNotHeld(c, c.gateway.address);
      expect((await gatewayOf(c.registry, c.gateway.address)).openDisputes).to.equal(1n);
      await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address))
        .to.emit(c.registry, "GatewayDisputesChanged")
        .withArgs(c.gateway.address, 0);
      await time.increaseTo(exitAt);
      await expectExitPays(c, c.gateway, MIN_BOND);
    });

    it("through the escrow: a dispute raised after the exit request goes to the arbiter and the exit completes while it is still open", async function () {
      const c = await loadFixture(baseFixture);
      const deal = await makeDeal(c);
      const id = await openDeal(c, deal);
      await c.escrow.connect(c.payee).perform(deal);
      const exitAt = await requestExit(c, c.gateway);
      await expect(c.escrow.connect(c.payer).dispute(deal))
        .to.emit(c.escrow, "DealDisputed")
        .withArgs(id, c.payer.address, false);
      await time.increaseTo(exitAt);
      await expectExitPays(c, c.gateway, MIN_BOND);
      expect((await c.escrow.getDeal(id)).status).to.equal(BigInt(Status.Disputed));
    });
  });

  /*------------------------------------------------------------
                          setTokenAllowed
  ------------------------------------------------------------*/
  describe("setTokenAllowed", function () {
    describe("validations", function () {
      itRequiresRole("GOVERNOR_ROLE", (c, r) => r.setTokenAllowed(c.usdtAddr, false));

      it("when the token is the zero address → it reverts RegistryZeroAddress", async function () {
        const { registry, governor } = await loadFixture(baseFixture);
        await expect(
          registry.connect(governor).setTokenAllowed(ethers.ZeroAddress, true),
        ).to.be.revertedWithCustomError(registry, "RegistryZeroAddress");
      });
    });

    describe("effects and events", function () {
      it("when allowed is true → the token is allowed; TokenAllowed(token, true)", async function () {
        const { registry, governor, stranger } = await loadFixture(baseFixture);
        expect(await registry.isTokenAllowed(stranger.address)).to.equal(false);
        await expect(registry.connect(governor).setTokenAllowed(stranger.address, true))
          .to.emit(registry, "TokenAllowed")
          .withArgs(stranger.address, true);
        expect(await registry.isTokenAllowed(stranger.address)).to.equal(true);
      });

      it("when allowed is false → new deals in the token are refused; TokenAllowed(token, false)", async function () {
        const { registry, governor, gateway, daiAddr, usdtAddr } = await loadFixture(baseFixture);
        await expect(registry.connect(governor).setTokenAllowed(daiAddr, false))
          .to.emit(registry, "TokenAllowed")
          .withArgs(daiAddr, false);
        expect(await registry.isTokenAllowed(daiAddr)).to.equal(false);
        expect(await registry.isTokenAllowed(usdtAddr)).to.equal(true);
        await expect(registry.dealTerms(gateway.address, daiAddr, ethers.ZeroAddress, false))
          .to.be.revertedWithCustomError(registry, "RegistryTokenNotAllowed")
          .withArgs(daiAddr);
      });

      it("when the token is the bond token → disallowed, dealTerms and checkDeposit revert RegistryTokenNotAllowed; re-allowed, both work again", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.governor).setTokenAllowed(c.usdtAddr, false))
          .to.emit(c.registry, "TokenAllowed")
          .withArgs(c.usdtAddr, false);
        expect(await c.registry.isTokenAllowed(c.usdtAddr)).to.equal(false);
        expect(await c.registry.isTokenAllowed(c.daiAddr)).to.equal(true);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true))
          .to.be.revertedWithCustomError(c.registry, "RegistryTokenNotAllowed")
          .withArgs(c.usdtAddr);
        await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr))
          .to.be.revertedWithCustomError(c.registry, "RegistryTokenNotAllowed")
          .withArgs(c.usdtAddr);
        await c.registry.checkDeposit(c.acceptor.address, c.daiAddr);

        await expect(c.registry.connect(c.governor).setTokenAllowed(c.usdtAddr, true))
          .to.emit(c.registry, "TokenAllowed")
          .withArgs(c.usdtAddr, true);
        expect(await c.registry.isTokenAllowed(c.usdtAddr)).to.equal(true);
        expect(
          (await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true)).lockDelegate,
        ).to.equal(c.delegate.address);
        await c.registry.checkDeposit(c.acceptor.address, c.usdtAddr);
      });

      it("when the bond token and other tokens are set in turn → each keeps its own flag", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setTokenAllowed(c.daiAddr, false);
        await c.registry.connect(c.governor).setTokenAllowed(c.stranger.address, true);
        expect(await c.registry.isTokenAllowed(c.usdtAddr)).to.equal(true);
        await c.registry.connect(c.governor).setTokenAllowed(c.usdtAddr, false);
        expect(await c.registry.isTokenAllowed(c.stranger.address)).to.equal(true);
        expect(await c.registry.isTokenAllowed(c.daiAddr)).to.equal(false);
        await c.registry.connect(c.governor).setTokenAllowed(c.daiAddr, true);
        expect(await c.registry.isTokenAllowed(c.usdtAddr)).to.equal(false);
        await c.registry.checkDeposit(c.acceptor.address, c.daiAddr);
        await c.registry.checkDeposit(c.acceptor.address, c.stranger.address);
      });

      it("when the flag already has the value → it emits TokenAllowed all the same", async function () {
        const { registry, governor, usdtAddr } = await loadFixture(baseFixture);
        await expect(registry.connect(governor).setTokenAllowed(usdtAddr, true))
          .to.emit(registry, "TokenAllowed")
          .withArgs(usdtAddr, true);
        expect(await registry.isTokenAllowed(usdtAddr)).to.equal(true);
      });
    });
  });

  /*------------------------------------------------------------
          setMinBond / setMaxFee / setUnbondingDelay
  ------------------------------------------------------------*/
  describe("setMinBond", function () {
    itIsBoundedSetter("setMinBond", { min: 0n, max: 2n ** 96n - 1n, maxName: "the largest uint96", hardMax: false });

    it("when changed → registered gateways keep their bond and standing; it applies to new registrations only", async function () {
      const c = await loadFixture(baseFixture);
      await c.registry.connect(c.governor).setMinBond(MIN_BOND * 2n);
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal(FIXTURE_GATEWAY);
      expect(await c.registry.canRule(c.gateway.address)).to.equal(true);
      await expect(registerGateway(c, c.gateway2, MIN_BOND))
        .to.be.revertedWithCustomError(c.registry, "RegistryBondTooLow")
        .withArgs(MIN_BOND, MIN_BOND * 2n);
      await expect(registerGateway(c, c.gateway2, MIN_BOND * 2n)).to.emit(c.registry, "GatewayRegistered");
    });
  });

  describe("setMaxFee", function () {
    itIsBoundedSetter("setMaxFee", { min: 0n, max: BigInt(MAX_FEE_LIMIT_BPS), maxName: "MAX_FEE_LIMIT_BPS" });

    it("when changed → it bounds the fee of new registrations", async function () {
      const c = await loadFixture(baseFixture);
      await c.registry.connect(c.governor).setMaxFee(80);
      await expect(registerGateway(c, c.gateway2, MIN_BOND, 81))
        .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
        .withArgs(81, 80);
      await expect(registerGateway(c, c.gateway2, MIN_BOND, 80))
        .to.emit(c.registry, "GatewayRegistered")
        .withArgs(c.gateway2.address, MIN_BOND, 80, META);
    });
  });

  describe("setUnbondingDelay", function () {
    itIsBoundedSetter("setUnbondingDelay", {
      min: BigInt(MIN_UNBONDING_DELAY),
      minName: "minUnbondingDelay",
      max: BigInt(MAX_UNBONDING_DELAY),
      maxName: "MAX_UNBONDING_DELAY",
    });
    itRequiresRole("GOVERNOR_ROLE", (_c, r) => r.setUnbondingDelay(MAX_UNBONDING_DELAY + 1), {
      first: "a delay above MAX_UNBONDING_DELAY",
    });

    it("when changed → it applies to exits requested afterwards, not to exits already requested", async function () {
      const c = await loadFixture(exitingFixture);
      await c.registry.connect(c.governor).setUnbondingDelay(MIN_UNBONDING_DELAY);
      expect((await gatewayOf(c.registry, c.gateway.address)).exitAt).to.equal(BigInt(c.exitAt));

      await registerGateway(c, c.gateway2);
      const tx = await c.registry.connect(c.gateway2).requestExit();
      const exitAt = (await minedAt(tx)) + MIN_UNBONDING_DELAY;
      await expect(tx).to.emit(c.registry, "GatewayExitRequested").withArgs(c.gateway2.address, exitAt);
    });
  });

  /*------------------------------------------------------------
                          pause / unpause
  ------------------------------------------------------------*/
  describe("pause", function () {
    itRequiresRole("PAUSER_ROLE", (_c, r) => r.pause());

    it("when not paused → paused; Paused(account)", async function () {
      const { registry, pauser } = await loadFixture(baseFixture);
      await expect(registry.connect(pauser).pause()).to.emit(registry, "Paused").withArgs(pauser.address);
      expect(await registry.paused()).to.equal(true);
    });

    it("when already paused → it reverts RegistryPaused", async function () {
      const { registry, pauser } = await loadFixture(pausedFixture);
      await expect(registry.connect(pauser).pause()).to.be.revertedWithCustomError(registry, "RegistryPaused");
    });

    describe("afterwards: exits, settlement and governance stay open", function () {
      it("when paused → completeExit returns the bond", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.pauser).pause();
        await time.increaseTo(c.exitAt);
        await expectExitPays(c, c.gateway, MIN_BOND);
      });

      it("when paused → slashGateway works", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(
          c.registry.connect(c.governor).slashGateway(c.gateway.address, USDT(1), c.other.address),
        ).to.changeTokenBalances(c.usdt, [c.registry, c.other], [-USDT(1), USDT(1)]);
      });

      it("when paused → setGatewayFee works", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(c.registry.connect(c.gateway).setGatewayFee(70))
          .to.emit(c.registry, "GatewayFeeSet")
          .withArgs(c.gateway.address, 70);
      });

      it("when paused → requestExit, addBond and the acceptor's settings work", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(addBond(c, c.gateway, USDT(5))).to.changeTokenBalances(
          c.usdt,
          [c.gateway, c.registry],
          [-USDT(5), USDT(5)],
        );
        await expect(c.registry.connect(c.gateway).requestExit()).to.emit(c.registry, "GatewayExitRequested");
        const asAcceptor = c.registry.connect(c.acceptor);
        await expect(asAcceptor.setLimits(c.usdtAddr, 1, 2)).to.emit(c.registry, "AcceptorLimitsSet");
        await expect(asAcceptor.setLockDelegate(ethers.ZeroAddress)).to.emit(c.registry, "AcceptorLockDelegateSet");
        await expect(asAcceptor.setMethods([], [METHOD_SEPA])).to.emit(c.registry, "AcceptorMethodSet");
      });

      it("when paused → gateway and acceptor governance and the dispute hooks work", async function () {
        const c = await loadFixture(pausedFixture);
        const gw = c.gateway.address;
        await expect(c.registry.connect(c.gateway).suspendAcceptor(c.acceptor.address)).to.emit(
          c.registry,
          "AcceptorSuspended",
        );
        await holdDispute(c, gw, 1);
        await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(gw))
          .to.emit(c.registry, "GatewayDisputesChanged")
          .withArgs(gw, 0);
        await expect(c.registry.connect(c.governor).suspendGateway(gw)).to.emit(c.registry, "GatewaySuspended");
        await expect(c.registry.connect(c.governor).reinstateGateway(gw)).to.emit(c.registry, "GatewayReinstated");
      });
    });
  });

  describe("unpause", function () {
    itRequiresRole("PAUSER_ROLE", (_c, r) => r.unpause(), { fixture: pausedFixture });

    it("when not paused → it reverts RegistryNotPaused", async function () {
      const { registry, pauser } = await loadFixture(baseFixture);
      await expect(registry.connect(pauser).unpause()).to.be.revertedWithCustomError(registry, "RegistryNotPaused");
    });

    it("when paused → unpaused; Unpaused(account); new business reopens", async function () {
      const c = await loadFixture(pausedFixture);
      await expect(c.registry.connect(c.pauser).unpause()).to.emit(c.registry, "Unpaused").withArgs(c.pauser.address);
      expect(await c.registry.paused()).to.equal(false);
      await expect(registerGateway(c, c.gateway2)).to.emit(c.registry, "GatewayRegistered");
      await c.registry.checkDeposit(c.acceptor.address, c.usdtAddr);
    });

    it("when another pauser acts → Unpaused and Paused name that pauser", async function () {
      const c = await loadFixture(pausedFixture);
      await c.registry.connect(c.admin).grantRole(await c.registry.PAUSER_ROLE(), c.other.address);
      await expect(c.registry.connect(c.other).unpause()).to.emit(c.registry, "Unpaused").withArgs(c.other.address);
      await expect(c.registry.connect(c.other).pause()).to.emit(c.registry, "Paused").withArgs(c.other.address);
    });
  });

  /*------------------------------------------------------------
                    suspendGateway / reinstateGateway
  ------------------------------------------------------------*/
  describe("suspendGateway", function () {
    describe("validations", function () {
      itRequiresRole("GOVERNOR_ROLE", (c, r) => r.suspendGateway(c.gateway.address));
      itRequiresRole("GOVERNOR_ROLE", (c, r) => r.suspendGateway(c.stranger.address), { first: "an unknown gateway" });

      itRevertsWrongStatus(["None", "Exited"], "gateway", (c, gw) =>
        c.registry.connect(c.governor).suspendGateway(gw.address),
      );

      for (const state of SUSPENDED_STATES) {
        it(`when the gateway is ${state} already → it reverts RegistryGatewaySuspended`, async function () {
          const { c, gw } = await gatewayIn(state);
          await expect(c.registry.connect(c.governor).suspendGateway(gw.address))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
            .withArgs(gw.address);
        });
      }
    });

    describe("effects and events", function () {
      for (const state of ["Pending", "Active", "Exiting"] as const) {
        it(`when the gateway is ${state} in good standing → suspended; status, exitAt, bond and counter kept; GatewaySuspended`, async function () {
          const { c, gw } = await gatewayIn(state);
          const before = await gatewayOf(c.registry, gw.address);
          expect(before.suspended).to.equal(false);
          await expect(c.registry.connect(c.governor).suspendGateway(gw.address))
            .to.emit(c.registry, "GatewaySuspended")
            .withArgs(gw.address);
          expect(await gatewayOf(c.registry, gw.address)).to.deep.equal({ ...before, suspended: true });
          await expectSanctioned(c, gw.address);
        });
      }

      it("when it is Active → it rules nothing, is named in no deal and holds no new dispute; the disputes it holds stay counted until the escrow closes them", async function () {
        const c = await loadFixture(baseFixture);
        const gw = c.gateway.address;
        await holdDispute(c, gw, 1);
        await c.registry.connect(c.governor).suspendGateway(gw);
        expect(await c.registry.canRule(gw)).to.equal(false);
        for (const view of [
          c.registry.dealTerms(gw, c.usdtAddr, c.acceptor.address, true),
          c.registry.checkDeposit(c.acceptor.address, c.usdtAddr),
        ]) {
          await expect(view).to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended").withArgs(gw);
        }
        await expectNotHeld(c, gw);
        expect((await gatewayOf(c.registry, gw)).openDisputes).to.equal(1n);
        await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(gw))
          .to.emit(c.registry, "GatewayDisputesChanged")
          .withArgs(gw, 0);
      });

      it("when it is Exiting → it stays Exiting with its exitAt, and cannot complete the exit", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
        const g = await gatewayOf(c.registry, c.gateway.address);
        expect([g.status, g.suspended, g.exitAt]).to.deep.equal([
          BigInt(GatewayStatus.Exiting),
          true,
          BigInt(c.exitAt),
        ]);
        await time.increaseTo(c.exitAt);
        await expectExitRefused(c, c.gateway, "RegistryGatewaySuspended");
      });
    });
  });

  describe("reinstateGateway", function () {
    itRequiresRole("GOVERNOR_ROLE", (c, r) => r.reinstateGateway(c.gateway.address), { fixture: suspendedFixture });
    itRequiresRole("GOVERNOR_ROLE", (c, r) => r.reinstateGateway(c.gateway.address), {
      first: "a gateway not suspended",
    });

    for (const state of ["None", "Pending", "Active", "Exiting", "Exited"] as const) {
      it(`when the gateway is ${state}, not suspended → it reverts RegistryGatewayNotSuspended`, async function () {
        const { c, gw } = await gatewayIn(state);
        await expect(c.registry.connect(c.governor).reinstateGateway(gw.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayNotSuspended")
          .withArgs(gw.address);
      });
    }

    for (const state of SUSPENDED_STATES) {
      it(`when the gateway is ${state} → the flag is cleared; status, exitAt, bond and counter kept; GatewayReinstated`, async function () {
        const { c, gw } = await gatewayIn(state);
        const before = await gatewayOf(c.registry, gw.address);
        await expect(c.registry.connect(c.governor).reinstateGateway(gw.address))
          .to.emit(c.registry, "GatewayReinstated")
          .withArgs(gw.address);
        expect(await gatewayOf(c.registry, gw.address)).to.deep.equal({ ...before, suspended: false });
      });
    }

    it("when it is Active → it rules, is named in deals and holds disputes again", async function () {
      const c = await loadFixture(suspendedFixture);
      await c.registry.connect(c.governor).reinstateGateway(c.gateway.address);
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal(FIXTURE_GATEWAY);
      expect(await c.registry.canRule(c.gateway.address)).to.equal(true);
      expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress, false)).feeBps).to.equal(
        BigInt(GATEWAY_FEE_BPS),
      );
      await c.registry.checkDeposit(c.acceptor.address, c.usdtAddr);
      await holdDispute(c, c.gateway.address, 1);
    });

    it("when it is Exiting → it stays Exiting and rules again; the exit completes at the original exitAt", async function () {
      const c = await loadFixture(suspendedExitingFixture);
      await c.registry.connect(c.governor).reinstateGateway(c.gateway.address);
      const g = await gatewayOf(c.registry, c.gateway.address);
      expect([g.status, g.suspended, g.exitAt]).to.deep.equal([BigInt(GatewayStatus.Exiting), false, BigInt(c.exitAt)]);
      expect(await c.registry.canRule(c.gateway.address)).to.equal(true);
      await expectNotHeld(c, c.gateway.address);
      await time.setNextBlockTimestamp(c.exitAt);
      await expectExitPays(c, c.gateway, MIN_BOND);
    });

    it("when it is Pending → it stays Pending: it still needs the governor's approval", async function () {
      const c = await loadFixture(suspendedPendingFixture);
      await c.registry.connect(c.governor).reinstateGateway(c.gateway2.address);
      const g = await gatewayOf(c.registry, c.gateway2.address);
      expect([g.status, g.suspended]).to.deep.equal([BigInt(GatewayStatus.Pending), false]);
      expect(await c.registry.canRule(c.gateway2.address)).to.equal(false);
      await expect(c.registry.dealTerms(c.gateway2.address, c.usdtAddr, ethers.ZeroAddress, false))
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
        .withArgs(c.gateway2.address, GatewayStatus.Pending);
    });
  });

  /*------------------------------------------------------------
                            slashGateway
  ------------------------------------------------------------*/
  describe("slashGateway", function () {
    describe("validations", function () {
      itRequiresRole("GOVERNOR_ROLE", (c, r) => r.slashGateway(c.gateway.address, 1, c.other.address));

      it("when the recipient is the zero address → it reverts RegistryZeroAddress", async function () {
        const c = await loadFixture(baseFixture);
        await expect(
          c.registry.connect(c.governor).slashGateway(c.gateway.address, USDT(1), ethers.ZeroAddress),
        ).to.be.revertedWithCustomError(c.registry, "RegistryZeroAddress");
      });

      itRevertsWrongStatus(["None", "Exited"], "gateway", (c, gw) =>
        c.registry.connect(c.governor).slashGateway(gw.address, USDT(1), c.other.address),
      );

      for (const [what, amount] of [
        ["zero", 0n],
        ["above the bond", MIN_BOND + 1n],
      ] as const) {
        it(`when the amount is ${what} → it reverts RegistryInvalidSlash(gw, amount, bond)`, async function () {
          const c = await loadFixture(baseFixture);
          await expect(c.registry.connect(c.governor).slashGateway(c.gateway.address, amount, c.other.address))
            .to.be.revertedWithCustomError(c.registry, "RegistryInvalidSlash")
            .withArgs(c.gateway.address, amount, MIN_BOND);
        });
      }

      it("when the bond is spent → not one unit more: the other gateways' bonds the registry holds are out of reach", async function () {
        const c = await loadFixture(pendingFixture); // the registry now holds two bonds
        expect(await c.usdt.balanceOf(c.registryAddr)).to.equal(MIN_BOND * 2n);
        await c.registry.connect(c.governor).slashGateway(c.gateway.address, MIN_BOND, c.other.address);
        await expect(c.registry.connect(c.governor).slashGateway(c.gateway.address, 1, c.other.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryInvalidSlash")
          .withArgs(c.gateway.address, 1, 0);
        expect((await gatewayOf(c.registry, c.gateway2.address)).bond).to.equal(MIN_BOND);
        expect(await c.usdt.balanceOf(c.registryAddr)).to.equal(MIN_BOND);
      });
    });

    describe("effects, events and transfers", function () {
      for (const state of ["Pending", "Active", "Exiting", ...SUSPENDED_STATES] as const) {
        it(`when the gateway is ${state} → the amount goes to the recipient; bond reduced, standing kept; GatewaySlashed`, async function () {
          const { c, gw, status, suspended } = await gatewayIn(state);
          const amount = USDT(1_234);
          const tx = c.registry.connect(c.governor).slashGateway(gw.address, amount, c.payer.address);
          await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.payer, gw], [-amount, amount, 0]);
          await expect(tx)
            .to.emit(c.registry, "GatewaySlashed")
            .withArgs(gw.address, c.payer.address, amount, MIN_BOND - amount);
          const g = await gatewayOf(c.registry, gw.address);
          expect([g.bond, g.status, g.suspended]).to.deep.equal([MIN_BOND - amount, BigInt(status), suspended]);
        });
      }

      it("when the amount is the whole bond → the bond falls to zero", async function () {
        const c = await loadFixture(baseFixture);
        const tx = c.registry.connect(c.governor).slashGateway(c.gateway.address, MIN_BOND, c.payee.address);
        await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.payee], [-MIN_BOND, MIN_BOND]);
        await expect(tx)
          .to.emit(c.registry, "GatewaySlashed")
          .withArgs(c.gateway.address, c.payee.address, MIN_BOND, 0);
        expect((await gatewayOf(c.registry, c.gateway.address)).bond).to.equal(0n);
      });

      it("when USDT charges a transfer fee → the bond falls by the full amount; the recipient gets it less the fee", async function () {
        const c = await loadFixture(baseFixture);
        await c.usdt.connect(c.admin).setParams(10, 20); // 0.1%, at most 20 USDT
        const amount = USDT(1_000);
        const fee = USDT(1);
        await expect(
          c.registry.connect(c.governor).slashGateway(c.gateway.address, amount, c.payer.address),
        ).to.changeTokenBalances(c.usdt, [c.registry, c.payer, c.admin], [-amount, amount - fee, fee]);
        expect((await gatewayOf(c.registry, c.gateway.address)).bond).to.equal(MIN_BOND - amount);
      });

      it("when the gateway is Exiting → completeExit returns the rest of the bond", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.governor).slashGateway(c.gateway.address, USDT(4_000), c.payer.address);
        await time.increaseTo(c.exitAt);
        await expectExitPays(c, c.gateway, MIN_BOND - USDT(4_000));
      });
    });

    itRefusesReentry(
      async (h) =>
        h.registry.interface.encodeFunctionData("slashGateway", [h.gateway.address, 1, await h.token.getAddress()]),
      async (h) => {
        await expect(h.registry.connect(h.governor).slashGateway(h.gateway.address, USDT(10), h.admin.address))
          .to.emit(h.registry, "GatewaySlashed")
          .withArgs(h.gateway.address, h.admin.address, USDT(10), MIN_BOND - USDT(10));
        expect((await h.registry.getGateway(h.gateway.address)).bond).to.equal(MIN_BOND - USDT(10));
      },
      async (h) => {
        await h.registry.connect(h.gateway).registerGateway(MIN_BOND, 0, META);
        // The token must hold the role, or the role check would stop it before the re-entrancy guard.
        await h.registry.connect(h.admin).grantRole(await h.registry.GOVERNOR_ROLE(), await h.token.getAddress());
      },
    );
  });
});
