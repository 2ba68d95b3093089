/**
 * Settlement reports end to end: deals settled on a real Hardhat node through the relayer's write API (released,
 * split 70/30, refunded by the payee's cancel), orders written for them in the order store's pinned layout
 * (W+"ord:"+id field j, W+"ix:plat:"+owner, W+"ix:accq:"+acceptor), and GET /v1/reports/settlements read with
 * platform, acceptor and admin keys. The totals are compared with sums the test computes from the chain itself:
 * the token balance changes of payer and payee and the gateway's owed balance across each settling transaction.
 * The pure parts (CSV quoting, time parsing, row selection) are checked too.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { startWriteRelayer, type WriteRelayer } from "../support/write";
import { USDT } from "../support/activity";
import type { Order } from "../../../relayer/src/orders/model";
import {
  REPORT_COLUMNS,
  csvField,
  parseReportTime,
  settlementCsv,
  settlementReport,
  type DealRecord,
  type SettlementRow,
} from "../../../relayer/src/orders/reports";

/** An RFC 4180 parser (quoted fields, doubled quotes, CRLF), for reading the CSV back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
    i++;
  }
  expect(field, "text after the last CRLF").to.equal("");
  return rows;
}

const hex = (n: number) => randomBytes(n).toString("hex");
const newAddress = () => `0x${hex(20)}`;

describe("settlement reports", function () {
  describe("pure parts", function () {
    it("when a field holds a comma, a quote or a line break → it is quoted with quotes doubled; a formula-like text gets an apostrophe", function () {
      expect(csvField("plain")).to.equal("plain");
      expect(csvField("a,b")).to.equal('"a,b"');
      expect(csvField('say "hi"')).to.equal('"say ""hi"""');
      expect(csvField("two\r\nlines")).to.equal('"two\r\nlines"');
      expect(csvField("=SUM(A1:A9)")).to.equal("'=SUM(A1:A9)");
      expect(csvField("@cmd,x")).to.equal('"\'@cmd,x"');
      expect(csvField("")).to.equal("");
    });

    it("when a time is unix seconds, an ISO date or an ISO date-time → its unix seconds; anything else → undefined", function () {
      expect(parseReportTime("1764547200")).to.equal(1764547200);
      expect(parseReportTime("2025-12-01")).to.equal(1764547200);
      expect(parseReportTime("2025-12-01T01:00:00Z")).to.equal(1764547200 + 3600);
      expect(parseReportTime("2025-12-01T02:00:00+01:00")).to.equal(1764547200 + 3600);
      expect(parseReportTime("2025-12-01T01:00")).to.equal(1764547200 + 3600);
      for (const bad of ["", "yesterday", "2025-02-30", "2025-13-01", "-5", "1.5", "2025-12-01T25:00:00Z"]) {
        expect(parseReportTime(bad), bad).to.equal(undefined);
      }
    });

    it("when deals are open, settled before, within or after the range → only those settled within make rows; totals add up per token", function () {
      const order = (id: string, dealId: string | undefined, token = "0xt1"): Order =>
        ({
          id,
          side: "buy",
          status: "released",
          amount: "100",
          token,
          currency: "EUR",
          method: "SEPA:EUR",
          methodHash: "0x",
          user: "0xu",
          reference: `ref-${id}`,
          ref: "0x",
          platform: "0xp",
          platformKeyId: "k",
          acceptor: "0xa",
          dealId,
          tried: [],
          expiresAt: 0,
          createdAt: 0,
          updatedAt: 0,
          history: [],
        }) as Order;
      const settled = (status: string, at: number, [payee, fee, refund]: number[]) => ({
        deal: { status, amount: "100", payeeAmount: String(payee), fee: String(fee), refund: String(refund) },
        history: [
          { event: "DealOpened", blockNumber: 1, txHash: "0xo", logIndex: 0, timestamp: at - 10, args: {} },
          { event: "DealReleased", blockNumber: 2, txHash: `0xs${at}`, logIndex: 0, timestamp: at, args: {} },
        ],
      });
      const deals = new Map<string, DealRecord>([
        ["d1", settled("released", 100, [99, 1, 0])],
        ["d2", settled("split", 150, [69, 1, 30])],
        ["d3", settled("refunded", 99, [0, 0, 100])],
        ["d4", settled("refunded", 200, [0, 0, 100])],
        ["d5", { deal: { status: "open", amount: "100" }, history: [] }],
        ["d6", settled("resolved", 120, [50, 0, 50])],
      ]);
      const orders = [
        order("b", "d2"),
        { ...order("a", "d1"), chargeback: { at: 1, reason: "reversed, case 7" } },
        order("c", "d3"),
        order("d", "d4"),
        order("e", "d5"),
        order("f", undefined),
        order("g", "d6", "0xt2"),
      ];
      const report = settlementReport(orders, deals, 100, 200);
      expect(report.rows.map((r) => [r.orderId, r.status, r.settleTx])).to.deep.equal([
        ["a", "released", "0xs100"],
        ["g", "resolved", "0xs120"],
        ["b", "split", "0xs150"],
      ]);
      expect(report.totals).to.deep.equal({
        "0xt1": { amount: "200", payeeAmount: "168", fee: "2", refund: "30", count: 2, chargebacks: 1 },
        "0xt2": { amount: "100", payeeAmount: "50", fee: "0", refund: "50", count: 1, chargebacks: 0 },
      });
      // A flagged order's row says so, with its reason; the others say false.
      expect(report.rows.map((r) => [r.chargeback, r.chargebackReason])).to.deep.equal([
        ["true", "reversed, case 7"],
        ["false", ""],
        ["false", ""],
      ]);
      expect(report.rows[0].openedAt).to.equal(new Date(90_000).toISOString());
      expect(settlementCsv([]).split("\r\n")[0]).to.equal(REPORT_COLUMNS.join(","));
    });
  });

  describe("GET /v1/reports/settlements (end to end)", function () {
    this.timeout(300_000);
    let w: WriteRelayer;
    let W: string;

    before(async function () {
      w = await startWriteRelayer("reports");
      W = `${w.relayer.store.keyPrefix}w:o:`;
    });
    after(async function () {
      await w?.stop();
    });

    const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

    /** Writes an order the way the order store lays it out. */
    async function writeOrder(o: Order, alsoIndexedFor?: string) {
      await w.relayer.redis
        .multi()
        .hset(`${W}ord:${o.id}`, { j: JSON.stringify(o), v: "1" })
        .zadd(`${W}ix:plat:${o.platform}`, o.createdAt, o.id)
        .zadd(`${W}ix:accq:${alsoIndexedFor ?? o.acceptor!}`, o.createdAt, o.id)
        .exec();
    }

    const makeOrder = (over: Partial<Order>): Order => ({
      id: `ord_${hex(12)}`,
      side: "buy",
      status: "released",
      amount: "0",
      token: "",
      currency: "EUR",
      method: "SEPA:EUR",
      methodHash: "0x" + "00".repeat(32),
      user: newAddress(),
      reference: `shop-${hex(3)}`,
      ref: "0x" + "00".repeat(32),
      platform: newAddress(),
      platformKeyId: "key_x",
      acceptor: newAddress(),
      rate: "0.92",
      fiatAmount: "9.20",
      tried: [],
      expiresAt: Date.now() + 900_000,
      createdAt: Date.now() - 60_000,
      updatedAt: Date.now(),
      history: [],
      ...over,
    });

    /** What the chain says a settling transaction moved: payee and payer balance changes, the gateway's owed. */
    async function movedBy(txHash: string, payer: string, payee: string, gateway: string) {
      const receipt = (await w.p.provider.getTransactionReceipt(txHash))!;
      const at = receipt.blockNumber;
      const token = await w.p.usdt.getAddress();
      const delta = async (f: (blockTag: number) => Promise<bigint>) => (await f(at)) - (await f(at - 1));
      const block = (await w.p.provider.getBlock(at))!;
      return {
        payeeAmount: await delta((b) => w.p.usdt.balanceOf(payee, { blockTag: b })),
        refund: await delta((b) => w.p.usdt.balanceOf(payer, { blockTag: b })),
        fee: await delta((b) => w.p.escrow.owed(token, gateway, { blockTag: b })),
        timestamp: block.timestamp,
      };
    }

    it("when deals were released, split and refunded on chain → each order's row and the totals equal what the chain moved; keys see only their orders; the CSV parses back to the rows", async function () {
      const platform = newAddress();
      const acceptor = newAddress();
      const token = (await w.p.usdt.getAddress()).toLowerCase();

      // 1. released: performed, then released by the payer.
      const r = await w.openDeal({ amount: USDT(10) });
      const perf = await w.confirm(r.dealId, "performed", r.payee, await w.key("party", r.payee));
      await w.final(perf.body.submission.id);
      const rel = await w.confirm(r.dealId, "release", r.payer, await w.key("party", r.payer));
      const relTx = (await w.final(rel.body.submission.id)).transactionHash!;
      await w.indexed(r.dealId, "released");

      // 2. split 70/30 (fiat underpaid): both sign the same Split.
      const s = await w.openDeal({ amount: USDT(20) });
      const splitBody = async (signer: typeof s.payer) => {
        const t = await w.http.get(`/v1/deals/${s.dealId}/typed-data?action=split&payeeAmount=${USDT(14)}`);
        return {
          payeeAmount: USDT(14).toString(),
          signer: await w.address(signer),
          signature: await w.signTyped(signer, t.body.typedData),
          expiry: t.body.typedData.message.expiry as string,
        };
      };
      const first = await w.http
        .post(`/v1/deals/${s.dealId}/splits`)
        .set(bearer(await w.key("party", s.payee)))
        .send(await splitBody(s.payee));
      expect(first.status, JSON.stringify(first.body)).to.equal(202);
      const second = await w.http
        .post(`/v1/deals/${s.dealId}/splits`)
        .set(bearer(await w.key("party", s.payer)))
        .send(await splitBody(s.payer));
      expect(second.status, JSON.stringify(second.body)).to.equal(202);
      const splitTx = (await w.final(second.body.submission.id)).transactionHash!;
      await w.indexed(s.dealId, "split");

      // 3. refunded: the payee cancels.
      const c = await w.openDeal({ amount: USDT(7) });
      const cancel = await w.confirm(c.dealId, "cancel", c.payee, await w.key("party", c.payee));
      const cancelTx = (await w.final(cancel.body.submission.id)).transactionHash!;
      await w.indexed(c.dealId, "refunded");

      // 4. still open: no row.
      const o = await w.openDeal({ amount: USDT(3) });

      const settledDeals = [
        { d: r, tx: relTx, reference: 'inv-1, "march"' },
        { d: s, tx: splitTx, reference: '=HYPERLINK("x")' },
        { d: c, tx: cancelTx, reference: "line\nbreak" },
      ];
      const orders: Order[] = [];
      for (const [i, { d, reference }] of settledDeals.entries()) {
        const order = makeOrder({
          platform,
          acceptor,
          token,
          amount: d.deal.amount.toString(),
          dealId: d.dealId,
          reference,
          createdAt: Date.now() - 60_000 + i,
        });
        orders.push(order);
        await writeOrder(order);
      }
      const openOrder = makeOrder({ platform, acceptor, token, amount: USDT(3).toString(), dealId: o.dealId });
      await writeOrder(openOrder);
      // Another platform's order on the released deal, which this acceptor declined: neither key sees it.
      const foreign = makeOrder({ token, amount: USDT(10).toString(), dealId: r.dealId });
      await writeOrder(foreign, acceptor);

      // What the chain moved, per settling transaction.
      const expected = { amount: 0n, payeeAmount: 0n, fee: 0n, refund: 0n };
      const chainRows = new Map<string, { payeeAmount: bigint; fee: bigint; refund: bigint; timestamp: number }>();
      let minT = Infinity;
      let maxT = 0;
      for (const { d, tx } of settledDeals) {
        const moved = await movedBy(tx, await w.address(d.payer), await w.address(d.payee), d.deal.gateway);
        expect(moved.payeeAmount + moved.fee + moved.refund).to.equal(d.deal.amount);
        chainRows.set(d.dealId, moved);
        expected.amount += d.deal.amount;
        expected.payeeAmount += moved.payeeAmount;
        expected.fee += moved.fee;
        expected.refund += moved.refund;
        minT = Math.min(minT, moved.timestamp);
        maxT = Math.max(maxT, moved.timestamp);
      }
      const range = `from=${minT}&to=${maxT + 1}`;

      const get = (key: string | undefined, query: string) => {
        const req = w.http.get(`/v1/reports/settlements?${query}`);
        return key ? req.set(bearer(key)) : req;
      };
      const platformKey = await w.key("platform", platform);
      const res = await get(platformKey, range);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const rows = res.body.rows as SettlementRow[];
      expect(rows.map((x) => x.orderId)).to.deep.equal(orders.map((x) => x.id));
      expect(rows.map((x) => x.status)).to.deep.equal(["released", "split", "refunded"]);
      expect(res.body.totals).to.deep.equal({
        [token]: {
          amount: expected.amount.toString(),
          payeeAmount: expected.payeeAmount.toString(),
          fee: expected.fee.toString(),
          refund: expected.refund.toString(),
          count: 3,
          chargebacks: 0,
        },
      });
      // Every row against the chain: amounts, the settling transaction, the opening one, the block times.
      for (const [i, { d, tx }] of settledDeals.entries()) {
        const row = rows[i];
        const moved = chainRows.get(d.dealId)!;
        expect([row.payeeAmount, row.fee, row.refund]).to.deep.equal(
          [moved.payeeAmount, moved.fee, moved.refund].map(String),
        );
        expect(row.settleTx).to.equal(tx);
        expect(row.settledAt).to.equal(new Date(moved.timestamp * 1000).toISOString());
        const [opened] = await w.p.escrow.queryFilter(w.p.escrow.filters.DealOpened(d.dealId));
        expect(row.openTx).to.equal(opened.transactionHash);
        const openBlock = (await w.p.provider.getBlock(opened.blockNumber))!;
        expect(row.openedAt).to.equal(new Date(openBlock.timestamp * 1000).toISOString());
        expect(row).to.deep.include({
          dealId: d.dealId,
          token,
          amount: d.deal.amount.toString(),
          acceptor,
          user: orders[i].user,
          reference: orders[i].reference,
          side: "buy",
          fiatAmount: "9.20",
          currency: "EUR",
        });
      }
      // The split: 70% to the payee side (less the fee), 30% back to the payer.
      expect(BigInt(rows[1].payeeAmount) + BigInt(rows[1].fee)).to.equal(USDT(14));
      expect(rows[1].refund).to.equal(USDT(6).toString());

      // The acceptor sees the orders it served (not the one it declined); admin sees the foreign one too.
      const byAcceptor = await get(await w.key("acceptor", acceptor), range);
      expect(byAcceptor.status).to.equal(200);
      expect((byAcceptor.body.rows as SettlementRow[]).map((x) => x.orderId)).to.deep.equal(orders.map((x) => x.id));
      const byAdmin = await get(await w.key("admin", newAddress()), range);
      expect((byAdmin.body.rows as SettlementRow[]).map((x) => x.orderId)).to.include.members([
        ...orders.map((x) => x.id),
        foreign.id,
      ]);
      expect((byAdmin.body.rows as SettlementRow[]).map((x) => x.orderId)).to.not.include(openOrder.id);
      const stranger = await get(await w.key("platform", newAddress()), range);
      expect(stranger.body).to.deep.include({ rows: [], totals: {} });

      // A range before the settlements: nothing. ISO dates are taken too.
      expect((await get(platformKey, `from=${minT - 100}&to=${minT}`)).body.rows).to.deep.equal([]);
      const day = new Date(minT * 1000).toISOString().slice(0, 10);
      const next = new Date((maxT + 86_400) * 1000).toISOString().slice(0, 10);
      expect((await get(platformKey, `from=${day}&to=${next}`)).body.rows).to.have.length(3);

      // CSV: an attachment whose header row is the columns and whose lines parse back to the JSON rows.
      const csv = await get(platformKey, `${range}&format=csv`)
        .buffer(true)
        .parse((r, cb) => {
          let text = "";
          r.setEncoding("utf8");
          r.on("data", (chunk: string) => (text += chunk));
          r.on("end", () => cb(null, text));
        });
      expect(csv.status).to.equal(200);
      expect(csv.headers["content-type"]).to.match(/^text\/csv/);
      expect(csv.headers["content-disposition"]).to.match(/^attachment; filename="settlements-.*\.csv"$/);
      const [header, ...lines] = parseCsv(csv.body as string);
      expect(header).to.deep.equal([...REPORT_COLUMNS]);
      const parsed = lines.map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])));
      const asExported = rows.map((x) => ({
        ...x,
        reference: x.reference.startsWith("=") ? `'${x.reference}` : x.reference,
      }));
      expect(parsed).to.deep.equal(asExported);
    });

    it("when the key, the range or the format is wrong → 401, 403 or 400 naming the parameter", async function () {
      const platformKey = await w.key("platform", newAddress());
      const problem = async (key: string | undefined, query: string, status: number, parameter?: string) => {
        const req = w.http.get(`/v1/reports/settlements${query}`);
        const res = await (key ? req.set(bearer(key)) : req);
        expect(res.status, JSON.stringify(res.body)).to.equal(status);
        expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
        if (parameter) expect(res.body.errors[0].parameter).to.equal(parameter);
      };
      await problem(undefined, "", 401);
      await problem(await w.key("party", newAddress()), "", 403);
      await problem(await w.key("read", newAddress()), "", 403);
      await problem(platformKey, "?from=2026-01-01&to=2025-12-01", 400, "from");
      await problem(platformKey, "?from=2025-01-01&to=2025-06-01", 400, "from");
      await problem(platformKey, "?from=soon", 400, "from");
      await problem(platformKey, "?to=2025-02-30", 400, "to");
      await problem(platformKey, "?format=xml", 400, "format");
      await problem(platformKey, "?limit=5", 400, "limit");
      // Without a range: the last 31 days, empty for a new platform.
      const res = await w.http.get("/v1/reports/settlements").set(bearer(platformKey));
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.include({ rows: [], totals: {} });
    });
  });
});
