/**
 * The event decoder (`decodeLog`, `topicsOf`, `postedEvidenceUri`): every event of the escrow and the registry from its
 * ABI encoding to the relayer's typed event, and the logs it does not index.
 */
import { expect } from "chai";
import { AbiCoder, Interface, ZeroAddress, hexlify, id, toUtf8Bytes, type EventFragment } from "ethers";
import { Escrow__factory, GatewayRegistry__factory } from "../../typechain-types";
import { ARBITER_ROLE, DEAL_KINDS, MAX_EVIDENCE_URI_CHARS, REFUND_REASONS, decodeLog } from "../../protocol";
import { postedEvidenceUri, topicsOf, type LogPosition, type ProtocolEventType, type Sources } from "../../protocol";
import { addrC, addr, ESCROW, REGISTRY, SOURCES, PAYER, PAYEE, GATEWAY, ACCEPTOR } from "../relayer/support/domain";
import { DELEGATE, USDT, SALT, REF, DEAL, SEPA, PIX, NET, REASONS } from "../relayer/support/domain";

/*//////////////////////////////////////////////////////////////
                              DECODING
//////////////////////////////////////////////////////////////*/

const escrowIface = new Interface(Escrow__factory.abi);
const registryIface = new Interface(GatewayRegistry__factory.abi);

type RawLog = Parameters<typeof decodeLog>[0];

const RAW_POS = {
  blockNumber: 42,
  blockHash: "0x" + "AB".repeat(32),
  transactionHash: "0x" + "CD".repeat(32),
  index: 7,
};
const DECODED_POS: LogPosition = {
  block: 42,
  blockHash: "0x" + "ab".repeat(32),
  txHash: "0x" + "cd".repeat(32),
  logIndex: 7,
};

function rawLog(iface: Interface, name: string, values: readonly unknown[], address: string): RawLog {
  const fragment = iface.getEvent(name) as EventFragment;
  const { data, topics } = iface.encodeEventLog(fragment, values);
  return { address, topics, data, ...RAW_POS };
}

type DecodeCase = {
  title: string;
  contract: "escrow" | "registry";
  name: ProtocolEventType;
  values: readonly unknown[];
  expected: Record<string, unknown>;
};

/** The cases as written, each with its literal event name (for the check below that every event type has one). */
const casesOf = <const T extends readonly DecodeCase[]>(cases: T): T => cases;

const C = {
  payer: addrC("payer"),
  payee: addrC("payee"),
  gateway: addrC("gateway"),
  token: addrC("usdt"),
  acceptor: addrC("acceptor"),
  delegate: addrC("delegate"),
  governor: addrC("governor"),
  treasury: addrC("treasury"),
};

const kindCases = DEAL_KINDS.map((kind, i) => ({
  title: `DealOpened (kind ${i} → ${kind})`,
  contract: "escrow" as const,
  name: "DealOpened" as const,
  values: [
    DEAL,
    C.payer,
    C.payee,
    {
      payer: C.payer,
      payee: C.payee,
      gateway: C.gateway,
      token: C.token,
      amount: 123_456_789n,
      deadline: 1_900_000_001,
      releaseWindow: 7_200,
      feeBps: 75,
      kind: i,
      autoRelease: kind === "payment",
      salt: SALT,
    },
    REF,
  ],
  expected: {
    dealId: DEAL,
    ref: REF,
    deal: {
      payer: PAYER,
      payee: PAYEE,
      gateway: GATEWAY,
      token: USDT,
      amount: 123_456_789n,
      deadline: 1_900_000_001,
      releaseWindow: 7_200,
      feeBps: 75,
      kind,
      autoRelease: kind === "payment",
      salt: SALT,
    },
  },
}));

const reasonCases = REFUND_REASONS.map((reason, i) => ({
  title: `DealRefunded (reason ${i} → ${reason})`,
  contract: "escrow" as const,
  name: "DealRefunded" as const,
  values: [DEAL, i],
  expected: { dealId: DEAL, reason },
}));

const DECODE_CASES = casesOf([
  ...kindCases,
  { title: "DealPerformed", contract: "escrow", name: "DealPerformed", values: [DEAL], expected: { dealId: DEAL } },
  {
    title: "DealReleaseApproved",
    contract: "escrow",
    name: "DealReleaseApproved",
    values: [DEAL],
    expected: { dealId: DEAL },
  },
  {
    title: "DealLockedByDelegate",
    contract: "escrow",
    name: "DealLockedByDelegate",
    values: [DEAL, C.delegate],
    expected: { dealId: DEAL, delegate: DELEGATE },
  },
  {
    title: "DealReleased (no amounts: they follow from the deal)",
    contract: "escrow",
    name: "DealReleased",
    values: [DEAL],
    expected: { dealId: DEAL },
  },
  ...reasonCases,
  {
    title: "DealDisputed (held by the gateway)",
    contract: "escrow",
    name: "DealDisputed",
    values: [DEAL, C.payee, true],
    expected: { dealId: DEAL, by: PAYEE, gatewayHolds: true },
  },
  {
    title: "DealDisputed (not held: the arbiter's)",
    contract: "escrow",
    name: "DealDisputed",
    values: [DEAL, C.payer, false],
    expected: { dealId: DEAL, by: PAYER, gatewayHolds: false },
  },
  {
    title: "DealResolved",
    contract: "escrow",
    name: "DealResolved",
    values: [DEAL, C.gateway, 597_000n, 3_000n, 400_000n, REASONS],
    expected: { dealId: DEAL, by: GATEWAY, payeeAmount: 597_000n, fee: 3_000n, refund: 400_000n, reasons: REASONS },
  },
  {
    title: "DealSplit",
    contract: "escrow",
    name: "DealSplit",
    values: [DEAL, 696_500n, 3_500n, 300_000n],
    expected: { dealId: DEAL, payeeAmount: 696_500n, fee: 3_500n, refund: 300_000n },
  },
  {
    title: "EvidencePosted",
    contract: "escrow",
    name: "EvidencePosted",
    values: [DEAL, C.payee, id("photo"), "ipfs://bafy/photo.jpg"],
    expected: { dealId: DEAL, by: PAYEE, contentHash: id("photo"), uri: "ipfs://bafy/photo.jpg" },
  },
  {
    title: "EvidencePosted (empty URI)",
    contract: "escrow",
    name: "EvidencePosted",
    values: [DEAL, C.gateway, id("note"), ""],
    expected: { dealId: DEAL, by: GATEWAY, contentHash: id("note"), uri: "" },
  },
  {
    title: "DisputeCountSkipped (opened)",
    contract: "escrow",
    name: "DisputeCountSkipped",
    values: [DEAL, C.gateway, true],
    expected: { dealId: DEAL, gateway: GATEWAY, opened: true },
  },
  {
    title: "DisputeCountSkipped (closed)",
    contract: "escrow",
    name: "DisputeCountSkipped",
    values: [DEAL, C.gateway, false],
    expected: { dealId: DEAL, gateway: GATEWAY, opened: false },
  },
  {
    title: "PayoutDeferred",
    contract: "escrow",
    name: "PayoutDeferred",
    values: [DEAL, C.token, C.payee, NET],
    expected: { dealId: DEAL, token: USDT, account: PAYEE, amount: NET },
  },
  {
    title: "OwedClaimed",
    contract: "escrow",
    name: "OwedClaimed",
    values: [C.token, C.payee, NET],
    expected: { token: USDT, account: PAYEE, amount: NET },
  },
  {
    title: "FloatDeposited",
    contract: "escrow",
    name: "FloatDeposited",
    values: [C.acceptor, C.token, 5_000_000n],
    expected: { acceptor: ACCEPTOR, token: USDT, amount: 5_000_000n },
  },
  {
    title: "FloatWithdrawn",
    contract: "escrow",
    name: "FloatWithdrawn",
    values: [C.acceptor, C.token, 4_000_000n],
    expected: { acceptor: ACCEPTOR, token: USDT, amount: 4_000_000n },
  },
  {
    title: "GatewayRegistered",
    contract: "registry",
    name: "GatewayRegistered",
    values: [C.gateway, 1_000_000_000n, 50, id("terms")],
    expected: { gateway: GATEWAY, bond: 1_000_000_000n, feeBps: 50, metadata: id("terms") },
  },
  {
    title: "GatewayApproved",
    contract: "registry",
    name: "GatewayApproved",
    values: [C.gateway, 300],
    expected: { gateway: GATEWAY, feeCapBps: 300 },
  },
  {
    title: "GatewayFeeSet",
    contract: "registry",
    name: "GatewayFeeSet",
    values: [C.gateway, 80],
    expected: { gateway: GATEWAY, feeBps: 80 },
  },
  {
    title: "GatewayBondAdded (bond is the new total, not the amount added)",
    contract: "registry",
    name: "GatewayBondAdded",
    values: [C.gateway, 10n, 1_010n],
    expected: { gateway: GATEWAY, bond: 1_010n },
  },
  {
    title: "GatewaySuspended",
    contract: "registry",
    name: "GatewaySuspended",
    values: [C.gateway],
    expected: { gateway: GATEWAY },
  },
  {
    title: "GatewayReinstated",
    contract: "registry",
    name: "GatewayReinstated",
    values: [C.gateway],
    expected: { gateway: GATEWAY },
  },
  {
    title: "GatewaySlashed",
    contract: "registry",
    name: "GatewaySlashed",
    values: [C.gateway, C.treasury, 100n, 910n],
    expected: { gateway: GATEWAY, recipient: addr("treasury"), amount: 100n, bond: 910n },
  },
  {
    title: "GatewayExitRequested",
    contract: "registry",
    name: "GatewayExitRequested",
    values: [C.gateway, 1_900_000_000],
    expected: { gateway: GATEWAY, exitAt: 1_900_000_000 },
  },
  {
    title: "GatewayExited",
    contract: "registry",
    name: "GatewayExited",
    values: [C.gateway, 910n],
    expected: { gateway: GATEWAY },
  },
  {
    title: "GatewayDisputesChanged",
    contract: "registry",
    name: "GatewayDisputesChanged",
    values: [C.gateway, 3],
    expected: { gateway: GATEWAY, openDisputes: 3 },
  },
  {
    title: "AcceptorRegistered",
    contract: "registry",
    name: "AcceptorRegistered",
    values: [C.acceptor, C.gateway, C.delegate],
    expected: { acceptor: ACCEPTOR, gateway: GATEWAY, lockDelegate: DELEGATE },
  },
  {
    title: "AcceptorApproved",
    contract: "registry",
    name: "AcceptorApproved",
    values: [C.acceptor, C.gateway],
    expected: { acceptor: ACCEPTOR },
  },
  {
    title: "AcceptorSuspended",
    contract: "registry",
    name: "AcceptorSuspended",
    values: [C.acceptor, C.governor],
    expected: { acceptor: ACCEPTOR },
  },
  {
    title: "AcceptorReinstated",
    contract: "registry",
    name: "AcceptorReinstated",
    values: [C.acceptor, C.gateway],
    expected: { acceptor: ACCEPTOR },
  },
  {
    title: "AcceptorLockDelegateSet",
    contract: "registry",
    name: "AcceptorLockDelegateSet",
    values: [C.acceptor, ZeroAddress],
    expected: { acceptor: ACCEPTOR, lockDelegate: ZeroAddress },
  },
  {
    title: "AcceptorMethodSet (added)",
    contract: "registry",
    name: "AcceptorMethodSet",
    values: [C.acceptor, SEPA, true],
    expected: { acceptor: ACCEPTOR, method: SEPA, supported: true },
  },
  {
    title: "AcceptorMethodSet (removed)",
    contract: "registry",
    name: "AcceptorMethodSet",
    values: [C.acceptor, PIX, false],
    expected: { acceptor: ACCEPTOR, method: PIX, supported: false },
  },
  {
    title: "AcceptorLimitsSet",
    contract: "registry",
    name: "AcceptorLimitsSet",
    values: [C.acceptor, C.token, 10_000_000n, 50_000_000_000n],
    expected: { acceptor: ACCEPTOR, token: USDT, minAmount: 10_000_000n, maxAmount: 50_000_000_000n },
  },
  {
    title: "TokenAllowed (allowed)",
    contract: "registry",
    name: "TokenAllowed",
    values: [C.token, true],
    expected: { token: USDT, allowed: true },
  },
  {
    title: "TokenAllowed (disallowed)",
    contract: "registry",
    name: "TokenAllowed",
    values: [C.token, false],
    expected: { token: USDT, allowed: false },
  },
]);

/**
 * Compiles only while every member of the ProtocolEvent union has a decode case (the arbiter events, decoded from
 * the registry's role events, have their own tests below).
 */
type UncoveredEventTypes = Exclude<
  ProtocolEventType,
  (typeof DECODE_CASES)[number]["name"] | "ArbiterGranted" | "ArbiterRevoked"
>;
const _everyEventTypeCovered: [UncoveredEventTypes] extends [never] ? true : never = true;

describe("protocol events", function () {
  describe("topicsOf", function () {
    it("lists the topic0 of every indexed escrow and registry event, and nothing else", function () {
      const topics = topicsOf();
      const expectedOf = (iface: Interface, contract: DecodeCase["contract"]) => [
        ...new Set(DECODE_CASES.filter((c) => c.contract === contract).map((c) => iface.getEvent(c.name)!.topicHash)),
      ];
      expect([...topics.escrow].sort()).to.deep.equal(expectedOf(escrowIface, "escrow").sort());
      expect([...topics.registry].sort()).to.deep.equal(expectedOf(registryIface, "registry").sort());
      expect(topics.escrow).to.have.lengthOf(15);
      expect(topics.registry).to.have.lengthOf(18);
      expect(topics.escrow).to.not.include(escrowIface.getEvent("EIP712DomainChanged")!.topicHash);
      expect(topics.registry).to.not.include(registryIface.getEvent("Paused")!.topicHash);
    });
  });

  describe("decodeLog", function () {
    it("has a case for every member of the ProtocolEvent union", function () {
      expect(_everyEventTypeCovered).to.equal(true);
      // ... and only those: one event type per topic the relayer indexes.
      const { escrow, registry } = topicsOf();
      expect(new Set(DECODE_CASES.map((c) => c.name)).size).to.equal(escrow.length + registry.length);
    });

    describe("decodes every event type (addresses and ids lower-cased, amounts bigint, names mapped)", function () {
      for (const c of DECODE_CASES) {
        it(c.title, function () {
          const iface = c.contract === "escrow" ? escrowIface : registryIface;
          const address = c.contract === "escrow" ? addrC("escrow") : addrC("registry");
          const decoded = decodeLog(rawLog(iface, c.name, c.values, address), SOURCES);
          expect(decoded).to.deep.equal({ ...DECODED_POS, type: c.name, ...c.expected });
        });
      }
    });

    describe("sources", function () {
      const log = () => rawLog(escrowIface, "DealPerformed", [DEAL], ESCROW);

      it("returns undefined for a log of another contract, even with an indexed topic", function () {
        expect(decodeLog({ ...log(), address: addrC("someone else") }, SOURCES)).to.equal(undefined);
        const registryLog = rawLog(registryIface, "GatewaySuspended", [C.gateway], addrC("someone else"));
        expect(decodeLog(registryLog, SOURCES)).to.equal(undefined);
      });

      it("does not decode one contract's event from the other's address", function () {
        expect(decodeLog({ ...log(), address: REGISTRY }, SOURCES)).to.equal(undefined);
        const registryLog = rawLog(registryIface, "GatewaySuspended", [C.gateway], ESCROW);
        expect(decodeLog(registryLog, SOURCES)).to.equal(undefined);
      });

      it("matches sources and log addresses regardless of case", function () {
        const upper = (a: string) => "0x" + a.slice(2).toUpperCase();
        const mixed: Sources = { escrow: addrC("escrow"), registry: upper(REGISTRY) };
        expect(decodeLog(log(), mixed)).to.deep.include({ type: "DealPerformed", dealId: DEAL });
        expect(decodeLog({ ...log(), address: upper(ESCROW) }, SOURCES)).to.deep.include({ type: "DealPerformed" });
        const registryLog = rawLog(registryIface, "GatewaySuspended", [C.gateway], REGISTRY);
        expect(decodeLog(registryLog, mixed)).to.deep.include({ type: "GatewaySuspended", gateway: GATEWAY });
      });
    });

    describe("EvidencePosted URIs (any bytes a party paid for)", function () {
      const withUri = (uriBytes: string) => {
        const log = rawLog(escrowIface, "EvidencePosted", [DEAL, C.payee, id("photo"), ""], ESCROW);
        // A string is ABI-encoded as bytes are: the same layout, any content.
        const data = AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes"], [id("photo"), uriBytes]);
        return { ...log, data };
      };

      it("replaces invalid UTF-8 instead of failing (one such log must not stop the indexer)", function () {
        const decoded = decodeLog(withUri("0x697066733a2f2fff fe41".replace(" ", "")), SOURCES);
        expect(decoded).to.deep.include({ type: "EvidencePosted", uri: "ipfs://\ufffd\ufffdA" });
        expect(decoded).to.not.have.property("uriTruncated");
      });

      it(`cuts a URI longer than ${MAX_EVIDENCE_URI_CHARS} characters and says so`, function () {
        const long = "é".repeat(MAX_EVIDENCE_URI_CHARS + 5);
        const decoded = decodeLog(withUri(hexlify(toUtf8Bytes(long))), SOURCES);
        expect(decoded).to.deep.include({
          type: "EvidencePosted",
          uri: "é".repeat(MAX_EVIDENCE_URI_CHARS),
          uriTruncated: true,
        });
        const exact = "x".repeat(MAX_EVIDENCE_URI_CHARS);
        expect(decodeLog(withUri(hexlify(toUtf8Bytes(exact))), SOURCES)).to.deep.include({ uri: exact });
      });

      it("matches postedEvidenceUri on its own: code points, not UTF-16 units", function () {
        const emoji = "😀".repeat(MAX_EVIDENCE_URI_CHARS + 1);
        const cut = postedEvidenceUri(toUtf8Bytes(emoji));
        expect(cut.truncated).to.equal(true);
        expect(Array.from(cut.uri)).to.have.length(MAX_EVIDENCE_URI_CHARS);
        expect(cut.uri).to.equal("😀".repeat(MAX_EVIDENCE_URI_CHARS));
      });
    });

    describe("logs the relayer does not index", function () {
      it("returns undefined for an ABI event that is not indexed (EIP712DomainChanged, Paused, MinBondSet)", function () {
        expect(decodeLog(rawLog(escrowIface, "EIP712DomainChanged", [], ESCROW), SOURCES)).to.equal(undefined);
        expect(decodeLog(rawLog(registryIface, "Paused", [C.governor], REGISTRY), SOURCES)).to.equal(undefined);
        expect(decodeLog(rawLog(registryIface, "MinBondSet", [5n], REGISTRY), SOURCES)).to.equal(undefined);
        const role = rawLog(registryIface, "RoleGranted", [id("GOVERNOR_ROLE"), C.governor, C.governor], REGISTRY);
        expect(decodeLog(role, SOURCES)).to.equal(undefined);
      });

      it("returns undefined for an unknown topic on a known address", function () {
        const unknown = { address: ESCROW, topics: [id("Unknown(uint256)")], data: "0x", ...RAW_POS };
        expect(decodeLog(unknown, SOURCES)).to.equal(undefined);
        expect(decodeLog({ ...unknown, address: REGISTRY }, SOURCES)).to.equal(undefined);
      });

      it("returns undefined for a log without topics (anonymous) on a known address", function () {
        // Documented: "returns undefined for logs the relayer does not index".
        const anonymous = { address: ESCROW, topics: [], data: "0x", ...RAW_POS };
        expect(() => decodeLog(anonymous, SOURCES)).to.not.throw();
        expect(decodeLog(anonymous, SOURCES)).to.equal(undefined);
      });

      it("throws on a known topic whose data or indexed topics do not decode (wrong ABI: fail loudly)", function () {
        const good = rawLog(escrowIface, "DealRefunded", [DEAL, 1], ESCROW);
        expect(() => decodeLog({ ...good, data: "0x1234" }, SOURCES)).to.throw(/BUFFER_OVERRUN|out-of-bounds/);
        expect(() => decodeLog({ ...good, topics: good.topics.slice(0, 1) }, SOURCES)).to.throw();
      });
    });
  });
  describe("the registry's role events", function () {
    const account = addrC("arbiter");
    for (const [event, type] of [
      ["RoleGranted", "ArbiterGranted"],
      ["RoleRevoked", "ArbiterRevoked"],
    ] as const) {
      it(`${event} of ARBITER_ROLE → ${type} with the account in lower case`, function () {
        const log = rawLog(registryIface, event, [ARBITER_ROLE, account, C.payer], REGISTRY);
        expect(decodeLog(log, SOURCES)).to.deep.equal({ ...DECODED_POS, type, account: account.toLowerCase() });
      });

      it(`${event} of another role → undefined (only the arbiter set is followed)`, function () {
        const log = rawLog(registryIface, event, [id("GOVERNOR_ROLE"), account, C.payer], REGISTRY);
        expect(decodeLog(log, SOURCES)).to.equal(undefined);
      });
    }

    it("role events are not among the topics the relayer asks for", function () {
      const roleTopics = ["RoleGranted", "RoleRevoked"].map((n) => registryIface.getEvent(n)!.topicHash);
      expect(topicsOf().registry.filter((topic) => roleTopics.includes(topic))).to.deep.equal([]);
    });
  });
});
