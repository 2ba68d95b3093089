/** Mining control and transaction census on a Hardhat node, for the submitter's tests. */
import { toQuantity, type JsonRpcProvider } from "ethers";

export async function setAutomine(provider: JsonRpcProvider, on: boolean): Promise<void> {
  await provider.send("evm_setAutomine", [on]);
}

export async function mine(provider: JsonRpcProvider, blocks = 1): Promise<void> {
  await provider.send("hardhat_mine", [toQuantity(blocks)]);
}

export async function fund(provider: JsonRpcProvider, address: string, wei = 10n ** 20n): Promise<void> {
  await provider.send("hardhat_setBalance", [address, toQuantity(wei)]);
}

export type MinedTx = { hash: string; nonce: number; to: string; input: string; blockNumber: number };

/** Every mined transaction sent by `from` in blocks `fromBlock`..latest, in order. */
export async function minedFrom(provider: JsonRpcProvider, from: string, fromBlock: number): Promise<MinedTx[]> {
  const head = await provider.getBlockNumber();
  const out: MinedTx[] = [];
  for (let n = fromBlock; n <= head; n++) {
    const block = (await provider.send("eth_getBlockByNumber", [toQuantity(n), true])) as {
      transactions: { hash: string; from: string; nonce: string; to: string; input: string }[];
    };
    for (const tx of block.transactions) {
      if (tx.from.toLowerCase() === from.toLowerCase()) {
        out.push({ hash: tx.hash, nonce: Number(tx.nonce), to: tx.to, input: tx.input, blockNumber: n });
      }
    }
  }
  return out;
}

/** Nonces of `txs` are 0..n-1 with none missing or repeated, and the chain's count for `from` is n. */
export async function noNonceGaps(provider: JsonRpcProvider, from: string, txs: MinedTx[]): Promise<boolean> {
  const nonces = txs.map((t) => t.nonce).sort((a, b) => a - b);
  const count = await provider.getTransactionCount(from, "latest");
  return nonces.length === count && nonces.every((n, i) => n === i);
}
