/**
 * Revert data decoded for an API caller: the escrow's and the registry's custom errors with named arguments (a
 * status by its name), Error(string), Panic(uint256), and data nobody declared.
 */
import { expect } from "chai";
import { AbiCoder, Interface, concat } from "ethers";
import { GatewayRegistry__factory } from "../../../typechain-types/factories/contracts/GatewayRegistry__factory";
import { Status } from "../../../protocol";
import { ESCROW, decodeError } from "../../../relayer/src/write/calls";

const DEAL_ID = `0x${"ab".repeat(32)}`;

describe("relayer/write/calls decodeError", function () {
  it("an escrow custom error → its name and named arguments, a status by its name", function () {
    const data = ESCROW.encodeErrorResult("EscrowWrongStatus", [DEAL_ID, Status.Released]);
    expect(decodeError(data)).to.deep.equal({
      name: "EscrowWrongStatus",
      args: { dealId: DEAL_ID, status: "Released" },
      message: `The escrow would revert with EscrowWrongStatus(dealId=${DEAL_ID}, status=Released).`,
    });
    const expired = decodeError(ESCROW.encodeErrorResult("EscrowSignatureExpired", [1234n]));
    expect(expired).to.deep.include({ name: "EscrowSignatureExpired", args: { expiry: "1234" } });
  });

  it("a registry error the escrow passes on → decoded too", function () {
    const registry = `0x${"11".repeat(20)}`;
    const data = new Interface(GatewayRegistry__factory.abi).encodeErrorResult("RegistryTokenNotAllowed", [registry]);
    expect(decodeError(data)).to.deep.include({ name: "RegistryTokenNotAllowed", args: { token: registry } });
  });

  it("Error(string) → the reason; Panic(uint256) → the code in hex", function () {
    const coder = AbiCoder.defaultAbiCoder();
    const reason = concat(["0x08c379a0", coder.encode(["string"], ["GS026"])]);
    expect(decodeError(reason)).to.deep.equal({
      name: "Error",
      args: { reason: "GS026" },
      message: "Reverted: GS026.",
    });
    const panic = concat(["0x4e487b71", coder.encode(["uint256"], [0x11])]);
    expect(decodeError(panic)).to.deep.include({ name: "Panic", args: { code: "0x11" } });
  });

  it("no data (a token's failed assert) and undeclared data → Reverted, saying which", function () {
    expect(decodeError("0x").name).to.equal("Reverted");
    expect(decodeError("0x").message).to.match(/without a reason/);
    const unknown = decodeError("0xdeadbeef");
    expect(unknown.name).to.equal("Reverted");
    expect(unknown.message).to.include("0xdeadbeef");
  });
});
