/** Where a webhook may point: http(s), public addresses only unless private ones are allowed. */
import { expect } from "chai";
import { isBlockedAddress, refuseTarget } from "../../../relayer/src/events/ssrf";

describe("webhook targets (SSRF)", function () {
  it("blocks loopback, private, CGNAT, link-local, unique-local, multicast and reserved addresses; passes public ones", function () {
    for (const a of [
      "127.0.0.1",
      "127.255.0.9",
      "10.0.0.1",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.0.1",
      "100.64.0.1",
      "169.254.169.254",
      "0.0.0.0",
      "224.0.0.251",
      "255.255.255.255",
      "::",
      "::1",
      "fd12::1",
      "fe80::1",
      "ff02::1",
      "::ffff:10.0.0.1",
      "not-an-ip",
    ]) {
      expect(isBlockedAddress(a), a).to.equal(true);
    }
    for (const a of ["93.184.215.14", "8.8.8.8", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
      expect(isBlockedAddress(a), a).to.equal(false);
    }
  });

  it("when the option is off → refuses non-http(s), credentials, private literals and names resolving to loopback", async function () {
    expect(await refuseTarget("ftp://93.184.215.14/x", false)).to.match(/http or https/);
    expect(await refuseTarget("https://u:p@93.184.215.14/x", false)).to.match(/credentials/);
    expect(await refuseTarget("http://[::1]:8080/x", false)).to.match(/private or local address/);
    expect(await refuseTarget("http://localhost:8080/x", false)).to.match(/resolves to a private or local address/);
    expect(await refuseTarget("http://no-such-host.invalid/x", false)).to.match(/does not resolve/);
    expect(await refuseTarget("nope", false)).to.match(/not a URL/);
    expect(await refuseTarget("https://93.184.215.14/x", false)).to.equal(undefined);
  });

  it("when the option is on → private targets pass; the scheme rule still holds", async function () {
    expect(await refuseTarget("http://127.0.0.1:8080/x", true)).to.equal(undefined);
    expect(await refuseTarget("ftp://127.0.0.1/x", true)).to.match(/http or https/);
  });
});
