import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ERC1271Wallet, TestERC20 } from "../../typechain-types";
import {
  AcceptorStatus,
  Action,
  DAY,
  DEAL_TYPE,
  GATEWAY_FEE_BPS,
  GATEWAY_FEE_CAP_BPS,
  GatewayStatus,
  HOUR,
  Kind,
  MIN_BOND,
  RESOLUTION_WINDOW,
  Status,
  USDT,
  approveExactly,
  dealIdOf,
  deployProtocol,
  depositFloat,
  escrowDomain,
  feeOf,
  makeDeal,
  openDeal,
  signOpen,
  type DealOut,
  type Protocol,
  loadFixture,
} from "./fixtures";

/*//////////////////////////////////////////////////////////////
                         LOCAL HELPERS
//////////////////////////////////////////////////////////////*/

const MIN_RELEASE_WINDOW = HOUR;
const MAX_RELEASE_WINDOW = 90 * DAY;
const MAX_DEAL_DURATION = 365 * DAY;
const MAX_DELEGATE_LOCK_DURATION = 7 * DAY;
const MIN_RESOLUTION_WINDOW = HOUR;
const MAX_RESOLUTION_WINDOW = 90 * DAY;
const UINT96_MAX = 2n ** 96n - 1n;
const FLOAT = USDT(1_000);

const REF = ethers.id("order #1");
const REF2 = ethers.id("order #2");

const OPEN_FIELDS = [
  { name: "deal", type: "Deal" },
  { name: "ref", type: "bytes32" },
  { name: "expiry", type: "uint256" },
];
const OPEN_TYPES = { Open: OPEN_FIELDS, Deal: DEAL_TYPE };
const LOCK_TYPES = { Lock: OPEN_FIELDS, Deal: DEAL_TYPE };
const DEAL_TYPES = { Deal: DEAL_TYPE };
const ACTION_TYPES = {
  DealAction: [
    { name: "dealId", type: "bytes32" },
    { name: "action", type: "uint8" },
    { name: "expiry", type: "uint256" },
  ],
};

/** The deal as a tuple in struct order, for `withArgs`. */
function tuple(d: DealOut) {
  return [
    d.payer,
    d.payee,
    d.gateway,
    d.token,
    d.amount,
    d.deadline,
    d.releaseWindow,
    d.feeBps,
    d.kind,
    d.autoRelease,
    d.salt,
  ];
}

/** EIP-712 struct hash of a deal, computed off-chain. */
function structHash(d: DealOut): string {
  return ethers.TypedDataEncoder.hashStruct("Deal", DEAL_TYPES, d);
}

/** An on-ramp deal locked from the fixture acceptor's float for the payee (the buyer). */
async function makeLockDeal(p: Protocol, over: Parameters<typeof makeDeal>[1] = {}) {
  return makeDeal(p, { payer: p.acceptor.address, payee: p.payee.address, kind: Kind.OnRamp, ...over });
}

/** An off-ramp deal: the payer sells to the fixture acceptor. */
async function makeOffRampDeal(p: Protocol, over: Parameters<typeof makeDeal>[1] = {}) {
  return makeDeal(p, { payee: p.acceptor.address, kind: Kind.OffRamp, ...over });
}

/** Approves the escrow for `deal.amount` of the deal's token from its payer. */
async function approveFor(p: Protocol, deal: DealOut, signer?: HardhatEthersSigner) {
  const s = signer ?? (await ethers.getSigner(deal.payer));
  const token = await ethers.getContractAt("TestUSDT", deal.token);
  await approveExactly(token, s, await p.escrow.getAddress(), deal.amount);
}

/** Registers `gw` as a gateway (minimum bond, default fee) and, unless `approve` is false, approves it. */
async function registerGateway(p: Protocol, gw: HardhatEthersSigner, approve = true) {
  await approveExactly(p.usdt, gw, await p.registry.getAddress(), MIN_BOND);
  await p.registry.connect(gw).registerGateway(MIN_BOND, GATEWAY_FEE_BPS, ethers.id("gw2"));
  if (approve) await p.registry.connect(p.governor).approveGateway(gw.address, GATEWAY_FEE_CAP_BPS);
}

/** Registers `acc` as an acceptor under the fixture gateway without a lock delegate; approved unless told not. */
async function registerAcceptor(p: Protocol, acc: HardhatEthersSigner, approve = true) {
  await p.registry.connect(acc).registerAcceptor(p.gateway.address, ethers.ZeroAddress);
  if (approve) await p.registry.connect(p.gateway).approveAcceptor(acc.address);
  await p.registry.connect(acc).setLimits(await p.usdt.getAddress(), USDT(10), USDT(50_000));
}

/*//////////////////////////////////////////////////////////////
                            FIXTURES
//////////////////////////////////////////////////////////////*/

/** The protocol with 1,000 USDT of free float deposited by the fixture acceptor. */
async function withFloat() {
  const p = await deployProtocol();
  await depositFloat(p, FLOAT);
  return p;
}

/** The protocol with a second active gateway (`gateway2`). */
async function withGateway2() {
  const p = await deployProtocol();
  await registerGateway(p, p.gateway2);
  return p;
}

/** A 100 USDT payment released by both parties: the gateway is owed its fee. */
async function withReleasedDeal() {
  const p = await deployProtocol();
  const deal = await makeDeal(p);
  await openDeal(p, deal);
  await p.escrow.connect(p.payee).perform(deal);
  await p.escrow.connect(p.payer).release(deal);
  return { ...p, deal, fee: feeOf(deal.amount, deal.feeBps) };
}

/*//////////////////////////////////////////////////////////////
                              TESTS
//////////////////////////////////////////////////////////////*/

describe("Escrow (part A: opening, locking, float, owed, views)", function () {
  describe("constructor", function () {
    it("rejects a registry that is not a contract", async function () {
      const p = await loadFixture(deployProtocol);
      const factory = await ethers.getContractFactory("Escrow");
      await expect(factory.deploy(p.other.address, RESOLUTION_WINDOW))
        .to.be.revertedWithCustomError(factory, "EscrowInvalidRegistry")
        .withArgs(p.other.address);
      await expect(factory.deploy(ethers.ZeroAddress, RESOLUTION_WINDOW))
        .to.be.revertedWithCustomError(factory, "EscrowInvalidRegistry")
        .withArgs(ethers.ZeroAddress);
    });

    it("rejects a resolution window outside [MIN_RESOLUTION_WINDOW, MAX_RESOLUTION_WINDOW]", async function () {
      const p = await loadFixture(deployProtocol);
      const factory = await ethers.getContractFactory("Escrow");
      const registry = await p.registry.getAddress();
      for (const w of [0, MIN_RESOLUTION_WINDOW - 1, MAX_RESOLUTION_WINDOW + 1, 2 ** 32 - 1]) {
        await expect(factory.deploy(registry, w))
          .to.be.revertedWithCustomError(factory, "EscrowInvalidResolutionWindow")
          .withArgs(w);
      }
    });

    it("accepts both bounds of the resolution window and exposes registry and window", async function () {
      const p = await loadFixture(deployProtocol);
      const factory = await ethers.getContractFactory("Escrow");
      const registry = await p.registry.getAddress();
      for (const w of [MIN_RESOLUTION_WINDOW, MAX_RESOLUTION_WINDOW]) {
        const e = await factory.deploy(registry, w);
        expect(await e.resolutionWindow()).to.equal(w);
        expect(await e.registry()).to.equal(registry);
      }
      expect(await p.escrow.registry()).to.equal(registry);
      expect(await p.escrow.resolutionWindow()).to.equal(RESOLUTION_WINDOW);
    });

    it("exposes the constants and type hashes", async function () {
      const { escrow } = await loadFixture(deployProtocol);
      expect(await escrow.MIN_RELEASE_WINDOW()).to.equal(MIN_RELEASE_WINDOW);
      expect(await escrow.MAX_RELEASE_WINDOW()).to.equal(MAX_RELEASE_WINDOW);
      expect(await escrow.MAX_DEAL_DURATION()).to.equal(MAX_DEAL_DURATION);
      expect(await escrow.MIN_RESOLUTION_WINDOW()).to.equal(MIN_RESOLUTION_WINDOW);
      expect(await escrow.MAX_RESOLUTION_WINDOW()).to.equal(MAX_RESOLUTION_WINDOW);
      const enc = (types: Record<string, typeof DEAL_TYPE>, primary: string) =>
        ethers.id(ethers.TypedDataEncoder.from(types).encodeType(primary));
      expect(await escrow.DEAL_TYPEHASH()).to.equal(enc(DEAL_TYPES, "Deal"));
      expect(await escrow.OPEN_TYPEHASH()).to.equal(enc(OPEN_TYPES, "Open"));
      expect(await escrow.LOCK_TYPEHASH()).to.equal(enc(LOCK_TYPES, "Lock"));
      expect(await escrow.ACTION_TYPEHASH()).to.equal(enc(ACTION_TYPES, "DealAction"));
    });

    it("publishes its EIP-712 domain (ERC-5267)", async function () {
      const { escrow } = await loadFixture(deployProtocol);
      const d = await escrowDomain(escrow);
      const domain = await escrow.eip712Domain();
      expect(domain.name).to.equal(d.name);
      expect(domain.version).to.equal(d.version);
      expect(domain.chainId).to.equal(d.chainId);
      expect(domain.verifyingContract).to.equal(d.verifyingContract);
    });
  });

  describe("open", function () {
    describe("validations", function () {
      it("rejects zero, equal or overlapping parties", async function () {
        const p = await loadFixture(deployProtocol);
        const { payer, payee, gateway } = p;
        const Z = ethers.ZeroAddress;
        const cases: [string, string, string][] = [
          [Z, payee.address, gateway.address],
          [payer.address, Z, gateway.address],
          [payer.address, payee.address, Z],
          [payer.address, payer.address, gateway.address],
          [payer.address, payee.address, payer.address],
          [payer.address, payee.address, payee.address],
        ];
        for (const [a, b, g] of cases) {
          const deal = await makeDeal(p, { payer: a, payee: b, gateway: g });
          await expect(p.escrow.connect(payer).open(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidParties")
            .withArgs(a, b, g);
        }
      });

      it("rejects a zero amount", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p, { amount: 0n });
        await expect(p.escrow.connect(p.payer).open(deal, REF)).to.be.revertedWithCustomError(
          p.escrow,
          "EscrowZeroAmount",
        );
      });

      it("rejects a deadline that is not in the future", async function () {
        const p = await loadFixture(deployProtocol);
        await approveFor(p, await makeDeal(p));
        for (const offset of [0, -1, -DAY]) {
          const t = (await time.latest()) + 10;
          const deal = await makeDeal(p, { deadline: BigInt(t + offset) });
          await time.setNextBlockTimestamp(t);
          await expect(p.escrow.connect(p.payer).open(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
            .withArgs(t + offset, t + MAX_DEAL_DURATION);
        }
      });

      it("rejects a deadline beyond MAX_DEAL_DURATION from now", async function () {
        const p = await loadFixture(deployProtocol);
        const t = (await time.latest()) + 10;
        const deadline = t + MAX_DEAL_DURATION + 1;
        const deal = await makeDeal(p, { deadline: BigInt(deadline) });
        await time.setNextBlockTimestamp(t);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
          .withArgs(deadline, t + MAX_DEAL_DURATION);
      });

      it("accepts the deadline bounds now + 1 and now + MAX_DEAL_DURATION", async function () {
        const p = await loadFixture(deployProtocol);
        for (const offset of [1, MAX_DEAL_DURATION]) {
          // Approve first: the next block's time is pinned right before the open.
          await approveFor(p, await makeDeal(p));
          const t = (await time.latest()) + 10;
          const deal = await makeDeal(p, { deadline: BigInt(t + offset) });
          await time.setNextBlockTimestamp(t);
          await p.escrow.connect(p.payer).open(deal, REF);
          expect(await p.escrow.statusOf(dealIdOf(deal))).to.equal(Status.Open);
        }
      });

      it("rejects a release window outside [MIN_RELEASE_WINDOW, MAX_RELEASE_WINDOW]", async function () {
        const p = await loadFixture(deployProtocol);
        for (const w of [0, MIN_RELEASE_WINDOW - 1, MAX_RELEASE_WINDOW + 1, 2 ** 32 - 1]) {
          const deal = await makeDeal(p, { releaseWindow: w });
          await expect(p.escrow.connect(p.payer).open(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidReleaseWindow")
            .withArgs(w);
        }
      });

      it("accepts both release window bounds", async function () {
        const p = await loadFixture(deployProtocol);
        for (const w of [MIN_RELEASE_WINDOW, MAX_RELEASE_WINDOW]) {
          const deal = await makeDeal(p, { releaseWindow: w });
          await openDeal(p, deal);
          expect(await p.escrow.statusOf(dealIdOf(deal))).to.equal(Status.Open);
        }
      });

      it("rejects kind OnRamp (locks only) and autoRelease on OffRamp", async function () {
        const p = await loadFixture(deployProtocol);
        const onRamp = await makeDeal(p, { kind: Kind.OnRamp });
        await expect(p.escrow.connect(p.payer).open(onRamp, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidKind")
          .withArgs(Kind.OnRamp, false);
        const offRampAuto = await makeOffRampDeal(p, { autoRelease: true });
        await expect(p.escrow.connect(p.payer).open(offRampAuto, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidKind")
          .withArgs(Kind.OffRamp, true);
      });

      it("accepts autoRelease on a payment", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p, { autoRelease: true });
        await openDeal(p, deal);
        expect(await p.escrow.statusOf(dealIdOf(deal))).to.equal(Status.Open);
      });

      it("rejects a caller other than the payer", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        for (const s of [p.other, p.payee, p.gateway]) {
          await expect(p.escrow.connect(s).open(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(dealIdOf(deal), s.address);
        }
      });

      it("does not let a lock delegate open a wallet-funded deal for its acceptor", async function () {
        const p = await loadFixture(deployProtocol);
        const payment = await makeDeal(p, { payer: p.acceptor.address });
        await approveFor(p, payment, p.acceptor);
        await expect(p.escrow.connect(p.delegate).open(payment, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(payment), p.delegate.address);
      });

      it("bubbles the registry's pause", async function () {
        const p = await loadFixture(deployProtocol);
        await p.registry.connect(p.pauser).pause();
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        await expect(p.escrow.connect(p.payer).open(deal, REF)).to.be.revertedWithCustomError(
          p.registry,
          "RegistryPaused",
        );
      });

      it("bubbles a token that is not allowlisted (never allowed, or disallowed)", async function () {
        const p = await loadFixture(deployProtocol);
        const stray: TestERC20 = await ethers.deployContract("TestERC20", ["Stray", "STR", 6]);
        const strayDeal = await makeDeal(p, { token: await stray.getAddress() });
        await expect(p.escrow.connect(p.payer).open(strayDeal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
          .withArgs(await stray.getAddress());

        await p.registry.connect(p.governor).setTokenAllowed(await p.usdt.getAddress(), false);
        const deal = await makeDeal(p);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
          .withArgs(await p.usdt.getAddress());
      });

      it("bubbles a gateway that is pending, suspended, exiting or unknown", async function () {
        const p = await loadFixture(deployProtocol);
        // unknown
        let deal = await makeDeal(p, { gateway: p.gateway2.address });
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewayWrongStatus")
          .withArgs(p.gateway2.address, GatewayStatus.None);
        // pending
        await registerGateway(p, p.gateway2, false);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewayWrongStatus")
          .withArgs(p.gateway2.address, GatewayStatus.Pending);
        // suspended
        await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
        deal = await makeDeal(p);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewayWrongStatus")
          .withArgs(p.gateway.address, GatewayStatus.Suspended);
        // exiting
        await p.registry.connect(p.governor).reinstateGateway(p.gateway.address);
        await p.registry.connect(p.gateway).requestExit();
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewayWrongStatus")
          .withArgs(p.gateway.address, GatewayStatus.Exiting);
      });

      it("rejects a fee that differs from the gateway's current fee", async function () {
        const p = await loadFixture(deployProtocol);
        for (const fee of [0, GATEWAY_FEE_BPS - 1, GATEWAY_FEE_BPS + 1]) {
          const deal = await makeDeal(p, { feeBps: fee });
          await expect(p.escrow.connect(p.payer).open(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowFeeMismatch")
            .withArgs(p.gateway.address, fee, GATEWAY_FEE_BPS);
        }
        // after the gateway changes its fee, the old one no longer matches
        await p.registry.connect(p.gateway).setGatewayFee(70);
        const old = await makeDeal(p);
        await expect(p.escrow.connect(p.payer).open(old, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowFeeMismatch")
          .withArgs(p.gateway.address, GATEWAY_FEE_BPS, 70);
        const fresh = await makeDeal(p, { feeBps: 70 });
        await openDeal(p, fresh);
        expect(await p.escrow.statusOf(dealIdOf(fresh))).to.equal(Status.Open);
      });

      it("expects the fee clamped to the global cap once the cap is lowered below the gateway's fee", async function () {
        const p = await loadFixture(deployProtocol);
        await p.registry.connect(p.governor).setMaxFee(30);
        const deal = await makeDeal(p); // feeBps 50, the gateway's own fee
        await approveFor(p, deal);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowFeeMismatch")
          .withArgs(p.gateway.address, GATEWAY_FEE_BPS, 30);
        const clamped = await makeDeal(p, { feeBps: 30 });
        await openDeal(p, clamped);
        expect(await p.escrow.statusOf(dealIdOf(clamped))).to.equal(Status.Open);
      });

      it("rejects a second deal with the same payer and salt", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await openDeal(p, deal);
        const twin = { ...deal, amount: USDT(5), payee: p.other.address };
        await approveFor(p, twin);
        await expect(p.escrow.connect(p.payer).open(twin, REF2))
          .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
          .withArgs(dealIdOf(deal));
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
          .withArgs(dealIdOf(deal));
      });

      it("lets another funder use the same salt (ids are per funder)", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await openDeal(p, deal);
        const other = await makeDeal(p, { payer: p.other.address, salt: deal.salt });
        await openDeal(p, other);
        expect(dealIdOf(other)).to.not.equal(dealIdOf(deal));
        expect(await p.escrow.statusOf(dealIdOf(other))).to.equal(Status.Open);
      });
    });

    describe("off-ramp", function () {
      it("requires the payee to be an acceptor in good standing", async function () {
        const p = await loadFixture(deployProtocol);
        // not registered
        let deal = await makeOffRampDeal(p, { payee: p.other.address });
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(p.other.address, AcceptorStatus.None);
        // pending
        await registerAcceptor(p, p.other, false);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(p.other.address, AcceptorStatus.Pending);
        // suspended
        await p.registry.connect(p.gateway).suspendAcceptor(p.acceptor.address);
        deal = await makeOffRampDeal(p);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(p.acceptor.address, AcceptorStatus.Suspended);
      });

      it("requires the acceptor to be registered under the deal's gateway", async function () {
        const p = await loadFixture(withGateway2);
        const deal = await makeOffRampDeal(p, { gateway: p.gateway2.address });
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorGatewayMismatch")
          .withArgs(p.acceptor.address, p.gateway.address, p.gateway2.address);
      });

      it("requires the amount within the acceptor's limits", async function () {
        const p = await loadFixture(deployProtocol);
        for (const amount of [USDT(10) - 1n, USDT(50_000) + 1n]) {
          const deal = await makeOffRampDeal(p, { amount });
          await approveFor(p, deal);
          await expect(p.escrow.connect(p.payer).open(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowAmountOutOfLimits")
            .withArgs(p.acceptor.address, amount, USDT(10), USDT(50_000));
        }
      });

      it("accepts both limits exactly", async function () {
        const p = await loadFixture(deployProtocol);
        for (const amount of [USDT(10), USDT(50_000)]) {
          const deal = await makeOffRampDeal(p, { amount });
          await openDeal(p, deal);
          expect(await p.escrow.statusOf(dealIdOf(deal))).to.equal(Status.Open);
        }
      });

      it("rejects every amount in a token the acceptor set no limits for", async function () {
        const p = await loadFixture(deployProtocol);
        const eur: TestERC20 = await ethers.deployContract("TestERC20", ["Euro", "EURT", 6]);
        await p.registry.connect(p.governor).setTokenAllowed(await eur.getAddress(), true);
        const deal = await makeOffRampDeal(p, { token: await eur.getAddress() });
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowAmountOutOfLimits")
          .withArgs(p.acceptor.address, deal.amount, 0, 0);
      });

      it("opens from the seller's wallet and leaves the acceptor's float alone", async function () {
        const p = await loadFixture(withFloat);
        const deal = await makeOffRampDeal(p);
        await approveFor(p, deal);
        const tx = p.escrow.connect(p.payer).open(deal, REF);
        await expect(tx)
          .to.emit(p.escrow, "DealOpened")
          .withArgs(dealIdOf(deal), p.payer.address, p.acceptor.address, tuple(deal), REF);
        await expect(tx).to.changeTokenBalances(
          p.usdt,
          [p.payer, p.escrow, p.acceptor],
          [-deal.amount, deal.amount, 0n],
        );
        const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
        expect(f.free).to.equal(FLOAT);
        expect(f.locked).to.equal(0n);
      });
    });

    describe("transfers", function () {
      it("reverts with EscrowTransferShortfall when USDT charges a transfer fee", async function () {
        const p = await loadFixture(deployProtocol);
        await p.usdt.connect(p.admin).setParams(10, USDT(10)); // 0.1%, capped at 10 USDT
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        const received = deal.amount - feeOf(deal.amount, 10);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowTransferShortfall")
          .withArgs(await p.usdt.getAddress(), deal.amount, received);
        expect(await p.escrow.statusOf(dealIdOf(deal))).to.equal(Status.None);
      });

      it("bubbles a missing or short allowance", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        const escrow = await p.escrow.getAddress();
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.usdt, "TestUSDTInsufficientAllowance")
          .withArgs(escrow, 0, deal.amount);
        await approveExactly(p.usdt, p.payer, escrow, deal.amount - 1n);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.usdt, "TestUSDTInsufficientAllowance")
          .withArgs(escrow, deal.amount - 1n, deal.amount);
      });

      it("bubbles an insufficient balance and a blacklisted payer", async function () {
        const p = await loadFixture(deployProtocol);
        const balance = await p.usdt.balanceOf(p.payer.address);
        const big = await makeDeal(p, { amount: balance + 1n });
        await approveFor(p, big);
        await expect(p.escrow.connect(p.payer).open(big, REF))
          .to.be.revertedWithCustomError(p.usdt, "TestUSDTInsufficientBalance")
          .withArgs(p.payer.address, balance, balance + 1n);

        const deal = await makeDeal(p);
        await approveFor(p, deal);
        await p.usdt.connect(p.admin).addBlackList(p.payer.address);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.usdt, "TestUSDTBlacklisted")
          .withArgs(p.payer.address);
      });

      it("moves exactly the amount from the payer to the escrow", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        await expect(p.escrow.connect(p.payer).open(deal, REF)).to.changeTokenBalances(
          p.usdt,
          [p.payer, p.escrow, p.payee, p.gateway],
          [-deal.amount, deal.amount, 0n, 0n],
        );
        expect(await p.usdt.allowance(p.payer.address, await p.escrow.getAddress())).to.equal(0n);
      });

      it("opens in the second token (DAI, a plain ERC-20)", async function () {
        const p = await loadFixture(deployProtocol);
        const amount = ethers.parseEther("250");
        const deal = await makeDeal(p, { token: await p.dai.getAddress(), amount });
        await p.dai.connect(p.payer).approve(await p.escrow.getAddress(), amount);
        const tx = p.escrow.connect(p.payer).open(deal, REF);
        await expect(tx)
          .to.emit(p.escrow, "DealOpened")
          .withArgs(dealIdOf(deal), p.payer.address, p.payee.address, tuple(deal), REF);
        await expect(tx).to.changeTokenBalances(p.dai, [p.payer, p.escrow], [-amount, amount]);
        expect(await p.escrow.statusOf(dealIdOf(deal))).to.equal(Status.Open);
      });
    });

    describe("effects and events", function () {
      it("emits DealOpened with the full deal and the ref", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p, { autoRelease: true });
        await approveFor(p, deal);
        const tx = p.escrow.connect(p.payer).open(deal, REF);
        await expect(tx)
          .to.emit(p.escrow, "DealOpened")
          .withArgs(dealIdOf(deal), p.payer.address, p.payee.address, tuple(deal), REF);

        // and field by field, from the decoded log
        const receipt = await (await tx).wait();
        const logs = receipt!.logs.map((l) => p.escrow.interface.parseLog(l)).filter((l) => l?.name === "DealOpened");
        expect(logs).to.have.length(1);
        const ev = logs[0]!.args;
        expect(ev.dealId).to.equal(dealIdOf(deal));
        expect(ev.payer).to.equal(deal.payer);
        expect(ev.payee).to.equal(deal.payee);
        expect(ev.ref).to.equal(REF);
        for (const key of Object.keys(deal) as (keyof DealOut)[]) {
          expect(ev.deal[key], key).to.equal(deal[key]);
        }
      });

      it("stores the record: commitment, status Open, since, payerReleased false", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        const receipt = await (await p.escrow.connect(p.payer).open(deal, REF)).wait();
        const block = await ethers.provider.getBlock(receipt!.blockNumber);
        const id = dealIdOf(deal);

        const hash = structHash(deal);
        expect(await p.escrow.hashDeal(deal)).to.equal(hash);
        const rec = await p.escrow.getDeal(id);
        expect(rec.commitment).to.equal(ethers.dataSlice(hash, 0, 25));
        expect(rec.status).to.equal(Status.Open);
        expect(rec.since).to.equal(block!.timestamp);
        expect(rec.payerReleased).to.equal(false);
        expect(await p.escrow.statusOf(id)).to.equal(Status.Open);
      });

      it("returns and uses the id keccak256(abi.encode(payer, salt))", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        const expected = ethers.keccak256(
          ethers.AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [deal.payer, deal.salt]),
        );
        expect(await p.escrow.connect(p.payer).open.staticCall(deal, REF)).to.equal(expected);
        expect(await p.escrow.dealIdOf(deal.payer, deal.salt)).to.equal(expected);
        expect(dealIdOf(deal)).to.equal(expected);
      });
    });
  });

  describe("openWithSig", function () {
    it("opens on the payer's signature, submitted by anyone", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      await approveFor(p, deal);
      const auth = await signOpen(p.escrow, p.payer, deal, REF);
      const tx = p.escrow.connect(p.other).openWithSig(deal, REF, auth);
      await expect(tx)
        .to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(deal), p.payer.address, p.payee.address, tuple(deal), REF);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.payer, p.escrow, p.other], [-deal.amount, deal.amount, 0n]);
      expect(await p.escrow.statusOf(dealIdOf(deal))).to.equal(Status.Open);
    });

    it("cannot be replayed", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), deal.amount * 2n);
      const auth = await signOpen(p.escrow, p.payer, deal, REF);
      await p.escrow.connect(p.other).openWithSig(deal, REF, auth);
      await expect(p.escrow.connect(p.other).openWithSig(deal, REF, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
        .withArgs(dealIdOf(deal));
    });

    it("accepts the signature up to and including its expiry, then reverts EscrowSignatureExpired", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      await approveFor(p, deal);
      const expiry = BigInt((await time.latest()) + HOUR);
      const auth = await signOpen(p.escrow, p.payer, deal, REF, "Open", expiry);
      await time.setNextBlockTimestamp(expiry + 1n);
      await expect(p.escrow.connect(p.other).openWithSig(deal, REF, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry);

      const deal2 = await makeDeal(p, { deadline: expiry + BigInt(DAY) });
      const expiry2 = BigInt((await time.latest()) + HOUR);
      const auth2 = await signOpen(p.escrow, p.payer, deal2, REF, "Open", expiry2);
      await time.setNextBlockTimestamp(expiry2);
      await p.escrow.connect(p.other).openWithSig(deal2, REF, auth2);
      expect(await p.escrow.statusOf(dealIdOf(deal2))).to.equal(Status.Open);
    });

    it("rejects a signature by someone other than the payer", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      await approveFor(p, deal);
      for (const s of [p.other, p.payee, p.gateway]) {
        const auth = await signOpen(p.escrow, s, deal, REF);
        await expect(p.escrow.connect(s).openWithSig(deal, REF, auth))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(dealIdOf(deal), p.payer.address);
      }
    });

    it("rejects a signature over another ref, another deal, another expiry or the Lock type", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      await approveFor(p, deal);
      const auth = await signOpen(p.escrow, p.payer, deal, REF);
      const id = dealIdOf(deal);

      await expect(p.escrow.connect(p.other).openWithSig(deal, REF2, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      for (const changed of [
        { ...deal, amount: deal.amount + 1n },
        { ...deal, payee: p.other.address },
        { ...deal, deadline: deal.deadline + 1n },
        { ...deal, autoRelease: true },
      ]) {
        await expect(p.escrow.connect(p.other).openWithSig(changed, REF, auth))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(id, p.payer.address);
      }
      await expect(p.escrow.connect(p.other).openWithSig(deal, REF, { ...auth, expiry: auth.expiry + 1n }))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      const lockAuth = await signOpen(p.escrow, p.payer, deal, REF, "Lock");
      await expect(p.escrow.connect(p.other).openWithSig(deal, REF, lockAuth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(id, p.payer.address);
      expect(await p.escrow.statusOf(id)).to.equal(Status.None);
    });

    it("still applies the open validations", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p, { kind: Kind.OnRamp });
      const auth = await signOpen(p.escrow, p.payer, deal, REF);
      await expect(p.escrow.connect(p.other).openWithSig(deal, REF, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidKind")
        .withArgs(Kind.OnRamp, false);
    });

    it("opens for an ERC-1271 wallet payer on its owner's signature", async function () {
      const p = await loadFixture(deployProtocol);
      const owner = p.rest[0];
      const wallet: ERC1271Wallet = await ethers.deployContract("ERC1271Wallet", [owner.address]);
      const walletAddr = await wallet.getAddress();
      await p.usdt.connect(p.admin).mint(walletAddr, USDT(500));
      const deal = await makeDeal(p, { payer: walletAddr });
      const approve = p.usdt.interface.encodeFunctionData("approve", [await p.escrow.getAddress(), deal.amount]);
      await wallet.connect(owner).execute(await p.usdt.getAddress(), 0, approve);

      // a signature by anyone but the owner is refused
      const bad = await signOpen(p.escrow, p.other, deal, REF);
      await expect(p.escrow.connect(p.other).openWithSig(deal, REF, bad))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(deal), walletAddr);

      const auth = await signOpen(p.escrow, owner, deal, REF);
      const tx = p.escrow.connect(p.other).openWithSig(deal, REF, auth);
      await expect(tx)
        .to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(deal), walletAddr, p.payee.address, tuple(deal), REF);
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [walletAddr, await p.escrow.getAddress()],
        [-deal.amount, deal.amount],
      );
      expect(await p.escrow.statusOf(dealIdOf(deal))).to.equal(Status.Open);
    });

    it("openDigest equals the EIP-712 hash computed off-chain", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const expiry = 1_234_567n;
      const expected = ethers.TypedDataEncoder.hash(await escrowDomain(p.escrow), OPEN_TYPES, {
        deal,
        ref: REF,
        expiry,
      });
      expect(await p.escrow.openDigest(deal, REF, expiry)).to.equal(expected);
      expect(await p.escrow.openDigest(deal, REF2, expiry)).to.not.equal(expected);
      // the signature fixtures sign exactly this digest
      const auth = await signOpen(p.escrow, p.payer, deal, REF, "Open", expiry);
      expect(ethers.recoverAddress(expected, auth.signature)).to.equal(p.payer.address);
    });
  });

  describe("lock", function () {
    describe("validations", function () {
      it("rejects a caller that is neither the acceptor nor its delegate", async function () {
        const p = await loadFixture(withFloat);
        const deal = await makeLockDeal(p);
        for (const s of [p.other, p.payee, p.gateway]) {
          await expect(p.escrow.connect(s).lock(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(dealIdOf(deal), s.address);
        }
      });

      it("reads the delegate at lock time: a replaced delegate can no longer lock", async function () {
        const p = await loadFixture(withFloat);
        await p.registry.connect(p.acceptor).setLockDelegate(p.other.address);
        const deal = await makeLockDeal(p);
        await expect(p.escrow.connect(p.delegate).lock(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(deal), p.delegate.address);
        await p.escrow.connect(p.other).lock(deal, REF);
        expect(await p.escrow.statusOf(dealIdOf(deal))).to.equal(Status.Open);
      });

      it("limits a delegate's lock to MAX_DELEGATE_LOCK_DURATION from now; the acceptor is not limited", async function () {
        const p = await loadFixture(withFloat);
        expect(await p.escrow.MAX_DELEGATE_LOCK_DURATION()).to.equal(MAX_DELEGATE_LOCK_DURATION);
        const t = (await time.latest()) + 10;
        const latest = t + MAX_DELEGATE_LOCK_DURATION;
        const tooLate = await makeLockDeal(p, { deadline: BigInt(latest + 1) });
        await time.setNextBlockTimestamp(t);
        await expect(p.escrow.connect(p.delegate).lock(tooLate, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
          .withArgs(latest + 1, latest);
        // the bound itself is accepted
        const t2 = (await time.latest()) + 10;
        const atBound = await makeLockDeal(p, { deadline: BigInt(t2 + MAX_DELEGATE_LOCK_DURATION) });
        await time.setNextBlockTimestamp(t2);
        await p.escrow.connect(p.delegate).lock(atBound, REF);
        expect(await p.escrow.statusOf(dealIdOf(atBound))).to.equal(Status.Open);
        // the acceptor itself may lock up to MAX_DEAL_DURATION
        await p.escrow.connect(p.acceptor).lock(tooLate, REF);
        expect(await p.escrow.statusOf(dealIdOf(tooLate))).to.equal(Status.Open);
      });

      it("limits a delegate-signed lockWithSig the same way", async function () {
        const p = await loadFixture(withFloat);
        const t = (await time.latest()) + 10;
        const latest = t + MAX_DELEGATE_LOCK_DURATION;
        const deal = await makeLockDeal(p, { deadline: BigInt(latest + DAY) });
        const auth = await signOpen(p.escrow, p.delegate, deal, REF, "Lock");
        await time.setNextBlockTimestamp(t);
        await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, p.delegate.address, auth))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
          .withArgs(latest + DAY, latest);
      });

      it("does not let one acceptor's delegate lock another acceptor's float", async function () {
        const p = await loadFixture(withFloat);
        const acc2 = p.rest[0];
        await registerAcceptor(p, acc2);
        await depositFloat(p, FLOAT, acc2);
        const deal = await makeLockDeal(p, { payer: acc2.address });
        await expect(p.escrow.connect(p.delegate).lock(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(deal), p.delegate.address);
      });

      it("takes kind OnRamp only, without autoRelease", async function () {
        const p = await loadFixture(withFloat);
        const cases: [number, boolean][] = [
          [Kind.OnRamp, true],
          [Kind.Payment, false],
          [Kind.Payment, true],
          [Kind.OffRamp, false],
        ];
        for (const [kind, autoRelease] of cases) {
          const deal = await makeLockDeal(p, { kind, autoRelease });
          await expect(p.escrow.connect(p.acceptor).lock(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidKind")
            .withArgs(kind, autoRelease);
        }
      });

      it("applies the common validations (parties, deadline, fee)", async function () {
        const p = await loadFixture(withFloat);
        const self = await makeLockDeal(p, { payee: p.acceptor.address });
        await expect(p.escrow.connect(p.acceptor).lock(self, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidParties")
          .withArgs(p.acceptor.address, p.acceptor.address, p.gateway.address);
        const fee = await makeLockDeal(p, { feeBps: 0 });
        await expect(p.escrow.connect(p.acceptor).lock(fee, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowFeeMismatch")
          .withArgs(p.gateway.address, 0, GATEWAY_FEE_BPS);
      });

      it("rejects a lock above the free float", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        const big = await makeLockDeal(p, { amount: FLOAT + 1n });
        await expect(p.escrow.connect(p.acceptor).lock(big, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.acceptor.address, usdt, FLOAT, FLOAT + 1n);

        const first = await makeLockDeal(p, { amount: USDT(600) });
        await p.escrow.connect(p.acceptor).lock(first, REF);
        const second = await makeLockDeal(p, { amount: USDT(500) });
        await expect(p.escrow.connect(p.delegate).lock(second, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.acceptor.address, usdt, USDT(400), USDT(500));

        // the float of another token does not count
        const dai = await makeLockDeal(p, { token: await p.dai.getAddress(), amount: ethers.parseEther("100") });
        await expect(p.escrow.connect(p.acceptor).lock(dai, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.acceptor.address, await p.dai.getAddress(), 0, ethers.parseEther("100"));
      });

      it("locks the whole free float exactly", async function () {
        const p = await loadFixture(withFloat);
        const deal = await makeLockDeal(p, { amount: FLOAT });
        await p.escrow.connect(p.acceptor).lock(deal, REF);
        const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
        expect(f.free).to.equal(0n);
        expect(f.locked).to.equal(FLOAT);
      });

      it("requires the amount within the acceptor's limits", async function () {
        const p = await loadFixture(withFloat);
        for (const amount of [USDT(10) - 1n, USDT(50_000) + 1n]) {
          const deal = await makeLockDeal(p, { amount });
          await expect(p.escrow.connect(p.acceptor).lock(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowAmountOutOfLimits")
            .withArgs(p.acceptor.address, amount, USDT(10), USDT(50_000));
        }
      });

      it("bubbles a suspended acceptor (its float stays put)", async function () {
        const p = await loadFixture(withFloat);
        await p.registry.connect(p.governor).suspendAcceptor(p.acceptor.address);
        const deal = await makeLockDeal(p);
        for (const s of [p.acceptor, p.delegate]) {
          await expect(p.escrow.connect(s).lock(deal, REF))
            .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
            .withArgs(p.acceptor.address, AcceptorStatus.Suspended);
        }
        const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
        expect(f.free).to.equal(FLOAT);
      });

      it("bubbles a payer that is no acceptor", async function () {
        const p = await loadFixture(withFloat);
        const deal = await makeLockDeal(p, { payer: p.other.address });
        await expect(p.escrow.connect(p.other).lock(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(p.other.address, AcceptorStatus.None);
      });

      it("bubbles an acceptor registered under another gateway", async function () {
        const p = await loadFixture(withFloat);
        await registerGateway(p, p.gateway2);
        const deal = await makeLockDeal(p, { gateway: p.gateway2.address });
        await expect(p.escrow.connect(p.acceptor).lock(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorGatewayMismatch")
          .withArgs(p.acceptor.address, p.gateway.address, p.gateway2.address);
      });

      it("bubbles the registry's pause", async function () {
        const p = await loadFixture(withFloat);
        await p.registry.connect(p.pauser).pause();
        const deal = await makeLockDeal(p);
        await expect(p.escrow.connect(p.acceptor).lock(deal, REF)).to.be.revertedWithCustomError(
          p.registry,
          "RegistryPaused",
        );
      });

      it("rejects a second lock with the same acceptor and salt", async function () {
        const p = await loadFixture(withFloat);
        const deal = await makeLockDeal(p);
        await p.escrow.connect(p.acceptor).lock(deal, REF);
        await expect(p.escrow.connect(p.delegate).lock({ ...deal, amount: USDT(20) }, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
          .withArgs(dealIdOf(deal));
      });
    });

    describe("effects and events", function () {
      for (const who of ["acceptor", "delegate"] as const) {
        it(`locks by the ${who}: free -amount, locked +amount, no token moves, DealOpened`, async function () {
          const p = await loadFixture(withFloat);
          const usdt = await p.usdt.getAddress();
          const deal = await makeLockDeal(p, { amount: USDT(250) });
          const tx = p.escrow.connect(p[who]).lock(deal, REF);
          await expect(tx)
            .to.emit(p.escrow, "DealOpened")
            .withArgs(dealIdOf(deal), p.acceptor.address, p.payee.address, tuple(deal), REF);
          await expect(tx).to.changeTokenBalances(
            p.usdt,
            [p.acceptor, p.delegate, p.escrow, p.payee],
            [0n, 0n, 0n, 0n],
          );
          const f = await p.escrow.floatOf(p.acceptor.address, usdt);
          expect(f.free).to.equal(FLOAT - USDT(250));
          expect(f.locked).to.equal(USDT(250));
          const rec = await p.escrow.getDeal(dealIdOf(deal));
          expect(rec.status).to.equal(Status.Open);
          expect(rec.commitment).to.equal(ethers.dataSlice(structHash(deal), 0, 25));
          expect(rec.payerReleased).to.equal(false);
        });
      }

      it("locks DAI float", async function () {
        const p = await loadFixture(withFloat);
        const dai = await p.dai.getAddress();
        await p.dai.connect(p.acceptor).approve(await p.escrow.getAddress(), ethers.parseEther("1000"));
        await p.escrow.connect(p.acceptor).depositFloat(dai, ethers.parseEther("1000"));
        const deal = await makeLockDeal(p, { token: dai, amount: ethers.parseEther("40") });
        await p.escrow.connect(p.delegate).lock(deal, REF);
        const f = await p.escrow.floatOf(p.acceptor.address, dai);
        expect(f.free).to.equal(ethers.parseEther("960"));
        expect(f.locked).to.equal(ethers.parseEther("40"));
        // the USDT float is untouched
        expect((await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress())).free).to.equal(FLOAT);
      });
    });
  });

  describe("lockWithSig", function () {
    for (const who of ["acceptor", "delegate"] as const) {
      it(`locks on the ${who}'s signature, submitted by anyone`, async function () {
        const p = await loadFixture(withFloat);
        const deal = await makeLockDeal(p);
        const auth = await signOpen(p.escrow, p[who], deal, REF, "Lock");
        const tx = p.escrow.connect(p.other).lockWithSig(deal, REF, p[who].address, auth);
        await expect(tx)
          .to.emit(p.escrow, "DealOpened")
          .withArgs(dealIdOf(deal), p.acceptor.address, p.payee.address, tuple(deal), REF);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow, p.other], [0n, 0n, 0n]);
        const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
        expect(f.free).to.equal(FLOAT - deal.amount);
        expect(f.locked).to.equal(deal.amount);
      });
    }

    it("rejects a signature that is not the named signer's", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p);
      const auth = await signOpen(p.escrow, p.other, deal, REF, "Lock");
      for (const signer of [p.acceptor, p.delegate]) {
        await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, signer.address, auth))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(dealIdOf(deal), signer.address);
      }
    });

    it("rejects a valid signature by a signer that is neither the acceptor nor its delegate", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p);
      const auth = await signOpen(p.escrow, p.other, deal, REF, "Lock");
      await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, p.other.address, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(dealIdOf(deal), p.other.address);
    });

    it("rejects the zero signer for an acceptor without a delegate", async function () {
      const p = await loadFixture(withFloat);
      const acc2 = p.rest[0];
      await registerAcceptor(p, acc2);
      await depositFloat(p, FLOAT, acc2);
      const deal = await makeLockDeal(p, { payer: acc2.address });
      const auth = await signOpen(p.escrow, p.other, deal, REF, "Lock");
      const garbage = { expiry: auth.expiry, signature: ethers.zeroPadValue("0x", 65) };
      for (const a of [auth, garbage, { expiry: auth.expiry, signature: "0x" }]) {
        await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, ethers.ZeroAddress, a))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(dealIdOf(deal), ethers.ZeroAddress);
      }
    });

    it("rejects an Open signature and a signature over another ref", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p);
      const open = await signOpen(p.escrow, p.acceptor, deal, REF, "Open");
      await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, p.acceptor.address, open))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(deal), p.acceptor.address);
      const lockSig = await signOpen(p.escrow, p.acceptor, deal, REF, "Lock");
      await expect(p.escrow.connect(p.other).lockWithSig(deal, REF2, p.acceptor.address, lockSig))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(deal), p.acceptor.address);
    });

    it("rejects an expired signature", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p);
      const expiry = BigInt(await time.latest());
      const auth = await signOpen(p.escrow, p.delegate, deal, REF, "Lock", expiry);
      await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, p.delegate.address, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry);
    });

    it("lockDigest equals the EIP-712 hash computed off-chain and differs from openDigest", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeLockDeal(p);
      const expiry = 99n;
      const expected = ethers.TypedDataEncoder.hash(await escrowDomain(p.escrow), LOCK_TYPES, {
        deal,
        ref: REF,
        expiry,
      });
      expect(await p.escrow.lockDigest(deal, REF, expiry)).to.equal(expected);
      expect(await p.escrow.openDigest(deal, REF, expiry)).to.not.equal(expected);
    });
  });

  describe("depositFloat", function () {
    describe("validations", function () {
      it("bubbles the registry's pause", async function () {
        const p = await loadFixture(deployProtocol);
        await p.registry.connect(p.pauser).pause();
        await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), FLOAT);
        await expect(
          p.escrow.connect(p.acceptor).depositFloat(await p.usdt.getAddress(), FLOAT),
        ).to.be.revertedWithCustomError(p.registry, "RegistryPaused");
      });

      it("bubbles a token that is not allowlisted", async function () {
        const p = await loadFixture(deployProtocol);
        await p.registry.connect(p.governor).setTokenAllowed(await p.dai.getAddress(), false);
        await expect(p.escrow.connect(p.acceptor).depositFloat(await p.dai.getAddress(), 1n))
          .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
          .withArgs(await p.dai.getAddress());
      });

      it("bubbles a caller that is not an active acceptor", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        // unregistered
        await expect(p.escrow.connect(p.other).depositFloat(usdt, FLOAT))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(p.other.address, AcceptorStatus.None);
        // the delegate is not the acceptor
        await expect(p.escrow.connect(p.delegate).depositFloat(usdt, FLOAT))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(p.delegate.address, AcceptorStatus.None);
        // pending
        await registerAcceptor(p, p.other, false);
        await expect(p.escrow.connect(p.other).depositFloat(usdt, FLOAT))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(p.other.address, AcceptorStatus.Pending);
        // suspended
        await p.registry.connect(p.gateway).suspendAcceptor(p.acceptor.address);
        await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, FLOAT))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(p.acceptor.address, AcceptorStatus.Suspended);
      });

      it("rejects zero and amounts above type(uint96).max", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        for (const amount of [0n, UINT96_MAX + 1n, ethers.MaxUint256]) {
          await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, amount))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidAmount")
            .withArgs(amount);
        }
        // type(uint96).max itself passes the check and fails at the token (no allowance)
        await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, UINT96_MAX))
          .to.be.revertedWithCustomError(p.usdt, "TestUSDTInsufficientAllowance")
          .withArgs(await p.escrow.getAddress(), 0, UINT96_MAX);
      });
    });

    describe("effects, events and transfers", function () {
      it("credits the free float and emits FloatDeposited", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), FLOAT);
        const tx = p.escrow.connect(p.acceptor).depositFloat(usdt, FLOAT);
        await expect(tx).to.emit(p.escrow, "FloatDeposited").withArgs(p.acceptor.address, usdt, FLOAT);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [-FLOAT, FLOAT]);
        let f = await p.escrow.floatOf(p.acceptor.address, usdt);
        expect(f.free).to.equal(FLOAT);
        expect(f.locked).to.equal(0n);

        // a second deposit adds up
        await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), USDT(5));
        await p.escrow.connect(p.acceptor).depositFloat(usdt, USDT(5));
        f = await p.escrow.floatOf(p.acceptor.address, usdt);
        expect(f.free).to.equal(FLOAT + USDT(5));
      });

      it("credits exactly what arrived when USDT charges a transfer fee", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        await p.usdt.connect(p.admin).setParams(10, USDT(10));
        const fee = feeOf(FLOAT, 10); // 1 USDT
        await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), FLOAT);
        const tx = p.escrow.connect(p.acceptor).depositFloat(usdt, FLOAT);
        await expect(tx)
          .to.emit(p.escrow, "FloatDeposited")
          .withArgs(p.acceptor.address, usdt, FLOAT - fee);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow, p.admin], [-FLOAT, FLOAT - fee, fee]);
        expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(FLOAT - fee);
      });

      it("keeps floats per token (DAI)", async function () {
        const p = await loadFixture(deployProtocol);
        const dai = await p.dai.getAddress();
        const amount = ethers.parseEther("123");
        await p.dai.connect(p.acceptor).approve(await p.escrow.getAddress(), amount);
        const tx = p.escrow.connect(p.acceptor).depositFloat(dai, amount);
        await expect(tx).to.emit(p.escrow, "FloatDeposited").withArgs(p.acceptor.address, dai, amount);
        await expect(tx).to.changeTokenBalances(p.dai, [p.acceptor, p.escrow], [-amount, amount]);
        expect((await p.escrow.floatOf(p.acceptor.address, dai)).free).to.equal(amount);
        expect((await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress())).free).to.equal(0n);
      });
    });
  });

  describe("withdrawFloat", function () {
    describe("validations", function () {
      it("rejects zero", async function () {
        const p = await loadFixture(withFloat);
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(await p.usdt.getAddress(), 0))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidAmount")
          .withArgs(0);
      });

      it("rejects more than the free float", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT + 1n))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.acceptor.address, usdt, FLOAT, FLOAT + 1n);
        // nobody else can draw on it: the delegate and strangers have no float
        for (const s of [p.delegate, p.other]) {
          await expect(p.escrow.connect(s).withdrawFloat(usdt, 1n))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
            .withArgs(s.address, usdt, 0, 1n);
        }
      });

      it("never releases the locked part", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        const deal = await makeLockDeal(p, { amount: USDT(600) });
        await p.escrow.connect(p.delegate).lock(deal, REF);
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(400) + 1n))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.acceptor.address, usdt, USDT(400), USDT(400) + 1n);
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(400))).to.changeTokenBalances(
          p.usdt,
          [p.acceptor, p.escrow],
          [USDT(400), -USDT(400)],
        );
        const f = await p.escrow.floatOf(p.acceptor.address, usdt);
        expect(f.free).to.equal(0n);
        expect(f.locked).to.equal(USDT(600));
      });

      it("bubbles a failing token transfer and keeps the float", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        await p.usdt.connect(p.admin).pause();
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT)).to.be.revertedWithCustomError(
          p.usdt,
          "TestUSDTPaused",
        );
        expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(FLOAT);
      });
    });

    describe("effects, events and transfers", function () {
      it("pays the acceptor and emits FloatWithdrawn", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        const tx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(300));
        await expect(tx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, USDT(300));
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [USDT(300), -USDT(300)]);
        expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(FLOAT - USDT(300));
      });

      it("works while the registry is paused", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        await p.registry.connect(p.pauser).pause();
        const tx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT);
        await expect(tx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, FLOAT);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [FLOAT, -FLOAT]);
        expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(0n);
      });

      it("works while the acceptor is suspended (and its gateway too)", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        await p.registry.connect(p.governor).suspendAcceptor(p.acceptor.address);
        await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
        const tx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT);
        await expect(tx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, FLOAT);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [FLOAT, -FLOAT]);
      });
    });
  });

  describe("claimOwed", function () {
    it("reverts EscrowNothingOwed when nothing is owed", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await expect(p.escrow.connect(p.gateway).claimOwed(usdt, p.gateway.address))
        .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
        .withArgs(usdt, p.gateway.address);
    });

    it("pays the gateway's fee to the gateway, whoever calls, and resets the balance", async function () {
      const p = await loadFixture(withReleasedDeal);
      const usdt = await p.usdt.getAddress();
      expect(p.fee).to.be.greaterThan(0n);
      expect(await p.escrow.owed(usdt, p.gateway.address)).to.equal(p.fee);
      const tx = p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address);
      await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.gateway.address, p.fee);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.gateway, p.other, p.escrow], [p.fee, 0n, -p.fee]);
      expect(await p.escrow.owed(usdt, p.gateway.address)).to.equal(0n);
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address))
        .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
        .withArgs(usdt, p.gateway.address);
      // the balance is per token
      await expect(p.escrow.connect(p.other).claimOwed(await p.dai.getAddress(), p.gateway.address))
        .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
        .withArgs(await p.dai.getAddress(), p.gateway.address);
    });

    it("reverts while the token is paused and keeps the amount owed", async function () {
      const p = await loadFixture(withReleasedDeal);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).pause();
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.be.revertedWithCustomError(
        p.usdt,
        "TestUSDTPaused",
      );
      expect(await p.escrow.owed(usdt, p.gateway.address)).to.equal(p.fee);
      await p.usdt.connect(p.admin).unpause();
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.changeTokenBalances(
        p.usdt,
        [p.gateway, p.escrow],
        [p.fee, -p.fee],
      );
    });

    it("works while the registry is paused", async function () {
      const p = await loadFixture(withReleasedDeal);
      const usdt = await p.usdt.getAddress();
      await p.registry.connect(p.pauser).pause();
      const tx = p.escrow.connect(p.gateway).claimOwed(usdt, p.gateway.address);
      await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.gateway.address, p.fee);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.gateway, p.escrow], [p.fee, -p.fee]);
    });

    it("pays a deferred payout to its blacklisted owner only once unlisted", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      const deal = await makeDeal(p);
      await openDeal(p, deal);
      await p.escrow.connect(p.payee).perform(deal);
      await p.usdt.connect(p.admin).addBlackList(p.payee.address);
      const net = deal.amount - feeOf(deal.amount, deal.feeBps);
      await expect(p.escrow.connect(p.payer).release(deal))
        .to.emit(p.escrow, "PayoutDeferred")
        .withArgs(dealIdOf(deal), usdt, p.payee.address, net);
      expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(net);

      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.payee.address))
        .to.be.revertedWithCustomError(p.usdt, "TestUSDTBlacklisted")
        .withArgs(p.payee.address);
      expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(net);

      await p.usdt.connect(p.admin).removeBlackList(p.payee.address);
      const tx = p.escrow.connect(p.other).claimOwed(usdt, p.payee.address);
      await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.payee.address, net);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.payee, p.other, p.escrow], [net, 0n, -net]);
      expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(0n);
    });
  });

  describe("views", function () {
    it("getDeal and statusOf of an unknown id are zero", async function () {
      const p = await loadFixture(deployProtocol);
      const id = ethers.id("nothing here");
      const rec = await p.escrow.getDeal(id);
      expect(rec.commitment).to.equal(ethers.zeroPadValue("0x", 25));
      expect(rec.since).to.equal(0n);
      expect(rec.status).to.equal(Status.None);
      expect(rec.payerReleased).to.equal(false);
      expect(await p.escrow.statusOf(id)).to.equal(Status.None);
    });

    it("floatOf and owed of unknown accounts are zero", async function () {
      const p = await loadFixture(deployProtocol);
      const f = await p.escrow.floatOf(p.other.address, await p.usdt.getAddress());
      expect(f.free).to.equal(0n);
      expect(f.locked).to.equal(0n);
      expect(await p.escrow.owed(await p.usdt.getAddress(), p.other.address)).to.equal(0n);
    });

    it("hashDeal is the EIP-712 struct hash and changes with every field", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const base = await p.escrow.hashDeal(deal);
      expect(base).to.equal(structHash(deal));
      const variants: DealOut[] = [
        { ...deal, payer: p.other.address },
        { ...deal, payee: p.other.address },
        { ...deal, gateway: p.other.address },
        { ...deal, token: await p.dai.getAddress() },
        { ...deal, amount: deal.amount + 1n },
        { ...deal, deadline: deal.deadline + 1n },
        { ...deal, releaseWindow: deal.releaseWindow + 1n },
        { ...deal, feeBps: deal.feeBps + 1n },
        { ...deal, kind: BigInt(Kind.OffRamp) },
        { ...deal, autoRelease: true },
        { ...deal, salt: ethers.id("another salt") },
      ];
      const seen = new Set([base]);
      for (const v of variants) {
        const h = await p.escrow.hashDeal(v);
        expect(h).to.equal(structHash(v));
        seen.add(h);
      }
      expect(seen.size).to.equal(variants.length + 1);
    });

    it("dealIdOf matches the off-chain computation", async function () {
      const p = await loadFixture(deployProtocol);
      for (const [funder, salt] of [
        [p.payer.address, ethers.ZeroHash],
        [p.acceptor.address, ethers.id("salt")],
      ]) {
        expect(await p.escrow.dealIdOf(funder, salt)).to.equal(dealIdOf({ payer: funder, salt }));
      }
    });

    it("actionDigest equals the EIP-712 DealAction hash computed off-chain", async function () {
      const p = await loadFixture(deployProtocol);
      const domain = await escrowDomain(p.escrow);
      const dealId = ethers.id("deal");
      const digests = new Set<string>();
      for (const action of Object.values(Action)) {
        for (const expiry of [0n, 1_700_000_000n, ethers.MaxUint256]) {
          const expected = ethers.TypedDataEncoder.hash(domain, ACTION_TYPES, { dealId, action, expiry });
          expect(await p.escrow.actionDigest(dealId, action, expiry)).to.equal(expected);
          digests.add(expected);
        }
      }
      expect(digests.size).to.equal(Object.values(Action).length * 3);
    });
  });

  describe("multicall", function () {
    it("opens two deals in one transaction", async function () {
      const p = await loadFixture(deployProtocol);
      const d1 = await makeDeal(p);
      const d2 = await makeDeal(p, { amount: USDT(50), payee: p.other.address });
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d1.amount + d2.amount);
      const calls = [
        p.escrow.interface.encodeFunctionData("open", [d1, REF]),
        p.escrow.interface.encodeFunctionData("open", [d2, REF2]),
      ];
      const tx = p.escrow.connect(p.payer).multicall(calls);
      await expect(tx)
        .to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(d1), p.payer.address, p.payee.address, tuple(d1), REF)
        .and.to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(d2), p.payer.address, p.other.address, tuple(d2), REF2);
      await expect(tx).to.changeTokenBalances(
        p.usdt,
        [p.payer, p.escrow],
        [-(d1.amount + d2.amount), d1.amount + d2.amount],
      );
      expect(await p.escrow.statusOf(dealIdOf(d1))).to.equal(Status.Open);
      expect(await p.escrow.statusOf(dealIdOf(d2))).to.equal(Status.Open);
    });

    it("is atomic and keeps msg.sender: a failing call reverts the batch", async function () {
      const p = await loadFixture(deployProtocol);
      const d1 = await makeDeal(p);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d1.amount * 2n);
      const dup = [
        p.escrow.interface.encodeFunctionData("open", [d1, REF]),
        p.escrow.interface.encodeFunctionData("open", [d1, REF2]),
      ];
      await expect(p.escrow.connect(p.payer).multicall(dup))
        .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
        .withArgs(dealIdOf(d1));
      expect(await p.escrow.statusOf(dealIdOf(d1))).to.equal(Status.None);

      const single = [p.escrow.interface.encodeFunctionData("open", [d1, REF])];
      await expect(p.escrow.connect(p.other).multicall(single))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(dealIdOf(d1), p.other.address);
    });
  });
});
