/**
 * Payment method names. On chain a method is only `keccak256(name)` (bytes32): the relayer shows a method's name
 * where it knows it — a small built-in list of common rails, plus every name a client asked for by name that some
 * acceptor supports (GET /v1/acceptors?method=<name>). The learned names live in the process (bounded), so a
 * replica that never saw the query shows the id alone until someone asks it by name.
 */
import { id as keccakId } from "ethers";

/** Common rails as `<rail>:<currency>`; anything else is learned from queries. */
export const KNOWN_METHOD_NAMES: readonly string[] = [
  "SEPA:EUR",
  "SEPA_INSTANT:EUR",
  "PIX:BRL",
  "UPI:INR",
  "SPEI:MXN",
  "ACH:USD",
  "WIRE:USD",
  "ZELLE:USD",
  "FPS:GBP",
  "INTERAC:CAD",
  "PAYNOW:SGD",
  "PROMPTPAY:THB",
  "GCASH:PHP",
  "MPESA:KES",
  "BLIK:PLN",
  "TWINT:CHF",
  "SWISH:SEK",
  "MOBILEPAY:DKK",
  "VIPPS:NOK",
  "NPP:AUD",
  "BANK_TRANSFER:NGN",
  "ALIPAY:CNY",
  "WECHAT:CNY",
  "CASH:USD",
  "CASH:EUR",
];

/** Most names learned from queries (beyond the built-in ones); the oldest learned is dropped first. */
export const LEARNED_NAMES_MAX = 1_000;

export type MethodNames = {
  /** The name of a method id (lower-case bytes32 hex), if known. */
  nameOf(method: string): string | undefined;
  /** Remembers a name a client used (call only when the id is a method some acceptor supports). */
  learn(name: string): void;
};

export function createMethodNames(builtIn: readonly string[] = KNOWN_METHOD_NAMES): MethodNames {
  const fixed = new Map(builtIn.map((name) => [keccakId(name), name]));
  const learned = new Map<string, string>();
  return {
    nameOf: (method) => fixed.get(method) ?? learned.get(method),
    learn(name) {
      const method = keccakId(name);
      if (fixed.has(method) || learned.has(method)) return;
      if (learned.size >= LEARNED_NAMES_MAX) learned.delete(learned.keys().next().value!);
      learned.set(method, name);
    },
  };
}
