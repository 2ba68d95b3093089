/**
 * What `npm run relayer` runs. `--help` (or `-h`) is answered from the options module alone, transpiled on the fly
 * (it imports nothing but zod), without building anything; so is `keys …` (API keys: it needs only Redis).
 * Otherwise the contracts and the relayer are built (`npm run build:relayer`) and the built relayer runs in this
 * process.
 */
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const argv = process.argv.slice(2);

if (argv[0] === "keys") {
  require("ts-node").register({ transpileOnly: true, project: path.join(ROOT, "tsconfig.json") });
  const { KEYS_OPTIONS, runKeysCommand } = require("./src/auth/cli");
  const { parseProcessOptionsOf } = require("./src/options");
  const fail = (error) => {
    console.error(`relayer keys: ${error.message}`);
    process.exit(error.name === "OptionsError" ? 2 : 1);
  };
  let options;
  try {
    options = parseProcessOptionsOf(KEYS_OPTIONS);
  } catch (error) {
    fail(error);
  }
  runKeysCommand(argv.slice(1), options).then((code) => process.exit(code), fail);
} else if (argv.includes("--help") || argv.includes("-h")) {
  require("ts-node").register({ transpileOnly: true, project: path.join(ROOT, "tsconfig.json") });
  console.log(require("./src/options").helpText());
} else {
  // The npm that runs this script (npm_execpath), else the one on the PATH.
  const npm = process.env.npm_execpath;
  const [command, args] = npm ? [process.execPath, [npm]] : ["npm", []];
  const build = spawnSync(command, [...args, "run", "--silent", "build:relayer"], { cwd: ROOT, stdio: "inherit" });
  if (build.status !== 0) process.exit(build.status ?? 1);
  void require(path.join(ROOT, "dist", "relayer", "src", "index.js")).main(argv);
}
