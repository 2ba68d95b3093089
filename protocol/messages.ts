/**
 * Per-order messages, pure: the text each author signs with EIP-191 (personal_sign), its hash, and the hash of an
 * exported thread's bundle. A message names the hash of the one before it (`prev`; the first names ZERO_HASH), so a
 * thread is a hash chain: removing, reordering or altering any message breaks every link after it, and each link
 * carries its author's signature.
 */
import { keccak256, toUtf8Bytes } from "ethers";

/** The `prev` of a thread's first message, and the head of an empty thread. */
export const ZERO_HASH = `0x${"0".repeat(64)}`;

/** What an author signs: the message without its signature. */
export type OrderMessageFields = {
  orderId: string;
  dealId: string;
  author: string;
  prev: string;
  /** Unix seconds. */
  sentAt: number;
  body: string;
};

/**
 * The exact text signed (EIP-191 personal_sign) for a message; addresses and ids lower-case:
 *
 *   USDT Escrow order message\nOrder: <orderId>\nDeal: <dealId>\nAuthor: <author>\nPrevious: <prev>\nSent: <sentAt>\n\n<body>
 */
export function orderMessageText(m: OrderMessageFields): string {
  return (
    "USDT Escrow order message\n" +
    `Order: ${m.orderId.toLowerCase()}\n` +
    `Deal: ${m.dealId.toLowerCase()}\n` +
    `Author: ${m.author.toLowerCase()}\n` +
    `Previous: ${m.prev.toLowerCase()}\n` +
    `Sent: ${m.sentAt}\n\n` +
    m.body
  );
}

/** A message's hash: keccak256 of its text's UTF-8 bytes (the next message's `prev`). */
export const orderMessageHash = (m: OrderMessageFields): string => keccak256(toUtf8Bytes(orderMessageText(m)));

/** JSON values a bundle is made of. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, as Array.prototype.sort does), no whitespace, members
 * whose value is undefined left out (as JSON.stringify does). Numbers must be finite; anything that is not JSON
 * (a bigint, a function, a non-finite number) throws, so two parties never hash different texts for one value.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("canonicalJson: a number must be finite");
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
      }
      const entries = Object.keys(value)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
      return `{${entries.join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} is not JSON`);
  }
}

/** A message as stored and exported. */
export type OrderMessage = OrderMessageFields & {
  hash: string;
  role: "user" | "acceptor" | "gateway";
  signature: string;
  /** Unix seconds, by the relayer that stored it. */
  receivedAt: number;
};

/** An exported thread, as the relayer signs it. */
export type MessageBundle = {
  orderId: string;
  dealId: string;
  chainId: number;
  escrow: string;
  messages: OrderMessage[];
  head: string;
  /** Unix seconds. */
  exportedAt: number;
};

/** A bundle's hash: keccak256 of its canonical JSON's UTF-8 bytes (what the relayer signs with EIP-191). */
export const bundleHash = (bundle: MessageBundle | Record<string, unknown>): string =>
  keccak256(toUtf8Bytes(canonicalJson(bundle)));
