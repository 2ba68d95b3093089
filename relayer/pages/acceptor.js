// The acceptor console: sign in with an acceptor API key (kept in sessionStorage), go online (heartbeats every
// 30 s while the page is open), and work the assigned orders: accept or decline, then confirm the fiat leg with
// a signature from the acceptor's wallet. On a buy order the acceptor compares the payer name the platform declared
// with the name on the incoming transfer (a mismatch asks for a second, explicit "Release anyway"), and may flag a
// released buy order as charged back.
import {
  api,
  ApiError,
  announce,
  formatFiat,
  formatRemaining,
  formatUnits,
  h,
  keySession,
  showError,
} from "./common.js";
import { connect, signTypedData, walletMessage } from "./wallet.js";

const KEY = "acceptorKey";
const HEARTBEAT_MS = 30_000;
const ORDERS_MS = 3000;
const $ = (id) => document.getElementById(id);

let profile;
let account;
let heartbeatTimer;
let ordersTimer;
const busy = new Set();
const rendered = new Map();
/** Orders whose "Fiat received" was pressed despite a name mismatch: they now show "Release anyway". */
const confirming = new Set();
/** Statuses an order never leaves. */
const FINAL = new Set(["released", "refunded", "split", "resolved", "unmatched", "cancelled"]);

function fail(error) {
  showError($("alert"), error instanceof ApiError ? error.message : walletMessage(error));
}

async function call(method, path, body) {
  try {
    return await api(method, path, { key: session.key, body });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      logout("Your key was refused. Sign in again.");
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
    profile = undefined;
    clearInterval(heartbeatTimer);
    clearTimeout(ordersTimer);
    heartbeatTimer = ordersTimer = undefined;
    rendered.clear();
    $("order-list").replaceChildren();
  },
});
const logout = (message) => session.logout(message);

async function start() {
  profile = await call("GET", "/v1/acceptor/profile");
  showError($("alert"), "");
  $("login").hidden = true;
  $("console").hidden = false;
  $("logout").hidden = false;
  renderProfile();
  announce($("status"), `Signed in as ${profile.acceptor}.`);
  $("profile-heading").focus();
  // A desk switched on is kept alive while this page is open: one heartbeat now, then every HEARTBEAT_MS.
  if (profile.online) {
    await heartbeat();
    startHeartbeat();
  }
  await pollOrders();
}

/* ------------------------------------------------ profile ------------------------------------------------ */

function renderProfile() {
  $("acceptor-address").textContent = profile.acceptor;
  $("onchain").textContent = profile.onChain ? profile.onChain.status : "not registered";
  $("online-state").textContent = profile.online ? "Online: taking orders" : "Offline";
  const s = profile.stats ?? {};
  const chargebacks = Object.values(s.chargebacks30d ?? {}).reduce((x, y) => x + y, 0);
  $("stats").textContent =
    `${s.completed ?? 0} of ${s.assigned ?? 0} assigned` +
    (chargebacks ? `; ${chargebacks} charged back in 30 days` : "");
  const button = $("online");
  button.textContent = profile.online ? "Go offline" : "Go online";
  button.setAttribute("aria-pressed", profile.online ? "true" : "false");
}

async function heartbeat(online) {
  const body = online === undefined ? {} : { online };
  const r = await call("POST", "/v1/acceptor/heartbeat", body);
  profile = { ...profile, online: r.online, lastHeartbeat: r.lastHeartbeat };
  renderProfile();
  return r;
}

function startHeartbeat() {
  clearInterval(heartbeatTimer);
  heartbeatTimer = setInterval(() => {
    heartbeat().catch(fail);
  }, HEARTBEAT_MS);
}

/** Reads the desk again (its stats move as orders end). */
async function refreshProfile() {
  try {
    profile = await call("GET", "/v1/acceptor/profile");
    renderProfile();
  } catch (error) {
    if (session.key) fail(error);
  }
}

$("online").addEventListener("click", async () => {
  const want = !profile.online;
  try {
    await heartbeat(want);
    showError($("alert"), "");
    announce($("status"), want ? "You are online: new orders can be assigned to you." : "You are offline.");
    if (want) startHeartbeat();
    else clearInterval(heartbeatTimer);
  } catch (error) {
    fail(error);
  }
});

/* ------------------------------------------------ orders ------------------------------------------------ */

async function pollOrders() {
  clearTimeout(ordersTimer);
  try {
    const page = await call("GET", "/v1/acceptor/orders?limit=50");
    renderOrders(Array.isArray(page) ? page : (page?.data ?? []));
  } catch (error) {
    if (!session.key) return;
    fail(error);
  }
  if (session.key) ordersTimer = setTimeout(pollOrders, document.hidden ? ORDERS_MS * 4 : ORDERS_MS);
}

/** The buttons an order offers its acceptor now. */
function actionsOf(o) {
  if (o.status === "assigned") {
    return [
      { id: "accept", label: "Accept", run: () => accept(o) },
      { id: "decline", label: "Decline", secondary: true, run: () => decline(o) },
    ];
  }
  if (o.side === "buy" && o.status === "paid" && o.dealId) {
    if (o.nameCheck !== "mismatch") {
      return [{ id: "release", label: "Fiat received", run: () => confirmDeal(o, "release") }];
    }
    // The transfer came from another name than the declared payer's: a second, explicit confirmation.
    if (confirming.has(o.id)) {
      return [
        { id: "release-anyway", label: "Release anyway", run: () => confirmDeal(o, "release") },
        { id: "release-cancel", label: "Don't release", secondary: true, run: async () => confirming.delete(o.id) },
      ];
    }
    return [
      {
        id: "release",
        label: "Fiat received",
        run: async () => {
          confirming.add(o.id);
          announce($("status"), "The names differ: check the transfer, then choose Release anyway or Don't release.");
        },
      },
    ];
  }
  if (o.side === "buy" && o.status === "released" && !o.chargeback) {
    return [{ id: "chargeback", label: "Report chargeback", secondary: true, run: () => chargeback(o) }];
  }
  if (o.side === "sell" && o.status === "funded" && o.dealId) {
    return [{ id: "performed", label: "Fiat sent", run: () => confirmDeal(o, "performed") }];
  }
  return [];
}

const STATUS_LABEL = {
  assigned: "Waiting for you",
  accepted: "Accepted, opening",
  funded: "Funded",
  paid: "Paid",
  released: "Released",
  refunded: "Refunded",
  split: "Split",
  resolved: "Resolved",
  disputed: "Disputed",
  expired: "Expired",
  unmatched: "Passed on",
  cancelled: "Cancelled",
};

function orderItem(o) {
  const buy = o.side === "buy";
  const headingId = `h-${o.id}`;
  const rows = [
    ["Side", buy ? "Buy: the user pays you fiat, you release USDT" : "Sell: the user pays USDT, you send fiat"],
    ["Amount", `${formatUnits(o.amount)} USDT`],
    ["Fiat", formatFiat(o.fiatAmount, o.currency)],
    ["Method", o.method],
    ["User", o.user],
  ];
  if (o.status === "assigned" && o.acceptBy) rows.push(["Accept within", formatRemaining(o.acceptBy)]);
  if (o.paymentDetails && !buy) rows.push(["Your details", o.paymentDetails]);
  if (buy && o.status !== "assigned") {
    rows.push(["Declared payer name", o.payerName ?? "not declared"]);
    if (o.transferName) rows.push(["Name on the transfer", o.transferName]);
    if (o.nameCheck) rows.push(["Name check", NAME_CHECK[o.nameCheck] ?? o.nameCheck]);
  }
  if (o.chargeback) rows.push(["Chargeback", o.chargeback.reason ? `Flagged: ${o.chargeback.reason}` : "Flagged"]);
  const actions = actionsOf(o).map((a) =>
    h(
      "button",
      {
        type: "button",
        class: a.secondary ? "secondary" : "primary",
        "data-action": a.id,
        "aria-describedby": headingId,
        disabled: busy.has(o.id),
        onclick: () => act(o, a),
      },
      a.label,
    ),
  );
  return h(
    "li",
    { class: "order", "data-order": o.id, "data-status": o.status },
    h("h3", { id: headingId, tabindex: "-1" }, `${buy ? "Buy" : "Sell"} ${formatUnits(o.amount)} USDT`),
    h("p", { class: `badge badge-${o.status}` }, STATUS_LABEL[o.status] ?? o.status),
    h(
      "dl",
      { class: "summary compact" },
      rows.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v ?? "—"))),
    ),
    o.nameCheck === "mismatch" && o.status === "paid"
      ? h(
          "p",
          { class: "message warning", id: `warn-${o.id}` },
          "Warning: the name on the transfer does not match the declared payer name. The money may come from " +
            "someone else's account (a scam victim's): check with the payer before releasing.",
        )
      : null,
    buy && o.status !== "assigned" && !FINAL.has(o.status) ? nameForm(o) : null,
    actions.length ? h("div", { class: "buttons" }, actions) : null,
  );
}

const NAME_CHECK = {
  match: "Matches the declared payer name",
  mismatch: "Does not match the declared payer name",
  undeclared: "No payer name declared",
};

/** The form for the name on the incoming transfer (saved with POST …/transfer-name). */
function nameForm(o) {
  const inputId = `tn-${o.id}`;
  const input = h("input", {
    id: inputId,
    name: "transferName",
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: "140",
    value: o.transferName ?? "",
  });
  return h(
    "form",
    {
      class: "form inline",
      "data-form": "transfer-name",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const name = input.value.trim();
        if (!name) {
          input.setAttribute("aria-invalid", "true");
          showError($("alert"), "Enter the name shown on the incoming transfer.");
          input.focus();
          return;
        }
        input.removeAttribute("aria-invalid");
        act(o, { run: () => saveTransferName(o, name) });
      },
    },
    h("label", { for: inputId }, "Name on the incoming transfer"),
    input,
    h("button", { type: "submit", class: "secondary", "data-action": "transfer-name" }, "Check name"),
  );
}

function renderOrders(orders) {
  const list = $("order-list");
  const focused = document.activeElement;
  const focusedOrder = focused?.closest?.("[data-order]")?.dataset.order;
  const focusedAction = focused?.dataset?.action;
  const seen = new Set();
  let previous = null;
  for (const o of orders) {
    seen.add(o.id);
    const signature = JSON.stringify([
      o.status,
      o.acceptBy ? formatRemaining(o.acceptBy) : 0,
      busy.has(o.id),
      o.dealId,
      o.paymentDetails,
      o.payerName,
      o.transferName,
      o.nameCheck,
      o.chargeback,
      confirming.has(o.id),
    ]);
    let item = rendered.get(o.id);
    if (!item || item.signature !== signature) {
      const el = orderItem(o);
      if (item) item.el.replaceWith(el);
      item = { el, signature };
      rendered.set(o.id, item);
      if (focusedOrder === o.id) {
        const again = (focusedAction && el.querySelector(`[data-action="${focusedAction}"]`)) || el.querySelector("h3");
        again.focus();
      }
    }
    if (item.el.previousElementSibling !== previous || item.el.parentElement !== list) {
      if (previous) previous.after(item.el);
      else list.prepend(item.el);
    }
    previous = item.el;
  }
  for (const [id, item] of rendered) {
    if (!seen.has(id)) {
      item.el.remove();
      rendered.delete(id);
    }
  }
  $("orders-empty").hidden = orders.length > 0;
}

async function act(o, a) {
  if (busy.has(o.id)) return;
  busy.add(o.id);
  showError($("alert"), "");
  try {
    await a.run();
  } catch (error) {
    fail(error);
  } finally {
    busy.delete(o.id);
    // Re-render the item on the next poll (its buttons were disabled while busy).
    const item = rendered.get(o.id);
    if (item) item.signature = "";
    await Promise.all([pollOrders(), refreshProfile()]);
    const el = $("order-list").querySelector(`[data-order="${o.id}"]`);
    const next = el?.querySelector('[data-action="release-anyway"]') ?? el?.querySelector(".buttons button");
    (next ?? el?.querySelector("button") ?? el?.querySelector("h3") ?? $("orders-heading"))?.focus();
  }
}

async function wallet() {
  account ??= await connect();
  $("wallet").textContent = `Wallet: ${account}`;
  return account;
}

async function accept(o) {
  const path = `/v1/acceptor/orders/${encodeURIComponent(o.id)}`;
  if (o.side === "buy") {
    const from = await wallet();
    announce($("status"), "Sign the lock of your float in your wallet…");
    const { typedData, expiry } = await call("GET", `${path}/lock-typed-data`);
    const signature = await signTypedData(from, typedData);
    await call("POST", `${path}/accept`, { signature, expiry: String(expiry ?? typedData.message.expiry) });
  } else {
    await call("POST", `${path}/accept`, {});
  }
  announce($("status"), `Order accepted: ${o.id}.`);
}

async function decline(o) {
  await call("POST", `/v1/acceptor/orders/${encodeURIComponent(o.id)}/decline`, {});
  announce($("status"), `Order declined: ${o.id}.`);
}

async function saveTransferName(o, name) {
  const r = await call("POST", `/v1/acceptor/orders/${encodeURIComponent(o.id)}/transfer-name`, { name });
  confirming.delete(o.id);
  announce($("status"), `Name on the transfer: ${NAME_CHECK[r.nameCheck] ?? r.nameCheck}.`);
}

async function chargeback(o) {
  await call("POST", `/v1/acceptor/orders/${encodeURIComponent(o.id)}/chargeback`, {});
  announce($("status"), `Chargeback reported: ${o.id}. This user gets no more buy orders from you.`);
}

async function confirmDeal(o, action) {
  const from = await wallet();
  announce($("status"), "Sign the confirmation in your wallet…");
  const base = `/v1/deals/${encodeURIComponent(o.dealId)}`;
  const { typedData, expiry } = await call("GET", `${base}/typed-data?action=${action}&signer=${from}`);
  const signature = await signTypedData(from, typedData);
  await call("POST", `${base}/confirmations`, {
    action,
    signer: from,
    signature,
    expiry: String(expiry ?? typedData.message.expiry),
  });
  confirming.delete(o.id);
  announce($("status"), action === "release" ? "Release confirmed." : "Fiat payment confirmed.");
}

if (session.key)
  start().catch((error) => {
    fail(error);
    if (!profile) logout("Sign in again.");
  });
