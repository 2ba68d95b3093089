/**
 * The client's generated sources are those of the relayer's current routes, and the client has a method for each.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import { createEscrowClient, ROUTE_TABLE, type RouteName } from "../../client/src";
import { ROUTES, type RouteId } from "../../relayer/src/api/openapi";
import { generateClientFiles } from "../../scripts/generate-client";

// Compile-time: every RouteId is a client method and every client method a RouteId (tsc fails otherwise).
const everyRoute: Record<RouteId, unknown> = ROUTE_TABLE;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameNames: Same<RouteId, RouteName> = true;

describe("client schema", function () {
  this.timeout(60_000);

  it("when regenerated from the relayer's OpenAPI document → equal to the committed schema.ts and routes.ts", async () => {
    for (const { file, text } of await generateClientFiles()) {
      const committed = await readFile(file, "utf8");
      const name = path.relative(process.cwd(), file);
      expect(committed === text, `${name} is out of date: run npm run client:generate`).to.equal(true);
    }
  });

  it("when the relayer has a route → the client has a method of that name calling its method and path", () => {
    expect(sameNames && everyRoute !== undefined).to.equal(true);
    const client = createEscrowClient({ baseUrl: "http://127.0.0.1:1" });
    const methods = Object.keys(client).sort();
    expect(methods).to.deep.equal(ROUTES.map((r) => r.id).sort());
    for (const route of ROUTES) {
      expect(typeof client[route.id as RouteName], route.id).to.equal("function");
      const entry = ROUTE_TABLE[route.id as RouteName];
      expect({ method: entry.method, path: entry.path }, route.id).to.deep.equal({
        method: route.method,
        path: route.path,
      });
    }
  });

  it("when a route's success is text or an event stream → the route table reads it as such", () => {
    expect(ROUTE_TABLE.metrics.parseAs).to.equal("text");
    expect(ROUTE_TABLE.streamEvents.parseAs).to.equal("stream");
    expect(ROUTE_TABLE.getDeal.parseAs).to.equal("json");
  });
});
