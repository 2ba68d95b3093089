// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

import {IGatewayRegistry} from "./interfaces/IGatewayRegistry.sol";

/// @title GatewayRegistry
/// @notice Governance roles, the token allowlist, bonded gateways and acceptors. See {IGatewayRegistry}.
contract GatewayRegistry is IGatewayRegistry, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using EnumerableSet for EnumerableSet.Bytes32Set;

    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Allowlists tokens and approves, suspends and slashes gateways.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice Pauses new business.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice Rules disputes the gateway did not rule in time.
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");
    /// @notice Held by escrows: moves gateways' open-dispute counters.
    bytes32 public constant ESCROW_ROLE = keccak256("ESCROW_ROLE");

    /// @notice No fee, cap or gateway cap may exceed 10%.
    uint16 public constant MAX_FEE_LIMIT_BPS = 1_000;
    /// @notice The unbonding delay is at most 180 days.
    uint32 public constant MAX_UNBONDING_DELAY = 180 days;

    /*//////////////////////////////////////////////////////////////
                                 STATE
    //////////////////////////////////////////////////////////////*/

    address private immutable _bondToken;
    uint32 private immutable _minUnbondingDelay;

    // one slot (the first of this contract's own, after AccessControl's): every new deal reads the pause flag, the
    // fee cap and (for a deal in the bond token) its allowance together, in one storage read
    uint96 private _minBond;
    uint16 private _maxFeeBps;
    uint32 private _unbondingDelay;
    bool private _paused;
    bool private _bondTokenAllowed;

    mapping(address token => bool allowed) private _allowedTokens;
    mapping(address gateway => Gateway) private _gateways;
    address[] private _gatewayList;
    mapping(address acceptor => Acceptor) private _acceptors;
    address[] private _acceptorList;
    mapping(address acceptor => EnumerableSet.Bytes32Set) private _methods;
    mapping(address acceptor => mapping(address token => OrderLimits)) private _limits;

    /// @param admin Receives `DEFAULT_ADMIN_ROLE`; it grants the other roles.
    /// @param bondToken_ The token gateways post their bond in (USDT).
    /// @param minBond_ The minimum bond.
    /// @param maxFeeBps_ The global fee cap, at most `MAX_FEE_LIMIT_BPS`.
    /// @param unbondingDelay_ The unbonding delay, within `[minUnbondingDelay_, MAX_UNBONDING_DELAY]`.
    /// @param minUnbondingDelay_ The floor of the unbonding delay, at most `MAX_UNBONDING_DELAY`: at least the
    /// resolution window of every escrow that will use this registry (each escrow checks it when deployed).
    constructor(
        address admin,
        address bondToken_,
        uint96 minBond_,
        uint16 maxFeeBps_,
        uint32 unbondingDelay_,
        uint32 minUnbondingDelay_
    ) {
        if (admin == address(0) || bondToken_ == address(0)) revert RegistryZeroAddress();
        if (minUnbondingDelay_ > MAX_UNBONDING_DELAY) {
            revert RegistryInvalidParameter(minUnbondingDelay_, MAX_UNBONDING_DELAY);
        }
        _bondToken = bondToken_;
        _minUnbondingDelay = minUnbondingDelay_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setMinBond(minBond_);
        _setMaxFee(maxFeeBps_);
        _setUnbondingDelay(unbondingDelay_);
    }

    /*//////////////////////////////////////////////////////////////
                               GOVERNANCE
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IGatewayRegistry
    function setTokenAllowed(address token, bool allowed) external onlyRole(GOVERNOR_ROLE) {
        if (token == address(0)) revert RegistryZeroAddress();
        if (token == _bondToken) _bondTokenAllowed = allowed;
        else _allowedTokens[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    /// @inheritdoc IGatewayRegistry
    function setMinBond(uint96 minBond_) external onlyRole(GOVERNOR_ROLE) {
        _setMinBond(minBond_);
    }

    /// @inheritdoc IGatewayRegistry
    function setMaxFee(uint16 maxFeeBps_) external onlyRole(GOVERNOR_ROLE) {
        _setMaxFee(maxFeeBps_);
    }

    /// @inheritdoc IGatewayRegistry
    function setUnbondingDelay(uint32 unbondingDelay_) external onlyRole(GOVERNOR_ROLE) {
        _setUnbondingDelay(unbondingDelay_);
    }

    /// @inheritdoc IGatewayRegistry
    function approveGateway(address gw, uint16 feeCapBps) external onlyRole(GOVERNOR_ROLE) {
        Gateway storage g = _gateways[gw];
        if (g.status != GatewayStatus.Pending) revert RegistryGatewayWrongStatus(gw, g.status);
        if (feeCapBps > MAX_FEE_LIMIT_BPS) revert RegistryInvalidParameter(feeCapBps, MAX_FEE_LIMIT_BPS);
        if (g.feeBps > feeCapBps) revert RegistryFeeTooHigh(g.feeBps, feeCapBps);
        g.feeCapBps = feeCapBps;
        g.status = GatewayStatus.Active;
        emit GatewayApproved(gw, feeCapBps);
    }

    /// @inheritdoc IGatewayRegistry
    function suspendGateway(address gw) external onlyRole(GOVERNOR_ROLE) {
        Gateway storage g = _gateways[gw];
        GatewayStatus status = g.status;
        if (status == GatewayStatus.None || status == GatewayStatus.Exited)
            revert RegistryGatewayWrongStatus(gw, status);
        if (g.suspended) revert RegistryGatewaySuspended(gw);
        g.suspended = true;
        emit GatewaySuspended(gw);
    }

    /// @inheritdoc IGatewayRegistry
    function reinstateGateway(address gw) external onlyRole(GOVERNOR_ROLE) {
        Gateway storage g = _gateways[gw];
        if (!g.suspended) revert RegistryGatewayNotSuspended(gw);
        g.suspended = false;
        emit GatewayReinstated(gw);
    }

    /// @inheritdoc IGatewayRegistry
    function slashGateway(address gw, uint96 amount, address recipient) external onlyRole(GOVERNOR_ROLE) nonReentrant {
        // Checks
        if (recipient == address(0)) revert RegistryZeroAddress();
        Gateway storage g = _gateways[gw];
        if (g.status == GatewayStatus.None || g.status == GatewayStatus.Exited) {
            revert RegistryGatewayWrongStatus(gw, g.status);
        }
        uint96 bond = g.bond;
        if (amount == 0 || amount > bond) revert RegistryInvalidSlash(gw, amount, bond);
        // Effects
        unchecked {
            bond -= amount;
        }
        g.bond = bond;
        emit GatewaySlashed(gw, recipient, amount, bond);
        // Interactions
        IERC20(_bondToken).safeTransfer(recipient, amount);
    }

    /// @inheritdoc IGatewayRegistry
    function pause() external onlyRole(PAUSER_ROLE) {
        if (_paused) revert RegistryPaused();
        _paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc IGatewayRegistry
    function unpause() external onlyRole(PAUSER_ROLE) {
        if (!_paused) revert RegistryNotPaused();
        _paused = false;
        emit Unpaused(msg.sender);
    }

    /*//////////////////////////////////////////////////////////////
                                GATEWAYS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IGatewayRegistry
    function registerGateway(uint96 bond, uint16 feeBps, bytes32 metadata) external nonReentrant {
        _requireNotPaused();
        // Checks
        Gateway storage g = _gateways[msg.sender];
        if (g.status != GatewayStatus.None) revert RegistryGatewayWrongStatus(msg.sender, g.status);
        if (feeBps > _maxFeeBps) revert RegistryFeeTooHigh(feeBps, _maxFeeBps);
        // Interactions (measured first: the bond credited is what arrived)
        uint96 received = _pullBond(bond);
        if (received < _minBond) revert RegistryBondTooLow(received, _minBond);
        // Effects
        g.bond = received;
        g.feeBps = feeBps;
        g.status = GatewayStatus.Pending;
        _gatewayList.push(msg.sender);
        emit GatewayRegistered(msg.sender, received, feeBps, metadata);
    }

    /// @inheritdoc IGatewayRegistry
    function addBond(uint96 amount) external nonReentrant {
        Gateway storage g = _gateways[msg.sender];
        if (g.status == GatewayStatus.None || g.status == GatewayStatus.Exited) {
            revert RegistryGatewayWrongStatus(msg.sender, g.status);
        }
        uint96 received = _pullBond(amount);
        uint96 bond = g.bond + received;
        g.bond = bond;
        emit GatewayBondAdded(msg.sender, received, bond);
    }

    /// @inheritdoc IGatewayRegistry
    function setGatewayFee(uint16 feeBps) external {
        Gateway storage g = _gateways[msg.sender];
        GatewayStatus status = g.status;
        if (status != GatewayStatus.Pending && status != GatewayStatus.Active) {
            revert RegistryGatewayWrongStatus(msg.sender, status);
        }
        if (feeBps > _maxFeeBps) revert RegistryFeeTooHigh(feeBps, _maxFeeBps);
        // A pending gateway has no cap of its own yet; approval checks its fee against the cap it is given.
        if (status != GatewayStatus.Pending && feeBps > g.feeCapBps) revert RegistryFeeTooHigh(feeBps, g.feeCapBps);
        g.feeBps = feeBps;
        emit GatewayFeeSet(msg.sender, feeBps);
    }

    /// @inheritdoc IGatewayRegistry
    function requestExit() external {
        Gateway storage g = _gateways[msg.sender];
        GatewayStatus status = g.status;
        if (status != GatewayStatus.Pending && status != GatewayStatus.Active) {
            revert RegistryGatewayWrongStatus(msg.sender, status);
        }
        // From now on no dispute is counted as the gateway's (noteDisputeOpened): the counter only falls.
        uint40 exitAt = uint40(block.timestamp) + _unbondingDelay;
        g.status = GatewayStatus.Exiting;
        g.exitAt = exitAt;
        emit GatewayExitRequested(msg.sender, exitAt);
    }

    /// @inheritdoc IGatewayRegistry
    function completeExit() external nonReentrant {
        // Checks
        Gateway storage g = _gateways[msg.sender];
        if (g.status != GatewayStatus.Exiting) revert RegistryGatewayWrongStatus(msg.sender, g.status);
        if (g.suspended) revert RegistryGatewaySuspended(msg.sender);
        if (block.timestamp < g.exitAt) revert RegistryUnbonding(msg.sender, g.exitAt);
        if (g.openDisputes != 0) revert RegistryGatewayHasDisputes(msg.sender, g.openDisputes);
        // Effects
        uint96 bond = g.bond;
        g.bond = 0;
        g.status = GatewayStatus.Exited;
        emit GatewayExited(msg.sender, bond);
        // Interactions
        if (bond != 0) IERC20(_bondToken).safeTransfer(msg.sender, bond);
    }

    /*//////////////////////////////////////////////////////////////
                               ACCEPTORS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IGatewayRegistry
    function registerAcceptor(address gw, address lockDelegate) external {
        _requireNotPaused();
        Acceptor storage a = _acceptors[msg.sender];
        if (a.status != AcceptorStatus.None) revert RegistryAcceptorWrongStatus(msg.sender, a.status);
        _requireGoodStanding(gw);
        a.gateway = gw;
        a.status = AcceptorStatus.Pending;
        a.lockDelegate = lockDelegate;
        _acceptorList.push(msg.sender);
        emit AcceptorRegistered(msg.sender, gw, lockDelegate);
    }

    /// @inheritdoc IGatewayRegistry
    function approveAcceptor(address acc) external {
        Acceptor storage a = _acceptors[acc];
        if (a.status != AcceptorStatus.Pending) revert RegistryAcceptorWrongStatus(acc, a.status);
        address gw = a.gateway;
        if (msg.sender != gw) revert RegistryNotAcceptorGateway(acc, msg.sender);
        _requireGoodStanding(gw);
        a.status = AcceptorStatus.Active;
        emit AcceptorApproved(acc, gw);
    }

    /// @inheritdoc IGatewayRegistry
    function suspendAcceptor(address acc) external {
        Acceptor storage a = _acceptors[acc];
        _checkGatewayOrGovernor(acc, a.gateway);
        if (a.status != AcceptorStatus.Active) revert RegistryAcceptorWrongStatus(acc, a.status);
        a.status = AcceptorStatus.Suspended;
        emit AcceptorSuspended(acc, msg.sender);
    }

    /// @inheritdoc IGatewayRegistry
    function reinstateAcceptor(address acc) external {
        Acceptor storage a = _acceptors[acc];
        address gw = a.gateway;
        _checkGatewayOrGovernor(acc, gw);
        if (a.status != AcceptorStatus.Suspended) revert RegistryAcceptorWrongStatus(acc, a.status);
        _requireGoodStanding(gw);
        a.status = AcceptorStatus.Active;
        emit AcceptorReinstated(acc, msg.sender);
    }

    /// @inheritdoc IGatewayRegistry
    function setLockDelegate(address lockDelegate) external {
        Acceptor storage a = _registeredAcceptor(msg.sender);
        a.lockDelegate = lockDelegate;
        emit AcceptorLockDelegateSet(msg.sender, lockDelegate);
    }

    /// @inheritdoc IGatewayRegistry
    function setMethods(bytes32[] calldata add, bytes32[] calldata remove) external {
        _registeredAcceptor(msg.sender);
        EnumerableSet.Bytes32Set storage methods = _methods[msg.sender];
        for (uint256 i; i < add.length; ++i) {
            if (methods.add(add[i])) emit AcceptorMethodSet(msg.sender, add[i], true);
        }
        for (uint256 i; i < remove.length; ++i) {
            if (methods.remove(remove[i])) emit AcceptorMethodSet(msg.sender, remove[i], false);
        }
    }

    /// @inheritdoc IGatewayRegistry
    function setLimits(address token, uint96 minAmount, uint96 maxAmount) external {
        _registeredAcceptor(msg.sender);
        if (maxAmount == 0 || minAmount > maxAmount) revert RegistryInvalidLimits(minAmount, maxAmount);
        _limits[msg.sender][token] = OrderLimits({minAmount: minAmount, maxAmount: maxAmount});
        emit AcceptorLimitsSet(msg.sender, token, minAmount, maxAmount);
    }

    /*//////////////////////////////////////////////////////////////
                              ESCROW HOOKS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IGatewayRegistry
    function noteDisputeOpened(address gw) external onlyRole(ESCROW_ROLE) returns (bool held) {
        Gateway storage g = _gateways[gw];
        if (g.status != GatewayStatus.Active || g.suspended) return false;
        uint32 count = g.openDisputes;
        if (count == type(uint32).max) revert RegistryDisputeCounter(gw, count);
        unchecked {
            ++count;
        }
        g.openDisputes = count;
        emit GatewayDisputesChanged(gw, count);
        return true;
    }

    /// @inheritdoc IGatewayRegistry
    function noteDisputeClosed(address gw) external onlyRole(ESCROW_ROLE) {
        Gateway storage g = _gateways[gw];
        uint32 count = g.openDisputes;
        if (count == 0) revert RegistryDisputeCounter(gw, count);
        unchecked {
            --count;
        }
        g.openDisputes = count;
        emit GatewayDisputesChanged(gw, count);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IGatewayRegistry
    function dealTerms(
        address gw,
        address token,
        address acc,
        bool withDelegate
    ) external view returns (DealTerms memory terms) {
        _requireOpenForBusiness(token);
        Gateway storage g = _requireGoodStanding(gw);
        uint16 fee = g.feeBps;
        uint16 cap = _maxFeeBps;
        terms.feeBps = fee < cap ? fee : cap;
        if (acc != address(0)) {
            Acceptor storage a = _acceptors[acc];
            if (a.status != AcceptorStatus.Active) revert RegistryAcceptorWrongStatus(acc, a.status);
            if (a.gateway != gw) revert RegistryAcceptorGatewayMismatch(acc, a.gateway, gw);
            OrderLimits storage limits = _limits[acc][token];
            if (withDelegate) terms.lockDelegate = a.lockDelegate;
            terms.minAmount = limits.minAmount;
            terms.maxAmount = limits.maxAmount;
        }
    }

    /// @inheritdoc IGatewayRegistry
    function checkDeposit(address acc, address token) external view {
        _requireOpenForBusiness(token);
        Acceptor storage a = _acceptors[acc];
        if (a.status != AcceptorStatus.Active) revert RegistryAcceptorWrongStatus(acc, a.status);
        _requireGoodStanding(a.gateway);
    }

    /// @inheritdoc IGatewayRegistry
    function canRule(address gw) external view returns (bool) {
        Gateway storage g = _gateways[gw];
        GatewayStatus status = g.status;
        return !g.suspended && (status == GatewayStatus.Active || status == GatewayStatus.Exiting);
    }

    /// @inheritdoc IGatewayRegistry
    function isArbiter(address account) external view returns (bool) {
        return hasRole(ARBITER_ROLE, account);
    }

    /// @inheritdoc IGatewayRegistry
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IGatewayRegistry
    function bondToken() external view returns (address) {
        return _bondToken;
    }

    /// @inheritdoc IGatewayRegistry
    function isTokenAllowed(address token) external view returns (bool) {
        return _isTokenAllowed(token);
    }

    /// @inheritdoc IGatewayRegistry
    function minBond() external view returns (uint96) {
        return _minBond;
    }

    /// @inheritdoc IGatewayRegistry
    function maxFeeBps() external view returns (uint16) {
        return _maxFeeBps;
    }

    /// @inheritdoc IGatewayRegistry
    function unbondingDelay() external view returns (uint32) {
        return _unbondingDelay;
    }

    /// @inheritdoc IGatewayRegistry
    function minUnbondingDelay() external view returns (uint32) {
        return _minUnbondingDelay;
    }

    /// @inheritdoc IGatewayRegistry
    function getGateway(address gw) external view returns (Gateway memory) {
        return _gateways[gw];
    }

    /// @inheritdoc IGatewayRegistry
    function gatewayCount() external view returns (uint256) {
        return _gatewayList.length;
    }

    /// @inheritdoc IGatewayRegistry
    function gatewayAt(uint256 index) external view returns (address) {
        return _gatewayList[index];
    }

    /// @inheritdoc IGatewayRegistry
    function getAcceptor(address acc) external view returns (Acceptor memory) {
        return _acceptors[acc];
    }

    /// @inheritdoc IGatewayRegistry
    function acceptorCount() external view returns (uint256) {
        return _acceptorList.length;
    }

    /// @inheritdoc IGatewayRegistry
    function acceptorAt(uint256 index) external view returns (address) {
        return _acceptorList[index];
    }

    /// @inheritdoc IGatewayRegistry
    function methodsOf(address acc) external view returns (bytes32[] memory) {
        return _methods[acc].values();
    }

    /// @inheritdoc IGatewayRegistry
    function supportsMethod(address acc, bytes32 method) external view returns (bool) {
        return _methods[acc].contains(method);
    }

    /// @inheritdoc IGatewayRegistry
    function limitsOf(address acc, address token) external view returns (OrderLimits memory) {
        return _limits[acc][token];
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    function _requireNotPaused() private view {
        if (_paused) revert RegistryPaused();
    }

    /// @dev New business in `token`: not paused and an allowlisted token. For the bond token both flags sit in
    /// one slot and cost one storage read.
    function _requireOpenForBusiness(address token) private view {
        if (_paused) revert RegistryPaused();
        if (!_isTokenAllowed(token)) revert RegistryTokenNotAllowed(token);
    }

    function _isTokenAllowed(address token) private view returns (bool) {
        return token == _bondToken ? _bondTokenAllowed : _allowedTokens[token];
    }

    /// @dev An `Active` gateway that governance has not suspended.
    function _requireGoodStanding(address gw) private view returns (Gateway storage g) {
        g = _gateways[gw];
        if (g.status != GatewayStatus.Active) revert RegistryGatewayWrongStatus(gw, g.status);
        if (g.suspended) revert RegistryGatewaySuspended(gw);
    }

    function _setMinBond(uint96 minBond_) private {
        _minBond = minBond_;
        emit MinBondSet(minBond_);
    }

    function _setMaxFee(uint16 maxFeeBps_) private {
        if (maxFeeBps_ > MAX_FEE_LIMIT_BPS) revert RegistryInvalidParameter(maxFeeBps_, MAX_FEE_LIMIT_BPS);
        _maxFeeBps = maxFeeBps_;
        emit MaxFeeSet(maxFeeBps_);
    }

    function _setUnbondingDelay(uint32 unbondingDelay_) private {
        if (unbondingDelay_ > MAX_UNBONDING_DELAY) {
            revert RegistryInvalidParameter(unbondingDelay_, MAX_UNBONDING_DELAY);
        }
        if (unbondingDelay_ < _minUnbondingDelay) revert RegistryInvalidParameter(unbondingDelay_, _minUnbondingDelay);
        _unbondingDelay = unbondingDelay_;
        emit UnbondingDelaySet(unbondingDelay_);
    }

    /// @dev Pulls `amount` of the bond token from the caller and returns what arrived.
    function _pullBond(uint96 amount) private returns (uint96 received) {
        if (amount == 0) revert RegistryBondTooLow(0, _minBond);
        IERC20 token = IERC20(_bondToken);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        received = SafeCast.toUint96(token.balanceOf(address(this)) - before);
    }

    function _checkGatewayOrGovernor(address acc, address gw) private view {
        if (msg.sender != gw && !hasRole(GOVERNOR_ROLE, msg.sender)) revert RegistryNotAcceptorGateway(acc, msg.sender);
    }

    function _registeredAcceptor(address acc) private view returns (Acceptor storage a) {
        a = _acceptors[acc];
        if (a.status == AcceptorStatus.None) revert RegistryAcceptorWrongStatus(acc, AcceptorStatus.None);
    }
}
