/**
 * What the GatewayRegistry tests share: helpers, the fixtures and the gateway and acceptor standings they reach,
 * and the shared behaviours (functions that declare the same tests, with parameters, for several functions).
 */
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { ethers } from "hardhat";

import type { GatewayRegistry, HostileToken } from "../../../typechain-types";
import { AcceptorStatus, approveExactly, DAY, deployProtocol, GATEWAY_FEE_BPS, GATEWAY_FEE_CAP_BPS } from "../fixtures";
import { GatewayStatus, loadFixture, MAX_FEE_BPS, MIN_BOND, MIN_UNBONDING_DELAY, type Protocol } from "../fixtures";
import { UNBONDING_DELAY } from "../fixtures";

/*//////////////////////////////////////////////////////////////
                         CONSTANTS AND HELPERS
//////////////////////////////////////////////////////////////*/

export const MAX_FEE_LIMIT_BPS = 1_000;
export const MAX_UNBONDING_DELAY = 180 * DAY;
export const META = ethers.id("gateway2 terms v1");
export const GATEWAY2_FEE_BPS = 100;

/** The fixture gateway's record as deployProtocol leaves it: Active, in good standing, bond and fee untouched. */
export const FIXTURE_GATEWAY: GatewayRecord = {
  bond: MIN_BOND,
  feeBps: BigInt(GATEWAY_FEE_BPS),
  feeCapBps: BigInt(GATEWAY_FEE_CAP_BPS),
  status: BigInt(GatewayStatus.Active),
  suspended: false,
  exitAt: 0n,
  openDisputes: 0n,
};

/** A gateway's record as a plain object, so it can be compared with `deep.equal`. */
export async function gatewayOf(registry: GatewayRegistry, gw: string) {
  const { bond, feeBps, feeCapBps, status, suspended, exitAt, openDisputes } = await registry.getGateway(gw);
  return { bond, feeBps, feeCapBps, status, suspended, exitAt, openDisputes };
}
export type GatewayRecord = Awaited<ReturnType<typeof gatewayOf>>;

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

/** completeExit by `gw` pays back `amount`: the tokens move from the registry and GatewayExited reports it. */
export async function expectExitPays(c: Ctx, gw: HardhatEthersSigner, amount: bigint): Promise<void> {
  const tx = c.registry.connect(gw).completeExit();
  await expect(tx).to.changeTokenBalances(c.usdt, [c.registry, gw], [-amount, amount]);
  await expect(tx).to.emit(c.registry, "GatewayExited").withArgs(gw.address, amount);
}

/** completeExit by `gw` reverts `error`, whose arguments are the gateway's address and then `args`. */
export async function expectExitRefused(
  c: Ctx,
  gw: HardhatEthersSigner,
  error: "RegistryGatewaySuspended" | "RegistryGatewayHasDisputes" | "RegistryUnbonding",
  ...args: unknown[]
): Promise<void> {
  await expect(c.registry.connect(gw).completeExit())
    .to.be.revertedWithCustomError(c.registry, error)
    .withArgs(gw.address, ...args);
}

/*//////////////////////////////////////////////////////////////
                     FIXTURES AND STANDINGS
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

/** A fixture that runs `step` on what `from` built (a named function: loadFixture refuses anonymous ones). */
export function extend<T>(from: () => Promise<T>, step: (c: T) => Promise<unknown>): () => Promise<T> {
  return async function fixture() {
    const c = await from();
    await step(c);
    return c;
  };
}

/** gateway2 registered (bond MIN_BOND, fee 100 bps), awaiting approval. */
export const pendingFixture = extend(baseFixture, (c) => registerGateway(c, c.gateway2));

/** gateway2 registered and approved with a cap of 300 bps; acceptor2 approved under it. */
export const twoGatewaysFixture = extend(pendingFixture, async (c) => {
  await c.registry.connect(c.governor).approveGateway(c.gateway2.address, GATEWAY_FEE_CAP_BPS);
  await c.registry.connect(c.acceptor2).registerAcceptor(c.gateway2.address, ethers.ZeroAddress);
  await c.registry.connect(c.gateway2).approveAcceptor(c.acceptor2.address);
});

/** The fixture gateway (Active) suspended by the governor. */
export const suspendedFixture = extend(baseFixture, (c) =>
  c.registry.connect(c.governor).suspendGateway(c.gateway.address),
);

/** gateway2 registered and suspended before any approval. */
export const suspendedPendingFixture = extend(pendingFixture, (c) =>
  c.registry.connect(c.governor).suspendGateway(c.gateway2.address),
);

/** The fixture gateway has requested its exit; `exitAt` is when its bond is due. */
export async function exitingFixture() {
  const c = await baseFixture();
  return { ...c, exitAt: await requestExit(c, c.gateway) };
}

/** The fixture gateway has requested its exit, then the governor suspended it. */
export const suspendedExitingFixture = extend(exitingFixture, (c) =>
  c.registry.connect(c.governor).suspendGateway(c.gateway.address),
);

/** The fixture gateway has exited and taken its bond back. */
export const exitedFixture = extend(exitingFixture, async (c) => {
  await time.increaseTo(c.exitAt);
  await c.registry.connect(c.gateway).completeExit();
});

/** The protocol paused by the pauser. */
export const pausedFixture = extend(baseFixture, (c) => c.registry.connect(c.pauser).pause());

/** The fixture gateway holds one dispute, noted by the ESCROW_ROLE key. */
export const heldDisputeFixture = extend(baseFixture, (c) =>
  c.registry.connect(c.escrowKey).noteDisputeOpened(c.gateway.address),
);

/** The fixture acceptor suspended by its gateway. */
export const suspendedAcceptorFixture = extend(baseFixture, (c) =>
  c.registry.connect(c.gateway).suspendAcceptor(c.acceptor.address),
);

/** acceptor2 registered under the fixture gateway, awaiting approval. */
export const pendingAcceptorFixture = extend(baseFixture, (c) =>
  c.registry.connect(c.acceptor2).registerAcceptor(c.gateway.address, c.delegate.address),
);

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
type Lifecycle = keyof typeof GatewayStatus;
export type GatewayState = Lifecycle | "Pending, suspended" | "Active, suspended" | "Exiting, suspended";

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
export const ALL_STATES = Object.keys(STATE) as GatewayState[];
export const SUSPENDED_STATES = ["Pending, suspended", "Active, suspended", "Exiting, suspended"] as const;

/** A gateway in `state`, in its own fixture, with the status it reports. */
export async function gatewayIn(state: GatewayState) {
  const s = STATE[state];
  const c = await loadFixture(s.fixture);
  return { c, gw: c[s.who], status: GatewayStatus[s.status], suspended: s.suspended };
}

/** An acceptor account's standing, each in its own fixture: a stranger (None), acceptor2 (Pending), the acceptor. */
type AcceptorState = keyof typeof AcceptorStatus;
const ACCEPTOR: Record<AcceptorState, { fixture: () => Promise<Ctx>; who: "stranger" | "acceptor" | "acceptor2" }> = {
  None: { fixture: baseFixture, who: "stranger" },
  Pending: { fixture: pendingAcceptorFixture, who: "acceptor2" },
  Active: { fixture: baseFixture, who: "acceptor" },
  Suspended: { fixture: suspendedAcceptorFixture, who: "acceptor" },
};

/*//////////////////////////////////////////////////////////////
                          SHARED BEHAVIOURS
//////////////////////////////////////////////////////////////*/

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

/** One test per state: `call` (by or about the state's acceptor) reverts RegistryAcceptorWrongStatus(acc, status). */
export function itRevertsAcceptorWrongStatus(
  states: readonly AcceptorState[],
  subject: string,
  call: (c: Ctx, acc: HardhatEthersSigner) => Promise<unknown>,
): void {
  for (const state of states) {
    it(`when ${subject} is ${state} → it reverts RegistryAcceptorWrongStatus`, async function () {
      const c = await loadFixture(ACCEPTOR[state].fixture);
      const acc = c[ACCEPTOR[state].who];
      await expect(call(c, acc))
        .to.be.revertedWithCustomError(c.registry, "RegistryAcceptorWrongStatus")
        .withArgs(acc.address, AcceptorStatus[state]);
    });
  }
}

/** The roles the registry's own functions check. */
export type Role = "GOVERNOR_ROLE" | "PAUSER_ROLE" | "ESCROW_ROLE";

/**
 * One test of a role-gated function: `call` reverts AccessControlUnauthorizedAccount(caller, role) for each of the
 * six fixture accounts without `role` (the admin, the other role holders, the gateway, a stranger). With `first`,
 * `fixture` is a state in which the holder's call fails a later check, so the role is seen to be checked first;
 * without it, the holder's same call then succeeds, so nothing but the role stood in the way.
 */
export function itRequiresRole(
  role: Role,
  call: (c: Ctx, r: GatewayRegistry) => Promise<unknown>,
  { fixture = baseFixture, first }: { fixture?: () => Promise<Ctx>; first?: string } = {},
): void {
  const then = first ? `, checked first (${first})` : "; the holder's same call succeeds";
  it(`when the caller lacks ${role} → it reverts AccessControlUnauthorizedAccount${then}`, async function () {
    const c = await loadFixture(fixture);
    const holder = { GOVERNOR_ROLE: c.governor, PAUSER_ROLE: c.pauser, ESCROW_ROLE: c.escrowKey }[role];
    const callers = [c.admin, c.governor, c.pauser, c.arbiter, c.escrowKey, c.gateway, c.other].filter(
      (s) => s.address !== holder.address,
    );
    expect(callers).to.have.length(6);
    const roleId = await c.registry[role]();
    for (const s of callers) {
      await expect(call(c, c.registry.connect(s)))
        .to.be.revertedWithCustomError(c.registry, "AccessControlUnauthorizedAccount")
        .withArgs(s.address, roleId);
    }
    if (!first) await call(c, c.registry.connect(holder));
  });
}

/**
 * One test: while the registry is paused, `call` reverts RegistryPaused. With `first`, `call` would also fail later
 * checks, so the pause is seen to be checked first; without it, the same call succeeds once the registry is unpaused.
 */
export function itRevertsWhenPaused(call: (c: Ctx) => Promise<unknown>, first?: string): void {
  const then = first ? `, checked first (${first})` : "; once unpaused the same call succeeds";
  it(`when paused → it reverts RegistryPaused${then}`, async function () {
    const c = await loadFixture(pausedFixture);
    await expect(call(c)).to.be.revertedWithCustomError(c.registry, "RegistryPaused");
    if (first) return;
    await c.registry.connect(c.pauser).unpause();
    await call(c);
  });
}

/** The governance parameters set within bounds: each setter's getter and event. */
const BOUNDED = {
  setMinBond: { getter: "minBond", event: "MinBondSet" },
  setMaxFee: { getter: "maxFeeBps", event: "MaxFeeSet" },
  setUnbondingDelay: { getter: "unbondingDelay", event: "UnbondingDelaySet" },
} as const;

/** A parameter's bounds: the least value accepted (a floor above zero is enforced) and the greatest, by name. */
export interface Bounds {
  min: bigint;
  minName?: string;
  max: bigint;
  maxName: string;
  /** False where the parameter's type is the only upper limit. */
  hardMax?: boolean;
}

/**
 * The tests of a bounded governance setter: only a governor may call it; above a hard maximum and below a floor
 * above zero it reverts RegistryInvalidParameter(value, bound) and keeps the value; within the bounds (both
 * included) it stores the value and emits its event. Without a hard maximum, the type's largest value is stored.
 */
export function itIsBoundedSetter(setter: keyof typeof BOUNDED, bounds: Bounds): void {
  const { getter, event } = BOUNDED[setter];
  const { min, minName = "0", max, maxName, hardMax = true } = bounds;
  const set = (c: Ctx, value: bigint) => c.registry.connect(c.governor)[setter](value);
  async function expectRefused(c: Ctx, value: bigint, bound: bigint): Promise<void> {
    const kept = await c.registry[getter]();
    await expect(set(c, value))
      .to.be.revertedWithCustomError(c.registry, "RegistryInvalidParameter")
      .withArgs(value, bound);
    expect(await c.registry[getter]()).to.equal(kept);
  }
  async function expectStored(c: Ctx, value: bigint): Promise<void> {
    await expect(set(c, value)).to.emit(c.registry, event).withArgs(value);
    expect(await c.registry[getter]()).to.equal(value);
  }

  itRequiresRole("GOVERNOR_ROLE", (_c, r) => r[setter](min));
  if (hardMax) {
    it(`when the value is above ${maxName} → it reverts RegistryInvalidParameter(value, ${maxName}); the value is kept`, async function () {
      const c = await loadFixture(baseFixture);
      await expectRefused(c, max + 1n, max);
    });
  } else {
    it(`when the value is ${maxName} → it is stored: the setter has no hard limit`, async function () {
      const c = await loadFixture(baseFixture);
      await expectStored(c, max);
    });
  }
  if (min > 0n) {
    it(`when the value is below ${minName} → it reverts RegistryInvalidParameter(value, ${minName}); the value is kept`, async function () {
      const c = await loadFixture(baseFixture);
      for (const value of [min - 1n, min / 2n, 0n]) await expectRefused(c, value, min);
    });
  }
  it(`when ${minName} <= value <= ${maxName} → it is stored and ${event} emitted (both bounds included)`, async function () {
    const c = await loadFixture(baseFixture);
    for (const value of [max, (min + max) / 2n, min]) await expectStored(c, value);
  });
}

/** The hostile-token registry of hostileFixture. */
type Hostile = Awaited<ReturnType<typeof hostileFixture>>;

/**
 * One test: while `act` moves the bond token, the token calls back into the registry with the calldata `reentry`
 * gives; the inner call fails with ReentrancyGuardReentrantCall and `act` (which checks its own outcome) completes.
 */
export function itRefusesReentry(
  reentry: (h: Hostile) => Promise<string> | string,
  act: (h: Hostile) => Promise<void>,
  prepare: (h: Hostile) => Promise<unknown> = async () => undefined,
): void {
  it("when the bond token calls back into the registry mid-transfer → the inner call reverts ReentrancyGuardReentrantCall; the outer call completes", async function () {
    const h = await loadFixture(hostileFixture);
    await prepare(h);
    await h.token.arm(await h.registry.getAddress(), await reentry(h));
    await act(h);
    expect(await h.token.lastCallFailed()).to.equal(true);
    expect(await h.token.lastRevertData()).to.equal(h.reentrancySelector);
  });
}
