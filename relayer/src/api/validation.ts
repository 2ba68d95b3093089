/**
 * Input validation of the API: strict query strings, path parameters and JSON bodies checked with zod schemas,
 * every issue reported as a named parameter error in one 400 problem.
 */
import type { Request } from "express";
import type { z } from "zod";
import { ApiProblem, type ParameterError } from "./problems";

/** Longest parameter name or request path echoed back in a problem. */
const ECHO_MAX = 128;

export const clip = (s: string) => (s.length > ECHO_MAX ? `${s.slice(0, ECHO_MAX)}…` : s);
const plural = (n: number, word: string) => `${word}${n === 1 ? "" : "s"}`;

export function invalidParameters(errors: ParameterError[]): ApiProblem {
  const detail = errors.map((e) => `${e.in} parameter "${e.parameter}" ${e.message}`).join("; ");
  return new ApiProblem("invalid-parameter", `Invalid ${plural(errors.length, "parameter")}: ${detail}.`, { errors });
}

/** One name or value of a query string, `+` as a space and percent-decoded; undefined when the encoding is malformed. */
function decodeQueryPart(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/** Splits a query string strictly: percent-decoding errors and repeated names are errors, not guesses. */
function parseQuery(url: string): { values: Record<string, string>; errors: ParameterError[] } {
  const values = new Map<string, string>();
  const errors: ParameterError[] = [];
  const q = url.indexOf("?");
  if (q >= 0) {
    const repeated = new Set<string>();
    for (const part of url.slice(q + 1).split("&")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const rawName = eq < 0 ? part : part.slice(0, eq);
      const rawValue = eq < 0 ? "" : part.slice(eq + 1);
      const name = decodeQueryPart(rawName);
      if (name === undefined) {
        errors.push({ parameter: clip(rawName), in: "query", message: "has a malformed percent-encoded name" });
        continue;
      }
      const value = decodeQueryPart(rawValue);
      if (value === undefined) {
        errors.push({ parameter: clip(name), in: "query", message: "has a malformed percent-encoded value" });
        continue;
      }
      if (values.has(name)) {
        if (!repeated.has(name))
          errors.push({ parameter: clip(name), in: "query", message: "is repeated; give it once" });
        repeated.add(name);
        continue;
      }
      values.set(name, value);
    }
  }
  return { values: Object.fromEntries(values), errors };
}

/** Validates input with a schema; every issue becomes a named parameter error. */
export function validate<T extends z.ZodObject>(
  schema: T,
  input: Record<string, string>,
  where: "path" | "query",
  prior: ParameterError[] = [],
): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success && prior.length === 0) return result.data;
  const errors = [...prior];
  if (!result.success) {
    const allowed = Object.keys(schema.shape);
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys") {
        const hint = allowed.length === 0 ? "this route takes no query parameters" : `known: ${allowed.join(", ")}`;
        for (const key of issue.keys) errors.push({ parameter: clip(key), in: where, message: `is unknown (${hint})` });
      } else {
        errors.push({ parameter: String(issue.path[0] ?? where), in: where, message: issue.message });
      }
    }
  }
  throw invalidParameters(errors);
}

export function validateQuery<T extends z.ZodObject>(req: Request, schema: T): z.output<T> {
  const { values, errors } = parseQuery(req.originalUrl);
  return validate(schema, values, "query", errors);
}

/** Validates a JSON body; issues name their member path (`deal.amount`). */
export function validateBody<T extends z.ZodType>(req: Request, schema: T): z.output<T> {
  const body: unknown = req.body;
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalidParameters([
      { parameter: "body", in: "body", message: "must be a JSON object (Content-Type: application/json)" },
    ]);
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const errors: ParameterError[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === "unrecognized_keys") {
      const at = issue.path.length > 0 ? `${issue.path.join(".")}.` : "";
      for (const key of issue.keys) errors.push({ parameter: clip(at + key), in: "body", message: "is unknown" });
    } else {
      errors.push({ parameter: clip(issue.path.join(".") || "body"), in: "body", message: issue.message });
    }
  }
  throw invalidParameters(errors);
}
