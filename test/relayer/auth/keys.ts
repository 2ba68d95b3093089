/**
 * The API key store (`auth/keys.ts`) against the real Redis: secrets shown once and stored only hashed,
 * authentication, revocation, rotation with a grace period, listing, deal refs registered by platform keys, refused
 * input, and the deadline on a Redis that stops answering.
 */
import { type RedisClient, keysOf } from "../../support/redis";
import { expect } from "chai";
import {
  createKeyStore,
  GRACE_MAX_SECONDS,
  SECRET_PATTERN,
  secretHash,
  type KeyStore,
  type Scope,
} from "../../../relayer/src/auth/keys";
import { connectRedis, startStallingRelay, testPrefix } from "./support";

const OWNER = "0x" + "Ab".repeat(20);
const OTHER = "0x" + "cd".repeat(20);
const REF = "0x" + "11".repeat(32);
const T0 = 1_900_000_000;

describe("auth: API key store", function () {
  let redis: RedisClient;
  let space: ReturnType<typeof testPrefix>;
  let clock: number;
  let keys: KeyStore;

  before(async function () {
    redis = await connectRedis();
  });

  beforeEach(function () {
    space = testPrefix("keys");
    clock = T0;
    keys = createKeyStore({ redis, base: space.base, now: () => clock });
  });

  afterEach(async function () {
    await space.clean(redis);
  });

  after(async function () {
    await redis?.quit();
  });

  /** Every string value stored under the suite's prefix (keys, string values, hash fields and values, members). */
  async function everythingStored(): Promise<string> {
    const out: string[] = [];
    for (const key of await keysOf(redis, `${space.prefix}:*`)) {
      out.push(key);
      const type = await redis.type(key);
      if (type === "string") out.push((await redis.get(key)) ?? "");
      if (type === "hash") out.push(...Object.entries(await redis.hgetall(key)).flat());
      if (type === "zset") out.push(...(await redis.zrange(key, 0, -1)));
    }
    return out.join("\n");
  }

  describe("create and authenticate", function () {
    it("gives a secret sk_<scope>_… once, stores only its SHA-256, and authenticates it to the key", async function () {
      const { secret, key } = await keys.create({ scope: "party", owner: OWNER, label: "shop 1" });
      expect(secret)
        .to.match(/^sk_party_[1-9A-HJ-NP-Za-km-z]{32,64}$/)
        .and.match(SECRET_PATTERN);
      expect(key).to.deep.equal({
        id: key.id,
        scope: "party",
        owner: OWNER.toLowerCase(),
        label: "shop 1",
        createdAt: T0,
      });
      const stored = await everythingStored();
      expect(stored).to.not.contain(secret);
      expect(stored).to.not.contain(secret.slice(9));
      expect(stored).to.contain(secretHash(secret));
      expect(await keys.authenticate(secret)).to.deep.equal(key);
    });

    it("gives every scope its own prefix, and two keys different secrets and ids", async function () {
      const scopes: Scope[] = ["read", "party", "acceptor", "platform", "admin"];
      const made = await Promise.all(scopes.map((scope) => keys.create({ scope, owner: OWNER })));
      made.forEach(({ secret, key }, i) => {
        expect(secret.startsWith(`sk_${scopes[i]}_`)).to.equal(true);
        expect(key.scope).to.equal(scopes[i]);
      });
      expect(new Set(made.map((m) => m.secret)).size).to.equal(5);
      expect(new Set(made.map((m) => m.key.id)).size).to.equal(5);
    });

    it("answers undefined for an unknown, a malformed or a re-scoped secret", async function () {
      const { secret } = await keys.create({ scope: "read", owner: OWNER });
      expect(await keys.authenticate(secret.replace("sk_read_", "sk_admin_"))).to.equal(undefined);
      expect(await keys.authenticate(`${secret.slice(0, -1)}${secret.endsWith("2") ? "3" : "2"}`)).to.equal(undefined);
      for (const bad of [
        "",
        "sk_read_",
        "Bearer x",
        `${secret} `,
        `sk_root_${secret.slice(8)}`,
        "sk_read_0OIl".repeat(4),
      ]) {
        expect(await keys.authenticate(bad), bad).to.equal(undefined);
      }
    });

    it("refuses a bad scope, owner or label", async function () {
      const refused = async (input: Parameters<KeyStore["create"]>[0], message: RegExp) => {
        const error = await keys.create(input).then(
          () => expect.fail("created"),
          (e: Error) => e,
        );
        expect(error).to.be.instanceOf(RangeError);
        expect(error.message).to.match(message);
      };
      await refused({ scope: "root" as Scope, owner: OWNER }, /^scope must be one of read, party/);
      await refused({ scope: "read", owner: "0x1234" }, /^owner must be a 0x address/);
      await refused({ scope: "read", owner: OWNER, label: "" }, /^label must be 1 to 100/);
      await refused({ scope: "read", owner: OWNER, label: "x".repeat(101) }, /^label/);
      await refused({ scope: "read", owner: OWNER, label: "line\nbreak" }, /^label/);
      expect(await keysOf(redis, `${space.prefix}:*`)).to.deep.equal([]);
    });
  });

  describe("revoke", function () {
    it("stops the key at once, lists it with expiresAt, and answers false the second time", async function () {
      const { secret, key } = await keys.create({ scope: "acceptor", owner: OWNER });
      clock = T0 + 50;
      expect(await keys.revoke(key.id)).to.equal(true);
      expect(await keys.authenticate(secret)).to.equal(undefined);
      expect(await keys.list()).to.deep.equal([{ ...key, expiresAt: T0 + 50 }]);
      expect(await keys.revoke(key.id)).to.equal(false);
      expect(await keys.revoke("key_00000000000000000000")).to.equal(false);
      expect(await keys.revoke("not an id")).to.equal(false);
    });

    it("stops both secrets of a key in its rotation window", async function () {
      const { secret: first, key } = await keys.create({ scope: "party", owner: OWNER });
      const { secret: second } = await keys.rotate(key.id, 3600);
      expect(await keys.revoke(key.id)).to.equal(true);
      expect(await keys.authenticate(first)).to.equal(undefined);
      expect(await keys.authenticate(second)).to.equal(undefined);
    });
  });

  describe("rotate", function () {
    it("keeps the key id; the previous secret works until the grace ends, with expiresAt, the new one after", async function () {
      const { secret: old, key } = await keys.create({ scope: "platform", owner: OWNER, label: "p" });
      clock = T0 + 10;
      const rotated = await keys.rotate(key.id, 600);
      expect(rotated.key).to.deep.equal(key);
      expect(rotated.secret).to.not.equal(old);
      expect(await keys.authenticate(rotated.secret)).to.deep.equal(key);
      expect(await keys.authenticate(old)).to.deep.equal({ ...key, expiresAt: T0 + 610 });
      clock = T0 + 609;
      expect(await keys.authenticate(old)).to.deep.equal({ ...key, expiresAt: T0 + 610 });
      clock = T0 + 610;
      expect(await keys.authenticate(old)).to.equal(undefined);
      expect(await keys.authenticate(rotated.secret)).to.deep.equal(key);
      expect(await keys.list()).to.deep.equal([key]);
    });

    it("lets the previous secret's entry expire in Redis with the grace", async function () {
      clock = Math.floor(Date.now() / 1000);
      const { secret: old, key } = await keys.create({ scope: "party", owner: OWNER });
      await keys.rotate(key.id, 600);
      const ttl = await redis.ttl(`${space.base}secret:${secretHash(old)}`);
      expect(ttl).to.be.within(590, 600);
    });

    it("with a grace of 0 stops the previous secret at once", async function () {
      const { secret: old, key } = await keys.create({ scope: "party", owner: OWNER });
      const { secret } = await keys.rotate(key.id, 0);
      expect(await keys.authenticate(old)).to.equal(undefined);
      expect(await keys.authenticate(secret)).to.deep.equal(key);
      expect(await redis.exists(`${space.base}secret:${secretHash(old)}`)).to.equal(0);
    });

    it("a second rotation stops the first secret at once, whatever its grace", async function () {
      const { secret: first, key } = await keys.create({ scope: "party", owner: OWNER });
      const { secret: second } = await keys.rotate(key.id, 3600);
      const { secret: third } = await keys.rotate(key.id, 3600);
      expect(await keys.authenticate(first)).to.equal(undefined);
      expect(await keys.authenticate(second)).to.deep.equal({ ...key, expiresAt: T0 + 3600 });
      expect(await keys.authenticate(third)).to.deep.equal(key);
    });

    it("refuses an unknown or revoked key and a bad grace", async function () {
      const { key } = await keys.create({ scope: "party", owner: OWNER });
      for (const grace of [-1, 1.5, GRACE_MAX_SECONDS + 1, Number.NaN]) {
        await keys.rotate(key.id, grace).then(
          () => expect.fail(`rotated with grace ${grace}`),
          (e: Error) => expect(e).to.be.instanceOf(RangeError),
        );
      }
      await keys.revoke(key.id);
      for (const id of [key.id, "key_00000000000000000000"]) {
        await keys.rotate(id, 60).then(
          () => expect.fail(`rotated ${id}`),
          (e: Error) => expect(e.message).to.equal(`no active key ${id}`),
        );
      }
    });
  });

  it("lists every key, oldest first", async function () {
    const a = await keys.create({ scope: "read", owner: OWNER });
    clock = T0 + 1;
    const b = await keys.create({ scope: "admin", owner: OTHER, label: "ops" });
    clock = T0 + 2;
    const c = await keys.create({ scope: "party", owner: OTHER });
    expect(await keys.list()).to.deep.equal([a.key, b.key, c.key]);
  });

  describe("deal refs", function () {
    it("belong to the first key that registers them; the same key may register again, another may not", async function () {
      const p1 = await keys.create({ scope: "platform", owner: OWNER });
      const p2 = await keys.create({ scope: "platform", owner: OTHER });
      expect(await keys.refOwner(REF)).to.equal(undefined);
      expect(await keys.registerRef(p1.key.id, REF)).to.equal(true);
      expect(await keys.registerRef(p1.key.id, REF)).to.equal(true);
      expect(await keys.registerRef(p2.key.id, REF.toUpperCase().replace("0X", "0x"))).to.equal(false);
      expect(await keys.refOwner(REF)).to.equal(p1.key.id);
      expect(await keys.refOwner(REF.toUpperCase().replace("0X", "0x"))).to.equal(p1.key.id);
    });

    it("stay with the key through a rotation", async function () {
      const p = await keys.create({ scope: "platform", owner: OWNER });
      await keys.registerRef(p.key.id, REF);
      const { secret } = await keys.rotate(p.key.id, 0);
      expect((await keys.authenticate(secret))?.id).to.equal(await keys.refOwner(REF));
    });

    it("refuse a malformed ref (registering throws; its owner is undefined)", async function () {
      const p = await keys.create({ scope: "platform", owner: OWNER });
      for (const bad of ["0x11", "11".repeat(32), `0x${"zz".repeat(32)}`]) {
        await keys.registerRef(p.key.id, bad).then(
          () => expect.fail(`registered ${bad}`),
          (e: Error) => expect(e).to.be.instanceOf(RangeError),
        );
        expect(await keys.refOwner(bad)).to.equal(undefined);
      }
    });
  });

  it("rejects with ETIMEDOUT within its deadline when Redis stops answering", async function () {
    const relay = await startStallingRelay();
    const slow = await connectRedis(relay.url);
    try {
      const store = createKeyStore({ redis: slow, base: space.base, timeoutMs: 200 });
      const { secret } = await store.create({ scope: "read", owner: OWNER });
      relay.stall();
      const started = Date.now();
      const error = await store.authenticate(secret).then(
        () => expect.fail("answered"),
        (e: NodeJS.ErrnoException) => e,
      );
      expect(error.code).to.equal("ETIMEDOUT");
      expect(Date.now() - started).to.be.within(150, 1500);
      expect(error.message).to.not.contain(secret);
    } finally {
      slow.disconnect();
      await relay.close();
    }
  });
});
