/**
 * Evidence of a dispute: a party, the gateway or an arbiter uploads a file (an image or a PDF) with its signature of
 * the Evidence typed data; the relayer checks it, anchors the file's SHA-256 on-chain through postEvidenceWithSig
 * (queued through the submitter), stores the file by its hash (evidence-store.ts) and keeps a record of the upload.
 * The list merges those records with the EvidencePosted events the projection indexed, including evidence posted
 * elsewhere (stored=false). Files are served only to the keys the access rule below lets in.
 *
 * Redis: `<base><dealId>` a hash, contentHash → the upload's record (JSON), base = `<keyPrefix>w:d:ev:`.
 */
import type { RedisClient as Redis } from "../redis";
import { digestOf, escrowDomain, evidenceUri, isEvidenceType, sniffContentType, typedDataOf } from "../../../protocol";
import type { Chain } from "../chain/types";
import type { Hash, HistoryEntry } from "../domain/projection";
import { evidenceEntries, evidenceViewOf } from "../domain/views";
import { ApiProblem } from "../api/problems";
import { ESCROW, decodeError, dealStructOf } from "../write/calls";
import { SUGGESTED_EXPIRY_SECONDS, authorize, checkExpiry, type KeyIdentity } from "../write/rules";
import type { CheckSignature, SubmitPort } from "../write/service";
import { createArbiters } from "./arbiters";
import { sha256Hex, type EvidenceStore } from "./evidence-store";

/** Longest file name kept with an upload (characters). */
export const EVIDENCE_NAME_MAX = 200;
/** Statuses in which the escrow takes evidence. */
const LIVE = new Set(["open", "performed", "disputed"]);

export type EvidenceRole = "payer" | "payee" | "gateway" | "arbiter";

/** What the relayer keeps of an upload. */
export type EvidenceRecord = {
  contentType: string;
  size: number;
  name: string | null;
  poster: string;
  role: EvidenceRole;
  postedAt: number;
  submission: string;
};

export type EvidenceItem = {
  contentHash: string;
  uri: string;
  contentType: string | null;
  size: number | null;
  name: string | null;
  poster: string;
  role: EvidenceRole;
  postedAt: number;
  stored: boolean;
  anchored: { txHash: string; block: number } | null;
  submission: string | null;
};

export type Upload = {
  bytes: Buffer;
  /** The declared Content-Type (without parameters, lower-case). */
  contentType: string;
  signer: string;
  signature: string;
  expiry: bigint;
  name?: string;
};

export type EvidenceDeps = {
  chainId: number;
  escrow: string;
  registry: string;
  chain: Chain;
  redis: Redis;
  /** `<keyPrefix>w:d:ev:` */
  base: string;
  /** The projection's deal and history (undefined when not indexed). */
  getDeal(dealId: string): Promise<{ deal: Hash; history: HistoryEntry[] } | undefined>;
  checkSignature: CheckSignature;
  submitter: SubmitPort;
  refs: { refOwner(ref: string): Promise<string | undefined> };
  files: EvidenceStore;
  /** The relayer's own address (the simulated call's sender). */
  relayer: string;
  maxBytes: number;
  now?: () => Promise<number>;
  arbiterCacheMs?: number;
};

export function createEvidenceService(deps: EvidenceDeps) {
  const { chainId, escrow, chain, redis, base, files } = deps;
  const clock = deps.now ?? (async () => Math.floor(Date.now() / 1000));
  const domain = escrowDomain(chainId, escrow);
  const { isArbiter } = createArbiters({ chain, registry: deps.registry, cacheMs: deps.arbiterCacheMs });
  const recordsKey = (dealId: string) => `${base}${dealId}`;

  async function requireDeal(dealId: string) {
    const found = await deps.getDeal(dealId);
    if (!found) throw new ApiProblem("deal-not-found", `No deal ${dealId} has been indexed.`);
    return found;
  }

  /**
   * Who may read and post a deal's evidence: an admin key; a party, acceptor or gateway key whose owner is the
   * deal's payer, payee or gateway; the platform key that registered its ref; a key whose owner is an arbiter.
   */
  async function authorizeKey(key: KeyIdentity, deal: Hash): Promise<void> {
    const owner = key.scope === "platform" ? await deps.refs.refOwner(`0x${deal.ref ?? ""}`) : undefined;
    const refusal = authorize(key, { payer: deal.payer, payee: deal.payee, gateway: deal.gateway }, owner);
    if (!refusal) return;
    if (await isArbiter(key.owner.toLowerCase())) return;
    throw new ApiProblem(
      "forbidden",
      "This API key may not see this deal's evidence: it is not the deal's payer's, payee's or gateway's, nor its " +
        "platform's, nor an arbiter's.",
    );
  }

  /** The poster's role, or undefined when the escrow would not take evidence from it. */
  async function roleOf(deal: Hash, signer: string): Promise<EvidenceRole | undefined> {
    if (signer === deal.payer) return "payer";
    if (signer === deal.payee) return "payee";
    if (signer === deal.gateway) return "gateway";
    return (await isArbiter(signer)) ? "arbiter" : undefined;
  }

  const messageOf = (dealId: string, contentHash: string, expiry: bigint) => ({
    dealId,
    contentHash,
    uri: evidenceUri(dealId, contentHash),
    expiry,
  });

  /** The Evidence typed data the poster signs for a file of `contentHash`. */
  async function typedData(key: KeyIdentity, dealId: string, contentHash: string, signer?: string) {
    const { deal } = await requireDeal(dealId);
    await authorizeKey(key, deal);
    if (signer !== undefined && (await roleOf(deal, signer)) === undefined) {
      throw new ApiProblem(
        "wrong-signer",
        `Only the deal's payer, payee, gateway or an arbiter posts evidence; ${signer} is none of them.`,
      );
    }
    const expiry = BigInt((await clock()) + SUGGESTED_EXPIRY_SECONDS);
    const message = messageOf(dealId, contentHash, expiry);
    return { typedData: typedDataOf(chainId, escrow, "Evidence", message), expiry: String(expiry), uri: message.uri };
  }

  /** An upload: checked, anchored through the submitter, stored, recorded. */
  async function upload(key: KeyIdentity, dealId: string, u: Upload) {
    const { deal } = await requireDeal(dealId);
    await authorizeKey(key, deal);
    if (u.bytes.length > deps.maxBytes) {
      throw new ApiProblem("evidence-too-large", `An evidence file may be at most ${deps.maxBytes} bytes.`);
    }
    const sniffed = sniffContentType(u.bytes);
    if (!isEvidenceType(u.contentType) || sniffed !== u.contentType) {
      throw new ApiProblem(
        "unsupported-media-type",
        !isEvidenceType(u.contentType)
          ? `Evidence is image/png, image/jpeg, image/webp or application/pdf, not ${u.contentType.slice(0, 80)}.`
          : `The file is not ${u.contentType}: its first bytes say ${sniffed ?? "none of the accepted types"}.`,
      );
    }
    if (!LIVE.has(deal.status)) {
      throw new ApiProblem("wrong-status", `The deal is ${deal.status}; evidence is taken while it is live.`);
    }
    const signer = u.signer.toLowerCase();
    const role = await roleOf(deal, signer);
    if (!role) {
      throw new ApiProblem(
        "wrong-signer",
        `Only the deal's payer, payee, gateway or an arbiter posts evidence; ${signer} is none of them.`,
      );
    }
    const now = await clock();
    const expired = checkExpiry(u.expiry, now);
    if (expired) throw new ApiProblem(expired.kind, expired.detail);
    const contentHash = `0x${sha256Hex(u.bytes)}`;
    const message = messageOf(dealId, contentHash, u.expiry);
    const check = await deps.checkSignature({
      signer,
      digest: digestOf(domain, "Evidence", message),
      signature: u.signature,
    });
    if (!check.ok) throw new ApiProblem("invalid-signature", check.reason, { members: { reason: check.code } });
    const auth = { expiry: u.expiry, signature: check.signature ?? u.signature };
    const call = {
      to: escrow,
      data: ESCROW.encodeFunctionData("postEvidenceWithSig", [
        dealStructOf(deal),
        contentHash,
        message.uri,
        signer,
        auth,
      ]),
    };
    // A wallet deployed by the submission (ERC-6492) cannot be simulated against before it exists.
    if (!check.deploy) {
      const outcome = await chain.simulate({ from: deps.relayer, to: call.to, data: call.data }, "pending");
      if (!outcome.ok) {
        const error = decodeError(outcome.revertData);
        throw new ApiProblem("would-revert", error.message, { members: { error } });
      }
    }
    // Stored before it is anchored: the URI on-chain always resolves here.
    await files.put(contentHash, u.bytes, u.contentType);
    const prelude = check.deploy && { to: check.deploy.factory, data: check.deploy.data, unlessCodeAt: signer };
    const submission = await deps.submitter.submit({
      keyId: key.id,
      dealId,
      kind: "evidence",
      call,
      ...(prelude ? { prelude } : {}),
    });
    const record: EvidenceRecord = {
      contentType: u.contentType,
      size: u.bytes.length,
      name: u.name ?? null,
      poster: signer,
      role,
      postedAt: now,
      submission: submission.id,
    };
    await redis.hset(recordsKey(dealId), contentHash, JSON.stringify(record));
    return { dealId, contentHash, uri: message.uri, ...record };
  }

  /** The deal's evidence, oldest first: the uploads here and every EvidencePosted indexed. */
  async function list(key: KeyIdentity, dealId: string): Promise<{ items: EvidenceItem[] }> {
    const { deal, history } = await requireDeal(dealId);
    await authorizeKey(key, deal);
    const stored = await redis.hgetall(recordsKey(dealId));
    const records = new Map(Object.entries(stored).map(([hash, json]) => [hash, JSON.parse(json) as EvidenceRecord]));
    const items: EvidenceItem[] = [];
    const matched = new Set<string>();
    for (const entry of evidenceEntries(history)) {
      const view = evidenceViewOf(entry);
      const record = records.get(view.contentHash);
      const mine = record && record.poster === view.by && !matched.has(view.contentHash);
      if (mine) matched.add(view.contentHash);
      const by = view.by.toLowerCase();
      items.push({
        contentHash: view.contentHash,
        uri: view.uri,
        contentType: mine ? record.contentType : null,
        size: mine ? record.size : null,
        name: mine ? record.name : null,
        poster: by,
        role: mine
          ? record.role
          : by === deal.payer
            ? "payer"
            : by === deal.payee
              ? "payee"
              : by === deal.gateway
                ? "gateway"
                : "arbiter",
        postedAt: mine ? record.postedAt : (entry.timestamp ?? 0),
        stored: Boolean(mine),
        anchored: { txHash: view.txHash, block: view.blockNumber },
        submission: mine ? record.submission : null,
      });
    }
    for (const [contentHash, record] of records) {
      if (matched.has(contentHash)) continue;
      items.push({
        contentHash,
        uri: evidenceUri(dealId, contentHash),
        ...record,
        stored: true,
        anchored: null,
      });
    }
    items.sort((a, b) => a.postedAt - b.postedAt);
    return { items };
  }

  /** A file uploaded for this deal (404 for any other hash, even one stored for another deal). */
  async function download(key: KeyIdentity, dealId: string, contentHash: string) {
    const { deal } = await requireDeal(dealId);
    await authorizeKey(key, deal);
    const json = await redis.hget(recordsKey(dealId), contentHash);
    const file = json === null ? undefined : await files.get(contentHash);
    if (!json || !file) {
      throw new ApiProblem("evidence-not-found", `No evidence ${contentHash} was uploaded for deal ${dealId}.`);
    }
    const record = JSON.parse(json) as EvidenceRecord;
    return { ...file, name: record.name };
  }

  return { typedData, upload, list, download, maxBytes: deps.maxBytes };
}

export type EvidenceService = ReturnType<typeof createEvidenceService>;
