import { setStorageAt, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { ethers } from "hardhat";

import type { GatewayRegistry, HostileToken } from "../../typechain-types";
import {
  AcceptorStatus,
  DAY,
  GATEWAY_FEE_BPS,
  GATEWAY_FEE_CAP_BPS,
  GatewayStatus,
  MAX_FEE_BPS,
  METHOD_SEPA,
  MIN_BOND,
  UNBONDING_DELAY,
  USDT,
  approveExactly,
  deployProtocol,
  type Protocol,
  loadFixture,
} from "./fixtures";

/*//////////////////////////////////////////////////////////////
                         CONSTANTS AND HELPERS
//////////////////////////////////////////////////////////////*/

const MAX_FEE_LIMIT_BPS = 1_000;
const MAX_UNBONDING_DELAY = 180 * DAY;
const MAX_UINT32 = 2n ** 32n - 1n;
const META = ethers.id("gateway2 terms v1");
const GATEWAY2_FEE_BPS = 100;
const METHOD_PIX = ethers.id("PIX:BRL");
const METHOD_UPI = ethers.id("UPI:INR");

/** Storage slot of `_gateways` (slot 0: AccessControl `_roles`; 1: packed parameters; 2: `_allowedTokens`). */
const GATEWAYS_MAPPING_SLOT = 3n;

type GatewayRecord = {
  bond: bigint;
  feeBps: bigint;
  feeCapBps: bigint;
  status: bigint;
  exitAt: bigint;
  openDisputes: bigint;
};

/** A gateway's record as a plain object (bigints), so it can be compared with `deep.equal`. */
async function gatewayOf(registry: GatewayRegistry, gw: string): Promise<GatewayRecord> {
  const g = await registry.getGateway(gw);
  return {
    bond: g.bond,
    feeBps: g.feeBps,
    feeCapBps: g.feeCapBps,
    status: g.status,
    exitAt: g.exitAt,
    openDisputes: g.openDisputes,
  };
}

/** An acceptor's record as a plain object. */
async function acceptorOf(registry: GatewayRegistry, acc: string) {
  const a = await registry.getAcceptor(acc);
  return { gateway: a.gateway, status: a.status, lockDelegate: a.lockDelegate };
}

/** Approves the registry for exactly `bond` and registers `signer` as a gateway. */
async function registerGateway(
  p: Protocol,
  signer: HardhatEthersSigner,
  bond: bigint = MIN_BOND,
  feeBps: number = GATEWAY2_FEE_BPS,
  metadata: string = META,
): Promise<ContractTransactionResponse> {
  await approveExactly(p.usdt, signer, await p.registry.getAddress(), bond);
  return p.registry.connect(signer).registerGateway(bond, feeBps, metadata);
}

/** Approves the registry for exactly `amount` and adds it to `signer`'s bond. */
async function addBond(p: Protocol, signer: HardhatEthersSigner, amount: bigint): Promise<ContractTransactionResponse> {
  await approveExactly(p.usdt, signer, await p.registry.getAddress(), amount);
  return p.registry.connect(signer).addBond(amount);
}

/** The timestamp of the block that mined `tx`. */
async function minedAt(tx: ContractTransactionResponse): Promise<number> {
  const receipt = await tx.wait();
  const block = await ethers.provider.getBlock(receipt!.blockNumber);
  return block!.timestamp;
}

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

/*//////////////////////////////////////////////////////////////
                               FIXTURES
//////////////////////////////////////////////////////////////*/

/** The shared protocol, plus a plain key holding ESCROW_ROLE and a second, unregistered acceptor account. */
async function baseFixture() {
  const p = await deployProtocol();
  const [escrowKey, acceptor2, stranger] = p.rest;
  await p.registry.connect(p.admin).grantRole(await p.registry.ESCROW_ROLE(), escrowKey.address);
  return {
    ...p,
    escrowKey,
    acceptor2,
    stranger,
    usdtAddr: await p.usdt.getAddress(),
    daiAddr: await p.dai.getAddress(),
    registryAddr: await p.registry.getAddress(),
  };
}
type Ctx = Awaited<ReturnType<typeof baseFixture>>;

/** gateway2 registered (bond MIN_BOND, fee 100 bps), awaiting approval. */
async function pendingFixture() {
  const c = await baseFixture();
  await registerGateway(c, c.gateway2);
  return c;
}

/** gateway2 registered and approved with a cap of 300 bps; acceptor2 approved under it. */
async function twoGatewaysFixture() {
  const c = await pendingFixture();
  await c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY_FEE_CAP_BPS);
  await c.registry.connect(c.acceptor2).registerAcceptor(c.gateway2.address, ethers.ZeroAddress);
  await c.registry.connect(c.gateway2).approveAcceptor(c.acceptor2.address);
  return c;
}

/** The fixture gateway suspended by the governor. */
async function suspendedFixture() {
  const c = await baseFixture();
  await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
  return c;
}

/** The fixture gateway has requested its exit; `exitAt` is when its bond is due. */
async function exitingFixture() {
  const c = await baseFixture();
  const tx = await c.registry.connect(c.gateway).requestExit();
  const exitAt = (await minedAt(tx)) + UNBONDING_DELAY;
  return { ...c, exitAt };
}

/** The fixture gateway has exited and taken its bond back. */
async function exitedFixture() {
  const c = await exitingFixture();
  await time.increaseTo(c.exitAt);
  await c.registry.connect(c.gateway).completeExit();
  return c;
}

/** The protocol paused by the pauser. */
async function pausedFixture() {
  const c = await baseFixture();
  await c.registry.connect(c.pauser).pause();
  return c;
}

/** The fixture acceptor suspended by its gateway. */
async function suspendedAcceptorFixture() {
  const c = await baseFixture();
  await c.registry.connect(c.gateway).suspendAcceptor(c.acceptor.address);
  return c;
}

/** acceptor2 registered under the fixture gateway, awaiting approval. */
async function pendingAcceptorFixture() {
  const c = await baseFixture();
  await c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, c.delegate.address);
  return c;
}

/** A registry whose bond token is a HostileToken that can call back into the registry mid-transfer. */
async function hostileFixture() {
  const [admin, governor, gateway] = await ethers.getSigners();
  const token = (await ethers.deployContract("HostileToken", ["Hostile", "HST"])) as unknown as HostileToken;
  const registry = (await ethers.deployContract("GatewayRegistry", [
    admin.address,
    await token.getAddress(),
    MIN_BOND,
    MAX_FEE_BPS,
    UNBONDING_DELAY,
  ])) as unknown as GatewayRegistry;
  await registry.grantRole(await registry.GOVERNOR_ROLE(), governor.address);
  await token.mint(gateway.address, MIN_BOND * 10n);
  await token.connect(gateway).approve(await registry.getAddress(), ethers.MaxUint256);
  const reentrancySelector = registry.interface.getError("ReentrancyGuardReentrantCall")!.selector;
  return { admin, governor, gateway, token, registry, reentrancySelector };
}

/** A gateway in each status, each in its own fixture. */
const GATEWAY_IN: Record<keyof typeof GatewayStatus, () => Promise<{ c: Ctx; gw: HardhatEthersSigner }>> = {
  None: async () => {
    const c = await loadFixture(baseFixture);
    return { c, gw: c.gateway2 };
  },
  Pending: async () => {
    const c = await loadFixture(pendingFixture);
    return { c, gw: c.gateway2 };
  },
  Active: async () => {
    const c = await loadFixture(baseFixture);
    return { c, gw: c.gateway };
  },
  Suspended: async () => {
    const c = await loadFixture(suspendedFixture);
    return { c, gw: c.gateway };
  },
  Exiting: async () => {
    const c = await loadFixture(exitingFixture);
    return { c, gw: c.gateway };
  },
  Exited: async () => {
    const c = await loadFixture(exitedFixture);
    return { c, gw: c.gateway };
  },
};
const ALL_GATEWAY_STATUSES = Object.keys(GATEWAY_IN) as (keyof typeof GatewayStatus)[];

/*//////////////////////////////////////////////////////////////
                                 TESTS
//////////////////////////////////////////////////////////////*/

describe("GatewayRegistry", function () {
  /*------------------------------------------------------------
                           constructor
  ------------------------------------------------------------*/
  describe("constructor", function () {
    async function deployArgs() {
      const [deployer, admin] = await ethers.getSigners();
      const factory = (await ethers.getContractFactory("GatewayRegistry")).connect(deployer);
      const token = await (await ethers.getContractFactory("TestUSDT")).deploy();
      return { deployer, admin, factory, tokenAddr: await token.getAddress() };
    }

    describe("validations", function () {
      it("reverts RegistryZeroAddress for a zero admin", async function () {
        const { factory, tokenAddr } = await loadFixture(deployArgs);
        await expect(
          factory.deploy(ethers.ZeroAddress, tokenAddr, MIN_BOND, MAX_FEE_BPS, UNBONDING_DELAY),
        ).to.be.revertedWithCustomError(factory, "RegistryZeroAddress");
      });

      it("reverts RegistryZeroAddress for a zero bond token", async function () {
        const { factory, admin } = await loadFixture(deployArgs);
        await expect(
          factory.deploy(admin.address, ethers.ZeroAddress, MIN_BOND, MAX_FEE_BPS, UNBONDING_DELAY),
        ).to.be.revertedWithCustomError(factory, "RegistryZeroAddress");
      });

      it("reverts RegistryInvalidParameter for a fee cap above MAX_FEE_LIMIT_BPS", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        await expect(factory.deploy(admin.address, tokenAddr, MIN_BOND, MAX_FEE_LIMIT_BPS + 1, UNBONDING_DELAY))
          .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
          .withArgs(MAX_FEE_LIMIT_BPS + 1, MAX_FEE_LIMIT_BPS);
      });

      it("reverts RegistryInvalidParameter for an unbonding delay above MAX_UNBONDING_DELAY", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        await expect(factory.deploy(admin.address, tokenAddr, MIN_BOND, MAX_FEE_BPS, MAX_UNBONDING_DELAY + 1))
          .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
          .withArgs(MAX_UNBONDING_DELAY + 1, MAX_UNBONDING_DELAY);
      });

      it("accepts parameters exactly at their limits, and zeros", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        const atLimits = await factory.deploy(
          admin.address,
          tokenAddr,
          2n ** 96n - 1n,
          MAX_FEE_LIMIT_BPS,
          MAX_UNBONDING_DELAY,
        );
        expect(await atLimits.minBond()).to.equal(2n ** 96n - 1n);
        expect(await atLimits.maxFeeBps()).to.equal(MAX_FEE_LIMIT_BPS);
        expect(await atLimits.unbondingDelay()).to.equal(MAX_UNBONDING_DELAY);
        const zeros = await factory.deploy(admin.address, tokenAddr, 0, 0, 0);
        expect(await zeros.minBond()).to.equal(0n);
        expect(await zeros.maxFeeBps()).to.equal(0n);
        expect(await zeros.unbondingDelay()).to.equal(0n);
      });
    });

    describe("effects and events", function () {
      it("emits MinBondSet, MaxFeeSet, UnbondingDelaySet and RoleGranted for the admin", async function () {
        const { factory, admin, deployer, tokenAddr } = await loadFixture(deployArgs);
        const registry = await factory.deploy(admin.address, tokenAddr, USDT(123), 77, 5 * DAY);
        const tx = registry.deploymentTransaction()!;
        await expect(tx).to.emit(registry, "MinBondSet").withArgs(USDT(123));
        await expect(tx).to.emit(registry, "MaxFeeSet").withArgs(77);
        await expect(tx)
          .to.emit(registry, "UnbondingDelaySet")
          .withArgs(5 * DAY);
        await expect(tx).to.emit(registry, "RoleGranted").withArgs(ethers.ZeroHash, admin.address, deployer.address);
      });

      it("stores the parameters and starts unpaused and empty", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        const registry = await factory.deploy(admin.address, tokenAddr, USDT(123), 77, 5 * DAY);
        expect(await registry.bondToken()).to.equal(tokenAddr);
        expect(await registry.minBond()).to.equal(USDT(123));
        expect(await registry.maxFeeBps()).to.equal(77n);
        expect(await registry.unbondingDelay()).to.equal(BigInt(5 * DAY));
        expect(await registry.paused()).to.equal(false);
        expect(await registry.gatewayCount()).to.equal(0n);
        expect(await registry.acceptorCount()).to.equal(0n);
        expect(await registry.isTokenAllowed(tokenAddr)).to.equal(false);
      });

      it("grants DEFAULT_ADMIN_ROLE to the admin only, not to the deployer, and no other role", async function () {
        const { factory, admin, deployer, tokenAddr } = await loadFixture(deployArgs);
        const registry = await factory.deploy(admin.address, tokenAddr, USDT(123), 77, 5 * DAY);
        expect(await registry.hasRole(ethers.ZeroHash, admin.address)).to.equal(true);
        expect(await registry.hasRole(ethers.ZeroHash, deployer.address)).to.equal(false);
        for (const role of ["GOVERNOR_ROLE", "PAUSER_ROLE", "ARBITER_ROLE", "ESCROW_ROLE"] as const) {
          expect(await registry.hasRole(await registry[role](), admin.address)).to.equal(false);
        }
      });
    });

    it("exposes the role identifiers and hard limits", async function () {
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
                         access control
  ------------------------------------------------------------*/
  describe("access control", function () {
    type Role = "GOVERNOR_ROLE" | "PAUSER_ROLE" | "ESCROW_ROLE";
    const gated: { fn: string; role: Role; call: (c: Ctx, r: GatewayRegistry) => Promise<unknown> }[] = [
      { fn: "setTokenAllowed", role: "GOVERNOR_ROLE", call: (c, r) => r.setTokenAllowed(c.usdtAddr, false) },
      { fn: "setMinBond", role: "GOVERNOR_ROLE", call: (_c, r) => r.setMinBond(1) },
      { fn: "setMaxFee", role: "GOVERNOR_ROLE", call: (_c, r) => r.setMaxFee(1) },
      { fn: "setUnbondingDelay", role: "GOVERNOR_ROLE", call: (_c, r) => r.setUnbondingDelay(1) },
      { fn: "approveGateway", role: "GOVERNOR_ROLE", call: (c, r) => r.approveGateway(c.gateway2.address, 100) },
      { fn: "suspendGateway", role: "GOVERNOR_ROLE", call: (c, r) => r.suspendGateway(c.gateway.address) },
      { fn: "reinstateGateway", role: "GOVERNOR_ROLE", call: (c, r) => r.reinstateGateway(c.gateway.address) },
      {
        fn: "slashGateway",
        role: "GOVERNOR_ROLE",
        call: (c, r) => r.slashGateway(c.gateway.address, 1, c.other.address),
      },
      { fn: "pause", role: "PAUSER_ROLE", call: (_c, r) => r.pause() },
      { fn: "unpause", role: "PAUSER_ROLE", call: (_c, r) => r.unpause() },
      { fn: "noteDispute", role: "ESCROW_ROLE", call: (c, r) => r.noteDispute(c.gateway.address, true) },
    ];

    for (const { fn, role, call } of gated) {
      it(`${fn} reverts AccessControlUnauthorizedAccount for every account without ${role}`, async function () {
        const c = await loadFixture(baseFixture);
        const roleId = await c.registry[role]();
        const holders: Record<Role, string> = {
          GOVERNOR_ROLE: c.governor.address,
          PAUSER_ROLE: c.pauser.address,
          ESCROW_ROLE: c.escrowKey.address,
        };
        const callers = [c.admin, c.governor, c.pauser, c.arbiter, c.escrowKey, c.gateway, c.other].filter(
          (s) => s.address !== holders[role],
        );
        expect(callers).to.have.length(6);
        for (const s of callers) {
          await expect(call(c, c.registry.connect(s)))
            .to.be.revertedWithCustomError(c.registry, "AccessControlUnauthorizedAccount")
            .withArgs(s.address, roleId);
        }
      });
    }

    it("makes DEFAULT_ADMIN_ROLE the admin of every role", async function () {
      const { registry } = await loadFixture(baseFixture);
      for (const role of ["GOVERNOR_ROLE", "PAUSER_ROLE", "ARBITER_ROLE", "ESCROW_ROLE"] as const) {
        expect(await registry.getRoleAdmin(await registry[role]())).to.equal(ethers.ZeroHash);
      }
    });

    it("lets the admin grant and revoke a role, which takes effect at once", async function () {
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

    it("refuses grants by accounts without DEFAULT_ADMIN_ROLE", async function () {
      const { registry, governor, other } = await loadFixture(baseFixture);
      await expect(registry.connect(governor).grantRole(await registry.GOVERNOR_ROLE(), other.address))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(governor.address, ethers.ZeroHash);
    });

    it("lets a holder renounce its own role, and only its own", async function () {
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
                          setTokenAllowed
  ------------------------------------------------------------*/
  describe("setTokenAllowed", function () {
    describe("validations", function () {
      it("reverts RegistryZeroAddress for the zero token", async function () {
        const { registry, governor } = await loadFixture(baseFixture);
        await expect(
          registry.connect(governor).setTokenAllowed(ethers.ZeroAddress, true),
        ).to.be.revertedWithCustomError(registry, "RegistryZeroAddress");
      });
    });

    describe("effects and events", function () {
      it("allows a new token and emits TokenAllowed(token, true)", async function () {
        const { registry, governor, stranger } = await loadFixture(baseFixture);
        expect(await registry.isTokenAllowed(stranger.address)).to.equal(false);
        await expect(registry.connect(governor).setTokenAllowed(stranger.address, true))
          .to.emit(registry, "TokenAllowed")
          .withArgs(stranger.address, true);
        expect(await registry.isTokenAllowed(stranger.address)).to.equal(true);
      });

      it("disallows a token, emits TokenAllowed(token, false), and new deals in it are refused", async function () {
        const { registry, governor, gateway, usdtAddr, daiAddr } = await loadFixture(baseFixture);
        await expect(registry.connect(governor).setTokenAllowed(usdtAddr, false))
          .to.emit(registry, "TokenAllowed")
          .withArgs(usdtAddr, false);
        expect(await registry.isTokenAllowed(usdtAddr)).to.equal(false);
        expect(await registry.isTokenAllowed(daiAddr)).to.equal(true);
        await expect(registry.dealTerms(gateway.address, usdtAddr, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(registry, "RegistryTokenNotAllowed")
          .withArgs(usdtAddr);
      });

      it("emits again when set to the value it already has", async function () {
        const { registry, governor, usdtAddr } = await loadFixture(baseFixture);
        await expect(registry.connect(governor).setTokenAllowed(usdtAddr, true))
          .to.emit(registry, "TokenAllowed")
          .withArgs(usdtAddr, true);
        expect(await registry.isTokenAllowed(usdtAddr)).to.equal(true);
      });
    });
  });

  /*------------------------------------------------------------
                            setMinBond
  ------------------------------------------------------------*/
  describe("setMinBond", function () {
    it("sets the minimum and emits MinBondSet", async function () {
      const { registry, governor } = await loadFixture(baseFixture);
      await expect(registry.connect(governor).setMinBond(USDT(25_000)))
        .to.emit(registry, "MinBondSet")
        .withArgs(USDT(25_000));
      expect(await registry.minBond()).to.equal(USDT(25_000));
    });

    it("accepts zero and the largest uint96 (it has no hard limit)", async function () {
      const { registry, governor } = await loadFixture(baseFixture);
      await expect(registry.connect(governor).setMinBond(0)).to.emit(registry, "MinBondSet").withArgs(0);
      expect(await registry.minBond()).to.equal(0n);
      await expect(registry.connect(governor).setMinBond(2n ** 96n - 1n))
        .to.emit(registry, "MinBondSet")
        .withArgs(2n ** 96n - 1n);
    });

    it("applies to new registrations only", async function () {
      const c = await loadFixture(baseFixture);
      await c.registry.connect(c.governor).setMinBond(MIN_BOND * 2n);
      await expect(registerGateway(c, c.gateway2, MIN_BOND))
        .to.be.revertedWithCustomError(c.registry, "RegistryBondTooLow")
        .withArgs(MIN_BOND, MIN_BOND * 2n);
      // The existing gateway keeps its smaller bond and its standing.
      expect((await gatewayOf(c.registry, c.gateway.address)).bond).to.equal(MIN_BOND);
      expect(await c.registry.canRule(c.gateway.address)).to.equal(true);
      await expect(registerGateway(c, c.gateway2, MIN_BOND * 2n)).to.emit(c.registry, "GatewayRegistered");
    });
  });

  /*------------------------------------------------------------
                             setMaxFee
  ------------------------------------------------------------*/
  describe("setMaxFee", function () {
    it("reverts RegistryInvalidParameter above MAX_FEE_LIMIT_BPS", async function () {
      const { registry, governor } = await loadFixture(baseFixture);
      await expect(registry.connect(governor).setMaxFee(MAX_FEE_LIMIT_BPS + 1))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidParameter")
        .withArgs(MAX_FEE_LIMIT_BPS + 1, MAX_FEE_LIMIT_BPS);
      expect(await registry.maxFeeBps()).to.equal(BigInt(MAX_FEE_BPS));
    });

    it("accepts exactly MAX_FEE_LIMIT_BPS and zero, emitting MaxFeeSet", async function () {
      const { registry, governor } = await loadFixture(baseFixture);
      await expect(registry.connect(governor).setMaxFee(MAX_FEE_LIMIT_BPS))
        .to.emit(registry, "MaxFeeSet")
        .withArgs(MAX_FEE_LIMIT_BPS);
      expect(await registry.maxFeeBps()).to.equal(BigInt(MAX_FEE_LIMIT_BPS));
      await expect(registry.connect(governor).setMaxFee(0)).to.emit(registry, "MaxFeeSet").withArgs(0);
      expect(await registry.maxFeeBps()).to.equal(0n);
    });

    it("bounds the fee of new registrations", async function () {
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

  /*------------------------------------------------------------
                         setUnbondingDelay
  ------------------------------------------------------------*/
  describe("setUnbondingDelay", function () {
    it("reverts RegistryInvalidParameter above MAX_UNBONDING_DELAY", async function () {
      const { registry, governor } = await loadFixture(baseFixture);
      await expect(registry.connect(governor).setUnbondingDelay(MAX_UNBONDING_DELAY + 1))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidParameter")
        .withArgs(MAX_UNBONDING_DELAY + 1, MAX_UNBONDING_DELAY);
      expect(await registry.unbondingDelay()).to.equal(BigInt(UNBONDING_DELAY));
    });

    it("accepts exactly MAX_UNBONDING_DELAY and zero, emitting UnbondingDelaySet", async function () {
      const { registry, governor } = await loadFixture(baseFixture);
      await expect(registry.connect(governor).setUnbondingDelay(MAX_UNBONDING_DELAY))
        .to.emit(registry, "UnbondingDelaySet")
        .withArgs(MAX_UNBONDING_DELAY);
      expect(await registry.unbondingDelay()).to.equal(BigInt(MAX_UNBONDING_DELAY));
      await expect(registry.connect(governor).setUnbondingDelay(0)).to.emit(registry, "UnbondingDelaySet").withArgs(0);
      expect(await registry.unbondingDelay()).to.equal(0n);
    });

    it("applies to exits requested afterwards, not to exits already requested", async function () {
      const c = await loadFixture(exitingFixture);
      await c.registry.connect(c.governor).setUnbondingDelay(DAY);
      expect((await gatewayOf(c.registry, c.gateway.address)).exitAt).to.equal(BigInt(c.exitAt));

      await registerGateway(c, c.gateway2);
      const tx = await c.registry.connect(c.gateway2).requestExit();
      const exitAt = (await minedAt(tx)) + DAY;
      await expect(tx).to.emit(c.registry, "GatewayExitRequested").withArgs(c.gateway2.address, exitAt);
    });
  });

  /*------------------------------------------------------------
                          pause / unpause
  ------------------------------------------------------------*/
  describe("pause", function () {
    it("pauses and emits Paused(account)", async function () {
      const { registry, pauser } = await loadFixture(baseFixture);
      await expect(registry.connect(pauser).pause()).to.emit(registry, "Paused").withArgs(pauser.address);
      expect(await registry.paused()).to.equal(true);
    });

    it("reverts RegistryPaused when already paused", async function () {
      const { registry, pauser } = await loadFixture(pausedFixture);
      await expect(registry.connect(pauser).pause()).to.be.revertedWithCustomError(registry, "RegistryPaused");
    });

    describe("blocks new business", function () {
      it("registerGateway reverts RegistryPaused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(registerGateway(c, c.gateway2)).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
      });

      it("registerAcceptor reverts RegistryPaused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(
          c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, ethers.ZeroAddress),
        ).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
      });

      it("dealTerms reverts RegistryPaused, with or without an acceptor", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(
          c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress),
        ).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
        await expect(
          c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address),
        ).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
      });

      it("checkDeposit reverts RegistryPaused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr)).to.be.revertedWithCustomError(
          c.registry,
          "RegistryPaused",
        );
      });
    });

    describe("leaves exits, settlement and governance open", function () {
      it("completeExit returns the bond while paused", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.pauser).pause();
        await time.increaseTo(c.exitAt);
        await expect(c.registry.connect(c.gateway).completeExit()).to.changeTokenBalances(
          c.usdt,
          [c.gateway, c.registry],
          [MIN_BOND, -MIN_BOND],
        );
      });

      it("slashGateway works while paused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(
          c.registry.connect(c.governor).slashGateway(c.gateway.address, USDT(1), c.other.address),
        ).to.changeTokenBalances(c.usdt, [c.registry, c.other], [-USDT(1), USDT(1)]);
      });

      it("setGatewayFee works while paused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(c.registry.connect(c.gateway).setGatewayFee(70))
          .to.emit(c.registry, "GatewayFeeSet")
          .withArgs(c.gateway.address, 70);
      });

      it("requestExit, addBond and the acceptor's settings work while paused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(addBond(c, c.gateway, USDT(5))).to.changeTokenBalances(
          c.usdt,
          [c.gateway, c.registry],
          [-USDT(5), USDT(5)],
        );
        await expect(c.registry.connect(c.gateway).requestExit()).to.emit(c.registry, "GatewayExitRequested");
        await expect(c.registry.connect(c.acceptor).setLimits(c.usdtAddr, 1, 2)).to.emit(
          c.registry,
          "AcceptorLimitsSet",
        );
        await expect(c.registry.connect(c.acceptor).setLockDelegate(ethers.ZeroAddress)).to.emit(
          c.registry,
          "AcceptorLockDelegateSet",
        );
        await expect(c.registry.connect(c.acceptor).setMethods([], [METHOD_SEPA])).to.emit(
          c.registry,
          "AcceptorMethodSet",
        );
      });

      it("gateway and acceptor governance and the dispute hook work while paused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(c.registry.connect(c.gateway).suspendAcceptor(c.acceptor.address)).to.emit(
          c.registry,
          "AcceptorSuspended",
        );
        await expect(c.registry.connect(c.governor).suspendGateway(c.gateway.address)).to.emit(
          c.registry,
          "GatewaySuspended",
        );
        await expect(c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true)).to.emit(
          c.registry,
          "GatewayDisputesChanged",
        );
      });
    });
  });

  describe("unpause", function () {
    it("reverts RegistryNotPaused when not paused", async function () {
      const { registry, pauser } = await loadFixture(baseFixture);
      await expect(registry.connect(pauser).unpause()).to.be.revertedWithCustomError(registry, "RegistryNotPaused");
    });

    it("unpauses, emits Unpaused(account) and reopens new business", async function () {
      const c = await loadFixture(pausedFixture);
      await expect(c.registry.connect(c.pauser).unpause()).to.emit(c.registry, "Unpaused").withArgs(c.pauser.address);
      expect(await c.registry.paused()).to.equal(false);
      await expect(registerGateway(c, c.gateway2)).to.emit(c.registry, "GatewayRegistered");
      await c.registry.checkDeposit(c.acceptor.address, c.usdtAddr);
    });

    it("emits the account of whichever pauser acts", async function () {
      const c = await loadFixture(pausedFixture);
      await c.registry.connect(c.admin).grantRole(await c.registry.PAUSER_ROLE(), c.other.address);
      await expect(c.registry.connect(c.other).unpause()).to.emit(c.registry, "Unpaused").withArgs(c.other.address);
      await expect(c.registry.connect(c.other).pause()).to.emit(c.registry, "Paused").withArgs(c.other.address);
    });
  });

  /*------------------------------------------------------------
                          registerGateway
  ------------------------------------------------------------*/
  describe("registerGateway", function () {
    describe("validations", function () {
      it("reverts RegistryPaused while paused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(registerGateway(c, c.gateway2)).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
      });

      for (const status of ["Pending", "Active", "Suspended", "Exiting", "Exited"] as const) {
        it(`reverts RegistryGatewayWrongStatus for a caller already registered (${status})`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(registerGateway(c, gw))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw.address, GatewayStatus[status]);
        });
      }

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
        await c.usdt.connect(c.admin).setParams(10, USDT(20)); // 0.1%, at most 20 USDT
        const fee = USDT(10); // 0.1% of 10,000
        const before = await c.usdt.balanceOf(c.gateway2.address);
        await expect(registerGateway(c, c.gateway2, MIN_BOND))
          .to.be.revertedWithCustomError(c.registry, "RegistryBondTooLow")
          .withArgs(MIN_BOND - fee, MIN_BOND);
        expect(await c.usdt.balanceOf(c.gateway2.address)).to.equal(before);
        expect(await c.registry.gatewayCount()).to.equal(1n);
      });

      it("bubbles the token's error when the allowance is missing", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.gateway2).registerGateway(MIN_BOND, GATEWAY2_FEE_BPS, META))
          .to.be.revertedWithCustomError(c.usdt, "TestUSDTInsufficientAllowance")
          .withArgs(c.registryAddr, 0, MIN_BOND);
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
        await c.usdt.connect(c.admin).setParams(10, USDT(20)); // 0.1%, at most 20 USDT
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
      for (const status of ["None", "Exited"] as const) {
        it(`reverts RegistryGatewayWrongStatus for a gateway that is ${status}`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(addBond(c, gw, USDT(1)))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw.address, GatewayStatus[status]);
        });
      }

      it("reverts RegistryBondTooLow for a zero amount", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.gateway).addBond(0))
          .to.be.revertedWithCustomError(c.registry, "RegistryBondTooLow")
          .withArgs(0, MIN_BOND);
      });
    });

    for (const status of ["Pending", "Active", "Suspended", "Exiting"] as const) {
      it(`adds to the bond of a ${status} gateway, moving the tokens and emitting GatewayBondAdded`, async function () {
        const { c, gw } = await GATEWAY_IN[status]();
        const tx = addBond(c, gw, USDT(7));
        await expect(tx).to.changeTokenBalances(c.usdt, [gw, c.registry], [-USDT(7), USDT(7)]);
        await expect(tx)
          .to.emit(c.registry, "GatewayBondAdded")
          .withArgs(gw.address, USDT(7), MIN_BOND + USDT(7));
        const g = await gatewayOf(c.registry, gw.address);
        expect(g.bond).to.equal(MIN_BOND + USDT(7));
        expect(g.status).to.equal(BigInt(GatewayStatus[status]));
      });
    }

    it("credits only what arrived when USDT charges a transfer fee", async function () {
      const c = await loadFixture(baseFixture);
      await c.usdt.connect(c.admin).setParams(19, USDT(1)); // 0.19%, at most 1 USDT
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
      for (const status of ["None", "Active", "Suspended", "Exiting", "Exited"] as const) {
        it(`reverts RegistryGatewayWrongStatus for a gateway that is ${status}`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(c.registry.connect(c.governor).approveGateway(gw.address, 100))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw.address, GatewayStatus[status]);
        });
      }

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
          exitAt: 0n,
          openDisputes: 0n,
        });
        expect(await c.registry.canRule(c.gateway2.address)).to.equal(true);
        expect((await c.registry.dealTerms(c.gateway2.address, c.usdtAddr, ethers.ZeroAddress)).feeBps).to.equal(
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
      for (const status of ["None", "Exiting", "Exited"] as const) {
        it(`reverts RegistryGatewayWrongStatus for a gateway that is ${status}`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(c.registry.connect(gw).setGatewayFee(10))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw.address, GatewayStatus[status]);
        });
      }

      it("reverts RegistryFeeTooHigh above the global cap for a pending gateway", async function () {
        const c = await loadFixture(pendingFixture);
        await expect(c.registry.connect(c.gateway2).setGatewayFee(MAX_FEE_BPS + 1))
          .to.be.revertedWithCustomError(c.registry, "RegistryFeeTooHigh")
          .withArgs(MAX_FEE_BPS + 1, MAX_FEE_BPS);
      });

      for (const status of ["Active", "Suspended"] as const) {
        it(`reverts RegistryFeeTooHigh above its own cap for a ${status} gateway`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
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

      for (const status of ["Active", "Suspended"] as const) {
        it(`lets a ${status} gateway set a fee up to its cap and emits GatewayFeeSet`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(c.registry.connect(gw).setGatewayFee(GATEWAY_FEE_CAP_BPS))
            .to.emit(c.registry, "GatewayFeeSet")
            .withArgs(gw.address, GATEWAY_FEE_CAP_BPS);
          await expect(c.registry.connect(gw).setGatewayFee(0))
            .to.emit(c.registry, "GatewayFeeSet")
            .withArgs(gw.address, 0);
          const g = await gatewayOf(c.registry, gw.address);
          expect(g.feeBps).to.equal(0n);
          expect(g.status).to.equal(BigInt(GatewayStatus[status]));
        });
      }

      it("changes the fee quoted for new deals", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.gateway).setGatewayFee(120);
        expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress)).feeBps).to.equal(120n);
      });
    });
  });

  /*------------------------------------------------------------
                    suspendGateway / reinstateGateway
  ------------------------------------------------------------*/
  describe("suspendGateway", function () {
    describe("validations", function () {
      for (const status of ["None", "Pending", "Suspended", "Exited"] as const) {
        it(`reverts RegistryGatewayWrongStatus for a gateway that is ${status}`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(c.registry.connect(c.governor).suspendGateway(gw.address))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw.address, GatewayStatus[status]);
        });
      }
    });

    describe("effects and events", function () {
      it("suspends an active gateway and emits GatewaySuspended; it rules no dispute and gets no deal", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.governor).suspendGateway(c.gateway.address))
          .to.emit(c.registry, "GatewaySuspended")
          .withArgs(c.gateway.address);
        const g = await gatewayOf(c.registry, c.gateway.address);
        expect(g.status).to.equal(BigInt(GatewayStatus.Suspended));
        expect(g.bond).to.equal(MIN_BOND);
        expect(await c.registry.canRule(c.gateway.address)).to.equal(false);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(c.gateway.address, GatewayStatus.Suspended);
      });

      it("suspends an exiting gateway and clears its exitAt, so it cannot complete the exit", async function () {
        const c = await loadFixture(exitingFixture);
        expect((await gatewayOf(c.registry, c.gateway.address)).exitAt).to.equal(BigInt(c.exitAt));
        await expect(c.registry.connect(c.governor).suspendGateway(c.gateway.address))
          .to.emit(c.registry, "GatewaySuspended")
          .withArgs(c.gateway.address);
        const g = await gatewayOf(c.registry, c.gateway.address);
        expect(g.status).to.equal(BigInt(GatewayStatus.Suspended));
        expect(g.exitAt).to.equal(0n);
        await time.increaseTo(c.exitAt);
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(c.gateway.address, GatewayStatus.Suspended);
      });

      it("lets a gateway suspended during its exit request a new exit, with a fresh delay", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
        await time.increase(DAY);
        const tx = await c.registry.connect(c.gateway).requestExit();
        const exitAt = (await minedAt(tx)) + UNBONDING_DELAY;
        expect(exitAt).to.be.greaterThan(c.exitAt);
        await expect(tx).to.emit(c.registry, "GatewayExitRequested").withArgs(c.gateway.address, exitAt);
      });
    });
  });

  describe("reinstateGateway", function () {
    for (const status of ["None", "Pending", "Active", "Exiting", "Exited"] as const) {
      it(`reverts RegistryGatewayWrongStatus for a gateway that is ${status}`, async function () {
        const { c, gw } = await GATEWAY_IN[status]();
        await expect(c.registry.connect(c.governor).reinstateGateway(gw.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(gw.address, GatewayStatus[status]);
      });
    }

    it("reactivates a suspended gateway and emits GatewayReinstated", async function () {
      const c = await loadFixture(suspendedFixture);
      await expect(c.registry.connect(c.governor).reinstateGateway(c.gateway.address))
        .to.emit(c.registry, "GatewayReinstated")
        .withArgs(c.gateway.address);
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({
        bond: MIN_BOND,
        feeBps: BigInt(GATEWAY_FEE_BPS),
        feeCapBps: BigInt(GATEWAY_FEE_CAP_BPS),
        status: BigInt(GatewayStatus.Active),
        exitAt: 0n,
        openDisputes: 0n,
      });
      expect(await c.registry.canRule(c.gateway.address)).to.equal(true);
      expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress)).feeBps).to.equal(
        BigInt(GATEWAY_FEE_BPS),
      );
    });
  });

  /*------------------------------------------------------------
                            slashGateway
  ------------------------------------------------------------*/
  describe("slashGateway", function () {
    describe("validations", function () {
      it("reverts RegistryZeroAddress for a zero recipient", async function () {
        const c = await loadFixture(baseFixture);
        await expect(
          c.registry.connect(c.governor).slashGateway(c.gateway.address, USDT(1), ethers.ZeroAddress),
        ).to.be.revertedWithCustomError(c.registry, "RegistryZeroAddress");
      });

      for (const status of ["None", "Exited"] as const) {
        it(`reverts RegistryGatewayWrongStatus for a gateway that is ${status}`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(c.registry.connect(c.governor).slashGateway(gw.address, USDT(1), c.other.address))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw.address, GatewayStatus[status]);
        });
      }

      it("reverts RegistryInvalidSlash for a zero amount", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.governor).slashGateway(c.gateway.address, 0, c.other.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryInvalidSlash")
          .withArgs(c.gateway.address, 0, MIN_BOND);
      });

      it("reverts RegistryInvalidSlash for more than the bond", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.governor).slashGateway(c.gateway.address, MIN_BOND + 1n, c.other.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryInvalidSlash")
          .withArgs(c.gateway.address, MIN_BOND + 1n, MIN_BOND);
      });

      it("never reaches other funds held by the registry: the limit is this gateway's bond", async function () {
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
      for (const status of ["Pending", "Active", "Suspended", "Exiting"] as const) {
        it(`slashes a ${status} gateway to the recipient and emits GatewaySlashed`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          const amount = USDT(1_234);
          const tx = c.registry.connect(c.governor).slashGateway(gw.address, amount, c.payer.address);
          await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.payer, gw], [-amount, amount, 0]);
          await expect(tx)
            .to.emit(c.registry, "GatewaySlashed")
            .withArgs(gw.address, c.payer.address, amount, MIN_BOND - amount);
          const g = await gatewayOf(c.registry, gw.address);
          expect(g.bond).to.equal(MIN_BOND - amount);
          expect(g.status).to.equal(BigInt(GatewayStatus[status]));
        });
      }

      it("slashes the whole bond", async function () {
        const c = await loadFixture(baseFixture);
        const tx = c.registry.connect(c.governor).slashGateway(c.gateway.address, MIN_BOND, c.payee.address);
        await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.payee], [-MIN_BOND, MIN_BOND]);
        await expect(tx)
          .to.emit(c.registry, "GatewaySlashed")
          .withArgs(c.gateway.address, c.payee.address, MIN_BOND, 0);
        expect((await gatewayOf(c.registry, c.gateway.address)).bond).to.equal(0n);
      });

      it("debits the full amount from the bond even when USDT's transfer fee reduces what the recipient gets", async function () {
        const c = await loadFixture(baseFixture);
        await c.usdt.connect(c.admin).setParams(10, USDT(20));
        const amount = USDT(1_000);
        const fee = USDT(1);
        await expect(
          c.registry.connect(c.governor).slashGateway(c.gateway.address, amount, c.payer.address),
        ).to.changeTokenBalances(c.usdt, [c.registry, c.payer, c.admin], [-amount, amount - fee, fee]);
        expect((await gatewayOf(c.registry, c.gateway.address)).bond).to.equal(MIN_BOND - amount);
      });

      it("leaves the rest of an exiting gateway's bond for completeExit", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.governor).slashGateway(c.gateway.address, USDT(4_000), c.payer.address);
        await time.increaseTo(c.exitAt);
        const rest = MIN_BOND - USDT(4_000);
        const tx = c.registry.connect(c.gateway).completeExit();
        await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.gateway], [-rest, rest]);
        await expect(tx).to.emit(c.registry, "GatewayExited").withArgs(c.gateway.address, rest);
      });
    });

    it("is guarded against re-entry from the bond token", async function () {
      const h = await loadFixture(hostileFixture);
      await h.registry.connect(h.gateway).registerGateway(MIN_BOND, 0, META);
      const registryAddr = await h.registry.getAddress();
      const tokenAddr = await h.token.getAddress();
      // The token must hold the role, or the role check would stop it before the re-entrancy guard.
      await h.registry.connect(h.admin).grantRole(await h.registry.GOVERNOR_ROLE(), tokenAddr);
      await h.token.arm(
        registryAddr,
        h.registry.interface.encodeFunctionData("slashGateway", [h.gateway.address, 1, tokenAddr]),
      );
      await expect(h.registry.connect(h.governor).slashGateway(h.gateway.address, USDT(10), h.admin.address))
        .to.emit(h.registry, "GatewaySlashed")
        .withArgs(h.gateway.address, h.admin.address, USDT(10), MIN_BOND - USDT(10));
      expect(await h.token.lastCallFailed()).to.equal(true);
      expect(await h.token.lastRevertData()).to.equal(h.reentrancySelector);
      expect((await h.registry.getGateway(h.gateway.address)).bond).to.equal(MIN_BOND - USDT(10));
    });
  });

  /*------------------------------------------------------------
                            requestExit
  ------------------------------------------------------------*/
  describe("requestExit", function () {
    describe("validations", function () {
      for (const status of ["None", "Exiting", "Exited"] as const) {
        it(`reverts RegistryGatewayWrongStatus for a gateway that is ${status}`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(c.registry.connect(gw).requestExit())
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw.address, GatewayStatus[status]);
        });
      }

      it("reverts RegistryGatewayHasDisputes while disputes await its ruling", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true);
        await c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true);
        await expect(c.registry.connect(c.gateway).requestExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayHasDisputes")
          .withArgs(c.gateway.address, 2);
        await c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, false);
        await c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, false);
        await expect(c.registry.connect(c.gateway).requestExit()).to.emit(c.registry, "GatewayExitRequested");
      });
    });

    describe("effects and events", function () {
      for (const status of ["Pending", "Active", "Suspended"] as const) {
        it(`moves a ${status} gateway to Exiting with exitAt = now + delay, emitting GatewayExitRequested`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
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

      it("an exiting gateway still rules its disputes but gets no new deal and no new acceptor", async function () {
        const c = await loadFixture(exitingFixture);
        expect(await c.registry.canRule(c.gateway.address)).to.equal(true);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(c.gateway.address, GatewayStatus.Exiting);
        await expect(c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(c.gateway.address, GatewayStatus.Exiting);
      });
    });
  });

  /*------------------------------------------------------------
                           completeExit
  ------------------------------------------------------------*/
  describe("completeExit", function () {
    describe("validations", function () {
      for (const status of ["None", "Pending", "Active", "Suspended", "Exited"] as const) {
        it(`reverts RegistryGatewayWrongStatus for a gateway that is ${status}`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(c.registry.connect(gw).completeExit())
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw.address, GatewayStatus[status]);
        });
      }

      it("reverts RegistryUnbonding before exitAt, up to the last second", async function () {
        const c = await loadFixture(exitingFixture);
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryUnbonding")
          .withArgs(c.gateway.address, c.exitAt);
        await time.setNextBlockTimestamp(c.exitAt - 1);
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryUnbonding")
          .withArgs(c.gateway.address, c.exitAt);
      });

      it("reverts RegistryGatewayHasDisputes when a dispute opened during the exit awaits its ruling", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true);
        await time.increaseTo(c.exitAt);
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayHasDisputes")
          .withArgs(c.gateway.address, 1);
        await c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, false);
        await expect(c.registry.connect(c.gateway).completeExit()).to.emit(c.registry, "GatewayExited");
      });
    });

    describe("effects, events and transfers", function () {
      it("at exactly exitAt returns the bond, marks the gateway Exited and emits GatewayExited", async function () {
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
          exitAt: BigInt(c.exitAt),
          openDisputes: 0n,
        });
        expect(await c.registry.canRule(c.gateway.address)).to.equal(false);
      });

      it("returns the bond including additions made while exiting", async function () {
        const c = await loadFixture(exitingFixture);
        await addBond(c, c.gateway, USDT(500));
        await time.increaseTo(c.exitAt);
        const bond = MIN_BOND + USDT(500);
        const tx = c.registry.connect(c.gateway).completeExit();
        await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.gateway], [-bond, bond]);
        await expect(tx).to.emit(c.registry, "GatewayExited").withArgs(c.gateway.address, bond);
      });

      it("exits with nothing to transfer when the whole bond was slashed", async function () {
        const c = await loadFixture(exitingFixture);
        await c.registry.connect(c.governor).slashGateway(c.gateway.address, MIN_BOND, c.payer.address);
        await time.increaseTo(c.exitAt);
        const tx = c.registry.connect(c.gateway).completeExit();
        await expect(tx).to.emit(c.registry, "GatewayExited").withArgs(c.gateway.address, 0);
        await expect(tx).to.not.emit(c.usdt, "Transfer");
        await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.gateway], [0, 0]);
        expect((await gatewayOf(c.registry, c.gateway.address)).status).to.equal(BigInt(GatewayStatus.Exited));
      });

      it("works with a zero unbonding delay right after the request", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setUnbondingDelay(0);
        await c.registry.connect(c.gateway).requestExit();
        await expect(c.registry.connect(c.gateway).completeExit()).to.changeTokenBalances(
          c.usdt,
          [c.registry, c.gateway],
          [-MIN_BOND, MIN_BOND],
        );
      });

      it("works while paused", async function () {
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

      for (const status of ["None", "Pending", "Suspended", "Exiting", "Exited"] as const) {
        it(`reverts RegistryGatewayWrongStatus under a gateway that is ${status}`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(c.registry.connect(c.acceptor2).registerAcceptor(gw.address, ethers.ZeroAddress))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw.address, GatewayStatus[status]);
        });
      }
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

      it("reverts RegistryGatewayWrongStatus when its gateway is suspended", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
        await expect(c.registry.connect(c.gateway).approveAcceptor(c.acceptor2.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
          .withArgs(c.gateway.address, GatewayStatus.Suspended);
      });

      it("reverts RegistryGatewayWrongStatus when its gateway is exiting", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await c.registry.connect(c.gateway).requestExit();
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
          await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address))
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

      for (const gwStatus of ["Suspended", "Exiting"] as const) {
        it(`reverts RegistryGatewayWrongStatus when its gateway is ${gwStatus}, for gateway and governor alike`, async function () {
          const c = await loadFixture(suspendedAcceptorFixture);
          if (gwStatus === "Suspended") await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
          else await c.registry.connect(c.gateway).requestExit();
          for (const s of [c.gateway, c.governor]) {
            await expect(c.registry.connect(s).reinstateAcceptor(c.acceptor.address))
              .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
              .withArgs(c.gateway.address, GatewayStatus[gwStatus]);
          }
        });
      }
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
      expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address)).lockDelegate).to.equal(
        c.other.address,
      );
    });

    it("removes the delegate with zero", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.connect(c.acceptor).setLockDelegate(ethers.ZeroAddress))
        .to.emit(c.registry, "AcceptorLockDelegateSet")
        .withArgs(c.acceptor.address, ethers.ZeroAddress);
      expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address)).lockDelegate).to.equal(
        ethers.ZeroAddress,
      );
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
        const t = await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address);
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
                            noteDispute
  ------------------------------------------------------------*/
  describe("noteDispute", function () {
    it("counts an opened dispute up and emits GatewayDisputesChanged", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true))
        .to.emit(c.registry, "GatewayDisputesChanged")
        .withArgs(c.gateway.address, 1);
      await expect(c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true))
        .to.emit(c.registry, "GatewayDisputesChanged")
        .withArgs(c.gateway.address, 2);
      expect((await gatewayOf(c.registry, c.gateway.address)).openDisputes).to.equal(2n);
    });

    it("counts a closed dispute down and emits GatewayDisputesChanged", async function () {
      const c = await loadFixture(baseFixture);
      await c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true);
      await c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true);
      await expect(c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, false))
        .to.emit(c.registry, "GatewayDisputesChanged")
        .withArgs(c.gateway.address, 1);
      await expect(c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, false))
        .to.emit(c.registry, "GatewayDisputesChanged")
        .withArgs(c.gateway.address, 0);
      expect((await gatewayOf(c.registry, c.gateway.address)).openDisputes).to.equal(0n);
    });

    it("reverts RegistryDisputeCounter on underflow", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, false))
        .to.be.revertedWithCustomError(c.registry, "RegistryDisputeCounter")
        .withArgs(c.gateway.address, 0);
    });

    it("keeps each gateway's counter apart and leaves the rest of the record untouched", async function () {
      const c = await loadFixture(pendingFixture);
      const before = await gatewayOf(c.registry, c.gateway.address);
      await c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true);
      expect((await gatewayOf(c.registry, c.gateway2.address)).openDisputes).to.equal(0n);
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({ ...before, openDisputes: 1n });
      await expect(c.registry.connect(c.escrowKey).noteDispute(c.gateway2.address, false))
        .to.be.revertedWithCustomError(c.registry, "RegistryDisputeCounter")
        .withArgs(c.gateway2.address, 0);
    });

    it("reverts RegistryDisputeCounter on overflow (state forced through storage: unreachable in practice)", async function () {
      // 2^32 - 1 disputes cannot be opened in practice, so the counter is written directly. The bond is read
      // back from the same slot first, so a change in the storage layout fails this test instead of passing it.
      const c = await loadFixture(baseFixture);
      const slot = ethers.keccak256(
        ethers.AbiCoder.defaultAbiCoder().encode(["address", "uint256"], [c.gateway.address, GATEWAYS_MAPPING_SLOT]),
      );
      const word = BigInt(await ethers.provider.getStorage(c.registryAddr, slot));
      expect(word & (2n ** 96n - 1n)).to.equal(MIN_BOND);
      const shift = 96n + 16n + 16n + 8n + 40n; // bond, feeBps, feeCapBps, status, exitAt
      const forced = (word & ~(MAX_UINT32 << shift)) | ((MAX_UINT32 - 1n) << shift);
      await setStorageAt(c.registryAddr, slot, ethers.toBeHex(forced, 32));
      expect((await gatewayOf(c.registry, c.gateway.address)).openDisputes).to.equal(MAX_UINT32 - 1n);

      await expect(c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true))
        .to.emit(c.registry, "GatewayDisputesChanged")
        .withArgs(c.gateway.address, MAX_UINT32);
      await expect(c.registry.connect(c.escrowKey).noteDispute(c.gateway.address, true))
        .to.be.revertedWithCustomError(c.registry, "RegistryDisputeCounter")
        .withArgs(c.gateway.address, MAX_UINT32);
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({
        bond: MIN_BOND,
        feeBps: BigInt(GATEWAY_FEE_BPS),
        feeCapBps: BigInt(GATEWAY_FEE_CAP_BPS),
        status: BigInt(GatewayStatus.Active),
        exitAt: 0n,
        openDisputes: MAX_UINT32,
      });
    });
  });

  /*------------------------------------------------------------
                              views
  ------------------------------------------------------------*/
  describe("dealTerms", function () {
    describe("reverts", function () {
      it("RegistryPaused while paused (checked first)", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(
          c.registry.dealTerms(c.gateway2.address, c.stranger.address, c.stranger.address),
        ).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
      });

      it("RegistryTokenNotAllowed for a token off the allowlist (before the gateway check)", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.dealTerms(c.gateway2.address, c.stranger.address, ethers.ZeroAddress))
          .to.be.revertedWithCustomError(c.registry, "RegistryTokenNotAllowed")
          .withArgs(c.stranger.address);
      });

      for (const status of ["None", "Pending", "Suspended", "Exiting", "Exited"] as const) {
        it(`RegistryGatewayWrongStatus for a gateway that is ${status}`, async function () {
          const { c, gw } = await GATEWAY_IN[status]();
          await expect(c.registry.dealTerms(gw.address, c.usdtAddr, ethers.ZeroAddress))
            .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
            .withArgs(gw.address, GatewayStatus[status]);
        });
      }

      it("RegistryAcceptorWrongStatus for an unregistered acceptor", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.stranger.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.stranger.address, AcceptorStatus.None);
      });

      it("RegistryAcceptorWrongStatus for a pending acceptor", async function () {
        const c = await loadFixture(pendingAcceptorFixture);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor2.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor2.address, AcceptorStatus.Pending);
      });

      it("RegistryAcceptorWrongStatus for a suspended acceptor", async function () {
        const c = await loadFixture(suspendedAcceptorFixture);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
          .withArgs(c.acceptor.address, AcceptorStatus.Suspended);
      });

      it("RegistryAcceptorGatewayMismatch for an acceptor registered under another gateway", async function () {
        const c = await loadFixture(twoGatewaysFixture);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor2.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorGatewayMismatch")
          .withArgs(c.acceptor2.address, c.gateway2.address, c.gateway.address);
        await expect(c.registry.dealTerms(c.gateway2.address, c.usdtAddr, c.acceptor.address))
          .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorGatewayMismatch")
          .withArgs(c.acceptor.address, c.gateway.address, c.gateway2.address);
      });
    });

    describe("returns", function () {
      it("the gateway's fee and zero acceptor fields without an acceptor", async function () {
        const c = await loadFixture(baseFixture);
        const t = await c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress);
        expect([t.feeBps, t.lockDelegate, t.minAmount, t.maxAmount]).to.deep.equal([
          BigInt(GATEWAY_FEE_BPS),
          ethers.ZeroAddress,
          0n,
          0n,
        ]);
      });

      it("the acceptor's delegate and its limits for the token asked", async function () {
        const c = await loadFixture(baseFixture);
        const u = await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address);
        expect([u.feeBps, u.lockDelegate, u.minAmount, u.maxAmount]).to.deep.equal([
          BigInt(GATEWAY_FEE_BPS),
          c.delegate.address,
          USDT(10),
          USDT(50_000),
        ]);
        const d = await c.registry.dealTerms(c.gateway.address, c.daiAddr, c.acceptor.address);
        expect([d.minAmount, d.maxAmount]).to.deep.equal([ethers.parseEther("10"), ethers.parseEther("50000")]);
      });

      it("zero limits for an allowlisted token the acceptor set none for", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setTokenAllowed(c.stranger.address, true);
        const t = await c.registry.dealTerms(c.gateway.address, c.stranger.address, c.acceptor.address);
        expect([t.lockDelegate, t.minAmount, t.maxAmount]).to.deep.equal([c.delegate.address, 0n, 0n]);
      });

      it("the fee clamped to the global cap after setMaxFee lowered it", async function () {
        const c = await loadFixture(baseFixture);
        await c.registry.connect(c.governor).setMaxFee(20);
        expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress)).feeBps).to.equal(20n);
        expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address)).feeBps).to.equal(20n);
        expect((await gatewayOf(c.registry, c.gateway.address)).feeBps).to.equal(BigInt(GATEWAY_FEE_BPS));
        await c.registry.connect(c.governor).setMaxFee(GATEWAY_FEE_BPS);
        expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress)).feeBps).to.equal(
          BigInt(GATEWAY_FEE_BPS),
        );
        await c.registry.connect(c.governor).setMaxFee(0);
        expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress)).feeBps).to.equal(0n);
        await c.registry.connect(c.governor).setMaxFee(MAX_FEE_BPS);
        expect((await c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress)).feeBps).to.equal(
          BigInt(GATEWAY_FEE_BPS),
        );
      });
    });
  });

  describe("checkDeposit", function () {
    it("passes for an active acceptor and an allowlisted token", async function () {
      const c = await loadFixture(baseFixture);
      await c.registry.checkDeposit(c.acceptor.address, c.usdtAddr);
      await c.registry.checkDeposit(c.acceptor.address, c.daiAddr);
    });

    it("reverts RegistryPaused while paused", async function () {
      const c = await loadFixture(pausedFixture);
      await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr)).to.be.revertedWithCustomError(
        c.registry,
        "RegistryPaused",
      );
    });

    it("reverts RegistryTokenNotAllowed for a token off the allowlist", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.checkDeposit(c.acceptor.address, c.stranger.address))
        .to.be.revertedWithCustomError(c.registry, "RegistryTokenNotAllowed")
        .withArgs(c.stranger.address);
    });

    it("reverts RegistryAcceptorWrongStatus for unregistered, pending and suspended acceptors", async function () {
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
  });

  describe("canRule", function () {
    const expected: Record<keyof typeof GatewayStatus, boolean> = {
      None: false,
      Pending: false,
      Active: true,
      Suspended: false,
      Exiting: true,
      Exited: false,
    };
    for (const status of ALL_GATEWAY_STATUSES) {
      it(`is ${expected[status]} for a gateway that is ${status}`, async function () {
        const { c, gw } = await GATEWAY_IN[status]();
        expect((await gatewayOf(c.registry, gw.address)).status).to.equal(BigInt(GatewayStatus[status]));
        expect(await c.registry.canRule(gw.address)).to.equal(expected[status]);
      });
    }
  });

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
    it("return the fixture's bond token, minimum bond, fee cap, unbonding delay and pause flag", async function () {
      const c = await loadFixture(baseFixture);
      expect(await c.registry.bondToken()).to.equal(c.usdtAddr);
      expect(await c.registry.minBond()).to.equal(MIN_BOND);
      expect(await c.registry.maxFeeBps()).to.equal(BigInt(MAX_FEE_BPS));
      expect(await c.registry.unbondingDelay()).to.equal(BigInt(UNBONDING_DELAY));
      expect(await c.registry.paused()).to.equal(false);
      expect(await c.registry.isTokenAllowed(c.usdtAddr)).to.equal(true);
      expect(await c.registry.isTokenAllowed(c.daiAddr)).to.equal(true);
      expect(await c.registry.isTokenAllowed(c.stranger.address)).to.equal(false);
    });
  });
});
