/**
 * Evidence helpers of the protocol model: the anchored URI, the accepted content types and the magic-byte sniffing.
 */
import { expect } from "chai";
import { EVIDENCE_TYPES, evidenceUri, isEvidenceType, sniffContentType } from "../../protocol";

const DEAL = `0x${"Ab".repeat(32)}`;
const HASH = `0x${"Cd".repeat(32)}`;

describe("protocol evidence", function () {
  it("evidenceUri is /v1/deals/{dealId}/evidence/{contentHash}, lower-case", function () {
    expect(evidenceUri(DEAL, HASH)).to.equal(`/v1/deals/0x${"ab".repeat(32)}/evidence/0x${"cd".repeat(32)}`);
  });

  it("evidenceUri refuses what is not 0x + 64 hex", function () {
    expect(() => evidenceUri(DEAL.slice(0, 65), HASH)).to.throw(/deal id/);
    expect(() => evidenceUri(DEAL, `${HASH}00`)).to.throw(/content hash/);
    expect(() => evidenceUri(DEAL, HASH.replace("0x", "0X"))).to.throw(/content hash/);
  });

  it("EVIDENCE_TYPES are PNG, JPEG, WebP and PDF; isEvidenceType takes only those", function () {
    expect([...EVIDENCE_TYPES]).to.deep.equal(["image/png", "image/jpeg", "image/webp", "application/pdf"]);
    expect(isEvidenceType("image/png")).to.equal(true);
    expect(isEvidenceType("image/gif")).to.equal(false);
    expect(isEvidenceType("text/html")).to.equal(false);
  });

  it("sniffContentType tells each type by its magic bytes", function () {
    const png = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
    const jpeg = Buffer.from("ffd8ffe000104a464946", "hex");
    const webp = Buffer.concat([Buffer.from("RIFF"), Buffer.from([0x24, 0, 0, 0]), Buffer.from("WEBPVP8 ")]);
    const pdf = Buffer.from("%PDF-1.7\n%");
    expect(sniffContentType(png)).to.equal("image/png");
    expect(sniffContentType(jpeg)).to.equal("image/jpeg");
    expect(sniffContentType(webp)).to.equal("image/webp");
    expect(sniffContentType(pdf)).to.equal("application/pdf");
  });

  it("sniffContentType answers undefined for other files, a truncated signature and a RIFF that is not WebP", function () {
    expect(sniffContentType(Buffer.from("GIF89a"))).to.equal(undefined);
    expect(sniffContentType(Buffer.from("<html><script>"))).to.equal(undefined);
    expect(sniffContentType(Buffer.from("89504e470d0a1a", "hex"))).to.equal(undefined);
    expect(sniffContentType(Buffer.concat([Buffer.from("RIFF"), Buffer.alloc(4), Buffer.from("WAVE")]))).to.equal(
      undefined,
    );
    expect(sniffContentType(new Uint8Array(0))).to.equal(undefined);
    expect(sniffContentType(Buffer.from("%PDF"))).to.equal(undefined);
  });
});
