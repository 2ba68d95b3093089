/**
 * Checks a signature of an escrow digest the way the escrow's `_verify` does (contracts/Escrow.sol), before anything
 * is sent: an ECDSA signature that recovers to the signer first; otherwise, when the signer has code, its ERC-1271
 * `isValidSignature` through an `eth_call`, accepting only the magic value. Where the escrow reports every wallet
 * failure as a bare `EscrowInvalidSignature`, this passes the wallet's own reason on (a Safe's GS0xx explained), and
 * it also accepts an ERC-6492 signature of a wallet not deployed yet, returning the factory call to send first.
 */
import { AbiCoder, Interface, dataSlice, getBytes, isAddress, isHexString } from "ethers";
import type { Chain } from "../chain/types";
import { recoverAsEscrow } from "./ecdsa";
import { probeUndeployed, unwrapErc6492, isErc6492, type Erc6492Wrapper } from "./erc6492";
import { explainSafeRefusal, safeInfo } from "./safe";

/** Every refusal of checkSignature (a problem kind each, for the API). */
export const SIGNATURE_REFUSALS = [
  "malformed", // not a signature the escrow could accept in any form
  "wrong-signer", // a valid ECDSA signature by another key (or over other data), and the signer has no code
  "wallet-rejected", // the signer's wallet refused it (its reason passed on)
  "not-a-wallet", // the signer has code that does not answer ERC-1271
  "safe-message-expected", // a Safe's owners signed the escrow's typed data instead of the Safe's SafeMessage
  "wallet-not-deployable", // ERC-6492: the wrapped factory call reverts, or does not deploy the signer
] as const;
export type SignatureRefusal = (typeof SIGNATURE_REFUSALS)[number];

export type SignatureCheck =
  | {
      ok: true;
      via: "eoa" | "erc1271" | "erc6492";
      /**
       * The signature to put in the escrow call: the input, or its 65-byte form (an EIP-2098 input), or the inner
       * signature of an ERC-6492 wrapper (the escrow does not read the wrapper).
       */
      signature: string;
      /** ERC-6492 from a wallet without code yet: the call that deploys it, to send before the escrow call. */
      deploy?: { factory: string; data: string };
    }
  | { ok: false; code: SignatureRefusal; reason: string /* one sentence for a problem's detail */ };

/** ERC-1271's magic value, as the one 32-byte word the escrow compares the answer with. */
/**
 * The longest signature checked, in bytes: far above a Safe of 100 owners (65 bytes each) or an ERC-6492 wrapper with
 * a Safe's factory call; anything longer is refused before it reaches the node.
 */
export const MAX_SIGNATURE_BYTES = 16_384;

const MAGIC_WORD = "0x1626ba7e" + "0".repeat(56);
const ERC1271 = new Interface(["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"]);
const ERROR_STRING = "0x08c379a0"; // Error(string)
const PANIC = "0x4e487b71"; // Panic(uint256)

const refuse = (code: SignatureRefusal, reason: string): SignatureCheck => ({ ok: false, code, reason });

/**
 * Checks that `signer` signed `digest` (the escrow's EIP-712 digest) with `signature`, as the escrow would at the
 * latest block. Answers a refusal for every bad input; throws only when the chain fails (the adapter's errors).
 */
export async function checkSignature(
  chain: Chain,
  input: { signer: string; digest: string; signature: string },
): Promise<SignatureCheck> {
  if (typeof input.signer !== "string" || !isAddress(input.signer) || !input.signer.startsWith("0x")) {
    return refuse("malformed", "the signer is not a 0x-prefixed 20-byte address");
  }
  if (!isHexString(input.digest, 32)) return refuse("malformed", "the digest is not 32 bytes of 0x-prefixed hex");
  if (!isHexString(input.signature) || input.signature.length % 2 !== 0) {
    return refuse("malformed", "the signature is not 0x-prefixed hex bytes");
  }
  if (input.signature.length > 2 + 2 * MAX_SIGNATURE_BYTES) {
    return refuse("malformed", `the signature is longer than ${MAX_SIGNATURE_BYTES} bytes`);
  }
  const signer = input.signer.toLowerCase();
  const digest = input.digest.toLowerCase();
  let bytes = getBytes(input.signature);
  let wrapper: Erc6492Wrapper | undefined;
  if (isErc6492(bytes)) {
    wrapper = unwrapErc6492(bytes);
    if (!wrapper) {
      return refuse("malformed", "the signature ends with the ERC-6492 suffix but does not decode as its wrapper");
    }
    bytes = getBytes(wrapper.signature);
  }

  const recovered = recoverAsEscrow(digest, bytes);
  if (recovered.ok && recovered.address === signer) return { ok: true, via: "eoa", signature: recovered.signature };
  const code = await chain.request("eth_getCode", [signer, "latest"]);
  const hasCode = typeof code === "string" && code !== "0x" && code !== "0x0";
  const signature = wrapper ? wrapper.signature : input.signature.toLowerCase();

  if (!hasCode && wrapper) return checkUndeployed(chain, { signer, digest, wrapper });
  if (!hasCode) {
    if (!recovered.ok) return refuse("malformed", recovered.reason);
    return refuse(
      "wrong-signer",
      `the signature recovers to ${recovered.address}, not to the signer ${signer}: another key signed, or it was ` +
        "signed over other data (another deal, action, expiry, chain or escrow)",
    );
  }

  const outcome = await chain.simulate(
    { to: signer, data: ERC1271.encodeFunctionData("isValidSignature", [digest, signature]) },
    "latest",
  );
  const verdict = outcome.ok ? judge(true, outcome.data) : judge(false, outcome.revertData);
  if (verdict === "valid") return { ok: true, via: "erc1271", signature };
  return explain(chain, verdict, { signer, digest, signature, deployed: true });
}

/**
 * ERC-6492 from a signer without code: the probe runs the wrapped factory call, then the new wallet's ERC-1271
 * check, in one eth_call; an accepted signature comes back with the factory call to send before the escrow call.
 */
async function checkUndeployed(
  chain: Chain,
  input: { signer: string; digest: string; wrapper: Erc6492Wrapper },
): Promise<SignatureCheck> {
  const { signer, digest, wrapper } = input;
  const probe = await probeUndeployed(chain, { signer, digest, wrapper });
  if (probe.stage === "factory-reverted") {
    return refuse(
      "wallet-not-deployable",
      `the factory call in the ERC-6492 signature (factory ${wrapper.factory}) reverts` +
        `${describeRevert(probe.revertData)}, so the wallet cannot be deployed from it`,
    );
  }
  if (probe.stage === "not-deployed") {
    return refuse(
      "wallet-not-deployable",
      `the factory call in the ERC-6492 signature does not deploy the signer ${signer}: it is for another wallet ` +
        "(other owners, salt or implementation)",
    );
  }
  const verdict = judge(probe.ok, probe.data);
  if (verdict === "valid") {
    return {
      ok: true,
      via: "erc6492",
      signature: wrapper.signature,
      deploy: { factory: wrapper.factory, data: wrapper.factoryCalldata },
    };
  }
  return explain(chain, verdict, { signer, digest, signature: wrapper.signature, deployed: false });
}

/** How a wallet answered: accepted, answered something else, or reverted (with its revert data). */
type Verdict = "valid" | { answered: string } | { reverted: string };

function judge(ok: boolean, data: string): Verdict {
  if (!ok) return { reverted: data };
  // As OpenZeppelin's SignatureChecker: at least 32 bytes back, and the first word is exactly the magic value.
  if (data.length >= 66 && data.slice(0, 66) === MAGIC_WORD) return "valid";
  return { answered: data };
}

/** A refusal that says why the wallet at `signer` did not accept the signature. */
async function explain(
  chain: Chain,
  verdict: Exclude<Verdict, "valid">,
  context: { signer: string; digest: string; signature: string; deployed: boolean },
): Promise<SignatureCheck> {
  const { signer, digest, signature, deployed } = context;
  const wallet = `the wallet at ${signer}`;
  if ("answered" in verdict) {
    const data = verdict.answered;
    if (data.length >= 66) {
      return refuse(
        "wallet-rejected",
        `${wallet} answered ${dataSlice(data, 0, 4)} to isValidSignature, not the ERC-1271 magic value 0x1626ba7e: ` +
          "it does not accept this signature for this digest",
      );
    }
    const safe = deployed ? await safeInfo(chain, signer) : undefined;
    if (safe) {
      return refuse(
        "not-a-wallet",
        `the Safe at ${signer} has no fallback handler that answers isValidSignature: set its fallback handler to ` +
          "Safe's CompatibilityFallbackHandler to sign with it",
      );
    }
    return refuse(
      "not-a-wallet",
      `the contract at ${signer} does not answer isValidSignature(bytes32,bytes) (ERC-1271): it is not a wallet ` +
        "that can sign",
    );
  }
  const data = verdict.reverted;
  if (data === "0x") {
    return refuse(
      "not-a-wallet",
      `the contract at ${signer} reverted isValidSignature(bytes32,bytes) without a reason, as a contract without ` +
        "ERC-1271 does: it is not a wallet that can sign",
    );
  }
  const message = errorString(data);
  if (message !== undefined && /^GS0\d\d$/.test(message)) {
    const info = deployed ? await safeInfo(chain, signer) : undefined;
    const chainId = await chain.chainId();
    const explained = explainSafeRefusal(message, {
      safe: signer,
      chainId,
      digest,
      signature: getBytes(signature),
      info,
    });
    return refuse(explained.code, explained.reason);
  }
  return refuse("wallet-rejected", `${wallet} refused the signature${describeRevert(data)}`);
}

/** The reason string of an `Error(string)` revert, or undefined. */
function errorString(data: string): string | undefined {
  if (!data.startsWith(ERROR_STRING)) return undefined;
  try {
    return AbiCoder.defaultAbiCoder().decode(["string"], dataSlice(data, 4))[0] as string;
  } catch {
    return undefined;
  }
}

/** `: "<reason>"`, `: panic 0x11`, `: custom error 0x12345678` or `` for revert data. */
export function describeRevert(data: string): string {
  if (data === "0x" || data.length < 10) return " without a reason";
  const message = errorString(data);
  if (message !== undefined) return `: "${message.replace(/[^\x20-\x7e]/g, "?").slice(0, 200)}"`;
  if (data.startsWith(PANIC) && data.length === 74) return `: panic 0x${BigInt(dataSlice(data, 4)).toString(16)}`;
  return `: custom error ${dataSlice(data, 0, 4)}`;
}
