// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IGatewayRegistry} from "./IGatewayRegistry.sol";

/// @title IEscrow
/// @notice Escrow of ERC-20 stablecoins (USDT first) that pays a deal's payee only when the payer and the payee
/// both confirm, or when the gateway both sides chose rules on a dispute. The rules are written out below,
/// function by function (docs/design.md §3–§4 tells them in prose).
/// @dev Storage holds one slot per deal: its status, a timestamp, two flags and a 200-bit commitment to its
/// parameters. Every call about a deal passes the full {Deal} (as emitted in {DealOpened}); the contract checks it
/// against the commitment. Finding two parameter sets with the same commitment takes about 2^100 hash evaluations.
///
/// Events are enough to rebuild every deal, float and owed balance:
///  - a deal's state from {DealOpened} and the events that follow it ({DealDisputed} says whether the gateway
///    holds the dispute);
///  - an acceptor's float from {FloatDeposited}, {FloatWithdrawn} and the deals it funded (kind `OnRamp`):
///    opening moves `amount` from free to locked; on settlement `amount` leaves locked and the payer's share
///    (refund) returns to free;
///  - owed balances from {DealReleased}, {DealResolved} and {DealSplit} (the fee accrues to the gateway),
///    {PayoutDeferred} and {OwedClaimed}.
///
/// Nobody holds a privileged role here. Governance (through the registry) can pause new deals, locks and
/// deposits, and its arbiter can rule disputes the gateway may not rule; it can never move funds otherwise, and
/// no exit (refund, cancel, settlement by both parties, claim, withdrawal of free float) ever checks the pause.
///
/// Disputes always end: while a deal is disputed the payer may still release, the payee may still cancel, and
/// both may settle, split or cancel by signatures; the gateway that holds the dispute rules within the resolution
/// window, and the arbiter otherwise.
///
/// Tokens as they really are: every payout is pushed with a bounded amount of gas ({PAYOUT_GAS}); if the push
/// fails (a paused token, a token that blacklisted the escrow, a payout that needs more gas) the amount is owed
/// to the recipient instead and the other legs still settle. USDT's blacklist stops a listed account from
/// sending, not from receiving: a listed payee still receives its payout, frozen in its wallet by the token. If a
/// token blacklists the escrow itself, every payout in it becomes owed and anything deposited would freeze on
/// arrival: governance then disallows the token in the registry at once (no new deals or float in it), the
/// audit command and the relayer's health report flag it, open deals still settle into owed balances, and owed
/// balances and free float are paid out once the token lifts the listing. A new escrow is deployed beside this
/// one for new business.
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

    /// @notice A deal's state: Open → Performed → Released, with Disputed on the way and four other ends.
    enum DealStatus {
        None,
        Open, // funded; the payee has not performed
        Performed, // the payee performed; the payer has not released
        Released, // final: paid to the payee (less the fee)
        Refunded, // final: back to the payer (deadline, cancel, or an expired delegate lock)
        Disputed, // a party disputed; awaits a ruling, a release, a cancel or an agreement
        Resolved, // final: split as ruled by the gateway or the arbiter
        Split // final: split as payer and payee agreed by signatures
    }

    /// @notice A signed action on a deal.
    enum Action {
        Perform, // payee: performed
        Release, // payer: release
        Cancel, // payee alone, or payer and payee together
        Dispute, // payer once performed; payee after the release window
        Claim // payee: release after the payer's silence (payment kind with autoRelease)
    }

    /// @notice Why a deal's funds went back to the payer.
    enum RefundReason {
        Deadline, // the deadline passed and the payee never performed
        PayeeCancel, // the payee cancelled
        MutualCancel, // payer and payee cancelled together
        LockExpired // a lock by the acceptor's delegate reached its end without a final state
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
        // bit 0 (1), while Open: the payer released before the payee performed;
        // bit 1 (2), while Disputed: the deal's gateway holds the dispute (counted in its open disputes; it rules)
        uint8 flags;
    }

    /// @notice A signature by one party, valid until `expiry` (EOA or ERC-1271 wallet). It binds the chain, this
    /// escrow, the deal, the action (and a split's or ruling's amounts) and the expiry — not the deal's state: a
    /// signature stays usable until it expires or the deal ends, whatever happens meanwhile (a Release signed before
    /// the payer disputes still releases the disputed deal). Give short expiries.
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
    /// @notice The lock that opened the deal was authorised by the acceptor's lock delegate `delegate` (emitted
    /// right after {DealOpened}; a lock without it was authorised by the acceptor).
    event DealLockedByDelegate(bytes32 indexed dealId, address indexed delegate);
    /// @notice The payee confirmed "performed".
    event DealPerformed(bytes32 indexed dealId);
    /// @notice The payer confirmed "release" before the payee performed; the deal releases when the payee does.
    event DealReleaseApproved(bytes32 indexed dealId);
    /// @notice The deal was paid out: its amount less the fee (`amount * feeBps / 10_000`, rounded down) to the
    /// payee, the fee accrued to the gateway. Both follow from {DealOpened}, so the event does not repeat them.
    event DealReleased(bytes32 indexed dealId);
    /// @notice The deal's whole amount went back to the payer (or the acceptor's free float).
    event DealRefunded(bytes32 indexed dealId, RefundReason reason);
    /// @notice `by` (payer or payee) disputed the deal; `gatewayHolds` tells whether the deal's gateway holds the
    /// dispute (and rules it within the resolution window) or the arbiter rules it.
    event DealDisputed(bytes32 indexed dealId, address indexed by, bool gatewayHolds);
    /// @notice `by` (the gateway, or the arbiter) split the deal: the payee's share less the fee went to the
    /// payee (`payeeAmount`, net), `fee` to the gateway, `refund` to the payer; `reasons` is the hash of the
    /// written reasons (zero when none were given).
    event DealResolved(
        bytes32 indexed dealId,
        address indexed by,
        uint96 payeeAmount,
        uint96 fee,
        uint96 refund,
        bytes32 reasons
    );
    /// @notice Payer and payee split the deal by agreement: the payee's share less the fee went to the payee
    /// (`payeeAmount`, net), `fee` to the gateway, `refund` to the payer (or the acceptor's float).
    event DealSplit(bytes32 indexed dealId, uint96 payeeAmount, uint96 fee, uint96 refund);
    /// @notice `by` (a party, the deal's gateway or an arbiter) anchored evidence: a content hash and where the
    /// file lives. Nothing else changes.
    event EvidencePosted(bytes32 indexed dealId, address indexed by, bytes32 contentHash, string uri);
    /// @notice A push of `amount` to `account` failed (paused token, blacklisted escrow, out of its gas); it is
    /// owed instead.
    event PayoutDeferred(bytes32 indexed dealId, address indexed token, address indexed account, uint96 amount);
    /// @notice `amount` owed to `account` was paid out.
    event OwedClaimed(address indexed token, address indexed account, uint256 amount);
    /// @notice An acceptor deposited float; `amount` is what the escrow received.
    event FloatDeposited(address indexed acceptor, address indexed token, uint256 amount);
    /// @notice An acceptor withdrew free float.
    event FloatWithdrawn(address indexed acceptor, address indexed token, uint256 amount);
    /// @notice The registry refused to count (`opened`) or uncount a dispute of `gateway` (for example after
    /// governance revoked this escrow's `ESCROW_ROLE`); the deal went on without it. A dispute that could not be
    /// counted goes to the arbiter.
    event DisputeCountSkipped(bytes32 indexed dealId, address indexed gateway, bool opened);

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
    /// @notice The release window is outside its bounds (for a delegate's lock, `MAX_DELEGATE_RELEASE_WINDOW`).
    error EscrowInvalidReleaseWindow(uint32 releaseWindow);
    /// @notice The salt's first 12 bytes are `DELEGATE_SALT_PREFIX` where they must not be (any open or lock but a
    /// delegate's), or are not where they must be (a delegate's lock).
    error EscrowInvalidSalt(bytes32 salt);
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
    /// @notice The payer's release window ended at `endsAt` (an autoRelease payment: the payee may claim).
    error EscrowReleaseWindowClosed(bytes32 dealId, uint256 endsAt);
    /// @notice The deal is not a payment with autoRelease.
    error EscrowNotAutoRelease(bytes32 dealId);
    /// @notice The delegate's lock runs until `expiresAt`.
    error EscrowLockNotExpired(bytes32 dealId, uint256 expiresAt);
    /// @notice The gateway's resolution window ended at `endsAt`.
    error EscrowResolutionWindowClosed(bytes32 dealId, uint256 endsAt);
    /// @notice The gateway holds the dispute and its resolution window runs until `endsAt`.
    error EscrowResolutionWindowOpen(bytes32 dealId, uint256 endsAt);
    /// @notice The split gives the payee `payeeAmount`, more than the deal's `amount`.
    error EscrowPayeeAmountTooHigh(bytes32 dealId, uint96 payeeAmount, uint96 amount);
    /// @notice The signature expired at `expiry`.
    error EscrowSignatureExpired(uint256 expiry);
    /// @notice The signature is not `signer`'s.
    error EscrowInvalidSignature(bytes32 dealId, address signer);
    /// @notice Nothing of `token` is owed to `account`.
    error EscrowNothingOwed(address token, address account);
    /// @notice The amount is zero or exceeds what can be held.
    error EscrowInvalidAmount(uint256 amount);
    /// @notice `available` gas is left where a bounded call needs `required`: the transaction's gas limit is too
    /// low (no caller can starve a payout or a registry hook into failing).
    error EscrowInsufficientGas(uint256 available, uint256 required);
    /// @notice The registry given at deployment is not a contract.
    error EscrowInvalidRegistry(address registry);
    /// @notice The resolution window given at deployment is outside its bounds, or leaves less than 7 days
    /// between its end and the registry's floor of the unbonding delay (no time to slash a leaving gateway).
    error EscrowInvalidResolutionWindow(uint32 resolutionWindow);

    /*//////////////////////////////////////////////////////////////
                              OPEN AND LOCK
    //////////////////////////////////////////////////////////////*/

    /// @notice Opens a deal funded from the caller's wallet (kinds Payment and OffRamp); approve `deal.amount` first.
    /// @dev Requirements:
    ///  - not paused; an allowlisted token; an `Active` gateway in good standing whose current fee is `deal.feeBps`;
    ///  - `msg.sender == deal.payer`; no deal with the id; a salt without `DELEGATE_SALT_PREFIX`;
    ///  - distinct non-zero parties; `amount > 0`; `now < deadline <= now + MAX_DEAL_DURATION`; a release window in
    ///    `[MIN_RELEASE_WINDOW, MAX_RELEASE_WINDOW]`; autoRelease only for Payment;
    ///  - for OffRamp: an `Active` acceptor as payee, under the deal's gateway, with the amount within its limits;
    ///  - the escrow's balance rises by exactly `amount` (a token fee makes the open revert).
    /// Emits {DealOpened}.
    /// @param deal The deal's parameters; its id is `keccak256(abi.encode(deal.payer, deal.salt))`.
    /// @param ref The platform's order reference, carried into the event.
    /// @return dealId The deal id.
    function open(Deal calldata deal, bytes32 ref) external returns (bytes32 dealId);

    /// @notice {open} on the payer's EIP-712 signature ({OPEN_TYPEHASH}); anyone may submit it (the payer must have
    /// approved the escrow).
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
    /// @dev Requirements: the checks of {open}; kind OnRamp; an `Active` acceptor under the deal's gateway, the
    /// amount within its limits and its free float; the caller is the acceptor (salt without
    /// `DELEGATE_SALT_PREFIX`) or its lock delegate (salt with it, so a delegate can never take an id the acceptor
    /// planned). Emits {DealOpened}, and {DealLockedByDelegate} for a delegate's lock.
    ///
    /// A delegate can lock but never release: release, cancel and withdrawal stay with the acceptor. Its lock is
    /// bounded end to end: `deadline <= now + MAX_DELEGATE_LOCK_DURATION` (7 days) and
    /// `releaseWindow <= MAX_DELEGATE_RELEASE_WINDOW` (2 days); once `deadline + releaseWindow + resolutionWindow`
    /// has passed ({lockExpiry}) anyone may return a deal that is still not final to the acceptor's free float
    /// ({refund}, reason LockExpired) — for a disputed deal, once its resolution window has also ended, so that
    /// whoever rules it always has its whole window. A dispute can start at the latest at the expiry (after it the
    /// refund is open to anyone), so float a delegate locked is back, paid out with the acceptor's consent, or
    /// ruled within `MAX_DELEGATE_LOCK_DURATION + MAX_DELEGATE_RELEASE_WINDOW + 2 * resolutionWindow` of the lock.
    /// Worst case for a compromised delegate: it locks free float for orders to payees of its choice for that
    /// long; the funds still move only on the acceptor's release or agreement, a refund, or a ruling. The buyer of
    /// a delegate's lock must perform before the deadline and, if the acceptor stays silent, dispute before the
    /// expiry; a dispute nobody rules in time ends with the float returned.
    /// @param deal The deal's parameters (payer = the acceptor; the id is `keccak256(abi.encode(acceptor, salt))`).
    /// @param ref The order reference.
    /// @return dealId The deal id.
    function lock(Deal calldata deal, bytes32 ref) external returns (bytes32 dealId);

    /// @notice {lock} on the acceptor's or its delegate's EIP-712 signature ({LOCK_TYPEHASH}); anyone may submit.
    /// @dev As {lock}, with `signer` in the caller's place. Emits {DealOpened} (and {DealLockedByDelegate}).
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

    /*//////////////////////////////////////////////////////////////
                             PARTY ACTIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice The payee confirms "performed"; if the payer already released, the deal releases now.
    /// @dev Requires the caller to be the payee, status Open, `now <= deadline`. Emits {DealPerformed}, and
    /// {DealReleased} when the payer had released.
    /// @param deal The deal.
    function perform(Deal calldata deal) external;

    /// @notice The payer confirms "release"; the deal pays out if the payee has performed (or the deal is
    /// disputed), otherwise it waits for the payee.
    /// @dev Requires the caller to be the payer, status Open (without an earlier release), Performed or Disputed.
    /// A release ends a dispute (the payer gives in): the payee gets the amount less the fee, as for any release.
    /// Emits {DealReleased}, or {DealReleaseApproved} when the payee has not performed yet.
    /// @param deal The deal.
    function release(Deal calldata deal) external;

    /// @notice The payee cancels: the whole amount goes back to the payer (or the acceptor's float).
    /// @dev Requires the caller to be the payee and a deal not final (Open, Performed or Disputed). Emits
    /// {DealRefunded}.
    /// @param deal The deal.
    function cancel(Deal calldata deal) external;

    /// @notice A party disputes a performed deal; the gateway that holds it rules within the resolution window,
    /// the arbiter otherwise.
    /// @dev Requires status Performed and:
    ///  - the payer: any time, but for a payment with autoRelease only while its release window runs
    ///    (`now <= since + releaseWindow`): after it the payee's {claim} decides, so the two never race;
    ///  - the payee: only once the payer stayed silent for the release window (`now > since + releaseWindow`), so
    ///    the payer first gets the chance to check and release.
    /// The deal's gateway holds the dispute if it is `Active` and in good standing now (registry
    /// `noteDisputeOpened`); a dispute raised while it is exiting or suspended goes to the arbiter. Emits
    /// {DealDisputed}.
    /// @param deal The deal.
    function dispute(Deal calldata deal) external;

    /// @notice The payee takes the release after the payer let the release window pass (Payment with autoRelease).
    /// @dev Requires the caller to be the payee, status Performed, `autoRelease`, and `now > since + releaseWindow`.
    /// Emits {DealReleased}.
    /// @param deal The deal.
    function claim(Deal calldata deal) external;

    /// @notice Returns a deal's whole amount to the payer (or the acceptor's float) when nobody acted in time.
    /// Anyone may call.
    /// @dev Requires either status Open and `now > deadline` (reason Deadline), or a delegate's lock that is
    /// Performed with `now > lockExpiry(deal)`, or Disputed with `now` past both `lockExpiry(deal)` and the end of
    /// its resolution window (reason LockExpired; a dispute the gateway held is uncounted). Emits {DealRefunded}.
    /// @param deal The deal.
    function refund(Deal calldata deal) external;

    /// @notice One party's action on the party's EIP-712 signature ({ACTION_TYPEHASH}); anyone may submit.
    /// @dev `signer` must be the party the action belongs to: the payee for Perform, Cancel and Claim, the payer
    /// for Release, the payer or the payee for Dispute (else {EscrowUnauthorized}, before any signature check).
    /// Same requirements and events as the direct call.
    /// @param deal The deal.
    /// @param action The action.
    /// @param signer The party who signed.
    /// @param auth The party's signature and its expiry.
    function actWithSig(Deal calldata deal, Action action, address signer, Authorization calldata auth) external;

    /// @notice Releases a deal in one transaction with the payee's Perform and the payer's Release signatures.
    /// @dev Requires status Open (then `now <= deadline`), Performed or Disputed, and both signatures. Emits
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

    /// @notice Payer and payee settle on a split both signed ({SPLIT_TYPEHASH}): `payeeAmount` to the payee (the
    /// gateway's fee comes out of it), the rest back to the payer (or the acceptor's float). Underpaid fiat, a
    /// partial delivery or a merchant's partial refund end this way without a ruling. Anyone may submit.
    /// @dev Requires a deal not final (Open, even past its deadline, Performed or Disputed), `payeeAmount <=
    /// amount`, and both signatures over this split. Emits {DealSplit}. A signed split is an offer that stays open
    /// until its expiry (there is no nonce to withdraw it): sign short expiries. Past the deadline of a deal the
    /// payee never performed, anyone may {refund} it first.
    /// @param deal The deal.
    /// @param payeeAmount The payee's share before the fee.
    /// @param payerAuth The payer's signature.
    /// @param payeeAuth The payee's signature.
    function splitWithSigs(
        Deal calldata deal,
        uint96 payeeAmount,
        Authorization calldata payerAuth,
        Authorization calldata payeeAuth
    ) external;

    /*//////////////////////////////////////////////////////////////
                           RULINGS AND EVIDENCE
    //////////////////////////////////////////////////////////////*/

    /// @notice Rules a disputed deal: `payeeAmount` to the payee (the gateway's fee comes out of it), the rest
    /// back to the payer.
    /// @dev Requires status Disputed and `payeeAmount <= amount`. The deal's gateway may rule a dispute it holds
    /// while it is in good standing (registry `canRule`) and `now <= since + resolutionWindow`; an arbiter
    /// (registry `ARBITER_ROLE`) may rule any other time (a dispute the gateway does not hold, a suspended or gone
    /// gateway, the window over), and charges no fee. Emits {DealResolved}.
    /// Worst case for the gateway or arbiter: an unfair split between the two parties; nobody else can be paid.
    /// @param deal The deal.
    /// @param payeeAmount The payee's share before the fee.
    /// @param reasons The hash of the written reasons (zero for none), carried into the event.
    function resolve(Deal calldata deal, uint96 payeeAmount, bytes32 reasons) external;

    /// @notice {resolve} on the gateway's or the arbiter's EIP-712 signature ({RESOLUTION_TYPEHASH}); anyone may
    /// submit it.
    /// @dev As {resolve}, with `signer` in the caller's place. Emits {DealResolved}.
    /// @param deal The deal.
    /// @param payeeAmount The payee's share before the fee.
    /// @param reasons The hash of the written reasons.
    /// @param signer The gateway or an arbiter.
    /// @param auth The signer's signature and its expiry.
    function resolveWithSig(
        Deal calldata deal,
        uint96 payeeAmount,
        bytes32 reasons,
        address signer,
        Authorization calldata auth
    ) external;

    /// @notice Anchors evidence for a deal: the hash of a file and where it lives (in the spirit of ERC-1497).
    /// @dev Requires a deal not final and the caller to be its payer, payee or gateway, or an arbiter. Moves no
    /// money and changes no state. Emits {EvidencePosted}.
    /// @param deal The deal.
    /// @param contentHash The hash of the file's content.
    /// @param uri Where the file can be fetched.
    function postEvidence(Deal calldata deal, bytes32 contentHash, string calldata uri) external;

    /// @notice {postEvidence} on the poster's EIP-712 signature ({EVIDENCE_TYPEHASH}); anyone may submit it.
    /// @dev As {postEvidence}, with `signer` in the caller's place. Emits {EvidencePosted}.
    /// @param deal The deal.
    /// @param contentHash The hash of the file's content.
    /// @param uri Where the file can be fetched.
    /// @param signer The poster.
    /// @param auth The poster's signature and its expiry.
    function postEvidenceWithSig(
        Deal calldata deal,
        bytes32 contentHash,
        string calldata uri,
        address signer,
        Authorization calldata auth
    ) external;

    /*//////////////////////////////////////////////////////////////
                            FLOAT AND OWED
    //////////////////////////////////////////////////////////////*/

    /// @notice Deposits float for on-ramp orders (approve first). A token fee is accounted exactly: the float is
    /// credited with what the escrow received.
    /// @dev Requires not paused, an allowlisted token, an `Active` acceptor whose gateway is `Active` and in good
    /// standing, `0 < amount <= type(uint96).max`. Emits {FloatDeposited}.
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
    /// @dev Requires a non-zero owed balance; reverts if the token transfer fails (the balance stays owed). The
    /// transfer gets all the gas the caller gives it. Emits {OwedClaimed}.
    /// @param token The token.
    /// @param account The account owed.
    function claimOwed(address token, address account) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice The registry this escrow reads gateways, acceptors, tokens, pause and roles from.
    /// @return The registry.
    function registry() external view returns (IGatewayRegistry);

    /// @notice Seconds a gateway has to rule a dispute it holds.
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

    /// @notice The EIP-712 struct hash of a deal (its commitment is the first 25 bytes).
    /// @param deal The deal.
    /// @return The hash.
    function hashDeal(Deal calldata deal) external pure returns (bytes32);

    /// @notice When a delegate's lock may be returned to the float: `deadline + releaseWindow + resolutionWindow`.
    /// @param deal The deal (its salt says whether a delegate locked it).
    /// @return The time after which {refund} applies, or 0 when the deal is not a delegate's lock.
    function lockExpiry(Deal calldata deal) external view returns (uint256);

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

    /// @notice The EIP-712 digest of `structHash` under this escrow's domain: what a signer signs for any of the
    /// escrow's typed messages (the struct hashes are documented with each typehash).
    /// @param structHash The EIP-712 struct hash.
    /// @return The digest.
    function hashTypedData(bytes32 structHash) external view returns (bytes32);
}
