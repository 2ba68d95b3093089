/**
 * Reference model of the escrow protocol for the invariant suite (`Escrow.invariant.ts`).
 *
 * Pure code, no IO: given the model's state and an action with its block timestamp `t`, each method returns a
 * {@link Verdict}. An illegal action yields the set of custom errors that the contracts may revert with (every
 * check that fails, so the model does not depend on the order of the contract's checks) and leaves the model
 * unchanged. A legal action updates the model and yields the exact list of logs the transaction must emit, in
 * order, as normalised strings (`Contract.Event(arg,arg,...)`, addresses lower-case, integers in decimal).
 */
import { AbiCoder, keccak256 } from "ethers";

/*//////////////////////////////////////////////////////////////
                           CONSTANTS
//////////////////////////////////////////////////////////////*/

export const KIND = { Payment: 0, OnRamp: 1, OffRamp: 2 } as const;
export const STATUS = { None: 0, Open: 1, Performed: 2, Released: 3, Refunded: 4, Disputed: 5, Resolved: 6 } as const;
export const ACTION = { Perform: 0, Release: 1, Cancel: 2, Dispute: 3, Claim: 4 } as const;
export const REASON = { Deadline: 0, PayeeCancel: 1, MutualCancel: 2 } as const;
export const GW = { Active: 2, Suspended: 3 } as const;

export const STATUS_NAME = ["None", "Open", "Performed", "Released", "Refunded", "Disputed", "Resolved"];
export const KIND_NAME = ["Payment", "OnRamp", "OffRamp"];

const MIN_RELEASE_WINDOW = 3600n;
const MAX_RELEASE_WINDOW = 90n * 86400n;
const MAX_DEAL_DURATION = 365n * 86400n;
const MAX_DELEGATE_LOCK_DURATION = 7n * 86400n;
const UINT96_MAX = (1n << 96n) - 1n;
const BPS = 10_000n;

const DEAL_TYPEHASH = keccak256(
  new TextEncoder().encode(
    "Deal(address payer,address payee,address gateway,address token,uint96 amount,uint40 deadline," +
      "uint32 releaseWindow,uint16 feeBps,uint8 kind,bool autoRelease,bytes32 salt)",
  ),
);
const coder = AbiCoder.defaultAbiCoder();

/*//////////////////////////////////////////////////////////////
                             TYPES
//////////////////////////////////////////////////////////////*/

/** An address, always lower-case in the model. */
export type Addr = string;

/** A deal's parameters (the `IEscrow.Deal` struct), addresses lower-case. */
export interface DealParams {
  payer: Addr;
  payee: Addr;
  gateway: Addr;
  token: Addr;
  amount: bigint;
  deadline: bigint;
  releaseWindow: bigint;
  feeBps: bigint;
  kind: number;
  autoRelease: boolean;
  salt: string;
}

/** What a final deal paid out, as its settlement event reported it. */
export interface Payout {
  payee: bigint; // net of the fee
  fee: bigint;
  refund: bigint;
}

/** A deal as the model knows it. */
export interface ModelDeal {
  label: string; // D0, D1, ... in opening order within a run
  id: string;
  p: DealParams;
  commitment: string; // 0x + 50 hex digits
  status: number;
  since: bigint;
  payerReleased: boolean;
  payout?: Payout;
}

/** An acceptor's float in one token, with its ledger (I5). */
export interface FloatState {
  free: bigint;
  locked: bigint;
  deposits: bigint;
  withdrawals: bigint;
  settled: bigint; // amounts of settled on-ramp deals that left `locked`
  refunded: bigint; // the part of those that came back to `free`
}

/** An EIP-712 authorization as the model sees it: who signed what, valid until when. */
export interface SigAuth {
  signer: Addr;
  dealId: string;
  action: number;
  expiry: bigint;
}

export type Verdict = { ok: false; errors: string[] } | { ok: true; logs: string[] };

export interface AcceptorConfig {
  addr: Addr;
  gateway: Addr;
  delegate: Addr;
  limits: Record<Addr, { min: bigint; max: bigint }>;
}

/** The deployed world the model describes. */
export interface ModelConfig {
  escrow: Addr;
  usdt: Addr;
  dai: Addr;
  gateways: { addr: Addr; feeBps: bigint }[];
  acceptors: AcceptorConfig[];
  governor: Addr;
  pauser: Addr;
  arbiter: Addr;
  usdtOwner: Addr;
  maxFeeBps: bigint;
  resolutionWindow: bigint;
}

/** The state the model starts every run from (read from the chain once, after the fixture). */
export interface InitialState {
  now: bigint;
  balances: Map<string, bigint>; // key `${token}:${account}`
  floats: Map<string, { free: bigint; locked: bigint }>; // key `${acceptor}:${token}`
}

/*//////////////////////////////////////////////////////////////
                            HELPERS
//////////////////////////////////////////////////////////////*/

/** `keccak256(abi.encode(funder, salt))`. */
export function dealIdOf(funder: Addr, salt: string): string {
  return keccak256(coder.encode(["address", "bytes32"], [funder, salt]));
}

/** The first 25 bytes of the deal's EIP-712 struct hash, as `DealRecord.commitment`. */
export function commitmentOf(p: DealParams): string {
  const hash = keccak256(
    coder.encode(
      [
        "bytes32",
        "address",
        "address",
        "address",
        "address",
        "uint96",
        "uint40",
        "uint32",
        "uint16",
        "uint8",
        "bool",
        "bytes32",
      ],
      [
        DEAL_TYPEHASH,
        p.payer,
        p.payee,
        p.gateway,
        p.token,
        p.amount,
        p.deadline,
        p.releaseWindow,
        p.feeBps,
        p.kind,
        p.autoRelease,
        p.salt,
      ],
    ),
  );
  return hash.slice(0, 2 + 50);
}

/** Fee on `amount` at `feeBps`, rounded down. */
export function feeOf(amount: bigint, feeBps: bigint): bigint {
  return (amount * feeBps) / BPS;
}

/** Normalises an event argument the way the test normalises decoded logs. */
export function norm(v: unknown): string {
  if (typeof v === "bigint" || typeof v === "number") return BigInt(v).toString();
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") return v.toLowerCase();
  if (Array.isArray(v)) return `(${v.map(norm).join(",")})`;
  throw new Error(`cannot normalise ${String(v)}`);
}

/** A normalised log line. */
export function logLine(contract: string, event: string, ...args: unknown[]): string {
  return `${contract}.${event}(${args.map(norm).join(",")})`;
}

/** The deal tuple as `DealOpened` carries it. */
export function dealTuple(p: DealParams): unknown[] {
  return [
    p.payer,
    p.payee,
    p.gateway,
    p.token,
    p.amount,
    p.deadline,
    p.releaseWindow,
    p.feeBps,
    p.kind,
    p.autoRelease,
    p.salt,
  ];
}

const key = (a: string, b: string) => `${a}:${b}`;
const FINAL: ReadonlySet<number> = new Set([STATUS.Released, STATUS.Refunded, STATUS.Resolved]);
export const isFinal = (status: number) => FINAL.has(status);

/*//////////////////////////////////////////////////////////////
                             MODEL
//////////////////////////////////////////////////////////////*/

export class EscrowModel {
  readonly cfg: ModelConfig;
  now: bigint;
  readonly deals: ModelDeal[] = [];
  readonly byId = new Map<string, ModelDeal>();
  readonly floats = new Map<string, FloatState>(); // `${acceptor}:${token}`
  readonly owed = new Map<string, bigint>(); // `${token}:${account}`
  readonly balances: Map<string, bigint>; // `${token}:${account}`, wallets and the escrow
  paused = false;
  readonly gatewayStatus = new Map<Addr, number>();
  readonly openDisputes = new Map<Addr, bigint>();
  readonly blacklisted = new Set<Addr>();
  usdtPaused = false;
  private saltCounter = 0;

  constructor(cfg: ModelConfig, init: InitialState) {
    this.cfg = cfg;
    this.now = init.now;
    this.balances = new Map(init.balances);
    for (const [k, f] of init.floats) {
      this.floats.set(k, {
        free: f.free,
        locked: f.locked,
        deposits: f.free + f.locked,
        withdrawals: 0n,
        settled: 0n,
        refunded: 0n,
      });
    }
    for (const g of cfg.gateways) {
      this.gatewayStatus.set(g.addr, GW.Active);
      this.openDisputes.set(g.addr, 0n);
    }
  }

  /** A salt never used in this run. */
  freshSalt(): string {
    this.saltCounter += 1;
    return "0x" + this.saltCounter.toString(16).padStart(64, "0");
  }

  acceptor(addr: Addr): AcceptorConfig | undefined {
    return this.cfg.acceptors.find((a) => a.addr === addr);
  }

  gatewayFee(gw: Addr): bigint {
    const g = this.cfg.gateways.find((x) => x.addr === gw);
    if (!g) return 0n;
    return g.feeBps < this.cfg.maxFeeBps ? g.feeBps : this.cfg.maxFeeBps;
  }

  float(acceptor: Addr, token: Addr): FloatState {
    const k = key(acceptor, token);
    let f = this.floats.get(k);
    if (!f) {
      f = { free: 0n, locked: 0n, deposits: 0n, withdrawals: 0n, settled: 0n, refunded: 0n };
      this.floats.set(k, f);
    }
    return f;
  }

  owedOf(token: Addr, account: Addr): bigint {
    return this.owed.get(key(token, account)) ?? 0n;
  }

  balanceOf(token: Addr, account: Addr): bigint {
    return this.balances.get(key(token, account)) ?? 0n;
  }

  tokenName(token: Addr): string {
    return token === this.cfg.usdt ? "USDT" : "DAI";
  }

  liveDeals(): ModelDeal[] {
    return this.deals.filter((d) => !isFinal(d.status));
  }

  /*//////////////////////////////////////////////////////////////
                         TOKEN BEHAVIOUR
  //////////////////////////////////////////////////////////////*/

  /** Errors a token transfer of `amount` from `from` to `to`, called by `sender`, would revert with. */
  private transferErrors(token: Addr, sender: Addr, from: Addr, to: Addr, amount: bigint): string[] {
    const errs: string[] = [];
    if (token === this.cfg.usdt) {
      if (this.usdtPaused) errs.push("TestUSDTPaused");
      if (this.blacklisted.has(sender) || this.blacklisted.has(from) || this.blacklisted.has(to)) {
        errs.push("TestUSDTBlacklisted");
      }
      if (this.balanceOf(token, from) < amount) errs.push("TestUSDTInsufficientBalance");
    } else if (this.balanceOf(token, from) < amount) {
      errs.push("ERC20InsufficientBalance");
    }
    return errs;
  }

  private move(token: Addr, from: Addr, to: Addr, amount: bigint): string {
    this.balances.set(key(token, from), this.balanceOf(token, from) - amount);
    this.balances.set(key(token, to), this.balanceOf(token, to) + amount);
    return logLine(this.tokenName(token), "Transfer", from, to, amount);
  }

  /** The escrow pushes `amount` to `to`; a failed push is owed instead (`_push`). */
  private push(d: ModelDeal, to: Addr, amount: bigint): string {
    const token = d.p.token;
    const escrow = this.cfg.escrow;
    if (this.transferErrors(token, escrow, escrow, to, amount).length > 0) {
      this.owed.set(key(token, to), this.owedOf(token, to) + amount);
      return logLine("Escrow", "PayoutDeferred", d.id, token, to, amount);
    }
    return this.move(token, escrow, to, amount);
  }

  /*//////////////////////////////////////////////////////////////
                        DEAL STATE MACHINE
  //////////////////////////////////////////////////////////////*/

  private sigErrors(auth: SigAuth, signer: Addr, dealId: string, action: number, t: bigint): string[] {
    if (t > auth.expiry) return ["EscrowSignatureExpired"];
    if (auth.signer !== signer || auth.dealId !== dealId || auth.action !== action) return ["EscrowInvalidSignature"];
    return [];
  }

  /** `_load`: the deal whose id and commitment match `p`, if any. */
  private load(p: DealParams): ModelDeal | undefined {
    const d = this.byId.get(dealIdOf(p.payer, p.salt));
    if (!d || d.commitment !== commitmentOf(p)) return undefined;
    return d;
  }

  private store(d: ModelDeal, status: number, t: bigint): void {
    if (isFinal(d.status)) throw new Error(`model bug: ${d.label} changes after its final state`);
    d.status = status;
    d.since = t;
    d.payerReleased = false;
  }

  private noteDispute(gw: Addr, opened: boolean): string {
    const n = (this.openDisputes.get(gw) ?? 0n) + (opened ? 1n : -1n);
    this.openDisputes.set(gw, n);
    return logLine("Registry", "GatewayDisputesChanged", gw, n);
  }

  private settle(d: ModelDeal, payee: bigint, fee: bigint, refund: bigint): string[] {
    const logs: string[] = [];
    const { token, gateway, payer } = d.p;
    if (payee + fee + refund !== d.p.amount) throw new Error(`model bug: ${d.label} pays ${payee + fee + refund}`);
    d.payout = { payee, fee, refund };
    if (fee !== 0n) this.owed.set(key(token, gateway), this.owedOf(token, gateway) + fee);
    if (d.p.kind === KIND.OnRamp) {
      const f = this.float(payer, token);
      f.locked -= d.p.amount;
      f.free += refund;
      f.settled += d.p.amount;
      f.refunded += refund;
    } else if (refund !== 0n) {
      logs.push(this.push(d, payer, refund));
    }
    if (payee !== 0n) logs.push(this.push(d, d.p.payee, payee));
    return logs;
  }

  private payRelease(d: ModelDeal, t: bigint): string[] {
    const fee = feeOf(d.p.amount, d.p.feeBps);
    const payee = d.p.amount - fee;
    this.store(d, STATUS.Released, t);
    return [logLine("Escrow", "DealReleased", d.id, payee, fee), ...this.settle(d, payee, fee, 0n)];
  }

  private refund(d: ModelDeal, reason: number, t: bigint): string[] {
    this.store(d, STATUS.Refunded, t);
    return [logLine("Escrow", "DealRefunded", d.id, reason), ...this.settle(d, 0n, 0n, d.p.amount)];
  }

  /** `open` (isLock false) or `lock` (isLock true) of `p` by `caller` at `t`. */
  open(p: DealParams, ref: string, caller: Addr, isLock: boolean, t: bigint): Verdict {
    const errs: string[] = [];
    const id = dealIdOf(p.payer, p.salt);
    // _validate
    const zero = "0x0000000000000000000000000000000000000000";
    if (
      p.payer === zero ||
      p.payee === zero ||
      p.gateway === zero ||
      p.payer === p.payee ||
      p.gateway === p.payer ||
      p.gateway === p.payee
    ) {
      errs.push("EscrowInvalidParties");
    }
    if (p.amount === 0n) errs.push("EscrowZeroAmount");
    if (p.deadline <= t || p.deadline > t + MAX_DEAL_DURATION) errs.push("EscrowInvalidDeadline");
    if (p.releaseWindow < MIN_RELEASE_WINDOW || p.releaseWindow > MAX_RELEASE_WINDOW) {
      errs.push("EscrowInvalidReleaseWindow");
    }
    if ((p.kind === KIND.OnRamp) !== isLock || (p.autoRelease && p.kind !== KIND.Payment)) {
      errs.push("EscrowInvalidKind");
    }
    const accAddr = p.kind === KIND.OnRamp ? p.payer : p.kind === KIND.OffRamp ? p.payee : undefined;
    // registry.dealTerms
    if (this.paused) errs.push("RegistryPaused");
    if (p.token !== this.cfg.usdt && p.token !== this.cfg.dai) errs.push("RegistryTokenNotAllowed");
    if (this.gatewayStatus.get(p.gateway) !== GW.Active) errs.push("RegistryGatewayWrongStatus");
    const acc = accAddr === undefined ? undefined : this.acceptor(accAddr);
    if (accAddr !== undefined) {
      if (!acc) errs.push("RegistryAcceptorWrongStatus");
      else if (acc.gateway !== p.gateway) errs.push("RegistryAcceptorGatewayMismatch");
    }
    const delegate = acc?.delegate;
    if (caller !== p.payer) {
      if (!isLock || caller !== delegate) errs.push("EscrowUnauthorized");
      // A lock delegate's lock must end within MAX_DELEGATE_LOCK_DURATION.
      else if (p.deadline > t + MAX_DELEGATE_LOCK_DURATION) errs.push("EscrowInvalidDeadline");
    }
    if (p.feeBps !== this.gatewayFee(p.gateway)) errs.push("EscrowFeeMismatch");
    if (acc) {
      const l = acc.limits[p.token];
      if (!l || p.amount < l.min || p.amount > l.max) errs.push("EscrowAmountOutOfLimits");
    }
    if (this.byId.has(id)) errs.push("EscrowDealExists");
    if (isLock) {
      if (this.float(p.payer, p.token).free < p.amount) errs.push("EscrowInsufficientFloat");
    } else {
      errs.push(...this.transferErrors(p.token, this.cfg.escrow, p.payer, this.cfg.escrow, p.amount));
    }
    if (errs.length > 0) return { ok: false, errors: errs };

    // Effects
    const d: ModelDeal = {
      label: `D${this.deals.length}`,
      id,
      p,
      commitment: commitmentOf(p),
      status: STATUS.Open,
      since: t,
      payerReleased: false,
    };
    this.deals.push(d);
    this.byId.set(id, d);
    const logs = [logLine("Escrow", "DealOpened", id, p.payer, p.payee, dealTuple(p), ref)];
    if (isLock) {
      const f = this.float(p.payer, p.token);
      f.free -= p.amount;
      f.locked += p.amount;
    } else {
      logs.push(this.move(p.token, p.payer, this.cfg.escrow, p.amount));
    }
    return { ok: true, logs };
  }

  /** `perform` by `caller`, or `actWithSig(Perform)` when `auth` is given. */
  perform(p: DealParams, caller: Addr, t: bigint, auth?: SigAuth): Verdict {
    const id = dealIdOf(p.payer, p.salt);
    const errs = auth ? this.sigErrors(auth, p.payee, id, ACTION.Perform, t) : [];
    if (auth) caller = p.payee;
    const d = this.load(p);
    if (!d) return { ok: false, errors: [...errs, "EscrowUnknownDeal"] };
    if (caller !== p.payee) errs.push("EscrowUnauthorized");
    if (d.status !== STATUS.Open) errs.push("EscrowWrongStatus");
    if (t > p.deadline) errs.push("EscrowDeadlinePassed");
    if (errs.length > 0) return { ok: false, errors: errs };
    const logs = [logLine("Escrow", "DealPerformed", d.id)];
    if (d.payerReleased) logs.push(...this.payRelease(d, t));
    else this.store(d, STATUS.Performed, t);
    return { ok: true, logs };
  }

  /** `release` by `caller`, or `actWithSig(Release)`. */
  release(p: DealParams, caller: Addr, t: bigint, auth?: SigAuth): Verdict {
    const id = dealIdOf(p.payer, p.salt);
    const errs = auth ? this.sigErrors(auth, p.payer, id, ACTION.Release, t) : [];
    if (auth) caller = p.payer;
    const d = this.load(p);
    if (!d) return { ok: false, errors: [...errs, "EscrowUnknownDeal"] };
    if (caller !== p.payer) errs.push("EscrowUnauthorized");
    const performed = d.status === STATUS.Performed;
    const approvable = d.status === STATUS.Open && !d.payerReleased;
    if (!performed && !approvable) errs.push("EscrowWrongStatus");
    if (errs.length > 0) return { ok: false, errors: errs };
    if (performed) return { ok: true, logs: this.payRelease(d, t) };
    d.payerReleased = true;
    return { ok: true, logs: [logLine("Escrow", "DealReleaseApproved", d.id)] };
  }

  /** `cancel` by `caller`, or `actWithSig(Cancel)`. */
  cancel(p: DealParams, caller: Addr, t: bigint, auth?: SigAuth): Verdict {
    const id = dealIdOf(p.payer, p.salt);
    const errs = auth ? this.sigErrors(auth, p.payee, id, ACTION.Cancel, t) : [];
    if (auth) caller = p.payee;
    const d = this.load(p);
    if (!d) return { ok: false, errors: [...errs, "EscrowUnknownDeal"] };
    if (caller !== p.payee) errs.push("EscrowUnauthorized");
    if (isFinal(d.status)) errs.push("EscrowWrongStatus");
    if (errs.length > 0) return { ok: false, errors: errs };
    const logs: string[] = [];
    if (d.status === STATUS.Disputed) logs.push(this.noteDispute(p.gateway, false));
    logs.push(...this.refund(d, REASON.PayeeCancel, t));
    return { ok: true, logs };
  }

  /** `dispute` by `caller`, or `actWithSig(Dispute)` signed by either party. */
  dispute(p: DealParams, caller: Addr, t: bigint, auth?: SigAuth): Verdict {
    const id = dealIdOf(p.payer, p.salt);
    const errs: string[] = [];
    if (auth) {
      const byPayer = this.sigErrors(auth, p.payer, id, ACTION.Dispute, t);
      const byPayee = this.sigErrors(auth, p.payee, id, ACTION.Dispute, t);
      if (byPayer.length > 0 && byPayee.length > 0) errs.push(...byPayee);
      caller = byPayer.length === 0 ? p.payer : p.payee;
    }
    const d = this.load(p);
    if (!d) return { ok: false, errors: [...errs, "EscrowUnknownDeal"] };
    if (caller !== p.payer && caller !== p.payee) errs.push("EscrowUnauthorized");
    if (d.status !== STATUS.Performed) errs.push("EscrowWrongStatus");
    if (errs.length > 0) return { ok: false, errors: errs };
    this.store(d, STATUS.Disputed, t);
    return {
      ok: true,
      logs: [logLine("Escrow", "DealDisputed", d.id, caller), this.noteDispute(p.gateway, true)],
    };
  }

  /** `claim` by `caller`, or `actWithSig(Claim)`. */
  claim(p: DealParams, caller: Addr, t: bigint, auth?: SigAuth): Verdict {
    const id = dealIdOf(p.payer, p.salt);
    const errs = auth ? this.sigErrors(auth, p.payee, id, ACTION.Claim, t) : [];
    if (auth) caller = p.payee;
    const d = this.load(p);
    if (!d) return { ok: false, errors: [...errs, "EscrowUnknownDeal"] };
    if (caller !== p.payee) errs.push("EscrowUnauthorized");
    if (d.status !== STATUS.Performed) errs.push("EscrowWrongStatus");
    if (!p.autoRelease) errs.push("EscrowNotAutoRelease");
    if (t <= d.since + p.releaseWindow) errs.push("EscrowReleaseWindowOpen");
    if (errs.length > 0) return { ok: false, errors: errs };
    return { ok: true, logs: this.payRelease(d, t) };
  }

  /** `refund`, which anyone may call. */
  refundAfterDeadline(p: DealParams, t: bigint): Verdict {
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs: string[] = [];
    if (d.status !== STATUS.Open) errs.push("EscrowWrongStatus");
    if (t <= p.deadline) errs.push("EscrowDeadlineNotPassed");
    if (errs.length > 0) return { ok: false, errors: errs };
    return { ok: true, logs: this.refund(d, REASON.Deadline, t) };
  }

  /** `settleWithSigs(deal, payeeAuth, payerAuth)`. */
  settleWithSigs(p: DealParams, payeeAuth: SigAuth, payerAuth: SigAuth, t: bigint): Verdict {
    const id = dealIdOf(p.payer, p.salt);
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs: string[] = [];
    if (d.status === STATUS.Open) {
      if (t > p.deadline) errs.push("EscrowDeadlinePassed");
    } else if (d.status !== STATUS.Performed) {
      errs.push("EscrowWrongStatus");
    }
    errs.push(...this.sigErrors(payeeAuth, p.payee, id, ACTION.Perform, t));
    errs.push(...this.sigErrors(payerAuth, p.payer, id, ACTION.Release, t));
    if (errs.length > 0) return { ok: false, errors: errs };
    return { ok: true, logs: this.payRelease(d, t) };
  }

  /** `cancelWithSigs(deal, payerAuth, payeeAuth)`. */
  cancelWithSigs(p: DealParams, payerAuth: SigAuth, payeeAuth: SigAuth, t: bigint): Verdict {
    const id = dealIdOf(p.payer, p.salt);
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs: string[] = [];
    if (isFinal(d.status)) errs.push("EscrowWrongStatus");
    errs.push(...this.sigErrors(payerAuth, p.payer, id, ACTION.Cancel, t));
    errs.push(...this.sigErrors(payeeAuth, p.payee, id, ACTION.Cancel, t));
    if (errs.length > 0) return { ok: false, errors: errs };
    const logs: string[] = [];
    if (d.status === STATUS.Disputed) logs.push(this.noteDispute(p.gateway, false));
    logs.push(...this.refund(d, REASON.MutualCancel, t));
    return { ok: true, logs };
  }

  /** `resolve(deal, payeeAmount)` by `caller`. */
  resolve(p: DealParams, payeeAmount: bigint, caller: Addr, t: bigint): Verdict {
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs: string[] = [];
    if (d.status !== STATUS.Disputed) errs.push("EscrowWrongStatus");
    if (payeeAmount > p.amount) errs.push("EscrowPayeeAmountTooHigh");
    const inWindow = t <= d.since + this.cfg.resolutionWindow;
    const canRule = this.gatewayStatus.get(p.gateway) === GW.Active;
    let byGateway = false;
    if (caller === p.gateway && canRule) {
      if (!inWindow) errs.push("EscrowResolutionWindowClosed");
      byGateway = true;
    } else if (caller === this.cfg.arbiter) {
      if (inWindow && canRule) errs.push("EscrowResolutionWindowOpen");
    } else {
      errs.push("EscrowUnauthorized");
    }
    if (errs.length > 0) return { ok: false, errors: errs };
    const fee = byGateway ? feeOf(payeeAmount, p.feeBps) : 0n;
    const payee = payeeAmount - fee;
    const refund = p.amount - payeeAmount;
    this.store(d, STATUS.Resolved, t);
    return {
      ok: true,
      logs: [
        logLine("Escrow", "DealResolved", d.id, caller, payee, fee, refund),
        this.noteDispute(p.gateway, false),
        ...this.settle(d, payee, fee, refund),
      ],
    };
  }

  /*//////////////////////////////////////////////////////////////
                          FLOAT AND OWED
  //////////////////////////////////////////////////////////////*/

  depositFloat(caller: Addr, token: Addr, amount: bigint): Verdict {
    const errs: string[] = [];
    if (this.paused) errs.push("RegistryPaused");
    if (!this.acceptor(caller)) errs.push("RegistryAcceptorWrongStatus");
    if (amount === 0n || amount > UINT96_MAX) errs.push("EscrowInvalidAmount");
    errs.push(...this.transferErrors(token, this.cfg.escrow, caller, this.cfg.escrow, amount));
    if (errs.length > 0) return { ok: false, errors: errs };
    const f = this.float(caller, token);
    f.free += amount;
    f.deposits += amount;
    const transfer = this.move(token, caller, this.cfg.escrow, amount);
    return { ok: true, logs: [transfer, logLine("Escrow", "FloatDeposited", caller, token, amount)] };
  }

  withdrawFloat(caller: Addr, token: Addr, amount: bigint): Verdict {
    const errs: string[] = [];
    const f = this.float(caller, token);
    if (amount === 0n) errs.push("EscrowInvalidAmount");
    if (amount > f.free) errs.push("EscrowInsufficientFloat");
    errs.push(...this.transferErrors(token, this.cfg.escrow, this.cfg.escrow, caller, amount));
    if (errs.length > 0) return { ok: false, errors: errs };
    f.free -= amount;
    f.withdrawals += amount;
    return {
      ok: true,
      logs: [
        logLine("Escrow", "FloatWithdrawn", caller, token, amount),
        this.move(token, this.cfg.escrow, caller, amount),
      ],
    };
  }

  claimOwed(token: Addr, account: Addr): Verdict {
    const amount = this.owedOf(token, account);
    if (amount === 0n) return { ok: false, errors: ["EscrowNothingOwed"] };
    const errs = this.transferErrors(token, this.cfg.escrow, this.cfg.escrow, account, amount);
    if (errs.length > 0) return { ok: false, errors: errs };
    this.owed.set(key(token, account), 0n);
    return {
      ok: true,
      logs: [
        logLine("Escrow", "OwedClaimed", token, account, amount),
        this.move(token, this.cfg.escrow, account, amount),
      ],
    };
  }

  /*//////////////////////////////////////////////////////////////
                     GOVERNANCE AND THE TOKEN
  //////////////////////////////////////////////////////////////*/

  setPaused(caller: Addr, pause: boolean): Verdict {
    const errs: string[] = [];
    if (caller !== this.cfg.pauser) errs.push("AccessControlUnauthorizedAccount");
    if (pause && this.paused) errs.push("RegistryPaused");
    if (!pause && !this.paused) errs.push("RegistryNotPaused");
    if (errs.length > 0) return { ok: false, errors: errs };
    this.paused = pause;
    return { ok: true, logs: [logLine("Registry", pause ? "Paused" : "Unpaused", caller)] };
  }

  setGatewaySuspended(caller: Addr, gw: Addr, suspend: boolean): Verdict {
    const errs: string[] = [];
    if (caller !== this.cfg.governor) errs.push("AccessControlUnauthorizedAccount");
    const status = this.gatewayStatus.get(gw);
    if (suspend && status !== GW.Active) errs.push("RegistryGatewayWrongStatus");
    if (!suspend && status !== GW.Suspended) errs.push("RegistryGatewayWrongStatus");
    if (errs.length > 0) return { ok: false, errors: errs };
    this.gatewayStatus.set(gw, suspend ? GW.Suspended : GW.Active);
    return { ok: true, logs: [logLine("Registry", suspend ? "GatewaySuspended" : "GatewayReinstated", gw)] };
  }

  setBlacklisted(caller: Addr, account: Addr, listed: boolean): Verdict {
    if (caller !== this.cfg.usdtOwner) return { ok: false, errors: ["TestUSDTNotOwner"] };
    if (listed) this.blacklisted.add(account);
    else this.blacklisted.delete(account);
    return { ok: true, logs: [logLine("USDT", listed ? "AddedBlackList" : "RemovedBlackList", account)] };
  }

  setUsdtPaused(caller: Addr, pause: boolean): Verdict {
    const errs: string[] = [];
    if (caller !== this.cfg.usdtOwner) errs.push("TestUSDTNotOwner");
    if (pause && this.usdtPaused) errs.push("TestUSDTPaused");
    if (!pause && !this.usdtPaused) errs.push("TestUSDTNotPaused");
    if (errs.length > 0) return { ok: false, errors: errs };
    this.usdtPaused = pause;
    return { ok: true, logs: [logLine("USDT", pause ? "Pause" : "Unpause")] };
  }
}
