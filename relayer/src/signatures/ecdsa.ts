/**
 * ECDSA recovery with the escrow's rules (OpenZeppelin ECDSA `tryRecover`): 65 bytes r, s, v with v 27 or 28 and s
 * in the lower half of the curve order. A 64-byte EIP-2098 signature (r, yParity and s packed in one word) is also
 * read, and given back in the 65-byte form: the escrow itself takes only 65 bytes, so that form is what the relayer
 * submits. Pure: no IO.
 */
import { Signature, concat, recoverAddress, toBeHex, zeroPadValue } from "ethers";

/** Half the order of secp256k1: the largest `s` OpenZeppelin's ECDSA accepts. */
export const HALF_CURVE_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** What recovery gave: the signing address (lower-case) and the 65-byte signature, or why there is none. */
export type Recovery = { ok: true; address: string; signature: string } | { ok: false; reason: string };

const hex = (bytes: Uint8Array): string => "0x" + Buffer.from(bytes).toString("hex");
const word = (bytes: Uint8Array, at: number): bigint => BigInt(hex(bytes.subarray(at, at + 32)));

/** Recovers the address that signed `digest` (32-byte hex) with `signature`, as the escrow would. */
export function recoverAsEscrow(digest: string, signature: Uint8Array): Recovery {
  let r: bigint;
  let s: bigint;
  let v: number;
  if (signature.length === 65) {
    r = word(signature, 0);
    s = word(signature, 32);
    v = signature[64];
  } else if (signature.length === 64) {
    const vs = word(signature, 32);
    r = word(signature, 0);
    s = vs & ((1n << 255n) - 1n);
    v = 27 + Number(vs >> 255n);
  } else {
    return {
      ok: false,
      reason:
        `a ${signature.length}-byte signature is not an ECDSA signature ` +
        "(65 bytes r, s, v, or 64 bytes EIP-2098), and only a wallet contract could accept another form",
    };
  }
  if (v !== 27 && v !== 28) {
    return { ok: false, reason: `the signature's v is ${v}; the escrow accepts only 27 or 28` };
  }
  if (s > HALF_CURVE_ORDER) {
    return {
      ok: false,
      reason:
        "the signature's s is in the upper half of the curve order (a malleable signature), which the escrow " +
        "refuses: use the low-s form every current wallet produces",
    };
  }
  const normalized = concat([zeroPadValue(toBeHex(r), 32), zeroPadValue(toBeHex(s), 32), toBeHex(v)]);
  try {
    const address = recoverAddress(digest, Signature.from(normalized)).toLowerCase();
    return { ok: true, address, signature: normalized.toLowerCase() };
  } catch {
    return { ok: false, reason: "no key recovers from this signature (r or s is out of range)" };
  }
}
