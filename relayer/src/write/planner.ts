/**
 * The submitter's planner: turns the submissions queued in one batch window into escrow calls. A payee's signed
 * "performed" and the payer's signed "release" for the same deal, queued together, become one `settleWithSigs`
 * (one call instead of two, and the deal pays at once); every other submission is its own call.
 */
import { Action } from "../../../protocol";
import { decodeActWithSig, encode, type Call } from "./calls";

export type Planned = { submissionIds: string[]; call: Call };

export function planCalls(queued: { id: string; call: Call }[]): Planned[] {
  const plans: Planned[] = [];
  // The first perform and release per deal (by the deal's payee and payer), in queue order.
  const pairs = new Map<string, { perform?: number; release?: number }>();
  const parsed = queued.map((q) => decodeActWithSig(q.call.data));
  parsed.forEach((p, i) => {
    if (!p) return;
    const dealKey = `${queued[i].call.to.toLowerCase()}:${p.deal.payer}:${p.deal.salt}`;
    const pair = pairs.get(dealKey) ?? {};
    if (p.action === Action.Perform && p.signer === p.deal.payee && pair.perform === undefined) pair.perform = i;
    if (p.action === Action.Release && p.signer === p.deal.payer && pair.release === undefined) pair.release = i;
    pairs.set(dealKey, pair);
  });
  const merged = new Map<number, number>();
  for (const { perform, release } of pairs.values()) {
    if (perform !== undefined && release !== undefined)
      merged.set(Math.min(perform, release), Math.max(perform, release));
  }
  const skip = new Set(merged.values());
  queued.forEach((q, i) => {
    if (skip.has(i)) return;
    const partner = merged.get(i);
    if (partner === undefined) {
      plans.push({ submissionIds: [q.id], call: q.call });
      return;
    }
    const [payee, payer] =
      parsed[i]!.action === Action.Perform ? [parsed[i]!, parsed[partner]!] : [parsed[partner]!, parsed[i]!];
    plans.push({
      submissionIds: [q.id, queued[partner].id],
      call: { to: q.call.to, data: encode.settleWithSigs(payee.deal, payee.auth, payer.auth) },
    });
  });
  return plans;
}
