/**
 * The submitter alone in a child process, for crash tests: `spawnSubmitter(env)` runs this file, which builds a
 * submitter from its environment, starts it and, when CRASH_AT names a point of sending, kills itself with SIGKILL
 * there (the first time it gets there). Errors are decoded by the relayer's own decoder (relayer/src/write/calls.ts).
 *
 * Child environment: RPC_URL, REDIS_URL, SUBMITTER_BASE, SUBMITTER_KEY (never an argument: it would show in the
 * process list), ESCROW, CONFIRMATIONS, SUBMITTER_OPTIONS (JSON of SubmitterOptions), CRASH_AT
 * ("afterTake" | "afterRecord" | "afterBroadcast").
 */
import { testRedis } from "../../support/redis";
import { spawn, type ChildProcess } from "node:child_process";
import { writeSync } from "node:fs";
import pino from "pino";
import { createChain } from "../../../relayer/src/chain/chain";
import { createCommon } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { createSubmitter, type SubmitterHooks } from "../../../relayer/src/submitter/submitter";
import { decodeError } from "../../../relayer/src/write/calls";
import { ROOT } from "./node";

export type SubmitterProcess = {
  proc: ChildProcess;
  logs: Record<string, unknown>[];
  exited: Promise<number | string>;
  /** Resolves when a log line satisfies `test` (rejects after `ms`). */
  logged(test: (line: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  kill(): Promise<number | string>;
};

/** Runs this file as a child with `env` and resolves once its submitter started. */
export async function spawnSubmitter(env: Record<string, string>): Promise<SubmitterProcess> {
  const proc = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", __filename], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { test: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  let buffer = "";
  let stderr = "";
  proc.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        logs.push(line);
        for (const w of [...waiters]) {
          if (w.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    proc.on("close", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const logged = (test: (l: Record<string, unknown>) => boolean, ms = 60_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = logs.find(test);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`no such log line in ${ms} ms; stderr: ${stderr}`)), ms);
      waiters.push({
        test,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  await Promise.race([
    logged((l) => l.msg === "child ready"),
    exited.then((code) => Promise.reject(new Error(`submitter child exited (${code}): ${stderr}`))),
  ]);
  return {
    proc,
    logs,
    exited,
    logged,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      return exited;
    },
  };
}

async function main(): Promise<void> {
  const env = process.env;
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const logger = pino({ level: "info", base: { service: "submitter-child" } });
  const common = createCommon(
    parseOptions({ RPC_URL: required("RPC_URL"), DEPLOYMENT: "x", LOG_LEVEL: "info" }),
    logger,
  );
  const chain = createChain({ common, rpcUrl: required("RPC_URL") });
  const redis = testRedis({ maxRetriesPerRequest: 2 });
  const crashAt = env.CRASH_AT as keyof SubmitterHooks | undefined;
  const crash = () => {
    // written synchronously: a SIGKILL right after must not lose the line
    writeSync(1, JSON.stringify({ msg: "crashing", at: crashAt }) + "\n");
    process.kill(process.pid, "SIGKILL");
  };
  const hooks: SubmitterHooks = crashAt ? { [crashAt]: crash } : {};
  const submitter = createSubmitter({
    common,
    chain,
    redis,
    base: required("SUBMITTER_BASE"),
    signerKey: required("SUBMITTER_KEY"),
    escrow: required("ESCROW"),
    confirmations: Number(env.CONFIRMATIONS ?? "1"),
    decodeError,
    options: JSON.parse(env.SUBMITTER_OPTIONS ?? "{}"),
    hooks,
  });
  await submitter.start();
  logger.info({ msg: "child ready", address: submitter.address });
  const stop = async () => {
    await submitter.stop();
    chain.close();
    redis.disconnect();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
