/**
 * The escrow's EIP-712 definitions, built from one type string per type, the same strings the contract hashes
 * (contracts/Escrow.sol builds Open and Lock from its one Deal string, as EIP-712 appends referenced types).
 * test/protocol/eip712.ts checks every type hash and digest against the deployed contract.
 */
import {
  AbiCoder,
  TypedDataEncoder,
  dataSlice,
  keccak256,
  toUtf8Bytes,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";
import type { DealStruct } from "./types";

/** The escrow's EIP-712 domain name and version. */
export const DOMAIN_NAME = "USDT Escrow";
export const DOMAIN_VERSION = "1";

/** Each signed type's encoding, without the types it references. */
export const TYPE_STRINGS = {
  Deal:
    "Deal(address payer,address payee,address gateway,address token,uint96 amount,uint40 deadline," +
    "uint32 releaseWindow,uint16 feeBps,uint8 kind,bool autoRelease,bytes32 salt)",
  Open: "Open(Deal deal,bytes32 ref,uint256 expiry)",
  Lock: "Lock(Deal deal,bytes32 ref,uint256 expiry)",
  DealAction: "DealAction(bytes32 dealId,uint8 action,uint256 expiry)",
  Split: "Split(bytes32 dealId,uint96 payeeAmount,uint256 expiry)",
  Resolution: "Resolution(bytes32 dealId,uint96 payeeAmount,bytes32 reasons,uint256 expiry)",
  Evidence: "Evidence(bytes32 dealId,bytes32 contentHash,string uri,uint256 expiry)",
} as const;
export type TypeName = keyof typeof TYPE_STRINGS;
/** The types a party signs (every one but Deal, which only appears inside Open and Lock). */
export type PrimaryType = Exclude<TypeName, "Deal">;

/** The fields of a type string `Name(type a,type b)`, as ethers' typed-data field list. */
export function fieldsOf(typeString: string): TypedDataField[] {
  const match = /^[A-Za-z]\w*\(([^()]*)\)$/.exec(typeString);
  if (!match) throw new Error(`not an EIP-712 type string: ${typeString}`);
  if (match[1] === "") return [];
  return match[1].split(",").map((member) => {
    const [type, name, ...rest] = member.split(" ");
    if (!type || !name || rest.length > 0) throw new Error(`bad member "${member}" in ${typeString}`);
    return { name, type };
  });
}

/** Field lists of every type, by name. */
export const FIELDS = Object.fromEntries(
  (Object.keys(TYPE_STRINGS) as TypeName[]).map((name) => [name, fieldsOf(TYPE_STRINGS[name])]),
) as Record<TypeName, TypedDataField[]>;

/** The `types` argument of a signature of `primary` (with Deal where the type references it). */
export function typesOf(primary: PrimaryType): Record<string, TypedDataField[]> {
  const types: Record<string, TypedDataField[]> = { [primary]: FIELDS[primary] };
  if (FIELDS[primary].some((field) => field.type === "Deal")) types.Deal = FIELDS.Deal;
  return types;
}

/** `encodeType` of a type: its string followed by those of the types it references (only Deal is ever referenced). */
export function encodeType(name: TypeName): string {
  return name !== "Deal" && FIELDS[name].some((f) => f.type === "Deal")
    ? TYPE_STRINGS[name] + TYPE_STRINGS.Deal
    : TYPE_STRINGS[name];
}

/** The type hash the contract uses for `name`. */
export const typeHashOf = (name: TypeName): string => keccak256(toUtf8Bytes(encodeType(name)));

/** The escrow's domain on a chain. */
export function escrowDomain(chainId: bigint | number, escrow: string): TypedDataDomain {
  return { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId, verifyingContract: escrow };
}

/** The digest a signer signs for `primary` with `message` (what the contract verifies). */
export function digestOf(domain: TypedDataDomain, primary: PrimaryType, message: Record<string, unknown>): string {
  return TypedDataEncoder.hash(domain, typesOf(primary), message);
}

/** The deal id: keccak256(abi.encode(funder, salt)), where the funder is the deal's payer (an acceptor on a lock). */
export const dealIdOf = (funder: string, salt: string): string =>
  keccak256(AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [funder, salt]));

/** The EIP-712 struct hash of a deal, the contract's `hashDeal`. */
export const hashDeal = (deal: DealStruct): string => TypedDataEncoder.hashStruct("Deal", { Deal: FIELDS.Deal }, deal);

/** The 25-byte commitment the escrow stores for a deal (the first 25 bytes of its struct hash), lower-case hex. */
export const commitmentOf = (deal: DealStruct): string => dataSlice(hashDeal(deal), 0, 25).toLowerCase();

/**
 * A complete EIP-712 payload as wallets take it (`eth_signTypedData_v4`): domain, types with `EIP712Domain`,
 * primary type and message, every integer as a decimal string so that it survives JSON.
 */
export type TypedDataPayload = {
  domain: { name: string; version: string; chainId: string; verifyingContract: string };
  types: Record<string, TypedDataField[]>;
  primaryType: PrimaryType;
  message: Record<string, unknown>;
};

const EIP712_DOMAIN_FIELDS: TypedDataField[] = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
];

const jsonValue = (value: unknown): unknown =>
  typeof value === "bigint"
    ? value.toString()
    : value !== null && typeof value === "object"
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonValue(v)]))
      : value;

/** The payload a signer signs for `primary` with `message` on the escrow at `escrow` on `chainId`. */
export function typedDataOf(
  chainId: bigint | number,
  escrow: string,
  primary: PrimaryType,
  message: Record<string, unknown>,
): TypedDataPayload {
  return {
    domain: { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId: String(chainId), verifyingContract: escrow },
    types: { EIP712Domain: EIP712_DOMAIN_FIELDS, ...typesOf(primary) },
    primaryType: primary,
    message: jsonValue(message) as Record<string, unknown>,
  };
}
