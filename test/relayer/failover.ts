/**
 * Leader failover, fencing and exactly-once submissions across real relayer processes (spawnRelayer) on one Hardhat
 * node and one Redis (REDIS_CLUSTER, when set, is passed on to the processes). Spec: failover.tree.
 */
import { expect } from "chai";
import { testRedis, type RedisClient } from "../support/redis";
import type { Store } from "../../relayer/src/store/store";
import {
  caughtUp as caughtUpWith,
  deletePrefix,
  freshPrefix,
  startIndexer,
  storeForDeployment,
} from "./support/indexer";
import { generateLoad, runAllPaths } from "./support/activity";
import { minedFrom, noNonceGaps } from "./support/chain-control";
import { metric, spawnRelayer, type RelayerProcess } from "./support/relayer-process";
import { startWriteRelayer, type WriteRelayer } from "./support/write";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WAIT_MS = 90_000;
const LEASE_TTL_MS = 1_000;

/** Polls `check` until it returns a value other than undefined (fails after WAIT_MS with `what`). */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const tokenOf = (lease: string | undefined) => (lease === undefined ? -1 : Number(lease.split(":")[0]));
/** The pid in a lease value "<token>:<host>:<pid>:<random>". */
const pidOf = (lease: string | undefined) => (lease === undefined ? -1 : Number(lease.split(":").at(-2)));

describe("relayer failover: one leader, fencing, submissions of a dead replica", function () {
  this.timeout(600_000);
  let w: WriteRelayer;
  let redis: RedisClient;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    // One node for the file: the write relayer's (in process), whose deployment the spawned replicas share.
    w = await startWriteRelayer("failover");
    redis = testRedis();
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await redis?.quit();
    await w?.stop();
  });

  /** REDIS_CLUSTER, when the suite runs against a cluster, passed on to the processes (nothing else). */
  const cluster = (): Record<string, string> =>
    process.env.REDIS_CLUSTER ? { REDIS_CLUSTER: process.env.REDIS_CLUSTER } : {};
  const indexerEnv = (prefix: string, extra: Record<string, string> = {}) => ({
    RPC_URL: w.node.url,
    DEPLOYMENT: w.deploymentFile,
    REDIS_PREFIX: prefix,
    CONFIRMATIONS: "3",
    POLL_INTERVAL_MS: "30",
    LEASE_TTL_MS: String(LEASE_TTL_MS),
    LOG_RANGE_MAX: "8",
    ...cluster(),
    ...extra,
  });
  const storeFor = (prefix: string): Store => {
    cleanups.push(() => deletePrefix(redis, prefix));
    return storeForDeployment(redis, w.node.url, w.deploymentFile, prefix);
  };
  const spawn = async (env: Record<string, string>) => {
    const r = await spawnRelayer(env);
    cleanups.push(() => r.kill());
    return r;
  };
  const caughtUp = (store: Store) => caughtUpWith(w.p.provider, store, { timeoutMs: WAIT_MS });
  const leaderFlag = (r: RelayerProcess) => metric(r.port, "relayer_indexer_leader");
  /** The replicas whose metrics say they lead (each asked once). */
  const leaders = async (rs: RelayerProcess[]) => {
    const flags = await Promise.all(rs.map(leaderFlag));
    return rs.filter((_, i) => flags[i] === 1);
  };

  let active = false;
  /** History for the indexer's scenarios, once (after the submissions': the paths move the chain's clock on, past
   * the expiry of signatures made from the wall clock). */
  async function activity() {
    if (active) return;
    active = true;
    await runAllPaths(w.p);
    await generateLoad(w.p, 30, 3);
  }

  /** A fresh in-process rebuild's projection, for comparison. */
  async function rebuild(): Promise<Record<string, unknown>> {
    const prefix = freshPrefix("failover-rebuild");
    const r = startIndexer({
      rpcUrl: w.node.url,
      deploymentFile: w.deploymentFile,
      redis,
      prefix,
      env: { CONFIRMATIONS: "3", POLL_INTERVAL_MS: "20" },
      holder: "rebuild",
    });
    cleanups.push(() => r.store.clear());
    await caughtUp(r.store);
    await r.stop();
    return r.store.dumpProjection();
  }

  it("submissions queued on a replica killed before sending them are completed by another, each exactly once, no nonce gap", async function () {
    const deals = [await w.openDeal(), await w.openDeal(), await w.openDeal()];
    // The in-process relayer steps out of the signer's queue: the two replicas below share it.
    await w.relayer.submitter!.stop();
    const fromBlock = (await w.p.provider.getBlockNumber()) + 1;
    const env = Object.fromEntries(Object.entries(w.options).filter((e): e is [string, string] => e[1] !== undefined));
    const shared = { ...env, LOG_LEVEL: "info", SUBMIT_LEASE_MS: "2000", ...cluster() };
    // A holds what it takes for a minute before sending (its batch window): killed inside it, it sent nothing.
    const a = await spawn({ ...shared, SUBMIT_BATCH_WINDOW_MS: "60000" });
    await until("A to lead the submitter", async () =>
      a.logs.some((l) => l.msg === "submitter leading") ? true : undefined,
    );
    const b = await spawn({ ...shared, SUBMIT_BATCH_WINDOW_MS: "150" });
    const sentBefore = await w.sent();

    const ids: string[] = [];
    for (const { dealId, payee } of deals) {
      const body = await w.signed(dealId, "performed", payee);
      const res = await fetch(`http://127.0.0.1:${a.port}/v1/deals/${dealId}/confirmations`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await w.key("party", payee)}` },
        body: JSON.stringify(body),
      });
      const answer = (await res.json()) as { submission: { id: string; status: string } };
      expect(res.status, JSON.stringify(answer)).to.equal(202);
      ids.push(answer.submission.id);
    }
    await a.kill("SIGKILL");
    expect(await w.sent(), "A sent nothing before it died").to.equal(sentBefore);

    const final = await Promise.all(
      ids.map((id) =>
        until(`submission ${id} on B`, async () => {
          const res = await fetch(`http://127.0.0.1:${b.port}/v1/submissions/${id}`);
          const view = (await res.json()) as { status: string; transactionHash?: string };
          return view.status === "final" || view.status === "failed" ? view : undefined;
        }),
      ),
    );
    expect(final.map((s) => s.status)).to.deep.equal(["final", "final", "final"]);
    for (const { dealId } of deals) await w.indexed(dealId, "performed");
    // Exactly once: the signer mined the transactions the submissions name and no other, none reverted.
    const mined = await minedFrom(w.p.provider, w.signer, fromBlock);
    const named = new Set(final.map((s) => s.transactionHash!));
    expect(new Set(mined.map((t) => t.hash))).to.deep.equal(named);
    for (const t of mined) expect((await w.p.provider.getTransactionReceipt(t.hash))!.status).to.equal(1);
    expect(await noNonceGaps(w.p.provider, w.signer, await minedFrom(w.p.provider, w.signer, 0))).to.equal(true);
    expect(b.logs.some((l) => l.msg === "submitter leading")).to.equal(true);
    await b.kill("SIGTERM");
  });

  it("three replicas: exactly one indexes; SIGKILL of the leader → another takes the lease with a higher token and continues from the checkpoint", async function () {
    await activity();
    const prefix = freshPrefix("failover-three");
    const store = storeFor(prefix);
    const replicas = [] as RelayerProcess[];
    for (let i = 0; i < 3; i++) replicas.push(await spawn(indexerEnv(prefix)));
    await caughtUp(store);

    const [leader, ...more] = await until("one leader", async () => {
      const found = await leaders(replicas);
      return found.length === 1 ? found : undefined;
    });
    expect(more).to.deep.equal([]);
    const first = (await store.leaseHolder())!;
    expect(pidOf(first), "the lease names the leading process").to.equal(leader.proc.pid);
    // Every replica serves reads, leader or not.
    for (const r of replicas) expect((await fetch(`http://127.0.0.1:${r.port}/v1/deals?limit=5`)).status).to.equal(200);

    await leader.kill("SIGKILL");
    const survivors = replicas.filter((r) => r !== leader);
    await generateLoad(w.p, 6, 2);
    const next = await until("a successor", async () => {
      const found = await leaders(survivors);
      return found.length === 1 ? found[0] : undefined;
    });
    const second = (await store.leaseHolder())!;
    expect(pidOf(second)).to.equal(next.proc.pid);
    expect(tokenOf(second)).to.be.greaterThan(tokenOf(first));
    await caughtUp(store);
    expect(await leaders(survivors)).to.deep.equal([next]);
    for (const r of survivors) await r.kill("SIGTERM");
    // No block skipped, none applied twice: the same projection as a fresh rebuild.
    expect(await store.dumpProjection()).to.deep.equal(await rebuild());
  });

  it("fencing: a leader paused (SIGSTOP) past the lease TTL is replaced; woken (SIGCONT), it commits nothing, logs the lost lease and follows", async function () {
    await activity();
    const prefix = freshPrefix("failover-fence");
    const store = storeFor(prefix);
    const a = await spawn(indexerEnv(prefix));
    const b = await spawn(indexerEnv(prefix));
    await caughtUp(store);
    const [old] = await until("one leader", async () => {
      const found = await leaders([a, b]);
      return found.length === 1 ? found : undefined;
    });
    const standby = old === a ? b : a;
    const before = (await store.leaseHolder())!;

    old.proc.kill("SIGSTOP");
    try {
      await generateLoad(w.p, 6, 2);
      await until("the standby to lead", async () => ((await leaderFlag(standby)) === 1 ? true : undefined));
      await caughtUp(store);
    } finally {
      old.proc.kill("SIGCONT");
    }
    const taken = (await store.leaseHolder())!;
    expect(pidOf(taken)).to.equal(standby.proc.pid);
    expect(tokenOf(taken)).to.be.greaterThan(tokenOf(before));

    // Woken, the old leader still believes it leads until a renewal or a commit is refused by the token.
    await until("the old leader to notice", async () =>
      old.logs.some((l) => l.msg === "indexer lease lost") ? true : undefined,
    );
    await until("the old leader to follow", async () => ((await leaderFlag(old)) === 0 ? true : undefined));
    await generateLoad(w.p, 4, 2);
    await caughtUp(store);
    expect(await leaders([a, b])).to.deep.equal([standby]);
    expect(await store.leaseHolder()).to.equal(taken);
    expect((await fetch(`http://127.0.0.1:${old.port}/v1/deals?limit=5`)).status, "it serves reads").to.equal(200);
    for (const r of [a, b]) await r.kill("SIGTERM");
    expect(await store.dumpProjection()).to.deep.equal(await rebuild());
  });
});
