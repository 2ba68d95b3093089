/**
 * The read API against a real Redis (REDIS_URL, default 127.0.0.1:6379): the projection is seeded by committing protocol events
 * through the store's real write path (lease + commit), then every route is exercised over HTTP.
 */
import { onCluster, testRedis, type RedisClient } from "../../support/redis";
import { expect } from "chai";
import { id as keccakId } from "ethers";
import { Redis } from "ioredis";
import { Agent, request as httpRequest } from "node:http";
import request from "supertest";
import type { Common } from "../../../relayer/src/common";
import { MAX_URL_LENGTH } from "../../../relayer/src/api/app";
import { createAvailability } from "../../../relayer/src/api/availability";
import { PROBLEM_BASE } from "../../../relayer/src/api/problems";
import { startServer, type RunningServer } from "../../../relayer/src/api/server";
import { createStore, type Store } from "../../../relayer/src/store/store";
import {
  CHAIN_ID,
  addr,
  ESCROW,
  USDT,
  DAI,
  GW1,
  GW2,
  GW3,
  ACC1,
  ACC2,
  ACC3,
  PARTIES,
  SEPA,
  PIX,
  DEAL_COUNT,
  FLOAT,
  RESOLUTION_WINDOW,
  RECENT,
  LONG_AGO,
  txHashOf,
  blockHashOf,
  type EventBody,
  timeOfBlock,
  CONFIRMATIONS,
  newestFirst,
  type Res,
  raw,
  rawSocket,
  expectProblem,
  READY,
  type SeededApi,
  type Seed,
  startSeededApi,
  apiOver,
} from "../support/api";
import { prng } from "../support/random";
import { randomBytes } from "node:crypto";
import { createCommon } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { createApi } from "../../../relayer/src/api/app";
import { createFinalCache } from "../../../relayer/src/api/final-cache";
import type { ProtocolEvent } from "../../../protocol";

type Res2 = { body: { data: never[]; nextCursor: string | null } };

describe("relayer read API", function () {
  let api: SeededApi;
  let redis: RedisClient;
  let common: Common;
  let store: Store;
  let server: RunningServer;
  let http: SeededApi["http"];
  let seed: Seed;
  let head: number;

  const model = (i: number) => seed.deals[i];
  const allNewestFirst = () => [...seed.deals].sort(newestFirst);
  /** The fees a gateway earned in the seed, per token (as the seed settles: releases, rulings, splits). */
  const feesOf = (gateway: string) => {
    const fees = new Map<string, bigint>();
    for (const d of seed.deals.filter((x) => x.gateway === gateway)) {
      const fee = (d.amount * 50n) / 10_000n;
      const earned =
        d.status === "split"
          ? (((d.amount * 7n) / 10n) * 50n) / 10_000n
          : d.status === "released" || d.status === "resolved"
            ? fee
            : 0n;
      if (earned > 0n) fees.set(d.token, (fees.get(d.token) ?? 0n) + earned);
    }
    return [...fees].sort(([a], [b]) => (a < b ? -1 : 1)).map(([token, amount]) => ({ token, amount: String(amount) }));
  };

  before(async function () {
    api = await startSeededApi("api");
    ({ redis, common, store, server, http, seed, head } = api);
  });

  after(async function () {
    await api?.close();
  });

  /* -------------------------------------------- GET /v1/deals/{id} -------------------------------------------- */

  describe("GET /v1/deals/{dealId}", function () {
    describe("content", function () {
      it("returns every field of an open deal", async function () {
        const d = model(0);
        const res = await http
          .get(`/v1/deals/${d.dealId}`)
          .expect(200)
          .expect("Content-Type", /^application\/json/);
        expect(res.body).to.deep.include({
          dealId: d.dealId,
          status: "open",
          kind: "payment",
          payer: d.payer,
          payee: d.payee,
          gateway: d.gateway,
          token: d.token,
          amount: d.amount.toString(),
          deadline: d.deadline,
          releaseWindow: 3600,
          feeBps: 50,
          autoRelease: true,
          salt: keccakId("salt-0"),
          ref: keccakId("ref-0"),
          payerReleased: false,
          flags: 0,
          evidence: [],
          openedBlock: 20,
          updatedBlock: 20,
          openedAt: timeOfBlock(20),
          updatedAt: timeOfBlock(20),
          // Counted up to the confirmation depth: past it, final is final.
          confirmations: CONFIRMATIONS,
          finality: "final",
        });
        expect(res.body).not.to.have.any.keys(
          "payeeAmount",
          "fee",
          "refund",
          "refundReason",
          "resolvedBy",
          "disputeRuler",
          "lockedBy",
          "lockExpiry",
        );
        expect(res.body.history).to.have.length(1);
        expect(res.body.history[0]).to.deep.equal({
          event: "DealOpened",
          blockNumber: 20,
          txHash: txHashOf(20, d.history[0].logIndex),
          logIndex: d.history[0].logIndex,
          timestamp: timeOfBlock(20),
          args: { ref: keccakId("ref-0") },
          confirmations: CONFIRMATIONS,
          finality: "final",
        });
      });

      it("returns the settlement of a released deal and its whole history in order", async function () {
        const d = model(2);
        const res = await http.get(`/v1/deals/${d.dealId}`).expect(200);
        const fee = (d.amount * 50n) / 10_000n;
        expect(res.body).to.deep.include({
          status: "released",
          payerReleased: true,
          payeeAmount: (d.amount - fee).toString(),
          fee: fee.toString(),
          refund: "0",
          updatedBlock: d.updatedBlock,
        });
        expect(
          res.body.history.map((h: { event: string; blockNumber: number; logIndex: number }) => [
            h.event,
            h.blockNumber,
            h.logIndex,
          ]),
        ).to.deep.equal(d.history.map((h) => [h.event, h.block, h.logIndex]));
      });

      it("returns the reason of a refund and the resolver of a dispute", async function () {
        const refunded = await http.get(`/v1/deals/${model(3).dealId}`).expect(200);
        expect(refunded.body).to.deep.include({
          status: "refunded",
          refundReason: "deadline",
          refund: model(3).amount.toString(),
        });
        const resolved = await http.get(`/v1/deals/${model(4).dealId}`).expect(200);
        expect(resolved.body).to.deep.include({
          status: "resolved",
          resolvedBy: model(4).gateway,
          disputedBy: model(4).payer,
          gatewayHolds: true,
          reasons: keccakId("reasons-4"),
        });
        expect(resolved.body).not.to.have.any.keys("disputeRuler", "resolutionDeadline");
        const disputed = await http.get(`/v1/deals/${model(9).dealId}`).expect(200);
        expect(disputed.body).to.deep.include({ status: "disputed", disputedBy: model(9).payer });
        expect(disputed.body).not.to.have.property("resolvedBy");
      });

      it("says who may rule a disputed deal now, by its gateway's standing read at request time", async function () {
        const ruler = async (i: number) => {
          const res = await http.get(`/v1/deals/${model(i).dealId}`).expect(200);
          return res.body as { disputeRuler: string; resolutionDeadline: number; gatewayHolds: boolean; flags: number };
        };
        expect(await ruler(9)).to.deep.include({
          gatewayHolds: true,
          flags: 2,
          resolutionDeadline: RECENT + RESOLUTION_WINDOW,
          disputeRuler: "gateway",
        });
        // Raised while the gateway could not hold it; and a held one whose window is long over.
        expect(await ruler(19)).to.deep.include({ gatewayHolds: false, flags: 0, disputeRuler: "arbiter" });
        expect(await ruler(29)).to.deep.include({
          gatewayHolds: true,
          resolutionDeadline: LONG_AGO + RESOLUTION_WINDOW,
          disputeRuler: "arbiter",
        });
        // Governance suspends the gateway: its held disputes pass to the arbiter at once (and back on reinstating).
        const gw = store.key(`gw:${model(9).gateway}`);
        await redis.hset(gw, "suspended", "1");
        try {
          expect((await ruler(9)).disputeRuler).to.equal("arbiter");
          const listed = await http.get(`/v1/deals?status=disputed&limit=100`).expect(200);
          const nine = listed.body.data.find((d: { dealId: string }) => d.dealId === model(9).dealId);
          expect(nine.disputeRuler).to.equal("arbiter");
        } finally {
          await redis.hset(gw, "suspended", "0");
        }
        expect((await ruler(9)).disputeRuler).to.equal("gateway");
        const listed = await http.get(`/v1/deals?status=disputed&limit=100`).expect(200);
        expect(listed.body.data.find((d: { dealId: string }) => d.dealId === model(9).dealId).disputeRuler).to.equal(
          "gateway",
        );
      });

      it("lists a disputed deal's evidence with its block and transaction", async function () {
        const d = model(9);
        const res = await http.get(`/v1/deals/${d.dealId}`).expect(200);
        const posted = d.history.filter((h) => h.event === "EvidencePosted");
        expect(res.body.evidence).to.deep.equal([
          {
            by: d.payer,
            contentHash: keccakId("a"),
            uri: "ipfs://a",
            blockNumber: posted[0].block,
            txHash: txHashOf(posted[0].block, posted[0].logIndex),
          },
          {
            by: d.gateway,
            contentHash: keccakId("b"),
            uri: "",
            blockNumber: posted[1].block,
            txHash: txHashOf(posted[1].block, posted[1].logIndex),
          },
        ]);
      });

      it("shows a split deal's shares", async function () {
        const d = model(10);
        const share = (d.amount * 7n) / 10n;
        const fee = (share * 50n) / 10_000n;
        const res = await http.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(res.body).to.deep.include({
          status: "split",
          payeeAmount: (share - fee).toString(),
          fee: fee.toString(),
          refund: (d.amount - share).toString(),
        });
        expect(res.body.history.map((h: { event: string }) => h.event)).to.deep.equal(["DealOpened", "DealSplit"]);
      });

      it("is pending until the latest event has the confirmation depth, per history entry too", async function () {
        const last = seed.deals.filter((d) => d.updatedBlock === seed.lastBlock);
        expect(last).not.to.be.empty;
        const d = last[0];
        const res = await http.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(res.body.confirmations).to.equal(2);
        expect(res.body.finality).to.equal("pending");
        expect(res.body.history[0].finality).to.equal("final");
        expect(res.body.history.at(-1)).to.deep.include({ confirmations: 2, finality: "pending" });
        await store.setProgress(head + 1, true);
        try {
          const later = await http.get(`/v1/deals/${d.dealId}`).expect(200);
          expect(later.body).to.deep.include({ confirmations: 3, finality: "final" });
        } finally {
          await store.setProgress(head, true);
        }
      });

      it("accepts the id in any case and answers in lower case", async function () {
        const d = model(7);
        const res = await http.get(`/v1/deals/0x${d.dealId.slice(2).toUpperCase()}`).expect(200);
        expect(res.body.dealId).to.equal(d.dealId);
      });

      it("counts the locked float of an open on-ramp deal on its acceptor", async function () {
        const d = model(5);
        expect(d.kind).to.equal("onramp");
        const res = await http.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(res.body).to.deep.include({
          kind: "onramp",
          payer: ACC1,
          lockedBy: addr(0xd001),
          lockExpiry: d.deadline + d.releaseWindow + RESOLUTION_WINDOW,
        });
      });
    });

    describe("errors", function () {
      it("answers an unknown deal with a deal-not-found problem", async function () {
        const unknown = keccakId("nope");
        const res = await http.get(`/v1/deals/${unknown}`);
        const body = expectProblem(res, 404, "deal-not-found");
        expect(body.detail).to.contain(unknown);
        expect(body.instance).to.equal(`/v1/deals/${unknown}`);
      });

      for (const bad of [
        "0x1234",
        "abc",
        `0x${"g".repeat(64)}`,
        `0x${"a".repeat(65)}`,
        `${"a".repeat(66)}`,
        `0X${"a".repeat(64)}`,
      ]) {
        it(`refuses the malformed id ${bad.slice(0, 12)}… (length ${bad.length})`, async function () {
          const body = expectProblem(await http.get(`/v1/deals/${bad}`), 400, "invalid-parameter");
          expect(body.errors).to.deep.equal([
            { parameter: "dealId", in: "path", message: "must be 0x followed by 64 hex digits" },
          ]);
          expect(body.detail).to.contain("dealId");
        });
      }

      it("refuses bad percent-encoding in the path with a 400", async function () {
        const res = await raw(server.port, "GET", "/v1/deals/%E0%A4%A");
        expect(res.status).to.equal(400);
        expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
        expect(JSON.parse(res.body).type).to.equal(PROBLEM_BASE + "invalid-parameter");
      });

      it("refuses query parameters it does not take", async function () {
        const body = expectProblem(await http.get(`/v1/deals/${model(0).dealId}?verbose=1`), 400, "invalid-parameter");
        expect(body.errors).to.deep.equal([
          { parameter: "verbose", in: "query", message: "is unknown (known: chainId)" },
        ]);
      });
    });
  });

  /* ----------------------------------------------- GET /v1/deals ----------------------------------------------- */

  describe("GET /v1/deals", function () {
    /** Follows nextCursor to the end; returns the pages. */
    async function allPages(
      query: string,
    ): Promise<{ dealId: string; status: string; payer: string; payee: string; gateway: string }[][]> {
      const pages = [];
      let cursor: string | null = null;
      for (let n = 0; n < 500; n++) {
        const url: string = `/v1/deals?${query}${cursor ? `&cursor=${cursor}` : ""}`;
        const res = await http.get(url).expect(200);
        pages.push(res.body.data);
        cursor = res.body.nextCursor;
        if (cursor === null) return pages;
        expect(cursor).to.match(/^[A-Za-z0-9_-]+$/);
      }
      throw new Error("pagination does not end");
    }

    describe("listing and pagination", function () {
      it("lists the 20 most recently updated deals by default", async function () {
        const res = await http.get("/v1/deals").expect(200);
        expect(res.body.data.map((d: { dealId: string }) => d.dealId)).to.deep.equal(
          allNewestFirst()
            .slice(0, 20)
            .map((d) => d.dealId),
        );
        expect(res.body.nextCursor).to.be.a("string");
        expect(res.body.data[0]).to.have.property("history").that.is.an("array").and.not.empty;
      });

      for (const limit of [1, 7, 16, 63]) {
        it(`pages through all ${DEAL_COUNT} deals with limit ${limit}: stable order, no duplicates, no gaps`, async function () {
          const pages = await allPages(`limit=${limit}`);
          for (const page of pages.slice(0, -1)) expect(page).to.have.length(limit);
          const ids = pages.flat().map((d) => d.dealId);
          expect(new Set(ids).size).to.equal(ids.length);
          expect(ids).to.deep.equal(allNewestFirst().map((d) => d.dealId));
        });
      }

      it("ends with a null cursor when the last page is exactly full", async function () {
        const pages = await allPages(`limit=16`);
        expect(pages).to.have.length(DEAL_COUNT / 16);
        const one = await http.get(`/v1/deals?limit=100`).expect(200);
        expect(one.body.data).to.have.length(DEAL_COUNT);
        expect(one.body.nextCursor).to.equal(null);
      });

      it("gives the same page for the same cursor", async function () {
        const first = await http.get("/v1/deals?limit=5").expect(200);
        const a = await http.get(`/v1/deals?limit=5&cursor=${first.body.nextCursor}`).expect(200);
        const b = await http.get(`/v1/deals?cursor=${first.body.nextCursor}&limit=5`).expect(200);
        expect(a.body).to.deep.equal(b.body);
        expect(a.body.data.map((d: { dealId: string }) => d.dealId)).to.deep.equal(
          allNewestFirst()
            .slice(5, 10)
            .map((d) => d.dealId),
        );
      });
    });

    describe("filters", function () {
      it("filters by party, as payer and as payee", async function () {
        const party = PARTIES[1];
        const expected = allNewestFirst().filter((d) => d.payer === party || d.payee === party);
        expect(expected.some((d) => d.payer === party)).to.equal(true);
        expect(expected.some((d) => d.payee === party)).to.equal(true);
        const pages = await allPages(`party=${party.toUpperCase().replace("0X", "0x")}&limit=4`);
        expect(pages.flat().map((d) => d.dealId)).to.deep.equal(expected.map((d) => d.dealId));
      });

      it("filters by gateway", async function () {
        const expected = allNewestFirst().filter((d) => d.gateway === GW2);
        const pages = await allPages(`gateway=${GW2}&limit=9`);
        expect(pages.flat().map((d) => d.dealId)).to.deep.equal(expected.map((d) => d.dealId));
        const none = await http.get(`/v1/deals?gateway=${GW3}`).expect(200);
        expect(none.body).to.deep.equal({ data: [], nextCursor: null });
      });

      for (const status of ["open", "performed", "released", "refunded", "disputed", "resolved", "split"] as const) {
        it(`filters by status ${status}`, async function () {
          const expected = allNewestFirst().filter((d) => d.status === status);
          expect(expected).not.to.be.empty;
          const pages = await allPages(`status=${status}&limit=3`);
          expect(pages.flat().map((d) => d.dealId)).to.deep.equal(expected.map((d) => d.dealId));
          for (const d of pages.flat()) expect(d.status).to.equal(status);
        });
      }

      it("combines status with party: scans a bounded number of deals and returns shorter pages with a cursor", async function () {
        const party = PARTIES[4];
        const expected = allNewestFirst().filter(
          (d) => (d.payer === party || d.payee === party) && d.status === "resolved",
        );
        const partyDeals = allNewestFirst().filter((d) => d.payer === party || d.payee === party);
        expect(expected.length).to.be.greaterThan(0);
        const pages = await allPages(`party=${party}&status=resolved&limit=1`);
        expect(pages.flat().map((d) => d.dealId)).to.deep.equal(expected.map((d) => d.dealId));
        // limit 1 scans at most 5 of the party's deals per request.
        expect(pages.length).to.be.at.least(Math.ceil(partyDeals.length / 5));
        expect(pages.some((p) => p.length === 0)).to.equal(true);
        for (const p of pages) expect(p.length).to.be.at.most(1);
      });

      it("combines status with gateway", async function () {
        const expected = allNewestFirst().filter((d) => d.gateway === GW1 && d.status === "open");
        const pages = await allPages(`gateway=${GW1}&status=open&limit=2`);
        expect(pages.flat().map((d) => d.dealId)).to.deep.equal(expected.map((d) => d.dealId));
      });
    });

    describe("validation", function () {
      const cases: [string, string, string][] = [
        ["limit=0", "limit", "must be an integer from 1 to 100"],
        ["limit=101", "limit", "must be an integer from 1 to 100"],
        ["limit=1.5", "limit", "must be an integer from 1 to 100"],
        ["limit=-1", "limit", "must be an integer from 1 to 100"],
        ["limit=1e1", "limit", "must be an integer from 1 to 100"],
        ["limit=abc", "limit", "must be an integer from 1 to 100"],
        ["limit=", "limit", "must be an integer from 1 to 100"],
        ["status=closed", "status", "must be one of open, performed, released, refunded, disputed, resolved, split"],
        ["status=OPEN", "status", "must be one of open, performed, released, refunded, disputed, resolved, split"],
        ["party=0x123", "party", "must be an address: 0x followed by 40 hex digits"],
        [`party=${"ab".repeat(21)}`, "party", "must be an address: 0x followed by 40 hex digits"],
        [`gateway=0x${"zz".repeat(20)}`, "gateway", "must be an address: 0x followed by 40 hex digits"],
        ["cursor=not*base64", "cursor", "must be a cursor returned as nextCursor (base64url)"],
        [`cursor=${"A".repeat(513)}`, "cursor", "must be at most 512 characters"],
        [`cursor=${Buffer.from("not json").toString("base64url")}`, "cursor", "is not a cursor returned by this API"],
        [
          `cursor=${Buffer.from('{"s":-1,"id":"0x","f":"-|-"}').toString("base64url")}`,
          "cursor",
          "is not a cursor returned by this API",
        ],
        [`cursor=${Buffer.from("null").toString("base64url")}`, "cursor", "is not a cursor returned by this API"],
        ["foo=bar", "foo", "is unknown (known: party, gateway, ref, status, overdue, chainId, cursor, limit)"],
        [
          "__proto__=x",
          "__proto__",
          "is unknown (known: party, gateway, ref, status, overdue, chainId, cursor, limit)",
        ],
        ["chainId=0x7a69", "chainId", "must be a chain id: a positive decimal integer"],
        ["chainId=0", "chainId", "must be a chain id: a positive decimal integer"],
        ["chainId=999", "chainId", "no chain 999 is served here; known chains: 31337"],
        ["limit=5&limit=6", "limit", "is repeated; give it once"],
        ["status=%E0%A4%A", "status", "has a malformed percent-encoded value"],
      ];
      for (const [query, parameter, message] of cases) {
        it(`refuses ${query.slice(0, 40)}`, async function () {
          const res = await raw(server.port, "GET", `/v1/deals?${query}`);
          const body = expectProblem({ ...res, body: JSON.parse(res.body) }, 400, "invalid-parameter");
          expect(body.errors).to.deep.equal([{ parameter, in: "query", message }]);
          expect(body.detail).to.contain(`"${parameter}"`);
        });
      }

      it("refuses party together with gateway", async function () {
        const body = expectProblem(
          await http.get(`/v1/deals?party=${PARTIES[0]}&gateway=${GW1}`),
          400,
          "invalid-parameter",
        );
        expect(body.errors![0]).to.include({ parameter: "gateway", in: "query" });
        expect(body.errors![0].message).to.contain("party");
      });

      it("lists every invalid parameter at once", async function () {
        const body = expectProblem(await http.get(`/v1/deals?limit=0&status=x&bogus=1`), 400, "invalid-parameter");
        expect(body.errors!.map((e) => e.parameter).sort()).to.deep.equal(["bogus", "limit", "status"]);
      });

      it("refuses a cursor issued for other filters", async function () {
        const first = await http.get(`/v1/deals?limit=2&party=${PARTIES[0]}`).expect(200);
        const cursor = first.body.nextCursor as string;
        for (const other of [`party=${PARTIES[1]}`, "", `party=${PARTIES[0]}&status=open`, `gateway=${GW1}`]) {
          const body = expectProblem(
            await http.get(`/v1/deals?limit=2&cursor=${cursor}${other ? `&${other}` : ""}`),
            400,
            "invalid-parameter",
          );
          expect(body.errors).to.deep.equal([
            { parameter: "cursor", in: "query", message: "was issued for another list or other filters" },
          ]);
        }
        // The same filters in another case are the same filters.
        await http
          .get(`/v1/deals?limit=2&cursor=${cursor}&party=${PARTIES[0].toUpperCase().replace("0X", "0x")}`)
          .expect(200);
      });
    });
  });

  /* ------------------------------------------------ gateways ------------------------------------------------ */

  describe("GET /v1/gateways", function () {
    it("lists every gateway in registration order", async function () {
      const res = await http.get("/v1/gateways").expect(200);
      expect(res.body.data.map((g: { address: string }) => g.address)).to.deep.equal([GW1, GW2, GW3]);
      expect(res.body.data[0]).to.deep.equal({
        address: GW1,
        status: "active",
        suspended: false,
        canRule: true,
        bond: "5000000000",
        feeBps: 50,
        feeCapBps: 300,
        exitAt: 0,
        openDisputes: 0,
        metadata: keccakId(GW1),
        feesEarned: feesOf(GW1),
        registeredBlock: 10,
        updatedBlock: 10,
        finality: "final",
      });
      expect(res.body.data[2].status).to.equal("pending");
    });

    it("returns one gateway, given in any case", async function () {
      const res = await http.get(`/v1/gateways/${GW2.toUpperCase().replace("0X", "0x")}`).expect(200);
      expect(res.body).to.deep.include({ address: GW2, status: "active", feeCapBps: 200 });
    });

    it("answers an unknown gateway with gateway-not-found and a bad address with 400", async function () {
      expectProblem(await http.get(`/v1/gateways/${addr(0xdead)}`), 404, "gateway-not-found");
      const body = expectProblem(await http.get(`/v1/gateways/0x12`), 400, "invalid-parameter");
      expect(body.errors).to.deep.equal([
        { parameter: "address", in: "path", message: "must be an address: 0x followed by 40 hex digits" },
      ]);
      expectProblem(await http.get(`/v1/gateways?x=1`), 400, "invalid-parameter");
    });
  });

  /* ------------------------------------------------ acceptors ------------------------------------------------ */

  describe("GET /v1/acceptors", function () {
    const addresses = (res: request.Response) => res.body.data.map((a: { address: string }) => a.address);

    it("lists every acceptor in registration order", async function () {
      const res = await http.get("/v1/acceptors").expect(200);
      expect(addresses(res)).to.deep.equal([ACC1, ACC2, ACC3]);
    });

    it("filters by payment method given by name (hashed) or by id in any case", async function () {
      expect(addresses(await http.get("/v1/acceptors?method=SEPA:EUR").expect(200))).to.deep.equal([ACC1, ACC2]);
      expect(
        addresses(await http.get(`/v1/acceptors?method=${encodeURIComponent("PIX:BRL")}`).expect(200)),
      ).to.deep.equal([ACC2, ACC3]);
      expect(addresses(await http.get(`/v1/acceptors?method=${SEPA}`).expect(200))).to.deep.equal([ACC1, ACC2]);
      expect(
        addresses(await http.get(`/v1/acceptors?method=0x${PIX.slice(2).toUpperCase()}`).expect(200)),
      ).to.deep.equal([ACC2, ACC3]);
      expect(addresses(await http.get("/v1/acceptors?method=ACH:USD").expect(200))).to.deep.equal([]);
      expect(addresses(await http.get("/v1/acceptors?method=sepa:eur").expect(200))).to.deep.equal([]);
    });

    it("filters by token (limits or float) and by status", async function () {
      expect(addresses(await http.get(`/v1/acceptors?token=${USDT}`).expect(200))).to.deep.equal([ACC1]);
      expect(addresses(await http.get(`/v1/acceptors?token=${DAI}`).expect(200))).to.deep.equal([ACC2]);
      expect(addresses(await http.get(`/v1/acceptors?token=${addr(0x9999)}`).expect(200))).to.deep.equal([]);
      expect(addresses(await http.get("/v1/acceptors?status=active").expect(200))).to.deep.equal([ACC1, ACC2]);
      expect(addresses(await http.get("/v1/acceptors?status=suspended").expect(200))).to.deep.equal([ACC3]);
      expect(addresses(await http.get("/v1/acceptors?status=active&method=PIX:BRL").expect(200))).to.deep.equal([ACC2]);
      expect(
        addresses(await http.get(`/v1/acceptors?status=active&method=SEPA:EUR&token=${DAI}`).expect(200)),
      ).to.deep.equal([ACC2]);
    });

    it("returns one acceptor with limits and free and locked float per token", async function () {
      const onramp = model(5);
      const res = await http.get(`/v1/acceptors/${ACC1}`).expect(200);
      expect(res.body).to.deep.equal({
        address: ACC1,
        status: "active",
        gateway: GW1,
        lockDelegate: addr(0xd001),
        methods: [SEPA],
        paymentMethods: [{ method: SEPA, name: "SEPA:EUR" }],
        tokens: [
          {
            token: USDT,
            minAmount: "10000000",
            maxAmount: "50000000000",
            free: (FLOAT - onramp.amount).toString(),
            locked: onramp.amount.toString(),
          },
        ],
        registeredBlock: 11,
        // The on-ramp lock (its deal's open) is the acceptor's latest change: float moves count as updates.
        updatedBlock: onramp.updatedBlock,
        finality: "final",
      });
      const two = await http.get(`/v1/acceptors/${ACC2.toUpperCase().replace("0X", "0x")}`).expect(200);
      expect(two.body.methods).to.deep.equal([SEPA, PIX].sort());
      expect(two.body.tokens).to.deep.equal([{ token: DAI, minAmount: "1", maxAmount: "2", free: "0", locked: "0" }]);
    });

    it("validates method, token, status and the address", async function () {
      const cases: [string, string, string][] = [
        ["method=0x1234", "method", "a method id must be 0x followed by 64 hex digits"],
        ["method=", "method", "a method name must be 1 to 64 printable ASCII characters (or pass a bytes32 id)"],
        [
          `method=${"A".repeat(65)}`,
          "method",
          "a method name must be 1 to 64 printable ASCII characters (or pass a bytes32 id)",
        ],
        ["method=%C3%A9", "method", "a method name must be 1 to 64 printable ASCII characters (or pass a bytes32 id)"],
        ["token=usdt", "token", "must be an address: 0x followed by 40 hex digits"],
        ["status=open", "status", "must be one of pending, active, suspended"],
        ["foo=5", "foo", "is unknown (known: method, token, status, cursor, limit)"],
        ["limit=0", "limit", "must be an integer from 1 to 100"],
        ["cursor=!!", "cursor", "must be a cursor returned as nextCursor (base64url)"],
        ["method=SEPA:EUR&method=PIX:BRL", "method", "is repeated; give it once"],
      ];
      for (const [query, parameter, message] of cases) {
        const body = expectProblem(await http.get(`/v1/acceptors?${query}`), 400, "invalid-parameter");
        expect(body.errors, query).to.deep.equal([{ parameter, in: "query", message }]);
      }
      expectProblem(await http.get(`/v1/acceptors/${addr(0xbeef)}`), 404, "acceptor-not-found");
      expectProblem(await http.get(`/v1/acceptors/nope`), 400, "invalid-parameter");
    });
  });

  /* ------------------------------------------ operations endpoints ------------------------------------------ */

  describe("health, readiness, metrics", function () {
    it("GET /v1/health is 200 while the process is up, with what the token monitor last saw", async function () {
      const res = await http
        .get("/v1/health")
        .expect(200)
        .expect("Content-Type", /^application\/json/);
      expect(res.body).to.deep.equal({ status: "ok", tokens: [] });
      api.tokenHealth = [
        { token: USDT, allowed: true, escrowBlacklisted: true, paused: false, checkedAt: 1_700_000_000_000 },
        { token: DAI, allowed: false, escrowBlacklisted: null, paused: null, checkedAt: 1_700_000_000_001 },
      ];
      try {
        expect((await http.get("/v1/health").expect(200)).body).to.deep.equal({
          status: "ok",
          tokens: api.tokenHealth,
        });
      } finally {
        api.tokenHealth = [];
      }
    });

    it("GET /v1/ready is 200 when ready, 503 not-ready with the checks otherwise", async function () {
      api.readiness = READY;
      expect((await http.get("/v1/ready").expect(200)).body).to.deep.equal({
        ready: true,
        checks: { redis: true, indexer: true },
      });
      api.readiness = { ready: false, checks: { redis: true, indexer: "backfilling" } };
      try {
        const body = expectProblem(await http.get("/v1/ready"), 503, "not-ready");
        expect(body).to.deep.include({ ready: false, checks: { redis: true, indexer: "backfilling" } });
        expect(body.detail).to.contain("indexer");
        api.readiness = new Error("secret internals");
        const failed = expectProblem(await http.get("/v1/ready"), 503, "not-ready");
        expect(failed.checks).to.deep.equal({ readiness: "the readiness check failed" });
        expect(JSON.stringify(failed)).not.to.contain("secret");
      } finally {
        api.readiness = READY;
      }
    });

    it("GET /metrics serves the request histogram labelled by route pattern, never by raw URL", async function () {
      await http.get(`/v1/deals/${model(1).dealId}`).expect(200);
      await http.get(`/v1/gateways/${addr(0xdead)}`).expect(404);
      await http.get(`/v1/no/such/route`).expect(404);
      const res = await http
        .get("/metrics")
        .expect(200)
        .expect("Content-Type", /^text\/plain/);
      expect(res.text).to.contain("# TYPE relayer_http_request_duration_seconds histogram");
      expect(res.text).to.match(
        /relayer_http_request_duration_seconds_bucket\{le="[0-9.]+",method="GET",route="\/v1\/deals\/:dealId",status="200"\}/,
      );
      expect(res.text).to.match(
        /relayer_http_request_duration_seconds_count\{method="GET",route="\/v1\/gateways\/:address",status="404"\} [1-9]/,
      );
      expect(res.text).to.match(/route="unmatched",status="404"/);
      expect(res.text).not.to.contain(model(1).dealId);
      expect(res.text).not.to.contain("no/such");
    });
  });

  /* ------------------------------------------------- errors ------------------------------------------------- */

  describe("protocol errors", function () {
    it("answers unknown routes with a not-found problem", async function () {
      for (const path of ["/v1/nope", "/", "/v2/deals", "/v1/deals/0x12/extra", "/v1/gateways/a/b"]) {
        const body = expectProblem(await http.get(path), 404, "not-found");
        expect(body.instance).to.equal(path);
      }
    });

    it("answers other methods with 405 and Allow, naming the methods the path takes", async function () {
      const allowed: Record<string, string> = {
        [`/v1/deals/${model(0).dealId}`]: "GET, HEAD, OPTIONS",
        "/v1/deals": "GET, POST, HEAD, OPTIONS",
        "/metrics": "GET, HEAD, OPTIONS",
        "/v1/health": "GET, HEAD, OPTIONS",
        [`/v1/deals/${model(0).dealId}/confirmations`]: "POST, OPTIONS",
      };
      for (const method of ["post", "put", "patch", "delete"] as const) {
        for (const [path, allow] of Object.entries(allowed)) {
          if (allow.includes(method.toUpperCase())) continue;
          const res = await http[method](path);
          expectProblem(res, 405, "method-not-allowed");
          expect(res.headers.allow).to.equal(allow);
        }
      }
    });

    it("answers OPTIONS with 204 and Allow, HEAD like GET without a body", async function () {
      const options = await http.options("/v1/deals").expect(204);
      expect(options.headers.allow).to.equal("GET, POST, HEAD, OPTIONS");
      const head = await raw(server.port, "HEAD", `/v1/deals/${model(0).dealId}`);
      expect(head.status).to.equal(200);
      expect(head.body).to.equal("");
      expect(head.headers["content-type"]).to.match(/^application\/json/);
    });

    it("does not announce express", async function () {
      const res = await http.get("/v1/health").expect(200);
      expect(res.headers).not.to.have.property("x-powered-by");
    });

    it("answers a malformed JSON body with 400 and a huge one with 413", async function () {
      const bad = await http.get("/v1/health").set("Content-Type", "application/json").send('{"a":');
      expectProblem(bad, 400, "malformed-request");
      const post = await http.post("/v1/deals").set("Content-Type", "application/json").send("{nope");
      expectProblem(post, 400, "malformed-request");
      const huge = await http
        .post("/v1/deals")
        .set("Content-Type", "application/json")
        .send(`{"a":"${"x".repeat(200_000)}"}`);
      expectProblem(huge, 413, "payload-too-large");
    });

    it("answers a URL over the limit with 414 and a request head over node's limit with 431", async function () {
      const long = await raw(server.port, "GET", `/v1/deals?party=${"a".repeat(MAX_URL_LENGTH)}`);
      expect(long.status).to.equal(414);
      expect(long.headers["content-type"]).to.match(/^application\/problem\+json/);
      expect(JSON.parse(long.body).type).to.equal(PROBLEM_BASE + "uri-too-long");
      const huge = await rawSocket(
        server.port,
        Buffer.from(`GET /v1/deals?x=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
      );
      expect(huge.status).to.equal(431);
      expect(huge.headers["content-type"]).to.match(/^application\/problem\+json/);
      expect(JSON.parse(huge.body)).to.include({ type: PROBLEM_BASE + "headers-too-large", status: 431 });
      const garbage = await rawSocket(server.port, Buffer.from("NONSENSE\r\n\r\n"));
      expect(garbage.status).to.equal(400);
      expect(JSON.parse(garbage.body)).to.include({ type: PROBLEM_BASE + "malformed-request", status: 400 });
    });

    it("answers a store outage with 503 unavailable and a bug with a 500 that leaks nothing", async function () {
      const closed = testRedis({ lazyConnect: true });
      await closed.connect();
      await closed.quit();
      const deadStore = createStore({ common, redis: closed, chainId: CHAIN_ID, escrow: ESCROW });
      const down = request(apiOver(common, deadStore, false));
      const res = await down.get(`/v1/deals/${model(0).dealId}`);
      expectProblem(res, 503, "unavailable");
      expect(res.headers["retry-after"]).to.equal("1");

      const buggy: Store = {
        ...store,
        getDeal: async () => Promise.reject(new TypeError("secret internals at /srv/app.js:1")),
      };
      const bug = request(apiOver(common, buggy));
      const failed = await bug.get(`/v1/deals/${model(0).dealId}`);
      const body = expectProblem(failed, 500, "internal");
      expect(JSON.stringify(body)).not.to.match(/secret|app\.js|TypeError|stack/);
    });

    it("caches the head for META_CACHE_MS by default", async function () {
      const cachedApi = request(apiOver(common, store));
      // A pending deal: its confirmations grow with the head (up to the depth).
      const d = allNewestFirst()[0];
      const first = await cachedApi.get(`/v1/deals/${d.dealId}`).expect(200);
      expect(first.body.confirmations).to.be.lessThan(CONFIRMATIONS);
      await store.setProgress(head + 10, true);
      try {
        const soon = await cachedApi.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(soon.body.confirmations).to.equal(first.body.confirmations);
        await new Promise((r) => setTimeout(r, 300));
        const later = await cachedApi.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(later.body.confirmations).to.equal(CONFIRMATIONS);
      } finally {
        await store.setProgress(head, true);
      }
    });

    it("closes with idle keep-alive connections open", async function () {
      const other = await startServer(apiOver(common, store), 0, "127.0.0.1");
      const keepAlive = new Agent({ keepAlive: true });
      await new Promise<void>((resolve, reject) => {
        httpRequest({ host: "127.0.0.1", port: other.port, path: "/v1/health", agent: keepAlive }, (res) => {
          res.resume();
          res.on("end", resolve);
        })
          .on("error", reject)
          .end();
      });
      const started = Date.now();
      await other.close();
      expect(Date.now() - started).to.be.below(1000);
      keepAlive.destroy();
    });
  });

  /* -------------------------------------------------- fuzz -------------------------------------------------- */

  describe("fuzz", function () {
    const FUZZ_REQUESTS = 2500;
    const FUZZ_SEED = 0xe5c0;

    it(`answers ${FUZZ_REQUESTS} malformed requests with < 500, and every error as problem+json`, async function () {
      const rand = prng(FUZZ_SEED);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
      const int = (n: number) => Math.floor(rand() * n);
      const validCursor = (await http.get("/v1/deals?limit=3").expect(200)).body.nextCursor as string;
      const atoms = [
        "",
        "0x",
        model(0).dealId,
        model(0).dealId.toUpperCase(),
        PARTIES[1],
        GW1,
        "open",
        "resolved",
        "SEPA:EUR",
        "1",
        "100",
        "101",
        "-5",
        "1e3",
        "NaN",
        "null",
        "true",
        "[]",
        "{}",
        "%",
        "%%",
        "%zz",
        "%E0%A4%A",
        "%C3%28",
        "%ED%A0%80",
        "%00",
        "%2F",
        "%2e%2e",
        "..",
        "//",
        "%F0%9F%92%A9",
        "%C3%A9",
        "+",
        "=",
        "&",
        "__proto__",
        "constructor",
        "toString",
        validCursor,
        validCursor.slice(0, 10),
        Buffer.from('{"s":1,"id":"x"}').toString("base64url"),
      ];
      const names = [
        "party",
        "gateway",
        "status",
        "cursor",
        "limit",
        "method",
        "token",
        "foo",
        "__proto__",
        "constructor",
        "PARTY",
        "limit[]",
        "a%5Bb%5D",
        "%E0%A4%A",
        "",
      ];
      const bases = [
        "/v1",
        "/v1/deals",
        "/v1/deals/",
        "/v1/gateways",
        "/v1/gateways/",
        "/v1/acceptors",
        "/v1/acceptors/",
        "/v1/health",
        "/v1/ready",
        "/metrics",
        "/v1/openapi.json",
        "",
        "/v1//deals",
        "/V1/DEALS",
      ];
      const methods = [
        "GET",
        "GET",
        "GET",
        "GET",
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "DELETE",
        "PATCH",
        "OPTIONS",
        "PROPFIND",
        "TRACE",
      ];
      const token = (): string => {
        const r = rand();
        if (r < 0.5) return pick(atoms);
        if (r < 0.7) return Array.from({ length: 1 + int(5) }, () => pick(atoms)).join("");
        if (r < 0.8) {
          const codePoint = () => {
            const c = 0x80 + int(0x2ffff);
            return c >= 0xd800 && c <= 0xdfff ? c + 0x800 : c; // no lone surrogates: they have no UTF-8
          };
          return encodeURIComponent(String.fromCodePoint(...Array.from({ length: 1 + int(4) }, codePoint)));
        }
        if (r < 0.9) return "a".repeat(int(3) === 0 ? 9000 : 1 + int(2000));
        return Array.from({ length: 1 + int(30) }, () => String.fromCharCode(0x21 + int(0x5e)))
          .join("")
          .replace(/[#?]/g, "_");
      };
      type Case = { method: string; path: string; rawUnicode?: boolean };
      const cases: Case[] = [];
      for (let n = 0; n < FUZZ_REQUESTS; n++) {
        let path = pick(bases);
        if (path.endsWith("/") || rand() < 0.3) path += token();
        if (rand() < 0.15) path += `/${token()}`;
        if (rand() < 0.7) {
          const params = Array.from({ length: int(5) }, () => {
            const name = rand() < 0.8 ? pick(names) : token();
            return rand() < 0.1 ? name : `${name}=${token()}`;
          });
          if (rand() < 0.2 && params.length > 0) params.push(params[0]);
          path += `?${params.join(pick(["&", "&", "&&", ";"]))}`;
        }
        cases.push({
          method: pick(methods),
          path: path.startsWith("/") ? path : `/${path}`,
          rawUnicode: rand() < 0.03,
        });
      }

      const failures: string[] = [];
      const statuses = new Map<number, number>();
      const check = (c: Case, res: Res) => {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const where = `${c.method} ${c.path.slice(0, 120)} → ${res.status}`;
        if (res.status >= 500) failures.push(`${where}: ${res.body.slice(0, 200)}`);
        if (res.status >= 400) {
          if (!/^application\/problem\+json/.test(String(res.headers["content-type"])))
            failures.push(`${where}: content-type ${res.headers["content-type"]}`);
          if (c.method !== "HEAD") {
            try {
              const body = JSON.parse(res.body);
              if (typeof body.type !== "string" || !body.type.startsWith(PROBLEM_BASE) || body.status !== res.status) {
                failures.push(`${where}: bad problem ${res.body.slice(0, 200)}`);
              }
            } catch {
              failures.push(`${where}: not JSON ${res.body.slice(0, 200)}`);
            }
          }
        }
      };
      let next = 0;
      const worker = async () => {
        while (next < cases.length) {
          const c = cases[next++];
          let res: Res;
          if (c.rawUnicode) {
            const path = c.path + "é€😀";
            res = await rawSocket(
              server.port,
              Buffer.from(`${c.method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, "utf8"),
            );
          } else {
            try {
              res = await raw(server.port, c.method, c.path);
            } catch (error) {
              failures.push(`${c.method} ${c.path.slice(0, 120)}: ${(error as Error).message}`);
              continue;
            }
          }
          check(c, res);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      expect(failures, failures.slice(0, 10).join("\n")).to.deep.equal([]);
      // The fuzz reached both the validation and the routing: many 400s and 404s, some successes.
      expect(statuses.get(400) ?? 0).to.be.greaterThan(200);
      expect(statuses.get(404) ?? 0).to.be.greaterThan(100);
      expect(statuses.get(200) ?? 0).to.be.greaterThan(10);
    });
  });

  /* -------------------------------- what merchants ask for, and read performance -------------------------------- */

  describe("merchant reads (refs, owed, fee revenue, overdue disputes, method names, pagination)", function () {
    const ids = (res: { body: { data: { dealId: string }[] } }) => res.body.data.map((d) => d.dealId);

    /** A projection of its own (own prefix, real commit path) served by its own app: `events` by block. */
    async function privateApi(name: string, blocks: [number, EventBody[]][]) {
      const prefix = `test-${name}-${randomBytes(4).toString("hex")}`;
      const own = createCommon(
        parseOptions({
          RPC_URL: "http://127.0.0.1:8545",
          DEPLOYMENT: "none.json",
          REDIS_PREFIX: prefix,
          CONFIRMATIONS: "3",
          LOG_LEVEL: "silent",
        }),
      );
      const ownStore = createStore({ common: own, redis, chainId: CHAIN_ID, escrow: ESCROW });
      const lease = (await ownStore.lease("private", 60_000))!;
      let previous: number | undefined;
      for (const [block, bodies] of blocks) {
        const events = bodies.map(
          (body, logIndex) =>
            ({
              timestamp: timeOfBlock(block),
              ...body,
              block,
              blockHash: blockHashOf(block),
              txHash: txHashOf(block, logIndex),
              logIndex,
            }) as ProtocolEvent,
        );
        const result = await ownStore.commit({
          leaseValue: lease,
          expectBlock: previous,
          toBlock: block,
          toHash: blockHashOf(block),
          events,
          undoable: false,
          blockHashes: [],
          pruneBlocks: [],
        });
        expect(result).to.equal("OK");
        previous = block;
      }
      await ownStore.setProgress(blocks.at(-1)![0] + 10, true);
      return { store: ownStore, http: request(apiOver(own, ownStore)), clear: () => ownStore.clear() };
    }

    const openedBody = (i: number, ref: string, payer = PARTIES[i % 6]): EventBody => ({
      type: "DealOpened",
      dealId: keccakId(`private-${i}`),
      ref,
      deal: {
        payer,
        payee: PARTIES[(i + 1) % 6],
        gateway: GW1,
        token: USDT,
        amount: 1_000n,
        deadline: 1_900_000_000,
        releaseWindow: 3600,
        feeBps: 50,
        kind: "payment",
        autoRelease: false,
        salt: keccakId(`private-salt-${i}`),
      },
    });

    it("when several deals share a ref → GET /v1/deals?ref= lists them all, newest first, across pages", async function () {
      const shared = keccakId("order-42");
      const p = await privateApi("ref", [
        [5, [{ type: "GatewayRegistered", gateway: GW1, bond: 1n, feeBps: 50, metadata: keccakId("m") }]],
        [6, [openedBody(0, shared, PARTIES[0]), openedBody(1, keccakId("other"))]],
        [7, [openedBody(2, shared, PARTIES[3]), openedBody(3, `0x${"00".repeat(32)}`)]],
        [8, [openedBody(4, shared, PARTIES[4])]],
      ]);
      try {
        const want = [4, 2, 0].map((i) => keccakId(`private-${i}`));
        const all = await p.http.get(`/v1/deals?ref=${shared.toUpperCase().replace("0X", "0x")}`).expect(200);
        expect(ids(all)).to.deep.equal(want);
        expect(all.body.nextCursor).to.equal(null);
        const first = await p.http.get(`/v1/deals?ref=${shared}&limit=2`).expect(200);
        expect(ids(first)).to.deep.equal(want.slice(0, 2));
        const second = await p.http.get(`/v1/deals?ref=${shared}&limit=2&cursor=${first.body.nextCursor}`).expect(200);
        expect(ids(second)).to.deep.equal(want.slice(2));
        expect(second.body.nextCursor).to.equal(null);
        // A cursor of the ref list is refused on another list.
        expectProblem(await p.http.get(`/v1/deals?cursor=${first.body.nextCursor}`), 400, "invalid-parameter");
        // The zero ref is "none": nothing is indexed under it.
        expect(ids(await p.http.get(`/v1/deals?ref=0x${"00".repeat(32)}`).expect(200))).to.deep.equal([]);
        // And a ref with a status filter.
        expect(ids(await p.http.get(`/v1/deals?ref=${shared}&status=open`).expect(200))).to.deep.equal(want);
        expect(ids(await p.http.get(`/v1/deals?ref=${shared}&status=released`).expect(200))).to.deep.equal([]);
      } finally {
        await p.clear();
      }
    });

    it("when the seeded deals have refs → each is found by its own, and bad refs or combinations are 400", async function () {
      const d = model(7);
      expect(ids(await http.get(`/v1/deals?ref=${keccakId("ref-7")}`).expect(200))).to.deep.equal([d.dealId]);
      expect(ids(await http.get(`/v1/deals?ref=${keccakId("no such ref")}`).expect(200))).to.deep.equal([]);
      const bad = expectProblem(await http.get("/v1/deals?ref=0x12"), 400, "invalid-parameter");
      expect(bad.errors).to.deep.equal([
        { parameter: "ref", in: "query", message: "must be a ref: 0x followed by 64 hex digits" },
      ]);
      const both = expectProblem(
        await http.get(`/v1/deals?party=${PARTIES[0]}&ref=${keccakId("ref-7")}`),
        400,
        "invalid-parameter",
      );
      expect(both.errors![0]).to.include({ parameter: "ref", in: "query" });
    });

    it("when disputes are past their ruling deadline → ?overdue=true lists exactly those, each marked overdue", async function () {
      const disputed = allNewestFirst().filter((d) => d.status === "disputed");
      // 19, 39, 59: the gateway did not hold them; 29: its window long over. 9 and 49 are still the gateway's.
      const overdue = disputed.filter((d) => [19, 29, 39, 59].includes(d.i));
      expect(disputed.length).to.be.greaterThan(overdue.length);
      const res = await http.get("/v1/deals?overdue=true&limit=100").expect(200);
      expect(ids(res)).to.deep.equal(overdue.map((d) => d.dealId));
      for (const view of res.body.data) expect(view).to.include({ overdue: true, disputeRuler: "arbiter" });
      const calm = await http.get(`/v1/deals/${model(9).dealId}`).expect(200);
      expect(calm.body).to.include({ overdue: false, disputeRuler: "gateway" });
      // The same set one by one, through cursors, and with the gateway's index.
      const paged: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Res2 = await http.get(`/v1/deals?overdue=true&limit=1${cursor ? `&cursor=${cursor}` : ""}`);
        paged.push(...ids(page));
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      expect(paged).to.deep.equal(overdue.map((d) => d.dealId));
      const byGateway = await http.get(`/v1/deals?gateway=${GW2}&status=disputed&overdue=true`).expect(200);
      expect(ids(byGateway)).to.deep.equal(overdue.filter((d) => d.gateway === GW2).map((d) => d.dealId));
      // Another status, or overdue=false, is refused.
      expectProblem(await http.get("/v1/deals?overdue=true&status=open"), 400, "invalid-parameter");
      const no = expectProblem(await http.get("/v1/deals?overdue=false"), 400, "invalid-parameter");
      expect(no.errors).to.deep.equal([{ parameter: "overdue", in: "query", message: "must be true (or left out)" }]);
    });

    it("when a gateway earned fees → GET /v1/owed shows them owed; an account with nothing owed → an empty list", async function () {
      const res = await http.get(`/v1/owed?account=${GW1.toUpperCase().replace("0X", "0x")}`).expect(200);
      expect(res.body).to.deep.equal({ account: GW1, owed: feesOf(GW1) });
      expect(res.body.owed).to.have.length(2);
      const none = await http.get(`/v1/owed?account=${PARTIES[0]}`).expect(200);
      expect(none.body).to.deep.equal({ account: PARTIES[0], owed: [] });
      const missing = expectProblem(await http.get("/v1/owed"), 400, "invalid-parameter");
      expect(missing.errors![0]).to.include({ parameter: "account", in: "query" });
      expectProblem(await http.get(`/v1/owed?account=${GW1}&x=1`), 400, "invalid-parameter");
      const one = await http.get(`/v1/gateways/${GW1}`).expect(200);
      expect(one.body.feesEarned).to.deep.equal(feesOf(GW1));
      expect((await http.get(`/v1/gateways/${GW3}`).expect(200)).body.feesEarned).to.deep.equal([]);
    });

    it("when gateways are paged → cursors walk them in registration order; a bad or foreign cursor → 400", async function () {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Res2 = await http.get(`/v1/gateways?limit=1${cursor ? `&cursor=${cursor}` : ""}`).expect(200);
        expect(page.body.data).to.have.length(1);
        seen.push(...page.body.data.map((g: { address: string }) => g.address));
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      expect(seen).to.deep.equal([GW1, GW2, GW3]);
      const two = await http.get("/v1/gateways?limit=2").expect(200);
      expect(two.body.data.map((g: { address: string }) => g.address)).to.deep.equal([GW1, GW2]);
      expectProblem(await http.get("/v1/gateways?cursor=bm9wZQ"), 400, "invalid-parameter");
      expectProblem(await http.get("/v1/gateways?limit=101"), 400, "invalid-parameter");
      const dealCursor = (await http.get("/v1/deals?limit=1").expect(200)).body.nextCursor;
      expectProblem(await http.get(`/v1/gateways?cursor=${dealCursor}`), 400, "invalid-parameter");
      const accCursor = (await http.get("/v1/acceptors?limit=1").expect(200)).body.nextCursor;
      expectProblem(await http.get(`/v1/gateways?cursor=${accCursor}`), 400, "invalid-parameter");
    });

    it("when acceptors are paged with filters → every match once, in order; the cursor is bound to the filters", async function () {
      const walk = async (query: string) => {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page: Res2 = await http.get(`/v1/acceptors?${query}${cursor ? `&cursor=${cursor}` : ""}`).expect(200);
          seen.push(...page.body.data.map((a: { address: string }) => a.address));
          cursor = page.body.nextCursor;
        } while (cursor !== null);
        return seen;
      };
      expect(await walk("limit=1")).to.deep.equal([ACC1, ACC2, ACC3]);
      expect(await walk("limit=1&status=active")).to.deep.equal([ACC1, ACC2]);
      expect(await walk("limit=1&method=PIX:BRL")).to.deep.equal([ACC2, ACC3]);
      const first = await http.get("/v1/acceptors?limit=1&status=active").expect(200);
      expectProblem(await http.get(`/v1/acceptors?limit=1&cursor=${first.body.nextCursor}`), 400, "invalid-parameter");
    });

    it("when a client looks acceptors up by a method's name → that method shows by name from then on", async function () {
      const CUSTOM = "WIRE:CHF-TEST";
      const p = await privateApi("methods", [
        [
          5,
          [
            { type: "AcceptorRegistered", acceptor: ACC1, gateway: GW1, lockDelegate: addr(0xd001) },
            { type: "AcceptorMethodSet", acceptor: ACC1, method: keccakId(CUSTOM), supported: true },
            { type: "AcceptorMethodSet", acceptor: ACC1, method: SEPA, supported: true },
          ],
        ],
      ]);
      try {
        const before = await p.http.get(`/v1/acceptors/${ACC1}`).expect(200);
        expect(before.body.paymentMethods).to.deep.include({ method: keccakId(CUSTOM) });
        expect(before.body.paymentMethods).to.deep.include({ method: SEPA, name: "SEPA:EUR" });
        // A name no acceptor supports teaches nothing.
        await p.http.get("/v1/acceptors?method=NOBODY:XYZ").expect(200);
        const found = await p.http.get(`/v1/acceptors?method=${encodeURIComponent(CUSTOM)}`).expect(200);
        expect(found.body.data.map((a: { address: string }) => a.address)).to.deep.equal([ACC1]);
        const after = await p.http.get(`/v1/acceptors/${ACC1}`).expect(200);
        expect(after.body.paymentMethods).to.deep.include({ method: keccakId(CUSTOM), name: CUSTOM });
        expect(after.body.methods).to.deep.equal(before.body.methods);
      } finally {
        await p.clear();
      }
    });
  });

  describe("read performance: the final-deal cache, ETags, and one round trip per page", function () {
    it("when a deal is settled and final → strong ETag, immutable Cache-Control, 304 on If-None-Match, no Redis read again", async function () {
      const d = model(2); // released long ago
      expect(d.status).to.equal("released");
      let reads = 0;
      const counting: Store = {
        ...store,
        getDeal: (id: string) => {
          reads++;
          return store.getDeal(id);
        },
      };
      const cache = createFinalCache();
      const local = request(
        createApi({
          common,
          store: counting,
          resolutionWindow: RESOLUTION_WINDOW,
          readiness: async () => READY,
          finalCache: cache,
        }),
      );
      const first = await local.get(`/v1/deals/${d.dealId}`).expect(200);
      expect(first.headers.etag).to.match(/^"[A-Za-z0-9_-]+"$/);
      expect(first.headers["cache-control"]).to.equal("public, max-age=86400, immutable");
      const again = await local.get(`/v1/deals/${d.dealId}`).expect(200);
      expect(again.text).to.equal(first.text);
      expect(again.headers.etag).to.equal(first.headers.etag);
      expect(reads).to.equal(1);
      const notModified = await local.get(`/v1/deals/${d.dealId}`).set("If-None-Match", `"x", ${first.headers.etag}`);
      expect(notModified.status).to.equal(304);
      expect(notModified.text ?? "").to.equal("");
      expect(notModified.headers.etag).to.equal(first.headers.etag);
      expect(notModified.headers["cache-control"]).to.equal("public, max-age=86400, immutable");
      expect((await local.get(`/v1/deals/${d.dealId}`).set("If-None-Match", '"other"')).status).to.equal(200);
      expect(reads).to.equal(1);
      // Cleared (the projection was reset): read again.
      cache.clear();
      await local.get(`/v1/deals/${d.dealId}`).expect(200);
      expect(reads).to.equal(2);
    });

    it("when a deal is pending, or final but still open or disputed → ETag and 304, but no-cache and read every time", async function () {
      for (const d of [allNewestFirst()[0], model(0), model(9)]) {
        let reads = 0;
        const counting: Store = {
          ...store,
          getDeal: (id: string) => {
            reads++;
            return store.getDeal(id);
          },
        };
        const local = request(
          createApi({
            common,
            store: counting,
            resolutionWindow: RESOLUTION_WINDOW,
            readiness: async () => READY,
            metaCacheMs: 0,
          }),
        );
        const first = await local.get(`/v1/deals/${d.dealId}`).expect(200);
        expect(first.headers["cache-control"], d.status).to.equal("no-cache");
        expect(first.headers.etag).to.match(/^"[A-Za-z0-9_-]+"$/);
        const revalidated = await local.get(`/v1/deals/${d.dealId}`).set("If-None-Match", first.headers.etag);
        expect(revalidated.status).to.equal(304);
        expect(reads).to.equal(2);
      }
      // A pending deal's answer changes as it gets confirmations: another ETag.
      const pending = allNewestFirst()[0];
      const before = await http.get(`/v1/deals/${pending.dealId}`).expect(200);
      await store.setProgress(head + 1, true);
      try {
        const after = await http.get(`/v1/deals/${pending.dealId}`).expect(200);
        expect(after.body.finality).to.equal("final");
        expect(after.headers.etag).to.not.equal(before.headers.etag);
      } finally {
        await store.setProgress(head, true);
      }
    });

    it("when a page of 100 deals is read → a bounded number of Redis commands (one script), not one per deal", async function () {
      // MONITOR watches one node; a cluster spreads the test's other traffic over three.
      if (onCluster()) this.skip();
      const conn = testRedis({ lazyConnect: true, maxRetriesPerRequest: 1 });
      await conn.connect();
      const monitor = await (redis as Redis).monitor();
      try {
        const counted = createStore({ common, redis: conn, chainId: CHAIN_ID, escrow: ESCROW });
        const local = request(
          createApi({
            common,
            store: counted,
            resolutionWindow: RESOLUTION_WINDOW,
            readiness: async () => READY,
            metaCacheMs: 0,
            // The data-route guard's state as in production: cached, so the first page warms it.
            availability: createAvailability({ store: counted }),
          }),
        );
        await local.get("/v1/deals?limit=100").expect(200); // loads the script once
        const info = String(await conn.client("INFO"));
        const address = /\baddr=(\S+)/.exec(info)![1];
        const seen: string[] = [];
        monitor.on("monitor", (_time: string, args: string[], source: string) => {
          if (source === address) seen.push(String(args[0]).toLowerCase());
        });
        await new Promise((r) => setTimeout(r, 50));
        const res = await local.get("/v1/deals?limit=100").expect(200);
        expect(res.body.data).to.have.length(DEAL_COUNT);
        await conn.ping(); // MONITOR shows it after the page's commands: they have all been seen by then
        await new Promise((r) => setTimeout(r, 50));
        const page = seen.filter((c) => c !== "ping");
        // The progress (meta) read and the page script; before: one HGETALL and one LRANGE per deal.
        expect(page, page.join(" ")).to.have.length.at.most(3);
        expect(page).to.include("evalsha");
      } finally {
        monitor.disconnect();
        await conn.quit();
      }
    });
  });
});
