/** The final-deal cache: bounded LRU, a clear() that voids reads in flight, ETags and If-None-Match. Pure. */
import { expect } from "chai";
import { createFinalCache, etagOf, matchesIfNoneMatch } from "../../../relayer/src/api/final-cache";

describe("relayer API: final-deal cache", function () {
  const entry = (body: string) => ({ body, etag: etagOf(body) });

  it("when more deals than its bound are kept → the least recently used goes first", function () {
    const cache = createFinalCache(2);
    cache.set("a", entry("A"), cache.generation());
    cache.set("b", entry("B"), cache.generation());
    expect(cache.get("a")?.body).to.equal("A"); // a is now the most recently used
    cache.set("c", entry("C"), cache.generation());
    expect(cache.get("b")).to.equal(undefined);
    expect(cache.get("a")?.body).to.equal("A");
    expect(cache.get("c")?.body).to.equal("C");
    expect(cache.size).to.equal(2);
  });

  it("when cleared → empty, and a read that started before the clear is not kept", function () {
    const cache = createFinalCache();
    const before = cache.generation();
    cache.set("a", entry("A"), before);
    cache.clear();
    expect(cache.get("a")).to.equal(undefined);
    cache.set("late", entry("L"), before);
    expect(cache.get("late")).to.equal(undefined);
    cache.set("fresh", entry("F"), cache.generation());
    expect(cache.get("fresh")?.body).to.equal("F");
  });

  it("when its bound is 0 → keeps nothing", function () {
    const cache = createFinalCache(0);
    cache.set("a", entry("A"), cache.generation());
    expect(cache.size).to.equal(0);
  });

  it("gives the same strong ETag to the same bytes and another to other bytes", function () {
    expect(etagOf('{"a":1}')).to.equal(etagOf('{"a":1}'));
    expect(etagOf('{"a":1}')).to.not.equal(etagOf('{"a":2}'));
    expect(etagOf("x")).to.match(/^"[A-Za-z0-9_-]+"$/);
  });

  it("matches If-None-Match by list member, weakly (W/), and *; not otherwise", function () {
    const tag = etagOf("body");
    expect(matchesIfNoneMatch(tag, tag)).to.equal(true);
    expect(matchesIfNoneMatch(`"other", ${tag}`, tag)).to.equal(true);
    expect(matchesIfNoneMatch(`W/${tag}`, tag)).to.equal(true);
    expect(matchesIfNoneMatch("*", tag)).to.equal(true);
    expect(matchesIfNoneMatch('"other"', tag)).to.equal(false);
    expect(matchesIfNoneMatch(undefined, tag)).to.equal(false);
    expect(matchesIfNoneMatch("", tag)).to.equal(false);
  });
});
