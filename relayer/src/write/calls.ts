/**
 * The escrow calls the write side sends, encoded and decoded with the contracts' own ABIs, and revert data decoded
 * into the custom error (with its arguments) that a caller of the API is told about.
 */
import { AbiCoder, Interface, dataSlice, type Result } from "ethers";
import { Escrow__factory } from "../../../typechain-types/factories/contracts/Escrow__factory";
import { GatewayRegistry__factory } from "../../../typechain-types/factories/contracts/GatewayRegistry__factory";
import { KIND_NAMES, STATUS_NAMES, type DealParams, type DealStruct } from "../../../protocol";
import type { Hash } from "../domain/projection";

export const ESCROW = new Interface(Escrow__factory.abi);
export const REGISTRY = new Interface(GatewayRegistry__factory.abi);
const ERC20 = new Interface([
  "function balanceOf(address) view returns (uint256)",
  "function allowance(address,address) view returns (uint256)",
]);

/** A call of the escrow (or of another contract, for a wallet's deployment). */
export type Call = { to: string; data: string };
/** An `IEscrow.Authorization`. */
export type Authorization = { expiry: bigint; signature: string };

/** The deal struct of an indexed deal (its projection hash holds every parameter as opened). */
export function dealStructOf(deal: Hash): DealStruct {
  return {
    payer: deal.payer,
    payee: deal.payee,
    gateway: deal.gateway,
    token: deal.token,
    amount: BigInt(deal.amount),
    deadline: BigInt(deal.deadline),
    releaseWindow: BigInt(deal.releaseWindow),
    feeBps: BigInt(deal.feeBps),
    kind: BigInt(KIND_NAMES.findIndex((k) => k.toLowerCase() === deal.kind)),
    autoRelease: deal.autoRelease === "1",
    salt: `0x${deal.salt.replace(/^0x/, "")}`,
  };
}

/** The deal struct of normalised parameters. */
export function structOfParams(d: DealParams): DealStruct {
  return { ...d, kind: KIND_NAMES.findIndex((k) => k.toLowerCase() === d.kind) };
}

export const encode = {
  actWithSig: (deal: DealStruct, action: number, signer: string, auth: Authorization) =>
    ESCROW.encodeFunctionData("actWithSig", [deal, action, signer, auth]),
  settleWithSigs: (deal: DealStruct, payeeAuth: Authorization, payerAuth: Authorization) =>
    ESCROW.encodeFunctionData("settleWithSigs", [deal, payeeAuth, payerAuth]),
  cancelWithSigs: (deal: DealStruct, payerAuth: Authorization, payeeAuth: Authorization) =>
    ESCROW.encodeFunctionData("cancelWithSigs", [deal, payerAuth, payeeAuth]),
  splitWithSigs: (deal: DealStruct, payeeAmount: bigint, payerAuth: Authorization, payeeAuth: Authorization) =>
    ESCROW.encodeFunctionData("splitWithSigs", [deal, payeeAmount, payerAuth, payeeAuth]),
  openWithSig: (deal: DealStruct, ref: string, auth: Authorization) =>
    ESCROW.encodeFunctionData("openWithSig", [deal, ref, auth]),
  lockWithSig: (deal: DealStruct, ref: string, signer: string, auth: Authorization) =>
    ESCROW.encodeFunctionData("lockWithSig", [deal, ref, signer, auth]),
  multicall: (calls: string[]) => ESCROW.encodeFunctionData("multicall", [calls]),
  resolveWithSig: (deal: DealStruct, payeeAmount: bigint, reasons: string, signer: string, auth: Authorization) =>
    ESCROW.encodeFunctionData("resolveWithSig", [deal, payeeAmount, reasons, signer, auth]),
  /** The registry's `isArbiter(account)`. */
  isArbiter: (account: string) => REGISTRY.encodeFunctionData("isArbiter", [account]),
  balanceOf: (account: string) => ERC20.encodeFunctionData("balanceOf", [account]),
  allowance: (owner: string, spender: string) => ERC20.encodeFunctionData("allowance", [owner, spender]),
};

/** An `actWithSig` call's arguments, read back from its calldata (undefined for any other call). */
export function decodeActWithSig(
  data: string,
): { deal: DealStruct; action: number; signer: string; auth: Authorization } | undefined {
  let parsed;
  try {
    parsed = ESCROW.parseTransaction({ data });
  } catch {
    return undefined;
  }
  if (parsed?.name !== "actWithSig") return undefined;
  const [deal, action, signer, auth] = parsed.args as unknown as [Result, bigint, string, Result];
  const d = deal.toObject() as unknown as DealStruct;
  return {
    deal: { ...d, payer: d.payer.toLowerCase(), payee: d.payee.toLowerCase() },
    action: Number(action),
    signer: signer.toLowerCase(),
    auth: { expiry: auth.expiry as bigint, signature: auth.signature as string },
  };
}

/** A decoded revert: the custom error's (or reason's) name, its arguments as strings, and one sentence. */
export type DecodedError = { name: string; args?: Record<string, string>; message: string };

/** Enum arguments of the contracts' errors, by name (the ABI carries them as uint8). */
const ENUM_ARGS: Record<string, readonly string[]> = { status: STATUS_NAMES, kind: KIND_NAMES };

const argValue = (name: string, value: unknown): string => {
  if (typeof value === "bigint" && ENUM_ARGS[name]) return ENUM_ARGS[name][Number(value)] ?? String(value);
  return typeof value === "string" ? value.toLowerCase() : String(value);
};

const ERROR_STRING = "0x08c379a0";
const PANIC = "0x4e487b71";

/** Decodes revert data of the escrow, the registry, `Error(string)` or `Panic(uint256)`. */
export function decodeError(revertData: string): DecodedError {
  if (revertData === "0x" || revertData === "") {
    return { name: "Reverted", message: "The call reverted without a reason (for example a token's failed assert)." };
  }
  const coder = AbiCoder.defaultAbiCoder();
  try {
    if (revertData.startsWith(ERROR_STRING)) {
      const [reason] = coder.decode(["string"], dataSlice(revertData, 4));
      return { name: "Error", args: { reason: String(reason) }, message: `Reverted: ${String(reason)}.` };
    }
    if (revertData.startsWith(PANIC)) {
      const [code] = coder.decode(["uint256"], dataSlice(revertData, 4));
      return {
        name: "Panic",
        args: { code: `0x${(code as bigint).toString(16)}` },
        message: `Panicked (0x${(code as bigint).toString(16)}).`,
      };
    }
  } catch {
    // malformed: fall through to the generic answer
  }
  for (const iface of [ESCROW, REGISTRY]) {
    let parsed;
    try {
      parsed = iface.parseError(revertData);
    } catch {
      parsed = null;
    }
    if (!parsed) continue;
    const args: Record<string, string> = {};
    parsed.fragment.inputs.forEach((input, i) => {
      args[input.name] = argValue(input.name, parsed.args[i]);
    });
    const list = Object.entries(args)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
    return { name: parsed.name, args, message: `The escrow would revert with ${parsed.name}(${list}).` };
  }
  return { name: "Reverted", message: `The call reverted with data ${revertData.slice(0, 74)}.` };
}
