/**
 * The token monitor: "the token blacklists the escrow itself" (and a paused token) reported loudly — an error log
 * line when it changes, /v1/health and a Prometheus gauge — first against a real Hardhat node with the
 * mainnet-faithful TestUSDT (`addBlackList(escrow)`, `pause()`) through the relayer as `npm run relayer` wires it,
 * then on its own with stubs (failures, the timer).
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { createCommon, type Common } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { startRelayer } from "../../../relayer/src/index";
import { boolResult, createTokenMonitor, TOKEN_CHECK_INTERVAL_MS } from "../../../relayer/src/tokens/monitor";
import { TestERC20__factory } from "../../../typechain-types";
import { capturingLogger, ERROR, WARN, type LogLine } from "../support/logger";
import { startDeployed } from "../support/deployed";
import type { HardhatNode } from "../support/node";
import type { Protocol } from "../support/activity";

describe("token monitor: a token that blacklists the escrow, or is paused", function () {
  this.timeout(300_000);

  describe("against a Hardhat node (TestUSDT as mainnet Tether), through startRelayer", function () {
    let node: HardhatNode;
    let p: Protocol;
    let common: Common;
    let relayer: Awaited<ReturnType<typeof startRelayer>>;
    let lines: LogLine[];
    let usdt: string;
    let dai: string;
    let escrow: string;
    const api = () => `http://127.0.0.1:${relayer.port}`;
    const health = async () =>
      ((await (await fetch(`${api()}/v1/health`)).json()) as { status: string; tokens: Record<string, unknown>[] })
        .tokens;
    const metrics = async () => (await fetch(`${api()}/metrics`)).text();
    const errorsAbout = (token: string) => lines.filter((l) => l.level === ERROR && l.token === token);

    before(async function () {
      let deploymentFile: string;
      ({ node, deploymentFile, p } = await startDeployed("tokens"));
      usdt = (await p.usdt.getAddress()).toLowerCase();
      escrow = (await p.escrow.getAddress()).toLowerCase();
      // A second token with neither a blacklist nor a pause.
      const token = await new TestERC20__factory(p.owner).deploy("Dai", "DAI", 18);
      await token.waitForDeployment();
      dai = (await token.getAddress()).toLowerCase();
      await (await p.registry.setTokenAllowed(dai, true)).wait();

      const captured = capturingLogger();
      lines = captured.lines;
      common = createCommon(
        parseOptions({
          RPC_URL: node.url,
          DEPLOYMENT: deploymentFile,
          REDIS_URL: process.env.REDIS_URL,
          REDIS_PREFIX: `test-tokens-${randomBytes(4).toString("hex")}`,
          PORT: "0",
          HOST: "127.0.0.1",
          CONFIRMATIONS: "1",
          POLL_INTERVAL_MS: "20",
        }),
        captured.logger,
      );
      relayer = await startRelayer(common);
      // The monitor asks the tokens the projection knows: wait until both allowlistings are indexed.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const [tokens] = await relayer.store.getHashes(["tokens"]);
        if (tokens?.[usdt] === "1" && tokens?.[dai] === "1") break;
        if (Date.now() > deadline) throw new Error(`tokens not indexed: ${JSON.stringify(tokens)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    });

    after(async function () {
      // Stop the writers first (the indexer records progress), then remove every key of the test's prefix.
      await relayer?.indexer.stop();
      await relayer?.tokens.stop();
      await relayer?.clear();
      await common?.shutdown();
      await node?.stop();
    });

    it("reads the resolution window from the escrow at start", async function () {
      expect(relayer.resolutionWindow).to.equal(Number(await p.escrow.resolutionWindow()));
    });

    it("shows every allowlisted token in /v1/health: USDT neither blacklisting nor paused, a plain ERC-20 null", async function () {
      await relayer.tokens.check();
      const tokens = await health();
      expect(tokens.map((t) => ({ ...t, checkedAt: typeof t.checkedAt }))).to.deep.equal(
        [
          { token: usdt, allowed: true, escrowBlacklisted: false, paused: false, checkedAt: "number" },
          { token: dai, allowed: true, escrowBlacklisted: null, paused: null, checkedAt: "number" },
        ].sort((a, b) => (a.token < b.token ? -1 : 1)),
      );
      expect(errorsAbout(usdt)).to.deep.equal([]);
      expect(await metrics()).to.contain(`relayer_token_escrow_blacklisted{token="${usdt}"} 0`);
    });

    it("when USDT blacklists the escrow: an error line once, escrowBlacklisted true, the gauge at 1", async function () {
      await (await p.usdt.addBlackList(escrow)).wait();
      try {
        await relayer.tokens.check();
        const listed = (await health()).find((t) => t.token === usdt);
        expect(listed).to.include({ escrowBlacklisted: true, paused: false, allowed: true });
        const errors = errorsAbout(usdt);
        expect(errors).to.have.length(1);
        expect(errors[0].msg).to.equal(
          "token has blacklisted the escrow: every payout in it is deferred to owed; governance should disallow the token",
        );
        expect(errors[0]).to.include({ escrow, allowed: true });
        expect(await metrics()).to.contain(`relayer_token_escrow_blacklisted{token="${usdt}"} 1`);

        // Asked again, unchanged: no second line.
        await relayer.tokens.check();
        expect(errorsAbout(usdt)).to.have.length(1);

        // Governance disallows the token: still watched (it holds deals and float), shown as not allowed.
        await (await p.registry.setTokenAllowed(usdt, false)).wait();
        const deadline = Date.now() + 10_000;
        while ((await relayer.store.getHashes(["tokens"]))[0]?.[usdt] !== "0" && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 25));
        }
        await relayer.tokens.check();
        expect((await health()).find((t) => t.token === usdt)).to.include({ escrowBlacklisted: true, allowed: false });
      } finally {
        await (await p.usdt.removeBlackList(escrow)).wait();
        await (await p.registry.setTokenAllowed(usdt, true)).wait();
      }
      await relayer.tokens.check();
      expect((await health()).find((t) => t.token === usdt)).to.include({ escrowBlacklisted: false });
      const errors = errorsAbout(usdt);
      expect(errors).to.have.length(2);
      expect(errors[1].msg).to.equal("token no longer blacklists the escrow: owed balances in it can be claimed");
      expect(await metrics()).to.contain(`relayer_token_escrow_blacklisted{token="${usdt}"} 0`);
    });

    it("when USDT is paused: a warning, paused true, the gauge at 1; back to false when unpaused", async function () {
      await (await p.usdt.pause()).wait();
      try {
        await relayer.tokens.check();
        expect((await health()).find((t) => t.token === usdt)).to.include({ paused: true, escrowBlacklisted: false });
        const warned = lines.filter((l) => l.level === WARN && l.token === usdt);
        expect(warned.map((l) => l.msg)).to.deep.equal([
          "token is paused: payouts in it are deferred to owed until it is unpaused",
        ]);
        expect(await metrics()).to.contain(`relayer_token_paused{token="${usdt}"} 1`);
      } finally {
        await (await p.usdt.unpause()).wait();
      }
      await relayer.tokens.check();
      expect((await health()).find((t) => t.token === usdt)).to.include({ paused: false });
      expect(await metrics()).to.contain(`relayer_token_paused{token="${usdt}"} 0`);
    });

    it("a blacklisted escrow is what makes payouts owed (the mainnet token stops the sender only)", async function () {
      // The fact behind the alarm: with the escrow listed, a payee's payout becomes owed instead of being paid.
      const [payer] = p.payers;
      const [payee] = p.payees;
      const latest = (await p.provider.getBlock("latest"))!.timestamp;
      const deal = {
        payer: await payer.getAddress(),
        payee: await payee.getAddress(),
        gateway: await p.gateway.getAddress(),
        token: usdt,
        amount: 1_000_000n,
        deadline: latest + 86_400,
        releaseWindow: 3_600,
        feeBps: 50,
        kind: 0,
        autoRelease: false,
        salt: "0x" + randomBytes(32).toString("hex"),
      };
      await (await p.escrow.connect(payer).open(deal, "0x" + "00".repeat(32))).wait();
      await (await p.escrow.connect(payee).perform(deal)).wait();
      await (await p.usdt.addBlackList(escrow)).wait();
      try {
        await (await p.escrow.connect(payer).release(deal)).wait();
        expect(await p.escrow.owed(usdt, deal.payee)).to.equal(1_000_000n - 5_000n);
      } finally {
        await (await p.usdt.removeBlackList(escrow)).wait();
      }
      await (await p.escrow.claimOwed(usdt, deal.payee)).wait();
      expect(await p.escrow.owed(usdt, deal.payee)).to.equal(0n);
    });
  });

  describe("on its own (stubs)", function () {
    const TOKEN = "0x" + "11".repeat(20);
    const ESCROW = "0x" + "22".repeat(20);
    const common = (level = "info") => {
      const captured = capturingLogger(level);
      const c = createCommon(parseOptions({ RPC_URL: "http://127.0.0.1:1", DEPLOYMENT: "x" }), captured.logger);
      return { common: c, lines: captured.lines };
    };
    const word = (v: number) => "0x" + v.toString(16).padStart(64, "0");

    it("checks every minute by default", function () {
      expect(TOKEN_CHECK_INTERVAL_MS).to.equal(60_000);
    });

    it("reads one word of 0 or 1 as a boolean, anything else as no such function (null)", function () {
      expect(boolResult(word(0))).to.equal(false);
      expect(boolResult(word(1))).to.equal(true);
      expect(boolResult(word(2))).to.equal(null);
      expect(boolResult("0x")).to.equal(null);
      expect(boolResult(undefined)).to.equal(null);
      expect(boolResult(word(1) + "00")).to.equal(null);
    });

    it("asks isBlackListed(escrow) and paused() of the token", async function () {
      const calls: [string, string][] = [];
      const { common: c } = common();
      const monitor = createTokenMonitor({
        common: c,
        chain: {
          call: async (to, data) => {
            calls.push([to, data]);
            return word(0);
          },
        },
        store: { getHashes: async () => [{ [TOKEN]: "1" }] },
        escrow: ESCROW,
      });
      await monitor.check();
      expect(calls).to.deep.equal([
        [TOKEN, "0xe47d6060" + "22".repeat(20).padStart(64, "0")],
        [TOKEN, "0x5c975abb"],
      ]);
    });

    it("keeps the last answers when a check fails, and says so at warn", async function () {
      let fail = false;
      const { common: c, lines } = common();
      const monitor = createTokenMonitor({
        common: c,
        chain: {
          call: async () => {
            if (fail) throw new Error("rpc down");
            return word(1);
          },
        },
        store: { getHashes: async () => [{ [TOKEN]: "1" }] },
        escrow: ESCROW,
      });
      await monitor.check();
      const first = monitor.snapshot();
      expect(first[0]).to.include({ escrowBlacklisted: true, paused: true });
      fail = true;
      await monitor.check();
      expect(monitor.snapshot()).to.deep.equal(first);
      expect(lines.filter((l) => l.level === WARN && l.msg === "token check failed")).to.have.length(1);
    });

    it("checks at start, then every interval, until stopped", async function () {
      let checks = 0;
      const { common: c } = common("silent");
      const monitor = createTokenMonitor({
        common: c,
        chain: { call: async () => word(0) },
        store: {
          getHashes: async () => {
            checks += 1;
            return [{ [TOKEN]: "1" }];
          },
        },
        escrow: ESCROW,
        intervalMs: 20,
      });
      monitor.start();
      await new Promise((r) => setTimeout(r, 150));
      await monitor.stop();
      const seen = checks;
      expect(seen).to.be.greaterThan(2);
      await new Promise((r) => setTimeout(r, 80));
      expect(checks).to.equal(seen);
    });
  });
});
