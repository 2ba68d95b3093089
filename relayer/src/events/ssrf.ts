/**
 * Where a webhook may point: http(s) only, and never at an address of the relayer's own networks (loopback,
 * private, link-local, unique-local, carrier-grade NAT, multicast, reserved) unless the operator allows it. A host
 * name is resolved and every address checked; deliveries check again at connect time (delivery.ts passes
 * {@link guardedLookup} to the request), so a name that later resolves elsewhere (DNS rebinding) is refused too.
 */
import dns from "node:dns";
import net from "node:net";

const BLOCKED = new net.BlockList();
for (const [address, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  BLOCKED.addSubnet(address, prefix, "ipv4");
}
for (const [address, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  ["64:ff9b::", 96],
] as const) {
  BLOCKED.addSubnet(address, prefix, "ipv6");
}

/** True when `address` (an IP literal) is one a webhook may not reach. */
export function isBlockedAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return true;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return BLOCKED.check(mapped[1], "ipv4");
    return BLOCKED.check(address, "ipv6");
  }
  return BLOCKED.check(address, "ipv4");
}

/** How long resolving an endpoint's host name may take. */
export const RESOLVE_TIMEOUT_MS = 3_000;

/** Why `url` may not be a webhook target, or undefined when it may. */
export async function refuseTarget(url: string, allowPrivate: boolean): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "must use http or https";
  if (parsed.username !== "" || parsed.password !== "") return "must not carry credentials";
  if (allowPrivate) return undefined;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (net.isIP(host) !== 0)
    return isBlockedAddress(host) ? `points at a private or local address (${host})` : undefined;
  let addresses: dns.LookupAddress[];
  try {
    addresses = await Promise.race([
      dns.promises.lookup(host, { all: true, verbatim: true }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), RESOLVE_TIMEOUT_MS).unref()),
    ]);
  } catch {
    return `has a host name that does not resolve (${host})`;
  }
  const blocked = addresses.find((a) => isBlockedAddress(a.address));
  if (addresses.length === 0) return `has a host name that does not resolve (${host})`;
  return blocked ? `resolves to a private or local address (${blocked.address})` : undefined;
}

/** dns.lookup for http.request that refuses blocked addresses (connect-time check). */
export const guardedLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, "", 0);
    const list = addresses as unknown as dns.LookupAddress[];
    const bad = list.find((a) => isBlockedAddress(a.address));
    if (bad || list.length === 0) {
      return callback(
        Object.assign(new Error(`webhook target ${hostname} resolves to a private or local address`), {
          code: "EBLOCKED",
        }),
        "",
        0,
      );
    }
    if ((options as { all?: boolean }).all)
      return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    callback(null, list[0].address, list[0].family);
  });
};
