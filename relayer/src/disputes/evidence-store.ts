/**
 * Where evidence files live, by content hash (SHA-256 of the bytes, 0x + 64 hex): the local filesystem by default
 * (EVIDENCE_DIR), or an S3-compatible bucket (EVIDENCE_S3_URL, path style) whose requests are signed with AWS
 * Signature Version 4, written here with node:crypto. A file is stored once: its name is its hash, so a second
 * upload of the same bytes changes nothing, and two replicas storing it at once write the same thing.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";

export type StoredEvidence = { bytes: Buffer; contentType: string };

export type EvidenceStore = {
  /** Stores `bytes` under `hash` (which must be their SHA-256) with their content type; idempotent. */
  put(hash: string, bytes: Buffer, contentType: string): Promise<void>;
  /** The file stored under `hash`, or undefined. */
  get(hash: string): Promise<StoredEvidence | undefined>;
};

const HASH = /^0x[0-9a-f]{64}$/;

export const sha256Hex = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");

/** Refuses a hash that is not 0x + 64 lower-case hex, or (with bytes) not theirs: names never come from outside. */
function checkHash(hash: string, bytes?: Buffer): void {
  if (!HASH.test(hash)) throw new Error(`not a content hash: ${hash.slice(0, 80)}`);
  if (bytes && `0x${sha256Hex(bytes)}` !== hash) throw new Error(`the bytes' SHA-256 is not ${hash}`);
}

/* ------------------------------------------------ filesystem ------------------------------------------------ */

/**
 * Files in `dir`: `<hash>` holds the bytes and `<hash>.type` the content type. Each is written to a temporary file
 * in the same directory and renamed into place (atomic), the type first: a file present is always complete and
 * typed.
 */
export function createFsEvidenceStore(dir: string): EvidenceStore {
  let made: Promise<unknown> | undefined;
  const ensureDir = () =>
    (made ??= fs.mkdir(dir, { recursive: true }).catch((error: unknown) => {
      made = undefined;
      throw error;
    }));
  const writeAtomic = async (file: string, data: Buffer | string) => {
    const tmp = path.join(dir, `.tmp-${randomBytes(8).toString("hex")}`);
    try {
      await fs.writeFile(tmp, data, { flag: "wx" });
      await fs.rename(tmp, file);
    } catch (error) {
      await fs.rm(tmp, { force: true });
      throw error;
    }
  };
  const exists = (file: string) =>
    fs.stat(file).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return false;
        throw error;
      },
    );
  return {
    async put(hash, bytes, contentType) {
      checkHash(hash, bytes);
      await ensureDir();
      const file = path.join(dir, hash);
      if (await exists(file)) return;
      await writeAtomic(`${file}.type`, contentType);
      await writeAtomic(file, bytes);
    },
    async get(hash) {
      checkHash(hash);
      const file = path.join(dir, hash);
      try {
        const [bytes, contentType] = await Promise.all([fs.readFile(file), fs.readFile(`${file}.type`, "utf8")]);
        return { bytes, contentType };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
  };
}

/* ------------------------------------------------ SigV4 ------------------------------------------------ */

/** RFC 3986 percent-encoding of one path segment or query component, as SigV4 wants it. */
export const uriEncode = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export type SigV4Request = {
  method: string;
  /** The canonical URI: the path, each segment already percent-encoded once. */
  path: string;
  /** Query parameters (encoded and sorted here). */
  query?: Record<string, string>;
  /** Headers to sign, including `host` and `x-amz-date` (names any case). */
  headers: Record<string, string>;
  /** Hex SHA-256 of the payload (`x-amz-content-sha256`). */
  payloadHash: string;
};

export type SigV4Credentials = { accessKey: string; secretKey: string; region: string; service: string };

const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** The SigV4 signing key: HMAC chain of the secret over date, region, service and "aws4_request". */
export function signingKey(secretKey: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secretKey}`, date), region), service), "aws4_request");
}

/**
 * Signs a request with AWS Signature Version 4: the canonical request, the string to sign, the signature and the
 * `Authorization` header. `amzDate` is the request's `x-amz-date` (YYYYMMDDTHHMMSSZ).
 */
export function signV4(request: SigV4Request, credentials: SigV4Credentials, amzDate: string) {
  const date = amzDate.slice(0, 8);
  const headers = Object.entries(request.headers)
    .map(([name, value]) => [name.toLowerCase(), value.trim().replace(/\s+/g, " ")] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const signedHeaders = headers.map(([name]) => name).join(";");
  const query = Object.entries(request.query ?? {})
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [
    request.method,
    request.path,
    query,
    ...headers.map(([name, value]) => `${name}:${value}`),
    "",
    signedHeaders,
    request.payloadHash,
  ].join("\n");
  const scope = `${date}/${credentials.region}/${credentials.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const signature = createHmac(
    "sha256",
    signingKey(credentials.secretKey, date, credentials.region, credentials.service),
  )
    .update(stringToSign, "utf8")
    .digest("hex");
  const authorization =
    `AWS4-HMAC-SHA256 Credential=${credentials.accessKey}/${scope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { canonicalRequest, stringToSign, signature, authorization };
}

/** `x-amz-date` of an instant: YYYYMMDDTHHMMSSZ. */
export const amzDateOf = (at: Date) =>
  at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");

/* ------------------------------------------------ S3 ------------------------------------------------ */

export type S3Options = {
  /** The bucket, path style: https://host[:port]/bucket[/prefix]. */
  url: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** Deadline of one request (default 15 s). */
  timeoutMs?: number;
  /** The clock (tests). */
  now?: () => Date;
};

/**
 * An S3-compatible bucket, path style: PUT and GET `${url}/${hash}`, signed with SigV4 (service "s3"); the payload
 * hash of a PUT is the content hash itself. The keys never appear in an error message.
 */
export function createS3EvidenceStore(options: S3Options): EvidenceStore {
  const base = new URL(options.url.replace(/\/+$/, ""));
  const prefix = base.pathname
    .split("/")
    .filter((s) => s !== "")
    .map((s) => uriEncode(decodeURIComponent(s)));
  const credentials = { ...options, service: "s3" };
  const timeoutMs = options.timeoutMs ?? 15_000;
  const now = options.now ?? (() => new Date());
  const where = `${base.protocol}//${base.host}${base.pathname}`;

  async function send(method: "PUT" | "GET", hash: string, body?: Buffer, contentType?: string) {
    const objectPath = `/${[...prefix, hash].join("/")}`;
    const payloadHash = body ? sha256Hex(body) : sha256Hex("");
    const amzDate = amzDateOf(now());
    const signed: Record<string, string> = {
      host: base.host,
      "x-amz-content-sha256": payloadHash,
      "x-amz-date": amzDate,
      ...(contentType ? { "content-type": contentType } : {}),
    };
    const { authorization } = signV4({ method, path: objectPath, headers: signed, payloadHash }, credentials, amzDate);
    const { host: _host, ...headers } = signed;
    try {
      return await fetch(`${base.protocol}//${base.host}${objectPath}`, {
        method,
        headers: { ...headers, authorization },
        ...(body ? { body: new Uint8Array(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new Error(`evidence bucket ${where}: ${method} failed: ${(error as Error).message}`);
    }
  }

  return {
    async put(hash, bytes, contentType) {
      checkHash(hash, bytes);
      const res = await send("PUT", hash, bytes, contentType);
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`evidence bucket ${where}: PUT answered ${res.status}`);
    },
    async get(hash) {
      checkHash(hash);
      const res = await send("GET", hash);
      if (res.status === 404) {
        await res.arrayBuffer().catch(() => undefined);
        return undefined;
      }
      if (!res.ok) {
        await res.arrayBuffer().catch(() => undefined);
        throw new Error(`evidence bucket ${where}: GET answered ${res.status}`);
      }
      const bytes = Buffer.from(await res.arrayBuffer());
      return { bytes, contentType: res.headers.get("content-type") ?? "application/octet-stream" };
    },
  };
}
