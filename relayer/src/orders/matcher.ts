/**
 * The matcher: finds the acceptor for an order. It screens the user, gathers every registered acceptor from the
 * projection (`accs`, `acc:`, `accm:`, `gw:`) and the desk, keeps the eligible ones (matching.ts), ranks them and
 * reserves float (buy side) with the first that still has it, screening each before it is chosen. The projection
 * and desk are read into snapshots at most {@link PROJECTION_SNAPSHOT_MS} old, so a match costs one Redis round trip
 * (the reservation) in the common case.
 */
import type { Store } from "../store/store";
import type { Desk, DeskSnapshot, AcceptorProfile } from "./desk";
import {
  ELIGIBILITY_RULES,
  eligibility,
  rankGroups,
  type Candidate,
  type CandidateGateway,
  type EligibilityRule,
  type MatchRequest,
  type OnChainAcceptor,
} from "./matching";
import type { Reservations } from "./reservations";
import type { Screening } from "./screening";

/** How old the projection snapshot may be. */
export const PROJECTION_SNAPSHOT_MS = 500;
/** How often the projection snapshot is read whole even when meta did not move. */
export const FULL_PROJECTION_RELOAD_MS = 60_000;
/** Candidates one reservation script run tries, in rank order (one round trip). */
export const RESERVE_BATCH = 8;
/** Most reservation rounds of one match before it gives up (each refusal corrects the snapshot, so rarely hit). */
export const MAX_RESERVE_ROUNDS = 32;

export type MatchReasons = Partial<Record<EligibilityRule | "screened", number>>;

export type MatchOutcome =
  | { ok: true; acceptor: string; rate: string; profile: AcceptorProfile }
  | {
      ok: false;
      /** How many acceptors each rule (or screening) turned away. */
      reasons: MatchReasons;
      /** Set when the user's own address was refused by screening: nothing was matched. */
      screened?: { address: string; reason: "deny-list" | "token-blacklist" };
    };

export type Matcher = ReturnType<typeof createMatcher>;

/** One acceptor as the projection has it, reservations per token included. */
type Registered = {
  acceptor: string;
  onChain: OnChainAcceptor;
  gateway?: CandidateGateway;
  /** Reserved float per token, from the scripts' recorded sums (only while their earliest expiry is ahead). */
  reserved: Map<string, bigint>;
};

type ProjectionSnapshot = { at: number; acceptors: Registered[] };

function onChainOf(acc: Record<string, string> | undefined, methods: string[]): OnChainAcceptor {
  if (acc === undefined) return { status: "unknown", gateway: "", methods: new Set(), tokens: {} };
  const tokens: Record<string, { minAmount: bigint; maxAmount: bigint; free: bigint }> = {};
  for (const field of Object.keys(acc)) {
    const m = /^(min|max|free):(0x[0-9a-f]{40})$/.exec(field);
    if (!m || tokens[m[2]] !== undefined) continue;
    const t = m[2];
    if (acc[`max:${t}`] === undefined) continue; // no limits set: the registry refuses its deals
    tokens[t] = {
      minAmount: BigInt(acc[`min:${t}`] ?? "0"),
      maxAmount: BigInt(acc[`max:${t}`]),
      free: BigInt(acc[`free:${t}`] ?? "0"),
    };
  }
  return { status: acc.status, gateway: acc.gateway, methods: new Set(methods), tokens };
}

/** The desk and projection snapshots joined: candidates per token, and their rank groups per currency and side. */
type Joined = {
  desk: DeskSnapshot;
  projection: ProjectionSnapshot;
  byToken: Map<string, Candidate[]>;
  ranked: Map<string, Candidate[][]>;
};

export function createMatcher(deps: {
  desk: Pick<Desk, "snapshot">;
  reservations: Pick<Reservations, "reserveFirst" | "sums">;
  store: Pick<Store, "zrangeAll" | "getHashes" | "smembers" | "projectionState">;
  screening: Pick<Screening, "screen">;
  options: { acceptorHeartbeatMs: number };
  now?: () => number;
}) {
  const { desk, reservations, store, screening, options } = deps;
  const now = deps.now ?? Date.now;
  let turn = 0;
  let projection: ProjectionSnapshot | undefined;
  let loading: Promise<ProjectionSnapshot> | undefined;
  let joined: Joined | undefined;

  /** The projection's version the snapshot was read at, and when it was last read whole. */
  let version = "";
  let fullAt = -Infinity;

  /** Carries the registry records over, with reserved sums read anew. */
  function withSums(acceptors: Registered[], sums: Map<string, { reserved: bigint; until: number }>, at: number) {
    return acceptors.map((r) => {
      const reserved = new Map<string, bigint>();
      for (const token of Object.keys(r.onChain.tokens)) {
        const sum = sums.get(`${r.acceptor}:${token}`);
        // A sum whose earliest reservation has lapsed may count it: unknown, left to the reservation script.
        if (sum !== undefined && sum.until > at) reserved.set(token, sum.reserved);
      }
      return { ...r, reserved };
    });
  }

  async function loadProjection(): Promise<ProjectionSnapshot> {
    const started = now();
    // Every change of the projection is a commit or rollback that moves meta (block, hash, seq, reorgs), or a
    // reset that empties it: while meta stands still, the registry records do too and only the sums are read.
    const { meta } = await store.projectionState();
    const current = [meta.block, meta.hash, meta.seq, meta.reorgs, meta.rebuilding, meta.built].join("|");
    if (projection !== undefined && current === version && started - fullAt < FULL_PROJECTION_RELOAD_MS) {
      return { at: started, acceptors: withSums(projection.acceptors, await reservations.sums(), started) };
    }
    const acceptors = await store.zrangeAll("accs");
    const [hashes, methodSets, sums] = await Promise.all([
      store.getHashes(acceptors.map((a) => `acc:${a}`)),
      Promise.all(acceptors.map((a) => store.smembers(`accm:${a}`))),
      reservations.sums(),
    ]);
    version = current;
    fullAt = started;
    const gatewayNames = [...new Set(hashes.flatMap((h) => (h?.gateway ? [h.gateway] : [])))];
    const gatewayHashes = await store.getHashes(gatewayNames.map((g) => `gw:${g}`));
    const gateways = new Map<string, CandidateGateway>();
    gatewayNames.forEach((g, i) => {
      const h = gatewayHashes[i];
      if (h !== undefined)
        gateways.set(g, { status: h.status, suspended: h.suspended === "1", feeBps: Number(h.feeBps) });
    });
    const registered: Registered[] = acceptors.map((acceptor, i) => {
      const onChain = onChainOf(hashes[i], methodSets[i]);
      return { acceptor, onChain, gateway: gateways.get(onChain.gateway), reserved: new Map() };
    });
    return { at: started, acceptors: withSums(registered, sums, started) };
  }

  function refresh(): Promise<ProjectionSnapshot> {
    loading ??= loadProjection()
      .then((snap) => {
        projection = snap;
        return snap;
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  }

  async function projectionSnapshot(): Promise<ProjectionSnapshot> {
    const age = projection === undefined ? Infinity : now() - projection.at;
    if (projection !== undefined && age < PROJECTION_SNAPSHOT_MS) {
      if (age >= PROJECTION_SNAPSHOT_MS / 2) refresh().catch(() => undefined);
      return projection;
    }
    return refresh();
  }

  const NO_STATS = { assigned: 0, completed: 0, declined: 0, timedOut: 0 };

  async function joinedSnapshot(): Promise<Joined> {
    const [d, p] = await Promise.all([desk.snapshot(), projectionSnapshot()]);
    if (joined === undefined || joined.desk !== d || joined.projection !== p) {
      joined = { desk: d, projection: p, byToken: new Map(), ranked: new Map() };
    }
    return joined;
  }

  /** Every registered acceptor as a candidate for orders in `token` (built once per joined snapshot). */
  function candidatesOf(j: Joined, token: string): Candidate[] {
    let list = j.byToken.get(token);
    if (list === undefined) {
      list = j.projection.acceptors.map((r) => {
        const entry = j.desk.entries.get(r.acceptor);
        return {
          acceptor: r.acceptor,
          onChain: r.onChain,
          gateway: r.gateway,
          profile: entry?.profile,
          lastHeartbeat: entry?.lastHeartbeat,
          online: entry?.online ?? false,
          stats: entry?.stats ?? NO_STATS,
          reserved: r.reserved.get(token) ?? 0n,
          chargebacks: entry?.chargebacks,
          blockedUsers: entry?.blockedUsers,
        };
      });
      j.byToken.set(token, list);
    }
    return list;
  }

  /** The candidates that quote the currency, in rank groups (built once per joined snapshot, token and side). */
  function rankedOf(j: Joined, r: MatchRequest): Candidate[][] {
    const key = `${r.token}|${r.currency}|${r.side}`;
    let groups = j.ranked.get(key);
    if (groups === undefined) {
      const quoting = candidatesOf(j, r.token).filter((c) => c.profile?.rates[r.currency] !== undefined);
      groups = rankGroups(quoting, r);
      j.ranked.set(key, groups);
    }
    return groups;
  }

  return {
    /**
     * Matches the order: the best-ranked eligible acceptor that passes screening and (buy side) whose float could be
     * reserved for `reserveMs`. Otherwise how many acceptors each rule turned away.
     *
     * Ranking is done once per snapshot; a match walks the rank groups (each entered at the match's turn, skipping
     * its ineligible members: round robin among equals) and stops at the first acceptor it can have. Only a match
     * that finds nobody checks every acceptor, to count the reasons.
     */
    async match(req: MatchRequest & { orderId: string; user: string; reserveMs: number }): Promise<MatchOutcome> {
      const token = req.token.toLowerCase();
      const request: MatchRequest = {
        ...req,
        token,
        user: req.user.toLowerCase(),
        exclude: req.exclude.map((a) => a.toLowerCase()),
      };
      const user = await screening.screen([req.user], token);
      if (!user.ok) {
        return { ok: false, reasons: { screened: 1 }, screened: { address: user.address, reason: user.reason } };
      }
      const j = await joinedSnapshot();
      const myTurn = turn++;
      const opts = { heartbeatMs: options.acceptorHeartbeatMs };
      const counts = new Map<EligibilityRule | "screened", number>();
      const bump = (rule: EligibilityRule | "screened") => counts.set(rule, (counts.get(rule) ?? 0) + 1);
      const turnedAway = new Set<Candidate>();
      let batch: Candidate[] = [];
      let rounds = 0;
      /** Tries to reserve with the batch (buy side): the chosen one, or undefined after counting the refusals. */
      const reserveBatch = async (): Promise<Candidate | undefined> => {
        const tried = batch;
        batch = [];
        rounds++;
        const held = await reservations.reserveFirst(
          req.orderId,
          tried.map((c) => c.acceptor),
          token,
          request.amount,
          req.reserveMs,
        );
        if (held.ok) {
          const chosen = tried.find((c) => c.acceptor === held.acceptor)!;
          chosen.reserved += request.amount;
          return chosen;
        }
        // The snapshot was behind: remember what the script saw, so later matches skip these acceptors.
        held.refused.forEach((r, i) => (tried[i].reserved = r.reserved));
        for (let i = 0; i < tried.length; i++) bump("insufficient-float");
        return undefined;
      };
      const chosenOf = async (): Promise<Candidate | undefined> => {
        for (const group of rankedOf(j, request)) {
          // Round robin among equals: the group is entered at this match's turn, and its ineligible members
          // skipped (checked lazily: a group of equals can hold hundreds).
          const shift = myTurn % group.length;
          for (let k = 0; k < group.length; k++) {
            if (rounds >= MAX_RESERVE_ROUNDS) return undefined;
            const c = group[(shift + k) % group.length];
            if (!eligibility(c, request, opts).ok) continue;
            turnedAway.add(c);
            const screened = await screening.screen([c.acceptor], token);
            if (!screened.ok) {
              bump("screened");
              continue;
            }
            if (request.side === "sell") return c;
            batch.push(c);
            if (batch.length >= RESERVE_BATCH) {
              const chosen = await reserveBatch();
              if (chosen) return chosen;
            }
          }
        }
        return batch.length > 0 ? reserveBatch() : undefined;
      };
      const chosen = await chosenOf();
      if (chosen) {
        return {
          ok: true,
          acceptor: chosen.acceptor,
          rate: chosen.profile!.rates[request.currency],
          profile: chosen.profile!,
        };
      }
      // Nobody: count why, for every acceptor not already counted above.
      for (const c of candidatesOf(j, token)) {
        if (turnedAway.has(c) && !batch.includes(c)) continue; // counted when it was tried
        const verdict = eligibility(c, request, opts);
        bump(verdict.ok ? "insufficient-float" : verdict.rule);
      }
      const reasons: MatchReasons = {};
      for (const rule of [...ELIGIBILITY_RULES, "screened" as const]) {
        const n = counts.get(rule);
        if (n !== undefined) reasons[rule] = n;
      }
      return { ok: false, reasons };
    },
  };
}
