// The hosted checkout: shows one order (GET /v1/checkout/{orderId}, polled) and takes the user's next step
// with their wallet (sell: approve and sign the deal's Open; buy: "I have paid"; sell: "I received the fiat"), and
// the order's message thread: each message signed by the user's wallet (personal_sign).
import { api, ApiError, announce, copyText, formatFiat, formatRemaining, formatUnits, h, showError } from "./common.js";
import { allowance, approve, connect, personalSign, signTypedData, walletMessage } from "./wallet.js";

const POLL_MS = 2000;
const FINAL = new Set(["released", "refunded", "split", "resolved", "expired", "unmatched", "cancelled"]);

const orderId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() ?? "");
const base = `/v1/checkout/${encodeURIComponent(orderId)}`;
const $ = (id) => document.getElementById(id);

let view;
let busy = false;
let stopped = false;
let account;
let polls = 0;
let sending = false;

/** Who wrote a message, as the user reads it. */
const AUTHOR_OF = { user: "You", acceptor: "Payment partner", gateway: "Arbiter" };
/** Messages are read every this many polls (and at once after sending one). */
const THREAD_EVERY = 3;

const STEP_OF = {
  assigned: "pending",
  accepted: "pending",
  funded: "pending",
  paid: "paid",
  released: "released",
};

/** The sentence announced for a status (side-aware). */
function statusText(v) {
  const buy = v.side === "buy";
  switch (v.status) {
    case "assigned":
      return "Finding a payment partner for your order…";
    case "accepted":
      return buy ? "Your payment partner is setting the order up…" : "Ready: connect your wallet to pay.";
    case "funded":
      return buy
        ? "Please pay the amount shown using the payment details."
        : "Your USDT is in escrow. The fiat is on its way.";
    case "paid":
      return buy ? "Payment reported. Waiting for the partner to confirm it." : "The partner says the fiat was sent.";
    case "released":
      return buy ? "Done: the USDT has been released to you." : "Done: the payment is complete.";
    case "refunded":
      return "The order was refunded.";
    case "split":
      return "The order was settled in part (a split of the amount).";
    case "resolved":
      return "The order was settled by the arbiter.";
    case "disputed":
      return "The order is disputed. An arbiter will review it.";
    case "expired":
      return "The order expired before it was paid.";
    case "unmatched":
      return "No payment partner was available for this order.";
    case "cancelled":
      return "The order was cancelled by the shop.";
    default:
      return `Status: ${v.status}`;
  }
}

function render(v) {
  const buy = v.side === "buy";
  const token = `${formatUnits(v.amount)} USDT`;
  const fiat = formatFiat(v.fiatAmount, v.currency);
  $("pay").textContent = buy ? fiat : token;
  $("get").textContent = buy ? token : fiat;
  $("method").textContent = v.method ?? "—";
  $("rate").textContent = v.rate ? `${v.rate} ${v.currency} per USDT` : "—";

  const step = STEP_OF[v.status];
  const order = ["pending", "paid", "released"];
  for (const li of $("steps").querySelectorAll("li")) {
    const i = order.indexOf(li.dataset.step);
    const at = step === undefined ? -1 : order.indexOf(step);
    li.className = i < at ? "done" : i === at ? "current" : "";
    if (i === at) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
  $("steps").hidden = step === undefined;
  const message = $("message");
  message.hidden = step !== undefined;
  message.textContent = step === undefined ? statusText(v) : "";
  announce($("status"), statusText(v));
  $("countdown-row").hidden = FINAL.has(v.status) || v.status === "paid" || v.status === "disputed";
  tick();

  const details = $("details");
  details.hidden = !v.paymentDetails;
  if (v.paymentDetails) {
    $("details-hint").textContent = buy
      ? `Send ${fiat} to this account with ${v.method}, then press “I have paid”.`
      : `The partner sends ${fiat} by ${v.method}. These are their details for reference.`;
    $("details-text").textContent = v.paymentDetails;
  }
  renderAction(v);
  renderEscalation(v);
  $("msgs").hidden = !v.dealId;
}

/** The one button the user needs now, if any. */
function actionOf(v) {
  // Only the user's own steps: the other party's are shown as status.
  const mine = typeof v.next?.signer === "string" && v.next.signer.toLowerCase() === String(v.user).toLowerCase();
  const next = mine ? v.next.action : null;
  if (v.side === "sell" && next === "open") {
    return {
      label: "Connect wallet and pay",
      hint:
        `${v.approval ? "If needed, your wallet first asks you to approve the USDT transfer. Then you " : "You "}` +
        `sign the payment of ${formatUnits(v.amount)} USDT into escrow.`,
      run: openSell,
    };
  }
  if (v.side === "buy" && next === "performed") {
    return {
      label: "I have paid",
      hint: "Press this after you sent the payment. Your wallet will ask you to sign a confirmation (no fee).",
      run: () => confirm("performed"),
    };
  }
  if (v.side === "buy" && v.status === "paid" && !v.escalation) {
    return {
      label: "Escalate if not released",
      hint:
        "If your partner neither releases the USDT nor opens a dispute in time, the relayer hands the order to the " +
        "gateway with this signature. It can only open a dispute; it moves no money. Your wallet signs (no fee).",
      run: escalate,
    };
  }
  if (v.side === "sell" && next === "release") {
    return {
      label: "I received the fiat",
      hint: "Press this only after the money arrived in your account: it releases your USDT to the partner.",
      run: () => confirm("release"),
      alt: {
        label: "I did not receive it",
        hint: "If the money has not arrived, open a dispute: your USDT stays in escrow and an arbiter decides.",
        run: () => confirm("dispute"),
      },
    };
  }
  return undefined;
}

function renderAction(v) {
  const a = actionOf(v);
  const section = $("actions");
  const button = $("action");
  const alt = $("alt-action");
  section.hidden = !a;
  if (!a) return;
  $("action-hint").textContent = a.hint;
  if (!busy) button.textContent = a.label;
  button.disabled = busy;
  button.onclick = () => run(a);
  alt.hidden = !a.alt;
  $("alt-hint").hidden = !a.alt;
  if (a.alt) {
    alt.textContent = a.alt.label;
    $("alt-hint").textContent = a.alt.hint;
    alt.disabled = busy;
    alt.onclick = () => run(a.alt);
  }
}

async function run(a) {
  if (busy) return;
  busy = true;
  const button = $("action");
  button.disabled = true;
  $("alt-action").disabled = true;
  button.setAttribute("aria-busy", "true");
  showError($("alert"), "");
  try {
    await a.run();
    await refresh();
  } catch (error) {
    showError($("alert"), error instanceof ApiError ? error.message : walletMessage(error));
  } finally {
    busy = false;
    button.removeAttribute("aria-busy");
    if (view) renderAction(view);
    const target = $("actions").hidden ? $("status") : $("action");
    target.tabIndex = target === $("status") ? -1 : 0;
    target.focus();
  }
}

async function wallet() {
  account ??= await connect();
  $("account").textContent = `Wallet: ${account}`;
  if (view.user && account !== view.user.toLowerCase()) {
    throw new Error(`Connect the wallet of this order (${view.user}); the connected one is ${account}.`);
  }
  return account;
}

async function openSell() {
  const from = await wallet();
  const a = view.approval;
  if (a && (await allowance(a.token, from, a.spender)) < BigInt(a.amount)) {
    announce($("status"), "Approve the USDT transfer in your wallet…");
    await approve(from, a);
    announce($("status"), "Approval confirmed.");
  }
  announce($("status"), "Sign the payment in your wallet…");
  const { typedData, expiry } = await api("GET", `${base}/typed-data?action=open`);
  const signature = await signTypedData(from, typedData);
  await api("POST", `${base}/open`, { body: { signature, expiry: String(expiry ?? typedData.message.expiry) } });
  announce($("status"), "Payment sent to the escrow. Waiting for it to be confirmed…");
}

/** What became of the user's escalation, if it signed one. */
function renderEscalation(v) {
  const note = $("escalation-note");
  const e = v.escalation;
  note.hidden = !e || FINAL.has(v.status);
  if (!e) return;
  const when = e.dueAt ? ` after ${new Date(e.dueAt * 1000).toLocaleString()}` : "";
  note.textContent =
    e.state === "waiting"
      ? `Escalation signed: the gateway gets the order${when} unless your partner releases first.`
      : e.state === "sent"
        ? "Escalation sent: the order goes to the gateway."
        : e.state === "expired"
          ? "Your escalation expired unused."
          : "Your escalation is no longer needed.";
}

async function escalate() {
  const from = await wallet();
  announce($("status"), "Sign the escalation in your wallet…");
  const { typedData, expiry } = await api("GET", `${base}/typed-data?action=escalate`);
  const signature = await signTypedData(from, typedData);
  await api("POST", `${base}/escalation`, {
    body: { signature, expiry: String(expiry ?? typedData.message.expiry) },
  });
  announce($("status"), "Escalation held: the gateway gets the order if your partner does not release in time.");
}

async function confirm(action) {
  const from = await wallet();
  announce($("status"), "Sign the confirmation in your wallet…");
  const { typedData, expiry } = await api("GET", `${base}/typed-data?action=${action}`);
  const signature = await signTypedData(from, typedData);
  await api("POST", `${base}/confirmations`, {
    body: { action, signer: from, signature, expiry: String(expiry ?? typedData.message.expiry) },
  });
  announce($("status"), action === "dispute" ? "Dispute opened." : "Confirmation sent.");
}

/** The text an author signs for a message (protocol/messages.ts orderMessageText): ids and addresses lower-case. */
function messageText(m) {
  return (
    "USDT Escrow order message\n" +
    `Order: ${m.orderId.toLowerCase()}\n` +
    `Deal: ${m.dealId.toLowerCase()}\n` +
    `Author: ${m.author.toLowerCase()}\n` +
    `Previous: ${m.prev.toLowerCase()}\n` +
    `Sent: ${m.sentAt}\n\n` +
    m.body
  );
}

function renderThread(t) {
  const items = t.items.map((m) => {
    const at = new Date(m.sentAt * 1000);
    return h(
      "li",
      { class: m.role === "user" ? "mine" : undefined },
      h("strong", {}, AUTHOR_OF[m.role] ?? m.role),
      " · ",
      h("time", { datetime: at.toISOString() }, at.toLocaleString()),
      h("p", { class: "msg-text" }, m.body),
    );
  });
  $("msg-list").replaceChildren(...items);
  $("msg-empty").hidden = items.length > 0;
}

async function loadThread() {
  if (!view?.dealId) return;
  try {
    renderThread(await api("GET", `${base}/messages`));
  } catch (error) {
    if (!sending) showError($("msg-alert"), error.message);
  }
}

/** Signs the typed message with the user's wallet after the thread's head, and sends it. */
async function sendMessage(event) {
  event.preventDefault();
  if (sending) return;
  const body = $("msg-body").value;
  if (body.trim() === "") {
    showError($("msg-alert"), "Write a message first.");
    $("msg-body").focus();
    return;
  }
  sending = true;
  const button = $("msg-send");
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  showError($("msg-alert"), "");
  try {
    const from = await wallet();
    const t = await api("GET", `${base}/messages`);
    const m = { orderId, dealId: t.dealId, author: from, prev: t.head, sentAt: Math.floor(Date.now() / 1000), body };
    announce($("status"), "Sign the message in your wallet…");
    const signature = await personalSign(from, messageText(m));
    await api("POST", `${base}/messages`, {
      body: { author: from, body, sentAt: m.sentAt, prev: m.prev, signature },
    });
    $("msg-body").value = "";
    announce($("status"), "Message sent.");
    await loadThread();
  } catch (error) {
    showError($("msg-alert"), error instanceof ApiError ? error.message : walletMessage(error));
  } finally {
    sending = false;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function tick() {
  if (!view) return;
  const el = $("countdown");
  el.textContent = formatRemaining(view.expiresAt);
  el.setAttribute("datetime", new Date(view.expiresAt).toISOString());
}

async function refresh() {
  try {
    const v = await api("GET", base);
    view = v;
    $("loading").hidden = true;
    $("order").hidden = false;
    if (!busy) showError($("alert"), "");
    render(v);
    return v;
  } catch (error) {
    $("loading").hidden = true;
    showError($("alert"), error.message);
    // An unknown order stays unknown: stop asking.
    if (error.status === 404) stopped = true;
    return undefined;
  }
}

async function poll() {
  const v = await refresh();
  if (v?.dealId && polls++ % THREAD_EVERY === 0) await loadThread();
  if (stopped || (v && FINAL.has(v.status))) return;
  setTimeout(poll, document.hidden ? POLL_MS * 3 : POLL_MS);
}

$("copy").addEventListener("click", async () => {
  const ok = await copyText($("details-text").textContent ?? "");
  $("copied").textContent = ok ? "Copied." : "Copy failed: select the text and copy it.";
});
$("msg-form").addEventListener("submit", sendMessage);
setInterval(tick, 1000);
poll();
