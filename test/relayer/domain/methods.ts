/** Payment method names: the built-in list, and names learned from clients' queries (bounded). Pure. */
import { expect } from "chai";
import { id } from "ethers";
import { createMethodNames, KNOWN_METHOD_NAMES, LEARNED_NAMES_MAX } from "../../../relayer/src/domain/methods";

describe("relayer domain: payment method names", function () {
  it("when a method is a built-in rail → its name; an unknown id → none", function () {
    const names = createMethodNames();
    expect(KNOWN_METHOD_NAMES).to.include("SEPA:EUR");
    expect(names.nameOf(id("SEPA:EUR"))).to.equal("SEPA:EUR");
    expect(names.nameOf(id("PIX:BRL"))).to.equal("PIX:BRL");
    expect(names.nameOf(id("NOT:KNOWN"))).to.equal(undefined);
  });

  it("when a name is learned → its id shows it; past the bound the oldest learned name is dropped", function () {
    const names = createMethodNames([]);
    names.learn("CUSTOM:0");
    expect(names.nameOf(id("CUSTOM:0"))).to.equal("CUSTOM:0");
    for (let i = 1; i <= LEARNED_NAMES_MAX; i++) names.learn(`CUSTOM:${i}`);
    expect(names.nameOf(id("CUSTOM:0"))).to.equal(undefined);
    expect(names.nameOf(id("CUSTOM:1"))).to.equal("CUSTOM:1");
    expect(names.nameOf(id(`CUSTOM:${LEARNED_NAMES_MAX}`))).to.equal(`CUSTOM:${LEARNED_NAMES_MAX}`);
  });

  it("when a built-in name is queried → nothing is learned (the bound is kept for the others)", function () {
    const names = createMethodNames(["SEPA:EUR"]);
    names.learn("SEPA:EUR");
    for (let i = 0; i < LEARNED_NAMES_MAX; i++) names.learn(`X:${i}`);
    expect(names.nameOf(id("X:0"))).to.equal("X:0");
    expect(names.nameOf(id("SEPA:EUR"))).to.equal("SEPA:EUR");
  });
});
