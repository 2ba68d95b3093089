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

export const USDT_CHAINS: UsdtChain[] = [
  {
    name: "mainnet",
    chainId: 1,
    rpcEnv: "MAINNET_RPC_URL",
    usdt: { address: "0xdAC17F958D2ee523a2206206994597C13D831ec7", decimals: 6 },
  },
  { name: "sepolia", chainId: 11155111, rpcEnv: "SEPOLIA_RPC_URL" },
  {
    name: "bsc",
    chainId: 56,
    rpcEnv: "BSC_RPC_URL",
    usdt: { address: "0x55d398326f99059fF775485246999027B3197955", decimals: 18 },
  },
  { name: "bscTestnet", chainId: 97, rpcEnv: "BSC_TESTNET_RPC_URL" },
  {
    name: "polygon",
    chainId: 137,
    rpcEnv: "POLYGON_RPC_URL",
    usdt: { address: "0xc2132D05D31c914a87C6611C10748AEb04B58e8F", decimals: 6 },
  },
  { name: "polygonAmoy", chainId: 80002, rpcEnv: "POLYGON_AMOY_RPC_URL" },
  {
    name: "arbitrum",
    chainId: 42161,
    rpcEnv: "ARBITRUM_RPC_URL",
    usdt: { address: "0xFd086bC7CD5C481DCC9C85ebE478A1C0b69FCbb9", decimals: 6 },
  },
  { name: "arbitrumSepolia", chainId: 421614, rpcEnv: "ARBITRUM_SEPOLIA_RPC_URL" },
  {
    name: "optimism",
    chainId: 10,
    rpcEnv: "OPTIMISM_RPC_URL",
    usdt: { address: "0x94b008aA00579c1307B0EF2c499aD98a8ce58e58", decimals: 6 },
  },
  { name: "optimismSepolia", chainId: 11155420, rpcEnv: "OPTIMISM_SEPOLIA_RPC_URL" },
  {
    name: "avalanche",
    chainId: 43114,
    rpcEnv: "AVALANCHE_RPC_URL",
    usdt: { address: "0x9702230A8Ea53601f5cD2dc00fDBc13d4dF4A8c7", decimals: 6 },
  },
  { name: "avalancheFuji", chainId: 43113, rpcEnv: "AVALANCHE_FUJI_RPC_URL" },
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
