/**
 * Matching, the pure part: whether one acceptor may take an order (every {@link EligibilityRule}, checked in the
 * order of {@link ELIGIBILITY_RULES}, the first that fails is the answer) and how the eligible ones are ranked. No
 * IO: the matcher (matcher.ts) gathers each {@link Candidate} from the projection and the desk and calls these.
 */
import type { AcceptorProfile } from "./desk";

/** buy: the user pays fiat and receives USDT (from the acceptor's float); sell: the user pays USDT, receives fiat. */
export type OrderSide = "buy" | "sell";

/** One order to match. `amount` is in token base units; `now` is unix ms. */
export type MatchRequest = {
  side: OrderSide;
  /** Lower-case token address. */
  token: string;
  amount: bigint;
  /** ISO 4217, e.g. "EUR". */
  currency: string;
  /** Method name with its currency, e.g. "SEPA:EUR". */
  method: string;
  /** keccak256 of `method` (lower-case bytes32 hex): what the acceptor registered on chain. */
  methodHash: string;
  /** Acceptors already tried for this order (declined or timed out). */
  exclude: string[];
  now: number;
  /** The order's user (lower-case): an acceptor that flagged a chargeback of this user's takes none of its buy orders. */
  user?: string;
};

/** What the projection says of an acceptor (its `acc:` hash and `accm:` set), with amounts parsed. */
export type OnChainAcceptor = {
  /** "pending" | "active" | "suspended" (the registry's life cycle), or "unknown" without a projection hash. */
  status: string;
  gateway: string;
  /** Method hashes it supports on chain. */
  methods: ReadonlySet<string>;
  /** Per token (lower-case address): its limits and its free float. Tokens without limits set are absent. */
  tokens: Readonly<Record<string, { minAmount: bigint; maxAmount: bigint; free: bigint }>>;
};

/** The acceptor's gateway as the projection has it (`gw:` hash); absent when the projection has none. */
export type CandidateGateway = { status: string; suspended: boolean; feeBps: number };

/** An acceptor's outcomes, as the desk counts them. */
export type CandidateStats = {
  assigned: number;
  completed: number;
  declined: number;
  timedOut: number;
  /** Median of the last response times (ms), undefined before the first. */
  medianResponseMs?: number;
};

/** Everything matching knows of one acceptor. */
export type Candidate = {
  acceptor: string;
  onChain: OnChainAcceptor;
  gateway?: CandidateGateway;
  profile?: AcceptorProfile;
  /** Unix ms of its last heartbeat. */
  lastHeartbeat?: number;
  /** Its online switch. */
  online: boolean;
  stats: CandidateStats;
  /** Float already reserved for other orders, in the request's token (base units). */
  reserved: bigint;
  /** Its chargebacks (flagged buy orders): method and unix ms, the last {@link CHARGEBACK_WINDOW_MS} at least. */
  chargebacks?: readonly { method: string; at: number }[];
  /** Users whose order it flagged as charged back: it takes none of their buy orders. */
  blockedUsers?: ReadonlySet<string>;
};

/** How far back chargebacks count against a method's `maxChargebacks`: 30 days. */
export const CHARGEBACK_WINDOW_MS = 30 * 24 * 3600 * 1000;

/** How many of `chargebacks` are for `method` within the {@link CHARGEBACK_WINDOW_MS} before `now` (unix ms). */
export function chargebacksWithin(
  chargebacks: readonly { method: string; at: number }[] | undefined,
  method: string,
  now: number,
): number {
  if (chargebacks === undefined) return 0;
  return chargebacks.filter((c) => c.method === method && c.at > now - CHARGEBACK_WINDOW_MS).length;
}

/** Every reason an acceptor may not take an order, in the order they are checked. */
export const ELIGIBILITY_RULES = [
  "not-active",
  "gateway-cannot-take-deals",
  "offline",
  "paused",
  "outside-hours",
  "method-unsupported",
  "currency-unquoted",
  "amount-outside-token-limits",
  "amount-outside-method-limits",
  "chargebacks",
  "blocked-user",
  "insufficient-float",
  "excluded",
] as const;
export type EligibilityRule = (typeof ELIGIBILITY_RULES)[number];

export type Eligibility = { ok: true } | { ok: false; rule: EligibilityRule; detail: string };

const refuse = (rule: EligibilityRule, detail: string): Eligibility => ({ ok: false, rule, detail });

/** Minutes since midnight of an "HH:MM" text (validated by the desk's schema). */
const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * Whether `now` (unix ms) falls in one of the business-hour windows (UTC). A window with `from` < `to` covers
 * [from, to) of each listed day; one with `from` > `to` runs overnight: from `from` on a listed day to `to` on the
 * next day. No windows at all means always open.
 */
export function withinHours(hours: AcceptorProfile["hours"], now: number): boolean {
  if (hours === undefined) return true;
  const date = new Date(now);
  const day = ((date.getUTCDay() + 6) % 7) + 1; // 1 = Monday … 7 = Sunday
  const yesterday = day === 1 ? 7 : day - 1;
  const minute = date.getUTCHours() * 60 + date.getUTCMinutes();
  return hours.some((w) => {
    const from = minutesOf(w.from);
    const to = minutesOf(w.to);
    if (from < to) return w.days.includes(day) && minute >= from && minute < to;
    return (w.days.includes(day) && minute >= from) || (w.days.includes(yesterday) && minute < to);
  });
}

/** Whether the acceptor `c` may take the order `r`: the first rule (in {@link ELIGIBILITY_RULES} order) it fails. */
export function eligibility(c: Candidate, r: MatchRequest, opts: { heartbeatMs: number }): Eligibility {
  const { onChain, gateway, profile } = c;
  if (onChain.status !== "active") return refuse("not-active", `acceptor status is ${onChain.status}`);
  if (gateway === undefined) return refuse("gateway-cannot-take-deals", `gateway ${onChain.gateway} is unknown`);
  if (gateway.status !== "active") {
    return refuse("gateway-cannot-take-deals", `gateway ${onChain.gateway} is ${gateway.status}`);
  }
  if (gateway.suspended) return refuse("gateway-cannot-take-deals", `gateway ${onChain.gateway} is suspended`);
  if (!c.online) return refuse("offline", "acceptor switched itself offline");
  if (c.lastHeartbeat === undefined) return refuse("offline", "no heartbeat yet");
  if (r.now - c.lastHeartbeat > opts.heartbeatMs) {
    return refuse("offline", `last heartbeat ${r.now - c.lastHeartbeat} ms ago`);
  }
  if (profile?.paused === true) return refuse("paused", "acceptor is taking a break");
  if (!withinHours(profile?.hours, r.now)) return refuse("outside-hours", "outside the acceptor's business hours");
  if (!onChain.methods.has(r.methodHash)) return refuse("method-unsupported", `${r.method} not registered on chain`);
  const method = profile?.methods[r.method];
  if (method === undefined) return refuse("method-unsupported", `${r.method} not in the acceptor's profile`);
  if (profile?.rates[r.currency] === undefined) return refuse("currency-unquoted", `no rate for ${r.currency}`);
  const limits = onChain.tokens[r.token];
  if (limits === undefined) return refuse("amount-outside-token-limits", `no limits for token ${r.token}`);
  if (r.amount < limits.minAmount || r.amount > limits.maxAmount) {
    return refuse("amount-outside-token-limits", `token limits are ${limits.minAmount}..${limits.maxAmount}`);
  }
  if (r.amount < BigInt(method.minAmount) || r.amount > BigInt(method.maxAmount)) {
    return refuse("amount-outside-method-limits", `${r.method} limits are ${method.minAmount}..${method.maxAmount}`);
  }
  // Only buy orders carry a chargeback risk: there the user pays the acceptor fiat, which a bank may reverse.
  if (r.side === "buy" && method.maxChargebacks !== undefined) {
    const n = chargebacksWithin(c.chargebacks, r.method, r.now);
    if (n >= method.maxChargebacks) {
      return refuse("chargebacks", `${n} chargebacks on ${r.method} in 30 days, limit ${method.maxChargebacks}`);
    }
  }
  if (r.side === "buy" && r.user !== undefined && c.blockedUsers?.has(r.user) === true) {
    return refuse("blocked-user", "the acceptor flagged a chargeback of this user");
  }
  if (r.side === "buy" && limits.free - c.reserved < r.amount) {
    return refuse("insufficient-float", `free ${limits.free}, reserved ${c.reserved}`);
  }
  if (r.exclude.includes(c.acceptor)) return refuse("excluded", "already tried for this order");
  return { ok: true };
}

/** Digits after the point a rate may have (the desk's schema allows no more). */
export const RATE_DECIMALS = 18;

/** A decimal rate text as an integer scaled by 10^{@link RATE_DECIMALS}, for exact comparison. */
export function scaledRate(rate: string): bigint {
  const [whole, fraction = ""] = rate.split(".");
  return BigInt(whole + fraction.padEnd(RATE_DECIMALS, "0").slice(0, RATE_DECIMALS));
}

/**
 * Completion rate: completed over every finished assignment (completed, declined, timed out). An acceptor without
 * finished assignments counts as 1, so a newcomer gets orders.
 */
export function completionRate(s: CandidateStats): number {
  const finished = s.completed + s.declined + s.timedOut;
  return finished === 0 ? 1 : s.completed / finished;
}

/** Rates parsed by {@link scaledRate}, kept (profiles repeat the same few texts). */
const scaledRates = new Map<string, bigint>();
const SCALED_RATES_MAX = 10_000;
function cachedRate(rate: string): bigint {
  let v = scaledRates.get(rate);
  if (v === undefined) {
    if (scaledRates.size >= SCALED_RATES_MAX) scaledRates.clear();
    v = scaledRate(rate);
    scaledRates.set(rate, v);
  }
  return v;
}

/**
 * Candidates (each quoting `r.currency`) in rank order, as groups of exact equals: by price (buy: the lowest rate,
 * the cheapest fiat for the user; sell: the highest rate, the most fiat for the user), then completion rate (higher
 * first), then median response time (faster first; none measured yet ranks after measured ones). Within a group,
 * by address (a stable order, the same in every process).
 */
export function rankGroups(candidates: Candidate[], r: Pick<MatchRequest, "side" | "currency">): Candidate[][] {
  const keyed = candidates.map((c) => ({
    c,
    rate: cachedRate(c.profile!.rates[r.currency]),
    completion: completionRate(c.stats),
    response: c.stats.medianResponseMs ?? Number.POSITIVE_INFINITY,
  }));
  type Keyed = (typeof keyed)[number];
  const compare = (a: Keyed, b: Keyed): number => {
    if (a.rate !== b.rate) return (a.rate < b.rate ? -1 : 1) * (r.side === "buy" ? 1 : -1);
    if (a.completion !== b.completion) return b.completion - a.completion;
    if (a.response !== b.response) return a.response < b.response ? -1 : 1;
    return 0;
  };
  keyed.sort((a, b) => compare(a, b) || (a.c.acceptor < b.c.acceptor ? -1 : a.c.acceptor > b.c.acceptor ? 1 : 0));
  const groups: Candidate[][] = [];
  for (let i = 0; i < keyed.length;) {
    let j = i + 1;
    while (j < keyed.length && compare(keyed[i], keyed[j]) === 0) j++;
    groups.push(keyed.slice(i, j).map((k) => k.c));
    i = j;
  }
  return groups;
}

/** `group` rotated left by `turn` (round robin among equals). */
export function rotate<T>(group: T[], turn: number): T[] {
  const size = group.length;
  if (size < 2) return group;
  const shift = ((turn % size) + size) % size;
  return [...group.slice(shift), ...group.slice(0, shift)];
}

/**
 * The eligible acceptors, best first ({@link rankGroups}); acceptors equal on price, completion rate and response
 * time are rotated by `turn` (round robin), so equals share the orders.
 */
export function rank(eligible: Candidate[], r: MatchRequest, turn: number): Candidate[] {
  return rankGroups(eligible, r).flatMap((group) => rotate(group, turn));
}
