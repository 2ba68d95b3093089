/**
 * A real Hardhat node for the relayer's tests, in a child process on a free port of 127.0.0.1, and the
 * deploy script run against it.
 *
 *   const node = await startHardhatNode();
 *   const file = await deployToNode(node.url, fs.mkdtempSync(path.join(os.tmpdir(), "deploy-")));
 *   ...
 *   await node.stop();
 *
 * The node is the project's own (`hardhat node` with hardhat.config.ts: chain 31337, automine, the 20 unlocked
 * default accounts). It runs in its own process group, so stop() (and the exit of the test process, even
 * without stop()) kills the whole group.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { JsonRpcProvider, Network } from "ethers";

/** The project root (hardhat.config.ts). */
export const ROOT = path.resolve(__dirname, "..", "..", "..");
/** How long a node may take to answer its first `eth_chainId`. */
export const NODE_START_TIMEOUT_MS = 60_000;
/** How often the readiness probe asks. */
const READY_POLL_MS = 100;
/** How long stop() waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5_000;
/** How long deployToNode may take. */
const DEPLOY_TIMEOUT_MS = 120_000;
/** Lines of a child's output kept for error messages. */
const OUTPUT_TAIL_LINES = 40;

export type HardhatNode = {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The node process's id (the leader of its process group), e.g. to read its CPU time from /proc. */
  pid: number;
  /** A provider on the node for driving it (signers: `provider.getSigner(i)`); destroyed by stop(). */
  provider: JsonRpcProvider;
  /** Kills the node's process group and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
};

/** Hardhat's CLI entry point, run with this Node (the same thing `npx hardhat` runs, without npx's shell). */
const HARDHAT_CLI = require.resolve("hardhat/internal/cli/bootstrap");

/** Process groups of live nodes, killed when the test process exits without stopping them. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of liveGroups) killGroup(pid, "SIGKILL");
  });
  // A signal's default action skips "exit" handlers: kill the nodes, then let the signal do what it would have.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      for (const pid of liveGroups) killGroup(pid, "SIGKILL");
      liveGroups.clear();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** A free TCP port on 127.0.0.1 (bound on port 0, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("no port assigned"));
      server.close(() => resolve(address.port));
    });
  });
}

/** Keeps the last lines a child printed, for error messages. */
function tailOf(child: ChildProcess): () => string {
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString("utf8").split("\n"));
    if (lines.length > OUTPUT_TAIL_LINES) lines.splice(0, lines.length - OUTPUT_TAIL_LINES);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => lines.join("\n").trim();
}

/** The environment of a child Hardhat: ours, minus anything that would choose another network for it. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.HARDHAT_NETWORK;
  return env;
}

/** Asks `url` for its chain id once; undefined while it does not answer. */
async function probeChainId(url: string): Promise<bigint | undefined> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(1_000),
    });
    const body = (await response.json()) as { result?: string };
    return typeof body.result === "string" ? BigInt(body.result) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts `hardhat node --port <port>` (a free port unless given) from the project root and resolves once it answers
 * `eth_chainId` (rejects after NODE_START_TIMEOUT_MS, or as soon as the process exits, with its last output).
 */
export async function startHardhatNode({
  port,
  chainId: nodeChainId,
}: {
  port?: number;
  /** The node's chain id (hardhat.config.ts reads HARDHAT_CHAIN_ID; 31337 unless given). */
  chainId?: number;
} = {}): Promise<HardhatNode> {
  installExitHook();
  const nodePort = port ?? (await freePort());
  const url = `http://127.0.0.1:${nodePort}`;
  const child = spawn(process.execPath, [HARDHAT_CLI, "node", "--port", String(nodePort), "--hostname", "127.0.0.1"], {
    cwd: ROOT,
    detached: true, // its own process group: kill(-pid) takes every process it starts
    stdio: ["ignore", "pipe", "pipe"],
    env: childEnv(nodeChainId === undefined ? {} : { HARDHAT_CHAIN_ID: String(nodeChainId) }),
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not spawn hardhat node");
  liveGroups.add(pid);
  const output = tailOf(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    liveGroups.delete(pid);
  });

  const stopProcess = async () => {
    if (!hasExited) {
      killGroup(pid, "SIGTERM");
      const timer = setTimeout(() => killGroup(pid, "SIGKILL"), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    liveGroups.delete(pid);
  };

  const deadline = Date.now() + NODE_START_TIMEOUT_MS;
  let chainId: bigint | undefined;
  while ((chainId = await probeChainId(url)) === undefined) {
    if (hasExited) {
      throw new Error(`hardhat node exited before answering (exit ${child.exitCode}):\n${output()}`);
    }
    if (Date.now() > deadline) {
      await stopProcess();
      throw new Error(`hardhat node did not answer within ${NODE_START_TIMEOUT_MS} ms:\n${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }

  const provider = new JsonRpcProvider(url, undefined, {
    staticNetwork: Network.from(chainId),
    batchMaxCount: 1,
    cacheTimeout: -1,
    pollingInterval: 50,
  });
  let stopping: Promise<void> | undefined;
  return {
    url,
    port: nodePort,
    pid,
    provider,
    stop: () => {
      stopping ??= (async () => {
        provider.destroy();
        await stopProcess();
      })();
      return stopping;
    },
  };
}

/**
 * Runs `hardhat run scripts/deploy.ts --network localhost` against `url` (FRESH, writing `<dir>/localhost.json`)
 * and returns that file's path (format: `Deployment` in scripts/lib/deploy.ts; on localhost account 0 holds every
 * role and owns the deployed TestUSDT). Uses the compiled artifacts as they are (`--no-compile`: `hardhat test`
 * compiled them already).
 */
export async function deployToNode(url: string, dir: string): Promise<string> {
  const child = spawn(
    process.execPath,
    [HARDHAT_CLI, "run", "scripts/deploy.ts", "--network", "localhost", "--no-compile"],
    {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: childEnv({ LOCALHOST_RPC_URL: url, DEPLOYMENTS_DIR: dir, TS_NODE_TRANSPILE_ONLY: "1", FRESH: "1" }),
    },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not spawn the deploy script");
  liveGroups.add(pid);
  const output = tailOf(child);
  const timer = setTimeout(() => killGroup(pid, "SIGKILL"), DEPLOY_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (exitCode) => resolve(exitCode));
  }).finally(() => {
    clearTimeout(timer);
    liveGroups.delete(pid);
  });
  if (code !== 0) throw new Error(`deploy to ${url} failed (exit ${code}):\n${output()}`);
  return path.join(dir, "localhost.json");
}
