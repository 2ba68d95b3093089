/**
 * The page tests' browser: Debian's Chromium (/usr/bin/chromium) driven by playwright-core — never a downloaded
 * browser — with a wallet in the page (`window.ethereum`, EIP-1193) whose requests go to a Hardhat node's JSON-RPC,
 * so its unlocked accounts sign and send for real. Also: axe-core run in the page (serious or critical violations
 * fail the test), screenshots under test-artifacts/pages/, and a watch on the console for refusals by the pages'
 * Content-Security-Policy.
 *
 *   const b = await launchBrowser();
 *   const page = await b.page({ rpcUrl: node.url, account });
 *   await page.goto(url); await b.check(page, "checkout-funded");
 *   await b.close();
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const ARTIFACTS = path.resolve(__dirname, "..", "..", "..", "test-artifacts", "pages");
const AXE = require.resolve("axe-core/axe.min.js");
/** The narrowest screen the pages support. */
export const NARROW = { width: 320, height: 720 };

export type AxeViolation = { id: string; impact: string | null; help: string; nodes: { target: string[] }[] };

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: the page tests drive Debian's Chromium. Install it with ` +
        "`apt-get update && apt-get install -y chromium` (no browser is downloaded).",
    );
  }
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  const axeSource = readFileSync(AXE, "utf8");
  const problems = new Map<Page, string[]>();
  const shots: string[] = [];

  const b = {
    browser,
    shots,
    /**
     * A fresh context and page (its own storage) at `viewport`, with `window.ethereum` answering for `account`
     * (when given) through the node at `rpcUrl`. `rpc` lists every wallet request the page made.
     */
    async page(opts: { rpcUrl?: string; account?: string; viewport?: { width: number; height: number } } = {}) {
      const context = await browser.newContext({
        viewport: opts.viewport ?? { width: 390, height: 844 },
        reducedMotion: "reduce",
        permissions: ["clipboard-read", "clipboard-write"],
      });
      const page = await context.newPage();
      const seen: string[] = [];
      problems.set(page, seen);
      page.on("console", (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) seen.push(m.text());
      });
      page.on("pageerror", (e) => seen.push(`page error: ${e.message}`));
      const rpc: { method: string; params: unknown[] }[] = [];
      if (opts.rpcUrl && opts.account) {
        const url = opts.rpcUrl;
        const account = opts.account.toLowerCase();
        await page.exposeBinding("__walletRpc", async (_source, method: string, params: unknown[]) => {
          rpc.push({ method, params });
          if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
          const res = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: rpc.length, method, params }),
          });
          const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string } };
          if (body.error) return { __error: body.error };
          return body.result ?? null;
        });
        await page.addInitScript(() => {
          const call = (window as unknown as { __walletRpc: (m: string, p: unknown[]) => Promise<unknown> })
            .__walletRpc;
          (window as unknown as { ethereum: unknown }).ethereum = {
            isTestWallet: true,
            async request({ method, params }: { method: string; params?: unknown[] }) {
              const result = (await call(method, params ?? [])) as { __error?: { code: number; message: string } };
              if (result && typeof result === "object" && "__error" in result && result.__error) {
                throw Object.assign(new Error(result.__error.message), { code: result.__error.code });
              }
              return result;
            },
            on() {},
            removeListener() {},
          };
        });
      }
      return Object.assign(page, { rpc });
    },

    /** axe-core in the page: no serious or critical violation. */
    async axe(page: Page, label: string) {
      // Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') does not apply to it.
      if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
      const violations = (await page.evaluate(async () => {
        const axe = (
          window as unknown as { axe: { run: (c: unknown, o: unknown) => Promise<{ violations: unknown }> } }
        ).axe;
        const result = await axe.run(document, { resultTypes: ["violations"] });
        return result.violations;
      })) as AxeViolation[];
      const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      expect(
        bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
        `axe violations on ${label}`,
      ).to.deep.equal([]);
    },

    /** A full-page screenshot as test-artifacts/pages/<name>.png. */
    async screenshot(page: Page, name: string) {
      const file = path.join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
      return file;
    },

    /** Nothing was refused by the CSP and no script failed on `page` so far. */
    clean(page: Page) {
      expect(problems.get(page) ?? [], "console: CSP refusals or page errors").to.deep.equal([]);
    },

    /** The page does not scroll sideways (it fits the viewport's width). */
    async fits(page: Page) {
      const { scroll, width } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        width: window.innerWidth,
      }));
      expect(scroll, "page width").to.be.at.most(width);
    },

    /** One page state: axe, no CSP refusal, a screenshot. */
    async check(page: Page, name: string) {
      await b.axe(page, name);
      b.clean(page);
      await b.screenshot(page, name);
    },

    async close() {
      await browser.close();
    },
  };
  return b;
}

export type TestBrowser = Awaited<ReturnType<typeof launchBrowser>>;
export type WalletPage = Awaited<ReturnType<TestBrowser["page"]>>;
