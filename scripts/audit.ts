/**
 * `npm run audit -- --deployment deployments/<network>.json --rpc <url> [--json]` — proves from an RPC endpoint
 * alone that the escrow is solvent and that every deal's state follows from its events (see scripts/lib/audit.ts).
 *
 * Progress goes to stderr; the report to stdout (text, or one JSON document with --json).
 * Exit codes: 0 all checks passed (warnings allowed), 1 inconsistencies or errors found (a token that blacklists the
 * escrow is an error), 2 usage, deployment file or RPC error.
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { FetchRequest, JsonRpcProvider, Network } from "ethers";
// Type only: deploy.ts needs Hardhat's runtime types, and this command runs from plain Node.
import type { Deployment } from "./lib/deploy";
import { AuditSetupError, errorMessage, renderReport, runAudit } from "./lib/audit";

/** Seconds one RPC request may take. */
const RPC_TIMEOUT_MS = 30_000;

const USAGE = `Usage: npm run audit -- --deployment <file> --rpc <url> [--json]

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

class UsageError extends Error {}

function parse(argv: string[]): { deployment: string; rpc: string; json: boolean } | "help" {
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

function loadDeployment(file: string): Deployment {
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

async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    process.stderr.write(`error: ${errorMessage(error)}\n\n${USAGE}`);
    return 2;
  }
  if (args === "help") {
    process.stdout.write(USAGE);
    return 0;
  }

  let provider: JsonRpcProvider | undefined;
  try {
    const deployment = loadDeployment(args.deployment);
    let request: FetchRequest;
    try {
      request = new FetchRequest(args.rpc);
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
      deployment,
      onProgress: (p) => process.stderr.write(`blocks ${p.fromBlock}–${p.toBlock} of ${p.head}, ${p.events} events\n`),
    });
    const errors = report.alerts.filter((a) => a.level === "error").length;
    const warnings = report.alerts.length - errors;
    const verdict = [
      report.inconsistencies.length > 0 ? `${report.inconsistencies.length} inconsistencies` : "",
      errors > 0 ? `${errors} ${errors === 1 ? "error" : "errors"}` : "",
      warnings > 0 ? `${warnings} ${warnings === 1 ? "warning" : "warnings"}` : "",
    ].filter(Boolean);
    process.stderr.write(
      `audited ${report.deals.total} deals in ${((Date.now() - started) / 1000).toFixed(1)} s: ${
        report.ok ? "ok" : "FAILED"
      }${verdict.length > 0 ? ` (${verdict.join(", ")})` : ""}\n`,
    );
    process.stdout.write(args.json ? JSON.stringify(report, null, 2) + "\n" : renderReport(report));
    return report.ok ? 0 : 1;
  } catch (error) {
    const what = error instanceof AuditSetupError ? "error" : `RPC error (${args.rpc})`;
    process.stderr.write(`${what}: ${errorMessage(error)}\n`);
    return 2;
  } finally {
    provider?.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`error: ${errorMessage(error)}\n`);
    process.exitCode = 2;
  },
);
