/**
 * The write side's rules, pure: who signs which confirmation from which status, expiry bounds, and which API key
 * may act on a deal. Branch spec: rules.tree.
 */
import { expect } from "chai";
import { DEAL_STATUSES } from "../../../protocol";
import type { Hash } from "../../../relayer/src/domain/projection";
import {
  CONFIRMATIONS,
  CONFIRMATION_NAMES,
  MAX_EXPIRY_SECONDS,
  authorize,
  checkConfirmation,
  type ConfirmationName,
  type KeyIdentity,
} from "../../../relayer/src/write/rules";

const PAYER = `0x${"a1".repeat(20)}`;
const PAYEE = `0x${"b2".repeat(20)}`;
const GATEWAY = `0x${"c3".repeat(20)}`;
const STRANGER = `0x${"d4".repeat(20)}`;
const NOW = 1_800_000_000;
const EXPIRY = BigInt(NOW + 3600);

const dealIn = (status: string, extra: Hash = {}): Hash => ({
  status,
  payer: PAYER,
  payee: PAYEE,
  gateway: GATEWAY,
  payerReleased: "0",
  ...extra,
});

/** The statuses each confirmation starts from (docs/design.md §4.3). */
const STARTS_FROM: Record<ConfirmationName, string[]> = {
  performed: ["open"],
  release: ["open", "performed", "disputed"],
  cancel: ["open", "performed", "disputed"],
  dispute: ["performed"],
};
const SIGNERS: Record<ConfirmationName, string[]> = {
  performed: [PAYEE],
  release: [PAYER],
  cancel: [PAYEE, PAYER],
  dispute: [PAYER, PAYEE],
};

describe("relayer/write/rules", function () {
  describe("checkConfirmation", function () {
    it("when the signer is neither payer nor payee → wrong-signer, for every confirmation", function () {
      for (const name of CONFIRMATION_NAMES) {
        const refusal = checkConfirmation(dealIn(STARTS_FROM[name][0]), name, STRANGER, EXPIRY, NOW);
        expect(refusal?.kind, name).to.equal("wrong-signer");
        expect(refusal?.detail).to.include(STRANGER);
      }
    });

    it("when the signer has the other role (performed by the payer, release by the payee) → wrong-signer", function () {
      expect(checkConfirmation(dealIn("open"), "performed", PAYER, EXPIRY, NOW)?.kind).to.equal("wrong-signer");
      expect(checkConfirmation(dealIn("performed"), "release", PAYEE, EXPIRY, NOW)?.kind).to.equal("wrong-signer");
    });

    it("when the signer has the role → accepted from each start status, refused wrong-status from every other", function () {
      let accepted = 0;
      for (const name of CONFIRMATION_NAMES) {
        for (const signer of SIGNERS[name]) {
          for (const status of DEAL_STATUSES) {
            const refusal = checkConfirmation(
              dealIn(status),
              name,
              signer.toUpperCase().replace("0X", "0x"),
              EXPIRY,
              NOW,
            );
            if (STARTS_FROM[name].includes(status)) {
              expect(refusal, `${name} by ${signer} from ${status}`).to.equal(undefined);
              accepted++;
            } else {
              expect(refusal?.kind, `${name} from ${status}`).to.equal("wrong-status");
              expect(refusal?.detail).to.include(status);
            }
          }
        }
      }
      expect(accepted).to.equal(1 + 3 + 6 + 2);
    });

    it("when release on an open deal whose payer's release is recorded → wrong-status", function () {
      const refusal = checkConfirmation(dealIn("open", { payerReleased: "1" }), "release", PAYER, EXPIRY, NOW);
      expect(refusal?.kind).to.equal("wrong-status");
      expect(checkConfirmation(dealIn("performed", { payerReleased: "1" }), "release", PAYER, EXPIRY, NOW)).to.equal(
        undefined,
      );
    });

    it("when the expiry has passed → signature-expired; one expiring this second is accepted", function () {
      expect(checkConfirmation(dealIn("open"), "performed", PAYEE, BigInt(NOW - 1), NOW)?.kind).to.equal(
        "signature-expired",
      );
      expect(checkConfirmation(dealIn("open"), "performed", PAYEE, BigInt(NOW), NOW)).to.equal(undefined);
    });

    it("when the expiry is more than MAX_EXPIRY_SECONDS ahead → signature-expired", function () {
      const far = BigInt(NOW + MAX_EXPIRY_SECONDS + 1);
      expect(checkConfirmation(dealIn("open"), "performed", PAYEE, far, NOW)?.kind).to.equal("signature-expired");
      expect(checkConfirmation(dealIn("open"), "performed", PAYEE, far - 1n, NOW)).to.equal(undefined);
    });

    it("maps each confirmation to the escrow action it signs", function () {
      expect(Object.fromEntries(CONFIRMATION_NAMES.map((n) => [n, CONFIRMATIONS[n].action]))).to.deep.equal({
        performed: 0,
        release: 1,
        cancel: 2,
        dispute: 3,
      });
    });
  });

  describe("authorize", function () {
    const deal = { payer: PAYER, payee: PAYEE, gateway: GATEWAY };
    const key = (scope: KeyIdentity["scope"], owner = STRANGER): KeyIdentity => ({ id: `k-${scope}`, scope, owner });

    it("admin key → anywhere", function () {
      expect(authorize(key("admin"), deal, undefined)).to.equal(undefined);
    });

    it("read key → forbidden, even when its owner is a party", function () {
      expect(authorize(key("read", PAYER), deal, undefined)?.kind).to.equal("forbidden");
    });

    it("party or acceptor key → where its owner is payer, payee or gateway (any case); elsewhere forbidden", function () {
      for (const scope of ["party", "acceptor"] as const) {
        for (const owner of [PAYER, PAYEE, GATEWAY]) {
          expect(
            authorize(key(scope, owner.toUpperCase().replace("0X", "0x")), deal, undefined),
            `${scope} ${owner}`,
          ).to.equal(undefined);
        }
        const refusal = authorize(key(scope, STRANGER), deal, undefined);
        expect(refusal?.kind).to.equal("forbidden");
        expect(refusal?.detail).to.include(STRANGER);
      }
    });

    it("platform key → on deals whose ref it registered; another platform's ref or none → forbidden", function () {
      expect(authorize(key("platform"), deal, "k-platform")).to.equal(undefined);
      expect(authorize(key("platform"), deal, "k-other")?.kind).to.equal("forbidden");
      expect(authorize(key("platform"), deal, undefined)?.kind).to.equal("forbidden");
    });
  });
});
