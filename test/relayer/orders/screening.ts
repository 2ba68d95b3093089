/**
 * Screening (relayer/src/orders/screening.ts): the operator's deny list file and the token's own blacklist, read
 * with eth_call from a real Hardhat node running the USDT-faithful test token.
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { TestERC20__factory } from "../../../typechain-types";
import {
  BLACKLIST_CACHE_MS,
  createDenyList,
  createScreening,
  parseDenyList,
} from "../../../relayer/src/orders/screening";
import { addressOf, startUsdtNode } from "../support/matching";

describe("orders/screening", function () {
  this.timeout(120_000);
  const A = addressOf(1, "aa");
  const B = addressOf(2, "bb");

  describe("deny list", function () {
    let dir: string;
    let file: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "deny-"));
      file = path.join(dir, "deny.txt");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("parses one address per line, # comments and blank lines ignored, lower-cased", function () {
      const text = `# operator's list\n${A.toUpperCase().replace("0X", "0x")}  # sanctioned\n\n  ${B}\r\n`;
      expect([...parseDenyList(text)]).to.deep.equal([A, B]);
    });

    it("when a line is no address → refused, naming it", function () {
      expect(() => parseDenyList(`${A}\nnot-an-address\n`)).to.throw(/not-an-address/);
    });

    it("when no path is configured → an empty list", function () {
      expect(createDenyList(undefined)().size).to.equal(0);
    });

    it("when the file is missing or malformed at start → throws (the operator learns at once)", function () {
      expect(() => createDenyList(file)).to.throw(/ENOENT/);
      fs.writeFileSync(file, "0x1234\n");
      expect(() => createDenyList(file)).to.throw(/0x1234/);
    });

    it("when the file changes → re-read; when it turns malformed or vanishes → the last good list, error reported", function () {
      fs.writeFileSync(file, `${A}\n`);
      const errors: unknown[] = [];
      const list = createDenyList(file, (e) => errors.push(e));
      expect([...list()]).to.deep.equal([A]);
      fs.writeFileSync(file, `${A}\n${B}\n`); // the size changes, whatever the clock's resolution
      expect([...list()]).to.deep.equal([A, B]);
      fs.writeFileSync(file, "garbage\n");
      expect([...list()]).to.deep.equal([A, B]);
      expect([...list()]).to.deep.equal([A, B]);
      expect(errors, "reported once").to.have.length(1);
      fs.rmSync(file);
      expect([...list()]).to.deep.equal([A, B]);
      expect([...list()]).to.deep.equal([A, B]);
      expect(errors).to.have.length(2);
      fs.writeFileSync(file, `${B}\n`);
      expect([...list()]).to.deep.equal([B]);
    });
  });

  describe("screen (Hardhat node)", function () {
    let usdtNode: Awaited<ReturnType<typeof startUsdtNode>>;
    let usdt: string;
    let plainToken: string;
    let denied: Set<string>;
    let clock: number;
    let calls: number;

    before(async function () {
      usdtNode = await startUsdtNode();
      usdt = (await usdtNode.usdt.getAddress()).toLowerCase();
      const erc20 = await new TestERC20__factory(usdtNode.owner).deploy("Plain", "PLN", 6);
      await erc20.waitForDeployment();
      plainToken = (await erc20.getAddress()).toLowerCase();
    });
    after(async function () {
      usdtNode?.chain.close();
      await usdtNode?.node.stop();
    });

    const screening = () => {
      denied = new Set();
      clock = 1_000_000;
      calls = 0;
      const chain = {
        call: (to: string, data: string) => {
          calls++;
          return usdtNode.chain.call(to, data);
        },
      };
      return createScreening({ chain, denyList: () => denied, now: () => clock });
    };

    it("when nobody is listed → ok", async function () {
      expect(await screening().screen([A, B], usdt)).to.deep.equal({ ok: true });
    });

    it("when an address is on the deny list → deny-list, without asking the chain", async function () {
      const s = screening();
      denied.add(B);
      expect(await s.screen([A, B.toUpperCase().replace("0X", "0x")], usdt)).to.deep.equal({
        ok: false,
        address: B,
        reason: "deny-list",
      });
      expect(calls).to.equal(0);
    });

    it("when the token's isBlackListed says so → token-blacklist; the answer is cached for 60 s", async function () {
      const s = screening();
      const listed = addressOf(3, "cc");
      await (await usdtNode.usdt.addBlackList(listed)).wait();
      expect(await usdtNode.usdt.isBlackListed(listed)).to.equal(true);
      expect(await s.screen([A, listed], usdt)).to.deep.equal({
        ok: false,
        address: listed,
        reason: "token-blacklist",
      });
      await (await usdtNode.usdt.removeBlackList(listed)).wait();
      const before = calls;
      expect(await s.screen([listed], usdt)).to.deep.include({ ok: false, reason: "token-blacklist" });
      expect(calls).to.equal(before); // from the cache
      clock += BLACKLIST_CACHE_MS;
      expect(await s.screen([listed], usdt)).to.deep.equal({ ok: true });
      expect(calls).to.equal(before + 1);
    });

    it("when the token has no isBlackListed (reverts) or no code → nobody is listed", async function () {
      const s = screening();
      expect(await s.screen([A], plainToken)).to.deep.equal({ ok: true });
      expect(await s.screen([A], addressOf(9, "dd"))).to.deep.equal({ ok: true });
    });
  });
});
