// Coverage counts the protocol's contracts only; the test tokens and wallets are test fixtures.
// contracts/offchain/ holds code that never runs on chain (the relayer runs its creation code in an eth_call).
module.exports = {
  skipFiles: ["test/", "offchain/"],
  istanbulReporter: ["text", "json-summary", "lcov"],
  mocha: { timeout: 600000 },
};
