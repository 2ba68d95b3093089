// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title TestUSDT
/// @notice Test double of mainnet Tether USD (TetherToken): 6 decimals; `transfer`, `transferFrom` and
/// `approve` return nothing; `approve` from a non-zero to a non-zero allowance reverts; an owner-controlled
/// blacklist; owner pause; a dormant transfer fee the owner can switch on. Test use only.
/// @dev Deliberately implements no interface: the missing `bool` return values are the point. Differences
/// from mainnet, all chosen by the project: custom errors instead of `require`; the blacklist also blocks the
/// recipient and the spender; `setParams` takes `newMaxFee` in base units (mainnet takes whole tokens and
/// multiplies by 10**6, with the same effective cap of < 50 USDT); `mint` exists for test convenience;
/// `transferOwnership` rejects the zero address and emits an event.
contract TestUSDT {
    /*//////////////////////////////////////////////////////////////
                                CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Token name, as on mainnet.
    // solhint-disable-next-line const-name-snakecase
    string public constant name = "Tether USD";

    /// @notice Token symbol, as on mainnet.
    // solhint-disable-next-line const-name-snakecase
    string public constant symbol = "USDT";

    /// @notice Token decimals, as on mainnet.
    // solhint-disable-next-line const-name-snakecase
    uint8 public constant decimals = 6;

    /// @notice Exclusive upper bound of `basisPointsRate` (mainnet: `newBasisPoints < 20`).
    uint256 public constant MAX_BASIS_POINTS_RATE = 20;

    /// @notice Exclusive upper bound of `maximumFee` in base units (mainnet: `newMaxFee < 50` whole tokens).
    uint256 public constant MAX_MAXIMUM_FEE = 50 * 10 ** 6;

    uint256 private constant BASIS_POINTS_DENOMINATOR = 10_000;

    /*//////////////////////////////////////////////////////////////
                                 STORAGE
    //////////////////////////////////////////////////////////////*/

    // slot 0: 160 + 8 + 16 + 64 = 248 bits
    address private _owner;
    bool private _paused;
    uint16 private _basisPointsRate;
    uint64 private _maximumFee;

    // slot 1
    uint256 private _totalSupply;

    mapping(address account => uint256 balance) private _balances;
    mapping(address account => mapping(address spender => uint256 allowance)) private _allowances;
    mapping(address account => bool listed) private _blackListed;

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Emitted when `value` base units move from `from` to `to` (a fee is a separate event to the owner).
    /// @param from Account debited (zero for a mint).
    /// @param to Account credited (zero for a burn).
    /// @param value Amount credited.
    event Transfer(address indexed from, address indexed to, uint256 value);

    /// @notice Emitted when `owner` sets the allowance of `spender` to `value`.
    /// @param owner Holder.
    /// @param spender Spender.
    /// @param value New allowance.
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// @notice Emitted when `user` is put on the blacklist.
    /// @param user Listed account.
    event AddedBlackList(address user);

    /// @notice Emitted when `user` is taken off the blacklist.
    /// @param user Unlisted account.
    event RemovedBlackList(address user);

    /// @notice Emitted when the balance of a blacklisted `blackListedUser` is burnt.
    /// @param blackListedUser Listed account.
    /// @param balance Amount burnt.
    event DestroyedBlackFunds(address blackListedUser, uint256 balance);

    /// @notice Emitted when the owner issues `amount` new tokens to itself.
    /// @param amount Base units minted.
    event Issue(uint256 amount);

    /// @notice Emitted when the owner redeems (burns) `amount` of its own tokens.
    /// @param amount Base units burnt.
    event Redeem(uint256 amount);

    /// @notice Emitted when the fee parameters change; `maxFee` is in base units.
    /// @param feeBasisPoints New rate.
    /// @param maxFee New cap in base units.
    event Params(uint256 feeBasisPoints, uint256 maxFee);

    /// @notice Emitted when transfers are paused.
    event Pause();

    /// @notice Emitted when transfers are unpaused.
    event Unpause();

    /// @notice Emitted when ownership moves from `previousOwner` to `newOwner`.
    /// @param previousOwner Old owner.
    /// @param newOwner New owner.
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice `caller` is not the owner.
    error TestUSDTNotOwner(address caller);

    /// @notice The new owner is the zero address.
    error TestUSDTInvalidOwner(address newOwner);

    /// @notice Transfers are paused (also raised by `pause` when already paused).
    error TestUSDTPaused();

    /// @notice Transfers are not paused (raised by `unpause`).
    error TestUSDTNotPaused();

    /// @notice `account` (sender, recipient or spender) is blacklisted.
    error TestUSDTBlacklisted(address account);

    /// @notice `account` is not blacklisted (raised by `destroyBlackFunds`).
    error TestUSDTNotBlacklisted(address account);

    /// @notice Changing a non-zero allowance `current` of `spender` to another non-zero value.
    error TestUSDTApproveNonZero(address owner, address spender, uint256 current);

    /// @notice `account` holds `have` but `need` is required.
    error TestUSDTInsufficientBalance(address account, uint256 have, uint256 need);

    /// @notice `spender` may spend `have` but `need` is required.
    error TestUSDTInsufficientAllowance(address spender, uint256 have, uint256 need);

    /// @notice Fee parameters out of bounds (`basisPoints` < 20 and `maxFee` < 50e6 are required).
    error TestUSDTInvalidParams(uint256 basisPoints, uint256 maxFee);

    /*//////////////////////////////////////////////////////////////
                                MODIFIERS
    //////////////////////////////////////////////////////////////*/

    modifier onlyOwner() {
        if (msg.sender != _owner) revert TestUSDTNotOwner(msg.sender);
        _;
    }

    modifier whenNotPaused() {
        if (_paused) revert TestUSDTPaused();
        _;
    }

    /// @notice Makes the deployer the owner; the supply starts at zero.
    constructor() {
        _owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    /*//////////////////////////////////////////////////////////////
                              ERC-20 (USDT)
    //////////////////////////////////////////////////////////////*/

    /// @notice Moves `value` from the caller to `to`; `to` receives `value` minus the fee. Returns nothing.
    /// @dev Reverts when paused or when the caller or `to` is blacklisted.
    /// @param to Recipient.
    /// @param value Amount debited from the caller, fee included.
    function transfer(address to, uint256 value) external whenNotPaused {
        _notBlackListed(msg.sender);
        _notBlackListed(to);
        _move(msg.sender, to, value);
    }

    /// @notice Moves `value` from `from` to `to` using the caller's allowance. Returns nothing.
    /// @dev Reverts when paused or when the caller, `from` or `to` is blacklisted. An allowance of
    /// `type(uint256).max` is never decreased. The allowance drops by the full `value`, fee included.
    /// @param from Account debited.
    /// @param to Recipient.
    /// @param value Amount debited from `from`, fee included.
    function transferFrom(address from, address to, uint256 value) external whenNotPaused {
        _notBlackListed(msg.sender);
        _notBlackListed(from);
        _notBlackListed(to);

        uint256 current = _allowances[from][msg.sender];
        if (current < value) revert TestUSDTInsufficientAllowance(msg.sender, current, value);
        if (current != type(uint256).max) {
            unchecked {
                _allowances[from][msg.sender] = current - value;
            }
        }
        _move(from, to, value);
    }

    /// @notice Sets the caller's allowance for `spender` to `value`. Returns nothing.
    /// @dev Reverts when both `value` and the current allowance are non-zero: reset to zero first.
    /// Works while paused and for blacklisted accounts, as on mainnet.
    /// @param spender Account allowed to spend.
    /// @param value New allowance.
    function approve(address spender, uint256 value) external {
        uint256 current = _allowances[msg.sender][spender];
        if (value != 0 && current != 0) revert TestUSDTApproveNonZero(msg.sender, spender, current);
        _allowances[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    /// @notice Balance of `account` in base units.
    /// @param account Holder.
    /// @return The balance.
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @notice Remaining amount `spender` may move from `account`.
    /// @param account Holder.
    /// @param spender Spender.
    /// @return The allowance.
    function allowance(address account, address spender) external view returns (uint256) {
        return _allowances[account][spender];
    }

    /// @notice Total supply in base units.
    /// @return The total supply.
    function totalSupply() external view returns (uint256) {
        return _totalSupply;
    }

    /*//////////////////////////////////////////////////////////////
                                 OWNER
    //////////////////////////////////////////////////////////////*/

    /// @notice Current owner.
    /// @return The owner.
    function owner() external view returns (address) {
        return _owner;
    }

    /// @notice Hands ownership (and future fees) to `newOwner`. Owner only.
    /// @param newOwner New owner; not the zero address.
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert TestUSDTInvalidOwner(newOwner);
        address previous = _owner;
        _owner = newOwner;
        emit OwnershipTransferred(previous, newOwner);
    }

    /// @notice Mints `amount` to the owner, like mainnet `issue`. Owner only.
    /// @param amount Base units to mint.
    function issue(uint256 amount) external onlyOwner {
        address account = _owner;
        _totalSupply += amount;
        _balances[account] += amount;
        emit Issue(amount);
        emit Transfer(address(0), account, amount);
    }

    /// @notice Burns `amount` of the owner's balance, like mainnet `redeem`. Owner only.
    /// @param amount Base units to burn.
    function redeem(uint256 amount) external onlyOwner {
        address account = _owner;
        uint256 balance = _balances[account];
        if (balance < amount) revert TestUSDTInsufficientBalance(account, balance, amount);
        unchecked {
            _balances[account] = balance - amount;
            _totalSupply -= amount;
        }
        emit Redeem(amount);
        emit Transfer(account, address(0), amount);
    }

    /// @notice Test convenience: mints `amount` to `to`. Owner only.
    /// @param to Recipient.
    /// @param amount Base units to mint.
    function mint(address to, uint256 amount) external onlyOwner {
        _totalSupply += amount;
        _balances[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Blacklists `account`: it can no longer send, receive or spend. Owner only.
    /// @param account Account to list.
    function addBlackList(address account) external onlyOwner {
        _blackListed[account] = true;
        emit AddedBlackList(account);
    }

    /// @notice Takes `account` off the blacklist. Owner only.
    /// @param account Account to unlist.
    function removeBlackList(address account) external onlyOwner {
        _blackListed[account] = false;
        emit RemovedBlackList(account);
    }

    /// @notice Whether `account` is blacklisted.
    /// @param account Account to check.
    /// @return Whether it is listed.
    function isBlackListed(address account) external view returns (bool) {
        return _blackListed[account];
    }

    /// @notice Burns the whole balance of blacklisted `account`, like mainnet. Owner only.
    /// @param account A blacklisted account.
    function destroyBlackFunds(address account) external onlyOwner {
        if (!_blackListed[account]) revert TestUSDTNotBlacklisted(account);
        uint256 balance = _balances[account];
        _balances[account] = 0;
        unchecked {
            _totalSupply -= balance;
        }
        emit DestroyedBlackFunds(account, balance);
        emit Transfer(account, address(0), balance);
    }

    /// @notice Stops `transfer` and `transferFrom`. Owner only; reverts if already paused.
    function pause() external onlyOwner whenNotPaused {
        _paused = true;
        emit Pause();
    }

    /// @notice Resumes transfers. Owner only; reverts if not paused.
    function unpause() external onlyOwner {
        if (!_paused) revert TestUSDTNotPaused();
        _paused = false;
        emit Unpause();
    }

    /// @notice Whether transfers are paused.
    /// @return Whether paused.
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @notice Sets the transfer fee: `newBasisPoints` (< 20) of each transfer, capped at `newMaxFee` base units
    /// (< 50e6). Owner only.
    /// @param newBasisPoints Fee rate in basis points, < 20.
    /// @param newMaxFee Fee cap in base units, < 50e6.
    function setParams(uint256 newBasisPoints, uint256 newMaxFee) external onlyOwner {
        if (newBasisPoints >= MAX_BASIS_POINTS_RATE || newMaxFee >= MAX_MAXIMUM_FEE) {
            revert TestUSDTInvalidParams(newBasisPoints, newMaxFee);
        }
        // Both fit: < 20 in uint16, < 50e6 in uint64.
        _basisPointsRate = uint16(newBasisPoints);
        _maximumFee = uint64(newMaxFee);
        emit Params(newBasisPoints, newMaxFee);
    }

    /// @notice Fee rate in basis points (0 by default).
    /// @return The rate.
    function basisPointsRate() external view returns (uint256) {
        return _basisPointsRate;
    }

    /// @notice Fee cap per transfer in base units.
    /// @return The cap.
    function maximumFee() external view returns (uint256) {
        return _maximumFee;
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    function _notBlackListed(address account) private view {
        if (_blackListed[account]) revert TestUSDTBlacklisted(account);
    }

    /// @dev Debits `value` from `from`; credits `value - fee` to `to` and `fee` to the owner. As on mainnet,
    /// the fee's Transfer event comes first.
    function _move(address from, address to, uint256 value) private {
        uint256 balance = _balances[from];
        if (balance < value) revert TestUSDTInsufficientBalance(from, balance, value);

        // One SLOAD for owner + fee parameters.
        address feeRecipient = _owner;
        uint256 fee = (value * _basisPointsRate) / BASIS_POINTS_DENOMINATOR;
        uint256 maxFee = _maximumFee;
        if (fee > maxFee) fee = maxFee;

        uint256 sendAmount;
        unchecked {
            _balances[from] = balance - value;
            sendAmount = value - fee;
        }
        _balances[to] += sendAmount;
        if (fee > 0) {
            _balances[feeRecipient] += fee;
            emit Transfer(from, feeRecipient, fee);
        }
        emit Transfer(from, to, sendAmount);
    }
}
