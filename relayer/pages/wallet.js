// The user's wallet through EIP-1193 (window.ethereum): connect, sign typed data, send the token approval.

const RECEIPT_POLL_MS = 1000;
const RECEIPT_TIMEOUT_MS = 180_000;

export class WalletError extends Error {}

function provider() {
  const p = window.ethereum;
  if (!p || typeof p.request !== "function") {
    throw new WalletError("No wallet was found in this browser. Open this page in a browser with an Ethereum wallet.");
  }
  return p;
}

/** A wallet error as a sentence for people (4001: the user said no). */
export function walletMessage(error) {
  if (error instanceof WalletError) return error.message;
  if (error && error.code === 4001) return "The request was declined in your wallet.";
  if (error && error.code === 4100) return "The wallet has not authorised this page. Connect it again.";
  const text = error && typeof error.message === "string" ? error.message : String(error);
  return error && error.code !== undefined ? `The wallet refused: ${text}` : text;
}

/** Asks the wallet for an account (eth_requestAccounts); resolves to it in lower case. */
export async function connect() {
  const accounts = await provider().request({ method: "eth_requestAccounts" });
  if (!Array.isArray(accounts) || accounts.length === 0) throw new WalletError("The wallet shared no account.");
  return String(accounts[0]).toLowerCase();
}

/** Signs EIP-712 typed data with `account` (eth_signTypedData_v4). */
export async function signTypedData(account, typedData) {
  return provider().request({ method: "eth_signTypedData_v4", params: [account, JSON.stringify(typedData)] });
}

/** Signs `text` with `account` as a personal message (EIP-191 personal_sign; the text sent as its UTF-8 hex). */
export async function personalSign(account, text) {
  const hex = Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
  return provider().request({ method: "personal_sign", params: [`0x${hex}`, account] });
}

/** Waits until the transaction `hash` is mined; rejects if it reverted or took too long. */
export async function waitForReceipt(hash, { timeoutMs = RECEIPT_TIMEOUT_MS, pollMs = RECEIPT_POLL_MS } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const receipt = await provider().request({ method: "eth_getTransactionReceipt", params: [hash] });
    if (receipt) {
      if (receipt.status === "0x0" || receipt.status === 0) throw new WalletError(`The transaction ${hash} failed.`);
      return receipt;
    }
    if (Date.now() > deadline)
      throw new WalletError(`The transaction ${hash} was not mined in time; check your wallet.`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const word = (hex) => hex.replace(/^0x/, "").toLowerCase().padStart(64, "0");

/** approve(spender, amount) calldata of an ERC-20 token. */
export function approveData(spender, amount) {
  return `0x095ea7b3${word(spender)}${word(BigInt(amount).toString(16))}`;
}

/** The ERC-20 allowance `owner` gave `spender` on `token` (eth_call), as a bigint. */
export async function allowance(token, owner, spender) {
  const data = `0xdd62ed3e${word(owner)}${word(spender)}`;
  const result = await provider().request({ method: "eth_call", params: [{ to: token, data }, "latest"] });
  return BigInt(result && result !== "0x" ? result : 0);
}

/** Sends the token approval `{token, spender, amount}` from `account` and waits for it to be mined. */
export async function approve(account, { token, spender, amount }) {
  const hash = await provider().request({
    method: "eth_sendTransaction",
    params: [{ from: account, to: token, data: approveData(spender, amount) }],
  });
  await waitForReceipt(hash);
  return hash;
}
