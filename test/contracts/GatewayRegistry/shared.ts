import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { ethers } from "hardhat";

import type { GatewayRegistry, HostileToken } from "../../../typechain-types";
import {
  DAY,
  GATEWAY_FEE_CAP_BPS,
  GatewayStatus,
  MAX_FEE_BPS,
  MIN_BOND,
  MIN_UNBONDING_DELAY,
  UNBONDING_DELAY,
  approveExactly,
  deployProtocol,
  type Protocol,
  loadFixture,
} from "../fixtures";

/*//////////////////////////////////////////////////////////////
                         CONSTANTS AND HELPERS
//////////////////////////////////////////////////////////////*/

export const MAX_FEE_LIMIT_BPS = 1_000;
export const MAX_UNBONDING_DELAY = 180 * DAY;
export const MAX_UINT32 = 2n ** 32n - 1n;
export const META = ethers.id("gateway2 terms v1");
export const GATEWAY2_FEE_BPS = 100;
export const METHOD_PIX = ethers.id("PIX:BRL");
export const METHOD_UPI = ethers.id("UPI:INR");
export const REASONS = ethers.id("ruling reasons");

/** Storage slot of `_gateways` (slot 0: AccessControl `_roles`; 1: packed parameters; 2: `_allowedTokens`). */
export const GATEWAYS_MAPPING_SLOT = 3n;

export type GatewayRecord = {
  bond: bigint;
  feeBps: bigint;
  feeCapBps: bigint;
  status: bigint;
  suspended: boolean;
  exitAt: bigint;
  openDisputes: bigint;
};

/** A gateway's record as a plain object, so it can be compared with `deep.equal`. */
export async function gatewayOf(registry: GatewayRegistry, gw: string): Promise<GatewayRecord> {
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
export async function acceptorOf(registry: GatewayRegistry, acc: string) {
  const a = await registry.getAcceptor(acc);
  return { gateway: a.gateway, status: a.status, lockDelegate: a.lockDelegate };
}

/** Approves the registry for exactly `bond` and registers `signer` as a gateway. */
export async function registerGateway(
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
export async function addBond(
  p: Protocol,
  signer: HardhatEthersSigner,
  amount: bigint,
): Promise<ContractTransactionResponse> {
  await approveExactly(p.usdt, signer, await p.registry.getAddress(), amount);
  return p.registry.connect(signer).addBond(amount);
}

/** The timestamp of the block that mined `tx`. */
export async function minedAt(tx: ContractTransactionResponse): Promise<number> {
  const receipt = await tx.wait();
  const block = await ethers.provider.getBlock(receipt!.blockNumber);
  return block!.timestamp;
}

/** Requests `signer`'s exit and returns its `exitAt`. */
export async function requestExit(c: Ctx, signer: HardhatEthersSigner): Promise<number> {
  const tx = await c.registry.connect(signer).requestExit();
  return (await minedAt(tx)) + Number(await c.registry.unbondingDelay());
}

/** The (method, supported) pairs of every AcceptorMethodSet event emitted by `tx`, in order. */
export async function methodEvents(
  registry: GatewayRegistry,
  tx: ContractTransactionResponse,
): Promise<[string, boolean][]> {
  const receipt = await tx.wait();
  const out: [string, boolean][] = [];
  for (const log of receipt!.logs) {
    const parsed = registry.interface.parseLog(log);
    if (parsed?.name === "AcceptorMethodSet") out.push([parsed.args.method, parsed.args.supported]);
  }
  return out;
}

/** Has the ESCROW_ROLE key note a dispute the gateway holds: the call returns true and the counter reaches `count`. */
export async function holdDispute(c: Ctx, gw: string, count: number): Promise<void> {
  expect(await c.registry.connect(c.escrowKey).noteDisputeOpened.staticCall(gw)).to.equal(true);
  await expect(c.registry.connect(c.escrowKey).noteDisputeOpened(gw))
    .to.emit(c.registry, "GatewayDisputesChanged")
    .withArgs(gw, count);
}

/** A dispute raised now is not the gateway's: noteDisputeOpened returns false, changes nothing and emits nothing. */
export async function expectNotHeld(c: Ctx, gw: string): Promise<void> {
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
export async function expectSanctioned(c: Ctx, gw: string): Promise<void> {
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
export async function baseFixture() {
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
export type Ctx = Awaited<ReturnType<typeof baseFixture>>;

/** gateway2 registered (bond MIN_BOND, fee 100 bps), awaiting approval. */
export async function pendingFixture() {
  const c = await baseFixture();
  await registerGateway(c, c.gateway2);
  return c;
}

/** gateway2 registered and approved with a cap of 300 bps; acceptor2 approved under it. */
export async function twoGatewaysFixture() {
  const c = await pendingFixture();
  await c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY_FEE_CAP_BPS);
  await c.registry.connect(c.acceptor2).registerAcceptor(c.gateway2.address, ethers.ZeroAddress);
  await c.registry.connect(c.gateway2).approveAcceptor(c.acceptor2.address);
  return c;
}

/** The fixture gateway (Active) suspended by the governor. */
export async function suspendedFixture() {
  const c = await baseFixture();
  await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
  return c;
}

/** gateway2 registered and suspended before any approval. */
export async function suspendedPendingFixture() {
  const c = await pendingFixture();
  await c.registry.connect(c.governor).suspendGateway(c.gateway2.address);
  return c;
}

/** The fixture gateway has requested its exit; `exitAt` is when its bond is due. */
export async function exitingFixture() {
  const c = await baseFixture();
  const exitAt = await requestExit(c, c.gateway);
  return { ...c, exitAt };
}

/** The fixture gateway has requested its exit, then the governor suspended it. */
export async function suspendedExitingFixture() {
  const c = await exitingFixture();
  await c.registry.connect(c.governor).suspendGateway(c.gateway.address);
  return c;
}

/** The fixture gateway has exited and taken its bond back. */
export async function exitedFixture() {
  const c = await exitingFixture();
  await time.increaseTo(c.exitAt);
  await c.registry.connect(c.gateway).completeExit();
  return c;
}

/** The protocol paused by the pauser. */
export async function pausedFixture() {
  const c = await baseFixture();
  await c.registry.connect(c.pauser).pause();
  return c;
}

/** The fixture acceptor suspended by its gateway. */
export async function suspendedAcceptorFixture() {
  const c = await baseFixture();
  await c.registry.connect(c.gateway).suspendAcceptor(c.acceptor.address);
  return c;
}

/** acceptor2 registered under the fixture gateway, awaiting approval. */
export async function pendingAcceptorFixture() {
  const c = await baseFixture();
  await c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, c.delegate.address);
  return c;
}

/** A registry whose bond token is a HostileToken that can call back into the registry mid-transfer. */
export async function hostileFixture() {
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
export type Lifecycle = keyof typeof GatewayStatus;
export type GatewayState = Lifecycle | "Pending, suspended" | "Active, suspended" | "Exiting, suspended";

export const STATE: Record<
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
export const ALL_STATES = Object.keys(STATE) as GatewayState[];
export const SUSPENDED_STATES = ["Pending, suspended", "Active, suspended", "Exiting, suspended"] as const;

/** A gateway in `state`, in its own fixture, with the status it reports. */
export async function gatewayIn(state: GatewayState) {
  const s = STATE[state];
  const c = await loadFixture(s.fixture);
  return { c, gw: c[s.who], status: GatewayStatus[s.status], suspended: s.suspended };
}

/** One test per state: `call` (by or about the state's gateway) reverts RegistryGatewayWrongStatus(gw, status). */
export function itRevertsWrongStatus(
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
export async function deployArgs() {
  const [deployer, admin] = await ethers.getSigners();
  const factory = (await ethers.getContractFactory("GatewayRegistry")).connect(deployer);
  const token = await (await ethers.getContractFactory("TestUSDT")).deploy();
  return { deployer, admin, factory, tokenAddr: await token.getAddress() };
}
