/**
 * Evidence end to end on a real Hardhat node with the whole relayer in-process and real Redis: a deal is opened
 * (by a platform key), performed and disputed; payer and payee upload a PNG and a PDF with their signatures; the
 * relayer anchors each on-chain (EvidencePosted from the relayer, the poster the signer), lists them with role and
 * anchoring, and serves the files to exactly the keys the access rule names. Branch spec: evidence.tree.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { id, type JsonRpcSigner } from "ethers";
import { evidenceUri } from "../../../protocol";
import { dealJson, startWriteRelayer, type WriteRelayer } from "../support/write";
import { makeDeal, type DealParams } from "../support/activity";

const MAX = 4096;
const sha = (b: Buffer) => `0x${createHash("sha256").update(b).digest("hex")}`;
const png = (text: string) => Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.from(text)]);
const pdf = (text: string) => Buffer.from(`%PDF-1.4\n${text}\n%%EOF\n`);
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

describe("relayer evidence (end to end)", function () {
  this.timeout(120_000);
  let w: WriteRelayer;
  let dir: string;
  let dealId: string;
  let deal: DealParams;
  let payer: JsonRpcSigner;
  let payee: JsonRpcSigner;
  let arbiter: JsonRpcSigner;
  const keys: Record<string, string> = {};
  const PAYER_PNG = png("the payer's bank statement");
  const PAYEE_PDF = pdf("the payee's account history");

  /** The typed data of `bytes` signed by `by`; headers for the upload as `as`. */
  async function signedHeaders(on: string, bytes: Buffer, by: JsonRpcSigner, key: string, as?: string) {
    const td = await w.http
      .get(`/v1/deals/${on}/evidence/typed-data?contentHash=${sha(bytes)}`)
      .set(bearer(key))
      .expect(200);
    return {
      "Evidence-Signer": as ?? (await by.getAddress()),
      "Evidence-Signature": await w.signTyped(by, td.body.typedData),
      "Evidence-Expiry": String(td.body.expiry),
    };
  }

  async function upload(
    on: string,
    bytes: Buffer,
    type: string,
    by: JsonRpcSigner,
    key: string,
    extra: Record<string, string> = {},
  ) {
    const headers = await signedHeaders(on, bytes, by, key);
    return w.http
      .post(`/v1/deals/${on}/evidence`)
      .set(bearer(key))
      .set({ ...headers, ...extra, "Content-Type": type })
      .send(bytes);
  }

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "evidence-e2e-"));
    w = await startWriteRelayer("evidence", { EVIDENCE_DIR: dir, EVIDENCE_MAX_BYTES: String(MAX) });
    [payer] = w.p.payers;
    payee = w.p.payees[0];
    arbiter = w.p.accounts[17];
    await (await w.p.registry.grantRole(await w.p.registry.ARBITER_ROLE(), await arbiter.getAddress())).wait();
    // Opened by a platform key, which registers the deal's ref.
    keys.platform = await w.key("platform", w.signer);
    deal = await makeDeal(w.p, { payer: await w.address(payer), payee: await w.address(payee) });
    const body = { type: "open", deal: dealJson(deal), ref: id(`evidence-${Math.random()}`) };
    const typed = await w.http.post("/v1/typed-data").send(body).expect(200);
    const opened = await w.http
      .post("/v1/deals")
      .set(bearer(keys.platform))
      .send({
        ...body,
        expiry: typed.body.typedData.message.expiry,
        signature: await w.signTyped(payer, typed.body.typedData),
      });
    expect(opened.status, JSON.stringify(opened.body)).to.equal(202);
    dealId = opened.body.dealId;
    await w.final(opened.body.submission.id);
    await w.indexed(dealId, "open");
    keys.payer = await w.key("party", payer);
    keys.payee = await w.key("party", payee);
    keys.gateway = await w.key("gateway", w.p.gateway);
    keys.admin = await w.key("admin", w.signer);
    keys.arbiter = await w.key("read", arbiter);
    keys.stranger = await w.key("party", w.p.payers[1]);
    keys.otherPlatform = await w.key("platform", w.signer);
    for (const [action, by, key] of [
      ["performed", payee, keys.payee],
      ["dispute", payer, keys.payer],
    ] as const) {
      const res = await w.confirm(dealId, action, by, key);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      await w.final(res.body.submission.id);
    }
    await w.indexed(dealId, "disputed");
  });

  after(async function () {
    await w?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("typed data: the Evidence payload of the file's hash with the pinned uri", async function () {
    const hash = sha(PAYER_PNG);
    const res = await w.http
      .get(`/v1/deals/${dealId}/evidence/typed-data?contentHash=${hash}&signer=${await payer.getAddress()}`)
      .set(bearer(keys.payer))
      .expect(200);
    expect(res.body.uri).to.equal(evidenceUri(dealId, hash));
    expect(res.body.typedData.primaryType).to.equal("Evidence");
    expect(res.body.typedData.message).to.include({
      dealId,
      contentHash: hash,
      uri: res.body.uri,
      expiry: res.body.expiry,
    });
  });

  it("when payer and payee upload with their signatures → 202, stored, anchored on-chain by the relayer with poster = signer, listed with role and tx", async function () {
    const posted = [];
    for (const [bytes, type, by, key, role] of [
      [PAYER_PNG, "image/png", payer, keys.payer, "payer"],
      [PAYEE_PDF, "application/pdf", payee, keys.payee, "payee"],
    ] as const) {
      const res = await upload(dealId, bytes, type, by, key, {
        "Evidence-Name": encodeURIComponent(`proof ${role}.x`),
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.body).to.include({
        dealId,
        contentHash: sha(bytes),
        uri: evidenceUri(dealId, sha(bytes)),
        contentType: type,
        size: bytes.length,
        poster: await w.address(by),
        role,
        name: `proof ${role}.x`,
      });
      expect(res.headers.location).to.equal(`/v1/submissions/${res.body.submission}`);
      posted.push(res.body);
    }
    expect((await readdir(dir)).sort()).to.include.members([sha(PAYER_PNG), sha(PAYEE_PDF)]);
    for (const body of posted) {
      const submission = await w.final(body.submission);
      expect(submission.status).to.equal("final");
      expect(submission.kind).to.equal("evidence");
      const receipt = await w.p.provider.getTransactionReceipt(submission.transactionHash!);
      const tx = await w.p.provider.getTransaction(submission.transactionHash!);
      expect(tx!.from.toLowerCase()).to.equal(w.signer);
      const logs = receipt!.logs.flatMap((l) => {
        const parsed = w.p.escrow.interface.parseLog(l);
        return parsed?.name === "EvidencePosted" ? [parsed] : [];
      });
      // The submitter may batch both uploads into one transaction: this one's log is among its logs, once.
      const mine = logs.filter((l) => l.args.contentHash === body.contentHash);
      expect(mine.map((l) => [l.args.dealId, l.args.by.toLowerCase(), l.args.uri])).to.deep.equal([
        [dealId, body.poster, body.uri],
      ]);
    }
    // Once indexed, the list shows both with their anchoring.
    const deadline = Date.now() + 30_000;
    let items: Record<string, unknown>[] = [];
    for (;;) {
      const res = await w.http.get(`/v1/deals/${dealId}/evidence`).set(bearer(keys.gateway)).expect(200);
      items = res.body.items;
      if (items.filter((i) => i.anchored !== null).length === 2 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(items.map((i) => [i.contentHash, i.role, i.stored, i.contentType, i.submission])).to.deep.equal(
      posted.map((b) => [b.contentHash, b.role, true, b.contentType, b.submission]),
    );
    for (const item of items) expect(item.anchored).to.have.keys("txHash", "block");
  });

  it("evidence posted on-chain elsewhere (the gateway's own call) is listed with stored=false and no file", async function () {
    const hash = id("the gateway's note");
    await (await w.p.escrow.connect(w.p.gateway).postEvidence(deal, hash, "ipfs://elsewhere")).wait();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await w.http.get(`/v1/deals/${dealId}/evidence`).set(bearer(keys.payee)).expect(200);
      const item = res.body.items.find((i: { contentHash: string }) => i.contentHash === hash);
      if (item) {
        expect(item).to.include({ stored: false, role: "gateway", uri: "ipfs://elsewhere", contentType: null });
        expect(item.poster).to.equal(await w.address(w.p.gateway));
        break;
      }
      if (Date.now() > deadline) throw new Error("the on-chain evidence was not listed");
      await new Promise((r) => setTimeout(r, 50));
    }
    await w.http.get(`/v1/deals/${dealId}/evidence/${hash}`).set(bearer(keys.payee)).expect(404);
  });

  it("when the key is the payer's, payee's, gateway's, admin's, the ref's platform's or an arbiter's → the file, with nosniff, attachment and CSP sandbox", async function () {
    for (const who of ["payer", "payee", "gateway", "admin", "platform", "arbiter"]) {
      const res = await w.http
        .get(`/v1/deals/${dealId}/evidence/${sha(PAYER_PNG)}`)
        .set(bearer(keys[who]))
        .buffer(true)
        .parse((r, done) => {
          const chunks: Buffer[] = [];
          r.on("data", (c: Buffer) => chunks.push(c));
          r.on("end", () => done(null, Buffer.concat(chunks)));
        });
      expect(res.status, who).to.equal(200);
      expect((res.body as Buffer).equals(PAYER_PNG), who).to.equal(true);
      expect(res.headers["content-type"]).to.equal("image/png");
      expect(res.headers["x-content-type-options"]).to.equal("nosniff");
      expect(res.headers["content-security-policy"]).to.equal("sandbox");
      expect(res.headers["content-disposition"]).to.match(/^attachment; filename="proof payer.x"/);
      const list = await w.http.get(`/v1/deals/${dealId}/evidence`).set(bearer(keys[who]));
      expect(list.status, who).to.equal(200);
    }
  });

  it("when the key is a third party's (or another platform's) → 403 for list, file, typed data and upload", async function () {
    for (const key of [keys.stranger, keys.otherPlatform]) {
      await w.http.get(`/v1/deals/${dealId}/evidence`).set(bearer(key)).expect(403);
      await w.http
        .get(`/v1/deals/${dealId}/evidence/${sha(PAYER_PNG)}`)
        .set(bearer(key))
        .expect(403);
      await w.http
        .get(`/v1/deals/${dealId}/evidence/typed-data?contentHash=${sha(PAYER_PNG)}`)
        .set(bearer(key))
        .expect(403);
      const headers = await signedHeaders(dealId, PAYER_PNG, payer, keys.payer);
      const res = await w.http
        .post(`/v1/deals/${dealId}/evidence`)
        .set(bearer(key))
        .set({ ...headers, "Content-Type": "image/png" })
        .send(png("a stranger's file"));
      expect(res.status).to.equal(403);
      expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
    }
    await w.http.get(`/v1/deals/${dealId}/evidence`).expect(401);
  });

  it("when the key is the payer's but the signature is someone else's → 422 invalid-signature; a signer with no role → 422 wrong-signer", async function () {
    const bytes = png("forged");
    const forged = await signedHeaders(dealId, bytes, payee, keys.payer, await payer.getAddress());
    const sent = await w.sent();
    const res = await w.http
      .post(`/v1/deals/${dealId}/evidence`)
      .set(bearer(keys.payer))
      .set({ ...forged, "Content-Type": "image/png" })
      .send(bytes);
    expect(res.status, JSON.stringify(res.body)).to.equal(422);
    expect(res.body.type).to.match(/invalid-signature$/);
    const stranger = await upload(dealId, bytes, "image/png", w.p.payers[1], keys.payer);
    expect(stranger.status).to.equal(422);
    expect(stranger.body.type).to.match(/wrong-signer$/);
    expect(await w.sent()).to.equal(sent);
    expect(await readdir(dir)).to.not.include(sha(bytes));
  });

  it("when the file is over EVIDENCE_MAX_BYTES → 413 evidence-too-large", async function () {
    const res = await upload(dealId, png("x".repeat(MAX)), "image/png", payer, keys.payer);
    expect(res.status).to.equal(413);
    expect(res.body.type).to.match(/evidence-too-large$/);
    // Without a Content-Length (chunked): refused as soon as the bytes pass the cap.
    const headers = await signedHeaders(dealId, png("chunked"), payer, keys.payer);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: w.relayer.port,
          method: "POST",
          path: `/v1/deals/${dealId}/evidence`,
          headers: { ...bearer(keys.payer), ...headers, "Content-Type": "image/png", "Transfer-Encoding": "chunked" },
        },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.write(png(""));
      for (let i = 0; i < 4; i++) req.write(Buffer.alloc(MAX / 2));
      req.end();
    });
    expect(status).to.equal(413);
  });

  it("when the type is not an evidence type, or not the bytes' → 415 unsupported-media-type", async function () {
    const gif = await upload(dealId, Buffer.from("GIF89a...."), "image/gif", payer, keys.payer);
    expect(gif.status).to.equal(415);
    const html = await upload(dealId, Buffer.from("<script>alert(1)</script>"), "image/png", payer, keys.payer);
    expect(html.status).to.equal(415);
    const mismatch = await upload(dealId, pdf("a pdf"), "image/png", payer, keys.payer);
    expect(mismatch.status).to.equal(415);
    expect(mismatch.body.type).to.match(/unsupported-media-type$/);
  });

  it("when a contentHash, dealId or Evidence-* header is malformed or missing → 400", async function () {
    await w.http.get(`/v1/deals/${dealId}/evidence/typed-data?contentHash=0x1234`).set(bearer(keys.payer)).expect(400);
    await w.http.get(`/v1/deals/${dealId}/evidence/0xnothash`).set(bearer(keys.payer)).expect(400);
    await w.http.get(`/v1/deals/0x12/evidence`).set(bearer(keys.payer)).expect(400);
    const bytes = png("headers");
    const good = await signedHeaders(dealId, bytes, payer, keys.payer);
    for (const [name, value] of [
      ["Evidence-Signature", "not-hex"],
      ["Evidence-Signer", "0x1234"],
      ["Evidence-Expiry", "soon"],
    ]) {
      const res = await w.http
        .post(`/v1/deals/${dealId}/evidence`)
        .set(bearer(keys.payer))
        .set({ ...good, [name]: value, "Content-Type": "image/png" })
        .send(bytes);
      expect(res.status, name).to.equal(400);
      expect(res.body.errors[0]).to.include({ parameter: name.toLowerCase(), in: "header" });
    }
    const { "Evidence-Expiry": _dropped, ...missing } = good;
    const res = await w.http
      .post(`/v1/deals/${dealId}/evidence`)
      .set(bearer(keys.payer))
      .set({ ...missing, "Content-Type": "image/png" })
      .send(bytes);
    expect(res.status).to.equal(400);
  });

  it("with an Idempotency-Key: the same upload again → the first answer replayed; another file with the key → 409", async function () {
    const bytes = pdf("idempotent");
    const headers = await signedHeaders(dealId, bytes, payer, keys.payer);
    const post = (b: Buffer) =>
      w.http
        .post(`/v1/deals/${dealId}/evidence`)
        .set(bearer(keys.payer))
        .set({ ...headers, "Content-Type": "application/pdf", "Idempotency-Key": "evidence-once" })
        .send(b);
    const first = await post(bytes);
    expect(first.status, JSON.stringify(first.body)).to.equal(202);
    const again = await post(bytes);
    expect(again.status).to.equal(202);
    expect(again.headers["idempotent-replayed"]).to.equal("true");
    expect(again.body).to.deep.equal(first.body);
    const other = await post(pdf("another file"));
    expect(other.status).to.equal(409);
    expect(other.body.type).to.match(/idempotency-key-reused$/);
    await w.final(first.body.submission);
  });

  it("when the deal is final (released) → 409 wrong-status; an unknown deal → 404", async function () {
    const done = await w.openDeal();
    for (const [action, by] of [
      ["performed", done.payee],
      ["release", done.payer],
    ] as const) {
      const res = await w.confirm(done.dealId, action, by, await w.key("party", by));
      await w.final(res.body.submission.id);
    }
    await w.indexed(done.dealId, "released");
    const res = await upload(done.dealId, png("too late"), "image/png", done.payer, keys.admin);
    expect(res.status).to.equal(409);
    expect(res.body.type).to.match(/wrong-status$/);
    await w.http
      .get(`/v1/deals/0x${"ee".repeat(32)}/evidence`)
      .set(bearer(keys.admin))
      .expect(404);
  });
});
