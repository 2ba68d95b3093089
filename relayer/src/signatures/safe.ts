/**
 * Safe (formerly Gnosis Safe) wallets, 1.3.0 and 1.4.1: what their owners sign for an ERC-1271 signature, what the
 * Safe is (version, owners, threshold) and what its `GS0xx` refusals mean.
 *
 * A Safe answers `isValidSignature(bytes32 digest, bytes signatures)` through its CompatibilityFallbackHandler,
 * which checks the owners' signatures against the Safe's own EIP-712 message `SafeMessage(bytes message)` with
 * `message = abi.encode(digest)`, in the domain `{chainId, verifyingContract: safe}` (both versions alike; the tests
 * check it against the real contracts). Owners who sign the escrow's typed data directly are refused with GS026.
 */
import { Interface, TypedDataEncoder, getAddress, type TypedDataField } from "ethers";
import type { Chain } from "../chain/types";
import { recoverAsEscrow } from "./ecdsa";

/** The Safe functions read here (the Safe's ABI is not compiled by this project). */
const SAFE = new Interface([
  "function VERSION() view returns (string)",
  "function getOwners() view returns (address[])",
  "function getThreshold() view returns (uint256)",
]);

export type SafeInfo = { version: string; owners: string[]; threshold: number };

/** Version, owners (lower-case) and threshold of the Safe at `address`; undefined when it is not a Safe. */
export async function safeInfo(chain: Chain, address: string): Promise<SafeInfo | undefined> {
  const read = async (name: "VERSION" | "getOwners" | "getThreshold") => {
    const outcome = await chain.simulate({ to: address, data: SAFE.encodeFunctionData(name) }, "latest");
    if (!outcome.ok) return undefined;
    try {
      return SAFE.decodeFunctionResult(name, outcome.data)[0] as unknown;
    } catch {
      return undefined;
    }
  };
  const [version, owners, threshold] = await Promise.all([read("VERSION"), read("getOwners"), read("getThreshold")]);
  if (typeof version !== "string" || !Array.isArray(owners) || typeof threshold !== "bigint") return undefined;
  if (threshold === 0n || threshold > BigInt(owners.length)) return undefined;
  return { version, owners: owners.map((o: string) => o.toLowerCase()), threshold: Number(threshold) };
}

/** The EIP-712 payload a Safe's owners sign so that the Safe accepts `digest` through ERC-1271. */
export type SafeMessageTypedData = {
  domain: { chainId: number; verifyingContract: string };
  types: { SafeMessage: TypedDataField[] };
  primaryType: "SafeMessage";
  message: { message: string };
};

/** What the owners of `safe` on `chainId` sign for the escrow's `digest` (each owner signs it with signTypedData). */
export function safeMessageTypedData(safe: string, chainId: number, digest: string): SafeMessageTypedData {
  return {
    domain: { chainId, verifyingContract: getAddress(safe) },
    types: { SafeMessage: [{ name: "message", type: "bytes" }] },
    primaryType: "SafeMessage",
    // abi.encode(bytes32) is the 32 bytes themselves
    message: { message: digest.toLowerCase() },
  };
}

/** The hash the owners' ECDSA signatures are over (the handler's `getMessageHashForSafe(safe, abi.encode(digest))`). */
export function safeMessageHash(safe: string, chainId: number, digest: string): string {
  const { domain, types, message } = safeMessageTypedData(safe, chainId, digest);
  return TypedDataEncoder.hash(domain, types, message);
}

/** What each GS0xx reason string of Safe's signature check means, as a clause. */
export const SAFE_REFUSALS: Record<string, string> = {
  GS001: "the Safe has no threshold: it was never set up",
  GS020: "the signatures are too short: the Safe needs 65 bytes for each of its threshold of owners",
  GS021: "a contract owner's signature points inside the owners' fixed-size part (bad offset)",
  GS022: "a contract owner's signature offset points past the end of the signatures",
  GS023: "a contract owner's signature runs past the end of the signatures",
  GS024: "a contract owner of the Safe (an ERC-1271 wallet) refused its part of the signature",
  GS025: "an approved-hash part (v = 1) names an owner that has not approved this hash on chain",
  GS026: "a part of the signature does not recover to an owner, or the parts are not in ascending owner order",
  GS027: "a contract owner's signature is for other data than this message",
};

/** The explanation of a Safe refusal: a refusal code of checkSignature and one sentence. */
export type SafeRefusal = { code: "safe-message-expected" | "wallet-rejected"; reason: string };

const SIGNED_DIRECTLY =
  "the owners' signatures do not match: they signed the escrow's typed data directly; sign the SafeMessage the " +
  "typed-data endpoint returns for a Safe";

/**
 * Explains `gsCode` (e.g. "GS026"), the reason string the Safe at `safe` reverted with when asked about `digest`
 * and `signature`. For GS026 it looks at the owners' ECDSA parts (65 bytes each, v 27 or 28) to say which mistake
 * was made: the escrow's digest signed instead of the SafeMessage, a key that is not an owner, or the order.
 * `info` is the Safe's state when known (not for a Safe that is not deployed yet).
 */
export function explainSafeRefusal(
  gsCode: string,
  context: { safe: string; chainId: number; digest: string; signature: Uint8Array; info?: SafeInfo },
): SafeRefusal {
  const { safe, chainId, digest, signature, info } = context;
  const meaning = SAFE_REFUSALS[gsCode] ?? "an unknown refusal";
  const where = `the Safe at ${safe.toLowerCase()}`;
  if (gsCode === "GS020" && info) {
    return {
      code: "wallet-rejected",
      reason:
        `${where} needs ${info.threshold} owner signature(s) of 65 bytes each and got ${signature.length} ` +
        `bytes (${gsCode})`,
    };
  }
  if (gsCode !== "GS026")
    return { code: "wallet-rejected", reason: `${where} refused the signature: ${meaning} (${gsCode})` };
  if (!info) return { code: "safe-message-expected", reason: `${SIGNED_DIRECTLY} (${gsCode})` };
  const parts = Array.from({ length: Math.floor(signature.length / 65) }, (_, i) =>
    signature.subarray(i * 65, i * 65 + 65),
  ).slice(0, info.threshold);
  const signers = (hash: string) =>
    parts.map((part) => {
      const recovered = part[64] === 27 || part[64] === 28 ? recoverAsEscrow(hash, part) : undefined;
      return recovered?.ok ? recovered.address : undefined;
    });
  const isOwner = (a: string | undefined) => a !== undefined && info.owners.includes(a);
  if (signers(digest).some(isOwner)) return { code: "safe-message-expected", reason: `${SIGNED_DIRECTLY} (${gsCode})` };
  const onMessage = signers(safeMessageHash(safe, chainId, digest));
  const stranger = onMessage.findIndex((a) => a !== undefined && !isOwner(a));
  if (stranger >= 0) {
    return {
      code: "wallet-rejected",
      reason:
        `part ${stranger + 1} of the signature recovers to ${onMessage[stranger]}, which is not an owner of ${where}: ` +
        `another key signed, or the owners signed something other than this SafeMessage (${gsCode})`,
    };
  }
  if (onMessage.length > 0 && onMessage.every(isOwner)) {
    return {
      code: "wallet-rejected",
      reason:
        `${where} needs its owners' signatures concatenated in ascending order of owner address, ` +
        `each owner once (${gsCode})`,
    };
  }
  return { code: "wallet-rejected", reason: `${where} refused the signature: ${meaning} (${gsCode})` };
}
