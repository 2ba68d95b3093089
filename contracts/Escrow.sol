// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IEscrow} from "./interfaces/IEscrow.sol";
import {IGatewayRegistry} from "./interfaces/IGatewayRegistry.sol";

/// @title Escrow
/// @notice Holds each deal's funds until payer and payee both confirm, or the deal's gateway (or, late, the
/// arbiter) rules its dispute. See {IEscrow}.
/// @dev Not upgradeable and without an owner. Batches go through {multicall} (this contract's own functions only).
contract Escrow is IEscrow, EIP712, Multicall, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice EIP-712 type of {Deal}.
    bytes32 public constant DEAL_TYPEHASH = keccak256(
        "Deal(address payer,address payee,address gateway,address token,uint96 amount,uint40 deadline,"
        "uint32 releaseWindow,uint16 feeBps,uint8 kind,bool autoRelease,bytes32 salt)"
    );
    /// @notice EIP-712 type the payer signs for {openWithSig}.
    bytes32 public constant OPEN_TYPEHASH = keccak256(
        "Open(Deal deal,bytes32 ref,uint256 expiry)"
        "Deal(address payer,address payee,address gateway,address token,uint96 amount,uint40 deadline,"
        "uint32 releaseWindow,uint16 feeBps,uint8 kind,bool autoRelease,bytes32 salt)"
    );
    /// @notice EIP-712 type the acceptor or its delegate signs for {lockWithSig}.
    bytes32 public constant LOCK_TYPEHASH = keccak256(
        "Lock(Deal deal,bytes32 ref,uint256 expiry)"
        "Deal(address payer,address payee,address gateway,address token,uint96 amount,uint40 deadline,"
        "uint32 releaseWindow,uint16 feeBps,uint8 kind,bool autoRelease,bytes32 salt)"
    );
    /// @notice EIP-712 type a party signs for one action on one deal.
    bytes32 public constant ACTION_TYPEHASH = keccak256("DealAction(bytes32 dealId,uint8 action,uint256 expiry)");

    /// @notice Shortest release window a deal may give its payer.
    uint32 public constant MIN_RELEASE_WINDOW = 1 hours;
    /// @notice Longest release window.
    uint32 public constant MAX_RELEASE_WINDOW = 90 days;
    /// @notice Latest deadline, counted from the open.
    uint256 public constant MAX_DEAL_DURATION = 365 days;
    /// @notice Latest deadline of a lock made by an acceptor's lock delegate: bounds how long a compromised
    /// delegate can tie up the float.
    uint256 public constant MAX_DELEGATE_LOCK_DURATION = 7 days;
    /// @notice Bounds of the resolution window fixed at deployment.
    uint32 public constant MIN_RESOLUTION_WINDOW = 1 hours;
    /// @notice Upper bound of the resolution window.
    uint32 public constant MAX_RESOLUTION_WINDOW = 90 days;

    uint256 private constant BPS = 10_000;

    /*//////////////////////////////////////////////////////////////
                                 STATE
    //////////////////////////////////////////////////////////////*/

    IGatewayRegistry private immutable _registry;
    uint32 private immutable _resolutionWindow;

    mapping(bytes32 dealId => DealRecord) private _deals;
    mapping(address acceptor => mapping(address token => Float)) private _floats;
    mapping(address token => mapping(address account => uint256 amount)) private _owed;

    /// @param registry_ The gateway registry (roles, pause, tokens, gateways, acceptors).
    /// @param resolutionWindow_ Seconds a gateway has to rule a dispute, within the bounds above.
    constructor(IGatewayRegistry registry_, uint32 resolutionWindow_) EIP712("USDT Escrow", "1") {
        if (address(registry_).code.length == 0) revert EscrowInvalidRegistry(address(registry_));
        if (resolutionWindow_ < MIN_RESOLUTION_WINDOW || resolutionWindow_ > MAX_RESOLUTION_WINDOW) {
            revert EscrowInvalidResolutionWindow(resolutionWindow_);
        }
        _registry = registry_;
        _resolutionWindow = resolutionWindow_;
    }

    /*//////////////////////////////////////////////////////////////
                              OPEN AND LOCK
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function open(Deal calldata deal, bytes32 ref) external nonReentrant returns (bytes32) {
        return _open(deal, ref, msg.sender, false);
    }

    /// @inheritdoc IEscrow
    function openWithSig(
        Deal calldata deal,
        bytes32 ref,
        Authorization calldata auth
    ) external nonReentrant returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(OPEN_TYPEHASH, _hashDeal(deal), ref, auth.expiry));
        _verify(_dealId(deal), deal.payer, structHash, auth);
        return _open(deal, ref, deal.payer, false);
    }

    /// @inheritdoc IEscrow
    function lock(Deal calldata deal, bytes32 ref) external nonReentrant returns (bytes32) {
        return _open(deal, ref, msg.sender, true);
    }

    /// @inheritdoc IEscrow
    function lockWithSig(
        Deal calldata deal,
        bytes32 ref,
        address signer,
        Authorization calldata auth
    ) external nonReentrant returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(LOCK_TYPEHASH, _hashDeal(deal), ref, auth.expiry));
        _verify(_dealId(deal), signer, structHash, auth);
        return _open(deal, ref, signer, true);
    }

    /*//////////////////////////////////////////////////////////////
                            PARTY ACTIONS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function perform(Deal calldata deal) external nonReentrant {
        _perform(deal, msg.sender);
    }

    /// @inheritdoc IEscrow
    function release(Deal calldata deal) external nonReentrant {
        _release(deal, msg.sender);
    }

    /// @inheritdoc IEscrow
    function cancel(Deal calldata deal) external nonReentrant {
        _cancel(deal, msg.sender);
    }

    /// @inheritdoc IEscrow
    function dispute(Deal calldata deal) external nonReentrant {
        _dispute(deal, msg.sender);
    }

    /// @inheritdoc IEscrow
    function claim(Deal calldata deal) external nonReentrant {
        _claim(deal, msg.sender);
    }

    /// @inheritdoc IEscrow
    function refund(Deal calldata deal) external nonReentrant {
        (bytes32 dealId, DealRecord memory rec) = _load(deal);
        if (rec.status != DealStatus.Open) revert EscrowWrongStatus(dealId, rec.status);
        if (block.timestamp <= deal.deadline) revert EscrowDeadlineNotPassed(dealId, deal.deadline);
        _refund(dealId, rec.commitment, deal, RefundReason.Deadline);
    }

    /// @inheritdoc IEscrow
    function actWithSig(Deal calldata deal, Action action, Authorization calldata auth) external nonReentrant {
        bytes32 dealId = _dealId(deal);
        bytes32 structHash = _actionHash(dealId, action, auth.expiry);
        if (action == Action.Release) {
            _verify(dealId, deal.payer, structHash, auth);
            _release(deal, deal.payer);
        } else if (action == Action.Dispute) {
            // Either party may dispute: the payer's signature is tried first.
            if (block.timestamp > auth.expiry) revert EscrowSignatureExpired(auth.expiry);
            address signer = deal.payer;
            if (!_isValid(signer, structHash, auth)) {
                signer = deal.payee;
                if (!_isValid(signer, structHash, auth)) revert EscrowInvalidSignature(dealId, signer);
            }
            _dispute(deal, signer);
        } else {
            _verify(dealId, deal.payee, structHash, auth);
            if (action == Action.Perform) _perform(deal, deal.payee);
            else if (action == Action.Cancel) _cancel(deal, deal.payee);
            else _claim(deal, deal.payee);
        }
    }

    /// @inheritdoc IEscrow
    function settleWithSigs(
        Deal calldata deal,
        Authorization calldata payeeAuth,
        Authorization calldata payerAuth
    ) external nonReentrant {
        // Checks
        (bytes32 dealId, DealRecord memory rec) = _load(deal);
        if (rec.status == DealStatus.Open) {
            if (block.timestamp > deal.deadline) revert EscrowDeadlinePassed(dealId, deal.deadline);
        } else if (rec.status != DealStatus.Performed) {
            revert EscrowWrongStatus(dealId, rec.status);
        }
        _verify(dealId, deal.payee, _actionHash(dealId, Action.Perform, payeeAuth.expiry), payeeAuth);
        _verify(dealId, deal.payer, _actionHash(dealId, Action.Release, payerAuth.expiry), payerAuth);
        // Effects and interactions
        _payRelease(dealId, rec.commitment, deal);
    }

    /// @inheritdoc IEscrow
    function cancelWithSigs(
        Deal calldata deal,
        Authorization calldata payerAuth,
        Authorization calldata payeeAuth
    ) external nonReentrant {
        // Checks
        (bytes32 dealId, DealRecord memory rec) = _load(deal);
        _requireNotFinal(dealId, rec.status);
        _verify(dealId, deal.payer, _actionHash(dealId, Action.Cancel, payerAuth.expiry), payerAuth);
        _verify(dealId, deal.payee, _actionHash(dealId, Action.Cancel, payeeAuth.expiry), payeeAuth);
        // Effects and interactions
        if (rec.status == DealStatus.Disputed) _noteDispute(deal.gateway, false);
        _refund(dealId, rec.commitment, deal, RefundReason.MutualCancel);
    }

    /// @inheritdoc IEscrow
    function resolve(Deal calldata deal, uint96 payeeAmount) external nonReentrant {
        // Checks
        (bytes32 dealId, DealRecord memory rec) = _load(deal);
        if (rec.status != DealStatus.Disputed) revert EscrowWrongStatus(dealId, rec.status);
        if (payeeAmount > deal.amount) revert EscrowPayeeAmountTooHigh(dealId, payeeAmount, deal.amount);
        uint256 endsAt = uint256(rec.since) + _resolutionWindow;
        bool inWindow = block.timestamp <= endsAt;
        bool gatewayCanRule = _registry.canRule(deal.gateway);
        bool byGateway;
        if (msg.sender == deal.gateway && gatewayCanRule) {
            if (!inWindow) revert EscrowResolutionWindowClosed(dealId, endsAt);
            byGateway = true;
        } else if (_registry.isArbiter(msg.sender)) {
            if (inWindow && gatewayCanRule) revert EscrowResolutionWindowOpen(dealId, endsAt);
        } else {
            revert EscrowUnauthorized(dealId, msg.sender);
        }
        // Effects
        uint96 fee = byGateway ? _fee(payeeAmount, deal.feeBps) : 0;
        uint96 payeeNet = payeeAmount - fee;
        uint96 refundAmount = deal.amount - payeeAmount;
        _store(dealId, rec.commitment, DealStatus.Resolved);
        emit DealResolved(dealId, msg.sender, payeeNet, fee, refundAmount);
        // Interactions
        _noteDispute(deal.gateway, false);
        _settle(dealId, deal, payeeNet, fee, refundAmount);
    }

    /*//////////////////////////////////////////////////////////////
                            FLOAT AND OWED
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function depositFloat(address token, uint256 amount) external nonReentrant {
        // Checks
        _registry.checkDeposit(msg.sender, token);
        if (amount == 0 || amount > type(uint96).max) revert EscrowInvalidAmount(amount);
        // Interactions first: the float is credited with what arrived
        uint256 received = _pull(token, msg.sender, amount);
        // Effects
        _floats[msg.sender][token].free += uint128(received);
        emit FloatDeposited(msg.sender, token, received);
    }

    /// @inheritdoc IEscrow
    function withdrawFloat(address token, uint256 amount) external nonReentrant {
        // Checks
        Float storage f = _floats[msg.sender][token];
        uint256 free = f.free;
        if (amount == 0) revert EscrowInvalidAmount(amount);
        if (amount > free) revert EscrowInsufficientFloat(msg.sender, token, free, amount);
        // Effects
        f.free = uint128(free - amount);
        emit FloatWithdrawn(msg.sender, token, amount);
        // Interactions
        IERC20(token).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IEscrow
    function claimOwed(address token, address account) external nonReentrant {
        // Checks
        uint256 amount = _owed[token][account];
        if (amount == 0) revert EscrowNothingOwed(token, account);
        // Effects
        _owed[token][account] = 0;
        emit OwedClaimed(token, account, amount);
        // Interactions
        IERC20(token).safeTransfer(account, amount);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function registry() external view returns (IGatewayRegistry) {
        return _registry;
    }

    /// @inheritdoc IEscrow
    function resolutionWindow() external view returns (uint32) {
        return _resolutionWindow;
    }

    /// @inheritdoc IEscrow
    function dealIdOf(address funder, bytes32 salt) external pure returns (bytes32) {
        return keccak256(abi.encode(funder, salt));
    }

    /// @inheritdoc IEscrow
    function getDeal(bytes32 dealId) external view returns (DealRecord memory) {
        return _deals[dealId];
    }

    /// @inheritdoc IEscrow
    function statusOf(bytes32 dealId) external view returns (DealStatus) {
        return _deals[dealId].status;
    }

    /// @inheritdoc IEscrow
    function hashDeal(Deal calldata deal) external pure returns (bytes32) {
        return _hashDeal(deal);
    }

    /// @inheritdoc IEscrow
    function floatOf(address acceptor, address token) external view returns (Float memory) {
        return _floats[acceptor][token];
    }

    /// @inheritdoc IEscrow
    function owed(address token, address account) external view returns (uint256) {
        return _owed[token][account];
    }

    /// @inheritdoc IEscrow
    function actionDigest(bytes32 dealId, Action action, uint256 expiry) external view returns (bytes32) {
        return _hashTypedDataV4(_actionHash(dealId, action, expiry));
    }

    /// @inheritdoc IEscrow
    function openDigest(Deal calldata deal, bytes32 ref, uint256 expiry) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(OPEN_TYPEHASH, _hashDeal(deal), ref, expiry)));
    }

    /// @inheritdoc IEscrow
    function lockDigest(Deal calldata deal, bytes32 ref, uint256 expiry) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(LOCK_TYPEHASH, _hashDeal(deal), ref, expiry)));
    }

    /*//////////////////////////////////////////////////////////////
                          INTERNAL: OPENING
    //////////////////////////////////////////////////////////////*/

    /// @dev Opens (`isLock` false: from the payer's wallet) or locks (from the acceptor's float) a deal for
    /// `caller`, who is `msg.sender` or the verified signer.
    function _open(Deal calldata deal, bytes32 ref, address caller, bool isLock) private returns (bytes32 dealId) {
        // Checks
        dealId = _dealId(deal);
        address payer = deal.payer;
        address acceptor = _validate(deal, isLock);
        IGatewayRegistry.DealTerms memory terms = _registry.dealTerms(deal.gateway, deal.token, acceptor);
        if (caller != payer) {
            if (!isLock || caller != terms.lockDelegate) revert EscrowUnauthorized(dealId, caller);
            uint256 latest = block.timestamp + MAX_DELEGATE_LOCK_DURATION;
            if (deal.deadline > latest) revert EscrowInvalidDeadline(deal.deadline, latest);
        }
        if (deal.feeBps != terms.feeBps) revert EscrowFeeMismatch(deal.gateway, deal.feeBps, terms.feeBps);
        if (acceptor != address(0) && (deal.amount < terms.minAmount || deal.amount > terms.maxAmount)) {
            revert EscrowAmountOutOfLimits(acceptor, deal.amount, terms.minAmount, terms.maxAmount);
        }
        DealRecord storage rec = _deals[dealId];
        if (rec.status != DealStatus.None) revert EscrowDealExists(dealId);

        // Effects
        _store(dealId, bytes25(_hashDeal(deal)), DealStatus.Open);
        if (isLock) {
            Float storage f = _floats[payer][deal.token];
            uint128 free = f.free;
            if (free < deal.amount) revert EscrowInsufficientFloat(payer, deal.token, free, deal.amount);
            unchecked {
                f.free = free - deal.amount;
            }
            f.locked += deal.amount;
        }
        emit DealOpened(dealId, payer, deal.payee, deal, ref);

        // Interactions
        if (!isLock) {
            uint256 received = _pull(deal.token, payer, deal.amount);
            if (received != deal.amount) revert EscrowTransferShortfall(deal.token, deal.amount, received);
        }
    }

    /// @dev Checks the parameters that need no registry and returns the acceptor the deal involves (zero for a
    /// payment).
    function _validate(Deal calldata deal, bool isLock) private view returns (address acceptor) {
        address payer = deal.payer;
        address payee = deal.payee;
        address gw = deal.gateway;
        if (
            payer == address(0) ||
            payee == address(0) ||
            gw == address(0) ||
            payer == payee ||
            gw == payer ||
            gw == payee
        ) revert EscrowInvalidParties(payer, payee, gw);
        if (deal.amount == 0) revert EscrowZeroAmount();
        uint256 latest = block.timestamp + MAX_DEAL_DURATION;
        if (deal.deadline <= block.timestamp || deal.deadline > latest) {
            revert EscrowInvalidDeadline(deal.deadline, latest);
        }
        if (deal.releaseWindow < MIN_RELEASE_WINDOW || deal.releaseWindow > MAX_RELEASE_WINDOW) {
            revert EscrowInvalidReleaseWindow(deal.releaseWindow);
        }
        DealKind kind = deal.kind;
        if ((kind == DealKind.OnRamp) != isLock || (deal.autoRelease && kind != DealKind.Payment)) {
            revert EscrowInvalidKind(kind, deal.autoRelease);
        }
        if (kind == DealKind.OnRamp) acceptor = payer;
        else if (kind == DealKind.OffRamp) acceptor = payee;
    }

    /*//////////////////////////////////////////////////////////////
                       INTERNAL: STATE MACHINE
    //////////////////////////////////////////////////////////////*/

    function _perform(Deal calldata deal, address caller) private {
        (bytes32 dealId, DealRecord memory rec) = _load(deal);
        if (caller != deal.payee) revert EscrowUnauthorized(dealId, caller);
        if (rec.status != DealStatus.Open) revert EscrowWrongStatus(dealId, rec.status);
        if (block.timestamp > deal.deadline) revert EscrowDeadlinePassed(dealId, deal.deadline);
        emit DealPerformed(dealId);
        if (rec.payerReleased) {
            _payRelease(dealId, rec.commitment, deal);
        } else {
            _store(dealId, rec.commitment, DealStatus.Performed);
        }
    }

    function _release(Deal calldata deal, address caller) private {
        (bytes32 dealId, DealRecord memory rec) = _load(deal);
        if (caller != deal.payer) revert EscrowUnauthorized(dealId, caller);
        if (rec.status == DealStatus.Performed) {
            _payRelease(dealId, rec.commitment, deal);
        } else if (rec.status == DealStatus.Open && !rec.payerReleased) {
            _deals[dealId].payerReleased = true;
            emit DealReleaseApproved(dealId);
        } else {
            revert EscrowWrongStatus(dealId, rec.status);
        }
    }

    function _cancel(Deal calldata deal, address caller) private {
        (bytes32 dealId, DealRecord memory rec) = _load(deal);
        if (caller != deal.payee) revert EscrowUnauthorized(dealId, caller);
        _requireNotFinal(dealId, rec.status);
        if (rec.status == DealStatus.Disputed) _noteDispute(deal.gateway, false);
        _refund(dealId, rec.commitment, deal, RefundReason.PayeeCancel);
    }

    function _dispute(Deal calldata deal, address caller) private {
        (bytes32 dealId, DealRecord memory rec) = _load(deal);
        if (caller != deal.payer && caller != deal.payee) revert EscrowUnauthorized(dealId, caller);
        if (rec.status != DealStatus.Performed) revert EscrowWrongStatus(dealId, rec.status);
        _store(dealId, rec.commitment, DealStatus.Disputed);
        emit DealDisputed(dealId, caller);
        _noteDispute(deal.gateway, true);
    }

    function _claim(Deal calldata deal, address caller) private {
        (bytes32 dealId, DealRecord memory rec) = _load(deal);
        if (caller != deal.payee) revert EscrowUnauthorized(dealId, caller);
        if (rec.status != DealStatus.Performed) revert EscrowWrongStatus(dealId, rec.status);
        if (!deal.autoRelease) revert EscrowNotAutoRelease(dealId);
        uint256 endsAt = uint256(rec.since) + deal.releaseWindow;
        if (block.timestamp <= endsAt) revert EscrowReleaseWindowOpen(dealId, endsAt);
        _payRelease(dealId, rec.commitment, deal);
    }

    /// @dev Moves the gateway's open-dispute counter in the registry. The counter only gates the gateway's exit, so
    /// a registry that refuses the update (for example after governance revoked this escrow's `ESCROW_ROLE`) never
    /// blocks a dispute, a ruling or a cancel; the audit command reports the counter's drift.
    function _noteDispute(address gw, bool opened) private {
        try _registry.noteDispute(gw, opened) {} catch {} // solhint-disable-line no-empty-blocks
    }

    function _requireNotFinal(bytes32 dealId, DealStatus status) private pure {
        if (status != DealStatus.Open && status != DealStatus.Performed && status != DealStatus.Disputed) {
            revert EscrowWrongStatus(dealId, status);
        }
    }

    /*//////////////////////////////////////////////////////////////
                          INTERNAL: PAYOUTS
    //////////////////////////////////////////////////////////////*/

    /// @dev Final release: the amount less the fee to the payee, the fee owed to the gateway.
    function _payRelease(bytes32 dealId, bytes25 commitment, Deal calldata deal) private {
        uint96 fee = _fee(deal.amount, deal.feeBps);
        uint96 payeeNet = deal.amount - fee;
        _store(dealId, commitment, DealStatus.Released);
        emit DealReleased(dealId, payeeNet, fee);
        _settle(dealId, deal, payeeNet, fee, 0);
    }

    /// @dev Final refund of the whole amount to the payer, or to the acceptor's free float.
    function _refund(bytes32 dealId, bytes25 commitment, Deal calldata deal, RefundReason reason) private {
        _store(dealId, commitment, DealStatus.Refunded);
        emit DealRefunded(dealId, reason);
        _settle(dealId, deal, 0, 0, deal.amount);
    }

    /// @dev Moves a final deal's funds. Pushes never revert the settlement: a failed push is owed instead.
    function _settle(bytes32 dealId, Deal calldata deal, uint96 payeeNet, uint96 fee, uint96 refundAmount) private {
        address token = deal.token;
        if (fee != 0) _owed[token][deal.gateway] += fee;
        if (deal.kind == DealKind.OnRamp) {
            Float storage f = _floats[deal.payer][token];
            f.locked -= deal.amount;
            if (refundAmount != 0) f.free += refundAmount;
        } else if (refundAmount != 0) {
            _push(dealId, token, deal.payer, refundAmount);
        }
        if (payeeNet != 0) _push(dealId, token, deal.payee, payeeNet);
    }

    /// @dev Pushes `amount` to `to`; credits it as owed when the transfer fails (blacklist, paused token).
    function _push(bytes32 dealId, address token, address to, uint96 amount) private {
        if (!IERC20(token).trySafeTransfer(to, amount)) {
            _owed[token][to] += amount;
            emit PayoutDeferred(dealId, token, to, amount);
        }
    }

    /// @dev Pulls `amount` of `token` from `from` and returns the escrow's balance change.
    function _pull(address token, address from, uint256 amount) private returns (uint256) {
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(from, address(this), amount);
        return IERC20(token).balanceOf(address(this)) - before;
    }

    function _fee(uint96 amount, uint16 feeBps) private pure returns (uint96) {
        return uint96((uint256(amount) * feeBps) / BPS);
    }

    /*//////////////////////////////////////////////////////////////
                      INTERNAL: STORAGE AND HASHES
    //////////////////////////////////////////////////////////////*/

    /// @dev Loads a deal and checks the given parameters against its commitment.
    function _load(Deal calldata deal) private view returns (bytes32 dealId, DealRecord memory rec) {
        dealId = _dealId(deal);
        rec = _deals[dealId];
        if (rec.commitment != bytes25(_hashDeal(deal))) revert EscrowUnknownDeal(dealId);
    }

    /// @dev Writes a deal's slot; `payerReleased` is only ever set by {_release} on an open deal.
    function _store(bytes32 dealId, bytes25 commitment, DealStatus status) private {
        _deals[dealId] = DealRecord({
            commitment: commitment,
            since: uint40(block.timestamp),
            status: status,
            payerReleased: false
        });
    }

    function _dealId(Deal calldata deal) private pure returns (bytes32) {
        return keccak256(abi.encode(deal.payer, deal.salt));
    }

    function _hashDeal(Deal calldata deal) private pure returns (bytes32) {
        return keccak256(abi.encode(DEAL_TYPEHASH, deal));
    }

    function _actionHash(bytes32 dealId, Action action, uint256 expiry) private pure returns (bytes32) {
        return keccak256(abi.encode(ACTION_TYPEHASH, dealId, action, expiry));
    }

    function _isValid(address signer, bytes32 structHash, Authorization calldata auth) private view returns (bool) {
        return SignatureChecker.isValidSignatureNowCalldata(signer, _hashTypedDataV4(structHash), auth.signature);
    }

    /// @dev Reverts unless `signer` signed `structHash` and the signature has not expired.
    function _verify(bytes32 dealId, address signer, bytes32 structHash, Authorization calldata auth) private view {
        if (block.timestamp > auth.expiry) revert EscrowSignatureExpired(auth.expiry);
        if (!_isValid(signer, structHash, auth)) revert EscrowInvalidSignature(dealId, signer);
    }
}
