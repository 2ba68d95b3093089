/**
 * Per-order message threads: the order's user, its acceptor and — once the deal is or was disputed — the deal's
 * gateway write to each other, each message signed by its author (EIP-191 over protocol/messages.ts
 * orderMessageText), each naming the hash of the one before it, so the thread is a hash chain nobody can later
 * alter or deny. A thread is exported as one bundle signed by the relayer's key, for the gateway.
 *
 * Redis, under the disputes prefix D = store.keyPrefix + "w:d:":
 *   D+"msg:"+orderId        list    the messages' JSON, oldest first
 *   D+"msg:"+orderId+":h"   string  the head: the last message's hash (absent: ZERO_HASH)
 * Appending is one Lua compare-and-set on the head, together with the order.message event (XADD to the events
 * stream): of two replicas appending after the same head only one writes, so a thread never forks.
 *
 * Who speaks for whom: a platform key of the order (its owner made it) for the order's user; the order's acceptor's
 * key for the acceptor; the deal's gateway's key for the gateway, once disputed; an admin key for any of them. The
 * keyless checkout speaks for the user only. In every case the author's own signature is the authority.
 */
import { Wallet, getBytes, hashMessage } from "ethers";
import type { RedisClient as Redis } from "../redis";
import {
  ZERO_HASH,
  bundleHash,
  orderMessageHash,
  orderMessageText,
  type MessageBundle,
  type OrderMessage,
} from "../../../protocol";
import { ApiProblem } from "../api/problems";
import { invalidParameters } from "../api/validation";
import { orderEventValue } from "../events/orders";
import type { Order } from "../orders/model";
import type { SignatureCheck } from "../signatures/check";
import type { Store } from "../store/store";
import type { KeyIdentity } from "../write/rules";

/** How far a message's sentAt may be from the relayer's clock, in seconds. */
export const MESSAGE_CLOCK_SKEW_S = 300;
/** Most messages one thread holds. */
export const MESSAGES_PER_THREAD = 1_000;

export type MessageRole = OrderMessage["role"];

/** Who asks: an API key, or the keyless checkout (the order id is the capability; it speaks for the user only). */
export type Viewer = { key: KeyIdentity } | "checkout";

export type MessageInput = { author: string; body: string; sentAt: number; prev: string; signature: string };

export type MessagesDeps = {
  redis: Redis;
  store: Pick<Store, "keyPrefix" | "key" | "getDeal">;
  /** The order as stored (relayer/src/orders/store.ts), or undefined. */
  getOrder: (id: string) => Promise<Order | undefined>;
  /** The write side's signature check (EOA, ERC-1271, ERC-6492) of `digest`. */
  checkSignature: (input: { signer: string; digest: string; signature: string }) => Promise<SignatureCheck>;
  chainId: number;
  escrow: string;
  /** MESSAGE_MAX_CHARS: the longest body, in code points. */
  maxChars: number;
  /** The relayer's signer key (RELAYER_KEY): signs exported bundles; none: the bundle answers 503. */
  signerKey?: string;
  /** Most messages per thread (default MESSAGES_PER_THREAD). */
  maxMessages?: number;
  /** Unix ms (tests). */
  now?: () => number;
};

// KEYS: 1 thread list, 2 head, 3 events stream
// ARGV: 1 ZERO_HASH, 2 expected head (the message's prev), 3 new hash, 4 message JSON, 5 most messages, 6 event
const APPEND = `
local head = redis.call('GET', KEYS[2]) or ARGV[1]
if head ~= ARGV[2] then return {0, head} end
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[5]) then return {2, head} end
redis.call('RPUSH', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('XADD', KEYS[3], '*', 'e', ARGV[6])
return {1, ARGV[3]}
`;

/** Control characters (C0, DEL, C1) other than \n and \t, and lone surrogates (not text; no UTF-8 form). */
const FORBIDDEN_CHAR = /[^\P{Cc}\n\t]|\p{Cs}/u;

type Context = { order: Order; dealId: string; gateway: string | undefined; disputed: boolean };

export function createMessages(deps: MessagesDeps) {
  const { redis, store } = deps;
  const now = deps.now ?? Date.now;
  const maxMessages = deps.maxMessages ?? MESSAGES_PER_THREAD;
  const base = `${store.keyPrefix}w:d:msg:`;
  const listKey = (orderId: string) => `${base}${orderId}`;
  const headKey = (orderId: string) => `${base}${orderId}:h`;
  const signer = deps.signerKey ? new Wallet(deps.signerKey) : undefined;

  const notFound = (id: string) => new ApiProblem("order-not-found", `No order ${id} is visible to this key.`);

  /** The order, its deal's gateway and whether the deal is or was disputed. */
  async function context(id: string): Promise<Context> {
    const order = await deps.getOrder(id);
    if (!order) throw notFound(id);
    if (!order.dealId || !order.acceptor) {
      throw new ApiProblem("wrong-order-status", `The order is ${order.status}; it has no deal to talk about yet.`, {
        members: { orderStatus: order.status },
      });
    }
    const found = await store.getDeal(order.dealId);
    const gateway = (found?.deal.gateway ?? order.deal?.gateway ?? "").toLowerCase() || undefined;
    const disputed =
      order.status === "disputed" ||
      order.history.some((h) => h.status === "disputed") ||
      found?.deal.status === "disputed" ||
      (found?.history.some((h) => h.event === "DealDisputed") ?? false);
    return { order, dealId: order.dealId, gateway, disputed };
  }

  /**
   * Whom the viewer speaks for and reads as: "admin" (anyone), or one role. Strangers get 404 as the order routes
   * answer them; the deal's gateway gets 403 before the deal is disputed.
   */
  function standing(viewer: Viewer, c: Context): MessageRole | "admin" {
    if (viewer === "checkout") return "user";
    const { key } = viewer;
    const owner = key.owner.toLowerCase();
    if (key.scope === "admin") return "admin";
    if (key.scope === "platform" && owner === c.order.platform) return "user";
    if (key.scope === "acceptor" && owner === c.order.acceptor) return "acceptor";
    if (key.scope === "gateway" && c.gateway !== undefined && owner === c.gateway) {
      if (!c.disputed) {
        throw new ApiProblem("forbidden", "The deal's gateway reads and writes the thread once the deal is disputed.");
      }
      return "gateway";
    }
    throw notFound(c.order.id);
  }

  /** The role of `author` in the order's thread, or undefined when it has none (a gateway before a dispute). */
  function roleOf(author: string, c: Context): MessageRole | undefined {
    if (author === c.order.user) return "user";
    if (author === c.order.acceptor) return "acceptor";
    if (c.gateway !== undefined && author === c.gateway && c.disputed) return "gateway";
    return undefined;
  }

  async function read(orderId: string): Promise<OrderMessage[]> {
    const items = await redis.lrange(listKey(orderId), 0, -1);
    return items.map((j) => JSON.parse(j) as OrderMessage);
  }

  const headOf = (messages: OrderMessage[]) => messages.at(-1)?.hash ?? ZERO_HASH;

  async function list(viewer: Viewer, orderId: string) {
    const c = await context(orderId);
    standing(viewer, c);
    const items = await read(orderId);
    return { orderId, dealId: c.dealId, head: headOf(items), items };
  }

  /** Refuses a body that is empty, too long (in code points) or carries control characters other than \n and \t. */
  function checkBody(body: string) {
    const chars = [...body].length;
    const why =
      chars === 0
        ? "must not be empty"
        : chars > deps.maxChars
          ? `must be at most ${deps.maxChars} characters (this one has ${chars})`
          : FORBIDDEN_CHAR.test(body)
            ? "must not contain control characters other than newline and tab"
            : undefined;
    if (why) throw invalidParameters([{ parameter: "body", in: "body", message: why }]);
  }

  async function post(viewer: Viewer, orderId: string, input: MessageInput): Promise<OrderMessage> {
    const c = await context(orderId);
    const speaker = standing(viewer, c);
    checkBody(input.body);
    const author = input.author.toLowerCase();
    const prev = input.prev.toLowerCase();
    const nowS = Math.floor(now() / 1000);
    if (Math.abs(input.sentAt - nowS) > MESSAGE_CLOCK_SKEW_S) {
      throw new ApiProblem(
        "message-clock-skew",
        `sentAt ${input.sentAt} is more than ${MESSAGE_CLOCK_SKEW_S} s from the relayer's clock; sign it again now.`,
        { members: { now: nowS } },
      );
    }
    const role = roleOf(author, c);
    if (viewer === "checkout" && role !== "user") {
      throw new ApiProblem("wrong-signer", `Only the order's user ${c.order.user} writes on the checkout.`);
    }
    if (role === undefined) {
      throw new ApiProblem(
        "forbidden",
        `${author} has no part in this order's thread (its user, its acceptor, or the deal's gateway once disputed).`,
      );
    }
    if (speaker !== "admin" && speaker !== role) {
      throw new ApiProblem("forbidden", `This key speaks for the order's ${speaker}, not for its ${role} ${author}.`);
    }
    const fields = { orderId, dealId: c.dealId, author, prev, sentAt: input.sentAt, body: input.body };
    const text = orderMessageText(fields);
    const check = await deps.checkSignature({ signer: author, digest: hashMessage(text), signature: input.signature });
    if (!check.ok) throw new ApiProblem("invalid-signature", check.reason, { members: { reason: check.code } });
    const hash = orderMessageHash(fields);
    const message: OrderMessage = {
      hash,
      ...fields,
      role,
      signature: input.signature.toLowerCase(),
      receivedAt: nowS,
    };
    const o = c.order;
    const event = orderEventValue({
      type: "order.message",
      orderId,
      status: o.status,
      platform: o.platform,
      acceptor: o.acceptor,
      dealId: o.dealId,
      reference: o.reference,
      at: now(),
      message: { hash, author, role },
    });
    const [written, head] = (await redis.eval(
      APPEND,
      3,
      listKey(orderId),
      headKey(orderId),
      store.key("events"),
      ZERO_HASH,
      prev,
      hash,
      JSON.stringify(message),
      String(maxMessages),
      event,
    )) as [number, string];
    if (written === 0) {
      throw new ApiProblem(
        "message-conflict",
        `prev ${prev} is not the thread's head ${head}: another message came first; read the thread and sign again.`,
        { members: { head } },
      );
    }
    if (written === 2) {
      throw new ApiProblem("message-thread-full", `The thread holds its ${maxMessages} messages; it takes no more.`);
    }
    return message;
  }

  /** The thread as one bundle, its hash and the relayer's EIP-191 signature of that hash. */
  async function bundle(viewer: Viewer, orderId: string) {
    const c = await context(orderId);
    standing(viewer, c);
    if (!signer) {
      throw new ApiProblem("unavailable", "This relayer has no signer key (RELAYER_KEY): it cannot sign a bundle.");
    }
    const messages = await read(orderId);
    const b: MessageBundle = {
      orderId,
      dealId: c.dealId,
      chainId: deps.chainId,
      escrow: deps.escrow.toLowerCase(),
      messages,
      head: headOf(messages),
      exportedAt: Math.floor(now() / 1000),
    };
    const hash = bundleHash(b);
    return {
      bundle: b,
      bundleHash: hash,
      relayer: signer.address.toLowerCase(),
      signature: await signer.signMessage(getBytes(hash)),
    };
  }

  return { list, post, bundle, keys: { listKey, headKey } };
}
export type Messages = ReturnType<typeof createMessages>;
