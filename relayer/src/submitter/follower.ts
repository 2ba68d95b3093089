/**
 * The following half of the submitter: each tick walks the key's slots in nonce order, broadcasts again what the
 * node does not know, replaces what waited longer than `bumpAfterMs` (same nonce, same submissions), records
 * receipts ("mined", or "failed" with the decoded error of a revert) and follows them to the confirmation depth
 * ("final"), stepping back when a reorg takes a receipt away.
 */
import { toQuantity } from "ethers";
import { CallRevertedError } from "../errors";
import { bumpedFees, suggestFees } from "./fees";
import type { SubmitterContext } from "./context";
import { failedWith, publicTx, type Sender } from "./sender";
import type { Slot, SubmissionError, SubmissionRecord } from "./types";

type Receipt = { status: string; blockNumber: string; blockHash: string; gasUsed: string; transactionHash: string };

/** Ticks in a row a slot's nonce may be used on chain with none of its transactions mined before it is abandoned. */
export const MISSING_TICKS = 5;

export function createFollower(ctx: SubmitterContext, sender: Sender) {
  const { chain, store, address, confirmations, budget, decodeError, o, cap, logger, enqueue } = ctx;
  const { broadcast, sign } = sender;

  /**
   * Why a mined transaction reverted (a receipt holds no reason): its call replayed on the state its block left,
   * which is what made it fail when another transaction of that block got there first.
   */
  async function revertReason(slot: Slot, block: number): Promise<SubmissionError | undefined> {
    try {
      const at = toQuantity(block);
      await chain.request("eth_call", [{ from: address, to: slot.to, data: slot.data, gas: toQuantity(slot.gas) }, at]);
      return { name: "TransactionReverted", message: "the transaction reverted on chain (it succeeds when replayed)" };
    } catch (error) {
      if (error instanceof CallRevertedError) return decodeError(error.data);
      return { name: "TransactionReverted", message: "the transaction reverted on chain" };
    }
  }

  async function settleBudget(records: SubmissionRecord[], gasUsed: bigint): Promise<SubmissionRecord[]> {
    if (!budget) return records;
    const share = gasUsed / BigInt(Math.max(1, records.length));
    const out: SubmissionRecord[] = [];
    for (const r of records) {
      if (r.keyId !== undefined && r.reservedGas !== undefined) {
        await budget.settle(r.keyId, BigInt(r.reservedGas), share);
        out.push({ ...r, reservedGas: undefined });
      } else out.push(r);
    }
    return out;
  }

  async function onMined(slot: Slot, receipt: Receipt, head: number): Promise<void> {
    const block = Number(receipt.blockNumber);
    const gasUsed = BigInt(receipt.gasUsed);
    const reverted = Number(receipt.status) !== 1;
    const mined: Slot = {
      ...slot,
      status: "mined",
      minedHash: receipt.transactionHash.toLowerCase(),
      blockNumber: block,
      blockHash: receipt.blockHash.toLowerCase(),
      gasUsed: gasUsed.toString(),
      reverted,
      missing: 0,
    };
    const now = Date.now();
    let records = (await store.getMany(slot.submissionIds)).filter((r): r is SubmissionRecord => r !== undefined);
    if (slot.purpose === "prelude") {
      // The submission waits in the queue for the wallet's code; a failed deployment fails it there.
      await store.putSlot(mined, []);
      return;
    }
    records = await settleBudget(records, gasUsed);
    if (reverted && records.length > 1 && records.every((r) => r.requeues === 0)) {
      logger.warn({ msg: "batch reverted on chain; its submissions go back to the queue", hash: mined.minedHash });
      const requeued = records.map((r) => ({
        ...r,
        status: "queued" as const,
        requeues: r.requeues + 1,
        updatedAt: now,
      }));
      await store.putSlot(mined, requeued);
      await enqueue(requeued.map((r) => r.id));
      return;
    }
    const error = reverted ? await revertReason(slot, block) : undefined;
    await store.putSlot(
      mined,
      records.map((r) =>
        reverted
          ? { ...failedWith(r, error), transactionHash: mined.minedHash, blockNumber: block, gasUsed: mined.gasUsed }
          : {
              ...r,
              status: "mined",
              transactionHash: mined.minedHash,
              blockNumber: block,
              gasUsed: mined.gasUsed,
              confirmations: Math.max(0, head - block + 1),
              updatedAt: now,
            },
      ),
    );
  }

  async function receiptOf(hash: string): Promise<Receipt | undefined> {
    return ((await chain.request("eth_getTransactionReceipt", [hash])) as Receipt | null) ?? undefined;
  }

  async function followMined(slot: Slot, head: number): Promise<void> {
    const receipt = await receiptOf(slot.minedHash!);
    const records = (await store.getMany(slot.submissionIds)).filter((r): r is SubmissionRecord => r !== undefined);
    if (!receipt || receipt.blockHash.toLowerCase() !== slot.blockHash) {
      logger.warn({ msg: "mined transaction left the chain (reorg); following it again", nonce: slot.nonce });
      const back: Slot = {
        ...slot,
        status: "sent",
        minedHash: undefined,
        blockNumber: undefined,
        blockHash: undefined,
      };
      const again = records.map((r) =>
        r.status === "mined" ? { ...r, status: "sent" as const, confirmations: undefined, updatedAt: Date.now() } : r,
      );
      await store.putSlot(back, again);
      return;
    }
    const depth = Math.max(0, head - slot.blockNumber! + 1);
    if (depth >= confirmations) {
      const done = records.map((r) =>
        r.status === "mined" ? { ...r, status: "final" as const, confirmations: depth, updatedAt: Date.now() } : r,
      );
      await store.dropSlot(slot.nonce, done);
      return;
    }
    const changed = records.filter((r) => r.status === "mined" && r.confirmations !== depth);
    if (changed.length > 0)
      await store.put(changed.map((r) => ({ ...r, confirmations: depth, updatedAt: Date.now() })));
  }

  async function bump(slot: Slot): Promise<void> {
    const last = slot.txs[slot.txs.length - 1];
    const previous = {
      maxFeePerGas: BigInt(last.maxFeePerGas),
      maxPriorityFeePerGas: BigInt(last.maxPriorityFeePerGas),
    };
    const fees = bumpedFees(previous, await suggestFees(chain, cap), o.bumpPercent, cap);
    if (!fees) {
      logger.warn({ msg: "transaction stuck but the fee cap leaves no room for a bump", nonce: slot.nonce });
      return;
    }
    const tx = await sign(slot.nonce, { to: slot.to, data: slot.data }, BigInt(slot.gas), fees);
    const bumped: Slot = { ...slot, txs: [...slot.txs, tx] };
    const records = (await store.getMany(slot.submissionIds)).filter((r): r is SubmissionRecord => r !== undefined);
    const updated = records.map((r) =>
      slot.purpose === "call" ? { ...r, transactions: [...r.transactions, publicTx(tx)], updatedAt: Date.now() } : r,
    );
    await store.putSlot(bumped, updated);
    logger.info({
      msg: "transaction replaced with higher fees",
      nonce: slot.nonce,
      hash: tx.hash,
      replaces: last.hash,
    });
    await broadcast(tx);
  }

  async function followSent(slot: Slot, head: number, usedNonces: number): Promise<void> {
    if (slot.nonce < usedNonces) {
      for (const tx of [...slot.txs].reverse()) {
        const receipt = await receiptOf(tx.hash);
        if (receipt) return onMined(slot, receipt, head);
      }
      const missing = (slot.missing ?? 0) + 1;
      if (missing < MISSING_TICKS) return store.putSlot({ ...slot, missing }, []);
      // Another transaction of this key took the nonce: the submissions go back to the queue.
      logger.error({ msg: "nonce used by a transaction not of this submitter", nonce: slot.nonce });
      const records = (await store.getMany(slot.submissionIds)).filter((r): r is SubmissionRecord => r !== undefined);
      const requeued = records
        .filter((r) => r.status === "sent" || r.status === "queued")
        .map((r) => ({ ...r, status: "queued" as const, preludeNonce: undefined, updatedAt: Date.now() }));
      await store.dropSlot(slot.nonce, requeued);
      await enqueue(requeued.map((r) => r.id));
      return;
    }
    const last = slot.txs[slot.txs.length - 1];
    const known = await chain.request("eth_getTransactionByHash", [last.hash]);
    if (!known) {
      logger.info({ msg: "broadcasting a recorded transaction again", nonce: slot.nonce, hash: last.hash });
      await broadcast(last);
    } else if (Date.now() - last.sentAt >= o.bumpAfterMs) {
      await bump(slot);
    }
  }

  async function tick(): Promise<void> {
    const slots = await store.slots();
    if (slots.length === 0) return;
    const head = Number(await chain.request("eth_blockNumber", []));
    const usedNonces = Number(await chain.request("eth_getTransactionCount", [address, "latest"]));
    for (const slot of slots) {
      if (slot.status === "mined") await followMined(slot, head);
      else await followSent(slot, head, usedNonces);
    }
  }

  return { tick };
}
