/**
 * The gateway's dispute desk over HTTP: its queue (GET /v1/gateway/disputes, one dispute with its history at
 * /v1/gateway/disputes/{dealId}), rulings (typed data, signed rulings) and the ruling of a resolved deal. The use
 * cases live in relayer/src/disputes/gateway.ts.
 */
import type { Request, Response } from "express";
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { REASONS_MAX_CHARS, type GatewayDesk } from "../disputes/gateway";
import { ApiProblem } from "./problems";
import { keyWithScope } from "./scope";
import { DealParams, DealViewSchema, EmptyQuery } from "./schemas";
import { SubmissionSchema, TypedDataSchema } from "./write-schemas";
import { validate, validateBody, validateQuery } from "./validation";
import type { KeyIdentity } from "../write/rules";
import type { Route } from "./openapi";
import { json, problem } from "./responses";

extendZodWithOpenApi(z);

const HEX20 = /^0x[0-9a-fA-F]{40}$/;
const QUEUE_LIMIT_MAX = 200;
const QUEUE_LIMIT_DEFAULT = 50;

const address = (description: string) =>
  z
    .string({ error: "must be a string" })
    .regex(HEX20, { error: "must be an address: 0x followed by 40 hex digits" })
    .transform((s) => s.toLowerCase())
    .openapi({ description: `${description} (any case)`, example: `0x${"12".repeat(20)}` });

const uint = (bits: number, description: string) =>
  z
    .union([z.string().regex(/^[0-9]{1,78}$/), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)], {
      error: "must be a non-negative integer (a JSON number or a decimal string)",
    })
    .transform((v) => BigInt(v))
    .refine((v) => v < 1n << BigInt(bits), { error: `must fit in ${bits} bits` })
    .openapi({ description, type: "string", example: "70000000" });

const reasons = z
  .string({ error: "must be a string" })
  .min(1, { error: "must not be empty: a ruling gives its reasons" })
  .max(REASONS_MAX_CHARS, { error: `must be at most ${REASONS_MAX_CHARS} characters` })
  .openapi({ description: "The ruling's written reasons; keccak256 of their UTF-8 text goes on-chain" });

const payeeAmount = uint(96, "What the payee gets (before the gateway's fee); the rest is refunded to the payer");

export const GatewayQueueQuery = z.strictObject({
  gateway: address("Admin keys only: the gateway whose queue to read (default: every dispute)").optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, { error: `must be an integer from 1 to ${QUEUE_LIMIT_MAX}` })
    .transform(Number)
    .pipe(z.number().int().min(1).max(QUEUE_LIMIT_MAX))
    .optional()
    .openapi({ type: "integer", minimum: 1, maximum: QUEUE_LIMIT_MAX, default: QUEUE_LIMIT_DEFAULT }),
  cursor: z
    .string()
    .regex(/^[0-9]{1,6}$/, { error: "must be a cursor returned as nextCursor" })
    .optional()
    .openapi({ description: "nextCursor of the previous page" }),
});

export const RulingTypedDataBody = z
  .strictObject({ payeeAmount, reasons, signer: address("Who will sign: the deal's gateway or an arbiter").optional() })
  .openapi("RulingTypedDataRequest");

export const RulingBody = z
  .strictObject({
    payeeAmount,
    reasons,
    signer: address("Who signed: the deal's gateway or an arbiter"),
    signature: z
      .string({ error: "must be a string" })
      .regex(/^0x([0-9a-fA-F]{2}){1,8192}$/, { error: "must be 0x-prefixed hex bytes (at most 8192)" }),
    expiry: uint(256, "The signed expiry"),
  })
  .openapi("RulingRequest");

const PartyStatsSchema = z
  .object({
    address: z.string(),
    deals: z.number().int().openapi({ description: "Deals read (the latest, at most 200)" }),
    asPayer: z.number().int(),
    asPayee: z.number().int(),
    released: z.number().int(),
    refunded: z.number().int(),
    split: z.number().int(),
    resolved: z.number().int(),
    disputed: z.number().int().openapi({ description: "Deals that went through a dispute" }),
    completionRate: z.number().nullable().openapi({
      description: "Final deals that ended released or split ÷ final deals (released, refunded, split, resolved)",
    }),
    truncated: z.boolean().openapi({ description: "More deals exist than were read" }),
  })
  .openapi("PartyStats");

export const DisputeItemSchema = z
  .object({
    dealId: z.string(),
    deal: DealViewSchema,
    heldByGateway: z.boolean().openapi({ description: "false: the gateway does not hold it, the arbiter rules" }),
    ruler: z.enum(["gateway", "arbiter"]),
    windowEndsAt: z.number().int().openapi({ description: "Unix s: the last second the gateway may rule" }),
    secondsLeft: z.number().int(),
    orderId: z.string().nullable(),
    parties: z.object({ payer: PartyStatsSchema, payee: PartyStatsSchema }),
  })
  .openapi("GatewayDispute");

export const DisputeQueueSchema = z
  .object({
    gateway: z.string().nullable(),
    alertSeconds: z.number().int().openapi({ description: "DISPUTE_ALERT_S: a window closing within it is alerted" }),
    data: z.array(DisputeItemSchema),
    total: z.number().int(),
    nextCursor: z.string().nullable(),
  })
  .openapi("GatewayDisputeQueue");

export const RulingTypedDataSchema = TypedDataSchema.extend({ reasonsHash: z.string() }).openapi(
  "RulingTypedDataResponse",
);

export const RulingAcceptedSchema = z
  .object({ dealId: z.string(), payeeAmount: z.string(), reasonsHash: z.string(), submission: SubmissionSchema })
  .openapi("RulingAccepted");

export const RulingSchema = z
  .object({
    dealId: z.string(),
    payeeAmount: z.string().openapi({ description: "What the ruling gave the payee: its net plus the gateway's fee" }),
    payeeNet: z.string(),
    fee: z.string(),
    refund: z.string(),
    reasons: z.string().nullable().openapi({ description: "The text whose hash is on-chain; null when unknown here" }),
    reasonsHash: z.string(),
    ruledBy: z.string().nullable(),
    txHash: z.string().nullable(),
  })
  .openapi("Ruling");

const UNAVAILABLE = "This relayer runs without the dispute desk (no API keys or write side).";

const dealIdOf = (req: Request) =>
  validate(DealParams, req.params as Record<string, string>, "path").dealId.toLowerCase();

export function gatewayHandlers(desk: GatewayDesk | undefined) {
  const need = () => {
    if (!desk) throw new ApiProblem("unavailable", UNAVAILABLE);
    return desk;
  };
  const keyOf = (res: Response, ...scopes: KeyIdentity["scope"][]) =>
    keyWithScope(res, [...scopes, "admin"], "The dispute desk needs");
  return {
    async listGatewayDisputes(req: Request, res: Response) {
      const q = validateQuery(req, GatewayQueueQuery);
      const key = keyOf(res, "gateway");
      const page = await need().queue(key, {
        gateway: q.gateway,
        limit: q.limit ?? QUEUE_LIMIT_DEFAULT,
        offset: q.cursor === undefined ? 0 : Number(q.cursor),
      });
      res.setHeader("Cache-Control", "no-store");
      res.json({
        gateway: page.gateway,
        alertSeconds: page.alertSeconds,
        data: page.data,
        total: page.total,
        nextCursor: page.next === null ? null : String(page.next),
      });
    },

    async getGatewayDispute(req: Request, res: Response) {
      const dealId = dealIdOf(req);
      validateQuery(req, EmptyQuery);
      res.setHeader("Cache-Control", "no-store");
      res.json(await need().dispute(keyOf(res, "gateway"), dealId));
    },

    async rulingTypedData(req: Request, res: Response) {
      const dealId = dealIdOf(req);
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, RulingTypedDataBody);
      res.json(await need().rulingTypedData(keyOf(res, "gateway"), dealId, body));
    },

    async postRuling(req: Request, res: Response) {
      const dealId = dealIdOf(req);
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, RulingBody);
      res.status(202).json(await need().rule(keyOf(res, "gateway"), dealId, body));
    },

    async getRuling(req: Request, res: Response) {
      const dealId = dealIdOf(req);
      validateQuery(req, EmptyQuery);
      res.json(await need().ruling(keyOf(res, "party", "acceptor", "gateway", "platform"), dealId));
    },
  };
}

const params = { params: DealParams };

/** The desk's routes, for api/openapi.ts ROUTES. */
export const GATEWAY_ROUTES: Route[] = [
  {
    id: "listGatewayDisputes",
    method: "get",
    path: "/v1/gateway/disputes",
    operationId: "listGatewayDisputes",
    tags: ["disputes"],
    summary: "The gateway's disputes, least time left in the resolution window first",
    description:
      "Gateway keys (owner a registered gateway) read their own queue; admin keys any (`gateway`) or all. Each " +
      "dispute carries the deal, whether the gateway holds it (else the arbiter rules), the window's end, the " +
      "order (if any) and both parties' history over their latest 200 deals.",
    request: { query: GatewayQueueQuery },
    responses: {
      200: json(DisputeQueueSchema, "A page of the queue"),
      400: problem("Invalid parameter (type invalid-parameter)"),
      403: problem("Not a gateway key of a registered gateway, nor admin (type forbidden)"),
    },
  },
  {
    id: "getGatewayDispute",
    method: "get",
    path: "/v1/gateway/disputes/{dealId}",
    operationId: "getGatewayDispute",
    tags: ["disputes"],
    summary: "One dispute of the gateway's queue, with the deal's history",
    request: params,
    responses: {
      200: json(DisputeItemSchema, "The dispute"),
      400: problem("Invalid parameter (type invalid-parameter)"),
      403: problem("Not this deal's gateway's key, nor admin (type forbidden)"),
      404: problem("No such deal (type deal-not-found)"),
      409: problem("The deal is not disputed (type wrong-status)"),
    },
  },
  {
    id: "rulingTypedData",
    method: "post",
    path: "/v1/deals/{dealId}/ruling/typed-data",
    operationId: "rulingTypedData",
    tags: ["disputes"],
    summary: "The EIP-712 Resolution to sign for a ruling, its `reasons` the hash of the written reasons",
    request: { ...params, body: { content: { "application/json": { schema: RulingTypedDataBody } } } },
    responses: {
      200: json(RulingTypedDataSchema, "The typed data, its expiry and the reasons' hash"),
      400: problem("Invalid body (type invalid-parameter)"),
      403: problem("Not the key of the deal's gateway or of an arbiter, nor admin (type forbidden)"),
      404: problem("No such deal (type deal-not-found)"),
      409: problem("The deal is not disputed (type wrong-status)"),
      422: problem("payeeAmount over the deal's amount, or a signer who may not rule"),
    },
  },
  {
    id: "postRuling",
    method: "post",
    path: "/v1/deals/{dealId}/rulings",
    operationId: "postRuling",
    tags: ["disputes"],
    summary: "A signed ruling: checked, its reasons kept, sent as resolveWithSig",
    request: { ...params, body: { content: { "application/json": { schema: RulingBody } } } },
    responses: {
      202: json(RulingAcceptedSchema, "Queued"),
      400: problem("Invalid body (type invalid-parameter)"),
      403: problem("Not the key of the deal's gateway or of an arbiter, nor admin (type forbidden)"),
      404: problem("No such deal (type deal-not-found)"),
      409: problem("The deal is not disputed (type wrong-status)"),
      422: problem(
        "A signer who may not rule (wrong-signer), a signature that does not verify or expired, an amount over the " +
          "deal's, or a call the escrow would refuse (would-revert: e.g. the window closed)",
      ),
    },
  },
  {
    id: "getRuling",
    method: "get",
    path: "/v1/deals/{dealId}/ruling",
    operationId: "getRuling",
    tags: ["disputes"],
    summary: "The ruling of a resolved deal: amounts, the reasons' text, who ruled, the transaction",
    request: params,
    responses: {
      200: json(RulingSchema, "The ruling"),
      400: problem("Invalid parameter (type invalid-parameter)"),
      403: problem("Not the deal's parties', gateway's, ref platform's or an admin key (type forbidden)"),
      404: problem("No such deal (type deal-not-found)"),
      409: problem("The deal is not resolved (type wrong-status)"),
    },
  },
];
