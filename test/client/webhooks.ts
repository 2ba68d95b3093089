/**
 * The client's verifyWebhook against the relayer's own signer (relayer/src/events/signing.ts): whatever the relayer
 * signs with a secret the receiver holds is accepted, anything else is refused with a reason.
 */
import { expect } from "chai";
import fc from "fast-check";
import { verifyWebhook, WebhookVerificationError, type WebhookFailure } from "../../client/src/webhooks";
import { newWebhookSecret, signatureHeader, verifySignature } from "../../relayer/src/events/signing";

const NOW = 1_750_000_000;
const delivery = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: "1750000000000-0",
    type: "deal.opened",
    sequence: 3,
    endpointId: "we_1",
    createdAt: "2025-06-15T15:06:40.000Z",
    data: { id: "1750000000000-0", type: "deal.opened", chainId: 31337, dealId: "0x01" },
    ...over,
  });

function refusal(run: () => unknown): WebhookFailure {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(WebhookVerificationError);
    return (error as WebhookVerificationError).reason;
  }
  throw new Error("verifyWebhook accepted it");
}

describe("client verifyWebhook", () => {
  const secret = newWebhookSecret();

  it("when the relayer signed the body with the receiver's secret → the parsed delivery", () => {
    const payload = delivery();
    const header = signatureHeader([secret], NOW, payload);
    const d = verifyWebhook({ payload, header, secrets: [secret], now: NOW });
    expect(d).to.deep.equal(JSON.parse(payload));
    expect(d.data.type).to.equal("deal.opened");
  });

  it("when the body is a Buffer of the same bytes (non-ASCII included) → accepted", () => {
    const payload = delivery({ note: "paiement reçu — 10 €" });
    const header = signatureHeader([secret], NOW, payload);
    const d = verifyWebhook({ payload: Buffer.from(payload, "utf8"), header, secrets: [secret], now: NOW });
    expect((d as unknown as { note: string }).note).to.equal("paiement reçu — 10 €");
  });

  it("when a rotation signs with the new and the old secret → a receiver holding either one accepts", () => {
    const old = newWebhookSecret();
    const payload = delivery();
    const header = signatureHeader([secret, old], NOW, payload);
    expect(header.match(/v1=/g)).to.have.length(2);
    expect(verifyWebhook({ payload, header, secrets: [old], now: NOW }).id).to.equal("1750000000000-0");
    expect(verifyWebhook({ payload, header, secrets: [secret], now: NOW }).id).to.equal("1750000000000-0");
    expect(verifyWebhook({ payload, header, secrets: [newWebhookSecret(), secret], now: NOW }).sequence).to.equal(3);
  });

  it("when the receiver rotated first (holds new and old) and the relayer still signs with the old → accepted", () => {
    const old = newWebhookSecret();
    const payload = delivery();
    const header = signatureHeader([old], NOW, payload);
    expect(verifyWebhook({ payload, header, secrets: [secret, old], now: NOW }).type).to.equal("deal.opened");
  });

  it("when signed with another secret → no-matching-signature", () => {
    const payload = delivery();
    const header = signatureHeader([newWebhookSecret()], NOW, payload);
    expect(refusal(() => verifyWebhook({ payload, header, secrets: [secret], now: NOW }))).to.equal(
      "no-matching-signature",
    );
  });

  it("when one byte of the body changed after signing → no-matching-signature", () => {
    const payload = delivery();
    const header = signatureHeader([secret], NOW, payload);
    const tampered = payload.replace('"sequence":3', '"sequence":4');
    expect(refusal(() => verifyWebhook({ payload: tampered, header, secrets: [secret], now: NOW }))).to.equal(
      "no-matching-signature",
    );
  });

  it("when the timestamp is more than the tolerance away (either side) → timestamp-out-of-tolerance", () => {
    const payload = delivery();
    for (const t of [NOW - 301, NOW + 301]) {
      const header = signatureHeader([secret], t, payload);
      expect(refusal(() => verifyWebhook({ payload, header, secrets: [secret], now: NOW }))).to.equal(
        "timestamp-out-of-tolerance",
      );
    }
    const header = signatureHeader([secret], NOW - 300, payload);
    expect(verifyWebhook({ payload, header, secrets: [secret], now: NOW }).id).to.be.a("string");
    expect(
      refusal(() => verifyWebhook({ payload, header, secrets: [secret], now: NOW, toleranceSeconds: 60 })),
    ).to.equal("timestamp-out-of-tolerance");
  });

  it("when the timestamp is re-written to a fresh one (a replay) → no-matching-signature", () => {
    const payload = delivery();
    const header = signatureHeader([secret], NOW - 3600, payload).replace(`t=${NOW - 3600}`, `t=${NOW}`);
    expect(refusal(() => verifyWebhook({ payload, header, secrets: [secret], now: NOW }))).to.equal(
      "no-matching-signature",
    );
  });

  it("when the header has no t=, no v1=, or is empty or garbage → malformed-header", () => {
    const payload = delivery();
    const good = signatureHeader([secret], NOW, payload);
    for (const header of [
      "",
      "garbage",
      good.replace(/^t=\d+,/, ""),
      `t=${NOW}`,
      `t=${NOW},v1=zz`,
      `t=${NOW},v0=${"a".repeat(64)}`,
      good.replace(`t=${NOW}`, "t=soon"),
    ]) {
      expect(
        refusal(() => verifyWebhook({ payload, header, secrets: [secret], now: NOW })),
        header,
      ).to.equal("malformed-header");
    }
  });

  it("when no secret is given (empty list or empty strings) → no-secret", () => {
    const payload = delivery();
    const header = signatureHeader([secret], NOW, payload);
    expect(refusal(() => verifyWebhook({ payload, header, secrets: [], now: NOW }))).to.equal("no-secret");
    expect(refusal(() => verifyWebhook({ payload, header, secrets: [""], now: NOW }))).to.equal("no-secret");
  });

  it("when the signed body is not a delivery object → malformed-payload (after the signature matched)", () => {
    for (const payload of ["not json", "[]", "null", '{"id":"x"}']) {
      const header = signatureHeader([secret], NOW, payload);
      expect(
        refusal(() => verifyWebhook({ payload, header, secrets: [secret], now: NOW })),
        payload,
      ).to.equal("malformed-payload");
    }
  });

  it("when the error is thrown → its message carries neither the secret nor the expected signature", () => {
    const payload = delivery();
    const header = signatureHeader([newWebhookSecret()], NOW, payload);
    const expected = signatureHeader([secret], NOW, payload).split("v1=")[1];
    try {
      verifyWebhook({ payload, header, secrets: [secret], now: NOW });
      expect.fail("accepted");
    } catch (error) {
      const text = `${String(error)} ${JSON.stringify(error)}`;
      expect(text).not.to.include(secret);
      expect(text).not.to.include(expected);
    }
  });

  it("when any body, secrets and clock skew are drawn → the client decides as the relayer's verifySignature", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }),
        fc.array(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 2 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.integer({ min: -600, max: 600 }),
        fc.boolean(),
        (note, signing, other, skew, holdsOne) => {
          const payload = delivery({ note });
          const header = signatureHeader(signing, NOW + skew, payload);
          const held = holdsOne ? signing[signing.length - 1] : other;
          const relayerSays = verifySignature(header, payload, held, NOW);
          let clientSays = true;
          try {
            verifyWebhook({ payload, header, secrets: [held], now: NOW });
          } catch (error) {
            if (!(error instanceof WebhookVerificationError)) throw error;
            clientSays = false;
          }
          expect(clientSays).to.equal(relayerSays);
          expect(clientSays).to.equal(Math.abs(skew) <= 300 && signing.includes(held));
        },
      ),
      { numRuns: 300, seed: 12 },
    );
  });
});
