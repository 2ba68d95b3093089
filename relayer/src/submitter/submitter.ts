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
import { Wallet, getAddress } from "ethers";
import { Queue, Worker, type Job } from "bullmq";
import { Counter } from "prom-client";
import { bullConnection, type RedisClient as Redis } from "../redis";
import type { Chain } from "../chain/types";
import type { Common } from "../common";
import type { Options } from "../options";
import type { ResolvedOptions, SubmitterContext } from "./context";
import { createFollower } from "./follower";
import { createSubmitterStore } from "./records";
import { settledWithin, withDeadline } from "../deadline";
import { checkCall, createSender, errorText } from "./sender";
import type {
  GasBudget,
  Planner,
  SubmissionRecord,
  SubmissionRequest,
  SubmissionView,
  Submitter,
  SubmitterHooks,
  SubmitterOptions,
} from "./types";

export type { SubmitterHooks } from "./types";

export const DEFAULT_SUBMITTER_OPTIONS: ResolvedOptions = {
  batchWindowMs: 250,
  maxBatch: 100,
  bumpAfterMs: 30_000,
  bumpPercent: 12.5,
  pollMs: 1_000,
  leaseMs: 15_000,
  jobLockMs: 30_000,
  stalledIntervalMs: 15_000,
  redisTimeoutMs: 5_000,
  gasMarginPercent: 25,
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
/** The submitter's options from the relayer's (relayer/src/options.ts); confirmations come from CONFIRMATIONS. */
export function submitterOptionsOf(options: Options): SubmitterOptions {
  return {
    batchWindowMs: options.submitBatchWindowMs,
    maxBatch: options.submitMaxBatch,
    bumpAfterMs: options.submitBumpAfterMs,
    bumpPercent: options.submitBumpPercent,
    maxFeePerGasCap: options.maxFeePerGas,
    pollMs: options.submitPollMs,
    leaseMs: options.submitLeaseMs,
    gasMarginPercent: options.submitGasMarginPercent,
  };
}

/** How often the leader re-adds jobs of submissions queued longer than this (ms). */
const SWEEP_MS = 10_000;
/** How long resigning waits for the BullMQ worker to close before it forces the close. */
const WORKER_CLOSE_MS = 5_000;
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createSubmitter(deps: SubmitterDeps): Submitter {
  const { common, chain, redis, base, escrow, confirmations, budget, decodeError, hooks = {} } = deps;
  const o = { ...DEFAULT_SUBMITTER_OPTIONS, ...deps.options };
  const cap = deps.options?.maxFeePerGasCap;
  const planner = deps.planner ?? onePerSubmission;
  const wallet = new Wallet(deps.signerKey);
  const address = wallet.address;
  const logger = common.logger.child({ module: "submitter", relayer: address });
  const token = `${process.pid}:${randomBytes(8).toString("hex")}`;
  // Only the lease holder updates slots and records (submit's new records are not fenced: any replica accepts them).
  const store = createSubmitterStore({ redis, base, address, timeoutMs: o.redisTimeoutMs, fence: token });
  const queueName = `submit-${address.toLowerCase()}`;
  const prefix = `${base}bull`;
  // BullMQ opens its own connections (a worker blocks); same server and database as the caller's client.
  // (No command timeout there: a blocking fetch outlasts it. Calls on them get deadlines here instead.)
  // The prefix carries the store's `{chainId:escrow8}` tag: on a cluster the queue's keys share one slot; there
  // BullMQ gets a Cluster client of its own, opened on first use and quit by stop().
  let bull: ReturnType<typeof bullConnection> | undefined;
  const connectionOf = () => (bull ??= bullConnection(redis)).connection;
  const sentCounter =
    (common.metrics.registry.getSingleMetric(SENT_METRIC) as Counter | undefined) ??
    new Counter({
      name: SENT_METRIC,
      help: "Transactions the submitter broadcast (replacements included)",
      registers: [common.metrics.registry],
    });

  let queue: Queue | undefined;
  const queueOf = () => (queue ??= new Queue(queueName, { connection: connectionOf(), prefix }));

  let running = false;
  let leading = false;
  let worker: Worker | undefined;
  let loops: Promise<void>[] = [];
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
    const jobs = ids.map((id) => ({
      name: "submission",
      data: { id },
      opts: { jobId: id, removeOnComplete: true, removeOnFail: 1_000 },
    }));
    await withDeadline(queueOf().addBulk(jobs), o.redisTimeoutMs, "add jobs");
  }

  const ctx: SubmitterContext = {
    chain,
    store,
    wallet,
    address,
    escrow,
    confirmations,
    budget,
    decodeError,
    hooks,
    o,
    cap,
    logger,
    planner,
    enqueue,
    sentCounter,
    token,
  };
  const sender = createSender(ctx);
  const { syncNonce, round } = sender;
  const { tick } = createFollower(ctx, sender);

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

  /* ------------------------------------------------ leading ----------------------------------------------- */

  async function workLoop(w: Worker): Promise<void> {
    while (leading) {
      try {
        const first = await withDeadline(w.getNextJob(token, { block: true }), o.redisTimeoutMs + 1_000, "take job");
        if (!first || !leading) continue;
        const jobs: Job[] = [first];
        const until = Date.now() + o.batchWindowMs;
        while (jobs.length < o.maxBatch && leading) {
          const next = await withDeadline(w.getNextJob(token, { block: false }), o.redisTimeoutMs, "take job");
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

  /**
   * Follows the slots every `pollMs`; every SWEEP_MS, also adds a job again for each submission queued longer than
   * that (a submit whose job was not added, when Redis failed between the record and the job: a no-op otherwise).
   */
  async function followLoop(): Promise<void> {
    let sweptAt = Date.now();
    while (leading) {
      try {
        await exclusive(tick);
        if (Date.now() - sweptAt >= SWEEP_MS) {
          sweptAt = Date.now();
          await enqueue(await store.queuedIds(sweptAt - SWEEP_MS));
        }
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
      connection: connectionOf(),
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
    // The loops end after their round or tick (a blocking fetch returns within a second), then the worker closes.
    await Promise.all(loops);
    loops = [];
    const w = worker;
    worker = undefined;
    // Bounded: a BullMQ close can wait for ever on a connection that never completes; then it is forced.
    if (!(await settledWithin(w?.close(), WORKER_CLOSE_MS))) void w!.close(true).catch(() => undefined);
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
      await bull?.close();
      bull = undefined;
    },
  };
}
