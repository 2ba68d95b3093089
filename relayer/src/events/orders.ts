/**
 * Order events in the event stream: their public types, the stream value the orders side writes (one XADD entry,
 * field `e`, value `"o" + JSON` with one-letter keys, written together with the order's status change) and its
 * decoding into the public event. Pure.
 *
 * Who sees an order event: the owner of the platform key that created the order, the order's acceptor, and admin
 * keys (GET /v1/events, the SSE stream); webhook endpoints owned by the platform or the acceptor. Nobody else, and
 * no anonymous reader. A projection rebuild deletes the stream, and with it the order events written so far: replay
 * then starts after the rebuild (the orders themselves stay in their own keys).
 */

/** Every order event type. */
export const ORDER_EVENT_TYPES = [
  "order.assigned",
  "order.accepted",
  "order.declined",
  "order.funded",
  "order.paid",
  "order.paid_late",
  "order.released",
  "order.refunded",
  "order.split",
  "order.disputed",
  "order.resolved",
  "order.expired",
  "order.unmatched",
  "order.cancelled",
  // A new message in the order's thread (relayer/src/disputes/messages.ts): its hash, author and role, not its body.
  "order.message",
  "order.chargeback",
] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

const ORDER_TYPE_SET: ReadonlySet<string> = new Set(ORDER_EVENT_TYPES);
export const isOrderEventType = (type: string): type is OrderEventType => ORDER_TYPE_SET.has(type);

/** An order event as the orders side writes it. */
export type OrderEventInput = {
  type: OrderEventType | string;
  orderId: string;
  status: string;
  platform: string;
  acceptor?: string;
  dealId?: string;
  reference: string;
  /** Unix ms. */
  at: number;
  /** order.message: the new message's hash, author and role (never its body). */
  message?: OrderEventMessage;
};

/** The message an order.message event announces. */
export type OrderEventMessage = { hash: string; author: string; role: string };

/** An order event as consumers see it (GET /v1/events, the SSE stream, a webhook delivery's `data`). */
export type OrderEvent = { id: string; type: OrderEventType; chainId: number } & Omit<OrderEventInput, "type">;

/** The stream letter of an order entry. */
export const ORDER_ENTRY_LETTER = "o";

/** The value of field `e` of an order event's stream entry. */
export function orderEventValue(e: OrderEventInput): string {
  const stored: Record<string, string | number | string[]> = { t: e.type, o: e.orderId, s: e.status, p: e.platform };
  if (e.acceptor !== undefined) stored.a = e.acceptor;
  if (e.dealId !== undefined) stored.d = e.dealId;
  stored.r = e.reference;
  stored.at = e.at;
  if (e.message !== undefined) stored.m = [e.message.hash, e.message.author, e.message.role];
  return ORDER_ENTRY_LETTER + JSON.stringify(stored);
}

const str = (v: unknown): v is string => typeof v === "string";

/**
 * The public event of an order entry's JSON (the value without its letter), or undefined when it is malformed or
 * of a type this version does not know.
 */
export function decodeOrderEvent(id: string, stored: string, chainId: number): OrderEvent | undefined {
  let v: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(stored);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
    v = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { t, o, s, p, a, d, r, at, m } = v;
  if (!str(t) || !isOrderEventType(t) || !str(o) || !str(s) || !str(p) || !str(r)) return undefined;
  if (typeof at !== "number" || !Number.isFinite(at)) return undefined;
  if ((a !== undefined && !str(a)) || (d !== undefined && !str(d))) return undefined;
  const message = m === undefined ? undefined : messageOf(m);
  if (m !== undefined && message === undefined) return undefined;
  return {
    id,
    type: t,
    chainId,
    orderId: o,
    status: s,
    platform: p.toLowerCase(),
    ...(a === undefined ? {} : { acceptor: a.toLowerCase() }),
    ...(d === undefined ? {} : { dealId: d }),
    reference: r,
    at,
    ...(message === undefined ? {} : { message }),
  };
}

/** The `m` member of an order.message entry: [hash, author, role], or undefined when malformed. */
function messageOf(m: unknown): OrderEventMessage | undefined {
  if (!Array.isArray(m) || m.length !== 3 || !m.every(str)) return undefined;
  const [hash, author, role] = m as string[];
  return { hash, author: author.toLowerCase(), role };
}

/** Who reads: an API key's scope and owner, or nobody (anonymous). */
export type Reader = { scope: string; owner: string } | undefined;

/** Whether `reader` may see an order event: admin keys, and keys owned by its platform or acceptor. */
export function orderEventVisibleTo(e: Pick<OrderEvent, "platform" | "acceptor">, reader: Reader): boolean {
  if (!reader) return false;
  if (reader.scope === "admin") return true;
  const owner = reader.owner.toLowerCase();
  return owner === e.platform || (e.acceptor !== undefined && owner === e.acceptor);
}

/** Whether a webhook endpoint owned by `owner` receives an order event. */
export const orderEventForOwner = (e: Pick<OrderEvent, "platform" | "acceptor">, owner: string | undefined): boolean =>
  owner !== undefined &&
  (owner.toLowerCase() === e.platform || (e.acceptor !== undefined && owner.toLowerCase() === e.acceptor));
