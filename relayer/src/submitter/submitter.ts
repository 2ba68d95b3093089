/**
 * The submitter: sends the escrow calls the API accepted, from the relayer's key, exactly once each.
 *
 * `submit` stores a record ("queued") and adds a BullMQ job (job id = submission id) on the same Redis. One process
 * per relayer key works the queue: the holder of a lease in Redis. Its worker takes the jobs of a batch window,
 * hands the queued records to the planner, simulates every planned call at the pending block from the relayer's
 * address (a failing one is "failed" with its decoded error, and blocks nothing), and sends the ones that passed
 * in one `Escrow.multicall(bytes[])` (halving the batch while its simulation fails). Each transaction is signed,
 * then recorded in Redis together with its nonce (a "slot") and its submissions' new status ("sent"), and only then
 * broadcast: after a crash the successor broadcasts the same bytes again (same hash, same nonce), so no
 * submission is sent twice and no nonce is skipped.
 *
 * The follower walks the slots in nonce order: broadcasts again what the node does not know, replaces with higher
 * fees (same nonce, same submission ids) what has waited longer than `bumpAfterMs`, records receipts ("mined"),
 * and follows them to the confirmation depth ("final"). A reverted transaction fails its submissions with the
 * decoded error (a reverted batch sends its members back to the queue once, to be simulated and sent alone).
 */
import { randomBytes } from "node:crypto";
import { Interface, Transaction, Wallet, getAddress, toQuantity } from "ethers";
import { Queue, Worker, type Job } from "bullmq";
import { Counter } from "prom-client";
import type { Redis } from "ioredis";
import { Escrow__factory } from "../../../typechain-types/factories/contracts/Escrow__factory";
import type { Chain } from "../chain/types";
import type { Common } from "../common";
import { CallRevertedError } from "../errors";
import { bumpedFees, suggestFees, type Fees } from "./fees";
import { createSubmitterStore } from "./records";
import type {
  Call,
  GasBudget,
  Planner,
  SentTransaction,
  Slot,
  SlotTransaction,
  SubmissionError,
  SubmissionRecord,
  SubmissionRequest,
  SubmissionView,
  Submitter,
  SubmitterOptions,
} from "./types";

export const DEFAULT_SUBMITTER_OPTIONS: Required<Omit<SubmitterOptions, "maxFeePerGasCap">> = {
  batchWindowMs: 250,
  maxBatch: 50,
  bumpAfterMs: 30_000,
  bumpPercent: 12.5,
  pollMs: 1_000,
  leaseMs: 15_000,
  jobLockMs: 30_000,
  stalledIntervalMs: 15_000,
  redisTimeoutMs: 5_000,
  gasMarginPercent: 25,
};

/** Test seams: called at the named points of sending (a crash test kills the process there). */
export type SubmitterHooks = {
  /** The round took its jobs; nothing is recorded yet. */
  afterTake?: (ids: string[]) => void | Promise<void>;
  /** The signed transaction is recorded; it is not broadcast yet. */
  afterRecord?: (slot: Slot) => void | Promise<void>;
  /** The transaction was broadcast. */
  afterBroadcast?: (slot: Slot) => void | Promise<void>;
};

export type SubmitterDeps = {
  common: Common;
  chain: Chain;
  redis: Redis;
  base: string;
  /** 0x private key; never logged. */
  signerKey: string;
  escrow: string;
  confirmations: number;
  planner?: Planner;
  budget?: GasBudget;
  decodeError: (revertData: string) => SubmissionView["error"];
  options?: SubmitterOptions;
  hooks?: SubmitterHooks;
};

const ID = /^[A-Za-z0-9_-]{1,100}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HEX = /^0x([0-9a-fA-F]{2})*$/;
const escrowInterface = new Interface(Escrow__factory.abi);
const SENT_METRIC = "relayer_submitter_transactions_sent_total";

/** The default plan: one call per submission. */
export const onePerSubmission: Planner = async (queued) => queued.map((r) => ({ submissionIds: [r.id], call: r.call }));

/** The public part of a record. */
export function viewOf(r: SubmissionRecord): SubmissionView {
  const view: SubmissionView = {
    id: r.id,
    kind: r.kind,
    status: r.status,
    transactions: r.transactions,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
  if (r.dealId !== undefined) view.dealId = r.dealId;
  if (r.transactionHash !== undefined) view.transactionHash = r.transactionHash;
  if (r.blockNumber !== undefined) view.blockNumber = r.blockNumber;
  if (r.confirmations !== undefined) view.confirmations = r.confirmations;
  if (r.gasUsed !== undefined) view.gasUsed = r.gasUsed;
  if (r.error !== undefined) view.error = r.error;
  return view;
}

function checkCall(call: unknown, what: string): asserts call is Call {
  const c = call as Partial<Call> | undefined;
  if (!c || typeof c.to !== "string" || !ADDRESS.test(c.to)) throw new TypeError(`${what}.to must be an address`);
  if (typeof c.data !== "string" || !HEX.test(c.data)) throw new TypeError(`${what}.data must be 0x hex bytes`);
}

type Receipt = { status: string; blockNumber: string; blockHash: string; gasUsed: string; transactionHash: string };
type Plan = { submissionIds: string[]; call: Call };
type Outcome = "sent" | "known" | "nonce-too-low" | "nonce-too-high" | "underpriced" | "error";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createSubmitter(deps: SubmitterDeps): Submitter {
  const { common, chain, redis, base, escrow, confirmations, budget, decodeError, hooks = {} } = deps;
  const o = { ...DEFAULT_SUBMITTER_OPTIONS, ...deps.options };
  const cap = deps.options?.maxFeePerGasCap;
  const planner = deps.planner ?? onePerSubmission;
  const wallet = new Wallet(deps.signerKey);
  const address = wallet.address;
  const logger = common.logger.child({ module: "submitter", relayer: address });
  const store = createSubmitterStore({ redis, base, address, timeoutMs: o.redisTimeoutMs });
  const queueName = `submit-${address.toLowerCase()}`;
  const prefix = `${base}bull`;
  // BullMQ opens its own connections (a worker blocks); same server and database as the caller's client.
  const connection = { ...redis.options, maxRetriesPerRequest: null, keyPrefix: undefined, lazyConnect: false };
  const sentCounter =
    (common.metrics.registry.getSingleMetric(SENT_METRIC) as Counter | undefined) ??
    new Counter({
      name: SENT_METRIC,
      help: "Transactions the submitter broadcast (replacements included)",
      registers: [common.metrics.registry],
    });

  let queue: Queue | undefined;
  const queueOf = () => (queue ??= new Queue(queueName, { connection, prefix }));

  const token = `${process.pid}:${randomBytes(8).toString("hex")}`;
  let running = false;
  let leading = false;
  let worker: Worker | undefined;
  let loops: Promise<void>[] = [];
  let chainId: number | undefined;
  /** Serialises the worker's rounds and the follower's ticks. */
  let lock: Promise<void> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = lock.then(fn);
    lock = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  };

  async function enqueue(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await queueOf().addBulk(
      ids.map((id) => ({
        name: "submission",
        data: { id },
        opts: { jobId: id, removeOnComplete: true, removeOnFail: 1_000 },
      })),
    );
  }

  /* ------------------------------------------------ submit ------------------------------------------------ */

  async function submit(r: SubmissionRequest): Promise<SubmissionView> {
    const id = r.id ?? `sub_${randomBytes(12).toString("hex")}`;
    if (!ID.test(id)) throw new TypeError("id must be 1-100 characters of A-Z a-z 0-9 _ -");
    if (typeof r.kind !== "string" || r.kind.length === 0) throw new TypeError("kind must be a non-empty string");
    checkCall(r.call, "call");
    if (r.prelude) {
      checkCall(r.prelude, "prelude");
      if (!ADDRESS.test(r.prelude.unlessCodeAt)) throw new TypeError("prelude.unlessCodeAt must be an address");
    }
    const now = Date.now();
    const record: SubmissionRecord = {
      id,
      kind: r.kind,
      status: "queued",
      transactions: [],
      createdAt: now,
      updatedAt: now,
      call: { to: getAddress(r.call.to), data: r.call.data.toLowerCase() },
      requeues: 0,
    };
    if (r.dealId !== undefined) record.dealId = r.dealId;
    if (r.keyId !== undefined) record.keyId = r.keyId;
    if (r.merge !== undefined) record.merge = { key: r.merge.key };
    if (r.prelude) {
      record.prelude = {
        to: getAddress(r.prelude.to),
        data: r.prelude.data.toLowerCase(),
        unlessCodeAt: getAddress(r.prelude.unlessCodeAt),
      };
    }
    const { created, record: stored } = await store.create(record);
    if (created) await enqueue([id]);
    return viewOf(stored);
  }

  async function get(id: string): Promise<SubmissionView | undefined> {
    if (!ID.test(id)) return undefined;
    const record = await store.get(id);
    return record && viewOf(record);
  }

  /* ------------------------------------------------ sending ----------------------------------------------- */

  async function syncNonce(): Promise<number> {
    const pending = Number(await chain.request("eth_getTransactionCount", [address, "pending"]));
    const stored = (await store.nextNonce()) ?? 0;
    const slots = await store.slots();
    const afterSlots = slots.length > 0 ? slots[slots.length - 1].nonce + 1 : 0;
    const next = Math.max(pending, stored, afterSlots);
    if (next !== stored) logger.info({ msg: "nonce synced", next, chainPending: pending, stored });
    await store.setNextNonce(next);
    return next;
  }

  /** Broadcasts a recorded transaction; the node's refusals become outcomes (the follower acts on them). */
  async function broadcast(tx: SlotTransaction): Promise<Outcome> {
    try {
      await chain.request("eth_sendRawTransaction", [tx.raw]);
      sentCounter.inc();
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
      if (outcome === "nonce-too-high") await syncNonce();
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

  const publicTx = ({ raw: _raw, ...tx }: SlotTransaction): SentTransaction => tx;

  /**
   * Signs `call` at the next nonce, records it with `records` (updated by `update`), then broadcasts it. Returns
   * false when the recording lost a race for the nonce twice (nothing sent).
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
      if (!(await store.commitSlot(slot, updated))) {
        await syncNonce();
        continue;
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

  const failedWith = (r: SubmissionRecord, error: SubmissionError | undefined): SubmissionRecord => ({
    ...r,
    status: "failed",
    error: error ?? { name: "Reverted", message: "the call reverted without a reason" },
    updatedAt: Date.now(),
  });

  /** Sends `plans` (each simulated alone already) in one transaction, or in halves while the batch fails. */
  async function sendBatch(plans: Plan[], byId: Map<string, SubmissionRecord>): Promise<void> {
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
    if (plans.length > 1) {
      const simulated = await chain.simulate({ from: address, to: call.to, data: call.data }, "pending");
      if (!simulated.ok) return split();
    }
    const estimated = await estimate(call);
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
      for (const r of records) {
        if (r.keyId === undefined) continue;
        const answer = await budget.reserve(r.keyId, share);
        if (answer.ok) reserved.push(r);
        else refused.add(r.id);
      }
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
    if (!slot) throw new Error("could not record a transaction: the nonce kept moving");
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

  /** One round of the worker over the jobs it took. */
  async function round(jobs: Job[]): Promise<void> {
    const ids = [...new Set(jobs.map((j) => String((j.data as { id: string }).id)))];
    await hooks.afterTake?.(ids);
    const held = new Set<string>();
    try {
      const records = (await store.getMany(ids)).filter((r): r is SubmissionRecord => r?.status === "queued");
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
      for (const p of valid) {
        checkCall(p.call, "planned call");
        const outcome = await chain.simulate({ from: address, to: p.call.to, data: p.call.data }, "pending");
        if (!outcome.ok) {
          const error = decodeError(outcome.revertData);
          logger.info({ msg: "submission failed in simulation", ids: p.submissionIds, error: error?.name });
          await store.put(p.submissionIds.map((id) => failedWith(byId.get(id)!, error)));
        } else if (p.call.to.toLowerCase() === escrow.toLowerCase()) batchable.push(p);
        else alone.push(p);
      }
      await sendBatch(batchable, byId);
      for (const p of alone) await sendBatch([p], byId);
    } catch (error) {
      logger.error({ msg: "submitter round failed; its submissions are retried", err: errorText(error) });
      for (const id of ids) held.add(id);
    }
    for (const job of jobs) {
      const id = String((job.data as { id: string }).id);
      try {
        if (held.has(id)) await job.moveToDelayed(Date.now() + Math.max(200, o.pollMs), token);
        else await job.moveToCompleted("done", token, false);
      } catch (error) {
        logger.warn({ msg: "could not settle a job", id, err: errorText(error) });
      }
    }
  }

  /* ------------------------------------------------ following --------------------------------------------- */

  async function revertReason(slot: Slot, block: number): Promise<SubmissionError | undefined> {
    try {
      const at = toQuantity(Math.max(0, block - 1));
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

  /** Ticks in a row a slot's nonce may be used on chain with none of its transactions mined before it is abandoned. */
  const MISSING_TICKS = 5;

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

  /* ------------------------------------------------ leading ----------------------------------------------- */

  async function workLoop(w: Worker): Promise<void> {
    while (leading) {
      try {
        const first = await w.getNextJob(token, { block: true });
        if (!first || !leading) continue;
        const jobs: Job[] = [first];
        const until = Date.now() + o.batchWindowMs;
        while (jobs.length < o.maxBatch && leading) {
          const next = await w.getNextJob(token, { block: false });
          if (next) jobs.push(next);
          else if (Date.now() >= until) break;
          else await sleep(Math.min(20, until - Date.now()));
        }
        await exclusive(() => round(jobs));
      } catch (error) {
        if (!leading) break;
        logger.error({ msg: "submitter worker failed", err: errorText(error) });
        await sleep(o.pollMs);
      }
    }
  }

  async function followLoop(): Promise<void> {
    while (leading) {
      try {
        await exclusive(tick);
      } catch (error) {
        logger.error({ msg: "submitter follower failed", err: errorText(error) });
      }
      await sleep(o.pollMs);
    }
  }

  async function lead(): Promise<void> {
    await syncNonce();
    await exclusive(tick); // broadcast what a predecessor recorded, in nonce order, before anything new
    const queuedIds = await store.queuedIds();
    // Re-adding an id whose job exists is a no-op; a job lost between record and queue is added again.
    await enqueue(queuedIds);
    worker = new Worker(queueName, null, {
      connection,
      prefix,
      lockDuration: o.jobLockMs,
      stalledInterval: o.stalledIntervalMs,
      maxStalledCount: 1_000_000,
      drainDelay: 1,
    });
    worker.on("error", (error) => logger.warn({ msg: "bullmq worker error", err: errorText(error) }));
    await worker.startStalledCheckTimer();
    loops.push(workLoop(worker), followLoop());
    logger.info({ msg: "submitter leading", queued: queuedIds.length });
  }

  async function resign(): Promise<void> {
    leading = false;
    const w = worker;
    worker = undefined;
    await w?.close(true).catch(() => undefined);
    await Promise.all(loops);
    loops = [];
  }

  async function leaseLoop(): Promise<void> {
    let renewedAt = 0;
    while (running) {
      try {
        const held = await store.takeLease(token, o.leaseMs);
        if (held) {
          renewedAt = Date.now();
          if (!leading) {
            leading = true;
            await lead().catch(async (error) => {
              logger.error({ msg: "submitter could not start leading", err: errorText(error) });
              await resign();
            });
          }
        } else if (leading) {
          logger.warn({ msg: "submitter lease taken by another process" });
          await resign();
        }
      } catch (error) {
        logger.warn({ msg: "submitter lease renewal failed", err: errorText(error) });
        if (leading && Date.now() - renewedAt > (o.leaseMs * 2) / 3) await resign();
      }
      const pause = leading ? o.leaseMs / 3 : Math.min(o.leaseMs / 3, 500);
      for (const end = Date.now() + pause; running && Date.now() < end;) await sleep(Math.min(100, pause));
    }
  }

  let leaseLoopDone: Promise<void> | undefined;

  return {
    address,
    submit,
    get,
    async start() {
      if (running) return;
      running = true;
      leaseLoopDone = leaseLoop();
    },
    async stop() {
      running = false;
      await leaseLoopDone;
      if (leading) await resign();
      await lock;
      await store.dropLease(token).catch(() => undefined);
      await queue?.close().catch(() => undefined);
      queue = undefined;
    },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
