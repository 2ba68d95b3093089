/**
 * Redaction (relayer/src/redact.ts): URLs keep scheme, host and port and lose credentials, keys in the path and
 * query values; a redactor also blanks the configured secrets wherever they appear.
 */
import { expect } from "chai";
import { createRedactor, redactText, redactUrl, secretsOfUrl } from "../../relayer/src/redact";

describe("relayer redaction", function () {
  describe("redactUrl", function () {
    it("when the URL holds user:pass@ → both are replaced, the host and port stay", function () {
      expect(redactUrl("http://alice:s3cret@127.0.0.1:8545/")).to.equal("http://***@127.0.0.1:8545/");
      expect(redactUrl("redis://:pw12345@redis:6379/0")).to.equal("redis://***@redis:6379/0");
    });

    it("when the path holds an API key → the key segment is replaced, words and versions stay", function () {
      expect(redactUrl("https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef")).to.equal(
        "https://mainnet.infura.io/v3/***",
      );
      expect(redactUrl("https://x.quiknode.pro/a1b2c3d4e5/rpc")).to.equal("https://x.quiknode.pro/***/rpc");
    });

    it("when the query holds values → names stay, values are replaced", function () {
      expect(redactUrl("https://rpc.example/?apikey=k123456&chain=1")).to.equal(
        "https://rpc.example/?apikey=***&chain=***",
      );
    });

    it("when the text is not a URL → it comes back unchanged", function () {
      expect(redactUrl("not a url")).to.equal("not a url");
    });
  });

  describe("redactText", function () {
    it("when a message quotes URLs → each is redacted in place, the rest of the text stays", function () {
      expect(redactText('fetch "https://u:p@h.example/v2/abcdef123456" failed; see http://h:1/x')).to.equal(
        'fetch "https://***@h.example/v2/***" failed; see http://h:1/x',
      );
    });
    it("when a stack trace quotes file:// paths → they stay readable", function () {
      const frame = "at run (file:///srv/relayer/dist/chain.js:12:5)";
      expect(redactText(frame)).to.equal(frame);
    });
  });

  describe("createRedactor", function () {
    it("when a secret appears outside any URL → it is replaced, a hex key with and without 0x", function () {
      const key = `0x${"ab".repeat(32)}`;
      const redact = createRedactor([key, "hunter22", "ab", undefined]);
      expect(redact(`key ${key} raw ${key.slice(2).toUpperCase()} pw hunter22 ab`)).to.equal(
        "key *** raw *** pw *** ab",
      );
    });

    it("when built from a URL's secrets → its password, key segment and Basic credentials are all blanked", function () {
      const url = "http://bobby:pa%24%24word@127.0.0.1:1/v3/deadbeef42";
      const redact = createRedactor(secretsOfUrl(url));
      const basic = Buffer.from("bobby:pa$$word").toString("base64");
      expect(redact(`pa$$word deadbeef42 Basic ${basic} bobby`)).to.equal("*** *** Basic *** ***");
    });
  });
});
