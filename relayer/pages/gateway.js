// The gateway console: sign in with a gateway API key (kept in sessionStorage), work the dispute queue (least time
// left in the resolution window first, with a live countdown), read a dispute's deal, the parties' records, its
// evidence and messages, and rule: a split slider and written reasons, signed with the gateway's wallet
// (eth_signTypedData_v4) and sent through the relayer.
import {
  api,
  ApiError,
  announce,
  formatRemaining,
  formatUnits,
  h,
  keySession,
  shortAddress,
  showError,
} from "./common.js";
import { connect, signTypedData, walletMessage } from "./wallet.js";

const KEY = "gatewayKey";
const QUEUE_MS = 5000;
const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);

let queueTimer;
let tickTimer;
/** The queue as last read: items with the local time their secondsLeft was read at. */
let items = [];
let alertSeconds = 0;
/** The dispute shown in detail. */
let current;
let ruling = false;

function fail(error) {
  showError($("alert"), error instanceof ApiError ? error.message : walletMessage(error));
}

async function call(method, path, body) {
  try {
    return await api(method, path, { key: session.key, body });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) logout("Your key was refused. Sign in again.");
    throw error;
  }
}

/** A read that may not exist on this relayer (404: its route is not there): undefined then. */
async function optional(path) {
  try {
    return await call("GET", path);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403 || error.status === 503)) {
      return undefined;
    }
    throw error;
  }
}

/* ------------------------------------------------ sign in ------------------------------------------------ */

const session = keySession({
  storageKey: KEY,
  start,
  fail,
  reset() {
    clearTimeout(queueTimer);
    clearInterval(tickTimer);
    items = [];
    current = undefined;
    $("queue-list").replaceChildren();
  },
});
const logout = (message) => session.logout(message);

async function start() {
  const page = await call("GET", "/v1/gateway/disputes?limit=200");
  showError($("alert"), "");
  $("login").hidden = true;
  $("console").hidden = false;
  $("logout").hidden = false;
  renderQueue(page);
  announce($("status"), page.gateway ? `Signed in as gateway ${page.gateway}.` : "Signed in.");
  $("queue-heading").focus();
  clearInterval(tickTimer);
  tickTimer = setInterval(tick, 1000);
  schedule();
}

function schedule() {
  clearTimeout(queueTimer);
  if (session.key) queueTimer = setTimeout(pollQueue, document.hidden ? QUEUE_MS * 4 : QUEUE_MS);
}

async function pollQueue() {
  try {
    renderQueue(await call("GET", "/v1/gateway/disputes?limit=200"));
  } catch (error) {
    if (session.key) fail(error);
  }
  schedule();
}

/* ------------------------------------------------ the queue ------------------------------------------------ */

function leftOf(item, now = Date.now()) {
  return Math.max(0, item.secondsLeft - Math.floor((now - item.readAt) / 1000));
}

function renderQueue(page) {
  alertSeconds = page.alertSeconds ?? 0;
  $("gateway-address").textContent = page.gateway ? `Gateway ${page.gateway}.` : "";
  const readAt = Date.now();
  items = (page.data ?? []).map((d) => ({ ...d, readAt }));
  $("queue-empty").hidden = items.length > 0;
  $("queue-list").replaceChildren(...items.map(queueItem));
  tick();
}

function queueItem(d) {
  const headingId = `q-${d.dealId}`;
  return h(
    "li",
    { class: "order", "data-deal": d.dealId, "aria-labelledby": headingId },
    h("h3", { id: headingId }, `${formatUnits(d.deal.amount)} USDT — ${d.deal.kind}`),
    h(
      "dl",
      { class: "summary compact" },
      row("Time left", h("span", { class: "countdown", "data-countdown": d.dealId })),
      row("Payer", shortAddress(d.deal.payer)),
      row("Payee", shortAddress(d.deal.payee)),
      row(
        "Ruled by",
        d.heldByGateway ? (d.ruler === "gateway" ? "you" : "the arbiter (window closed)") : "the arbiter",
      ),
    ),
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", class: "secondary", onclick: () => openDispute(d.dealId) }, "Open dispute"),
    ),
  );
}

/** Updates every countdown; inside the alert span it takes the warning style. */
function tick() {
  const now = Date.now();
  for (const item of items) {
    const el = document.querySelector(`[data-countdown="${item.dealId}"]`);
    if (!el) continue;
    const left = leftOf(item, now);
    el.textContent = left === 0 ? "Window closed" : formatRemaining(now + left * 1000, now);
    const warn = left > 0 && left <= alertSeconds;
    el.classList.toggle("warn", warn);
    el.closest("li")?.classList.toggle("closing", warn);
  }
}

function row(term, value) {
  return h("div", {}, h("dt", {}, term), h("dd", {}, value));
}

/* ------------------------------------------------ a dispute ------------------------------------------------ */

$("back").addEventListener("click", () => {
  $("detail").hidden = true;
  $("queue").hidden = false;
  current = undefined;
  $("queue-heading").focus();
});

async function openDispute(dealId) {
  try {
    const d = await call("GET", `/v1/gateway/disputes/${dealId}`);
    current = d;
    const [evidence, messages] = await Promise.all([
      optional(`/v1/deals/${dealId}/evidence`),
      d.orderId ? optional(`/v1/orders/${d.orderId}/messages`) : Promise.resolve(undefined),
    ]);
    renderDetail(d, evidence?.items ?? [], messages?.items ?? []);
    showError($("alert"), "");
    $("queue").hidden = true;
    $("detail").hidden = false;
    $("detail-heading").focus();
  } catch (error) {
    fail(error);
  }
}

function renderDetail(d, evidence, messages) {
  const deal = d.deal;
  $("detail-heading").textContent = `Dispute of ${shortAddress(d.dealId)}`;
  $("deal-summary").replaceChildren(
    row("Deal", d.dealId),
    row("Amount", `${formatUnits(deal.amount)} USDT`),
    row("Kind", deal.kind),
    row("Status", deal.status),
    row("Payer", deal.payer),
    row("Payee", deal.payee),
    row("Disputed by", deal.disputedBy ?? "—"),
    row("Order", d.orderId ?? "none"),
    row("Window ends", new Date(d.windowEndsAt * 1000).toISOString()),
  );
  $("parties").replaceChildren(party("Payer", d.parties.payer), party("Payee", d.parties.payee));
  $("evidence-list").replaceChildren(
    ...(evidence.length === 0 ? [h("li", { class: "hint" }, "none")] : evidence.map((e) => evidenceItem(d.dealId, e))),
  );
  $("message-list").replaceChildren(
    ...(messages.length === 0 ? [h("li", { class: "hint" }, "none")] : messages.map(messageItem)),
  );
  $("reasons").value = "";
  $("share").value = "50";
  $("ruling-result").replaceChildren();
  updateShare();
  const mayRule = d.ruler === "gateway";
  $("sign").disabled = !mayRule;
  if (!mayRule) $("ruling-result").replaceChildren(h("p", { class: "hint" }, "The arbiter rules this dispute."));
}

function party(label, s) {
  const rate = s.completionRate === null ? "no final deals" : `${Math.round(s.completionRate * 100)} %`;
  return h(
    "dl",
    { class: "summary compact", "aria-label": `${label}'s record` },
    row(label, s.address),
    row("Deals", `${s.deals}${s.truncated ? "+" : ""} (${s.asPayer} as payer, ${s.asPayee} as payee)`),
    row("Outcomes", `${s.released} released, ${s.refunded} refunded, ${s.split} split, ${s.resolved} resolved`),
    row("Disputed", String(s.disputed)),
    row("Completion rate", rate),
  );
}

function evidenceItem(dealId, e) {
  const name = e.name ?? e.contentHash.slice(0, 12);
  return h(
    "li",
    { class: "order" },
    h("p", {}, `${name} — posted by the ${e.role} ${shortAddress(e.poster)}`),
    h(
      "p",
      { class: "hint" },
      `${new Date(e.postedAt * 1000).toISOString()}${e.anchored ? " — anchored on chain" : ""}`,
    ),
    e.stored
      ? h(
          "button",
          { type: "button", class: "secondary", onclick: () => download(dealId, e, name) },
          `Download ${name}`,
        )
      : h("p", { class: "hint" }, "The file is not stored on this relayer."),
  );
}

/** Fetches an evidence file with the key and saves it (a blob download: the key never goes in a URL). */
async function download(dealId, e, name) {
  try {
    const res = await fetch(`/v1/deals/${dealId}/evidence/${e.contentHash}`, {
      headers: { Authorization: `Bearer ${session.key}` },
      cache: "no-store",
      credentials: "omit",
    });
    if (!res.ok) throw new ApiError(res.status, `The file could not be read (${res.status}).`);
    const url = URL.createObjectURL(await res.blob());
    const a = h("a", { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    fail(error);
  }
}

function messageItem(m) {
  return h(
    "li",
    { class: "order" },
    h("p", { class: "hint" }, `${m.role} ${shortAddress(m.author)} — ${new Date(m.sentAt * 1000).toISOString()}`),
    h("p", { class: "details-text" }, m.body),
    h("p", { class: "hint" }, m.signature ? "Signature on record" : "No signature"),
  );
}

/* ------------------------------------------------ the ruling ------------------------------------------------ */

function amounts() {
  const total = BigInt(current?.deal.amount ?? "0");
  const pct = BigInt($("share").value);
  const payee = (total * pct) / 100n;
  return { payee, payer: total - payee };
}

function updateShare() {
  const pct = $("share").value;
  $("share-out").textContent = `${pct} %`;
  const { payee, payer } = amounts();
  $("share").setAttribute("aria-valuetext", `${pct} % to the payee: ${formatUnits(payee.toString())} USDT`);
  $("payee-amount").textContent = `${formatUnits(payee.toString())} USDT (${payee} base units)`;
  $("payer-amount").textContent = `${formatUnits(payer.toString())} USDT (${payer} base units)`;
}

$("share").addEventListener("input", updateShare);

$("ruling-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!current || ruling) return;
  const reasons = $("reasons").value.trim();
  if (!reasons) {
    showError($("alert"), "Write the ruling's reasons.");
    $("reasons").setAttribute("aria-invalid", "true");
    $("reasons").focus();
    return;
  }
  $("reasons").removeAttribute("aria-invalid");
  ruling = true;
  $("sign").disabled = true;
  const dealId = current.dealId;
  try {
    const payeeAmount = amounts().payee.toString();
    const account = await connect();
    const typed = await call("POST", `/v1/deals/${dealId}/ruling/typed-data`, {
      payeeAmount,
      reasons,
      signer: account,
    });
    announce($("status"), "Sign the ruling in your wallet.");
    const signature = await signTypedData(account, typed.typedData);
    const accepted = await call("POST", `/v1/deals/${dealId}/rulings`, {
      payeeAmount,
      reasons,
      signer: account,
      signature,
      expiry: typed.expiry,
    });
    showError($("alert"), "");
    $("ruling-result").replaceChildren(
      h("p", {}, `Ruling submitted (${accepted.submission.id}): reasons hash ${accepted.reasonsHash}.`),
    );
    announce($("status"), "Ruling submitted. Waiting for the chain…");
    await untilFinal(accepted.submission.id);
    const final = await untilRuled(dealId);
    $("ruling-result").replaceChildren(
      h("p", { class: "ruled" }, "Ruling on chain"),
      h(
        "dl",
        { class: "summary compact" },
        row("Payee", `${formatUnits(final.payeeAmount)} USDT`),
        row("Payer", `${formatUnits(final.refund)} USDT`),
        row("Reasons hash", final.reasonsHash),
        row("Transaction", final.txHash ?? "—"),
      ),
    );
    announce($("status"), "Ruling on chain.");
    void pollQueue();
  } catch (error) {
    fail(error);
    $("sign").disabled = false;
  } finally {
    ruling = false;
  }
});

async function untilFinal(id) {
  for (;;) {
    const s = await call("GET", `/v1/submissions/${id}`);
    if (s.status === "final") return s;
    if (s.status === "failed") throw new ApiError(422, `The ruling failed: ${s.error?.message ?? "reverted"}.`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function untilRuled(dealId) {
  for (;;) {
    try {
      return await call("GET", `/v1/deals/${dealId}/ruling`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 409) throw error;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

if (session.key) start().catch((error) => logout(error instanceof ApiError ? error.message : String(error)));
