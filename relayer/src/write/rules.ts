/**
 * The write side's rules, pure: which confirmations the API takes, who may sign each, from which statuses, and
 * which API keys may act on a deal. The contract stays the judge (every call is simulated before it is sent);
 * these rules refuse early, with a reason a merchant can act on.
 */
import { Action, DEAL_STATUSES, startsFrom, type DealCall, type DealStatus } from "../../../protocol";
import type { Hash } from "../domain/projection";

/** The confirmations a party posts, by API name, with the escrow action each signs. */
export const CONFIRMATIONS = {
  performed: { action: Action.Perform, call: "perform", signers: ["payee"] },
  release: { action: Action.Release, call: "release", signers: ["payer"] },
  cancel: { action: Action.Cancel, call: "cancel", signers: ["payee", "payer"] },
  dispute: { action: Action.Dispute, call: "dispute", signers: ["payer", "payee"] },
} as const satisfies Record<string, { action: number; call: DealCall; signers: readonly Role[] }>;
export type ConfirmationName = keyof typeof CONFIRMATIONS;
export const CONFIRMATION_NAMES = Object.keys(CONFIRMATIONS) as ConfirmationName[];

export type Role = "payer" | "payee";

/** Suggested lifetime of a signature the typed-data endpoint prepares. */
export const SUGGESTED_EXPIRY_SECONDS = 3_600;
/** Longest lifetime a posted signature may have (a signature is a standing order until it expires). */
export const MAX_EXPIRY_SECONDS = 30 * 86_400;

/** A refusal: the problem kind the API answers with and its detail. */
export type Refusal = {
  kind: "forbidden" | "wrong-signer" | "wrong-status" | "signature-expired" | "split-amount-too-high";
  detail: string;
};

/** The signer's role in the deal (payer first: a deal's payer and payee always differ). */
export function roleOf(deal: Hash, signer: string): Role | undefined {
  const s = signer.toLowerCase();
  return s === deal.payer ? "payer" : s === deal.payee ? "payee" : undefined;
}

const statusNumber = (status: string) => DEAL_STATUSES.indexOf(status as DealStatus) + 1;

/**
 * Whether `signer` may post `name` on `deal` now, as far as the projection tells: its role, the deal's status and
 * the signature's expiry. Time windows (deadline, release window) are left to the simulation.
 */
export function checkConfirmation(
  deal: Hash,
  name: ConfirmationName,
  signer: string,
  expiry: bigint,
  now: number,
): Refusal | undefined {
  const rule = CONFIRMATIONS[name];
  const role = roleOf(deal, signer);
  if (role === undefined || !(rule.signers as readonly Role[]).includes(role)) {
    const who = rule.signers.join(" or the ");
    return { kind: "wrong-signer", detail: `Only the deal's ${who} signs "${name}"; ${signer} is not.` };
  }
  if (!startsFrom(rule.call, statusNumber(deal.status))) {
    return { kind: "wrong-status", detail: `The deal is ${deal.status}; "${name}" cannot be confirmed now.` };
  }
  if (name === "release" && deal.status === "open" && deal.payerReleased === "1") {
    return {
      kind: "wrong-status",
      detail: "The payer's release is already recorded; it pays when the payee performs.",
    };
  }
  return checkExpiry(expiry, now);
}

/**
 * Whether `signer` may sign a split of `deal` giving the payee `payeeAmount` now: payer or payee, a live deal (open,
 * performed or disputed), an amount within the deal's, and the expiry. The two signatures must name the same amount.
 */
export function checkSplit(
  deal: Hash,
  signer: string,
  payeeAmount: bigint,
  expiry: bigint,
  now: number,
): Refusal | { role: Role } {
  const role = roleOf(deal, signer);
  if (role === undefined) {
    return { kind: "wrong-signer", detail: `Only the deal's payer and payee sign a split; ${signer} is neither.` };
  }
  if (!startsFrom("splitWithSigs", statusNumber(deal.status))) {
    return { kind: "wrong-status", detail: `The deal is ${deal.status}; only a live deal can be split.` };
  }
  if (payeeAmount > BigInt(deal.amount)) {
    return {
      kind: "split-amount-too-high",
      detail: `The payee's share ${payeeAmount} exceeds the deal's amount ${deal.amount}.`,
    };
  }
  return checkExpiry(expiry, now) ?? { role };
}

/** A signature's expiry must lie ahead, and not further than MAX_EXPIRY_SECONDS. */
export function checkExpiry(expiry: bigint, now: number): Refusal | undefined {
  if (expiry < BigInt(now)) {
    return { kind: "signature-expired", detail: `The signature expired at ${expiry} (now ${now}).` };
  }
  if (expiry > BigInt(now + MAX_EXPIRY_SECONDS)) {
    return {
      kind: "signature-expired",
      detail: `The expiry ${expiry} is more than ${MAX_EXPIRY_SECONDS / 86_400} days ahead; sign a shorter one.`,
    };
  }
  return undefined;
}

/** What an API key is: its scope and its owner (an address). */
export type KeyIdentity = {
  id: string;
  scope: "read" | "party" | "acceptor" | "gateway" | "platform" | "admin";
  owner: string;
};

/**
 * Whether a key may act on a deal: an admin key anywhere; a party, acceptor or gateway key where its owner is the
 * payer, the payee or the gateway; a platform key on deals whose `ref` it registered; a read key never.
 */
export function authorize(
  key: KeyIdentity,
  deal: { payer: string; payee: string; gateway: string; ref?: string },
  refOwner: string | undefined,
): Refusal | undefined {
  const refuse = (why: string): Refusal => ({ kind: "forbidden", detail: `This API key may not act here: ${why}.` });
  switch (key.scope) {
    case "admin":
      return undefined;
    case "read":
      return refuse("it is a read key");
    case "platform":
      return refOwner === key.id ? undefined : refuse("the deal's ref was not registered by this platform key");
    default: {
      const owner = key.owner.toLowerCase();
      return [deal.payer, deal.payee, deal.gateway].includes(owner)
        ? undefined
        : refuse(`its owner ${owner} is neither the deal's payer, payee nor gateway`);
    }
  }
}
