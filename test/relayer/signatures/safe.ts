/**
 * The Safe helpers against the real Safe 1.3.0 and 1.4.1 contracts (npm artifacts) on a Hardhat node: what a Safe
 * is (safeInfo), and that the SafeMessage the relayer hands to owners is the one the real fallback handler hashes.
 */
import fs from "node:fs";
import { expect } from "chai";
import { Wallet, getAddress, id } from "ethers";
import { createChain, type EthersChain } from "../../../relayer/src/chain/chain";
import { createCommon } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import {
  explainSafeRefusal,
  safeInfo,
  safeMessageHash,
  safeMessageTypedData,
  SAFE_REFUSALS,
} from "../../../relayer/src/signatures/safe";
import { startHardhatNode, type HardhatNode } from "../support/node";
import { SAFE_VERSIONS, createSafe, deploySafeKit, type SafeKit, type SafeVersion } from "../support/safe";

describe("relayer signatures: Safe helpers", function () {
  this.timeout(180_000);

  let node: HardhatNode;
  let chain: EthersChain;
  let chainId: number;
  const kits = {} as Record<SafeVersion, SafeKit>;

  before(async function () {
    node = await startHardhatNode();
    chain = createChain({
      common: createCommon(parseOptions({ RPC_URL: node.url, DEPLOYMENT: "x", LOG_LEVEL: "silent" })),
      rpcUrl: node.url,
    });
    chainId = await chain.chainId();
    const deployer = await node.provider.getSigner(0);
    for (const version of SAFE_VERSIONS) kits[version] = await deploySafeKit(deployer, version);
  });

  after(async function () {
    chain?.close();
    await node?.stop();
  });

  for (const version of SAFE_VERSIONS) {
    describe(`Safe ${version}`, function () {
      it("safeInfo of a 2-of-3 → its version, its owners (lower-case) and threshold 2", async function () {
        const owners = [0, 1, 2].map(() => Wallet.createRandom().address);
        const safe = await createSafe(kits[version], owners, 2);
        const info = await safeInfo(chain, safe);
        expect(info?.version).to.equal(version);
        expect(info?.threshold).to.equal(2);
        expect([...(info?.owners ?? [])].sort()).to.deep.equal(owners.map((o) => o.toLowerCase()).sort());
      });

      it("safeMessageHash is the real handler's getMessageHash(abi.encode(digest)) for that Safe", async function () {
        const safe = await createSafe(kits[version], [Wallet.createRandom().address], 1);
        const digest = id(`an escrow digest for ${version}`);
        const viaSafe = kits[version].handler.attach(safe) as (typeof kits)[typeof version]["handler"];
        const onChain = (await viaSafe.getFunction("getMessageHash").staticCall(digest)) as string;
        expect(safeMessageHash(safe, chainId, digest)).to.equal(onChain);
      });

      it("the same digest gives another SafeMessage hash for another Safe (the domain binds the Safe)", async function () {
        const a = await createSafe(kits[version], [Wallet.createRandom().address], 1);
        const b = await createSafe(kits[version], [Wallet.createRandom().address], 1);
        const digest = id("one digest");
        expect(safeMessageHash(a, chainId, digest)).to.not.equal(safeMessageHash(b, chainId, digest));
      });
    });
  }

  it("safeInfo of an account without code → undefined", async function () {
    expect(await safeInfo(chain, Wallet.createRandom().address)).to.equal(undefined);
  });

  it("safeInfo of a contract that is not a Safe (the proxy factory) → undefined", async function () {
    expect(await safeInfo(chain, await kits["1.4.1"].factory.getAddress())).to.equal(undefined);
  });

  it("safeMessageTypedData: domain {chainId, verifyingContract} only, SafeMessage(bytes message), the digest as message", function () {
    const safe = "0x" + "ab".repeat(20);
    const digest = id("d").toUpperCase().replace("0X", "0x");
    expect(safeMessageTypedData(safe, 10, digest)).to.deep.equal({
      domain: { chainId: 10, verifyingContract: getAddress(safe) },
      types: { SafeMessage: [{ name: "message", type: "bytes" }] },
      primaryType: "SafeMessage",
      message: { message: digest.toLowerCase() },
    });
  });

  it("every GS0xx code of checkSignatures in both versions' sources has an explanation, and no other", function () {
    const sources = [
      "@gnosis.pm/safe-contracts/contracts/GnosisSafe.sol",
      "@safe-global/safe-contracts/contracts/Safe.sol",
    ].map((file) => fs.readFileSync(require.resolve(file), "utf8"));
    const codes = new Set<string>();
    for (const source of sources) {
      const body = source.slice(source.indexOf("function checkSignatures("), source.indexOf("function approveHash("));
      expect(body.length).to.be.greaterThan(0);
      for (const match of body.matchAll(/"(GS0\d\d)"/g)) codes.add(match[1]);
    }
    expect(Object.keys(SAFE_REFUSALS).sort()).to.deep.equal([...codes].sort());
  });

  it("explainSafeRefusal of a code outside the signature check → wallet-rejected, naming the code", function () {
    const context = { safe: "0x" + "ab".repeat(20), chainId, digest: id("d"), signature: new Uint8Array(65) };
    expect(explainSafeRefusal("GS013", context)).to.deep.equal({
      code: "wallet-rejected",
      reason: `the Safe at ${context.safe} refused the signature: an unknown refusal (GS013)`,
    });
  });
});
