/**
 * The write API's handlers: typed data to sign, confirmations, intents and submissions. Authentication, rate
 * limits and idempotency run before them as middleware (relayer/src/auth); the use cases live in
 * relayer/src/write/service.ts.
 */
import type { Request, RequestHandler, Response } from "express";
import type { WriteService } from "../write/service";
import type { KeyIdentity } from "../write/rules";
import { ApiProblem } from "./problems";
import { EmptyQuery as EmptyQueryStrict } from "./schemas";
import { validate, validateBody, validateQuery } from "./validation";
import {
  ConfirmationBody,
  DealParams,
  IntentBody,
  IntentTypedDataBody,
  SplitBody,
  SubmissionParams,
  TypedDataQuery,
} from "./write-schemas";

/** The write side as the API uses it; absent when the relayer runs without a signer key. */
export type WriteApi = {
  /** The use cases; absent when the relayer has no signer key (the write routes then answer 503). */
  service?: WriteService;
  submissions?: { get(id: string): Promise<unknown> };
  /** Authentication (sets `res.locals.apiKey` or refuses) and rate limits: every route but the operations ones. */
  authenticate: RequestHandler[];
  /** The same for a POST that only computes (typed data), which needs a key only where reads do. */
  authenticateRead: RequestHandler[];
  /** Rate limits alone, for routes that take no key (the checkout: its order id is the capability). */
  anonymous?: RequestHandler[];
  /** Runs before every POST, after the body is parsed: idempotency. */
  beforePost: RequestHandler[];
  /** Runs first on every request (CORS, nosniff, Cache-Control). */
  headers?: RequestHandler;
};

const WRITE_OFF =
  "This relayer runs without a signer key (RELAYER_KEY or RELAYER_KEYSTORE): its write API is off. Ask its " +
  "operator, or send the transaction yourself.";

/** The key a POST acts with: authentication made sure a POST has one. */
function keyOf(res: Response): KeyIdentity {
  const key = res.locals.apiKey as KeyIdentity | undefined;
  if (!key) throw new ApiProblem("unauthenticated", "Send an API key: Authorization: Bearer <key>.");
  return key;
}

const dealIdOf = (req: Request) =>
  validate(DealParams, req.params as Record<string, string>, "path").dealId.toLowerCase();

export function writeHandlers(write: WriteApi | undefined) {
  const need = () => {
    if (!write?.service || !write.submissions) throw new ApiProblem("unavailable", WRITE_OFF);
    return { service: write.service, submissions: write.submissions };
  };
  return {
    async confirmationTypedData(req: Request, res: Response) {
      const dealId = dealIdOf(req);
      const query = validateQuery(req, TypedDataQuery);
      const { service } = need();
      res.json(
        query.action === "split"
          ? await service.splitTypedData(dealId, query.payeeAmount!, query.signer)
          : await service.confirmationTypedData(dealId, query.action, query.signer),
      );
    },

    async intentTypedData(req: Request, res: Response) {
      const body = validateBody(req, IntentTypedDataBody);
      validateQuery(req, EmptyQueryStrict);
      res.json(await need().service.intentTypedData(body.type, body.deal, body.ref, body.signer));
    },

    async postConfirmation(req: Request, res: Response) {
      const dealId = dealIdOf(req);
      validateQuery(req, EmptyQueryStrict);
      const body = validateBody(req, ConfirmationBody);
      const { status, body: answer } = await need().service.confirm(keyOf(res), dealId, body);
      const id = (answer.submission as { id?: string } | null)?.id;
      if (id) res.setHeader("Location", `/v1/submissions/${id}`);
      res.status(status).json(answer);
    },

    async postSplit(req: Request, res: Response) {
      const dealId = dealIdOf(req);
      validateQuery(req, EmptyQueryStrict);
      const body = validateBody(req, SplitBody);
      const { status, body: answer } = await need().service.split(keyOf(res), dealId, body);
      const id = (answer.submission as { id?: string } | null)?.id;
      if (id) res.setHeader("Location", `/v1/submissions/${id}`);
      res.status(status).json(answer);
    },

    async postIntent(req: Request, res: Response) {
      validateQuery(req, EmptyQueryStrict);
      const body = validateBody(req, IntentBody);
      const { status, body: answer } = await need().service.openIntent(keyOf(res), body);
      res.setHeader("Location", `/v1/submissions/${answer.submission.id}`);
      res.status(status).json(answer);
    },

    async getSubmission(req: Request, res: Response) {
      const { id } = validate(SubmissionParams, req.params as Record<string, string>, "path");
      validateQuery(req, EmptyQueryStrict);
      const found = await need().submissions.get(id);
      if (!found) throw new ApiProblem("submission-not-found", `No submission ${id}.`);
      res.json(found);
    },
  };
}
