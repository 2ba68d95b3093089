/** One webhook request: signed POST, 2xx or not, the deadline, and the connect-time address check. */
import { expect } from "chai";
import { postWebhook } from "../../../relayer/src/events/delivery";
import { verifySignature } from "../../../relayer/src/events/signing";
import { startReceiver } from "../support/events";

describe("webhook request", function () {
  const base = { body: '{"id":"1-0"}', secrets: ["whsec_a"], eventId: "1-0", eventType: "deal.opened" };

  it("when the receiver answers 2xx → delivered with its status, signed, with the event's headers", async function () {
    const r = await startReceiver(204);
    try {
      const out = await postWebhook({ ...base, url: r.url, timeoutMs: 2_000, allowPrivate: true });
      expect(out).to.include({ ok: true, status: 204 });
      const got = r.received[0];
      expect(got.body).to.equal(base.body);
      expect(verifySignature(String(got.headers["escrow-signature"]), got.body, "whsec_a")).to.equal(true);
      expect(got.headers).to.include({ "escrow-event-id": "1-0", "escrow-event-type": "deal.opened" });
    } finally {
      await r.close();
    }
  });

  it("when the receiver answers 500 or hangs past the deadline → failed with the reason", async function () {
    const failing = await startReceiver(500);
    const hanging = await startReceiver(0);
    try {
      expect(await postWebhook({ ...base, url: failing.url, timeoutMs: 2_000, allowPrivate: true })).to.include({
        ok: false,
        status: 500,
        error: "HTTP 500",
      });
      const out = await postWebhook({ ...base, url: hanging.url, timeoutMs: 200, allowPrivate: true });
      expect(out.ok).to.equal(false);
      expect(out.error).to.match(/no answer within 200 ms/);
    } finally {
      await failing.close();
      await hanging.close();
    }
  });

  it("when private targets are not allowed → a name resolving to loopback is refused at connect time, nothing sent", async function () {
    const r = await startReceiver(200);
    try {
      const url = r.url.replace("127.0.0.1", "localhost");
      const out = await postWebhook({ ...base, url, timeoutMs: 2_000, allowPrivate: false });
      expect(out.ok).to.equal(false);
      expect(out.error).to.match(/private or local address/);
      expect(r.received).to.deep.equal([]);
    } finally {
      await r.close();
    }
  });
});
