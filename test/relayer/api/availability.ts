/**
 * The data-route guard and the readiness judgement (api/availability.ts) over a seeded projection in a real Redis:
 * which meta states close the data routes (halted, rebuilding, not built), which routes stay open, the reset hook,
 * and each readiness check's failing branch.
 */
import { expect } from "chai";
import { createAvailability, judgeReadiness, unavailableReason } from "../../../relayer/src/api/availability";
import type { Meta, ProjectionState } from "../../../relayer/src/store/store";
import request from "supertest";
import { createApi } from "../../../relayer/src/api/app";
import {
  RESOLUTION_WINDOW,
  dealIdOf,
  expectProblem,
  startSeededApi,
  type SeededApi,
  CHAIN_ID,
  ESCROW,
  GW1,
} from "../support/api";

const OWNER = `${CHAIN_ID}:${ESCROW.toLowerCase()}`;

/** Records a halt in meta as the indexer does: under the indexer lease. */
async function halt(api: SeededApi, reason: string) {
  const lease = await api.store.seizeLease("indexer", 60_000);
  expect(await api.store.setHalted(reason, lease)).to.equal(true);
}

describe("api/availability", function () {
  this.timeout(30_000);

  describe("projectionGuard on the data routes", function () {
    let api: SeededApi;
    beforeEach(async () => {
      api = await startSeededApi("avail");
    });
    afterEach(async () => {
      await api.close();
    });

    const DATA_ROUTES = () => [
      `/v1/deals/${dealIdOf(0)}`,
      "/v1/deals?limit=5",
      "/v1/gateways",
      `/v1/gateways/${GW1}`,
      "/v1/acceptors",
    ];

    it("when the projection is built → the data routes answer 200", async () => {
      for (const path of DATA_ROUTES()) expect((await api.http.get(path)).status, path).to.equal(200);
    });

    it("when meta records a halt → every data route answers 503 projection-unavailable with the reason, not the data", async () => {
      await halt(api, "reorg below block 20, deeper than the 3 confirmations kept");
      for (const path of DATA_ROUTES()) {
        const res = await api.http.get(path);
        const body = expectProblem(res, 503, "projection-unavailable");
        expect(body.detail, path).to.contain("reorg below block 20");
        expect(res.headers["retry-after"]).to.equal("1");
      }
    });

    it("when a rebuild is under way → 503 projection-unavailable, while operations routes still answer", async () => {
      await api.redis.hset(api.store.key("meta"), "rebuilding", "2026-12-04T16:00:00.000Z");
      expectProblem(await api.http.get(`/v1/deals/${dealIdOf(1)}`), 503, "projection-unavailable");
      expect((await api.http.get("/v1/health")).status).to.equal(200);
      expect((await api.http.get("/v1/openapi.json")).status).to.equal(200);
      expect((await api.http.get("/metrics")).status).to.equal(200);
    });

    it("when Redis was flushed under the API → an existing deal answers 503 projection-unavailable, not 404", async () => {
      await api.store.clear();
      const body = expectProblem(await api.http.get(`/v1/deals/${dealIdOf(2)}`), 503, "projection-unavailable");
      expect(body.detail).to.match(/being built/);
    });

    it("when the projection is flushed while the guard's state is cached → a 404 is re-checked and answered 503", async () => {
      const availability = createAvailability({ store: api.store, cacheMs: 3_600_000 });
      const app = createApi({
        common: api.common,
        store: api.store,
        availability,
        resolutionWindow: RESOLUTION_WINDOW,
        readiness: async () => ({ ready: true, checks: {} }),
      });
      const http = request(app);
      // Warms the guard's state, not the final-deal cache (a settled final deal read before would come from memory).
      expect((await http.get(`/v1/gateways/${GW1}`)).status).to.equal(200);
      await api.store.clear();
      expectProblem(await http.get(`/v1/deals/${dealIdOf(3)}`), 503, "projection-unavailable");
      expectProblem(await http.get(`/v1/gateways/${GW1}`), 503, "projection-unavailable");
    });

    it("when the readiness check never answers → /v1/ready still answers 503 not-ready", async () => {
      const app = createApi({
        common: api.common,
        store: api.store,
        resolutionWindow: RESOLUTION_WINDOW,
        readiness: () => new Promise(() => undefined),
      });
      const body = expectProblem(await request(app).get("/v1/ready"), 503, "not-ready");
      expect(body.checks).to.deep.equal({ readiness: "the readiness check failed" });
    });

    it("when a deal is really absent from a built projection → 404 deal-not-found still", async () => {
      expectProblem(await api.http.get(`/v1/deals/${"0x" + "ab".repeat(32)}`), 404, "deal-not-found");
    });

    it("when the projection is back (built again) → the routes answer again", async () => {
      await halt(api, "deep reorg");
      expectProblem(await api.http.get("/v1/gateways"), 503, "projection-unavailable");
      await api.redis.hdel(api.store.key("meta"), "halted");
      expect((await api.http.get("/v1/gateways")).status).to.equal(200);
    });
  });

  describe("onProjectionReset", function () {
    let api: SeededApi;
    before(async () => {
      api = await startSeededApi("avail-reset");
    });
    after(async () => {
      await api.close();
    });

    it("when the projection turns unavailable or its reorg count moves → the listeners run, once per change", async () => {
      const availability = createAvailability({ store: api.store, cacheMs: 0 });
      let resets = 0;
      availability.onProjectionReset(() => resets++);
      await availability.state();
      await availability.state();
      expect(resets, "a steady projection resets nothing").to.equal(0);
      await api.redis.hincrby(api.store.key("meta"), "reorgs", 1);
      await availability.state();
      expect(resets, "a rollback").to.equal(1);
      await halt(api, "deep");
      await availability.state();
      await availability.state();
      expect(resets, "a halt, seen twice").to.equal(2);
    });

    it("when the state is read → relayer_projection_available and relayer_leader_heartbeat say what it showed", async () => {
      const { metrics } = api.common;
      const availability = createAvailability({ store: api.store, metrics, cacheMs: 0 });
      await api.redis.hdel(api.store.key("meta"), "halted");
      await availability.state();
      expect((await metrics.projectionAvailable.get()).values[0].value).to.equal(1);
      expect((await metrics.leaderHeartbeat.get()).values[0].value).to.equal(0);
      await api.store.heartbeat(50, 60_000);
      await halt(api, "deep");
      await availability.state();
      expect((await metrics.projectionAvailable.get()).values[0].value).to.equal(0);
      expect((await metrics.leaderHeartbeat.get()).values[0].value).to.equal(1);
    });

    it("when reads come within the cache time → they share one read", async () => {
      const availability = createAvailability({ store: api.store, cacheMs: 60_000 });
      const first = await availability.state();
      await api.redis.hset(api.store.key("meta"), "head", "999999");
      expect(await availability.state()).to.equal(first);
    });
  });

  describe("judgeReadiness", function () {
    const meta = (over: Partial<Meta> = {}): Meta => ({
      block: 100,
      hash: "0x01",
      head: 100,
      backfilled: true,
      reorgs: 0,
      seq: 0,
      owner: OWNER,
      built: true,
      ...over,
    });
    const judge = (state: ProjectionState | undefined, over: { ownHead?: number; localHalt?: string } = {}) =>
      judgeReadiness({
        state,
        owner: OWNER,
        ownHead: "ownHead" in over ? over.ownHead : 100,
        maxLagBlocks: 2,
        ...over,
      });

    it("when everything holds → ready, every check true", () => {
      const result = judge({ meta: meta(), leaderHead: 101 });
      expect(result.ready).to.equal(true);
      expect(Object.values(result.checks).every((v) => v === true)).to.equal(true);
    });

    it("when Redis did not answer → not ready, redis check says so", () => {
      const result = judgeReadiness({ owner: OWNER, redisError: "unreachable: timeout", ownHead: 1, maxLagBlocks: 2 });
      expect(result).to.deep.include({ ready: false });
      expect(result.checks.redis).to.equal("unreachable: timeout");
    });

    it("when no heartbeat → not ready: leader: no heartbeat", () => {
      const result = judge({ meta: meta() });
      expect(result.ready).to.equal(false);
      expect(result.checks.leader).to.equal("no heartbeat");
    });

    it("when the leader's head is more than the allowed lag ahead → not ready, lag named", () => {
      const result = judge({ meta: meta(), leaderHead: 103 });
      expect(result.ready).to.equal(false);
      expect(result.checks.lag).to.match(/^3 blocks behind head 103/);
    });

    it("when this process's own RPC head is further ahead than the leader's → the lag counts from it", () => {
      const result = judge({ meta: meta(), leaderHead: 100 }, { ownHead: 110 });
      expect(result.checks.lag).to.match(/^10 blocks behind head 110/);
    });

    it("when the RPC node did not answer → not ready: rpc", () => {
      const result = judge({ meta: meta(), leaderHead: 100 }, { ownHead: undefined });
      expect(result.ready).to.equal(false);
      expect(result.checks.rpc).to.be.a("string");
    });

    it("when meta has no owner, is halted, rebuilding, unbuilt or still backfilling → not ready, each named", () => {
      const cases: [Partial<Meta>, string, RegExp][] = [
        [{ owner: undefined }, "claimed", /no owner/],
        [{ halted: "deep reorg" }, "projection", /^halted: deep reorg/],
        [{ rebuilding: "2026-12-04T16:00:00Z" }, "projection", /^rebuilding/],
        [{ built: false }, "projection", /not built/],
        [{ backfilled: false }, "backfilled", /backfill/],
        [{ block: undefined }, "lag", /nothing indexed/],
      ];
      for (const [over, check, text] of cases) {
        const result = judge({ meta: meta(over), leaderHead: 100 });
        expect(result.ready, JSON.stringify(over)).to.equal(false);
        expect(result.checks[check], JSON.stringify(over)).to.match(text);
      }
    });

    it("when this process's indexer halted before the halt reached Redis → not ready", () => {
      const result = judge({ meta: meta(), leaderHead: 100 }, { localHalt: "reorg below block 90" });
      expect(result.checks.projection).to.equal("halted: reorg below block 90");
    });

    it("unavailableReason: a projection that is only behind stays servable", () => {
      expect(unavailableReason(meta({ backfilled: false, block: 10, head: 500 }))).to.equal(undefined);
    });
  });
});
