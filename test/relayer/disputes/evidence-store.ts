/**
 * Evidence stores: the filesystem store on a real temporary directory, and the S3 store's AWS Signature Version 4
 * checked against the values AWS publishes (the signing-key derivation example and the S3 examples of a GET with a
 * range, a PUT with a payload, and GETs with query strings), then its requests (path style, payload hash = content
 * hash, what it does with 404 and errors) on a local HTTP server.
 */
import { expect } from "chai";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import {
  amzDateOf,
  createFsEvidenceStore,
  createS3EvidenceStore,
  sha256Hex,
  signV4,
  signingKey,
} from "../../../relayer/src/disputes/evidence-store";

const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.from("a png's body")]);
const hashOf = (bytes: Buffer) => `0x${sha256Hex(bytes)}`;

describe("evidence store: filesystem", function () {
  let dir: string;
  beforeEach(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "evidence-"));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("put then get returns the bytes and the content type; the files are <hash> and <hash>.type, no temp left", async function () {
    const store = createFsEvidenceStore(path.join(dir, "nested", "evidence"));
    const hash = hashOf(PNG);
    await store.put(hash, PNG, "image/png");
    const got = await store.get(hash);
    expect(got?.bytes.equals(PNG)).to.equal(true);
    expect(got?.contentType).to.equal("image/png");
    expect((await readdir(path.join(dir, "nested", "evidence"))).sort()).to.deep.equal([hash, `${hash}.type`]);
  });

  it("a second put of the same hash is a no-op (the first file and type stay)", async function () {
    const store = createFsEvidenceStore(dir);
    const hash = hashOf(PNG);
    await store.put(hash, PNG, "image/png");
    await writeFile(path.join(dir, `${hash}.type`), "image/png");
    await store.put(hash, PNG, "application/pdf");
    expect((await store.get(hash))?.contentType).to.equal("image/png");
    expect((await readdir(dir)).length).to.equal(2);
  });

  it("concurrent puts of one file both succeed and leave one complete file", async function () {
    const store = createFsEvidenceStore(dir);
    const hash = hashOf(PNG);
    await Promise.all([store.put(hash, PNG, "image/png"), store.put(hash, PNG, "image/png")]);
    expect((await readFile(path.join(dir, hash))).equals(PNG)).to.equal(true);
    expect((await readdir(dir)).sort()).to.deep.equal([hash, `${hash}.type`]);
  });

  it("get of an unknown hash → undefined", async function () {
    expect(await createFsEvidenceStore(dir).get(hashOf(Buffer.from("never")))).to.equal(undefined);
  });

  it("refuses bytes whose SHA-256 is not the hash, and names that are not a content hash (no path traversal)", async function () {
    const store = createFsEvidenceStore(dir);
    await expect(store.put(hashOf(Buffer.from("other")), PNG, "image/png")).to.be.rejectedWith(/SHA-256/);
    await expect(store.get("../../etc/passwd")).to.be.rejectedWith(/not a content hash/);
    await expect(store.get(hashOf(PNG).toUpperCase())).to.be.rejectedWith(/not a content hash/);
    expect(await readdir(dir)).to.deep.equal([]);
  });
});

describe("evidence store: SigV4 (AWS's published examples)", function () {
  // The credentials of AWS's documentation examples.
  const S3 = {
    accessKey: "AKIAIOSFODNN7EXAMPLE",
    secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    region: "us-east-1",
    service: "s3",
  };
  const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  const HOST = "examplebucket.s3.amazonaws.com";

  it("derives the documented signing key (IAM example, 20120215)", function () {
    const key = signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
    expect(key.toString("hex")).to.equal("f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
  });

  it("signs the S3 example GET /test.txt with a Range: canonical request, string to sign and signature", function () {
    const headers = { Host: HOST, Range: "bytes=0-9", "x-amz-content-sha256": EMPTY, "x-amz-date": "20130524T000000Z" };
    const out = signV4({ method: "GET", path: "/test.txt", headers, payloadHash: EMPTY }, S3, "20130524T000000Z");
    expect(out.canonicalRequest).to.equal(
      [
        "GET",
        "/test.txt",
        "",
        `host:${HOST}`,
        "range:bytes=0-9",
        `x-amz-content-sha256:${EMPTY}`,
        "x-amz-date:20130524T000000Z",
        "",
        "host;range;x-amz-content-sha256;x-amz-date",
        EMPTY,
      ].join("\n"),
    );
    expect(out.stringToSign).to.equal(
      "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n" +
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
    );
    expect(out.signature).to.equal("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    expect(out.authorization).to.equal(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });

  it("signs the S3 example PUT /test$file.text with its payload hash", function () {
    const body = "Welcome to Amazon S3.";
    const payloadHash = sha256Hex(body);
    expect(payloadHash).to.equal("44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    const headers = {
      Host: HOST,
      Date: "Fri, 24 May 2013 00:00:00 GMT",
      "x-amz-date": "20130524T000000Z",
      "x-amz-storage-class": "REDUCED_REDUNDANCY",
      "x-amz-content-sha256": payloadHash,
    };
    const out = signV4({ method: "PUT", path: "/test%24file.text", headers, payloadHash }, S3, "20130524T000000Z");
    expect(out.stringToSign.split("\n")[3]).to.equal(
      "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
    );
    expect(out.signature).to.equal("98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  });

  it("signs the S3 examples with a query: GET /?lifecycle and GET /?max-keys=2&prefix=J", function () {
    const headers = { Host: HOST, "x-amz-content-sha256": EMPTY, "x-amz-date": "20130524T000000Z" };
    const lifecycle = signV4(
      { method: "GET", path: "/", query: { lifecycle: "" }, headers, payloadHash: EMPTY },
      S3,
      "20130524T000000Z",
    );
    expect(lifecycle.signature).to.equal("fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    const list = signV4(
      { method: "GET", path: "/", query: { prefix: "J", "max-keys": "2" }, headers, payloadHash: EMPTY },
      S3,
      "20130524T000000Z",
    );
    expect(list.signature).to.equal("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  });

  it("amzDateOf is YYYYMMDDTHHMMSSZ", function () {
    expect(amzDateOf(new Date("2013-05-24T00:00:00.123Z"))).to.equal("20130524T000000Z");
  });
});

describe("evidence store: S3 requests", function () {
  type Seen = { method: string; url: string; headers: IncomingMessage["headers"]; body: Buffer };
  let server: Server;
  let url: string;
  const seen: Seen[] = [];
  const objects = new Map<string, { body: Buffer; type: string }>();
  let fail = false;
  const AT = new Date("2026-01-02T03:04:05Z");

  before(async function () {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        if (fail) return void res.writeHead(500).end("<Error/>");
        if (req.method === "PUT") {
          objects.set(req.url!, { body, type: String(req.headers["content-type"]) });
          return void res.writeHead(200).end();
        }
        const found = objects.get(req.url!);
        if (!found) return void res.writeHead(404).end("<Error><Code>NoSuchKey</Code></Error>");
        res.writeHead(200, { "content-type": found.type }).end(found.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/my-bucket`;
  });
  after(async function () {
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(function () {
    seen.length = 0;
    fail = false;
  });

  const store = () =>
    createS3EvidenceStore({ url, region: "eu-west-1", accessKey: "AKID", secretKey: "s3cr3t-key", now: () => AT });

  it("PUTs path style to {url}/{hash} with x-amz-content-sha256 = the content hash and a SigV4 Authorization over it", async function () {
    const hash = hashOf(PNG);
    await store().put(hash, PNG, "image/png");
    const [put] = seen;
    expect(put.method).to.equal("PUT");
    expect(put.url).to.equal(`/my-bucket/${hash}`);
    expect(put.body.equals(PNG)).to.equal(true);
    expect(put.headers["x-amz-content-sha256"]).to.equal(hash.slice(2));
    expect(put.headers["x-amz-date"]).to.equal("20260102T030405Z");
    expect(put.headers["content-type"]).to.equal("image/png");
    // The signature is the one of signV4 (checked against AWS's vectors above) over exactly what was sent.
    const expected = signV4(
      {
        method: "PUT",
        path: put.url,
        headers: {
          host: String(put.headers.host),
          "x-amz-content-sha256": String(put.headers["x-amz-content-sha256"]),
          "x-amz-date": String(put.headers["x-amz-date"]),
          "content-type": String(put.headers["content-type"]),
        },
        payloadHash: hash.slice(2),
      },
      { accessKey: "AKID", secretKey: "s3cr3t-key", region: "eu-west-1", service: "s3" },
      "20260102T030405Z",
    );
    expect(put.headers.authorization).to.equal(expected.authorization);
    expect(put.headers.authorization).to.match(
      /^AWS4-HMAC-SHA256 Credential=AKID\/20260102\/eu-west-1\/s3\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
  });

  it("GET returns the bytes and content type; a 404 → undefined", async function () {
    const hash = hashOf(PNG);
    await store().put(hash, PNG, "image/png");
    const got = await store().get(hash);
    expect(got?.bytes.equals(PNG)).to.equal(true);
    expect(got?.contentType).to.equal("image/png");
    expect(seen[1].headers["x-amz-content-sha256"]).to.equal(sha256Hex(""));
    expect(await store().get(hashOf(Buffer.from("missing")))).to.equal(undefined);
  });

  it("a bucket error is thrown without the keys in its message", async function () {
    fail = true;
    const hash = hashOf(PNG);
    const error = await store()
      .put(hash, PNG, "image/png")
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(error?.message).to.match(/PUT answered 500/);
    expect(error?.message).to.not.match(/s3cr3t|AKID/);
    await expect(store().get(hash)).to.be.rejectedWith(/GET answered 500/);
  });
});
