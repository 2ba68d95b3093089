// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// Mainnet Tether (solc 0.4.17) reverts with no data at all, so the bare `require`s below are the point.
// solhint-disable gas-custom-errors

import {IUpgradedStandardToken} from "./TestUSDTUpgraded.sol";

/// @title TestUSDT
/// @notice Test double of mainnet Tether USD (TetherToken at 0xdAC17F958D2ee523a2206206994597C13D831ec7,
/// solc 0.4.17). Test use only.
/// @dev Behaves like mainnet: `transfer`, `transferFrom` and `approve` return nothing; every `require` reverts with
/// empty data; SafeMath failures (balance or allowance too small, overflow) hit the INVALID opcode and burn all the
/// gas the call was given, as 0.4.17's `assert` did; the blacklist stops only the sender (`msg.sender` in
/// `transfer`, `from` in `transferFrom`), never the recipient or the spender; the fee is paid to the owner and its
/// Transfer event comes first; `setParams` takes the cap in whole tokens; `issue`, `redeem` and
/// `destroyBlackFunds` emit no Transfer; `transferOwnership(0)` is a silent no-op; `deprecate` forwards every ERC-20
/// call to the successor. Storage slots 0-6 are mainnet's (owner+paused, _totalSupply, balances, basisPointsRate,
/// maximumFee, allowed, isBlackListed).
/// Deviations, all chosen by the project: (1) a no-argument constructor (owner = deployer, zero supply) where
/// mainnet takes the initial supply, name, symbol and decimals; so name, symbol and decimals are constants and
/// upgradedAddress+deprecated sit in slot 7 (mainnet: slot 10). (2) `mint` exists for test convenience: `issue`
/// followed by a fee-free, unchecked move from the owner to `to`. (3) 0.8's ABI decoder already rejects short
/// calldata and dirty address bits (empty revert), where 0.4.17 zero-padded short calldata and cleaned addresses;
/// `onlyPayloadSize` is kept as on mainnet, so short calldata reverts without data either way. (4) A failing
/// successor's revert data is dropped (empty revert), as 0.4.17 could not forward it.
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

    /// @notice Token decimals, as on mainnet (a `uint256` there too).
    // solhint-disable-next-line const-name-snakecase
    uint256 public constant decimals = 6;

    /// @notice An allowance of this value is never decreased by `transferFrom`.
    uint256 public constant MAX_UINT = type(uint256).max;

    /*//////////////////////////////////////////////////////////////
                         STORAGE (mainnet's slots)
    //////////////////////////////////////////////////////////////*/

    /// @notice The owner: may issue, redeem, pause, blacklist, set the fee and deprecate; receives the fee.
    address public owner; // slot 0

    /// @notice Whether `transfer` and `transferFrom` are paused.
    bool public paused; // slot 0

    /// @notice Total supply of this contract (mainnet's public `_totalSupply`; ignores `deprecated`).
    // solhint-disable-next-line var-name-mixedcase
    uint256 public _totalSupply; // slot 1

    /// @notice Balances in base units (ignores `deprecated`).
    mapping(address account => uint256 balance) public balances; // slot 2

    /// @notice Fee rate in basis points.
    uint256 public basisPointsRate; // slot 3

    /// @notice Fee cap per transfer in base units.
    uint256 public maximumFee; // slot 4

    /// @notice Allowances: `allowed[holder][spender]` (ignores `deprecated`).
    mapping(address holder => mapping(address spender => uint256 value)) public allowed; // slot 5

    /// @notice Whether an account is blacklisted (it can no longer send).
    mapping(address account => bool listed) public isBlackListed; // slot 6

    /// @notice The successor every ERC-20 call is forwarded to once `deprecated`.
    address public upgradedAddress; // slot 7

    /// @notice Whether the token is deprecated in favour of `upgradedAddress`.
    bool public deprecated; // slot 7

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Emitted when `value` base units move from `from` to `to` (a fee is a separate event to the owner).
    /// @param from Account debited.
    /// @param to Account credited.
    /// @param value Amount credited.
    event Transfer(address indexed from, address indexed to, uint256 value);

    /// @notice Emitted when `holder` sets the allowance of `spender` to `value`.
    /// @param holder Holder.
    /// @param spender Spender.
    /// @param value New allowance.
    event Approval(address indexed holder, address indexed spender, uint256 value);

    /// @notice Emitted when `user` is put on the blacklist.
    /// @param user Listed account.
    event AddedBlackList(address user);

    /// @notice Emitted when `user` is taken off the blacklist.
    /// @param user Unlisted account.
    event RemovedBlackList(address user);

    /// @notice Emitted when the balance of a blacklisted `blackListedUser` is destroyed.
    /// @param blackListedUser Listed account.
    /// @param balance Amount destroyed.
    event DestroyedBlackFunds(address blackListedUser, uint256 balance);

    /// @notice Emitted when the owner issues `amount` new tokens to itself.
    /// @param amount Base units issued.
    event Issue(uint256 amount);

    /// @notice Emitted when the owner redeems (burns) `amount` of its own tokens.
    /// @param amount Base units redeemed.
    event Redeem(uint256 amount);

    /// @notice Emitted when the token is deprecated in favour of `newAddress`.
    /// @param newAddress The successor.
    event Deprecate(address newAddress);

    /// @notice Emitted when the fee parameters change; `maxFee` is in base units.
    /// @param feeBasisPoints New rate.
    /// @param maxFee New cap in base units.
    event Params(uint256 feeBasisPoints, uint256 maxFee);

    /// @notice Emitted when transfers are paused.
    event Pause();

    /// @notice Emitted when transfers are unpaused.
    event Unpause();

    /*//////////////////////////////////////////////////////////////
                                MODIFIERS
    //////////////////////////////////////////////////////////////*/

    modifier onlyOwner() {
        require(msg.sender == owner);
        _;
    }

    modifier whenNotPaused() {
        require(!paused);
        _;
    }

    modifier whenPaused() {
        require(paused);
        _;
    }

    /// @dev Mainnet's short-address guard: the calldata must hold `size` bytes of arguments.
    modifier onlyPayloadSize(uint256 size) {
        require(!(msg.data.length < size + 4));
        _;
    }

    /// @notice Makes the deployer the owner; the supply starts at zero (deviation: mainnet takes the initial supply,
    /// name, symbol and decimals).
    constructor() {
        owner = msg.sender;
    }

    /*//////////////////////////////////////////////////////////////
                              ERC-20 (USDT)
    //////////////////////////////////////////////////////////////*/

    /// @notice Moves `value` from the caller to `to`; `to` receives `value` minus the fee. Returns nothing.
    /// @dev Reverts (empty) when paused or when the caller is blacklisted; the recipient is not checked. Burns all
    /// gas when the balance is too small. Once deprecated, forwarded to `transferByLegacy` after those checks.
    /// @param to Recipient.
    /// @param value Amount debited from the caller, fee included.
    function transfer(address to, uint256 value) external whenNotPaused {
        require(!isBlackListed[msg.sender]);
        if (deprecated) {
            try IUpgradedStandardToken(upgradedAddress).transferByLegacy(msg.sender, to, value) {} catch {
                revert();
            }
        } else {
            _transfer(to, value);
        }
    }

    /// @notice Moves `value` from `from` to `to` using the caller's allowance. Returns nothing.
    /// @dev Reverts (empty) when paused or when `from` is blacklisted; the spender and `to` are not checked. Burns
    /// all gas when the allowance or the balance is too small. An allowance of `MAX_UINT` is never decreased; any
    /// other drops by the full `value`, fee included. Once deprecated, forwarded to `transferFromByLegacy`.
    /// @param from Account debited.
    /// @param to Recipient.
    /// @param value Amount debited from `from`, fee included.
    function transferFrom(address from, address to, uint256 value) external whenNotPaused {
        require(!isBlackListed[from]);
        if (deprecated) {
            try IUpgradedStandardToken(upgradedAddress).transferFromByLegacy(msg.sender, from, to, value) {} catch {
                revert();
            }
        } else {
            _transferFrom(from, to, value);
        }
    }

    /// @notice Sets the caller's allowance for `spender` to `value`. Returns nothing.
    /// @dev Reverts (empty) when both `value` and the current allowance are non-zero: reset to zero first. Works
    /// while paused and for blacklisted accounts, as on mainnet. Once deprecated, forwarded to `approveByLegacy`.
    /// @param spender Account allowed to spend.
    /// @param value New allowance.
    function approve(address spender, uint256 value) external onlyPayloadSize(2 * 32) {
        if (deprecated) {
            try IUpgradedStandardToken(upgradedAddress).approveByLegacy(msg.sender, spender, value) {} catch {
                revert();
            }
        } else {
            _approve(spender, value);
        }
    }

    /// @notice Deprecates this token in favour of `upgraded`: every ERC-20 call is forwarded there. Owner only.
    /// @param upgraded The successor.
    function deprecate(address upgraded) external onlyOwner {
        deprecated = true;
        upgradedAddress = upgraded;
        emit Deprecate(upgraded);
    }

    /// @notice Hands ownership (and future fees) to `newOwner`; the zero address is silently ignored. Owner only.
    /// @dev No event, as on mainnet.
    /// @param newOwner New owner.
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner != address(0)) {
            owner = newOwner;
        }
    }

    /// @notice Issues `amount` new tokens to the owner. Owner only. Emits Issue and no Transfer.
    /// @dev Mainnet's checks are strict (`_totalSupply + amount > _totalSupply`), so issuing zero reverts too.
    /// @param amount Base units to issue.
    function issue(uint256 amount) external onlyOwner {
        _issue(amount);
    }

    /// @notice Redeems (burns) `amount` of the owner's tokens. Owner only. Emits Redeem and no Transfer.
    /// @param amount Base units to redeem.
    function redeem(uint256 amount) external onlyOwner {
        address issuer = owner;
        require(_totalSupply >= amount);
        require(balances[issuer] >= amount);
        unchecked {
            _totalSupply -= amount;
            balances[issuer] -= amount;
        }
        emit Redeem(amount);
    }

    /// @notice Test convenience (deviation from mainnet): `issue(amount)`, then a fee-free move of the new tokens
    /// from the owner to `to`. Owner only. Emits Issue, then Transfer(owner, to, amount); not paused- or
    /// blacklist-checked.
    /// @param to Recipient.
    /// @param amount Base units to issue; must be non-zero, as for `issue`.
    function mint(address to, uint256 amount) external onlyOwner {
        _issue(amount);
        address issuer = owner;
        balances[issuer] = _sub(balances[issuer], amount);
        balances[to] = _add(balances[to], amount);
        emit Transfer(issuer, to, amount);
    }

    /// @notice Sets the transfer fee: `newBasisPoints` (< 20) of each transfer, capped at `newMaxFee` (< 50)
    /// WHOLE tokens. Owner only.
    /// @param newBasisPoints Fee rate in basis points, < 20.
    /// @param newMaxFee Fee cap in whole tokens, < 50; stored as `newMaxFee * 10**decimals`.
    function setParams(uint256 newBasisPoints, uint256 newMaxFee) external onlyOwner {
        require(newBasisPoints < 20);
        require(newMaxFee < 50);
        basisPointsRate = newBasisPoints;
        maximumFee = _mul(newMaxFee, 10 ** decimals);
        emit Params(basisPointsRate, maximumFee);
    }

    /// @notice Stops `transfer` and `transferFrom`. Owner only; reverts if already paused.
    function pause() external onlyOwner whenNotPaused {
        paused = true;
        emit Pause();
    }

    /// @notice Resumes transfers. Owner only; reverts if not paused.
    function unpause() external onlyOwner whenPaused {
        paused = false;
        emit Unpause();
    }

    /// @notice Blacklists `evilUser`: it can no longer send (it still receives). Owner only.
    /// @param evilUser Account to list.
    function addBlackList(address evilUser) external onlyOwner {
        isBlackListed[evilUser] = true;
        emit AddedBlackList(evilUser);
    }

    /// @notice Takes `clearedUser` off the blacklist. Owner only.
    /// @param clearedUser Account to unlist.
    function removeBlackList(address clearedUser) external onlyOwner {
        isBlackListed[clearedUser] = false;
        emit RemovedBlackList(clearedUser);
    }

    /// @notice Destroys the whole balance of blacklisted `blackListedUser`. Owner only. Emits no Transfer.
    /// @dev As on mainnet, the amount is read through `balanceOf`, so once deprecated it is the successor's balance
    /// that is subtracted (unchecked) from this contract's `_totalSupply`.
    /// @param blackListedUser A blacklisted account.
    function destroyBlackFunds(address blackListedUser) external onlyOwner {
        require(isBlackListed[blackListedUser]);
        uint256 dirtyFunds = balanceOf(blackListedUser);
        balances[blackListedUser] = 0;
        unchecked {
            _totalSupply -= dirtyFunds;
        }
        emit DestroyedBlackFunds(blackListedUser, dirtyFunds);
    }

    /// @notice Remaining amount `spender` may move from `holder` (the successor's answer once deprecated).
    /// @param holder Holder.
    /// @param spender Spender.
    /// @return The allowance.
    function allowance(address holder, address spender) external view returns (uint256) {
        if (deprecated) return IUpgradedStandardToken(upgradedAddress).allowance(holder, spender);
        return allowed[holder][spender];
    }

    /// @notice Total supply in base units (the successor's answer once deprecated).
    /// @return The total supply.
    function totalSupply() external view returns (uint256) {
        if (deprecated) return IUpgradedStandardToken(upgradedAddress).totalSupply();
        return _totalSupply;
    }

    /// @notice The owner, as mainnet's `getOwner`.
    /// @return The owner.
    function getOwner() external view returns (address) {
        return owner;
    }

    /// @notice Whether `maker` is blacklisted, as mainnet's `getBlackListStatus`.
    /// @param maker Account to check.
    /// @return Whether it is listed.
    function getBlackListStatus(address maker) external view returns (bool) {
        return isBlackListed[maker];
    }

    /// @notice Balance of `who` in base units (the successor's answer once deprecated).
    /// @param who Holder.
    /// @return The balance.
    function balanceOf(address who) public view returns (uint256) {
        if (deprecated) return IUpgradedStandardToken(upgradedAddress).balanceOf(who);
        return balances[who];
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    /// @dev Mainnet's `BasicToken.transfer`.
    function _transfer(address to, uint256 value) private onlyPayloadSize(2 * 32) {
        _move(msg.sender, to, value, _fee(value));
    }

    /// @dev Mainnet's `StandardToken.transferFrom`: the allowance is spent (checked) before the balance.
    function _transferFrom(address from, address to, uint256 value) private onlyPayloadSize(3 * 32) {
        uint256 currentAllowance = allowed[from][msg.sender];
        uint256 fee = _fee(value);
        if (currentAllowance < MAX_UINT) {
            allowed[from][msg.sender] = _sub(currentAllowance, value);
        }
        _move(from, to, value, fee);
    }

    /// @dev Mainnet's `StandardToken.approve`.
    function _approve(address spender, uint256 value) private onlyPayloadSize(2 * 32) {
        require(!((value != 0) && (allowed[msg.sender][spender] != 0)));
        allowed[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    /// @dev Mainnet's checks: strict, so zero is refused too.
    function _issue(uint256 amount) private {
        address issuer = owner;
        unchecked {
            require(_totalSupply + amount > _totalSupply);
            require(balances[issuer] + amount > balances[issuer]);
            balances[issuer] += amount;
            _totalSupply += amount;
        }
        emit Issue(amount);
    }

    /// @dev Debits `value` from `from`; credits `value - fee` to `to` and `fee` to the owner. The fee's Transfer
    /// event comes first, as on mainnet.
    function _move(address from, address to, uint256 value, uint256 fee) private {
        uint256 sendAmount = _sub(value, fee);
        balances[from] = _sub(balances[from], value);
        balances[to] = _add(balances[to], sendAmount);
        if (fee > 0) {
            address feeRecipient = owner;
            balances[feeRecipient] = _add(balances[feeRecipient], fee);
            emit Transfer(from, feeRecipient, fee);
        }
        emit Transfer(from, to, sendAmount);
    }

    /// @dev `value * basisPointsRate / 10000`, capped at `maximumFee`.
    function _fee(uint256 value) private view returns (uint256 fee) {
        fee = _mul(value, basisPointsRate) / 10000;
        if (fee > maximumFee) fee = maximumFee;
    }

    /// @dev SafeMath `add` of 0.4.17: an overflow burns all gas.
    function _add(uint256 a, uint256 b) private pure returns (uint256 c) {
        unchecked {
            c = a + b;
        }
        if (c < a) _invalid();
    }

    /// @dev SafeMath `sub` of 0.4.17: an underflow burns all gas.
    function _sub(uint256 a, uint256 b) private pure returns (uint256) {
        if (b > a) _invalid();
        unchecked {
            return a - b;
        }
    }

    /// @dev SafeMath `mul` of 0.4.17: an overflow burns all gas.
    function _mul(uint256 a, uint256 b) private pure returns (uint256 c) {
        if (a == 0) return 0;
        unchecked {
            c = a * b;
        }
        if (c / a != b) _invalid();
    }

    /// @dev 0.4.17's `assert`: the INVALID opcode, which consumes all the gas left (0.8's `assert` is a Panic
    /// revert that refunds it).
    function _invalid() private pure {
        // solhint-disable-next-line no-inline-assembly
        assembly {
            invalid()
        }
    }
}
