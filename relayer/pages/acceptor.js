// The acceptor console: sign in with an acceptor API key (kept in sessionStorage), go online (heartbeats every
// 30 s while the page is open), and work the assigned orders: accept or decline, then confirm the fiat leg with
// a signature from the acceptor's wallet.
import { api, ApiError, announce, formatFiat, formatRemaining, formatUnits, h, showError } from "./common.js";
import { connect, signTypedData, walletMessage } from "./wallet.js";

const KEY = "acceptorKey";
const HEARTBEAT_MS = 30_000;
const ORDERS_MS = 3000;
const $ = (id) => document.getElementById(id);

let key = sessionStorage.getItem(KEY) ?? undefined;
let profile;
let account;
let heartbeatTimer;
let ordersTimer;
const busy = new Set();
const rendered = new Map();

function fail(error) {
  showError($("alert"), error instanceof ApiError ? error.message : walletMessage(error));
}

async function call(method, path, body) {
  try {
    return await api(method, path, { key, body });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      logout("Your key was refused. Sign in again.");
    }
    throw error;
  }
}

/* ------------------------------------------------ sign in ------------------------------------------------ */

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = $("key").value.trim();
  if (!value) {
    showError($("alert"), "Enter your API key.");
    $("key").setAttribute("aria-invalid", "true");
    $("key").focus();
    return;
  }
  $("key").removeAttribute("aria-invalid");
  key = value;
  try {
    await start();
    sessionStorage.setItem(KEY, value);
    $("key").value = "";
  } catch (error) {
    key = undefined;
    fail(error);
    $("key").focus();
  }
});

$("logout").addEventListener("click", () => logout("Signed out."));

function logout(message) {
  sessionStorage.removeItem(KEY);
  key = undefined;
  profile = undefined;
  clearInterval(heartbeatTimer);
  clearTimeout(ordersTimer);
  heartbeatTimer = ordersTimer = undefined;
  rendered.clear();
  $("order-list").replaceChildren();
  $("console").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  announce($("status"), message);
  $("key").focus();
}

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
  $("stats").textContent = `${s.completed ?? 0} of ${s.assigned ?? 0} assigned`;
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
    if (key) fail(error);
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
    if (!key) return;
    fail(error);
  }
  if (key) ordersTimer = setTimeout(pollOrders, document.hidden ? ORDERS_MS * 4 : ORDERS_MS);
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
    return [{ id: "release", label: "Fiat received", run: () => confirmDeal(o, "release") }];
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
    actions.length ? h("div", { class: "buttons" }, actions) : null,
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
    (el?.querySelector("button") ?? el?.querySelector("h3") ?? $("orders-heading"))?.focus();
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
  announce($("status"), action === "release" ? "Release confirmed." : "Fiat payment confirmed.");
}

if (key)
  start().catch((error) => {
    fail(error);
    if (!profile) logout("Sign in again.");
  });
