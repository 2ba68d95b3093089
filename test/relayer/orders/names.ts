/** The payer-name check (relayer/src/orders/names.ts): examples and fast-check properties. */
import { expect } from "chai";
import fc from "fast-check";
import { compareNames, nameWords } from "../../../relayer/src/orders/names";

describe("orders/names", function () {
  describe("compareNames examples", function () {
    it("the same words in another order and case match", function () {
      expect(compareNames("John Doe", "DOE JOHN")).to.equal("match");
    });
    it("accents and repeated spaces do not matter", function () {
      expect(compareNames("Jöhn  Doe", "john doe")).to.equal("match");
    });
    it("punctuation is dropped", function () {
      expect(compareNames("Doe, John.", "john doe")).to.equal("match");
      expect(compareNames("Mary O'Neil", "MARY ONEIL")).to.equal("match");
    });
    it("compatibility forms fold (full-width letters)", function () {
      expect(compareNames("ＪＯＨＮ Doe", "john doe")).to.equal("match");
    });
    it("an initial is not a name: mismatch", function () {
      expect(compareNames("J. Doe", "John Doe")).to.equal("mismatch");
    });
    it("a missing or extra word is a mismatch", function () {
      expect(compareNames("John Doe", "John")).to.equal("mismatch");
      expect(compareNames("John Doe", "John Paul Doe")).to.equal("mismatch");
    });
    it("a seen name with no words is a mismatch", function () {
      expect(compareNames("John Doe", "...")).to.equal("mismatch");
    });
    it("no declared name is undeclared", function () {
      expect(compareNames(undefined, "John Doe")).to.equal("undeclared");
      expect(compareNames("  ", "John Doe")).to.equal("undeclared");
    });
    it("nameWords keeps letters and digits only", function () {
      expect([...nameWords("  Émile-Zola  II ")]).to.deep.equal(["emilezola", "ii"]);
    });
  });

  describe("properties", function () {
    // Latin-1 letters: À-ÿ without × (U+00D7) and ÷ (U+00F7), which are symbols.
    const word = fc.stringMatching(/^[A-Za-zÀ-ÖØ-öø-ÿ]{1,8}$/);
    const words = fc.array(word, { minLength: 1, maxLength: 4 });
    const name = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() !== "");

    it("symmetry: compareNames(a, b) = compareNames(b, a) for declared names", function () {
      fc.assert(fc.property(name, name, (a, b) => compareNames(a, b) === compareNames(b, a)));
    });

    it("word-order invariance: any permutation of the words matches", function () {
      fc.assert(
        fc.property(words, fc.nat(), (ws, seed) => {
          const shuffled = [...ws];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (seed + i * 7) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
          }
          return compareNames(ws.join(" "), shuffled.join("  ")) === "match";
        }),
      );
    });

    it("case invariance: upper- and lower-casing do not change the answer", function () {
      fc.assert(
        fc.property(words, words, (a, b) => {
          const x = a.join(" ");
          const y = b.join(" ");
          const answer = compareNames(x, y);
          return (
            compareNames(x.toUpperCase(), y.toLowerCase()) === answer && compareNames(x, y.toUpperCase()) === answer
          );
        }),
      );
    });

    it("a name always matches itself (when it has a word)", function () {
      fc.assert(fc.property(words, (ws) => compareNames(ws.join(" "), ws.join(" ")) === "match"));
    });

    it("dropping a word that appears once is a mismatch", function () {
      fc.assert(
        fc.property(
          fc.uniqueArray(word, { minLength: 2, maxLength: 4, selector: (w) => [...nameWords(w)].join("") }),
          (ws) => compareNames(ws.join(" "), ws.slice(1).join(" ")) === "mismatch",
        ),
      );
    });
  });
});
