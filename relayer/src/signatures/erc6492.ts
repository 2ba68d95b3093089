/**
 * ERC-6492: a signature of a wallet that is not deployed yet, wrapped as
 * `abi.encode(address factory, bytes factoryCalldata, bytes signature) ++ 0x6492…6492` (32 bytes). The relayer checks
 * it without deploying anything: an `eth_call` without a `to` runs the creation code of contracts/offchain/
 * ERC6492Probe.sol, whose constructor makes the factory call and then asks the new wallet `isValidSignature`.
 */
import { AbiCoder, concat, dataLength, getAddress, hexlify } from "ethers";
import { ERC6492Probe__factory } from "../../../typechain-types";
import type { Chain } from "../chain/types";
import { CallRevertedError } from "../errors";

/** The 32 bytes that end every ERC-6492 signature. */
export const ERC6492_MAGIC = "0x" + "6492".repeat(16);

export type Erc6492Wrapper = { factory: string; factoryCalldata: string; signature: string };

/** Whether `signature` ends with the ERC-6492 magic suffix. */
export function isErc6492(signature: Uint8Array): boolean {
  return signature.length >= 32 && hexlify(signature.subarray(signature.length - 32)) === ERC6492_MAGIC;
}

/** The parts of an ERC-6492 signature (addresses and data lower-case), or undefined when they do not decode. */
export function unwrapErc6492(signature: Uint8Array): Erc6492Wrapper | undefined {
  if (!isErc6492(signature)) return undefined;
  try {
    const body = signature.subarray(0, signature.length - 32);
    const [factory, factoryCalldata, inner] = AbiCoder.defaultAbiCoder().decode(["address", "bytes", "bytes"], body);
    return {
      factory: getAddress(factory as string).toLowerCase(),
      factoryCalldata: (factoryCalldata as string).toLowerCase(),
      signature: (inner as string).toLowerCase(),
    };
  } catch {
    return undefined;
  }
}

/** Wraps `signature` for ERC-6492 (tests and clients that build one). */
export function wrapErc6492(wrapper: Erc6492Wrapper): string {
  const body = AbiCoder.defaultAbiCoder().encode(
    ["address", "bytes", "bytes"],
    [wrapper.factory, wrapper.factoryCalldata, wrapper.signature],
  );
  return concat([body, ERC6492_MAGIC]).toLowerCase();
}

/**
 * What the probe saw: the factory call reverted (`revertData`), or returned without deploying the signer, or the
 * deployed wallet answered `isValidSignature` (`answered`: its return data, or its revert data when it reverted).
 */
export type ProbeOutcome =
  | { stage: "factory-reverted"; revertData: string }
  | { stage: "not-deployed" }
  | { stage: "answered"; ok: boolean; data: string };

/**
 * Runs the factory call of `wrapper` and then `signer.isValidSignature(digest, wrapper.signature)` in one `eth_call`
 * at the latest block, deploying nothing.
 */
export async function probeUndeployed(
  chain: Chain,
  input: { signer: string; digest: string; wrapper: Erc6492Wrapper },
): Promise<ProbeOutcome> {
  const { signer, digest, wrapper } = input;
  const args = [signer, digest, wrapper.factory, wrapper.factoryCalldata, wrapper.signature];
  const data = concat([
    ERC6492Probe__factory.bytecode,
    ERC6492Probe__factory.createInterface().encodeDeploy(args),
  ]).toLowerCase();
  let result: unknown;
  try {
    result = await chain.request("eth_call", [{ data }, "latest"]);
  } catch (error) {
    // The constructor never reverts on its own: only running out of gas gets here.
    if (error instanceof CallRevertedError) return { stage: "factory-reverted", revertData: error.data };
    throw error;
  }
  if (typeof result !== "string" || dataLength(result) < 64) return { stage: "factory-reverted", revertData: "0x" };
  const [outcome, returned] = AbiCoder.defaultAbiCoder().decode(["uint8", "bytes"], result) as unknown as [
    bigint,
    string,
  ];
  if (outcome === 0n) return { stage: "factory-reverted", revertData: returned.toLowerCase() };
  if (outcome === 1n) return { stage: "not-deployed" };
  return { stage: "answered", ok: outcome === 2n, data: returned.toLowerCase() };
}
