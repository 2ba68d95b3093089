/**
 * The protocol model: the contracts' enums, constants, data types, EIP-712 definitions, event decoder and state
 * machine, in one place for the relayer, the scripts, the audit and the test helpers (docs/design.md §3–§5).
 * The contract tests' reference model (test/contracts/model.ts) stays independent on purpose: it imports only the
 * enums.
 */
export * from "./enums";
export * from "./constants";
export * from "./types";
export * from "./eip712";
export * from "./events";
export * from "./transitions";
export * from "./evidence";
export * from "./messages";
export * from "./rulings";
export * from "./due";
