/**
 * Dispute events in the event stream: the gateway's alert that a dispute's resolution window is closing. One XADD
 * entry, field `e`, value `"g" + JSON` with one-letter keys, written once across replicas by the dispute sweeper
 * (relayer/src/disputes/gateway.ts) together with its "alerted" mark. Pure.
 *
 * Who sees a dispute event: keys owned by the deal's gateway and admin keys (GET /v1/events, the SSE stream);
 * webhook endpoints owned by the gateway. Nobody else, and no anonymous reader.
 */

/** Every dispute event type. */
export const DISPUTE_EVENT_TYPES = ["dispute.window_closing"] as const;
export type DisputeEventType = (typeof DISPUTE_EVENT_TYPES)[number];

/** The stream letter of a dispute entry. */
export const DISPUTE_ENTRY_LETTER = "g";

export type DisputeEventInput = {
  type: DisputeEventType;
  dealId: string;
  gateway: string;
  /** Unix s: the last second the gateway may rule. */
  windowEndsAt: number;
  /** Seconds left in the window when the alert was raised. */
  secondsLeft: number;
  /** Unix ms. */
  at: number;
};

/** A dispute event as consumers see it. */
export type DisputeEvent = { id: string; chainId: number } & DisputeEventInput;

/** The value of field `e` of a dispute event's stream entry. */
export function disputeEventValue(e: DisputeEventInput): string {
  return (
    DISPUTE_ENTRY_LETTER +
    JSON.stringify({ t: e.type, d: e.dealId, g: e.gateway, w: e.windowEndsAt, s: e.secondsLeft, at: e.at })
  );
}

const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** The public event of a dispute entry's JSON (the value without its letter), or undefined when malformed. */
export function decodeDisputeEvent(id: string, stored: string, chainId: number): DisputeEvent | undefined {
  let v: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(stored);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
    v = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { t, d, g, w, s, at } = v;
  if (t !== "dispute.window_closing" || typeof d !== "string" || typeof g !== "string") return undefined;
  if (!num(w) || !num(s) || !num(at)) return undefined;
  return { id, type: t, chainId, dealId: d, gateway: g.toLowerCase(), windowEndsAt: w, secondsLeft: s, at };
}

/** Whether an event is a dispute event. */
export const isDisputeEvent = (e: { type: string }): e is DisputeEvent =>
  (DISPUTE_EVENT_TYPES as readonly string[]).includes(e.type);

/** Whether a reader (key scope and owner) or a webhook endpoint's owner sees a dispute event. */
export function disputeEventVisibleTo(
  e: Pick<DisputeEvent, "gateway">,
  reader: { scope?: string; owner: string } | undefined,
) {
  if (!reader) return false;
  if (reader.scope === "admin") return true;
  return reader.owner.toLowerCase() === e.gateway;
}
