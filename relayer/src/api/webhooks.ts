/**
 * Webhook endpoints: register (the secret shown once), list, read, delete, rotate the secret, read the delivery log
 * and redeliver. Keys of scope platform, acceptor (its order events), gateway (its dispute alerts) or admin only;
 * an endpoint belongs to the address its key acts for, and another owner's endpoint is answered as not found. The delivery machinery is relayer/src/events/webhooks.ts.
 */
import type { Request, Response } from "express";
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { ENDPOINTS_PER_OWNER_MAX, ENDPOINT_ID, type Endpoints } from "../events/endpoints";
import { refuseTarget } from "../events/ssrf";
import { TYPE_PATTERN, TYPE_PATTERNS_MAX, typeMatcher } from "../events/types";
import { ApiProblem } from "./problems";
import { keyWithScope } from "./scope";
import { EmptyQuery } from "./schemas";
import { invalidParameters, validate, validateBody, validateQuery } from "./validation";

extendZodWithOpenApi(z);

/** Longest endpoint URL and description. */
export const URL_MAX = 2_048;
export const DESCRIPTION_MAX = 200;

export const WebhookEndpointBody = z
  .strictObject({
    url: z.string().min(1).max(URL_MAX).openapi({ example: "https://platform.example/hooks/escrow" }),
    types: z
      .array(z.string().regex(TYPE_PATTERN, { error: "must be an event type or a pattern such as deal.*" }))
      .min(1)
      .max(TYPE_PATTERNS_MAX)
      .optional()
      .openapi({ description: "Event types to receive (`*` wildcards); default every type" }),
    description: z
      .string()
      .max(DESCRIPTION_MAX)
      .regex(/^[\x20-\x7e\u00a0-\uffff]*$/, { error: "must be printable text" })
      .optional(),
  })
  .openapi("WebhookEndpointRequest");

export const WebhookEndpointParams = z.object({
  id: z.string().regex(ENDPOINT_ID, { error: "must be a webhook endpoint id (we_ and 16 hex digits)" }),
});
export const WebhookDeliveryParams = WebhookEndpointParams.extend({
  deliveryId: z
    .string()
    .regex(/^\d{1,20}-\d{1,20}(\.f)?$/, { error: "must be a delivery id (the event's id)" })
    .openapi({ description: "A delivery's id: the id of the event it delivers" }),
});

export const WebhookEndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    types: z.array(z.string()),
    description: z.string().optional(),
    createdAt: z.string(),
    previousSecretExpiresAt: z.string().optional().openapi({ description: "Until when the rotated-out secret signs" }),
  })
  .openapi("WebhookEndpoint");
export const WebhookEndpointWithSecretSchema = WebhookEndpointSchema.extend({
  secret: z.string().openapi({ description: "Shown only in this answer: keep it to verify signatures" }),
}).openapi("WebhookEndpointWithSecret");
export const WebhookEndpointListSchema = z.object({ data: z.array(WebhookEndpointSchema) });
export const WebhookDeliverySchema = z
  .object({
    deliveryId: z.string(),
    eventId: z.string(),
    type: z.string(),
    sequence: z.number().int(),
    attempt: z.number().int(),
    outcome: z.enum(["delivered", "failed"]),
    status: z.number().int().optional(),
    durationMs: z.number(),
    error: z.string().optional(),
    at: z.string(),
  })
  .openapi("WebhookDelivery");
export const WebhookDeliveryListSchema = z.object({ data: z.array(WebhookDeliverySchema) });

export type WebhooksApi = {
  endpoints: Endpoints;
  redeliver(endpointId: string, eventId: string): Promise<boolean>;
  /** Grace of a rotated-out secret, ms. */
  graceMs: number;
  allowPrivate: boolean;
};

const UNAVAILABLE = "Webhooks need API keys and the event dispatcher, which this relayer does not run.";

/** The owner of the key: an acceptor registers one to follow its orders (order events go to its address too). */
const ownerOf = (res: Response): string =>
  keyWithScope(res, ["platform", "acceptor", "gateway", "admin"], "Webhook endpoints need").owner;

const notFound = (id: string) => new ApiProblem("webhook-endpoint-not-found", `No webhook endpoint ${id} of yours.`);

export function webhookHandlers(webhooks: WebhooksApi | undefined) {
  const need = () => {
    if (!webhooks) throw new ApiProblem("unavailable", UNAVAILABLE);
    return webhooks;
  };
  const idOf = (req: Request) => validate(WebhookEndpointParams, req.params as Record<string, string>, "path").id;

  return {
    async createWebhookEndpoint(req: Request, res: Response) {
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, WebhookEndpointBody);
      const owner = ownerOf(res);
      const w = need();
      const types = body.types ?? ["*"];
      const m = typeMatcher(types);
      if ("unknown" in m) {
        throw invalidParameters([
          { parameter: "types", in: "body", message: `names no known event type: ${JSON.stringify(m.unknown)}` },
        ]);
      }
      const refusal = await refuseTarget(body.url, w.allowPrivate);
      if (refusal) throw new ApiProblem("webhook-url-refused", `The webhook URL ${refusal}.`);
      if ((await w.endpoints.count(owner)) >= ENDPOINTS_PER_OWNER_MAX) {
        throw new ApiProblem("too-many-endpoints", `An owner may have at most ${ENDPOINTS_PER_OWNER_MAX} endpoints.`);
      }
      const { endpoint, secret } = await w.endpoints.create(owner, {
        url: body.url,
        types,
        description: body.description,
      });
      res.setHeader("Location", `/v1/webhook-endpoints/${endpoint.id}`);
      res.status(201).json({ ...endpoint, secret });
    },

    async listWebhookEndpoints(req: Request, res: Response) {
      validateQuery(req, EmptyQuery);
      const owner = ownerOf(res);
      res.json({ data: await need().endpoints.list(owner) });
    },

    async getWebhookEndpoint(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      const owner = ownerOf(res);
      const endpoint = await need().endpoints.get(owner, id);
      if (!endpoint) throw notFound(id);
      res.json(endpoint);
    },

    async deleteWebhookEndpoint(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      const owner = ownerOf(res);
      if (!(await need().endpoints.remove(owner, id))) throw notFound(id);
      res.status(204).end();
    },

    async rotateWebhookSecret(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      const owner = ownerOf(res);
      const w = need();
      const rotated = await w.endpoints.rotate(owner, id, w.graceMs);
      if (!rotated) throw notFound(id);
      res.json({ ...rotated.endpoint, secret: rotated.secret });
    },

    async listWebhookDeliveries(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      const owner = ownerOf(res);
      const log = await need().endpoints.deliveries(owner, id);
      if (!log) throw notFound(id);
      res.json({ data: log });
    },

    async redeliverWebhook(req: Request, res: Response) {
      const { id, deliveryId } = validate(WebhookDeliveryParams, req.params as Record<string, string>, "path");
      validateQuery(req, EmptyQuery);
      const owner = ownerOf(res);
      const w = need();
      if (!(await w.endpoints.owned(owner, id))) throw notFound(id);
      if (!(await w.redeliver(id, deliveryId))) {
        throw new ApiProblem(
          "delivery-not-found",
          `No delivery ${deliveryId} to endpoint ${id} is kept (never made, or past retention).`,
        );
      }
      res.status(202).json({ endpointId: id, deliveryId, queued: true });
    },
  };
}
