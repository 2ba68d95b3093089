/**
 * The API's zod schemas: they validate path parameters and query strings, and the same objects produce the
 * OpenAPI 3.1 document (openapi.ts). Response schemas mirror the views of domain/views.ts.
 */
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { DEAL_KINDS, REFUND_REASONS } from "../../../protocol";
import { ACCEPTOR_STATUSES, DEAL_STATUSES, GATEWAY_STATUSES } from "../domain/projection";
import { PROBLEM_BASE } from "./problems";

extendZodWithOpenApi(z);

/** Page sizes of GET /v1/deals. */
export const LIMIT_MIN = 1;
export const LIMIT_MAX = 100;
export const LIMIT_DEFAULT = 20;
/** Longest cursor accepted (a real one is about 200 characters). */
export const CURSOR_MAX_LENGTH = 512;
/** Longest payment method name accepted (before hashing). */
export const METHOD_NAME_MAX_LENGTH = 64;

const HEX32 = /^0x[0-9a-fA-F]{64}$/;
const HEX20 = /^0x[0-9a-fA-F]{40}$/;

/* ------------------------------------------------ fields ------------------------------------------------ */

const dealIdField = z
  .string()
  .regex(HEX32, { error: "must be 0x followed by 64 hex digits" })
  .openapi({ description: "Deal id (bytes32), any case", example: `0x${"ab".repeat(32)}` });

const addressField = (description: string) =>
  z
    .string()
    .regex(HEX20, { error: "must be an address: 0x followed by 40 hex digits" })
    .openapi({ description: `${description} (any case)`, example: `0x${"12".repeat(20)}` });

const enumField = <T extends readonly [string, ...string[]]>(values: T, description: string) =>
  z.enum(values, { error: `must be one of ${values.join(", ")}` }).openapi({ description });

/** A query integer: digits only (no sign, exponent or fraction), then range-checked. */
const limitField = z
  .string()
  .regex(/^[0-9]{1,6}$/, { error: `must be an integer from ${LIMIT_MIN} to ${LIMIT_MAX}` })
  .transform(Number)
  .pipe(
    z
      .number()
      .int()
      .min(LIMIT_MIN, { error: `must be an integer from ${LIMIT_MIN} to ${LIMIT_MAX}` })
      .max(LIMIT_MAX, { error: `must be an integer from ${LIMIT_MIN} to ${LIMIT_MAX}` }),
  )
  .openapi({
    type: "integer",
    minimum: LIMIT_MIN,
    maximum: LIMIT_MAX,
    default: LIMIT_DEFAULT,
    description: `Page size, ${LIMIT_MIN}–${LIMIT_MAX} (default ${LIMIT_DEFAULT})`,
  });

const cursorField = z
  .string()
  .max(CURSOR_MAX_LENGTH, { error: `must be at most ${CURSOR_MAX_LENGTH} characters` })
  .regex(/^[A-Za-z0-9_-]+$/, { error: "must be a cursor returned as nextCursor (base64url)" })
  .openapi({
    description:
      "Opaque cursor from a previous page's nextCursor. It is bound to the filters it was issued for: using it " +
      "with other party/gateway/status values is a 400.",
  });

/**
 * The whole rule of a `method` as one pattern, so the OpenAPI document states it too: a bytes32 id (0x + 64 hex,
 * any case), or a name of 1 to METHOD_NAME_MAX_LENGTH printable ASCII characters that does not start with 0x.
 */
export const METHOD_PATTERN = new RegExp(
  `^(?:0[xX][0-9a-fA-F]{64}|(?!0[xX])[\\x20-\\x7e]{1,${METHOD_NAME_MAX_LENGTH}})$`,
);

const methodField = z
  .string()
  // One check (one pattern, one message): the message says which half of the rule the value missed.
  .regex(METHOD_PATTERN, {
    error: (issue) =>
      /^0x/i.test(String(issue.input))
        ? "a method id must be 0x followed by 64 hex digits"
        : `a method name must be 1 to ${METHOD_NAME_MAX_LENGTH} printable ASCII characters (or pass a bytes32 id)`,
  })
  .openapi({
    description:
      "Payment method: either its on-chain id, a bytes32 hex (0x + 64 hex digits, any case), or its name " +
      `(printable ASCII, 1–${METHOD_NAME_MAX_LENGTH} characters, e.g. \`SEPA:EUR\`), which is hashed with ` +
      "keccak256 of its UTF-8 bytes (ethers `id`) — the same id the acceptor registered on chain.",
    example: "SEPA:EUR",
  });

/* ------------------------------------------- request schemas -------------------------------------------- */

export const DealParams = z.object({ dealId: dealIdField });

/** A chain id in a query (`chainId=`): a positive decimal integer; whether the API serves it is checked after. */
const chainIdField = z
  .string()
  .regex(/^[1-9][0-9]{0,14}$/, { error: "must be a chain id: a positive decimal integer" })
  .transform(Number)
  .openapi({
    type: "string",
    description: "Only this chain (a chain id GET /v1/chains lists; another is a 400)",
    example: "31337",
  });

export const DealQuery = z.strictObject({ chainId: chainIdField.optional() });
export const AddressParams = z.object({ address: addressField("Account address") });

export const DealListQuery = z.strictObject({
  party: addressField("Only deals where this address is the payer or the payee").optional(),
  gateway: addressField("Only deals naming this gateway").optional(),
  ref: z
    .string()
    .regex(HEX32, { error: "must be a ref: 0x followed by 64 hex digits" })
    .optional()
    .openapi({
      description:
        "Only deals opened with this off-chain reference (bytes32, any case). Refs may repeat (several payers, " +
        "or a retried order): every deal with it is listed. The zero ref means none and matches nothing.",
      example: `0x${"cd".repeat(32)}`,
    }),
  status: enumField(DEAL_STATUSES, "Only deals in this status").optional(),
  overdue: z
    .enum(["true"], { error: "must be true (or left out)" })
    .optional()
    .openapi({
      description:
        "`true`: only disputes past their ruling deadline — disputed deals whose gateway may no longer rule " +
        "(its resolution window passed, it does not hold the dispute, or it is suspended or gone), so an arbiter " +
        "may. Implies `status=disputed` (another status is a 400).",
    }),
  chainId: chainIdField.optional(),
  cursor: cursorField.optional(),
  limit: limitField.optional(),
});
export type DealListQuery = z.infer<typeof DealListQuery>;

export const GatewayListQuery = z.strictObject({
  cursor: cursorField.optional(),
  limit: limitField.optional(),
});

export const AcceptorListQuery = z.strictObject({
  method: methodField.optional(),
  token: addressField("Only acceptors with order limits or float in this token").optional(),
  status: enumField(ACCEPTOR_STATUSES, "Only acceptors in this status").optional(),
  cursor: cursorField.optional(),
  limit: limitField.optional(),
});
export type AcceptorListQuery = z.infer<typeof AcceptorListQuery>;

export const OwedQuery = z.strictObject({
  account: addressField("The account whose owed balances to show"),
});

export const EmptyQuery = z.strictObject({});

/* ------------------------------------------- response schemas ------------------------------------------- */

const FINALITY_DESCRIPTION =
  "`pending`: the latest event is in a block with fewer confirmations than the relayer's confirmation depth; a " +
  "chain reorganisation can still undo it (the event stream then carries a retraction). `final`: it has at least " +
  "that many confirmations and will not change.";

const Finality = z.enum(["pending", "final"]).openapi({ description: FINALITY_DESCRIPTION });
const address = z.string().openapi({ description: "Lower-case hex address", example: `0x${"12".repeat(20)}` });
const amount = z.string().openapi({ description: "Decimal string, in the token's base units", example: "1000000" });
const hex32 = z.string().openapi({ description: "Lower-case bytes32 hex" });
const block = z.number().int().openapi({ description: "Block number" });

export const HistoryEntrySchema = z
  .object({
    event: z.string().openapi({
      description:
        "Event name: DealOpened, DealLockedByDelegate, DealPerformed, DealReleaseApproved, DealReleased, " +
        "DealRefunded, DealDisputed, DealResolved, DealSplit, EvidencePosted, DisputeCountSkipped, PayoutDeferred",
    }),
    blockNumber: block,
    txHash: hex32.openapi({ description: "Transaction hash (lower-case)" }),
    logIndex: z.number().int().openapi({ description: "Index of the log in its block" }),
    timestamp: z.number().int().optional().openapi({
      description: "Unix time (seconds) of the event's block (absent only in entries indexed before v1.1 stamped them)",
    }),
    args: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).openapi({
      description: "Event arguments not already in the deal (amounts as decimal strings)",
    }),
    confirmations: z.number().int().openapi({
      description: "head - blockNumber + 1, counted up to the confirmation depth (then the entry is final)",
    }),
    finality: Finality,
  })
  .openapi("HistoryEntry");

export const EvidenceSchema = z
  .object({
    by: address.openapi({ description: "Who posted it: the payer, the payee, the deal's gateway or an arbiter" }),
    contentHash: hex32.openapi({ description: "Hash of the file's content" }),
    uri: z.string().openapi({
      description: "Where the file lives, as posted (invalid UTF-8 replaced; cut to 1,024 characters)",
    }),
    uriTruncated: z.boolean().optional().openapi({ description: "Present (true) when the posted URI was longer" }),
    blockNumber: block,
    txHash: hex32.openapi({ description: "Transaction hash (lower-case)" }),
  })
  .openapi("Evidence");

export const DealViewSchema = z
  .object({
    dealId: hex32,
    chainId: z.number().int().openapi({ description: "The chain the deal is on (its escrow's chain id)" }),
    status: z.enum(DEAL_STATUSES).openapi({
      description:
        "open → performed → released; refunded (deadline, cancel, an expired delegate lock); performed → disputed " +
        "→ resolved (a ruling), released (the payer gives in), split (both parties agree) or refunded (cancel); " +
        "split also from open or performed. released, refunded, resolved and split are terminal.",
    }),
    kind: z.enum(DEAL_KINDS),
    payer: address,
    payee: address,
    gateway: address,
    token: address,
    amount,
    deadline: z.number().int().openapi({ description: "Unix time (seconds) after which the payer may refund" }),
    releaseWindow: z.number().int().openapi({ description: "Seconds after performance before auto-release" }),
    feeBps: z.number().int().openapi({ description: "Gateway fee in basis points" }),
    autoRelease: z.boolean(),
    salt: hex32,
    ref: hex32.openapi({ description: "Off-chain reference (bytes32)" }),
    payerReleased: z.boolean().openapi({ description: "The payer approved the release before the payee performed" }),
    flags: z
      .number()
      .int()
      .openapi({
        description:
          "The escrow's stored DealRecord.flags: 1 while open and released by the payer, 2 while disputed and held " +
          "by the gateway, else 0",
      }),
    payeeAmount: amount.optional().openapi({ description: "Paid to the payee at settlement (base units)" }),
    fee: amount.optional().openapi({ description: "Paid to the gateway at settlement (base units)" }),
    refund: amount.optional().openapi({ description: "Refunded to the payer at settlement (base units)" }),
    refundReason: z.enum(REFUND_REASONS).optional(),
    disputedBy: address.optional(),
    gatewayHolds: z
      .boolean()
      .optional()
      .openapi({
        description:
          "Once disputed: whether the deal's gateway held the dispute (it was active and in good standing when the " +
          "dispute was raised; it rules it within its window). Otherwise an arbiter rules it.",
      }),
    disputedAt: z.number().int().optional().openapi({ description: "Unix time the dispute was raised" }),
    resolutionDeadline: z.number().int().optional().openapi({
      description: "While disputed: disputedAt + the escrow's resolution window, the last second the gateway may rule",
    }),
    disputeRuler: z
      .enum(["gateway", "arbiter"])
      .optional()
      .openapi({
        description:
          "While disputed, who may rule now: `gateway` when it holds the dispute, is active or exiting and not " +
          "suspended, and the resolution deadline has not passed (judged by the later of the server's clock and the " +
          "latest indexed block's time); `arbiter` otherwise. The parties may end a dispute any time (release, " +
          "cancel, split or settle by signatures).",
      }),
    resolvedBy: address.optional(),
    reasons: hex32.optional().openapi({ description: "Hash of the ruling's written reasons (zero when none)" }),
    lockedBy: address.optional().openapi({
      description: "On-ramp: who authorised the lock, the acceptor (equal to payer) or its lock delegate",
    }),
    lockExpiry: z
      .number()
      .int()
      .optional()
      .openapi({
        description:
          "A lock by the acceptor's delegate: deadline + releaseWindow + resolution window; after it anyone may " +
          "return the deal, if still not final, to the acceptor's float (refund reason lock_expired)",
      }),
    overdue: z
      .boolean()
      .optional()
      .openapi({
        description:
          "While disputed: true when the gateway may no longer rule (disputeRuler is arbiter) — past its ruling " +
          "deadline, not holding the dispute, or not in good standing. List them with ?overdue=true.",
      }),
    evidence: z.array(EvidenceSchema).openapi({ description: "Evidence anchored on chain for the deal, oldest first" }),
    openedBlock: block,
    updatedBlock: block.openapi({ description: "Block of the deal's latest event" }),
    openedAt: z.number().int().optional().openapi({ description: "Unix time (seconds) of the opening block" }),
    updatedAt: z.number().int().optional().openapi({ description: "Unix time (seconds) of updatedBlock" }),
    confirmations: z
      .number()
      .int()
      .openapi({
        description:
          "Confirmations of the latest event: head - updatedBlock + 1, counted up to the confirmation depth (a " +
          "final deal's view never changes, so it is cacheable: strong ETag, immutable)",
      }),
    finality: Finality,
    history: z.array(HistoryEntrySchema).openapi({ description: "Every event of the deal, oldest first" }),
  })
  .openapi("DealView", { description: "A deal as indexed from the escrow's events" });

export const DealListSchema = z
  .object({
    data: z.array(DealViewSchema),
    nextCursor: z.string().nullable().openapi({ description: "Cursor of the next page; null on the last page" }),
  })
  .openapi("DealList");

export const GatewayViewSchema = z
  .object({
    address,
    status: z.enum(GATEWAY_STATUSES).openapi({
      description: "The gateway's own life cycle: pending → active → exiting → exited",
    }),
    suspended: z.boolean().openapi({
      description:
        "Governance's sanction, apart from the life cycle: a suspended gateway is named in no new deal, rules no " +
        "dispute and cannot complete its exit until reinstated",
    }),
    canRule: z
      .boolean()
      .openapi({ description: "Active or exiting, and not suspended: may rule the disputes it holds" }),
    bond: amount.openapi({ description: "Bond in the registry's bond token (base units)" }),
    feeBps: z.number().int(),
    feeCapBps: z.number().int(),
    exitAt: z.number().int().openapi({ description: "Unix time when an exit completes (0 when not exiting)" }),
    openDisputes: z.number().int(),
    metadata: hex32,
    feesEarned: z.array(z.object({ token: address, amount })).openapi({
      description:
        "Fees earned from settled deals (released, resolved or split with a fee), per token, ever; what it has " +
        "not claimed yet is in its owed balance (GET /v1/owed)",
    }),
    registeredBlock: block,
    updatedBlock: block,
    finality: Finality,
  })
  .openapi("GatewayView");

const nextCursorField = z
  .string()
  .nullable()
  .openapi({ description: "Cursor of the next page; null on the last page" });

export const ChainViewSchema = z
  .object({
    chainId: z.number().int(),
    escrow: address,
    registry: address,
    deploymentBlock: block,
    name: z.string().optional(),
    own: z.boolean().openapi({ description: "Whether this relayer indexes the chain (writes go to it)" }),
    indexedBlock: block.optional().openapi({ description: "The last block indexed into the chain's projection" }),
    head: block.optional().openapi({ description: "The latest head its indexer saw" }),
    available: z.boolean().openapi({ description: "Whether the chain's projection may be served (else 503 for it)" }),
    reason: z.string().optional().openapi({ description: "Why it may not be served" }),
  })
  .openapi("ChainView");

export const ChainListSchema = z.object({ data: z.array(ChainViewSchema) }).openapi("ChainList");

export const GatewayListSchema = z
  .object({ data: z.array(GatewayViewSchema), nextCursor: nextCursorField })
  .openapi("GatewayList");

export const AcceptorViewSchema = z
  .object({
    address,
    status: z.enum(ACCEPTOR_STATUSES),
    gateway: address,
    lockDelegate: address,
    methods: z.array(hex32).openapi({ description: "Supported payment method ids (bytes32), sorted" }),
    paymentMethods: z
      .array(
        z.object({
          method: hex32,
          name: z
            .string()
            .optional()
            .openapi({
              description:
                "The method's name (keccak256(name) = method) where the relayer knows it: a built-in list of common " +
                "rails, or a name a client looked acceptors up by",
              example: "SEPA:EUR",
            }),
        }),
      )
      .openapi({ description: "The methods again, sorted by id, with their names where known" }),
    tokens: z
      .array(
        z.object({
          token: address,
          minAmount: amount.openapi({ description: "Smallest order (base units); 0 when no limits are set" }),
          maxAmount: amount.openapi({ description: "Largest order (base units); 0 when no limits are set" }),
          free: amount.openapi({ description: "Free float: can be locked for orders or withdrawn" }),
          locked: amount.openapi({ description: "Float locked in open on-ramp deals" }),
        }),
      )
      .openapi({ description: "Per token: order limits and float" }),
    registeredBlock: block,
    updatedBlock: block,
    finality: Finality,
  })
  .openapi("AcceptorView");

export const AcceptorListSchema = z
  .object({ data: z.array(AcceptorViewSchema), nextCursor: nextCursorField })
  .openapi("AcceptorList");

export const OwedSchema = z
  .object({
    account: address,
    owed: z.array(z.object({ token: address, amount })).openapi({
      description:
        "Non-zero balances the escrow holds for the account, per token: deferred payouts (a token that refused " +
        "the transfer) and a gateway's fees, until claimed",
    }),
  })
  .openapi("Owed");

export const ProblemSchema = z
  .object({
    type: z.string().openapi({
      description: `Stable URI of the kind of problem, e.g. ${PROBLEM_BASE}invalid-parameter, ${PROBLEM_BASE}deal-not-found`,
    }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional().openapi({ description: "Path of the request" }),
    errors: z
      .array(
        z.object({
          parameter: z.string(),
          in: z.enum(["path", "query", "header", "body"]),
          message: z.string(),
        }),
      )
      .optional()
      .openapi({ description: "Each invalid parameter and why" }),
  })
  .openapi("Problem", { description: "RFC 9457 problem details (application/problem+json)" });

export const TokenHealthSchema = z
  .object({
    token: address,
    allowed: z.boolean().openapi({ description: "Allowlisted for new deals by the registry now" }),
    escrowBlacklisted: z
      .boolean()
      .nullable()
      .openapi({
        description:
          "true: the token blacklists the escrow itself — every payout in it is deferred to owed and deposits " +
          "freeze; governance should disallow the token. null: the token has no blacklist (isBlackListed).",
      }),
    paused: z.boolean().nullable().openapi({
      description: "true: the token is paused (payouts deferred to owed until unpaused); null: it has no pause",
    }),
    checkedAt: z.number().int().nullable().openapi({ description: "Unix milliseconds of the last answer" }),
  })
  .openapi("TokenHealth");

export const HealthSchema = z
  .object({
    status: z.literal("ok"),
    tokens: z.array(TokenHealthSchema).openapi({
      description:
        "Every token the registry ever allowlisted, as the relayer last asked it (every minute; none before the " +
        "first answer)",
    }),
  })
  .openapi("Health");

export const ReadySchema = z
  .object({
    ready: z.boolean(),
    checks: z.record(z.string(), z.union([z.boolean(), z.string()])).openapi({
      description: "Each readiness check: true when it passes, false or a reason when it does not",
    }),
    /* readiness (availability.ts): what the lag check compared */
    block: z.number().int().optional().openapi({ description: "The indexed block" }),
    head: z.number().int().optional().openapi({ description: "The head the lag was measured against" }),
  })
  .openapi("Ready");

export const NotReadySchema = ProblemSchema.extend({
  ready: z.literal(false),
  checks: ReadySchema.shape.checks,
  block: ReadySchema.shape.block,
  head: ReadySchema.shape.head,
}).openapi("NotReady");
