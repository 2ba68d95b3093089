// Coverage counts the protocol's contracts only; the test tokens and wallets are test fixtures.
module.exports = {
  skipFiles: ["test/"],
  istanbulReporter: ["text", "json-summary", "lcov"],
  mocha: { timeout: 600000 },
};
