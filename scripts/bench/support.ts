/**
 * What the relayer benchmark (scripts/bench-relayer.ts) uses beside its phases: logging and timing, clean-up on any
 * exit, wall-time meters, and child servers it starts and measures.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { freePort, ROOT } from "../../test/relayer/support/node";

export const SERVER_START_TIMEOUT_MS = 60_000;

/* --------------------------------------------------- helpers --------------------------------------------------- */

export const started = performance.now();
export const clock = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s`;
export const log = (message: string) => console.log(`[${clock()}] ${message}`);
export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits });
export const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `fn`, printing its name before and its duration after. */
export async function timed<T>(name: string, fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  log(`${name} ...`);
  const t0 = performance.now();
  const value = await fn();
  const seconds = (performance.now() - t0) / 1000;
  log(`${name}: done in ${seconds.toFixed(2)} s`);
  return { value, seconds };
}

/** Deletes every key under `prefix:` (a benchmark's own prefix), saying how many. */
export async function deletePrefixKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== "0");
  log(`deleted ${fmt(deleted)} Redis keys under ${prefix}:`);
}

/** Cleanup actions, run in reverse order once (on success, failure or a signal). */
export const cleanups: { name: string; fn: () => Promise<void> | void }[] = [];
export async function cleanUp(): Promise<void> {
  for (const { name, fn } of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (error) {
      console.error(`cleanup "${name}" failed: ${(error as Error).message}`);
    }
  }
}

/** Children this script spawned (other than the node, which node.ts guards): killed even on a hard exit. */
export const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** Wraps an async method of `target` to add its wall time to `totals[name]` (for the breakdowns). */
export function meter<T extends object>(
  target: T,
  method: keyof T & string,
  totals: Record<string, number>,
  name: string = method,
) {
  const original = target[method] as unknown as (...args: unknown[]) => Promise<unknown>;
  totals[name] ??= 0;
  (target as Record<string, unknown>)[method] = async (...args: unknown[]) => {
    const t0 = performance.now();
    try {
      return await original.apply(target, args);
    } finally {
      totals[name] += performance.now() - t0;
    }
  };
}

/* ------------------------------------------------- processes ------------------------------------------------- */

export type Server = { proc: ChildProcess; port: number; stop: () => Promise<void> };

/**
 * Spawns a TypeScript server on a free port of 127.0.0.1 and waits until `probePath` answers 200. (The tests'
 * spawnRelayer waits for the "api listening" info log line, which LOG_LEVEL=warn leaves out.)
 */
export async function spawnServer(script: string, env: Record<string, string>, probePath: string): Promise<Server> {
  const port = await freePort();
  // Servers run from the compiled build (npm run build:relayer), as `npm run relayer` does: ts-node would add
  // the TypeScript compiler's memory to the measured RSS.
  const compiled = path.join(ROOT, "dist", script.replace(/\.ts$/, ".js"));
  const proc = spawn(process.execPath, [compiled], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(proc);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4_000);
  };
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    children.delete(proc);
  };
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${script} exited (${proc.exitCode ?? proc.signalCode}) before serving:\n${output}`);
    }
    const ok = await fetch(`http://127.0.0.1:${port}${probePath}`, { signal: AbortSignal.timeout(1_000) })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return { proc, port, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${script} did not serve ${probePath} within ${SERVER_START_TIMEOUT_MS} ms:\n${output}`);
    }
    await sleep(100);
  }
}

/** Resident set size figures of a process from /proc, in kB. */
export function memoryOf(pid: number): { rssKb: number; hwmKb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssKb: field("VmRSS"), hwmKb: field("VmHWM") };
}

/**
 * Runs a benchmark's `main` as the process: exits with its code (0 when it returns none), and cleans up (Redis keys,
 * children) on SIGINT, SIGTERM or a failure. `on`, not `once`: node.ts re-raises a signal when its own handler is the
 * only one left, which would end the process before the clean-up is done.
 */
export function runBench(name: string, main: () => Promise<number | void>): void {
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      console.error(`${name}: ${signal}, cleaning up`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  main().then(
    (code) => process.exit(code ?? 0),
    async (error: unknown) => {
      console.error(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      await cleanUp();
      process.exit(1);
    },
  );
}
