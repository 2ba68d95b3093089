/**
 * The ERC-6492 wrapper, pure: wrapping and unwrapping. Checking a wrapped signature on a real node (the probe, the
 * factory call) is in test/relayer/signatures/check.ts.
 */
import { expect } from "chai";
import { AbiCoder, concat, id } from "ethers";
import { ERC6492_MAGIC, isErc6492, unwrapErc6492, wrapErc6492 } from "../../../relayer/src/signatures/erc6492";

const bytes = (hex: string) => Buffer.from(hex.slice(2), "hex");
const wrapper = {
  factory: "0x" + "ab".repeat(20),
  factoryCalldata: "0x1688f0b9" + "00".repeat(40),
  signature: "0x" + "cd".repeat(130),
};

describe("relayer signatures: ERC-6492 wrapper", function () {
  it("wrap then unwrap gives the parts back (lower-case)", function () {
    const wrapped = wrapErc6492(wrapper);
    expect(wrapped.endsWith("6492".repeat(16))).to.equal(true);
    expect(isErc6492(bytes(wrapped))).to.equal(true);
    expect(unwrapErc6492(bytes(wrapped))).to.deep.equal(wrapper);
  });

  it("the wrapper is abi.encode(address, bytes, bytes) followed by the magic, as the ERC specifies", function () {
    const body = AbiCoder.defaultAbiCoder().encode(
      ["address", "bytes", "bytes"],
      [wrapper.factory, wrapper.factoryCalldata, wrapper.signature],
    );
    expect(wrapErc6492(wrapper)).to.equal(concat([body, ERC6492_MAGIC]));
  });

  it("a plain 65-byte signature is not ERC-6492", function () {
    expect(isErc6492(bytes("0x" + "11".repeat(65)))).to.equal(false);
    expect(unwrapErc6492(bytes("0x" + "11".repeat(65)))).to.equal(undefined);
  });

  it("the magic after bytes that do not decode → undefined, not a throw", function () {
    expect(unwrapErc6492(bytes(concat([id("junk"), ERC6492_MAGIC])))).to.equal(undefined);
  });

  it("the magic alone → undefined", function () {
    expect(unwrapErc6492(bytes(ERC6492_MAGIC))).to.equal(undefined);
  });
});
