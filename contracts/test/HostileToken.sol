// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title HostileToken
/// @notice ERC-20 with an open mint that can be armed to call back into a target once, from inside
/// `transfer` or `transferFrom` before balances move, or made to refuse every transfer. Test use only.
/// @dev The callback never bubbles a revert: it records the outcome in `lastCallFailed` and
/// `lastRevertData` (and the `CallbackMade` event) so a test can check what the target answered,
/// e.g. `ReentrancyGuardReentrantCall()`.
contract HostileToken is ERC20 {
    // slot: 160 + 8 + 8 bits
    address private _target;
    bool private _armed;
    bool private _failTransfers;

    bytes private _data;

    /// @notice Whether the last callback's inner call reverted.
    bool public lastCallFailed;

    /// @notice Revert data of the last callback's inner call; empty if it succeeded.
    bytes public lastRevertData;

    /// @notice Emitted when the token is armed to call `target` with `data`.
    /// @param target Contract to call.
    /// @param data Calldata.
    event Armed(address indexed target, bytes data);

    /// @notice Emitted when the token is disarmed by `disarm()` (not when a callback fires).
    event Disarmed();

    /// @notice Emitted after a callback into `target`: `success`, and its return or revert data.
    /// @param target Contract called.
    /// @param success Whether the call succeeded.
    /// @param returnData Its return or revert data.
    event CallbackMade(address indexed target, bool success, bytes returnData);

    /// @notice Emitted when transfer failure is switched on or off.
    /// @param fail Whether transfers now revert.
    event FailTransfersSet(bool fail);

    /// @notice Transfers are blocked by `setFailTransfers(true)`.
    error HostileTokenTransferBlocked();

    /// @notice Deploys the token with `name_` and `symbol_` (18 decimals); the supply starts at zero.
    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) {}

    /// @notice Mints `amount` to `to`. Anyone may call it.
    /// @param to Recipient.
    /// @param amount Amount to mint.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms one callback: the next `transfer` or `transferFrom` first calls `target` with `data`.
    /// @param target Contract to call.
    /// @param data Calldata for the call.
    function arm(address target, bytes calldata data) external {
        _target = target;
        _data = data;
        _armed = true;
        emit Armed(target, data);
    }

    /// @notice Cancels a pending callback.
    function disarm() external {
        _armed = false;
        delete _target;
        delete _data;
        emit Disarmed();
    }

    /// @notice Whether a callback is pending, and its target and calldata.
    /// @return isArmed Whether a callback is pending.
    /// @return target Its target.
    /// @return data Its calldata.
    function armed() external view returns (bool isArmed, address target, bytes memory data) {
        return (_armed, _target, _data);
    }

    /// @notice When `fail` is true, `transfer` and `transferFrom` revert `HostileTokenTransferBlocked()`.
    /// @param fail Whether transfers revert.
    function setFailTransfers(bool fail) external {
        _failTransfers = fail;
        emit FailTransfersSet(fail);
    }

    /// @notice Whether transfers are currently blocked.
    /// @return Whether transfers are blocked.
    function failTransfers() external view returns (bool) {
        return _failTransfers;
    }

    /// @notice ERC-20 transfer, preceded by the armed callback if any.
    /// @param to Recipient.
    /// @param value Amount.
    /// @return Always true.
    function transfer(address to, uint256 value) public override returns (bool) {
        _beforeMove();
        return super.transfer(to, value);
    }

    /// @notice ERC-20 transferFrom, preceded by the armed callback if any.
    /// @param from Account debited.
    /// @param to Recipient.
    /// @param value Amount.
    /// @return Always true.
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _beforeMove();
        return super.transferFrom(from, to, value);
    }

    function _beforeMove() private {
        if (_failTransfers) revert HostileTokenTransferBlocked();
        if (!_armed) return;

        // Disarm before calling out so a re-entrant transfer does not fire again.
        address target = _target;
        bytes memory data = _data;
        _armed = false;
        delete _target;
        delete _data;

        // solhint-disable-next-line avoid-low-level-calls
        (bool success, bytes memory returnData) = target.call(data);
        lastCallFailed = !success;
        lastRevertData = success ? bytes("") : returnData;
        emit CallbackMade(target, success, returnData);
    }
}
