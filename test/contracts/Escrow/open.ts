import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import type { ERC1271Wallet, TestERC20 } from "../../../typechain-types";

import { approveExactly, DAY, dealIdOf, deployProtocol, feeOf, GATEWAY_FEE_BPS, GatewayStatus } from "../fixtures";
import { HOUR, Kind, loadFixture, makeDeal, MAX_DEAL_DURATION, MAX_RELEASE_WINDOW } from "../fixtures";
import { MIN_RELEASE_WINDOW, nextDelegateSalt, nextSalt, openDeal, signOpen, Status, USDT } from "../fixtures";
import { approvedDeal, approveFor, beforeCheckingTheDelegateSaltPrefix, BURN_GAS_LIMIT } from "./shared/opening";
import { DEAL_FIELDS, dirtyCalldata, dirtyWords, expectFloat, expectOnlyFeeAccepted } from "./shared/opening";
import { expectOpens, expectRefusedUnlessActiveAcceptor, FLOAT, itIsRefusedByTheRegistry } from "./shared/opening";
import { makeOffRampDeal, nearDelegateSalt, REF, REF2, registerGateway, statusOf, structHash } from "./shared/opening";
import { tuple, withFloat, withGateway2 } from "./shared/opening";

describe("Escrow.open", function () {
  beforeCheckingTheDelegateSaltPrefix();

  describe("validations", function () {
    it("when a deal word has out-of-range high bits → it reverts (Solidity's range check) and opens nothing", async function () {
      const { p, deal } = await approvedDeal();
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
        await expectOpens(p, deal);
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
      await expectOpens(p, deal);
    });

    it("when the caller is not the payer → it reverts EscrowUnauthorized", async function () {
      const { p, deal } = await approvedDeal();
      for (const s of [p.other, p.payee, p.gateway]) {
        await expect(p.escrow.connect(s).open(deal, REF))
          .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
          .withArgs(dealIdOf(deal), s.address);
      }
    });

    it("when the caller is not the payer and the registry would refuse (paused, gateway suspended) → it reverts EscrowUnauthorized: the caller check comes first", async function () {
      const { p, deal } = await approvedDeal();
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
      await expectOpens(p, deal);
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
      await expectOpens(p, deal);
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
      await expectOnlyFeeAccepted(p, 70);
    });

    it("when the global cap is lowered below the gateway's fee → it expects the clamped fee (EscrowFeeMismatch otherwise)", async function () {
      const p = await loadFixture(deployProtocol);
      await p.registry.connect(p.governor).setMaxFee(30);
      await expectOnlyFeeAccepted(p, 30);
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
      await expectRefusedUnlessActiveAcceptor(p, async (acceptor) =>
        p.escrow.connect(p.payer).open(await makeOffRampDeal(p, { payee: acceptor.address }), REF),
      );
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
        await expectOpens(p, deal);
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
      await expect(tx).to.changeTokenBalances(p.usdt, [p.payer, p.escrow, p.acceptor], [-deal.amount, deal.amount, 0n]);
      await expectFloat(p, FLOAT, 0n);
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
      const { p, deal } = await approvedDeal();
      await p.usdt.connect(p.admin).addBlackList(p.payer.address);
      await expect(p.escrow.connect(p.payer).open(deal, REF)).to.be.revertedWithoutReason();
      expect(await statusOf(p, deal)).to.equal(Status.None);
    });

    it("when the token is paused → it reverts without data", async function () {
      const { p, deal } = await approvedDeal();
      await p.usdt.connect(p.admin).pause();
      await expect(p.escrow.connect(p.payer).open(deal, REF)).to.be.revertedWithoutReason();
    });

    it("when every check passes → it moves exactly the amount from the payer to the escrow", async function () {
      const { p, deal } = await approvedDeal();
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
      const { p, deal } = await approvedDeal();
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
      const { p, deal } = await approvedDeal();
      const expected = ethers.keccak256(
        ethers.AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [deal.payer, deal.salt]),
      );
      expect(await p.escrow.connect(p.payer).open.staticCall(deal, REF)).to.equal(expected);
      expect(await p.escrow.dealIdOf(deal.payer, deal.salt)).to.equal(expected);
      expect(dealIdOf(deal)).to.equal(expected);
    });
  });
});

describe("Escrow.openWithSig", function () {
  it("when the payer signed → it opens, whoever submits", async function () {
    const { p, deal } = await approvedDeal();
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
    const { p, deal } = await approvedDeal();
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
    const { p, deal } = await approvedDeal();
    for (const s of [p.other, p.payee, p.gateway]) {
      const auth = await signOpen(p.escrow, s, deal, REF);
      await expect(p.escrow.connect(s).openWithSig(deal, REF, auth))
        .to.be.revertedWithCustomError(p.escrow, "EscrowInvalidSignature")
        .withArgs(dealIdOf(deal), p.payer.address);
    }
  });

  it("when the signature covers another ref, deal or expiry, or the Lock type → it reverts EscrowInvalidSignature", async function () {
    const { p, deal } = await approvedDeal();
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
