/**
 * What every part shares (relayer/src/common.ts): the log destination (redacted; JSON, or pretty on a terminal as
 * LOG_FORMAT says) and the metrics registry (Node process metrics beside the relayer's own).
 */
import { expect } from "chai";
import { createCommon, prettyLine } from "../../relayer/src/common";
import { parseOptions } from "../../relayer/src/options";

const REQUIRED = { RPC_URL: "http://127.0.0.1:8545", DEPLOYMENT: "deployments/localhost.json" };

/** A logger writing into `lines`, as createCommon builds it for `env` on an output that is a terminal or not. */
function loggerFor(env: Record<string, string>, isTTY: boolean) {
  const lines: string[] = [];
  const common = createCommon(parseOptions({ ...REQUIRED, ...env }), undefined, {
    isTTY,
    write: (text: string) => lines.push(text),
  });
  return { logger: common.logger, lines };
}

describe("relayer common", function () {
  describe("log format", function () {
    it("when LOG_FORMAT is auto and stdout is not a terminal → one JSON object a line", function () {
      const { logger, lines } = loggerFor({}, false);
      logger.info({ msg: "api listening", port: 8080 });
      expect(lines).to.have.length(1);
      expect(JSON.parse(lines[0])).to.include({ level: 30, msg: "api listening", port: 8080, service: "relayer" });
    });

    it("when LOG_FORMAT is auto and stdout is a terminal → level, time, message and key=value on one line", function () {
      const { logger, lines } = loggerFor({}, true);
      logger.warn({ msg: "rpc request failed", method: "eth_getLogs", error: "server response 503" });
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(
        /^\d\d:\d\d:\d\d\.\d{3} WARN {2}rpc request failed method=eth_getLogs error="server response 503"\n$/,
      );
    });

    it("when LOG_FORMAT is json on a terminal → JSON; when pretty off a terminal → pretty", function () {
      const json = loggerFor({ LOG_FORMAT: "json" }, true);
      json.logger.info("x");
      expect(JSON.parse(json.lines[0])).to.include({ msg: "x" });
      const pretty = loggerFor({ LOG_FORMAT: "pretty" }, false);
      pretty.logger.info("x");
      expect(pretty.lines[0]).to.match(/ INFO {2}x\n$/);
    });

    it("when a line carries an error → pretty shows its message, and its stack indented below", function () {
      const { logger, lines } = loggerFor({ LOG_FORMAT: "pretty" }, false);
      logger.error({ msg: "step failed", err: new Error("boom") });
      const [head, ...stack] = lines[0].trimEnd().split("\n");
      expect(head).to.match(/ ERROR step failed err=boom$/);
      expect(stack[0]).to.match(/^ {4}Error: boom$/);
      expect(stack.slice(1).every((l) => l.startsWith("        at ") || l.startsWith("    "))).to.equal(true);
    });

    it("when a line is not pino's JSON → pretty passes it through", function () {
      expect(prettyLine("plain")).to.equal("plain\n");
    });

    it("when a line quotes a configured secret or a URL's credentials → both paths write it redacted", function () {
      const key = `0x${"cd".repeat(32)}`;
      const env = {
        RPC_URL: "http://user:topsecret@127.0.0.1:1/v3/0a1b2c3d4e5f",
        REDIS_URL: "redis://:redispass@127.0.0.1:6379",
        RELAYER_KEY: key,
      };
      for (const isTTY of [false, true]) {
        const { logger, lines } = loggerFor(env, isTTY);
        logger.error({
          msg: "failed",
          url: env.RPC_URL,
          detail: `topsecret 0a1b2c3d4e5f redispass ${key.slice(2)}`,
          err: new Error(`connect ${env.REDIS_URL} with ${key}`),
        });
        const text = lines.join("");
        for (const secret of ["topsecret", "0a1b2c3d4e5f", "redispass", key.slice(2)]) {
          expect(text, `${isTTY ? "pretty" : "json"}: ${secret}`).to.not.contain(secret);
        }
        expect(text).to.contain("127.0.0.1:1/v3/***");
      }
    });
  });

  describe("metrics", function () {
    it("when /metrics is scraped → Node's process metrics are there under their standard names", async function () {
      const { metrics } = createCommon(parseOptions({ ...REQUIRED, LOG_LEVEL: "silent" }));
      const text = await metrics.registry.metrics();
      for (const name of [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "nodejs_eventloop_lag_seconds",
        "nodejs_heap_size_used_bytes",
        "relayer_indexed_block",
      ]) {
        expect(text).to.match(new RegExp(`^${name} `, "m"), name);
      }
    });
  });
});
