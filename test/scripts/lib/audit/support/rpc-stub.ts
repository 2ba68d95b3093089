/**
 * A JSON-RPC endpoint on 127.0.0.1 whose every answer a test writes: `handle(method, params)` returns the result,
 * or throws an RpcFault for a JSON-RPC error (anything else it throws answers as an internal error, -32603). For the audit's log scan and its command's setup errors, where a real
 * node could not fail on cue.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** A JSON-RPC error answer. */
export class RpcFault extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "RpcFault";
  }
}

export type RpcHandler = (method: string, params: unknown[]) => unknown;

export type RpcStub = { url: string; close(): Promise<void> };

/** Starts the endpoint on a free port. */
export async function startRpcStub(handle: RpcHandler): Promise<RpcStub> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", async () => {
      const request = JSON.parse(body) as { id: number; method: string; params: unknown[] };
      let answer: object;
      try {
        answer = { result: await handle(request.method, request.params) };
      } catch (error) {
        const code = error instanceof RpcFault ? error.code : -32603;
        answer = { error: { code, message: error instanceof Error ? error.message : String(error) } };
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ jsonrpc: "2.0", id: request.id, ...answer }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A quantity as JSON-RPC writes it. */
export const hex = (n: number): string => `0x${n.toString(16)}`;
