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
  rank,
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
/** Most ranked candidates a match tries to reserve with before it gives up (each try is a round trip). */
export const MAX_RESERVE_ATTEMPTS = 16;

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

export function createMatcher(deps: {
  desk: Pick<Desk, "snapshot">;
  reservations: Pick<Reservations, "reserve" | "reservedOfMany">;
  store: Pick<Store, "zrangeAll" | "getHashes" | "smembers">;
  screening: Pick<Screening, "screen">;
  options: { acceptorHeartbeatMs: number };
  now?: () => number;
}) {
  const { desk, reservations, store, screening, options } = deps;
  const now = deps.now ?? Date.now;
  let turn = 0;
  let projection: ProjectionSnapshot | undefined;
  let loading: Promise<ProjectionSnapshot> | undefined;

  async function loadProjection(): Promise<ProjectionSnapshot> {
    const started = now();
    const acceptors = await store.zrangeAll("accs");
    const [hashes, methodSets] = await Promise.all([
      store.getHashes(acceptors.map((a) => `acc:${a}`)),
      Promise.all(acceptors.map((a) => store.smembers(`accm:${a}`))),
    ]);
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
    const pairs = registered.flatMap((r) =>
      Object.entries(r.onChain.tokens)
        .filter(([, t]) => t.free > 0n)
        .map(([token]) => ({ r, token })),
    );
    const sums = await reservations.reservedOfMany(pairs.map(({ r, token }) => ({ acceptor: r.acceptor, token })));
    pairs.forEach(({ r, token }, i) => r.reserved.set(token, sums[i]));
    return { at: started, acceptors: registered };
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

  function candidateOf(r: Registered, snap: DeskSnapshot, token: string): Candidate {
    const entry = snap.entries.get(r.acceptor);
    return {
      acceptor: r.acceptor,
      onChain: r.onChain,
      gateway: r.gateway,
      profile: entry?.profile,
      lastHeartbeat: entry?.lastHeartbeat,
      online: entry?.online ?? false,
      stats: entry?.stats ?? NO_STATS,
      reserved: r.reserved.get(token) ?? 0n,
    };
  }

  return {
    /**
     * Matches the order: the best-ranked eligible acceptor that passes screening and (buy side) whose float could be
     * reserved for `reserveMs`. Otherwise how many acceptors each rule turned away.
     */
    async match(req: MatchRequest & { orderId: string; user: string; reserveMs: number }): Promise<MatchOutcome> {
      const token = req.token.toLowerCase();
      const request: MatchRequest = { ...req, token, exclude: req.exclude.map((a) => a.toLowerCase()) };
      const user = await screening.screen([req.user], token);
      if (!user.ok)
        return { ok: false, reasons: { screened: 1 }, screened: { address: user.address, reason: user.reason } };
      const [snap, proj] = await Promise.all([desk.snapshot(), projectionSnapshot()]);
      const counts = new Map<EligibilityRule | "screened", number>();
      const bump = (rule: EligibilityRule | "screened") => counts.set(rule, (counts.get(rule) ?? 0) + 1);
      const eligible: { c: Candidate; r: Registered }[] = [];
      const byAcceptor = new Map<string, Registered>();
      for (const r of proj.acceptors) {
        const c = candidateOf(r, snap, token);
        const verdict = eligibility(c, request, { heartbeatMs: options.acceptorHeartbeatMs });
        if (verdict.ok) {
          eligible.push({ c, r });
          byAcceptor.set(r.acceptor, r);
        } else bump(verdict.rule);
      }
      const ranked = rank(
        eligible.map((e) => e.c),
        request,
        turn++,
      );
      let attempts = 0;
      for (const c of ranked) {
        if (attempts >= MAX_RESERVE_ATTEMPTS) {
          bump("insufficient-float");
          continue;
        }
        const screened = await screening.screen([c.acceptor], token);
        if (!screened.ok) {
          bump("screened");
          continue;
        }
        if (request.side === "buy") {
          attempts++;
          const held = await reservations.reserve(req.orderId, c.acceptor, token, request.amount, req.reserveMs);
          if (!held.ok) {
            // The snapshot was behind: remember what the script saw, so the next matches skip this acceptor.
            byAcceptor.get(c.acceptor)?.reserved.set(token, held.reserved);
            bump("insufficient-float");
            continue;
          }
          byAcceptor.get(c.acceptor)?.reserved.set(token, c.reserved + request.amount);
        }
        return { ok: true, acceptor: c.acceptor, rate: c.profile!.rates[request.currency], profile: c.profile! };
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
