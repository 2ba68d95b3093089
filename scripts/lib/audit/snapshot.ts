/**
 * The chain's state at the audited block against the replay: every deal's stored record, every float and owed
 * balance, the registry's dispute counters, the arbiters of rulings the events could not vouch for, and each
 * token's balance (I1 solvency) and standing towards the escrow (blacklist, pause).
 */
import { Contract, getAddress, id, type Provider } from "ethers";
import type { Escrow, GatewayRegistry } from "../../../typechain-types";
import { DEAL_KINDS, Flags, Status, commitmentOf } from "../../../protocol";
import type { AuditLedger, DealState } from "./ledger";
import { formatAmount, same, statusName } from "./names";
import { mapLimit, optionalCall, withRetry } from "./rpc";
import type { Alert, Inconsistency, TokenReport } from "./types";

const ERC20_ABI = [
  "function balanceOf(address account) view returns (uint256)",
  "function symbol() view returns (string)",
  "function decimals() view returns (uint8)",
];

/** `isBlackListed(address)` (USDT's blacklist) and `paused()`. */
const IS_BLACKLISTED_SELECTOR = id("isBlackListed(address)").slice(0, 10);
const PAUSED_SELECTOR = id("paused()").slice(0, 10);

export type SnapshotContext = {
  provider: Provider;
  escrow: Escrow;
  registry: GatewayRegistry;
  /** The escrow's address, checksummed. */
  escrowAddress: string;
  ledger: AuditLedger;
  /** The audited block. */
  blockTag: number;
  /** Timestamps of the blocks where deals last changed status. */
  blockTimes: ReadonlyMap<number, number>;
  /** Reads in flight at once. */
  limit: number;
};

/** What the comparison found, in the order the checks ran, and the tokens' figures. */
export type Snapshot = { inconsistencies: Inconsistency[]; alerts: Alert[]; tokens: TokenReport[] };

/** A boolean a view returns in one word (0 or 1); null for anything else, "no such function". */
export function boolWord(data: string): boolean | null {
  if (!/^0x[0-9a-fA-F]{64}$/.test(data)) return null;
  const value = BigInt(data);
  return value === 0n ? false : value === 1n ? true : null;
}

/** The ERROR line of a token that blacklists the escrow. */
export const blacklistedMessage = (token: string, symbol: string): string =>
  `token ${symbol} ${token} has blacklisted the escrow: every payout in it is deferred to owed; governance should disallow the token`;

/** Runs every comparison; throws on RPC failures that outlast the retries. */
export async function readSnapshot(ctx: SnapshotContext): Promise<Snapshot> {
  const inconsistencies: Inconsistency[] = [];
  const alerts: Alert[] = [];
  /** Runs `check` on every item with bounded concurrency; what it finds is reported in the items' order. */
  const checkEach = async <T>(items: readonly T[], check: (item: T, found: Inconsistency[]) => Promise<void>) => {
    const results = await mapLimit(items, ctx.limit, async (item) => {
      const found: Inconsistency[] = [];
      await check(item, found);
      return found;
    });
    inconsistencies.push(...results.flat());
  };
  const { ledger, escrow, registry, blockTag } = ctx;

  // I4: rulings, and evidence, by someone who is none of the allowed and no arbiter by the role events.
  const unverified = [
    ...ledger.unverifiedResolvers.map((r) => ({
      ...r,
      what: `deal ${r.dealId} resolved by ${r.by}, neither its gateway (holding the dispute, in good standing) nor an arbiter`,
    })),
    ...ledger.unverifiedPosters.map((r) => ({
      ...r,
      what: `evidence posted on deal ${r.dealId} by ${r.by}, neither a party, its gateway nor an arbiter`,
    })),
  ];
  await checkEach(unverified, async (r, found) => {
    if (!(await withRetry(() => registry.isArbiter(r.by, { blockTag }), "isArbiter"))) {
      found.push({ check: "I4", dealId: r.dealId, block: r.block, message: `authority: ${r.what}` });
    }
  });

  // Deals, floats and owed balances against storage.
  await checkEach([...ledger.deals.values()], (d, found) => compareDeal(ctx, d, found));
  const floats = [...ledger.floats.values()];
  await checkEach(floats, async (f, found) => {
    const s = await withRetry(() => escrow.floatOf(f.acceptor, f.token, { blockTag }), "floatOf");
    if (s.free !== f.free || s.locked !== f.locked) {
      found.push({
        check: "I5",
        message: `float: ${f.acceptor} in ${f.token} is free ${s.free} / locked ${s.locked} on chain, free ${f.free} / locked ${f.locked} from events`,
      });
    }
  });
  const owed = [...ledger.owed.values()];
  await checkEach(owed, async (o, found) => {
    const s = await withRetry(() => escrow.owed(o.token, o.account, { blockTag }), "owed");
    if (s !== o.amount) {
      found.push({
        check: "storage",
        message: `storage: owed ${o.token} to ${o.account} is ${s} on chain, ${o.amount} from events`,
      });
    }
  });

  // The registry's dispute counters: a gateway's openDisputes is the number of disputes it holds that are still
  // open, plus those that ended without the registry uncounting them (DisputeCountSkipped, reported).
  const held = ledger.heldDisputesByGateway();
  const gateways = new Set<string>([...held.keys(), ...ledger.registryDisputes.keys(), ...ledger.counterDrift.keys()]);
  await checkEach([...gateways].sort(), async (gw, found) => {
    const stored = Number((await withRetry(() => registry.getGateway(gw, { blockTag }), "getGateway")).openDisputes);
    const gateway = getAddress(gw);
    const holds = held.get(gw) ?? 0;
    const drift = ledger.counterDrift.get(gw) ?? 0;
    if (stored !== holds + drift) {
      found.push({
        check: "registry",
        message: `registry: gateway ${gateway} has openDisputes ${stored}, but holds ${holds} open dispute(s) of this escrow${drift > 0 ? ` and ${drift} that ended uncounted` : ""} (another escrow using the registry would explain more)`,
      });
    }
    const fromEvents = ledger.registryDisputes.get(gw) ?? 0;
    if (stored !== fromEvents) {
      found.push({
        check: "registry",
        message: `registry: gateway ${gateway} has openDisputes ${stored} on chain, ${fromEvents} by its GatewayDisputesChanged events`,
      });
    }
    if (drift > 0) {
      alerts.push({
        level: "warning",
        check: "registry",
        gateway,
        message: `gateway ${gateway}: ${drift} held dispute(s) ended without the registry uncounting them (DisputeCountSkipped): its openDisputes stays ${drift} too high, and it cannot complete its exit while it is above zero`,
      });
    }
  });

  // I1 per token, and the token's standing towards the escrow (blacklist, pause) at the audited block.
  const tokens = [...ledger.tokens].sort();
  const solvency: Inconsistency[][] = tokens.map(() => []);
  const tokenReports = await mapLimit(tokens, ctx.limit, (token, i) => readToken(ctx, token, solvency[i]));
  inconsistencies.push(...solvency.flat());
  for (const t of tokenReports) {
    if (t.escrowBlacklisted) {
      alerts.push({ level: "error", check: "token", token: t.token, message: blacklistedMessage(t.token, t.symbol) });
    }
    if (t.paused) {
      alerts.push({
        level: "warning",
        check: "token",
        token: t.token,
        message: `token ${t.symbol} ${t.token} is paused: payouts in it are deferred to owed until it is unpaused`,
      });
    }
  }
  return { inconsistencies, alerts, tokens: tokenReports };
}

/** A deal's stored record (status, commitment, flags, since) against the replay. */
async function compareDeal(ctx: SnapshotContext, d: DealState, found: Inconsistency[]): Promise<void> {
  const rec = await withRetry(() => ctx.escrow.getDeal(d.dealId, { blockTag: ctx.blockTag }), `getDeal ${d.dealId}`);
  const mismatch = (message: string) => found.push({ check: "storage", dealId: d.dealId, message });
  const stored = Number(rec.status);
  if (stored !== d.status) {
    mismatch(`storage: deal ${d.dealId} status ${statusName(stored)} on chain, ${statusName(d.status)} from events`);
  }
  const commitment = commitmentOf({ ...d.params, kind: DEAL_KINDS.indexOf(d.params.kind) });
  if (String(rec.commitment).toLowerCase() !== commitment) {
    mismatch(
      `storage: deal ${d.dealId} commitment ${rec.commitment} on chain, ${commitment} from its DealOpened parameters`,
    );
  }
  const flags =
    d.status === Status.Open && d.payerReleased
      ? Flags.PayerReleased
      : d.status === Status.Disputed && d.held
        ? Flags.GatewayHolds
        : 0;
  if (Number(rec.flags) !== flags)
    mismatch(`storage: deal ${d.dealId} flags ${rec.flags} on chain, ${flags} from events`);
  const since = ctx.blockTimes.get(d.sinceBlock)!;
  if (Number(rec.since) !== since) {
    mismatch(`storage: deal ${d.dealId} since ${rec.since} on chain, ${since} (block ${d.sinceBlock}) from events`);
  }
}

/** A token's balance against the escrow's liabilities in it (an I1 deficit goes to `found`), and its standing. */
async function readToken(ctx: SnapshotContext, token: string, found: Inconsistency[]): Promise<TokenReport> {
  const { provider, escrowAddress, ledger, blockTag } = ctx;
  const erc20 = new Contract(token, ERC20_ABI, provider);
  const balance: bigint = await withRetry(() => erc20.balanceOf(escrowAddress, { blockTag }), `balanceOf ${token}`);
  const symbol: string = await erc20.symbol().catch(() => "?");
  const decimals: number | null = await erc20
    .decimals()
    .then((d: bigint) => Number(d))
    .catch(() => null);
  /** A view the token may not have: a revert, or an answer that is not one word of 0 or 1, is null. */
  const flag = (data: string) =>
    optionalCall(
      async () => boolWord(await provider.call({ to: token, data, blockTag })),
      null,
      `eth_call ${data.slice(0, 10)} on ${token}`,
    );
  const escrowBlacklisted = await flag(
    IS_BLACKLISTED_SELECTOR + escrowAddress.toLowerCase().slice(2).padStart(64, "0"),
  );
  const paused = await flag(PAUSED_SELECTOR);
  let freeFloat = 0n;
  let lockedFloat = 0n;
  for (const f of ledger.floats.values()) {
    if (same(f.token, token)) {
      freeFloat += f.free;
      lockedFloat += f.locked;
    }
  }
  let owedTotal = 0n;
  for (const o of ledger.owed.values()) if (same(o.token, token)) owedTotal += o.amount;
  const openDeals = ledger.openDealsTotal(token);
  const liabilities = openDeals + freeFloat + lockedFloat + owedTotal;
  const surplus = balance - liabilities;
  if (surplus < 0n) {
    const f = (v: bigint) => formatAmount(v, decimals);
    found.push({
      check: "I1",
      message: `I1 solvency: ${symbol} ${token} balance ${f(balance)} < liabilities ${f(liabilities)} (deficit ${f(-surplus)})`,
    });
  }
  return {
    token,
    symbol,
    decimals,
    balance: balance.toString(),
    openDeals: openDeals.toString(),
    freeFloat: freeFloat.toString(),
    lockedFloat: lockedFloat.toString(),
    owed: owedTotal.toString(),
    liabilities: liabilities.toString(),
    surplus: surplus.toString(),
    escrowBlacklisted,
    paused,
  };
}
