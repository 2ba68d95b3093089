/**
 * Evidence files of a dispute: which content types a relayer stores, how a file's type is told from its first bytes,
 * and the URI a relayer anchors on-chain with the file's hash (`postEvidenceWithSig`). The content hash is the
 * SHA-256 of the file's bytes, as 0x + 64 lower-case hex.
 */

/** The content types a relayer accepts as evidence. */
export const EVIDENCE_TYPES = ["image/png", "image/jpeg", "image/webp", "application/pdf"] as const;
export type EvidenceType = (typeof EVIDENCE_TYPES)[number];

/** A content hash or deal id: 0x + 64 hex. */
const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/**
 * The URI a relayer anchors for a file it stores: `/v1/deals/{dealId}/evidence/{contentHash}`, lower-case, relative
 * to the relayer (whoever reads the on-chain log asks the relayer that posted it).
 */
export function evidenceUri(dealId: string, contentHash: string): string {
  if (!BYTES32.test(dealId)) throw new Error(`not a deal id: ${dealId}`);
  if (!BYTES32.test(contentHash)) throw new Error(`not a content hash: ${contentHash}`);
  return `/v1/deals/${dealId.toLowerCase()}/evidence/${contentHash.toLowerCase()}`;
}

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0) =>
  bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b);

/** PNG's 8-byte signature. */
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** JPEG: SOI followed by a marker's first byte. */
const JPEG = [0xff, 0xd8, 0xff];
/** WebP: "RIFF" <size> "WEBP". */
const RIFF = [0x52, 0x49, 0x46, 0x46];
const WEBP = [0x57, 0x45, 0x42, 0x50];
/** PDF: "%PDF-". */
const PDF = [0x25, 0x50, 0x44, 0x46, 0x2d];

/** The evidence type a file's first bytes (magic numbers) say it is, or undefined for anything else. */
export function sniffContentType(bytes: Uint8Array): EvidenceType | undefined {
  if (startsWith(bytes, PNG)) return "image/png";
  if (startsWith(bytes, JPEG)) return "image/jpeg";
  if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8)) return "image/webp";
  if (startsWith(bytes, PDF)) return "application/pdf";
  return undefined;
}

/** Whether `type` (without parameters, any case) is an evidence type. */
export const isEvidenceType = (type: string): type is EvidenceType =>
  (EVIDENCE_TYPES as readonly string[]).includes(type);
