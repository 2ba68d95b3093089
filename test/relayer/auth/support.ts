/**
 * Fixtures of the auth tests: the real Redis (REDIS_URL, else 127.0.0.1:6379) under a key prefix of each suite's
 * own, deleted after; a TCP relay in front of it that can stall (a Redis that stops answering, for deadlines); and a
 * small express app with the API's error handler, on which a test mounts the middleware it checks.
 */
import { deleteKeys } from "../../../relayer/src/redis";
import { testRedis, type RedisClient, keysOf } from "../../support/redis";
import { expect } from "chai";
import express, { type NextFunction, type Request, type Response } from "express";
import { Redis } from "ioredis";
import { randomBytes } from "node:crypto";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { ApiProblem, problemOf, sendProblem } from "../../../relayer/src/api/problems";

/**
 * The Redis of the run. Read when a suite starts, not when this module loads: the root hook (test/support/redis.ts)
 * sets REDIS_URL after mocha has loaded every test file.
 */
export const redisUrl = () => process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A client of the test run's Redis (a cluster under `npm run test:cluster`), or of one node at `url` (a relay). */
export const connectRedis = async (url?: string) => {
  const settings = { lazyConnect: true, maxRetriesPerRequest: 1 };
  const redis: RedisClient = url === undefined ? testRedis(settings) : new Redis(url, settings);
  await redis.connect();
  return redis;
};

/** A fresh `test-auth-<name>-<random>` prefix, its `{keys}` base, and the clean-up that deletes (and checks) it. */
export function testPrefix(name: string) {
  const prefix = `test-auth-${name}-${randomBytes(6).toString("hex")}`;
  return {
    prefix,
    base: `${prefix}:{keys}:`,
    async clean(redis: RedisClient): Promise<void> {
      const found = await keysOf(redis, `${prefix}:*`);
      await deleteKeys(redis, found);
      expect(await keysOf(redis, `${prefix}:*`)).to.deep.equal([]);
    },
  };
}

/** A TCP relay to Redis; while stalled it forwards nothing in either direction (Redis seems to hang). */
export async function startStallingRelay(url = redisUrl()) {
  const target = new URL(url);
  let stalled = false;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => sockets.delete(s));
    }
    const pipe = (from: Socket, to: Socket) =>
      from.on("data", (chunk: Buffer) => {
        if (stalled) held.push(() => to.write(chunk));
        else to.write(chunk);
      });
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    stall: () => {
      stalled = true;
    },
    /** Forwards what was held, and everything after. */
    resume: () => {
      stalled = false;
      for (const f of held.splice(0)) f();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An express app whose failures become problems as in the API (api/app.ts); `mount` adds middleware and routes. */
export function appWith(mount: (app: express.Express) => void): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", true);
  mount(app);
  app.use((req: Request) => {
    throw new ApiProblem("not-found", `No route matches ${req.method} ${req.path}.`);
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { problem, headers } = problemOf(error);
    problem.instance = req.path;
    sendProblem(res, problem, headers);
  });
  return app;
}
