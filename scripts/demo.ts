/**
 * `npm run demo` — the whole system with nothing but Node.js and Redis: an in-process Hardhat chain with a
 * JSON-RPC endpoint, the contracts deployed, the relayer (indexer, HTTP API, submitter) running, and four flows
 * driven through the relayer's HTTP API — a payment, an on-ramp, an off-ramp and a dispute — then two orders a
 * platform creates with the typed client (client/), matched to an acceptor: a buy (fiat → USDT) and a sell
 * (USDT → fiat), each through its checkout, and a third order disputed and worked through the gateway's dispute
 * desk (evidence, signed messages, a signed ruling whose reasons' hash goes on-chain). Every signature is made by
 * the party's own key (over `eth_signTypedData_v4`, from the typed data the API returns; messages with
 * `personal_sign`); every transaction line says which account sent it.
 *
 * REDIS_URL selects Redis; without it the demo uses 127.0.0.1:6379, or starts a private redis-server when nothing
 * answers there. The demo's keys use a fresh prefix and are deleted at the end.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import hre from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import { Wallet, formatUnits, id, parseEther, type JsonRpcSigner } from "ethers";
import { configFromEnv, deployProtocol } from "./lib/deploy";
import { ensureRedis } from "./lib/redis-server";
import {
  Kind,
  USDT,
  connectProtocol,
  makeDeal,
  makeDelegateLock,
  setupActors,
  type DealParams,
  type Protocol,
} from "./lib/activity";
import { createCommon } from "../relayer/src/common";
import { parseOptions } from "../relayer/src/options";
import { startRelayer } from "../relayer/src/index";
import { createEscrowClient } from "../client/src";
import { orderMessageText } from "../protocol";

/** Confirmation depth of the demo's relayer: small, so "pending" turns "final" within the demo. */
const DEMO_CONFIRMATIONS = 2;
const WAIT_TIMEOUT_MS = 60_000;

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
let stepNo = 0;
const step = (title: string) => console.log(`\n${bold(`${++stepNo}. ${title}`)}`);
const say = (line: string) => console.log(`   ${line}`);
const usdt = (v: string | bigint) => `${formatUnits(v, 6)} USDT`;
const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Deal = {
  status: string;
  finality: string;
  confirmations: number;
  payeeAmount?: string;
  fee?: string;
  refund?: string;
  gatewayHolds?: boolean;
  disputeRuler?: string;
  resolutionDeadline?: number;
  history: { event: string; blockNumber: number; transactionHash: string }[];
};
type Submission = {
  id: string;
  kind: string;
  status: string;
  transactions: { hash: string }[];
  transactionHash?: string;
  blockNumber?: number;
  gasUsed?: string;
  error?: { name: string; message: string };
};

async function main(): Promise<void> {
  const redis = await ensureRedis();
  step("Start an in-process Hardhat chain with a JSON-RPC endpoint");
  const server = await hre.run(TASK_NODE_CREATE_SERVER, {
    hostname: "127.0.0.1",
    port: 0,
    provider: hre.network.provider,
  });
  const { port: rpcPort } = await server.listen();
  const rpcUrl = `http://127.0.0.1:${rpcPort}`;
  say(`chain ${hre.network.config.chainId} at ${rpcUrl}`);
  if (redis.started) say(`nothing answered on 127.0.0.1:6379: started a private redis-server at ${redis.url}`);

  step("Deploy GatewayRegistry, Escrow and a USDT-faithful test token (sent by the deployer, account 0)");
  const [deployer] = await hre.ethers.getSigners();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "escrow-demo-"));
  await deployProtocol(hre, configFromEnv({}, "hardhat", deployer.address), {
    dir,
    // The deployments file lives in a temporary folder that the demo removes: say what it is, not where.
    log: (l) => say(l.trim().replace(/^wrote \S+;/, "wrote the deployments file the relayer reads;")),
  });
  const deploymentFile = path.join(dir, "hardhat.json");

  step("Start the relayer: indexer into Redis, the HTTP API, and the submitter with a key of its own");
  // The relayer's signer pays gas and holds no token: it can only carry the parties' signatures.
  const relayerKey = Wallet.createRandom();
  // The relayer's lock delegate: an acceptor that auto-accepts names it on-chain; it can lock float, never release.
  const delegateKey = Wallet.createRandom();
  await (await deployer.sendTransaction({ to: relayerKey.address, value: parseEther("10") })).wait();
  say(`the deployer sends the relayer's signer ${short(relayerKey.address)} 10 ETH for gas (it holds no USDT)`);
  const prefix = `demo-${randomBytes(4).toString("hex")}`;
  const common = createCommon(
    parseOptions({
      RPC_URL: rpcUrl,
      DEPLOYMENT: deploymentFile,
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      PORT: "0",
      HOST: "127.0.0.1",
      CONFIRMATIONS: String(DEMO_CONFIRMATIONS),
      POLL_INTERVAL_MS: "50",
      LOG_LEVEL: "warn",
      RELAYER_KEY: relayerKey.privateKey,
      LOCK_DELEGATE_KEY: delegateKey.privateKey,
      SUBMIT_BATCH_WINDOW_MS: "300",
      ORDER_SWEEP_MS: "200",
      // Evidence files go beside the deployments file, in the folder the demo removes at the end.
      EVIDENCE_DIR: path.join(dir, "evidence"),
    }),
  );
  const relayer = await startRelayer(common);
  // The projection is served once its first backfill is done (until then data routes answer 503).
  await relayer.untilServing();
  const api = `http://127.0.0.1:${relayer.port}`;
  say(
    `API at ${api}/v1 (OpenAPI at ${api}/v1/openapi.json), Redis prefix ${prefix}, ${DEMO_CONFIRMATIONS} confirmations`,
  );

  const p = await connectProtocol(rpcUrl, deploymentFile);
  // Blocks keep coming while the demo waits for finality, as on a live chain.
  const miner = setInterval(() => void p.provider.send("evm_mine", []).catch(() => undefined), 500);
  try {
    await flows(p, api, relayer);
    await orderFlows(p, api, relayer, delegateKey.address);
  } finally {
    clearInterval(miner);
    step("Shut down and remove the demo's Redis keys");
    await relayer.indexer.stop();
    await relayer.tokens.stop();
    await relayer.clear();
    await common.shutdown();
    await server.close();
    p.provider.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    await redis.stop();
    say("done");
  }
}

type Relayer = Awaited<ReturnType<typeof startRelayer>>;

async function flows(p: Protocol, api: string, relayer: Relayer): Promise<void> {
  const signer = relayer.signer;
  if (!signer) throw new Error("the relayer started without its signer key");
  const call = async <T>(method: "GET" | "POST", route: string, key?: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${api}${route}`, {
      method,
      headers: {
        ...(key ? { Authorization: `Bearer ${key}` } : {}),
        ...(body ? { "Content-Type": "application/json" } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
  const address = async (s: JsonRpcSigner) => (await s.getAddress()).toLowerCase();
  /** The signer's own key signs the typed data the API returned (as a wallet would, over eth_signTypedData_v4). */
  const signTyped = (signer: JsonRpcSigner, typedData: unknown) =>
    p.provider.send("eth_signTypedData_v4", [signer.address, JSON.stringify(typedData)]) as Promise<string>;

  /** Waits until the submission leaves `queued`/`sent`, printing each new state. */
  const follow = async (ids: string[]) => {
    const seen = new Map<string, string>();
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    for (;;) {
      const subs = await Promise.all(ids.map((sid) => call<Submission>("GET", `/v1/submissions/${sid}`)));
      for (const s of subs) {
        const line =
          s.status === "sent"
            ? `sent ${short(s.transactions.at(-1)?.hash ?? "?")}`
            : s.status === "mined" || s.status === "final"
              ? `${s.status} in block ${s.blockNumber} (tx ${short(s.transactionHash ?? "?")}, gas ${s.gasUsed})`
              : s.status === "failed"
                ? `failed: ${s.error?.message}`
                : s.status;
        if (seen.get(s.id) !== line) say(`  submission ${s.id} (${s.kind}): ${line}`);
        seen.set(s.id, line);
      }
      if (subs.every((s) => s.status === "final" || s.status === "failed")) return subs;
      if (Date.now() > deadline) throw new Error(`submissions ${ids.join(", ")} did not become final`);
      await sleep(100);
    }
  };
  /** Waits until the relayer shows the deal in `status`, final, and prints it. */
  const show = async (dealId: string, status: string) => {
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    for (;;) {
      const res = await fetch(`${api}/v1/deals/${dealId}`);
      if (res.ok) {
        const d = (await res.json()) as Deal;
        if (d.status === status && d.finality === "final") {
          const money =
            d.payeeAmount !== undefined
              ? `, payee ${usdt(d.payeeAmount)}, fee ${usdt(d.fee ?? "0")}, refund ${usdt(d.refund ?? "0")}`
              : "";
          say(`GET /v1/deals/${short(dealId)} → ${d.status} (${d.finality})${money}`);
          say(`history: ${d.history.map((h) => `${h.event}@${h.blockNumber}`).join(" → ")}`);
          return d;
        }
      }
      if (Date.now() > deadline) throw new Error(`the relayer did not show ${dealId} as ${status}`);
      await sleep(100);
    }
  };

  /** A party's key opens a deal without gas: typed data from the API, signed by `signer`, posted as an intent. */
  const openByIntent = async (
    type: "open" | "lock",
    deal: DealParams,
    ref: string,
    signer: JsonRpcSigner,
    key: string,
  ) => {
    const body = {
      type,
      deal: { ...deal, amount: deal.amount.toString(), kind: ["payment", "onramp", "offramp"][Number(deal.kind)] },
      ref,
      ...(type === "lock" ? { signer: await address(signer) } : {}),
    };
    const typed = await call<{ dealId: string; typedData: { message: { expiry: string } } }>(
      "POST",
      "/v1/typed-data",
      undefined,
      body,
    );
    const signature = await signTyped(signer, typed.typedData);
    say(
      `${short(await address(signer))} signs the ${type === "open" ? "Open" : "Lock"} typed data from POST /v1/typed-data (no gas)`,
    );
    const accepted = await call<{ dealId: string; submission: Submission }>("POST", "/v1/deals", key, {
      ...body,
      expiry: typed.typedData.message.expiry,
      signature,
    });
    say(
      `POST /v1/deals (${type}) → 202, deal ${short(accepted.dealId)} known at once, submission ${accepted.submission.id}`,
    );
    await follow([accepted.submission.id]);
    return accepted.dealId;
  };

  /** A party confirms: typed data from the API, signed by `signer`, posted by `key`'s holder. */
  const confirm = async (dealId: string, action: string, signer: JsonRpcSigner, key: string, label: string) => {
    const who = await address(signer);
    const typed = await call<{ typedData: { message: { expiry: string } } }>(
      "GET",
      `/v1/deals/${dealId}/typed-data?action=${action}&signer=${who}`,
    );
    const signature = await signTyped(signer, typed.typedData);
    const accepted = await call<{ submission: Submission | null; awaiting?: string }>(
      "POST",
      `/v1/deals/${dealId}/confirmations`,
      key,
      { action, signer: who, signature, expiry: typed.typedData.message.expiry },
    );
    say(`${label}: ${short(who)} signs "${action}"; POST …/confirmations → 202, submission ${accepted.submission?.id}`);
    return accepted.submission!.id;
  };

  step("Set up actors (each sends its own transactions): a bonded gateway, an acceptor with float, funded payers");
  await setupActors(p);
  const [customer, seller] = p.payers;
  const [merchant, buyer] = p.payees;
  const keyFor = async (scope: "party" | "acceptor", who: JsonRpcSigner, label: string) => {
    const { secret } = await relayer.keys.create({ scope, owner: await address(who), label });
    say(
      `API key for ${label} ${short(await address(who))}: scope ${scope} (as \`npm run relayer -- keys create\` makes)`,
    );
    return secret;
  };
  const customerKey = await keyFor("party", customer, "the customer");
  const merchantKey = await keyFor("party", merchant, "the merchant");
  const buyerKey = await keyFor("party", buyer, "the buyer");
  const sellerKey = await keyFor("party", seller, "the seller");
  const acceptorKey = await keyFor("acceptor", p.acceptor, "the acceptor");
  say(`every transaction below is sent and paid for by the relayer's signer ${short(signer)} unless it says otherwise`);

  step("Payment: a customer pays a merchant 100 USDT, released when both confirm");
  const pay = await makeDeal(p, { payer: await address(customer), payee: await address(merchant) });
  const payId = await openByIntent("open", pay, id("order-1001"), customer, customerKey);
  await show(payId, "open");
  const delivered = await confirm(payId, "performed", merchant, merchantKey, "merchant: goods delivered");
  const released = await confirm(payId, "release", customer, customerKey, "customer: received, release");
  const [a, b] = await follow([delivered, released]);
  if (a.transactionHash !== undefined && a.transactionHash === b.transactionHash) {
    say("both confirmations were queued together: the relayer settled them in one settleWithSigs call");
  }
  await show(payId, "released");

  step("On-ramp: a buyer buys 250 USDT from the acceptor with fiat (SEPA:EUR)");
  const onRamp = await makeDelegateLock(p, { payee: await address(buyer), amount: USDT(250) });
  const onRampId = await openByIntent("lock", onRamp, id("onramp-7"), p.delegate, acceptorKey);
  say(
    `the acceptor's lock delegate ${short(await address(p.delegate))} signed the lock: it can lock float, never release it`,
  );
  await show(onRampId, "open");
  const fiatSent = await confirm(onRampId, "performed", buyer, buyerKey, "buyer: fiat sent");
  const fiatArrived = await confirm(onRampId, "release", p.acceptor, acceptorKey, "acceptor: fiat arrived");
  await follow([fiatSent, fiatArrived]);
  await show(onRampId, "released");

  step("Off-ramp: a seller sells 80 USDT to the acceptor for fiat");
  const offRamp = await makeDeal(p, {
    payer: await address(seller),
    payee: await address(p.acceptor),
    kind: Kind.OffRamp,
    amount: USDT(80),
  });
  const offRampId = await openByIntent("open", offRamp, id("offramp-3"), seller, sellerKey);
  const paid = await confirm(offRampId, "performed", p.acceptor, acceptorKey, "acceptor: fiat sent to the seller");
  const gotIt = await confirm(offRampId, "release", seller, sellerKey, "seller: fiat arrived");
  await follow([paid, gotIt]);
  await show(offRampId, "released");

  step("Dispute: the merchant says delivered, the customer disagrees, the gateway splits 60/40");
  const disputed = await makeDeal(p, { payer: await address(customer), payee: await address(merchant) });
  const disputedId = await openByIntent("open", disputed, id("order-1002"), customer, customerKey);
  await follow([await confirm(disputedId, "performed", merchant, merchantKey, "merchant: delivered")]);
  await follow([await confirm(disputedId, "dispute", customer, customerKey, "customer: not as described")]);
  const inDispute = await show(disputedId, "disputed");
  say(
    `gatewayHolds ${inDispute.gatewayHolds}: the gateway rules until ${new Date((inDispute.resolutionDeadline ?? 0) * 1000).toISOString()}, the arbiter after`,
  );
  const ruling = await p.escrow
    .connect(p.gateway)
    .resolve(disputed, USDT(60), id("ruling 1002: half the goods arrived damaged"));
  const receipt = await ruling.wait();
  say(
    `the gateway ${short(await address(p.gateway))} sends its ruling itself: resolve, 60 USDT to the merchant — gas ${receipt!.gasUsed}`,
  );
  await show(disputedId, "resolved");

  step("What the relayer shows for the acceptor and the gateway now");
  const acc = await call<{ tokens: { token: string; free: string; locked: string }[] }>(
    "GET",
    `/v1/acceptors/${await address(p.acceptor)}`,
  );
  for (const t of acc.tokens)
    say(`acceptor float in ${short(t.token)}: free ${usdt(t.free)}, locked ${usdt(t.locked)}`);
  const owed = await p.escrow.owed(await p.usdt.getAddress(), await address(p.gateway));
  say(`gateway fees owed by the escrow (claimable with claimOwed): ${usdt(owed)}`);
  const spent = await p.provider.getBalance(signer);
  say(
    `the relayer's signer paid ${formatUnits(parseEther("10") - spent, 18).slice(0, 8)} ETH of gas and holds no USDT`,
  );
}

/**
 * Two orders as a platform makes them with the typed client: matched to the acceptor, bound to one deal each,
 * followed to their end. The platform, the acceptor and the users each call the API with their own key (the
 * users through the checkout's routes, which need none: the order id is the capability).
 */
async function orderFlows(p: Protocol, api: string, relayer: Relayer, delegate: string): Promise<void> {
  const address = async (s: JsonRpcSigner) => (await s.getAddress()).toLowerCase();
  const signTyped = (signer: JsonRpcSigner, typedData: unknown) =>
    p.provider.send("eth_signTypedData_v4", [signer.address, JSON.stringify(typedData)]) as Promise<string>;
  const usdtAddress = (await p.usdt.getAddress()).toLowerCase();
  const acceptor = await address(p.acceptor);
  const [, seller] = p.payers;
  const [, buyer] = p.payees;
  const keyOf = async (scope: "platform" | "acceptor" | "gateway", owner: string) =>
    (await relayer.keys.create({ scope, owner, label: `demo ${scope}` })).secret;
  const shopKey = await keyOf("platform", Wallet.createRandom().address);
  const deskKey = await keyOf("acceptor", acceptor);
  const shop = createEscrowClient({ baseUrl: api, apiKey: shopKey });
  const desk = createEscrowClient({ baseUrl: api, apiKey: deskKey });
  const checkout = createEscrowClient({ baseUrl: api });

  /** Waits until the order shows `status`, printing every new status it passes through. */
  const seen = new Map<string, string>();
  const until = async (orderId: string, status: string) => {
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    for (;;) {
      const o = await shop.getOrder({ params: { path: { id: orderId } } });
      if (o.status !== seen.get(orderId))
        say(`  GET /v1/orders/${orderId} → ${o.status}${o.late ? " (paid late)" : ""}`);
      seen.set(orderId, o.status);
      if (o.status === status) return o;
      if (Date.now() > deadline) throw new Error(`order ${orderId} is ${o.status}, not ${status}`);
      await sleep(200);
    }
  };
  /** The order's user signs `action` on the checkout (as the checkout page has its wallet do). */
  const userConfirms = async (orderId: string, action: "performed" | "release", user: JsonRpcSigner) => {
    const typed = await checkout.checkoutTypedData({ params: { path: { orderId }, query: { action } } });
    const signature = await signTyped(user, typed.typedData);
    await checkout.checkoutConfirmation({
      params: { path: { orderId } },
      body: { action, signer: await address(user), signature, expiry: typed.expiry },
    });
    say(`${short(await address(user))} signs "${action}" on the checkout; POST /v1/checkout/…/confirmations → 202`);
  };
  /** The acceptor signs `action` on the order's deal with its own key and posts it with its acceptor key. */
  const acceptorConfirms = async (dealId: string, action: "performed" | "release" | "dispute", label: string) => {
    const typed = await desk.confirmationTypedData({
      params: { path: { dealId }, query: { action, signer: acceptor } },
    });
    const signature = await signTyped(p.acceptor, typed.typedData);
    await desk.postConfirmation({
      params: { path: { dealId } },
      body: { action, signer: acceptor, signature, expiry: typed.typedData.message.expiry as string },
    });
    say(`acceptor: ${label}: ${short(acceptor)} signs "${action}"; POST /v1/deals/…/confirmations → 202`);
  };

  step("Orders: the acceptor opens its desk; a platform creates orders with the typed client (client/)");
  await (await p.registry.connect(p.acceptor).setLockDelegate(delegate)).wait();
  // Auto-accept needs the relayer to have indexed the new delegate (it reads it from its projection).
  for (const deadline = Date.now() + WAIT_TIMEOUT_MS; ; await sleep(100)) {
    const view = await shop.getAcceptor({ params: { path: { address: acceptor } } });
    if (view.lockDelegate.toLowerCase() === delegate.toLowerCase()) break;
    if (Date.now() > deadline) throw new Error("the relayer did not index the acceptor's new lock delegate");
  }
  say(
    `the acceptor ${short(acceptor)} names the relayer's lock delegate ${short(delegate)} on-chain (sent by the acceptor)`,
  );
  await desk.putAcceptorProfile({
    body: {
      rates: { EUR: "0.92" },
      methods: {
        "SEPA:EUR": { minAmount: "1000000", maxAmount: "5000000000", details: "IBAN DE89 3704 0044 0532 0130 00" },
      },
      autoAccept: true,
      paused: false,
    },
  });
  await desk.postAcceptorHeartbeat({ body: { online: true } });
  say("PUT /v1/acceptor/profile: 0.92 EUR per USDT, SEPA:EUR 1–5,000 USDT, auto-accept on; heartbeat: online");

  step("Buy order: a user buys 120 USDT for euros by SEPA transfer");
  const buy = await shop.createOrder({
    body: {
      side: "buy",
      amount: USDT(120).toString(),
      token: usdtAddress,
      currency: "EUR",
      method: "SEPA",
      user: await address(buyer),
      reference: "cart-501",
    },
  });
  say(
    `POST /v1/orders → 201 ${buy.id}: matched to ${short(buy.acceptor ?? "?")} at ${buy.rate} EUR, ${buy.fiatAmount} EUR to pay`,
  );
  say(
    `deal ${short(buy.dealId ?? "?")} known before any transaction; the relayer's lock delegate locks the acceptor's float`,
  );
  say(`checkout page for the user: ${api}/checkout/${buy.id}`);
  await until(buy.id, "funded");
  const view = await checkout.getCheckout({ params: { path: { orderId: buy.id } } });
  say(`the checkout shows the acceptor's details: ${view.paymentDetails}`);
  await userConfirms(buy.id, "performed", buyer);
  await until(buy.id, "paid");
  await acceptorConfirms(buy.dealId!, "release", "the euros arrived");
  await until(buy.id, "released");

  step("Sell order: a user sells 60 USDT for euros");
  const sell = await shop.createOrder({
    body: {
      side: "sell",
      amount: USDT(60).toString(),
      token: usdtAddress,
      currency: "EUR",
      method: "SEPA:EUR",
      user: await address(seller),
      reference: "payout-77",
    },
  });
  say(`POST /v1/orders → 201 ${sell.id}: matched to ${short(sell.acceptor ?? "?")}, ${sell.fiatAmount} EUR to receive`);
  say(`checkout page for the user: ${api}/checkout/${sell.id}`);
  await until(sell.id, "accepted");
  const open = await checkout.checkoutTypedData({ params: { path: { orderId: sell.id }, query: { action: "open" } } });
  const signature = await signTyped(seller, open.typedData);
  await checkout.checkoutOpen({ params: { path: { orderId: sell.id } }, body: { signature, expiry: open.expiry } });
  say(`${short(await address(seller))} signs the deal's Open on the checkout (no gas; it approved the escrow before)`);
  await until(sell.id, "funded");
  await acceptorConfirms(sell.dealId!, "performed", "the euros are sent");
  await until(sell.id, "paid");
  await userConfirms(sell.id, "release", seller);
  await until(sell.id, "released");

  const events = await shop.listEvents({ params: { query: { types: "order.*", limit: 100 } } });
  say(`the platform's order events (its webhooks get the same): ${events.data.map((e) => e.type).join(", ")}`);
  const report = (await shop.settlementReport({ params: { query: { format: "json" } } })) as {
    rows: unknown[];
    totals: Record<string, { count: number; amount: string; payeeAmount: string; fee: string }>;
  };
  for (const [token, t] of Object.entries(report.totals)) {
    say(
      `GET /v1/reports/settlements → ${t.count} settled orders in ${short(token)}: ${usdt(t.amount)}, ` +
        `${usdt(t.payeeAmount)} to payees, ${usdt(t.fee)} in fees`,
    );
  }

  step("Dispute desk: the buyer says it paid, the acceptor says nothing arrived; evidence, messages, a ruling");
  const gateway = await address(p.gateway);
  const bench = createEscrowClient({ baseUrl: api, apiKey: await keyOf("gateway", gateway) });
  const [, , , buyer2] = p.payees;
  const disputed = await shop.createOrder({
    body: {
      side: "buy",
      amount: USDT(90).toString(),
      token: usdtAddress,
      currency: "EUR",
      method: "SEPA",
      user: await address(buyer2),
      reference: "cart-502",
      payerName: "Ada Lovelace",
    },
  });
  say(`POST /v1/orders → 201 ${disputed.id}: 90 USDT for ${disputed.fiatAmount} EUR, payer name "Ada Lovelace"`);
  await until(disputed.id, "funded");
  await userConfirms(disputed.id, "performed", buyer2);
  await until(disputed.id, "paid");
  const named = (await desk.transferName({
    params: { path: { id: disputed.id } },
    body: { name: "A. Lovelace Trading Ltd" },
  })) as { nameCheck?: string };
  say(`acceptor: the only transfer that came in names "A. Lovelace Trading Ltd" → nameCheck ${named.nameCheck}`);
  await acceptorConfirms(disputed.dealId!, "dispute", "no payment from the declared payer");
  await until(disputed.id, "disputed");

  // Evidence: a file stored by its SHA-256 and anchored on-chain with its poster's signature (the relayer sends it).
  const evidence = async (
    bytes: Buffer,
    type: string,
    name: string,
    signer: JsonRpcSigner,
    client: typeof shop,
    key: string,
  ) => {
    const contentHash = `0x${createHash("sha256").update(bytes).digest("hex")}`;
    const dealId = disputed.dealId!;
    const typed = await client.evidenceTypedData({
      params: { path: { dealId }, query: { contentHash, signer: await address(signer) } },
    });
    const res = await fetch(`${api}/v1/deals/${dealId}/evidence`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${key}`,
        "Content-Type": type,
        "Evidence-Signer": await address(signer),
        "Evidence-Signature": await signTyped(signer, typed.typedData),
        "Evidence-Expiry": String(typed.expiry),
        "Evidence-Name": name,
      },
      body: new Uint8Array(bytes),
    });
    const body = (await res.json()) as { role: string; submission: string };
    if (res.status !== 202) throw new Error(`evidence upload: ${res.status} ${JSON.stringify(body)}`);
    say(
      `${body.role} ${short(await address(signer))} signs the Evidence typed data of ${name} (${short(contentHash)}); ` +
        `POST …/evidence → 202, submission ${body.submission}`,
    );
    return body.submission;
  };
  const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.from("bank app: transfer 82.80 EUR")]);
  const pdf = Buffer.from("%PDF-1.4\nstatement: no credit from Ada Lovelace\n%%EOF\n");
  await evidence(png, "image/png", "transfer.png", buyer2, shop, shopKey);
  await evidence(pdf, "application/pdf", "statement.pdf", p.acceptor, desk, deskKey);

  // Messages: each signed by its author (EIP-191), each naming the hash of the one before it.
  const message = async (author: JsonRpcSigner, client: typeof shop, body: string) => {
    const thread = await client.listOrderMessages({ params: { path: { id: disputed.id } } });
    const fields = {
      orderId: disputed.id,
      dealId: disputed.dealId!,
      author: await address(author),
      prev: thread.head,
      sentAt: Math.floor(Date.now() / 1000),
      body,
    };
    const signature = await author.signMessage(orderMessageText(fields));
    await client.postOrderMessage({
      params: { path: { id: disputed.id } },
      body: { author: fields.author, body, sentAt: fields.sentAt, prev: fields.prev, signature },
    });
    say(`${short(fields.author)} signs and posts: "${body}"`);
  };
  await message(buyer2, shop, "I paid 82.80 EUR from my business account, reference cart-502.");
  await message(p.acceptor, desk, "Nothing from Ada Lovelace arrived; a company account is not the declared payer.");

  // The gateway works the dispute through its console's API (the /gateway page makes the same calls).
  const queue = await bench.listGatewayDisputes({ params: { query: {} } });
  const item = queue.data.find((d) => d.dealId === disputed.dealId)!;
  const rate = (r: number | null) => (r === null ? "none yet" : `${Math.round(r * 100)}%`);
  say(
    `GET /v1/gateway/disputes → ${queue.data.length} dispute(s); this one: ${Math.round(item.secondsLeft / 3600)} h left, ` +
      `payer's completion ${rate(item.parties.payer.completionRate)}, payee's ${rate(item.parties.payee.completionRate)}`,
  );
  let files = await bench.listEvidence({ params: { path: { dealId: disputed.dealId! } } });
  for (const deadline = Date.now() + WAIT_TIMEOUT_MS; files.items.some((e) => !e.anchored); await sleep(200)) {
    if (Date.now() > deadline) throw new Error("the evidence was not anchored on-chain");
    files = await bench.listEvidence({ params: { path: { dealId: disputed.dealId! } } });
  }
  say(`evidence: ${files.items.map((e) => `${e.role} ${e.name} ${e.anchored ? "anchored" : "pending"}`).join(", ")}`);
  const bundle = await bench.orderMessageBundle({ params: { path: { id: disputed.id } } });
  say(
    `GET /v1/orders/…/messages/bundle → ${bundle.bundle.messages.length} signed messages, bundle ${short(bundle.bundleHash)} signed by the relayer ${short(bundle.relayer)}`,
  );
  const reasons =
    "The buyer's transfer came from a company account, not from the declared payer's; the acceptor's statement " +
    "shows no credit from the declared payer. A transfer was made: 70% to the buyer, 30% back to the acceptor.";
  const payeeAmount = ((USDT(90) * 70n) / 100n).toString();
  const typed = await bench.rulingTypedData({
    params: { path: { dealId: disputed.dealId! } },
    body: { payeeAmount, reasons, signer: gateway },
  });
  const rulingSignature = await signTyped(p.gateway, typed.typedData);
  const ruled = await bench.postRuling({
    params: { path: { dealId: disputed.dealId! } },
    body: { payeeAmount, reasons, signer: gateway, signature: rulingSignature, expiry: typed.expiry },
  });
  say(
    `the gateway ${short(gateway)} signs a 70/30 ruling with reasons hash ${short(typed.reasonsHash)}; POST …/rulings → 202, submission ${ruled.submission.id} (the relayer sends resolveWithSig)`,
  );
  await until(disputed.id, "resolved");
  const ruling = await shop.getRuling({ params: { path: { dealId: disputed.dealId! } } });
  say(
    `GET /v1/deals/…/ruling → payee ${usdt(ruling.payeeNet)} + fee ${usdt(ruling.fee)}, refund ${usdt(ruling.refund)}; ` +
      `on-chain reasons ${short(ruling.reasonsHash)} = keccak256 of the text: ${ruling.reasons === reasons}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
