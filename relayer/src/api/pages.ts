/**
 * The hosted pages: the checkout a platform sends its user to (`/checkout/{orderId}`), the acceptor console
 * (`/acceptor`), the gateway console (`/gateway`) and their assets (`/assets/<file>`). They are plain HTML, CSS
 * and ES modules kept in relayer/pages/, read once at start and served from memory; they call the API on the same
 * origin. Every answer carries a strict Content-Security-Policy (no inline script or style, no other origin), so
 * the pages work only as shipped.
 *
 * The order id in a checkout URL is the capability to see that order: an id of the wrong shape is a 404 page, and
 * the page itself learns the rest from GET /v1/checkout/{orderId}.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { Router, type NextFunction, type Request, type Response } from "express";
import { ORDER_ID } from "../orders/model";
import { ApiProblem } from "./problems";

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

/** How long a browser may keep an asset without asking again. */
export const ASSET_MAX_AGE_S = 300;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** relayer/pages, from the sources (relayer/src/api) or from the compiled output (dist/relayer/src/api). */
function pagesDir(): string {
  const candidates = [path.resolve(__dirname, "../../pages"), path.resolve(__dirname, "../../../../relayer/pages")];
  const found = candidates.find((d) => existsSync(path.join(d, "checkout.html")));
  if (!found) throw new Error(`the pages directory is missing (looked in ${candidates.join(", ")})`);
  return found;
}

type Asset = { body: Buffer; type: string };

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (type === undefined) continue;
    assets.set(name, { body: readFileSync(path.join(dir, name)), type });
  }
  return assets;
}

const NOT_FOUND_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not found</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><main id="main" class="page"><h1>Not found</h1>
<p>This checkout link is not valid. Ask the shop for a new one.</p></main></body>
</html>
`;

export function pagesRouter(dir: string = pagesDir()): Router {
  const assets = loadAssets(dir);
  const page = (name: string) => {
    const asset = assets.get(name);
    if (!asset) throw new Error(`the page ${name} is missing from ${dir}`);
    return asset.body;
  };
  const checkout = page("checkout.html");
  const acceptor = page("acceptor.html");
  const gateway = page("gateway.html");
  const router = Router({ strict: true, caseSensitive: true });

  router.use(["/checkout", "/acceptor", "/gateway", "/assets"], (_req: Request, res: Response, next: NextFunction) => {
    for (const [name, value] of Object.entries(PAGE_HEADERS)) res.setHeader(name, value);
    next();
  });

  const html = (res: Response, body: Buffer, status = 200) => {
    res.status(status).setHeader("Cache-Control", "no-store");
    res.type("text/html; charset=utf-8").send(body);
  };

  router.get("/checkout/:orderId", (req: Request, res: Response) => {
    if (!ORDER_ID.test(String(req.params.orderId))) html(res, Buffer.from(NOT_FOUND_HTML), 404);
    else html(res, checkout);
  });

  router.get("/acceptor", (_req: Request, res: Response) => html(res, acceptor));
  router.get("/gateway", (_req: Request, res: Response) => html(res, gateway));

  router.get("/assets/:file", (req: Request, res: Response) => {
    const file = String(req.params.file);
    const asset = file.endsWith(".html") ? undefined : assets.get(file);
    if (!asset) throw new ApiProblem("not-found", `No asset ${file.slice(0, 64)}.`);
    res.setHeader("Cache-Control", `public, max-age=${ASSET_MAX_AGE_S}`);
    res.type(asset.type).send(asset.body);
  });

  return router;
}
