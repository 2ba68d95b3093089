/**
 * The orders API: a platform's orders (platform key), an acceptor's assigned orders (acceptor key) and the
 * checkout a user pays through (no key: the order id, random and unguessable, is the capability). Schemas here
 * validate the requests and make the OpenAPI document; the use cases live in relayer/src/orders/service.ts.
 */
import type { Request, Response } from "express";
import { z } from "zod";
import type { OrdersApi } from "../orders/service";
import { ORDER_ID, type OrderStatus } from "../orders/model";
import type { KeyIdentity } from "../write/rules";
import { CONFIRMATION_NAMES } from "../write/rules";
import { decodeCursor, encodeCursor } from "./cursor";
import { ApiProblem } from "./problems";
import { keyWithScope } from "./scope";
import { EmptyQuery, LIMIT_DEFAULT, LIMIT_MAX, LIMIT_MIN, CURSOR_MAX_LENGTH } from "./schemas";
import { validate, validateBody, validateQuery } from "./validation";

const HEX20 = /^0x[0-9a-fA-F]{40}$/;

export const ORDER_STATUSES = [
  "assigned",
  "accepted",
  "funded",
  "paid",
  "released",
  "refunded",
  "split",
  "resolved",
  "disputed",
  "expired",
  "unmatched",
  "cancelled",
] as const satisfies readonly OrderStatus[];

const address = (description: string) =>
  z
    .string({ error: "must be a string" })
    .regex(HEX20, { error: "must be an address: 0x followed by 40 hex digits" })
    .transform((s) => s.toLowerCase())
    .openapi({ description: `${description} (any case)`, example: `0x${"12".repeat(20)}` });

const uintString = (description: string) =>
  z
    .union([z.string().regex(/^[0-9]{1,78}$/), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)], {
      error: "must be a non-negative integer (a JSON number or a decimal string)",
    })
    .transform((v) => BigInt(v))
    .openapi({ type: "string", description, example: "1735689600" });

const signature = z
  .string({ error: "must be a string" })
  .regex(/^0x([0-9a-fA-F]{2}){1,8192}$/, { error: "must be 0x-prefixed hex bytes (at most 8192)" })
  .openapi({ description: "The EIP-712 signature of the typed data returned for it" });

export const OrderParams = z.object({
  id: z
    .string()
    .regex(ORDER_ID, { error: "must be an order id: ord_ followed by 24 hex digits" })
    .openapi({ description: "Order id", example: `ord_${"0a".repeat(12)}` }),
});

export const CheckoutParams = z.object({
  orderId: z
    .string()
    .regex(ORDER_ID, { error: "must be an order id: ord_ followed by 24 hex digits" })
    .openapi({ description: "Order id", example: `ord_${"0a".repeat(12)}` }),
});

/** Printable text without control characters (names, reasons). */
const PRINTABLE = /^[^\p{Cc}\p{Cs}\p{Co}\p{Cn}]*$/u;

const personName = (description: string) =>
  z
    .string({ error: "must be a string" })
    .trim()
    .min(1, { error: "must be 1 to 140 characters" })
    .max(140, { error: "must be 1 to 140 characters" })
    .regex(PRINTABLE, { error: "must be printable characters, no line breaks" })
    .openapi({ description, example: "John Doe" });

export const CreateOrderBody = z
  .strictObject({
    side: z.enum(["buy", "sell"], { error: "must be buy or sell" }).openapi({
      description: "`buy`: the user pays fiat and receives USDT; `sell`: the user pays USDT and receives fiat",
    }),
    amount: z
      .string({ error: "must be a decimal string" })
      .regex(/^[1-9][0-9]{0,28}$/, { error: "must be a positive integer in the token's base units" })
      .openapi({ description: "Token amount in base units", example: "100000000" }),
    token: address("Token (USDT)"),
    currency: z
      .string({ error: "must be a string" })
      .regex(/^[A-Za-z]{3}$/, { error: "must be an ISO 4217 code, e.g. EUR" })
      .transform((s) => s.toUpperCase())
      .openapi({ description: "Fiat currency (ISO 4217)", example: "EUR" }),
    method: z
      .string({ error: "must be a string" })
      .regex(/^[A-Za-z0-9_.-]{1,32}(:[A-Za-z]{3})?$/, { error: 'must be a method name, e.g. "SEPA" or "SEPA:EUR"' })
      .openapi({ description: "Payment method, with or without its currency", example: "SEPA:EUR" }),
    user: address("The user's address (buy: receives the USDT; sell: pays it)"),
    reference: z
      .string({ error: "must be a string" })
      .regex(/^[\x20-\x7e]{1,64}$/, { error: "must be 1 to 64 printable ASCII characters" })
      .openapi({ description: "The platform's own reference", example: "cart-1234" }),
    expiresInSeconds: z
      .number({ error: "must be a number of seconds" })
      .int({ error: "must be a whole number of seconds" })
      .min(60, { error: "must be at least 60" })
      .max(86_400, { error: "must be at most 86400" })
      .optional()
      .openapi({ description: "Seconds until the order expires unless paid (default ORDER_EXPIRY_S)" }),
    payerName: personName(
      "Buy orders only (a sell order with it is refused): the name on the bank account the user pays from. " +
        "Shown to the acceptor, who compares it with the incoming transfer's; never on the checkout.",
    ).optional(),
  })
  .openapi("CreateOrderRequest");

const limitField = z
  .string()
  .regex(/^[0-9]{1,6}$/, { error: `must be an integer from ${LIMIT_MIN} to ${LIMIT_MAX}` })
  .transform(Number)
  .pipe(z.number().int().min(LIMIT_MIN).max(LIMIT_MAX))
  .openapi({ type: "integer", minimum: LIMIT_MIN, maximum: LIMIT_MAX, default: LIMIT_DEFAULT });

export const OrderListQuery = z.strictObject({
  status: z.enum(ORDER_STATUSES, { error: `must be one of ${ORDER_STATUSES.join(", ")}` }).optional(),
  cursor: z
    .string()
    .max(CURSOR_MAX_LENGTH)
    .regex(/^[A-Za-z0-9_-]+$/, { error: "must be a cursor returned as nextCursor (base64url)" })
    .optional(),
  limit: limitField.optional(),
});

export const AcceptBody = z
  .strictObject({ signature: signature.optional(), expiry: uintString("The Lock's signed expiry").optional() })
  .refine((b) => (b.signature === undefined) === (b.expiry === undefined), {
    error: "signature and expiry go together",
    path: ["signature"],
  })
  .openapi("AcceptOrderRequest");

export const DeclineBody = z
  .strictObject({
    reason: z
      .string()
      .regex(/^[\x20-\x7e]{0,200}$/, { error: "must be at most 200 printable ASCII characters" })
      .optional(),
  })
  .openapi("DeclineOrderRequest");

export const TransferNameBody = z
  .strictObject({ name: personName("The name on the incoming bank transfer, as the acceptor's bank shows it") })
  .openapi("TransferNameRequest");

export const ChargebackBody = z
  .strictObject({
    reason: z
      .string({ error: "must be a string" })
      .max(500, { error: "must be at most 500 characters" })
      .regex(PRINTABLE, { error: "must be printable characters" })
      .optional()
      .openapi({ description: "Why (the bank's reversal notice, a case number)" }),
  })
  .openapi("ChargebackRequest");

export const CheckoutTypedDataQuery = z.strictObject({
  action: z
    .enum(["open", "performed", "release", "dispute", "escalate"], {
      error: "must be one of open, performed, release, dispute, escalate",
    })
    .openapi({
      description:
        "`escalate`: a paid buy order's Dispute signed in advance (valid past the release window), for " +
        "POST …/escalation",
    }),
});

export const CheckoutEscalationBody = z
  .strictObject({ signature, expiry: uintString("The signed expiry (the escalate typed data's)") })
  .openapi("CheckoutEscalationRequest");

export const CheckoutOpenBody = z
  .strictObject({ signature, expiry: uintString("The Open intent's signed expiry") })
  .openapi("CheckoutOpenRequest");

export const CheckoutConfirmationBody = z
  .strictObject({
    action: z.enum(CONFIRMATION_NAMES, { error: `must be one of ${CONFIRMATION_NAMES.join(", ")}` }),
    signer: address("The order's user"),
    signature,
    expiry: uintString("The signed expiry"),
  })
  .openapi("CheckoutConfirmationRequest");

/* ----------------------------------------------- responses ----------------------------------------------- */

const DealJson = z.object({
  payer: z.string(),
  payee: z.string(),
  gateway: z.string(),
  token: z.string(),
  amount: z.string(),
  deadline: z.number(),
  releaseWindow: z.number(),
  feeBps: z.number(),
  kind: z.string(),
  autoRelease: z.boolean(),
  salt: z.string(),
});

export const OrderViewSchema = z
  .object({
    id: z.string(),
    side: z.enum(["buy", "sell"]),
    status: z.enum(ORDER_STATUSES),
    amount: z.string(),
    token: z.string(),
    currency: z.string(),
    method: z.string(),
    methodHash: z.string(),
    user: z.string(),
    reference: z.string(),
    ref: z.string(),
    platform: z.string(),
    platformKeyId: z.string(),
    acceptor: z.string().optional(),
    rate: z.string().optional(),
    fiatAmount: z.string().optional(),
    paymentDetails: z.string().optional(),
    dealId: z.string().optional(),
    salt: z.string().optional(),
    deal: DealJson.optional(),
    tried: z.array(z.string()),
    acceptBy: z.number().optional(),
    expiresAt: z.number(),
    createdAt: z.number(),
    updatedAt: z.number(),
    late: z.boolean().optional(),
    payerName: z.string().optional().openapi({ description: "Buy orders: the payer name the platform declared" }),
    transferName: z.string().optional().openapi({ description: "The name on the incoming transfer (the acceptor's)" }),
    nameCheck: z.enum(["match", "mismatch", "undeclared"]).optional().openapi({
      description: "transferName against payerName (words, any order and case); mismatch: check before releasing",
    }),
    chargeback: z
      .object({ at: z.number(), reason: z.string().optional() })
      .optional()
      .openapi({ description: "Flagged by the acceptor as charged back (unix ms)" }),
    history: z.array(z.object({ status: z.enum(ORDER_STATUSES), at: z.number(), note: z.string().optional() })),
  })
  .openapi("Order");

export const OrderListSchema = z
  .object({ data: z.array(OrderViewSchema), nextCursor: z.string().nullable() })
  .openapi("OrderList");

export const CheckoutViewSchema = z
  .object({
    orderId: z.string(),
    side: z.enum(["buy", "sell"]),
    status: z.enum(ORDER_STATUSES),
    amount: z.string(),
    token: z.string(),
    currency: z.string(),
    method: z.string(),
    fiatAmount: z.string().nullable(),
    rate: z.string().nullable(),
    paymentDetails: z.string().nullable(),
    expiresAt: z.number(),
    user: z.string(),
    acceptor: z.string().nullable(),
    dealId: z.string().nullable(),
    late: z.boolean(),
    deal: z.object({ status: z.string(), finality: z.string() }).nullable(),
    next: z.object({ action: z.string().nullable(), signer: z.string().nullable() }),
    approval: z.object({ token: z.string(), spender: z.string(), amount: z.string() }).optional(),
    escalation: z
      .object({
        state: z.enum(["waiting", "sent", "expired", "void"]),
        dueAt: z.number().nullable().openapi({ description: "When the keeper may send it (unix s), once known" }),
      })
      .nullable()
      .openapi({ description: "The user's escalation held by the keeper (a paid buy order), or null" }),
  })
  .openapi("CheckoutView");

/* ----------------------------------------------- handlers ----------------------------------------------- */

const ORDERS_OFF =
  "This relayer runs without orders (no signer key, or no matching): its order routes are off. Ask its operator.";

/** The key of a request to a route taking `scopes` (an admin key is taken everywhere). */
const keyOf = (res: Response, ...scopes: KeyIdentity["scope"][]): KeyIdentity =>
  keyWithScope(res, [...scopes, "admin"], "This route needs");

const idOf = (req: Request) => validate(OrderParams, req.params as Record<string, string>, "path").id;
const checkoutIdOf = (req: Request) => validate(CheckoutParams, req.params as Record<string, string>, "path").orderId;

export function orderHandlers(orders?: OrdersApi) {
  const need = () => {
    if (!orders) throw new ApiProblem("unavailable", ORDERS_OFF);
    return orders;
  };

  async function listOf(req: Request, res: Response, index: "plat" | "accq", key: KeyIdentity) {
    const q = validateQuery(req, OrderListQuery);
    const filter = `orders|${index}|${key.owner.toLowerCase()}|${q.status ?? "-"}`;
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, filter, ORDER_ID);
    const page = await need().list(key, index, { status: q.status, limit: q.limit ?? LIMIT_DEFAULT, after });
    res.json({ data: page.data, nextCursor: page.next ? encodeCursor(page.next, filter) : null });
  }

  return {
    async createOrder(req: Request, res: Response) {
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, CreateOrderBody);
      const key = keyOf(res, "platform");
      const order = await need().create(key, body);
      res.setHeader("Location", `/v1/orders/${order.id}`);
      res.status(201).json(order);
    },

    async getOrder(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      res.json(await need().get(keyOf(res, "platform", "acceptor"), id));
    },

    async listOrders(req: Request, res: Response) {
      await listOf(req, res, "plat", keyOf(res, "platform"));
    },

    async cancelOrder(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      validateBody(req, z.strictObject({}).optional());
      res.json(await need().cancel(keyOf(res, "platform"), id));
    },

    async listAcceptorOrders(req: Request, res: Response) {
      await listOf(req, res, "accq", keyOf(res, "acceptor"));
    },

    async acceptorLockTypedData(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      res.json(await need().lockTypedData(keyOf(res, "acceptor"), id));
    },

    async acceptOrder(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, AcceptBody);
      res.json(await need().accept(keyOf(res, "acceptor"), id, body));
    },

    async declineOrder(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, DeclineBody);
      res.json(await need().decline(keyOf(res, "acceptor"), id, body.reason));
    },

    async transferName(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, TransferNameBody);
      res.json(await need().transferName(keyOf(res, "acceptor"), id, body.name));
    },

    async chargebackOrder(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      if (req.body === undefined) req.body = {};
      const body = validateBody(req, ChargebackBody);
      res.json(await need().chargeback(keyOf(res, "acceptor"), id, body.reason));
    },

    async getCheckout(req: Request, res: Response) {
      const id = checkoutIdOf(req);
      validateQuery(req, EmptyQuery);
      res.setHeader("Cache-Control", "no-store");
      res.json(await need().checkout(id));
    },

    async checkoutTypedData(req: Request, res: Response) {
      const id = checkoutIdOf(req);
      const { action } = validateQuery(req, CheckoutTypedDataQuery);
      res.json(await need().checkoutTypedData(id, action));
    },

    async checkoutOpen(req: Request, res: Response) {
      const id = checkoutIdOf(req);
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, CheckoutOpenBody);
      const { status, body: answer } = await need().checkoutOpen(id, body);
      res.setHeader("Location", `/v1/submissions/${answer.submission.id}`);
      res.status(status).json(answer);
    },

    async checkoutEscalation(req: Request, res: Response) {
      const id = checkoutIdOf(req);
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, CheckoutEscalationBody);
      res
        .status(201)
        .json(await need().checkoutEscalate(id, { signature: body.signature, expiry: BigInt(body.expiry) }));
    },

    async checkoutConfirmation(req: Request, res: Response) {
      const id = checkoutIdOf(req);
      validateQuery(req, EmptyQuery);
      const body = validateBody(req, CheckoutConfirmationBody);
      const { status, body: answer } = await need().checkoutConfirm(id, body);
      const sid = (answer.submission as { id?: string } | null)?.id;
      if (sid) res.setHeader("Location", `/v1/submissions/${sid}`);
      res.status(status).json(answer);
    },
  };
}
