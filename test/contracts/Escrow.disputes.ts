import { expect } from "chai";
import { ethers, network } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionResponse } from "ethers";
import type { ERC1271Wallet } from "../../typechain-types";
import {
  reachState,
  Action,
  DAY,
  GATEWAY_FEE_BPS,
  MIN_BOND,
  RELEASE_WINDOW,
  RESOLUTION_WINDOW,
  Status,
  UNBONDING_DELAY,
  USDT,
  approveExactly,
  dealIdOf,
  depositFloat,
  deployProtocol,
  escrowDomain,
  feeOf,
  loadFixture,
  makeDeal,
  nextSalt,
  openDeal,
  signAction,
  signEvidence,
  signResolution,
  signSplit,
  type Deal,
  KINDS,
  openKind,
  type DealCtx,
  type KindName,
} from "./fixtures";

/*//////////////////////////////////////////////////////////////
                        FIXTURE AND HELPERS
//////////////////////////////////////////////////////////////*/

/** Free float the acceptor holds in every test. */
const FLOAT = USDT(10_000);
/** Default deal amount (makeDeal). */
const AMOUNT = USDT(100);
/** A payee share whose fee does not divide evenly: 33.333333 USDT × 50 bps = 0.166666665 → 0.166666. */
const PARTIAL = 33_333_333n;
const REASONS = ethers.id("ruling: goods arrived damaged, 60/40");
const CONTENT = ethers.id("photo of the damaged parcel");
const URI = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

/** The protocol plus: a USDT float for the acceptor, a second active gateway, and two ERC-1271 wallets (one owned
 * by the payer and holding 1,000 USDT, one owned by the payee). */
async function base() {
  const p = await deployProtocol();
  await depositFloat(p, FLOAT);
  await approveExactly(p.usdt, p.gateway2, await p.registry.getAddress(), MIN_BOND);
  await p.registry.connect(p.gateway2).registerGateway(MIN_BOND, GATEWAY_FEE_BPS, ethers.id("gateway2 terms"));
  await p.registry.connect(p.governor).approveGateway(p.gateway2.address, 300);
  const payerWallet = (await ethers.deployContract("ERC1271Wallet", [p.payer.address])) as unknown as ERC1271Wallet;
  const payeeWallet = (await ethers.deployContract("ERC1271Wallet", [p.payee.address])) as unknown as ERC1271Wallet;
  await p.usdt.connect(p.admin).mint(await payerWallet.getAddress(), USDT(1_000));
  return { ...p, payerWallet, payeeWallet };
}
type P = Awaited<ReturnType<typeof base>>;

type Ctx = DealCtx<P>;

type LiveState = "Open" | "OpenPastDeadline" | "OpenReleased" | "Performed" | "Disputed";
type FinalState = "Released" | "Refunded" | "Resolved" | "Split";
type State = LiveState | FinalState;
const FINAL_STATES: FinalState[] = ["Released", "Refunded", "Resolved", "Split"];
const FINAL_STATUS: Record<FinalState, number> = {
  Released: Status.Released,
  Refunded: Status.Refunded,
  Resolved: Status.Resolved,
  Split: Status.Split,
};

/** Drives an open deal to `state` (fixtures' reachState, rulings carrying this file's REASONS). */
const reach = (c: Ctx, state: State): Promise<void> => reachState(c, state, REASONS);

/** Loads the fixture, opens a deal of `kind` and drives it to `state`. */
async function setup(kind: KindName = "Payment", state: State = "Open", over: Partial<Deal> = {}): Promise<Ctx> {
  const p = await loadFixture(base);
  const c = await openKind(p, kind, over);
  await reach(c, state);
  return c;
}

/** Splits `c` with both parties' fresh signatures, submitted by a stranger. */
async function split(c: Ctx, payeeAmount: bigint): Promise<ContractTransactionResponse> {
  const payerAuth = await signSplit(c.p.escrow, c.payer, c.id, payeeAmount);
  const payeeAuth = await signSplit(c.p.escrow, c.payee, c.id, payeeAmount);
  return c.p.escrow.connect(c.p.other).splitWithSigs(c.deal, payeeAmount, payerAuth, payeeAuth);
}

async function tsOf(tx: ContractTransactionResponse): Promise<bigint> {
  const rc = await tx.wait();
  return BigInt((await ethers.provider.getBlock(rc!.blockNumber))!.timestamp);
}

async function openDisputes(p: P, gw = p.gateway.address): Promise<bigint> {
  return (await p.registry.getGateway(gw)).openDisputes;
}

interface Payout {
  payeeNet: bigint;
  fee: bigint;
  refund: bigint;
}

/** The payout of giving the payee `payeeAmount` of `c`'s deal, with or without the gateway's fee. */
function payoutOf(c: Ctx, payeeAmount: bigint, withFee = true): Payout {
  const fee = withFee ? feeOf(payeeAmount, c.deal.feeBps) : 0n;
  return { payeeNet: payeeAmount - fee, fee, refund: c.deal.amount - payeeAmount };
}

/**
 * Runs a settling call and checks every leg: the payee's wallet gets `payeeNet`, the fee is owed to the gateway,
 * the refund goes to the payer's wallet (or the acceptor's free float for OnRamp, whose locked float drops by the
 * amount), nobody else is paid or owed, no payout is deferred, and the record is `status` since the tx's block.
 */
async function expectPayout(
  c: Ctx,
  send: () => Promise<ContractTransactionResponse>,
  e: Payout,
  status: number,
): Promise<ContractTransactionResponse> {
  expect(e.payeeNet + e.fee + e.refund, "the expected legs add up to the amount").to.equal(c.deal.amount);
  const { p, deal } = c;
  const onRamp = c.kind === "OnRamp";
  const owedAccounts = [deal.gateway, deal.payer, deal.payee];
  const owedBefore = await Promise.all(owedAccounts.map((a) => p.escrow.owed(deal.token, a)));
  const floatBefore = await p.escrow.floatOf(p.acceptor.address, deal.token);
  const commitment = (await p.escrow.getDeal(c.id)).commitment;

  const tx = await send();

  const escrowLeg = e.payeeNet + (onRamp ? 0n : e.refund);
  await expect(tx).to.changeTokenBalances(
    p.usdt,
    [deal.payer, deal.payee, deal.gateway, p.other, await p.escrow.getAddress()],
    [onRamp ? 0n : e.refund, e.payeeNet, 0n, 0n, -escrowLeg],
  );
  await expect(tx).not.to.emit(p.escrow, "PayoutDeferred");
  const owedAfter = await Promise.all(owedAccounts.map((a) => p.escrow.owed(deal.token, a)));
  expect(owedAfter).to.deep.equal([owedBefore[0] + e.fee, owedBefore[1], owedBefore[2]]);
  const floatAfter = await p.escrow.floatOf(p.acceptor.address, deal.token);
  expect(floatAfter.free - floatBefore.free, "acceptor's free float").to.equal(onRamp ? e.refund : 0n);
  expect(floatBefore.locked - floatAfter.locked, "acceptor's locked float").to.equal(onRamp ? deal.amount : 0n);
  const rec = await p.escrow.getDeal(c.id);
  expect([rec.commitment, rec.since, rec.status, rec.flags]).to.deep.equal([commitment, await tsOf(tx), status, 0n]);
  return tx;
}

type Auth = { expiry: bigint; signature: string };

/** A signature over the same digest with s' = n − s and the other v: the same signer, a "different" signature
 * that OpenZeppelin's ECDSA refuses (high s). */
function malleate(sig: string): string {
  const s = ethers.Signature.from(sig);
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const highS = ethers.toBeHex(n - BigInt(s.s), 32);
  return ethers.concat([s.r, highS, s.v === 27 ? "0x1c" : "0x1b"]);
}

/** EIP-712 types of the three v1.1 messages (for signing under another domain). */
const TYPES: Record<string, { name: string; type: string }[]> = {
  Split: [
    { name: "dealId", type: "bytes32" },
    { name: "payeeAmount", type: "uint96" },
    { name: "expiry", type: "uint256" },
  ],
  Resolution: [
    { name: "dealId", type: "bytes32" },
    { name: "payeeAmount", type: "uint96" },
    { name: "reasons", type: "bytes32" },
    { name: "expiry", type: "uint256" },
  ],
  Evidence: [
    { name: "dealId", type: "bytes32" },
    { name: "contentHash", type: "bytes32" },
    { name: "uri", type: "string" },
    { name: "expiry", type: "uint256" },
  ],
};

/** Signs `primary` with `msg` under the escrow's domain with `verifyingContract` replaced. */
async function signForContract(
  p: P,
  key: HardhatEthersSigner,
  verifyingContract: string,
  primary: string,
  msg: Record<string, unknown>,
  expiry: bigint,
): Promise<Auth> {
  const domain = { ...(await escrowDomain(p.escrow)), verifyingContract };
  const signature = await key.signTypedData(domain, { [primary]: TYPES[primary]! }, { ...msg, expiry });
  return { expiry, signature };
}

async function later(seconds = DAY): Promise<bigint> {
  return BigInt((await time.latest()) + seconds);
}

/*//////////////////////////////////////////////////////////////
            SHARED BEHAVIOUR: SIGNATURE VALIDATION
//////////////////////////////////////////////////////////////*/

/** One signed call, set up so that it succeeds with correct signatures. */
interface SignedCase {
  c: Ctx;
  /** The correct message (without expiry); `dealId` and the bound fields. */
  msg: Record<string, unknown>;
  /** Another value of each bound field. */
  other: Record<string, unknown>;
  /** The key that signs for each role, and the address the call checks for it. */
  key: Record<string, HardhatEthersSigner>;
  address: Record<string, string>;
  /** Signs `msg` with `key` (the call's own typed data, under the escrow's domain). */
  sign: (key: HardhatEthersSigner, msg: Record<string, unknown>, expiry?: bigint) => Promise<Auth>;
  /** Submits the call (by a stranger) with the roles' signatures, in `roles` order. */
  submit: (auths: Auth[]) => Promise<ContractTransactionResponse>;
  /** Asserts the call's success event. */
  succeeded: (tx: ContractTransactionResponse) => Promise<void>;
}

interface SignedCall {
  /** The EIP-712 primary type. */
  primary: string;
  /** The roles whose signatures the call checks, in the order it checks them. */
  roles: string[];
  /** The fields besides dealId the signature binds. */
  bound: string[];
  setup: () => Promise<SignedCase>;
}

/**
 * `it` blocks for every way a signature of `call` can be wrong, for each role in turn (the other roles' signatures
 * valid), and for the two ways it is right (submitted by anyone; used at its expiry second).
 */
function itChecksSignatures(call: SignedCall): void {
  async function authsWith(s: SignedCase, role: string, bad: Auth): Promise<Auth[]> {
    return Promise.all(call.roles.map((r) => (r === role ? bad : s.sign(s.key[r]!, s.msg))));
  }

  async function expectInvalid(s: SignedCase, role: string, bad: Auth): Promise<void> {
    await expect(s.submit(await authsWith(s, role, bad)))
      .to.be.revertedWithCustomError(s.c.p.escrow, "EscrowInvalidSignature")
      .withArgs(s.c.id, s.address[role]);
  }

  it("when every signature is valid and a stranger submits → it succeeds", async function () {
    const s = await call.setup();
    await s.succeeded(await s.submit(await Promise.all(call.roles.map((r) => s.sign(s.key[r]!, s.msg)))));
  });

  it("when a signature is used at its expiry second → it succeeds (expiry is inclusive)", async function () {
    const s = await call.setup();
    const expiry = await later(100);
    const auths = await Promise.all(call.roles.map((r) => s.sign(s.key[r]!, s.msg, expiry)));
    await time.setNextBlockTimestamp(expiry);
    await s.succeeded(await s.submit(auths));
  });

  for (const role of call.roles) {
    describe(`the ${role}'s signature`, function () {
      it(`when it is missing (empty bytes) → it reverts EscrowInvalidSignature(dealId, ${role})`, async function () {
        const s = await call.setup();
        await expectInvalid(s, role, { expiry: await later(), signature: "0x" });
      });

      it(`when another key signed it → it reverts EscrowInvalidSignature(dealId, ${role})`, async function () {
        const s = await call.setup();
        await expectInvalid(s, role, await s.sign(s.c.p.other, s.msg));
      });

      it("when it has expired → it reverts EscrowSignatureExpired(expiry)", async function () {
        const s = await call.setup();
        const expiry = BigInt(await time.latest());
        const auths = await authsWith(s, role, await s.sign(s.key[role]!, s.msg, expiry));
        await expect(s.submit(auths))
          .to.be.revertedWithCustomError(s.c.p.escrow, "EscrowSignatureExpired")
          .withArgs(expiry);
      });

      it(`when it is over another deal → it reverts EscrowInvalidSignature(dealId, ${role})`, async function () {
        const s = await call.setup();
        const otherId = dealIdOf({ payer: s.c.deal.payer, salt: nextSalt() });
        await expectInvalid(s, role, await s.sign(s.key[role]!, { ...s.msg, dealId: otherId }));
      });

      for (const field of call.bound) {
        it(`when it is over another ${field} → it reverts EscrowInvalidSignature(dealId, ${role})`, async function () {
          const s = await call.setup();
          await expectInvalid(s, role, await s.sign(s.key[role]!, { ...s.msg, [field]: s.other[field] }));
        });
      }

      it(`when it is of another type (a DealAction Release) → it reverts EscrowInvalidSignature(dealId, ${role})`, async function () {
        const s = await call.setup();
        await expectInvalid(s, role, await signAction(s.c.p.escrow, s.key[role]!, s.c.id, Action.Release));
      });

      it(`when it is for another contract (EIP-712 domain) → it reverts EscrowInvalidSignature(dealId, ${role})`, async function () {
        const s = await call.setup();
        const elsewhere = await s.c.p.registry.getAddress();
        await expectInvalid(
          s,
          role,
          await signForContract(s.c.p, s.key[role]!, elsewhere, call.primary, s.msg, await later()),
        );
      });

      it(`when it is a malleated (high-s) copy of a valid one → it reverts EscrowInvalidSignature(dealId, ${role})`, async function () {
        const s = await call.setup();
        const good = await s.sign(s.key[role]!, s.msg);
        await expectInvalid(s, role, { expiry: good.expiry, signature: malleate(good.signature) });
      });
    });
  }
}

/*//////////////////////////////////////////////////////////////
                              TESTS
//////////////////////////////////////////////////////////////*/

describe("Escrow — disputes v1.1: split by agreement, signed rulings, evidence", function () {
  /*------------------------------------------------------------
                          splitWithSigs
  ------------------------------------------------------------*/
  describe("splitWithSigs", function () {
    describe("validations", function () {
      it("when the deal was never opened → it reverts EscrowUnknownDeal", async function () {
        const p = await loadFixture(base);
        const deal = await makeDeal(p);
        const c: Ctx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payer, payee: p.payee };
        await expect(split(c, PARTIAL)).to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal").withArgs(c.id);
      });

      it("when a field differs from the opened deal (amount + 1) → it reverts EscrowUnknownDeal", async function () {
        const c = await setup("Payment", "Disputed");
        await expect(split({ ...c, deal: { ...c.deal, amount: c.deal.amount + 1n } }, PARTIAL))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnknownDeal")
          .withArgs(c.id);
      });

      for (const state of FINAL_STATES) {
        it(`when the deal is final (${state}) → it reverts EscrowWrongStatus(dealId, ${state})`, async function () {
          const c = await setup("Payment", state);
          await expect(split(c, PARTIAL))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, FINAL_STATUS[state]);
        });
      }

      it("when payeeAmount > amount (both signed it) → it reverts EscrowPayeeAmountTooHigh(dealId, payeeAmount, amount)", async function () {
        const c = await setup("Payment", "Disputed");
        await expect(split(c, AMOUNT + 1n))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowPayeeAmountTooHigh")
          .withArgs(c.id, AMOUNT + 1n, AMOUNT);
      });

      it("when the same signatures are submitted again → it reverts EscrowWrongStatus(dealId, Split)", async function () {
        const c = await setup("Payment", "Disputed");
        const payerAuth = await signSplit(c.p.escrow, c.payer, c.id, PARTIAL);
        const payeeAuth = await signSplit(c.p.escrow, c.payee, c.id, PARTIAL);
        await c.p.escrow.connect(c.p.other).splitWithSigs(c.deal, PARTIAL, payerAuth, payeeAuth);
        await expect(c.p.escrow.connect(c.p.other).splitWithSigs(c.deal, PARTIAL, payerAuth, payeeAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Split);
      });
    });

    describe("signatures", function () {
      itChecksSignatures({
        primary: "Split",
        roles: ["payer", "payee"],
        bound: ["payeeAmount"],
        setup: async () => {
          const c = await setup("Payment", "Disputed");
          return {
            c,
            msg: { dealId: c.id, payeeAmount: PARTIAL },
            other: { payeeAmount: PARTIAL + 1n },
            key: { payer: c.payer, payee: c.payee },
            address: { payer: c.deal.payer, payee: c.deal.payee },
            sign: (key, m, expiry) =>
              signSplit(c.p.escrow, key, String(m.dealId), BigInt(String(m.payeeAmount)), expiry),
            submit: ([payerAuth, payeeAuth]) =>
              c.p.escrow.connect(c.p.other).splitWithSigs(c.deal, PARTIAL, payerAuth!, payeeAuth!),
            succeeded: async (tx) => {
              const { payeeNet, fee, refund } = payoutOf(c, PARTIAL);
              await expect(tx).to.emit(c.p.escrow, "DealSplit").withArgs(c.id, payeeNet, fee, refund);
            },
          };
        },
      });
    });

    describe("ERC-1271 wallets as parties", function () {
      /** A payment from `payerWallet` (or the payer EOA) to `payeeWallet` (or the payee EOA), performed. */
      async function walletDeal(payerIsWallet: boolean, payeeIsWallet: boolean) {
        const p = await loadFixture(base);
        const escrow = await p.escrow.getAddress();
        const payer = payerIsWallet ? await p.payerWallet.getAddress() : p.payer.address;
        const payee = payeeIsWallet ? await p.payeeWallet.getAddress() : p.payee.address;
        const deal = await makeDeal(p, { payer, payee });
        if (payerIsWallet) {
          const usdt = await p.usdt.getAddress();
          const approve = p.usdt.interface.encodeFunctionData("approve", [escrow, deal.amount]);
          await p.payerWallet.connect(p.payer).execute(usdt, 0, approve);
          await p.payerWallet
            .connect(p.payer)
            .execute(escrow, 0, p.escrow.interface.encodeFunctionData("open", [deal, ethers.ZeroHash]));
        } else {
          await openDeal(p, deal);
        }
        if (payeeIsWallet) {
          await p.payeeWallet
            .connect(p.payee)
            .execute(escrow, 0, p.escrow.interface.encodeFunctionData("perform", [deal]));
        } else {
          await p.escrow.connect(p.payee).perform(deal);
        }
        const c: Ctx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payer, payee: p.payee };
        return c;
      }

      const combos: [boolean, boolean, string][] = [
        [true, false, "the payer is a wallet and its owner signed"],
        [false, true, "the payee is a wallet and its owner signed"],
        [true, true, "both are wallets and their owners signed"],
      ];
      for (const [payerIsWallet, payeeIsWallet, name] of combos) {
        it(`when ${name} → it splits`, async function () {
          // The wallets' owners are the payer and payee EOAs, so `split` signs with the owners' keys.
          const c = await walletDeal(payerIsWallet, payeeIsWallet);
          await expectPayout(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
        });
      }

      it("when the payer is a wallet and another key signed for it → it reverts EscrowInvalidSignature(dealId, wallet)", async function () {
        const c = await walletDeal(true, false);
        const payerAuth = await signSplit(c.p.escrow, c.p.other, c.id, PARTIAL);
        const payeeAuth = await signSplit(c.p.escrow, c.payee, c.id, PARTIAL);
        await expect(c.p.escrow.splitWithSigs(c.deal, PARTIAL, payerAuth, payeeAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.deal.payer);
      });

      it("when the payee is a wallet and another key signed for it → it reverts EscrowInvalidSignature(dealId, wallet)", async function () {
        const c = await walletDeal(false, true);
        const payerAuth = await signSplit(c.p.escrow, c.payer, c.id, PARTIAL);
        const payeeAuth = await signSplit(c.p.escrow, c.p.other, c.id, PARTIAL);
        await expect(c.p.escrow.splitWithSigs(c.deal, PARTIAL, payerAuth, payeeAuth))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowInvalidSignature")
          .withArgs(c.id, c.deal.payee);
      });
    });

    describe("effects and transfers", function () {
      const states: LiveState[] = ["Open", "OpenPastDeadline", "OpenReleased", "Performed", "Disputed"];
      const shares: [string, (amount: bigint) => bigint][] = [
        ["0 (all back)", () => 0n],
        ["33.333333 (fee rounds down)", () => PARTIAL],
        ["the whole amount (nothing back)", (amount) => amount],
      ];
      for (const kind of KINDS) {
        for (const state of states) {
          for (const [shareName, share] of shares) {
            const refundTo = kind === "OnRamp" ? "the acceptor's free float (locked drops by amount)" : "the payer";
            it(`${kind}, ${state}, payeeAmount ${shareName} → Split; DealSplit; payee gets payeeAmount − fee, fee owed to the gateway, the rest to ${refundTo}`, async function () {
              const c = await setup(kind, state);
              const payeeAmount = share(c.deal.amount);
              const e = payoutOf(c, payeeAmount);
              const tx = await expectPayout(c, () => split(c, payeeAmount), e, Status.Split);
              await expect(tx).to.emit(c.p.escrow, "DealSplit").withArgs(c.id, e.payeeNet, e.fee, e.refund);
            });
          }
        }
      }

      it("fee = floor(payeeAmount × feeBps / 10,000): 33.333333 USDT at 50 bps → 0.166666 USDT", async function () {
        const c = await setup("Payment", "Performed");
        await expect(split(c, PARTIAL))
          .to.emit(c.p.escrow, "DealSplit")
          .withArgs(c.id, 33_166_667n, 166_666n, 66_666_667n);
      });

      it("when the gateway changed its fee since the open → the deal's feeBps still applies", async function () {
        const c = await setup("Payment", "Disputed");
        await c.p.registry.connect(c.p.gateway).setGatewayFee(250);
        await expectPayout(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
      });
    });

    describe("the gateway's dispute counter", function () {
      it("when the deal is a dispute the gateway holds → its open-dispute counter drops by 1", async function () {
        const c = await setup("Payment", "Disputed");
        const held = await openKind(c.p, "OnRamp");
        await reach(held, "Disputed");
        expect(await openDisputes(c.p)).to.equal(2n);
        await expect(split(c, PARTIAL)).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.deal.gateway, 1n);
        expect(await openDisputes(c.p)).to.equal(1n);
      });

      it("when the payee raised the held dispute after the release window → the counter drops by 1 too", async function () {
        const c = await setup("Payment", "Performed");
        await time.increase(RELEASE_WINDOW + 1);
        await c.p.escrow.connect(c.payee).dispute(c.deal);
        expect(await openDisputes(c.p)).to.equal(1n);
        await expectPayout(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
        expect(await openDisputes(c.p)).to.equal(0n);
      });

      it("when the deal is a dispute the gateway does not hold (raised while it was exiting) → the counter does not move", async function () {
        const held = await setup("Payment", "Disputed");
        const c = await openKind(held.p, "Payment");
        await reach(c, "Performed");
        await c.p.registry.connect(c.p.gateway).requestExit();
        await expect(c.p.escrow.connect(c.payer).dispute(c.deal))
          .to.emit(c.p.escrow, "DealDisputed")
          .withArgs(c.id, c.deal.payer, false);
        expect(await openDisputes(c.p)).to.equal(1n);
        await expect(split(c, PARTIAL)).not.to.emit(c.p.registry, "GatewayDisputesChanged");
        expect(await openDisputes(c.p)).to.equal(1n);
      });

      for (const state of ["Open", "Performed"] as const) {
        it(`when the deal is ${state} → the counter does not move`, async function () {
          const held = await setup("Payment", "Disputed");
          const c = await openKind(held.p, "Payment");
          await reach(c, state);
          await expect(split(c, PARTIAL)).not.to.emit(c.p.registry, "GatewayDisputesChanged");
          expect(await openDisputes(c.p)).to.equal(1n);
        });
      }

      it("when the registry refuses to uncount the held dispute → DisputeCountSkipped(dealId, gateway, false) and it splits", async function () {
        const c = await setup("Payment", "Disputed");
        await c.p.registry
          .connect(c.p.admin)
          .revokeRole(await c.p.registry.ESCROW_ROLE(), await c.p.escrow.getAddress());
        const tx = await expectPayout(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
        await expect(tx).to.emit(c.p.escrow, "DisputeCountSkipped").withArgs(c.id, c.deal.gateway, false);
        expect(await openDisputes(c.p), "the counter drifted (the audit reports it)").to.equal(1n);
      });
    });

    describe("exits: no pause, sanction or token freeze blocks it", function () {
      it("when the registry is paused and the gateway suspended → it splits a held dispute and uncounts it", async function () {
        const c = await setup("Payment", "Disputed");
        await c.p.registry.connect(c.p.pauser).pause();
        await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
        await expectPayout(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
        expect(await openDisputes(c.p)).to.equal(0n);
      });

      it("when the gateway has exited → it splits (the fee is still owed to the gateway)", async function () {
        const p = await loadFixture(base);
        const c = await openKind(p, "OnRamp", { deadline: BigInt((await time.latest()) + 30 * DAY) });
        await p.registry.connect(p.gateway).requestExit();
        await time.increase(UNBONDING_DELAY);
        await p.registry.connect(p.gateway).completeExit();
        await expectPayout(c, () => split(c, PARTIAL), payoutOf(c, PARTIAL), Status.Split);
      });

      it("when the token is paused → both pushes are owed instead (PayoutDeferred), the fee owed to the gateway", async function () {
        const c = await setup("Payment", "Disputed");
        const { p, deal } = c;
        const e = payoutOf(c, PARTIAL);
        const usdt = await p.usdt.getAddress();
        await p.usdt.connect(p.admin).pause();
        const tx = await split(c, PARTIAL);
        await expect(tx).to.emit(p.escrow, "DealSplit").withArgs(c.id, e.payeeNet, e.fee, e.refund);
        await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(c.id, usdt, deal.payer, e.refund);
        await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(c.id, usdt, deal.payee, e.payeeNet);
        await expect(tx).to.changeTokenBalances(
          p.usdt,
          [deal.payer, deal.payee, await p.escrow.getAddress()],
          [0, 0, 0],
        );
        expect(await p.escrow.owed(usdt, deal.payer)).to.equal(e.refund);
        expect(await p.escrow.owed(usdt, deal.payee)).to.equal(e.payeeNet);
        expect(await p.escrow.owed(usdt, deal.gateway)).to.equal(e.fee);
        expect((await p.escrow.getDeal(c.id)).status).to.equal(Status.Split);
        expect(await openDisputes(p)).to.equal(0n);
        await p.usdt.connect(p.admin).unpause();
        await expect(p.escrow.claimOwed(usdt, deal.payee)).to.changeTokenBalance(p.usdt, deal.payee, e.payeeNet);
      });

      it("when the token is paused and the kind is OnRamp → the payee's push is owed, the refund still reaches the float", async function () {
        const c = await setup("OnRamp", "Disputed");
        const { p, deal } = c;
        const e = payoutOf(c, PARTIAL);
        const usdt = await p.usdt.getAddress();
        const before = await p.escrow.floatOf(deal.payer, usdt);
        await p.usdt.connect(p.admin).pause();
        const tx = await split(c, PARTIAL);
        await expect(tx).to.emit(p.escrow, "PayoutDeferred").withArgs(c.id, usdt, deal.payee, e.payeeNet);
        const after = await p.escrow.floatOf(deal.payer, usdt);
        expect([after.free - before.free, before.locked - after.locked]).to.deep.equal([e.refund, deal.amount]);
        expect(await p.escrow.owed(usdt, deal.payee)).to.equal(e.payeeNet);
      });
    });
  });

  /*------------------------------------------------------------
                          resolveWithSig
  ------------------------------------------------------------*/
  describe("resolveWithSig", function () {
    /** Resolves `c` on `signer`'s signature, submitted by a stranger. */
    async function resolveSigned(c: Ctx, signer: HardhatEthersSigner, payeeAmount: bigint, reasons = REASONS) {
      const auth = await signResolution(c.p.escrow, signer, c.id, payeeAmount, reasons);
      return c.p.escrow.connect(c.p.other).resolveWithSig(c.deal, payeeAmount, reasons, signer.address, auth);
    }

    describe("signatures", function () {
      itChecksSignatures({
        primary: "Resolution",
        roles: ["gateway"],
        bound: ["payeeAmount", "reasons"],
        setup: async () => {
          const c = await setup("Payment", "Disputed");
          return {
            c,
            msg: { dealId: c.id, payeeAmount: PARTIAL, reasons: REASONS },
            other: { payeeAmount: PARTIAL + 1n, reasons: ethers.id("other reasons") },
            key: { gateway: c.p.gateway },
            address: { gateway: c.deal.gateway },
            sign: (key, m, expiry) =>
              signResolution(
                c.p.escrow,
                key,
                String(m.dealId),
                BigInt(String(m.payeeAmount)),
                String(m.reasons),
                expiry,
              ),
            submit: ([auth]) =>
              c.p.escrow.connect(c.p.other).resolveWithSig(c.deal, PARTIAL, REASONS, c.deal.gateway, auth!),
            succeeded: async (tx) => {
              const { payeeNet, fee, refund } = payoutOf(c, PARTIAL);
              await expect(tx)
                .to.emit(c.p.escrow, "DealResolved")
                .withArgs(c.id, c.deal.gateway, payeeNet, fee, refund, REASONS);
            },
          };
        },
      });
    });

    describe("validations", function () {
      it("when the deal was never opened (a valid signature over its id) → it reverts EscrowUnknownDeal", async function () {
        const p = await loadFixture(base);
        const deal = await makeDeal(p);
        const c: Ctx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payer, payee: p.payee };
        await expect(resolveSigned(c, p.gateway, PARTIAL))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal")
          .withArgs(c.id);
      });

      for (const state of ["Open", "Performed", ...FINAL_STATES] as State[]) {
        const status =
          state === "Open" ? Status.Open : state === "Performed" ? Status.Performed : FINAL_STATUS[state as FinalState];
        it(`when the deal is ${state}, not Disputed → it reverts EscrowWrongStatus(dealId, ${state})`, async function () {
          const c = await setup("Payment", state);
          await expect(resolveSigned(c, c.p.gateway, PARTIAL))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, status);
        });
      }

      it("when payeeAmount > amount → it reverts EscrowPayeeAmountTooHigh(dealId, payeeAmount, amount)", async function () {
        const c = await setup("Payment", "Disputed");
        await expect(resolveSigned(c, c.p.gateway, AMOUNT + 1n))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowPayeeAmountTooHigh")
          .withArgs(c.id, AMOUNT + 1n, AMOUNT);
      });

      it("when the same signature is submitted again → it reverts EscrowWrongStatus(dealId, Resolved)", async function () {
        const c = await setup("Payment", "Disputed");
        const auth = await signResolution(c.p.escrow, c.p.gateway, c.id, PARTIAL, REASONS);
        const again = () => c.p.escrow.resolveWithSig(c.deal, PARTIAL, REASONS, c.deal.gateway, auth);
        await again();
        await expect(again())
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
          .withArgs(c.id, Status.Resolved);
      });
    });

    describe("who may rule", function () {
      /** Situations in which the signer may not rule, and how to get there from a held dispute. */
      const refused: { name: string; who: (c: Ctx) => HardhatEthersSigner; prepare?: (c: Ctx) => Promise<void> }[] = [
        { name: "the payer", who: (c) => c.payer },
        { name: "the payee", who: (c) => c.payee },
        { name: "a stranger", who: (c) => c.p.other },
        { name: "another active gateway", who: (c) => c.p.gateway2 },
        { name: "the acceptor's lock delegate", who: (c) => c.p.delegate },
        {
          name: "a revoked arbiter (window over)",
          who: (c) => c.p.arbiter,
          prepare: async (c) => {
            await c.p.registry.connect(c.p.admin).revokeRole(await c.p.registry.ARBITER_ROLE(), c.p.arbiter.address);
            await time.increase(RESOLUTION_WINDOW + 1);
          },
        },
        {
          name: "the deal's gateway, suspended",
          who: (c) => c.p.gateway,
          prepare: async (c) => {
            await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
          },
        },
      ];
      for (const r of refused) {
        it(`when the signer is ${r.name} → it reverts EscrowUnauthorized(dealId, signer)`, async function () {
          const c = await setup("Payment", "Disputed");
          if (r.prepare) await r.prepare(c);
          const signer = r.who(c);
          await expect(resolveSigned(c, signer, PARTIAL))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, signer.address);
        });
      }

      it("when the signer is the deal's gateway but does not hold the dispute (raised while it was exiting) → it reverts EscrowUnauthorized(dealId, gateway)", async function () {
        const c = await setup("Payment", "Performed");
        await c.p.registry.connect(c.p.gateway).requestExit();
        await c.p.escrow.connect(c.payer).dispute(c.deal);
        await expect(resolveSigned(c, c.p.gateway, PARTIAL))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, c.deal.gateway);
      });

      it("when the gateway holds the dispute and its resolution window is over → it reverts EscrowResolutionWindowClosed(dealId, since + window)", async function () {
        const c = await setup("Payment", "Disputed");
        const endsAt = (await c.p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW);
        await time.increaseTo(endsAt + 1n);
        await expect(resolveSigned(c, c.p.gateway, PARTIAL))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowClosed")
          .withArgs(c.id, endsAt);
      });

      it("when the gateway holds the dispute, may rule and its window is open → an arbiter's signature reverts EscrowResolutionWindowOpen(dealId, since + window)", async function () {
        const c = await setup("Payment", "Disputed");
        const endsAt = (await c.p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW);
        await expect(resolveSigned(c, c.p.arbiter, PARTIAL))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowResolutionWindowOpen")
          .withArgs(c.id, endsAt);
      });
    });

    describe("the gateway's signature rules exactly as resolve by the gateway", function () {
      const shares: [string, (amount: bigint) => bigint][] = [
        ["0", () => 0n],
        ["33.333333", () => PARTIAL],
        ["the whole amount", (amount) => amount],
      ];
      const ways: [string, (c: Ctx, payeeAmount: bigint) => Promise<ContractTransactionResponse>][] = [
        [
          "resolve by the gateway itself (control)",
          (c, x) => c.p.escrow.connect(c.p.gateway).resolve(c.deal, x, REASONS),
        ],
        ["resolveWithSig, the gateway's signature submitted by a stranger", (c, x) => resolveSigned(c, c.p.gateway, x)],
      ];
      for (const [shareName, share] of shares) {
        for (const [way, rule] of ways) {
          it(`payeeAmount ${shareName}, ${way} → fee owed to the gateway, DealResolved(by gateway, reasons), counter −1`, async function () {
            const c = await setup("Payment", "Disputed");
            const payeeAmount = share(c.deal.amount);
            const e = payoutOf(c, payeeAmount);
            const tx = await expectPayout(c, () => rule(c, payeeAmount), e, Status.Resolved);
            await expect(tx)
              .to.emit(c.p.escrow, "DealResolved")
              .withArgs(c.id, c.deal.gateway, e.payeeNet, e.fee, e.refund, REASONS);
            expect(await openDisputes(c.p)).to.equal(0n);
          });
        }
      }

      it("when the kind is OnRamp → the refund returns to the acceptor's free float", async function () {
        const c = await setup("OnRamp", "Disputed");
        await expectPayout(c, () => resolveSigned(c, c.p.gateway, PARTIAL), payoutOf(c, PARTIAL), Status.Resolved);
      });

      it("when the reasons are zero (none written) → DealResolved carries zero", async function () {
        const c = await setup("Payment", "Disputed");
        const e = payoutOf(c, PARTIAL);
        await expect(resolveSigned(c, c.p.gateway, PARTIAL, ethers.ZeroHash))
          .to.emit(c.p.escrow, "DealResolved")
          .withArgs(c.id, c.deal.gateway, e.payeeNet, e.fee, e.refund, ethers.ZeroHash);
      });

      const mayStill: [string, (c: Ctx) => Promise<void>][] = [
        ["is exiting since the dispute", async (c) => void (await c.p.registry.connect(c.p.gateway).requestExit())],
        [
          "was suspended and reinstated",
          async (c) => {
            await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
            await c.p.registry.connect(c.p.governor).reinstateGateway(c.deal.gateway);
          },
        ],
        [
          "is in the last second of its window",
          async (c) => {
            await time.setNextBlockTimestamp((await c.p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW));
          },
        ],
      ];
      for (const [name, prepare] of mayStill) {
        it(`when the gateway holds the dispute and ${name} → its signature rules, with its fee`, async function () {
          const c = await setup("Payment", "Disputed");
          const expiry = await later(RESOLUTION_WINDOW + DAY);
          const auth = await signResolution(c.p.escrow, c.p.gateway, c.id, PARTIAL, REASONS, expiry);
          await prepare(c);
          const e = payoutOf(c, PARTIAL);
          const send = () =>
            c.p.escrow.connect(c.p.other).resolveWithSig(c.deal, PARTIAL, REASONS, c.deal.gateway, auth);
          const tx = await expectPayout(c, send, e, Status.Resolved);
          await expect(tx)
            .to.emit(c.p.escrow, "DealResolved")
            .withArgs(c.id, c.deal.gateway, e.payeeNet, e.fee, e.refund, REASONS);
        });
      }
    });

    describe("an arbiter's signature rules like the arbiter, without a fee, only when the arbiter may", function () {
      const situations: { name: string; held: boolean; prepare: (c: Ctx) => Promise<void> }[] = [
        {
          name: "the gateway's resolution window is over",
          held: true,
          prepare: async () => void (await time.increase(RESOLUTION_WINDOW + 1)),
        },
        {
          name: "the gateway is suspended (window open)",
          held: true,
          prepare: async (c) => void (await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway)),
        },
        {
          name: "the dispute was raised while the gateway was exiting (not held)",
          held: false,
          prepare: async () => undefined,
        },
      ];
      for (const s of situations) {
        it(`when ${s.name} → DealResolved(by arbiter, fee 0, reasons); ${s.held ? "the held dispute is uncounted" : "the counter does not move"}`, async function () {
          const c = await setup("Payment", "Performed");
          if (!s.held) await c.p.registry.connect(c.p.gateway).requestExit();
          await c.p.escrow.connect(c.payer).dispute(c.deal);
          expect(await openDisputes(c.p)).to.equal(s.held ? 1n : 0n);
          await s.prepare(c);
          const e = payoutOf(c, PARTIAL, false);
          const tx = await expectPayout(c, () => resolveSigned(c, c.p.arbiter, PARTIAL), e, Status.Resolved);
          await expect(tx)
            .to.emit(c.p.escrow, "DealResolved")
            .withArgs(c.id, c.p.arbiter.address, PARTIAL, 0n, e.refund, REASONS);
          if (!s.held) await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
          expect(await openDisputes(c.p)).to.equal(0n);
        });
      }

      it("when the arbiter is an ERC-1271 wallet holding ARBITER_ROLE and its owner signed → it rules without a fee", async function () {
        const c = await setup("Payment", "Disputed");
        const wallet = (await ethers.deployContract("ERC1271Wallet", [c.p.other.address])) as unknown as ERC1271Wallet;
        const arbiter = await wallet.getAddress();
        await c.p.registry.connect(c.p.admin).grantRole(await c.p.registry.ARBITER_ROLE(), arbiter);
        await time.increase(RESOLUTION_WINDOW + 1);
        const auth = await signResolution(c.p.escrow, c.p.other, c.id, PARTIAL, REASONS);
        const e = payoutOf(c, PARTIAL, false);
        const send = () => c.p.escrow.connect(c.payee).resolveWithSig(c.deal, PARTIAL, REASONS, arbiter, auth);
        const tx = await expectPayout(c, send, e, Status.Resolved);
        await expect(tx).to.emit(c.p.escrow, "DealResolved").withArgs(c.id, arbiter, PARTIAL, 0n, e.refund, REASONS);
      });
    });
  });

  /*------------------------------------------------------------
                  postEvidence / postEvidenceWithSig
  ------------------------------------------------------------*/

  /** Everything a call could change: the deal's record, balances, float, owed balances, the gateway's record. */
  async function world(c: Ctx) {
    const { p, deal } = c;
    const accounts = [p.payer, p.payee, p.acceptor, p.gateway, p.arbiter, p.other].map((s) => s.address);
    accounts.push(await p.escrow.getAddress(), await p.registry.getAddress());
    const r = await p.escrow.getDeal(c.id);
    return {
      record: [r.commitment, r.since, r.status, r.flags],
      balances: await Promise.all(accounts.map((a) => p.usdt.balanceOf(a))),
      owed: await Promise.all(accounts.map((a) => p.escrow.owed(deal.token, a))),
      float: [...(await p.escrow.floatOf(p.acceptor.address, deal.token))],
      gateway: [...(await p.registry.getGateway(deal.gateway))],
    };
  }

  /** Runs `send` and asserts it emitted EvidencePosted(dealId, by, contentHash, uri) — its only log — and changed
   * nothing else. */
  async function expectOnlyEvidence(
    c: Ctx,
    send: () => Promise<ContractTransactionResponse>,
    by: string,
    contentHash = CONTENT,
    uri = URI,
  ): Promise<void> {
    const before = await world(c);
    const tx = await send();
    await expect(tx).to.emit(c.p.escrow, "EvidencePosted").withArgs(c.id, by, contentHash, uri);
    const rc = await tx.wait();
    expect(rc!.logs.length, "EvidencePosted is the only log").to.equal(1);
    expect(await world(c)).to.deep.equal(before);
  }

  type Poster = "payer" | "payee" | "gateway" | "arbiter";
  const POSTERS: Poster[] = ["payer", "payee", "gateway", "arbiter"];
  function posterOf(c: Ctx, who: Poster): HardhatEthersSigner {
    return { payer: c.payer, payee: c.payee, gateway: c.p.gateway, arbiter: c.p.arbiter }[who];
  }
  const LIVE: LiveState[] = ["Open", "Performed", "Disputed"];
  const NOT_ROLES: [string, (c: Ctx) => HardhatEthersSigner, ((c: Ctx) => Promise<void>)?][] = [
    ["a stranger", (c) => c.p.other],
    ["another active gateway", (c) => c.p.gateway2],
    ["the acceptor's lock delegate", (c) => c.p.delegate],
    [
      "a revoked arbiter",
      (c) => c.p.arbiter,
      async (c) => {
        await c.p.registry.connect(c.p.admin).revokeRole(await c.p.registry.ARBITER_ROLE(), c.p.arbiter.address);
      },
    ],
  ];

  describe("postEvidence", function () {
    function post(c: Ctx, by: HardhatEthersSigner, contentHash = CONTENT, uri = URI) {
      return c.p.escrow.connect(by).postEvidence(c.deal, contentHash, uri);
    }

    describe("validations", function () {
      it("when the deal was never opened → it reverts EscrowUnknownDeal", async function () {
        const p = await loadFixture(base);
        const deal = await makeDeal(p);
        await expect(p.escrow.connect(p.payer).postEvidence(deal, CONTENT, URI))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal")
          .withArgs(dealIdOf(deal));
      });

      for (const state of FINAL_STATES) {
        it(`when the deal is final (${state}) → it reverts EscrowWrongStatus(dealId, ${state})`, async function () {
          const c = await setup("Payment", state);
          await expect(post(c, c.payer))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, FINAL_STATUS[state]);
        });
      }

      for (const [name, who, prepare] of NOT_ROLES) {
        it(`when the caller is ${name} → it reverts EscrowUnauthorized(dealId, caller)`, async function () {
          const c = await setup("Payment", "Disputed");
          if (prepare) await prepare(c);
          await expect(post(c, who(c)))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, who(c).address);
        });
      }
    });

    describe("effects: EvidencePosted and nothing else", function () {
      for (const state of LIVE) {
        for (const who of POSTERS) {
          it(`when the deal is ${state} and the caller is the ${who} → EvidencePosted(dealId, ${who}, contentHash, uri), nothing else changes`, async function () {
            const c = await setup("Payment", state);
            const by = posterOf(c, who);
            await expectOnlyEvidence(c, () => post(c, by), by.address);
          });
        }
      }

      for (const kind of ["OnRamp", "OffRamp"] as const) {
        for (const who of ["payer", "payee"] as const) {
          it(`when the kind is ${kind} and the caller is the ${who} (${(kind === "OnRamp") === (who === "payer") ? "the acceptor" : "its counterparty"}) → it posts`, async function () {
            const c = await setup(kind, "Disputed");
            const by = posterOf(c, who);
            await expectOnlyEvidence(c, () => post(c, by), by.address);
          });
        }
      }

      it("when the caller is the deal's gateway, though suspended → it posts (its record stays the dispute's)", async function () {
        const c = await setup("Payment", "Disputed");
        await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
        await expectOnlyEvidence(c, () => post(c, c.p.gateway), c.deal.gateway);
      });

      it("when the uri is long (2,000 characters) and the hash zero → both are carried verbatim", async function () {
        const c = await setup("Payment", "Disputed");
        const uri = "https://evidence.example/" + "x".repeat(2_000 - 25);
        await expectOnlyEvidence(c, () => post(c, c.payee, ethers.ZeroHash, uri), c.deal.payee, ethers.ZeroHash, uri);
      });

      it("when the registry is paused and the gateway suspended → it posts", async function () {
        const c = await setup("Payment", "Disputed");
        await c.p.registry.connect(c.p.pauser).pause();
        await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
        await expectOnlyEvidence(c, () => post(c, c.payer), c.deal.payer);
      });
    });
  });

  describe("postEvidenceWithSig", function () {
    async function postSigned(c: Ctx, key: HardhatEthersSigner, signer = key.address) {
      const auth = await signEvidence(c.p.escrow, key, c.id, CONTENT, URI);
      return c.p.escrow.connect(c.p.other).postEvidenceWithSig(c.deal, CONTENT, URI, signer, auth);
    }

    describe("signatures", function () {
      itChecksSignatures({
        primary: "Evidence",
        roles: ["poster"],
        bound: ["contentHash", "uri"],
        setup: async () => {
          const c = await setup("Payment", "Disputed");
          return {
            c,
            msg: { dealId: c.id, contentHash: CONTENT, uri: URI },
            other: { contentHash: ethers.id("another file"), uri: URI + "#tampered" },
            key: { poster: c.payer },
            address: { poster: c.deal.payer },
            sign: (key, m, expiry) =>
              signEvidence(c.p.escrow, key, String(m.dealId), String(m.contentHash), String(m.uri), expiry),
            submit: ([auth]) =>
              c.p.escrow.connect(c.p.other).postEvidenceWithSig(c.deal, CONTENT, URI, c.deal.payer, auth!),
            succeeded: async (tx) => {
              await expect(tx).to.emit(c.p.escrow, "EvidencePosted").withArgs(c.id, c.deal.payer, CONTENT, URI);
            },
          };
        },
      });
    });

    describe("validations", function () {
      it("when the deal was never opened (a valid signature over its id) → it reverts EscrowUnknownDeal", async function () {
        const p = await loadFixture(base);
        const deal = await makeDeal(p);
        const c: Ctx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payer, payee: p.payee };
        await expect(postSigned(c, p.payer))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal")
          .withArgs(c.id);
      });

      for (const state of FINAL_STATES) {
        it(`when the deal is final (${state}) → it reverts EscrowWrongStatus(dealId, ${state})`, async function () {
          const c = await setup("Payment", state);
          await expect(postSigned(c, c.payee))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowWrongStatus")
            .withArgs(c.id, FINAL_STATUS[state]);
        });
      }

      for (const [name, who, prepare] of NOT_ROLES) {
        it(`when the signer is ${name} (its own valid signature) → it reverts EscrowUnauthorized(dealId, signer)`, async function () {
          const c = await setup("Payment", "Disputed");
          if (prepare) await prepare(c);
          await expect(postSigned(c, who(c)))
            .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
            .withArgs(c.id, who(c).address);
        });
      }
    });

    describe("effects: EvidencePosted and nothing else", function () {
      for (const state of LIVE) {
        for (const who of POSTERS) {
          it(`when the deal is ${state} and the signer is the ${who} → EvidencePosted(dealId, ${who}, contentHash, uri), nothing else changes`, async function () {
            const c = await setup("Payment", state);
            const key = posterOf(c, who);
            await expectOnlyEvidence(c, () => postSigned(c, key), key.address);
          });
        }
      }

      it("when the signer is the payer's ERC-1271 wallet and its owner signed → it posts as the wallet", async function () {
        const p = await loadFixture(base);
        const wallet = await p.payerWallet.getAddress();
        const deal = await makeDeal(p, { payer: wallet });
        const escrow = await p.escrow.getAddress();
        const approve = p.usdt.interface.encodeFunctionData("approve", [escrow, deal.amount]);
        await p.payerWallet.connect(p.payer).execute(await p.usdt.getAddress(), 0, approve);
        const open = p.escrow.interface.encodeFunctionData("open", [deal, ethers.ZeroHash]);
        await p.payerWallet.connect(p.payer).execute(escrow, 0, open);
        const c: Ctx = { p, kind: "Payment", deal, id: dealIdOf(deal), payer: p.payer, payee: p.payee };
        await expectOnlyEvidence(c, () => postSigned(c, p.payer, wallet), wallet);
      });

      it("when the registry is paused and the gateway suspended → it posts", async function () {
        const c = await setup("Payment", "Disputed");
        await c.p.registry.connect(c.p.pauser).pause();
        await c.p.registry.connect(c.p.governor).suspendGateway(c.deal.gateway);
        await expectOnlyEvidence(c, () => postSigned(c, c.payee), c.deal.payee);
      });

      it("when the same signature is submitted again while the deal is live → it posts the same record again (no nonce)", async function () {
        const c = await setup("Payment", "Disputed");
        const auth = await signEvidence(c.p.escrow, c.payer, c.id, CONTENT, URI);
        const send = () => c.p.escrow.connect(c.p.other).postEvidenceWithSig(c.deal, CONTENT, URI, c.deal.payer, auth);
        await expectOnlyEvidence(c, send, c.deal.payer);
        await expectOnlyEvidence(c, send, c.deal.payer);
      });
    });
  });

  /*------------------------------------------------------------
          Every disputed deal has someone able to end it
  ------------------------------------------------------------*/
  describe("every disputed deal has someone able to end it", function () {
    /** The gateway's standing when the deal is ruled, and whether it holds the dispute. `before` runs after the
     * open and before the perform and dispute, `after` after the dispute. */
    interface Standing {
      name: string;
      held: boolean;
      canRule: boolean;
      before?: (p: P) => Promise<void>;
      after?: (p: P) => Promise<void>;
    }
    const exit = async (p: P) => void (await p.registry.connect(p.gateway).requestExit());
    const suspend = async (p: P) => void (await p.registry.connect(p.governor).suspendGateway(p.gateway.address));
    const STANDINGS: Standing[] = [
      { name: "Active, holding the dispute", held: true, canRule: true },
      { name: "Exiting since the dispute, holding it", held: true, canRule: true, after: exit },
      { name: "suspended since the dispute, holding it", held: true, canRule: false, after: suspend },
      {
        name: "Exiting and suspended since the dispute, holding it",
        held: true,
        canRule: false,
        after: async (p) => {
          await exit(p);
          await suspend(p);
        },
      },
      {
        name: "suspended and reinstated since the dispute, holding it",
        held: true,
        canRule: true,
        after: async (p) => {
          await suspend(p);
          await p.registry.connect(p.governor).reinstateGateway(p.gateway.address);
        },
      },
      { name: "Exiting before the dispute (not holding it)", held: false, canRule: true, before: exit },
      { name: "suspended before the dispute (not holding it)", held: false, canRule: false, before: suspend },
      {
        name: "Exited before the dispute (not holding it)",
        held: false,
        canRule: false,
        before: async (p) => {
          await exit(p);
          await time.increase(UNBONDING_DELAY);
          await p.registry.connect(p.gateway).completeExit();
        },
      },
      {
        name: "Active, but the registry refused to count the dispute (not holding it)",
        held: false,
        canRule: true,
        before: async (p) => {
          await p.registry.connect(p.admin).revokeRole(await p.registry.ESCROW_ROLE(), await p.escrow.getAddress());
        },
      },
    ];

    type Outcome = { ok: true; status: number } | { ok: false; error: string; args: unknown[] };

    for (const s of STANDINGS) {
      for (const arbiterPresent of [true, false]) {
        for (const windowOpen of [true, false]) {
          const gatewayRules = s.held && s.canRule && windowOpen;
          const arbiterRules = arbiterPresent && !gatewayRules;
          const rulers = [gatewayRules && "the gateway", arbiterRules && "the arbiter"].filter(Boolean);
          const title =
            `gateway ${s.name}; arbiter ${arbiterPresent ? "present" : "revoked"}; ` +
            `resolution window ${windowOpen ? "open" : "over"} → ${rulers.length ? rulers.join(" or ") : "nobody"} may rule, ` +
            "and release, cancel, split and cancel by signatures each end it";

          it(title, async function () {
            const p = await loadFixture(base);
            const c = await openKind(p, "Payment", { deadline: BigInt((await time.latest()) + 30 * DAY) });
            if (s.before) await s.before(p);
            await p.escrow.connect(c.payee).perform(c.deal);
            await expect(p.escrow.connect(c.payer).dispute(c.deal))
              .to.emit(p.escrow, "DealDisputed")
              .withArgs(c.id, c.deal.payer, s.held);
            if (s.after) await s.after(p);
            if (!arbiterPresent)
              await p.registry.connect(p.admin).revokeRole(await p.registry.ARBITER_ROLE(), p.arbiter.address);
            const endsAt = (await p.escrow.getDeal(c.id)).since + BigInt(RESOLUTION_WINDOW);
            if (!windowOpen) await time.increaseTo(endsAt + 1n);
            expect(await p.registry.canRule(c.deal.gateway), "set-up: the gateway's standing").to.equal(s.canRule);
            expect((await p.escrow.getDeal(c.id)).flags, "set-up: who holds the dispute").to.equal(s.held ? 2n : 0n);

            const half = c.deal.amount / 2n;
            const splitAuths = [
              await signSplit(p.escrow, c.payer, c.id, half),
              await signSplit(p.escrow, c.payee, c.id, half),
            ];
            const cancelAuths = [
              await signAction(p.escrow, c.payer, c.id, Action.Cancel),
              await signAction(p.escrow, c.payee, c.id, Action.Cancel),
            ];
            const gatewayMayRule = s.held && s.canRule;
            const paths: [string, () => Promise<ContractTransactionResponse>, Outcome][] = [
              [
                "the gateway's ruling",
                () => p.escrow.connect(p.gateway).resolve(c.deal, half, REASONS),
                gatewayRules
                  ? { ok: true, status: Status.Resolved }
                  : gatewayMayRule
                    ? { ok: false, error: "EscrowResolutionWindowClosed", args: [c.id, endsAt] }
                    : { ok: false, error: "EscrowUnauthorized", args: [c.id, c.deal.gateway] },
              ],
              [
                "the arbiter's ruling",
                () => p.escrow.connect(p.arbiter).resolve(c.deal, half, REASONS),
                !arbiterPresent
                  ? { ok: false, error: "EscrowUnauthorized", args: [c.id, p.arbiter.address] }
                  : gatewayRules
                    ? { ok: false, error: "EscrowResolutionWindowOpen", args: [c.id, endsAt] }
                    : { ok: true, status: Status.Resolved },
              ],
              [
                "the payer's release",
                () => p.escrow.connect(c.payer).release(c.deal),
                { ok: true, status: Status.Released },
              ],
              [
                "the payee's cancel",
                () => p.escrow.connect(c.payee).cancel(c.deal),
                { ok: true, status: Status.Refunded },
              ],
              [
                "split by both signatures",
                () => p.escrow.connect(p.other).splitWithSigs(c.deal, half, splitAuths[0]!, splitAuths[1]!),
                { ok: true, status: Status.Split },
              ],
              [
                "cancel by both signatures",
                () => p.escrow.connect(p.other).cancelWithSigs(c.deal, cancelAuths[0]!, cancelAuths[1]!),
                { ok: true, status: Status.Refunded },
              ],
            ];

            let ended = 0;
            for (const [name, run, outcome] of paths) {
              const snapshot = await network.provider.send("evm_snapshot");
              if (outcome.ok) {
                await expect(run(), name).not.to.be.reverted;
                expect((await p.escrow.getDeal(c.id)).status, `${name}: final status`).to.equal(outcome.status);
                expect(await openDisputes(p), `${name}: no dispute left counted`).to.equal(0n);
                ended += 1;
              } else {
                await expect(run(), name)
                  .to.be.revertedWithCustomError(p.escrow, outcome.error)
                  .withArgs(...outcome.args);
              }
              await network.provider.send("evm_revert", [snapshot]);
            }
            expect(ended, "paths that ended the dispute").to.equal(4 + rulers.length);
            expect(ended).to.be.greaterThan(0);
          });
        }
      }
    }
  });
});
