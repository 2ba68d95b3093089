/**
 * The API key a route acts with, checked against the scopes the route takes: 401 without a key, 403 with a key of
 * another scope. The one check behind the order, desk, report and webhook routes.
 */
import type { Response } from "express";
import type { KeyIdentity } from "../write/rules";
import { ApiProblem } from "./problems";

export type Scope = KeyIdentity["scope"];

/** "a", "a or b", "a, b or c". */
const listed = (scopes: readonly Scope[]) =>
  scopes.length <= 1 ? scopes.join("") : `${scopes.slice(0, -1).join(", ")} or ${scopes.at(-1)}`;

/**
 * The request's key (authentication put it in `res.locals.apiKey`) when its scope is one of `scopes`. `what` names
 * the routes with their verb, as the problem's detail begins: "Reports need", "The acceptor desk needs".
 */
export function keyWithScope(res: Response, scopes: readonly Scope[], what: string): KeyIdentity {
  const key = res.locals.apiKey as KeyIdentity | undefined;
  if (!key) {
    throw new ApiProblem(
      "unauthenticated",
      `${what} an API key of scope ${listed(scopes)}: Authorization: Bearer <key>.`,
      {
        headers: { "WWW-Authenticate": 'Bearer realm="relayer"' },
      },
    );
  }
  if (!scopes.includes(key.scope)) {
    throw new ApiProblem(
      "forbidden",
      `${what} an API key of scope ${listed(scopes)}; this key's scope is ${key.scope}.`,
    );
  }
  return key;
}
