/**
 * Per-order messages, pure: the signed text's exact format, the hash chain it makes, and the canonical JSON a
 * bundle's hash is taken over.
 */
import { expect } from "chai";
import { Wallet, keccak256, toUtf8Bytes, verifyMessage } from "ethers";
import {
  ZERO_HASH,
  bundleHash,
  canonicalJson,
  orderMessageHash,
  orderMessageText,
  type OrderMessageFields,
} from "../../protocol";

const ORDER = `ord_${"0a".repeat(12)}`;
const DEAL = `0x${"Ab".repeat(32)}`;

const fields = (over: Partial<OrderMessageFields> = {}): OrderMessageFields => ({
  orderId: ORDER,
  dealId: DEAL,
  author: `0x${"Cd".repeat(20)}`,
  prev: ZERO_HASH,
  sentAt: 1_735_689_600,
  body: "I paid: reference 1234\nfrom my bank",
  ...over,
});

describe("protocol: order messages", () => {
  it("the text is the pinned format, ids and addresses lower-case", () => {
    expect(orderMessageText(fields())).to.equal(
      "USDT Escrow order message\n" +
        `Order: ${ORDER}\n` +
        `Deal: 0x${"ab".repeat(32)}\n` +
        `Author: 0x${"cd".repeat(20)}\n` +
        `Previous: ${ZERO_HASH}\n` +
        "Sent: 1735689600\n\n" +
        "I paid: reference 1234\nfrom my bank",
    );
    expect(ZERO_HASH).to.match(/^0x0{64}$/);
  });

  it("the hash is keccak256 of the text's UTF-8 bytes (non-ASCII bodies included)", () => {
    const m = fields({ body: "Überweisung gesendet ✓ 🚀" });
    expect(orderMessageHash(m)).to.equal(keccak256(toUtf8Bytes(orderMessageText(m))));
    expect(orderMessageHash(m)).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("a thread is a hash chain: each prev is the hash of the message before, and a signature recovers its author", async () => {
    const [a, b] = [Wallet.createRandom(), Wallet.createRandom()];
    const thread: (OrderMessageFields & { hash: string; signature: string })[] = [];
    let prev = ZERO_HASH;
    for (let i = 0; i < 4; i++) {
      const who = i % 2 === 0 ? a : b;
      const m = fields({ author: who.address, prev, sentAt: 1_735_689_600 + i, body: `message ${i}` });
      const signature = await who.signMessage(orderMessageText(m));
      prev = orderMessageHash(m);
      thread.push({ ...m, hash: prev, signature });
    }
    expect(new Set(thread.map((m) => m.hash)).size).to.equal(4);
    thread.forEach((m, i) => {
      expect(m.prev).to.equal(i === 0 ? ZERO_HASH : thread[i - 1].hash);
      expect(orderMessageHash(m)).to.equal(m.hash);
      expect(verifyMessage(orderMessageText(m), m.signature)).to.equal(i % 2 === 0 ? a.address : b.address);
    });
    // An altered message no longer hashes to the prev its successor names.
    const altered = { ...thread[1], body: "message 1 (edited)" };
    expect(orderMessageHash(altered)).to.not.equal(thread[2].prev);
  });

  it("a changed byte anywhere (body, prev, sentAt, author, ids) changes the hash", () => {
    const base = orderMessageHash(fields());
    const variants: Partial<OrderMessageFields>[] = [
      { body: "I paid: reference 1235\nfrom my bank" },
      { body: "I paid: reference 1234\nfrom my bank " },
      { prev: `0x${"0".repeat(63)}1` },
      { sentAt: 1_735_689_601 },
      { author: `0x${"cd".repeat(19)}ce` },
      { orderId: `ord_${"0a".repeat(11)}0b` },
      { dealId: `0x${"ab".repeat(31)}ac` },
    ];
    for (const v of variants) expect(orderMessageHash(fields(v)), JSON.stringify(v)).to.not.equal(base);
    // Case of the hex parts is not a change: the text lower-cases them.
    expect(orderMessageHash(fields({ author: `0x${"CD".repeat(20)}` }))).to.equal(base);
  });

  describe("canonical JSON", () => {
    it("sorts keys at every depth and writes no whitespace", () => {
      expect(canonicalJson({ b: 1, a: { d: [true, null, "x"], c: "é" } })).to.equal(
        '{"a":{"c":"é","d":[true,null,"x"]},"b":1}',
      );
    });

    it("does not depend on the order the keys were inserted in", () => {
      const one = { orderId: ORDER, messages: [{ z: 1, a: 2 }], head: ZERO_HASH, chainId: 31337 };
      const two = { chainId: 31337, head: ZERO_HASH, messages: [{ a: 2, z: 1 }], orderId: ORDER };
      expect(canonicalJson(one)).to.equal(canonicalJson(two));
      expect(bundleHash(one)).to.equal(bundleHash(two));
      // ...but the order of an array's items is meaningful.
      expect(bundleHash({ ...one, messages: [{ a: 1 }, { a: 2 }] })).to.not.equal(
        bundleHash({ ...one, messages: [{ a: 2 }, { a: 1 }] }),
      );
    });

    it("leaves undefined members out, and refuses what is not JSON", () => {
      expect(canonicalJson({ a: undefined, b: 2 })).to.equal('{"b":2}');
      expect(() => canonicalJson({ a: 1n })).to.throw(TypeError);
      expect(() => canonicalJson({ a: Number.NaN })).to.throw(TypeError);
      expect(() => canonicalJson([Infinity])).to.throw(TypeError);
    });

    it("bundleHash is keccak256 of the canonical text", () => {
      const b = { orderId: ORDER, head: ZERO_HASH };
      expect(bundleHash(b)).to.equal(keccak256(toUtf8Bytes(`{"head":"${ZERO_HASH}","orderId":"${ORDER}"}`)));
    });
  });
});
