/**
 * The escrow's and the registry's constants that off-chain code needs (the contracts keep theirs private to save
 * bytecode). The contract tests keep their own copies on purpose, as an independent oracle; test/protocol/eip712.ts
 * has a delegate lock, salted with DELEGATE_SALT_PREFIX, accepted by a deployed escrow.
 */
import { dataSlice, id } from "ethers";

const DAY = 24 * 3600;

/** Basis points in one whole: fees are `amount × feeBps / BPS`, rounded down. */
export const BPS = 10_000n;
/** Latest deadline of a lock by an acceptor's lock delegate, counted from the lock. */
export const MAX_DELEGATE_LOCK_DURATION = 7 * DAY;
/** Longest release window of a lock by an acceptor's lock delegate. */
export const MAX_DELEGATE_RELEASE_WINDOW = 2 * DAY;
/** Time governance has to slash a gateway after its last ruling: unbonding floor = resolution window + this. */
export const MIN_SLASH_TIME = 7 * DAY;

/**
 * First 12 bytes of the salt of every lock by an acceptor's lock delegate, and of no other deal's salt
 * (bytes12 of keccak256("USDT Escrow: lock by delegate")), as 0x-prefixed lower-case hex.
 */
export const DELEGATE_SALT_PREFIX = dataSlice(id("USDT Escrow: lock by delegate"), 0, 12).toLowerCase();
/** Whether a salt carries the delegate prefix. */
export const isDelegateSalt = (salt: string): boolean => salt.toLowerCase().startsWith(DELEGATE_SALT_PREFIX);

/** The registry's arbiter role: keccak256("ARBITER_ROLE"). */
export const ARBITER_ROLE = id("ARBITER_ROLE");

/** The fee the escrow takes on `amount` at `feeBps`, rounded down. */
export const feeOf = (amount: bigint, feeBps: bigint | number): bigint => (amount * BigInt(feeBps)) / BPS;
