/**
 * The webhook side: a dispatcher that follows the event stream and fans each event out to the endpoints whose
 * filter matches, and a BullMQ worker that delivers, retries with backoff and logs every attempt. Several relayer
 * processes may run it at once: the fan-out moves the shared stream cursor with a compare-and-set script that also
 * numbers the deliveries (per endpoint) and records them, so an event is fanned out once; jobs have deterministic
 * ids, so an outbox sweep after a crash re-adds a lost job without doubling one that exists.
 *
 * Keys under `base` besides endpoints.ts's: `cursor` (the last event id fanned out), `outbox` (zset of
 * "<endpoint>|<event id>" recorded but maybe not queued yet, by time) and BullMQ's under `${base}bull`.
 */
import { DelayedError, Queue, Worker, type Job } from "bullmq";
import { bullConnection, deleteKeys, scanAll, type RedisClient as Redis } from "../redis";
import { Counter, Histogram } from "prom-client";
import type { Common } from "../common";
import type { Store } from "../store/store";
import type { EventsApi } from "../api/events";
import { endStreams } from "../api/events";
import type { WebhooksApi } from "../api/webhooks";
import type { Response } from "express";
import { REDIS_TIMEOUT_MS, settledWithin, withDeadline } from "../deadline";
import { postWebhook, clipError } from "./delivery";
import { createEndpoints, type Endpoints } from "./endpoints";
import { createEventReader, isOrderEvent, parseCursor, trimEvents, type EventReader, type PublicEvent } from "./stream";
import { orderEventForOwner } from "./orders";
import { disputeEventVisibleTo, isDisputeEvent } from "./disputes";
import { startTail, type Tail } from "./tail";
import { typeMatcher } from "./types";

/** Events fanned out per round. */
const FANOUT_BATCH = 200;
/** How often the dispatcher looks at the stream without being woken, and sweeps the outbox. */
const DISPATCH_POLL_MS = 1_000;
/** An outbox entry older than this is queued again by the sweep (its process died between record and queue). */
const OUTBOX_STALE_MS = 10_000;
/** Deliveries in flight at once in one process, over every endpoint. */
export const DELIVERY_CONCURRENCY = 64;
/** Deliveries in flight at once per endpoint in one process: a slow endpoint never takes every slot. */
export const ENDPOINT_CONCURRENCY = 4;
/** How long a job waits when its endpoint has ENDPOINT_CONCURRENCY deliveries in flight. */
const ENDPOINT_BUSY_DELAY_MS = 100;
/** Retries go on for at least this long. */
export const RETRY_SPAN_MS = 24 * 3600 * 1000;
/** Longest wait between two attempts. */
export const BACKOFF_CAP_MS = 3600 * 1000;
/** How often (at most, over every process) the stream is trimmed to the retention window. */
export const TRIM_EVERY_MS = 60_000;
/** Queue name of the deliveries. */
const QUEUE = "webhooks";
/** How long stop() waits for one BullMQ close (beyond a delivery's own timeout) before it goes on without it. */
const STOP_STEP_MS = 5_000;

/** The wait after the `attempt`-th failed attempt: base × 2^(attempt-1), at most BACKOFF_CAP_MS. */
export const backoffDelay = (baseMs: number, attempt: number) =>
  Math.min(BACKOFF_CAP_MS, baseMs * 2 ** Math.min(40, Math.max(0, attempt - 1)));

/** Attempts such that the waits between them add up to at least RETRY_SPAN_MS. */
export function attemptsFor(baseMs: number): number {
  let total = 0;
  let attempts = 1;
  while (total < RETRY_SPAN_MS) total += backoffDelay(baseMs, attempts++);
  return attempts;
}

/**
 * Moves the cursor from ARGV[1] to ARGV[2] (fails, returning nil, if another process moved it) and records each
 * delivery: the endpoint's next sequence number, the body (ARGV prefix .. sequence .. suffix) and an outbox entry.
 * KEYS: 1 cursor, 2 outbox, then per delivery: the endpoint's hash, the delivery's body (every key named by the
 * caller, all under the webhooks' hash tag: one slot on a cluster). ARGV: 1 expected cursor ("" none), 2 new
 * cursor, 3 body TTL s, 4 now ms, then per delivery: endpoint id, event id, body prefix, body suffix.
 * Returns [endpoint, event, sequence, ...].
 */
const FANOUT_SCRIPT = `
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return nil end
redis.call('SET', KEYS[1], ARGV[2])
local out = {}
for d = 0, (#ARGV - 4) / 4 - 1 do
  local i = 5 + 4 * d
  local ep, ev = ARGV[i], ARGV[i + 1]
  local epKey, dlKey = KEYS[3 + 2 * d], KEYS[4 + 2 * d]
  if redis.call('EXISTS', epKey) == 1 then
    local seq = redis.call('HINCRBY', epKey, 'seq', 1)
    redis.call('SET', dlKey, ARGV[i + 2] .. seq .. ARGV[i + 3], 'EX', ARGV[3])
    redis.call('ZADD', KEYS[2], ARGV[4], ep .. '|' .. ev)
    out[#out + 1] = ep
    out[#out + 1] = ev
    out[#out + 1] = seq
  end
end
return out`;

type JobData = { ep: string; ev: string; type: string; seq: number };

export type WebhookMetrics = { deliveries: Counter<"outcome">; latency: Histogram };

function metricsOf(common: Pick<Common, "metrics">): WebhookMetrics {
  const registry = common.metrics.registry;
  return {
    deliveries:
      (registry.getSingleMetric("relayer_webhook_deliveries_total") as Counter<"outcome"> | undefined) ??
      new Counter({
        name: "relayer_webhook_deliveries_total",
        help: "Webhook delivery attempts by outcome (delivered, failed)",
        labelNames: ["outcome"] as const,
        registers: [registry],
      }),
    latency:
      (registry.getSingleMetric("relayer_webhook_delivery_seconds") as Histogram | undefined) ??
      new Histogram({
        name: "relayer_webhook_delivery_seconds",
        help: "Duration of one webhook request",
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
  };
}

/** The webhooks' Redis base for a store's key prefix (a hash tag of its own: a rebuild's clear() leaves it). */
export const webhooksBase = (storeKeyPrefix: string) => storeKeyPrefix.replace(/\}:$/, ":wh}:");

export type Webhooks = {
  /** What createApi takes: `events` and `webhooks`. */
  api: { events: EventsApi; webhooks: WebhooksApi };
  endpoints: Endpoints;
  reader: EventReader;
  tail: Tail;
  /** Queues a delivery again (same body, id and sequence); false when its body expired or never existed. */
  redeliver(endpointId: string, eventId: string): Promise<boolean>;
  /** Fans out what the stream holds now (tests; the dispatcher also runs by itself). */
  dispatch(): Promise<void>;
  stop(): Promise<void>;
  /** Deletes every webhook key (endpoints, deliveries, the queue): a test's or a benchmark's clean-up, after stop(). */
  clear(): Promise<void>;
};

/**
 * Starts the event tail, the retention trim, the dispatcher and the delivery worker over the store's event stream;
 * returns them with the API's handler dependencies (`api.events`, `api.webhooks` for createApi).
 */
export function startWebhooks({
  common,
  redis,
  store,
  chainId,
  dispatch: dispatching = true,
  heartbeatMs,
}: {
  common: Common;
  redis: Redis;
  store: Pick<Store, "key" | "keyPrefix">;
  chainId: number;
  /** Run the dispatcher and worker (off: only the tail, the trim and the API's parts). */
  dispatch?: boolean;
  /** SSE heartbeat period (tests shorten it). */
  heartbeatMs?: number;
}): Webhooks {
  const base = webhooksBase(store.keyPrefix);
  const streamKey = store.key("events");
  // Under the store's `w:` names: a projection dump leaves them out.
  const trimmedKey = store.key("w:events:trimmed");
  const trimGuardKey = store.key("w:events:trim");
  const { options } = common;
  const logger = common.logger.child({ module: "webhooks" });
  const metrics = metricsOf(common);
  const endpoints = createEndpoints({ redis, base });
  const reader = createEventReader({ redis, streamKey, trimmedKey, chainId });
  const tail = startTail({ redis, streamKey, logger });
  const retentionMs = options.eventsRetentionDays * 24 * 3600 * 1000;
  const bodyTtlSeconds = Math.ceil(retentionMs / 1000);
  const backoffMs = options.webhookBackoffMs;
  const attempts = attemptsFor(backoffMs);
  const prefix = `${base}bull`;
  // BullMQ's keys are `${prefix}:webhooks:…`: the prefix carries the webhooks' `{…:wh}` tag, so a cluster keeps
  // the queue in one slot. On a cluster BullMQ gets a Cluster client of its own (closed in clear()/stop()).
  const { connection, close: closeBull } = bullConnection(redis);
  const queue = new Queue<JobData>(QUEUE, { connection, prefix });
  queue.on("error", (error) => logger.warn({ msg: "webhook queue error", err: error.message }));
  const deadline = <T>(p: Promise<T>, what: string) => withDeadline(p, REDIS_TIMEOUT_MS, what);
  let stopped = false;

  const jobOpts = (jobId: string) => ({
    jobId,
    attempts,
    backoff: { type: "webhook" },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  });
  const jobIdOf = (ep: string, ev: string) => `${ep}_${ev}`;

  async function enqueue(items: JobData[]): Promise<void> {
    if (items.length === 0) return;
    // Past the deadline the entries stay in the outbox: the sweep queues them again (same job ids: no doubles).
    await deadline(
      queue.addBulk(items.map((d) => ({ name: "deliver", data: d, opts: jobOpts(jobIdOf(d.ep, d.ev)) }))),
      "webhook queue",
    );
    await deadline(redis.zrem(endpoints.key("outbox"), ...items.map((d) => `${d.ep}|${d.ev}`)), "webhook outbox");
  }

  const bodyParts = (event: PublicEvent, ep: string, createdAt: string): [string, string] => [
    `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},"sequence":`,
    `,"endpointId":${JSON.stringify(ep)},"createdAt":${JSON.stringify(createdAt)},"data":${JSON.stringify(event)}}`,
  ];

  /** One fan-out round; true when it moved the cursor (there may be more). */
  async function fanOutOnce(): Promise<boolean> {
    const cursorKey = endpoints.key("cursor");
    let cursor = await deadline(redis.get(cursorKey), "webhook cursor");
    if (cursor === null) {
      // First start: deliver what happens from now on.
      await deadline(redis.set(cursorKey, (await reader.lastId()) ?? "0-0", "NX"), "webhook cursor");
      cursor = await deadline(redis.get(cursorKey), "webhook cursor");
    }
    const position = cursor === null ? undefined : parseCursor(cursor);
    const page = await reader.page(position, FANOUT_BATCH);
    if (page.events.length === 0 || page.next === undefined) return false;
    const targets = (await endpoints.all()).map((e) => {
      const m = typeMatcher(e.types);
      return { id: e.id, owner: e.owner, match: "match" in m ? m.match : () => false };
    });
    // An order event goes only to endpoints of its platform's or acceptor's owner. Filtered here, before the
    // script numbers the deliveries: an endpoint's sequence counts only what it is sent, without gaps.
    const receives = (t: (typeof targets)[number], event: PublicEvent) =>
      t.match(event.type) &&
      (!isOrderEvent(event) || orderEventForOwner(event, t.owner)) &&
      // A dispute event goes only to endpoints of the deal's gateway.
      (!isDisputeEvent(event) || disputeEventVisibleTo(event, { owner: t.owner }));
    const createdAt = new Date().toISOString();
    const args: string[] = [];
    const deliveryKeys: string[] = [];
    const types = new Map<string, string>();
    for (const event of page.events) {
      types.set(event.id, event.type);
      for (const t of targets) {
        if (!receives(t, event)) continue;
        deliveryKeys.push(endpoints.key(`ep:${t.id}`), endpoints.key(`dl:${t.id}:${event.id}`));
        args.push(t.id, event.id, ...bodyParts(event, t.id, createdAt));
      }
    }
    const result = (await deadline(
      redis.eval(
        FANOUT_SCRIPT,
        2 + deliveryKeys.length,
        cursorKey,
        endpoints.key("outbox"),
        ...deliveryKeys,
        cursor ?? "",
        page.next,
        bodyTtlSeconds,
        Date.now(),
        ...args,
      ),
      "webhook fan-out",
    )) as (string | number)[] | null;
    if (result === null) return true; // another process moved the cursor: read again from where it put it
    const items: JobData[] = [];
    for (let i = 0; i < result.length; i += 3) {
      const ev = String(result[i + 1]);
      items.push({ ep: String(result[i]), ev, type: types.get(ev)!, seq: Number(result[i + 2]) });
    }
    await enqueue(items);
    return true;
  }

  /** Queues outbox entries whose process did not (it died between recording and queueing). */
  async function sweepOutbox(): Promise<void> {
    const stale = await deadline(
      redis.zrangebyscore(endpoints.key("outbox"), "-inf", Date.now() - OUTBOX_STALE_MS, "LIMIT", 0, 500),
      "webhook outbox",
    );
    const items: JobData[] = [];
    for (const member of stale) {
      const [ep, ev] = member.split("|");
      const body = await endpoints.body(ep, ev);
      if (!body) {
        await deadline(redis.zrem(endpoints.key("outbox"), member), "webhook outbox");
        continue;
      }
      const { type, sequence } = JSON.parse(body) as { type: string; sequence: number };
      items.push({ ep, ev, type, seq: sequence });
    }
    await enqueue(items);
  }

  let pumping: Promise<void> | undefined;
  let again = false;
  /** Fans out until the stream is drained; concurrent calls coalesce into one more round. */
  function pump(): Promise<void> {
    if (pumping) {
      again = true;
      return pumping;
    }
    pumping = (async () => {
      do {
        again = false;
        try {
          while (!stopped && (await fanOutOnce()));
        } catch (error) {
          if (!stopped) logger.warn({ msg: "webhook fan-out failed; retrying", err: (error as Error).message });
        }
      } while (again && !stopped);
    })().finally(() => {
      pumping = undefined;
    });
    return pumping;
  }

  const inFlight = new Map<string, number>();
  async function deliver(job: Job<JobData>, token?: string): Promise<void> {
    const { ep, ev, type, seq } = job.data;
    const target = await endpoints.secretsOf(ep);
    if (!target) return; // endpoint deleted: nothing to deliver
    const body = await endpoints.body(ep, ev);
    if (!body) return; // past retention
    const busy = inFlight.get(ep) ?? 0;
    if (busy >= ENDPOINT_CONCURRENCY) {
      await job.moveToDelayed(Date.now() + ENDPOINT_BUSY_DELAY_MS, token);
      throw new DelayedError();
    }
    inFlight.set(ep, busy + 1);
    let outcome;
    try {
      outcome = await postWebhook({
        url: target.url,
        body,
        secrets: target.secrets,
        eventId: ev,
        eventType: type,
        timeoutMs: options.webhookTimeoutMs,
        allowPrivate: options.webhookAllowPrivate,
      });
    } finally {
      const left = (inFlight.get(ep) ?? 1) - 1;
      if (left <= 0) inFlight.delete(ep);
      else inFlight.set(ep, left);
    }
    metrics.deliveries.inc({ outcome: outcome.ok ? "delivered" : "failed" });
    metrics.latency.observe(outcome.durationMs / 1000);
    await endpoints
      .record(ep, {
        deliveryId: ev,
        eventId: ev,
        type,
        sequence: seq,
        attempt: job.attemptsMade + 1,
        outcome: outcome.ok ? "delivered" : "failed",
        ...(outcome.status === undefined ? {} : { status: outcome.status }),
        durationMs: outcome.durationMs,
        ...(outcome.error === undefined ? {} : { error: clipError(outcome.error) }),
        at: new Date().toISOString(),
      })
      .catch((error: Error) => logger.warn({ msg: "webhook delivery log failed", err: error.message }));
    if (!outcome.ok) throw new Error(outcome.error ?? "delivery failed");
  }

  let worker: Worker<JobData> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  const trim = () =>
    trimEvents(redis, { streamKey, guardKey: trimGuardKey, trimmedKey }, retentionMs, TRIM_EVERY_MS).catch(
      (error: Error) => logger.warn({ msg: "event stream trim failed", err: error.message }),
    );
  let lastTrim = 0;
  const tick = () => {
    if (stopped) return;
    void pump();
    void sweepOutbox().catch((error: Error) => logger.warn({ msg: "webhook outbox sweep failed", err: error.message }));
    if (Date.now() - lastTrim >= TRIM_EVERY_MS) {
      lastTrim = Date.now();
      void trim();
    }
  };
  if (dispatching) {
    worker = new Worker<JobData>(QUEUE, deliver, {
      connection,
      prefix,
      concurrency: DELIVERY_CONCURRENCY,
      settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(backoffMs, attemptsMade) },
      drainDelay: 1,
    });
    worker.on("error", (error) => logger.warn({ msg: "webhook worker error", err: error.message }));
    unsubscribe = tail.subscribe(() => void pump());
  }
  timer = setInterval(dispatching ? tick : () => void trim(), DISPATCH_POLL_MS);
  timer.unref();
  if (dispatching) tick();
  else void trim();

  const streams = new Set<Response>();
  async function redeliver(endpointId: string, eventId: string): Promise<boolean> {
    const body = await endpoints.body(endpointId, eventId);
    if (!body) return false;
    const { type, sequence } = JSON.parse(body) as { type: string; sequence: number };
    const n = await deadline(redis.hincrby(endpoints.key(`ep:${endpointId}`), "redeliveries", 1), "webhook");
    await deadline(
      queue.add(
        "deliver",
        { ep: endpointId, ev: eventId, type, seq: sequence },
        jobOpts(`${jobIdOf(endpointId, eventId)}_r${n}`),
      ),
      "webhook redelivery",
    );
    return true;
  }

  return {
    api: {
      events: { reader, tail, streams, heartbeatMs },
      webhooks: {
        endpoints,
        redeliver,
        graceMs: options.webhookSecretGraceHours * 3600 * 1000,
        allowPrivate: options.webhookAllowPrivate,
      },
    },
    endpoints,
    reader,
    tail,
    redeliver,
    dispatch: () => pump(),
    async clear() {
      const pattern = `${base.replace(/[{}[\]*?]/g, "\\$&")}*`;
      // Every master of a cluster (SCAN walks one node); the keys share the webhooks' tag: one slot per DEL.
      const keys = await scanAll(redis, pattern, 1000, (p) => deadline(p, "webhook keys"));
      await deadline(deleteKeys(redis, keys), "webhook keys");
    },
    async stop() {
      stopped = true;
      endStreams(streams);
      if (timer) clearInterval(timer);
      timer = undefined;
      unsubscribe?.();
      // Each step is bounded: a stop must end even when a BullMQ close waits on a connection that never completes
      // (a cluster client stopped while still connecting). A delivery in flight gets its own timeout to finish.
      await settledWithin(pumping, REDIS_TIMEOUT_MS * 2);
      await tail.stop();
      if (!(await settledWithin(worker?.close(), options.webhookTimeoutMs + STOP_STEP_MS))) {
        logger.warn({ msg: "webhook worker did not close in time; closing it without waiting for deliveries" });
        void worker!.close(true).catch(() => undefined);
      }
      if (!(await settledWithin(queue.close(), STOP_STEP_MS)))
        logger.warn({ msg: "webhook queue did not close in time" });
      await closeBull();
    },
  };
}
