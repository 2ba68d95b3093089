/**
 * Actions a party signs in advance, held by the keeper (relayer/src/disputes/keeper.ts) and sent when they fall
 * due: POST/GET /v1/deals/{dealId}/scheduled and DELETE /v1/deals/{dealId}/scheduled/{action}. The key rules are
 * the confirmations' (write/rules.ts authorize); only the signer's own key forgets a held signature.
 */
import type { Request, Response } from "express";
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { SCHEDULED_NAMES, type ScheduledApi } from "../disputes/keeper";
import { ApiProblem } from "./problems";
import { DealParams, EmptyQuery } from "./schemas";
import { validate, validateBody, validateQuery } from "./validation";
import { MAX_SIGNATURE_BYTES } from "./write-schemas";
import type { KeyIdentity } from "../write/rules";
import { json, problem } from "./responses";

extendZodWithOpenApi(z);

const action = z.enum(SCHEDULED_NAMES, { error: `must be one of ${SCHEDULED_NAMES.join(", ")}` }).openapi({
  description:
    "`claim` (the payee: take an autoRelease deal's payment once its release window has passed), `dispute` (the " +
    "payee: escalate to the gateway once the release window has passed without a release), `release` (the " +
    "payer: pay as soon as the payee has performed), `performed` (the payee: sent while the deal is open)",
});

export const ScheduleBody = z
  .strictObject({
    action,
    signer: z
      .string({ error: "must be a string" })
      .regex(/^0x[0-9a-fA-F]{40}$/, { error: "must be an address: 0x followed by 40 hex digits" })
      .transform((s) => s.toLowerCase())
      .openapi({ description: "Who signed (any case)" }),
    signature: z
      .string({ error: "must be a string" })
      .regex(/^0x([0-9a-fA-F]{2})+$/, { error: "must be 0x-prefixed hex bytes" })
      .refine((s) => (s.length - 2) / 2 <= MAX_SIGNATURE_BYTES, {
        error: `must be at most ${MAX_SIGNATURE_BYTES} bytes`,
      })
      .openapi({ description: "The signer's EIP-712 DealAction signature (key, ERC-1271 or ERC-6492)" }),
    expiry: z
      .union([z.string().regex(/^[0-9]{1,78}$/), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)], {
        error: "must be a non-negative integer (a JSON number or a decimal string)",
      })
      .transform((v) => BigInt(v))
      .refine((v) => v < 1n << 256n, { error: "must fit in 256 bits" })
      .openapi({ type: "string", description: "The `expiry` signed: the action is void after it" }),
  })
  .openapi("ScheduleRequest");

export const ScheduledSchema = z
  .object({
    action,
    signer: z.string(),
    dueAt: z.number().int().nullable().openapi({
      description: "First unix second the escrow accepts it, when time alone decides (claim, dispute); else null",
    }),
    expiry: z.string(),
    state: z.enum(["waiting", "sent", "expired", "void"]).openapi({
      description: "waiting: held; sent: queued (see submission); expired: its expiry passed; void: the deal ended",
    }),
    submission: z.string().nullable(),
    createdAt: z.number().int(),
  })
  .openapi("ScheduledAction");
export const ScheduledListSchema = z
  .object({ dealId: z.string(), items: z.array(ScheduledSchema) })
  .openapi("ScheduledActionList");
export const ScheduledParams = DealParams.extend({ action });

const UNAVAILABLE = "The keeper is off (KEEPER=off, or no signer key): nothing is held or sent for you.";

function keyOf(res: Response): KeyIdentity {
  const key = res.locals.apiKey as KeyIdentity | undefined;
  if (!key) throw new ApiProblem("unauthenticated", "Send an API key: Authorization: Bearer <key>.");
  return key;
}

export function scheduledHandlers(api: ScheduledApi | undefined) {
  const need = () => {
    if (!api) throw new ApiProblem("unavailable", UNAVAILABLE);
    return api;
  };
  const dealIdOf = (req: Request) =>
    validate(DealParams, req.params as Record<string, string>, "path").dealId.toLowerCase();
  return {
    async postScheduled(req: Request, res: Response) {
      const dealId = dealIdOf(req);
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, ScheduleBody);
      res.status(201).json(await need().hold(keyOf(res), dealId, body));
    },
    async listScheduled(req: Request, res: Response) {
      const dealId = dealIdOf(req);
      validateQuery(req, EmptyQuery);
      res.json(await need().list(keyOf(res), dealId));
    },
    async deleteScheduled(req: Request, res: Response) {
      const params = validate(ScheduledParams, req.params as Record<string, string>, "path");
      validateQuery(req, EmptyQuery);
      await need().forget(keyOf(res), params.dealId.toLowerCase(), params.action);
      res.status(204).end();
    },
  };
}

const COMMON = {
  400: problem("Invalid parameter (type invalid-parameter)"),
  401: problem("No API key, or an unknown, revoked or expired one (type unauthenticated)"),
  403: problem("The key may not act on this deal (type forbidden)"),
  404: problem("No deal with this id has been indexed (type deal-not-found)"),
};

/** The scheduled actions' routes, for api/openapi.ts ROUTES. */
export const SCHEDULED_ROUTES = [
  {
    id: "postScheduled" as const,
    method: "post" as const,
    path: "/v1/deals/{dealId}/scheduled",
    operationId: "postScheduled",
    tags: ["write"],
    summary: "Sign an action in advance: the relayer sends it when it falls due",
    description:
      "The signer's EIP-712 DealAction (action Claim, Dispute, Release or Perform) is checked like a confirmation " +
      "(the key's right, the signer's role, the deal's status, the expiry, the signature) and held; the keeper " +
      "sends it as `actWithSig` once the escrow accepts it (claim and dispute: after the release window; release: " +
      "once the payee performed; performed: while open). A new one replaces a held one of the same action. A " +
      "signature cannot be revoked on chain: it stays valid until its expiry, whatever the relayer forgets.",
    request: {
      params: DealParams,
      body: { content: { "application/json": { schema: ScheduleBody } } },
    },
    responses: {
      201: json(ScheduledSchema, "Held"),
      ...COMMON,
      409: problem("The deal can no longer reach the action, or it was sent already (type wrong-status)"),
      422: problem("Wrong signer, expired or invalid signature"),
    },
  },
  {
    id: "listScheduled" as const,
    method: "get" as const,
    path: "/v1/deals/{dealId}/scheduled",
    operationId: "listScheduled",
    tags: ["write"],
    summary: "The actions held for a deal: who signed, when each falls due, its state",
    request: { params: DealParams },
    responses: { 200: json(ScheduledListSchema, "The held actions"), ...COMMON },
  },
  {
    id: "deleteScheduled" as const,
    method: "delete" as const,
    path: "/v1/deals/{dealId}/scheduled/{action}",
    operationId: "deleteScheduled",
    tags: ["write"],
    summary: "Forget a held action (the signer's own key); its signature stays valid on chain until its expiry",
    request: { params: ScheduledParams },
    responses: {
      204: { description: "Forgotten" },
      ...COMMON,
      403: problem("The key may not act on this deal, or is not the signer's (type forbidden)"),
      404: problem("No such deal, or no such action held (type deal-not-found, scheduled-not-found)"),
    },
  },
];
