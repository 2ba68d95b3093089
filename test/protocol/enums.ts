/** The protocol model's enums against the compiled contracts: same members, same order. */
import { expect } from "chai";
import { artifacts } from "hardhat";
import {
  ACCEPTOR_STATUSES,
  ACCEPTOR_STATUS_NAMES,
  ACTION_NAMES,
  AcceptorStatus,
  Action,
  DEAL_KINDS,
  DEAL_STATUSES,
  GATEWAY_STATUSES,
  GATEWAY_STATUS_NAMES,
  GatewayStatus,
  KIND_NAMES,
  Kind,
  REFUND_REASONS,
  REFUND_REASON_NAMES,
  RefundReason,
  STATUS_NAMES,
  Status,
} from "../../protocol";

type AstNode = { nodeType?: string; name?: string; members?: { name: string }[]; nodes?: AstNode[] };

/** The members of every enum declared in a source file, by "Contract.Enum", read from the compiler's AST. */
async function enumsOf(fullyQualifiedName: string, sourceName: string): Promise<Map<string, string[]>> {
  const info = await artifacts.getBuildInfo(fullyQualifiedName);
  if (!info) throw new Error(`no build info for ${fullyQualifiedName}`);
  const out = new Map<string, string[]>();
  for (const unit of (info.output.sources[sourceName].ast as AstNode).nodes ?? []) {
    for (const node of unit.nodes ?? []) {
      if (node.nodeType === "EnumDefinition")
        out.set(
          `${unit.name}.${node.name}`,
          node.members!.map((m) => m.name),
        );
    }
  }
  return out;
}

describe("protocol/enums", function () {
  let escrowEnums: Map<string, string[]>;
  let registryEnums: Map<string, string[]>;

  before(async function () {
    escrowEnums = await enumsOf("contracts/interfaces/IEscrow.sol:IEscrow", "contracts/interfaces/IEscrow.sol");
    registryEnums = await enumsOf(
      "contracts/interfaces/IGatewayRegistry.sol:IGatewayRegistry",
      "contracts/interfaces/IGatewayRegistry.sol",
    );
  });

  const cases: [string, "escrow" | "registry", string, readonly string[], Record<string, number>][] = [
    ["Kind", "escrow", "IEscrow.DealKind", KIND_NAMES, Kind],
    ["Status", "escrow", "IEscrow.DealStatus", STATUS_NAMES, Status],
    ["Action", "escrow", "IEscrow.Action", ACTION_NAMES, Action],
    ["RefundReason", "escrow", "IEscrow.RefundReason", REFUND_REASON_NAMES, RefundReason],
    ["GatewayStatus", "registry", "IGatewayRegistry.GatewayStatus", GATEWAY_STATUS_NAMES, GatewayStatus],
    ["AcceptorStatus", "registry", "IGatewayRegistry.AcceptorStatus", ACCEPTOR_STATUS_NAMES, AcceptorStatus],
  ];
  for (const [name, source, solidityName, names, values] of cases) {
    it(`${name} has ${solidityName}'s members in the contract's order, numbered from 0`, function () {
      const members = (source === "escrow" ? escrowEnums : registryEnums).get(solidityName);
      expect(members, `${solidityName} in the AST`).to.not.equal(undefined);
      expect([...names]).to.deep.equal(members);
      expect(Object.entries(values)).to.deep.equal(names.map((n, i) => [n, i]));
    });
  }

  it("every enum of the contracts' interfaces is in the model", function () {
    const modelled = new Set(cases.map((c) => c[2]));
    expect([...escrowEnums.keys(), ...registryEnums.keys()].filter((e) => !modelled.has(e))).to.deep.equal([]);
  });

  it("the API's names are the contract's names in order: lower case, refund reasons in snake_case", function () {
    expect(DEAL_KINDS).to.deep.equal(KIND_NAMES.map((n) => n.toLowerCase()));
    expect(REFUND_REASONS).to.deep.equal(
      REFUND_REASON_NAMES.map((n) => n.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase()),
    );
    expect(DEAL_STATUSES).to.deep.equal(STATUS_NAMES.slice(1).map((n) => n.toLowerCase()));
    expect(GATEWAY_STATUSES).to.deep.equal(GATEWAY_STATUS_NAMES.slice(1).map((n) => n.toLowerCase()));
    expect(ACCEPTOR_STATUSES).to.deep.equal(ACCEPTOR_STATUS_NAMES.slice(1).map((n) => n.toLowerCase()));
  });
});
