/** The protocol's data as off-chain code handles it. */
import type { DealKind } from "./enums";

/**
 * A deal's parameters as opened and as `DealOpened` carries them, normalised: addresses and hashes lower-case hex,
 * amount as bigint, times and fee as numbers, kind by its API name.
 */
export type DealParams = {
  payer: string;
  payee: string;
  gateway: string;
  token: string;
  amount: bigint;
  deadline: number;
  releaseWindow: number;
  feeBps: number;
  kind: DealKind;
  autoRelease: boolean;
  salt: string;
};

/**
 * The `IEscrow.Deal` struct as the contracts' ABI takes it (what a call or a signature needs): the kind by its
 * number. Any numeric field may be a number or a bigint.
 */
export type DealStruct = {
  payer: string;
  payee: string;
  gateway: string;
  token: string;
  amount: bigint;
  deadline: bigint | number;
  releaseWindow: bigint | number;
  feeBps: bigint | number;
  kind: bigint | number;
  autoRelease: boolean;
  salt: string;
};

/** Where a log sits on the chain. */
export type LogPosition = {
  block: number;
  blockHash: string;
  txHash: string;
  logIndex: number;
};

/** The escrow and registry whose logs are read. */
export type Sources = { escrow: string; registry: string };
