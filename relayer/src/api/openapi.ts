/**
 * The API's routes as data — path, parameters (the zod schemas that validate them), responses and descriptions —
 * and the OpenAPI 3.1 document generated from them. app.ts serves exactly these routes, so the document cannot
 * miss one.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { PROBLEM_CONTENT_TYPE } from "./problems";
import {
  AcceptorListQuery,
  AcceptorListSchema,
  AcceptorViewSchema,
  AddressParams,
  DealListQuery,
  DealListSchema,
  DealParams,
  DealQuery,
  ChainListSchema,
  DealViewSchema,
  GatewayListQuery,
  GatewayListSchema,
  GatewayViewSchema,
  OwedQuery,
  OwedSchema,
  HealthSchema,
  LIMIT_DEFAULT,
  LIMIT_MAX,
  NotReadySchema,
  ProblemSchema,
  ReadySchema,
} from "./schemas";
import {
  AcceptedSchema,
  ConfirmationBody,
  IntentBody,
  IntentTypedDataBody,
  SplitAcceptedSchema,
  SplitBody,
  SubmissionParams,
  SubmissionSchema,
  TypedDataQuery,
  TypedDataSchema,
} from "./write-schemas";
import { ReportQuery, SettlementReportSchema } from "./reports";
import { REPORT_COLUMNS, REPORT_MAX_DAYS } from "../orders/reports";
import { EventPageSchema, EventsQuery, EventStreamQuery, EVENTS_LIMIT_DEFAULT, EVENTS_LIMIT_MAX } from "./events";
import {
  WebhookDeliveryListSchema,
  WebhookDeliveryParams,
  WebhookEndpointBody,
  WebhookEndpointListSchema,
  WebhookEndpointParams,
  WebhookEndpointSchema,
  WebhookEndpointWithSecretSchema,
} from "./webhooks";
import {
  AcceptBody,
  ChargebackBody,
  TransferNameBody,
  CheckoutConfirmationBody,
  CheckoutEscalationBody,
  CheckoutOpenBody,
  CheckoutParams,
  CheckoutTypedDataQuery,
  CheckoutViewSchema,
  CreateOrderBody,
  DeclineBody,
  OrderListQuery,
  OrderListSchema,
  OrderParams,
  OrderViewSchema,
} from "./orders";
import { ACCEPTOR_PROFILE_ROUTES } from "./acceptor-profile";
import { EVIDENCE_ROUTES } from "./evidence";
import { MESSAGE_ROUTES } from "./messages";
import { GATEWAY_ROUTES } from "./gateway";
import { SCHEDULED_ROUTES, ScheduledSchema } from "./scheduled";
import { json, problem, invalid } from "./responses";

/** How many index entries one filtered page of GET /v1/deals may scan, as a multiple of its limit. */
export const SCAN_FACTOR = 5;

export type RouteId =
  | "getDeal"
  | "listDeals"
  | "listChains"
  | "listGateways"
  | "getGateway"
  | "listAcceptors"
  | "getAcceptor"
  | "health"
  | "ready"
  | "metrics"
  | "openapi"
  | "confirmationTypedData"
  | "intentTypedData"
  | "postConfirmation"
  | "postSplit"
  | "postIntent"
  | "getSubmission"
  // reads of owed balances
  | "getOwed"
  /* events, replay and webhooks */
  | "listEvents"
  | "streamEvents"
  | "createWebhookEndpoint"
  | "listWebhookEndpoints"
  | "getWebhookEndpoint"
  | "deleteWebhookEndpoint"
  | "rotateWebhookSecret"
  | "listWebhookDeliveries"
  | "redeliverWebhook"
  /* orders, acceptor orders, checkout */
  | "createOrder"
  | "getOrder"
  | "listOrders"
  | "cancelOrder"
  | "listAcceptorOrders"
  | "acceptorLockTypedData"
  | "acceptOrder"
  | "declineOrder"
  | "transferName"
  | "chargebackOrder"
  | "getCheckout"
  | "checkoutTypedData"
  | "checkoutOpen"
  | "checkoutConfirmation"
  | "checkoutEscalation"
  /* reports */
  | "settlementReport"
  /* the acceptor's desk */
  | "getAcceptorProfile"
  | "putAcceptorProfile"
  | "postAcceptorHeartbeat"
  /* disputes: evidence */
  | "evidenceTypedData"
  | "postEvidence"
  | "listEvidence"
  | "getEvidenceFile"
  /* disputes: per-order messages */
  | "listOrderMessages"
  | "postOrderMessage"
  | "orderMessageBundle"
  | "listCheckoutMessages"
  | "postCheckoutMessage"
  /* the gateway's dispute desk */
  | "listGatewayDisputes"
  | "getGatewayDispute"
  | "rulingTypedData"
  | "postRuling"
  | "getRuling"
  /* disputes: the keeper's scheduled actions */
  | "postScheduled"
  | "listScheduled"
  | "deleteScheduled";

export type Route = Omit<RouteConfig, "method"> & { id: RouteId; method: "get" | "post" | "put" | "delete" };

const FINALITY =
  "Each entity carries `finality`: `pending` while its latest event has fewer confirmations than the relayer's " +
  "confirmation depth (a chain reorganisation can still undo it), `final` once it has that many (it will not " +
  "change any more). `confirmations` = head block - block of the event + 1.";

export const ROUTES: Route[] = [
  {
    id: "getDeal",
    method: "get",
    path: "/v1/deals/{dealId}",
    operationId: "getDeal",
    tags: ["deals"],
    summary: "One deal, with its history",
    description:
      "The deal's parameters, status, settlement amounts, evidence and every event (block, transaction hash, log " +
      "index). A disputed deal says who may rule it now (`disputeRuler`) and until when its gateway may " +
      `(\`resolutionDeadline\`); a delegate's lock says when it expires (\`lockExpiry\`). ${FINALITY}\n\n` +
      "Every answer has a strong `ETag`; `If-None-Match` with it answers 304. A settled deal (released, refunded, " +
      "resolved or split) whose finality is `final` never changes: " +
      "`Cache-Control: public, max-age=86400, immutable` (`private` when reads need a key); any other " +
      "`no-cache` (revalidate each time).\n\n" +
      "Several chains (one relayer per chain on one Redis; GET /v1/chains): the deal is looked up on every " +
      "chain served, or on `chainId` only. The same id on two chains (ids are keccak(payer, salt)) answers 409 " +
      "`ambiguous-deal` naming the chains, unless `chainId` picks one.",
    request: { params: DealParams, query: DealQuery },
    responses: {
      200: json(DealViewSchema, "The deal"),
      304: { description: "Not modified: If-None-Match holds the deal's current ETag" },
      400: invalid,
      404: problem("No deal with this id has been indexed (type deal-not-found)"),
      409: problem("The id names a deal on several chains: give chainId (type ambiguous-deal; member chains)"),
    },
  },
  {
    id: "listChains",
    method: "get",
    path: "/v1/chains",
    operationId: "listChains",
    tags: ["deals"],
    summary: "The chains served",
    description:
      "Every chain whose relayer registered it in this Redis (one relayer per chain, same REDIS_PREFIX), this " +
      "relayer's first, then by chain id: its escrow and registry, the block its projection has indexed, and " +
      "whether the projection may be served (a chain that may not answers 503 for its own deals only).",
    responses: { 200: json(ChainListSchema, "The chains"), 400: invalid },
  },
  {
    id: "listDeals",
    method: "get",
    path: "/v1/deals",
    operationId: "listDeals",
    tags: ["deals"],
    summary: "Deals, most recently updated first",
    description:
      "Lists deals by the time of their latest event, newest first (ties by deal id, descending), in pages of " +
      `\`limit\` (default ${LIMIT_DEFAULT}, at most ${LIMIT_MAX}). Filters: at most one of \`party\` (payer or ` +
      "payee), `gateway` and `ref` (more is a 400), and optionally `status`; `overdue=true` lists the disputes " +
      "past their ruling deadline (disputed deals an arbiter may rule now; the audit command's OVERDUE). Follow " +
      "`nextCursor` until it is null; the cursor is opaque and bound to the filters it was issued for.\n\n" +
      "When `status` is combined with `party`, `gateway` or `ref`, or with `overdue=true`, the index is scanned and " +
      `filtered: one request scans at most ${SCAN_FACTOR}× \`limit\` deals, so a page can hold fewer than \`limit\` ` +
      "deals (even none) while `nextCursor` is not null — keep following it.\n\n" +
      "Several chains: deals of every chain served are listed, one chain after the other (this relayer's chain " +
      "first, then by chain id), each in the order above — block times of different chains are not compared; " +
      "the cursor names the chain it continues on. `chainId` lists one chain. A chain whose projection may not " +
      "be served is left out of the unfiltered list (with `chainId` it answers 503). A deal updated while you page moves " +
      "to the front of the list: it does not show up again on later pages (nor at all, if you had not reached it " +
      `yet: start from the first page to see recent changes). ${FINALITY}`,
    request: { query: DealListQuery },
    responses: {
      200: json(DealListSchema, "A page of deals"),
      400: invalid,
    },
  },
  {
    id: "listGateways",
    method: "get",
    path: "/v1/gateways",
    operationId: "listGateways",
    tags: ["gateways"],
    summary: "Gateways, in registration order",
    description:
      "Registered gateways (any status), oldest registration first, in pages of `limit` (default " +
      `${LIMIT_DEFAULT}, at most ${LIMIT_MAX}); follow \`nextCursor\` until it is null. Each shows the fees it ` +
      `earned per token (\`feesEarned\`). ${FINALITY}`,
    request: { query: GatewayListQuery },
    responses: { 200: json(GatewayListSchema, "A page of gateways"), 400: invalid },
  },
  {
    id: "getGateway",
    method: "get",
    path: "/v1/gateways/{address}",
    operationId: "getGateway",
    tags: ["gateways"],
    summary: "One gateway",
    description: `A gateway's life-cycle status, whether governance suspended it, bond, fee, cap, exit time and open disputes. ${FINALITY}`,
    request: { params: AddressParams },
    responses: {
      200: json(GatewayViewSchema, "The gateway"),
      400: invalid,
      404: problem("No gateway registered at this address (type gateway-not-found)"),
    },
  },
  {
    id: "listAcceptors",
    method: "get",
    path: "/v1/acceptors",
    operationId: "listAcceptors",
    tags: ["acceptors"],
    summary: "Acceptors, in registration order",
    description:
      "Every registered acceptor, oldest registration first, optionally only those supporting a payment " +
      "`method` (given as its bytes32 id, or as its name — e.g. `SEPA:EUR` — hashed with keccak256 like the " +
      "contracts do), those with order limits or float in `token`, and those in `status`; in pages of `limit` " +
      `(default ${LIMIT_DEFAULT}, at most ${LIMIT_MAX}), following \`nextCursor\` until it is null (with \`token\` ` +
      `or \`status\` a page scans at most ${SCAN_FACTOR}× \`limit\` acceptors and can be short). Methods are ` +
      "shown by id and, in `paymentMethods`, by name where the relayer knows it (common rails, and names " +
      `clients looked acceptors up by). ${FINALITY}`,
    request: { query: AcceptorListQuery },
    responses: { 200: json(AcceptorListSchema, "A page of acceptors"), 400: invalid },
  },
  {
    id: "getAcceptor",
    method: "get",
    path: "/v1/acceptors/{address}",
    operationId: "getAcceptor",
    tags: ["acceptors"],
    summary: "One acceptor, with limits and float per token",
    description:
      "An acceptor's status, gateway, lock delegate, payment methods and, per token, order limits and float " +
      `(free, and locked in open on-ramp deals). ${FINALITY}`,
    request: { params: AddressParams },
    responses: {
      200: json(AcceptorViewSchema, "The acceptor"),
      400: invalid,
      404: problem("No acceptor registered at this address (type acceptor-not-found)"),
    },
  },
  // reads of owed balances
  {
    id: "getOwed",
    method: "get",
    path: "/v1/owed",
    operationId: "getOwed",
    tags: ["balances"],
    summary: "What the escrow owes an account",
    description:
      "The account's non-zero owed balances per token: payouts the escrow could not transfer (a token that " +
      "refused: blacklist, pause) and a gateway's fees, until the account claims them. An account with none " +
      "answers an empty list.",
    request: { query: OwedQuery },
    responses: { 200: json(OwedSchema, "The owed balances"), 400: invalid },
  },
  {
    id: "health",
    method: "get",
    path: "/v1/health",
    operationId: "health",
    tags: ["operations"],
    summary: "Liveness, and the tokens' standing towards the escrow",
    description:
      "200 while the process is up (it does not touch Redis or the chain: it shows what the token monitor last " +
      "saw). `tokens` lists every token the registry ever allowlisted with `escrowBlacklisted` (the token " +
      "blacklists the escrow itself: every payout in it is deferred to owed — governance should disallow it) and " +
      "`paused`.",
    responses: { 200: json(HealthSchema, "The process is up"), 400: invalid },
  },
  {
    id: "ready",
    method: "get",
    path: "/v1/ready",
    operationId: "ready",
    tags: ["operations"],
    summary: "Readiness",
    description:
      "200 when the relayer serves right and recent data (Redis answers; the projection claimed, built, not " +
      "halted, not being rebuilt, backfilled; the indexer leader's heartbeat fresh; the indexed block within " +
      "READY_MAX_LAG_BLOCKS of the head); 503 with the failing checks otherwise (a problem of type not-ready, with " +
      "`ready` and `checks` members). Answers within a second. See docs/operations.md.",
    responses: {
      200: json(ReadySchema, "Ready"),
      400: invalid,
      503: { description: "Not ready", content: { [PROBLEM_CONTENT_TYPE]: { schema: NotReadySchema } } },
    },
  },
  {
    id: "metrics",
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    tags: ["operations"],
    summary: "Prometheus metrics",
    description:
      "Metrics in the Prometheus text format, among them `relayer_http_request_duration_seconds` labelled by " +
      "method, route pattern and status, `relayer_token_escrow_blacklisted` and `relayer_token_paused` per token " +
      "(1 or 0), and `relayer_dispute_count_skipped_total`; and Node's process metrics under their standard names " +
      "(`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, ...).",
    responses: {
      200: { description: "Prometheus text exposition", content: { "text/plain": { schema: z.string() } } },
      400: invalid,
    },
  },
  {
    id: "openapi",
    method: "get",
    path: "/v1/openapi.json",
    operationId: "openapi",
    tags: ["operations"],
    summary: "This document",
    description: "The OpenAPI 3.1 description of the API.",
    responses: {
      200: json(z.record(z.string(), z.unknown()), "The OpenAPI document"),
      400: invalid,
    },
  },
  {
    id: "confirmationTypedData",
    method: "get",
    path: "/v1/deals/{dealId}/typed-data",
    operationId: "confirmationTypedData",
    tags: ["write"],
    summary: "What a party signs to confirm",
    description:
      "The exact EIP-712 payload (domain, types, primary type, message) the escrow verifies for `action`, with a " +
      "suggested expiry one hour ahead, so a wallet or a backend signs without knowing EIP-712 " +
      "(`eth_signTypedData_v4`, ethers `signTypedData`). Given `signer`, the signer's role and the deal's status " +
      "are checked first; a Safe as signer also gets `safe`, the SafeMessage its owners sign instead. " +
      "`action=split&payeeAmount=` gives the `Split` both parties sign for a partial settlement (POST …/splits).",
    request: { params: DealParams, query: TypedDataQuery },
    responses: {
      200: json(TypedDataSchema, "The payload to sign"),
      400: invalid,
      404: problem("No deal with this id has been indexed (type deal-not-found)"),
      409: problem("The deal's status does not allow this action now (type wrong-status)"),
      422: problem("The signer may not sign this action (type wrong-signer)"),
    },
  },
  {
    id: "intentTypedData",
    method: "post",
    path: "/v1/typed-data",
    operationId: "intentTypedData",
    tags: ["write"],
    summary: "What a payer (open) or acceptor (lock) signs to open a deal without gas",
    description:
      "The EIP-712 payload of an `Open` or `Lock` intent for the deal in the body, with the deal id it will have " +
      "(known before the transaction: keccak256(payer, salt)) and a suggested expiry.",
    request: { body: { content: { "application/json": { schema: IntentTypedDataBody } } } },
    responses: { 200: json(TypedDataSchema, "The payload to sign"), 400: invalid },
  },
  {
    id: "postConfirmation",
    method: "post",
    path: "/v1/deals/{dealId}/confirmations",
    operationId: "postConfirmation",
    tags: ["write"],
    summary: "Confirm: performed (fiat sent or received, goods delivered), release, cancel or dispute",
    description:
      "A party's signed action. Before anything is queued the relayer checks the API key's right to act on the " +
      "deal, the signer's role, the deal's status, the expiry, the signature (a key, an ERC-1271 wallet such as a " +
      "Safe, or an ERC-6492 wallet not deployed yet, which the relayer deploys first) and the call itself, " +
      "simulated on the pending block. 202 with the submission to follow; a refusal names its reason, the " +
      "escrow's custom error where the escrow would revert. When the payee's `performed` and the payer's " +
      "`release` are both queued, they settle in one `settleWithSigs`. Takes `Idempotency-Key`.",
    request: {
      params: DealParams,
      body: { content: { "application/json": { schema: ConfirmationBody } } },
    },
    responses: {
      202: json(AcceptedSchema, "Accepted: queued (or, for a payer's cancel, waiting for the payee's)"),
      400: invalid,
      401: problem("No API key, or an unknown, revoked or expired one (type unauthenticated)"),
      403: problem("The key may not act on this deal (type forbidden)"),
      404: problem("No deal with this id has been indexed (type deal-not-found)"),
      409: problem("Wrong status, or an Idempotency-Key reused with another body"),
      422: problem("Wrong signer, expired or invalid signature, or the escrow would revert (its error named)"),
      429: problem("Rate limit or daily gas budget exceeded (type rate-limited); see Retry-After"),
    },
  },
  {
    id: "postSplit",
    method: "post",
    path: "/v1/deals/{dealId}/splits",
    operationId: "postSplit",
    tags: ["write"],
    summary: "Settle by agreement: payer and payee each sign the same split",
    description:
      "Partial settlement (fiat underpaid or overpaid, a merchant's partial refund): the payee gets `payeeAmount` " +
      "(less the gateway's fee on it), the payer the rest. Checked like a confirmation (the key's right, the " +
      "signer is the payer or the payee, a live deal, the expiry, the signature). The first party's signature is " +
      "held until its expiry (202 with `awaiting`); when the other party's for the same amount arrives, the " +
      "`splitWithSigs` call is simulated and queued (202 with the submission). Signatures of different amounts " +
      "never pair. Takes `Idempotency-Key`.",
    request: {
      params: DealParams,
      body: { content: { "application/json": { schema: SplitBody } } },
    },
    responses: {
      202: json(SplitAcceptedSchema, "Accepted: held for the other party, or queued"),
      400: invalid,
      401: problem("No API key, or an unknown, revoked or expired one (type unauthenticated)"),
      403: problem("The key may not act on this deal (type forbidden)"),
      404: problem("No deal with this id has been indexed (type deal-not-found)"),
      409: problem("The deal is not live (type wrong-status), or an Idempotency-Key reused with another body"),
      422: problem(
        "Wrong signer, an amount above the deal's (split-amount-too-high), expired or invalid signature, or the escrow would revert",
      ),
      429: problem("Rate limit or daily gas budget exceeded (type rate-limited); see Retry-After"),
    },
  },
  {
    id: "postIntent",
    method: "post",
    path: "/v1/deals",
    operationId: "postIntent",
    tags: ["write"],
    summary: "Open a deal without gas: a payer's signed open or an acceptor's signed lock",
    description:
      "Checks the key, the signature, the payer's balance and allowance (real USDT fails a short transfer with an " +
      "`assert` that burns all gas), and the call simulated on the pending block; answers 202 with the deal id at " +
      "once and the submission. A platform key registers the deal's `ref` as its own. Takes `Idempotency-Key`.",
    request: { body: { content: { "application/json": { schema: IntentBody } } } },
    responses: {
      202: json(AcceptedSchema, "Accepted: the deal id and its submission"),
      400: invalid,
      401: problem("No API key, or an unknown, revoked or expired one (type unauthenticated)"),
      403: problem("The key may not act for this deal (type forbidden)"),
      409: problem("The deal exists already, or the ref is another platform's"),
      422: problem("Invalid signature, insufficient balance or allowance, or the escrow would revert"),
      429: problem("Rate limit or daily gas budget exceeded (type rate-limited); see Retry-After"),
    },
  },
  {
    id: "getSubmission",
    method: "get",
    path: "/v1/submissions/{id}",
    operationId: "getSubmission",
    tags: ["write"],
    summary: "A submission's progress",
    request: { params: SubmissionParams },
    responses: {
      200: json(SubmissionSchema, "The submission"),
      400: invalid,
      404: problem("No submission with this id (type submission-not-found)"),
    },
  },

  /* ---------------------------- events, replay and webhooks (docs/webhooks.md) ---------------------------- */
  {
    id: "listEvents",
    method: "get",
    path: "/v1/events",
    operationId: "listEvents",
    tags: ["events"],
    summary: "Replay: the events after a cursor",
    description:
      "Every change of a deal, a float, an owed balance, a gateway, an acceptor or the token allowlist as an event " +
      "with a stable id, oldest first: `<type>` when announced (pending), `<type>.finalized` once past the " +
      "confirmation depth, `<type>.retracted` when a reorg undid it. Pass the last id you processed as `after` " +
      `(\`nextCursor\` of the previous page); \`limit\` defaults to ${EVENTS_LIMIT_DEFAULT} (at most ` +
      `${EVENTS_LIMIT_MAX}). \`types\` filters (\`deal.*\`, \`*.finalized\`); a filtered page may be short while ` +
      "more follows: keep following `nextCursor` until a page is empty. Events are kept for EVENTS_RETENTION_DAYS; " +
      "a cursor older than that is answered 410 cursor-expired (resync from GET /v1/deals).",
    request: { query: EventsQuery },
    responses: {
      200: json(EventPageSchema, "A page of events"),
      400: invalid,
      410: problem("The cursor is older than the retained events (type cursor-expired)"),
    },
  },
  {
    id: "streamEvents",
    method: "get",
    path: "/v1/events/stream",
    operationId: "streamEvents",
    tags: ["events"],
    summary: "The events as Server-Sent Events, live",
    description:
      "The events of GET /v1/events as `text/event-stream`: each an `id:` (the event id), `event:` (its type) " +
      "and `data:` (the event, JSON) block. Resumes after `Last-Event-ID` (browsers send it on reconnection) or " +
      "`after`; without either it starts with the next event. Comment lines keep an idle stream open.",
    request: { query: EventStreamQuery },
    responses: {
      200: { description: "The event stream", content: { "text/event-stream": { schema: z.string() } } },
      400: invalid,
      410: problem("The cursor is older than the retained events (type cursor-expired)"),
    },
  },
  {
    id: "createWebhookEndpoint",
    method: "post",
    path: "/v1/webhook-endpoints",
    operationId: "createWebhookEndpoint",
    tags: ["webhooks"],
    summary: "Register a webhook endpoint (the secret is shown once)",
    description:
      "Events whose type matches `types` (default all) are POSTed to `url`, signed with the endpoint's secret " +
      '(`Escrow-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`), each with a per-endpoint `sequence`. ' +
      "Keys of scope platform, acceptor, gateway or admin; the endpoint belongs to the key's owner. Only http(s) URLs, never at a " +
      "loopback or private address unless the operator allows it (WEBHOOK_ALLOW_PRIVATE).",
    request: { body: { content: { "application/json": { schema: WebhookEndpointBody } } } },
    responses: {
      201: json(WebhookEndpointWithSecretSchema, "Registered; `secret` is not shown again"),
      400: invalid,
      401: problem("No API key, or an unknown, revoked or expired one (type unauthenticated)"),
      403: problem("The key's scope is neither platform nor admin (type forbidden)"),
      409: problem("The owner has the most endpoints allowed (type too-many-endpoints)"),
      422: problem("The URL is not http(s) or points at a private or local address (type webhook-url-refused)"),
    },
  },
  {
    id: "listWebhookEndpoints",
    method: "get",
    path: "/v1/webhook-endpoints",
    operationId: "listWebhookEndpoints",
    tags: ["webhooks"],
    summary: "The key owner's webhook endpoints",
    responses: {
      200: json(WebhookEndpointListSchema, "The endpoints, oldest first (no secrets)"),
      400: invalid,
      401: problem("No API key (type unauthenticated)"),
      403: problem("The key's scope is neither platform nor admin (type forbidden)"),
    },
  },
  {
    id: "getWebhookEndpoint",
    method: "get",
    path: "/v1/webhook-endpoints/{id}",
    operationId: "getWebhookEndpoint",
    tags: ["webhooks"],
    summary: "One webhook endpoint",
    request: { params: WebhookEndpointParams },
    responses: {
      200: json(WebhookEndpointSchema, "The endpoint (no secret)"),
      400: invalid,
      401: problem("No API key (type unauthenticated)"),
      403: problem("The key's scope is neither platform nor admin (type forbidden)"),
      404: problem("No such endpoint of the key's owner (type webhook-endpoint-not-found)"),
    },
  },
  {
    id: "deleteWebhookEndpoint",
    method: "delete",
    path: "/v1/webhook-endpoints/{id}",
    operationId: "deleteWebhookEndpoint",
    tags: ["webhooks"],
    summary: "Delete a webhook endpoint (pending deliveries are dropped)",
    request: { params: WebhookEndpointParams },
    responses: {
      204: { description: "Deleted" },
      400: invalid,
      401: problem("No API key (type unauthenticated)"),
      403: problem("The key's scope is neither platform nor admin (type forbidden)"),
      404: problem("No such endpoint of the key's owner (type webhook-endpoint-not-found)"),
    },
  },
  {
    id: "rotateWebhookSecret",
    method: "post",
    path: "/v1/webhook-endpoints/{id}/rotate-secret",
    operationId: "rotateWebhookSecret",
    tags: ["webhooks"],
    summary: "A new secret (shown once); the previous one keeps signing for a grace period",
    description:
      "During the grace period (WEBHOOK_SECRET_GRACE_HOURS) each delivery's Escrow-Signature carries two `v1=` " +
      "signatures, one per secret, so a receiver can switch at any moment.",
    request: { params: WebhookEndpointParams },
    responses: {
      200: json(WebhookEndpointWithSecretSchema, "The endpoint with its new secret"),
      400: invalid,
      401: problem("No API key (type unauthenticated)"),
      403: problem("The key's scope is neither platform nor admin (type forbidden)"),
      404: problem("No such endpoint of the key's owner (type webhook-endpoint-not-found)"),
    },
  },
  {
    id: "listWebhookDeliveries",
    method: "get",
    path: "/v1/webhook-endpoints/{id}/deliveries",
    operationId: "listWebhookDeliveries",
    tags: ["webhooks"],
    summary: "The endpoint's delivery attempts, newest first",
    request: { params: WebhookEndpointParams },
    responses: {
      200: json(WebhookDeliveryListSchema, "The latest attempts (at most 200)"),
      400: invalid,
      401: problem("No API key (type unauthenticated)"),
      403: problem("The key's scope is neither platform nor admin (type forbidden)"),
      404: problem("No such endpoint of the key's owner (type webhook-endpoint-not-found)"),
    },
  },
  {
    id: "redeliverWebhook",
    method: "post",
    path: "/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/redeliver",
    operationId: "redeliverWebhook",
    tags: ["webhooks"],
    summary: "Send a delivery again (same body, id and sequence)",
    request: { params: WebhookDeliveryParams },
    responses: {
      202: json(z.object({ endpointId: z.string(), deliveryId: z.string(), queued: z.boolean() }), "Queued"),
      400: invalid,
      401: problem("No API key (type unauthenticated)"),
      403: problem("The key's scope is neither platform nor admin (type forbidden)"),
      404: problem("No such endpoint, or no such delivery kept (types webhook-endpoint-not-found, delivery-not-found)"),
    },
  },
  {
    id: "createOrder",
    method: "post",
    path: "/v1/orders",
    operationId: "createOrder",
    tags: ["orders"],
    summary: "Create an order: matched to an acceptor, bound to one deal",
    description:
      "A platform's payment request (platform key). `buy`: the user pays fiat and receives USDT (the acceptor " +
      "locks float for the user); `sell`: the user pays USDT (an off-ramp deal the user opens on the checkout) and " +
      "receives fiat. The user's address is screened (deny list, token blacklist), then the order is matched to " +
      "an eligible acceptor (active, online, method, currency, limits, free float minus reservations) and its " +
      "deal's id is fixed before any transaction. An acceptor with auto-accept whose lock delegate is the " +
      "relayer's accepts at once. The order's `ref` (keccak256 of `order:` + id) is registered to the key. " +
      "Order events (`order.*`) go to the platform's webhooks.",
    request: { body: { content: { "application/json": { schema: CreateOrderBody } } } },
    responses: {
      201: json(OrderViewSchema, "The order (Location: /v1/orders/{id})"),
      400: invalid,
      422: problem(
        "No eligible acceptor (type no-eligible-acceptor, member `reasons`: rule → count) or a screened address " +
          "(type address-screened, members `address`, `reason`)",
      ),
    },
  },
  {
    id: "listOrders",
    method: "get",
    path: "/v1/orders",
    operationId: "listOrders",
    tags: ["orders"],
    summary: "The key owner's orders, newest first",
    description: "Pages of the platform's orders, optionally by status; follow `nextCursor` until null.",
    request: { query: OrderListQuery },
    responses: { 200: json(OrderListSchema, "A page of orders"), 400: invalid },
  },
  {
    id: "getOrder",
    method: "get",
    path: "/v1/orders/{id}",
    operationId: "getOrder",
    tags: ["orders"],
    summary: "One order",
    description: "Visible to the platform that created it, its assigned acceptor and admin keys; 404 to others.",
    request: { params: OrderParams },
    responses: {
      200: json(OrderViewSchema, "The order"),
      400: invalid,
      404: problem("No such order for this key (type order-not-found)"),
    },
  },
  {
    id: "cancelOrder",
    method: "post",
    path: "/v1/orders/{id}/cancel",
    operationId: "cancelOrder",
    tags: ["orders"],
    summary: "Cancel an order before it is funded",
    description: "The platform cancels an order whose deal is not open yet; its reservation is released.",
    request: { params: OrderParams },
    responses: {
      200: json(OrderViewSchema, "The cancelled order"),
      400: invalid,
      404: problem("No such order for this key (type order-not-found)"),
      409: problem("The order is funded or over (type wrong-order-status)"),
    },
  },
  {
    id: "listAcceptorOrders",
    method: "get",
    path: "/v1/acceptor/orders",
    operationId: "listAcceptorOrders",
    tags: ["acceptor"],
    summary: "The acceptor's orders, newest first",
    description: "Orders assigned to or accepted by the key's owner (acceptor key), optionally by status.",
    request: { query: OrderListQuery },
    responses: { 200: json(OrderListSchema, "A page of orders"), 400: invalid },
  },
  {
    id: "acceptorLockTypedData",
    method: "get",
    path: "/v1/acceptor/orders/{id}/lock-typed-data",
    operationId: "acceptorLockTypedData",
    tags: ["acceptor"],
    summary: "The Lock typed data a buy order's acceptor signs to accept it",
    request: { params: OrderParams },
    responses: {
      200: json(TypedDataSchema, "The Lock to sign"),
      400: invalid,
      404: problem("No such order assigned to this key's owner (type order-not-found)"),
      409: problem(
        "Not assigned, a sell order, or the accept window passed (wrong-order-status, accept-window-passed)",
      ),
    },
  },
  {
    id: "acceptOrder",
    method: "post",
    path: "/v1/acceptor/orders/{id}/accept",
    operationId: "acceptOrder",
    tags: ["acceptor"],
    summary: "Accept an assigned order",
    description:
      "Within the accept window. A buy order: the acceptor's signed Lock (`signature`, `expiry` from " +
      "lock-typed-data), sent at once; a sell order: an empty body (the user then opens the deal on the checkout).",
    request: {
      params: OrderParams,
      body: { content: { "application/json": { schema: AcceptBody } } },
    },
    responses: {
      200: json(OrderViewSchema, "The accepted order"),
      400: invalid,
      404: problem("No such order assigned to this key's owner (type order-not-found)"),
      409: problem("Not assigned, or the accept window passed (wrong-order-status, accept-window-passed)"),
      422: problem("The Lock was refused (invalid-signature, would-revert, …)"),
    },
  },
  {
    id: "declineOrder",
    method: "post",
    path: "/v1/acceptor/orders/{id}/decline",
    operationId: "declineOrder",
    tags: ["acceptor"],
    summary: "Decline an assigned order (it is re-matched)",
    request: {
      params: OrderParams,
      body: { content: { "application/json": { schema: DeclineBody } } },
    },
    responses: {
      200: json(OrderViewSchema, "The order, re-matched to the next acceptor or unmatched"),
      400: invalid,
      404: problem("No such order assigned to this key's owner (type order-not-found)"),
      409: problem("Not assigned, or the accept window passed (wrong-order-status, accept-window-passed)"),
    },
  },
  {
    id: "transferName",
    method: "post",
    path: "/v1/acceptor/orders/{id}/transfer-name",
    operationId: "transferName",
    tags: ["acceptor"],
    summary: "The name on a buy order's incoming transfer, checked against the declared payer name",
    description:
      "The acceptor's own buy order, before it is final. Stores `transferName` and `nameCheck` (match, mismatch, " +
      "or undeclared when the platform declared no payer name): names compare as sets of words after Unicode " +
      "normalisation, without accents, case or punctuation; an initial does not match a name. A mismatch does not " +
      "block a release: the acceptor decides.",
    request: {
      params: OrderParams,
      body: { content: { "application/json": { schema: TransferNameBody } } },
    },
    responses: {
      200: json(OrderViewSchema, "The order with transferName and nameCheck"),
      400: invalid,
      404: problem("No such order of this key's owner (type order-not-found)"),
      409: problem("A sell order, or the order is final (type wrong-order-status)"),
    },
  },
  {
    id: "chargebackOrder",
    method: "post",
    path: "/v1/acceptor/orders/{id}/chargeback",
    operationId: "chargebackOrder",
    tags: ["acceptor"],
    summary: "Flag a released buy order as charged back (the fiat received was reversed)",
    description:
      "Once per order (a second flag answers the same); emits `order.chargeback`. The chargeback counts against " +
      "the method's `maxChargebacks` in the acceptor's profile for 30 days, and the order's user gets no more buy " +
      "orders matched to this acceptor.",
    request: {
      params: OrderParams,
      body: { content: { "application/json": { schema: ChargebackBody } } },
    },
    responses: {
      200: json(OrderViewSchema, "The flagged order"),
      400: invalid,
      404: problem("No such order of this key's owner (type order-not-found)"),
      409: problem("A sell order, or not released (type wrong-order-status)"),
    },
  },
  {
    id: "getCheckout",
    method: "get",
    path: "/v1/checkout/{orderId}",
    operationId: "getCheckout",
    tags: ["checkout"],
    summary: "What the user's checkout shows (no key: the order id is the capability)",
    description:
      "Amount, method, fiat amount and rate, the acceptor's payment details (once funded), expiry, the deal's " +
      "status and finality, and the next step (`next.action`, `next.signer`); a sell order not yet opened carries " +
      "`approval` (the user approves the escrow for the amount first).",
    request: { params: CheckoutParams },
    responses: {
      200: json(CheckoutViewSchema, "The checkout"),
      400: invalid,
      404: problem("No such order (type order-not-found)"),
    },
  },
  {
    id: "checkoutTypedData",
    method: "get",
    path: "/v1/checkout/{orderId}/typed-data",
    operationId: "checkoutTypedData",
    tags: ["checkout"],
    summary: "Typed data the user signs: the Open of a sell order, or a confirmation",
    request: { params: CheckoutParams, query: CheckoutTypedDataQuery },
    responses: {
      200: json(TypedDataSchema, "The typed data"),
      400: invalid,
      404: problem("No such order (type order-not-found)"),
      409: problem("Not at that step (type wrong-order-status)"),
    },
  },
  {
    id: "checkoutOpen",
    method: "post",
    path: "/v1/checkout/{orderId}/open",
    operationId: "checkoutOpen",
    tags: ["checkout"],
    summary: "The user's signed Open of a sell order's deal",
    request: { params: CheckoutParams, body: { content: { "application/json": { schema: CheckoutOpenBody } } } },
    responses: {
      202: json(AcceptedSchema, "Queued"),
      400: invalid,
      404: problem("No such order (type order-not-found)"),
      409: problem("Not an accepted sell order (type wrong-order-status)"),
      422: problem("Refused: signature, funds (approve first), simulation"),
    },
  },
  {
    id: "checkoutConfirmation",
    method: "post",
    path: "/v1/checkout/{orderId}/confirmations",
    operationId: "checkoutConfirmation",
    tags: ["checkout"],
    summary: "The user's signed confirmation (performed, release, dispute, cancel) on the order's deal",
    description: "Only the order's user signs here; a release screens both addresses again first.",
    request: {
      params: CheckoutParams,
      body: { content: { "application/json": { schema: CheckoutConfirmationBody } } },
    },
    responses: {
      202: json(AcceptedSchema, "Queued (or held)"),
      400: invalid,
      404: problem("No such order (type order-not-found)"),
      409: problem("The deal is not open (type wrong-order-status)"),
      422: problem("Wrong signer, screened address, or refused by the write path"),
    },
  },
  {
    id: "checkoutEscalation",
    method: "post",
    path: "/v1/checkout/{orderId}/escalation",
    operationId: "checkoutEscalation",
    tags: ["checkout"],
    summary: "A paid buy order's escalation: the user's Dispute, held and sent when the release window has passed",
    description:
      "The user signs the `escalate` typed data (a DealAction Dispute, valid past the release window); the relayer's " +
      "keeper holds it and sends it only if the acceptor has neither released nor disputed once the window has " +
      "passed (the escrow lets the payee dispute only then). Nothing is sent now; the checkout shows its state. " +
      "A relayer whose keeper is off answers 503 unavailable.",
    request: {
      params: CheckoutParams,
      body: { content: { "application/json": { schema: CheckoutEscalationBody } } },
    },
    responses: {
      201: json(ScheduledSchema, "Held"),
      400: invalid,
      404: problem("No such order (type order-not-found)"),
      409: problem("Not a paid buy order (type wrong-order-status), or the escalation was sent already"),
      422: problem("Wrong signer or refused signature"),
    },
  },
  {
    id: "settlementReport",
    method: "get",
    path: "/v1/reports/settlements",
    operationId: "settlementReport",
    tags: ["reports"],
    summary: "Settled orders in a time range, with amounts, fees, tx hashes and totals per token (JSON or CSV)",
    description:
      "Every order whose deal settled (released, split, resolved, refunded) in [from, to), judged by the block " +
      "time of the settling event: amounts, the gateway's fee, refunds, the deal id, the opening and settling " +
      "transactions and their block times, and totals per token that add up to what moved on chain. A platform " +
      "key gets its orders, an acceptor key the orders it served, an admin key all. At most " +
      `${REPORT_MAX_DAYS} days per report. \`format=csv\`: RFC 4180 with a header row, as an attachment (a ` +
      "field a spreadsheet would run as a formula starts with an apostrophe).",
    request: { query: ReportQuery },
    responses: {
      200: {
        description: "The report",
        content: {
          "application/json": { schema: SettlementReportSchema },
          "text/csv": { schema: { type: "string", description: `Columns: ${REPORT_COLUMNS.join(", ")}` } },
        },
      },
      400: invalid,
      401: problem("No API key (type unauthenticated)"),
      403: problem("The key is not of scope platform, acceptor or admin (type forbidden)"),
      422: problem("More orders than one report reads (type report-too-large)"),
    },
  },
  ...ACCEPTOR_PROFILE_ROUTES,
  ...EVIDENCE_ROUTES,
  ...MESSAGE_ROUTES,
  ...GATEWAY_ROUTES,
  ...SCHEDULED_ROUTES,
];

/**
 * Problems every route can answer with, besides its own: what the HTTP layer and the shared middleware send for any
 * path the document lists (a route's own description of a status wins where it has one).
 */
const COMMON_RESPONSES = {
  405: problem("Method not allowed (the Allow header lists the allowed ones)"),
  413: problem("The request body is over 100 kB (type payload-too-large); bodies are parsed on every route"),
  414: problem("The request target is over 8,192 characters (type uri-too-long)"),
  417: problem("An Expect header other than 100-continue (type expectation-failed)"),
  431: problem("The request line and headers are over node's 16 KiB limit (type headers-too-large)"),
  500: problem("Internal error (a bug; the detail never carries internals)"),
};

/** Routes that only the operator's infrastructure calls: no key, no rate limit, no data from the projection. */
const isOperations = (route: Route) => route.tags?.includes("operations") ?? false;

/** Problems of the routes that take API keys, rate limits and data from the store (every route but operations). */
const KEYED_RESPONSES = {
  401: problem(
    "No API key where one is needed (writes always; reads when READS_REQUIRE_KEY=on), or an unknown, revoked or " +
      "expired key (type unauthenticated)",
  ),
  403: problem("The key's scope does not allow this route or this deal (type forbidden)"),
  429: problem("Rate limit exceeded (type rate-limited); see Retry-After"),
  503: problem(
    "The data store is unreachable (type unavailable), or the projection cannot be served as current — halted " +
      "after a reorg deeper than the confirmation depth, being rebuilt, or not yet indexed (type " +
      "projection-unavailable); see Retry-After",
  ),
};

/** Statuses of one route that its ROUTES entry does not list (the entry's own wins when it does). */
const ROUTE_RESPONSES: Partial<Record<RouteId, RouteConfig["responses"]>> = {
  getDeal: {
    304: {
      description:
        "Not modified: the `If-None-Match` request header holds the current strong ETag of a final deal (no body)",
    },
  },
};

/** operationId of a path's OPTIONS operation: `options` + the path's words (/v1/deals/{dealId} → optionsDealsDealId). */
const optionsOperationId = (path: string) =>
  "options" +
  path
    .split(/[^A-Za-z0-9]+/)
    .filter((word) => word !== "" && word !== "v1")
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join("");

/** Generates the OpenAPI 3.1 document of {@link ROUTES}. */
export function buildOpenApiDocument(version = "0.1.0"): ReturnType<OpenApiGeneratorV31["generateDocument"]> {
  const registry = new OpenAPIRegistry();
  registry.register("Problem", ProblemSchema);
  registry.register("DealView", DealViewSchema);
  const methodsOf = new Map<string, string[]>();
  for (const route of ROUTES) {
    const { id, responses, ...config } = route;
    const keyed: RouteConfig["responses"] = isOperations(route)
      ? {}
      : route.tags?.includes("checkout")
        ? { 429: KEYED_RESPONSES[429], 503: KEYED_RESPONSES[503] }
        : KEYED_RESPONSES;
    registry.registerPath({
      ...config,
      // A route that reads its own body (an evidence upload) says what its 413 means.
      responses: {
        ...keyed,
        ...ROUTE_RESPONSES[id],
        ...responses,
        ...COMMON_RESPONSES,
        ...(responses[413] ? { 413: responses[413] } : {}),
      },
    });
    methodsOf.set(route.path, [...(methodsOf.get(route.path) ?? []), route.method.toUpperCase()]);
  }
  // Every path answers OPTIONS itself (app.ts): documented as an operation of its own, as OpenAPI 3.1 allows.
  for (const [path, methods] of methodsOf) {
    const allow = [...methods, ...(methods.includes("GET") ? ["HEAD"] : []), "OPTIONS"].join(", ");
    const params = ROUTES.find((r) => r.path === path && r.request?.params)?.request?.params;
    registry.registerPath({
      method: "options",
      path,
      operationId: optionsOperationId(path),
      tags: [...new Set(ROUTES.filter((r) => r.path === path).flatMap((r) => r.tags ?? []))].slice(0, 1),
      summary: "The methods this path takes",
      description: `204 with an \`Allow\` header listing the path's methods (${allow}); no body, no API key.`,
      ...(params ? { request: { params } } : {}),
      responses: {
        204: {
          description: "No content; `Allow` lists the methods",
          headers: { Allow: { description: "The path's methods", schema: { type: "string", example: allow } } },
        },
        ...COMMON_RESPONSES,
      },
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "USDT escrow relayer API",
      version,
      description:
        "Reads of the indexed escrow and gateway registry. Amounts are decimal strings in the token's base units; " +
        "addresses and ids are lower-case hex in responses and accepted in any case in requests. Errors are RFC " +
        "9457 problem details (application/problem+json) with a stable `type` URI per kind of error. Unknown or " +
        "repeated query parameters are refused (400).\n\n" +
        "Paths match exactly: case-sensitive, without a trailing slash (`/v1/deals/` and `/V1/DEALS` are 404 " +
        "not-found, as is any path not listed here). Every listed path answers OPTIONS (204, `Allow`) and each GET " +
        "also HEAD. Requests node itself would refuse are problems too: CONNECT (405), an HTTP/1.1 request without " +
        "`Host` (400 malformed-request), an unknown `Expect` (417), an unparsable request (400), a head over 16 KiB " +
        "(431), a request not received in time (408).",
    },
    servers: [{ url: "/" }],
    tags: [
      { name: "deals", description: "Deals of the escrow" },
      { name: "gateways", description: "Gateways of the registry" },
      { name: "acceptors", description: "Acceptors (float providers) of the registry" },
      { name: "operations", description: "Health, readiness, metrics" },
      { name: "write", description: "Signed confirmations and intents, relayed without gas for the signers" },
      { name: "events", description: "Replay of every change as events, and the same live as Server-Sent Events" },
      { name: "webhooks", description: "Webhook endpoints: signed deliveries of the events, retried" },
      { name: "orders", description: "A platform's orders: matched to an acceptor, bound to one deal" },
      { name: "acceptor", description: "An acceptor's assigned orders: accept or decline" },
      { name: "checkout", description: "The user's checkout of an order (no key: the order id is the capability)" },
      { name: "reports", description: "Settlement reports for reconciliation" },
      { name: "evidence", description: "A dispute's evidence: files anchored on-chain by their SHA-256" },
      { name: "disputes", description: "The gateway's dispute queue and its rulings" },
    ],
  });
}
