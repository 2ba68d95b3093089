/**
 * The chains where USDT lives, as Hardhat networks configured only from the environment, with the canonical
 * USDT address on each mainnet. Check an address against the issuer's own list before deploying real money.
 */
export type UsdtChain = {
  /** Hardhat network name. */
  name: string;
  chainId: number;
  /** Environment variable holding the RPC URL. */
  rpcEnv: string;
  /** Canonical USDT on mainnets; testnets have none (configure DEPLOY_TOKENS). */
  usdt?: { address: string; decimals: number };
};

/** A chain's entry: its Hardhat name, id, RPC variable, and canonical USDT (address, decimals) on mainnets. */
const chain = (name: string, chainId: number, rpcEnv: string, usdt?: [string, number]): UsdtChain => ({
  name,
  chainId,
  rpcEnv,
  ...(usdt ? { usdt: { address: usdt[0], decimals: usdt[1] } } : {}),
});

// prettier-ignore
export const USDT_CHAINS: UsdtChain[] = [
  chain("mainnet", 1, "MAINNET_RPC_URL", ["0xdAC17F958D2ee523a2206206994597C13D831ec7", 6]),
  chain("sepolia", 11155111, "SEPOLIA_RPC_URL"),
  chain("bsc", 56, "BSC_RPC_URL", ["0x55d398326f99059fF775485246999027B3197955", 18]),
  chain("bscTestnet", 97, "BSC_TESTNET_RPC_URL"),
  chain("polygon", 137, "POLYGON_RPC_URL", ["0xc2132D05D31c914a87C6611C10748AEb04B58e8F", 6]),
  chain("polygonAmoy", 80002, "POLYGON_AMOY_RPC_URL"),
  chain("arbitrum", 42161, "ARBITRUM_RPC_URL", ["0xFd086bC7CD5C481DCC9C85ebE478A1C0b69FCbb9", 6]),
  chain("arbitrumSepolia", 421614, "ARBITRUM_SEPOLIA_RPC_URL"),
  chain("optimism", 10, "OPTIMISM_RPC_URL", ["0x94b008aA00579c1307B0EF2c499aD98a8ce58e58", 6]),
  chain("optimismSepolia", 11155420, "OPTIMISM_SEPOLIA_RPC_URL"),
  chain("avalanche", 43114, "AVALANCHE_RPC_URL", ["0x9702230A8Ea53601f5cD2dc00fDBc13d4dF4A8c7", 6]),
  chain("avalancheFuji", 43113, "AVALANCHE_FUJI_RPC_URL"),
];

/** Networks on which the deploy script also deploys the test USDT and may keep the deployer as admin. */
export const LOCAL_NETWORKS = new Set(["hardhat", "localhost"]);

/** Hardhat `networks` entries for every USDT chain whose RPC URL is set; the deployer key is DEPLOYER_KEY. */
export function usdtNetworks(
  env: NodeJS.ProcessEnv,
): Record<string, { url: string; chainId: number; accounts: string[] }> {
  const accounts = env.DEPLOYER_KEY ? [env.DEPLOYER_KEY] : [];
  const networks: Record<string, { url: string; chainId: number; accounts: string[] }> = {};
  for (const chain of USDT_CHAINS) {
    const url = env[chain.rpcEnv];
    if (url) networks[chain.name] = { url, chainId: chain.chainId, accounts };
  }
  return networks;
}
