/**
 * The one way the relayer connects to Redis: a single node (REDIS_URL), a Redis Cluster (REDIS_CLUSTER) or a master
 * found through Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_NAME). Every part takes a {@link RedisClient}: ioredis'
 * `Cluster` has the same command API as `Redis`; what differs is handled here —
 *
 * - blocking readers need a connection of their own: {@link duplicateClient};
 * - SCAN walks one node: {@link scanAll} walks every master of a cluster;
 * - BullMQ opens its own connections: {@link bullConnection} gives it options (single node, Sentinel) or a
 *   dedicated Cluster client (BullMQ duplicates a Cluster for its blocking reads).
 *
 * On a cluster every Lua script and multi-key command must touch one hash slot: the projection's keys carry the
 * `{chainId:escrow8}` tag, the webhooks' `{chainId:escrow8:wh}`, the API keys' `{keys}` (docs/scale-out.md).
 */
import { Cluster, Redis, type ClusterOptions, type Command, type RedisOptions } from "ioredis";
import { REDIS_TIMEOUT_MS, settledWithin } from "./deadline";
import { OptionsError } from "./errors";
import { redactUrl, redisHostOf } from "./redact";

export type RedisClient = Redis | Cluster;

export type HostPort = { host: string; port: number };

/** The options the factory reads (a subset of Options, so CLIs and tests can pass just these). */
export type RedisTopologyOptions = {
  redisUrl: string;
  redisCluster?: HostPort[];
  redisSentinels?: HostPort[];
  redisSentinelName?: string;
};

export type Topology = "single" | "cluster" | "sentinel";

/** Which topology the options select; both REDIS_CLUSTER and REDIS_SENTINELS → OptionsError. */
export function topologyOf(options: RedisTopologyOptions): Topology {
  const cluster = options.redisCluster !== undefined && options.redisCluster.length > 0;
  const sentinel = options.redisSentinels !== undefined && options.redisSentinels.length > 0;
  if (cluster && sentinel) {
    throw new OptionsError(
      "REDIS_CLUSTER and REDIS_SENTINELS are both set: a Redis Cluster or Sentinel, not both (unset one of them)",
    );
  }
  return cluster ? "cluster" : sentinel ? "sentinel" : "single";
}

/** Where the client connects, for logs: hosts and ports only, never credentials. */
export function describeRedis(options: RedisTopologyOptions): string {
  const list = (nodes: HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(",");
  switch (topologyOf(options)) {
    case "cluster":
      return `cluster ${list(options.redisCluster!)}`;
    case "sentinel":
      return `sentinel ${options.redisSentinelName ?? "mymaster"} via ${list(options.redisSentinels!)}`;
    default:
      return `single ${redactUrl(options.redisUrl)}`;
  }
}

/** Where the client connects, for an error message: `host:port` of REDIS_URL, or the cluster's or sentinels' nodes. */
export function redisWhere(options: RedisTopologyOptions): string {
  return topologyOf(options) === "single" ? redisHostOf(options.redisUrl) : describeRedis(options);
}

/**
 * A Cluster whose every command fails with "Command timed out" once `timeoutMs` have passed since it was first sent,
 * wherever it waits. ioredis' own commandTimeout runs only while a node holds the command: a command waiting in the
 * cluster's offline queue (slots being refreshed, the cluster reconnecting) or between the retries of a CLUSTERDOWN
 * reply has none, and a request reading it waited as long as the cluster was down. (Duplicates — the blocking tail,
 * BullMQ — are plain Clusters with deadlines of their own, or none.)
 */
class DeadlineCluster extends Cluster {
  readonly #timeoutMs: number;
  readonly #armed = new WeakSet<Command>();

  constructor(nodes: HostPort[], options: ClusterOptions, timeoutMs: number) {
    super(nodes, options);
    this.#timeoutMs = timeoutMs;
    // A pipeline (or MULTI) on a cluster whose slots are being refreshed waits for it before sending anything: its
    // exec gets the same deadline.
    const pipeline = this.pipeline.bind(this);
    const multi = this.multi.bind(this);
    this.pipeline = ((...args: Parameters<Cluster["pipeline"]>) =>
      this.#bounded(pipeline(...args))) as Cluster["pipeline"];
    this.multi = ((...args: unknown[]) => {
      const made = (multi as (...args: unknown[]) => unknown)(...args);
      return made instanceof Promise ? made : this.#bounded(made as ReturnType<Cluster["pipeline"]>);
    }) as Cluster["multi"];
  }

  #bounded<P extends ReturnType<Cluster["pipeline"]>>(made: P): P {
    const exec = made.exec.bind(made) as (...args: unknown[]) => ReturnType<P["exec"]>;
    made.exec = ((...args: unknown[]) => {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error("Command timed out")), this.#timeoutMs);
      });
      return Promise.race([exec(...args), expired]).finally(() => clearTimeout(timer));
    }) as P["exec"];
    return made;
  }

  // ioredis calls this again for the same command on a retry (MOVED, ASK, CLUSTERDOWN): one deadline per command.
  override sendCommand(command: Command, ...rest: unknown[]): unknown {
    if (!this.#armed.has(command)) {
      this.#armed.add(command);
      const timer = setTimeout(() => {
        if (!command.isResolved) command.reject(new Error("Command timed out"));
      }, this.#timeoutMs);
      const clear = () => clearTimeout(timer);
      command.promise.then(clear, clear);
    }
    return (super.sendCommand as (command: Command, ...rest: unknown[]) => unknown)(command, ...rest);
  }
}

/**
 * A client for the topology the options select, with `settings` (timeouts, retries, pipelining, offline queue…)
 * applied to every node's connection. A cluster reads from masters only (`scaleReads: "master"`: the relayer reads
 * what it just wrote). `purpose` names the connection (CLIENT SETNAME), e.g. "relayer", "keys", "rebuild".
 */
export function createRedis(options: RedisTopologyOptions, settings: RedisOptions = {}, purpose?: string): RedisClient {
  const named: RedisOptions = purpose ? { ...settings, connectionName: purpose } : settings;
  switch (topologyOf(options)) {
    case "cluster": {
      const { enableOfflineQueue, lazyConnect, maxRetriesPerRequest: _m, ...redisOptions } = named;
      const clusterOptions: ClusterOptions = {
        scaleReads: "master",
        enableOfflineQueue: enableOfflineQueue ?? true,
        lazyConnect: lazyConnect ?? false,
        // Not with a deadline: an auto-pipelined command waits for the cluster's slots outside sendCommand, where
        // no deadline reaches it (DeadlineCluster).
        enableAutoPipelining: typeof named.commandTimeout === "number" ? false : (named.enableAutoPipelining ?? false),
        // A retry strategy of null (CLIs: fail at once) means the same for the cluster's own reconnects.
        clusterRetryStrategy: named.retryStrategy === undefined ? undefined : () => null,
        // MOVED/ASK redirections while slots move: a few, not forever.
        maxRedirections: 16,
        redisOptions: { ...redisOptions, maxRetriesPerRequest: named.maxRetriesPerRequest },
      };
      const timeoutMs = named.commandTimeout;
      return typeof timeoutMs === "number"
        ? new DeadlineCluster(options.redisCluster!, clusterOptions, timeoutMs)
        : new Cluster(options.redisCluster!, clusterOptions);
    }
    case "sentinel":
      return new Redis({
        ...named,
        sentinels: options.redisSentinels!,
        name: options.redisSentinelName ?? "mymaster",
        // The sentinels themselves answer within the same deadline.
        sentinelCommandTimeout: named.commandTimeout,
        sentinelRetryStrategy: named.retryStrategy === undefined ? undefined : () => null,
      });
    default:
      return new Redis(options.redisUrl, named);
  }
}

export const isCluster = (redis: RedisClient): redis is Cluster => (redis as Cluster).isCluster === true;

/** The per-node settings of a client (a Cluster's `redisOptions`). */
export function nodeOptions(redis: RedisClient): RedisOptions {
  return isCluster(redis) ? { ...(redis.options.redisOptions ?? {}) } : { ...redis.options };
}

/** A second client to the same Redis with `override` per node (blocking readers: XREAD BLOCK holds a connection). */
export function duplicateClient(redis: RedisClient, override: RedisOptions): RedisClient {
  if (isCluster(redis)) {
    const { lazyConnect, enableAutoPipelining, ...perNode } = override;
    return redis.duplicate(undefined, {
      ...(lazyConnect === undefined ? {} : { lazyConnect }),
      ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
      redisOptions: { ...redis.options.redisOptions, ...perNode },
    });
  }
  return redis.duplicate(override);
}

/** The nodes a SCAN must visit: every master of a cluster, or the client itself. */
export function scanNodes(redis: RedisClient): Redis[] {
  return isCluster(redis) ? redis.nodes("master") : [redis];
}

/**
 * Every key matching `pattern`, over every master of a cluster (SCAN walks one node). `step` wraps each SCAN call
 * (a deadline); `count` is the COUNT hint.
 */
export async function scanAll(
  redis: RedisClient,
  pattern: string,
  count = 1000,
  step: <T>(p: Promise<T>) => Promise<T> = (p) => p,
): Promise<string[]> {
  const keys: string[] = [];
  for (const node of scanNodes(redis)) {
    let cursor = "0";
    do {
      const [next, batch] = await step(node.scan(cursor, "MATCH", pattern, "COUNT", count));
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
  }
  return keys;
}

/**
 * Deletes `keys` (a cluster refuses a DEL across slots: grouped per hash tag there, one DEL per group and batch).
 * Returns how many were deleted.
 */
export async function deleteKeys(redis: RedisClient, keys: string[], batch = 500): Promise<number> {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const group = isCluster(redis) ? hashTagOf(key) : "";
    const list = groups.get(group) ?? [];
    list.push(key);
    groups.set(group, list);
  }
  let deleted = 0;
  for (const [tag, list] of groups) {
    for (let i = 0; i < list.length; i += batch) {
      const slice = list.slice(i, i + batch);
      // Keys without a tag each hash on their own: one DEL (UNLINK) each.
      if (tag === "" && isCluster(redis)) {
        for (const key of slice) deleted += await redis.del(key);
      } else {
        deleted += await redis.del(...slice);
      }
    }
  }
  return deleted;
}

/** The part of a key Redis Cluster hashes: the first non-empty `{…}`, or "" (the whole key). */
export function hashTagOf(key: string): string {
  const open = key.indexOf("{");
  if (open === -1) return "";
  const close = key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : "";
}

/**
 * What BullMQ takes as `connection`: on a single node or Sentinel, the client's options (BullMQ opens its own
 * connections; no command timeout: a blocking fetch outlasts it); on a cluster, a dedicated Cluster client (BullMQ
 * duplicates it for blocking reads) that `close()` quits. The queue's prefix must carry a `{…}` tag on a cluster.
 */
export function bullConnection(redis: RedisClient): {
  connection: RedisOptions | Cluster;
  close(): Promise<void>;
} {
  if (isCluster(redis)) {
    const { commandTimeout: _timeout, keyPrefix: _prefix, ...perNode } = redis.options.redisOptions ?? {};
    const cluster = redis.duplicate(undefined, {
      lazyConnect: false,
      enableAutoPipelining: false,
      redisOptions: { ...perNode, maxRetriesPerRequest: null },
    });
    cluster.on("error", () => undefined);
    return {
      connection: cluster,
      close: async () => {
        // QUIT on a cluster still connecting can wait for ever: past the deadline the sockets are dropped.
        const quit = cluster.quit().then(
          () => undefined,
          () => cluster.disconnect(),
        );
        if (!(await settledWithin(quit, REDIS_TIMEOUT_MS))) cluster.disconnect();
      },
    };
  }
  const { commandTimeout: _timeout, keyPrefix: _prefix, ...redisOptions } = redis.options;
  return { connection: { ...redisOptions, maxRetriesPerRequest: null, lazyConnect: false }, close: async () => {} };
}
