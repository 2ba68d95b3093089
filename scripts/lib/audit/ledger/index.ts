/**
 * The replay: rebuilds deals, floats, owed balances, the registry's gateways, lock delegates, arbiters and dispute
 * counters from events applied in (block, logIndex) order, recording every event that is not a legal step (I2–I5)
 * as an inconsistency. Pure, no IO: unit-tested on hand-made event sequences. Written from the contracts' NatSpec,
 * independently of the relayer's projection (it checks the same chain from another angle).
 */
import { getAddress } from "ethers";
import { isDelegateSalt, isFinal } from "../../../../protocol";
import type { DisputeRuler } from "../types";
import { Books, floatKey, type AuditEvent, type DealState } from "./books";
import * as deals from "./deals";

export * from "./books";

export class AuditLedger extends Books {
  /** Applies events in order. */
  applyAll(events: readonly AuditEvent[]): this {
    for (const e of events) this.apply(e);
    return this;
  }

  /** Applies one event; the protocol's events the audit has no rule for (fees, bonds, limits) change nothing. */
  apply(e: AuditEvent): void {
    this.events += 1;
    switch (e.type) {
      case "DealOpened":
        return deals.opened(this, e);
      case "DealLockedByDelegate":
        return deals.lockedByDelegate(this, e);
      case "DealPerformed":
        return deals.performed(this, e);
      case "DealReleaseApproved":
        return deals.releaseApproved(this, e);
      case "DealReleased":
        return deals.released(this, e);
      case "DealRefunded":
        return deals.refunded(this, e);
      case "DealDisputed":
        return deals.disputed(this, e);
      case "DealResolved":
        return deals.resolved(this, e);
      case "DealSplit":
        return deals.split(this, e);
      case "EvidencePosted":
        return deals.evidence(this, e);
      case "DisputeCountSkipped":
        return deals.countSkipped(this, e);
      case "PayoutDeferred":
        return deals.payoutDeferred(this, e);
      case "OwedClaimed": {
        const o = this.owedOf(e.token, e.account);
        if (e.amount > o.amount) {
          this.flag(
            "I2",
            e,
            `owed: ${o.account} claimed ${e.amount} of ${o.token} but only ${o.amount} was owed (owed would go negative)`,
          );
        }
        o.amount -= e.amount;
        o.claimed += e.amount;
        return;
      }
      case "FloatDeposited": {
        const f = this.floatOf(e.acceptor, e.token);
        f.free += e.amount;
        f.deposits += e.amount;
        return;
      }
      case "FloatWithdrawn": {
        const f = this.floatOf(e.acceptor, e.token);
        if (e.amount > f.free) {
          this.flag("I5", e, `float: ${f.acceptor} withdrew ${e.amount} of ${f.token} with only ${f.free} free`);
        }
        f.free -= e.amount;
        f.withdrawals += e.amount;
        return;
      }
      case "GatewayDisputesChanged":
        this.registryDisputes.set(e.gateway.toLowerCase(), e.openDisputes);
        return;
      case "GatewayRegistered":
        this.gateways.set(e.gateway.toLowerCase(), { status: "Pending", suspended: false });
        return;
      case "GatewayApproved":
        return this.stage(e.gateway, "Active");
      case "GatewayExitRequested":
        return this.stage(e.gateway, "Exiting");
      case "GatewayExited":
        return this.stage(e.gateway, "Exited");
      case "GatewaySuspended":
      case "GatewayReinstated": {
        const g = this.gateways.get(e.gateway.toLowerCase());
        if (g) g.suspended = e.type === "GatewaySuspended";
        return;
      }
      case "AcceptorRegistered":
      case "AcceptorLockDelegateSet":
        this.lockDelegates.set(e.acceptor.toLowerCase(), e.lockDelegate.toLowerCase());
        return;
      case "ArbiterGranted":
        this.arbiters.add(e.account.toLowerCase());
        return;
      case "ArbiterRevoked":
        this.arbiters.delete(e.account.toLowerCase());
        return;
      case "TokenAllowed":
        if (e.allowed) this.tokens.add(getAddress(e.token));
        return;
      default:
        return;
    }
  }

  /**
   * Who may end a disputed deal at `now` (unix seconds): its gateway while it holds the dispute, may rule and the
   * window is open; otherwise an arbiter if anyone holds ARBITER_ROLE; otherwise only its parties (release,
   * cancel, split or settle by signatures).
   */
  rulerOf(d: DealState, now: number): DisputeRuler {
    const window = this.options.resolutionWindow;
    const inWindow = window === undefined || d.disputedTime === undefined || now <= d.disputedTime + window;
    if (d.held && this.canRule(d.params.gateway) && inWindow) return "gateway";
    return this.arbiters.size > 0 ? "arbiter" : "parties only";
  }

  /**
   * End-of-replay checks that need no IO: I5 for every float (free + locked equals the counters; locked equals the
   * amounts of its open on-ramp deals; nothing negative), owed never negative, and every salt with the delegate
   * prefix used by a delegate's lock.
   */
  finish(): this {
    const lockedByFloat = new Map<string, bigint>();
    for (const d of this.deals.values()) {
      if (d.params.kind === "onramp" && !isFinal(d.status)) {
        const key = floatKey(d.params.payer, d.params.token);
        lockedByFloat.set(key, (lockedByFloat.get(key) ?? 0n) + d.params.amount);
      }
      if (isDelegateSalt(d.params.salt) && d.params.kind === "onramp" && d.lockedBy === undefined) {
        this.inconsistencies.push({
          check: "I4",
          dealId: d.dealId,
          block: d.openedBlock,
          message: `authority: deal ${d.dealId} was locked with a salt reserved for delegate locks, but not by a delegate (no DealLockedByDelegate)`,
        });
      }
    }
    for (const [key, f] of this.floats) {
      const expected = f.deposits - f.withdrawals - f.released + f.refunded;
      if (f.free + f.locked !== expected) {
        this.inconsistencies.push({
          check: "I5",
          message: `float: ${f.acceptor} in ${f.token} free ${f.free} + locked ${f.locked} != deposits ${f.deposits} - withdrawals ${f.withdrawals} - released ${f.released} + refunded ${f.refunded} (${expected})`,
        });
      }
      const openLocked = lockedByFloat.get(key) ?? 0n;
      if (f.locked !== openLocked) {
        this.inconsistencies.push({
          check: "I5",
          message: `float: ${f.acceptor} in ${f.token} locked ${f.locked} != amounts of its open on-ramp deals ${openLocked}`,
        });
      }
      if (f.free < 0n || f.locked < 0n) {
        this.inconsistencies.push({
          check: "I5",
          message: `float: ${f.acceptor} in ${f.token} is negative (free ${f.free}, locked ${f.locked})`,
        });
      }
    }
    for (const o of this.owed.values()) {
      if (o.amount < 0n) {
        this.inconsistencies.push({
          check: "I2",
          message: `owed: ${o.account} is owed ${o.amount} of ${o.token}, a negative balance`,
        });
      }
    }
    return this;
  }
}
