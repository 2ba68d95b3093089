/**
 * The OpenAPI document's response entries, shared by every module that declares routes (openapi.ts and the route
 * lists it spreads in): a JSON body of a schema, and a problem (RFC 9457) body.
 */
import type { z } from "zod";
import { PROBLEM_CONTENT_TYPE } from "./problems";
import { ProblemSchema } from "./schemas";

/** A response whose body is JSON of `schema`. */
export const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** A problem response (application/problem+json). */
export const problem = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
});

/** The 400 every route with parameters may answer. */
export const invalid = problem("Invalid parameter: the problem's `errors` name each parameter and the reason");
