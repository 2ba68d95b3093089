/**
 * Reads at a block through an ethers Provider (getters, balances, code, token views): a few in flight at once,
 * each retried on provider errors. Logs and block headers come through the relayer's chain adapter instead (scan.ts).
 */
import { isError } from "ethers";

/** Read calls (getters, balances, token views) in flight at once. */
export const READ_CONCURRENCY = 16;
/** Attempts for one read call before the audit fails. */
export const READ_ATTEMPTS = 4;
/** First backoff after a provider error, in milliseconds; doubles with each consecutive error. */
export const BACKOFF_BASE_MS = 250;
/** Longest backoff. */
export const BACKOFF_MAX_MS = 8_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The wait before attempt `attempt + 1`. */
export const backoffAfter = (attempt: number): number => Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS);

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Retries a read call on provider errors (never on a revert), with exponential backoff. */
export async function withRetry<T>(fn: () => Promise<T>, label: string, attempts = READ_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (isError(error, "CALL_EXCEPTION") || attempt >= attempts) {
        throw new Error(`${label}: ${errorMessage(error)}`, { cause: error });
      }
      await sleep(backoffAfter(attempt));
    }
  }
}

/**
 * A view that the contract may not have, retried on provider errors: `fn`'s answer, or `absent` when the call
 * reverts (CALL_EXCEPTION). Throws once the attempts are spent.
 */
export async function optionalCall<T>(fn: () => Promise<T>, absent: T, label: string): Promise<T> {
  return withRetry(async () => {
    try {
      return await fn();
    } catch (error) {
      if (isError(error, "CALL_EXCEPTION")) return absent;
      throw error;
    }
  }, label);
}

/** A short message for an error (ethers errors carry a long `message`; their `shortMessage` is enough). */
export function errorMessage(error: unknown): string {
  if (error && typeof error === "object") {
    const e = error as { shortMessage?: string; message?: string };
    return e.shortMessage ?? e.message ?? String(error);
  }
  return String(error);
}
