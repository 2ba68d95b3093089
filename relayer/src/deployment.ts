/**
 * The deployments file (written by scripts/deploy.ts), as far as the relayer reads it: which escrow and registry to
 * index, on which chain, and from which block.
 */
import fs from "node:fs";
import type { Sources } from "../../protocol";
import { OptionsError } from "./errors";

export type DeploymentFile = {
  chainId: number;
  contracts: {
    Escrow: { address: string; blockNumber: number };
    GatewayRegistry: { address: string; blockNumber: number };
  };
};

/** Reads and checks the deployments file at `path`; an unreadable or incomplete file is a usage error. */
export function readDeployment(path: string): DeploymentFile {
  let parsed: DeploymentFile;
  try {
    parsed = JSON.parse(fs.readFileSync(path, "utf8")) as DeploymentFile;
  } catch (error) {
    throw new OptionsError(`DEPLOYMENT: cannot read ${path}: ${(error as Error).message}`);
  }
  if (!parsed?.contracts?.Escrow?.address || !parsed?.contracts?.GatewayRegistry?.address) {
    throw new OptionsError(`DEPLOYMENT: ${path} has no Escrow and GatewayRegistry records`);
  }
  return parsed;
}

/** What the indexer follows: the escrow and the registry (lower-case), from the earlier of their deployment blocks. */
export function indexedContracts(deployment: DeploymentFile): { sources: Sources; deploymentBlock: number } {
  const { Escrow, GatewayRegistry } = deployment.contracts;
  return {
    sources: { escrow: Escrow.address.toLowerCase(), registry: GatewayRegistry.address.toLowerCase() },
    deploymentBlock: Math.min(Escrow.blockNumber, GatewayRegistry.blockNumber),
  };
}
