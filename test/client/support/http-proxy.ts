/**
 * A TCP proxy on a free port of 127.0.0.1 in front of a real HTTP server, for the client's retry tests: it forwards
 * bytes unchanged, records every request head and response head it sees, and, per request, as the test's `fault`
 * decides, drops the connection after the server answered (the client never gets the answer), holds the request
 * without forwarding it (no answer at all), or answers 502 itself with an HTML page.
 *
 *   const proxy = await startHttpProxy(relayerPort, (req, n) => (req.method === "POST" && n === 1 ? "drop" : undefined));
 *   ... proxy.requests, proxy.responses ...
 *   await proxy.close();
 */
import net from "node:net";
import type { AddressInfo } from "node:net";

export type SeenRequest = { method: string; path: string; headers: Record<string, string> };
/** drop: forward, then cut both connections when the answer arrives; hold: never forward; bad-gateway: answer 502. */
export type Fault = "drop" | "hold" | "bad-gateway" | undefined;

export type HttpProxy = {
  url: string;
  requests: SeenRequest[];
  /** Response heads as the server sent them (status line and headers, lower-cased names), in arrival order. */
  responses: { status: number; headers: Record<string, string>; delivered: boolean }[];
  close(): Promise<void>;
};

function parseHead(text: string): { first: string; headers: Record<string, string> } {
  const [first, ...lines] = text.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(":");
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return { first, headers };
}

/**
 * `fault(request, n)` is asked once per request; n counts the requests with the same method and path (1 = first).
 */
export async function startHttpProxy(
  targetPort: number,
  fault: (request: SeenRequest, n: number) => Fault = () => undefined,
): Promise<HttpProxy> {
  const requests: SeenRequest[] = [];
  const responses: HttpProxy["responses"] = [];
  const counts = new Map<string, number>();
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    sockets.add(client);
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(upstream);
    let pending = Buffer.alloc(0);
    let bodyLeft = 0;
    let dropNext = false;
    let held = false;
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);

    client.on("data", (chunk: Buffer) => {
      if (held) return;
      pending = Buffer.concat([pending, chunk]);
      let forward = Buffer.alloc(0);
      for (;;) {
        if (bodyLeft > 0) {
          const take = Math.min(bodyLeft, pending.length);
          forward = Buffer.concat([forward, pending.subarray(0, take)]);
          pending = pending.subarray(take);
          bodyLeft -= take;
          if (bodyLeft > 0) break;
          continue;
        }
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) break;
        const headBytes = pending.subarray(0, end + 4);
        const { first, headers } = parseHead(headBytes.toString("latin1"));
        const [method, path] = first.split(" ");
        const request = { method, path, headers };
        requests.push(request);
        const id = `${method} ${path}`;
        const n = (counts.get(id) ?? 0) + 1;
        counts.set(id, n);
        pending = pending.subarray(end + 4);
        bodyLeft = Number(headers["content-length"] ?? 0);
        const what = fault(request, n);
        if (what === "hold") {
          held = true;
          return;
        }
        if (what === "bad-gateway") {
          const page = "<html><body>502 Bad Gateway</body></html>";
          client.end(
            `HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: ${page.length}\r\n` +
              `connection: close\r\n\r\n${page}`,
          );
          upstream.destroy();
          return;
        }
        if (what === "drop") dropNext = true;
        forward = Buffer.concat([forward, headBytes]);
      }
      if (forward.length > 0) upstream.write(forward);
    });

    upstream.on("data", (chunk: Buffer) => {
      const text = chunk.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (text.startsWith("HTTP/1.1 ") && end > 0) {
        const { first, headers } = parseHead(text.slice(0, end));
        responses.push({ status: Number(first.split(" ")[1]), headers, delivered: !dropNext });
      }
      if (dropNext) {
        dropNext = false;
        cut();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    responses,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
