/**
 * The write side's use cases: typed data to sign, signed confirmations and signed open/lock intents. Each request
 * is checked before anything is queued — the key's right to act on the deal, the signer's role, the deal's status,
 * the expiry, the signature itself (EOA, ERC-1271 wallet, ERC-6492 wallet not yet deployed) and finally the exact
 * call, simulated on the pending block — so the submitter only ever sends transactions the escrow accepts.
 *
 * The relayer carries signatures and pays gas; every call it sends names the signer's own signature, so it can
 * never move funds on its own (docs/design.md §3).
 */
import type { RedisClient as Redis } from "../redis";
import {
  dealIdOf,
  digestOf,
  escrowDomain,
  typedDataOf,
  type DealParams,
  type PrimaryType,
  type TypedDataPayload,
} from "../../../protocol";
import type { Chain } from "../chain/types";
import type { Hash } from "../domain/projection";
import { ApiProblem } from "../api/problems";
import { decodeError, dealStructOf, encode, structOfParams, type Authorization, type Call } from "./calls";
import {
  CONFIRMATIONS,
  SUGGESTED_EXPIRY_SECONDS,
  authorize,
  checkConfirmation,
  checkExpiry,
  checkSplit,
  roleOf,
  type Role,
  type ConfirmationName,
  type KeyIdentity,
  type Refusal,
} from "./rules";

/** What the signature checker says (relayer/src/signatures). */
export type SignatureCheck =
  | { ok: true; via: string; deploy?: { factory: string; data: string }; signature?: string }
  | { ok: false; code: string; reason: string };
export type CheckSignature = (input: { signer: string; digest: string; signature: string }) => Promise<SignatureCheck>;

/** What the service asks of the submitter (relayer/src/submitter). */
export type SubmitPort = {
  submit(request: {
    keyId?: string;
    dealId?: string;
    kind: string;
    call: Call;
    prelude?: Call & { unlessCodeAt: string };
  }): Promise<Record<string, unknown> & { id: string }>;
};

/** The typed data a Safe's owners sign in place of the escrow's (relayer/src/signatures/safe.ts). */
export type SafeTypedData = (signer: string, digest: string) => Promise<Record<string, unknown> | undefined>;

export type WriteDeps = {
  chainId: number;
  escrow: string;
  chain: Chain;
  redis: Redis;
  /** Key prefix (with the escrow's hash tag) of the write side's own keys. */
  base: string;
  /** The projection's deal (undefined when not indexed). */
  getDeal(dealId: string): Promise<Hash | undefined>;
  checkSignature: CheckSignature;
  safeTypedData?: SafeTypedData;
  submitter: SubmitPort;
  refs: {
    refOwner(ref: string): Promise<string | undefined>;
    registerRef(keyId: string, ref: string): Promise<boolean>;
  };
  /** The relayer's own address (the simulated calls' sender). */
  relayer: string;
  /** The time the escrow will judge by (unix seconds): the chain's, where it runs ahead of the wall clock. */
  now?: () => Promise<number>;
  /**
   * Runs before a release or a split that pays the payee is queued: the orders' screening of the deal's user and
   * acceptor (relayer/src/orders/service.ts screenPayout), which refuses with 422 address-screened. The deal can
   * still be cancelled or refunded: a refusal never leaves it stuck.
   */
  beforePayout?: (dealId: string) => Promise<void>;
};

export type SplitRequest = { payeeAmount: bigint; signer: string; signature: string; expiry: bigint };

/**
 * Holds one party's split signature, or takes the other party's held one: atomically, so two parties posting at
 * once never both wait. KEYS: 1 the other role's key, 2 this role's key. ARGV: 1 this signature (JSON), 2 TTL s.
 * Returns the other party's held signature (deleted), or nil after holding this one.
 */
const SPLIT_PAIR_SCRIPT = `
local other = redis.call('GET', KEYS[1])
if other then
  redis.call('DEL', KEYS[1])
  return other
end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return nil`;

export type Confirmation = { action: ConfirmationName; signer: string; signature: string; expiry: bigint };
export type Intent = {
  type: "open" | "lock";
  deal: DealParams;
  ref: string;
  /** The lock's signer (the acceptor or its lock delegate); an open is signed by the payer. */
  signer?: string;
  expiry: bigint;
  signature: string;
};

/** A Safe's EIP-712 domain: its chain and its own address. */
const SAFE_DOMAIN_FIELDS = [
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
];

const refuse = (r: Refusal, members?: Record<string, unknown>): never => {
  throw new ApiProblem(r.kind, r.detail, members ? { members } : {});
};

export function createWriteService(deps: WriteDeps) {
  const { chainId, escrow, chain, redis, base, submitter } = deps;
  const clock = deps.now ?? (async () => Math.floor(Date.now() / 1000));
  const domain = escrowDomain(chainId, escrow);
  const pairKey = (dealId: string) => `${base}w:cancel:${dealId}`;
  const splitKey = (dealId: string, payeeAmount: bigint, role: Role) =>
    `${base}w:split:${dealId}:${payeeAmount}:${role}`;

  async function requireDeal(dealId: string): Promise<Hash> {
    const deal = await deps.getDeal(dealId);
    if (!deal) throw new ApiProblem("deal-not-found", `No deal ${dealId} has been indexed.`);
    return deal;
  }

  async function authorizeKey(key: KeyIdentity, deal: { payer: string; payee: string; gateway: string }, ref: string) {
    const owner = key.scope === "platform" ? await deps.refs.refOwner(ref) : undefined;
    const refusal = authorize(key, deal, owner);
    if (refusal) refuse(refusal);
  }

  /** Checks a signature; returns the signature to send (unwrapped from ERC-6492) and a wallet's deployment. */
  async function verify(signer: string, digest: string, signature: string) {
    const check = await deps.checkSignature({ signer, digest, signature });
    if (!check.ok) {
      throw new ApiProblem("invalid-signature", check.reason, { members: { reason: check.code } });
    }
    return { signature: check.signature ?? signature, deploy: check.deploy };
  }

  /** Simulates `call` on the pending block from the relayer; a revert is refused with the decoded error. */
  async function simulate(call: Call): Promise<void> {
    const outcome = await chain.simulate({ from: deps.relayer, to: call.to, data: call.data }, "pending");
    if (!outcome.ok) {
      const error = decodeError(outcome.revertData);
      throw new ApiProblem("would-revert", error.message, { members: { error } });
    }
  }

  async function submit(
    keyId: string | undefined,
    dealId: string,
    kind: string,
    call: Call,
    deploy: { factory: string; data: string } | undefined,
    signer: string,
  ) {
    // A wallet deployed by the submission (ERC-6492) cannot be simulated against before it exists: its signature
    // was checked by running the factory call in the same eth_call.
    if (!deploy) await simulate(call);
    const prelude = deploy && { to: deploy.factory, data: deploy.data, unlessCodeAt: signer };
    return submitter.submit({ keyId, dealId, kind, call, ...(prelude ? { prelude } : {}) });
  }

  /**
   * The EIP-712 payload of a confirmation, plus what a Safe's owners sign when the signer is a Safe. Its expiry is
   * `expiresIn` seconds ahead (SUGGESTED_EXPIRY_SECONDS unless an action signed in advance needs longer).
   */
  async function confirmationTypedData(
    dealId: string,
    action: ConfirmationName,
    signer: string | undefined,
    expiresIn = SUGGESTED_EXPIRY_SECONDS,
  ) {
    const deal = await requireDeal(dealId);
    const now = await clock();
    const expiry = BigInt(now + expiresIn);
    if (signer !== undefined) {
      const refusal = checkConfirmation(deal, action, signer, expiry, now);
      if (refusal) refuse(refusal);
    }
    const message = { dealId, action: CONFIRMATIONS[action].action, expiry };
    return withSafe(typedDataOf(chainId, escrow, "DealAction", message), "DealAction", message, signer);
  }

  /** The EIP-712 payload of a split giving the payee `payeeAmount` (the rest refunded to the payer). */
  async function splitTypedData(dealId: string, payeeAmount: bigint, signer: string | undefined) {
    const deal = await requireDeal(dealId);
    const now = await clock();
    const expiry = BigInt(now + SUGGESTED_EXPIRY_SECONDS);
    if (signer !== undefined) {
      const checked = checkSplit(deal, signer.toLowerCase(), payeeAmount, expiry, now);
      if ("kind" in checked) refuse(checked);
    }
    const message = { dealId, payeeAmount, expiry };
    return withSafe(typedDataOf(chainId, escrow, "Split", message), "Split", message, signer);
  }

  /**
   * A party's signed split: checked like a confirmation, then held until the other party signs the same amount
   * (202 awaiting the other), or — when the other's is held — both sent in one splitWithSigs (202 submission).
   * Signatures of different amounts never pair: each waits for its own match.
   */
  async function split(key: KeyIdentity, dealId: string, r: SplitRequest) {
    const deal = await requireDeal(dealId);
    await authorizeKey(key, { payer: deal.payer, payee: deal.payee, gateway: deal.gateway }, `0x${deal.ref ?? ""}`);
    const signer = r.signer.toLowerCase();
    const now = await clock();
    const checked = checkSplit(deal, signer, r.payeeAmount, r.expiry, now);
    if ("kind" in checked) return refuse(checked);
    if (r.payeeAmount > 0n) await deps.beforePayout?.(dealId);
    const { role } = checked;
    const other: Role = role === "payer" ? "payee" : "payer";
    const digest = digestOf(domain, "Split", { dealId, payeeAmount: r.payeeAmount, expiry: r.expiry });
    const { signature, deploy } = await verify(signer, digest, r.signature);
    const mine = JSON.stringify({ expiry: r.expiry.toString(), signature, signer, deploy: deploy ?? null });
    const ttl = Math.max(1, Number(r.expiry) - now);
    const payeeAmount = r.payeeAmount.toString();
    const held = (await redis.eval(
      SPLIT_PAIR_SCRIPT,
      2,
      splitKey(dealId, r.payeeAmount, other),
      splitKey(dealId, r.payeeAmount, role),
      mine,
      ttl,
    )) as string | null;
    type Held = { expiry: string; signature: string; signer: string; deploy: { factory: string; data: string } | null };
    const theirs = held === null ? undefined : (JSON.parse(held) as Held);
    if (!theirs || BigInt(theirs.expiry) < BigInt(now)) {
      // Nothing (live) held from the other party: this one waits.
      if (theirs) await redis.set(splitKey(dealId, r.payeeAmount, role), mine, "EX", ttl);
      return { status: 202, body: { dealId, payeeAmount, submission: null, awaiting: other } };
    }
    const mineAuth: Authorization = { expiry: r.expiry, signature };
    const theirAuth: Authorization = { expiry: BigInt(theirs.expiry), signature: theirs.signature };
    const [payerAuth, payeeAuth] = role === "payer" ? [mineAuth, theirAuth] : [theirAuth, mineAuth];
    const call = { to: escrow, data: encode.splitWithSigs(dealStructOf(deal), r.payeeAmount, payerAuth, payeeAuth) };
    try {
      // A wallet not deployed yet (ERC-6492) is deployed first: this signer's, else the held one's.
      const submission = deploy
        ? await submit(key.id, dealId, "split", call, deploy, signer)
        : await submit(key.id, dealId, "split", call, theirs.deploy ?? undefined, theirs.signer);
      return { status: 202, body: { dealId, payeeAmount, submission } };
    } catch (error) {
      // Refused (the escrow would revert): the other party's signature stays held for a later attempt.
      const left = Number(theirs.expiry) - now;
      if (left > 0) await redis.set(splitKey(dealId, r.payeeAmount, other), held!, "EX", left);
      throw error;
    }
  }

  /** The EIP-712 payload of an open or lock intent. */
  async function intentTypedData(type: "open" | "lock", deal: DealParams, ref: string, signer: string | undefined) {
    const expiry = BigInt((await clock()) + SUGGESTED_EXPIRY_SECONDS);
    const message = { deal: structOfParams(deal), ref, expiry };
    const primary = type === "open" ? "Open" : "Lock";
    const payload = await withSafe(typedDataOf(chainId, escrow, primary, message), primary, message, signer);
    return { dealId: dealIdOf(deal.payer, deal.salt), ...payload };
  }

  async function withSafe(
    payload: TypedDataPayload,
    primary: PrimaryType,
    message: Record<string, unknown>,
    signer: string | undefined,
  ) {
    const expiry = String(message.expiry);
    if (signer === undefined || !deps.safeTypedData) return { typedData: payload, expiry };
    const safe = await deps.safeTypedData(signer, digestOf(domain, primary, message));
    if (!safe) return { typedData: payload, expiry };
    // As wallets take it (eth_signTypedData_v4): with the domain's own type listed.
    const types = { EIP712Domain: SAFE_DOMAIN_FIELDS, ...(safe.types as Record<string, unknown>) };
    return { typedData: payload, expiry, safe: { ...safe, types } };
  }

  /** A signed confirmation: checked, then queued (or, for a payer's cancel, held until the payee's). */
  async function confirm(key: KeyIdentity, dealId: string, c: Confirmation) {
    const deal = await requireDeal(dealId);
    await authorizeKey(key, { payer: deal.payer, payee: deal.payee, gateway: deal.gateway }, `0x${deal.ref ?? ""}`);
    const signer = c.signer.toLowerCase();
    const now = await clock();
    const refusal = checkConfirmation(deal, c.action, signer, c.expiry, now);
    if (refusal) refuse(refusal);
    if (c.action === "release") await deps.beforePayout?.(dealId);
    const action = CONFIRMATIONS[c.action].action;
    const digest = digestOf(domain, "DealAction", { dealId, action, expiry: c.expiry });
    const { signature, deploy } = await verify(signer, digest, c.signature);
    const struct = dealStructOf(deal);
    const auth: Authorization = { expiry: c.expiry, signature };

    if (c.action === "cancel") {
      if (roleOf(deal, signer) === "payer") {
        // Alone, a payer's cancel moves nothing (only the payee may cancel alone): it waits for the payee's.
        const ttl = Math.max(1, Number(c.expiry) - now);
        await redis.set(pairKey(dealId), JSON.stringify({ expiry: c.expiry.toString(), signature }), "EX", ttl);
        return { status: 202, body: { dealId, action: c.action, submission: null, awaiting: "payee" } };
      }
      const stored = await redis.get(pairKey(dealId));
      const payer = stored ? (JSON.parse(stored) as { expiry: string; signature: string }) : undefined;
      if (payer && BigInt(payer.expiry) >= BigInt(now)) {
        const call = {
          to: escrow,
          data: encode.cancelWithSigs(struct, { ...payer, expiry: BigInt(payer.expiry) }, auth),
        };
        const submission = await submit(key.id, dealId, "cancel-mutual", call, deploy, signer);
        await redis.del(pairKey(dealId));
        return { status: 202, body: { dealId, action: c.action, submission } };
      }
    }
    const call = { to: escrow, data: encode.actWithSig(struct, action, signer, auth) };
    const submission = await submit(key.id, dealId, c.action, call, deploy, signer);
    return { status: 202, body: { dealId, action: c.action, submission } };
  }

  /** A signed open (by the payer) or lock (by the acceptor or its delegate): checked, then queued. */
  async function openIntent(key: KeyIdentity, intent: Intent) {
    const deal = intent.deal;
    const dealId = dealIdOf(deal.payer, deal.salt);
    if (key.scope === "platform") {
      if (!(await deps.refs.registerRef(key.id, intent.ref))) {
        throw new ApiProblem("ref-taken", `The ref ${intent.ref} is registered by another platform key.`);
      }
    } else {
      await authorizeKey(key, deal, intent.ref);
    }
    const expired = checkExpiry(intent.expiry, await clock());
    if (expired) refuse(expired);
    if (await deps.getDeal(dealId)) throw new ApiProblem("deal-exists", `The deal ${dealId} is already open.`);
    const signer = (intent.type === "open" ? deal.payer : (intent.signer ?? deal.payer)).toLowerCase();
    const primary = intent.type === "open" ? "Open" : "Lock";
    const struct = structOfParams(deal);
    const digest = digestOf(domain, primary, { deal: struct, ref: intent.ref, expiry: intent.expiry });
    const { signature, deploy } = await verify(signer, digest, intent.signature);
    if (intent.type === "open") await checkFunds(deal);
    const auth: Authorization = { expiry: intent.expiry, signature };
    const data =
      intent.type === "open"
        ? encode.openWithSig(struct, intent.ref, auth)
        : encode.lockWithSig(struct, intent.ref, signer, auth);
    const submission = await submit(key.id, dealId, intent.type, { to: escrow, data }, deploy, signer);
    return { status: 202, body: { dealId, submission } };
  }

  /**
   * The payer's balance and allowance, read before an open is sent: real USDT fails a short `transferFrom` with
   * `assert`, which burns all the gas forwarded; a clear refusal costs nothing.
   */
  async function checkFunds(deal: DealParams): Promise<void> {
    const [balance, allowance] = await Promise.all([
      chain.simulate({ to: deal.token, data: encode.balanceOf(deal.payer) }),
      chain.simulate({ to: deal.token, data: encode.allowance(deal.payer, escrow) }),
    ]);
    const value = (o: typeof balance) => (o.ok && o.data.length === 66 ? BigInt(o.data) : 0n);
    if (value(balance) < deal.amount) {
      throw new ApiProblem("insufficient-funds", `The payer holds ${value(balance)} of ${deal.amount} needed.`);
    }
    if (value(allowance) < deal.amount) {
      throw new ApiProblem(
        "insufficient-funds",
        `The payer has approved the escrow for ${value(allowance)} of ${deal.amount} needed; approve it first.`,
      );
    }
  }

  /**
   * A party's signed `DealAction` checked as a confirmation is — the deal indexed, the key's right to act on it,
   * the caller's own rule (`check`: role, status), the expiry, the signature — without sending anything: for
   * actions held and sent later (relayer/src/disputes/keeper.ts). Returns the deal, the signature to send
   * (unwrapped from ERC-6492) and a wallet's deployment.
   */
  async function verifyDealAction(
    key: KeyIdentity,
    dealId: string,
    a: { action: number; signer: string; signature: string; expiry: bigint },
    check: (deal: Hash, signer: string) => Refusal | undefined,
  ) {
    const deal = await requireDeal(dealId);
    await authorizeKey(key, { payer: deal.payer, payee: deal.payee, gateway: deal.gateway }, `0x${deal.ref ?? ""}`);
    const signer = a.signer.toLowerCase();
    const refusal = check(deal, signer) ?? checkExpiry(a.expiry, await clock());
    if (refusal) refuse(refusal);
    const digest = digestOf(domain, "DealAction", { dealId, action: a.action, expiry: a.expiry });
    const { signature, deploy } = await verify(signer, digest, a.signature);
    return { deal, signer, signature, deploy };
  }

  /** Whether `key` may act on `dealId` (the confirmations' rule); refuses with 404 or 403. */
  async function authorizeDeal(key: KeyIdentity, dealId: string): Promise<Hash> {
    const deal = await requireDeal(dealId);
    await authorizeKey(key, { payer: deal.payer, payee: deal.payee, gateway: deal.gateway }, `0x${deal.ref ?? ""}`);
    return deal;
  }

  return {
    confirmationTypedData,
    intentTypedData,
    splitTypedData,
    confirm,
    split,
    openIntent,
    /**
     * The write side's own steps, for other signed calls (the gateway's rulings, relayer/src/disputes/gateway.ts):
     * check a signature, simulate and queue a call through the submitter, and the time the escrow judges by.
     */
    signedCalls: { verify, submit, now: clock },
    verifyDealAction,
    authorizeDeal,
  };
}
export type WriteService = ReturnType<typeof createWriteService>;
