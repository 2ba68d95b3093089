/**
 * The operator's key commands (`auth/cli.ts`) run in-process against the real Redis: create prints the secret once
 * on stdout, list, revoke and rotate, usage errors (exit 2), an unreachable Redis (exit 1, its password never
 * printed), and the options they read (REDIS_URL and REDIS_PREFIX only).
 */
import { keysOf, testClusterNodes, type RedisClient } from "../../support/redis";
import { expect } from "chai";
import { createServer, type AddressInfo } from "node:net";
import { KEYS_USAGE, keysOptions, runKeysCommand } from "../../../relayer/src/auth/cli";
import { createKeyStore, keysBase, SECRET_PATTERN, type KeyStore } from "../../../relayer/src/auth/keys";
import { OptionsError } from "../../../relayer/src/errors";
import { connectRedis, redisUrl, testPrefix } from "./support";

const OWNER = "0x" + "Ab".repeat(20);

/** A port on which nothing listens. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("auth: keys command", function () {
  let redis: RedisClient;
  let space: ReturnType<typeof testPrefix>;
  let keys: KeyStore;

  before(async function () {
    redis = await connectRedis();
  });

  beforeEach(function () {
    space = testPrefix("cli");
    keys = createKeyStore({ redis, base: keysBase(space.prefix) });
  });

  afterEach(async function () {
    await space.clean(redis);
  });

  after(async function () {
    await redis?.quit();
  });

  /** Runs `keys <argv>` against the suite's prefix; returns the exit code and each stream's lines. */
  async function keysCommand(argv: string[], url = redisUrl()) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runKeysCommand(
      argv,
      // The test run's topology (a cluster under `npm run test:cluster`) unless a test names a URL of its own.
      { redisUrl: url, redisPrefix: space.prefix, redisCluster: url === redisUrl() ? testClusterNodes() : undefined },
      { out: (l) => out.push(l), err: (l) => err.push(l) },
    );
    return { code, out, err: err.join("\n") };
  }

  it("create prints only the secret on stdout, says on stderr it is shown once, and the secret works", async function () {
    const run = await keysCommand(["create", "--scope", "platform", "--owner", OWNER, "--label=shop one"]);
    expect(run.code).to.equal(0);
    expect(run.out).to.have.length(1);
    const [secret] = run.out;
    expect(secret)
      .to.match(SECRET_PATTERN)
      .and.match(/^sk_platform_/);
    const key = await keys.authenticate(secret);
    expect(key).to.deep.include({ scope: "platform", owner: OWNER.toLowerCase(), label: "shop one" });
    expect(run.err).to.contain(key!.id).and.contain("shown only this once");
    expect(run.err).to.not.contain(secret);
  });

  it("list shows each key on a line (id, scope, owner, created, state, label), revoke marks it revoked", async function () {
    const { key: a } = await keys.create({ scope: "read", owner: OWNER, label: "reader" });
    const { key: b } = await keys.create({ scope: "admin", owner: OWNER });
    const revoked = await keysCommand(["revoke", b.id]);
    expect(revoked.code).to.equal(0);
    expect(revoked.err).to.equal(`revoked ${b.id}`);
    const list = await keysCommand(["list"]);
    expect(list.code).to.equal(0);
    expect(list.out).to.have.length(2);
    expect(list.out[0].split(/\s+/)).to.deep.equal([
      a.id,
      "read",
      a.owner,
      new Date(a.createdAt * 1000).toISOString().replace(".000Z", "Z"),
      "active",
      "reader",
    ]);
    expect(list.out[1]).to.match(new RegExp(`^${b.id}\\s+admin\\s+${b.owner}\\s+\\S+\\s+revoked \\S+$`));
  });

  it("revoke of an unknown or revoked key → exit 1", async function () {
    const { key } = await keys.create({ scope: "read", owner: OWNER });
    await keys.revoke(key.id);
    for (const id of [key.id, "key_00000000000000000000"]) {
      const run = await keysCommand(["revoke", id]);
      expect(run.code).to.equal(1);
      expect(run.err).to.equal(`keys: no active key ${id}`);
    }
  });

  it("rotate prints the new secret; the old one works for --grace (default 3600 s), 0 stops it", async function () {
    const { secret: old, key } = await keys.create({ scope: "party", owner: OWNER });
    const run = await keysCommand(["rotate", key.id]);
    expect(run.code).to.equal(0);
    expect(run.out).to.have.length(1);
    expect((await keys.authenticate(run.out[0]))?.id).to.equal(key.id);
    const during = await keys.authenticate(old);
    expect(during?.expiresAt).to.be.within(Date.now() / 1000 + 3590, Date.now() / 1000 + 3601);
    expect(run.err).to.contain("for 3600 s more").and.not.contain(run.out[0]);
    const now = await keysCommand(["rotate", key.id, "--grace", "0"]);
    expect(now.code).to.equal(0);
    expect(await keys.authenticate(run.out[0])).to.equal(undefined);
    expect((await keys.authenticate(now.out[0]))?.id).to.equal(key.id);
  });

  it("rotate of an unknown key → exit 1", async function () {
    const run = await keysCommand(["rotate", "key_00000000000000000000"]);
    expect(run.code).to.equal(1);
    expect(run.out).to.deep.equal([]);
  });

  it("usage errors → exit 2 with the reason above the usage, nothing written", async function () {
    const cases: [string[], string][] = [
      [["frobnicate"], "unknown command frobnicate"],
      [["create", "--owner", OWNER], "--scope must be one of read, party, acceptor, gateway, platform, admin"],
      [["create", "--scope", "root", "--owner", OWNER], "--scope must be one of"],
      [["create", "--scope", "read"], "--owner must be a 0x address"],
      [["create", "--scope", "read", "--owner", OWNER, "--label", "a\nb"], "label must be 1 to 100"],
      [["create", "--scope", "read", "--owner", OWNER, "--nope", "1"], "unknown option --nope"],
      [["create", "--scope"], "option --scope needs a value"],
      [["list", "extra"], "unexpected argument extra"],
      [["revoke"], "revoke needs a key id"],
      [["rotate", "key_00000000000000000000", "--grace", "-5"], "--grace must be a whole number of seconds"],
    ];
    for (const [argv, reason] of cases) {
      const run = await keysCommand(argv);
      expect(run.code, argv.join(" ")).to.equal(2);
      expect(run.err, argv.join(" ")).to.contain(`keys: ${reason}`).and.contain(KEYS_USAGE);
    }
    expect((await keysCommand([])).code).to.equal(2);
    expect(await keysOf(redis, `${space.prefix}:*`)).to.deep.equal([]);
  });

  it("prints the usage and exits 0 on --help", async function () {
    const run = await keysCommand(["--help"]);
    expect(run.code).to.equal(0);
    expect(run.out.join("\n")).to.equal(KEYS_USAGE);
  });

  it("an unreachable Redis → exit 1 naming its host, never the URL's password", async function () {
    const port = await deadPort();
    const run = await keysCommand(["list"], `redis://admin:hunter2@127.0.0.1:${port}/0`);
    expect(run.code).to.equal(1);
    expect(run.err).to.equal(`keys: cannot reach Redis at 127.0.0.1:${port}`);
  });

  describe("keysOptions", function () {
    it("needs only Redis's options (REDIS_URL or REDIS_CLUSTER or REDIS_SENTINELS, REDIS_PREFIX), with the relayer's defaults", function () {
      expect(keysOptions({})).to.deep.equal({
        redisUrl: "redis://127.0.0.1:6379",
        redisCluster: undefined,
        redisSentinels: undefined,
        redisSentinelName: "mymaster",
        redisPrefix: "escrow",
      });
      expect(keysOptions({ REDIS_URL: "redis://r:6380", REDIS_PREFIX: "p1", PORT: "not checked" })).to.deep.equal({
        redisUrl: "redis://r:6380",
        redisCluster: undefined,
        redisSentinels: undefined,
        redisSentinelName: "mymaster",
        redisPrefix: "p1",
      });
      expect(keysOptions({ REDIS_CLUSTER: "10.0.0.1:7000,10.0.0.2:7001" }).redisCluster).to.deep.equal([
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
      ]);
    });

    it("refuses a bad REDIS_PREFIX as the relayer does", function () {
      expect(() => keysOptions({ REDIS_PREFIX: "a b" })).to.throw(
        OptionsError,
        "REDIS_PREFIX: REDIS_PREFIX may hold letters, digits, _ . -",
      );
    });
  });
});
