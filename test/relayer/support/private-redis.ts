/**
 * A redis-server of a test's own, for tests that stop, hang (SIGSTOP) or restart Redis under a running relayer.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./node";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A redis-server of the test's own on a free port, persisting every write (so a restart keeps the data). */
export async function privateRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "relayer-private-redis-"));
  let server: ChildProcess | undefined;
  const start = async () => {
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""];
    server = spawn("redis-server", [...args, "--appendonly", "yes", "--appendfsync", "always"], { stdio: "ignore" });
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
    probe.on("error", () => undefined);
    for (let i = 0; i < 200; i++) {
      try {
        await probe.connect();
        await probe.ping();
        break;
      } catch {
        await sleep(25);
      }
    }
    probe.disconnect();
  };
  const stop = async () => {
    const s = server;
    if (!s || s.exitCode !== null || s.signalCode !== null) return;
    const gone = new Promise((r) => s.once("exit", r));
    s.kill("SIGCONT");
    s.kill("SIGTERM");
    await gone;
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, pid: () => server!.pid!, start, stop };
}
