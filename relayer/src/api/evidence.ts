/**
 * Evidence over HTTP: the typed data a poster signs, the upload (the raw file as the body, the signature in
 * headers), the list and the file itself. The use cases and the access rule live in relayer/src/disputes/
 * evidence.ts.
 *
 * The upload's body is read here, not by express.json: `evidenceBodyReader` runs before the idempotency middleware,
 * refuses a body over the cap (413) or of a type that is not evidence (415) before reading it, keeps the bytes in
 * `res.locals` and sets `req.body` to a digest of the upload (its SHA-256, size, type and Evidence-* headers), so an
 * Idempotency-Key fingerprints the file without the middleware hashing megabytes as JSON: a retry of the same upload
 * replays the first answer, the same key with another file is 409 idempotency-key-reused.
 */
import type { NextFunction, Request, Response } from "express";
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { EVIDENCE_TYPES, isEvidenceType } from "../../../protocol";
import type { EvidenceService } from "../disputes/evidence";
import { sha256Hex } from "../disputes/evidence-store";
import type { KeyIdentity } from "../write/rules";
import { ApiProblem, type ParameterError } from "./problems";
import { EmptyQuery } from "./schemas";
import { clip, invalidParameters, validate, validateQuery } from "./validation";
import { MAX_SIGNATURE_BYTES } from "./write-schemas";
import { json, problem } from "./responses";

extendZodWithOpenApi(z);

const HEX20 = /^0x[0-9a-fA-F]{40}$/;
const HEX32 = /^0x[0-9a-fA-F]{64}$/;

const dealId = z
  .string()
  .regex(HEX32, { error: "must be a deal id: 0x followed by 64 hex digits" })
  .openapi({ description: "The deal id (any case)", example: `0x${"ab".repeat(32)}` });
const contentHash = z
  .string()
  .regex(HEX32, { error: "must be a content hash: 0x followed by 64 hex digits (the file's SHA-256)" })
  .openapi({ description: "SHA-256 of the file's bytes, 0x + 64 hex", example: `0x${"cd".repeat(32)}` });
/** Longest Evidence-Name header (percent-encoded: up to 3 characters per byte). */
const NAME_HEADER_MAX = 600;
const address = z.string().regex(HEX20, { error: "must be an address: 0x followed by 40 hex digits" });

export const EvidenceParams = z.object({ dealId });
export const EvidenceFileParams = z.object({ dealId, contentHash });
export const EvidenceTypedDataQuery = z.strictObject({
  contentHash,
  signer: address.optional().openapi({ description: "The poster (checked to be one who may post)" }),
});

/** The upload's headers (names lower-case, as node gives them). */
export const EvidenceHeaders = z.object({
  "evidence-signer": address.openapi({ description: "The poster: the deal's payer, payee, gateway or an arbiter" }),
  "evidence-signature": z
    .string()
    .regex(/^0x([0-9a-fA-F]{2})+$/, { error: "must be 0x-prefixed hex bytes" })
    .refine((s) => (s.length - 2) / 2 <= MAX_SIGNATURE_BYTES, {
      error: `must be at most ${MAX_SIGNATURE_BYTES} bytes`,
    })
    .openapi({ description: "The poster's signature of the Evidence typed data (EOA, ERC-1271 or ERC-6492)" }),
  "evidence-expiry": z
    .string()
    .regex(/^[0-9]{1,78}$/, { error: "must be a decimal unix time" })
    .openapi({ description: "The `expiry` of the signed message" }),
  "evidence-name": z
    .string()
    .max(NAME_HEADER_MAX, { error: `must be at most ${NAME_HEADER_MAX} characters` })
    .optional()
    .openapi({ description: "The file's name, percent-encoded UTF-8 (kept up to 200 characters)" }),
});

export const EvidenceTypedDataSchema = z
  .object({
    typedData: z.record(z.string(), z.unknown()).openapi({ description: "The Evidence EIP-712 payload" }),
    expiry: z.string(),
    uri: z.string().openapi({ description: "The URI anchored on-chain: /v1/deals/{dealId}/evidence/{contentHash}" }),
  })
  .openapi("EvidenceTypedData");

const role = z.enum(["payer", "payee", "gateway", "arbiter"]);

export const EvidenceUploadSchema = z
  .object({
    dealId: z.string(),
    contentHash: z.string(),
    uri: z.string(),
    contentType: z.string(),
    size: z.number().int(),
    name: z.string().nullable(),
    poster: z.string(),
    role,
    postedAt: z.number().int(),
    submission: z.string().openapi({ description: "The submission id of the anchoring postEvidenceWithSig" }),
  })
  .openapi("EvidenceUpload");

export const EvidenceItemSchema = z
  .object({
    contentHash: z.string(),
    uri: z.string(),
    contentType: z.string().nullable(),
    size: z.number().int().nullable(),
    name: z.string().nullable(),
    poster: z.string(),
    role,
    postedAt: z.number().int().openapi({ description: "Unix time of the upload (or of the anchoring block)" }),
    stored: z.boolean().openapi({ description: "Whether this relayer holds the file" }),
    anchored: z
      .object({ txHash: z.string(), block: z.number().int() })
      .nullable()
      .openapi({ description: "The EvidencePosted event, once indexed" }),
    submission: z.string().nullable(),
  })
  .openapi("EvidenceItem");

export const EvidenceListSchema = z.object({ items: z.array(EvidenceItemSchema) }).openapi("EvidenceList");

const UNAVAILABLE =
  "Evidence needs the write side (RELAYER_KEY or RELAYER_KEYSTORE), which this relayer does not run: its evidence " +
  "routes are off.";

const keyOf = (res: Response): KeyIdentity => {
  const key = res.locals.apiKey as KeyIdentity | undefined;
  if (!key) {
    throw new ApiProblem("unauthenticated", "Evidence needs an API key: Authorization: Bearer <key>.", {
      headers: { "WWW-Authenticate": 'Bearer realm="relayer"' },
    });
  }
  return key;
};

/** The declared media type, without parameters, lower-case ("" when none). */
const mediaTypeOf = (req: Request) => (req.get("content-type") ?? "").split(";")[0].trim().toLowerCase();

/** The Evidence-* headers, validated (400 naming each bad header). */
function uploadHeaders(req: Request) {
  const input = Object.fromEntries(
    Object.keys(EvidenceHeaders.shape).flatMap((name) => {
      const value = req.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
  const result = EvidenceHeaders.safeParse(input);
  const errors: ParameterError[] = result.success
    ? []
    : result.error.issues.map((issue) => ({
        parameter: String(issue.path[0] ?? "header"),
        in: "header" as const,
        message: issue.code === "invalid_type" ? "is required" : issue.message,
      }));
  let name: string | undefined;
  if (result.success && result.data["evidence-name"] !== undefined) {
    try {
      name = decodeURIComponent(result.data["evidence-name"]);
    } catch {
      errors.push({ parameter: "evidence-name", in: "header", message: "has malformed percent-encoding" });
    }
    // eslint-disable-next-line no-control-regex
    if (name !== undefined && /[\u0000-\u001f\u007f]/.test(name)) {
      errors.push({ parameter: "evidence-name", in: "header", message: "must not hold control characters" });
    }
  }
  if (errors.length > 0 || !result.success) throw invalidParameters(errors);
  return {
    signer: result.data["evidence-signer"].toLowerCase(),
    signature: result.data["evidence-signature"],
    expiry: BigInt(result.data["evidence-expiry"]),
    ...(name !== undefined ? { name: [...name].slice(0, 200).join("") } : {}),
  };
}

const tooLarge = (max: number) =>
  new ApiProblem("evidence-too-large", `An evidence file may be at most ${max} bytes.`, {
    headers: { Connection: "close" },
  });

/**
 * Reads an upload's raw body (at most `maxBytes`) before idempotency runs: 415 for a type that is not evidence, 413
 * over the cap (from Content-Length before reading, else as soon as the bytes pass it).
 */
export function evidenceBodyReader(maxBytes: () => number | undefined) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const max = maxBytes();
    if (max === undefined) return next();
    const type = mediaTypeOf(req);
    if (!isEvidenceType(type)) {
      throw new ApiProblem(
        "unsupported-media-type",
        `Evidence is sent as the raw file with Content-Type ${EVIDENCE_TYPES.join(", ")}; not ${clip(type || "none")}.`,
      );
    }
    const declared = Number(req.get("content-length") ?? NaN);
    if (Number.isFinite(declared) && declared > max) {
      req.resume();
      throw tooLarge(max);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > max) {
          req.off("data", onData);
          req.resume();
          reject(tooLarge(max));
          return;
        }
        chunks.push(chunk);
      };
      req.on("data", onData);
      req.once("end", () => resolve());
      req.once("error", reject);
    });
    const bytes = Buffer.concat(chunks);
    res.locals.evidenceBytes = bytes;
    // What the idempotency middleware fingerprints: the upload, not its megabytes.
    req.body = {
      sha256: sha256Hex(bytes),
      size: bytes.length,
      contentType: type,
      ...Object.fromEntries(
        ["evidence-signer", "evidence-signature", "evidence-expiry", "evidence-name"].map((h) => [h, req.get(h)]),
      ),
    };
    next();
  };
}

/** `attachment; filename="…"` with only safe ASCII kept, and the UTF-8 name as filename*. */
export function contentDisposition(name: string | null, fallback: string): string {
  const ascii = (name ?? "")
    .replace(/[^A-Za-z0-9._ -]/g, "_")
    .replace(/^[.\s]+/, "")
    .slice(0, 100);
  const safe = ascii === "" || /^_*$/.test(ascii) ? fallback : ascii;
  const star = name
    ? `; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`
    : "";
  return `attachment; filename="${safe}"${star}`;
}

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
  "application/pdf": "pdf",
};

export function evidenceHandlers(evidence: EvidenceService | undefined) {
  const need = () => {
    if (!evidence) throw new ApiProblem("unavailable", UNAVAILABLE);
    return evidence;
  };
  const params = (req: Request) => validate(EvidenceParams, req.params as Record<string, string>, "path");
  return {
    async evidenceTypedData(req: Request, res: Response) {
      const { dealId } = params(req);
      const query = validateQuery(req, EvidenceTypedDataQuery);
      const service = need();
      res.json(
        await service.typedData(
          keyOf(res),
          dealId.toLowerCase(),
          query.contentHash.toLowerCase(),
          query.signer?.toLowerCase(),
        ),
      );
    },

    async postEvidence(req: Request, res: Response) {
      const { dealId } = params(req);
      validateQuery(req, EmptyQuery);
      const service = need();
      const key = keyOf(res);
      const headers = uploadHeaders(req);
      const bytes = res.locals.evidenceBytes as Buffer | undefined;
      if (!bytes) throw new ApiProblem("malformed-request", "The request body could not be read.");
      const body = await service.upload(key, dealId.toLowerCase(), {
        bytes,
        contentType: mediaTypeOf(req),
        ...headers,
      });
      res.setHeader("Location", `/v1/submissions/${body.submission}`);
      res.status(202).json(body);
    },

    async listEvidence(req: Request, res: Response) {
      const { dealId } = params(req);
      validateQuery(req, EmptyQuery);
      res.json(await need().list(keyOf(res), dealId.toLowerCase()));
    },

    async getEvidenceFile(req: Request, res: Response) {
      const p = validate(EvidenceFileParams, req.params as Record<string, string>, "path");
      validateQuery(req, EmptyQuery);
      const hash = p.contentHash.toLowerCase();
      const file = await need().download(keyOf(res), p.dealId.toLowerCase(), hash);
      const extension = EXTENSIONS[file.contentType] ?? "bin";
      res.setHeader("Content-Type", file.contentType);
      res.setHeader("X-Content-Type-Options", "nosniff");
      res.setHeader("Content-Security-Policy", "sandbox");
      res.setHeader("Content-Disposition", contentDisposition(file.name, `${hash}.${extension}`));
      res.setHeader("Cache-Control", "private, no-store");
      res.status(200).end(file.bytes);
    },
  };
}

const binary = { type: "string" as const, format: "binary" };
const ACCESS =
  "Keys: admin; a party, acceptor or gateway key whose owner is the deal's payer, payee or gateway; the platform " +
  "key that registered the deal's ref; a key whose owner the registry says is an arbiter. Others get 403.";
const COMMON = {
  400: problem("Invalid parameter (type invalid-parameter)"),
  401: problem("No API key (type unauthenticated)"),
  403: problem("The key may not see this deal's evidence (type forbidden)"),
  404: problem("No deal with this id has been indexed (type deal-not-found)"),
};

/** The evidence routes, for api/openapi.ts ROUTES (the typed-data path before the file's, which would match it). */
export const EVIDENCE_ROUTES = [
  {
    id: "evidenceTypedData" as const,
    method: "get" as const,
    path: "/v1/deals/{dealId}/evidence/typed-data",
    operationId: "evidenceTypedData",
    tags: ["evidence"],
    summary: "The Evidence typed data a poster signs for a file (by its SHA-256)",
    description: `The uri in it is the one anchored on-chain. ${ACCESS}`,
    request: { params: EvidenceParams, query: EvidenceTypedDataQuery },
    responses: {
      200: json(EvidenceTypedDataSchema, "The typed data, its expiry and the uri"),
      ...COMMON,
      422: problem("The signer may not post evidence on this deal (type wrong-signer)"),
    },
  },
  {
    id: "postEvidence" as const,
    method: "post" as const,
    path: "/v1/deals/{dealId}/evidence",
    operationId: "postEvidence",
    tags: ["evidence"],
    summary: "Upload a file as evidence and anchor its hash on-chain with the poster's signature",
    description:
      "The body is the raw file; its Content-Type must be one of the evidence types and match the file's first " +
      "bytes. The poster signs the Evidence typed data of the file's SHA-256 (GET …/evidence/typed-data) and sends " +
      "the signature in headers. The relayer stores the file under its hash and queues postEvidenceWithSig. " +
      `While the deal is open, performed or disputed. ${ACCESS}`,
    request: {
      params: EvidenceParams,
      headers: EvidenceHeaders,
      body: {
        required: true,
        content: Object.fromEntries(EVIDENCE_TYPES.map((t) => [t, { schema: binary }])),
      },
    },
    responses: {
      202: json(EvidenceUploadSchema, "Stored; the anchoring is queued (Location: /v1/submissions/{id})"),
      ...COMMON,
      409: problem("The deal is not live (type wrong-status)"),
      413: problem("The file is over EVIDENCE_MAX_BYTES (type evidence-too-large)"),
      415: problem("The type is not an evidence type or not the file's (type unsupported-media-type)"),
      422: problem("Wrong signer, expired or invalid signature, or the escrow would revert"),
    },
  },
  {
    id: "listEvidence" as const,
    method: "get" as const,
    path: "/v1/deals/{dealId}/evidence",
    operationId: "listEvidence",
    tags: ["evidence"],
    summary: "The deal's evidence, oldest first: uploads here and every EvidencePosted on-chain",
    description: `Evidence anchored elsewhere shows with stored=false. ${ACCESS}`,
    request: { params: EvidenceParams },
    responses: { 200: json(EvidenceListSchema, "The evidence"), ...COMMON },
  },
  {
    id: "getEvidenceFile" as const,
    method: "get" as const,
    path: "/v1/deals/{dealId}/evidence/{contentHash}",
    operationId: "getEvidenceFile",
    tags: ["evidence"],
    summary: "An evidence file uploaded for the deal, as an attachment",
    description: `Sent with nosniff, Content-Disposition: attachment and Content-Security-Policy: sandbox. ${ACCESS}`,
    request: { params: EvidenceFileParams },
    responses: {
      200: {
        description: "The file",
        content: Object.fromEntries(EVIDENCE_TYPES.map((t) => [t, { schema: binary }])),
      },
      ...COMMON,
      404: problem("No such deal (deal-not-found), or no such file uploaded for it (evidence-not-found)"),
    },
  },
];
