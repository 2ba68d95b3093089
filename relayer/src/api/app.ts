/**
 * The read API: express 5, routes under /v1 (and /metrics), validated with the zod schemas that also make the
 * OpenAPI document. Errors are problem+json, built in problems.ts. No listening here (see server.ts).
 *
 * Cost of a request: GET /v1/deals/{id} is one pipelined Redis round trip (the deal's hash and history), none for
 * a settled final deal (kept in memory: final-cache.ts); a page of GET /v1/deals at most two commands (store/
 * reads.ts). The
 * indexer's progress (head block, for confirmations and finality) is cached in memory for META_CACHE_MS: the head
 * moves at most once per block, so a reader sees confirmations at most that much late, and under load the meta
 * read costs one round trip per META_CACHE_MS instead of one per request. Concurrent readers share one in-flight
 * meta read.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { id as keccakId } from "ethers";
import type { Common } from "../common";
import { createMethodNames } from "../domain/methods";
import { FINAL_STATUSES, type DealStatus } from "../domain/projection";
import { acceptorView, dealView, gatewayView, tokenAmounts, type Progress } from "../domain/views";
import type { TokenHealth } from "../tokens/monitor";
import type { Store } from "../store/store";
import { singleChain, type Chains, type ServedChain } from "../chains";
import { ADDRESS_ID, decodeCursor, encodeCursor, filterKey, startingAt, type CursorPosition } from "./cursor";
import { createFinalCache, etagOf, matchesIfNoneMatch, type CachedBody, type FinalCache } from "./final-cache";
import { buildOpenApiDocument, ROUTES, SCAN_FACTOR, type RouteId } from "./openapi";
import { ApiProblem, problemOf, RETRY_AFTER_SECONDS, sendProblem } from "./problems";
import {
  AcceptorListQuery,
  AddressParams,
  DealListQuery,
  DealParams,
  DealQuery,
  EmptyQuery,
  GatewayListQuery,
  LIMIT_DEFAULT,
  OwedQuery,
} from "./schemas";
import { clip, invalidParameters, validate, validateQuery } from "./validation";
import { writeHandlers, type WriteApi } from "./write";
import {
  confirmAbsence,
  createAvailability,
  unavailableReason,
  isRedisTimeout,
  projectionGuard,
  READY_DEADLINE_MS,
  timeoutWarning,
  type Availability,
} from "./availability";
import { eventHandlers, type EventsApi } from "./events";
import { webhookHandlers, type WebhooksApi } from "./webhooks";
import { pagesRouter } from "./pages";
import { orderHandlers } from "./orders";
import { reportHandlers, type ReportSource } from "./reports";
import type { OrdersApi } from "../orders/service";
import { acceptorProfileHandlers } from "./acceptor-profile";
import { scheduledHandlers } from "./scheduled";
import type { ScheduledApi } from "../disputes/keeper";
import type { Desk } from "../orders/desk";
import type { EvidenceService } from "../disputes/evidence";
import { evidenceBodyReader, evidenceHandlers } from "./evidence";
import { messageHandlers } from "./messages";
import type { Messages } from "../disputes/messages";
import { gatewayHandlers } from "./gateway";
import type { GatewayDesk } from "../disputes/gateway";

/** How long the indexer's progress (head block) is cached in memory. */
export const META_CACHE_MS = 250;
/** Longest request target accepted (longer: 414). Node itself refuses request heads over 16 KiB (431). */
export const MAX_URL_LENGTH = 8192;
/** Largest JSON request body. */
export const BODY_LIMIT = "100kb";
/** How long a client or cache may keep a final deal's answer without asking again (it never changes). */
export const FINAL_MAX_AGE_S = 86_400;
/** Methods kept as such in the request metric's label (others are counted as OTHER). */
const METRIC_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * Routes outside "operations" that read no projection data, so they stay open while it is unavailable (a submission
 * lives in the write side's keys, which a rebuild keeps; an intent's typed data is computed from its body).
 */
const PROJECTION_FREE: ReadonlySet<RouteId> = new Set([
  "getSubmission",
  "intentTypedData",
  // Orders are the write side's own keys: these read no projection.
  "getOrder",
  "listOrders",
  "listAcceptorOrders",
  // It tells which chains may be served: open while this relayer's own may not.
  "listChains",
]);

/** Routes that check the projection of each chain they read themselves (instead of the route guard). */
const CHAIN_GUARDED: ReadonlySet<RouteId> = new Set(["getDeal", "listDeals"]);

/** POST routes that only compute an answer (nothing is stored or sent): keyed like reads. */
const COMPUTING_POSTS: ReadonlySet<RouteId> = new Set(["intentTypedData", "rulingTypedData"]);

/** `block` and `head`, when given, are the indexed block and the head it was judged against (shown to the probe). */
export type Readiness = () => Promise<{
  ready: boolean;
  checks: Record<string, boolean | string>;
  block?: number;
  head?: number;
}>;

export type ApiDeps = {
  common: Common;
  store: Store;
  readiness: Readiness;
  /** The escrow's resolution window in seconds (immutable; read from the chain at start). */
  resolutionWindow: number;
  /** The token monitor's latest answers, shown by /v1/health (none when absent). */
  tokens?: () => TokenHealth[];
  /** Cache time of the indexer's progress (tests use 0). */
  metaCacheMs?: number;
  /** The write side (absent: its routes answer 503, and reads need no key). */
  write?: WriteApi;
  /** The final-deal cache (one is made when absent); whoever resets the projection calls its clear(). */
  finalCache?: FinalCache;
  /** Whether the projection may be served (default: read from `store` with the default cache). */
  availability?: Availability;
  /** Replay and the SSE stream (absent: their routes answer 503). */
  events?: EventsApi;
  /** Webhook endpoints (absent: their routes answer 503). */
  webhooks?: WebhooksApi;
  /** Orders, acceptor orders and the checkout (absent: their routes answer 503). */
  orders?: OrdersApi;
  /** Settlement reports' orders and deals (absent: the route answers 503). */
  reports?: ReportSource;
  /** The acceptor desk (absent: its routes answer 503). */
  desk?: Desk;
  /** A dispute's evidence (absent: its routes answer 503). */
  evidence?: EvidenceService;
  /** Per-order message threads (absent: their routes answer 503). */
  messages?: Messages;
  /** The gateway's dispute desk (absent: its routes answer 503). */
  gatewayDesk?: GatewayDesk;
  /** The keeper's scheduled actions (absent: their routes answer 503). */
  scheduled?: ScheduledApi;
  /** The chains served from this Redis (chains.ts); absent: `store`'s chain only. */
  chains?: Chains;
};

/** The first entry of an ascending (score, id) list at or after `position`. */
function firstAtOrAfter(entries: { id: string; score: number }[], position: CursorPosition): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const e = entries[mid];
    if (e.score < position.score || (e.score === position.score && e.id < position.id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function createApi({
  common,
  store,
  readiness,
  resolutionWindow,
  tokens = () => [],
  metaCacheMs = META_CACHE_MS,
  write,
  finalCache = createFinalCache(),
  availability = createAvailability({ store, metrics: common.metrics, logger: common.logger, cacheMs: metaCacheMs }),
  events,
  webhooks,
  orders,
  reports,
  desk,
  evidence,
  messages,
  gatewayDesk,
  scheduled,
  chains: givenChains,
}: ApiDeps): express.Express {
  const { logger, metrics } = common;
  const methodNames = createMethodNames();
  const guard = projectionGuard(availability);
  const warnTimeout = timeoutWarning(logger);
  // A rebuilt, flushed or rolled-back projection may no longer hold what the cache kept as final.
  availability.onProjectionReset(() => finalCache.clear());
  const app = express();
  // For whoever resets the projection (a rebuild, a deep reorg): app.locals.finalCache.clear().
  app.locals.finalCache = finalCache;
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("query parser", false);
  // /v1/deals/ and /V1/DEALS are not /v1/deals: one spelling per resource (404 otherwise). Set before the first
  // app.use, which creates the router with these settings.
  app.set("strict routing", true);
  app.set("case sensitive routing", true);

  /* -------------------------------------------- progress cache -------------------------------------------- */

  /* ------------------------------------------------ chains ------------------------------------------------ */

  const chains: Chains =
    givenChains ??
    singleChain({
      entry: {
        chainId: store.chainId,
        escrow: store.escrow,
        registry: "",
        keyPrefix: store.keyPrefix,
        deploymentBlock: 0,
        resolutionWindow,
        confirmations: common.options.confirmations,
      },
      store,
      availability,
      own: true,
    });
  const ownChain = chains.own;

  /** The chain a `chainId` query names: 400 when no chain served has it. */
  const chainNamed = (served: ServedChain[], chainId: number): ServedChain => {
    const found = served.find((c) => c.entry.chainId === chainId);
    if (found) return found;
    const known = served.map((c) => c.entry.chainId).join(", ");
    throw invalidParameters([
      { parameter: "chainId", in: "query", message: `no chain ${chainId} is served here; known chains: ${known}` },
    ]);
  };

  /**
   * 503 when a chain's projection may not be served. The deal reads check each chain they read (a chain whose
   * projection may not be served answers 503 for its own deals only); every other data route keeps the route guard
   * on this relayer's projection.
   */
  const ensureAvailable = async (chain: ServedChain) => {
    const reason = unavailableReason((await chain.availability.state()).meta);
    if (reason !== undefined) {
      throw new ApiProblem("projection-unavailable", chain.own ? reason : `Chain ${chain.entry.chainId}: ${reason}`, {
        headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
      });
    }
  };
  const isAvailable = (chain: ServedChain) =>
    ensureAvailable(chain).then(
      () => true,
      () => false,
    );

  /* -------------------------------------------- progress cache -------------------------------------------- */

  const progressCache = new Map<Store, { at: number; progress: Promise<Progress> }>();
  const progressOf = (chain: ServedChain = ownChain): Promise<Progress> => {
    const now = performance.now();
    const cached = progressCache.get(chain.store);
    if (cached && now - cached.at < metaCacheMs) return cached.progress;
    const progress = chain.store
      .getMeta()
      // The head is recorded after each commit; never report fewer confirmations than the indexed block implies.
      .then((m) => ({
        head: Math.max(m.head ?? 0, m.block ?? 0),
        confirmations: chain.own ? common.options.confirmations : chain.entry.confirmations,
        now: Math.max(Math.floor(Date.now() / 1000), m.time ?? 0),
      }));
    const entry = { at: now, progress };
    progressCache.set(chain.store, entry);
    progress.catch(() => {
      if (progressCache.get(chain.store) === entry) progressCache.delete(chain.store);
    });
    return progress;
  };
  const contextOf = (chain: ServedChain, gateway?: Record<string, string>) => ({
    resolutionWindow: chain.own ? resolutionWindow : chain.entry.resolutionWindow,
    gateway,
    chainId: chain.entry.chainId,
  });

  let openApiJson: string | undefined;

  /**
   * Sends a deal's JSON with its ETag: a settled deal past the confirmation depth is cacheable (`immutable`: it never changes; `private` when
   * reads need a key, so no shared cache serves it to someone without one), a pending one must be revalidated
   * every time (`no-cache`: a reorg can still change it). 304 when If-None-Match holds the ETag.
   */
  const finalCacheControl = `${common.options.readsRequireKey ? "private" : "public"}, max-age=${FINAL_MAX_AGE_S}, immutable`;
  const sendCacheable = (req: Request, res: Response, entry: CachedBody, final: boolean) => {
    res.setHeader("ETag", entry.etag);
    res.setHeader("Cache-Control", final ? finalCacheControl : "no-cache");
    if (matchesIfNoneMatch(req.get("if-none-match"), entry.etag)) {
      res.status(304).end();
      return;
    }
    res.type("application/json").send(entry.body);
  };

  /**
   * A page of an index without filters: the ids in one command, the final deals' JSON from the cache, and only
   * the others read (one more command) and viewed. The body is the cached JSON texts joined: the same bytes
   * as serialising the views, without rebuilding what never changes.
   */
  const listFromIndex = async (
    chain: ServedChain,
    index: string,
    limit: number,
    start: CursorPosition | undefined,
  ): Promise<{ parts: string[]; next?: CursorPosition }> => {
    // The final-deal cache holds this relayer's chain only (its resets follow this chain's projection).
    const cache = chain.own ? finalCache : undefined;
    const generation = finalCache.generation();
    const [{ ids, next }, progress] = await Promise.all([
      chain.store.readDealIds(index, limit, start ? startingAt(start) : undefined),
      progressOf(chain),
    ]);
    const parts: (string | undefined)[] = ids.map(({ id }) => cache?.get(id)?.body);
    const missing = ids.flatMap(({ id }, i) => (parts[i] === undefined ? [{ id, i }] : []));
    if (missing.length > 0) {
      const { deals, gateways } = await chain.store.readDealsById(missing.map((m) => m.id));
      const byId = new Map(deals.map((d) => [d.id, d]));
      for (const { id, i } of missing) {
        const f = byId.get(id);
        // A deal can vanish (reorg) between the index read and the deal read: skip it.
        if (!f) continue;
        const view = dealView(id, f.deal, f.history, progress, contextOf(chain, gateways.get(f.deal.gateway)));
        const body = JSON.stringify(view);
        parts[i] = body;
        if (cache && view.finality === "final" && FINAL_STATUSES.has(f.deal.status as DealStatus)) {
          cache.set(id, { body, etag: etagOf(body) }, generation);
        }
      }
    }
    return { parts: parts.filter((p) => p !== undefined), next };
  };

  /**
   * A deal of one chain as its answer (JSON and ETag) and whether it is final; this relayer's final deals come from
   * memory (see final-cache.ts).
   */
  const lookupDeal = async (
    chain: ServedChain,
    dealId: string,
  ): Promise<{ chain: ServedChain; entry: CachedBody; final: boolean } | undefined> => {
    if (chain.own) {
      const cachedDeal = finalCache.get(dealId);
      if (cachedDeal) return { chain, entry: cachedDeal, final: true };
    }
    const generation = finalCache.generation();
    const [found, progress] = await Promise.all([chain.store.getDeal(dealId), progressOf(chain)]);
    if (!found) return undefined;
    // Who rules a disputed deal depends on its gateway's standing now: one more read, for disputed deals only.
    const gateway =
      found.deal.status === "disputed" ? (await chain.store.getHashes([`gw:${found.deal.gateway}`]))[0] : undefined;
    const view = dealView(dealId, found.deal, found.history, progress, contextOf(chain, gateway));
    const body = JSON.stringify(view);
    const entry = { body, etag: etagOf(body) };
    // Only a settled deal past the depth never changes: an open one can still move on, and a disputed one's
    // ruler depends on the clock and its gateway's standing.
    const final = view.finality === "final" && FINAL_STATUSES.has(found.deal.status as DealStatus);
    if (final && chain.own) finalCache.set(dealId, entry, generation);
    return { chain, entry, final };
  };

  /**
   * A write (or a write's typed data) under /v1/deals/{dealId}/… for a deal this relayer's chain does not hold but
   * another served chain does: 409 wrong-chain naming the chain whose relayer takes it.
   */
  const wrongChain = async (req: Request, error: unknown): Promise<unknown> => {
    if (!(error instanceof ApiProblem) || error.kind !== "deal-not-found") return error;
    const match = /^\/v1\/deals\/(0x[0-9a-fA-F]{64})\/[^?]/.exec(req.originalUrl);
    if (!match) return error;
    const dealId = match[1].toLowerCase();
    const served = await chains.list().catch(() => [ownChain]);
    const holders = await Promise.all(
      served.map(async (c) => (!c.own && (await c.store.getDeal(dealId).catch(() => undefined)) ? c : undefined)),
    );
    const holder = holders.find((c) => c !== undefined);
    if (!holder) return error;
    return new ApiProblem(
      "wrong-chain",
      `Deal ${dealId} is on chain ${holder.entry.chainId}; this relayer writes to chain ${ownChain.entry.chainId}: ` +
        `send the request to chain ${holder.entry.chainId}'s relayer.`,
      { members: { chainId: holder.entry.chainId } },
    );
  };

  /* ----------------------------------------------- handlers ----------------------------------------------- */

  const handlers: Record<RouteId, (req: Request, res: Response) => Promise<void> | void> = {
    ...writeHandlers(write),
    ...eventHandlers(events),
    ...webhookHandlers(webhooks),
    ...orderHandlers(orders),
    ...reportHandlers(reports),
    ...evidenceHandlers(evidence),
    ...messageHandlers(messages),
    ...gatewayHandlers(gatewayDesk),
    ...scheduledHandlers(scheduled),
    ...acceptorProfileHandlers(desk, async (address) => {
      const [[acc], methods, progress] = await Promise.all([
        store.getHashes([`acc:${address}`]),
        store.smembers(`accm:${address}`),
        progressOf(),
      ]);
      return acc ? acceptorView(address, acc, methods, progress, methodNames.nameOf) : null;
    }),

    async getDeal(req, res) {
      const dealId = validate(DealParams, req.params as Record<string, string>, "path").dealId.toLowerCase();
      const { chainId } = validateQuery(req, DealQuery);
      const served = await chains.list();
      const candidates = chainId === undefined ? served : [chainNamed(served, chainId)];
      if (candidates.length === 1) {
        await ensureAvailable(candidates[0]);
        const found = await lookupDeal(candidates[0], dealId);
        if (!found) throw new ApiProblem("deal-not-found", `No deal ${dealId} has been indexed.`);
        sendCacheable(req, res, found.entry, found.final);
        return;
      }
      // Every chain is asked (this relayer's first): the same id on two chains is ambiguous.
      const available = await Promise.all(candidates.map(isAvailable));
      const results = await Promise.all(candidates.map((c, i) => (available[i] ? lookupDeal(c, dealId) : undefined)));
      const found = results.filter((r) => r !== undefined);
      if (found.length > 1) {
        const ids = found.map((f) => f.chain.entry.chainId);
        throw new ApiProblem(
          "ambiguous-deal",
          `Deal ${dealId} exists on chains ${ids.join(" and ")}: give chainId to pick one.`,
          { members: { chains: ids } },
        );
      }
      if (found.length === 1) {
        sendCacheable(req, res, found[0].entry, found[0].final);
        return;
      }
      // Not found on the chains that may be served: a chain that may not could hold it.
      const unavailable = candidates.find((_c, i) => !available[i]);
      if (unavailable) await ensureAvailable(unavailable);
      throw new ApiProblem("deal-not-found", `No deal ${dealId} has been indexed.`);
    },

    async listChains(req, res) {
      validateQuery(req, EmptyQuery);
      const served = await chains.list();
      const data = await Promise.all(
        served.map(async ({ entry, availability: chainAvailability, own }) => {
          const state = await chainAvailability.state().catch(() => undefined);
          const reason = state ? unavailableReason(state.meta) : "its projection state could not be read";
          return {
            chainId: entry.chainId,
            escrow: entry.escrow.toLowerCase(),
            registry: entry.registry.toLowerCase(),
            deploymentBlock: entry.deploymentBlock,
            ...(entry.name === undefined ? {} : { name: entry.name }),
            own,
            ...(state?.meta.block === undefined ? {} : { indexedBlock: state.meta.block }),
            ...(state?.meta.head === undefined ? {} : { head: state.meta.head }),
            available: reason === undefined,
            ...(reason === undefined ? {} : { reason }),
          };
        }),
      );
      res.setHeader("Cache-Control", "no-cache");
      res.json({ data });
    },

    async listDeals(req, res) {
      const query = validateQuery(req, DealListQuery);
      const given = (["party", "gateway", "ref"] as const).filter((p) => query[p] !== undefined);
      if (given.length > 1) {
        throw invalidParameters([
          {
            parameter: given[1],
            in: "query",
            message: `cannot be combined with ${given[0]}; give at most one of party, gateway and ref`,
          },
        ]);
      }
      const overdue = query.overdue === "true";
      if (overdue && query.status !== undefined && query.status !== "disputed") {
        throw invalidParameters([
          { parameter: "status", in: "query", message: "overdue=true lists disputed deals only; use status=disputed" },
        ]);
      }
      const party = query.party?.toLowerCase();
      const gateway = query.gateway?.toLowerCase();
      const ref = query.ref?.toLowerCase();
      const status = overdue ? "disputed" : query.status;
      const limit = query.limit ?? LIMIT_DEFAULT;
      const served = await chains.list();
      const named = query.chainId === undefined ? undefined : chainNamed(served, query.chainId);
      // One chain (named, or the only one served): the list and its cursors as ever; several: one after another.
      const selected = named ? [named] : served;
      const several = selected.length > 1;
      const filter =
        filterKey({ party, gateway, ref, status, overdue }) +
        (named ? `|chain:${named.entry.chainId}` : several ? "|chains" : "");
      const start = query.cursor === undefined ? undefined : decodeCursor(query.cursor, filter);
      const index = party
        ? `ix:party:${party}`
        : gateway
          ? `ix:gw:${gateway}`
          : ref
            ? `ix:ref:${ref.slice(2)}`
            : status
              ? `ix:status:${status}`
              : "ix:updated";
      // Filtering an index by status (or overdue) reads at most SCAN_FACTOR × limit entries; the page can then be
      // short while nextCursor is not null. One script reads the page: ids, hashes, histories and the disputed
      // deals' gateways (see store/reads.ts).
      const filtering = (status !== undefined && index !== `ix:status:${status}`) || overdue || ref !== undefined;
      const readChain = async (
        chain: ServedChain,
        pageLimit: number,
        from: CursorPosition | undefined,
      ): Promise<{ parts: string[]; next?: CursorPosition }> => {
        if (!filtering) return listFromIndex(chain, index, pageLimit, from);
        const progress = await progressOf(chain);
        const context = contextOf(chain);
        const page = await chain.store.readDealPage({
          index,
          limit: pageLimit,
          after: from ? startingAt(from) : undefined,
          budget: SCAN_FACTOR * pageLimit,
          status: index === `ix:status:${status}` ? undefined : status,
          overdue: overdue ? { now: progress.now, resolutionWindow: context.resolutionWindow } : undefined,
        });
        const parts = page.deals.map(({ id, deal, history }) =>
          JSON.stringify(dealView(id, deal, history, progress, contextOf(chain, page.gateways.get(deal.gateway)))),
        );
        return { parts, next: page.next };
      };
      const parts: string[] = [];
      let nextCursor: string | null = null;
      if (!several) {
        await ensureAvailable(selected[0]);
        const page = await readChain(selected[0], limit, start);
        parts.push(...page.parts);
        nextCursor = page.next ? encodeCursor(page.next, filter) : null;
      } else {
        let at = 0;
        if (start) {
          at = selected.findIndex((c) => c.entry.chainId === start.chainId);
          if (at < 0) {
            throw invalidParameters([
              { parameter: "cursor", in: "query", message: "names a chain that is no longer served here" },
            ]);
          }
        }
        let from: CursorPosition | undefined = start;
        const available = await Promise.all(selected.map(isAvailable));
        // None may be served: 503 as for one chain (this relayer's reason).
        if (!available.includes(true)) await ensureAvailable(ownChain);
        for (; at < selected.length && nextCursor === null; at++) {
          const chain = selected[at];
          // A chain whose projection may not be served is left out.
          if (!available[at]) {
            from = undefined;
            continue;
          }
          const page = await readChain(chain, limit - parts.length, from);
          from = undefined;
          parts.push(...page.parts);
          if (page.next) {
            nextCursor = encodeCursor(page.next, filter, chain.entry.chainId);
          } else if (parts.length >= limit) {
            // This chain is done and the page full: the next page starts at the next chain's first entry.
            for (let j = at + 1; j < selected.length && nextCursor === null; j++) {
              const first = (await selected[j].store.readDealIds(index, 1)).ids[0];
              if (first) nextCursor = encodeCursor(first, filter, selected[j].entry.chainId);
            }
            break;
          }
        }
      }
      res.type("application/json").send(`{"data":[${parts.join(",")}],"nextCursor":${JSON.stringify(nextCursor)}}`);
    },

    async listGateways(req, res) {
      const query = validateQuery(req, GatewayListQuery);
      const limit = query.limit ?? LIMIT_DEFAULT;
      const filter = "gateways";
      const start = query.cursor === undefined ? undefined : decodeCursor(query.cursor, filter, ADDRESS_ID);
      const [registered, progress] = await Promise.all([store.zrangeWithScores("gws"), progressOf()]);
      const from = start ? firstAtOrAfter(registered, start) : 0;
      const addresses = registered.slice(from, from + limit).map((e) => e.id);
      const next = registered[from + limit];
      const hashes = await store.getHashes(addresses.flatMap((a) => [`gw:${a}`, `fees:${a}`]));
      const data = addresses.flatMap((a, i) => {
        const gw = hashes[2 * i];
        return gw ? [gatewayView(a, gw, progress, hashes[2 * i + 1])] : [];
      });
      res.json({ data, nextCursor: next ? encodeCursor(next, filter) : null });
    },

    async getGateway(req, res) {
      const address = validate(AddressParams, req.params as Record<string, string>, "path").address.toLowerCase();
      validateQuery(req, EmptyQuery);
      const [[gw, fees], progress] = await Promise.all([
        store.getHashes([`gw:${address}`, `fees:${address}`]),
        progressOf(),
      ]);
      if (!gw) throw new ApiProblem("gateway-not-found", `No gateway is registered at ${address}.`);
      res.json(gatewayView(address, gw, progress, fees));
    },

    async listAcceptors(req, res) {
      const query = validateQuery(req, AcceptorListQuery);
      const named = query.method !== undefined && !/^0x/i.test(query.method) ? query.method : undefined;
      const method =
        query.method === undefined ? undefined : named !== undefined ? keccakId(named) : query.method.toLowerCase();
      const token = query.token?.toLowerCase();
      const limit = query.limit ?? LIMIT_DEFAULT;
      const filter = `acceptors|${method ?? "-"}|${token ?? "-"}|${query.status ?? "-"}`;
      const start = query.cursor === undefined ? undefined : decodeCursor(query.cursor, filter, ADDRESS_ID);
      const [registered, supporting, progress] = await Promise.all([
        store.zrangeWithScores("accs"),
        method === undefined ? undefined : store.smembers(`ix:method:${method}`),
        progressOf(),
      ]);
      // A name some acceptor supports is a real method's name: remember it to show it by name.
      if (named !== undefined && supporting !== undefined && supporting.length > 0) methodNames.learn(named);
      const supportingSet = supporting && new Set(supporting);
      const candidates = supportingSet ? registered.filter((e) => supportingSet.has(e.id)) : registered;
      // Status and token are in each acceptor's hash: read a chunk at a time until the page is full, reading at
      // most SCAN_FACTOR × limit acceptors (a page can be short while nextCursor is not null, as for deals).
      const filtering = query.status !== undefined || token !== undefined;
      const budget = filtering ? SCAN_FACTOR * limit : limit;
      let at = start ? firstAtOrAfter(candidates, start) : 0;
      const end = Math.min(candidates.length, at + budget);
      const data: ReturnType<typeof acceptorView>[] = [];
      while (data.length < limit && at < end) {
        const chunk = candidates.slice(at, Math.min(end, at + limit - data.length)).map((e) => e.id);
        const [hashes, methods] = await Promise.all([
          store.getHashes(chunk.map((a) => `acc:${a}`)),
          Promise.all(chunk.map((a) => store.smembers(`accm:${a}`))),
        ]);
        at += chunk.length;
        chunk.forEach((a, i) => {
          const acc = hashes[i];
          if (!acc) return;
          const view = acceptorView(a, acc, methods[i], progress, methodNames.nameOf);
          if (query.status !== undefined && view.status !== query.status) return;
          if (token !== undefined && !view.tokens.some((t) => t.token === token)) return;
          data.push(view);
        });
      }
      const next = candidates[at];
      res.json({ data, nextCursor: next ? encodeCursor(next, filter) : null });
    },

    async getAcceptor(req, res) {
      const address = validate(AddressParams, req.params as Record<string, string>, "path").address.toLowerCase();
      validateQuery(req, EmptyQuery);
      const [[acc], methods, progress] = await Promise.all([
        store.getHashes([`acc:${address}`]),
        store.smembers(`accm:${address}`),
        progressOf(),
      ]);
      if (!acc) throw new ApiProblem("acceptor-not-found", `No acceptor is registered at ${address}.`);
      res.json(acceptorView(address, acc, methods, progress, methodNames.nameOf));
    },

    async getOwed(req, res) {
      const { account } = validateQuery(req, OwedQuery);
      const address = account.toLowerCase();
      const [owed] = await store.getHashes([`owed:${address}`]);
      res.json({ account: address, owed: tokenAmounts(owed).filter((o) => o.amount !== "0") });
    },

    health(req, res) {
      validateQuery(req, EmptyQuery);
      res.json({ status: "ok", tokens: tokens() });
    },

    async ready(req, res) {
      validateQuery(req, EmptyQuery);
      res.setHeader("Cache-Control", "no-store");
      let result: Awaited<ReturnType<Readiness>>;
      let timer: NodeJS.Timeout | undefined;
      try {
        // The readiness check keeps its own deadlines; this one only guarantees the probe an answer.
        result = await Promise.race([
          readiness(),
          new Promise<never>((_resolve, reject) => {
            timer = setTimeout(() => reject(new Error("the readiness check timed out")), READY_DEADLINE_MS + 150);
          }),
        ]).finally(() => clearTimeout(timer));
      } catch (error) {
        logger.warn({ msg: "readiness check failed", err: error });
        result = { ready: false, checks: { readiness: "the readiness check failed" } };
      }
      const position = {
        ...(result.block === undefined ? {} : { block: result.block }),
        ...(result.head === undefined ? {} : { head: result.head }),
      };
      if (result.ready) {
        res.json({ ready: true, checks: result.checks, ...position });
        return;
      }
      const failing = Object.entries(result.checks)
        .filter(([, v]) => v !== true)
        .map(([k]) => k);
      throw new ApiProblem("not-ready", `Not ready: ${failing.length > 0 ? failing.join(", ") : "starting"}.`, {
        members: { ready: false, checks: result.checks, ...position },
      });
    },

    async metrics(req, res) {
      validateQuery(req, EmptyQuery);
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    },

    openapi(req, res) {
      validateQuery(req, EmptyQuery);
      openApiJson ??= JSON.stringify(buildOpenApiDocument());
      res.type("application/json").send(openApiJson);
    },
  };

  /* ---------------------------------------------- middleware ---------------------------------------------- */

  if (write?.headers) app.use(write.headers);

  // Request duration (labelled by route pattern, never the raw URL) and a debug log line.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.once("finish", () => {
      const ms = performance.now() - started;
      const route = (req.route as { path?: string } | undefined)?.path ?? "unmatched";
      const method = METRIC_METHODS.has(req.method) ? req.method : "OTHER";
      metrics.requestDuration.observe({ method, route, status: String(res.statusCode) }, ms / 1000);
      if (logger.isLevelEnabled("debug")) {
        logger.debug({
          msg: "request",
          method: req.method,
          url: clip(req.originalUrl),
          route,
          status: res.statusCode,
          ms,
        });
      }
    });
    next();
  });

  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (req.originalUrl.length > MAX_URL_LENGTH) {
      throw new ApiProblem("uri-too-long", `The request target is longer than ${MAX_URL_LENGTH} characters.`);
    }
    next();
  });

  // Parsing JSON bodies here makes a malformed one a 400 everywhere.
  app.use(express.json({ limit: BODY_LIMIT }));

  // Every path with its methods: GET routes also answer HEAD; OPTIONS answers with Allow.
  const paths = new Map<string, typeof ROUTES>();
  for (const route of ROUTES) paths.set(route.path, [...(paths.get(route.path) ?? []), route]);
  for (const [pattern, routes] of paths) {
    const methods = routes.map((r) => r.method.toUpperCase());
    const allow = [...methods, ...(methods.includes("GET") ? ["HEAD"] : []), "OPTIONS"].join(", ");
    const chain = app.route(pattern.replace(/\{(\w+)\}/g, ":$1"));
    for (const route of routes) {
      const handler = handlers[route.id];
      // Probes and metrics stay open to the operator's infrastructure; the checkout needs no key (the order id is
      // its capability) but is rate limited like an anonymous read; every other route authenticates.
      const guards =
        route.tags?.includes("operations") || !write
          ? []
          : route.tags?.includes("checkout")
            ? (write.anonymous ?? [])
            : COMPUTING_POSTS.has(route.id)
              ? write.authenticateRead
              : write.authenticate;
      // The data routes answer 503 while the projection is halted, rebuilt or not built (availability.ts); a
      // write needs a deal read too, so writes are refused then as well.
      // Webhook endpoints are the write side's own keys (kept by a rebuild): manageable while the projection is not.
      const projectionFree =
        route.tags?.includes("operations") || route.tags?.includes("webhooks") || PROJECTION_FREE.has(route.id);
      // The deal reads check each chain they read themselves (several chains: one's outage is not the others').
      const data = projectionFree || CHAIN_GUARDED.has(route.id) ? [] : [guard];
      // A route whose body is not JSON reads it itself, before idempotency fingerprints it.
      const body = route.id === "postEvidence" ? [evidenceBodyReader(() => evidence?.maxBytes)] : [];
      if (route.method === "post") chain.post(...guards, ...data, ...body, ...(write?.beforePost ?? []), handler);
      else if (route.method === "put") chain.put(...guards, ...data, handler);
      else if (route.method === "delete") chain.delete(...guards, ...data, handler);
      else chain.get(...guards, ...data, handler);
    }
    chain
      .options((_req: Request, res: Response) => {
        res.setHeader("Allow", allow);
        res.status(204).end();
      })
      .all((req: Request) => {
        throw new ApiProblem("method-not-allowed", `${clip(req.method)} is not allowed here; use ${allow}.`, {
          headers: { Allow: allow },
        });
      });
  }

  // The hosted checkout and acceptor console (plain pages calling this API on the same origin).
  app.use(pagesRouter());

  app.use((req: Request) => {
    throw new ApiProblem("not-found", `No route matches ${clip(req.method)} ${clip(req.originalUrl.split("?")[0])}.`);
  });

  // The one place where failures become responses.
  app.use(async (thrown: unknown, req: Request, res: Response, _next: NextFunction) => {
    // A 404 is believed only while the projection is there (it may have been flushed within the guard's cache time).
    const error = await wrongChain(req, await confirmAbsence(availability, thrown));
    const { problem, headers, internal } = problemOf(error);
    if (isRedisTimeout(error))
      warnTimeout(`${req.method} ${(req.route as { path?: string } | undefined)?.path}`, error);
    if (internal) {
      logger.error({ msg: "request failed", err: error, method: req.method, url: clip(req.originalUrl) });
    }
    problem.instance = clip(req.originalUrl.split("?")[0]);
    sendProblem(res, problem, headers);
  });

  return app;
}
