/**
 * The deploy script, the `deploy` task and the verification script: in-process through the library, then as an
 * operator runs them — child processes against a `hardhat node` over HTTP.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";
import { JsonRpcProvider, Wallet, ZeroAddress, getAddress, isAddress } from "ethers";
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";

import {
  MIN_SLASH_TIME,
  DEFAULTS,
  checkDelays,
  checkGovernance,
  configFromEnv,
  deployProtocol,
  deploymentPath,
  readDeployment,
  type Deployment,
} from "../../scripts/lib/deploy";
import { USDT_CHAINS } from "../../scripts/lib/networks";
import {
  describeReproduction,
  isAlreadyVerified,
  reproducesDeployment,
  verificationInputs,
  type ReproductionResult,
  type VerificationInput,
} from "../../scripts/lib/verify";

/*//////////////////////////////////////////////////////////////
                         CONSTANTS AND HELPERS
//////////////////////////////////////////////////////////////*/

const ROOT = path.join(__dirname, "..", "..");
const HARDHAT_CHAIN_ID = 31337;
const SOLC_LONG_VERSION = "0.8.30+commit.73712a01";
const DAY = 24 * 3600;
/** DEFAULTS.MIN_BOND_UNITS whole tokens of the 6-decimal test USDT. */
const MIN_BOND_6_DECIMALS = DEFAULTS.MIN_BOND_UNITS * 10n ** 6n;
const PORTS = { first: 18700, last: 18800 };
const CONTRACT_NAMES = ["Escrow", "GatewayRegistry", "TestUSDT"];
const FQNS: Record<string, string> = {
  GatewayRegistry: "contracts/GatewayRegistry.sol:GatewayRegistry",
  Escrow: "contracts/Escrow.sol:Escrow",
  TestUSDT: "contracts/test/TestUSDT.sol:TestUSDT",
};
/** Length of the CBOR metadata trailer solc appends (ipfs hash + solc version + its 2-byte length). */
const METADATA_TRAILER_BYTES = 53;

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-test-"));
  tmpDirs.push(dir);
  return dir;
}

/** The error a promise rejects with (fails if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  expect.fail("expected a rejection");
}

/** The thrown error of `fn` (fails if it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  expect.fail("expected a throw");
}

/** `hre` as if its network were `name`: same in-process chain, so the public-network rules run offline. */
function onNetwork(name: string): HardhatRuntimeEnvironment {
  return Object.create(hre, { network: { value: { ...hre.network, name } } }) as HardhatRuntimeEnvironment;
}

function copyDeployment(from: string, network: string, edit?: (d: Deployment) => void): string {
  const dir = tmpDir();
  const deployment = readDeployment(deploymentPath(network, from));
  edit?.(deployment);
  fs.writeFileSync(deploymentPath(network, dir), JSON.stringify(deployment, null, 2) + "\n");
  return dir;
}

/** Checks the shape every deployments file has; returns it. */
function expectCompleteFile(file: string, network: string, chainId: number, withTestUsdt: boolean): Deployment {
  const deployment = readDeployment(file);
  expect(deployment.network).to.equal(network);
  expect(deployment.chainId).to.equal(chainId);
  expect(Object.keys(deployment.contracts).sort()).to.deep.equal(
    withTestUsdt ? CONTRACT_NAMES : ["Escrow", "GatewayRegistry"],
  );
  for (const record of Object.values(deployment.contracts)) {
    expect(isAddress(record.address) && getAddress(record.address) === record.address).to.equal(true);
    expect(Number.isInteger(record.blockNumber) && record.blockNumber > 0).to.equal(true);
    expect(record.txHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(record.args).to.be.an("array");
  }
  expect(deployment.contracts.Escrow.args).to.deep.equal([deployment.contracts.GatewayRegistry.address, 3 * DAY]);
  expect(deployment.contracts.GatewayRegistry.args.slice(1)).to.deep.equal([
    deployment.tokens[0],
    MIN_BOND_6_DECIMALS.toString(),
    DEFAULTS.MAX_FEE_BPS,
    DEFAULTS.UNBONDING_DELAY,
    DEFAULTS.RESOLUTION_WINDOW + MIN_SLASH_TIME, // the floor defaults to the resolution window + the slash time
  ]);
  if (withTestUsdt) {
    expect(deployment.contracts.TestUSDT?.args).to.deep.equal([]);
    expect(deployment.tokens).to.deep.equal([deployment.contracts.TestUSDT?.address]);
  }
  expect(deployment.solc).to.deep.equal({
    version: SOLC_LONG_VERSION,
    settings: { optimizer: { enabled: true, runs: 1_000 }, evmVersion: "cancun", viaIR: true },
  });
  for (const role of ["admin", "governor", "pauser", "arbiter"] as const) {
    expect(isAddress(deployment.roles[role])).to.equal(true);
  }
  return deployment;
}

function expectReproduced(result: ReproductionResult): void {
  expect(result.solcVersion.startsWith(SOLC_LONG_VERSION), result.solcVersion).to.equal(true);
  expect(result.creation, `${result.name} creation`).to.include({ match: true });
  expect(result.creation.firstDifference).to.equal(undefined);
  expect(result.creation.compiledLength).to.equal(result.creation.onChainLength);
  expect(result.runtime, `${result.name} runtime`).to.include({ match: true });
  expect(result.runtime.compiledLength).to.equal(result.runtime.onChainLength);
  expect(result.createdAddress).to.equal(true);
  expect(result.match).to.equal(true);
}

/** Environment for the child processes: the caller's, without anything that could steer a deployment. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(DEPLOY_|FRESH$|DEPLOYMENTS_DIR$|LOCALHOST_RPC_URL$|HARDHAT_NETWORK$|ETHERSCAN_API_KEY$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

type Run = { code: number | null; stdout: string; stderr: string };

function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function expectSuccess(run: Run): void {
  expect(run.code, `exit code; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).to.equal(0);
}

async function freePort(): Promise<number> {
  for (let port = PORTS.first; port <= PORTS.last; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${PORTS.first}-${PORTS.last}`);
}

async function rpc(url: string, method: string): Promise<string> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }),
  });
  return ((await response.json()) as { result: string }).result;
}

/*//////////////////////////////////////////////////////////////
                                 TESTS
//////////////////////////////////////////////////////////////*/

describe("deployment scripts", function () {
  // solc-js compiles the build with viaIR in tens of seconds; child processes start Hardhat each time.
  this.timeout(600_000);

  let snapshot: string;
  let deployer: HardhatEthersSigner;
  let others: HardhatEthersSigner[];
  let dir: string;
  let file: string;
  let deployment: Deployment;
  let lines: string[];

  before(async function () {
    snapshot = await hre.network.provider.send("evm_snapshot");
    [deployer, ...others] = await hre.ethers.getSigners();
    dir = tmpDir();
    file = deploymentPath("hardhat", dir);
    lines = [];
    deployment = await deployProtocol(hre, configFromEnv({}, "hardhat", deployer.address), {
      dir,
      log: (line) => lines.push(line),
    });
  });

  after(async function () {
    await hre.network.provider.send("evm_revert", [snapshot]);
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  describe("deployProtocol (in-process)", function () {
    describe("deployments file", function () {
      it("records the chain, every contract, the compiler, the roles and the tokens", async function () {
        const recorded = expectCompleteFile(file, "hardhat", HARDHAT_CHAIN_ID, true);
        expect(recorded).to.deep.equal(deployment);
        expect(recorded.contracts.GatewayRegistry.args[0]).to.equal(deployer.address);
        expect(recorded.roles).to.deep.equal({
          admin: deployer.address,
          governor: deployer.address,
          pauser: deployer.address,
          arbiter: deployer.address,
        });
      });

      it("records for each contract the transaction that created it, in the recorded block", async function () {
        for (const [name, record] of Object.entries(deployment.contracts)) {
          const receipt = await hre.ethers.provider.getTransactionReceipt(record.txHash);
          expect(receipt, name).to.not.equal(null);
          expect(receipt!.blockNumber, name).to.equal(record.blockNumber);
          expect(receipt!.contractAddress, name).to.equal(record.address);
          expect(await hre.ethers.provider.getCode(record.address), name).to.not.equal("0x");
        }
      });

      it("logs each step with its gas", async function () {
        for (const name of ["TestUSDT", "GatewayRegistry", "Escrow"]) {
          const record = deployment.contracts[name as keyof Deployment["contracts"]]!;
          expect(lines).to.include(
            `  ${name}: deployed at ${record.address}, gas ${lineGas(lines, name)} (tx ${record.txHash})`,
          );
        }
        expect(
          lines.some((l) => /^ {2}grant ESCROW_ROLE to 0x[0-9a-fA-F]{40}: gas \d+ \(tx 0x[0-9a-f]{64}\)$/.test(l)),
        ).to.equal(true);
        expect(lines.some((l) => /^ {2}allow token 0x[0-9a-fA-F]{40}: gas \d+/.test(l))).to.equal(true);
        expect(lines.at(-1)).to.match(/^wrote .*hardhat\.json; gas used by this run: [1-9]\d*$/);
      });
    });

    describe("deployed contracts", function () {
      it("grant the escrow ESCROW_ROLE and the configured accounts governance", async function () {
        const registry = await hre.ethers.getContractAt(
          "GatewayRegistry",
          deployment.contracts.GatewayRegistry.address,
        );
        expect(await registry.hasRole(await registry.ESCROW_ROLE(), deployment.contracts.Escrow.address)).to.equal(
          true,
        );
        expect(await registry.hasRole(await registry.DEFAULT_ADMIN_ROLE(), deployer.address)).to.equal(true);
        expect(await registry.hasRole(await registry.GOVERNOR_ROLE(), deployer.address)).to.equal(true);
        expect(await registry.hasRole(await registry.PAUSER_ROLE(), deployer.address)).to.equal(true);
        expect(await registry.hasRole(await registry.ARBITER_ROLE(), deployer.address)).to.equal(true);
        expect(await registry.isArbiter(deployer.address)).to.equal(true);
        expect(await registry.hasRole(await registry.ESCROW_ROLE(), deployer.address)).to.equal(false);
      });

      it("allowlist the test USDT as the bond token with the default parameters", async function () {
        const usdt = deployment.contracts.TestUSDT!.address;
        const registry = await hre.ethers.getContractAt(
          "GatewayRegistry",
          deployment.contracts.GatewayRegistry.address,
        );
        expect(await registry.isTokenAllowed(usdt)).to.equal(true);
        expect(await registry.bondToken()).to.equal(usdt);
        expect(await registry.minBond()).to.equal(MIN_BOND_6_DECIMALS);
        expect(await registry.maxFeeBps()).to.equal(DEFAULTS.MAX_FEE_BPS);
        expect(await registry.unbondingDelay()).to.equal(DEFAULTS.UNBONDING_DELAY);
        expect(await registry.minUnbondingDelay()).to.equal(DEFAULTS.RESOLUTION_WINDOW + MIN_SLASH_TIME);
        const token = await hre.ethers.getContractAt("TestUSDT", usdt);
        expect(await token.decimals()).to.equal(6n);
      });

      it("wire the escrow to the registry with the configured resolution window", async function () {
        const escrow = await hre.ethers.getContractAt("Escrow", deployment.contracts.Escrow.address);
        expect(await escrow.registry()).to.equal(deployment.contracts.GatewayRegistry.address);
        expect(await escrow.resolutionWindow()).to.equal(DEFAULTS.RESOLUTION_WINDOW);
      });
    });

    describe("re-runs", function () {
      it("send no transaction and leave the file byte-identical when everything is in place", async function () {
        const before = fs.readFileSync(file);
        const block = await hre.ethers.provider.getBlockNumber();
        const rerun: string[] = [];
        const again = await deployProtocol(hre, configFromEnv({}, "hardhat", deployer.address), {
          dir,
          log: (line) => rerun.push(line),
        });
        expect(await hre.ethers.provider.getBlockNumber()).to.equal(block);
        expect(fs.readFileSync(file).equals(before)).to.equal(true);
        expect(again).to.deep.equal(deployment);
        for (const name of ["TestUSDT", "GatewayRegistry", "Escrow"]) {
          const record = deployment.contracts[name as keyof Deployment["contracts"]]!;
          expect(rerun).to.include(`  ${name}: already deployed at ${record.address}`);
        }
        expect(rerun.at(-1)).to.match(/gas used by this run: 0$/);
      });

      it("deploy new contracts with fresh", async function () {
        const freshDir = copyDeployment(dir, "hardhat");
        const fresh = await deployProtocol(hre, configFromEnv({}, "hardhat", deployer.address), {
          dir: freshDir,
          fresh: true,
          log: () => undefined,
        });
        for (const name of CONTRACT_NAMES) {
          const key = name as keyof Deployment["contracts"];
          expect(fresh.contracts[key]!.address, name).to.not.equal(deployment.contracts[key]!.address);
          expect(await hre.ethers.provider.getCode(fresh.contracts[key]!.address)).to.not.equal("0x");
        }
        expect(readDeployment(deploymentPath("hardhat", freshDir))).to.deep.equal(fresh);
        expect(fresh.contracts.Escrow.args[0]).to.equal(fresh.contracts.GatewayRegistry.address);
      });

      it("fail, suggesting --fresh, when a recorded address has no code", async function () {
        const nowhere = Wallet.createRandom().address;
        const badDir = copyDeployment(dir, "hardhat", (d) => (d.contracts.Escrow.address = nowhere));
        const block = await hre.ethers.provider.getBlockNumber();
        const error = await rejection(
          deployProtocol(hre, configFromEnv({}, "hardhat", deployer.address), { dir: badDir, log: () => undefined }),
        );
        expect(error.message).to.equal(
          `${deploymentPath("hardhat", badDir)} records Escrow at ${nowhere} but it has no code on hardhat; use --fresh`,
        );
        expect(await hre.ethers.provider.getBlockNumber()).to.equal(block);
      });

      it("fail when the file records another chain", async function () {
        const otherDir = copyDeployment(dir, "hardhat", (d) => (d.chainId = 1));
        const error = await rejection(
          deployProtocol(hre, configFromEnv({}, "hardhat", deployer.address), { dir: otherDir, log: () => undefined }),
        );
        expect(error.message).to.equal(
          `${deploymentPath("hardhat", otherDir)} records chain 1, but hardhat is chain ${HARDHAT_CHAIN_ID}; use --fresh`,
        );
      });

      it("resume after a failed run from the contracts the file already records", async function () {
        const resumeDir = tmpDir();
        const resumeFile = deploymentPath("hardhat", resumeDir);
        // Escrow's constructor rejects a resolution window under one hour: the run fails after the registry (whose
        // floor is the default window, so the resumed run's escrow fits under it).
        const failing = {
          DEPLOY_RESOLUTION_WINDOW: "60",
          DEPLOY_MIN_UNBONDING_DELAY: String(DEFAULTS.RESOLUTION_WINDOW + MIN_SLASH_TIME),
        };
        const error = await rejection(
          deployProtocol(hre, configFromEnv(failing, "hardhat", deployer.address), {
            dir: resumeDir,
            log: () => undefined,
          }),
        );
        expect(error.message).to.match(/EscrowInvalidResolutionWindow|reverted/);
        const partial = readDeployment(resumeFile);
        expect(Object.keys(partial.contracts).sort()).to.deep.equal(["GatewayRegistry", "TestUSDT"]);

        const resumed: string[] = [];
        const complete = await deployProtocol(hre, configFromEnv({}, "hardhat", deployer.address), {
          dir: resumeDir,
          log: (line) => resumed.push(line),
        });
        expect(complete.contracts.TestUSDT).to.deep.equal(partial.contracts.TestUSDT);
        expect(complete.contracts.GatewayRegistry).to.deep.equal(partial.contracts.GatewayRegistry);
        expect(resumed).to.include(
          `  GatewayRegistry: already deployed at ${partial.contracts.GatewayRegistry.address}`,
        );
        expect(resumed.some((l) => l.startsWith("  Escrow: deployed at "))).to.equal(true);
        expectCompleteFile(resumeFile, "hardhat", HARDHAT_CHAIN_ID, true);
      });

      it("refuse to resume with a resolution window above the floor of the registry it would reuse", async function () {
        const resumeDir = tmpDir();
        // The floor follows the window: 60 s + the slash time.
        const env = { DEPLOY_RESOLUTION_WINDOW: "60" };
        await rejection(
          deployProtocol(hre, configFromEnv(env, "hardhat", deployer.address), {
            dir: resumeDir,
            log: () => undefined,
          }),
        );
        const partial = readDeployment(deploymentPath("hardhat", resumeDir));
        expect(partial.contracts.GatewayRegistry.args[5]).to.equal(60 + MIN_SLASH_TIME);
        const block = await hre.ethers.provider.getBlockNumber();
        const error = await rejection(
          deployProtocol(hre, configFromEnv({}, "hardhat", deployer.address), { dir: resumeDir, log: () => undefined }),
        );
        expect(error.message).to.equal(
          `the resolution window (${DEFAULTS.RESOLUTION_WINDOW} s) plus ${MIN_SLASH_TIME} s to slash is above the ` +
            `minUnbondingDelay (${60 + MIN_SLASH_TIME} s) of the GatewayRegistry at ` +
            `${partial.contracts.GatewayRegistry.address}: the escrow would be refused; use --fresh or ` +
            "DEPLOY_RESOLUTION_WINDOW at or below 60 s",
        );
        expect(await hre.ethers.provider.getBlockNumber()).to.equal(block);
      });
    });

    describe("delays", function () {
      it("default the floor of the unbonding delay to the resolution window + MIN_SLASH_TIME, and take DEPLOY_MIN_UNBONDING_DELAY", function () {
        expect(configFromEnv({}, "hardhat", deployer.address).minUnbondingDelay).to.equal(
          DEFAULTS.RESOLUTION_WINDOW + MIN_SLASH_TIME,
        );
        expect(
          configFromEnv({ DEPLOY_RESOLUTION_WINDOW: "7200" }, "hardhat", deployer.address).minUnbondingDelay,
        ).to.equal(7_200 + MIN_SLASH_TIME);
        expect(
          configFromEnv({ DEPLOY_MIN_UNBONDING_DELAY: "86400" }, "hardhat", deployer.address).minUnbondingDelay,
        ).to.equal(86_400);
        expect(DEFAULTS.UNBONDING_DELAY).to.be.at.least(DEFAULTS.RESOLUTION_WINDOW + MIN_SLASH_TIME);
      });

      it("refuse a resolution window + MIN_SLASH_TIME above the floor, and a floor above the unbonding delay, before any transaction", async function () {
        const floor = 3_600 + MIN_SLASH_TIME;
        expect(
          thrown(() => checkDelays({ resolutionWindow: 3_601, minUnbondingDelay: floor, unbondingDelay: 86_400 * 30 }))
            .message,
        ).to.equal(
          `the resolution window (DEPLOY_RESOLUTION_WINDOW, 3601 s) plus the escrow's ${MIN_SLASH_TIME} s to slash ` +
            `is above the floor of the unbonding delay (DEPLOY_MIN_UNBONDING_DELAY, ${floor} s): a gateway's bond ` +
            "could leave before a slash for its last ruling lands, and the escrow would refuse to deploy",
        );
        expect(
          thrown(() => checkDelays({ resolutionWindow: 3_600, minUnbondingDelay: floor, unbondingDelay: floor - 1 }))
            .message,
        ).to.equal(
          `the unbonding delay (DEPLOY_UNBONDING_DELAY, ${floor - 1} s) is below its floor ` +
            `(DEPLOY_MIN_UNBONDING_DELAY, ${floor} s): the registry would refuse to deploy`,
        );
        expect(() =>
          checkDelays({ resolutionWindow: 3_600, minUnbondingDelay: floor, unbondingDelay: floor }),
        ).to.not.throw();
        const block = await hre.ethers.provider.getBlockNumber();
        const error = await rejection(
          deployProtocol(hre, configFromEnv({ DEPLOY_MIN_UNBONDING_DELAY: "3600" }, "hardhat", deployer.address), {
            dir: tmpDir(),
            log: () => undefined,
          }),
        );
        expect(error.message).to.match(/^the resolution window \(DEPLOY_RESOLUTION_WINDOW, 259200 s\) plus/);
        expect(await hre.ethers.provider.getBlockNumber()).to.equal(block);
      });

      it("record the floor as the registry's sixth constructor argument", async function () {
        const custom = await deployProtocol(
          hre,
          configFromEnv({ DEPLOY_MIN_UNBONDING_DELAY: String(12 * DAY) }, "hardhat", deployer.address),
          { dir: tmpDir(), fresh: true, log: () => undefined },
        );
        expect(custom.contracts.GatewayRegistry.args[5]).to.equal(12 * DAY);
        const registry = await hre.ethers.getContractAt("GatewayRegistry", custom.contracts.GatewayRegistry.address);
        expect(await registry.minUnbondingDelay()).to.equal(12 * DAY);
      });
    });
  });

  describe("public-network rules", function () {
    const governance = () => ({
      DEPLOY_ADMIN: others[0].address,
      DEPLOY_GOVERNOR: others[1].address,
      DEPLOY_PAUSER: others[2].address,
      DEPLOY_ARBITER: others[3].address,
    });

    describe("configFromEnv", function () {
      it("requires DEPLOY_ADMIN (and every role) outside the local networks", function () {
        expect(thrown(() => configFromEnv({}, "mainnet", deployer.address)).message).to.equal(
          "DEPLOY_ADMIN must be set to deploy on mainnet: the deployer is never left holding governance on a public network",
        );
        const { DEPLOY_ARBITER: _unset, ...withoutArbiter } = governance();
        expect(thrown(() => configFromEnv(withoutArbiter, "polygon", deployer.address)).message).to.match(
          /^DEPLOY_ARBITER must be set to deploy on polygon/,
        );
      });

      it("uses the chain's canonical USDT as the bond token by default", function () {
        const mainnet = USDT_CHAINS.find((c) => c.name === "mainnet")!;
        expect(mainnet.usdt).to.deep.equal({ address: "0xdAC17F958D2ee523a2206206994597C13D831ec7", decimals: 6 });
        const config = configFromEnv(governance(), "mainnet", deployer.address);
        expect(config).to.deep.equal({
          admin: others[0].address,
          governor: others[1].address,
          pauser: others[2].address,
          arbiter: others[3].address,
          tokens: [],
          bondToken: mainnet.usdt!.address,
          minBond: undefined,
          maxFeeBps: DEFAULTS.MAX_FEE_BPS,
          unbondingDelay: DEFAULTS.UNBONDING_DELAY,
          minUnbondingDelay: DEFAULTS.RESOLUTION_WINDOW + MIN_SLASH_TIME,
          resolutionWindow: DEFAULTS.RESOLUTION_WINDOW,
        });
        expect(configFromEnv(governance(), "bsc", deployer.address).bondToken).to.equal(
          "0x55d398326f99059fF775485246999027B3197955",
        );
      });

      it("takes the bond token, tokens and parameters from the environment", function () {
        const token = Wallet.createRandom().address;
        const config = configFromEnv(
          {
            ...governance(),
            DEPLOY_BOND_TOKEN: token,
            DEPLOY_TOKENS: ` ${others[5].address}, ${others[6].address} ,`,
            DEPLOY_MIN_BOND: "123000000000000000000000",
            DEPLOY_MAX_FEE_BPS: "250",
            DEPLOY_UNBONDING_DELAY: "86400",
            DEPLOY_RESOLUTION_WINDOW: "7200",
            DEPLOY_MIN_UNBONDING_DELAY: "43200",
          },
          "mainnet",
          deployer.address,
        );
        expect(config.bondToken).to.equal(token);
        expect(config.tokens).to.deep.equal([others[5].address, others[6].address]);
        expect(config.minBond).to.equal(123_000n * 10n ** 18n);
        expect([
          config.maxFeeBps,
          config.unbondingDelay,
          config.minUnbondingDelay,
          config.resolutionWindow,
        ]).to.deep.equal([250, 86_400, 43_200, 7_200]);
      });

      it("rejects a number that is not a non-negative integer", function () {
        expect(thrown(() => configFromEnv({ DEPLOY_MAX_FEE_BPS: "3%" }, "hardhat", deployer.address)).message).to.equal(
          'DEPLOY_MAX_FEE_BPS must be a non-negative integer, got "3%"',
        );
        expect(thrown(() => configFromEnv({ DEPLOY_MIN_BOND: "1e9" }, "hardhat", deployer.address)).message).to.equal(
          'DEPLOY_MIN_BOND must be a non-negative integer, got "1e9"',
        );
      });

      it("requires DEPLOY_BOND_TOKEN on a chain without a canonical USDT", function () {
        expect(thrown(() => configFromEnv(governance(), "sepolia", deployer.address)).message).to.equal(
          "DEPLOY_BOND_TOKEN must be set on sepolia (no canonical USDT known)",
        );
      });

      it("defaults every role to the deployer and the bond token to the test USDT on local networks", function () {
        const config = configFromEnv({}, "localhost", deployer.address);
        expect([config.admin, config.governor, config.pauser, config.arbiter]).to.deep.equal(
          Array(4).fill(deployer.address),
        );
        expect(config.bondToken).to.equal(undefined);
      });
    });

    describe("checkGovernance", function () {
      it("refuses the deployer as admin, governor, pauser or arbiter outside the local networks", function () {
        const roles = {
          admin: others[0].address,
          governor: others[1].address,
          pauser: others[2].address,
          arbiter: others[3].address,
        };
        expect(() => checkGovernance("mainnet", deployer.address, roles)).to.not.throw();
        expect(
          thrown(() => checkGovernance("mainnet", deployer.address, { ...roles, admin: deployer.address })).message,
        ).to.equal(
          `the deployer ${deployer.address} is the admin (DEPLOY_ADMIN); on mainnet governance must be other accounts (a multisig)`,
        );
        const lower = deployer.address.toLowerCase();
        expect(
          thrown(() => checkGovernance("bsc", deployer.address, { ...roles, governor: lower, arbiter: lower })).message,
        ).to.equal(
          `the deployer ${deployer.address} is the governor, arbiter (DEPLOY_GOVERNOR, DEPLOY_ARBITER); on bsc governance must be other accounts (a multisig)`,
        );
        expect(
          thrown(() => checkGovernance("sepolia", deployer.address, { ...roles, pauser: deployer.address })).message,
        ).to.match(/is the pauser \(DEPLOY_PAUSER\)/);
      });

      it("lets the deployer hold every role on the local networks", function () {
        const all = {
          admin: deployer.address,
          governor: deployer.address,
          pauser: deployer.address,
          arbiter: deployer.address,
        };
        expect(() => checkGovernance("hardhat", deployer.address, all)).to.not.throw();
        expect(() => checkGovernance("localhost", deployer.address, all)).to.not.throw();
      });

      it("requires every role to be a non-zero address", function () {
        const roles = {
          admin: others[0].address,
          governor: others[1].address,
          pauser: others[2].address,
          arbiter: others[3].address,
        };
        expect(
          thrown(() => checkGovernance("hardhat", deployer.address, { ...roles, pauser: ZeroAddress })).message,
        ).to.equal(`the pauser must be a non-zero address, got "${ZeroAddress}"`);
        expect(
          thrown(() => checkGovernance("mainnet", deployer.address, { ...roles, admin: "multisig.eth" })).message,
        ).to.equal('the admin must be a non-zero address, got "multisig.eth"');
      });
    });

    describe("deployProtocol", function () {
      it("refuses the deployer as admin on a public network before sending anything", async function () {
        const env = {
          ...governance(),
          DEPLOY_ADMIN: deployer.address,
          DEPLOY_BOND_TOKEN: deployment.contracts.TestUSDT!.address,
        };
        const block = await hre.ethers.provider.getBlockNumber();
        const publicDir = tmpDir();
        const error = await rejection(
          deployProtocol(onNetwork("mainnet"), configFromEnv(env, "mainnet", deployer.address), {
            dir: publicDir,
            log: () => undefined,
          }),
        );
        expect(error.message).to.match(
          new RegExp(`^the deployer ${deployer.address} is the admin \\(DEPLOY_ADMIN\\); on mainnet`),
        );
        expect(await hre.ethers.provider.getBlockNumber()).to.equal(block);
        expect(fs.existsSync(deploymentPath("mainnet", publicDir))).to.equal(false);
      });

      it("leaves the deployer without any role when governance is other accounts", async function () {
        const localDir = tmpDir();
        const log: string[] = [];
        const result = await deployProtocol(hre, configFromEnv(governance(), "hardhat", deployer.address), {
          dir: localDir,
          log: (line) => log.push(line),
        });
        const registry = await hre.ethers.getContractAt("GatewayRegistry", result.contracts.GatewayRegistry.address);
        const [ADMIN, GOVERNOR, PAUSER, ARBITER] = await Promise.all([
          registry.DEFAULT_ADMIN_ROLE(),
          registry.GOVERNOR_ROLE(),
          registry.PAUSER_ROLE(),
          registry.ARBITER_ROLE(),
        ]);
        for (const role of [ADMIN, GOVERNOR, PAUSER, ARBITER]) {
          expect(await registry.hasRole(role, deployer.address)).to.equal(false);
        }
        expect(await registry.hasRole(ADMIN, others[0].address)).to.equal(true);
        expect(await registry.hasRole(GOVERNOR, others[1].address)).to.equal(true);
        expect(await registry.hasRole(PAUSER, others[2].address)).to.equal(true);
        expect(await registry.hasRole(ARBITER, others[3].address)).to.equal(true);
        expect(await registry.isTokenAllowed(result.contracts.TestUSDT!.address)).to.equal(true);
        expect(log.some((l) => l.startsWith("  renounce the deployer's GOVERNOR_ROLE: gas "))).to.equal(true);
        expect(log.some((l) => l.startsWith("  renounce the deployer's DEFAULT_ADMIN_ROLE: gas "))).to.equal(true);
        expect(result.roles).to.deep.equal({
          admin: others[0].address,
          governor: others[1].address,
          pauser: others[2].address,
          arbiter: others[3].address,
        });

        const block = await hre.ethers.provider.getBlockNumber();
        await deployProtocol(hre, configFromEnv(governance(), "hardhat", deployer.address), {
          dir: localDir,
          log: () => undefined,
        });
        expect(await hre.ethers.provider.getBlockNumber()).to.equal(block);
      });

      it("deploys on a public network with the configured bond token and no test token, keeping no role", async function () {
        const usdt = deployment.contracts.TestUSDT!.address;
        const extra = others[5].address;
        const publicDir = tmpDir();
        const result = await deployProtocol(
          onNetwork("mainnet"),
          configFromEnv(
            { ...governance(), DEPLOY_BOND_TOKEN: usdt, DEPLOY_TOKENS: extra },
            "mainnet",
            deployer.address,
          ),
          { dir: publicDir, log: () => undefined },
        );
        expect(result.network).to.equal("mainnet");
        expect(result.contracts.TestUSDT).to.equal(undefined);
        expect(result.tokens).to.deep.equal([usdt, extra]);
        expect(result.contracts.GatewayRegistry.args.slice(1, 3)).to.deep.equal([usdt, MIN_BOND_6_DECIMALS.toString()]);
        expect(readDeployment(deploymentPath("mainnet", publicDir))).to.deep.equal(result);
        const registry = await hre.ethers.getContractAt("GatewayRegistry", result.contracts.GatewayRegistry.address);
        expect(await registry.isTokenAllowed(usdt)).to.equal(true);
        expect(await registry.isTokenAllowed(extra)).to.equal(true);
        expect(await registry.hasRole(await registry.DEFAULT_ADMIN_ROLE(), deployer.address)).to.equal(false);
        expect(await registry.hasRole(await registry.GOVERNOR_ROLE(), deployer.address)).to.equal(false);
      });

      it("takes back a GOVERNOR_ROLE a failed run left with the deployer", async function () {
        // Local, admin = deployer (allowed here) but another governor: as if a run had died between the deployer's
        // temporary GOVERNOR_ROLE and its renounce.
        const env = { DEPLOY_GOVERNOR: others[1].address };
        const localDir = tmpDir();
        const result = await deployProtocol(hre, configFromEnv(env, "hardhat", deployer.address), {
          dir: localDir,
          log: () => undefined,
        });
        const registry = await hre.ethers.getContractAt("GatewayRegistry", result.contracts.GatewayRegistry.address);
        const GOVERNOR = await registry.GOVERNOR_ROLE();
        await (await registry.grantRole(GOVERNOR, deployer.address)).wait();
        const log: string[] = [];
        await deployProtocol(hre, configFromEnv(env, "hardhat", deployer.address), {
          dir: localDir,
          log: (line) => log.push(line),
        });
        expect(await registry.hasRole(GOVERNOR, deployer.address)).to.equal(false);
        expect(await registry.hasRole(GOVERNOR, others[1].address)).to.equal(true);
        expect(await registry.hasRole(await registry.DEFAULT_ADMIN_ROLE(), deployer.address)).to.equal(true);
        expect(log.some((l) => l.startsWith("  renounce the deployer's GOVERNOR_ROLE: gas "))).to.equal(true);
      });
    });
  });

  describe("verification (in-process deployment)", function () {
    let inputs: VerificationInput[];
    const input = (name: string) => inputs.find((i) => i.name === name)!;

    before(async function () {
      inputs = await verificationInputs(hre, deployment);
    });

    describe("verificationInputs", function () {
      it("gives each contract's name, address, constructor arguments, build input and compiler", async function () {
        expect(inputs.map((i) => i.name).sort()).to.deep.equal(CONTRACT_NAMES);
        for (const i of inputs) {
          const record = deployment.contracts[i.name as keyof Deployment["contracts"]]!;
          expect(i.fqn).to.equal(FQNS[i.name]);
          expect(i.address).to.equal(record.address);
          expect(i.txHash).to.equal(record.txHash);
          expect(i.solcLongVersion).to.equal(SOLC_LONG_VERSION);
          const [source] = i.fqn.split(":");
          expect(i.standardJsonInput.sources[source].content).to.be.a("string");
          expect(i.standardJsonInput.settings).to.deep.include({ viaIR: true, evmVersion: "cancun" });
          expect(i.standardJsonInput.settings.optimizer).to.deep.equal({ enabled: true, runs: 1_000 });
        }
        expect(input("GatewayRegistry").constructorArguments).to.deep.equal([
          deployer.address,
          deployment.contracts.TestUSDT!.address,
          MIN_BOND_6_DECIMALS.toString(),
          String(DEFAULTS.MAX_FEE_BPS),
          String(DEFAULTS.UNBONDING_DELAY),
          String(DEFAULTS.RESOLUTION_WINDOW + MIN_SLASH_TIME),
        ]);
        expect(input("Escrow").constructorArguments).to.deep.equal([
          deployment.contracts.GatewayRegistry.address,
          String(DEFAULTS.RESOLUTION_WINDOW),
        ]);
        expect(input("TestUSDT").constructorArguments).to.deep.equal([]);
      });
    });

    describe("reproducesDeployment", function () {
      it("reproduces GatewayRegistry, Escrow and TestUSDT byte for byte (immutables masked)", async function () {
        for (const i of inputs) {
          const result = await reproducesDeployment(hre, hre.ethers.provider, i);
          expectReproduced(result);
          expect(describeReproduction(result)).to.match(
            new RegExp(`^${i.name} \\(${i.fqn}\\) at ${i.address}: reproduced;`),
          );
        }
        const escrow = await reproducesDeployment(hre, hre.ethers.provider, input("Escrow"));
        expect(escrow.runtime.maskedBytes).to.be.greaterThan(0);
      });

      it("detects other constructor arguments in the creation data only (immutables are masked)", async function () {
        const escrow = input("Escrow");
        const result = await reproducesDeployment(hre, hre.ethers.provider, {
          ...escrow,
          constructorArguments: [escrow.constructorArguments[0], String(4 * DAY)],
        });
        expect(result.match).to.equal(false);
        expect(result.creation.match).to.equal(false);
        // The window is the last word of the creation data: the difference is in its low bytes.
        expect(result.creation.firstDifference).to.be.greaterThan(result.creation.compiledLength - 32);
        expect(result.runtime.match).to.equal(true);
        expect(describeReproduction(result)).to.match(
          /NOT REPRODUCED; creation code \+ constructor arguments DIFFERS at byte \d+/,
        );
      });

      it("detects a contract that is not at the address", async function () {
        const result = await reproducesDeployment(hre, hre.ethers.provider, {
          ...input("Escrow"),
          address: deployment.contracts.GatewayRegistry.address,
        });
        expect(result.runtime.match).to.equal(false);
        expect(result.runtime.firstDifference).to.be.a("number");
        expect(result.createdAddress).to.equal(false);
        expect(result.match).to.equal(false);
      });

      it("does not reproduce from an input compiled with other optimizer runs", async function () {
        const registry = input("GatewayRegistry");
        const tampered = structuredClone(registry.standardJsonInput);
        tampered.settings.optimizer.runs = 200;
        const result = await reproducesDeployment(hre, hre.ethers.provider, {
          ...registry,
          standardJsonInput: tampered,
        });
        expect(result.creation.match).to.equal(false);
        expect(result.creation.firstDifference).to.be.a("number");
        expect(result.runtime.match).to.equal(false);
        expect(result.match).to.equal(false);
      });

      it("does not reproduce from a source with one more space (only the metadata hash differs)", async function () {
        const usdt = input("TestUSDT");
        const tampered = structuredClone(usdt.standardJsonInput);
        tampered.sources["contracts/test/TestUSDT.sol"].content += " ";
        const result = await reproducesDeployment(hre, hre.ethers.provider, { ...usdt, standardJsonInput: tampered });
        expect(result.creation.match).to.equal(false);
        expect(result.runtime.match).to.equal(false);
        expect(result.runtime.compiledLength).to.equal(result.runtime.onChainLength);
        expect(result.runtime.firstDifference).to.be.at.least(result.runtime.compiledLength - METADATA_TRAILER_BYTES);
        expect(result.match).to.equal(false);
      });

      it("fails clearly when the npm solc is not the compiler of the build", async function () {
        const error = await rejection(
          reproducesDeployment(hre, hre.ethers.provider, {
            ...input("Escrow"),
            solcLongVersion: "0.8.29+commit.ab55807c",
          }),
        );
        expect(error.message).to.match(
          /^the npm solc package is 0\.8\.30\+commit\.73712a01\S*, but contracts\/Escrow\.sol:Escrow was compiled with 0\.8\.29\+commit\.ab55807c: install solc@0\.8\.29/,
        );
      });
    });

    describe("isAlreadyVerified", function () {
      it("recognises the explorers' already-verified answers only", function () {
        expect(
          isAlreadyVerified(
            new Error("The block explorer's API responded that the contract X at 0x1 is already verified."),
          ),
        ).to.equal(true);
        expect(isAlreadyVerified(new Error("Contract source code already verified"))).to.equal(true);
        expect(isAlreadyVerified(new Error("The contract 0x1 has already been verified on Sourcify."))).to.equal(true);
        expect(isAlreadyVerified(new Error("Fail - Unable to verify"))).to.equal(false);
        expect(isAlreadyVerified("already verified")).to.equal(false);
      });
    });
  });

  describe("over HTTP (hardhat node + child processes)", function () {
    let node: ChildProcess;
    let nodeOutput = "";
    let url: string;
    let httpDir: string;
    let httpFile: string;
    let env: NodeJS.ProcessEnv;
    let provider: JsonRpcProvider;

    before(async function () {
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      node = spawn("npx", ["hardhat", "node", "--hostname", "127.0.0.1", "--port", String(port)], {
        cwd: ROOT,
        env: childEnv({}),
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      // Keep only the tail: the node logs every request.
      const keep = (chunk: Buffer) => (nodeOutput = (nodeOutput + chunk.toString()).slice(-4_000));
      node.stdout!.on("data", keep);
      node.stderr!.on("data", keep);
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (node.exitCode !== null) throw new Error(`hardhat node exited with ${node.exitCode}:\n${nodeOutput}`);
        try {
          if (Number(await rpc(url, "eth_chainId")) === HARDHAT_CHAIN_ID) break;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`hardhat node did not answer on ${url}:\n${nodeOutput}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      httpDir = tmpDir();
      httpFile = deploymentPath("localhost", httpDir);
      env = childEnv({ LOCALHOST_RPC_URL: url, DEPLOYMENTS_DIR: httpDir });
      provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });
    });

    after(async function () {
      provider?.destroy();
      if (!node?.pid || node.exitCode !== null) return;
      const exited = new Promise((resolve) => node.once("exit", resolve));
      process.kill(-node.pid, "SIGTERM");
      const timer = setTimeout(() => node.exitCode === null && process.kill(-node.pid!, "SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    });

    let first: Deployment;

    it("`hardhat run scripts/deploy.ts --network localhost` deploys and prints each step's gas", async function () {
      const run = await runCommand("npx", ["hardhat", "run", "scripts/deploy.ts", "--network", "localhost"], env);
      expectSuccess(run);
      first = expectCompleteFile(httpFile, "localhost", HARDHAT_CHAIN_ID, true);
      expect(run.stdout).to.include(`deploying on localhost (chain ${HARDHAT_CHAIN_ID}) from `);
      for (const name of ["TestUSDT", "GatewayRegistry", "Escrow"]) {
        const record = first.contracts[name as keyof Deployment["contracts"]]!;
        expect(run.stdout).to.match(
          new RegExp(`  ${name}: deployed at ${record.address}, gas \\d+ \\(tx ${record.txHash}\\)`),
        );
        const receipt = await provider.getTransactionReceipt(record.txHash);
        expect(receipt?.blockNumber).to.equal(record.blockNumber);
        expect(receipt?.contractAddress).to.equal(record.address);
      }
      expect(run.stdout).to.match(/ {2}grant ESCROW_ROLE to 0x[0-9a-fA-F]{40}: gas \d+/);
      expect(run.stdout).to.match(/ {2}allow token 0x[0-9a-fA-F]{40}: gas \d+/);
      expect(run.stdout).to.match(/wrote .*localhost\.json; gas used by this run: [1-9]\d*/);
      const registry = (
        await hre.ethers.getContractAt("GatewayRegistry", first.contracts.GatewayRegistry.address)
      ).connect(provider);
      expect(await registry.hasRole(await registry.ESCROW_ROLE(), first.contracts.Escrow.address)).to.equal(true);
      expect(await registry.isTokenAllowed(first.contracts.TestUSDT!.address)).to.equal(true);
    });

    it("running it again says already deployed and sends no transaction", async function () {
      const before = fs.readFileSync(httpFile);
      const block = await provider.getBlockNumber();
      const run = await runCommand("npx", ["hardhat", "run", "scripts/deploy.ts", "--network", "localhost"], env);
      expectSuccess(run);
      for (const name of ["TestUSDT", "GatewayRegistry", "Escrow"]) {
        const record = first.contracts[name as keyof Deployment["contracts"]]!;
        expect(run.stdout).to.include(`  ${name}: already deployed at ${record.address}`);
      }
      expect(run.stdout).to.match(/gas used by this run: 0\n/);
      expect(await provider.getBlockNumber()).to.equal(block);
      expect(fs.readFileSync(httpFile).equals(before)).to.equal(true);
    });

    it("`hardhat deploy --network localhost --fresh` deploys new contracts", async function () {
      const run = await runCommand("npx", ["hardhat", "deploy", "--network", "localhost", "--fresh"], env);
      expectSuccess(run);
      expect(run.stdout).to.include("(fresh)");
      const fresh = expectCompleteFile(httpFile, "localhost", HARDHAT_CHAIN_ID, true);
      for (const name of CONTRACT_NAMES) {
        const key = name as keyof Deployment["contracts"];
        expect(fresh.contracts[key]!.address, name).to.not.equal(first.contracts[key]!.address);
        expect(await provider.getCode(fresh.contracts[key]!.address)).to.not.equal("0x");
      }
    });

    it("the recorded build reproduces the node's deployment byte for byte", async function () {
      const inputs = await verificationInputs(hre, readDeployment(httpFile));
      expect(inputs.map((i) => i.name).sort()).to.deep.equal(CONTRACT_NAMES);
      for (const i of inputs) expectReproduced(await reproducesDeployment(hre, provider, i));
    });

    it("`npm run verify -- --network localhost` refuses the explorers and prints the offline reproduction", async function () {
      const deployed = readDeployment(httpFile);
      const run = await runCommand("npm", ["run", "verify", "--", "--network", "localhost"], env);
      expectSuccess(run);
      expect(run.stdout).to.include(
        "localhost is a local network: no block explorer can see it, so nothing is submitted.",
      );
      for (const name of CONTRACT_NAMES) {
        const address = deployed.contracts[name as keyof Deployment["contracts"]]!.address;
        expect(run.stdout).to.match(
          new RegExp(
            `  ${name} \\(${FQNS[name]}\\) at ${address}: reproduced; creation code \\+ constructor arguments matches`,
          ),
        );
      }
      expect(run.stdout).to.include(`all 3 contracts reproduced with solc ${SOLC_LONG_VERSION}`);
    });

    it("`npm run verify` fails when the deployments file does not match the chain", async function () {
      const otherDir = copyDeployment(httpDir, "localhost", (d) => (d.chainId = 1));
      const run = await runCommand("npm", ["run", "verify", "--", "--network", "localhost"], {
        ...env,
        DEPLOYMENTS_DIR: otherDir,
      });
      expect(run.code).to.not.equal(0);
      expect(run.stderr).to.include(`records chain 1, but localhost is chain ${HARDHAT_CHAIN_ID}`);
    });
  });
});

/** The gas the log line of `name`'s deployment reports. */
function lineGas(lines: string[], name: string): string {
  const line = lines.find((l) => l.startsWith(`  ${name}: deployed at `));
  expect(line, `${name} deployment line`).to.not.equal(undefined);
  return /gas (\d+)/.exec(line!)![1];
}
