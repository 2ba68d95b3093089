/**
 * A deadline for one Redis call. ioredis queues a command while it reconnects, so without one a request could wait
 * for as long as Redis is away. A call past its deadline rejects with an error coded `ETIMEDOUT`, which the API's
 * problem mapping (api/problems.ts) answers as 503 "unavailable" with Retry-After.
 */

import { RedisDeadlineError } from "./errors";

/** The deadline of one Redis call unless its caller gives another. */
export const REDIS_TIMEOUT_MS = 2_000;

/** `promise`, or a rejection coded ETIMEDOUT once `ms` have passed (the command itself is not cancelled). */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RedisDeadlineError(`redis: ${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * Waits for `promise` at most `ms`: true when it settled (either way), false when the wait ran out. For the steps of a
 * stop that must not hang it (a BullMQ close or a Cluster quit waiting on connections that never complete); the
 * caller forces what it waited for when the answer is false.
 */
export async function settledWithin(promise: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (promise === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, expired]).finally(() => clearTimeout(timer));
}
