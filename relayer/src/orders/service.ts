/**
 * Orders: a platform's payment request, matched to an acceptor (matcher.ts), bound to exactly one on-chain deal
 * whose id is fixed before any transaction (dealIdOf(funder, salt)), and moved along with that deal.
 *
 *   buy  (the user pays fiat, receives USDT): an on-ramp lock from the acceptor's float, payer = acceptor, payee =
 *        user. Accepting it is the lock: signed by the acceptor, or — auto-accept — by the relayer's lock delegate
 *        (LOCK_DELEGATE_KEY), which the escrow takes only where the acceptor named that key its lock delegate.
 *   sell (the user pays USDT, receives fiat): an off-ramp deal opened by the user, payer = user, payee = acceptor.
 *        Accepting signs nothing; the user then signs the Open intent on the checkout page.
 *
 * Every write is a compare-and-set on the order's version (store.ts) carrying its order events, so several relayer
 * replicas may run the same service and the sweeper (sweeper.ts) without double moves or double events.
 */
import { randomBytes } from "node:crypto";
import { Wallet, concat, hexlify, keccak256, toUtf8Bytes, type TypedDataField } from "ethers";
import type { RedisClient as Redis } from "../redis";
import {
  DELEGATE_SALT_PREFIX,
  MAX_DELEGATE_LOCK_DURATION,
  dealIdOf,
  typesOf,
  type DealParams,
} from "../../../protocol";
import type { Common } from "../common";
import type { Chain } from "../chain/types";
import type { Store } from "../store/store";
import type { WriteService } from "../write/service";
import { MAX_EXPIRY_SECONDS, type KeyIdentity } from "../write/rules";
import type { ScheduledApi, ScheduledView } from "../disputes/keeper";
import { ApiProblem } from "../api/problems";
import { finalityOf } from "../domain/views";
import {
  BEFORE_FUNDING,
  TERMINAL,
  checkoutView,
  eventTypeOf,
  fiatAmountOf,
  followDeal,
  orderView,
  type DealParamsJson,
  type Order,
  type OrderSide,
  type OrderStatus,
} from "./model";
import { compareNames } from "./names";
import { createSweeper } from "./sweeper";
import { createOrderStore, type OrderEventOf, type StoredOrder } from "./store";

/* ---- the matching side's ports, as pinned (relayer/src/orders/{matcher,desk,reservations,screening}.ts) ---- */
export type ProfileLike = {
  rates: Record<string, string>;
  methods: Record<string, { minAmount: string; maxAmount: string; details: string }>;
  autoAccept: boolean;
  paused: boolean;
};
export type MatcherPort = {
  match(req: {
    side: OrderSide;
    token: string;
    amount: bigint;
    currency: string;
    method: string;
    methodHash: string;
    exclude: string[];
    now: number;
    orderId: string;
    user: string;
    reserveMs: number;
  }): Promise<
    | { ok: true; acceptor: string; rate: string; profile: ProfileLike }
    | { ok: false; reasons: Record<string, number | undefined> }
  >;
};
export type DeskPort = {
  getProfile(acceptor: string): Promise<{ profile?: ProfileLike; lastHeartbeat?: number; online: boolean }>;
  recordOutcome(
    acceptor: string,
    outcome: "assigned" | "completed" | "declined" | "timedOut",
    responseMs?: number,
  ): Promise<void>;
  recordChargeback(acceptor: string, c: { method: string; orderId: string; user: string; at: number }): Promise<void>;
};
export type ReservationsPort = { release(orderId: string): Promise<boolean> };
export type ScreeningPort = {
  screen(
    addresses: string[],
    token: string,
  ): Promise<{ ok: true } | { ok: false; address: string; reason: "deny-list" | "token-blacklist" }>;
};

export type OrdersDeps = {
  common: Common;
  redis: Redis;
  store: Store;
  chain: Chain;
  write: WriteService;
  submitter?: unknown;
  keys: { registerRef(keyId: string, ref: string): Promise<boolean> };
  matcher: MatcherPort;
  desk: DeskPort;
  reservations: ReservationsPort;
  screening: ScreeningPort;
  chainId: number;
  escrow: string;
  /** LOCK_DELEGATE_KEY: the relayer's lock delegate (auto-accept); none: every acceptor accepts by hand. */
  delegateKey?: string;
};

export type CreateOrderInput = {
  side: OrderSide;
  amount: string;
  token: string;
  currency: string;
  method: string;
  user: string;
  reference: string;
  expiresInSeconds?: number;
  /** Buy orders only: the name on the bank account the user pays from. */
  payerName?: string;
};

/** The identity the service acts with on the write side (its own submissions; never an API key's). */
const SERVICE_IDENTITY: KeyIdentity = { id: "orders", scope: "admin", owner: "orders" };
/**
 * How long a buy order's escalation (the user's dispute signed in advance) stays valid beyond the deal's release
 * window: the keeper sends it once the window has passed without a release.
 */
const ESCALATION_SPARE_S = 7 * 86_400;

/** How long one replica holds an order while it moves it. */
const LEASE_MS = 15_000;

const randomHex = (bytes: number) => hexlify(randomBytes(bytes));

export function createOrders(deps: OrdersDeps) {
  const { common, redis, store, write, matcher, desk, reservations, screening, escrow } = deps;
  const { options, logger } = common;
  const base = `${store.keyPrefix}w:o:`;
  const orders = createOrderStore({ redis, base, eventsKey: store.key("events") });
  const delegate = deps.delegateKey ? new Wallet(deps.delegateKey) : undefined;
  const delegateAddress = delegate?.address.toLowerCase();
  const sweepMs = options.orderSweepMs;
  const holder = randomHex(6);

  /** The time the escrow judges by (unix seconds): the chain's when it runs ahead of the wall clock. */
  const chainNow = async () => Math.max(Math.floor(Date.now() / 1000), (await store.getMeta()).time ?? 0);

  const notFound = (id: string) => new ApiProblem("order-not-found", `No order ${id} is visible to this key.`);
  const wrongStatus = (order: Order, what: string) =>
    new ApiProblem("wrong-order-status", `The order is ${order.status}; ${what}.`, {
      members: { orderStatus: order.status },
    });

  async function load(id: string): Promise<StoredOrder> {
    const found = await orders.get(id);
    if (!found) throw notFound(id);
    return found;
  }

  /** The order as `key` may see it: the platform that made it, its acceptor, an admin; 404 for everyone else. */
  async function visible(key: KeyIdentity, id: string): Promise<StoredOrder> {
    const found = await load(id);
    const o = found.order;
    const owner = key.owner.toLowerCase();
    const ok =
      key.scope === "admin" ||
      (key.scope === "platform" && o.platform === owner) ||
      (key.scope === "acceptor" && o.acceptor === owner);
    if (!ok) throw notFound(id);
    return found;
  }

  const step = (o: Order, status: OrderStatus, now: number, note?: string): Order => ({
    ...o,
    status,
    updatedAt: now,
    history: [...o.history, { status, at: now, ...(note ? { note } : {}) }],
  });

  /** Next check of a live order: its accept window or expiry, or the next sweep when it follows a deal. */
  const nextCheck = (o: Order, now: number): number | undefined => {
    if (TERMINAL.has(o.status)) return undefined;
    if (o.status === "assigned") return Math.min(o.acceptBy ?? o.expiresAt, o.expiresAt, now + sweepMs);
    return now + sweepMs;
  };

  async function write1(stored: StoredOrder, next: Order, events: OrderEventOf[], previousAcceptor?: string) {
    const version = await orders.put(next, stored.version, {
      events,
      live: nextCheck(next, next.updatedAt),
      previousAcceptor,
    });
    if (version === undefined) {
      throw new ApiProblem("wrong-order-status", `The order ${next.id} changed meanwhile; read it again.`);
    }
    return { order: next, version };
  }

  const responseMs = (o: Order, now: number) => {
    const assigned = [...o.history].reverse().find((h) => h.status === "assigned");
    return assigned ? Math.max(0, now - assigned.at) : undefined;
  };

  const outcome = (acceptor: string, what: Parameters<DeskPort["recordOutcome"]>[1], ms?: number) =>
    desk.recordOutcome(acceptor, what, ms).catch((error: unknown) => {
      logger.warn({ msg: "order: desk outcome not recorded", acceptor, outcome: what, err: (error as Error).message });
    });

  /** The deal an order is bound to, derived before any transaction (`acc`: the acceptor's projection hash). */
  async function dealFor(
    o: Order,
    acceptor: string,
    acc: Record<string, string> | undefined,
    auto: boolean,
  ): Promise<DealParamsJson> {
    const gateway = acc?.gateway ?? "";
    const [gw] = gateway ? await store.getHashes([`gw:${gateway}`]) : [undefined];
    const delegateLock = auto && o.side === "buy";
    const salt = delegateLock ? hexlify(concat([DELEGATE_SALT_PREFIX, randomBytes(20)])) : randomHex(32);
    let deadline = Math.floor(o.expiresAt / 1000) + options.orderLateGraceS;
    if (delegateLock) deadline = Math.min(deadline, (await chainNow()) + MAX_DELEGATE_LOCK_DURATION);
    const buy = o.side === "buy";
    return {
      payer: buy ? acceptor : o.user,
      payee: buy ? o.user : acceptor,
      gateway,
      token: o.token,
      amount: o.amount,
      deadline,
      releaseWindow: options.orderReleaseWindowS,
      feeBps: Number(gw?.feeBps ?? 0),
      kind: buy ? "onramp" : "offramp",
      autoRelease: false,
      salt,
    };
  }

  const paramsOf = (d: DealParamsJson): DealParams => ({ ...d, amount: BigInt(d.amount) });

  /** Whether the acceptor's locks may be signed by the relayer's lock delegate (profile + on-chain delegate). */
  const autoAccepts = (acc: Record<string, string> | undefined, profile: ProfileLike): boolean =>
    profile.autoAccept && delegateAddress !== undefined && acc?.lockDelegate?.toLowerCase() === delegateAddress;

  /** Assigns `o` to a matched acceptor: its rate, the deal's parameters and id, the accept window. */
  async function assigned(
    o: Order,
    m: { acceptor: string; rate: string; profile: ProfileLike },
    now: number,
    note?: string,
  ): Promise<{ order: Order; auto: boolean }> {
    // One read of the acceptor's on-chain record serves both: its lock delegate and its gateway.
    const [acc] = await store.getHashes([`acc:${m.acceptor}`]);
    const auto = autoAccepts(acc, m.profile);
    const deal = await dealFor(o, m.acceptor, acc, auto);
    const next: Order = {
      ...step(o, "assigned", now, note),
      acceptor: m.acceptor,
      rate: m.rate,
      fiatAmount: fiatAmountOf(o.amount, m.rate),
      deal,
      salt: deal.salt,
      dealId: dealIdOf(deal.payer, deal.salt).toLowerCase(),
      acceptBy: now + options.orderAcceptS * 1000,
    };
    delete next.paymentDetails;
    return { order: next, auto };
  }

  const matchRequest = (o: Order, now: number) => ({
    side: o.side,
    token: o.token,
    amount: BigInt(o.amount),
    currency: o.currency,
    method: o.method,
    methodHash: o.methodHash,
    exclude: o.tried,
    now,
    orderId: o.id,
    user: o.user,
    reserveMs: Math.max(1, o.expiresAt - now) + options.orderReserveGraceMs,
  });

  /* ------------------------------------------------ create ------------------------------------------------ */

  async function create(key: KeyIdentity, input: CreateOrderInput) {
    const now = Date.now();
    const token = input.token.toLowerCase();
    const user = input.user.toLowerCase();
    const currency = input.currency.toUpperCase();
    const method = input.method.includes(":") ? input.method : `${input.method}:${currency}`;
    if (method.split(":")[1] !== currency) {
      throw new ApiProblem("invalid-parameter", `The method ${method} is not paid in ${currency}.`, {
        errors: [{ parameter: "method", in: "body", message: `must be paid in ${currency}` }],
      });
    }
    const payerName = input.payerName?.trim();
    if (payerName !== undefined && input.side !== "buy") {
      throw new ApiProblem("invalid-parameter", "payerName is for buy orders (the user pays fiat to the acceptor).", {
        errors: [{ parameter: "payerName", in: "body", message: "payerName is for buy orders" }],
      });
    }
    const screened = await screening.screen([user], token);
    if (!screened.ok) {
      throw new ApiProblem("address-screened", `The address ${screened.address} may not take part in an order.`, {
        members: { address: screened.address, reason: screened.reason },
      });
    }
    const id = `ord_${randomBytes(12).toString("hex")}`;
    const draft: Order = {
      id,
      side: input.side,
      status: "assigned",
      amount: BigInt(input.amount).toString(),
      token,
      currency,
      method,
      methodHash: keccak256(toUtf8Bytes(method)),
      user,
      reference: input.reference,
      ref: keccak256(toUtf8Bytes(`order:${id}`)),
      platform: key.owner.toLowerCase(),
      platformKeyId: key.id,
      tried: [],
      expiresAt: now + (input.expiresInSeconds ?? options.orderExpiryS) * 1000,
      createdAt: now,
      updatedAt: now,
      ...(payerName ? { payerName } : {}),
      history: [],
    };
    const m = await matcher.match(matchRequest(draft, now));
    if (!m.ok) {
      throw new ApiProblem("no-eligible-acceptor", "No acceptor can take this order now.", {
        members: { reasons: m.reasons },
      });
    }
    if (!(await deps.keys.registerRef(key.id, draft.ref))) {
      await reservations.release(id);
      throw new ApiProblem("ref-taken", `The ref ${draft.ref} is registered by another platform key.`);
    }
    const { order, auto } = await assigned(draft, m, now);
    const version = await orders.put(order, 0, {
      events: [{ type: "order.assigned" }],
      live: nextCheck(order, now),
    });
    if (version === undefined) throw new Error(`order ${id} exists`);
    await outcome(m.acceptor, "assigned");
    if (auto) return orderView(await autoAccept({ order, version }));
    return orderView(order);
  }

  /** Accepts for an auto-accepting acceptor: a sell order signs nothing; a buy order's lock by the delegate. */
  async function autoAccept(stored: StoredOrder): Promise<Order> {
    try {
      return (await acceptWith(stored, undefined)).order;
    } catch (error) {
      // Left assigned: the acceptor may still accept by hand, or the accept window re-matches it.
      logger.warn({ msg: "order: auto-accept failed", orderId: stored.order.id, err: (error as Error).message });
      return stored.order;
    }
  }

  /** Sends the buy order's lock (signed by the acceptor, or by the delegate when `auth` is absent). */
  async function sendLock(o: Order, key: KeyIdentity, auth: { signature: string; expiry: bigint } | undefined) {
    const deal = paramsOf(o.deal!);
    if (auth) {
      return write.openIntent(key, { type: "lock", deal, ref: o.ref, signer: o.acceptor, ...auth });
    }
    if (!delegate) throw new ApiProblem("lock-delegate-missing", "This relayer has no lock delegate key.");
    const { typedData, expiry } = await write.intentTypedData("lock", deal, o.ref, undefined);
    const types = typesOf("Lock") as Record<string, TypedDataField[]>;
    const signature = await delegate.signTypedData(typedData.domain, types, typedData.message);
    return write.openIntent(SERVICE_IDENTITY, {
      type: "lock",
      deal,
      ref: o.ref,
      signer: delegateAddress,
      expiry: BigInt(expiry),
      signature,
    });
  }

  async function acceptWith(
    stored: StoredOrder,
    manual: { key: KeyIdentity; auth?: { signature: string; expiry: bigint } } | undefined,
  ) {
    const o = stored.order;
    const now = Date.now();
    if (o.side === "buy") {
      if (manual && !manual.auth) {
        throw new ApiProblem("invalid-parameter", "A buy order is accepted with the acceptor's signed Lock.", {
          errors: [{ parameter: "signature", in: "body", message: "required for a buy order" }],
        });
      }
      await sendLock(o, manual?.key ?? SERVICE_IDENTITY, manual?.auth);
    }
    const profile = (await desk.getProfile(o.acceptor!)).profile;
    const details = profile?.methods[o.method]?.details;
    const next: Order = { ...step(o, "accepted", now), ...(details ? { paymentDetails: details } : {}) };
    return write1(stored, next, [{ type: "order.accepted" }]);
  }

  /* ------------------------------------------- acceptor's moves ------------------------------------------- */

  async function assignedTo(key: KeyIdentity, id: string): Promise<StoredOrder> {
    const stored = await load(id);
    const o = stored.order;
    if (key.scope !== "admin" && o.acceptor !== key.owner.toLowerCase()) throw notFound(id);
    if (o.status !== "assigned") throw wrongStatus(o, "only an assigned order is accepted or declined");
    if (Date.now() > (o.acceptBy ?? 0)) {
      throw new ApiProblem("accept-window-passed", `The accept window of ${id} has passed; it is being re-matched.`);
    }
    return stored;
  }

  async function accept(key: KeyIdentity, id: string, body: { signature?: string; expiry?: string | bigint }) {
    const stored = await assignedTo(key, id);
    const auth =
      body.signature !== undefined && body.expiry !== undefined
        ? { signature: body.signature, expiry: BigInt(body.expiry) }
        : undefined;
    const { order } = await acceptWith(stored, { key, auth });
    return orderView(order);
  }

  async function lockTypedData(key: KeyIdentity, id: string) {
    const stored = await assignedTo(key, id);
    const o = stored.order;
    if (o.side !== "buy") throw wrongStatus(o, "a sell order has no lock to sign");
    return write.intentTypedData("lock", paramsOf(o.deal!), o.ref, o.acceptor);
  }

  /**
   * Moves an order on from its acceptor (declined, or its accept window passed): to the next eligible acceptor,
   * or to unmatched when none is left. The reservation is released first.
   */
  async function rematch(stored: StoredOrder, why: "declined" | "timed out", note?: string) {
    const o = stored.order;
    const now = Date.now();
    const previous = o.acceptor!;
    await reservations.release(o.id);
    const tried = [...new Set([...o.tried, previous])];
    const base1: Order = { ...o, tried };
    const events: OrderEventOf[] =
      why === "declined" ? [{ type: "order.declined", status: "assigned", acceptor: previous }] : [];
    const m = await matcher.match(matchRequest(base1, now));
    if (!m.ok) {
      const next: Order = { ...step(base1, "unmatched", now, note ?? why), acceptBy: undefined };
      return { ...(await write1(stored, next, [...events, { type: "order.unmatched" }], previous)), auto: false };
    }
    const { order, auto } = await assigned(base1, m, now, note ?? `re-matched: ${previous} ${why}`);
    const written = await write1(stored, order, [...events, { type: "order.assigned" }], previous);
    await outcome(m.acceptor, "assigned");
    return { ...written, auto };
  }

  async function decline(key: KeyIdentity, id: string, reason?: string) {
    const stored = await assignedTo(key, id);
    const now = Date.now();
    await outcome(stored.order.acceptor!, "declined", responseMs(stored.order, now));
    const moved = await rematch(stored, "declined", reason ? `declined: ${reason}` : undefined);
    if (moved.auto) return orderView(await autoAccept(moved));
    return orderView(moved.order);
  }

  /* ------------------------------------------- fraud signals ------------------------------------------- */

  /** The key's acceptor's own buy order (admin: any buy order); 404 for other acceptors' orders. */
  async function ownBuyOrder(key: KeyIdentity, id: string, what: string): Promise<StoredOrder> {
    const stored = await load(id);
    const o = stored.order;
    if (key.scope !== "admin" && o.acceptor !== key.owner.toLowerCase()) throw notFound(id);
    if (o.side !== "buy") throw wrongStatus(o, `${what} is for buy orders (the user pays fiat to the acceptor)`);
    return stored;
  }

  /**
   * The acceptor enters the name on the incoming transfer of its buy order (before the order is final): stored with
   * its comparison with the declared payer name. It does not block a release; the order view says it.
   */
  async function transferName(key: KeyIdentity, id: string, name: string) {
    const stored = await ownBuyOrder(key, id, "the transfer's name");
    const o = stored.order;
    if (TERMINAL.has(o.status)) throw wrongStatus(o, "the transfer's name is entered before the order is final");
    const next: Order = { ...o, transferName: name, nameCheck: compareNames(o.payerName, name), updatedAt: Date.now() };
    return orderView((await write1(stored, next, [])).order);
  }

  /**
   * The acceptor flags its released buy order as charged back (the fiat it received was reversed): once, with the
   * event `order.chargeback`; a second flag answers the same. It counts against the method's `maxChargebacks` for
   * 30 days and blocks the order's user from the acceptor's buy orders.
   */
  async function chargeback(key: KeyIdentity, id: string, reason?: string) {
    const stored = await ownBuyOrder(key, id, "a chargeback");
    const o = stored.order;
    if (o.chargeback) return orderView(o);
    if (o.status !== "released") throw wrongStatus(o, "only a released order can be charged back");
    const now = Date.now();
    // The desk first (idempotent per order): a retry after a failed order write counts it once.
    await desk.recordChargeback(o.acceptor!, { method: o.method, orderId: o.id, user: o.user, at: now });
    const next: Order = { ...o, chargeback: { at: now, ...(reason ? { reason } : {}) }, updatedAt: now };
    return orderView((await write1(stored, next, [{ type: "order.chargeback" }])).order);
  }

  /* ------------------------------------------------ platform ------------------------------------------------ */

  async function cancel(key: KeyIdentity, id: string) {
    const stored = await visible(key, id);
    const o = stored.order;
    if (key.scope === "acceptor") throw new ApiProblem("forbidden", "Only the platform cancels its order.");
    if (!BEFORE_FUNDING.has(o.status)) throw wrongStatus(o, "only an order not yet funded can be cancelled");
    await reservations.release(o.id);
    const { order } = await write1(stored, step(o, "cancelled", Date.now()), [{ type: "order.cancelled" }]);
    return orderView(order);
  }

  async function get(key: KeyIdentity, id: string) {
    return orderView((await visible(key, id)).order);
  }

  /** A page of the key's orders (a platform's own; an acceptor's assigned ones), newest first. */
  async function list(
    key: KeyIdentity,
    index: "plat" | "accq",
    q: { status?: OrderStatus; limit: number; after?: { score: number; id: string } },
  ) {
    const entries = await orders.page(index, key.owner.toLowerCase(), q.limit * 5, q.after);
    const data: ReturnType<typeof orderView>[] = [];
    let last: { score: number; id: string } | undefined;
    for (const e of entries) {
      if (data.length >= q.limit) break;
      last = e;
      const found = await orders.get(e.id);
      if (!found) continue;
      if (index === "accq" && found.order.acceptor !== key.owner.toLowerCase()) continue;
      if (q.status !== undefined && found.order.status !== q.status) continue;
      data.push(orderView(found.order));
    }
    // More: entries read but not examined, or a full read (the index may hold more beyond it).
    const more = last !== undefined && (entries.indexOf(last) < entries.length - 1 || entries.length >= q.limit * 5);
    return { data, next: more ? last : undefined };
  }

  /* ------------------------------------------------ checkout ------------------------------------------------ */

  async function dealOf(o: Order) {
    if (!o.dealId) return undefined;
    const [found, meta] = await Promise.all([store.getDeal(o.dealId), store.getMeta()]);
    if (!found) return undefined;
    const head = Math.max(meta.head ?? 0, meta.block ?? 0);
    const finality = finalityOf(Number(found.deal.updatedBlock), {
      head,
      confirmations: options.confirmations,
    });
    return { deal: found.deal, history: found.history, finality };
  }

  /** The keeper's held actions (absent when the keeper is off: escalations answer 503). */
  let scheduler: Pick<ScheduledApi, "hold" | "held"> | undefined;

  async function checkout(id: string) {
    const { order } = await load(id);
    const d = await dealOf(order);
    const approval =
      order.side === "sell" && order.status === "accepted" && !d
        ? { token: order.token, spender: escrow.toLowerCase(), amount: order.amount }
        : undefined;
    const escalation = await escalationOf(order);
    return checkoutView(order, d ? { status: d.deal.status, finality: d.finality } : null, approval, escalation);
  }

  /** The user's escalation held by the keeper (a buy order's dispute signed in advance), or null. */
  async function escalationOf(o: Order): Promise<Pick<ScheduledView, "state" | "dueAt"> | null> {
    if (o.side !== "buy" || !o.dealId || !scheduler) return null;
    const item = (await scheduler.held(o.dealId)).find((i) => i.action === "dispute" && i.signer === o.user);
    return item ? { state: item.state, dueAt: item.dueAt } : null;
  }

  /** A buy order the user has paid: its deal performed (the acceptor's release window runs). */
  function requireEscalable(o: Order) {
    if (o.side !== "buy" || !o.dealId || o.status !== "paid") {
      throw wrongStatus(o, "only a paid buy order is escalated (the user paid; the acceptor's release is awaited)");
    }
    return o.dealId;
  }

  async function checkoutTypedData(id: string, action: "open" | "performed" | "release" | "dispute" | "escalate") {
    const { order: o } = await load(id);
    if (action === "open") {
      if (o.side !== "sell" || o.status !== "accepted") throw wrongStatus(o, "only an accepted sell order is opened");
      return write.intentTypedData("open", paramsOf(o.deal!), o.ref, o.user);
    }
    if (action === "escalate") {
      // The user's Dispute, valid well past the release window: the keeper sends it when the window has passed.
      const dealId = requireEscalable(o);
      const window = o.deal?.releaseWindow ?? 0;
      return write.confirmationTypedData(
        dealId,
        "dispute",
        o.user,
        Math.min(MAX_EXPIRY_SECONDS, window + ESCALATION_SPARE_S),
      );
    }
    if (!o.dealId || BEFORE_FUNDING.has(o.status)) throw wrongStatus(o, "its deal is not open yet");
    return write.confirmationTypedData(o.dealId, action, o.user);
  }

  /**
   * The user's escalation of a paid buy order: its signed Dispute, held by the keeper and sent once the acceptor's
   * release window has passed without a release (the escrow lets the payee dispute only then). Sends nothing now.
   */
  async function checkoutEscalate(id: string, body: { signature: string; expiry: bigint }) {
    const { order: o } = await load(id);
    const dealId = requireEscalable(o);
    if (!scheduler) {
      throw new ApiProblem("unavailable", "This relayer's keeper is off (KEEPER=off): it holds no escalation.");
    }
    const identity: KeyIdentity = { id: "checkout", scope: "admin", owner: o.user };
    const request = { action: "dispute" as const, signer: o.user, signature: body.signature, expiry: body.expiry };
    return scheduler.hold(identity, dealId, request);
  }

  async function checkoutOpen(id: string, body: { signature: string; expiry: string | bigint }) {
    const { order: o } = await load(id);
    if (o.side !== "sell" || o.status !== "accepted") throw wrongStatus(o, "only an accepted sell order is opened");
    if (Date.now() > o.expiresAt) throw wrongStatus(o, "the order has expired");
    const result = await write.openIntent(SERVICE_IDENTITY, {
      type: "open",
      deal: paramsOf(o.deal!),
      ref: o.ref,
      expiry: BigInt(body.expiry),
      signature: body.signature,
    });
    return result;
  }

  async function checkoutConfirm(
    id: string,
    body: { action: "performed" | "release" | "cancel" | "dispute"; signer: string; signature: string; expiry: bigint },
  ) {
    const { order: o } = await load(id);
    if (body.signer.toLowerCase() !== o.user) {
      throw new ApiProblem("wrong-signer", `Only the order's user ${o.user} confirms on the checkout.`);
    }
    if (!o.dealId || BEFORE_FUNDING.has(o.status) || o.status === "cancelled" || o.status === "unmatched") {
      throw wrongStatus(o, "its deal is not open");
    }
    // A release is screened again by the write side (screenPayout, wired as its beforePayout).
    return write.confirm(SERVICE_IDENTITY, o.dealId, body);
  }

  /**
   * Screens an order's user and acceptor again before its deal pays out (a release or a split, by any route: the
   * checkout, the acceptor's confirmation, a platform's). A deal bound to no order passes.
   */
  async function screenPayout(dealId: string): Promise<void> {
    const id = await orders.orderOfDeal(dealId.toLowerCase());
    const stored = id === undefined ? undefined : await orders.get(id);
    if (!stored?.order.acceptor) return;
    const o = stored.order;
    const screened = await screening.screen([o.user, o.acceptor!], o.token);
    if (!screened.ok) {
      throw new ApiProblem("address-screened", `The address ${screened.address} may not be paid now.`, {
        members: { address: screened.address, reason: screened.reason },
      });
    }
  }

  /* ------------------------------------------- the sweeper's step ------------------------------------------- */

  /** Checks one due order: its deal (final) first, then its clocks. Returns what it did (for tests and logs). */
  async function advance(id: string): Promise<string> {
    if (!(await orders.lease(id, holder, LEASE_MS))) return "leased";
    try {
      const stored = await orders.get(id);
      if (!stored) {
        await redis.zrem(orders.keys.liveKey, id);
        return "gone";
      }
      return await advanceStored(stored);
    } finally {
      await orders.unlease(id);
    }
  }

  async function advanceStored(stored: StoredOrder): Promise<string> {
    const o = stored.order;
    const now = Date.now();
    if (TERMINAL.has(o.status)) {
      await redis.zrem(orders.keys.liveKey, o.id);
      return "terminal";
    }
    const d = BEFORE_FUNDING.has(o.status) && o.status === "assigned" && !o.acceptor ? undefined : await dealOf(o);
    if (d && d.finality === "final") {
      const last = d.history[d.history.length - 1];
      const changedAt = last?.timestamp !== undefined ? Number(last.timestamp) * 1000 : now;
      const move = followDeal(o, d.deal.status, changedAt);
      if (move) {
        const next: Order = { ...step(o, move.to, now), ...(move.late ? { late: true } : {}) };
        if (BEFORE_FUNDING.has(o.status)) await reservations.release(o.id);
        await write1(stored, next, [{ type: eventTypeOf(move.to, move.late) }]);
        if (move.to === "released" && o.acceptor) {
          const accepted = o.history.find((h) => h.status === "accepted");
          const ms = accepted
            ? responseMs({ ...o, history: o.history.slice(0, o.history.indexOf(accepted)) }, accepted.at)
            : undefined;
          await outcome(o.acceptor, "completed", ms);
        }
        return move.to;
      }
    }
    if (BEFORE_FUNDING.has(o.status) && now > o.expiresAt && !d) {
      await reservations.release(o.id);
      await write1(stored, step(o, "expired", now, "not funded in time"), [{ type: "order.expired" }]);
      return "expired";
    }
    if (o.status === "assigned" && now > (o.acceptBy ?? Infinity) && !d) {
      await outcome(o.acceptor!, "timedOut");
      const moved = await rematch(stored, "timed out");
      if (moved.auto) await autoAccept(moved);
      return moved.order.status === "unmatched" ? "unmatched" : "re-matched";
    }
    if (o.side === "buy" && o.status === "funded" && now > o.expiresAt) {
      await write1(stored, step(o, "expired", now, "the buyer did not pay in time"), [{ type: "order.expired" }]);
      return "expired";
    }
    if (o.status === "expired") {
      // Followed until its deal ends; one never opened is dropped once its deadline has passed.
      const deadlineMs = (o.deal?.deadline ?? 0) * 1000;
      if (!d && now > deadlineMs + 60_000) {
        await redis.zrem(orders.keys.liveKey, o.id);
        return "dropped";
      }
    }
    await redis.zadd(orders.keys.liveKey, "XX", nextCheck(o, now) ?? now + sweepMs, o.id);
    return "waiting";
  }

  const api = {
    create,
    get,
    list,
    cancel,
    accept,
    decline,
    lockTypedData,
    transferName,
    chargeback,
    checkout,
    checkoutTypedData,
    checkoutOpen,
    checkoutConfirm,
    checkoutEscalate,
  };
  const sweeper = createSweeper({
    due: (now, limit) => orders.due(now, limit),
    advance,
    intervalMs: sweepMs,
    logger,
  });
  return {
    api,
    orders,
    advance,
    screenPayout,
    /** Lets the checkout hold escalations with the keeper (created after the orders). */
    useScheduler: (s: Pick<ScheduledApi, "hold" | "held">) => (scheduler = s),
    start: () => sweeper.start(),
    stop: () => sweeper.stop(),
  };
}
export type Orders = ReturnType<typeof createOrders>;
export type OrdersApi = Orders["api"];
