/**
 * A second relayer process for the reservation property test: `forkReserver(env)` runs this file, which builds the
 * reservations over its own Redis connection and, for each batch it is sent, fires every reservation at once and
 * answers which succeeded.
 *
 * Child environment: REDIS_URL, RES_BASE (the write side's base W), RES_PROJECTION_BASE (the store's keyPrefix).
 */
import { testRedis } from "../../support/redis";
import { fork, type ChildProcess } from "node:child_process";
import { createReservations } from "../../../relayer/src/orders/reservations";
import { ROOT } from "./node";

export type ReserveAsk = { orderId: string; acceptor: string; token: string; amount: string; ttlMs: number };
type Batch = { batch: number; asks: ReserveAsk[] };
type Answer = { batch: number; ok: boolean[] } | { batch: number; error: string };

export type Reserver = {
  /** Sends a batch; resolves with whether each reservation succeeded. */
  reserve(asks: ReserveAsk[]): Promise<boolean[]>;
  /** Resolves once the child has its connection (send the first batch after this, to overlap them). */
  ready: Promise<void>;
  stop(): Promise<void>;
};

export function forkReserver(env: Record<string, string>): Reserver {
  const child: ChildProcess = fork(__filename, [], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    execArgv: ["-r", "ts-node/register/transpile-only"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let next = 0;
  const waiting = new Map<number, { resolve: (ok: boolean[]) => void; reject: (e: Error) => void }>();
  let readyResolve!: () => void;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  child.on("message", (m: Answer | "ready") => {
    if (m === "ready") return readyResolve();
    const w = waiting.get(m.batch);
    waiting.delete(m.batch);
    if ("error" in m) w?.reject(new Error(m.error));
    else w?.resolve(m.ok);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("exit", (code) => {
    for (const w of waiting.values()) w.reject(new Error(`reserver exited with ${code}`));
    waiting.clear();
  });
  return {
    ready,
    reserve(asks) {
      const batch = ++next;
      return new Promise((resolve, reject) => {
        waiting.set(batch, { resolve, reject });
        child.send({ batch, asks } satisfies Batch);
      });
    },
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

if (require.main === module) {
  const redis = testRedis({ maxRetriesPerRequest: 1 });
  const reservations = createReservations({
    redis,
    base: process.env.RES_BASE!,
    projectionBase: process.env.RES_PROJECTION_BASE!,
  });
  process.on("message", (m: Batch) => {
    Promise.all(m.asks.map((a) => reservations.reserve(a.orderId, a.acceptor, a.token, BigInt(a.amount), a.ttlMs)))
      .then((results) => process.send!({ batch: m.batch, ok: results.map((r) => r.ok) } satisfies Answer))
      .catch((e: unknown) => process.send!({ batch: m.batch, error: String(e) } satisfies Answer));
  });
  process.on("SIGTERM", () => {
    redis.disconnect();
    process.exit(0);
  });
  redis.ping().then(
    () => process.send!("ready"),
    (e: unknown) => {
      process.stderr.write(`reserver: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
