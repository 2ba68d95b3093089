/**
 * Deploys GatewayRegistry and Escrow (and, on local networks, the test USDT), wires the governance roles,
 * allowlists tokens and records everything in deployments/<network>.json. The deploy script, the `deploy` task and
 * the tests all run this same code.
 */
import fs from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { isAddress, ZeroAddress } from "ethers";
import type { ContractTransactionResponse } from "ethers";
import { LOCAL_NETWORKS, USDT_CHAINS } from "./networks";
import { MIN_SLASH_TIME } from "../../protocol";

/** One deployed contract as recorded in the deployments file. */
export type DeployedContract = {
  address: string;
  blockNumber: number;
  txHash: string;
  args: (string | number)[];
};

/** The deployments file. */
export type Deployment = {
  network: string;
  chainId: number;
  solc: { version: string; settings: unknown };
  contracts: {
    GatewayRegistry: DeployedContract;
    Escrow: DeployedContract;
    TestUSDT?: DeployedContract;
  };
  roles: { admin: string; governor: string; pauser: string; arbiter: string };
  tokens: string[];
};

/** What governance the deployment is wired to; numbers in base units and seconds. */
export type DeployConfig = {
  admin: string;
  governor: string;
  pauser: string;
  arbiter: string;
  /** Tokens to allowlist; the bond token is allowlisted too. */
  tokens: string[];
  /** Token gateways post their bond in (USDT); on local networks the test USDT when unset. */
  bondToken?: string;
  minBond: bigint;
  maxFeeBps: number;
  unbondingDelay: number;
  /**
   * The registry's floor of the unbonding delay, fixed at deployment (its 6th constructor argument): every escrow
   * deployed against the registry must have a resolution window + MIN_SLASH_TIME at or below it, and the unbonding
   * delay can never be set below it. Default: the resolution window + MIN_SLASH_TIME.
   */
  minUnbondingDelay: number;
  resolutionWindow: number;
};

/**
 * Tunable defaults of a deployment. The floor of the unbonding delay defaults to the resolution window, so the
 * default unbonding delay must stay at or above the default resolution window (checkDelays).
 */
export const DEFAULTS = {
  MIN_BOND_UNITS: 10_000n, // whole tokens; scaled by the bond token's decimals
  MAX_FEE_BPS: 300,
  UNBONDING_DELAY: 14 * 24 * 3600,
  RESOLUTION_WINDOW: 3 * 24 * 3600,
};

/**
 * The escrow's `MIN_SLASH_TIME` (from the protocol model): its resolution window plus this must fit under the
 * registry's floor of the unbonding delay, so governance can always slash a leaving gateway after its last ruling.
 */
export { MIN_SLASH_TIME };

export type DeployOptions = {
  /** Redeploy even if the deployments file records contracts. */
  fresh?: boolean;
  /** Folder for the deployments file (default: deployments/ at the project root). */
  dir?: string;
  /** Progress lines (default: console.log). */
  log?: (line: string) => void;
};

/** Builds the configuration from environment variables (documented in docs/deploy.md) for `network`. */
export function configFromEnv(
  env: NodeJS.ProcessEnv,
  network: string,
  deployer: string,
): Omit<DeployConfig, "minBond"> & {
  minBond?: bigint;
} {
  const local = LOCAL_NETWORKS.has(network);
  const pick = (name: string): string => {
    const value = env[name];
    if (value) return value;
    if (local) return deployer;
    throw new Error(
      `${name} must be set to deploy on ${network}: the deployer is never left holding governance on a public network`,
    );
  };
  const chain = USDT_CHAINS.find((c) => c.name === network);
  const bondToken = env.DEPLOY_BOND_TOKEN || chain?.usdt?.address;
  const tokens = (env.DEPLOY_TOKENS ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  if (!local && !bondToken) throw new Error(`DEPLOY_BOND_TOKEN must be set on ${network} (no canonical USDT known)`);
  const resolutionWindow = integerFromEnv(env, "DEPLOY_RESOLUTION_WINDOW", DEFAULTS.RESOLUTION_WINDOW);
  return {
    admin: pick("DEPLOY_ADMIN"),
    governor: pick("DEPLOY_GOVERNOR"),
    pauser: pick("DEPLOY_PAUSER"),
    arbiter: pick("DEPLOY_ARBITER"),
    tokens,
    bondToken,
    minBond: env.DEPLOY_MIN_BOND ? BigInt(integerText(env, "DEPLOY_MIN_BOND")) : undefined,
    maxFeeBps: integerFromEnv(env, "DEPLOY_MAX_FEE_BPS", DEFAULTS.MAX_FEE_BPS),
    unbondingDelay: integerFromEnv(env, "DEPLOY_UNBONDING_DELAY", DEFAULTS.UNBONDING_DELAY),
    minUnbondingDelay: integerFromEnv(env, "DEPLOY_MIN_UNBONDING_DELAY", resolutionWindow + MIN_SLASH_TIME),
    resolutionWindow,
  };
}

/**
 * The order the contracts require of the three delays: resolution window + MIN_SLASH_TIME <= floor of the unbonding
 * delay <= unbonding delay (the escrow's constructor and the registry's refuse anything else). Checked before any
 * transaction, so a wrong configuration fails here with the names of the variables rather than as a revert half-way.
 */
export function checkDelays(config: Pick<DeployConfig, "unbondingDelay" | "minUnbondingDelay" | "resolutionWindow">) {
  const { unbondingDelay, minUnbondingDelay, resolutionWindow } = config;
  if (resolutionWindow + MIN_SLASH_TIME > minUnbondingDelay) {
    throw new Error(
      `the resolution window (DEPLOY_RESOLUTION_WINDOW, ${resolutionWindow} s) plus the escrow's ${MIN_SLASH_TIME} s ` +
        `to slash is above the floor of the unbonding delay (DEPLOY_MIN_UNBONDING_DELAY, ${minUnbondingDelay} s): a ` +
        "gateway's bond could leave before a slash for its last ruling lands, and the escrow would refuse to deploy",
    );
  }
  if (minUnbondingDelay > unbondingDelay) {
    throw new Error(
      `the unbonding delay (DEPLOY_UNBONDING_DELAY, ${unbondingDelay} s) is below its floor ` +
        `(DEPLOY_MIN_UNBONDING_DELAY, ${minUnbondingDelay} s): the registry would refuse to deploy`,
    );
  }
}

/** The decimal digits of `env[name]`; anything else fails here rather than as NaN or a revert on chain. */
function integerText(env: NodeJS.ProcessEnv, name: string): string {
  const value = (env[name] ?? "").trim();
  if (!/^\d+$/.test(value)) throw new Error(`${name} must be a non-negative integer, got "${env[name]}"`);
  return value;
}

/** A non-negative integer from `env[name]`, `fallback` when unset. */
function integerFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  if (env[name] === undefined || env[name] === "") return fallback;
  const value = Number(integerText(env, name));
  if (!Number.isSafeInteger(value)) throw new Error(`${name} is too large: ${env[name]}`);
  return value;
}

/**
 * The governance rules every deployment obeys: each role is a non-zero address and, outside the local networks,
 * none of them is the deployer — its key sits in an environment variable and must never keep governance (the admin
 * grants every role, the governor rules the allowlist and the bonds, the arbiter rules disputes, the pauser stops
 * new business).
 */
export function checkGovernance(
  network: string,
  deployer: string,
  config: Pick<DeployConfig, "admin" | "governor" | "pauser" | "arbiter">,
): void {
  const roles = { admin: config.admin, governor: config.governor, pauser: config.pauser, arbiter: config.arbiter };
  for (const [role, account] of Object.entries(roles)) {
    if (!isAddress(account) || account === ZeroAddress) {
      throw new Error(`the ${role} must be a non-zero address, got "${account}"`);
    }
  }
  if (LOCAL_NETWORKS.has(network)) return;
  const kept = Object.entries(roles)
    .filter(([, account]) => account.toLowerCase() === deployer.toLowerCase())
    .map(([role]) => role);
  if (kept.length > 0) {
    throw new Error(
      `the deployer ${deployer} is the ${kept.join(", ")} (DEPLOY_${kept.map((r) => r.toUpperCase()).join(", DEPLOY_")}); ` +
        `on ${network} governance must be other accounts (a multisig)`,
    );
  }
}

/** The deployments file path for `network`. */
export function deploymentPath(network: string, dir?: string): string {
  return path.join(dir ?? path.join(__dirname, "..", "..", "deployments"), `${network}.json`);
}

/** Reads a deployments file. */
export function readDeployment(file: string): Deployment {
  return JSON.parse(fs.readFileSync(file, "utf8")) as Deployment;
}

/**
 * Deploys (or completes) the protocol on `hre.network` and writes the deployments file. Re-running with a complete
 * record whose contracts have code sends no transaction.
 */
export async function deployProtocol(
  hre: HardhatRuntimeEnvironment,
  config: Omit<DeployConfig, "minBond"> & { minBond?: bigint },
  options: DeployOptions = {},
): Promise<Deployment> {
  const { ethers } = hre;
  const log = options.log ?? ((line: string) => console.log(line));
  const network = hre.network.name;
  const local = LOCAL_NETWORKS.has(network);
  const file = deploymentPath(network, options.dir);
  const [deployer] = await ethers.getSigners();
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  checkGovernance(network, deployer.address, config);
  checkDelays(config);

  let previous: Deployment | undefined;
  if (!options.fresh && fs.existsSync(file)) {
    previous = readDeployment(file);
    if (previous.chainId !== chainId) {
      throw new Error(`${file} records chain ${previous.chainId}, but ${network} is chain ${chainId}; use --fresh`);
    }
  }

  log(`deploying on ${network} (chain ${chainId}) from ${deployer.address}${options.fresh ? " (fresh)" : ""}`);
  let totalGas = 0n;
  const send = async (label: string, tx: Promise<ContractTransactionResponse>) => {
    const receipt = await (await tx).wait();
    if (!receipt) throw new Error(`${label}: no receipt`);
    totalGas += receipt.gasUsed;
    log(`  ${label}: gas ${receipt.gasUsed} (tx ${receipt.hash})`);
    return receipt;
  };
  const reuse = async (name: keyof Deployment["contracts"]): Promise<DeployedContract | undefined> => {
    const record = previous?.contracts[name];
    if (!record) return undefined;
    if ((await ethers.provider.getCode(record.address)) === "0x") {
      throw new Error(`${file} records ${name} at ${record.address} but it has no code on ${network}; use --fresh`);
    }
    log(`  ${name}: already deployed at ${record.address}`);
    return record;
  };
  // The file is rewritten after every contract deployed, so a run that fails half-way (RPC timeout, gas) resumes
  // from what is on chain instead of deploying again; a partial file lacks the contracts not deployed yet.
  const buildInfo = await hre.artifacts.getBuildInfo("contracts/Escrow.sol:Escrow");
  const contracts: Partial<Deployment["contracts"]> = {};
  const write = (tokens: string[]): Deployment => {
    const deployment = {
      network,
      chainId,
      solc: {
        version: buildInfo?.solcLongVersion ?? hre.config.solidity.compilers[0].version,
        settings: (({ optimizer, evmVersion, viaIR }) => ({ optimizer, evmVersion, viaIR }))(
          hre.config.solidity.compilers[0].settings,
        ),
      },
      contracts,
      roles: { admin: config.admin, governor: config.governor, pauser: config.pauser, arbiter: config.arbiter },
      tokens,
    } as Deployment;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(deployment, null, 2) + "\n");
    return deployment;
  };
  const deployContract = async (
    name: keyof Deployment["contracts"],
    args: (string | number | bigint)[],
  ): Promise<DeployedContract> => {
    const factory = await ethers.getContractFactory(name, deployer);
    const contract = await factory.deploy(...args);
    const tx = contract.deploymentTransaction();
    if (!tx) throw new Error(`${name}: no deployment transaction`);
    const receipt = await tx.wait();
    if (!receipt) throw new Error(`${name}: no receipt`);
    totalGas += receipt.gasUsed;
    const address = await contract.getAddress();
    log(`  ${name}: deployed at ${address}, gas ${receipt.gasUsed} (tx ${receipt.hash})`);
    contracts[name] = {
      address,
      blockNumber: receipt.blockNumber,
      txHash: receipt.hash,
      args: args.map((a) => (typeof a === "bigint" ? a.toString() : a)),
    };
    write([]);
    return contracts[name];
  };
  const obtain = async (name: keyof Deployment["contracts"], args: () => (string | number | bigint)[]) => {
    const reused = await reuse(name);
    if (reused) contracts[name] = reused;
    return reused ?? (await deployContract(name, args()));
  };

  // Test USDT on local networks only.
  let bondToken = config.bondToken;
  if (local && !bondToken) bondToken = (await obtain("TestUSDT", () => [])).address;
  if (!bondToken) throw new Error("no bond token configured");
  const decimals = Number(await (await ethers.getContractAt("IERC20Metadata", bondToken)).decimals());
  const minBond = config.minBond ?? DEFAULTS.MIN_BOND_UNITS * 10n ** BigInt(decimals);

  const registryRecord = await obtain("GatewayRegistry", () => [
    deployer.address,
    bondToken,
    minBond,
    config.maxFeeBps,
    config.unbondingDelay,
    config.minUnbondingDelay,
  ]);
  // A registry reused from an earlier run keeps the floor it was deployed with: check the escrow fits under it.
  const floor = Number(
    await (await ethers.getContractAt("GatewayRegistry", registryRecord.address)).minUnbondingDelay(),
  );
  if (!previous?.contracts.Escrow && config.resolutionWindow + MIN_SLASH_TIME > floor) {
    throw new Error(
      `the resolution window (${config.resolutionWindow} s) plus ${MIN_SLASH_TIME} s to slash is above the ` +
        `minUnbondingDelay (${floor} s) of the GatewayRegistry at ${registryRecord.address}: the escrow would be ` +
        `refused; use --fresh or DEPLOY_RESOLUTION_WINDOW at or below ${floor - MIN_SLASH_TIME} s`,
    );
  }
  const escrowRecord = await obtain("Escrow", () => [registryRecord.address, config.resolutionWindow]);

  // Roles and allowlist: each step only when it is not in place yet, so a re-run is a no-op.
  const registry = await ethers.getContractAt("GatewayRegistry", registryRecord.address, deployer);
  const [ADMIN, GOVERNOR, PAUSER, ARBITER, ESCROW] = await Promise.all([
    registry.DEFAULT_ADMIN_ROLE(),
    registry.GOVERNOR_ROLE(),
    registry.PAUSER_ROLE(),
    registry.ARBITER_ROLE(),
    registry.ESCROW_ROLE(),
  ]);
  const deployerIsAdmin = await registry.hasRole(ADMIN, deployer.address);
  const tokens = [...new Set([bondToken, ...config.tokens].map((t) => ethers.getAddress(t)))];
  const grants: [string, string, string][] = [
    ["ESCROW_ROLE", ESCROW, escrowRecord.address],
    ["GOVERNOR_ROLE", GOVERNOR, config.governor],
    ["PAUSER_ROLE", PAUSER, config.pauser],
    ["ARBITER_ROLE", ARBITER, config.arbiter],
  ];
  const missingTokens: string[] = [];
  for (const token of tokens) if (!(await registry.isTokenAllowed(token))) missingTokens.push(token);
  const missingGrants: typeof grants = [];
  for (const grant of grants) if (!(await registry.hasRole(grant[1], grant[2]))) missingGrants.push(grant);
  const adminMissing = !(await registry.hasRole(ADMIN, config.admin));

  if (missingTokens.length + missingGrants.length > 0 || adminMissing) {
    if (!deployerIsAdmin) throw new Error("roles or tokens are incomplete and the deployer is no longer admin");
    for (const [name, role, account] of missingGrants) {
      await send(`grant ${name} to ${account}`, registry.grantRole(role, account));
    }
    if (missingTokens.length > 0) {
      // The deployer allowlists as a governor only for the length of the deployment (renounced below).
      if (!(await registry.hasRole(GOVERNOR, deployer.address)))
        await send("grant GOVERNOR_ROLE to the deployer (temporary)", registry.grantRole(GOVERNOR, deployer.address));
      for (const token of missingTokens) await send(`allow token ${token}`, registry.setTokenAllowed(token, true));
    }
    if (adminMissing)
      await send(`grant DEFAULT_ADMIN_ROLE to ${config.admin}`, registry.grantRole(ADMIN, config.admin));
  }
  // Outside the allowlisting above the deployer holds GOVERNOR_ROLE only if it is the governor; checked on every run,
  // so a run that failed between the temporary grant and its renounce is cleaned up by the next one.
  if (!sameAddress(config.governor, deployer.address) && (await registry.hasRole(GOVERNOR, deployer.address))) {
    await send("renounce the deployer's GOVERNOR_ROLE", registry.renounceRole(GOVERNOR, deployer.address));
  }
  if (!sameAddress(config.admin, deployer.address) && (await registry.hasRole(ADMIN, deployer.address))) {
    await send("renounce the deployer's DEFAULT_ADMIN_ROLE", registry.renounceRole(ADMIN, deployer.address));
  }

  const deployment = write(tokens);
  log(`wrote ${path.relative(process.cwd(), file)}; gas used by this run: ${totalGas}`);
  return deployment;
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
