/**
 * The relayer's options: parsed once, from the environment and the command line, into a typed object. Nothing
 * else in the relayer reads process.env.
 */
import { z } from "zod";
import { OptionsError } from "./errors";

/** Every option: its environment variable, default and meaning (also the text of --help). */
export const OPTION_DOCS: { env: string; default?: string; description: string }[] = [
  { env: "RPC_URL", description: "JSON-RPC endpoint of the chain (required)" },
  { env: "DEPLOYMENT", description: "path to the deployments file written by scripts/deploy.ts (required)" },
  { env: "REDIS_URL", default: "redis://127.0.0.1:6379", description: "Redis connection URL" },
  { env: "REDIS_PREFIX", default: "escrow", description: "prefix of every Redis key" },
  { env: "PORT", default: "8080", description: "HTTP port of the API (0 picks a free port)" },
  { env: "HOST", default: "0.0.0.0", description: "HTTP listen address" },
  { env: "CONFIRMATIONS", default: "12", description: "blocks after which an event is final (1 = final when mined)" },
  { env: "POLL_INTERVAL_MS", default: "1000", description: "how often the indexer polls for new blocks" },
  { env: "LOG_RANGE_MAX", default: "10000", description: "largest eth_getLogs block range" },
  { env: "LEASE_TTL_MS", default: "3000", description: "indexer leader lease; a standby takes over within this time" },
  { env: "RELAYER_KEY", description: "private key of the relayer's signer (not used by the read side)" },
  { env: "LOG_LEVEL", default: "info", description: "pino log level: fatal, error, warn, info, debug, trace, silent" },
  { env: "INDEXER", default: "on", description: "on: take part in leader election and index; off: serve the API only" },
];

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const optionsSchema = z
  .object({
    RPC_URL: z.url({ message: "RPC_URL must be an http(s) or ws(s) URL" }),
    DEPLOYMENT: z.string().min(1, "DEPLOYMENT must name the deployments file"),
    REDIS_URL: z.string().default("redis://127.0.0.1:6379"),
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, "REDIS_PREFIX may hold letters, digits, _ . -")
      .default("escrow"),
    PORT: intFrom(0, 65535).default(8080),
    HOST: z.string().default("0.0.0.0"),
    CONFIRMATIONS: intFrom(1, 10_000).default(12),
    POLL_INTERVAL_MS: intFrom(10, 600_000).default(1000),
    LOG_RANGE_MAX: intFrom(1, 1_000_000).default(10_000),
    LEASE_TTL_MS: intFrom(500, 600_000).default(3000),
    RELAYER_KEY: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, "RELAYER_KEY must be a 32-byte hex private key")
      .optional(),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    INDEXER: z.enum(["on", "off"]).default("on"),
  })
  .strip();

export type Options = {
  rpcUrl: string;
  deployment: string;
  redisUrl: string;
  redisPrefix: string;
  port: number;
  host: string;
  confirmations: number;
  pollIntervalMs: number;
  logRangeMax: number;
  leaseTtlMs: number;
  relayerKey?: string;
  logLevel: z.infer<typeof optionsSchema>["LOG_LEVEL"];
  indexer: boolean;
};

/**
 * Parses options from an environment and command-line arguments (`--name value` or `--name=value`, the
 * environment variable's name in lower case with dashes: `--rpc-url`, `--confirmations`). Arguments win.
 */
export function parseOptions(env: Record<string, string | undefined>, argv: string[] = []): Options {
  const merged: Record<string, string | undefined> = {};
  for (const { env: name } of OPTION_DOCS) merged[name] = env[name] === "" ? undefined : env[name];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new OptionsError(`unexpected argument ${arg}`);
    const [flag, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const name = flag.toUpperCase().replace(/-/g, "_");
    if (!OPTION_DOCS.some((o) => o.env === name)) throw new OptionsError(`unknown option --${flag}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new OptionsError(`option --${flag} needs a value`);
    merged[name] = value;
  }
  const parsed = optionsSchema.safeParse(merged);
  if (!parsed.success) {
    throw new OptionsError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"));
  }
  const o = parsed.data;
  return {
    rpcUrl: o.RPC_URL,
    deployment: o.DEPLOYMENT,
    redisUrl: o.REDIS_URL,
    redisPrefix: o.REDIS_PREFIX,
    port: o.PORT,
    host: o.HOST,
    confirmations: o.CONFIRMATIONS,
    pollIntervalMs: o.POLL_INTERVAL_MS,
    logRangeMax: o.LOG_RANGE_MAX,
    leaseTtlMs: o.LEASE_TTL_MS,
    relayerKey: o.RELAYER_KEY,
    logLevel: o.LOG_LEVEL,
    indexer: o.INDEXER === "on",
  };
}

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
  for (const o of OPTION_DOCS) {
    const flag = `--${o.env.toLowerCase().replace(/_/g, "-")}`;
    lines.push(
      `  ${o.env.padEnd(17)} ${flag.padEnd(19)} ${o.description}${o.default ? ` (default ${o.default})` : ""}`,
    );
  }
  return lines.join("\n");
}
