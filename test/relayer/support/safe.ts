/**
 * The real Safe contracts, 1.3.0 (@gnosis.pm/safe-contracts) and 1.4.1 (@safe-global/safe-contracts), deployed from
 * their npm artifacts' bytecode onto a test node: singleton, proxy factory and CompatibilityFallbackHandler, then
 * Safes made through the factory as the Safe apps make them (`createProxyWithNonce` of `setup(...)`).
 *
 *   const kit = await deploySafeKit(deployer, "1.4.1");
 *   const { address } = await createSafe(kit, [alice.address, bob.address, carol.address], 2);
 *   const signature = await signSafeMessage(address, chainId, digest, [alice, bob]);
 */
import fs from "node:fs";
import {
  Contract,
  ContractFactory,
  ZeroAddress,
  type InterfaceAbi,
  type Signer,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";
import { safeMessageTypedData } from "../../../relayer/src/signatures/safe";

export const SAFE_VERSIONS = ["1.3.0", "1.4.1"] as const;
export type SafeVersion = (typeof SAFE_VERSIONS)[number];

type Artifact = { abi: InterfaceAbi; bytecode: string };

/** A Hardhat artifact of an installed package, by its module path. */
const artifact = (modulePath: string): Artifact => JSON.parse(fs.readFileSync(require.resolve(modulePath), "utf8"));

/** The npm artifacts of each version: singleton, proxy factory, fallback handler. */
const ARTIFACTS: Record<SafeVersion, { singleton: Artifact; factory: Artifact; handler: Artifact }> = {
  "1.3.0": {
    singleton: artifact("@gnosis.pm/safe-contracts/build/artifacts/contracts/GnosisSafe.sol/GnosisSafe.json"),
    factory: artifact(
      "@gnosis.pm/safe-contracts/build/artifacts/contracts/proxies/GnosisSafeProxyFactory.sol/GnosisSafeProxyFactory.json",
    ),
    handler: artifact(
      "@gnosis.pm/safe-contracts/build/artifacts/contracts/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
    ),
  },
  "1.4.1": {
    singleton: artifact("@safe-global/safe-contracts/build/artifacts/contracts/Safe.sol/Safe.json"),
    factory: artifact(
      "@safe-global/safe-contracts/build/artifacts/contracts/proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
    ),
    handler: artifact(
      "@safe-global/safe-contracts/build/artifacts/contracts/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
    ),
  },
};

export type SafeKit = {
  version: SafeVersion;
  /** The singleton (implementation), connected to the deployer; attach() it to a Safe's address. */
  singleton: Contract;
  factory: Contract;
  /** The CompatibilityFallbackHandler; attach() it to a Safe's address to call the handler through the Safe. */
  handler: Contract;
  deployer: Signer;
};

async function deploy(artifact: Artifact, deployer: Signer): Promise<Contract> {
  const contract = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy();
  await contract.waitForDeployment();
  return contract as Contract;
}

/** Deploys the singleton, proxy factory and fallback handler of `version` from their npm artifacts. */
export async function deploySafeKit(deployer: Signer, version: SafeVersion): Promise<SafeKit> {
  const artifacts = ARTIFACTS[version];
  const singleton = await deploy(artifacts.singleton, deployer);
  const factory = await deploy(artifacts.factory, deployer);
  const handler = await deploy(artifacts.handler, deployer);
  return { version, singleton, factory, handler, deployer };
}

let nonceSeq = BigInt(Date.now());

/**
 * The factory call that creates a Safe of `owners` with `threshold` (fallback handler: the kit's, unless
 * `handler` is given, e.g. ZeroAddress for none) and the address it will have, without sending anything.
 */
export async function safeCreation(
  kit: SafeKit,
  owners: string[],
  threshold: number,
  options: { handler?: string; saltNonce?: bigint } = {},
): Promise<{ address: string; factory: string; data: string }> {
  const handler = options.handler ?? (await kit.handler.getAddress());
  const singleton = await kit.singleton.getAddress();
  const initializer = kit.singleton.interface.encodeFunctionData("setup", [
    owners,
    threshold,
    ZeroAddress,
    "0x",
    handler,
    ZeroAddress,
    0,
    ZeroAddress,
  ]);
  const saltNonce = options.saltNonce ?? ++nonceSeq;
  const args = [singleton, initializer, saltNonce] as const;
  const address = (await kit.factory.createProxyWithNonce.staticCall(...args)) as string;
  const data = kit.factory.interface.encodeFunctionData("createProxyWithNonce", args);
  return { address: address.toLowerCase(), factory: (await kit.factory.getAddress()).toLowerCase(), data };
}

/** Creates (deploys) a Safe of `owners` with `threshold`; returns its address (lower-case). */
export async function createSafe(
  kit: SafeKit,
  owners: string[],
  threshold: number,
  options: { handler?: string } = {},
): Promise<string> {
  const creation = await safeCreation(kit, owners, threshold, options);
  await (await kit.deployer.sendTransaction({ to: creation.factory, data: creation.data })).wait();
  return creation.address;
}

type Typed = { domain: TypedDataDomain; types: Record<string, TypedDataField[]>; message: Record<string, unknown> };

/**
 * The signatures of `typed` by `owners` (65 bytes r, s, v each), concatenated in ascending order of owner address
 * as a Safe requires.
 */
export async function signSorted(owners: Signer[], typed: Typed): Promise<string> {
  const signed = await Promise.all(
    owners.map(async (owner) => ({
      address: (await owner.getAddress()).toLowerCase(),
      signature: await owner.signTypedData(typed.domain, typed.types, typed.message),
    })),
  );
  signed.sort((a, b) => (a.address < b.address ? -1 : 1));
  return "0x" + signed.map((s) => s.signature.slice(2)).join("");
}

/** The Safe signature of `digest` by `owners`: each signs the Safe's SafeMessage for it. */
export const signSafeMessage = (safe: string, chainId: number, digest: string, owners: Signer[]): Promise<string> =>
  signSorted(owners, safeMessageTypedData(safe, chainId, digest));
