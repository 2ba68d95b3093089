import { subtask, task } from "hardhat/config";
import {
  TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD,
  TASK_COMPILE_SOLIDITY_LOG_COMPILATION_ERRORS,
} from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-toolbox";
import { usdtNetworks } from "./scripts/lib/networks";
import { mochaHooks } from "./test/support/redis";

/** The one Solidity version every contract pins; the npm `solc` package must be this exact version. */
export const SOLC_VERSION = "0.8.30";
const SOLC_LONG_VERSION = "0.8.30+commit.73712a01";

// No machine of this project can download a compiler: compile with the solc-js
// build that the npm `solc` package ships (pinned in package.json).
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: SOLC_LONG_VERSION,
  };
});

// solc warns about every use of transient storage (EIP-1153). The contracts use it only through OpenZeppelin's
// ReentrancyGuardTransient, whose flag is cleared at the end of each call — the safe use the warning itself names.
// That warning is replaced by one line saying so; every other warning and error is printed as solc wrote it.
const TRANSIENT_STORAGE_WARNING = /^Warning: Transient storage as defined by EIP-1153/;
subtask(
  TASK_COMPILE_SOLIDITY_LOG_COMPILATION_ERRORS,
  async (args: { output?: { errors?: { formattedMessage: string; severity: string }[] } }, _hre, runSuper) => {
    const errors = args.output?.errors;
    if (errors === undefined) return runSuper(args);
    const transient = errors.filter(
      (e) => e.severity === "warning" && TRANSIENT_STORAGE_WARNING.test(e.formattedMessage),
    );
    if (transient.length > 0) {
      console.log(
        "note: solc's warning on transient storage concerns OpenZeppelin's ReentrancyGuardTransient, which clears its flag at the end of each call (safe)",
      );
    }
    return runSuper({ ...args, output: { ...args.output, errors: errors.filter((e) => !transient.includes(e)) } });
  },
);

task("deploy", "Deploys the protocol and writes deployments/<network>.json")
  .addFlag("fresh", "Redeploy even if the deployments file records the contracts")
  .setAction(async (args: { fresh: boolean }, hre) => {
    const { configFromEnv, deployProtocol } = await import("./scripts/lib/deploy");
    const [deployer] = await hre.ethers.getSigners();
    if (!deployer) throw new Error(`no deployer account on ${hre.network.name}: set DEPLOYER_KEY`);
    const config = configFromEnv(process.env, hre.network.name, deployer.address);
    await deployProtocol(hre, config, { fresh: args.fresh, dir: process.env.DEPLOYMENTS_DIR });
  });

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 1_000 },
      // The coverage run compiles without the IR pipeline: solidity-coverage finds its hit markers in IR-compiled
      // code by heuristics that depend on the markers' values, which it derives from each file's absolute path,
      // so a branch could count in one checkout and not in another. The legacy pipeline is counted exactly.
      viaIR: !process.env.SOLIDITY_COVERAGE,
    },
  },
  networks: {
    // HARDHAT_CHAIN_ID: a node of another chain id (the relayer's several-chains test runs two side by side).
    hardhat: { hardfork: "cancun", chainId: Number(process.env.HARDHAT_CHAIN_ID ?? 31337) },
    localhost: { url: process.env.LOCALHOST_RPC_URL ?? "http://127.0.0.1:8545" },
    ...usdtNetworks(process.env),
  },
  // Etherscan's multichain API takes one key for every chain it serves; Sourcify needs none.
  etherscan: {
    apiKey: process.env.ETHERSCAN_API_KEY ?? "",
    customChains: [
      {
        network: "optimismSepolia",
        chainId: 11155420,
        urls: { apiURL: "https://api.etherscan.io/v2/api", browserURL: "https://sepolia-optimism.etherscan.io" },
      },
    ],
  },
  sourcify: { enabled: true },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  // The root hooks give the tests a Redis on a fresh machine (a private redis-server when none answers on 6379).
  mocha: { timeout: 120_000, rootHooks: mochaHooks },
  gasReporter: { enabled: false },
};

export default config;
