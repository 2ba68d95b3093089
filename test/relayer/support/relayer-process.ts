/**
 * Runs the relayer as a real child process (as `npm run relayer` does, from its sources), for crash, failover and
 * restart tests, and for its command line (help, usage errors and their exit code).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { OPTIONS } from "../../../relayer/src/options";
import { ROOT } from "./node";

const START_TIMEOUT_MS = 60_000;
/** The relayer from its sources, transpiled on the fly: `node <RELAYER_ENTRY...> [options]`. */
const RELAYER_ENTRY = ["-r", "ts-node/register/transpile-only", "relayer/src/index.ts"];

export type RelayerProcess = {
  proc: ChildProcess;
  /** The API port, known once the process logged "api listening". */
  port: number;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code or signal. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
};

/** Spawns the relayer with `env` (on top of the test process's environment) and waits until its API listens. */
export async function spawnRelayer(env: Record<string, string>): Promise<RelayerProcess> {
  const proc = spawn(process.execPath, RELAYER_ENTRY, {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  let buffer = "";
  const exited = new Promise<number | string>((resolve) => {
    proc.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`relayer did not start in ${START_TIMEOUT_MS} ms: ${stderr}`)),
      START_TIMEOUT_MS,
    );
    proc.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === "api listening") {
            clearTimeout(timer);
            resolve(Number(entry.port));
          }
        } catch {
          // not a log line
        }
      }
    });
    proc.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`relayer exited (${code}) before listening: ${stderr}`));
    });
  });
  return {
    proc,
    port,
    logs,
    exited,
    kill: (signal = "SIGKILL") => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Reads one gauge from the process's /metrics. */
export async function metric(port: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

/**
 * Runs `node <script> [args]` from the project root (`script` is the relayer's source entry unless given) to its end,
 * with `env` over the test process's environment minus every relayer option, and returns its exit code and output.
 */
export async function runToEnd(
  args: string[],
  { env = {}, script = RELAYER_ENTRY }: { env?: Record<string, string>; script?: string[] } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const o of Object.values(OPTIONS)) delete clean[o.env];
  const proc = spawn(process.execPath, [...script, ...args], {
    cwd: ROOT,
    env: { ...clean, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    proc.once("error", reject);
    proc.once("close", (exitCode) => resolve(exitCode));
  });
  return { code, stdout, stderr };
}
