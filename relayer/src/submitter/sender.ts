/**
 * The sending half of the submitter: the worker's round over the jobs it took (preludes, the planner, a simulation
 * of every planned call, multicall batches halved while they fail, the gas budget), and the one way a transaction
 * leaves: signed, recorded with its nonce and its submissions' new status, then broadcast.
 */
import { Interface, Transaction } from "ethers";
import type { Job } from "bullmq";
import { Escrow__factory } from "../../../typechain-types/factories/contracts/Escrow__factory";
import { CallRevertedError } from "../errors";
import { suggestFees, type Fees } from "./fees";
import type { SubmitterContext } from "./context";
import { withDeadline } from "../deadline";
import type { Call, SentTransaction, Slot, SlotTransaction, SubmissionError, SubmissionRecord } from "./types";

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HEX = /^0x([0-9a-fA-F]{2})*$/;
const escrowInterface = new Interface(Escrow__factory.abi);

export function checkCall(call: unknown, what: string): asserts call is Call {
  const c = call as Partial<Call> | undefined;
  if (!c || typeof c.to !== "string" || !ADDRESS.test(c.to)) throw new TypeError(`${what}.to must be an address`);
  if (typeof c.data !== "string" || !HEX.test(c.data)) throw new TypeError(`${what}.data must be 0x hex bytes`);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Planned calls simulated at once. */
const SIMULATION_CONCURRENCY = 8;

/** `fn` over `items`, at most `width` at a time, results in order. */
async function inBatches<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

type Plan = { submissionIds: string[]; call: Call };
/** What a node said to a broadcast. */
export type Outcome = "sent" | "known" | "nonce-too-low" | "nonce-too-high" | "underpriced" | "error";

export const publicTx = ({ raw: _raw, ...tx }: SlotTransaction): SentTransaction => tx;

export const failedWith = (r: SubmissionRecord, error: SubmissionError | undefined): SubmissionRecord => ({
  ...r,
  status: "failed",
  error: error ?? { name: "Reverted", message: "the call reverted without a reason" },
  updatedAt: Date.now(),
});

export type Sender = ReturnType<typeof createSender>;

export function createSender(ctx: SubmitterContext) {
  const { chain, store, wallet, address, escrow, budget, decodeError, hooks, o, cap, logger, planner } = ctx;
  let chainId: number | undefined;

  async function syncNonce(): Promise<number> {
    const pending = Number(await chain.request("eth_getTransactionCount", [address, "pending"]));
    const stored = (await store.nextNonce()) ?? 0;
    const slots = await store.slots();
    const afterSlots = slots.length > 0 ? slots[slots.length - 1].nonce + 1 : 0;
    let next = Math.max(pending, stored, afterSlots);
    if (stored > pending && afterSlots <= pending) {
      // Every recorded transaction is final, yet the node counts fewer: the chain was reset or reorganised past
      // the confirmation depth. Follow the node, or every later transaction would wait behind a gap.
      logger.error({ msg: "the node counts fewer transactions than were final; following the node", pending, stored });
      next = pending;
    }
    if (next !== stored) logger.info({ msg: "nonce synced", next, chainPending: pending, stored });
    await store.setNextNonce(next);
    return next;
  }

  /** Broadcasts a recorded transaction; the node's refusals become outcomes (the follower acts on them). */
  async function broadcast(tx: SlotTransaction): Promise<Outcome> {
    try {
      await chain.request("eth_sendRawTransaction", [tx.raw]);
      ctx.sentCounter.inc();
      return "sent";
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const outcome: Outcome = /already known|known transaction|already imported/i.test(message)
        ? "known"
        : /nonce too low|nonce has already been used/i.test(message)
          ? "nonce-too-low"
          : /nonce too high/i.test(message)
            ? "nonce-too-high"
            : /underpriced|fee too low/i.test(message)
              ? "underpriced"
              : "error";
      const level = outcome === "error" ? "error" : "info";
      logger[level]({ msg: "broadcast refused", hash: tx.hash, nonce: tx.nonce, outcome, error: message });
      if (outcome === "nonce-too-high" || outcome === "nonce-too-low") await syncNonce();
      return outcome;
    }
  }

  async function sign(nonce: number, call: Call, gas: bigint, fees: Fees): Promise<SlotTransaction> {
    chainId ??= await chain.chainId();
    const tx = Transaction.from({
      type: 2,
      chainId,
      nonce,
      to: call.to,
      data: call.data,
      value: 0n,
      gasLimit: gas,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    tx.signature = wallet.signingKey.sign(tx.unsignedHash);
    return {
      hash: tx.hash!,
      nonce,
      raw: tx.serialized,
      maxFeePerGas: fees.maxFeePerGas.toString(),
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
      sentAt: Date.now(),
    };
  }

  /**
   * Signs `call` at the next nonce, records it with `records` (updated by `update`), then broadcasts it. Returns
   * undefined, having sent nothing, when this process no longer leads, when a record left the queue meanwhile, or
   * when the nonce kept moving.
   */
  async function sendRecorded(
    purpose: Slot["purpose"],
    call: Call,
    gas: bigint,
    records: SubmissionRecord[],
    update: (r: SubmissionRecord, tx: SentTransaction) => SubmissionRecord,
  ): Promise<Slot | undefined> {
    const fees = await suggestFees(chain, cap);
    for (let attempt = 0; attempt < 3; attempt++) {
      const nonce = (await store.nextNonce()) ?? (await syncNonce());
      const tx = await sign(nonce, call, gas, fees);
      const slot: Slot = {
        nonce,
        purpose,
        submissionIds: records.map((r) => r.id),
        to: call.to,
        data: call.data,
        gas: gas.toString(),
        txs: [tx],
        status: "sent",
      };
      const updated = records.map((r) => update(r, publicTx(tx)));
      const committed = await store.commitSlot(slot, updated, ctx.token);
      if (committed === "nonce-moved") {
        await syncNonce();
        continue;
      }
      if (committed !== "recorded") {
        // Another leader took over, or sent these submissions already: nothing is sent from here.
        logger.warn({ msg: "transaction not recorded", reason: committed, submissions: slot.submissionIds });
        return undefined;
      }
      await hooks.afterRecord?.(slot);
      logger.info({ msg: "transaction recorded", purpose, nonce, hash: tx.hash, submissions: slot.submissionIds });
      await broadcast(tx);
      await hooks.afterBroadcast?.(slot);
      return slot;
    }
    return undefined;
  }

  async function estimate(call: Call): Promise<{ ok: true; gas: bigint } | { ok: false; revertData: string }> {
    try {
      const gas = BigInt(
        (await chain.request("eth_estimateGas", [
          { from: address, to: call.to, data: call.data },
          "pending",
        ])) as string,
      );
      return { ok: true, gas: (gas * BigInt(100 + o.gasMarginPercent)) / 100n };
    } catch (error) {
      if (error instanceof CallRevertedError) return { ok: false, revertData: error.data };
      throw error;
    }
  }

  /** Sends `plans` in one transaction (with `knownGas`, already estimated together), or in halves while the batch fails. */
  async function sendBatch(plans: Plan[], byId: Map<string, SubmissionRecord>, knownGas?: bigint): Promise<void> {
    if (plans.length === 0) return;
    const call: Call =
      plans.length === 1
        ? plans[0].call
        : { to: escrow, data: escrowInterface.encodeFunctionData("multicall", [plans.map((p) => p.call.data)]) };
    const split = async () => {
      const half = Math.ceil(plans.length / 2);
      await sendBatch(plans.slice(0, half), byId);
      await sendBatch(plans.slice(half), byId);
    };
    // The estimate runs the call on the pending block: a batch that fails there is split, a single call fails.
    const estimated = knownGas !== undefined ? { ok: true as const, gas: knownGas } : await estimate(call);
    if (!estimated.ok) {
      if (plans.length > 1) return split();
      const error = decodeError(estimated.revertData);
      await store.put(plans[0].submissionIds.map((id) => failedWith(byId.get(id)!, error)));
      return;
    }
    const records = plans.flatMap((p) => p.submissionIds.map((id) => byId.get(id)!));
    // The gas budget: each charged submission reserves its share of the transaction's gas limit.
    const share = estimated.gas / BigInt(records.length) + 1n;
    if (budget) {
      const refused = new Set<string>();
      const reserved: SubmissionRecord[] = [];
      const charged = records.filter((r) => r.keyId !== undefined);
      const answers = await Promise.all(charged.map((r) => budget.reserve(r.keyId!, share)));
      charged.forEach((r, i) => (answers[i].ok ? reserved.push(r) : refused.add(r.id)));
      if (refused.size > 0) {
        for (const r of reserved) await budget.settle(r.keyId!, share, 0n);
        const kept = plans.filter((p) => !p.submissionIds.some((id) => refused.has(id)));
        const dropped = plans.filter((p) => p.submissionIds.some((id) => refused.has(id)));
        await store.put(
          dropped.flatMap((p) =>
            p.submissionIds.map((id) =>
              failedWith(byId.get(id)!, {
                name: "GasBudgetExceeded",
                message: "the API key's daily gas budget does not cover this transaction",
              }),
            ),
          ),
        );
        return sendBatch(kept, byId);
      }
    }
    const slot = await sendRecorded("call", call, estimated.gas, records, (r, tx) => ({
      ...r,
      status: "sent",
      transactions: [...r.transactions, tx],
      reservedGas: budget && r.keyId !== undefined ? share.toString() : undefined,
      updatedAt: Date.now(),
    }));
    if (!slot) {
      if (budget) for (const r of records) if (r.keyId !== undefined) await budget.settle(r.keyId, share, 0n);
      throw new Error("the transaction was not recorded (see the warning before); its submissions retry");
    }
  }

  /** Submissions whose prelude must be mined first: sends it when needed. Returns the ids to hold back. */
  async function preludes(records: SubmissionRecord[], pendingNonces: Set<number>): Promise<Set<string>> {
    const held = new Set<string>();
    for (const r of records) {
      if (!r.prelude) continue;
      const code = (await chain.request("eth_getCode", [r.prelude.unlessCodeAt, "latest"])) as string;
      if (code !== "0x") continue;
      held.add(r.id);
      if (r.preludeNonce !== undefined && pendingNonces.has(r.preludeNonce)) continue; // still on its way
      if (r.preludeNonce !== undefined) {
        await store.put([
          failedWith(r, { name: "PreludeFailed", message: "the wallet deployment was mined but left no code" }),
        ]);
        continue;
      }
      const call = { to: r.prelude.to, data: r.prelude.data };
      const gas = await estimate(call);
      if (!gas.ok) {
        await store.put([failedWith(r, decodeError(gas.revertData))]);
        continue;
      }
      const slot = await sendRecorded("prelude", call, gas.gas, [r], (x, tx) => ({
        ...x,
        preludeNonce: tx.nonce,
        updatedAt: Date.now(),
      }));
      if (slot) pendingNonces.add(slot.nonce);
    }
    return held;
  }

  /**
   * The gas of `plans`, all escrow calls, sent together as one multicall on the pending block; undefined when they do
   * not all pass together (or one is malformed). The estimate runs the batch, so it doubles as its simulation.
   */
  async function estimateAll(plans: Plan[]): Promise<bigint | undefined> {
    try {
      for (const p of plans) checkCall(p.call, "planned call");
    } catch {
      return undefined;
    }
    if (plans.some((p) => p.call.to.toLowerCase() !== escrow.toLowerCase())) return undefined;
    const data = escrowInterface.encodeFunctionData("multicall", [plans.map((p) => p.call.data)]);
    const estimated = await estimate({ to: escrow, data });
    return estimated.ok ? estimated.gas : undefined;
  }

  /** One round of the worker over the jobs it took. */
  async function round(jobs: Job[]): Promise<void> {
    const ids = [...new Set(jobs.map((j) => String((j.data as { id: string }).id)))];
    await hooks.afterTake?.(ids);
    const held = new Set<string>();
    try {
      const records = (await store.getMany(ids)).filter((r): r is SubmissionRecord => r?.status === "queued");
      // Submissions sharing a merge key with one of the round's go to the planner with it, taken or not (a job
      // whose submission was sent meanwhile completes when it is taken).
      const mergeKeys = [...new Set(records.flatMap((r) => (r.merge ? [r.merge.key] : [])))];
      const partners = (await store.mergedIds(mergeKeys)).filter((id) => !ids.includes(id));
      for (const r of await store.getMany(partners)) if (r?.status === "queued") records.push(r);
      const pendingNonces = new Set((await store.slots()).map((s) => s.nonce));
      for (const id of await preludes(records, pendingNonces)) held.add(id);
      const ready = records.filter((r) => !held.has(r.id) && r.status === "queued");
      const fresh = await store.getMany(ready.map((r) => r.id));
      const queued = fresh.filter((r): r is SubmissionRecord => r?.status === "queued");
      const byId = new Map(queued.map((r) => [r.id, r]));
      const plans = (await planner(queued)).filter((p) => p.submissionIds.length > 0);
      const planned = new Set<string>();
      const valid: Plan[] = [];
      for (const p of plans) {
        if (p.submissionIds.some((id) => !byId.has(id) || planned.has(id))) {
          logger.error({ msg: "planner returned unknown or repeated ids; plan skipped", ids: p.submissionIds });
          continue;
        }
        p.submissionIds.forEach((id) => planned.add(id));
        valid.push(p);
      }
      for (const r of queued) if (!planned.has(r.id)) held.add(r.id);
      const batchable: Plan[] = [];
      const alone: Plan[] = [];
      // The usual round: every plan is a well-formed escrow call and their multicall passes as a whole. One eth_call
      // then stands for them all; only when it fails is each plan simulated alone, to find the ones that fail.
      const gas = valid.length > 1 ? await estimateAll(valid) : undefined;
      if (gas !== undefined) {
        await sendBatch(valid, byId, gas);
        return;
      }
      // Simulations run a few at a time (order kept): a round of many submissions is not RPC round trips in a row.
      const outcomes = await inBatches(valid, SIMULATION_CONCURRENCY, async (p) => {
        try {
          checkCall(p.call, "planned call");
        } catch (error) {
          return { invalid: errorText(error) };
        }
        return { outcome: await chain.simulate({ from: address, to: p.call.to, data: p.call.data }, "pending") };
      });
      const failed: SubmissionRecord[] = [];
      valid.forEach((p, i) => {
        const { invalid, outcome } = outcomes[i];
        const fail = (error: SubmissionError | undefined) =>
          failed.push(...p.submissionIds.map((id) => failedWith(byId.get(id)!, error)));
        if (invalid !== undefined)
          fail({ name: "InvalidPlan", message: `the planner returned an invalid call: ${invalid}` });
        else if (!outcome!.ok) {
          const error = decodeError(outcome!.revertData);
          logger.info({ msg: "submission failed in simulation", ids: p.submissionIds, error: error?.name });
          fail(error);
        } else if (p.call.to.toLowerCase() === escrow.toLowerCase()) batchable.push(p);
        else alone.push(p);
      });
      await store.put(failed);
      await sendBatch(batchable, byId);
      for (const p of alone) await sendBatch([p], byId);
    } catch (error) {
      logger.error({ msg: "submitter round failed; its submissions are retried", err: errorText(error) });
      for (const id of ids) held.add(id);
    }
    // The jobs settle together: one round trip's time, not one per job.
    await Promise.all(
      jobs.map(async (job) => {
        const id = String((job.data as { id: string }).id);
        try {
          const move = held.has(id)
            ? job.moveToDelayed(Date.now() + Math.max(200, o.pollMs), ctx.token)
            : job.moveToCompleted("done", ctx.token, false);
          await withDeadline(move, o.redisTimeoutMs, "settle job");
        } catch (error) {
          logger.warn({ msg: "could not settle a job", id, err: errorText(error) });
        }
      }),
    );
  }

  return { syncNonce, broadcast, sign, estimate, round };
}
