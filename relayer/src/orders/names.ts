/**
 * Names, pure: whether the payer name a platform declared for a buy order and the name the acceptor saw on the
 * incoming bank transfer are the same person's. Banks reorder, upper-case and strip accents from names, so the
 * comparison is on words: Unicode NFKD, combining marks dropped, case-folded, punctuation dropped, then compared
 * as sets of words ("DOE JOHN" = "John Doe", "Jöhn  Doe" = "john doe"). An initial is not a name: "J. Doe" and
 * "John Doe" do not match (the acceptor looks closer before it releases).
 */

/** What the acceptor's check of the transfer's name says. */
export type NameCheck = "match" | "mismatch" | "undeclared";

/** The words of a name, normalised: NFKD, no combining marks, case-folded, punctuation as spaces. */
export function nameWords(name: string): Set<string> {
  const folded = name
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "");
  // Apostrophes and hyphens join a word's parts ("O'Neil" = "ONEIL"); other punctuation and symbols separate.
  const joined = folded.replace(/['\u2019\u02bc-]/g, "");
  const words = joined.split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
  return new Set(words);
}

/**
 * "match" when both names have the same words (and at least one), "mismatch" otherwise; "undeclared" when no
 * payer name was declared. Symmetric in its two names.
 */
export function compareNames(declared: string | undefined, seen: string): NameCheck {
  if (declared === undefined || declared.trim() === "") return "undeclared";
  const a = nameWords(declared);
  const b = nameWords(seen);
  if (a.size === 0 || a.size !== b.size) return "mismatch";
  for (const w of a) if (!b.has(w)) return "mismatch";
  return "match";
}
