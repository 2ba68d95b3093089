/**
 * `npm run relayer -- keys <command>`: the operator's API-key commands.
 *
 *   keys create --scope read|party|acceptor|platform|admin --owner 0x… [--label text]
 *   keys list
 *   keys revoke <id>
 *   keys rotate <id> [--grace seconds]        (default 3600: the previous secret works for an hour)
 *
 * `create` and `rotate` print the secret alone on stdout (one line, for a pipe) and on stderr that it is shown only
 * once. The commands need only REDIS_URL and REDIS_PREFIX ({@link keysOptions}); the chain's options are not asked
 * for. Exit codes: 0 done, 1 failed (unknown key, Redis unreachable), 2 usage error. Neither the secret nor the
 * Redis URL (it may hold a password) is ever printed in an error.
 */
import { createRedis, redisWhere, type RedisClient } from "../redis";
import { OptionsError } from "../errors";
import { parseOptionsOf, type Options } from "../options";
import { createKeyStore, keysBase, SCOPES, type ApiKey, type Scope } from "./keys";

export type KeysOptions = Pick<Options, "redisUrl" | "redisPrefix"> &
  Partial<Pick<Options, "redisCluster" | "redisSentinels" | "redisSentinelName">>;
export type KeysIo = { out: (line: string) => void; err: (line: string) => void };

export const DEFAULT_GRACE_SECONDS = 3600;
const CONNECT_TIMEOUT_MS = 3_000;

export const KEYS_USAGE = [
  "usage: npm run relayer -- keys create --scope <scope> --owner <0x address> [--label <text>]",
  "       npm run relayer -- keys list",
  "       npm run relayer -- keys revoke <id>",
  `       npm run relayer -- keys rotate <id> [--grace <seconds, default ${DEFAULT_GRACE_SECONDS}>]`,
  `scopes: ${SCOPES.join(", ")}. Redis comes from REDIS_URL (or REDIS_CLUSTER, REDIS_SENTINELS) and REDIS_PREFIX.`,
].join("\n");

/** The options the key commands use: only Redis (RPC_URL, DEPLOYMENT, … are not required). */
export const KEYS_OPTIONS = ["redisUrl", "redisCluster", "redisSentinels", "redisSentinelName", "redisPrefix"] as const;

/** The key commands' options, parsed from an environment by the entries of OPTIONS (schemas and defaults). */
export const keysOptions = (env: Record<string, string | undefined>): KeysOptions => parseOptionsOf(KEYS_OPTIONS, env);

/** Splits `args` into positionals and `--name value` / `--name=value` flags among `allowed`. */
function parseArgs(args: string[], allowed: string[]): { positional: string[]; flags: Record<string, string> } {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (!allowed.includes(name)) throw new OptionsError(`unknown option --${name}`);
    const value = inline ?? args[++i];
    if (value === undefined) throw new OptionsError(`option --${name} needs a value`);
    flags[name] = value;
  }
  return { positional, flags };
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");

/** One line of `keys list`: id, scope, owner, created, state (active, or revoked and when), label. */
function listLine(key: ApiKey): string {
  const state = key.expiresAt === undefined ? "active" : `revoked ${iso(key.expiresAt)}`;
  return [key.id, key.scope.padEnd(8), key.owner, iso(key.createdAt), state, key.label ?? ""].join("  ").trimEnd();
}

/** Runs a key command (`argv` after "keys"); returns the process's exit code. */
export async function runKeysCommand(
  argv: string[],
  options: KeysOptions,
  io: KeysIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
): Promise<number> {
  const [command, ...rest] = argv;
  let redis: RedisClient | undefined;
  try {
    const spec: Record<string, { flags: string[]; positional: number }> = {
      create: { flags: ["scope", "owner", "label"], positional: 0 },
      list: { flags: [], positional: 0 },
      revoke: { flags: [], positional: 1 },
      rotate: { flags: ["grace"], positional: 1 },
    };
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      io.out(KEYS_USAGE);
      return command === undefined ? 2 : 0;
    }
    const expected = spec[command];
    if (!expected) throw new OptionsError(`unknown command ${command}`);
    const { positional, flags } = parseArgs(rest, expected.flags);
    if (positional.length !== expected.positional) {
      throw new OptionsError(
        expected.positional === 0 ? `unexpected argument ${positional[0]}` : `${command} needs a key id`,
      );
    }
    let grace = DEFAULT_GRACE_SECONDS;
    if (flags.grace !== undefined) {
      if (!/^\d{1,8}$/.test(flags.grace)) throw new OptionsError("--grace must be a whole number of seconds");
      grace = Number(flags.grace);
    }
    if (command === "create") {
      if (flags.scope === undefined || !(SCOPES as readonly string[]).includes(flags.scope)) {
        throw new OptionsError(`--scope must be one of ${SCOPES.join(", ")}`);
      }
      if (flags.owner === undefined || !/^0x[0-9a-fA-F]{40}$/.test(flags.owner)) {
        throw new OptionsError("--owner must be a 0x address");
      }
    }

    redis = createRedis(
      options,
      { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: CONNECT_TIMEOUT_MS, retryStrategy: () => null },
      "keys",
    );
    redis.on("error", () => undefined);
    try {
      await redis.connect();
    } catch {
      io.err(`keys: cannot reach Redis at ${redisWhere(options)}`);
      return 1;
    }
    const keys = createKeyStore({ redis, base: keysBase(options.redisPrefix) });

    if (command === "create") {
      const { secret, key } = await keys.create({
        scope: flags.scope as Scope,
        owner: flags.owner,
        label: flags.label,
      });
      io.out(secret);
      io.err(`created ${key.id} (scope ${key.scope}, owner ${key.owner}); the secret above is shown only this once`);
    } else if (command === "list") {
      for (const key of await keys.list()) io.out(listLine(key));
    } else if (command === "revoke") {
      if (!(await keys.revoke(positional[0]))) {
        io.err(`keys: no active key ${positional[0]}`);
        return 1;
      }
      io.err(`revoked ${positional[0]}`);
    } else {
      const id = positional[0];
      const active = (await keys.list()).some((k) => k.id === id && k.expiresAt === undefined);
      if (!active) {
        io.err(`keys: no active key ${id}`);
        return 1;
      }
      const { secret } = await keys.rotate(id, grace);
      io.out(secret);
      io.err(
        `rotated ${id}: the secret above is shown only this once; the previous one works ${grace > 0 ? `for ${grace} s more` : "no more"}`,
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof OptionsError || error instanceof RangeError) {
      io.err(`keys: ${error.message}\n\n${KEYS_USAGE}`);
      return 2;
    }
    io.err(`keys: failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await redis?.quit().catch(() => redis?.disconnect());
  }
}
