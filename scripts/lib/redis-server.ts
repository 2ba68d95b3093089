/**
 * A Redis for `npm test` and `npm run demo` on a fresh machine. When REDIS_URL is set it is used as is; when a Redis
 * answers on 127.0.0.1:6379 that one is used; otherwise a private `redis-server` is started on a free port of
 * 127.0.0.1, with no persistence (nothing written to disk), and stopped by `stop()` (or, failing that, when this
 * process exits). When no `redis-server` is installed the error says, in one line, how to get one.
 *
 *   const redis = await ensureRedis();    // { url, started, stop }
 *   ...
 *   await redis.stop();                   // stops the private server, if one was started
 */
import { spawn } from "node:child_process";
import { connect, createServer, type AddressInfo } from "node:net";

export type RedisHandle = {
  /** redis://host:port of the Redis to use. */
  url: string;
  /** True when a private redis-server was started (and `stop` stops it). */
  started: boolean;
  stop(): Promise<void>;
};

export const DEFAULT_REDIS = { host: "127.0.0.1", port: 6379 };
export const INSTALL_HINT =
  "Redis is needed but nothing answers on 127.0.0.1:6379 and redis-server is not installed: " +
  "install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.";
/** How long a probe waits for an answer, and how long a started server may take to answer. */
const PROBE_TIMEOUT_MS = 500;
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** Whether a Redis answers PING on host:port (an error reply, e.g. NOAUTH, counts as an answer). */
export function redisAnswers(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (chunk: Buffer) => done(/^[+-]/.test(chunk.toString("latin1"))));
  });
}

/** A free TCP port of 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The Redis to use (see the module's comment). `options` are for tests: the environment (REDIS_URL), where the
 * shared Redis is looked for, and the server command.
 */
export async function ensureRedis(
  options: { env?: Record<string, string | undefined>; probe?: { host: string; port: number }; command?: string } = {},
): Promise<RedisHandle> {
  const { env = process.env, probe = DEFAULT_REDIS, command = "redis-server" } = options;
  const given = env.REDIS_URL;
  if (given !== undefined && given !== "") return { url: given, started: false, stop: async () => undefined };
  if (await redisAnswers(probe.host, probe.port)) {
    return { url: `redis://${probe.host}:${probe.port}`, started: false, stop: async () => undefined };
  }

  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-2_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const failed = new Promise<never>((_resolve, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "ENOENT" ? new Error(INSTALL_HINT) : error),
    );
    void exited.then(() => {
      const last = output.trim().split("\n").pop() ?? "";
      reject(new Error(`redis-server exited at start${last ? `: ${last}` : ""}`));
    });
  });
  failed.catch(() => undefined);
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const ready = (async () => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (await redisAnswers("127.0.0.1", port, 200)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server did not answer on port ${port} within ${START_TIMEOUT_MS} ms`);
  })();
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (!running()) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    await Promise.race([ready, failed]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `redis://127.0.0.1:${port}`, started: true, stop };
}
