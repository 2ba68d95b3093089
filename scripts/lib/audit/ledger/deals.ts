/**
 * The rules of a deal's life, replayed event by event: every step must start from a status the contracts allow
 * (I3), be taken by someone allowed at a time allowed (I4), and split the amount exactly (I2). Written from the
 * contracts' NatSpec, independently of the relayer's projection and of the protocol model's transition table (only
 * the set of final statuses is shared): the audit is a second reading of the same rules.
 */
import {
  MAX_DELEGATE_LOCK_DURATION,
  MAX_DELEGATE_RELEASE_WINDOW,
  Status,
  dealIdOf,
  feeOf,
  isDelegateSalt,
  isFinal,
  type RefundReasonName,
} from "../../../../protocol";
import { checksummed as cs, kindName, reasonName, same, statusName } from "../names";
import type { Books, DealState, EventOf } from "./books";

const standing = (g: { status: string; suspended: boolean } | undefined): string =>
  g === undefined ? "unknown to the registry" : `${g.status}${g.suspended ? ", suspended" : ""}`;

export function opened(b: Books, e: EventOf<"DealOpened">): void {
  const existing = b.deals.get(e.dealId.toLowerCase());
  if (existing) {
    b.flag("I3", e, `state machine: deal ${e.dealId} opened again while ${statusName(existing.status)}`, e.dealId);
    return;
  }
  const p = e.deal;
  if (!same(dealIdOf(p.payer, p.salt), e.dealId)) {
    b.flag("I4", e, `authority: deal ${e.dealId} is not keccak256(payer, salt) of its parameters`, e.dealId);
  }
  if (isDelegateSalt(p.salt) && p.kind !== "onramp") {
    b.flag(
      "I4",
      e,
      `authority: deal ${e.dealId} (${kindName(p.kind)}) was opened with a salt reserved for delegate locks`,
      e.dealId,
    );
  }
  const d: DealState = {
    dealId: e.dealId,
    params: p,
    status: Status.Open,
    payerReleased: false,
    held: false,
    openedBlock: e.block,
    openedTime: e.time,
    endedHeldDispute: false,
    sinceBlock: e.block,
    payeeAmount: 0n,
    fee: 0n,
    refund: 0n,
    deferredPayee: false,
    deferredPayer: false,
    trail: [],
  };
  b.deals.set(e.dealId.toLowerCase(), d);
  b.tokens.add(cs(p.token));
  if (p.kind === "onramp") {
    const f = b.floatOf(p.payer, p.token);
    if (p.amount > f.free) {
      b.flag(
        "I5",
        e,
        `float: on-ramp deal ${e.dealId} locked ${p.amount} of ${f.token} from ${f.acceptor} with only ${f.free} free`,
        e.dealId,
      );
    }
    f.free -= p.amount;
    f.locked += p.amount;
  }
}

/** A lock by the acceptor's delegate: its salt, its bounds, and the delegate the acceptor named. */
export function lockedByDelegate(b: Books, e: EventOf<"DealLockedByDelegate">): void {
  const d = b.dealFor(e, [Status.Open]);
  if (!d) return;
  const p = d.params;
  const problems: string[] = [];
  if (p.kind !== "onramp") problems.push(`it is a ${kindName(p.kind)} deal, not a lock`);
  if (!isDelegateSalt(p.salt)) problems.push("its salt lacks the delegate prefix");
  if (d.lockedBy !== undefined || e.block !== d.openedBlock) problems.push("it is not the lock's own transaction");
  const named = b.lockDelegates.get(p.payer.toLowerCase());
  if (named !== undefined && !same(named, e.delegate)) problems.push(`the acceptor's lock delegate is ${cs(named)}`);
  if (p.releaseWindow > MAX_DELEGATE_RELEASE_WINDOW) {
    problems.push(`its release window ${p.releaseWindow} s is above ${MAX_DELEGATE_RELEASE_WINDOW} s`);
  }
  if (d.openedTime !== undefined && p.deadline > d.openedTime + MAX_DELEGATE_LOCK_DURATION) {
    problems.push(`its deadline ${p.deadline} is more than ${MAX_DELEGATE_LOCK_DURATION} s after the lock`);
  }
  if (problems.length > 0) {
    b.flag(
      "I4",
      e,
      `authority: deal ${d.dealId} locked by delegate ${cs(e.delegate)}: ${problems.join("; ")}`,
      d.dealId,
    );
  }
  d.lockedBy = e.delegate;
}

export function performed(b: Books, e: EventOf<"DealPerformed">): void {
  const d = b.dealFor(e, [Status.Open]);
  if (!d) return;
  b.move(d, Status.Performed, e.block);
  d.performedTime = e.time;
}

export function releaseApproved(b: Books, e: EventOf<"DealReleaseApproved">): void {
  const d = b.dealFor(e, [Status.Open]);
  if (!d) return;
  if (d.payerReleased) b.flag("I3", e, `deal ${d.dealId}: DealReleaseApproved twice`, d.dealId);
  d.payerReleased = true;
}

/**
 * Open → Released: both signatures before "performed"; Performed → Released: release or claim; Disputed →
 * Released: the payer gives in (or both sign). The event carries no amounts: they follow from the deal (the amount
 * less the fee to the payee, the fee to the gateway).
 */
export function released(b: Books, e: EventOf<"DealReleased">): void {
  const d = b.dealFor(e, [Status.Open, Status.Performed, Status.Disputed]);
  if (!d) return;
  const fee = feeOf(d.params.amount, d.params.feeBps);
  b.settle(d, e, d.params.amount - fee, fee, 0n, Status.Released);
}

/** The statuses a refund for each reason may start from. */
const REFUNDABLE: Record<RefundReasonName, readonly number[]> = {
  deadline: [Status.Open],
  payee_cancel: [Status.Open, Status.Performed, Status.Disputed],
  mutual_cancel: [Status.Open, Status.Performed, Status.Disputed],
  lock_expired: [Status.Performed, Status.Disputed],
};

export function refunded(b: Books, e: EventOf<"DealRefunded">): void {
  const d = b.dealFor(e, REFUNDABLE[e.reason] ?? [], `DealRefunded(${reasonName(e.reason)})`);
  if (!d) return;
  const p = d.params;
  if (e.reason === "deadline" && e.time !== undefined && e.time <= p.deadline) {
    b.flag(
      "I4",
      e,
      `authority: deal ${d.dealId} refunded for its deadline at ${e.time}, before the deadline ${p.deadline}`,
      d.dealId,
    );
  }
  if (e.reason === "lock_expired") {
    const window = b.options.resolutionWindow;
    if (p.kind !== "onramp" || !isDelegateSalt(p.salt) || d.lockedBy === undefined) {
      b.flag("I4", e, `authority: deal ${d.dealId} refunded as an expired lock, but no delegate locked it`, d.dealId);
    } else if (window !== undefined && e.time !== undefined) {
      // A disputed lock keeps its dispute's whole resolution window past the expiry.
      let expiry = p.deadline + p.releaseWindow + window;
      if (d.status === Status.Disputed && d.disputedTime !== undefined) {
        expiry = Math.max(expiry, d.disputedTime + window);
      }
      if (e.time <= expiry) {
        b.flag(
          "I4",
          e,
          `authority: deal ${d.dealId} refunded as an expired lock at ${e.time}, before its expiry ${expiry} (deadline + release window + resolution window, or a dispute's window)`,
          d.dealId,
        );
      }
    }
  }
  d.refundReason = e.reason;
  b.settle(d, e, 0n, 0n, p.amount, Status.Refunded);
}

export function disputed(b: Books, e: EventOf<"DealDisputed">): void {
  const d = b.dealFor(e, [Status.Performed]);
  if (!d) return;
  const p = d.params;
  const byPayer = same(e.by, p.payer);
  if (!byPayer && !same(e.by, p.payee)) {
    b.flag("I4", e, `authority: deal ${d.dealId} disputed by ${cs(e.by)}, neither payer nor payee`, d.dealId);
  } else if (e.time !== undefined && d.performedTime !== undefined) {
    const windowEnd = d.performedTime + p.releaseWindow;
    if (!byPayer && e.time <= windowEnd) {
      b.flag(
        "I4",
        e,
        `authority: deal ${d.dealId} disputed by its payee at ${e.time}, within the payer's release window (until ${windowEnd})`,
        d.dealId,
      );
    }
    if (byPayer && p.autoRelease && e.time > windowEnd) {
      b.flag(
        "I4",
        e,
        `authority: deal ${d.dealId} (autoRelease) disputed by its payer at ${e.time}, after its release window (${windowEnd}): the payee's claim decides then`,
        d.dealId,
      );
    }
  }
  // The registry holds the dispute for the gateway exactly when it is Active and not suspended (unless it refused
  // to count it: DisputeCountSkipped in the same transaction).
  const gw = b.gateways.get(p.gateway.toLowerCase());
  const skipped = b.skippedOpen.delete(d.dealId.toLowerCase());
  if (gw !== undefined) {
    const goodStanding = gw.status === "Active" && !gw.suspended;
    if (e.gatewayHolds && !goodStanding) {
      b.flag(
        "registry",
        e,
        `registry: deal ${d.dealId}'s dispute is held by gateway ${cs(p.gateway)}, which was ${standing(gw)}`,
        d.dealId,
      );
    } else if (!e.gatewayHolds && goodStanding && !skipped) {
      b.flag(
        "registry",
        e,
        `registry: deal ${d.dealId}'s dispute is not held by gateway ${cs(p.gateway)}, which was Active and in good standing, and the registry did not refuse to count it`,
        d.dealId,
      );
    }
  }
  if (skipped && e.gatewayHolds) {
    b.flag(
      "I3",
      e,
      `state machine: deal ${d.dealId}'s dispute is held though the registry skipped its count`,
      d.dealId,
    );
  }
  b.move(d, Status.Disputed, e.block);
  d.held = e.gatewayHolds;
  d.disputedTime = e.time;
  d.trail.push({ kind: "disputed", block: e.block, time: e.time, by: e.by });
}

export function resolved(b: Books, e: EventOf<"DealResolved">): void {
  const d = b.dealFor(e, [Status.Disputed]);
  if (!d) return;
  const { gateway } = d.params;
  const window = b.options.resolutionWindow;
  const windowEnd = window === undefined || d.disputedTime === undefined ? undefined : d.disputedTime + window;
  const inWindow = windowEnd === undefined || e.time === undefined ? undefined : e.time <= windowEnd;
  // The gateway rules (and charges its fee) only a dispute it holds, while it may rule; anyone else, or the
  // gateway in any other case, rules as an arbiter: no fee, and never while the gateway's own window is open.
  const gatewayMayRule = d.held && b.canRule(gateway);
  const asGateway = same(e.by, gateway) && gatewayMayRule;
  if (asGateway) {
    if (inWindow === false) {
      b.flag(
        "I4",
        e,
        `authority: deal ${d.dealId} ruled by its gateway at ${e.time}, after its resolution window (until ${windowEnd})`,
        d.dealId,
      );
    }
  } else {
    if (!b.arbiters.has(e.by.toLowerCase())) b.unverified(b.unverifiedResolvers, d.dealId, e.by, e.block);
    if (gatewayMayRule && inWindow === true) {
      b.flag(
        "I4",
        e,
        `authority: deal ${d.dealId} ruled by ${cs(e.by)} as an arbiter while its gateway held the dispute and its window was open (until ${windowEnd})`,
        d.dealId,
      );
    }
  }
  checkParts(b, e, d, "Resolved", asGateway ? undefined : e.by);
  d.resolvedBy = e.by;
  const { payeeAmount, fee, refund, reasons } = e;
  d.trail.push({ kind: "resolved", block: e.block, time: e.time, by: e.by, payeeAmount, fee, refund, reasons });
  b.settle(d, e, e.payeeAmount, e.fee, e.refund, Status.Resolved);
}

export function split(b: Books, e: EventOf<"DealSplit">): void {
  const d = b.dealFor(e, [Status.Open, Status.Performed, Status.Disputed]);
  if (!d) return;
  checkParts(b, e, d, "Split");
  b.settle(d, e, e.payeeAmount, e.fee, e.refund, Status.Split);
}

/**
 * I2 of the parts a ruling or a split states: they add up to the deal's amount, and the fee is the deal's rate of
 * the payee's gross share (`payeeAmount + fee`), or nothing when an arbiter ruled.
 */
function checkParts(
  b: Books,
  e: EventOf<"DealResolved" | "DealSplit">,
  d: DealState,
  label: "Resolved" | "Split",
  arbiter?: string,
): void {
  const { amount, feeBps } = d.params;
  const gross = e.payeeAmount + e.fee;
  if (gross + e.refund !== amount) {
    b.flag(
      "I2",
      e,
      `conservation: deal ${d.dealId} ${label} payee ${e.payeeAmount} + fee ${e.fee} + refund ${e.refund} != amount ${amount}`,
      d.dealId,
    );
  } else if (arbiter !== undefined) {
    if (e.fee !== 0n) {
      b.flag(
        "I2",
        e,
        `conservation: deal ${d.dealId} ruled by ${cs(arbiter)} as an arbiter charged fee ${e.fee}`,
        d.dealId,
      );
    }
  } else if (e.fee !== feeOf(gross, feeBps)) {
    b.flag(
      "I2",
      e,
      `conservation: deal ${d.dealId} ${label} fee ${e.fee} != ${feeBps} bps of ${gross} (${feeOf(gross, feeBps)})`,
      d.dealId,
    );
  }
}

export function evidence(b: Books, e: EventOf<"EvidencePosted">): void {
  const d = b.deals.get(e.dealId.toLowerCase());
  if (!d) {
    b.flag("I3", e, `state machine: EvidencePosted for unknown deal ${e.dealId}`, e.dealId);
    return;
  }
  if (isFinal(d.status)) {
    b.flag(
      "I4",
      e,
      `authority: evidence posted on deal ${d.dealId} by ${cs(e.by)} after it ended (${statusName(d.status)})`,
      d.dealId,
    );
  }
  d.trail.push({ kind: "evidence", block: e.block, time: e.time, by: e.by, contentHash: e.contentHash, uri: e.uri });
  const p = d.params;
  const party = same(e.by, p.payer) || same(e.by, p.payee) || same(e.by, p.gateway);
  if (!party && !b.arbiters.has(e.by.toLowerCase())) b.unverified(b.unverifiedPosters, d.dealId, e.by, e.block);
}

/**
 * The registry refused to count a dispute (opened: the dispute goes to the arbiter) or to uncount a held dispute
 * that just ended (closed: the gateway's counter stays one too high for good).
 */
export function countSkipped(b: Books, e: EventOf<"DisputeCountSkipped">): void {
  const d = b.deals.get(e.dealId.toLowerCase());
  if (!d) {
    b.flag("I3", e, `state machine: DisputeCountSkipped for unknown deal ${e.dealId}`, e.dealId);
    return;
  }
  if (!same(e.gateway, d.params.gateway)) {
    b.flag(
      "I3",
      e,
      `state machine: DisputeCountSkipped for deal ${d.dealId} names ${cs(e.gateway)}, not its gateway`,
      d.dealId,
    );
    return;
  }
  if (e.opened) {
    if (d.status !== Status.Performed) {
      b.flag(
        "I3",
        e,
        `state machine: DisputeCountSkipped(opened) for deal ${d.dealId} while ${statusName(d.status)}`,
        d.dealId,
      );
      return;
    }
    b.skippedOpen.add(d.dealId.toLowerCase());
    return;
  }
  if (!d.endedHeldDispute) {
    b.flag(
      "I3",
      e,
      `state machine: DisputeCountSkipped(closed) for deal ${d.dealId}, whose held dispute did not just end`,
      d.dealId,
    );
    return;
  }
  d.endedHeldDispute = false;
  const gw = e.gateway.toLowerCase();
  b.counterDrift.set(gw, (b.counterDrift.get(gw) ?? 0) + 1);
}

/** A payout the token refused, credited as owed: only a settled deal's payee share or wallet refund. */
export function payoutDeferred(b: Books, e: EventOf<"PayoutDeferred">): void {
  const d = b.deals.get(e.dealId.toLowerCase());
  if (!d) {
    b.flag("I3", e, `state machine: PayoutDeferred for unknown deal ${e.dealId}`, e.dealId);
  } else if (!isFinal(d.status)) {
    b.flag(
      "I3",
      e,
      `state machine: PayoutDeferred for deal ${e.dealId} while ${statusName(d.status)} (not settled)`,
      e.dealId,
    );
  } else if (!same(e.token, d.params.token)) {
    b.flag("I2", e, `conservation: deal ${e.dealId} deferred a payout in ${cs(e.token)}, not its token`, e.dealId);
  } else {
    // The deal's payee is owed its share, its payer (a wallet, not a float) its refund; nobody else anything.
    const leg = same(e.account, d.params.payee)
      ? { who: "payee", is: "share", amount: d.payeeAmount, deferred: d.deferredPayee }
      : same(e.account, d.params.payer) && d.params.kind !== "onramp"
        ? { who: "payer", is: "refund", amount: d.refund, deferred: d.deferredPayer }
        : undefined;
    if (leg === undefined) {
      b.flag(
        "I2",
        e,
        `conservation: deal ${e.dealId} deferred ${e.amount} to ${cs(e.account)}, who is paid nothing by it`,
        e.dealId,
      );
    } else {
      if (leg.deferred || e.amount !== leg.amount) {
        b.flag(
          "I2",
          e,
          `conservation: deal ${e.dealId} deferred ${e.amount} to its ${leg.who}, whose ${leg.is} is ${leg.amount}${leg.deferred ? " and was deferred already" : ""}`,
          e.dealId,
        );
      }
      if (leg.who === "payee") d.deferredPayee = true;
      else d.deferredPayer = true;
    }
  }
  b.credit(e.token, e.account, e.amount);
}
