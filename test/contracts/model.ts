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
import {
  Action,
  Flags,
  GatewayStatus,
  KIND_NAMES,
  Kind,
  RefundReason,
  STATUS_NAMES,
  Status,
} from "../../protocol/enums";

/*//////////////////////////////////////////////////////////////
                           CONSTANTS
//////////////////////////////////////////////////////////////*/

// The enums come from the protocol model (checked against the contracts in test/protocol/enums.ts); everything
// else here (limits, hashes, rules) is this model's own, so that it stays an independent oracle.
export const KIND = Kind;
export const STATUS = Status;
export const ACTION = Action;
export const REASON = RefundReason;
/** The gateway's own life cycle (the registry's `GatewayStatus`); suspension is a separate flag. */
export const GW = GatewayStatus;
/** `DealRecord.flags`. */
export const FLAG = Flags;

export const STATUS_NAME: readonly string[] = STATUS_NAMES;
export const KIND_NAME: readonly string[] = KIND_NAMES;

const MIN_RELEASE_WINDOW = 3600n;
const MAX_RELEASE_WINDOW = 90n * 86400n;
const MAX_DEAL_DURATION = 365n * 86400n;
const MAX_DELEGATE_LOCK_DURATION = 7n * 86400n;
const MAX_DELEGATE_RELEASE_WINDOW = 2n * 86400n;
/** First 12 bytes of every salt of a delegate's lock, and of no other deal's salt. */
export const DELEGATE_SALT_PREFIX = keccak256(new TextEncoder().encode("USDT Escrow: lock by delegate")).slice(
  0,
  2 + 24,
);
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
  flags: number; // FLAG bits, as DealRecord.flags
  payout?: Payout;
}

/** A gateway's standing in the registry: its own life cycle and governance's sanction. */
export interface GatewayState {
  status: number; // GW
  suspended: boolean;
  exitAt: bigint;
  openDisputes: bigint;
  bond: bigint;
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
  payeeAmount?: bigint; // for a Split signature: the split it signs
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
  registry: Addr;
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
  unbondingDelay: bigint;
  bond: bigint; // each gateway's bond at the start
}

/** The state the model starts every run from (read from the chain once, after the fixture). */
export interface InitialState {
  now: bigint;
  balances: Map<string, bigint>; // key `${token}:${account}`
  floats: Map<string, { free: bigint; locked: bigint }>; // key `${acceptor}:${token}`
  bond: bigint; // each gateway's bond
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
      [DEAL_TYPEHASH, ...dealTuple(p)],
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
const FINAL: ReadonlySet<number> = new Set([STATUS.Released, STATUS.Refunded, STATUS.Resolved, STATUS.Split]);
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
  readonly gateways = new Map<Addr, GatewayState>();
  readonly blacklisted = new Set<Addr>();
  usdtPaused = false;
  arbiterRevoked = false;
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
      this.gateways.set(g.addr, { status: GW.Active, suspended: false, exitAt: 0n, openDisputes: 0n, bond: cfg.bond });
    }
  }

  /** A salt never used in this run; `delegate` gives it the delegate-lock prefix. */
  freshSalt(delegate = false): string {
    this.saltCounter += 1;
    const n = this.saltCounter.toString(16);
    return delegate ? DELEGATE_SALT_PREFIX + n.padStart(40, "0") : "0x" + n.padStart(64, "0");
  }

  acceptor(addr: Addr): AcceptorConfig | undefined {
    return this.cfg.acceptors.find((a) => a.addr === addr);
  }

  gateway(gw: Addr): GatewayState | undefined {
    return this.gateways.get(gw);
  }

  gatewayFee(gw: Addr): bigint {
    const g = this.cfg.gateways.find((x) => x.addr === gw);
    if (!g) return 0n;
    return g.feeBps < this.cfg.maxFeeBps ? g.feeBps : this.cfg.maxFeeBps;
  }

  /** Registry `canRule`: not suspended, Active or Exiting. */
  canRule(gw: Addr): boolean {
    const g = this.gateway(gw);
    return !!g && !g.suspended && (g.status === GW.Active || g.status === GW.Exiting);
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

  /** A delegate's lock: an on-ramp whose salt carries the delegate prefix. */
  static isDelegateLock(p: DealParams): boolean {
    return p.kind === KIND.OnRamp && p.salt.slice(0, 2 + 24) === DELEGATE_SALT_PREFIX;
  }

  /** `lockExpiry`: deadline + releaseWindow + resolutionWindow for a delegate's lock, else 0. */
  lockExpiry(p: DealParams): bigint {
    return EscrowModel.isDelegateLock(p) ? p.deadline + p.releaseWindow + this.cfg.resolutionWindow : 0n;
  }

  /** Whether the gateway may rule deal `d` at `t` (it holds the dispute, is in good standing, window open). */
  gatewayMayRule(d: ModelDeal, t: bigint): boolean {
    return (d.flags & FLAG.GatewayHolds) !== 0 && this.canRule(d.p.gateway) && t <= d.since + this.cfg.resolutionWindow;
  }

  /** Who can end disputed deal `d` at `t` by a ruling: "gateway", "arbiter", or undefined when nobody can. */
  rulerOf(d: ModelDeal, t: bigint): "gateway" | "arbiter" | undefined {
    if (this.gatewayMayRule(d, t)) return "gateway";
    return this.arbiterRevoked ? undefined : "arbiter";
  }

  /*//////////////////////////////////////////////////////////////
                         TOKEN BEHAVIOUR
  //////////////////////////////////////////////////////////////*/

  /**
   * Errors a token transfer of `amount` from `from` would revert with (`sender` is the caller, `from` the account
   * debited). USDT as on mainnet: only the sender (transfer) or `from` (transferFrom) is checked against the
   * blacklist; every USDT revert carries empty data (a short balance hits INVALID, which also has none).
   */
  private transferErrors(token: Addr, from: Addr, amount: bigint): string[] {
    const errs: string[] = [];
    if (token === this.cfg.usdt) {
      if (this.usdtPaused || this.blacklisted.has(from) || this.balanceOf(token, from) < amount)
        errs.push("EmptyRevert");
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
    if (this.transferErrors(token, escrow, amount).length > 0) {
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

  private store(d: ModelDeal, status: number, t: bigint, flags = 0): void {
    if (isFinal(d.status)) throw new Error(`model bug: ${d.label} changes after its final state`);
    d.status = status;
    d.since = t;
    d.flags = flags;
  }

  /** The registry's dispute hook when a dispute opens: held only by an Active gateway in good standing. */
  private noteDisputeOpened(gw: Addr): { held: boolean; logs: string[] } {
    const g = this.gateway(gw);
    if (!g || g.status !== GW.Active || g.suspended) return { held: false, logs: [] };
    g.openDisputes += 1n;
    return { held: true, logs: [logLine("Registry", "GatewayDisputesChanged", gw, g.openDisputes)] };
  }

  /** `_endDispute`: a held dispute leaving Disputed is uncounted. Call before `store`. */
  private endDispute(d: ModelDeal): string[] {
    if (d.status !== STATUS.Disputed || (d.flags & FLAG.GatewayHolds) === 0) return [];
    const g = this.gateway(d.p.gateway)!;
    g.openDisputes -= 1n;
    return [logLine("Registry", "GatewayDisputesChanged", d.p.gateway, g.openDisputes)];
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

  /** A final state with its event: `store`, the event, the dispute hook, then the payouts (as the contract). */
  private finish(d: ModelDeal, status: number, t: bigint, event: string, shares: [bigint, bigint, bigint]): string[] {
    const ended = this.endDispute(d);
    this.store(d, status, t);
    return [event, ...ended, ...this.settle(d, ...shares)];
  }

  private payRelease(d: ModelDeal, t: bigint): string[] {
    const fee = feeOf(d.p.amount, d.p.feeBps);
    return this.finish(d, STATUS.Released, t, logLine("Escrow", "DealReleased", d.id), [d.p.amount - fee, fee, 0n]);
  }

  private refund(d: ModelDeal, reason: number, t: bigint): string[] {
    return this.finish(d, STATUS.Refunded, t, logLine("Escrow", "DealRefunded", d.id, reason), [0n, 0n, d.p.amount]);
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
    const byDelegate = caller !== p.payer;
    if (byDelegate && !isLock) errs.push("EscrowUnauthorized");
    // registry.dealTerms
    if (this.paused) errs.push("RegistryPaused");
    if (p.token !== this.cfg.usdt && p.token !== this.cfg.dai) errs.push("RegistryTokenNotAllowed");
    const g = this.gateway(p.gateway);
    if (!g || g.status !== GW.Active) errs.push("RegistryGatewayWrongStatus");
    else if (g.suspended) errs.push("RegistryGatewaySuspended");
    const acc = accAddr === undefined ? undefined : this.acceptor(accAddr);
    if (accAddr !== undefined) {
      if (!acc) errs.push("RegistryAcceptorWrongStatus");
      else if (acc.gateway !== p.gateway) errs.push("RegistryAcceptorGatewayMismatch");
    }
    if (byDelegate && isLock) {
      if (caller !== acc?.delegate) errs.push("EscrowUnauthorized");
      // A delegate's lock is bounded: deadline and release window.
      if (p.deadline > t + MAX_DELEGATE_LOCK_DURATION) errs.push("EscrowInvalidDeadline");
      if (p.releaseWindow > MAX_DELEGATE_RELEASE_WINDOW) errs.push("EscrowInvalidReleaseWindow");
    }
    const prefixed = p.salt.slice(0, 2 + 24) === DELEGATE_SALT_PREFIX;
    if (prefixed !== byDelegate) errs.push("EscrowInvalidSalt");
    if (p.feeBps !== this.gatewayFee(p.gateway)) errs.push("EscrowFeeMismatch");
    if (acc) {
      const l = acc.limits[p.token];
      if (!l || p.amount < l.min || p.amount > l.max) errs.push("EscrowAmountOutOfLimits");
    }
    if (this.byId.has(id)) errs.push("EscrowDealExists");
    if (isLock) {
      if (this.float(p.payer, p.token).free < p.amount) errs.push("EscrowInsufficientFloat");
    } else {
      errs.push(...this.transferErrors(p.token, p.payer, p.amount));
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
      flags: 0,
    };
    this.deals.push(d);
    this.byId.set(id, d);
    const logs = [logLine("Escrow", "DealOpened", id, p.payer, p.payee, dealTuple(p), ref)];
    if (byDelegate) logs.push(logLine("Escrow", "DealLockedByDelegate", id, caller));
    if (isLock) {
      const f = this.float(p.payer, p.token);
      f.free -= p.amount;
      f.locked += p.amount;
    } else {
      logs.push(this.move(p.token, p.payer, this.cfg.escrow, p.amount));
    }
    return { ok: true, logs };
  }

  /**
   * `actWithSig(deal, action, signer, auth)`: the named signer must be the action's party (else
   * EscrowUnauthorized, before the signature is looked at), then the signature must be the signer's.
   */
  private signed(p: DealParams, action: number, auth: SigAuth, t: bigint): string[] {
    const id = dealIdOf(p.payer, p.salt);
    const party =
      action === ACTION.Release
        ? auth.signer === p.payer
        : auth.signer === p.payee || (action === ACTION.Dispute && auth.signer === p.payer);
    if (!party) return ["EscrowUnauthorized"];
    return this.sigErrors(auth, auth.signer, id, action, t);
  }

  /** `perform` by `caller`, or `actWithSig(Perform)` when `auth` is given. */
  perform(p: DealParams, caller: Addr, t: bigint, auth?: SigAuth): Verdict {
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs = auth ? this.signed(p, ACTION.Perform, auth, t) : [];
    if (auth) caller = auth.signer;
    if (caller !== p.payee) errs.push("EscrowUnauthorized");
    if (d.status !== STATUS.Open) errs.push("EscrowWrongStatus");
    if (t > p.deadline) errs.push("EscrowDeadlinePassed");
    if (errs.length > 0) return { ok: false, errors: errs };
    const logs = [logLine("Escrow", "DealPerformed", d.id)];
    if (d.flags === FLAG.PayerReleased) logs.push(...this.payRelease(d, t));
    else this.store(d, STATUS.Performed, t);
    return { ok: true, logs };
  }

  /** `release` by `caller`, or `actWithSig(Release)`: pays out a Performed or Disputed deal, or approves early. */
  release(p: DealParams, caller: Addr, t: bigint, auth?: SigAuth): Verdict {
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs = auth ? this.signed(p, ACTION.Release, auth, t) : [];
    if (auth) caller = auth.signer;
    if (caller !== p.payer) errs.push("EscrowUnauthorized");
    const pays = d.status === STATUS.Performed || d.status === STATUS.Disputed;
    const approvable = d.status === STATUS.Open && d.flags !== FLAG.PayerReleased;
    if (!pays && !approvable) errs.push("EscrowWrongStatus");
    if (errs.length > 0) return { ok: false, errors: errs };
    if (pays) return { ok: true, logs: this.payRelease(d, t) };
    d.flags = FLAG.PayerReleased;
    return { ok: true, logs: [logLine("Escrow", "DealReleaseApproved", d.id)] };
  }

  /** `cancel` by `caller`, or `actWithSig(Cancel)`. */
  cancel(p: DealParams, caller: Addr, t: bigint, auth?: SigAuth): Verdict {
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs = auth ? this.signed(p, ACTION.Cancel, auth, t) : [];
    if (auth) caller = auth.signer;
    if (caller !== p.payee) errs.push("EscrowUnauthorized");
    if (isFinal(d.status)) errs.push("EscrowWrongStatus");
    if (errs.length > 0) return { ok: false, errors: errs };
    return { ok: true, logs: this.refund(d, REASON.PayeeCancel, t) };
  }

  /**
   * `dispute` by `caller`, or `actWithSig(Dispute)` with an explicit signer: the payer once performed (an
   * autoRelease payment only within its release window), the payee only after the window.
   */
  dispute(p: DealParams, caller: Addr, t: bigint, auth?: SigAuth): Verdict {
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs = auth ? this.signed(p, ACTION.Dispute, auth, t) : [];
    if (auth) caller = auth.signer;
    const byPayer = caller === p.payer;
    if (!byPayer && caller !== p.payee) errs.push("EscrowUnauthorized");
    if (d.status !== STATUS.Performed) errs.push("EscrowWrongStatus");
    else {
      const windowEnd = d.since + p.releaseWindow;
      if (byPayer && p.autoRelease && t > windowEnd) errs.push("EscrowReleaseWindowClosed");
      if (!byPayer && t <= windowEnd) errs.push("EscrowReleaseWindowOpen");
    }
    if (errs.length > 0) return { ok: false, errors: errs };
    const { held, logs } = this.noteDisputeOpened(p.gateway);
    this.store(d, STATUS.Disputed, t, held ? FLAG.GatewayHolds : 0);
    return { ok: true, logs: [...logs, logLine("Escrow", "DealDisputed", d.id, caller, held)] };
  }

  /** `claim` by `caller`, or `actWithSig(Claim)`. */
  claim(p: DealParams, caller: Addr, t: bigint, auth?: SigAuth): Verdict {
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs = auth ? this.signed(p, ACTION.Claim, auth, t) : [];
    if (auth) caller = auth.signer;
    if (caller !== p.payee) errs.push("EscrowUnauthorized");
    if (d.status !== STATUS.Performed) errs.push("EscrowWrongStatus");
    if (!p.autoRelease) errs.push("EscrowNotAutoRelease");
    if (t <= d.since + p.releaseWindow) errs.push("EscrowReleaseWindowOpen");
    if (errs.length > 0) return { ok: false, errors: errs };
    return { ok: true, logs: this.payRelease(d, t) };
  }

  /** `refund`, which anyone may call: an Open deal after its deadline, or an expired delegate's lock. */
  refundAfterDeadline(p: DealParams, t: bigint): Verdict {
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    if (d.status === STATUS.Open) {
      if (t <= p.deadline) return { ok: false, errors: ["EscrowDeadlineNotPassed"] };
      return { ok: true, logs: this.refund(d, REASON.Deadline, t) };
    }
    let expiresAt = this.lockExpiry(p);
    if (expiresAt === 0n || isFinal(d.status)) return { ok: false, errors: ["EscrowWrongStatus"] };
    // A dispute keeps its whole resolution window.
    const windowEnd = d.since + this.cfg.resolutionWindow;
    if (d.status === STATUS.Disputed && windowEnd > expiresAt) expiresAt = windowEnd;
    if (t <= expiresAt) return { ok: false, errors: ["EscrowLockNotExpired"] };
    return { ok: true, logs: this.refund(d, REASON.LockExpired, t) };
  }

  /** `settleWithSigs(deal, payeeAuth, payerAuth)`. */
  settleWithSigs(p: DealParams, payeeAuth: SigAuth, payerAuth: SigAuth, t: bigint): Verdict {
    const id = dealIdOf(p.payer, p.salt);
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs: string[] = [];
    if (d.status === STATUS.Open) {
      if (t > p.deadline) errs.push("EscrowDeadlinePassed");
    } else if (d.status !== STATUS.Performed && d.status !== STATUS.Disputed) {
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
    return { ok: true, logs: this.refund(d, REASON.MutualCancel, t) };
  }

  /** `splitWithSigs(deal, payeeAmount, payerAuth, payeeAuth)`: both parties signed this split. */
  splitWithSigs(p: DealParams, payeeAmount: bigint, payerAuth: SigAuth, payeeAuth: SigAuth, t: bigint): Verdict {
    const id = dealIdOf(p.payer, p.salt);
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs: string[] = [];
    if (isFinal(d.status)) errs.push("EscrowWrongStatus");
    if (payeeAmount > p.amount) errs.push("EscrowPayeeAmountTooHigh");
    const splitErrors = (auth: SigAuth, signer: Addr) => {
      if (t > auth.expiry) return ["EscrowSignatureExpired"];
      return auth.signer !== signer || auth.dealId !== id || auth.payeeAmount !== payeeAmount
        ? ["EscrowInvalidSignature"]
        : [];
    };
    errs.push(...splitErrors(payerAuth, p.payer), ...splitErrors(payeeAuth, p.payee));
    if (errs.length > 0) return { ok: false, errors: errs };
    const fee = feeOf(payeeAmount, p.feeBps);
    const shares: [bigint, bigint, bigint] = [payeeAmount - fee, fee, p.amount - payeeAmount];
    return {
      ok: true,
      logs: this.finish(d, STATUS.Split, t, logLine("Escrow", "DealSplit", d.id, ...shares), shares),
    };
  }

  /** `resolve(deal, payeeAmount, reasons)` by `caller`. */
  resolve(p: DealParams, payeeAmount: bigint, reasons: string, caller: Addr, t: bigint): Verdict {
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs: string[] = [];
    if (d.status !== STATUS.Disputed) errs.push("EscrowWrongStatus");
    if (payeeAmount > p.amount) errs.push("EscrowPayeeAmountTooHigh");
    const inWindow = t <= d.since + this.cfg.resolutionWindow;
    const gatewayMay = (d.flags & FLAG.GatewayHolds) !== 0 && this.canRule(p.gateway);
    let byGateway = false;
    if (caller === p.gateway && gatewayMay) {
      if (!inWindow) errs.push("EscrowResolutionWindowClosed");
      byGateway = true;
    } else if (caller === this.cfg.arbiter && !this.arbiterRevoked) {
      if (inWindow && gatewayMay) errs.push("EscrowResolutionWindowOpen");
    } else {
      errs.push("EscrowUnauthorized");
    }
    if (errs.length > 0) return { ok: false, errors: errs };
    const fee = byGateway ? feeOf(payeeAmount, p.feeBps) : 0n;
    const shares: [bigint, bigint, bigint] = [payeeAmount - fee, fee, p.amount - payeeAmount];
    const event = logLine("Escrow", "DealResolved", d.id, caller, ...shares, reasons);
    return { ok: true, logs: this.finish(d, STATUS.Resolved, t, event, shares) };
  }

  /** `postEvidence(deal, contentHash, uri)` by `caller`: an event and nothing else. */
  postEvidence(p: DealParams, contentHash: string, uri: string, caller: Addr): Verdict {
    const d = this.load(p);
    if (!d) return { ok: false, errors: ["EscrowUnknownDeal"] };
    const errs: string[] = [];
    if (isFinal(d.status)) errs.push("EscrowWrongStatus");
    const arbiter = caller === this.cfg.arbiter && !this.arbiterRevoked;
    if (caller !== p.payer && caller !== p.payee && caller !== p.gateway && !arbiter) errs.push("EscrowUnauthorized");
    if (errs.length > 0) return { ok: false, errors: errs };
    return { ok: true, logs: [logLine("Escrow", "EvidencePosted", d.id, caller, contentHash, uri)] };
  }

  /*//////////////////////////////////////////////////////////////
                          FLOAT AND OWED
  //////////////////////////////////////////////////////////////*/

  depositFloat(caller: Addr, token: Addr, amount: bigint): Verdict {
    const errs: string[] = [];
    if (this.paused) errs.push("RegistryPaused");
    const acc = this.acceptor(caller);
    if (!acc) errs.push("RegistryAcceptorWrongStatus");
    else {
      const g = this.gateway(acc.gateway);
      if (!g || g.status !== GW.Active) errs.push("RegistryGatewayWrongStatus");
      else if (g.suspended) errs.push("RegistryGatewaySuspended");
    }
    if (amount === 0n || amount > UINT96_MAX) errs.push("EscrowInvalidAmount");
    errs.push(...this.transferErrors(token, caller, amount));
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
    errs.push(...this.transferErrors(token, this.cfg.escrow, amount));
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
    const errs = this.transferErrors(token, this.cfg.escrow, amount);
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

  /** Governance's sanction: `suspendGateway` / `reinstateGateway`; the life cycle is untouched. */
  setGatewaySuspended(caller: Addr, gw: Addr, suspend: boolean): Verdict {
    const errs: string[] = [];
    if (caller !== this.cfg.governor) errs.push("AccessControlUnauthorizedAccount");
    const g = this.gateway(gw);
    if (suspend) {
      if (!g || g.status === GW.Exited) errs.push("RegistryGatewayWrongStatus");
      else if (g.suspended) errs.push("RegistryGatewaySuspended");
    } else if (!g || !g.suspended) {
      errs.push("RegistryGatewayNotSuspended");
    }
    if (errs.length > 0) return { ok: false, errors: errs };
    g!.suspended = suspend;
    return { ok: true, logs: [logLine("Registry", suspend ? "GatewaySuspended" : "GatewayReinstated", gw)] };
  }

  /** The gateway's own `requestExit`: Active (suspended or not) → Exiting. */
  requestExit(caller: Addr, t: bigint): Verdict {
    const g = this.gateway(caller);
    if (!g || g.status !== GW.Active) return { ok: false, errors: ["RegistryGatewayWrongStatus"] };
    g.status = GW.Exiting;
    g.exitAt = t + this.cfg.unbondingDelay;
    return { ok: true, logs: [logLine("Registry", "GatewayExitRequested", caller, g.exitAt)] };
  }

  /** The gateway's own `completeExit`: Exiting, not suspended, unbonded, no dispute held; the bond goes back. */
  completeExit(caller: Addr, t: bigint): Verdict {
    const g = this.gateway(caller);
    const errs: string[] = [];
    if (!g || g.status !== GW.Exiting) return { ok: false, errors: ["RegistryGatewayWrongStatus"] };
    if (g.suspended) errs.push("RegistryGatewaySuspended");
    if (t < g.exitAt) errs.push("RegistryUnbonding");
    if (g.openDisputes !== 0n) errs.push("RegistryGatewayHasDisputes");
    // The bond goes back in USDT: a paused token stops the exit (the registry is never blacklisted here).
    if (this.usdtPaused) errs.push("EmptyRevert");
    if (errs.length > 0) return { ok: false, errors: errs };
    const bond = g.bond;
    g.status = GW.Exited;
    g.bond = 0n;
    const logs = [logLine("Registry", "GatewayExited", caller, bond)];
    // The registry pays the bond back in USDT (the registry's own balance is not modelled).
    this.balances.set(key(this.cfg.usdt, caller), this.balanceOf(this.cfg.usdt, caller) + bond);
    logs.push(logLine("USDT", "Transfer", this.cfg.registry, caller, bond));
    return { ok: true, logs };
  }

  setBlacklisted(caller: Addr, account: Addr, listed: boolean): Verdict {
    if (caller !== this.cfg.usdtOwner) return { ok: false, errors: ["EmptyRevert"] };
    if (listed) this.blacklisted.add(account);
    else this.blacklisted.delete(account);
    return { ok: true, logs: [logLine("USDT", listed ? "AddedBlackList" : "RemovedBlackList", account)] };
  }

  setUsdtPaused(caller: Addr, pause: boolean): Verdict {
    if (caller !== this.cfg.usdtOwner || pause === this.usdtPaused) return { ok: false, errors: ["EmptyRevert"] };
    this.usdtPaused = pause;
    return { ok: true, logs: [logLine("USDT", pause ? "Pause" : "Unpause")] };
  }
}
