/**
 * The gateway's dispute desk: its queue of disputes (sorted by time left in the resolution window, with both
 * parties' history), its rulings (typed data of a Resolution whose `reasons` is the hash of the written reasons,
 * checked and queued through the write side's submitter), the ruling of a resolved deal with its reasons' text, and
 * the sweeper that alerts a gateway once (across replicas) when a dispute it holds nears the end of its window.
 *
 * Keys (under the store's prefix, the escrow's hash tag):
 *   w:d:rul:<dealId>     hash    reasons hash → the reasons' text (every text signed through this relayer)
 *   w:d:alert:<dealId>   string  "1" once the window-closing alert was written (SET NX: one alert across replicas)
 * It reads the projection (ix:status:disputed, ix:party:<address>, deal:, hist:, gw:) and the orders' ix:deal:<dealId>.
 */
import { Counter, Gauge } from "prom-client";
import type { RedisClient as Redis } from "../redis";
import { digestOf, escrowDomain, reasonsHash, resolutionWindowEnd, typedDataOf } from "../../../protocol";
import type { Common } from "../common";
import type { Chain } from "../chain/types";
import type { DealPage, Store } from "../store/store";
import type { Hash } from "../domain/projection";
import { dealView, type DealView, type Progress } from "../domain/views";
import { ApiProblem } from "../api/problems";
import { authorize, SUGGESTED_EXPIRY_SECONDS, type KeyIdentity } from "../write/rules";
import { dealStructOf, encode } from "../write/calls";
import type { WriteService } from "../write/service";
import { withDeadline, REDIS_TIMEOUT_MS } from "../deadline";
import { disputeEventValue } from "../events/disputes";
import { createArbiters } from "./arbiters";

/** Deals read per party for its history (the latest ones). */
export const PARTY_HISTORY_DEALS = 200;
/** Disputed deals read per page of the disputed index (the queue and the sweeper read it whole, by pages). */
const DISPUTED_PAGE = 500;
/** Most disputed deals the queue and the sweeper look at. */
const DISPUTED_MAX = 10_000;
/** Longest written reasons of a ruling (characters). */
export const REASONS_MAX_CHARS = 10_000;

/** A party's record, from its latest {@link PARTY_HISTORY_DEALS} deals in the projection. */
export type PartyStats = {
  address: string;
  /** Deals read (at most PARTY_HISTORY_DEALS, the latest). */
  deals: number;
  asPayer: number;
  asPayee: number;
  released: number;
  refunded: number;
  split: number;
  resolved: number;
  /** Deals that went through a dispute (disputed now or before). */
  disputed: number;
  /** Final deals (released, refunded, split or resolved) that ended released or split ÷ final deals; null: none. */
  completionRate: number | null;
  /** Whether the party has more deals than were read. */
  truncated: boolean;
};

export type DisputeItem = {
  dealId: string;
  deal: Omit<DealView, "history"> | DealView;
  /** Whether the gateway holds the dispute (DealDisputed `held`); if not, it is the arbiter's to rule. */
  heldByGateway: boolean;
  ruler: "gateway" | "arbiter";
  windowEndsAt: number;
  secondsLeft: number;
  orderId: string | null;
  parties: { payer: PartyStats; payee: PartyStats };
};

export type RulingRequest = { payeeAmount: bigint; reasons: string; signer: string; signature: string; expiry: bigint };

export type GatewayDeskDeps = {
  common: Common;
  redis: Redis;
  store: Store;
  chain: Chain;
  chainId: number;
  escrow: string;
  registry: string;
  resolutionWindow: number;
  /** The write side (absent: rulings answer 503). */
  write?: WriteService;
  /** Who registered a ref (platform keys may read a ruling of their deals). */
  refs: { refOwner(ref: string): Promise<string | undefined> };
  /** The time the escrow judges by (unix s). */
  now?: () => Promise<number>;
};

const deadline = <T>(p: Promise<T>, what: string) => withDeadline(p, REDIS_TIMEOUT_MS, what);

/** The gateway's stats of a party from its deals (pure). */
export function partyStats(address: string, deals: Hash[], truncated: boolean): PartyStats {
  const s: PartyStats = {
    address,
    deals: deals.length,
    asPayer: 0,
    asPayee: 0,
    released: 0,
    refunded: 0,
    split: 0,
    resolved: 0,
    disputed: 0,
    completionRate: null,
    truncated,
  };
  for (const d of deals) {
    if (d.payer === address) s.asPayer++;
    if (d.payee === address) s.asPayee++;
    if (d.status === "released") s.released++;
    else if (d.status === "refunded") s.refunded++;
    else if (d.status === "split") s.split++;
    else if (d.status === "resolved") s.resolved++;
    if (d.disputedAt !== undefined) s.disputed++;
  }
  const final = s.released + s.refunded + s.split + s.resolved;
  s.completionRate = final === 0 ? null : (s.released + s.split) / final;
  return s;
}

export function createGatewayDesk(deps: GatewayDeskDeps) {
  const { common, redis, store, chain, chainId, escrow, registry, resolutionWindow, write } = deps;
  const { options, logger } = common;
  const base = `${store.keyPrefix}w:d:`;
  const rulingKey = (dealId: string) => `${base}rul:${dealId}`;
  const alertKey = (dealId: string) => `${base}alert:${dealId}`;
  const orderKey = (dealId: string) => `${store.keyPrefix}w:o:ix:deal:${dealId}`;
  /**
   * The time the escrow judges windows by: the indexed chain's (the projection records each indexed block's time),
   * never before the wall clock (a test chain, or a skewed host clock, may run ahead of it).
   */
  const clock = deps.now ?? (async () => Math.max(Math.floor(Date.now() / 1000), (await store.getMeta()).time ?? 0));
  const domain = escrowDomain(chainId, escrow);
  const { isArbiter } = createArbiters({ chain, registry });

  const metricOf = <M>(name: string, make: () => M): M =>
    (common.metrics.registry.getSingleMetric(name) as M | undefined) ?? make();
  const closingGauge = metricOf(
    "escrow_disputes_window_closing",
    () =>
      new Gauge({
        name: "escrow_disputes_window_closing",
        help: "Disputes held by their gateway whose resolution window ends within DISPUTE_ALERT_S (this process's last sweep)",
        registers: [common.metrics.registry],
      }),
  );
  const alertsCounter = metricOf(
    "escrow_dispute_alerts_total",
    () =>
      new Counter({
        name: "escrow_dispute_alerts_total",
        help: "Window-closing alerts this process wrote (each dispute is alerted once across replicas)",
        registers: [common.metrics.registry],
      }),
  );

  async function progress(): Promise<Progress> {
    const [m, now] = await Promise.all([store.getMeta(), clock()]);
    return { head: Math.max(m.head ?? 0, m.block ?? 0), confirmations: options.confirmations, now };
  }

  /** Every disputed deal (of `gateway` when given), read by pages of the disputed index. */
  async function disputedDeals(gateway: string | undefined) {
    const out: DealPage["deals"] = [];
    const gateways = new Map<string, Hash | undefined>();
    let after: { score: number; id: string } | undefined;
    for (let read = 0; read < DISPUTED_MAX; read += DISPUTED_PAGE) {
      const page = await store.readDealPage({
        index: "ix:status:disputed",
        limit: DISPUTED_PAGE,
        budget: DISPUTED_PAGE,
        after,
        status: "disputed",
      });
      for (const [g, h] of page.gateways) gateways.set(g, h);
      for (const d of page.deals) if (gateway === undefined || d.deal.gateway === gateway) out.push(d);
      if (!page.next) break;
      after = { score: page.next.score, id: `${page.next.id}\u0000` };
    }
    return { deals: out, gateways };
  }

  const statsCache = () => {
    const cache = new Map<string, Promise<PartyStats>>();
    return (address: string) => {
      let p = cache.get(address);
      if (!p) {
        p = store
          .readDealPage({
            index: `ix:party:${address}`,
            limit: PARTY_HISTORY_DEALS,
            budget: PARTY_HISTORY_DEALS,
          })
          .then((page) =>
            partyStats(
              address,
              page.deals.map((d) => d.deal),
              page.next !== undefined,
            ),
          );
        cache.set(address, p);
      }
      return p;
    };
  };

  async function itemOf(
    id: string,
    deal: Hash,
    history: Parameters<typeof dealView>[2],
    gateway: Hash | undefined,
    prog: Progress,
    statsOf: (a: string) => Promise<PartyStats>,
    withHistory: boolean,
  ): Promise<DisputeItem> {
    const view = dealView(id, deal, history, prog, { resolutionWindow, gateway, chainId });
    const windowEndsAt = resolutionWindowEnd(Number(deal.disputedAt ?? 0), resolutionWindow);
    const [orderId, payer, payee] = await Promise.all([
      deadline(redis.get(orderKey(id)), "order of a deal"),
      statsOf(deal.payer),
      statsOf(deal.payee),
    ]);
    const { history: _h, ...light } = view;
    return {
      dealId: id,
      deal: withHistory ? view : light,
      heldByGateway: deal.gatewayHolds === "1",
      ruler: view.disputeRuler ?? "arbiter",
      windowEndsAt,
      secondsLeft: Math.max(0, windowEndsAt - prog.now),
      orderId,
      parties: { payer, payee },
    };
  }

  /** The gateway a key works the queue of: its own (a registered gateway), or any (admin, `asked` or all). */
  async function gatewayOfKey(key: KeyIdentity, asked: string | undefined): Promise<string | undefined> {
    if (key.scope === "admin") return asked?.toLowerCase();
    const owner = key.owner.toLowerCase();
    const [gw] = await store.getHashes([`gw:${owner}`]);
    if (key.scope !== "gateway" || !gw) {
      throw new ApiProblem("forbidden", `The dispute queue needs the key of a registered gateway; ${owner} is none.`);
    }
    if (asked !== undefined && asked.toLowerCase() !== owner) {
      throw new ApiProblem("forbidden", "A gateway key reads its own dispute queue only.");
    }
    return owner;
  }

  /** The queue: the gateway's disputes, least time left first; a page of `limit` after the cursor (an offset). */
  async function queue(key: KeyIdentity, q: { gateway?: string; limit: number; offset: number }) {
    const gateway = await gatewayOfKey(key, q.gateway);
    const [{ deals, gateways }, prog] = await Promise.all([disputedDeals(gateway), progress()]);
    const sorted = deals
      .map((d) => ({ d, ends: resolutionWindowEnd(Number(d.deal.disputedAt ?? 0), resolutionWindow) }))
      .sort((a, b) => a.ends - b.ends || (a.d.id < b.d.id ? -1 : 1));
    const page = sorted.slice(q.offset, q.offset + q.limit);
    const statsOf = statsCache();
    const data = await Promise.all(
      page.map(({ d }) => itemOf(d.id, d.deal, d.history, gateways.get(d.deal.gateway), prog, statsOf, false)),
    );
    const next = q.offset + q.limit < sorted.length ? q.offset + q.limit : null;
    return { gateway: gateway ?? null, alertSeconds: options.disputeAlertS, data, total: sorted.length, next };
  }

  /** One dispute of the gateway's queue, with the deal's history. */
  async function dispute(key: KeyIdentity, dealId: string): Promise<DisputeItem> {
    const gateway = await gatewayOfKey(key, undefined);
    const found = await store.getDeal(dealId);
    if (!found) throw new ApiProblem("deal-not-found", `No deal ${dealId} has been indexed.`);
    if (gateway !== undefined && found.deal.gateway !== gateway) {
      throw new ApiProblem("forbidden", `The deal ${dealId} is not one of this gateway's.`);
    }
    if (found.deal.status !== "disputed") {
      throw new ApiProblem("wrong-status", `The deal ${dealId} is ${found.deal.status}, not disputed.`);
    }
    const [[gw], prog] = await Promise.all([store.getHashes([`gw:${found.deal.gateway}`]), progress()]);
    return itemOf(dealId, found.deal, found.history, gw, prog, statsCache(), true);
  }

  /** The disputed deal a ruling is about, with the checks every ruling route makes. */
  async function rulingDeal(dealId: string, payeeAmount: bigint) {
    const found = await store.getDeal(dealId);
    if (!found) throw new ApiProblem("deal-not-found", `No deal ${dealId} has been indexed.`);
    const { deal } = found;
    if (deal.status !== "disputed") {
      throw new ApiProblem("wrong-status", `The deal ${dealId} is ${deal.status}: only a disputed deal is ruled.`);
    }
    if (payeeAmount > BigInt(deal.amount)) {
      throw new ApiProblem("split-amount-too-high", `payeeAmount ${payeeAmount} exceeds the deal's ${deal.amount}.`);
    }
    return deal;
  }

  /** Whether `address` may rule the deal: its gateway, or an arbiter (the escrow judges the window). */
  async function mayRule(deal: Hash, address: string): Promise<boolean> {
    return address === deal.gateway || (await isArbiter(address));
  }

  /** Keys that may ask for and send rulings: admin, or a gateway (or party-less) key whose owner may rule. */
  async function requireRulerKey(key: KeyIdentity, deal: Hash, dealId: string) {
    if (key.scope === "admin") return;
    if (key.scope === "gateway" && (await mayRule(deal, key.owner.toLowerCase()))) return;
    throw new ApiProblem(
      "forbidden",
      `Rulings of ${dealId} need the key of its gateway (scope gateway) or of an arbiter, or an admin key.`,
    );
  }

  async function rulingTypedData(
    key: KeyIdentity,
    dealId: string,
    r: { payeeAmount: bigint; reasons: string; signer?: string },
  ) {
    const deal = await rulingDeal(dealId, r.payeeAmount);
    await requireRulerKey(key, deal, dealId);
    if (r.signer !== undefined && !(await mayRule(deal, r.signer.toLowerCase()))) {
      throw new ApiProblem("wrong-signer", `${r.signer} is neither the deal's gateway nor an arbiter.`);
    }
    const hash = reasonsHash(r.reasons);
    const expiry = BigInt((await (write?.signedCalls.now ?? clock)()) + SUGGESTED_EXPIRY_SECONDS);
    const message = { dealId, payeeAmount: r.payeeAmount, reasons: hash, expiry };
    return {
      typedData: typedDataOf(chainId, escrow, "Resolution", message),
      expiry: String(expiry),
      reasonsHash: hash,
    };
  }

  /** A signed ruling: checked, its reasons kept, simulated and queued (kind "ruling"). */
  async function rule(key: KeyIdentity, dealId: string, r: RulingRequest) {
    if (!write) throw new ApiProblem("unavailable", "This relayer runs without its write side: rulings are off.");
    const deal = await rulingDeal(dealId, r.payeeAmount);
    await requireRulerKey(key, deal, dealId);
    const signer = r.signer.toLowerCase();
    if (!(await mayRule(deal, signer))) {
      throw new ApiProblem("wrong-signer", `${signer} is neither the deal's gateway nor an arbiter.`);
    }
    const now = await write.signedCalls.now();
    if (r.expiry < BigInt(now)) {
      throw new ApiProblem("signature-expired", `The ruling's signature expired at ${r.expiry} (now ${now}).`);
    }
    const hash = reasonsHash(r.reasons);
    const digest = digestOf(domain, "Resolution", {
      dealId,
      payeeAmount: r.payeeAmount,
      reasons: hash,
      expiry: r.expiry,
    });
    const { signature, deploy } = await write.signedCalls.verify(signer, digest, r.signature);
    const call = {
      to: escrow,
      data: encode.resolveWithSig(dealStructOf(deal), r.payeeAmount, hash, signer, { expiry: r.expiry, signature }),
    };
    // Kept before it is sent: whoever reads the ruling once it lands finds its text.
    await deadline(redis.hset(rulingKey(dealId), hash, r.reasons), "ruling reasons");
    const submission = await write.signedCalls.submit(key.id, dealId, "ruling", call, deploy, signer);
    return { dealId, payeeAmount: r.payeeAmount.toString(), reasonsHash: hash, submission };
  }

  /** The ruling of a resolved deal: amounts, the reasons' text when this relayer kept it, who ruled, the tx. */
  async function ruling(key: KeyIdentity, dealId: string) {
    const found = await store.getDeal(dealId);
    if (!found) throw new ApiProblem("deal-not-found", `No deal ${dealId} has been indexed.`);
    const { deal, history } = found;
    const refOwner = key.scope === "platform" ? await deps.refs.refOwner(`0x${deal.ref ?? ""}`) : undefined;
    const refusal = authorize(key, { payer: deal.payer, payee: deal.payee, gateway: deal.gateway }, refOwner);
    if (refusal) throw new ApiProblem(refusal.kind, refusal.detail);
    if (deal.status !== "resolved") {
      throw new ApiProblem("wrong-status", `The deal ${dealId} is ${deal.status}: it has no ruling (yet).`);
    }
    const hash = `0x${deal.reasons ?? "0".repeat(64)}`;
    const text = await deadline(redis.hget(rulingKey(dealId), hash), "ruling reasons");
    const entry = [...history].reverse().find((h) => h.event === "DealResolved");
    return {
      dealId,
      payeeAmount: (BigInt(deal.payeeAmount ?? "0") + BigInt(deal.fee ?? "0")).toString(),
      payeeNet: deal.payeeAmount ?? "0",
      fee: deal.fee ?? "0",
      refund: deal.refund ?? "0",
      reasons: text,
      reasonsHash: hash,
      ruledBy: deal.resolvedBy ?? null,
      txHash: entry?.txHash ?? null,
    };
  }

  /* ------------------------------------------------ the alert ------------------------------------------------ */

  /**
   * Marks a dispute alerted and writes its event, or nothing when it was alerted already (by any replica).
   * KEYS: 1 the alert mark, 2 the event stream. ARGV: 1 the mark's TTL s, 2 the event's stream value.
   */
  const ALERT_SCRIPT = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[2])
return 1`;

  /** One sweep: every held dispute whose window ends within DISPUTE_ALERT_S is alerted once. Returns those alerted. */
  async function sweep(): Promise<string[]> {
    const [{ deals }, now] = await Promise.all([disputedDeals(undefined), clock()]);
    const closing = deals.filter((d) => {
      const left = resolutionWindowEnd(Number(d.deal.disputedAt ?? 0), resolutionWindow) - now;
      return d.deal.gatewayHolds === "1" && left >= 0 && left <= options.disputeAlertS;
    });
    closingGauge.set(closing.length);
    const alerted: string[] = [];
    for (const d of closing) {
      const windowEndsAt = resolutionWindowEnd(Number(d.deal.disputedAt), resolutionWindow);
      const secondsLeft = windowEndsAt - now;
      const value = disputeEventValue({
        type: "dispute.window_closing",
        dealId: d.id,
        gateway: d.deal.gateway,
        windowEndsAt,
        secondsLeft,
        at: Date.now(),
      });
      // Kept past the window (and a day more): the deal is ruled or overdue by then, never alerted again.
      const ttl = secondsLeft + 86_400;
      const wrote = await deadline(
        redis.eval(ALERT_SCRIPT, 2, alertKey(d.id), store.key("events"), ttl, value),
        "dispute alert",
      );
      if (Number(wrote) === 1) {
        alertsCounter.inc();
        alerted.push(d.id);
      }
    }
    return alerted;
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  return {
    queue,
    dispute,
    rulingTypedData,
    rule,
    ruling,
    sweep,
    /** Sweeps every min(KEEPER_INTERVAL_MS, 5 s) (unref'd: it never holds the process open). */
    start() {
      if (timer) return;
      const every = Math.min(options.keeperIntervalMs, 5_000);
      timer = setInterval(() => {
        if (running) return;
        running = sweep()
          .catch((error: unknown) => logger.warn({ msg: "dispute sweep failed", err: (error as Error).message }))
          .finally(() => (running = undefined));
      }, every);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
export type GatewayDesk = ReturnType<typeof createGatewayDesk>;
