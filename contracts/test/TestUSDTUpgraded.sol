// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// Stands in for a successor of mainnet Tether (solc 0.4.17), whose failures carry no data: bare `require`s.
// solhint-disable gas-custom-errors

/// @title IUpgradedStandardToken
/// @notice The calls mainnet Tether makes on its successor once deprecated (Tether's `UpgradedStandardToken`).
interface IUpgradedStandardToken {
    /// @notice Moves `value` from `from` to `to` on behalf of the legacy token.
    /// @param from Account debited (the caller of the legacy `transfer`).
    /// @param to Recipient.
    /// @param value Amount.
    function transferByLegacy(address from, address to, uint256 value) external;

    /// @notice Moves `value` from `from` to `to` with the allowance of `sender`, on behalf of the legacy token.
    /// @param sender The caller of the legacy `transferFrom` (the spender).
    /// @param from Account debited.
    /// @param to Recipient.
    /// @param value Amount.
    function transferFromByLegacy(address sender, address from, address to, uint256 value) external;

    /// @notice Sets the allowance of `spender` over `from`'s tokens, on behalf of the legacy token.
    /// @param from Holder (the caller of the legacy `approve`).
    /// @param spender Spender.
    /// @param value New allowance.
    function approveByLegacy(address from, address spender, uint256 value) external;

    /// @notice Balance of `who`.
    /// @param who Holder.
    /// @return The balance.
    function balanceOf(address who) external view returns (uint256);

    /// @notice Allowance of `spender` over `holder`'s tokens.
    /// @param holder Holder.
    /// @param spender Spender.
    /// @return The allowance.
    function allowance(address holder, address spender) external view returns (uint256);

    /// @notice Total supply.
    /// @return The total supply.
    function totalSupply() external view returns (uint256);
}

/// @title TestUSDTUpgraded
/// @notice Minimal stand-in for the token a deprecated TestUSDT forwards to (Tether's `UpgradedStandardToken`):
/// its own balances, allowances and supply, driven by the legacy token. No fee, no blacklist. Test use only.
contract TestUSDTUpgraded is IUpgradedStandardToken {
    /// @notice The legacy token: the only caller of the `...ByLegacy` functions.
    address public immutable legacy;

    /// @notice Total supply in base units.
    uint256 public totalSupply;

    /// @notice Whether `transferByLegacy` and `transferFromByLegacy` revert (with empty data).
    bool public failTransfers;

    /// @notice Balances in base units.
    mapping(address account => uint256 balance) public balanceOf;

    /// @notice Allowances: `allowance[holder][spender]`.
    mapping(address holder => mapping(address spender => uint256 value)) public allowance;

    /// @notice Emitted when `value` moves from `from` to `to` (from zero for a mint).
    /// @param from Account debited.
    /// @param to Account credited.
    /// @param value Amount.
    event Transfer(address indexed from, address indexed to, uint256 value);

    /// @notice Emitted when `holder` sets the allowance of `spender` to `value`.
    /// @param holder Holder.
    /// @param spender Spender.
    /// @param value New allowance.
    event Approval(address indexed holder, address indexed spender, uint256 value);

    modifier onlyLegacy() {
        require(msg.sender == legacy);
        _;
    }

    /// @notice Deploys the successor of `legacy_`.
    /// @param legacy_ The deprecated token that will forward to this one.
    constructor(address legacy_) {
        legacy = legacy_;
    }

    /// @notice Moves `value` from `from` to `to`. Legacy token only.
    /// @param from Account debited (the legacy caller).
    /// @param to Recipient.
    /// @param value Amount.
    function transferByLegacy(address from, address to, uint256 value) external onlyLegacy {
        _move(from, to, value);
    }

    /// @notice Moves `value` from `from` to `to`, spending the allowance of `sender`. Legacy token only.
    /// @param sender Spender (the legacy caller).
    /// @param from Account debited.
    /// @param to Recipient.
    /// @param value Amount.
    function transferFromByLegacy(address sender, address from, address to, uint256 value) external onlyLegacy {
        require(allowance[from][sender] >= value);
        allowance[from][sender] -= value;
        _move(from, to, value);
    }

    /// @notice Sets the allowance of `spender` over `from`'s tokens. Legacy token only.
    /// @param from Holder (the legacy caller).
    /// @param spender Spender.
    /// @param value New allowance.
    function approveByLegacy(address from, address spender, uint256 value) external onlyLegacy {
        allowance[from][spender] = value;
        emit Approval(from, spender, value);
    }

    /// @notice Mints `amount` to `to`. Anyone may call it (test fixture).
    /// @param to Recipient.
    /// @param amount Base units.
    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Makes the legacy transfer functions revert with empty data (`true`) or work again (`false`).
    /// @param fail Whether they revert.
    function setFailTransfers(bool fail) external {
        failTransfers = fail;
    }

    function _move(address from, address to, uint256 value) private {
        require(!failTransfers);
        require(balanceOf[from] >= value);
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
