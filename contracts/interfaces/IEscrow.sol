// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IGatewayRegistry} from "./IGatewayRegistry.sol";

/// @title IEscrow
/// @notice Escrow of ERC-20 stablecoins (USDT first) that pays a deal's payee only when the payer and the payee
/// both confirm, or when the gateway both sides chose rules on a dispute.
/// @dev Storage holds one slot per deal: its status, a timestamp and a 200-bit commitment to its parameters.
/// Every call about a deal passes the full {Deal} (as emitted in {DealOpened}); the contract checks it against
/// the commitment. Finding two parameter sets with the same commitment takes about 2^100 hash evaluations.
///
/// Events are enough to rebuild every deal, float and owed balance:
///  - a deal's state from {DealOpened} and the events that follow it;
///  - an acceptor's float from {FloatDeposited}, {FloatWithdrawn} and the deals it funded (kind `OnRamp`):
///    opening moves `amount` from free to locked; on settlement `amount` leaves locked and the payer's share
///    (refund) returns to free;
///  - owed balances from {DealReleased}/{DealResolved} (the fee accrues to the gateway), {PayoutDeferred} and
///    {OwedClaimed}.
///
/// Nobody holds a privileged role here. Governance (through the registry) can pause new deals, locks and
/// deposits, and its arbiter can rule disputes the gateway did not rule in time; it can never move funds
/// otherwise, and no exit (refund, cancel, claim, withdrawal of free float) ever checks the pause.
interface IEscrow {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice What a deal is for; it fixes how it is funded and what the confirmations mean.
    enum DealKind {
        Payment, // payer's wallet pays a payee for goods or services
        OnRamp, // an acceptor's float (payer) sells USDT to a buyer (payee) who pays fiat
        OffRamp // a seller's wallet (payer) sells USDT to an acceptor (payee) who pays fiat
    }

    /// @notice The state machine of DESIGN.md §4.
    enum DealStatus {
        None,
        Open, // funded; the payee has not performed
        Performed, // the payee performed; the payer has not released
        Released, // final: paid to the payee (less the fee)
        Refunded, // final: back to the payer (deadline, payee cancel or mutual cancel)
        Disputed, // a party disputed; awaits the gateway's (or the arbiter's) ruling
        Resolved // final: split as ruled
    }

    /// @notice A signed action on a deal.
    enum Action {
        Perform, // payee: performed
        Release, // payer: release
        Cancel, // payee alone, or payer and payee together
        Dispute, // payer or payee
        Claim // payee: release after the payer's silence (payment kind with autoRelease)
    }

    /// @notice Why a deal's funds went back to the payer.
    enum RefundReason {
        Deadline, // the deadline passed and the payee never performed
        PayeeCancel, // the payee cancelled
        MutualCancel // payer and payee cancelled together
    }

    /// @notice A deal's parameters, fixed at open. Its EIP-712 type is {DEAL_TYPEHASH}.
    struct Deal {
        address payer; // the funder: the payer's wallet, or the acceptor whose float is locked (OnRamp)
        address payee; // receives the amount less the fee
        address gateway; // earns the fee and rules a dispute
        address token; // an allowlisted ERC-20
        uint96 amount; // escrowed amount in base units
        uint40 deadline; // the payee must perform before it; after it an unperformed deal refunds
        uint32 releaseWindow; // seconds the payer has after "performed" before the payee may escalate or claim
        uint16 feeBps; // the gateway's fee, equal to its registry fee at open
        DealKind kind;
        bool autoRelease; // payment kind only: the payee may claim the release after the payer's silence
        bytes32 salt; // chosen by the funder; the deal id is keccak256(abi.encode(payer, salt))
    }

    /// @notice The stored state of a deal (one slot).
    struct DealRecord {
        // slot 0
        bytes25 commitment; // first 25 bytes of the EIP-712 struct hash of the Deal
        uint40 since; // when "performed" (Performed), the dispute (Disputed) or the final state was recorded
        DealStatus status;
        bool payerReleased; // the payer released before the payee performed
    }

    /// @notice A signature by one party, valid until `expiry` (EOA or ERC-1271 wallet).
    struct Authorization {
        uint256 expiry;
        bytes signature;
    }

    /// @notice An acceptor's float in one token.
    struct Float {
        // slot 0
        uint128 free; // may be locked for orders or withdrawn
        uint128 locked; // funds open on-ramp deals
    }

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A deal was opened from the payer's wallet, or locked from an acceptor's float (kind OnRamp).
    event DealOpened(bytes32 indexed dealId, address indexed payer, address indexed payee, Deal deal, bytes32 ref);
    /// @notice The payee confirmed "performed".
    event DealPerformed(bytes32 indexed dealId);
    /// @notice The payer confirmed "release" before the payee performed; the deal releases when the payee does.
    event DealReleaseApproved(bytes32 indexed dealId);
    /// @notice The deal was paid out: `payeeAmount` to the payee, `fee` accrued to the gateway.
    event DealReleased(bytes32 indexed dealId, uint96 payeeAmount, uint96 fee);
    /// @notice The deal's whole amount went back to the payer (or the acceptor's free float).
    event DealRefunded(bytes32 indexed dealId, RefundReason reason);
    /// @notice `by` (payer or payee) disputed the deal.
    event DealDisputed(bytes32 indexed dealId, address indexed by);
    /// @notice `by` (the gateway, or the arbiter) split the deal: `payeeAmount` and `fee` from the payee's share,
    /// `refund` to the payer.
    event DealResolved(bytes32 indexed dealId, address indexed by, uint96 payeeAmount, uint96 fee, uint96 refund);
    /// @notice A push of `amount` to `account` failed (blacklisted, paused token); it is owed instead.
    event PayoutDeferred(bytes32 indexed dealId, address indexed token, address indexed account, uint96 amount);
    /// @notice `amount` owed to `account` was paid out.
    event OwedClaimed(address indexed token, address indexed account, uint256 amount);
    /// @notice An acceptor deposited float; `amount` is what the escrow received.
    event FloatDeposited(address indexed acceptor, address indexed token, uint256 amount);
    /// @notice An acceptor withdrew free float.
    event FloatWithdrawn(address indexed acceptor, address indexed token, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice A deal with `dealId` already exists.
    error EscrowDealExists(bytes32 dealId);
    /// @notice No deal matches `dealId` and the given parameters.
    error EscrowUnknownDeal(bytes32 dealId);
    /// @notice The deal is `status`, which does not allow the call.
    error EscrowWrongStatus(bytes32 dealId, DealStatus status);
    /// @notice `caller` may not do this to the deal.
    error EscrowUnauthorized(bytes32 dealId, address caller);
    /// @notice Payer, payee and gateway must be distinct non-zero addresses.
    error EscrowInvalidParties(address payer, address payee, address gateway);
    /// @notice The amount is zero.
    error EscrowZeroAmount();
    /// @notice The deadline `deadline` is not in the future or too far (`latest`).
    error EscrowInvalidDeadline(uint40 deadline, uint256 latest);
    /// @notice The release window is outside `[MIN_RELEASE_WINDOW, MAX_RELEASE_WINDOW]`.
    error EscrowInvalidReleaseWindow(uint32 releaseWindow);
    /// @notice The kind does not fit the call (`open` takes Payment/OffRamp, `lock` takes OnRamp) or autoRelease
    /// was set on a fiat kind.
    error EscrowInvalidKind(DealKind kind, bool autoRelease);
    /// @notice The deal names fee `feeBps` but the gateway's current fee is `currentFeeBps`.
    error EscrowFeeMismatch(address gateway, uint16 feeBps, uint16 currentFeeBps);
    /// @notice The amount is outside the acceptor's per-order limits for the token.
    error EscrowAmountOutOfLimits(address acceptor, uint96 amount, uint96 minAmount, uint96 maxAmount);
    /// @notice The escrow received `received` of `token` where `expected` was due (for example a transfer fee).
    error EscrowTransferShortfall(address token, uint256 expected, uint256 received);
    /// @notice The acceptor's free float `free` is below `needed`.
    error EscrowInsufficientFloat(address acceptor, address token, uint256 free, uint256 needed);
    /// @notice The deal's deadline `deadline` has passed.
    error EscrowDeadlinePassed(bytes32 dealId, uint40 deadline);
    /// @notice The deal's deadline `deadline` has not passed yet.
    error EscrowDeadlineNotPassed(bytes32 dealId, uint40 deadline);
    /// @notice The payer's release window runs until `endsAt`.
    error EscrowReleaseWindowOpen(bytes32 dealId, uint256 endsAt);
    /// @notice The deal is not a payment with autoRelease.
    error EscrowNotAutoRelease(bytes32 dealId);
    /// @notice The gateway's resolution window ended at `endsAt`.
    error EscrowResolutionWindowClosed(bytes32 dealId, uint256 endsAt);
    /// @notice The gateway's resolution window runs until `endsAt` (and the gateway is in good standing).
    error EscrowResolutionWindowOpen(bytes32 dealId, uint256 endsAt);
    /// @notice The ruling gives the payee `payeeAmount`, more than the deal's `amount`.
    error EscrowPayeeAmountTooHigh(bytes32 dealId, uint96 payeeAmount, uint96 amount);
    /// @notice The signature expired at `expiry`.
    error EscrowSignatureExpired(uint256 expiry);
    /// @notice The signature is not `signer`'s.
    error EscrowInvalidSignature(bytes32 dealId, address signer);
    /// @notice Nothing of `token` is owed to `account`.
    error EscrowNothingOwed(address token, address account);
    /// @notice The amount is zero or exceeds what can be held.
    error EscrowInvalidAmount(uint256 amount);
    /// @notice The registry given at deployment is not a contract.
    error EscrowInvalidRegistry(address registry);
    /// @notice The resolution window given at deployment is outside its bounds.
    error EscrowInvalidResolutionWindow(uint32 resolutionWindow);

    /*//////////////////////////////////////////////////////////////
                                 DEALS
    //////////////////////////////////////////////////////////////*/

    /// @notice Opens a deal funded from the caller's wallet (kinds Payment and OffRamp); approve `deal.amount` first.
    /// @dev Requires: not paused; `msg.sender == deal.payer`; no deal with the id; distinct non-zero parties;
    /// `amount > 0`; `now < deadline <= now + MAX_DEAL_DURATION`; a release window within bounds; an allowlisted
    /// token; an `Active` gateway whose current fee equals `deal.feeBps`; for OffRamp an `Active` acceptor as payee,
    /// under the deal's gateway, with the amount within its limits; autoRelease only for Payment; the escrow's
    /// balance must rise by exactly `amount` (a token fee makes the open revert). Emits {DealOpened}.
    /// @param deal The deal's parameters; its id is `keccak256(abi.encode(deal.payer, deal.salt))`.
    /// @param ref The platform's order reference, carried into the event.
    /// @return dealId The deal id.
    function open(Deal calldata deal, bytes32 ref) external returns (bytes32 dealId);

    /// @notice Opens a deal from the payer's wallet on the payer's EIP-712 signature ({OPEN_TYPEHASH}); anyone
    /// may submit it (the payer must have approved the escrow).
    /// @dev As {open}, with the signature checked instead of the caller. Emits {DealOpened}.
    /// @param deal The deal's parameters.
    /// @param ref The order reference.
    /// @param auth The payer's signature and its expiry.
    /// @return dealId The deal id.
    function openWithSig(
        Deal calldata deal,
        bytes32 ref,
        Authorization calldata auth
    ) external returns (bytes32 dealId);

    /// @notice Opens an on-ramp deal funded from the acceptor's (`deal.payer`) free float.
    /// @dev Requires the caller to be the acceptor or its lock delegate, kind OnRamp, an `Active` acceptor under the
    /// deal's gateway, the amount within its limits and its free float, and the checks of {open}. The delegate can
    /// lock but never release: release, cancel and withdrawal stay with the acceptor. A delegate's lock must end
    /// within `MAX_DELEGATE_LOCK_DURATION`. Worst case for a compromised delegate: it locks free float for orders
    /// to payees of its choice for up to that duration; the funds still move only on the acceptor's release, a
    /// refund, or the gateway's ruling. Emits {DealOpened}.
    /// @param deal The deal's parameters (payer = the acceptor; the id is `keccak256(abi.encode(acceptor, salt))`).
    /// @param ref The order reference.
    /// @return dealId The deal id.
    function lock(Deal calldata deal, bytes32 ref) external returns (bytes32 dealId);

    /// @notice {lock} on the acceptor's or its delegate's EIP-712 signature ({LOCK_TYPEHASH}); anyone may submit.
    /// @dev As {lock}. Emits {DealOpened}.
    /// @param deal The deal's parameters.
    /// @param ref The order reference.
    /// @param signer The acceptor or its lock delegate.
    /// @param auth The signer's signature and its expiry.
    /// @return dealId The deal id.
    function lockWithSig(
        Deal calldata deal,
        bytes32 ref,
        address signer,
        Authorization calldata auth
    ) external returns (bytes32 dealId);

    /// @notice The payee confirms "performed"; if the payer already released, the deal releases now.
    /// @dev Requires the caller to be the payee, status Open, `now <= deadline`. Emits {DealPerformed}, and
    /// {DealReleased} when the payer had released.
    /// @param deal The deal.
    function perform(Deal calldata deal) external;

    /// @notice The payer confirms "release"; the deal pays out if the payee has performed, otherwise it waits.
    /// @dev Requires the caller to be the payer, status Open (without an earlier release) or Performed.
    /// Emits {DealReleased}, or {DealReleaseApproved} when the payee has not performed yet.
    /// @param deal The deal.
    function release(Deal calldata deal) external;

    /// @notice The payee cancels: the whole amount goes back to the payer (or the acceptor's float).
    /// @dev Requires the caller to be the payee and a deal not final (Open, Performed or Disputed). Emits
    /// {DealRefunded}.
    /// @param deal The deal.
    function cancel(Deal calldata deal) external;

    /// @notice A party disputes the deal; the gateway rules within the resolution window.
    /// @dev Requires the caller to be the payer or the payee and status Performed. Emits {DealDisputed}.
    /// @param deal The deal.
    function dispute(Deal calldata deal) external;

    /// @notice The payee takes the release after the payer let the release window pass (Payment with autoRelease).
    /// @dev Requires the caller to be the payee, status Performed, `autoRelease`, and `now > since + releaseWindow`.
    /// Emits {DealReleased}.
    /// @param deal The deal.
    function claim(Deal calldata deal) external;

    /// @notice Refunds a deal whose payee never performed, once its deadline has passed. Anyone may call.
    /// @dev Requires status Open and `now > deadline`. Emits {DealRefunded}.
    /// @param deal The deal.
    function refund(Deal calldata deal) external;

    /// @notice One party's action on the party's EIP-712 signature ({ACTION_TYPEHASH}); anyone may submit.
    /// @dev The signer is the party the action belongs to: Perform, Cancel and Claim the payee, Release the payer,
    /// Dispute either (the payer's signature is tried first). Same requirements and events as the direct call.
    /// @param deal The deal.
    /// @param action The action.
    /// @param auth The party's signature and its expiry.
    function actWithSig(Deal calldata deal, Action action, Authorization calldata auth) external;

    /// @notice Settles a deal in one transaction with the payee's Perform and the payer's Release signatures.
    /// @dev Requires status Open or Performed, `now <= deadline` when still Open, and both signatures. Emits
    /// {DealReleased}.
    /// @param deal The deal.
    /// @param payeeAuth The payee's Perform signature.
    /// @param payerAuth The payer's Release signature.
    function settleWithSigs(
        Deal calldata deal,
        Authorization calldata payeeAuth,
        Authorization calldata payerAuth
    ) external;

    /// @notice Payer and payee cancel together, each by a Cancel signature; anyone may submit.
    /// @dev Requires a deal not final. Emits {DealRefunded} with reason MutualCancel.
    /// @param deal The deal.
    /// @param payerAuth The payer's Cancel signature.
    /// @param payeeAuth The payee's Cancel signature.
    function cancelWithSigs(
        Deal calldata deal,
        Authorization calldata payerAuth,
        Authorization calldata payeeAuth
    ) external;

    /// @notice Rules a disputed deal: `payeeAmount` to the payee (the gateway's fee comes out of it), the rest
    /// back to the payer.
    /// @dev The deal's gateway may rule while it is `Active` or `Exiting` and `now <= since + resolutionWindow`;
    /// after that, or when the gateway is suspended or gone, an arbiter (registry `ARBITER_ROLE`) may rule, and no
    /// fee is charged. Requires status Disputed and `payeeAmount <= amount`. Emits {DealResolved}.
    /// Worst case for the gateway or arbiter: an unfair split between the two parties; nobody else can be paid.
    /// @param deal The deal.
    /// @param payeeAmount The payee's share before the fee.
    function resolve(Deal calldata deal, uint96 payeeAmount) external;

    /*//////////////////////////////////////////////////////////////
                            FLOAT AND OWED
    //////////////////////////////////////////////////////////////*/

    /// @notice Deposits float for on-ramp orders (approve first). A token fee is accounted exactly: the float is
    /// credited with what the escrow received.
    /// @dev Requires not paused, an allowlisted token, an `Active` acceptor, `0 < amount`. Emits {FloatDeposited}.
    /// @param token The token.
    /// @param amount The amount to transfer.
    function depositFloat(address token, uint256 amount) external;

    /// @notice Withdraws free (unlocked) float to the caller. Never paused.
    /// @dev Requires `0 < amount <= free`. Emits {FloatWithdrawn}.
    /// @param token The token.
    /// @param amount The amount.
    function withdrawFloat(address token, uint256 amount) external;

    /// @notice Pays everything of `token` owed to `account` (deferred payouts, gateway fees) to `account`.
    /// Anyone may call; the funds can only go to `account`. Never paused.
    /// @dev Requires a non-zero owed balance; reverts if the token transfer fails (the balance stays owed).
    /// Emits {OwedClaimed}.
    /// @param token The token.
    /// @param account The account owed.
    function claimOwed(address token, address account) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice The registry this escrow reads gateways, acceptors, tokens, pause and roles from.
    /// @return The registry.
    function registry() external view returns (IGatewayRegistry);

    /// @notice Seconds a gateway has to rule a dispute.
    /// @return The window.
    function resolutionWindow() external view returns (uint32);

    /// @notice The id of the deal funded by `funder` with `salt`.
    /// @param funder The payer, or the acceptor whose float is locked.
    /// @param salt The salt.
    /// @return The id, `keccak256(abi.encode(funder, salt))`.
    function dealIdOf(address funder, bytes32 salt) external pure returns (bytes32);

    /// @notice The stored record of a deal.
    /// @param dealId The id.
    /// @return The record (zero when unknown).
    function getDeal(bytes32 dealId) external view returns (DealRecord memory);

    /// @notice The status of a deal.
    /// @param dealId The id.
    /// @return The status.
    function statusOf(bytes32 dealId) external view returns (DealStatus);

    /// @notice The EIP-712 struct hash of a deal (its commitment is the first 25 bytes).
    /// @param deal The deal.
    /// @return The hash.
    function hashDeal(Deal calldata deal) external pure returns (bytes32);

    /// @notice An acceptor's float in `token`.
    /// @param acceptor The acceptor.
    /// @param token The token.
    /// @return The free and locked amounts.
    function floatOf(address acceptor, address token) external view returns (Float memory);

    /// @notice What the escrow owes `account` in `token` (deferred payouts and gateway fees).
    /// @param token The token.
    /// @param account The account.
    /// @return The amount.
    function owed(address token, address account) external view returns (uint256);

    /// @notice The EIP-712 digest a party signs for `action` on `dealId`, valid until `expiry`.
    /// @param dealId The deal id.
    /// @param action The action.
    /// @param expiry The expiry.
    /// @return The digest.
    function actionDigest(bytes32 dealId, Action action, uint256 expiry) external view returns (bytes32);

    /// @notice The EIP-712 digest the payer signs for {openWithSig}.
    /// @param deal The deal.
    /// @param ref The order reference.
    /// @param expiry The expiry.
    /// @return The digest.
    function openDigest(Deal calldata deal, bytes32 ref, uint256 expiry) external view returns (bytes32);

    /// @notice The EIP-712 digest the acceptor or its delegate signs for {lockWithSig}.
    /// @param deal The deal.
    /// @param ref The order reference.
    /// @param expiry The expiry.
    /// @return The digest.
    function lockDigest(Deal calldata deal, bytes32 ref, uint256 expiry) external view returns (bytes32);
}
