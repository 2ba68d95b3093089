/**
 * The auditor's solvency check: rebuilds every deal, acceptor float and owed balance of an escrow from its events
 * alone, checks the invariants of docs/design.md §5 while replaying them, then compares the result with the
 * contracts' storage and the token balances at one block.
 *
 * Plain ethers v6, the typechain factories, the protocol model and the relayer's chain adapter (no Hardhat), so it
 * runs from Node with ts-node against any RPC endpoint. One module per job: scan.ts reads the logs, ledger/ replays
 * them (pure, and written from the contracts' NatSpec independently of the relayer's projection), snapshot.ts reads
 * the state at the audited block, report/ renders the result, cli.ts is `npm run audit` (docs/design.md §9).
 */
import { getAddress, type Provider } from "ethers";
import { Escrow__factory } from "../../../typechain-types/factories/contracts/Escrow__factory";
import { GatewayRegistry__factory } from "../../../typechain-types/factories/contracts/GatewayRegistry__factory";
import type { Chain } from "../../../relayer/src/chain/types";
import type { Deployment } from "../deploy";
import { AuditLedger } from "./ledger";
import { buildReport } from "./report/json";
import { READ_CONCURRENCY, withRetry } from "./rpc";
import { decodeLogs, needsTime, readBlockTimes, scanToHead, type ScanProgress } from "./scan";
import { readSnapshot } from "./snapshot";
import type { AuditReport, Inconsistency } from "./types";

export type AuditOptions = {
  /** Reads at the audited block (getters, balances, code). */
  provider: Provider;
  /** Logs, the head and block headers: the relayer's chain adapter (scan.ts's openChain) on the same node. */
  chain: Pick<Chain, "logsInRange" | "head" | "block">;
  deployment: Deployment;
  onProgress?: (p: ScanProgress) => void;
  concurrency?: number;
};

/** A failure to audit at all (wrong chain, no contract, unreadable deployment): not an inconsistency. */
export class AuditSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuditSetupError";
  }
}

/**
 * Audits a deployment: scans the escrow's and the registry's logs to the head, replays them, compares with storage
 * and balances at the head block, asks each token whether it blacklists the escrow or is paused, and returns the
 * report. Throws {@link AuditSetupError} when the provider is on another chain or the escrow has no code; throws on
 * RPC failures that outlast the retries.
 */
export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const { provider, chain, deployment } = options;
  const limit = options.concurrency ?? READ_CONCURRENCY;
  const escrowRecord = deployment.contracts?.Escrow;
  const registryRecord = deployment.contracts?.GatewayRegistry;
  if (!escrowRecord?.address || !registryRecord?.address) {
    throw new AuditSetupError("the deployment records no Escrow or GatewayRegistry");
  }

  // Ask the node itself: a JsonRpcProvider with a static network would answer getNetwork() without asking.
  const rpc = provider as Provider & { send?: (method: string, params: unknown[]) => Promise<unknown> };
  const chainId = Number(
    await withRetry(
      async () =>
        typeof rpc.send === "function"
          ? BigInt(String(await rpc.send("eth_chainId", [])))
          : (await provider.getNetwork()).chainId,
      "eth_chainId",
    ),
  );
  if (chainId !== Number(deployment.chainId)) {
    throw new AuditSetupError(
      `the RPC serves chain ${chainId}, but the deployment (${deployment.network}) is on chain ${deployment.chainId}`,
    );
  }
  const startHead = await withRetry(() => provider.getBlockNumber(), "eth_blockNumber");
  const escrowAddress = getAddress(escrowRecord.address);
  const escrow = Escrow__factory.connect(escrowAddress, provider);
  const code = await withRetry(() => provider.getCode(escrowAddress, startHead), "eth_getCode");
  if (code === "0x") {
    throw new AuditSetupError(
      `no contract at the Escrow address ${escrowAddress} on chain ${chainId} (block ${startHead})`,
    );
  }
  const inconsistencies: Inconsistency[] = [];
  const registryAddress = getAddress(
    await withRetry(() => escrow.registry({ blockTag: startHead }), "Escrow.registry"),
  );
  if (registryAddress.toLowerCase() !== registryRecord.address.toLowerCase()) {
    inconsistencies.push({
      check: "registry",
      message: `registry: the escrow uses ${registryAddress}, the deployment records ${registryRecord.address}`,
    });
  }
  const registry = GatewayRegistry__factory.connect(registryAddress, provider);
  const resolutionWindow = Number(
    await withRetry(() => escrow.resolutionWindow({ blockTag: startHead }), "resolutionWindow"),
  );

  // 1. Events, to the head read at the start and then the blocks mined meanwhile: storage, balances and events all
  // describe block `head`.
  const fromBlock = Math.min(escrowRecord.blockNumber, registryRecord.blockNumber);
  const { logs, head } = await scanToHead(
    chain,
    [escrowAddress, registryAddress],
    fromBlock,
    startHead,
    options.onProgress,
  );

  // 2. Decode, then read the time of every block whose events a timed rule needs (the release, resolution and lock
  // windows run from block timestamps, which logs do not carry).
  const decoded = decodeLogs(logs, { escrow: escrowAddress, registry: registryAddress });
  const blockTimes = new Map<number, number>();
  const timed = decoded.filter((e) => e !== undefined && needsTime(e)).map((e) => e!.block);
  await readBlockTimes(chain, [head, ...timed], blockTimes);

  // 3. The replay.
  const ledger = new AuditLedger({ resolutionWindow });
  for (const token of deployment.tokens ?? []) ledger.tokens.add(getAddress(token));
  for (const event of decoded) {
    if (event) ledger.apply(needsTime(event) ? { ...event, time: blockTimes.get(event.block) } : event);
  }
  ledger.finish();
  inconsistencies.push(...ledger.inconsistencies);

  // 4. The state at block `head` against the replay (storage records the time of each deal's last status change).
  await readBlockTimes(
    chain,
    [...ledger.deals.values()].map((d) => d.sinceBlock),
    blockTimes,
  );
  const snapshot = await readSnapshot({
    provider,
    escrow,
    registry,
    escrowAddress,
    ledger,
    blockTag: head,
    blockTimes,
    limit,
  });

  return buildReport({
    chainId,
    escrow: escrowAddress,
    registry: registryAddress,
    fromBlock,
    toBlock: head,
    timestamp: blockTimes.get(head)!,
    events: logs.length,
    ledger,
    resolutionWindow,
    blockTimes,
    tokens: snapshot.tokens,
    alerts: snapshot.alerts,
    inconsistencies: [...inconsistencies, ...snapshot.inconsistencies],
  });
}

export { AuditLedger } from "./ledger";
export type { AuditEvent, DealState, FloatState, OwedState } from "./ledger";
export { renderJson } from "./report/json";
export { renderReport } from "./report/text";
export { errorMessage } from "./rpc";
export { openChain, type ScanProgress } from "./scan";
export type * from "./types";
