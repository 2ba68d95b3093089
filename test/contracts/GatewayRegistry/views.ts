import { expect } from "chai";
import { ethers } from "hardhat";

import { AcceptorStatus, loadFixture, MAX_FEE_BPS, MIN_BOND, MIN_UNBONDING_DELAY, UNBONDING_DELAY } from "../fixtures";
import { acceptorOf, baseFixture, type Ctx, exitedFixture, FIXTURE_GATEWAY, gatewayOf } from "./shared";
import { registerGateway, suspendedAcceptorFixture } from "./shared";

describe("GatewayRegistry: views", function () {
  describe("isArbiter", function () {
    it("when the account holds ARBITER_ROLE → true, following grants and revocations; otherwise false", async function () {
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

  /** The two registration lists: a fixture whose first entry has left the business, and a second registration. */
  const lists = [
    {
      count: "gatewayCount",
      at: "gatewayAt",
      fixture: exitedFixture,
      what: "every gateway ever registered, exited ones included",
      register: (c: Ctx) => registerGateway(c, c.gateway2),
      entries: (c: Ctx) => [c.gateway.address, c.gateway2.address],
    },
    {
      count: "acceptorCount",
      at: "acceptorAt",
      fixture: suspendedAcceptorFixture,
      what: "every acceptor ever registered, whatever its status",
      register: (c: Ctx) => c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, ethers.ZeroAddress),
      entries: (c: Ctx) => [c.acceptor.address, c.acceptor2.address],
    },
  ] as const;
  for (const l of lists) {
    describe(`${l.count} / ${l.at}`, function () {
      it(`when registrations were made → ${l.what}, in order`, async function () {
        const c = await loadFixture(l.fixture);
        await l.register(c);
        expect(await c.registry[l.count]()).to.equal(2n);
        expect([await c.registry[l.at](0), await c.registry[l.at](1)]).to.deep.equal(l.entries(c));
      });

      it("when the index is past the end → it reverts with an out-of-bounds panic", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry[l.at](1)).to.be.revertedWithPanic(0x32);
      });
    });
  }

  describe("getGateway / getAcceptor", function () {
    it("when the account is the fixture's gateway or acceptor → its record", async function () {
      const c = await loadFixture(baseFixture);
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal(FIXTURE_GATEWAY);
      expect(await acceptorOf(c.registry, c.acceptor.address)).to.deep.equal({
        gateway: c.gateway.address,
        status: BigInt(AcceptorStatus.Active),
        lockDelegate: c.delegate.address,
      });
    });

    it("when the account is unknown → all-zero records (and zero limits)", async function () {
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
