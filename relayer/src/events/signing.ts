/**
 * Webhook signatures: `Escrow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, one `v1=`
 * per valid secret (two during a rotation's grace period). Pure but for the clock and the random secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "Escrow-Signature";
/** A receiver's default tolerance for the signature's age, in seconds (against replays). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** A new endpoint secret: `whsec_` and 32 random bytes, hex. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString("hex")}`;

export const signPayload = (secret: string, t: number, body: string): string =>
  createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");

/** The header's value for `body` signed at `t` with every secret in `secrets`. */
export function signatureHeader(secrets: readonly string[], t: number, body: string): string {
  return [`t=${t}`, ...secrets.map((s) => `v1=${signPayload(s, t, body)}`)].join(",");
}

/**
 * A receiver's check: true when the header carries a `v1` signature of `body` by `secret` and its time is within
 * `toleranceSeconds` of `now` (unix seconds). Compares in constant time.
 */
export function verifySignature(
  header: string,
  body: string,
  secret: string,
  now = Math.floor(Date.now() / 1000),
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  const parts = header.split(",").map((p) => p.trim().split("=", 2) as [string, string | undefined]);
  const t = Number(parts.find(([k]) => k === "t")?.[1]);
  if (!Number.isInteger(t) || Math.abs(now - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signPayload(secret, t, body), "hex");
  return parts.some(([k, v]) => {
    if (k !== "v1" || v === undefined || !/^[0-9a-f]{64}$/.test(v)) return false;
    return timingSafeEqual(Buffer.from(v, "hex"), expected);
  });
}
