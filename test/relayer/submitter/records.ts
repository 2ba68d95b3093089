/** The submitter's Redis state (real Redis, a random prefix per test): nonce slots and the worker lease. */
import { deleteKeys } from "../../../relayer/src/redis";
import { testRedis, type RedisClient, keysOf } from "../../support/redis";
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { createSubmitterStore, SubmitterLeaseLost, type SubmitterStore } from "../../../relayer/src/submitter/records";
import type { Slot, SubmissionRecord } from "../../../relayer/src/submitter/types";

const ADDRESS = "0x" + "ab".repeat(20);

function record(id: string): SubmissionRecord {
  return {
    id,
    kind: "perform",
    status: "queued",
    transactions: [],
    createdAt: 1,
    updatedAt: 1,
    call: { to: ADDRESS, data: "0x" },
    requeues: 0,
  };
}

function slot(nonce: number, ids: string[]): Slot {
  const tx = {
    hash: "0x" + "11".repeat(32),
    nonce,
    raw: "0x02",
    maxFeePerGas: "2",
    maxPriorityFeePerGas: "1",
    sentAt: 1,
  };
  return {
    nonce,
    purpose: "call",
    submissionIds: ids,
    to: ADDRESS,
    data: "0x",
    gas: "21000",
    txs: [tx],
    status: "sent",
  };
}

describe("relayer/submitter/records", () => {
  let redis: RedisClient;
  let prefix: string;
  let store: SubmitterStore;

  before(async () => {
    redis = testRedis({ maxRetriesPerRequest: 1 });
  });

  beforeEach(() => {
    prefix = `test-subrec-${randomBytes(4).toString("hex")}`;
    store = createSubmitterStore({ redis, base: `${prefix}:{t}:`, address: ADDRESS, timeoutMs: 2_000 });
  });

  afterEach(async () => {
    const keys = await keysOf(redis, `${prefix}*`);
    await deleteKeys(redis, keys);
  });

  after(async () => {
    await redis.quit();
  });

  it("a slot committed at the next nonce → stored with its records (sent, out of the queue), nonce moved on", async () => {
    await store.takeLease("me", 60_000);
    await store.setNextNonce(4);
    await store.create(record("a"));
    expect(await store.queuedIds()).to.deep.equal(["a"]);
    const sent = { ...record("a"), status: "sent" as const };
    expect(await store.commitSlot(slot(4, ["a"]), [sent], "me")).to.equal("recorded");
    expect(await store.nextNonce()).to.equal(5);
    expect((await store.slots()).map((s) => s.nonce)).to.deep.equal([4]);
    expect((await store.get("a"))!.status).to.equal("sent");
    expect(await store.queuedIds()).to.deep.equal([]);
  });

  it("a slot at a nonce that is no longer next → refused and nothing written", async () => {
    await store.takeLease("me", 60_000);
    await store.setNextNonce(5);
    await store.create(record("b"));
    expect(await store.commitSlot(slot(4, ["b"]), [{ ...record("b"), status: "sent" }], "me")).to.equal("nonce-moved");
    expect(await store.nextNonce()).to.equal(5);
    expect(await store.slots()).to.deep.equal([]);
    expect((await store.get("b"))!.status).to.equal("queued");
  });

  it("a slot from a process that no longer holds the lease → refused and nothing written", async () => {
    await store.takeLease("me", 60_000);
    await store.setNextNonce(0);
    await store.create(record("d"));
    expect(await store.commitSlot(slot(0, ["d"]), [{ ...record("d"), status: "sent" }], "other")).to.equal(
      "not-leader",
    );
    expect(await store.nextNonce()).to.equal(0);
    expect((await store.get("d"))!.status).to.equal("queued");
  });

  it("a slot for a submission already sent → refused: a submission leaves the queue once", async () => {
    await store.takeLease("me", 60_000);
    await store.setNextNonce(0);
    await store.create(record("e"));
    expect(await store.commitSlot(slot(0, ["e"]), [{ ...record("e"), status: "sent" }], "me")).to.equal("recorded");
    expect(await store.commitSlot(slot(1, ["e"]), [{ ...record("e"), status: "sent" }], "me")).to.equal("not-queued");
    expect(await store.nextNonce()).to.equal(1);
    expect((await store.slots()).map((s) => s.nonce)).to.deep.equal([0]);
  });

  it("an id created twice → the first record is kept", async () => {
    expect((await store.create(record("c"))).created).to.equal(true);
    const again = await store.create({ ...record("c"), kind: "other" });
    expect(again.created).to.equal(false);
    expect(again.record.kind).to.equal("perform");
  });

  it("the lease → held by one token at a time, free again once dropped", async () => {
    expect(await store.takeLease("one", 5_000)).to.equal(true);
    expect(await store.takeLease("two", 5_000)).to.equal(false);
    expect(await store.takeLease("one", 5_000)).to.equal(true);
    await store.dropLease("two");
    expect(await store.takeLease("two", 5_000)).to.equal(false);
    await store.dropLease("one");
    expect(await store.takeLease("two", 5_000)).to.equal(true);
  });

  it("a lease not renewed → free after its time to live", async () => {
    expect(await store.takeLease("one", 100)).to.equal(true);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await store.takeLease("two", 100)).to.equal(true);
  });

  it("updates of a fenced store (a leader's) → written while its token holds the lease, refused once another does", async () => {
    const fenced = createSubmitterStore({
      redis,
      base: `${prefix}:{t}:`,
      address: ADDRESS,
      timeoutMs: 2_000,
      fence: "old",
    });
    await fenced.takeLease("old", 60_000);
    await fenced.setNextNonce(0);
    await fenced.create(record("a"));
    const sent = { ...record("a"), status: "sent" as const };
    expect(await fenced.commitSlot(slot(0, ["a"]), [sent], "old")).to.equal("recorded");
    await fenced.putSlot({ ...slot(0, ["a"]), status: "mined" }, [{ ...sent, status: "mined" }]);
    expect((await fenced.get("a"))!.status).to.equal("mined");

    // A successor takes over (the old leader was paused past the lease) and finalizes the submission.
    await redis.set(fenced.keys.lease, "new");
    const successor = createSubmitterStore({
      redis,
      base: `${prefix}:{t}:`,
      address: ADDRESS,
      timeoutMs: 2_000,
      fence: "new",
    });
    await successor.dropSlot(0, [{ ...sent, status: "final" }]);
    // Woken, the old leader's stale updates are refused: the record is not taken back to "mined", no slot comes back.
    const stale = { ...sent, status: "mined" as const };
    for (const attempt of [
      () => fenced.putSlot({ ...slot(0, ["a"]), status: "mined" }, [stale]),
      () => fenced.dropSlot(0, [stale]),
      () => fenced.put([stale]),
    ]) {
      let refused: unknown;
      await attempt().catch((error: unknown) => (refused = error));
      expect(refused).to.be.instanceOf(SubmitterLeaseLost);
    }
    expect((await fenced.get("a"))!.status).to.equal("final");
    expect(await redis.exists(fenced.keys.slot(0))).to.equal(0);
    expect(await fenced.slots()).to.deep.equal([]);
  });
});
