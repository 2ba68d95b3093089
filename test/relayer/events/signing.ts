/** Webhook signatures: what the relayer sends and the receiver-side check docs/webhooks.md shows. */
import { expect } from "chai";
import { createHmac } from "node:crypto";
import {
  newWebhookSecret,
  signatureHeader,
  verifySignature,
  SIGNATURE_TOLERANCE_SECONDS,
} from "../../../relayer/src/events/signing";

describe("webhook signatures", function () {
  const body = JSON.stringify({ id: "1764864000000-0", type: "deal.opened", sequence: 1 });
  const t = 1_764_864_000;

  it("signs HMAC-SHA256(secret, '<t>.<body>') as hex after t=", function () {
    const secret = newWebhookSecret();
    const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
    expect(signatureHeader([secret], t, body)).to.equal(`t=${t},v1=${expected}`);
    expect(secret).to.match(/^whsec_[0-9a-f]{64}$/);
    expect(newWebhookSecret()).to.not.equal(secret);
  });

  it("when the body, the time or the secret differ → the check fails; when all match → it passes", function () {
    const secret = newWebhookSecret();
    const header = signatureHeader([secret], t, body);
    expect(verifySignature(header, body, secret, t)).to.equal(true);
    expect(verifySignature(header, body.replace("opened", "closed"), secret, t)).to.equal(false);
    expect(verifySignature(header, `${body} `, secret, t)).to.equal(false);
    expect(verifySignature(header.replace(`t=${t}`, `t=${t + 1}`), body, secret, t)).to.equal(false);
    expect(verifySignature(header, body, newWebhookSecret(), t)).to.equal(false);
    expect(verifySignature("v1=00", body, secret, t)).to.equal(false);
    expect(verifySignature(`t=${t},v1=zz`, body, secret, t)).to.equal(false);
  });

  it("when the signature is older or newer than the tolerance → refused (replays)", function () {
    const secret = newWebhookSecret();
    const header = signatureHeader([secret], t, body);
    expect(verifySignature(header, body, secret, t + SIGNATURE_TOLERANCE_SECONDS)).to.equal(true);
    expect(verifySignature(header, body, secret, t + SIGNATURE_TOLERANCE_SECONDS + 1)).to.equal(false);
    expect(verifySignature(header, body, secret, t - SIGNATURE_TOLERANCE_SECONDS - 1)).to.equal(false);
  });

  it("when two secrets sign (rotation) → two v1 values, and either secret verifies", function () {
    const [oldSecret, newSecret] = [newWebhookSecret(), newWebhookSecret()];
    const header = signatureHeader([newSecret, oldSecret], t, body);
    expect(header.split(",").filter((p) => p.startsWith("v1="))).to.have.length(2);
    expect(verifySignature(header, body, oldSecret, t)).to.equal(true);
    expect(verifySignature(header, body, newSecret, t)).to.equal(true);
    expect(verifySignature(header, body, newWebhookSecret(), t)).to.equal(false);
  });
});
