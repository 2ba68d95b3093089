/**
 * `npm run demo` — the whole system with nothing but Node.js and Redis: an in-process Hardhat chain with a
 * JSON-RPC endpoint, the contracts deployed, the relayer (indexer + API) running, and five scripted flows — a
 * payment, an on-ramp, an off-ramp, a dispute ruled by the gateway and a dispute ended by agreement — each step
 * printed with what the relayer's API shows. Every transaction says which account sent it: where a relayer would
 * submit signatures, a test account stands in (the relayer's submitter is not built yet).
 *
 * REDIS_URL (default redis://127.0.0.1:6379) selects Redis; the demo's keys use a fresh prefix and are deleted at
 * the end.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import hre from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import { formatUnits, id } from "ethers";
import { configFromEnv, deployProtocol } from "./lib/deploy";
import {
  Action,
  Kind,
  USDT,
  connectProtocol,
  dealIdOf,
  makeDeal,
  makeDelegateLock,
  setupActors,
  signAction,
  signSplit,
  type Protocol,
} from "./lib/activity";
import { createCommon } from "../relayer/src/common";
import { parseOptions } from "../relayer/src/options";
import { startRelayer } from "../relayer/src/index";

/** Confirmation depth of the demo's relayer: small, so "pending" turns "final" within the demo. */
const DEMO_CONFIRMATIONS = 2;
const WAIT_TIMEOUT_MS = 30_000;

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
let stepNo = 0;
const step = (title: string) => console.log(`\n${bold(`${++stepNo}. ${title}`)}`);
const say = (line: string) => console.log(`   ${line}`);
const usdt = (v: string | bigint) => `${formatUnits(v, 6)} USDT`;
const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

type Deal = {
  status: string;
  finality: string;
  confirmations: number;
  amount: string;
  payeeAmount?: string;
  fee?: string;
  refund?: string;
  gatewayHolds?: boolean;
  disputeRuler?: string;
  resolutionDeadline?: number;
  lockedBy?: string;
  lockExpiry?: number;
  evidence: { by: string; uri: string }[];
  history: { event: string; blockNumber: number }[];
};

async function main(): Promise<void> {
  step("Start an in-process Hardhat chain with a JSON-RPC endpoint");
  const server = await hre.run(TASK_NODE_CREATE_SERVER, {
    hostname: "127.0.0.1",
    port: 0,
    provider: hre.network.provider,
  });
  const { port: rpcPort } = await server.listen();
  const rpcUrl = `http://127.0.0.1:${rpcPort}`;
  say(`chain ${hre.network.config.chainId} at ${rpcUrl}`);

  step("Deploy GatewayRegistry, Escrow and a USDT-faithful test token");
  const [deployer] = await hre.ethers.getSigners();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "escrow-demo-"));
  await deployProtocol(hre, configFromEnv({}, "hardhat", deployer.address), { dir, log: (l) => say(l.trim()) });
  const deploymentFile = path.join(dir, "hardhat.json");

  step("Start the relayer: indexer into Redis and the HTTP API");
  const prefix = `demo-${randomBytes(4).toString("hex")}`;
  const common = createCommon(
    parseOptions({
      RPC_URL: rpcUrl,
      DEPLOYMENT: deploymentFile,
      REDIS_URL: process.env.REDIS_URL,
      REDIS_PREFIX: prefix,
      PORT: "0",
      HOST: "127.0.0.1",
      CONFIRMATIONS: String(DEMO_CONFIRMATIONS),
      POLL_INTERVAL_MS: "50",
      LOG_LEVEL: "warn",
    }),
  );
  const relayer = await startRelayer(common);
  const api = `http://127.0.0.1:${relayer.port}`;
  say(
    `API at ${api}/v1 (OpenAPI at ${api}/v1/openapi.json), Redis prefix ${prefix}, ${DEMO_CONFIRMATIONS} confirmations`,
  );

  const p = await connectProtocol(rpcUrl, deploymentFile);
  try {
    await flows(p, api, () => relayer.tokens.check());
  } finally {
    step("Shut down and remove the demo's Redis keys");
    // Stop the writers first (the indexer records its progress), then remove the demo's keys.
    await relayer.indexer.stop();
    await relayer.tokens.stop();
    await relayer.store.clear();
    await common.shutdown();
    await server.close();
    p.provider.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    say("done");
  }
}

async function flows(p: Protocol, api: string, checkTokens: () => Promise<void>): Promise<void> {
  const get = async <T>(route: string): Promise<T> => {
    const res = await fetch(`${api}${route}`);
    if (!res.ok) throw new Error(`GET ${route}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  /** Waits until the relayer shows the deal in `status` (and `finality`, when given) and prints it. */
  const show = async (dealId: string, status: string, finality?: string) => {
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    for (;;) {
      const res = await fetch(`${api}/v1/deals/${dealId}`);
      if (res.ok) {
        const d = (await res.json()) as Deal;
        if (d.status === status && (finality === undefined || d.finality === finality)) {
          const money =
            d.payeeAmount !== undefined
              ? `, payee ${usdt(d.payeeAmount)}, fee ${usdt(d.fee ?? "0")}, refund ${usdt(d.refund ?? "0")}`
              : "";
          say(
            `relayer: ${d.status} (${d.finality}, ${d.confirmations} confirmation${d.confirmations === 1 ? "" : "s"})${money}`,
          );
          return d;
        }
      }
      if (Date.now() > deadline) throw new Error(`the relayer did not show ${dealId} as ${status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const send = async (
    label: string,
    tx: Promise<{ wait: () => Promise<{ gasUsed: bigint; hash: string } | null> }>,
  ) => {
    const receipt = await (await tx).wait();
    say(`${label} — gas ${receipt!.gasUsed}`);
  };
  const finalize = async (dealId: string, status: string) => {
    for (let i = 0; i < DEMO_CONFIRMATIONS; i++) await p.provider.send("evm_mine", []);
    const d = await show(dealId, status, "final");
    say(`history: ${d.history.map((h) => `${h.event}@${h.blockNumber}`).join(" → ")}`);
    return d;
  };
  const address = (s: { getAddress(): Promise<string> }) => s.getAddress();
  const when = (seconds: number) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
  // The account that sends the transactions a relayer would submit: a test account standing in for it.
  const submitter = p.accounts[19];
  const standIn = `account ${short(await address(submitter))} (a stand-in for the relayer, which gets its submitter later)`;

  step("Set up actors: a bonded gateway, an acceptor with a 5,000,000 USDT float, funded payers");
  await setupActors(p);
  const gateway = await get<{ address: string; status: string; feeBps: number; bond: string }>(
    `/v1/gateways/${(await address(p.gateway)).toLowerCase()}`,
  );
  say(`gateway ${short(gateway.address)}: ${gateway.status}, fee ${gateway.feeBps} bps, bond ${usdt(gateway.bond)}`);

  const [payer, seller] = p.payers;
  const [payee, buyer] = p.payees;

  step("Payment: a customer pays a merchant 100 USDT; released only when both confirm");
  const pay = await makeDeal(p, { payer: await address(payer), payee: await address(payee) });
  const payId = dealIdOf(pay);
  await send(
    `payer opens deal ${short(payId)} (known before mining: keccak256(payer, salt))`,
    p.escrow.connect(payer).open(pay, id("order-1001")),
  );
  await show(payId, "open");
  await send("merchant confirms: goods delivered", p.escrow.connect(payee).perform(pay));
  await show(payId, "performed");
  await send("customer confirms: release", p.escrow.connect(payer).release(pay));
  await finalize(payId, "released");

  step("On-ramp: a buyer buys 250 USDT from the acceptor with fiat (SEPA:EUR)");
  const acceptors = await get<{ data: { address: string; methods: string[] }[] }>(`/v1/acceptors?method=SEPA:EUR`);
  say(
    `relayer: ${acceptors.data.length} acceptor(s) take SEPA:EUR — ${acceptors.data.map((a) => short(a.address)).join(", ")}`,
  );
  const onRamp = await makeDelegateLock(p, { payee: await address(buyer), amount: USDT(250) });
  const onRampId = dealIdOf(onRamp);
  await send(
    `the acceptor's lock delegate, account ${short(await address(p.delegate))} (a test key in the relayer's place), locks 250 USDT of float`,
    p.escrow.connect(p.delegate).lock(onRamp, id("onramp-7")),
  );
  const locked = await show(onRampId, "open");
  say(
    `relayer: locked by ${short(locked.lockedBy ?? "?")} (the delegate); if still not final it returns to the float after ${when(locked.lockExpiry ?? 0)}`,
  );
  await send("buyer confirms: fiat sent", p.escrow.connect(buyer).perform(onRamp));
  await send("acceptor confirms: fiat arrived — release", p.escrow.connect(p.acceptor).release(onRamp));
  await finalize(onRampId, "released");

  step("Off-ramp: a seller sells 80 USDT to the acceptor for fiat, settled in one relayed transaction");
  const offRamp = await makeDeal(p, {
    payer: await address(seller),
    payee: await address(p.acceptor),
    kind: Kind.OffRamp,
    amount: USDT(80),
  });
  const offRampId = dealIdOf(offRamp);
  await send("seller opens the deal to the acceptor", p.escrow.connect(seller).open(offRamp, id("offramp-3")));
  const performed = await signAction(p, p.acceptor, offRampId, Action.Perform);
  const released = await signAction(p, seller, offRampId, Action.Release);
  say('acceptor signs "fiat sent", seller signs "fiat arrived" (EIP-712, no gas for either)');
  await send(
    `${standIn} submits both signatures in one transaction`,
    p.escrow.connect(submitter).settleWithSigs(offRamp, performed, released),
  );
  await finalize(offRampId, "released");

  step("Dispute: the merchant says delivered, the customer disagrees, the gateway splits 60/40");
  const disputed = await makeDeal(p, { payer: await address(payer), payee: await address(payee) });
  const disputedId = dealIdOf(disputed);
  await send("payer opens", p.escrow.connect(payer).open(disputed, id("order-1002")));
  await send("merchant confirms: delivered", p.escrow.connect(payee).perform(disputed));
  await send("customer disputes", p.escrow.connect(payer).dispute(disputed));
  const inDispute = await show(disputedId, "disputed");
  say(
    `relayer: gatewayHolds ${inDispute.gatewayHolds} — the gateway rules it until ${when(inDispute.resolutionDeadline ?? 0)} (disputeRuler: ${inDispute.disputeRuler}), the arbiter after`,
  );
  await send(
    "customer anchors evidence: the hash of a photo of the parcel and where it lives",
    p.escrow.connect(payer).postEvidence(disputed, id("photo of the parcel"), "ipfs://bafy-demo-parcel"),
  );
  await send(
    "the gateway rules: 60 USDT to the merchant, 40 back to the customer (reasons hashed on chain)",
    p.escrow.connect(p.gateway).resolve(disputed, USDT(60), id("ruling 1002: half the goods arrived damaged")),
  );
  const ruled = await finalize(disputedId, "resolved");
  say(`relayer: evidence ${ruled.evidence.map((e) => `${e.uri} by ${short(e.by)}`).join(", ")}`);

  step("Dispute ended by agreement: the customer and the merchant settle on 70/30 without a ruling");
  const agreed = await makeDeal(p, { payer: await address(payer), payee: await address(payee) });
  const agreedId = dealIdOf(agreed);
  await send("payer opens", p.escrow.connect(payer).open(agreed, id("order-1003")));
  await send("merchant confirms: delivered", p.escrow.connect(payee).perform(agreed));
  await send("customer disputes: part of the order is missing", p.escrow.connect(payer).dispute(agreed));
  const held = await show(agreedId, "disputed");
  say(`relayer: gatewayHolds ${held.gatewayHolds}, disputeRuler ${held.disputeRuler}`);
  const payerSplit = await signSplit(p, payer, agreedId, USDT(70));
  const payeeSplit = await signSplit(p, payee, agreedId, USDT(70));
  say('customer and merchant each sign "70 USDT to the merchant" (EIP-712 Split, no gas for either)');
  await send(
    `${standIn} submits both signatures: splitWithSigs`,
    p.escrow.connect(submitter).splitWithSigs(agreed, USDT(70), payerSplit, payeeSplit),
  );
  await finalize(agreedId, "split");

  step("What the relayer shows for the acceptor and the gateway now");
  const acc = await get<{ tokens: { token: string; free: string; locked: string }[] }>(
    `/v1/acceptors/${(await address(p.acceptor)).toLowerCase()}`,
  );
  for (const t of acc.tokens)
    say(`acceptor float in ${short(t.token)}: free ${usdt(t.free)}, locked ${usdt(t.locked)}`);
  const owed = await p.escrow.owed(await p.usdt.getAddress(), await address(p.gateway));
  say(`gateway fees owed by the escrow (claimable with claimOwed): ${usdt(owed)}`);
  const gatewayNow = await get<{ status: string; suspended: boolean; openDisputes: number }>(
    `/v1/gateways/${(await address(p.gateway)).toLowerCase()}`,
  );
  say(
    `gateway: ${gatewayNow.status}, ${gatewayNow.suspended ? "suspended" : "not suspended"}, ${gatewayNow.openDisputes} open disputes`,
  );
  // The relayer asks each allowlisted token every minute whether it blacklists the escrow or is paused; ask now.
  await checkTokens();
  const health = await get<{ tokens: { token: string; escrowBlacklisted: boolean | null; paused: boolean | null }[] }>(
    "/v1/health",
  );
  for (const t of health.tokens) {
    say(
      `token ${short(t.token)}: ${t.escrowBlacklisted ? "BLACKLISTS THE ESCROW" : "does not blacklist the escrow"}, ${t.paused ? "PAUSED" : "not paused"} (/v1/health)`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
