/** Signature checks of the write side: EOA, ERC-1271 (Safe first-class) and ERC-6492, as the escrow verifies them. */
export {
  checkSignature,
  describeRevert,
  MAX_SIGNATURE_BYTES,
  SIGNATURE_REFUSALS,
  type SignatureCheck,
  type SignatureRefusal,
} from "./check";
export { recoverAsEscrow, HALF_CURVE_ORDER, type Recovery } from "./ecdsa";
export { ERC6492_MAGIC, isErc6492, unwrapErc6492, wrapErc6492, type Erc6492Wrapper } from "./erc6492";
export {
  explainSafeRefusal,
  safeInfo,
  safeMessageHash,
  safeMessageTypedData,
  SAFE_REFUSALS,
  type SafeInfo,
  type SafeMessageTypedData,
} from "./safe";
