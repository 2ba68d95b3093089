// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestERC20
/// @notice Plain OpenZeppelin ERC-20 with configurable decimals and an open mint. Test use only.
contract TestERC20 is ERC20 {
    uint8 private immutable _decimals;

    /// @notice Deploys the token with `name_`, `symbol_` and `decimals_`; the supply starts at zero.
    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    /// @param decimals_ Token decimals.
    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _decimals = decimals_;
    }

    /// @notice Mints `amount` to `to`. Anyone may call it.
    /// @param to Recipient.
    /// @param amount Amount to mint.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice The decimals given at construction.
    /// @return The decimals.
    function decimals() public view override returns (uint8) {
        return _decimals;
    }
}
