/** Helpers and the signature-checking behaviour of the tests of the v1.1 calls: splitWithSigs, resolveWithSig,
 * postEvidence(WithSig). */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { ethers } from "hardhat";
import type { ERC1271Wallet } from "../../../../typechain-types";

import { Action, approveExactly, DAY, dealIdOf, deployProtocol, depositFloat, escrowDomain } from "../../fixtures";
import { feeOf, GATEWAY_FEE_BPS, loadFixture, MIN_BOND, nextSalt, signAction, signSplit, Status } from "../../fixtures";
import { USDT, type Deal, type DealCtx, type KindName } from "../../fixtures";
import { FLOAT, openInState, type Auth, type FinalState, type Payout, type State } from "./deals";

/*//////////////////////////////////////////////////////////////
                        FIXTURE AND HELPERS
//////////////////////////////////////////////////////////////*/

/** A payee share whose fee does not divide evenly: 33.333333 USDT × 50 bps = 0.166666665 → 0.166666. */
export const PARTIAL = 33_333_333n;
export const CONTENT = ethers.id("photo of the damaged parcel");
export const URI = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

/** The protocol plus: a USDT float for the acceptor, a second active gateway, and two ERC-1271 wallets (one owned
 * by the payer and holding 1,000 USDT, one owned by the payee). */
export async function protocolWithWallets() {
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
export type WalletProtocol = Awaited<ReturnType<typeof protocolWithWallets>>;

export type WalletCtx = DealCtx<WalletProtocol>;

export const FINAL_STATUS: Record<FinalState, number> = {
  Released: Status.Released,
  Refunded: Status.Refunded,
  Resolved: Status.Resolved,
  Split: Status.Split,
};

/** Loads the fixture, opens a deal of `kind` and drives it to `state`. */
export async function setupWithWallets(
  kind: KindName = "Payment",
  state: State = "Open",
  over: Partial<Deal> = {},
): Promise<WalletCtx> {
  return openInState(await loadFixture(protocolWithWallets), kind, state, over);
}

/** Splits `c` with both parties' fresh signatures, submitted by a stranger. */
export async function split(c: WalletCtx, payeeAmount: bigint): Promise<ContractTransactionResponse> {
  const payerAuth = await signSplit(c.p.escrow, c.payer, c.id, payeeAmount);
  const payeeAuth = await signSplit(c.p.escrow, c.payee, c.id, payeeAmount);
  return c.p.escrow.connect(c.p.other).splitWithSigs(c.deal, payeeAmount, payerAuth, payeeAuth);
}

/** The payout of giving the payee `payeeAmount` of `c`'s deal, with or without the gateway's fee. */
export function payoutOf(c: WalletCtx, payeeAmount: bigint, withFee = true): Payout {
  const fee = withFee ? feeOf(payeeAmount, c.deal.feeBps) : 0n;
  return { payeeNet: payeeAmount - fee, fee, refund: c.deal.amount - payeeAmount };
}

/** A signature over the same digest with s' = n − s and the other v: the same signer, a "different" signature
 * that OpenZeppelin's ECDSA refuses (high s). */
function malleate(sig: string): string {
  const s = ethers.Signature.from(sig);
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const highS = ethers.toBeHex(n - BigInt(s.s), 32);
  return ethers.concat([s.r, highS, s.v === 27 ? "0x1c" : "0x1b"]);
}

/** EIP-712 types of the three v1.1 messages (for signing under another domain): dealId, their fields, expiry. */
const field = (name: string, type: string) => ({ name, type });
const message = (...fields: { name: string; type: string }[]) => [
  field("dealId", "bytes32"),
  ...fields,
  field("expiry", "uint256"),
];
const TYPES: Record<string, { name: string; type: string }[]> = {
  Split: message(field("payeeAmount", "uint96")),
  Resolution: message(field("payeeAmount", "uint96"), field("reasons", "bytes32")),
  Evidence: message(field("contentHash", "bytes32"), field("uri", "string")),
};

/** Signs `primary` with `msg` under the escrow's domain with `verifyingContract` replaced. */
async function signForContract(
  p: WalletProtocol,
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

export async function later(seconds = DAY): Promise<bigint> {
  return BigInt((await time.latest()) + seconds);
}

/*//////////////////////////////////////////////////////////////
            SHARED BEHAVIOUR: SIGNATURE VALIDATION
//////////////////////////////////////////////////////////////*/

/** One signed call, set up so that it succeeds with correct signatures. */
interface SignedCase {
  c: WalletCtx;
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

/**
 * `it` blocks, under describe("signatures"), for every way a signature of a call of EIP-712 type `primary` can be
 * wrong, for each of `roles` in turn in the order the call checks them (the other roles' signatures valid), and for
 * the two ways it is right (submitted by anyone; used at its expiry second). The signature binds dealId and the
 * fields `bound`; `on(c)` says how the call is signed and made on a disputed payment `c`.
 */
export function itChecksSignatures(
  primary: string,
  roles: string[],
  bound: string[],
  on: (c: WalletCtx) => Omit<SignedCase, "c">,
): void {
  const call = {
    roles,
    setup: async (): Promise<SignedCase> => {
      const c = await setupWithWallets("Payment", "Disputed");
      return { c, ...on(c) };
    },
  };
  async function authsWith(s: SignedCase, role: string, bad: Auth): Promise<Auth[]> {
    return Promise.all(call.roles.map((r) => (r === role ? bad : s.sign(s.key[r]!, s.msg))));
  }

  async function expectInvalid(s: SignedCase, role: string, bad: Auth): Promise<void> {
    await expect(s.submit(await authsWith(s, role, bad)))
      .to.be.revertedWithCustomError(s.c.p.escrow, "EscrowInvalidSignature")
      .withArgs(s.c.id, s.address[role]);
  }

  describe("signatures", function () {
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

        for (const field of bound) {
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
            await signForContract(s.c.p, s.key[role]!, elsewhere, primary, s.msg, await later()),
          );
        });

        it(`when it is a malleated (high-s) copy of a valid one → it reverts EscrowInvalidSignature(dealId, ${role})`, async function () {
          const s = await call.setup();
          const good = await s.sign(s.key[role]!, s.msg);
          await expectInvalid(s, role, { expiry: good.expiry, signature: malleate(good.signature) });
        });
      });
    }
  });
}
