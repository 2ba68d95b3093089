/** What the submitter's halves (sender.ts, follower.ts) share: its collaborators and resolved options. */
import type { Wallet } from "ethers";
import type { Logger } from "pino";
import type { Chain } from "../chain/types";
import type { SubmitterStore } from "./records";
import type { GasBudget, Planner, SubmissionError, SubmitterHooks, SubmitterOptions } from "./types";

export type ResolvedOptions = Required<Omit<SubmitterOptions, "maxFeePerGasCap">>;

export type SubmitterContext = {
  chain: Chain;
  store: SubmitterStore;
  wallet: Wallet;
  address: string;
  escrow: string;
  confirmations: number;
  budget?: GasBudget;
  decodeError: (revertData: string) => SubmissionError | undefined;
  hooks: SubmitterHooks;
  o: ResolvedOptions;
  cap?: bigint;
  logger: Logger;
  planner: Planner;
  /** Adds BullMQ jobs for submission ids (a no-op for an id whose job exists). */
  enqueue(ids: string[]): Promise<void>;
  sentCounter: { inc(): void };
  /** The worker's BullMQ lock token. */
  token: string;
};
