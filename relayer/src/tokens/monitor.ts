/**
 * The token monitor: every TOKEN_CHECK_INTERVAL_MS it asks each token the registry ever allowlisted (the
 * projection's `tokens` hash, allowed or not: a token disallowed in a hurry still holds deals and float) whether it
 * blacklists the escrow itself (`isBlackListed(escrow)`) and whether it is paused (`paused()`).
 *
 * A token that blacklists the escrow defers every payout in it to owed balances and freezes whatever is deposited:
 * governance should disallow it at once. The monitor says so loudly — an error log line whenever the answer
 * changes, the `relayer_token_escrow_blacklisted` gauge and /v1/health — and a paused token (payouts deferred until
 * it is unpaused) as a warning and `relayer_token_paused`. A token without the function (the call reverts or
 * returns nothing) has no blacklist, or no pause: `null`.
 *
 * Every call goes through the chain adapter (a deadline per request, bounded retries); a check that fails keeps the
 * previous answers and their `checkedAt`.
 */
import { id } from "ethers";
import type { Common } from "../common";
import type { Chain } from "../chain/types";
import type { Store } from "../store/store";

/** How often the tokens are asked. */
export const TOKEN_CHECK_INTERVAL_MS = 60_000;

const IS_BLACKLISTED = id("isBlackListed(address)").slice(0, 10);
const PAUSED = id("paused()").slice(0, 10);

/** What /v1/health shows of one token. */
export type TokenHealth = {
  token: string;
  /** Allowed for new deals by the registry now. */
  allowed: boolean;
  /** True when the token blacklists the escrow; null when the token has no blacklist. */
  escrowBlacklisted: boolean | null;
  /** True when the token is paused; null when it cannot be paused. */
  paused: boolean | null;
  /** Unix milliseconds of the last answer (null before the first). */
  checkedAt: number | null;
};

export type TokenMonitor = {
  start(): void;
  stop(): Promise<void>;
  /** Checks every token now (the timer does it every interval). */
  check(): Promise<void>;
  /** The latest answers, by token address. */
  snapshot(): TokenHealth[];
};

/** A boolean from `eth_call` output: exactly one word holding 0 or 1; anything else means "no such function". */
export function boolResult(data: string | undefined): boolean | null {
  if (data === undefined || !/^0x[0-9a-f]{64}$/i.test(data)) return null;
  const value = BigInt(data);
  return value === 0n ? false : value === 1n ? true : null;
}

export function createTokenMonitor({
  common,
  chain,
  store,
  escrow,
  intervalMs = TOKEN_CHECK_INTERVAL_MS,
}: {
  common: Pick<Common, "logger" | "metrics">;
  chain: Pick<Chain, "call">;
  store: Pick<Store, "getHashes">;
  escrow: string;
  /** Tests use a short interval. */
  intervalMs?: number;
}): TokenMonitor {
  const logger = common.logger.child({ module: "tokens" });
  const { metrics } = common;
  const escrowWord = escrow.toLowerCase().slice(2).padStart(64, "0");
  const health = new Map<string, TokenHealth>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function checkToken(token: string, allowed: boolean): Promise<void> {
    const [listed, paused] = await Promise.all([
      chain.call(token, IS_BLACKLISTED + escrowWord),
      chain.call(token, PAUSED),
    ]);
    const previous = health.get(token);
    const next: TokenHealth = {
      token,
      allowed,
      escrowBlacklisted: boolResult(listed),
      paused: boolResult(paused),
      checkedAt: Date.now(),
    };
    health.set(token, next);
    metrics.tokenEscrowBlacklisted.set({ token }, next.escrowBlacklisted ? 1 : 0);
    metrics.tokenPaused.set({ token }, next.paused ? 1 : 0);
    const wasListed = previous?.escrowBlacklisted ?? false;
    if (Boolean(next.escrowBlacklisted) !== wasListed) {
      logger.error(
        next.escrowBlacklisted
          ? {
              msg: "token has blacklisted the escrow: every payout in it is deferred to owed; governance should disallow the token",
              token,
              escrow,
              allowed,
            }
          : { msg: "token no longer blacklists the escrow: owed balances in it can be claimed", token, escrow },
      );
    }
    if (Boolean(next.paused) !== (previous?.paused ?? false)) {
      logger.warn(
        next.paused
          ? { msg: "token is paused: payouts in it are deferred to owed until it is unpaused", token }
          : { msg: "token is no longer paused", token },
      );
    }
  }

  async function check(): Promise<void> {
    const [tokens] = await store.getHashes(["tokens"]);
    for (const [token, allowed] of Object.entries(tokens ?? {}).sort()) {
      if (stopped) return;
      try {
        await checkToken(token, allowed === "1");
      } catch (error) {
        // The chain adapter logged each failed attempt; the previous answers stay, with their checkedAt.
        logger.warn({ msg: "token check failed", token, err: (error as Error).message });
      }
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = check()
        .catch((error) => logger.warn({ msg: "token checks failed", err: (error as Error).message }))
        .finally(schedule);
    }, intervalMs);
  }

  return {
    start() {
      if (running || timer) return;
      running = check()
        .catch((error) => logger.warn({ msg: "token checks failed", err: (error as Error).message }))
        .finally(schedule);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    check,
    snapshot: () => [...health.values()].sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0)),
  };
}
