/**
 * The protocol model's EIP-712 definitions against the deployed escrow: the contract computes the same struct hash
 * and digest, and accepts a signature of every signed type made from the model alone.
 */
import { expect } from "chai";
import { TypedDataEncoder } from "ethers";
import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import {
  Action,
  Status,
  TYPE_STRINGS,
  commitmentOf,
  dealIdOf,
  digestOf,
  encodeType,
  escrowDomain,
  fieldsOf,
  hashDeal,
  typeHashOf,
  typedDataOf,
  typesOf,
  type PrimaryType,
} from "../../protocol";
import {
  DAY,
  USDT,
  approveExactly,
  deployProtocol,
  depositFloat,
  disputedDeal,
  loadFixture,
  makeDeal,
  nextDelegateSalt,
  openDeal,
  type Protocol,
} from "../contracts/fixtures";

describe("protocol/eip712", function () {
  /** Signs `message` as `primary` with nothing but the protocol model's definitions. */
  async function sign(p: Protocol, signer: HardhatEthersSigner, primary: PrimaryType, message: object) {
    const { chainId } = await ethers.provider.getNetwork();
    const expiry = BigInt((await time.latest()) + DAY);
    const domain = escrowDomain(chainId, await p.escrow.getAddress());
    return { expiry, signature: await signer.signTypedData(domain, typesOf(primary), { ...message, expiry }) };
  }

  describe("type strings", function () {
    it("parses every type string into its fields, and encodes Open and Lock with the Deal type appended", function () {
      expect(fieldsOf(TYPE_STRINGS.DealAction)).to.deep.equal([
        { name: "dealId", type: "bytes32" },
        { name: "action", type: "uint8" },
        { name: "expiry", type: "uint256" },
      ]);
      expect(encodeType("Open")).to.equal(TYPE_STRINGS.Open + TYPE_STRINGS.Deal);
      expect(encodeType("Lock")).to.equal(TYPE_STRINGS.Lock + TYPE_STRINGS.Deal);
      expect(encodeType("Split")).to.equal(TYPE_STRINGS.Split);
      // ethers derives the same encoding from the field lists.
      for (const primary of ["Open", "Lock", "DealAction", "Split", "Resolution", "Evidence"] as const) {
        expect(TypedDataEncoder.from(typesOf(primary)).encodeType(primary)).to.equal(encodeType(primary));
        expect(typeHashOf(primary)).to.equal(ethers.id(encodeType(primary)));
      }
    });

    it("refuses a malformed type string: no parentheses, a member without a name, a member with extra words", function () {
      expect(() => fieldsOf("Deal")).to.throw("not an EIP-712 type string");
      expect(() => fieldsOf("Deal(address)")).to.throw('bad member "address"');
      expect(() => fieldsOf("Deal(address payer x)")).to.throw('bad member "address payer x"');
      expect(fieldsOf("Empty()")).to.deep.equal([]);
    });
  });

  describe("against the escrow", function () {
    it("hashDeal, the commitment and the deal id are the contract's", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      expect(hashDeal(deal)).to.equal(await p.escrow.hashDeal(deal));
      const id = await openDeal(p, deal);
      expect(dealIdOf(deal.payer, deal.salt))
        .to.equal(id)
        .and.to.equal(await p.escrow.dealIdOf(deal.payer, deal.salt));
      const record = await p.escrow.getDeal(id);
      expect(record.status).to.equal(Status.Open);
      expect(commitmentOf(deal)).to.equal(String(record.commitment).toLowerCase());
    });

    it("the digest of every signed type is the contract's hashTypedData of its struct hash", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const { chainId } = await ethers.provider.getNetwork();
      const domain = escrowDomain(chainId, await p.escrow.getAddress());
      const id = dealIdOf(deal.payer, deal.salt);
      const messages: [PrimaryType, Record<string, unknown>][] = [
        ["Open", { deal, ref: ethers.id("ref"), expiry: 1n }],
        ["Lock", { deal, ref: ethers.id("ref"), expiry: 2n }],
        ["DealAction", { dealId: id, action: Action.Dispute, expiry: 3n }],
        ["Split", { dealId: id, payeeAmount: USDT(7), expiry: 4n }],
        ["Resolution", { dealId: id, payeeAmount: USDT(8), reasons: ethers.id("why"), expiry: 5n }],
        ["Evidence", { dealId: id, contentHash: ethers.id("file"), uri: "ipfs://x", expiry: 6n }],
      ];
      for (const [primary, message] of messages) {
        const structHash = TypedDataEncoder.hashStruct(primary, typesOf(primary), message);
        expect(await p.escrow.hashTypedData(structHash), primary).to.equal(digestOf(domain, primary, message));
      }
    });

    it("accepts an Open signed from the model: openWithSig opens the deal", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), deal.amount);
      const ref = ethers.id("order 1");
      const auth = await sign(p, p.payer, "Open", { deal, ref });
      await expect(p.escrow.connect(p.other).openWithSig(deal, ref, auth)).to.emit(p.escrow, "DealOpened");
    });

    it("accepts a Lock signed from the model by the acceptor's delegate: lockWithSig locks float", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p, {
        payer: p.acceptor.address,
        kind: 1n,
        salt: nextDelegateSalt(),
        releaseWindow: BigInt(DAY),
      });
      await depositFloat(p, deal.amount);
      const ref = ethers.id("order 2");
      const auth = await sign(p, p.delegate, "Lock", { deal, ref });
      await expect(p.escrow.connect(p.other).lockWithSig(deal, ref, p.delegate.address, auth))
        .to.emit(p.escrow, "DealLockedByDelegate")
        .withArgs(dealIdOf(deal.payer, deal.salt), p.delegate.address);
    });

    it("accepts a DealAction signed from the model: actWithSig performs for the payee", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const id = await openDeal(p, deal);
      const auth = await sign(p, p.payee, "DealAction", { dealId: id, action: Action.Perform });
      await expect(p.escrow.connect(p.other).actWithSig(deal, Action.Perform, p.payee.address, auth))
        .to.emit(p.escrow, "DealPerformed")
        .withArgs(id);
    });

    it("accepts a DealAction signed over JSON-RPC from typedDataOf's payload (eth_signTypedData_v4, as a wallet signs)", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const id = await openDeal(p, deal);
      const { chainId } = await ethers.provider.getNetwork();
      const expiry = BigInt((await time.latest()) + DAY);
      const payload = typedDataOf(chainId, await p.escrow.getAddress(), "DealAction", {
        dealId: id,
        action: Action.Perform,
        expiry,
      });
      // Through JSON, as an HTTP client receives it: every integer is a string, EIP712Domain is listed.
      const json = JSON.stringify(payload);
      expect(JSON.parse(json).message.expiry).to.equal(expiry.toString());
      const signature = (await ethers.provider.send("eth_signTypedData_v4", [p.payee.address, json])) as string;
      await expect(p.escrow.connect(p.other).actWithSig(deal, Action.Perform, p.payee.address, { expiry, signature }))
        .to.emit(p.escrow, "DealPerformed")
        .withArgs(id);
    });

    it("accepts a Split signed from the model by both parties: splitWithSigs splits", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const id = await openDeal(p, deal);
      const payeeAmount = USDT(30);
      const payerAuth = await sign(p, p.payer, "Split", { dealId: id, payeeAmount });
      const payeeAuth = await sign(p, p.payee, "Split", { dealId: id, payeeAmount });
      await expect(p.escrow.connect(p.other).splitWithSigs(deal, payeeAmount, payerAuth, payeeAuth)).to.emit(
        p.escrow,
        "DealSplit",
      );
    });

    it("accepts a Resolution signed from the model by the gateway: resolveWithSig rules", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const id = await disputedDeal(p, deal);
      const reasons = ethers.id("the parcel arrived damaged");
      const auth = await sign(p, p.gateway, "Resolution", { dealId: id, payeeAmount: USDT(60), reasons });
      await expect(p.escrow.connect(p.other).resolveWithSig(deal, USDT(60), reasons, p.gateway.address, auth)).to.emit(
        p.escrow,
        "DealResolved",
      );
    });

    it("accepts an Evidence signed from the model by the payer: postEvidenceWithSig anchors it", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const id = await openDeal(p, deal);
      const contentHash = ethers.id("photo");
      const uri = "ipfs://bafy-photo";
      const auth = await sign(p, p.payer, "Evidence", { dealId: id, contentHash, uri });
      await expect(p.escrow.connect(p.other).postEvidenceWithSig(deal, contentHash, uri, p.payer.address, auth))
        .to.emit(p.escrow, "EvidencePosted")
        .withArgs(id, p.payer.address, contentHash, uri);
    });
  });
});
