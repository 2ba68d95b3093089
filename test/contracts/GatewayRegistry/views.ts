import { expect } from "chai";
import { ethers } from "hardhat";

import {
  AcceptorStatus,
  GATEWAY_FEE_BPS,
  GATEWAY_FEE_CAP_BPS,
  GatewayStatus,
  loadFixture,
  MAX_FEE_BPS,
  MIN_BOND,
  MIN_UNBONDING_DELAY,
  UNBONDING_DELAY,
} from "../fixtures";
import { acceptorOf, baseFixture, exitedFixture, gatewayOf, registerGateway, suspendedAcceptorFixture } from "./shared";

describe("GatewayRegistry: views", function () {
  describe("isArbiter", function () {
    it("is true only for holders of ARBITER_ROLE, following grants and revocations", async function () {
      const c = await loadFixture(baseFixture);
      expect(await c.registry.isArbiter(c.arbiter.address)).to.equal(true);
      for (const s of [c.admin, c.governor, c.pauser, c.gateway, c.escrowKey, c.other]) {
        expect(await c.registry.isArbiter(s.address)).to.equal(false);
      }
      const role = await c.registry.ARBITER_ROLE();
      await c.registry.connect(c.admin).grantRole(role, c.other.address);
      expect(await c.registry.isArbiter(c.other.address)).to.equal(true);
      await c.registry.connect(c.admin).revokeRole(role, c.arbiter.address);
      expect(await c.registry.isArbiter(c.arbiter.address)).to.equal(false);
    });
  });

  describe("gatewayCount / gatewayAt", function () {
    it("lists every gateway ever registered, exited ones included", async function () {
      const c = await loadFixture(exitedFixture);
      await registerGateway(c, c.gateway2);
      expect(await c.registry.gatewayCount()).to.equal(2n);
      expect(await c.registry.gatewayAt(0)).to.equal(c.gateway.address);
      expect(await c.registry.gatewayAt(1)).to.equal(c.gateway2.address);
    });

    it("reverts with an out-of-bounds panic past the end", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.gatewayAt(1)).to.be.revertedWithPanic(0x32);
    });
  });

  describe("acceptorCount / acceptorAt", function () {
    it("lists every acceptor ever registered, whatever its status", async function () {
      const c = await loadFixture(suspendedAcceptorFixture);
      await c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, ethers.ZeroAddress);
      expect(await c.registry.acceptorCount()).to.equal(2n);
      expect(await c.registry.acceptorAt(0)).to.equal(c.acceptor.address);
      expect(await c.registry.acceptorAt(1)).to.equal(c.acceptor2.address);
    });

    it("reverts with an out-of-bounds panic past the end", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.acceptorAt(1)).to.be.revertedWithPanic(0x32);
    });
  });

  describe("getGateway / getAcceptor", function () {
    it("return the fixture's records", async function () {
      const c = await loadFixture(baseFixture);
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({
        bond: MIN_BOND,
        feeBps: BigInt(GATEWAY_FEE_BPS),
        feeCapBps: BigInt(GATEWAY_FEE_CAP_BPS),
        status: BigInt(GatewayStatus.Active),
        suspended: false,
        exitAt: 0n,
        openDisputes: 0n,
      });
      expect(await acceptorOf(c.registry, c.acceptor.address)).to.deep.equal({
        gateway: c.gateway.address,
        status: BigInt(AcceptorStatus.Active),
        lockDelegate: c.delegate.address,
      });
    });

    it("return all-zero records for unknown accounts", async function () {
      const c = await loadFixture(baseFixture);
      expect(await gatewayOf(c.registry, c.stranger.address)).to.deep.equal({
        bond: 0n,
        feeBps: 0n,
        feeCapBps: 0n,
        status: 0n,
        suspended: false,
        exitAt: 0n,
        openDisputes: 0n,
      });
      expect(await acceptorOf(c.registry, c.stranger.address)).to.deep.equal({
        gateway: ethers.ZeroAddress,
        status: 0n,
        lockDelegate: ethers.ZeroAddress,
      });
      const l = await c.registry.limitsOf(c.stranger.address, c.usdtAddr);
      expect([l.minAmount, l.maxAmount]).to.deep.equal([0n, 0n]);
    });
  });

  describe("parameter getters", function () {
    it("return the fixture's bond token, minimum bond, fee cap, unbonding delay, its floor and pause flag", async function () {
      const c = await loadFixture(baseFixture);
      expect(await c.registry.bondToken()).to.equal(c.usdtAddr);
      expect(await c.registry.minBond()).to.equal(MIN_BOND);
      expect(await c.registry.maxFeeBps()).to.equal(BigInt(MAX_FEE_BPS));
      expect(await c.registry.unbondingDelay()).to.equal(BigInt(UNBONDING_DELAY));
      expect(await c.registry.minUnbondingDelay()).to.equal(BigInt(MIN_UNBONDING_DELAY));
      expect(await c.registry.paused()).to.equal(false);
      expect(await c.registry.isTokenAllowed(c.usdtAddr)).to.equal(true);
      expect(await c.registry.isTokenAllowed(c.daiAddr)).to.equal(true);
      expect(await c.registry.isTokenAllowed(c.stranger.address)).to.equal(false);
    });
  });
});
