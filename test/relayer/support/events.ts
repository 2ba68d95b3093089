/**
 * Fixtures of the events and webhooks tests: a store under a fresh prefix in the real Redis, written through its
 * real commit and rollback (under the indexer lease, as the indexer does), the webhooks started over it, the API
 * with real API keys served on a free port, and a webhook receiver (node http on 127.0.0.1) that can answer 503.
 */
import { deleteKeys } from "../../../relayer/src/redis";
import { keysOf, testRedis, type RedisClient } from "../../support/redis";
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import request from "supertest";
import type { ProtocolEvent } from "../../../protocol";
import { createApi } from "../../../relayer/src/api/app";
import { startServer, type RunningServer } from "../../../relayer/src/api/server";
import type { WriteApi } from "../../../relayer/src/api/write";
import { authenticate, rateLimit } from "../../../relayer/src/auth/http";
import { createKeyStore, keysBase, type KeyStore, type Scope } from "../../../relayer/src/auth/keys";
import { createCommon, type Common } from "../../../relayer/src/common";
import { startWebhooks, webhooksBase, type Webhooks } from "../../../relayer/src/events/webhooks";
import { parseOptions } from "../../../relayer/src/options";
import { createStore, type Store } from "../../../relayer/src/store/store";
import { at } from "./domain";

export const CHAIN_ID = 31337;
export const ESCROW = "0x" + "e7".repeat(20);

export type EventsFixture = {
  prefix: string;
  redis: RedisClient;
  common: Common;
  store: Store;
  keys: KeyStore;
  webhooks: Webhooks;
  server: RunningServer;
  http: ReturnType<typeof request>;
  /** A new API key of `scope` for `owner`; returns its secret. */
  key(scope: Scope, owner?: string): Promise<string>;
  /** Commits `events` as the next block (undoable: followed, pending) and prunes `prune`; returns the block. */
  commit(events: ProtocolEvent[], opts?: { undoable?: boolean; prune?: number[] }): Promise<number>;
  /** Rolls back to block `to`. */
  rollback(to: number): Promise<number>;
  close(): Promise<void>;
};

/** Starts the fixture; `env` adds options (WEBHOOK_ALLOW_PRIVATE is on unless given). */
export async function startEventsFixture(
  name: string,
  env: Record<string, string> = {},
  opts: { heartbeatMs?: number; dispatch?: boolean } = {},
): Promise<EventsFixture> {
  const prefix = `test-events-${name}-${randomBytes(6).toString("hex")}`;
  const redis = testRedis({ lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 5_000 });
  await redis.connect();
  const common = createCommon(
    parseOptions({
      RPC_URL: "http://127.0.0.1:1",
      DEPLOYMENT: "x",
      REDIS_PREFIX: prefix,
      LOG_LEVEL: "silent",
      WEBHOOK_ALLOW_PRIVATE: "on",
      WEBHOOK_BACKOFF_MS: "50",
      WEBHOOK_TIMEOUT_MS: "2000",
      ...env,
    }),
  );
  const store = createStore({ common, redis, chainId: CHAIN_ID, escrow: ESCROW });
  await store.claim();
  const lease = (await store.lease("events-test", 600_000))!;
  expect(lease).to.be.a("string");
  // A projection built by an earlier backfill (the data-route guard serves nothing before that).
  await redis.hset(store.key("meta"), "built", "1");
  const keys = createKeyStore({ redis, base: keysBase(prefix) });
  const webhooks = startWebhooks({ common, redis, store, chainId: CHAIN_ID, ...opts });
  const write: WriteApi = {
    authenticate: [
      authenticate(keys, { requireKeyForReads: false }),
      rateLimit({ redis, base: `${keysBase(prefix)}rate:`, perMinute: 100_000 }),
    ],
    authenticateRead: [authenticate(keys, { requireKeyForReads: false, asRead: true })],
    beforePost: [],
  };
  const app = createApi({
    common,
    store,
    resolutionWindow: 3 * 24 * 3600,
    readiness: async () => ({ ready: true, checks: {} }),
    metaCacheMs: 0,
    write,
    ...webhooks.api,
  });
  const server = await startServer(app, 0, "127.0.0.1");
  let block = 99;
  let checkpoint: number | undefined;
  let stopped = false;
  return {
    prefix,
    redis,
    common,
    store,
    keys,
    webhooks,
    server,
    http: request(`http://127.0.0.1:${server.port}`),
    async key(scope, owner = `0x${randomBytes(20).toString("hex")}`) {
      return (await keys.create({ scope, owner })).secret;
    },
    async commit(events, { undoable = false, prune = [] } = {}) {
      block++;
      const result = await store.commit({
        leaseValue: lease,
        expectBlock: checkpoint,
        toBlock: block,
        toHash: at(block).blockHash,
        events: events.map((e) => ({ ...e, block, blockHash: at(block).blockHash })),
        undoable,
        blockHashes: [[block, at(block).blockHash]],
        pruneBlocks: prune,
      });
      expect(result).to.equal("OK");
      checkpoint = block;
      return block;
    },
    async rollback(to) {
      const result = await store.rollback(lease, checkpoint!, to, at(to).blockHash);
      expect(result).to.have.property("retracted");
      checkpoint = to;
      block = to;
      return (result as { retracted: number }).retracted;
    },
    async close() {
      if (stopped) return;
      stopped = true;
      await webhooks.stop();
      await server.close();
      for (const pattern of [`${prefix}:*`]) {
        await deleteKeys(redis, await keysOf(redis, pattern));
      }
      expect(await keysOf(redis, `${prefix}:*`)).to.deep.equal([]);
      expect(webhooksBase(store.keyPrefix).startsWith(`${prefix}:`)).to.equal(true);
      await redis.quit();
    },
  };
}

export type Received = { headers: IncomingMessage["headers"]; body: string; at: number; status: number };

/** A webhook receiver on 127.0.0.1: records every request; answers `status` (settable), or hangs when 0. */
export async function startReceiver(initialStatus = 200) {
  const received: Received[] = [];
  let status = initialStatus;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now(), status });
      if (status === 0) return; // hang: the relayer's timeout ends it
      res.writeHead(status).end(status >= 200 && status < 300 ? "ok" : "unavailable");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    /** The bodies answered 2xx, parsed. */
    delivered: () =>
      received
        .filter((r) => r.status >= 200 && r.status < 300)
        .map((r) => ({ ...r, json: JSON.parse(r.body) as WebhookBody })),
    setStatus(s: number) {
      status = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type WebhookBody = {
  id: string;
  type: string;
  sequence: number;
  endpointId: string;
  createdAt: string;
  data: { id: string; type: string; block: number; dealId?: string; [k: string]: unknown };
};

/** Polls `check` until it returns true (at most `ms`). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 20_000,
  what = "condition",
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) expect.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
