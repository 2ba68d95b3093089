/**
 * Opaque page cursors of GET /v1/deals, /v1/gateways and /v1/acceptors: base64url of JSON `{ s, id, f }` — the
 * index position (score and member: a deal id, or an address) where the next page STARTS (inclusive), and the
 * filter the cursor was issued for (which names the list). A cursor is refused with other filters or on another
 * list, so a client cannot mix pages of different lists.
 */
import { ApiProblem } from "./problems";

export type CursorPosition = { score: number; id: string };

const DEAL_ID = /^0x[0-9a-f]{64}$/;
/** Members of the gateway and acceptor lists. */
export const ADDRESS_ID = /^0x[0-9a-f]{40}$/;

/** The filter a deal cursor is bound to: index kind and value, and the status (and overdue) filter. */
export function filterKey(query: {
  party?: string;
  gateway?: string;
  ref?: string;
  status?: string;
  overdue?: boolean;
}): string {
  const index = query.party
    ? `p:${query.party}`
    : query.gateway
      ? `g:${query.gateway}`
      : query.ref
        ? `r:${query.ref}`
        : "-";
  return `${index}|${query.status ?? "-"}${query.overdue ? "|overdue" : ""}`;
}

/**
 * A cursor of a list that spans several chains (GET /v1/deals over every registered chain) also names the chain
 * (`c`) whose index the position is in: each chain's deals are listed in the index's order, one chain after another.
 */
export function encodeCursor(position: CursorPosition, filter: string, chainId?: number): string {
  const c = chainId === undefined ? {} : { c: chainId };
  return Buffer.from(JSON.stringify({ s: position.score, id: position.id, f: filter, ...c })).toString("base64url");
}

const invalid = (message: string) =>
  new ApiProblem("invalid-parameter", `Invalid query parameter "cursor": ${message}.`, {
    errors: [{ parameter: "cursor", in: "query", message }],
  });

/**
 * Decodes a cursor (already checked to be base64url text) made for `filter`, whose member matches `member` (deal
 * ids by default); throws a 400 problem otherwise.
 */
export function decodeCursor(
  cursor: string,
  filter: string,
  member: RegExp = DEAL_ID,
): CursorPosition & { chainId?: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid("is not a cursor returned by this API");
  }
  const c = parsed as { s?: unknown; id?: unknown; f?: unknown; c?: unknown } | null;
  if (
    typeof c !== "object" ||
    c === null ||
    typeof c.s !== "number" ||
    !Number.isSafeInteger(c.s) ||
    c.s < 0 ||
    typeof c.id !== "string" ||
    !member.test(c.id) ||
    typeof c.f !== "string" ||
    (c.c !== undefined && (typeof c.c !== "number" || !Number.isSafeInteger(c.c) || c.c <= 0))
  ) {
    throw invalid("is not a cursor returned by this API");
  }
  if (c.f !== filter) throw invalid("was issued for another list or other filters");
  return { score: c.s, id: c.id, ...(typeof c.c === "number" ? { chainId: c.c } : {}) };
}

/**
 * The store's "strictly after" position that starts a page AT `position` (inclusive): deal ids all have the same
 * length, so among equal scores `id + "\0"` sorts just above `id`.
 */
export function startingAt(position: CursorPosition): CursorPosition {
  return { score: position.score, id: `${position.id}\u0000` };
}
