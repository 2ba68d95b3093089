import { time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { network } from "hardhat";

import { Action, DAY, loadFixture, openKind, RESOLUTION_WINDOW, signAction, signSplit, Status } from "../fixtures";
import { UNBONDING_DELAY, USDT } from "../fixtures";
import { byBoth, disputeWith, expectSettlement, MUTUAL_CANCEL, openDisputes, REASONS } from "./shared/deals";
import { refundPayout, releasePayout, SETTLE, type Ctx, type Holding, type Payout } from "./shared/deals";
import { protocolWithWallets, type WalletProtocol } from "./shared/signed";

describe("Escrow: disputes always end: the payer's release, the payee's cancel, settleWithSigs and cancelWithSigs end any dispute", function () {
  /** The four ways the parties end a dispute, with the payout and the status each leads to. */
  const enders: {
    name: string;
    pay: (c: Ctx) => Payout;
    status: number;
    run: (c: Ctx) => Promise<ContractTransactionResponse>;
  }[] = [
    {
      name: "the payer releases (payee gets the amount less the fee, the gateway the fee)",
      pay: releasePayout,
      status: Status.Released,
      run: (c) => c.p.escrow.connect(c.payer).release(c.deal),
    },
    {
      name: "the payee cancels (all back)",
      pay: refundPayout,
      status: Status.Refunded,
      run: (c) => c.p.escrow.connect(c.payee).cancel(c.deal),
    },
    { name: "both sign settleWithSigs", pay: releasePayout, status: Status.Released, run: (c) => byBoth(SETTLE, c)() },
    {
      name: "both sign cancelWithSigs",
      pay: refundPayout,
      status: Status.Refunded,
      run: (c) => byBoth(MUTUAL_CANCEL, c)(),
    },
  ];
  const holdings: Holding[] = ["held", "Exiting", "suspended", "suspended, then Exiting"];

  for (const e of enders) {
    for (const holding of holdings) {
      const held = holding === "held";
      it(`a dispute ${held ? "the gateway holds" : `raised while the gateway is ${holding}`}: ${e.name} → final; the counter ${held ? "falls by exactly one" : "is unchanged"}`, async function () {
        const c = await disputeWith(holding, "OffRamp");
        const before = await openDisputes(c.p);
        expect(before).to.equal(1n);
        const tx = await expectSettlement(c, () => e.run(c), e.pay(c), e.status);
        expect(await openDisputes(c.p)).to.equal(held ? 0n : 1n);
        if (held) {
          await expect(tx).to.emit(c.p.registry, "GatewayDisputesChanged").withArgs(c.p.gateway.address, 0);
        } else {
          await expect(tx).not.to.emit(c.p.registry, "GatewayDisputesChanged");
        }
        await expect(tx).not.to.emit(c.p.escrow, "DisputeCountSkipped");
      });
    }

    it(`with the gateway gone (Exited) and no arbiter left: ${e.name} → the deal ends`, async function () {
      const c = await disputeWith("Exited", "OnRamp");
      await c.p.registry.connect(c.p.admin).revokeRole(await c.p.registry.ARBITER_ROLE(), c.p.arbiter.address);
      await time.increase(RESOLUTION_WINDOW + 1);
      for (const s of [c.p.gateway, c.p.arbiter]) {
        await expect(c.p.escrow.connect(s).resolve(c.deal, USDT(50), REASONS))
          .to.be.revertedWithCustomError(c.p.escrow, "EscrowUnauthorized")
          .withArgs(c.id, s.address);
      }
      const tx = await expectSettlement(c, () => e.run(c), e.pay(c), e.status);
      await expect(tx).not.to.emit(c.p.escrow, "DisputeCountSkipped");
      expect(await openDisputes(c.p)).to.equal(0n);
    });
  }
});

describe("Escrow: every disputed deal has someone able to end it", function () {
  /** The gateway's standing when the deal is ruled, and whether it holds the dispute. `before` runs after the
   * open and before the perform and dispute, `after` after the dispute. */
  interface Standing {
    name: string;
    held: boolean;
    canRule: boolean;
    before?: Step;
    after?: Step;
  }
  type Step = (p: WalletProtocol) => Promise<void>;
  const exit: Step = async (p) => void (await p.registry.connect(p.gateway).requestExit());
  const suspend: Step = async (p) => void (await p.registry.connect(p.governor).suspendGateway(p.gateway.address));
  const reinstate: Step = async (p) => void (await p.registry.connect(p.governor).reinstateGateway(p.gateway.address));
  const completeExit: Step = async (p) => {
    await time.increase(UNBONDING_DELAY);
    await p.registry.connect(p.gateway).completeExit();
  };
  const uncounted: Step = async (p) =>
    void (await p.registry.connect(p.admin).revokeRole(await p.registry.ESCROW_ROLE(), await p.escrow.getAddress()));
  const inTurn =
    (...steps: Step[]): Step =>
    async (p) => {
      for (const step of steps) await step(p);
    };
  const exitSuspended = inTurn(exit, suspend);
  const reinstated = inTurn(suspend, reinstate);
  const exited = inTurn(exit, completeExit);
  const STANDINGS: Standing[] = [
    { name: "Active, holding the dispute", held: true, canRule: true },
    { name: "Exiting since the dispute, holding it", held: true, canRule: true, after: exit },
    { name: "suspended since the dispute, holding it", held: true, canRule: false, after: suspend },
    { name: "Exiting and suspended since the dispute, holding it", held: true, canRule: false, after: exitSuspended },
    { name: "suspended and reinstated since the dispute, holding it", held: true, canRule: true, after: reinstated },
    { name: "Exiting before the dispute (not holding it)", held: false, canRule: true, before: exit },
    { name: "suspended before the dispute (not holding it)", held: false, canRule: false, before: suspend },
    { name: "Exited before the dispute (not holding it)", held: false, canRule: false, before: exited },
    {
      name: "Active, but the registry refused to count the dispute (not holding it)",
      held: false,
      canRule: true,
      before: uncounted,
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
          const p = await loadFixture(protocolWithWallets);
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
