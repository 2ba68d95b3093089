/**
 * `npm run test:cluster`: the relayer's and the client's suites against a Redis Cluster, which proves that every Lua
 * script and multi-key command stays within one hash slot (a cluster answers CROSSSLOT otherwise) and that the SCAN
 * clean-ups walk every master. Starts a private three-master cluster (scripts/lib/redis-cluster.ts) unless
 * REDIS_CLUSTER names one, runs `hardhat test` over test/relayer and test/client with REDIS_CLUSTER set (every test
 * client and every relayer process a test spawns reads it), stops the cluster and exits with mocha's code; mocha's
 * "N passing" / "N failing" lines pass through unchanged (.ci/run sums them).
 *
 *   npm run test:cluster                       # a private cluster
 *   REDIS_CLUSTER=127.0.0.1:7000 npm run test:cluster
 *   npm run test:cluster -- test/relayer/store/store.ts   # some files only
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { startRedisCluster, type RedisCluster } from "./lib/redis-cluster";

const ROOT = path.resolve(__dirname, "..");

/** Every test file under `dir` (support modules excluded), sorted. */
function testFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "support") walk(full);
      } else if (entry.name.endsWith(".ts")) out.push(path.relative(ROOT, full));
    }
  };
  walk(path.join(ROOT, dir));
  return out.sort();
}

async function main(): Promise<number> {
  let cluster: RedisCluster | undefined;
  let nodes = process.env.REDIS_CLUSTER?.trim();
  if (!nodes) {
    cluster = await startRedisCluster();
    nodes = cluster.nodes;
    console.log(`  (a private Redis Cluster on ${nodes})`);
  } else {
    console.log(`  (the Redis Cluster at ${nodes})`);
  }
  const stop = () => cluster?.stop();
  try {
    const asked = process.argv.slice(2);
    const files = asked.length > 0 ? asked : [...testFiles("test/relayer"), ...testFiles("test/client")];
    const hardhat = require.resolve("hardhat/internal/cli/cli", { paths: [ROOT] });
    const child = spawn(process.execPath, [hardhat, "test", ...files], {
      cwd: ROOT,
      stdio: "inherit",
      env: { ...process.env, REDIS_CLUSTER: nodes },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    return await new Promise<number>((resolve) => {
      child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`test:cluster: ${(error as Error).message}`);
    process.exit(1);
  },
);
