/**
 * Drives real protocol activity on a Hardhat node over JSON-RPC: actors, deals through every path of the state
 * machine, and bulk load. Used by the relayer's integration, process and benchmark runs.
 */
import fs from "node:fs";
import { AbiCoder, JsonRpcProvider, MaxUint256, ZeroHash, id, keccak256, type JsonRpcSigner } from "ethers";
import {
  Escrow__factory,
  GatewayRegistry__factory,
  TestUSDT__factory,
  type Escrow,
  type GatewayRegistry,
  type TestUSDT,
} from "../../typechain-types";
import type { IEscrow } from "../../typechain-types/contracts/Escrow";

export const KIND = { payment: 0, onramp: 1, offramp: 2 } as const;
export const ACTION = { Perform: 0, Release: 1, Cancel: 2, Dispute: 3, Claim: 4 } as const;
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

export type DealParams = IEscrow.DealStruct & { payer: string; payee: string; amount: bigint; salt: string };

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

let saltSeq = BigInt(Date.now()) << 20n;
export function nextSalt(): string {
  saltSeq += 1n;
  return "0x" + saltSeq.toString(16).padStart(64, "0");
}

export function dealIdOf(deal: { payer: string; salt: string }): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [deal.payer, deal.salt]));
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
    kind: KIND.payment,
    autoRelease: false,
    salt: nextSalt(),
    ...over,
  } as DealParams;
}

export async function signAction(
  p: Protocol,
  signer: JsonRpcSigner,
  dealId: string,
  action: number,
): Promise<IEscrow.AuthorizationStruct> {
  const expiry = BigInt((await latest(p)) + DAY);
  const signature = await signer.signTypedData(
    { name: "USDT Escrow", version: "1", chainId: p.chainId, verifyingContract: await p.escrow.getAddress() },
    {
      DealAction: [
        { name: "dealId", type: "bytes32" },
        { name: "action", type: "uint8" },
        { name: "expiry", type: "uint256" },
      ],
    },
    { dealId, action, expiry },
  );
  return { expiry, signature };
}

export async function increaseTime(p: Protocol, seconds: number): Promise<void> {
  await p.provider.send("evm_increaseTime", [seconds]);
  await p.provider.send("evm_mine", []);
}

/** What the relayer should show for a deal after {@link runAllPaths}. */
export type Expected = { dealId: string; status: string; events: string[]; kind: string; deal: DealParams };

/**
 * Drives one deal through each path of the state machine and returns what the projection must show for each.
 */
export async function runAllPaths(p: Protocol): Promise<Expected[]> {
  const out: Expected[] = [];
  const [payer, payer2] = p.payers;
  const [payee, payee2, payee3] = p.payees;
  const addr = async (s: JsonRpcSigner) => s.getAddress();
  const open = async (signer: JsonRpcSigner, d: DealParams) =>
    mined(p.escrow.connect(signer).open(d, id(`order-${d.salt}`)));

  // 1. payment: performed, then released
  const d1 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee) });
  await open(payer, d1);
  await mined(p.escrow.connect(payee).perform(d1));
  await mined(p.escrow.connect(payer).release(d1));
  out.push({
    deal: d1,
    dealId: dealIdOf(d1),
    status: "released",
    kind: "payment",
    events: ["DealOpened", "DealPerformed", "DealReleased"],
  });

  // 2. payer releases first, then the payee performs (release in either order)
  const d2 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee2) });
  await open(payer, d2);
  await mined(p.escrow.connect(payer).release(d2));
  await mined(p.escrow.connect(payee2).perform(d2));
  out.push({
    deal: d2,
    dealId: dealIdOf(d2),
    status: "released",
    kind: "payment",
    events: ["DealOpened", "DealReleaseApproved", "DealPerformed", "DealReleased"],
  });

  // 3. co-signed settlement relayed by a third party
  const d3 = await makeDeal(p, { payer: await addr(payer2), payee: await addr(payee) });
  await open(payer2, d3);
  const id3 = dealIdOf(d3);
  await mined(
    p.escrow
      .connect(p.accounts[19])
      .settleWithSigs(
        d3,
        await signAction(p, payee, id3, ACTION.Perform),
        await signAction(p, payer2, id3, ACTION.Release),
      ),
  );
  out.push({ deal: d3, dealId: id3, status: "released", kind: "payment", events: ["DealOpened", "DealReleased"] });

  // 4. payee cancels
  const d4 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee3) });
  await open(payer, d4);
  await mined(p.escrow.connect(payee3).cancel(d4));
  out.push({
    deal: d4,
    dealId: dealIdOf(d4),
    status: "refunded",
    kind: "payment",
    events: ["DealOpened", "DealRefunded"],
  });

  // 5. mutual cancel by signatures
  const d5 = await makeDeal(p, { payer: await addr(payer2), payee: await addr(payee2) });
  await open(payer2, d5);
  const id5 = dealIdOf(d5);
  await mined(
    p.escrow.cancelWithSigs(
      d5,
      await signAction(p, payer2, id5, ACTION.Cancel),
      await signAction(p, payee2, id5, ACTION.Cancel),
    ),
  );
  out.push({ deal: d5, dealId: id5, status: "refunded", kind: "payment", events: ["DealOpened", "DealRefunded"] });

  // 6. dispute resolved by the gateway with a split
  const d6 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee) });
  await open(payer, d6);
  await mined(p.escrow.connect(payee).perform(d6));
  await mined(p.escrow.connect(payer).dispute(d6));
  await mined(p.escrow.connect(p.gateway).resolve(d6, USDT(60)));
  out.push({
    deal: d6,
    dealId: dealIdOf(d6),
    status: "resolved",
    kind: "payment",
    events: ["DealOpened", "DealPerformed", "DealDisputed", "DealResolved"],
  });

  // 7. on-ramp: locked from the acceptor's float by its delegate, buyer performs, acceptor releases
  const d7 = await makeDeal(p, {
    payer: await addr(p.acceptor),
    payee: await addr(payee2),
    kind: KIND.onramp,
    amount: USDT(250),
  });
  await mined(p.escrow.connect(p.delegate).lock(d7, id("onramp")));
  await mined(p.escrow.connect(payee2).perform(d7));
  await mined(p.escrow.connect(p.acceptor).release(d7));
  out.push({
    deal: d7,
    dealId: dealIdOf(d7),
    status: "released",
    kind: "onramp",
    events: ["DealOpened", "DealPerformed", "DealReleased"],
  });

  // 8. off-ramp: seller pays the acceptor, acceptor performs (sent fiat), seller releases
  const d8 = await makeDeal(p, {
    payer: await addr(payer2),
    payee: await addr(p.acceptor),
    kind: KIND.offramp,
    amount: USDT(80),
  });
  await open(payer2, d8);
  await mined(p.escrow.connect(p.acceptor).perform(d8));
  await mined(p.escrow.connect(payer2).release(d8));
  out.push({
    deal: d8,
    dealId: dealIdOf(d8),
    status: "released",
    kind: "offramp",
    events: ["DealOpened", "DealPerformed", "DealReleased"],
  });

  // 9. blacklisted payee: payout deferred, then claimed after the blacklist is lifted
  const d9 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee3) });
  await open(payer, d9);
  await mined(p.escrow.connect(payee3).perform(d9));
  await mined(p.usdt.addBlackList(await addr(payee3)));
  await mined(p.escrow.connect(payer).release(d9));
  await mined(p.usdt.removeBlackList(await addr(payee3)));
  await mined(p.escrow.claimOwed(await p.usdt.getAddress(), await addr(payee3)));
  out.push({
    deal: d9,
    dealId: dealIdOf(d9),
    status: "released",
    kind: "payment",
    events: ["DealOpened", "DealPerformed", "DealReleased", "PayoutDeferred"],
  });

  // 10. still open, 11. performed and waiting, 12. disputed and waiting
  const d10 = await makeDeal(p, { payer: await addr(payer2), payee: await addr(payee3) });
  await open(payer2, d10);
  out.push({ deal: d10, dealId: dealIdOf(d10), status: "open", kind: "payment", events: ["DealOpened"] });
  const d11 = await makeDeal(p, { payer: await addr(payer), payee: await addr(payee2), autoRelease: true });
  await open(payer, d11);
  await mined(p.escrow.connect(payee2).perform(d11));
  const d12 = await makeDeal(p, { payer: await addr(payer2), payee: await addr(payee) });
  await open(payer2, d12);
  await mined(p.escrow.connect(payee).perform(d12));
  await mined(p.escrow.connect(payee).dispute(d12));

  // 13. refund after the deadline (an hour-long deal), 14. claim after the payer's silence, 15. arbiter ruling
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
  await increaseTime(p, 4 * DAY);
  await mined(p.escrow.connect(p.accounts[19]).refund(d13));
  out.push({
    deal: d13,
    dealId: dealIdOf(d13),
    status: "refunded",
    kind: "payment",
    events: ["DealOpened", "DealRefunded"],
  });
  await mined(p.escrow.connect(payee2).claim(d11));
  out.push({
    deal: d11,
    dealId: dealIdOf(d11),
    status: "released",
    kind: "payment",
    events: ["DealOpened", "DealPerformed", "DealReleased"],
  });
  out.push({
    deal: d12,
    dealId: dealIdOf(d12),
    status: "disputed",
    kind: "payment",
    events: ["DealOpened", "DealPerformed", "DealDisputed"],
  });
  await mined(p.escrow.connect(p.owner).resolve(d15, 0));
  out.push({
    deal: d15,
    dealId: dealIdOf(d15),
    status: "resolved",
    kind: "payment",
    events: ["DealOpened", "DealPerformed", "DealDisputed", "DealResolved"],
  });
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
