/**
 * One webhook request: POST the body, signed, to the endpoint's URL with a deadline; the answer's status or the
 * failure's text. Connects only to addresses ssrf.ts allows (checked at connect time) unless private ones are.
 */
import http from "node:http";
import https from "node:https";
import { guardedLookup } from "./ssrf";
import { SIGNATURE_HEADER, signatureHeader } from "./signing";

/** Longest error text kept in the delivery log. */
export const ERROR_TEXT_MAX = 200;
/** Most bytes of a receiver's answer read (the rest is dropped). */
const RESPONSE_READ_MAX = 4_096;

export type DeliveryOutcome = { ok: boolean; status?: number; durationMs: number; error?: string };

export const clipError = (text: string) => (text.length > ERROR_TEXT_MAX ? `${text.slice(0, ERROR_TEXT_MAX)}…` : text);

export function postWebhook(input: {
  url: string;
  body: string;
  secrets: string[];
  eventId: string;
  eventType: string;
  timeoutMs: number;
  allowPrivate: boolean;
}): Promise<DeliveryOutcome> {
  const started = performance.now();
  const t = Math.floor(Date.now() / 1000);
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Omit<DeliveryOutcome, "durationMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...outcome, durationMs: Math.round(performance.now() - started) });
    };
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      done({ ok: false, error: "invalid URL" });
      return;
    }
    const transport = url.protocol === "https:" ? https : http;
    const req = transport.request(
      url,
      {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(input.body),
          "User-Agent": "usdt-escrow-relayer-webhooks/1",
          [SIGNATURE_HEADER]: signatureHeader(input.secrets, t, input.body),
          "Escrow-Event-Id": input.eventId,
          "Escrow-Event-Type": input.eventType,
        },
        agent: false,
        ...(input.allowPrivate ? {} : { lookup: guardedLookup }),
      },
      (res) => {
        let read = 0;
        res.on("data", (chunk: Buffer) => {
          read += chunk.length;
          if (read > RESPONSE_READ_MAX) res.destroy();
        });
        const status = res.statusCode ?? 0;
        const finish = () =>
          done(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `HTTP ${status}` });
        res.on("end", finish);
        res.on("close", finish);
        res.on("error", finish);
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${input.timeoutMs} ms`));
    }, input.timeoutMs);
    req.on("error", (error) => done({ ok: false, error: clipError(error.message) }));
    req.end(input.body);
  });
}
