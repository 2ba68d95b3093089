/**
 * The composition root: the only place where the relayer's parts are wired together.
 *
 *   npm run relayer [-- --option value ...]     (see --help, or relayer/README.md; relayer/launch.js builds, then calls main)
 */
import fs from "node:fs";
import os from "node:os";
import { randomBytes } from "node:crypto";
import { Wallet, id } from "ethers";
import { createCommon, type Common } from "./common";
import { indexedContracts, readDeployment } from "./deployment";
import { NamespaceTaken, OptionsError } from "./errors";
import { helpText, parseProcessOptions, parseProcessOptionsOf } from "./options";
import { redactText, redactUrl } from "./redact";
import { createChain } from "./chain/chain";
import { createStore, type Store } from "./store/store";
import { chainsKey, createChains, registerChain } from "./chains";
import { createIndexer } from "./indexer/indexer";
import { createApi } from "./api/app";
import { createReportSource } from "./api/reports";
import { createFinalCache } from "./api/final-cache";
import { createTokenMonitor } from "./tokens/monitor";
import { startServer } from "./api/server";
import { createKeyStore, keysBase } from "./auth/keys";
import { authenticate, idempotency, rateLimit, securityHeaders } from "./auth/http";
import { createGasBudget } from "./auth/budget";
import { KEYS_OPTIONS, runKeysCommand } from "./auth/cli";
import { checkSignature } from "./signatures/check";
import { safeInfo, safeMessageTypedData } from "./signatures/safe";
import { createSubmitter, submitterOptionsOf } from "./submitter/submitter";
import { createWriteService } from "./write/service";
import { decodeError } from "./write/calls";
import { planCalls } from "./write/planner";
import type { WriteApi } from "./api/write";
import { REDIS_TIMEOUT_MS } from "./deadline";
import { createRedis, deleteKeys, describeRedis, scanAll } from "./redis";
import { superviseProcess } from "./process";
import {
  createAvailability,
  isRedisTimeout,
  judgeReadiness,
  READY_DEADLINE_MS,
  timeoutWarning,
  unavailableReason,
} from "./api/availability";
import { REBUILD_OPTIONS, runRebuildCommand } from "./ops/rebuild";
import { startWebhooks } from "./events/webhooks";
import { createDesk } from "./orders/desk";
import { createReservations } from "./orders/reservations";
import { createDenyList, createScreening } from "./orders/screening";
import { createMatcher } from "./orders/matcher";
import { createOrders } from "./orders/service";
import { createEvidenceService, type EvidenceService } from "./disputes/evidence";
import { createFsEvidenceStore, createS3EvidenceStore } from "./disputes/evidence-store";
import { createMessages } from "./disputes/messages";
import { createGatewayDesk } from "./disputes/gateway";
import { createKeeper, type Keeper } from "./disputes/keeper";

/** `resolutionWindow()` of the escrow (an immutable read once at start). */
const RESOLUTION_WINDOW_CALL = id("resolutionWindow()").slice(0, 10);

/** Starts every part; returns the running relayer (used by tests and benchmarks in-process). */
export async function startRelayer(common: Common) {
  const { options, logger } = common;
  const deployment = readDeployment(options.deployment);
  const chain = createChain({ common, rpcUrl: options.rpcUrl });
  common.onShutdown("chain", () => chain.close());
  const chainId = await chain.chainId();
  if (chainId !== deployment.chainId) {
    throw new OptionsError(
      `RPC_URL serves chain ${chainId} but ${options.deployment} is for chain ${deployment.chainId}`,
    );
  }

  // Every command has a deadline (a hung Redis fails requests with a 503 instead of holding them); commands issued
  // while reconnecting wait in the offline queue under the same deadline, so a short reconnect goes unnoticed.
  // Blocking commands need a connection of their own (duplicateClient() with a longer timeout). A single node, a
  // Redis Cluster or Sentinel, as the options say (relayer/src/redis.ts).
  const redis = createRedis(
    options,
    {
      maxRetriesPerRequest: 2,
      enableAutoPipelining: true,
      lazyConnect: false,
      commandTimeout: REDIS_TIMEOUT_MS,
      enableOfflineQueue: true,
      connectTimeout: REDIS_TIMEOUT_MS,
    },
    "relayer",
  );
  redis.on("error", (error) => logger.warn({ msg: "redis error", err: error.message }));
  common.onShutdown("redis", async () => {
    await redis.quit().catch(() => redis.disconnect());
  });

  const { sources, deploymentBlock } = indexedContracts(deployment);
  const { escrow } = sources;
  const windowWord = await chain.call(escrow, RESOLUTION_WINDOW_CALL);
  if (windowWord === undefined || !/^0x[0-9a-f]{64}$/.test(windowWord) || BigInt(windowWord) >> 32n !== 0n) {
    throw new OptionsError(`${options.deployment}: the Escrow at ${escrow} does not answer resolutionWindow()`);
  }
  const resolutionWindow = Number(BigInt(windowWord));
  const store = createStore({ common, redis, chainId, escrow });
  /**
   * The time the escrow judges expiries and windows by: the indexed chain's (the projection records each indexed
   * block's time), never before the wall clock — a test chain, or a skewed host clock, may run ahead of it.
   */
  const chainNow = async () => Math.max(Math.floor(Date.now() / 1000), (await store.getMeta()).time ?? 0);
  await claimKeys(store, logger);
  const indexer = createIndexer({
    common,
    chain,
    store,
    sources,
    deploymentBlock,
    holder: `${os.hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`,
  });

  // After a restart on an idle chain no commit sets the gauges: they start from the checkpoint.
  const startMeta = await store.getMeta().catch(() => undefined);
  if (startMeta?.block !== undefined) common.metrics.indexedBlock.set(startMeta.block);
  if (startMeta?.head !== undefined) common.metrics.headBlock.set(startMeta.head);

  const availability = createAvailability({ store, metrics: common.metrics, logger });
  const owner = `${chainId}:${escrow.toLowerCase()}`;
  const warnTimeout = timeoutWarning(logger);
  /** Ready: the data is right and recent (api/availability.ts), judged within READY_DEADLINE_MS. */
  const readiness = async () => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${READY_DEADLINE_MS} ms`)), READY_DEADLINE_MS);
    });
    const [state, head] = await Promise.allSettled([
      Promise.race([availability.state(), expired]),
      // One eth_blockNumber per poll interval however many probes ask, one attempt within the deadline.
      Promise.race([chain.probeHead(options.pollIntervalMs, READY_DEADLINE_MS), expired]),
    ]).finally(() => clearTimeout(timer));
    if (state.status === "rejected") {
      const error: unknown = state.reason;
      if (isRedisTimeout(error) || /no answer within/.test(String((error as Error)?.message))) {
        warnTimeout("readiness", error);
      }
    }
    return judgeReadiness({
      state: state.status === "fulfilled" ? state.value : undefined,
      redisError: state.status === "rejected" ? `unreachable: ${(state.reason as Error)?.message}` : undefined,
      owner,
      ownHead: head.status === "fulfilled" ? head.value : undefined,
      maxLagBlocks: options.readyMaxLagBlocks,
      localHalt: indexer.halted(),
    });
  };

  const tokens = createTokenMonitor({ common, chain, store, escrow });
  common.onShutdown("tokens", () => tokens.stop());
  tokens.start();

  const keys = createKeyStore({ redis, base: keysBase(options.redisPrefix) });
  const signerKey = await loadSignerKey(options);
  let headers;
  try {
    headers = securityHeaders({ corsOrigins: options.corsOrigins });
  } catch (error) {
    throw new OptionsError(`CORS_ORIGINS: ${(error as Error).message}`);
  }
  const limit = rateLimit({
    redis,
    base: `${keysBase(options.redisPrefix)}rate:`,
    perMinute: options.rateLimitPerMinute,
    anonymous: options.rateLimitAnonymous,
  });
  const write: WriteApi = {
    authenticate: [authenticate(keys, { requireKeyForReads: options.readsRequireKey }), limit],
    authenticateRead: [authenticate(keys, { requireKeyForReads: options.readsRequireKey, asRead: true }), limit],
    anonymous: [limit],
    beforePost: [idempotency({ redis, base: `${keysBase(options.redisPrefix)}idem:` })],
    headers,
  };
  let submitter: ReturnType<typeof createSubmitter> | undefined;
  /** The orders (relayer/src/orders), made after the write side they use; the write side asks them to screen. */
  let orders: ReturnType<typeof createOrders> | undefined;
  let signer: string | undefined;
  if (signerKey) {
    signer = new Wallet(signerKey).address.toLowerCase();
    const budget = createGasBudget({
      redis,
      base: `${keysBase(options.redisPrefix)}gas:`,
      dailyGas: options.dailyGasPerKey,
    });
    submitter = createSubmitter({
      common,
      chain,
      redis,
      base: `${store.keyPrefix}w:`,
      signerKey,
      escrow,
      confirmations: options.confirmations,
      planner: async (queued) => planCalls(queued),
      budget,
      decodeError,
      options: submitterOptionsOf(options),
    });
    const running = submitter;
    common.onShutdown("submitter", () => running.stop());
    await running.start();
    write.submissions = running;
    write.service = createWriteService({
      chainId,
      escrow,
      chain,
      redis,
      base: store.keyPrefix,
      getDeal: async (dealId) => (await store.getDeal(dealId))?.deal,
      checkSignature: (input) => checkSignature(chain, input),
      safeTypedData: async (address, digest) =>
        (await safeInfo(chain, address)) ? safeMessageTypedData(address, chainId, digest) : undefined,
      submitter: running,
      refs: keys,
      relayer: signer,
      now: chainNow,
      // The orders (created below) screen a deal's user and acceptor again before it pays out.
      beforePayout: (dealId) => orders?.screenPayout(dealId) ?? Promise.resolve(),
    });
    logger.info({ msg: "write side on", signer });
  }

  /* ---- orders and the acceptor desk (relayer/src/orders): orders need the write side ---- */
  const ordersBase = `${store.keyPrefix}w:o:`;
  const desk = createDesk({ redis, base: ordersBase });
  if (write.service) {
    const reservations = createReservations({ redis, base: ordersBase, projectionBase: store.keyPrefix });
    const screening = createScreening({
      chain,
      denyList: createDenyList(options.denyList, (error) =>
        logger.warn({ msg: "deny list unreadable; the last one read stays", err: (error as Error).message }),
      ),
    });
    const matcher = createMatcher({
      desk,
      reservations,
      store,
      screening,
      options: { acceptorHeartbeatMs: options.acceptorHeartbeatMs },
    });
    orders = createOrders({
      common,
      redis,
      store,
      chain,
      write: write.service,
      submitter,
      keys,
      matcher,
      desk,
      reservations,
      screening,
      chainId,
      escrow,
      delegateKey: options.lockDelegateKey,
    });
    const running = orders;
    running.start();
    common.onShutdown("orders", () => running.stop());
  }
  /* ---- end of orders ---- */

  /* ---- disputes: evidence (relayer/src/disputes/evidence.ts): needs the write side ---- */
  let evidence: EvidenceService | undefined;
  if (write.service && submitter && signer) {
    // The bucket's keys go to the store only: never logged (the log names the bucket without credentials).
    const files =
      options.evidenceS3Url !== undefined
        ? createS3EvidenceStore({
            url: options.evidenceS3Url,
            region: options.evidenceS3Region,
            accessKey: options.evidenceS3AccessKey ?? "",
            secretKey: options.evidenceS3SecretKey ?? "",
          })
        : createFsEvidenceStore(options.evidenceDir);
    evidence = createEvidenceService({
      chainId,
      escrow,
      registry: sources.registry,
      chain,
      redis,
      base: `${store.keyPrefix}w:d:ev:`,
      getDeal: (dealId) => store.getDeal(dealId),
      checkSignature: (input) => checkSignature(chain, input),
      submitter,
      refs: keys,
      files,
      relayer: signer,
      maxBytes: options.evidenceMaxBytes,
      now: chainNow,
    });
    logger.info({
      msg: "evidence on",
      store: options.evidenceS3Url !== undefined ? `s3 ${redactUrl(options.evidenceS3Url)}` : options.evidenceDir,
    });
  }
  /* ---- end of evidence ---- */
  /* ---- disputes: per-order messages (relayer/src/disputes/messages.ts): needs the orders ---- */
  const ordersStore = orders?.orders;
  const messages = ordersStore
    ? createMessages({
        redis,
        store,
        getOrder: async (orderId) => (await ordersStore.get(orderId))?.order,
        checkSignature: (input) => checkSignature(chain, input),
        chainId,
        escrow,
        maxChars: options.messageMaxChars,
        signerKey,
      })
    : undefined;
  /* ---- disputes: the gateway's desk (relayer/src/disputes/gateway.ts): queue, rulings, window alert ---- */
  const gatewayDesk = createGatewayDesk({
    common,
    redis,
    store,
    chain,
    chainId,
    escrow,
    registry: sources.registry,
    resolutionWindow,
    write: write.service,
    refs: keys,
    now: chainNow,
  });
  gatewayDesk.start();
  common.onShutdown("gateway-desk", () => gatewayDesk.stop());
  /* ---- disputes: the keeper (relayer/src/disputes/keeper.ts): sends due refunds and actions signed in advance ---- */
  let keeper: Keeper | undefined;
  if (options.keeper && write.service && submitter && signer) {
    keeper = createKeeper({
      common,
      redis,
      store,
      chain,
      submitter,
      write: write.service,
      escrow,
      relayer: signer,
      resolutionWindow,
      now: chainNow,
      intervalMs: options.keeperIntervalMs,
    });
    const running = keeper;
    // The checkout holds a paid buy order's escalation (the user's dispute signed in advance) with the keeper.
    orders?.useScheduler(running.api);
    running.start();
    common.onShutdown("keeper", () => running.stop());
  }
  /* ---- end ---- */

  // A projection reset (rebuild, deep reorg) empties it: createApi registers finalCache.clear() with availability.
  const finalCache = createFinalCache(options.finalCacheEntries);
  /* ---- events, replay and webhooks (relayer/src/events): started before the API, stopped before it closes ---- */
  const webhooks = startWebhooks({ common, redis, store, chainId });
  /* ---- end of events, replay and webhooks ---- */

  /* ---- several chains (chains.ts): one relayer per chain on one Redis; the API serves every chain registered ---- */
  const ownChain = {
    entry: {
      chainId,
      escrow: escrow.toLowerCase(),
      registry: sources.registry.toLowerCase(),
      keyPrefix: store.keyPrefix,
      deploymentBlock,
      resolutionWindow,
      confirmations: options.confirmations,
    },
    store,
    availability,
    own: true,
  };
  await registerChain(redis, options.redisPrefix, ownChain.entry);
  const chains = createChains({ common, redis, own: ownChain });

  const app = createApi({
    common,
    store,
    chains,
    readiness,
    resolutionWindow,
    tokens: tokens.snapshot,
    write,
    availability,
    finalCache,
    ...webhooks.api,
    reports: createReportSource({ redis, store }),
    desk,
    orders: orders?.api,
    evidence,
    messages,
    gatewayDesk,
    scheduled: keeper?.api,
  });
  const server = await startServer(app, options.port, options.host).catch(async (error: unknown) => {
    await webhooks.stop();
    throw error;
  });
  common.onShutdown("http", () => server.close());
  // Registered after "http", so it runs first on shutdown: open SSE streams end and the server can close.
  common.onShutdown("webhooks", () => webhooks.stop());
  logger.info({
    msg: "api listening",
    port: server.port,
    host: options.host,
    chainId,
    escrow,
    // Which endpoints, never their keys or passwords.
    rpc: redactUrl(options.rpcUrl),
    redis: describeRedis(options),
  });

  if (options.indexer) {
    common.onShutdown("indexer", () => indexer.stop());
    void indexer.start();
  }
  /** Stops the writers and deletes every key this relayer wrote under its prefix (demo and tests clean up so). */
  const clear = async () => {
    await keeper?.stop();
    await orders?.stop();
    await gatewayDesk.stop();
    await submitter?.stop();
    await webhooks.stop();
    await webhooks.clear();
    await store.clear();
    // This chain's entry in the registry of chains (only its own: another relayer's entry is never deleted).
    await redis.hdel(chainsKey(options.redisPrefix), String(chainId));
    // API keys, rate limits, idempotency records and gas budgets live under the prefix's {keys} tag.
    const pattern = `${keysBase(options.redisPrefix).replace(/[{}[\]*?\\]/g, "\\$&")}*`;
    // Every master of a cluster (SCAN walks one node); the keys share the {keys} tag: one slot per DEL.
    await deleteKeys(redis, await scanAll(redis, pattern, 500));
  };
  /**
   * Resolves once the projection may be served (its first backfill done; not halted or rebuilt), for in-process
   * callers (demo, tests) whose first request must not meet a 503 `projection-unavailable`.
   */
  const untilServing = async (timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await availability.fresh().catch(() => undefined);
      if (state && unavailableReason(state.meta) === undefined) return;
      if (Date.now() > deadline) throw new Error(`the projection was not available within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return {
    port: server.port,
    store,
    indexer,
    chainId,
    redis,
    availability,
    tokens,
    resolutionWindow,
    keys,
    submitter,
    signer,
    webhooks,
    orders,
    desk,
    gatewayDesk,
    keeper,
    clear,
    untilServing,
  };
}

/**
 * The relayer's signer key: RELAYER_KEY, or the keystore file RELAYER_KEYSTORE decrypted with
 * RELAYER_KEYSTORE_PASSWORD; none when neither is set (the write API is off). Never logged.
 */
async function loadSignerKey(options: Common["options"]): Promise<string | undefined> {
  if (options.relayerKey) return options.relayerKey;
  if (!options.relayerKeystore) return undefined;
  let json: string;
  try {
    json = fs.readFileSync(options.relayerKeystore, "utf8");
  } catch (error) {
    throw new OptionsError(`RELAYER_KEYSTORE: cannot read ${options.relayerKeystore}: ${(error as Error).message}`);
  }
  try {
    return (await Wallet.fromEncryptedJson(json, options.relayerKeystorePassword ?? "")).privateKey;
  } catch {
    throw new OptionsError("RELAYER_KEYSTORE: the keystore could not be decrypted with RELAYER_KEYSTORE_PASSWORD");
  }
}

/** Claims the store's keys for this escrow, waiting for Redis if it does not answer yet. */
async function claimKeys(store: Store, logger: Common["logger"]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.claim();
    } catch (error) {
      if (error instanceof NamespaceTaken) throw error;
      logger.warn({ msg: "waiting for redis", attempt, err: (error as Error).message });
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * attempt)));
    }
  }
}

/** Runs the relayer as a process: `argv` holds its options (or `--help`); a usage error exits with 2. */
export async function main(argv: string[] = process.argv.slice(2)) {
  if (argv[0] === "keys") {
    try {
      process.exitCode = await runKeysCommand(argv.slice(1), parseProcessOptionsOf(KEYS_OPTIONS));
    } catch (error) {
      if (!(error instanceof OptionsError)) throw error;
      console.error(`relayer keys: ${redactText(error.message)}`);
      process.exitCode = 2;
    }
    return;
  }
  if (argv[0] === "rebuild") {
    try {
      process.exitCode = await runRebuildCommand(argv.slice(1), parseProcessOptionsOf(REBUILD_OPTIONS));
    } catch (error) {
      if (!(error instanceof OptionsError)) throw error;
      console.error(`relayer rebuild: ${error.message}`);
      process.exitCode = 2;
    }
    return;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(helpText());
    return;
  }
  let common: Common;
  try {
    common = createCommon(parseProcessOptions(argv));
  } catch (error) {
    if (error instanceof OptionsError) {
      // A usage error may quote an argument: a URL there may carry a password or an API key.
      console.error(`relayer: ${redactText(error.message)}\n\n${helpText()}`);
      process.exit(2);
    }
    throw error;
  }
  // Signals, and errors nothing awaited: one redacted line, a bounded shutdown, an exit code (relayer/src/process.ts).
  const supervisor = superviseProcess(common);
  try {
    await startRelayer(common);
  } catch (error) {
    common.logger.fatal({ msg: "relayer failed to start", err: error instanceof OptionsError ? error.message : error });
    await supervisor.stop(error instanceof OptionsError ? 2 : 1, "start failed");
  }
}

if (require.main === module) void main();
