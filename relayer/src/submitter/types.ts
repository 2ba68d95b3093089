/**
 * The submitter's data: what a caller asks for (a {@link SubmissionRequest}), what it sees (a {@link SubmissionView}),
 * and what Redis keeps (a {@link SubmissionRecord} per submission, a {@link Slot} per nonce of the relayer's key).
 */

/** One call of a transaction (addresses and data as 0x hex). */
export type Call = { to: string; data: string };

export type SubmissionRequest = {
  /** Default: a random "sub_<hex>". Submitting an id again returns the existing submission. */
  id?: string;
  /** The API key charged (gas budget); undefined = the operator. */
  keyId?: string;
  dealId?: string;
  /** e.g. "perform", "release", "settle", "open", "lock" (shown in views). */
  kind: string;
  /** The escrow call (batched into `Escrow.multicall(bytes[])` with others when possible). */
  call: Call;
  /** e.g. an ERC-6492 wallet deployment: sent first, in its own transaction, skipped if `unlessCodeAt` has code. */
  prelude?: Call & { unlessCodeAt: string };
  /** Requests with the same merge key queued together are given to the planner together. */
  merge?: { key: string };
};

export type SubmissionStatus = "queued" | "sent" | "mined" | "final" | "failed";

export type SentTransaction = {
  hash: string;
  nonce: number;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  /** unix ms */
  sentAt: number;
};

export type SubmissionError = { name: string; args?: Record<string, string>; message: string };

export type SubmissionView = {
  id: string;
  kind: string;
  dealId?: string;
  status: SubmissionStatus;
  /** Every transaction that carried the submission (a fee bump adds one with the same nonce). */
  transactions: SentTransaction[];
  /** The one that mined. */
  transactionHash?: string;
  blockNumber?: number;
  confirmations?: number;
  gasUsed?: string;
  error?: SubmissionError;
  /** unix ms */
  createdAt: number;
  updatedAt: number;
};

/** What Redis keeps per submission: the view plus the request and the submitter's bookkeeping. */
export type SubmissionRecord = SubmissionView & {
  keyId?: string;
  call: Call;
  prelude?: Call & { unlessCodeAt: string };
  merge?: { key: string };
  /** Times a batch it was in reverted on chain and it went back to the queue. */
  requeues: number;
  /** Nonce of the prelude transaction, once sent. */
  preludeNonce?: number;
  /** Gas reserved against `keyId`'s budget for the transaction now carrying it (decimal). */
  reservedGas?: string;
};

/**
 * The lead's hook: groups queued submissions into calls (e.g. a payee's perform and the payer's release → one
 * settleWithSigs). Every id given must appear in at most one call; an id left out stays queued for a later round.
 */
export type Planner = (queued: SubmissionRecord[]) => Promise<{ submissionIds: string[]; call: Call }[]>;

/** H1's per-key daily gas budget (relayer/src/auth). */
export type GasBudget = {
  reserve(keyId: string, gas: bigint): Promise<{ ok: true } | { ok: false; remaining: bigint; resetsAt: number }>;
  settle(keyId: string, reserved: bigint, used: bigint): Promise<void>;
};

/** One signed transaction of a slot (the raw bytes are kept until the slot is final, to broadcast again). */
export type SlotTransaction = SentTransaction & { raw: string };

/**
 * One nonce of the relayer's key and what it carries: recorded (with its signed raw transaction) before that is
 * broadcast, so a restart broadcasts the same bytes again instead of building a new transaction.
 */
export type Slot = {
  nonce: number;
  /** "call": submissions' calls (one, or a multicall); "prelude": a wallet deployment for `submissionIds`. */
  purpose: "call" | "prelude";
  submissionIds: string[];
  to: string;
  data: string;
  gas: string;
  /** Oldest first; the last is the one to broadcast again. */
  txs: SlotTransaction[];
  status: "sent" | "mined";
  minedHash?: string;
  blockNumber?: number;
  blockHash?: string;
  gasUsed?: string;
  reverted?: boolean;
  /** Ticks in a row the chain's nonce passed this slot with none of its transactions found mined. */
  missing?: number;
};

export type SubmitterOptions = {
  /** How long the worker waits for more queued submissions after the first, to batch them (ms). */
  batchWindowMs?: number;
  /** Most submissions taken in one round. */
  maxBatch?: number;
  /** A transaction not mined after this long is replaced with higher fees (ms). */
  bumpAfterMs?: number;
  /** Fee increase of a replacement, in percent (at least 12.5: nodes refuse less). */
  bumpPercent?: number;
  /** Highest maxFeePerGas the submitter offers (wei); undefined: no cap. */
  maxFeePerGasCap?: bigint;
  /** How often sent transactions are followed (receipts, bumps, re-broadcasts) (ms). */
  pollMs?: number;
  /** The worker lease's time to live: a crashed worker's successor starts after at most this long (ms). */
  leaseMs?: number;
  /** BullMQ lock of a job in a round, and its stalled-job check interval (ms). */
  jobLockMs?: number;
  stalledIntervalMs?: number;
  /** Deadline of each Redis command (ms). */
  redisTimeoutMs?: number;
  /** Gas limit = estimate × (100 + gasMarginPercent) / 100. */
  gasMarginPercent?: number;
};

/** Test seams: called at the named points of sending (a crash test kills the process there). */
export type SubmitterHooks = {
  /** The round took its jobs; nothing is recorded yet. */
  afterTake?: (ids: string[]) => void | Promise<void>;
  /** The signed transaction is recorded; it is not broadcast yet. */
  afterRecord?: (slot: Slot) => void | Promise<void>;
  /** The transaction was broadcast. */
  afterBroadcast?: (slot: Slot) => void | Promise<void>;
};

export type Submitter = {
  submit(r: SubmissionRequest): Promise<SubmissionView>;
  get(id: string): Promise<SubmissionView | undefined>;
  /** Starts the worker and the follower (in the background once this process holds the key's lease). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The relayer key's address (checksummed). */
  address: string;
};
