/**
 * `npm run verify -- --network <name>` — publishes the source of every contract in deployments/<name>.json
 * (`DEPLOYMENTS_DIR` overrides the folder) on Etherscan (multichain API v2, key in ETHERSCAN_API_KEY) and Sourcify,
 * through hardhat-verify. A contract the explorer already verified counts as verified. Exits non-zero if any fails.
 *
 * On the local networks (hardhat, localhost) no explorer can see the chain: the script says so and instead proves
 * offline that the recorded compiler input reproduces each deployment byte for byte (scripts/lib/verify.ts).
 */
import fs from "node:fs";
import hre from "hardhat";
import { deploymentPath, readDeployment } from "./lib/deploy";
import { LOCAL_NETWORKS } from "./lib/networks";
import { describeReproduction, isAlreadyVerified, reproducesDeployment, verificationInputs } from "./lib/verify";
import type { VerificationInput } from "./lib/verify";

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

async function reproduceOffline(inputs: VerificationInput[]): Promise<number> {
  const network = hre.network.name;
  console.log(
    `${network} is a local network: no block explorer can see it, so nothing is submitted. ` +
      `Reproducing each deployment from its recorded compiler input instead:`,
  );
  let failed = 0;
  for (const input of inputs) {
    try {
      const result = await reproducesDeployment(hre, hre.ethers.provider, input);
      console.log(`  ${describeReproduction(result)}`);
      if (!result.match) failed++;
    } catch (error) {
      console.log(`  ${input.name} (${input.fqn}) at ${input.address}: FAILED: ${message(error)}`);
      failed++;
    }
  }
  console.log(
    failed === 0
      ? `all ${inputs.length} contracts reproduced with solc ${inputs[0]?.solcLongVersion}`
      : `${failed} of ${inputs.length} contracts NOT reproduced`,
  );
  return failed === 0 ? 0 : 1;
}

async function verifyOnExplorers(inputs: VerificationInput[]): Promise<number> {
  if (hre.config.etherscan.enabled && !hre.config.etherscan.apiKey) {
    console.error("ETHERSCAN_API_KEY must be set to verify on Etherscan (one key serves every chain of its API v2)");
    return 1;
  }
  let failed = 0;
  for (const { name, fqn, address, constructorArguments } of inputs) {
    try {
      try {
        await hre.run("verify:verify", { address, constructorArguments, contract: fqn });
        console.log(`${name} (${fqn}) at ${address}: verified`);
      } catch (error) {
        if (!isAlreadyVerified(error)) throw error;
        // verify:verify stops at the first service that throws, and Etherscan's late "already verified" answer
        // comes before Sourcify's turn: give Sourcify its turn.
        if (hre.config.sourcify.enabled) await hre.run("verify:sourcify", { address, contract: fqn, libraries: {} });
        console.log(`${name} (${fqn}) at ${address}: already verified`);
      }
    } catch (error) {
      console.log(`${name} (${fqn}) at ${address}: FAILED: ${message(error)}`);
      failed++;
    }
  }
  console.log(
    failed === 0 ? `all ${inputs.length} contracts verified` : `${failed} of ${inputs.length} contracts failed`,
  );
  return failed === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  const network = hre.network.name;
  const file = deploymentPath(network, process.env.DEPLOYMENTS_DIR);
  if (!fs.existsSync(file)) {
    console.error(`${file} does not exist: deploy first (npx hardhat run scripts/deploy.ts --network ${network})`);
    return 1;
  }
  const deployment = readDeployment(file);
  const chainId = Number((await hre.ethers.provider.getNetwork()).chainId);
  if (deployment.chainId !== chainId) {
    console.error(`${file} records chain ${deployment.chainId}, but ${network} is chain ${chainId}`);
    return 1;
  }
  const inputs = await verificationInputs(hre, deployment);
  return LOCAL_NETWORKS.has(network) ? reproduceOffline(inputs) : verifyOnExplorers(inputs);
}

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
