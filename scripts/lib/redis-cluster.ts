/**
 * A private Redis Cluster on local ports, for the cluster suite and the failover benchmark: three masters
 * (`redis-server --cluster-enabled yes`, no persistence, their node files in a temporary folder), joined with
 * `redis-cli --cluster create` (both ship in Debian's redis packages), ready once every node says
 * `cluster_state:ok`. `stop()` stops them and removes the folder (a process that exits first kills them too).
 *
 *   const cluster = await startRedisCluster();   // { nodes: "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3", stop }
 *   ... REDIS_CLUSTER=cluster.nodes ...
 *   await cluster.stop();
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { INSTALL_HINT, freePort, redisAnswers } from "./redis-server";

const run = promisify(execFile);
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

export type RedisCluster = {
  /** The masters as REDIS_CLUSTER takes them: `host:port,host:port,…`. */
  nodes: string;
  ports: number[];
  /** The port of the master serving `key`'s slot (asked of the cluster, so it holds after a resharding too). */
  masterOf(key: string): Promise<number>;
  /** The process id of the server on `port` (to pause it with SIGSTOP in a test). */
  pidOf(port: number): number;
  /** `cluster_state` as the server on `port` sees it: "ok" or "fail". */
  stateOf(port: number): Promise<string>;
  stop(): Promise<void>;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `masters` (3 or more) cluster-enabled redis-servers on free ports and creates the cluster. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  if (masters < 3) throw new RangeError("a Redis Cluster needs at least 3 masters");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-cluster-"));
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await freePort());
  const children: ChildProcess[] = [];
  const killAll = () => children.forEach((c) => c.kill("SIGKILL"));
  process.once("exit", killAll);
  const stateOf = async (port: number): Promise<string> => {
    const { stdout } = await run("redis-cli", ["-p", String(port), "cluster", "info"]);
    return /cluster_state:(\w+)/.exec(stdout)?.[1] ?? "unknown";
  };
  const stop = async () => {
    process.removeListener("exit", killAll);
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const args = [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        path.join(dir, `nodes-${port}.conf`),
        "--cluster-node-timeout",
        "5000",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
      ];
      const child = spawn("redis-server", args, { stdio: "ignore" });
      child.once("error", () => undefined);
      children.push(child);
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (const port of ports) {
      while (!(await redisAnswers("127.0.0.1", port, 200))) {
        if (children.some((c) => c.exitCode !== null)) throw new Error(INSTALL_HINT);
        if (Date.now() > deadline) throw new Error(`redis-server (cluster) did not answer on port ${port}`);
        await sleep(50);
      }
    }
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"]);
    for (const port of ports) {
      for (;;) {
        if ((await stateOf(port)) === "ok") break;
        if (Date.now() > deadline) throw new Error(`the cluster did not reach cluster_state:ok on port ${port}`);
        await sleep(100);
      }
    }
    const masterOf = async (key: string): Promise<number> => {
      const asked = String(ports[0]);
      const slot = Number((await run("redis-cli", ["-p", asked, "cluster", "keyslot", key])).stdout.trim());
      // CLUSTER SLOTS: [first slot, last slot, [master host, port, id], replicas…] per range.
      const { stdout } = await run("redis-cli", ["-p", asked, "--json", "cluster", "slots"]);
      const ranges = JSON.parse(stdout) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no master serves slot ${slot}`);
      return Number(range[2][1]);
    };
    const pidOf = (port: number): number => {
      const child = children[ports.indexOf(port)];
      if (!child?.pid) throw new Error(`no server of this cluster on port ${port}`);
      return child.pid;
    };
    return { nodes: addresses.join(","), ports, masterOf, pidOf, stateOf, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
