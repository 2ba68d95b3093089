/**
 * The write API's zod schemas: request bodies (validated strictly: unknown members are errors), the typed-data
 * query, and responses. The same objects produce the OpenAPI document.
 */
import { z } from "zod";
import { DEAL_KINDS } from "../../../protocol";
import { CONFIRMATION_NAMES } from "../write/rules";
import { DealParams } from "./schemas";

/** Longest signature accepted, in bytes (an ERC-6492 wrapper carries a factory call; a Safe one byte per owner). */
export const MAX_SIGNATURE_BYTES = 8_192;

const HEX20 = /^0x[0-9a-fA-F]{40}$/;
const HEX32 = /^0x[0-9a-fA-F]{64}$/;

const address = (description: string) =>
  z
    .string({ error: "must be a string" })
    .regex(HEX20, { error: "must be an address: 0x followed by 40 hex digits" })
    .transform((s) => s.toLowerCase())
    .openapi({ description: `${description} (any case)`, example: `0x${"12".repeat(20)}` });

const bytes32 = (description: string) =>
  z
    .string({ error: "must be a string" })
    .regex(HEX32, { error: "must be 0x followed by 64 hex digits" })
    .transform((s) => s.toLowerCase())
    .openapi({ description, example: `0x${"ab".repeat(32)}` });

/** An unsigned integer as a JSON number (safe integer) or a decimal string, up to `bits` bits. */
const uint = (bits: number, description: string) =>
  z
    .union([z.string().regex(/^[0-9]{1,78}$/), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)], {
      error: "must be a non-negative integer (a JSON number or a decimal string)",
    })
    .transform((v) => BigInt(v))
    .refine((v) => v < 1n << BigInt(bits), { error: `must fit in ${bits} bits` })
    .openapi({ description, type: "string", example: "1735689600" });

const signature = z
  .string({ error: "must be a string" })
  .regex(/^0x([0-9a-fA-F]{2})+$/, { error: "must be 0x-prefixed hex bytes" })
  .refine((s) => (s.length - 2) / 2 <= MAX_SIGNATURE_BYTES, { error: `must be at most ${MAX_SIGNATURE_BYTES} bytes` })
  .openapi({
    description:
      "The signature: 65 bytes (r, s, v) or 64 (EIP-2098) for a key; whatever the wallet's ERC-1271 " +
      "`isValidSignature` takes for a smart-contract wallet (a Safe: its owners' signatures of the SafeMessage " +
      "the typed-data endpoint returns); an ERC-6492 wrapper for a wallet not deployed yet.",
  });

const expiry = uint(256, "Unix time after which the signature is void (the `expiry` signed in the message)");

export const ConfirmationBody = z
  .strictObject({
    action: z.enum(CONFIRMATION_NAMES, { error: `must be one of ${CONFIRMATION_NAMES.join(", ")}` }).openapi({
      description:
        "`performed` (the payee: goods delivered, fiat sent or received as the deal's kind says), `release` (the " +
        "payer: pay the payee), `cancel` (the payee refunds the payer; a payer's cancel waits for the payee's and " +
        "then both cancel together), `dispute` (payer or payee: hand the deal to its gateway)",
    }),
    signer: address("Who signed"),
    signature,
    expiry,
  })
  .openapi("ConfirmationRequest");
export type ConfirmationBody = z.output<typeof ConfirmationBody>;

export const DealInput = z
  .strictObject({
    payer: address("Payer: the customer, or on an on-ramp the acceptor whose float is locked"),
    payee: address("Payee"),
    gateway: address("The gateway both sides chose"),
    token: address("Token (USDT)"),
    amount: uint(96, "Amount in the token's base units"),
    deadline: uint(40, "Unix time by which the payee must perform"),
    releaseWindow: uint(32, "Seconds the payer has to release or dispute after the payee performs"),
    feeBps: uint(16, "The gateway's fee in basis points, as the registry holds it now"),
    kind: z.enum(DEAL_KINDS, { error: `must be one of ${DEAL_KINDS.join(", ")}` }),
    autoRelease: z.boolean({ error: "must be true or false" }),
    salt: bytes32("Salt: with the payer, it makes the deal id"),
  })
  .transform((d) => ({
    ...d,
    deadline: Number(d.deadline),
    releaseWindow: Number(d.releaseWindow),
    feeBps: Number(d.feeBps),
  }))
  .openapi("DealInput");

const intentFields = {
  type: z.enum(["open", "lock"], { error: "must be open or lock" }).openapi({
    description: "`open`: the payer's deposit (it must have approved the escrow); `lock`: an acceptor's float",
  }),
  deal: DealInput,
  ref: bytes32("The platform's reference (bytes32), stored with the deal").default(`0x${"0".repeat(64)}`),
  signer: address("A lock's signer: the acceptor or its lock delegate (an open is signed by the payer)").optional(),
};

export const IntentBody = z.strictObject({ ...intentFields, expiry, signature }).openapi("IntentRequest");
export type IntentBody = z.output<typeof IntentBody>;

export const IntentTypedDataBody = z.strictObject(intentFields).openapi("IntentTypedDataRequest");
export type IntentTypedDataBody = z.output<typeof IntentTypedDataBody>;

/** The payee's share of a split, in the token's base units (the rest is refunded to the payer). */
const payeeAmount = uint(
  96,
  "The payee's share before the gateway's fee, in the token's base units; the rest is refunded to the payer",
);

const TYPED_DATA_ACTIONS = [...CONFIRMATION_NAMES, "split"] as const;

export const TypedDataQuery = z
  .strictObject({
    action: z.enum(TYPED_DATA_ACTIONS, { error: `must be one of ${TYPED_DATA_ACTIONS.join(", ")}` }).openapi({
      description: "A confirmation, or `split` (both parties sign the same `payeeAmount`)",
    }),
    signer: address("Who will sign (checked against the deal; a Safe also gets what its owners sign)").optional(),
    payeeAmount: payeeAmount.optional().openapi({ description: "With `action=split` only: the payee's share" }),
  })
  .superRefine((q, ctx) => {
    if (q.action === "split" && q.payeeAmount === undefined) {
      ctx.addIssue({ code: "custom", path: ["payeeAmount"], message: "is required with action=split" });
    }
    if (q.action !== "split" && q.payeeAmount !== undefined) {
      ctx.addIssue({ code: "custom", path: ["payeeAmount"], message: "is only taken with action=split" });
    }
  });

export const SplitBody = z
  .strictObject({
    payeeAmount,
    signer: address("Who signed: the deal's payer or payee"),
    signature,
    expiry,
  })
  .openapi("SplitRequest");
export type SplitBody = z.output<typeof SplitBody>;

export const SubmissionParams = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "must be a submission id as returned by a POST" })
    .openapi({ description: "Submission id" }),
});
export { DealParams };

/* ----------------------------------------------- responses ----------------------------------------------- */

const TypedData = z
  .object({
    domain: z.object({ name: z.string(), version: z.string(), chainId: z.string(), verifyingContract: z.string() }),
    types: z.record(z.string(), z.array(z.object({ name: z.string(), type: z.string() }))),
    primaryType: z.string(),
    message: z.record(z.string(), z.unknown()),
  })
  .openapi("TypedData", { description: "An EIP-712 payload as `eth_signTypedData_v4` takes it" });

export const TypedDataSchema = z
  .object({
    dealId: z.string().optional(),
    typedData: TypedData,
    expiry: z.string().openapi({ description: "The suggested expiry, already in the message (one hour)" }),
    safe: TypedData.optional().openapi({
      description:
        "When the signer is a Safe: the SafeMessage its owners sign instead (their signatures, concatenated, are the Safe's)",
    }),
  })
  .openapi("TypedDataResponse");

export const SubmissionSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    dealId: z.string().optional(),
    status: z.enum(["queued", "sent", "mined", "final", "failed"]),
    transactions: z.array(
      z.object({
        hash: z.string(),
        nonce: z.number(),
        maxFeePerGas: z.string(),
        maxPriorityFeePerGas: z.string(),
        sentAt: z.number(),
      }),
    ),
    transactionHash: z.string().optional(),
    blockNumber: z.number().optional(),
    confirmations: z.number().optional(),
    gasUsed: z.string().optional(),
    error: z
      .object({ name: z.string(), args: z.record(z.string(), z.string()).optional(), message: z.string() })
      .optional(),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .openapi("Submission", {
    description:
      "queued → sent (a transaction hash) → mined → final (at the confirmation depth), or failed with the " +
      "decoded error. A fee bump replaces the transaction under the same id: `transactions` lists every hash.",
  });

export const SplitAcceptedSchema = z
  .object({
    dealId: z.string(),
    payeeAmount: z.string(),
    submission: z.union([SubmissionSchema, z.null()]),
    awaiting: z
      .enum(["payer", "payee"])
      .optional()
      .openapi({ description: "The first signature is held until this party signs the same amount" }),
  })
  .openapi("SplitAccepted");

export const AcceptedSchema = z
  .object({
    dealId: z.string(),
    action: z.string().optional(),
    submission: z.union([SubmissionSchema, z.null()]),
    awaiting: z.string().optional().openapi({ description: "A payer's cancel waits for the payee's: `payee`" }),
  })
  .openapi("Accepted");
