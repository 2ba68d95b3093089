/**
 * The keeper: sends, when they fall due, the transactions anyone may send, so that no deal waits for a human who has
 * left (issue 13, "timeouts with a default outcome"):
 *   - `refund(deal)` of an Open deal after its deadline, and of a delegate's lock (Performed or Disputed) after its
 *     lock expiry (protocol/due.ts mirrors the escrow's rules);
 *   - actions a party signed in advance (`POST /v1/deals/{dealId}/scheduled`), sent as `actWithSig`: the payee's
 *     claim after an autoRelease deal's release window, the payee's escalation (dispute) after the window, the
 *     payer's release once the payee has performed, the payee's performed while the deal is open.
 *
 * Every tick reads a bounded page of each live status index and of the scheduled deals; an item is sent only if
 * the escrow would accept it now (simulated on the pending block) and after one atomic claim in Redis (SET NX with
 * a TTL, keyed by deal and kind, holding the submission id it is sent as): several replicas never send one item
 * twice. A submission that fails releases its claim, so a later tick tries again; a deal that ends voids what it
 * still held. The contract stays the judge: the relayer can only send what the signer or the rules allow.
 *
 * Keys (under the store's prefix, with the escrow's hash tag): `w:d:kp:s:<dealId>` hash action → held signature;
 * `w:d:kp:deals` zset of the deals holding some; `w:d:kp:c:<dealId>:<kind>` a claim (the submission id).
 */
import { randomBytes } from "node:crypto";
import type { RedisClient as Redis } from "../redis";
import { Counter, Gauge } from "prom-client";
import {
  Action,
  claimDueAt,
  payeeDisputeDueAt,
  refundDueAt,
  type DealKind,
  type DealStatus,
  type DueDeal,
} from "../../../protocol";
import type { Common } from "../common";
import type { Chain } from "../chain/types";
import type { Hash, HistoryEntry } from "../domain/projection";
import { FINAL_STATUSES } from "../domain/projection";
import type { Store } from "../store/store";
import { ApiProblem } from "../api/problems";
import { dealStructOf, encode, ESCROW, type Call } from "../write/calls";
import { roleOf, type KeyIdentity, type Refusal, type Role } from "../write/rules";
import type { WriteService } from "../write/service";

/** The actions a party may sign in advance, with the escrow action and who signs each. */
export const SCHEDULED_ACTIONS = {
  claim: { action: Action.Claim, signer: "payee" },
  dispute: { action: Action.Dispute, signer: "payee" },
  release: { action: Action.Release, signer: "payer" },
  performed: { action: Action.Perform, signer: "payee" },
} as const satisfies Record<string, { action: number; signer: Role }>;
export type ScheduledName = keyof typeof SCHEDULED_ACTIONS;
export const SCHEDULED_NAMES = Object.keys(SCHEDULED_ACTIONS) as ScheduledName[];

export type ScheduledState = "waiting" | "sent" | "expired" | "void";
/** A held signature as served. */
export type ScheduledView = {
  action: ScheduledName;
  signer: string;
  /** The first second the escrow accepts it, when the rules know it from time alone. */
  dueAt: number | null;
  expiry: string;
  state: ScheduledState;
  submission: string | null;
  createdAt: number;
};
/** As kept in Redis. */
type Held = {
  action: ScheduledName;
  signer: string;
  signature: string;
  expiry: string;
  deploy: { factory: string; data: string } | null;
  createdAt: number;
  state: "waiting" | "sent" | "void";
  submission: string | null;
};
export type ScheduleRequest = { action: ScheduledName; signer: string; signature: string; expiry: bigint };

/** What the keeper asks of the submitter (relayer/src/submitter). */
export type KeeperSubmitter = {
  submit(request: {
    id: string;
    dealId: string;
    kind: string;
    call: Call;
    prelude?: Call & { unlessCodeAt: string };
  }): Promise<{ id: string }>;
  get(id: string): Promise<{ status: string } | undefined>;
};

export type KeeperDeps = {
  common: Common;
  redis: Redis;
  store: Pick<Store, "keyPrefix" | "readDealIds" | "readDealsById" | "getDeal">;
  chain: Pick<Chain, "simulate">;
  submitter: KeeperSubmitter;
  write: Pick<WriteService, "verifyDealAction" | "authorizeDeal">;
  escrow: string;
  /** The relayer's signer (the simulated calls' sender). */
  relayer: string;
  resolutionWindow: number;
  /** The time the escrow judges by (unix s): max(clock, the projection's block time). */
  now: () => Promise<number>;
  intervalMs: number;
  /** Deals read per live status and per tick (default 100). */
  pageSize?: number;
};

/** How long a claim holds an item when its submission is never seen to end (a crashed replica's claim expires). */
const CLAIM_TTL_MS = 15 * 60_000;
/** How long the signatures of a deal that ended stay readable (GET shows them void or sent). */
const ENDED_TTL_S = 7 * 86_400;
/** Compare-and-delete: releases a claim only if it still holds `id`. KEYS: 1 claim. ARGV: 1 submission id. */
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

const LIVE: DealStatus[] = ["open", "performed", "disputed"];

/** The due-time rules' view of an indexed deal (its hash and history). */
export function dueDealOf(deal: Hash, history: HistoryEntry[] = []): DueDeal {
  const performed = history.find((h) => h.event === "DealPerformed");
  return {
    status: deal.status as DealStatus,
    kind: deal.kind as DealKind,
    salt: `0x${(deal.salt ?? "").replace(/^0x/, "")}`,
    deadline: Number(deal.deadline),
    releaseWindow: Number(deal.releaseWindow),
    autoRelease: deal.autoRelease === "1",
    ...(performed?.timestamp !== undefined ? { performedAt: performed.timestamp } : {}),
    ...(deal.disputedAt !== undefined ? { disputedAt: Number(deal.disputedAt) } : {}),
  };
}

/** The first second a held action is due from time alone (release and performed wait for the other party). */
function dueAtOf(action: ScheduledName, d: DueDeal): number | undefined {
  if (action === "claim") return claimDueAt(d);
  if (action === "dispute") return payeeDisputeDueAt(d);
  return undefined;
}

/** Whether the rules let a held action go now (the simulation has the last word). */
function ready(action: ScheduledName, deal: Hash, d: DueDeal, now: number): boolean {
  switch (action) {
    case "claim":
    case "dispute": {
      if (deal.status !== "performed") return false;
      const at = dueAtOf(action, d);
      return at === undefined ? true : now >= at;
    }
    case "release":
      return deal.status === "performed";
    case "performed":
      return deal.status === "open" && now <= d.deadline;
  }
}

/** Who may hold `action` on `deal` now: the role, the deal not ended, a claim only on an autoRelease deal. */
function checkSchedule(action: ScheduledName, deal: Hash, signer: string): Refusal | undefined {
  const rule = SCHEDULED_ACTIONS[action];
  if (roleOf(deal, signer) !== rule.signer) {
    return { kind: "wrong-signer", detail: `Only the deal's ${rule.signer} signs a scheduled "${action}".` };
  }
  const live: Record<ScheduledName, string[]> = {
    claim: ["open", "performed"],
    dispute: ["open", "performed"],
    release: ["open", "performed"],
    performed: ["open"],
  };
  if (!live[action].includes(deal.status)) {
    return { kind: "wrong-status", detail: `The deal is ${deal.status}; "${action}" can no longer fall due.` };
  }
  if (action === "claim" && deal.autoRelease !== "1") {
    return { kind: "wrong-status", detail: "Only an autoRelease deal can be claimed; schedule a dispute instead." };
  }
  return undefined;
}

export function createKeeper(deps: KeeperDeps) {
  const { common, redis, store, chain, submitter, escrow } = deps;
  const { logger } = common;
  const base = `${store.keyPrefix}w:d:kp:`;
  const itemsKey = (dealId: string) => `${base}s:${dealId}`;
  const dealsKey = `${base}deals`;
  const claimKey = (dealId: string, kind: string) => `${base}c:${dealId}:${kind}`;
  const pageSize = deps.pageSize ?? 100;
  const registers = [common.metrics.registry];
  const sentTotal = new Counter({
    name: "escrow_keeper_sent_total",
    help: "Transactions the keeper queued, by kind (refund, claim, dispute, release, performed)",
    labelNames: ["kind"] as const,
    registers,
  });
  const dueGauge = new Gauge({
    name: "escrow_keeper_due",
    help: "Items the keeper found due in its last tick (sent, or held by another replica's claim)",
    registers,
  });

  /* ------------------------------------------------ sending ----------------------------------------------- */

  /** Releases `kind`'s claim on `dealId` if it holds the failed submission `id`. */
  async function releaseClaim(dealId: string, kind: string, id: string): Promise<void> {
    await redis.eval(RELEASE_SCRIPT, 1, claimKey(dealId, kind), id);
  }

  /**
   * Sends `call` once across replicas: when no claim holds (dealId, kind) and the escrow would accept it now.
   * Returns the submission id it was queued as, or undefined (held elsewhere, not accepted yet, or a failed
   * submission whose claim it released for the next tick).
   */
  async function sendOnce(
    dealId: string,
    kind: string,
    call: Call,
    prelude?: Call & { unlessCodeAt: string },
  ): Promise<string | undefined> {
    const held = await redis.get(claimKey(dealId, kind));
    if (held !== null) {
      const sub = await submitter.get(held);
      if (sub?.status === "failed") await releaseClaim(dealId, kind, held);
      return undefined;
    }
    // A wallet deployed by the submission (ERC-6492) cannot be simulated against before it exists.
    if (!prelude) {
      const outcome = await chain.simulate({ from: deps.relayer, to: call.to, data: call.data }, "pending");
      if (!outcome.ok) return undefined;
    }
    const id = `kp_${randomBytes(12).toString("hex")}`;
    const claimed = await redis.set(claimKey(dealId, kind), id, "PX", CLAIM_TTL_MS, "NX");
    if (claimed !== "OK") return undefined;
    try {
      await submitter.submit({ id, dealId, kind: `keeper-${kind}`, call, ...(prelude ? { prelude } : {}) });
    } catch (error) {
      await releaseClaim(dealId, kind, id).catch(() => undefined);
      throw error;
    }
    sentTotal.inc({ kind });
    logger.info({ msg: "keeper sent", dealId, kind, submission: id });
    return id;
  }

  /* ------------------------------------------------- ticks ------------------------------------------------ */

  /** Where each live status index is read from next (undefined: from the newest). */
  const cursors = new Map<string, { score: number; id: string } | undefined>();
  let scheduledFrom = 0;

  /** Refunds due on one page of each live status index. */
  async function refunds(now: number): Promise<number> {
    let due = 0;
    for (const status of LIVE) {
      const page = await store.readDealIds(`ix:status:${status}`, pageSize, cursors.get(status));
      cursors.set(status, page.next);
      if (page.ids.length === 0) continue;
      const { deals } = await store.readDealsById(page.ids.map((x) => x.id));
      for (const { id: dealId, deal, history } of deals) {
        if (deal.status !== status) continue;
        const at = refundDueAt(dueDealOf(deal, history), deps.resolutionWindow);
        if (at === undefined || now < at) continue;
        due++;
        const call = { to: escrow, data: ESCROW.encodeFunctionData("refund", [dealStructOf(deal)]) };
        await sendOnce(dealId, "refund", call).catch((error: unknown) =>
          logger.warn({ msg: "keeper refund not queued", dealId, err: (error as Error).message }),
        );
      }
    }
    return due;
  }

  /** The held signatures of one page of deals: voided when the deal ended, sent when due, retried when failed. */
  async function scheduled(now: number): Promise<number> {
    let due = 0;
    const ids = await redis.zrange(dealsKey, scheduledFrom, scheduledFrom + pageSize - 1);
    scheduledFrom = ids.length < pageSize ? 0 : scheduledFrom + ids.length;
    for (const dealId of ids) {
      const got = await store.getDeal(dealId);
      if (!got) continue;
      const { deal, history } = got;
      const items = await readItems(dealId);
      if (FINAL_STATUSES.has(deal.status as DealStatus)) {
        for (const item of items) if (item.state === "waiting") await writeItem(dealId, { ...item, state: "void" });
        await redis.zrem(dealsKey, dealId);
        await redis.expire(itemsKey(dealId), ENDED_TTL_S);
        continue;
      }
      const d = dueDealOf(deal, history);
      let open = 0;
      let pending = 0;
      for (const item of items) {
        if (item.state === "sent" && item.submission) {
          const sub = await submitter.get(item.submission);
          if (sub?.status !== "failed") {
            if (sub && sub.status !== "final") pending++;
            continue;
          }
          await releaseClaim(dealId, item.action, item.submission);
          item.state = "waiting";
          item.submission = null;
          await writeItem(dealId, item);
        }
        if (item.state !== "waiting" || BigInt(item.expiry) < BigInt(now)) continue;
        open++;
        if (!ready(item.action, deal, d, now)) continue;
        due++;
        const call = {
          to: escrow,
          data: encode.actWithSig(dealStructOf(deal), SCHEDULED_ACTIONS[item.action].action, item.signer, {
            expiry: BigInt(item.expiry),
            signature: item.signature,
          }),
        };
        const prelude = item.deploy
          ? { ...item.deploy, to: item.deploy.factory, unlessCodeAt: item.signer }
          : undefined;
        const id = await sendOnce(dealId, item.action, call, prelude).catch((error: unknown) => {
          logger.warn({ msg: "keeper action not queued", dealId, kind: item.action, err: (error as Error).message });
          return undefined;
        });
        if (id) await writeItem(dealId, { ...item, state: "sent", submission: id });
      }
      // Nothing left waiting and nothing sent still in flight: the deal leaves the keeper's round.
      if (open === 0 && pending === 0) await redis.zrem(dealsKey, dealId);
    }
    return due;
  }

  async function tick(): Promise<void> {
    const now = await deps.now();
    const due = (await refunds(now)) + (await scheduled(now));
    dueGauge.set(due);
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick()
        .catch((error: unknown) => logger.warn({ msg: "keeper tick failed", err: (error as Error).message }))
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, deps.intervalMs);
    timer.unref();
  };

  /* ------------------------------------------ held signatures (API) ---------------------------------------- */

  async function readItems(dealId: string): Promise<Held[]> {
    const all = await redis.hgetall(itemsKey(dealId));
    return SCHEDULED_NAMES.filter((a) => all[a] !== undefined).map((a) => JSON.parse(all[a]) as Held);
  }
  async function writeItem(dealId: string, item: Held): Promise<void> {
    await redis.hset(itemsKey(dealId), item.action, JSON.stringify(item));
  }
  function viewOf(item: Held, d: DueDeal, now: number): ScheduledView {
    const state: ScheduledState =
      item.state === "waiting" && BigInt(item.expiry) < BigInt(now) ? "expired" : item.state;
    return {
      action: item.action,
      signer: item.signer,
      dueAt: dueAtOf(item.action, d) ?? null,
      expiry: item.expiry,
      state,
      submission: item.submission,
      createdAt: item.createdAt,
    };
  }

  /** Holds a party's signed action until it falls due (replacing one of the same action not yet sent). */
  async function hold(key: KeyIdentity, dealId: string, r: ScheduleRequest): Promise<ScheduledView> {
    const { deal, signer, signature, deploy } = await deps.write.verifyDealAction(
      key,
      dealId,
      { action: SCHEDULED_ACTIONS[r.action].action, signer: r.signer, signature: r.signature, expiry: r.expiry },
      (d, s) => checkSchedule(r.action, d, s),
    );
    const now = await deps.now();
    const previous = (await readItems(dealId)).find((i) => i.action === r.action);
    if (previous?.state === "sent") {
      throw new ApiProblem("wrong-status", `The scheduled "${r.action}" was sent already (${previous.submission}).`);
    }
    const item: Held = {
      action: r.action,
      signer,
      signature,
      expiry: r.expiry.toString(),
      deploy: deploy ?? null,
      createdAt: now,
      state: "waiting",
      submission: null,
    };
    await writeItem(dealId, item);
    await redis.persist(itemsKey(dealId));
    await redis.zadd(dealsKey, now, dealId);
    const got = await store.getDeal(dealId);
    return viewOf(item, dueDealOf(deal, got?.history), now);
  }

  /** The deal's held signatures (the confirmations' key rule). */
  async function list(key: KeyIdentity, dealId: string) {
    await deps.write.authorizeDeal(key, dealId);
    const [got, items, now] = await Promise.all([store.getDeal(dealId), readItems(dealId), deps.now()]);
    const d = dueDealOf(got!.deal, got!.history);
    return { dealId, items: items.map((i) => viewOf(i, d, now)) };
  }

  /** The deal's held signatures, unchecked (for the checkout, which shows the user's own escalation). */
  async function held(dealId: string): Promise<ScheduledView[]> {
    const [got, items, now] = await Promise.all([store.getDeal(dealId), readItems(dealId), deps.now()]);
    if (!got) return [];
    const d = dueDealOf(got.deal, got.history);
    return items.map((i) => viewOf(i, d, now));
  }

  /** Forgets a held signature: only its signer's key (it stays valid on chain until its expiry). */
  async function forget(key: KeyIdentity, dealId: string, action: ScheduledName): Promise<void> {
    await deps.write.authorizeDeal(key, dealId);
    const item = (await readItems(dealId)).find((i) => i.action === action);
    if (!item) throw new ApiProblem("scheduled-not-found", `No scheduled "${action}" is held for deal ${dealId}.`);
    if (key.owner.toLowerCase() !== item.signer) {
      throw new ApiProblem("forbidden", `Only the key of the signer ${item.signer} forgets its scheduled "${action}".`);
    }
    await redis.hdel(itemsKey(dealId), action);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    tick,
    api: { hold, list, forget, held },
  };
}
export type Keeper = ReturnType<typeof createKeeper>;
export type ScheduledApi = Keeper["api"];
