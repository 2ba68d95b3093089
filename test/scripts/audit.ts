/**
 * The auditor's command, end to end: a real `hardhat node`, the production deploy script, hundreds of deals driven
 * into every state, then `scripts/audit.ts` run as a child process exactly as `npm run audit` runs it. Also unit
 * tests of the pure parts of scripts/lib/audit.ts (the replay, the adaptive log scan, amount formatting).
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {
  AbiCoder,
  JsonRpcProvider,
  MaxUint256,
  ZeroHash,
  concat,
  getAddress,
  id,
  keccak256,
  toBeHex,
  zeroPadValue,
} from "ethers";
import type { JsonRpcSigner, Log } from "ethers";
import { Escrow__factory } from "../../typechain-types/factories/contracts/Escrow__factory";
import { GatewayRegistry__factory } from "../../typechain-types/factories/contracts/GatewayRegistry__factory";
import { TestERC20__factory } from "../../typechain-types/factories/contracts/test/TestERC20__factory";
import { TestUSDT__factory } from "../../typechain-types/factories/contracts/test/TestUSDT__factory";
import type { Escrow, GatewayRegistry, TestERC20, TestUSDT } from "../../typechain-types";
import type { IEscrow } from "../../typechain-types/contracts/Escrow";
import {
  ARBITER_ROLE,
  AuditLedger,
  DELEGATE_SALT_PREFIX,
  commitmentOf,
  dealIdOf,
  decodeLog,
  fetchLogs,
  needsTime,
  formatAmount,
  renderReport,
  Status,
} from "../../scripts/lib/audit";
import type { AuditEvent, AuditReport, DealParams } from "../../scripts/lib/audit";
import type { Deployment } from "../../scripts/lib/deploy";

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
                     CHILD PROCESSES AND THE NODE
//////////////////////////////////////////////////////////////*/

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs a command from the project root and collects its output. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `npm run audit -- <args>`, as the package script runs it (ts-node, transpile only for speed). */
const audit = (...args: string[]): Promise<Run> => run(path.join(BIN, "ts-node"), ["scripts/audit.ts", ...args]);

/** The report of a `--json` run (stdout must hold exactly one JSON document). */
function parseReport(r: Run): AuditReport {
  try {
    return JSON.parse(r.stdout) as AuditReport;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  const first = 18545 + Math.floor(Math.random() * 100);
  for (let i = 0; i <= 100; i++) {
    const port = 18545 + ((first - 18545 + i) % 101);
    if (await portIsFree(port)) return port;
  }
  throw new Error("no free port in 18545–18645");
}

async function rpcAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(2_000),
    });
    return res.ok && typeof ((await res.json()) as { result?: string }).result === "string";
  } catch {
    return false;
  }
}

/*//////////////////////////////////////////////////////////////
                     DRIVING DEALS ON THE NODE
//////////////////////////////////////////////////////////////*/

const GAS = { gasLimit: 29_000_000n };
const Kind = { Payment: 0, OnRamp: 1, OffRamp: 2 } as const;
const ActionNo = { Perform: 0, Release: 1, Cancel: 2, Dispute: 3, Claim: 4 } as const;

type Deal = IEscrow.DealStruct & { amount: bigint; deadline: bigint; kind: number; salt: string };
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

let saltCounter = 0n;
const nextSalt = (): string => zeroPadValue(toBeHex(++saltCounter + 0xa0d1700000n), 32);
/** A salt for a lock by the acceptor's delegate: the reserved prefix, then a counter. */
const nextDelegateSalt = (): string =>
  concat([DELEGATE_SALT_PREFIX, zeroPadValue(toBeHex(++saltCounter + 0xa0d1700000n), 20)]);

describe("scripts/audit.ts (npm run audit)", function () {
  this.timeout(180_000);

  let node: ChildProcess | undefined;
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

  async function signAction(signer: JsonRpcSigner, dealId: string, action: number, expiry: bigint): Promise<string> {
    return signer.signTypedData(
      { name: "USDT Escrow", version: "1", chainId: deployment.chainId, verifyingContract: await escrow.getAddress() },
      {
        DealAction: [
          { name: "dealId", type: "bytes32" },
          { name: "action", type: "uint8" },
          { name: "expiry", type: "uint256" },
        ],
      },
      { dealId, action, expiry },
    );
  }

  const latest = async (): Promise<number> => (await provider.getBlock("latest"))!.timestamp;

  async function signSplit(
    signer: JsonRpcSigner,
    dealId: string,
    payeeAmount: bigint,
    expiry: bigint,
  ): Promise<string> {
    return signer.signTypedData(
      { name: "USDT Escrow", version: "1", chainId: deployment.chainId, verifyingContract: await escrow.getAddress() },
      {
        Split: [
          { name: "dealId", type: "bytes32" },
          { name: "payeeAmount", type: "uint96" },
          { name: "expiry", type: "uint256" },
        ],
      },
      { dealId, payeeAmount, expiry },
    );
  }

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
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    node = spawn(path.join(BIN, "hardhat"), ["node", "--port", String(port), "--hostname", "127.0.0.1"], {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1" },
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    });
    let nodeErr = "";
    node.stderr?.on("data", (b: Buffer) => (nodeErr += b.toString()));
    const until = Date.now() + 90_000;
    while (!(await rpcAnswers(url))) {
      if (node.exitCode !== null) throw new Error(`hardhat node exited ${node.exitCode}: ${nodeErr}`);
      if (Date.now() > until) throw new Error(`hardhat node did not answer on ${url}: ${nodeErr}`);
      await new Promise((r) => setTimeout(r, 250));
    }

    // Deploy through the production code path.
    const dir = path.join(tmp, "one");
    const deployed = await run(path.join(BIN, "hardhat"), ["run", "scripts/deploy.ts", "--network", "localhost"], {
      LOCALHOST_RPC_URL: url,
      DEPLOYMENTS_DIR: dir,
    });
    expect(deployed.code, deployed.stderr + deployed.stdout).to.equal(0);
    deploymentFile = path.join(dir, "localhost.json");
    deployment = JSON.parse(fs.readFileSync(deploymentFile, "utf8")) as Deployment;

    provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 50 });
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
    const signed = [];
    for (const d of of("releasedSigs")) {
      signed.push(
        Promise.all([
          signAction(d.payee, d.id, ActionNo.Perform, expiry),
          signAction(d.payer, d.id, ActionNo.Release, expiry),
        ]).then(([payeeSig, payerSig]) => ({
          from: relayer,
          data: enc("settleWithSigs", [d.deal, { expiry, signature: payeeSig }, { expiry, signature: payerSig }]),
        })),
      );
    }
    for (const d of of("refundMutual")) {
      signed.push(
        Promise.all([
          signAction(d.payer, d.id, ActionNo.Cancel, expiry),
          signAction(d.payee, d.id, ActionNo.Cancel, expiry),
        ]).then(([payerSig, payeeSig]) => ({
          from: relayer,
          data: enc("cancelWithSigs", [d.deal, { expiry, signature: payerSig }, { expiry, signature: payeeSig }]),
        })),
      );
    }
    for (const d of of("splitOpen")) signed.push(splitBySigs(d, (d.deal.amount * 6n) / 10n, expiry, relayer));
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

    firstJson = await audit("--deployment", deploymentFile, "--rpc", url, "--json");
  });

  function split(amount: bigint, payeeAmount: bigint, byGateway: boolean): [bigint, bigint, bigint] {
    const f = byGateway ? fee(payeeAmount) : 0n;
    return [payeeAmount - f, f, amount - payeeAmount];
  }

  /** Stops the node this file started: its own process group (spawned detached), by id. */
  function stopNode(): void {
    if (node?.pid !== undefined && node.exitCode === null && node.signalCode === null) {
      try {
        process.kill(-node.pid, "SIGTERM");
      } catch {
        node.kill("SIGTERM");
      }
    }
  }
  process.once("exit", stopNode); // even if mocha stops before `after`

  after(async () => {
    provider?.destroy();
    stopNode();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe("a consistent escrow", () => {
    it("drove hundreds of deals through every state", () => {
      expect(driven.length).to.be.greaterThanOrEqual(300);
      const statuses = new Set(driven.map((d) => d.status));
      for (const s of [
        Status.Open,
        Status.Performed,
        Status.Released,
        Status.Refunded,
        Status.Disputed,
        Status.Resolved,
        Status.Split,
      ])
        expect(statuses.has(s), `status ${s}`).to.equal(true);
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

    it("prints scan progress on stderr", () => {
      const lines = firstJson.stderr.split("\n").filter((l) => /^blocks \d+–\d+ of \d+, \d+ events$/.test(l));
      expect(lines.length).to.be.greaterThan(0);
      const report = parseReport(firstJson);
      expect(lines.at(-1)).to.equal(
        `blocks ${report.fromBlock}–${report.toBlock} of ${report.toBlock}, ${report.events} events`,
      );
    });

    it("prints a human report with the header, the token table, counts, open deals and disputes, then OK", async () => {
      const r = await audit("--deployment", deploymentFile, "--rpc", url);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain("Escrow audit — chain 31337");
      expect(r.stdout).to.contain(`escrow    ${getAddress(deployment.contracts.Escrow.address)}`);
      expect(r.stdout).to.match(/^ {2}USDT {3}0x[0-9a-fA-F]{40} /m);
      expect(r.stdout).to.contain(
        "Deals: 367 (Open 95, Performed 25, Released 116, Refunded 73, Disputed 15, Resolved 33, Split 10)",
      );
      expect(r.stdout).to.contain("Open deals: 135");
      expect(r.stdout).to.contain("  and 115 more");
      expect(r.stdout).to.contain("Disputes awaiting a ruling: 15");
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
      const r = await audit("--deployment", deploymentFile, "--rpc", url, "--json");
      expect(r.code, r.stderr).to.equal(0);
      const report = parseReport(r);
      expect(report.ok).to.equal(true);
      const t = report.tokens.find((x) => x.token === getAddress(deployment.contracts.TestUSDT!.address))!;
      expect(t.surplus).to.equal(extra.toString());
      expect(BigInt(t.balance) - BigInt(t.liabilities)).to.equal(extra);
    });
  });

  describe("storage that does not follow from the events", () => {
    it("exits 1 naming the deal whose stored status differs (restored afterwards)", async () => {
      const target = of("open")[0];
      // Escrow storage: EIP712's two string fallbacks take slots 0 and 1; `_deals` is slot 2.
      const slot = keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [target.id, 2]));
      const escrowAddress = await escrow.getAddress();
      const original: string = await provider.send("eth_getStorageAt", [escrowAddress, slot, "latest"]);
      // Layout (high to low byte): flags, status, since (5 bytes), commitment (25 bytes).
      expect(original.slice(4, 6)).to.equal("01", "the slot holds an Open deal");
      expect("0x" + original.slice(-50)).to.equal(commitmentOf(target.deal as unknown as DealParams));
      const tampered = original.slice(0, 4) + "03" + original.slice(6);
      await provider.send("hardhat_setStorageAt", [escrowAddress, slot, tampered]);
      try {
        expect((await escrow.getDeal(target.id)).status).to.equal(3n);
        const r = await audit("--deployment", deploymentFile, "--rpc", url, "--json");
        expect(r.code, r.stderr).to.equal(1);
        const report = parseReport(r);
        expect(report.ok).to.equal(false);
        expect(report.inconsistencies).to.deep.equal([
          {
            check: "storage",
            dealId: target.id,
            message: `storage: deal ${target.id} status Released on chain, Open from events`,
          },
        ]);
      } finally {
        await provider.send("hardhat_setStorageAt", [escrowAddress, slot, original]);
      }
    });

    it("exits 1 naming the disputed deal whose stored flags say the gateway does not hold its dispute", async () => {
      const target = of("disputedFresh")[0];
      const slot = keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [target.id, 2]));
      const escrowAddress = await escrow.getAddress();
      const original: string = await provider.send("eth_getStorageAt", [escrowAddress, slot, "latest"]);
      expect(original.slice(2, 6)).to.equal("0205", "the slot holds a Disputed deal the gateway holds");
      await provider.send("hardhat_setStorageAt", [escrowAddress, slot, "0x00" + original.slice(4)]);
      try {
        expect((await escrow.getDeal(target.id)).flags).to.equal(0n);
        const r = await audit("--deployment", deploymentFile, "--rpc", url, "--json");
        expect(r.code, r.stderr).to.equal(1);
        expect(parseReport(r).inconsistencies).to.deep.equal([
          {
            check: "storage",
            dealId: target.id,
            message: `storage: deal ${target.id} flags 0 on chain, 2 from events`,
          },
        ]);
      } finally {
        await provider.send("hardhat_setStorageAt", [escrowAddress, slot, original]);
      }
    });
  });

  describe("a token that blacklists the escrow itself, or is paused, at the audited block", () => {
    const blacklisted = (token: string) =>
      `token USDT ${token} has blacklisted the escrow: every payout in it is deferred to owed; governance should disallow the token`;

    it("blacklisted: exit 1, an ERROR line first and in the verdict, an error alert in --json; exit 0 once lifted", async () => {
      const deployer = await provider.getSigner(0);
      const escrowAddress = await escrow.getAddress();
      const usdtAddress = getAddress(await usdt.getAddress());
      await (await usdt.connect(deployer).addBlackList(escrowAddress, GAS)).wait();
      try {
        const json = await audit("--deployment", deploymentFile, "--rpc", url, "--json");
        expect(json.code, json.stderr).to.equal(1);
        const report = parseReport(json);
        expect(report.ok).to.equal(false);
        expect(report.inconsistencies).to.deep.equal([]);
        expect(report.alerts).to.deep.equal([
          { level: "error", check: "token", token: usdtAddress, message: blacklisted(usdtAddress) },
        ]);
        expect(report.tokens.find((t) => t.token === usdtAddress)).to.include({
          escrowBlacklisted: true,
          paused: false,
        });

        const text = await audit("--deployment", deploymentFile, "--rpc", url);
        expect(text.code).to.equal(1);
        expect(text.stdout).to.contain(`\nALERTS: 1\n  ERROR   ${blacklisted(usdtAddress)}\n`);
        const tail = text.stdout.trimEnd().split("\n").slice(-2);
        expect(tail).to.deep.equal(["FAILED: 1 error", `  ERROR   ${blacklisted(usdtAddress)}`]);
        expect(text.stderr).to.contain("1 error");
      } finally {
        await (await usdt.connect(deployer).removeBlackList(escrowAddress, GAS)).wait();
      }
      const lifted = await audit("--deployment", deploymentFile, "--rpc", url, "--json");
      expect(lifted.code, lifted.stderr).to.equal(0);
      expect(parseReport(lifted).alerts).to.deep.equal([]);
    });

    it("paused: a warning, exit 0 (payouts are deferred while it lasts, nothing is inconsistent)", async () => {
      const deployer = await provider.getSigner(0);
      const usdtAddress = getAddress(await usdt.getAddress());
      await (await usdt.connect(deployer).pause(GAS)).wait();
      try {
        const json = await audit("--deployment", deploymentFile, "--rpc", url, "--json");
        expect(json.code, json.stderr).to.equal(0);
        const report = parseReport(json);
        expect(report.ok).to.equal(true);
        expect(report.alerts).to.deep.equal([
          {
            level: "warning",
            check: "token",
            token: usdtAddress,
            message: `token USDT ${usdtAddress} is paused: payouts in it are deferred to owed until it is unpaused`,
          },
        ]);
        const text = await audit("--deployment", deploymentFile, "--rpc", url);
        expect(text.code).to.equal(0);
        expect(text.stdout).to.contain(`  WARNING token USDT ${usdtAddress} is paused`);
        expect(text.stdout.trimEnd().split("\n").at(-1)).to.equal("OK: all checks passed, 1 warning above");
      } finally {
        await (await usdt.connect(deployer).unpause(GAS)).wait();
      }
    });
  });

  describe("a gateway counter that drifted and a dispute only its parties can end (third deployment)", () => {
    let file3 = "";
    let gateway3 = "";
    let stuckDeal = "";

    before(async function () {
      this.timeout(120_000);
      const dir = path.join(tmp, "three");
      const deployed = await run(path.join(BIN, "hardhat"), ["run", "scripts/deploy.ts", "--network", "localhost"], {
        LOCALHOST_RPC_URL: url,
        DEPLOYMENTS_DIR: dir,
        FRESH: "1",
      });
      expect(deployed.code, deployed.stderr + deployed.stdout).to.equal(0);
      file3 = path.join(dir, "localhost.json");
      const d3 = JSON.parse(fs.readFileSync(file3, "utf8")) as Deployment;
      const [deployer, gw, , p1, , q1] = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => provider.getSigner(i)));
      gateway3 = gw.address;
      const usdt3 = TestUSDT__factory.connect(d3.contracts.TestUSDT!.address, deployer);
      const registry3 = GatewayRegistry__factory.connect(d3.contracts.GatewayRegistry.address, deployer);
      const escrow3 = Escrow__factory.connect(d3.contracts.Escrow.address, p1);
      const minBond = await registry3.minBond();
      for (const tx of await Promise.all([
        usdt3.mint(gw.address, minBond, GAS),
        usdt3.mint(p1.address, USDT(10_000), GAS),
        usdt3.connect(gw).approve(d3.contracts.GatewayRegistry.address, minBond, GAS),
        usdt3.connect(p1).approve(d3.contracts.Escrow.address, MaxUint256, GAS),
      ]))
        await tx.wait();
      await (await registry3.connect(gw).registerGateway(minBond, FEE_BPS, id("terms"), GAS)).wait();
      await (await registry3.approveGateway(gw.address, 300, GAS)).wait();
      const now = await latest();
      const deal = (amount: bigint) => ({
        payer: p1.address,
        payee: q1.address,
        gateway: gw.address,
        token: d3.contracts.TestUSDT!.address,
        amount,
        deadline: now + 10 * DAY,
        releaseWindow: HOUR,
        feeBps: FEE_BPS,
        kind: Kind.Payment,
        autoRelease: false,
        salt: nextSalt(),
      });
      const [a, b] = [deal(USDT(100)), deal(USDT(200))];
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
      const r = await audit("--deployment", file3, "--rpc", url, "--json");
      expect(r.code, r.stderr).to.equal(0);
      const report = parseReport(r);
      expect(report.inconsistencies).to.deep.equal([]);
      expect(report.ok).to.equal(true);
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
      const r = await audit("--deployment", file3, "--rpc", url);
      expect(r.code).to.equal(0);
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
      const dir = path.join(tmp, "two");
      const deployed = await run(path.join(BIN, "hardhat"), ["run", "scripts/deploy.ts", "--network", "localhost"], {
        LOCALHOST_RPC_URL: url,
        DEPLOYMENTS_DIR: dir,
        FRESH: "1",
      });
      expect(deployed.code, deployed.stderr + deployed.stdout).to.equal(0);
      file2 = path.join(dir, "localhost.json");
      const d2 = JSON.parse(fs.readFileSync(file2, "utf8")) as Deployment;
      expect(d2.contracts.Escrow.address).to.not.equal(deployment.contracts.Escrow.address);
      usdt2Address = getAddress(d2.contracts.TestUSDT!.address);

      const [deployer, gw, , p1, , q1] = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => provider.getSigner(i)));
      const usdt2 = TestUSDT__factory.connect(usdt2Address, deployer);
      const registry2 = GatewayRegistry__factory.connect(d2.contracts.GatewayRegistry.address, deployer);
      const escrow2 = Escrow__factory.connect(d2.contracts.Escrow.address, p1);
      const minBond = await registry2.minBond();
      for (const tx of await Promise.all([
        usdt2.mint(gw.address, minBond, GAS),
        usdt2.mint(p1.address, USDT(10_000), GAS),
        usdt2.connect(gw).approve(d2.contracts.GatewayRegistry.address, minBond, GAS),
        usdt2.connect(p1).approve(d2.contracts.Escrow.address, MaxUint256, GAS),
      ]))
        await tx.wait();
      await (await registry2.connect(gw).registerGateway(minBond, FEE_BPS, id("terms"), GAS)).wait();
      await (await registry2.approveGateway(gw.address, 300, GAS)).wait();
      const now = await latest();
      const calls = [USDT(100), USDT(250), USDT(400)].map((amount) =>
        escrow2.interface.encodeFunctionData("open", [
          {
            payer: p1.address,
            payee: q1.address,
            gateway: gw.address,
            token: usdt2Address,
            amount,
            deadline: now + 10 * DAY,
            releaseWindow: HOUR,
            feeBps: FEE_BPS,
            kind: Kind.Payment,
            autoRelease: false,
            salt: nextSalt(),
          },
          id("drained"),
        ]),
      );
      await (await escrow2.multicall(calls, GAS)).wait();

      const healthy = parseReport(await audit("--deployment", file2, "--rpc", url, "--json"));
      expect(healthy.ok).to.equal(true);
      expect(healthy.deals.byStatus.Open).to.equal(3);

      // The token's owner burns the escrow's balance (USDT's blacklist + destroyBlackFunds).
      await (await usdt2.addBlackList(d2.contracts.Escrow.address, GAS)).wait();
      await (await usdt2.destroyBlackFunds(d2.contracts.Escrow.address, GAS)).wait();
    });

    it("exits 1 with an I1 deficit naming the token (--json: ok false)", async () => {
      const r = await audit("--deployment", file2, "--rpc", url, "--json");
      expect(r.code, r.stderr).to.equal(1);
      const report = parseReport(r);
      expect(report.ok).to.equal(false);
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
      const r = await audit("--deployment", file2, "--rpc", url);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.contain("FAILED: 1 inconsistency, 1 error\n");
      expect(r.stdout).to.contain(`[I1] I1 solvency: USDT ${usdt2Address} balance 0 < liabilities 750 (deficit 750)`);
      expect(r.stdout).to.not.contain("OK: all checks passed");
    });

    it("leaves the first deployment's audit untouched (ok)", async () => {
      const r = await audit("--deployment", deploymentFile, "--rpc", url, "--json");
      expect(r.code, r.stderr).to.equal(0);
    });
  });

  describe("usage and setup errors", () => {
    it("--help prints the usage and exits 0", async () => {
      const r = await audit("--help");
      expect(r.code).to.equal(0);
      expect(r.stdout).to.contain("Usage: npm run audit -- --deployment <file> --rpc <url> [--json]");
    });

    it("an unknown argument prints the usage and exits 2", async () => {
      const r = await audit("--deployment", deploymentFile, "--rpc", url, "--frobnicate");
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("--frobnicate");
      expect(r.stderr).to.contain("Usage: npm run audit");
      expect(r.stdout).to.equal("");
    });

    it("a missing --rpc exits 2", async () => {
      const r = await audit("--deployment", deploymentFile);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("--rpc is required");
    });

    it("an unreachable --rpc exits 2 with a clear message", async () => {
      const port = await freePort(); // nothing listens there
      const r = await audit("--deployment", deploymentFile, "--rpc", `http://127.0.0.1:${port}`, "--json");
      expect(r.code).to.equal(2);
      expect(r.stdout).to.equal("");
      expect(r.stderr).to.match(new RegExp(`RPC error \\(http://127\\.0\\.0\\.1:${port}\\): eth_chainId: `));
    });

    it("a deployment file for another chain exits 2", async () => {
      const other = path.join(tmp, "mainnet.json");
      fs.writeFileSync(other, JSON.stringify({ ...deployment, network: "mainnet", chainId: 1 }));
      const r = await audit("--deployment", other, "--rpc", url);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("the RPC serves chain 31337, but the deployment (mainnet) is on chain 1");
    });

    it("a missing deployment file exits 2", async () => {
      const r = await audit("--deployment", path.join(tmp, "nope.json"), "--rpc", url);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("does not exist");
    });
  });
});

/*//////////////////////////////////////////////////////////////
                UNIT TESTS OF THE PURE PARTS
//////////////////////////////////////////////////////////////*/

describe("scripts/lib/audit.ts", () => {
  const A = {
    payer: getAddress("0x00000000000000000000000000000000000000a1"),
    payee: getAddress("0x00000000000000000000000000000000000000b2"),
    gateway: getAddress("0x00000000000000000000000000000000000000c3"),
    token: getAddress("0x00000000000000000000000000000000000000d4"),
    acceptor: getAddress("0x00000000000000000000000000000000000000e5"),
    stranger: getAddress("0x00000000000000000000000000000000000000f6"),
  };
  let block = 100;
  const at = () => ({ block: block++, logIndex: 0 });
  const params = (over: Partial<DealParams> = {}): DealParams => ({
    payer: A.payer,
    payee: A.payee,
    gateway: A.gateway,
    token: A.token,
    amount: 1_000_000n,
    deadline: 2_000_000_000n,
    releaseWindow: 3600n,
    feeBps: 50n,
    kind: 0,
    autoRelease: false,
    salt: nextSalt(),
    ...over,
  });
  const opened = (deal: DealParams): AuditEvent => ({
    ...at(),
    name: "DealOpened",
    dealId: dealIdOf(deal.payer, deal.salt),
    deal,
    ref: id("ref"),
  });
  const ev = (e: Record<string, unknown>): AuditEvent => ({ ...at(), ...e }) as AuditEvent;

  describe("AuditLedger (the replay)", () => {
    it("rebuilds a released payment: status, since block, fee owed to the gateway, no inconsistency", () => {
      const deal = params();
      const dealId = dealIdOf(deal.payer, deal.salt);
      const ledger = new AuditLedger().applyAll([
        opened(deal),
        ev({ name: "DealReleaseApproved", dealId }),
        ev({ name: "DealPerformed", dealId, block: 500 }),
        ev({ name: "DealReleased", dealId, block: 500 }),
      ]);
      ledger.finish();
      expect(ledger.inconsistencies).to.deep.equal([]);
      const d = ledger.deals.get(dealId.toLowerCase())!;
      // The amounts follow from the deal (the event carries none): 50 bps of 1,000,000.
      expect(d).to.include({ status: Status.Released, payerReleased: false, sinceBlock: 500, fee: 5_000n });
      expect(d.payeeAmount).to.equal(995_000n);
      expect(ledger.owed.get(`${A.token}|${A.gateway}`.toLowerCase())!.amount).to.equal(5_000n);
      expect(ledger.openDealsTotal(A.token)).to.equal(0n);
    });

    it("keeps payerReleased and the open block while the deal waits for the payee", () => {
      const deal = params();
      const dealId = dealIdOf(deal.payer, deal.salt);
      const open = opened(deal);
      const ledger = new AuditLedger().applyAll([open, ev({ name: "DealReleaseApproved", dealId })]);
      expect(ledger.deals.get(dealId.toLowerCase())).to.include({
        status: Status.Open,
        payerReleased: true,
        sinceBlock: open.block,
      });
      expect(ledger.openDealsTotal(A.token)).to.equal(1_000_000n);
    });

    it("rebuilds an on-ramp float: lock, split ruling, deposit, withdrawal — I5 holds", () => {
      const deal = params({ payer: A.acceptor, kind: 1, amount: 300n });
      const dealId = dealIdOf(A.acceptor, deal.salt);
      const ledger = new AuditLedger().applyAll([
        ev({ name: "FloatDeposited", acceptor: A.acceptor, token: A.token, amount: 1_000n }),
        opened(deal),
        ev({ name: "DealPerformed", dealId }),
        ev({ name: "DealDisputed", dealId, by: A.payee, gatewayHolds: false }),
        ev({ name: "ArbiterGranted", account: A.stranger }),
        ev({
          name: "DealResolved",
          dealId,
          by: A.stranger,
          payeeAmount: 100n,
          fee: 0n,
          refund: 200n,
          reasons: ZeroHash,
        }),
        ev({ name: "FloatWithdrawn", acceptor: A.acceptor, token: A.token, amount: 50n }),
      ]);
      ledger.finish();
      expect(ledger.inconsistencies).to.deep.equal([]);
      expect(ledger.unverifiedResolvers).to.deep.equal([]);
      expect(ledger.floats.get(`${A.acceptor}|${A.token}`.toLowerCase())).to.deep.include({
        free: 850n,
        locked: 0n,
        deposits: 1_000n,
        withdrawals: 50n,
        released: 300n,
        refunded: 200n,
      });
    });

    it("flags I3 for any event after a final state (an illegal transition)", () => {
      const deal = params();
      const dealId = dealIdOf(deal.payer, deal.salt);
      const illegal = ev({ name: "DealPerformed", dealId });
      const ledger = new AuditLedger().applyAll([
        opened(deal),
        ev({ name: "DealRefunded", dealId, reason: 1 }),
        illegal,
      ]);
      expect(ledger.inconsistencies).to.deep.equal([
        {
          check: "I3",
          dealId,
          block: illegal.block,
          message: `state machine: deal ${dealId} DealPerformed is not a legal step from Refunded (final)`,
        },
      ]);
      expect(ledger.deals.get(dealId.toLowerCase())!.status).to.equal(Status.Refunded);
    });

    it("flags I3 for a deadline refund of a performed deal, a second open, and an unknown deal", () => {
      const deal = params();
      const dealId = dealIdOf(deal.payer, deal.salt);
      const unknown = id("unknown");
      const ledger = new AuditLedger().applyAll([
        opened(deal),
        ev({ name: "DealPerformed", dealId }),
        ev({ name: "DealRefunded", dealId, reason: 0 }),
        opened(deal),
        ev({ name: "DealReleased", dealId: unknown }),
      ]);
      expect(ledger.inconsistencies.map((i) => [i.check, i.message])).to.deep.equal([
        ["I3", `state machine: deal ${dealId} DealRefunded(Deadline) is not a legal step from Performed`],
        ["I3", `state machine: deal ${dealId} opened again while Performed`],
        ["I3", `state machine: DealReleased for unknown deal ${unknown}`],
      ]);
    });

    it("flags I2 when a split or a ruling does not add up to the amount or charges the wrong fee", () => {
      const a = params();
      const b = params();
      const c = params();
      const [ia, ib, ic] = [dealIdOf(a.payer, a.salt), dealIdOf(b.payer, b.salt), dealIdOf(c.payer, c.salt)];
      const ledger = new AuditLedger().applyAll([
        opened(a),
        opened(b),
        opened(c),
        ev({ name: "DealSplit", dealId: ia, payeeAmount: 590_000n, fee: 10_000n, refund: 400_000n }),
        ev({ name: "DealPerformed", dealId: ib }),
        ev({ name: "DealDisputed", dealId: ib, by: A.payer, gatewayHolds: false }),
        ev({ name: "ArbiterGranted", account: A.stranger }),
        ev({
          name: "DealResolved",
          dealId: ib,
          by: A.stranger,
          payeeAmount: 500n,
          fee: 0n,
          refund: 1n,
          reasons: ZeroHash,
        }),
        ev({ name: "DealSplit", dealId: ic, payeeAmount: 600_000n, fee: 0n, refund: 300_000n }),
      ]);
      expect(ledger.inconsistencies.map((i) => [i.check, i.dealId])).to.deep.equal([
        ["I2", ia],
        ["I2", ib],
        ["I2", ic],
      ]);
      expect(ledger.inconsistencies[0].message).to.contain("Split fee 10000 != 50 bps of 600000 (3000)");
      expect(ledger.inconsistencies[1].message).to.contain("payee 500 + fee 0 + refund 1 != amount 1000000");
      expect(ledger.inconsistencies[2].message).to.contain("payee 600000 + fee 0 + refund 300000 != amount 1000000");
    });

    it("flags I4 for a dispute by a stranger, and leaves a ruling by a non-arbiter for the storage check", () => {
      const deal = params();
      const dealId = dealIdOf(deal.payer, deal.salt);
      const ruling = ev({
        name: "DealResolved",
        dealId,
        by: A.stranger,
        payeeAmount: 0n,
        fee: 0n,
        refund: 1_000_000n,
        reasons: ZeroHash,
      });
      const ledger = new AuditLedger().applyAll([
        ev({ name: "ArbiterGranted", account: A.stranger }),
        ev({ name: "ArbiterRevoked", account: A.stranger }),
        opened(deal),
        ev({ name: "DealPerformed", dealId }),
        ev({ name: "DealDisputed", dealId, by: A.stranger, gatewayHolds: false }),
        ruling,
      ]);
      expect(ledger.inconsistencies.map((i) => [i.check, i.message])).to.deep.equal([
        ["I4", `authority: deal ${dealId} disputed by ${A.stranger}, neither payer nor payee`],
      ]);
      expect(ledger.unverifiedResolvers).to.deep.equal([{ dealId, by: A.stranger, block: ruling.block }]);
    });

    it("flags I5 when float would go negative and I2 when owed would", () => {
      const deal = params({ payer: A.acceptor, kind: 1, amount: 300n });
      const ledger = new AuditLedger().applyAll([
        ev({ name: "FloatDeposited", acceptor: A.acceptor, token: A.token, amount: 100n }),
        opened(deal),
        ev({ name: "FloatWithdrawn", acceptor: A.acceptor, token: A.token, amount: 1n }),
        ev({ name: "OwedClaimed", token: A.token, account: A.payee, amount: 7n }),
      ]);
      ledger.finish();
      expect(ledger.inconsistencies.map((i) => i.check)).to.deep.equal(["I5", "I5", "I2", "I5", "I2"]);
      expect(ledger.inconsistencies[0].message).to.contain("locked 300");
      expect(ledger.inconsistencies[0].message).to.contain("with only 100 free");
      expect(ledger.inconsistencies[2].message).to.contain("owed would go negative");
    });

    it("accepts a deferred payout to the payee of a settled deal and flags one to anybody else", () => {
      const deal = params();
      const dealId = dealIdOf(deal.payer, deal.salt);
      const ledger = new AuditLedger().applyAll([
        opened(deal),
        ev({ name: "DealPerformed", dealId }),
        ev({ name: "DealReleased", dealId }),
        ev({ name: "PayoutDeferred", dealId, token: A.token, account: A.payee, amount: 995_000n }),
        ev({ name: "PayoutDeferred", dealId, token: A.token, account: A.stranger, amount: 1n }),
      ]);
      expect(ledger.inconsistencies.map((i) => [i.check, i.message])).to.deep.equal([
        ["I2", `conservation: deal ${dealId} deferred 1 to ${A.stranger}, who is paid nothing by it`],
      ]);
      expect(ledger.owed.get(`${A.token}|${A.payee}`.toLowerCase())!.amount).to.equal(995_000n);
    });

    it("tracks the registry's dispute counters and allowlisted tokens", () => {
      const ledger = new AuditLedger().applyAll([
        ev({ name: "GatewayDisputesChanged", gateway: A.gateway, openDisputes: 2 }),
        ev({ name: "GatewayDisputesChanged", gateway: A.gateway, openDisputes: 1 }),
        ev({ name: "TokenAllowed", token: A.token, allowed: true }),
      ]);
      expect(ledger.registryDisputes.get(A.gateway.toLowerCase())).to.equal(1);
      expect([...ledger.tokens]).to.deep.equal([A.token]);
    });
  });

  describe("AuditLedger: the v1.1 rules", () => {
    const WINDOW = 3 * DAY;
    const T0 = 1_800_000_000;
    /** A ledger with the escrow's resolution window, the gateway registered and approved, and an arbiter. */
    const ledger = () =>
      new AuditLedger({ resolutionWindow: WINDOW }).applyAll([
        ev({ name: "GatewayRegistered", gateway: A.gateway }),
        ev({ name: "GatewayApproved", gateway: A.gateway }),
        ev({ name: "ArbiterGranted", account: A.stranger }),
      ]);
    /**
     * A payment opened, performed at T0 and disputed by `by` at `at`: held, or (held false) not held because the
     * registry refused to count it (DisputeCountSkipped first, unless `skip` is false).
     */
    const disputedAt = (
      l: AuditLedger,
      at: number,
      over: Partial<DealParams> = {},
      by = A.payer,
      held = true,
      skip = !held,
    ) => {
      const deal = params(over);
      const dealId = dealIdOf(deal.payer, deal.salt);
      l.applyAll([
        opened(deal),
        ev({ name: "DealPerformed", dealId, time: T0 }),
        ...(skip ? [ev({ name: "DisputeCountSkipped", dealId, gateway: A.gateway, opened: true })] : []),
        ev({ name: "DealDisputed", dealId, by, gatewayHolds: held, time: at }),
      ]);
      return dealId;
    };
    const messages = (l: AuditLedger) => l.inconsistencies.map((i) => `${i.check} ${i.message}`);
    const ruling = (dealId: string, by: string, payeeAmount: bigint, fee: bigint, time: number) =>
      ev({
        name: "DealResolved",
        dealId,
        by,
        payeeAmount,
        fee,
        refund: 1_000_000n - payeeAmount - fee,
        reasons: ZeroHash,
        time,
      });

    describe("DealReleased (no amounts in the event)", () => {
      it("derives the payee's amount and the fee from the deal, and releases a disputed deal (the payer gives in)", () => {
        const l = ledger();
        const dealId = disputedAt(l, T0 + 10, { amount: 1_000_037n, feeBps: 75n });
        l.apply(ev({ name: "DealReleased", dealId }));
        l.finish();
        expect(l.inconsistencies).to.deep.equal([]);
        expect(l.deals.get(dealId.toLowerCase())).to.include({
          status: Status.Released,
          payeeAmount: 992_537n,
          fee: 7_500n,
        });
        expect(l.owed.get(`${A.token}|${A.gateway}`.toLowerCase())!.amount).to.equal(7_500n);
      });
    });

    describe("DealSplit", () => {
      it("ends an open, performed or disputed deal (final), fee on the payee's share only", () => {
        const l = ledger();
        const open = params();
        const openId = dealIdOf(open.payer, open.salt);
        const disputed = disputedAt(l, T0 + 10);
        l.applyAll([
          opened(open),
          ev({ name: "DealSplit", dealId: openId, payeeAmount: 597_000n, fee: 3_000n, refund: 400_000n }),
          ev({ name: "DealSplit", dealId: disputed, payeeAmount: 0n, fee: 0n, refund: 1_000_000n }),
        ]);
        expect(l.inconsistencies).to.deep.equal([]);
        expect(l.deals.get(openId.toLowerCase())!.status).to.equal(Status.Split);
        expect(l.heldDisputesByGateway().size).to.equal(0);
        const after = ev({ name: "DealPerformed", dealId: openId });
        l.apply(after);
        expect(messages(l)).to.deep.equal([
          `I3 state machine: deal ${openId} DealPerformed is not a legal step from Split (final)`,
        ]);
      });
    });

    describe("I4: who may dispute, and when", () => {
      const cases: [string, Partial<DealParams>, string, number, string | undefined][] = [
        ["the payer, any time after performed", {}, "payer", T0 + 30 * DAY, undefined],
        ["the payee, after the payer's release window", {}, "payee", T0 + 3_601, undefined],
        ["the payee, within the payer's release window", {}, "payee", T0 + 3_600, "disputed by its payee at"],
        [
          "the payer of an autoRelease payment within its window",
          { autoRelease: true },
          "payer",
          T0 + 3_600,
          undefined,
        ],
        [
          "the payer of an autoRelease payment after its window",
          { autoRelease: true },
          "payer",
          T0 + 3_601,
          "after its release window",
        ],
      ];
      for (const [title, over, who, at, flagged] of cases) {
        it(`${title} → ${flagged ? "I4" : "legal"}`, () => {
          const l = ledger();
          disputedAt(l, at, over, who === "payer" ? A.payer : A.payee);
          if (flagged) expect(messages(l).join("\n")).to.match(new RegExp(`^I4 authority: .*${flagged}`));
          else expect(l.inconsistencies).to.deep.equal([]);
        });
      }
    });

    describe("I4: who may rule, and when", () => {
      it("the gateway, on a dispute it holds, within its window: legal, with its fee", () => {
        const l = ledger();
        const dealId = disputedAt(l, T0 + 10);
        l.apply(ruling(dealId, A.gateway, 597_000n, 3_000n, T0 + 10 + WINDOW));
        expect(l.inconsistencies).to.deep.equal([]);
        expect(l.unverifiedResolvers).to.deep.equal([]);
      });

      it("the gateway after its window → I4 (the arbiter's then)", () => {
        const l = ledger();
        const dealId = disputedAt(l, T0 + 10);
        l.apply(ruling(dealId, A.gateway, 597_000n, 3_000n, T0 + 11 + WINDOW));
        expect(messages(l)).to.deep.equal([
          `I4 authority: deal ${dealId} ruled by its gateway at ${T0 + 11 + WINDOW}, after its resolution window (until ${T0 + 10 + WINDOW})`,
        ]);
      });

      it("the gateway on a dispute it does not hold, or while suspended → not the gateway's ruling (checked as an arbiter's)", () => {
        for (const setup of ["unheld", "suspended"] as const) {
          const l = ledger();
          const dealId = disputedAt(l, T0 + 10, {}, A.payer, setup !== "unheld");
          if (setup === "suspended") l.apply(ev({ name: "GatewaySuspended", gateway: A.gateway }));
          const r = ruling(dealId, A.gateway, 597_000n, 3_000n, T0 + 20);
          l.apply(r);
          expect(l.unverifiedResolvers, setup).to.deep.equal([{ dealId, by: A.gateway, block: r.block }]);
          expect(messages(l), setup).to.deep.equal([
            `I2 conservation: deal ${dealId} ruled by ${A.gateway} as an arbiter charged fee 3000`,
          ]);
        }
      });

      it("an exiting gateway still rules the disputes it holds", () => {
        const l = ledger();
        const dealId = disputedAt(l, T0 + 10);
        l.applyAll([
          ev({ name: "GatewayExitRequested", gateway: A.gateway }),
          ruling(dealId, A.gateway, 597_000n, 3_000n, T0 + 20),
        ]);
        expect(l.inconsistencies).to.deep.equal([]);
      });

      it("an arbiter while the gateway holds the dispute and its window is open → I4", () => {
        const l = ledger();
        const dealId = disputedAt(l, T0 + 10);
        l.apply(ruling(dealId, A.stranger, 600_000n, 0n, T0 + 20));
        expect(messages(l)).to.deep.equal([
          `I4 authority: deal ${dealId} ruled by ${A.stranger} as an arbiter while its gateway held the dispute and its window was open (until ${T0 + 10 + WINDOW})`,
        ]);
      });

      it("an arbiter after the window, on an unheld dispute, or once the gateway is suspended: legal, without a fee", () => {
        const after = ledger();
        after.apply(ruling(disputedAt(after, T0 + 10), A.stranger, 600_000n, 0n, T0 + 11 + WINDOW));
        const unheld = ledger();
        unheld.apply(ruling(disputedAt(unheld, T0 + 10, {}, A.payer, false), A.stranger, 600_000n, 0n, T0 + 20));
        const suspended = ledger();
        const id3 = disputedAt(suspended, T0 + 10);
        suspended.applyAll([
          ev({ name: "GatewaySuspended", gateway: A.gateway }),
          ruling(id3, A.stranger, 600_000n, 0n, T0 + 20),
        ]);
        for (const l of [after, unheld, suspended]) {
          expect(l.inconsistencies).to.deep.equal([]);
          expect(l.unverifiedResolvers).to.deep.equal([]);
        }
      });
    });

    describe("the registry's answer to a new dispute (held or not)", () => {
      it("held while the gateway was suspended → registry inconsistency", () => {
        const l = ledger();
        l.apply(ev({ name: "GatewaySuspended", gateway: A.gateway }));
        const dealId = disputedAt(l, T0 + 10);
        expect(messages(l)).to.deep.equal([
          `registry registry: deal ${dealId}'s dispute is held by gateway ${A.gateway}, which was Active, suspended`,
        ]);
      });

      it("not held while the gateway was active, without a DisputeCountSkipped → registry inconsistency", () => {
        const l = ledger();
        const dealId = disputedAt(l, T0 + 10, {}, A.payer, false, false);
        expect(messages(l)).to.deep.equal([
          `registry registry: deal ${dealId}'s dispute is not held by gateway ${A.gateway}, which was Active and in good standing, and the registry did not refuse to count it`,
        ]);
      });

      it("not held after a DisputeCountSkipped(opened): legal; a skipped close of a held dispute counts as drift", () => {
        const l = ledger();
        const deal = params();
        const dealId = dealIdOf(deal.payer, deal.salt);
        const held = disputedAt(l, T0 + 10);
        l.applyAll([
          opened(deal),
          ev({ name: "DealPerformed", dealId, time: T0 }),
          ev({ name: "DisputeCountSkipped", dealId, gateway: A.gateway, opened: true }),
          ev({ name: "DealDisputed", dealId, by: A.payer, gatewayHolds: false, time: T0 + 10 }),
          ev({ name: "DealReleased", dealId: held }),
          ev({ name: "DisputeCountSkipped", dealId: held, gateway: A.gateway, opened: false }),
        ]);
        expect(l.inconsistencies).to.deep.equal([]);
        expect(l.counterDrift.get(A.gateway.toLowerCase())).to.equal(1);
        expect(l.heldDisputesByGateway().size).to.equal(0);
      });

      it("a DisputeCountSkipped(closed) for a deal whose held dispute did not just end → I3", () => {
        const l = ledger();
        const dealId = disputedAt(l, T0 + 10, {}, A.payer, true);
        l.apply(ev({ name: "DisputeCountSkipped", dealId, gateway: A.gateway, opened: false }));
        expect(messages(l)).to.deep.equal([
          `I3 state machine: DisputeCountSkipped(closed) for deal ${dealId}, whose held dispute did not just end`,
        ]);
      });
    });

    describe("I4: evidence", () => {
      it("from a party, the gateway or an arbiter while the deal is live: legal", () => {
        const l = ledger();
        const dealId = disputedAt(l, T0 + 10);
        for (const by of [A.payer, A.payee, A.gateway, A.stranger]) l.apply(ev({ name: "EvidencePosted", dealId, by }));
        expect(l.inconsistencies).to.deep.equal([]);
        expect(l.unverifiedPosters).to.deep.equal([]);
      });

      it("from anyone else → checked against ARBITER_ROLE on chain; after the deal ended → I4", () => {
        const l = new AuditLedger({ resolutionWindow: WINDOW });
        const deal = params();
        const dealId = dealIdOf(deal.payer, deal.salt);
        const outsider = ev({ name: "EvidencePosted", dealId, by: A.acceptor });
        l.applyAll([opened(deal), outsider, ev({ name: "DealRefunded", dealId, reason: 1 })]);
        const late = ev({ name: "EvidencePosted", dealId, by: A.payer });
        l.apply(late);
        expect(l.unverifiedPosters).to.deep.equal([{ dealId, by: A.acceptor, block: outsider.block }]);
        expect(messages(l)).to.deep.equal([
          `I4 authority: evidence posted on deal ${dealId} by ${A.payer} after it ended (Refunded)`,
        ]);
      });
    });

    describe("delegate locks", () => {
      const DELEGATE = getAddress("0x00000000000000000000000000000000000000d7");
      const lock = (over: Partial<DealParams> = {}) =>
        params({
          payer: A.acceptor,
          kind: 1,
          amount: 300n,
          deadline: BigInt(T0 + DAY),
          salt: nextDelegateSalt(),
          ...over,
        });
      const setup = () =>
        new AuditLedger({ resolutionWindow: WINDOW }).applyAll([
          ev({ name: "AcceptorRegistered", acceptor: A.acceptor, lockDelegate: DELEGATE }),
          ev({ name: "FloatDeposited", acceptor: A.acceptor, token: A.token, amount: 10_000n }),
        ]);
      const lockedBy = (l: AuditLedger, deal: DealParams, delegate = DELEGATE, time = T0) => {
        const dealId = dealIdOf(deal.payer, deal.salt);
        const open = { ...opened(deal), time };
        l.applyAll([open, ev({ name: "DealLockedByDelegate", dealId, delegate, block: open.block, time })]);
        return dealId;
      };

      it("by the acceptor's delegate with a delegate salt, within its bounds: legal", () => {
        const l = setup();
        lockedBy(l, lock({ deadline: BigInt(T0 + 7 * DAY), releaseWindow: BigInt(2 * DAY) }));
        l.finish();
        expect(l.inconsistencies).to.deep.equal([]);
      });

      it("by someone else, past the bounds, or without the prefix → I4", () => {
        const l = setup();
        const wrong = lockedBy(l, lock(), A.stranger);
        const long = lockedBy(l, lock({ deadline: BigInt(T0 + 7 * DAY + 1), releaseWindow: BigInt(2 * DAY + 1) }));
        const plain = lockedBy(l, lock({ salt: nextSalt() }));
        expect(messages(l)).to.deep.equal([
          `I4 authority: deal ${wrong} locked by delegate ${A.stranger}: the acceptor's lock delegate is ${DELEGATE}`,
          `I4 authority: deal ${long} locked by delegate ${DELEGATE}: its release window 172801 s is above 172800 s; its deadline ${T0 + 7 * DAY + 1} is more than 604800 s after the lock`,
          `I4 authority: deal ${plain} locked by delegate ${DELEGATE}: its salt lacks the delegate prefix`,
        ]);
      });

      it("a delegate salt on anything but a delegate's lock → I4", () => {
        const l = setup();
        const payment = params({ salt: nextDelegateSalt() });
        const acceptorLock = lock();
        l.applyAll([opened(payment), opened(acceptorLock)]);
        l.finish();
        expect(messages(l)).to.deep.equal([
          `I4 authority: deal ${dealIdOf(payment.payer, payment.salt)} (Payment) was opened with a salt reserved for delegate locks`,
          `I4 authority: deal ${dealIdOf(acceptorLock.payer, acceptorLock.salt)} was locked with a salt reserved for delegate locks, but not by a delegate (no DealLockedByDelegate)`,
        ]);
      });

      const expiry = (d: DealParams) => Number(d.deadline + d.releaseWindow) + WINDOW;
      for (const [title, from, at, expected] of [
        ["performed, after its expiry → legal (back to the float)", "performed", 1, undefined],
        ["disputed, after its expiry → legal", "disputed", 1, undefined],
        ["performed, at its expiry → I4", "performed", 0, "before its expiry"],
      ] as [string, string, number, string | undefined][]) {
        it(`LockExpired of a delegate's lock ${title}`, () => {
          const l = setup();
          const deal = lock({ deadline: BigInt(T0 + DAY) });
          const dealId = lockedBy(l, deal);
          l.apply(ev({ name: "DealPerformed", dealId, time: T0 + 10 }));
          if (from === "disputed") {
            l.applyAll([
              ev({ name: "GatewayRegistered", gateway: A.gateway }),
              ev({ name: "GatewayApproved", gateway: A.gateway }),
              ev({ name: "DealDisputed", dealId, by: A.acceptor, gatewayHolds: true, time: T0 + 20 }),
            ]);
          }
          l.apply(ev({ name: "DealRefunded", dealId, reason: 3, time: expiry(deal) + at }));
          l.finish();
          if (expected) expect(messages(l).join("\n")).to.contain(expected);
          else {
            expect(l.inconsistencies).to.deep.equal([]);
            expect(l.floats.get(`${A.acceptor}|${A.token}`.toLowerCase())).to.include({ free: 10_000n, locked: 0n });
          }
        });
      }

      it("LockExpired of a lock the acceptor made → I4; of an open lock → I3", () => {
        const l = setup();
        const own = params({ payer: A.acceptor, kind: 1, amount: 300n });
        const ownId = dealIdOf(own.payer, own.salt);
        l.applyAll([opened(own), ev({ name: "DealPerformed", dealId: ownId, time: T0 })]);
        l.apply(ev({ name: "DealRefunded", dealId: ownId, reason: 3, time: T0 + 365 * DAY }));
        const open = lock();
        const openId = lockedBy(l, open);
        l.apply(ev({ name: "DealRefunded", dealId: openId, reason: 3, time: T0 + 365 * DAY }));
        expect(messages(l)).to.deep.equal([
          `I4 authority: deal ${ownId} refunded as an expired lock, but no delegate locked it`,
          `I3 state machine: deal ${openId} DealRefunded(LockExpired) is not a legal step from Open`,
        ]);
      });
    });

    describe("who may end a dispute now (rulerOf)", () => {
      it("the gateway in its window, then an arbiter, and nobody but the parties without one", () => {
        const l = ledger();
        const dealId = disputedAt(l, T0 + 10);
        const d = l.deals.get(dealId.toLowerCase())!;
        expect(l.rulerOf(d, T0 + 10 + WINDOW)).to.equal("gateway");
        expect(l.rulerOf(d, T0 + 11 + WINDOW)).to.equal("arbiter");
        l.apply(ev({ name: "GatewaySuspended", gateway: A.gateway }));
        expect(l.rulerOf(d, T0 + 20)).to.equal("arbiter");
        l.apply(ev({ name: "ArbiterRevoked", account: A.stranger }));
        expect(l.rulerOf(d, T0 + 20)).to.equal("parties only");
        l.apply(ev({ name: "GatewayReinstated", gateway: A.gateway }));
        expect(l.rulerOf(d, T0 + 20)).to.equal("gateway");
      });
    });
  });

  describe("fetchLogs (adaptive eth_getLogs ranges)", () => {
    const logAt = (n: number): Log => ({ blockNumber: n, index: 0 }) as unknown as Log;

    it("halves the range on provider errors, grows it after successes, and returns every log in order", async () => {
      const ranges: [number, number][] = [];
      const stub = {
        getLogs: async (f: { fromBlock: number; toBlock: number }) => {
          const [from, to] = [Number(f.fromBlock), Number(f.toBlock)];
          ranges.push([from, to]);
          if (to - from + 1 > 700) throw new Error("query returned more than 10000 results");
          const logs: Log[] = [];
          for (let n = to; n >= from; n -= 7) logs.push(logAt(n)); // out of order on purpose
          return logs;
        },
      };
      const progress: number[] = [];
      const logs = await fetchLogs(stub, [A.token], 10, 9_999, {
        backoffBaseMs: 1,
        onProgress: (p) => progress.push(p.toBlock),
      });
      const blocks = logs.map((l) => l.blockNumber);
      expect(blocks).to.deep.equal([...blocks].sort((x, y) => x - y));
      expect(new Set(blocks).size).to.equal(blocks.length);
      expect(ranges[0]).to.deep.equal([10, 2_009]); // starts at 2,000 blocks
      expect(ranges[1]).to.deep.equal([10, 1_009]); // halved
      expect(ranges[2]).to.deep.equal([10, 509]); // halved again, then fine
      expect(ranges[3]).to.deep.equal([510, 1_509]); // doubled after the success, failed
      expect(progress.at(-1)).to.equal(9_999);
      // Every block was covered exactly once by the successful ranges.
      const ok = ranges.filter(([f, t]) => t - f + 1 <= 700);
      expect(ok[0][0]).to.equal(10);
      for (let i = 1; i < ok.length; i++) expect(ok[i][0]).to.equal(ok[i - 1][1] + 1);
      expect(ok.at(-1)![1]).to.equal(9_999);
    });

    it("grows up to 10,000 blocks and gives up after repeated errors on one block", async () => {
      const sizes: number[] = [];
      const growing = {
        getLogs: async (f: { fromBlock: number; toBlock: number }) => {
          sizes.push(Number(f.toBlock) - Number(f.fromBlock) + 1);
          return [];
        },
      };
      await fetchLogs(growing, [A.token], 0, 60_000, { backoffBaseMs: 1 });
      expect(sizes.slice(0, 4)).to.deep.equal([2_000, 4_000, 8_000, 10_000]);
      expect(Math.max(...sizes)).to.equal(10_000);

      let calls = 0;
      const broken = {
        getLogs: async () => {
          calls += 1;
          throw new Error("upstream down");
        },
      };
      let failure: unknown;
      await fetchLogs(broken, [A.token], 0, 100, { backoffBaseMs: 1, initialRange: 4, attemptsAtOneBlock: 3 }).catch(
        (e) => (failure = e),
      );
      expect(String(failure)).to.contain("eth_getLogs failed on block 0 3 times: upstream down");
      expect(calls).to.equal(5); // ranges 4, 2, 1, 1, 1
    });
  });

  describe("helpers", () => {
    it("formats amounts with the token's decimals and no trailing zeros", () => {
      expect(formatAmount(123_456_789n, 6)).to.equal("123.456789");
      expect(formatAmount(750_000_000n, 6)).to.equal("750");
      expect(formatAmount(-1_500_000n, 6)).to.equal("-1.5");
      expect(formatAmount(42n, null)).to.equal("42");
    });

    it("decodes EvidencePosted from its topics, whatever bytes its URI holds", () => {
      const iface = Escrow__factory.createInterface();
      const fragment = iface.getEvent("EvidencePosted");
      const dealId = id("deal");
      const { topics } = iface.encodeEventLog(fragment, [dealId, A.payee, id("photo"), "ipfs://x"]);
      const data = AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes"], [id("photo"), "0xfffe41"]);
      const log = {
        address: A.token,
        topics,
        data,
        blockNumber: 7,
        index: 2,
        transactionHash: id("tx"),
      } as unknown as Log;
      expect(decodeLog(log, A.token, A.gateway)).to.deep.equal({
        block: 7,
        logIndex: 2,
        txHash: id("tx"),
        name: "EvidencePosted",
        dealId,
        by: A.payee,
      });
    });

    it("asks the time only of the events a timed rule needs", () => {
      const at0 = { block: 1, logIndex: 0 };
      expect(needsTime({ ...at0, name: "DealDisputed", dealId: id("d"), by: A.payer, gatewayHolds: true })).to.equal(
        true,
      );
      expect(needsTime({ ...at0, name: "DealReleased", dealId: id("d") })).to.equal(false);
      const lock = params({ payer: A.acceptor, kind: 1, salt: nextDelegateSalt() });
      expect(needsTime({ ...at0, name: "DealOpened", dealId: id("d"), deal: lock, ref: ZeroHash })).to.equal(true);
      expect(needsTime({ ...at0, name: "DealOpened", dealId: id("d"), deal: params(), ref: ZeroHash })).to.equal(false);
    });

    it("derives the arbiter role and deal ids as the contracts do", () => {
      expect(ARBITER_ROLE).to.equal(id("ARBITER_ROLE"));
      const salt = nextSalt();
      expect(dealIdOf(A.payer, salt)).to.equal(
        keccak256(AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [A.payer, salt])),
      );
    });

    it("renders a failed report with every inconsistency", () => {
      const text = renderReport({
        ok: false,
        chainId: 1,
        escrow: A.payer,
        registry: A.payee,
        fromBlock: 1,
        toBlock: 2,
        timestamp: 0,
        events: 0,
        deals: {
          total: 0,
          byStatus: { Open: 0, Performed: 0, Released: 0, Refunded: 0, Disputed: 0, Resolved: 0, Split: 0 },
        },
        tokens: [],
        floats: [],
        owed: [],
        openDeals: [],
        disputes: [],
        alerts: [],
        inconsistencies: [
          { check: "I3", message: "state machine: x", block: 7 },
          { check: "storage", message: "storage: y" },
        ],
      });
      expect(text).to.contain("FAILED: 2 inconsistencies\n  [I3] state machine: x (block 7)\n  [storage] storage: y\n");
    });
  });
});
