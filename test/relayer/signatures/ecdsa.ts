/**
 * recoverAsEscrow, pure: the escrow's ECDSA rules (OpenZeppelin `tryRecover`) at their boundaries. That the escrow
 * agrees on each kind of input is proved on chain in test/relayer/signatures/check.ts.
 */
import { expect } from "chai";
import { Wallet, concat, id, toBeHex, zeroPadValue } from "ethers";
import { HALF_CURVE_ORDER, recoverAsEscrow } from "../../../relayer/src/signatures/ecdsa";

const digest = id("the escrow's digest");
const key = new Wallet(id("a test key"));
const signed = key.signingKey.sign(digest);
const bytes = (hex: string) => Buffer.from(hex.slice(2), "hex");
const withS = (s: bigint, v: number = signed.v) => bytes(concat([signed.r, zeroPadValue(toBeHex(s), 32), toBeHex(v)]));

describe("relayer signatures: recoverAsEscrow", function () {
  it("a 65-byte signature → the signer's address (lower-case) and the signature as it is", function () {
    expect(recoverAsEscrow(digest, bytes(signed.serialized))).to.deep.equal({
      ok: true,
      address: key.address.toLowerCase(),
      signature: signed.serialized,
    });
  });

  it("a 64-byte EIP-2098 signature → the same signer and the 65-byte form", function () {
    expect(recoverAsEscrow(digest, bytes(signed.compactSerialized))).to.deep.equal({
      ok: true,
      address: key.address.toLowerCase(),
      signature: signed.serialized,
    });
  });

  it("s exactly half the curve order is accepted (OpenZeppelin refuses only above it)", function () {
    const result = recoverAsEscrow(digest, withS(HALF_CURVE_ORDER));
    expect(result.ok).to.equal(true);
  });

  it("s one above half the curve order → refused as malleable", function () {
    const result = recoverAsEscrow(digest, withS(HALF_CURVE_ORDER + 1n));
    expect(result).to.deep.include({ ok: false });
    expect(!result.ok && result.reason).to.match(/upper half/);
  });

  it("a 64-byte form whose s is high (top bit clear) → refused as malleable too", function () {
    const vs = zeroPadValue(toBeHex(HALF_CURVE_ORDER + 1n), 32);
    const result = recoverAsEscrow(digest, bytes(concat([signed.r, vs])));
    expect(!result.ok && result.reason).to.match(/upper half/);
  });

  for (const v of [0, 1, 29, 31]) {
    it(`v = ${v} → refused (the escrow takes 27 or 28 only)`, function () {
      const result = recoverAsEscrow(digest, withS(BigInt(signed.s), v));
      expect(!result.ok && result.reason).to.equal(`the signature's v is ${v}; the escrow accepts only 27 or 28`);
    });
  }

  for (const length of [0, 63, 66, 130]) {
    it(`${length} bytes → refused as no ECDSA signature`, function () {
      const result = recoverAsEscrow(digest, Buffer.alloc(length, 1));
      expect(!result.ok && result.reason).to.match(new RegExp(`^a ${length}-byte signature is not an ECDSA`));
    });
  }

  it("a signature of another digest recovers to another address (never throws)", function () {
    const result = recoverAsEscrow(id("another digest"), bytes(signed.serialized));
    expect(result.ok && result.address)
      .to.be.a("string")
      .and.not.equal(key.address.toLowerCase());
  });
});
