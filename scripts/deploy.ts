/**
 * `npx hardhat run scripts/deploy.ts --network <name>` — deploys the protocol and writes
 * deployments/<name>.json. Configuration comes from the environment (see docs/deploy.md);
 * FRESH=1 redeploys even when the deployments file already records the contracts
 * (`npx hardhat deploy --network <name> --fresh` does the same).
 */
import hre from "hardhat";
import { configFromEnv, deployProtocol } from "./lib/deploy";

async function main(): Promise<void> {
  const [deployer] = await hre.ethers.getSigners();
  if (!deployer) throw new Error(`no deployer account on ${hre.network.name}: set DEPLOYER_KEY`);
  const config = configFromEnv(process.env, hre.network.name, deployer.address);
  await deployProtocol(hre, config, { fresh: process.env.FRESH === "1", dir: process.env.DEPLOYMENTS_DIR });
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
