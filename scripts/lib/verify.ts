/**
 * Source verification of a deployment. `verificationInputs` gathers what a block explorer needs for each contract of
 * a deployments file (the standard JSON input Hardhat compiled, the compiler version, the constructor arguments);
 * `reproducesDeployment` is the offline proof behind it: it compiles that input again with the npm `solc` package
 * and compares the result with the deployment transaction and the code on chain.
 */
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { getAddress } from "ethers";
import type { Provider } from "ethers";
import type { CompilerInput, HardhatRuntimeEnvironment } from "hardhat/types";
import type { Deployment } from "./deploy";

/** One deployed contract, with everything a verifier needs. */
export type VerificationInput = {
  /** Contract name as in the deployments file. */
  name: string;
  /** Fully qualified name, e.g. "contracts/Escrow.sol:Escrow". */
  fqn: string;
  address: string;
  /** The deployment transaction recorded in the deployments file. */
  txHash: string;
  /** Constructor arguments as recorded, typed by the constructor's ABI (integers as decimal strings). */
  constructorArguments: (string | boolean)[];
  /** The standard JSON input Hardhat compiled the contract from (its build info). */
  standardJsonInput: CompilerInput;
  /** e.g. "0.8.30+commit.73712a01". */
  solcLongVersion: string;
};

/** Compiled bytes against bytes on chain; offsets and lengths in bytes. */
export type BytecodeComparison = {
  match: boolean;
  /** First byte offset where the two differ (the shorter length when one is a prefix of the other). */
  firstDifference?: number;
  compiledLength: number;
  onChainLength: number;
};

export type ReproductionResult = {
  name: string;
  fqn: string;
  address: string;
  /** The solc-js build that compiled. */
  solcVersion: string;
  /** Compiled creation code + ABI-encoded constructor arguments against the deployment transaction's data. */
  creation: BytecodeComparison;
  /** Compiled runtime code against `eth_getCode`, both with the immutable references masked. */
  runtime: BytecodeComparison & { maskedBytes: number };
  /** The recorded transaction's receipt created the recorded address. */
  createdAddress: boolean;
  /** All of the above hold. */
  match: boolean;
};

/** The subset of solc's standard JSON output read here. */
type SolcContractOutput = {
  abi: unknown[];
  evm: {
    bytecode: { object: string; linkReferences?: Record<string, unknown> };
    deployedBytecode: {
      object: string;
      immutableReferences?: Record<string, { start: number; length: number }[]>;
    };
  };
};
type SolcOutput = {
  contracts?: Record<string, Record<string, SolcContractOutput>>;
  errors?: { severity: string; formattedMessage?: string; message: string }[];
};

/** Outputs requested from solc: enough to rebuild both bytecodes and encode constructor arguments. */
const OUTPUTS = [
  "abi",
  "evm.bytecode.object",
  "evm.bytecode.linkReferences",
  "evm.deployedBytecode.object",
  "evm.deployedBytecode.immutableReferences",
];

/**
 * Compiling with solc-js and viaIR takes tens of seconds, so each distinct input is compiled once per process.
 * `plannedTargets` lists, per input digest, the contracts `verificationInputs` found deployed from it: they are
 * compiled together. The output selection is narrowed to them (it never changes the bytecode; solc then generates
 * code for those contracts only).
 */
const plannedTargets = new Map<string, Set<string>>();
const compiled = new Map<string, Promise<SolcOutput>>();

function digest(input: CompilerInput): string {
  return createHash("sha256").update(JSON.stringify(input)).digest("hex");
}

function splitFqn(fqn: string): [source: string, contract: string] {
  const colon = fqn.lastIndexOf(":");
  return [fqn.slice(0, colon), fqn.slice(colon + 1)];
}

/** Restores a recorded constructor argument to the form its ABI type takes (integers as decimal strings). */
function restoreArgument(type: string, value: unknown, label: string): string | boolean {
  if (/^u?int\d*$/.test(type)) return BigInt(value as string | number).toString();
  if (type === "address") return getAddress(value as string);
  if (type === "bool") return value === true || value === "true";
  if (typeof value === "string") return value;
  throw new Error(`${label}: constructor argument of type ${type} cannot be restored from ${JSON.stringify(value)}`);
}

/** Everything needed to verify each contract of `deployment`, from the current build of the project. */
export async function verificationInputs(
  hre: HardhatRuntimeEnvironment,
  deployment: Deployment,
): Promise<VerificationInput[]> {
  const inputs: VerificationInput[] = [];
  for (const [name, record] of Object.entries(deployment.contracts)) {
    if (!record) continue;
    const artifact = await hre.artifacts.readArtifact(name);
    const fqn = `${artifact.sourceName}:${artifact.contractName}`;
    const buildInfo = await hre.artifacts.getBuildInfo(fqn);
    if (!buildInfo) throw new Error(`${fqn} has no build info: run \`npx hardhat compile\``);
    const constructor = (artifact.abi as { type: string; inputs?: { type: string }[] }[]).find(
      (item) => item.type === "constructor",
    );
    const types = (constructor?.inputs ?? []).map((input) => input.type);
    if (types.length !== record.args.length) {
      throw new Error(
        `${name}: the deployments file records ${record.args.length} arguments, the constructor takes ${types.length}`,
      );
    }
    const key = digest(buildInfo.input);
    plannedTargets.set(key, (plannedTargets.get(key) ?? new Set()).add(fqn));
    inputs.push({
      name,
      fqn,
      address: getAddress(record.address),
      txHash: record.txHash,
      constructorArguments: record.args.map((arg, i) => restoreArgument(types[i], arg, name)),
      standardJsonInput: buildInfo.input,
      solcLongVersion: buildInfo.solcLongVersion,
    });
  }
  return inputs;
}

/** The npm `solc` package's version, checked to be the compiler `solcLongVersion` names. */
async function solcVersion(fqn: string, solcLongVersion: string): Promise<string> {
  const version: string = (await import("solc")).default.version();
  // solc-js reports e.g. "0.8.30+commit.73712a01.Emscripten.clang" for the build of "0.8.30+commit.73712a01".
  if (version !== solcLongVersion && !version.startsWith(`${solcLongVersion}.`)) {
    throw new Error(
      `the npm solc package is ${version}, but ${fqn} was compiled with ${solcLongVersion}: ` +
        `install solc@${solcLongVersion.split("+")[0]} to reproduce it`,
    );
  }
  return version;
}

/**
 * `require("solc").compile(input)` in a worker thread: a compilation blocks its thread for tens of seconds, long
 * enough for an RPC server to close the caller's idle keep-alive connections under it.
 */
function compileInWorker(input: string): Promise<string> {
  const source = `
    const { parentPort, workerData } = require("node:worker_threads");
    parentPort.postMessage(require(workerData.solc).compile(workerData.input));`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { solc: require.resolve("solc"), input } });
    worker.once("message", (output: string) => {
      resolve(output);
      void worker.terminate();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the solc worker exited with ${code} before answering`)));
  });
}

async function compileFor(input: VerificationInput): Promise<SolcContractOutput> {
  const key = digest(input.standardJsonInput);
  const fqns = [...new Set([...(plannedTargets.get(key) ?? []), input.fqn])].sort();
  const cacheKey = `${key}:${fqns.join(",")}`;
  let output = compiled.get(cacheKey);
  if (!output) {
    const selection: Record<string, Record<string, string[]>> = {};
    for (const fqn of fqns) {
      const [source, contract] = splitFqn(fqn);
      (selection[source] ??= {})[contract] = OUTPUTS;
    }
    const narrowed = {
      ...input.standardJsonInput,
      settings: { ...input.standardJsonInput.settings, outputSelection: selection },
    };
    output = compileInWorker(JSON.stringify(narrowed)).then((json) => JSON.parse(json) as SolcOutput);
    compiled.set(cacheKey, output);
    output.catch(() => compiled.delete(cacheKey));
  }
  const result = await output;
  const errors = (result.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) {
    throw new Error(`solc failed on ${input.fqn}:\n${errors.map((e) => e.formattedMessage ?? e.message).join("\n")}`);
  }
  const [source, contract] = splitFqn(input.fqn);
  const found = result.contracts?.[source]?.[contract];
  if (!found) throw new Error(`solc produced no ${input.fqn}`);
  if (Object.keys(found.evm.bytecode.linkReferences ?? {}).length > 0) {
    throw new Error(`${input.fqn} links libraries; reproducing linked bytecode is not supported`);
  }
  return found;
}

function bytes(hex: string): Buffer {
  return Buffer.from(hex.startsWith("0x") ? hex.slice(2) : hex, "hex");
}

function compare(compiledCode: Buffer, onChain: Buffer): BytecodeComparison {
  const shorter = Math.min(compiledCode.length, onChain.length);
  let firstDifference: number | undefined;
  for (let i = 0; i < shorter; i++) {
    if (compiledCode[i] !== onChain[i]) {
      firstDifference = i;
      break;
    }
  }
  if (firstDifference === undefined && compiledCode.length !== onChain.length) firstDifference = shorter;
  return {
    match: firstDifference === undefined,
    ...(firstDifference === undefined ? {} : { firstDifference }),
    compiledLength: compiledCode.length,
    onChainLength: onChain.length,
  };
}

/**
 * Recompiles `input.standardJsonInput` with the npm `solc` package and checks that it yields exactly the recorded
 * deployment: the creation code followed by the ABI-encoded constructor arguments equals the deployment
 * transaction's data, and the runtime code equals the code at the address except for the immutable values.
 */
export async function reproducesDeployment(
  hre: HardhatRuntimeEnvironment,
  provider: Provider,
  input: VerificationInput,
): Promise<ReproductionResult> {
  const version = await solcVersion(input.fqn, input.solcLongVersion);
  const output = await compileFor(input);

  const [tx, receipt, code] = await Promise.all([
    provider.getTransaction(input.txHash),
    provider.getTransactionReceipt(input.txHash),
    provider.getCode(input.address),
  ]);
  if (!tx) throw new Error(`${input.name}: deployment transaction ${input.txHash} not found on the chain`);

  const encodedArgs = new hre.ethers.Interface(output.abi as never).encodeDeploy(input.constructorArguments);
  const creation = compare(Buffer.concat([bytes(output.evm.bytecode.object), bytes(encodedArgs)]), bytes(tx.data));

  // Immutables are written into the runtime code by the constructor: their bytes are not the compiler's.
  const compiledRuntime = bytes(output.evm.deployedBytecode.object);
  const onChainRuntime = bytes(code);
  let maskedBytes = 0;
  for (const ranges of Object.values(output.evm.deployedBytecode.immutableReferences ?? {})) {
    for (const { start, length } of ranges) {
      compiledRuntime.fill(0, start, start + length);
      onChainRuntime.fill(0, Math.min(start, onChainRuntime.length), Math.min(start + length, onChainRuntime.length));
      maskedBytes += length;
    }
  }
  const runtime = { ...compare(compiledRuntime, onChainRuntime), maskedBytes };

  const createdAddress =
    tx.to === null && receipt?.contractAddress != null && getAddress(receipt.contractAddress) === input.address;
  return {
    name: input.name,
    fqn: input.fqn,
    address: input.address,
    solcVersion: version,
    creation,
    runtime,
    createdAddress,
    match: creation.match && runtime.match && createdAddress,
  };
}

/** One line describing a reproduction result. */
export function describeReproduction(result: ReproductionResult): string {
  const part = (label: string, c: BytecodeComparison) =>
    c.match
      ? `${label} matches (${c.compiledLength} bytes)`
      : `${label} DIFFERS at byte ${c.firstDifference} (compiled ${c.compiledLength} bytes, on chain ${c.onChainLength})`;
  return [
    `${result.name} (${result.fqn}) at ${result.address}: ${result.match ? "reproduced" : "NOT REPRODUCED"}`,
    part("creation code + constructor arguments", result.creation),
    `${part("runtime code", result.runtime)} with ${result.runtime.maskedBytes} immutable bytes masked`,
    result.createdAddress
      ? "the recorded transaction created this address"
      : "the recorded transaction did NOT create this address",
  ].join("; ");
}

/** Whether a hardhat-verify error says the explorer already holds the verified source (a success for us). */
export function isAlreadyVerified(error: unknown): boolean {
  return error instanceof Error && /already (been )?verified/i.test(error.message);
}
