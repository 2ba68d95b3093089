/**
 * Whether an account holds the registry's ARBITER_ROLE, asked on the chain (`isArbiter`) and kept for a while:
 * evidence (who may read and post) and rulings (who may rule besides the gateway) ask the same question.
 */
import type { Chain } from "../chain/types";
import { REGISTRY, encode } from "../write/calls";

/** How long a registry's isArbiter answer is kept. */
export const ARBITER_CACHE_MS = 60_000;
/** Answers kept at most (the cache starts afresh beyond). */
const CACHE_MAX = 10_000;

export function createArbiters(deps: { chain: Pick<Chain, "simulate">; registry: string; cacheMs?: number }) {
  const cacheMs = deps.cacheMs ?? ARBITER_CACHE_MS;
  const answers = new Map<string, { at: number; answer: Promise<boolean> }>();

  /** Whether the registry says `account` is an arbiter; a call the registry refuses answers false. */
  function isArbiter(account: string): Promise<boolean> {
    const now = performance.now();
    const cached = answers.get(account);
    if (cached && now - cached.at < cacheMs) return cached.answer;
    const answer = deps.chain
      .simulate({ to: deps.registry, data: encode.isArbiter(account) }, "latest")
      .then((outcome) => outcome.ok && Boolean(REGISTRY.decodeFunctionResult("isArbiter", outcome.data)[0]));
    if (answers.size > CACHE_MAX) answers.clear();
    answers.set(account, { at: now, answer });
    // A failed read is asked again next time.
    answer.catch(() => answers.delete(account));
    return answer;
  }

  return { isArbiter };
}
