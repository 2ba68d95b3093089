/**
 * Serving an express app over HTTP: listen, answer unparsable requests with a problem, close cleanly. Node's HTTP
 * layer answers some requests itself before the app sees them (CONNECT: the connection dropped; HTTP/1.1 without
 * Host: a bare 400; an Expect other than 100-continue: a bare 417): each is caught here and answered with a
 * problem, like every other refusal of the API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Express } from "express";
import { PROBLEM_CONTENT_TYPE, problem, rawProblemResponse, type Problem } from "./problems";

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
  const response = rawProblemResponse(body);
  // A HEAD's answer has no body: a client reading one would take the body for the start of a next response.
  const head = /^HEAD /.test((error as { rawPacket?: Buffer }).rawPacket?.toString("latin1") ?? "");
  socket.end(head ? response.slice(0, response.indexOf("\r\n\r\n") + 4) : response);
}

/** Writes a problem on a response that express never saw, and closes the connection after it. */
function answerRaw(res: ServerResponse, body: Problem, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(body.status, {
    ...headers,
    "Content-Type": `${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
    "Content-Length": String(Buffer.byteLength(json)),
    Connection: "close",
  });
  res.end(json);
}

/**
 * An HTTP/1.1 request without Host (RFC 9112 §3.2: a 400): answered here because node's own check (switched off
 * below) answers it with an empty body.
 */
const lacksHost = (req: IncomingMessage) =>
  req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && req.headers.host === undefined;

/** A complete request handler: the edge checks above, then the app. Exported for tests of the edges. */
export function edgeHandler(app: Express): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (lacksHost(req)) {
      answerRaw(res, problem("malformed-request", "An HTTP/1.1 request must carry a Host header."));
      return;
    }
    app(req, res);
  };
}

export async function startServer(app: Express, port: number, host: string): Promise<RunningServer> {
  const server = createServer({ requireHostHeader: false }, edgeHandler(app));
  server.on("clientError", onClientError);
  // Without a listener node drops a CONNECT's connection without a word; the API is no proxy.
  server.on("connect", (req: IncomingMessage, socket: Duplex) => {
    const body = problem("method-not-allowed", "CONNECT is not allowed: this server is not a proxy.");
    socket.on("error", () => socket.destroy());
    // The socket left node's HTTP timeouts with the CONNECT: close it once the answer is out, whatever the client does.
    socket.end(rawProblemResponse(body), () => socket.destroy());
  });
  // With a listener, node hands an unknown Expect to it instead of answering a bare 417.
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) => {
    answerRaw(res, problem("expectation-failed", "The only expectation this server meets is Expect: 100-continue."));
  });
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
