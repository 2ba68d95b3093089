/**
 * checkSignature against a real Hardhat node with the protocol deployed and the real Safe 1.3.0 and 1.4.1 contracts
 * (from their npm artifacts): every answer is checked against what the escrow itself does with the same signature
 * (`actWithSig` accepts it and the deal moves, or the escrow refuses it too).
 */
import { expect } from "chai";
import {
  Signature,
  Wallet,
  ZeroAddress,
  ZeroHash,
  concat,
  id,
  toBeHex,
  zeroPadValue,
  type JsonRpcSigner,
} from "ethers";
import { createChain, type EthersChain } from "../../../relayer/src/chain/chain";
import { createCommon } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { HALF_CURVE_ORDER } from "../../../relayer/src/signatures/ecdsa";
import { MAX_SIGNATURE_BYTES, checkSignature, type SignatureCheck } from "../../../relayer/src/signatures/check";
import { wrapErc6492 } from "../../../relayer/src/signatures/erc6492";
import { Action, Status, digestOf, escrowDomain, typesOf, type DealStruct } from "../../../protocol";
import { ERC1271Wallet__factory } from "../../../typechain-types";
import { dealIdOf, latest, makeDeal } from "../support/activity";
import { startDeployed, type Deployed } from "../support/deployed";
import {
  SAFE_VERSIONS,
  createSafe,
  deploySafeKit,
  safeCreation,
  signSafeMessage,
  signSorted,
  type SafeKit,
  type SafeVersion,
} from "../support/safe";

const DAY = 86_400;
const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

describe("relayer signatures: checkSignature", function () {
  this.timeout(300_000);

  let d: Deployed;
  let chain: EthersChain;
  let chainId: number;
  let escrow: string;
  let relayer: JsonRpcSigner;
  const kits = {} as Record<SafeVersion, SafeKit>;

  before(async function () {
    d = await startDeployed("signatures");
    chain = createChain({
      common: createCommon(parseOptions({ RPC_URL: d.node.url, DEPLOYMENT: d.deploymentFile, LOG_LEVEL: "silent" })),
      rpcUrl: d.node.url,
    });
    chainId = Number(d.p.chainId);
    escrow = (await d.p.escrow.getAddress()).toLowerCase();
    relayer = d.p.accounts[19];
    for (const version of SAFE_VERSIONS) kits[version] = await deploySafeKit(d.p.owner, version);
  });

  after(async function () {
    chain?.close();
    await d?.node.stop();
  });

  /** A deal opened by the first payer, paying `payee`, and the Perform digest the payee signs (valid for a day). */
  async function openFor(payee: string) {
    const payer = d.p.payers[0];
    const deal: DealStruct = await makeDeal(d.p, { payer: await payer.getAddress(), payee });
    await (await d.p.escrow.connect(payer).open(deal, id(`signatures-${deal.salt}`))).wait();
    const dealId = dealIdOf(deal);
    const expiry = BigInt((await latest(d.p)) + DAY);
    const typed = {
      domain: escrowDomain(chainId, escrow),
      types: typesOf("DealAction"),
      message: { dealId, action: Action.Perform, expiry },
    };
    return { deal, dealId, expiry, typed, digest: digestOf(typed.domain, "DealAction", typed.message) };
  }
  type Opened = Awaited<ReturnType<typeof openFor>>;

  /** `actWithSig(Perform)` by the relayer's account: undefined once mined (and the deal is Performed), or the error. */
  async function performOnChain(opened: Opened, signer: string, signature: string): Promise<string | undefined> {
    const args: [DealStruct, number, string, { expiry: bigint; signature: string }] = [
      opened.deal,
      Action.Perform,
      signer,
      { expiry: opened.expiry, signature },
    ];
    const data = d.p.escrow.interface.encodeFunctionData("actWithSig", args);
    const simulated = await chain.simulate({ from: await relayer.getAddress(), to: escrow, data });
    if (!simulated.ok) return d.p.escrow.interface.parseError(simulated.revertData)?.name ?? simulated.revertData;
    await (await d.p.escrow.connect(relayer).actWithSig(...args)).wait();
    expect((await d.p.escrow.getDeal(opened.dealId)).status).to.equal(BigInt(Status.Performed));
    return undefined;
  }

  const check = (signer: string, digest: string, signature: string) =>
    checkSignature(chain, { signer, digest, signature });

  function expectRefusal(result: SignatureCheck, code: string, reason: RegExp): void {
    expect(result.ok, JSON.stringify(result)).to.equal(false);
    if (result.ok) return;
    expect(result.code).to.equal(code);
    expect(result.reason).to.match(reason);
  }

  describe("accounts without code (ECDSA, as OpenZeppelin's ECDSA in the escrow)", function () {
    it("the payee's 65-byte signature → ok via eoa, and the escrow accepts the same signature", async function () {
      const payee = Wallet.createRandom();
      const opened = await openFor(payee.address);
      const signature = await payee.signTypedData(opened.typed.domain, opened.typed.types, opened.typed.message);
      expect(await check(payee.address, opened.digest, signature)).to.deep.equal({ ok: true, via: "eoa", signature });
      expect(await performOnChain(opened, payee.address, signature)).to.equal(undefined);
    });

    it("a 64-byte EIP-2098 signature → ok via eoa with its 65-byte form, which the escrow accepts (not the 64)", async function () {
      const payee = Wallet.createRandom();
      const opened = await openFor(payee.address);
      const full = await payee.signTypedData(opened.typed.domain, opened.typed.types, opened.typed.message);
      const compact = Signature.from(full).compactSerialized;
      expect(await check(payee.address, opened.digest, compact)).to.deep.equal({
        ok: true,
        via: "eoa",
        signature: full,
      });
      expect(await performOnChain(opened, payee.address, compact)).to.equal("EscrowInvalidSignature");
      expect(await performOnChain(opened, payee.address, full)).to.equal(undefined);
    });

    it("another key's signature → wrong-signer naming the key it recovers to; the escrow refuses it", async function () {
      const payee = Wallet.createRandom();
      const other = Wallet.createRandom();
      const opened = await openFor(payee.address);
      const signature = await other.signTypedData(opened.typed.domain, opened.typed.types, opened.typed.message);
      const result = await check(payee.address, opened.digest, signature);
      expectRefusal(
        result,
        "wrong-signer",
        new RegExp(`recovers to ${other.address.toLowerCase()}, not to the signer`),
      );
      expect(await performOnChain(opened, payee.address, signature)).to.equal("EscrowInvalidSignature");
    });

    it("the payee's signature of another deal → wrong-signer (a signature binds its digest)", async function () {
      const payee = Wallet.createRandom();
      const opened = await openFor(payee.address);
      const elsewhere = await openFor(payee.address);
      const signature = await payee.signTypedData(opened.typed.domain, opened.typed.types, opened.typed.message);
      expectRefusal(await check(payee.address, elsewhere.digest, signature), "wrong-signer", /other data/);
      expect(await performOnChain(elsewhere, payee.address, signature)).to.equal("EscrowInvalidSignature");
    });

    it("a high-s twin of a valid signature → malformed (malleable); the escrow refuses it too", async function () {
      const payee = Wallet.createRandom();
      const opened = await openFor(payee.address);
      const low = Signature.from(
        await payee.signTypedData(opened.typed.domain, opened.typed.types, opened.typed.message),
      );
      const highS = CURVE_ORDER - BigInt(low.s);
      expect(highS > HALF_CURVE_ORDER).to.equal(true);
      const high = concat([low.r, zeroPadValue(toBeHex(highS), 32), toBeHex(low.v === 27 ? 28 : 27)]);
      expectRefusal(await check(payee.address, opened.digest, high), "malformed", /upper half of the curve order/);
      expect(await performOnChain(opened, payee.address, high)).to.equal("EscrowInvalidSignature");
    });

    const malformed: {
      name: string;
      input: (valid: string) => [signer?: string, digest?: string, sig?: string];
      reason: RegExp;
    }[] = [
      {
        name: "a signature that is not hex",
        input: () => [undefined, undefined, "0xzz"],
        reason: /not 0x-prefixed hex/,
      },
      {
        name: "an odd number of hex digits",
        input: (s) => [undefined, undefined, s.slice(0, -1)],
        reason: /hex bytes/,
      },
      { name: "10 bytes", input: () => [undefined, undefined, "0x" + "11".repeat(10)], reason: /10-byte signature/ },
      { name: "no bytes", input: () => [undefined, undefined, "0x"], reason: /0-byte signature/ },
      { name: "v = 1", input: (s) => [undefined, undefined, s.slice(0, -2) + "01"], reason: /v is 1/ },
      {
        name: "r = 0",
        input: (s) => [undefined, undefined, "0x" + "00".repeat(32) + s.slice(66)],
        reason: /no key recovers/,
      },
      { name: "a signer that is not an address", input: () => ["0x1234", undefined, undefined], reason: /signer/ },
      { name: "a digest of 31 bytes", input: () => [undefined, "0x" + "ab".repeat(31), undefined], reason: /digest/ },
      {
        name: "a signature longer than MAX_SIGNATURE_BYTES",
        input: () => [undefined, undefined, "0x" + "11".repeat(MAX_SIGNATURE_BYTES + 1)],
        reason: /longer than 16384 bytes/,
      },
      {
        name: "an ERC-6492 suffix on bytes that are no wrapper",
        input: () => [undefined, undefined, "0x" + "00".repeat(40) + "6492".repeat(16)],
        reason: /ERC-6492/,
      },
    ];
    for (const { name, input, reason } of malformed) {
      it(`${name} → malformed`, async function () {
        const payee = Wallet.createRandom();
        const digest = id("a digest");
        const valid = payee.signingKey.sign(digest).serialized;
        const [signer, dig, sig] = input(valid);
        expectRefusal(await check(signer ?? payee.address, dig ?? digest, sig ?? valid), "malformed", reason);
      });
    }
  });

  describe("contract signers (ERC-1271)", function () {
    it("ERC1271Wallet with its owner's signature → ok via erc1271, and the escrow accepts it", async function () {
      const owner = Wallet.createRandom();
      const wallet = await new ERC1271Wallet__factory(d.p.owner).deploy(owner.address);
      await wallet.waitForDeployment();
      const address = (await wallet.getAddress()).toLowerCase();
      const opened = await openFor(address);
      const signature = owner.signingKey.sign(opened.digest).serialized;
      expect(await check(address, opened.digest, signature)).to.deep.equal({ ok: true, via: "erc1271", signature });
      expect(await performOnChain(opened, address, signature)).to.equal(undefined);
    });

    it("ERC1271Wallet with another key's signature → wallet-rejected (its answer 0xffffffff)", async function () {
      const wallet = await new ERC1271Wallet__factory(d.p.owner).deploy(Wallet.createRandom().address);
      await wallet.waitForDeployment();
      const address = (await wallet.getAddress()).toLowerCase();
      const opened = await openFor(address);
      const signature = Wallet.createRandom().signingKey.sign(opened.digest).serialized;
      expectRefusal(await check(address, opened.digest, signature), "wallet-rejected", /answered 0xffffffff/);
      expect(await performOnChain(opened, address, signature)).to.equal("EscrowInvalidSignature");
    });

    it("a contract without isValidSignature (the token) → not-a-wallet", async function () {
      const token = (await d.p.usdt.getAddress()).toLowerCase();
      const signature = Wallet.createRandom().signingKey.sign(id("x")).serialized;
      expectRefusal(await check(token, id("x"), signature), "not-a-wallet", /not a wallet/);
    });

    it("ERC-6492 whose factory call reverts → wallet-not-deployable with the revert", async function () {
      const signer = Wallet.createRandom().address;
      const inner = Wallet.createRandom().signingKey.sign(id("y")).serialized;
      const wrapped = wrapErc6492({ factory: escrow, factoryCalldata: "0xdeadbeef", signature: inner });
      expectRefusal(await check(signer, id("y"), wrapped), "wallet-not-deployable", /reverts without a reason/);
    });
  });

  for (const version of SAFE_VERSIONS) safeBehaviours(version);

  /** What a Safe of `version` signs, and how each mistake is refused (the same for both versions). */
  function safeBehaviours(version: SafeVersion): void {
    describe(`Safe ${version} (the real contracts, CompatibilityFallbackHandler)`, function () {
      const owners = () => [0, 1, 2].map(() => Wallet.createRandom());
      const addresses = (ws: { address: string }[]) => ws.map((w) => w.address);

      it("1-of-1: the owner signs the SafeMessage → ok via erc1271, and actWithSig accepts it on chain", async function () {
        const [owner] = owners();
        const safe = await createSafe(kits[version], [owner.address], 1);
        const opened = await openFor(safe);
        const signature = await signSafeMessage(safe, chainId, opened.digest, [owner]);
        expect(await check(safe, opened.digest, signature)).to.deep.equal({ ok: true, via: "erc1271", signature });
        expect(await performOnChain(opened, safe, signature)).to.equal(undefined);
      });

      it("2-of-3: two owners sign the SafeMessage → ok via erc1271, and actWithSig accepts it on chain", async function () {
        const ws = owners();
        const safe = await createSafe(kits[version], addresses(ws), 2);
        const opened = await openFor(safe);
        const signature = await signSafeMessage(safe, chainId, opened.digest, [ws[2], ws[0]]);
        expect(await check(safe, opened.digest, signature)).to.deep.equal({ ok: true, via: "erc1271", signature });
        expect(await performOnChain(opened, safe, signature)).to.equal(undefined);
      });

      it("2-of-3: owners who signed the escrow's typed data directly → safe-message-expected (GS026)", async function () {
        const ws = owners();
        const safe = await createSafe(kits[version], addresses(ws), 2);
        const opened = await openFor(safe);
        const signature = await signSorted([ws[0], ws[1]], opened.typed);
        const result = await check(safe, opened.digest, signature);
        expectRefusal(result, "safe-message-expected", /signed the escrow's typed data directly.*SafeMessage.*GS026/);
        expect(await performOnChain(opened, safe, signature)).to.equal("EscrowInvalidSignature");
      });

      it("2-of-3: the owners' SafeMessage signatures in descending owner order → wallet-rejected (order)", async function () {
        const ws = owners();
        const safe = await createSafe(kits[version], addresses(ws), 2);
        const opened = await openFor(safe);
        const sorted = await signSafeMessage(safe, chainId, opened.digest, [ws[0], ws[1]]);
        const reversed = "0x" + sorted.slice(132) + sorted.slice(2, 132);
        expectRefusal(await check(safe, opened.digest, reversed), "wallet-rejected", /ascending order.*GS026/);
      });

      it("2-of-3: a key that is not an owner signs the SafeMessage → wallet-rejected naming it", async function () {
        const ws = owners();
        const stranger = Wallet.createRandom();
        const safe = await createSafe(kits[version], addresses(ws), 2);
        const opened = await openFor(safe);
        const signature = await signSafeMessage(safe, chainId, opened.digest, [ws[0], stranger]);
        const reason = new RegExp(`${stranger.address.toLowerCase()}, which is not an owner.*GS026`);
        expectRefusal(await check(safe, opened.digest, signature), "wallet-rejected", reason);
      });

      it("2-of-3: one owner's signature only → wallet-rejected (GS020: needs 2)", async function () {
        const ws = owners();
        const safe = await createSafe(kits[version], addresses(ws), 2);
        const opened = await openFor(safe);
        const signature = await signSafeMessage(safe, chainId, opened.digest, [ws[1]]);
        expectRefusal(await check(safe, opened.digest, signature), "wallet-rejected", /needs 2 owner.*GS020/);
      });

      it("2-of-3: an approved-hash part (v = 1) for an owner who approved nothing → wallet-rejected (GS025)", async function () {
        const ws = owners();
        const safe = await createSafe(kits[version], addresses(ws), 2);
        const opened = await openFor(safe);
        const approved = concat([zeroPadValue(ws[0].address, 32), ZeroHash, "0x01"]);
        const signed = await signSafeMessage(safe, chainId, opened.digest, [ws[1]]);
        const parts = [
          { owner: ws[0].address.toLowerCase(), part: approved },
          { owner: ws[1].address.toLowerCase(), part: signed },
        ].sort((a, b) => (a.owner < b.owner ? -1 : 1));
        const signature = concat(parts.map((p) => p.part));
        expectRefusal(await check(safe, opened.digest, signature), "wallet-rejected", /approved-hash.*GS025/);
      });

      it("an empty signature for a message the Safe never signed on chain → wallet-rejected with its reason", async function () {
        const safe = await createSafe(kits[version], [Wallet.createRandom().address], 1);
        const opened = await openFor(safe);
        expectRefusal(
          await check(safe, opened.digest, "0x"),
          "wallet-rejected",
          /refused the signature: "Hash not approved"/,
        );
      });

      it("a Safe without a fallback handler → not-a-wallet, saying to set CompatibilityFallbackHandler", async function () {
        const [owner] = owners();
        const safe = await createSafe(kits[version], [owner.address], 1, { handler: ZeroAddress });
        const opened = await openFor(safe);
        const signature = await signSafeMessage(safe, chainId, opened.digest, [owner]);
        expectRefusal(await check(safe, opened.digest, signature), "not-a-wallet", /CompatibilityFallbackHandler/);
        expect(await performOnChain(opened, safe, signature)).to.equal("EscrowInvalidSignature");
      });

      it("ERC-6492 from an undeployed 2-of-3 → ok via erc6492 with the factory call; deployed, the deal moves", async function () {
        const ws = owners();
        const creation = await safeCreation(kits[version], addresses(ws), 2);
        const opened = await openFor(creation.address);
        const inner = await signSafeMessage(creation.address, chainId, opened.digest, [ws[0], ws[1]]);
        const wrapped = wrapErc6492({ factory: creation.factory, factoryCalldata: creation.data, signature: inner });
        const result = await check(creation.address, opened.digest, wrapped);
        expect(result).to.deep.equal({
          ok: true,
          via: "erc6492",
          signature: inner,
          deploy: { factory: creation.factory, data: creation.data },
        });
        // The check deployed nothing; the escrow cannot take the signature before the wallet exists.
        expect(await d.p.provider.getCode(creation.address)).to.equal("0x");
        expect(await performOnChain(opened, creation.address, inner)).to.equal("EscrowInvalidSignature");
        if (!result.ok || !result.deploy) return;
        await (await relayer.sendTransaction({ to: result.deploy.factory, data: result.deploy.data })).wait();
        expect(await performOnChain(opened, creation.address, result.signature)).to.equal(undefined);
      });

      it("ERC-6492 wrapping an already deployed Safe → ok via erc1271, the inner signature, nothing to deploy", async function () {
        const ws = owners();
        const creation = await safeCreation(kits[version], addresses(ws), 2);
        await (await relayer.sendTransaction({ to: creation.factory, data: creation.data })).wait();
        const opened = await openFor(creation.address);
        const inner = await signSafeMessage(creation.address, chainId, opened.digest, [ws[1], ws[2]]);
        const wrapped = wrapErc6492({ factory: creation.factory, factoryCalldata: creation.data, signature: inner });
        expect(await check(creation.address, opened.digest, wrapped)).to.deep.equal({
          ok: true,
          via: "erc1271",
          signature: inner,
        });
      });

      it("ERC-6492 from an undeployed Safe whose owners signed the typed data directly → safe-message-expected", async function () {
        const ws = owners();
        const creation = await safeCreation(kits[version], addresses(ws), 2);
        const opened = await openFor(creation.address);
        const inner = await signSorted([ws[0], ws[2]], opened.typed);
        const wrapped = wrapErc6492({ factory: creation.factory, factoryCalldata: creation.data, signature: inner });
        expectRefusal(await check(creation.address, opened.digest, wrapped), "safe-message-expected", /GS026/);
      });

      it("ERC-6492 whose factory call deploys another Safe → wallet-not-deployable", async function () {
        const ws = owners();
        const creation = await safeCreation(kits[version], addresses(ws), 2);
        const another = await safeCreation(kits[version], addresses(ws), 1);
        const opened = await openFor(creation.address);
        const inner = await signSafeMessage(creation.address, chainId, opened.digest, [ws[0], ws[1]]);
        const wrapped = wrapErc6492({ factory: another.factory, factoryCalldata: another.data, signature: inner });
        const result = await check(creation.address, opened.digest, wrapped);
        expectRefusal(result, "wallet-not-deployable", /does not deploy the signer/);
      });
    });
  }
});
