/**
 * The API benchmark's baseline (`npm run bench:relayer`): a bare express 5 server whose routes answer every
 * request with the same JSON from memory — GET /v1/deals/:dealId with BODY_FILE's, and GET /v1/deals (any query)
 * with LIST_FILE's (a page of 100 deals), when given — so the relayer's own cost per request (validation, Redis,
 * views) shows as the difference. Same response settings as the relayer's app (no ETag, no X-Powered-By).
 *
 *   BODY_FILE=<json file> [LIST_FILE=<json file>] PORT=<port> \
 *     node -r ts-node/register/transpile-only scripts/bench/bare-server.ts
 */
import fs from "node:fs";
import express from "express";

const bodyFile = process.env.BODY_FILE;
if (!bodyFile) throw new Error("BODY_FILE must name the JSON body to serve");
const body: unknown = JSON.parse(fs.readFileSync(bodyFile, "utf8"));

const app = express();
app.disable("x-powered-by");
app.disable("etag");
app.get("/v1/deals/:dealId", (_req, res) => {
  res.json(body);
});
const listFile = process.env.LIST_FILE;
if (listFile) {
  const list: unknown = JSON.parse(fs.readFileSync(listFile, "utf8"));
  app.get("/v1/deals", (_req, res) => {
    res.json(list);
  });
}

const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", (error?: Error) => {
  if (error) throw error;
  const address = server.address();
  console.log(JSON.stringify({ msg: "listening", port: typeof address === "object" && address ? address.port : 0 }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
