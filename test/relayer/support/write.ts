/**
 * The write API's end-to-end fixture: a Hardhat node with the protocol deployed and its actors set up, the whole
 * relayer started in-process (indexer, API, submitter) with a signer key of its own, API keys made through the
 * relayer's key store, and helpers that sign what the API returns with the party's own node account
 * (`eth_signTypedData_v4`, as a wallet does).
 *
 *   const w = await startWriteRelayer("confirmations");
 *   const key = await w.key("party", payee);
 *   const { body } = await w.confirm(dealId, "performed", payee, key);
 *   await w.final(body.submission.id);
 *   await w.stop();
 */
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Wallet, id, toBeHex, type JsonRpcSigner } from "ethers";
import request from "supertest";
import { createCommon, type Common } from "../../../relayer/src/common";
import { parseOptions } from "../../../relayer/src/options";
import { startRelayer } from "../../../relayer/src/index";
import { startDeployed, type Deployed } from "./deployed";
import { freshPrefix } from "./indexer";
import { capturingLogger } from "./logger";
import { makeDeal, type DealParams, type Protocol } from "./activity";

const WAIT_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Submission = {
  id: string;
  kind: string;
  status: string;
  transactions: { hash: string; nonce: number }[];
  transactionHash?: string;
  blockNumber?: number;
  error?: { name: string; message: string };
};

export type WriteRelayer = Awaited<ReturnType<typeof startWriteRelayer>>;

/** A deal's parameters as the API takes them (JSON: amount as a string, kind by name). */
export const dealJson = (deal: DealParams) => ({
  ...deal,
  amount: deal.amount.toString(),
  kind: ["payment", "onramp", "offramp"][Number(deal.kind)],
});

export async function startWriteRelayer(
  name: string,
  env: Record<string, string> = {},
  { chainId }: { chainId?: number } = {},
) {
  const deployed: Deployed = await startDeployed(`write-${name}`, { chainId });
  const { node, deploymentFile, p } = deployed;
  const signerKey = Wallet.createRandom();
  await p.provider.send("hardhat_setBalance", [signerKey.address, toBeHex(10n ** 20n)]);
  const prefix = freshPrefix(`write-${name}`);
  /** The relayer's options: a second replica (same Redis prefix, node and signer key) starts from them. */
  const options: Record<string, string | undefined> = {
    RPC_URL: node.url,
    DEPLOYMENT: deploymentFile,
    REDIS_URL: process.env.REDIS_URL,
    REDIS_CLUSTER: process.env.REDIS_CLUSTER,
    REDIS_PREFIX: prefix,
    // Evidence files go to a folder of the test's own, never into the checkout's data/.
    EVIDENCE_DIR: path.join(os.tmpdir(), `evidence-${prefix}`),
    PORT: "0",
    HOST: "127.0.0.1",
    CONFIRMATIONS: "1",
    POLL_INTERVAL_MS: "30",
    // TEST_LOG_LEVEL=error shows what an in-process relayer logged (an internal error behind a 500, say).
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    RELAYER_KEY: signerKey.privateKey,
    SUBMIT_BATCH_WINDOW_MS: "150",
    SUBMIT_POLL_MS: "100",
    ...env,
  };
  // Unless TEST_LOG_LEVEL asks for the relayer's own log, its errors are kept: an internal error behind a 500 is
  // printed when the fixture stops, so a failure that happens once in a long run shows its cause.
  const captured = process.env.TEST_LOG_LEVEL === undefined ? capturingLogger("error") : undefined;
  const common: Common = createCommon(parseOptions(options), captured?.logger);
  const relayer = await startRelayer(common);
  // Its first backfill must be done before a deal can be read or written (503 projection-unavailable until then).
  await relayer.untilServing();
  const http = request(`http://127.0.0.1:${relayer.port}`);
  const address = async (s: JsonRpcSigner) => (await s.getAddress()).toLowerCase();

  const w = {
    node,
    /** The deployments file the relayer reads (the audit command reads it too). */
    deploymentFile,
    p,
    relayer,
    options,
    http,
    signer: signerKey.address.toLowerCase(),
    address,
    /** A fresh API key of `scope` owned by `owner`. */
    async key(scope: "read" | "party" | "acceptor" | "gateway" | "platform" | "admin", owner: JsonRpcSigner | string) {
      const who = typeof owner === "string" ? owner : await address(owner);
      return (await relayer.keys.create({ scope, owner: who })).secret;
    },
    /** How many transactions the relayer's signer has sent (mined or pending). */
    sent: () => p.provider.getTransactionCount(signerKey.address, "pending"),
    /** Signs a typed-data payload with a node account, over JSON-RPC as a wallet would. */
    signTyped: (signer: JsonRpcSigner, typedData: unknown) =>
      p.provider.send("eth_signTypedData_v4", [signer.address, JSON.stringify(typedData)]) as Promise<string>,
    /** The typed data of a confirmation, signed by `signer`: the body to POST. */
    async signed(dealId: string, action: string, signer: JsonRpcSigner, as: string = signer.address) {
      const res = await http.get(`/v1/deals/${dealId}/typed-data?action=${action}`).expect(200);
      return {
        action,
        signer: as.toLowerCase(),
        signature: await w.signTyped(signer, res.body.typedData),
        expiry: res.body.typedData.message.expiry as string,
      };
    },
    /** Posts `signer`'s confirmation of `action` with `key`. */
    async confirm(dealId: string, action: string, signer: JsonRpcSigner, key: string) {
      const body = await w.signed(dealId, action, signer);
      return http.post(`/v1/deals/${dealId}/confirmations`).set("Authorization", `Bearer ${key}`).send(body);
    },
    /** Opens a payment deal between the first payer and payee through the API (the payer's Open intent). */
    async openDeal(over: Partial<DealParams> = {}, ref = id(`ref-${Math.random()}`)) {
      const [payer] = p.payers;
      const [payee] = p.payees;
      const deal = await makeDeal(p, { payer: await address(payer), payee: await address(payee), ...over });
      const body = { type: "open", deal: dealJson(deal), ref };
      const typed = await http.post("/v1/typed-data").send(body).expect(200);
      const signature = await w.signTyped(payer, typed.body.typedData);
      const key = await w.key("party", payer);
      const res = await http
        .post("/v1/deals")
        .set("Authorization", `Bearer ${key}`)
        .send({ ...body, expiry: typed.body.typedData.message.expiry, signature });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      await w.final(res.body.submission.id);
      await w.indexed(res.body.dealId, "open");
      return { deal, dealId: res.body.dealId as string, payer, payee };
    },
    /** Waits for a submission to end (final or failed) and returns it. */
    async final(submissionId: string): Promise<Submission> {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const res = await http.get(`/v1/submissions/${submissionId}`).expect(200);
        if (res.body.status === "final" || res.body.status === "failed") return res.body as Submission;
        if (Date.now() > deadline) throw new Error(`submission ${submissionId} still ${res.body.status}`);
        await sleep(50);
      }
    },
    /** Waits until the relayer's projection shows the deal in `status`. */
    async indexed(dealId: string, status: string) {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        // This relayer's chain: the same id may be a deal on another chain served from the same Redis too.
        const res = await http.get(`/v1/deals/${dealId}?chainId=${relayer.chainId}`);
        if (res.status === 200 && res.body.status === status) return res.body;
        if (Date.now() > deadline) throw new Error(`deal ${dealId} not ${status}: ${JSON.stringify(res.body)}`);
        await sleep(30);
      }
    },
    async stop() {
      const internal = (captured?.lines ?? []).filter((l) => l.msg === "request failed");
      for (const line of internal) console.error(`  [${name}] the relayer answered 500: ${JSON.stringify(line)}`);
      await relayer.indexer.stop();
      await relayer.clear();
      await common.shutdown();
      await node.stop();
    },
  };
  return w;
}

export type { Protocol };
