/**
 * Per-order messages over HTTP (relayer/src/disputes/messages.ts): the thread of an order read and written with an
 * API key (the order's platform for its user, its acceptor, the deal's gateway once disputed, admin), the same on
 * the keyless checkout for the order's user, and the thread exported as one bundle signed by the relayer.
 */
import type { Request, Response } from "express";
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import type { Messages, Viewer } from "../disputes/messages";
import { MESSAGE_CLOCK_SKEW_S } from "../disputes/messages";
import { CheckoutParams, OrderParams } from "./orders";
import type { Route } from "./openapi";
import { ApiProblem } from "./problems";
import { keyWithScope } from "./scope";
import { EmptyQuery } from "./schemas";
import { validate, validateBody, validateQuery } from "./validation";
import { json, problem, invalid } from "./responses";

extendZodWithOpenApi(z);

const HEX32 = /^0x[0-9a-fA-F]{64}$/;

/** A body's JSON length cap before the service counts its code points against MESSAGE_MAX_CHARS. */
const BODY_MAX_UTF16 = 65_536;

export const MessageBody = z
  .strictObject({
    author: z
      .string({ error: "must be a string" })
      .regex(/^0x[0-9a-fA-F]{40}$/, { error: "must be an address: 0x followed by 40 hex digits" })
      .openapi({ description: "The author's address: the order's user, its acceptor, or the deal's gateway" }),
    body: z.string({ error: "must be a string" }).max(BODY_MAX_UTF16, { error: "is too long" }).openapi({
      description:
        "The text: 1 to MESSAGE_MAX_CHARS characters (code points); no control characters but newline and tab",
    }),
    sentAt: z
      .number({ error: "must be a number of unix seconds" })
      .int({ error: "must be whole unix seconds" })
      .min(0, { error: "must be unix seconds" })
      .max(2 ** 40, { error: "must be unix seconds" })
      .openapi({ description: `Unix seconds; within ${MESSAGE_CLOCK_SKEW_S} s of the relayer's clock` }),
    prev: z
      .string({ error: "must be a string" })
      .regex(HEX32, { error: "must be a hash: 0x followed by 64 hex digits" })
      .openapi({ description: "The thread's head when signing (0x + 64 zeros for the first message)" }),
    signature: z
      .string({ error: "must be a string" })
      .regex(/^0x([0-9a-fA-F]{2}){1,16384}$/, { error: "must be 0x-prefixed hex bytes (at most 16384)" })
      .openapi({ description: "The author's EIP-191 (personal_sign) signature of orderMessageText" }),
  })
  .openapi("OrderMessageRequest");

export const OrderMessageSchema = z
  .object({
    hash: z.string().openapi({ description: "keccak256 of the signed text's UTF-8 bytes" }),
    orderId: z.string(),
    dealId: z.string(),
    author: z.string(),
    role: z.enum(["user", "acceptor", "gateway"]),
    body: z.string(),
    sentAt: z.number().int(),
    prev: z.string().openapi({ description: "The hash of the message before (0x + 64 zeros for the first)" }),
    signature: z.string(),
    receivedAt: z.number().int().openapi({ description: "Unix seconds, by the relayer" }),
  })
  .openapi("OrderMessage");

export const MessageThreadSchema = z
  .object({
    orderId: z.string(),
    dealId: z.string(),
    head: z.string().openapi({ description: "The last message's hash (the next message's prev)" }),
    items: z.array(OrderMessageSchema).openapi({ description: "Oldest first" }),
  })
  .openapi("OrderMessageThread");

export const MessagePostedSchema = z.object({ message: OrderMessageSchema }).openapi("OrderMessagePosted");

export const MessageBundleSchema = z
  .object({
    bundle: z.object({
      orderId: z.string(),
      dealId: z.string(),
      chainId: z.number().int(),
      escrow: z.string(),
      messages: z.array(OrderMessageSchema),
      head: z.string(),
      exportedAt: z.number().int(),
    }),
    bundleHash: z
      .string()
      .openapi({ description: "keccak256 of the bundle's canonical JSON (keys sorted, no spaces)" }),
    relayer: z.string().openapi({ description: "The relayer's signer address" }),
    signature: z.string().openapi({ description: "The relayer's EIP-191 signature of bundleHash's 32 bytes" }),
  })
  .openapi("OrderMessageBundle");

const MESSAGES_OFF = "This relayer runs without orders (no signer key, or no matching): its message routes are off.";

const keyOf = (res: Response): Viewer => ({
  key: keyWithScope(res, ["platform", "acceptor", "gateway", "admin"], "Order messages need"),
});
const idOf = (req: Request) => validate(OrderParams, req.params as Record<string, string>, "path").id;
const checkoutIdOf = (req: Request) => validate(CheckoutParams, req.params as Record<string, string>, "path").orderId;

export function messageHandlers(messages?: Messages) {
  const need = () => {
    if (!messages) throw new ApiProblem("unavailable", MESSAGES_OFF);
    return messages;
  };
  async function postAs(viewer: Viewer, id: string, req: Request, res: Response) {
    const body = validateBody(req, MessageBody);
    const message = await need().post(viewer, id, body);
    res.status(201).json({ message });
  }
  return {
    async listOrderMessages(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      res.setHeader("Cache-Control", "no-store");
      res.json(await need().list(keyOf(res), id));
    },
    async postOrderMessage(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      await postAs(keyOf(res), id, req, res);
    },
    async orderMessageBundle(req: Request, res: Response) {
      const id = idOf(req);
      validateQuery(req, EmptyQuery);
      res.setHeader("Cache-Control", "no-store");
      res.json(await need().bundle(keyOf(res), id));
    },
    async listCheckoutMessages(req: Request, res: Response) {
      const id = checkoutIdOf(req);
      validateQuery(req, EmptyQuery);
      res.setHeader("Cache-Control", "no-store");
      res.json(await need().list("checkout", id));
    },
    async postCheckoutMessage(req: Request, res: Response) {
      const id = checkoutIdOf(req);
      validateQuery(req, EmptyQuery);
      await postAs("checkout", id, req, res);
    },
  };
}

/* ------------------------------------------------ routes ------------------------------------------------ */

const WHO =
  "The order's platform key (for the order's user), its acceptor's key, the deal's gateway's key once the deal is " +
  "or was disputed (403 before), and admin keys; 404 order-not-found to any other key.";
const POST_ERRORS = {
  400: problem(
    "A malformed member, or a body that is empty, longer than MESSAGE_MAX_CHARS characters or carries " +
      "control characters other than newline and tab (type invalid-parameter)",
  ),
  409: problem(
    "prev is not the thread's head (type message-conflict, member `head`: read the thread, sign again), the " +
      "thread is full (type message-thread-full), or the order has no deal yet (type wrong-order-status)",
  ),
};
const TEXT =
  "The author signs with EIP-191 (personal_sign) the text `USDT Escrow order message\\nOrder: <orderId>\\nDeal: " +
  "<dealId>\\nAuthor: <author>\\nPrevious: <prev>\\nSent: <sentAt>\\n\\n<body>` (ids and addresses lower-case); " +
  "the message's hash is keccak256 of that text, and the next message names it as its prev: the thread is a " +
  "hash chain. Wallets (ERC-1271) sign as they sign any personal message.";

/** The message routes, for api/openapi.ts ROUTES. */
export const MESSAGE_ROUTES: Route[] = [
  {
    id: "listOrderMessages",
    method: "get",
    path: "/v1/orders/{id}/messages",
    operationId: "listOrderMessages",
    tags: ["orders"],
    summary: "An order's message thread, oldest first",
    description: WHO,
    request: { params: OrderParams },
    responses: {
      200: json(MessageThreadSchema, "The thread"),
      400: invalid,
      403: problem("The key's scope is not one of these, or the deal's gateway before a dispute (type forbidden)"),
      404: problem("No such order for this key (type order-not-found)"),
      409: problem("The order has no deal yet (type wrong-order-status)"),
    },
  },
  {
    id: "postOrderMessage",
    method: "post",
    path: "/v1/orders/{id}/messages",
    operationId: "postOrderMessage",
    tags: ["orders"],
    summary: "Add a signed message to an order's thread",
    description:
      `${TEXT} A platform key writes for the order's user, an acceptor key for the acceptor, a gateway key for ` +
      "the deal's gateway once disputed, an admin key for any of them. Two messages after the same head: one " +
      "is taken, the other answered 409 message-conflict. Each new message emits the order event `order.message` " +
      "(its hash, author and role; not its body).",
    request: { params: OrderParams, body: { content: { "application/json": { schema: MessageBody } } } },
    responses: {
      201: json(MessagePostedSchema, "Stored: the message, now the thread's head"),
      ...POST_ERRORS,
      403: problem("The key may not speak for the author, or the author has no part in the thread (type forbidden)"),
      404: problem("No such order for this key (type order-not-found)"),
      422: problem(
        "The signature does not verify (type invalid-signature, member `reason`), or sentAt is more than " +
          `${MESSAGE_CLOCK_SKEW_S} s from the relayer's clock (type message-clock-skew, member \`now\`)`,
      ),
    },
  },
  {
    id: "orderMessageBundle",
    method: "get",
    path: "/v1/orders/{id}/messages/bundle",
    operationId: "orderMessageBundle",
    tags: ["orders"],
    summary: "The thread exported as one bundle signed by the relayer",
    description:
      `${WHO} bundleHash = keccak256 of the bundle's canonical JSON (object keys sorted, no whitespace); ` +
      "`signature` is the relayer's EIP-191 signature of its 32 bytes (`relayer` recovers from it). Anyone can " +
      "check each message's hash, the chain of prevs, each author's signature and the relayer's.",
    request: { params: OrderParams },
    responses: {
      200: json(MessageBundleSchema, "The signed bundle"),
      400: invalid,
      403: problem("The key's scope is not one of these, or the deal's gateway before a dispute (type forbidden)"),
      404: problem("No such order for this key (type order-not-found)"),
      409: problem("The order has no deal yet (type wrong-order-status)"),
      503: problem(
        "The relayer has no signer key, or the data store is unreachable (type unavailable), or the projection " +
          "cannot be served as current (type projection-unavailable); see Retry-After",
      ),
    },
  },
  {
    id: "listCheckoutMessages",
    method: "get",
    path: "/v1/checkout/{orderId}/messages",
    operationId: "listCheckoutMessages",
    tags: ["checkout"],
    summary: "The order's message thread on the checkout (no key: the order id is the capability)",
    request: { params: CheckoutParams },
    responses: {
      200: json(MessageThreadSchema, "The thread"),
      400: invalid,
      404: problem("No such order (type order-not-found)"),
      409: problem("The order has no deal yet (type wrong-order-status)"),
    },
  },
  {
    id: "postCheckoutMessage",
    method: "post",
    path: "/v1/checkout/{orderId}/messages",
    operationId: "postCheckoutMessage",
    tags: ["checkout"],
    summary: "The order's user adds a signed message (no key: the user's signature is the authority)",
    description: `${TEXT} The author must be the order's user.`,
    request: { params: CheckoutParams, body: { content: { "application/json": { schema: MessageBody } } } },
    responses: {
      201: json(MessagePostedSchema, "Stored"),
      ...POST_ERRORS,
      404: problem("No such order (type order-not-found)"),
      422: problem(
        "The author is not the order's user (type wrong-signer), the signature does not verify (type " +
          "invalid-signature), or sentAt is off the relayer's clock (type message-clock-skew)",
      ),
    },
  },
];
