/**
 * The relayer's options (`options.ts`): the environment and the command line (`--x=y`, `--x y`), their precedence,
 * defaults, what is refused and how, `--help` and the README table built from the one list, and the process's exit
 * code on a usage error.
 */
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { Redis } from "ioredis";
import { testRedisUrl } from "../support/redis";
import { OptionsError } from "../../relayer/src/errors";
import {
  helpText,
  OPTIONS,
  optionsTable,
  parseOptions,
  type Options,
  type OptionSpec,
} from "../../relayer/src/options";
import { runToEnd } from "./support/relayer-process";

/** The two options without a default. */
const REQUIRED = { RPC_URL: "http://127.0.0.1:8545", DEPLOYMENT: "deployments/localhost.json" };

/** The message of the OptionsError that parsing `env` and `argv` throws (fails if it parses). */
function refusal(env: Record<string, string | undefined>, argv: string[] = []): string {
  try {
    parseOptions(env, argv);
  } catch (error) {
    expect(error).to.be.instanceOf(OptionsError);
    return (error as Error).message;
  }
  expect.fail(`parsed ${JSON.stringify({ env, argv })}`);
}

// The Options type is inferred from the schema: a change of an option's type shows here at compile time.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const _optionsType: Equal<
  Options,
  {
    rpcUrl: string;
    deployment: string;
    redisUrl: string;
    redisCluster?: { host: string; port: number }[] | undefined;
    redisSentinels?: { host: string; port: number }[] | undefined;
    redisSentinelName: string;
    redisPrefix: string;
    port: number;
    host: string;
    confirmations: number;
    pollIntervalMs: number;
    logRangeMax: number;
    leaseTtlMs: number;
    relayerKey?: string | undefined;
    relayerKeystore?: string | undefined;
    relayerKeystorePassword?: string | undefined;
    corsOrigins: string[];
    readsRequireKey: boolean;
    rateLimitPerMinute: number;
    dailyGasPerKey: bigint;
    logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
    indexer: boolean;
    logFormat: "auto" | "json" | "pretty";
    readyMaxLagBlocks: number;
    submitBatchWindowMs: number;
    submitMaxBatch: number;
    submitBumpAfterMs: number;
    submitBumpPercent: number;
    maxFeePerGas?: bigint | undefined;
    submitPollMs: number;
    submitLeaseMs: number;
    submitGasMarginPercent: number;
    // the read path
    rateLimitAnonymous: "local" | "shared";
    finalCacheEntries: number;
    eventsRetentionDays: number;
    webhookSecretGraceHours: number;
    webhookAllowPrivate: boolean;
    webhookTimeoutMs: number;
    webhookBackoffMs: number;
    // orders
    orderExpiryS: number;
    orderAcceptS: number;
    orderLateGraceS: number;
    orderReleaseWindowS: number;
    orderSweepMs: number;
    lockDelegateKey?: string | undefined;
    acceptorHeartbeatMs: number;
    denyList?: string | undefined;
    orderReserveGraceMs: number;
    evidenceDir: string;
    evidenceS3Url?: string | undefined;
    evidenceS3Region: string;
    evidenceS3AccessKey?: string | undefined;
    evidenceS3SecretKey?: string | undefined;
    evidenceMaxBytes: number;
    messageMaxChars: number;
    disputeAlertS: number;
    keeper: boolean;
    keeperIntervalMs: number;
  }
> = true;

/** The events', webhooks' and matching's options at their defaults. */
const EVENTS_DEFAULTS = {
  eventsRetentionDays: 30,
  webhookSecretGraceHours: 24,
  webhookAllowPrivate: false,
  webhookTimeoutMs: 10_000,
  webhookBackoffMs: 10_000,
  // orders (relayer/src/orders)
  orderExpiryS: 900,
  orderAcceptS: 60,
  orderLateGraceS: 3600,
  orderReleaseWindowS: 3600,
  orderSweepMs: 500,
  acceptorHeartbeatMs: 60_000,
  denyList: undefined,
  lockDelegateKey: undefined,
  orderReserveGraceMs: 60_000,
  // disputes (relayer/src/disputes)
  evidenceDir: "data/evidence",
  evidenceS3Url: undefined,
  evidenceS3Region: "us-east-1",
  evidenceS3AccessKey: undefined,
  evidenceS3SecretKey: undefined,
  evidenceMaxBytes: 5_242_880,
  messageMaxChars: 4000,
  disputeAlertS: 21_600,
  keeper: true,
  keeperIntervalMs: 5000,
};

/** The write side's options left at their defaults. */
const WRITE_DEFAULTS = {
  relayerKeystore: undefined,
  relayerKeystorePassword: undefined,
  corsOrigins: [],
  readsRequireKey: false,
  rateLimitPerMinute: 6000,
  dailyGasPerKey: 20_000_000n,
  // the read path
  rateLimitAnonymous: "local",
  finalCacheEntries: 5000,
};

describe("relayer options", function () {
  describe("parseOptions", function () {
    it("fills every option that has a default, and parses numbers and switches", function () {
      expect(_optionsType).to.equal(true);
      expect(parseOptions(REQUIRED)).to.deep.equal({
        rpcUrl: REQUIRED.RPC_URL,
        deployment: REQUIRED.DEPLOYMENT,
        redisUrl: "redis://127.0.0.1:6379",
        redisCluster: undefined,
        redisSentinels: undefined,
        redisSentinelName: "mymaster",
        redisPrefix: "escrow",
        port: 8080,
        host: "127.0.0.1",
        confirmations: 12,
        pollIntervalMs: 1000,
        logRangeMax: 10_000,
        leaseTtlMs: 3000,
        relayerKey: undefined,
        ...WRITE_DEFAULTS,
        logLevel: "info",
        indexer: true,
        logFormat: "auto",
        readyMaxLagBlocks: 5,
        submitBatchWindowMs: 250,
        submitMaxBatch: 100,
        submitBumpAfterMs: 30_000,
        submitBumpPercent: 12.5,
        maxFeePerGas: undefined,
        submitPollMs: 1000,
        submitLeaseMs: 15_000,
        submitGasMarginPercent: 25,
        ...EVENTS_DEFAULTS,
      });
    });

    it("reads every option from its environment variable", function () {
      const key = "0x" + "ab".repeat(32);
      const options = parseOptions({
        ...REQUIRED,
        REDIS_URL: "redis://redis:6380",
        REDIS_CLUSTER: "10.0.0.1:7000,redis-b:7001",
        REDIS_SENTINELS: "sentinel:26379",
        REDIS_SENTINEL_NAME: "escrow-master",
        REDIS_PREFIX: "escrow-test",
        PORT: "0",
        HOST: "0.0.0.0",
        CONFIRMATIONS: "1",
        POLL_INTERVAL_MS: "10",
        LOG_RANGE_MAX: "2",
        LEASE_TTL_MS: "500",
        RELAYER_KEY: key,
        LOG_LEVEL: "silent",
        INDEXER: "off",
        LOG_FORMAT: "pretty",
        READY_MAX_LAG_BLOCKS: "2",
        SUBMIT_BATCH_WINDOW_MS: "0",
        SUBMIT_MAX_BATCH: "7",
        SUBMIT_BUMP_AFTER_MS: "5000",
        SUBMIT_BUMP_PERCENT: "20",
        MAX_FEE_PER_GAS: "100000000000",
        SUBMIT_POLL_MS: "50",
        SUBMIT_LEASE_MS: "2000",
        SUBMIT_GAS_MARGIN_PERCENT: "10",
        EVENTS_RETENTION_DAYS: "0.5",
        WEBHOOK_SECRET_GRACE_HOURS: "1",
        WEBHOOK_ALLOW_PRIVATE: "on",
        WEBHOOK_TIMEOUT_MS: "500",
        WEBHOOK_BACKOFF_MS: "20",
        ORDER_EXPIRY_S: "120",
        ORDER_ACCEPT_S: "5",
        ORDER_LATE_GRACE_S: "600",
        ORDER_RELEASE_WINDOW_S: "900",
        ORDER_SWEEP_MS: "50",
        LOCK_DELEGATE_KEY: key,
        ACCEPTOR_HEARTBEAT_MS: "5000",
        DENY_LIST: "deny.txt",
        ORDER_RESERVE_GRACE_MS: "3000",
        EVIDENCE_DIR: "/var/evidence",
        EVIDENCE_S3_URL: "http://127.0.0.1:9000/evidence",
        EVIDENCE_S3_REGION: "eu-west-1",
        EVIDENCE_S3_ACCESS_KEY: "AKIDEXAMPLE",
        EVIDENCE_S3_SECRET_KEY: "wJalrXUtnFEMI",
        EVIDENCE_MAX_BYTES: "2048",
        MESSAGE_MAX_CHARS: "500",
        DISPUTE_ALERT_S: "60",
        KEEPER: "off",
        KEEPER_INTERVAL_MS: "200",
      });
      expect(options).to.deep.equal({
        rpcUrl: REQUIRED.RPC_URL,
        deployment: REQUIRED.DEPLOYMENT,
        redisUrl: "redis://redis:6380",
        redisCluster: [
          { host: "10.0.0.1", port: 7000 },
          { host: "redis-b", port: 7001 },
        ],
        redisSentinels: [{ host: "sentinel", port: 26379 }],
        redisSentinelName: "escrow-master",
        redisPrefix: "escrow-test",
        port: 0,
        host: "0.0.0.0",
        confirmations: 1,
        pollIntervalMs: 10,
        logRangeMax: 2,
        leaseTtlMs: 500,
        relayerKey: key,
        ...WRITE_DEFAULTS,
        logLevel: "silent",
        indexer: false,
        logFormat: "pretty",
        readyMaxLagBlocks: 2,
        submitBatchWindowMs: 0,
        submitMaxBatch: 7,
        submitBumpAfterMs: 5000,
        submitBumpPercent: 20,
        maxFeePerGas: 100_000_000_000n,
        submitPollMs: 50,
        submitLeaseMs: 2000,
        submitGasMarginPercent: 10,
        eventsRetentionDays: 0.5,
        webhookSecretGraceHours: 1,
        webhookAllowPrivate: true,
        webhookTimeoutMs: 500,
        webhookBackoffMs: 20,
        orderExpiryS: 120,
        orderAcceptS: 5,
        orderLateGraceS: 600,
        orderReleaseWindowS: 900,
        orderSweepMs: 50,
        lockDelegateKey: key,
        acceptorHeartbeatMs: 5000,
        denyList: "deny.txt",
        orderReserveGraceMs: 3000,
        evidenceDir: "/var/evidence",
        evidenceS3Url: "http://127.0.0.1:9000/evidence",
        evidenceS3Region: "eu-west-1",
        evidenceS3AccessKey: "AKIDEXAMPLE",
        evidenceS3SecretKey: "wJalrXUtnFEMI",
        evidenceMaxBytes: 2048,
        messageMaxChars: 500,
        disputeAlertS: 60,
        keeper: false,
        keeperIntervalMs: 200,
      });
    });

    it("takes flags as --x=y and as --x y, a value holding '=' whole", function () {
      const options = parseOptions({}, [
        "--rpc-url=http://node:8545",
        "--deployment",
        "file.json",
        "--redis-url=redis://h:1/?a=b",
        "--port",
        "9000",
        "--indexer=off",
      ]);
      expect(options).to.deep.include({
        rpcUrl: "http://node:8545",
        deployment: "file.json",
        redisUrl: "redis://h:1/?a=b",
        port: 9000,
        indexer: false,
      });
    });

    it("lets a flag win over the environment, and treats an empty variable as unset", function () {
      const env = { ...REQUIRED, PORT: "7000", CONFIRMATIONS: "3", HOST: "" };
      expect(parseOptions(env, ["--port", "7001"])).to.deep.include({
        port: 7001,
        confirmations: 3,
        host: "127.0.0.1",
      });
      expect(parseOptions(env, ["--confirmations=4", "--confirmations=5"])).to.deep.include({ confirmations: 5 });
    });

    it("refuses an unknown flag and an argument that is not a flag", function () {
      expect(refusal(REQUIRED, ["--nope", "1"])).to.equal("unknown option --nope");
      expect(refusal(REQUIRED, ["--rpc-url-x=1"])).to.equal("unknown option --rpc-url-x");
      expect(refusal(REQUIRED, ["8080"])).to.equal("unexpected argument 8080");
      expect(refusal(REQUIRED, ["-p", "8080"])).to.equal("unexpected argument -p");
    });

    it("refuses a flag without a value", function () {
      expect(refusal(REQUIRED, ["--port"])).to.equal("option --port needs a value");
      expect(refusal(REQUIRED, ["--host=0.0.0.0", "--confirmations"])).to.equal("option --confirmations needs a value");
    });

    it("refuses bad values, every problem on a line of its own named by the variable", function () {
      const lines = refusal({
        RPC_URL: "not a url",
        PORT: "eighty",
        CONFIRMATIONS: "0",
        LEASE_TTL_MS: "1.5",
        REDIS_PREFIX: "a b",
        RELAYER_KEY: "0x12",
        LOG_LEVEL: "loud",
        INDEXER: "maybe",
      }).split("\n");
      expect(lines.map((l) => l.split(":")[0])).to.deep.equal([
        "RPC_URL",
        "DEPLOYMENT",
        "REDIS_PREFIX",
        "PORT",
        "CONFIRMATIONS",
        "LEASE_TTL_MS",
        "RELAYER_KEY",
        "LOG_LEVEL",
        "INDEXER",
      ]);
      expect(lines[0]).to.equal("RPC_URL: RPC_URL must be an http:// or https:// URL (ws:// is not supported)");
      expect(lines[2]).to.equal("REDIS_PREFIX: REDIS_PREFIX may hold letters, digits, _ . -");
      expect(lines[6]).to.equal("RELAYER_KEY: RELAYER_KEY must be a 32-byte hex private key");
      // Bounds: the same checks whether the value comes from a flag or the environment.
      expect(refusal(REQUIRED, ["--port=65536"])).to.match(/^PORT: /);
      expect(refusal({ ...REQUIRED, POLL_INTERVAL_MS: "9" })).to.match(/^POLL_INTERVAL_MS: /);
    });

    it("when RPC_URL is ws:// or wss:// → refused at validation, naming http(s) as the only transports", function () {
      for (const url of ["ws://127.0.0.1:8546", "wss://mainnet.example/v3/abc"]) {
        expect(refusal({ ...REQUIRED, RPC_URL: url })).to.equal(
          "RPC_URL: RPC_URL must be an http:// or https:// URL (ws:// is not supported)",
        );
      }
      expect(parseOptions({ ...REQUIRED, RPC_URL: "https://u:p@rpc.example/v3/k" }).rpcUrl).to.equal(
        "https://u:p@rpc.example/v3/k",
      );
    });

    it("when --rpc-url or --redis-url carries credentials or a key → refused (the process list would show it)", function () {
      for (const flag of [
        "--rpc-url=https://alice:hunter22@rpc.example/",
        "--rpc-url=https://mainnet.example/v3/0123456789abcdef",
        "--redis-url=redis://:redispass@127.0.0.1:6379",
      ]) {
        const message = refusal(REQUIRED, [flag]);
        expect(message).to.match(/^(RPC|REDIS)_URL holds credentials or a key: set it in the environment/);
        expect(message).to.not.contain("hunter22").and.not.contain("0123456789abcdef").and.not.contain("redispass");
      }
      expect(parseOptions(REQUIRED, ["--rpc-url=http://node:8545/rpc"]).rpcUrl).to.equal("http://node:8545/rpc");
      expect(
        parseOptions({ ...REQUIRED, RPC_URL: "https://alice:hunter22@rpc.example/v3/0123456789abcdef" }).rpcUrl,
      ).to.contain("hunter22");
    });

    it("when HOST is unset → the API listens on 127.0.0.1 only (containers set 0.0.0.0)", function () {
      expect(parseOptions(REQUIRED).host).to.equal("127.0.0.1");
      expect(parseOptions({ ...REQUIRED, HOST: "0.0.0.0" }).host).to.equal("0.0.0.0");
    });

    it("when LOG_FORMAT is not auto, json or pretty → refused", function () {
      expect(refusal({ ...REQUIRED, LOG_FORMAT: "yaml" })).to.match(/^LOG_FORMAT: /);
    });
  });

  describe("--help and the options table", function () {
    it("lists every option with its variable, flag, meaning and default", function () {
      const lines = helpText().split("\n");
      expect(lines[0]).to.equal("usage: npm run relayer [-- --option value ...]");
      const rows = lines.filter((l) => l.startsWith("  "));
      expect(rows).to.have.length(Object.keys(OPTIONS).length);
      for (const [i, o] of Object.values(OPTIONS).entries()) {
        const flag = (o as OptionSpec).secret ? "(environment" : o.flag;
        expect(rows[i].split(/\s+/).slice(1, 3)).to.deep.equal([o.env, flag]);
        expect(rows[i]).to.contain(o.description);
        if (o.default !== undefined) expect(rows[i].endsWith(`(default ${o.default})`), rows[i]).to.equal(true);
        else expect(rows[i]).to.not.contain("(default");
      }
    });

    it("gives every option a flag named after its variable, and a default that parses", function () {
      for (const o of Object.values(OPTIONS)) {
        expect(o.flag).to.equal(`--${o.env.toLowerCase().replace(/_/g, "-")}`);
        if (o.default !== undefined) expect(o.schema.safeParse(o.default).success, o.env).to.equal(true);
      }
    });

    it("makes a Markdown table of every option for the README", function () {
      const table = optionsTable().split("\n");
      expect(table[0]).to.equal("| Variable | Flag | Default | Meaning |");
      expect(table).to.have.length(2 + Object.keys(OPTIONS).length);
      expect(table).to.include("| `PORT` | `--port` | `8080` | HTTP port of the API (0 picks a free port) |");
      expect(table).to.include(
        "| `RPC_URL` | `--rpc-url` |  | JSON-RPC endpoint of the chain, http(s) only (required); " +
          "`https://user:pass@host/...` sends basic auth |",
      );
      expect(table.find((row) => row.startsWith("| `RELAYER_KEY` |"))).to.match(
        /^\| `RELAYER_KEY` \| \(environment only\) \|/,
      );
    });

    it("refuses a secret given as a flag, which the process list would show, and takes it from the environment", function () {
      const key = `0x${"11".repeat(32)}`;
      for (const flag of [`--relayer-key=${key}`, "--relayer-keystore-password=pw"]) {
        const message = refusal(REQUIRED, [flag]);
        expect(message).to.match(/is a secret: set it in the environment/);
        expect(message).not.to.include(key);
      }
      expect(parseOptions({ ...REQUIRED, RELAYER_KEY: key }).relayerKey).to.equal(key);
    });

    it("parses the write side's options: CORS origins as a list, the gas budget as a bigint", function () {
      const parsed = parseOptions({
        ...REQUIRED,
        CORS_ORIGINS: "https://a.example, https://b.example,",
        DAILY_GAS_PER_KEY: "5000000",
      });
      expect(parsed.corsOrigins).to.deep.equal(["https://a.example", "https://b.example"]);
      expect(parsed.dailyGasPerKey).to.equal(5_000_000n);
      expect(parseOptions(REQUIRED).corsOrigins).to.deep.equal([]);
      expect(refusal({ ...REQUIRED, DAILY_GAS_PER_KEY: "0" })).to.match(/DAILY_GAS_PER_KEY must be positive/);
      expect(refusal({ ...REQUIRED, REDIS_CLUSTER: "h:1, h:2" })).to.match(/REDIS_CLUSTER must be host:port,host:port/);
      expect(refusal({ ...REQUIRED, REDIS_SENTINELS: "h:70000" })).to.match(/REDIS_SENTINELS: a port is 1 to 65535/);
    });

    it("relayer/README.md holds that table, cell for cell (however prettier aligned it)", function () {
      const cells = (row: string) =>
        row
          .split("|")
          .slice(1, -1)
          .map((cell) => cell.trim());
      const rows = (lines: string[]) => lines.filter((l) => !/^\|[\s|:-]+\|$/.test(l)).map(cells);
      const readme = fs.readFileSync(path.join(__dirname, "../../relayer/README.md"), "utf8").split("\n");
      const start = readme.findIndex((line) => /^\|\s*Variable\s*\|\s*Flag\s*\|/.test(line));
      expect(start, "the options table in relayer/README.md").to.be.greaterThan(-1);
      const end = readme.findIndex((line, i) => i > start && !line.startsWith("|"));
      expect(rows(readme.slice(start, end))).to.deep.equal(rows(optionsTable().split("\n")));
    });
  });

  describe("the process", function () {
    this.timeout(60_000);

    it("exits with 2 on a usage error, saying what is wrong above the help", async function () {
      const unknown = await runToEnd(["--nope"], { env: REQUIRED });
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.match(/^relayer: unknown option --nope\n\nusage: npm run relayer/);
      const bad = await runToEnd([], { env: { ...REQUIRED, PORT: "eighty" } });
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.match(/^relayer: PORT: /);
      const missing = await runToEnd(["--port", "1"]);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.contain("RPC_URL:").and.contain("DEPLOYMENT:");
    });

    it("when a usage error quotes a URL with credentials → stderr shows it redacted", async function () {
      const run = await runToEnd(["http://alice:hunter22@rpc.example/v3/0123456789abcdef"], { env: REQUIRED });
      expect(run.code).to.equal(2);
      expect(run.stderr).to.contain("unexpected argument http://***@rpc.example/v3/***");
      expect(run.stderr).to.not.contain("hunter22").and.not.contain("0123456789abcdef").and.not.contain("alice");
    });

    it("prints the help and exits with 0 on --help or -h", async function () {
      for (const flag of ["--help", "-h"]) {
        const run = await runToEnd([flag]);
        expect(run.code, flag).to.equal(0);
        expect(run.stdout.trim()).to.equal(helpText());
      }
    });

    it("answers --help through npm's entry point (relayer/launch.js) without building anything", async function () {
      const started = Date.now();
      const run = await runToEnd(["--port", "1", "--help"], { script: ["relayer/launch.js"] });
      expect(run.code).to.equal(0);
      expect(run.stdout.trim()).to.equal(helpText());
      expect(run.stderr).to.equal("");
      // A build (contracts and relayer) takes far longer than this.
      expect(Date.now() - started).to.be.lessThan(10_000);
    });

    it("runs `keys` through npm's entry point: create prints the secret once on stdout, list shows the key, revoke stops it", async function () {
      const env = { REDIS_URL: testRedisUrl(), REDIS_PREFIX: `test-launch-${Date.now()}` };
      const owner = `0x${"ab".repeat(20)}`;
      const launch = { env, script: ["relayer/launch.js"] };
      try {
        const created = await runToEnd(["keys", "create", "--scope", "party", "--owner", owner], launch);
        expect(created.code, created.stderr).to.equal(0);
        expect(created.stdout.trim()).to.match(/^sk_party_\w+$/);
        expect(created.stderr)
          .to.match(/shown only this once/)
          .and.not.include(created.stdout.trim());
        const id = /created (key_\w+)/.exec(created.stderr)![1];
        const listed = await runToEnd(["keys", "list"], launch);
        expect(listed.stdout).to.match(new RegExp(`^${id}\\s+party\\s+${owner}\\s.*active`));
        expect((await runToEnd(["keys", "revoke", id], launch)).code).to.equal(0);
        expect((await runToEnd(["keys", "list"], launch)).stdout).to.match(/revoked/);
        expect((await runToEnd(["keys", "create", "--scope", "root", "--owner", owner], launch)).code).to.equal(2);
      } finally {
        const redis = new Redis(env.REDIS_URL);
        const keys = await redis.keys(`${env.REDIS_PREFIX}:*`);
        if (keys.length > 0) await redis.del(...keys);
        await redis.quit();
      }
    });
  });
});
