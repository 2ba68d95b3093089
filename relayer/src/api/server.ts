/**
 * Serving an express app over HTTP: listen, answer unparsable requests with a problem, close cleanly.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Express } from "express";
import { problem, rawProblemResponse } from "./problems";

/** How long close() lets in-flight requests finish before cutting their connections. */
export const CLOSE_GRACE_MS = 5_000;

export type RunningServer = {
  /** The bound port (useful with port 0). */
  port: number;
  server: Server;
  /** Stops accepting, closes idle keep-alive connections at once and busy ones after their response. */
  close(): Promise<void>;
};

/** Answers a request node could not parse (too large a head, garbage, timeout) with a problem, then closes. */
function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const body =
    error.code === "HPE_HEADER_OVERFLOW"
      ? problem("headers-too-large", "The request line and headers are too large.")
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? problem("request-timeout", "The request was not received in time.")
        : problem("malformed-request", "The request is not valid HTTP/1.1.");
  socket.end(rawProblemResponse(body));
}

export async function startServer(app: Express, port: number, host: string): Promise<RunningServer> {
  const server = createServer(app);
  server.on("clientError", onClientError);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        force.unref();
        server.close((error) => {
          clearTimeout(force);
          if (error) reject(error);
          else resolve();
        });
        // Keep-alive connections waiting for a next request would hold close() open until they time out.
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
