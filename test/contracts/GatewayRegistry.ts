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
  RESOLUTION_WINDOW,
  MIN_UNBONDING_DELAY,
  Status,
  UNBONDING_DELAY,
  USDT,
  approveExactly,
  depositFloat,
  deployProtocol,
  disputedDeal,
  feeOf,
  makeDeal,
  openDeal,
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
const REASONS = ethers.id("ruling reasons");

/** Storage slot of `_gateways` (slot 0: AccessControl `_roles`; 1: packed parameters; 2: `_allowedTokens`). */
const GATEWAYS_MAPPING_SLOT = 3n;

type GatewayRecord = {
  bond: bigint;
  feeBps: bigint;
  feeCapBps: bigint;
  status: bigint;
  suspended: boolean;
  exitAt: bigint;
  openDisputes: bigint;
};

/** A gateway's record as a plain object, so it can be compared with `deep.equal`. */
async function gatewayOf(registry: GatewayRegistry, gw: string): Promise<GatewayRecord> {
  const g = await registry.getGateway(gw);
  return {
    bond: g.bond,
    feeBps: g.feeBps,
    feeCapBps: g.feeCapBps,
    status: g.status,
    suspended: g.suspended,
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

/** Requests `signer`'s exit and returns its `exitAt`. */
async function requestExit(c: Ctx, signer: HardhatEthersSigner): Promise<number> {
  const tx = await c.registry.connect(signer).requestExit();
  return (await minedAt(tx)) + Number(await c.registry.unbondingDelay());
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

/** Has the ESCROW_ROLE key note a dispute the gateway holds: the call returns true and the counter reaches `count`. */
async function holdDispute(c: Ctx, gw: string, count: number): Promise<void> {
  expect(await c.registry.connect(c.escrowKey).noteDisputeOpened.staticCall(gw)).to.equal(true);
  await expect(c.registry.connect(c.escrowKey).noteDisputeOpened(gw))
    .to.emit(c.registry, "GatewayDisputesChanged")
    .withArgs(gw, count);
}

/** A dispute raised now is not the gateway's: noteDisputeOpened returns false, changes nothing and emits nothing. */
async function expectNotHeld(c: Ctx, gw: string): Promise<void> {
  const before = await gatewayOf(c.registry, gw);
  expect(await c.registry.connect(c.escrowKey).noteDisputeOpened.staticCall(gw)).to.equal(false);
  const receipt = await (await c.registry.connect(c.escrowKey).noteDisputeOpened(gw)).wait();
  expect(receipt!.logs).to.have.length(0);
  expect(await gatewayOf(c.registry, gw)).to.deep.equal(before);
}

/**
 * The sanction is in force: the gateway is suspended, rules nothing (canRule false), is named in no deal (dealTerms
 * reverts: RegistryGatewaySuspended while Active, RegistryGatewayWrongStatus otherwise) and holds no new dispute.
 */
async function expectSanctioned(c: Ctx, gw: string): Promise<void> {
  const g = await gatewayOf(c.registry, gw);
  expect(g.suspended).to.equal(true);
  expect(await c.registry.canRule(gw)).to.equal(false);
  const terms = c.registry.dealTerms(gw, c.usdtAddr, ethers.ZeroAddress, false);
  if (g.status === BigInt(GatewayStatus.Active)) {
    await expect(terms).to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended").withArgs(gw);
  } else {
    await expect(terms).to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus").withArgs(gw, g.status);
  }
  await expectNotHeld(c, gw);
}

/*//////////////////////////////////////////////////////////////
                               FIXTURES
//////////////////////////////////////////////////////////////*/

/** The shared protocol, plus a plain key holding ESCROW_ROLE and a second, unregistered acceptor account. */
async function baseFixture() {
  const p = await deployProtocol();
  const [escrowKey, acceptor2, stranger, ...spare] = p.rest;
  await p.registry.connect(p.admin).grantRole(await p.registry.ESCROW_ROLE(), escrowKey.address);
  return {
    ...p,
    escrowKey,
    acceptor2,
    stranger,
    spare,
    usdtAddr: await p.usdt.getAddress(),
    daiAddr: await p.dai.getAddress(),
    registryAddr: await p.registry.getAddress(),
    escrowAddr: await p.escrow.getAddress(),
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

/** The fixture gateway (Active) suspended by the governor. */
async function suspendedFixture() {
  const c = await baseFixture();
  await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
  return c;
}

/** gateway2 registered and suspended before any approval. */
async function suspendedPendingFixture() {
  const c = await pendingFixture();
  await c.registry.connect(c.governor).suspendGateway(c.gateway2.address);
  return c;
}

/** The fixture gateway has requested its exit; `exitAt` is when its bond is due. */
async function exitingFixture() {
  const c = await baseFixture();
  const exitAt = await requestExit(c, c.gateway);
  return { ...c, exitAt };
}

/** The fixture gateway has requested its exit, then the governor suspended it. */
async function suspendedExitingFixture() {
  const c = await exitingFixture();
  await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
  return c;
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
    MIN_UNBONDING_DELAY,
  ])) as unknown as GatewayRegistry;
  await registry.grantRole(await registry.GOVERNOR_ROLE(), governor.address);
  await token.mint(gateway.address, MIN_BOND * 10n);
  await token.connect(gateway).approve(await registry.getAddress(), ethers.MaxUint256);
  const reentrancySelector = registry.interface.getError("ReentrancyGuardReentrantCall")!.selector;
  return { admin, governor, gateway, token, registry, reentrancySelector };
}

/** A gateway's standing: its life cycle status, alone or with governance's sanction on top. */
type Lifecycle = keyof typeof GatewayStatus;
type GatewayState = Lifecycle | "Pending, suspended" | "Active, suspended" | "Exiting, suspended";

const STATE: Record<
  GatewayState,
  { fixture: () => Promise<Ctx>; who: "gateway" | "gateway2"; status: Lifecycle; suspended: boolean }
> = {
  None: { fixture: baseFixture, who: "gateway2", status: "None", suspended: false },
  Pending: { fixture: pendingFixture, who: "gateway2", status: "Pending", suspended: false },
  Active: { fixture: baseFixture, who: "gateway", status: "Active", suspended: false },
  Exiting: { fixture: exitingFixture, who: "gateway", status: "Exiting", suspended: false },
  Exited: { fixture: exitedFixture, who: "gateway", status: "Exited", suspended: false },
  "Pending, suspended": { fixture: suspendedPendingFixture, who: "gateway2", status: "Pending", suspended: true },
  "Active, suspended": { fixture: suspendedFixture, who: "gateway", status: "Active", suspended: true },
  "Exiting, suspended": { fixture: suspendedExitingFixture, who: "gateway", status: "Exiting", suspended: true },
};
const ALL_STATES = Object.keys(STATE) as GatewayState[];
const SUSPENDED_STATES = ["Pending, suspended", "Active, suspended", "Exiting, suspended"] as const;

/** A gateway in `state`, in its own fixture, with the status it reports. */
async function gatewayIn(state: GatewayState) {
  const s = STATE[state];
  const c = await loadFixture(s.fixture);
  return { c, gw: c[s.who], status: GatewayStatus[s.status], suspended: s.suspended };
}

/** One test per state: `call` (by or about the state's gateway) reverts RegistryGatewayWrongStatus(gw, status). */
function itRevertsWrongStatus(
  states: readonly GatewayState[],
  subject: "gateway" | "caller",
  call: (c: Ctx, gw: HardhatEthersSigner) => Promise<unknown>,
): void {
  for (const state of states) {
    it(`when the ${subject} is ${state} → it reverts RegistryGatewayWrongStatus`, async function () {
      const { c, gw, status } = await gatewayIn(state);
      await expect(call(c, gw))
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewayWrongStatus")
        .withArgs(gw.address, status);
    });
  }
}

/** A registry deployer for the constructor tests. */
async function deployArgs() {
  const [deployer, admin] = await ethers.getSigners();
  const factory = (await ethers.getContractFactory("GatewayRegistry")).connect(deployer);
  const token = await (await ethers.getContractFactory("TestUSDT")).deploy();
  return { deployer, admin, factory, tokenAddr: await token.getAddress() };
}

/*//////////////////////////////////////////////////////////////
                                 TESTS
//////////////////////////////////////////////////////////////*/

describe("GatewayRegistry", function () {
  /*------------------------------------------------------------
                           constructor
  ------------------------------------------------------------*/
  describe("constructor", function () {
    describe("validations", function () {
      it("reverts RegistryZeroAddress for a zero admin", async function () {
        const { factory, tokenAddr } = await loadFixture(deployArgs);
        await expect(
          factory.deploy(ethers.ZeroAddress, tokenAddr, MIN_BOND, MAX_FEE_BPS, UNBONDING_DELAY, MIN_UNBONDING_DELAY),
        ).to.be.revertedWithCustomError(factory, "RegistryZeroAddress");
      });

      it("reverts RegistryZeroAddress for a zero bond token", async function () {
        const { factory, admin } = await loadFixture(deployArgs);
        await expect(
          factory.deploy(
            admin.address,
            ethers.ZeroAddress,
            MIN_BOND,
            MAX_FEE_BPS,
            UNBONDING_DELAY,
            MIN_UNBONDING_DELAY,
          ),
        ).to.be.revertedWithCustomError(factory, "RegistryZeroAddress");
      });

      it("reverts RegistryInvalidParameter for a fee cap above MAX_FEE_LIMIT_BPS", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        await expect(
          factory.deploy(
            admin.address,
            tokenAddr,
            MIN_BOND,
            MAX_FEE_LIMIT_BPS + 1,
            UNBONDING_DELAY,
            MIN_UNBONDING_DELAY,
          ),
        )
          .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
          .withArgs(MAX_FEE_LIMIT_BPS + 1, MAX_FEE_LIMIT_BPS);
      });

      it("reverts RegistryInvalidParameter for an unbonding delay above MAX_UNBONDING_DELAY", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        await expect(
          factory.deploy(admin.address, tokenAddr, MIN_BOND, MAX_FEE_BPS, MAX_UNBONDING_DELAY + 1, MIN_UNBONDING_DELAY),
        )
          .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
          .withArgs(MAX_UNBONDING_DELAY + 1, MAX_UNBONDING_DELAY);
      });

      it("when the floor is above MAX_UNBONDING_DELAY → reverts RegistryInvalidParameter(floor, MAX_UNBONDING_DELAY)", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        await expect(
          factory.deploy(admin.address, tokenAddr, MIN_BOND, MAX_FEE_BPS, MAX_UNBONDING_DELAY, MAX_UNBONDING_DELAY + 1),
        )
          .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
          .withArgs(MAX_UNBONDING_DELAY + 1, MAX_UNBONDING_DELAY);
      });

      it("when the initial delay is below the floor → reverts RegistryInvalidParameter(delay, floor)", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        await expect(factory.deploy(admin.address, tokenAddr, MIN_BOND, MAX_FEE_BPS, 3 * DAY - 1, 3 * DAY))
          .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
          .withArgs(3 * DAY - 1, 3 * DAY);
        await expect(factory.deploy(admin.address, tokenAddr, MIN_BOND, MAX_FEE_BPS, 0, 1))
          .to.be.revertedWithCustomError(factory, "RegistryInvalidParameter")
          .withArgs(0, 1);
      });

      it("when the initial delay equals the floor → deploys, and minUnbondingDelay() returns the floor", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        const registry = await factory.deploy(admin.address, tokenAddr, MIN_BOND, MAX_FEE_BPS, 3 * DAY, 3 * DAY);
        expect(await registry.unbondingDelay()).to.equal(BigInt(3 * DAY));
        expect(await registry.minUnbondingDelay()).to.equal(BigInt(3 * DAY));
      });

      it("accepts parameters exactly at their limits, and zeros", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        const atLimits = await factory.deploy(
          admin.address,
          tokenAddr,
          2n ** 96n - 1n,
          MAX_FEE_LIMIT_BPS,
          MAX_UNBONDING_DELAY,
          MAX_UNBONDING_DELAY,
        );
        expect(await atLimits.minBond()).to.equal(2n ** 96n - 1n);
        expect(await atLimits.maxFeeBps()).to.equal(MAX_FEE_LIMIT_BPS);
        expect(await atLimits.unbondingDelay()).to.equal(MAX_UNBONDING_DELAY);
        expect(await atLimits.minUnbondingDelay()).to.equal(MAX_UNBONDING_DELAY);
        const zeros = await factory.deploy(admin.address, tokenAddr, 0, 0, 0, 0);
        expect(await zeros.minBond()).to.equal(0n);
        expect(await zeros.maxFeeBps()).to.equal(0n);
        expect(await zeros.unbondingDelay()).to.equal(0n);
        expect(await zeros.minUnbondingDelay()).to.equal(0n);
      });
    });

    describe("effects and events", function () {
      it("emits MinBondSet, MaxFeeSet, UnbondingDelaySet and RoleGranted for the admin", async function () {
        const { factory, admin, deployer, tokenAddr } = await loadFixture(deployArgs);
        const registry = await factory.deploy(admin.address, tokenAddr, USDT(123), 77, 5 * DAY, 2 * DAY);
        const tx = registry.deploymentTransaction()!;
        await expect(tx).to.emit(registry, "MinBondSet").withArgs(USDT(123));
        await expect(tx).to.emit(registry, "MaxFeeSet").withArgs(77);
        await expect(tx)
          .to.emit(registry, "UnbondingDelaySet")
          .withArgs(5 * DAY);
        await expect(tx).to.emit(registry, "RoleGranted").withArgs(ethers.ZeroHash, admin.address, deployer.address);
      });

      it("stores the parameters and starts unpaused and empty, the bond token not yet allowed", async function () {
        const { factory, admin, tokenAddr } = await loadFixture(deployArgs);
        const registry = await factory.deploy(admin.address, tokenAddr, USDT(123), 77, 5 * DAY, 2 * DAY);
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

      it("grants DEFAULT_ADMIN_ROLE to the admin only, not to the deployer, and no other role", async function () {
        const { factory, admin, deployer, tokenAddr } = await loadFixture(deployArgs);
        const registry = await factory.deploy(admin.address, tokenAddr, USDT(123), 77, 5 * DAY, 2 * DAY);
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
      { fn: "setUnbondingDelay", role: "GOVERNOR_ROLE", call: (_c, r) => r.setUnbondingDelay(UNBONDING_DELAY) },
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
      { fn: "noteDisputeOpened", role: "ESCROW_ROLE", call: (c, r) => r.noteDisputeOpened(c.gateway.address) },
      { fn: "noteDisputeClosed", role: "ESCROW_ROLE", call: (c, r) => r.noteDisputeClosed(c.gateway.address) },
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
            privileged roles: the worst each can do (NatSpec)
  ------------------------------------------------------------*/
  describe("privileged roles: worst cases", function () {
    type Role = "GOVERNOR_ROLE" | "PAUSER_ROLE" | "ESCROW_ROLE";

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
      await expect(c.registry.connect(c.gateway).completeExit())
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
        .withArgs(c.gateway.address);
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
      await expect(c.registry.connect(c.gateway).completeExit()).to.changeTokenBalances(
        c.usdt,
        [c.registry, c.gateway],
        [-MIN_BOND, MIN_BOND],
      );
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
      await expect(c.registry.connect(c.gateway).completeExit())
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewayHasDisputes")
        .withArgs(c.gateway.address, 3);
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
      await expect(c.registry.connect(c.gateway).completeExit())
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
        .withArgs(c.gateway.address);
      await c.registry.connect(c.governor).reinstateGateway(c.gateway.address);
      const tx = c.registry.connect(c.gateway).completeExit();
      await expect(tx).to.emit(c.registry, "GatewayExited").withArgs(c.gateway.address, MIN_BOND);
      await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.gateway], [-MIN_BOND, MIN_BOND]);
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
      await expect(c.registry.connect(c.gateway).completeExit())
        .to.emit(c.registry, "GatewayExited")
        .withArgs(c.gateway.address, MIN_BOND);
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
      await expect(asGateway.completeExit())
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
        .withArgs(gw);
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
      await expect(c.registry.connect(c.gateway).completeExit())
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewayHasDisputes")
        .withArgs(c.gateway.address, 2);
      await c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address);
      await expect(c.registry.connect(c.gateway).completeExit())
        .to.be.revertedWithCustomError(c.registry, "RegistryGatewayHasDisputes")
        .withArgs(c.gateway.address, 1);
      await c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address);
      await expect(c.registry.connect(c.gateway).completeExit())
        .to.emit(c.registry, "GatewayExited")
        .withArgs(c.gateway.address, MIN_BOND);
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
      const tx = c.registry.connect(c.gateway).completeExit();
      await expect(tx).to.emit(c.registry, "GatewayExited").withArgs(c.gateway.address, MIN_BOND);
      await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, c.gateway], [-MIN_BOND, MIN_BOND]);
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
      await expect(c.registry.connect(c.gateway).completeExit())
        .to.emit(c.registry, "GatewayExited")
        .withArgs(c.gateway.address, MIN_BOND);
      expect((await c.escrow.getDeal(id)).status).to.equal(BigInt(Status.Disputed));
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

      it("disallowing the bond token → isTokenAllowed false; dealTerms and checkDeposit revert RegistryTokenNotAllowed; re-allowing restores both", async function () {
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

      it("keeps the bond token's flag and other tokens' flags apart", async function () {
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
    it("when the caller lacks GOVERNOR_ROLE → it reverts AccessControlUnauthorizedAccount", async function () {
      const c = await loadFixture(baseFixture);
      await expect(c.registry.connect(c.gateway).setUnbondingDelay(UNBONDING_DELAY))
        .to.be.revertedWithCustomError(c.registry, "AccessControlUnauthorizedAccount")
        .withArgs(c.gateway.address, await c.registry.GOVERNOR_ROLE());
    });

    it("when the delay is above MAX_UNBONDING_DELAY → it reverts RegistryInvalidParameter(delay, MAX_UNBONDING_DELAY)", async function () {
      const { registry, governor } = await loadFixture(baseFixture);
      await expect(registry.connect(governor).setUnbondingDelay(MAX_UNBONDING_DELAY + 1))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidParameter")
        .withArgs(MAX_UNBONDING_DELAY + 1, MAX_UNBONDING_DELAY);
      expect(await registry.unbondingDelay()).to.equal(BigInt(UNBONDING_DELAY));
    });

    it("when the delay is below minUnbondingDelay → it reverts RegistryInvalidParameter(delay, minUnbondingDelay)", async function () {
      const { registry, governor } = await loadFixture(baseFixture);
      expect(await registry.minUnbondingDelay()).to.equal(BigInt(MIN_UNBONDING_DELAY));
      for (const delay of [MIN_UNBONDING_DELAY - 1, DAY, 0]) {
        await expect(registry.connect(governor).setUnbondingDelay(delay))
          .to.be.revertedWithCustomError(registry, "RegistryInvalidParameter")
          .withArgs(delay, MIN_UNBONDING_DELAY);
      }
      expect(await registry.unbondingDelay()).to.equal(BigInt(UNBONDING_DELAY));
    });

    it("when minUnbondingDelay <= delay <= MAX_UNBONDING_DELAY → it stores it and emits UnbondingDelaySet (both bounds included)", async function () {
      const { registry, governor } = await loadFixture(baseFixture);
      await expect(registry.connect(governor).setUnbondingDelay(MAX_UNBONDING_DELAY))
        .to.emit(registry, "UnbondingDelaySet")
        .withArgs(MAX_UNBONDING_DELAY);
      expect(await registry.unbondingDelay()).to.equal(BigInt(MAX_UNBONDING_DELAY));
      await expect(registry.connect(governor).setUnbondingDelay(MIN_UNBONDING_DELAY))
        .to.emit(registry, "UnbondingDelaySet")
        .withArgs(MIN_UNBONDING_DELAY);
      expect(await registry.unbondingDelay()).to.equal(BigInt(MIN_UNBONDING_DELAY));
    });

    it("it applies to exits requested afterwards, not to exits already requested", async function () {
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
          c.registry.dealTerms(c.gateway.address, c.usdtAddr, ethers.ZeroAddress, false),
        ).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
        await expect(
          c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true),
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

      it("gateway and acceptor governance and the dispute hooks work while paused", async function () {
        const c = await loadFixture(pausedFixture);
        await expect(c.registry.connect(c.gateway).suspendAcceptor(c.acceptor.address)).to.emit(
          c.registry,
          "AcceptorSuspended",
        );
        await holdDispute(c, c.gateway.address, 1);
        await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address))
          .to.emit(c.registry, "GatewayDisputesChanged")
          .withArgs(c.gateway.address, 0);
        await expect(c.registry.connect(c.governor).suspendGateway(c.gateway.address)).to.emit(
          c.registry,
          "GatewaySuspended",
        );
        await expect(c.registry.connect(c.governor).reinstateGateway(c.gateway.address)).to.emit(
          c.registry,
          "GatewayReinstated",
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
                    suspendGateway / reinstateGateway
  ------------------------------------------------------------*/
  describe("suspendGateway", function () {
    describe("validations", function () {
      it("when the caller lacks GOVERNOR_ROLE → it reverts AccessControlUnauthorizedAccount", async function () {
        const c = await loadFixture(baseFixture);
        await expect(c.registry.connect(c.arbiter).suspendGateway(c.gateway.address))
          .to.be.revertedWithCustomError(c.registry, "AccessControlUnauthorizedAccount")
          .withArgs(c.arbiter.address, await c.registry.GOVERNOR_ROLE());
      });

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
        await holdDispute(c, c.gateway.address, 1);
        await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
        expect(await c.registry.canRule(c.gateway.address)).to.equal(false);
        await expect(c.registry.dealTerms(c.gateway.address, c.usdtAddr, c.acceptor.address, true))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
          .withArgs(c.gateway.address);
        await expect(c.registry.checkDeposit(c.acceptor.address, c.usdtAddr))
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
          .withArgs(c.gateway.address);
        await expectNotHeld(c, c.gateway.address);
        expect((await gatewayOf(c.registry, c.gateway.address)).openDisputes).to.equal(1n);
        await expect(c.registry.connect(c.escrowKey).noteDisputeClosed(c.gateway.address))
          .to.emit(c.registry, "GatewayDisputesChanged")
          .withArgs(c.gateway.address, 0);
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
        await expect(c.registry.connect(c.gateway).completeExit())
          .to.be.revertedWithCustomError(c.registry, "RegistryGatewaySuspended")
          .withArgs(c.gateway.address);
      });
    });
  });

  describe("reinstateGateway", function () {
    it("when the caller lacks GOVERNOR_ROLE → it reverts AccessControlUnauthorizedAccount", async function () {
      const c = await loadFixture(suspendedFixture);
      await expect(c.registry.connect(c.gateway).reinstateGateway(c.gateway.address))
        .to.be.revertedWithCustomError(c.registry, "AccessControlUnauthorizedAccount")
        .withArgs(c.gateway.address, await c.registry.GOVERNOR_ROLE());
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
      expect(await gatewayOf(c.registry, c.gateway.address)).to.deep.equal({
        bond: MIN_BOND,
        feeBps: BigInt(GATEWAY_FEE_BPS),
        feeCapBps: BigInt(GATEWAY_FEE_CAP_BPS),
        status: BigInt(GatewayStatus.Active),
        suspended: false,
        exitAt: 0n,
        openDisputes: 0n,
      });
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
      await expect(c.registry.connect(c.gateway).completeExit())
        .to.emit(c.registry, "GatewayExited")
        .withArgs(c.gateway.address, MIN_BOND);
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
      it("reverts RegistryZeroAddress for a zero recipient", async function () {
        const c = await loadFixture(baseFixture);
        await expect(
          c.registry.connect(c.governor).slashGateway(c.gateway.address, USDT(1), ethers.ZeroAddress),
        ).to.be.revertedWithCustomError(c.registry, "RegistryZeroAddress");
      });

      itRevertsWrongStatus(["None", "Exited"], "gateway", (c, gw) =>
        c.registry.connect(c.governor).slashGateway(gw.address, USDT(1), c.other.address),
      );

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
      for (const state of ["Pending", "Active", "Exiting", ...SUSPENDED_STATES] as const) {
        it(`slashes a gateway that is ${state} to the recipient and emits GatewaySlashed`, async function () {
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
        await c.usdt.connect(c.admin).setParams(10, 20); // 0.1%, at most 20 USDT
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
