/**
 * Invariant suite of docs/design.md §5: a fast-check model of the protocol (`./model.ts`) drives random sequences of
 * actions by several actors against one deployment on Hardhat's in-process network, and after every step checks
 * the invariants against the chain:
 *
 *  - I1 Solvency: for each token, `balanceOf(escrow) == Σ amounts of non-final wallet-funded deals
 *    + Σ acceptors' (free + locked) float + Σ owed`; the locked float is exactly the non-final on-ramp deals'
 *    amounts (asserted separately, so nothing is counted twice); gateway fees are part of `owed`.
 *  - I2 Conservation: every settlement event pays out exactly the deal's amount (payee + fee + refund), and the
 *    transaction's logs (transfers, deferred payouts) are exactly those the model predicts.
 *  - I3 Finality: every deal's on-chain record (commitment, since, status, flags) equals the model's, and
 *    the model never changes a final deal, so every later action on it must revert.
 *  - I4 Authority: the model decides whether each action is legal; a legal one must succeed with the predicted
 *    logs, an illegal one (wrong caller, signer, status, time...) must revert with one of the predicted errors,
 *    and the post-step checks show it changed nothing.
 *  - I5 Float: for each acceptor and token, `free + locked == deposits − withdrawals − settled + refunded` and
 *    both equal `floatOf` on chain.
 *  - I6 Someone can end every dispute: for every disputed deal, the payer's release and the ruling of whoever may
 *    rule now (the gateway that holds it, in good standing and in its window; otherwise the arbiter, unless
 *    governance revoked it) succeed when simulated (`eth_call`) after the step.
 * Owed balances and, at the end of each run, every actor's wallet balance and the gateways' standing (status,
 * suspension, held-dispute counter) are compared with the model too. After the runs, every kind of call must have
 * succeeded a minimum number of times, so the suite cannot pass by exercising only reverts.
 *
 * Speed: one deployment; every run reverts to a snapshot taken after it. Transactions are sent straight to the
 * provider with a fixed gas limit and an explicit block timestamp (no estimation, deterministic time); the
 * post-step reads are one `multicall` eth_call on the escrow plus two `balanceOf` calls.
 *
 * Runs and length: `INVARIANT_RUNS` (default 120) runs of up to `INVARIANT_STEPS` (default 100) steps; the seed is
 * fixed unless `INVARIANT_SEED` is set (a number, or `random`).
 */
import { expect } from "chai";
import fc from "fast-check";
import { AbiCoder, HDNodeWallet, Interface, SigningKey, concat, keccak256, toQuantity } from "ethers";
import { ethers, network } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";

import { DAY, HOUR, RESOLUTION_WINDOW, UNBONDING_DELAY, deployProtocol } from "./fixtures";
import {
  ACTION,
  FLAG,
  GW,
  type Addr,
  type DealParams,
  EscrowModel,
  type InitialState,
  type ModelDeal,
  KIND,
  KIND_NAME,
  type ModelConfig,
  type SigAuth,
  STATUS,
  STATUS_NAME,
  type Verdict,
  dealIdOf,
  isFinal,
  norm,
} from "./model";

/*//////////////////////////////////////////////////////////////
                           SETTINGS
//////////////////////////////////////////////////////////////*/

const RUNS = Number(process.env.INVARIANT_RUNS ?? 120);
const MAX_STEPS = Number(process.env.INVARIANT_STEPS ?? 100);
const SEED_ENV = process.env.INVARIANT_SEED;
const SEED = SEED_ENV === "random" ? Date.now() ^ 0x5eed : SEED_ENV !== undefined ? Number(SEED_ENV) : 0x5eed_2024;

const GAS = toQuantity(3_000_000);
/**
 * Minimum successful calls per run, by kind: about a third of what the default seed gives, so that the suite
 * fails if a change leaves a transition unexercised. Rounded down: a short run (the coverage run's 30) asserts
 * only the kinds it is expected to reach.
 */
const MIN_SUCCESS_PER_RUN: Record<string, number> = {
  open: 1,
  lock: 0.4,
  perform: 0.4,
  performWithSig: 0.1,
  release: 0.25,
  releaseWithSig: 0.06,
  cancel: 0.2,
  cancelWithSig: 0.03,
  dispute: 0.1,
  disputeWithSig: 0.05,
  claim: 0.015,
  claimWithSig: 0.005,
  refund: 0.1,
  resolve: 0.04,
  settleWithSigs: 0.25,
  cancelWithSigs: 0.09,
  splitWithSigs: 0.2,
  postEvidence: 0.07,
  depositFloat: 0.25,
  withdrawFloat: 0.25,
  claimOwed: 0.1,
  requestExit: 0.07,
  completeExit: 0.025,
  suspendGateway: 0.08,
  reinstateGateway: 0.025,
};
const GATEWAY2_FEE_BPS = 137n; // odd, so fees round differently from gateway 1
const FLOAT_USDT = [100_000n, 50_000n];
const ONE_MILLION = 1_000_000n;
const coder = AbiCoder.defaultAbiCoder();
const ZERO_HASH = "0x" + "00".repeat(32);
const SPLIT_TYPEHASH = keccak256(new TextEncoder().encode("Split(bytes32 dealId,uint96 payeeAmount,uint256 expiry)"));
const ACTION_TYPEHASH = keccak256(new TextEncoder().encode("DealAction(bytes32 dealId,uint8 action,uint256 expiry)"));

/*//////////////////////////////////////////////////////////////
                            FIXTURE
//////////////////////////////////////////////////////////////*/

/**
 * The protocol of `deployProtocol` plus a second approved gateway (fee 137 bps) with a second acceptor (own
 * delegate, own limits), floats for both acceptors in both tokens, and max allowances from every funder.
 */
async function deployInvariantWorld() {
  const p = await deployProtocol();
  const { admin, governor, gateway2, usdt, dai, registry, escrow } = p;
  const [payer1, payer2, payee1, payee2, acceptor2, delegate2] = p.rest;
  const [usdtAddr, daiAddr, escrowAddr] = [await usdt.getAddress(), await dai.getAddress(), await escrow.getAddress()];
  const unit = (token: string, n: bigint) => n * 10n ** (token === usdtAddr ? 6n : 18n);

  for (const s of [acceptor2, delegate2]) {
    await usdt.connect(admin).mint(s.address, unit(usdtAddr, ONE_MILLION));
    await dai.mint(s.address, unit(daiAddr, ONE_MILLION));
  }

  // Gateway 2: registered, bonded, approved.
  const minBond = await registry.minBond();
  await usdt.connect(gateway2).approve(await registry.getAddress(), minBond);
  await registry.connect(gateway2).registerGateway(minBond, GATEWAY2_FEE_BPS, ethers.id("gateway 2 terms"));
  await registry.connect(governor).approveGateway(gateway2.address, 300);

  // Acceptor 2 under gateway 2.
  await registry.connect(acceptor2).registerAcceptor(gateway2.address, delegate2.address);
  await registry.connect(gateway2).approveAcceptor(acceptor2.address);
  await registry.connect(acceptor2).setLimits(usdtAddr, unit(usdtAddr, 1n), unit(usdtAddr, 20_000n));
  await registry.connect(acceptor2).setLimits(daiAddr, unit(daiAddr, 5n), unit(daiAddr, 100_000n));

  // Max allowances from everyone who funds the escrow (USDT never decreases a max allowance).
  const payers = [p.payer, payer1, payer2];
  const acceptors = [p.acceptor, acceptor2];
  for (const s of [...payers, ...acceptors]) {
    await usdt.connect(s).approve(escrowAddr, ethers.MaxUint256);
    await dai.connect(s).approve(escrowAddr, ethers.MaxUint256);
  }
  for (const [i, a] of acceptors.entries()) {
    await escrow.connect(a).depositFloat(usdtAddr, unit(usdtAddr, FLOAT_USDT[i]));
    await escrow.connect(a).depositFloat(daiAddr, unit(daiAddr, FLOAT_USDT[i]));
  }

  return {
    ...p,
    payers,
    payees: [p.payee, payee1, payee2],
    acceptors,
    delegates: [p.delegate, delegate2],
    gateways: [p.gateway, gateway2],
  };
}

type WorldFixture = Awaited<ReturnType<typeof deployInvariantWorld>>;

/*//////////////////////////////////////////////////////////////
                         THE REAL WORLD
//////////////////////////////////////////////////////////////*/

type TxResult = { ok: true; logs: string[] } | { ok: false; error: string };

/** Outcome counters, printed after the property so a reader can see the suite exercises the success paths. */
const stats = new Map<string, { ok: number; reverted: number; errors: Map<string, number> }>();
const finalStatuses = new Map<string, number>();
/** I6 simulations that succeeded, by who could end the dispute. */
const disputeEnds = new Map<string, number>();
let totalSteps = 0;

class World {
  readonly provider = network.provider;
  readonly escrowIface: Interface;
  readonly registryIface: Interface;
  readonly usdtIface: Interface;
  readonly daiIface: Interface;
  readonly errorIfaces: Interface[];
  readonly byAddress = new Map<Addr, { name: string; iface: Interface }>();
  readonly names = new Map<Addr, string>();
  readonly keys = new Map<Addr, SigningKey>();
  readonly cfg: ModelConfig;
  readonly init: InitialState;
  readonly registry: Addr;
  readonly payers: Addr[];
  readonly payees: Addr[];
  readonly acceptors: Addr[];
  readonly delegates: Addr[];
  readonly gateways: Addr[];
  readonly outsider: Addr;
  readonly admin: Addr;
  /** Accounts whose owed balances and wallets are checked. */
  readonly accounts: Addr[];
  /** Accounts that commands may blacklist (the escrow itself included). */
  readonly blacklistable: Addr[];
  readonly tokens: Addr[];
  private readonly domainSeparator: string;
  private readonly fixedCalls: string[];
  private snapshot = "";
  model!: EscrowModel;

  constructor(
    f: WorldFixture,
    addrs: { escrow: Addr; registry: Addr; usdt: Addr; dai: Addr },
    init: InitialState,
    domainSeparator: string,
    keys: Map<Addr, SigningKey>,
  ) {
    const lc = (s: { address: string }) => s.address.toLowerCase();
    this.escrowIface = f.escrow.interface as unknown as Interface;
    this.registryIface = f.registry.interface as unknown as Interface;
    this.usdtIface = f.usdt.interface as unknown as Interface;
    this.daiIface = f.dai.interface as unknown as Interface;
    this.errorIfaces = [this.escrowIface, this.registryIface, this.usdtIface, this.daiIface];
    this.byAddress.set(addrs.escrow, { name: "Escrow", iface: this.escrowIface });
    this.byAddress.set(addrs.registry, { name: "Registry", iface: this.registryIface });
    this.byAddress.set(addrs.usdt, { name: "USDT", iface: this.usdtIface });
    this.byAddress.set(addrs.dai, { name: "DAI", iface: this.daiIface });
    this.registry = addrs.registry;
    this.payers = f.payers.map(lc);
    this.payees = f.payees.map(lc);
    this.acceptors = f.acceptors.map(lc);
    this.delegates = f.delegates.map(lc);
    this.gateways = f.gateways.map(lc);
    this.outsider = lc(f.other);
    this.admin = lc(f.admin);
    this.tokens = [addrs.usdt, addrs.dai];
    this.keys = keys;
    this.domainSeparator = domainSeparator;
    const label = (list: Addr[], prefix: string) => list.forEach((a, i) => this.names.set(a, `${prefix}${i}`));
    label(this.payers, "P");
    label(this.payees, "Q");
    label(this.acceptors, "A");
    label(this.delegates, "D");
    label(this.gateways, "G");
    this.names.set(this.outsider, "outsider");
    this.names.set(lc(f.governor), "governor");
    this.names.set(lc(f.pauser), "pauser");
    this.names.set(lc(f.arbiter), "arbiter");
    this.names.set(this.admin, "admin");
    this.names.set(addrs.escrow, "escrow");
    this.accounts = [
      ...this.payers,
      ...this.payees,
      ...this.acceptors,
      ...this.delegates,
      ...this.gateways,
      this.outsider,
    ];
    this.blacklistable = [...this.payers, ...this.payees, ...this.acceptors, ...this.gateways, addrs.escrow];
    this.cfg = {
      escrow: addrs.escrow,
      registry: addrs.registry,
      usdt: addrs.usdt,
      dai: addrs.dai,
      gateways: [
        { addr: this.gateways[0], feeBps: 50n },
        { addr: this.gateways[1], feeBps: GATEWAY2_FEE_BPS },
      ],
      acceptors: [
        {
          addr: this.acceptors[0],
          gateway: this.gateways[0],
          delegate: this.delegates[0],
          limits: {
            [addrs.usdt]: { min: 10n * 10n ** 6n, max: 50_000n * 10n ** 6n },
            [addrs.dai]: { min: 10n * 10n ** 18n, max: 50_000n * 10n ** 18n },
          },
        },
        {
          addr: this.acceptors[1],
          gateway: this.gateways[1],
          delegate: this.delegates[1],
          limits: {
            [addrs.usdt]: { min: 1n * 10n ** 6n, max: 20_000n * 10n ** 6n },
            [addrs.dai]: { min: 5n * 10n ** 18n, max: 100_000n * 10n ** 18n },
          },
        },
      ],
      governor: lc(f.governor),
      pauser: lc(f.pauser),
      arbiter: lc(f.arbiter),
      usdtOwner: this.admin,
      maxFeeBps: 500n,
      resolutionWindow: BigInt(RESOLUTION_WINDOW),
      unbondingDelay: BigInt(UNBONDING_DELAY),
      bond: init.bond,
    };
    this.init = init;
    // Reads that do not depend on the deals: floats, then owed balances.
    this.fixedCalls = [
      ...this.acceptors.flatMap((a) => this.tokens.map((t) => this.escrowIface.encodeFunctionData("floatOf", [a, t]))),
      ...this.tokens.flatMap((t) => this.accounts.map((a) => this.escrowIface.encodeFunctionData("owed", [t, a]))),
    ];
  }

  name(a: Addr): string {
    return this.names.get(a) ?? a.slice(0, 8);
  }

  tokenName(t: Addr): string {
    return t === this.cfg.usdt ? "USDT" : "DAI";
  }

  decimals(t: Addr): bigint {
    return t === this.cfg.usdt ? 6n : 18n;
  }

  /** Reverts to the post-deployment snapshot (and takes a new one) and starts a fresh model. */
  async reset(): Promise<void> {
    if (this.snapshot !== "") {
      const reverted = await this.provider.request({ method: "evm_revert", params: [this.snapshot] });
      if (reverted !== true) throw new Error("evm_revert failed");
    }
    this.snapshot = (await this.provider.request({ method: "evm_snapshot", params: [] })) as string;
    this.model = new EscrowModel(this.cfg, this.init);
  }

  /** Fixes the next block's timestamp one second after the model's clock and returns it. */
  async tick(): Promise<bigint> {
    const t = this.model.now + 1n;
    await this.provider.request({ method: "evm_setNextBlockTimestamp", params: [toQuantity(t)] });
    this.model.now = t;
    return t;
  }

  /** Moves the clock so that the next transaction is mined at `next` (no-op when that is not in the future). */
  async warpTo(next: bigint): Promise<boolean> {
    const target = next - 1n;
    if (target <= this.model.now) return false;
    await this.provider.request({ method: "evm_setNextBlockTimestamp", params: [toQuantity(target)] });
    await this.provider.request({ method: "evm_mine", params: [] });
    this.model.now = target;
    return true;
  }

  /** An EIP-712 DealAction signature by `signer`, computed locally. */
  sign(signer: Addr, dealId: string, action: number, expiry: bigint): { expiry: bigint; signature: string } {
    const key = this.keys.get(signer);
    if (!key) throw new Error(`no key for ${signer}`);
    const structHash = keccak256(
      coder.encode(["bytes32", "bytes32", "uint8", "uint256"], [ACTION_TYPEHASH, dealId, action, expiry]),
    );
    const digest = keccak256(concat(["0x1901", this.domainSeparator, structHash]));
    return { expiry, signature: key.sign(digest).serialized };
  }

  /** An EIP-712 Split signature by `signer`, computed locally. */
  signSplit(signer: Addr, dealId: string, payeeAmount: bigint, expiry: bigint): { expiry: bigint; signature: string } {
    const key = this.keys.get(signer);
    if (!key) throw new Error(`no key for ${signer}`);
    const structHash = keccak256(
      coder.encode(["bytes32", "bytes32", "uint96", "uint256"], [SPLIT_TYPEHASH, dealId, payeeAmount, expiry]),
    );
    const digest = keccak256(concat(["0x1901", this.domainSeparator, structHash]));
    return { expiry, signature: key.sign(digest).serialized };
  }

  private decodeLog(log: { address: string; topics: string[]; data: string }): string {
    const c = this.byAddress.get(log.address.toLowerCase());
    const parsed = c?.iface.parseLog(log);
    if (!c || !parsed) return `Unknown(${log.address},${log.topics[0]})`;
    return `${c.name}.${parsed.name}(${Array.from(parsed.args).map(norm).join(",")})`;
  }

  decodeRevert(e: unknown): string {
    // Hardhat puts the revert data on `data`, or on `data.data` when it has no Solidity stack trace.
    const raw = (e as { data?: unknown }).data;
    const data = typeof raw === "object" && raw !== null ? (raw as { data?: unknown }).data : raw;
    // Mainnet Tether fails by INVALID (no data) as well as by empty reverts: both count as an empty revert.
    if (data === undefined && /invalid opcode/.test(String((e as Error).message))) return "EmptyRevert";
    if (typeof data !== "string") throw e;
    if (data === "0x") return "EmptyRevert";
    for (const iface of this.errorIfaces) {
      const parsed = iface.parseError(data);
      if (parsed) return parsed.name;
    }
    return `UnknownError(${data.slice(0, 10)})`;
  }

  private async send(from: Addr, to: Addr, data: string): Promise<TxResult> {
    try {
      const hash = await this.provider.request({
        method: "eth_sendTransaction",
        params: [{ from, to, data, gas: GAS }],
      });
      const receipt = (await this.provider.request({ method: "eth_getTransactionReceipt", params: [hash] })) as {
        status: string;
        logs: { address: string; topics: string[]; data: string }[];
      };
      if (receipt.status !== "0x1") return { ok: false, error: "FailedWithoutError" };
      return { ok: true, logs: receipt.logs.map((l) => this.decodeLog(l)) };
    } catch (e) {
      return { ok: false, error: this.decodeRevert(e) };
    }
  }

  /**
   * Sends the transaction and holds it to the model's verdict: a legal action must succeed with exactly the
   * predicted logs, an illegal one must revert with one of the predicted errors. Then checks the invariants.
   */
  async exec(kind: string, desc: string, from: Addr, to: Addr, data: string, verdict: Verdict): Promise<void> {
    const res = await this.send(from, to, data);
    const s = stats.get(kind) ?? { ok: 0, reverted: 0, errors: new Map<string, number>() };
    stats.set(kind, s);
    totalSteps += 1;
    if (verdict.ok && res.ok) {
      s.ok += 1;
      this.checkSettlementEvents(desc, res.logs);
      expect(res.logs, `${desc}: logs differ from the model's (I2/I4)`).to.deep.equal(verdict.logs);
    } else if (!verdict.ok && !res.ok) {
      s.reverted += 1;
      s.errors.set(res.error, (s.errors.get(res.error) ?? 0) + 1);
      expect(
        verdict.errors,
        `${desc}: reverted with ${res.error}, model expected one of [${verdict.errors}]`,
      ).to.include(res.error);
    } else if (verdict.ok && !res.ok) {
      throw new Error(
        `${desc}: model says legal (logs ${JSON.stringify(verdict.logs)}) but it reverted with ${res.error}`,
      );
    } else if (!verdict.ok && res.ok) {
      throw new Error(
        `${desc}: model says it must revert with one of [${verdict.errors}] but it succeeded: ${JSON.stringify(res.logs)}`,
      );
    }
    await this.checkInvariants(desc);
  }

  /**
   * I2 from the chain's own events: every ruling or split pays out exactly the deal's amount (a DealReleased
   * carries no amounts: amount − fee and the fee follow from the deal; the logs around it are checked above).
   */
  private checkSettlementEvents(desc: string, logs: string[]): void {
    for (const line of logs) {
      const m = /^Escrow\.(DealResolved|DealSplit)\((0x[0-9a-f]{64}),(.*)\)$/.exec(line);
      if (!m) continue;
      const deal = this.model.byId.get(m[2]);
      if (!deal) throw new Error(`${desc}: settlement of unknown deal ${m[2]}`);
      const nums = m[3]
        .split(",")
        .filter((x) => /^\d+$/.test(x))
        .map(BigInt);
      const total = nums.reduce((a, b) => a + b, 0n);
      expect(total, `${desc}: I2 ${deal.label} ${m[1]} pays ${total} of ${deal.p.amount}`).to.equal(deal.p.amount);
    }
  }

  private async call(to: Addr, data: string): Promise<string> {
    return (await this.provider.request({ method: "eth_call", params: [{ to, data }, "latest"] })) as string;
  }

  /** Reads the escrow's state in one multicall and checks I1, I3, I5, the deal records and the owed balances. */
  async checkInvariants(desc: string): Promise<void> {
    const m = this.model;
    const getDeal = m.deals.map((d) => this.escrowIface.encodeFunctionData("getDeal", [d.id]));
    const mc = this.escrowIface.encodeFunctionData("multicall", [[...getDeal, ...this.fixedCalls]]);
    const balData = this.usdtIface.encodeFunctionData("balanceOf", [this.cfg.escrow]);
    const [mcRaw, usdtBalRaw, daiBalRaw] = await Promise.all([
      this.call(this.cfg.escrow, mc),
      this.call(this.cfg.usdt, balData),
      this.call(this.cfg.dai, balData),
    ]);
    const results = coder.decode(["bytes[]"], mcRaw)[0] as string[];
    const word = (hex: string, i: number) => BigInt("0x" + hex.slice(2 + 64 * i, 2 + 64 * (i + 1)));
    const balance = new Map([
      [this.cfg.usdt, BigInt(usdtBalRaw)],
      [this.cfg.dai, BigInt(daiBalRaw)],
    ]);

    // Deal records (I3 together with the model, which never changes a final deal).
    const committed = new Map<Addr, bigint>(this.tokens.map((t) => [t, 0n]));
    const lockedByDeals = new Map<string, bigint>();
    m.deals.forEach((d, i) => {
      const r = results[i];
      const chain = {
        commitment: r.slice(0, 2 + 50),
        since: word(r, 1),
        status: Number(word(r, 2)),
        flags: Number(word(r, 3)),
      };
      const model = { commitment: d.commitment, since: d.since, status: d.status, flags: d.flags };
      if (
        chain.commitment !== model.commitment ||
        chain.since !== model.since ||
        chain.status !== model.status ||
        chain.flags !== model.flags
      ) {
        throw new Error(
          `${desc}: I3/record ${d.label} on chain ${STATUS_NAME[chain.status]} since ${chain.since} flags=${chain.flags} ` +
            `commitment ${chain.commitment}; model ${STATUS_NAME[model.status]} since ${model.since} flags=${model.flags}`,
        );
      }
      if (isFinal(chain.status)) {
        // I2 as recorded by the model from the settlement (checked against the logs when it happened).
        const p = d.payout;
        if (!p || p.payee + p.fee + p.refund !== d.p.amount)
          throw new Error(`${desc}: I2 ${d.label} payout ${JSON.stringify(p)}`);
      } else if (d.p.kind === KIND.OnRamp) {
        const k = `${d.p.payer}:${d.p.token}`;
        lockedByDeals.set(k, (lockedByDeals.get(k) ?? 0n) + d.p.amount);
      } else {
        committed.set(d.p.token, (committed.get(d.p.token) ?? 0n) + d.p.amount);
      }
    });

    // Floats (I5).
    let idx = m.deals.length;
    const floatTotal = new Map<Addr, bigint>(this.tokens.map((t) => [t, 0n]));
    for (const a of this.acceptors) {
      for (const t of this.tokens) {
        const r = results[idx++];
        const free = word(r, 0);
        const locked = word(r, 1);
        const f = m.float(a, t);
        const where = `${this.name(a)}/${this.tokenName(t)}`;
        if (free !== f.free || locked !== f.locked) {
          throw new Error(
            `${desc}: I5 float ${where} on chain free=${free} locked=${locked}; model free=${f.free} locked=${f.locked}`,
          );
        }
        const ledger = f.deposits - f.withdrawals - f.settled + f.refunded;
        if (free + locked !== ledger) {
          throw new Error(
            `${desc}: I5 float ${where} free+locked=${free + locked} but deposits−withdrawals−settled+refunded=${ledger}`,
          );
        }
        const byDeals = lockedByDeals.get(`${a}:${t}`) ?? 0n;
        if (locked !== byDeals)
          throw new Error(`${desc}: I1/I5 ${where} locked=${locked} but its open on-ramp deals hold ${byDeals}`);
        floatTotal.set(t, (floatTotal.get(t) ?? 0n) + free + locked);
      }
    }

    // Owed balances.
    const owedTotal = new Map<Addr, bigint>(this.tokens.map((t) => [t, 0n]));
    for (const t of this.tokens) {
      for (const a of this.accounts) {
        const owed = word(results[idx++], 0);
        const expected = m.owedOf(t, a);
        if (owed !== expected) {
          throw new Error(`${desc}: owed ${this.tokenName(t)} to ${this.name(a)} on chain ${owed}, model ${expected}`);
        }
        owedTotal.set(t, (owedTotal.get(t) ?? 0n) + owed);
      }
    }
    for (const [k, v] of m.owed) {
      if (v !== 0n && !this.accounts.includes(k.split(":")[1]))
        throw new Error(`${desc}: model owes an unchecked account ${k}`);
    }

    // I1 Solvency, with equality: nobody sends tokens to the escrow directly here.
    for (const t of this.tokens) {
      const bal = balance.get(t)!;
      const sum = committed.get(t)! + floatTotal.get(t)! + owedTotal.get(t)!;
      if (bal !== sum) {
        throw new Error(
          `${desc}: I1 ${this.tokenName(t)} escrow balance ${bal} != deals ${committed.get(t)} + float ${floatTotal.get(t)} + owed ${owedTotal.get(t)}`,
        );
      }
      const modelBal = m.balanceOf(t, this.cfg.escrow);
      if (bal !== modelBal) throw new Error(`${desc}: ${this.tokenName(t)} escrow balance ${bal}, model ${modelBal}`);
    }

    await this.checkDisputesCanEnd(desc);
  }

  /**
   * I6: every disputed deal has someone able to end it. Simulated with `eth_call` against the state after the
   * step: the payer's release (always possible), and a ruling by whoever may rule now. A ruling within a few
   * seconds of the window's end is not simulated: the call's block time may differ from the next block's.
   */
  private async checkDisputesCanEnd(desc: string): Promise<void> {
    const m = this.model;
    for (const d of m.deals.filter((x) => x.status === STATUS.Disputed)) {
      const simulate = async (from: Addr, fn: string, args: unknown[], what: string) => {
        try {
          await this.provider.request({
            method: "eth_call",
            params: [{ from, to: this.cfg.escrow, data: this.escrowIface.encodeFunctionData(fn, args) }, "latest"],
          });
          disputeEnds.set(what, (disputeEnds.get(what) ?? 0) + 1);
        } catch (e) {
          throw new Error(`${desc}: I6 ${d.label} is disputed and ${what} cannot end it: ${this.decodeRevert(e)}`);
        }
      };
      await simulate(d.p.payer, "release", [d.p], "the payer's release");
      const windowEnd = d.since + this.cfg.resolutionWindow;
      if (m.now + 5n >= windowEnd && m.now <= windowEnd + 5n) continue;
      const ruler = m.rulerOf(d, m.now + 1n);
      if (ruler === undefined) {
        disputeEnds.set("the parties only (no arbiter)", (disputeEnds.get("the parties only (no arbiter)") ?? 0) + 1);
        continue;
      }
      const from = ruler === "gateway" ? d.p.gateway : this.cfg.arbiter;
      await simulate(from, "resolve", [d.p, d.p.amount / 2n, ZERO_HASH], `a ruling by the ${ruler}`);
    }
  }

  /** End of a run: every actor's wallet and the gateways' dispute counters match the model. */
  async checkWallets(): Promise<void> {
    const m = this.model;
    const reads: Promise<string>[] = [];
    const expected: { what: string; value: bigint }[] = [];
    for (const t of this.tokens) {
      for (const a of this.accounts) {
        reads.push(this.call(t, this.usdtIface.encodeFunctionData("balanceOf", [a])));
        expected.push({ what: `${this.tokenName(t)} balance of ${this.name(a)}`, value: m.balanceOf(t, a) });
      }
    }
    const balances = await Promise.all(reads);
    balances.forEach((r, i) => expect(BigInt(r), `end of run: ${expected[i].what}`).to.equal(expected[i].value));
    // getGateway returns (bond, feeBps, feeCapBps, status, suspended, exitAt, openDisputes).
    for (const g of this.gateways) {
      const r = await this.call(this.registry, this.registryIface.encodeFunctionData("getGateway", [g]));
      const word = (i: number) => BigInt("0x" + r.slice(2 + 64 * i, 2 + 64 * (i + 1)));
      const mg = m.gateway(g)!;
      expect(
        { bond: word(0), status: Number(word(3)), suspended: word(4) !== 0n, exitAt: word(5), disputes: word(6) },
        `end of run: standing of ${this.name(g)}`,
      ).to.deep.equal({
        bond: mg.bond,
        status: mg.status,
        suspended: mg.suspended,
        exitAt: mg.exitAt,
        disputes: mg.openDisputes,
      });
    }
    for (const d of m.deals)
      finalStatuses.set(STATUS_NAME[d.status], (finalStatuses.get(STATUS_NAME[d.status]) ?? 0) + 1);
  }
}

/*//////////////////////////////////////////////////////////////
                      COMMAND PARAMETERS
//////////////////////////////////////////////////////////////*/

/**
 * Picks a deal of the run: `fit` among deals whose status suits the action (so runs get deep into the state
 * machine), `live` among non-final deals, `any` among all (final ones included: I3); each pool falls back to the
 * next when empty. `tamper` passes wrong parameters (an unknown deal).
 */
interface DealSel {
  pool: "fit" | "live" | "any";
  n: number;
  tamper: boolean;
  pin?: string; // a deal id chosen by a ProgressCmd
}

const dealSelArb: fc.Arbitrary<DealSel> = fc.record({
  pool: fc.oneof(
    { weight: 6, arbitrary: fc.constant<"fit">("fit") },
    { weight: 2, arbitrary: fc.constant<"live">("live") },
    { weight: 1, arbitrary: fc.constant<"any">("any") },
  ),
  n: fc.nat(64),
  tamper: fc.oneof({ weight: 40, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const selStr = (s: DealSel) => `${s.pool}#${s.n}${s.tamper ? "(tampered)" : ""}`;

type Fit = (d: ModelDeal) => boolean;
const FIT = {
  open: (d: ModelDeal) => d.status === STATUS.Open,
  performed: (d: ModelDeal) => d.status === STATUS.Performed,
  disputed: (d: ModelDeal) => d.status === STATUS.Disputed,
  live: (d: ModelDeal) => !isFinal(d.status),
  releasable: (d: ModelDeal) =>
    d.status === STATUS.Performed ||
    d.status === STATUS.Disputed ||
    (d.status === STATUS.Open && d.flags !== FLAG.PayerReleased),
  settleable: (d: ModelDeal) => !isFinal(d.status),
  refundable: (d: ModelDeal) => d.status === STATUS.Open || (EscrowModel.isDelegateLock(d.p) && !isFinal(d.status)),
  claimable: (d: ModelDeal) => d.status === STATUS.Performed && d.p.autoRelease,
} satisfies Record<string, Fit>;

function dealPool(w: World, s: { pool: DealSel["pool"] }, fit: Fit): ModelDeal[] {
  const m = w.model;
  const pools =
    s.pool === "fit"
      ? [m.deals.filter(fit), m.liveDeals(), m.deals]
      : s.pool === "live"
        ? [m.liveDeals(), m.deals]
        : [m.deals];
  return pools.find((x) => x.length > 0) ?? [];
}

function pickDeal(w: World, s: DealSel, fit: Fit): { p: DealParams; label: string } {
  const m = w.model;
  const pinned = s.pin === undefined ? undefined : m.byId.get(s.pin);
  const pool = pinned ? [pinned] : dealPool(w, s, fit);
  if (pool.length === 0) {
    // Never opened: every action must revert with EscrowUnknownDeal.
    const p: DealParams = {
      payer: w.payers[0],
      payee: w.payees[0],
      gateway: w.gateways[0],
      token: w.cfg.usdt,
      amount: 1_000_000n,
      deadline: m.now + BigInt(DAY),
      releaseWindow: BigInt(DAY),
      feeBps: 50n,
      kind: KIND.Payment,
      autoRelease: false,
      salt: "0x" + "ff".repeat(32),
    };
    return { p, label: "phantom" };
  }
  const d = pool[s.n % pool.length];
  if (s.tamper) return { p: { ...d.p, amount: d.p.amount + 1n }, label: `${d.label}(tampered)` };
  return { p: d.p, label: d.label };
}

/** An amount in whole tokens plus micro-units (and, for DAI, extra wei), so fees round in every way. */
interface AmountSpec {
  whole: number;
  micro: number;
  wei: number;
}

const amountArb = (maxWhole: number): fc.Arbitrary<AmountSpec> =>
  fc.record({
    whole: fc.oneof(
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 12 }) },
      { weight: 8, arbitrary: fc.integer({ min: 10, max: 20_000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 20_000, max: maxWhole }) },
    ),
    micro: fc.oneof(
      { weight: 2, arbitrary: fc.constant(0) },
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 999_999 }) },
    ),
    wei: fc.integer({ min: 0, max: 999_999 }),
  });

function amountOf(w: World, token: Addr, a: AmountSpec): bigint {
  const dec = w.decimals(token);
  return BigInt(a.whole) * 10n ** dec + BigInt(a.micro) * 10n ** (dec - 6n) + (dec > 6n ? BigInt(a.wei) : 0n);
}

const amountStr = (a: AmountSpec) => `${a.whole}.${String(a.micro).padStart(6, "0")}${a.wei ? `+${a.wei}wei` : ""}`;

/** Deadline relative to the opening block: around it (mostly invalid), hours to days, or beyond the 365-day cap. */
const deadlineArb = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }) },
  { weight: 30, arbitrary: fc.integer({ min: HOUR, max: 6 * DAY }) },
  { weight: 4, arbitrary: fc.integer({ min: 6 * DAY, max: 10 * DAY }) },
  { weight: 1, arbitrary: fc.constantFrom(7 * DAY, 7 * DAY + 1, 365 * DAY, 365 * DAY + 1) },
);

const releaseWindowArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(HOUR - 1) },
  { weight: 30, arbitrary: fc.constantFrom(HOUR, 2 * HOUR, DAY, 3 * DAY) },
);

const dur = (s: number) => {
  const sign = s < 0 ? "-" : "+";
  let r = Math.abs(s);
  const d = Math.floor(r / DAY);
  r -= d * DAY;
  const h = Math.floor(r / HOUR);
  r -= h * HOUR;
  return `${sign}${d ? `${d}d` : ""}${h ? `${h}h` : ""}${r || (!d && !h) ? `${r}s` : ""}`;
};

/** Who acts on a deal: `natural` is the party the action belongs to. */
type Role =
  "natural" | "payer" | "payee" | "gateway" | "otherGateway" | "arbiter" | "delegate" | "outsider" | "governor";
const WRONG_ROLES: Role[] = [
  "payer",
  "payee",
  "gateway",
  "otherGateway",
  "arbiter",
  "delegate",
  "outsider",
  "governor",
];

const roleArb = (naturalWeight: number) =>
  fc.oneof(
    { weight: naturalWeight, arbitrary: fc.constant<Role>("natural") },
    { weight: 1, arbitrary: fc.constantFrom(...WRONG_ROLES) },
  );

function roleAddr(w: World, p: DealParams, role: Exclude<Role, "natural">): Addr {
  switch (role) {
    case "payer":
      return p.payer;
    case "payee":
      return p.payee;
    case "gateway":
      return p.gateway;
    case "otherGateway":
      return w.gateways.find((g) => g !== p.gateway) ?? w.gateways[0];
    case "arbiter":
      return w.cfg.arbiter;
    case "delegate": {
      const acc = w.model.acceptor(p.payer) ?? w.model.acceptor(p.payee) ?? w.cfg.acceptors[0];
      return acc.delegate;
    }
    case "outsider":
      return w.outsider;
    case "governor":
      return w.cfg.governor;
  }
}

/** Expiry of a signature relative to the block that uses it. */
type Expiry = "valid" | "edge" | "expired";
const expiryArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Expiry>("valid") },
  { weight: 1, arbitrary: fc.constant<Expiry>("edge") },
  { weight: 1, arbitrary: fc.constant<Expiry>("expired") },
);
const expiryAt = (e: Expiry, t: bigint) => (e === "valid" ? t + BigInt(DAY) : e === "edge" ? t : t - 1n);

/**
 * Salt: a fresh one, or one already used in the run (a collision when the funder is the same). `wrongPrefix`
 * gives a delegate's lock a salt without the delegate prefix, and anyone else's open or lock one with it.
 */
interface SaltSel {
  reuse: boolean;
  n: number;
  wrongPrefix: boolean;
}
const saltArb: fc.Arbitrary<SaltSel> = fc.record({
  reuse: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  n: fc.nat(64),
  wrongPrefix: fc.oneof({ weight: 25, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});
function saltOf(w: World, s: SaltSel, byDelegate = false): string {
  const deals = w.model.deals;
  if (s.reuse && deals.length > 0) return deals[s.n % deals.length].p.salt;
  return w.model.freshSalt(byDelegate !== s.wrongPrefix);
}
const saltStr = (s: SaltSel) => `${s.reuse ? `reuse#${s.n}` : "new"}${s.wrongPrefix ? "(wrong prefix)" : ""}`;

/*//////////////////////////////////////////////////////////////
                            COMMANDS
//////////////////////////////////////////////////////////////*/

type Cmd = fc.AsyncCommand<EscrowModel, World>;

abstract class Base implements Cmd {
  check(): boolean {
    return true; // the model decides legality; illegal actions run too and must revert
  }
  abstract run(m: EscrowModel, w: World): Promise<void>;
  abstract toString(): string;
}

interface OpenSpec {
  kind: number;
  payer: number;
  payee: number;
  gw: "auto" | 0 | 1;
  token: 0 | 1;
  amount: AmountSpec;
  deadline: number;
  releaseWindow: number;
  feeOk: boolean;
  autoRelease: boolean;
  salt: SaltSel;
  by: "payer" | "payee" | "outsider";
}

/** `open`: a payment (payer → payee) or an off-ramp (payer → acceptor) from the payer's wallet. */
class OpenCmd extends Base {
  constructor(readonly s: OpenSpec) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const s = this.s;
    const t = await w.tick();
    const payer = w.payers[s.payer];
    const payee = s.kind === KIND.OffRamp ? w.acceptors[s.payee % 2] : w.payees[s.payee];
    const acc = m.acceptor(payee);
    const gateway = s.gw === "auto" ? (acc ? acc.gateway : w.gateways[s.payee % 2]) : w.gateways[s.gw];
    const token = w.tokens[s.token];
    const p: DealParams = {
      payer,
      payee,
      gateway,
      token,
      amount: amountOf(w, token, s.amount),
      deadline: t + BigInt(s.deadline),
      releaseWindow: BigInt(s.releaseWindow),
      feeBps: m.gatewayFee(gateway) + (s.feeOk ? 0n : 1n),
      kind: s.kind,
      autoRelease: s.autoRelease,
      salt: saltOf(w, s.salt),
    };
    const caller = s.by === "payer" ? payer : s.by === "payee" ? payee : w.outsider;
    const ref = keccak256(p.salt);
    const label = `D${m.deals.length}`;
    const verdict = m.open(p, ref, caller, false, t);
    const data = w.escrowIface.encodeFunctionData("open", [p, ref]);
    await w.exec(
      "open",
      `${this} [${label} ${dealIdOf(p.payer, p.salt).slice(0, 10)}]`,
      caller,
      w.cfg.escrow,
      data,
      verdict,
    );
  }
  toString(): string {
    const s = this.s;
    const payee = s.kind === KIND.OffRamp ? `A${s.payee % 2}` : `Q${s.payee}`;
    return (
      `open(${KIND_NAME[s.kind]} P${s.payer}→${payee} gw=${s.gw === "auto" ? "auto" : `G${s.gw}`} ${s.token ? "DAI" : "USDT"} ` +
      `${amountStr(s.amount)} deadline${dur(s.deadline)} rw=${dur(s.releaseWindow)}${s.feeOk ? "" : " fee+1"}` +
      `${s.autoRelease ? " autoRelease" : ""} salt=${saltStr(s.salt)} by ${s.by})`
    );
  }
}

const openArb: fc.Arbitrary<Cmd> = fc
  .record({
    kind: fc.oneof(
      { weight: 30, arbitrary: fc.constantFrom(KIND.Payment, KIND.OffRamp) },
      { weight: 1, arbitrary: fc.constant(KIND.OnRamp) },
    ),
    payer: fc.integer({ min: 0, max: 2 }),
    payee: fc.integer({ min: 0, max: 2 }),
    gw: fc.oneof(
      { weight: 6, arbitrary: fc.constant<"auto">("auto") },
      { weight: 1, arbitrary: fc.constantFrom<0 | 1>(0, 1) },
    ),
    token: fc.constantFrom<0 | 1>(0, 1),
    amount: amountArb(60_000),
    deadline: deadlineArb,
    releaseWindow: releaseWindowArb,
    feeOk: fc.oneof({ weight: 20, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    autoRelease: fc.boolean(),
    fiatAutoRelease: fc.oneof(
      { weight: 30, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
    salt: saltArb,
    by: fc.oneof(
      { weight: 20, arbitrary: fc.constant<"payer">("payer") },
      { weight: 1, arbitrary: fc.constantFrom<"payee" | "outsider">("payee", "outsider") },
    ),
  })
  .map(
    ({ fiatAutoRelease, ...s }) =>
      new OpenCmd({ ...s, autoRelease: s.kind === KIND.Payment ? s.autoRelease : fiatAutoRelease }),
  );

interface LockSpec {
  acceptor: 0 | 1;
  payee: number;
  gw: "auto" | 0 | 1;
  token: 0 | 1;
  amount: AmountSpec;
  deadline: number;
  releaseWindow: number;
  feeOk: boolean;
  salt: SaltSel;
  by: "acceptor" | "delegate" | "otherDelegate" | "payee" | "outsider";
  wrongKind: boolean;
}

/** `lock`: an on-ramp from an acceptor's float (acceptor → buyer), by the acceptor or its lock delegate. */
class LockCmd extends Base {
  constructor(readonly s: LockSpec) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const s = this.s;
    const t = await w.tick();
    const acceptor = w.acceptors[s.acceptor];
    const acc = m.acceptor(acceptor)!;
    const gateway = s.gw === "auto" ? acc.gateway : w.gateways[s.gw];
    const token = w.tokens[s.token];
    const p: DealParams = {
      payer: acceptor,
      payee: w.payees[s.payee],
      gateway,
      token,
      amount: amountOf(w, token, s.amount),
      deadline: t + BigInt(s.deadline),
      releaseWindow: BigInt(s.releaseWindow),
      feeBps: m.gatewayFee(gateway) + (s.feeOk ? 0n : 1n),
      kind: s.wrongKind ? KIND.Payment : KIND.OnRamp,
      autoRelease: false,
      salt: saltOf(w, s.salt, s.by === "delegate" || s.by === "otherDelegate"),
    };
    const caller = {
      acceptor,
      delegate: acc.delegate,
      otherDelegate: w.delegates[1 - s.acceptor],
      payee: p.payee,
      outsider: w.outsider,
    }[s.by];
    const ref = keccak256(p.salt);
    const label = `D${m.deals.length}`;
    const verdict = m.open(p, ref, caller, true, t);
    const data = w.escrowIface.encodeFunctionData("lock", [p, ref]);
    await w.exec("lock", `${this} [${label}]`, caller, w.cfg.escrow, data, verdict);
  }
  toString(): string {
    const s = this.s;
    return (
      `lock(${s.wrongKind ? "Payment!" : "OnRamp"} A${s.acceptor}→Q${s.payee} gw=${s.gw === "auto" ? "auto" : `G${s.gw}`} ` +
      `${s.token ? "DAI" : "USDT"} ${amountStr(s.amount)} deadline${dur(s.deadline)} rw=${dur(s.releaseWindow)}` +
      `${s.feeOk ? "" : " fee+1"} salt=${saltStr(s.salt)} by ${s.by})`
    );
  }
}

const lockArb: fc.Arbitrary<Cmd> = fc
  .record({
    acceptor: fc.constantFrom<0 | 1>(0, 1),
    payee: fc.integer({ min: 0, max: 2 }),
    gw: fc.oneof(
      { weight: 8, arbitrary: fc.constant<"auto">("auto") },
      { weight: 1, arbitrary: fc.constantFrom<0 | 1>(0, 1) },
    ),
    token: fc.constantFrom<0 | 1>(0, 1),
    amount: amountArb(60_000),
    deadline: deadlineArb,
    releaseWindow: releaseWindowArb,
    feeOk: fc.oneof({ weight: 20, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    salt: saltArb,
    by: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom<"acceptor" | "delegate">("acceptor", "delegate") },
      {
        weight: 1,
        arbitrary: fc.constantFrom<"otherDelegate" | "payee" | "outsider">("otherDelegate", "payee", "outsider"),
      },
    ),
    wrongKind: fc.oneof({ weight: 30, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  })
  .map((s) => new LockCmd(s));

type PartyAction = "perform" | "release" | "cancel" | "dispute" | "claim";
const ACTION_OF: Record<PartyAction, number> = {
  perform: ACTION.Perform,
  release: ACTION.Release,
  cancel: ACTION.Cancel,
  dispute: ACTION.Dispute,
  claim: ACTION.Claim,
};

/** A party's action, called directly or relayed by an outsider with the party's signature (`actWithSig`). */
class ActCmd extends Base {
  constructor(
    readonly action: PartyAction,
    readonly sel: DealSel,
    readonly by: Role,
    readonly sig: Expiry | null,
    readonly disputeByPayee: boolean,
    readonly misnamed = false,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const fit = {
      perform: FIT.open,
      release: FIT.releasable,
      cancel: FIT.live,
      dispute: FIT.performed,
      claim: FIT.claimable,
    }[this.action];
    const { p, label } = pickDeal(w, this.sel, fit);
    const t = await w.tick();
    const natural: Exclude<Role, "natural"> =
      this.action === "release"
        ? "payer"
        : this.action === "dispute"
          ? this.disputeByPayee
            ? "payee"
            : "payer"
          : "payee";
    const actor = roleAddr(w, p, this.by === "natural" ? natural : this.by);
    const id = dealIdOf(p.payer, p.salt);
    let auth: SigAuth | undefined;
    let from = actor;
    let data: string;
    if (this.sig) {
      const expiry = expiryAt(this.sig, t);
      const signed = w.sign(actor, id, ACTION_OF[this.action], expiry);
      // Mostly the signer is named truthfully; sometimes the relayer names the other party for this signature.
      const named = this.misnamed ? (actor === p.payer ? p.payee : p.payer) : actor;
      auth = { signer: named, dealId: id, action: ACTION_OF[this.action], expiry };
      if (named !== actor) auth = { ...auth, action: -1 }; // the named signer did not sign this
      from = w.outsider;
      data = w.escrowIface.encodeFunctionData("actWithSig", [p, ACTION_OF[this.action], named, signed]);
    } else {
      data = w.escrowIface.encodeFunctionData(this.action, [p]);
    }
    const verdict =
      this.action === "perform"
        ? m.perform(p, actor, t, auth)
        : this.action === "release"
          ? m.release(p, actor, t, auth)
          : this.action === "cancel"
            ? m.cancel(p, actor, t, auth)
            : this.action === "dispute"
              ? m.dispute(p, actor, t, auth)
              : m.claim(p, actor, t, auth);
    const kind = `${this.action}${this.sig ? "WithSig" : ""}`;
    await w.exec(kind, `${this} [${label} by ${w.name(actor)} at ${t}]`, from, w.cfg.escrow, data, verdict);
  }
  toString(): string {
    const who =
      this.by === "natural" && this.action === "dispute" ? (this.disputeByPayee ? "payee" : "payer") : this.by;
    const sig = this.sig ? ` sig:${this.sig}${this.misnamed ? " signer:other party" : ""}` : "";
    return `${this.action}(${selStr(this.sel)} by ${who}${sig})`;
  }
}

const actArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: fc.constant<PartyAction>("perform") },
      { weight: 2, arbitrary: fc.constant<PartyAction>("release") },
      { weight: 1, arbitrary: fc.constant<PartyAction>("cancel") },
      { weight: 3, arbitrary: fc.constant<PartyAction>("dispute") },
      { weight: 1, arbitrary: fc.constant<PartyAction>("claim") },
    ),
    dealSelArb,
    roleArb(6),
    fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: expiryArb }),
    fc.boolean(),
    fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  )
  .map(([a, sel, by, sig, dp, mis]) => new ActCmd(a, sel, by, sig, dp, mis));

/** `refund` after the deadline (or an expired delegate's lock), which anyone may call. */
class RefundCmd extends Base {
  constructor(
    readonly sel: DealSel,
    readonly by: Exclude<Role, "natural">,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const { p, label } = pickDeal(w, this.sel, FIT.refundable);
    const t = await w.tick();
    const caller = roleAddr(w, p, this.by);
    const verdict = m.refundAfterDeadline(p, t);
    const data = w.escrowIface.encodeFunctionData("refund", [p]);
    await w.exec("refund", `${this} [${label} at ${t}]`, caller, w.cfg.escrow, data, verdict);
  }
  toString(): string {
    return `refund(${selStr(this.sel)} by ${this.by})`;
  }
}

const refundArb: fc.Arbitrary<Cmd> = fc
  .tuple(dealSelArb, fc.constantFrom<Exclude<Role, "natural">>(...(WRONG_ROLES as Exclude<Role, "natural">[])))
  .map(([sel, by]) => new RefundCmd(sel, by));

/** `resolve` of a dispute: by the gateway (in window), the arbiter (after, or when the gateway is suspended), or an intruder. */
class ResolveCmd extends Base {
  constructor(
    readonly sel: DealSel,
    readonly by: "gateway" | "arbiter" | Exclude<Role, "natural">,
    readonly share: number | "over",
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const { p, label } = pickDeal(w, this.sel, FIT.disputed);
    const t = await w.tick();
    const caller = roleAddr(w, p, this.by);
    const payeeAmount = this.share === "over" ? p.amount + 1n : (p.amount * BigInt(this.share)) / 1000n;
    const reasons = this.share === 0 ? ZERO_HASH : keccak256(coder.encode(["bytes32", "uint256"], [p.salt, t]));
    const verdict = m.resolve(p, payeeAmount, reasons, caller, t);
    const data = w.escrowIface.encodeFunctionData("resolve", [p, payeeAmount, reasons]);
    await w.exec(
      "resolve",
      `${this} [${label} payee ${payeeAmount} of ${p.amount} at ${t}]`,
      caller,
      w.cfg.escrow,
      data,
      verdict,
    );
  }
  toString(): string {
    return `resolve(${selStr(this.sel)} by ${this.by} payee=${this.share === "over" ? "amount+1" : `${this.share / 10}%`})`;
  }
}

const resolveArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    dealSelArb,
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom<"gateway" | "arbiter">("gateway", "arbiter") },
      {
        weight: 1,
        arbitrary: fc.constantFrom<Exclude<Role, "natural">>("payer", "payee", "otherGateway", "outsider", "governor"),
      },
    ),
    fc.oneof(
      { weight: 2, arbitrary: fc.constantFrom(0, 1000) },
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 1000 }) },
      { weight: 1, arbitrary: fc.constant<"over">("over") },
    ),
  )
  .map(([sel, by, share]) => new ResolveCmd(sel, by, share));

/**
 * A call carrying both parties' `DealAction` signatures, relayed by an outsider: `settleWithSigs` (the payee's
 * Perform first, then the payer's Release) or `cancelWithSigs` (the payer's Cancel first, then the payee's). The
 * variants spoil one signature: the first signed by the other party or an outsider, the second for the wrong
 * action, the first expired, or the second expiring in this very block (still valid).
 */
type PairVariant = "ok" | "firstBySecond" | "firstByOutsider" | "secondWrongAction" | "firstExpired" | "secondEdge";
type PairFn = "settleWithSigs" | "cancelWithSigs";
const PAIR_SIGS = {
  settleWithSigs: {
    fit: FIT.settleable,
    firstParty: "payee",
    actions: [ACTION.Perform, ACTION.Release],
    wrongSecond: ACTION.Perform,
    okWeight: 8,
    spoilers: ["firstBySecond", "secondWrongAction", "firstExpired", "secondEdge", "firstByOutsider"],
  },
  cancelWithSigs: {
    fit: FIT.live,
    firstParty: "payer",
    actions: [ACTION.Cancel, ACTION.Cancel],
    wrongSecond: ACTION.Release,
    okWeight: 6,
    spoilers: ["firstByOutsider", "secondWrongAction", "firstExpired", "secondEdge"],
  },
} as const satisfies Record<PairFn, unknown>;

class PairSigsCmd extends Base {
  constructor(
    readonly fn: PairFn,
    readonly sel: DealSel,
    readonly variant: PairVariant,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const spec = PAIR_SIGS[this.fn];
    const { p, label } = pickDeal(w, this.sel, spec.fit);
    const t = await w.tick();
    const id = dealIdOf(p.payer, p.salt);
    const v = this.variant;
    const [first, second] = spec.firstParty === "payee" ? [p.payee, p.payer] : [p.payer, p.payee];
    const firstSigner = v === "firstBySecond" ? second : v === "firstByOutsider" ? w.outsider : first;
    const firstExpiry = v === "firstExpired" ? t - 1n : t + BigInt(HOUR);
    const [firstAction, secondOk] = spec.actions;
    const secondAction = v === "secondWrongAction" ? spec.wrongSecond : secondOk;
    const secondExpiry = v === "secondEdge" ? t : t + BigInt(HOUR);
    const firstAuth: SigAuth = { signer: firstSigner, dealId: id, action: firstAction, expiry: firstExpiry };
    const secondAuth: SigAuth = { signer: second, dealId: id, action: secondAction, expiry: secondExpiry };
    const data = w.escrowIface.encodeFunctionData(this.fn, [
      p,
      w.sign(firstSigner, id, firstAction, firstExpiry),
      w.sign(second, id, secondAction, secondExpiry),
    ]);
    const verdict = m[this.fn](p, firstAuth, secondAuth, t);
    await w.exec(this.fn, `${this} [${label} at ${t}]`, w.outsider, w.cfg.escrow, data, verdict);
  }
  toString(): string {
    return `${this.fn}(${selStr(this.sel)} ${this.variant})`;
  }
}

const pairSigsArb = (fn: PairFn): fc.Arbitrary<Cmd> =>
  fc
    .tuple(
      dealSelArb,
      fc.oneof(
        { weight: PAIR_SIGS[fn].okWeight, arbitrary: fc.constant<PairVariant>("ok") },
        { weight: 1, arbitrary: fc.constantFrom<PairVariant>(...PAIR_SIGS[fn].spoilers) },
      ),
    )
    .map(([sel, v]) => new PairSigsCmd(fn, sel, v));

type SplitVariant = "ok" | "payerOther" | "payeeByOutsider" | "payerExpired" | "over";

/** `splitWithSigs`: payer and payee signed the same split; relayed by an outsider. */
class SplitSigsCmd extends Base {
  constructor(
    readonly sel: DealSel,
    readonly variant: SplitVariant,
    readonly share: number,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const { p, label } = pickDeal(w, this.sel, FIT.live);
    const t = await w.tick();
    const id = dealIdOf(p.payer, p.salt);
    const v = this.variant;
    const payeeAmount = v === "over" ? p.amount + 1n : (p.amount * BigInt(this.share)) / 1000n;
    // "payerOther": the payer signed a different split from the one submitted.
    const payerSigned = v === "payerOther" ? payeeAmount + 1n : payeeAmount;
    const payerExpiry = v === "payerExpired" ? t - 1n : t + BigInt(HOUR);
    const payeeSigner = v === "payeeByOutsider" ? w.outsider : p.payee;
    const payeeExpiry = t + BigInt(HOUR);
    const payerAuth: SigAuth = {
      signer: p.payer,
      dealId: id,
      action: -1,
      expiry: payerExpiry,
      payeeAmount: payerSigned,
    };
    const payeeAuth: SigAuth = { signer: payeeSigner, dealId: id, action: -1, expiry: payeeExpiry, payeeAmount };
    const data = w.escrowIface.encodeFunctionData("splitWithSigs", [
      p,
      payeeAmount,
      w.signSplit(p.payer, id, payerSigned, payerExpiry),
      w.signSplit(payeeSigner, id, payeeAmount, payeeExpiry),
    ]);
    const verdict = m.splitWithSigs(p, payeeAmount, payerAuth, payeeAuth, t);
    await w.exec(
      "splitWithSigs",
      `${this} [${label} payee ${payeeAmount} of ${p.amount} at ${t}]`,
      w.outsider,
      w.cfg.escrow,
      data,
      verdict,
    );
  }
  toString(): string {
    return `splitWithSigs(${selStr(this.sel)} ${this.variant} payee=${this.share / 10}%)`;
  }
}

const shareArb = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, 1000) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 1000 }) },
);

const splitArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    dealSelArb,
    fc.oneof(
      { weight: 8, arbitrary: fc.constant<SplitVariant>("ok") },
      {
        weight: 1,
        arbitrary: fc.constantFrom<SplitVariant>("payerOther", "payeeByOutsider", "payerExpired", "over"),
      },
    ),
    shareArb,
  )
  .map(([sel, v, share]) => new SplitSigsCmd(sel, v, share));

/** `postEvidence` by a party, the deal's gateway, the arbiter, or an intruder: an event, nothing else. */
class EvidenceCmd extends Base {
  constructor(
    readonly sel: DealSel,
    readonly by: Exclude<Role, "natural">,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const { p, label } = pickDeal(w, this.sel, FIT.live);
    const t = await w.tick();
    const caller = roleAddr(w, p, this.by);
    const contentHash = keccak256(coder.encode(["bytes32", "uint256"], [p.salt, t]));
    const uri = `ipfs://evidence/${t}`;
    const verdict = m.postEvidence(p, contentHash, uri, caller);
    const data = w.escrowIface.encodeFunctionData("postEvidence", [p, contentHash, uri]);
    await w.exec("postEvidence", `${this} [${label} at ${t}]`, caller, w.cfg.escrow, data, verdict);
  }
  toString(): string {
    return `postEvidence(${selStr(this.sel)} by ${this.by})`;
  }
}

const evidenceArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    dealSelArb,
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom<Exclude<Role, "natural">>("payer", "payee", "gateway", "arbiter") },
      { weight: 1, arbitrary: fc.constantFrom<Exclude<Role, "natural">>("otherGateway", "delegate", "outsider") },
    ),
  )
  .map(([sel, by]) => new EvidenceCmd(sel, by));

/** A gateway's own `requestExit` or `completeExit` (after warping past its unbonding delay when `wait`). */
class ExitCmd extends Base {
  constructor(
    readonly gw: 0 | 1,
    readonly step: "request" | "complete",
    readonly wait: boolean,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const gw = w.gateways[this.gw];
    const g = m.gateway(gw)!;
    // A whole exit: an active gateway asks first, so that completions are exercised too.
    if (this.step === "complete" && this.wait && g.status === GW.Active)
      await new ExitCmd(this.gw, "request", false).run(m, w);
    if (this.step === "complete" && this.wait && g.status === GW.Exiting) await w.warpTo(g.exitAt);
    const t = await w.tick();
    const verdict = this.step === "request" ? m.requestExit(gw, t) : m.completeExit(gw, t);
    const fn = this.step === "request" ? "requestExit" : "completeExit";
    await w.exec(fn, `${this} [${fn} at ${t}]`, gw, w.registry, w.registryIface.encodeFunctionData(fn, []), verdict);
  }
  toString(): string {
    return `registry.${this.step}Exit(G${this.gw}${this.wait ? " after the delay" : ""})`;
  }
}

const exitArb: fc.Arbitrary<Cmd> = fc
  .tuple(fc.constantFrom<0 | 1>(0, 1), fc.constantFrom<"request" | "complete">("request", "complete"), fc.boolean())
  .map(([g, step, wait]) => new ExitCmd(g, step, wait));

/** The admin revokes or grants back `ARBITER_ROLE`: disputes must still end (by the parties) without it. */
class ArbiterCmd extends Base {
  async run(m: EscrowModel, w: World): Promise<void> {
    await w.tick();
    const revoke = !m.arbiterRevoked;
    const fn = revoke ? "revokeRole" : "grantRole";
    const role = keccak256(new TextEncoder().encode("ARBITER_ROLE"));
    m.arbiterRevoked = revoke;
    const event = revoke ? "RoleRevoked" : "RoleGranted";
    const verdict: Verdict = {
      ok: true,
      logs: [`Registry.${event}(${norm(role)},${norm(w.cfg.arbiter)},${norm(w.admin)})`],
    };
    const data = w.registryIface.encodeFunctionData(fn, [role, w.cfg.arbiter]);
    await w.exec(fn, `${this} [${fn}]`, w.admin, w.registry, data, verdict);
  }
  toString(): string {
    return "registry.toggleArbiterRole(by admin)";
  }
}

const arbiterArb: fc.Arbitrary<Cmd> = fc.constant(new ArbiterCmd());

/** `depositFloat` by an acceptor (or by someone who is not one). */
class DepositCmd extends Base {
  constructor(
    readonly who: 0 | 1 | "payer" | "delegate",
    readonly token: 0 | 1,
    readonly amount: AmountSpec,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    await w.tick();
    const caller =
      this.who === "payer" ? w.payers[0] : this.who === "delegate" ? w.delegates[0] : w.acceptors[this.who];
    const token = w.tokens[this.token];
    const amount = amountOf(w, token, this.amount);
    const verdict = m.depositFloat(caller, token, amount);
    const data = w.escrowIface.encodeFunctionData("depositFloat", [token, amount]);
    await w.exec("depositFloat", `${this}`, caller, w.cfg.escrow, data, verdict);
  }
  toString(): string {
    const who = typeof this.who === "number" ? `A${this.who}` : this.who === "payer" ? "P0" : "D0";
    return `depositFloat(${who} ${this.token ? "DAI" : "USDT"} ${amountStr(this.amount)})`;
  }
}

const depositArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom<0 | 1>(0, 1) },
      { weight: 1, arbitrary: fc.constantFrom<"payer" | "delegate">("payer", "delegate") },
    ),
    fc.constantFrom<0 | 1>(0, 1),
    amountArb(100_000),
  )
  .map(([who, token, amount]) => new DepositCmd(who, token, amount));

/** `withdrawFloat` of part, all, or more than the free float (by an acceptor or its delegate). */
class WithdrawCmd extends Base {
  constructor(
    readonly who: 0 | 1 | "delegate",
    readonly token: 0 | 1,
    readonly part: number | "all" | "over" | "zero",
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    await w.tick();
    const caller = this.who === "delegate" ? w.delegates[0] : w.acceptors[this.who];
    const token = w.tokens[this.token];
    const free = m.float(caller, token).free;
    const amount =
      this.part === "all"
        ? free
        : this.part === "over"
          ? free + 1n
          : this.part === "zero"
            ? 0n
            : (free * BigInt(this.part)) / 1000n;
    const verdict = m.withdrawFloat(caller, token, amount);
    const data = w.escrowIface.encodeFunctionData("withdrawFloat", [token, amount]);
    await w.exec("withdrawFloat", `${this} [${amount} of free ${free}]`, caller, w.cfg.escrow, data, verdict);
  }
  toString(): string {
    const who = typeof this.who === "number" ? `A${this.who}` : "D0";
    const part = typeof this.part === "number" ? `${this.part / 10}%` : this.part;
    return `withdrawFloat(${who} ${this.token ? "DAI" : "USDT"} ${part})`;
  }
}

const withdrawArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom<0 | 1>(0, 1) },
      { weight: 1, arbitrary: fc.constant<"delegate">("delegate") },
    ),
    fc.constantFrom<0 | 1>(0, 1),
    fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 1000 }) },
      { weight: 1, arbitrary: fc.constantFrom<"all" | "over" | "zero">("all", "over", "zero") },
    ),
  )
  .map(([who, token, part]) => new WithdrawCmd(who, token, part));

/** `claimOwed` for an account (preferably one that is owed something), called by an outsider. */
class ClaimOwedCmd extends Base {
  constructor(
    readonly token: 0 | 1,
    readonly owedOnly: boolean,
    readonly n: number,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const token = w.tokens[this.token];
    const owed = w.accounts.filter((a) => m.owedOf(token, a) > 0n);
    const pool = this.owedOnly && owed.length > 0 ? owed : w.accounts;
    const account = pool[this.n % pool.length];
    await w.tick();
    const verdict = m.claimOwed(token, account);
    const data = w.escrowIface.encodeFunctionData("claimOwed", [token, account]);
    await w.exec("claimOwed", `${this} [for ${w.name(account)}]`, w.outsider, w.cfg.escrow, data, verdict);
  }
  toString(): string {
    return `claimOwed(${this.token ? "DAI" : "USDT"} ${this.owedOnly ? "owed" : "any"}#${this.n} by outsider)`;
  }
}

const claimOwedArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    fc.constantFrom<0 | 1>(0, 1),
    fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    fc.nat(64),
  )
  .map(([token, owedOnly, n]) => new ClaimOwedCmd(token, owedOnly, n));

/** Time passes (`evm_setNextBlockTimestamp` + `evm_mine`). */
class WarpCmd extends Base {
  constructor(readonly seconds: number) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    await w.warpTo(m.now + 1n + BigInt(this.seconds));
  }
  toString(): string {
    return `warp(${dur(this.seconds)})`;
  }
}

const warpArb: fc.Arbitrary<Cmd> = fc
  .oneof(
    { weight: 1, arbitrary: fc.integer({ min: 1, max: HOUR }) },
    { weight: 3, arbitrary: fc.integer({ min: HOUR, max: 4 * DAY }) },
  )
  .map((s) => new WarpCmd(s));

type Boundary = "deadline" | "releaseWindow" | "resolutionWindow" | "lockExpiry";

/** Time passes until the next transaction lands at a deal's boundary −1, exactly on it, or +1. */
class WarpToCmd extends Base {
  constructor(
    readonly n: number,
    readonly boundary: Boundary,
    readonly delta: -1 | 0 | 1,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const fit = {
      deadline: FIT.open,
      releaseWindow: FIT.performed,
      resolutionWindow: FIT.disputed,
      lockExpiry: (d: ModelDeal) => EscrowModel.isDelegateLock(d.p) && !isFinal(d.status),
    }[this.boundary];
    const pool = dealPool(w, { pool: "fit" }, fit);
    if (pool.length === 0) return;
    const d = pool[this.n % pool.length];
    const at = {
      deadline: d.p.deadline,
      releaseWindow: d.since + d.p.releaseWindow,
      resolutionWindow: d.since + w.cfg.resolutionWindow,
      lockExpiry: m.lockExpiry(d.p),
    }[this.boundary];
    // The window checks are `now <= boundary` (still in) and `now > boundary` (past).
    await w.warpTo(at + BigInt(this.delta));
  }
  toString(): string {
    return `warpTo(fit#${this.n} ${this.boundary}${this.delta === 0 ? "" : this.delta > 0 ? "+1" : "-1"})`;
  }
}

const warpToArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    fc.nat(64),
    fc.constantFrom<Boundary>("deadline", "releaseWindow", "resolutionWindow", "lockExpiry"),
    fc.constantFrom<-1 | 0 | 1>(-1, 0, 1),
  )
  .map(([n, b, d]) => new WarpToCmd(n, b, d));

/** A state toggle: `flip` makes the legal transition (pause when unpaused...), otherwise it repeats the current state. */
const flipArb = fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });

/** Registry `pause`/`unpause` (by the pauser, or by someone without the role). */
class PauseCmd extends Base {
  constructor(
    readonly flip: boolean,
    readonly by: "pauser" | "governor" | "outsider",
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    await w.tick();
    const pause = this.flip !== m.paused;
    const caller = this.by === "pauser" ? w.cfg.pauser : this.by === "governor" ? w.cfg.governor : w.outsider;
    const verdict = m.setPaused(caller, pause);
    const data = w.registryIface.encodeFunctionData(pause ? "pause" : "unpause", []);
    await w.exec(
      pause ? "pause" : "unpause",
      `${this} [${pause ? "pause" : "unpause"}]`,
      caller,
      w.registry,
      data,
      verdict,
    );
  }
  toString(): string {
    return `registry.${this.flip ? "togglePause" : "repeatPauseState"}(by ${this.by})`;
  }
}

const pauseArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    flipArb,
    fc.oneof(
      { weight: 6, arbitrary: fc.constant<"pauser">("pauser") },
      { weight: 1, arbitrary: fc.constantFrom<"governor" | "outsider">("governor", "outsider") },
    ),
  )
  .map(([f, by]) => new PauseCmd(f, by));

/** Governor suspends or reinstates a gateway (or someone without the role tries). */
class SuspendCmd extends Base {
  constructor(
    readonly gw: 0 | 1,
    readonly flip: boolean,
    readonly by: "governor" | "gateway" | "pauser",
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    await w.tick();
    const gw = w.gateways[this.gw];
    const suspend = this.flip !== m.gateway(gw)!.suspended;
    const caller = this.by === "governor" ? w.cfg.governor : this.by === "gateway" ? gw : w.cfg.pauser;
    const verdict = m.setGatewaySuspended(caller, gw, suspend);
    const fn = suspend ? "suspendGateway" : "reinstateGateway";
    const data = w.registryIface.encodeFunctionData(fn, [gw]);
    await w.exec(fn, `${this} [${fn}]`, caller, w.registry, data, verdict);
  }
  toString(): string {
    return `registry.${this.flip ? "toggleSuspension" : "repeatSuspensionState"}(G${this.gw} by ${this.by})`;
  }
}

const suspendArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    fc.constantFrom<0 | 1>(0, 1),
    flipArb,
    fc.oneof(
      { weight: 6, arbitrary: fc.constant<"governor">("governor") },
      { weight: 1, arbitrary: fc.constantFrom<"gateway" | "pauser">("gateway", "pauser") },
    ),
  )
  .map(([g, f, by]) => new SuspendCmd(g, f, by));

/** USDT owner blacklists or unlists an actor (or the escrow itself); payouts to a listed account become owed. */
class BlacklistCmd extends Base {
  constructor(
    readonly target: number,
    readonly byOwner: boolean,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    await w.tick();
    const account = w.blacklistable[this.target % w.blacklistable.length];
    const listed = !m.blacklisted.has(account);
    const caller = this.byOwner ? w.admin : w.outsider;
    const verdict = m.setBlacklisted(caller, account, listed);
    const fn = listed ? "addBlackList" : "removeBlackList";
    const data = w.usdtIface.encodeFunctionData(fn, [account]);
    await w.exec(fn, `${this} [${fn} ${w.name(account)}]`, caller, w.cfg.usdt, data, verdict);
  }
  toString(): string {
    return `usdt.toggleBlackList(#${this.target}${this.byOwner ? "" : " by outsider"})`;
  }
}

const blacklistArb: fc.Arbitrary<Cmd> = fc
  .tuple(
    fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 0, max: 9 }) }, { weight: 1, arbitrary: fc.constant(10) }),
    fc.oneof({ weight: 10, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  )
  .map(([t, o]) => new BlacklistCmd(t, o));

/** USDT owner pauses or unpauses the token: every USDT push is then owed, pulls and claims revert. */
class UsdtPauseCmd extends Base {
  constructor(readonly flip: boolean) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    await w.tick();
    const pause = this.flip !== m.usdtPaused;
    const verdict = m.setUsdtPaused(w.admin, pause);
    const data = w.usdtIface.encodeFunctionData(pause ? "pause" : "unpause", []);
    await w.exec(
      pause ? "usdtPause" : "usdtUnpause",
      `${this} [${pause ? "pause" : "unpause"}]`,
      w.admin,
      w.cfg.usdt,
      data,
      verdict,
    );
  }
  toString(): string {
    return `usdt.${this.flip ? "togglePause" : "repeatPauseState"}()`;
  }
}

const usdtPauseArb: fc.Arbitrary<Cmd> = flipArb.map((f) => new UsdtPauseCmd(f));

/**
 * Undoes one disruption in force (registry pause, suspended gateway, USDT pause, a blacklisting), so that runs
 * alternate between disrupted and normal stretches instead of staying paused once paused. Nothing to undo: no-op.
 */
class HealCmd extends Base {
  constructor(readonly n: number) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const fixes: (() => Promise<void>)[] = [];
    if (m.paused) fixes.push(() => new PauseCmd(true, "pauser").run(m, w));
    w.gateways.forEach((g, i) => {
      if (m.gateway(g)!.suspended) fixes.push(() => new SuspendCmd(i as 0 | 1, true, "governor").run(m, w));
    });
    if (m.usdtPaused) fixes.push(() => new UsdtPauseCmd(true).run(m, w));
    if (m.arbiterRevoked) fixes.push(() => new ArbiterCmd().run(m, w));
    w.blacklistable.forEach((a, i) => {
      if (m.blacklisted.has(a)) fixes.push(() => new BlacklistCmd(i, true).run(m, w));
    });
    if (fixes.length > 0) await fixes[this.n % fixes.length]();
  }
  toString(): string {
    return `heal(#${this.n})`;
  }
}

const healArb: fc.Arbitrary<Cmd> = fc.nat(16).map((n) => new HealCmd(n));

/**
 * Drives a live deal one step along its life cycle with the action its status calls for, by the right party
 * (Open: perform, release, cancel or settle by signatures; Performed: release, dispute, claim or settle; Disputed:
 * resolve by the gateway in its window, else by the arbiter). The random commands above cover the wrong ones.
 */
class ProgressCmd extends Base {
  constructor(
    readonly n: number,
    readonly choice: number,
    readonly share: number,
  ) {
    super();
  }
  async run(m: EscrowModel, w: World): Promise<void> {
    const live = m.liveDeals();
    if (live.length === 0) return;
    const d = live[this.n % live.length];
    const sel: DealSel = { pool: "fit", n: 0, tamper: false, pin: d.id };
    const c = this.choice;
    // "Wait, then act": time passes until the action becomes possible (deadline or release window over).
    const after = (at: bigint, next: Cmd): Cmd => ({
      check: () => true,
      run: async (mm: EscrowModel, ww: World) => {
        await ww.warpTo(at + 1n);
        await next.run(mm, ww);
      },
      toString: () => `${next}`,
    });
    let cmd: Cmd;
    const expiry = m.lockExpiry(d.p);
    if (d.status === STATUS.Open) {
      const options: (() => Cmd)[] = [
        () => new ActCmd("perform", sel, "natural", null, false),
        () => new ActCmd("perform", sel, "natural", null, false),
        () => new ActCmd("perform", sel, "natural", "valid", false),
        () => new ActCmd("release", sel, "natural", null, false),
        () => new ActCmd("cancel", sel, "natural", null, false),
        () => new PairSigsCmd("settleWithSigs", sel, "ok"),
        () => new SplitSigsCmd(sel, "ok", this.share),
        () => after(d.p.deadline, new RefundCmd(sel, "outsider")),
      ];
      cmd = options[c % options.length]();
    } else if (d.status === STATUS.Performed) {
      const windowEnd = d.since + d.p.releaseWindow;
      // Weighted towards disputes, which the rulings, the dispute hooks and I6 need to start from.
      const options: (() => Cmd)[] = [
        () => new ActCmd("release", sel, "natural", null, false),
        () => new ActCmd("release", sel, "natural", "valid", false),
        () => new ActCmd("dispute", sel, "natural", null, false),
        () => new ActCmd("dispute", sel, "natural", null, false),
        () => new ActCmd("dispute", sel, "natural", "valid", false),
        // The payee disputes only once the payer stayed silent for the release window.
        () => after(windowEnd, new ActCmd("dispute", sel, "natural", null, true)),
        () => after(windowEnd, new ActCmd("dispute", sel, "natural", "valid", true)),
        () => new PairSigsCmd("settleWithSigs", sel, "ok"),
        () => new SplitSigsCmd(sel, "ok", this.share),
      ];
      if (d.p.autoRelease) {
        // Weighted up: the claim is the only path that needs both a Performed deal and a window passed.
        for (const sig of [null, null, "valid", "valid"] as const) {
          options.push(() => after(windowEnd, new ActCmd("claim", sel, "natural", sig, false)));
        }
      }
      if (expiry !== 0n) options.push(() => after(expiry, new RefundCmd(sel, "outsider")));
      cmd = options[c % options.length]();
    } else {
      // Disputed: mostly a ruling by whoever may rule; otherwise the parties end it themselves.
      const ruler = m.rulerOf(d, m.now + 1n) ?? "gateway";
      const options: (() => Cmd)[] = [
        () => new ResolveCmd(sel, ruler, this.share),
        () => new ResolveCmd(sel, ruler, this.share),
        () => new ResolveCmd(sel, ruler, this.share),
        () => new ResolveCmd(sel, ruler, this.share),
        () => new ResolveCmd(sel, ruler, this.share),
        () => new ActCmd("release", sel, "natural", null, false),
        () => new ActCmd("cancel", sel, "natural", c % 2 === 0 ? null : "valid", false),
        () => new SplitSigsCmd(sel, "ok", this.share),
        () => new PairSigsCmd("settleWithSigs", sel, "ok"),
        () => new PairSigsCmd("cancelWithSigs", sel, "ok"),
      ];
      const refundAt = d.since + w.cfg.resolutionWindow > expiry ? d.since + w.cfg.resolutionWindow : expiry;
      if (expiry !== 0n) options.push(() => after(refundAt, new RefundCmd(sel, "outsider")));
      cmd = options[c % options.length]();
    }
    await cmd.run(m, w);
  }
  toString(): string {
    return `progress(live#${this.n} option#${this.choice} share=${this.share / 10}%)`;
  }
}

const progressArb: fc.Arbitrary<Cmd> = fc
  .tuple(fc.nat(64), fc.nat(59), shareArb)
  .map(([n, c, share]) => new ProgressCmd(n, c, share));

/** All commands, weighted so that deals are opened and driven through their life cycle within a run. */
const commandArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 16, arbitrary: openArb },
  { weight: 9, arbitrary: lockArb },
  { weight: 36, arbitrary: actArb },
  { weight: 3, arbitrary: refundArb },
  { weight: 7, arbitrary: resolveArb },
  { weight: 4, arbitrary: pairSigsArb("settleWithSigs") },
  { weight: 2, arbitrary: pairSigsArb("cancelWithSigs") },
  { weight: 3, arbitrary: splitArb },
  { weight: 2, arbitrary: evidenceArb },
  { weight: 1, arbitrary: exitArb },
  { weight: 1, arbitrary: arbiterArb },
  { weight: 3, arbitrary: depositArb },
  { weight: 3, arbitrary: withdrawArb },
  { weight: 3, arbitrary: claimOwedArb },
  { weight: 4, arbitrary: warpArb },
  { weight: 6, arbitrary: warpToArb },
  { weight: 1, arbitrary: pauseArb },
  { weight: 1, arbitrary: suspendArb },
  { weight: 2, arbitrary: blacklistArb },
  { weight: 1, arbitrary: usdtPauseArb },
  { weight: 3, arbitrary: healArb },
  { weight: 24, arbitrary: progressArb },
);

/*//////////////////////////////////////////////////////////////
                             SUITE
//////////////////////////////////////////////////////////////*/

describe("Escrow invariants (model-based, fast-check)", function () {
  this.timeout(0);

  let world: World;

  before(async function () {
    const f = await loadFixture(deployInvariantWorld);
    const lc = (a: string) => a.toLowerCase();
    const addrs = {
      escrow: lc(await f.escrow.getAddress()),
      registry: lc(await f.registry.getAddress()),
      usdt: lc(await f.usdt.getAddress()),
      dai: lc(await f.dai.getAddress()),
    };

    // Private keys of Hardhat's accounts, to sign EIP-712 actions locally (much faster than eth_signTypedData).
    const accountsCfg = network.config.accounts as {
      mnemonic: string;
      path: string;
      count: number;
      passphrase?: string;
    };
    const root = HDNodeWallet.fromPhrase(accountsCfg.mnemonic, accountsCfg.passphrase ?? "", accountsCfg.path);
    const keys = new Map<Addr, SigningKey>();
    for (let i = 0; i < accountsCfg.count; i++) {
      const child = root.deriveChild(i);
      keys.set(lc(child.address), child.signingKey);
    }
    for (const s of [...f.payers, ...f.payees, ...f.acceptors, f.other])
      expect(keys.has(lc(s.address)), "signer key").to.equal(true);

    const { chainId } = await ethers.provider.getNetwork();
    const domainSeparator = ethers.TypedDataEncoder.hashDomain({
      name: "USDT Escrow",
      version: "1",
      chainId,
      verifyingContract: addrs.escrow,
    });

    const balances = new Map<string, bigint>();
    const holders = [...f.payers, ...f.payees, ...f.acceptors, ...f.delegates, ...f.gateways, f.other].map((s) =>
      lc(s.address),
    );
    for (const token of [f.usdt, f.dai]) {
      const t = lc(await token.getAddress());
      for (const a of [...holders, addrs.escrow]) balances.set(`${t}:${a}`, await token.balanceOf(a));
    }
    const floats = new Map<string, { free: bigint; locked: bigint }>();
    for (const a of f.acceptors) {
      for (const t of [addrs.usdt, addrs.dai]) {
        const fl = await f.escrow.floatOf(a.address, t);
        floats.set(`${lc(a.address)}:${t}`, { free: fl.free, locked: fl.locked });
      }
    }
    const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
    const bond = (await f.registry.getGateway(f.gateway.address)).bond;
    expect((await f.registry.getGateway(f.gateway2.address)).bond, "both gateways bonded alike").to.equal(bond);
    world = new World(f, addrs, { now, balances, floats, bond }, domainSeparator, keys);

    // The locally computed domain separator is the contract's.
    const probe = keccak256(coder.encode(["bytes32", "uint256"], [ACTION_TYPEHASH, 12345n]));
    expect(await f.escrow.hashTypedData(probe)).to.equal(keccak256(concat(["0x1901", domainSeparator, probe])));
  });

  after(async function () {
    // Leave the chain as the fixture left it, for whichever suite runs next.
    await world?.reset();
  });

  it(`holds I1–I6 over ${RUNS} random runs of up to ${MAX_STEPS} steps (seed ${SEED})`, async function () {
    const started = Date.now();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.commands([commandArb], { maxCommands: MAX_STEPS, size: "max" }), async (cmds) => {
        runs += 1;
        await world.reset();
        await world.checkInvariants("initial state");
        await fc.asyncModelRun(() => ({ model: world.model, real: world }), cmds);
        await world.checkWallets();
      }),
      { numRuns: RUNS, seed: SEED },
    );
    const secs = (Date.now() - started) / 1000;
    const rows = [...stats.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([k, v]) =>
          `    ${k.padEnd(18)} succeeded ${String(v.ok).padStart(6)}  reverted ${String(v.reverted).padStart(6)}` +
          (process.env.INVARIANT_VERBOSE
            ? `  ${[...v.errors].map(([e, n]) => `${e.replace(/^Escrow/, "")}:${n}`).join(" ")}`
            : ""),
      );
    const ends = [...finalStatuses.entries()].map(([k, v]) => `${k} ${v}`).join(", ");
    const i6 = [...disputeEnds.entries()].map(([k, v]) => `${k} ${v}`).join(", ");
    console.log(
      `    fast-check: ${totalSteps} transactions in ${runs} sequences, ${secs.toFixed(1)} s (seed ${SEED})\n${rows.join("\n")}\n` +
        `    deals at end of run: ${ends}\n    I6 disputed deals shown to end by: ${i6}`,
    );

    // Every kind of call must have succeeded often enough: a run of reverts alone would prove nothing.
    const missing = Object.entries(MIN_SUCCESS_PER_RUN)
      .map(([kind, perRun]) => ({ kind, ok: stats.get(kind)?.ok ?? 0, min: Math.floor(perRun * runs) }))
      .filter((x) => x.ok < x.min);
    expect(missing, "calls that succeeded too rarely").to.deep.equal([]);
  });
});
