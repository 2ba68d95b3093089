/**
 * A log-capture test of the relayer as a process: with an RPC URL that carries `user:pass@` and an API key in its
 * path, and a signer key in the environment, nothing the process writes (stdout or stderr) ever holds the password,
 * the key path segment, the Basic credentials or the signer key, not at startup, not while the RPC answers 401 and
 * 503, not at shutdown; and the relayer indexes again once the RPC recovers.
 */
import { testRedis, type RedisClient } from "../support/redis";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { Wallet } from "ethers";
import { createCommon } from "../../relayer/src/common";
import { parseOptions } from "../../relayer/src/options";
import { createStore } from "../../relayer/src/store/store";
import { testRedisUrl } from "../support/redis";
import { generateLoad } from "./support/activity";
import { startDeployed, type Deployed } from "./support/deployed";
import { caughtUp, deletePrefix, freshPrefix } from "./support/indexer";
import { spawnRelayer, type RelayerProcess } from "./support/relayer-process";

const USER = "escrow-ops";
const PASSWORD = "s3cr3t-pass-42";
const API_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Mode = "ok" | "401" | "503";

/** An RPC endpoint like a hosted provider's: /v3/<key> with Basic auth in front of the node; `mode` forces failures. */
async function startAuthProxy(target: string) {
  const state = { mode: "ok" as Mode, refused: 0, unavailable: 0, forwarded: 0, unauthenticated: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (state.mode === "401" || req.url !== `/v3/${API_KEY}` || req.headers.authorization !== `Basic ${BASIC}`) {
        if (state.mode === "ok") state.unauthenticated++;
        state.refused++;
        res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Basic realm="rpc"' });
        res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32002, message: "invalid project id" } }));
        return;
      }
      if (state.mode === "503") {
        state.unavailable++;
        res.writeHead(503, { "content-type": "text/html" });
        res.end(`<html>503 upstream ${req.url} unavailable</html>`);
        return;
      }
      state.forwarded++;
      fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: Buffer.concat(chunks) })
        .then(async (upstream) => {
          res.writeHead(upstream.status, { "content-type": "application/json" });
          res.end(Buffer.from(await upstream.arrayBuffer()));
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe("relayer logs: no secret ever reaches stdout or stderr", function () {
  this.timeout(300_000);
  let deployed: Deployed;
  let redis: RedisClient;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async function () {
    deployed = await startDeployed("logs");
    redis = testRedis();
  });

  after(async function () {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await redis?.quit();
    await deployed?.node.stop();
  });

  it("when the RPC URL holds user:pass@ and a key, and the RPC answers 401 then 503 for a while → nothing secret is written, and indexing resumes", async function () {
    const { node, deploymentFile, deployment, p } = deployed;
    const proxy = await startAuthProxy(node.url);
    cleanups.push(() => proxy.close());
    const signerKey = Wallet.createRandom().privateKey;
    const prefix = freshPrefix("logs");
    const rpcUrl = `http://${USER}:${PASSWORD}@127.0.0.1:${proxy.port}/v3/${API_KEY}`;
    const common = createCommon(
      parseOptions({ RPC_URL: node.url, DEPLOYMENT: deploymentFile, REDIS_PREFIX: prefix, LOG_LEVEL: "silent" }),
    );
    const store = createStore({
      common,
      redis,
      chainId: deployment.chainId,
      escrow: deployment.contracts.Escrow.address,
    });
    cleanups.push(() => deletePrefix(redis, prefix));

    const relayer: RelayerProcess = await spawnRelayer({
      RPC_URL: rpcUrl,
      REDIS_URL: testRedisUrl(),
      DEPLOYMENT: deploymentFile,
      REDIS_PREFIX: prefix,
      RELAYER_KEY: signerKey,
      CONFIRMATIONS: "1",
      POLL_INTERVAL_MS: "50",
      LOG_LEVEL: "debug",
      LOG_FORMAT: "json",
    });
    cleanups.push(() => relayer.kill());
    let output = "";
    relayer.proc.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    relayer.proc.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    // Started through the proxy: the Basic credentials went as a header, the key in the path.
    expect(proxy.state.forwarded, "requests the proxy accepted").to.be.greaterThan(0);
    expect(proxy.state.unauthenticated, "requests without valid credentials").to.equal(0);
    await caughtUp(p.provider, store);

    // Each failure mode lasts until the relayer has met it a few times (its backoff decides when it asks).
    const until = async (done: () => boolean) => {
      for (let waited = 0; !done() && waited < 60_000; waited += 50) await sleep(50);
    };
    proxy.state.mode = "401";
    await generateLoad(p, 2, 1);
    await until(() => proxy.state.refused >= 3);
    proxy.state.mode = "503";
    await until(() => proxy.state.unavailable >= 3);
    proxy.state.mode = "ok";
    expect(proxy.state.refused, "401s answered").to.be.greaterThan(0);
    expect(proxy.state.unavailable, "503s answered").to.be.greaterThan(0);

    await generateLoad(p, 2, 1);
    await caughtUp(p.provider, store);
    expect(await relayer.kill("SIGTERM"), "SIGTERM: shut down, exit 0").to.equal(0);

    const captured = [...relayer.logs.map((entry) => JSON.stringify(entry)), output].join("\n");
    for (const secret of [PASSWORD, API_KEY, BASIC, signerKey, signerKey.slice(2)]) {
      expect(captured.toLowerCase(), `the output holds ${secret.slice(0, 6)}…`).to.not.contain(secret.toLowerCase());
    }
    const lines = [...relayer.logs, ...output.split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : []))];
    const listening = lines.find((l) => l.msg === "api listening");
    expect(listening?.rpc).to.equal(`http://***@127.0.0.1:${proxy.port}/v3/***`);
    // The 401 is an error that says what to fix, not a retried network failure.
    const refused = lines.find((l) => l.msg === "rpc request failed" && /credentials/.test(String(l.error)));
    expect(refused, "a log line for the refused credentials").to.include({
      level: 50,
      kind: "non_retryable",
      reason: "http 401",
    });
  });
});
