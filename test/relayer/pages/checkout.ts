/**
 * The hosted checkout in a real browser: Debian's Chromium (playwright-core) against the whole relayer in-process
 * (real Redis, a real Hardhat node), the user's wallet being the node's unlocked accounts behind `window.ethereum`.
 * Each page state is checked with axe-core (no serious or critical violation), for Content-Security-Policy refusals,
 * and saved as a screenshot under test-artifacts/pages/. Branch spec: checkout.tree.
 */
import { expect } from "chai";
import { startWriteRelayer, type WriteRelayer } from "../support/write";
import { launchBrowser, NARROW, type TestBrowser } from "../support/browser";

const ORDER = "ord_0123456789abcdef01234567";

describe("hosted checkout page (Chromium, real relayer)", function () {
  this.timeout(300_000);
  let w: WriteRelayer;
  let b: TestBrowser;
  let origin: string;

  before(async function () {
    b = await launchBrowser();
    w = await startWriteRelayer("pages-checkout");
    origin = `http://127.0.0.1:${w.relayer.port}`;
  });
  after(async function () {
    await b?.close();
    await w?.stop();
  });

  describe("serving", function () {
    it("when GET /checkout/{a well-formed order id} → 200 HTML with a strict CSP, nosniff, no referrer", async function () {
      const res = await w.http.get(`/checkout/${ORDER}`).expect(200);
      expect(res.headers["content-type"]).to.equal("text/html; charset=utf-8");
      const csp = res.headers["content-security-policy"] as string;
      for (const directive of [
        "default-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
      ]) {
        expect(csp).to.include(directive);
      }
      expect(csp).not.to.include("unsafe-inline");
      expect(res.headers["x-content-type-options"]).to.equal("nosniff");
      expect(res.headers["referrer-policy"]).to.equal("no-referrer");
      expect(res.headers["cache-control"]).to.equal("no-store");
      expect(res.text).to.include('src="/assets/checkout.js"');
      expect(res.text, "no inline script").not.to.match(/<script(?![^>]*\bsrc=)[^>]*>/);
    });

    it("when the order id is malformed → 404 HTML page (not the checkout)", async function () {
      for (const bad of ["ord_123", "ord_0123456789ABCDEF01234567", "0123456789abcdef01234567", `${ORDER}0`]) {
        const res = await w.http.get(`/checkout/${bad}`).expect(404);
        expect(res.headers["content-type"]).to.equal("text/html; charset=utf-8");
        expect(res.headers["content-security-policy"]).to.include("default-src 'self'");
        expect(res.text).to.include("Not found");
        expect(res.text).not.to.include("checkout.js");
      }
    });

    it("when an asset is requested → its content type and Cache-Control public, max-age=300", async function () {
      const types: Record<string, string> = {
        "checkout.js": "text/javascript; charset=utf-8",
        "wallet.js": "text/javascript; charset=utf-8",
        "common.js": "text/javascript; charset=utf-8",
        "app.css": "text/css; charset=utf-8",
      };
      for (const [file, type] of Object.entries(types)) {
        const res = await w.http.get(`/assets/${file}`).expect(200);
        expect(res.headers["content-type"], file).to.equal(type);
        expect(res.headers["cache-control"], file).to.equal("public, max-age=300");
        expect(res.headers["x-content-type-options"], file).to.equal("nosniff");
      }
    });

    it("when an unknown asset, a page as an asset or a path outside the pages is asked → 404 problem", async function () {
      for (const path of [
        "/assets/nope.js",
        "/assets/checkout.html",
        "/assets/..%2Fsrc%2Fapi%2Fpages.ts",
        "/assets/%2e%2e%2fpackage.json",
        "/assets/../package.json",
      ]) {
        const res = await w.http.get(path);
        expect(res.status, path).to.equal(404);
        expect(res.headers["content-type"], path).to.match(/^application\/problem\+json/);
      }
    });

    it("when the checkout of an order the relayer does not know is opened → the page shows the API's detail", async function () {
      const page = await b.page({ viewport: NARROW });
      await page.goto(`${origin}/checkout/${ORDER}`);
      const alert = page.getByRole("alert");
      await alert.waitFor({ state: "visible" });
      expect(await alert.textContent()).to.not.equal("");
      await b.fits(page);
      await b.check(page, "checkout-unknown-order");
      await page.context().close();
    });
  });
});
