/**
 * The OpenAPI document (`openapi.ts`) as the read API serves it at /v1/openapi.json: every route, its parameters
 * and problem responses, resolvable references, and schemas that what the routes answer over a seeded store conforms
 * to.
 */
import { expect } from "chai";
import { id as keccakId } from "ethers";
import { buildOpenApiDocument, ROUTES } from "../../../relayer/src/api/openapi";
import { ACC1, addr, GW1, GW3, PARTIES, READY, startSeededApi, type SeededApi } from "../support/api";

describe("relayer read API: GET /v1/openapi.json", function () {
  let api: SeededApi;
  const model = (i: number) => api.seed.deals[i];
  type Doc = {
    openapi: string;
    info: { title: string; version: string };
    paths: Record<
      string,
      Record<
        string,
        {
          parameters?: { name: string; in: string; required?: boolean; schema: unknown }[];
          responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
        }
      >
    >;
    components: {
      schemas: Record<string, { type?: string; properties?: Record<string, unknown>; required?: string[] }>;
    };
  };
  let doc: Doc;

  before(async function () {
    api = await startSeededApi("openapi");
    const res = await api.http
      .get("/v1/openapi.json")
      .expect(200)
      .expect("Content-Type", /^application\/json/);
    doc = res.body;
  });

  after(async function () {
    await api?.close();
  });

  it("is an OpenAPI 3.1 document with info, paths and components", function () {
    expect(doc.openapi).to.match(/^3\.1\.\d+$/);
    expect(doc.info.title).to.be.a("string").and.not.empty;
    expect(doc.info.version).to.be.a("string").and.not.empty;
    expect(doc).to.deep.equal(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it("documents every route the app serves, with a 200 and problem responses", function () {
    const expected = [
      "/v1/deals/{dealId}",
      "/v1/deals",
      "/v1/chains",
      "/v1/gateways",
      "/v1/gateways/{address}",
      "/v1/acceptors",
      "/v1/acceptors/{address}",
      "/v1/health",
      "/v1/ready",
      "/metrics",
      "/v1/openapi.json",
      "/v1/deals/{dealId}/typed-data",
      "/v1/submissions/{id}",
      "/v1/owed",
      "/v1/reports/settlements",
    ];
    const posts = ["/v1/deals", "/v1/deals/{dealId}/confirmations", "/v1/deals/{dealId}/splits", "/v1/typed-data"];
    // Events, replay and webhooks: each operation with its success status.
    const eventOps: [string, "get" | "post" | "delete", string][] = [
      ["/v1/events", "get", "200"],
      ["/v1/events/stream", "get", "200"],
      ["/v1/webhook-endpoints", "post", "201"],
      ["/v1/webhook-endpoints", "get", "200"],
      ["/v1/webhook-endpoints/{id}", "get", "200"],
      ["/v1/webhook-endpoints/{id}", "delete", "204"],
      ["/v1/webhook-endpoints/{id}/rotate-secret", "post", "200"],
      ["/v1/webhook-endpoints/{id}/deliveries", "get", "200"],
      ["/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/redeliver", "post", "202"],
    ];
    // Orders, acceptor orders and the checkout.
    eventOps.push(
      ["/v1/orders", "post", "201"],
      ["/v1/orders", "get", "200"],
      ["/v1/orders/{id}", "get", "200"],
      ["/v1/orders/{id}/cancel", "post", "200"],
      ["/v1/acceptor/orders", "get", "200"],
      ["/v1/acceptor/orders/{id}/lock-typed-data", "get", "200"],
      ["/v1/acceptor/orders/{id}/accept", "post", "200"],
      ["/v1/acceptor/orders/{id}/decline", "post", "200"],
      ["/v1/acceptor/orders/{id}/transfer-name", "post", "200"],
      ["/v1/acceptor/orders/{id}/chargeback", "post", "200"],
      ["/v1/checkout/{orderId}", "get", "200"],
      ["/v1/checkout/{orderId}/typed-data", "get", "200"],
      ["/v1/checkout/{orderId}/open", "post", "202"],
      ["/v1/checkout/{orderId}/confirmations", "post", "202"],
      ["/v1/checkout/{orderId}/escalation", "post", "201"],
      // Per-order messages.
      ["/v1/orders/{id}/messages", "get", "200"],
      ["/v1/orders/{id}/messages", "post", "201"],
      ["/v1/orders/{id}/messages/bundle", "get", "200"],
      ["/v1/checkout/{orderId}/messages", "get", "200"],
      ["/v1/checkout/{orderId}/messages", "post", "201"],
    );
    for (const [path, method, success] of eventOps) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).to.be.an("object");
      expect(op.responses[success], `${method} ${path}`).to.be.an("object");
      for (const status of ["400", "405", "500"]) expect(op.responses[status], `${path} ${status}`).to.be.an("object");
    }
    // The acceptor desk.
    const deskOps: [string, "get" | "put" | "post", string][] = [
      ["/v1/acceptor/profile", "get", "200"],
      ["/v1/acceptor/profile", "put", "200"],
      ["/v1/acceptor/heartbeat", "post", "200"],
    ];
    for (const [path, method, success] of deskOps) {
      const op = doc.paths[path]?.[method];
      expect(op?.responses[success], `${method} ${path}`).to.be.an("object");
      for (const status of ["400", "401", "403", "405", "500"])
        expect(op.responses[status], `${path} ${status}`).to.be.an("object");
    }
    // A dispute's evidence (the upload's 413 and 415 are its own).
    const evidenceOps: [string, "get" | "post", string][] = [
      ["/v1/deals/{dealId}/evidence/typed-data", "get", "200"],
      ["/v1/deals/{dealId}/evidence", "post", "202"],
      ["/v1/deals/{dealId}/evidence", "get", "200"],
      ["/v1/deals/{dealId}/evidence/{contentHash}", "get", "200"],
    ];
    for (const [path, method, success] of evidenceOps) {
      const op = doc.paths[path]?.[method];
      expect(op?.responses[success], `${method} ${path}`).to.be.an("object");
      for (const status of ["400", "401", "403", "404", "405", "500"])
        expect(op.responses[status], `${path} ${status}`).to.be.an("object");
    }
    // The keeper's scheduled actions.
    const scheduledOps: [string, "get" | "post" | "delete", string][] = [
      ["/v1/deals/{dealId}/scheduled", "post", "201"],
      ["/v1/deals/{dealId}/scheduled", "get", "200"],
      ["/v1/deals/{dealId}/scheduled/{action}", "delete", "204"],
    ];
    for (const [path, method, success] of scheduledOps) {
      const op = doc.paths[path]?.[method];
      expect(op?.responses[success], `${method} ${path}`).to.be.an("object");
      for (const status of ["400", "401", "403", "404", "405", "500"])
        expect(op.responses[status], `${path} ${status}`).to.be.an("object");
    }
    const upload = doc.paths["/v1/deals/{dealId}/evidence"].post as unknown as {
      responses: Record<string, { description: string }>;
      requestBody: { content: Record<string, unknown> };
    };
    expect(upload.responses["413"].description).to.match(/EVIDENCE_MAX_BYTES/);
    expect(upload.responses["415"]).to.be.an("object");
    expect(Object.keys(upload.requestBody.content)).to.deep.equal([
      "image/png",
      "image/jpeg",
      "image/webp",
      "application/pdf",
    ]);
    // The gateway's dispute desk.
    const disputeOps: [string, "get" | "post", string][] = [
      ["/v1/gateway/disputes", "get", "200"],
      ["/v1/gateway/disputes/{dealId}", "get", "200"],
      ["/v1/deals/{dealId}/ruling/typed-data", "post", "200"],
      ["/v1/deals/{dealId}/rulings", "post", "202"],
      ["/v1/deals/{dealId}/ruling", "get", "200"],
    ];
    for (const [path, method, success] of disputeOps) {
      const op = doc.paths[path]?.[method];
      expect(op?.responses[success], `${method} ${path}`).to.be.an("object");
      for (const status of ["400", "401", "403", "405", "500"])
        expect(op.responses[status], `${path} ${status}`).to.be.an("object");
    }
    const paths = [
      ...new Set([
        ...expected,
        ...posts,
        ...eventOps.map(([path]) => path),
        ...deskOps.map(([path]) => path),
        ...evidenceOps.map(([path]) => path),
        ...disputeOps.map(([path]) => path),
        ...scheduledOps.map(([path]) => path),
      ]),
    ].sort();
    expect(Object.keys(doc.paths).sort()).to.deep.equal(paths);
    expect([...new Set(ROUTES.map((r) => r.path))].sort()).to.deep.equal(paths);
    const operations = [
      ...expected.map((path) => ({ path, op: doc.paths[path].get })),
      ...posts.map((path) => ({ path, op: doc.paths[path].post })),
    ];
    for (const { path, op } of operations) {
      expect(op, path).to.be.an("object");
      // Reads and typed data answer 200; a POST that queues a transaction answers 202.
      const success = path === "/v1/typed-data" || op === doc.paths[path].get ? "200" : "202";
      expect(op.responses[success], path).to.be.an("object");
      for (const status of ["400", "405", "500"]) {
        expect(op.responses[status].content!["application/problem+json"].schema, `${path} ${status}`).to.deep.equal({
          $ref: "#/components/schemas/Problem",
        });
      }
      for (const name of path.match(/\{(\w+)\}/g) ?? []) {
        const param = op.parameters!.find((p) => p.name === name.slice(1, -1));
        expect(param, `${path} ${name}`).to.deep.include({ in: "path", required: true });
      }
    }
    expect(
      doc.paths["/v1/deals/{dealId}"].get.responses["404"].content!["application/problem+json"].schema,
    ).to.deep.equal({
      $ref: "#/components/schemas/Problem",
    });
    expect(doc.paths["/v1/ready"].get.responses["503"]).to.be.an("object");
    const listParams = doc.paths["/v1/deals"].get.parameters!.map((p) => `${p.in}:${p.name}`).sort();
    expect(listParams).to.deep.equal([
      "query:chainId",
      "query:cursor",
      "query:gateway",
      "query:limit",
      "query:overdue",
      "query:party",
      "query:ref",
      "query:status",
    ]);
    const accParams = doc.paths["/v1/acceptors"].get.parameters!.map((p) => `${p.in}:${p.name}`).sort();
    expect(accParams).to.deep.equal(["query:cursor", "query:limit", "query:method", "query:status", "query:token"]);
    const gwParams = doc.paths["/v1/gateways"].get.parameters!.map((p) => `${p.in}:${p.name}`).sort();
    expect(gwParams).to.deep.equal(["query:cursor", "query:limit"]);
    expect(doc.paths["/v1/owed"].get.parameters!.map((p) => `${p.in}:${p.name}`)).to.deep.equal(["query:account"]);
  });

  it("when a shared component is used as nullable somewhere → the component itself stays non-null (Submission, AcceptorView, AcceptorProfile)", function () {
    const schemas = doc.components.schemas as Record<string, { type?: string | string[] }>;
    const nullable = Object.entries(schemas)
      .filter(([, s]) => Array.isArray(s.type) && s.type.includes("null"))
      .map(([name]) => name);
    expect(nullable).to.deep.equal([]);
    for (const name of ["Submission", "AcceptorView", "AcceptorProfile"]) expect(schemas[name].type).to.equal("object");
  });

  it("has DealView and Problem components, and every $ref resolves", function () {
    const deal = doc.components.schemas.DealView;
    expect(deal.type).to.equal("object");
    for (const field of [
      "status",
      "payer",
      "payee",
      "gateway",
      "token",
      "amount",
      "deadline",
      "confirmations",
      "finality",
      "history",
    ]) {
      expect(deal.properties, field).to.have.property(field);
      expect(deal.required, field).to.include(field);
    }
    const problem = doc.components.schemas.Problem;
    expect(problem.required).to.include.members(["type", "title", "status", "detail"]);
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) {
          if (k === "$ref") refs.push(v as string);
          else walk(v);
        }
      }
    };
    walk(doc);
    expect(refs).not.to.be.empty;
    for (const ref of refs) {
      const m = /^#\/components\/schemas\/(\w+)$/.exec(ref);
      expect(m, ref).to.not.equal(null);
      expect(doc.components.schemas, ref).to.have.property(m![1]);
    }
  });

  /** Checks a value against a schema of the document (the subset of JSON Schema the generator emits). */
  function conforms(value: unknown, schema: Record<string, unknown>, at: string, open = false): string[] {
    const ref = schema.$ref as string | undefined;
    if (ref) return conforms(value, doc.components.schemas[ref.split("/").pop()!] as Record<string, unknown>, at, open);
    const errors: string[] = [];
    if (schema.allOf)
      for (const s of schema.allOf as Record<string, unknown>[]) errors.push(...conforms(value, s, at, true));
    if (schema.anyOf) {
      const options = (schema.anyOf as Record<string, unknown>[]).map((s) => conforms(value, s, at));
      if (options.every((o) => o.length > 0)) errors.push(`${at}: matches no anyOf option`);
    }
    if (schema.enum && !(schema.enum as unknown[]).includes(value)) errors.push(`${at}: ${String(value)} not in enum`);
    const types = schema.type === undefined ? [] : ([] as string[]).concat(schema.type as string);
    const typeOf = (v: unknown) =>
      v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v;
    if (types.length > 0 && !types.some((t) => t === typeOf(value) || (t === "number" && typeof value === "number"))) {
      errors.push(`${at}: ${typeOf(value)} is not ${types.join("|")}`);
    }
    if (typeof value === "string" && typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(value)) {
      errors.push(`${at}: does not match ${schema.pattern}`);
    }
    if (Array.isArray(value) && schema.items) {
      value.forEach((v, i) => errors.push(...conforms(v, schema.items as Record<string, unknown>, `${at}[${i}]`)));
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const key of (schema.required ?? []) as string[]) if (!(key in value)) errors.push(`${at}.${key}: missing`);
      for (const [key, v] of Object.entries(value)) {
        if (properties[key]) errors.push(...conforms(v, properties[key], `${at}.${key}`));
        else if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
          errors.push(...conforms(v, schema.additionalProperties as Record<string, unknown>, `${at}.${key}`));
        } else if (schema.properties && !open) errors.push(`${at}.${key}: not documented`);
      }
    }
    return errors;
  }

  it("describes what the routes actually answer", async function () {
    const samples: [string, number, string][] = [
      ...[0, 2, 3, 4, 5, 9].map((i): [string, number, string] => [
        `/v1/deals/${model(i).dealId}`,
        200,
        "/v1/deals/{dealId}",
      ]),
      ["/v1/deals?limit=100", 200, "/v1/deals"],
      [`/v1/deals?party=${PARTIES[2]}&status=open&limit=1`, 200, "/v1/deals"],
      ["/v1/gateways", 200, "/v1/gateways"],
      [`/v1/gateways/${GW3}`, 200, "/v1/gateways/{address}"],
      ["/v1/acceptors", 200, "/v1/acceptors"],
      ["/v1/acceptors?limit=1&status=active", 200, "/v1/acceptors"],
      ["/v1/gateways?limit=1", 200, "/v1/gateways"],
      [`/v1/deals?ref=${keccakId("ref-3")}`, 200, "/v1/deals"],
      ["/v1/deals?overdue=true", 200, "/v1/deals"],
      [`/v1/owed?account=${GW1}`, 200, "/v1/owed"],
      ["/v1/owed?account=nope", 400, "/v1/owed"],
      [`/v1/acceptors/${ACC1}`, 200, "/v1/acceptors/{address}"],
      ["/v1/health", 200, "/v1/health"],
      ["/v1/ready", 200, "/v1/ready"],
      [`/v1/deals/${keccakId("x")}`, 404, "/v1/deals/{dealId}"],
      ["/v1/deals?limit=0&x=1", 400, "/v1/deals"],
      [`/v1/acceptors/${addr(1)}`, 404, "/v1/acceptors/{address}"],
    ];
    for (const [url, status, path] of samples) {
      const res = await api.http.get(url).expect(status);
      const content = doc.paths[path].get.responses[String(status)].content!;
      const schema = (content["application/json"] ?? content["application/problem+json"]).schema as Record<
        string,
        unknown
      >;
      expect(conforms(res.body, schema, url)).to.deep.equal([]);
    }
    api.readiness = { ready: false, checks: { redis: false } };
    try {
      const res = await api.http.get("/v1/ready").expect(503);
      const schema = doc.paths["/v1/ready"].get.responses["503"].content!["application/problem+json"].schema;
      expect(conforms(res.body, schema as Record<string, unknown>, "ready")).to.deep.equal([]);
    } finally {
      api.readiness = READY;
    }
  });

  it("documents finality and the method name hashing", function () {
    // Every view carries `finality`, whose values are the two of the enum (not merely the word in a field name).
    for (const view of ["DealView", "HistoryEntry", "GatewayView", "AcceptorView"]) {
      const finality = doc.components.schemas[view].properties?.finality as { enum?: string[] } | undefined;
      expect(finality?.enum, view).to.deep.equal(["pending", "final"]);
    }
    expect(doc.paths["/v1/deals"].get).to.have.property("description").that.contains("fewer than `limit`");
    expect(JSON.stringify(doc.paths["/v1/acceptors"])).to.contain("keccak256");
  });

  /* ---- statuses the relayer really sends (server.ts edges, shared middleware, OPTIONS, 304) ---- */

  type Operation = Doc["paths"][string][string] & { operationId?: string; responses: Record<string, unknown> };
  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ path, method, op: op as Operation })),
    );

  it("when a path is listed → its OPTIONS operation documents the 204 and the Allow header", async function () {
    for (const path of Object.keys(doc.paths)) {
      const options = doc.paths[path].options as Operation | undefined;
      expect(options, path).to.be.an("object");
      const noContent = options!.responses["204"] as { headers?: Record<string, unknown>; content?: unknown };
      expect(noContent.headers, path).to.have.property("Allow");
      expect(noContent.content, path).to.equal(undefined);
    }
    // What the app answers agrees with the document.
    const res = await api.http.options("/v1/deals").expect(204);
    expect(res.headers.allow).to.equal("GET, POST, HEAD, OPTIONS");
    const ids = operations().map(({ op }) => op.operationId);
    expect(new Set(ids).size, "operationIds are unique").to.equal(ids.length);
  });

  it("when any operation is listed → it documents 405, 413, 414, 417, 431 and 500 as problems", function () {
    for (const { path, method, op } of operations()) {
      for (const status of ["405", "413", "414", "417", "431", "500"]) {
        expect(op.responses[status], `${method} ${path} ${status}`).to.have.nested.property(
          "content.application/problem+json",
        );
      }
    }
  });

  it("when a route takes keys and reads the store → 401, 403, 429 and 503 are documented; operations routes not", function () {
    for (const route of ROUTES) {
      const op = doc.paths[route.path][route.method] as Operation;
      const operations = route.tags?.includes("operations");
      // The checkout takes no key (the order id is its capability), but is rate limited.
      const keyless = operations || route.tags?.includes("checkout");
      for (const status of ["401", "403"]) {
        expect(op.responses[status] !== undefined, `${route.id} ${status}`).to.equal(!keyless);
      }
      expect(op.responses["429"] !== undefined, `${route.id} 429`).to.equal(!operations);
      if (!operations) expect(JSON.stringify(op.responses["503"]), route.id).to.contain("projection-unavailable");
    }
    expect(doc.paths["/v1/health"].get.responses["503"]).to.equal(undefined);
  });

  it("when GET /v1/deals/{dealId} is listed → it documents 304 Not Modified, without a body", function () {
    const notModified = doc.paths["/v1/deals/{dealId}"].get.responses["304"];
    expect(notModified).to.be.an("object");
    expect(notModified.content).to.equal(undefined);
  });

  it("when the method parameter is documented → its pattern is the validator's rule", async function () {
    const param = doc.paths["/v1/acceptors"].get.parameters!.find((p) => p.name === "method")!;
    const pattern = new RegExp((param.schema as { pattern: string }).pattern);
    const cases: [string, boolean][] = [
      ["SEPA:EUR", true],
      ["A".repeat(64), true],
      ["A".repeat(65), false],
      ["", false],
      ["é", false],
      ["tab\there", false],
      [`0x${"ab".repeat(32)}`, true],
      [`0X${"AB".repeat(32)}`, true],
      ["0x1234", false],
      ["0xSEPA", false],
    ];
    for (const [value, valid] of cases) {
      expect(pattern.test(value), value).to.equal(valid);
      const res = await api.http.get(`/v1/acceptors?method=${encodeURIComponent(value)}`);
      expect(res.status, value).to.equal(valid ? 200 : 400);
    }
  });
});
