/** A ruling's reasons hash and the end of the resolution window (protocol/rulings.ts). */
import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import { reasonsHash, resolutionWindowEnd } from "../../protocol";

describe("protocol: rulings", function () {
  it("reasonsHash is keccak256 of the text's UTF-8 bytes, lower-case", function () {
    const text = "Payee delivered 70 %; the rest was never sent — €.";
    expect(reasonsHash(text)).to.equal(keccak256(toUtf8Bytes(text)).toLowerCase());
    expect(reasonsHash(text)).to.match(/^0x[0-9a-f]{64}$/);
    expect(reasonsHash("a")).to.not.equal(reasonsHash("b"));
    // The UTF-8 bytes, not UTF-16 code units: "é" is two bytes.
    expect(reasonsHash("é")).to.equal(keccak256(new Uint8Array([0xc3, 0xa9])));
  });

  it("resolutionWindowEnd is the dispute's time plus the window", function () {
    expect(resolutionWindowEnd(1_700_000_000, 86_400)).to.equal(1_700_086_400);
    expect(resolutionWindowEnd(5, 0)).to.equal(5);
  });
});
