/**
 * The read API: express 5, routes under /v1 (and /metrics), validated with the zod schemas that also make the
 * OpenAPI document. Errors are problem+json, built in problems.ts. No listening here (see server.ts).
 *
 * Cost of a request: GET /v1/deals/{id} is one pipelined Redis round trip (the deal's hash and history). The
 * indexer's progress (head block, for confirmations and finality) is cached in memory for META_CACHE_MS: the head
 * moves at most once per block, so a reader sees confirmations at most that much late, and under load the meta
 * read costs one round trip per META_CACHE_MS instead of one per request. Concurrent readers share one in-flight
 * meta read.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { id as keccakId } from "ethers";
import type { Common } from "../common";
import type { Hash, HistoryEntry } from "../domain/projection";
import { acceptorView, dealView, gatewayView, type Progress } from "../domain/views";
import type { TokenHealth } from "../tokens/monitor";
import type { Store } from "../store/store";
import { decodeCursor, encodeCursor, filterKey, startingAt, type CursorPosition } from "./cursor";
import { buildOpenApiDocument, ROUTES, SCAN_FACTOR, type RouteId } from "./openapi";
import { ApiProblem, problemOf, sendProblem } from "./problems";
import { AcceptorListQuery, AddressParams, DealListQuery, DealParams, EmptyQuery, LIMIT_DEFAULT } from "./schemas";
import { clip, invalidParameters, validate, validateQuery } from "./validation";
import { writeHandlers, type WriteApi } from "./write";
import {
  confirmAbsence,
  createAvailability,
  isRedisTimeout,
  projectionGuard,
  READY_DEADLINE_MS,
  timeoutWarning,
  type Availability,
} from "./availability";
import { eventHandlers, type EventsApi } from "./events";
import { webhookHandlers, type WebhooksApi } from "./webhooks";

/** How long the indexer's progress (head block) is cached in memory. */
export const META_CACHE_MS = 250;
/** Longest request target accepted (longer: 414). Node itself refuses request heads over 16 KiB (431). */
export const MAX_URL_LENGTH = 8192;
/** Largest JSON request body. */
export const BODY_LIMIT = "100kb";
/** Methods kept as such in the request metric's label (others are counted as OTHER). */
const METRIC_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * Routes outside "operations" that read no projection data, so they stay open while it is unavailable (a submission
 * lives in the write side's keys, which a rebuild keeps; an intent's typed data is computed from its body).
 */
const PROJECTION_FREE: ReadonlySet<RouteId> = new Set(["getSubmission", "intentTypedData"]);

/** POST routes that only compute an answer (nothing is stored or sent): keyed like reads. */
const COMPUTING_POSTS: ReadonlySet<RouteId> = new Set(["intentTypedData"]);

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
  /** Whether the projection may be served (default: read from `store` with the default cache). */
  availability?: Availability;
  /** Replay and the SSE stream (absent: their routes answer 503). */
  events?: EventsApi;
  /** Webhook endpoints (absent: their routes answer 503). */
  webhooks?: WebhooksApi;
};

export function createApi({
  common,
  store,
  readiness,
  resolutionWindow,
  tokens = () => [],
  metaCacheMs = META_CACHE_MS,
  write,
  availability = createAvailability({ store, metrics: common.metrics, logger: common.logger, cacheMs: metaCacheMs }),
  events,
  webhooks,
}: ApiDeps): express.Express {
  const { logger, metrics } = common;
  const guard = projectionGuard(availability);
  const warnTimeout = timeoutWarning(logger);
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("query parser", false);
  // /v1/deals/ and /V1/DEALS are not /v1/deals: one spelling per resource (404 otherwise). Set before the first
  // app.use, which creates the router with these settings.
  app.set("strict routing", true);
  app.set("case sensitive routing", true);

  /* -------------------------------------------- progress cache -------------------------------------------- */

  let cached: { at: number; progress: Promise<Progress> } | undefined;
  const progressOf = (): Promise<Progress> => {
    const now = performance.now();
    if (cached && now - cached.at < metaCacheMs) return cached.progress;
    const progress = store
      .getMeta()
      // The head is recorded after each commit; never report fewer confirmations than the indexed block implies.
      .then((m) => ({
        head: Math.max(m.head ?? 0, m.block ?? 0),
        confirmations: common.options.confirmations,
        now: Math.max(Math.floor(Date.now() / 1000), m.time ?? 0),
      }));
    const entry = { at: now, progress };
    cached = entry;
    progress.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return progress;
  };

  let openApiJson: string | undefined;

  /** The gateways of the disputed deals among `deals` (who may rule depends on their standing now). */
  const gatewaysOf = async (deals: Hash[]): Promise<Map<string, Hash | undefined>> => {
    const wanted = [...new Set(deals.filter((d) => d.status === "disputed").map((d) => d.gateway))];
    const hashes = wanted.length === 0 ? [] : await store.getHashes(wanted.map((g) => `gw:${g}`));
    return new Map(wanted.map((g, i) => [g, hashes[i]]));
  };

  /* ----------------------------------------------- handlers ----------------------------------------------- */

  const handlers: Record<RouteId, (req: Request, res: Response) => Promise<void> | void> = {
    ...writeHandlers(write),
    ...eventHandlers(events),
    ...webhookHandlers(webhooks),

    async getDeal(req, res) {
      const dealId = validate(DealParams, req.params as Record<string, string>, "path").dealId.toLowerCase();
      validateQuery(req, EmptyQuery);
      const [found, progress] = await Promise.all([store.getDeal(dealId), progressOf()]);
      if (!found) throw new ApiProblem("deal-not-found", `No deal ${dealId} has been indexed.`);
      // Who rules a disputed deal depends on its gateway's standing now: one more read, for disputed deals only.
      const gateway =
        found.deal.status === "disputed" ? (await store.getHashes([`gw:${found.deal.gateway}`]))[0] : undefined;
      res.json(dealView(dealId, found.deal, found.history, progress, { resolutionWindow, gateway }));
    },

    async listDeals(req, res) {
      const query = validateQuery(req, DealListQuery);
      if (query.party !== undefined && query.gateway !== undefined) {
        throw invalidParameters([
          { parameter: "gateway", in: "query", message: "cannot be combined with party; give at most one of them" },
        ]);
      }
      const party = query.party?.toLowerCase();
      const gateway = query.gateway?.toLowerCase();
      const status = query.status;
      const limit = query.limit ?? LIMIT_DEFAULT;
      const filter = filterKey({ party, gateway, status });
      let start: CursorPosition | undefined =
        query.cursor === undefined ? undefined : decodeCursor(query.cursor, filter);
      const index = party
        ? `ix:party:${party}`
        : gateway
          ? `ix:gw:${gateway}`
          : status
            ? `ix:status:${status}`
            : "ix:updated";
      // Filtering the party's or gateway's index by status scans at most SCAN_FACTOR × limit entries, in at most
      // SCAN_FACTOR rounds. Each round asks for exactly the missing number of deals plus one: the extra entry is
      // where the next round (or page) starts, so cursors always point at a real index entry.
      const filtering = status !== undefined && index !== `ix:status:${status}`;
      const budget = filtering ? SCAN_FACTOR * limit : limit;
      const progressPromise = progressOf();
      const page: { id: string; deal: Hash; history: HistoryEntry[] }[] = [];
      let scanned = 0;
      let rounds = 0;
      let exhausted = false;
      while (page.length < limit && scanned < budget && rounds < SCAN_FACTOR) {
        rounds++;
        const take = Math.min(limit - page.length, budget - scanned);
        const { ids, last } = await store.listDealIds(index, take + 1, start ? startingAt(start) : undefined);
        const chunk = ids.slice(0, take);
        const deals = await Promise.all(chunk.map((id) => store.getDeal(id)));
        scanned += chunk.length;
        chunk.forEach((id, i) => {
          const found = deals[i];
          // A deal can vanish (reorg) or change status between the index read and the deal read: skip it.
          if (!found || (status !== undefined && found.deal.status !== status)) return;
          page.push({ id, ...found });
        });
        if (ids.length <= take || !last) {
          exhausted = true;
          break;
        }
        start = last;
      }
      const [progress, gateways] = await Promise.all([progressPromise, gatewaysOf(page.map((x) => x.deal))]);
      res.json({
        data: page.map(({ id, deal, history }) =>
          dealView(id, deal, history, progress, { resolutionWindow, gateway: gateways.get(deal.gateway) }),
        ),
        nextCursor: exhausted || !start ? null : encodeCursor(start, filter),
      });
    },

    async listGateways(req, res) {
      validateQuery(req, EmptyQuery);
      const [addresses, progress] = await Promise.all([store.zrangeAll("gws"), progressOf()]);
      const hashes = await store.getHashes(addresses.map((a) => `gw:${a}`));
      const data = addresses.flatMap((a, i) => {
        const gw = hashes[i];
        return gw ? [gatewayView(a, gw, progress)] : [];
      });
      res.json({ data });
    },

    async getGateway(req, res) {
      const address = validate(AddressParams, req.params as Record<string, string>, "path").address.toLowerCase();
      validateQuery(req, EmptyQuery);
      const [[gw], progress] = await Promise.all([store.getHashes([`gw:${address}`]), progressOf()]);
      if (!gw) throw new ApiProblem("gateway-not-found", `No gateway is registered at ${address}.`);
      res.json(gatewayView(address, gw, progress));
    },

    async listAcceptors(req, res) {
      const query = validateQuery(req, AcceptorListQuery);
      const method =
        query.method === undefined
          ? undefined
          : /^0x/i.test(query.method)
            ? query.method.toLowerCase()
            : keccakId(query.method);
      const token = query.token?.toLowerCase();
      const [registered, supporting, progress] = await Promise.all([
        store.zrangeAll("accs"),
        method === undefined ? undefined : store.smembers(`ix:method:${method}`),
        progressOf(),
      ]);
      const supportingSet = supporting && new Set(supporting);
      const addresses = supportingSet ? registered.filter((a) => supportingSet.has(a)) : registered;
      const [hashes, methods] = await Promise.all([
        store.getHashes(addresses.map((a) => `acc:${a}`)),
        Promise.all(addresses.map((a) => store.smembers(`accm:${a}`))),
      ]);
      const data = addresses.flatMap((a, i) => {
        const acc = hashes[i];
        if (!acc) return [];
        const view = acceptorView(a, acc, methods[i], progress);
        if (query.status !== undefined && view.status !== query.status) return [];
        if (token !== undefined && !view.tokens.some((t) => t.token === token)) return [];
        return [view];
      });
      res.json({ data });
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
      res.json(acceptorView(address, acc, methods, progress));
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
      // Probes and metrics stay open to the operator's infrastructure; every other route authenticates.
      const guards =
        route.tags?.includes("operations") || !write
          ? []
          : COMPUTING_POSTS.has(route.id)
            ? write.authenticateRead
            : write.authenticate;
      // The data routes answer 503 while the projection is halted, rebuilt or not built (availability.ts); a
      // write needs a deal read too, so writes are refused then as well.
      // Webhook endpoints are the write side's own keys (kept by a rebuild): manageable while the projection is not.
      const projectionFree =
        route.tags?.includes("operations") || route.tags?.includes("webhooks") || PROJECTION_FREE.has(route.id);
      const data = projectionFree ? [] : [guard];
      if (route.method === "post") chain.post(...guards, ...data, ...(write?.beforePost ?? []), handler);
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

  app.use((req: Request) => {
    throw new ApiProblem("not-found", `No route matches ${clip(req.method)} ${clip(req.originalUrl.split("?")[0])}.`);
  });

  // The one place where failures become responses.
  app.use(async (thrown: unknown, req: Request, res: Response, _next: NextFunction) => {
    // A 404 is believed only while the projection is there (it may have been flushed within the guard's cache time).
    const error = await confirmAbsence(availability, thrown);
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
