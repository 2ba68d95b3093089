/**
 * Gas benchmark of the escrow on Hardhat's in-process network (`npm run bench:gas`).
 *
 * Measures steady-state costs: every account already holds USDT, the escrow already holds a balance and the
 * gateway already has fees owed, so no figure includes a first-time (zero to non-zero) storage write other than
 * the deal's own slot. Prints a table, then one JSON line:
 *   {"lifecycle2": open + co-signed release, "lifecycle3": open + performed + release, "batchPerDeal": ...}
 */
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse } from "ethers";
import {
  Action,
  DAY,
  Kind,
  USDT,
  approveExactly,
  dealIdOf,
  deployProtocol,
  makeDeal,
  signAction,
  type DealOut,
  type Protocol,
} from "../test/contracts/fixtures";

const BATCH_SIZE = 20;
const TARGETS = { lifecycle2: 135_000, lifecycle3: 175_000, batchPerDeal: 30_000 };

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("no receipt");
  return receipt.gasUsed;
}

async function main(): Promise<void> {
  const p: Protocol = await deployProtocol();
  const { escrow, usdt, payer, payee, acceptor, other, gateway } = p;
  const escrowAddress = await escrow.getAddress();
  await approveExactly(usdt, payer, escrowAddress, ethers.MaxUint256);
  await approveExactly(usdt, acceptor, escrowAddress, ethers.MaxUint256);
  await escrow.connect(acceptor).depositFloat(await usdt.getAddress(), USDT(100_000));

  const open = (deal: DealOut) => escrow.connect(payer).open(deal, ethers.id("order"));
  const rows: [string, bigint][] = [];

  // Warm-up: one full deal so the escrow's balance and the gateway's owed fees are non-zero.
  const warm = await makeDeal(p);
  await open(warm);
  await escrow.connect(payee).perform(warm);
  await escrow.connect(payer).release(warm);

  // Baselines: plain USDT transfers between accounts that already hold USDT.
  rows.push(["USDT transfer (baseline)", await gasOf(usdt.connect(payer).transfer(other.address, USDT(1)))]);
  await approveExactly(usdt, payer, other.address, ethers.MaxUint256);
  rows.push([
    "USDT transferFrom (baseline)",
    await gasOf(usdt.connect(other).transferFrom(payer.address, other.address, USDT(1))),
  ]);

  // Open, performed, release.
  const d3 = await makeDeal(p);
  const openGas = await gasOf(open(d3));
  const performGas = await gasOf(escrow.connect(payee).perform(d3));
  const releaseGas = await gasOf(escrow.connect(payer).release(d3));
  rows.push(["open from wallet", openGas], ["performed", performGas], ["release", releaseGas]);

  // Lock from an acceptor's float.
  const onRamp = await makeDeal(p, { payer: acceptor.address, kind: Kind.OnRamp });
  rows.push(["lock from float", await gasOf(escrow.connect(acceptor).lock(onRamp, ethers.id("order")))]);

  // Open + release carrying both signatures in one transaction, submitted by a relayer.
  const d2 = await makeDeal(p);
  const open2Gas = await gasOf(open(d2));
  const id2 = dealIdOf(d2);
  const payeeSig = await signAction(escrow, payee, id2, Action.Perform);
  const payerSig = await signAction(escrow, payer, id2, Action.Release);
  const settleGas = await gasOf(escrow.connect(other).settleWithSigs(d2, payeeSig, payerSig));
  rows.push(["release carrying both signatures", settleGas]);

  // Refund after the deadline.
  const dr = await makeDeal(p, { deadline: BigInt((await time.latest()) + DAY) });
  await open(dr);
  await time.increase(DAY + 1);
  rows.push(["refund", await gasOf(escrow.connect(other).refund(dr))]);

  // Dispute + resolve by the gateway.
  const dd = await makeDeal(p);
  await open(dd);
  await escrow.connect(payee).perform(dd);
  const disputeGas = await gasOf(escrow.connect(payer).dispute(dd));
  const resolveGas = await gasOf(escrow.connect(gateway).resolve(dd, dd.amount / 2n));
  rows.push(["dispute + resolve", disputeGas + resolveGas]);

  // Batch release of performed deals to distinct payees that already hold USDT, in one multicall.
  const payees = [payee, other, ...p.rest].slice(0, 6);
  const batch: DealOut[] = [];
  for (let i = 0; i < BATCH_SIZE; i++) {
    const who = payees[i % payees.length];
    const d = await makeDeal(p, { payee: who.address });
    await open(d);
    await escrow.connect(who).perform(d);
    batch.push(d);
  }
  const calls = batch.map((d) => escrow.interface.encodeFunctionData("release", [d]));
  const batchGas = await gasOf(escrow.connect(payer).multicall(calls));
  const batchPerDeal = batchGas / BigInt(BATCH_SIZE);
  rows.push([`batch release of ${BATCH_SIZE} (per deal)`, batchPerDeal]);

  const lifecycle2 = open2Gas + settleGas;
  const lifecycle3 = openGas + performGas + releaseGas;
  rows.push(
    ["lifecycle2: open + co-signed release", lifecycle2],
    ["lifecycle3: open + performed + release", lifecycle3],
  );

  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`${"operation".padEnd(width)}  gas used`);
  console.log(`${"-".repeat(width)}  ${"-".repeat(9)}`);
  for (const [name, gas] of rows) console.log(`${name.padEnd(width)}  ${gas.toString().padStart(9)}`);
  const verdict = (name: keyof typeof TARGETS, value: bigint) =>
    `${name} ${value} ${value <= BigInt(TARGETS[name]) ? "<=" : ">"} target ${TARGETS[name]}`;
  console.log(
    [verdict("lifecycle2", lifecycle2), verdict("lifecycle3", lifecycle3), verdict("batchPerDeal", batchPerDeal)].join(
      "; ",
    ),
  );
  console.log(
    JSON.stringify({
      lifecycle2: Number(lifecycle2),
      lifecycle3: Number(lifecycle3),
      batchPerDeal: Number(batchPerDeal),
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
