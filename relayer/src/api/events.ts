/**
 * Replay of the event stream: GET /v1/events (pages after a cursor) and GET /v1/events/stream (the same events as
 * Server-Sent Events, live). Schemas here; routes in openapi.ts. The events' model is relayer/src/events/stream.ts.
 */
import type { Request, Response } from "express";
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { isOrderEvent, parseCursor, type EventReader, type Position, type PublicEvent } from "../events/stream";
import { ORDER_EVENT_TYPES, orderEventVisibleTo, type Reader } from "../events/orders";
import { DISPUTE_EVENT_TYPES, disputeEventVisibleTo, isDisputeEvent } from "../events/disputes";
import { apiKeyOf } from "../auth/http";
import type { Tail } from "../events/tail";
import { TYPE_PATTERNS_MAX, typeMatcher } from "../events/types";
import { ApiProblem } from "./problems";
import { invalidParameters, validateQuery } from "./validation";

extendZodWithOpenApi(z);

export const EVENTS_LIMIT_MAX = 1_000;
export const EVENTS_LIMIT_DEFAULT = 100;
/** A comment line sent on an idle SSE stream this often, so proxies keep it open. */
export const SSE_HEARTBEAT_MS = 15_000;
/** Events sent per read of an SSE stream. */
const SSE_BATCH = 500;

const cursorField = z
  .string()
  .max(64)
  .openapi({ description: "An event id: the events after it are answered", example: "1764864000000-0" });
const typesField = z.string().max(2_048).openapi({
  description:
    "Comma-separated event types; `*` stands for any characters (`deal.*`, `*.retracted`). Default: every type",
  example: "deal.*,owed.credited",
});

export const EventsQuery = z.strictObject({
  after: cursorField.optional(),
  types: typesField.optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,6}$/, { error: `must be an integer from 1 to ${EVENTS_LIMIT_MAX}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(1)
        .max(EVENTS_LIMIT_MAX, { error: `must be an integer from 1 to ${EVENTS_LIMIT_MAX}` }),
    )
    .optional()
    .openapi({ type: "integer", minimum: 1, maximum: EVENTS_LIMIT_MAX, default: EVENTS_LIMIT_DEFAULT }),
});
export const EventStreamQuery = z.strictObject({ after: cursorField.optional(), types: typesField.optional() });

export const ChainEventSchema = z
  .object({
    id: z.string().openapi({ description: "Stable id; the cursor to resume after this event" }),
    type: z.string().openapi({ example: "deal.opened" }),
    chainId: z.number().int(),
    block: z.number().int(),
    blockHash: z.string(),
    txHash: z.string(),
    logIndex: z.number().int(),
    timestamp: z.number().int().optional().openapi({ description: "Unix seconds of the block" }),
    dealId: z.string().optional(),
    acceptor: z.string().optional(),
    gateway: z.string().optional(),
    account: z.string().optional(),
    token: z.string().optional(),
  })
  .openapi("Event");

export const OrderEventSchema = z
  .object({
    id: z.string().openapi({ description: "Stable id; the cursor to resume after this event" }),
    type: z.enum(ORDER_EVENT_TYPES).openapi({ example: "order.funded" }),
    chainId: z.number().int(),
    orderId: z.string(),
    status: z.string().openapi({ description: "The order's status after this event", example: "funded" }),
    platform: z.string().openapi({ description: "Owner address of the platform key that created the order" }),
    acceptor: z.string().optional(),
    dealId: z.string().optional(),
    reference: z.string().openapi({ description: "The platform's own reference of the order" }),
    at: z.number().int().openapi({ description: "Unix ms of the change" }),
    message: z
      .object({ hash: z.string(), author: z.string(), role: z.enum(["user", "acceptor", "gateway"]) })
      .optional()
      .openapi({ description: "order.message: the new message's hash, author and role (read its body by the API)" }),
  })
  .openapi("OrderEvent", {
    description:
      "Seen only by keys owned by the order's platform or acceptor, and admin keys (webhooks: endpoints of those owners)",
  });

export const DisputeEventSchema = z
  .object({
    id: z.string().openapi({ description: "Stable id; the cursor to resume after this event" }),
    type: z.enum(DISPUTE_EVENT_TYPES).openapi({ example: "dispute.window_closing" }),
    chainId: z.number().int(),
    dealId: z.string(),
    gateway: z.string().openapi({ description: "The deal's gateway, whose resolution window is closing" }),
    windowEndsAt: z.number().int().openapi({ description: "Unix s: the last second the gateway may rule" }),
    secondsLeft: z.number().int().openapi({ description: "Seconds left in the window when the alert was raised" }),
    at: z.number().int().openapi({ description: "Unix ms of the alert" }),
  })
  .openapi("DisputeEvent", {
    description: "Seen only by keys owned by the deal's gateway, and admin keys (webhooks: endpoints of the gateway)",
  });

export const PublicEventSchema = z.union([ChainEventSchema, OrderEventSchema, DisputeEventSchema]).openapi("AnyEvent");

export const EventPageSchema = z
  .object({
    data: z.array(PublicEventSchema),
    nextCursor: z
      .string()
      .nullable()
      .openapi({ description: "Pass as `after` for what follows (null: the stream is empty and no cursor was given)" }),
  })
  .openapi("EventPage");

/** The events side as the API uses it; absent when the relayer runs without it (routes answer 503). */
export type EventsApi = {
  reader: EventReader;
  tail: Tail;
  /** Live SSE responses, ended on shutdown. */
  streams?: Set<Response>;
  heartbeatMs?: number;
};

const EXPIRED =
  "The cursor is older than the retained events (EVENTS_RETENTION_DAYS): events after it were trimmed. Resync " +
  "the state from GET /v1/deals (and the other reads), then continue from a fresh cursor.";

function matcherOf(types: string | undefined, parameter = "types") {
  const patterns = (types ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (patterns.length > TYPE_PATTERNS_MAX) {
    throw invalidParameters([{ parameter, in: "query", message: `holds more than ${TYPE_PATTERNS_MAX} types` }]);
  }
  const m = typeMatcher(patterns);
  if ("unknown" in m) {
    throw invalidParameters([
      { parameter, in: "query", message: `names no known event type: ${JSON.stringify(m.unknown.slice(0, 64))}` },
    ]);
  }
  return m.match;
}

function positionOf(text: string | undefined, parameter: string, where: "query" | "header"): Position | undefined {
  if (text === undefined) return undefined;
  const p = parseCursor(text);
  if (!p) {
    throw invalidParameters([{ parameter, in: where, message: "is not an event id such as 1764864000000-0" }]);
  }
  return p;
}

const UNAVAILABLE = "This relayer runs without its event stream reader.";

/** The type filter and visibility together: an order event only for its platform's or acceptor's keys, and admin. */
function visibleMatch(match: (type: string) => boolean, res: Response) {
  const key = apiKeyOf(res);
  const reader: Reader = key ? { scope: key.scope, owner: key.owner } : undefined;
  return (type: string, e: PublicEvent) =>
    match(type) &&
    (!isOrderEvent(e) || orderEventVisibleTo(e, reader)) &&
    (!isDisputeEvent(e) || disputeEventVisibleTo(e, reader));
}

export function eventHandlers(events: EventsApi | undefined) {
  const need = () => {
    if (!events) throw new ApiProblem("unavailable", UNAVAILABLE);
    return events;
  };
  const checkExpired = async (reader: EventReader, after: Position | undefined) => {
    if (after && (await reader.expired(after))) throw new ApiProblem("cursor-expired", EXPIRED);
  };

  return {
    async listEvents(req: Request, res: Response) {
      const query = validateQuery(req, EventsQuery);
      const match = matcherOf(query.types);
      const after = positionOf(query.after, "after", "query");
      const { reader } = need();
      await checkExpired(reader, after);
      const page = await reader.page(after, query.limit ?? EVENTS_LIMIT_DEFAULT, visibleMatch(match, res));
      res.json({ data: page.events, nextCursor: page.next ?? query.after ?? null });
    },

    async streamEvents(req: Request, res: Response) {
      const query = validateQuery(req, EventStreamQuery);
      const match = visibleMatch(matcherOf(query.types), res);
      const lastEventId = req.get("last-event-id");
      const after =
        lastEventId !== undefined && lastEventId !== ""
          ? positionOf(lastEventId, "Last-Event-ID", "header")
          : positionOf(query.after, "after", "query");
      const { reader, tail, streams, heartbeatMs = SSE_HEARTBEAT_MS } = need();
      await checkExpired(reader, after);
      // Without a cursor the stream starts at the newest event: a dashboard wants what happens from now on.
      let cursor = after ?? positionOf(await reader.lastId(), "after", "query");

      res.status(200);
      res.setHeader("Content-Type", "text/event-stream; charset=utf-8");
      res.setHeader("Cache-Control", "no-cache");
      res.setHeader("Connection", "keep-alive");
      res.setHeader("X-Accel-Buffering", "no");
      res.flushHeaders();
      res.write(": stream open\n\n");

      let closed = false;
      let reading: Promise<void> | undefined;
      let again = false;
      const send = async () => {
        if (reading) {
          again = true;
          return;
        }
        reading = (async () => {
          do {
            again = false;
            for (;;) {
              if (closed) return;
              const page = await reader.page(cursor, SSE_BATCH, match);
              if (page.next === undefined) break;
              cursor = parseCursor(page.next);
              for (const e of page.events) res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
            }
          } while (again && !closed);
        })()
          .catch(() => {
            // The store is away: end the stream; the client reconnects with Last-Event-ID.
            close();
          })
          .finally(() => {
            reading = undefined;
          });
      };
      const heartbeat = setInterval(() => {
        if (!closed) res.write(": heartbeat\n\n");
        void send();
      }, heartbeatMs);
      const unsubscribe = tail.subscribe(() => void send());
      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        streams?.delete(res);
        res.end();
      };
      streams?.add(res);
      res.once("close", close);
      // Ends the stream on shutdown (the app's stop ends every entry in `streams`).
      (res as Response & { endStream?: () => void }).endStream = close;
      await send();
    },
  };
}

/** Ends every open SSE stream (on shutdown, so the server can close). */
export function endStreams(streams: Set<Response>): void {
  for (const res of [...streams]) {
    const end = (res as Response & { endStream?: () => void }).endStream;
    if (end) end();
    else res.end();
  }
}
