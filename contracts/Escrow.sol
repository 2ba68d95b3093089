// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IEscrow} from "./interfaces/IEscrow.sol";
import {IGatewayRegistry} from "./interfaces/IGatewayRegistry.sol";

/// @title Escrow
/// @notice Holds each deal's funds until payer and payee both confirm, or the deal's gateway (or the arbiter)
/// rules its dispute. See {IEscrow}.
/// @dev Not upgradeable and without an owner. Batches go through {multicall} (this contract's own functions only).
contract Escrow is IEscrow, EIP712, Multicall, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @dev The EIP-712 encoding of {Deal}; every type that embeds a deal appends it (EIP-712 referenced types).
    string private constant DEAL_TYPE =
        "Deal(address payer,address payee,address gateway,address token,uint96 amount,uint40 deadline,"
        "uint32 releaseWindow,uint16 feeBps,uint8 kind,bool autoRelease,bytes32 salt)";

    /// @notice EIP-712 type of {Deal}.
    bytes32 private constant DEAL_TYPEHASH = keccak256(bytes(DEAL_TYPE));
    /// @notice EIP-712 type the payer signs for {openWithSig}: `Open(Deal deal,bytes32 ref,uint256 expiry)` followed
    /// by the Deal type (computed once, at deployment, from the shared string; read like a constant).
    bytes32 private immutable OPEN_TYPEHASH = keccak256(
        abi.encodePacked("Open(Deal deal,bytes32 ref,uint256 expiry)", DEAL_TYPE)
    );
    /// @notice EIP-712 type the acceptor or its delegate signs for {lockWithSig}:
    /// `Lock(Deal deal,bytes32 ref,uint256 expiry)` followed by the Deal type.
    bytes32 private immutable LOCK_TYPEHASH = keccak256(
        abi.encodePacked("Lock(Deal deal,bytes32 ref,uint256 expiry)", DEAL_TYPE)
    );
    /// @notice EIP-712 type a party signs for one action on one deal.
    bytes32 private constant ACTION_TYPEHASH = keccak256("DealAction(bytes32 dealId,uint8 action,uint256 expiry)");
    /// @notice EIP-712 type payer and payee each sign for {splitWithSigs}.
    bytes32 private constant SPLIT_TYPEHASH = keccak256("Split(bytes32 dealId,uint96 payeeAmount,uint256 expiry)");
    /// @notice EIP-712 type the gateway or an arbiter signs for {resolveWithSig}.
    bytes32 private constant RESOLUTION_TYPEHASH = keccak256(
        "Resolution(bytes32 dealId,uint96 payeeAmount,bytes32 reasons,uint256 expiry)"
    );
    /// @notice EIP-712 type the poster signs for {postEvidenceWithSig} (`uri` hashed as EIP-712 strings are).
    bytes32 private constant EVIDENCE_TYPEHASH = keccak256(
        "Evidence(bytes32 dealId,bytes32 contentHash,string uri,uint256 expiry)"
    );

    /// @notice Shortest release window a deal may give its payer.
    uint32 private constant MIN_RELEASE_WINDOW = 1 hours;
    /// @notice Longest release window.
    uint32 private constant MAX_RELEASE_WINDOW = 90 days;
    /// @notice Latest deadline, counted from the open.
    uint256 private constant MAX_DEAL_DURATION = 365 days;
    /// @notice Latest deadline of a lock made by an acceptor's lock delegate, counted from the lock.
    uint256 private constant MAX_DELEGATE_LOCK_DURATION = 7 days;
    /// @notice Longest release window of a lock made by an acceptor's lock delegate.
    uint32 private constant MAX_DELEGATE_RELEASE_WINDOW = 2 days;
    /// @notice First 12 bytes of every salt of a delegate's lock, and of no other salt: delegates' deal ids and the
    /// ids acceptors plan for themselves never collide, and the salt tells who authorised a lock.
    bytes12 private constant DELEGATE_SALT_PREFIX = bytes12(keccak256("USDT Escrow: lock by delegate"));
    /// @notice Bounds of the resolution window fixed at deployment.
    uint32 private constant MIN_RESOLUTION_WINDOW = 1 hours;
    /// @notice Upper bound of the resolution window.
    uint32 private constant MAX_RESOLUTION_WINDOW = 90 days;
    /// @notice Least time governance has, after a gateway's last ruling on disputes it held, to slash its bond
    /// before the bond can leave: the registry's floor of the unbonding delay must be the resolution window plus
    /// at least this much (a gateway that asks to exit holds no new dispute, and rules the old ones within the
    /// window).
    uint32 private constant MIN_SLASH_TIME = 7 days;
    /// @notice Gas a payout push may use. A token whose transfer fails may burn at most this much (mainnet Tether
    /// fails by `assert` and burns all it is given); a payout that needs more is owed instead, and
    /// {claimOwed} pays it with all the gas its caller gives.
    uint256 private constant PAYOUT_GAS = 100_000;
    /// @notice Gas a registry dispute-counter hook may use.
    uint256 private constant REGISTRY_HOOK_GAS = 60_000;

    uint256 private constant BPS = 10_000;
    uint8 private constant PAYER_RELEASED = 1;
    uint8 private constant GATEWAY_HOLDS = 2;
    /// @dev Gas kept back around a bounded call: EIP-150 forwards at most 63/64 of what is left, and the call
    /// itself (cold account, memory) costs a few thousand before it starts.
    uint256 private constant CALL_OVERHEAD = 5_000;

    /*//////////////////////////////////////////////////////////////
                                 STATE
    //////////////////////////////////////////////////////////////*/

    IGatewayRegistry private immutable _registry;
    uint32 private immutable _resolutionWindow;

    mapping(bytes32 dealId => DealRecord) private _deals;
    mapping(address acceptor => mapping(address token => Float)) private _floats;
    mapping(address token => mapping(address account => uint256 amount)) private _owed;

    /// @param registry_ The gateway registry (roles, pause, tokens, gateways, acceptors).
    /// @param resolutionWindow_ Seconds a gateway has to rule a dispute, within the bounds above, and at most the
    /// registry's floor of the unbonding delay less `MIN_SLASH_TIME` (so governance always has that long, after a
    /// gateway's last ruling, to slash it before its bond leaves).
    constructor(IGatewayRegistry registry_, uint32 resolutionWindow_) EIP712("USDT Escrow", "1") {
        if (address(registry_).code.length == 0) revert EscrowInvalidRegistry(address(registry_));
        if (
            resolutionWindow_ < MIN_RESOLUTION_WINDOW ||
            resolutionWindow_ > MAX_RESOLUTION_WINDOW ||
            uint256(resolutionWindow_) + MIN_SLASH_TIME > registry_.minUnbondingDelay()
        ) revert EscrowInvalidResolutionWindow(resolutionWindow_);
        _registry = registry_;
        _resolutionWindow = resolutionWindow_;
    }

    /*//////////////////////////////////////////////////////////////
                              OPEN AND LOCK
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function open(Deal calldata deal, bytes32 ref) external nonReentrant returns (bytes32) {
        return _open(deal, _hashDeal(deal), ref, msg.sender, false);
    }

    /// @inheritdoc IEscrow
    function openWithSig(
        Deal calldata deal,
        bytes32 ref,
        Authorization calldata auth
    ) external nonReentrant returns (bytes32) {
        bytes32 dealHash = _hashDeal(deal);
        _verify(_dealId(deal), deal.payer, keccak256(abi.encode(OPEN_TYPEHASH, dealHash, ref, auth.expiry)), auth);
        return _open(deal, dealHash, ref, deal.payer, false);
    }

    /// @inheritdoc IEscrow
    function lock(Deal calldata deal, bytes32 ref) external nonReentrant returns (bytes32) {
        return _open(deal, _hashDeal(deal), ref, msg.sender, true);
    }

    /// @inheritdoc IEscrow
    function lockWithSig(
        Deal calldata deal,
        bytes32 ref,
        address signer,
        Authorization calldata auth
    ) external nonReentrant returns (bytes32) {
        bytes32 dealHash = _hashDeal(deal);
        _verify(_dealId(deal), signer, keccak256(abi.encode(LOCK_TYPEHASH, dealHash, ref, auth.expiry)), auth);
        return _open(deal, dealHash, ref, signer, true);
    }

    /*//////////////////////////////////////////////////////////////
                            PARTY ACTIONS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function perform(Deal calldata deal) external nonReentrant {
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        _perform(d, dealId, rec, msg.sender);
    }

    /// @inheritdoc IEscrow
    function release(Deal calldata deal) external nonReentrant {
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        _release(d, dealId, rec, msg.sender);
    }

    /// @inheritdoc IEscrow
    function cancel(Deal calldata deal) external nonReentrant {
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        _cancel(d, dealId, rec, msg.sender);
    }

    /// @inheritdoc IEscrow
    function dispute(Deal calldata deal) external nonReentrant {
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        _dispute(d, dealId, rec, msg.sender);
    }

    /// @inheritdoc IEscrow
    function claim(Deal calldata deal) external nonReentrant {
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        _claim(d, dealId, rec, msg.sender);
    }

    /// @inheritdoc IEscrow
    function refund(Deal calldata deal) external nonReentrant {
        // Checks
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        RefundReason reason;
        if (rec.status == DealStatus.Open) {
            if (block.timestamp <= d.deadline) revert EscrowDeadlineNotPassed(dealId, d.deadline);
            reason = RefundReason.Deadline;
        } else {
            // Performed or Disputed: only a delegate's lock, once expired (Open ones refund at their deadline). A
            // dispute keeps its whole resolution window: whoever rules it always gets its full time first.
            uint256 expiresAt = _lockExpiry(d);
            if (expiresAt == 0 || !_isLive(rec.status)) revert EscrowWrongStatus(dealId, rec.status);
            if (rec.status == DealStatus.Disputed) {
                uint256 windowEnd = uint256(rec.since) + _resolutionWindow;
                if (windowEnd > expiresAt) expiresAt = windowEnd;
            }
            if (block.timestamp <= expiresAt) revert EscrowLockNotExpired(dealId, expiresAt);
            reason = RefundReason.LockExpired;
        }
        // Effects and interactions
        _refund(d, dealId, rec, reason);
    }

    /// @inheritdoc IEscrow
    function actWithSig(
        Deal calldata deal,
        Action action,
        address signer,
        Authorization calldata auth
    ) external nonReentrant {
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        // The signer must be the action's party before any signature (or wallet) is consulted.
        bool isParty =
            action == Action.Release
                ? signer == d.payer
                : (signer == d.payee || (action == Action.Dispute && signer == d.payer));
        if (!isParty) revert EscrowUnauthorized(dealId, signer);
        _verify(dealId, signer, _actionHash(dealId, action, auth.expiry), auth);
        if (action == Action.Perform) _perform(d, dealId, rec, signer);
        else if (action == Action.Release) _release(d, dealId, rec, signer);
        else if (action == Action.Cancel) _cancel(d, dealId, rec, signer);
        else if (action == Action.Dispute) _dispute(d, dealId, rec, signer);
        else _claim(d, dealId, rec, signer);
    }

    /// @inheritdoc IEscrow
    function settleWithSigs(
        Deal calldata deal,
        Authorization calldata payeeAuth,
        Authorization calldata payerAuth
    ) external nonReentrant {
        // Checks
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        if (rec.status == DealStatus.Open) {
            if (block.timestamp > d.deadline) revert EscrowDeadlinePassed(dealId, d.deadline);
        } else if (rec.status != DealStatus.Performed && rec.status != DealStatus.Disputed) {
            revert EscrowWrongStatus(dealId, rec.status);
        }
        _verify(dealId, d.payee, _actionHash(dealId, Action.Perform, payeeAuth.expiry), payeeAuth);
        _verify(dealId, d.payer, _actionHash(dealId, Action.Release, payerAuth.expiry), payerAuth);
        // Effects and interactions
        _payRelease(d, dealId, rec);
    }

    /// @inheritdoc IEscrow
    function cancelWithSigs(
        Deal calldata deal,
        Authorization calldata payerAuth,
        Authorization calldata payeeAuth
    ) external nonReentrant {
        // Checks
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        _requireLive(dealId, rec.status);
        _verify(dealId, d.payer, _actionHash(dealId, Action.Cancel, payerAuth.expiry), payerAuth);
        _verify(dealId, d.payee, _actionHash(dealId, Action.Cancel, payeeAuth.expiry), payeeAuth);
        // Effects and interactions
        _refund(d, dealId, rec, RefundReason.MutualCancel);
    }

    /// @inheritdoc IEscrow
    function splitWithSigs(
        Deal calldata deal,
        uint96 payeeAmount,
        Authorization calldata payerAuth,
        Authorization calldata payeeAuth
    ) external nonReentrant {
        // Checks
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        _requireLive(dealId, rec.status);
        if (payeeAmount > d.amount) revert EscrowPayeeAmountTooHigh(dealId, payeeAmount, d.amount);
        _verify(dealId, d.payer, _splitHash(dealId, payeeAmount, payerAuth.expiry), payerAuth);
        _verify(dealId, d.payee, _splitHash(dealId, payeeAmount, payeeAuth.expiry), payeeAuth);
        // Effects
        uint96 fee = _fee(payeeAmount, d.feeBps);
        uint96 payeeNet = payeeAmount - fee;
        uint96 refundAmount = d.amount - payeeAmount;
        _store(dealId, rec.commitment, DealStatus.Split, 0);
        emit DealSplit(dealId, payeeNet, fee, refundAmount);
        // Interactions
        _endDispute(dealId, rec, d.gateway);
        _settle(dealId, d, payeeNet, fee, refundAmount);
    }

    /*//////////////////////////////////////////////////////////////
                          RULINGS AND EVIDENCE
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function resolve(Deal calldata deal, uint96 payeeAmount, bytes32 reasons) external nonReentrant {
        _resolve(deal, payeeAmount, reasons, msg.sender);
    }

    /// @inheritdoc IEscrow
    function resolveWithSig(
        Deal calldata deal,
        uint96 payeeAmount,
        bytes32 reasons,
        address signer,
        Authorization calldata auth
    ) external nonReentrant {
        bytes32 dealId = _dealId(deal);
        bytes32 structHash = keccak256(abi.encode(RESOLUTION_TYPEHASH, dealId, payeeAmount, reasons, auth.expiry));
        _verify(dealId, signer, structHash, auth);
        _resolve(deal, payeeAmount, reasons, signer);
    }

    /// @inheritdoc IEscrow
    function postEvidence(Deal calldata deal, bytes32 contentHash, string calldata uri) external nonReentrant {
        _postEvidence(deal, contentHash, uri, msg.sender);
    }

    /// @inheritdoc IEscrow
    function postEvidenceWithSig(
        Deal calldata deal,
        bytes32 contentHash,
        string calldata uri,
        address signer,
        Authorization calldata auth
    ) external nonReentrant {
        bytes32 dealId = _dealId(deal);
        bytes32 structHash = keccak256(
            abi.encode(EVIDENCE_TYPEHASH, dealId, contentHash, keccak256(bytes(uri)), auth.expiry)
        );
        _verify(dealId, signer, structHash, auth);
        _postEvidence(deal, contentHash, uri, signer);
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
        _floats[msg.sender][token].free += SafeCast.toUint128(received);
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
    function hashDeal(Deal calldata deal) external pure returns (bytes32) {
        return _hashDeal(deal);
    }

    /// @inheritdoc IEscrow
    function lockExpiry(Deal calldata deal) external view returns (uint256) {
        return _lockExpiry(deal);
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
    function hashTypedData(bytes32 structHash) external view returns (bytes32) {
        return _hashTypedDataV4(structHash);
    }

    /*//////////////////////////////////////////////////////////////
                          INTERNAL: OPENING
    //////////////////////////////////////////////////////////////*/

    /// @dev Opens (`isLock` false: from the payer's wallet) or locks (from the acceptor's float) a deal for
    /// `caller`, who is `msg.sender` or the verified signer. `dealHash` is `_hashDeal(deal)`.
    function _open(
        Deal calldata deal,
        bytes32 dealHash,
        bytes32 ref,
        address caller,
        bool isLock
    ) private returns (bytes32 dealId) {
        // Checks (the deal is copied to memory once: every field is range-checked here, before its commitment)
        Deal memory d = deal;
        dealId = _dealId(deal);
        address payer = d.payer;
        address acceptor = _validate(d, isLock);
        bool byDelegate = caller != payer;
        if (byDelegate && !isLock) revert EscrowUnauthorized(dealId, caller);
        IGatewayRegistry.DealTerms memory terms = _registry.dealTerms(d.gateway, d.token, acceptor, byDelegate);
        if (byDelegate) {
            if (caller != terms.lockDelegate) revert EscrowUnauthorized(dealId, caller);
            uint256 latest = block.timestamp + MAX_DELEGATE_LOCK_DURATION;
            if (d.deadline > latest) revert EscrowInvalidDeadline(d.deadline, latest);
            if (d.releaseWindow > MAX_DELEGATE_RELEASE_WINDOW) revert EscrowInvalidReleaseWindow(d.releaseWindow);
        }
        if ((bytes12(d.salt) == DELEGATE_SALT_PREFIX) != byDelegate) revert EscrowInvalidSalt(d.salt);
        if (d.feeBps != terms.feeBps) revert EscrowFeeMismatch(d.gateway, d.feeBps, terms.feeBps);
        if (acceptor != address(0) && (d.amount < terms.minAmount || d.amount > terms.maxAmount)) {
            revert EscrowAmountOutOfLimits(acceptor, d.amount, terms.minAmount, terms.maxAmount);
        }
        if (_deals[dealId].status != DealStatus.None) revert EscrowDealExists(dealId);

        // Effects
        _store(dealId, bytes25(dealHash), DealStatus.Open, 0);
        if (isLock) {
            Float storage f = _floats[payer][d.token];
            uint128 free = f.free;
            if (free < d.amount) revert EscrowInsufficientFloat(payer, d.token, free, d.amount);
            unchecked {
                f.free = free - d.amount;
            }
            f.locked += d.amount;
        }
        emit DealOpened(dealId, payer, d.payee, d, ref);
        if (byDelegate) emit DealLockedByDelegate(dealId, caller);

        // Interactions
        if (!isLock) {
            uint256 received = _pull(d.token, payer, d.amount);
            if (received != d.amount) revert EscrowTransferShortfall(d.token, d.amount, received);
        }
    }

    /// @dev Checks the parameters that need no registry and returns the acceptor the deal involves (zero for a
    /// payment).
    function _validate(Deal memory deal, bool isLock) private view returns (address acceptor) {
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

    function _perform(Deal memory deal, bytes32 dealId, DealRecord memory rec, address caller) private {
        if (caller != deal.payee) revert EscrowUnauthorized(dealId, caller);
        if (rec.status != DealStatus.Open) revert EscrowWrongStatus(dealId, rec.status);
        if (block.timestamp > deal.deadline) revert EscrowDeadlinePassed(dealId, deal.deadline);
        emit DealPerformed(dealId);
        if (rec.flags == PAYER_RELEASED) {
            _payRelease(deal, dealId, rec);
        } else {
            _store(dealId, rec.commitment, DealStatus.Performed, 0);
        }
    }

    function _release(Deal memory deal, bytes32 dealId, DealRecord memory rec, address caller) private {
        if (caller != deal.payer) revert EscrowUnauthorized(dealId, caller);
        if (rec.status == DealStatus.Performed || rec.status == DealStatus.Disputed) {
            _payRelease(deal, dealId, rec);
        } else if (rec.status == DealStatus.Open && rec.flags != PAYER_RELEASED) {
            _deals[dealId].flags = PAYER_RELEASED;
            emit DealReleaseApproved(dealId);
        } else {
            revert EscrowWrongStatus(dealId, rec.status);
        }
    }

    function _cancel(Deal memory deal, bytes32 dealId, DealRecord memory rec, address caller) private {
        if (caller != deal.payee) revert EscrowUnauthorized(dealId, caller);
        _requireLive(dealId, rec.status);
        _refund(deal, dealId, rec, RefundReason.PayeeCancel);
    }

    function _dispute(Deal memory deal, bytes32 dealId, DealRecord memory rec, address caller) private {
        // Checks
        bool byPayer = caller == deal.payer;
        if (!byPayer && caller != deal.payee) revert EscrowUnauthorized(dealId, caller);
        if (rec.status != DealStatus.Performed) revert EscrowWrongStatus(dealId, rec.status);
        uint256 windowEnd = uint256(rec.since) + deal.releaseWindow;
        if (byPayer) {
            if (deal.autoRelease && block.timestamp > windowEnd) revert EscrowReleaseWindowClosed(dealId, windowEnd);
        } else if (block.timestamp <= windowEnd) {
            revert EscrowReleaseWindowOpen(dealId, windowEnd);
        }
        // Interaction with the trusted registry first: its answer (does the gateway hold the dispute?) is stored.
        bool held = _noteDisputeOpened(dealId, deal.gateway);
        // Effects
        _store(dealId, rec.commitment, DealStatus.Disputed, held ? GATEWAY_HOLDS : 0);
        emit DealDisputed(dealId, caller, held);
    }

    function _claim(Deal memory deal, bytes32 dealId, DealRecord memory rec, address caller) private {
        if (caller != deal.payee) revert EscrowUnauthorized(dealId, caller);
        if (rec.status != DealStatus.Performed) revert EscrowWrongStatus(dealId, rec.status);
        if (!deal.autoRelease) revert EscrowNotAutoRelease(dealId);
        uint256 endsAt = uint256(rec.since) + deal.releaseWindow;
        if (block.timestamp <= endsAt) revert EscrowReleaseWindowOpen(dealId, endsAt);
        _payRelease(deal, dealId, rec);
    }

    function _resolve(Deal calldata deal, uint96 payeeAmount, bytes32 reasons, address caller) private {
        // Checks
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        uint96 fee = _checkRuling(d, dealId, rec, payeeAmount, caller) ? _fee(payeeAmount, d.feeBps) : 0;
        // Effects
        _store(dealId, rec.commitment, DealStatus.Resolved, 0);
        emit DealResolved(dealId, caller, payeeAmount - fee, fee, d.amount - payeeAmount, reasons);
        // Interactions
        _endDispute(dealId, rec, d.gateway);
        _settle(dealId, d, payeeAmount - fee, fee, d.amount - payeeAmount);
    }

    /// @dev Reverts unless `caller` may rule the deal now with `payeeAmount`; returns whether it rules as the
    /// gateway (which charges its fee) rather than as an arbiter.
    function _checkRuling(
        Deal memory deal,
        bytes32 dealId,
        DealRecord memory rec,
        uint96 payeeAmount,
        address caller
    ) private view returns (bool byGateway) {
        if (rec.status != DealStatus.Disputed) revert EscrowWrongStatus(dealId, rec.status);
        if (payeeAmount > deal.amount) revert EscrowPayeeAmountTooHigh(dealId, payeeAmount, deal.amount);
        uint256 endsAt = uint256(rec.since) + _resolutionWindow;
        bool inWindow = block.timestamp <= endsAt;
        // The gateway rules a dispute it holds, while in good standing (a suspension takes effect at once).
        bool gatewayMayRule = rec.flags == GATEWAY_HOLDS && _registry.canRule(deal.gateway);
        if (caller == deal.gateway && gatewayMayRule) {
            if (!inWindow) revert EscrowResolutionWindowClosed(dealId, endsAt);
            return true;
        }
        if (!_registry.isArbiter(caller)) revert EscrowUnauthorized(dealId, caller);
        if (inWindow && gatewayMayRule) revert EscrowResolutionWindowOpen(dealId, endsAt);
    }

    function _postEvidence(Deal calldata deal, bytes32 contentHash, string calldata uri, address caller) private {
        (bytes32 dealId, DealRecord memory rec, Deal memory d) = _load(deal);
        _requireLive(dealId, rec.status);
        if (caller != d.payer && caller != d.payee && caller != d.gateway && !_registry.isArbiter(caller))
            revert EscrowUnauthorized(dealId, caller);
        emit EvidencePosted(dealId, caller, contentHash, uri);
    }

    /// @dev Asks the registry whether the gateway holds a new dispute. The call gets a fixed amount of gas and
    /// never blocks the dispute: if the registry refuses (for example after governance revoked this escrow's
    /// `ESCROW_ROLE`), the dispute goes to the arbiter and {DisputeCountSkipped} says so.
    function _noteDisputeOpened(bytes32 dealId, address gw) private returns (bool held) {
        _requireGas(REGISTRY_HOOK_GAS);
        try _registry.noteDisputeOpened{gas: REGISTRY_HOOK_GAS}(gw) returns (bool h) {
            held = h;
        } catch {
            emit DisputeCountSkipped(dealId, gw, true);
        }
    }

    /// @dev Ends the dispute of a deal that leaves Disputed: uncounts it when the gateway held it (same rules as
    /// {_noteDisputeOpened}; the audit command reports a counter that drifted).
    function _endDispute(bytes32 dealId, DealRecord memory rec, address gw) private {
        if (rec.status != DealStatus.Disputed || rec.flags != GATEWAY_HOLDS) return;
        _requireGas(REGISTRY_HOOK_GAS);
        try _registry.noteDisputeClosed{gas: REGISTRY_HOOK_GAS}(gw) {} catch {
            emit DisputeCountSkipped(dealId, gw, false);
        }
    }

    function _requireLive(bytes32 dealId, DealStatus status) private pure {
        if (!_isLive(status)) revert EscrowWrongStatus(dealId, status);
    }

    function _isLive(DealStatus status) private pure returns (bool) {
        return status == DealStatus.Open || status == DealStatus.Performed || status == DealStatus.Disputed;
    }

    /// @dev `deadline + releaseWindow + resolutionWindow` for a delegate's lock, 0 for any other deal.
    function _lockExpiry(Deal memory deal) private view returns (uint256) {
        if (deal.kind != DealKind.OnRamp || bytes12(deal.salt) != DELEGATE_SALT_PREFIX) return 0;
        return uint256(deal.deadline) + deal.releaseWindow + _resolutionWindow;
    }

    /*//////////////////////////////////////////////////////////////
                          INTERNAL: PAYOUTS
    //////////////////////////////////////////////////////////////*/

    /// @dev Final release: the amount less the fee to the payee, the fee owed to the gateway.
    function _payRelease(Deal memory deal, bytes32 dealId, DealRecord memory rec) private {
        uint96 fee = _fee(deal.amount, deal.feeBps);
        uint96 payeeNet = deal.amount - fee;
        _store(dealId, rec.commitment, DealStatus.Released, 0);
        emit DealReleased(dealId);
        _endDispute(dealId, rec, deal.gateway);
        _settle(dealId, deal, payeeNet, fee, 0);
    }

    /// @dev Final refund of the whole amount to the payer, or to the acceptor's free float.
    function _refund(Deal memory deal, bytes32 dealId, DealRecord memory rec, RefundReason reason) private {
        _store(dealId, rec.commitment, DealStatus.Refunded, 0);
        emit DealRefunded(dealId, reason);
        _endDispute(dealId, rec, deal.gateway);
        _settle(dealId, deal, 0, 0, deal.amount);
    }

    /// @dev Moves a final deal's funds. Pushes never revert the settlement: a failed push is owed instead.
    function _settle(bytes32 dealId, Deal memory deal, uint96 payeeNet, uint96 fee, uint96 refundAmount) private {
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

    /// @dev Pushes `amount` to `to` with at most {PAYOUT_GAS}; credits it as owed when the transfer fails.
    function _push(bytes32 dealId, address token, address to, uint96 amount) private {
        if (!_tryTransfer(token, to, amount)) {
            _owed[token][to] += amount;
            emit PayoutDeferred(dealId, token, to, amount);
        }
    }

    /// @dev `IERC20(token).transfer(to, amount)` with {PAYOUT_GAS}, judged as SafeERC20 judges it (success with no
    /// return data from a contract, or a return value of true). SafeERC20 has no variant with a gas limit, hence
    /// this one. Reverts when less than the bounded call needs is left, so no caller can make a payout fail by
    /// starving it and have it deferred.
    function _tryTransfer(address token, address to, uint256 amount) private returns (bool ok) {
        _requireGas(PAYOUT_GAS);
        bytes4 selector = IERC20.transfer.selector;
        uint256 gasLimit = PAYOUT_GAS;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let fmp := mload(0x40)
            mstore(0x00, selector)
            mstore(0x04, and(to, shr(96, not(0))))
            mstore(0x24, amount)
            ok := call(gasLimit, token, 0, 0x00, 0x44, 0x00, 0x20)
            if iszero(and(ok, eq(mload(0x00), 1))) {
                ok := and(ok, and(iszero(returndatasize()), gt(extcodesize(token), 0)))
            }
            mstore(0x40, fmp)
        }
    }

    /// @dev Pulls `amount` of `token` from `from` and returns the escrow's balance change.
    function _pull(address token, address from, uint256 amount) private returns (uint256) {
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(from, address(this), amount);
        return IERC20(token).balanceOf(address(this)) - before;
    }

    /// @dev Reverts unless a call bounded to `callGas` can get all of it (EIP-150's 63/64 rule and the call's own
    /// cost included).
    function _requireGas(uint256 callGas) private view {
        uint256 required = callGas + callGas / 63 + CALL_OVERHEAD;
        if (gasleft() < required) revert EscrowInsufficientGas(gasleft(), required);
    }

    function _fee(uint96 amount, uint16 feeBps) private pure returns (uint96) {
        return uint96((uint256(amount) * feeBps) / BPS);
    }

    /*//////////////////////////////////////////////////////////////
                      INTERNAL: STORAGE AND HASHES
    //////////////////////////////////////////////////////////////*/

    /// @dev Loads a deal, checks the given parameters against its commitment and returns them in memory.
    ///
    /// One `calldatacopy` lays out `DEAL_TYPEHASH` and the Deal's 11 static words, which hash to the struct hash
    /// and, from the second word on, are the memory layout of `Deal`. The words are not range-checked one by one:
    /// a word with out-of-range high bits hashes differently from its clean value, so it matches no commitment
    /// (every commitment is made in {_open} from checked fields) and the call reverts before `d` is used.
    function _load(Deal calldata deal) private view returns (bytes32 dealId, DealRecord memory rec, Deal memory d) {
        dealId = _dealId(deal);
        rec = _deals[dealId];
        bytes32 typehash = DEAL_TYPEHASH;
        bytes32 structHash;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(0x40, add(ptr, 0x180))
            mstore(ptr, typehash)
            calldatacopy(add(ptr, 0x20), deal, 0x160)
            structHash := keccak256(ptr, 0x180)
            d := add(ptr, 0x20)
        }
        if (rec.commitment != bytes25(structHash)) revert EscrowUnknownDeal(dealId);
    }

    /// @dev Writes a deal's slot in one store, `since` set to now: the {DealRecord} fields packed from the lowest
    /// byte up (commitment in bits 0-199, since 200-239, status 240-247, flags 248-255), as Solidity packs them.
    function _store(bytes32 dealId, bytes25 commitment, DealStatus status, uint8 flags) private {
        mapping(bytes32 => DealRecord) storage deals = _deals;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(0x00, dealId)
            mstore(0x20, deals.slot)
            let word := or(shr(56, commitment), shl(200, timestamp()))
            sstore(keccak256(0x00, 0x40), or(word, or(shl(240, status), shl(248, flags))))
        }
    }

    /// @dev `keccak256(abi.encode(deal.payer, deal.salt))`, read straight from calldata.
    function _dealId(Deal calldata deal) private pure returns (bytes32 id) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(0x00, calldataload(deal))
            mstore(0x20, calldataload(add(deal, 0x140)))
            id := keccak256(0x00, 0x40)
        }
    }

    /// @dev `keccak256(abi.encode(DEAL_TYPEHASH, deal))` hashed straight from calldata (the Deal's 11 fields are
    /// static words). A field with out-of-range high bits hashes differently from its clean value, so such a deal
    /// matches no commitment; {_validate} reads (and so range-checks) every field before a commitment is made.
    function _hashDeal(Deal calldata deal) private pure returns (bytes32 h) {
        bytes32 typehash = DEAL_TYPEHASH;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            calldatacopy(add(ptr, 0x20), deal, 0x160)
            h := keccak256(ptr, 0x180)
        }
    }

    function _actionHash(bytes32 dealId, Action action, uint256 expiry) private pure returns (bytes32) {
        return keccak256(abi.encode(ACTION_TYPEHASH, dealId, action, expiry));
    }

    function _splitHash(bytes32 dealId, uint96 payeeAmount, uint256 expiry) private pure returns (bytes32) {
        return keccak256(abi.encode(SPLIT_TYPEHASH, dealId, payeeAmount, expiry));
    }

    /// @dev Reverts unless `signer` signed `structHash` and the signature has not expired. An ECDSA signature that
    /// recovers to `signer` is accepted first (an EOA, or an account with code whose key signed: EIP-7702); only
    /// otherwise is a contract signer asked through ERC-1271. Checking the ECDSA signature first spares every EOA
    /// signer the cold `EXTCODESIZE` (2,600 gas) that SignatureChecker's code-first order costs.
    function _verify(bytes32 dealId, address signer, bytes32 structHash, Authorization calldata auth) private view {
        if (block.timestamp > auth.expiry) revert EscrowSignatureExpired(auth.expiry);
        bytes32 digest = _hashTypedDataV4(structHash);
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, auth.signature);
        if (err == ECDSA.RecoverError.NoError && recovered == signer) return;
        if (
            signer.code.length == 0 ||
            !SignatureChecker.isValidERC1271SignatureNowCalldata(signer, digest, auth.signature)
        ) revert EscrowInvalidSignature(dealId, signer);
    }
}
