/**
 * The public events, read from the store's event stream (written by store/scripts.ts): their model, ids and
 * cursors, pages of them after a cursor, and the retention trim.
 *
 * A stream entry holds one field `e`: a stage letter and the announcement (store.ts announcementOf). `p` is an event
 * announced pending, `f` its finalization, `r` its retraction; `x` — an event committed already final (backfill) —
 * stands for two public events, the event and its finalization. A public event's id is its entry's id
 * (`<ms>-<n>`, the server's clock), and `<ms>-<n>.f` for the finalization half of an `x` entry: ids sort like the
 * stream, are stable across reads, and serve as cursors. `o` is an order event (events/orders.ts), written by the
 * orders side with the order's status change; it has no stages. `g` is a dispute event (events/disputes.ts).
 */
import { decodeAnnouncement, type Announcement } from "../store/store";
import type { RedisClient as Redis } from "../redis";
import { withDeadline, REDIS_TIMEOUT_MS } from "../deadline";
import { publicTypeOf, type Stage } from "./types";
import { decodeOrderEvent, ORDER_ENTRY_LETTER, type OrderEvent } from "./orders";
import { decodeDisputeEvent, DISPUTE_ENTRY_LETTER, type DisputeEvent } from "./disputes";

/** A protocol event as consumers see it. */
export type ChainEvent = { id: string; type: string; chainId: number } & Omit<Announcement, "type">;
/** An event as consumers see it (GET /v1/events, the SSE stream, the `data` of a webhook delivery). */
export type PublicEvent = ChainEvent | OrderEvent | DisputeEvent;

/** Whether an event is an order event (the others are the protocol's). */
export const isOrderEvent = (e: PublicEvent): e is OrderEvent => "orderId" in e;

/** A position in the stream: an entry id, and whether the finalization half of an `x` entry was reached. */
export type Position = { ms: bigint; seq: bigint; half: boolean };

const CURSOR = /^(\d{1,20})-(\d{1,20})(\.f)?$/;

/** The position of a cursor (an event id), or undefined when it is malformed. */
export function parseCursor(text: string): Position | undefined {
  const m = CURSOR.exec(text);
  if (!m) return undefined;
  const ms = BigInt(m[1]);
  const seq = BigInt(m[2]);
  if (ms >= 1n << 64n || seq >= 1n << 64n) return undefined;
  return { ms, seq, half: m[3] !== undefined };
}

const compare = (a: Position, b: Position): number =>
  a.ms !== b.ms ? (a.ms < b.ms ? -1 : 1) : a.seq !== b.seq ? (a.seq < b.seq ? -1 : 1) : Number(a.half) - Number(b.half);

const positionOf = (id: string): Position => parseCursor(id)!;
const entryIdOf = (p: Position) => `${p.ms}-${p.seq}`;

const STAGE_OF: Record<string, Stage | undefined> = { p: undefined, f: "finalized", r: "retracted" };

/** The public events of one stream entry (none for an entry this version does not know). */
export function eventsOfEntry(entryId: string, fields: string[], chainId: number): PublicEvent[] {
  const value = fields[0] === "e" ? fields[1] : undefined;
  if (value === undefined || value.length < 2) return [];
  const letter = value[0];
  if (letter === ORDER_ENTRY_LETTER) {
    const e = decodeOrderEvent(entryId, value.slice(1), chainId);
    return e ? [e] : [];
  }
  if (letter === DISPUTE_ENTRY_LETTER) {
    const e = decodeDisputeEvent(entryId, value.slice(1), chainId);
    return e ? [e] : [];
  }
  let a: Announcement;
  try {
    a = decodeAnnouncement(value.slice(1));
  } catch {
    return [];
  }
  const make = (id: string, stage: Stage | undefined): ChainEvent | undefined => {
    const type = publicTypeOf(a.type, stage);
    if (type === undefined) return undefined;
    const { type: _type, block, blockHash, txHash, logIndex, timestamp, ...subject } = a;
    return {
      id,
      type,
      chainId,
      block,
      blockHash,
      txHash,
      logIndex,
      ...(timestamp === undefined ? {} : { timestamp }),
      ...subject,
    };
  };
  const out =
    letter === "x"
      ? [make(entryId, undefined), make(`${entryId}.f`, "finalized")]
      : letter in STAGE_OF
        ? [make(entryId, STAGE_OF[letter])]
        : [];
  return out.filter((e): e is ChainEvent => e !== undefined);
}

/** Stream entries read per XRANGE. */
const READ_BATCH = 500;

export type EventPage = { events: PublicEvent[]; next?: string };

export type EventReader = ReturnType<typeof createEventReader>;

/**
 * Reads the stream at `streamKey`; `trimmedKey` records the MINID of the last trim that deleted entries (a cursor
 * below it may have missed events: expired).
 */
export function createEventReader({
  redis,
  streamKey,
  trimmedKey,
  chainId,
  timeoutMs = REDIS_TIMEOUT_MS,
}: {
  redis: Redis;
  streamKey: string;
  trimmedKey: string;
  chainId: number;
  timeoutMs?: number;
}) {
  return {
    /** True when events after `after` may have been trimmed away. */
    async expired(after: Position): Promise<boolean> {
      const mark = await withDeadline(redis.get(trimmedKey), timeoutMs, "events trim mark");
      return mark !== null && compare(after, { ...positionOf(mark), half: false }) < 0;
    },

    /**
     * Up to `limit` events after `after` (from the oldest retained without it) that `match`, scanning at most
     * `scan` events; `next` is the id of the last event scanned (matching or not), so a filtered consumer moves on.
     * `match` gets the type and the event (visibility of order events is decided on the event).
     */
    async page(
      after: Position | undefined,
      limit: number,
      match: (type: string, event: PublicEvent) => boolean = () => true,
      scan = limit * 10,
    ): Promise<EventPage> {
      const events: PublicEvent[] = [];
      let cursor = after;
      let scanned = 0;
      let next: string | undefined;
      for (;;) {
        const start = cursor ? entryIdOf(cursor) : "-";
        const entries = await withDeadline(
          redis.xrange(streamKey, start, "+", "COUNT", READ_BATCH),
          timeoutMs,
          "events read",
        );
        let progressed = false;
        for (const [id, fields] of entries) {
          for (const e of eventsOfEntry(id, fields, chainId)) {
            const p = positionOf(e.id);
            if (cursor && compare(p, cursor) <= 0) continue;
            progressed = true;
            cursor = p;
            next = e.id;
            scanned++;
            if (match(e.type, e)) events.push(e);
            if (events.length >= limit || scanned >= scan) return { events, next };
          }
        }
        if (entries.length < READ_BATCH || !progressed) return { events, next };
      }
    },

    /** The id of the newest entry (its last public event), or undefined for an empty stream. */
    async lastId(): Promise<string | undefined> {
      const [last] = await withDeadline(redis.xrevrange(streamKey, "+", "-", "COUNT", 1), timeoutMs, "events tail");
      if (!last) return undefined;
      const events = eventsOfEntry(last[0], last[1], chainId);
      return events.at(-1)?.id ?? last[0];
    },
  };
}

/**
 * Trims the stream to the retention window, at most once per `everyMs` over every process sharing the Redis (the
 * guard key is SET NX PX). KEYS: 1 stream, 2 guard, 3 trimmed mark. ARGV: 1 window ms, 2 every ms.
 * Returns the number of entries deleted, or -1 when another process trimmed within `everyMs`.
 */
export const TRIM_SCRIPT = `
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return -1 end
local t = redis.call('TIME')
local minid = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[1])) .. '-0'
local n = redis.call('XTRIM', KEYS[1], 'MINID', minid)
if n > 0 then redis.call('SET', KEYS[3], minid) end
return n`;

export async function trimEvents(
  redis: Redis,
  keys: { streamKey: string; guardKey: string; trimmedKey: string },
  windowMs: number,
  everyMs: number,
  timeoutMs = REDIS_TIMEOUT_MS,
): Promise<number> {
  const n = await withDeadline(
    redis.eval(TRIM_SCRIPT, 3, keys.streamKey, keys.guardKey, keys.trimmedKey, Math.floor(windowMs), everyMs),
    timeoutMs,
    "events trim",
  );
  return Number(n);
}
