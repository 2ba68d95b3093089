import { ethers, network } from "hardhat";
import { loadFixture as loadSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Escrow, GatewayRegistry, TestERC20, TestUSDT } from "../../typechain-types";
import type { IEscrow } from "../../typechain-types/contracts/Escrow";
import * as protocol from "../../protocol";
import { AcceptorStatus, Action, Flags, GatewayStatus, Kind, RefundReason, Status } from "../../protocol";

/**
 * `loadFixture` with a pinned clock: after the snapshot is restored, one block is mined one second after the
 * snapshot's last block. Without it the next block's timestamp is the snapshot's plus the wall time since the
 * fixture was first built (the node's clock keeps running across reverts), so how long earlier tests took would
 * leak into every test's deadlines and windows.
 */
export async function loadFixture<T>(fixture: () => Promise<T>): Promise<T> {
  const data = await loadSnapshot(fixture);
  await network.provider.request({ method: "evm_setNextBlockTimestamp", params: [(await time.latest()) + 1] });
  await network.provider.request({ method: "evm_mine", params: [] });
  return data;
}

/** Enums as the contracts number them, from the protocol model (test/protocol/enums.ts checks them). */
export { Kind, Status, Action, RefundReason, GatewayStatus, AcceptorStatus, Flags };

export const USDT = (n: number | string): bigint => ethers.parseUnits(String(n), 6);
export const HOUR = 3600;
export const DAY = 24 * HOUR;
export const MIN_BOND = USDT(10_000);
export const MAX_FEE_BPS = 500;
export const GATEWAY_FEE_BPS = 50; // 0.5%
export const GATEWAY_FEE_CAP_BPS = 300;
export const RESOLUTION_WINDOW = 3 * DAY;
/** The escrow's least time to slash a leaving gateway after its last ruling (`MIN_SLASH_TIME`). */
export const MIN_SLASH_TIME = 7 * DAY;
/** The registry's floor of the unbonding delay: exactly what the escrow's resolution window requires. */
export const MIN_UNBONDING_DELAY = RESOLUTION_WINDOW + MIN_SLASH_TIME;
export const UNBONDING_DELAY = 14 * DAY;
export const RELEASE_WINDOW = DAY;
export const METHOD_SEPA = ethers.id("SEPA:EUR");

/** The escrow's limits as the tests expect them (the contract keeps them private; these are the tests' own). */
export const MIN_RELEASE_WINDOW = HOUR;
export const MAX_RELEASE_WINDOW = 90 * DAY;
export const MAX_DEAL_DURATION = 365 * DAY;
export const MAX_DELEGATE_LOCK_DURATION = 7 * DAY;
export const MAX_DELEGATE_RELEASE_WINDOW = 2 * DAY;
export const MIN_RESOLUTION_WINDOW = HOUR;
export const MAX_RESOLUTION_WINDOW = 90 * DAY;
export const PAYOUT_GAS = 100_000;
export const REGISTRY_HOOK_GAS = 60_000;
/** First 12 bytes of every salt of a lock by an acceptor's delegate, and of no other deal's salt. */
export const DELEGATE_SALT_PREFIX = ethers.dataSlice(ethers.id("USDT Escrow: lock by delegate"), 0, 12);

export type Deal = IEscrow.DealStruct;
export type DealOut = {
  payer: string;
  payee: string;
  gateway: string;
  token: string;
  amount: bigint;
  deadline: bigint;
  releaseWindow: bigint;
  feeBps: bigint;
  kind: bigint;
  autoRelease: boolean;
  salt: string;
};

/** Roles and contracts of a deployed protocol with one approved gateway and one approved acceptor. */
export type Protocol = Awaited<ReturnType<typeof deployProtocol>>;

/** Deploys the registry and escrow with the test tokens, wires the roles and funds the actors. */
export async function deployProtocol() {
  const [admin, governor, pauser, arbiter, gateway, gateway2, acceptor, delegate, payer, payee, other, ...rest] =
    await ethers.getSigners();

  const usdt = (await (await ethers.getContractFactory("TestUSDT")).connect(admin).deploy()) as unknown as TestUSDT;
  const dai = (await (await ethers.getContractFactory("TestERC20")).deploy("Dai", "DAI", 18)) as unknown as TestERC20;

  const registry = (await (
    await ethers.getContractFactory("GatewayRegistry")
  ).deploy(
    admin.address,
    await usdt.getAddress(),
    MIN_BOND,
    MAX_FEE_BPS,
    UNBONDING_DELAY,
    MIN_UNBONDING_DELAY,
  )) as unknown as GatewayRegistry;
  const escrow = (await (
    await ethers.getContractFactory("Escrow")
  ).deploy(await registry.getAddress(), RESOLUTION_WINDOW)) as unknown as Escrow;

  await registry.grantRole(await registry.GOVERNOR_ROLE(), governor.address);
  await registry.grantRole(await registry.PAUSER_ROLE(), pauser.address);
  await registry.grantRole(await registry.ARBITER_ROLE(), arbiter.address);
  await registry.grantRole(await registry.ESCROW_ROLE(), await escrow.getAddress());
  await registry.connect(governor).setTokenAllowed(await usdt.getAddress(), true);
  await registry.connect(governor).setTokenAllowed(await dai.getAddress(), true);

  const everyone = [gateway, gateway2, acceptor, delegate, payer, payee, other, ...rest.slice(0, 4)];
  for (const s of everyone) {
    await usdt.connect(admin).mint(s.address, USDT(1_000_000));
    await dai.mint(s.address, ethers.parseEther("1000000"));
  }

  // Gateway: register with the minimum bond, approved by the governor.
  await usdt.connect(gateway).approve(await registry.getAddress(), MIN_BOND);
  await registry.connect(gateway).registerGateway(MIN_BOND, GATEWAY_FEE_BPS, ethers.id("gateway terms v1"));
  await registry.connect(governor).approveGateway(gateway.address, GATEWAY_FEE_CAP_BPS);

  // Acceptor under the gateway, with a lock delegate, limits in both tokens, and a SEPA method.
  await registry.connect(acceptor).registerAcceptor(gateway.address, delegate.address);
  await registry.connect(gateway).approveAcceptor(acceptor.address);
  await registry.connect(acceptor).setLimits(await usdt.getAddress(), USDT(10), USDT(50_000));
  await registry
    .connect(acceptor)
    .setLimits(await dai.getAddress(), ethers.parseEther("10"), ethers.parseEther("50000"));
  await registry.connect(acceptor).setMethods([METHOD_SEPA], []);

  return {
    admin,
    governor,
    pauser,
    arbiter,
    gateway,
    gateway2,
    acceptor,
    delegate,
    payer,
    payee,
    other,
    rest,
    usdt,
    dai,
    registry,
    escrow,
  };
}

let saltCounter = 0n;
/** A fresh salt, unique within the test process. */
export function nextSalt(): string {
  saltCounter += 1n;
  return ethers.zeroPadValue(ethers.toBeHex(saltCounter), 32);
}

/** Builds a deal with sensible defaults: a 100 USDT payment due in a week, the gateway's current fee. */
export async function makeDeal(p: Protocol, over: Partial<Deal> = {}): Promise<DealOut> {
  const now = await time.latest();
  const d = {
    payer: p.payer.address,
    payee: p.payee.address,
    gateway: p.gateway.address,
    token: await p.usdt.getAddress(),
    amount: USDT(100),
    deadline: BigInt(now + 7 * DAY),
    releaseWindow: BigInt(RELEASE_WINDOW),
    feeBps: BigInt(GATEWAY_FEE_BPS),
    kind: BigInt(Kind.Payment),
    autoRelease: false,
    salt: nextSalt(),
    ...over,
  };
  return {
    payer: String(d.payer),
    payee: String(d.payee),
    gateway: String(d.gateway),
    token: String(d.token),
    amount: BigInt(d.amount),
    deadline: BigInt(d.deadline),
    releaseWindow: BigInt(d.releaseWindow),
    feeBps: BigInt(d.feeBps),
    kind: BigInt(d.kind),
    autoRelease: Boolean(d.autoRelease),
    salt: String(d.salt),
  };
}

/** A fresh salt for a delegate's lock: `DELEGATE_SALT_PREFIX` followed by a counter. */
export function nextDelegateSalt(): string {
  saltCounter += 1n;
  return ethers.concat([DELEGATE_SALT_PREFIX, ethers.zeroPadValue(ethers.toBeHex(saltCounter), 20)]);
}

/** The deal id: keccak256(abi.encode(funder, salt)). */
export function dealIdOf(deal: Pick<DealOut, "payer" | "salt">): string {
  return protocol.dealIdOf(deal.payer, deal.salt);
}

/** Fee on a payee amount, rounded down. */
export const feeOf = protocol.feeOf;

/** Approves the escrow for `deal.amount` from the payer (USDT needs a reset to zero first) and opens the deal. */
export async function openDeal(p: Protocol, deal: DealOut, ref = ethers.ZeroHash) {
  const signer = await ethers.getSigner(deal.payer);
  const token = await ethers.getContractAt("TestUSDT", deal.token);
  await approveExactly(token, signer, await p.escrow.getAddress(), deal.amount);
  await p.escrow.connect(signer).open(deal, ref);
  return dealIdOf(deal);
}

/** Sets an allowance to exactly `amount`, resetting to zero first as USDT requires. */
export async function approveExactly(
  token: TestUSDT,
  owner: HardhatEthersSigner,
  spender: string,
  amount: bigint,
): Promise<void> {
  if ((await token.allowance(owner.address, spender)) !== 0n) await token.connect(owner).approve(spender, 0);
  await token.connect(owner).approve(spender, amount);
}

/** Deposits float for the acceptor and locks an on-ramp deal from it (by the acceptor). */
export async function lockDeal(p: Protocol, deal: DealOut, ref = ethers.ZeroHash) {
  const acceptor = await ethers.getSigner(deal.payer);
  await p.escrow.connect(acceptor).lock(deal, ref);
  return dealIdOf(deal);
}

/** Deposits `amount` of USDT float for the acceptor. */
export async function depositFloat(p: Protocol, amount: bigint, acceptor = p.acceptor) {
  await approveExactly(p.usdt, acceptor, await p.escrow.getAddress(), amount);
  await p.escrow.connect(acceptor).depositFloat(await p.usdt.getAddress(), amount);
}

/** EIP-712 domain of the escrow. */
export async function escrowDomain(escrow: Escrow) {
  const { chainId } = await ethers.provider.getNetwork();
  return protocol.escrowDomain(chainId, await escrow.getAddress()) as {
    name: string;
    version: string;
    chainId: bigint;
    verifyingContract: string;
  };
}

/** The Deal type's fields, from the protocol model's type string. */
export const DEAL_TYPE = protocol.FIELDS.Deal;

/** Signs `message` as `primary` (with an expiry, a day from now by default) in the escrow's domain. */
async function signTyped(
  escrow: Escrow,
  signer: HardhatEthersSigner,
  primary: protocol.PrimaryType,
  message: Record<string, unknown>,
  expiry?: bigint,
  domainOverride: Partial<Awaited<ReturnType<typeof escrowDomain>>> = {},
) {
  const exp = expiry ?? BigInt((await time.latest()) + DAY);
  const domain = { ...(await escrowDomain(escrow)), ...domainOverride };
  const signature = await signer.signTypedData(domain, protocol.typesOf(primary), { ...message, expiry: exp });
  return { expiry: exp, signature };
}

/** Signs a DealAction(dealId, action, expiry) with EIP-712 typed data. */
export async function signAction(
  escrow: Escrow,
  signer: HardhatEthersSigner,
  dealId: string,
  action: number,
  expiry?: bigint,
  domainOverride: Partial<Awaited<ReturnType<typeof escrowDomain>>> = {},
) {
  return signTyped(escrow, signer, "DealAction", { dealId, action }, expiry, domainOverride);
}

/** Signs an Open (or Lock) of `deal` with EIP-712 typed data. */
export async function signOpen(
  escrow: Escrow,
  signer: HardhatEthersSigner,
  deal: DealOut,
  ref: string,
  primary: "Open" | "Lock" = "Open",
  expiry?: bigint,
) {
  return signTyped(escrow, signer, primary, { deal, ref }, expiry);
}

/** Signs a Split(dealId, payeeAmount, expiry) for `splitWithSigs`. */
export async function signSplit(
  escrow: Escrow,
  signer: HardhatEthersSigner,
  dealId: string,
  payeeAmount: bigint,
  expiry?: bigint,
) {
  return signTyped(escrow, signer, "Split", { dealId, payeeAmount }, expiry);
}

/** Signs a Resolution(dealId, payeeAmount, reasons, expiry) for `resolveWithSig`. */
export async function signResolution(
  escrow: Escrow,
  signer: HardhatEthersSigner,
  dealId: string,
  payeeAmount: bigint,
  reasons: string,
  expiry?: bigint,
) {
  return signTyped(escrow, signer, "Resolution", { dealId, payeeAmount, reasons }, expiry);
}

/** Signs an Evidence(dealId, contentHash, uri, expiry) for `postEvidenceWithSig`. */
export async function signEvidence(
  escrow: Escrow,
  signer: HardhatEthersSigner,
  dealId: string,
  contentHash: string,
  uri: string,
  expiry?: bigint,
) {
  return signTyped(escrow, signer, "Evidence", { dealId, contentHash, uri }, expiry);
}

/** Opens a deal, has the payee perform, and (when `by` is given) disputes it: the payer at once, the payee after
 * the release window. Returns the deal id. */
export async function disputedDeal(p: Protocol, deal: DealOut, by: "payer" | "payee" = "payer") {
  const id = await openDeal(p, deal);
  const payee = await ethers.getSigner(deal.payee);
  await p.escrow.connect(payee).perform(deal);
  if (by === "payee") {
    await time.increase(Number(deal.releaseWindow) + 1);
    await p.escrow.connect(payee).dispute(deal);
  } else {
    await p.escrow.connect(await ethers.getSigner(deal.payer)).dispute(deal);
  }
  return id;
}

/** The three kinds of deal by name, for tests that run one case per kind. */
export type KindName = "Payment" | "OffRamp" | "OnRamp";
export const KINDS: KindName[] = ["Payment", "OffRamp", "OnRamp"];

/** A deal opened in a test, with the signers of its two parties. */
export interface DealCtx<P extends Protocol = Protocol> {
  p: P;
  kind: KindName;
  deal: DealOut;
  id: string;
  payer: HardhatEthersSigner; // the funder: the payer's wallet, or the acceptor (OnRamp)
  payee: HardhatEthersSigner;
}

/**
 * Opens a deal of `kind`: Payment payer → payee from the wallet; OffRamp payer → acceptor (payee) from the wallet;
 * OnRamp acceptor (payer) → payee locked from the acceptor's float by the acceptor (deposit the float first).
 */
export async function openKind<P extends Protocol>(
  p: P,
  kind: KindName = "Payment",
  over: Partial<Deal> = {},
): Promise<DealCtx<P>> {
  if (kind === "OnRamp") {
    const deal = await makeDeal(p, { payer: p.acceptor.address, payee: p.payee.address, kind: Kind.OnRamp, ...over });
    const id = await lockDeal(p, deal);
    return { p, kind, deal, id, payer: p.acceptor, payee: p.payee };
  }
  const payee = kind === "OffRamp" ? p.acceptor : p.payee;
  const deal = await makeDeal(p, {
    payee: payee.address,
    kind: kind === "OffRamp" ? Kind.OffRamp : Kind.Payment,
    ...over,
  });
  const id = await openDeal(p, deal);
  return { p, kind, deal, id, payer: p.payer, payee };
}

/** A state a test deal can be driven to; the Open variants are live states with a twist. */
export type DealState =
  | "Open"
  | "OpenPastDeadline"
  | "OpenReleased"
  | "Performed"
  | "Disputed"
  | "Released"
  | "Refunded"
  | "Resolved"
  | "Split";

/**
 * Drives an open deal to `state` by the parties' ordinary calls: a dispute is the payer's, raised while the gateway is
 * Active (so the gateway holds it) and ruled 50/50 by the gateway with `reasons`; a split is 50/50 from Open, both
 * signatures submitted by a stranger.
 */
export async function reachState<P extends Protocol>(
  c: DealCtx<P>,
  state: DealState,
  reasons: string = ethers.ZeroHash,
): Promise<void> {
  const e = c.p.escrow;
  switch (state) {
    case "Open":
      return;
    case "OpenPastDeadline":
      await time.increaseTo(c.deal.deadline + 1n);
      return;
    case "OpenReleased":
      await e.connect(c.payer).release(c.deal);
      return;
    case "Performed":
      await e.connect(c.payee).perform(c.deal);
      return;
    case "Disputed":
      await e.connect(c.payee).perform(c.deal);
      await e.connect(c.payer).dispute(c.deal);
      return;
    case "Released":
      await e.connect(c.payee).perform(c.deal);
      await e.connect(c.payer).release(c.deal);
      return;
    case "Refunded":
      await e.connect(c.payee).cancel(c.deal);
      return;
    case "Resolved":
      await reachState(c, "Disputed");
      await e.connect(c.p.gateway).resolve(c.deal, c.deal.amount / 2n, reasons);
      return;
    case "Split": {
      const half = c.deal.amount / 2n;
      const payerAuth = await signSplit(e, c.payer, c.id, half);
      const payeeAuth = await signSplit(e, c.payee, c.id, half);
      await e.connect(c.p.other).splitWithSigs(c.deal, half, payerAuth, payeeAuth);
      return;
    }
  }
}
