/**
 * The acceptor's desk over HTTP: its off-chain profile (GET/PUT /v1/acceptor/profile) and its heartbeat with the
 * online switch (POST /v1/acceptor/heartbeat). Acceptor-scope keys only; the key's owner is the acceptor.
 */
import type { Request, Response } from "express";
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import type { AcceptorView } from "../domain/views";
import { acceptorProfileSchema, chargebacks30d, type Desk } from "../orders/desk";
import { ApiProblem } from "./problems";
import { keyWithScope } from "./scope";
import { AcceptorViewSchema, EmptyQuery } from "./schemas";
import { validateBody, validateQuery } from "./validation";
import { json, problem } from "./responses";

extendZodWithOpenApi(z);

export const AcceptorProfileBody = acceptorProfileSchema.openapi("AcceptorProfile", {
  description:
    "rates: fiat per whole token per currency (decimal text); methods: per method name (`RAIL:CUR`) the order " +
    "amounts accepted (token base units), the payment details shown to the payer and an optional " +
    "maxChargebacks (30-day chargebacks at which buy orders stop matching); autoAccept; paused (a " +
    "break: no new orders); hours: business hours in UTC (absent = always; days 1 = Monday … 7 = Sunday; " +
    "from > to runs overnight).",
});

export const AcceptorStatsSchema = z
  .object({
    assigned: z.number().int(),
    completed: z.number().int(),
    declined: z.number().int(),
    timedOut: z.number().int(),
    medianResponseMs: z.number().optional().openapi({ description: "Median of the last 50 response times" }),
    chargebacks30d: z
      .record(z.string(), z.number().int())
      .openapi({ description: "Per method, the orders it flagged as charged back in the last 30 days" }),
  })
  .openapi("AcceptorStats");

export const AcceptorProfileViewSchema = z
  .object({
    acceptor: z.string(),
    profile: z.union([AcceptorProfileBody, z.null()]).openapi({ description: "null until the first PUT" }),
    online: z.boolean().openapi({ description: "The online switch (matching also needs a recent heartbeat)" }),
    lastHeartbeat: z.number().int().nullable().openapi({ description: "Unix ms of the last heartbeat" }),
    onChain: z
      .union([AcceptorViewSchema, z.null()])
      .openapi({ description: "The registry's record, null if not registered" }),
    stats: AcceptorStatsSchema,
  })
  .openapi("AcceptorProfileView");

export const HeartbeatBody = z
  .strictObject({ online: z.boolean().optional().openapi({ description: "Sets the online switch" }) })
  .openapi("AcceptorHeartbeatRequest");
export const HeartbeatSchema = z
  .object({ lastHeartbeat: z.number().int(), online: z.boolean() })
  .openapi("AcceptorHeartbeat");

const UNAVAILABLE = "The acceptor desk needs API keys and Redis' write side, which this relayer does not run.";

/** The acceptor a key acts for: acceptor-scope keys only. */
const acceptorOf = (res: Response): string =>
  keyWithScope(res, ["acceptor"], "The acceptor desk needs").owner.toLowerCase();

/**
 * Handlers of the desk's routes. `onChain` reads the acceptor's registry record from the projection (null when it
 * is not registered); without a desk every route answers 503.
 */
export function acceptorProfileHandlers(
  desk: Desk | undefined,
  onChain: (acceptor: string) => Promise<AcceptorView | null> = async () => null,
) {
  const need = () => {
    if (!desk) throw new ApiProblem("unavailable", UNAVAILABLE);
    return desk;
  };
  async function view(acceptor: string) {
    const d = need();
    const [entry, record] = await Promise.all([d.getProfile(acceptor), onChain(acceptor)]);
    return {
      acceptor,
      profile: entry.profile ?? null,
      online: entry.online,
      lastHeartbeat: entry.lastHeartbeat ?? null,
      onChain: record,
      stats: { ...entry.stats, chargebacks30d: chargebacks30d(entry.chargebacks, Date.now()) },
    };
  }
  return {
    async getAcceptorProfile(req: Request, res: Response) {
      validateQuery(req, EmptyQuery);
      res.json(await view(acceptorOf(res)));
    },

    async putAcceptorProfile(req: Request, res: Response) {
      validateQuery(req, EmptyQuery);
      const acceptor = acceptorOf(res);
      const profile = validateBody(req, AcceptorProfileBody);
      await need().setProfile(acceptor, profile);
      res.json(await view(acceptor));
    },

    async postAcceptorHeartbeat(req: Request, res: Response) {
      validateQuery(req, EmptyQuery);
      const acceptor = acceptorOf(res);
      if (req.body === undefined) req.body = {};
      const body = validateBody(req, HeartbeatBody);
      res.json(await need().heartbeat(acceptor, body.online));
    },
  };
}

const AUTH = {
  401: problem("No API key, or an unknown, revoked or expired one (type unauthenticated)"),
  403: problem("The key's scope is not acceptor (type forbidden)"),
};

/** The desk's routes, for api/openapi.ts ROUTES. */
export const ACCEPTOR_PROFILE_ROUTES = [
  {
    id: "getAcceptorProfile" as const,
    method: "get" as const,
    path: "/v1/acceptor/profile",
    operationId: "getAcceptorProfile",
    tags: ["acceptor"],
    summary: "The key's acceptor: its off-chain profile, online state, registry record and outcome stats",
    responses: {
      200: json(AcceptorProfileViewSchema, "The acceptor's desk"),
      400: problem("Invalid parameter (type invalid-parameter)"),
      ...AUTH,
    },
  },
  {
    id: "putAcceptorProfile" as const,
    method: "put" as const,
    path: "/v1/acceptor/profile",
    operationId: "putAcceptorProfile",
    tags: ["acceptor"],
    summary: "Replace the acceptor's off-chain profile (rates, method limits and payment details, switches, hours)",
    description:
      "Matching offers an order to an acceptor only if the profile quotes the order's currency, lists its method " +
      "(and the registry does too), its limits allow the amount, it is not paused, within its hours, and online " +
      "(switch on and a heartbeat within ACCEPTOR_HEARTBEAT_MS).",
    request: { body: { content: { "application/json": { schema: AcceptorProfileBody } } } },
    responses: {
      200: json(AcceptorProfileViewSchema, "Stored; the acceptor's desk"),
      400: problem("Invalid profile: the problem's `errors` name each member and the reason (type invalid-parameter)"),
      ...AUTH,
    },
  },
  {
    id: "postAcceptorHeartbeat" as const,
    method: "post" as const,
    path: "/v1/acceptor/heartbeat",
    operationId: "postAcceptorHeartbeat",
    tags: ["acceptor"],
    summary: "I am here: records a heartbeat and optionally sets the online switch",
    description: "Send one at least every ACCEPTOR_HEARTBEAT_MS while taking orders; `online: false` stops new orders.",
    request: { body: { content: { "application/json": { schema: HeartbeatBody } } } },
    responses: {
      200: json(HeartbeatSchema, "Recorded"),
      400: problem("Invalid body (type invalid-parameter)"),
      ...AUTH,
    },
  },
];
