/**
 * The auditor's command, end to end: a real `hardhat node`, the production deploy script, hundreds of deals driven
 * into every state, then `scripts/audit.ts` run as a child process exactly as `npm run audit` runs it. The parts of
 * scripts/lib/audit/ are unit-tested in test/scripts/lib/audit/.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AbiCoder, MaxUint256, ZeroHash, getAddress, id, keccak256 } from "ethers";
import type { JsonRpcProvider, JsonRpcSigner } from "ethers";
import { Escrow__factory } from "../../typechain-types/factories/contracts/Escrow__factory";
import { GatewayRegistry__factory } from "../../typechain-types/factories/contracts/GatewayRegistry__factory";
import { TestERC20__factory } from "../../typechain-types/factories/contracts/test/TestERC20__factory";
import { TestUSDT__factory } from "../../typechain-types/factories/contracts/test/TestUSDT__factory";
import type { Escrow, GatewayRegistry, TestERC20, TestUSDT } from "../../typechain-types";
import {
  ARBITER_ROLE,
  Action,
  Kind,
  Status,
  commitmentOf,
  dealIdOf,
  escrowDomain,
  typesOf,
  type DealStruct,
  type PrimaryType,
} from "../../protocol";
import type { AuditReport } from "../../scripts/lib/audit";
import type { Deployment } from "../../scripts/lib/deploy";
import { deployToNode, startHardhatNode, type HardhatNode } from "../relayer/support/node";
import { nextDelegateSalt, nextSalt } from "./lib/audit/support/events";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "node_modules", ".bin");

const USDT = (n: number | string): bigint => BigInt(Math.round(Number(n) * 1e6));
const DAI = (n: number): bigint => BigInt(Math.round(n * 1e6)) * 10n ** 12n;
const HOUR = 3600;
const DAY = 24 * HOUR;
const FEE_BPS = 50n;
const RESOLUTION_WINDOW = 3 * DAY; // DEFAULTS.RESOLUTION_WINDOW of scripts/lib/deploy.ts
const fee = (amount: bigint): bigint => (amount * FEE_BPS) / 10_000n;

/*//////////////////////////////////////////////////////////////
                     THE COMMAND AS A CHILD PROCESS
//////////////////////////////////////////////////////////////*/

type Run = { code: number | null; stdout: string; stderr: string };

/** `npm run audit -- <args>`, as the package script runs it (ts-node, transpile only for speed). */
function audit(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(BIN, "ts-node"), ["scripts/audit.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`audit ${args.join(" ")} timed out\n${stdout}\n${stderr}`));
    }, 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The report of a `--json` run (stdout must hold exactly one JSON document). */
function parseReport(r: Run): AuditReport {
  try {
    return JSON.parse(r.stdout) as AuditReport;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

/*//////////////////////////////////////////////////////////////
                     DRIVING DEALS ON THE NODE
//////////////////////////////////////////////////////////////*/

const GAS = { gasLimit: 29_000_000n };
type Deal = DealStruct & { deadline: bigint; kind: number };
type Driven = {
  deal: Deal;
  id: string;
  group: string;
  payer: JsonRpcSigner;
  payee: JsonRpcSigner;
  /** Expected end state. */
  status: number;
  payeeNet: bigint;
  fee: bigint;
  refund: bigint;
};

describe("scripts/audit.ts (npm run audit)", function () {
  this.timeout(180_000);

  let node: HardhatNode | undefined;
  let url = "";
  let tmp = "";
  let deploymentFile = "";
  let deployment: Deployment;
  let provider: JsonRpcProvider;
  let escrow: Escrow;
  let registry: GatewayRegistry;
  let usdt: TestUSDT;
  let dai: TestERC20;
  const driven: Driven[] = [];
  let deposited = 0n;
  let withdrawn = 0n;
  let owedGatewayUsdt = 0n;
  let owedDeferred = 0n;
  let deferredAccount = "";
  let acceptorAddress = "";
  let gatewayAddress = "";
  let firstJson: Run;

  /** Sends calls of the escrow, batched through multicall per sender, all in flight at once; waits for all. */
  async function multicall(calls: { from: JsonRpcSigner; data: string }[], chunk = 40): Promise<void> {
    const bySender = new Map<JsonRpcSigner, string[]>();
    for (const c of calls) bySender.set(c.from, [...(bySender.get(c.from) ?? []), c.data]);
    const sent = [];
    for (const [signer, datas] of bySender) {
      for (let i = 0; i < datas.length; i += chunk) {
        sent.push(escrow.connect(signer).multicall(datas.slice(i, i + chunk), GAS));
      }
    }
    const txs = await Promise.all(sent);
    const receipts = await Promise.all(txs.map((tx) => tx.wait()));
    for (const r of receipts) expect(r?.status).to.equal(1);
  }

  const enc = (fn: string, args: unknown[]): string => escrow.interface.encodeFunctionData(fn as never, args as never);
  const of = (...groups: string[]): Driven[] => driven.filter((d) => groups.includes(d.group));

  /** `signer`'s EIP-712 signature of a `primary` message on the escrow. */
  async function sign(signer: JsonRpcSigner, primary: PrimaryType, message: Record<string, unknown>): Promise<string> {
    return signer.signTypedData(escrowDomain(deployment.chainId, await escrow.getAddress()), typesOf(primary), message);
  }
  const signAction = (signer: JsonRpcSigner, dealId: string, action: number, expiry: bigint) =>
    sign(signer, "DealAction", { dealId, action, expiry });
  const signSplit = (signer: JsonRpcSigner, dealId: string, payeeAmount: bigint, expiry: bigint) =>
    sign(signer, "Split", { dealId, payeeAmount, expiry });

  const latest = async (): Promise<number> => (await provider.getBlock("latest"))!.timestamp;

  /** A splitWithSigs call of `d` at `payeeAmount`, signed by its payer and payee, sent by `from`. */
  async function splitBySigs(d: Driven, payeeAmount: bigint, expiry: bigint, from: JsonRpcSigner) {
    const [payerSig, payeeSig] = await Promise.all([
      signSplit(d.payer, d.id, payeeAmount, expiry),
      signSplit(d.payee, d.id, payeeAmount, expiry),
    ]);
    return {
      from,
      data: enc("splitWithSigs", [
        d.deal,
        payeeAmount,
        { expiry, signature: payerSig },
        { expiry, signature: payeeSig },
      ]),
    };
  }

  before(async function () {
    this.timeout(240_000);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "audit-test-"));
    node = await startHardhatNode();
    url = node.url;
    provider = node.provider;

    // Deploy through the production code path.
    deploymentFile = await deployToNode(url, path.join(tmp, "one"));
    deployment = JSON.parse(fs.readFileSync(deploymentFile, "utf8")) as Deployment;

    const signers = await Promise.all(Array.from({ length: 13 }, (_, i) => provider.getSigner(i)));
    const [deployer, gw, acceptor, p1, p2, q1, q2, buyer, seller, payX, payY, relayer, delegate] = signers;
    gatewayAddress = gw.address;
    acceptorAddress = acceptor.address;
    deferredAccount = payY.address;
    escrow = Escrow__factory.connect(deployment.contracts.Escrow.address, provider);
    registry = GatewayRegistry__factory.connect(deployment.contracts.GatewayRegistry.address, provider);
    usdt = TestUSDT__factory.connect(deployment.contracts.TestUSDT!.address, provider);
    const escrowAddress = await escrow.getAddress();
    const registryAddress = await registry.getAddress();

    // A second token (18 decimals), allowlisted by the governor (the deployer on a local network).
    dai = await new TestERC20__factory(deployer).deploy("Dai", "DAI", 18);
    await dai.waitForDeployment();
    const daiAddress = await dai.getAddress();

    // Funds, the gateway, the acceptor and its float.
    const minBond = await registry.minBond();
    const setup = [
      ...[gw, acceptor, p1, p2, seller].map((s) => usdt.connect(deployer).mint(s.address, USDT(5_000_000), GAS)),
      registry.connect(deployer).setTokenAllowed(daiAddress, true, GAS),
      dai.connect(p1).mint(p1.address, DAI(1_000_000), GAS),
      ...[acceptor, p1, p2, seller].map((s) => usdt.connect(s).approve(escrowAddress, MaxUint256, GAS)),
      dai.connect(p1).approve(escrowAddress, MaxUint256, GAS),
      usdt.connect(gw).approve(registryAddress, minBond, GAS),
    ];
    await Promise.all((await Promise.all(setup)).map((tx) => tx.wait()));
    await (await registry.connect(gw).registerGateway(minBond, FEE_BPS, id("terms"), GAS)).wait();
    await (await registry.connect(deployer).approveGateway(gw.address, 300, GAS)).wait();
    await (await registry.connect(acceptor).registerAcceptor(gw.address, delegate.address, GAS)).wait();
    await (await registry.connect(gw).approveAcceptor(acceptor.address, GAS)).wait();
    await (await registry.connect(acceptor).setLimits(await usdt.getAddress(), USDT(1), USDT(100_000), GAS)).wait();
    deposited = USDT(500_000);
    await (await escrow.connect(acceptor).depositFloat(await usdt.getAddress(), deposited, GAS)).wait();

    // Phase 1: open every deal (hundreds, batched per payer).
    const t0 = await latest();
    const long = BigInt(t0 + 30 * DAY);
    const short = BigInt(t0 + 2 * HOUR);
    const withinAWeek = BigInt(t0 + 5 * DAY);
    const plan: {
      group: string;
      n: number;
      kind: number;
      status: number;
      short?: boolean;
      autoRelease?: boolean;
      token?: string;
      parties?: (i: number) => [JsonRpcSigner, JsonRpcSigner];
      /** Locked by the acceptor's delegate (a delegate salt, a deadline within its bound). */
      byDelegate?: boolean;
    }[] = [
      { group: "open", n: 40, kind: Kind.Payment, status: Status.Open },
      { group: "payerReleased", n: 20, kind: Kind.Payment, status: Status.Open },
      { group: "performed", n: 20, kind: Kind.Payment, status: Status.Performed },
      { group: "releasedDirect", n: 40, kind: Kind.Payment, status: Status.Released },
      { group: "releasedSigs", n: 12, kind: Kind.Payment, status: Status.Released },
      { group: "releasedClaim", n: 15, kind: Kind.Payment, status: Status.Released, autoRelease: true },
      { group: "refundDeadline", n: 20, kind: Kind.Payment, status: Status.Refunded, short: true },
      { group: "cancelOpen", n: 10, kind: Kind.Payment, status: Status.Refunded },
      { group: "cancelPerformed", n: 10, kind: Kind.Payment, status: Status.Refunded },
      { group: "refundMutual", n: 10, kind: Kind.Payment, status: Status.Refunded },
      { group: "cancelDisputed", n: 4, kind: Kind.Payment, status: Status.Refunded },
      { group: "disputedOverdue", n: 8, kind: Kind.Payment, status: Status.Disputed },
      { group: "disputedFresh", n: 7, kind: Kind.Payment, status: Status.Disputed },
      { group: "resolvedGateway", n: 15, kind: Kind.Payment, status: Status.Resolved },
      { group: "resolvedArbiter", n: 10, kind: Kind.Payment, status: Status.Resolved },
      { group: "deferredX", n: 3, kind: Kind.Payment, status: Status.Released, parties: () => [p1, payX] },
      { group: "deferredY", n: 3, kind: Kind.Payment, status: Status.Released, parties: () => [p2, payY] },
      { group: "splitOpen", n: 5, kind: Kind.Payment, status: Status.Split },
      { group: "splitDisputed", n: 5, kind: Kind.Payment, status: Status.Split },
      { group: "releasedFromDispute", n: 5, kind: Kind.Payment, status: Status.Released },
      { group: "skippedDispute", n: 3, kind: Kind.Payment, status: Status.Resolved },
      { group: "onOpen", n: 20, kind: Kind.OnRamp, status: Status.Open },
      { group: "onReleased", n: 20, kind: Kind.OnRamp, status: Status.Released },
      { group: "onCancel", n: 10, kind: Kind.OnRamp, status: Status.Refunded },
      { group: "onDeadline", n: 5, kind: Kind.OnRamp, status: Status.Refunded, short: true },
      { group: "onResolved", n: 5, kind: Kind.OnRamp, status: Status.Resolved },
      { group: "onLockExpired", n: 4, kind: Kind.OnRamp, status: Status.Refunded, short: true, byDelegate: true },
      { group: "onDelegateReleased", n: 3, kind: Kind.OnRamp, status: Status.Released, byDelegate: true },
      { group: "offOpen", n: 10, kind: Kind.OffRamp, status: Status.Open },
      { group: "offReleased", n: 10, kind: Kind.OffRamp, status: Status.Released },
      { group: "offPerformed", n: 5, kind: Kind.OffRamp, status: Status.Performed },
      { group: "daiOpen", n: 5, kind: Kind.Payment, status: Status.Open, token: daiAddress, parties: () => [p1, q1] },
      { group: "daiReleased", n: 5, kind: Kind.Payment, status: Status.Released, token: daiAddress },
    ];
    let serial = 0;
    const opens: { from: JsonRpcSigner; data: string }[] = [];
    for (const g of plan) {
      for (let i = 0; i < g.n; i++) {
        serial += 1;
        const token = g.token ?? (await usdt.getAddress());
        const [payer, payee] =
          g.kind === Kind.OnRamp
            ? [acceptor, buyer]
            : g.kind === Kind.OffRamp
              ? [seller, acceptor]
              : g.token
                ? [p1, q1]
                : (g.parties?.(i) ?? (i % 2 === 0 ? [p1, q1] : [p2, q2]));
        // Odd amounts so the fee rounds: 10.000037 USDT upwards, different for every deal.
        const amount = g.token ? DAI(10 + serial * 0.5) : USDT(10) + BigInt(serial) * 1_234_567n + 37n;
        const deal: Deal = {
          payer: payer.address,
          payee: payee.address,
          gateway: gw.address,
          token,
          amount,
          deadline: g.short ? short : g.byDelegate ? withinAWeek : long,
          releaseWindow: BigInt(HOUR),
          feeBps: FEE_BPS,
          kind: g.kind,
          autoRelease: Boolean(g.autoRelease),
          salt: g.byDelegate ? nextDelegateSalt() : nextSalt(),
        };
        const dealId = dealIdOf(payer.address, deal.salt);
        driven.push({
          deal,
          id: dealId,
          group: g.group,
          payer,
          payee,
          status: g.status,
          payeeNet: 0n,
          fee: 0n,
          refund: 0n,
        });
        opens.push({
          from: g.byDelegate ? delegate : payer,
          data: enc(g.kind === Kind.OnRamp ? "lock" : "open", [deal, id(`order-${serial}`)]),
        });
      }
    }
    await multicall(opens);

    // Phase 2: performed, early releases, cancels, and the two-signature settlements.
    const expiry = BigInt(t0 + 10 * DAY);
    const perform = of(
      "performed",
      "releasedDirect",
      "releasedClaim",
      "cancelPerformed",
      "cancelDisputed",
      "disputedOverdue",
      "disputedFresh",
      "resolvedGateway",
      "resolvedArbiter",
      "deferredX",
      "deferredY",
      "splitDisputed",
      "releasedFromDispute",
      "skippedDispute",
      "onLockExpired",
      "onDelegateReleased",
      "onReleased",
      "onResolved",
      "offReleased",
      "offPerformed",
      "daiReleased",
    );
    /** A `fn` call of `d` with two DealAction signatures (signer and action each), sent by the relayer. */
    const bySigs = async (d: Driven, fn: string, ...signers: [JsonRpcSigner, number][]) => {
      const [first, second] = await Promise.all(signers.map(([s, action]) => signAction(s, d.id, action, expiry)));
      return {
        from: relayer,
        data: enc(fn, [d.deal, { expiry, signature: first }, { expiry, signature: second }]),
      };
    };
    const signed = [
      ...of("releasedSigs").map((d) =>
        bySigs(d, "settleWithSigs", [d.payee, Action.Perform], [d.payer, Action.Release]),
      ),
      ...of("refundMutual").map((d) => bySigs(d, "cancelWithSigs", [d.payer, Action.Cancel], [d.payee, Action.Cancel])),
      ...of("splitOpen").map((d) => splitBySigs(d, (d.deal.amount * 6n) / 10n, expiry, relayer)),
    ];
    await multicall([
      ...perform.map((d) => ({ from: d.payee, data: enc("perform", [d.deal]) })),
      ...of("payerReleased").map((d) => ({ from: d.payer, data: enc("release", [d.deal]) })),
      ...of("cancelOpen", "onCancel").map((d) => ({ from: d.payee, data: enc("cancel", [d.deal]) })),
      ...(await Promise.all(signed)),
    ]);

    // Phase 3, an hour and a minute later (payees may dispute once the payer's release window is over): while the
    // token is paused two payees' payouts are deferred; then releases, disputes, cancels after performed.
    await provider.send("evm_increaseTime", [HOUR + 60]);
    await (await usdt.connect(deployer).pause(GAS)).wait();
    await multicall(of("deferredX", "deferredY").map((d) => ({ from: d.payer, data: enc("release", [d.deal]) })));
    await (await usdt.connect(deployer).unpause(GAS)).wait();
    await multicall([
      ...of("releasedDirect", "onReleased", "offReleased", "daiReleased").map((d) => ({
        from: d.payer,
        data: enc("release", [d.deal]),
      })),
      ...of("onDelegateReleased").map((d) => ({ from: acceptor, data: enc("release", [d.deal]) })),
      ...of("disputedOverdue", "resolvedGateway", "splitDisputed", "releasedFromDispute").map((d) => ({
        from: d.payer,
        data: enc("dispute", [d.deal]),
      })),
      ...of("resolvedArbiter", "cancelDisputed", "onResolved").map((d) => ({
        from: d.payee,
        data: enc("dispute", [d.deal]),
      })),
      ...of("cancelPerformed").map((d) => ({ from: d.payee, data: enc("cancel", [d.deal]) })),
    ]);
    // Disputes the registry refuses to count (governance revoked the escrow's ESCROW_ROLE for a moment): they go
    // to the arbiter.
    const escrowRole = await registry.ESCROW_ROLE();
    await (await registry.connect(deployer).revokeRole(escrowRole, escrowAddress, GAS)).wait();
    await multicall(of("skippedDispute").map((d) => ({ from: d.payer, data: enc("dispute", [d.deal]) })));
    await (await registry.connect(deployer).grantRole(escrowRole, escrowAddress, GAS)).wait();

    // Phase 4: the gateway rules in its window; the arbiter rules the disputes nobody counted; a payee cancels a
    // dispute, a payer gives in, both parties split; evidence; owed balances are claimed.
    const splits = of("splitDisputed").map((d) => splitBySigs(d, (d.deal.amount * 4n) / 10n, expiry, relayer));
    await multicall([
      ...of("resolvedGateway").map((d) => ({
        from: gw,
        data: enc("resolve", [d.deal, d.deal.amount / 2n, id(`reasons ${d.id}`)]),
      })),
      ...of("onResolved").map((d) => ({
        from: gw,
        data: enc("resolve", [d.deal, (d.deal.amount * 3n) / 4n, ZeroHash]),
      })),
      ...of("skippedDispute").map((d) => ({
        from: deployer,
        data: enc("resolve", [d.deal, d.deal.amount / 4n, ZeroHash]),
      })),
      ...of("cancelDisputed").map((d) => ({ from: d.payee, data: enc("cancel", [d.deal]) })),
      ...of("releasedFromDispute").map((d) => ({ from: d.payer, data: enc("release", [d.deal]) })),
      ...of("disputedOverdue").map((d) => ({
        from: d.payer,
        data: enc("postEvidence", [d.deal, id(`photo ${d.id}`), "ipfs://photo"]),
      })),
      ...of("disputedOverdue").map((d) => ({ from: gw, data: enc("postEvidence", [d.deal, id(`note ${d.id}`), ""]) })),
      ...(await Promise.all(splits)),
    ]);
    await multicall([
      { from: relayer, data: enc("claimOwed", [await usdt.getAddress(), gw.address]) },
      { from: relayer, data: enc("claimOwed", [await usdt.getAddress(), payX.address]) },
    ]);

    // Phase 5: three days and two hours later: deadline refunds, claims, the arbiter's rulings, fresh disputes.
    await provider.send("evm_increaseTime", [RESOLUTION_WINDOW + 2 * HOUR]);
    await provider.send("evm_mine", []);
    await multicall([
      ...of("refundDeadline", "onDeadline", "onLockExpired").map((d) => ({
        from: relayer,
        data: enc("refund", [d.deal]),
      })),
      ...of("releasedClaim").map((d) => ({ from: d.payee, data: enc("claim", [d.deal]) })),
      ...of("resolvedArbiter").map((d) => ({
        from: deployer,
        data: enc("resolve", [d.deal, d.deal.amount / 3n, ZeroHash]),
      })),
      ...of("disputedFresh").map((d) => ({ from: d.payee, data: enc("dispute", [d.deal]) })),
    ]);
    withdrawn = USDT(1_000);
    await (await escrow.connect(acceptor).withdrawFloat(await usdt.getAddress(), withdrawn, GAS)).wait();

    // What each deal should have paid, and what is owed at the end.
    for (const d of driven) {
      const amount = d.deal.amount;
      if (d.status === Status.Released) [d.payeeNet, d.fee, d.refund] = [amount - fee(amount), fee(amount), 0n];
      if (d.status === Status.Refunded) d.refund = amount;
    }
    for (const d of of("resolvedGateway"))
      [d.payeeNet, d.fee, d.refund] = split(d.deal.amount, d.deal.amount / 2n, true);
    for (const d of of("onResolved"))
      [d.payeeNet, d.fee, d.refund] = split(d.deal.amount, (d.deal.amount * 3n) / 4n, true);
    for (const d of of("resolvedArbiter"))
      [d.payeeNet, d.fee, d.refund] = split(d.deal.amount, d.deal.amount / 3n, false);
    for (const d of of("skippedDispute"))
      [d.payeeNet, d.fee, d.refund] = split(d.deal.amount, d.deal.amount / 4n, false);
    for (const d of of("splitOpen"))
      [d.payeeNet, d.fee, d.refund] = split(d.deal.amount, (d.deal.amount * 6n) / 10n, true);
    for (const d of of("splitDisputed"))
      [d.payeeNet, d.fee, d.refund] = split(d.deal.amount, (d.deal.amount * 4n) / 10n, true);
    // The gateway claimed its USDT fees in phase 4; only the claims of phase 5 accrued after.
    owedGatewayUsdt = of("releasedClaim").reduce((s, d) => s + d.fee, 0n);
    owedDeferred = of("deferredY").reduce((s, d) => s + d.payeeNet, 0n);

    // The set-up itself: hundreds of deals, driven into every state.
    expect(driven.length).to.be.greaterThanOrEqual(300);
    expect([...new Set(driven.map((d) => d.status))].sort((a, b) => a - b)).to.deep.equal([
      Status.Open,
      Status.Performed,
      Status.Released,
      Status.Refunded,
      Status.Disputed,
      Status.Resolved,
      Status.Split,
    ]);

    firstJson = await audit("--deployment", deploymentFile, "--rpc", url, "--json");
  });

  function split(amount: bigint, payeeAmount: bigint, byGateway: boolean): [bigint, bigint, bigint] {
    const f = byGateway ? fee(payeeAmount) : 0n;
    return [payeeAmount - f, f, amount - payeeAmount];
  }

  after(async () => {
    await node?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /**
   * Another deployment on the node (its files in `<tmp>/<name>`): the gateway (account 1) registered and approved,
   * account 3 funded to open payments to account 5 (`payment(amount)`), the contracts connected.
   */
  async function freshDeployment(name: string) {
    const file = await deployToNode(url, path.join(tmp, name));
    const d = JSON.parse(fs.readFileSync(file, "utf8")) as Deployment;
    const [deployer, gw, , p1, , q1] = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => provider.getSigner(i)));
    const token = TestUSDT__factory.connect(d.contracts.TestUSDT!.address, deployer);
    const gateways = GatewayRegistry__factory.connect(d.contracts.GatewayRegistry.address, deployer);
    const minBond = await gateways.minBond();
    for (const tx of await Promise.all([
      token.mint(gw.address, minBond, GAS),
      token.mint(p1.address, USDT(10_000), GAS),
      token.connect(gw).approve(d.contracts.GatewayRegistry.address, minBond, GAS),
      token.connect(p1).approve(d.contracts.Escrow.address, MaxUint256, GAS),
    ]))
      await tx.wait();
    await (await gateways.connect(gw).registerGateway(minBond, FEE_BPS, id("terms"), GAS)).wait();
    await (await gateways.approveGateway(gw.address, 300, GAS)).wait();
    const now = await latest();
    const payment = (amount: bigint) => ({
      payer: p1.address,
      payee: q1.address,
      gateway: gw.address,
      token: d.contracts.TestUSDT!.address,
      amount,
      deadline: now + 10 * DAY,
      releaseWindow: HOUR,
      feeBps: FEE_BPS,
      kind: Kind.Payment,
      autoRelease: false,
      salt: nextSalt(),
    });
    const escrowOf = Escrow__factory.connect(d.contracts.Escrow.address, p1);
    return { file, d, deployer, gw, p1, q1, usdt: token, registry: gateways, escrow: escrowOf, payment };
  }

  /** `npm run audit -- --json` of `file`: expects exit `code` (and ok when it is 0); the report. */
  async function auditJson(file: string, code: number): Promise<AuditReport> {
    const r = await audit("--deployment", file, "--rpc", url, "--json");
    expect(r.code, r.stderr).to.equal(code);
    const report = parseReport(r);
    expect(report.ok).to.equal(code === 0);
    return report;
  }

  /** `npm run audit` of `file` (the text report): expects exit `code`; what it printed. */
  async function auditText(file: string, code: number): Promise<Run> {
    const r = await audit("--deployment", file, "--rpc", url);
    expect(r.code, r.stderr).to.equal(code);
    return r;
  }

  /**
   * Runs `body` while the escrow stores `tamper(original)` as deal `id`'s record, then restores it. The record's
   * slot: `_deals` is slot 2 (EIP712's two string fallbacks take 0 and 1); its layout, high to low byte: flags,
   * status, since (5 bytes), commitment (25 bytes).
   */
  async function withTamperedDeal(id: string, tamper: (original: string) => string, body: () => Promise<void>) {
    const slot = keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [id, 2]));
    const escrowAddress = await escrow.getAddress();
    const original: string = await provider.send("eth_getStorageAt", [escrowAddress, slot, "latest"]);
    await provider.send("hardhat_setStorageAt", [escrowAddress, slot, tamper(original)]);
    try {
      await body();
    } finally {
      await provider.send("hardhat_setStorageAt", [escrowAddress, slot, original]);
    }
  }

  /** Runs `body` while the test USDT is in a state `enter` sets and `leave` undoes (as its owner). */
  async function whileUsdt(
    enter: (owner: TestUSDT) => Promise<{ wait(): Promise<unknown> }>,
    leave: (owner: TestUSDT) => Promise<{ wait(): Promise<unknown> }>,
    body: () => Promise<void>,
  ) {
    const owner = usdt.connect(await provider.getSigner(0));
    await (await enter(owner)).wait();
    try {
      await body();
    } finally {
      await (await leave(owner)).wait();
    }
  }

  describe("a consistent escrow", () => {
    it("derives the arbiter role and every deal's id as the contracts do", async () => {
      expect(ARBITER_ROLE).to.equal(await registry.ARBITER_ROLE());
      const ids = await Promise.all(driven.map((d) => escrow.dealIdOf(d.deal.payer, d.deal.salt)));
      expect(ids).to.deep.equal(driven.map((d) => d.id));
    });

    it("exits 0 with ok true, every deal counted by status, and no inconsistency (--json)", () => {
      expect(firstJson.code, firstJson.stderr).to.equal(0);
      const report = parseReport(firstJson);
      expect(report.inconsistencies).to.deep.equal([]);
      expect(report.alerts).to.deep.equal([]);
      expect(report.ok).to.equal(true);
      expect(report.chainId).to.equal(31337);
      expect(report.escrow).to.equal(getAddress(deployment.contracts.Escrow.address));
      expect(report.registry).to.equal(getAddress(deployment.contracts.GatewayRegistry.address));
      expect(report.fromBlock).to.equal(
        Math.min(deployment.contracts.Escrow.blockNumber, deployment.contracts.GatewayRegistry.blockNumber),
      );
      const count = (s: number) => driven.filter((d) => d.status === s).length;
      expect(report.deals.total).to.equal(driven.length);
      expect(report.deals.byStatus).to.deep.equal({
        Open: count(Status.Open),
        Performed: count(Status.Performed),
        Released: count(Status.Released),
        Refunded: count(Status.Refunded),
        Disputed: count(Status.Disputed),
        Resolved: count(Status.Resolved),
        Split: count(Status.Split),
      });
      expect(report.deals.byStatus).to.deep.equal({
        Open: 95,
        Performed: 25,
        Released: 116,
        Refunded: 73,
        Disputed: 15,
        Resolved: 33,
        Split: 10,
      });
    });

    it("reports each token's liabilities as open deals + free float + locked float + owed, equal to its balance", async () => {
      const report = parseReport(firstJson);
      const usdtAddress = getAddress(await usdt.getAddress());
      const daiAddress = getAddress(await dai.getAddress());
      expect(report.tokens.map((t) => t.token).sort()).to.deep.equal([usdtAddress, daiAddress].sort());
      const isOpen = (d: Driven) => [Status.Open, Status.Performed, Status.Disputed].includes(d.status as never);
      const sum = (ds: Driven[], f: (d: Driven) => bigint) => ds.reduce((s, d) => s + f(d), 0n);

      const usdtDeals = driven.filter((d) => d.deal.token === usdtAddress);
      const onRamp = usdtDeals.filter((d) => d.deal.kind === Kind.OnRamp);
      const openDeals = sum(
        usdtDeals.filter((d) => isOpen(d) && d.deal.kind !== Kind.OnRamp),
        (d) => d.deal.amount,
      );
      const locked = sum(onRamp.filter(isOpen), (d) => d.deal.amount);
      const free = deposited - withdrawn - sum(onRamp, (d) => d.deal.amount) + sum(onRamp, (d) => d.refund);
      const owed = owedGatewayUsdt + owedDeferred;
      const t = report.tokens.find((x) => x.token === usdtAddress)!;
      expect(t.symbol).to.equal("USDT");
      expect(t).to.include({
        openDeals: openDeals.toString(),
        freeFloat: free.toString(),
        lockedFloat: locked.toString(),
        owed: owed.toString(),
        liabilities: (openDeals + free + locked + owed).toString(),
        balance: (await usdt.balanceOf(await escrow.getAddress())).toString(),
        surplus: "0",
        escrowBlacklisted: false,
        paused: false,
      });
      expect(t.balance).to.equal(t.liabilities);

      const daiDeals = driven.filter((d) => d.deal.token === daiAddress);
      const d = report.tokens.find((x) => x.token === daiAddress)!;
      expect(d).to.include({
        symbol: "DAI",
        decimals: 18,
        openDeals: sum(daiDeals.filter(isOpen), (x) => x.deal.amount).toString(),
        freeFloat: "0",
        lockedFloat: "0",
        owed: sum(daiDeals, (x) => x.fee).toString(),
        surplus: "0",
        // A plain ERC-20: no blacklist, no pause.
        escrowBlacklisted: null,
        paused: null,
      });

      // The float and owed balances behind those totals.
      expect(report.floats).to.deep.equal([
        {
          acceptor: acceptorAddress,
          token: usdtAddress,
          free: free.toString(),
          locked: locked.toString(),
          deposits: deposited.toString(),
          withdrawals: withdrawn.toString(),
          released: sum(
            onRamp.filter((x) => !isOpen(x)),
            (x) => x.deal.amount,
          ).toString(),
          refunded: sum(onRamp, (x) => x.refund).toString(),
        },
      ]);
      const owedOf = (token: string, account: string) =>
        report.owed.find((o) => o.token === token && o.account === account)?.amount;
      expect(owedOf(usdtAddress, gatewayAddress)).to.equal(owedGatewayUsdt.toString());
      expect(owedOf(usdtAddress, deferredAccount)).to.equal(owedDeferred.toString());
      expect(owedOf(daiAddress, gatewayAddress)).to.equal(sum(daiDeals, (x) => x.fee).toString());
      expect(report.owed).to.have.length(3); // payee X claimed once the token was unpaused; nothing else is owed
    });

    it("lists every open deal and every dispute awaiting a ruling, flagging the overdue ones", () => {
      const report = parseReport(firstJson);
      const open = driven.filter((d) => [Status.Open, Status.Performed, Status.Disputed].includes(d.status as never));
      expect(report.openDeals.map((d) => d.dealId).sort()).to.deep.equal(open.map((d) => d.id).sort());
      const sample = report.openDeals.find((d) => d.dealId === of("payerReleased")[0].id)!;
      expect(sample).to.include({
        status: "Open",
        kind: "Payment",
        payerReleased: true,
        amount: of("payerReleased")[0].deal.amount.toString(),
        deadline: Number(of("payerReleased")[0].deal.deadline),
      });

      expect(report.disputes).to.have.length(15);
      const overdue = new Set(of("disputedOverdue").map((d) => d.id));
      const fresh = new Set(of("disputedFresh").map((d) => d.id));
      for (const dispute of report.disputes) {
        expect(dispute.gateway).to.equal(gatewayAddress);
        expect(dispute.gatewayHolds, dispute.dealId).to.equal(true);
        expect(dispute.gatewayDeadline - dispute.since).to.equal(RESOLUTION_WINDOW);
        if (overdue.has(dispute.dealId)) expect(dispute).to.include({ overdue: true, ruler: "arbiter" });
        else {
          expect(fresh.has(dispute.dealId), dispute.dealId).to.equal(true);
          expect(dispute).to.include({ overdue: false, ruler: "gateway" });
        }
      }
    });

    it("gives every disputed or evidenced deal its trail: the dispute, the evidence (hash, URI, poster) and the ruling", () => {
      const report = parseReport(firstJson);
      const trails = new Map(report.trails.map((t) => [t.dealId, t]));
      for (const d of of("disputedOverdue")) {
        const t = trails.get(d.id)!;
        expect(t, d.id).to.not.equal(undefined);
        expect(t.steps[0].kind).to.equal("disputed");
        // Both pieces were sent in one multicall batch: their order in the chain is the miner's.
        const evidence = t.steps.slice(1).sort((a, b) => a.role.localeCompare(b.role));
        expect(evidence.map((s) => `${s.kind}:${s.role}`)).to.deep.equal(["evidence:gateway", "evidence:payer"]);
        expect(evidence[0]).to.include({ contentHash: id(`note ${d.id}`), uri: "" });
        expect(evidence[1]).to.include({ contentHash: id(`photo ${d.id}`), uri: "ipfs://photo" });
      }
      for (const d of of("resolvedGateway")) {
        const last = trails.get(d.id)!.steps.at(-1)!;
        expect(last).to.include({ kind: "resolved", role: "gateway", reasons: id(`reasons ${d.id}`) });
        if (last.kind === "resolved") {
          expect(BigInt(last.payeeAmount) + BigInt(last.fee)).to.equal(d.deal.amount / 2n);
          expect(BigInt(last.refund)).to.equal(d.deal.amount - d.deal.amount / 2n);
        }
      }
      // A deal never disputed and given no evidence has no trail.
      expect(trails.has(of("payerReleased")[0].id)).to.equal(false);
    });

    it("prints scan progress on stderr, then the verdict, and nothing else", () => {
      const progress = /^blocks \d+–\d+ of \d+, \d+ events$/;
      const lines = firstJson.stderr.split("\n").filter((l) => progress.test(l));
      expect(lines.length).to.be.greaterThan(0);
      const others = firstJson.stderr.split("\n").filter((l) => l !== "" && !progress.test(l));
      expect(others).to.have.length(1, firstJson.stderr);
      expect(others[0]).to.match(/^audited 367 deals in \d+\.\d s: ok$/);
      const report = parseReport(firstJson);
      expect(lines.at(-1)).to.equal(
        `blocks ${report.fromBlock}–${report.toBlock} of ${report.toBlock}, ${report.events} events`,
      );
    });

    it("prints a human report with the header, the token table, counts, open deals and disputes, then OK", async () => {
      const r = await auditText(deploymentFile, 0);
      expect(r.stdout).to.contain("Escrow audit — chain 31337");
      expect(r.stdout).to.contain(`escrow    ${getAddress(deployment.contracts.Escrow.address)}`);
      expect(r.stdout).to.match(/^ {2}USDT {3}0x[0-9a-fA-F]{40} /m);
      expect(r.stdout).to.contain(
        "Deals: 367 (Open 95, Performed 25, Released 116, Refunded 73, Disputed 15, Resolved 33, Split 10)",
      );
      expect(r.stdout).to.contain("Open deals: 135");
      expect(r.stdout).to.contain("  and 115 more");
      expect(r.stdout).to.contain("Disputes awaiting a ruling: 15");
      expect(r.stdout).to.match(/^Dispute and evidence trail: \d+ deals$/m);
      expect(r.stdout).to.match(
        / (payer|payee|gateway|arbiter) 0x[0-9a-fA-F]{40} +(disputed|evidence 0x[0-9a-f]{64}|ruled: )/,
      );
      expect(r.stdout.match(/OVERDUE/g)).to.have.length(8);
      expect(r.stdout.match(/the gateway rules/g)).to.have.length(7);
      expect(r.stdout).to.contain("  Every disputed deal has someone able to end it.");
      expect(r.stdout).to.not.contain("ALERTS");
      expect(r.stdout.trimEnd().split("\n").at(-1)).to.equal("OK: all checks passed");
    });
  });

  describe("tokens sent straight to the escrow", () => {
    it("are a surplus, not an inconsistency: exit 0 and the surplus reported", async () => {
      const deployer = await provider.getSigner(0);
      const extra = USDT("123.456789");
      await (await usdt.connect(deployer).mint(await escrow.getAddress(), extra, GAS)).wait();
      const report = await auditJson(deploymentFile, 0);
      const t = report.tokens.find((x) => x.token === getAddress(deployment.contracts.TestUSDT!.address))!;
      expect(t.surplus).to.equal(extra.toString());
      expect(BigInt(t.balance) - BigInt(t.liabilities)).to.equal(extra);
    });
  });

  describe("storage that does not follow from the events", () => {
    it("exits 1 naming the deal whose stored status differs (restored afterwards)", async () => {
      const target = of("open")[0];
      const released = (original: string) => {
        expect(original.slice(4, 6)).to.equal("01", "the slot holds an Open deal");
        expect("0x" + original.slice(-50)).to.equal(commitmentOf(target.deal));
        return original.slice(0, 4) + "03" + original.slice(6);
      };
      await withTamperedDeal(target.id, released, async () => {
        expect((await escrow.getDeal(target.id)).status).to.equal(3n);
        expect((await auditJson(deploymentFile, 1)).inconsistencies).to.deep.equal([
          {
            check: "storage",
            dealId: target.id,
            message: `storage: deal ${target.id} status Released on chain, Open from events`,
          },
        ]);
      });
    });

    it("exits 1 naming the disputed deal whose stored flags say the gateway does not hold its dispute", async () => {
      const target = of("disputedFresh")[0];
      const unheld = (original: string) => {
        expect(original.slice(2, 6)).to.equal("0205", "the slot holds a Disputed deal the gateway holds");
        return "0x00" + original.slice(4);
      };
      await withTamperedDeal(target.id, unheld, async () => {
        expect((await escrow.getDeal(target.id)).flags).to.equal(0n);
        expect((await auditJson(deploymentFile, 1)).inconsistencies).to.deep.equal([
          {
            check: "storage",
            dealId: target.id,
            message: `storage: deal ${target.id} flags 0 on chain, 2 from events`,
          },
        ]);
      });
    });
  });

  describe("a token that blacklists the escrow itself, or is paused, at the audited block", () => {
    const blacklisted = (token: string) =>
      `token USDT ${token} has blacklisted the escrow: every payout in it is deferred to owed; governance should disallow the token`;

    it("blacklisted: exit 1, an ERROR line first and in the verdict, an error alert in --json; exit 0 once lifted", async () => {
      const escrowAddress = await escrow.getAddress();
      const usdtAddress = getAddress(await usdt.getAddress());
      const blacklist = (owner: TestUSDT) => owner.addBlackList(escrowAddress, GAS);
      const lift = (owner: TestUSDT) => owner.removeBlackList(escrowAddress, GAS);
      await whileUsdt(blacklist, lift, async () => {
        const report = await auditJson(deploymentFile, 1);
        expect(report.inconsistencies).to.deep.equal([]);
        expect(report.alerts).to.deep.equal([
          { level: "error", check: "token", token: usdtAddress, message: blacklisted(usdtAddress) },
        ]);
        expect(report.tokens.find((t) => t.token === usdtAddress)).to.include({
          escrowBlacklisted: true,
          paused: false,
        });

        const text = await auditText(deploymentFile, 1);
        expect(text.stdout).to.contain(`\nALERTS: 1\n  ERROR   ${blacklisted(usdtAddress)}\n`);
        const tail = text.stdout.trimEnd().split("\n").slice(-2);
        expect(tail).to.deep.equal(["FAILED: 1 error", `  ERROR   ${blacklisted(usdtAddress)}`]);
        expect(text.stderr).to.contain("1 error");
      });
      expect((await auditJson(deploymentFile, 0)).alerts).to.deep.equal([]);
    });

    it("paused: a warning, exit 0 (payouts are deferred while it lasts, nothing is inconsistent)", async () => {
      const usdtAddress = getAddress(await usdt.getAddress());
      const pause = (owner: TestUSDT) => owner.pause(GAS);
      const unpause = (owner: TestUSDT) => owner.unpause(GAS);
      await whileUsdt(pause, unpause, async () => {
        expect((await auditJson(deploymentFile, 0)).alerts).to.deep.equal([
          {
            level: "warning",
            check: "token",
            token: usdtAddress,
            message: `token USDT ${usdtAddress} is paused: payouts in it are deferred to owed until it is unpaused`,
          },
        ]);
        const text = await auditText(deploymentFile, 0);
        expect(text.stdout).to.contain(`  WARNING token USDT ${usdtAddress} is paused`);
        expect(text.stdout.trimEnd().split("\n").at(-1)).to.equal("OK: all checks passed, 1 warning above");
      });
    });
  });

  describe("a gateway counter that drifted and a dispute only its parties can end (third deployment)", () => {
    let file3 = "";
    let gateway3 = "";
    let stuckDeal = "";

    before(async function () {
      this.timeout(120_000);
      const three = await freshDeployment("three");
      const { d: d3, deployer, gw, p1, q1, registry: registry3, escrow: escrow3 } = three;
      file3 = three.file;
      gateway3 = gw.address;
      const [a, b] = [three.payment(USDT(100)), three.payment(USDT(200))];
      stuckDeal = dealIdOf(p1.address, b.salt);
      for (const d of [a, b]) {
        await (await escrow3.open(d, id("three"), GAS)).wait();
        await (await escrow3.connect(q1).perform(d, GAS)).wait();
      }
      await (await escrow3.dispute(a, GAS)).wait(); // held by the gateway: its counter rises to 1
      // Governance revokes the escrow's ESCROW_ROLE: deal A's dispute ends without being uncounted (the counter
      // stays 1), deal B's dispute is not counted (the arbiter's to rule).
      const escrowRole = await registry3.ESCROW_ROLE();
      await (await registry3.revokeRole(escrowRole, d3.contracts.Escrow.address, GAS)).wait();
      await (await escrow3.release(a, GAS)).wait();
      await (await escrow3.dispute(b, GAS)).wait();
      await (await registry3.grantRole(escrowRole, d3.contracts.Escrow.address, GAS)).wait();
      expect((await registry3.getGateway(gw.address)).openDisputes).to.equal(1n);
      // And no account holds ARBITER_ROLE any more.
      await (await registry3.revokeRole(ARBITER_ROLE, deployer.address, GAS)).wait();
    });

    it("exits 0 (nothing inconsistent) with a warning for each", async () => {
      const report = await auditJson(file3, 0);
      expect(report.inconsistencies).to.deep.equal([]);
      expect(report.alerts).to.deep.equal([
        {
          level: "warning",
          check: "registry",
          gateway: gateway3,
          message: `gateway ${gateway3}: 1 held dispute(s) ended without the registry uncounting them (DisputeCountSkipped): its openDisputes stays 1 too high, and it cannot complete its exit while it is above zero`,
        },
        {
          level: "warning",
          check: "disputes",
          dealId: stuckDeal,
          message: `deal ${stuckDeal} is disputed, its gateway may not rule it and no account holds ARBITER_ROLE: only the parties can end it`,
        },
      ]);
      expect(report.disputes).to.have.length(1);
      expect(report.disputes[0]).to.include({ dealId: stuckDeal, gatewayHolds: false, ruler: "parties only" });
    });

    it("says so in the human report", async () => {
      const r = await auditText(file3, 0);
      expect(r.stdout).to.contain("ALERTS: 2\n  WARNING gateway ");
      expect(r.stdout).to.contain("NOBODY but the parties");
      expect(r.stdout).to.contain("  1 disputed deal has nobody able to rule it: only the parties can end it.");
      expect(r.stdout.trimEnd().split("\n").at(-1)).to.equal("OK: all checks passed, 2 warnings above");
    });
  });

  describe("a drained escrow (second, fresh deployment on the same node)", () => {
    let file2 = "";
    let usdt2Address = "";

    before(async function () {
      this.timeout(120_000);
      const two = await freshDeployment("two");
      const { d: d2, usdt: usdt2, escrow: escrow2 } = two;
      file2 = two.file;
      expect(d2.contracts.Escrow.address).to.not.equal(deployment.contracts.Escrow.address);
      usdt2Address = getAddress(d2.contracts.TestUSDT!.address);
      const calls = [USDT(100), USDT(250), USDT(400)].map((amount) =>
        escrow2.interface.encodeFunctionData("open", [two.payment(amount), id("drained")]),
      );
      await (await escrow2.multicall(calls, GAS)).wait();

      const healthy = await auditJson(file2, 0);
      expect(healthy.deals.byStatus.Open).to.equal(3);

      // The token's owner burns the escrow's balance (USDT's blacklist + destroyBlackFunds).
      await (await usdt2.addBlackList(d2.contracts.Escrow.address, GAS)).wait();
      await (await usdt2.destroyBlackFunds(d2.contracts.Escrow.address, GAS)).wait();
    });

    it("exits 1 with an I1 deficit naming the token (--json: ok false)", async () => {
      const report = await auditJson(file2, 1);
      expect(report.inconsistencies).to.deep.equal([
        { check: "I1", message: `I1 solvency: USDT ${usdt2Address} balance 0 < liabilities 750 (deficit 750)` },
      ]);
      // The token still blacklists the escrow it drained: reported as the error it is.
      expect(report.alerts).to.deep.equal([
        {
          level: "error",
          check: "token",
          token: usdt2Address,
          message: `token USDT ${usdt2Address} has blacklisted the escrow: every payout in it is deferred to owed; governance should disallow the token`,
        },
      ]);
      const t = report.tokens.find((x) => x.token === usdt2Address)!;
      expect(t).to.include({
        balance: "0",
        openDeals: USDT(750).toString(),
        surplus: (-USDT(750)).toString(),
        escrowBlacklisted: true,
      });
    });

    it("prints every inconsistency and error in the human report", async () => {
      const r = await auditText(file2, 1);
      expect(r.stdout).to.contain("FAILED: 1 inconsistency, 1 error\n");
      expect(r.stdout).to.contain(`[I1] I1 solvency: USDT ${usdt2Address} balance 0 < liabilities 750 (deficit 750)`);
      expect(r.stdout).to.not.contain("OK: all checks passed");
    });

    it("leaves the first deployment's audit untouched (ok)", async () => {
      await auditJson(deploymentFile, 0);
    });
  });
});
