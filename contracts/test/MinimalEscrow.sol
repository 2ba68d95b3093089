// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title MinimalEscrow
/// @notice The gas floor `npm run bench:gas` measures the escrow against: the least a two-party escrow can do and
/// still hold other people's money safely. Test use only; never deployed.
/// @dev What it keeps: one new storage slot per deal (a commitment to payer, payee, amount and deadline, and a
/// "performed" flag), funds pulled with SafeERC20 `transferFrom`, a deal id bound to its payer, the payee's
/// "performed" and the payer's release (or both signed, EIP-712, in one transaction), a fee accrued to a counter,
/// and a refund after the deadline. What it drops: events (its state is read from storage and calldata only),
/// registry, gateways, acceptors, disputes, balance-delta checks, owed balances, reentrancy guard, batching.
contract MinimalEscrow is EIP712 {
    using SafeERC20 for IERC20;

    /// @notice The one token deals are in.
    IERC20 public immutable token;
    /// @notice Fee in basis points on every release.
    uint256 public immutable feeBps;
    /// @notice Fees accrued.
    uint256 public fees;

    bytes32 private constant ACTION_TYPEHASH = keccak256("Action(bytes32 id,uint8 action,uint256 expiry)");
    uint256 private constant PERFORMED = 1;

    mapping(bytes32 id => uint256 slot) private _deals;

    /// @notice The deal does not exist with these parameters, or is not in the state the call needs.
    /// @param id The deal id.
    error MinimalEscrowBadDeal(bytes32 id);
    /// @notice A signature is invalid or expired.
    /// @param id The deal id.
    error MinimalEscrowBadSignature(bytes32 id);

    /// @param token_ The token.
    /// @param feeBps_ The fee in basis points.
    constructor(IERC20 token_, uint256 feeBps_) EIP712("MinimalEscrow", "1") {
        token = token_;
        feeBps = feeBps_;
    }

    /// @notice Opens a deal from the caller's wallet (approve `amount` first).
    /// @param payee The payee.
    /// @param amount The amount.
    /// @param deadline After it an unperformed deal refunds.
    /// @param salt The caller's salt.
    /// @return id The deal id.
    function open(address payee, uint256 amount, uint256 deadline, bytes32 salt) external returns (bytes32 id) {
        id = keccak256(abi.encode(msg.sender, salt));
        if (_deals[id] != 0 || amount == 0 || payee == address(0) || deadline <= block.timestamp) {
            revert MinimalEscrowBadDeal(id);
        }
        _deals[id] = _commit(msg.sender, payee, amount, deadline);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice The payee confirms "performed".
    /// @param payer The payer.
    /// @param amount The amount.
    /// @param deadline The deadline.
    /// @param salt The payer's salt.
    function perform(address payer, uint256 amount, uint256 deadline, bytes32 salt) external {
        bytes32 id = keccak256(abi.encode(payer, salt));
        uint256 c = _commit(payer, msg.sender, amount, deadline);
        if (_deals[id] != c || block.timestamp > deadline) revert MinimalEscrowBadDeal(id);
        _deals[id] = c | PERFORMED;
    }

    /// @notice The payer releases a performed deal: the payee gets the amount less the fee.
    /// @param payee The payee.
    /// @param amount The amount.
    /// @param deadline The deadline.
    /// @param salt The payer's salt.
    function release(address payee, uint256 amount, uint256 deadline, bytes32 salt) external {
        bytes32 id = keccak256(abi.encode(msg.sender, salt));
        if (_deals[id] != _commit(msg.sender, payee, amount, deadline) | PERFORMED) revert MinimalEscrowBadDeal(id);
        _payOut(id, payee, amount);
    }

    /// @notice Releases an open or performed deal on both parties' signatures, in one transaction.
    /// @param payer The payer.
    /// @param payee The payee.
    /// @param amount The amount.
    /// @param deadline The deadline.
    /// @param salt The payer's salt.
    /// @param expiry The signatures' expiry.
    /// @param payeeSig The payee's signature of action 0 (performed).
    /// @param payerSig The payer's signature of action 1 (release).
    function releaseWithSigs(
        address payer,
        address payee,
        uint256 amount,
        uint256 deadline,
        bytes32 salt,
        uint256 expiry,
        bytes calldata payeeSig,
        bytes calldata payerSig
    ) external {
        bytes32 id = keccak256(abi.encode(payer, salt));
        if ((_deals[id] | PERFORMED) != _commit(payer, payee, amount, deadline) | PERFORMED) {
            revert MinimalEscrowBadDeal(id);
        }
        if (
            block.timestamp > expiry ||
            ECDSA.recover(_hashTypedDataV4(keccak256(abi.encode(ACTION_TYPEHASH, id, 0, expiry))), payeeSig) != payee ||
            ECDSA.recover(_hashTypedDataV4(keccak256(abi.encode(ACTION_TYPEHASH, id, 1, expiry))), payerSig) != payer
        ) revert MinimalEscrowBadSignature(id);
        _payOut(id, payee, amount);
    }

    /// @notice Returns an unperformed deal to its payer after the deadline. Anyone may call.
    /// @param payer The payer.
    /// @param payee The payee.
    /// @param amount The amount.
    /// @param deadline The deadline.
    /// @param salt The payer's salt.
    function refund(address payer, address payee, uint256 amount, uint256 deadline, bytes32 salt) external {
        bytes32 id = keccak256(abi.encode(payer, salt));
        if (_deals[id] != _commit(payer, payee, amount, deadline) || block.timestamp <= deadline) {
            revert MinimalEscrowBadDeal(id);
        }
        _deals[id] = type(uint256).max; // final: matches no commitment again
        token.safeTransfer(payer, amount);
    }

    /// @notice The EIP-712 digest a party signs for `action` on deal `id`.
    /// @param id The deal id.
    /// @param action 0 performed, 1 release.
    /// @param expiry The expiry.
    /// @return The digest.
    function actionDigest(bytes32 id, uint8 action, uint256 expiry) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(ACTION_TYPEHASH, id, action, expiry)));
    }

    function _payOut(bytes32 id, address payee, uint256 amount) private {
        _deals[id] = type(uint256).max; // final: matches no commitment again
        uint256 fee = (amount * feeBps) / 10_000;
        fees += fee;
        token.safeTransfer(payee, amount - fee);
    }

    /// @dev A commitment with its lowest bit clear (the bit is the "performed" flag).
    function _commit(address payer, address payee, uint256 amount, uint256 deadline) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(payer, payee, amount, deadline))) & ~PERFORMED;
    }
}
