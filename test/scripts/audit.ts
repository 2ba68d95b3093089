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
  ZeroAddress,
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
  commitmentOf,
  dealIdOf,
  fetchLogs,
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
  let owedBlacklisted = 0n;
  let blacklistedAccount = "";
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
    const signers = await Promise.all(Array.from({ length: 12 }, (_, i) => provider.getSigner(i)));
    const [deployer, gw, acceptor, p1, p2, q1, q2, buyer, seller, blackX, blackY, relayer] = signers;
    gatewayAddress = gw.address;
    acceptorAddress = acceptor.address;
    blacklistedAccount = blackY.address;
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
    await (await registry.connect(acceptor).registerAcceptor(gw.address, ZeroAddress, GAS)).wait();
    await (await registry.connect(gw).approveAcceptor(acceptor.address, GAS)).wait();
    await (await registry.connect(acceptor).setLimits(await usdt.getAddress(), USDT(1), USDT(100_000), GAS)).wait();
    deposited = USDT(500_000);
    await (await escrow.connect(acceptor).depositFloat(await usdt.getAddress(), deposited, GAS)).wait();

    // Phase 1: open every deal (hundreds, batched per payer).
    const t0 = await latest();
    const long = BigInt(t0 + 30 * DAY);
    const short = BigInt(t0 + 2 * HOUR);
    const plan: {
      group: string;
      n: number;
      kind: number;
      status: number;
      short?: boolean;
      autoRelease?: boolean;
      token?: string;
      parties?: (i: number) => [JsonRpcSigner, JsonRpcSigner];
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
      { group: "blacklistX", n: 3, kind: Kind.Payment, status: Status.Released, parties: () => [p1, blackX] },
      { group: "blacklistY", n: 3, kind: Kind.Payment, status: Status.Released, parties: () => [p2, blackY] },
      { group: "onOpen", n: 20, kind: Kind.OnRamp, status: Status.Open },
      { group: "onReleased", n: 20, kind: Kind.OnRamp, status: Status.Released },
      { group: "onCancel", n: 10, kind: Kind.OnRamp, status: Status.Refunded },
      { group: "onDeadline", n: 5, kind: Kind.OnRamp, status: Status.Refunded, short: true },
      { group: "onResolved", n: 5, kind: Kind.OnRamp, status: Status.Resolved },
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
          deadline: g.short ? short : long,
          releaseWindow: BigInt(HOUR),
          feeBps: FEE_BPS,
          kind: g.kind,
          autoRelease: Boolean(g.autoRelease),
          salt: nextSalt(),
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
          from: payer,
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
      "blacklistX",
      "blacklistY",
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
    await multicall([
      ...perform.map((d) => ({ from: d.payee, data: enc("perform", [d.deal]) })),
      ...of("payerReleased").map((d) => ({ from: d.payer, data: enc("release", [d.deal]) })),
      ...of("cancelOpen", "onCancel").map((d) => ({ from: d.payee, data: enc("cancel", [d.deal]) })),
      ...(await Promise.all(signed)),
    ]);

    // Phase 3: blacklist two payees, then releases (their payouts are deferred), disputes, cancels after performed.
    await Promise.all(
      (await Promise.all([blackX, blackY].map((s) => usdt.connect(deployer).addBlackList(s.address, GAS)))).map((tx) =>
        tx.wait(),
      ),
    );
    await multicall([
      ...of("releasedDirect", "blacklistX", "blacklistY", "onReleased", "offReleased", "daiReleased").map((d) => ({
        from: d.payer,
        data: enc("release", [d.deal]),
      })),
      ...of("disputedOverdue", "resolvedGateway").map((d) => ({ from: d.payer, data: enc("dispute", [d.deal]) })),
      ...of("resolvedArbiter", "cancelDisputed", "onResolved").map((d) => ({
        from: d.payee,
        data: enc("dispute", [d.deal]),
      })),
      ...of("cancelPerformed").map((d) => ({ from: d.payee, data: enc("cancel", [d.deal]) })),
    ]);

    // Phase 4: the gateway rules in its window; a payee cancels a dispute; owed balances are claimed.
    await multicall([
      ...of("resolvedGateway").map((d) => ({ from: gw, data: enc("resolve", [d.deal, d.deal.amount / 2n]) })),
      ...of("onResolved").map((d) => ({ from: gw, data: enc("resolve", [d.deal, (d.deal.amount * 3n) / 4n]) })),
      ...of("cancelDisputed").map((d) => ({ from: d.payee, data: enc("cancel", [d.deal]) })),
    ]);
    await (await usdt.connect(deployer).removeBlackList(blackX.address, GAS)).wait();
    await multicall([
      { from: relayer, data: enc("claimOwed", [await usdt.getAddress(), gw.address]) },
      { from: relayer, data: enc("claimOwed", [await usdt.getAddress(), blackX.address]) },
    ]);

    // Phase 5: three days and two hours later: deadline refunds, claims, the arbiter's rulings, fresh disputes.
    await provider.send("evm_increaseTime", [RESOLUTION_WINDOW + 2 * HOUR]);
    await provider.send("evm_mine", []);
    await multicall([
      ...of("refundDeadline", "onDeadline").map((d) => ({ from: relayer, data: enc("refund", [d.deal]) })),
      ...of("releasedClaim").map((d) => ({ from: d.payee, data: enc("claim", [d.deal]) })),
      ...of("resolvedArbiter").map((d) => ({ from: deployer, data: enc("resolve", [d.deal, d.deal.amount / 3n]) })),
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
    // The gateway claimed its USDT fees in phase 4; only the claims of phase 5 accrued after.
    owedGatewayUsdt = of("releasedClaim").reduce((s, d) => s + d.fee, 0n);
    owedBlacklisted = of("blacklistY").reduce((s, d) => s + d.payeeNet, 0n);

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
      ])
        expect(statuses.has(s), `status ${s}`).to.equal(true);
    });

    it("exits 0 with ok true, every deal counted by status, and no inconsistency (--json)", () => {
      expect(firstJson.code, firstJson.stderr).to.equal(0);
      const report = parseReport(firstJson);
      expect(report.inconsistencies).to.deep.equal([]);
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
      });
      expect(report.deals.byStatus).to.deep.equal({
        Open: 95,
        Performed: 25,
        Released: 108,
        Refunded: 69,
        Disputed: 15,
        Resolved: 30,
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
      const owed = owedGatewayUsdt + owedBlacklisted;
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
      expect(owedOf(usdtAddress, blacklistedAccount)).to.equal(owedBlacklisted.toString());
      expect(owedOf(daiAddress, gatewayAddress)).to.equal(sum(daiDeals, (x) => x.fee).toString());
      expect(report.owed).to.have.length(3); // the unblacklisted payee claimed; nothing else is owed
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
        expect(dispute.gatewayDeadline - dispute.since).to.equal(RESOLUTION_WINDOW);
        if (overdue.has(dispute.dealId)) expect(dispute.overdue, dispute.dealId).to.equal(true);
        else expect(fresh.has(dispute.dealId) && !dispute.overdue, dispute.dealId).to.equal(true);
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
        "Deals: 342 (Open 95, Performed 25, Released 108, Refunded 69, Disputed 15, Resolved 30)",
      );
      expect(r.stdout).to.contain("Open deals: 135");
      expect(r.stdout).to.contain("  and 115 more");
      expect(r.stdout).to.contain("Disputes awaiting a ruling: 15");
      expect(r.stdout.match(/OVERDUE/g)).to.have.length(8);
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
      // Layout (high to low byte): payerReleased, status, since (5 bytes), commitment (25 bytes).
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
      const t = report.tokens.find((x) => x.token === usdt2Address)!;
      expect(t).to.include({ balance: "0", openDeals: USDT(750).toString(), surplus: (-USDT(750)).toString() });
    });

    it("prints every inconsistency in the human report", async () => {
      const r = await audit("--deployment", file2, "--rpc", url);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.contain("FAILED: 1 inconsistency\n");
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
        ev({ name: "DealReleased", dealId, payeeAmount: 995_000n, fee: 5_000n, block: 500 }),
      ]);
      ledger.finish();
      expect(ledger.inconsistencies).to.deep.equal([]);
      const d = ledger.deals.get(dealId.toLowerCase())!;
      expect(d).to.include({ status: Status.Released, payerReleased: false, sinceBlock: 500, fee: 5_000n });
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
        ev({ name: "DealDisputed", dealId, by: A.payee }),
        ev({ name: "ArbiterGranted", account: A.stranger }),
        ev({ name: "DealResolved", dealId, by: A.stranger, payeeAmount: 100n, fee: 0n, refund: 200n }),
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
        ev({ name: "DealReleased", dealId: unknown, payeeAmount: 1n, fee: 0n }),
      ]);
      expect(ledger.inconsistencies.map((i) => [i.check, i.message])).to.deep.equal([
        ["I3", `state machine: deal ${dealId} DealRefunded(Deadline) is not a legal step from Performed`],
        ["I3", `state machine: deal ${dealId} opened again while Performed`],
        ["I3", `state machine: DealReleased for unknown deal ${unknown}`],
      ]);
    });

    it("flags I2 when a settlement does not add up to the amount or charges the wrong fee", () => {
      const a = params();
      const b = params();
      const [ia, ib] = [dealIdOf(a.payer, a.salt), dealIdOf(b.payer, b.salt)];
      const ledger = new AuditLedger().applyAll([
        opened(a),
        opened(b),
        ev({ name: "DealPerformed", dealId: ia }),
        ev({ name: "DealReleased", dealId: ia, payeeAmount: 990_000n, fee: 10_000n }),
        ev({ name: "DealPerformed", dealId: ib }),
        ev({ name: "DealDisputed", dealId: ib, by: A.payer }),
        ev({ name: "DealResolved", dealId: ib, by: A.gateway, payeeAmount: 500n, fee: 0n, refund: 1n }),
      ]);
      expect(ledger.inconsistencies.map((i) => [i.check, i.dealId])).to.deep.equal([
        ["I2", ia],
        ["I2", ib],
      ]);
      expect(ledger.inconsistencies[0].message).to.contain("fee 10000 != 50 bps of 1000000 (5000)");
      expect(ledger.inconsistencies[1].message).to.contain("payee 500 + fee 0 + refund 1 != amount 1000000");
    });

    it("flags I4 for a dispute by a stranger, and leaves a ruling by a non-arbiter for the storage check", () => {
      const deal = params();
      const dealId = dealIdOf(deal.payer, deal.salt);
      const ruling = ev({ name: "DealResolved", dealId, by: A.stranger, payeeAmount: 0n, fee: 0n, refund: 1_000_000n });
      const ledger = new AuditLedger().applyAll([
        ev({ name: "ArbiterGranted", account: A.stranger }),
        ev({ name: "ArbiterRevoked", account: A.stranger }),
        opened(deal),
        ev({ name: "DealPerformed", dealId }),
        ev({ name: "DealDisputed", dealId, by: A.stranger }),
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
        ev({ name: "DealReleased", dealId, payeeAmount: 995_000n, fee: 5_000n }),
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
        deals: { total: 0, byStatus: { Open: 0, Performed: 0, Released: 0, Refunded: 0, Disputed: 0, Resolved: 0 } },
        tokens: [],
        floats: [],
        owed: [],
        openDeals: [],
        disputes: [],
        inconsistencies: [
          { check: "I3", message: "state machine: x", block: 7 },
          { check: "storage", message: "storage: y" },
        ],
      });
      expect(text).to.contain("FAILED: 2 inconsistencies\n  [I3] state machine: x (block 7)\n  [storage] storage: y\n");
    });
  });
});
