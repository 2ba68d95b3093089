/**
 * `npm run relayer -- rebuild`: the operator's way out of a halted indexer (a reorg deeper than the confirmations
 * kept) or a projection that must be re-derived from the chain.
 *
 *  1. takes the indexer lease whoever holds it, with a new fencing token (a running indexer's next commit or renewal
 *     is refused; it steps back and competes for the lease again afterwards);
 *  2. marks meta `rebuilding`: from then on every replica's data routes answer 503 `projection-unavailable`;
 *  3. deletes the projection keys of this chain and escrow: deals, histories, indexes, gateways, acceptors, undo
 *     logs, block hashes, the event stream, the heartbeat and the halt — not the lease, not the write side's `w:` keys
 *     (submissions, which no event rebuilds), not the API keys (kept under their own prefix);
 *  4. releases the lease. A running indexer then backfills from the deployment block; meta's `rebuilding` mark is
 *     cleared when the backfill reaches the finalized block, and the data routes answer again.
 *
 * Needs only REDIS_URL, REDIS_PREFIX and DEPLOYMENT (chain id and escrow address name the keys). Exit codes: 0 done,
 * 1 failed (Redis unreachable, keys owned by another escrow, lease lost meanwhile), 2 usage error. The Redis URL
 * (it may hold a password) is never printed.
 */
import os from "node:os";
import { createRedis, redisWhere } from "../redis";
import pino from "pino";
import { NamespaceTaken, OptionsError } from "../errors";
import { REDIS_TIMEOUT_MS } from "../deadline";
import { indexedContracts, readDeployment } from "../deployment";
import type { Options } from "../options";
import { createStore } from "../store/store";

export type RebuildOptions = Pick<Options, "redisUrl" | "redisPrefix" | "deployment" | "leaseTtlMs"> &
  Partial<Pick<Options, "redisCluster" | "redisSentinels" | "redisSentinelName">>;
export type RebuildIo = { out: (line: string) => void; err: (line: string) => void };

/** The options the rebuild uses (RPC_URL is not needed: the indexers read the chain). */
export const REBUILD_OPTIONS = [
  "redisUrl",
  "redisCluster",
  "redisSentinels",
  "redisSentinelName",
  "redisPrefix",
  "deployment",
  "leaseTtlMs",
] as const;

/**
 * How long the rebuild holds the lease at most: its deletions run well within it, and if the command dies the
 * indexers take the lease back when it expires.
 */
const REBUILD_LEASE_MS = 60_000;

export const REBUILD_USAGE = [
  "usage: npm run relayer -- rebuild",
  "Deletes this escrow's projection from Redis (not the write side's submissions, not API keys) so that the",
  "running indexer rebuilds it from the deployment block; the data routes answer 503 until it is done.",
  "Redis and the escrow come from REDIS_URL, REDIS_PREFIX and DEPLOYMENT.",
].join("\n");

/** Runs the rebuild (`argv` after "rebuild"); returns the process's exit code. */
export async function runRebuildCommand(
  argv: string[],
  options: RebuildOptions,
  io: RebuildIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(REBUILD_USAGE);
    return 0;
  }
  if (argv.length > 0) {
    io.err(`rebuild: unexpected argument ${argv[0]}\n\n${REBUILD_USAGE}`);
    return 2;
  }
  let deployment;
  try {
    deployment = readDeployment(options.deployment);
  } catch (error) {
    io.err(`rebuild: ${(error as Error).message}\n\n${REBUILD_USAGE}`);
    return 2;
  }
  const escrow = deployment.contracts.Escrow.address;
  const { deploymentBlock } = indexedContracts(deployment);

  const redis = createRedis(
    options,
    {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: REDIS_TIMEOUT_MS,
      commandTimeout: REDIS_TIMEOUT_MS * 5,
      retryStrategy: () => null,
    },
    "rebuild",
  );
  redis.on("error", () => undefined);
  try {
    try {
      await redis.connect();
    } catch {
      io.err(`rebuild: cannot reach Redis at ${redisWhere(options)}`);
      return 1;
    }
    const logger = pino({ level: "silent" });
    const store = createStore({
      common: { options: options as Options, logger },
      redis,
      chainId: deployment.chainId,
      escrow,
    });
    const before = await store.projectionState();
    if (before.meta.owner !== undefined) await store.claim(); // refuses another escrow's keys

    const holder = `rebuild:${os.hostname()}:${process.pid}`;
    const previous = await store.leaseHolder();
    const lease = await store.seizeLease(holder, Math.max(REBUILD_LEASE_MS, options.leaseTtlMs));
    io.out(`took the indexer lease (${lease})${previous ? `, fencing out ${previous}` : ""}`);
    const deleted = await store.resetProjection(lease);
    if (deleted === "LEASE") {
      io.err("rebuild: another process took the indexer lease meanwhile; nothing is left half-done — run it again");
      return 1;
    }
    await store.releaseLease(lease);
    io.out(`deleted ${deleted} keys under ${store.keyPrefix} (kept the write side's w: keys and the API keys)`);
    if (before.meta.halted !== undefined) io.out(`cleared the halt: ${before.meta.halted}`);
    io.out(`meta is marked rebuilding; the data routes answer 503 projection-unavailable until the backfill is done`);
    io.out(
      before.leaderHead === undefined
        ? `no indexer heartbeat: start the relayer (npm run relayer) to backfill from block ${deploymentBlock}`
        : `the running indexer backfills from block ${deploymentBlock}; watch GET /v1/ready`,
    );
    return 0;
  } catch (error) {
    if (error instanceof OptionsError) {
      io.err(`rebuild: ${error.message}\n\n${REBUILD_USAGE}`);
      return 2;
    }
    if (error instanceof NamespaceTaken) {
      io.err(`rebuild: ${error.message}`);
      return 1;
    }
    io.err(`rebuild: failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
