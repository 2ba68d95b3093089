/**
 * Drives real protocol activity on a Hardhat node over JSON-RPC: actors, deals through every path of the state
 * machine, and bulk load. Used by the relayer's integration, process and benchmark runs.
 */
import fs from "node:fs";
import { JsonRpcProvider, MaxUint256, ZeroHash, concat, id, toBeHex, zeroPadValue, type JsonRpcSigner } from "ethers";
import {
  Escrow__factory,
  GatewayRegistry__factory,
  TestUSDT__factory,
  type Escrow,
  type GatewayRegistry,
  type TestUSDT,
} from "../../typechain-types";
import type { IEscrow } from "../../typechain-types/contracts/Escrow";
import {
  Action,
  DELEGATE_SALT_PREFIX,
  Kind,
  MAX_DELEGATE_LOCK_DURATION,
  MAX_DELEGATE_RELEASE_WINDOW,
  dealIdOf as protocolDealIdOf,
  escrowDomain,
  typesOf,
  type DealStruct,
  type PrimaryType,
} from "../../protocol";

export { Action, Kind };
export const USDT = (n: number) => BigInt(Math.round(n * 1e6));
const HOUR = 3600;
const DAY = 24 * HOUR;
export const GATEWAY_FEE_BPS = 50;

export type Protocol = {
  provider: JsonRpcProvider;
  escrow: Escrow;
  registry: GatewayRegistry;
  usdt: TestUSDT;
  accounts: JsonRpcSigner[];
  chainId: bigint;
  /** Named actors (indexes into the node's unlocked accounts). */
  owner: JsonRpcSigner;
  gateway: JsonRpcSigner;
  acceptor: JsonRpcSigner;
  delegate: JsonRpcSigner;
  payers: JsonRpcSigner[];
  payees: JsonRpcSigner[];
};

/** A deal as the scripts build it: the ABI struct. */
export type DealParams = DealStruct;

/** Connects to the contracts of a deployments file on a node (roles held by account 0, as deployed locally). */
export async function connectProtocol(url: string, deploymentFile: string): Promise<Protocol> {
  const deployment = JSON.parse(fs.readFileSync(deploymentFile, "utf8"));
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  const accounts = await Promise.all(Array.from({ length: 20 }, (_, i) => provider.getSigner(i)));
  const owner = accounts[0];
  return {
    provider,
    escrow: Escrow__factory.connect(deployment.contracts.Escrow.address, owner),
    registry: GatewayRegistry__factory.connect(deployment.contracts.GatewayRegistry.address, owner),
    usdt: TestUSDT__factory.connect(deployment.contracts.TestUSDT.address, owner),
    accounts,
    chainId: BigInt(deployment.chainId),
    owner,
    gateway: accounts[1],
    acceptor: accounts[2],
    delegate: accounts[3],
    payers: accounts.slice(4, 10),
    payees: accounts.slice(10, 16),
  };
}

async function mined(tx: Promise<{ wait: () => Promise<unknown> }>) {
  await (await tx).wait();
}

/** Registers and approves the gateway and the acceptor (with float), funds payers and approves the escrow. */
export async function setupActors(p: Protocol): Promise<void> {
  const escrow = await p.escrow.getAddress();
  const registry = await p.registry.getAddress();
  const usdt = await p.usdt.getAddress();
  for (const s of [p.gateway, p.acceptor, ...p.payers])
    await mined(p.usdt.mint(await s.getAddress(), USDT(10_000_000)));
  const minBond = await p.registry.minBond();
  await mined(p.usdt.connect(p.gateway).approve(registry, minBond));
  await mined(p.registry.connect(p.gateway).registerGateway(minBond, GATEWAY_FEE_BPS, id("gateway terms")));
  await mined(p.registry.approveGateway(await p.gateway.getAddress(), 300));
  await mined(
    p.registry.connect(p.acceptor).registerAcceptor(await p.gateway.getAddress(), await p.delegate.getAddress()),
  );
  await mined(p.registry.connect(p.gateway).approveAcceptor(await p.acceptor.getAddress()));
  await mined(p.registry.connect(p.acceptor).setLimits(usdt, USDT(1), USDT(1_000_000)));
  await mined(p.registry.connect(p.acceptor).setMethods([id("SEPA:EUR"), id("PIX:BRL")], []));
  for (const s of [p.acceptor, ...p.payers]) await mined(p.usdt.connect(s).approve(escrow, MaxUint256));
  await mined(p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(5_000_000)));
}

/** Longest release window and latest deadline (from the lock) of a delegate's lock. */
export { MAX_DELEGATE_LOCK_DURATION, MAX_DELEGATE_RELEASE_WINDOW };

let saltSeq = BigInt(Date.now()) << 20n;
/** A fresh salt for a deal opened or locked by its funder (never with the delegate prefix). */
export function nextSalt(): string {
  saltSeq += 1n;
  return "0x" + saltSeq.toString(16).padStart(64, "0");
}

/** A fresh salt for a lock by the acceptor's delegate: {@link DELEGATE_SALT_PREFIX} then a counter. */
export function nextDelegateSalt(): string {
  saltSeq += 1n;
  return concat([DELEGATE_SALT_PREFIX, zeroPadValue(toBeHex(saltSeq), 20)]);
}

export function dealIdOf(deal: { payer: string; salt: string }): string {
  return protocolDealIdOf(deal.payer, deal.salt);
}

export async function latest(p: Protocol): Promise<number> {
  return (await p.provider.getBlock("latest"))!.timestamp;
}

export async function makeDeal(
  p: Protocol,
  over: Partial<DealParams> & { payer: string; payee: string },
): Promise<DealParams> {
  const now = await latest(p);
  return {
    gateway: await p.gateway.getAddress(),
    token: await p.usdt.getAddress(),
    amount: USDT(100),
    deadline: now + 7 * DAY,
    releaseWindow: DAY,
    feeBps: GATEWAY_FEE_BPS,
    kind: Kind.Payment,
    autoRelease: false,
    salt: nextSalt(),
    ...over,
  } as DealParams;
}

/**
 * An on-ramp deal for the acceptor's lock delegate to lock from the acceptor's float: a delegate salt, a release
 * window of a day and a deadline two days out (a delegate's lock allows at most MAX_DELEGATE_RELEASE_WINDOW and
 * MAX_DELEGATE_LOCK_DURATION).
 */
export async function makeDelegateLock(
  p: Protocol,
  over: Partial<DealParams> & { payee: string },
): Promise<DealParams> {
  return makeDeal(p, {
    payer: await p.acceptor.getAddress(),
    kind: Kind.OnRamp,
    deadline: (await latest(p)) + 2 * DAY,
    salt: nextDelegateSalt(),
    ...over,
  });
}

/** Signs `message` as `primary` in the escrow's domain, valid for a day. */
async function signTyped(
  p: Protocol,
  signer: JsonRpcSigner,
  primary: PrimaryType,
  message: Record<string, unknown>,
): Promise<IEscrow.AuthorizationStruct> {
  const expiry = BigInt((await latest(p)) + DAY);
  const domain = escrowDomain(p.chainId, await p.escrow.getAddress());
  const signature = await signer.signTypedData(domain, typesOf(primary), { ...message, expiry });
  return { expiry, signature };
}

/** Signs a Split(dealId, payeeAmount, expiry) for `splitWithSigs` (valid for a day). */
export const signSplit = (p: Protocol, signer: JsonRpcSigner, dealId: string, payeeAmount: bigint) =>
  signTyped(p, signer, "Split", { dealId, payeeAmount });

/** Signs a DealAction(dealId, action, expiry) for `actWithSig`, `settleWithSigs` or `cancelWithSigs`. */
export const signAction = (p: Protocol, signer: JsonRpcSigner, dealId: string, action: number) =>
  signTyped(p, signer, "DealAction", { dealId, action });

export async function increaseTime(p: Protocol, seconds: number): Promise<void> {
  await p.provider.send("evm_increaseTime", [seconds]);
  await p.provider.send("evm_mine", []);
}

/** What the relayer should show for a deal after {@link runAllPaths}. */
export type Expected = { dealId: string; status: string; events: string[]; kind: string; deal: DealParams };

/**
 * Drives one deal through each path of the state machine and returns what the projection must show for each:
 * releases (in either order, by signatures, by claim, by a payer who gives in on a dispute), refunds (deadline,
 * payee cancel, mutual cancel, an expired delegate lock), rulings (the gateway's within its window, the arbiter's
 * after it or on a dispute the registry did not count), a split by agreement, evidence, a deferred payout while the
 * token is paused, and deals left open, performed and disputed.
 */
export async function runAllPaths(p: Protocol): Promise<Expected[]> {
  const out: Expected[] = [];
  const [payer, payer2] = p.payers;
  const [payee, payee2, payee3] = p.payees;
  const addr = async (s: JsonRpcSigner) => s.getAddress();
  const open = async (signer: JsonRpcSigner, d: DealParams) =>
    mined(p.escrow.connect(signer).open(d, id(`order-${d.salt}`)));
  const expect = (deal: DealParams, status: string, kind: string, events: string[]) =>
    out.push({ deal, dealId: dealIdOf(deal), status, kind, events });

  // 1. payment: performed, then released
  const d1 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee) });
  await open(payer, d1);
  await mined(p.escrow.connect(payee).perform(d1));
  await mined(p.escrow.connect(payer).release(d1));
  expect(d1, "released", "payment", ["DealOpened", "DealPerformed", "DealReleased"]);

  // 2. payer releases first, then the payee performs (release in either order)
  const d2 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee2) });
  await open(payer, d2);
  await mined(p.escrow.connect(payer).release(d2));
  await mined(p.escrow.connect(payee2).perform(d2));
  expect(d2, "released", "payment", ["DealOpened", "DealReleaseApproved", "DealPerformed", "DealReleased"]);

  // 3. co-signed settlement submitted by a third party
  const d3 = await makeDeal(p, { payer: await addr(payer2), payee: await addr(payee) });
  await open(payer2, d3);
  const id3 = dealIdOf(d3);
  await mined(
    p.escrow
      .connect(p.accounts[19])
      .settleWithSigs(
        d3,
        await signAction(p, payee, id3, Action.Perform),
        await signAction(p, payer2, id3, Action.Release),
      ),
  );
  expect(d3, "released", "payment", ["DealOpened", "DealReleased"]);

  // 4. payee cancels
  const d4 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee3) });
  await open(payer, d4);
  await mined(p.escrow.connect(payee3).cancel(d4));
  expect(d4, "refunded", "payment", ["DealOpened", "DealRefunded"]);

  // 5. mutual cancel by signatures
  const d5 = await makeDeal(p, { payer: await addr(payer2), payee: await addr(payee2) });
  await open(payer2, d5);
  const id5 = dealIdOf(d5);
  await mined(
    p.escrow.cancelWithSigs(
      d5,
      await signAction(p, payer2, id5, Action.Cancel),
      await signAction(p, payee2, id5, Action.Cancel),
    ),
  );
  expect(d5, "refunded", "payment", ["DealOpened", "DealRefunded"]);

  // 6. dispute held by the gateway, which splits it with written reasons
  const d6 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee) });
  await open(payer, d6);
  await mined(p.escrow.connect(payee).perform(d6));
  await mined(p.escrow.connect(payer).dispute(d6));
  await mined(p.escrow.connect(p.gateway).resolve(d6, USDT(60), id("ruling 6: goods partly delivered")));
  expect(d6, "resolved", "payment", ["DealOpened", "DealPerformed", "DealDisputed", "DealResolved"]);

  // 7. on-ramp: locked from the acceptor's float by its delegate, buyer performs, acceptor releases
  const d7 = await makeDelegateLock(p, { payee: await addr(payee2), amount: USDT(250) });
  await mined(p.escrow.connect(p.delegate).lock(d7, id("onramp")));
  await mined(p.escrow.connect(payee2).perform(d7));
  await mined(p.escrow.connect(p.acceptor).release(d7));
  expect(d7, "released", "onramp", ["DealOpened", "DealLockedByDelegate", "DealPerformed", "DealReleased"]);

  // 8. off-ramp: seller pays the acceptor, acceptor performs (sent fiat), seller releases
  const d8 = await makeDeal(p, {
    payer: await addr(payer2),
    payee: await addr(p.acceptor),
    kind: Kind.OffRamp,
    amount: USDT(80),
  });
  await open(payer2, d8);
  await mined(p.escrow.connect(p.acceptor).perform(d8));
  await mined(p.escrow.connect(payer2).release(d8));
  expect(d8, "released", "offramp", ["DealOpened", "DealPerformed", "DealReleased"]);

  // 9. the token is paused at the release: the payout is deferred to owed, then claimed once it is unpaused
  const d9 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee3) });
  await open(payer, d9);
  await mined(p.escrow.connect(payee3).perform(d9));
  await mined(p.usdt.pause());
  await mined(p.escrow.connect(payer).release(d9));
  await mined(p.usdt.unpause());
  await mined(p.escrow.claimOwed(await p.usdt.getAddress(), await addr(payee3)));
  expect(d9, "released", "payment", ["DealOpened", "DealPerformed", "DealReleased", "PayoutDeferred"]);

  // 10. still open, 11. performed and waiting, 12. disputed by the payer and waiting (past the gateway's window
  // by the end: the arbiter's to rule)
  const d10 = await makeDeal(p, { payer: await addr(payer2), payee: await addr(payee3) });
  await open(payer2, d10);
  expect(d10, "open", "payment", ["DealOpened"]);
  const d11 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee2), autoRelease: true });
  await open(payer, d11);
  await mined(p.escrow.connect(payee2).perform(d11));
  const d12 = await makeDeal(p, { payer: await addr(payer2), payee: await addr(payee) });
  await open(payer2, d12);
  await mined(p.escrow.connect(payee).perform(d12));
  await mined(p.escrow.connect(payer2).dispute(d12));

  // 16. a dispute ended by agreement: payer and payee sign a 70/30 split, a third party submits it
  const d16 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee2) });
  await open(payer, d16);
  await mined(p.escrow.connect(payee2).perform(d16));
  await mined(p.escrow.connect(payer).dispute(d16));
  const id16 = dealIdOf(d16);
  await mined(
    p.escrow
      .connect(p.accounts[19])
      .splitWithSigs(
        d16,
        USDT(70),
        await signSplit(p, payer, id16, USDT(70)),
        await signSplit(p, payee2, id16, USDT(70)),
      ),
  );
  expect(d16, "split", "payment", ["DealOpened", "DealPerformed", "DealDisputed", "DealSplit"]);

  // 17. evidence from both sides and the gateway, then the payer gives in and releases the disputed deal
  const d17 = await makeDeal(p, { payer: await addr(payer2), payee: await addr(payee3) });
  await open(payer2, d17);
  await mined(p.escrow.connect(payee3).perform(d17));
  await mined(p.escrow.connect(payer2).dispute(d17));
  await mined(p.escrow.connect(payer2).postEvidence(d17, id("photo of the parcel"), "ipfs://bafy-parcel"));
  await mined(p.escrow.connect(payee3).postEvidence(d17, id("tracking record"), "https://example.org/track/17"));
  await mined(p.escrow.connect(p.gateway).postEvidence(d17, id("gateway note"), ""));
  await mined(p.escrow.connect(payer2).release(d17));
  expect(d17, "released", "payment", [
    "DealOpened",
    "DealPerformed",
    "DealDisputed",
    "EvidencePosted",
    "EvidencePosted",
    "EvidencePosted",
    "DealReleased",
  ]);

  // 18. the registry refuses to count a dispute (the escrow's ESCROW_ROLE revoked for a moment): the gateway does
  // not hold it and the arbiter rules at once
  const d18 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee3) });
  await open(payer, d18);
  await mined(p.escrow.connect(payee3).perform(d18));
  const escrowRole = await p.registry.ESCROW_ROLE();
  await mined(p.registry.revokeRole(escrowRole, await p.escrow.getAddress()));
  await mined(p.escrow.connect(payer).dispute(d18));
  await mined(p.registry.grantRole(escrowRole, await p.escrow.getAddress()));
  await mined(p.escrow.connect(p.owner).resolve(d18, USDT(25), id("ruling 18")));
  expect(d18, "resolved", "payment", [
    "DealOpened",
    "DealPerformed",
    "DisputeCountSkipped",
    "DealDisputed",
    "DealResolved",
  ]);

  // 13. refund after the deadline (an hour-long deal), 14. claim after the payer's silence, 15. arbiter ruling
  // after the gateway's window, 19. a delegate's lock that expires performed, 20. a payee's dispute after the
  // payer's release window (held by the gateway, within its window at the end)
  const d13 = await makeDeal(p, {
    payer: await addr(payer),
    payee: await addr(payee),
    deadline: (await latest(p)) + HOUR,
  });
  await open(payer, d13);
  const d15 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee3) });
  await open(payer, d15);
  await mined(p.escrow.connect(payee3).perform(d15));
  await mined(p.escrow.connect(payer).dispute(d15));
  const d19 = await makeDelegateLock(p, {
    payee: await addr(payee),
    amount: USDT(40),
    deadline: (await latest(p)) + HOUR,
    releaseWindow: HOUR,
  });
  await mined(p.escrow.connect(p.delegate).lock(d19, id("onramp-expiring")));
  await mined(p.escrow.connect(payee).perform(d19));
  const d20 = await makeDeal(p, { payer: await addr(payer2), payee: await addr(payee2) });
  await open(payer2, d20);
  await mined(p.escrow.connect(payee2).perform(d20));
  await increaseTime(p, 4 * DAY);
  await mined(p.escrow.connect(p.accounts[19]).refund(d13));
  expect(d13, "refunded", "payment", ["DealOpened", "DealRefunded"]);
  await mined(p.escrow.connect(payee2).claim(d11));
  expect(d11, "released", "payment", ["DealOpened", "DealPerformed", "DealReleased"]);
  expect(d12, "disputed", "payment", ["DealOpened", "DealPerformed", "DealDisputed"]);
  await mined(p.escrow.connect(p.owner).resolve(d15, 0, ZeroHash));
  expect(d15, "resolved", "payment", ["DealOpened", "DealPerformed", "DealDisputed", "DealResolved"]);
  await mined(p.escrow.connect(p.accounts[19]).refund(d19));
  expect(d19, "refunded", "onramp", ["DealOpened", "DealLockedByDelegate", "DealPerformed", "DealRefunded"]);
  await mined(p.escrow.connect(payee2).dispute(d20));
  expect(d20, "disputed", "payment", ["DealOpened", "DealPerformed", "DealDisputed"]);
  return out;
}

/**
 * Bulk load: `count` payment deals opened, performed and released in batches through `multicall`
 * (three events per deal, plus one DealOpened per batch tx). Returns the deal ids.
 */
export async function generateLoad(p: Protocol, count: number, batch = 50): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const payer = p.payers[(start / batch) % p.payers.length];
    const payee = p.payees[(start / batch) % p.payees.length];
    const deals: DealParams[] = [];
    for (let i = 0; i < n; i++)
      deals.push(
        await makeDeal(p, { payer: await payer.getAddress(), payee: await payee.getAddress(), amount: USDT(1 + i) }),
      );
    const iface = p.escrow.interface;
    await mined(p.escrow.connect(payer).multicall(deals.map((d) => iface.encodeFunctionData("open", [d, ZeroHash]))));
    await mined(p.escrow.connect(payee).multicall(deals.map((d) => iface.encodeFunctionData("perform", [d]))));
    await mined(p.escrow.connect(payer).multicall(deals.map((d) => iface.encodeFunctionData("release", [d]))));
    ids.push(...deals.map(dealIdOf));
  }
  return ids;
}
