// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IGatewayRegistry
/// @notice Governance, the token allowlist, bonded gateways and the acceptors registered under them.
/// @dev Roles (OpenZeppelin AccessControl):
///  - `DEFAULT_ADMIN_ROLE` (admin): grants and revokes every role. Worst case: grants itself every role below,
///    so it inherits their worst cases; it can never move a deal's funds or an acceptor's float.
///  - `GOVERNOR_ROLE`: allowlists tokens, approves/suspends/slashes gateways, sets the bond, fee cap and
///    unbonding delay. Worst case: slashes every gateway's bond to an address of its choice and suspends
///    every gateway, which stops new deals and keeps bonds in place; open deals still settle by mutual
///    confirmation, split, refund and cancel, and their disputes pass to the arbiter.
///  - `PAUSER_ROLE`: pauses and unpauses new business (new deals, locks, float deposits, registrations).
///    Worst case: halts new business forever; no exit is ever blocked.
///  - `ARBITER_ROLE`: rules disputes whose gateway let the resolution window pass, is no longer in good
///    standing, or does not hold them. Worst case: splits such a deal between its payer and payee as it likes;
///    it can never pay anyone else, never more than the deal's amount, and never a deal that is not disputed.
///    Never grant it to a gateway: a gateway's signed ruling would then also rule, without fee, where only the
///    arbiter may.
///  - `ESCROW_ROLE`: held by escrow contracts; moves a gateway's open-dispute counter. Worst case (if the
///    admin grants it to a key): keeps a gateway from exiting, or lets it exit with disputes pending, which
///    then pass to the arbiter. It is also the repair for a counter that drifted (an escrow that lost the role
///    while disputes it counted were open): the admin grants it to a key that calls {noteDisputeClosed}.
///
/// Gateway standing has two independent parts. The gateway's own life cycle (`status`: Pending → Active →
/// Exiting → Exited) and governance's sanction (`suspended`). A suspended gateway is named in no new deal,
/// approves and reinstates no acceptor, rules no dispute and cannot complete an exit, whatever it calls
/// (requesting its exit included); it keeps the fee fixed at open on deals its parties settle by mutual
/// confirmation (the fee is part of the terms the parties agreed to; governance's sanction reaches the bond,
/// never deal money). Only governance lifts a suspension, or slashes the bond.
///
/// Acceptor registration is open to anyone, without limit, on purpose: a registration only creates a
/// `Pending` record that can do nothing (no float, no orders) until the chosen gateway approves it, costs the
/// registrant its gas, and is never iterated on-chain. Off-chain readers page through {acceptorAt} and skip
/// pending records; the gateway's approval is the gate.
interface IGatewayRegistry {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice The gateway's own life cycle. Governance's sanction is the separate `suspended` flag.
    enum GatewayStatus {
        None,
        Pending, // registered and bonded, awaiting the governor's approval
        Active, // may be named in new deals; holds (and rules) the disputes raised on its deals
        Exiting, // exit requested: named in no new deal, holds no new dispute, rules those it held; slashable
        Exited // bond returned
    }

    /// @notice Life cycle of an acceptor.
    enum AcceptorStatus {
        None,
        Pending, // registered, awaiting its gateway's approval
        Active, // may deposit float and take orders
        Suspended // by its gateway or the governor: no new orders or deposits, withdrawals stay open
    }

    /// @notice A gateway's record.
    struct Gateway {
        // slot 0
        uint96 bond; // bond held, in the bond token's base units
        uint16 feeBps; // fee the gateway charges on what a payee receives
        uint16 feeCapBps; // per-gateway cap set by the governor at approval
        GatewayStatus status;
        bool suspended; // governance's sanction, independent of `status`
        uint40 exitAt; // when an exiting gateway may withdraw its bond
        uint32 openDisputes; // disputes the gateway holds (raised while it was Active and in good standing)
    }

    /// @notice An acceptor's record.
    struct Acceptor {
        // slot 0
        address gateway; // the gateway it is registered under
        AcceptorStatus status;
        // slot 1
        address lockDelegate; // may lock the acceptor's float for orders; can never release or withdraw it
    }

    /// @notice Per-order limits of an acceptor for one token, in that token's base units.
    struct OrderLimits {
        // slot 0
        uint96 minAmount;
        uint96 maxAmount;
    }

    /// @notice Everything the escrow needs to open a deal, read in one call.
    struct DealTerms {
        uint16 feeBps; // the gateway's current fee, clamped to the global cap
        address lockDelegate; // the acceptor's lock delegate, or zero when no acceptor is involved
        uint96 minAmount; // the acceptor's per-order minimum for the token (0 when no acceptor)
        uint96 maxAmount; // the acceptor's per-order maximum for the token (0 when no acceptor)
    }

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice `account` (a pauser) paused new business.
    event Paused(address account);
    /// @notice `account` (a pauser) ended the pause.
    event Unpaused(address account);
    /// @notice The governor allowed or disallowed a token for new deals.
    event TokenAllowed(address indexed token, bool allowed);
    /// @notice The governor set the minimum gateway bond.
    event MinBondSet(uint96 minBond);
    /// @notice The governor set the global fee cap.
    event MaxFeeSet(uint16 maxFeeBps);
    /// @notice The governor set the unbonding delay.
    event UnbondingDelaySet(uint32 unbondingDelay);

    /// @notice A gateway registered with a bond (`bond` is what the registry received).
    event GatewayRegistered(address indexed gateway, uint96 bond, uint16 feeBps, bytes32 metadata);
    /// @notice The governor approved a gateway with a per-gateway fee cap.
    event GatewayApproved(address indexed gateway, uint16 feeCapBps);
    /// @notice A gateway changed its fee (deals already open keep theirs).
    event GatewayFeeSet(address indexed gateway, uint16 feeBps);
    /// @notice A gateway added to its bond (`amount` is what the registry received).
    event GatewayBondAdded(address indexed gateway, uint96 amount, uint96 bond);
    /// @notice The governor suspended a gateway.
    event GatewaySuspended(address indexed gateway);
    /// @notice The governor reinstated a suspended gateway.
    event GatewayReinstated(address indexed gateway);
    /// @notice The governor slashed part of a gateway's bond to `recipient`.
    event GatewaySlashed(address indexed gateway, address indexed recipient, uint96 amount, uint96 bond);
    /// @notice A gateway asked to exit; its bond is returned from `exitAt`.
    event GatewayExitRequested(address indexed gateway, uint40 exitAt);
    /// @notice A gateway took its bond back and left.
    event GatewayExited(address indexed gateway, uint96 bond);
    /// @notice An escrow changed the count of disputes `gateway` holds.
    event GatewayDisputesChanged(address indexed gateway, uint32 openDisputes);

    /// @notice An account registered as an acceptor under `gateway`.
    event AcceptorRegistered(address indexed acceptor, address indexed gateway, address lockDelegate);
    /// @notice The acceptor's gateway approved it.
    event AcceptorApproved(address indexed acceptor, address indexed gateway);
    /// @notice The acceptor's gateway or the governor suspended it.
    event AcceptorSuspended(address indexed acceptor, address indexed by);
    /// @notice The acceptor's gateway or the governor reinstated it.
    event AcceptorReinstated(address indexed acceptor, address indexed by);
    /// @notice An acceptor named a new lock delegate (zero: none).
    event AcceptorLockDelegateSet(address indexed acceptor, address lockDelegate);
    /// @notice An acceptor added or removed a fiat payment method.
    event AcceptorMethodSet(address indexed acceptor, bytes32 indexed method, bool supported);
    /// @notice An acceptor set its per-order limits for a token.
    event AcceptorLimitsSet(address indexed acceptor, address indexed token, uint96 minAmount, uint96 maxAmount);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice New business is paused.
    error RegistryPaused();
    /// @notice New business is not paused.
    error RegistryNotPaused();
    /// @notice `token` is not allowlisted.
    error RegistryTokenNotAllowed(address token);
    /// @notice A zero address was given where an account or token is required.
    error RegistryZeroAddress();
    /// @notice `gateway` is not in the status the call needs.
    error RegistryGatewayWrongStatus(address gateway, GatewayStatus status);
    /// @notice `gateway` is suspended by governance.
    error RegistryGatewaySuspended(address gateway);
    /// @notice `gateway` is not suspended.
    error RegistryGatewayNotSuspended(address gateway);
    /// @notice A bond of `bond` is below the minimum `minBond`.
    error RegistryBondTooLow(uint96 bond, uint96 minBond);
    /// @notice A fee of `feeBps` is above the cap `capBps`.
    error RegistryFeeTooHigh(uint16 feeBps, uint16 capBps);
    /// @notice A slash of `amount` exceeds the gateway's bond `bond`, or is zero.
    error RegistryInvalidSlash(address gateway, uint96 amount, uint96 bond);
    /// @notice The gateway still has `openDisputes` disputes to rule on.
    error RegistryGatewayHasDisputes(address gateway, uint32 openDisputes);
    /// @notice The unbonding delay ends at `exitAt`.
    error RegistryUnbonding(address gateway, uint40 exitAt);
    /// @notice A parameter is outside its hard limit (`limit`: the bound it crossed).
    error RegistryInvalidParameter(uint256 value, uint256 limit);
    /// @notice `acceptor` is not in the status the call needs.
    error RegistryAcceptorWrongStatus(address acceptor, AcceptorStatus status);
    /// @notice `caller` is neither the acceptor's gateway nor a governor.
    error RegistryNotAcceptorGateway(address acceptor, address caller);
    /// @notice `acceptor` is registered under `acceptorGateway`, not under `gateway`.
    error RegistryAcceptorGatewayMismatch(address acceptor, address acceptorGateway, address gateway);
    /// @notice Per-order limits with `minAmount > maxAmount` or a zero maximum.
    error RegistryInvalidLimits(uint96 minAmount, uint96 maxAmount);
    /// @notice A dispute counter change that would underflow or overflow.
    error RegistryDisputeCounter(address gateway, uint32 openDisputes);

    /*//////////////////////////////////////////////////////////////
                               GOVERNANCE
    //////////////////////////////////////////////////////////////*/

    /// @notice Allows or disallows `token` for new deals and float deposits.
    /// @dev Requires `GOVERNOR_ROLE` and a non-zero token. Emits {TokenAllowed}. Disallowing never affects deals
    /// already open or float already deposited: they settle and withdraw as before.
    /// Worst case: disallows every token, which stops new business only.
    /// @param token The ERC-20 token.
    /// @param allowed Whether new deals may use it.
    function setTokenAllowed(address token, bool allowed) external;

    /// @notice Sets the minimum bond a gateway registers with.
    /// @dev Requires `GOVERNOR_ROLE`. Emits {MinBondSet}. Applies to new registrations only.
    /// Worst case: an unreachable minimum, which stops new gateways from registering.
    /// @param minBond_ The new minimum, in the bond token's base units.
    function setMinBond(uint96 minBond_) external;

    /// @notice Sets the global fee cap.
    /// @dev Requires `GOVERNOR_ROLE` and `maxFeeBps_ <= MAX_FEE_LIMIT_BPS`. Emits {MaxFeeSet}. A gateway whose fee
    /// is above the new cap is charged at the cap on new deals; open deals keep their fee.
    /// Worst case: a cap of `MAX_FEE_LIMIT_BPS` on new deals.
    /// @param maxFeeBps_ The new cap in basis points.
    function setMaxFee(uint16 maxFeeBps_) external;

    /// @notice Sets the delay between a gateway's exit request and the return of its bond.
    /// @dev Requires `GOVERNOR_ROLE` and `minUnbondingDelay() <= unbondingDelay_ <= MAX_UNBONDING_DELAY`. Emits
    /// {UnbondingDelaySet}. Applies to exits requested afterwards. The floor is at least every escrow's
    /// resolution window plus 7 days (each escrow checks it at deployment): a gateway that asked to exit rules
    /// its last held dispute at least that long before its bond can leave, so a slash can always land first.
    /// Worst case: gateways wait `MAX_UNBONDING_DELAY` for their bond.
    /// @param unbondingDelay_ The delay in seconds.
    function setUnbondingDelay(uint32 unbondingDelay_) external;

    /// @notice Approves a pending gateway, which may then be named in deals.
    /// @dev Requires `GOVERNOR_ROLE`, a `Pending` gateway, `feeCapBps <= MAX_FEE_LIMIT_BPS` and the gateway's
    /// fee within `feeCapBps`. Emits {GatewayApproved}. A suspended pending gateway becomes Active and stays
    /// suspended. Worst case: approves an unfit gateway, which can then rule only the disputes of deals whose
    /// parties chose it.
    /// @param gateway The gateway.
    /// @param feeCapBps The gateway's own fee cap.
    function approveGateway(address gateway, uint16 feeCapBps) external;

    /// @notice Suspends a pending, active or exiting gateway: it is named in no new deal, approves no acceptor,
    /// rules no dispute and cannot complete an exit until reinstated.
    /// @dev Requires `GOVERNOR_ROLE`, a gateway that is registered and has not exited, and not suspended already.
    /// Emits {GatewaySuspended}. Its life cycle is untouched: an exiting gateway stays exiting (its `exitAt`
    /// kept), and a suspended gateway may still request its exit, which does not lift the sanction. Its disputes
    /// pass to the arbiter at once, and disputes raised while it is suspended are never its own.
    /// Worst case: suspends every gateway (see the role notes); bonds then stay until reinstated or slashed.
    /// @param gateway The gateway.
    function suspendGateway(address gateway) external;

    /// @notice Lifts a gateway's suspension; its life cycle status is unchanged.
    /// @dev Requires `GOVERNOR_ROLE` and a suspended gateway. Emits {GatewayReinstated}. The gateway may again
    /// rule the disputes it holds, within their windows; disputes raised while it was suspended stay with the
    /// arbiter. Worst case: reinstates a gateway it had suspended.
    /// @param gateway The gateway.
    function reinstateGateway(address gateway) external;

    /// @notice Slashes `amount` of a gateway's bond to `recipient`.
    /// @dev Requires `GOVERNOR_ROLE`, `0 < amount <= bond`, a non-zero recipient and a gateway that has not
    /// exited. Emits {GatewaySlashed}. Worst case: takes a gateway's whole bond — only the bond, which the
    /// gateway posted as collateral for its rulings; never deal funds or float.
    /// @param gateway The gateway.
    /// @param amount The amount slashed.
    /// @param recipient Who receives it (for example, a party the gateway wronged).
    function slashGateway(address gateway, uint96 amount, address recipient) external;

    /// @notice Pauses new business: new deals, locks, float deposits and registrations.
    /// @dev Requires `PAUSER_ROLE` and not paused. Emits {Paused}. Settlement and every exit stay open.
    function pause() external;

    /// @notice Ends a pause.
    /// @dev Requires `PAUSER_ROLE` and paused. Emits {Unpaused}.
    function unpause() external;

    /*//////////////////////////////////////////////////////////////
                                GATEWAYS
    //////////////////////////////////////////////////////////////*/

    /// @notice Registers the caller as a gateway, posting `bond` of the bond token (approve it first).
    /// @dev Requires not paused, a caller never registered, `bond > 0`, a received bond `>= minBond`, and
    /// `feeBps <= maxFeeBps`; a zero bond reverts {RegistryBondTooLow} with a received amount of 0. The bond is
    /// measured by the registry's balance change. Emits {GatewayRegistered}.
    /// @param bond The bond to transfer.
    /// @param feeBps The fee the gateway will charge.
    /// @param metadata An off-chain reference (for example a hash of the gateway's terms).
    function registerGateway(uint96 bond, uint16 feeBps, bytes32 metadata) external;

    /// @notice Adds to the caller's bond.
    /// @dev Requires a gateway that is neither unregistered nor exited and `amount > 0` (a zero amount reverts
    /// {RegistryBondTooLow}). Emits {GatewayBondAdded}.
    /// @param amount The amount to transfer.
    function addBond(uint96 amount) external;

    /// @notice Sets the caller's fee; deals already open keep the fee they were opened with.
    /// @dev Requires a `Pending` or `Active` gateway (suspended or not) and a fee within its own cap (if approved)
    /// and the global cap. Emits {GatewayFeeSet}.
    /// @param feeBps The new fee.
    function setGatewayFee(uint16 feeBps) external;

    /// @notice Starts the caller's exit: it is named in no new deal and holds no new dispute (disputes raised
    /// from now on go to the arbiter); its bond returns after the unbonding delay, once it has ruled the disputes
    /// it holds.
    /// @dev Requires a `Pending` or `Active` gateway, suspended or not (the sanction stays). Emits
    /// {GatewayExitRequested}. Nobody can hold the bond hostage: the exit waits only for the disputes the gateway
    /// held when it asked, which it rules within their windows (or the arbiter after them).
    function requestExit() external;

    /// @notice Returns the caller's bond once the unbonding delay has passed and it holds no dispute.
    /// @dev Requires an `Exiting` gateway that is not suspended, `block.timestamp >= exitAt` and no dispute held.
    /// Works while paused. Emits {GatewayExited}.
    function completeExit() external;

    /*//////////////////////////////////////////////////////////////
                               ACCEPTORS
    //////////////////////////////////////////////////////////////*/

    /// @notice Registers the caller as an acceptor under an active gateway, pending that gateway's approval.
    /// @dev Requires not paused, a caller never registered, an `Active` gateway in good standing. Emits
    /// {AcceptorRegistered}. Open to anyone without limit (see the contract notes): a pending record can do
    /// nothing until approved.
    /// @param gateway The gateway the acceptor works under.
    /// @param lockDelegate A key that may lock the caller's float for orders (zero: none).
    function registerAcceptor(address gateway, address lockDelegate) external;

    /// @notice Approves a pending acceptor registered under the caller.
    /// @dev Requires the caller to be the acceptor's gateway, `Active` and not suspended, and a `Pending` acceptor.
    /// Emits {AcceptorApproved}.
    /// @param acceptor The acceptor.
    function approveAcceptor(address acceptor) external;

    /// @notice Suspends an active acceptor: it takes no new orders and deposits no float.
    /// @dev Requires the caller to be the acceptor's gateway or a governor. Emits {AcceptorSuspended}.
    /// Worst case: suspends every acceptor; they still withdraw their free float and settle open deals.
    /// @param acceptor The acceptor.
    function suspendAcceptor(address acceptor) external;

    /// @notice Reinstates a suspended acceptor.
    /// @dev Requires the caller to be the acceptor's gateway or a governor, a `Suspended` acceptor, and the
    /// acceptor's gateway `Active` and not suspended, whoever calls. Emits {AcceptorReinstated}.
    /// @param acceptor The acceptor.
    function reinstateAcceptor(address acceptor) external;

    /// @notice Names the caller's lock delegate (zero removes it).
    /// @dev Requires a registered caller. Emits {AcceptorLockDelegateSet}.
    /// @param lockDelegate The new delegate.
    function setLockDelegate(address lockDelegate) external;

    /// @notice Adds and removes fiat payment methods of the caller (e.g. `keccak256("SEPA:EUR")`).
    /// @dev Requires a registered caller. Emits {AcceptorMethodSet} for each method whose state changed.
    /// @param add Methods to add.
    /// @param remove Methods to remove.
    function setMethods(bytes32[] calldata add, bytes32[] calldata remove) external;

    /// @notice Sets the caller's per-order limits for `token`.
    /// @dev Requires a registered caller, `0 < maxAmount` and `minAmount <= maxAmount`. Emits {AcceptorLimitsSet}.
    /// @param token The token.
    /// @param minAmount The smallest order.
    /// @param maxAmount The largest order.
    function setLimits(address token, uint96 minAmount, uint96 maxAmount) external;

    /*//////////////////////////////////////////////////////////////
                              ESCROW HOOKS
    //////////////////////////////////////////////////////////////*/

    /// @notice Tells whether `gateway` holds a dispute just raised on one of its deals, and counts it if so.
    /// @dev Requires `ESCROW_ROLE`. The gateway holds it when it is `Active` and not suspended; then the counter
    /// rises and {GatewayDisputesChanged} is emitted. Otherwise nothing changes and the arbiter rules the dispute.
    /// @param gateway The deal's gateway.
    /// @return held Whether the gateway holds (and may rule) the dispute.
    function noteDisputeOpened(address gateway) external returns (bool held);

    /// @notice Uncounts a dispute `gateway` held, which has ended (ruled, released, cancelled or settled).
    /// @dev Requires `ESCROW_ROLE` and a non-zero counter. Emits {GatewayDisputesChanged}.
    /// @param gateway The deal's gateway.
    function noteDisputeClosed(address gateway) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice The terms for a new deal naming `gateway` in `token`, with `acceptor` (zero for a payment).
    /// @dev Reverts when paused, when the token is not allowed, when the gateway is not `Active` or is suspended,
    /// or, with an acceptor, when it is not `Active` or registered under another gateway. Reads the pause flag,
    /// the fee cap and the bond token's allowance from one slot, so a deal in the bond token (USDT) costs two
    /// storage reads here; the acceptor's lock delegate is read only when `withDelegate` is set.
    /// @param gateway The deal's gateway.
    /// @param token The deal's token.
    /// @param acceptor The acceptor funding or receiving the deal, or zero.
    /// @param withDelegate Whether to return the acceptor's lock delegate (zero otherwise).
    /// @return terms The fee and the acceptor's delegate and limits.
    function dealTerms(
        address gateway,
        address token,
        address acceptor,
        bool withDelegate
    ) external view returns (DealTerms memory terms);

    /// @notice Reverts unless `acceptor` may deposit float in `token` now: not paused, token allowed, acceptor
    /// `Active`, and its gateway `Active` and not suspended (the gateway it would lock float under).
    /// @param acceptor The acceptor.
    /// @param token The token.
    function checkDeposit(address acceptor, address token) external view;

    /// @notice Whether `gateway` may rule the disputes it holds now: `Active` or `Exiting`, and not suspended.
    /// @param gateway The gateway.
    /// @return True when it may rule.
    function canRule(address gateway) external view returns (bool);

    /// @notice Whether `account` holds `ARBITER_ROLE`.
    /// @param account The account.
    /// @return True for an arbiter.
    function isArbiter(address account) external view returns (bool);

    /// @notice Whether new business is paused.
    /// @return True while paused.
    function paused() external view returns (bool);

    /// @notice The token gateways post their bond in.
    /// @return The bond token.
    function bondToken() external view returns (address);

    /// @notice Whether `token` is allowlisted.
    /// @param token The token.
    /// @return True when allowed.
    function isTokenAllowed(address token) external view returns (bool);

    /// @notice The minimum gateway bond.
    /// @return The minimum, in base units.
    function minBond() external view returns (uint96);

    /// @notice The global fee cap in basis points.
    /// @return The cap.
    function maxFeeBps() external view returns (uint16);

    /// @notice The unbonding delay in seconds.
    /// @return The delay.
    function unbondingDelay() external view returns (uint32);

    /// @notice The floor of the unbonding delay, fixed at deployment: no escrow whose resolution window plus 7 days
    /// exceeds it can be deployed against this registry.
    /// @return The floor in seconds.
    function minUnbondingDelay() external view returns (uint32);

    /// @notice A gateway's record.
    /// @param gateway The gateway.
    /// @return The record (all zero when unknown).
    function getGateway(address gateway) external view returns (Gateway memory);

    /// @notice The number of gateways ever registered.
    /// @return The count.
    function gatewayCount() external view returns (uint256);

    /// @notice The gateway registered `index`-th (0-based).
    /// @param index The index, below {gatewayCount}.
    /// @return The gateway's address.
    function gatewayAt(uint256 index) external view returns (address);

    /// @notice An acceptor's record.
    /// @param acceptor The acceptor.
    /// @return The record (all zero when unknown).
    function getAcceptor(address acceptor) external view returns (Acceptor memory);

    /// @notice The number of acceptors ever registered.
    /// @return The count.
    function acceptorCount() external view returns (uint256);

    /// @notice The acceptor registered `index`-th (0-based).
    /// @param index The index, below {acceptorCount}.
    /// @return The acceptor's address.
    function acceptorAt(uint256 index) external view returns (address);

    /// @notice The fiat payment methods an acceptor supports.
    /// @param acceptor The acceptor.
    /// @return The method hashes.
    function methodsOf(address acceptor) external view returns (bytes32[] memory);

    /// @notice Whether an acceptor supports `method`.
    /// @param acceptor The acceptor.
    /// @param method The method hash.
    /// @return True when supported.
    function supportsMethod(address acceptor, bytes32 method) external view returns (bool);

    /// @notice An acceptor's per-order limits for `token` (zero when unset: it takes no orders in that token).
    /// @param acceptor The acceptor.
    /// @param token The token.
    /// @return The limits.
    function limitsOf(address acceptor, address token) external view returns (OrderLimits memory);
}
