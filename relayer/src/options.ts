/**
 * The relayer's options: parsed once, from the environment and the command line, into a typed object. Nothing
 * else in the relayer reads process.env.
 *
 * {@link OPTIONS} is the one list of them: each entry holds its environment variable, its flag, its default, its
 * meaning and its schema. The `Options` type, the parser, `--help` and relayer/README.md's table all come from it. This
 * module imports nothing but zod and the error classes, so `--help` is answered without building the relayer.
 */
import { z } from "zod";
import { OptionsError } from "./errors";
import { urlHoldsSecrets } from "./redact";

/** One option: how it is set (environment variable or flag), its default as it would be written there, its meaning. */
export type OptionSpec<S extends z.ZodType = z.ZodType> = {
  env: string;
  flag: string;
  /** The value when neither the environment nor a flag sets it; none for a required or an optional option. */
  default?: string;
  description: string;
  /** Parses the option's text (the default's too) into its value. */
  schema: S;
  /** Set only in the environment: a flag would show the value in the process list. */
  secret?: boolean;
};

/** An option set by the environment variable `env` or the flag named after it (RPC_URL → --rpc-url). */
function option<S extends z.ZodType>(
  env: string,
  description: string,
  schema: S,
  defaultValue?: string,
): OptionSpec<S> {
  return { env, flag: `--${env.toLowerCase().replace(/_/g, "-")}`, default: defaultValue, description, schema };
}

/** An option read only from the environment (a key or a password: never a flag, which `ps` shows). */
const secret = <S extends z.ZodType>(env: string, description: string, schema: S): OptionSpec<S> => ({
  ...option(env, description, schema),
  secret: true,
});

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** `host:port,host:port,…` → a list of { host, port } (at least one). */
const hostPorts = (name: string) =>
  z
    .string()
    .regex(
      /^[A-Za-z0-9.-]+:[0-9]{1,5}(,[A-Za-z0-9.-]+:[0-9]{1,5})*$/,
      `${name} must be host:port,host:port (no spaces)`,
    )
    .transform((list) =>
      list.split(",").map((entry) => {
        const at = entry.lastIndexOf(":");
        return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
      }),
    )
    .refine((nodes) => nodes.every((n) => n.port >= 1 && n.port <= 65_535), `${name}: a port is 1 to 65535`);
const onOff = z.enum(["on", "off"]).transform((value) => value === "on");

/** Every option, in the order `--help` lists them. */
export const OPTIONS = {
  rpcUrl: option(
    "RPC_URL",
    "JSON-RPC endpoint of the chain, http(s) only (required); `https://user:pass@host/...` sends basic auth",
    // The chain adapter speaks JSON-RPC over HTTP POST; a ws(s) URL would only fail later, with a stack trace.
    z.url({ protocol: /^https?$/, message: "RPC_URL must be an http:// or https:// URL (ws:// is not supported)" }),
  ),
  deployment: option(
    "DEPLOYMENT",
    "path to the deployments file written by scripts/deploy.ts (required)",
    z.string().min(1, "DEPLOYMENT must name the deployments file"),
  ),
  redisUrl: option(
    "REDIS_URL",
    "Redis connection URL of a single node (unless REDIS_CLUSTER or REDIS_SENTINELS is set)",
    z.string(),
    "redis://127.0.0.1:6379",
  ),
  redisCluster: option(
    "REDIS_CLUSTER",
    "a Redis Cluster instead of REDIS_URL: some of its nodes as host:port,host:port (the rest are discovered)",
    hostPorts("REDIS_CLUSTER").optional(),
  ),
  redisSentinels: option(
    "REDIS_SENTINELS",
    "Redis Sentinel instead of REDIS_URL: the sentinels as host:port,host:port (with REDIS_SENTINEL_NAME)",
    hostPorts("REDIS_SENTINELS").optional(),
  ),
  redisSentinelName: option(
    "REDIS_SENTINEL_NAME",
    "the master's name the sentinels watch",
    z.string().regex(/^[A-Za-z0-9_.-]+$/, "REDIS_SENTINEL_NAME may hold letters, digits, _ . -"),
    "mymaster",
  ),
  redisPrefix: option(
    "REDIS_PREFIX",
    "prefix of every Redis key",
    z.string().regex(/^[A-Za-z0-9_.-]+$/, "REDIS_PREFIX may hold letters, digits, _ . -"),
    "escrow",
  ),
  port: option("PORT", "HTTP port of the API (0 picks a free port)", intFrom(0, 65535), "8080"),
  host: option(
    "HOST",
    "HTTP listen address (containers set 0.0.0.0 to be reachable from outside)",
    z.string().min(1),
    "127.0.0.1",
  ),
  confirmations: option(
    "CONFIRMATIONS",
    "blocks after which an event is final (1 = final when mined)",
    intFrom(1, 10_000),
    "12",
  ),
  pollIntervalMs: option(
    "POLL_INTERVAL_MS",
    "how often the indexer polls for new blocks",
    intFrom(10, 600_000),
    "1000",
  ),
  logRangeMax: option("LOG_RANGE_MAX", "largest eth_getLogs block range", intFrom(1, 1_000_000), "10000"),
  leaseTtlMs: option(
    "LEASE_TTL_MS",
    "indexer leader lease; a standby takes over within this time",
    intFrom(500, 600_000),
    "3000",
  ),
  relayerKey: secret(
    "RELAYER_KEY",
    "private key of the relayer's signer, which pays the gas of relayed transactions (environment only; without it or a keystore the write API is off)",
    z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, "RELAYER_KEY must be a 32-byte hex private key")
      .optional(),
  ),
  relayerKeystore: option(
    "RELAYER_KEYSTORE",
    "path to an encrypted JSON keystore holding the relayer's signer (instead of RELAYER_KEY)",
    z.string().min(1).optional(),
  ),
  relayerKeystorePassword: secret(
    "RELAYER_KEYSTORE_PASSWORD",
    "the keystore's password (environment only)",
    z.string().optional(),
  ),
  corsOrigins: option(
    "CORS_ORIGINS",
    "browser origins allowed to call the API, comma-separated, or * for any (none by default)",
    z.string().transform((v) =>
      v
        .split(",")
        .map((o) => o.trim())
        .filter((o) => o !== ""),
    ),
    "",
  ),
  readsRequireKey: option("READS_REQUIRE_KEY", "on: every route, reads too, needs an API key", onOff, "off"),
  rateLimitPerMinute: option(
    "RATE_LIMIT_PER_MINUTE",
    "requests per minute per API key (per client address for reads without a key)",
    intFrom(1, 1_000_000),
    "6000",
  ),
  dailyGasPerKey: option(
    "DAILY_GAS_PER_KEY",
    "gas the relayer spends per API key and UTC day at most (the operator pays it)",
    z.coerce.bigint().refine((v) => v > 0n, "DAILY_GAS_PER_KEY must be positive"),
    "20000000",
  ),
  logLevel: option(
    "LOG_LEVEL",
    "pino log level: fatal, error, warn, info, debug, trace, silent",
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    "info",
  ),
  indexer: option("INDEXER", "on: take part in leader election and index; off: serve the API only", onOff, "on"),

  /* ---- logs (relayer/src/common.ts) ---- */
  logFormat: option(
    "LOG_FORMAT",
    "json: one JSON object a line; pretty: human-readable lines; auto: pretty when stdout is a terminal, else json",
    z.enum(["auto", "json", "pretty"]),
    "auto",
  ),

  /* ---- readiness (relayer/src/api/availability.ts) ---- */
  readyMaxLagBlocks: option(
    "READY_MAX_LAG_BLOCKS",
    "/v1/ready answers 503 while the indexed block is more than this many blocks behind the head",
    intFrom(0, 1_000_000),
    "5",
  ),

  /* ---- the submitter (relayer/src/submitter) ---- */
  submitBatchWindowMs: option(
    "SUBMIT_BATCH_WINDOW_MS",
    "how long the submitter waits for more submissions to send in one multicall",
    intFrom(0, 60_000),
    "250",
  ),
  submitMaxBatch: option(
    "SUBMIT_MAX_BATCH",
    "most submissions the submitter takes in one round",
    intFrom(1, 1_000),
    "100",
  ),
  submitBumpAfterMs: option(
    "SUBMIT_BUMP_AFTER_MS",
    "a transaction not mined after this long is replaced with higher fees (same nonce)",
    intFrom(1_000, 3_600_000),
    "30000",
  ),
  submitBumpPercent: option(
    "SUBMIT_BUMP_PERCENT",
    "fee rise of a replacement transaction, in percent (at least 12.5)",
    z.coerce.number().min(12.5).max(1_000),
    "12.5",
  ),
  maxFeePerGas: option(
    "MAX_FEE_PER_GAS",
    "highest maxFeePerGas the submitter offers, in wei (unset: no cap)",
    z
      .string()
      .regex(/^[1-9][0-9]{0,30}$/, "MAX_FEE_PER_GAS must be a whole number of wei")
      .transform((value) => BigInt(value))
      .optional(),
  ),
  submitPollMs: option(
    "SUBMIT_POLL_MS",
    "how often the submitter follows its sent transactions (receipts, bumps)",
    intFrom(10, 60_000),
    "1000",
  ),
  submitLeaseMs: option(
    "SUBMIT_LEASE_MS",
    "submitter lease per relayer key; a successor takes over within this time",
    intFrom(500, 600_000),
    "15000",
  ),
  submitGasMarginPercent: option(
    "SUBMIT_GAS_MARGIN_PERCENT",
    "gas limit above the node's estimate, in percent",
    intFrom(0, 500),
    "25",
  ),

  /* ---- the read path (relayer/src/api/app.ts, final-cache.ts) ---- */
  rateLimitAnonymous: option(
    "RATE_LIMIT_ANONYMOUS",
    "where reads without a key are counted: local (each process, in memory: no Redis call per read) or shared " +
      "(one bucket per client address in Redis for every replica)",
    z.enum(["local", "shared"]),
    "local",
  ),
  finalCacheEntries: option(
    "FINAL_CACHE_ENTRIES",
    "settled, final deals kept in memory with their ETag (0: no cache)",
    intFrom(0, 1_000_000),
    "5000",
  ),

  /* ---- events, replay and webhooks (relayer/src/events) ---- */
  eventsRetentionDays: option(
    "EVENTS_RETENTION_DAYS",
    "days the event stream keeps events for replay (GET /v1/events); older cursors get 410",
    z.coerce.number().positive().max(3_650),
    "30",
  ),
  webhookSecretGraceHours: option(
    "WEBHOOK_SECRET_GRACE_HOURS",
    "hours a webhook endpoint's previous secret keeps signing after a rotation",
    z.coerce.number().min(0).max(720),
    "24",
  ),
  webhookAllowPrivate: option(
    "WEBHOOK_ALLOW_PRIVATE",
    "on: webhook URLs may point at loopback and private addresses (tests, closed networks)",
    onOff,
    "off",
  ),
  webhookTimeoutMs: option(
    "WEBHOOK_TIMEOUT_MS",
    "how long one webhook request may take before it counts as failed",
    intFrom(100, 120_000),
    "10000",
  ),
  webhookBackoffMs: option(
    "WEBHOOK_BACKOFF_MS",
    "wait before a failed webhook's first retry; doubles per attempt (at most an hour), retries span 24 h",
    intFrom(1, 3_600_000),
    "10000",
  ),

  /* ---- orders (relayer/src/orders) ---- */
  orderExpiryS: option(
    "ORDER_EXPIRY_S",
    "seconds an order waits to be funded and paid when its request names no expiresInSeconds",
    intFrom(60, 86_400),
    "900",
  ),
  orderAcceptS: option(
    "ORDER_ACCEPT_S",
    "seconds an assigned acceptor has to accept an order before it is re-matched",
    intFrom(1, 3_600),
    "60",
  ),
  orderLateGraceS: option(
    "ORDER_LATE_GRACE_S",
    "seconds after an order's expiry until its deal's deadline: a late fiat payment stays confirmable that long",
    intFrom(60, 7 * 86_400),
    "3600",
  ),
  orderReleaseWindowS: option(
    "ORDER_RELEASE_WINDOW_S",
    "release window of an order's deal, in seconds",
    intFrom(60, 2 * 86_400),
    "3600",
  ),
  orderSweepMs: option(
    "ORDER_SWEEP_MS",
    "how often the order sweeper checks due orders (accept windows, expiries, deals to follow)",
    intFrom(10, 60_000),
    "500",
  ),
  lockDelegateKey: secret(
    "LOCK_DELEGATE_KEY",
    "private key of the relayer's lock delegate (environment only): auto-accepting acceptors name its address as " +
      "their on-chain lock delegate; it can lock their float, never release it",
    z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, "LOCK_DELEGATE_KEY must be a 32-byte hex private key")
      .optional(),
  ),
  acceptorHeartbeatMs: option(
    "ACCEPTOR_HEARTBEAT_MS",
    "an acceptor counts as online for matching this long after its last heartbeat",
    intFrom(1_000, 86_400_000),
    "60000",
  ),
  denyList: option(
    "DENY_LIST",
    "path of the operator's deny list (one address per line, # comments; re-read when it changes)",
    z.string().min(1).optional(),
  ),
  orderReserveGraceMs: option(
    "ORDER_RESERVE_GRACE_MS",
    "how long a buy order's reservation of the acceptor's float outlives the order's expiry (a lock sent just before it may still be indexed); it ends earlier when the deal opens",
    intFrom(1_000, 86_400_000),
    "60000",
  ),

  /* ---- disputes: evidence, messages, the gateway's console, the keeper (relayer/src/disputes) ---- */
  evidenceDir: option(
    "EVIDENCE_DIR",
    "directory where uploaded evidence files are kept, named by their SHA-256 (unless EVIDENCE_S3_URL is set)",
    z.string().min(1),
    "data/evidence",
  ),
  evidenceS3Url: secret(
    "EVIDENCE_S3_URL",
    "an S3-compatible bucket for evidence files instead of EVIDENCE_DIR, path style: https://host[:port]/bucket",
    z.url({ protocol: /^https?$/, message: "EVIDENCE_S3_URL must be an http:// or https:// URL" }).optional(),
  ),
  evidenceS3Region: option("EVIDENCE_S3_REGION", "the bucket's region (SigV4 signing)", z.string().min(1), "us-east-1"),
  evidenceS3AccessKey: secret(
    "EVIDENCE_S3_ACCESS_KEY",
    "access key id for EVIDENCE_S3_URL",
    z.string().min(1).optional(),
  ),
  evidenceS3SecretKey: secret(
    "EVIDENCE_S3_SECRET_KEY",
    "secret access key for EVIDENCE_S3_URL",
    z.string().min(1).optional(),
  ),
  evidenceMaxBytes: option(
    "EVIDENCE_MAX_BYTES",
    "largest evidence file accepted, in bytes (larger uploads get 413)",
    intFrom(1_024, 52_428_800),
    "5242880",
  ),
  messageMaxChars: option(
    "MESSAGE_MAX_CHARS",
    "longest order message accepted, in characters",
    intFrom(1, 100_000),
    "4000",
  ),
  disputeAlertS: option(
    "DISPUTE_ALERT_S",
    "seconds before a dispute's resolution window ends at which its gateway is alerted (webhook and metric)",
    intFrom(1, 30 * 86_400),
    "21600",
  ),
  keeper: option(
    "KEEPER",
    "on: the relayer sends the transactions anyone may send when they fall due (refunds after the deadline, " +
      "actions a party signed in advance); needs a signer key",
    onOff,
    "on",
  ),
  keeperIntervalMs: option(
    "KEEPER_INTERVAL_MS",
    "how often the keeper looks for due transactions",
    intFrom(100, 3_600_000),
    "5000",
  ),
};

export type OptionName = keyof typeof OPTIONS;
const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];

/** The options' values, each parsed by its entry's schema. */
export const optionsSchema = z.object(
  Object.fromEntries(OPTION_NAMES.map((name) => [name, OPTIONS[name].schema])) as {
    [K in OptionName]: (typeof OPTIONS)[K]["schema"];
  },
);

export type Options = z.infer<typeof optionsSchema>;

/**
 * Parses options from an environment and command-line arguments (`--name value` or `--name=value`, the
 * environment variable's name in lower case with dashes: `--rpc-url`, `--confirmations`). Arguments win over the
 * environment; an empty environment variable counts as unset. Throws OptionsError with every problem found.
 */
export function parseOptions(env: Record<string, string | undefined>, argv: string[] = []): Options {
  const text: Partial<Record<OptionName, string>> = {};
  for (const name of OPTION_NAMES) {
    const value = env[OPTIONS[name].env];
    if (value !== undefined && value !== "") text[name] = value;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new OptionsError(`unexpected argument ${arg}`);
    const [flag, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const envName = flag.toUpperCase().replace(/-/g, "_");
    const name = OPTION_NAMES.find((n) => OPTIONS[n].env === envName);
    if (name === undefined) throw new OptionsError(`unknown option --${flag}`);
    if ((OPTIONS[name] as OptionSpec).secret) {
      throw new OptionsError(`${envName} is a secret: set it in the environment (a flag shows in the process list)`);
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new OptionsError(`option --${flag} needs a value`);
    // A URL with a password or an API key in it is a secret as much as RELAYER_KEY is.
    if ((name === "rpcUrl" || name === "redisUrl") && urlHoldsSecrets(value)) {
      throw new OptionsError(
        `${envName} holds credentials or a key: set it in the environment (a flag shows in the process list)`,
      );
    }
    text[name] = value;
  }
  const input = Object.fromEntries(OPTION_NAMES.map((name) => [name, text[name] ?? OPTIONS[name].default]));
  const parsed = optionsSchema.safeParse(input);
  if (!parsed.success) {
    const where = (path: PropertyKey[]) => OPTIONS[path[0] as OptionName]?.env ?? path.join(".");
    throw new OptionsError(parsed.error.issues.map((i) => `${where(i.path)}: ${i.message}`).join("\n"));
  }
  return parsed.data;
}

/**
 * Parses only the options `names` from an environment (defaults applied, every other option left out, so none of
 * them is required), for commands that need a few: `keys` needs only Redis. Throws OptionsError with every problem.
 */
export function parseOptionsOf<K extends OptionName>(
  names: readonly K[],
  env: Record<string, string | undefined>,
): Pick<Options, K> {
  const problems: string[] = [];
  const out: Partial<Pick<Options, K>> = {};
  for (const name of names) {
    const spec: OptionSpec = OPTIONS[name];
    const value = env[spec.env];
    const parsed = spec.schema.safeParse(value === undefined || value === "" ? spec.default : value);
    if (parsed.success) out[name] = parsed.data as Options[K];
    else problems.push(...parsed.error.issues.map((i) => `${spec.env}: ${i.message}`));
  }
  if (problems.length > 0) throw new OptionsError(problems.join("\n"));
  return out as Pick<Options, K>;
}

/** {@link parseOptionsOf} over this process's environment. */
export const parseProcessOptionsOf = <K extends OptionName>(names: readonly K[]): Pick<Options, K> =>
  parseOptionsOf(names, process.env);

/** Parses the options of this process: its environment and its command-line arguments. */
export function parseProcessOptions(argv: string[] = process.argv.slice(2)): Options {
  return parseOptions(process.env, argv);
}

/** The text of `--help`. */
export function helpText(): string {
  const lines = [
    "usage: npm run relayer [-- --option value ...]",
    "",
    "Indexes the escrow and registry into Redis and serves the read API under /v1.",
    "Every option is an environment variable, or a flag named after it (RPC_URL -> --rpc-url):",
    "",
  ];
  for (const o of Object.values(OPTIONS)) {
    const flag = (o as OptionSpec).secret ? "(environment only)" : o.flag;
    const line = `  ${o.env.padEnd(25)} ${flag.padEnd(25)} ${o.description}`;
    lines.push(o.default === undefined ? line : `${line} (default ${o.default})`);
  }
  return lines.join("\n");
}

/** The options as a Markdown table (for the relayer's README). */
export function optionsTable(): string {
  const rows = Object.values(OPTIONS).map(
    (o) =>
      `| \`${o.env}\` | ${(o as OptionSpec).secret ? "(environment only)" : `\`${o.flag}\``} | ` +
      `${o.default === undefined ? "" : `\`${o.default}\``} | ${o.description} |`,
  );
  return ["| Variable | Flag | Default | Meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}
