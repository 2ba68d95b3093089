// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title ERC1271Wallet
/// @notice Minimal smart-contract wallet: one EOA owner signs for it (ERC-1271) and drives it through
/// `execute`. Test use only.
contract ERC1271Wallet is IERC1271 {
    bytes4 private constant INVALID_SIGNATURE = 0xffffffff;

    address private immutable _owner;

    /// @notice Emitted after the wallet called `target` with `value` wei and `data`.
    /// @param target Contract called.
    /// @param value Wei sent.
    /// @param data Calldata.
    event Executed(address indexed target, uint256 value, bytes data);

    /// @notice `caller` is not the owner.
    error ERC1271WalletNotOwner(address caller);

    /// @notice Deploys a wallet controlled by `owner_`.
    /// @param owner_ The EOA that signs for and controls the wallet.
    constructor(address owner_) {
        _owner = owner_;
    }

    /// @notice Accepts ether.
    receive() external payable {}

    /// @notice The EOA that signs for and controls the wallet.
    /// @return The owner.
    function owner() external view returns (address) {
        return _owner;
    }

    /// @notice Returns 0x1626ba7e iff `signature` is the owner's ECDSA signature of `hash` (as is, no prefix);
    /// 0xffffffff otherwise, never reverting.
    /// @param hash The signed hash.
    /// @param signature 65-byte ECDSA signature (r, s, v).
    /// @return magicValue 0x1626ba7e if valid, 0xffffffff otherwise.
    function isValidSignature(bytes32 hash, bytes memory signature) external view returns (bytes4 magicValue) {
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == _owner) {
            return IERC1271.isValidSignature.selector;
        }
        return INVALID_SIGNATURE;
    }

    /// @notice Calls `target` with `value` wei and `data`, bubbling any revert. Owner only.
    /// @dev `target` must have code (OpenZeppelin `Address.functionCallWithValue`); plain ether
    /// payments to an EOA revert `AddressEmptyCode(target)`.
    /// @param target Contract to call.
    /// @param value Wei to send from the wallet.
    /// @param data Calldata.
    /// @return result The call's return data.
    function execute(address target, uint256 value, bytes calldata data) external returns (bytes memory result) {
        if (msg.sender != _owner) revert ERC1271WalletNotOwner(msg.sender);
        result = Address.functionCallWithValue(target, data, value);
        emit Executed(target, value, data);
    }
}
