/**
 * GET /v1/reports/settlements: every order whose deal settled in a time range, with amounts, fees, the deal id, tx
 * hashes and block times, and totals per token — as JSON or CSV. A platform key gets its orders, an acceptor key
 * the orders it served, an admin key all. The rows are built by relayer/src/orders/reports.ts (pure) from the
 * order store's keys (written by relayer/src/orders/store.ts) and the projection's deals.
 */
import type { Request, Response } from "express";
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { scanAll, type RedisClient as Redis } from "../redis";
import { z } from "zod";
import { REDIS_TIMEOUT_MS, withDeadline } from "../deadline";
import type { Order } from "../orders/model";
import {
  REPORT_COLUMNS,
  REPORT_MAX_DAYS,
  parseReportTime,
  settlementCsv,
  settlementReport,
  type DealRecord,
} from "../orders/reports";
import type { Store } from "../store/store";
import type { KeyIdentity } from "../write/rules";
import { ApiProblem } from "./problems";
import { keyWithScope } from "./scope";
import { invalidParameters, validateQuery } from "./validation";

extendZodWithOpenApi(z);

/** Most orders one report reads (a longer history: ask for it per platform or acceptor key). */
export const REPORT_MAX_ORDERS = 50_000;
/** Default range when `from` is not given. */
const DEFAULT_DAYS = 31;
/** Orders and deals read per round trip. */
const BATCH = 200;

const timeField = z.string().max(40).openapi({
  description: "Unix seconds, or an ISO 8601 date (midnight UTC) or date-time",
  example: "2026-12-01",
});

export const ReportQuery = z.strictObject({
  from: timeField.optional().openapi({ description: "Settled at or after (block time). Default: 31 days before `to`" }),
  to: timeField.optional().openapi({
    description: "Settled before (block time). Default: now (the later of the clock and the latest block's time)",
  }),
  format: z.enum(["json", "csv"], { error: "must be json or csv" }).optional().openapi({ default: "json" }),
});

const RowSchema = z
  .object(Object.fromEntries(REPORT_COLUMNS.map((c) => [c, z.string()])) as Record<string, z.ZodString>)
  .openapi("SettlementRow", {
    description:
      "One settled order. status: the deal's settlement (released, split, resolved, refunded). Amounts in the " +
      "token's base units: payeeAmount reached the payee after the fee, fee was credited to the gateway, refund " +
      "went back to the payer (an on-ramp's to the acceptor's float); amount = payeeAmount + fee + refund. " +
      'openedAt/settledAt: block times (ISO). chargeback: "true" when the acceptor flagged the order as ' +
      'charged back (the fiat it received was reversed), else "false"; chargebackReason: its reason, or empty.',
  });

export const SettlementReportSchema = z
  .object({
    from: z.string().openapi({ description: "ISO time the range starts (inclusive)" }),
    to: z.string().openapi({ description: "ISO time the range ends (exclusive)" }),
    rows: z.array(RowSchema),
    totals: z.record(
      z.string(),
      z.object({
        amount: z.string(),
        payeeAmount: z.string(),
        fee: z.string(),
        refund: z.string(),
        count: z.number().int(),
        chargebacks: z.number().int().openapi({ description: "Rows flagged as charged back" }),
      }),
    ),
  })
  .openapi("SettlementReport", { description: "Totals are per token address" });

/** Where a report's orders and deals come from. */
export type ReportSource = {
  /** The orders a key reports on, created before `untilMs`. */
  ordersOf(key: KeyIdentity, untilMs: number): Promise<Order[]>;
  /** The projection's deals by id (missing ones absent). */
  deals(ids: string[]): Promise<Map<string, DealRecord>>;
  /**
   * Unix seconds of "now" for a report's default end: the later of the clock and the latest block time the indexer
   * read (a chain whose clock runs ahead, as a test chain's does, settles deals "in the future" of the host).
   */
  now(): Promise<number>;
};

/** Reads the order store's keys (under W = keyPrefix + "w:o:") and the projection. */
export function createReportSource({
  redis,
  store,
  timeoutMs = REDIS_TIMEOUT_MS,
}: {
  redis: Redis;
  store: Pick<Store, "keyPrefix" | "readDealsById" | "getMeta">;
  timeoutMs?: number;
}): ReportSource {
  const base = `${store.keyPrefix}w:o:`;
  const deadline = <T>(p: Promise<T>, what: string) => withDeadline(p, timeoutMs, what);
  const tooLarge = () =>
    new ApiProblem(
      "report-too-large",
      `The report would read more than ${REPORT_MAX_ORDERS} orders; ask with a platform's or an acceptor's key.`,
    );

  async function idsOf(index: string, untilMs: number): Promise<string[]> {
    const ids = await deadline(
      redis.zrangebyscore(index, "-inf", untilMs, "LIMIT", 0, REPORT_MAX_ORDERS + 1),
      "report orders",
    );
    if (ids.length > REPORT_MAX_ORDERS) throw tooLarge();
    return ids;
  }

  async function platformIndexes(): Promise<string[]> {
    const pattern = `${base.replace(/[{}[\]*?\\]/g, "\\$&")}ix:plat:*`;
    // Every master of a cluster (SCAN walks one node), each step under the deadline.
    return scanAll(redis, pattern, 1000, (p) => deadline(p, "report indexes"));
  }

  return {
    async ordersOf(key, untilMs) {
      const owner = key.owner.toLowerCase();
      let ids: string[];
      if (key.scope === "admin") {
        const all = new Set<string>();
        for (const index of await platformIndexes()) {
          for (const id of await idsOf(index, untilMs)) all.add(id);
          if (all.size > REPORT_MAX_ORDERS) throw tooLarge();
        }
        ids = [...all];
      } else {
        ids = await idsOf(`${base}ix:${key.scope === "platform" ? "plat" : "accq"}:${owner}`, untilMs);
      }
      const orders: Order[] = [];
      for (let i = 0; i < ids.length; i += BATCH) {
        const pipeline = redis.pipeline();
        for (const id of ids.slice(i, i + BATCH)) pipeline.hget(`${base}ord:${id}`, "j");
        const replies = (await deadline(pipeline.exec(), "report orders")) ?? [];
        for (const [error, json] of replies) {
          if (error || typeof json !== "string") continue;
          const order = JSON.parse(json) as Order;
          // The acceptor's index also lists orders it declined or let time out: only those it served count.
          if (key.scope === "platform" && order.platform !== owner) continue;
          if (key.scope === "acceptor" && order.acceptor !== owner) continue;
          orders.push(order);
        }
      }
      return orders;
    },

    async deals(ids) {
      const out = new Map<string, DealRecord>();
      for (let i = 0; i < ids.length; i += BATCH) {
        const { deals } = await deadline(store.readDealsById(ids.slice(i, i + BATCH)), "report deals");
        for (const d of deals) out.set(d.id, { deal: d.deal, history: d.history });
      }
      return out;
    },

    async now() {
      const meta = await deadline(store.getMeta(), "report clock");
      return Math.max(Math.floor(Date.now() / 1000), meta.time ?? 0);
    },
  };
}

const UNAVAILABLE = "This relayer runs without orders: it has no settlement reports.";

/** The reading key: platform, acceptor or admin. */
const keyOf = (res: Response): KeyIdentity => keyWithScope(res, ["platform", "acceptor", "admin"], "Reports need");

/** The range [from, to) in unix seconds, checked. */
export function rangeOf(q: { from?: string; to?: string }, nowS: number): { fromS: number; toS: number } {
  const parse = (text: string | undefined, parameter: string) => {
    if (text === undefined) return undefined;
    const t = parseReportTime(text);
    if (t === undefined) {
      throw invalidParameters([
        { parameter, in: "query", message: "must be unix seconds or an ISO 8601 date such as 2026-12-01" },
      ]);
    }
    return t;
  };
  const toS = parse(q.to, "to") ?? nowS;
  const fromS = parse(q.from, "from") ?? toS - DEFAULT_DAYS * 86_400;
  if (fromS >= toS) throw invalidParameters([{ parameter: "from", in: "query", message: "must lie before `to`" }]);
  if (toS - fromS > REPORT_MAX_DAYS * 86_400) {
    throw invalidParameters([
      { parameter: "from", in: "query", message: `must lie at most ${REPORT_MAX_DAYS} days before \`to\`` },
    ]);
  }
  return { fromS, toS };
}

export function reportHandlers(source?: ReportSource) {
  return {
    async settlementReport(req: Request, res: Response) {
      const q = validateQuery(req, ReportQuery);
      const key = keyOf(res);
      if (!source) throw new ApiProblem("unavailable", UNAVAILABLE);
      // `to` is exclusive: the default ends after the current second, so a deal settled in it is listed.
      const { fromS, toS } = rangeOf(q, (await source.now()) + 1);
      const orders = await source.ordersOf(key, toS * 1000);
      const dealIds = [...new Set(orders.flatMap((o) => (o.dealId ? [o.dealId.toLowerCase()] : [])))];
      const deals = await source.deals(dealIds);
      const report = settlementReport(
        orders.map((o) => (o.dealId ? { ...o, dealId: o.dealId.toLowerCase() } : o)),
        deals,
        fromS,
        toS,
      );
      const from = new Date(fromS * 1000).toISOString();
      const to = new Date(toS * 1000).toISOString();
      res.setHeader("Cache-Control", "private, no-store");
      if (q.format === "csv") {
        const name = `settlements-${from.slice(0, 10)}-${to.slice(0, 10)}.csv`;
        res.setHeader("Content-Disposition", `attachment; filename="${name}"`);
        res.type("text/csv; charset=utf-8; header=present").send(settlementCsv(report.rows));
        return;
      }
      res.json({ from, to, rows: report.rows, totals: report.totals });
    },
  };
}
