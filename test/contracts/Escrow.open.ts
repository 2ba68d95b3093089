import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionResponse, Interface } from "ethers";
import type { ERC1271Wallet, GatewayRegistry, HostileToken, TestERC20 } from "../../typechain-types";
import {
  AcceptorStatus,
  Action,
  DAY,
  DEAL_TYPE,
  DELEGATE_SALT_PREFIX,
  Flags,
  GATEWAY_FEE_BPS,
  GATEWAY_FEE_CAP_BPS,
  GatewayStatus,
  HOUR,
  Kind,
  MAX_DEAL_DURATION,
  MAX_DELEGATE_LOCK_DURATION,
  MAX_DELEGATE_RELEASE_WINDOW,
  MAX_FEE_BPS,
  MAX_RELEASE_WINDOW,
  MAX_RESOLUTION_WINDOW,
  MIN_BOND,
  MIN_RELEASE_WINDOW,
  MIN_RESOLUTION_WINDOW,
  PAYOUT_GAS,
  RESOLUTION_WINDOW,
  MIN_SLASH_TIME,
  Status,
  USDT,
  approveExactly,
  dealIdOf,
  deployProtocol,
  depositFloat,
  escrowDomain,
  feeOf,
  makeDeal,
  nextDelegateSalt,
  nextSalt,
  openDeal,
  signAction,
  signOpen,
  type DealOut,
  type Protocol,
  loadFixture,
} from "./fixtures";

/*//////////////////////////////////////////////////////////////
                         LOCAL HELPERS
//////////////////////////////////////////////////////////////*/

const UINT96_MAX = 2n ** 96n - 1n;
const FLOAT = USDT(1_000);
/** A gas limit for a call the token makes burn all its gas (USDT's SafeMath `assert` on a short allowance or
 * balance): sent with it, the transaction is mined and reverts instead of failing gas estimation. */
const BURN_GAS_LIMIT = 1_000_000;

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
/** The Deal's fields in ABI order: a Deal is static, so `fn(deal, ...)` encodes field i in word i after the selector. */
const DEAL_FIELDS = DEAL_TYPE.map((f) => f.name) as (keyof DealOut)[];

/** The deal as a tuple in struct order, for `withArgs`. */
function tuple(d: DealOut) {
  return DEAL_FIELDS.map((k) => d[k]);
}

/** EIP-712 struct hash of a deal, computed off-chain. */
function structHash(d: DealOut): string {
  return ethers.TypedDataEncoder.hashStruct("Deal", DEAL_TYPES, d);
}

/** An on-ramp deal the fixture acceptor locks itself from its float for the payee (the buyer). */
async function makeLockDeal(p: Protocol, over: Parameters<typeof makeDeal>[1] = {}) {
  return makeDeal(p, { payer: p.acceptor.address, payee: p.payee.address, kind: Kind.OnRamp, ...over });
}

/** An on-ramp deal for the acceptor's lock delegate: a salt with DELEGATE_SALT_PREFIX, within the delegate's
 * bounds (makeDeal's deadline of now + 7 days, a one-day release window). */
async function makeDelegateLockDeal(p: Protocol, over: Parameters<typeof makeDeal>[1] = {}) {
  return makeLockDeal(p, { salt: nextDelegateSalt(), ...over });
}

/** A salt whose first 11 bytes are DELEGATE_SALT_PREFIX's and whose 12th differs: an ordinary salt. */
function nearDelegateSalt(): string {
  const prefix = ethers.getBytes(DELEGATE_SALT_PREFIX);
  return ethers.concat([prefix.slice(0, 11), ethers.toBeHex(prefix[11] ^ 1, 1), ethers.dataSlice(nextSalt(), 12)]);
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

/** A registry that accepts resolution windows up to `minUnbondingDelay` (its floor of the unbonding delay). */
async function deployRegistry(p: Protocol, minUnbondingDelay: number): Promise<GatewayRegistry> {
  const factory = await ethers.getContractFactory("GatewayRegistry");
  const args = [p.admin.address, await p.usdt.getAddress(), MIN_BOND, MAX_FEE_BPS] as const;
  return (await factory.deploy(...args, minUnbondingDelay, minUnbondingDelay)) as unknown as GatewayRegistry;
}

/** The status of a deal, from its stored record. */
async function statusOf(p: Protocol, deal: DealOut): Promise<bigint> {
  return (await p.escrow.getDeal(dealIdOf(deal))).status;
}

/** Calldata of `fn(deal, ...rest)` with the deal's word for `field` replaced by `word` (out-of-range high bits). */
function dirtyCalldata(p: Protocol, fn: "open" | "perform", args: unknown[], field: keyof DealOut, word: bigint) {
  const iface: Interface = p.escrow.interface;
  const data = iface.encodeFunctionData(fn, args);
  const start = 2 + 2 * (4 + 32 * DEAL_FIELDS.indexOf(field));
  return data.slice(0, start) + ethers.toBeHex(word, 32).slice(2) + data.slice(start + 64);
}

/** Each field but payer and salt (the deal id's inputs) with a bit set above its type's range. */
function dirtyWords(deal: DealOut): [keyof DealOut, bigint][] {
  return [
    ["payee", BigInt(deal.payee) | (1n << 160n)],
    ["gateway", BigInt(deal.gateway) | (1n << 255n)],
    ["amount", deal.amount | (1n << 96n)],
    ["deadline", deal.deadline | (1n << 40n)],
    ["releaseWindow", deal.releaseWindow | (1n << 32n)],
    ["feeBps", deal.feeBps | (1n << 16n)],
    ["kind", deal.kind | (1n << 8n)],
    ["autoRelease", 2n],
  ];
}

/** Asserts that the escrow's DealLockedByDelegate(dealId, delegate) is the escrow log right after DealOpened. */
async function expectLockedByDelegateRightAfterOpened(
  p: Protocol,
  tx: Promise<ContractTransactionResponse>,
  dealId: string,
  delegate: string,
) {
  const receipt = await (await tx).wait();
  const escrow = await p.escrow.getAddress();
  const logs = receipt!.logs.filter((l) => l.address === escrow).map((l) => p.escrow.interface.parseLog(l)!);
  const opened = logs.findIndex((l) => l.name === "DealOpened" && l.args.dealId === dealId);
  expect(opened, "DealOpened").to.be.greaterThanOrEqual(0);
  const next = logs[opened + 1];
  expect(next?.name).to.equal("DealLockedByDelegate");
  expect(next!.args.dealId).to.equal(dealId);
  expect(next!.args.delegate).to.equal(delegate);
}

/*//////////////////////////////////////////////////////////////
                      SHARED BEHAVIOURS
//////////////////////////////////////////////////////////////*/

/** A refusal of the registry, set up after the call was prepared. */
interface RegistryGate {
  when: string;
  error: string;
  close: (p: Protocol) => Promise<unknown>;
  args: (p: Protocol) => Promise<unknown[]>;
}

const REGISTRY_GATES: RegistryGate[] = [
  {
    when: "the registry is paused",
    error: "RegistryPaused",
    close: (p) => p.registry.connect(p.pauser).pause(),
    args: async () => [],
  },
  {
    when: "the token is not allowlisted (any more)",
    error: "RegistryTokenNotAllowed",
    close: async (p) => p.registry.connect(p.governor).setTokenAllowed(await p.usdt.getAddress(), false),
    args: async (p) => [await p.usdt.getAddress()],
  },
  {
    when: "the gateway is Exiting",
    error: "RegistryGatewayWrongStatus",
    close: (p) => p.registry.connect(p.gateway).requestExit(),
    args: async (p) => [p.gateway.address, GatewayStatus.Exiting],
  },
  {
    when: "the gateway is suspended",
    error: "RegistryGatewaySuspended",
    close: (p) => p.registry.connect(p.governor).suspendGateway(p.gateway.address),
    args: async (p) => [p.gateway.address],
  },
];

/**
 * Shared behaviour of every call that needs the registry's consent (open, openWithSig, lock, lockWithSig,
 * depositFloat): for each refusal, the call prepared beforehand (approvals, signatures) reverts with the registry's
 * error.
 */
function itIsRefusedByTheRegistry(
  fixture: () => Promise<Protocol>,
  prepare: (p: Protocol) => Promise<() => Promise<ContractTransactionResponse>>,
) {
  for (const gate of REGISTRY_GATES) {
    it(`when ${gate.when} → it reverts ${gate.error}`, async function () {
      const p = await loadFixture(fixture);
      const send = await prepare(p);
      await gate.close(p);
      await expect(send())
        .to.be.revertedWithCustomError(p.registry, gate.error)
        .withArgs(...(await gate.args(p)));
    });
  }
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

/** A 100 USDT payment the payee performed; the payer has not released yet. */
async function withPerformedDeal() {
  const p = await deployProtocol();
  const deal = await makeDeal(p);
  await openDeal(p, deal);
  await p.escrow.connect(p.payee).perform(deal);
  return { ...p, deal, fee: feeOf(deal.amount, deal.feeBps), net: deal.amount - feeOf(deal.amount, deal.feeBps) };
}

/*//////////////////////////////////////////////////////////////
                              TESTS
//////////////////////////////////////////////////////////////*/

describe("Escrow (part A: opening, locking, float, owed, views)", function () {
  before(function () {
    // The tests' own copy of the delegate salt prefix must be 12 bytes, or every delegate test below is moot.
    expect(ethers.dataLength(DELEGATE_SALT_PREFIX)).to.equal(12);
    expect(nextDelegateSalt().startsWith(DELEGATE_SALT_PREFIX)).to.equal(true);
    expect(nextSalt().startsWith(DELEGATE_SALT_PREFIX)).to.equal(false);
  });

  describe("constructor", function () {
    it("when the registry is not a contract → it reverts EscrowInvalidRegistry", async function () {
      const p = await loadFixture(deployProtocol);
      const factory = await ethers.getContractFactory("Escrow");
      await expect(factory.deploy(p.other.address, RESOLUTION_WINDOW))
        .to.be.revertedWithCustomError(factory, "EscrowInvalidRegistry")
        .withArgs(p.other.address);
      await expect(factory.deploy(ethers.ZeroAddress, RESOLUTION_WINDOW))
        .to.be.revertedWithCustomError(factory, "EscrowInvalidRegistry")
        .withArgs(ethers.ZeroAddress);
    });

    it("when the resolution window is outside [MIN_RESOLUTION_WINDOW, MAX_RESOLUTION_WINDOW] → it reverts EscrowInvalidResolutionWindow", async function () {
      const p = await loadFixture(deployProtocol);
      const factory = await ethers.getContractFactory("Escrow");
      // a registry whose floor allows every window up to MAX_RESOLUTION_WINDOW, so only the bounds refuse
      const registry = await (await deployRegistry(p, MAX_RESOLUTION_WINDOW + MIN_SLASH_TIME)).getAddress();
      for (const w of [0, MIN_RESOLUTION_WINDOW - 1, MAX_RESOLUTION_WINDOW + 1, 2 ** 32 - 1]) {
        await expect(factory.deploy(registry, w))
          .to.be.revertedWithCustomError(factory, "EscrowInvalidResolutionWindow")
          .withArgs(w);
      }
    });

    it("when the resolution window plus MIN_SLASH_TIME is above the registry's minUnbondingDelay → it reverts EscrowInvalidResolutionWindow", async function () {
      const p = await loadFixture(deployProtocol);
      const factory = await ethers.getContractFactory("Escrow");
      const floor = Number(await p.registry.minUnbondingDelay());
      expect(floor).to.equal(RESOLUTION_WINDOW + MIN_SLASH_TIME);
      for (const w of [floor - MIN_SLASH_TIME + 1, floor, MAX_RESOLUTION_WINDOW]) {
        await expect(factory.deploy(await p.registry.getAddress(), w))
          .to.be.revertedWithCustomError(factory, "EscrowInvalidResolutionWindow")
          .withArgs(w);
      }
    });

    it("when the resolution window plus MIN_SLASH_TIME equals the registry's minUnbondingDelay → it deploys", async function () {
      const p = await loadFixture(deployProtocol);
      const factory = await ethers.getContractFactory("Escrow");
      const window = (await p.registry.minUnbondingDelay()) - BigInt(MIN_SLASH_TIME);
      const e = await factory.deploy(await p.registry.getAddress(), window);
      expect(await e.resolutionWindow()).to.equal(window);
    });

    it("when the window is at either bound (and within the floor) → it deploys and exposes registry and window", async function () {
      const p = await loadFixture(deployProtocol);
      const factory = await ethers.getContractFactory("Escrow");
      const registry = await (await deployRegistry(p, MAX_RESOLUTION_WINDOW + MIN_SLASH_TIME)).getAddress();
      for (const w of [MIN_RESOLUTION_WINDOW, MAX_RESOLUTION_WINDOW]) {
        const e = await factory.deploy(registry, w);
        expect(await e.resolutionWindow()).to.equal(w);
        expect(await e.registry()).to.equal(registry);
      }
      expect(await p.escrow.registry()).to.equal(await p.registry.getAddress());
      expect(await p.escrow.resolutionWindow()).to.equal(RESOLUTION_WINDOW);
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
      it("when a deal word has out-of-range high bits → it reverts (Solidity's range check) and opens nothing", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        for (const [field, word] of dirtyWords(deal)) {
          const data = dirtyCalldata(p, "open", [deal, REF], field, word);
          await expect(
            p.payer.sendTransaction({ to: await p.escrow.getAddress(), data }),
            field,
          ).to.be.revertedWithoutReason();
        }
        expect(await statusOf(p, deal)).to.equal(Status.None);
        // the clean calldata opens
        await p.payer.sendTransaction({
          to: await p.escrow.getAddress(),
          data: p.escrow.interface.encodeFunctionData("open", [deal, REF]),
        });
        expect(await statusOf(p, deal)).to.equal(Status.Open);
      });

      it("when the parties are zero, equal or overlapping → it reverts EscrowInvalidParties", async function () {
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

      it("when the amount is zero → it reverts EscrowZeroAmount", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p, { amount: 0n });
        await expect(p.escrow.connect(p.payer).open(deal, REF)).to.be.revertedWithCustomError(
          p.escrow,
          "EscrowZeroAmount",
        );
      });

      it("when the deadline is not in the future → it reverts EscrowInvalidDeadline", async function () {
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

      it("when the deadline is beyond now + MAX_DEAL_DURATION → it reverts EscrowInvalidDeadline", async function () {
        const p = await loadFixture(deployProtocol);
        const t = (await time.latest()) + 10;
        const deadline = t + MAX_DEAL_DURATION + 1;
        const deal = await makeDeal(p, { deadline: BigInt(deadline) });
        await time.setNextBlockTimestamp(t);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
          .withArgs(deadline, t + MAX_DEAL_DURATION);
      });

      it("when the deadline is now + 1 or now + MAX_DEAL_DURATION → it opens", async function () {
        const p = await loadFixture(deployProtocol);
        for (const offset of [1, MAX_DEAL_DURATION]) {
          // Approve first: the next block's time is pinned right before the open.
          await approveFor(p, await makeDeal(p));
          const t = (await time.latest()) + 10;
          const deal = await makeDeal(p, { deadline: BigInt(t + offset) });
          await time.setNextBlockTimestamp(t);
          await p.escrow.connect(p.payer).open(deal, REF);
          expect(await statusOf(p, deal)).to.equal(Status.Open);
        }
      });

      it("when the release window is outside [MIN_RELEASE_WINDOW, MAX_RELEASE_WINDOW] → it reverts EscrowInvalidReleaseWindow", async function () {
        const p = await loadFixture(deployProtocol);
        for (const w of [0, MIN_RELEASE_WINDOW - 1, MAX_RELEASE_WINDOW + 1, 2 ** 32 - 1]) {
          const deal = await makeDeal(p, { releaseWindow: w });
          await expect(p.escrow.connect(p.payer).open(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidReleaseWindow")
            .withArgs(w);
        }
      });

      it("when the release window is at either bound → it opens", async function () {
        const p = await loadFixture(deployProtocol);
        for (const w of [MIN_RELEASE_WINDOW, MAX_RELEASE_WINDOW]) {
          const deal = await makeDeal(p, { releaseWindow: w });
          await openDeal(p, deal);
          expect(await statusOf(p, deal)).to.equal(Status.Open);
        }
      });

      it("when the kind is OnRamp (locks only) or autoRelease is set on OffRamp → it reverts EscrowInvalidKind", async function () {
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

      it("when a payment sets autoRelease → it opens", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p, { autoRelease: true });
        await openDeal(p, deal);
        expect(await statusOf(p, deal)).to.equal(Status.Open);
      });

      it("when the caller is not the payer → it reverts EscrowUnauthorized", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        for (const s of [p.other, p.payee, p.gateway]) {
          await expect(p.escrow.connect(s).open(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(dealIdOf(deal), s.address);
        }
      });

      it("when the caller is not the payer and the registry would refuse (paused, gateway suspended) → it reverts EscrowUnauthorized: the caller check comes first", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        await p.registry.connect(p.pauser).pause();
        await expect(p.escrow.connect(p.other).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(deal), p.other.address);
        await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
        await expect(p.escrow.connect(p.other).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(deal), p.other.address);
        // the payer itself gets the registry's answer
        await expect(p.escrow.connect(p.payer).open(deal, REF)).to.be.revertedWithCustomError(
          p.registry,
          "RegistryPaused",
        );
      });

      it("when the caller is the acceptor's lock delegate opening a wallet deal for it → it reverts EscrowUnauthorized", async function () {
        const p = await loadFixture(deployProtocol);
        for (const salt of [nextSalt(), nextDelegateSalt()]) {
          const payment = await makeDeal(p, { payer: p.acceptor.address, salt });
          await approveFor(p, payment, p.acceptor);
          await expect(p.escrow.connect(p.delegate).open(payment, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
            .withArgs(dealIdOf(payment), p.delegate.address);
        }
      });

      describe("when the registry refuses", function () {
        itIsRefusedByTheRegistry(deployProtocol, async (p) => {
          const deal = await makeDeal(p);
          await approveFor(p, deal);
          return () => p.escrow.connect(p.payer).open(deal, REF);
        });
      });

      it("when the token was never allowlisted → it reverts RegistryTokenNotAllowed", async function () {
        const p = await loadFixture(deployProtocol);
        const stray: TestERC20 = await ethers.deployContract("TestERC20", ["Stray", "STR", 6]);
        const strayDeal = await makeDeal(p, { token: await stray.getAddress() });
        await expect(p.escrow.connect(p.payer).open(strayDeal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
          .withArgs(await stray.getAddress());
      });

      it("when the gateway is unknown or Pending → it reverts RegistryGatewayWrongStatus", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p, { gateway: p.gateway2.address });
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewayWrongStatus")
          .withArgs(p.gateway2.address, GatewayStatus.None);
        await registerGateway(p, p.gateway2, false);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewayWrongStatus")
          .withArgs(p.gateway2.address, GatewayStatus.Pending);
      });

      it("when the gateway was suspended and reinstated → it opens again", async function () {
        const p = await loadFixture(deployProtocol);
        await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
        await p.registry.connect(p.governor).reinstateGateway(p.gateway.address);
        const deal = await makeDeal(p);
        await openDeal(p, deal);
        expect(await statusOf(p, deal)).to.equal(Status.Open);
      });

      it("when the salt starts with DELEGATE_SALT_PREFIX → it reverts EscrowInvalidSalt (payment, off-ramp, the acceptor's own payment)", async function () {
        const p = await loadFixture(deployProtocol);
        const payment = await makeDeal(p, { salt: nextDelegateSalt() });
        const offRamp = await makeOffRampDeal(p, { salt: nextDelegateSalt() });
        const byAcceptor = await makeDeal(p, { payer: p.acceptor.address, salt: nextDelegateSalt() });
        for (const deal of [payment, offRamp, byAcceptor]) {
          const payer = await ethers.getSigner(deal.payer);
          await approveFor(p, deal, payer);
          await expect(p.escrow.connect(payer).open(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
            .withArgs(deal.salt);
          expect(await statusOf(p, deal)).to.equal(Status.None);
        }
      });

      it("when the salt shares only the first 11 bytes of DELEGATE_SALT_PREFIX → it opens (an ordinary salt)", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p, { salt: nearDelegateSalt() });
        await openDeal(p, deal);
        expect(await statusOf(p, deal)).to.equal(Status.Open);
      });

      it("when feeBps differs from the gateway's current fee → it reverts EscrowFeeMismatch", async function () {
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
        expect(await statusOf(p, fresh)).to.equal(Status.Open);
      });

      it("when the global cap is lowered below the gateway's fee → it expects the clamped fee (EscrowFeeMismatch otherwise)", async function () {
        const p = await loadFixture(deployProtocol);
        await p.registry.connect(p.governor).setMaxFee(30);
        const deal = await makeDeal(p); // feeBps 50, the gateway's own fee
        await approveFor(p, deal);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowFeeMismatch")
          .withArgs(p.gateway.address, GATEWAY_FEE_BPS, 30);
        const clamped = await makeDeal(p, { feeBps: 30 });
        await openDeal(p, clamped);
        expect(await statusOf(p, clamped)).to.equal(Status.Open);
      });

      it("when a deal with the same payer and salt exists → it reverts EscrowDealExists", async function () {
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

      it("when another funder uses the same salt → it opens (ids are per funder)", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await openDeal(p, deal);
        const other = await makeDeal(p, { payer: p.other.address, salt: deal.salt });
        await openDeal(p, other);
        expect(dealIdOf(other)).to.not.equal(dealIdOf(deal));
        expect(await statusOf(p, other)).to.equal(Status.Open);
      });
    });

    describe("off-ramp", function () {
      it("when the payee is not an Active acceptor → it reverts RegistryAcceptorWrongStatus", async function () {
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

      it("when the acceptor is registered under another gateway → it reverts RegistryAcceptorGatewayMismatch", async function () {
        const p = await loadFixture(withGateway2);
        const deal = await makeOffRampDeal(p, { gateway: p.gateway2.address });
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorGatewayMismatch")
          .withArgs(p.acceptor.address, p.gateway.address, p.gateway2.address);
      });

      it("when the amount is outside the acceptor's limits → it reverts EscrowAmountOutOfLimits", async function () {
        const p = await loadFixture(deployProtocol);
        for (const amount of [USDT(10) - 1n, USDT(50_000) + 1n]) {
          const deal = await makeOffRampDeal(p, { amount });
          await approveFor(p, deal);
          await expect(p.escrow.connect(p.payer).open(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowAmountOutOfLimits")
            .withArgs(p.acceptor.address, amount, USDT(10), USDT(50_000));
        }
      });

      it("when the amount equals either limit → it opens", async function () {
        const p = await loadFixture(deployProtocol);
        for (const amount of [USDT(10), USDT(50_000)]) {
          const deal = await makeOffRampDeal(p, { amount });
          await openDeal(p, deal);
          expect(await statusOf(p, deal)).to.equal(Status.Open);
        }
      });

      it("when the acceptor set no limits for the token → it reverts EscrowAmountOutOfLimits for every amount", async function () {
        const p = await loadFixture(deployProtocol);
        const eur: TestERC20 = await ethers.deployContract("TestERC20", ["Euro", "EURT", 6]);
        await p.registry.connect(p.governor).setTokenAllowed(await eur.getAddress(), true);
        const deal = await makeOffRampDeal(p, { token: await eur.getAddress() });
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowAmountOutOfLimits")
          .withArgs(p.acceptor.address, deal.amount, 0, 0);
      });

      it("when every check passes → it opens from the seller's wallet and leaves the acceptor's float alone", async function () {
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
      it("when USDT charges a transfer fee → it reverts EscrowTransferShortfall", async function () {
        const p = await loadFixture(deployProtocol);
        await p.usdt.connect(p.admin).setParams(10, 10); // 0.1%, capped at 10 whole USDT
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        const received = deal.amount - feeOf(deal.amount, 10);
        await expect(p.escrow.connect(p.payer).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowTransferShortfall")
          .withArgs(await p.usdt.getAddress(), deal.amount, received);
        expect(await statusOf(p, deal)).to.equal(Status.None);
      });

      it("when the allowance is missing or short → it reverts (USDT burns the gas) and opens nothing", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        const escrow = await p.escrow.getAddress();
        await expect(p.escrow.connect(p.payer).open(deal, REF, { gasLimit: BURN_GAS_LIMIT })).to.be.reverted;
        await approveExactly(p.usdt, p.payer, escrow, deal.amount - 1n);
        await expect(p.escrow.connect(p.payer).open(deal, REF, { gasLimit: BURN_GAS_LIMIT })).to.be.reverted;
        expect(await statusOf(p, deal)).to.equal(Status.None);
        expect(await p.usdt.allowance(p.payer.address, escrow)).to.equal(deal.amount - 1n);
      });

      it("when the payer's balance is short → it reverts (USDT burns the gas)", async function () {
        const p = await loadFixture(deployProtocol);
        const balance = await p.usdt.balanceOf(p.payer.address);
        const big = await makeDeal(p, { amount: balance + 1n });
        await approveFor(p, big);
        await expect(p.escrow.connect(p.payer).open(big, REF, { gasLimit: BURN_GAS_LIMIT })).to.be.reverted;
        expect(await statusOf(p, big)).to.equal(Status.None);
        expect(await p.usdt.balanceOf(p.payer.address)).to.equal(balance);
      });

      it("when the payer is blacklisted by USDT → it reverts without data (Tether's bare require)", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        await p.usdt.connect(p.admin).addBlackList(p.payer.address);
        await expect(p.escrow.connect(p.payer).open(deal, REF)).to.be.revertedWithoutReason();
        expect(await statusOf(p, deal)).to.equal(Status.None);
      });

      it("when the token is paused → it reverts without data", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        await p.usdt.connect(p.admin).pause();
        await expect(p.escrow.connect(p.payer).open(deal, REF)).to.be.revertedWithoutReason();
      });

      it("when every check passes → it moves exactly the amount from the payer to the escrow", async function () {
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

      it("when the token is DAI (a plain ERC-20) → it opens in DAI", async function () {
        const p = await loadFixture(deployProtocol);
        const amount = ethers.parseEther("250");
        const deal = await makeDeal(p, { token: await p.dai.getAddress(), amount });
        await p.dai.connect(p.payer).approve(await p.escrow.getAddress(), amount);
        const tx = p.escrow.connect(p.payer).open(deal, REF);
        await expect(tx)
          .to.emit(p.escrow, "DealOpened")
          .withArgs(dealIdOf(deal), p.payer.address, p.payee.address, tuple(deal), REF);
        await expect(tx).to.changeTokenBalances(p.dai, [p.payer, p.escrow], [-amount, amount]);
        expect(await statusOf(p, deal)).to.equal(Status.Open);
      });
    });

    describe("effects and events", function () {
      it("when every check passes → it emits DealOpened with the full deal and the ref, and no DealLockedByDelegate", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p, { autoRelease: true });
        await approveFor(p, deal);
        const tx = p.escrow.connect(p.payer).open(deal, REF);
        await expect(tx)
          .to.emit(p.escrow, "DealOpened")
          .withArgs(dealIdOf(deal), p.payer.address, p.payee.address, tuple(deal), REF);
        await expect(tx).not.to.emit(p.escrow, "DealLockedByDelegate");

        // and field by field, from the decoded log
        const receipt = await (await tx).wait();
        const logs = receipt!.logs.map((l) => p.escrow.interface.parseLog(l)).filter((l) => l?.name === "DealOpened");
        expect(logs).to.have.length(1);
        const ev = logs[0]!.args;
        expect(ev.dealId).to.equal(dealIdOf(deal));
        expect(ev.payer).to.equal(deal.payer);
        expect(ev.payee).to.equal(deal.payee);
        expect(ev.ref).to.equal(REF);
        for (const key of DEAL_FIELDS) {
          expect(ev.deal[key], key).to.equal(deal[key]);
        }
      });

      it("when every check passes → it stores the record: commitment, status Open, since now, flags 0", async function () {
        const p = await loadFixture(deployProtocol);
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        const receipt = await (await p.escrow.connect(p.payer).open(deal, REF)).wait();
        const block = await ethers.provider.getBlock(receipt!.blockNumber);

        const hash = structHash(deal);
        expect(await p.escrow.hashDeal(deal)).to.equal(hash);
        const rec = await p.escrow.getDeal(dealIdOf(deal));
        expect(rec.commitment).to.equal(ethers.dataSlice(hash, 0, 25));
        expect(rec.status).to.equal(Status.Open);
        expect(rec.since).to.equal(block!.timestamp);
        expect(rec.flags).to.equal(0n);
      });

      it("when every check passes → it returns and uses the id keccak256(abi.encode(payer, salt))", async function () {
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
    it("when the payer signed → it opens, whoever submits", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      await approveFor(p, deal);
      const auth = await signOpen(p.escrow, p.payer, deal, REF);
      const tx = p.escrow.connect(p.other).openWithSig(deal, REF, auth);
      await expect(tx)
        .to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(deal), p.payer.address, p.payee.address, tuple(deal), REF);
      await expect(tx).not.to.emit(p.escrow, "DealLockedByDelegate");
      await expect(tx).to.changeTokenBalances(p.usdt, [p.payer, p.escrow, p.other], [-deal.amount, deal.amount, 0n]);
      expect(await statusOf(p, deal)).to.equal(Status.Open);
    });

    it("when the deal already exists (a replay) → it reverts EscrowDealExists", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), deal.amount * 2n);
      const auth = await signOpen(p.escrow, p.payer, deal, REF);
      await p.escrow.connect(p.other).openWithSig(deal, REF, auth);
      await expect(p.escrow.connect(p.other).openWithSig(deal, REF, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
        .withArgs(dealIdOf(deal));
    });

    it("when the signature has expired → it reverts EscrowSignatureExpired (at its expiry it still opens)", async function () {
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
      expect(await statusOf(p, deal2)).to.equal(Status.Open);
    });

    it("when someone other than the payer signed → it reverts EscrowInvalidSignature", async function () {
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

    it("when the signature covers another ref, deal or expiry, or the Lock type → it reverts EscrowInvalidSignature", async function () {
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
      expect(await statusOf(p, deal)).to.equal(Status.None);
    });

    it("when a check of open fails (kind OnRamp) → it reverts as open does", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p, { kind: Kind.OnRamp });
      const auth = await signOpen(p.escrow, p.payer, deal, REF);
      await expect(p.escrow.connect(p.other).openWithSig(deal, REF, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidKind")
        .withArgs(Kind.OnRamp, false);
    });

    it("when the payer signed a salt with DELEGATE_SALT_PREFIX → it reverts EscrowInvalidSalt", async function () {
      const p = await loadFixture(deployProtocol);
      for (const deal of [
        await makeDeal(p, { salt: nextDelegateSalt() }),
        await makeOffRampDeal(p, { salt: nextDelegateSalt() }),
      ]) {
        await approveFor(p, deal);
        const auth = await signOpen(p.escrow, p.payer, deal, REF);
        await expect(p.escrow.connect(p.other).openWithSig(deal, REF, auth))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
          .withArgs(deal.salt);
      }
    });

    describe("when the registry refuses", function () {
      itIsRefusedByTheRegistry(deployProtocol, async (p) => {
        const deal = await makeDeal(p);
        await approveFor(p, deal);
        const auth = await signOpen(p.escrow, p.payer, deal, REF);
        return () => p.escrow.connect(p.other).openWithSig(deal, REF, auth);
      });
    });

    it("when the payer is an ERC-1271 wallet and its owner signed → it opens (anyone else's signature reverts EscrowInvalidSignature)", async function () {
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
      expect(await statusOf(p, deal)).to.equal(Status.Open);
    });
  });

  describe("lock", function () {
    describe("validations", function () {
      it("when the caller is neither the acceptor nor its delegate → it reverts EscrowUnauthorized (whatever the salt)", async function () {
        const p = await loadFixture(withFloat);
        for (const deal of [await makeLockDeal(p), await makeDelegateLockDeal(p)]) {
          for (const s of [p.other, p.payee, p.gateway]) {
            await expect(p.escrow.connect(s).lock(deal, REF))
              .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
              .withArgs(dealIdOf(deal), s.address);
          }
        }
      });

      it("when the caller is a replaced delegate → it reverts EscrowUnauthorized (the delegate is read at lock time)", async function () {
        const p = await loadFixture(withFloat);
        await p.registry.connect(p.acceptor).setLockDelegate(p.other.address);
        const deal = await makeDelegateLockDeal(p);
        await expect(p.escrow.connect(p.delegate).lock(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(deal), p.delegate.address);
        await p.escrow.connect(p.other).lock(deal, REF);
        expect(await statusOf(p, deal)).to.equal(Status.Open);
      });

      it("when the caller is another acceptor's delegate → it reverts EscrowUnauthorized", async function () {
        const p = await loadFixture(withFloat);
        const acc2 = p.rest[0];
        await registerAcceptor(p, acc2);
        await depositFloat(p, FLOAT, acc2);
        const deal = await makeDelegateLockDeal(p, { payer: acc2.address });
        await expect(p.escrow.connect(p.delegate).lock(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(deal), p.delegate.address);
      });

      it("when the kind is not OnRamp or autoRelease is set → it reverts EscrowInvalidKind", async function () {
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

      it("when the parties overlap or the fee differs → it reverts as open does (EscrowInvalidParties, EscrowFeeMismatch)", async function () {
        const p = await loadFixture(withFloat);
        const self = await makeLockDeal(p, { payee: p.acceptor.address });
        await expect(p.escrow.connect(p.acceptor).lock(self, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidParties")
          .withArgs(p.acceptor.address, p.acceptor.address, p.gateway.address);
        const fee = await makeLockDeal(p, { feeBps: 0 });
        await expect(p.escrow.connect(p.acceptor).lock(fee, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowFeeMismatch")
          .withArgs(p.gateway.address, 0, GATEWAY_FEE_BPS);
        const delegateFee = await makeDelegateLockDeal(p, { feeBps: 0 });
        await expect(p.escrow.connect(p.delegate).lock(delegateFee, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowFeeMismatch")
          .withArgs(p.gateway.address, 0, GATEWAY_FEE_BPS);
      });

      it("when the amount is above the free float → it reverts EscrowInsufficientFloat", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        const big = await makeLockDeal(p, { amount: FLOAT + 1n });
        await expect(p.escrow.connect(p.acceptor).lock(big, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.acceptor.address, usdt, FLOAT, FLOAT + 1n);

        const first = await makeLockDeal(p, { amount: USDT(600) });
        await p.escrow.connect(p.acceptor).lock(first, REF);
        const second = await makeDelegateLockDeal(p, { amount: USDT(500) });
        await expect(p.escrow.connect(p.delegate).lock(second, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.acceptor.address, usdt, USDT(400), USDT(500));

        // the float of another token does not count
        const dai = await makeLockDeal(p, { token: await p.dai.getAddress(), amount: ethers.parseEther("100") });
        await expect(p.escrow.connect(p.acceptor).lock(dai, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.acceptor.address, await p.dai.getAddress(), 0, ethers.parseEther("100"));
      });

      it("when the amount equals the free float → it locks it all", async function () {
        const p = await loadFixture(withFloat);
        const deal = await makeLockDeal(p, { amount: FLOAT });
        await p.escrow.connect(p.acceptor).lock(deal, REF);
        const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
        expect(f.free).to.equal(0n);
        expect(f.locked).to.equal(FLOAT);
      });

      it("when the amount is outside the acceptor's limits → it reverts EscrowAmountOutOfLimits", async function () {
        const p = await loadFixture(withFloat);
        for (const amount of [USDT(10) - 1n, USDT(50_000) + 1n]) {
          const deal = await makeLockDeal(p, { amount });
          await expect(p.escrow.connect(p.acceptor).lock(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowAmountOutOfLimits")
            .withArgs(p.acceptor.address, amount, USDT(10), USDT(50_000));
        }
      });

      it("when the acceptor is suspended → it reverts RegistryAcceptorWrongStatus for acceptor and delegate (the float stays put)", async function () {
        const p = await loadFixture(withFloat);
        await p.registry.connect(p.governor).suspendAcceptor(p.acceptor.address);
        for (const [s, deal] of [
          [p.acceptor, await makeLockDeal(p)],
          [p.delegate, await makeDelegateLockDeal(p)],
        ] as const) {
          await expect(p.escrow.connect(s).lock(deal, REF))
            .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
            .withArgs(p.acceptor.address, AcceptorStatus.Suspended);
        }
        const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
        expect(f.free).to.equal(FLOAT);
      });

      it("when the payer is no acceptor → it reverts RegistryAcceptorWrongStatus", async function () {
        const p = await loadFixture(withFloat);
        const deal = await makeLockDeal(p, { payer: p.other.address });
        await expect(p.escrow.connect(p.other).lock(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorWrongStatus")
          .withArgs(p.other.address, AcceptorStatus.None);
      });

      it("when the acceptor is registered under another gateway → it reverts RegistryAcceptorGatewayMismatch", async function () {
        const p = await loadFixture(withFloat);
        await registerGateway(p, p.gateway2);
        const deal = await makeLockDeal(p, { gateway: p.gateway2.address });
        await expect(p.escrow.connect(p.acceptor).lock(deal, REF))
          .to.be.revertedWithCustomError(p.registry, "RegistryAcceptorGatewayMismatch")
          .withArgs(p.acceptor.address, p.gateway.address, p.gateway2.address);
      });

      describe("when the registry refuses the acceptor's lock", function () {
        itIsRefusedByTheRegistry(withFloat, async (p) => {
          const deal = await makeLockDeal(p);
          return () => p.escrow.connect(p.acceptor).lock(deal, REF);
        });
      });

      describe("when the registry refuses the delegate's lock", function () {
        itIsRefusedByTheRegistry(withFloat, async (p) => {
          const deal = await makeDelegateLockDeal(p);
          return () => p.escrow.connect(p.delegate).lock(deal, REF);
        });
      });

      it("when the acceptor repeats a salt → it reverts EscrowDealExists; so does the delegate", async function () {
        const p = await loadFixture(withFloat);
        const deal = await makeLockDeal(p);
        await p.escrow.connect(p.acceptor).lock(deal, REF);
        await expect(p.escrow.connect(p.acceptor).lock({ ...deal, amount: USDT(20) }, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
          .withArgs(dealIdOf(deal));
        const byDelegate = await makeDelegateLockDeal(p);
        await p.escrow.connect(p.delegate).lock(byDelegate, REF);
        await expect(p.escrow.connect(p.delegate).lock({ ...byDelegate, amount: USDT(20) }, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
          .withArgs(dealIdOf(byDelegate));
      });
    });

    describe("salts: delegate locks never take an id the acceptor planned", function () {
      it("when the acceptor locks with a salt with DELEGATE_SALT_PREFIX → it reverts EscrowInvalidSalt", async function () {
        const p = await loadFixture(withFloat);
        const deal = await makeDelegateLockDeal(p);
        await expect(p.escrow.connect(p.acceptor).lock(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
          .withArgs(deal.salt);
        expect(await statusOf(p, deal)).to.equal(Status.None);
      });

      it("when the delegate locks with a salt without DELEGATE_SALT_PREFIX → it reverts EscrowInvalidSalt", async function () {
        const p = await loadFixture(withFloat);
        for (const salt of [nextSalt(), ethers.ZeroHash, nearDelegateSalt()]) {
          const deal = await makeLockDeal(p, { salt });
          await expect(p.escrow.connect(p.delegate).lock(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
            .withArgs(salt);
        }
        const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
        expect(f.free).to.equal(FLOAT);
      });

      it("when the delegate front-runs the acceptor's signed lock with its salt → it reverts EscrowInvalidSalt, a prefixed salt gives it another id, and the acceptor's lock lands on its planned id", async function () {
        const p = await loadFixture(withFloat);
        const planned = await makeLockDeal(p, { amount: USDT(100) });
        const plannedId = dealIdOf(planned);
        const auth = await signOpen(p.escrow, p.acceptor, planned, REF, "Lock");

        // the delegate sees the salt in the mempool and tries to take the id for a payee of its choice
        const hijack = { ...planned, payee: p.delegate.address, amount: USDT(900) };
        await expect(p.escrow.connect(p.delegate).lock(hijack, REF2))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
          .withArgs(planned.salt);
        const hijackAuth = await signOpen(p.escrow, p.delegate, hijack, REF2, "Lock");
        await expect(p.escrow.connect(p.other).lockWithSig(hijack, REF2, p.delegate.address, hijackAuth))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
          .withArgs(planned.salt);

        // with a prefixed salt it locks, under another id
        const own = { ...hijack, salt: nextDelegateSalt() };
        await p.escrow.connect(p.delegate).lock(own, REF2);
        expect(dealIdOf(own)).to.not.equal(plannedId);
        expect(await statusOf(p, own)).to.equal(Status.Open);

        // the acceptor's signed lock still lands on the id it planned, with its own terms
        await expect(p.escrow.connect(p.other).lockWithSig(planned, REF, p.acceptor.address, auth))
          .to.emit(p.escrow, "DealOpened")
          .withArgs(plannedId, p.acceptor.address, p.payee.address, tuple(planned), REF);
        const rec = await p.escrow.getDeal(plannedId);
        expect(rec.status).to.equal(Status.Open);
        expect(rec.commitment).to.equal(ethers.dataSlice(structHash(planned), 0, 25));
        const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
        expect(f.locked).to.equal(USDT(1_000));
        expect(f.free).to.equal(0n);
      });
    });

    describe("delegate bounds", function () {
      it("when the delegate's deadline is beyond now + MAX_DELEGATE_LOCK_DURATION → it reverts EscrowInvalidDeadline", async function () {
        const p = await loadFixture(withFloat);
        for (const beyond of [1, DAY, MAX_DEAL_DURATION - MAX_DELEGATE_LOCK_DURATION]) {
          const t = (await time.latest()) + 10;
          const latest = t + MAX_DELEGATE_LOCK_DURATION;
          const deal = await makeDelegateLockDeal(p, { deadline: BigInt(latest + beyond) });
          await time.setNextBlockTimestamp(t);
          await expect(p.escrow.connect(p.delegate).lock(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
            .withArgs(latest + beyond, latest);
        }
      });

      it("when the delegate's release window is above MAX_DELEGATE_RELEASE_WINDOW → it reverts EscrowInvalidReleaseWindow", async function () {
        const p = await loadFixture(withFloat);
        for (const w of [MAX_DELEGATE_RELEASE_WINDOW + 1, MAX_RELEASE_WINDOW]) {
          const deal = await makeDelegateLockDeal(p, { releaseWindow: w });
          await expect(p.escrow.connect(p.delegate).lock(deal, REF))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidReleaseWindow")
            .withArgs(w);
        }
      });

      it("when the delegate's deadline and release window are at their bounds → it locks", async function () {
        const p = await loadFixture(withFloat);
        const t = (await time.latest()) + 10;
        const deal = await makeDelegateLockDeal(p, {
          deadline: BigInt(t + MAX_DELEGATE_LOCK_DURATION),
          releaseWindow: MAX_DELEGATE_RELEASE_WINDOW,
        });
        await time.setNextBlockTimestamp(t);
        await p.escrow.connect(p.delegate).lock(deal, REF);
        expect(await statusOf(p, deal)).to.equal(Status.Open);
        expect(await p.escrow.lockExpiry(deal)).to.equal(
          t + MAX_DELEGATE_LOCK_DURATION + MAX_DELEGATE_RELEASE_WINDOW + RESOLUTION_WINDOW,
        );
      });

      it("when the acceptor locks with a deadline or release window beyond the delegate's bounds → it locks (the bounds are the delegate's)", async function () {
        const p = await loadFixture(withFloat);
        const t = (await time.latest()) + 10;
        const deal = await makeLockDeal(p, {
          deadline: BigInt(t + MAX_DEAL_DURATION),
          releaseWindow: MAX_RELEASE_WINDOW,
        });
        await time.setNextBlockTimestamp(t);
        await p.escrow.connect(p.acceptor).lock(deal, REF);
        expect(await statusOf(p, deal)).to.equal(Status.Open);
        expect(await p.escrow.lockExpiry(deal)).to.equal(0n);
      });
    });

    describe("effects and events", function () {
      it("when the acceptor locks → free -amount, locked +amount, no token moves, DealOpened and no DealLockedByDelegate", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        const deal = await makeLockDeal(p, { amount: USDT(250) });
        const tx = p.escrow.connect(p.acceptor).lock(deal, REF);
        await expect(tx)
          .to.emit(p.escrow, "DealOpened")
          .withArgs(dealIdOf(deal), p.acceptor.address, p.payee.address, tuple(deal), REF);
        await expect(tx).not.to.emit(p.escrow, "DealLockedByDelegate");
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.delegate, p.escrow, p.payee], [0n, 0n, 0n, 0n]);
        const f = await p.escrow.floatOf(p.acceptor.address, usdt);
        expect(f.free).to.equal(FLOAT - USDT(250));
        expect(f.locked).to.equal(USDT(250));
        const rec = await p.escrow.getDeal(dealIdOf(deal));
        expect(rec.status).to.equal(Status.Open);
        expect(rec.commitment).to.equal(ethers.dataSlice(structHash(deal), 0, 25));
        expect(rec.flags).to.equal(0n);
        expect(await p.escrow.lockExpiry(deal)).to.equal(0n);
      });

      it("when the delegate locks → the same float move, DealOpened then DealLockedByDelegate(dealId, delegate)", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        const deal = await makeDelegateLockDeal(p, { amount: USDT(250) });
        const id = dealIdOf(deal);
        const tx = p.escrow.connect(p.delegate).lock(deal, REF);
        await expect(tx)
          .to.emit(p.escrow, "DealOpened")
          .withArgs(id, p.acceptor.address, p.payee.address, tuple(deal), REF)
          .and.to.emit(p.escrow, "DealLockedByDelegate")
          .withArgs(id, p.delegate.address);
        await expectLockedByDelegateRightAfterOpened(p, tx, id, p.delegate.address);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.delegate, p.escrow, p.payee], [0n, 0n, 0n, 0n]);
        const f = await p.escrow.floatOf(p.acceptor.address, usdt);
        expect(f.free).to.equal(FLOAT - USDT(250));
        expect(f.locked).to.equal(USDT(250));
        const rec = await p.escrow.getDeal(id);
        expect(rec.status).to.equal(Status.Open);
        expect(rec.commitment).to.equal(ethers.dataSlice(structHash(deal), 0, 25));
        expect(rec.flags).to.equal(0n);
        expect(await p.escrow.lockExpiry(deal)).to.equal(
          deal.deadline + deal.releaseWindow + BigInt(RESOLUTION_WINDOW),
        );
      });

      it("when the token is DAI → it locks the DAI float only", async function () {
        const p = await loadFixture(withFloat);
        const dai = await p.dai.getAddress();
        await p.dai.connect(p.acceptor).approve(await p.escrow.getAddress(), ethers.parseEther("1000"));
        await p.escrow.connect(p.acceptor).depositFloat(dai, ethers.parseEther("1000"));
        const deal = await makeDelegateLockDeal(p, { token: dai, amount: ethers.parseEther("40") });
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
    it("when the acceptor signed → it locks as the acceptor's lock, whoever submits; no DealLockedByDelegate", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p);
      const auth = await signOpen(p.escrow, p.acceptor, deal, REF, "Lock");
      const tx = p.escrow.connect(p.other).lockWithSig(deal, REF, p.acceptor.address, auth);
      await expect(tx)
        .to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(deal), p.acceptor.address, p.payee.address, tuple(deal), REF);
      await expect(tx).not.to.emit(p.escrow, "DealLockedByDelegate");
      await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow, p.other], [0n, 0n, 0n]);
      const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
      expect(f.free).to.equal(FLOAT - deal.amount);
      expect(f.locked).to.equal(deal.amount);
    });

    it("when the delegate signed → it locks as the delegate's lock, whoever submits; DealOpened then DealLockedByDelegate(dealId, signer)", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeDelegateLockDeal(p);
      const id = dealIdOf(deal);
      const auth = await signOpen(p.escrow, p.delegate, deal, REF, "Lock");
      const tx = p.escrow.connect(p.other).lockWithSig(deal, REF, p.delegate.address, auth);
      await expect(tx)
        .to.emit(p.escrow, "DealOpened")
        .withArgs(id, p.acceptor.address, p.payee.address, tuple(deal), REF)
        .and.to.emit(p.escrow, "DealLockedByDelegate")
        .withArgs(id, p.delegate.address);
      await expectLockedByDelegateRightAfterOpened(p, tx, id, p.delegate.address);
      const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
      expect(f.free).to.equal(FLOAT - deal.amount);
      expect(f.locked).to.equal(deal.amount);
      expect(await p.escrow.lockExpiry(deal)).to.equal(deal.deadline + deal.releaseWindow + BigInt(RESOLUTION_WINDOW));
    });

    it("when the acceptor signed a salt with DELEGATE_SALT_PREFIX → it reverts EscrowInvalidSalt", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeDelegateLockDeal(p);
      const auth = await signOpen(p.escrow, p.acceptor, deal, REF, "Lock");
      await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, p.acceptor.address, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(deal.salt);
    });

    it("when the delegate signed a salt without DELEGATE_SALT_PREFIX → it reverts EscrowInvalidSalt", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p);
      const auth = await signOpen(p.escrow, p.delegate, deal, REF, "Lock");
      await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, p.delegate.address, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSalt")
        .withArgs(deal.salt);
    });

    it("when the delegate signed beyond its bounds → it reverts EscrowInvalidDeadline / EscrowInvalidReleaseWindow", async function () {
      const p = await loadFixture(withFloat);
      const t = (await time.latest()) + 10;
      const latest = t + MAX_DELEGATE_LOCK_DURATION;
      const late = await makeDelegateLockDeal(p, { deadline: BigInt(latest + DAY) });
      const lateAuth = await signOpen(p.escrow, p.delegate, late, REF, "Lock");
      await time.setNextBlockTimestamp(t);
      await expect(p.escrow.connect(p.other).lockWithSig(late, REF, p.delegate.address, lateAuth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidDeadline")
        .withArgs(latest + DAY, latest);

      const slow = await makeDelegateLockDeal(p, { releaseWindow: MAX_DELEGATE_RELEASE_WINDOW + 1 });
      const slowAuth = await signOpen(p.escrow, p.delegate, slow, REF, "Lock");
      await expect(p.escrow.connect(p.other).lockWithSig(slow, REF, p.delegate.address, slowAuth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidReleaseWindow")
        .withArgs(MAX_DELEGATE_RELEASE_WINDOW + 1);
    });

    it("when the signature is not the named signer's → it reverts EscrowInvalidSignature", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeLockDeal(p);
      const auth = await signOpen(p.escrow, p.other, deal, REF, "Lock");
      for (const signer of [p.acceptor, p.delegate]) {
        await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, signer.address, auth))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(dealIdOf(deal), signer.address);
      }
    });

    it("when the signer is neither the acceptor nor its delegate → it reverts EscrowUnauthorized", async function () {
      const p = await loadFixture(withFloat);
      for (const deal of [await makeLockDeal(p), await makeDelegateLockDeal(p)]) {
        const auth = await signOpen(p.escrow, p.other, deal, REF, "Lock");
        await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, p.other.address, auth))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(deal), p.other.address);
      }
    });

    it("when the signer is the zero address (an acceptor without a delegate) → it reverts EscrowInvalidSignature", async function () {
      const p = await loadFixture(withFloat);
      const acc2 = p.rest[0];
      await registerAcceptor(p, acc2);
      await depositFloat(p, FLOAT, acc2);
      const deal = await makeDelegateLockDeal(p, { payer: acc2.address });
      const auth = await signOpen(p.escrow, p.other, deal, REF, "Lock");
      const garbage = { expiry: auth.expiry, signature: ethers.zeroPadValue("0x", 65) };
      for (const a of [auth, garbage, { expiry: auth.expiry, signature: "0x" }]) {
        await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, ethers.ZeroAddress, a))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
          .withArgs(dealIdOf(deal), ethers.ZeroAddress);
      }
    });

    it("when the signature is an Open signature or covers another ref → it reverts EscrowInvalidSignature", async function () {
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

    it("when the signature has expired → it reverts EscrowSignatureExpired", async function () {
      const p = await loadFixture(withFloat);
      const deal = await makeDelegateLockDeal(p);
      const expiry = BigInt(await time.latest());
      const auth = await signOpen(p.escrow, p.delegate, deal, REF, "Lock", expiry);
      await expect(p.escrow.connect(p.other).lockWithSig(deal, REF, p.delegate.address, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowSignatureExpired")
        .withArgs(expiry);
    });

    describe("when the registry refuses the delegate's signed lock", function () {
      itIsRefusedByTheRegistry(withFloat, async (p) => {
        const deal = await makeDelegateLockDeal(p);
        const auth = await signOpen(p.escrow, p.delegate, deal, REF, "Lock");
        return () => p.escrow.connect(p.other).lockWithSig(deal, REF, p.delegate.address, auth);
      });
    });
  });

  describe("depositFloat", function () {
    describe("validations", function () {
      describe("when the registry refuses", function () {
        itIsRefusedByTheRegistry(deployProtocol, async (p) => {
          await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), FLOAT);
          const usdt = await p.usdt.getAddress();
          return () => p.escrow.connect(p.acceptor).depositFloat(usdt, FLOAT);
        });
      });

      it("when the token was never allowlisted or was disallowed → it reverts RegistryTokenNotAllowed", async function () {
        const p = await loadFixture(deployProtocol);
        await p.registry.connect(p.governor).setTokenAllowed(await p.dai.getAddress(), false);
        await expect(p.escrow.connect(p.acceptor).depositFloat(await p.dai.getAddress(), 1n))
          .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
          .withArgs(await p.dai.getAddress());
        const stray: TestERC20 = await ethers.deployContract("TestERC20", ["Stray", "STR", 6]);
        await expect(p.escrow.connect(p.acceptor).depositFloat(await stray.getAddress(), 1n))
          .to.be.revertedWithCustomError(p.registry, "RegistryTokenNotAllowed")
          .withArgs(await stray.getAddress());
      });

      it("when the caller is not an Active acceptor → it reverts RegistryAcceptorWrongStatus", async function () {
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

      it("when the acceptor's gateway was suspended and is reinstated → it deposits again", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
        await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), FLOAT);
        await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, FLOAT))
          .to.be.revertedWithCustomError(p.registry, "RegistryGatewaySuspended")
          .withArgs(p.gateway.address);
        await p.registry.connect(p.governor).reinstateGateway(p.gateway.address);
        await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, FLOAT))
          .to.emit(p.escrow, "FloatDeposited")
          .withArgs(p.acceptor.address, usdt, FLOAT);
      });

      it("when the amount is zero or above type(uint96).max → it reverts EscrowInvalidAmount", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        for (const amount of [0n, UINT96_MAX + 1n, 2n ** 128n, ethers.MaxUint256]) {
          await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, amount))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidAmount")
            .withArgs(amount);
        }
      });

      it("when the amount is type(uint96).max without the allowance → it passes the check and the token reverts (USDT burns the gas)", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        await expect(p.escrow.connect(p.acceptor).depositFloat(usdt, UINT96_MAX, { gasLimit: BURN_GAS_LIMIT })).to.be
          .reverted;
        expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(0n);
      });
    });

    describe("effects, events and transfers", function () {
      it("when every check passes → it credits the free float and emits FloatDeposited", async function () {
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

      it("when USDT charges a transfer fee → it credits exactly what arrived (below and at the fee cap)", async function () {
        const p = await loadFixture(deployProtocol);
        const usdt = await p.usdt.getAddress();
        await p.usdt.connect(p.admin).setParams(10, 5); // 0.1%, capped at 5 whole USDT
        expect(await p.usdt.maximumFee()).to.equal(USDT(5));
        let credited = 0n;
        // 1,000 USDT pays 1 USDT of fee; 10,000 USDT would pay 10 but the cap is 5
        for (const [amount, fee] of [
          [FLOAT, USDT(1)],
          [USDT(10_000), USDT(5)],
        ]) {
          await approveExactly(p.usdt, p.acceptor, await p.escrow.getAddress(), amount);
          const tx = p.escrow.connect(p.acceptor).depositFloat(usdt, amount);
          await expect(tx)
            .to.emit(p.escrow, "FloatDeposited")
            .withArgs(p.acceptor.address, usdt, amount - fee);
          await expect(tx).to.changeTokenBalances(
            p.usdt,
            [p.acceptor, p.escrow, p.admin],
            [-amount, amount - fee, fee],
          );
          credited += amount - fee;
          expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(credited);
        }
        // the escrow holds exactly the credited float
        expect(await p.usdt.balanceOf(await p.escrow.getAddress())).to.equal(credited);
      });

      it("when the token is DAI → it keeps floats per token", async function () {
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
      it("when the amount is zero → it reverts EscrowInvalidAmount", async function () {
        const p = await loadFixture(withFloat);
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(await p.usdt.getAddress(), 0))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidAmount")
          .withArgs(0);
      });

      it("when the amount is above the free float → it reverts EscrowInsufficientFloat (nobody else can draw on it)", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT + 1n))
          .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
          .withArgs(p.acceptor.address, usdt, FLOAT, FLOAT + 1n);
        // the delegate and strangers have no float
        for (const s of [p.delegate, p.other]) {
          await expect(p.escrow.connect(s).withdrawFloat(usdt, 1n))
            .to.be.revertedWithCustomError(p.escrow, "EscrowInsufficientFloat")
            .withArgs(s.address, usdt, 0, 1n);
        }
      });

      it("when part of the float is locked → it reverts EscrowInsufficientFloat above the free part and pays the free part", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        const deal = await makeDelegateLockDeal(p, { amount: USDT(600) });
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

      it("when the token is paused → it reverts without data and keeps the float", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        await p.usdt.connect(p.admin).pause();
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT)).to.be.revertedWithoutReason();
        expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(FLOAT);
      });
    });

    describe("effects, events and transfers", function () {
      it("when the amount is free → it pays the acceptor and emits FloatWithdrawn", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        const tx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, USDT(300));
        await expect(tx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, USDT(300));
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [USDT(300), -USDT(300)]);
        expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(FLOAT - USDT(300));
      });

      it("when the registry is paused → it still pays", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        await p.registry.connect(p.pauser).pause();
        const tx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT);
        await expect(tx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, FLOAT);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [FLOAT, -FLOAT]);
        expect((await p.escrow.floatOf(p.acceptor.address, usdt)).free).to.equal(0n);
      });

      it("when the acceptor and its gateway are suspended, and the gateway exits → it still pays", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        await p.registry.connect(p.governor).suspendAcceptor(p.acceptor.address);
        await p.registry.connect(p.governor).suspendGateway(p.gateway.address);
        await p.registry.connect(p.gateway).requestExit();
        const tx = p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT);
        await expect(tx).to.emit(p.escrow, "FloatWithdrawn").withArgs(p.acceptor.address, usdt, FLOAT);
        await expect(tx).to.changeTokenBalances(p.usdt, [p.acceptor, p.escrow], [FLOAT, -FLOAT]);
      });

      it("when the acceptor is blacklisted by USDT → it still pays (USDT checks only the sender, here the escrow)", async function () {
        const p = await loadFixture(withFloat);
        const usdt = await p.usdt.getAddress();
        await p.usdt.connect(p.admin).addBlackList(p.acceptor.address);
        await expect(p.escrow.connect(p.acceptor).withdrawFloat(usdt, FLOAT)).to.changeTokenBalances(
          p.usdt,
          [p.acceptor, p.escrow],
          [FLOAT, -FLOAT],
        );
      });
    });
  });

  describe("claimOwed", function () {
    it("when nothing is owed → it reverts EscrowNothingOwed", async function () {
      const p = await loadFixture(deployProtocol);
      const usdt = await p.usdt.getAddress();
      await expect(p.escrow.connect(p.gateway).claimOwed(usdt, p.gateway.address))
        .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
        .withArgs(usdt, p.gateway.address);
    });

    it("when the gateway is owed its fee → it pays the gateway, whoever calls, and resets the balance", async function () {
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

    it("when the token is paused → it reverts without data and keeps the amount owed; once unpaused it pays", async function () {
      const p = await loadFixture(withReleasedDeal);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).pause();
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.be.revertedWithoutReason();
      expect(await p.escrow.owed(usdt, p.gateway.address)).to.equal(p.fee);
      await p.usdt.connect(p.admin).unpause();
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.gateway.address)).to.changeTokenBalances(
        p.usdt,
        [p.gateway, p.escrow],
        [p.fee, -p.fee],
      );
    });

    it("when the registry is paused → it still pays", async function () {
      const p = await loadFixture(withReleasedDeal);
      const usdt = await p.usdt.getAddress();
      await p.registry.connect(p.pauser).pause();
      const tx = p.escrow.connect(p.gateway).claimOwed(usdt, p.gateway.address);
      await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.gateway.address, p.fee);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.gateway, p.escrow], [p.fee, -p.fee]);
    });

    it("when a release was deferred by a paused token → after the unpause it pays the payee in full", async function () {
      const p = await loadFixture(withPerformedDeal);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).pause();
      await expect(p.escrow.connect(p.payer).release(p.deal))
        .to.emit(p.escrow, "PayoutDeferred")
        .withArgs(dealIdOf(p.deal), usdt, p.payee.address, p.net);
      expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(p.net);
      await p.usdt.connect(p.admin).unpause();
      const tx = p.escrow.connect(p.other).claimOwed(usdt, p.payee.address);
      await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.payee.address, p.net);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.payee, p.other, p.escrow], [p.net, 0n, -p.net]);
      expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(0n);
    });

    it("when the escrow itself is blacklisted → the payout is owed, claimOwed reverts without data while listed and pays once unlisted", async function () {
      const p = await loadFixture(withPerformedDeal);
      const usdt = await p.usdt.getAddress();
      const escrow = await p.escrow.getAddress();
      await p.usdt.connect(p.admin).addBlackList(escrow);
      await expect(p.escrow.connect(p.payer).release(p.deal))
        .to.emit(p.escrow, "PayoutDeferred")
        .withArgs(dealIdOf(p.deal), usdt, p.payee.address, p.net);
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.payee.address)).to.be.revertedWithoutReason();
      expect(await p.escrow.owed(usdt, p.payee.address)).to.equal(p.net);

      await p.usdt.connect(p.admin).removeBlackList(escrow);
      const tx = p.escrow.connect(p.other).claimOwed(usdt, p.payee.address);
      await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(usdt, p.payee.address, p.net);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.payee, p.escrow], [p.net, -p.net]);
    });

    it("when the payee is blacklisted by USDT → the release pays it (frozen in its wallet) and nothing is owed", async function () {
      const p = await loadFixture(withPerformedDeal);
      const usdt = await p.usdt.getAddress();
      await p.usdt.connect(p.admin).addBlackList(p.payee.address);
      const tx = p.escrow.connect(p.payer).release(p.deal);
      await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
      await expect(tx).to.changeTokenBalances(p.usdt, [p.payee, p.escrow], [p.net, -p.net]);
      await expect(p.escrow.connect(p.other).claimOwed(usdt, p.payee.address))
        .to.be.revertedWithCustomError(p.escrow, "EscrowNothingOwed")
        .withArgs(usdt, p.payee.address);
    });

    it("when a payout needs more than PAYOUT_GAS → the release defers it and claimOwed pays it with all the gas given", async function () {
      const p = await loadFixture(deployProtocol);
      const hostile: HostileToken = await ethers.deployContract("HostileToken", ["Heavy", "HVY"]);
      const token = await hostile.getAddress();
      await p.registry.connect(p.governor).setTokenAllowed(token, true);
      await hostile.mint(p.payer.address, USDT(1_000));
      const deal = await makeDeal(p, { token });
      await hostile.connect(p.payer).approve(await p.escrow.getAddress(), deal.amount);
      await p.escrow.connect(p.payer).open(deal, REF);
      await p.escrow.connect(p.payee).perform(deal);
      // Every transfer of the token first runs a call that burns all the gas it gets (USDT's `assert` on a sender
      // without balance): under PAYOUT_GAS nothing is left for the transfer itself.
      await hostile.arm(
        await p.usdt.getAddress(),
        p.usdt.interface.encodeFunctionData("transfer", [p.other.address, 1n]),
      );
      const net = deal.amount - feeOf(deal.amount, deal.feeBps);
      await expect(p.escrow.connect(p.payer).release(deal))
        .to.emit(p.escrow, "PayoutDeferred")
        .withArgs(dealIdOf(deal), token, p.payee.address, net);
      expect(await p.escrow.owed(token, p.payee.address)).to.equal(net);

      const tx = p.escrow.connect(p.other).claimOwed(token, p.payee.address, { gasLimit: 8_000_000 });
      await expect(tx).to.emit(p.escrow, "OwedClaimed").withArgs(token, p.payee.address, net);
      await expect(tx).to.changeTokenBalances(hostile, [p.payee, p.escrow], [net, -net]);
      const receipt = await (await tx).wait();
      expect(receipt!.gasUsed).to.be.greaterThan(BigInt(PAYOUT_GAS));
    });
  });

  describe("views", function () {
    it("getDeal of an unknown id is zero", async function () {
      const p = await loadFixture(deployProtocol);
      const rec = await p.escrow.getDeal(ethers.id("nothing here"));
      expect(rec.commitment).to.equal(ethers.zeroPadValue("0x", 25));
      expect(rec.since).to.equal(0n);
      expect(rec.status).to.equal(Status.None);
      expect(rec.flags).to.equal(0n);
    });

    it("getDeal returns flags: 0 after open, Flags.PayerReleased after an early release (status still Open)", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const id = await openDeal(p, deal);
      const before = await p.escrow.getDeal(id);
      expect(before.status).to.equal(Status.Open);
      expect(before.flags).to.equal(0n);
      await expect(p.escrow.connect(p.payer).release(deal)).to.emit(p.escrow, "DealReleaseApproved").withArgs(id);
      const after = await p.escrow.getDeal(id);
      expect(after.status).to.equal(Status.Open);
      expect(after.flags).to.equal(BigInt(Flags.PayerReleased));
      expect(after.commitment).to.equal(before.commitment);
      expect(after.since).to.equal(before.since);
    });

    it("floatOf and owed of unknown accounts are zero", async function () {
      const p = await loadFixture(deployProtocol);
      const f = await p.escrow.floatOf(p.other.address, await p.usdt.getAddress());
      expect(f.free).to.equal(0n);
      expect(f.locked).to.equal(0n);
      expect(await p.escrow.owed(await p.usdt.getAddress(), p.other.address)).to.equal(0n);
    });

    it("hashDeal equals TypedDataEncoder.hashStruct('Deal', ...) and changes with every field", async function () {
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

    it("hashTypedData(structHash) equals the EIP-712 digest ethers computes for Open, Lock and DealAction", async function () {
      const p = await loadFixture(deployProtocol);
      const domain = await escrowDomain(p.escrow);
      const deal = await makeDeal(p);
      const lockDeal = await makeDelegateLockDeal(p);
      const dealId = dealIdOf(deal);
      const messages: [string, Record<string, typeof DEAL_TYPE>, Record<string, unknown>][] = [
        ["Open", OPEN_TYPES, { deal, ref: REF, expiry: 1_234_567n }],
        ["Lock", LOCK_TYPES, { deal: lockDeal, ref: REF2, expiry: 99n }],
        ["Lock", LOCK_TYPES, { deal, ref: REF, expiry: 1_234_567n }],
        ...Object.values(Action).map((action): [string, Record<string, typeof DEAL_TYPE>, Record<string, unknown>] => [
          "DealAction",
          ACTION_TYPES,
          { dealId, action, expiry: ethers.MaxUint256 },
        ]),
      ];
      const digests = new Set<string>();
      for (const [primary, types, value] of messages) {
        const hashStruct = ethers.TypedDataEncoder.hashStruct(primary, types, value);
        const expected = ethers.TypedDataEncoder.hash(domain, types, value);
        expect(await p.escrow.hashTypedData(hashStruct), primary).to.equal(expected);
        digests.add(expected);
      }
      // Open and Lock over the same deal, ref and expiry differ; so does every action
      expect(digests.size).to.equal(messages.length);
    });

    it("hashTypedData is the digest the signature helpers sign (signOpen, signAction)", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const expiry = 1_234_567n;
      const openHash = ethers.TypedDataEncoder.hashStruct("Open", OPEN_TYPES, { deal, ref: REF, expiry });
      const openAuth = await signOpen(p.escrow, p.payer, deal, REF, "Open", expiry);
      expect(ethers.recoverAddress(await p.escrow.hashTypedData(openHash), openAuth.signature)).to.equal(
        p.payer.address,
      );
      const dealId = dealIdOf(deal);
      const actionHash = ethers.TypedDataEncoder.hashStruct("DealAction", ACTION_TYPES, {
        dealId,
        action: Action.Release,
        expiry,
      });
      const actionAuth = await signAction(p.escrow, p.payer, dealId, Action.Release, expiry);
      expect(ethers.recoverAddress(await p.escrow.hashTypedData(actionHash), actionAuth.signature)).to.equal(
        p.payer.address,
      );
    });

    it("dealIdOf matches the off-chain computation", async function () {
      const p = await loadFixture(deployProtocol);
      for (const [funder, salt] of [
        [p.payer.address, ethers.ZeroHash],
        [p.acceptor.address, ethers.id("salt")],
        [p.acceptor.address, nextDelegateSalt()],
      ]) {
        expect(await p.escrow.dealIdOf(funder, salt)).to.equal(dealIdOf({ payer: funder, salt }));
      }
    });

    describe("lockExpiry", function () {
      it("when the deal is a delegate's lock (OnRamp, prefixed salt) → deadline + releaseWindow + resolutionWindow", async function () {
        const p = await loadFixture(deployProtocol);
        for (const releaseWindow of [MIN_RELEASE_WINDOW, MAX_DELEGATE_RELEASE_WINDOW]) {
          const deal = await makeDelegateLockDeal(p, { releaseWindow });
          expect(await p.escrow.lockExpiry(deal)).to.equal(
            deal.deadline + BigInt(releaseWindow) + BigInt(RESOLUTION_WINDOW),
          );
        }
      });

      it("when the deal is the acceptor's lock (salt without the prefix) → 0", async function () {
        const p = await loadFixture(deployProtocol);
        expect(await p.escrow.lockExpiry(await makeLockDeal(p))).to.equal(0n);
      });

      it("when the deal is a Payment or an OffRamp (even with a prefixed salt) → 0", async function () {
        const p = await loadFixture(deployProtocol);
        for (const deal of [
          await makeDeal(p),
          await makeDeal(p, { salt: nextDelegateSalt() }),
          await makeOffRampDeal(p),
          await makeOffRampDeal(p, { salt: nextDelegateSalt() }),
        ]) {
          expect(await p.escrow.lockExpiry(deal)).to.equal(0n);
        }
      });
    });
  });

  describe("out-of-range calldata on an existing deal", function () {
    it("when perform's deal has a word with out-of-range high bits → it reverts EscrowUnknownDeal (the commitment check), never performs", async function () {
      const p = await loadFixture(deployProtocol);
      const deal = await makeDeal(p);
      const id = await openDeal(p, deal);
      const escrow = await p.escrow.getAddress();
      for (const [field, word] of dirtyWords(deal)) {
        const data = dirtyCalldata(p, "perform", [deal], field, word);
        // the custom error proves the call reached the commitment check rather than failing elsewhere
        await expect(p.payee.sendTransaction({ to: escrow, data }), field)
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal")
          .withArgs(id);
      }
      expect(await statusOf(p, deal)).to.equal(Status.Open);
      // the clean deal performs
      await p.payee.sendTransaction({ to: escrow, data: p.escrow.interface.encodeFunctionData("perform", [deal]) });
      expect(await statusOf(p, deal)).to.equal(Status.Performed);
    });
  });

  describe("multicall", function () {
    it("when the payer batches several opens → it opens them all in one transaction", async function () {
      const p = await loadFixture(deployProtocol);
      const deals = [
        await makeDeal(p),
        await makeDeal(p, { amount: USDT(50), payee: p.other.address }),
        await makeDeal(p, { amount: USDT(7), autoRelease: true }),
      ];
      const total = deals.reduce((s, d) => s + d.amount, 0n);
      await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), total);
      const refs = [REF, REF2, ethers.id("order #3")];
      const calls = deals.map((d, i) => p.escrow.interface.encodeFunctionData("open", [d, refs[i]]));
      const tx = p.escrow.connect(p.payer).multicall(calls);
      for (const [i, d] of deals.entries()) {
        await expect(tx)
          .to.emit(p.escrow, "DealOpened")
          .withArgs(dealIdOf(d), p.payer.address, d.payee, tuple(d), refs[i]);
      }
      await expect(tx).to.changeTokenBalances(p.usdt, [p.payer, p.escrow], [-total, total]);
      for (const d of deals) expect(await statusOf(p, d)).to.equal(Status.Open);
    });

    it("when the delegate batches its own open and a lock for the acceptor → both land; the lock emits DealLockedByDelegate", async function () {
      const p = await loadFixture(withFloat);
      const own = await makeDeal(p, { payer: p.delegate.address });
      const lock = await makeDelegateLockDeal(p, { amount: USDT(300) });
      await approveFor(p, own, p.delegate);
      const calls = [
        p.escrow.interface.encodeFunctionData("open", [own, REF]),
        p.escrow.interface.encodeFunctionData("lock", [lock, REF2]),
      ];
      const tx = p.escrow.connect(p.delegate).multicall(calls);
      await expect(tx)
        .to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(own), p.delegate.address, p.payee.address, tuple(own), REF)
        .and.to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(lock), p.acceptor.address, p.payee.address, tuple(lock), REF2)
        .and.to.emit(p.escrow, "DealLockedByDelegate")
        .withArgs(dealIdOf(lock), p.delegate.address);
      await expectLockedByDelegateRightAfterOpened(p, tx, dealIdOf(lock), p.delegate.address);
      await expect(tx).to.changeTokenBalances(p.usdt, [p.delegate, p.escrow], [-own.amount, own.amount]);
      const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
      expect(f.locked).to.equal(USDT(300));
      expect(await statusOf(p, own)).to.equal(Status.Open);
      expect(await statusOf(p, lock)).to.equal(Status.Open);
    });

    it("when one call of the batch fails → the whole batch reverts, and msg.sender is kept for every call", async function () {
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
      expect(await statusOf(p, d1)).to.equal(Status.None);

      const single = [p.escrow.interface.encodeFunctionData("open", [d1, REF])];
      await expect(p.escrow.connect(p.other).multicall(single))
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
        .withArgs(dealIdOf(d1), p.other.address);
    });
  });
});
