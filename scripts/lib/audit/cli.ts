/**
 * `npm run audit`: its arguments, its output streams and its exit codes. Progress goes to stderr; the report to
 * stdout (text, or one JSON document with --json).
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { FetchRequest, JsonRpcProvider, Network } from "ethers";
// Type only: deploy.ts needs Hardhat's runtime types, and this command runs from plain Node.
import type { Deployment } from "../deploy";
import { AuditSetupError, runAudit } from "./index";
import { renderJson } from "./report/json";
import { renderReport } from "./report/text";
import { errorMessage } from "./rpc";
import { openChain } from "./scan";

/** Exit codes: all checks passed (warnings allowed), inconsistencies or errors found, usage/setup/RPC error. */
export const EXIT = { ok: 0, failed: 1, error: 2 } as const;

/** Milliseconds one RPC request may take. */
export const RPC_TIMEOUT_MS = 30_000;

export const USAGE = `Usage: npm run audit -- --deployment <file> --rpc <url> [--json]

Rebuilds every deal, acceptor float and owed balance of an escrow deployment from its events, checks the
invariants (I1 solvency, I2 conservation, I3 state machine, I4 authority, I5 float) while replaying them, and
compares the result with the contracts' storage and token balances at the head block. Reports as an ERROR a
token that blacklists the escrow itself, and warns of a paused token, a dispute nobody but its parties can end
and a gateway's dispute counter that drifted.

Options:
  --deployment <file>  deployments file written by scripts/deploy.ts, e.g. deployments/mainnet.json
  --rpc <url>          JSON-RPC endpoint of the deployment's chain
  --json               print the report as one JSON document instead of text
  -h, --help           print this help

Exit codes: 0 all checks passed (warnings allowed), 1 inconsistencies or errors found, 2 usage, deployment
file or RPC error.
`;

/** Where the command writes (the process's streams; tests collect them). */
export type Output = { stdout: (text: string) => void; stderr: (text: string) => void };

const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export type Args = { deployment: string; rpc: string; json: boolean };

class UsageError extends Error {}

/** The command's arguments, or "help"; throws on unknown or missing ones. */
export function parse(argv: string[]): Args | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        deployment: { type: "string" },
        rpc: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  if (values.help) return "help";
  if (!values.deployment) throw new UsageError("--deployment is required");
  if (!values.rpc) throw new UsageError("--rpc is required");
  return { deployment: values.deployment, rpc: values.rpc, json: Boolean(values.json) };
}

/** Reads a deployments file; AuditSetupError when it is missing or is not one. */
export function loadDeployment(file: string): Deployment {
  if (!fs.existsSync(file)) throw new AuditSetupError(`deployment file ${file} does not exist`);
  let deployment: Deployment;
  try {
    deployment = JSON.parse(fs.readFileSync(file, "utf8")) as Deployment;
  } catch (error) {
    throw new AuditSetupError(`cannot read ${file}: ${errorMessage(error)}`);
  }
  if (!Number.isInteger(Number(deployment?.chainId)) || !deployment.contracts?.Escrow?.address) {
    throw new AuditSetupError(`${file} is not a deployments file (no chainId or Escrow)`);
  }
  return deployment;
}

/** The verdict line on stderr: `audited N deals in T s: ok (…)`. */
function verdictLine(report: Awaited<ReturnType<typeof runAudit>>, seconds: number): string {
  const errors = report.alerts.filter((a) => a.level === "error").length;
  const warnings = report.alerts.length - errors;
  const verdict = [
    report.inconsistencies.length > 0 ? `${report.inconsistencies.length} inconsistencies` : "",
    errors > 0 ? `${errors} ${errors === 1 ? "error" : "errors"}` : "",
    warnings > 0 ? `${warnings} ${warnings === 1 ? "warning" : "warnings"}` : "",
  ].filter(Boolean);
  return `audited ${report.deals.total} deals in ${seconds.toFixed(1)} s: ${report.ok ? "ok" : "FAILED"}${
    verdict.length > 0 ? ` (${verdict.join(", ")})` : ""
  }\n`;
}

/** Runs the command with `argv` (the arguments after `--`); resolves with its exit code. */
export async function main(argv: string[], out: Output = processOutput): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    out.stderr(`error: ${errorMessage(error)}\n\n${USAGE}`);
    return EXIT.error;
  }
  if (args === "help") {
    out.stdout(USAGE);
    return EXIT.ok;
  }

  let provider: JsonRpcProvider | undefined;
  let chain: ReturnType<typeof openChain> | undefined;
  try {
    const deployment = loadDeployment(args.deployment);
    let request: FetchRequest;
    try {
      request = new FetchRequest(args.rpc);
      chain = openChain(args.rpc, args.deployment, { requestTimeoutMs: RPC_TIMEOUT_MS });
    } catch (error) {
      throw new AuditSetupError(`invalid --rpc ${args.rpc}: ${errorMessage(error)}`);
    }
    request.timeout = RPC_TIMEOUT_MS;
    // A static network: ethers would otherwise retry a dead endpoint forever; runAudit asks eth_chainId itself.
    const network = Network.from(Number(deployment.chainId));
    provider = new JsonRpcProvider(request, network, { staticNetwork: network });
    const started = Date.now();
    const report = await runAudit({
      provider,
      chain,
      deployment,
      onProgress: (p) => out.stderr(`blocks ${p.fromBlock}–${p.toBlock} of ${p.head}, ${p.events} events\n`),
    });
    out.stderr(verdictLine(report, (Date.now() - started) / 1000));
    out.stdout(args.json ? renderJson(report) : renderReport(report));
    return report.ok ? EXIT.ok : EXIT.failed;
  } catch (error) {
    const what = error instanceof AuditSetupError ? "error" : `RPC error (${args.rpc})`;
    out.stderr(`${what}: ${errorMessage(error)}\n`);
    return EXIT.error;
  } finally {
    chain?.close();
    provider?.destroy();
  }
}
