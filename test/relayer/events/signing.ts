/** Webhook signatures: what the relayer sends and the receiver-side check docs/webhooks.md shows. */
import { expect } from "chai";
import { createHmac } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
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

  it("the README's verifyEscrowSignature accepts the relayer's header, either secret of a rotation, and refuses a tampered body", function () {
    const readme = fs.readFileSync(path.join(__dirname, "../../../README.md"), "utf8");
    const snippet = /```ts\n(import \{ createHmac[\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet, "the verification snippet in README.md").to.be.a("string");
    const js = ts.transpileModule(snippet!, { compilerOptions: { module: ts.ModuleKind.CommonJS } }).outputText;
    const module = { exports: {} as Record<string, unknown> };
    new Function("require", "module", "exports", js)(require, module, module.exports);
    const verify = module.exports.verifyEscrowSignature as (header: string, body: string, secret: string) => boolean;
    const [oldSecret, newSecret] = [newWebhookSecret(), newWebhookSecret()];
    const now = Math.floor(Date.now() / 1000);
    const header = signatureHeader([newSecret, oldSecret], now, body);
    expect(verify(header, body, newSecret)).to.equal(true);
    expect(verify(header, body, oldSecret)).to.equal(true);
    expect(verify(header, body.replace("opened", "released"), newSecret)).to.equal(false);
    expect(verify(header, body, newWebhookSecret())).to.equal(false);
    expect(verify(signatureHeader([newSecret], now - 3600, body), body, newSecret)).to.equal(false);
  });
});
