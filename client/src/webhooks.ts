/**
 * Verifying the relayer's webhook deliveries. Each delivery is a POST whose body is a JSON object
 * `{id, type, sequence, endpointId, createdAt, data}` and whose `Escrow-Signature` header is
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` — with two `v1=` while a secret rotation's grace
 * period lasts, one per secret. Verify the raw body exactly as received (before any JSON parsing), then deduplicate
 * by `id`.
 *
 *   app.post("/escrow-webhook", express.text({ type: "application/json" }), (req, res) => {
 *     const delivery = verifyWebhook({ payload: req.body, header: req.get("escrow-signature") ?? "", secrets: [SECRET] });
 *     ...
 *   });
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { operations } from "./schema";

/** The header the relayer signs deliveries in. */
export const SIGNATURE_HEADER = "Escrow-Signature";

type EventPage = operations["listEvents"]["responses"][200]["content"]["application/json"];
/** An event as GET /v1/events and webhooks deliver it. */
export type EscrowEvent = EventPage["data"][number];

/** A verified delivery. */
export type WebhookDelivery = {
  /** The event's id: deliveries of one event to one endpoint share it (deduplicate by it). */
  id: string;
  type: string;
  /** The endpoint's delivery number: 1, 2, 3… without gaps. */
  sequence: number;
  endpointId: string;
  createdAt: string;
  data: EscrowEvent;
};

export type WebhookFailure =
  "no-secret" | "malformed-header" | "timestamp-out-of-tolerance" | "no-matching-signature" | "malformed-payload";

/** A delivery that must not be trusted; `reason` says why. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: WebhookFailure,
    message: string,
  ) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

const fail = (reason: WebhookFailure, message: string): never => {
  throw new WebhookVerificationError(reason, message);
};

/**
 * Checks `header` (the Escrow-Signature value) against `payload` (the raw body) with each of `secrets` (the
 * endpoint's current secret, and during a rotation the previous one too), and that its time is within
 * `toleranceSeconds` of `now` (unix seconds); returns the parsed delivery or throws a
 * {@link WebhookVerificationError}. Signatures are compared in constant time.
 */
export function verifyWebhook(input: {
  payload: string | Buffer;
  header: string;
  secrets: readonly string[];
  toleranceSeconds?: number;
  now?: number;
}): WebhookDelivery {
  const { header, secrets } = input;
  const tolerance = input.toleranceSeconds ?? 300;
  const now = input.now ?? Math.floor(Date.now() / 1000);
  const usable = secrets.filter((s) => typeof s === "string" && s !== "");
  if (usable.length === 0) fail("no-secret", "No webhook secret to verify with");
  if (typeof header !== "string" || header.length > 4096) fail("malformed-header", "Missing Escrow-Signature header");

  let t: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const at = part.indexOf("=");
    if (at <= 0) continue;
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === "t" && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === "v1" && /^[0-9a-f]{64}$/.test(value)) signatures.push(Buffer.from(value, "hex"));
  }
  if (t === undefined) return fail("malformed-header", "Escrow-Signature has no timestamp (t=)");
  if (signatures.length === 0) return fail("malformed-header", "Escrow-Signature has no v1= signature");
  if (Math.abs(now - t) > tolerance) {
    fail("timestamp-out-of-tolerance", `Escrow-Signature's time is more than ${tolerance} s away from now`);
  }

  const body = Buffer.isBuffer(input.payload) ? input.payload : Buffer.from(input.payload, "utf8");
  let matched = false;
  for (const secret of usable) {
    const expected = createHmac("sha256", secret).update(`${t}.`).update(body).digest();
    // Every pair is compared, a match or not, so the time taken does not tell which one matched.
    for (const signature of signatures) if (timingSafeEqual(signature, expected)) matched = true;
  }
  if (!matched) fail("no-matching-signature", "No Escrow-Signature v1= matches the payload with the given secrets");

  let delivery: unknown;
  try {
    delivery = JSON.parse(body.toString("utf8"));
  } catch {
    return fail("malformed-payload", "The payload is not JSON");
  }
  const d = delivery as Partial<WebhookDelivery> | null;
  if (
    d === null ||
    typeof d !== "object" ||
    typeof d.id !== "string" ||
    typeof d.type !== "string" ||
    typeof d.sequence !== "number" ||
    typeof d.data !== "object" ||
    d.data === null
  ) {
    return fail("malformed-payload", "The payload is not a delivery (id, type, sequence, data)");
  }
  return delivery as WebhookDelivery;
}
