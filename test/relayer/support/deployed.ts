/**
 * The protocol as the relayer's end-to-end suites start from it: a Hardhat node of its own, the deploy script run
 * against it (the deployments file in a temporary folder) and the actors of support/activity set up.
 *
 *   const { node, deploymentFile, p } = await startDeployed("indexer");
 *   ...
 *   await node.stop();
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readDeployment, type DeploymentFile } from "../../../relayer/src/deployment";
import { connectProtocol, setupActors, type Protocol } from "./activity";
import { deployToNode, startHardhatNode, type HardhatNode } from "./node";

export type Deployed = {
  node: HardhatNode;
  /** The deployments file the relayer reads (DEPLOYMENT). */
  deploymentFile: string;
  deployment: DeploymentFile;
  /** The deployed contracts, connected, with their actors set up. */
  p: Protocol;
};

/** Starts a node, deploys the protocol to it (files in a temporary `relayer-<name>-` folder) and sets up the actors. */
export async function startDeployed(name: string, { chainId }: { chainId?: number } = {}): Promise<Deployed> {
  const node = await startHardhatNode({ chainId });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `relayer-${name}-`));
  const deploymentFile = await deployToNode(node.url, dir);
  const p = await connectProtocol(node.url, deploymentFile);
  await setupActors(p);
  return { node, deploymentFile, deployment: readDeployment(deploymentFile), p };
}
