// Shared by the checkout and the acceptor console: calls to this relayer's API (same origin) and formatting.

/** USDT and the other supported tokens use 6 decimals. */
export const TOKEN_DECIMALS = 6;

/** An API error: the problem's detail (RFC 9457) when the relayer sent one. */
export class ApiError extends Error {
  constructor(status, detail, problem) {
    super(detail);
    this.status = status;
    this.problem = problem;
  }
}

function idempotencyKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Calls the API. `key` (optional) is sent as a Bearer token; a POST carries a fresh Idempotency-Key.
 * Resolves to the JSON body; rejects with an ApiError carrying the problem's detail.
 */
export async function api(method, path, { body, key, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = idempotencyKey();
  }
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: method === "GET" ? undefined : JSON.stringify(body ?? {}),
      cache: "no-store",
      credentials: "omit",
      signal,
    });
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new ApiError(0, "The relayer cannot be reached. Check your connection; the page keeps trying.");
  }
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const detail = (json && (json.detail || json.title)) || `The relayer answered ${res.status}.`;
    throw new ApiError(res.status, detail, json);
  }
  return json;
}

/** Base units (decimal string) as a token amount: "12500000" → "12.50". */
export function formatUnits(value, decimals = TOKEN_DECIMALS) {
  if (value === undefined || value === null || !/^\d+$/.test(String(value))) return "—";
  const digits = String(value).padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  if (fraction.length < 2) fraction = fraction.padEnd(2, "0");
  return `${whole}.${fraction}`;
}

/** A fiat amount with its currency, e.g. "45.00 EUR". */
export function formatFiat(amount, currency) {
  if (amount === undefined || amount === null || amount === "") return "—";
  const n = Number(amount);
  if (!Number.isFinite(n)) return `${amount} ${currency ?? ""}`.trim();
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(n);
  } catch {
    return `${n.toFixed(2)} ${currency ?? ""}`.trim();
  }
}

/** mm:ss (or h:mm:ss) until `at` (unix ms); "0:00" once passed. */
export function formatRemaining(at, now = Date.now()) {
  const s = Math.max(0, Math.floor((at - now) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** 0x1234…abcd */
export function shortAddress(a) {
  return typeof a === "string" && a.length > 12 ? `${a.slice(0, 6)}…${a.slice(-4)}` : (a ?? "—");
}

/** Creates an element with attributes and children (text or nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Announces `text` in the polite live region (once per change). */
export function announce(region, text) {
  if (region.textContent !== text) region.textContent = text;
}

/** Shows an error in the alert region (or clears it with no message). */
export function showError(region, message) {
  region.textContent = message ?? "";
  region.hidden = !message;
}

/** Copies `text` to the clipboard; resolves to whether it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * A console's sign-in with an API key kept in sessionStorage (the acceptor's and the gateway's): the form
 * #login-form with its input #key, the button #logout, the sections #login and #console, the alert #alert and the
 * live region #status. `start` loads the console (it throws to refuse the key), `reset` clears the page's own state
 * on sign-out, `fail` shows an error. `session.key` is the key in use (undefined when signed out).
 */
export function keySession({ storageKey, start, reset, fail }) {
  const $ = (id) => document.getElementById(id);
  const session = {
    key: sessionStorage.getItem(storageKey) ?? undefined,
    logout(message) {
      sessionStorage.removeItem(storageKey);
      session.key = undefined;
      reset();
      $("console").hidden = true;
      $("logout").hidden = true;
      $("login").hidden = false;
      announce($("status"), message);
      $("key").focus();
    },
  };
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
    session.key = value;
    try {
      await start();
      sessionStorage.setItem(storageKey, value);
      $("key").value = "";
    } catch (error) {
      session.key = undefined;
      fail(error);
      $("key").focus();
    }
  });
  $("logout").addEventListener("click", () => session.logout("Signed out."));
  return session;
}
