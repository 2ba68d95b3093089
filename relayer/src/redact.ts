/**
 * Keeping secrets out of what the relayer writes: log lines, error messages, usage output. RPC providers put API
 * keys in the URL's path (`/v3/<key>`) or query (`?apikey=`), and both RPC and Redis URLs may carry `user:pass@`;
 * the relayer's signer key and keystore password are options too. Every log line passes through
 * {@link createRedactor}'s function (common.ts wires it into the logger's stream), and every message that may carry
 * a URL passes through {@link redactText}.
 */

/** What replaces a secret. */
export const REDACTED = "***";

/**
 * A URL anywhere in a text: a scheme, `://`, then everything up to a space or a quote. Local schemes (the `file://`
 * and `node:` paths of stack traces) hold no credentials and stay readable.
 */
const URL_IN_TEXT = /\b(?!(?:file|node|data|blob):)[a-z][a-z0-9+.-]{1,15}:\/\/[^\s"'<>`\\]+/gi;

/**
 * Path segments kept as they are: words without digits (`rpc`, `mainnet`), API versions (`v3`) and short numbers
 * (a Redis database). Anything else — a key, a token, a project id — is replaced.
 */
const HARMLESS_SEGMENT = /^(|[A-Za-z_-]{1,16}|v\d{1,2}|\d{1,3})$/;

/**
 * `url` with its credentials, secret-looking path segments and query values replaced by `***`; the scheme, host
 * and port stay, so the log still says which endpoint. A text that is not a URL comes back unchanged.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  // Non-special schemes (redis:) keep their host in `host` too; `origin` is "null" for them, so build by hand.
  const auth = parsed.username !== "" || parsed.password !== "" ? `${REDACTED}@` : "";
  const path = parsed.pathname
    .split("/")
    .map((segment) => (HARMLESS_SEGMENT.test(segment) ? segment : REDACTED))
    .join("/");
  const query = [...parsed.searchParams.keys()].map((name) => `${encodeURIComponent(name)}=${REDACTED}`).join("&");
  return `${parsed.protocol}//${auth}${parsed.host}${path}${query === "" ? "" : `?${query}`}`;
}

/** `text` with every URL in it redacted (see {@link redactUrl}). */
export function redactText(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}

/**
 * The parts of `url` that {@link redactUrl} hides, decoded and raw (a message may quote either form), and the Basic
 * credentials they make.
 */
export function secretsOfUrl(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const raw = [
    parsed.username,
    parsed.password,
    ...parsed.pathname.split("/").filter((s) => !HARMLESS_SEGMENT.test(s)),
    ...parsed.searchParams.values(),
  ];
  const decoded = raw.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  // The Authorization header the chain adapter builds from `user:pass@` is as secret as they are.
  const basic =
    parsed.username !== "" || parsed.password !== ""
      ? [Buffer.from(`${decoded[0]}:${decoded[1]}`).toString("base64")]
      : [];
  return [...raw, ...decoded, ...basic];
}

/** Secrets shorter than this are not searched for (they would blank out ordinary words). */
const MIN_SECRET_LENGTH = 4;

/** Whether `url` carries anything {@link redactUrl} would hide: credentials, a key in its path or query. */
export const urlHoldsSecrets = (url: string): boolean =>
  secretsOfUrl(url).some((secret) => secret.length >= MIN_SECRET_LENGTH);

/**
 * A function that redacts every URL in a text, and every occurrence of the given secrets (a private key with and
 * without its 0x, a password, the secret parts of the configured URLs) wherever they appear, case-insensitively.
 */
export function createRedactor(secrets: (string | undefined)[]): (text: string) => string {
  const wanted = new Set<string>();
  for (const secret of secrets) {
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH) continue;
    wanted.add(secret);
    if (/^0x[0-9a-f]+$/i.test(secret)) wanted.add(secret.slice(2));
  }
  const list = [...wanted].sort((a, b) => b.length - a.length);
  const pattern =
    list.length === 0
      ? undefined
      : new RegExp(list.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "gi");
  return (text) => {
    const urlsRedacted = redactText(text);
    return pattern === undefined ? urlsRedacted : urlsRedacted.replace(pattern, REDACTED);
  };
}

/** Where a Redis URL points (host:port), never its credentials: for the operator commands' messages. */
export function redisHostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "6379"}`;
  } catch {
    return "the configured REDIS_URL";
  }
}
