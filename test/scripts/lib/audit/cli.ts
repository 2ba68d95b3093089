/**
 * `npm run audit`'s arguments, setup errors and exit codes (scripts/lib/audit/cli.ts), run in this process with its
 * output collected. What it reports of a real deployment is test/scripts/audit.ts's.
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { main } from "../../../../scripts/lib/audit/cli";
import { freePort } from "../../../relayer/support/node";
import { A } from "./support/events";
import { hex, startRpcStub } from "./support/rpc-stub";

/** Runs the command; resolves with its exit code and what it wrote. */
async function audit(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  const code = await main(argv, { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t) });
  return { code, ...out };
}

describe("scripts/lib/audit/cli.ts", () => {
  let tmp = "";
  let deploymentFile = "";
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "audit-cli-"));
    deploymentFile = path.join(tmp, "localhost.json");
    fs.writeFileSync(
      deploymentFile,
      JSON.stringify({
        network: "localhost",
        chainId: 31337,
        contracts: {
          Escrow: { address: A.payer, blockNumber: 1 },
          GatewayRegistry: { address: A.payee, blockNumber: 1 },
        },
      }),
    );
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("--help prints the usage and exits 0", async () => {
    const r = await audit("--help");
    expect(r.code).to.equal(0);
    expect(r.stdout).to.contain("Usage: npm run audit -- --deployment <file> --rpc <url> [--json]");
  });

  it("an unknown argument prints the usage and exits 2", async () => {
    const r = await audit("--deployment", deploymentFile, "--rpc", "http://127.0.0.1:1", "--frobnicate");
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("--frobnicate");
    expect(r.stderr).to.contain("Usage: npm run audit");
    expect(r.stdout).to.equal("");
  });

  it("a missing --rpc exits 2", async () => {
    const r = await audit("--deployment", deploymentFile);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("--rpc is required");
  });

  it("an unreachable --rpc exits 2 with a clear message", async () => {
    const port = await freePort(); // nothing listens there
    const r = await audit("--deployment", deploymentFile, "--rpc", `http://127.0.0.1:${port}`, "--json");
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal("");
    expect(r.stderr).to.match(new RegExp(`RPC error \\(http://127\\.0\\.0\\.1:${port}\\): eth_chainId: `));
  });

  it("an --rpc the chain adapter does not take (not http or https) exits 2", async () => {
    const r = await audit("--deployment", deploymentFile, "--rpc", "ws://127.0.0.1:8546");
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/^error: invalid --rpc ws:\/\/127\.0\.0\.1:8546: /);
  });

  it("a deployment file for another chain exits 2", async () => {
    const other = path.join(tmp, "mainnet.json");
    const deployment = JSON.parse(fs.readFileSync(deploymentFile, "utf8")) as object;
    fs.writeFileSync(other, JSON.stringify({ ...deployment, network: "mainnet", chainId: 1 }));
    const node = await startRpcStub(() => hex(31337));
    try {
      const r = await audit("--deployment", other, "--rpc", node.url);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("the RPC serves chain 31337, but the deployment (mainnet) is on chain 1");
    } finally {
      await node.close();
    }
  });

  it("a missing deployment file exits 2", async () => {
    const r = await audit("--deployment", path.join(tmp, "nope.json"), "--rpc", "http://127.0.0.1:1");
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("does not exist");
  });
});
