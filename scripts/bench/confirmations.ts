/**
 * What the write-side benchmark (scripts/bench-confirmations.ts) uses beside its phases: a block watcher, receipts,
 * the escrow calls inside a transaction, CPU figures from /proc and a meter of the JSON-RPC calls made through the
 * global fetch.
 */
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import { Wallet, toBeHex, type HDNodeWallet, type Log } from "ethers";
import { decodeLog, type Sources } from "../../protocol";
import { ESCROW } from "../../relayer/src/write/calls";
import type { DealParams, Protocol } from "../../test/relayer/support/activity";
import { sleep } from "./support";

/** Hardhat's default accounts (public test keys of the node's unlocked accounts). */
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";
const WATCH_POLL_MS = 20;
/** USER_HZ of Linux's /proc/<pid>/stat times. */
const CLOCK_TICKS = 100;

export const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};
export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
export const sum = (xs: bigint[]) => xs.reduce((s, x) => s + x, 0n);
export const sum2 = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

/** A party of the deals: a node account and the wallet holding its key (for signing without the node). */
export type Party = { address: string; wallet: Wallet };
export type Pair = { payer: Party; payee: Party };
/** A deal and the signatures that settle it. */
export type Prepared = {
  dealId: string;
  deal: DealParams;
  pair: number;
  expiry: bigint;
  performed: string;
  release: string;
};

/** The node's account `index`, with its key derived from the default mnemonic (refuses if they differ). */
export function partyOf(root: HDNodeWallet, index: number, address: string): Party {
  const wallet = new Wallet(root.deriveChild(index).privateKey);
  if (wallet.address.toLowerCase() !== address.toLowerCase()) {
    throw new Error(`account ${index} is not Hardhat's default account: the node must use the default mnemonic`);
  }
  return { address: address.toLowerCase(), wallet };
}

export type Provider = Protocol["provider"];
export type MinedTx = { hash: string; from: string; nonce: number; block: number; input: string };

/**
 * The block watcher: polls the node's head every WATCH_POLL_MS; for each new block notes the time it was first seen, the escrow's
 * DealReleased events in it and its transactions.
 */
export async function watchBlocks(provider: Provider, sources: Sources, from: number) {
  const released = new Map<string, { at: number; block: number }>();
  const blocks = new Map<number, { at: number; txs: number }>();
  const txs: MinedTx[] = [];
  let next = from;
  let running = true;
  let failure: string | undefined;
  const loop = (async () => {
    while (running) {
      try {
        const head = Number(await provider.send("eth_blockNumber", []));
        const at = performance.now();
        for (; next <= head; next++) {
          const block = (await provider.send("eth_getBlockByNumber", [toBeHex(next), true])) as {
            transactions: { hash: string; from: string; nonce: string; input: string }[];
          };
          const logs: Log[] = await provider.getLogs({ address: sources.escrow, fromBlock: next, toBlock: next });
          for (const raw of logs) {
            const event = decodeLog(raw, sources);
            if (event?.type === "DealReleased" && !released.has(event.dealId))
              released.set(event.dealId, { at, block: next });
          }
          for (const tx of block.transactions) {
            txs.push({
              hash: tx.hash,
              from: tx.from.toLowerCase(),
              nonce: Number(tx.nonce),
              block: next,
              input: tx.input,
            });
          }
          blocks.set(next, { at, txs: block.transactions.length });
        }
      } catch (error) {
        failure = errorText(error);
      }
      await sleep(WATCH_POLL_MS);
    }
  })();
  return {
    released,
    blocks,
    txs,
    failure: () => failure,
    /** Resolves once every id in `dealIds` was seen released; rejects after `timeoutMs`. */
    async settled(dealIds: string[], timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const missing = dealIds.filter((d) => !released.has(d)).length;
        if (missing === 0) return;
        if (Date.now() > deadline)
          throw new Error(`${missing} of ${dealIds.length} deals not settled in ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** CPU seconds (user + system) a process and its reaped children used so far, from /proc. */
export function cpuSecondsOf(pid: number): number {
  // Fields after the command name (which may hold spaces): utime is the 14th field, stime 15th, cutime, cstime.
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(fields[i]), 0);
  return ticks / CLOCK_TICKS;
}

/** The machine's busy and total CPU ticks (/proc/stat), or the busy share since `since`. */
export function machineCpu(): { busy: number; total: number };
export function machineCpu(since: { busy: number; total: number }): { busy: number; total: number };
export function machineCpu(since?: { busy: number; total: number }) {
  const [, ...ticks] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  const values = ticks.map(Number);
  const total = values.reduce((s, x) => s + x, 0);
  const busy = total - values[3] - (values[4] ?? 0); // minus idle and iowait
  if (!since) return { busy, total };
  return { busy: (busy - since.busy) / Math.max(1, total - since.total), total: total - since.total };
}

/** Receipts' gasUsed and status of `hashes`. */
export async function receiptsOf(provider: Provider, hashes: string[]) {
  const out: { hash: string; gasUsed: bigint; ok: boolean }[] = [];
  for (let i = 0; i < hashes.length; i += 50) {
    const chunk = await Promise.all(
      hashes.slice(i, i + 50).map(async (hash) => {
        const r = (await provider.send("eth_getTransactionReceipt", [hash])) as { gasUsed: string; status: string };
        return { hash, gasUsed: BigInt(r.gasUsed), ok: Number(r.status) === 1 };
      }),
    );
    out.push(...chunk);
  }
  return out;
}

/** The escrow calls inside a transaction's input (a multicall's members, or the call itself), by name. */
export function callsOf(input: string): string[] {
  const parsed = ESCROW.parseTransaction({ data: input });
  if (!parsed) return ["?"];
  if (parsed.name !== "multicall") return [parsed.name];
  return (parsed.args[0] as string[]).map((data) => ESCROW.parseTransaction({ data })?.name ?? "?");
}

/**
 * Wall time of the JSON-RPC calls this process makes through the global `fetch` (the relayer's chain adapter does;
 * the bench's own ethers provider does not), by method, while `on` is set: where the relayer's time goes.
 */
export function meterRpc(url: string) {
  const totals = new Map<string, { calls: number; ms: number[] }>();
  const original = globalThis.fetch;
  const meter = { on: false, totals };
  globalThis.fetch = async (input, init) => {
    const target = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const raw = init?.body instanceof Uint8Array ? Buffer.from(init.body).toString("utf8") : init?.body;
    if (!meter.on || !target.startsWith(url) || typeof raw !== "string") return original(input, init);
    // A call of the escrow is named by its function too (actWithSig: the API's checks, mostly; settleWithSigs:
    // the submitter's simulations of planned calls; multicall: its batches).
    const nameOf = (call: { method?: string; params?: unknown[] }) => {
      if (call.method !== "eth_call" && call.method !== "eth_estimateGas") return `${call.method}`;
      const data = (call.params?.[0] as { data?: string } | undefined)?.data ?? "";
      let fn = "";
      try {
        fn = ` ${ESCROW.getFunction(data.slice(0, 10))?.name ?? ""}`;
      } catch {
        // not an escrow function
      }
      return `${call.method}${fn} (${String(call.params?.at(-1))})`;
    };
    let name = "?";
    try {
      const body = JSON.parse(raw) as { method?: string; params?: unknown[] } | { method?: string }[];
      name = Array.isArray(body) ? `batch [${[...new Set(body.map(nameOf))].join(", ")}]` : nameOf(body);
    } catch {
      // not JSON: counted as "?"
    }
    const t0 = performance.now();
    try {
      return await original(input, init);
    } finally {
      const entry = totals.get(name) ?? { calls: 0, ms: [] };
      entry.calls++;
      entry.ms.push(performance.now() - t0);
      totals.set(name, entry);
    }
  };
  return meter;
}
