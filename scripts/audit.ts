/**
 * `npm run audit -- --deployment deployments/<network>.json --rpc <url> [--json]` — proves from an RPC endpoint
 * alone that the escrow is solvent and that every deal's state follows from its events (see scripts/lib/audit/).
 *
 * Progress goes to stderr; the report to stdout (text, or one JSON document with --json).
 * Exit codes: 0 all checks passed (warnings allowed), 1 inconsistencies or errors found (a token that blacklists the
 * escrow is an error), 2 usage, deployment file or RPC error.
 */
import { EXIT, main } from "./lib/audit/cli";
import { errorMessage } from "./lib/audit/rpc";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`error: ${errorMessage(error)}\n`);
    process.exitCode = EXIT.error;
  },
);
