// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ERC6492Probe
/// @notice Never deployed. The relayer runs its creation code in an `eth_call` without a `to` to check an ERC-6492
/// signature of a wallet that does not exist yet: the constructor runs the wallet's factory call (when the signer
/// has no code), asks the signer `isValidSignature(hash, signature)` (ERC-1271) and returns what happened, in
/// place of runtime code, as `abi.encode(uint8 outcome, bytes data)`:
/// 0 the factory call reverted (data: its revert data); 1 it returned but left no code at the signer;
/// 2 the signer answered (data: its return data); 3 the signer reverted (data: its revert data).
/// Nothing persists: the whole run is a simulation.
contract ERC6492Probe {
    constructor(address signer, bytes32 hash, address factory, bytes memory factoryCalldata, bytes memory signature) {
        bytes memory out;
        bool ok = true;
        bytes memory data;
        // solhint-disable-next-line avoid-low-level-calls
        if (signer.code.length == 0) (ok, data) = factory.call(factoryCalldata);
        if (!ok) out = abi.encode(uint8(0), data);
        else if (signer.code.length == 0) out = abi.encode(uint8(1), data);
        else {
            (ok, data) = signer.staticcall(abi.encodeWithSelector(0x1626ba7e, hash, signature));
            out = abi.encode(ok ? uint8(2) : uint8(3), data);
        }
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            return(add(out, 0x20), mload(out))
        }
    }
}
